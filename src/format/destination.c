/* destination - destination keys and limits of a send (see destination.h). */
#include "kirim/destination.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

void
dest_resolve(const struct policy *rows, size_t nrows, const char *domain, const char *const *hosts,
             size_t nhosts, const struct dest_limits *run, struct dest_limits *out)
{
	struct policy_effective eff;
	policy_resolve(rows, nrows, domain, hosts, nhosts, &eff);
	memset(out, 0, sizeof(*out));
	out->max_conns = run->max_conns ? run->max_conns : 1;
	out->rate = run->rate;
	out->connect_rate = run->connect_rate;
	out->max_jobs = run->max_jobs;
	out->tls = run->tls;
	unsigned set = eff.p.set;
	if (set & POLICY_HAS(POLICY_F_MAX_CONNECTIONS)) {
		out->max_conns = (unsigned)eff.p.max_connections;
		out->conns_set = true;
	}
	if (set & POLICY_HAS(POLICY_F_RATE))
		out->rate = eff.p.rate;
	if (set & POLICY_HAS(POLICY_F_CONNECT_RATE))
		out->connect_rate = eff.p.connect_rate;
	if (set & POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN))
		out->max_jobs = (unsigned)eff.p.max_msgs_per_conn;
	if (set & POLICY_HAS(POLICY_F_TLS)) {
		out->tls = (int)eff.p.tls;
		out->tls_chosen =
		    eff.from[POLICY_F_TLS][0] != '\0' && strcmp(eff.from[POLICY_F_TLS], "*") != 0;
	}
	if (set & POLICY_HAS(POLICY_F_WARMUP)) {
		snprintf(out->warmup, sizeof(out->warmup), "%s", eff.p.warmup);
		out->warmup_start = eff.p.warmup_start;
	}
	if (set & POLICY_HAS(POLICY_F_EGRESS))
		snprintf(out->egress, sizeof(out->egress), "%s", eff.p.egress);
	/* A record naming the domain itself gives it a destination of its own, so its
	 * limits are not shared with the other domains on the same MX hosts. */
	for (int f = 0; f < POLICY_NFIELDS; f++) {
		enum policy_kind k;
		char norm[POLICY_PATTERN_MAX];
		const char *why;
		if (!(set & POLICY_HAS(f)) || eff.from[f][0] == '\0' ||
		    policy_pattern_parse(eff.from[f], norm, sizeof(norm), &k, &why) < 0)
			continue;
		if (k == POLICY_KIND_EXACT || k == POLICY_KIND_WILDCARD) {
			snprintf(out->own, sizeof(out->own), "%s", norm);
			break;
		}
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
dest_key(const char *const *hosts, size_t nhosts, const char *own, struct buf *out)
{
	const char **names = xcalloc(nhosts ? nhosts : 1, sizeof(*names));
	if (nhosts) {
		memcpy(names, hosts, nhosts * sizeof(*names));
		qsort(names, nhosts, sizeof(*names), cmp_str);
	}
	buf_adds(out, "mx:");
	for (size_t i = 0; i < nhosts; i++)
		buf_printf(out, "%s%s", i ? "," : "", names[i]);
	if (own && own[0])
		buf_printf(out, "|%s", own);
	free(names);
}

long
dest_warmup_cap(const struct dest_limits *l, int64_t day)
{
	if (l->warmup[0] == '\0')
		return -1;
	long cap = throttle_warmup_cap(l->warmup, (long)(day - l->warmup_start));
	/* A plan that does not parse was refused by `kirim domain set`: no cap. */
	return cap < 0 ? -1 : cap;
}
