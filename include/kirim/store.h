/*
 * store - kirim's SQLite database: the only module that speaks SQL.
 *
 * Owns the connection, applies the embedded schema/NNN_*.sql migrations on open
 * (tracked by PRAGMA user_version, each in its own transaction), keeps every
 * statement prepared once and reused, and translates SQLite errors into
 * negative codes with a sentence in store_errmsg(). WAL, foreign keys and a
 * busy timeout are always on, so the CLI can read while a sender writes.
 * Not thread-safe: one store per thread. Does not log.
 *
 * With the store_*.h of the feature areas, this is the interface a second
 * backend (PostgreSQL) implements: no SQLite type or SQL string crosses it.
 * The SQLite implementation is src/store/ (store.c and a file per entity).
 */
#ifndef KIRIM_STORE_H
#define KIRIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/disposition.h"

struct address;
struct buf;

/* One embedded migration (generated from schema/ by tools/embed-schema.py). */
struct store_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct store_migration store_migrations[];
extern const int store_migrations_count;

/* Error codes (negative). */
#define STORE_E_SQL (-1)      /* SQLite failed; see store_errmsg */
#define STORE_E_NOTFOUND (-2) /* the named thing does not exist */
#define STORE_E_NEWER (-3)    /* the database's schema is newer than this binary */
#define STORE_E_NODB (-4)     /* no database file and STORE_CREATE not given */
#define STORE_E_BUSY (-5)     /* locked by another process past the busy timeout */
#define STORE_E_EXISTS (-6)   /* already there */
#define STORE_E_INUSE (-7)    /* still used by something that must stay (a campaign's list) */
#define STORE_E_INVALID (-8)  /* a segment refers to a missing segment, or to itself */

/* Flags for store_open. */
#define STORE_CREATE (1u << 0) /* create the file if it does not exist */

struct store;

/* store_open - open (and migrate) the database at path, a SQLite file or a postgresql:// URL
 * (docs/postgresql.md: what runs there); *err gets the reason on failure */
int store_open(const char *path, unsigned flags, struct store **out, char *err, size_t errsz);
/* store_close - finalize statements and close; NULL is a no-op */
void store_close(struct store *s);
/* store_errmsg - a sentence about the last failure */
const char *store_errmsg(const struct store *s);
/* store_made - whether this open made the schema (the database had none) */
bool store_made(const struct store *s);
/* store_schema_version - the schema version the database is at */
int store_schema_version(const struct store *s);
/* store_sqlite_version - the SQLite library's version string */
const char *store_sqlite_version(void);
/* store_path - the file the store was opened from */
const char *store_path(const struct store *s);

/* store_begin - BEGIN IMMEDIATE (takes the write lock now, waiting up to the busy timeout) */
int store_begin(struct store *s);
/* store_commit - COMMIT */
int store_commit(struct store *s);
/* store_rollback - ROLLBACK (safe to call when no transaction is open) */
int store_rollback(struct store *s);
/*
 * store_batch_begin - BEGIN IMMEDIATE for a batch of changes (the API's
 * writes, several requests in one commit). Until store_batch_end, the
 * transaction calls above work on savepoints inside it: store_begin opens
 * one, store_commit releases it, store_rollback undoes only it (and does
 * nothing when none is open, never the batch), so each change made through
 * a function that takes its own transaction can be kept or undone alone.
 */
int store_batch_begin(struct store *s);
/* store_batch_end - COMMIT the batch (commit) or ROLLBACK it; savepoints left open go with it */
int store_batch_end(struct store *s, bool commit);
/*
 * store_bulk - enter (on) or leave bulk-load mode, outside a transaction: a
 * 32 MiB page cache, and foreign-key checks off because the bulk loaders
 * (store_import_row) only write ids they have just read or created; triggers
 * off, because the list counts' (schema 017) cost about 1.7 µs a member even
 * when they do nothing: the importer adds its members' counts itself
 * (store_import_counted). Nothing else is written in bulk mode.
 */
void store_bulk(struct store *s, bool on);
/*
 * store_durable - synchronous=FULL (on) or NORMAL: with FULL every COMMIT is
 * on disk before it returns, so an outcome a sender has recorded (and may
 * have reported) survives a power loss; NORMAL may lose the last commits.
 */
void store_durable(struct store *s, bool on);
/*
 * store_temp_memory - keep SQLite's temporary files in memory (on: PRAGMA temp_store =
 * MEMORY) or let them spill to files (off). A sender's outcome INSERT into events
 * fires the webhook trigger, so SQLite keeps a statement journal of every page it
 * changes; with 16 KiB pages it spills to a file after four, and then every event
 * written costs a 16 KiB write() or two. Temporary tables and SQLite's own
 * temporary b-trees then stay in memory too, unbounded by the page cache: for
 * small, short statements (a sender's), not for reports.
 */
void store_temp_memory(struct store *s, bool on);

/* Lists. */
struct store_list_info {
	int64_t id;
	char name[256];
	int64_t created_at;
	int64_t members;    /* -1 when not counted (store_list_page without counts) */
	int64_t suppressed; /* members whose address or domain is suppressed; -1: not counted */
};
typedef int (*store_list_cb)(void *arg, const struct store_list_info *info);

/* store_list_ensure - the id of the list called name, creating it if needed (*created set) */
int store_list_ensure(struct store *s, const char *name, int64_t *id, bool *created);
/* store_list_get - the list called name (STORE_E_NOTFOUND if none) */
int store_list_get(struct store *s, const char *name, struct store_list_info *out);
/* store_list_id - only the id of the list called name (STORE_E_NOTFOUND, with
 * store_list_get's message, if none) */
int store_list_id(struct store *s, const char *name, int64_t *id);
/* store_list_each - every list with member counts, by name */
int store_list_each(struct store *s, store_list_cb cb, void *arg);
/* store_list_page - at most limit lists named after after ("" or NULL: from the first), by
 * name; with counts false their members are not counted (members and suppressed -1) */
int store_list_page(struct store *s, const char *after, int limit, bool counts, store_list_cb cb,
                    void *arg);
/* A list's count per domain as kept (list_domain_counts, schema 017) and as counted again. */
struct store_list_count_diff {
	char list[256];
	char domain[256];
	int64_t kept_members, kept_suppressed;
	int64_t members, suppressed;
};
typedef void (*store_list_check_cb)(void *arg, const struct store_list_count_diff *d);
/*
 * store_list_check - count every list's confirmed members and suppressed ones per domain
 * again (a scan of every membership) and compare with the counts the triggers keep; each
 * difference to cb (may be NULL), *wrong their number. fix: in one transaction, the counts
 * are replaced by the new count (and erased addresses linked again to their contacts).
 */
int store_list_check(struct store *s, bool fix, store_list_check_cb cb, void *arg, int64_t *wrong);
/* store_list_delete - delete a list and its memberships (contacts stay); STORE_E_INUSE while a
 * campaign's audience names it */
int store_list_delete(struct store *s, const char *name);

/* Import: a run records itself in the imports table; rows go through store_import_row. */
#define STORE_ROW_NEW_CONTACT (1u << 0) /* the contact did not exist before */
#define STORE_ROW_NEW_MEMBER (1u << 1)  /* the contact was added to the list */
#define STORE_ROW_UPDATED (1u << 2)     /* an existing contact's attributes changed */
#define STORE_ROW_DUPLICATE (1u << 3)   /* the same address came earlier in this run */
#define STORE_ROW_SUPPRESSED (1u << 4)  /* the address or its domain is suppressed */

/* store_import_start - record a new import run into list_id; sets *import_id */
int store_import_start(struct store *s, int64_t list_id, const char *source, int64_t *import_id);
/*
 * store_import_row - add one checked address with its attributes (a JSON
 * object, possibly "{}") to the run's list; with update, merge the attributes
 * into an existing contact. *flags gets STORE_ROW_* bits.
 */
int store_import_row(struct store *s, int64_t list_id, int64_t import_id, const struct address *a,
                     const char *attrs, size_t attrs_len, bool update, unsigned *flags,
                     int64_t *contact_id);
/*
 * store_import_counted - add an import's new (confirmed) members at domain, and how many
 * of them are suppressed, to the list's kept counts (schema 017). In bulk mode the
 * store's triggers are off, and a member row with an import_id is never counted by them:
 * the importer counts its rows and calls this per domain before store_import_finish.
 */
int store_import_counted(struct store *s, int64_t list_id, const char *domain, int64_t members,
                         int64_t suppressed);
/* store_import_finish - store the run's summary (JSON) and end time */
int store_import_finish(struct store *s, int64_t import_id, const char *summary_json);

/* Contacts. */
struct store_contact {
	int64_t id;
	char email[256];
	char domain[256];
	char *attrs; /* JSON, owned by the struct: free with store_contact_clear */
	int64_t created_at;
	int64_t updated_at;
	char suppressed[16]; /* "" or the suppression reason */
	char lists[1024];    /* comma-separated list names */
};
typedef int (*store_contact_cb)(void *arg, const struct store_contact *c);

/* store_contact_get - the contact with this address (compared case-insensitively) */
int store_contact_get(struct store *s, const char *key, struct store_contact *out);
/* store_contact_get_id - the contact with this id */
int store_contact_get_id(struct store *s, int64_t id, struct store_contact *out);
/* store_contact_clear - free what store_contact_get allocated */
void store_contact_clear(struct store_contact *c);
/*
 * store_contact_search - contacts whose address contains term (case-insensitive),
 * optionally only members of list (NULL: all), at most limit of them, by address.
 */
int store_contact_search(struct store *s, const char *term, const char *list, int limit,
                         store_contact_cb cb, void *arg);
/*
 * store_contact_page - at most limit contacts whose address starts with
 * prefix (compared case-insensitively; NULL or "": all), members of list
 * (NULL: any; STORE_E_NOTFOUND when there is no such list), with addresses
 * after after ("" or NULL: from the first), by address: keyset pages that
 * neither repeat nor skip a contact while others are added. No lists.
 */
int store_contact_page(struct store *s, const char *prefix, const char *list, const char *after,
                       int limit, store_contact_cb cb, void *arg);
/*
 * store_contact_upsert - add the contact a with attributes attrs (a JSON
 * object; NULL: none), or change the one with its address: attrs merged
 * into its attributes as a JSON merge patch (RFC 7396: null removes a key),
 * or with replace put in their place. Sets *id, *created, *changed (the
 * attributes are not what they were). An erased address is the caller's to
 * refuse first, in the same transaction (store_erased), as kirim contacts add
 * and imports do: a contact made here is not linked to an erasure's hash.
 */
int store_contact_upsert(struct store *s, const struct address *a, const char *attrs, bool replace,
                         int64_t *id, bool *created, bool *changed);
/*
 * store_contact_delete - contact id leaves (docs/contacts.md): its attributes,
 * tags, memberships and consent records go with its row; its queued messages
 * are cancelled (*cancelled) and every message of it (*messages) stays for the
 * campaigns' counts and reports, with the address in messages.email. With
 * erase, the messages and their events keep no address or text that may name
 * the person (the replies' texts), the address's own suppressions and the API
 * audit rows naming it go, and the address is kept only as its hash
 * (store_suppress_hash) with reason 'erased'. STORE_E_INUSE while a message
 * of it is claimed. Inside the caller's transaction.
 */
int store_contact_delete(struct store *s, int64_t id, bool erase, int64_t *messages,
                         int64_t *cancelled);

/* Suppressions. */
struct store_suppression {
	int64_t id;
	char kind[8];    /* "address" or "domain" */
	char value[256]; /* lower-cased address, or A-label domain */
	char reason[16];
	char source[256];
	int64_t created_at;
};
typedef int (*store_suppression_cb)(void *arg, const struct store_suppression *sup);

/* store_suppress_add - suppress an address or domain; STORE_E_EXISTS if it already is */
int store_suppress_add(struct store *s, const char *kind, const char *value, const char *reason,
                       const char *source);
/* store_suppress_remove - lift a suppression; STORE_E_NOTFOUND if there was none */
int store_suppress_remove(struct store *s, const char *kind, const char *value);
/* store_suppress_each - every suppression, newest first, at most limit (0: all), of reason (NULL:
 * any) */
int store_suppress_each(struct store *s, const char *reason, int limit, store_suppression_cb cb,
                        void *arg);
/*
 * store_suppress_page - at most limit suppressions of reason (NULL: any) with
 * ids below before (0: from the newest), newest first: keyset pages
 */
int store_suppress_page(struct store *s, const char *reason, int64_t before, int limit,
                        store_suppression_cb cb, void *arg);
/* store_suppress_hash - the value of an erased address's suppression: the SHA-256 of key (the
 * lower-cased address) in lower-case hex */
void store_suppress_hash(const char *key, char hex[65]);
/* store_erased - whether key (the lower-cased address) was erased (its hash is suppressed) */
int store_erased(struct store *s, const char *key, bool *erased);
/* store_suppress_count - how many suppressions there are */
int store_suppress_count(struct store *s, int64_t *count);
/*
 * store_suppressed - whether key (lower-cased address) or domain is suppressed;
 * reason (16 bytes) gets the reason or "" when not.
 */
int store_suppressed(struct store *s, const char *key, const char *domain, char reason[16]);

/* Templates: versioned; adding under an existing name makes the next version. */
struct store_template {
	int64_t id;
	char name[128];
	int version;
	int versions;  /* how many versions the name has (store_template_each only) */
	char *subject; /* owned: free with store_template_clear */
	char *text;    /* NULL when the template has no text part */
	char *html;    /* NULL when the template has no HTML part */
	int64_t created_at;
};
typedef int (*store_template_cb)(void *arg, const struct store_template *t);

/* store_template_add - store a new version of name; sets *version and *id */
int store_template_add(struct store *s, const char *name, const char *subject, const char *text,
                       const char *html, int *version, int64_t *id);
/* store_template_get - version of name (0: the latest); STORE_E_NOTFOUND if none */
int store_template_get(struct store *s, const char *name, int version, struct store_template *out);
/* store_template_get_id - the template with this id */
int store_template_get_id(struct store *s, int64_t id, struct store_template *out);
/* store_template_each - the latest version of every template, by name */
int store_template_each(struct store *s, store_template_cb cb, void *arg);
/* store_template_clear - free what a get allocated */
void store_template_clear(struct store_template *t);

/* Campaigns. */
struct store_campaign {
	int64_t id;
	char name[128];
	int64_t list_id; /* its audience's first list, 0 if none (store_audience.h has it all) */
	char list[256];  /* that list's name, or "" */
	int64_t template_id;
	char template_name[128];
	int template_version;
	char from_name[256];
	char from_addr[256];
	char reply_to[256];
	char *headers; /* JSON array of [name, value]; owned (store_campaign_clear) */
	char state[16];
	int64_t created_at;
	char *options;          /* JSON object (track_opens, track_clicks, links, ...); owned */
	char state_reason[256]; /* why it is paused, or "" */
};
typedef int (*store_campaign_cb)(void *arg, const struct store_campaign *c);

/* store_campaign_create - a draft campaign from c's name, ids, sender and headers; sets c->id */
int store_campaign_create(struct store *s, struct store_campaign *c);
/* store_campaign_get - the campaign called name */
int store_campaign_get(struct store *s, const char *name, struct store_campaign *out);
/* store_campaign_get_id - the campaign with this id */
int store_campaign_get_id(struct store *s, int64_t id, struct store_campaign *out);
/* store_campaign_each - every campaign, newest first */
int store_campaign_each(struct store *s, store_campaign_cb cb, void *arg);
/* store_campaign_clear - free what a get allocated */
void store_campaign_clear(struct store_campaign *c);

/* store_list_member - the contact with this address if it is a member of list_id */
int store_list_member(struct store *s, int64_t list_id, const char *key, struct store_contact *out);
/* store_list_add_member - make contact_id a member of list_id (*added: it was not; may be NULL) */
int store_list_add_member(struct store *s, int64_t list_id, int64_t contact_id, bool *added);
/* store_list_has_field - does any member of list_id have a non-empty attribute called field? */
int store_list_has_field(struct store *s, int64_t list_id, const char *field, bool *has);
/* store_setting_get - a setting's bytes into out (cap bytes); sets *len */
int store_setting_get(struct store *s, const char *key, void *out, size_t cap, size_t *len);

/* Messages: one per campaign × recipient. */
struct store_claimed {
	int64_t message_id;
	int64_t contact_id;
	const char *email; /* borrowed for the callback */
	const char *attrs;
	const char *domain; /* lower-case A-label */
	int attempts;
	int64_t queued_at; /* when the message was queued: its age counts from here */
};
typedef int (*store_claim_cb)(void *arg, const struct store_claimed *m);

/*
 * One fact's disposition (disposition.h) with the fact, written by
 * store_message_result. The store writes the enums by their names
 * (disposition_state_name, smtp_stage_name, bounce_reason_name...).
 */
struct store_result {
	int64_t message_id;
	/* The sender whose claim this is (store_messages_claim's owner): the outcome is
	 * written only while the message is still claimed by it (a sender that stalled past
	 * its lease has had its claims taken by another: docs/scale-out.md); 0: not checked. */
	int64_t owner;
	/* The message as claimed, for the report rollups (store_rollup.c): its campaign,
	 * its recipient's domain (the contact's), its attempts before this one, when it
	 * was queued. */
	int64_t campaign_id;
	const char *domain;
	int attempts;
	int64_t queued_at;
	enum disp_state state;   /* the new state (never DISP_KEEP) */
	enum disp_event event;   /* the event row's type, when count_attempt */
	bool count_attempt;      /* an attempt and its event row (not for a hand-back) */
	int64_t next_attempt_at; /* for DISP_QUEUED */
	bool has_stage;          /* false: never on the wire, no stage is recorded */
	enum smtp_stage stage;
	int code;
	const char *ecode;
	const char *text;
	const char *host;
	const char *tls;
	const char *dest;          /* destination: "relay" or the MX host set */
	const char *source;        /* the source address bound (an [egress] source), or NULL */
	const char *helo;          /* the EHLO name the session gave, or NULL */
	enum bounce_reason reason; /* a failure's reason; BOUNCE_UNDEFINED: none recorded */
	enum bounce_class cls;     /* hard or soft; BOUNCE_NONE: none recorded */
};

struct store_campaign_counts {
	int64_t total, queued, deferred, claimed, delivered, bounced, failed, suppressed, cancelled;
	int64_t next_due; /* earliest next_attempt_at of a queued message, 0 if none */
	/* The walk that makes its messages (store_messages_walk), when unfinished: contact
	 * ids up to walk_cursor are made, up to walk_upto are left; both 0 when none. */
	int64_t walk_cursor, walk_upto;
};

/*
 * A campaign's messages are made by a walk of its audience by contact id (campaigns
 * .queue_upto, .queue_cursor): a start of a send takes the highest contact id there is
 * as the walk's end (store_messages_walk_start), then the sender makes the messages a
 * range of ids at a time (store_messages_walk), each range with the cursor in the
 * caller's transaction. Who joins the audience with an id the walk has passed, or above
 * its end, is mailed by the next start of a send after the walk ends; who leaves it
 * before the walk reaches them gets no message.
 *
 * store_messages_walk_start - the walk goes to the highest contact id there is now;
 * one that had ended starts again from the first id, one unfinished goes on
 */
int store_messages_walk_start(struct store *s, int64_t campaign_id);
/*
 * store_messages_walk - the messages of the next span contact ids of the walk (the
 * audience as it is now, once per contact; suppressed ones as 'suppressed'), and the
 * cursor moved past them; *created the new ones, *walking whether ids are left.
 * STORE_E_INVALID when the audience cannot be evaluated.
 */
int store_messages_walk(struct store *s, int64_t campaign_id, int64_t span, int64_t *created,
                        bool *walking);
/* store_messages_walk_state - where the walk is: *cursor, and *upto (0 when none is
 * unfinished; ids are left to walk while *upto > *cursor) */
int store_messages_walk_state(struct store *s, int64_t campaign_id, int64_t *cursor, int64_t *upto);
/*
 * store_messages_prepare - a whole walk at once: create the campaign's messages from
 * its audience as it is now; counts the new ones. list_id is not read (the audience
 * names the campaign's lists); STORE_E_INVALID when the audience cannot be evaluated.
 */
int store_messages_prepare(struct store *s, int64_t campaign_id, int64_t list_id, int64_t *created);
/*
 * store_messages_recover - claimed messages whose sender is gone (left by a
 * crash: no senders row, store_sender.h) go back to queued; a live sender's
 * claims stay. Call it holding the campaign (store_sender_hold).
 */
int store_messages_recover(struct store *s, int64_t campaign_id, int64_t *recovered);
/*
 * store_messages_claim - claim up to limit due messages for sender owner
 * (inside a transaction) and call cb for each one that may still be mailed;
 * one whose address or domain was suppressed, or whose contact left the
 * campaign's list, since it was queued is marked suppressed instead (with
 * the reason in last_text) and counted in *withdrawn
 */
int store_messages_claim(struct store *s, int64_t campaign_id, int64_t owner, int64_t now,
                         int limit, store_claim_cb cb, void *arg, int *withdrawn);
/* store_message_result - record one attempt (inside a transaction); 0, or
 * STORE_RESULT_NOT_OURS when r->owner no longer holds the message's claim (nothing is
 * written), or an error */
enum { STORE_RESULT_NOT_OURS = 1 };
int store_message_result(struct store *s, const struct store_result *r, int64_t now);
/* store_campaign_counts - messages by state */
int store_campaign_counts(struct store *s, int64_t campaign_id, struct store_campaign_counts *c);
/* store_campaign_set_links - the click-tracking link table (a JSON array) into options.links */
int store_campaign_set_links(struct store *s, int64_t campaign_id, const char *links_json);
/* store_campaign_set_state - draft, sending, done, ... */
int store_campaign_set_state(struct store *s, int64_t campaign_id, const char *state);

#endif
