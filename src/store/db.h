/*
 * db - the store's statement layer (src/store/ only): one connection and its prepared
 * statements on SQLite or on PostgreSQL (libpq), behind the calls the store's files make.
 *
 * The calls are SQLite's, renamed (db_bind_int64 is sqlite3_bind_int64, db_step is
 * sqlite3_step...), so that a store file moves onto the layer by renaming and keeps its
 * SQL. On SQLite each call is an inline test of the statement's backend and SQLite's own
 * function: the sender's hot path pays a predictable branch, nothing more. On PostgreSQL:
 *
 * - A statement is prepared once per connection on the server (a named prepared statement,
 *   "k1", "k2"...), its ?N placeholders written as $N (a bare ? is the next number, as in
 *   SQLite). The SQL is the same for both unless the caller gives PostgreSQL's own
 *   (db_prepare's pg_sql): no general translator. A parameter whose type PostgreSQL cannot
 *   infer (?1 IS NULL) is written CAST(?1 AS TEXT) in the shared SQL.
 * - Parameters go as text (copied at bind: a bound buffer may be reused at once). Bindings
 *   stay until db_clear, as in SQLite.
 * - db_step runs the statement at its first call and returns its rows one by one; the
 *   getters convert the text PostgreSQL returns (t and f are 1 and 0); a NULL is 0 or NULL.
 *   A value stays valid until the next db_step or db_reset.
 * - db_changes counts the rows the last INSERT, UPDATE or DELETE changed (PQcmdTuples);
 *   db_last_id is lastval() (an identity column's last value in this session): a statement
 *   that needs its own row's id says RETURNING id instead.
 * - An error inside a transaction aborts it (PostgreSQL's rule): the caller rolls back.
 *
 * Errors: db_step returns DB_E_BUSY (a lock or serialization conflict: try again) or
 * DB_E_SQL, with a sentence in db_errmsg. One connection per struct db; not thread-safe;
 * does not log.
 */
#ifndef KIRIM_STORE_DB_H
#define KIRIM_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

enum db_kind { DB_SQLITE, DB_PG };

/* db_step's results; errors are negative */
enum { DB_DONE = 0, DB_ROW = 1, DB_E_SQL = -1, DB_E_BUSY = -2 };

struct db_pg;
struct db_pg_stmt;

struct db {
	enum db_kind kind;
	sqlite3 *lite;    /* DB_SQLITE */
	struct db_pg *pg; /* DB_PG */
	char errbuf[512]; /* DB_PG's last error (SQLite keeps its own) */
	bool busy;        /* DB_PG: the last error was a lock or serialization conflict */
	bool closing;     /* statements finalized on the way out: none deallocated one by one */
};

struct db_stmt {
	sqlite3_stmt *lite;    /* DB_SQLITE; NULL on PostgreSQL */
	struct db_pg_stmt *pg; /* DB_PG */
	struct db *db;
};

/* db_open_sqlite - wrap an open SQLite connection (closed by db_close) */
struct db *db_open_sqlite(sqlite3 *lite);
/*
 * db_open_pg - connect to url (libpq's URI and its PG* variables; 10 s connect timeout
 * unless the URL sets one); PostgreSQL 11 or later, a UTF8 database. STORE_E_NODB when
 * there is no server, STORE_E_INVALID when it is not usable, STORE_PG_E_URL when libpq
 * does not take the URL; err says why, the password hidden.
 */
int db_open_pg(const char *url, struct db **out, char *err, size_t errsz);
struct store_pg;
/* db_store_pg - the PostgreSQL connection as store_pg.h knows it (migrations); NULL on SQLite */
struct store_pg *db_store_pg(struct db *db);
/* db_close - disconnect (SQLite: statements must be finalized first); NULL is a no-op */
void db_close(struct db *db);
/* db_errmsg - the last failure (SQLite's or libpq's) */
const char *db_errmsg(struct db *db);
/* db_busy - whether the last failure was a lock (try again later) */
bool db_busy(struct db *db);
/* db_server - "SQLite 3.46.1" or "PostgreSQL 16.4" */
void db_server(struct db *db, char *out, size_t outsz);

/*
 * db_prepare - sql (pg_sql on PostgreSQL when not NULL) prepared to run many times;
 * NULL with db_errmsg set. persistent: kept for the connection's life (SQLite's hint).
 */
struct db_stmt *db_prepare(struct db *db, const char *sql, const char *pg_sql, bool persistent);
/* db_finalize - free st (NULL: no-op); on PostgreSQL the server's statement is deallocated */
void db_finalize(struct db_stmt *st);
/* db_exec - one statement or several, no parameters, no rows wanted; 0 or DB_E_* */
int db_exec(struct db *db, const char *sql);
/* db_changes - rows the last INSERT, UPDATE or DELETE changed */
int64_t db_changes(struct db *db);
/* db_last_id - the last id an insert made on this connection; 0 or DB_E_* */
int db_last_id(struct db *db, int64_t *id);
/* db_in_transaction - whether a transaction is open (or failed and not yet rolled back) */
bool db_in_transaction(struct db *db);

struct buf;
/*
 * db_pg_sql - sql's placeholders as PostgreSQL's into out: ?N is $N, a bare ? the number
 * after the highest so far; none is touched inside a string, a quoted name or a -- comment.
 * *nparams gets the highest number. (So PostgreSQL's own SQL cannot use jsonb's ?, ?| and
 * ?& operators: jsonb_exists and its kin say the same.)
 */
void db_pg_sql(const char *sql, struct buf *out, int *nparams);

/* The PostgreSQL side of the calls below (db.c). */
void db_pg_bind(struct db_stmt *st, int i, const char *v, size_t n);
void db_pg_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_pg_bind_double(struct db_stmt *st, int i, double v);
void db_pg_bind_blob(struct db_stmt *st, int i, const void *v, size_t n);
void db_pg_clear(struct db_stmt *st);
int db_pg_step(struct db_stmt *st);
void db_pg_reset(struct db_stmt *st);
const char *db_pg_text(struct db_stmt *st, int col);
int db_pg_bytes(struct db_stmt *st, int col);
const void *db_pg_blob(struct db_stmt *st, int col);
int64_t db_pg_int64(struct db_stmt *st, int col);
double db_pg_double(struct db_stmt *st, int col);

/* db_bind_* - parameter i (from 1); text is copied on PostgreSQL, SQLITE_STATIC on SQLite
 * (valid until the statement is reset or bound again) */
static inline void
db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	if (st->lite)
		sqlite3_bind_int64(st->lite, i, v);
	else
		db_pg_bind_int64(st, i, v);
}

static inline void
db_bind_int(struct db_stmt *st, int i, int v)
{
	db_bind_int64(st, i, v);
}

static inline void
db_bind_double(struct db_stmt *st, int i, double v)
{
	if (st->lite)
		sqlite3_bind_double(st->lite, i, v);
	else
		db_pg_bind_double(st, i, v);
}

static inline void
db_bind_textn(struct db_stmt *st, int i, const char *v, int n)
{
	if (st->lite)
		sqlite3_bind_text(st->lite, i, v, n, SQLITE_STATIC);
	else
		db_pg_bind(st, i, v, n < 0 ? strlen(v) : (size_t)n);
}

static inline void
db_bind_text(struct db_stmt *st, int i, const char *v)
{
	db_bind_textn(st, i, v, -1);
}

static inline void
db_bind_blob(struct db_stmt *st, int i, const void *v, int n)
{
	if (st->lite)
		sqlite3_bind_blob(st->lite, i, v, n, SQLITE_STATIC);
	else
		db_pg_bind_blob(st, i, v, (size_t)n);
}

static inline void
db_bind_null(struct db_stmt *st, int i)
{
	if (st->lite)
		sqlite3_bind_null(st->lite, i);
	else
		db_pg_bind(st, i, NULL, 0);
}

/* db_clear - every parameter back to NULL */
static inline void
db_clear(struct db_stmt *st)
{
	if (st->lite)
		sqlite3_clear_bindings(st->lite);
	else
		db_pg_clear(st);
}

/* db_step - DB_ROW (a row to read), DB_DONE, or DB_E_BUSY / DB_E_SQL (db_errmsg) */
static inline int
db_step(struct db_stmt *st)
{
	if (st->lite) {
		int rc = sqlite3_step(st->lite);
		if (rc == SQLITE_ROW)
			return DB_ROW;
		if (rc == SQLITE_DONE)
			return DB_DONE;
		return (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? DB_E_BUSY : DB_E_SQL;
	}
	return db_pg_step(st);
}

/* db_reset - ready to run again (its bindings kept) */
static inline void
db_reset(struct db_stmt *st)
{
	if (st->lite)
		sqlite3_reset(st->lite);
	else
		db_pg_reset(st);
}

/* db_column_* - column col (from 0) of the current row */
static inline int64_t
db_column_int64(struct db_stmt *st, int col)
{
	return st->lite ? sqlite3_column_int64(st->lite, col) : db_pg_int64(st, col);
}

static inline int
db_column_int(struct db_stmt *st, int col)
{
	return (int)db_column_int64(st, col);
}

static inline double
db_column_double(struct db_stmt *st, int col)
{
	return st->lite ? sqlite3_column_double(st->lite, col) : db_pg_double(st, col);
}

/* db_column_text - NULL for NULL */
static inline const char *
db_column_text(struct db_stmt *st, int col)
{
	return st->lite ? (const char *)sqlite3_column_text(st->lite, col) : db_pg_text(st, col);
}

static inline bool
db_column_null(struct db_stmt *st, int col)
{
	return st->lite ? sqlite3_column_type(st->lite, col) == SQLITE_NULL
	                : db_pg_text(st, col) == NULL;
}

/* db_column_bytes - the length of column col's text or blob (call after the getter) */
static inline int
db_column_bytes(struct db_stmt *st, int col)
{
	return st->lite ? sqlite3_column_bytes(st->lite, col) : db_pg_bytes(st, col);
}

static inline const void *
db_column_blob(struct db_stmt *st, int col)
{
	return st->lite ? sqlite3_column_blob(st->lite, col) : db_pg_blob(st, col);
}

#endif
