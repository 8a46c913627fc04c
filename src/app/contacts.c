/*
 * contacts - contacts made, changed and erased one at a time (see contacts.h).
 */
#include "kirim/contacts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/address.h"
#include "kirim/attrs.h"
#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/csv_write.h"
#include "kirim/store.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

int
contacts_key(const char *email, char key[256], char *err, size_t errsz)
{
	struct address a;
	const char *why;
	if (address_parse(email, strlen(email), 0, &a, &why) < 0) {
		snprintf(err, errsz, "'%.300s' is not an address: %s", email, why);
		return CONTACTS_E_ADDRESS;
	}
	snprintf(key, 256, "%s", a.email);
	return 0;
}

bool
contacts_list_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

int
contacts_upsert(struct store *s, const char *email, const char *attrs, bool replace,
                const char *const *lists, size_t nlists, struct contacts_result *out, char *err,
                size_t errsz)
{
	struct address a;
	const char *why;
	memset(out, 0, sizeof(*out));
	if (address_parse(email, strlen(email), 0, &a, &why) < 0) {
		snprintf(err, errsz, "'%.300s' is not an address: %s", email, why);
		return CONTACTS_E_ADDRESS;
	}
	if (attrs) {
		json_error_t je;
		json_t *v = strlen(attrs) > CONTACTS_ATTRS_MAX ? NULL : json_loads(attrs, 0, &je);
		bool obj = json_is_object(v);
		json_decref(v);
		if (!obj) {
			snprintf(err, errsz,
			         "the attributes of %s must be a JSON object of at most %d bytes",
			         a.email, CONTACTS_ATTRS_MAX);
			return CONTACTS_E_ATTRS;
		}
	}
	if (nlists > CONTACTS_LISTS_MAX) {
		snprintf(err, errsz, "at most %d lists at once", CONTACTS_LISTS_MAX);
		return CONTACTS_E_LIST;
	}
	for (size_t i = 0; i < nlists; i++)
		if (!contacts_list_name_ok(lists[i])) {
			snprintf(err, errsz, "'%.100s' cannot be a list name", lists[i]);
			return CONTACTS_E_LIST;
		}
	/* As an import refuses it: an erased address is kept only as its hash, so
	 * that it is never added (nor mailed) again (docs/contacts.md). */
	bool erased = false;
	int rc = store_begin(s);
	if (rc == 0 && (rc = store_erased(s, a.key, &erased)) == 0 && erased) {
		store_rollback(s);
		snprintf(err, errsz,
		         "%s was erased at its owner's request and is not added again (kirim "
		         "suppress remove of its hash would allow it)",
		         a.email);
		return CONTACTS_E_ERASED;
	}
	if (rc == 0)
		rc = store_contact_upsert(s, &a, attrs, replace, &out->id, &out->created,
		                          &out->changed);
	for (size_t i = 0; rc == 0 && i < nlists; i++) {
		int64_t lid;
		bool made, added = false;
		rc = store_list_ensure(s, lists[i], &lid, &made);
		if (rc == 0)
			rc = store_list_add_member(s, lid, out->id, &added);
		out->lists_added += added;
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
		return rc;
	}
	snprintf(out->email, sizeof(out->email), "%s", a.email);
	return 0;
}

int
contacts_delete(struct store *s, const char *const *addresses, size_t n, bool erase,
                struct contacts_deleted *out, char *err, size_t errsz)
{
	char key[256];
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		int rc = contacts_key(addresses[i], key, err, errsz);
		if (rc < 0)
			return rc;
	}
	int rc = store_begin(s);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct store_contact c;
		int64_t messages = 0, cancelled = 0;
		contacts_key(addresses[i], key, err, errsz);
		if ((rc = store_contact_get(s, key, &c)) < 0)
			break;
		rc = store_contact_delete(s, c.id, erase, &messages, &cancelled);
		store_contact_clear(&c);
		out->contacts += rc == 0;
		out->messages += messages;
		out->cancelled += cancelled;
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

bool
contacts_key_ok(const char *key, size_t n)
{
	if (n == 0 || n > CONTACTS_KEY_MAX || !utf8_valid(key, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f || key[i] == '"')
			return false;
	return true;
}

int
contacts_set(struct store *s, const char *email, const char *const *pairs, size_t npairs,
             bool *changed, char *err, size_t errsz)
{
	char key[256];
	int rc = contacts_key(email, key, err, errsz);
	if (rc < 0)
		return rc;
	/* The change as a JSON merge patch: "" becomes null, which removes the key. */
	json_t *patch = json_object();
	for (size_t i = 0; i < npairs; i++) {
		const char *eq = strchr(pairs[i], '=');
		size_t kn = eq ? (size_t)(eq - pairs[i]) : 0;
		if (eq == NULL || !contacts_key_ok(pairs[i], kn)) {
			snprintf(err, errsz,
			         eq ? "'%.*s' cannot be an attribute name: 1 to %d bytes of UTF-8, "
			              "no control characters and no '\"'"
			            : "'%.*s' is not key=value (key= removes the attribute)",
			         eq ? (int)kn : 200, pairs[i], CONTACTS_KEY_MAX);
			json_decref(patch);
			return CONTACTS_E_KEY;
		}
		if (strcmp(eq + 1, "") != 0 && !utf8_valid(eq + 1, strlen(eq + 1))) {
			snprintf(err, errsz, "the value of '%.*s' is not UTF-8", (int)kn, pairs[i]);
			json_decref(patch);
			return CONTACTS_E_KEY;
		}
		json_t *v = eq[1] ? json_string(eq + 1) : json_null();
		json_object_setn_new(patch, pairs[i], kn, v);
	}
	char *text = json_dumps(patch, JSON_COMPACT);
	json_decref(patch);
	struct store_contact c;
	if ((rc = store_begin(s)) == 0 && (rc = store_contact_get(s, key, &c)) == 0) {
		struct address a;
		const char *why;
		int64_t id;
		bool created;
		/* Parsed before: contacts_key took it. */
		address_parse(c.email, strlen(c.email), ADDRESS_ALLOW_IP_LITERAL, &a, &why);
		rc = store_contact_upsert(s, &a, text, false, &id, &created, changed);
		store_contact_clear(&c);
	}
	free(text);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
	}
	return rc;
}

/* ---- export ---------------------------------------------------------------------------- */

struct export
{
	const struct contacts_export_opts *o;
	char **cols; /* owned */
	size_t ncols, capcols;
	struct buf row;
	int64_t rows, total;
	unsigned flags;
};

static int
export_key(void *arg, const char *key)
{
	struct export *x = arg;
	if (x->ncols == x->capcols) {
		x->capcols = x->capcols ? 2 * x->capcols : 16;
		x->cols = xrealloc(x->cols, x->capcols * sizeof(char *));
	}
	x->cols[x->ncols++] = xstrdup(key);
	return 0;
}

/* export_value - attribute v as the text of a cell: a string as it is, null as "", any other
 * value as its JSON */
static void
export_value(struct export *x, json_t *v, bool first)
{
	if (v == NULL || json_is_null(v)) {
		csv_write_field(&x->row, "", 0, first, x->flags);
	} else if (json_is_string(v)) {
		csv_write_field(&x->row, json_string_value(v), json_string_length(v), first,
		                x->flags);
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		csv_write_field(&x->row, t, strlen(t), first, x->flags);
		free(t);
	}
}

static int
export_row(void *arg, const char *email, const char *attrs)
{
	struct export *x = arg;
	json_t *obj = NULL;
	if (attrs_parse(attrs, &obj) < 0)
		obj = json_object();
	buf_reset(&x->row);
	for (size_t i = 0; i < x->ncols; i++) {
		if (strcmp(x->cols[i], "email") == 0)
			csv_write_field(&x->row, email, strlen(email), i == 0, x->flags);
		else
			export_value(x, json_object_get(obj, x->cols[i]), i == 0);
	}
	json_decref(obj);
	csv_write_end(&x->row);
	int rc = x->o->write(x->o->arg, x->row.data, x->row.len);
	if (rc == 0 && ++x->rows % 1000 == 0 && x->o->progress)
		x->o->progress(x->o->arg, x->rows, x->total);
	return rc;
}

/* export_tree - the filter o names as one tree (*out NULL: every contact) */
static int
export_tree(struct store *s, const struct contacts_export_opts *o, struct segment_node **out,
            char *err, size_t errsz)
{
	struct segment_node *parts[3];
	size_t n = 0;
	int rc = 0;
	if (o->list) {
		parts[n] = segment_new(SEGMENT_LIST);
		parts[n++]->name = xstrdup(o->list);
	}
	if (o->segment) {
		parts[n] = segment_new(SEGMENT_SEGMENT);
		parts[n++]->name = xstrdup(o->segment);
	}
	if (o->where && (rc = audience_parse(s, o->where, &parts[n], err, errsz)) == 0)
		n++;
	struct segment_node *t = n == 1 ? parts[0] : NULL;
	if (n > 1) {
		t = segment_new(SEGMENT_AND);
		for (size_t i = 0; i < n; i++)
			segment_add_kid(t, parts[i]);
	}
	if (rc == 0 && t && (rc = audience_check(s, t, err, errsz)) < 0) {
		segment_free(t);
		return rc;
	}
	if (rc < 0) {
		if (t)
			segment_free(t);
		else
			for (size_t i = 0; i < n; i++)
				segment_free(parts[i]);
		return rc;
	}
	*out = t;
	return 0;
}

int
contacts_export(struct store *s, const struct contacts_export_opts *o, int64_t now, int64_t *rows,
                char *err, size_t errsz)
{
	struct export x = {.o = o, .flags = o->raw ? 0 : CSV_WRITE_GUARD};
	err[0] = '\0';
	for (size_t i = 0; i < o->ncolumns; i++)
		if (!contacts_key_ok(o->columns[i], strlen(o->columns[i]))) {
			snprintf(err, errsz,
			         "'%.100s' cannot be a column: an attribute name is 1 to %d "
			         "bytes of UTF-8 without control characters or '\"'",
			         o->columns[i], CONTACTS_KEY_MAX);
			return AUDIENCE_E_USAGE;
		}
	struct segment_node *tree = NULL;
	int rc = export_tree(s, o, &tree, err, errsz);
	if (rc < 0)
		return rc;
	/*
	 * No transaction: BEGIN IMMEDIATE would hold the write lock for the whole
	 * export. Each statement reads its own snapshot (WAL), so a contact added
	 * meanwhile may be in the rows with an attribute the header lacks.
	 */
	if (o->ncolumns) {
		for (size_t i = 0; i < o->ncolumns; i++)
			export_key(&x, o->columns[i]);
	} else {
		export_key(&x, "email");
		rc = store_segment_keys(s, tree, now, export_key, &x);
	}
	if (rc == 0 && o->progress)
		rc = store_segment_count(s, tree, now, &x.total, NULL);
	if (rc == 0) {
		for (size_t i = 0; i < x.ncols; i++)
			csv_write_field(&x.row, x.cols[i], strlen(x.cols[i]), i == 0, x.flags);
		csv_write_end(&x.row);
		rc = o->write(o->arg, x.row.data, x.row.len);
	}
	if (rc == 0)
		rc = store_segment_export(s, tree, now, export_row, &x);
	if (rc == 0 && o->progress)
		o->progress(o->arg, x.rows, x.total);
	if (rc < 0 && rc != CONTACTS_E_WRITE && !err[0])
		snprintf(err, errsz, "%s", store_errmsg(s));
	segment_free(tree);
	for (size_t i = 0; i < x.ncols; i++)
		free(x.cols[i]);
	free(x.cols);
	buf_free(&x.row);
	*rows = x.rows;
	return rc;
}
