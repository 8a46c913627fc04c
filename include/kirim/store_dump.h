/*
 * store_dump - the SQLite database read out table by table, for kirim migrate: its tables
 * and their columns, a table's rows in primary-key order as typed values, its row count and
 * its AUTOINCREMENT high-water mark, all inside one read transaction (one snapshot while a
 * sender may go on writing). Also the value and table types store_pg.c speaks, so that
 * app/migrate.c moves rows between the two without seeing either library.
 * Table and column names come from the caller (the PostgreSQL schema's catalog) and are
 * quoted as identifiers. Not thread-safe, as the store is; does not log.
 */
#ifndef KIRIM_STORE_DUMP_H
#define KIRIM_STORE_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* One value as either database hands it over; p is borrowed until the callback returns. */
enum store_dump_type {
	STORE_DUMP_NULL = 0,
	STORE_DUMP_INT,
	STORE_DUMP_REAL,
	STORE_DUMP_TEXT,
	STORE_DUMP_BLOB,
};
struct store_dump_val {
	enum store_dump_type type;
	int64_t i;
	double r;
	const char *p; /* TEXT and BLOB: n bytes (TEXT is not NUL-terminated here) */
	size_t n;
};

/* What a column holds in PostgreSQL, which decides how a SQLite value is carried over. */
enum store_dump_kind {
	STORE_DUMP_K_INT = 0, /* bigint, integer, smallint */
	STORE_DUMP_K_REAL,    /* double precision, real */
	STORE_DUMP_K_TEXT,    /* text, citext, json, jsonb, varchar */
	STORE_DUMP_K_BYTES,   /* bytea */
};
struct store_dump_column {
	char name[64];
	enum store_dump_kind kind;
	bool identity; /* GENERATED ... AS IDENTITY: its sequence is moved after a copy */
};
enum { STORE_DUMP_MAX_COLS = 64, STORE_DUMP_MAX_PK = 8 };
struct store_dump_table {
	char name[64];
	int ncols;
	struct store_dump_column cols[STORE_DUMP_MAX_COLS];
	int npk;
	int pk[STORE_DUMP_MAX_PK]; /* the primary key's columns, as indexes into cols */
};

/* store_dump_row_cb - one row of ncols values; non-zero stops the walk and is returned */
typedef int (*store_dump_row_cb)(void *arg, const struct store_dump_val *vals, int ncols);

struct buf;
/* store_dump_ident - name as a quoted SQL identifier ("a""b"), appended to b */
void store_dump_ident(struct buf *b, const char *name);
/*
 * store_dump_select - "SELECT t's columns FROM t ORDER BY t's key" appended to b, for SQLite
 * and PostgreSQL alike: text_order follows each text key column, to make both order bytes
 */
void store_dump_select(struct buf *b, const struct store_dump_table *t, const char *text_order);

/* store_dump_begin - open the read transaction every read below shares (store_rollback
 * ends it) */
int store_dump_begin(struct store *s);
/*
 * store_dump_tables - the names of the database's own tables (not sqlite_*), by name, into
 * names (cap of 64 bytes each); *n set. STORE_E_INVALID when there are more than cap.
 */
int store_dump_tables(struct store *s, char (*names)[64], int cap, int *n);
/* store_dump_columns - table's column names in order into names (cap); *n set, 0 for no
 * such table */
int store_dump_columns(struct store *s, const char *table, char (*names)[64], int cap, int *n);
/* store_dump_count - how many rows table has */
int store_dump_count(struct store *s, const char *table, int64_t *n);
/* store_dump_sequence - the highest id table's AUTOINCREMENT has given (sqlite_sequence),
 * 0 when it has none */
int store_dump_sequence(struct store *s, const char *table, int64_t *seq);
/*
 * store_dump_walk - every row of t (its columns, in t's order) by t's primary key in byte
 * order (COLLATE BINARY, as PostgreSQL's "C"), each to cb
 */
int store_dump_walk(struct store *s, const struct store_dump_table *t, store_dump_row_cb cb,
                    void *arg);

#endif
