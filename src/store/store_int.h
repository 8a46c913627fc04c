/*
 * store_int - what the store's own files share (src/store/ only).
 *
 * store.c owns the connection and its statement cache; every other file in
 * src/store/ (one per entity or feature area) keeps its SQL in static strings
 * next to the code that runs it, gets the prepared statement from
 * store_prepare, and reports failures through store_fail, so every SQL
 * string lives in the store layer and SQLite's and libpq's APIs stay inside it.
 *
 * Statements on the store's connection go through store_prepare. The only
 * ones prepared otherwise are those that must not be kept: PRAGMAs and
 * migrations (store.c, run once through sqlite3_exec), statements on other
 * connections (the serve journal's and its checkpoint connections in
 * store_serve.c, the read-only journal reader in store_sender.c), and
 * store_serve.c's own set on the store's connection, compiled while CHECK
 * constraints are off and finalized with that state (store_serve_free).
 *
 * The SQL keeps to what SQLite and PostgreSQL share (ON CONFLICT DO NOTHING,
 * ON CONFLICT (...) DO UPDATE, RETURNING; no INSERT OR IGNORE/REPLACE); what
 * stays SQLite's own (json_*, instr, group_concat, CROSS JOIN as an order
 * hint) is what a second backend rewrites behind the same functions.
 */
#ifndef KIRIM_STORE_INT_H
#define KIRIM_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "db.h"

struct store;
struct store_contact;

/*
 * Two backends (db.h). A file on the statement layer gets its statements from store_stmt
 * (or store_stmt_pg, with PostgreSQL's own SQL beside SQLite's) and runs them with db_*;
 * its functions then work on SQLite and PostgreSQL alike. A file not moved yet gets
 * SQLite's from store_prepare and store_db, which refuse on PostgreSQL ("not on PostgreSQL yet"
 * as the message). Moved: store.c's own, store_list.c, store_suppress.c, store_policy.c,
 * store_dest.c, store_tls.c, store_template.c, store_api.c, store_user.c, store_webhook.c,
 * store_segment.c (but attribute indexes), store_contact.c (but store_contact_delete),
 * store_import.c, store_audience.c, store_campaign.c, store_lifecycle.c, store_plan.c (but
 * store_plan_suppress_domain), store_run.c, store_signup.c's store_consent_each.
 * The helpers below take either kind of statement (C11 _Generic), so that a file moves
 * by renaming its calls and keeps its SQL.
 */

/* store_db - SQLite's connection (NULL on PostgreSQL) */
sqlite3 *store_db(struct store *s);
/* store_conn - the connection, either backend */
struct db *store_conn(struct store *s);
/* store_fail - record SQLite's last error for what; STORE_E_BUSY or STORE_E_SQL */
int store_fail(struct store *s, const char *what);
/* store_errf - set store_errmsg to a sentence of the store's own; returns code */
int store_errf(struct store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * store_prepare - sql prepared once on s and kept until store_close, reset
 * and with no bindings; NULL with store_errmsg set when it does not prepare.
 * The key is the string's address: pass a static array (static const char
 * x[] = "..."), never a string built at run time. A statement still being
 * stepped must not be asked for again before it is done with (this resets
 * it): a walk's callback must not re-enter the function that walks.
 */
sqlite3_stmt *store_prepare(struct store *s, const char *sql);
/* store_stmt - the same, on the statement layer (either backend; same key rule) */
struct db_stmt *store_stmt(struct store *s, const char *sql);
/* store_stmt_pg - the same with PostgreSQL's own SQL (also a static string): for what
 * the two write differently */
struct db_stmt *store_stmt_pg(struct store *s, const char *sql, const char *pg_sql);

#define STORE_EITHER(st, lite, db) _Generic((st), sqlite3_stmt * : lite, struct db_stmt * : db)

/* store_step_done - step st (no rows wanted) and reset it; 0 or an error about what */
int store_step_done_lite(struct store *s, sqlite3_stmt *st, const char *what);
int store_step_done_db(struct store *s, struct db_stmt *st, const char *what);
#define store_step_done(s, st, what)                                                               \
	STORE_EITHER(st, store_step_done_lite, store_step_done_db)(s, st, what)
/*
 * store_insert_id - run st, an INSERT that makes one row or none (ON CONFLICT DO NOTHING),
 * and reset it: *made whether it made one, and then *id its id. On PostgreSQL its SQL says
 * RETURNING id (lastval() would be another table's when a trigger inserts too).
 */
int store_insert_id(struct store *s, struct db_stmt *st, const char *what, int64_t *id, bool *made);
/* PG_INSERT_NEW - PostgreSQL's INSERT of VALUES into TABLE(COLUMNS) unless a row has KEY
 * already (SQL of a parameter): ON CONFLICT alone takes an identity's next value before it
 * finds the row there, so ids would skip where SQLite's do not. */
#define PG_INSERT_NEW(TABLE, COLUMNS, VALUES, KEY)                                                 \
	"INSERT INTO " TABLE "(" COLUMNS ") SELECT " VALUES                                        \
	" WHERE NOT EXISTS (SELECT 1 FROM " TABLE " WHERE " KEY                                    \
	") ON CONFLICT DO NOTHING RETURNING id"
/*
 * store_get_one - step st once and reset it; *out (size bytes; 0 for a buffer the
 * caller reuses) is zeroed, then on a row filled by fill(st, out), so a caller
 * may clear it whatever came back.
 * No row is STORE_E_NOTFOUND, whose message the caller writes (only then: some
 * callers are on hot paths); a failure says what it was doing.
 */
int store_get_one_lite(struct store *s, sqlite3_stmt *st, void (*fill)(sqlite3_stmt *, void *),
                       void *out, size_t size, const char *doing);
int store_get_one_db(struct store *s, struct db_stmt *st, void (*fill)(struct db_stmt *, void *),
                     void *out, size_t size, const char *doing);
#define store_get_one(s, st, fill, out, size, doing)                                               \
	STORE_EITHER(st, store_get_one_lite, store_get_one_db)(s, st, fill, out, size, doing)
/* store_find_id - the id sql (one parameter, ?1 = key) finds: STORE_E_NOTFOUND when no
 * row, whose message the caller writes; a failure says what it was doing */
int store_find_id(struct store *s, const char *sql, const char *key, int64_t *id,
                  const char *doing);
/* store_get_int64 - step st once and reset it; its first column into *out (0 when no row) */
int store_get_int64_lite(struct store *s, sqlite3_stmt *st, int64_t *out, const char *doing);
int store_get_int64_db(struct store *s, struct db_stmt *st, int64_t *out, const char *doing);
#define store_get_int64(s, st, out, doing)                                                         \
	STORE_EITHER(st, store_get_int64_lite, store_get_int64_db)(s, st, out, doing)
/*
 * Report rollups (store_rollup.c, schema/018_rollups.sql): every writer of messages and
 * events keeps them in its own transaction. The sender's results are summed in C
 * (store_rollup_result into store_rollups(s)) and written by store_commit; a writer
 * that changes messages names them in temp.rollup_ids (store_rollup_name, or an INSERT
 * of its own with the WHERE of its UPDATE), calls store_rollup_out, changes them, and
 * calls store_rollup_in (which empties the names); one that adds events takes
 * store_rollup_mark before and calls store_rollup_events_since before it commits.
 */
struct store_rollup;
struct store_result;
/*
 * A message's place in a report, over messages m LEFT JOIN contacts c ON c.id =
 * m.contact_id: what the rollups store (store_rollup.c) and a recount (store_report.c)
 * group by. Its recipient's domain: the contact's, else
 * that of the address a deleted contact's message keeps, else '(erased)'.
 */
#define REPORT_DOMAIN_OF_M                                                                         \
	"coalesce(c.domain, lower(substr(m.email, instr(m.email, '@') + 1)), '(erased)')"
/* Its destination: the last attempt's, else the host it reached, else ''. */
#define REPORT_DEST_OF_M "coalesce(m.dest, m.host, '')"

/* The table of names, made on open and again after a change of PRAGMA temp_store (which
 * drops the temporary tables). */
#define STORE_ROLLUP_TEMP "CREATE TEMP TABLE IF NOT EXISTS rollup_ids (id INTEGER PRIMARY KEY)"

/* store_rollups - the open transaction's sums (owned by the store) */
struct store_rollup *store_rollups(struct store *s);
/* store_rollup_new - empty sums; store_rollup_free - free them (NULL: no-op) */
struct store_rollup *store_rollup_new(void);
void store_rollup_free(struct store_rollup *ru);
/* store_rollup_drop - forget the sums (a rollback) */
void store_rollup_drop(struct store_rollup *ru);
/* store_rollup_result - one result of store_message_result (its event's id, or 0) into ru */
void store_rollup_result(struct store_rollup *ru, const struct store_result *r, int64_t now,
                         int64_t event_id);
/* store_rollup_flush - the sums written, one statement per group, and forgotten */
int store_rollup_flush(struct store *s, struct store_rollup *ru);
/* store_rollup_name - message_id into temp.rollup_ids */
int store_rollup_name(struct store *s, int64_t message_id);
/* store_rollup_out - the named messages taken out of the rollups, as they are now */
int store_rollup_out(struct store *s);
/* store_rollup_in - the named messages put in, as they are now; the names emptied */
int store_rollup_in(struct store *s);
/* store_rollup_events_out - every event of the named messages taken out */
int store_rollup_events_out(struct store *s);
/* store_rollup_events_in - put back in (after their texts and details changed) */
int store_rollup_events_in(struct store *s);
/* store_rollup_mark - the id the next event will have */
int store_rollup_mark(struct store *s, int64_t *next_id);
/* store_rollup_events_since - the events from first_id on, counted in */
int store_rollup_events_since(struct store *s, int64_t first_id);
/* store_rollup_rebuild - the campaign's rollups counted again from its messages and events */
int store_rollup_rebuild(struct store *s, int64_t campaign_id);

/* store_now - the current Unix time, as every table stores it */
int64_t store_now(void);

/* store_bind_opt_text - v (SQLITE_STATIC) at parameter i, or NULL when v is NULL or "" */
void store_bind_opt_text_lite(sqlite3_stmt *st, int i, const char *v);
void store_bind_opt_text_db(struct db_stmt *st, int i, const char *v);
#define store_bind_opt_text(st, i, v)                                                              \
	STORE_EITHER(st, store_bind_opt_text_lite, store_bind_opt_text_db)(st, i, v)
/* store_col_text - column col as text, "" for NULL (valid until the next step or reset) */
const char *store_col_text_lite(sqlite3_stmt *st, int col);
const char *store_col_text_db(struct db_stmt *st, int col);
#define store_col_text(st, col) STORE_EITHER(st, store_col_text_lite, store_col_text_db)(st, col)
/* store_tls_used - whether a delivery's TLS text (messages.tls, events.tls) says it went
 * over TLS: not NULL, empty or "none" (the reports and their rollups alike) */
bool store_tls_used(const char *t);
/* store_copy_text - column col into dst (dstsz bytes, truncated), "" for NULL */
void store_copy_text_lite(char *dst, size_t dstsz, sqlite3_stmt *st, int col);
void store_copy_text_db(char *dst, size_t dstsz, struct db_stmt *st, int col);
#define store_copy_text(dst, dstsz, st, col)                                                       \
	STORE_EITHER(st, store_copy_text_lite, store_copy_text_db)(dst, dstsz, st, col)
/* store_dup_text - column col as a new string (free it), NULL for NULL */
char *store_dup_text_lite(sqlite3_stmt *st, int col);
char *store_dup_text_db(struct db_stmt *st, int col);
#define store_dup_text(st, col) STORE_EITHER(st, store_dup_text_lite, store_dup_text_db)(st, col)

/*
 * With a send window, contact c is sent to in its own zone (sender_batch.c): it has a
 * "timezone" attribute. What the report's own_zone counts: kept in report_campaigns as
 * each message is made (store_messages_walk), counted again by --recount and --rebuild.
 */
#define OWN_ZONE_OF_C                                                                              \
	"json_valid(c.attrs) AND coalesce(json_extract(c.attrs, '$.timezone'), '') <> ''"
/* How many of the messages WHERE picks (in campaign ?1) have a contact in its own zone, into
 * campaign ?1's rollup row, whose own_zone becomes SET (excluded.own_zone: that count;
 * own_zone + excluded.own_zone: added to it). */
#define OWN_ZONE_ROLLUP(WHERE, SET)                                                                \
	"INSERT INTO report_campaigns(campaign_id, own_zone) SELECT ?1, count(*) FROM messages m"  \
	" JOIN contacts c ON c.id = m.contact_id WHERE " WHERE " AND " OWN_ZONE_OF_C               \
	" ON CONFLICT(campaign_id) DO UPDATE SET own_zone = " SET

/* Suppression status of a contact c (columns c.email, c.domain), as a reason or NULL. */
/*
 * The suppressions values that name contact c: its address, its domain, and
 * the SHA-256 of its address when any address has been erased (the hash is
 * made only then: an uncorrelated EXISTS runs once per statement).
 */
#define SUPPRESSION_KEYS_OF_C                                                                      \
	"(lower(c.email), c.domain, CASE WHEN EXISTS (SELECT 1 FROM suppressions"                  \
	" WHERE kind = 'hash') THEN kirim_sha256(lower(c.email)) END)"
/*
 * SUPPRESSION_OF_C: the first of them by kind (address, domain, hash), looked up one
 * key after the other (an address's value holds an '@', a domain's does not, a hash
 * is 64 hex digits), not as value IN SUPPRESSION_KEYS_OF_C ORDER BY kind, which built two
 * temporary tables for every contact.
 */
#define SUPPRESSION_OF_C_BY(KEY)                                                                   \
	"(SELECT reason FROM suppressions WHERE value = " KEY " ORDER BY kind LIMIT 1)"
#define SUPPRESSION_OF_C                                                                           \
	"coalesce(" SUPPRESSION_OF_C_BY("lower(c.email)") ", " SUPPRESSION_OF_C_BY(                \
	    "c.domain") ", " SUPPRESSION_OF_C_BY("CASE WHEN EXISTS (SELECT 1 FROM suppressions"    \
	                                         " WHERE kind = 'hash') THEN"                      \
	                                         " kirim_sha256(lower(c.email)) END") ")"
/*
 * SUPPRESSION_OF_C in PostgreSQL's words: the address lower-cased as SQLite's lower() does
 * (ASCII only, under COLLATE "C"; email is citext there), its SHA-256 as
 * store_suppress_hash writes it (PostgreSQL has no kirim_sha256).
 */
#define PG_KEY_OF_C "lower(c.email::text COLLATE \"C\")"
#define PG_SHA256(X) "encode(sha256(convert_to(" X ", 'UTF8')), 'hex')"
#define SUPPRESSION_KEYS_OF_C_PG                                                                   \
	"(" PG_KEY_OF_C ", c.domain, CASE WHEN EXISTS (SELECT 1 FROM suppressions"                 \
	" WHERE kind = 'hash') THEN " PG_SHA256(PG_KEY_OF_C) " END)"
#define SUPPRESSION_OF_C_PG                                                                        \
	"coalesce(" SUPPRESSION_OF_C_BY(PG_KEY_OF_C) ", " SUPPRESSION_OF_C_BY(                     \
	    "c.domain") ", " SUPPRESSION_OF_C_BY("CASE WHEN EXISTS (SELECT 1 FROM suppressions"    \
	                                         " WHERE kind = 'hash') THEN " PG_SHA256(          \
	                                             PG_KEY_OF_C) " END") ")"
/* The same for the contact of the row of messages being updated: what a message made
 * suppressed keeps as its reason (messages.reason, schema/019_message_domain.sql). */
#define SUPPRESSION_OF_MESSAGE                                                                     \
	"(SELECT " SUPPRESSION_OF_C " FROM contacts c WHERE c.id = messages.contact_id)"

/*
 * The suppression that stops campaign CAMPAIGN (SQL of its id) from mailing contact c,
 * as a reason or NULL: SUPPRESSION_OF_C, except that a list's confirmation request
 * still goes to an address suppressed by its own unsubscribe (reason 'unsubscribe' from
 * a campaign's link: a person who signs up again asked for it, and confirming lifts it:
 * store_signup.c). A bounce, a complaint or an operator's suppression stops it too.
 * Looked up once by the address and once by the domain (an address suppression,
 * whose value holds an '@', first, as ORDER BY kind had it), not as value IN (address,
 * domain) ORDER BY kind: that built two temporary tables for every claimed message.
 */
#define SUPPRESSION_FOR_C_BY(KEY, CAMPAIGN)                                                        \
	"(SELECT p.reason FROM suppressions p WHERE p.value = " KEY                                \
	" AND NOT (p.kind = 'address' AND p.reason = 'unsubscribe' AND p.source LIKE"              \
	" 'campaign:%' AND (SELECT kind FROM campaigns WHERE id = " CAMPAIGN ") = 'confirm')"      \
	" ORDER BY p.kind LIMIT 1)"
#define SUPPRESSION_FOR_C(CAMPAIGN)                                                                \
	"coalesce(" SUPPRESSION_FOR_C_BY("lower(c.email)", CAMPAIGN) ", " SUPPRESSION_FOR_C_BY(    \
	    "c.domain", CAMPAIGN) ")"

/*
 * The member status a campaign mails (schema 009): its list's confirmed members, or,
 * for a list's confirmation campaign, its unconfirmed ones (the signups waiting for
 * their confirmation request). CAMPAIGN is the SQL of the campaign's id ("?1").
 */
#define MEMBER_STATUS_FOR(CAMPAIGN)                                                                \
	"(SELECT CASE kind WHEN 'confirm' THEN 'unconfirmed' ELSE 'confirmed' END"                 \
	" FROM campaigns WHERE id = " CAMPAIGN ")"

/*
 * A contact every list membership of which is unconfirmed: a signup that never
 * confirmed, which no regular campaign mails, whatever its audience (a segment over all
 * contacts included). C is the contact's id column. The first look-up is on the partial
 * index of unconfirmed members (schema 009), so for nearly every contact it costs one
 * seek; only a contact with an unconfirmed membership is then looked for on each list
 * (list_members has no index by contact alone: CROSS JOIN keeps the seeks by its key).
 */
#define UNCONFIRMED_ONLY(C)                                                                        \
	"EXISTS (SELECT 1 FROM list_members u WHERE u.contact_id = " C                             \
	" AND u.status = 'unconfirmed' AND NOT EXISTS (SELECT 1 FROM lists l CROSS JOIN"           \
	" list_members k WHERE k.list_id = l.id AND k.contact_id = " C                             \
	" AND k.status = 'confirmed'))"

/*
 * Who a campaign's audience may give messages to when they are made
 * (store_messages_walk): no one for a confirmation campaign (its messages are made by
 * the signups themselves), and no one unconfirmed for the others. CAMPAIGN as above.
 */
#define MAILED_BY_PREPARE(CAMPAIGN)                                                                \
	"(SELECT kind FROM campaigns WHERE id = " CAMPAIGN                                         \
	") = 'regular' AND NOT " UNCONFIRMED_ONLY("c.id")

/*
 * The columns store_contact_row reads, for contact c: id, email, domain, attrs,
 * created_at, updated_at, suppression reason; an eighth (the lists) follows.
 */
#define CONTACT_COLUMNS                                                                            \
	"c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at, " SUPPRESSION_OF_C
#define CONTACT_COLUMNS_PG                                                                         \
	"c.id, c.email, c.domain, c.attrs, c.created_at, c.updated_at, " SUPPRESSION_OF_C_PG
/* store_contact_row - a struct store_contact from a row of CONTACT_COLUMNS, lists */
void store_contact_row(struct db_stmt *st, void *out);

/*
 * PG_PATCH - SQLite's json_patch(TARGET, PATCH) on PostgreSQL (PATCH a parameter as
 * text): RFC 7396's merge, the target's keys in their order and new ones after, in the
 * patch's; written as SQLite writes it, without blanks (pg_temp.kirim_json_patch, made
 * at open with the segment functions).
 */
#define PG_PATCH(TARGET, PATCH) "pg_temp.kirim_json_patch(" TARGET ", CAST(" PATCH " AS json))"

/*
 * store_suppress_link - after contact_id is made: if its address was erased before (a
 * suppression of kind hash), that suppression names it (suppressions.contact_id, schema 017),
 * so that the list counts' triggers see it suppressed without computing a hash
 */
int store_suppress_link(struct store *s, int64_t contact_id);

struct segment_node;
struct segment_sql;
/* store_segment_functions - register kirim_number and kirim_time (segment.h) on db */
int store_segment_functions(sqlite3 *db);
/* store_segment_compile - tree as SQL at now, parameters after ?base, segment("x") read
 * from the segments table (probe and where: segment_sql's); STORE_E_INVALID (a loop, a
 * missing segment) or STORE_E_SQL */
int store_segment_compile(struct store *s, const struct segment_node *tree, int64_t now, int base,
                          bool probe, bool where, struct segment_sql *out);
/*
 * store_segment_stmt - head, q's SQL and tail prepared as one statement on the store's
 * connection with q's parameters bound (the caller binds ?1..?base and finalizes it:
 * a statement built at run time never enters the cache); NULL with store_errmsg set
 */
sqlite3_stmt *store_segment_stmt(struct store *s, const char *head, const struct segment_sql *q,
                                 const char *tail);
/* store_segment_prepare - the same on the statement layer (either backend): the caller
 * finalizes it with db_finalize */
struct db_stmt *store_segment_prepare(struct store *s, const char *head,
                                      const struct segment_sql *q, const char *tail);
/* store_segment_functions_pg - kirim_number and kirim_time as the session's own functions
 * (pg_temp) on a PostgreSQL connection, which the compiled SQL calls there */
int store_segment_functions_pg(struct store *s);
/* store_audience_compile - the campaign's audience as SQL at now (parameters after ?base;
 * probe: see struct segment_sql) */
int store_audience_compile(struct store *s, int64_t campaign_id, int64_t now, int base, bool probe,
                           struct segment_sql *out);

#endif
