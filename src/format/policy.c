/* policy - sending policy records, patterns, merging and presets (see policy.h). */
#include "kirim/policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kirim/address.h"
#include "kirim/throttle.h"

#define PER_H(n) ((n) / 3600.0)
#define PER_MIN(n) ((n) / 60.0)

/* The values for any field no record gives: kirim send's own defaults (its options
 * --dest-concurrency and --msgs-per-conn change them for a run). */
static const struct policy builtin = {
    .pattern = "*",
    .set = POLICY_HAS(POLICY_F_MAX_CONNECTIONS) | POLICY_HAS(POLICY_F_RATE) |
           POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN) | POLICY_HAS(POLICY_F_CONNECT_RATE) |
           POLICY_HAS(POLICY_F_TLS),
    .max_connections = 10,    /* Postfix's default_destination_concurrency_limit is 20 */
    .rate = 0,                /* small domains get few messages; AIMD guards the rest */
    .max_msgs_per_conn = 100, /* reconnect now and then, as most MTAs do */
    .connect_rate = 0,        /* the connection cap and AIMD bound it */
    .tls = POLICY_TLS_OPPORTUNISTIC,
    .source = "preset",
};

/*
 * The shipped presets: conservative starting points that marketers override
 * with `kirim domain set`. Connections and messages per connection follow what
 * the providers publish or what the well-known MTAs ship for them (KumoMTA's
 * shaping.toml: Google 5 connections/50 per connection, Microsoft 5/50, Yahoo 20
 * per connection, Apple 10/5); rates are our own choice, low enough that a new
 * IP is not deferred at once, and AIMD lowers them further when a provider
 * complains. Values per row, reasons beside them; docs/throttling.md has the table.
 */
static const struct preset {
	const char *pattern;
	int conns;      /* 0: not given */
	double rate;    /* per second; -1: not given */
	int per_conn;   /* -1: not given */
	double connect; /* per second; -1: not given */
	const char *why;
} presets[] = {
    /* No "*" row: the default for other destinations is builtin above, which kirim
     * send's options adjust per run; `kirim domain set '*' ...` makes one. */
    /* Google (Gmail and Workspace share MX hosts and filters): Google publishes no fixed
     * limits but defers with 421 4.7.28 on bursts from new or unknown IPs. */
    {"gmail.com", 5, 10, 50, PER_MIN(60), "Google: 5 connections, 50 per connection, 10/s"},
    {"googlemail.com", 5, 10, 50, PER_MIN(60), "Google (old name of gmail.com)"},
    {"mx:google.com", 5, 10, 50, PER_MIN(60), "Google Workspace domains (MX under google.com)"},
    {"mx:googlemail.com", 5, 10, 50, PER_MIN(60), "Google's older MX names"},
    /* Microsoft consumer mail: throttles new IPs hard (451 4.7.650, 4.7.500 server busy). */
    {"outlook.com", 5, 5, 50, PER_MIN(30), "Microsoft: 5 connections, 50 per connection, 5/s"},
    {"hotmail.com", 5, 5, 50, PER_MIN(30), "Microsoft consumer mail"},
    {"live.com", 5, 5, 50, PER_MIN(30), "Microsoft consumer mail"},
    {"msn.com", 5, 5, 50, PER_MIN(30), "Microsoft consumer mail"},
    {"mx:outlook.com", 5, 5, 50, PER_MIN(30),
     "Microsoft 365 and Outlook.com MX hosts (*.protection.outlook.com)"},
    /* Yahoo and AOL (one platform, MX under yahoodns.net): Yahoo asks for at most 20
     * messages per connection and defers with TSS04 when volume jumps. */
    {"yahoo.com", 5, 5, 20, PER_MIN(60), "Yahoo: 20 per connection (Yahoo's sender guide)"},
    {"aol.com", 5, 5, 20, PER_MIN(60), "AOL runs on Yahoo's platform"},
    {"ymail.com", 5, 5, 20, PER_MIN(60), "Yahoo"},
    {"mx:yahoodns.net", 5, 5, 20, PER_MIN(60), "every domain on Yahoo's MX (yahoodns.net)"},
    /* Apple iCloud: many connections are fine but few messages on each. */
    {"icloud.com", 10, 5, 5, PER_MIN(120), "Apple: 10 connections, 5 per connection"},
    {"me.com", 10, 5, 5, PER_MIN(120), "Apple (old name of icloud.com)"},
    {"mac.com", 10, 5, 5, PER_MIN(120), "Apple (old name of icloud.com)"},
    {"mx:icloud.com", 10, 5, 5, PER_MIN(120), "Apple custom domains (MX under icloud.com)"},
    /* Indonesia: Yahoo Indonesia is on Yahoo's platform; Telkom's own mail is small. */
    {"yahoo.co.id", 5, 5, 20, PER_MIN(60), "Yahoo Indonesia: Yahoo's platform"},
    {"telkom.net", 2, PER_H(1800), 20, PER_MIN(10), "Telkom Indonesia: a small system"},
    /* Japan: the mobile carriers limit connections per sending IP hard and answer bursts
     * with 421 or with silent drops; Japanese senders keep to a few connections. */
    {"docomo.ne.jp", 2, 1, 20, PER_MIN(10), "NTT docomo: few connections, about 1/s"},
    {"ezweb.ne.jp", 2, 1, 20, PER_MIN(10), "KDDI au (old name)"},
    {"au.com", 2, 1, 20, PER_MIN(10), "KDDI au"},
    {"softbank.ne.jp", 2, 1, 20, PER_MIN(10), "SoftBank"},
    {"i.softbank.jp", 2, 1, 20, PER_MIN(10), "SoftBank (iPhone addresses)"},
    /* Korea: Naver limits per-IP volume for unknown senders. */
    {"naver.com", 3, 2, 50, PER_MIN(20), "Naver: 3 connections, 2/s"},
    /* China: QQ and NetEase defer fast senders (421 "too frequent", 451 RP:xxx codes). */
    {"qq.com", 2, 1, 20, PER_MIN(10), "Tencent QQ: strict frequency limits"},
    {"163.com", 2, 1, 20, PER_MIN(10), "NetEase 163: RP:/MI: rate codes"},
    {"126.com", 2, 1, 20, PER_MIN(10), "NetEase 126"},
    /* Russia. */
    {"yandex.ru", 5, 5, 50, PER_MIN(30), "Yandex: 451 4.7.1 'come back later' when fast"},
    {"mail.ru", 5, 5, 50, PER_MIN(30), "Mail.ru (also inbox.ru, list.ru, bk.ru by MX)"},
    {"mx:mail.ru", 5, 5, 50, PER_MIN(30), "Mail.ru's MX hosts (mxs.mail.ru)"},
    /* Germany: United Internet (GMX, WEB.DE) refuses many parallel connections;
     * T-Online accepts only known, well-configured senders and few at a time. */
    {"gmx.de", 3, 3, 50, PER_MIN(20), "GMX: few parallel connections"},
    {"gmx.net", 3, 3, 50, PER_MIN(20), "GMX"},
    {"web.de", 3, 3, 50, PER_MIN(20), "WEB.DE: same platform as GMX"},
    {"t-online.de", 2, 1, 20, PER_MIN(10), "T-Online: strict, few connections"},
};

/* --- patterns ------------------------------------------------------------------------------- */

/* ldh_name - a lower-case ASCII name of LDH labels (a single label allowed) */
static int
ldh_name(const char *s)
{
	size_t len = 0, lab = 0;
	for (const char *p = s;; p++, len++) {
		if (*p == '.' || *p == '\0') {
			if (lab == 0 || lab > 63 || p[-1] == '-' || *(p - lab) == '-')
				return 0;
			if (*p == '\0')
				break;
			lab = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
		lab++;
	}
	return len > 0 && len <= 253;
}

/* pattern_domain - normalise the domain part of a pattern into out */
static int
pattern_domain(const char *s, size_t n, int single_ok, char *out, size_t outsz, const char **reason)
{
	if (n && s[n - 1] == '.')
		n--;
	if (address_parse_domain(s, n, out, outsz, reason) == 0)
		return 0;
	/* A single label is fine after "*." ("*.jp"); address_parse_domain wants two. */
	if (!single_ok || n == 0 || n >= outsz || memchr(s, '.', n))
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	out[n] = '\0';
	if (!ldh_name(out)) {
		*reason = "not a domain name";
		return -1;
	}
	return 0;
}

/* policy_pattern_parse - check a pattern and write its normal form */
int
policy_pattern_parse(const char *s, char *out, size_t outsz, enum policy_kind *kind,
                     const char **reason)
{
	const char *dummy;
	char dom[POLICY_PATTERN_MAX];
	if (reason == NULL)
		reason = &dummy;
	*reason = "empty pattern";
	if (s == NULL)
		return -1;
	size_t n = strlen(s);
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return -1;
	if (n >= POLICY_PATTERN_MAX) {
		*reason = "pattern too long";
		return -1;
	}
	enum policy_kind k;
	const char *prefix = "";
	if (n == 1 && s[0] == '*') {
		k = POLICY_KIND_DEFAULT;
		snprintf(dom, sizeof(dom), "*");
	} else if (n == 6 && strncasecmp(s, "global", 6) == 0) {
		k = POLICY_KIND_GLOBAL;
		snprintf(dom, sizeof(dom), "global");
	} else if (n > 3 && strncasecmp(s, "mx:", 3) == 0) {
		k = POLICY_KIND_MX;
		prefix = "mx:";
		s += 3, n -= 3;
		if (n > 2 && s[0] == '*' && s[1] == '.')
			s += 2, n -= 2;
		else if (n > 1 && s[0] == '.')
			s++, n--;
		if (pattern_domain(s, n, 0, dom, sizeof(dom), reason) < 0)
			return -1;
	} else if (n > 2 && s[0] == '*' && s[1] == '.') {
		k = POLICY_KIND_WILDCARD;
		prefix = "*.";
		if (pattern_domain(s + 2, n - 2, 1, dom, sizeof(dom), reason) < 0)
			return -1;
	} else {
		k = POLICY_KIND_EXACT;
		if (s[0] == '@')
			s++, n--;
		if (memchr(s, '*', n)) {
			*reason =
			    "a wildcard is only allowed as '*' or at the start: *.example.com";
			return -1;
		}
		if (pattern_domain(s, n, 0, dom, sizeof(dom), reason) < 0)
			return -1;
	}
	if ((size_t)snprintf(out, outsz, "%s%s", prefix, dom) >= outsz) {
		*reason = "pattern too long";
		return -1;
	}
	*kind = k;
	return 0;
}

/* policy_kind_name - "default", "mx", "wildcard", "domain", "global" */
const char *
policy_kind_name(enum policy_kind k)
{
	static const char *const names[] = {"default", "mx", "wildcard", "domain", "global"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* kind_of - the kind of a pattern already in normal form */
static enum policy_kind
kind_of(const char *pattern)
{
	if (strcmp(pattern, "*") == 0)
		return POLICY_KIND_DEFAULT;
	if (strcmp(pattern, "global") == 0)
		return POLICY_KIND_GLOBAL;
	if (strncmp(pattern, "mx:", 3) == 0)
		return POLICY_KIND_MX;
	if (strncmp(pattern, "*.", 2) == 0)
		return POLICY_KIND_WILDCARD;
	return POLICY_KIND_EXACT;
}

/* --- fields --------------------------------------------------------------------------------- */

static const char *const field_names[POLICY_NFIELDS] = {
    "max_connections", "rate", "max_msgs_per_conn", "connect_rate", "tls", "warmup", "egress",
};

/* policy_field_name - the column name */
const char *
policy_field_name(enum policy_field f)
{
	return (unsigned)f < POLICY_NFIELDS ? field_names[f] : "?";
}

/* policy_field_parse - a field from its name (dashes or underscores), or -1 */
int
policy_field_parse(const char *name)
{
	if (name == NULL)
		return -1;
	while (*name == '-')
		name++;
	for (int f = 0; f < POLICY_NFIELDS; f++) {
		const char *a = name, *b = field_names[f];
		while (*a && *b && (*a == *b || (*a == '-' && *b == '_')))
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return f;
	}
	return -1;
}

static const char *const tls_names[] = {"none", "opportunistic", "required", "verify", "dane"};

/* policy_tls_name - "none", "opportunistic", "required", "verify", "dane" */
const char *
policy_tls_name(enum policy_tls t)
{
	return (unsigned)t < sizeof(tls_names) / sizeof(tls_names[0]) ? tls_names[t] : "?";
}

/* policy_tls_parse - the TLS policy called s; 0 or -1 */
int
policy_tls_parse(const char *s, enum policy_tls *out)
{
	for (size_t i = 0; s && i < sizeof(tls_names) / sizeof(tls_names[0]); i++)
		if (strcmp(s, tls_names[i]) == 0) {
			*out = (enum policy_tls)i;
			return 0;
		}
	return -1;
}

/* policy_field_format - one field's value as people read it */
void
policy_field_format(const struct policy *p, enum policy_field f, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	if ((unsigned)f >= POLICY_NFIELDS || !(p->set & POLICY_HAS(f))) {
		snprintf(out, outsz, "-");
		return;
	}
	switch (f) {
	case POLICY_F_MAX_CONNECTIONS:
		snprintf(out, outsz, "%d", p->max_connections);
		break;
	case POLICY_F_RATE:
		throttle_rate_format(p->rate, out, outsz);
		break;
	case POLICY_F_MAX_MSGS_PER_CONN:
		if (p->max_msgs_per_conn <= 0)
			snprintf(out, outsz, "unlimited");
		else
			snprintf(out, outsz, "%d", p->max_msgs_per_conn);
		break;
	case POLICY_F_CONNECT_RATE:
		throttle_rate_format(p->connect_rate, out, outsz);
		break;
	case POLICY_F_TLS:
		snprintf(out, outsz, "%s", policy_tls_name(p->tls));
		break;
	case POLICY_F_WARMUP:
		if (p->warmup[0] == '\0')
			snprintf(out, outsz, "none");
		else
			snprintf(out, outsz, "%s from day %lld", p->warmup,
			         (long long)p->warmup_start);
		break;
	case POLICY_F_EGRESS:
		snprintf(out, outsz, "%s", p->egress);
		break;
	default:
		snprintf(out, outsz, "?");
	}
}

/* --- matching and merging ------------------------------------------------------------------- */

/* name_eq - a and b equal, ASCII case and one trailing dot on b ignored */
static int
name_eq(const char *a, const char *b, size_t bn)
{
	if (bn && b[bn - 1] == '.')
		bn--;
	if (strlen(a) != bn)
		return 0;
	return strncasecmp(a, b, bn) == 0;
}

/* under - 1 when host (bn bytes) is suffix or a name under it (strict: only below) */
static int
under(const char *host, size_t hn, const char *suffix, int strict)
{
	size_t sn = strlen(suffix);
	if (hn && host[hn - 1] == '.')
		hn--;
	if (hn == sn)
		return !strict && strncasecmp(host, suffix, sn) == 0;
	return hn > sn && host[hn - sn - 1] == '.' && strncasecmp(host + hn - sn, suffix, sn) == 0;
}

/*
 * match_rank - 0 when row does not apply, else a rank: higher is more
 * specific. Kinds are 2^28 apart; inside a kind, wildcards rank by suffix
 * length and MX sets by the preference of the first MX host they match, then
 * suffix length.
 */
static long
match_rank(const struct policy *row, const char *domain, const char *const *mx, size_t nmx)
{
	const char *pat = row->pattern;
	size_t dn = strlen(domain);
	switch (kind_of(pat)) {
	case POLICY_KIND_EXACT:
		return name_eq(pat, domain, dn) ? 4L << 28 : 0;
	case POLICY_KIND_WILDCARD:
		return under(domain, dn, pat + 2, 1) ? (3L << 28) + (long)strlen(pat) : 0;
	case POLICY_KIND_MX:
		for (size_t i = 0; mx && i < nmx && i < 1000; i++)
			if (mx[i] && under(mx[i], strlen(mx[i]), pat + 3, 0))
				return (2L << 28) + (long)(1000 - i) * 1024 + (long)strlen(pat);
		return 0;
	case POLICY_KIND_DEFAULT:
		return 1L << 28;
	case POLICY_KIND_GLOBAL:
	default:
		return 0;
	}
}

/* policy_matches - 1 when the record's pattern applies to domain with these MX hosts */
int
policy_matches(const struct policy *row, const char *domain, const char *const *mx_hosts,
               size_t nmx)
{
	return match_rank(row, domain, mx_hosts, nmx) > 0;
}

/* take - copy field f of src into dst */
static void
take(struct policy *dst, const struct policy *src, enum policy_field f)
{
	switch (f) {
	case POLICY_F_MAX_CONNECTIONS:
		dst->max_connections = src->max_connections;
		break;
	case POLICY_F_RATE:
		dst->rate = src->rate;
		break;
	case POLICY_F_MAX_MSGS_PER_CONN:
		dst->max_msgs_per_conn = src->max_msgs_per_conn;
		break;
	case POLICY_F_CONNECT_RATE:
		dst->connect_rate = src->connect_rate;
		break;
	case POLICY_F_TLS:
		dst->tls = src->tls;
		break;
	case POLICY_F_WARMUP:
		memcpy(dst->warmup, src->warmup, sizeof(dst->warmup));
		dst->warmup[sizeof(dst->warmup) - 1] = '\0';
		dst->warmup_start = src->warmup_start;
		break;
	case POLICY_F_EGRESS:
		memcpy(dst->egress, src->egress, sizeof(dst->egress));
		dst->egress[sizeof(dst->egress) - 1] = '\0';
		break;
	default:
		break;
	}
}

/* policy_resolve - the effective policy of domain, merged field by field */
int
policy_resolve(const struct policy *rows, size_t n, const char *domain, const char *const *mx_hosts,
               size_t nmx, struct policy_effective *out)
{
	enum { MATCH_MAX = 64 };
	struct {
		long rank;
		size_t i;
	} m[MATCH_MAX];
	size_t nm = 0;
	if (domain == NULL)
		domain = "";
	for (size_t i = 0; i < n; i++) {
		long r = match_rank(&rows[i], domain, mx_hosts, nmx);
		if (r == 0)
			continue;
		/* Keep the MATCH_MAX most specific (more cannot happen with sane rows). */
		size_t at;
		if (nm < MATCH_MAX)
			at = nm++;
		else if (r > m[MATCH_MAX - 1].rank)
			at = MATCH_MAX - 1;
		else
			continue;
		m[at].rank = r;
		m[at].i = i;
		for (; at > 0 && m[at - 1].rank < m[at].rank; at--) {
			long tr = m[at].rank;
			size_t ti = m[at].i;
			m[at] = m[at - 1];
			m[at - 1].rank = tr;
			m[at - 1].i = ti;
		}
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->p.pattern, sizeof(out->p.pattern), "%s", domain);
	int contributed = 0;
	for (size_t k = 0; k < nm; k++) {
		const struct policy *row = &rows[m[k].i];
		int gave = 0;
		for (int f = 0; f < POLICY_NFIELDS; f++) {
			if ((out->p.set & POLICY_HAS(f)) || !(row->set & POLICY_HAS(f)))
				continue;
			take(&out->p, row, (enum policy_field)f);
			out->p.set |= POLICY_HAS(f);
			snprintf(out->from[f], sizeof(out->from[f]), "%s", row->pattern);
			gave = 1;
		}
		contributed += gave;
	}
	for (int f = 0; f < POLICY_NFIELDS; f++)
		if (!(out->p.set & POLICY_HAS(f)))
			take(&out->p, &builtin, (enum policy_field)f);
	return contributed;
}

/* policy_find - the record whose pattern is pattern, or NULL */
const struct policy *
policy_find(const struct policy *rows, size_t n, const char *pattern)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].pattern, pattern) == 0)
			return &rows[i];
	return NULL;
}

/* --- presets --------------------------------------------------------------------------------- */

/* policy_builtin - the values used for a field no record gives */
const struct policy *
policy_builtin(void)
{
	return &builtin;
}

/* policy_preset_count - how many presets kirim ships */
size_t
policy_preset_count(void)
{
	return sizeof(presets) / sizeof(presets[0]);
}

/* policy_preset - preset i into *out, *why: why these values */
void
policy_preset(size_t i, struct policy *out, const char **why)
{
	const struct preset *pr = &presets[i];
	memset(out, 0, sizeof(*out));
	snprintf(out->pattern, sizeof(out->pattern), "%s", pr->pattern);
	snprintf(out->source, sizeof(out->source), "preset");
	if (pr->conns > 0) {
		out->max_connections = pr->conns;
		out->set |= POLICY_HAS(POLICY_F_MAX_CONNECTIONS);
	}
	if (pr->rate >= 0) {
		out->rate = pr->rate;
		out->set |= POLICY_HAS(POLICY_F_RATE);
	}
	if (pr->per_conn >= 0) {
		out->max_msgs_per_conn = pr->per_conn;
		out->set |= POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN);
	}
	if (pr->connect >= 0) {
		out->connect_rate = pr->connect;
		out->set |= POLICY_HAS(POLICY_F_CONNECT_RATE);
	}
	if (why)
		*why = pr->why;
}
