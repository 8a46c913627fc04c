/* store_lifecycle - a campaign's state machine (see store_lifecycle.h). */
#include "kirim/store_lifecycle.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/store.h"
#include "store_int.h"

#include "kirim/segment.h"

/* Every legal move. Anything not here is refused. */
static const struct {
	const char *from, *verb, *to;
} lc_moves[] = {
    {"draft", "schedule", "scheduled"},   {"scheduled", "schedule", "scheduled"},
    {"paused", "schedule", "scheduled"},  {"scheduled", "unschedule", "draft"},
    {"scheduled", "pause", "paused"},     {"sending", "pause", "paused"},
    {"paused", "resume", "sending"},      {"draft", "cancel", "cancelled"},
    {"scheduled", "cancel", "cancelled"}, {"sending", "cancel", "cancelled"},
    {"paused", "cancel", "cancelled"},    {"scheduled", "start", "sending"},
};
#define LC_NMOVES (sizeof(lc_moves) / sizeof(lc_moves[0]))

/* join - the distinct from-states (by_verb) or verbs (by_state) of the table, comma-separated */
static void
join(struct buf *b, const char *key, bool by_verb)
{
	size_t n = 0;
	for (size_t i = 0; i < LC_NMOVES; i++) {
		const char *k = by_verb ? lc_moves[i].verb : lc_moves[i].from;
		const char *v = by_verb ? lc_moves[i].from : lc_moves[i].verb;
		if (strcmp(k, key) != 0 || (!by_verb && strcmp(v, "start") == 0))
			continue;
		bool dup = false;
		for (size_t j = 0; j < i; j++) {
			const char *kj = by_verb ? lc_moves[j].verb : lc_moves[j].from;
			const char *vj = by_verb ? lc_moves[j].from : lc_moves[j].verb;
			dup |= strcmp(kj, key) == 0 && strcmp(vj, v) == 0;
		}
		if (!dup)
			buf_printf(b, "%s%s", n++ ? ", " : "", v);
	}
}

/* store_lifecycle_to - the state verb leads to from state, or NULL with a sentence */
const char *
store_lifecycle_to(const char *name, const char *state, const char *verb, char *err, size_t errsz)
{
	for (size_t i = 0; i < LC_NMOVES; i++)
		if (strcmp(lc_moves[i].from, state) == 0 && strcmp(lc_moves[i].verb, verb) == 0)
			return lc_moves[i].to;
	struct buf froms = BUF_INIT, verbs = BUF_INIT;
	join(&froms, verb, true);
	join(&verbs, state, false);
	if (froms.len == 0)
		snprintf(err, errsz, "unknown campaign command '%s'", verb);
	else if (verbs.len == 0)
		snprintf(err, errsz,
		         "cannot %s campaign '%s': it is %s, which is final (%s works on a "
		         "campaign that is %s)",
		         verb, name, state, verb, froms.data);
	else
		snprintf(err, errsz,
		         "cannot %s campaign '%s': it is %s (%s works on a campaign that is %s); "
		         "a %s campaign allows: %s",
		         verb, name, state, verb, froms.data, state, verbs.data);
	buf_free(&froms);
	buf_free(&verbs);
	return NULL;
}

/* Options as an object even if someone stored junk: lifecycle reads must not fail on it. */
#define LC_OPTIONS "(CASE WHEN json_valid(c.options) THEN c.options ELSE '{}' END)"

/* PostgreSQL's: an option's text */
#define LC_OPTION_PG(K)                                                                            \
	"(CASE WHEN json_typeof(c.options) = 'object' THEN c.options ->> '" K "' END)"

#define LC_GET(WINDOW, TZ)                                                                         \
	"SELECT c.id, c.name, c.state, coalesce(c.state_reason, ''), coalesce(c.scheduled_at, 0)," \
	" coalesce(" WINDOW ", ''), coalesce(" TZ ", ''), c.list_id,"                              \
	" (SELECT count(*) FROM messages WHERE campaign_id = c.id),"                               \
	" (SELECT count(*) FROM messages WHERE campaign_id = c.id AND state = 'queued'),"          \
	" (SELECT count(*) FROM messages WHERE campaign_id = c.id AND state = 'claimed')"          \
	" FROM campaigns c WHERE c.name = ?1"
static const char sql_get_pg[] = LC_GET(LC_OPTION_PG("window"), LC_OPTION_PG("tz"));
static const char sql_get[] =
    LC_GET("json_extract(" LC_OPTIONS ", '$.window')", "json_extract(" LC_OPTIONS ", '$.tz')");

/* store_lifecycle_get - the lifecycle fields of the campaign called name */
int
store_lifecycle_get(struct store *s, const char *name, struct store_lifecycle_info *out)
{
	struct db_stmt *st = store_stmt_pg(s, sql_get, sql_get_pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = db_column_int64(st, 0);
		store_copy_text(out->name, sizeof(out->name), st, 1);
		store_copy_text(out->state, sizeof(out->state), st, 2);
		store_copy_text(out->reason, sizeof(out->reason), st, 3);
		out->scheduled_at = db_column_int64(st, 4);
		store_copy_text(out->window, sizeof(out->window), st, 5);
		store_copy_text(out->tz, sizeof(out->tz), st, 6);
		out->list_id = db_column_int64(st, 7);
		out->messages = db_column_int64(st, 8);
		out->queued = db_column_int64(st, 9);
		out->claimed = db_column_int64(st, 10);
	} else if (rc == DB_DONE) {
		ret = STORE_E_NOTFOUND;
	} else {
		ret = store_fail(s, "read a campaign's state");
	}
	db_reset(st);
	return ret;
}

/*
 * The one UPDATE every move makes: ?1 id, ?2 the state read in this
 * transaction (a compare-and-set, belt and braces under BEGIN IMMEDIATE),
 * ?3 new state, ?4 state_reason, ?5 now, ?6 set scheduled_at?, ?7 its value,
 * ?8 a JSON merge patch for options (RFC 7396: null removes a key) or NULL.
 */
static const char sql_move[] =
    "UPDATE campaigns SET state = ?3, state_reason = ?4, updated_at = ?5,"
    " scheduled_at = CASE WHEN ?6 THEN ?7 ELSE scheduled_at END,"
    " options = CASE WHEN ?8 IS NULL THEN options ELSE json_patch(CASE WHEN json_valid(options)"
    "   THEN options ELSE '{}' END, ?8) END"
    " WHERE id = ?1 AND state = ?2";
static const char sql_move_pg[] =
    "UPDATE campaigns SET state = ?3, state_reason = ?4, updated_at = ?5,"
    " scheduled_at = CASE WHEN ?6 THEN ?7 ELSE scheduled_at END,"
    " options = CASE WHEN CAST(?8 AS TEXT) IS NULL THEN options ELSE " PG_PATCH(
        "CASE WHEN json_typeof(options) = 'object' THEN options ELSE '{}' END",
        "?8") " END"
              " WHERE id = ?1 AND state = ?2";

static const char sql_cancel_msgs[] =
    "UPDATE messages SET state = 'cancelled', done_at = ?2 WHERE campaign_id = ?1"
    " AND state = 'queued'";
/* Named for the report rollups first (store_rollup.c): queued, they have no row to take
 * out; cancelled, they are put in. */
static const char sql_cancel_name[] = "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages"
                                      " WHERE campaign_id = ?1 AND state = 'queued'";
/* PostgreSQL's temporary tables are pg_temp's */
static const char sql_cancel_name_pg[] = "INSERT INTO rollup_ids(id) SELECT id FROM messages"
                                         " WHERE campaign_id = ?1 AND state = 'queued'";
/* A cancelled campaign's walk ends where it is: no more of its messages are made. */
static const char sql_cancel_walk[] = "UPDATE campaigns SET queue_upto = NULL WHERE id = ?1";

/* patch_str - "key":value for a JSON merge patch (NULL: null, which removes the key) */
static void
patch_str(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, "%s\"%s\":", b->len > 1 ? "," : "", key);
	if (v)
		buf_json_string(b, v, strlen(v));
	else
		buf_adds(b, "null");
}

static const char sql_release_held[] =
    "UPDATE messages SET next_attempt_at = 0 WHERE campaign_id = ?1 AND state = 'queued'"
    " AND attempts = 0 AND next_attempt_at > ?2";

static int
move(struct store *s, const struct store_lifecycle_info *cur, const char *verb, const char *to,
     const struct store_lifecycle_args *a, int64_t *cancelled)
{
	bool sched = strcmp(verb, "schedule") == 0, unsched = strcmp(verb, "unschedule") == 0;
	const char *reason = NULL;
	if (strcmp(verb, "pause") == 0)
		reason = a->reason ? a->reason : "paused by user";
	else if (strcmp(verb, "cancel") == 0)
		reason = a->reason ? a->reason : "cancelled by user";
	struct buf patch = BUF_INIT;
	buf_addc(&patch, '{');
	if (sched || unsched) {
		patch_str(&patch, "window", sched ? a->window : NULL);
		patch_str(&patch, "tz", sched ? a->tz : NULL);
	}
	if ((sched || strcmp(verb, "resume") == 0) && a->skip) {
		buf_printf(&patch, "%s\"skip\":%s", patch.len > 1 ? "," : "", a->skip);
	}
	buf_addc(&patch, '}');
	struct db_stmt *st = store_stmt_pg(s, sql_move, sql_move_pg);
	if (st == NULL) {
		buf_free(&patch);
		return STORE_E_SQL;
	}
	db_bind_int64(st, 1, cur->id);
	db_bind_text(st, 2, cur->state);
	db_bind_text(st, 3, to);
	if (reason)
		db_bind_text(st, 4, reason);
	db_bind_int64(st, 5, a->now);
	db_bind_int(st, 6, sched || unsched);
	if (sched)
		db_bind_int64(st, 7, a->scheduled_at);
	if (patch.len > 2)
		db_bind_textn(st, 8, patch.data, (int)patch.len);
	int ret = store_step_done(s, st, "change the campaign's state");
	buf_free(&patch);
	if (ret == 0 && db_changes(store_conn(s)) != 1)
		ret = STORE_E_NOTFOUND; /* cannot happen inside BEGIN IMMEDIATE */
	if (ret == 0 && (sched || unsched || strcmp(verb, "resume") == 0)) {
		/* A new schedule replaces the old everywhere at once: what waits for the old
		 * window (or a warm-up day, or a destination's down time: none was attempted)
		 * is due again now, and routing holds it again only if the new rules say so.
		 * A deferral keeps its retry time. */
		if ((st = store_stmt(s, sql_release_held)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, cur->id);
		db_bind_int64(st, 2, a->now);
		ret = store_step_done(s, st, "release messages held for the old schedule");
	}
	if (ret == 0 && strcmp(verb, "cancel") == 0) {
		if ((st = store_stmt_pg(s, sql_cancel_name, sql_cancel_name_pg)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, cur->id);
		if ((ret = store_step_done(s, st, "name the queued messages")) < 0)
			return ret;
		if ((st = store_stmt(s, sql_cancel_msgs)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, cur->id);
		db_bind_int64(st, 2, a->now);
		ret = store_step_done(s, st, "cancel the queued messages");
		if (ret == 0)
			*cancelled = db_changes(store_conn(s));
		/* None named, none to put in (the report rollups are SQLite's only so far) */
		if (ret == 0 && *cancelled > 0)
			ret = store_rollup_in(s);
		if (ret == 0 && (st = store_stmt(s, sql_cancel_walk)) == NULL)
			return STORE_E_SQL;
		if (ret == 0) {
			db_bind_int64(st, 1, cur->id);
			ret = store_step_done(s, st, "end the walk of the campaign's audience");
		}
	}
	return ret;
}

/* store_lifecycle_apply - move the campaign called name by verb in one transaction */
int
store_lifecycle_apply(struct store *s, const char *name, const char *verb,
                      const struct store_lifecycle_args *a, char from[16],
                      struct store_lifecycle_info *out, char *err, size_t errsz)
{
	struct store_lifecycle_info cur;
	int64_t cancelled = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_lifecycle_get(s, name, &cur);
	if (rc == STORE_E_NOTFOUND) {
		snprintf(err, errsz, "no campaign called '%s' ('kirim campaign list' shows them)",
		         name);
		store_rollback(s);
		return rc;
	}
	const char *to = NULL;
	if (rc == 0 && (to = store_lifecycle_to(name, cur.state, verb, err, errsz)) == NULL) {
		store_rollback(s);
		return STORE_LIFECYCLE_E_STATE;
	}
	/* A paused campaign resumes into its schedule if that is still ahead. */
	if (rc == 0 && strcmp(verb, "resume") == 0 && cur.scheduled_at > a->now)
		to = "scheduled";
	if (rc == 0)
		rc = move(s, &cur, verb, to, a, &cancelled);
	if (rc == 0 && out)
		rc = store_lifecycle_get(s, name, out);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
		return rc;
	}
	if (out)
		out->cancelled = cancelled;
	if (from)
		snprintf(from, 16, "%s", cur.state);
	return 0;
}

#define LC_DUE(WINDOW, TZ)                                                                         \
	"SELECT c.id, c.name, c.scheduled_at, coalesce(" WINDOW ", ''), coalesce(" TZ ", '')"      \
	" FROM campaigns c WHERE c.state = 'scheduled' AND c.scheduled_at <= ?1"                   \
	" ORDER BY c.scheduled_at, c.id"
static const char sql_due[] =
    LC_DUE("json_extract(" LC_OPTIONS ", '$.window')", "json_extract(" LC_OPTIONS ", '$.tz')");
static const char sql_due_pg[] = LC_DUE(LC_OPTION_PG("window"), LC_OPTION_PG("tz"));

/* store_campaigns_due - every scheduled campaign whose time has come */
int
store_campaigns_due(struct store *s, int64_t now, store_due_cb cb, void *arg)
{
	struct db_stmt *st = store_stmt_pg(s, sql_due, sql_due_pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, now);
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct store_due d = {
		    .id = db_column_int64(st, 0),
		    .name = db_column_text(st, 1),
		    .scheduled_at = db_column_int64(st, 2),
		    .window = db_column_text(st, 3),
		    .tz = db_column_text(st, 4),
		};
		if ((ret = cb(arg, &d)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "list the campaigns due");
	db_reset(st);
	return ret;
}

/* store_campaigns_next_due - the earliest scheduled_at of a scheduled campaign (0: none) */
int
store_campaigns_next_due(struct store *s, int64_t *when)
{
	static const char sql[] = "SELECT coalesce(min(scheduled_at), 0) FROM campaigns"
	                          " WHERE state = 'scheduled'";
	struct db_stmt *st = store_stmt(s, sql);
	return st ? store_get_int64(s, st, when, "find the next scheduled campaign") : STORE_E_SQL;
}

/* store_campaign_state_get - the state and reason of campaign id */
int
store_campaign_state_get(struct store *s, int64_t id, char state[16], char *reason, size_t reasonsz)
{
	static const char sql[] = "SELECT state, coalesce(state_reason, '') FROM campaigns"
	                          " WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, id);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW) {
		store_copy_text(state, 16, st, 0);
		if (reason && reasonsz)
			store_copy_text(reason, reasonsz, st, 1);
	} else if (rc == DB_DONE) {
		ret = STORE_E_NOTFOUND;
	} else {
		ret = store_fail(s, "read a campaign's state");
	}
	db_reset(st);
	return ret;
}

/* Not suppressed: SUPPRESSION_OF_C (every suppression has a reason), for contact c; its
 * look-ups key by key build no temporary table per contact, as value IN (...) did. */
#define LC_NOT_SUPPRESSED " " SUPPRESSION_OF_C " IS NULL"
#define LC_NOT_SUPPRESSED_PG " " SUPPRESSION_OF_C_PG " IS NULL"
#define LC_RECIPIENTS_TAIL(NOT_SUPPRESSED)                                                         \
	" AND" NOT_SUPPRESSED " AND NOT EXISTS (SELECT 1 FROM messages g WHERE g.campaign_id = ?1" \
	"   AND g.contact_id = c.id AND g.state NOT IN ('queued', 'claimed')) ORDER BY c.id"
#define LC_MAILABLE_TAIL(NOT_SUPPRESSED)                                                           \
	" AND" NOT_SUPPRESSED "), (SELECT count(*) FROM messages WHERE campaign_id = ?1"           \
	"  AND state IN ('queued', 'claimed'))"

/* store_lifecycle_recipients - the recipients the campaign would still mail */
int
store_lifecycle_recipients(struct store *s, int64_t campaign_id, store_recipient_cb cb, void *arg)
{
	struct segment_sql q;
	int rc = store_audience_compile(s, campaign_id, store_now(), 1, false, &q);
	if (rc < 0)
		return rc;
	struct db_stmt *st =
	    store_segment_prepare(s, "SELECT c.id, c.email, c.attrs FROM contacts c WHERE ", &q,
	                          q.pg ? LC_RECIPIENTS_TAIL(LC_NOT_SUPPRESSED_PG)
	                               : LC_RECIPIENTS_TAIL(LC_NOT_SUPPRESSED));
	segment_sql_free(&q);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	int ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *attrs = db_column_text(st, 2);
		struct store_recipient r = {
		    .contact_id = db_column_int64(st, 0),
		    .email = db_column_text(st, 1),
		    .attrs = attrs ? attrs : "{}",
		};
		if ((ret = cb(arg, &r)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read the campaign's recipients");
	db_finalize(st);
	return ret;
}

/* store_lifecycle_mailable - the audience's unsuppressed contacts; messages still pending */
int
store_lifecycle_mailable(struct store *s, int64_t campaign_id, int64_t *mailable, int64_t *pending)
{
	struct segment_sql q;
	int rc = store_audience_compile(s, campaign_id, store_now(), 1, false, &q);
	if (rc < 0)
		return rc;
	struct db_stmt *st = store_segment_prepare(
	    s, "SELECT (SELECT count(*) FROM contacts c WHERE ", &q,
	    q.pg ? LC_MAILABLE_TAIL(LC_NOT_SUPPRESSED_PG) : LC_MAILABLE_TAIL(LC_NOT_SUPPRESSED));
	segment_sql_free(&q);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	int ret = 0;
	if ((rc = db_step(st)) == DB_ROW) {
		*mailable = db_column_int64(st, 0);
		*pending = db_column_int64(st, 1);
	} else {
		ret = store_fail(s, "count the campaign's recipients");
	}
	db_finalize(st);
	return ret;
}
