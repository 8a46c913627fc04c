/*
 * store_template - templates, versioned by name: adding under a name makes its
 * next version, and campaigns keep the id of the version they were made with
 * (table templates; see store.h).
 */
#include "kirim/store.h"
#include "store_int.h"

#include <stdlib.h>

/* A template as store_template_row reads it; each query adds its eighth column, the count of
 * versions (0 where it is not wanted), and FROM. */
#define TEMPLATE_COLUMNS "SELECT id, name, version, subject, text_body, html_body, created_at,"

int
store_template_add(struct store *s, const char *name, const char *subject, const char *text,
                   const char *html, int *version, int64_t *id)
{
	static const char next_sql[] =
	    "SELECT coalesce(max(version), 0) + 1 FROM templates WHERE name = ?1";
	static const char insert_sql[] =
	    "INSERT INTO templates(name, version, subject, text_body, html_body, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	struct db_stmt *st = store_stmt(s, next_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int64_t v;
	int rc = store_get_int64(s, st, &v, "read template versions");
	if (rc < 0)
		return rc;
	if ((st = store_stmt(s, insert_sql)) == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_int64(st, 2, v);
	db_bind_text(st, 3, subject);
	if (text)
		db_bind_text(st, 4, text);
	if (html)
		db_bind_text(st, 5, html);
	db_bind_int64(st, 6, store_now());
	if ((rc = store_step_done(s, st, "add template")) < 0)
		return rc;
	if ((rc = db_last_id(store_conn(s), id)) < 0)
		return store_fail(s, "add template");
	*version = (int)v;
	return 0;
}

/* store_template_row - a struct store_template from a row of TEMPLATE_COLUMNS */
static void
store_template_row(struct db_stmt *st, void *out)
{
	struct store_template *t = out;
	t->id = db_column_int64(st, 0);
	store_copy_text(t->name, sizeof(t->name), st, 1);
	t->version = db_column_int(st, 2);
	t->subject = store_dup_text(st, 3);
	t->text = store_dup_text(st, 4);
	t->html = store_dup_text(st, 5);
	t->created_at = db_column_int64(st, 6);
	t->versions = db_column_int(st, 7);
}

int
store_template_get(struct store *s, const char *name, int version, struct store_template *out)
{
	static const char version_sql[] =
	    TEMPLATE_COLUMNS " 0 FROM templates WHERE name = ?1 AND version = ?2";
	static const char latest_sql[] =
	    TEMPLATE_COLUMNS " 0 FROM templates WHERE name = ?1 ORDER BY version DESC LIMIT 1";
	struct db_stmt *st = store_stmt(s, version > 0 ? version_sql : latest_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	if (version > 0)
		db_bind_int(st, 2, version);
	int rc = store_get_one(s, st, store_template_row, out, sizeof *out, "read template");
	if (rc == STORE_E_NOTFOUND && version > 0)
		store_errf(s, rc, "no version %d of template '%s'", version, name);
	else if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no template called '%s'", name);
	return rc;
}

int
store_template_get_id(struct store *s, int64_t id, struct store_template *out)
{
	static const char sql[] = TEMPLATE_COLUMNS " 0 FROM templates WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = store_get_one(s, st, store_template_row, out, sizeof *out, "read template");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no template with id %lld", (long long)id);
	return rc;
}

int
store_template_each(struct store *s, store_template_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT t.id, t.name, t.version, t.subject, t.text_body, t.html_body, t.created_at,"
	    " (SELECT count(*) FROM templates u WHERE u.name = t.name)"
	    " FROM templates t WHERE t.version = (SELECT max(version) FROM templates u"
	    " WHERE u.name = t.name) ORDER BY t.name";
	/* In byte order, as SQLite's BINARY collation, whatever the database's locale. */
	static const char pg[] =
	    "SELECT t.id, t.name, t.version, t.subject, t.text_body, t.html_body, t.created_at,"
	    " (SELECT count(*) FROM templates u WHERE u.name = t.name)"
	    " FROM templates t WHERE t.version = (SELECT max(version) FROM templates u"
	    " WHERE u.name = t.name) ORDER BY t.name COLLATE \"C\"";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_template t;
		store_template_row(st, &t);
		ret = cb(arg, &t);
		store_template_clear(&t);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read templates");
	db_reset(st);
	return ret;
}

void
store_template_clear(struct store_template *t)
{
	free(t->subject);
	free(t->text);
	free(t->html);
	t->subject = t->text = t->html = NULL;
}
