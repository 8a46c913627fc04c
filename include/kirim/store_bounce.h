/*
 * store_bounce - what a bounce or complaint does to the database, as its
 * disposition (disposition.h) says: the address is suppressed when the bounce
 * is hard, when it soft-bounced often enough within a window (the count is
 * the store's), or when its owner complained; a bounce or complaint that
 * arrives later (a DSN, an ARF report) is recorded against the message kirim
 * sent; and the campaign is paused when its bounce or complaint rate passes
 * the limits. SQL for src/store/ only; see store.h.
 */
#ifndef KIRIM_STORE_BOUNCE_H
#define KIRIM_STORE_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "kirim/disposition.h"

struct store;

/* When soft bounces suppress, and when a campaign pauses itself. */
struct store_bounce_rules {
	int soft_count;              /* soft bounces within soft_window_s suppress (default 3) */
	int64_t soft_window_s;       /* (default 15 days) */
	int64_t pause_after;         /* attempts before the rates below are judged (default 1000) */
	double pause_hard_rate;      /* hard bounces / attempts above this pause (default 0.05) */
	double pause_complaint_rate; /* complaints / delivered above this pause (default 0.001) */
};
/* store_bounce_rules_default - the defaults above */
struct store_bounce_rules store_bounce_rules_default(void);

/*
 * store_bounce_suppress - after a bounce or complaint of message_id was
 * recorded: suppress its address as how says (HARD and COMPLAINT at once,
 * SOFT when the contact's soft bounces within the window reach the count;
 * NONE does nothing); source says where it came from. *reason gets the
 * suppression reason written ("hard_bounce", "soft_bounce", "complaint") or
 * NULL when none was (already suppressed, or a soft bounce under the count).
 */
int store_bounce_suppress(struct store *s, int64_t message_id, enum disp_suppress how,
                          const struct store_bounce_rules *rules, const char *source,
                          const char **reason);

/* A bounce or complaint that arrived after the send and its disposition, for
 * store_bounce_record. */
struct store_bounce_event {
	int64_t campaign_id, contact_id; /* from the VERP token or Message-ID */
	enum disp_event type;            /* DISP_EV_BOUNCED or DISP_EV_COMPLAINT */
	enum disp_state state;           /* DISP_BOUNCED (from delivered or queued) or DISP_KEEP */
	enum bounce_reason reason;       /* the classifier's */
	enum bounce_class cls;           /* a bounce's, written by its name ("none" too); none for a
	                                    complaint */
	const char *ecode;               /* DSN Status */
	const char *text;                /* Diagnostic-Code or the feedback type */
	const char *host;                /* Remote-MTA */
	const char *detail;              /* JSON object or NULL */
};

/*
 * store_bounce_record - record e as an event of its message, and its state
 * when e->state says so (then store_bounce_suppress, as the disposition
 * says). STORE_E_NOTFOUND when kirim sent no such message; *message_id is
 * set.
 */
int store_bounce_record(struct store *s, const struct store_bounce_event *e, int64_t *message_id);

/* A campaign's totals for the pause rules. */
struct store_bounce_totals {
	int64_t attempts, hard, complaints, delivered;
};
/* store_bounce_totals - the campaign's attempts, hard bounces, complaints and deliveries */
int store_bounce_totals(struct store *s, int64_t campaign_id, struct store_bounce_totals *t);
/*
 * store_bounce_pause_why - 1 with a sentence in why (whysz bytes) when totals
 * call for pausing the campaign under rules, else 0. No SQL.
 */
int store_bounce_pause_why(const struct store_bounce_rules *rules,
                           const struct store_bounce_totals *t, char *why, size_t whysz);
/* store_campaign_pause - state 'paused' with why as its state_reason, if it is not
 * finished: 1 when it was paused, 0 when its state did not allow it */
int store_campaign_pause(struct store *s, int64_t campaign_id, const char *why);

/*
 * store_bounce_find - the (campaign, contact) of the message kirim sent to
 * email in campaign (its name, or its id in decimal): 0, or STORE_E_NOTFOUND.
 * For a provider's event that names the recipient and kirim's campaign header
 * but not the Message-ID.
 */
int store_bounce_find(struct store *s, const char *email, const char *campaign,
                      int64_t *campaign_id, int64_t *contact_id);
/*
 * store_bounce_seen - note a provider's event (provider "ses", "sendgrid",
 * "postmark"; id its own, at most 512 bytes) as taken: 1 the first time, 0
 * when it was taken before (a retry: record nothing). Run it in the
 * transaction that records the event, so that a rollback forgets it too.
 */
int store_bounce_seen(struct store *s, const char *provider, const char *id);

#endif
