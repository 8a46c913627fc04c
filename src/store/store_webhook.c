/*
 * store_webhook - outgoing webhooks and their outbox (tables webhooks and
 * webhook_outbox, schema 007; see store_webhook.h).
 */
#include "kirim/store_webhook.h"
#include "kirim/store.h"
#include "store_int.h"

#include <string.h>

int
store_webhook_add(struct store *s, const char *url, const char *events, const char *secret,
                  int64_t now, int64_t *id)
{
	/* A new webhook gets the events from now on: its cursor starts at the outbox's end. */
	static const char sql[] =
	    "INSERT INTO webhooks(url, events, secret, created_at, cursor) VALUES (?1, ?2, ?3, ?4,"
	    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'), 0))";
	/* PostgreSQL keeps no AUTOINCREMENT mark: the highest id there is serves alike (the
	 * webhook gets the rows after it, and every later row's id is higher). */
	static const char pg[] =
	    "INSERT INTO webhooks(url, events, secret, created_at, cursor) VALUES (?1, ?2, ?3, ?4,"
	    " (SELECT coalesce(max(id), 0) FROM webhook_outbox))";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, url);
	db_bind_text(st, 2, events);
	db_bind_text(st, 3, secret);
	db_bind_int64(st, 4, now);
	int rc = store_step_done(s, st, "add webhook");
	if (rc == 0)
		rc = db_last_id(store_conn(s), id);
	return rc;
}

int
store_webhook_remove(struct store *s, int64_t id)
{
	static const char sql[] = "DELETE FROM webhooks WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = store_step_done(s, st, "remove webhook");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_NOTFOUND, "no webhook %lld", (long long)id);
	return rc;
}

/* The pending count: outbox rows after the cursor whose type the webhook wants. */
#define WEBHOOK_COLS_BY(WANTS)                                                                     \
	"w.id, w.url, w.events, w.secret, w.created_at, w.cursor, w.attempts,"                     \
	" w.next_attempt_at, coalesce(w.failing_since, 0), coalesce(w.last_status, 0),"            \
	" coalesce(w.last_error, ''), coalesce(w.last_success_at, 0), w.delivered, w.dropped,"     \
	" (SELECT count(*) FROM webhook_outbox o WHERE o.id > w.cursor AND " WANTS ")"
#define WEBHOOK_COLS WEBHOOK_COLS_BY("instr(w.events, '\"' || o.type || '\"') > 0")
/* PostgreSQL's: strpos for instr, events (json there) as its text. */
#define WEBHOOK_COLS_PG WEBHOOK_COLS_BY("strpos(w.events::text, '\"' || o.type || '\"') > 0")

static void
webhook_row(struct db_stmt *st, void *out)
{
	struct store_webhook *w = out;
	memset(w, 0, sizeof(*w));
	w->id = db_column_int64(st, 0);
	store_copy_text(w->url, sizeof(w->url), st, 1);
	store_copy_text(w->events, sizeof(w->events), st, 2);
	store_copy_text(w->secret, sizeof(w->secret), st, 3);
	w->created_at = db_column_int64(st, 4);
	w->cursor = db_column_int64(st, 5);
	w->attempts = db_column_int(st, 6);
	w->next_attempt_at = db_column_int64(st, 7);
	w->failing_since = db_column_int64(st, 8);
	w->last_status = db_column_int(st, 9);
	store_copy_text(w->last_error, sizeof(w->last_error), st, 10);
	w->last_success_at = db_column_int64(st, 11);
	w->delivered = db_column_int64(st, 12);
	w->dropped = db_column_int64(st, 13);
	w->pending = db_column_int64(st, 14);
}

int
store_webhook_get(struct store *s, int64_t id, struct store_webhook *out)
{
	static const char sql[] = "SELECT " WEBHOOK_COLS " FROM webhooks w WHERE w.id = ?1";
	static const char pg[] = "SELECT " WEBHOOK_COLS_PG " FROM webhooks w WHERE w.id = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = store_get_one(s, st, webhook_row, out, sizeof *out, "read webhook");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no webhook %lld", (long long)id);
	return rc;
}

int
store_webhook_each(struct store *s, store_webhook_cb cb, void *arg)
{
	static const char sql[] = "SELECT " WEBHOOK_COLS " FROM webhooks w ORDER BY w.id";
	static const char pg[] = "SELECT " WEBHOOK_COLS_PG " FROM webhooks w ORDER BY w.id";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_webhook w;
		webhook_row(st, &w);
		if ((ret = cb(arg, &w)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read webhooks");
	db_reset(st);
	return ret;
}

int
store_webhook_due(struct store *s, int64_t now, int64_t *id)
{
	static const char sql[] =
	    "SELECT w.id FROM webhooks w WHERE w.disabled_at IS NULL AND w.next_attempt_at <= ?1"
	    " AND EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.id > w.cursor)"
	    " ORDER BY w.next_attempt_at, w.id LIMIT 1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, now);
	return store_get_int64(s, st, id, "find a webhook due");
}

int
store_webhook_batch(struct store *s, int64_t cursor, const char *events, int limit,
                    store_webhook_event_cb cb, void *arg, int64_t *last)
{
	/*
	 * The rows after the cursor, oldest first, at most limit of the wanted
	 * types (the others are passed over: the cursor moves past them too);
	 * the event's and its message's details are read now (erasure deletes
	 * the outbox rows of an erased contact's events with them).
	 */
	static const char sql[] =
	    "SELECT o.id, o.type, o.ts, o.campaign_id, c.name, k.email, e.stage, e.ecode, e.text,"
	    " e.host, e.detail, coalesce(e.code, 0), o.data,"
	    " instr(?2, '\"' || o.type || '\"') > 0"
	    " FROM webhook_outbox o LEFT JOIN events e ON e.id = o.event_id"
	    " LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN contacts k ON k.id = "
	    "m.contact_id"
	    " LEFT JOIN campaigns c ON c.id = o.campaign_id"
	    " WHERE o.id > ?1 ORDER BY o.id LIMIT ?3";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, cursor);
	db_bind_text(st, 2, events);
	/* Rows of other types are read and passed over: look a few times further. */
	db_bind_int(st, 3, limit * 4);
	int rc, ret = 0, n = 0;
	*last = cursor;
	while (n < limit && (rc = db_step(st)) == DB_ROW) {
		*last = db_column_int64(st, 0);
		if (!db_column_int(st, 13))
			continue;
#define OPT(i) (db_column_null(st, i) ? NULL : store_col_text(st, i))
		struct store_webhook_event e = {
		    .id = db_column_int64(st, 0),
		    .type = store_col_text(st, 1),
		    .ts = db_column_int64(st, 2),
		    .campaign_id = db_column_int64(st, 3),
		    .campaign = OPT(4),
		    .email = OPT(5),
		    .stage = OPT(6),
		    .ecode = OPT(7),
		    .text = OPT(8),
		    .host = OPT(9),
		    .detail = OPT(10),
		    .code = db_column_int(st, 11),
		    .data = OPT(12),
		};
#undef OPT
		n++;
		if ((ret = cb(arg, &e)) != 0)
			break;
	}
	if (ret == 0 && n < limit && rc != DB_DONE && rc != DB_ROW)
		ret = store_fail(s, "read the webhook outbox");
	db_reset(st);
	return ret;
}

int
store_webhook_settle(struct store *s, int64_t id, int64_t through, int64_t n, bool dropped,
                     int status, const char *error, int64_t now)
{
	static const char sql[] =
	    "UPDATE webhooks SET cursor = max(cursor, ?2), attempts = 0, next_attempt_at = 0,"
	    " failing_since = NULL, last_status = ?4, last_error = ?5,"
	    " last_success_at = CASE WHEN ?3 THEN last_success_at ELSE ?6 END,"
	    " delivered = delivered + CASE WHEN ?3 THEN 0 ELSE ?7 END,"
	    " dropped = dropped + CASE WHEN ?3 THEN ?7 ELSE 0 END WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, through);
	db_bind_int(st, 3, dropped);
	db_bind_int(st, 4, status);
	store_bind_opt_text(st, 5, error);
	db_bind_int64(st, 6, now);
	db_bind_int64(st, 7, n);
	return store_step_done(s, st, "settle a webhook batch");
}

int
store_webhook_failed(struct store *s, int64_t id, int status, const char *error, int64_t now,
                     int64_t next)
{
	static const char sql[] =
	    "UPDATE webhooks SET attempts = attempts + 1, next_attempt_at = ?5,"
	    " failing_since = coalesce(failing_since, ?4), last_status = ?2, last_error = ?3"
	    " WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	db_bind_int(st, 2, status);
	store_bind_opt_text(st, 3, error);
	db_bind_int64(st, 4, now);
	db_bind_int64(st, 5, next);
	return store_step_done(s, st, "record a failed webhook try");
}

int
store_webhook_prune(struct store *s, int64_t *n)
{
	static const char sql[] =
	    "DELETE FROM webhook_outbox WHERE id <= coalesce((SELECT min(cursor) FROM webhooks"
	    " WHERE disabled_at IS NULL), (SELECT max(id) FROM webhook_outbox))";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = store_step_done(s, st, "prune the webhook outbox");
	if (rc == 0)
		*n = db_changes(store_conn(s));
	return rc;
}
