/*
 * store_contact - contacts and how they arrive: import runs (tables contacts,
 * imports, and the list memberships an import makes; see store.h). An address
 * is stored once whatever its case (COLLATE NOCASE); store_import_row is the
 * bulk loader's hot path: four statements at most per row, each one seek.
 */
#include "kirim/store.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "kirim/address.h"
#include "kirim/xmalloc.h"

int
store_import_start(struct store *s, int64_t list_id, const char *source, int64_t *import_id)
{
	static const char sql[] =
	    "INSERT INTO imports(list_id, source, started_at) VALUES (?1, ?2, ?3)";
	static const char pg[] = "INSERT INTO imports(list_id, source, started_at)"
	                         " VALUES (?1, ?2, ?3) RETURNING id";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, list_id);
	db_bind_text(st, 2, source);
	db_bind_int64(st, 3, store_now());
	bool made;
	return store_insert_id(s, st, "record import", import_id, &made);
}

int
store_import_counted(struct store *s, int64_t list_id, const char *domain, int64_t members,
                     int64_t suppressed)
{
	static const char sql[] =
	    "INSERT INTO list_domain_counts(list_id, domain, members, suppressed)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (list_id, domain) DO UPDATE"
	    " SET members = list_domain_counts.members + excluded.members,"
	    " suppressed = list_domain_counts.suppressed + excluded.suppressed";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, list_id);
	db_bind_text(st, 2, domain);
	db_bind_int64(st, 3, members);
	db_bind_int64(st, 4, suppressed);
	return store_step_done(s, st, "count the import's members");
}

int
store_import_finish(struct store *s, int64_t import_id, const char *summary_json)
{
	static const char sql[] = "UPDATE imports SET finished_at = ?2, summary = ?3 WHERE id = ?1";
	static const char pg[] =
	    "UPDATE imports SET finished_at = ?2, summary = CAST(?3 AS json) WHERE id = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, import_id);
	db_bind_int64(st, 2, store_now());
	db_bind_text(st, 3, summary_json);
	return store_step_done(s, st, "record import summary");
}

/* store_find_contact - the id of the contact whose lower-cased address is key */
static int
store_find_contact(struct store *s, const char *key, int64_t *id)
{
	int rc =
	    store_find_id(s, "SELECT id FROM contacts WHERE email = ?1", key, id, "find contact");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no contact %s", key);
	return rc;
}

int
store_import_row(struct store *s, int64_t list_id, int64_t import_id, const struct address *a,
                 const char *attrs, size_t attrs_len, bool update, unsigned *flags,
                 int64_t *contact_id_out)
{
	static const char insert_sql[] =
	    "INSERT INTO contacts(email, domain, attrs, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING";
	static const char insert_pg[] = PG_INSERT_NEW(
	    "contacts", "email, domain, attrs, created_at, updated_at",
	    "CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS json), CAST(?4 AS BIGINT), ?4",
	    "email = CAST(?1 AS TEXT)");
	static const char update_sql[] =
	    "UPDATE contacts SET attrs = json_patch(attrs, ?2), updated_at = ?3"
	    " WHERE id = ?1 AND attrs IS NOT json_patch(attrs, ?2)";
	static const char update_pg[] = "UPDATE contacts SET attrs = " PG_PATCH(
	    "attrs", "?2") ","
	                   " updated_at = ?3 WHERE id = ?1 AND attrs::text IS DISTINCT"
	                   " FROM " PG_PATCH("attrs", "?2") "::text";
	static const char member_sql[] = "INSERT INTO list_members(list_id, contact_id, import_id)"
	                                 " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
	static const char member_import_sql[] =
	    "SELECT import_id FROM list_members WHERE list_id = ?1 AND contact_id = ?2";
	struct db *db = store_conn(s);
	int64_t now = store_now(), contact_id = 0;
	unsigned f = 0;
	int rc;
	bool made;
	struct db_stmt *st = store_stmt_pg(s, insert_sql, insert_pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, a->email);
	db_bind_text(st, 2, a->domain);
	db_bind_textn(st, 3, attrs, (int)attrs_len);
	db_bind_int64(st, 4, now);
	if ((rc = store_insert_id(s, st, "insert contact", &contact_id, &made)) < 0)
		return rc;
	if (made) {
		f |= STORE_ROW_NEW_CONTACT;
	} else {
		if ((rc = store_find_contact(s, a->key, &contact_id)) < 0)
			return rc;
		if (update && attrs_len > 2) {
			if ((st = store_stmt_pg(s, update_sql, update_pg)) == NULL)
				return STORE_E_SQL;
			db_bind_int64(st, 1, contact_id);
			db_bind_textn(st, 2, attrs, (int)attrs_len);
			db_bind_int64(st, 3, now);
			if ((rc = store_step_done(s, st, "update contact")) < 0)
				return rc;
			if (db_changes(db) == 1)
				f |= STORE_ROW_UPDATED;
		}
	}
	if ((st = store_stmt(s, member_sql)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, list_id);
	db_bind_int64(st, 2, contact_id);
	db_bind_int64(st, 3, import_id);
	if ((rc = store_step_done(s, st, "add list member")) < 0)
		return rc;
	if (db_changes(db) == 1) {
		f |= STORE_ROW_NEW_MEMBER;
	} else {
		/* Already a member: earlier in this run (a duplicate row), or from before. */
		if ((st = store_stmt(s, member_import_sql)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, list_id);
		db_bind_int64(st, 2, contact_id);
		rc = db_step(st);
		if (rc == DB_ROW && !db_column_null(st, 0) && db_column_int64(st, 0) == import_id)
			f |= STORE_ROW_DUPLICATE;
		db_reset(st);
		if (rc != DB_ROW && rc != DB_DONE)
			return store_fail(s, "read list member");
	}
	*flags = f;
	*contact_id_out = contact_id;
	return 0;
}

/* store_contact_row - a struct store_contact from a row of CONTACT_COLUMNS, lists */
void
store_contact_row(struct db_stmt *st, void *out)
{
	struct store_contact *c = out;
	c->id = db_column_int64(st, 0);
	store_copy_text(c->email, sizeof(c->email), st, 1);
	store_copy_text(c->domain, sizeof(c->domain), st, 2);
	const char *attrs = db_column_text(st, 3);
	c->attrs = xstrdup(attrs ? attrs : "{}");
	c->created_at = db_column_int64(st, 4);
	c->updated_at = db_column_int64(st, 5);
	store_copy_text(c->suppressed, sizeof(c->suppressed), st, 6);
	store_copy_text(c->lists, sizeof(c->lists), st, 7);
}

/* A contact and the names of its lists, as store_contact_row reads them. */
#define CONTACT_WITH_LISTS                                                                         \
	"SELECT " CONTACT_COLUMNS ","                                                              \
	" (SELECT group_concat(name, ',') FROM (SELECT l.name FROM list_members m"                 \
	"  JOIN lists l ON l.id = m.list_id WHERE m.contact_id = c.id ORDER BY l.name))"           \
	" FROM contacts c"
#define CONTACT_WITH_LISTS_PG                                                                      \
	"SELECT " CONTACT_COLUMNS_PG ","                                                           \
	" (SELECT string_agg(l.name, ',' ORDER BY l.name COLLATE \"C\") FROM list_members m"       \
	"  JOIN lists l ON l.id = m.list_id WHERE m.contact_id = c.id)"                            \
	" FROM contacts c"

int
store_contact_get(struct store *s, const char *key, struct store_contact *out)
{
	static const char sql[] = CONTACT_WITH_LISTS " WHERE c.email = ?1";
	static const char pg[] = CONTACT_WITH_LISTS_PG " WHERE c.email = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	int rc = store_get_one(s, st, store_contact_row, out, sizeof *out, "read contact");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no contact with the address %s", key);
	return rc;
}

int
store_contact_get_id(struct store *s, int64_t id, struct store_contact *out)
{
	static const char sql[] = CONTACT_WITH_LISTS " WHERE c.id = ?1";
	static const char pg[] = CONTACT_WITH_LISTS_PG " WHERE c.id = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = store_get_one(s, st, store_contact_row, out, sizeof *out, "read contact");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no contact with id %lld", (long long)id);
	return rc;
}

void
store_contact_clear(struct store_contact *c)
{
	free(c->attrs);
	c->attrs = NULL;
}

/* Each row of st (CONTACT_COLUMNS and the lists) to cb; st is reset after. */
static int
contact_walk(struct store *s, struct db_stmt *st, store_contact_cb cb, void *arg, const char *what)
{
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_contact c;
		store_contact_row(st, &c);
		ret = cb(arg, &c);
		store_contact_clear(&c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, what);
	db_reset(st);
	return ret;
}

int
store_contact_search(struct store *s, const char *term, const char *list, int limit,
                     store_contact_cb cb, void *arg)
{
	static const char all_sql[] = "SELECT " CONTACT_COLUMNS ", NULL"
	                              " FROM contacts c WHERE instr(lower(c.email), ?1) > 0"
	                              " ORDER BY c.email LIMIT ?2";
	static const char list_sql[] = "SELECT " CONTACT_COLUMNS ", NULL"
	                               " FROM lists l JOIN list_members m ON m.list_id = l.id"
	                               " JOIN contacts c ON c.id = m.contact_id"
	                               " WHERE l.name = ?3 AND instr(lower(c.email), ?1) > 0"
	                               " ORDER BY c.email LIMIT ?2";
	/* PostgreSQL: the address's byte order (citext COLLATE "C" sorts as NOCASE does) */
	static const char all_pg[] = "SELECT " CONTACT_COLUMNS_PG ", NULL FROM contacts c"
	                             " WHERE strpos(" PG_KEY_OF_C ", ?1) > 0"
	                             " ORDER BY c.email LIMIT ?2";
	static const char list_pg[] = "SELECT " CONTACT_COLUMNS_PG ", NULL"
	                              " FROM lists l JOIN list_members m ON m.list_id = l.id"
	                              " JOIN contacts c ON c.id = m.contact_id"
	                              " WHERE l.name = ?3 AND strpos(" PG_KEY_OF_C ", ?1) > 0"
	                              " ORDER BY c.email LIMIT ?2";
	struct db_stmt *st =
	    list ? store_stmt_pg(s, list_sql, list_pg) : store_stmt_pg(s, all_sql, all_pg);
	if (st == NULL)
		return STORE_E_SQL;
	/* The term is matched against lower(email), so fold it the same way. */
	char *folded = xstrdup(term);
	for (char *p = folded; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	db_bind_text(st, 1, folded);
	db_bind_int64(st, 2, limit > 0 ? limit : INT64_MAX); /* PostgreSQL has no LIMIT -1 */
	if (list)
		db_bind_text(st, 3, list);
	int ret = contact_walk(s, st, cb, arg, "search contacts");
	free(folded);
	return ret;
}

/*
 * list_is_big - whether a list with this many confirmed members (its kept count,
 * store_list_get) holds at least 1% of the contacts (against the highest contact id): then a page
 * of its members is found soonest by walking the address index and asking the list about each
 * address (100 members within about 10,000 addresses); a smaller list's members are read and sorted
 * by address instead. Either way costs what the list's share makes it: on 1,000,000 contacts, one
 * list of all of them took 160 ms a page the second way, one of 100 would take a scan the first
 * way.
 */
static int
list_is_big(struct store *s, int64_t members, bool *big)
{
	static const char top_sql[] = "SELECT max(id) FROM contacts";
	struct db_stmt *st = store_stmt(s, top_sql);
	int64_t top;
	if (st == NULL)
		return STORE_E_SQL;
	int rc = store_get_int64(s, st, &top, "read the highest contact id");
	if (rc == 0)
		*big = members * 100 >= top;
	return rc;
}

int
store_contact_page(struct store *s, const char *prefix, const char *list, const char *after,
                   int limit, store_contact_cb cb, void *arg)
{
	/*
	 * Ranges of the address index (COLLATE NOCASE, so the bounds fold the
	 * same way): from the prefix to the prefix followed by 0xFF, a byte no
	 * UTF-8 text has, after the last address of the page before.
	 */
#define PAGE_ALL(COLUMNS)                                                                          \
	"SELECT " COLUMNS ", NULL FROM contacts c"                                                 \
	" WHERE c.email >= ?1 AND c.email < ?2 AND c.email > ?3"                                   \
	" ORDER BY c.email LIMIT ?4"
#define PAGE_LIST(COLUMNS)                                                                         \
	"SELECT " COLUMNS ", NULL FROM contacts c"                                                 \
	" JOIN list_members m ON m.contact_id = c.id AND m.list_id = ?5"                           \
	" WHERE c.email >= ?1 AND c.email < ?2 AND c.email > ?3"                                   \
	" ORDER BY c.email LIMIT ?4"
/* The same rows, walking the address index and asking the list about each one. */
#define PAGE_WALK(COLUMNS)                                                                         \
	"SELECT " COLUMNS ", NULL FROM contacts c"                                                 \
	" WHERE c.email >= ?1 AND c.email < ?2 AND c.email > ?3 AND EXISTS (SELECT 1"              \
	" FROM list_members m WHERE m.list_id = ?5 AND m.contact_id = c.id)"                       \
	" ORDER BY c.email LIMIT ?4"
	static const char all_sql[] = PAGE_ALL(CONTACT_COLUMNS);
	static const char list_sql[] = PAGE_LIST(CONTACT_COLUMNS);
	static const char walk_sql[] = PAGE_WALK(CONTACT_COLUMNS);
	static const char all_pg[] = PAGE_ALL(CONTACT_COLUMNS_PG);
	static const char list_pg[] = PAGE_LIST(CONTACT_COLUMNS_PG);
	static const char walk_pg[] = PAGE_WALK(CONTACT_COLUMNS_PG);
	struct store_list_info li = {0};
	const char *sql = all_sql, *pg = all_pg;
	if (list) {
		int rc = store_list_get(s, list, &li);
		bool big;
		if (rc < 0 || (rc = list_is_big(s, li.members, &big)) < 0)
			return rc;
		sql = big ? walk_sql : list_sql;
		pg = big ? walk_pg : list_pg;
	}
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	/* PostgreSQL takes UTF-8 only: there the bound is U+10FFFF, above every character in
	 * byte order (citext COLLATE "C"). */
	static const char top[] = "\xf4\x8f\xbf\xbf";
	size_t pl = prefix ? strlen(prefix) : 0, tl = st->lite ? 1 : strlen(top);
	char *upper = xmalloc(pl + tl + 1);
	memcpy(upper, prefix ? prefix : "", pl);
	memcpy(upper + pl, st->lite ? "\xff" : top, tl);
	upper[pl + tl] = '\0';
	db_bind_text(st, 1, prefix ? prefix : "");
	db_bind_textn(st, 2, upper, (int)(pl + tl));
	db_bind_text(st, 3, after ? after : "");
	db_bind_int(st, 4, limit);
	if (list)
		db_bind_int64(st, 5, li.id);
	int ret = contact_walk(s, st, cb, arg, "read contacts");
	free(upper);
	return ret;
}

int
store_contact_upsert(struct store *s, const struct address *a, const char *attrs, bool replace,
                     int64_t *id, bool *created, bool *changed)
{
	/* json_patch drops the nulls of a new contact's attributes as it would an update's. */
	static const char insert_sql[] =
	    "INSERT INTO contacts(email, domain, attrs, created_at, updated_at)"
	    " VALUES (?1, ?2, json_patch('{}', ?3), ?4, ?4) ON CONFLICT DO NOTHING";
	static const char merge_sql[] =
	    "UPDATE contacts SET attrs = json_patch(attrs, ?2), updated_at = ?3"
	    " WHERE id = ?1 AND attrs IS NOT json_patch(attrs, ?2)";
	static const char replace_sql[] =
	    "UPDATE contacts SET attrs = json_patch('{}', ?2), updated_at = ?3"
	    " WHERE id = ?1 AND attrs IS NOT json_patch('{}', ?2)";
	static const char insert_pg[] =
	    PG_INSERT_NEW("contacts", "email, domain, attrs, created_at, updated_at",
	                  "CAST(?1 AS TEXT), CAST(?2 AS TEXT), " PG_PATCH(
	                      "'{}'", "?3") ", CAST(?4 AS BIGINT), ?4",
	                  "email = CAST(?1 AS TEXT)");
	static const char merge_pg[] = "UPDATE contacts SET attrs = " PG_PATCH(
	    "attrs", "?2") ","
	                   " updated_at = ?3 WHERE id = ?1 AND attrs::text IS DISTINCT"
	                   " FROM " PG_PATCH("attrs", "?2") "::text";
	static const char replace_pg[] = "UPDATE contacts SET attrs = " PG_PATCH(
	    "'{}'", "?2") ","
	                  " updated_at = ?3 WHERE id = ?1 AND attrs::text IS"
	                  " DISTINCT FROM " PG_PATCH("'{}'", "?2") "::text";
	int64_t now = store_now();
	bool made;
	struct db_stmt *st = store_stmt_pg(s, insert_sql, insert_pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, a->email);
	db_bind_text(st, 2, a->domain);
	db_bind_text(st, 3, attrs ? attrs : "{}");
	db_bind_int64(st, 4, now);
	int rc = store_insert_id(s, st, "add contact", id, &made);
	if (rc < 0)
		return rc;
	if (made) {
		/* Not an erased address (the caller refused one: store.h), so no erasure's
		 * hash names it (store_suppress_link has nothing to link). */
		*created = *changed = true;
		return 0;
	}
	*created = false;
	if ((rc = store_find_contact(s, a->email, id)) < 0)
		return rc;
	if (attrs == NULL && !replace) {
		*changed = false;
		return 0;
	}
	if ((st = replace ? store_stmt_pg(s, replace_sql, replace_pg)
	                  : store_stmt_pg(s, merge_sql, merge_pg)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, *id);
	db_bind_text(st, 2, attrs ? attrs : "{}");
	db_bind_int64(st, 3, now);
	if ((rc = store_step_done(s, st, "update contact")) < 0)
		return rc;
	*changed = db_changes(store_conn(s)) > 0;
	return 0;
}

/* contact_step - run sql with those of ?1 = id, ?2 = text, ?3 = now it names; *changes: rows
 * changed */
static int
contact_step(struct store *s, const char *sql, int64_t id, const char *text, int64_t *changes)
{
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	if (sqlite3_bind_parameter_index(st, "?1"))
		sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?1"), id);
	if (sqlite3_bind_parameter_index(st, "?2"))
		sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, "?2"), text, -1,
		                  SQLITE_STATIC);
	if (sqlite3_bind_parameter_index(st, "?3"))
		sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?3"), store_now());
	int rc = store_step_done(s, st, "delete contact");
	if (rc == 0 && changes)
		*changes = sqlite3_changes(store_db(s));
	return rc;
}

int
store_contact_delete(struct store *s, int64_t id, bool erase, int64_t *messages, int64_t *cancelled)
{
	static const char claimed_sql[] =
	    "SELECT count(*) FROM messages WHERE contact_id = ?1 AND state = 'claimed'";
	static const char count_sql[] = "SELECT count(*) FROM messages WHERE contact_id = ?1";
	static const char key_sql[] = "SELECT lower(email) FROM contacts WHERE id = ?1";
	/* A queued message would wait for nobody: it ends as a campaign's cancelled one does. */
	static const char cancel_sql[] =
	    "UPDATE messages SET state = 'cancelled', done_at = ?3,"
	    " last_text = 'the contact was deleted' WHERE contact_id = ?1 AND state = 'queued'";
	static const char keep_sql[] =
	    "UPDATE messages SET email = (SELECT email FROM contacts WHERE id = ?1),"
	    " contact_id = NULL WHERE contact_id = ?1";
	/*
	 * Erasure. The rows stay (reports count them: states, opens, clicks,
	 * bounces by class), without what may name the person: replies' texts
	 * quote the address, an event's detail may hold a link or a client's
	 * address. Stage, codes, hosts and times stay: they are about servers. So does
	 * an open's machine flag (a prefetcher's open, counted apart in reports), without
	 * the agent's words.
	 */
	static const char events_sql[] =
	    "UPDATE events SET text = NULL, detail = CASE WHEN type = 'open' AND"
	    " json_valid(detail) AND json_extract(detail, '$.machine') = 1"
	    " THEN '{\"machine\":true}' END"
	    " WHERE message_id IN (SELECT id FROM messages WHERE contact_id = ?1)";
	static const char anon_sql[] = "UPDATE messages SET email = NULL, domain = NULL,"
	                               " last_text = NULL, contact_id = NULL WHERE contact_id = ?1";
	static const char supp_sql[] =
	    "DELETE FROM suppressions WHERE kind = 'address' AND value = ?2";
	static const char audit_sql[] =
	    "UPDATE api_audit SET path = '(erased)', resource = NULL WHERE"
	    " (instr(lower(path), ?2) > 0 OR instr(lower(path), replace(?2, '@', '%40')) > 0"
	    "  OR instr(lower(coalesce(resource, '')), ?2) > 0)";
	static const char hash_sql[] =
	    "INSERT INTO suppressions(kind, value, reason, source, created_at)"
	    " VALUES ('hash', ?2, 'erased', 'contacts delete --erase', ?3)"
	    " ON CONFLICT DO NOTHING";
	static const char contact_sql[] = "DELETE FROM contacts WHERE id = ?1";
	/* The report rollups: the contact's messages (and, erased, their events) taken out
	 * as they are and put back as they become (store_rollup.c). */
	static const char name_sql[] =
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE contact_id = ?1";
	sqlite3_stmt *st = store_prepare(s, claimed_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	int64_t claimed = 0;
	int rc = store_get_int64(s, st, &claimed, "read the contact's messages");
	if (rc < 0)
		return rc;
	if (claimed > 0)
		return store_errf(
		    s, STORE_E_INUSE,
		    "a message to this contact is on its way now: try again in a minute");
	if ((st = store_prepare(s, count_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = store_get_int64(s, st, messages, "count the contact's messages")) < 0)
		return rc;
	char key[256] = "", hex[65];
	if ((st = store_prepare(s, key_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		store_copy_text(key, sizeof(key), st, 0);
	sqlite3_reset(st);
	store_suppress_hash(key, hex);
	if ((rc = contact_step(s, name_sql, id, NULL, NULL)) < 0 ||
	    (rc = store_rollup_out(s)) < 0 || (erase && (rc = store_rollup_events_out(s)) < 0))
		return rc;
	if ((rc = contact_step(s, cancel_sql, id, NULL, cancelled)) < 0)
		return rc;
	if (!erase)
		rc = contact_step(s, keep_sql, id, NULL, NULL);
	else if ((rc = contact_step(s, events_sql, id, NULL, NULL)) == 0 &&
	         (rc = contact_step(s, anon_sql, id, NULL, NULL)) == 0 &&
	         (rc = contact_step(s, supp_sql, id, key, NULL)) == 0 &&
	         (rc = contact_step(s, audit_sql, id, key, NULL)) == 0)
		rc = contact_step(s, hash_sql, id, hex, NULL);
	if (rc == 0 && erase)
		rc = store_rollup_events_in(s);
	if (rc == 0)
		rc = store_rollup_in(s);
	if (rc == 0)
		rc = contact_step(s, contact_sql, id, NULL, NULL);
	return rc;
}
