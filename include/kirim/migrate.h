/*
 * migrate - kirim migrate: a SQLite database copied into an empty PostgreSQL database and
 * checked, or the two checked again (--verify).
 *
 * The copy is one PostgreSQL transaction: the schema (schema/pg/) applied, its keys and
 * indexes set aside, every table loaded with COPY in foreign-key order with its triggers
 * off, the keys and indexes made again (each built once, each foreign key checked by one
 * query), identity sequences moved
 * past the highest ids (and past SQLite's AUTOINCREMENT marks), then every table read back
 * and compared with the source: its row count and a checksum (rowsum.h) of its rows in
 * primary-key order, computed by kirim the same way over both databases. Only a copy that
 * matches is committed; otherwise nothing is, and the target stays empty. The source is
 * read in one read transaction (one snapshot: a sender may go on writing meanwhile).
 * Blocking; does not log; errors come back as a sentence.
 */
#ifndef KIRIM_MIGRATE_H
#define KIRIM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/rowsum.h"

struct store;

#define MIGRATE_E_DIFFER                                                                           \
	(-30)                   /* a table's copy differs from the source (the result says which)  \
	                         */
#define MIGRATE_E_FULL (-31)    /* the target is not empty (copy) */
#define MIGRATE_E_CONNECT (-32) /* the target cannot be reached or is not usable */
#define MIGRATE_E_SCHEMA (-33)  /* the two schemas disagree, or the target has none (verify) */
#define MIGRATE_E_COPY (-34)    /* a value cannot be carried over, or PostgreSQL refused a row */
#define MIGRATE_E_SOURCE (-35)  /* the SQLite database could not be read */
#define MIGRATE_E_URL (-36)     /* the target's URL does not parse */

enum { MIGRATE_MAX_TABLES = 64 };

struct migrate_table {
	char name[64];
	int64_t rows_from, rows_to; /* in SQLite and in PostgreSQL */
	unsigned char sum_from[ROWSUM_BYTES], sum_to[ROWSUM_BYTES];
	bool same; /* counts and checksums equal */
};

struct migrate_result {
	int ntables; /* in the order copied: parents first */
	struct migrate_table tables[MIGRATE_MAX_TABLES];
	int schema_version;
	int64_t rows;       /* the source's rows, every table */
	char server[64];    /* "PostgreSQL 15.4" */
	const char *differ; /* the first table that differs, or NULL */
};

/* migrate_progress_cb - done of total rows in the step ("copying" or "verifying"), now in
 * table; called every few thousand rows and at each table's end */
typedef void (*migrate_progress_cb)(void *arg, const char *step, const char *table, int64_t done,
                                    int64_t total);

struct migrate_opts {
	const char *to;               /* the PostgreSQL URL */
	bool verify_only;             /* compare the two, copy nothing */
	migrate_progress_cb progress; /* or NULL */
	void *arg;
};

/*
 * migrate_run - copy the open SQLite store s into o->to and verify it, or only verify
 * (o->verify_only). r is filled as far as the run got (ntables 0 before any table); err gets
 * the reason of a failure, the URL's password hidden.
 */
int migrate_run(struct store *s, const struct migrate_opts *o, struct migrate_result *r, char *err,
                size_t errsz);

#endif
