/*
 * store - kirim's database, SQLite or PostgreSQL (see store.h, db.h): the connection, its
 * migrations and settings, transactions, errors, the statement cache every
 * store file prepares through (store_prepare, store_int.h) and the small
 * helpers they share. The entities are in files of their own: store_list.c,
 * store_contact.c, store_suppress.c, store_template.c, store_campaign.c,
 * store_message.c, and the feature areas (store_report.c, store_serve.c, ...).
 */
#include "kirim/store.h"
#include "db.h"
#include "store_int.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "kirim/db_url.h"
#include "kirim/store_file.h"
#include "kirim/store_pg.h"
#include "kirim/xmalloc.h"

/*
 * The statement cache: every statement the store files run on the connection,
 * prepared on first use (store_prepare) and finalized by store_close. Keyed by
 * the address of the caller's static SQL string and found by open addressing
 * in twice as many slots as statements, so a look-up costs a multiply and a
 * compare or two. The store has about a hundred statements (8 KiB of slots per
 * connection): past STORE_STMT_MAX is a bug.
 */
enum { STORE_STMT_MAX = 256, STORE_STMT_SLOTS = 2 * STORE_STMT_MAX };

struct store {
	struct db *db; /* SQLite's or PostgreSQL's (db.h) */
	char *path;    /* a URL's password hidden */
	int version;
	bool made; /* the schema made by this open */
	struct {
		const char *sql; /* the caller's static string: its address is the key */
		struct db_stmt *st;
	} stmt[STORE_STMT_SLOTS];
	size_t nstmt;
	/*
	 * Inside store_batch_begin: store_begin, store_commit and store_rollback
	 * open, release and undo savepoints (depth of them open) in the batch's
	 * transaction.
	 */
	bool batch;
	int depth;
	/* The sender's rollup sums since the transaction (or savepoint) began: written
	 * by store_commit before it commits, dropped by store_rollback (store_rollup.c). */
	struct store_rollup *roll;
	char errbuf[512];
};

/* store_fail - record SQLite's last error for what; STORE_E_BUSY or STORE_E_SQL */
int
store_fail(struct store *s, const char *what)
{
	snprintf(s->errbuf, sizeof(s->errbuf), "%s: %s", what, db_errmsg(s->db));
	return db_busy(s->db) ? STORE_E_BUSY : STORE_E_SQL;
}

/* store_errf - set store_errmsg to a sentence of the store's own; returns code */
int
store_errf(struct store *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	return code;
}

/*
 * store_exec - run sql (one or more statements, no parameters) without keeping
 * it: PRAGMAs, which run once per open or per mode change, and the migrations,
 * each run once in a database's life. Everything else goes through the cache.
 */
static int
store_exec(struct store *s, const char *sql)
{
	int rc = db_exec(s->db, sql);
	if (rc == 0)
		return 0;
	snprintf(s->errbuf, sizeof(s->errbuf), "%s", db_errmsg(s->db));
	return rc == DB_E_BUSY ? STORE_E_BUSY : STORE_E_SQL;
}

/* stmt_slot - where the search for sql's statement starts (Fibonacci hashing of the address) */
static size_t
stmt_slot(const char *sql)
{
	uint64_t h = (uint64_t)(uintptr_t)sql * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) % STORE_STMT_SLOTS;
}

/* store_stmt_pg - sql (a static string; pg_sql on PostgreSQL) prepared once per store,
 * reset and unbound */
struct db_stmt *
store_stmt_pg(struct store *s, const char *sql, const char *pg_sql)
{
	size_t i = stmt_slot(sql);
	while (s->stmt[i].sql != NULL && s->stmt[i].sql != sql)
		i = (i + 1) % STORE_STMT_SLOTS;
	struct db_stmt *st = s->stmt[i].st;
	if (st != NULL) {
		db_reset(st);
		db_clear(st);
		return st;
	}
	if (s->nstmt == STORE_STMT_MAX) {
		assert(!"more statements than STORE_STMT_MAX: raise it");
		snprintf(s->errbuf, sizeof(s->errbuf), "prepare: more than %d statements",
		         STORE_STMT_MAX);
		return NULL;
	}
	if ((st = db_prepare(s->db, sql, pg_sql, true)) == NULL) {
		store_fail(s, "prepare");
		return NULL;
	}
	s->stmt[i].sql = sql;
	s->stmt[i].st = st;
	s->nstmt++;
	return st;
}

/* store_stmt - the same SQL on both backends */
struct db_stmt *
store_stmt(struct store *s, const char *sql)
{
	return store_stmt_pg(s, sql, NULL);
}

/* store_prepare - SQLite's statement, for the files not yet on db.h; on PostgreSQL it
 * refuses (a command that gets here was let through by mistake: cli_open) */
sqlite3_stmt *
store_prepare(struct store *s, const char *sql)
{
	if (s->db->kind != DB_SQLITE) {
		store_errf(s, STORE_E_SQL, "not on PostgreSQL yet (docs/postgresql.md)");
		return NULL;
	}
	struct db_stmt *st = store_stmt_pg(s, sql, NULL);
	return st ? st->lite : NULL;
}

/* store_step_done - step a statement that returns no rows and reset it; 0 or an error */
int
store_step_done_lite(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_fail(s, what);
	sqlite3_reset(st);
	return ret;
}

int
store_step_done_db(struct store *s, struct db_stmt *st, const char *what)
{
	int rc = db_step(st);
	int ret = rc >= 0 ? 0 : store_fail(s, what);
	db_reset(st);
	return ret;
}

/* store_insert_id - run an INSERT of one row or none, and its id (store_int.h) */
int
store_insert_id(struct store *s, struct db_stmt *st, const char *what, int64_t *id, bool *made)
{
	int rc = db_step(st);
	*made = rc == DB_ROW;
	if (rc == DB_ROW)
		*id = db_column_int64(st, 0);
	int ret = rc >= 0 ? 0 : store_fail(s, what);
	db_reset(st);
	if (ret == 0 && st->lite && db_changes(store_conn(s)) > 0) {
		*made = true;
		ret = db_last_id(store_conn(s), id);
	}
	return ret;
}

/* store_get_one - step st once; on a row call fill(st, out) (store_int.h) */
int
store_get_one_lite(struct store *s, sqlite3_stmt *st, void (*fill)(sqlite3_stmt *, void *),
                   void *out, size_t size, const char *doing)
{
	memset(out, 0, size);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fill(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_E_NOTFOUND;
	return store_fail(s, doing);
}

int
store_get_one_db(struct store *s, struct db_stmt *st, void (*fill)(struct db_stmt *, void *),
                 void *out, size_t size, const char *doing)
{
	memset(out, 0, size);
	int rc = db_step(st);
	if (rc == DB_ROW)
		fill(st, out);
	/* A failed statement's message is read before the reset (which clears it on SQLite). */
	int ret = rc == DB_ROW ? 0 : rc == DB_DONE ? STORE_E_NOTFOUND : store_fail(s, doing);
	db_reset(st);
	return ret;
}

/* store_get_int64 - step st once and reset it; its first column into *out (0 when no row) */
static void
id_fill(struct db_stmt *st, void *out)
{
	*(int64_t *)out = db_column_int64(st, 0);
}

int
store_find_id(struct store *s, const char *sql, const char *key, int64_t *id, const char *doing)
{
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	return store_get_one_db(s, st, id_fill, id, sizeof *id, doing);
}

int
store_get_int64_lite(struct store *s, sqlite3_stmt *st, int64_t *out, const char *doing)
{
	int rc = sqlite3_step(st);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, doing);
	*out = v;
	return 0;
}

int
store_get_int64_db(struct store *s, struct db_stmt *st, int64_t *out, const char *doing)
{
	int rc = db_step(st);
	int64_t v = rc == DB_ROW ? db_column_int64(st, 0) : 0;
	int ret = rc >= 0 ? 0 : store_fail(s, doing);
	db_reset(st);
	if (ret == 0)
		*out = v;
	return ret;
}

/* store_bind_opt_text - v, or NULL when v is NULL or empty */
void
store_bind_opt_text_lite(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void
store_bind_opt_text_db(struct db_stmt *st, int i, const char *v)
{
	if (v && *v)
		db_bind_text(st, i, v);
	else
		db_bind_null(st, i);
}

/* store_col_text - column col as text, "" for NULL */
const char *
store_col_text_lite(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? (const char *)t : "";
}

const char *
store_col_text_db(struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	return t ? t : "";
}

/* store_copy_text - column col into dst, "" for NULL */
void
store_copy_text_lite(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
{
	snprintf(dst, dstsz, "%s", store_col_text_lite(st, col));
}

void
store_copy_text_db(char *dst, size_t dstsz, struct db_stmt *st, int col)
{
	snprintf(dst, dstsz, "%s", store_col_text_db(st, col));
}

bool
store_tls_used(const char *t)
{
	return t && *t && strcmp(t, "none") != 0;
}

/* store_dup_text - column col as a new string, NULL for NULL */
char *
store_dup_text_lite(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? xstrdup((const char *)t) : NULL;
}

char *
store_dup_text_db(struct db_stmt *st, int col)
{
	const char *t = db_column_text(st, col);
	return t ? xstrdup(t) : NULL;
}

/* store_now - the current Unix time, as every table stores it */
int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* store_db - SQLite's connection, for the store's files not yet on db.h (store_int.h) */
sqlite3 *
store_db(struct store *s)
{
	return s->db->lite;
}

/* store_conn - the connection (db.h) */
struct db *
store_conn(struct store *s)
{
	return s->db;
}

/* store_rollups - the sender's rollup sums of the open transaction (store_int.h) */
struct store_rollup *
store_rollups(struct store *s)
{
	return s->roll;
}

/* fk_dangling - how many rows refer to a row that is not there (PRAGMA foreign_key_check) */
static int
fk_dangling(struct store *s, int64_t *n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db->lite, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "check foreign keys");
	int rc;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		++*n;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "check foreign keys");
}

static int migrate_one(struct store *s, const struct store_migration *m);

/*
 * store_migrate - apply the migrations the database lacks. Not through the
 * cache: PRAGMA user_version is read once per open (and once per migration,
 * under its lock), and each migration runs once.
 */
static int
store_migrate(struct store *s)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db->lite, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "read schema version");
	s->version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	s->made = s->version == 0;
	sqlite3_finalize(st);
	/* Versions rise but may skip numbers (tools/embed-schema.py): the newest is the last. */
	int newest =
	    store_migrations_count ? store_migrations[store_migrations_count - 1].version : 0;
	if (s->version > newest) {
		snprintf(s->errbuf, sizeof(s->errbuf),
		         "the database is at schema version %d but this kirim knows only up to %d: "
		         "use a newer kirim with it",
		         s->version, newest);
		return STORE_E_NEWER;
	}
	if (s->version == newest)
		return 0;
	/*
	 * Foreign keys off while migrating: a migration that rebuilds a table (SQLite
	 * cannot change a column in place) drops the old one, and with them on that
	 * drop would delete every row that refers to it (a campaign's messages). Each
	 * migration is checked before its COMMIT instead (migrate_one).
	 */
	int rc = store_exec(s, "PRAGMA foreign_keys = OFF");
	for (int i = 0; rc == 0 && i < store_migrations_count; i++)
		if (store_migrations[i].version > s->version)
			rc = migrate_one(s, &store_migrations[i]);
	int on = store_exec(s, "PRAGMA foreign_keys = ON");
	return rc < 0 ? rc : on;
}

/*
 * migrate_one - apply m in a transaction of its own, unless another process has. A
 * migration that rebuilds a table (DROP TABLE) runs with foreign keys off, so it is
 * checked before its COMMIT: it may not leave rows that refer to nothing (rows a bulk
 * import left so before it are not its doing, and do not stop it).
 */
static int
migrate_one(struct store *s, const struct store_migration *m)
{
	sqlite3_stmt *st;
	char setv[64];
	int rc = store_exec(s, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	/* Another process may have migrated while we waited for the lock. */
	if (sqlite3_prepare_v2(s->db->lite, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		store_exec(s, "ROLLBACK");
		return store_fail(s, "read schema version");
	}
	int now_at = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (now_at >= m->version) {
		store_exec(s, "ROLLBACK");
		s->version = now_at;
		return 0;
	}
	bool rebuilds = strstr(m->sql, "DROP TABLE") != NULL;
	int64_t before = 0, after = 0;
	snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", m->version);
	if ((rebuilds && (rc = fk_dangling(s, &before)) < 0) || (rc = store_exec(s, m->sql)) < 0 ||
	    (rc = store_exec(s, setv)) < 0 || (rebuilds && (rc = fk_dangling(s, &after)) < 0)) {
		char why[sizeof(s->errbuf)];
		memcpy(why, s->errbuf, sizeof(why));
		store_exec(s, "ROLLBACK");
		snprintf(s->errbuf, sizeof(s->errbuf), "migration %s failed: %.400s", m->name, why);
		return rc;
	}
	if (after > before) {
		store_exec(s, "ROLLBACK");
		snprintf(s->errbuf, sizeof(s->errbuf),
		         "migration %s failed: it would leave %lld rows referring to nothing",
		         m->name, (long long)(after - before));
		return STORE_E_SQL;
	}
	if ((rc = store_exec(s, "COMMIT")) < 0)
		return rc;
	s->version = m->version;
	return 0;
}

/* store_sqlite_init - process-wide SQLite settings, before its first use: no memory
 * statistics (kirim never reads them; keeping them takes a global mutex on every
 * allocation SQLite makes) */
static void
store_sqlite_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * store_migrate_pg - PostgreSQL's twin of store_migrate: schema/pg/'s migrations the
 * database lacks, applied in one transaction under kirim migrate's advisory lock (two
 * processes opening one new database wait for each other) and recorded in
 * kirim_migrations. An empty database is made a kirim database only with STORE_CREATE
 * (kirim init, import...), and one holding other tables never.
 */
static int
store_migrate_pg(struct store *s, unsigned flags)
{
	struct store_pg *p = db_store_pg(s->db);
	int newest = store_pg_migrations[store_pg_migrations_count - 1].version, others = 0;
	char what[256];
	int rc = store_pg_version(p, &s->version, &others, what, sizeof(what));
	if (rc == 0 && s->version == newest)
		return 0;
	if (rc == 0 && s->version > newest)
		return store_errf(s, STORE_E_NEWER,
		                  "the database is at schema version %d but this kirim knows only "
		                  "up to %d: use a newer kirim with it",
		                  s->version, newest);
	if (rc == 0 && s->version == 0 && !(flags & STORE_CREATE))
		return store_errf(s, STORE_E_NODB,
		                  "no kirim database there (the database is empty)");
	if (rc == 0 && s->version == 0 && others > 0)
		return store_errf(s, STORE_E_EXISTS,
		                  "the database holds tables that are not kirim's (%s): give kirim "
		                  "a database of its own",
		                  what);
	s->made = s->version == 0;
	if (rc < 0 || (rc = store_pg_begin(p, false)) < 0 ||
	    (rc = store_pg_version(p, &s->version, &others, what, sizeof(what))) < 0 ||
	    (s->version < newest && (rc = store_pg_apply(p, s->version, &s->version)) < 0) ||
	    (rc = store_pg_commit(p)) < 0) {
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", store_pg_errmsg(p));
		store_pg_rollback(p);
		return rc;
	}
	return 0;
}

/* store_open_pg - store_open on a PostgreSQL URL */
static int
store_open_pg(const char *url, unsigned flags, struct store **out, char *err, size_t errsz)
{
	struct db *db;
	int rc = db_open_pg(url, &db, err, errsz);
	/* No server is "not usable" here: STORE_E_NODB is a database without kirim's schema. */
	if (rc == STORE_E_NODB)
		rc = STORE_E_INVALID;
	if (rc < 0)
		return rc;
	char shown[512];
	db_url_redact(url, shown, sizeof(shown));
	struct store *s = xcalloc(1, sizeof(*s));
	s->db = db;
	s->roll = store_rollup_new();
	s->path = xstrdup(shown);
	if ((rc = store_migrate_pg(s, flags)) < 0 || (rc = store_exec(s, STORE_ROLLUP_TEMP)) < 0 ||
	    (rc = store_segment_functions_pg(s)) < 0) {
		snprintf(err, errsz, "%s: %s", shown, s->errbuf);
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int
store_open(const char *path, unsigned flags, struct store **out, char *err, size_t errsz)
{
	if (db_url_kind(path) == DB_URL_POSTGRES)
		return store_open_pg(path, flags, out, err, errsz);
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, store_sqlite_init);
	struct stat sb;
	if (!(flags & STORE_CREATE) && strcmp(path, ":memory:") != 0 && stat(path, &sb) < 0) {
		snprintf(err, errsz, "no database at %s (%s)", path, strerror(errno));
		return STORE_E_NODB;
	}
	/* A new database is made here, 0600 or 0640 (its -wal and -shm follow): store_file.h. */
	int made = (flags & STORE_CREATE) ? store_file_create(path, flags, err, errsz) : 0;
	if (made < 0)
		return made;
	struct store *s = xcalloc(1, sizeof(*s));
	s->roll = store_rollup_new();
	s->path = xstrdup(path);
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int rc;
	sqlite3 *lite = NULL;
	rc = sqlite3_open_v2(path, &lite, oflags, NULL);
	if (lite != NULL)
		s->db = db_open_sqlite(lite);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "cannot open %s: %s", path,
		         lite ? sqlite3_errmsg(lite) : "out of memory");
		store_close(s);
		return STORE_E_SQL;
	}
	sqlite3_extended_result_codes(lite, 0);
	sqlite3_busy_timeout(lite, 5000);
	/* The functions compiled segments call (store_segment.c). */
	if (store_segment_functions(lite) < 0) {
		snprintf(err, errsz, "cannot open %s: %s", path, sqlite3_errmsg(lite));
		store_close(s);
		return STORE_E_SQL;
	}
	/* WAL lets the CLI read while a sender writes; NORMAL sync is durable in WAL mode
	 * against process crashes and loses at most the last commits on power loss. */
	/* A new database gets 16 KiB pages (SQLite's default is 4 KiB): bulk imports run
	 * about 15% faster and kirim's tables are read in ranges. It can only be set
	 * before the first table and before WAL. */
	if ((rc = store_exec(s, "PRAGMA page_size = 16384")) < 0 ||
	    (rc = store_exec(s, "PRAGMA journal_mode = WAL")) < 0 ||
	    (rc = store_exec(s, "PRAGMA synchronous = NORMAL")) < 0 ||
	    (rc = store_exec(s, "PRAGMA foreign_keys = ON")) < 0 || (rc = store_migrate(s)) < 0 ||
	    (rc = store_exec(s, STORE_ROLLUP_TEMP)) < 0) {
		if (rc == STORE_E_SQL && strstr(s->errbuf, "file is not a database"))
			snprintf(err, errsz, "%s is not a kirim database (not an SQLite file)",
			         path);
		else
			snprintf(err, errsz, "%s: %s", path, s->errbuf);
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < STORE_STMT_SLOTS; i++)
		db_finalize(s->stmt[i].st);
	store_rollup_free(s->roll);
	db_close(s->db);
	free(s->path);
	free(s);
}

const char *
store_errmsg(const struct store *s)
{
	return s->errbuf;
}

bool
store_made(const struct store *s)
{
	return s->made;
}

int
store_schema_version(const struct store *s)
{
	return s->version;
}

const char *
store_sqlite_version(void)
{
	return sqlite3_libversion();
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

/* BEGIN IMMEDIATE takes SQLite's write lock at once; PostgreSQL locks by row, so BEGIN. */
static const char begin_sql[] = "BEGIN IMMEDIATE";

/* store_verb - a transaction verb (one or more per batch), from the cache; errors as store_exec */
static int
store_verb(struct store *s, const char *sql)
{
	struct db_stmt *st = store_stmt_pg(s, sql, sql == begin_sql ? "BEGIN" : NULL);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = db_step(st);
	if (rc != DB_DONE)
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", db_errmsg(s->db));
	db_reset(st);
	if (rc == DB_DONE)
		return 0;
	return rc == DB_E_BUSY ? STORE_E_BUSY : STORE_E_SQL;
}

int
store_begin(struct store *s)
{
	static const char nest[] = "SAVEPOINT nest";
	if (!s->batch) {
		store_rollup_drop(s->roll);
		return store_verb(s, begin_sql);
	}
	/* The sums so far belong to the savepoint around this one. */
	int rc = store_rollup_flush(s, s->roll);
	if (rc < 0)
		return rc;
	rc = store_verb(s, nest);
	s->depth += rc == 0;
	return rc;
}

int
store_commit(struct store *s)
{
	static const char sql[] = "COMMIT", nest[] = "RELEASE nest";
	int rc = store_rollup_flush(s, s->roll);
	if (rc < 0)
		return rc;
	if (!s->batch)
		return store_verb(s, sql);
	if (s->depth == 0)
		return 0;
	rc = store_verb(s, nest);
	s->depth -= rc == 0;
	return rc;
}

int
store_rollback(struct store *s)
{
	static const char sql[] = "ROLLBACK", undo[] = "ROLLBACK TO nest", nest[] = "RELEASE nest";
	store_rollup_drop(s->roll);
	if (!db_in_transaction(s->db))
		return 0;
	if (!s->batch)
		return store_verb(s, sql);
	/* Only what was opened inside the batch: the batch's own end is store_batch_end's. */
	if (s->depth == 0)
		return 0;
	char keep[sizeof(s->errbuf)];
	memcpy(keep, s->errbuf, sizeof(keep)); /* the failure that made the caller roll back */
	int rc = store_verb(s, undo);
	if (rc == 0)
		rc = store_verb(s, nest);
	s->depth--;
	if (rc == 0)
		memcpy(s->errbuf, keep, sizeof(keep));
	return rc;
}

int
store_batch_begin(struct store *s)
{
	assert(!s->batch);
	store_rollup_drop(s->roll);
	int rc = store_verb(s, begin_sql);
	if (rc == 0) {
		s->batch = true;
		s->depth = 0;
	}
	return rc;
}

int
store_batch_end(struct store *s, bool commit)
{
	static const char done[] = "COMMIT", undo[] = "ROLLBACK";
	assert(s->batch);
	s->batch = false;
	s->depth = 0;
	int frc = commit ? store_rollup_flush(s, s->roll) : 0;
	store_rollup_drop(s->roll);
	if (frc < 0) {
		store_verb(s, undo);
		return frc;
	}
	if (!db_in_transaction(s->db)) /* SQLite ended it itself (I/O error, full disk) */
		return commit
		           ? store_errf(s, STORE_E_SQL, "the batch's transaction was rolled back")
		           : 0;
	if (commit) {
		int rc = store_verb(s, done);
		if (rc == 0)
			return 0;
		store_verb(s, undo);
		return rc;
	}
	return store_verb(s, undo);
}

void
store_durable(struct store *s, bool on)
{
	if (s->db->kind != DB_SQLITE) /* PostgreSQL's commits are durable (synchronous_commit) */
		return;
	store_exec(s, on ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

void
store_temp_memory(struct store *s, bool on)
{
	/* Changing it drops the TEMP database: the rollups' table of names is made again. */
	if (store_exec(s, on ? "PRAGMA temp_store = MEMORY" : "PRAGMA temp_store = DEFAULT") == 0)
		store_exec(s, STORE_ROLLUP_TEMP);
}

void
store_bulk(struct store *s, bool on)
{
	if (s->db->kind != DB_SQLITE)
		return;
	if (on)
		store_exec(s, "PRAGMA cache_size = -32768; PRAGMA foreign_keys = OFF");
	else
		store_exec(s, "PRAGMA cache_size = -2000; PRAGMA foreign_keys = ON");
	/* Changing it expires the prepared statements, which have their triggers built in. */
	sqlite3_db_config(s->db->lite, SQLITE_DBCONFIG_ENABLE_TRIGGER, on ? 0 : 1, (int *)NULL);
}

/* store_setting_get - a setting's bytes (the settings table) */
int
store_setting_get(struct store *s, const char *key, void *out, size_t cap, size_t *len)
{
	static const char sql[] = "SELECT value FROM settings WHERE key = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW) {
		const void *v = db_column_blob(st, 0);
		size_t n = (size_t)db_column_bytes(st, 0);
		if (n > cap)
			n = cap;
		if (n > 0)
			memcpy(out, v, n);
		*len = n;
	} else if (rc == DB_DONE) {
		snprintf(s->errbuf, sizeof(s->errbuf), "no setting '%s'", key);
		ret = STORE_E_NOTFOUND;
	} else {
		ret = store_fail(s, "read setting");
	}
	db_reset(st);
	return ret;
}
