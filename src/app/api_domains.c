/*
 * api_domains - the API's domain policies (see api.h), through policies.h as
 * `kirim domain list|show|set|unset` uses it, with the same JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "kirim/policies.h"
#include "kirim/policy.h"
#include "kirim/store.h"

struct dom_page {
	struct api_page *p;
	const char *after;
};

static int
domains_row(void *arg, const struct policy *p)
{
	struct dom_page *dp = arg;
	if (strcmp(p->pattern, dp->after) <= 0)
		return 0;
	return api_page_add(dp->p, policies_json(p, NULL), p->pattern) ? 0 : 1;
}

/* GET /api/domains: every policy record, by pattern. */
void
api_domains(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", NULL};
	struct api_page p;
	char err[512];
	int seeded;
	if (api_query_only(x, names) < 0 || api_page_start(x, &p) < 0)
		return;
	struct dom_page dp = {&p, p.after};
	int rc = policies_list(x->s, domains_row, &dp, &seeded, err, sizeof(err));
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, err);
		return;
	}
	api_page_end(x, &p);
}

/* GET /api/domains/{domain}: the policy that applies to a domain, field by field. */
void
api_domain_get(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	struct policies_view v;
	char err[512];
	int seeded;
	int rc = policies_show(x->s, x->rt->params[0], NULL, 0, &v, &seeded, err, sizeof(err));
	if (rc < 0) {
		policies_view_free(&v);
		if (rc == POLICIES_E_DATA)
			api_fail(x, 404, NULL, "%s", err);
		else
			api_fail_store(x, rc, err);
		return;
	}
	json_t *o = policies_json(&v.eff.p, &v), *matched = json_array();
	for (size_t i = 0; i < v.nmatched; i++)
		json_array_append_new(matched, api_json_text(v.matched[i]->pattern));
	json_object_set_new(o, "matched", matched);
	json_object_set_new(o, "relay", policies_relay_json(&v));
	policies_view_free(&v);
	api_ok_tagged(x, 200, o);
}

struct dom_find {
	const char *pattern;
	json_t *found;
};

static int
domains_find(void *arg, const struct policy *p)
{
	struct dom_find *f = arg;
	if (strcmp(p->pattern, f->pattern) != 0)
		return 0;
	f->found = policies_json(p, NULL);
	return 1;
}

/* The record of pattern (normalised) as JSON, or NULL when there is none; -1: answered. */
static int
record(struct api_ctx *x, const char *pattern, json_t **out)
{
	struct dom_find f = {pattern, NULL};
	char err[512];
	int seeded;
	int rc = policies_list(x->s, domains_find, &f, &seeded, err, sizeof(err));
	if (rc < 0)
		return api_fail_store(x, rc, err);
	*out = f.found;
	return 0;
}

/*
 * PATCH /api/domains/{pattern} {"max_connections": 4, "rate": "10/s", ...}:
 * set the fields given, clear (inherit again) the ones given as null; 200
 * with the record. If-Match: the record's ETag.
 */
void
api_domain_set(struct api_ctx *x)
{
	json_t *b, *cur = NULL;
	struct policy p;
	char err[512], pattern[POLICY_PATTERN_MAX];
	enum policy_kind kind;
	unsigned unset = 0;
	int seeded;
	memset(&p, 0, sizeof(p));
	if (api_body(x, false, &b) < 0)
		return;
	if (policies_pattern(x->rt->params[0], pattern, &kind, err, sizeof(err)) < 0) {
		api_fail(x, 404, NULL, "%s", err);
		goto out;
	}
	if (json_object_size(b) == 0) {
		api_fail(x, 422, "invalid", "give the fields to set (or null to clear one)");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(b, key, v)
	{
		int f = policy_field_parse(key);
		char text[128];
		if (f < 0) {
			api_fail(x, 422, "invalid", "unknown field '%s'", key);
			goto out;
		}
		if (json_is_null(v)) {
			unset |= POLICY_HAS(f);
			continue;
		}
		if (json_is_integer(v))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		else if (json_is_string(v))
			snprintf(text, sizeof(text), "%s", json_string_value(v));
		else {
			api_fail(x, 422, "invalid", "'%s' takes a number or a string", key);
			goto out;
		}
		if (policies_field_value(&p, (enum policy_field)f, key, text, err, sizeof(err)) <
		    0) {
			api_fail(x, 422, "invalid", "%s", err);
			goto out;
		}
	}
	if (record(x, pattern, &cur) < 0)
		goto out;
	if (x->if_match) {
		char tag[API_ETAG_MAX];
		if (cur)
			api_etag(cur, tag);
		if (!api_if_match(x->if_match, cur ? tag : NULL)) {
			api_fail(x, 412, "etag-mismatch",
			         "the policy has changed since it was read (If-Match)");
			goto out;
		}
	}
	json_decref(cur);
	cur = NULL;
	int rc = 0;
	bool removed;
	if (unset)
		rc = policies_unset(x->s, pattern, unset, &removed, &seeded, err, sizeof(err));
	if (rc == 0 && p.set) {
		struct policy now;
		snprintf(p.pattern, sizeof(p.pattern), "%s", pattern);
		rc = policies_set(x->s, &p, &now, &seeded, err, sizeof(err));
	}
	if (rc < 0) {
		if (rc == POLICIES_E_USAGE || rc == POLICIES_E_DATA)
			api_fail(x, 422, "invalid", "%s", err);
		else
			api_fail_store(x, rc, err);
		goto out;
	}
	if (record(x, pattern, &cur) < 0)
		goto out;
	snprintf(x->resource, sizeof(x->resource), "domain:%s", pattern);
	if (cur)
		api_ok_tagged(x, 200, cur);
	else
		api_ok(x, 200,
		       json_pack("{s:o,s:b}", "pattern", api_json_text(pattern), "removed", 1));
	cur = NULL;
out:
	json_decref(cur);
	json_decref(b);
}

/* DELETE /api/domains/{pattern}: remove the record (its fields inherit again). */
void
api_domain_unset(struct api_ctx *x)
{
	char err[512], pattern[POLICY_PATTERN_MAX];
	enum policy_kind kind;
	bool removed;
	int seeded;
	if (policies_pattern(x->rt->params[0], pattern, &kind, err, sizeof(err)) < 0) {
		api_fail(x, 404, NULL, "%s", err);
		return;
	}
	int rc = policies_unset(x->s, pattern, 0, &removed, &seeded, err, sizeof(err));
	if (rc < 0) {
		api_fail_store(x, rc, err);
		return;
	}
	if (!removed) {
		api_fail(x, 404, NULL, "%s has no policy", pattern);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "domain:%s", pattern);
	api_ok(x, 200, json_pack("{s:o,s:b}", "pattern", api_json_text(pattern), "removed", 1));
}
