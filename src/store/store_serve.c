/* store_serve - batched unsubscribe, open and click writes for `kirim serve` (see store_serve.h).
 */
#include "kirim/store_serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/serve_route.h"
#include "kirim/store.h"
#include "kirim/xmalloc.h"
#include "store_int.h"

enum {
	Q_TARGET,
	Q_SUPPRESS,
	Q_LIST_REMOVE,
	Q_DROP_QUEUED,
	Q_EVENT,
	Q_UNSUPPRESS,
	Q_LIST_ADD,
	Q_LINK,
	Q_COUNT
};

enum { WAL_FRAMES_MAX = 4096 }; /* 64 MiB of WAL with kirim's 16 KiB pages */

static const char *const serve_sql[Q_COUNT] = {
    [Q_TARGET] = "SELECT c.name, c.list_id,"
                 " CASE WHEN json_valid(c.options) AND json_extract(c.options,"
                 " '$.unsubscribe_scope') = 'list' THEN 'list' ELSE 'all' END, k.email"
                 " FROM campaigns c, contacts k WHERE c.id = ?1 AND k.id = ?2",
    [Q_SUPPRESS] = "INSERT INTO suppressions(kind, value, reason, source, created_at)"
                   " VALUES ('address', lower(?1), 'unsubscribe', ?2, ?3)"
                   " ON CONFLICT (value, kind) DO NOTHING",
    [Q_LIST_REMOVE] = "DELETE FROM list_members WHERE list_id = ?1 AND contact_id = ?2",
    /* ?3 NULL: every campaign (address scope); else the campaigns of that list. */
    /* By campaign, so that UNIQUE (campaign_id, contact_id) finds the rows. */
    [Q_DROP_QUEUED] = "UPDATE messages SET state = 'suppressed', done_at = ?2"
                      " WHERE campaign_id IN (SELECT id FROM campaigns WHERE ?3 IS NULL"
                      " OR list_id = ?3) AND contact_id = ?1 AND state = 'queued'",
    [Q_EVENT] = "INSERT INTO events(message_id, ts, type, detail)"
                " SELECT id, ?3, ?4, ?5 FROM messages WHERE campaign_id = ?1 AND contact_id = ?2",
    [Q_UNSUPPRESS] = "DELETE FROM suppressions WHERE kind = 'address' AND value = lower(?1)"
                     " AND reason = 'unsubscribe'",
    [Q_LIST_ADD] = "INSERT INTO list_members(list_id, contact_id) VALUES (?1, ?2)"
                   " ON CONFLICT DO NOTHING",
    [Q_LINK] = "SELECT json_extract(options, '$.links[' || ?2 || ']') FROM campaigns"
               " WHERE id = ?1 AND json_valid(options)",
};

struct store_serve {
	struct store *s;
	sqlite3_stmt *st[Q_COUNT];
	sqlite3 *ckpt; /* a second connection for checkpoints, or NULL */
};

/* store_serve_new - prepare every statement once */
struct store_serve *
store_serve_new(struct store *s)
{
	struct store_serve *ss = xcalloc(1, sizeof(*ss));
	ss->s = s;
	/*
	 * Each unsubscribe touches random pages of five indexes (contacts,
	 * messages, suppressions, events): a page cache that holds them, and
	 * reads through mmap, keep the writer off pread for every event. For
	 * this connection only; a failure here only costs speed.
	 */
	sqlite3_exec(store_db(s), "PRAGMA cache_size = -65536", NULL, NULL, NULL);
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

/* Step a statement that returns no rows; 0 or a store error. */
static int
run(struct store_serve *ss, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(ss->s, what);
	sqlite3_reset(st);
	return ret;
}

struct target {
	char source[300]; /* "campaign:NAME" */
	int64_t list_id;
	bool list_scope;
	char email[256];
};

static int
target_get(struct store_serve *ss, const struct store_serve_event *e, struct target *t)
{
	sqlite3_stmt *st = q(ss, Q_TARGET);
	sqlite3_bind_int64(st, 1, e->campaign_id);
	sqlite3_bind_int64(st, 2, e->contact_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *scope = (const char *)sqlite3_column_text(st, 2);
		const char *email = (const char *)sqlite3_column_text(st, 3);
		snprintf(t->source, sizeof(t->source), "campaign:%s", name ? name : "");
		t->list_id = sqlite3_column_int64(st, 1);
		t->list_scope = scope && strcmp(scope, "list") == 0;
		snprintf(t->email, sizeof(t->email), "%s", email ? email : "");
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? STORE_E_NOTFOUND : store_fail(ss->s, "find the campaign");
}

static int
event_add(struct store_serve *ss, struct store_serve_event *e, const char *type, const char *detail)
{
	if (e->dry)
		return 0;
	sqlite3_stmt *st = q(ss, Q_EVENT);
	sqlite3_bind_int64(st, 1, e->campaign_id);
	sqlite3_bind_int64(st, 2, e->contact_id);
	sqlite3_bind_int64(st, 3, e->ts);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_TRANSIENT);
	int rc = run(ss, st, "record the event");
	if (rc == 0)
		e->recorded = sqlite3_changes(store_db(ss->s)) > 0;
	return rc;
}

static int
unsubscribe(struct store_serve *ss, struct store_serve_event *e, const struct target *t)
{
	sqlite3_stmt *st;
	int rc;
	if (t->list_scope) {
		st = q(ss, Q_LIST_REMOVE);
		sqlite3_bind_int64(st, 1, t->list_id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		rc = run(ss, st, "remove from the list");
	} else {
		st = q(ss, Q_SUPPRESS);
		sqlite3_bind_text(st, 1, t->email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e->ts);
		rc = run(ss, st, "suppress the address");
	}
	if (rc < 0)
		return rc;
	e->changed = sqlite3_changes(store_db(ss->s)) > 0;
	st = q(ss, Q_DROP_QUEUED);
	sqlite3_bind_int64(st, 1, e->contact_id);
	sqlite3_bind_int64(st, 2, e->ts);
	if (t->list_scope)
		sqlite3_bind_int64(st, 3, t->list_id);
	if ((rc = run(ss, st, "drop queued messages")) < 0)
		return rc;
	if (!e->changed)
		return 0;
	return event_add(ss, e, "unsubscribe",
	                 t->list_scope ? "{\"scope\":\"list\"}" : "{\"scope\":\"all\"}");
}

static int
resubscribe(struct store_serve *ss, struct store_serve_event *e, const struct target *t)
{
	sqlite3_stmt *st;
	int rc;
	if (t->list_scope) {
		st = q(ss, Q_LIST_ADD);
		sqlite3_bind_int64(st, 1, t->list_id);
		sqlite3_bind_int64(st, 2, e->contact_id);
		rc = run(ss, st, "add back to the list");
	} else {
		st = q(ss, Q_UNSUPPRESS);
		sqlite3_bind_text(st, 1, t->email, -1, SQLITE_STATIC);
		rc = run(ss, st, "lift the suppression");
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
	struct target t;
	char detail[96];
	int rc;
	switch (e->type) {
	case STORE_SERVE_UNSUBSCRIBE:
	case STORE_SERVE_RESUBSCRIBE:
		if ((rc = target_get(ss, e, &t)) < 0)
			return rc;
		return e->type == STORE_SERVE_UNSUBSCRIBE ? unsubscribe(ss, e, &t)
		                                          : resubscribe(ss, e, &t);
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
	}
	return STORE_E_NOTFOUND;
}

/* store_serve_checkpoint_start - move WAL checkpoints to a second connection */
int
store_serve_checkpoint_start(struct store_serve *ss)
{
	if (ss->ckpt)
		return 0;
	if (sqlite3_open_v2(store_path(ss->s), &ss->ckpt, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(ss->ckpt);
		ss->ckpt = NULL;
		return store_fail(ss->s, "open the checkpoint connection");
	}
	sqlite3_busy_timeout(ss->ckpt, 5000);
	/* A connection finds the journal mode when it first reads the file. */
	sqlite3_exec(ss->ckpt, "PRAGMA journal_mode", NULL, NULL, NULL);
	/* After a checkpoint has caught up, the next commit restarts the WAL and trims it. */
	sqlite3_exec(store_db(ss->s),
	             "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864", NULL,
	             NULL, NULL);
	return 0;
}

/* store_serve_checkpoint - one passive checkpoint on the second connection */
int
store_serve_checkpoint(struct store_serve *ss)
{
	if (ss->ckpt == NULL)
		return 0;
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(ss->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	/*
	 * Under a steady stream of commits a passive checkpoint never finds the
	 * log fully copied when a writer starts, so the WAL would only grow. Past
	 * WAL_FRAMES_MAX, what little is left is copied while the writer waits
	 * (busy timeout) and the WAL starts over from its beginning.
	 */
	if (rc == SQLITE_OK && log > WAL_FRAMES_MAX)
		rc = sqlite3_wal_checkpoint_v2(ss->ckpt, NULL, SQLITE_CHECKPOINT_RESTART, &log,
		                               &done);
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : STORE_E_SQL;
}

/* store_serve_apply - a batch of events in one transaction */
int
store_serve_apply(struct store_serve *ss, struct store_serve_event *ev, size_t n)
{
	int rc = store_begin(ss->s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct store_serve_event *e = &ev[i];
		e->result = 0;
		e->changed = e->recorded = false;
		e->url[0] = '\0';
		rc = apply_one(ss, e);
		if (rc == STORE_E_NOTFOUND) {
			e->result = rc;
			continue;
		}
		if (rc < 0) {
			store_rollback(ss->s);
			return rc;
		}
	}
	rc = store_commit(ss->s);
	if (rc < 0)
		store_rollback(ss->s);
	return rc;
}
