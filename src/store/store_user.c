/*
 * store_user - the web console's users and sessions (tables console_users
 * and console_sessions, schema 010; see store_user.h).
 */
#include "kirim/store_user.h"
#include "kirim/store.h"
#include "store_int.h"

#include <string.h>

int
store_user_add(struct store *s, const char *name, const char *role, const char *hash, int64_t now)
{
	static const char sql[] =
	    "INSERT INTO console_users(name, role, password_hash, created_at, password_changed_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, role);
	db_bind_text(st, 3, hash);
	db_bind_int64(st, 4, now);
	int rc = store_step_done(s, st, "add user");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_EXISTS, "a user called '%s' exists already", name);
	return rc;
}

#define USER_COLS "id, name, role, password_hash, created_at, password_changed_at"

static void
user_row(struct db_stmt *st, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = db_column_int64(st, 0);
	store_copy_text(u->name, sizeof(u->name), st, 1);
	store_copy_text(u->role, sizeof(u->role), st, 2);
	store_copy_text(u->password_hash, sizeof(u->password_hash), st, 3);
	u->created_at = db_column_int64(st, 4);
	u->password_changed_at = db_column_int64(st, 5);
}

int
store_user_get(struct store *s, const char *name, struct store_user *out)
{
	static const char sql[] = "SELECT " USER_COLS " FROM console_users WHERE name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW)
		user_row(st, out);
	else if (rc == DB_DONE)
		ret = store_errf(s, STORE_E_NOTFOUND, "no user called '%s'", name);
	else
		ret = store_fail(s, "find user");
	db_reset(st);
	return ret;
}

int
store_user_each(struct store *s, store_user_cb cb, void *arg)
{
	static const char sql[] = "SELECT " USER_COLS " FROM console_users ORDER BY name";
	/* In byte order, as SQLite's BINARY collation, whatever the database's locale. */
	static const char pg[] =
	    "SELECT " USER_COLS " FROM console_users ORDER BY name COLLATE \"C\"";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_user u;
		user_row(st, &u);
		if ((ret = cb(arg, &u)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read users");
	db_reset(st);
	return ret;
}

int
store_user_delete(struct store *s, const char *name)
{
	static const char sql[] = "DELETE FROM console_users WHERE name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = store_step_done(s, st, "delete user");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_NOTFOUND, "no user called '%s'", name);
	return rc;
}

int
store_user_passwd(struct store *s, const char *name, const char *hash, int64_t now)
{
	static const char sql[] = "UPDATE console_users SET password_hash = ?2,"
	                          " password_changed_at = ?3 WHERE name = ?1 RETURNING id";
	static const char end[] = "DELETE FROM console_sessions WHERE user_id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, hash);
	db_bind_int64(st, 3, now);
	int rc = db_step(st);
	int64_t id = rc == DB_ROW ? db_column_int64(st, 0) : 0;
	int ret = 0;
	if (rc == DB_DONE)
		ret = store_errf(s, STORE_E_NOTFOUND, "no user called '%s'", name);
	else if (rc != DB_ROW)
		ret = store_fail(s, "change password");
	db_reset(st);
	if (ret < 0)
		return ret;
	if ((st = store_stmt(s, end)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	return store_step_done(s, st, "end sessions");
}

int
store_session_add(struct store *s, int64_t user_id, const unsigned char hash[32], int64_t now,
                  const char *client, int64_t *id)
{
	static const char sql[] = "INSERT INTO console_sessions(user_id, hash, created_at,"
	                          " last_seen_at, client) VALUES (?1, ?2, ?3, ?3, ?4)";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, user_id);
	db_bind_blob(st, 2, hash, 32);
	db_bind_int64(st, 3, now);
	db_bind_text(st, 4, client);
	int rc = store_step_done(s, st, "add session");
	if (rc == 0)
		rc = db_last_id(store_conn(s), id);
	return rc;
}

int
store_session_find(struct store *s, const unsigned char hash[32], struct store_session *out,
                   unsigned char stored_hash[32])
{
	static const char sql[] =
	    "SELECT x.id, x.user_id, u.name, u.role, x.created_at, x.last_seen_at, x.hash"
	    " FROM console_sessions x JOIN console_users u ON u.id = x.user_id WHERE x.hash = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_blob(st, 1, hash, 32);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW && db_column_bytes(st, 6) == 32) {
		memset(out, 0, sizeof(*out));
		out->id = db_column_int64(st, 0);
		out->user_id = db_column_int64(st, 1);
		store_copy_text(out->user, sizeof(out->user), st, 2);
		store_copy_text(out->role, sizeof(out->role), st, 3);
		out->created_at = db_column_int64(st, 4);
		out->last_seen_at = db_column_int64(st, 5);
		memcpy(stored_hash, db_column_blob(st, 6), 32);
	} else if (rc == DB_ROW || rc == DB_DONE) {
		ret = store_errf(s, STORE_E_NOTFOUND, "no such session");
	} else {
		ret = store_fail(s, "find session");
	}
	db_reset(st);
	return ret;
}

int
store_session_seen(struct store *s, int64_t id, int64_t now)
{
	static const char sql[] = "UPDATE console_sessions SET last_seen_at = ?2 WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, now);
	return store_step_done(s, st, "touch session");
}

int
store_session_delete(struct store *s, int64_t id)
{
	static const char sql[] = "DELETE FROM console_sessions WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	return store_step_done(s, st, "end session");
}

int
store_session_expire(struct store *s, int64_t idle_before, int64_t made_before)
{
	static const char sql[] =
	    "DELETE FROM console_sessions WHERE last_seen_at < ?1 OR created_at < ?2";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, idle_before);
	db_bind_int64(st, 2, made_before);
	return store_step_done(s, st, "expire sessions");
}
