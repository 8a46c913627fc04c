/*
 * redis_limit - destinations' limits shared by every node through Redis
 * (docs/scale-out.md): the pool's shared limiter (pool.h, struct pool_shared).
 * The only module that includes hiredis.
 *
 * What is shared, per destination and source address (the pool destination's
 * name and pool_dest_source):
 * - its message rate: a GCRA in a Lua script, atomic. A node reserves a grant of
 *   several tokens at once (a tenth of a second's worth, at least one), and the
 *   script answers when the first may go and how far apart the rest are: one
 *   round trip per grant, none per message while a grant lasts. A node that
 *   waits is told when, not told to ask again.
 * - its connection cap, when a policy set it (pool_limits.shared_conns): leases in
 *   a sorted set, each with an expiry the node renews every 2 s, so that a dead
 *   node's connections free themselves within 30 s.
 * - its adaptive throttle (AIMD): a change made on one node (a 421 4.7.0 seen
 *   there) is written to a hash; the others read it with their next grant or
 *   lease and adopt it (pool_dest_adopt).
 *   A suspension goes with it as an end time (Redis's clock): the others are
 *   suspended until then too.
 * - the pool's global rate (kirim domain set global): one GCRA, as a destination's.
 * - warm-up counts (redis_limit_reserve): today's count per destination and
 *   source in a key per UTC day, reserved one message at a time under the day's
 *   cap by a script, so that the nodes together never pass it.
 * Nodes say they are alive in a sorted set too (PREFIX:nodes), which gives N.
 *
 * Without Redis (never reached, or lost): each destination falls back to a
 * conservative local share, rate / N and cap / N (at least one connection),
 * N the nodes last seen alive in Redis, else the count given at start; each
 * change of mode is logged once; the limiter reconnects with backoff (0.25 s
 * doubling to 4 s) and shared limits resume when Redis answers again. A
 * request unanswered for 2 s counts as Redis lost.
 *
 * Runs on the pool's loop and never blocks it (hiredis's async API through its
 * libuv adapter; a host name is looked up with uv_getaddrinfo). Logs mode
 * changes at info or warn, the rest at debug.
 */
#ifndef KIRIM_REDIS_LIMIT_H
#define KIRIM_REDIS_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kirim/pool.h"
#include "kirim/redis_url.h"

#define REDIS_LIMIT_PREFIX "kirim" /* keys start "kirim:" unless [redis] prefix says */
#define REDIS_LIMIT_PREFIX_MAX 64

struct redis_limit_config {
	struct redis_url url;
	char prefix[REDIS_LIMIT_PREFIX_MAX]; /* keys start "PREFIX:"; "" = REDIS_LIMIT_PREFIX */
	unsigned nodes;                      /* the fallback's N when > 0 ([redis] nodes) */
	unsigned start_nodes; /* N before Redis was ever reached (live senders at start) */
};

/* What the limiter did, for the run's summary and tools/bench-cluster. */
struct redis_limit_stats {
	bool up;                 /* Redis answers now */
	unsigned nodes;          /* the N a fallback would use now */
	unsigned long ops;       /* commands sent */
	unsigned long grants;    /* rate grants answered */
	unsigned long tokens;    /* message tokens taken from grants */
	unsigned long local;     /* message tokens taken from the fallback's local share */
	unsigned long leases;    /* connection leases taken */
	unsigned long adopted;   /* other nodes' AIMD changes adopted */
	unsigned long fallbacks; /* times Redis was lost */
};

struct redis_limit;

/* redis_limit_new - a limiter on loop, connecting at once (c copied) */
struct redis_limit *redis_limit_new(uv_loop_t *loop, const struct redis_limit_config *c);
/* redis_limit_shared - the pool's callbacks for rl (pool_set_shared) */
void redis_limit_shared(struct redis_limit *rl, struct pool_shared *out);
/* A warm-up reservation's answer (redis_limit_reserve). */
enum redis_limit_count {
	REDIS_LIMIT_COUNTED, /* reserved: count is the day's count with it */
	REDIS_LIMIT_FULL,    /* the cap is reached: nothing reserved; count is the day's count */
	REDIS_LIMIT_LOST,    /* Redis went away before it answered: nothing known */
};
typedef void (*redis_limit_count_cb)(void *arg, enum redis_limit_count got, long count);

/*
 * redis_limit_reserve - reserve one message of name's count for Unix day (a warm-up count,
 * PREFIX:warmup:DAY:NAME, kept two days) within cap. A count Redis does not have yet starts
 * at seed (what the database counted); extra (messages sent while Redis was away) is added
 * first, whatever the cap. true: asked, and cb(arg, ...) is called once, later, on the loop
 * (keep arg alive until then); false: Redis is not up, nothing asked (apply the local share,
 * cap / redis_limit_nodes).
 */
bool redis_limit_reserve(struct redis_limit *rl, const char *name, int64_t day, long cap, long seed,
                         long extra, redis_limit_count_cb cb, void *arg);
/* redis_limit_unreserve - give n reservations of name's day back (messages not sent after
 * all); nothing when Redis is not up */
void redis_limit_unreserve(struct redis_limit *rl, const char *name, int64_t day, long n);
/* Whether Redis answers (redis_limit_mode). */
enum redis_limit_mode {
	REDIS_LIMIT_STARTING, /* the first connect has not come to anything yet (2 s at most) */
	REDIS_LIMIT_SHARED,   /* Redis answers: limits shared */
	REDIS_LIMIT_FALLBACK, /* lost, or never reached: the local share holds */
};
/* redis_limit_mode - whether Redis answers now */
enum redis_limit_mode redis_limit_mode(const struct redis_limit *rl);
/* redis_limit_nodes - the fallback's N now */
unsigned redis_limit_nodes(const struct redis_limit *rl);
/* redis_limit_stats - what rl did so far */
void redis_limit_stats(const struct redis_limit *rl, struct redis_limit_stats *st);
/* redis_limit_close - the run ends: leases given back, the connection and timers closed
 * (the loop then runs out); call before pool_free */
void redis_limit_close(struct redis_limit *rl);
/* redis_limit_free - after the loop has run out and pool_free; NULL is a no-op */
void redis_limit_free(struct redis_limit *rl);

/*
 * redis_limit_ping - for kirim status, off any loop (blocks up to timeout_s):
 * 0 when Redis at u answers (*nodes: the live nodes under prefix), or -1 with
 * the reason in err.
 */
int redis_limit_ping(const struct redis_url *u, const char *prefix, double timeout_s,
                     unsigned *nodes, char *err, size_t errsz);

#endif
