/*
 * store_pg - kirim's PostgreSQL connection (libpq); with the store's statement layer
 * (src/store/db.c, which runs the store's own statements on it) the only modules that
 * include libpq-fe.h. Here is kirim migrate's part, and the store's opening: connect by URL,
 * see that a database is empty, apply the PostgreSQL schema (schema/pg/, embedded as
 * store_pg_migrations and recorded in kirim_migrations), read its tables from the catalog
 * in foreign-key order, set keys and indexes aside and make them again, load rows with
 * COPY, move identity sequences, and read rows back in
 * primary-key order for the checksums (docs/postgresql.md).
 *
 * Errors: negative STORE_E_* codes with a sentence in store_pg_errmsg (the server's message,
 * detail and context). Blocking calls; one connection per struct; not thread-safe; does not
 * log. Table and column names are quoted as identifiers.
 */
#ifndef KIRIM_STORE_PG_H
#define KIRIM_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/store.h"
#include "kirim/store_dump.h"

/* schema/pg/NNN_*.sql, embedded by tools/embed-schema.py --name store_pg_migrations. */
extern const struct store_migration store_pg_migrations[];
extern const int store_pg_migrations_count;

struct store_pg;

#define STORE_PG_E_URL (-40) /* store_pg_open: not a PostgreSQL URL libpq takes */

/*
 * store_pg_open - connect to url (postgresql://...; libpq's URI syntax and its PG*
 * environment variables), with a 10 s connect timeout unless the URL sets one. The server
 * must be PostgreSQL 11 or later with a UTF8 database (else STORE_E_INVALID); a URL that
 * does not parse is STORE_PG_E_URL, no connection STORE_E_NODB. err gets why not, the URL's
 * password hidden.
 */
int store_pg_open(const char *url, struct store_pg **out, char *err, size_t errsz);
/* store_pg_close - disconnect; NULL is a no-op */
void store_pg_close(struct store_pg *p);
/* store_pg_errmsg - a sentence about the last failure */
const char *store_pg_errmsg(const struct store_pg *p);
/* store_pg_server - "PostgreSQL 15.4" */
const char *store_pg_server(const struct store_pg *p);

/*
 * store_pg_begin - with snapshot, a read-only transaction that sees one moment of the
 * database throughout (REPEATABLE READ); without, BEGIN and a transaction-scoped advisory
 * lock kirim migrate's copies into one database share, so that a second waits for the
 * first and then finds it full
 */
int store_pg_begin(struct store_pg *p, bool snapshot);
/* store_pg_commit - COMMIT */
int store_pg_commit(struct store_pg *p);
/* store_pg_rollback - ROLLBACK (nothing when no transaction is open) */
int store_pg_rollback(struct store_pg *p);

/*
 * store_pg_version - the kirim schema version the database holds (its highest
 * kirim_migrations row): 0 when it has no kirim schema. *others gets how many other
 * relations (tables, views, sequences...) its current schema holds, and what their first
 * names (comma-separated, cut to whatsz).
 */
int store_pg_version(struct store_pg *p, int *version, int *others, char *what, size_t whatsz);
/* store_pg_apply - apply the embedded migrations after from (0: an empty database, where
 * kirim_migrations is made first) and record them; *version gets the last one's number */
int store_pg_apply(struct store_pg *p, int from, int *version);
/* store_pg_conn - libpq's connection (PGconn), for the store's statement layer (db.c) */
struct pg_conn *store_pg_conn(struct store_pg *p);
/*
 * store_pg_tables - kirim's tables (not kirim_migrations) with their columns and primary
 * keys, parents before the tables whose foreign keys name them (then by name) into out
 * (cap); *n set
 */
int store_pg_tables(struct store_pg *p, struct store_dump_table *out, int cap, int *n);
/*
 * store_pg_defer - drop the schema's foreign keys and the indexes no constraint uses,
 * keeping the SQL that makes them again from the catalog: COPY then loads without a check
 * and an index entry per row, and store_pg_restore (in the same transaction) builds each
 * index once and checks each foreign key with one query, as pg_restore does
 */
int store_pg_defer(struct store_pg *p);
/* store_pg_restore - make what store_pg_defer dropped again; a row whose foreign key has no
 * parent fails it, named by PostgreSQL */
int store_pg_restore(struct store_pg *p);
/* store_pg_triggers - turn table's own triggers off (a copy must not fire them) or on */
int store_pg_triggers(struct store_pg *p, const char *table, bool on);

/* store_pg_copy_begin - COPY t's columns FROM STDIN */
int store_pg_copy_begin(struct store_pg *p, const struct store_dump_table *t);
/*
 * store_pg_copy_row - one row of t->ncols values, each already of its column's kind (INT,
 * REAL, TEXT as valid UTF-8 without NUL, BLOB for bytea) or NULL
 */
int store_pg_copy_row(struct store_pg *p, const struct store_dump_val *vals, int ncols);
/* store_pg_copy_end - end the COPY; the server's verdict on the rows */
int store_pg_copy_end(struct store_pg *p);
/* store_pg_sequence - move the sequence of t's identity column so that the next id is above
 * both its highest value and floor */
int store_pg_sequence(struct store_pg *p, const struct store_dump_table *t, int64_t floor);
/*
 * store_pg_walk - every row of t by its primary key in byte order (COLLATE "C"), values by
 * their column's kind (INT, REAL, TEXT, BLOB) or NULL, each to cb; rows stream (libpq's
 * single-row mode), so memory does not grow with the table
 */
int store_pg_walk(struct store_pg *p, const struct store_dump_table *t, store_dump_row_cb cb,
                  void *arg);

#endif
