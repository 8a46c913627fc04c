/*
 * api_segments - the API's segments and a contact's tags and attributes (see
 * api.h): the app calls `kirim segment` and `kirim contacts tag|set` make
 * (audience.h, contacts.h), store reads as they read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/contacts.h"
#include "kirim/segment.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/xmalloc.h"

enum { TAGS_MAX = 100, ATTRS_MAX = 1000 }; /* tag changes, attributes in one request */

/* audience_fail - an app error as its answer: bad input 422, in use 409, the store's */
static void
audience_fail(struct api_ctx *x, int rc, const char *err)
{
	if (rc == AUDIENCE_E_USAGE || rc == AUDIENCE_E_DATA || rc == CONTACTS_E_ADDRESS ||
	    rc == CONTACTS_E_KEY)
		api_fail(x, 422, "invalid", "%s", err);
	else if (rc == AUDIENCE_E_BUSY)
		api_fail(x, 409, "in-use", "%s", err);
	else
		api_fail_store(x, rc, err);
}

/* segment_json - a segment: its text, its tree, and with count its live count */
static json_t *
segment_json(struct api_ctx *x, const struct store_segment *seg, bool count)
{
	struct segment_node *t = NULL;
	char perr[256];
	json_t *o =
	    json_pack("{s:o,s:o,s:o,s:o}", "name", api_json_text(seg->name), "expression",
	              api_json_text(seg->expr), "created_at", api_json_time(seg->created_at),
	              "updated_at", api_json_time(seg->updated_at));
	if (segment_parse(seg->expr, strlen(seg->expr), &t, perr, sizeof(perr)) == 0) {
		json_object_set_new(o, "tree", segment_to_json(t));
		segment_free(t);
	}
	if (count) {
		/* Evaluated now, as `kirim segment show` counts it. */
		struct segment_node *self = segment_new(SEGMENT_SEGMENT);
		self->name = xstrdup(seg->name);
		int64_t n = 0, suppressed = 0;
		int rc = store_segment_count(x->s, self, x->now, &n, &suppressed);
		segment_free(self);
		if (rc < 0) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "contacts", json_integer((json_int_t)n));
		json_object_set_new(o, "suppressed", json_integer((json_int_t)suppressed));
	}
	return o;
}

static int
segments_row(void *arg, const struct store_segment *seg)
{
	void **a = arg;
	json_t *o = segment_json(a[0], seg, false);
	json_array_append_new(a[1], o);
	return 0;
}

/* GET /api/segments: every segment, by name (segments are few: one page) */
void
api_segments(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	json_t *items = json_array();
	void *a[2] = {x, items};
	int rc = store_segment_each(x->s, segments_row, a);
	if (rc < 0) {
		json_decref(items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok(x, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
}

/* segment_put - a definition from the body ({"expression": TEXT} or {"tree": JSON}) stored as
 * name; create: a new one only (409 when it exists), else a new definition (or a new one) */
static void
segment_put(struct api_ctx *x, const char *name, json_t *b, bool create)
{
	const char *expr = NULL;
	json_t *tree = json_object_get(b, "tree");
	if (api_str(x, b, "expression", &expr) < 0)
		return;
	if ((expr == NULL) == (tree == NULL)) {
		api_fail(x, 422, "invalid",
		         "give the segment as 'expression' (text, docs/segments.md) or 'tree' "
		         "(its JSON form), one of them");
		return;
	}
	char err[1024];
	struct buf text = BUF_INIT;
	if (tree) {
		struct segment_node *t;
		if (segment_from_json(tree, &t, err, sizeof(err)) < 0) {
			api_fail(x, 422, "invalid", "tree: %s", err);
			return;
		}
		segment_print(t, &text);
		segment_free(t);
		expr = text.data;
	}
	bool created = false;
	char *canon = NULL;
	int rc =
	    audience_segment_add(x->s, name, expr, !create, &created, &canon, err, sizeof(err));
	free(canon);
	buf_free(&text);
	if (rc < 0) {
		audience_fail(x, rc, err);
		return;
	}
	struct store_segment seg;
	if ((rc = store_segment_get(x->s, name, &seg)) < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	json_t *o = segment_json(x, &seg, true);
	store_segment_clear(&seg);
	if (o == NULL) {
		api_fail_store(x, STORE_E_SQL, NULL);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "segment:%s", name);
	api_location(x, "/api/segments/", name);
	api_ok(x, created ? 201 : 200, o);
}

/* POST /api/segments {"name", "expression" | "tree"}: 201, 409 when the name is taken */
void
api_segment_create(struct api_ctx *x)
{
	static const char *const fields[] = {"name", "expression", "tree", NULL};
	json_t *b;
	const char *name;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) == 0 && api_str(x, b, "name", &name) == 0) {
		if (name == NULL)
			api_fail(x, 422, "invalid", "'name' is required");
		else
			segment_put(x, name, b, true);
	}
	json_decref(b);
}

/* PUT /api/segments/{name} {"expression" | "tree"}: a new definition (201 when new) */
void
api_segment_update(struct api_ctx *x)
{
	static const char *const fields[] = {"expression", "tree", NULL};
	json_t *b;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) == 0)
		segment_put(x, x->rt->params[0], b, false);
	json_decref(b);
}

/* GET /api/segments/{name}: the segment with its count now */
void
api_segment_get(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	struct store_segment seg;
	int rc = store_segment_get(x->s, x->rt->params[0], &seg);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	json_t *o = segment_json(x, &seg, true);
	store_segment_clear(&seg);
	if (o == NULL)
		api_fail_store(x, STORE_E_SQL, NULL);
	else
		api_ok(x, 200, o);
}

/*
 * POST /api/segments/count {"expression" | "tree"}: what `kirim segment count EXPRESSION`
 * says, for a definition not stored (the console's live count as one types): its
 * canonical text, the contacts it matches now and how many of them are suppressed.
 */
void
api_segment_count(struct api_ctx *x)
{
	static const char *const fields[] = {"expression", "tree", NULL};
	json_t *b;
	const char *expr = NULL;
	if (api_body(x, false, &b) < 0)
		return;
	json_t *tree = json_object_get(b, "tree");
	if (api_only(x, b, fields) < 0 || api_str(x, b, "expression", &expr) < 0)
		goto out;
	if ((expr == NULL) == (tree == NULL)) {
		api_fail(x, 422, "invalid",
		         "give the condition as 'expression' (text, docs/segments.md) or 'tree' "
		         "(its JSON form), one of them");
		goto out;
	}
	char err[1024];
	struct buf text = BUF_INIT;
	struct segment_node *t = NULL;
	int rc = 0;
	if (tree) {
		if (segment_from_json(tree, &t, err, sizeof(err)) < 0) {
			api_fail(x, 422, "invalid", "tree: %s", err);
			goto out;
		}
		segment_print(t, &text);
		segment_free(t);
		expr = text.data;
	}
	/* Parsed and checked (lists, segments, campaigns it names) as the CLI's count is. */
	if ((rc = audience_parse(x->s, expr, &t, err, sizeof(err))) < 0) {
		buf_free(&text);
		audience_fail(x, rc, err);
		goto out;
	}
	buf_free(&text);
	int64_t n = 0, suppressed = 0;
	if ((rc = store_segment_count(x->s, t, x->now, &n, &suppressed)) < 0) {
		segment_free(t);
		api_fail_store(x, rc, NULL);
		goto out;
	}
	segment_print(t, &text);
	segment_free(t);
	api_ok(x, 200,
	       json_pack("{s:o,s:I,s:I}", "expression", api_json_text(text.data), "contacts",
	                 (json_int_t)n, "suppressed", (json_int_t)suppressed));
	buf_free(&text);
out:
	json_decref(b);
}

/* DELETE /api/segments/{name}: 409 while a campaign or another segment uses it */
void
api_segment_delete(struct api_ctx *x)
{
	const char *name = x->rt->params[0];
	char err[1024];
	int rc = audience_segment_remove(x->s, name, err, sizeof(err));
	if (rc < 0) {
		audience_fail(x, rc, err);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "segment:%s", name);
	api_ok(x, 200, json_pack("{s:o,s:b}", "name", api_json_text(name), "deleted", 1));
}

/* tag_names - o[key], an array of strings, into v (borrowed from o); -1 answered */
static int
tag_names(struct api_ctx *x, json_t *o, const char *key, const char **v, size_t *n)
{
	json_t *a = json_object_get(o, key);
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > TAGS_MAX)
		return api_fail(x, 422, "invalid", "'%s' is an array of at most %d tags", key,
		                TAGS_MAX);
	size_t i;
	json_t *t;
	json_array_foreach(a, i, t)
	{
		if (!json_is_string(t))
			return api_fail(x, 422, "invalid", "'%s[%zu]' is not a string", key, i);
		v[(*n)++] = json_string_value(t);
	}
	return 0;
}

/* POST /api/contacts/{email}/tags {"add": [...], "remove": [...]}: kirim contacts tag */
void
api_contact_tags(struct api_ctx *x)
{
	static const char *const fields[] = {"add", "remove", NULL};
	const char *email = x->rt->params[0];
	const char *add[TAGS_MAX], *remove[TAGS_MAX];
	size_t nadd, nremove;
	json_t *b;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || tag_names(x, b, "add", add, &nadd) < 0 ||
	    tag_names(x, b, "remove", remove, &nremove) < 0)
		goto out;
	if (nadd + nremove == 0) {
		api_fail(x, 422, "invalid", "give tags to 'add' or 'remove'");
		goto out;
	}
	char err[1024];
	struct audience_tagged t;
	const char *one[] = {email};
	int rc =
	    audience_tag_addresses(x->s, one, 1, add, nadd, remove, nremove, &t, err, sizeof(err));
	if (rc == AUDIENCE_E_DATA) {
		api_fail(x, 404, NULL, "%s", err);
		goto out;
	}
	if (rc < 0) {
		audience_fail(x, rc, err);
		goto out;
	}
	char tags[1024], key[256];
	struct store_contact c;
	if ((rc = contacts_key(email, key, err, sizeof(err))) == 0 &&
	    (rc = store_contact_get(x->s, key, &c)) == 0) {
		rc = store_contact_tags(x->s, c.id, tags, sizeof(tags));
		store_contact_clear(&c);
	}
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	json_t *list = json_array();
	for (const char *p = tags; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(list, api_json_textn(p, n));
		p += n + (p[n] == ',');
	}
	snprintf(x->resource, sizeof(x->resource), "contact:%s", email);
	api_ok(x, 200,
	       json_pack("{s:o,s:I,s:I,s:o}", "email", api_json_text(email), "added",
	                 (json_int_t)t.added, "removed", (json_int_t)t.removed, "tags", list));
out:
	json_decref(b);
}

/* POST /api/contacts/{email}/attributes {"key": "value", "gone": ""}: kirim contacts set */
void
api_contact_attributes(struct api_ctx *x)
{
	const char *email = x->rt->params[0];
	json_t *b;
	if (api_body(x, false, &b) < 0)
		return;
	size_t n = json_object_size(b), i = 0;
	if (n == 0 || n > ATTRS_MAX) {
		api_fail(x, 422, "invalid",
		         "give 1 to %d attributes: {\"city\": \"Bogor\"}, \"\" "
		         "removes one",
		         ATTRS_MAX);
		json_decref(b);
		return;
	}
	/* As the command line has them: "key=value". */
	char **pairs = xcalloc(n, sizeof(char *));
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(b, key, v)
	{
		if (!json_is_string(v) && !json_is_null(v)) {
			rc = api_fail(x, 422, "invalid",
			              "'%s' is not a string (\"\" or null removes it)", key);
			break;
		}
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s=%s", key, json_is_string(v) ? json_string_value(v) : "");
		pairs[i++] = p.data;
	}
	char err[1024];
	bool changed = false;
	if (rc == 0 && (rc = contacts_set(x->s, email, (const char *const *)pairs, i, &changed, err,
	                                  sizeof(err))) < 0)
		audience_fail(x, rc, err);
	struct store_contact c;
	char ckey[256];
	if (rc == 0 && (rc = contacts_key(email, ckey, err, sizeof(err))) == 0 &&
	    (rc = store_contact_get(x->s, ckey, &c)) < 0)
		api_fail_store(x, rc, NULL);
	if (rc == 0) {
		snprintf(x->resource, sizeof(x->resource), "contact:%s", email);
		api_ok(x, 200,
		       json_pack("{s:o,s:b,s:o}", "email", api_json_text(c.email), "changed",
		                 changed, "attrs", api_json_parse(c.attrs)));
		store_contact_clear(&c);
	}
	for (size_t k = 0; k < i; k++)
		free(pairs[k]);
	free(pairs);
	json_decref(b);
}
