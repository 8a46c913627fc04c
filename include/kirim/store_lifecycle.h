/*
 * store_lifecycle - a campaign's state machine, stored in campaigns.state,
 * scheduled_at, state_reason and options (JSON: window, tz, skip).
 *
 * Every legal move is one row of a single table (from-state, verb,
 * to-state); store_lifecycle_apply refuses anything else with a sentence
 * naming the current state and the verbs it allows. A move is one BEGIN
 * IMMEDIATE transaction that re-reads the state, so two processes racing
 * (a CLI pause against a daemon start) cannot both win. Also the cheap
 * reads a daemon and a running sender poll: which scheduled campaigns are
 * due, and a campaign's current state.
 *
 *   from                            verb        to
 *   draft, scheduled, paused        schedule    scheduled   (sets scheduled_at, window, tz)
 *   scheduled                       unschedule  draft       (clears them)
 *   scheduled, sending              pause       paused      (reason "paused by user")
 *   paused                          resume      sending, or scheduled while scheduled_at
 *                                                            is still in the future
 *   draft, scheduled, sending,      cancel      cancelled   (queued messages -> cancelled;
 *   paused                                                   claimed ones finish in flight)
 *   scheduled                       start       sending     (kirim run, when due)
 *
 * done and cancelled are final. Does not log.
 */
#ifndef KIRIM_STORE_LIFECYCLE_H
#define KIRIM_STORE_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* The move is not allowed from the campaign's current state (err says why). */
#define STORE_LIFECYCLE_E_STATE (-20)

/* What a move sets; fields a verb does not use are ignored. */
struct store_lifecycle_args {
	int64_t now;          /* Unix seconds: the controllable clock */
	int64_t scheduled_at; /* schedule: when to start */
	const char *window;   /* schedule: options.window (NULL: removed) */
	const char *tz;       /* schedule: options.tz (NULL: removed, meaning the local zone) */
	const char *skip;     /* schedule/resume: options.skip, a JSON array of contact ids
	                         that cannot be rendered ("null": removed; NULL: left as is) */
	const char *reason;   /* pause/cancel: state_reason (NULL: "paused by user",
	                         "cancelled by user") */
};

/* A campaign's lifecycle fields. */
struct store_lifecycle_info {
	int64_t id;
	char name[128];
	char state[16];
	char reason[256];     /* state_reason, "" when none */
	int64_t scheduled_at; /* 0 when none */
	char window[256];     /* options.window, "" when none */
	char tz[64];          /* options.tz, "" when none (the local zone) */
	int64_t list_id;
	int64_t messages;  /* messages made so far (0: the campaign never started) */
	int64_t queued;    /* of them, queued (waiting or deferred) */
	int64_t claimed;   /* of them, in flight */
	int64_t cancelled; /* set by a cancel: how many queued messages it cancelled */
};

/*
 * store_lifecycle_to - the state verb leads to from state (resume: "sending";
 * the caller's scheduled_at decides), or NULL with a sentence in err naming
 * the state and what it allows. Pure table look-up; exported for tests/help.
 */
const char *store_lifecycle_to(const char *name, const char *state, const char *verb, char *err,
                               size_t errsz);

/* store_lifecycle_get - the lifecycle fields of the campaign called name */
int store_lifecycle_get(struct store *s, const char *name, struct store_lifecycle_info *out);

/*
 * store_lifecycle_apply - move the campaign called name by verb ("schedule",
 * "unschedule", "pause", "resume", "cancel", "start") in one transaction.
 * On success *out (may be NULL) holds the new fields and, in state, the new
 * state; from (16 bytes, may be NULL) the old one. Errors: STORE_E_NOTFOUND,
 * STORE_LIFECYCLE_E_STATE, STORE_E_SQL/BUSY; err gets a sentence for each.
 */
int store_lifecycle_apply(struct store *s, const char *name, const char *verb,
                          const struct store_lifecycle_args *a, char from[16],
                          struct store_lifecycle_info *out, char *err, size_t errsz);

/* A campaign whose scheduled time has come. Strings are borrowed for the callback. */
struct store_due {
	int64_t id;
	const char *name;
	int64_t scheduled_at;
	const char *window; /* "" when none */
	const char *tz;     /* "" when none: the local zone */
};
typedef int (*store_due_cb)(void *arg, const struct store_due *d);

/*
 * store_campaigns_due - every 'scheduled' campaign with scheduled_at <= now,
 * earliest first. A callback's non-zero return stops the walk and is returned.
 */
int store_campaigns_due(struct store *s, int64_t now, store_due_cb cb, void *arg);

/* store_campaigns_next_due - the earliest scheduled_at of a 'scheduled' campaign (0: none) */
int store_campaigns_next_due(struct store *s, int64_t *when);

/*
 * store_campaign_state_get - the state (16 bytes) and state_reason (reason
 * may be NULL; reasonsz bytes) of campaign id: one indexed read, for a
 * sender that polls for a pause or cancel from another process.
 */
int store_campaign_state_get(struct store *s, int64_t id, char state[16], char *reason,
                             size_t reasonsz);

/* A recipient the campaign would still mail (for the render precheck). */
struct store_recipient {
	int64_t contact_id;
	const char *email; /* borrowed for the callback */
	const char *attrs;
};
typedef int (*store_recipient_cb)(void *arg, const struct store_recipient *r);

/*
 * store_lifecycle_recipients - the contacts of the campaign's audience (as it
 * is now: store_audience.h) that are not suppressed and have no message in a
 * final state yet (those still to be mailed), by contact id. A callback's
 * non-zero return stops the walk.
 */
int store_lifecycle_recipients(struct store *s, int64_t campaign_id, store_recipient_cb cb,
                               void *arg);

/*
 * store_lifecycle_mailable - how many contacts of the campaign's audience are
 * not suppressed (the "not empty after suppressions" check), and how many
 * messages of campaign_id are still queued or claimed.
 */
int store_lifecycle_mailable(struct store *s, int64_t campaign_id, int64_t *mailable,
                             int64_t *pending);

#endif
