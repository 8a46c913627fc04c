/* store_pg - kirim's PostgreSQL connection through libpq (see store_pg.h). */
#include "kirim/store_pg.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "kirim/buf.h"
#include "kirim/db_url.h"
#include "kirim/hex.h"
#include "kirim/xmalloc.h"

/* COPY data goes to the server in pieces of about this size. */
#define COPY_FLUSH (256 * 1024)
/* The advisory lock key kirim migrate's transactions take ("kirimMIG"). */
#define MIGRATE_LOCK INT64_C(0x6b6972696d4d4947)

struct store_pg {
	PGconn *conn;
	struct buf copy;    /* COPY rows not yet sent */
	struct buf restore; /* what store_pg_defer dropped, as the SQL that makes it again */
	struct buf bytes[STORE_DUMP_MAX_COLS]; /* a row's bytea values decoded (store_pg_walk) */
	char server[64];
	char errbuf[1024];
};

static int pg_errf(struct store_pg *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
pg_errf(struct store_pg *p, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->errbuf, sizeof(p->errbuf), fmt, ap);
	va_end(ap);
	return code;
}

/* trimmed - libpq's message without its final line break */
static void
trimmed(char *dst, size_t dstsz, const char *msg)
{
	snprintf(dst, dstsz, "%s", msg ? msg : "");
	size_t n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = '\0';
}

/* pg_fail - record res's error (message, detail, where) for what; STORE_E_SQL */
static int
pg_fail(struct store_pg *p, PGresult *res, const char *what)
{
	char msg[512], where[256] = "";
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	trimmed(msg, sizeof(msg), primary ? primary : PQerrorMessage(p->conn));
	/* The context says where, innermost first: "JSON data, line 1: ...", then "COPY
	 * contacts, line 3, column attrs: ...". Its lines are joined into one. */
	if (context) {
		snprintf(where, sizeof(where), " [%s", context);
		for (char *c = where; *c; c++)
			if (*c == '\n')
				*c = ';';
		size_t n = strlen(where);
		while (n > 2 && where[n - 1] == ';')
			where[--n] = '\0';
		if (n + 1 < sizeof(where))
			strcat(where, "]");
	}
	return pg_errf(p, STORE_E_SQL, "%s: %s%s%s%s%s", what, msg, detail ? " (" : "",
	               detail ? detail : "", detail ? ")" : "", where);
}

/* run - one statement or several (no parameters, no rows wanted) */
static int
run(struct store_pg *p, const char *sql, const char *what)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : pg_fail(p, res, what);
	PQclear(res);
	return rc;
}

/* query - sql with text parameters, for rows; NULL with the error recorded */
static PGresult *
query(struct store_pg *p, const char *sql, int nparams, const char *const *params, const char *what)
{
	PGresult *res = PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(p, res, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
store_pg_open(const char *url, struct store_pg **out, char *err, size_t errsz)
{
	char shown[512];
	db_url_redact(url, shown, sizeof(shown));
	if (db_url_kind(url) != DB_URL_POSTGRES) {
		snprintf(err, errsz, "%s is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)",
		         shown);
		return STORE_PG_E_URL;
	}
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (opts == NULL) {
		char msg[256];
		trimmed(msg, sizeof(msg), perr ? perr : "out of memory");
		snprintf(err, errsz, "%s is not a URL libpq takes: %s", shown, msg);
		PQfreemem(perr);
		return STORE_PG_E_URL;
	}
	PQconninfoFree(opts);
	/* The URL's own values win over the ones before it (expand_dbname). */
	static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
	                                   NULL};
	const char *vals[] = {"10", "kirim", url, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[512];
		trimmed(msg, sizeof(msg), PQerrorMessage(conn));
		snprintf(err, errsz, "cannot connect to %s: %s", shown, msg);
		PQfinish(conn);
		return STORE_E_NODB;
	}
	int ver = PQserverVersion(conn);
	const char *enc = PQparameterStatus(conn, "server_encoding");
	if (ver < 110000) {
		snprintf(err, errsz, "%s is PostgreSQL %d.%d: kirim needs 11 or later", shown,
		         ver / 10000, ver % 10000 / 100);
		PQfinish(conn);
		return STORE_E_INVALID;
	}
	if (enc == NULL || strcmp(enc, "UTF8") != 0) {
		snprintf(err, errsz,
		         "%s has the encoding %s: kirim keeps UTF-8 text (create the database with "
		         "ENCODING 'UTF8')",
		         shown, enc ? enc : "(unknown)");
		PQfinish(conn);
		return STORE_E_INVALID;
	}
	struct store_pg *p = xcalloc(1, sizeof(*p));
	p->conn = conn;
	snprintf(p->server, sizeof(p->server), "PostgreSQL %d.%d", ver / 10000, ver % 10000);
	/* Reals read back exactly (the default since 12), text sent and read as UTF-8. */
	if (PQsetClientEncoding(conn, "UTF8") != 0 ||
	    run(p, "SET extra_float_digits = 3", "setting up the session") != 0) {
		snprintf(err, errsz, "%s: %s", shown, p->errbuf);
		store_pg_close(p);
		return STORE_E_SQL;
	}
	*out = p;
	return 0;
}

void
store_pg_close(struct store_pg *p)
{
	if (p == NULL)
		return;
	PQfinish(p->conn);
	buf_free(&p->copy);
	buf_free(&p->restore);
	for (int i = 0; i < STORE_DUMP_MAX_COLS; i++)
		buf_free(&p->bytes[i]);
	free(p);
}

const char *
store_pg_errmsg(const struct store_pg *p)
{
	return p->errbuf;
}

const char *
store_pg_server(const struct store_pg *p)
{
	return p->server;
}

int
store_pg_begin(struct store_pg *p, bool snapshot)
{
	/* The lock's wait must come before any snapshot: after it, READ COMMITTED's next
	 * statement sees what a first run committed meanwhile. */
	char sql[128];
	if (snapshot)
		snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	else
		snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%" PRId64 ")",
		         MIGRATE_LOCK);
	return run(p, sql, "starting the transaction");
}

int
store_pg_commit(struct store_pg *p)
{
	return run(p, "COMMIT", "committing");
}

int
store_pg_rollback(struct store_pg *p)
{
	if (PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return 0;
	return run(p, "ROLLBACK", "rolling back");
}

int
store_pg_version(struct store_pg *p, int *version, int *others, char *what, size_t whatsz)
{
	static const char rels[] =
	    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
	    "ORDER BY c.relname";
	PGresult *res = query(p, "SELECT current_schema()", 0, NULL, "reading the schema");
	if (res == NULL)
		return STORE_E_SQL;
	bool none = PQgetisnull(res, 0, 0);
	PQclear(res);
	if (none)
		return pg_errf(p, STORE_E_INVALID,
		               "the database has no schema to create tables in (search_path names "
		               "none that exists)");
	if ((res = query(p, rels, 0, NULL, "listing the database's tables")) == NULL)
		return STORE_E_SQL;
	bool kirim = false;
	int k = 0;
	struct buf names = BUF_INIT;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		if (strcmp(name, "kirim_migrations") == 0) {
			kirim = true;
			continue;
		}
		if (k < 5)
			buf_printf(&names, "%s%s", k ? ", " : "", name);
		k++;
	}
	if (k > 5)
		buf_printf(&names, " and %d more", k - 5);
	PQclear(res);
	snprintf(what, whatsz, "%s", names.len ? names.data : "");
	buf_free(&names);
	*others = k;
	*version = 0;
	if (!kirim)
		return 0;
	if ((res = query(p, "SELECT coalesce(max(version), 0) FROM kirim_migrations", 0, NULL,
	                 "reading kirim_migrations")) == NULL)
		return STORE_E_SQL;
	*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

struct pg_conn *
store_pg_conn(struct store_pg *p)
{
	return p->conn;
}

int
store_pg_apply(struct store_pg *p, int from, int *version)
{
	int rc = from > 0 ? 0
	                  : run(p,
	                        "CREATE TABLE kirim_migrations (version integer PRIMARY KEY, "
	                        "name text NOT NULL, applied_at bigint NOT NULL)",
	                        "creating kirim_migrations");
	for (int i = 0; rc == 0 && i < store_pg_migrations_count; i++) {
		const struct store_migration *m = &store_pg_migrations[i];
		if (m->version <= from)
			continue;
		char what[128], v[16];
		snprintf(what, sizeof(what), "applying schema/pg/%s", m->name);
		snprintf(v, sizeof(v), "%d", m->version);
		if ((rc = run(p, m->sql, what)) != 0)
			break;
		const char *params[] = {v, m->name};
		PGresult *res = PQexecParams(p->conn,
		                             "INSERT INTO kirim_migrations VALUES ($1, $2, "
		                             "extract(epoch FROM now())::bigint)",
		                             2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_fail(p, res, what);
		PQclear(res);
		*version = m->version;
	}
	return rc;
}

/* kind_of - a column's kind from its type's name; -1 for a type kirim does not copy */
static int
kind_of(const char *type)
{
	static const struct {
		const char *type;
		enum store_dump_kind kind;
	} kinds[] = {
	    {"int8", STORE_DUMP_K_INT},    {"int4", STORE_DUMP_K_INT},
	    {"int2", STORE_DUMP_K_INT},    {"float8", STORE_DUMP_K_REAL},
	    {"float4", STORE_DUMP_K_REAL}, {"text", STORE_DUMP_K_TEXT},
	    {"citext", STORE_DUMP_K_TEXT}, {"json", STORE_DUMP_K_TEXT},
	    {"jsonb", STORE_DUMP_K_TEXT},  {"varchar", STORE_DUMP_K_TEXT},
	    {"bytea", STORE_DUMP_K_BYTES},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].type) == 0)
			return (int)kinds[i].kind;
	return -1;
}

static int
find_table(const struct store_dump_table *t, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return i;
	return -1;
}

int
store_pg_tables(struct store_pg *p, struct store_dump_table *out, int cap, int *n)
{
	static const char cols[] =
	    "SELECT c.relname, a.attname, t.typname, a.attidentity <> '', "
	    /* int2vector's subscripts start at 0: the key's first column is 1 here */
	    "coalesce(array_position(i.indkey::int2[], a.attnum) + 1, 0) "
	    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	    "JOIN pg_type t ON t.oid = a.atttypid "
	    "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
	    "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
	    "AND c.relname <> 'kirim_migrations' ORDER BY c.relname, a.attnum";
	static const char fks[] =
	    "SELECT c.relname, r.relname FROM pg_constraint k "
	    "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE k.contype = 'f' AND n.nspname = current_schema() AND k.conrelid <> k.confrelid";
	PGresult *res = query(p, cols, 0, NULL, "reading the tables' columns");
	if (res == NULL)
		return STORE_E_SQL;
	/* By name first: the order the foreign keys then decide among. */
	int k = 0, rc = 0;
	struct store_dump_table *byname = xcalloc((size_t)cap, sizeof(*byname));
	for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
		const char *table = PQgetvalue(res, r, 0), *col = PQgetvalue(res, r, 1);
		const char *type = PQgetvalue(res, r, 2);
		if (k == 0 || strcmp(byname[k - 1].name, table) != 0) {
			if (k == cap) {
				rc = pg_errf(p, STORE_E_INVALID, "more than %d tables", cap);
				break;
			}
			snprintf(byname[k++].name, sizeof(byname[0].name), "%s", table);
		}
		struct store_dump_table *t = &byname[k - 1];
		int kind = kind_of(type);
		if (kind < 0) {
			rc = pg_errf(p, STORE_E_INVALID,
			             "%s.%s is of type %s, which kirim does not copy", table, col,
			             type);
			break;
		}
		if (t->ncols == STORE_DUMP_MAX_COLS) {
			rc = pg_errf(p, STORE_E_INVALID, "%s has too many columns", table);
			break;
		}
		struct store_dump_column *c = &t->cols[t->ncols];
		snprintf(c->name, sizeof(c->name), "%s", col);
		c->kind = (enum store_dump_kind)kind;
		c->identity = PQgetvalue(res, r, 3)[0] == 't';
		int pos = atoi(PQgetvalue(res, r, 4));
		if (pos > 0 && pos <= STORE_DUMP_MAX_PK) {
			t->pk[pos - 1] = t->ncols;
			if (pos > t->npk)
				t->npk = pos;
		}
		t->ncols++;
	}
	PQclear(res);
	if (rc == 0 && (res = query(p, fks, 0, NULL, "reading the foreign keys")) == NULL)
		rc = STORE_E_SQL;
	if (rc) {
		free(byname);
		return rc;
	}
	/* Kahn's order: a table goes when every table it names has gone; ties by name. */
	bool *done = xcalloc((size_t)k + 1, sizeof(bool));
	int m = 0;
	while (m < k) {
		int pick = -1;
		for (int i = 0; i < k && pick < 0; i++) {
			if (done[i])
				continue;
			bool ready = true;
			for (int r = 0; r < PQntuples(res) && ready; r++) {
				int parent = find_table(byname, k, PQgetvalue(res, r, 1));
				if (strcmp(PQgetvalue(res, r, 0), byname[i].name) == 0 &&
				    parent >= 0 && !done[parent])
					ready = false;
			}
			if (ready)
				pick = i;
		}
		if (pick < 0) {
			rc = pg_errf(p, STORE_E_INVALID, "the tables' foreign keys make a cycle");
			break;
		}
		done[pick] = true;
		out[m++] = byname[pick];
	}
	PQclear(res);
	free(done);
	free(byname);
	if (rc == 0)
		*n = m;
	return rc;
}

int
store_pg_defer(struct store_pg *p)
{
	/*
	 * Foreign keys, primary and unique keys, and the indexes no constraint uses, with the SQL
	 * that makes each again from the catalog. Dropped in that order (a foreign key needs
	 * the key it names), made again keys first, then foreign keys, then indexes.
	 */
	static const char sql[] =
	    "SELECT format('ALTER TABLE %I DROP CONSTRAINT %I', c.relname, k.conname), "
	    "       format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.relname, k.conname, "
	    "              pg_get_constraintdef(k.oid)), "
	    "       CASE k.contype WHEN 'f' THEN 1 ELSE 2 END, "
	    "       CASE k.contype WHEN 'f' THEN 2 ELSE 1 END "
	    "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
	    "WHERE k.contype IN ('f', 'p', 'u') "
	    "AND c.relnamespace = current_schema()::regnamespace "
	    "AND c.relname <> 'kirim_migrations' "
	    "UNION ALL "
	    "SELECT format('DROP INDEX %I', i.relname), pg_get_indexdef(i.oid), 3, 3 "
	    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
	    "WHERE i.relnamespace = current_schema()::regnamespace "
	    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) "
	    "ORDER BY 3, 1";
	PGresult *res = query(p, sql, 0, NULL, "reading the keys and indexes");
	if (res == NULL)
		return STORE_E_SQL;
	struct buf drop = BUF_INIT;
	p->restore.len = 0;
	for (int i = 0; i < PQntuples(res); i++)
		buf_printf(&drop, "%s;\n", PQgetvalue(res, i, 0));
	for (int rank = 1; rank <= 3; rank++)
		for (int i = 0; i < PQntuples(res); i++)
			if (atoi(PQgetvalue(res, i, 3)) == rank)
				buf_printf(&p->restore, "%s;\n", PQgetvalue(res, i, 1));
	PQclear(res);
	int rc = drop.len ? run(p, drop.data, "setting the keys and indexes aside") : 0;
	buf_free(&drop);
	return rc;
}

int
store_pg_restore(struct store_pg *p)
{
	if (p->restore.len == 0)
		return 0;
	int rc = run(p, p->restore.data, "making the keys and indexes again");
	p->restore.len = 0;
	return rc;
}

int
store_pg_triggers(struct store_pg *p, const char *table, bool on)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "ALTER TABLE ");
	store_dump_ident(&sql, table);
	buf_adds(&sql, on ? " ENABLE TRIGGER USER" : " DISABLE TRIGGER USER");
	int rc = run(p, sql.data, on ? "turning triggers on" : "turning triggers off");
	buf_free(&sql);
	return rc;
}

int
store_pg_copy_begin(struct store_pg *p, const struct store_dump_table *t)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "COPY ");
	store_dump_ident(&sql, t->name);
	buf_adds(&sql, " (");
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			buf_adds(&sql, ", ");
		store_dump_ident(&sql, t->cols[i].name);
	}
	buf_adds(&sql, ") FROM STDIN");
	PGresult *res = PQexec(p->conn, sql.data);
	buf_free(&sql);
	int rc = PQresultStatus(res) == PGRES_COPY_IN ? 0 : pg_fail(p, res, "starting COPY");
	PQclear(res);
	p->copy.len = 0;
	return rc;
}

static int
copy_flush(struct store_pg *p)
{
	if (p->copy.len == 0)
		return 0;
	if (PQputCopyData(p->conn, p->copy.data, (int)p->copy.len) != 1)
		return pg_fail(p, NULL, "sending COPY data");
	p->copy.len = 0;
	return 0;
}

/* The COPY text format: backslash, tab, line feed and carriage return escaped. */
static void
copy_text(struct buf *b, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		switch (s[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		buf_add(b, s + from, i - from);
		buf_adds(b, esc);
		from = i + 1;
	}
	buf_add(b, s + from, n - from);
}

int
store_pg_copy_row(struct store_pg *p, const struct store_dump_val *vals, int ncols)
{
	static const char digits[] = "0123456789abcdef";
	struct buf *b = &p->copy;
	for (int i = 0; i < ncols; i++) {
		const struct store_dump_val *v = &vals[i];
		if (i)
			buf_addc(b, '\t');
		switch (v->type) {
		case STORE_DUMP_NULL:
			buf_adds(b, "\\N");
			break;
		case STORE_DUMP_INT:
			buf_printf(b, "%" PRId64, v->i);
			break;
		case STORE_DUMP_REAL:
			if (isinf(v->r))
				buf_adds(b, v->r > 0 ? "Infinity" : "-Infinity");
			else if (isnan(v->r))
				buf_adds(b, "NaN");
			else
				buf_printf(b, "%.17g", v->r);
			break;
		case STORE_DUMP_TEXT:
			copy_text(b, v->p, v->n);
			break;
		case STORE_DUMP_BLOB:
			/* bytea's hex form, its backslash escaped for COPY. */
			buf_reserve(b, 3 + 2 * v->n);
			buf_adds(b, "\\\\x");
			for (size_t k = 0; k < v->n; k++) {
				unsigned char c = (unsigned char)v->p[k];
				b->data[b->len++] = digits[c >> 4];
				b->data[b->len++] = digits[c & 15];
			}
			b->data[b->len] = '\0';
			break;
		}
	}
	buf_addc(b, '\n');
	return b->len >= COPY_FLUSH ? copy_flush(p) : 0;
}

int
store_pg_copy_end(struct store_pg *p)
{
	int rc = copy_flush(p);
	if (PQputCopyEnd(p->conn, rc ? "kirim stopped the copy" : NULL) != 1 && rc == 0)
		rc = pg_fail(p, NULL, "ending COPY");
	PGresult *res;
	while ((res = PQgetResult(p->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = pg_fail(p, res, "COPY");
		PQclear(res);
	}
	return rc;
}

int
store_pg_sequence(struct store_pg *p, const struct store_dump_table *t, int64_t floor)
{
	const char *col = NULL;
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].identity)
			col = t->cols[i].name;
	if (col == NULL)
		return 0;
	/* v: the highest id given; setval(seq, v, true) makes v + 1 the next, and with no id
	 * yet setval(seq, 1, false) makes it 1. */
	struct buf sql = BUF_INIT, ident = BUF_INIT;
	store_dump_ident(&ident, t->name);
	buf_adds(&sql, "SELECT setval(pg_get_serial_sequence($1, $2), greatest(v, 1), v > 0) "
	               "FROM (SELECT greatest(coalesce(max(");
	store_dump_ident(&sql, col);
	buf_printf(&sql, "), 0), %" PRId64 ") AS v FROM %s) m", floor, ident.data);
	const char *params[] = {ident.data, col};
	PGresult *res = query(p, sql.data, 2, params, "moving the identity sequence");
	buf_free(&sql);
	buf_free(&ident);
	if (res == NULL)
		return STORE_E_SQL;
	PQclear(res);
	return 0;
}

/* bytea_decode - bytea's text output ("\x0a1b...") into b; -1 if not in that form */
static int
bytea_decode(struct buf *b, const char *s, size_t n)
{
	b->len = 0;
	if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2 != 0)
		return -1;
	buf_reserve(b, n / 2);
	for (size_t i = 2; i < n; i += 2) {
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b->data[b->len++] = (char)(hi << 4 | lo);
	}
	return 0;
}

int
store_pg_walk(struct store_pg *p, const struct store_dump_table *t, store_dump_row_cb cb, void *arg)
{
	struct buf sql = BUF_INIT;
	/* Byte order for text (citext's own order folds case), as SQLite's BINARY. */
	store_dump_select(&sql, t, "::text COLLATE \"C\"");
	int ok = PQsendQuery(p->conn, sql.data) && PQsetSingleRowMode(p->conn);
	buf_free(&sql);
	if (!ok)
		return pg_fail(p, NULL, "reading rows");
	struct store_dump_val vals[STORE_DUMP_MAX_COLS];
	PGresult *res;
	int rc = 0;
	while ((res = PQgetResult(p->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && rc == 0) {
			for (int i = 0; rc == 0 && i < t->ncols; i++) {
				struct store_dump_val *v = &vals[i];
				memset(v, 0, sizeof(*v));
				if (PQgetisnull(res, 0, i))
					continue;
				const char *s = PQgetvalue(res, 0, i);
				size_t n = (size_t)PQgetlength(res, 0, i);
				switch (t->cols[i].kind) {
				case STORE_DUMP_K_INT:
					v->type = STORE_DUMP_INT;
					v->i = strtoll(s, NULL, 10);
					break;
				case STORE_DUMP_K_REAL:
					v->type = STORE_DUMP_REAL;
					v->r = strtod(s, NULL);
					break;
				case STORE_DUMP_K_TEXT:
					v->type = STORE_DUMP_TEXT;
					v->p = s;
					v->n = n;
					break;
				case STORE_DUMP_K_BYTES:
					if (bytea_decode(&p->bytes[i], s, n) != 0) {
						rc = pg_errf(p, STORE_E_SQL,
						             "reading %s.%s: bytea not in hex form",
						             t->name, t->cols[i].name);
						break;
					}
					v->type = STORE_DUMP_BLOB;
					v->p = p->bytes[i].data;
					v->n = p->bytes[i].len;
					break;
				}
			}
			if (rc == 0)
				rc = cb(arg, vals, t->ncols);
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
			rc = pg_fail(p, res, "reading rows");
		}
		PQclear(res);
	}
	return rc;
}
