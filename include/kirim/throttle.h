/*
 * throttle - the arithmetic of sending politely: token buckets, rate strings
 * ("600/min"), the additive-increase / multiplicative-decrease controller that
 * slows a destination down when it complains, the table of replies that mean
 * "slow down", the retry schedule of deferred messages and warm-up caps.
 *
 * Pure code: no I/O, no globals, no clock, no logging. Time is always passed
 * in as seconds (a double, any epoch, only differences matter), random values
 * as a number in [0, 1). Every struct here is a plain value the caller owns;
 * nothing allocates. The controller writes a short sentence about each change
 * into its own buffer (a->last) for the caller to log and show; it never logs.
 *
 * The state stays behind this small interface (take a token, report a
 * slow-down or a success); the cluster-wide part (Redis, redis_limit.h) sits
 * beside it and feeds it what other nodes chose (throttle_aimd_adopt).
 */
#ifndef KIRIM_THROTTLE_H
#define KIRIM_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/smtp_reply.h"

/* --- token bucket -------------------------------------------------------------------------- */

/*
 * A token bucket: tokens drip in at rate per second up to burst; sending one
 * message takes one. A rate of 0 means unlimited. The default burst is
 * max(1, one second of tokens) and the bucket starts with one token, so
 * 3600/h lets one message through about every second, never 3600 at once.
 */
struct throttle_bucket {
	double rate;   /* tokens per second; 0 = unlimited */
	double burst;  /* the bucket's size, >= 1 */
	double tokens; /* 0 <= tokens <= burst */
	double last;   /* when tokens was last brought up to date */
};

/* throttle_bucket_init - a bucket of rate/s holding burst (<= 0: the default), one token in */
void throttle_bucket_init(struct throttle_bucket *b, double rate, double burst, double now);
/* throttle_bucket_take - take a token: 0 when allowed now, else seconds until one is there */
double throttle_bucket_take(struct throttle_bucket *b, double now);
/* throttle_bucket_wait - seconds until a token is there (0 = now), taking none */
double throttle_bucket_wait(struct throttle_bucket *b, double now);
/*
 * throttle_bucket_set_rate - change the rate and burst (<= 0: the default)
 * without losing what was earned at the old rate; tokens are clamped to the
 * new burst, so lowering the rate never lets a stored burst through.
 */
void throttle_bucket_set_rate(struct throttle_bucket *b, double rate, double burst, double now);

/*
 * Buckets by key (a client's address, 16 bytes, IPv4 mapped), in a table of
 * slots the caller owns (zeroed at first). A table full of other keys gives
 * up the slot used longest ago, so a flood of new keys costs only memory
 * already there.
 */
struct throttle_keyed {
	unsigned char key[16];
	bool used;
	struct throttle_bucket tb; /* tb.last also picks the slot to give up */
};
/*
 * throttle_keyed_bucket - key's bucket among the n slots, made full (burst
 * tokens of rate per second) if the key had none; take from it with
 * throttle_bucket_take.
 */
struct throttle_bucket *throttle_keyed_bucket(struct throttle_keyed *slots, size_t n,
                                              const unsigned char key[16], double rate,
                                              double burst, double now);

/* --- rates as people write them --------------------------------------------------------------- */

#define THROTTLE_RATE_MAX 1e6           /* per second; above that a rate is a typo */
#define THROTTLE_RATE_MIN (1.0 / 86400) /* one a day; below that use none or a warm-up */
#define THROTTLE_RATE_STR 32            /* room for any string throttle_rate_format writes */

/*
 * throttle_rate_parse - "10/s", "600/min", "3600/h", "100/d" (also sec,
 * second, m, minute, hr, hour, day; decimals allowed; case and blanks around
 * the parts ignored) into a per-second rate; "0", "none" and "unlimited" give
 * 0 (unlimited). Returns 0, or -1 with *reason (static) for anything else,
 * including a bare number other than 0 (the unit is never guessed) and a rate
 * outside THROTTLE_RATE_MIN..THROTTLE_RATE_MAX.
 */
int throttle_rate_parse(const char *s, double *per_second, const char **reason);
/*
 * throttle_rate_format - a per-second rate as people read it: the smallest
 * unit that gives a whole number ("10/s", "90/h"), else a decimal per hour
 * (or per day below one an hour) that reads back within 1%;
 * 0 is "unlimited". Writes at most outsz bytes; returns out.
 */
char *throttle_rate_format(double per_second, char *out, size_t outsz);

/* --- replies that mean "slow down" ----------------------------------------------------------- */

/*
 * throttle_is_slowdown - 1 when a reply asks the sender to slow down (the
 * table in throttle.c: 421, 451 4.7.x, 452 "too many ...", "rate limit",
 * "try again later", provider codes such as Gmail's 4.7.28, Outlook's 4.7.650,
 * Yahoo's TSS04), else 0. Only 4xx replies can be; ecode and text may be NULL.
 */
int throttle_is_slowdown(int code, const char *ecode, const char *text);
/* throttle_slowdown_why - the table row that decided (for logs), or NULL when none matched */
const char *throttle_slowdown_why(int code, const char *ecode, const char *text);
/*
 * throttle_result_is_slowdown - 1 when a fact from the SMTP client counts as
 * a slow-down: a slow-down reply, a refused or dropped connection before the
 * greeting, or a timeout anywhere. Local refusals and our own aborts never do.
 */
int throttle_result_is_slowdown(const struct smtp_result *r);

/* --- additive increase, multiplicative decrease ---------------------------------------------- */

/* The controller's knobs; throttle_aimd_defaults gives the documented values. */
struct throttle_aimd_params {
	double min_rate;          /* the rate is never halved below this (per second) */
	double hold_s;            /* signals this soon after a decrease count as the same one */
	unsigned suspend_after;   /* this many decreases within window_s suspend the destination */
	double window_s;          /* the window for suspend_after */
	double suspend_first_s;   /* the first suspension; each next one doubles ... */
	double suspend_max_s;     /* ... up to this */
	unsigned increase_every;  /* an increase after this many successes ... */
	double increase_after_s;  /* ... or after this long without a complaint (with successes) */
	double increase_fraction; /* each increase adds this fraction of the ceiling rate */
};

/* What a call changed (the return value of the throttle_aimd_* reporting calls). */
enum throttle_change {
	THROTTLE_SAME = 0,      /* nothing changed */
	THROTTLE_DECREASED = 1, /* rate and connections halved */
	THROTTLE_SUSPENDED = 2, /* no new connections until suspended_until */
	THROTTLE_INCREASED = 3, /* a step back toward the configured ceiling */
	THROTTLE_RESUMED = 4,   /* a suspension ended */
};

#define THROTTLE_AIMD_NOTE 200 /* bytes of a->last */

/*
 * One destination's controller. rate_max/conns_max are the configured
 * ceilings (the policy); rate/conns are what the caller should use now.
 * An unlimited ceiling rate (0) stays unlimited: only the connections are
 * halved, and repeated complaints suspend (one connection paced by round
 * trips is itself a limit).
 */
struct throttle_aimd {
	struct throttle_aimd_params p;
	double rate_max;           /* per second; 0 = unlimited */
	unsigned conns_max;        /* >= 1 */
	double rate;               /* effective rate now; 0 = unlimited */
	unsigned conns;            /* effective concurrency now, 1..conns_max */
	double suspended_until;    /* 0 when not suspended */
	double suspend_next;       /* the length of the next suspension */
	double last_decrease;      /* time of the last decrease; hold_s runs from here */
	double last_change;        /* last decrease or increase: increase_after_s runs from here */
	double window_start;       /* when the current strike window opened */
	unsigned strikes;          /* decreases in the current window */
	unsigned successes;        /* since the last change */
	unsigned long slowdowns;   /* every slow-down signal, for show */
	unsigned long suspensions; /* every suspension, for show */
	char last[THROTTLE_AIMD_NOTE]; /* the last change in words, "" before any */
};

/* throttle_aimd_defaults - the documented knobs (docs/throttling.md) */
struct throttle_aimd_params throttle_aimd_defaults(void);
/* throttle_aimd_init - a controller at its ceilings; p NULL means the defaults */
void throttle_aimd_init(struct throttle_aimd *a, const struct throttle_aimd_params *p,
                        double rate_max, unsigned conns_max, double now);
/*
 * throttle_aimd_set_ceiling - the policy changed: new ceilings; the effective
 * values are clamped to them (never raised: the climb stays gradual).
 */
void throttle_aimd_set_ceiling(struct throttle_aimd *a, double rate_max, unsigned conns_max);
/*
 * throttle_aimd_slowdown - the destination complained (why: the reply or
 * "connection refused", copied into a->last). Halves rate and connections,
 * or suspends after repeated complaints. Returns what changed.
 */
enum throttle_change throttle_aimd_slowdown(struct throttle_aimd *a, double now, const char *why);
/* throttle_aimd_success - a message was accepted; may step back up. Returns what changed. */
enum throttle_change throttle_aimd_success(struct throttle_aimd *a, double now);
/* throttle_aimd_result - feed one SMTP fact: slow-down, success (2xx at the dot) or neither */
enum throttle_change throttle_aimd_result(struct throttle_aimd *a, double now,
                                          const struct smtp_result *r);
/*
 * throttle_aimd_adopt - another node sharing the destination changed its
 * controller (docs/scale-out.md): take its rate and connections (0 = keep
 * ours), clamped to our ceilings; why (another node's note) goes into a->last.
 * A decrease starts a hold, as a local one does. suspend_s > 0: the other node
 * suspended the destination, with that many seconds left: suspended here until
 * then too (SUSPENDED; one that ends later stays). Else returns DECREASED when
 * either level went down, INCREASED when they went up, else SAME.
 */
enum throttle_change throttle_aimd_adopt(struct throttle_aimd *a, double now, double rate,
                                         unsigned conns, double suspend_s, const char *why);
/*
 * throttle_aimd_tick - end a suspension that is over (call before opening a
 * connection or from a timer). Returns THROTTLE_RESUMED or THROTTLE_SAME.
 */
enum throttle_change throttle_aimd_tick(struct throttle_aimd *a, double now);
/* throttle_aimd_suspended - seconds left of a suspension, 0 when none */
double throttle_aimd_suspended(const struct throttle_aimd *a, double now);
/* throttle_change_name - "same", "decreased", "suspended", "increased", "resumed" */
const char *throttle_change_name(enum throttle_change c);

/* --- retry schedule ----------------------------------------------------------------------------
 */

#define THROTTLE_RETRY_FIRST 300.0 /* 5 minutes */
#define THROTTLE_RETRY_CAP 14400.0 /* 4 hours */
#define THROTTLE_MAX_AGE 259200.0  /* 3 days */
#define THROTTLE_RETRY_JITTER 0.10 /* +-10% */

/*
 * throttle_retry_delay - seconds to wait before the next attempt of a
 * deferred message after attempts (>= 1) attempts: first_s, 2x, 4x, ...
 * capped at cap_s (<= 0: the defaults above), then +-10% jitter from rnd
 * (in [0, 1), e.g. a hash of the message id; clamped). 0 when attempts < 1.
 */
double throttle_retry_delay(int attempts, double first_s, double cap_s, double rnd);
/* throttle_expired - 1 when a message first tried at first_ts is max_age (<= 0: 3 days) old */
int throttle_expired(double first_ts, double now, double max_age);

/* --- warm-up --------------------------------------------------------------------------------- */

#define THROTTLE_WARMUP_DAYS 366       /* a plan has at most this many days */
#define THROTTLE_WARMUP_TARGET 100000L /* a preset's target when the plan names none */

/*
 * throttle_warmup_cap - the day's cap of a warm-up plan on day_index (0 =
 * the first day; negative counts as 0): a list "50,100,200,500" (one cap a
 * day), or a preset "standard[:TARGET]" (50, doubling each day up to
 * TARGET) or "slow[:TARGET]" (50, x1.5 a day). Returns the cap, -1 when the
 * plan is over (unlimited) or empty, -2 when the plan is not valid.
 */
long throttle_warmup_cap(const char *plan, long day_index);
/*
 * throttle_warmup_expand - write the plan's caps (at most max, one a day)
 * into caps and return how many, or -1 with *reason for a bad plan.
 */
int throttle_warmup_expand(const char *plan, long *caps, size_t max, const char **reason);

#endif
