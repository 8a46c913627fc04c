/* store_run - sending campaigns and their queues, for kirim run and status (see store_run.h). */
#include "kirim/store_run.h"

#include "kirim/store.h"
#include "store_int.h"

int
store_run_campaigns(struct store *s, const char *state, int64_t now, store_run_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT c.id, c.name, c.state, coalesce(c.state_reason, ''),"
	    " coalesce(json_extract(CASE WHEN json_valid(c.options) THEN c.options END,"
	    " '$.window'), ''),"
	    " coalesce(json_extract(CASE WHEN json_valid(c.options) THEN c.options END, '$.tz'),"
	    " ''),"
	    " coalesce(sum(m.state = 'queued'), 0),"
	    " coalesce(sum(m.state = 'queued' AND m.next_attempt_at <= ?2), 0),"
	    " coalesce(sum(m.state = 'claimed'), 0), coalesce(sum(m.state = 'delivered'), 0),"
	    " coalesce(sum(m.state = 'queued' AND m.attempts > 0), 0),"
	    " coalesce(sum(m.state = 'bounced'), 0), coalesce(sum(m.state = 'failed'), 0),"
	    " coalesce(min(CASE WHEN m.state = 'queued' THEN m.next_attempt_at END), 0),"
	    " coalesce(c.scheduled_at, 0), CASE WHEN c.queue_upto > c.queue_cursor THEN "
	    "c.queue_cursor ELSE 0 END,"
	    " CASE WHEN c.queue_upto > c.queue_cursor THEN c.queue_upto ELSE 0 END"
	    " FROM campaigns c LEFT JOIN messages m ON m.campaign_id = c.id"
	    " WHERE (?1 IS NULL AND c.state IN ('sending', 'scheduled', 'paused')) OR c.state = ?1"
	    " GROUP BY c.id ORDER BY c.id";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	if (state)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_run_campaign c = {
		    .id = sqlite3_column_int64(st, 0),
		    .name = store_col_text(st, 1),
		    .state = store_col_text(st, 2),
		    .reason = store_col_text(st, 3),
		    .window = store_col_text(st, 4),
		    .tz = store_col_text(st, 5),
		    .queued = sqlite3_column_int64(st, 6),
		    .due = sqlite3_column_int64(st, 7),
		    .claimed = sqlite3_column_int64(st, 8),
		    .delivered = sqlite3_column_int64(st, 9),
		    .deferred = sqlite3_column_int64(st, 10),
		    .bounced = sqlite3_column_int64(st, 11),
		    .failed = sqlite3_column_int64(st, 12),
		    .next_due = sqlite3_column_int64(st, 13),
		    .scheduled_at = sqlite3_column_int64(st, 14),
		    .walk_cursor = sqlite3_column_int64(st, 15),
		    .walk_upto = sqlite3_column_int64(st, 16),
		};
		ret = cb(arg, &c);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read the sending campaigns");
	sqlite3_reset(st);
	return ret;
}

int
store_run_waiting(struct store *s, int64_t campaign_id, int64_t now, int max, store_wait_cb cb,
                  void *arg)
{
	/* A hand-back writes its reason with no stage (store_message_result); an attempt
	 * always has one. */
	static const char sql[] =
	    "SELECT CASE WHEN last_stage IS NULL AND last_text IS NOT NULL THEN 0"
	    " WHEN attempts > 0 THEN 1 ELSE 2 END AS k,"
	    " CASE WHEN last_stage IS NULL AND last_text IS NOT NULL THEN last_text ELSE '' END,"
	    " count(*), min(next_attempt_at)"
	    " FROM messages WHERE campaign_id = ?1 AND state = 'queued' AND next_attempt_at > ?2"
	    " GROUP BY 1, 2 ORDER BY 3 DESC, 4 LIMIT ?3";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, max);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_run_wait w = {
		    .kind = (enum store_wait_kind)sqlite3_column_int(st, 0),
		    .why = store_col_text(st, 1),
		    .count = sqlite3_column_int64(st, 2),
		    .next = sqlite3_column_int64(st, 3),
		};
		ret = cb(arg, &w);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read what a campaign's messages wait for");
	sqlite3_reset(st);
	return ret;
}
