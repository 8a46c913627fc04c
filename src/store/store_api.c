/*
 * store_api - the HTTP API's tokens and audit log (tables api_tokens and
 * api_audit, schema 007; see store_api.h).
 */
#include "kirim/store_api.h"
#include "kirim/store.h"
#include "store_int.h"

#include <string.h>

int
store_token_add(struct store *s, const char *name, const char *scope, const unsigned char hash[32],
                const char *prefix, int64_t now, int64_t *id)
{
	static const char sql[] = "INSERT INTO api_tokens(name, scope, hash, prefix, created_at)"
	                          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, scope);
	db_bind_blob(st, 3, hash, 32);
	db_bind_text(st, 4, prefix);
	db_bind_int64(st, 5, now);
	int rc = store_step_done(s, st, "add token");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_EXISTS, "a token called '%s' exists already", name);
	if (rc == 0)
		rc = db_last_id(store_conn(s), id);
	return rc;
}

#define TOKEN_COLS                                                                                 \
	"id, name, scope, prefix, created_at, coalesce(last_used_at, 0),"                          \
	" coalesce(last_used_from, ''), coalesce(revoked_at, 0), hash"

static void
token_row(struct db_stmt *st, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = db_column_int64(st, 0);
	store_copy_text(t->name, sizeof(t->name), st, 1);
	store_copy_text(t->scope, sizeof(t->scope), st, 2);
	store_copy_text(t->prefix, sizeof(t->prefix), st, 3);
	t->created_at = db_column_int64(st, 4);
	t->last_used_at = db_column_int64(st, 5);
	store_copy_text(t->last_used_from, sizeof(t->last_used_from), st, 6);
	t->revoked_at = db_column_int64(st, 7);
}

int
store_token_find(struct store *s, const unsigned char hash[32], struct store_token *out,
                 unsigned char stored_hash[32])
{
	static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_blob(st, 1, hash, 32);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW && db_column_bytes(st, 8) == 32) {
		token_row(st, out);
		memcpy(stored_hash, db_column_blob(st, 8), 32);
	} else if (rc == DB_ROW || rc == DB_DONE) {
		ret = store_errf(s, STORE_E_NOTFOUND, "no such token");
	} else {
		ret = store_fail(s, "find token");
	}
	db_reset(st);
	return ret;
}

int
store_token_each(struct store *s, store_token_cb cb, void *arg)
{
	static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens"
	                          " ORDER BY revoked_at IS NOT NULL, name, id";
	/* In byte order, as SQLite's BINARY collation, whatever the database's locale. */
	static const char pg[] = "SELECT " TOKEN_COLS " FROM api_tokens"
	                         " ORDER BY revoked_at IS NOT NULL, name COLLATE \"C\", id";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_token t;
		token_row(st, &t);
		if ((ret = cb(arg, &t)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read tokens");
	db_reset(st);
	return ret;
}

int
store_token_revoke(struct store *s, const char *name, int64_t now, int64_t *id)
{
	static const char sql[] = "UPDATE api_tokens SET revoked_at = ?2"
	                          " WHERE name = ?1 AND revoked_at IS NULL RETURNING id";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_int64(st, 2, now);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW)
		*id = db_column_int64(st, 0);
	else if (rc == DB_DONE)
		ret = store_errf(s, STORE_E_NOTFOUND, "no active token called '%s'", name);
	else
		ret = store_fail(s, "revoke token");
	/* RETURNING: the change is made once the statement has run to its end. */
	if (rc == DB_ROW && db_step(st) != DB_DONE)
		ret = store_fail(s, "revoke token");
	db_reset(st);
	return ret;
}

int
store_token_used(struct store *s, int64_t id, int64_t now, const char *client)
{
	static const char sql[] =
	    "UPDATE api_tokens SET last_used_at = ?2, last_used_from = ?3 WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, now);
	db_bind_text(st, 3, client);
	return store_step_done(s, st, "record a token's use");
}

int
store_audit_add(struct store *s, const struct store_audit *a)
{
	static const char sql[] =
	    "INSERT INTO api_audit(ts, token_id, token_name, method, path, resource, status,"
	    " client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, a->ts);
	if (a->token_id > 0)
		db_bind_int64(st, 2, a->token_id);
	db_bind_text(st, 3, a->token_name);
	db_bind_text(st, 4, a->method);
	db_bind_text(st, 5, a->path);
	store_bind_opt_text(st, 6, a->resource);
	db_bind_int(st, 7, a->status);
	db_bind_text(st, 8, a->client);
	return store_step_done(s, st, "write the audit log");
}

int
store_audit_each(struct store *s, int64_t since, int64_t after, int limit, store_audit_cb cb,
                 void *arg)
{
	static const char sql[] =
	    "SELECT id, ts, coalesce(token_id, 0), token_name, method, path, resource, status,"
	    " client FROM api_audit WHERE ts >= ?1 AND id > ?2 ORDER BY id LIMIT ?3";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, since);
	db_bind_int64(st, 2, after);
	db_bind_int64(st, 3, limit > 0 ? limit : INT64_MAX); /* LIMIT -1 is SQLite's only */
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_audit a = {
		    .id = db_column_int64(st, 0),
		    .ts = db_column_int64(st, 1),
		    .token_id = db_column_int64(st, 2),
		    .token_name = store_col_text(st, 3),
		    .method = store_col_text(st, 4),
		    .path = store_col_text(st, 5),
		    .resource = db_column_null(st, 6) ? NULL : store_col_text(st, 6),
		    .status = db_column_int(st, 7),
		    .client = store_col_text(st, 8),
		};
		if ((ret = cb(arg, &a)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read the audit log");
	db_reset(st);
	return ret;
}
