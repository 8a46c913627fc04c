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
suppress_walk(struct store *s, struct db_stmt *st, store_suppression_cb cb, void *arg)
{
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_suppression sup;
		sup.id = db_column_int64(st, 0);
		store_copy_text(sup.kind, sizeof(sup.kind), st, 1);
		store_copy_text(sup.value, sizeof(sup.value), st, 2);
		store_copy_text(sup.reason, sizeof(sup.reason), st, 3);
		store_copy_text(sup.source, sizeof(sup.source), st, 4);
		sup.created_at = db_column_int64(st, 5);
		if ((ret = cb(arg, &sup)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read suppressions");
	db_reset(st);
	return ret;
}

int
store_suppress_add(struct store *s, const char *kind, const char *value, const char *reason,
                   const char *source)
{
	static const char sql[] =
	    "INSERT INTO suppressions(kind, value, reason, source, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, value);
	db_bind_text(st, 3, reason);
	store_bind_opt_text(st, 4, source);
	db_bind_int64(st, 5, store_now());
	int rc = store_step_done(s, st, "add suppression");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return STORE_E_EXISTS;
	return rc;
}

int
store_suppress_remove(struct store *s, const char *kind, const char *value)
{
	static const char sql[] = "DELETE FROM suppressions WHERE kind = ?1 AND value = ?2";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, value);
	int rc = store_step_done(s, st, "remove suppression");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
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
	struct db_stmt *st = store_stmt(s, reason ? reason_sql : all_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* LIMIT -1 is SQLite's only */
	if (reason)
		db_bind_text(st, 2, reason);
	return suppress_walk(s, st, cb, arg);
}

int
store_suppress_count(struct store *s, int64_t *count)
{
	static const char sql[] = "SELECT count(*) FROM suppressions";
	struct db_stmt *st = store_stmt(s, sql);
	return st ? store_get_int64(s, st, count, "count suppressions") : STORE_E_SQL;
}

int
store_suppressed(struct store *s, const char *key, const char *domain, char reason[16])
{
	static const char sql[] =
	    "SELECT reason FROM suppressions WHERE value IN (?1, ?2) ORDER BY kind LIMIT 1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, domain);
	int rc = db_step(st);
	reason[0] = '\0';
	if (rc == DB_ROW)
		store_copy_text(reason, 16, st, 0);
	db_reset(st);
	return (rc == DB_ROW || rc == DB_DONE) ? 0 : store_fail(s, "check suppression");
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
	struct db_stmt *st = store_stmt(s, reason ? reason_sql : all_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, before > 0 ? before : INT64_MAX);
	db_bind_int(st, 2, limit);
	if (reason)
		db_bind_text(st, 3, reason);
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
	struct db_stmt *st = store_stmt(s, key_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, contact_id);
	char key[512] = "", hex[65];
	int rc = db_step(st);
	if (rc == DB_ROW)
		store_copy_text(key, sizeof(key), st, 0);
	db_reset(st);
	if (rc != DB_ROW)
		return rc == DB_DONE ? 0 : store_fail(s, "read a new contact's address");
	store_suppress_hash(key, hex);
	if ((st = store_stmt(s, link_sql)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, contact_id);
	db_bind_text(st, 2, hex);
	return store_step_done(s, st, "link an erased address to its new contact");
}

int
store_erased(struct store *s, const char *key, bool *erased)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM suppressions"
	                          " WHERE value = ?1 AND kind = 'hash')";
	char hex[65];
	store_suppress_hash(key, hex);
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, hex);
	int64_t v = 0;
	int rc = store_get_int64(s, st, &v, "check erased addresses");
	if (rc == 0)
		*erased = v != 0;
	return rc;
}
