/*
 * store_signup - signups, confirmations and consent records (see
 * store_signup.h). Every statement goes through the store's cache.
 */
#include "kirim/store_signup.h"
#include "kirim/store.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/store_api.h"
#include "kirim/xmalloc.h"

/* The list's confirmation campaign, made (with its template) when it has none. */
static int
confirm_campaign(struct store *s, struct store_signup *su, int64_t list_id, int64_t now)
{
	static const char find_sql[] =
	    "SELECT id FROM campaigns WHERE kind = 'confirm' AND list_id = ?1 ORDER BY id LIMIT 1";
	static const char make_sql[] =
	    "INSERT INTO campaigns(name, list_id, template_id, from_name, from_addr, headers,"
	    " state, created_at, updated_at, options, kind)"
	    " VALUES ('confirm:' || ?1, ?2, ?3, ?4, ?5, '[]', 'sending', ?6, ?6,"
	    " '{\"unsubscribe_scope\":\"list\"}', 'confirm')";
	static const char audience_sql[] = "INSERT INTO campaign_audience(campaign_id, pos, kind,"
	                                   " list_id, name) VALUES (?1, 0, 'list', ?2, ?3)";
	sqlite3_stmt *st = store_prepare(s, find_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	int64_t id = 0;
	int rc = store_get_int64(s, st, &id, "find the confirmation campaign");
	if (rc < 0)
		return rc;
	if (id > 0) {
		su->campaign_id = id;
		return 0;
	}
	char tname[300];
	snprintf(tname, sizeof(tname), "confirm:%s", su->list);
	int version;
	int64_t tid;
	if ((rc = store_template_add(s, tname, su->subject, su->text, su->html, &version, &tid)) <
	    0)
		return rc;
	if ((st = store_prepare(s, make_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, su->list, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, list_id);
	sqlite3_bind_int64(st, 3, tid);
	store_bind_opt_text(st, 4, su->from_name);
	sqlite3_bind_text(st, 5, su->from_addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	if ((rc = store_step_done(s, st, "make the confirmation campaign")) < 0)
		return rc;
	su->campaign_id = sqlite3_last_insert_rowid(store_db(s));
	/* Its audience is its list, as every campaign's (the claim reads it: store_message.c). */
	if ((st = store_prepare(s, audience_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->campaign_id);
	sqlite3_bind_int64(st, 2, list_id);
	sqlite3_bind_text(st, 3, su->list, -1, SQLITE_STATIC);
	return store_step_done(s, st, "set the confirmation campaign's audience");
}

/* store_signup_add - a signup: contact, unconfirmed member, consent, confirmation request */
int
store_signup_add(struct store *s, struct store_signup *su, int64_t now)
{
	static const char contact_sql[] =
	    "INSERT INTO contacts(email, domain, attrs, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING";
	static const char contact_id_sql[] = "SELECT id FROM contacts WHERE email = ?1";
	/*
	 * 1: a confirmed member; 2: one waiting for its link; 3: a confirmed member
	 * whose own unsubscribe suppressed the address, who must confirm again (the
	 * confirmation lifts it: lift_unsubscribe).
	 */
	static const char status_sql[] =
	    "SELECT CASE WHEN m.status = 'unconfirmed' THEN 2 WHEN EXISTS (SELECT 1 FROM"
	    " suppressions p, contacts c WHERE c.id = m.contact_id AND p.kind = 'address'"
	    " AND p.value = lower(c.email) AND p.reason = 'unsubscribe'"
	    " AND p.source LIKE 'campaign:%') THEN 3 ELSE 1 END FROM list_members m"
	    " WHERE m.list_id = ?1 AND m.contact_id = ?2";
	static const char again_sql[] = "UPDATE list_members SET status = 'unconfirmed'"
	                                " WHERE list_id = ?1 AND contact_id = ?2";
	static const char member_sql[] = "INSERT INTO list_members(list_id, contact_id, status)"
	                                 " VALUES (?1, ?2, 'unconfirmed')";
	/*
	 * A new request, or the old one again when it is final and older than
	 * resend_after (its row keeps its events: one message per campaign and
	 * contact, as everywhere).
	 */
	static const char message_sql[] =
	    "INSERT INTO messages(campaign_id, contact_id, domain, state, queued_at)"
	    " VALUES (?1, ?2, (SELECT domain FROM contacts WHERE id = ?2), 'queued', ?3)"
	    " ON CONFLICT (campaign_id, contact_id) DO UPDATE"
	    " SET state = 'queued', domain = excluded.domain, attempts = 0, next_attempt_at = 0,"
	    " queued_at = excluded.queued_at, claimed_at = NULL, claimed_by = NULL, done_at = NULL,"
	    " last_stage = NULL, last_code = NULL, last_ecode = NULL, last_text = NULL"
	    " WHERE messages.state NOT IN ('queued', 'claimed') AND messages.queued_at <= ?4";
	static const char consent_sql[] =
	    "INSERT INTO consents(contact_id, list_id, list_name, form, ip, user_agent, language,"
	    " text, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	/* A paused or cancelled confirmation campaign stays so: its owner stopped it. */
	static const char wake_sql[] = "UPDATE campaigns SET state = 'sending', updated_at = ?2"
	                               " WHERE id = ?1 AND state IN ('draft', 'done')";
	/* Before anything is written: the batch goes on without this signup. */
	static const char taken_sql[] =
	    "SELECT count(*) FROM campaigns WHERE name = 'confirm:' || ?1"
	    " AND kind <> 'confirm'";
	int64_t list_id, member = 0, taken = 0;
	bool created;
	sqlite3_stmt *st = store_prepare(s, taken_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, su->list, -1, SQLITE_STATIC);
	int rc = store_get_int64(s, st, &taken, "look for the confirmation campaign's name");
	if (rc < 0)
		return rc;
	if (taken)
		return store_errf(s, STORE_E_EXISTS,
		                  "a campaign called 'confirm:%s' exists already: rename it, so "
		                  "that the list's confirmation campaign can take the name",
		                  su->list);
	if ((rc = store_list_ensure(s, su->list, &list_id, &created)) < 0)
		return rc;
	st = store_prepare(s, contact_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, su->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, su->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, su->attrs ? su->attrs : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if ((rc = store_step_done(s, st, "add the contact")) < 0)
		return rc;
	bool made = sqlite3_changes(store_db(s)) > 0;
	if ((st = store_prepare(s, contact_id_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, su->email, -1, SQLITE_STATIC);
	if ((rc = store_get_int64(s, st, &su->contact_id, "find the contact")) < 0)
		return rc;
	if (made && (rc = store_suppress_link(s, su->contact_id)) < 0)
		return rc;
	if ((st = store_prepare(s, status_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, su->contact_id);
	if ((rc = store_get_int64(s, st, &member, "read the membership")) < 0)
		return rc;
	if (member == 1) {
		su->outcome = STORE_SIGNUP_MEMBER;
		return 0;
	}
	if (member == 0 || member == 3) {
		if ((st = store_prepare(s, member == 0 ? member_sql : again_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, list_id);
		sqlite3_bind_int64(st, 2, su->contact_id);
		if ((rc = store_step_done(s, st, "add the member")) < 0)
			return rc;
	}
	if ((rc = confirm_campaign(s, su, list_id, now)) < 0)
		return rc;
	/*
	 * The report rollups (store_rollup.c): a final request sent again leaves its row
	 * (queued, it has none); the campaign's first queueing is looked up again when it
	 * was this message's.
	 */
	static const char name_sql[] =
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE campaign_id = ?1"
	    " AND contact_id = ?2 ON CONFLICT DO NOTHING";
	static const char queued_sql[] =
	    "SELECT coalesce(max(queued_at), 0) FROM messages WHERE campaign_id = ?1"
	    " AND contact_id = ?2";
	static const char started_sql[] =
	    "UPDATE report_campaigns SET started_at = (SELECT min(queued_at) FROM messages"
	    " WHERE campaign_id = ?1 AND queued_at > 0) WHERE campaign_id = ?1 AND started_at = ?2";
	int64_t old_queued = 0;
	for (int pass = 0; pass < 2; pass++) {
		if ((st = store_prepare(s, pass ? name_sql : queued_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, su->campaign_id);
		sqlite3_bind_int64(st, 2, su->contact_id);
		rc = pass ? store_step_done(s, st, "name the confirmation request")
		          : store_get_int64(s, st, &old_queued, "read the confirmation request");
		if (rc < 0)
			return rc;
	}
	if ((rc = store_rollup_out(s)) < 0)
		return rc;
	if ((st = store_prepare(s, message_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->campaign_id);
	sqlite3_bind_int64(st, 2, su->contact_id);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now - su->resend_after);
	if ((rc = store_step_done(s, st, "queue the confirmation request")) < 0)
		return rc;
	int changed = sqlite3_changes(store_db(s));
	if ((st = store_prepare(s, name_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->campaign_id);
	sqlite3_bind_int64(st, 2, su->contact_id);
	if ((rc = store_step_done(s, st, "name the confirmation request")) < 0 ||
	    (rc = store_rollup_in(s)) < 0)
		return rc;
	/* A new request: its recipient in their own zone counted, as a campaign's walk counts
	 * its messages (OWN_ZONE_ROLLUP); one sent again was counted when it was made. */
	static const char zone_sql[] = OWN_ZONE_ROLLUP("m.campaign_id = ?1 AND m.contact_id = ?2",
	                                               "own_zone + excluded.own_zone");
	if (changed && old_queued == 0) {
		if ((st = store_prepare(s, zone_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, su->campaign_id);
		sqlite3_bind_int64(st, 2, su->contact_id);
		if ((rc = store_step_done(s, st, "count the recipient's own zone")) < 0)
			return rc;
	}
	if (changed && old_queued > 0 && old_queued < now) {
		if ((st = store_prepare(s, started_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, su->campaign_id);
		sqlite3_bind_int64(st, 2, old_queued);
		if ((rc = store_step_done(s, st, "look the campaign's start up again")) < 0)
			return rc;
	}
	if (changed == 0) {
		su->outcome = STORE_SIGNUP_RECENT;
		return 0;
	}
	su->outcome = STORE_SIGNUP_SENT;
	if ((st = store_prepare(s, consent_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->contact_id);
	sqlite3_bind_int64(st, 2, list_id);
	sqlite3_bind_text(st, 3, su->list, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, su->form, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, su->ip, -1, SQLITE_STATIC);
	store_bind_opt_text(st, 6, su->user_agent);
	sqlite3_bind_text(st, 7, su->language, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, su->consent_text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, now);
	if ((rc = store_step_done(s, st, "record the consent")) < 0)
		return rc;
	if ((st = store_prepare(s, wake_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->campaign_id);
	sqlite3_bind_int64(st, 2, now);
	return store_step_done(s, st, "start the confirmation campaign");
}

/* store_signup_confirm_list - the list of a confirmation campaign */
int
store_signup_confirm_list(struct store *s, int64_t campaign_id, int64_t *list_id, char *list,
                          size_t listsz)
{
	static const char sql[] = "SELECT c.list_id, l.name FROM campaigns c JOIN lists l"
	                          " ON l.id = c.list_id WHERE c.id = ?1 AND c.kind = 'confirm'";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*list_id = sqlite3_column_int64(st, 0);
		if (list)
			store_copy_text(list, listsz, st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return store_errf(s, STORE_E_NOTFOUND,
		                  "campaign %lld is not a confirmation campaign",
		                  (long long)campaign_id);
	return store_fail(s, "find the confirmation campaign");
}

/*
 * A confirmed signup is the person's consent again: the suppression their own
 * unsubscribe made (reason 'unsubscribe', from a campaign's link: source
 * "campaign:NAME"), older than the signup confirmed now, is lifted, and the
 * audit log says so. A bounce's, a complaint's, or one an operator added (any
 * other source) stays; so does an unsubscribe made after the signup. The
 * unsubscribe was from everything and the consent is for one list: the
 * contact's other lists are left (as a list's unsubscribe leaves it).
 */
static int
lift_unsubscribe(struct store *s, int64_t list_id, int64_t contact_id, const char *ip, int64_t now)
{
	static const char find_sql[] =
	    "SELECT p.id, p.value, p.source, p.created_at FROM suppressions p, contacts c"
	    " WHERE c.id = ?2 AND p.kind = 'address' AND p.value = lower(c.email)"
	    " AND p.reason = 'unsubscribe' AND p.source LIKE 'campaign:%'"
	    " AND p.created_at <= (SELECT max(created_at) FROM consents"
	    "  WHERE contact_id = ?2 AND list_id = ?1)";
	static const char lift_sql[] = "DELETE FROM suppressions WHERE id = ?1";
	static const char others_sql[] =
	    "DELETE FROM list_members WHERE contact_id = ?2 AND list_id <> ?1";
	sqlite3_stmt *st = store_prepare(s, find_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, contact_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_fail(s, "look for the address's unsubscribe");
	}
	int64_t id = sqlite3_column_int64(st, 0);
	struct buf what = BUF_INIT;
	buf_printf(&what, "suppression:%s unsubscribe (%s, %lld) lifted by a confirmed signup",
	           store_col_text(st, 1), store_col_text(st, 2),
	           (long long)sqlite3_column_int64(st, 3));
	sqlite3_reset(st);
	if ((st = store_prepare(s, lift_sql)) == NULL) {
		buf_free(&what);
		return STORE_E_SQL;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = store_step_done(s, st, "lift the unsubscribe");
	/*
	 * The unsubscribe was from everything; the consent is for this list:
	 * the other lists, which it left too, it leaves for good.
	 */
	if (rc == 0 && (st = store_prepare(s, others_sql)) == NULL)
		rc = STORE_E_SQL;
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, list_id);
		sqlite3_bind_int64(st, 2, contact_id);
		rc = store_step_done(s, st, "leave the other lists");
		int64_t left = rc == 0 ? sqlite3_changes(store_db(s)) : 0;
		if (left)
			buf_printf(&what, "; left %lld other list%s", (long long)left,
			           left == 1 ? "" : "s");
	}
	if (rc == 0) {
		struct store_audit a = {
		    .ts = now,
		    .token_name = "signup",
		    .method = "POST",
		    .path = "/k/",
		    .resource = what.data,
		    .status = 200,
		    .client = ip ? ip : "-",
		};
		rc = store_audit_add(s, &a);
	}
	buf_free(&what);
	return rc;
}

/* store_signup_confirm - the member confirmed, the consent dated */
int
store_signup_confirm(struct store *s, int64_t campaign_id, int64_t contact_id, const char *ip,
                     int64_t now, enum store_confirm_outcome *out)
{
	static const char confirm_sql[] =
	    "UPDATE list_members SET status = 'confirmed' WHERE list_id = ?1 AND contact_id = ?2"
	    " AND status = 'unconfirmed'";
	static const char member_sql[] =
	    "SELECT count(*) FROM list_members WHERE list_id = ?1 AND contact_id = ?2";
	static const char consent_sql[] =
	    "UPDATE consents SET confirmed_at = ?3, confirm_ip = ?4 WHERE id = (SELECT max(id)"
	    " FROM consents WHERE contact_id = ?2 AND list_id = ?1 AND confirmed_at IS NULL)";
	int64_t list_id, n = 0;
	int rc = store_signup_confirm_list(s, campaign_id, &list_id, NULL, 0);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = store_prepare(s, confirm_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, contact_id);
	if ((rc = store_step_done(s, st, "confirm the member")) < 0)
		return rc;
	if (sqlite3_changes(store_db(s)) == 0) {
		if ((st = store_prepare(s, member_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, list_id);
		sqlite3_bind_int64(st, 2, contact_id);
		if ((rc = store_get_int64(s, st, &n, "read the membership")) < 0)
			return rc;
		*out = n == 0 ? STORE_CONFIRM_GONE : STORE_CONFIRM_ALREADY;
		return 0;
	}
	if ((st = store_prepare(s, consent_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, list_id);
	sqlite3_bind_int64(st, 2, contact_id);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, ip ? ip : "-", -1, SQLITE_STATIC);
	if ((rc = store_step_done(s, st, "date the consent")) < 0)
		return rc;
	*out = STORE_CONFIRM_DONE;
	return lift_unsubscribe(s, list_id, contact_id, ip, now);
}

/* store_signup_purge - unconfirmed signups made before `before` removed */
int
store_signup_purge(struct store *s, int64_t before, int64_t now, int64_t *purged, int64_t *contacts)
{
	/*
	 * A member's signup time is its latest consent's (a signup again makes a
	 * new one). One whose confirmation request is on the wire now waits for
	 * the next purge. The partial index of unconfirmed members finds them.
	 */
	static const char find_sql[] =
	    "SELECT m.contact_id, m.list_id FROM list_members m WHERE m.status = 'unconfirmed'"
	    " AND coalesce((SELECT max(k.created_at) FROM consents k WHERE k.contact_id ="
	    " m.contact_id AND k.list_id = m.list_id), 0) < ?1"
	    " AND NOT EXISTS (SELECT 1 FROM messages x JOIN campaigns c ON c.id = x.campaign_id"
	    "  WHERE x.contact_id = m.contact_id AND c.kind = 'confirm' AND c.list_id = m.list_id"
	    "  AND x.state = 'claimed') LIMIT 10000";
	static const char *const steps[] = {
	    "DELETE FROM list_members WHERE contact_id = ?1 AND list_id = ?2"
	    " AND status = 'unconfirmed'",
	    /* Never confirmed: no consent to prove, only an address and a browser to keep. */
	    "DELETE FROM consents WHERE contact_id = ?1 AND list_id = ?2 AND confirmed_at IS NULL",
	    /* Named for the report rollups (store_rollup.c), then cancelled. */
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE contact_id = ?1"
	    " AND state = 'queued' AND campaign_id IN (SELECT id FROM campaigns"
	    " WHERE kind = 'confirm' AND list_id = ?2)",
	    "UPDATE messages SET state = 'cancelled', done_at = ?3 WHERE contact_id = ?1"
	    " AND state = 'queued' AND campaign_id IN (SELECT id FROM campaigns"
	    " WHERE kind = 'confirm' AND list_id = ?2)",
	};
	/*
	 * The contact goes too when the signup was all kirim knew of it: on no
	 * list, no consent left, no message of a regular campaign, not suppressed
	 * (a suppression outlives its contact anyway: it names the address).
	 */
	static const char alone_sql[] =
	    "SELECT count(*) FROM contacts c WHERE c.id = ?1"
	    " AND NOT EXISTS (SELECT 1 FROM list_members WHERE contact_id = c.id)"
	    " AND NOT EXISTS (SELECT 1 FROM consents WHERE contact_id = c.id)"
	    " AND NOT EXISTS (SELECT 1 FROM contact_tags WHERE contact_id = c.id)"
	    " AND NOT EXISTS (SELECT 1 FROM messages x JOIN campaigns k ON k.id = x.campaign_id"
	    "  WHERE x.contact_id = c.id AND k.kind <> 'confirm')";
	int64_t(*rows)[2] = NULL;
	size_t n = 0, cap = 0;
	*purged = *contacts = 0;
	sqlite3_stmt *st = store_prepare(s, find_sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, before);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			rows = xrealloc(rows, cap * sizeof(*rows));
		}
		rows[n][0] = sqlite3_column_int64(st, 0);
		rows[n][1] = sqlite3_column_int64(st, 1);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(rows);
		return store_fail(s, "find the expired signups");
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]) && rc == 0; j++) {
			if ((st = store_prepare(s, steps[j])) == NULL) {
				rc = STORE_E_SQL;
				break;
			}
			sqlite3_bind_int64(st, 1, rows[i][0]);
			sqlite3_bind_int64(st, 2, rows[i][1]);
			if (j == 3)
				sqlite3_bind_int64(st, 3, now);
			rc = store_step_done(s, st, "purge an expired signup");
		}
		if (rc == 0)
			rc = store_rollup_in(s);
		if (rc < 0)
			break;
		++*purged;
		int64_t alone = 0;
		if ((st = store_prepare(s, alone_sql)) == NULL) {
			rc = STORE_E_SQL;
			break;
		}
		sqlite3_bind_int64(st, 1, rows[i][0]);
		if ((rc = store_get_int64(s, st, &alone, "look at the signup's contact")) < 0)
			break;
		if (alone) {
			/* A plain delete, not an erasure: an erasure's hash would refuse the
			 * person's next signup. */
			int64_t msgs, cancelled;
			if ((rc = store_contact_delete(s, rows[i][0], false, &msgs, &cancelled)) <
			    0)
				break;
			++*contacts;
		}
	}
	free(rows);
	return rc;
}

static void
page_info_row(sqlite3_stmt *st, void *arg)
{
	struct store_page_info *p = arg;
	store_copy_text(p->email, sizeof(p->email), st, 0);
	store_copy_text(p->language, sizeof(p->language), st, 1);
	store_copy_text(p->list, sizeof(p->list), st, 2);
	p->list_id = sqlite3_column_int64(st, 3);
	p->confirm = sqlite3_column_int(st, 4) != 0;
	p->list_scope = sqlite3_column_int(st, 5) != 0;
	int m = sqlite3_column_int(st, 6);
	p->member = m == 1   ? STORE_MEMBER_CONFIRMED
	            : m == 2 ? STORE_MEMBER_UNCONFIRMED
	                     : STORE_MEMBER_NONE;
	store_copy_text(p->suppressed, sizeof(p->suppressed), st, 7);
}

/* store_page_info - what a subscriber's page shows */
int
store_page_info(struct store *s, int64_t campaign_id, int64_t contact_id,
                struct store_page_info *out)
{
	static const char sql[] =
	    "SELECT c.email, CASE WHEN json_valid(c.attrs) THEN"
	    " coalesce(json_extract(c.attrs, '$.language'), '') ELSE '' END,"
	    " l.name, k.list_id, k.kind = 'confirm',"
	    " CASE WHEN json_valid(k.options) AND json_extract(k.options, '$.unsubscribe_scope')"
	    " = 'list' THEN 1 ELSE 0 END,"
	    " (SELECT CASE status WHEN 'confirmed' THEN 1 ELSE 2 END FROM list_members m"
	    "  WHERE m.list_id = k.list_id AND m.contact_id = c.id),"
	    " coalesce(" SUPPRESSION_OF_C ", '')"
	    " FROM campaigns k JOIN lists l ON l.id = k.list_id, contacts c"
	    " WHERE k.id = ?1 AND c.id = ?2";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, campaign_id);
	sqlite3_bind_int64(st, 2, contact_id);
	struct store_page_info p;
	memset(&p, 0, sizeof(p));
	int rc = store_get_one(s, st, page_info_row, &p, sizeof p,
	                       "read the page's campaign and contact");
	if (rc == STORE_E_NOTFOUND)
		return store_errf(s, rc, "no such campaign or contact");
	if (rc == 0)
		*out = p;
	return rc;
}

/* store_consent_each - a contact's consent records (either backend: `contacts show`) */
int
store_consent_each(struct store *s, int64_t contact_id, store_consent_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT list_name, form, ip, coalesce(user_agent, ''), language, text,"
	    " coalesce(confirm_ip, ''), created_at, coalesce(confirmed_at, 0)"
	    " FROM consents WHERE contact_id = ?1 ORDER BY id";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, contact_id);
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_consent c = {
		    .list = store_col_text(st, 0),
		    .form = store_col_text(st, 1),
		    .ip = store_col_text(st, 2),
		    .user_agent = store_col_text(st, 3),
		    .language = store_col_text(st, 4),
		    .text = store_col_text(st, 5),
		    .confirm_ip = store_col_text(st, 6),
		    .created_at = db_column_int64(st, 7),
		    .confirmed_at = db_column_int64(st, 8),
		};
		if ((ret = cb(arg, &c)) != 0)
			break;
	}
	db_reset(st);
	if (ret == 0 && rc != DB_DONE && rc != DB_ROW)
		return store_fail(s, "read the consent records");
	return ret;
}
