/* planner - what a direct send of a campaign would do, and when it would finish (planner.h). */
#include "kirim/planner.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "kirim/api_json.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/log.h"
#include "kirim/mta_sts.h"
#include "kirim/policy.h"
#include "kirim/store.h"
#include "kirim/store_dest.h"
#include "kirim/store_plan.h"
#include "kirim/store_policy.h"
#include "kirim/store_tls.h"
#include "kirim/strmap.h"
#include "kirim/sts_refresh.h"
#include "kirim/tls.h"
#include "kirim/tlsrpt.h"
#include "kirim/xmalloc.h"

enum {
	PLANNER_MAX_DAYS = 3660, /* a plan that needs longer than ten years is reported as such */
};

/* One domain's MX answer, kept until the grouping: host names in preference order; and
 * the TLS policies it publishes. */
struct pdomain_dns {
	struct planner *P;
	struct planner_domain *d;
	char **hosts;
	size_t nhosts;
	int done;
	bool dane;    /* a host of a validated MX answer has validated TLSA records */
	bool rua;     /* it publishes a TLS-RPT record: its destination is its own */
	int sts_mode; /* enum mta_sts_mode of the policy in force, -1 none */
	char *sts;    /* that policy (mta_sts_policy_format's), owned */
};

/* A cached MTA-STS policy (mta_sts_policies), by domain. */
struct psts {
	char id[MTA_STS_ID_MAX];
	int mode; /* enum mta_sts_mode */
	int64_t expires_at;
	char text[]; /* the policy */
};

struct planner {
	struct planner_result *r;
	struct pdomain_dns *dns; /* parallel to r->domains */
	size_t capdomains;
	size_t pending;
	/* the look-ups of a direct plan */
	uv_loop_t *loop;
	struct dns *resolver;
	struct tls_ctx *tls; /* the policy fetches' verifying context, NULL: none can be */
	unsigned sts_port;
	bool dane_on;
	struct strmap sts; /* domain -> struct psts */
};

/* up, down - ceil and floor of a non-negative time or count (kirim links no libm) */
static int64_t
up(double x)
{
	int64_t n = (int64_t)x;
	return (double)n < x ? n + 1 : n;
}

static double
down(double x)
{
	return x > 0 ? (double)(int64_t)x : 0;
}

static int
on_domain(void *arg, const char *domain, int64_t count)
{
	struct planner *P = arg;
	struct planner_result *r = P->r;
	if (r->ndomains == P->capdomains) {
		P->capdomains = P->capdomains ? 2 * P->capdomains : 64;
		r->domains = xrealloc(r->domains, P->capdomains * sizeof(*r->domains));
	}
	struct planner_domain *d = &r->domains[r->ndomains++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", domain);
	d->messages = count;
	d->dest = -1;
	r->messages += count;
	return 0;
}

static void
on_tlsa(void *arg, const struct dns_tlsa_result *res)
{
	struct pdomain_dns *pd = arg;
	/* Usable or not, validated records give the domain a DANE destination (sender_route). */
	if (res->status == DNS_OK && res->secure && res->n > 0)
		pd->dane = true;
}

static void
on_mx(void *arg, const struct dns_mx_result *res)
{
	struct pdomain_dns *pd = arg;
	struct planner_domain *d = pd->d;
	d->status = res->status;
	if (res->status == DNS_OK) {
		pd->hosts = xcalloc(res->nhosts ? res->nhosts : 1, sizeof(*pd->hosts));
		for (size_t i = 0; i < res->nhosts; i++)
			pd->hosts[i] = xstrdup(res->hosts[i].name);
		pd->nhosts = res->nhosts;
		/* DANE (RFC 7672 2.2): the TLSA records of the validated hosts of a validated
		 * answer, as the send looks them up. */
		for (size_t i = 0; pd->P->dane_on && res->secure && i < res->nhosts; i++) {
			char name[300];
			snprintf(name, sizeof(name), "_25._tcp.%s", res->hosts[i].name);
			if (res->hosts[i].secure)
				dns_resolve_tlsa(pd->P->resolver, name, on_tlsa, pd);
		}
	} else {
		snprintf(d->error, sizeof(d->error), "%s",
		         res->error ? res->error : dns_status_name(res->status));
	}
	pd->done = 1;
}

/* cached - domain's cached policy while it is valid (for id, when not NULL), else NULL */
static const struct psts *
cached(const struct planner *P, const char *domain, const char *id)
{
	const struct psts *c = strmap_get(&P->sts, domain);
	if (c == NULL || c->expires_at <= P->r->now || (id && strcmp(c->id, id) != 0))
		return NULL;
	return c;
}

/* sts_use - pd's policy in force: mode, text (copied); none: -1 */
static void
sts_use(struct pdomain_dns *pd, int mode, const char *text)
{
	free(pd->sts);
	pd->sts = text ? xstrdup(text) : NULL;
	pd->sts_mode = text ? mode : -1;
}

static void
on_sts_fetch(void *arg, const struct http_client_result *res)
{
	struct pdomain_dns *pd = arg;
	struct mta_sts_policy p;
	struct buf text = BUF_INIT;
	char err[300];
	const char *result;
	if (sts_fetch_read(res, &p, &text, err, sizeof(err), &result) == 0)
		sts_use(pd, (int)p.mode, text.data);
	/* else as the send: the cached policy still valid, as on_sts_txt set it */
	buf_free(&text);
}

static void
on_rua_txt(void *arg, const struct dns_txt_result *res)
{
	struct pdomain_dns *pd = arg;
	char rua[TLSRPT_RUA_MAX];
	const char *why;
	pd->rua = res->status == DNS_OK && tlsrpt_txt_select(res->records, res->n, rua, &why) == 0;
}

static void
on_sts_txt(void *arg, const struct dns_txt_result *res)
{
	struct pdomain_dns *pd = arg;
	struct planner *P = pd->P;
	char id[MTA_STS_ID_MAX];
	const char *why;
	const struct psts *c = cached(P, pd->d->name, NULL);
	sts_use(pd, c ? c->mode : -1, c ? c->text : NULL);
	if (res->status != DNS_OK || mta_sts_txt_select(res->records, res->n, id, &why) < 0 ||
	    cached(P, pd->d->name, id) || P->tls == NULL)
		return;
	sts_refresh_fetch(P->loop, P->resolver, pd->d->name, P->sts_port, P->tls, on_sts_fetch, pd);
}

static int
sts_cached(void *arg, const struct store_sts *row)
{
	struct planner *P = arg;
	enum mta_sts_mode m;
	if (mta_sts_mode_parse(row->mode, &m) < 0)
		return 0;
	struct psts *c = xcalloc(1, sizeof(*c) + strlen(row->policy) + 1);
	memcpy(c->text, row->policy, strlen(row->policy) + 1);
	snprintf(c->id, sizeof(c->id), "%s", row->id);
	c->mode = (int)m;
	c->expires_at = row->expires_at;
	strmap_put(&P->sts, row->domain, c);
	return 0;
}

/* A destination's attempts today from every source address together: the plan's view. */
static int
count_today(void *arg, const char *dest, const char *source, int64_t count)
{
	(void)source;
	intptr_t had = (intptr_t)strmap_get(arg, dest);
	strmap_put(arg, dest, (void *)(had + (intptr_t)count));
	return 0;
}

/* plan_cap - a destination's warm-up cap on Unix day day from all its sources together
 * (each source has the policy's cap), -1 when none */
static long
plan_cap(const struct planner_dest *pd, int64_t day)
{
	long cap = dest_warmup_cap(&pd->lim, day);
	return cap < 0 ? cap : cap * (long)(pd->sources ? pd->sources : 1);
}

/*
 * planner_schedule - when a destination sending n messages at rate from now
 * is done, given its warm-up caps per UTC day (cap -1: none) and what it took
 * today already: fills today, days and eta.
 */
static void
planner_schedule(struct planner_dest *pd, int64_t n, int64_t now)
{
	double t = (double)now;
	int64_t day = now / 86400, left = n;
	pd->today = 0;
	pd->days = 1;
	if (n == 0) {
		pd->eta = now;
		return;
	}
	for (int i = 0; i < PLANNER_MAX_DAYS; i++, day++) {
		long cap = plan_cap(pd, day);
		if (cap < 0) {
			/* No cap from here on (a plan that is over stays over): straight through,
			 * across midnights. */
			double fits = down(pd->rate * ((double)(day + 1) * 86400 - t));
			if (i == 0)
				pd->today = (double)left < fits ? left : (int64_t)fits;
			pd->eta = up(t + (double)left / pd->rate);
			pd->days = (int)((pd->eta - 1) / 86400 - day) + i + 1;
			return;
		}
		int64_t room = cap - (i == 0 ? pd->sent_today : 0);
		if (room < 0)
			room = 0;
		/* What the rate lets through before the day ends. */
		double by_rate = down(pd->rate * ((double)(day + 1) * 86400 - t));
		int64_t take = left < room ? left : room;
		if ((double)take > by_rate)
			take = (int64_t)by_rate;
		if (i == 0)
			pd->today = take;
		if (take == left) {
			pd->eta = up(t + (double)left / pd->rate);
			pd->days = i + 1;
			return;
		}
		left -= take;
		t = (double)(day + 1) * 86400;
	}
	pd->days = PLANNER_MAX_DAYS;
	pd->eta = up(t + (double)left / pd->rate);
}

static int
cmp_dest(const void *a, const void *b)
{
	const struct planner_dest *x = a, *y = b;
	if (x->eta != y->eta)
		return x->eta > y->eta ? -1 : 1;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * dest_of - domain i's destination key and limits, as kirim send makes them: its MX host
 * set (and own pattern), or through a relay its own queue there or the relay's
 */
static void
dest_of(const struct planner *P, const struct policy *rows, size_t nrows, size_t i,
        const struct dest_limits *run, const struct dest_limits *relay, struct dest_limits *lim,
        struct buf *key, int *tls)
{
	const struct planner_domain *d = &P->r->domains[i];
	const struct pdomain_dns *pd = &P->dns[i];
	dest_resolve(rows, nrows, d->name, (const char *const *)pd->hosts, pd->nhosts, run, lim);
	*tls = PLANNER_TLS_NONE;
	if (relay == NULL) {
		/* As sender_route: a TLS setting of the user's naming the domain wins (DANE
		 * only when it asks for DANE); else DANE, then an MTA-STS policy in force. A
		 * domain with a TLS-RPT record has its own destination; the others share one
		 * by hosts and policy (enforce: the hosts its policy names). */
		bool user = lim->tls_chosen;
		if (pd->dane && (!user || lim->tls == POLICY_TLS_DANE))
			*tls = PLANNER_TLS_DANE;
		else if (!user && pd->sts_mode == MTA_STS_ENFORCE)
			*tls = PLANNER_TLS_STS_ENFORCE;
		else if (!user && pd->sts_mode == MTA_STS_TESTING)
			*tls = PLANNER_TLS_STS_TESTING;
		static const char *const suffix[PLANNER_NTLS] = {[PLANNER_TLS_STS_ENFORCE] = "|sts",
		                                                 [PLANNER_TLS_STS_TESTING] = "|sts",
		                                                 [PLANNER_TLS_DANE] = "|dane",
		                                                 [PLANNER_TLS_NONE] = "|tlsrpt"};
		if (pd->rua) {
			dest_key((const char *const *)pd->hosts, pd->nhosts, lim->own, key);
			buf_printf(key, "%s:%s", suffix[*tls], d->name);
		} else {
			const char **names = xcalloc(pd->nhosts + 1, sizeof(*names));
			struct mta_sts_policy *p = xcalloc(1, sizeof(*p));
			const char *why;
			bool match = *tls == PLANNER_TLS_STS_ENFORCE && pd->sts &&
			             mta_sts_policy_parse(pd->sts, strlen(pd->sts), p, &why) == 0;
			size_t n = 0;
			for (size_t k = 0; k < pd->nhosts; k++)
				if (!match || mta_sts_mx_match(p, pd->hosts[k]))
					names[n++] = pd->hosts[k];
			dest_key(names, n, lim->own, key);
			if (*tls == PLANNER_TLS_DANE || *tls == PLANNER_TLS_STS_ENFORCE)
				buf_adds(key, suffix[*tls]);
			free(p);
			free(names);
		}
	} else if (lim->own[0]) {
		buf_printf(key, "relay|%s", lim->own);
		lim->max_jobs =
		    relay->max_jobs; /* sessions are the relay's: its TLS, AUTH, length */
	} else {
		*lim = *relay;
		buf_adds(key, "relay");
	}
}

/* plan_sources - how many [egress] sources a destination whose policy names pool (""
 * none) is sent from, as kirim send chooses them (sender_dests_add) */
static unsigned
plan_sources(const struct planner_opts *o, const char *pool)
{
	if (o->cfg == NULL || o->cfg->n_egress == 0)
		return 1;
	const struct config_egress *in[CONFIG_MAX_EGRESS];
	const char *name = pool && pool[0] ? pool : o->egress ? o->egress : "default";
	size_t n = config_egress_pool(o->cfg, name, in);
	return n ? (unsigned)n : 1;
}

/* planner_group - domains → destinations with their limits and estimates */
static void
planner_group(struct planner *P, const struct policy *rows, size_t nrows,
              const struct planner_opts *o, struct strmap *sent_today)
{
	struct planner_result *r = P->r;
	struct strmap index = {0};
	struct dest_limits run = {
	    .max_conns = o->dest_concurrency ? o->dest_concurrency : 10,
	    .max_jobs = o->msgs_per_conn ? o->msgs_per_conn : 100,
	};
	/* As kirim send: the run's per-destination default never exceeds its total. */
	if (run.max_conns > r->concurrency)
		run.max_conns = r->concurrency;
	/* Through a relay: its own queue takes every connection and no rate but the global one;
	 * a domain's own queue there has its policy's limits over the run's. */
	struct dest_limits relay = {.max_conns = r->concurrency, .max_jobs = run.max_jobs};
	if (o->relay)
		run.max_conns = r->concurrency;
	const struct dest_limits *via = o->relay ? &relay : NULL;
	size_t capdests = 0;
	for (size_t i = 0; i < r->ndomains; i++) {
		struct planner_domain *d = &r->domains[i];
		if (d->status != DNS_OK) {
			if (d->status == DNS_TEMPFAIL) {
				r->nunresolved++;
				r->unresolved_messages += d->messages;
			} else {
				r->ndead++;
				r->dead_messages += d->messages;
			}
			continue;
		}
		struct dest_limits lim;
		struct buf key = BUF_INIT;
		dest_of(P, rows, nrows, i, &run, via, &lim, &key, &d->tls);
		intptr_t at = (intptr_t)strmap_get(&index, key.data);
		if (at == 0) {
			if (r->ndests == capdests) {
				capdests = capdests ? 2 * capdests : 16;
				r->dests = xrealloc(r->dests, capdests * sizeof(*r->dests));
			}
			struct planner_dest *dd = &r->dests[r->ndests++];
			memset(dd, 0, sizeof(*dd));
			dd->key = xstrdup(key.data);
			snprintf(dd->first_domain, sizeof(dd->first_domain), "%s", d->name);
			dd->lim = lim;
			/* A testing domain without a TLS-RPT record shares its MX neighbours'
			 * destination: the run's TLS. */
			dd->tls = d->tls == PLANNER_TLS_STS_TESTING && !P->dns[i].rua
			              ? PLANNER_TLS_NONE
			              : d->tls;
			r->tls_dests[dd->tls]++;
			dd->sent_today = (int64_t)(intptr_t)strmap_get(sent_today, key.data);
			at = (intptr_t)r->ndests;
			strmap_put(&index, key.data, (void *)at);
		}
		buf_free(&key);
		struct planner_dest *dd = &r->dests[at - 1];
		d->dest = (long)(at - 1);
		dd->ndomains++;
		dd->messages += d->messages;
		r->tls_messages[dd->tls] += d->messages;
		r->routed += d->messages;
	}
	strmap_free(&index);

	/* Rates and schedules. */
	for (size_t k = 0; k < r->ndests; k++) {
		struct planner_dest *dd = &r->dests[k];
		/* Every limit is per (destination, source address): docs/egress.md. */
		unsigned ns = dd->sources = plan_sources(o, dd->lim.egress);
		unsigned want = dd->lim.max_conns * ns;
		dd->conns = want < r->concurrency ? want : r->concurrency;
		if (dd->conns == 0)
			dd->conns = 1;
		dd->rate = dd->conns * r->assume_rate;
		dd->bound = PLANNER_BOUND_CONNECTIONS;
		if (dd->lim.rate > 0 && dd->lim.rate * ns < dd->rate) {
			dd->rate = dd->lim.rate * ns;
			dd->bound = PLANNER_BOUND_RATE;
		}
		if (dd->lim.connect_rate > 0 && dd->lim.max_jobs > 0 &&
		    dd->lim.connect_rate * dd->lim.max_jobs * ns < dd->rate) {
			dd->rate = dd->lim.connect_rate * dd->lim.max_jobs * ns;
			dd->bound = PLANNER_BOUND_CONNECT;
		}
		dd->cap_today = plan_cap(dd, r->now / 86400);
		dd->seconds = (double)dd->messages / dd->rate;
		planner_schedule(dd, dd->messages, r->now);
	}
	if (r->ndests > 1)
		qsort(r->dests, r->ndests, sizeof(*r->dests), cmp_dest);
	/* The domains' indexes moved with the sort: find them again by key. */
	struct strmap byk = {0};
	for (size_t k = 0; k < r->ndests; k++)
		strmap_put(&byk, r->dests[k].key, (void *)(intptr_t)(k + 1));
	for (size_t i = 0; i < r->ndomains; i++) {
		struct planner_domain *d = &r->domains[i];
		if (d->dest < 0)
			continue;
		struct dest_limits lim;
		struct buf key = BUF_INIT;
		int tls;
		dest_of(P, rows, nrows, i, &run, via, &lim, &key, &tls);
		d->dest = (long)(intptr_t)strmap_get(&byk, key.data) - 1;
		buf_free(&key);
	}
	strmap_free(&byk);

	/* The campaign: its latest destination, unless everything together is slower. */
	double global = r->concurrency * r->assume_rate;
	if (r->global_rate > 0 && r->global_rate < global)
		global = r->global_rate;
	r->global_seconds = (double)r->routed / global;
	r->eta = r->now;
	r->bottleneck = -1;
	if (r->ndests) {
		r->eta = r->dests[0].eta;
		r->bottleneck = 0;
	}
	int64_t floor_eta = r->now + up(r->global_seconds);
	if (r->routed && floor_eta > r->eta) {
		r->eta = floor_eta;
		r->global_bound = 1;
		r->bottleneck = -1;
	}
}

const char *
planner_tls_name(int tls)
{
	switch (tls) {
	case PLANNER_TLS_STS_ENFORCE:
		return "mta-sts-enforce";
	case PLANNER_TLS_STS_TESTING:
		return "mta-sts-testing";
	case PLANNER_TLS_DANE:
		return "dane";
	default:
		return "none";
	}
}

const char *
planner_bound_name(int bound)
{
	switch (bound) {
	case PLANNER_BOUND_RATE:
		return "rate";
	case PLANNER_BOUND_CONNECT:
		return "connect-rate";
	default:
		return "connections";
	}
}

static void
planner_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* plan_resolve - every domain's MX, once, all on the wire together (the module queues past its
 * cap) */
static int
plan_resolve(struct planner *P, const struct planner_opts *o, char *err, size_t errsz)
{
	struct planner_result *r = P->r;
	int rc = 0;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns_opts dopts = {.servers = o->dns_servers, .timeout_ms = o->dns_timeout_ms};
	struct dns *dns = dns_new(&loop, &dopts, err, errsz);
	if (dns == NULL) {
		rc = PLANNER_E_CONFIG;
	} else {
		P->loop = &loop;
		P->resolver = dns;
		P->sts_port = o->sts_port;
		P->dane_on = o->dane == 1 || (o->dane == -1 && dns_servers_local(dns));
		char terr[256];
		if (o->mta_sts &&
		    tls_ctx_new(TLS_POLICY_VERIFY, o->ca_file, &P->tls, terr, sizeof(terr)) < 0) {
			log_warn("campaign=%s plan: MTA-STS policies cannot be fetched (%s)",
			         r->campaign, terr);
			P->tls = NULL;
		}
		for (size_t i = 0; i < r->ndomains; i++) {
			P->dns[i].P = P;
			P->dns[i].sts_mode = -1;
			char name[300];
			if (o->mta_sts) {
				snprintf(name, sizeof(name), "_mta-sts.%s", r->domains[i].name);
				dns_resolve_txt(dns, name, on_sts_txt, &P->dns[i]);
			}
			snprintf(name, sizeof(name), "_smtp._tls.%s", r->domains[i].name);
			dns_resolve_txt(dns, name, on_rua_txt, &P->dns[i]);
			P->dns[i].d = &r->domains[i];
			if (dns_resolve_mx(dns, r->domains[i].name, on_mx, &P->dns[i]) < 0) {
				r->domains[i].status = DNS_TEMPFAIL;
				snprintf(r->domains[i].error, sizeof(r->domains[i].error),
				         "could not start the look-up");
				P->dns[i].done = 1;
			}
		}
		uv_run(&loop, UV_RUN_DEFAULT);
		struct dns_stats ds;
		dns_stats(dns, &ds);
		log_debug("campaign=%s plan domains=%zu dns_queries=%llu max_in_flight=%zu",
		          r->campaign, r->ndomains, (unsigned long long)ds.queries_sent,
		          ds.max_in_flight);
		dns_free(dns);
	}
	uv_walk(&loop, planner_walk_close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		log_error("campaign=%s bug: plan left handles open on its loop", r->campaign);
	tls_ctx_free(P->tls); /* the fetches that used it are over, their handles closed */
	P->tls = NULL;
	P->loop = NULL;
	P->resolver = NULL;
	return rc;
}

int
planner_run(struct store *s, const struct planner_opts *o, struct planner_result *r, char *err,
            size_t errsz)
{
	memset(r, 0, sizeof(*r));
	r->bottleneck = -1;
	r->now = o->now ? o->now : (int64_t)time(NULL);
	r->assume_rate = o->assume_rate > 0 ? o->assume_rate : PLANNER_ASSUME_RATE;
	r->concurrency = o->concurrency ? o->concurrency : 8;
	struct store_campaign camp;
	int rc = store_campaign_get(s, o->campaign, &camp);
	if (rc == STORE_E_NOTFOUND) {
		snprintf(err, errsz, "no campaign called '%s'", o->campaign);
		return PLANNER_E_CONFIG;
	}
	if (rc < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		return PLANNER_E_STORE;
	}
	snprintf(r->campaign, sizeof(r->campaign), "%s", camp.name);
	int64_t campaign_id = camp.id;
	store_campaign_clear(&camp);

	struct planner P = {.r = r};
	struct policy *rows = NULL;
	size_t nrows = 0;
	struct strmap sent_today = {0};
	bool from_list = false;
	int added = 0;
	/* The policies kirim send would use: it installs the presets the first time too. */
	if (store_plan_domains(s, campaign_id, on_domain, &P, &from_list) < 0 ||
	    store_policy_seed(s, &added) < 0 || store_policy_load_all(s, &rows, &nrows) < 0 ||
	    store_dest_counts_since(s, r->now / 86400 * 86400, count_today, &sent_today) < 0 ||
	    (o->mta_sts && !o->relay && store_sts_each(s, sts_cached, &P) < 0)) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		rc = PLANNER_E_STORE;
		goto out;
	}
	r->from_list = from_list;
	const struct policy *g = policy_find(rows, nrows, "global");
	if (g && (g->set & POLICY_HAS(POLICY_F_RATE)))
		r->global_rate = g->rate;

	P.dns = xcalloc(r->ndomains ? r->ndomains : 1, sizeof(*P.dns));
	if (o->relay) {
		/* The relay finds the MX hosts: nothing to look up, every domain goes to it. */
		snprintf(r->relay, sizeof(r->relay), "%s", o->relay);
		for (size_t i = 0; i < r->ndomains; i++) {
			P.dns[i].d = &r->domains[i];
			P.dns[i].done = 1;
			r->domains[i].status = DNS_OK;
		}
	} else if ((rc = plan_resolve(&P, o, err, errsz)) < 0) {
		goto out;
	}
	for (size_t i = 0; i < r->ndomains; i++) {
		if (!P.dns[i].done) {
			r->domains[i].status = DNS_TEMPFAIL;
			snprintf(r->domains[i].error, sizeof(r->domains[i].error), "no answer");
		}
	}

	planner_group(&P, rows, nrows, o, &sent_today);

	if (o->suppress_dead && r->ndead) {
		if (store_begin(s) < 0) {
			snprintf(err, errsz, "database: %s", store_errmsg(s));
			rc = PLANNER_E_STORE;
			goto out;
		}
		for (size_t i = 0; i < r->ndomains; i++) {
			struct planner_domain *d = &r->domains[i];
			if (d->status == DNS_OK || d->status == DNS_TEMPFAIL)
				continue;
			char source[64];
			bool add = false;
			int64_t marked = 0;
			snprintf(source, sizeof(source), "campaign plan: %s",
			         dns_status_name(d->status));
			if (store_plan_suppress_domain(s, campaign_id, d->name, source, &add,
			                               &marked) < 0) {
				snprintf(err, errsz, "database: %s", store_errmsg(s));
				store_rollback(s);
				rc = PLANNER_E_STORE;
				goto out;
			}
			d->suppressed = add;
			r->suppressed_domains += add;
			r->suppressed_messages += marked;
		}
		if (store_commit(s) < 0) {
			snprintf(err, errsz, "database: %s", store_errmsg(s));
			store_rollback(s);
			rc = PLANNER_E_STORE;
			goto out;
		}
	}
	rc = 0;
out:
	if (P.dns) {
		for (size_t i = 0; i < r->ndomains; i++) {
			for (size_t k = 0; k < P.dns[i].nhosts; k++)
				free(P.dns[i].hosts[k]);
			free(P.dns[i].hosts);
			free(P.dns[i].sts);
		}
		free(P.dns);
	}
	strmap_free(&sent_today);
	strmap_free_values(&P.sts, free);
	free(rows);
	return rc;
}

void
planner_result_free(struct planner_result *r)
{
	for (size_t k = 0; k < r->ndests; k++)
		free(r->dests[k].key);
	free(r->dests);
	free(r->domains);
	memset(r, 0, sizeof(*r));
	r->bottleneck = -1;
}

/* dest_json - one destination of the plan as a JSON object */
static json_t *
dest_json(const struct planner_dest *d, int64_t now)
{
	return json_pack(
	    "{s:o,s:o,s:I,s:I,s:I,s:I,s:o,s:I,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:s,s:o,s:i,s:I,s:I,s:s,"
	    "s:I}",
	    "key", api_json_text(d->key), "first_domain", api_json_text(d->first_domain), "domains",
	    (json_int_t)d->ndomains, "messages", (json_int_t)d->messages, "max_connections",
	    (json_int_t)d->lim.max_conns, "connections", (json_int_t)d->conns, "rate_limit",
	    api_json_number(d->lim.rate, "%.6g"), "max_msgs_per_conn", (json_int_t)d->lim.max_jobs,
	    "connect_rate", api_json_number(d->lim.connect_rate, "%.6g"), "warmup",
	    api_json_opt(d->lim.warmup), "own_pattern", api_json_opt(d->lim.own),
	    "warmup_cap_today", (json_int_t)d->cap_today, "sent_today", (json_int_t)d->sent_today,
	    "today", (json_int_t)d->today, "rate", api_json_number(d->rate, "%.6g"), "bound",
	    planner_bound_name(d->bound), "seconds", api_json_number(d->seconds, "%.3f"), "days",
	    d->days, "eta", (json_int_t)d->eta, "eta_seconds", (json_int_t)(d->eta - now), "tls",
	    planner_tls_name(d->tls), "sources", (json_int_t)d->sources);
}

/* planner_json - the whole plan as a JSON object (kirim campaign plan --json, the API) */
json_t *
planner_json(const struct planner_result *r)
{
	json_t *dests = json_array(), *domains = json_array();
	for (size_t k = 0; k < r->ndests; k++)
		json_array_append_new(dests, dest_json(&r->dests[k], r->now));
	for (size_t i = 0; i < r->ndomains; i++) {
		const struct planner_domain *d = &r->domains[i];
		json_array_append_new(
		    domains, json_pack("{s:o,s:I,s:s,s:o,s:o,s:b,s:s}", "domain",
		                       api_json_text(d->name), "messages", (json_int_t)d->messages,
		                       "status", dns_status_name(d->status), "destination",
		                       api_json_text(d->dest >= 0 ? r->dests[d->dest].key : NULL),
		                       "error", api_json_opt(d->error), "suppressed",
		                       d->suppressed != 0, "tls", planner_tls_name(d->tls)));
	}
	json_t *tls = json_object();
	for (int t = 0; t < PLANNER_NTLS; t++)
		json_object_set_new(tls, planner_tls_name(t),
		                    json_pack("{s:I,s:I}", "destinations",
		                              (json_int_t)r->tls_dests[t], "messages",
		                              (json_int_t)r->tls_messages[t]));
	json_t *j = json_pack(
	    "{s:o,s:o,s:s,s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "campaign", api_json_text(r->campaign), "relay", api_json_opt(r->relay), "source",
	    r->from_list ? "audience" : "messages", "now", (json_int_t)r->now, "assume_rate",
	    api_json_number(r->assume_rate, "%.6g"), "concurrency", (json_int_t)r->concurrency,
	    "global_rate", api_json_number(r->global_rate, "%.6g"), "messages",
	    (json_int_t)r->messages, "routed", (json_int_t)r->routed, "eta", (json_int_t)r->eta,
	    "eta_seconds", (json_int_t)(r->eta - r->now), "global_seconds",
	    api_json_number(r->global_seconds, "%.3f"), "bottleneck",
	    api_json_text(r->global_bound      ? "global"
	                  : r->bottleneck >= 0 ? r->dests[r->bottleneck].key
	                                       : NULL),
	    "destinations", dests, "domains", domains, "dead_domains", (json_int_t)r->ndead,
	    "dead_messages", (json_int_t)r->dead_messages, "unresolved_domains",
	    (json_int_t)r->nunresolved, "unresolved_messages", (json_int_t)r->unresolved_messages,
	    "suppressed_domains", (json_int_t)r->suppressed_domains, "suppressed_messages",
	    (json_int_t)r->suppressed_messages);
	json_object_set_new(j, "tls", tls);
	return j;
}
