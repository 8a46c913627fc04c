/* store_serve - batched unsubscribe, open and click writes for `kirim serve` (see store_serve.h).
 */
#include "kirim/store_serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kirim/buf.h"
#include "kirim/serve_route.h"
#include "kirim/store.h"
#include "kirim/store_file.h"
#include "kirim/store_signup.h"
#include "kirim/xmalloc.h"
#include "store_int.h"

enum {
	Q_CAMPAIGN,
	Q_QUEUED,
	Q_CONTACT,
	Q_SUPPRESS,
	Q_LIST_REMOVE,
	Q_DROP_QUEUED,
	Q_MESSAGE,
	Q_EVENT,
	Q_UNSUPPRESS,
	Q_LIST_ADD,
	Q_LINK,
	Q_MARK_GET,
	Q_MARK_SET,
	Q_COUNT
};

enum { WAL_FRAMES_MAX = 4096 }; /* 64 MiB of WAL with kirim's 16 KiB pages */

/*
 * The writer's statements, on the store's connection but not in its cache
 * (store_prepare): store_serve_new compiles them with CHECK constraints off,
 * which is fixed in a statement's code, so they live and die with the
 * store_serve (store_serve_free) and no other caller of the store gets them.
 */
static const char *const serve_sql[Q_COUNT] = {
    [Q_CAMPAIGN] = "SELECT name, list_id,"
                   " CASE WHEN json_valid(options) AND json_extract(options,"
                   " '$.unsubscribe_scope') = 'list' THEN 'list' ELSE 'all' END,"
                   " kind = 'confirm' FROM campaigns WHERE id = ?1",
    /* The campaigns that have queued messages (one index seek each). */
    [Q_QUEUED] = "SELECT c.id, c.list_id FROM campaigns c WHERE EXISTS (SELECT 1 FROM"
                 " messages m WHERE m.campaign_id = c.id AND m.state = 'queued')",
    [Q_CONTACT] = "SELECT email FROM contacts WHERE id = ?1",
    /*
     * One row of VALUES, not INSERT ... SELECT: a statement that can write
     * only one row needs no statement journal (with 16 KiB pages, a copy of
     * every page it touches; as INSERT ... SELECT ... WHERE an unsubscribe
     * took about twice the instructions). So the address is read first
     * (Q_CONTACT) and bound: no contact, no INSERT (what SQLite's INSERT OR
     * IGNORE did with a NULL value). DO NOTHING: it is suppressed already.
     */
    [Q_SUPPRESS] = "INSERT INTO suppressions(kind, value, reason, source, created_at)"
                   " VALUES ('address', lower(?1), 'unsubscribe', ?2, ?3) ON CONFLICT DO NOTHING",
    [Q_LIST_REMOVE] = "DELETE FROM list_members WHERE list_id = ?1 AND contact_id = ?2",
    /* By (campaign, contact): UNIQUE (campaign_id, contact_id) finds the row. */
    [Q_DROP_QUEUED] =
        "UPDATE messages SET state = 'suppressed', done_at = ?3, reason = " SUPPRESSION_OF_MESSAGE
        " WHERE campaign_id = ?1 AND contact_id = ?2"
        " AND state = 'queued'",
    /* An event's message, then the event: one row of VALUES (as Q_SUPPRESS), none without a
     * message. */
    [Q_MESSAGE] = "SELECT id FROM messages WHERE campaign_id = ?1 AND contact_id = ?2",
    [Q_EVENT] = "INSERT INTO events(message_id, ts, type, detail) VALUES (?1, ?2, ?3, ?4)",
    [Q_UNSUPPRESS] = "DELETE FROM suppressions WHERE kind = 'address' AND value = lower(?1)"
                     " AND reason = 'unsubscribe'",
    [Q_LIST_ADD] = "INSERT INTO list_members(list_id, contact_id) VALUES (?1, ?2)"
                   " ON CONFLICT DO NOTHING",
    [Q_LINK] = "SELECT json_extract(options, '$.links[' || ?2 || ']') FROM campaigns"
               " WHERE id = ?1 AND json_valid(options)",
    /* How far the journal has been folded: "GENERATION:ID" (see store_serve_fold). */
    [Q_MARK_GET] = "SELECT value FROM settings WHERE key = 'serve_journal'",
    [Q_MARK_SET] = "INSERT INTO settings(key, value) VALUES ('serve_journal', ?1)"
                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
};

/* The journal file's schema (a database of its own, beside the store's). */
static const char journal_schema[] =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta(key, value) VALUES ('generation', lower(hex(randomblob(8))))"
    " ON CONFLICT DO NOTHING;"
    /* AUTOINCREMENT: ids never come back once folded rows are deleted. */
    "CREATE TABLE IF NOT EXISTS unsubscribes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " campaign_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, ts INTEGER NOT NULL);";

/* Folded rows leave the journal (deleted by the journal's writer, or by whoever folds last). */
#define JOURNAL_PRUNE "DELETE FROM unsubscribes WHERE id <= ?1"

/* The fold's statements on the journal (a connection of its own, opened by journal_open). */
enum { J_GENERATION, J_READ, J_DELETE, J_COUNT };
static const char *const journal_sql[J_COUNT] = {
    [J_GENERATION] = "SELECT value FROM meta WHERE key = 'generation'",
    /*
     * The next ?2 rows, in contact order: the fold's look-ups of contacts and
     * messages then walk their indexes forward instead of jumping about (in a
     * random-order fold of 32,768, 4.9 µs an unsubscribe against 11.6 in id
     * order). Only rows of one contact are ordered among themselves, and
     * what one contact's unsubscribe does touches no other contact's rows,
     * so the result is the same as in id order (only the new rows' own ids
     * follow contact order).
     */
    [J_READ] = ("SELECT id, campaign_id, contact_id, ts FROM (SELECT * FROM unsubscribes"
                " WHERE id > ?1 ORDER BY id LIMIT ?2) ORDER BY contact_id, id"),
    [J_DELETE] = JOURNAL_PRUNE,
};

enum { CAMPAIGNS_MAX = 16 }; /* campaigns remembered per batch */

/* A campaign as an unsubscribe needs it, read once per batch. */
struct camp {
	int64_t id;
	bool found;
	bool list_scope;
	bool confirm; /* a confirmation campaign: list scope always, no resubscribe */
	int64_t list_id;
	char source[300]; /* "campaign:NAME" */
};

/* A campaign with queued messages (their rows are what an unsubscribe drops). */
struct queued {
	int64_t id, list_id;
};

struct store_serve {
	struct store *s;
	sqlite3_stmt *st[Q_COUNT];
	sqlite3 *ckpt; /* a second connection for checkpoints, or NULL */
	bool wal_full; /* the WAL passed WAL_FRAMES_MAX (set by the checkpoint thread) */
	/* Valid during one store_serve_apply (the batch's transaction). */
	struct camp camps[CAMPAIGNS_MAX];
	size_t ncamps, camp_next;
	struct queued *queued;
	size_t nqueued, queued_cap;
	bool queued_known;
	/* The journal, opened by the first store_serve_fold that finds it. */
	sqlite3 *journal;
	sqlite3_stmt *jst[J_COUNT];
};

/* store_serve_new - prepare every statement once */
struct store_serve *
store_serve_new(struct store *s)
{
	struct store_serve *ss = xcalloc(1, sizeof(*ss));
	ss->s = s;
	/*
	 * Each unsubscribe touches random pages of five indexes (contacts,
	 * messages, suppressions, events): a page cache that holds most of them
	 * keeps the writer off pread for most events (a 256 MiB cache plus 1 GiB
	 * of mmap measured no faster in bench-serve, in either order). For this
	 * connection only; a failure here only costs speed.
	 */
	sqlite3_exec(store_db(s), "PRAGMA cache_size = -65536", NULL, NULL, NULL);
	/*
	 * The CHECK constraints of events, suppressions and messages test columns
	 * that these statements set only to constants of their own ('address',
	 * 'unsubscribe', 'suppressed', the event types), so they cannot fail
	 * here; evaluating them costs each insert a temporary table for the
	 * IN (...) list, a fifth of an unsubscribe's time. Off for this
	 * connection until store_serve_free (set before the statements are
	 * prepared: it changes the code SQLite makes for them).
	 */
	sqlite3_exec(store_db(s), "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL);
	/* Statement journals and temporary tables in memory, never in a file per statement.
	 * A change of temp_store drops the temporary tables: the report rollups' names of
	 * messages (store_rollup.c) is made again. */
	sqlite3_exec(store_db(s), "PRAGMA temp_store = MEMORY; " STORE_ROLLUP_TEMP, NULL, NULL,
	             NULL);
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(store_db(s), serve_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &ss->st[i], NULL) != SQLITE_OK) {
			store_fail(s, "prepare the serve statements");
			store_serve_free(ss);
			return NULL;
		}
	}
	return ss;
}

/* store_serve_free - finalize the statements */
void
store_serve_free(struct store_serve *ss)
{
	if (ss == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(ss->st[i]);
	if (ss->ckpt) {
		sqlite3_exec(store_db(ss->s), "PRAGMA wal_autocheckpoint = 1000", NULL, NULL, NULL);
		sqlite3_close(ss->ckpt);
	}
	for (int i = 0; i < J_COUNT; i++)
		sqlite3_finalize(ss->jst[i]);
	sqlite3_close(ss->journal);
	sqlite3_exec(store_db(ss->s),
	             "PRAGMA ignore_check_constraints = OFF; PRAGMA temp_store = DEFAULT;"
	             " " STORE_ROLLUP_TEMP,
	             NULL, NULL, NULL);
	free(ss->queued);
	free(ss);
}

/* A statement reset and ready for its bindings. */
static sqlite3_stmt *
q(struct store_serve *ss, int id)
{
	sqlite3_stmt *st = ss->st[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* The campaign of e, from this batch's cache or the database; NULL when it does not exist. */
static int
campaign_get(struct store_serve *ss, int64_t id, const struct camp **out)
{
	for (size_t i = 0; i < ss->ncamps; i++) {
		if (ss->camps[i].id == id) {
			*out = ss->camps[i].found ? &ss->camps[i] : NULL;
			return 0;
		}
	}
	struct camp *c;
	if (ss->ncamps < CAMPAIGNS_MAX) {
		c = &ss->camps[ss->ncamps++];
	} else {
		c = &ss->camps[ss->camp_next];
		ss->camp_next = (ss->camp_next + 1) % CAMPAIGNS_MAX;
	}
	memset(c, 0, sizeof(*c));
	c->id = id;
	sqlite3_stmt *st = q(ss, Q_CAMPAIGN);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *scope = (const char *)sqlite3_column_text(st, 2);
		snprintf(c->source, sizeof(c->source), "campaign:%s", name ? name : "");
		c->list_id = sqlite3_column_int64(st, 1);
		c->confirm = sqlite3_column_int(st, 3) != 0;
		c->list_scope = c->confirm || (scope && strcmp(scope, "list") == 0);
		c->found = true;
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		c->id = -1; /* not remembered */
		return store_fail(ss->s, "find the campaign");
	}
	sqlite3_reset(st);
	*out = c->found ? c : NULL;
	return 0;
}

/* Which campaigns have queued messages: read once per batch, when an unsubscribe needs it. */
static int
queued_load(struct store_serve *ss)
{
	if (ss->queued_known)
		return 0;
	ss->nqueued = 0;
	sqlite3_stmt *st = q(ss, Q_QUEUED);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ss->nqueued == ss->queued_cap) {
			ss->queued_cap = ss->queued_cap ? 2 * ss->queued_cap : 8;
			ss->queued = xrealloc(ss->queued, ss->queued_cap * sizeof(*ss->queued));
		}
		ss->queued[ss->nqueued].id = sqlite3_column_int64(st, 0);
		ss->queued[ss->nqueued].list_id = sqlite3_column_int64(st, 1);
		ss->nqueued++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(ss->s, "find the campaigns with queued messages");
	ss->queued_known = true;
	return 0;
}

/* Whether the contact exists (1), not (0), or an error. */
static int
contact_email(struct store_serve *ss, int64_t id, char *email, size_t size)
{
	sqlite3_stmt *st = q(ss, Q_CONTACT);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(st, 0);
		if (email)
			snprintf(email, size, "%s", e ? e : "");
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(ss->s, "find the contact");
}

static int
event_add(struct store_serve *ss, struct store_serve_event *e, const char *type, const char *detail)
{
	if (e->dry)
		return 0;
	sqlite3_stmt *st = q(ss, Q_MESSAGE);
	sqlite3_bind_int64(st, 1, e->campaign_id);
	sqlite3_bind_int64(st, 2, e->contact_id);
	int rc = sqlite3_step(st);
	int64_t message_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		e->recorded = false; /* no message of the campaign to this contact */
		return 0;
	}
	if (rc != SQLITE_ROW)
		return store_fail(ss->s, "find the event's message");
	st = q(ss, Q_EVENT);
	sqlite3_bind_int64(st, 1, message_id);
	sqlite3_bind_int64(st, 2, e->ts);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, detail, -1, SQLITE_TRANSIENT);
	rc = store_step_done(ss->s, st, "record the event");
	if (rc == 0)
		e->recorded = sqlite3_changes(store_db(ss->s)) > 0;
	return rc;
}

/*
 * The suppression (or list removal) says whether anything changed. A
 * suppression needs the address, so the contact is read first; a list
 * removal looks the contact up only when nothing changed, to tell "already
 * unsubscribed" from "no such contact". Queued messages are dropped campaign
 * by campaign, only in the campaigns that have any (known once per batch).
 */
/* Whether e applies to the campaign's list only: its own scope, else the campaign's. */
static bool
list_scoped(const struct store_serve_event *e, const struct camp *c)
{
	if (c->confirm)
		return true;
	if (e->scope == STORE_SERVE_SCOPE_CAMPAIGN)
		return c->list_scope;
	return e->scope == STORE_SERVE_SCOPE_LIST;
}

/* The unsubscribe event's detail: {"scope":..} and the reason when one was given. */
static void
unsubscribe_detail(const struct store_serve_event *e, bool list, struct buf *b)
{
	buf_adds(b, list ? "{\"scope\":\"list\"" : "{\"scope\":\"all\"");
	if (e->reason && *e->reason) {
		buf_adds(b, ",\"reason\":");
		buf_json_string(b, e->reason, strlen(e->reason));
	}
	buf_addc(b, '}');
}

/* rollup_dropped - campaign's message to contact, dropped, into the report rollups */
static int
rollup_dropped(struct store_serve *ss, int64_t campaign, int64_t contact)
{
	static const char sql[] = "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages"
	                          " WHERE campaign_id = ?1 AND contact_id = ?2";
	sqlite3_stmt *st = store_prepare(ss->s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign);
	sqlite3_bind_int64(st, 2, contact);
	int rc = store_step_done(ss->s, st, "name a dropped message");
	return rc < 0 ? rc : store_rollup_in(ss->s);
}

static int
unsubscribe(struct store_serve *ss, struct store_serve_event *e, const struct camp *c)
{
	sqlite3_stmt *st;
	char email[256]; /* an address is at most 254 octets (address.h) */
	int rc;
	bool list = list_scoped(e, c);
	if (list) {
		st = q(ss, Q_LIST_REMOVE);
		sqlite3_bind_int64(st, 1, c->list_id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		rc = store_step_done(ss->s, st, "remove from the list");
	} else {
		if ((rc = contact_email(ss, e->contact_id, email, sizeof(email))) <= 0)
			return rc < 0 ? rc : STORE_E_NOTFOUND;
		st = q(ss, Q_SUPPRESS);
		sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e->ts);
		rc = store_step_done(ss->s, st, "suppress the address");
	}
	if (rc < 0)
		return rc;
	e->changed = sqlite3_changes(store_db(ss->s)) > 0;
	if (!e->changed && list && (rc = contact_email(ss, e->contact_id, NULL, 0)) <= 0)
		return rc < 0 ? rc : STORE_E_NOTFOUND;
	if ((rc = queued_load(ss)) < 0)
		return rc;
	for (size_t i = 0; i < ss->nqueued; i++) {
		if (list && ss->queued[i].list_id != c->list_id)
			continue;
		st = q(ss, Q_DROP_QUEUED);
		sqlite3_bind_int64(st, 1, ss->queued[i].id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		sqlite3_bind_int64(st, 3, e->ts);
		if ((rc = store_step_done(ss->s, st, "drop queued messages")) < 0)
			return rc;
		/* Queued, it had no rollup row; suppressed, it is put in (store_rollup.c). */
		if (sqlite3_changes(store_db(ss->s)) > 0 &&
		    ((rc = rollup_dropped(ss, ss->queued[i].id, e->contact_id)) < 0))
			return rc;
	}
	if (!e->changed)
		return 0;
	struct buf detail = BUF_INIT;
	unsubscribe_detail(e, list, &detail);
	rc = event_add(ss, e, "unsubscribe", detail.data);
	buf_free(&detail);
	return rc;
}

static int
resubscribe(struct store_serve *ss, struct store_serve_event *e, const struct camp *c)
{
	sqlite3_stmt *st;
	char email[256];
	if (c->confirm)
		return STORE_E_NOTFOUND;
	int rc = contact_email(ss, e->contact_id, email, sizeof(email));
	if (rc <= 0)
		return rc < 0 ? rc : STORE_E_NOTFOUND;
	if (list_scoped(e, c)) {
		st = q(ss, Q_LIST_ADD);
		sqlite3_bind_int64(st, 1, c->list_id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		rc = store_step_done(ss->s, st, "add back to the list");
	} else {
		st = q(ss, Q_UNSUPPRESS);
		sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
		rc = store_step_done(ss->s, st, "lift the suppression");
	}
	if (rc == 0)
		e->changed = sqlite3_changes(store_db(ss->s)) > 0;
	return rc;
}

static int
click_url(struct store_serve *ss, struct store_serve_event *e)
{
	sqlite3_stmt *st = q(ss, Q_LINK);
	sqlite3_bind_int64(st, 1, e->campaign_id);
	sqlite3_bind_int64(st, 2, e->link);
	int rc = sqlite3_step(st);
	int ret = STORE_E_NOTFOUND;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
		const char *u = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		/* A URL unfit for a Location header is treated as absent, and not counted. */
		if (n < sizeof(e->url) && serve_route_redirect_ok(u)) {
			memcpy(e->url, u, n + 1);
			ret = 0;
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = store_fail(ss->s, "read the link table");
	}
	sqlite3_reset(st);
	return ret;
}

/* One event; STORE_E_NOTFOUND is a per-event result, other errors end the batch. */
static int
apply_one(struct store_serve *ss, struct store_serve_event *e)
{
	const struct camp *c;
	char detail[96];
	int rc;
	switch (e->type) {
	case STORE_SERVE_UNSUBSCRIBE:
	case STORE_SERVE_RESUBSCRIBE:
		if ((rc = campaign_get(ss, e->campaign_id, &c)) < 0)
			return rc;
		if (c == NULL)
			return STORE_E_NOTFOUND;
		return e->type == STORE_SERVE_UNSUBSCRIBE ? unsubscribe(ss, e, c)
		                                          : resubscribe(ss, e, c);
	case STORE_SERVE_OPEN:
		if (e->machine)
			snprintf(detail, sizeof(detail), "{\"machine\":true,\"agent\":\"%s\"}",
			         e->agent ? e->agent : "");
		else
			snprintf(detail, sizeof(detail), "{\"machine\":false}");
		if ((rc = event_add(ss, e, "open", detail)) < 0)
			return rc;
		return e->recorded ? 0 : STORE_E_NOTFOUND;
	case STORE_SERVE_CLICK:
		if ((rc = click_url(ss, e)) < 0)
			return rc;
		snprintf(detail, sizeof(detail), "{\"link\":%u}", e->link);
		return event_add(ss, e, "click", detail);
	case STORE_SERVE_SIGNUP:
		rc = store_signup_add(ss->s, e->signup, e->ts);
		e->changed = rc == 0 && e->signup->outcome == STORE_SIGNUP_SENT;
		return rc;
	case STORE_SERVE_CONFIRM: {
		enum store_confirm_outcome out = STORE_CONFIRM_ALREADY;
		rc = store_signup_confirm(ss->s, e->campaign_id, e->contact_id, e->ip, e->ts, &out);
		e->confirmed = (int)out;
		e->changed = rc == 0 && out == STORE_CONFIRM_DONE;
		return rc;
	}
	}
	return STORE_E_NOTFOUND;
}

/*
 * A second connection to path for checkpoints, and the end of the automatic
 * ones on writer (they ran in the commit that passed the limit, fsyncs and
 * all); 0, or -1 with *out NULL.
 */
static int
ckpt_open(const char *path, sqlite3 *writer, sqlite3 **out)
{
	if (sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(*out);
		*out = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*out, 5000);
	/* A connection finds the journal mode when it first reads the file. */
	sqlite3_exec(*out, "PRAGMA journal_mode", NULL, NULL, NULL);
	/*
	 * After a checkpoint has caught up, the next commit restarts the WAL; it
	 * is trimmed only past 128 MiB (twice the store's WAL_FRAMES_MAX), so it
	 * is overwritten in place (writing into a trimmed file costs the kernel
	 * new pages every time).
	 */
	sqlite3_exec(writer, "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 134217728",
	             NULL, NULL, NULL);
	return 0;
}

/*
 * One passive checkpoint on ckpt (the second connection; NULL: none). Under
 * a steady stream of commits a passive checkpoint never finds the log fully
 * copied when a writer starts, so the WAL would only grow. Past
 * WAL_FRAMES_MAX this sets *full, and the writer copies what little is left
 * after its next commit (ckpt_finish): its next transaction starts the WAL
 * over from its beginning. (A RESTART checkpoint here would take the write
 * lock from a writer that holds it almost all the time, and its busy-handler
 * sleeps, whole milliseconds, would stall every request.)
 */
static int
ckpt_passive(sqlite3 *ckpt, bool *full)
{
	if (ckpt == NULL)
		return 0;
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_OK)
		__atomic_store_n(full, log > WAL_FRAMES_MAX, __ATOMIC_RELAXED);
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : STORE_E_SQL;
}

/* After a commit on writer: the WAL restart of ckpt_passive, when *full. */
static void
ckpt_finish(sqlite3 *writer, bool *full)
{
	if (!__atomic_load_n(full, __ATOMIC_RELAXED))
		return;
	/* BUSY: the checkpoint thread is copying; try after the next commit. */
	int log = 0, done = 0;
	if (sqlite3_wal_checkpoint_v2(writer, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
	    SQLITE_OK)
		__atomic_store_n(full, false, __ATOMIC_RELAXED);
}

/* store_serve_checkpoint_start - move WAL checkpoints to a second connection */
int
store_serve_checkpoint_start(struct store_serve *ss)
{
	if (ss->ckpt == NULL && ckpt_open(store_path(ss->s), store_db(ss->s), &ss->ckpt) < 0)
		return store_fail(ss->s, "open the checkpoint connection");
	return 0;
}

/* store_serve_checkpoint - one passive checkpoint on the second connection */
int
store_serve_checkpoint(struct store_serve *ss)
{
	return ckpt_passive(ss->ckpt, &ss->wal_full);
}

/* The events written since first_id into the report rollups, COMMIT (rolled back on
 * failure), then the WAL restart of ckpt_passive. */
static int
commit(struct store_serve *ss, int64_t first_id)
{
	int rc = store_rollup_events_since(ss->s, first_id);
	if (rc == 0)
		rc = store_commit(ss->s);
	if (rc < 0) {
		store_rollback(ss->s);
		return rc;
	}
	ckpt_finish(store_db(ss->s), &ss->wal_full);
	return 0;
}

/* store_serve_apply - a batch of events in one transaction */
int
store_serve_apply(struct store_serve *ss, struct store_serve_event *ev, size_t n)
{
	int64_t mark = 0;
	int rc = store_begin(ss->s);
	if (rc < 0)
		return rc;
	if ((rc = store_rollup_mark(ss->s, &mark)) < 0) {
		store_rollback(ss->s);
		return rc;
	}
	ss->ncamps = ss->camp_next = 0;
	ss->queued_known = false;
	for (size_t i = 0; i < n; i++) {
		struct store_serve_event *e = &ev[i];
		e->result = 0;
		e->changed = e->recorded = false;
		e->url[0] = '\0';
		rc = apply_one(ss, e);
		/* Per-event results: the event wrote nothing (a signup refused before writing). */
		if (rc == STORE_E_NOTFOUND ||
		    (rc == STORE_E_EXISTS && e->type == STORE_SERVE_SIGNUP)) {
			e->result = rc;
			continue;
		}
		if (rc < 0) {
			store_rollback(ss->s);
			return rc;
		}
	}
	return commit(ss, mark);
}

/* ---- the journal ----------------------------------------------------------------------- */

/* store_serve_journal_path - the journal's file for the database at db */
void
store_serve_journal_path(const char *db, char *out, size_t size)
{
	snprintf(out, size, "%s-serve", db);
}

/* Open the journal for folding (not created here); 0 when there is none yet. */
static int
journal_open(struct store_serve *ss)
{
	if (ss->journal)
		return 1;
	char path[4096];
	store_serve_journal_path(store_path(ss->s), path, sizeof(path));
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return 0;
	}
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < J_COUNT; i++) {
		if (sqlite3_prepare_v3(db, journal_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &ss->jst[i], NULL) != SQLITE_OK) {
			for (int k = 0; k < i; k++) {
				sqlite3_finalize(ss->jst[k]);
				ss->jst[k] = NULL;
			}
			sqlite3_close(db);
			return 0; /* not a journal (yet): its creator has not made the tables */
		}
	}
	ss->journal = db;
	return 1;
}

/* The journal's generation (a random name made with the file), into gen; 0 or -1. */
static int
journal_generation(struct store_serve *ss, char *gen, size_t size)
{
	sqlite3_stmt *st = ss->jst[J_GENERATION];
	sqlite3_reset(st);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(gen, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* How far this journal generation has been folded (0: not at all). */
static int64_t
journal_mark(struct store_serve *ss, const char *gen)
{
	sqlite3_stmt *st = q(ss, Q_MARK_GET);
	int64_t last = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		size_t gl = strlen(gen);
		if (v && strncmp(v, gen, gl) == 0 && v[gl] == ':')
			last = strtoll(v + gl + 1, NULL, 10);
	}
	sqlite3_reset(st);
	return last;
}

/*
 * store_serve_fold - apply journaled unsubscribes to the database: at most
 * max of them (0: all), in one transaction that also records how far the
 * journal is folded (the rows stay in the journal: store_serve_prune and
 * store_journal_add delete them).
 */
int
store_serve_fold(struct store_serve *ss, size_t max, size_t *folded, int64_t *through)
{
	*folded = 0;
	*through = 0;
	if (!journal_open(ss))
		return 0;
	char gen[64];
	if (journal_generation(ss, gen, sizeof(gen)) < 0)
		return 0;
	int64_t first_event = 0;
	int rc = store_begin(ss->s);
	if (rc < 0)
		return rc;
	if ((rc = store_rollup_mark(ss->s, &first_event)) < 0) {
		store_rollback(ss->s);
		return rc;
	}
	ss->ncamps = ss->camp_next = 0;
	ss->queued_known = false;
	int64_t last = journal_mark(ss, gen), upto = last;
	*through = last;
	sqlite3_stmt *rd = ss->jst[J_READ];
	sqlite3_reset(rd);
	sqlite3_bind_int64(rd, 1, last);
	sqlite3_bind_int64(rd, 2, max ? (int64_t)max : -1);
	size_t n = 0;
	int step;
	while ((step = sqlite3_step(rd)) == SQLITE_ROW) {
		struct store_serve_event e = {.type = STORE_SERVE_UNSUBSCRIBE};
		if (sqlite3_column_int64(rd, 0) > upto) /* rows come in contact order */
			upto = sqlite3_column_int64(rd, 0);
		e.campaign_id = sqlite3_column_int64(rd, 1);
		e.contact_id = sqlite3_column_int64(rd, 2);
		e.ts = sqlite3_column_int64(rd, 3);
		rc = apply_one(ss, &e);
		if (rc < 0 && rc != STORE_E_NOTFOUND) {
			sqlite3_reset(rd);
			store_rollback(ss->s);
			return rc;
		}
		n++;
	}
	sqlite3_reset(rd);
	if (step != SQLITE_DONE) {
		store_rollback(ss->s);
		return STORE_E_SQL;
	}
	if (n == 0) {
		store_rollback(ss->s);
		return 0;
	}
	char mark[96];
	snprintf(mark, sizeof(mark), "%s:%lld", gen, (long long)upto);
	sqlite3_stmt *st = q(ss, Q_MARK_SET);
	sqlite3_bind_text(st, 1, mark, -1, SQLITE_TRANSIENT);
	if ((rc = store_step_done(ss->s, st, "record the journal's progress")) < 0) {
		store_rollback(ss->s);
		return rc;
	}
	if ((rc = commit(ss, first_event)) < 0)
		return rc;
	*folded = n;
	*through = upto;
	return 0;
}

/* store_serve_prune - delete the journal's rows up to through (folded ones) */
void
store_serve_prune(struct store_serve *ss, int64_t through)
{
	if (through <= 0 || !journal_open(ss))
		return;
	sqlite3_stmt *del = ss->jst[J_DELETE];
	sqlite3_reset(del);
	sqlite3_bind_int64(del, 1, through);
	sqlite3_step(del); /* busy: they go with a later prune (folded rows are skipped anyway) */
	sqlite3_reset(del);
}

/* The journal's writer side: the file, and reads of the store's database for the answers,
 * each on a connection of its own (with its statements, prepared once in store_journal_open). */
enum { W_CAMPAIGN, W_CONTACT, W_INSERT, W_PRUNE, W_PRUNED, W_COUNT };
enum { PRUNE_STEP = 1024 }; /* folded rows deleted per journal commit, at most */

struct store_journal {
	sqlite3 *db, *main;
	sqlite3 *ckpt; /* a second connection for checkpoints, or NULL */
	bool wal_full; /* the WAL passed WAL_FRAMES_MAX (set by the checkpoint thread) */
	sqlite3_stmt *st[W_COUNT];
	int64_t pruned; /* rows up to this id are deleted */
	char err[256];
};

/* store_journal_open - create or open the journal of the database at db_path */
struct store_journal *
store_journal_open(const char *db_path, char *err, size_t errsz)
{
	struct store_journal *j = xcalloc(1, sizeof(*j));
	char path[4096];
	store_serve_journal_path(db_path, path, sizeof(path));
	/* A new journal is made as private as the database (0600, or 0640 when the database is
	 * group-readable) before SQLite would make it 0644; its -wal follows (store_file.h). */
	if (store_file_create(path, store_file_flags_of(db_path), err, errsz) < 0) {
		store_journal_close(j);
		return NULL;
	}
	/* Each step names what it does and the connection it does it on, for the error. */
	const char *what = "open the serve journal";
	sqlite3 **db = &j->db;
	const char *file = path;
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(j->db, 5000);
	what = "create the serve journal's tables";
	if (sqlite3_exec(j->db, journal_schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	what = "open the database for the journal's look-ups";
	db = &j->main;
	file = db_path;
	if (sqlite3_open_v2(db_path, &j->main, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(j->main, 5000);
	sqlite3_exec(j->main, "PRAGMA query_only = ON; PRAGMA cache_size = -65536", NULL, NULL,
	             NULL);
	static const char *const sql[W_COUNT] = {
	    [W_CAMPAIGN] = "SELECT 1 FROM campaigns WHERE id = ?1",
	    [W_CONTACT] = "SELECT 1 FROM contacts WHERE id = ?1",
	    [W_INSERT] =
	        "INSERT INTO unsubscribes(campaign_id, contact_id, ts) VALUES (?1, ?2, ?3)",
	    [W_PRUNE] = JOURNAL_PRUNE,
	    /* Every row up to this id is gone (AUTOINCREMENT: sqlite_sequence has the last). */
	    [W_PRUNED] = ("SELECT coalesce((SELECT min(id) FROM unsubscribes) - 1, (SELECT seq FROM"
	                  " sqlite_sequence WHERE name = 'unsubscribes'), 0)"),
	};
	what = "prepare the journal's statements";
	for (int i = 0; i < W_COUNT; i++) {
		bool in_journal = i == W_INSERT || i == W_PRUNE || i == W_PRUNED;
		db = in_journal ? &j->db : &j->main;
		file = in_journal ? path : db_path;
		if (sqlite3_prepare_v3(*db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i],
		                       NULL) != SQLITE_OK)
			goto fail;
	}
	what = "read the serve journal";
	db = &j->db;
	file = path;
	if (sqlite3_step(j->st[W_PRUNED]) != SQLITE_ROW)
		goto fail;
	j->pruned = sqlite3_column_int64(j->st[W_PRUNED], 0);
	sqlite3_reset(j->st[W_PRUNED]);
	return j;
fail:
	snprintf(err, errsz, "%s (%s): %s", what, file, *db ? sqlite3_errmsg(*db) : "no memory");
	store_journal_close(j);
	return NULL;
}

/* store_journal_close - finalize and close; NULL is a no-op */
void
store_journal_close(struct store_journal *j)
{
	if (j == NULL)
		return;
	for (int i = 0; i < W_COUNT; i++)
		sqlite3_finalize(j->st[i]);
	sqlite3_close(j->ckpt);
	sqlite3_close(j->db);
	sqlite3_close(j->main);
	free(j);
}

/* store_journal_checkpoint_start - move the journal's WAL checkpoints to a second connection */
int
store_journal_checkpoint_start(struct store_journal *j)
{
	if (j->ckpt == NULL && ckpt_open(sqlite3_db_filename(j->db, "main"), j->db, &j->ckpt) < 0) {
		snprintf(j->err, sizeof(j->err), "open the journal's checkpoint connection");
		return STORE_E_SQL;
	}
	return 0;
}

/* store_journal_checkpoint - one passive checkpoint of the journal */
int
store_journal_checkpoint(struct store_journal *j)
{
	return ckpt_passive(j->ckpt, &j->wal_full);
}

/* store_journal_errmsg - the last failure of j */
const char *
store_journal_errmsg(const struct store_journal *j)
{
	return j->err;
}

/* Whether the row of id exists (1), not (0), or an error. */
static int
journal_exists(struct store_journal *j, int w, int64_t id)
{
	sqlite3_stmt *st = j->st[w];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Record db's error for what in j; STORE_E_BUSY or STORE_E_SQL. */
static int
journal_fail(struct store_journal *j, sqlite3 *db, const char *what)
{
	snprintf(j->err, sizeof(j->err), "%s: %s", what, sqlite3_errmsg(db));
	return sqlite3_errcode(db) == SQLITE_BUSY ? STORE_E_BUSY : STORE_E_SQL;
}

/* store_journal_add - journal n one-click unsubscribes in one transaction */
int
store_journal_add(struct store_journal *j, struct store_serve_event *ev, size_t n, int64_t *last,
                  int64_t prune)
{
	if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return journal_fail(j, j->db, "write the serve journal");
	/* One read transaction for the batch's look-ups: one shared lock, not two per event. */
	sqlite3_exec(j->main, "BEGIN", NULL, NULL, NULL);
	sqlite3 *bad = NULL; /* the connection that failed */
	const char *what = "write the serve journal";
	/*
	 * Folded rows go in this thread's own transaction (no lock to share with
	 * the fold), at most PRUNE_STEP of them per commit: all of a 32,768-row
	 * fold at once took ~3 ms, and every answer in that batch waited for it.
	 */
	if (prune > j->pruned + PRUNE_STEP)
		prune = j->pruned + PRUNE_STEP;
	if (prune > j->pruned) {
		sqlite3_stmt *st = j->st[W_PRUNE];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, prune);
		if (sqlite3_step(st) != SQLITE_DONE)
			bad = j->db;
		sqlite3_reset(st);
	}
	for (size_t i = 0; bad == NULL && i < n; i++) {
		struct store_serve_event *e = &ev[i];
		e->changed = e->recorded = false;
		int c = journal_exists(j, W_CAMPAIGN, e->campaign_id);
		int k = c > 0 ? journal_exists(j, W_CONTACT, e->contact_id) : c;
		if (k < 0) {
			bad = j->main;
			what = "look up the campaign or contact";
			break;
		}
		e->result = k ? 0 : STORE_E_NOTFOUND;
		if (!k)
			continue;
		sqlite3_stmt *st = j->st[W_INSERT];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, e->campaign_id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		sqlite3_bind_int64(st, 3, e->ts);
		if (sqlite3_step(st) != SQLITE_DONE)
			bad = j->db;
		sqlite3_reset(st);
	}
	sqlite3_exec(j->main, "COMMIT", NULL, NULL, NULL); /* ends the read transaction */
	if (bad == NULL && sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		bad = j->db;
	if (bad) {
		int rc = journal_fail(j, bad, what); /* before ROLLBACK replaces the error */
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	*last = sqlite3_last_insert_rowid(j->db);
	ckpt_finish(j->db, &j->wal_full);
	if (prune > j->pruned)
		j->pruned = prune;
	return 0;
}

/* store_serve_fold_pending - fold whatever a stopped kirim serve left in the journal */
int
store_serve_fold_pending(struct store *s)
{
	char path[4096];
	store_serve_journal_path(store_path(s), path, sizeof(path));
	if (access(path, F_OK) != 0)
		return 0;
	struct store_serve *ss = store_serve_new(s);
	if (ss == NULL)
		return STORE_E_SQL;
	size_t n = 0;
	int64_t through = 0;
	int rc = store_serve_fold(ss, 0, &n, &through);
	if (rc == 0)
		store_serve_prune(ss, through);
	store_serve_free(ss);
	return rc;
}
