/*
 * store_message - messages, one per campaign × recipient, and their delivery
 * events (tables messages, events; see store.h): queued from a list, claimed
 * in batches by one sender, and given each attempt's outcome. The sender's
 * hot path: a claim is one UPDATE ... RETURNING and a look-up per message, a
 * result one UPDATE and one INSERT, all inside the caller's transactions.
 */
#include "kirim/store.h"
#include "store_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "kirim/segment.h"
#include "kirim/xmalloc.h"

int
store_messages_walk_start(struct store *s, int64_t campaign_id)
{
	/* The snapshot: the highest contact id there is now. A walk that ended (or never
	 * began) starts again from the first id, so that a new start of a send mails who
	 * joined the audience since, once (the unique campaign × contact keeps the others'
	 * messages as they are); an unfinished one goes on from its cursor. A confirmation
	 * campaign has no walk: its messages are made by the signups (MAILED_BY_PREPARE). */
	static const char sql[] =
	    "UPDATE campaigns SET queue_cursor = CASE WHEN queue_upto IS NULL THEN 0"
	    " ELSE queue_cursor END, queue_upto = CASE WHEN kind = 'regular' THEN"
	    " max(coalesce(queue_upto, 0), coalesce((SELECT max(id) FROM contacts), 0)) END"
	    " WHERE id = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	return store_step_done(s, st, "start the walk of the campaign's audience");
}

int
store_messages_walk_state(struct store *s, int64_t campaign_id, int64_t *cursor, int64_t *upto)
{
	static const char sql[] =
	    "SELECT queue_cursor, coalesce(queue_upto, 0) FROM campaigns WHERE id = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*cursor = sqlite3_column_int64(st, 0);
		*upto = sqlite3_column_int64(st, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = STORE_E_NOTFOUND;
	} else {
		rc = store_fail(s, "read the walk of the campaign's audience");
	}
	sqlite3_reset(st);
	return rc;
}

int
store_messages_walk(struct store *s, int64_t campaign_id, int64_t span, int64_t *created,
                    bool *walking)
{
	/*
	 * The campaign's audience as it is now (lists and segments, less exclusions:
	 * store_audience.c), for contacts with an id in (?3, ?4], one message per contact.
	 * Recipients the start check could not render (campaigns.options.skip, with
	 * --skip-bad) are failed at once, with the reason. A confirmation campaign gets
	 * none here, and no one unconfirmed is mailed (MAILED_BY_PREPARE; a list in an
	 * audience counts its confirmed members only: segment.c). The id range comes first,
	 * so that SQLite reads only the range's contacts.
	 */
	static const char head[] =
	    "INSERT INTO messages(campaign_id, contact_id, domain, state, queued_at, last_text,"
	    " done_at) SELECT ?1, c.id, c.domain, CASE WHEN " SUPPRESSION_OF_C " IS NOT NULL"
	    " THEN 'suppressed' WHEN c.id IN (SELECT value FROM json_each("
	    "(SELECT CASE WHEN json_valid(options) THEN json_extract(options, '$.skip')"
	    " END FROM campaigns WHERE id = ?1))) THEN 'failed' ELSE 'queued' END, ?2,"
	    " CASE WHEN c.id IN (SELECT value FROM json_each((SELECT CASE"
	    " WHEN json_valid(options) THEN json_extract(options, '$.skip') END FROM"
	    " campaigns WHERE id = ?1))) THEN 'cannot render the message (skipped by"
	    " the start check)' END, NULL FROM contacts c WHERE c.id > ?3 AND c.id <= ?4"
	    " AND " MAILED_BY_PREPARE("?1") " AND ";
	/* By domain: claims (by id) then hand each destination runs of messages, so its
	 * connections stay busy instead of churning. */
	static const char tail[] = " ORDER BY c.domain, c.id ON CONFLICT DO NOTHING";
	static const char move_sql[] =
	    "UPDATE campaigns SET queue_cursor = ?2, queue_upto = CASE WHEN ?2 >= queue_upto"
	    " THEN NULL ELSE queue_upto END WHERE id = ?1";
	/* The rollups of the messages made settled (suppressed, or failed by the start check:
	 * new ids, past the highest before; index messages_due), and the
	 * campaign's first queueing. Queued ones have no rollup row. */
	static const char last_sql[] = "SELECT coalesce(max(id), 0) FROM messages";
	static const char name_sql[] =
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE campaign_id = ?1"
	    " AND state IN ('suppressed', 'failed') AND id > ?2";
	/* A suppressed one keeps the suppression's reason, as the report names it. */
	static const char reason_sql[] = "UPDATE messages SET reason = " SUPPRESSION_OF_MESSAGE
	                                 " WHERE id IN (SELECT id FROM temp.rollup_ids)"
	                                 " AND state = 'suppressed'";
	/* The new messages whose contact has its own zone (OWN_ZONE_OF_C), for the report: by
	 * id (the campaign's index would read all its messages: 0.1 s a range of 1,000 on a
	 * 1,000,000-message campaign; by id 1 ms). */
	static const char zone_sql[] =
	    OWN_ZONE_ROLLUP("+m.campaign_id = ?1 AND m.id > ?2", "own_zone + excluded.own_zone");
	static const char started_sql[] =
	    "INSERT INTO report_campaigns(campaign_id, started_at) VALUES (?1, ?2)"
	    " ON CONFLICT(campaign_id) DO UPDATE SET started_at = excluded.started_at"
	    " WHERE started_at IS NULL OR started_at > excluded.started_at";
	int64_t cursor, upto;
	int rc = store_messages_walk_state(s, campaign_id, &cursor, &upto);
	if (rc < 0)
		return rc;
	*created = 0;
	if (upto <= cursor) {
		*walking = false;
		return 0;
	}
	int64_t hi = upto - cursor <= span ? upto : cursor + span;
	int64_t now = store_now();
	struct segment_sql q;
	if ((rc = store_audience_compile(s, campaign_id, now, 4, span < INT64_MAX, &q)) < 0)
		return rc;
	int64_t last = 0;
	sqlite3_stmt *st = store_prepare(s, last_sql);
	if (st == NULL || (rc = store_get_int64(s, st, &last, "read the last message")) < 0) {
		segment_sql_free(&q);
		return st == NULL ? STORE_E_SQL : rc;
	}
	st = store_segment_stmt(s, head, &q, tail);
	segment_sql_free(&q);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, cursor);
	sqlite3_bind_int64(st, 4, hi);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*created = sqlite3_changes(store_db(s));
		rc = 0;
	} else {
		rc = store_fail(s, "queue the campaign's messages");
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if (*created > 0) {
		if ((st = store_prepare(s, name_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, campaign_id);
		sqlite3_bind_int64(st, 2, last);
		if ((rc = store_step_done(s, st, "name the new messages")) < 0)
			return rc;
		if ((st = store_prepare(s, reason_sql)) == NULL)
			return STORE_E_SQL;
		if ((rc = store_step_done(s, st, "record why messages are suppressed")) < 0 ||
		    (rc = store_rollup_in(s)) < 0)
			return rc;
		if ((st = store_prepare(s, zone_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, campaign_id);
		sqlite3_bind_int64(st, 2, last);
		if ((rc = store_step_done(s, st, "count the recipients in their own zone")) < 0)
			return rc;
		if ((st = store_prepare(s, started_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, campaign_id);
		sqlite3_bind_int64(st, 2, now);
		if ((rc = store_step_done(s, st, "record the campaign's start")) < 0)
			return rc;
	}
	if ((st = store_prepare(s, move_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, hi);
	if ((rc = store_step_done(s, st, "move the walk of the campaign's audience")) == 0)
		*walking = hi < upto;
	return rc;
}

int
store_messages_prepare(struct store *s, int64_t campaign_id, int64_t list_id, int64_t *created)
{
	(void)list_id;
	bool walking;
	int rc = store_messages_walk_start(s, campaign_id);
	return rc < 0 ? rc : store_messages_walk(s, campaign_id, INT64_MAX, created, &walking);
}

int
store_messages_recover(struct store *s, int64_t campaign_id, int64_t *recovered)
{
	/* Claims whose sender is gone (no senders row: it was judged dead and forgotten,
	 * or the claim predates the senders table). A live sender's claims stay. */
	static const char sql[] =
	    "UPDATE messages SET state = 'queued', claimed_by = NULL"
	    " WHERE campaign_id = ?1 AND state = 'claimed' AND"
	    " (claimed_by IS NULL OR claimed_by NOT IN (SELECT id FROM senders))";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc = store_step_done(s, st, "recover claimed messages");
	if (rc == 0)
		*recovered = sqlite3_changes(store_db(s));
	return rc;
}

/*
 * withdraw - claimed message m (its id, contact, attempts and queueing time, as claimed) of
 * campaign_id, to a contact at domain, must not be mailed after all: suppressed, with why.
 * Claimed, it had no rollup row: its suppressed one is summed in C with the sender's
 * results (store_rollup_result) and written by store_commit, one statement per group.
 */
static int
withdraw(struct store *s, int64_t campaign_id, const int64_t m[4], const char *domain, int64_t now,
         const char *why)
{
	/* The destination and host of an earlier attempt stay, and group it in the report. */
	static const char sql[] =
	    "UPDATE messages SET state = 'suppressed', claimed_by = NULL, done_at = ?2,"
	    " last_text = ?3, reason = " SUPPRESSION_OF_MESSAGE
	    " WHERE id = ?1 RETURNING dest, host";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, m[0]);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : store_fail(s, "withdraw a suppressed message");
	}
	struct store_result r = {
	    .message_id = m[0],
	    .campaign_id = campaign_id,
	    .domain = domain,
	    .attempts = (int)m[2],
	    .queued_at = m[3],
	    .state = DISP_SUPPRESSED,
	    .dest = (const char *)sqlite3_column_text(st, 0),
	    .host = (const char *)sqlite3_column_text(st, 1),
	};
	store_rollup_result(store_rollups(s), &r, now, 0);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, "withdraw a suppressed message");
	return sqlite3_get_autocommit(store_db(s)) ? store_rollup_flush(s, store_rollups(s)) : 0;
}

int
store_messages_claim(struct store *s, int64_t campaign_id, int64_t owner, int64_t now, int limit,
                     store_claim_cb cb, void *arg, int *withdrawn)
{
	static const char claim_sql[] =
	    "UPDATE messages SET state = 'claimed', claimed_at = ?2, claimed_by = ?4"
	    " WHERE id IN (SELECT id FROM messages WHERE campaign_id = ?1"
	    " AND state = 'queued' AND next_attempt_at <= ?2"
	    " ORDER BY next_attempt_at, id LIMIT ?3)"
	    " RETURNING id, contact_id, attempts, queued_at";
	/*
	 * The contact of a claimed message, and whether it may still be mailed: its
	 * address's or domain's suppression (the reason), and whether the campaign's
	 * lists still hold it (a list-scope unsubscribe, a list deleted): on one of the
	 * lists its audience includes, as a confirmed member (an unconfirmed one for a
	 * confirmation campaign: MEMBER_STATUS_FOR), or, when the audience includes a
	 * segment (whose conditions are not evaluated again), not a contact that only
	 * signed up; and on none it excludes. Checked at
	 * every claim, so a suppression committed while a message waits in the queue
	 * (first send or retry) is honoured.
	 */
	static const char contact_sql[] = "SELECT c.email, c.attrs, c.domain, " SUPPRESSION_FOR_C(
	    "?2") ","
	          " ((EXISTS (SELECT 1 FROM campaign_audience a WHERE a.campaign_id = ?2"
	          "  AND a.kind = 'segment') AND NOT " UNCONFIRMED_ONLY(
	              "c.id") ")"
	                      " OR EXISTS (SELECT 1 FROM campaign_audience a"
	                      "  JOIN list_members m ON m.list_id = a.list_id AND m.contact_id = "
	                      "c.id"
	                      "  WHERE a.campaign_id = ?2 AND a.kind = 'list'"
	                      "  AND m.status = " MEMBER_STATUS_FOR(
	                          "?2") "))"
	                                " AND NOT EXISTS (SELECT 1 FROM campaign_audience a JOIN "
	                                "list_members m"
	                                "  ON m.list_id = a.list_id AND m.contact_id = c.id"
	                                "  WHERE a.campaign_id = ?2 AND a.kind = 'exclude-list')"
	                                " FROM contacts c WHERE c.id = ?1";
	sqlite3_stmt *st = store_prepare(s, claim_sql);
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
		if ((st = store_prepare(s, contact_sql)) == NULL) {
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
			char why[160], domain[256];
			snprintf(why, sizeof(why), "%s%s after the message was queued: not sent",
			         supp ? "suppressed: " : "no longer on the campaign's lists",
			         supp ? supp : "");
			store_copy_text(domain, sizeof(domain), st, 2);
			sqlite3_reset(st);
			ret = withdraw(s, campaign_id, ids[i], domain, now, why);
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

int
store_message_result(struct store *s, const struct store_result *r, int64_t now)
{
	static const char result_sql[] =
	    "UPDATE messages SET state = ?2, claimed_by = NULL, attempts = attempts + ?3,"
	    " next_attempt_at = ?4, last_stage = ?5, last_code = ?6, last_ecode = ?7,"
	    " last_text = ?8, host = ?9, tls = ?10, dest = ?12, reason = ?13, class = ?14,"
	    " done_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE ?11 END"
	    " WHERE id = ?1 AND (?15 = 0 OR claimed_by = ?15)";
	/* OR FAIL: a statement that fails is not undone by itself (the sender's batch rolls
	 * back whole), so SQLite keeps no journal of the pages it changes; the webhook trigger
	 * makes it a write of more than one row (schema/022_check_equals.sql). Its values
	 * meet every constraint: no failure is expected but the disk's. */
	static const char event_sql[] =
	    "INSERT OR FAIL INTO events(message_id, ts, type, stage, code, ecode, text, host,"
	    " tls, attempt, dest, reason, class, source, helo) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7, ?8, ?9, (SELECT attempts FROM messages WHERE id = ?1), ?10, ?11, ?12,"
	    " ?13, ?14)";
	assert(r->state != DISP_KEEP && (!r->count_attempt || r->event != DISP_EV_NONE));
	const char *stage = r->has_stage ? smtp_stage_name(r->stage) : NULL;
	const char *reason = r->reason != BOUNCE_UNDEFINED ? bounce_reason_name(r->reason) : NULL;
	const char *cls = r->cls != BOUNCE_NONE ? bounce_class_name(r->cls) : NULL;
	sqlite3_stmt *st = store_prepare(s, result_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, r->message_id);
	sqlite3_bind_text(st, 2, disposition_state_name(r->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, r->count_attempt ? 1 : 0);
	sqlite3_bind_int64(st, 4, r->next_attempt_at);
	store_bind_opt_text(st, 5, stage);
	if (r->code)
		sqlite3_bind_int(st, 6, r->code);
	store_bind_opt_text(st, 7, r->ecode);
	store_bind_opt_text(st, 8, r->text);
	store_bind_opt_text(st, 9, r->host);
	store_bind_opt_text(st, 10, r->tls);
	sqlite3_bind_int64(st, 11, now);
	store_bind_opt_text(st, 12, r->dest);
	store_bind_opt_text(st, 13, reason);
	store_bind_opt_text(st, 14, cls);
	sqlite3_bind_int64(st, 15, r->owner);
	int rc = store_step_done(s, st, "record a message's outcome");
	if (rc < 0)
		return rc;
	/* Not (or no longer) this sender's claim: another sender has the message now and
	 * writes its outcome; nothing of this one is recorded, nor counted in the rollups. */
	if (r->owner != 0 && sqlite3_changes(store_db(s)) == 0)
		return STORE_RESULT_NOT_OURS;
	if (!r->count_attempt) {
		/* Summed in C, written by store_commit: no trigger, no statement per message. */
		store_rollup_result(store_rollups(s), r, now, 0);
		return sqlite3_get_autocommit(store_db(s)) ? store_rollup_flush(s, store_rollups(s))
		                                           : 0;
	}
	if ((st = store_prepare(s, event_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, r->message_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, disposition_event_name(r->event), -1, SQLITE_STATIC);
	store_bind_opt_text(st, 4, stage);
	if (r->code)
		sqlite3_bind_int(st, 5, r->code);
	store_bind_opt_text(st, 6, r->ecode);
	store_bind_opt_text(st, 7, r->text);
	store_bind_opt_text(st, 8, r->host);
	store_bind_opt_text(st, 9, r->tls);
	store_bind_opt_text(st, 10, r->dest);
	store_bind_opt_text(st, 11, reason);
	store_bind_opt_text(st, 12, cls);
	store_bind_opt_text(st, 13, r->source);
	store_bind_opt_text(st, 14, r->helo);
	if ((rc = store_step_done(s, st, "record a delivery event")) < 0)
		return rc;
	store_rollup_result(store_rollups(s), r, now, sqlite3_last_insert_rowid(store_db(s)));
	return sqlite3_get_autocommit(store_db(s)) ? store_rollup_flush(s, store_rollups(s)) : 0;
}
