/*
 * destination - how a direct send groups recipient domains into destinations and
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
#ifndef KIRIM_DESTINATION_H
#define KIRIM_DESTINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/policy.h"

struct buf;

/* The limits of one destination: a record's field where one applies, else the run's. */
struct dest_limits {
	unsigned max_conns;  /* connections at once, >= 1 */
	bool conns_set;      /* max_conns comes from a policy record, not the run's option */
	double rate;         /* messages per second; 0 = unlimited */
	double connect_rate; /* new connections per second; 0 = unlimited */
	unsigned max_jobs;   /* messages per connection; 0 = unlimited */
	int tls;             /* enum policy_tls (the same values as enum tls_policy) */
	bool tls_chosen; /* tls comes from a record naming this domain or its MX hosts (not "*"):
	                    a user's choice, which wins over what the domain publishes */
	char warmup[POLICY_WARMUP_MAX]; /* warm-up plan, "" = none */
	int64_t warmup_start;           /* Unix day of the plan's first day */
	char egress[POLICY_EGRESS_MAX]; /* the egress pool a record names, "" = the run's */
	char own[POLICY_PATTERN_MAX];   /* the domain's own pattern (exact or wildcard), or "" */
};

/*
 * dest_resolve - the limits of the destination made for domain with these MX
 * hosts (in preference order): every field a policy record in rows sets
 * (policy_resolve), the others from run (the run's own defaults: its
 * per-destination concurrency, messages per connection, TLS; run->warmup and
 * run->own are ignored). out->own names the domain's own pattern when one
 * set a field.
 */
void dest_resolve(const struct policy *rows, size_t nrows, const char *domain,
                  const char *const *hosts, size_t nhosts, const struct dest_limits *run,
                  struct dest_limits *out);

/*
 * dest_key - append the destination key for these MX host names (any
 * order) and own (NULL or "" when the domain has no pattern of its own) to
 * out: "mx:a.example,b.example" or "mx:a.example|gmail.com".
 */
void dest_key(const char *const *hosts, size_t nhosts, const char *own, struct buf *out);

/*
 * dest_warmup_cap - the warm-up cap of l on Unix day day: the messages the
 * destination may take that day, or -1 when there is none (no plan, the
 * plan is over, or it does not parse).
 */
long dest_warmup_cap(const struct dest_limits *l, int64_t day);

#endif
