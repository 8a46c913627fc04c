/*
 * api_contacts - the API's contacts and suppressions (see api.h): store reads
 * as `kirim contacts` makes them, changes through contacts.h and
 * suppressions.h, as `kirim suppress` makes its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "kirim/contacts.h"
#include "kirim/store.h"
#include "kirim/suppressions.h"

enum { BATCH_MAX = 1000 }; /* contacts or suppressions in one request */

/* contact_json - a contact; with_lists adds the lists it is in (a get reads them) */
static json_t *
contact_json(const struct store_contact *c, bool with_lists)
{
	json_t *o =
	    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "email", api_json_text(c->email), "domain",
	              api_json_text(c->domain), "attrs", api_json_parse(c->attrs), "suppressed",
	              api_json_opt(c->suppressed), "created_at", api_json_time(c->created_at),
	              "updated_at", api_json_time(c->updated_at));
	if (with_lists) {
		json_t *lists = json_array();
		for (const char *p = c->lists; *p;) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			json_array_append_new(lists, api_json_textn(p, n));
			p += n + (e ? 1 : 0);
		}
		json_object_set_new(o, "lists", lists);
	}
	return o;
}

static int
contacts_row(void *arg, const struct store_contact *c)
{
	return api_page_add(arg, contact_json(c, false), c->email) ? 0 : 1;
}

/* GET /api/contacts[?prefix=&list=]: by address, a page at a time. */
void
api_contacts(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", "prefix", "list", NULL};
	char prefix[256], list[256];
	struct api_page p;
	int lrc;
	if (api_query_only(x, names) < 0 || api_query(x, "prefix", prefix, sizeof(prefix)) < 0 ||
	    (lrc = api_query(x, "list", list, sizeof(list))) < 0 || api_page_start(x, &p) < 0)
		return;
	int rc = store_contact_page(x->s, prefix, lrc == 0 ? list : NULL, p.after, p.limit + 1,
	                            contacts_row, &p);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

int
api_contact_read(struct api_ctx *x, const char *email, struct store_contact *c)
{
	char key[256], err[400];
	if (contacts_key(email, key, err, sizeof(err)) < 0)
		return api_fail(x, 404, NULL, "%s", err);
	int rc = store_contact_get(x->s, key, c);
	if (rc < 0)
		return api_fail_store(x, rc, NULL);
	return 0;
}

/* GET /api/contacts/{email} */
void
api_contact_get(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	struct store_contact c;
	if (api_query_only(x, none) < 0 || api_contact_read(x, x->rt->params[0], &c) < 0)
		return;
	api_ok_tagged(x, 200, contact_json(&c, true));
	store_contact_clear(&c);
}

/*
 * One contact object of a request: {"email", "attrs", "lists", "replace"}
 * upserted; its result into *res. 0, or -1 with the problem in err (the
 * status in *status).
 */
static int
upsert_one(struct api_ctx *x, json_t *o, struct contacts_result *res, int *status, char *err,
           size_t errsz)
{
	static const char *const fields[] = {"email", "attrs", "lists", "replace", NULL};
	const char *key, *email = NULL;
	json_t *v;
	*status = 422;
	if (!json_is_object(o)) {
		snprintf(err, errsz, "a contact is a JSON object");
		return -1;
	}
	json_object_foreach(o, key, v)
	{
		bool known = false;
		for (const char *const *f = fields; *f && !known; f++)
			known = strcmp(*f, key) == 0;
		if (!known) {
			snprintf(err, errsz, "unknown field '%s'", key);
			return -1;
		}
	}
	json_t *e = json_object_get(o, "email"), *attrs = json_object_get(o, "attrs"),
	       *lists = json_object_get(o, "lists"), *replace = json_object_get(o, "replace");
	if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
		snprintf(err, errsz, "'email' is required, a string");
		return -1;
	}
	email = json_string_value(e);
	if (attrs && !json_is_null(attrs) && !json_is_object(attrs)) {
		snprintf(err, errsz, "'attrs' must be an object");
		return -1;
	}
	if (replace && !json_is_boolean(replace)) {
		snprintf(err, errsz, "'replace' must be true or false");
		return -1;
	}
	if (lists && !json_is_array(lists)) {
		snprintf(err, errsz, "'lists' must be an array of list names");
		return -1;
	}
	size_t nl = json_array_size(lists);
	const char *names[CONTACTS_LISTS_MAX + 1];
	if (nl > CONTACTS_LISTS_MAX) {
		snprintf(err, errsz, "at most %d lists", CONTACTS_LISTS_MAX);
		return -1;
	}
	for (size_t i = 0; i < nl; i++) {
		json_t *n = json_array_get(lists, i);
		if (!json_is_string(n)) {
			snprintf(err, errsz, "'lists' must be an array of list names");
			return -1;
		}
		names[i] = json_string_value(n);
	}
	char *text = attrs && json_is_object(attrs) ? json_dumps(attrs, JSON_COMPACT) : NULL;
	int rc =
	    contacts_upsert(x->s, email, text, json_is_true(replace), names, nl, res, err, errsz);
	free(text);
	if (rc < 0) {
		*status =
		    rc == CONTACTS_E_ADDRESS || rc == CONTACTS_E_ATTRS || rc == CONTACTS_E_LIST
		        ? 422
		    : rc == CONTACTS_E_ERASED ? 409
		    : rc == STORE_E_BUSY      ? 503
		                              : 500;
		return -1;
	}
	return 0;
}

/*
 * POST /api/contacts: one contact {"email", ...}: 201 made, 200 changed or
 * not; or {"contacts": [...]} (at most BATCH_MAX): 200 with each one's
 * result, each one kept or refused on its own.
 */
void
api_contact_upsert(struct api_ctx *x)
{
	json_t *b, *batch;
	char err[600];
	int status;
	if (api_body(x, false, &b) < 0)
		return;
	if ((batch = json_object_get(b, "contacts")) == NULL) {
		struct contacts_result res;
		if (upsert_one(x, b, &res, &status, err, sizeof(err)) < 0) {
			api_fail(x, status, status == 422 ? "invalid" : "store", "%s", err);
			goto out;
		}
		struct store_contact c;
		int rc = store_contact_get(x->s, res.email, &c);
		if (rc < 0) {
			api_fail_store(x, rc, NULL);
			goto out;
		}
		snprintf(x->resource, sizeof(x->resource), "contact:%s", res.email);
		api_location(x, "/api/contacts/", res.email);
		api_ok_tagged(x, res.created ? 201 : 200, contact_json(&c, true));
		store_contact_clear(&c);
		goto out;
	}
	if (json_object_size(b) != 1 || !json_is_array(batch) || json_array_size(batch) == 0 ||
	    json_array_size(batch) > BATCH_MAX) {
		api_fail(x, 422, "invalid",
		         "a batch is {\"contacts\": [...]} with 1 to %d contacts and nothing else",
		         BATCH_MAX);
		goto out;
	}
	json_t *results = json_array();
	json_int_t n[4] = {0, 0, 0, 0}; /* created, updated, unchanged, failed */
	size_t i;
	json_t *o;
	json_array_foreach(batch, i, o)
	{
		struct contacts_result res;
		json_t *e = json_object_get(o, "email");
		json_t *r;
		if (upsert_one(x, o, &res, &status, err, sizeof(err)) < 0) {
			if (status != 422) { /* the store failed: the whole batch is undone */
				json_decref(results);
				api_fail(x, status, "store", "%s", err);
				goto out;
			}
			r = json_pack("{s:O,s:s,s:s}", "email",
			              e && json_is_string(e) ? e : json_null(), "result", "failed",
			              "error", err);
			n[3]++;
		} else {
			const char *what = res.created                      ? "created"
			                   : res.changed || res.lists_added ? "updated"
			                                                    : "unchanged";
			r = json_pack("{s:o,s:s}", "email", api_json_text(res.email), "result",
			              what);
			n[res.created ? 0 : res.changed || res.lists_added ? 1 : 2]++;
		}
		json_array_append_new(results, r);
	}
	snprintf(x->resource, sizeof(x->resource), "contacts:%zu", json_array_size(batch));
	api_ok(x, 200,
	       json_pack("{s:I,s:I,s:I,s:I,s:o}", "created", n[0], "updated", n[1], "unchanged",
	                 n[2], "failed", n[3], "results", results));
out:
	json_decref(b);
}

/* The If-Match of a change to c (already read): false when answered 412. */
static bool
if_match(struct api_ctx *x, const struct store_contact *c)
{
	if (x->if_match == NULL)
		return true;
	json_t *cur = contact_json(c, true);
	char tag[API_ETAG_MAX];
	api_etag(cur, tag);
	json_decref(cur);
	if (api_if_match(x->if_match, tag))
		return true;
	api_fail(x, 412, "etag-mismatch",
	         "the contact has changed since it was read (If-Match): read it again");
	return false;
}

/*
 * PATCH /api/contacts/{email} {"attrs": merge patch, "lists": [add to],
 * "replace": false}: 200 with the contact; 412 when If-Match does not match.
 */
void
api_contact_update(struct api_ctx *x)
{
	json_t *b;
	struct store_contact c;
	char err[600];
	int status;
	if (api_body(x, false, &b) < 0)
		return;
	if (json_object_get(b, "email")) {
		api_fail(x, 422, "invalid", "the address is the contact's name: it cannot change");
		json_decref(b);
		return;
	}
	if (api_contact_read(x, x->rt->params[0], &c) < 0) {
		json_decref(b);
		return;
	}
	bool go = if_match(x, &c);
	json_object_set_new(b, "email", json_string(c.email));
	store_contact_clear(&c);
	struct contacts_result res;
	if (go && upsert_one(x, b, &res, &status, err, sizeof(err)) < 0)
		api_fail(x, status, status == 422 ? "invalid" : "store", "%s", err);
	else if (go && store_contact_get(x->s, res.email, &c) == 0) {
		snprintf(x->resource, sizeof(x->resource), "contact:%s", res.email);
		api_ok_tagged(x, 200, contact_json(&c, true));
		store_contact_clear(&c);
	} else if (go) {
		api_fail_store(x, STORE_E_SQL, NULL);
	}
	json_decref(b);
}

/*
 * DELETE /api/contacts/{email}: erasure. The contact, its memberships, its
 * messages and their events go; a suppression of the address stays (so that
 * a later import does not mail it again).
 */
void
api_contact_delete(struct api_ctx *x)
{
	struct store_contact c;
	char err[600];
	/* ?erase=false: the contact leaves, its history stays; by default (and as before) the
	 * right to erasure (docs/contacts.md). */
	static const char *const names[] = {"erase", NULL};
	bool erase;
	if (api_query_only(x, names) < 0 || api_query_bool(x, "erase", true, &erase) < 0)
		return;
	if (api_contact_read(x, x->rt->params[0], &c) < 0)
		return;
	bool go = if_match(x, &c);
	char email[256];
	snprintf(email, sizeof(email), "%s", c.email);
	store_contact_clear(&c);
	if (!go)
		return;
	struct contacts_deleted d;
	const char *one[] = {email};
	int rc = contacts_delete(x->s, one, 1, erase, &d, err, sizeof(err));
	if (rc < 0) {
		api_fail_store(x, rc, err);
		return;
	}
	if (erase) {
		/* The audit row of this request must not name the person either. */
		snprintf(x->resource, sizeof(x->resource), "contact:(erased)");
		x->audit_path = "/api/contacts/(erased)";
	} else {
		snprintf(x->resource, sizeof(x->resource), "contact:%s", email);
	}
	api_ok(x, 200,
	       json_pack("{s:o,s:b,s:I,s:I}", "email", api_json_text(email), "erased", erase,
	                 "messages", (json_int_t)d.messages, "cancelled", (json_int_t)d.cancelled));
}

/* ---- suppressions ---------------------------------------------------------------------- */

static json_t *
suppression_json(const struct store_suppression *sup)
{
	return json_pack("{s:s,s:o,s:s,s:o,s:o}", "kind", sup->kind, "value",
	                 api_json_text(sup->value), "reason", sup->reason, "source",
	                 api_json_opt(sup->source), "created_at", api_json_time(sup->created_at));
}

static int
suppressions_row(void *arg, const struct store_suppression *sup)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)sup->id);
	return api_page_add(arg, suppression_json(sup), key) ? 0 : 1;
}

/* GET /api/suppressions[?reason=]: newest first, a page at a time. */
void
api_suppressions(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", "reason", NULL};
	char reason[32];
	struct api_page p;
	int rrc;
	if (api_query_only(x, names) < 0 ||
	    (rrc = api_query(x, "reason", reason, sizeof(reason))) < 0)
		return;
	if (rrc == 0 && !suppressions_reason_ok(reason)) {
		api_fail(x, 400, "query",
		         "reason takes manual, hard_bounce, soft_bounce, complaint or unsubscribe");
		return;
	}
	if (api_page_start(x, &p) < 0)
		return;
	char *end;
	long long before = p.after[0] ? strtoll(p.after, &end, 10) : 0;
	int rc = store_suppress_page(x->s, rrc == 0 ? reason : NULL, (int64_t)before, p.limit + 1,
	                             suppressions_row, &p);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

struct sup_results {
	json_t *items;
};

static void
sup_said(void *arg, const struct suppressions_target *t, bool changed)
{
	struct sup_results *r = arg;
	json_array_append_new(r->items, json_pack("{s:s,s:o,s:b}", "kind", t->kind, "value",
	                                          api_json_text(t->value), "changed", changed));
}

/*
 * POST /api/suppressions {"values": [address or domain, ...], "reason",
 * "source"} (or "value" for one): all in one transaction, 200 with what
 * each became; 422 and nothing done when one is neither.
 */
void
api_suppression_add(struct api_ctx *x)
{
	static const char *const fields[] = {"value", "values", "reason", "source", NULL};
	json_t *b;
	const char *reason, *source, *one;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || api_str(x, b, "reason", &reason) < 0 ||
	    api_str(x, b, "source", &source) < 0 || api_str(x, b, "value", &one) < 0)
		goto out;
	json_t *values = json_object_get(b, "values");
	if ((one == NULL) == (values == NULL) ||
	    (values && (!json_is_array(values) || json_array_size(values) == 0 ||
	                json_array_size(values) > BATCH_MAX))) {
		api_fail(x, 422, "invalid",
		         "give 'value' (an address or a domain) or 'values' (1 to %d of them)",
		         BATCH_MAX);
		goto out;
	}
	if (reason && !suppressions_reason_ok(reason)) {
		api_fail(x, 422, "invalid",
		         "'reason' is manual, hard_bounce, soft_bounce, complaint or unsubscribe");
		goto out;
	}
	size_t n = values ? json_array_size(values) : 1;
	struct suppressions_target *t = calloc(n, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		json_t *v = values ? json_array_get(values, i) : NULL;
		const char *text = values ? json_string_value(v) : one, *why = "not a string";
		if (text == NULL || suppressions_target(text, strlen(text), &t[i], &why) < 0) {
			api_fail(x, 422, "invalid",
			         "'%.300s' is neither an address nor a domain: %s",
			         text ? text : "?", why);
			free(t);
			goto out;
		}
	}
	struct sup_results r = {json_array()};
	int done, unchanged;
	int rc = suppressions_change(x->s, true, t, n, reason, source ? source : "api", sup_said,
	                             &r, &done, &unchanged);
	free(t);
	if (rc < 0) {
		json_decref(r.items);
		api_fail_store(x, rc, NULL);
		goto out;
	}
	snprintf(x->resource, sizeof(x->resource), "suppressions:%zu", n);
	api_ok(
	    x, 200,
	    json_pack("{s:i,s:i,s:o}", "added", done, "unchanged", unchanged, "results", r.items));
out:
	json_decref(b);
}

/* DELETE /api/suppressions/{value}: lift the suppression of an address or domain. */
void
api_suppression_remove(struct api_ctx *x)
{
	struct suppressions_target t;
	const char *why;
	const char *v = x->rt->params[0];
	if (suppressions_target(v, strlen(v), &t, &why) < 0) {
		api_fail(x, 404, NULL, "'%s' is neither an address nor a domain: %s", v, why);
		return;
	}
	int done, unchanged;
	int rc = suppressions_change(x->s, false, &t, 1, NULL, NULL, NULL, NULL, &done, &unchanged);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	if (done == 0) {
		api_fail(x, 404, NULL, "%s %s is not suppressed", t.kind, t.value);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "suppression:%s", t.value);
	api_ok(x, 200,
	       json_pack("{s:s,s:o,s:b}", "kind", t.kind, "value", api_json_text(t.value),
	                 "removed", 1));
}
