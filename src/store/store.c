/*
 * store - kirim's SQLite database (see store.h).
 *
 * Every statement kirim runs is in the table below, prepared on first use and
 * reused; a statement handed out by store_stmt() is reset and unbound. The SQL
 * keeps to what SQLite and PostgreSQL share where that costs nothing (DESIGN.md).
 */
#include "kirim/store.h"
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

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/store_file.h"
#include "kirim/xmalloc.h"

enum stmt_id {
	Q_LIST_FIND,
	Q_LIST_INSERT,
	Q_LIST_GET,
	Q_LIST_ALL,
	Q_LIST_DELETE,
	Q_IMPORT_START,
	Q_IMPORT_FINISH,
	Q_CONTACT_INSERT,
	Q_CONTACT_FIND,
	Q_CONTACT_UPDATE,
	Q_MEMBER_INSERT,
	Q_MEMBER_IMPORT,
	Q_CONTACT_GET,
	Q_CONTACT_SEARCH,
	Q_CONTACT_SEARCH_LIST,
	Q_SUPPRESS_ADD,
	Q_SUPPRESS_REMOVE,
	Q_SUPPRESS_ALL,
	Q_SUPPRESS_REASON,
	Q_SUPPRESS_COUNT,
	Q_SUPPRESSED,
	Q_TEMPLATE_NEXT,
	Q_TEMPLATE_INSERT,
	Q_TEMPLATE_GET,
	Q_TEMPLATE_LATEST,
	Q_TEMPLATE_GET_ID,
	Q_TEMPLATE_ALL,
	Q_CAMPAIGN_INSERT,
	Q_CAMPAIGN_GET,
	Q_CAMPAIGN_ALL,
	Q_LIST_MEMBER,
	Q_LIST_HAS_FIELD,
	Q_SETTING_GET,
	Q_MSG_PREPARE,
	Q_MSG_RECOVER,
	Q_MSG_CLAIM,
	Q_MSG_CONTACT,
	Q_MSG_WITHDRAW,
	Q_MSG_RESULT,
	Q_EVENT_INSERT,
	Q_CAMPAIGN_COUNTS,
	Q_CAMPAIGN_STATE,
	Q_CAMPAIGN_LINKS,
	Q__COUNT
};

/* Suppression status of a contact c (columns c.email, c.domain), as a reason or NULL. */
#define SUPPRESSION_OF_C                                                                           \
	"(SELECT reason FROM suppressions WHERE value IN (lower(c.email), c.domain) "              \
	"ORDER BY kind LIMIT 1)"

static const char *const stmt_sql[Q__COUNT] = {
    [Q_LIST_FIND] = "SELECT id FROM lists WHERE name = ?1",
    [Q_LIST_INSERT] = "INSERT INTO lists(name, created_at) VALUES (?1, ?2)",
    [Q_LIST_GET] = "SELECT l.id, l.name, l.created_at,"
                   " (SELECT count(*) FROM list_members m WHERE m.list_id = l.id),"
                   " (SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id"
                   "  WHERE m.list_id = l.id AND " SUPPRESSION_OF_C " IS NOT NULL)"
                   " FROM lists l WHERE l.name = ?1",
    [Q_LIST_ALL] = "SELECT l.id, l.name, l.created_at,"
                   " (SELECT count(*) FROM list_members m WHERE m.list_id = l.id),"
                   " (SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id"
                   "  WHERE m.list_id = l.id AND " SUPPRESSION_OF_C " IS NOT NULL)"
                   " FROM lists l ORDER BY l.name",
    [Q_LIST_DELETE] = "DELETE FROM lists WHERE name = ?1",
    [Q_IMPORT_START] = "INSERT INTO imports(list_id, source, started_at) VALUES (?1, ?2, ?3)",
    [Q_IMPORT_FINISH] = "UPDATE imports SET finished_at = ?2, summary = ?3 WHERE id = ?1",
    [Q_CONTACT_INSERT] = "INSERT INTO contacts(email, domain, attrs, created_at, updated_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
    [Q_CONTACT_FIND] = "SELECT id FROM contacts WHERE email = ?1",
    [Q_CONTACT_UPDATE] = "UPDATE contacts SET attrs = json_patch(attrs, ?2), updated_at = ?3"
                         " WHERE id = ?1 AND attrs IS NOT json_patch(attrs, ?2)",
    [Q_MEMBER_INSERT] = "INSERT INTO list_members(list_id, contact_id, import_id)"
                        " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [Q_MEMBER_IMPORT] = "SELECT import_id FROM list_members WHERE list_id = ?1 AND contact_id = ?2",
    [Q_CONTACT_GET] =
        "SELECT c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at,"
        " " SUPPRESSION_OF_C ","
        " (SELECT group_concat(name, ',') FROM (SELECT l.name FROM list_members m"
        "  JOIN lists l ON l.id = m.list_id WHERE m.contact_id = c.id ORDER BY l.name))"
        " FROM contacts c WHERE c.email = ?1",
    [Q_CONTACT_SEARCH] = "SELECT c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at,"
                         " " SUPPRESSION_OF_C ", NULL"
                         " FROM contacts c WHERE instr(lower(c.email), ?1) > 0"
                         " ORDER BY c.email LIMIT ?2",
    [Q_CONTACT_SEARCH_LIST] = "SELECT c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at,"
                              " " SUPPRESSION_OF_C ", NULL"
                              " FROM lists l JOIN list_members m ON m.list_id = l.id"
                              " JOIN contacts c ON c.id = m.contact_id"
                              " WHERE l.name = ?3 AND instr(lower(c.email), ?1) > 0"
                              " ORDER BY c.email LIMIT ?2",
    [Q_SUPPRESS_ADD] = "INSERT INTO suppressions(kind, value, reason, source, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    [Q_SUPPRESS_REMOVE] = "DELETE FROM suppressions WHERE kind = ?1 AND value = ?2",
    [Q_SUPPRESS_ALL] = "SELECT id, kind, value, reason, coalesce(source, ''), created_at"
                       " FROM suppressions ORDER BY created_at DESC, id DESC LIMIT ?1",
    [Q_SUPPRESS_REASON] = "SELECT id, kind, value, reason, coalesce(source, ''), created_at"
                          " FROM suppressions WHERE reason = ?2"
                          " ORDER BY created_at DESC, id DESC LIMIT ?1",
    [Q_SUPPRESS_COUNT] = "SELECT count(*) FROM suppressions",
    [Q_TEMPLATE_NEXT] = "SELECT coalesce(max(version), 0) + 1 FROM templates WHERE name = ?1",
    [Q_TEMPLATE_INSERT] = "INSERT INTO templates(name, version, subject, text_body, html_body,"
                          " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_TEMPLATE_GET] = "SELECT id, name, version, subject, text_body, html_body, created_at, 0"
                       " FROM templates WHERE name = ?1 AND version = ?2",
    [Q_TEMPLATE_LATEST] = "SELECT id, name, version, subject, text_body, html_body, created_at, 0"
                          " FROM templates WHERE name = ?1 ORDER BY version DESC LIMIT 1",
    [Q_TEMPLATE_GET_ID] = "SELECT id, name, version, subject, text_body, html_body, created_at,"
                          " 0 FROM templates WHERE id = ?1",
    [Q_TEMPLATE_ALL] = "SELECT t.id, t.name, t.version, t.subject, t.text_body, t.html_body,"
                       " t.created_at, (SELECT count(*) FROM templates u WHERE u.name = t.name)"
                       " FROM templates t WHERE t.version = (SELECT max(version) FROM templates u"
                       " WHERE u.name = t.name) ORDER BY t.name",
    [Q_CAMPAIGN_INSERT] = "INSERT INTO campaigns(name, list_id, template_id, from_name, from_addr,"
                          " reply_to, headers, created_at, updated_at, options)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
    [Q_CAMPAIGN_GET] = "SELECT c.id, c.name, c.list_id, l.name, c.template_id, t.name, t.version,"
                       " coalesce(c.from_name, ''), c.from_addr, coalesce(c.reply_to, ''),"
                       " c.headers, c.state, c.created_at, c.options, coalesce(c.state_reason, '')"
                       " FROM campaigns c"
                       " JOIN lists l ON l.id = c.list_id JOIN templates t ON t.id = c.template_id"
                       " WHERE c.name = ?1",
    [Q_CAMPAIGN_ALL] = "SELECT c.id, c.name, c.list_id, l.name, c.template_id, t.name, t.version,"
                       " coalesce(c.from_name, ''), c.from_addr, coalesce(c.reply_to, ''),"
                       " c.headers, c.state, c.created_at, c.options, coalesce(c.state_reason, '')"
                       " FROM campaigns c"
                       " JOIN lists l ON l.id = c.list_id JOIN templates t ON t.id = c.template_id"
                       " ORDER BY c.created_at DESC, c.id DESC",
    [Q_LIST_MEMBER] = "SELECT c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at,"
                      " " SUPPRESSION_OF_C ", NULL"
                      " FROM contacts c JOIN list_members m ON m.contact_id = c.id"
                      " WHERE c.email = ?1 AND m.list_id = ?2",
    [Q_LIST_HAS_FIELD] = "SELECT EXISTS (SELECT 1 FROM list_members m JOIN contacts c"
                         " ON c.id = m.contact_id WHERE m.list_id = ?1"
                         " AND json_extract(c.attrs, ?2) IS NOT NULL)",
    [Q_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    /* Recipients the start check could not render (campaigns.options.skip, with
     * --skip-bad) are failed at once, with the reason. */
    [Q_MSG_PREPARE] = "INSERT INTO messages(campaign_id, contact_id, state, queued_at, last_text,"
                      " done_at)"
                      " SELECT ?1, m.contact_id, CASE WHEN " SUPPRESSION_OF_C " IS NOT NULL"
                      " THEN 'suppressed' WHEN m.contact_id IN (SELECT value FROM json_each("
                      "(SELECT CASE WHEN json_valid(options) THEN json_extract(options, '$.skip')"
                      " END FROM campaigns WHERE id = ?1))) THEN 'failed' ELSE 'queued' END, ?3,"
                      " CASE WHEN m.contact_id IN (SELECT value FROM json_each((SELECT CASE"
                      " WHEN json_valid(options) THEN json_extract(options, '$.skip') END FROM"
                      " campaigns WHERE id = ?1))) THEN 'cannot render the message (skipped by"
                      " the start check)' END, NULL"
                      " FROM list_members m JOIN contacts c ON c.id = m.contact_id"
                      /* By domain: claims (by id) then hand each destination runs of
                       * messages, so its connections stay busy instead of churning. */
                      " WHERE m.list_id = ?2 ORDER BY c.domain, m.contact_id"
                      " ON CONFLICT DO NOTHING",
    /* Claims whose sender is gone (no senders row: it was judged dead and forgotten,
     * or the claim predates the senders table). A live sender's claims stay. */
    [Q_MSG_RECOVER] = "UPDATE messages SET state = 'queued', claimed_by = NULL"
                      " WHERE campaign_id = ?1 AND state = 'claimed' AND (claimed_by IS NULL"
                      " OR claimed_by NOT IN (SELECT id FROM senders))",
    [Q_MSG_CLAIM] = "UPDATE messages SET state = 'claimed', claimed_at = ?2, claimed_by = ?4"
                    " WHERE id IN (SELECT id FROM messages WHERE campaign_id = ?1"
                    " AND state = 'queued' AND next_attempt_at <= ?2"
                    " ORDER BY next_attempt_at, id LIMIT ?3)"
                    " RETURNING id, contact_id, attempts, queued_at",
    /*
     * The contact of a claimed message, and whether it may still be mailed: its
     * address's or domain's suppression (the reason), and whether it is still on
     * the campaign's list (a list-scope unsubscribe, a list deleted). Checked at
     * every claim, so a suppression committed while a message waits in the queue
     * (first send or retry) is honoured.
     */
    [Q_MSG_CONTACT] = "SELECT c.email, c.attrs, c.domain, " SUPPRESSION_OF_C ","
                      " EXISTS (SELECT 1 FROM list_members m WHERE m.contact_id = c.id"
                      " AND m.list_id = (SELECT list_id FROM campaigns WHERE id = ?2))"
                      " FROM contacts c WHERE c.id = ?1",
    [Q_MSG_WITHDRAW] = "UPDATE messages SET state = 'suppressed', claimed_by = NULL,"
                       " done_at = ?2, last_text = ?3 WHERE id = ?1",
    [Q_MSG_RESULT] = "UPDATE messages SET state = ?2, claimed_by = NULL, attempts = attempts + ?3,"
                     " next_attempt_at = ?4, last_stage = ?5, last_code = ?6, last_ecode = ?7,"
                     " last_text = ?8, host = ?9, tls = ?10, dest = ?12, reason = ?13, class = ?14,"
                     " done_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE ?11 END"
                     " WHERE id = ?1",
    [Q_EVENT_INSERT] = "INSERT INTO events(message_id, ts, type, stage, code, ecode, text, host,"
                       " tls, attempt, dest, reason, class) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9, (SELECT attempts FROM messages WHERE id = ?1), ?10, ?11, ?12)",
    [Q_CAMPAIGN_COUNTS] = "SELECT state, attempts > 0, count(*), min(next_attempt_at)"
                          " FROM messages WHERE campaign_id = ?1 GROUP BY 1, 2",
    [Q_CAMPAIGN_STATE] = "UPDATE campaigns SET state = ?2, updated_at = ?3 WHERE id = ?1",
    [Q_CAMPAIGN_LINKS] = "UPDATE campaigns SET options = json_set(CASE WHEN json_valid(options)"
                         " THEN options ELSE '{}' END, '$.links', json(?2)) WHERE id = ?1",
    [Q_SUPPRESSED] =
        "SELECT reason FROM suppressions WHERE value IN (?1, ?2) ORDER BY kind LIMIT 1",
};

/* Statements of the store's other files, prepared once on first use (store_prepare). */
enum { STORE_XSTMT_MAX = 64 };

struct store {
	sqlite3 *db;
	char *path;
	int version;
	sqlite3_stmt *stmt[Q__COUNT];
	struct {
		const char *sql; /* the caller's static string: its address is the key */
		sqlite3_stmt *st;
	} xstmt[STORE_XSTMT_MAX];
	size_t nxstmt;
	char errbuf[512];
};

/* store_fail - record SQLite's last error for what; STORE_E_BUSY or STORE_E_SQL */
int
store_fail(struct store *s, const char *what)
{
	int code = sqlite3_errcode(s->db);
	snprintf(s->errbuf, sizeof(s->errbuf), "%s: %s", what, sqlite3_errmsg(s->db));
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return STORE_E_BUSY;
	return STORE_E_SQL;
}

static int
store_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int code = sqlite3_errcode(s->db);
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? STORE_E_BUSY : STORE_E_SQL;
	}
	return 0;
}

/* store_stmt - the prepared statement for id, reset and with no bindings */
static sqlite3_stmt *
store_stmt(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->stmt[id];
	assert(stmt_sql[id] != NULL); /* every enum stmt_id has its SQL in the table */
	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
		                       NULL) != SQLITE_OK) {
			store_fail(s, "prepare");
			return NULL;
		}
		s->stmt[id] = st;
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return st;
}

/* store_prepare - sql (a static string) prepared once per store, reset and unbound */
sqlite3_stmt *
store_prepare(struct store *s, const char *sql)
{
	for (size_t i = 0; i < s->nxstmt; i++) {
		if (s->xstmt[i].sql == sql) {
			sqlite3_reset(s->xstmt[i].st);
			sqlite3_clear_bindings(s->xstmt[i].st);
			return s->xstmt[i].st;
		}
	}
	assert(s->nxstmt < STORE_XSTMT_MAX); /* a bug: raise the cap */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare");
		return NULL;
	}
	s->xstmt[s->nxstmt].sql = sql;
	s->xstmt[s->nxstmt++].st = st;
	return st;
}

/* store_step_done - step a statement that returns no rows; 0 or an error */
static int
store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_fail(s, what);
	sqlite3_reset(st);
	return ret;
}

/*
 * store_get_one - step st once; on a row call fill(st, out). No row is
 * STORE_E_NOTFOUND, whose message the caller writes (only then: some callers
 * are on hot paths); a failure says what it was doing.
 */
static int
store_get_one(struct store *s, sqlite3_stmt *st, void (*fill)(sqlite3_stmt *, void *), void *out,
              const char *doing)
{
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

/* store_now - the current Unix time, as every table stores it */
int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

/* store_db - the connection, for the store's other files (store_int.h) */
sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

static int
store_migrate(struct store *s)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "read schema version");
	s->version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (s->version > store_migrations_count) {
		snprintf(s->errbuf, sizeof(s->errbuf),
		         "the database is at schema version %d but this kirim knows only up to %d: "
		         "use a newer kirim with it",
		         s->version, store_migrations_count);
		return STORE_E_NEWER;
	}
	for (int i = s->version; i < store_migrations_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		char setv[64];
		int rc = store_exec(s, "BEGIN IMMEDIATE");
		if (rc < 0)
			return rc;
		/* Another process may have migrated while we waited for the lock. */
		if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
			store_exec(s, "ROLLBACK");
			return store_fail(s, "read schema version");
		}
		int now_at = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		sqlite3_finalize(st);
		if (now_at >= m->version) {
			store_exec(s, "ROLLBACK");
			s->version = now_at;
			continue;
		}
		snprintf(setv, sizeof(setv), "PRAGMA user_version = %d", m->version);
		if ((rc = store_exec(s, m->sql)) < 0 || (rc = store_exec(s, setv)) < 0) {
			char why[sizeof(s->errbuf)];
			memcpy(why, s->errbuf, sizeof(why));
			store_exec(s, "ROLLBACK");
			snprintf(s->errbuf, sizeof(s->errbuf), "migration %s failed: %.400s",
			         m->name, why);
			return rc;
		}
		if ((rc = store_exec(s, "COMMIT")) < 0)
			return rc;
		s->version = m->version;
	}
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

int
store_open(const char *path, unsigned flags, struct store **out, char *err, size_t errsz)
{
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
	s->path = xstrdup(path);
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int rc;
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "cannot open %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return STORE_E_SQL;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL lets the CLI read while a sender writes; NORMAL sync is durable in WAL mode
	 * against process crashes and loses at most the last commits on power loss. */
	/* A new database gets 16 KiB pages (SQLite's default is 4 KiB): bulk imports run
	 * about 15% faster and kirim's tables are read in ranges. It can only be set
	 * before the first table and before WAL. */
	if ((rc = store_exec(s, "PRAGMA page_size = 16384")) < 0 ||
	    (rc = store_exec(s, "PRAGMA journal_mode = WAL")) < 0 ||
	    (rc = store_exec(s, "PRAGMA synchronous = NORMAL")) < 0 ||
	    (rc = store_exec(s, "PRAGMA foreign_keys = ON")) < 0 || (rc = store_migrate(s)) < 0) {
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
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (size_t i = 0; i < s->nxstmt; i++)
		sqlite3_finalize(s->xstmt[i].st);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

const char *
store_errmsg(const struct store *s)
{
	return s->errbuf;
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

int
store_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int
store_commit(struct store *s)
{
	return store_exec(s, "COMMIT");
}

int
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return store_exec(s, "ROLLBACK");
}

void
store_durable(struct store *s, bool on)
{
	store_exec(s, on ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

void
store_bulk(struct store *s, bool on)
{
	if (on)
		store_exec(s, "PRAGMA cache_size = -32768; PRAGMA foreign_keys = OFF");
	else
		store_exec(s, "PRAGMA cache_size = -2000; PRAGMA foreign_keys = ON");
}

static void
store_copy_text(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, dstsz, "%s", t ? (const char *)t : "");
}

int
store_list_ensure(struct store *s, const char *name, int64_t *id, bool *created)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_FIND);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*created = false;
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "find list");
	if ((st = store_stmt(s, Q_LIST_INSERT)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_now());
	if ((rc = store_step_done(s, st, "create list")) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	*created = true;
	return 0;
}

static void
store_list_row(sqlite3_stmt *st, struct store_list_info *info)
{
	info->id = sqlite3_column_int64(st, 0);
	store_copy_text(info->name, sizeof(info->name), st, 1);
	info->created_at = sqlite3_column_int64(st, 2);
	info->members = sqlite3_column_int64(st, 3);
	info->suppressed = sqlite3_column_int64(st, 4);
}

static void
store_list_fill(sqlite3_stmt *st, void *out)
{
	store_list_row(st, out);
}

int
store_list_get(struct store *s, const char *name, struct store_list_info *out)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_GET);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_get_one(s, st, store_list_fill, out, "read list");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no list called '%s'", name);
	return rc;
}

int
store_list_each(struct store *s, store_list_cb cb, void *arg)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_ALL);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_list_info info;
		store_list_row(st, &info);
		if ((ret = cb(arg, &info)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read lists");
	sqlite3_reset(st);
	return ret;
}

int
store_list_delete(struct store *s, const char *name)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_DELETE);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_step_done(s, st, "delete list");
	if (rc == 0 && sqlite3_changes(s->db) == 0) {
		snprintf(s->errbuf, sizeof(s->errbuf), "no list called '%s'", name);
		return STORE_E_NOTFOUND;
	}
	return rc;
}

int
store_import_start(struct store *s, int64_t list_id, const char *source, int64_t *import_id)
{
	sqlite3_stmt *st = store_stmt(s, Q_IMPORT_START);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	int rc = store_step_done(s, st, "record import");
	if (rc == 0)
		*import_id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_import_finish(struct store *s, int64_t import_id, const char *summary_json)
{
	sqlite3_stmt *st = store_stmt(s, Q_IMPORT_FINISH);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, import_id);
	sqlite3_bind_int64(st, 2, store_now());
	sqlite3_bind_text(st, 3, summary_json, -1, SQLITE_STATIC);
	return store_step_done(s, st, "record import summary");
}

static void
store_id_fill(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
}

/* store_find_contact - the id of the contact whose lower-cased address is key */
static int
store_find_contact(struct store *s, const char *key, int64_t *id)
{
	sqlite3_stmt *st = store_stmt(s, Q_CONTACT_FIND);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = store_get_one(s, st, store_id_fill, id, "find contact");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no contact %s", key);
	return rc;
}

int
store_import_row(struct store *s, int64_t list_id, int64_t import_id, const struct address *a,
                 const char *attrs, size_t attrs_len, bool update, unsigned *flags)
{
	int64_t now = store_now(), contact_id = 0;
	unsigned f = 0;
	int rc;
	sqlite3_stmt *st = store_stmt(s, Q_CONTACT_INSERT);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, a->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, attrs, (int)attrs_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if ((rc = store_step_done(s, st, "insert contact")) < 0)
		return rc;
	if (sqlite3_changes(s->db) == 1) {
		contact_id = sqlite3_last_insert_rowid(s->db);
		f |= STORE_ROW_NEW_CONTACT;
	} else {
		if ((rc = store_find_contact(s, a->key, &contact_id)) < 0)
			return rc;
		if (update && attrs_len > 2) {
			if ((st = store_stmt(s, Q_CONTACT_UPDATE)) == NULL)
				return STORE_E_SQL;
			sqlite3_bind_int64(st, 1, contact_id);
			sqlite3_bind_text(st, 2, attrs, (int)attrs_len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now);
			if ((rc = store_step_done(s, st, "update contact")) < 0)
				return rc;
			if (sqlite3_changes(s->db) == 1)
				f |= STORE_ROW_UPDATED;
		}
	}
	if ((st = store_stmt(s, Q_MEMBER_INSERT)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, contact_id);
	sqlite3_bind_int64(st, 3, import_id);
	if ((rc = store_step_done(s, st, "add list member")) < 0)
		return rc;
	if (sqlite3_changes(s->db) == 1) {
		f |= STORE_ROW_NEW_MEMBER;
	} else {
		/* Already a member: earlier in this run (a duplicate row), or from before. */
		if ((st = store_stmt(s, Q_MEMBER_IMPORT)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, list_id);
		sqlite3_bind_int64(st, 2, contact_id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, 0) == import_id)
			f |= STORE_ROW_DUPLICATE;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_fail(s, "read list member");
	}
	*flags = f;
	return 0;
}

static void
store_contact_row(sqlite3_stmt *st, struct store_contact *c)
{
	c->id = sqlite3_column_int64(st, 0);
	store_copy_text(c->email, sizeof(c->email), st, 1);
	store_copy_text(c->domain, sizeof(c->domain), st, 2);
	const unsigned char *attrs = sqlite3_column_text(st, 3);
	c->attrs = xstrdup(attrs ? (const char *)attrs : "{}");
	c->created_at = sqlite3_column_int64(st, 4);
	c->updated_at = sqlite3_column_int64(st, 5);
	store_copy_text(c->suppressed, sizeof(c->suppressed), st, 6);
	store_copy_text(c->lists, sizeof(c->lists), st, 7);
}

static void
store_contact_fill(sqlite3_stmt *st, void *out)
{
	store_contact_row(st, out);
}

int
store_contact_get(struct store *s, const char *key, struct store_contact *out)
{
	sqlite3_stmt *st = store_stmt(s, Q_CONTACT_GET);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = store_get_one(s, st, store_contact_fill, out, "read contact");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no contact with the address %s", key);
	return rc;
}

void
store_contact_clear(struct store_contact *c)
{
	free(c->attrs);
	c->attrs = NULL;
}

int
store_contact_search(struct store *s, const char *term, const char *list, int limit,
                     store_contact_cb cb, void *arg)
{
	sqlite3_stmt *st = store_stmt(s, list ? Q_CONTACT_SEARCH_LIST : Q_CONTACT_SEARCH);
	if (st == NULL)
		return STORE_E_SQL;
	/* The term is matched against lower(email), so fold it the same way. */
	char *folded = xstrdup(term);
	for (char *p = folded; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	sqlite3_bind_text(st, 1, folded, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	if (list)
		sqlite3_bind_text(st, 3, list, -1, SQLITE_STATIC);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_contact c;
		store_contact_row(st, &c);
		ret = cb(arg, &c);
		store_contact_clear(&c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "search contacts");
	sqlite3_reset(st);
	free(folded);
	return ret;
}

int
store_suppress_add(struct store *s, const char *kind, const char *value, const char *reason,
                   const char *source)
{
	sqlite3_stmt *st = store_stmt(s, Q_SUPPRESS_ADD);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	if (source && *source)
		sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, store_now());
	int rc = store_step_done(s, st, "add suppression");
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		return STORE_E_EXISTS;
	return rc;
}

int
store_suppress_remove(struct store *s, const char *kind, const char *value)
{
	sqlite3_stmt *st = store_stmt(s, Q_SUPPRESS_REMOVE);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = store_step_done(s, st, "remove suppression");
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		return STORE_E_NOTFOUND;
	return rc;
}

int
store_suppress_each(struct store *s, const char *reason, int limit, store_suppression_cb cb,
                    void *arg)
{
	sqlite3_stmt *st = store_stmt(s, reason ? Q_SUPPRESS_REASON : Q_SUPPRESS_ALL);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
	if (reason)
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_suppression sup;
		sup.id = sqlite3_column_int64(st, 0);
		store_copy_text(sup.kind, sizeof(sup.kind), st, 1);
		store_copy_text(sup.value, sizeof(sup.value), st, 2);
		store_copy_text(sup.reason, sizeof(sup.reason), st, 3);
		store_copy_text(sup.source, sizeof(sup.source), st, 4);
		sup.created_at = sqlite3_column_int64(st, 5);
		if ((ret = cb(arg, &sup)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read suppressions");
	sqlite3_reset(st);
	return ret;
}

int
store_suppress_count(struct store *s, int64_t *count)
{
	sqlite3_stmt *st = store_stmt(s, Q_SUPPRESS_COUNT);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, "count suppressions");
}

int
store_suppressed(struct store *s, const char *key, const char *domain, char reason[16])
{
	sqlite3_stmt *st = store_stmt(s, Q_SUPPRESSED);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	reason[0] = '\0';
	if (rc == SQLITE_ROW)
		store_copy_text(reason, 16, st, 0);
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : store_fail(s, "check suppression");
}

static char *
store_dup_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? xstrdup((const char *)t) : NULL;
}

int
store_template_add(struct store *s, const char *name, const char *subject, const char *text,
                   const char *html, int *version, int64_t *id)
{
	sqlite3_stmt *st = store_stmt(s, Q_TEMPLATE_NEXT);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, "read template versions");
	if ((st = store_stmt(s, Q_TEMPLATE_INSERT)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, v);
	sqlite3_bind_text(st, 3, subject, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	if (html)
		sqlite3_bind_text(st, 5, html, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, store_now());
	if ((rc = store_step_done(s, st, "add template")) < 0)
		return rc;
	*version = v;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static void
store_template_row(sqlite3_stmt *st, struct store_template *t)
{
	t->id = sqlite3_column_int64(st, 0);
	store_copy_text(t->name, sizeof(t->name), st, 1);
	t->version = sqlite3_column_int(st, 2);
	t->subject = store_dup_text(st, 3);
	t->text = store_dup_text(st, 4);
	t->html = store_dup_text(st, 5);
	t->created_at = sqlite3_column_int64(st, 6);
	t->versions = sqlite3_column_int(st, 7);
}

static void
store_template_fill(sqlite3_stmt *st, void *out)
{
	store_template_row(st, out);
}

int
store_template_get(struct store *s, const char *name, int version, struct store_template *out)
{
	sqlite3_stmt *st = store_stmt(s, version > 0 ? Q_TEMPLATE_GET : Q_TEMPLATE_LATEST);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (version > 0)
		sqlite3_bind_int(st, 2, version);
	int rc = store_get_one(s, st, store_template_fill, out, "read template");
	if (rc == STORE_E_NOTFOUND && version > 0)
		snprintf(s->errbuf, sizeof(s->errbuf), "no version %d of template '%s'", version,
		         name);
	else if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no template called '%s'", name);
	return rc;
}

int
store_template_get_id(struct store *s, int64_t id, struct store_template *out)
{
	sqlite3_stmt *st = store_stmt(s, Q_TEMPLATE_GET_ID);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	int rc = store_get_one(s, st, store_template_fill, out, "read template");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no template with id %lld", (long long)id);
	return rc;
}

int
store_template_each(struct store *s, store_template_cb cb, void *arg)
{
	sqlite3_stmt *st = store_stmt(s, Q_TEMPLATE_ALL);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_template t;
		store_template_row(st, &t);
		ret = cb(arg, &t);
		store_template_clear(&t);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read templates");
	sqlite3_reset(st);
	return ret;
}

void
store_template_clear(struct store_template *t)
{
	free(t->subject);
	free(t->text);
	free(t->html);
	t->subject = t->text = t->html = NULL;
}

int
store_campaign_create(struct store *s, struct store_campaign *c)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_INSERT);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->list_id);
	sqlite3_bind_int64(st, 3, c->template_id);
	if (c->from_name[0])
		sqlite3_bind_text(st, 4, c->from_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->from_addr, -1, SQLITE_STATIC);
	if (c->reply_to[0])
		sqlite3_bind_text(st, 6, c->reply_to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->headers ? c->headers : "[]", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, store_now());
	sqlite3_bind_text(st, 9, c->options ? c->options : "{}", -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(s->errbuf, sizeof(s->errbuf), "a campaign called '%s' exists already",
		         c->name);
		return STORE_E_EXISTS;
	}
	if (rc != SQLITE_DONE)
		return store_fail(s, "create campaign");
	c->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static void
store_campaign_fill(sqlite3_stmt *st, void *out)
{
	struct store_campaign *c = out;
	c->id = sqlite3_column_int64(st, 0);
	store_copy_text(c->name, sizeof(c->name), st, 1);
	c->list_id = sqlite3_column_int64(st, 2);
	store_copy_text(c->list, sizeof(c->list), st, 3);
	c->template_id = sqlite3_column_int64(st, 4);
	store_copy_text(c->template_name, sizeof(c->template_name), st, 5);
	c->template_version = sqlite3_column_int(st, 6);
	store_copy_text(c->from_name, sizeof(c->from_name), st, 7);
	store_copy_text(c->from_addr, sizeof(c->from_addr), st, 8);
	store_copy_text(c->reply_to, sizeof(c->reply_to), st, 9);
	c->headers = store_dup_text(st, 10);
	store_copy_text(c->state, sizeof(c->state), st, 11);
	c->created_at = sqlite3_column_int64(st, 12);
	c->options = store_dup_text(st, 13);
	store_copy_text(c->state_reason, sizeof(c->state_reason), st, 14);
}

int
store_campaign_get(struct store *s, const char *name, struct store_campaign *out)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_GET);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_get_one(s, st, store_campaign_fill, out, "read campaign");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "no campaign called '%s'", name);
	return rc;
}

int
store_campaign_each(struct store *s, store_campaign_cb cb, void *arg)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_ALL);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_campaign c;
		store_campaign_fill(st, &c);
		ret = cb(arg, &c);
		store_campaign_clear(&c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read campaigns");
	sqlite3_reset(st);
	return ret;
}

void
store_campaign_clear(struct store_campaign *c)
{
	free(c->headers);
	free(c->options);
	c->options = NULL;
	c->headers = NULL;
}

int
store_list_member(struct store *s, int64_t list_id, const char *key, struct store_contact *out)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_MEMBER);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, list_id);
	int rc = store_get_one(s, st, store_contact_fill, out, "read list member");
	if (rc == STORE_E_NOTFOUND)
		snprintf(s->errbuf, sizeof(s->errbuf), "%s is not a member of the campaign's list",
		         key);
	return rc;
}

int
store_list_has_field(struct store *s, int64_t list_id, const char *field, bool *has)
{
	sqlite3_stmt *st = store_stmt(s, Q_LIST_HAS_FIELD);
	if (st == NULL)
		return STORE_E_SQL;
	/* A JSON path with the name quoted, so any column name works as a key. */
	struct buf path = BUF_INIT;
	buf_adds(&path, "$.");
	buf_json_string(&path, field, strlen(field));
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_text(st, 2, path.data, (int)path.len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*has = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	buf_free(&path);
	return rc == SQLITE_ROW ? 0 : store_fail(s, "look for a field");
}

int
store_setting_get(struct store *s, const char *key, void *out, size_t cap, size_t *len)
{
	sqlite3_stmt *st = store_stmt(s, Q_SETTING_GET);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (n > cap)
			n = cap;
		memcpy(out, sqlite3_column_blob(st, 0), n);
		*len = n;
	} else if (rc == SQLITE_DONE) {
		snprintf(s->errbuf, sizeof(s->errbuf), "no setting '%s'", key);
		ret = STORE_E_NOTFOUND;
	} else {
		ret = store_fail(s, "read setting");
	}
	sqlite3_reset(st);
	return ret;
}

int
store_messages_prepare(struct store *s, int64_t campaign_id, int64_t list_id, int64_t *created)
{
	sqlite3_stmt *st = store_stmt(s, Q_MSG_PREPARE);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, list_id);
	sqlite3_bind_int64(st, 3, store_now());
	int rc = store_step_done(s, st, "queue the campaign's messages");
	if (rc == 0)
		*created = sqlite3_changes(s->db);
	return rc;
}

int
store_messages_recover(struct store *s, int64_t campaign_id, int64_t *recovered)
{
	sqlite3_stmt *st = store_stmt(s, Q_MSG_RECOVER);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc = store_step_done(s, st, "recover claimed messages");
	if (rc == 0)
		*recovered = sqlite3_changes(s->db);
	return rc;
}

/* withdraw - a claimed message must not be mailed after all: suppressed, with why */
static int
withdraw(struct store *s, int64_t message_id, int64_t now, const char *why)
{
	sqlite3_stmt *st = store_stmt(s, Q_MSG_WITHDRAW);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, message_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_TRANSIENT);
	return store_step_done(s, st, "withdraw a suppressed message");
}

int
store_messages_claim(struct store *s, int64_t campaign_id, int64_t owner, int64_t now, int limit,
                     store_claim_cb cb, void *arg, int *withdrawn)
{
	sqlite3_stmt *st = store_stmt(s, Q_MSG_CLAIM);
	if (st == NULL)
		return STORE_E_SQL;
	*withdrawn = 0;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, limit);
	if (owner > 0)
		sqlite3_bind_int64(st, 4, owner);
	/* RETURNING rows first, then the contacts: one statement at a time. */
	int64_t(*ids)[4] = xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		ids[n][0] = sqlite3_column_int64(st, 0);
		ids[n][1] = sqlite3_column_int64(st, 1);
		ids[n][2] = sqlite3_column_int64(st, 2);
		ids[n][3] = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(ids);
		return store_fail(s, "claim messages");
	}
	int ret = 0;
	for (int i = 0; i < n && ret == 0; i++) {
		if ((st = store_stmt(s, Q_MSG_CONTACT)) == NULL) {
			ret = STORE_E_SQL;
			break;
		}
		sqlite3_bind_int64(st, 1, ids[i][1]);
		sqlite3_bind_int64(st, 2, campaign_id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			ret = store_fail(s, "read a claimed message's contact");
			break;
		}
		const char *supp = (const char *)sqlite3_column_text(st, 3);
		bool member = sqlite3_column_int(st, 4) != 0;
		if (supp || !member) {
			char why[160];
			snprintf(why, sizeof(why), "%s%s after the message was queued: not sent",
			         supp ? "suppressed: " : "removed from the campaign's list",
			         supp ? supp : "");
			sqlite3_reset(st);
			ret = withdraw(s, ids[i][0], now, why);
			++*withdrawn;
			continue;
		}
		struct store_claimed m = {
		    .message_id = ids[i][0],
		    .contact_id = ids[i][1],
		    .email = (const char *)sqlite3_column_text(st, 0),
		    .attrs = (const char *)sqlite3_column_text(st, 1),
		    .domain = (const char *)sqlite3_column_text(st, 2),
		    .attempts = (int)ids[i][2],
		    .queued_at = ids[i][3],
		};
		ret = cb(arg, &m);
		sqlite3_reset(st);
	}
	free(ids);
	return ret;
}

static void
store_bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
store_message_result(struct store *s, const struct store_result *r, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, Q_MSG_RESULT);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, r->message_id);
	sqlite3_bind_text(st, 2, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, r->count_attempt ? 1 : 0);
	sqlite3_bind_int64(st, 4, r->next_attempt_at);
	store_bind_opt_text(st, 5, r->stage);
	if (r->code)
		sqlite3_bind_int(st, 6, r->code);
	store_bind_opt_text(st, 7, r->ecode);
	store_bind_opt_text(st, 8, r->text);
	store_bind_opt_text(st, 9, r->host);
	store_bind_opt_text(st, 10, r->tls);
	sqlite3_bind_int64(st, 11, now);
	store_bind_opt_text(st, 12, r->dest);
	store_bind_opt_text(st, 13, r->reason);
	store_bind_opt_text(st, 14, r->klass);
	int rc = store_step_done(s, st, "record a message's outcome");
	if (rc < 0 || !r->count_attempt)
		return rc;
	if ((st = store_stmt(s, Q_EVENT_INSERT)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, r->message_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, r->event, -1, SQLITE_STATIC);
	store_bind_opt_text(st, 4, r->stage);
	if (r->code)
		sqlite3_bind_int(st, 5, r->code);
	store_bind_opt_text(st, 6, r->ecode);
	store_bind_opt_text(st, 7, r->text);
	store_bind_opt_text(st, 8, r->host);
	store_bind_opt_text(st, 9, r->tls);
	store_bind_opt_text(st, 10, r->dest);
	store_bind_opt_text(st, 11, r->reason);
	store_bind_opt_text(st, 12, r->klass);
	return store_step_done(s, st, "record a delivery event");
}

int
store_campaign_counts(struct store *s, int64_t campaign_id, struct store_campaign_counts *c)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_COUNTS);
	if (st == NULL)
		return STORE_E_SQL;
	memset(c, 0, sizeof(*c));
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		int tried = sqlite3_column_int(st, 1);
		int64_t n = sqlite3_column_int64(st, 2);
		c->total += n;
		if (strcmp(state, "queued") == 0) {
			c->queued += n;
			if (tried)
				c->deferred += n;
			int64_t due = sqlite3_column_int64(st, 3);
			if (c->next_due == 0 || due < c->next_due)
				c->next_due = due;
		} else if (strcmp(state, "claimed") == 0) {
			c->claimed += n;
		} else if (strcmp(state, "delivered") == 0) {
			c->delivered += n;
		} else if (strcmp(state, "bounced") == 0) {
			c->bounced += n;
		} else if (strcmp(state, "failed") == 0) {
			c->failed += n;
		} else if (strcmp(state, "suppressed") == 0) {
			c->suppressed += n;
		} else if (strcmp(state, "cancelled") == 0) {
			c->cancelled += n;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "count messages");
}

int
store_campaign_set_links(struct store *s, int64_t campaign_id, const char *links_json)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_LINKS);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_text(st, 2, links_json, -1, SQLITE_STATIC);
	return store_step_done(s, st, "save the campaign's link table");
}

int
store_campaign_set_state(struct store *s, int64_t campaign_id, const char *state)
{
	sqlite3_stmt *st = store_stmt(s, Q_CAMPAIGN_STATE);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	return store_step_done(s, st, "set the campaign's state");
}
