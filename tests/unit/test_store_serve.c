/*
 * test_store_serve - the one-click unsubscribe journal (store_journal_*) and
 * its fold into the database (store_serve_fold, _prune, _fold_pending), and
 * the batches kirim serve's writer applies (store_serve_apply): unsubscribes
 * with the preferences page's scope and reason, and signups and
 * confirmations (store_signup.c) with what they mean for the messages
 * campaigns make and claim; against a real SQLite database in a temporary
 * directory.
 *
 * Each test gets a fresh database made by store_open (so the real schema),
 * fixtures inserted with plain SQL on a second connection, the test's own
 * (as the CLI changes the database under a running kirim serve), and checks
 * of what the fold left behind as tables of (label, SQL returning one value,
 * wanted value); a failure prints the label, the SQL, got and want.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kirim/store.h"
#include "kirim/store_serve.h"
#include "kirim/store_signup.h"

enum { TS0 = 1700000000 };

/* One test's database, journal and fold state. */
struct fx {
	char dir[64];
	char db_path[128];
	char journal_path[160];
	struct store *s;
	sqlite3 *db; /* the test's own connection to the database */
	struct store_serve *ss;
	struct store_journal *j;
};

/* ---- helpers ------------------------------------------------------------------------------- */

/* Run SQL (printf-style, sqlite3_mprintf: %q, %lld) on db; the test fails on an error. */
static void
sql(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	char *err = NULL;
	int rc = sqlite3_exec(db, text, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		print_error("SQL failed: %s\n  %s\n", err ? err : "?", text);
		sqlite3_free(err);
		sqlite3_free(text);
		fail();
	}
	sqlite3_free(text);
}

/* The first column of the first row of a query, as text ("NULL" or "<no row>" otherwise). */
static void
query_text(sqlite3 *db, char *out, size_t size, const char *text)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK) {
		print_error("prepare failed: %s\n  %s\n", sqlite3_errmsg(db), text);
		fail();
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, size, "%s", v ? v : "NULL");
	} else if (rc == SQLITE_DONE) {
		snprintf(out, size, "<no row>");
	} else {
		snprintf(out, size, "<error: %s>", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
}

/* An integer query (printf-style). */
static int64_t
query_int(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	char got[256];
	query_text(db, got, sizeof(got), text);
	sqlite3_free(text);
	return strtoll(got, NULL, 10);
}

/* A check: SQL on the store returning one value, and the value wanted. */
struct check {
	const char *label;
	const char *sql;
	const char *want;
};

/* Run every check of a table; all mismatches are printed, then the test fails. */
static void
check_all(sqlite3 *db, const char *what, const struct check *c, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char got[1024];
		query_text(db, got, sizeof(got), c[i].sql);
		if (strcmp(got, c[i].want) != 0) {
			print_error("%s: %s\n  sql:  %s\n  got:  %s\n  want: %s\n", what,
			            c[i].label, c[i].sql, got, c[i].want);
			bad++;
		}
	}
	if (bad)
		fail_msg("%s: %d of %zu checks failed", what, bad, n);
}

#define CHECK_ALL(db, what, table)                                                                 \
	check_all((db), (what), (table), sizeof(table) / sizeof(*(table)))

/* An integer expectation, with got and want printed on failure. */
static void
expect_int(const char *label, int64_t got, int64_t want)
{
	if (got != want)
		fail_msg("%s: got %lld, want %lld", label, (long long)got, (long long)want);
}

/* Rows in the journal file, through a connection of its own (as another process sees it). */
static int64_t
journal_rows(struct fx *f)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->journal_path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	int64_t n = query_int(db, "SELECT count(*) FROM unsubscribes");
	sqlite3_close(db);
	return n;
}

/* The journal's generation (meta), for the fold's mark. */
static void
journal_generation(struct fx *f, char *out, size_t size)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->journal_path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	query_text(db, out, size, "SELECT value FROM meta WHERE key = 'generation'");
	sqlite3_close(db);
}

static void
add_list(struct fx *f, int64_t id, const char *name)
{
	sql(f->db, "INSERT INTO lists(id, name, created_at) VALUES (%lld, %Q, %d)", (long long)id,
	    name, TS0);
}

/* A contact, a member of list_id (0: of none). */
static void
add_contact(struct fx *f, int64_t id, const char *email, int64_t list_id)
{
	const char *at = strchr(email, '@');
	sql(f->db,
	    "INSERT INTO contacts(id, email, domain, created_at, updated_at)"
	    " VALUES (%lld, %Q, lower(%Q), %d, %d)",
	    (long long)id, email, at ? at + 1 : "", TS0, TS0);
	if (list_id)
		sql(f->db, "INSERT INTO list_members(list_id, contact_id) VALUES (%lld, %lld)",
		    (long long)list_id, (long long)id);
}

static void
add_campaign(struct fx *f, int64_t id, const char *name, int64_t list_id, const char *options)
{
	sql(f->db,
	    "INSERT OR IGNORE INTO templates(id, name, version, subject, text_body, created_at)"
	    " VALUES (1, 't', 1, 'Hello', 'Hi', %d)",
	    TS0);
	sql(f->db,
	    "INSERT INTO campaigns(id, name, list_id, template_id, from_addr, state, options,"
	    " created_at, updated_at) VALUES (%lld, %Q, %lld, 1, 'news@sender.test', 'sending',"
	    " %Q, %d, %d)",
	    (long long)id, name, (long long)list_id, options, TS0, TS0);
}

/* A message of (campaign, contact) in state; its id is campaign * 1000 + contact. */
static void
add_message(struct fx *f, int64_t campaign, int64_t contact, const char *state)
{
	sql(f->db,
	    "INSERT INTO messages(id, campaign_id, contact_id, state, queued_at, done_at)"
	    " VALUES (%lld, %lld, %lld, %Q, %d, CASE WHEN %Q = 'queued' THEN NULL ELSE %d END)",
	    (long long)(campaign * 1000 + contact), (long long)campaign, (long long)contact, state,
	    TS0, state, TS0);
}

static struct store_serve_event
unsub(int64_t campaign, int64_t contact, int64_t ts)
{
	return (struct store_serve_event){.type = STORE_SERVE_UNSUBSCRIBE,
	                                  .campaign_id = campaign,
	                                  .contact_id = contact,
	                                  .ts = ts};
}

/* Journal one unsubscribe (open the journal first if needed); returns its journal id. */
static int64_t
journal(struct fx *f, int64_t campaign, int64_t contact, int64_t ts)
{
	if (f->j == NULL) {
		char err[512] = "";
		f->j = store_journal_open(f->db_path, err, sizeof(err));
		if (f->j == NULL)
			fail_msg("store_journal_open: %s", err);
	}
	struct store_serve_event e = unsub(campaign, contact, ts);
	int64_t last = -1;
	int rc = store_journal_add(f->j, &e, 1, &last, 0);
	if (rc != 0)
		fail_msg("store_journal_add: %d %s", rc, store_journal_errmsg(f->j));
	expect_int("journaled event's result", e.result, 0);
	return last;
}

/* One fold of at most max rows; the test fails unless it returns 0. */
static void
fold(struct fx *f, size_t max, size_t *folded, int64_t *through)
{
	if (f->ss == NULL) {
		f->ss = store_serve_new(f->s);
		if (f->ss == NULL)
			fail_msg("store_serve_new: %s", store_errmsg(f->s));
	}
	int rc = store_serve_fold(f->ss, max, folded, through);
	if (rc != 0)
		fail_msg("store_serve_fold: %d %s", rc, store_errmsg(f->s));
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kirim-test-store-serve-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db_path, sizeof(f->db_path), "%s/kirim.db", f->dir);
	store_serve_journal_path(f->db_path, f->journal_path, sizeof(f->journal_path));
	char err[512] = "";
	if (store_open(f->db_path, STORE_CREATE, &f->s, err, sizeof(err)) != 0) {
		print_error("store_open: %s\n", err);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	if (sqlite3_open_v2(f->db_path, &f->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		print_error("open %s: %s\n", f->db_path, sqlite3_errmsg(f->db));
		sqlite3_close(f->db);
		store_close(f->s);
		free(f);
		return -1;
	}
	sqlite3_busy_timeout(f->db, 5000);
	sqlite3_exec(f->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	store_serve_free(f->ss);
	store_journal_close(f->j);
	sqlite3_close(f->db);
	store_close(f->s);
	/* Everything in the directory: the database, the journal and their -wal/-shm files. */
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	int rc = rmdir(f->dir);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* ---- 1. contact order, first campaign wins --------------------------------------------------- */

/*
 * Journal order and contact order differ: contact 9 comes first in the
 * journal (via "summer", campaign 2) and again later (via "spring", 1);
 * contact 4 first via "spring" and later via "summer". Both campaigns are
 * 'all' scope, so each contact gets one suppression whose source names the
 * campaign of its first journal row, and one event, on that campaign's
 * message. The fold works in contact order: the events and suppressions are
 * written (their rowids) for contacts 2, 4, 9 in that order.
 */
static void
test_fold_contact_order(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_contact(f, 2, "Two@Example.COM", 1);
	add_contact(f, 4, "Four@Example.com", 1);
	add_contact(f, 9, "NINE@example.com", 1);
	add_campaign(f, 1, "spring", 1, "{\"unsubscribe_scope\":\"all\"}");
	add_campaign(f, 2, "summer", 1, "{}");
	for (int64_t c = 1; c <= 2; c++) {
		add_message(f, c, 2, "delivered");
		add_message(f, c, 4, "delivered");
		add_message(f, c, 9, "delivered");
	}
	static const struct {
		int64_t campaign, contact;
	} rows[] = {{2, 9}, {1, 4}, {1, 9}, {2, 4}, {1, 2}};
	int64_t ids[5];
	for (size_t i = 0; i < 5; i++)
		ids[i] = journal(f, rows[i].campaign, rows[i].contact, TS0 + 100 + (int64_t)i);
	for (size_t i = 1; i < 5; i++)
		expect_int("journal ids ascend by one", ids[i], ids[i - 1] + 1);

	size_t folded = 0;
	int64_t through = 0;
	fold(f, 0, &folded, &through);
	expect_int("folded", (int64_t)folded, 5);
	expect_int("through", through, ids[4]);

	static const struct check want[] = {
	    {"one suppression per contact", "SELECT count(*) FROM suppressions", "3"},
	    {"contact 9: source is its first journal row's campaign",
	     "SELECT kind || '|' || reason || '|' || source || '|' || created_at FROM suppressions"
	     " WHERE value = 'nine@example.com'",
	     "address|unsubscribe|campaign:summer|1700000100"},
	    {"contact 4: source is its first journal row's campaign",
	     "SELECT kind || '|' || reason || '|' || source || '|' || created_at FROM suppressions"
	     " WHERE value = 'four@example.com'",
	     "address|unsubscribe|campaign:spring|1700000101"},
	    {"contact 2", "SELECT source FROM suppressions WHERE value = 'two@example.com'",
	     "campaign:spring"},
	    {"three unsubscribe events", "SELECT count(*) FROM events WHERE type = 'unsubscribe'",
	     "3"},
	    {"contact 9: the event is on the summer message",
	     "SELECT group_concat(message_id || '@' || ts || ' ' || detail) FROM events"
	     " WHERE message_id IN (1009, 2009)",
	     "2009@1700000100 {\"scope\":\"all\"}"},
	    {"contact 4: the event is on the spring message",
	     "SELECT group_concat(message_id || '@' || ts || ' ' || detail) FROM events"
	     " WHERE message_id IN (1004, 2004)",
	     "1004@1700000101 {\"scope\":\"all\"}"},
	    {"contact 2",
	     "SELECT group_concat(message_id) FROM events WHERE message_id IN (1002, 2002)",
	     "1002"},
	    {"events written in contact order",
	     "SELECT group_concat(c) FROM (SELECT m.contact_id AS c FROM events e"
	     " JOIN messages m ON m.id = e.message_id ORDER BY e.id)",
	     "2,4,9"},
	    {"suppressions written in contact order",
	     "SELECT group_concat(value) FROM (SELECT value FROM suppressions ORDER BY id)",
	     "two@example.com,four@example.com,nine@example.com"},
	    {"delivered messages untouched",
	     "SELECT count(*) FROM messages WHERE state <> 'delivered'", "0"},
	};
	CHECK_ALL(f->db, "contact order", want);
}

/* ---- 2. max: the first journal ids, not the first contacts ----------------------------------- */

static void
test_fold_max(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	int64_t ids[5];
	for (int i = 0; i < 5; i++) {
		char email[64];
		snprintf(email, sizeof(email), "c%d@example.com", 15 - i);
		add_contact(f, 15 - i, email, 1);
		add_message(f, 1, 15 - i, "delivered");
	}
	/* Contact ids descend as journal ids ascend: 15, 14, 13, 12, 11. */
	for (int i = 0; i < 5; i++)
		ids[i] = journal(f, 1, 15 - i, TS0 + i);

	static const struct step {
		const char *label;
		size_t max;
		size_t want_folded;
		int want_through; /* index into ids */
		const char *want_suppressed;
		const char *want_event_order;
	} steps[] = {
	    {"max 2: the first two journal ids", 2, 2, 1, "c14@example.com,c15@example.com",
	     "14,15"},
	    {"max 0: the other three", 0, 3, 4,
	     "c11@example.com,c12@example.com,c13@example.com,c14@example.com,c15@example.com",
	     "14,15,11,12,13"},
	    {"nothing left", 0, 0, 4,
	     "c11@example.com,c12@example.com,c13@example.com,c14@example.com,c15@example.com",
	     "14,15,11,12,13"},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		const struct step *t = &steps[i];
		size_t folded = 99;
		int64_t through = -1;
		fold(f, t->max, &folded, &through);
		if (folded != t->want_folded || through != ids[t->want_through])
			fail_msg("%s: got folded %zu through %lld, want %zu through %lld", t->label,
			         folded, (long long)through, t->want_folded,
			         (long long)ids[t->want_through]);
		const struct check want[] = {
		    {"suppressed",
		     "SELECT group_concat(value) FROM (SELECT value FROM suppressions ORDER BY "
		     "value)",
		     t->want_suppressed},
		    {"events in the order written",
		     "SELECT group_concat(c) FROM (SELECT m.contact_id AS c FROM events e"
		     " JOIN messages m ON m.id = e.message_id ORDER BY e.id)",
		     t->want_event_order},
		};
		CHECK_ALL(f->db, t->label, want);
	}
}

/* ---- 3. the mark: folded rows are never applied twice ---------------------------------------- */

static void
test_fold_mark(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	add_contact(f, 1, "a@example.com", 1);
	add_contact(f, 2, "b@example.com", 1);
	add_message(f, 1, 1, "delivered");
	add_message(f, 1, 2, "delivered");
	int64_t id1 = journal(f, 1, 1, TS0);

	size_t folded;
	int64_t through;
	fold(f, 0, &folded, &through);
	expect_int("first fold: folded", (int64_t)folded, 1);
	expect_int("first fold: through", through, id1);
	char gen[64], mark[128], got[128];
	journal_generation(f, gen, sizeof(gen));
	snprintf(mark, sizeof(mark), "%s:%lld", gen, (long long)id1);
	query_text(f->db, got, sizeof(got),
	           "SELECT value FROM settings WHERE key = 'serve_journal'");
	if (strcmp(got, mark) != 0)
		fail_msg("mark: got %s, want %s", got, mark);
	expect_int("the row stays in the journal (no prune)", journal_rows(f), 1);

	/* A resubscribe, as the CLI or a resubscribe link would do it. */
	sql(f->db, "DELETE FROM suppressions");
	static const struct {
		const char *label;
		bool new_serve; /* fold with a new store_serve (the mark is in the database) */
	} again[] = {{"same store_serve", false}, {"new store_serve", true}};
	for (size_t i = 0; i < 2; i++) {
		if (again[i].new_serve) {
			store_serve_free(f->ss);
			f->ss = NULL;
		}
		fold(f, 0, &folded, &through);
		if (folded != 0 || through != id1)
			fail_msg("%s: got folded %zu through %lld, want 0 through %lld",
			         again[i].label, folded, (long long)through, (long long)id1);
		expect_int("suppression stays deleted",
		           query_int(f->db, "SELECT count(*) FROM suppressions"), 0);
		expect_int("one event", query_int(f->db, "SELECT count(*) FROM events"), 1);
	}

	/* A new row is folded alone; the old one still is not. */
	int64_t id2 = journal(f, 1, 2, TS0 + 1);
	fold(f, 0, &folded, &through);
	expect_int("new row: folded", (int64_t)folded, 1);
	expect_int("new row: through", through, id2);
	static const struct check want[] = {
	    {"only the new contact is suppressed", "SELECT group_concat(value) FROM suppressions",
	     "b@example.com"},
	    {"two events", "SELECT count(*) FROM events", "2"},
	};
	CHECK_ALL(f->db, "after a new row", want);

	/* A contact deleted after its unsubscribe was journaled: skipped, but folded past. */
	add_contact(f, 3, "gone@example.com", 1);
	int64_t id3 = journal(f, 1, 3, TS0 + 2);
	sql(f->db, "DELETE FROM contacts WHERE id = 3");
	fold(f, 0, &folded, &through);
	expect_int("vanished contact: folded", (int64_t)folded, 1);
	expect_int("vanished contact: through", through, id3);
	expect_int("vanished contact: no suppression",
	           query_int(f->db, "SELECT count(*) FROM suppressions"), 1);
	fold(f, 0, &folded, &through);
	expect_int("vanished contact: not again", (int64_t)folded, 0);
}

/* ---- 4. list scope --------------------------------------------------------------------------- */

/*
 * Contact 1 unsubscribes from a list-scope campaign only; contact 2 from a
 * list-scope and an 'all' one in the same fold. The scope comes from the
 * options JSON; anything but "list" (absent, "all", not JSON) is 'all'.
 */
static void
test_fold_list_scope(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "news");
	add_list(f, 2, "other");
	static const struct {
		int64_t id;
		const char *name;
		int64_t list;
		const char *options;
	} camps[] = {
	    {1, "listwide", 1, "{\"unsubscribe_scope\":\"list\"}"},
	    {2, "everything", 2, "{\"unsubscribe_scope\":\"all\"}"},
	    {3, "nojson", 2, "not json"},
	    {4, "noscope", 2, "{\"track_opens\":true}"},
	};
	for (size_t i = 0; i < 4; i++)
		add_campaign(f, camps[i].id, camps[i].name, camps[i].list, camps[i].options);
	for (int64_t c = 1; c <= 4; c++) {
		char email[64];
		snprintf(email, sizeof(email), "u%lld@example.com", (long long)c);
		add_contact(f, c, email, 1);
		sql(f->db, "INSERT INTO list_members(list_id, contact_id) VALUES (2, %lld)",
		    (long long)c);
		for (int64_t k = 1; k <= 4; k++)
			add_message(f, k, c, "delivered");
	}
	journal(f, 2, 2, TS0 + 1); /* contact 2: 'all' first, then 'list' */
	journal(f, 1, 1, TS0 + 2);
	journal(f, 1, 2, TS0 + 3);
	journal(f, 3, 3, TS0 + 4); /* not JSON: 'all' */
	journal(f, 4, 4, TS0 + 5); /* no scope key: 'all' */
	size_t folded;
	int64_t through;
	fold(f, 0, &folded, &through);
	expect_int("folded", (int64_t)folded, 5);

	static const struct check want[] = {
	    {"contact 1 left list news only",
	     "SELECT group_concat(list_id) FROM list_members WHERE contact_id = 1", "2"},
	    {"contact 1 not suppressed",
	     "SELECT count(*) FROM suppressions WHERE value = 'u1@example.com'", "0"},
	    {"contact 1: a list-scope event on the listwide message",
	     "SELECT group_concat(message_id || ' ' || detail) FROM events"
	     " WHERE message_id % 1000 = 1",
	     "1001 {\"scope\":\"list\"}"},
	    {"contact 2 left list news only",
	     "SELECT group_concat(list_id) FROM list_members WHERE contact_id = 2", "2"},
	    {"contact 2 suppressed by the 'all' campaign",
	     "SELECT reason || '|' || source FROM suppressions WHERE value = 'u2@example.com'",
	     "unsubscribe|campaign:everything"},
	    {"contact 2: both events",
	     "SELECT group_concat(message_id || ' ' || detail, '; ') FROM (SELECT * FROM events"
	     " WHERE message_id % 1000 = 2 ORDER BY id)",
	     "2002 {\"scope\":\"all\"}; 1002 {\"scope\":\"list\"}"},
	    {"options not JSON: 'all' scope",
	     "SELECT source FROM suppressions WHERE value = 'u3@example.com'", "campaign:nojson"},
	    {"options not JSON: stays in its lists",
	     "SELECT group_concat(list_id) FROM (SELECT list_id FROM list_members"
	     " WHERE contact_id = 3 ORDER BY list_id)",
	     "1,2"},
	    {"options without a scope: 'all' scope",
	     "SELECT source FROM suppressions WHERE value = 'u4@example.com'", "campaign:noscope"},
	    {"events' details",
	     "SELECT group_concat(detail, ';') FROM (SELECT detail FROM events"
	     " WHERE message_id % 1000 IN (3, 4) ORDER BY id)",
	     "{\"scope\":\"all\"};{\"scope\":\"all\"}"},
	};
	CHECK_ALL(f->db, "list scope", want);
}

/* ---- 5. queued messages are dropped ---------------------------------------------------------- */

/*
 * Campaigns 1 (list 1) and 2 (list 2) have queued messages; campaign 3
 * (list 1, list scope) and 4 (list 2, 'all' scope) are where the links were
 * clicked. An 'all' unsubscribe drops every queued message of the contact;
 * a list-scope one only those of campaigns on its list. Other contacts'
 * queued messages stay queued.
 */
static void
test_fold_drops_queued(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "news");
	add_list(f, 2, "other");
	add_campaign(f, 1, "q-news", 1, "{}");
	add_campaign(f, 2, "q-other", 2, "{}");
	add_campaign(f, 3, "news-listwide", 1, "{\"unsubscribe_scope\":\"list\"}");
	add_campaign(f, 4, "other-all", 2, "{}");
	for (int64_t c = 1; c <= 3; c++) {
		char email[64];
		snprintf(email, sizeof(email), "q%lld@example.com", (long long)c);
		add_contact(f, c, email, 1);
		sql(f->db, "INSERT INTO list_members(list_id, contact_id) VALUES (2, %lld)",
		    (long long)c);
		add_message(f, 1, c, "queued");
		add_message(f, 2, c, "queued");
		add_message(f, 3, c, "delivered");
		add_message(f, 4, c, "delivered");
	}
	journal(f, 4, 1, TS0 + 7); /* contact 1: 'all' */
	journal(f, 3, 2, TS0 + 8); /* contact 2: list 1 only */
	size_t folded;
	int64_t through;
	fold(f, 0, &folded, &through);
	expect_int("folded", (int64_t)folded, 2);

	static const struct check want[] = {
	    {"contact 1 ('all'): both queued messages suppressed",
	     "SELECT group_concat(id || ' ' || state || ' ' || coalesce(done_at, '-'), '; ')"
	     " FROM (SELECT * FROM messages WHERE contact_id = 1 AND campaign_id IN (1, 2)"
	     " ORDER BY id)",
	     "1001 suppressed 1700000007; 2001 suppressed 1700000007"},
	    {"contact 2 (list 1): only list 1's queued message suppressed",
	     "SELECT group_concat(id || ' ' || state || ' ' || coalesce(done_at, '-'), '; ')"
	     " FROM (SELECT * FROM messages WHERE contact_id = 2 AND campaign_id IN (1, 2)"
	     " ORDER BY id)",
	     "1002 suppressed 1700000008; 2002 queued -"},
	    {"contact 3 untouched",
	     "SELECT group_concat(state) FROM (SELECT state FROM messages WHERE contact_id = 3"
	     " AND campaign_id IN (1, 2) ORDER BY id)",
	     "queued,queued"},
	    {"delivered messages stay delivered",
	     "SELECT count(*) FROM messages WHERE campaign_id IN (3, 4) AND state <> 'delivered'",
	     "0"},
	};
	CHECK_ALL(f->db, "queued", want);
}

/* ---- 6. store_journal_add checks and journals ------------------------------------------------ */

static void
test_journal_add(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	add_contact(f, 1, "a@example.com", 1);
	add_contact(f, 2, "b@example.com", 1);
	char err[512] = "";
	f->j = store_journal_open(f->db_path, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("store_journal_open: %s", err);

	static const struct {
		const char *label;
		int64_t campaign, contact;
		int want_result;
	} cases[] = {
	    {"found", 1, 1, 0},
	    {"no such contact", 1, 99, STORE_E_NOTFOUND},
	    {"no such campaign", 99, 1, STORE_E_NOTFOUND},
	    {"found again", 1, 2, 0},
	    {"neither exists", 98, 97, STORE_E_NOTFOUND},
	};
	enum { N = sizeof(cases) / sizeof(*cases) };
	struct store_serve_event ev[N];
	for (size_t i = 0; i < N; i++) {
		ev[i] = unsub(cases[i].campaign, cases[i].contact, TS0 + (int64_t)i);
		ev[i].result = 12345; /* must be overwritten */
	}
	int64_t last = -1;
	int rc = store_journal_add(f->j, ev, N, &last, 0);
	if (rc != 0)
		fail_msg("store_journal_add: %d %s", rc, store_journal_errmsg(f->j));
	int bad = 0;
	for (size_t i = 0; i < N; i++) {
		if (ev[i].result != cases[i].want_result) {
			print_error("%s: got result %d, want %d\n", cases[i].label, ev[i].result,
			            cases[i].want_result);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d results wrong", bad);

	sqlite3 *jdb = NULL;
	assert_int_equal(sqlite3_open_v2(f->journal_path, &jdb, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	char got[256];
	query_text(jdb, got, sizeof(got),
	           "SELECT group_concat(id || ':' || campaign_id || '/' || contact_id || '@' || ts,"
	           " ' ') FROM (SELECT * FROM unsubscribes ORDER BY id)");
	int64_t maxid = query_int(jdb, "SELECT max(id) FROM unsubscribes");
	sqlite3_close(jdb);
	const char *want = "1:1/1@1700000000 2:1/2@1700000003";
	if (strcmp(got, want) != 0)
		fail_msg("journal rows: got %s, want %s", got, want);
	expect_int("*last is the last journal id", last, maxid);
	expect_int("*last", last, 2);

	/* A second batch continues the ids. */
	struct store_serve_event e2 = unsub(1, 2, TS0 + 9);
	rc = store_journal_add(f->j, &e2, 1, &last, 0);
	expect_int("second batch: rc", rc, 0);
	expect_int("second batch: *last", last, 3);
	expect_int("rows", journal_rows(f), 3);
}

/* ---- 7. pruning, PRUNE_STEP rows per call ---------------------------------------------------- */

enum { PRUNE_ROWS = 3000, PRUNE_CONTACTS = 300, PRUNE_BATCH = 100 };

static void
test_journal_prune(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	sql(f->db, "BEGIN");
	for (int64_t c = 1; c <= PRUNE_CONTACTS; c++) {
		char email[64];
		snprintf(email, sizeof(email), "p%lld@example.com", (long long)c);
		add_contact(f, c, email, 1);
		add_message(f, 1, c, "delivered");
	}
	sql(f->db, "COMMIT");
	char err[512] = "";
	f->j = store_journal_open(f->db_path, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("store_journal_open: %s", err);
	struct store_serve_event ev[PRUNE_BATCH];
	int64_t last = 0;
	for (int b = 0; b < PRUNE_ROWS / PRUNE_BATCH; b++) {
		for (int i = 0; i < PRUNE_BATCH; i++) {
			int k = b * PRUNE_BATCH + i;
			ev[i] = unsub(1, PRUNE_CONTACTS - k % PRUNE_CONTACTS, TS0 + k);
		}
		int rc = store_journal_add(f->j, ev, PRUNE_BATCH, &last, 0);
		if (rc != 0)
			fail_msg("store_journal_add: %d %s", rc, store_journal_errmsg(f->j));
	}
	expect_int("journaled", journal_rows(f), PRUNE_ROWS);
	expect_int("last", last, PRUNE_ROWS);

	size_t folded;
	int64_t through;
	fold(f, 0, &folded, &through);
	expect_int("folded", (int64_t)folded, PRUNE_ROWS);
	expect_int("through", through, PRUNE_ROWS);
	expect_int("suppressions", query_int(f->db, "SELECT count(*) FROM suppressions"),
	           PRUNE_CONTACTS);
	expect_int("one event per contact", query_int(f->db, "SELECT count(*) FROM events"),
	           PRUNE_CONTACTS);
	expect_int("a fold does not prune", journal_rows(f), PRUNE_ROWS);

	static const struct step {
		const char *label;
		bool reopen; /* close and reopen the journal first */
		int nevents;
		int64_t want_rows, want_min; /* rows left, the lowest id left */
		int64_t want_last;           /* *last, when the call journaled one (else 0) */
	} steps[] = {
	    {"1st call: 1024 go", false, 0, 1976, 1025, 0},
	    {"reopened, 2nd call with an event: 1024 more go", true, 1, 953, 2049, 3001},
	    {"3rd call: the rest of the folded ones", false, 0, 1, 3001, 0},
	    {"4th call: nothing folded is left", false, 0, 1, 3001, 0},
	    {"reopened again: still nothing to prune", true, 0, 1, 3001, 0},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		const struct step *t = &steps[i];
		if (t->reopen) {
			store_journal_close(f->j);
			f->j = store_journal_open(f->db_path, err, sizeof(err));
			if (f->j == NULL)
				fail_msg("%s: store_journal_open: %s", t->label, err);
		}
		struct store_serve_event e = unsub(1, 1, TS0 + 5000);
		int rc = store_journal_add(f->j, &e, (size_t)t->nevents, &last, through);
		if (rc != 0)
			fail_msg("%s: store_journal_add: %d %s", t->label, rc,
			         store_journal_errmsg(f->j));
		sqlite3 *jdb = NULL;
		assert_int_equal(sqlite3_open_v2(f->journal_path, &jdb, SQLITE_OPEN_READONLY, NULL),
		                 SQLITE_OK);
		int64_t rows = query_int(jdb, "SELECT count(*) FROM unsubscribes");
		int64_t min = query_int(jdb, "SELECT min(id) FROM unsubscribes");
		sqlite3_close(jdb);
		if (rows != t->want_rows || min != t->want_min)
			fail_msg("%s: got %lld rows from id %lld, want %lld from %lld", t->label,
			         (long long)rows, (long long)min, (long long)t->want_rows,
			         (long long)t->want_min);
		if (t->want_last)
			expect_int(t->label, last, t->want_last);
	}

	/* The new row folds; store_serve_prune takes the rest, with no step limit. */
	fold(f, 0, &folded, &through);
	expect_int("new row folded", (int64_t)folded, 1);
	expect_int("new row through", through, PRUNE_ROWS + 1);
	store_serve_prune(f->ss, through);
	expect_int("store_serve_prune empties the journal", journal_rows(f), 0);
}

/* store_serve_prune deletes every folded row at once (it is for when nothing else writes). */
static void
test_serve_prune(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	add_contact(f, 1, "a@example.com", 1);
	add_message(f, 1, 1, "delivered");
	char err[512] = "";
	f->j = store_journal_open(f->db_path, err, sizeof(err));
	if (f->j == NULL)
		fail_msg("store_journal_open: %s", err);
	enum { ROWS = 1500 };
	static struct store_serve_event ev[ROWS];
	for (int i = 0; i < ROWS; i++)
		ev[i] = unsub(1, 1, TS0 + i);
	int64_t last = 0;
	expect_int("add", store_journal_add(f->j, ev, ROWS, &last, 0), 0);
	size_t folded;
	int64_t through;
	fold(f, 1200, &folded, &through);
	expect_int("folded", (int64_t)folded, 1200);
	expect_int("through", through, 1200);
	store_serve_prune(f->ss, through);
	expect_int("rows left", journal_rows(f), ROWS - 1200);
	expect_int("one event", query_int(f->db, "SELECT count(*) FROM events"), 1);
	expect_int("one suppression", query_int(f->db, "SELECT count(*) FROM suppressions"), 1);
}

/* ---- 8. store_serve_fold_pending ------------------------------------------------------------- */

static void
test_fold_pending(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{}");
	for (int64_t c = 1; c <= 6; c++) {
		char email[64];
		snprintf(email, sizeof(email), "f%lld@example.com", (long long)c);
		add_contact(f, c, email, 1);
		add_message(f, 1, c, "queued");
	}
	/* No journal file yet: nothing to do. */
	expect_int("no journal: rc", store_serve_fold_pending(f->s), 0);
	if (access(f->journal_path, F_OK) == 0)
		fail_msg("fold_pending created %s", f->journal_path);

	for (int64_t c = 6; c >= 1; c--)
		journal(f, 1, c, TS0 + 10 - c);
	/* A serve folded two rows and was killed before pruning them. */
	size_t folded;
	int64_t through;
	fold(f, 2, &folded, &through);
	expect_int("partial fold", (int64_t)folded, 2);
	store_serve_free(f->ss);
	f->ss = NULL;
	sql(f->db, "DELETE FROM suppressions WHERE value = 'f6@example.com'"); /* resubscribed */

	expect_int("fold_pending: rc", store_serve_fold_pending(f->s), 0);
	expect_int("journal empty", journal_rows(f), 0);
	static const struct check want[] = {
	    {"the rest folded, the folded ones not again",
	     "SELECT group_concat(value) FROM (SELECT value FROM suppressions ORDER BY value)",
	     "f1@example.com,f2@example.com,f3@example.com,f4@example.com,f5@example.com"},
	    {"every queued message suppressed",
	     "SELECT count(*) FROM messages WHERE state = 'suppressed'", "6"},
	    {"one event each", "SELECT count(*) FROM events", "6"},
	};
	CHECK_ALL(f->db, "fold_pending", want);

	/* Again: nothing left, still 0. */
	expect_int("fold_pending again: rc", store_serve_fold_pending(f->s), 0);
	expect_int("journal still empty", journal_rows(f), 0);
	expect_int("events", query_int(f->db, "SELECT count(*) FROM events"), 6);
}

/* ---- 9. store_serve_apply: what each event did ----------------------------------------------- */

/*
 * One batch of every kind of event against contacts with and without a
 * message, and a contact that does not exist: an event whose (campaign,
 * contact) has no message records nothing, an unsubscribe of a missing
 * contact suppresses nothing, a second unsubscribe changes nothing.
 */
static void
test_apply(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "main");
	add_campaign(f, 1, "spring", 1, "{\"links\":[\"https://example.com/a\"]}");
	add_contact(f, 1, "One@Example.com", 1);
	add_contact(f, 2, "two@example.com", 1); /* no message */
	add_message(f, 1, 1, "delivered");
	f->ss = store_serve_new(f->s);
	if (f->ss == NULL)
		fail_msg("store_serve_new: %s", store_errmsg(f->s));

	static const struct {
		const char *label;
		enum store_serve_type type;
		int64_t campaign, contact;
		int want_result;
		bool want_changed, want_recorded;
	} cases[] = {
	    {"unsubscribe", STORE_SERVE_UNSUBSCRIBE, 1, 1, 0, true, true},
	    {"unsubscribe again", STORE_SERVE_UNSUBSCRIBE, 1, 1, 0, false, false},
	    {"unsubscribe without a message", STORE_SERVE_UNSUBSCRIBE, 1, 2, 0, true, false},
	    {"unsubscribe of no contact", STORE_SERVE_UNSUBSCRIBE, 1, 99, STORE_E_NOTFOUND, false,
	     false},
	    {"unsubscribe of no campaign", STORE_SERVE_UNSUBSCRIBE, 99, 1, STORE_E_NOTFOUND, false,
	     false},
	    {"open", STORE_SERVE_OPEN, 1, 1, 0, false, true},
	    {"open without a message", STORE_SERVE_OPEN, 1, 2, STORE_E_NOTFOUND, false, false},
	    {"click", STORE_SERVE_CLICK, 1, 1, 0, false, true},
	    {"click without a message", STORE_SERVE_CLICK, 1, 2, 0, false, false},
	    {"resubscribe", STORE_SERVE_RESUBSCRIBE, 1, 2, 0, true, false},
	};
	enum { N = sizeof(cases) / sizeof(*cases) };
	struct store_serve_event ev[N];
	memset(ev, 0, sizeof(ev));
	for (size_t i = 0; i < N; i++) {
		ev[i].type = cases[i].type;
		ev[i].campaign_id = cases[i].campaign;
		ev[i].contact_id = cases[i].contact;
		ev[i].ts = TS0 + (int64_t)i;
	}
	int rc = store_serve_apply(f->ss, ev, N);
	if (rc != 0)
		fail_msg("store_serve_apply: %d %s", rc, store_errmsg(f->s));
	int bad = 0;
	for (size_t i = 0; i < N; i++) {
		if (ev[i].result != cases[i].want_result ||
		    ev[i].changed != cases[i].want_changed ||
		    ev[i].recorded != cases[i].want_recorded) {
			print_error("%s: got result %d changed %d recorded %d, want %d %d %d\n",
			            cases[i].label, ev[i].result, ev[i].changed, ev[i].recorded,
			            cases[i].want_result, cases[i].want_changed,
			            cases[i].want_recorded);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d events wrong", bad);
	static const struct check want[] = {
	    {"one suppression left, lower-cased, from the campaign",
	     "SELECT group_concat(kind || ' ' || value || ' ' || reason || ' ' || source)"
	     " FROM suppressions",
	     "address one@example.com unsubscribe campaign:spring"},
	    {"events on the message only",
	     "SELECT group_concat(message_id || ' ' || type, ', ') FROM"
	     " (SELECT * FROM events ORDER BY id)",
	     "1001 unsubscribe, 1001 open, 1001 click"},
	};
	CHECK_ALL(f->db, "apply", want);
}

/* ---- signups and confirmations (store_signup.c, through store_serve_apply) ------------------- */

/* A signup request of email to list at ts, with the fixed fields a form gives. */
static struct store_signup
signup_of(const char *list, const char *email)
{
	const char *at = strchr(email, '@');
	return (struct store_signup){
	    .list = list,
	    .email = email,
	    .domain = at ? at + 1 : "",
	    .attrs = "{\"name\":\"Ann\",\"language\":\"id\"}",
	    .form = "kirim:/s/news",
	    .ip = "192.0.2.7",
	    .user_agent = "Mozilla/5.0 (test)",
	    .language = "id",
	    .consent_text = "Ya, kirimi saya email news.",
	    .subject = "{{t.email_subject}}",
	    .text = "{{confirm_url}}",
	    .html = NULL,
	    .from_name = "Shop",
	    .from_addr = "news@shop.example",
	    .resend_after = 600,
	};
}

/* A claim's callback that takes every message as it comes. */
static int
claim_none(void *arg, const struct store_claimed *m)
{
	(void)arg;
	(void)m;
	return 0;
}

/* Apply one event; the test fails unless the batch commits. */
static void
apply1(struct fx *f, struct store_serve_event *e)
{
	if (f->ss == NULL && (f->ss = store_serve_new(f->s)) == NULL)
		fail_msg("store_serve_new: %s", store_errmsg(f->s));
	int rc = store_serve_apply(f->ss, e, 1);
	if (rc != 0)
		fail_msg("store_serve_apply: %d %s", rc, store_errmsg(f->s));
}

static struct store_serve_event
signup_ev(struct store_signup *su, int64_t ts)
{
	return (struct store_serve_event){.type = STORE_SERVE_SIGNUP, .signup = su, .ts = ts};
}

static struct store_serve_event
confirm_ev(int64_t campaign, int64_t contact, int64_t ts)
{
	return (struct store_serve_event){.type = STORE_SERVE_CONFIRM,
	                                  .campaign_id = campaign,
	                                  .contact_id = contact,
	                                  .ts = ts,
	                                  .ip = "198.51.100.9"};
}

/*
 * A new address: a contact with the form's attributes, an unconfirmed member,
 * one consent row, the list's confirmation campaign (made now, with its
 * template, sending) and one queued message. Again at once: nothing new
 * (RECENT). After resend_after: the same message queued again and a second
 * consent. Confirming dates the latest consent and makes the member
 * confirmed; again: ALREADY. A confirmed member signing up: MEMBER, nothing
 * written. Confirming with a regular campaign's id, or for a contact not on
 * the list: NOTFOUND. A regular campaign with the confirmation campaign's
 * name: EXISTS, and the signup writes nothing while the batch commits.
 */
static void
test_signup(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "news");
	add_campaign(f, 1, "spring", 1, "{}");
	add_contact(f, 5, "old@example.com", 1);

	struct store_signup su = signup_of("news", "Ann@Example.com");
	struct store_serve_event e = signup_ev(&su, TS0);
	apply1(f, &e);
	expect_int("first: result", e.result, 0);
	expect_int("first: outcome", su.outcome, STORE_SIGNUP_SENT);
	expect_int("first: changed", e.changed, 1);
	int64_t camp = su.campaign_id, ann = su.contact_id;
	static const struct check first[] = {
	    {"contact made with the form's attributes",
	     "SELECT email || ' ' || domain || ' ' || attrs FROM contacts WHERE id > 5",
	     "Ann@Example.com Example.com {\"name\":\"Ann\",\"language\":\"id\"}"},
	    {"member, unconfirmed", "SELECT status FROM list_members WHERE contact_id > 5",
	     "unconfirmed"},
	    {"confirmation campaign",
	     "SELECT name || ' ' || kind || ' ' || state || ' ' || from_addr || ' ' || options"
	     " FROM campaigns WHERE kind = 'confirm'",
	     "confirm:news confirm sending news@shop.example {\"unsubscribe_scope\":\"list\"}"},
	    {"its template",
	     "SELECT t.name || ' ' || t.subject || ' ' || t.text_body FROM templates t JOIN"
	     " campaigns c ON c.template_id = t.id WHERE c.kind = 'confirm'",
	     "confirm:news {{t.email_subject}} {{confirm_url}}"},
	    {"one queued message",
	     "SELECT count(*) || ' ' || min(m.state) FROM messages m JOIN campaigns c ON"
	     " c.id = m.campaign_id WHERE c.kind = 'confirm'",
	     "1 queued"},
	    {"consent",
	     "SELECT list_name || '|' || form || '|' || ip || '|' || user_agent || '|' || language"
	     " || '|' || text || '|' || (created_at - 1700000000) || '|' ||"
	     " coalesce(confirmed_at, 'none') FROM consents",
	     "news|kirim:/s/news|192.0.2.7|Mozilla/5.0 (test)|id|Ya, kirimi saya email "
	     "news.|0|none"},
	};
	CHECK_ALL(f->db, "first signup", first);

	/* Again at once, in another case: the same contact, no second request or consent. */
	su = signup_of("news", "ann@example.com");
	e = signup_ev(&su, TS0 + 60);
	apply1(f, &e);
	expect_int("again: outcome", su.outcome, STORE_SIGNUP_RECENT);
	expect_int("again: contact", su.contact_id, ann);
	expect_int("again: consents", query_int(f->db, "SELECT count(*) FROM consents"), 1);

	/* Sent, then again after resend_after: the message queued again, a second consent. */
	sql(f->db,
	    "UPDATE messages SET state = 'delivered', attempts = 1, done_at = %d"
	    " WHERE campaign_id = %lld",
	    TS0 + 5, (long long)camp);
	su = signup_of("news", "ann@example.com");
	e = signup_ev(&su, TS0 + 601);
	apply1(f, &e);
	expect_int("resent: outcome", su.outcome, STORE_SIGNUP_SENT);
	static const struct check resent[] = {
	    {"requeued, attempts reset",
	     "SELECT m.state || ' ' || attempts || ' ' || (queued_at - 1700000000) FROM messages m"
	     " JOIN campaigns c ON c.id = m.campaign_id WHERE c.kind = 'confirm'",
	     "queued 0 601"},
	    {"two consents", "SELECT count(*) FROM consents", "2"},
	};
	CHECK_ALL(f->db, "resent", resent);

	/* Confirm: the member, and the latest consent only. */
	e = confirm_ev(camp, ann, TS0 + 700);
	apply1(f, &e);
	expect_int("confirm: result", e.result, 0);
	expect_int("confirm: outcome", e.confirmed, STORE_CONFIRM_DONE);
	static const struct check confirmed[] = {
	    {"member confirmed", "SELECT status FROM list_members WHERE contact_id > 5",
	     "confirmed"},
	    {"latest consent dated",
	     "SELECT group_concat(coalesce(confirmed_at - 1700000000, '-') || ' ' ||"
	     " coalesce(confirm_ip, '-'), ', ') FROM (SELECT * FROM consents ORDER BY id)",
	     "- -, 700 198.51.100.9"},
	};
	CHECK_ALL(f->db, "confirmed", confirmed);
	e = confirm_ev(camp, ann, TS0 + 800);
	apply1(f, &e);
	expect_int("confirm again: outcome", e.confirmed, STORE_CONFIRM_ALREADY);
	expect_int("confirm again: changed", e.changed, 0);

	/* A confirmed member: nothing sent or recorded. */
	su = signup_of("news", "old@example.com");
	e = signup_ev(&su, TS0 + 900);
	apply1(f, &e);
	expect_int("member: outcome", su.outcome, STORE_SIGNUP_MEMBER);
	expect_int("member: consents", query_int(f->db, "SELECT count(*) FROM consents"), 2);

	/* Refusals. */
	e = confirm_ev(1, ann, TS0 + 900); /* a regular campaign */
	apply1(f, &e);
	expect_int("regular campaign: result", e.result, STORE_E_NOTFOUND);
	e = confirm_ev(camp, 5, TS0 + 900); /* old@ is confirmed already: ALREADY */
	apply1(f, &e);
	expect_int("confirmed member: outcome", e.confirmed, STORE_CONFIRM_ALREADY);
	add_contact(f, 60, "none@example.com", 0);
	e = confirm_ev(camp, 60, TS0 + 900);
	apply1(f, &e);
	expect_int("not on the list: result", e.result, 0);
	expect_int("not on the list: outcome", e.confirmed, STORE_CONFIRM_GONE);

	add_list(f, 2, "taken");
	add_campaign(f, 20, "confirm:taken", 2, "{}");
	int64_t contacts = query_int(f->db, "SELECT count(*) FROM contacts");
	su = signup_of("taken", "new@example.com");
	struct store_serve_event two[2] = {signup_ev(&su, TS0 + 1000), unsub(1, 5, TS0 + 1000)};
	if (store_serve_apply(f->ss, two, 2) != 0)
		fail_msg("store_serve_apply: %s", store_errmsg(f->s));
	expect_int("name taken: result", two[0].result, STORE_E_EXISTS);
	expect_int("name taken: no contact", query_int(f->db, "SELECT count(*) FROM contacts"),
	           contacts);
	expect_int("name taken: the batch's other event applied", two[1].changed, 1);
}

/*
 * What campaigns mail: a regular campaign's messages are made for its list's
 * confirmed members only (a list in an audience counts those), a segment's for
 * anyone but a contact whose every membership is unconfirmed, and a
 * confirmation campaign's none at all (its signups make them); a claim
 * withdraws a message whose contact is not (or no longer) of the status its
 * campaign mails. A confirmation campaign is never set done.
 */
static void
test_unconfirmed_not_mailed(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "news");
	add_list(f, 2, "offers");
	add_campaign(f, 1, "spring", 1, "{}");
	add_contact(f, 1, "one@example.com", 1);
	add_contact(f, 2, "two@example.com", 1);
	add_contact(f, 3, "three@example.com", 1);
	add_contact(f, 5, "five@example.com", 2); /* confirmed on offers, unconfirmed on news */
	sql(f->db, "INSERT INTO list_members(list_id, contact_id, status) VALUES (1, 5, "
	           "'unconfirmed')");
	sql(f->db, "UPDATE list_members SET status = 'unconfirmed' WHERE contact_id IN (2, 3)");
	add_campaign(f, 2, "confirm:news", 1, "{}");
	sql(f->db, "UPDATE campaigns SET kind = 'confirm' WHERE id = 2");
	/* A segment over everyone tagged t: all four are. */
	add_campaign(f, 3, "tagged", 1, "{}");
	sql(f->db,
	    "INSERT INTO segments(id, name, expr, created_at, updated_at)"
	    " VALUES (1, 'tagged', 'tag(\"t\")', %d, %d)",
	    TS0, TS0);
	sql(f->db,
	    "INSERT INTO contact_tags(tag, contact_id, created_at) SELECT 't', id, %d"
	    " FROM contacts",
	    TS0);
	sql(f->db,
	    "INSERT INTO campaign_audience(campaign_id, pos, kind, list_id, segment_id, name)"
	    " VALUES (1, 0, 'list', 1, NULL, 'news'), (2, 0, 'list', 1, NULL, 'news'),"
	    " (3, 0, 'segment', NULL, 1, 'tagged')");

	int64_t made = -1;
	if (store_messages_prepare(f->s, 1, 1, &made) != 0)
		fail_msg("prepare: %s", store_errmsg(f->s));
	expect_int("list: messages made", made, 1);
	if (store_messages_prepare(f->s, 2, 1, &made) != 0)
		fail_msg("prepare: %s", store_errmsg(f->s));
	expect_int("confirmation: messages made", made, 0);
	if (store_messages_prepare(f->s, 3, 1, &made) != 0)
		fail_msg("prepare: %s", store_errmsg(f->s));
	expect_int("segment: messages made", made, 2);
	static const struct check made_for[] = {
	    {"list: the confirmed member",
	     "SELECT group_concat(contact_id) FROM messages WHERE campaign_id = 1", "1"},
	    {"segment: everyone but those who only signed up",
	     "SELECT group_concat(contact_id) FROM (SELECT contact_id FROM messages"
	     " WHERE campaign_id = 3 ORDER BY 1)",
	     "1,5"},
	};
	CHECK_ALL(f->db, "prepare", made_for);

	/* The signups queue their own requests; statuses change while messages wait: two
	 * confirms; three gets a message of spring by hand. */
	sql(f->db,
	    "INSERT INTO messages(campaign_id, contact_id, queued_at) VALUES (2, 2, %d),"
	    " (2, 3, %d), (1, 3, %d)",
	    TS0, TS0, TS0);
	sql(f->db, "UPDATE list_members SET status = 'confirmed' WHERE contact_id = 2");
	int withdrawn = 0;
	if (store_begin(f->s) != 0 ||
	    store_messages_claim(f->s, 1, 0, TS0 + 10, 10, claim_none, NULL, &withdrawn) != 0 ||
	    store_messages_claim(f->s, 2, 0, TS0 + 10, 10, claim_none, NULL, &withdrawn) != 0 ||
	    store_commit(f->s) != 0)
		fail_msg("claim: %s", store_errmsg(f->s));
	static const struct check claimed[] = {
	    {"regular: claimed the confirmed, withdrew the unconfirmed",
	     "SELECT group_concat(contact_id || ' ' || state, ', ') FROM (SELECT * FROM messages"
	     " WHERE campaign_id = 1 ORDER BY contact_id)",
	     "1 claimed, 3 suppressed"},
	    {"confirmation: withdrew the confirmed, claimed the unconfirmed",
	     "SELECT group_concat(contact_id || ' ' || state, ', ') FROM (SELECT * FROM messages"
	     " WHERE campaign_id = 2 ORDER BY contact_id)",
	     "2 suppressed, 3 claimed"},
	};
	CHECK_ALL(f->db, "claim", claimed);

	if (store_campaign_set_state(f->s, 2, "done") != 0 ||
	    store_campaign_set_state(f->s, 1, "done") != 0)
		fail_msg("set state: %s", store_errmsg(f->s));
	static const struct check states[] = {
	    {"regular done, confirmation still sending",
	     "SELECT group_concat(state) FROM (SELECT state FROM campaigns WHERE id < 3"
	     " ORDER BY id)",
	     "done,sending"},
	};
	CHECK_ALL(f->db, "states", states);
}

/*
 * The preferences page's unsubscribe: its own scope over the campaign's, and
 * the reason in the event's detail (as JSON: quotes escaped). A resubscribe
 * with a scope undoes that scope. A confirmation campaign's link unsubscribes
 * from its list only and takes no resubscribe. store_page_info says what the
 * page shows; store_consent_each lists nothing for a contact with none.
 */
static void
test_unsubscribe_scope(void **state)
{
	struct fx *f = *state;
	add_list(f, 1, "news");
	add_campaign(f, 1, "spring", 1, "{}");
	add_campaign(f, 2, "confirm:news", 1, "{}");
	sql(f->db, "UPDATE campaigns SET kind = 'confirm' WHERE id = 2");
	add_contact(f, 1, "one@example.com", 1);
	add_contact(f, 2, "two@example.com", 1);
	sql(f->db, "UPDATE contacts SET attrs = '{\"language\":\"id\"}' WHERE id = 1");
	add_message(f, 1, 1, "delivered");
	add_message(f, 1, 2, "delivered");

	struct store_page_info pi;
	if (store_page_info(f->s, 1, 1, &pi) != 0)
		fail_msg("page info: %s", store_errmsg(f->s));
	assert_string_equal(pi.email, "one@example.com");
	assert_string_equal(pi.language, "id");
	assert_string_equal(pi.list, "news");
	expect_int("page: member", pi.member, STORE_MEMBER_CONFIRMED);
	expect_int("page: confirm", pi.confirm, 0);
	assert_string_equal(pi.suppressed, "");
	expect_int("page: no such contact", store_page_info(f->s, 1, 99, &pi), STORE_E_NOTFOUND);

	struct store_serve_event e = unsub(1, 1, TS0);
	e.scope = STORE_SERVE_SCOPE_LIST;
	e.reason = "too \"many\" emails";
	apply1(f, &e);
	expect_int("list: changed", e.changed, 1);
	e = unsub(1, 2, TS0);
	e.scope = STORE_SERVE_SCOPE_ALL;
	apply1(f, &e);
	static const struct check after[] = {
	    {"one left the list", "SELECT group_concat(contact_id) FROM list_members", "2"},
	    {"two suppressed", "SELECT value FROM suppressions", "two@example.com"},
	    {"details",
	     "SELECT group_concat(detail, ' ') FROM (SELECT detail FROM events ORDER BY id)",
	     "{\"scope\":\"list\",\"reason\":\"too \\\"many\\\" emails\"} {\"scope\":\"all\"}"},
	};
	CHECK_ALL(f->db, "unsubscribed", after);
	if (store_page_info(f->s, 1, 1, &pi) != 0)
		fail_msg("page info: %s", store_errmsg(f->s));
	expect_int("page: left", pi.member, STORE_MEMBER_NONE);
	if (store_page_info(f->s, 1, 2, &pi) != 0)
		fail_msg("page info: %s", store_errmsg(f->s));
	assert_string_equal(pi.suppressed, "unsubscribe");

	e = (struct store_serve_event){.type = STORE_SERVE_RESUBSCRIBE,
	                               .campaign_id = 1,
	                               .contact_id = 1,
	                               .ts = TS0 + 1,
	                               .scope = STORE_SERVE_SCOPE_LIST};
	apply1(f, &e);
	expect_int("resubscribe list: changed", e.changed, 1);
	expect_int("back on the list", query_int(f->db, "SELECT count(*) FROM list_members"), 2);

	/* The confirmation campaign: list scope whatever is asked, no resubscribe. */
	e = unsub(2, 1, TS0 + 2);
	e.scope = STORE_SERVE_SCOPE_ALL;
	apply1(f, &e);
	expect_int("confirm unsubscribe: changed", e.changed, 1);
	expect_int("confirm unsubscribe: no suppression",
	           query_int(f->db, "SELECT count(*) FROM suppressions WHERE value LIKE 'one@%%'"),
	           0);
	e = (struct store_serve_event){
	    .type = STORE_SERVE_RESUBSCRIBE, .campaign_id = 2, .contact_id = 1, .ts = TS0 + 3};
	apply1(f, &e);
	expect_int("confirm resubscribe: refused", e.result, STORE_E_NOTFOUND);
	expect_int("still off the list",
	           query_int(f->db, "SELECT count(*) FROM list_members WHERE contact_id = 1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fold_contact_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fold_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fold_mark, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fold_list_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fold_drops_queued, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_serve_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fold_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unconfirmed_not_mailed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsubscribe_scope, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
