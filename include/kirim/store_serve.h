/*
 * store_serve - the SQL of `kirim serve`: unsubscribes, resubscribes, opens
 * and clicks, applied in batches (one transaction per batch, so many HTTP
 * requests share one commit).
 *
 * An unsubscribe suppresses the contact's address (suppressions kind
 * 'address', reason 'unsubscribe', source 'campaign:NAME') and marks their
 * still-queued messages 'suppressed'; when the campaign's options say
 * "unsubscribe_scope": "list" it removes the contact from the campaign's
 * list instead (and only that list's queued messages are dropped). Doing it
 * twice changes nothing and records one event. A resubscribe undoes either
 * (a suppression made for another reason, such as a hard bounce, stays).
 * Every unsubscribe, open and click that changes something is an events row
 * (type unsubscribe/open/click, detail JSON {"scope":..}, {"machine":..},
 * {"link":N}) on the message of (campaign, contact), when there is one.
 * A click's URL comes from campaigns.options "links" (a JSON array, link N
 * at index N), written by the composer when it rewrote the HTML links.
 * An unsubscribe or resubscribe may name its scope (the preferences page's
 * choice) instead of the campaign's, and an unsubscribe a reason, kept in
 * its event's detail ({"scope":..,"reason":..}). A confirmation campaign's
 * links are list-scoped and take no resubscribe (only the confirmation link
 * makes a member of someone who signed up). Signups and confirmations are
 * store_signup.h's, applied in the same batches.
 *
 * Uses the store's connection (store_int.h); one thread at a time, like the
 * store, except store_serve_checkpoint, which has its own connection. Does
 * not log.
 */
#ifndef KIRIM_STORE_SERVE_H
#define KIRIM_STORE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum store_serve_type {
	STORE_SERVE_UNSUBSCRIBE,
	STORE_SERVE_RESUBSCRIBE,
	STORE_SERVE_OPEN,
	STORE_SERVE_CLICK,
	STORE_SERVE_SIGNUP,  /* store_signup_add with *signup */
	STORE_SERVE_CONFIRM, /* store_signup_confirm of (campaign, contact) */
};

enum store_serve_scope {
	STORE_SERVE_SCOPE_CAMPAIGN, /* as the campaign's options say */
	STORE_SERVE_SCOPE_LIST,
	STORE_SERVE_SCOPE_ALL,
};

struct store_signup;

struct store_serve_event {
	/* In. */
	enum store_serve_type type;
	int64_t campaign_id, contact_id;
	int64_t ts;
	bool machine;      /* open: fetched by a known prefetcher */
	const char *agent; /* open: which one (a static name), or NULL */
	unsigned link;     /* click: the link number */
	bool dry;          /* look up (a click's URL) but record nothing: a HEAD request */
	enum store_serve_scope scope; /* unsubscribe, resubscribe */
	const char *reason;           /* unsubscribe: the person's reason, or NULL (borrowed) */
	const char *ip;               /* confirm: the client's address (borrowed) */
	struct store_signup *signup;  /* signup: in and out (borrowed) */
	/* Out. */
	int result;     /* 0, or STORE_E_NOTFOUND: no such campaign, contact or link (or, for a
	                 * signup, STORE_E_EXISTS: store_signup_add) */
	int confirmed;  /* confirm: an enum store_confirm_outcome */
	bool changed;   /* unsubscribe/resubscribe: false when it was already so */
	bool recorded;  /* an events row was written */
	char url[2049]; /* click: the link's URL */
};

struct store_serve;

/* store_serve_new - prepare the statements on s's connection; NULL with store_errmsg set */
struct store_serve *store_serve_new(struct store *s);
/* store_serve_free - finalize the statements; NULL is a no-op */
void store_serve_free(struct store_serve *ss);
/*
 * store_serve_apply - apply n events in one transaction and set each one's
 * result. Returns 0 (per-event results set), or STORE_E_SQL / STORE_E_BUSY
 * when the transaction failed as a whole (nothing was written).
 */
int store_serve_apply(struct store_serve *ss, struct store_serve_event *ev, size_t n);
/*
 * store_serve_checkpoint_start - stop the store's connection from running WAL
 * checkpoints inside its commits (each one stalls a batch) and open a second
 * connection that store_serve_checkpoint uses instead; store_serve_free
 * gives the store's connection its automatic checkpoints back.
 */
int store_serve_checkpoint_start(struct store_serve *ss);
/*
 * store_serve_checkpoint - one passive checkpoint (copies what it can
 * without blocking the writer). Safe to call from another thread while
 * store_serve_apply runs: it uses its own connection.
 */
int store_serve_checkpoint(struct store_serve *ss);

/*
 * The journal. A one-click unsubscribe is committed first to a small SQLite
 * file of its own beside the database (DB-serve, table unsubscribes: an
 * append, one page per commit) and answered; store_serve_fold then applies
 * journaled unsubscribes to the database in large transactions, where the
 * random index pages they touch are shared by many, and records how far it
 * got (settings key serve_journal, "GENERATION:ID", in the same transaction:
 * a crash between the fold and the journal's delete never applies a row
 * twice). The journal's writer uses its own connections (store_journal), so
 * commits to it never wait for a fold.
 */
struct store_journal;

/* store_serve_journal_path - the journal file of the database at db */
void store_serve_journal_path(const char *db, char *out, size_t size);
/*
 * store_serve_fold - fold at most max journaled unsubscribes (0: all) into
 * the database in one transaction; *folded gets how many and *through the
 * journal id folded up to (rows up to it may go: store_serve_prune,
 * store_journal_add). No journal file, or nothing new: 0 with *folded 0.
 */
int store_serve_fold(struct store_serve *ss, size_t max, size_t *folded, int64_t *through);
/* store_serve_prune - delete the journal's rows up to through (when nothing else writes it) */
void store_serve_prune(struct store_serve *ss, int64_t through);

/*
 * store_serve_fold_pending - fold everything in the journal of s's database,
 * if it has one (for the sender: unsubscribes a killed kirim serve answered
 * but did not fold). 0 or a store error.
 */
int store_serve_fold_pending(struct store *s);

/* store_journal_open - create or open the journal of the database at db_path; NULL with err */
struct store_journal *store_journal_open(const char *db_path, char *err, size_t errsz);
/* store_journal_close - NULL is a no-op */
void store_journal_close(struct store_journal *j);
/*
 * store_journal_add - check each of n unsubscribes (result STORE_E_NOTFOUND
 * when its campaign or contact does not exist) and journal the others in one
 * transaction, which first deletes the rows up to prune (folded already;
 * 1,024 rows at most per call, the rest in the next ones);
 * *last gets the journal id of the last one (when none was journaled: an
 * earlier id of this connection, or 0). 0, or STORE_E_SQL /
 * STORE_E_BUSY with nothing journaled (store_journal_errmsg says why).
 */
int store_journal_add(struct store_journal *j, struct store_serve_event *ev, size_t n,
                      int64_t *last, int64_t prune);
/*
 * store_journal_checkpoint_start - the journal's WAL checkpoints on a second
 * connection from now on (store_journal_checkpoint, from another thread),
 * not in store_journal_add's commits; before the journal's thread starts.
 */
int store_journal_checkpoint_start(struct store_journal *j);
/* store_journal_checkpoint - one passive checkpoint of the journal (see store_serve_checkpoint) */
int store_journal_checkpoint(struct store_journal *j);
/* store_journal_errmsg - the last failure of j */
const char *store_journal_errmsg(const struct store_journal *j);

#endif
