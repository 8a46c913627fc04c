/*
 * store_sender - the store's side of a running sender: who sends which
 * campaign (the senders table, each row a process with a lease), which
 * suppressions appeared since the sender last looked, and each recipient
 * domain's health (its last delivery; NXDOMAIN answers to be confirmed).
 *
 * Whether a sender row is alive is not the store's to judge (it needs the
 * process table): callers pass a store_sender_alive_cb. A campaign is held by
 * one live sender at a time (store_sender_hold); claims carry the claiming
 * sender's id, and recovery takes back only claims whose sender row is gone
 * (store_messages_recover). Same threading rules as store.h. Does not log.
 */
#ifndef KIRIM_STORE_SENDER_H
#define KIRIM_STORE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* One sender process. */
struct store_sender_row {
	int64_t id;
	char host[256];
	int64_t pid;
	char proc_start[96]; /* boot id and start time of the process: a reused pid differs */
	char command[128];   /* "send spring", "run" */
	int64_t started_at;
	int64_t lease_until;
};
/* Whether r is a live sender (its process exists, or its lease holds). */
typedef bool (*store_sender_alive_cb)(void *arg, const struct store_sender_row *r);

/*
 * store_sender_register - in its own transaction: forget the rows of dead
 * senders (freeing the campaigns they held), then add me; me->id is set
 */
int store_sender_register(struct store *s, struct store_sender_row *me, store_sender_alive_cb alive,
                          void *arg);
/*
 * store_sender_renew - extend id's lease to lease_until (outside or inside a
 * transaction); STORE_E_NOTFOUND when the row is gone: another sender judged
 * this one dead and took its campaigns over
 */
int store_sender_renew(struct store *s, int64_t id, int64_t lease_until);
/* store_sender_count - the senders registered (after a register, the live ones) */
int store_sender_count(struct store *s, int64_t *n);
/* store_sender_release - id lets go of its campaigns and its row (own transaction) */
int store_sender_release(struct store *s, int64_t id);
/*
 * store_sender_hold - inside the caller's transaction: campaign_id is now
 * held by sender id, unless a live other sender holds it: then
 * STORE_E_EXISTS and *holder is that sender. A dead holder's row goes.
 */
int store_sender_hold(struct store *s, int64_t campaign_id, int64_t id, store_sender_alive_cb alive,
                      void *arg, struct store_sender_row *holder);

/* A suppression, as store_sender_suppressions reports it. */
typedef int (*store_sender_supp_cb)(void *arg, bool domain, const char *value);
/* store_sender_suppressions_last - the id of the newest suppression (0 when none) */
int store_sender_suppressions_last(struct store *s, int64_t *last);
/*
 * store_sender_suppressions - every suppression with an id after *after
 * (ids never come back), oldest first; *after gets the last one's id
 */
int store_sender_suppressions(struct store *s, int64_t *after, store_sender_supp_cb cb, void *arg);
/*
 * store_sender_removals - list-scope unsubscribes folded since `since`
 * (Unix time; the events table): cb gets each (list id, contact id)
 */
typedef int (*store_removal_cb)(void *arg, int64_t list_id, int64_t contact_id);
int store_sender_removals(struct store *s, int64_t since, store_removal_cb cb, void *arg);
/*
 * store_sender_journal - unsubscribes a kirim serve has journaled (DB-serve)
 * with a journal id after *after, not yet folded into the database: cb gets
 * each as (list id when its campaign unsubscribes from its list only, else 0,
 * contact id). No journal file: 0 and nothing. *after gets the last id.
 */
int store_sender_journal(struct store *s, int64_t *after, store_removal_cb cb, void *arg);

/* A domain's health. */
struct store_domain_health {
	int64_t delivered_at;   /* last delivery to the domain (0: none known) */
	int64_t nxdomain_first; /* first NXDOMAIN of the current run of them (0: none) */
	int64_t nxdomain_last;
};
/* store_sender_delivered - a message to domain was delivered at ts (ends any NXDOMAIN run) */
int store_sender_delivered(struct store *s, const char *domain, int64_t ts);
/*
 * store_sender_nxdomain - domain answered NXDOMAIN at now: start a run of
 * them (when there is none, or the last one is older than stale_s) or extend
 * it; *out gets the domain's health after the change
 */
int store_sender_nxdomain(struct store *s, const char *domain, int64_t now, int64_t stale_s,
                          struct store_domain_health *out);

#endif
