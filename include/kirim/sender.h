/*
 * sender - `kirim send`: deliver a campaign's queued messages through the
 * connection pool and record every outcome.
 *
 * Through a relay (one destination), or direct: each recipient domain's MX
 * hosts are found with the dns module on the same loop (jobs for a domain
 * wait while its look-up runs; the answer is reused for its TTL), and
 * domains with the same MX host set share one destination, so a provider's
 * many domains share its connection limits. A domain that cannot receive
 * mail (NXDOMAIN, null MX, no address) bounces its messages; a DNS failure
 * defers them.
 *
 * One libuv loop does the SMTP work; SQLite and rendering happen on one
 * worker thread (uv_queue_work), one batch at a time, so the loop never waits
 * for a disk write or an RSA signature. A batch writes the outcomes that came
 * back since the last one (in one transaction), claims the next due messages
 * (state claimed) and renders them; the loop hands them to the pool and
 * collects the outcomes. The run ends when nothing due is left and nothing is
 * in flight: deferred messages wait in the queue with their next attempt time.
 * A stop request (Ctrl-C) takes no new work, lets what is on a connection
 * finish, records it, and returns; what was claimed but not sent goes back to
 * queued without counting an attempt. Every failure is classified (bounce_class.h):
 * a hard bounce suppresses the address, soft ones do after 3 in 15 days, and
 * the campaign pauses itself when, after 1,000 attempts, more than 5% bounce
 * hard. Logs one line per event.
 */
#ifndef KIRIM_SENDER_H
#define KIRIM_SENDER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "kirim/smtp_session.h"
#include "kirim/store.h"
#include "kirim/store_sender.h"

struct config;

struct sender_progress {
	uint64_t attempted, delivered, deferred, bounced, failed;
	uint64_t due;         /* messages due in this run: those made so far */
	bool queueing;        /* more are still being made (store_messages_walk): due grows */
	unsigned connections; /* open now */
	double elapsed;
};
typedef void (*sender_progress_cb)(void *arg, const struct sender_progress *p);

struct sender_opts {
	const char *campaign;
	/* Several campaigns at once (kirim run), instead of campaign: one pool, so they share
	 * the per-destination limits, each batch's claims split evenly among those with work.
	 * campaign_stats (optional, ncampaigns entries) gets each one's figures; the run's
	 * stats add them up. One that cannot start is skipped (its stats say why). */
	const char *const *campaigns;
	size_t ncampaigns;
	struct sender_stats *campaign_stats;
	/* DNS answers kept across runs (kirim run's turns); NULL: this run's own. Borrowed. */
	struct dns_cache *dns_cache;
	/* kirim run: asked about once a second, on the worker thread with the store, whether
	 * something else should start now (a scheduled campaign came due); when it says so,
	 * the run ends as at the end of its turn, so that the next turn includes it. */
	int (*start_due)(void *arg, struct store *s);
	void *start_due_arg;
	const char *relay_url;      /* NULL: the config's [relay] url; none there: direct */
	int direct;                 /* deliver to MX hosts even when the config names a relay */
	int tls;                    /* enum tls_policy, or -1: the config's, else verify (relay) or
	                               opportunistic (direct) */
	unsigned concurrency;       /* connections at once (default 8) */
	unsigned dest_concurrency;  /* connections at once per destination, direct (default 10) */
	const char *egress;         /* the egress pool of kirim.conf to send from; NULL: "default"
	                               (none there: the kernel chooses; docs/egress.md) */
	const char *dns_servers;    /* "127.0.0.1:5353,..." for direct; NULL: /etc/resolv.conf */
	const char *redis_url;      /* destinations' limits shared through this Redis (--redis);
	                               NULL: $KIRIM_REDIS, else the config's [redis] url
	                               (cluster_redis_url); "none": none (docs/scale-out.md) */
	unsigned dns_timeout_ms;    /* per try; 0: the dns module's default */
	unsigned mx_port;           /* port of MX hosts (default 25; tests and labs change it) */
	unsigned sts_port;          /* port of MTA-STS policy hosts (default 443; tests, labs) */
	double retry_first;         /* seconds before the first retry (default 5 min), doubling */
	double retry_max;           /* ... up to this (default 4 h); +-10% jitter */
	int64_t max_age;            /* seconds after queueing a deferred message expires (3 days) */
	int64_t nxdomain_confirm_s; /* a domain bounces on NXDOMAIN (or no mail host) only when
	                               it still answers so this long after the first answer
	                               (default SENDER_NXDOMAIN_CONFIRM_S) */
	int resume;                 /* send a campaign that is paused */
	int no_delivery_log;        /* no info line per delivery (failures are still logged) */
	int now;                    /* kirim send --now: ahead of the campaign's schedule (the
	                               CLI's check; the sender itself does not look) */
	/* Proofs (kirim campaign test): send the campaign's message to these addresses only
	 * (a list member's own attributes when the address is one), record nothing. */
	const char *const *test_rcpts;
	size_t ntest;
	/* With test_rcpts: proofs of this campaign record, never stored (a template's test
	 * send, proofs.h), instead of the stored campaign called campaign. */
	const struct store_campaign *test_campaign;
	double turn_s;          /* > 0: end the run after about this long (kirim run's turns),
	                           as a stop would, without counting as stopped */
	unsigned msgs_per_conn; /* per connection (default 100; 0 there means no cap) */
	unsigned batch;         /* messages claimed per batch (default 256) */
	unsigned workers;       /* threads that DKIM-sign (0: one per core; 1: the worker alone) */
	int allow_plaintext_auth; /* AUTH without TLS (tests and trusted networks only) */
	/* Several senders on one database (docs/scale-out.md): the node this one runs as
	 * (NULL: the config's [node] name, else the host's name), and the sender row it
	 * sends as: kirim run registers its process once and lends the row to every turn
	 * (borrowed); NULL: the run registers its own and lets go of it at its end. */
	const char *node;
	const struct store_sender_row *me;
	const struct smtp_timeouts *timeouts; /* NULL: RFC 5321 defaults */
	sender_progress_cb progress;          /* called about 4 times a second */
	void *progress_arg;
	volatile sig_atomic_t *stop; /* set by a signal handler */
};

/* Why messages were not delivered in a run: one reply (or local failure) and how often. */
struct sender_reason {
	int code;
	char ecode[16];
	char text[200];
	uint64_t count;
	int sent; /* 1: an attempt was refused or failed; 0: never sent (destination down) */
};
enum { SENDER_REASONS = 16 }; /* distinct reasons kept; the rest add to the last */

struct sender_stats {
	int64_t created;   /* messages queued for the first time by this run */
	int64_t recovered; /* claimed messages a crash had left, queued again */
	uint64_t attempted, delivered, deferred, bounced, failed, handed_back;
	uint64_t suppressed; /* claimed, then withdrawn: suppressed since they were queued */
	struct sender_reason reasons[SENDER_REASONS]; /* why not delivered, most first */
	size_t nreasons;
	unsigned long connections;  /* sessions opened */
	unsigned long destinations; /* destinations used (1 for a relay) */
	unsigned long domains;      /* recipient domains resolved (direct) */
	unsigned long dns_queries;  /* DNS queries sent (direct) */
	double seconds;
	int stopped;      /* the run was stopped early */
	int paused;       /* the campaign paused itself (bounce or complaint rate): see why */
	char tests[2048]; /* proofs: one line per address, "HOST OUTCOME CODE ECODE TEXT" */
	char why[256];
	struct store_campaign_counts counts; /* the campaign after the run */
};

/* Error codes (negative). */
#define SENDER_E_CONFIG (-1) /* no relay, bad URL, TLS set-up, unknown campaign... */
#define SENDER_E_STORE (-2)  /* the database failed */
#define SENDER_E_RENDER (-3) /* the campaign's templates do not compile */
#define SENDER_E_BUSY (-4)   /* another live sender is sending the campaign (no longer made) */
#define SENDER_E_LEASE (-5)  /* this sender's lease expired and live senders took its claims */

/* How long a domain must keep answering NXDOMAIN before its addresses bounce (1 hour). */
#define SENDER_NXDOMAIN_CONFIRM_S 3600

/* sender_run - send what is due of the campaign; *st filled even on error */
int sender_run(struct store *s, const struct config *cfg, const struct sender_opts *o,
               struct sender_stats *st, char *err, size_t errsz);

#endif
