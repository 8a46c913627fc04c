/* store_bounce - suppression, late bounces and auto-pause (see store_bounce.h). */
#include "kirim/store_bounce.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "kirim/store.h"
#include "store_int.h"

struct store_bounce_rules
store_bounce_rules_default(void)
{
	return (struct store_bounce_rules){
	    .soft_count = 3,
	    .soft_window_s = 15 * 86400,
	    .pause_after = 1000,
	    .pause_hard_rate = 0.05,
	    .pause_complaint_rate = 0.001,
	};
}

/*
 * one_int - the first column of the first row of sql (a static string: store_prepare) with
 * ?1 = a, ?2 = b (0 when none)
 */
static int
one_int(struct store *s, const char *sql, int64_t a, int64_t b, int64_t *out, const char *doing)
{
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	return store_get_int64(s, st, out, doing);
}

/* Soft bounces of a message's contact since ?2, across campaigns (events_type_ts). */
static const char soft_count_sql[] =
    "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id"
    " WHERE m.contact_id = (SELECT contact_id FROM messages WHERE id = ?1)"
    " AND e.type = 'bounced' AND e.class = 'soft' AND e.ts >= ?2";
static const char message_sql[] =
    "SELECT id FROM messages WHERE campaign_id = ?1 AND contact_id = ?2";

int
store_bounce_suppress(struct store *s, int64_t message_id, enum disp_suppress how,
                      const struct store_bounce_rules *rules, const char *source,
                      const char **reason)
{
	const char *why = NULL;
	*reason = NULL;
	if (how == DISP_SUPPRESS_HARD) {
		why = "hard_bounce";
	} else if (how == DISP_SUPPRESS_COMPLAINT) {
		why = "complaint";
	} else if (how == DISP_SUPPRESS_SOFT) {
		int64_t n;
		int rc = one_int(s, soft_count_sql, message_id, store_now() - rules->soft_window_s,
		                 &n, "count soft bounces");
		if (rc < 0)
			return rc;
		if (n >= rules->soft_count)
			why = "soft_bounce";
	}
	if (why == NULL)
		return 0;
	/* DO NOTHING: the address is suppressed already. Every other constraint holds
	 * (why is one of suppressions' reasons). A deleted contact's message keeps its
	 * address (messages.email); an erased one's has none, and is suppressed by hash. */
	static const char sql[] =
	    "INSERT INTO suppressions(kind, value, reason, source, created_at)"
	    " SELECT 'address', lower(coalesce(c.email, m.email)), ?2, ?3, ?4 FROM messages m"
	    " LEFT JOIN contacts c ON c.id = m.contact_id WHERE m.id = ?1"
	    " AND coalesce(c.email, m.email) IS NOT NULL ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, message_id);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, store_now());
	int rc = store_step_done(s, st, "suppress a bounced address");
	if (rc == 0 && sqlite3_changes(store_db(s)) == 1)
		*reason = why;
	return rc;
}

int
store_bounce_record(struct store *s, const struct store_bounce_event *e, int64_t *message_id)
{
	int rc = one_int(s, message_sql, e->campaign_id, e->contact_id, message_id,
	                 "find the bounced message");
	if (rc < 0)
		return rc;
	if (*message_id == 0)
		return STORE_E_NOTFOUND;
	static const char ins[] =
	    "INSERT INTO events(message_id, ts, type, stage, ecode, text, host, reason, class,"
	    " detail, attempt) VALUES (?1, ?2, ?3, 'dsn', ?4, ?5, ?6, ?7, ?8, ?9,"
	    " (SELECT attempts FROM messages WHERE id = ?1))";
	/* The report rollups: the event counted in, the message moved (store_rollup.c). */
	int64_t mark;
	if ((rc = store_rollup_mark(s, &mark)) < 0)
		return rc;
	sqlite3_stmt *st = store_prepare(s, ins);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, *message_id);
	sqlite3_bind_int64(st, 2, store_now());
	assert(e->type == DISP_EV_BOUNCED || e->type == DISP_EV_COMPLAINT);
	sqlite3_bind_text(st, 3, disposition_event_name(e->type), -1, SQLITE_STATIC);
	store_bind_opt_text(st, 4, e->ecode);
	store_bind_opt_text(st, 5, e->text);
	store_bind_opt_text(st, 6, e->host);
	sqlite3_bind_text(st, 7, bounce_reason_name(e->reason), -1, SQLITE_STATIC);
	store_bind_opt_text(st, 8, e->type == DISP_EV_BOUNCED ? bounce_class_name(e->cls) : NULL);
	store_bind_opt_text(st, 9, e->detail);
	if ((rc = store_step_done(s, st, "record a bounce event")) < 0 ||
	    (rc = store_rollup_events_since(s, mark)) < 0 || e->state == DISP_KEEP)
		return rc;
	/* Accepted by the MX, bounced later: the message's outcome is the bounce. */
	assert(e->state == DISP_BOUNCED);
	static const char upd[] =
	    "UPDATE messages SET state = 'bounced', reason = ?2, class = ?6,"
	    " last_stage = 'dsn', last_ecode = ?3, last_text = ?4, done_at = ?5"
	    " WHERE id = ?1 AND state IN ('delivered', 'queued')";
	if ((st = store_prepare(s, upd)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, *message_id);
	sqlite3_bind_text(st, 2, bounce_reason_name(e->reason), -1, SQLITE_STATIC);
	store_bind_opt_text(st, 3, e->ecode);
	store_bind_opt_text(st, 4, e->text);
	sqlite3_bind_int64(st, 5, store_now());
	sqlite3_bind_text(st, 6, bounce_class_name(e->cls), -1, SQLITE_STATIC);
	if ((rc = store_rollup_name(s, *message_id)) < 0 || (rc = store_rollup_out(s)) < 0 ||
	    (rc = store_step_done(s, st, "mark a message bounced")) < 0)
		return rc;
	return store_rollup_in(s);
}

int
store_bounce_totals(struct store *s, int64_t campaign_id, struct store_bounce_totals *t)
{
	static const char sql[] =
	    "SELECT count(*), coalesce(sum(e.type = 'bounced' AND e.class = 'hard'), 0),"
	    " coalesce(sum(e.type = 'complaint'), 0), coalesce(sum(e.type = 'delivered'), 0)"
	    " FROM events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = ?1"
	    " AND e.type IN ('delivered', 'deferred', 'bounced', 'failed', 'complaint')";
	memset(t, 0, sizeof(*t));
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		t->complaints = sqlite3_column_int64(st, 2);
		t->attempts = sqlite3_column_int64(st, 0) - t->complaints;
		t->hard = sqlite3_column_int64(st, 1);
		t->delivered = sqlite3_column_int64(st, 3);
	} else {
		rc = store_fail(s, "count the bounce totals");
	}
	sqlite3_reset(st);
	return rc;
}

int
store_bounce_pause_why(const struct store_bounce_rules *rules, const struct store_bounce_totals *t,
                       char *why, size_t whysz)
{
	if (t->attempts < rules->pause_after)
		return 0;
	if ((double)t->hard > rules->pause_hard_rate * (double)t->attempts) {
		snprintf(why, whysz,
		         "hard bounces are %.1f%% of %lld attempts (more than %.1f%%): check the "
		         "list before resuming",
		         100.0 * (double)t->hard / (double)t->attempts, (long long)t->attempts,
		         100.0 * rules->pause_hard_rate);
		return 1;
	}
	if (t->delivered > 0 &&
	    (double)t->complaints > rules->pause_complaint_rate * (double)t->delivered) {
		snprintf(why, whysz,
		         "complaints are %.2f%% of %lld delivered (more than %.2f%%): check the "
		         "list and the content before resuming",
		         100.0 * (double)t->complaints / (double)t->delivered,
		         (long long)t->delivered, 100.0 * rules->pause_complaint_rate);
		return 1;
	}
	return 0;
}

int
store_campaign_pause(struct store *s, int64_t campaign_id, const char *why)
{
	static const char upd[] = "UPDATE campaigns SET state = 'paused', state_reason = ?2,"
	                          " updated_at = ?3 WHERE id = ?1"
	                          " AND state IN ('draft', 'scheduled', 'sending')";
	sqlite3_stmt *st = store_prepare(s, upd);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	int rc = store_step_done(s, st, "pause the campaign");
	return rc < 0 ? rc : sqlite3_changes(store_db(s)) == 1;
}

int
store_bounce_find(struct store *s, const char *email, const char *campaign, int64_t *campaign_id,
                  int64_t *contact_id)
{
	/* contacts.email is UNIQUE COLLATE NOCASE: the comparison is kirim's address key. */
	static const char sql[] =
	    "SELECT m.campaign_id, m.contact_id FROM messages m"
	    " JOIN contacts c ON c.id = m.contact_id JOIN campaigns k ON k.id = m.campaign_id"
	    " WHERE c.email = ?1 AND (k.name = ?2 OR CAST(k.id AS TEXT) = ?2)"
	    " ORDER BY k.name = ?2 DESC LIMIT 1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, campaign, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*campaign_id = sqlite3_column_int64(st, 0);
		*contact_id = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_E_NOTFOUND;
	return store_fail(s, "find a provider event's message");
}

int
store_bounce_seen(struct store *s, const char *provider, const char *id)
{
	static const char sql[] = "INSERT INTO esp_events(provider, event_id, received_at)"
	                          " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	int rc = store_step_done(s, st, "note a provider event");
	if (rc < 0)
		return rc;
	return sqlite3_changes(store_db(s)) == 1;
}
