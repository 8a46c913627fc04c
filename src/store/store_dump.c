/* store_dump - the SQLite database read out for kirim migrate (see store_dump.h). */
#include "kirim/store_dump.h"

#include <string.h>

#include "kirim/buf.h"
#include "kirim/store.h"
#include "store_int.h"

void
store_dump_ident(struct buf *b, const char *name)
{
	buf_addc(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_addc(b, '"');
		buf_addc(b, *p);
	}
	buf_addc(b, '"');
}

void
store_dump_select(struct buf *b, const struct store_dump_table *t, const char *text_order)
{
	buf_adds(b, "SELECT ");
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			buf_adds(b, ", ");
		store_dump_ident(b, t->cols[i].name);
	}
	buf_adds(b, " FROM ");
	store_dump_ident(b, t->name);
	for (int i = 0; i < t->npk; i++) {
		const struct store_dump_column *c = &t->cols[t->pk[i]];
		buf_adds(b, i ? ", " : " ORDER BY ");
		store_dump_ident(b, c->name);
		if (c->kind == STORE_DUMP_K_TEXT)
			buf_adds(b, text_order);
	}
}

/*
 * The statements here are built from the table's names at run time, so they are prepared
 * and finalized here rather than kept by store_prepare (whose key is a static string);
 * each runs once per table.
 */
static sqlite3_stmt *
prepare_built(struct store *s, const struct buf *sql, const char *what)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), sql->data, (int)sql->len, &st, NULL) != SQLITE_OK) {
		store_fail(s, what);
		return NULL;
	}
	return st;
}

int
store_dump_begin(struct store *s)
{
	/* A deferred BEGIN takes its snapshot at the first read: read one at once. */
	static const char begin[] = "BEGIN", first[] = "SELECT count(*) FROM sqlite_master";
	sqlite3_stmt *st = store_prepare(s, begin);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = store_step_done(s, st, "starting the read");
	if (rc)
		return rc;
	int64_t n;
	return store_get_int64(s, store_prepare(s, first), &n, "starting the read");
}

/* names - the first column of st's rows into names (cap of 64 bytes each); *n set */
static int
names_of(struct store *s, sqlite3_stmt *st, char (*names)[64], int cap, int *n, const char *what)
{
	int k = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			sqlite3_reset(st);
			return store_errf(s, STORE_E_INVALID, "%s: more than %d", what, cap);
		}
		store_copy_text(names[k++], 64, st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, what);
	*n = k;
	return 0;
}

int
store_dump_tables(struct store *s, char (*names)[64], int cap, int *n)
{
	static const char sql[] = "SELECT name FROM sqlite_master WHERE type = 'table' AND name "
	                          "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	return names_of(s, st, names, cap, n, "listing the tables");
}

int
store_dump_columns(struct store *s, const char *table, char (*names)[64], int cap, int *n)
{
	static const char sql[] = "SELECT name FROM pragma_table_info(?1) ORDER BY cid";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	return names_of(s, st, names, cap, n, "reading a table's columns");
}

int
store_dump_count(struct store *s, const char *table, int64_t *n)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "SELECT count(*) FROM ");
	store_dump_ident(&sql, table);
	sqlite3_stmt *st = prepare_built(s, &sql, "counting rows");
	buf_free(&sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		store_fail(s, "counting rows");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : STORE_E_SQL;
}

int
store_dump_sequence(struct store *s, const char *table, int64_t *seq)
{
	static const char sql[] = "SELECT seq FROM sqlite_sequence WHERE name = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	return store_get_int64(s, st, seq, "reading sqlite_sequence");
}

int
store_dump_walk(struct store *s, const struct store_dump_table *t, store_dump_row_cb cb, void *arg)
{
	struct buf sql = BUF_INIT;
	store_dump_select(&sql, t, " COLLATE BINARY");
	sqlite3_stmt *st = prepare_built(s, &sql, "reading rows");
	buf_free(&sql);
	if (st == NULL)
		return STORE_E_SQL;
	struct store_dump_val vals[STORE_DUMP_MAX_COLS];
	int rc, stop = 0;
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < t->ncols; i++) {
			struct store_dump_val *v = &vals[i];
			memset(v, 0, sizeof(*v));
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				v->type = STORE_DUMP_INT;
				v->i = sqlite3_column_int64(st, i);
				break;
			case SQLITE_FLOAT:
				v->type = STORE_DUMP_REAL;
				v->r = sqlite3_column_double(st, i);
				break;
			case SQLITE_TEXT:
				v->type = STORE_DUMP_TEXT;
				v->p = (const char *)sqlite3_column_text(st, i);
				v->n = (size_t)sqlite3_column_bytes(st, i);
				break;
			case SQLITE_BLOB:
				v->type = STORE_DUMP_BLOB;
				v->p = sqlite3_column_blob(st, i);
				v->n = (size_t)sqlite3_column_bytes(st, i);
				break;
			default:
				v->type = STORE_DUMP_NULL;
			}
		}
		stop = cb(arg, vals, t->ncols);
	}
	if (stop == 0 && rc != SQLITE_DONE)
		stop = store_fail(s, "reading rows");
	sqlite3_finalize(st);
	return stop;
}
