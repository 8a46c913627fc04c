/* store_plan - per-domain counts and dead-domain suppression for campaign plans. */
#include "kirim/store_plan.h"

#include "kirim/store.h"
#include "kirim/segment.h"
#include "kirim/store_audience.h"
#include "store_int.h"

int
store_plan_domains(struct store *s, int64_t campaign_id, store_plan_domain_cb cb, void *arg,
                   bool *from_audience)
{
	static const char any[] = "SELECT EXISTS (SELECT 1 FROM messages WHERE campaign_id = ?1)";
	/* Claimed messages are in flight or left by a crash (the next send queues them
	 * again): both are still to be delivered. */
	static const char queued[] =
	    "SELECT c.domain, count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id"
	    " WHERE m.campaign_id = ?1 AND m.state IN ('queued', 'claimed')"
	    " GROUP BY c.domain ORDER BY c.domain";
	struct db_stmt *st = store_stmt(s, any);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	int64_t has;
	int rc = store_get_int64(s, st, &has, "look for the campaign's messages");
	if (rc < 0)
		return rc;
	if (!has) {
		/* What store_messages_prepare would queue: the audience, less suppressions. */
		if ((rc = store_audience_domains(s, campaign_id, store_now(), cb, arg)) == 0)
			*from_audience = true;
		return rc;
	}
	/* Messages still being made (store_messages_walk): the audience's contacts the walk
	 * has not reached, less those with a message already, count beside the queued. */
	static const char walking_head[] =
	    "SELECT d, sum(n) FROM (SELECT c.domain AS d, count(*) AS n FROM messages m"
	    " JOIN contacts c ON c.id = m.contact_id WHERE m.campaign_id = ?1"
	    " AND m.state IN ('queued', 'claimed') GROUP BY c.domain UNION ALL"
	    " SELECT c.domain, count(*) FROM contacts c WHERE c.id > ?2 AND ";
	static const char walking_tail[] =
	    " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN (lower(c.email), c.domain))"
	    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = ?1"
	    " AND m.contact_id = c.id) GROUP BY c.domain) GROUP BY d ORDER BY d";
	/* PostgreSQL: the subquery named, the address lower-cased and domains sorted in byte
	 * order */
	static const char walking_tail_pg[] =
	    " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN (" PG_KEY_OF_C
	    ", c.domain))"
	    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = ?1"
	    " AND m.contact_id = c.id) GROUP BY c.domain) w GROUP BY d ORDER BY d COLLATE \"C\"";
	static const char queued_pg[] =
	    "SELECT c.domain, count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id"
	    " WHERE m.campaign_id = ?1 AND m.state IN ('queued', 'claimed')"
	    " GROUP BY c.domain ORDER BY c.domain COLLATE \"C\"";
	int64_t cursor, upto;
	if ((rc = store_messages_walk_state(s, campaign_id, &cursor, &upto)) < 0)
		return rc;
	if (upto > cursor) {
		struct segment_sql q;
		if ((rc = store_audience_compile(s, campaign_id, store_now(), 2, false, &q)) < 0)
			return rc;
		st = store_segment_prepare(s, walking_head, &q,
		                           q.pg ? walking_tail_pg : walking_tail);
		segment_sql_free(&q);
		if (st == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 2, cursor);
	} else if ((st = store_stmt_pg(s, queued, queued_pg)) == NULL) {
		return STORE_E_SQL;
	}
	db_bind_int64(st, 1, campaign_id);
	int ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		const char *d = db_column_text(st, 0);
		ret = cb(arg, d ? (const char *)d : "", db_column_int64(st, 1));
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "count messages by domain");
	if (upto > cursor)
		db_finalize(st); /* built at run time: not in the cache */
	else
		db_reset(st);
	if (ret == 0)
		*from_audience = false;
	return ret;
}

int
store_plan_suppress_domain(struct store *s, int64_t campaign_id, const char *domain,
                           const char *source, bool *added, int64_t *marked)
{
	static const char mark[] =
	    "UPDATE messages SET state = 'suppressed', done_at = ?3,"
	    " reason = " SUPPRESSION_OF_MESSAGE " WHERE campaign_id = ?1"
	    " AND state = 'queued' AND contact_id IN (SELECT id FROM contacts WHERE domain = ?2)";
	if (store_conn(s)->kind == DB_PG) /* the report rollups: SQLite's only so far */
		return store_errf(s, STORE_E_SQL, "not on PostgreSQL yet (docs/postgresql.md)");
	int rc = store_suppress_add(s, "domain", domain, "hard_bounce", source);
	if (rc < 0 && rc != STORE_E_EXISTS)
		return rc;
	bool was_added = rc == 0;
	/* Named for the report rollups (store_rollup.c): queued, they have no row to take
	 * out; suppressed, they are put in. */
	static const char name[] =
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE campaign_id = ?1"
	    " AND state = 'queued' AND contact_id IN (SELECT id FROM contacts WHERE domain = ?2)";
	struct db_stmt *st = store_stmt(s, name);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	db_bind_text(st, 2, domain);
	if ((rc = store_step_done(s, st, "name the messages to suppress")) < 0)
		return rc;
	if ((st = store_stmt(s, mark)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	db_bind_text(st, 2, domain);
	db_bind_int64(st, 3, store_now());
	if ((rc = store_step_done(s, st, "mark messages suppressed")) < 0)
		return rc;
	int64_t n = db_changes(store_conn(s));
	if ((rc = store_rollup_in(s)) < 0)
		return rc;
	*added = was_added;
	*marked = n;
	return 0;
}
