/* migrate - a SQLite database copied into PostgreSQL and checked (see migrate.h). */
#include "kirim/migrate.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/db_url.h"
#include "kirim/store.h"
#include "kirim/store_dump.h"
#include "kirim/store_pg.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* Progress is reported every this many rows. */
#define PROGRESS_EVERY 8192

struct run {
	const struct migrate_opts *o;
	struct store_pg *pg; /* NULL while only summing */
	const struct store_dump_table *t;
	struct rowsum sum;
	const char *step;
	int64_t done, total;
	char *err;
	size_t errsz;
};

static int fail(struct run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
fail(struct run *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errsz, fmt, ap);
	va_end(ap);
	return code;
}

static void
progress(struct run *r, bool force)
{
	if (r->o->progress && (force || r->done % PROGRESS_EVERY == 0))
		r->o->progress(r->o->arg, r->step, r->t->name, r->done, r->total);
}

/* row_key - the row's primary key as "col=value, ..." into out, to name a row in an error */
static void
row_key(const struct store_dump_table *t, const struct store_dump_val *vals, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < t->npk; i++) {
		const struct store_dump_val *v = &vals[t->pk[i]];
		buf_printf(&b, "%s%s=", i ? ", " : "", t->cols[t->pk[i]].name);
		if (v->type == STORE_DUMP_INT)
			buf_printf(&b, "%" PRId64, v->i);
		else if (v->type == STORE_DUMP_TEXT && utf8_valid(v->p, v->n))
			buf_printf(&b, "'%.*s'", (int)(v->n > 60 ? 60 : v->n), v->p);
		else
			buf_adds(&b, "(not shown)");
	}
	snprintf(out, n, "%s", b.len ? b.data : "(no key)");
	buf_free(&b);
}

/*
 * carry - a SQLite value as its PostgreSQL column's kind holds it, or NULL with why: SQLite
 * keeps any value in any column, PostgreSQL's column takes one type. Integers go into
 * integer and real columns, reals into real ones, text (and blobs of valid text) into text
 * ones when valid UTF-8 without NUL (PostgreSQL's text holds neither), text and blobs into
 * bytea as their bytes, numbers into bytea as their digits (SQLite's CAST AS BLOB).
 */
static const char *
carry(enum store_dump_kind kind, const struct store_dump_val *in, struct store_dump_val *out,
      char scratch[32])
{
	*out = *in;
	switch (in->type) {
	case STORE_DUMP_NULL:
		return NULL;
	case STORE_DUMP_INT:
		if (kind == STORE_DUMP_K_INT)
			return NULL;
		if (kind == STORE_DUMP_K_REAL) {
			out->type = STORE_DUMP_REAL;
			out->r = (double)in->i;
			return NULL;
		}
		if (kind == STORE_DUMP_K_BYTES) {
			/* As SQLite's CAST(value AS BLOB): its digits (settings.value holds
			 * integers). */
			out->type = STORE_DUMP_BLOB;
			out->n = (size_t)snprintf(scratch, 32, "%" PRId64, in->i);
			out->p = scratch;
			return NULL;
		}
		return "an integer in a column of text";
	case STORE_DUMP_REAL:
		if (kind == STORE_DUMP_K_REAL)
			return NULL;
		if (kind == STORE_DUMP_K_BYTES) {
			out->type = STORE_DUMP_BLOB;
			out->n = (size_t)snprintf(scratch, 32, "%.17g", in->r);
			out->p = scratch;
			return NULL;
		}
		return "a real in a column of integers or text";
	case STORE_DUMP_TEXT:
	case STORE_DUMP_BLOB:
		if (kind == STORE_DUMP_K_BYTES) {
			out->type = STORE_DUMP_BLOB;
			return NULL;
		}
		if (kind != STORE_DUMP_K_TEXT)
			return "text or bytes in a column of numbers";
		if (memchr(in->p, '\0', in->n))
			return "text holding a NUL byte, which PostgreSQL's text cannot hold";
		if (!utf8_valid(in->p, in->n))
			return "text that is not valid UTF-8, which a PostgreSQL UTF8 database "
			       "refuses";
		out->type = STORE_DUMP_TEXT;
		return NULL;
	}
	return "a value of no known type";
}

static void
sum_value(struct rowsum *s, const struct store_dump_val *v)
{
	switch (v->type) {
	case STORE_DUMP_NULL:
		rowsum_null(s);
		break;
	case STORE_DUMP_INT:
		rowsum_int(s, v->i);
		break;
	case STORE_DUMP_REAL:
		rowsum_real(s, v->r);
		break;
	case STORE_DUMP_TEXT:
		rowsum_text(s, v->p, v->n);
		break;
	case STORE_DUMP_BLOB:
		rowsum_bytes(s, v->p, v->n);
		break;
	}
}

/* One source row: carried over to its columns' kinds, summed, and sent when copying. */
static int
source_row(void *arg, const struct store_dump_val *vals, int ncols)
{
	struct run *r = arg;
	struct store_dump_val out[STORE_DUMP_MAX_COLS];
	char scratch[STORE_DUMP_MAX_COLS][32];
	for (int i = 0; i < ncols; i++) {
		const char *why = carry(r->t->cols[i].kind, &vals[i], &out[i], scratch[i]);
		if (why) {
			char key[160];
			row_key(r->t, vals, key, sizeof(key));
			return fail(r, MIGRATE_E_COPY, "cannot copy %s.%s of the row %s: %s",
			            r->t->name, r->t->cols[i].name, key, why);
		}
		sum_value(&r->sum, &out[i]);
	}
	rowsum_row_end(&r->sum);
	if (r->pg && store_pg_copy_row(r->pg, out, ncols) != 0)
		return fail(r, MIGRATE_E_COPY, "copying %s: %s", r->t->name,
		            store_pg_errmsg(r->pg));
	r->done++;
	progress(r, false);
	return 0;
}

/* One row read back from PostgreSQL: its values are already of their kinds. */
static int
target_row(void *arg, const struct store_dump_val *vals, int ncols)
{
	struct run *r = arg;
	for (int i = 0; i < ncols; i++)
		sum_value(&r->sum, &vals[i]);
	rowsum_row_end(&r->sum);
	r->done++;
	progress(r, false);
	return 0;
}

/* same_schema - the SQLite tables are PostgreSQL's, with the same columns in the same order */
static int
same_schema(struct run *r, struct store *s, const struct store_dump_table *t, int n)
{
	char(*names)[64] = xcalloc(MIGRATE_MAX_TABLES + STORE_DUMP_MAX_COLS, 64);
	int k = 0, rc = store_dump_tables(s, names, MIGRATE_MAX_TABLES, &k);
	if (rc) {
		rc = fail(r, MIGRATE_E_SOURCE, "%s", store_errmsg(s));
		goto out;
	}
	for (int i = 0; i < k; i++) {
		bool found = false;
		for (int j = 0; j < n && !found; j++)
			found = strcmp(names[i], t[j].name) == 0;
		if (!found) {
			rc = fail(
			    r, MIGRATE_E_SCHEMA,
			    "the SQLite table %s has no PostgreSQL twin in this kirim's schema/pg/",
			    names[i]);
			goto out;
		}
	}
	for (int j = 0; j < n; j++) {
		int nc = 0;
		if (store_dump_columns(s, t[j].name, names, STORE_DUMP_MAX_COLS, &nc) != 0) {
			rc = fail(r, MIGRATE_E_SOURCE, "%s", store_errmsg(s));
			goto out;
		}
		if (nc == 0) {
			rc = fail(r, MIGRATE_E_SCHEMA, "the SQLite database has no table %s",
			          t[j].name);
			goto out;
		}
		for (int c = 0; c < nc || c < t[j].ncols; c++) {
			const char *a = c < nc ? names[c] : "(none)";
			const char *b = c < t[j].ncols ? t[j].cols[c].name : "(none)";
			if (strcmp(a, b) != 0) {
				rc = fail(r, MIGRATE_E_SCHEMA,
				          "%s's column %d is %s in SQLite and %s in PostgreSQL",
				          t[j].name, c + 1, a, b);
				goto out;
			}
		}
	}
out:
	free(names);
	return rc;
}

static int
copy_table(struct run *r, struct store *s, struct store_pg *pg, struct migrate_table *mt)
{
	const struct store_dump_table *t = r->t;
	int rc;
	if ((rc = store_pg_triggers(pg, t->name, false)) || (rc = store_pg_copy_begin(pg, t)))
		return fail(r, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
	rowsum_init(&r->sum);
	r->pg = pg;
	rc = store_dump_walk(s, t, source_row, r);
	r->pg = NULL;
	if (rc == STORE_E_SQL || rc == STORE_E_BUSY)
		rc = fail(r, MIGRATE_E_SOURCE, "reading %s: %s", t->name, store_errmsg(s));
	/* The COPY ends either way: stopped with an error when a row failed. */
	int end = store_pg_copy_end(pg);
	mt->rows_from = r->sum.rows;
	rowsum_final(&r->sum, mt->sum_from);
	if (rc)
		return rc;
	if (end)
		return fail(r, MIGRATE_E_COPY, "copying %s: %s", t->name, store_pg_errmsg(pg));
	int64_t seq = 0;
	if (store_dump_sequence(s, t->name, &seq) != 0)
		return fail(r, MIGRATE_E_SOURCE, "%s", store_errmsg(s));
	if (store_pg_sequence(pg, t, seq) != 0 || store_pg_triggers(pg, t->name, true) != 0)
		return fail(r, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
	progress(r, true);
	return 0;
}

static int
sum_source(struct run *r, struct store *s, struct migrate_table *mt)
{
	rowsum_init(&r->sum);
	int rc = store_dump_walk(s, r->t, source_row, r);
	mt->rows_from = r->sum.rows;
	rowsum_final(&r->sum, mt->sum_from);
	if (rc == STORE_E_SQL || rc == STORE_E_BUSY)
		return fail(r, MIGRATE_E_SOURCE, "reading %s: %s", r->t->name, store_errmsg(s));
	progress(r, true);
	return rc;
}

static int
sum_target(struct run *r, struct store_pg *pg, struct migrate_table *mt)
{
	rowsum_init(&r->sum);
	int rc = store_pg_walk(pg, r->t, target_row, r);
	mt->rows_to = r->sum.rows;
	rowsum_final(&r->sum, mt->sum_to);
	if (rc)
		return fail(r, MIGRATE_E_COPY, "reading %s back: %s", r->t->name,
		            store_pg_errmsg(pg));
	progress(r, true);
	return 0;
}

/* The target's state for this run: empty for a copy, this kirim's schema for a verify. */
static int
check_target(struct run *r, struct store_pg *pg, int want, const char *shown)
{
	int version = 0, others = 0;
	char what[256];
	if (store_pg_version(pg, &version, &others, what, sizeof(what)) != 0)
		return fail(r, MIGRATE_E_CONNECT, "%s: %s", shown, store_pg_errmsg(pg));
	if (r->o->verify_only) {
		if (version == 0)
			return fail(r, MIGRATE_E_SCHEMA, "%s holds no kirim database to verify",
			            shown);
		if (version != want)
			return fail(
			    r, MIGRATE_E_SCHEMA,
			    "%s holds kirim's schema version %d and the SQLite database is at "
			    "%d: they cannot be compared",
			    shown, version, want);
		return 0;
	}
	if (version > 0)
		return fail(r, MIGRATE_E_FULL,
		            "%s already holds a kirim database (schema version %d): kirim migrate "
		            "copies into an empty database only. Compare the two with --verify, or "
		            "name an empty database",
		            shown, version);
	if (others > 0)
		return fail(
		    r, MIGRATE_E_FULL,
		    "%s is not empty (%s): kirim migrate copies into an empty database only", shown,
		    what);
	return 0;
}

static int
migrate_tables(struct run *run, struct store *s, struct store_pg *pg, struct migrate_result *r,
               const char *shown)
{
	int want = store_schema_version(s), rc;
	if ((rc = check_target(run, pg, want, shown)))
		return rc;
	if (!run->o->verify_only) {
		int version = 0;
		if (store_pg_apply(pg, 0, &version) != 0)
			return fail(run, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
		if (version != want)
			return fail(
			    run, MIGRATE_E_SCHEMA,
			    "this kirim's PostgreSQL schema is at version %d and the SQLite "
			    "database at %d (schema/pg/ lacks a migration)",
			    version, want);
	}
	r->schema_version = want;
	struct store_dump_table *t = xcalloc(MIGRATE_MAX_TABLES, sizeof(*t));
	int n = 0;
	if (store_pg_tables(pg, t, MIGRATE_MAX_TABLES, &n) != 0) {
		rc = fail(run, MIGRATE_E_SCHEMA, "%s", store_pg_errmsg(pg));
		goto out;
	}
	if ((rc = same_schema(run, s, t, n)))
		goto out;
	r->ntables = n;
	for (int i = 0; i < n; i++) {
		int64_t c = 0;
		snprintf(r->tables[i].name, sizeof(r->tables[i].name), "%s", t[i].name);
		if (store_dump_count(s, t[i].name, &c) != 0) {
			rc = fail(run, MIGRATE_E_SOURCE, "%s", store_errmsg(s));
			goto out;
		}
		run->total += c;
	}
	r->rows = run->total;
	/* The source: copied (and summed on the way), or summed alone. */
	run->step = run->o->verify_only ? "reading" : "copying";
	if (!run->o->verify_only && store_pg_defer(pg) != 0) {
		rc = fail(run, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
		goto out;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		run->t = &t[i];
		rc = run->o->verify_only ? sum_source(run, s, &r->tables[i])
		                         : copy_table(run, s, pg, &r->tables[i]);
	}
	if (rc == 0 && !run->o->verify_only && store_pg_restore(pg) != 0)
		rc = fail(run, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
	/* The target, read back. */
	run->step = "verifying";
	run->done = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct migrate_table *mt = &r->tables[i];
		run->t = &t[i];
		rc = sum_target(run, pg, mt);
		mt->same = rc == 0 && mt->rows_from == mt->rows_to &&
		           memcmp(mt->sum_from, mt->sum_to, ROWSUM_BYTES) == 0;
		if (rc == 0 && !mt->same && r->differ == NULL)
			r->differ = mt->name;
	}
	if (rc == 0 && r->differ)
		rc = fail(run, MIGRATE_E_DIFFER, "%s differs between the SQLite database and %s%s",
		          r->differ, shown, run->o->verify_only ? "" : ": nothing was committed");
out:
	free(t);
	return rc;
}

int
migrate_run(struct store *s, const struct migrate_opts *o, struct migrate_result *r, char *err,
            size_t errsz)
{
	memset(r, 0, sizeof(*r));
	struct run run = {.o = o, .err = err, .errsz = errsz};
	char shown[512];
	db_url_redact(o->to, shown, sizeof(shown));
	struct store_pg *pg = NULL;
	int rc = store_pg_open(o->to, &pg, err, errsz);
	if (rc)
		return rc == STORE_PG_E_URL ? MIGRATE_E_URL : MIGRATE_E_CONNECT;
	snprintf(r->server, sizeof(r->server), "%s", store_pg_server(pg));
	if (store_pg_begin(pg, o->verify_only) != 0) {
		rc = fail(&run, MIGRATE_E_CONNECT, "%s: %s", shown, store_pg_errmsg(pg));
	} else if (store_dump_begin(s) != 0) {
		rc = fail(&run, MIGRATE_E_SOURCE, "%s", store_errmsg(s));
	} else {
		rc = migrate_tables(&run, s, pg, r, shown);
		store_rollback(s);
	}
	/* A copy that matches is committed; anything else, and a verify, leaves no trace. */
	if (rc == 0 && !o->verify_only) {
		if (store_pg_commit(pg) != 0)
			rc = fail(&run, MIGRATE_E_COPY, "%s", store_pg_errmsg(pg));
	} else {
		store_pg_rollback(pg);
	}
	store_pg_close(pg);
	return rc;
}
