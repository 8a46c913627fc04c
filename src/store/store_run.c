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
	    " coalesce(c.scheduled_at, 0)"
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
		};
		ret = cb(arg, &c);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read the sending campaigns");
	sqlite3_reset(st);
	return ret;
}
