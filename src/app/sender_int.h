/*
 * sender_int - what the sender's three files share (src/app/sender*.c only).
 *
 * The sender is split by who owns what:
 * - sender.c: the loop thread. `struct sender`, the pool and its callbacks,
 *   the tick, the run's set-up and end. It makes a `struct batch`, hands it
 *   whole to the worker through uv_work_t, and touches it again only in the
 *   done callback, after the worker has finished with it.
 * - sender_batch.c: the worker thread. It sees only the batch it was handed
 *   and `struct sender_worker` (the store, the composers, its cursors), never
 *   `struct sender`: a data race between the two is impossible by
 *   construction, not by care. It writes outcomes, claims and renders.
 * - sender_route.c: routing on the loop: recipient domains, MX look-ups,
 *   destinations and their policies, warm-up caps, send windows.
 *
 * What both threads may read is fixed before the loop starts and never
 * written after (struct scamp's `camp`, `idx`, `has_window`, marked
 * "immutable"); everything else of a struct belongs to one thread, as
 * marked.
 */
#ifndef KIRIM_SENDER_INT_H
#define KIRIM_SENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/campaign.h"
#include "kirim/config.h"
#include "kirim/disposition.h"
#include "kirim/par.h"
#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/lease.h"
#include "kirim/mta_sts.h"
#include "kirim/tlsrpt.h"
#include "kirim/policy.h"
#include "kirim/pool.h"
#include "kirim/sender.h"
#include "kirim/smtp_outcome.h"
#include "kirim/store.h"
#include "kirim/store_bounce.h"
#include "kirim/store_dest.h"
#include "kirim/store_sender.h"
#include "kirim/store_tls.h"
#include "kirim/strmap.h"
#include "kirim/when.h"
#include "kirim/when_tz.h"
#include "kirim/wrr.h"

enum {
	SENDER_TICK_MS = 250,
	/* Rendered bytes in flight at most, through a relay: what keeps memory flat whatever
	 * the message size (a message is written from its own buffer, not copied again). At
	 * 40 KB, 8 MiB is 200 messages, a run of several for each of 32 connections; above
	 * that the cap grows by SENDER_INFLIGHT_PER_CONN a connection. */
	SENDER_MAX_INFLIGHT_BYTES = 8 << 20,
	SENDER_INFLIGHT_PER_CONN = 128 << 10,
	/* ... direct: SENDER_DIRECT_WINDOW messages of 4 KB; see there. */
	SENDER_DIRECT_INFLIGHT_BYTES = 48 << 20,
	/* How long a domain's DNS answer is reused in a run, whatever its TTL says (the dns
	 * module caches by TTL too; this only spares a look-up per message). */
	SENDER_DNS_MIN_S = 5,
	SENDER_DNS_MAX_S = 3600,
	SENDER_DNS_TEMPFAIL_S = 30,
	/* How often a running sender looks for changed domain policies. */
	SENDER_POLICY_CHECK_S = 3,
	/* ... and for a pause or cancel from another process (the worker's batches). */
	SENDER_STATE_CHECK_S = 1,
	/* Messages in flight at least, direct: many destinations share the window, and a
	 * destination waiting for a connection slot needs a queue worth the connect (the
	 * pool gives slots to the longest queues): with 100 destinations, about 120 each. */
	SENDER_DIRECT_WINDOW = 12288,
	/* How often a running sender looks for suppressions made since it started (the
	 * database and kirim serve's journal): what is claimed and not yet on the wire is
	 * withdrawn when its address, domain or contact appears there. */
	SENDER_WATCH_MS = 500,
	/* A busy database (another writer past the busy timeout): the next try after this
	 * long; outcomes wait in memory meanwhile (bounded: nothing new is claimed). */
	SENDER_BUSY_RETRY_MS = 200,
	/* The walk that makes a campaign's messages as it sends (store.h:
	 * store_messages_walk): contact ids per range, each range's messages in the batch
	 * transaction that needs them. 1,000 ids cost about 17 ms of the worker's time
	 * (1,000,000 took 17 s in one statement): less than the window in flight lasts
	 * (512 messages at c32 through a relay), so a batch that walks a range does not
	 * leave the connections idle. KIRIM_QUEUE_CHUNK overrides it, for tests. */
	SENDER_WALK_SPAN = 1000,
	/* A batch walks further only while its claims come up short and it has walked for
	 * less than this long: a walk over ids that make no new message (a campaign sent
	 * again) goes on in the next batches, and outcomes are written meanwhile. */
	SENDER_WALK_BATCH_MS = 250,
	/* ... and one range more, ahead of the claims, while fewer than this many batches'
	 * worth of made messages are left unclaimed, so that claims never wait for it. */
	SENDER_WALK_AHEAD_BATCHES = 4,
	/* A run of NXDOMAIN answers older than this is stale: the next one starts anew. */
	SENDER_NXDOMAIN_STALE_S = 86400,
	/* A domain delivered to within this long is never bounced on a DNS answer. */
	SENDER_NXDOMAIN_TRUST_S = 30 * 86400,
};

struct sender;
struct scamp;

/* A source address of kirim.conf's [egress] sections (docs/egress.md). */
struct ssource {
	char name[CONFIG_EGRESS_NAME_MAX];
	char pools[CONFIG_EGRESS_POOLS_MAX][CONFIG_EGRESS_NAME_MAX]; /* the pools it is in */
	size_t npools;
	char address[64];
	char ehlo[256];               /* its EHLO name: its own, else the run's */
	unsigned weight;              /* its share of each destination's messages */
	struct sockaddr_storage addr; /* port 0 */
};

/* One source's warm-up count as this node knows the cluster's, with a Redis
 * (docs/scale-out.md: reserved in Redis one message at a time). */
struct swarm {
	long known; /* the day's count as Redis last told it, else as the database said */
	long local; /* sent under the local share while Redis was away, not told to it yet */
	bool full;  /* Redis said the day's cap is reached: nothing more from this source today */
};

/*
 * A destination of a send: what it was made for (to apply policies again when they
 * change), its warm-up plan, and one pool destination per source address of the egress
 * pool (one without binding when there is none): each with its own connections, rates,
 * adaptive throttle and warm-up count, the messages spread over them by weight (wrr).
 */
struct sdest {
	char *key;
	char domain[256]; /* the first domain routed to it */
	char *hosts[DNS_MAX_HOSTS];
	size_t nhosts;
	struct pool_dest **pd; /* per source of its pool, or one without binding */
	struct ssource **src;  /* per pd: its source (borrowed from S->src), or NULL */
	long *sent;            /* per source: attempts today, this run's and the database's */
	struct swarm *warm;    /* per source, with a Redis: the cluster's count as known */
	struct wrr_item *wrr;  /* per source: its weight and turn */
	size_t npd;
	char warmup[POLICY_WARMUP_MAX];
	int64_t warmup_start; /* Unix day */
	int64_t day;          /* the Unix day sent counts */
	long cap;             /* today's warm-up cap per source, -1 when none */
	bool capped;          /* every source reached today's cap (logged once) */
};

/* A recipient domain of a direct send: its destination once resolved, the jobs waiting
 * for its look-up meanwhile, or why it cannot be reached (until expires). */
struct sdomain {
	struct sender *S;
	char name[256];
	bool resolving;
	bool invalid;   /* not a domain name at all: no look-up was made */
	bool dns_no;    /* the last answer said no such domain, or no host for mail: to be
	                   confirmed before it bounces hard (sender_write_result) */
	double expires; /* clock_seconds() */
	struct sdest *dest;
	char ecode[8];
	char error[512];
	struct sjob **wait;
	size_t nwait, capwait;
	/* While resolving: the look-ups and fetches not finished (the MX look-up, the
	 * _mta-sts TXT look-up, the policy fetch); the MX answer waits in mx until the last. */
	int pending;
	struct smx *mx;
	/* Its transport security (sender_tls.c), decided with each look-up. */
	const struct ssts *sts;      /* the MTA-STS policy in force (enforce or testing), or NULL */
	struct http_client *fetch;   /* the policy fetch running, or NULL */
	char sts_id[MTA_STS_ID_MAX]; /* the _mta-sts TXT record's id, "" when none */
	char sts_error[256];         /* why no live policy was had ("" when none was wanted) */
	char tlsrpt[TLSRPT_RUA_MAX]; /* its TLS-RPT addresses (rua=), "" when none */
};

/* What DANE (RFC 7672) says of one MX host, from its TLSA look-up. */
enum sdane_state {
	SDANE_NONE,     /* no TLSA records, or not DNSSEC-validated (or DANE off): no DANE */
	SDANE_USABLE,   /* validated records, some usable: the certificate must match one */
	SDANE_UNUSABLE, /* validated records, none usable: TLS without authentication */
	SDANE_FAILED,   /* the look-up failed (a validation failure reads as SERVFAIL): the host
	                   must not be used (RFC 7672 2.1.1) */
};

struct sdane {
	enum sdane_state state;
	struct dns_tlsa recs[DNS_TLSA_MAX];
	size_t n;
	char error[200];
};

/* A domain's MX answer kept while its other look-ups finish (owned by the sdomain). */
struct smx {
	int status;
	char error[400];
	struct dns_mx_host *hosts;
	size_t nhosts;
	int from_a, secure;
	unsigned ttl;
	struct sdane *dane; /* per host (nhosts), when its TLSA records were looked up */
};

/* A recipient domain's MTA-STS policy as this run knows it: read from the database at
 * the start, replaced when a fetch brings a new one. Owned by sender.sts. */
struct ssts {
	char id[MTA_STS_ID_MAX];
	struct mta_sts_policy p;
	char *text; /* mta_sts_policy_format's */
	int64_t fetched_at, expires_at;
};

/* Transport-security facts made on the loop and written by the worker (they travel in a
 * batch, and come back to the sender when the database was busy). Strings owned. */
struct stls_out {
	struct store_sts *sts; /* policies fetched */
	size_t nsts;
	struct store_domain_tls *dom; /* what was found of domains' records */
	size_t ndom;
	struct store_tls_result *res; /* sessions' TLS results, for TLS-RPT */
	size_t nres;
};

/* One outcome waiting to be written. Strings are owned. Made on the loop, written by the
 * worker (it travels in a batch). */
struct sresult {
	const struct scamp *c; /* the campaign of the message (its immutable part) */
	int64_t message_id;
	enum outcome outcome;
	int attempted; /* 0: handed back unattempted (shutdown) */
	int withdrawn; /* unattempted because its address was suppressed meanwhile */
	int render;    /* the message could not be made (failed, never sent) */
	int attempts;  /* attempts made before this one */
	int64_t queued_at;
	int64_t not_before;    /* unattempted: the earliest next attempt (0: now) */
	enum bounce_class cls; /* a failure's class, for the loop's totals */
	enum smtp_stage stage;
	int code;
	unsigned flags;        /* SMTP_RESULT_* of the fact */
	enum smtp_local local; /* which local refusal it was, if one */
	char *ecode, *text, *host, *tls, *dest;
	/* The source address bound and the EHLO name (NULL when none): borrowed from the
	 * pool's destination (pool_conn_info), which pool_free frees after the run. */
	const char *source, *helo;
	char *rcpt;        /* proofs only: the address */
	char *domain;      /* an NXDOMAIN failure only: the recipient's domain */
	char *rcpt_domain; /* the recipient's domain as claimed (the report rollups) */
};

/* One message on its way: the job the pool carries, and what it needs. Made by the
 * worker, owned by the loop once the batch is back. */
struct sjob {
	struct smtp_job job;
	struct scamp *c;
	struct pool_dest *pd; /* where it was submitted (NULL before) */
	bool gone;            /* withdrawn by sender_keep: suppressed meanwhile */
	/* Its warm-up reservation with a Redis (sdest_submit): of source wk of wsd, for day
	 * wday; WARM_ASKING while Redis has not answered (wextra: the local sends told with
	 * the ask), WARM_REDIS reserved there, WARM_LOCAL one of the local share. Given back
	 * when it comes back not attempted (sender_warmup_done). */
	enum { WARM_NONE, WARM_ASKING, WARM_REDIS, WARM_LOCAL } wstate;
	struct sdest *wsd;
	size_t wk;
	int64_t wday;
	long wextra;
	int64_t message_id;
	int64_t contact_id;
	int attempts;
	int64_t queued_at;
	const char *rcpts[1];
	char *rcpt;
	char *domain;              /* the recipient's, A-label */
	char tz[WHEN_TZ_NAME_MAX]; /* with a send window: the recipient's zone, "" = the campaign's
	                            */
	char sender[ADDRESS_MAX + 1];
	struct buf data; /* the message in its wire form (dot-stuffed, ending in CRLF.CRLF) */
	bool compose;    /* to be rendered, signed and put in wire form by the batch's composing */
	char *attrs;     /* with compose: the contact's attributes, until the composing */
	char *compose_err; /* why the composing failed */
	struct sresult res;
};

/* A throttle change waiting to be saved in the destinations table. Strings owned. */
struct sdstate {
	struct store_dest_state d;
	char *name, *domain, *change, *note;
};

/* What of a campaign only the worker touches (its composer renders on the worker). */
struct scamp_work {
	struct campaign_composer cc;
	size_t links_saved; /* click-tracking links written to the campaign so far */
	/* With composing threads: the composers (composer_dup) and signers of threads 1..
	 * (thread 0 uses cc's), made on the worker the first time they compose,
	 * cc.n_signers signers per thread. */
	struct composer **tcomposers;
	struct dkim_signer **tsigners;
	unsigned ntthreads;
	/* The walk that makes its messages: whether ids are left (set at the start, before
	 * the loop runs), and how many of the messages made are not yet claimed (about). */
	bool walking;
	int64_t ahead;
};

/*
 * A campaign of the run: a sender sends one (kirim send) or several at once (kirim run),
 * all through one pool, so that they share each destination's limits and the global one.
 * Loop-owned except the immutable fields and `w` (the worker's).
 */
struct scamp {
	struct sender *S;
	size_t idx;                 /* immutable: its place in S->camps and in a batch */
	struct store_campaign camp; /* immutable */
	struct scamp_work w;        /* the worker's (the loop only makes and frees it) */
	struct sender_stats *st;    /* this campaign's figures (the run's own when only one) */
	struct store_bounce_totals totals; /* its bounce totals so far */
	bool paused;                       /* paused itself (auto-pause): nothing new starts */
	char pause_why[256];
	char held[16];  /* "paused" or "cancelled" by another process: nothing new starts */
	bool stopped;   /* its queued jobs were handed back (held, paused) */
	bool exhausted; /* a claim found less than it asked: nothing more due in this run */
	bool walking;   /* its messages are still being made (the worker's last word) */
	/* Its send window (options.window, in options.tz or each recipient's own "timezone"
	 * attribute), checked on the loop as jobs are routed. has_window is immutable. */
	bool has_window;
	struct when_window send_window;
	char camp_tz[WHEN_TZ_NAME_MAX];
	struct strmap zones; /* zone name → struct szone */
	uint64_t due;
};

/* A campaign's part of a batch: in (the loop's view when it made the batch) and out. */
struct batch_camp {
	/* In. */
	struct scamp *c; /* the worker reads its immutable fields only */
	struct scamp_work *w;
	struct store_bounce_totals totals;
	bool active;    /* may take new work */
	bool paused;    /* paused already: not judged again */
	bool cancelled; /* cancelled by another process: what comes back unsent is cancelled */
	/* Out. */
	int want, claimed; /* asked and claimed rows (a claim short of want: nothing more due) */
	int withdrawn;     /* claims withdrawn as suppressed since they were queued */
	int64_t recovered; /* claims of dead senders queued again by this batch */
	int64_t made;      /* messages the walk made */
	bool walking;      /* its walk has ids left: a short claim is not the end */
	bool paused_now;   /* the worker paused it (auto-pause) */
	char pause_why[256];
	char held[16]; /* "paused" or "cancelled" seen in the database: held by another process */
	char held_why[256];
};

/*
 * One batch: made by the loop (sender_pump), handed whole to the worker, handed back
 * whole (sender_work_done). Neither thread touches it while the other has it.
 */
struct batch {
	/* In. */
	struct sresult *res; /* outcomes to write */
	size_t nres;
	struct sdstate *dstates; /* throttle changes to save */
	size_t ndstates;
	char **delivered; /* domains delivered to since the last batch (direct) */
	size_t ndelivered;
	struct stls_out tls; /* transport-security facts to write */
	int want;            /* messages to claim in all (0: none) */
	size_t turn;         /* the campaign whose share comes first */
	bool watch;          /* look for suppressions made meanwhile */
	bool renew;          /* renew the lease */
	bool check;          /* look for pauses and cancels from other processes, and start_due */
	bool policies;       /* look for changed domain policies */
	struct batch_camp *camps;
	size_t ncamps;
	/* Out. */
	struct sjob **jobs; /* claimed and rendered, in the order to route them */
	size_t njobs;
	char **gone; /* keys of what may no longer be mailed (see sender_gone) */
	size_t ngone, capgone;
	struct policy *rows; /* fresh domain policies, when they changed */
	size_t nrows;
	bool policies_changed;
	bool busy;    /* the database was busy: nothing was written; res etc. to keep */
	bool yield;   /* start_due said something else should start */
	bool renewed; /* the lease was renewed */
	int fail;     /* a SENDER_E_ code: the run stops */
	char err[512];
	struct buf proofs; /* proofs: one line per address */
};

/* The worker's own state: touched only by sender_batch_run, one batch at a time. */
struct sender_worker {
	struct store *store;
	const struct sender_opts *o;
	struct disp_policy policy; /* from o: retries, maximum age, NXDOMAIN confirmation */
	struct store_bounce_rules rules;
	struct buf msg;         /* scratch: one rendered message */
	int64_t me;             /* this sender's row (store_sender.h) */
	struct lease_node node; /* the node it runs as, its lease (set before the loop runs) */
	int64_t supp_after, journal_after, removals_since; /* where the last watch ended */
	int64_t policy_version;
	bool tested; /* the proofs are rendered */
	/* Signed composing on every core (sender_opts.workers): the batch's messages are
	 * claimed on the worker, then rendered, signed and put in wire form on the pool's
	 * threads, each with its own composer, signers and scratch. NULL: the worker renders
	 * and signs each message as it claims it. */
	struct par *par;
	struct buf *scratch; /* one per thread of par */
	int64_t walk_span;   /* contact ids per range of a walk (SENDER_WALK_SPAN) */
};

/*
 * The loop's sender. Fields are the loop's; `worker` is handed to the worker
 * thread with each batch and not touched by the loop while one runs.
 */
struct sender {
	uv_loop_t loop;
	struct store *store; /* the loop uses it only before the loop runs and after it ends */
	const struct sender_opts *o;
	struct sender_stats *st;
	struct scamp *camps;
	size_t ncamps;
	size_t turn; /* the campaign whose share of a batch comes first (round robin) */
	struct sender_worker worker;
	struct pool *pool;
	struct redis_limit *rl; /* the limits shared through Redis, or NULL (docs/scale-out.md) */
	/* Jobs of warm-up capped destinations waiting for Redis's first answer (at most 2 s):
	 * neither its count nor a local share is known before (sender_warmup_retry). */
	struct sjob **warm_wait;
	size_t nwarm_wait, capwarm_wait;
	struct pool_dest *dest; /* the relay; NULL when direct */
	struct sdest *relay;    /* the relay's destination over the egress sources, or NULL */
	struct ssource *src;    /* every [egress] source of kirim.conf */
	size_t nsrc;
	const char *egress; /* the run's pool: --egress, else "default" (a domain policy's
	                       egress field chooses another for its destinations) */
	/* Direct delivery (sender_route.c). */
	struct dns *dns;
	struct strmap domains;    /* name → struct sdomain */
	struct strmap dests;      /* MX host set → struct sdest */
	struct strmap sent_today; /* "DEST" or "DEST SOURCE-ADDRESS" → attempts today before
	                             this run (intptr_t) */
	/* Transport security of direct delivery (sender_tls.c). */
	bool sts_on;                /* MTA-STS policies are looked up and applied */
	bool dane_on;               /* TLSA records of secure MX hosts are looked up and used */
	unsigned sts_port;          /* port of the policy hosts (443; tests change it) */
	struct strmap sts;          /* domain → struct ssts */
	struct tls_ctx *verify_ctx; /* verifying context (the CAs of [tls] ca_file or the
	                               system's), shared by policy fetches and the destinations
	                               that must verify; NULL when the CAs cannot be loaded */
	char verify_err[256];       /* why verify_ctx is NULL */
	struct stls_out tls_out;    /* facts for the next batch */
	/* Domain policies in use. */
	struct policy *rows;
	size_t nrows;
	struct pool_dest_config mx; /* settings of every MX destination (through a relay: the
	                               relay's, for the destinations of domains with policies) */
	struct pool_addr relay_addr;
	unsigned mx_port;
	uv_timer_t tick;
	uv_work_t work;
	struct batch *batch; /* the one the worker has, or NULL */
	bool draining;       /* no more claims: nothing due, or stopping */
	bool stopping;
	bool finished;
	int fail;
	char err[512];
	/* Outcomes and throttle changes collected on the loop, written by the next batch. */
	struct sresult *pending;
	size_t npending, cappending;
	struct sdstate *dstates;
	size_t ndstates;
	size_t inflight;
	size_t inflight_bytes;
	size_t avg_bytes; /* of the messages rendered so far (0 before the first) */
	unsigned window;
	size_t max_bytes; /* rendered bytes in flight at most */
	uint64_t due;
	double t0;
	/* When the loop last asked a batch to do its periodic looks. */
	double watched, renewed, checked, policy_checked;
	int64_t me; /* this sender's row; its full row is in `me_row` */
	struct store_sender_row me_row;
	bool me_lent;     /* the row is kirim run's (sender_opts.me): kept at the end */
	unsigned renew_s; /* how often the lease is renewed (lease_renew_s) */
	/* Suppressions since the run started: "a:ADDRESS" (lower case), "d:DOMAIN",
	 * "c:CONTACT" (unsubscribed everywhere, journaled), "l:LIST:CONTACT" (from one list). */
	struct strmap gone;
	/* Domains delivered to since the last batch, written by the next (direct). */
	struct strmap delivered;
	/* The database was busy: when that started, and the next try. */
	double busy_since, retry_at;
};

/* sresult_clear - free r's strings and zero it */
void sresult_clear(struct sresult *r);
/* sjob_free - NULL is a no-op */
void sjob_free(struct sjob *j);
/* sdstate_clear - free x's strings */
void sdstate_clear(struct sdstate *x);
/* batch_facts_clear - free the outcomes, destination states, TLS results and delivered
 * domains a batch carries (their arrays stay, empty) */
void batch_facts_clear(struct batch *b);
/* batch_free - free a batch and whatever it still holds */
void batch_free(struct batch *b);

/* sender_batch_run - the worker: write b's outcomes, claim and render (sender_batch.c) */
void sender_batch_run(struct sender_worker *W, struct batch *b);

/* sender_withdraw - j comes back unsent: suppressed since it was claimed (sender.c) */
void sender_withdraw(struct sender *S, struct sjob *j);
/* sender_hand_back - j goes back to the queue unattempted, due again at not_before */
void sender_hand_back(struct sender *S, struct sjob *j, int64_t not_before, const char *why);
/* sender_job_done - the pool's job_done: j's outcome joins the pending ones (sender.c) */
void sender_job_done(struct sender *S, struct sjob *j);
/* sender_job_fact - the pool's rcpt: j's outcome from r (sender.c) */
void sender_job_fact(struct sender *S, struct sjob *j, const struct smtp_result *r,
                     const struct pool_conn_info *ci);

/* Routing (sender_route.c, loop). */
/* sender_route - send j to the relay, or to its domain's MX hosts (looking them up first) */
void sender_route(struct sender *S, struct sjob *j);
/* sender_apply_policies - the policy rows changed: new limits for every destination */
void sender_apply_policies(struct sender *S);
/* sender_dest_domain - the first domain routed to destination name ("" if none) */
const char *sender_dest_domain(const struct sender *S, const char *name);
/* sender_egress - every [egress] source of cfg into S->src, each address bound once to see
 * that this host has it (fallback_ehlo for those without a name of their own), and pool
 * (NULL: "default") as the run's. 0, or -1 with the reason in err (pool named and without
 * a source, an address not here). */
int sender_egress(struct sender *S, const struct config *cfg, const char *pool,
                  const char *fallback_ehlo, char *err, size_t errsz);
/* sender_dests_add - sd's pool destinations (named dc->name), one per source of egress
 * pool pool ("": the run's), or one without binding when the run's pool has none; 0, or
 * -1 with err (a pool a policy names that has no source, a TLS set-up) */
int sender_dests_add(struct sender *S, struct sdest *sd, const struct pool_dest_config *dc,
                     const char *pool, char *err, size_t errsz);
/* sender_warmup_done - j's outcome is known: a warm-up reservation it did not use (not
 * attempted, or failed here before the server saw it) is given back */
void sender_warmup_done(struct sender *S, struct sjob *j);
/* sender_warmup_retry - the tick: jobs that waited for Redis's first answer go on */
void sender_warmup_retry(struct sender *S);
/* sender_route_free - free the domains and destinations (every job came back) */
void sender_route_free(struct sender *S);
/* sender_gone - whether j's recipient was suppressed since the run started */
bool sender_gone(const struct sender *S, const struct sjob *j);
/* sender_keep - pool_cbs.keep: whether job may still go on the wire */
bool sender_keep(void *owner, struct smtp_job *job);
/* sdomain_step - one of dm's look-ups or fetches finished: route its jobs after the last */
void sdomain_step(struct sdomain *dm);

/* Transport security (sender_tls.c, loop; stls_out_write on the worker). */
/* sender_tls_init - before the loop: cached policies, the verifying context */
int sender_tls_init(struct sender *S, struct store *s, const char *ca_file, char *err,
                    size_t errsz);
/* sender_tls_free - after the loop: policies, context, facts not written */
void sender_tls_free(struct sender *S);
/* sender_sts_lookup - start dm's _mta-sts look-up (dm->pending counts it) */
void sender_sts_lookup(struct sdomain *dm);
/* sender_dane_lookup - start the TLSA look-ups of mx's secure hosts (dm->pending counts
 * them) */
void sender_dane_lookup(struct sdomain *dm, struct smx *mx);
/* sender_tlsrpt_lookup - start dm's _smtp._tls look-up (dm->pending counts it) */
void sender_tlsrpt_lookup(struct sdomain *dm);
/* sender_tls_note - what dm publishes and what came of it, for kirim domain show (mx: its
 * MX answer and TLSA results) */
void sender_tls_note(struct sdomain *dm, const struct smx *mx);
/* sender_tls_count - one TLS-RPT session (or failed attempt: a policy fetch, a TLSA look-up)
 * of domain, counted with the facts the worker writes; policy_type and result static */
void sender_tls_count(struct sender *S, const char *domain, const char *policy_type,
                      const char *policy, const char *mx_host, const char *receiving_ip,
                      const char *sending_ip, const char *result, const char *detail);
/* sender_tls_result - pool_cbs.tls_result: count a session's TLS for its domain's TLS-RPT
 * (the sessions of a destination of one domain's own: under a policy, or a TLS-RPT record) */
void sender_tls_result(void *owner, struct pool_dest *d, const struct pool_tls_result *r);
/* sender_tls_cancel - stop dm's fetch, if one runs (the run ends) */
void sender_tls_cancel(struct sdomain *dm);
/* stls_out_move - append from's facts to to's, leaving from empty */
void stls_out_move(struct stls_out *to, struct stls_out *from);
/* stls_out_empty - nothing to write */
bool stls_out_empty(const struct stls_out *o);
/* stls_out_clear - free what o holds */
void stls_out_clear(struct stls_out *o);
/* stls_out_write - the worker writes o's facts (in its transaction); 0 or a store error */
int stls_out_write(struct store *s, const struct stls_out *o);

#endif
