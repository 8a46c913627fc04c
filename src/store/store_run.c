/* store_run - sending campaigns and their queues, for kirim run and status (see store_run.h). */
#include "kirim/store_run.h"

#include "kirim/store.h"
#include "store_int.h"

int
store_run_campaigns(struct store *s, const char *state, int64_t now, store_run_cb cb, void *arg)
{
	/* One campaign's row; the two differ only in how an option's text is read. */
#define RUN_ROW_REST                                                                               \
	" coalesce(sum(CASE WHEN m.state = 'queued' THEN 1 ELSE 0 END), 0),"                       \
	" coalesce(sum(CASE WHEN m.state = 'queued' AND m.next_attempt_at <= ?2 THEN 1 ELSE 0 "    \
	"END), 0),"                                                                                \
	" coalesce(sum(CASE WHEN m.state = 'claimed' THEN 1 ELSE 0 END), 0),"                      \
	" coalesce(sum(CASE WHEN m.state = 'delivered' THEN 1 ELSE 0 END), 0),"                    \
	" coalesce(sum(CASE WHEN m.state = 'queued' AND m.attempts > 0 THEN 1 ELSE 0 END), 0),"    \
	" coalesce(sum(CASE WHEN m.state = 'bounced' THEN 1 ELSE 0 END), 0),"                      \
	" coalesce(sum(CASE WHEN m.state = 'failed' THEN 1 ELSE 0 END), 0),"                       \
	" coalesce(min(CASE WHEN m.state = 'queued' THEN m.next_attempt_at END), 0),"              \
	" coalesce(c.scheduled_at, 0),"                                                            \
	" CASE WHEN c.queue_upto > c.queue_cursor THEN c.queue_cursor ELSE 0 END,"                 \
	" CASE WHEN c.queue_upto > c.queue_cursor THEN c.queue_upto ELSE 0 END"                    \
	" FROM campaigns c LEFT JOIN messages m ON m.campaign_id = c.id"                           \
	" WHERE (CAST(?1 AS TEXT) IS NULL AND c.state IN ('sending', 'scheduled', 'paused'))"      \
	" OR c.state = ?1 GROUP BY c.id ORDER BY c.id"
	static const char sql[] =
	    "SELECT c.id, c.name, c.state, coalesce(c.state_reason, ''),"
	    " coalesce(json_extract(CASE WHEN json_valid(c.options) THEN c.options END,"
	    " '$.window'), ''),"
	    " coalesce(json_extract(CASE WHEN json_valid(c.options) THEN c.options END, '$.tz'),"
	    " '')," RUN_ROW_REST;
	static const char pg[] =
	    "SELECT c.id, c.name, c.state, coalesce(c.state_reason, ''),"
	    " coalesce(CASE WHEN json_typeof(c.options) = 'object' THEN c.options ->> 'window' END,"
	    " ''),"
	    " coalesce(CASE WHEN json_typeof(c.options) = 'object' THEN c.options ->> 'tz' END, "
	    "'')," RUN_ROW_REST;
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	if (state)
		db_bind_text(st, 1, state);
	db_bind_int64(st, 2, now);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_run_campaign c = {
		    .id = db_column_int64(st, 0),
		    .name = store_col_text(st, 1),
		    .state = store_col_text(st, 2),
		    .reason = store_col_text(st, 3),
		    .window = store_col_text(st, 4),
		    .tz = store_col_text(st, 5),
		    .queued = db_column_int64(st, 6),
		    .due = db_column_int64(st, 7),
		    .claimed = db_column_int64(st, 8),
		    .delivered = db_column_int64(st, 9),
		    .deferred = db_column_int64(st, 10),
		    .bounced = db_column_int64(st, 11),
		    .failed = db_column_int64(st, 12),
		    .next_due = db_column_int64(st, 13),
		    .scheduled_at = db_column_int64(st, 14),
		    .walk_cursor = db_column_int64(st, 15),
		    .walk_upto = db_column_int64(st, 16),
		};
		ret = cb(arg, &c);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read the sending campaigns");
	db_reset(st);
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
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	db_bind_int64(st, 2, now);
	db_bind_int(st, 3, max);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_run_wait w = {
		    .kind = (enum store_wait_kind)db_column_int(st, 0),
		    .why = store_col_text(st, 1),
		    .count = db_column_int64(st, 2),
		    .next = db_column_int64(st, 3),
		};
		ret = cb(arg, &w);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read what a campaign's messages wait for");
	db_reset(st);
	return ret;
}
