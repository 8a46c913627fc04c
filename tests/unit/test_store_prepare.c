/*
 * test_store_prepare - the store's statement cache (store_prepare, store.c)
 * and the statements that moved onto it: the upserts that replaced SQLite's
 * INSERT OR IGNORE / OR REPLACE keep their meaning, and no store function
 * leaves a statement in progress (a cached statement that is not reset holds
 * a read transaction open on the connection).
 *
 * Runs on an in-memory database made by store_open (the real schema), with
 * fixtures in plain SQL on the store's own connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kirim/policy.h"
#include "kirim/segment.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/store_bounce.h"
#include "kirim/store_dest.h"
#include "kirim/store_policy.h"

#include "../../src/store/store_int.h"

enum { TS0 = 1700000000 };

/* Run SQL (printf-style, sqlite3_mprintf) on the store's connection; the test fails on an
 * error. */
static void
sql(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	char *err = NULL;
	if (sqlite3_exec(store_db(s), text, NULL, NULL, &err) != SQLITE_OK) {
		print_error("SQL failed: %s\n  %s\n", err ? err : "?", text);
		sqlite3_free(err);
		sqlite3_free(text);
		fail();
	}
	sqlite3_free(text);
}

/* The first column of the first row of a query, as text ("NULL" or "<no row>" otherwise). */
static void
query_text(struct store *s, char *out, size_t size, const char *text)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(store_db(s), text, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare failed: %s\n  %s", sqlite3_errmsg(store_db(s)), text);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", v ? v : "NULL");
	} else {
		snprintf(out, size, rc == SQLITE_DONE ? "<no row>" : "<error>");
	}
	sqlite3_finalize(st);
}

/* A check: SQL returning one value, and the value wanted. */
struct check {
	const char *label;
	const char *sql;
	const char *want;
};

static void
check_all(struct store *s, const char *what, const struct check *c, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char got[512];
		query_text(s, got, sizeof(got), c[i].sql);
		if (strcmp(got, c[i].want) != 0) {
			print_error("%s: %s\n  sql:  %s\n  got:  %s\n  want: %s\n", what,
			            c[i].label, c[i].sql, got, c[i].want);
			bad++;
		}
	}
	if (bad)
		fail_msg("%s: %d of %zu checks failed", what, bad, n);
}
#define CHECK_ALL(s, what, table) check_all((s), (what), (table), sizeof(table) / sizeof(*(table)))

/* No statement of the connection is in progress (every store function resets what it ran). */
static void
assert_idle(struct store *s, const char *after)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(store_db(s), NULL); st != NULL;
	     st = sqlite3_next_stmt(store_db(s), st))
		if (sqlite3_stmt_busy(st))
			fail_msg("after %s: still in progress: %s", after, sqlite3_sql(st));
}

static void
expect_int(const char *label, int64_t got, int64_t want)
{
	if (got != want)
		fail_msg("%s: got %lld, want %lld", label, (long long)got, (long long)want);
}

static int
setup(void **state)
{
	char err[512] = "";
	struct store *s = NULL;
	if (store_open(":memory:", 0, &s, err, sizeof(err)) != 0) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	store_close(*state);
	return 0;
}

/* ---- the cache ------------------------------------------------------------------------------ */

/* Distinct strings, one per statement: more than the store has of its own, so the search
 * wraps round the slots. */
enum { MANY = 100 };
static char many_sql[MANY][32];

static void
test_cache(void **state)
{
	struct store *s = *state;
	static const char one[] = "SELECT ?1", twin[] = "SELECT ?1";

	/* The key is the address: the same string gives the same statement, a twin its own. */
	sqlite3_stmt *a = store_prepare(s, one);
	assert_non_null(a);
	assert_ptr_equal(store_prepare(s, one), a);
	sqlite3_stmt *b = store_prepare(s, twin);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);

	/* Handed out again mid-row: reset, and the old binding gone. */
	a = store_prepare(s, one);
	sqlite3_bind_int(a, 1, 7);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	expect_int("bound value", sqlite3_column_int(a, 0), 7);
	assert_true(sqlite3_stmt_busy(a));
	a = store_prepare(s, one);
	assert_false(sqlite3_stmt_busy(a));
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(a, 0), SQLITE_NULL);
	sqlite3_reset(a);

	/* Many statements: each prepared once, each found again. */
	sqlite3_stmt *st[MANY];
	for (int i = 0; i < MANY; i++) {
		snprintf(many_sql[i], sizeof(many_sql[i]), "SELECT %d", i);
		st[i] = store_prepare(s, many_sql[i]);
		assert_non_null(st[i]);
	}
	for (int i = 0; i < MANY; i++) {
		assert_ptr_equal(store_prepare(s, many_sql[i]), st[i]);
		assert_int_equal(sqlite3_step(st[i]), SQLITE_ROW);
		expect_int(many_sql[i], sqlite3_column_int(st[i], 0), i);
		sqlite3_reset(st[i]);
	}

	/* SQL that does not prepare: NULL and a message, and it takes no slot. */
	static const char bad[] = "SELEC 1";
	assert_null(store_prepare(s, bad));
	assert_non_null(strstr(store_errmsg(s), "prepare: "));
	assert_null(store_prepare(s, bad));
	assert_ptr_equal(store_prepare(s, one), a);
	assert_idle(s, "the cache test");
}

/* ---- the upserts ---------------------------------------------------------------------------- */

/* A contact with a message of campaign 1 (message id = contact id). */
static void
fixture(struct store *s)
{
	sql(s, "INSERT INTO lists(id, name, created_at) VALUES (1, 'l', %d)", TS0);
	sql(s,
	    "INSERT INTO templates(id, name, version, subject, text_body, created_at)"
	    " VALUES (1, 't', 1, 'Hello', 'Hi', %d)",
	    TS0);
	sql(s,
	    "INSERT INTO campaigns(id, name, list_id, template_id, from_addr, state, created_at,"
	    " updated_at) VALUES (1, 'c', 1, 1, 'news@sender.test', 'sending', %d, %d)",
	    TS0, TS0);
	for (int i = 1; i <= 2; i++) {
		sql(s,
		    "INSERT INTO contacts(id, email, domain, created_at, updated_at)"
		    " VALUES (%d, 'Ann%d@Example.test', 'example.test', %d, %d)",
		    i, i, TS0, TS0);
		sql(s,
		    "INSERT INTO messages(id, campaign_id, contact_id, state, queued_at)"
		    " VALUES (%d, 1, %d, 'delivered', %d)",
		    i, i, TS0);
	}
}

/* store_bounce_suppress: ON CONFLICT DO NOTHING as OR IGNORE was (the second time, nothing). */
static void
test_bounce_suppress(void **state)
{
	struct store *s = *state;
	fixture(s);
	struct store_bounce_rules rules = store_bounce_rules_default();
	static const struct {
		const char *label;
		int64_t message;
		enum disp_suppress how;
		const char *want; /* the reason reported, NULL: none */
	} cases[] = {
	    {"nothing to suppress", 1, DISP_SUPPRESS_NONE, NULL},
	    {"one soft bounce: under the count", 1, DISP_SUPPRESS_SOFT, NULL},
	    {"first hard bounce suppresses", 1, DISP_SUPPRESS_HARD, "hard_bounce"},
	    {"again: already suppressed, no error", 1, DISP_SUPPRESS_HARD, NULL},
	    {"a complaint on a suppressed address", 1, DISP_SUPPRESS_COMPLAINT, NULL},
	    {"another contact's complaint", 2, DISP_SUPPRESS_COMPLAINT, "complaint"},
	    {"no such message: nothing", 99, DISP_SUPPRESS_HARD, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *reason = "unset";
		int rc = store_bounce_suppress(s, cases[i].message, cases[i].how, &rules, "dsn",
		                               &reason);
		if (rc != 0)
			fail_msg("%s: rc %d (%s)", cases[i].label, rc, store_errmsg(s));
		if ((reason == NULL) != (cases[i].want == NULL) ||
		    (reason && strcmp(reason, cases[i].want) != 0))
			fail_msg("%s: got %s, want %s", cases[i].label, reason ? reason : "NULL",
			         cases[i].want ? cases[i].want : "NULL");
		assert_idle(s, cases[i].label);
	}
	static const struct check checks[] = {
	    {"two suppressions", "SELECT count(*) FROM suppressions", "2"},
	    {"the first kept its reason",
	     "SELECT reason FROM suppressions WHERE value = 'ann1@example.test'", "hard_bounce"},
	    {"lower-cased", "SELECT value FROM suppressions WHERE reason = 'complaint'",
	     "ann2@example.test"},
	};
	CHECK_ALL(s, "bounce suppressions", checks);
}

/* store_message_result and store_bounce_record take enums and write the names the
 * database has always held (no schema change): state, event type, stage, reason, class. */
static void
test_result_names(void **state)
{
	struct store *s = *state;
	fixture(s);
	sql(s, "UPDATE messages SET state = 'claimed', attempts = 1");
	struct store_result bounced = {
	    .message_id = 1,
	    .campaign_id = 1,
	    .domain = "example.test",
	    .attempts = 1,
	    .queued_at = TS0,
	    .state = DISP_BOUNCED,
	    .event = DISP_EV_BOUNCED,
	    .count_attempt = true,
	    .has_stage = true,
	    .stage = SMTP_STAGE_RCPT,
	    .code = 550,
	    .ecode = "5.1.1",
	    .text = "User unknown",
	    .reason = BOUNCE_USERUNKNOWN,
	    .cls = BOUNCE_HARD,
	};
	/* A hand-back before the wire: no stage, no event, no reason. */
	struct store_result unsent = {
	    .message_id = 2,
	    .campaign_id = 1,
	    .domain = "example.test",
	    .attempts = 1,
	    .queued_at = TS0,
	    .state = DISP_QUEUED,
	    .next_attempt_at = TS0 + 60,
	    .text = "shutting down",
	    .reason = BOUNCE_UNDEFINED,
	    .cls = BOUNCE_NONE,
	};
	assert_int_equal(store_message_result(s, &bounced, TS0), 0);
	assert_int_equal(store_message_result(s, &unsent, TS0), 0);
	assert_idle(s, "results");
	/* A complaint about message 2, and a late soft bounce of it: it stays queued. */
	struct store_bounce_event complaint = {.campaign_id = 1,
	                                       .contact_id = 2,
	                                       .type = DISP_EV_COMPLAINT,
	                                       .state = DISP_KEEP,
	                                       .reason = BOUNCE_FEEDBACK,
	                                       .cls = BOUNCE_NONE,
	                                       .text = "abuse"};
	struct store_bounce_event soft = {.campaign_id = 1,
	                                  .contact_id = 2,
	                                  .type = DISP_EV_BOUNCED,
	                                  .state = DISP_KEEP,
	                                  .reason = BOUNCE_MAILBOXFULL,
	                                  .cls = BOUNCE_SOFT,
	                                  .ecode = "5.2.2"};
	int64_t mid = 0;
	assert_int_equal(store_bounce_record(s, &complaint, &mid), 0);
	assert_int_equal(mid, 2);
	assert_int_equal(store_bounce_record(s, &soft, &mid), 0);
	struct store_bounce_event none = {.campaign_id = 1, .contact_id = 9};
	assert_int_equal(store_bounce_record(s, &none, &mid), STORE_E_NOTFOUND);
	assert_idle(s, "bounce records");
	static const struct check checks[] = {
	    {"bounced: the message",
	     "SELECT state || ' ' || attempts || ' ' || last_stage || ' ' || reason || ' ' || class"
	     " FROM messages WHERE id = 1",
	     "bounced 2 rcpt userunknown hard"},
	    {"bounced: its event",
	     "SELECT type || ' ' || stage || ' ' || code || ' ' || reason || ' ' || class || ' ' ||"
	     " attempt FROM events WHERE message_id = 1",
	     "bounced rcpt 550 userunknown hard 2"},
	    {"handed back: queued, nothing recorded as reason or stage",
	     "SELECT state || ' ' || attempts || ' ' || next_attempt_at || ' ' ||"
	     " coalesce(last_stage, '-') || ' ' || coalesce(reason, '-') || ' ' ||"
	     " coalesce(class, '-') FROM messages WHERE id = 2",
	     "queued 1 1700000060 - - -"},
	    {"the later reports: two events, no state change",
	     "SELECT group_concat(type || ' ' || stage || ' ' || reason || ' ' ||"
	     " coalesce(class, '-'), ', ') FROM (SELECT * FROM events WHERE message_id = 2"
	     " ORDER BY id)",
	     "complaint dsn feedback -, bounced dsn mailboxfull soft"},
	    /* Outside a transaction, a result's rollups are written at once (store_rollup.c):
	     * the bounced message (hard, one deferral before: 2 attempts), its attempt's minute
	     * and reason; the handed-back one is queued and has no row. The DSNs add their
	     * events' minute and reasons. */
	    {"rollups: the settled message",
	     "SELECT group_concat(domain || ' ' || cat || ' ' || n || ' ' || deferrals, ', ')"
	     " FROM report_messages WHERE campaign_id = 1",
	     "example.test 1 1 1"},
	    {"rollups: the events by minute",
	     "SELECT sum(events) || ' ' || sum(bounced) || ' ' || sum(complaints)"
	     " FROM report_minutes WHERE campaign_id = 1",
	     "3 2 1"},
	    {"rollups: the reasons",
	     "SELECT group_concat(outcome || ' ' || reason || ' ' || n, ', ') FROM (SELECT * FROM"
	     " report_reasons WHERE campaign_id = 1 ORDER BY first_id)",
	     "bounced userunknown 1, bounced mailboxfull 1"},
	};
	CHECK_ALL(s, "result names", checks);
}

/* A sender's outcome is written only while the message is still its claim: one taken
 * back by another sender (its lease ran out) is left as the other holds it, with no event
 * and nothing in the report rollups. */
static void
test_result_not_ours(void **state)
{
	struct store *s = *state;
	fixture(s);
	sql(s, "UPDATE messages SET state = 'claimed', claimed_by = 7, attempts = 0 WHERE id = 1");
	struct store_result r = {
	    .message_id = 1,
	    .owner = 8,
	    .campaign_id = 1,
	    .domain = "example.test",
	    .queued_at = TS0,
	    .state = DISP_DELIVERED,
	    .event = DISP_EV_DELIVERED,
	    .count_attempt = true,
	    .has_stage = true,
	    .stage = SMTP_STAGE_DATA,
	    .code = 250,
	    .reason = BOUNCE_UNDEFINED,
	    .cls = BOUNCE_NONE,
	};
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_message_result(s, &r, TS0), STORE_RESULT_NOT_OURS);
	assert_int_equal(store_commit(s), 0);
	static const char left[] =
	    "SELECT m.state || ' ' || m.claimed_by || ' ' || m.attempts || ' ' ||"
	    " (SELECT count(*) FROM events WHERE message_id = 1) || ' ' ||"
	    " (SELECT count(*) FROM report_messages) FROM messages m WHERE m.id = 1";
	static const struct check other[] = {
	    {"another's claim: untouched", left, "claimed 7 0 0 0"}};
	CHECK_ALL(s, "not ours", other);
	r.owner = 7;
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_message_result(s, &r, TS0), 0);
	assert_int_equal(store_commit(s), 0);
	static const char done[] =
	    "SELECT m.state || ' ' || coalesce(m.claimed_by, '-') || ' ' || m.attempts || ' ' ||"
	    " (SELECT count(*) FROM events WHERE message_id = 1) || ' ' ||"
	    " (SELECT sum(n) FROM report_messages) FROM messages m WHERE m.id = 1";
	static const struct check ours[] = {{"its own claim: written", done, "delivered - 1 1 1"}};
	CHECK_ALL(s, "ours", ours);
	assert_idle(s, "not ours");
}

/* store_dest_save: the upsert replaces every column, as OR REPLACE did. */
static void
test_dest_save(void **state)
{
	struct store *s = *state;
	struct store_dest_state first = {
	    .name = "mx:a.test",
	    .domain = "a.test",
	    .rate = 5,
	    .connections = 4,
	    .suspended_until = TS0 + 60,
	    .slowdowns = 2,
	    .suspensions = 1,
	    .change = "suspended",
	    .note = "421 too fast",
	    .updated_at = TS0,
	};
	struct store_dest_state second = {
	    .name = "mx:a.test",
	    .domain = "b.test",
	    .rate = 2.5,
	    .connections = 1,
	    .slowdowns = 3,
	    .change = "",
	    .updated_at = TS0 + 1,
	};
	assert_int_equal(store_dest_save(s, &first), 0);
	assert_int_equal(store_dest_save(s, &second), 0);
	assert_idle(s, "store_dest_save");
	static const struct check checks[] = {
	    {"one row", "SELECT count(*) FROM destinations", "1"},
	    {"every column replaced",
	     "SELECT domain || ' ' || rate || ' ' || connections || ' ' || slowdowns || ' ' ||"
	     " suspensions || ' ' || updated_at FROM destinations",
	     "b.test 2.5 1 3 0 1700000001"},
	    {"unset columns are NULL again",
	     "SELECT coalesce(suspended_until, 'NULL') || coalesce(change, 'NULL') ||"
	     " coalesce(note, 'NULL') FROM destinations",
	     "NULLNULLNULL"},
	};
	CHECK_ALL(s, "destinations", checks);
}

/* store_policy_unset: one static statement for every mask. */
static void
test_policy_unset(void **state)
{
	struct store *s = *state;
	static const unsigned all = (1u << POLICY_NFIELDS) - 1;
	static const struct {
		const char *label;
		unsigned mask;
	} cases[] = {
	    {"nothing", 0},
	    {"rate", POLICY_HAS(POLICY_F_RATE)},
	    {"tls and warm-up", POLICY_HAS(POLICY_F_TLS) | POLICY_HAS(POLICY_F_WARMUP)},
	    {"connections and per-connection",
	     POLICY_HAS(POLICY_F_MAX_CONNECTIONS) | POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN)},
	    {"connect rate", POLICY_HAS(POLICY_F_CONNECT_RATE)},
	    {"everything", all},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct policy p = {
		    .pattern = "example.test",
		    .set = all,
		    .max_connections = 3,
		    .rate = 1.5,
		    .max_msgs_per_conn = 50,
		    .connect_rate = 2,
		    .tls = POLICY_TLS_REQUIRED,
		    .warmup = "100,200",
		    .warmup_start = 19000,
		};
		assert_int_equal(store_policy_set(s, &p, "user"), 0);
		assert_int_equal(store_policy_unset(s, "example.test", cases[i].mask), 0);
		struct policy got;
		assert_int_equal(store_policy_get(s, "example.test", &got), 0);
		if (got.set != (all & ~cases[i].mask))
			fail_msg("%s: fields set 0x%x, want 0x%x", cases[i].label, got.set,
			         all & ~cases[i].mask);
		assert_idle(s, cases[i].label);
	}
	assert_int_equal(store_policy_unset(s, "nowhere.test", POLICY_HAS(POLICY_F_RATE)),
	                 STORE_E_NOTFOUND);
}

/* ---- walks ---------------------------------------------------------------------------------- */

struct walk {
	struct store *s;
	int seen, stop_after, failed;
};

/* A callback that uses the store (another statement) while the walk's is open. */
static int
on_list(void *arg, const struct store_list_info *info)
{
	struct walk *w = arg;
	struct store_list_info again;
	if (store_list_get(w->s, info->name, &again) != 0 || again.id != info->id)
		w->failed++;
	return ++w->seen == w->stop_after;
}

/* A walk stopped by its callback leaves no statement in progress. */
static void
test_walks(void **state)
{
	struct store *s = *state;
	for (int i = 0; i < 3; i++) {
		int64_t id;
		bool created;
		char name[8];
		snprintf(name, sizeof(name), "l%d", i);
		assert_int_equal(store_list_ensure(s, name, &id, &created), 0);
		assert_true(created);
	}
	static const struct {
		const char *label;
		int stop_after, want_rc, want_seen;
	} cases[] = {
	    {"every list", 0, 0, 3},
	    {"stopped after one", 1, 1, 1},
	    {"stopped after two", 2, 1, 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct walk w = {.s = s, .stop_after = cases[i].stop_after};
		int rc = store_list_each(s, on_list, &w);
		expect_int(cases[i].label, rc, cases[i].want_rc);
		expect_int(cases[i].label, w.seen, cases[i].want_seen);
		expect_int(cases[i].label, w.failed, 0);
		assert_idle(s, cases[i].label);
	}
	/* A transaction after a stopped walk commits (no read left open under it). */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_suppress_add(s, "domain", "example.test", "manual", NULL), 0);
	assert_int_equal(store_suppress_add(s, "domain", "example.test", "manual", NULL),
	                 STORE_E_EXISTS);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_rollback(s), 0); /* none open: a no-op */
	assert_idle(s, "the transaction");
}

/* Tags: store_contact_tags_set (for an import's tags column) makes the contact's tags exactly
 * the ones given, compared without ASCII case, keeping a tag's first spelling; a segment's
 * tagging and counting run on statements of their own and leave nothing in progress. */
static void
test_tags(void **state)
{
	struct store *s = *state;
	sql(s, "INSERT INTO contacts(id, email, domain, created_at, updated_at) VALUES"
	       " (1, 'a@x.example', 'x.example', 0, 0), (2, 'b@x.example', 'x.example', 0, 0)");
	const char *first[] = {"VIP", "trial", "b\xc3\xbcro"};
	const char *second[] = {"vip", "gold", "B\xc3\x9cRO"};
	char tags[256];
	assert_int_equal(store_contact_tags_set(s, 1, first, 3), 0);
	assert_int_equal(store_contact_tags(s, 1, tags, sizeof(tags)), 0);
	assert_string_equal(tags, "b\xc3\xbcro,trial,VIP"); /* by tag, case aside */
	/* 'vip' is 'VIP' (kept as first written); 'trial' and 'büro' go; 'BÜRO' is another tag
	 * (NOCASE folds ASCII letters only, as the rest of kirim does). */
	assert_int_equal(store_contact_tags_set(s, 1, second, 3), 0);
	assert_int_equal(store_contact_tags(s, 1, tags, sizeof(tags)), 0);
	assert_string_equal(tags, "B\xc3\x9cRO,gold,VIP");
	assert_int_equal(store_contact_tags_set(s, 2, second, 1), 0);
	assert_int_equal(store_contact_tags_set(s, 1, NULL, 0), 0);
	assert_int_equal(store_contact_tags(s, 1, tags, sizeof(tags)), 0);
	assert_string_equal(tags, "");
	assert_idle(s, "store_contact_tags_set");
	struct segment_node *t;
	char err[256];
	const char *expr = "tag(\"VIP\") or a = 1";
	assert_int_equal(segment_parse(expr, strlen(expr), &t, err, sizeof(err)), 0);
	int64_t n = -1, changed = -1;
	assert_int_equal(store_segment_count(s, t, TS0, &n, NULL), 0);
	expect_int("tagged vip", n, 1);
	assert_int_equal(store_segment_tag(s, t, TS0, "later", true, &changed), 0);
	expect_int("tagged by segment", changed, 1);
	assert_int_equal(store_segment_tag(s, t, TS0, "LATER", false, &changed), 0);
	expect_int("untagged by segment", changed, 1);
	assert_idle(s, "store_segment_count and store_segment_tag");
	segment_free(t);
	/* A segment that names a missing one cannot be evaluated, and says why. */
	expr = "segment(\"none\")";
	assert_int_equal(segment_parse(expr, strlen(expr), &t, err, sizeof(err)), 0);
	assert_int_equal(store_segment_count(s, t, TS0, &n, NULL), STORE_E_INVALID);
	assert_string_equal(store_errmsg(s), "no segment called 'none'");
	segment_free(t);
}

/* A get that finds nothing leaves *out cleared, so that the caller's clear on
 * every path frees nothing it was not given (compose.sh's `template show` of a
 * missing name freed stack garbage when the stack happened to hold some). */
static void
test_get_miss_clears(void **state)
{
	struct store *s = *state;
	struct store_template t;
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(store_template_get(s, "none", 0, &t), STORE_E_NOTFOUND);
	assert_string_equal(t.name, "");
	assert_null(t.subject);
	assert_null(t.text);
	assert_null(t.html);
	store_template_clear(&t);
	assert_string_equal(store_errmsg(s), "no template called 'none'");
	struct store_campaign c;
	memset(&c, 0xa5, sizeof(c));
	assert_int_equal(store_campaign_get(s, "none", &c), STORE_E_NOTFOUND);
	store_campaign_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounce_suppress, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_result_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_result_not_ours, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dest_save, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy_unset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_miss_clears, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
