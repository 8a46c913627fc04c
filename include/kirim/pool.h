/*
 * pool - connections per destination, on one libuv loop.
 *
 * A destination is where a set of jobs goes (the relay, or an MX host set
 * shared by every domain it serves): its addrs (host addresses, in the order
 * to try them), its TLS/AUTH settings and its limits (connections at once,
 * jobs per connection). Jobs wait in the destination's queue; the pool
 * opens sessions up to the limits (and a global one; a session beyond a
 * destination's first only while 8 jobs wait per session), keeps them busy
 * with the next job, and lets the session's idle timeout close them when the
 * queue is empty. When every global slot is taken, destinations with waiting
 * jobs get the slots of sessions that go idle elsewhere, the longest queues
 * first (at once for 64 jobs, else after waiting 500 ms). New sessions go to an address that is not
 * marked bad, of the lowest preference, turn by turn among equals (MX load spreading). A session
 * that ends without finishing a job (refused, unreachable, timed out, 4xx or
 * 5xx greeting) marks its address bad for 30 s and the next session tries the
 * next address: MX failover. When every address is bad and no session is left,
 * the destination is down until the first address's mark runs out: its queued
 * jobs, and jobs submitted meanwhile, are handed back at once (ABORTED, below)
 * instead of reconnecting in a loop. A slow or failing destination never
 * stalls the others.
 *
 * Attempts: a job gets an attempt counted (a result without
 * SMTP_RESULT_ABORTED) only if it was sent, or its session failed while it was
 * the one in the transaction (MAIL written): then the result is its own, the
 * server's reply or the broken connection. Every other job comes back
 * flagged SMTP_RESULT_ABORTED, never attempted, whatever happened to the
 * destination: jobs queued when it goes down or is suspended, jobs submitted
 * meanwhile, jobs handed back by pool_hand_back or pool_shutdown. A job a
 * session took but never started (its session died first) is not handed back
 * at all: it goes back to the head of the destination's queue for the next
 * session. For a down or suspended destination, the ABORTED result keeps the
 * last failure's stage, code, ecode and flags (facts about another
 * transaction or the destination, not about this message), its text says
 * "destination NAME down until TIME (N s): LAST FAILURE", and
 * pool_dest_retry_in says how many seconds until the destination takes jobs
 * again (> 0 during the job_done and rcpt callbacks of such a hand-back; 0 for
 * pool_hand_back and pool_shutdown), so that the owner offers the job again
 * then rather than at once. The adaptive throttle still sees every real
 * failure (the session's), never an ABORTED hand-back.
 *
 * Throttling: a destination may have a message rate and a connection rate
 * (token buckets, smooth: 3600/h is one a second), and the pool may have a
 * global message rate; a session gets its next job only when a token is
 * there, else it waits (the destination's timer wakes it). With adaptive
 * set, the destination's replies feed an AIMD controller (throttle.h):
 * "slow down" replies, refused connections and timeouts halve its rate and
 * connections, repeated ones suspend it (its jobs are handed back ABORTED),
 * and sustained success climbs back. Each change is logged and reported to
 * the owner. Logs changes at info level, the rest at debug.
 *
 * Source addresses: a destination whose session config has a bind_addr binds every
 * session to it (and its helo_name); the owner makes one destination per source address
 * of an egress pool, all with the same name, so that each has its own limits, throttle
 * and queue (docs/egress.md). pool_conn_info and pool_dest_info say which source.
 */
#ifndef KIRIM_POOL_H
#define KIRIM_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "kirim/smtp_session.h"

struct pool;
struct pool_dest;

/* Where a job went: borrowed for the duration of a callback, but for source and helo,
 * which are the destination's own and stay until pool_free. */
struct pool_conn_info {
	const char *dest;   /* destination name */
	const char *host;   /* host connected to: "name[address]" */
	const char *tls;    /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" without TLS */
	const char *source; /* the source address bound (session.bind_addr), "" when none */
	const char *helo;   /* the EHLO name the session gave, "" before it had a session */
};

struct pool_dest_info;

/* One session's TLS, for TLS-RPT (RFC 8460): reported once per session that got as far as
 * TLS (offered or not), whether it carried mail or not. Borrowed for the callback. */
struct pool_tls_result {
	const char *host;            /* the MX host's name */
	const char *ip;              /* its address */
	const char *local_ip;        /* ours */
	int ok;                      /* TLS up */
	int no_starttls;             /* the server offered no STARTTLS, or refused it */
	enum tls_check check;        /* what checking its certificate found */
	const char *text;            /* a failure's text, "" when ok */
	const struct tls_tlsa *tlsa; /* the address's TLSA records under DANE (ntlsa), or NULL */
	size_t ntlsa;
};

struct pool_cbs {
	/* The final fact for recipient i of job. */
	void (*rcpt)(void *owner, struct smtp_job *job, size_t i, const struct smtp_result *r,
	             const struct pool_conn_info *ci);
	/* The job is done and handed back (after every rcpt call for it). */
	void (*job_done)(void *owner, struct smtp_job *job, const struct smtp_result *r,
	                 const struct pool_conn_info *ci);
	/* Optional: the adaptive throttle changed a destination (info->note says how). */
	void (*throttle)(void *owner, struct pool_dest *d, const struct pool_dest_info *info);
	/*
	 * Optional: asked just before a session starts job (the last moment before its
	 * MAIL FROM goes on the wire); false means the owner no longer wants it sent:
	 * it comes back at once through rcpt and job_done, ABORTED ("withdrawn by its
	 * owner"), and takes no rate token. Must not call into the pool.
	 */
	bool (*keep)(void *owner, struct smtp_job *job);
	/* Optional: one session's TLS came about, or did not (see struct pool_tls_result).
	 * Must not call into the pool. */
	void (*tls_result)(void *owner, struct pool_dest *d, const struct pool_tls_result *r);
};

/* A destination's limits; 0 means unlimited for the rates. */
struct pool_limits {
	unsigned max_conns;  /* connections at once (at least 1) */
	double rate;         /* messages per second */
	double connect_rate; /* new connections per second */
	int adaptive;        /* slow down when the destination complains (AIMD) */
	bool shared_conns;   /* max_conns is the destination's own (a policy): with a shared
	                        limiter it holds across every node, not per process */
};

/* What a destination is doing now (pool_dest_info). */
struct pool_dest_info {
	const char *name;
	const char *source; /* the destination's source address (session.bind_addr), or "" */
	unsigned conns, busy;
	size_t queued;
	struct pool_limits limits; /* configured */
	double rate_now;           /* effective rate (AIMD), 0 = unlimited */
	unsigned conns_now;        /* effective connection cap */
	double suspended_s;        /* seconds of suspension left, 0 when not suspended */
	unsigned long sent;        /* jobs handed to sessions */
	unsigned long slowdowns, suspensions;
	const char *note;   /* the last throttle change in words, or "" */
	const char *change; /* "decreased", "suspended", "increased", "resumed", or "" */
};

/* One address of a destination: a host name (for TLS SNI and verification, and logs) and
 * one of its addresses, with the port set. */
struct pool_addr {
	const char *host;
	const struct sockaddr *addr;
	unsigned pref; /* MX preference: new sessions spread over the good addrs of the lowest */
	/* A TLS policy of this address's own instead of the destination's (own_tls set): DANE
	 * for an MX host with TLSA records (copied), or another level. */
	bool own_tls;
	enum tls_policy tls_policy;
	const struct tls_tlsa *tlsa;
	size_t ntlsa;
};

enum { POOL_MAX_ADDRS = 32 };

struct pool_dest_config {
	const char *name;              /* copied */
	const struct pool_addr *addrs; /* in the order to try (copied); at most POOL_MAX_ADDRS */
	size_t naddrs;                 /* at least 1 */
	struct pool_limits limits;
	struct smtp_session_config session; /* max_jobs is the per-connection cap */
};

struct pool_stats {
	unsigned connections;   /* open now */
	size_t queued;          /* jobs waiting in destination queues */
	size_t busy;            /* jobs on a connection */
	unsigned long connects; /* sessions started so far */
};

/*
 * A limiter shared with other processes (redis_limit.h): when set, a destination's message
 * rate (when it has one) and its shared connection cap (pool_limits.shared_conns) are asked
 * of it instead of this process's bucket and count, and so is the pool's global rate
 * (pool_set_rate); its adaptive throttle's changes, suspensions included, are told to it.
 * Every callback runs on the loop and must not call into the pool, except as said.
 */
struct pool_shared {
	/* A destination was added: its limiter state (given back to the other callbacks), or
	 * NULL when it shares nothing. The limiter may keep d to call pool_dest_wake and
	 * pool_dest_adopt on it until detach. */
	void *(*attach)(void *arg, struct pool_dest *d);
	/* The pool's global rate: its limiter state for take, or NULL when it is not shared.
	 * The limiter may keep p to call pool_wake on it until detach. */
	void *(*attach_global)(void *arg, struct pool *p);
	void (*detach)(void *state); /* pool_free: the destination (or the pool) goes */
	/* One message token at rate (per second, > 0): 0 there, go now (taken when take is
	 * set; only looked at when not, and then a call with take set at once after takes
	 * it); > 0 seconds until one is due (ask again then); < 0 none known yet: the limiter
	 * calls pool_dest_wake (pool_wake for the global rate) when there is news. */
	double (*take)(void *state, double rate, bool take);
	/* A lease for one more connection under cap (conns open now): true taken, *lease its
	 * id (0 for one of the limiter's own), given back with conn_done when the session
	 * closes; false not now: the limiter calls pool_dest_wake when it may be. */
	bool (*conn_take)(void *state, unsigned cap, unsigned conns, unsigned long long *lease);
	void (*conn_done)(void *state, unsigned long long lease);
	/* The adaptive throttle changed the destination here (not through pool_dest_adopt):
	 * tell the other nodes. suspended_s: seconds of a suspension it started (0: none);
	 * note says why. */
	void (*changed)(void *state, double rate, unsigned conns, double suspended_s,
	                const char *note);
	void *arg;
};

/* pool_new - a pool on loop; max_conns caps connections over all destinations */
struct pool *pool_new(uv_loop_t *loop, unsigned max_conns, const struct pool_cbs *cbs, void *owner);
/* pool_set_shared - use a shared limiter (copied) for every destination, those there now
 * and those added later */
void pool_set_shared(struct pool *p, const struct pool_shared *sh);
/*
 * pool_burst - a message bucket's size at rate messages a second: one message, plus 2 ms
 * worth at high rates (the loop's timers have a millisecond's grain). A destination that
 * waited (for a slot, a token, a connection) never bursts: in any one-second window it
 * sends at most its rate plus one (plus 0.2% above 500/s). A shared limiter's local
 * fallback bucket takes the same size.
 */
double pool_burst(double rate);
/* pool_dest_wake - look at d again in s seconds (0: from the loop, soon): the shared
 * limiter has news. May be called from the limiter's callbacks. */
void pool_dest_wake(struct pool_dest *d, double s);
/* pool_wake - look again at every destination with jobs waiting, in s seconds: the shared
 * limiter has news of the global rate. May be called from the limiter's callbacks. */
void pool_wake(struct pool *p, double s);
/* pool_dest_adopt - another node's adaptive throttle changed d's levels, or suspended it for
 * suspend_s more seconds (throttle_aimd_adopt): applied, logged and reported like a change
 * of its own (a suspension hands its queued jobs back), and not told back to the limiter */
void pool_dest_adopt(struct pool_dest *d, double rate, unsigned conns, double suspend_s,
                     const char *why);
/* pool_dest_source - d's source address as text, "" when the kernel chooses */
const char *pool_dest_source(const struct pool_dest *d);
/* pool_dest_add - add a destination; NULL with err when its TLS context cannot be made */
struct pool_dest *pool_dest_add(struct pool *p, const struct pool_dest_config *c, char *err,
                                size_t errsz);
/* pool_dest_set_limits - new limits for a destination (a policy changed); takes effect now */
void pool_dest_set_limits(struct pool_dest *d, const struct pool_limits *l);
/* pool_dest_name - the name d was added with */
const char *pool_dest_name(const struct pool_dest *d);
/* pool_dest_info - what the destination is doing; strings borrowed until the next pool call */
void pool_dest_info(const struct pool_dest *d, struct pool_dest_info *out);
/* pool_dest_retry_in - seconds until d takes jobs again: > 0 while it is down (every address
 * failed) or suspended (adaptive throttle), when jobs submitted come back ABORTED at once;
 * 0 when it takes them now. Read it in job_done for an ABORTED job to know when to offer
 * the job again. */
double pool_dest_retry_in(const struct pool_dest *d);
/* pool_set_rate - the global message rate over every destination (0 = unlimited) */
void pool_set_rate(struct pool *p, double rate);
/* pool_submit - queue a job (borrowed until job_done) for a destination */
void pool_submit(struct pool_dest *d, struct smtp_job *job);
/* pool_hand_back - hand back (flagged ABORTED, never attempted) every queued job match()
 * picks, e.g. one campaign's when it is paused while others go on */
void pool_hand_back(struct pool *p, bool (*match)(const struct smtp_job *job, void *arg),
                    void *arg);
/* pool_stats - what the pool holds now */
void pool_stats(const struct pool *p, struct pool_stats *st);
/*
 * pool_shutdown - take no more jobs: queued jobs are handed back (flagged
 * ABORTED, never attempted), busy sessions finish their job and QUIT.
 */
void pool_shutdown(struct pool *p);
/* pool_free - after the loop has run out (every session closed); NULL is a no-op */
void pool_free(struct pool *p);

#endif
