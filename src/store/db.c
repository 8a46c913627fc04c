/* db - the store's statement layer on SQLite and on PostgreSQL (see db.h). */
#include "db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/store_pg.h"
#include "kirim/xmalloc.h"

/* bytea's type (pg_type.h, a server header libpq's clients do not get) */
#define BYTEAOID 17

struct db_pg {
	struct store_pg *p; /* the connection kirim migrate opens too (store_pg.c) */
	PGconn *conn;
	unsigned next;   /* the next statement's name: k<next> */
	int64_t changes; /* rows the last INSERT, UPDATE or DELETE changed */
};

/* One parameter's text: NULL for SQL NULL. */
struct db_pg_param {
	char *v;
	size_t cap;
	bool set;
};

struct db_pg_stmt {
	char name[16];
	int nparams;
	struct db_pg_param *param;
	const char **values;
	int *lengths;
	int *formats;
	PGresult *res; /* the statement's result while it is being stepped */
	int row, nrows;
	unsigned char *blob; /* db_pg_blob's last value, decoded (column blob_col) */
	size_t blob_len;
	int blob_col;
};

struct db *
db_open_sqlite(sqlite3 *lite)
{
	struct db *db = xcalloc(1, sizeof(*db));
	db->kind = DB_SQLITE;
	db->lite = lite;
	return db;
}

int
db_open_pg(const char *url, struct db **out, char *err, size_t errsz)
{
	struct store_pg *p;
	int rc = store_pg_open(url, &p, err, errsz);
	if (rc < 0)
		return rc;
	struct db *db = xcalloc(1, sizeof(*db));
	db->kind = DB_PG;
	db->pg = xcalloc(1, sizeof(*db->pg));
	db->pg->p = p;
	db->pg->conn = (PGconn *)store_pg_conn(p);
	db->pg->next = 1;
	*out = db;
	return 0;
}

struct store_pg *
db_store_pg(struct db *db)
{
	return db->kind == DB_PG ? db->pg->p : NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->kind == DB_SQLITE) {
		sqlite3_close(db->lite);
	} else {
		store_pg_close(db->pg->p);
		free(db->pg);
	}
	free(db);
}

const char *
db_errmsg(struct db *db)
{
	return db->kind == DB_SQLITE ? sqlite3_errmsg(db->lite) : db->errbuf;
}

bool
db_busy(struct db *db)
{
	if (db->kind == DB_SQLITE) {
		int code = sqlite3_errcode(db->lite);
		return code == SQLITE_BUSY || code == SQLITE_LOCKED;
	}
	return db->busy;
}

void
db_server(struct db *db, char *out, size_t outsz)
{
	if (db->kind == DB_SQLITE)
		snprintf(out, outsz, "SQLite %s", sqlite3_libversion());
	else
		snprintf(out, outsz, "%s", store_pg_server(db->pg->p));
}

/*
 * pg_fail - res's error into db->errbuf (its primary message and detail), and whether it
 * is a conflict worth trying again: serialization failure, deadlock, lock not available
 */
static int
pg_fail(struct db *db, PGresult *res)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(db->errbuf, sizeof(db->errbuf), "%s%s%s%s",
	         primary ? primary : PQerrorMessage(db->pg->conn), detail ? " (" : "",
	         detail ? detail : "", detail ? ")" : "");
	size_t n = strlen(db->errbuf);
	while (n > 0 && (db->errbuf[n - 1] == '\n' || db->errbuf[n - 1] == ' '))
		db->errbuf[--n] = '\0';
	db->busy = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	                     strcmp(state, "55P03") == 0);
	return db->busy ? DB_E_BUSY : DB_E_SQL;
}

void
db_pg_sql(const char *sql, struct buf *out, int *nparams)
{
	int max = 0;
	for (const char *c = sql; *c;) {
		if (*c == '\'' || *c == '"') {
			const char *end = strchr(c + 1, *c);
			end = end ? end + 1 : c + strlen(c);
			buf_add(out, c, (size_t)(end - c));
			c = end;
		} else if (c[0] == '-' && c[1] == '-') {
			size_t n = strcspn(c, "\n");
			buf_add(out, c, n);
			c += n;
		} else if (*c == '?') {
			c++;
			int n = 0;
			if (*c >= '0' && *c <= '9') {
				while (*c >= '0' && *c <= '9')
					n = n * 10 + (*c++ - '0');
			} else {
				n = max + 1;
			}
			if (n > max)
				max = n;
			buf_printf(out, "$%d", n);
		} else {
			buf_addc(out, *c++);
		}
	}
	*nparams = max;
}

struct db_stmt *
db_prepare(struct db *db, const char *sql, const char *pg_sql_text, bool persistent)
{
	struct db_stmt *st = xcalloc(1, sizeof(*st));
	st->db = db;
	if (db->kind == DB_SQLITE) {
		if (sqlite3_prepare_v3(db->lite, sql, -1,
		                       persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->lite,
		                       NULL) != SQLITE_OK) {
			free(st);
			return NULL;
		}
		return st;
	}
	struct db_pg_stmt *p = xcalloc(1, sizeof(*p));
	struct buf text = BUF_INIT;
	db_pg_sql(pg_sql_text ? pg_sql_text : sql, &text, &p->nparams);
	snprintf(p->name, sizeof(p->name), "k%u", db->pg->next++);
	PGresult *res = PQprepare(db->pg->conn, p->name, text.data, 0, NULL);
	buf_free(&text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_fail(db, res);
		PQclear(res);
		free(p);
		free(st);
		return NULL;
	}
	PQclear(res);
	int n = p->nparams ? p->nparams : 1;
	p->param = xcalloc((size_t)n, sizeof(*p->param));
	p->values = xcalloc((size_t)n, sizeof(*p->values));
	p->lengths = xcalloc((size_t)n, sizeof(*p->lengths));
	p->formats = xcalloc((size_t)n, sizeof(*p->formats));
	st->pg = p;
	return st;
}

void
db_finalize(struct db_stmt *st)
{
	if (st == NULL)
		return;
	if (st->lite) {
		sqlite3_finalize(st->lite);
	} else {
		struct db_pg_stmt *p = st->pg;
		PQclear(p->res);
		/* A connection that is closing drops its statements with it: only a statement
		 * freed before is deallocated on the server. */
		if (!st->db->closing && PQtransactionStatus(st->db->pg->conn) != PQTRANS_INERROR) {
			char sql[48];
			snprintf(sql, sizeof(sql), "DEALLOCATE %s", p->name);
			PQclear(PQexec(st->db->pg->conn, sql));
		}
		for (int i = 0; i < p->nparams; i++)
			free(p->param[i].v);
		free(p->param);
		free(p->values);
		free(p->lengths);
		free(p->formats);
		free(p->blob);
		free(p);
	}
	free(st);
}

int
db_exec(struct db *db, const char *sql)
{
	if (db->kind == DB_SQLITE) {
		int rc = sqlite3_exec(db->lite, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		return (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? DB_E_BUSY : DB_E_SQL;
	}
	PGresult *res = PQexec(db->pg->conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? 0 : pg_fail(db, res);
	PQclear(res);
	return rc;
}

int64_t
db_changes(struct db *db)
{
	return db->kind == DB_SQLITE ? sqlite3_changes(db->lite) : db->pg->changes;
}

int
db_last_id(struct db *db, int64_t *id)
{
	if (db->kind == DB_SQLITE) {
		*id = sqlite3_last_insert_rowid(db->lite);
		return 0;
	}
	PGresult *res = PQexec(db->pg->conn, "SELECT lastval()");
	int rc = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		rc = pg_fail(db, res);
	PQclear(res);
	return rc;
}

bool
db_in_transaction(struct db *db)
{
	if (db->kind == DB_SQLITE)
		return !sqlite3_get_autocommit(db->lite);
	return PQtransactionStatus(db->pg->conn) != PQTRANS_IDLE;
}

/* param - parameter i of st (1-based), NULL when out of range (SQLite ignores those too) */
static struct db_pg_param *
param(struct db_stmt *st, int i)
{
	return i >= 1 && i <= st->pg->nparams ? &st->pg->param[i - 1] : NULL;
}

void
db_pg_bind(struct db_stmt *st, int i, const char *v, size_t n)
{
	struct db_pg_param *p = param(st, i);
	if (p == NULL)
		return;
	p->set = v != NULL;
	if (v == NULL)
		return;
	if (p->cap < n + 1) {
		p->cap = n + 1 < 32 ? 32 : n + 1;
		p->v = xrealloc(p->v, p->cap);
	}
	memcpy(p->v, v, n);
	p->v[n] = '\0';
}

void
db_pg_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%" PRId64, v);
	db_pg_bind(st, i, t, (size_t)n);
}

void
db_pg_bind_double(struct db_stmt *st, int i, double v)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%.17g", v);
	db_pg_bind(st, i, t, (size_t)n);
}

void
db_pg_bind_blob(struct db_stmt *st, int i, const void *v, size_t n)
{
	/* bytea's text form: \x and two hex digits a byte */
	static const char hex[] = "0123456789abcdef";
	struct buf b = BUF_INIT;
	buf_add(&b, "\\x", 2);
	for (size_t k = 0; k < n; k++) {
		buf_addc(&b, hex[((const unsigned char *)v)[k] >> 4]);
		buf_addc(&b, hex[((const unsigned char *)v)[k] & 15]);
	}
	db_pg_bind(st, i, b.data, b.len);
	buf_free(&b);
}

void
db_pg_clear(struct db_stmt *st)
{
	for (int i = 0; i < st->pg->nparams; i++)
		st->pg->param[i].set = false;
}

void
db_pg_reset(struct db_stmt *st)
{
	PQclear(st->pg->res);
	st->pg->res = NULL;
	free(st->pg->blob);
	st->pg->blob = NULL;
}

int
db_pg_step(struct db_stmt *st)
{
	struct db_pg_stmt *p = st->pg;
	struct db_pg *pg = st->db->pg;
	if (p->res == NULL) {
		for (int i = 0; i < p->nparams; i++)
			p->values[i] = p->param[i].set ? p->param[i].v : NULL;
		PGresult *res =
		    PQexecPrepared(pg->conn, p->name, p->nparams, p->values, NULL, NULL, 0);
		ExecStatusType s = PQresultStatus(res);
		if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
			int rc = pg_fail(st->db, res);
			PQclear(res);
			return rc;
		}
		/* SQLite's changes() counts only what INSERT, UPDATE and DELETE change. */
		const char *tag = PQcmdStatus(res);
		if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
		    strncmp(tag, "DELETE", 6) == 0)
			pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
		p->res = res;
		p->row = -1;
		p->nrows = s == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	}
	free(p->blob);
	p->blob = NULL;
	if (p->row + 1 < p->nrows) {
		p->row++;
		return DB_ROW;
	}
	p->row = p->nrows;
	return DB_DONE;
}

/* cell - column col of the current row, NULL for NULL or no row */
static const char *
cell(struct db_stmt *st, int col)
{
	struct db_pg_stmt *p = st->pg;
	if (p->res == NULL || p->row < 0 || p->row >= p->nrows || col < 0 ||
	    col >= PQnfields(p->res) || PQgetisnull(p->res, p->row, col))
		return NULL;
	return PQgetvalue(p->res, p->row, col);
}

const char *
db_pg_text(struct db_stmt *st, int col)
{
	return cell(st, col);
}

int
db_pg_bytes(struct db_stmt *st, int col)
{
	/* A bytea's length decoded (as SQLite's for a blob, asked before or after the blob); any
	 * other column's text's. */
	const char *v = cell(st, col);
	if (v == NULL)
		return 0;
	if (PQftype(st->pg->res, col) == BYTEAOID) {
		if (st->pg->blob == NULL || st->pg->blob_col != col)
			db_pg_blob(st, col);
		return (int)st->pg->blob_len;
	}
	return PQgetlength(st->pg->res, st->pg->row, col);
}

const void *
db_pg_blob(struct db_stmt *st, int col)
{
	struct db_pg_stmt *p = st->pg;
	free(p->blob);
	p->blob = NULL;
	p->blob_len = 0;
	const char *v = cell(st, col);
	if (v == NULL)
		return NULL;
	/* bytea arrives as \x hex; any other type as its text */
	if (PQftype(p->res, col) != BYTEAOID)
		return v;
	size_t n = 0;
	unsigned char *b = PQunescapeBytea((const unsigned char *)v, &n);
	p->blob = xmalloc(n + 1);
	memcpy(p->blob, b, n);
	p->blob_len = n;
	p->blob_col = col;
	PQfreemem(b);
	return p->blob;
}

int64_t
db_pg_int64(struct db_stmt *st, int col)
{
	const char *v = cell(st, col);
	if (v == NULL)
		return 0;
	/* booleans (EXISTS, comparisons) come as t and f */
	if (v[0] == 't' && v[1] == '\0')
		return 1;
	if (v[0] == 'f' && v[1] == '\0')
		return 0;
	return strtoll(v, NULL, 10);
}

double
db_pg_double(struct db_stmt *st, int col)
{
	const char *v = cell(st, col);
	return v ? strtod(v, NULL) : 0.0;
}
