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

/*
 * A list with its member counts, as store_list_row reads it (up to FROM): the sums of its
 * rows in list_domain_counts, which triggers keep as members and suppressions change
 * (schema 017; store_list_check counts them again).
 */
#define LIST_COLUMNS                                                                               \
	"SELECT l.id, l.name, l.created_at,"                                                       \
	" (SELECT coalesce(sum(k.members), 0) FROM list_domain_counts k WHERE k.list_id = l.id),"  \
	" (SELECT coalesce(sum(k.suppressed), 0) FROM list_domain_counts k"                        \
	"  WHERE k.list_id = l.id)"

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
	struct db_stmt *st = store_stmt(s, insert_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_int64(st, 2, store_now());
	if ((rc = store_step_done(s, st, "create list")) < 0)
		return rc;
	if ((rc = db_last_id(store_conn(s), id)) < 0)
		return store_fail(s, "create list");
	*created = true;
	return 0;
}

/* store_list_row - a struct store_list_info from a row of LIST_COLUMNS */
static void
store_list_row(struct db_stmt *st, void *out)
{
	struct store_list_info *info = out;
	info->id = db_column_int64(st, 0);
	store_copy_text(info->name, sizeof(info->name), st, 1);
	info->created_at = db_column_int64(st, 2);
	bool counted = !db_column_null(st, 3);
	info->members = counted ? db_column_int64(st, 3) : -1;
	info->suppressed = counted ? db_column_int64(st, 4) : -1;
}

/* Each row of st (LIST_COLUMNS) to cb; st is reset after. */
static int
list_walk(struct store *s, struct db_stmt *st, store_list_cb cb, void *arg)
{
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_list_info info;
		store_list_row(st, &info);
		if ((ret = cb(arg, &info)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read lists");
	db_reset(st);
	return ret;
}

int
store_list_get(struct store *s, const char *name, struct store_list_info *out)
{
	static const char sql[] = LIST_COLUMNS " FROM lists l WHERE l.name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
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
	/* In byte order, as SQLite's BINARY collation, whatever the database's locale. */
	static const char pg[] = LIST_COLUMNS " FROM lists l ORDER BY l.name COLLATE \"C\"";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
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
	struct db_stmt *st = store_stmt(s, counts ? sql : names_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, after ? after : "");
	db_bind_int(st, 2, limit);
	return list_walk(s, st, cb, arg);
}

int
store_list_delete(struct store *s, const char *name)
{
	static const char sql[] = "DELETE FROM lists WHERE name = ?1";
	/* The campaigns whose audience names it (the foreign key refuses the delete). */
#define LIST_USERS                                                                                 \
	" FROM (SELECT DISTINCT c.name FROM campaign_audience a JOIN campaigns c"                  \
	" ON c.id = a.campaign_id JOIN lists l ON l.id = a.list_id WHERE l.name = ?1"
	static const char users_sql[] =
	    "SELECT group_concat('''' || name || '''', ', '), count(*)" LIST_USERS
	    " ORDER BY c.name)";
	static const char users_pg[] =
	    "SELECT string_agg('''' || name || '''', ', ' ORDER BY name),"
	    " count(*)" LIST_USERS ") AS u";
	struct db_stmt *st = store_stmt_pg(s, users_sql, users_pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = db_step(st);
	if (rc == DB_ROW && db_column_int64(st, 1) > 0) {
		rc =
		    store_errf(s, STORE_E_INUSE,
		               "list '%s' is in the audience of campaign%s %s, which keep%s it: it "
		               "cannot be deleted",
		               name, db_column_int64(st, 1) == 1 ? "" : "s", store_col_text(st, 0),
		               db_column_int64(st, 1) == 1 ? "s" : "");
		db_reset(st);
		return rc;
	}
	db_reset(st);
	if (rc != DB_ROW)
		return store_fail(s, "look for the campaigns that use a list");
	if ((st = store_stmt(s, sql)) == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	rc = store_step_done(s, st, "delete list");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_NOTFOUND, "no list called '%s'", name);
	return rc;
}

#define LIST_MEMBER(COLUMNS)                                                                       \
	"SELECT " COLUMNS ", NULL FROM contacts c JOIN list_members m ON m.contact_id = c.id"      \
	" WHERE c.email = ?1 AND m.list_id = ?2"

int
store_list_member(struct store *s, int64_t list_id, const char *key, struct store_contact *out)
{
	static const char sql[] = LIST_MEMBER(CONTACT_COLUMNS);
	static const char pg[] = LIST_MEMBER(CONTACT_COLUMNS_PG);
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	db_bind_int64(st, 2, list_id);
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
	/* PostgreSQL: the name itself; a JSON null is NULL there too */
	static const char pg[] = "SELECT EXISTS (SELECT 1 FROM list_members m JOIN contacts c"
	                         " ON c.id = m.contact_id WHERE m.list_id = ?1"
	                         " AND (c.attrs::jsonb ->> CAST(?2 AS TEXT)) IS NOT NULL)";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	/* A JSON path with the name quoted, so any column name works as a key. */
	struct buf path = BUF_INIT;
	if (st->lite) {
		buf_adds(&path, "$.");
		buf_json_string(&path, field, strlen(field));
	} else {
		buf_adds(&path, field);
	}
	db_bind_int64(st, 1, list_id);
	db_bind_textn(st, 2, path.data, (int)path.len);
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
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, list_id);
	db_bind_int64(st, 2, contact_id);
	int rc = store_step_done(s, st, "add list member");
	if (rc == 0 && added)
		*added = db_changes(store_conn(s)) > 0;
	return rc;
}

int
store_list_check(struct store *s, bool fix, store_list_check_cb cb, void *arg, int64_t *wrong)
{
	/* Counted the slow way, by the rule itself (SUPPRESSION_OF_C: hashes computed, not
	 * the links the triggers read), beside the rows kept. */
#define CHECK_COUNTED(SUPPRESSED)                                                                  \
	"(SELECT m.list_id, c.domain, count(*) AS members, " SUPPRESSED " AS suppressed"           \
	" FROM list_members m JOIN contacts c ON c.id = m.contact_id"                              \
	" WHERE m.status = 'confirmed' GROUP BY m.list_id, c.domain)"
#define CHECK_KEPT                                                                                 \
	"(SELECT list_id, domain, members, suppressed"                                             \
	" FROM list_domain_counts WHERE members <> 0 OR suppressed <> 0)"
#define CHECK_ROWS                                                                                 \
	" SELECT coalesce(l.name, '(list id ' || d.list_id || ')'), d.domain,"                     \
	" coalesce(k.members, 0), coalesce(k.suppressed, 0),"                                      \
	" coalesce(t.members, 0), coalesce(t.suppressed, 0)"                                       \
	" FROM (SELECT list_id, domain FROM counted UNION SELECT list_id, domain FROM kept) d"     \
	" LEFT JOIN counted t ON t.list_id = d.list_id AND t.domain = d.domain"                    \
	" LEFT JOIN kept k ON k.list_id = d.list_id AND k.domain = d.domain"                       \
	" LEFT JOIN lists l ON l.id = d.list_id"
	static const char sql[] = "WITH counted AS MATERIALIZED " CHECK_COUNTED(
	    "sum(" SUPPRESSION_OF_C
	    " IS NOT NULL)") ", kept AS MATERIALIZED " CHECK_KEPT CHECK_ROWS
	                     " WHERE t.members IS NOT k.members OR t.suppressed IS NOT k.suppressed"
	                     " ORDER BY 1, 2";
	/* PostgreSQL's: its rule's words (SUPPRESSION_OF_C_PG), count() of the reasons for
	 * SQLite's sum() of booleans, IS DISTINCT FROM for IS NOT, byte order by name; no
	 * MATERIALIZED (PostgreSQL 11 has not got it; a CTE used twice is computed once). */
	static const char pg[] = "WITH counted AS " CHECK_COUNTED(
	    "count(" SUPPRESSION_OF_C_PG
	    ")") ", kept AS " CHECK_KEPT CHECK_ROWS " WHERE t.members IS DISTINCT FROM k.members"
	         " OR t.suppressed IS DISTINCT FROM k.suppressed"
	         " ORDER BY coalesce(l.name, '(list id ' || d.list_id || ')') COLLATE \"C\","
	         " d.domain COLLATE \"C\"";
	/* The repair: the hashes' links made again, then every row from the count. */
	static const char unlink_sql[] =
	    "UPDATE suppressions SET contact_id = NULL WHERE contact_id IS NOT NULL";
#define CHECK_LINK(HASH)                                                                           \
	"UPDATE suppressions SET contact_id = x.id FROM (SELECT c.id, " HASH " AS h"               \
	" FROM contacts c WHERE EXISTS (SELECT 1 FROM suppressions WHERE kind = 'hash')) AS x"     \
	" WHERE suppressions.kind = 'hash' AND suppressions.value = x.h"
	static const char link_sql[] = CHECK_LINK("kirim_sha256(lower(c.email))");
	static const char link_pg[] = CHECK_LINK(PG_SHA256(PG_KEY_OF_C));
#define CHECK_FILL(SUPPRESSED)                                                                     \
	"INSERT INTO list_domain_counts(list_id, domain, members, suppressed)"                     \
	" SELECT m.list_id, c.domain, count(*), " SUPPRESSED                                       \
	" FROM list_members m JOIN contacts c ON c.id = m.contact_id"                              \
	" WHERE m.status = 'confirmed' GROUP BY m.list_id, c.domain"
	static const char fill_sql[] = CHECK_FILL("sum(" SUPPRESSION_OF_C " IS NOT NULL)");
	static const char fill_pg[] = CHECK_FILL("count(" SUPPRESSION_OF_C_PG ")");
	static const char clear_sql[] = "DELETE FROM list_domain_counts";
	int rc = fix ? store_begin(s) : 0;
	if (rc < 0)
		return rc;
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL) {
		rc = STORE_E_SQL;
		goto out;
	}
	int64_t n = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_list_count_diff d;
		store_copy_text(d.list, sizeof(d.list), st, 0);
		store_copy_text(d.domain, sizeof(d.domain), st, 1);
		d.kept_members = db_column_int64(st, 2);
		d.kept_suppressed = db_column_int64(st, 3);
		d.members = db_column_int64(st, 4);
		d.suppressed = db_column_int64(st, 5);
		n++;
		if (cb)
			cb(arg, &d);
	}
	db_reset(st);
	rc = rc == DB_DONE ? 0 : store_fail(s, "count the lists' members again");
	if (rc == 0 && fix) {
		const char *steps[][2] = {{unlink_sql, NULL},
		                          {link_sql, link_pg},
		                          {clear_sql, NULL},
		                          {fill_sql, fill_pg}};
		for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
			if ((st = store_stmt_pg(s, steps[i][0], steps[i][1])) == NULL)
				rc = STORE_E_SQL;
			else
				rc = store_step_done(s, st, "repair the lists' counts");
		}
	}
out:
	if (fix)
		rc = rc == 0 ? store_commit(s) : (store_rollback(s), rc);
	if (rc == 0)
		*wrong = n;
	return rc;
}
