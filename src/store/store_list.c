/*
 * store_list - lists, named sets of contacts (tables lists, list_members; see
 * store.h). A list's counts are of its confirmed members (a signup waiting
 * for its link is not one yet), suppressed ones included; a member's row is
 * read as store_contact.c reads a contact.
 */
#include "kirim/store.h"
#include "store_int.h"

#include <string.h>

#include "kirim/buf.h"

/* A list with its member counts, as store_list_row reads it (up to FROM). */
#define LIST_COLUMNS                                                                               \
	"SELECT l.id, l.name, l.created_at,"                                                       \
	" (SELECT count(*) FROM list_members m WHERE m.list_id = l.id"                             \
	"  AND m.status = 'confirmed'),"                                                           \
	" (SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id"             \
	"  WHERE m.list_id = l.id AND m.status = 'confirmed' AND " SUPPRESSION_OF_C                \
	" IS NOT NULL)"

/* A list's id by its name (store_list_ensure, store_list_id). */
static const char list_id_sql[] = "SELECT id FROM lists WHERE name = ?1";

int
store_list_ensure(struct store *s, const char *name, int64_t *id, bool *created)
{
	static const char insert_sql[] = "INSERT INTO lists(name, created_at) VALUES (?1, ?2)";
	int rc = store_find_id(s, list_id_sql, name, id, "find list");
	if (rc != STORE_E_NOTFOUND) {
		*created = false;
		return rc;
	}
	sqlite3_stmt *st = store_prepare(s, insert_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_now());
	if ((rc = store_step_done(s, st, "create list")) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(store_db(s));
	*created = true;
	return 0;
}

/* store_list_row - a struct store_list_info from a row of LIST_COLUMNS */
static void
store_list_row(sqlite3_stmt *st, void *out)
{
	struct store_list_info *info = out;
	info->id = sqlite3_column_int64(st, 0);
	store_copy_text(info->name, sizeof(info->name), st, 1);
	info->created_at = sqlite3_column_int64(st, 2);
	bool counted = sqlite3_column_type(st, 3) != SQLITE_NULL;
	info->members = counted ? sqlite3_column_int64(st, 3) : -1;
	info->suppressed = counted ? sqlite3_column_int64(st, 4) : -1;
}

/* Each row of st (LIST_COLUMNS) to cb; st is reset after. */
static int
list_walk(struct store *s, sqlite3_stmt *st, store_list_cb cb, void *arg)
{
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_list_info info;
		store_list_row(st, &info);
		if ((ret = cb(arg, &info)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read lists");
	sqlite3_reset(st);
	return ret;
}

int
store_list_get(struct store *s, const char *name, struct store_list_info *out)
{
	static const char sql[] = LIST_COLUMNS " FROM lists l WHERE l.name = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_get_one(s, st, store_list_row, out, sizeof *out, "read list");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no list called '%s'", name);
	return rc;
}

int
store_list_id(struct store *s, const char *name, int64_t *id)
{
	int rc = store_find_id(s, list_id_sql, name, id, "read list");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no list called '%s'", name);
	return rc;
}

int
store_list_each(struct store *s, store_list_cb cb, void *arg)
{
	static const char sql[] = LIST_COLUMNS " FROM lists l ORDER BY l.name";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	return list_walk(s, st, cb, arg);
}

int
store_list_page(struct store *s, const char *after, int limit, bool counts, store_list_cb cb,
                void *arg)
{
	/* The counts are subqueries of the rows returned: only this page's are counted. */
	static const char sql[] =
	    LIST_COLUMNS " FROM lists l WHERE l.name > ?1 ORDER BY l.name LIMIT ?2";
	static const char names_sql[] = "SELECT l.id, l.name, l.created_at, NULL, NULL"
	                                " FROM lists l WHERE l.name > ?1 ORDER BY l.name LIMIT ?2";
	sqlite3_stmt *st = store_prepare(s, counts ? sql : names_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	return list_walk(s, st, cb, arg);
}

int
store_list_delete(struct store *s, const char *name)
{
	static const char sql[] = "DELETE FROM lists WHERE name = ?1";
	/* The campaigns whose audience names it (the foreign key refuses the delete). */
	static const char users_sql[] =
	    "SELECT group_concat('''' || name || '''', ', '), count(*) FROM (SELECT DISTINCT"
	    " c.name FROM campaign_audience a JOIN campaigns c ON c.id = a.campaign_id"
	    " JOIN lists l ON l.id = a.list_id WHERE l.name = ?1 ORDER BY c.name)";
	sqlite3_stmt *st = store_prepare(s, users_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 1) > 0) {
		rc =
		    store_errf(s, STORE_E_INUSE,
		               "list '%s' is in the audience of campaign%s %s, which keep%s it: it "
		               "cannot be deleted",
		               name, sqlite3_column_int64(st, 1) == 1 ? "" : "s",
		               store_col_text(st, 0), sqlite3_column_int64(st, 1) == 1 ? "s" : "");
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, "look for the campaigns that use a list");
	if ((st = store_prepare(s, sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = store_step_done(s, st, "delete list");
	if (rc == 0 && sqlite3_changes(store_db(s)) == 0)
		return store_errf(s, STORE_E_NOTFOUND, "no list called '%s'", name);
	return rc;
}

int
store_list_member(struct store *s, int64_t list_id, const char *key, struct store_contact *out)
{
	static const char sql[] = "SELECT " CONTACT_COLUMNS ", NULL"
	                          " FROM contacts c JOIN list_members m ON m.contact_id = c.id"
	                          " WHERE c.email = ?1 AND m.list_id = ?2";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, list_id);
	int rc = store_get_one(s, st, store_contact_row, out, sizeof *out, "read list member");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "%s is not a member of the campaign's list", key);
	return rc;
}

int
store_list_has_field(struct store *s, int64_t list_id, const char *field, bool *has)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM list_members m JOIN contacts c"
	                          " ON c.id = m.contact_id WHERE m.list_id = ?1"
	                          " AND json_extract(c.attrs, ?2) IS NOT NULL)";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	/* A JSON path with the name quoted, so any column name works as a key. */
	struct buf path = BUF_INIT;
	buf_adds(&path, "$.");
	buf_json_string(&path, field, strlen(field));
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_text(st, 2, path.data, (int)path.len, SQLITE_STATIC);
	int64_t found;
	int rc = store_get_int64(s, st, &found, "look for a field");
	buf_free(&path);
	if (rc == 0)
		*has = found != 0;
	return rc;
}

int
store_list_add_member(struct store *s, int64_t list_id, int64_t contact_id, bool *added)
{
	static const char sql[] = "INSERT INTO list_members(list_id, contact_id)"
	                          " VALUES (?1, ?2) ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, contact_id);
	int rc = store_step_done(s, st, "add list member");
	if (rc == 0 && added)
		*added = sqlite3_changes(store_db(s)) > 0;
	return rc;
}
