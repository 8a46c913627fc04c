/*
 * store_sender - the store's side of a running sender: who sends which
 * campaign (the senders table, each row a process with a lease), which
 * suppressions appeared since the sender last looked, and each recipient
 * domain's health (its last delivery; NXDOMAIN answers to be confirmed).
 *
 * Whether a sender row is alive is not the store's to judge (it needs the
 * process table): callers pass a store_sender_alive_cb. A campaign is held by
 * any number of senders at once, on one node or several (store_sender_hold);
 * claims carry the claiming sender's id, and recovery takes back only claims
 * whose sender row is gone (store_messages_recover), which store_sender_reap
 * makes so of dead senders. A named lease (store_sender_lead: 'leader') is
 * held by one process at a time among all the nodes. Same threading rules as
 * store.h. Does not log.
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
	char node[64];       /* the node it runs as ([node] name, --node; else its host) */
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
 * store_sender_reap - inside the caller's transaction: forget the rows of
 * dead senders (alive says which), so that their claims can be recovered
 * (store_messages_recover); *n gets how many went
 */
int store_sender_reap(struct store *s, store_sender_alive_cb alive, void *arg, int64_t *n);
/*
 * store_sender_hold - inside the caller's transaction: sender id works on
 * campaign_id too (others may as well)
 */
int store_sender_hold(struct store *s, int64_t campaign_id, int64_t id);
/* store_sender_unhold - inside or outside a transaction: id no longer works on any campaign */
int store_sender_unhold(struct store *s, int64_t id);

/*
 * store_sender_lead - in its own transaction: lease `name` for me until
 * me->lease_until when it is free (never held, expired, its holder dead, or
 * me already); *held is whether me holds it now, *holder who does
 */
int store_sender_lead(struct store *s, const char *name, const struct store_sender_row *me,
                      int64_t now, store_sender_alive_cb alive, void *arg, bool *held,
                      struct store_sender_row *holder);
/* store_sender_lead_drop - me lets go of lease name (a no-op when another holds it) */
int store_sender_lead_drop(struct store *s, const char *name, const struct store_sender_row *me);
/* store_sender_leaseholder - who holds lease name (whatever its expiry); STORE_E_NOTFOUND */
int store_sender_leaseholder(struct store *s, const char *name, struct store_sender_row *out);

/* A sender as kirim status shows it: its row, and what it holds. */
struct store_sender_node {
	struct store_sender_row r;
	int64_t claimed;     /* messages it has claimed (in flight) */
	char campaigns[512]; /* the names of the campaigns it works on, comma-separated */
};
typedef int (*store_sender_node_cb)(void *arg, const struct store_sender_node *n);
/* store_sender_nodes - every sender row, by node then id */
int store_sender_nodes(struct store *s, store_sender_node_cb cb, void *arg);

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
