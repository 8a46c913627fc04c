/*
 * store_campaign - campaigns: a list, a template version, a sender identity
 * and options, with a state (table campaigns; see store.h), and the counts of
 * their messages by state. The state machine is store_lifecycle.c's.
 */
#include "kirim/store.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* A campaign with its first list's (if any) and template's names, as store_campaign_row reads
 * it. */
#define CAMPAIGN_COLUMNS                                                                           \
	"SELECT c.id, c.name, coalesce(c.list_id, 0), coalesce(l.name, ''), c.template_id, "       \
	"t.name,"                                                                                  \
	" t.version,"                                                                              \
	" coalesce(c.from_name, ''), c.from_addr, coalesce(c.reply_to, ''),"                       \
	" c.headers, c.state, c.created_at, c.options, coalesce(c.state_reason, '')"               \
	" FROM campaigns c"                                                                        \
	" LEFT JOIN lists l ON l.id = c.list_id JOIN templates t ON t.id = c.template_id"

int
store_campaign_create(struct store *s, struct store_campaign *c)
{
	static const char sql[] =
	    "INSERT INTO campaigns(name, list_id, template_id, from_name, from_addr, reply_to,"
	    " headers, created_at, updated_at, options)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9) ON CONFLICT DO NOTHING";
	static const char pg[] = PG_INSERT_NEW(
	    "campaigns",
	    "name, list_id, template_id, from_name, from_addr, reply_to, headers, created_at,"
	    " updated_at, options",
	    "CAST(?1 AS TEXT), CAST(?2 AS BIGINT), CAST(?3 AS BIGINT), CAST(?4 AS TEXT),"
	    " CAST(?5 AS TEXT), CAST(?6 AS TEXT), CAST(?7 AS json), CAST(?8 AS BIGINT), ?8,"
	    " CAST(?9 AS json)",
	    "name = CAST(?1 AS TEXT)");
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, c->name);
	if (c->list_id)
		db_bind_int64(st, 2, c->list_id);
	db_bind_int64(st, 3, c->template_id);
	store_bind_opt_text(st, 4, c->from_name);
	db_bind_text(st, 5, c->from_addr);
	store_bind_opt_text(st, 6, c->reply_to);
	db_bind_text(st, 7, c->headers ? c->headers : "[]");
	db_bind_int64(st, 8, store_now());
	db_bind_text(st, 9, c->options ? c->options : "{}");
	bool made;
	int rc = store_insert_id(s, st, "create campaign", &c->id, &made);
	if (rc == 0 && !made)
		return store_errf(s, STORE_E_EXISTS, "a campaign called '%s' exists already",
		                  c->name);
	return rc;
}

/* store_campaign_row - a struct store_campaign from a row of CAMPAIGN_COLUMNS */
static void
store_campaign_row(struct db_stmt *st, void *out)
{
	struct store_campaign *c = out;
	c->id = db_column_int64(st, 0);
	store_copy_text(c->name, sizeof(c->name), st, 1);
	c->list_id = db_column_int64(st, 2);
	store_copy_text(c->list, sizeof(c->list), st, 3);
	c->template_id = db_column_int64(st, 4);
	store_copy_text(c->template_name, sizeof(c->template_name), st, 5);
	c->template_version = db_column_int(st, 6);
	store_copy_text(c->from_name, sizeof(c->from_name), st, 7);
	store_copy_text(c->from_addr, sizeof(c->from_addr), st, 8);
	store_copy_text(c->reply_to, sizeof(c->reply_to), st, 9);
	c->headers = store_dup_text(st, 10);
	store_copy_text(c->state, sizeof(c->state), st, 11);
	c->created_at = db_column_int64(st, 12);
	c->options = store_dup_text(st, 13);
	store_copy_text(c->state_reason, sizeof(c->state_reason), st, 14);
}

int
store_campaign_get(struct store *s, const char *name, struct store_campaign *out)
{
	static const char sql[] = CAMPAIGN_COLUMNS " WHERE c.name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = store_get_one(s, st, store_campaign_row, out, sizeof *out, "read campaign");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no campaign called '%s'", name);
	return rc;
}

int
store_campaign_get_id(struct store *s, int64_t id, struct store_campaign *out)
{
	static const char sql[] = CAMPAIGN_COLUMNS " WHERE c.id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = store_get_one(s, st, store_campaign_row, out, sizeof *out, "read campaign");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no campaign with id %lld", (long long)id);
	return rc;
}

int
store_campaign_each(struct store *s, store_campaign_cb cb, void *arg)
{
	static const char sql[] = CAMPAIGN_COLUMNS " ORDER BY c.created_at DESC, c.id DESC";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_campaign c;
		store_campaign_row(st, &c);
		ret = cb(arg, &c);
		store_campaign_clear(&c);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read campaigns");
	db_reset(st);
	return ret;
}

void
store_campaign_clear(struct store_campaign *c)
{
	free(c->headers);
	free(c->options);
	c->options = NULL;
	c->headers = NULL;
}

int
store_campaign_counts(struct store *s, int64_t campaign_id, struct store_campaign_counts *c)
{
	static const char sql[] = "SELECT state, attempts > 0, count(*), min(next_attempt_at)"
	                          " FROM messages WHERE campaign_id = ?1 GROUP BY 1, 2";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	memset(c, 0, sizeof(*c));
	db_bind_int64(st, 1, campaign_id);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *state = db_column_text(st, 0);
		int tried = db_column_int(st, 1);
		int64_t n = db_column_int64(st, 2);
		c->total += n;
		if (strcmp(state, "queued") == 0) {
			c->queued += n;
			if (tried)
				c->deferred += n;
			int64_t due = db_column_int64(st, 3);
			if (c->next_due == 0 || due < c->next_due)
				c->next_due = due;
		} else if (strcmp(state, "claimed") == 0) {
			c->claimed += n;
		} else if (strcmp(state, "delivered") == 0) {
			c->delivered += n;
		} else if (strcmp(state, "bounced") == 0) {
			c->bounced += n;
		} else if (strcmp(state, "failed") == 0) {
			c->failed += n;
		} else if (strcmp(state, "suppressed") == 0) {
			c->suppressed += n;
		} else if (strcmp(state, "cancelled") == 0) {
			c->cancelled += n;
		}
	}
	db_reset(st);
	if (rc != DB_DONE)
		return store_fail(s, "count messages");
	/* The walk of the audience still to make messages (store_messages_walk), if any. */
	static const char walk_sql[] = "SELECT CASE WHEN queue_upto > queue_cursor THEN"
	                               " queue_cursor ELSE 0 END, CASE WHEN queue_upto >"
	                               " queue_cursor THEN queue_upto ELSE 0 END"
	                               " FROM campaigns WHERE id = ?1";
	if ((st = store_stmt(s, walk_sql)) == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	if ((rc = db_step(st)) == DB_ROW) {
		c->walk_cursor = db_column_int64(st, 0);
		c->walk_upto = db_column_int64(st, 1);
	}
	db_reset(st);
	return rc >= 0 ? 0 : store_fail(s, "read the walk of the campaign's audience");
}

int
store_campaign_set_links(struct store *s, int64_t campaign_id, const char *links_json)
{
	static const char sql[] =
	    "UPDATE campaigns SET options = json_set(CASE WHEN json_valid(options)"
	    " THEN options ELSE '{}' END, '$.links', json(?2)) WHERE id = ?1";
	/* PostgreSQL: links is an array, which a merge patch sets as json_set does, in its
	 * place (jsonb would reorder the options' keys) */
	static const char pg[] = "UPDATE campaigns SET options = " PG_PATCH(
	    "CASE WHEN json_typeof(options) = 'object' THEN options ELSE '{}' END",
	    "json_build_object('links', CAST(?2 AS json))") " WHERE id = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	db_bind_text(st, 2, links_json);
	return store_step_done(s, st, "save the campaign's link table");
}

int
store_campaign_set_state(struct store *s, int64_t campaign_id, const char *state)
{
	/* A confirmation campaign is never done: a signup may queue a message at any moment
	 * (one queued between a sender's last count and this would otherwise wait for the
	 * next signup), and kirim run looks only at campaigns that are sending. */
	static const char sql[] = "UPDATE campaigns SET state = CAST(?2 AS TEXT), updated_at = ?3"
	                          " WHERE id = ?1 AND NOT (kind = 'confirm' AND ?2 = 'done')";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	db_bind_text(st, 2, state);
	db_bind_int64(st, 3, store_now());
	return store_step_done(s, st, "set the campaign's state");
}
