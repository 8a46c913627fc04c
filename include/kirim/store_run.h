/*
 * store_run - what the `kirim run` daemon and `kirim status` read: the
 * campaigns that are sending (with what is due now and when the next
 * deferred message comes due) and the work queued across campaigns. SQL for
 * src/store/ only; see store.h.
 */
#ifndef KIRIM_STORE_RUN_H
#define KIRIM_STORE_RUN_H

#include <stdint.h>

struct store;

/* A campaign in state 'sending' (or another state, for status). Strings borrowed. */
struct store_run_campaign {
	int64_t id;
	const char *name, *state, *reason;
	const char *window, *tz; /* options.window, options.tz: "" when none */
	int64_t queued, due, claimed, delivered, deferred, bounced, failed;
	int64_t next_due; /* earliest next_attempt_at of a queued message, 0 if none */
	int64_t scheduled_at;
	/* Its messages are still being made (store.h: store_messages_walk): contact ids up to
	 * walk_cursor are done, up to walk_upto left; both 0 when not. */
	int64_t walk_cursor, walk_upto;
};
typedef int (*store_run_cb)(void *arg, const struct store_run_campaign *c);

/*
 * store_run_campaigns - campaigns in the given state (NULL: sending,
 * scheduled and paused ones) with their message counts (due: queued with
 * next_attempt_at <= now), oldest first.
 */
int store_run_campaigns(struct store *s, const char *state, int64_t now, store_run_cb cb,
                        void *arg);

/*
 * What a campaign's queued messages that are not due yet wait for, grouped:
 * a hand-back's reason as the sender wrote it ("outside the campaign's send
 * window", a warm-up cap, a destination's down time), a retry after a
 * deferral, or a first attempt not due yet. Strings borrowed.
 */
enum store_wait_kind {
	STORE_WAIT_HELD,  /* handed back unattempted, why says what for */
	STORE_WAIT_RETRY, /* deferred: its retry time */
	STORE_WAIT_LATER, /* never tried and not due yet */
};
struct store_run_wait {
	enum store_wait_kind kind;
	const char *why; /* HELD: the sender's reason; "" otherwise */
	int64_t count;
	int64_t next; /* the earliest of them comes due at */
};
typedef int (*store_wait_cb)(void *arg, const struct store_run_wait *w);
/*
 * store_run_waiting - campaign's queued messages not due at now, by what they
 * wait for, the largest group first (at most `max` groups)
 */
int store_run_waiting(struct store *s, int64_t campaign_id, int64_t now, int max, store_wait_cb cb,
                      void *arg);

#endif
