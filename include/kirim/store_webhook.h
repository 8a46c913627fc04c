/*
 * store_webhook - outgoing webhooks (schema 007): the subscriptions, their
 * delivery state, and the outbox the triggers on events and campaigns fill
 * in the transaction that records each event.
 *
 * A webhook's cursor is the last outbox id it has settled; its batch is the
 * rows after the cursor of the types it wants. Settling moves the cursor
 * and resets the retry state in one statement; a batch given up after 24
 * hours of failures is settled as dropped. Rows every cursor has passed are
 * pruned. Does not log.
 */
#ifndef KIRIM_STORE_WEBHOOK_H
#define KIRIM_STORE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_webhook {
	int64_t id;
	char url[1024];
	char events[512]; /* JSON array of event names */
	char secret[256];
	int64_t created_at;
	int64_t cursor;
	int attempts; /* failed tries of the batch after the cursor */
	int64_t next_attempt_at;
	int64_t failing_since; /* 0: not failing */
	int last_status;       /* the receiver's last HTTP status, 0: none or no answer */
	char last_error[256];
	int64_t last_success_at;
	int64_t delivered, dropped; /* events */
	int64_t pending;            /* events waiting after the cursor (store_webhook_each) */
};
typedef int (*store_webhook_cb)(void *arg, const struct store_webhook *w);

/* store_webhook_add - subscribe url to events (a JSON array) signed with secret; *id set */
int store_webhook_add(struct store *s, const char *url, const char *events, const char *secret,
                      int64_t now, int64_t *id);
/* store_webhook_remove - delete webhook id (STORE_E_NOTFOUND when none) */
int store_webhook_remove(struct store *s, int64_t id);
/* store_webhook_get - webhook id with its pending count */
int store_webhook_get(struct store *s, int64_t id, struct store_webhook *out);
/* store_webhook_each - every webhook with its pending count, by id */
int store_webhook_each(struct store *s, store_webhook_cb cb, void *arg);
/*
 * store_webhook_due - the id of a webhook due now (next_attempt_at <= now)
 * with events after its cursor, the one due longest; 0 when none
 */
int store_webhook_due(struct store *s, int64_t now, int64_t *id);

/* One event of a batch, strings borrowed for the callback. */
struct store_webhook_event {
	int64_t id; /* the outbox id: the event's id for receivers (dedup) */
	const char *type;
	int64_t ts;
	int64_t campaign_id;
	const char *campaign; /* NULL when the campaign is gone */
	const char *email;    /* NULL for campaign events, or when the contact is gone */
	const char *stage, *ecode, *text, *host, *detail; /* NULL when none */
	int code;
	const char *data; /* campaign events: {"from","to"} */
};
typedef int (*store_webhook_event_cb)(void *arg, const struct store_webhook_event *e);

/*
 * store_webhook_batch - the first limit outbox rows after cursor whose type
 * events (a JSON array) names, oldest first; *last gets the id of the last
 * outbox row looked at (any type: what settling this batch moves the cursor
 * to), or cursor when none
 */
int store_webhook_batch(struct store *s, int64_t cursor, const char *events, int limit,
                        store_webhook_event_cb cb, void *arg, int64_t *last);
/*
 * store_webhook_settle - the batch up to through is done: delivered (n events
 * counted as delivered) or dropped (counted as dropped); status is the
 * receiver's. Resets the retry state.
 */
int store_webhook_settle(struct store *s, int64_t id, int64_t through, int64_t n, bool dropped,
                         int status, const char *error, int64_t now);
/* store_webhook_failed - a try of the batch failed: the next one at next, attempts counted */
int store_webhook_failed(struct store *s, int64_t id, int status, const char *error, int64_t now,
                         int64_t next);
/* store_webhook_prune - delete outbox rows every webhook has settled; *n gets how many */
int store_webhook_prune(struct store *s, int64_t *n);

#endif
