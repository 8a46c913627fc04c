/*
 * store_rollup - the report rollups (schema/018_rollups.sql) kept by the writers, in
 * their own transactions, without triggers: an UPDATE trigger on messages, even an
 * empty one, makes SQLite run the sender's one-row UPDATEs in two passes with a
 * statement journal.
 *
 * Three ways in:
 *  - the sender's results (store_message_result), and the messages its claims withdraw
 *    (suppressed while queued), are summed in C, per group, and written by store_commit,
 *    one statement per (campaign, group), before the COMMIT (or RELEASE) of the
 *    transaction that wrote them; store_rollback drops them;
 *  - a writer that changes messages names them first (an INSERT into temp.rollup_ids
 *    with the WHERE of its UPDATE), takes them out of the rollups (store_rollup_out),
 *    makes its change and puts them back as they are now (store_rollup_in);
 *  - a writer that adds events notes the next event id before (store_rollup_mark) and
 *    counts the events from there before it commits (store_rollup_events_since).
 * `kirim report --recount` counts from the raw rows; the integration tests compare.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounce_class.h"
#include "kirim/disposition.h"
#include "kirim/store.h"
#include "kirim/strmap.h"
#include "kirim/xmalloc.h"

/* One group's sums: a message group, an event minute or a failure reason. */
enum { R_MSG, R_MIN, R_REASON };
struct rollup_row {
	int kind;
	int64_t campaign_id;
	/* R_MSG: domain, dest, tls_version; R_REASON: outcome, cls, reason, ecode (in text[]) */
	const char *s[4];
	int64_t k[2]; /* R_MSG: dest_set, cat; R_MIN: t; R_REASON: code */
	int64_t v[10];
	char text[]; /* the strings, one after another */
};

struct store_rollup {
	struct strmap map; /* key (kind and group) -> struct rollup_row */
};

/* Message group sums, v[]: */
enum { M_N, M_DEFERRALS, M_TLS, M_VERIFIED, M_DELAY_SUM, M_DELAY_MAX };
/* Minute sums: */
enum { T_EVENTS, T_DELIVERED, T_DEFERRED, T_BOUNCED, T_FAILED, T_TLS, T_FIRST, T_LAST };
/* Reason sums: */
enum { X_N, X_FIRST, X_EXAMPLE };

void
store_rollup_free(struct store_rollup *ru)
{
	if (ru == NULL)
		return;
	strmap_free_values(&ru->map, free);
	free(ru);
}

void
store_rollup_drop(struct store_rollup *ru)
{
	if (ru != NULL)
		strmap_free_values(&ru->map, free);
}

/* The longest key: the strings are an address's domain, a destination and short names. */
enum { KEY_MAX = 1200 };

/* key_int - v in decimal and a separator at p (24 bytes at most); past them */
static char *
key_int(char *p, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = tmp[--n];
	*p++ = '\x1f';
	return p;
}

/*
 * row_get - the row of a group, made with zero sums the first time. On the sender's path
 * for every result: the key is put together by hand (no printf) and a new row is one
 * allocation.
 */
static struct rollup_row *
row_get(struct store_rollup *ru, int kind, int64_t campaign_id, const char *const s[4],
        const int64_t k[2])
{
	char key[KEY_MAX + 100], *p = key;
	size_t len[4], total = 0;
	p = key_int(key_int(key_int(key_int(p, kind), campaign_id), k[0]), k[1]);
	for (int i = 0; i < 4; i++) {
		len[i] = s[i] ? strlen(s[i]) : 0;
		if (len[i] > KEY_MAX / 4)
			len[i] = KEY_MAX / 4; /* longer than any that is stored */
		memcpy(p, s[i] ? s[i] : "", len[i]);
		p += len[i];
		*p++ = '\x1f';
		total += len[i] + 1;
	}
	*p = '\0';
	struct rollup_row *r = strmap_get(&ru->map, key);
	if (r)
		return r;
	r = xcalloc(1, sizeof(*r) + total);
	r->kind = kind;
	r->campaign_id = campaign_id;
	char *q = r->text;
	for (int i = 0; i < 4; i++) {
		memcpy(q, s[i] ? s[i] : "", len[i]);
		q[len[i]] = '\0';
		r->s[i] = q;
		q += len[i] + 1;
	}
	r->k[0] = k[0];
	r->k[1] = k[1];
	if (kind == R_MIN)
		r->v[T_FIRST] = r->v[T_LAST] = -1;
	strmap_put(&ru->map, key, r);
	return r;
}

static bool
nonempty(const char *v)
{
	return v && *v;
}

/* The categories of report.h, as schema/018_rollups.sql numbers them. */
enum {
	CAT_DELIVERED = 0,
	CAT_HARD = 1,
	CAT_SOFT = 2,
	CAT_FAILED = 3,
	CAT_SUPPRESSED = 7,
	CAT_CANCELLED = 8
};

void
store_rollup_result(struct store_rollup *ru, const struct store_result *r, int64_t now,
                    int64_t event_id)
{
	/* The message as the result leaves it (store_message_result's UPDATE): a claimed
	 * message has no row, so a settled one adds itself and a queued one nothing. */
	int cat = -1;
	switch (r->state) {
	case DISP_DELIVERED:
		cat = CAT_DELIVERED;
		break;
	case DISP_BOUNCED:
		cat = r->cls == BOUNCE_SOFT ? CAT_SOFT : CAT_HARD;
		break;
	case DISP_FAILED:
		cat = CAT_FAILED;
		break;
	case DISP_SUPPRESSED:
		cat = CAT_SUPPRESSED;
		break;
	case DISP_CANCELLED:
		cat = CAT_CANCELLED;
		break;
	default:
		break;
	}
	if (cat >= 0) {
		bool dest_set = nonempty(r->dest);
		const char *dest = dest_set ? r->dest : nonempty(r->host) ? r->host : "";
		bool delivered = cat == CAT_DELIVERED, tls = delivered && store_tls_used(r->tls);
		char version[64] = "";
		if (tls) {
			size_t n = strcspn(r->tls, " ");
			n = n < sizeof(version) ? n : sizeof(version) - 1;
			memcpy(version, r->tls, n);
			version[n] = '\0';
		}
		const char *s[4] = {nonempty(r->domain) ? r->domain : "(erased)", dest, version,
		                    NULL};
		int64_t k[2] = {dest_set, cat};
		struct rollup_row *m = row_get(ru, R_MSG, r->campaign_id, s, k);
		int64_t attempts = r->attempts + (r->count_attempt ? 1 : 0);
		bool final_try = cat <= CAT_FAILED;
		int64_t delay = 0;
		if (delivered && now - r->queued_at > 0)
			delay = now - r->queued_at;
		m->v[M_N]++;
		m->v[M_DEFERRALS] += attempts - (final_try && attempts > 0 ? 1 : 0);
		m->v[M_TLS] += tls;
		m->v[M_VERIFIED] += tls && strstr(r->tls, " verified") != NULL;
		m->v[M_DELAY_SUM] += delay;
		if (delay > m->v[M_DELAY_MAX])
			m->v[M_DELAY_MAX] = delay;
	}
	if (!r->count_attempt)
		return;
	const char *none[4] = {NULL, NULL, NULL, NULL};
	int64_t t[2] = {now - ((now % 60) + 60) % 60, 0};
	struct rollup_row *mi = row_get(ru, R_MIN, r->campaign_id, none, t);
	mi->v[T_EVENTS]++;
	switch (r->event) {
	case DISP_EV_DELIVERED:
		mi->v[T_DELIVERED]++;
		mi->v[T_TLS] += store_tls_used(r->tls);
		if (mi->v[T_FIRST] < 0 || now < mi->v[T_FIRST])
			mi->v[T_FIRST] = now;
		if (now > mi->v[T_LAST])
			mi->v[T_LAST] = now;
		return;
	case DISP_EV_DEFERRED:
		mi->v[T_DEFERRED]++;
		break;
	case DISP_EV_BOUNCED:
		mi->v[T_BOUNCED]++;
		break;
	case DISP_EV_FAILED:
		mi->v[T_FAILED]++;
		break;
	default:
		return;
	}
	/* Grouped as the report groups failures: a reason, else the enhanced code, else the
	 * basic one (events store "" as NULL). */
	const char *cls = r->cls != BOUNCE_NONE ? bounce_class_name(r->cls) : NULL;
	const char *reason = r->reason != BOUNCE_UNDEFINED ? bounce_reason_name(r->reason) : NULL;
	bool has_reason = nonempty(reason), has_ecode = nonempty(r->ecode);
	const char *x_s[4] = {disposition_event_name(r->event), cls, reason,
	                      has_reason  ? ""
	                      : has_ecode ? r->ecode
	                                  : ""};
	int64_t x_k[2] = {has_reason || has_ecode ? 0 : r->code, 0};
	struct rollup_row *x = row_get(ru, R_REASON, r->campaign_id, x_s, x_k);
	if (x->v[X_N]++ == 0 || event_id < x->v[X_FIRST])
		x->v[X_FIRST] = event_id;
	if (nonempty(r->text) && (x->v[X_EXAMPLE] == 0 || event_id < x->v[X_EXAMPLE]))
		x->v[X_EXAMPLE] = event_id;
}

struct store_rollup *
store_rollup_new(void)
{
	return xcalloc(1, sizeof(struct store_rollup));
}

static const char sql_msg_add[] =
    "INSERT INTO report_messages(campaign_id, domain, dest, dest_set, cat, tls_version, n,"
    " deferrals, tls, tls_verified, delay_sum, delay_max)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    " ON CONFLICT(campaign_id, domain, dest, dest_set, cat, tls_version) DO UPDATE SET"
    " n = n + excluded.n, deferrals = deferrals + excluded.deferrals, tls = tls + excluded.tls,"
    " tls_verified = tls_verified + excluded.tls_verified,"
    " delay_sum = delay_sum + excluded.delay_sum, delay_max = max(delay_max, excluded.delay_max)";
static const char sql_min_add[] =
    "INSERT INTO report_minutes(campaign_id, t, events, delivered, deferred, bounced, failed,"
    " opens, opens_machine, clicks, complaints, unsubscribes, tls, first_delivery,"
    " last_delivery) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0, 0, 0, ?8, ?9, ?10)"
    " ON CONFLICT(campaign_id, t) DO UPDATE SET events = events + excluded.events,"
    " delivered = delivered + excluded.delivered, deferred = deferred + excluded.deferred,"
    " bounced = bounced + excluded.bounced, failed = failed + excluded.failed,"
    " tls = tls + excluded.tls,"
    " first_delivery = coalesce(min(first_delivery, excluded.first_delivery), first_delivery,"
    " excluded.first_delivery),"
    " last_delivery = coalesce(max(last_delivery, excluded.last_delivery), last_delivery,"
    " excluded.last_delivery)";
static const char sql_reason_add[] =
    "INSERT INTO report_reasons(campaign_id, outcome, cls, reason, ecode, code, n, first_id,"
    " example_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT(campaign_id, outcome, cls, reason, ecode, code) DO UPDATE SET"
    " n = n + excluded.n,"
    " first_id = coalesce(min(first_id, excluded.first_id), first_id, excluded.first_id),"
    " example_id = coalesce(min(example_id, excluded.example_id), example_id,"
    " excluded.example_id)";

/* row_write - one group's sums into its table */
static int
row_write(struct store *s, const struct rollup_row *r)
{
	const char *sql = r->kind == R_MSG   ? sql_msg_add
	                  : r->kind == R_MIN ? sql_min_add
	                                     : sql_reason_add;
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, r->campaign_id);
	if (r->kind == R_MSG) {
		sqlite3_bind_text(st, 2, r->s[0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->s[1], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, r->k[0]);
		sqlite3_bind_int64(st, 5, r->k[1]);
		sqlite3_bind_text(st, 6, r->s[2], -1, SQLITE_STATIC);
		for (int i = 0; i < 6; i++)
			sqlite3_bind_int64(st, 7 + i, r->v[i]);
	} else if (r->kind == R_MIN) {
		sqlite3_bind_int64(st, 2, r->k[0]);
		for (int i = 0; i < 6; i++)
			sqlite3_bind_int64(st, 3 + i, r->v[i]);
		for (int i = 0; i < 2; i++)
			if (r->v[T_FIRST + i] >= 0)
				sqlite3_bind_int64(st, 9 + i, r->v[T_FIRST + i]);
	} else {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(st, 2 + i, r->s[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, r->k[0]);
		sqlite3_bind_int64(st, 7, r->v[X_N]);
		sqlite3_bind_int64(st, 8, r->v[X_FIRST]);
		if (r->v[X_EXAMPLE] > 0)
			sqlite3_bind_int64(st, 9, r->v[X_EXAMPLE]);
	}
	return store_step_done(s, st, "write the report rollups");
}

int
store_rollup_flush(struct store *s, struct store_rollup *ru)
{
	if (ru == NULL || ru->map.len == 0)
		return 0;
	int rc = 0;
	for (size_t i = 0; i < ru->map.cap && rc == 0; i++)
		if (ru->map.slots[i].key)
			rc = row_write(s, ru->map.slots[i].value);
	store_rollup_drop(ru);
	return rc;
}

/* --- messages named in temp.rollup_ids ------------------------------------------------ */

/*
 * A message's group and sums, as the report counts it (store_report.c's recount);
 * messages m, contacts c. The WHERE is the caller's.
 */
#define MSG_ROWS                                                                                   \
	"SELECT m.id AS id, m.campaign_id AS campaign_id, " REPORT_DOMAIN_OF_M                     \
	" AS domain, " REPORT_DEST_OF_M " AS dest, (m.dest IS NOT NULL) AS dest_set,"              \
	" CASE m.state WHEN 'delivered' THEN 0 WHEN 'bounced' THEN CASE WHEN m.class = 'soft'"     \
	" THEN 2 ELSE 1 END WHEN 'suppressed' THEN 7 WHEN 'cancelled' THEN 8 ELSE 3 END AS cat,"   \
	" CASE WHEN m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none')"             \
	" THEN substr(m.tls, 1, instr(m.tls || ' ', ' ') - 1) ELSE '' END AS tls_version,"         \
	" m.attempts - (m.state IN ('delivered', 'bounced', 'failed') AND m.attempts > 0)"         \
	" AS deferrals, (m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none'))"       \
	" AS tls, (m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none')"              \
	" AND instr(m.tls, ' verified') > 0) AS verified,"                                         \
	" CASE WHEN m.state = 'delivered' AND m.done_at IS NOT NULL"                               \
	" THEN max(m.done_at - m.queued_at, 0) ELSE 0 END AS delay"                                \
	" FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id"

#define IN_IDS "(SELECT id FROM temp.rollup_ids)"

/* ?1: +1 (in) or -1 (out); out leaves delay_max to sql_delay_max */
static const char sql_msgs_move[] =
    "INSERT INTO report_messages(campaign_id, domain, dest, dest_set, cat, tls_version, n,"
    " deferrals, tls, tls_verified, delay_sum, delay_max)"
    " SELECT campaign_id, domain, dest, dest_set, cat, tls_version, ?1 * count(*),"
    " ?1 * sum(deferrals), ?1 * sum(tls), ?1 * sum(verified), ?1 * sum(delay),"
    " CASE WHEN ?1 > 0 THEN max(delay) ELSE 0 END"
    " FROM (" MSG_ROWS " WHERE m.id IN " IN_IDS " AND m.state NOT IN ('queued', 'claimed'))"
    " GROUP BY campaign_id, domain, dest, dest_set, cat, tls_version"
    " ON CONFLICT(campaign_id, domain, dest, dest_set, cat, tls_version) DO UPDATE SET"
    " n = n + excluded.n, deferrals = deferrals + excluded.deferrals, tls = tls + excluded.tls,"
    " tls_verified = tls_verified + excluded.tls_verified,"
    " delay_sum = delay_sum + excluded.delay_sum, delay_max = max(delay_max, excluded.delay_max)";

/*
 * A delivered message leaving its group may have been the group's slowest: the
 * longest delay of the group's other delivered messages, looked up when none of them
 * is as slow (the only statement here that may read a campaign's messages).
 */
static const char sql_delay_max[] =
    "UPDATE report_messages AS r SET delay_max = coalesce((SELECT max(o.delay) FROM (" MSG_ROWS
    " WHERE m.campaign_id = r.campaign_id AND m.state = 'delivered'"
    " AND m.id NOT IN " IN_IDS ") o WHERE o.domain = r.domain AND o.dest = r.dest"
    " AND o.dest_set = r.dest_set AND o.tls_version = r.tls_version), 0)"
    " WHERE r.cat = 0 AND r.campaign_id IN (SELECT campaign_id FROM messages WHERE id IN " IN_IDS
    ") AND EXISTS (SELECT 1 FROM (" MSG_ROWS " WHERE m.id IN " IN_IDS
    " AND m.state = 'delivered') x WHERE x.campaign_id = r.campaign_id AND x.domain = r.domain"
    " AND x.dest = r.dest AND x.dest_set = r.dest_set AND x.tls_version = r.tls_version"
    " AND x.delay >= r.delay_max)";

/* The earliest queueing of the campaigns of the messages named. */
static const char sql_started[] =
    "INSERT INTO report_campaigns(campaign_id, started_at) SELECT campaign_id, min(queued_at)"
    " FROM messages WHERE id IN " IN_IDS " AND queued_at > 0 GROUP BY campaign_id"
    " ON CONFLICT(campaign_id) DO UPDATE SET started_at ="
    " min(coalesce(started_at, excluded.started_at), excluded.started_at)";
static const char sql_ids_clear[] = "DELETE FROM temp.rollup_ids";

static int
step_sign(struct store *s, const char *sql, int sign)
{
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	if (sign)
		sqlite3_bind_int(st, 1, sign);
	return store_step_done(s, st, "update the report rollups");
}

/* One statement of a step list, with the sign bound to ?1 (0: none). */
struct step {
	const char *sql;
	int sign;
};

/* run_steps - the steps in order; the first failure stops them */
static int
run_steps(struct store *s, const struct step *steps, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = step_sign(s, steps[i].sql, steps[i].sign);
	return rc;
}
#define RUN_STEPS(S, ...)                                                                          \
	run_steps((S), (const struct step[]){__VA_ARGS__},                                         \
	          sizeof((const struct step[]){__VA_ARGS__}) / sizeof(struct step))

int
store_rollup_out(struct store *s)
{
	return RUN_STEPS(s, {sql_delay_max, 0}, {sql_msgs_move, -1});
}

int
store_rollup_in(struct store *s)
{
	return RUN_STEPS(s, {sql_msgs_move, 1}, {sql_started, 0}, {sql_ids_clear, 0});
}

int
store_rollup_name(struct store *s, int64_t message_id)
{
	static const char sql[] =
	    "INSERT INTO temp.rollup_ids(id) VALUES (?1) ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, message_id);
	return store_step_done(s, st, "name a message for the report rollups");
}

/* --- events ------------------------------------------------------------------------------ */

int
store_rollup_mark(struct store *s, int64_t *next_id)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) + 1 FROM events";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	return store_get_int64(s, st, next_id, "read the last event");
}

/* An event's facts as the report reads them (events e). */
#define HUMAN_OPEN(E)                                                                              \
	"(" E ".type = 'open' AND NOT (json_extract(CASE WHEN json_valid(" E ".detail) THEN " E    \
	".detail END, '$.machine') IS 1))"
#define MACHINE_OPEN(E)                                                                            \
	"(" E ".type = 'open' AND (json_extract(CASE WHEN json_valid(" E ".detail) THEN " E        \
	".detail END, '$.machine') IS 1))"
#define LINK(E)                                                                                    \
	"(CASE WHEN " E ".type = 'click' AND json_valid(" E ".detail) AND json_type(" E            \
	".detail, '$.link') = 'integer' AND json_extract(" E ".detail, '$.link') BETWEEN 0 AND"    \
	" 65535 THEN json_extract(" E ".detail, '$.link') END)"

/*
 * The events chosen by WHERE (events e, messages m) by minute, ?1 times: new events
 * (?1 = 1) set the minute's first and last delivery; events taken out and put back
 * (an erasure's, ?1 = -1 then 1) leave them, as their times and types do not change.
 */
#define MINUTES(WHERE, FIRST_LAST)                                                                 \
	"INSERT INTO report_minutes(campaign_id, t, events, delivered, deferred, bounced, failed," \
	" opens, opens_machine, clicks, complaints, unsubscribes, tls, first_delivery,"            \
	" last_delivery) SELECT m.campaign_id, e.ts - ((e.ts % 60) + 60) % 60, ?1 * count(*),"     \
	" ?1 * sum(e.type = 'delivered'), ?1 * sum(e.type = 'deferred'),"                          \
	" ?1 * sum(e.type = 'bounced'), ?1 * sum(e.type = 'failed'),"                              \
	" ?1 * sum(" HUMAN_OPEN("e") "), ?1 * sum(" MACHINE_OPEN(                                  \
	    "e") "),"                                                                              \
	         " ?1 * sum(e.type = 'click'), ?1 * sum(e.type = 'complaint'),"                    \
	         " ?1 * sum(e.type = 'unsubscribe'),"                                              \
	         " ?1 * sum(e.type = 'delivered' AND coalesce(e.tls, '') NOT IN ('', 'none')),"    \
	         " min(CASE WHEN e.type = 'delivered' THEN e.ts END),"                             \
	         " max(CASE WHEN e.type = 'delivered' THEN e.ts END)"                              \
	         " FROM events e JOIN messages m ON m.id = e.message_id WHERE " WHERE              \
	         " GROUP BY 1, 2"                                                                  \
	         " ON CONFLICT(campaign_id, t) DO UPDATE SET events = events + excluded.events,"   \
	         " delivered = delivered + excluded.delivered, deferred = deferred + "             \
	         "excluded.deferred,"                                                              \
	         " bounced = bounced + excluded.bounced, failed = failed + excluded.failed,"       \
	         " opens = opens + excluded.opens, opens_machine = opens_machine + "               \
	         "excluded.opens_machine,"                                                         \
	         " clicks = clicks + excluded.clicks, complaints = complaints + "                  \
	         "excluded.complaints,"                                                            \
	         " unsubscribes = unsubscribes + excluded.unsubscribes, tls = tls + "              \
	         "excluded.tls" FIRST_LAST
#define FIRST_LAST                                                                                 \
	", first_delivery = coalesce(min(first_delivery, excluded.first_delivery),"                \
	" first_delivery, excluded.first_delivery),"                                               \
	" last_delivery = coalesce(max(last_delivery, excluded.last_delivery), last_delivery,"     \
	" excluded.last_delivery)"

#define COUNTS_UPSERT " ON CONFLICT(campaign_id, kind, k) DO UPDATE SET n = n + excluded.n"

/* New events from ?2: a message counts once as an opener (clicker, clicker of a link)
 * with its first such event. */
#define NEW_EV "e.id >= ?2"
#define OLDER(COND)                                                                                \
	"NOT EXISTS (SELECT 1 FROM events o WHERE o.message_id = e.message_id AND o.id < ?2"       \
	" AND " COND ")"
static const char sql_new_minutes[] = MINUTES(NEW_EV, FIRST_LAST);
static const char sql_new_counts[] =
    "INSERT INTO report_counts(campaign_id, kind, k, n)"
    " SELECT campaign_id, kind, k, n FROM (SELECT m.campaign_id AS campaign_id, 0 AS kind,"
    " 0 AS k, count(DISTINCT e.message_id) AS n FROM events e JOIN messages m ON m.id ="
    " e.message_id WHERE " NEW_EV " AND " HUMAN_OPEN("e") " AND " OLDER(HUMAN_OPEN(
        "o")) " GROUP BY 1"
              " UNION ALL SELECT m.campaign_id, 1, 0, count(DISTINCT e.message_id) FROM events e "
              "JOIN"
              " messages m ON m.id = e.message_id WHERE " NEW_EV " AND e.type = 'click' AND " OLDER(
                  "o.type = 'click'") " GROUP BY 1"
                                      " UNION ALL SELECT m.campaign_id, 2, " LINK(
                                          "e") ", count(*) FROM events e JOIN messages m"
                                               " ON m.id = e.message_id WHERE " NEW_EV " AND " LINK(
                                                   "e") " IS NOT NULL GROUP BY 1, 3"
                                                        " UNION ALL SELECT m.campaign_id, 3, " LINK(
                                                            "e") ", count(DISTINCT e.message_id) "
                                                                 "FROM events e"
                                                                 " JOIN messages m ON m.id = "
                                                                 "e.message_id WHERE " NEW_EV
                                                                 " AND " LINK(
                                                                     "e") " IS NOT NULL"
                                                                          " AND " OLDER(
                                                                              LINK("o") " IS " LINK(
                                                                                  "e")) " GROUP BY "
                                                                                        "1, 3) "
                                                                                        "WHERE "
                                                                                        "tru"
                                                                                        "e" COUNTS_UPSERT;
/* Failed attempts by reason (events e), the first and the first with a text by id. */
#define REASONS(WHERE)                                                                             \
	"INSERT INTO report_reasons(campaign_id, outcome, cls, reason, ecode, code, n, first_id,"  \
	" example_id) SELECT campaign_id, outcome, cls, reason, ecode, code, count(*), min(id),"   \
	" min(example_id) FROM (SELECT m.campaign_id AS campaign_id, e.type AS outcome,"           \
	" coalesce(e.class, '') AS cls, coalesce(e.reason, '') AS reason,"                         \
	" CASE WHEN coalesce(e.reason, '') <> '' THEN '' ELSE coalesce(e.ecode, '') END AS ecode," \
	" CASE WHEN coalesce(e.reason, '') <> '' OR e.ecode IS NOT NULL THEN 0"                    \
	" ELSE coalesce(e.code, 0) END AS code, e.id AS id,"                                       \
	" CASE WHEN coalesce(e.text, '') <> '' THEN e.id END AS example_id"                        \
	" FROM events e JOIN messages m ON m.id = e.message_id WHERE " WHERE                       \
	" AND e.type IN ('deferred', 'bounced', 'failed'))"                                        \
	" GROUP BY campaign_id, outcome, cls, reason, ecode, code"                                 \
	" ON CONFLICT(campaign_id, outcome, cls, reason, ecode, code) DO UPDATE SET"               \
	" n = n + excluded.n,"                                                                     \
	" first_id = coalesce(min(first_id, excluded.first_id), first_id, excluded.first_id),"     \
	" example_id = coalesce(min(example_id, excluded.example_id), example_id,"                 \
	" excluded.example_id)"
static const char sql_new_reasons[] = REASONS(NEW_EV);

int
store_rollup_events_since(struct store *s, int64_t first_id)
{
	static const char *const sql[] = {sql_new_minutes, sql_new_counts, sql_new_reasons};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st = store_prepare(s, sql[i]);
		if (st == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int(st, 1, 1);
		sqlite3_bind_int64(st, 2, first_id);
		int rc = store_step_done(s, st, "count the new events into the report rollups");
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Every event of the messages named, ?1 times: all of a message's events at once, so
 * each message counts once per kind. */
#define OF_IDS "e.message_id IN " IN_IDS
static const char sql_ids_minutes[] = MINUTES(OF_IDS, "");
static const char sql_ids_counts[] =
    "INSERT INTO report_counts(campaign_id, kind, k, n)"
    " SELECT campaign_id, kind, k, n FROM (SELECT m.campaign_id AS campaign_id, 0 AS kind,"
    " 0 AS k, ?1 * count(DISTINCT e.message_id) AS n FROM events e JOIN messages m ON m.id ="
    " e.message_id WHERE " OF_IDS " AND " HUMAN_OPEN(
        "e") " GROUP BY 1"
             " UNION ALL SELECT m.campaign_id, 1, 0, ?1 * count(DISTINCT e.message_id) FROM events "
             "e"
             " JOIN messages m ON m.id = e.message_id WHERE " OF_IDS
             " AND e.type = 'click' GROUP BY 1"
             " UNION ALL SELECT m.campaign_id, 2, " LINK(
                 "e") ", ?1 * count(*) FROM events e JOIN"
                      " messages m ON m.id = e.message_id WHERE " OF_IDS
                      " AND " LINK("e") " IS NOT NULL"
                                        " GROUP BY 1, 3"
                                        " UNION ALL SELECT m.campaign_id, 3, " LINK(
                                            "e") ", ?1 * count(DISTINCT e.message_id)"
                                                 " FROM events e JOIN messages m ON m.id = "
                                                 "e.message_id WHERE " OF_IDS
                                                 " AND " LINK("e") " IS NOT NULL GROUP BY 1, 3) "
                                                                   "WHERE true" COUNTS_UPSERT;
/* A reason's example was a reply now cleared: the next one with a text, by id. */
static const char sql_ids_examples[] =
    "UPDATE report_reasons AS r SET example_id = (SELECT min(e.id) FROM events e"
    " JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = r.campaign_id"
    " AND e.type = r.outcome AND coalesce(e.text, '') <> ''"
    " AND coalesce(e.class, '') = r.cls AND coalesce(e.reason, '') = r.reason"
    " AND CASE WHEN coalesce(e.reason, '') <> '' THEN '' ELSE coalesce(e.ecode, '') END = r.ecode"
    " AND CASE WHEN coalesce(e.reason, '') <> '' OR e.ecode IS NOT NULL THEN 0"
    " ELSE coalesce(e.code, 0) END = r.code)"
    " WHERE r.example_id IN (SELECT e.id FROM events e WHERE " OF_IDS
    " AND coalesce(e.text, '') = '')";

int
store_rollup_events_out(struct store *s)
{
	return RUN_STEPS(s, {sql_ids_minutes, -1}, {sql_ids_counts, -1});
}

int
store_rollup_events_in(struct store *s)
{
	return RUN_STEPS(s, {sql_ids_minutes, 1}, {sql_ids_counts, 1}, {sql_ids_examples, 0});
}

/* A rebuild: the events of every message named, counted afresh. */
static const char sql_ids_reasons[] = REASONS(OF_IDS);

int
store_rollup_rebuild(struct store *s, int64_t campaign_id)
{
	static const char *const clear[] = {
	    "DELETE FROM report_messages WHERE campaign_id = ?1",
	    "DELETE FROM report_minutes WHERE campaign_id = ?1",
	    "DELETE FROM report_counts WHERE campaign_id = ?1",
	    "DELETE FROM report_reasons WHERE campaign_id = ?1",
	    "DELETE FROM report_campaigns WHERE campaign_id = ?1",
	    "INSERT INTO temp.rollup_ids(id) SELECT id FROM messages WHERE campaign_id = ?1",
	    /* Not a rollup, but what a report reads of a queued message (schema 019), which
	     * messages written by hand may lack. */
	    "UPDATE messages SET domain = (SELECT " REPORT_DOMAIN_OF_M " FROM messages m"
	    " LEFT JOIN contacts c ON c.id = m.contact_id WHERE m.id = messages.id)"
	    " WHERE campaign_id = ?1 AND state IN ('queued', 'claimed') AND domain IS NULL",
	};
	for (size_t i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
		sqlite3_stmt *st = store_prepare(s, clear[i]);
		if (st == NULL)
			return STORE_E_SQL;
		sqlite3_bind_int64(st, 1, campaign_id);
		int rc = store_step_done(s, st, "clear the campaign's report rollups");
		if (rc < 0)
			return rc;
	}
	/* Fresh rows: the minutes take their first and last delivery from the events. */
	int rc = RUN_STEPS(s, {sql_ids_minutes, 1}, {sql_ids_counts, 1}, {sql_ids_reasons, 0});
	if (rc == 0)
		rc = store_rollup_in(s);
	/* The recipients in their own zone, from every message's contact as it is now. */
	static const char zone_sql[] = OWN_ZONE_ROLLUP("m.campaign_id = ?1", "excluded.own_zone");
	sqlite3_stmt *st = rc == 0 ? store_prepare(s, zone_sql) : NULL;
	if (rc == 0 && st == NULL)
		rc = STORE_E_SQL;
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, campaign_id);
		rc = store_step_done(s, st, "count the recipients in their own zone");
	}
	return rc;
}
