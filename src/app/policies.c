/* policies - checking and changing per-destination sending policies (see policies.h). */
#include "kirim/policies.h"

#include "kirim/store_tls.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kirim/address.h"
#include "kirim/api_json.h"
#include "kirim/destination.h"
#include "kirim/store.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

/* What a value of each field must be; one row per field, in policy.h's order. */
enum value_kind { V_COUNT, V_RATE, V_TLS, V_WARMUP, V_EGRESS };
static const struct field_rule {
	enum value_kind kind;
	long lo, hi; /* V_COUNT: the range */
	size_t off;  /* V_COUNT (int), V_RATE (double): where it goes in struct policy */
} field_rules[POLICY_NFIELDS] = {
    [POLICY_F_MAX_CONNECTIONS] = {V_COUNT, 1, POLICY_CONNECTIONS_MAX,
                                  offsetof(struct policy, max_connections)},
    [POLICY_F_RATE] = {V_RATE, 0, 0, offsetof(struct policy, rate)},
    [POLICY_F_MAX_MSGS_PER_CONN] = {V_COUNT, 0, POLICY_MSGS_PER_CONN_MAX,
                                    offsetof(struct policy, max_msgs_per_conn)},
    [POLICY_F_CONNECT_RATE] = {V_RATE, 0, 0, offsetof(struct policy, connect_rate)},
    [POLICY_F_TLS] = {V_TLS, 0, 0, 0},
    [POLICY_F_WARMUP] = {V_WARMUP, 0, 0, 0},
    [POLICY_F_EGRESS] = {V_EGRESS, 0, 0, 0},
};

int
policies_field_value(struct policy *p, enum policy_field f, const char *name, const char *value,
                     char *err, size_t errsz)
{
	const struct field_rule *r = &field_rules[f];
	const char *why;
	switch (r->kind) {
	case V_COUNT: {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < r->lo || v > r->hi) {
			snprintf(err, errsz, "%s takes a number from %ld to %ld, not '%s'", name,
			         r->lo, r->hi, value);
			return POLICIES_E_USAGE;
		}
		*(int *)((char *)p + r->off) = (int)v;
		break;
	}
	case V_RATE: {
		double v;
		if (throttle_rate_parse(value, &v, &why) < 0) {
			snprintf(err, errsz, "%s '%s': %s", name, value, why);
			return POLICIES_E_USAGE;
		}
		*(double *)((char *)p + r->off) = v;
		break;
	}
	case V_TLS:
		if (policy_tls_parse(value, &p->tls) < 0) {
			snprintf(err, errsz,
			         "%s takes none, opportunistic, required, verify or dane, not '%s'",
			         name, value);
			return POLICIES_E_USAGE;
		}
		break;
	case V_WARMUP:
		if (strcmp(value, "none") == 0) {
			p->warmup[0] = '\0';
			p->warmup_start = 0;
			break;
		}
		long caps[THROTTLE_WARMUP_DAYS];
		if (throttle_warmup_expand(value, caps, THROTTLE_WARMUP_DAYS, &why) < 0) {
			snprintf(err, errsz, "%s '%s': %s", name, value, why);
			return POLICIES_E_USAGE;
		}
		if (strlen(value) >= sizeof(p->warmup)) {
			snprintf(err, errsz, "%s: plan too long", name);
			return POLICIES_E_USAGE;
		}
		snprintf(p->warmup, sizeof(p->warmup), "%s", value);
		p->warmup_start = (int64_t)(time(NULL) / 86400);
		break;
	case V_EGRESS: {
		/* A pool's name as kirim.conf's [egress] pool key takes it; whether kirim.conf
		 * has it is the sender's look, when it makes the destination. */
		size_t n = strlen(value);
		if (n == 0 || n >= sizeof(p->egress) ||
		    strspn(value,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") <
		        n) {
			snprintf(err, errsz,
			         "%s takes the name of an [egress] pool of kirim.conf (letters, "
			         "digits, - _ and ., %zu at most), not '%s'",
			         name, sizeof(p->egress) - 1, value);
			return POLICIES_E_USAGE;
		}
		snprintf(p->egress, sizeof(p->egress), "%s", value);
		break;
	}
	}
	p->set |= POLICY_HAS(f);
	return 0;
}

int
policies_field_mask(const char *name, const char *list, unsigned *mask, char *err, size_t errsz)
{
	unsigned m = 0;
	size_t n;
	for (const char *t = list + strspn(list, ", "); *t; t += n + strspn(t + n, ", ")) {
		n = strcspn(t, ", ");
		char tok[32];
		int f = -1;
		if (n < sizeof(tok)) {
			memcpy(tok, t, n);
			tok[n] = '\0';
			f = policy_field_parse(tok);
		}
		if (f < 0) {
			snprintf(
			    err, errsz,
			    "%s takes max-connections, rate, max-msgs-per-conn, connect-rate, tls, "
			    "warmup or egress, not '%.*s'",
			    name, (int)n, t);
			return POLICIES_E_USAGE;
		}
		m |= POLICY_HAS(f);
	}
	*mask |= m;
	return 0;
}

int
policies_pattern(const char *arg, char out[POLICY_PATTERN_MAX], enum policy_kind *kind, char *err,
                 size_t errsz)
{
	const char *why;
	if (policy_pattern_parse(arg, out, POLICY_PATTERN_MAX, kind, &why) == 0)
		return 0;
	snprintf(err, errsz,
	         "'%s' is not a pattern (example.com, *.example.com, mx:example.com, * or global): "
	         "%s",
	         arg, why);
	return POLICIES_E_DATA;
}

/* finish - commit when rc is 0; else roll back and put the store's sentence in err */
static int
finish(struct store *s, int rc, char *err, size_t errsz)
{
	if (rc == 0)
		rc = store_commit(s);
	if (rc == 0)
		return 0;
	store_rollback(s);
	snprintf(err, errsz, "%s", store_errmsg(s));
	return rc;
}

/* seed - the shipped presets, the first time anyone looks at this database's policies */
static int
seed(struct store *s, int *seeded, char *err, size_t errsz)
{
	*seeded = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_policy_seed(s, seeded);
	return finish(s, rc, err, errsz);
}

/* begin_change - pattern checked into pat, the presets seeded, a transaction begun */
static int
begin_change(struct store *s, const char *pattern, char pat[POLICY_PATTERN_MAX], int *seeded,
             char *err, size_t errsz)
{
	enum policy_kind kind;
	*seeded = 0;
	int rc = policies_pattern(pattern, pat, &kind, err, errsz);
	if (rc == 0)
		rc = seed(s, seeded, err, errsz);
	if (rc == 0 && (rc = store_begin(s)) < 0)
		return finish(s, rc, err, errsz);
	return rc;
}

int
policies_list(struct store *s, store_policy_cb cb, void *arg, int *seeded, char *err, size_t errsz)
{
	int rc = seed(s, seeded, err, errsz);
	if (rc == 0 && (rc = store_policy_each(s, cb, arg)) < 0)
		snprintf(err, errsz, "%s", store_errmsg(s));
	return rc;
}

static char *
dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int
tls_sts_row(void *arg, const struct store_sts *p)
{
	struct policies_view *v = arg;
	v->tls.sts = true;
	v->tls.sts_id = xstrdup(p->id);
	v->tls.sts_mode = xstrdup(p->mode);
	v->tls.sts_policy = xstrdup(p->policy);
	v->tls.sts_fetched_at = p->fetched_at;
	v->tls.sts_expires_at = p->expires_at;
	v->tls.sts_expired = p->expires_at <= (int64_t)time(NULL);
	return 0;
}

static int
tls_seen_row(void *arg, const struct store_domain_tls *d)
{
	struct policies_view *v = arg;
	v->tls.seen = true;
	v->tls.seen_sts_id = dup_opt(d->sts_id);
	v->tls.sts_error = dup_opt(d->sts_error);
	v->tls.dane = dup_opt(d->dane);
	v->tls.tlsrpt = dup_opt(d->tlsrpt);
	v->tls.checked_at = d->checked_at;
	return 0;
}

/*
 * tls_view - v's transport security: the cached MTA-STS policy, what the last send found,
 * and which policy wins (sender_route.c decides the same way: a user's TLS setting naming
 * the domain, else DANE, else MTA-STS enforce, else the run's TLS)
 */
static int
tls_view(struct store *s, struct policies_view *v)
{
	int rc = store_sts_get(s, v->domain, tls_sts_row, v);
	if (rc < 0 && rc != STORE_E_NOTFOUND)
		return rc;
	rc = store_domain_tls_get(s, v->domain, tls_seen_row, v);
	if (rc < 0 && rc != STORE_E_NOTFOUND)
		return rc;
	const char *from = v->eff.from[POLICY_F_TLS];
	char *w = v->tls.in_force;
	size_t wn = sizeof(v->tls.in_force);
	if (from[0] && strcmp(from, "*") != 0)
		snprintf(w, wn,
		         "tls %s, from your policy %s (it wins over what the domain publishes)",
		         policy_tls_name(v->eff.p.tls), from);
	else if (v->tls.dane && strstr(v->tls.dane, "dane ("))
		snprintf(w, wn, "DANE on the hosts with usable TLSA records%s",
		         v->tls.sts && !v->tls.sts_expired &&
		                 strcmp(v->tls.sts_mode, "enforce") == 0
		             ? ", MTA-STS enforce on the others"
		             : "");
	else if (v->tls.sts && !v->tls.sts_expired && strcmp(v->tls.sts_mode, "enforce") == 0)
		snprintf(w, wn,
		         "MTA-STS enforce: only the MX hosts it names, certificates verified");
	else if (v->tls.sts && !v->tls.sts_expired && strcmp(v->tls.sts_mode, "testing") == 0)
		snprintf(w, wn, "MTA-STS testing: sent as without a policy (tls %s)",
		         policy_tls_name(v->eff.p.tls));
	else
		snprintf(w, wn, "no published policy: tls %s%s%s", policy_tls_name(v->eff.p.tls),
		         from[0] ? " from " : " (built-in)", from);
	return 0;
}

int
policies_show(struct store *s, const char *domain, const char *const *mx, size_t nmx,
              struct policies_view *out, int *seeded, char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	int rc = seed(s, seeded, err, errsz);
	if (rc < 0)
		return rc;
	const char *why;
	const char *d = domain[0] == '@' ? domain + 1 : domain;
	if (address_parse_domain(d, strlen(d), out->domain, sizeof(out->domain), &why) < 0) {
		snprintf(err, errsz, "'%s' is not a domain: %s", domain, why);
		return POLICIES_E_DATA;
	}
	if ((rc = store_policy_load_all(s, &out->rows, &out->nrows)) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc;
	}
	policy_resolve(out->rows, out->nrows, out->domain, mx, nmx, &out->eff);
	out->matched = xcalloc(out->nrows + 1, sizeof(*out->matched));
	for (size_t i = 0; i < out->nrows; i++)
		if (policy_matches(&out->rows[i], out->domain, mx, nmx))
			out->matched[out->nmatched++] = &out->rows[i];
	/* Through a relay, as the sender routes it (destination.h): no MX hosts. */
	struct dest_limits none = {0}, lim;
	dest_resolve(out->rows, out->nrows, out->domain, NULL, 0, &none, &lim);
	snprintf(out->relay_own, sizeof(out->relay_own), "%s", lim.own);
	policy_resolve(out->rows, out->nrows, out->domain, NULL, 0, &out->relay_eff);
	const struct policy *g = policy_find(out->rows, out->nrows, "global");
	if (g && (g->set & POLICY_HAS(POLICY_F_RATE)))
		out->global_rate = g->rate;
	if (out->eff.p.warmup[0]) {
		out->warmup_day = (long)(time(NULL) / 86400 - out->eff.p.warmup_start);
		out->warmup_cap = throttle_warmup_cap(out->eff.p.warmup, out->warmup_day);
	}
	if ((rc = tls_view(s, out)) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc;
	}
	return 0;
}

void
policies_view_free(struct policies_view *v)
{
	free(v->tls.sts_id);
	free(v->tls.sts_mode);
	free(v->tls.sts_policy);
	free(v->tls.seen_sts_id);
	free(v->tls.sts_error);
	free(v->tls.dane);
	free(v->tls.tlsrpt);
	memset(&v->tls, 0, sizeof(v->tls));
	free(v->rows);
	free(v->matched);
	v->rows = NULL;
	v->matched = NULL;
	v->nrows = v->nmatched = 0;
}

int
policies_set(struct store *s, const struct policy *p, struct policy *now, int *seeded, char *err,
             size_t errsz)
{
	struct policy q = *p;
	*seeded = 0;
	if (q.set == 0) {
		snprintf(err, errsz, "no field to set");
		return POLICIES_E_USAGE;
	}
	int rc = begin_change(s, p->pattern, q.pattern, seeded, err, errsz);
	if (rc < 0)
		return rc;
	rc = store_policy_set(s, &q, "user");
	if (rc == 0)
		rc = store_policy_get(s, q.pattern, now);
	return finish(s, rc, err, errsz);
}

int
policies_unset(struct store *s, const char *pattern, unsigned mask, bool *removed, int *seeded,
               char *err, size_t errsz)
{
	char pat[POLICY_PATTERN_MAX];
	int rc = begin_change(s, pattern, pat, seeded, err, errsz);
	if (rc < 0)
		return rc;
	rc = mask ? store_policy_unset(s, pat, mask) : store_policy_delete(s, pat);
	*removed = rc != STORE_E_NOTFOUND;
	return finish(s, rc == STORE_E_NOTFOUND ? 0 : rc, err, errsz);
}

int
policies_presets(struct store *s, bool reset, int *written, char *err, size_t errsz)
{
	*written = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_policy_presets(s, reset, written);
	return finish(s, rc, err, errsz);
}

/* ---- as JSON (kirim domain --json, the API) --------------------------------------------- */

/* policy_value - field f of p as JSON (v: p is the effective policy of that view) */
static json_t *
policy_value(const struct policy *p, int f, const struct policies_view *v)
{
	char text[THROTTLE_RATE_STR];
	if (!v && !(p->set & POLICY_HAS(f)))
		return json_null();
	switch (f) {
	case POLICY_F_MAX_CONNECTIONS:
		return json_integer(p->max_connections);
	case POLICY_F_MAX_MSGS_PER_CONN:
		return json_integer(p->max_msgs_per_conn);
	case POLICY_F_RATE:
	case POLICY_F_CONNECT_RATE: {
		double r = f == POLICY_F_RATE ? p->rate : p->connect_rate;
		return json_pack("{s:o,s:o}", "per_second", api_json_number(r, "%.6g"), "text",
		                 api_json_text(throttle_rate_format(r, text, sizeof(text))));
	}
	case POLICY_F_TLS:
		return api_json_text(policy_tls_name(p->tls));
	case POLICY_F_WARMUP: {
		if (p->warmup[0] == '\0')
			return json_null();
		json_t *w = json_pack("{s:o,s:I}", "plan", api_json_text(p->warmup), "start_day",
		                      (json_int_t)p->warmup_start);
		if (v) {
			json_object_set_new(w, "day", json_integer(v->warmup_day));
			json_object_set_new(w, "today_cap", json_integer(v->warmup_cap));
		}
		return w;
	}
	case POLICY_F_EGRESS:
		return api_json_text(p->egress);
	}
	return json_null();
}

/* policies_json - one record, or with v the effective policy it shows, as a JSON object */
json_t *
policies_json(const struct policy *p, const struct policies_view *v)
{
	enum policy_kind k = POLICY_KIND_EXACT;
	char norm[POLICY_PATTERN_MAX];
	json_t *o = json_object();
	json_object_set_new(o, v ? "domain" : "pattern", api_json_text(p->pattern));
	if (!v && policy_pattern_parse(p->pattern, norm, sizeof(norm), &k, NULL) == 0)
		json_object_set_new(o, "kind", api_json_text(policy_kind_name(k)));
	for (int f = 0; f < POLICY_NFIELDS; f++)
		json_object_set_new(o, policy_field_name((enum policy_field)f),
		                    policy_value(p, f, v));
	if (v) {
		json_t *from = json_object();
		for (int f = 0; f < POLICY_NFIELDS; f++)
			json_object_set_new(from, policy_field_name((enum policy_field)f),
			                    api_json_opt(v->eff.from[f]));
		json_object_set_new(o, "from", from);
	} else {
		json_object_set_new(o, "source", api_json_text(p->source));
		json_object_set_new(o, "updated_at",
		                    p->updated_at ? api_json_time(p->updated_at) : json_null());
	}
	return o;
}

/* The fields a domain's own queue on a relay's connections takes from its policy. */
const enum policy_field policies_relay_fields[POLICIES_RELAY_NFIELDS] = {
    POLICY_F_MAX_CONNECTIONS, POLICY_F_RATE, POLICY_F_CONNECT_RATE, POLICY_F_WARMUP};

/* policies_relay_json - the limits of the domain's queue through a relay */
json_t *
policies_relay_json(const struct policies_view *v)
{
	json_t *r = json_object(), *from = json_object();
	json_object_set_new(r, "queue", api_json_text("relay"));
	if (v->relay_own[0]) {
		char key[POLICY_PATTERN_MAX + 8];
		snprintf(key, sizeof(key), "relay|%s", v->relay_own);
		json_object_set_new(r, "queue", api_json_text(key));
		for (size_t i = 0; i < POLICIES_RELAY_NFIELDS; i++) {
			enum policy_field f = policies_relay_fields[i];
			json_object_set_new(r, policy_field_name(f),
			                    policy_value(&v->relay_eff.p, f, v));
			json_object_set_new(from, policy_field_name(f),
			                    api_json_opt(v->relay_eff.from[f]));
		}
		json_object_set_new(r, "from", from);
	} else {
		json_decref(from);
	}
	json_object_set_new(r, "own_pattern", api_json_opt(v->relay_own));
	json_object_set_new(r, "global_rate", api_json_number(v->global_rate, "%.6g"));
	return r;
}
