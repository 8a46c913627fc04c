/*
 * store_signup - signups, confirmations and consent records (see
 * store_signup.h). Every statement goes through the store's cache.
 */
#include "kirim/store_signup.h"
#include "kirim/store.h"
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "kirim/buf.h"

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
	static const char status_sql[] =
	    "SELECT CASE status WHEN 'confirmed' THEN 1 ELSE 2 END FROM list_members"
	    " WHERE list_id = ?1 AND contact_id = ?2";
	static const char member_sql[] = "INSERT INTO list_members(list_id, contact_id, status)"
	                                 " VALUES (?1, ?2, 'unconfirmed')";
	/*
	 * A new request, or the old one again when it is final and older than
	 * resend_after (its row keeps its events: one message per campaign and
	 * contact, as everywhere).
	 */
	static const char message_sql[] =
	    "INSERT INTO messages(campaign_id, contact_id, state, queued_at)"
	    " VALUES (?1, ?2, 'queued', ?3) ON CONFLICT (campaign_id, contact_id) DO UPDATE"
	    " SET state = 'queued', attempts = 0, next_attempt_at = 0, queued_at = "
	    "excluded.queued_at,"
	    " claimed_at = NULL, claimed_by = NULL, done_at = NULL, last_stage = NULL,"
	    " last_code = NULL, last_ecode = NULL, last_text = NULL"
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
	if ((st = store_prepare(s, contact_id_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, su->email, -1, SQLITE_STATIC);
	if ((rc = store_get_int64(s, st, &su->contact_id, "find the contact")) < 0)
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
	if (member == 0) {
		if ((st = store_prepare(s, member_sql)) == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, list_id);
		sqlite3_bind_int64(st, 2, su->contact_id);
		if ((rc = store_step_done(s, st, "add the member")) < 0)
			return rc;
	}
	if ((rc = confirm_campaign(s, su, list_id, now)) < 0)
		return rc;
	if ((st = store_prepare(s, message_sql)) == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, su->campaign_id);
	sqlite3_bind_int64(st, 2, su->contact_id);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now - su->resend_after);
	if ((rc = store_step_done(s, st, "queue the confirmation request")) < 0)
		return rc;
	if (sqlite3_changes(store_db(s)) == 0) {
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
		if (n == 0)
			return store_errf(s, STORE_E_NOTFOUND, "not on the list");
		*out = STORE_CONFIRM_ALREADY;
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
	return 0;
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

/* store_consent_each - a contact's consent records */
int
store_consent_each(struct store *s, int64_t contact_id, store_consent_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT list_name, form, ip, coalesce(user_agent, ''), language, text,"
	    " coalesce(confirm_ip, ''), created_at, coalesce(confirmed_at, 0)"
	    " FROM consents WHERE contact_id = ?1 ORDER BY id";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, contact_id);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_consent c = {
		    .list = store_col_text(st, 0),
		    .form = store_col_text(st, 1),
		    .ip = store_col_text(st, 2),
		    .user_agent = store_col_text(st, 3),
		    .language = store_col_text(st, 4),
		    .text = store_col_text(st, 5),
		    .confirm_ip = store_col_text(st, 6),
		    .created_at = sqlite3_column_int64(st, 7),
		    .confirmed_at = sqlite3_column_int64(st, 8),
		};
		if ((ret = cb(arg, &c)) != 0)
			break;
	}
	sqlite3_reset(st);
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(s, "read the consent records");
	return ret;
}
