/*
 * store_suppress - suppressions: addresses and whole domains never to be
 * mailed, with why (table suppressions; see store.h). Bounces and serve add
 * theirs in store_bounce.c and store_serve.c; the claim checks them again
 * (store_message.c).
 */
#include "kirim/store.h"
#include "store_int.h"

#include <stdint.h>
#include <string.h>

#include "kirim/token.h"

/* Each row of st (id, kind, value, reason, source, created_at) to cb; st is reset after. */
static int
suppress_walk(struct store *s, sqlite3_stmt *st, store_suppression_cb cb, void *arg)
{
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_suppression sup;
		sup.id = sqlite3_column_int64(st, 0);
		store_copy_text(sup.kind, sizeof(sup.kind), st, 1);
		store_copy_text(sup.value, sizeof(sup.value), st, 2);
		store_copy_text(sup.reason, sizeof(sup.reason), st, 3);
		store_copy_text(sup.source, sizeof(sup.source), st, 4);
		sup.created_at = sqlite3_column_int64(st, 5);
		if ((ret = cb(arg, &sup)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read suppressions");
	sqlite3_reset(st);
	return ret;
}

int
store_suppress_add(struct store *s, const char *kind, const char *value, const char *reason,
                   const char *source)
{
	static const char sql[] =
	    "INSERT INTO suppressions(kind, value, reason, source, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	store_bind_opt_text(st, 4, source);
	sqlite3_bind_int64(st, 5, store_now());
	int rc = store_step_done(s, st, "add suppression");
	if (rc == 0 && sqlite3_changes(store_db(s)) == 0)
		return STORE_E_EXISTS;
	return rc;
}

int
store_suppress_remove(struct store *s, const char *kind, const char *value)
{
	static const char sql[] = "DELETE FROM suppressions WHERE kind = ?1 AND value = ?2";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = store_step_done(s, st, "remove suppression");
	if (rc == 0 && sqlite3_changes(store_db(s)) == 0)
		return STORE_E_NOTFOUND;
	return rc;
}

int
store_suppress_each(struct store *s, const char *reason, int limit, store_suppression_cb cb,
                    void *arg)
{
	static const char all_sql[] = "SELECT id, kind, value, reason, coalesce(source, ''),"
	                              " created_at FROM suppressions"
	                              " ORDER BY created_at DESC, id DESC LIMIT ?1";
	static const char reason_sql[] = "SELECT id, kind, value, reason, coalesce(source, ''),"
	                                 " created_at FROM suppressions WHERE reason = ?2"
	                                 " ORDER BY created_at DESC, id DESC LIMIT ?1";
	sqlite3_stmt *st = store_prepare(s, reason ? reason_sql : all_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
	if (reason)
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	return suppress_walk(s, st, cb, arg);
}

int
store_suppress_count(struct store *s, int64_t *count)
{
	static const char sql[] = "SELECT count(*) FROM suppressions";
	sqlite3_stmt *st = store_prepare(s, sql);
	return st ? store_get_int64(s, st, count, "count suppressions") : STORE_E_SQL;
}

int
store_suppressed(struct store *s, const char *key, const char *domain, char reason[16])
{
	static const char sql[] =
	    "SELECT reason FROM suppressions WHERE value IN (?1, ?2) ORDER BY kind LIMIT 1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	reason[0] = '\0';
	if (rc == SQLITE_ROW)
		store_copy_text(reason, 16, st, 0);
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : store_fail(s, "check suppression");
}

int
store_suppress_page(struct store *s, const char *reason, int64_t before, int limit,
                    store_suppression_cb cb, void *arg)
{
	/* Ids are never reused (AUTOINCREMENT, migration 005): newest first by id. */
	static const char all_sql[] = "SELECT id, kind, value, reason, coalesce(source, ''),"
	                              " created_at FROM suppressions WHERE id < ?1"
	                              " ORDER BY id DESC LIMIT ?2";
	static const char reason_sql[] = "SELECT id, kind, value, reason, coalesce(source, ''),"
	                                 " created_at FROM suppressions WHERE id < ?1"
	                                 " AND reason = ?3 ORDER BY id DESC LIMIT ?2";
	sqlite3_stmt *st = store_prepare(s, reason ? reason_sql : all_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, before > 0 ? before : INT64_MAX);
	sqlite3_bind_int(st, 2, limit);
	if (reason)
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	return suppress_walk(s, st, cb, arg);
}

void
store_suppress_hash(const char *key, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];
	token_sha256(key, strlen(key), md);
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int
store_suppress_link(struct store *s, int64_t contact_id)
{
	static const char key_sql[] = "SELECT lower(email) FROM contacts WHERE id = ?1";
	static const char link_sql[] =
	    "UPDATE suppressions SET contact_id = ?1 WHERE value = ?2 AND kind = 'hash'";
	sqlite3_stmt *st = store_prepare(s, key_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, contact_id);
	char key[512] = "", hex[65];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_copy_text(key, sizeof(key), st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : store_fail(s, "read a new contact's address");
	store_suppress_hash(key, hex);
	if ((st = store_prepare(s, link_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, contact_id);
	sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
	return store_step_done(s, st, "link an erased address to its new contact");
}

int
store_erased(struct store *s, const char *key, bool *erased)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM suppressions"
	                          " WHERE value = ?1 AND kind = 'hash')";
	char hex[65];
	store_suppress_hash(key, hex);
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	int64_t v = 0;
	int rc = store_get_int64(s, st, &v, "check erased addresses");
	if (rc == 0)
		*erased = v != 0;
	return rc;
}
