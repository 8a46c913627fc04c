/*
 * route - how a direct send groups recipient domains into destinations and
 * which limits each destination gets: the rules kirim send applies and
 * kirim campaign plan predicts, in one place so the two cannot drift apart.
 *
 * A destination is a set of MX host names: domains whose MX hosts are the
 * same share one destination (and so its connection and rate limits). Its key
 * is "mx:" followed by the host names sorted and joined by commas, so the
 * order DNS shuffles equal preferences in does not matter. When a policy
 * record naming the domain itself (exact or wildcard pattern) sets a field,
 * the domain gets a destination of its own: "|" and that pattern are
 * appended to the key.
 *
 * Pure code: no I/O, no globals, no logging. Nothing here keeps a pointer to
 * what it is given.
 */
#ifndef KIRIM_ROUTE_H
#define KIRIM_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "kirim/policy.h"

struct buf;

/* The limits of one destination: a record's field where one applies, else the run's. */
struct route_limits {
	unsigned max_conns;             /* connections at once, >= 1 */
	double rate;                    /* messages per second; 0 = unlimited */
	double connect_rate;            /* new connections per second; 0 = unlimited */
	unsigned max_jobs;              /* messages per connection; 0 = unlimited */
	int tls;                        /* enum policy_tls (the same values as enum tls_policy) */
	char warmup[POLICY_WARMUP_MAX]; /* warm-up plan, "" = none */
	int64_t warmup_start;           /* Unix day of the plan's first day */
	char own[POLICY_PATTERN_MAX];   /* the domain's own pattern (exact or wildcard), or "" */
};

/*
 * route_resolve - the limits of the destination made for domain with these MX
 * hosts (in preference order): every field a policy record in rows sets
 * (policy_resolve), the others from run (the run's own defaults: its
 * per-destination concurrency, messages per connection, TLS; run->warmup and
 * run->own are ignored). out->own names the domain's own pattern when one
 * set a field.
 */
void route_resolve(const struct policy *rows, size_t nrows, const char *domain,
                   const char *const *hosts, size_t nhosts, const struct route_limits *run,
                   struct route_limits *out);

/*
 * route_dest_key - append the destination key for these MX host names (any
 * order) and own (NULL or "" when the domain has no pattern of its own) to
 * out: "mx:a.example,b.example" or "mx:a.example|gmail.com".
 */
void route_dest_key(const char *const *hosts, size_t nhosts, const char *own, struct buf *out);

/*
 * route_warmup_cap - the warm-up cap of l on Unix day day: the messages the
 * destination may take that day, or -1 when there is none (no plan, the
 * plan is over, or it does not parse).
 */
long route_warmup_cap(const struct route_limits *l, int64_t day);

#endif
