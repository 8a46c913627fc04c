/*
 * planner - `kirim campaign plan`: what a send of a campaign would do,
 * before it runs, straight to MX hosts or through a relay (opts.relay: no
 * look-ups; a domain with a policy of its own, exact or wildcard, gets its own
 * queue on the relay's connections with that policy's limits, as kirim send
 * does; the others share the relay's queue, limited only by the run and the
 * global rate). Counts the messages still to be delivered per recipient
 * domain, resolves every domain's MX once (the dns module on a private libuv
 * loop, up to DNS_MAX_INFLIGHT queries at once), groups the domains into
 * destinations exactly as kirim send does (destination.h), applies today's
 * policies and warm-up caps, and estimates when each destination and the
 * whole campaign would be done and which one holds it up. Domains that
 * cannot receive mail (NXDOMAIN, null MX, no MX and no address) are flagged
 * and, when asked, suppressed so the send never bounces on them.
 *
 * The estimate: destinations send in parallel; one sends at
 *   min(policy rate, connections x per-connection rate, connect rate x msgs/conn)
 * where connections is the policy's (or the run's) capped by the run's total
 * concurrency and the per-connection rate is an assumption (opts.assume_rate,
 * 20 messages/s by default: what one kirim connection sustains against a
 * loopback sink is several times that, real MX hosts answer slower). Each UTC
 * day a destination takes at most its warm-up cap (minus what it already
 * took today); the rest waits for the next day, as the sender does. The whole
 * campaign cannot be faster than all its messages at the global rate, or
 * at concurrency x per-connection rate. Deferrals, retries and AIMD
 * slow-downs are not predicted. Results are plain values the caller frees
 * with planner_result_free. Logs at debug level only.
 */
#ifndef KIRIM_PLANNER_H
#define KIRIM_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "kirim/destination.h"

struct store;

#define PLANNER_ASSUME_RATE 20.0 /* messages per second one connection sends, by default */

struct config;
struct planner_opts {
	const char *campaign;
	const char *dns_servers;   /* "127.0.0.1:5353"; NULL: /etc/resolv.conf */
	unsigned dns_timeout_ms;   /* per try; 0: the dns module's default */
	unsigned concurrency;      /* connections at once in all (kirim send's, default 8) */
	unsigned dest_concurrency; /* per destination without a policy (default 10) */
	unsigned msgs_per_conn;    /* per connection without a policy (default 100) */
	double assume_rate;        /* messages/s per connection; 0: PLANNER_ASSUME_RATE */
	int suppress_dead;         /* suppress the dead domains (and their queued messages) */
	const char *relay;         /* through this relay ("host:port", no look-ups); NULL: direct */
	/* Direct plans: the TLS policies domains publish, as kirim send applies them
	 * (docs/tls.md). mta_sts: look up _mta-sts records, take the cached policy for the
	 * record's id or fetch it (never stored: the send fetches and caches its own). dane:
	 * [tls] dane (1 yes, 0 no, -1 when every resolver is on this host). */
	int mta_sts;
	int dane;
	const char *ca_file; /* CAs for the policy fetches; NULL: the system's */
	unsigned sts_port;   /* the policy hosts' port (0: 443; tests and labs) */
	int64_t now;         /* Unix time the plan starts at; 0: now */
	/* kirim.conf's [egress] source addresses (docs/egress.md): a destination's limits
	 * apply per source, so its connections, rate and warm-up caps are those of one
	 * source times the sources of its pool (the domain policy's egress, else egress,
	 * else "default"). NULL, or no source in the pool: one (the kernel chooses). */
	const struct config *cfg;
	const char *egress;
};

/* The TLS policy a destination is made for (kirim send gives such a domain its own). */
enum planner_tls {
	PLANNER_TLS_NONE = 0,    /* none published, or the user's own policy decides */
	PLANNER_TLS_STS_ENFORCE, /* MTA-STS enforce: `|sts:DOMAIN` */
	PLANNER_TLS_STS_TESTING, /* MTA-STS testing: `|sts:DOMAIN` */
	PLANNER_TLS_DANE,        /* validated TLSA records: `|dane:DOMAIN` */
	PLANNER_NTLS
};

/* Why a destination goes no faster. */
enum planner_bound {
	PLANNER_BOUND_CONNECTIONS = 0, /* connections x the assumed per-connection rate */
	PLANNER_BOUND_RATE = 1,        /* the policy's rate */
	PLANNER_BOUND_CONNECT = 2,     /* connect rate x messages per connection */
};

struct planner_domain {
	char name[256];
	int64_t messages;
	int status;      /* enum dns_status */
	char error[256]; /* "" when the domain resolved */
	long dest;       /* index into dests, -1 when it did not resolve */
	int suppressed;  /* --suppress-dead added its suppression now */
	int tls;         /* enum planner_tls */
};

struct planner_dest {
	char *key; /* "mx:host,host[|own pattern]"; through a relay "relay" or "relay|pattern" */
	char first_domain[256];
	size_t ndomains;
	int64_t messages;
	struct dest_limits lim; /* what its policy gives */
	unsigned conns;         /* lim.max_conns capped by the run's concurrency */
	double rate;            /* the estimated sending rate, messages/s */
	int bound;              /* enum planner_bound */
	long cap_today;         /* today's warm-up cap, -1 when none */
	int64_t sent_today;     /* attempts it already took today (warm-up counts) */
	int64_t today;          /* messages that go today */
	int days;               /* UTC days it sends on (1: done today) */
	double seconds;         /* sending time alone: messages / rate */
	int64_t eta;            /* Unix time it would be done */
	int tls;                /* enum planner_tls */
	unsigned sources;       /* the [egress] source addresses it is sent from (1: none) */
};

struct planner_result {
	char campaign[128];
	char relay[300]; /* opts.relay, "" for a direct plan */
	int from_list;   /* no messages yet: counted from the audience minus suppressions */
	int64_t now;     /* the plan's start */
	double assume_rate;
	unsigned concurrency;
	double global_rate;             /* the "global" policy's rate, 0 = none */
	int64_t messages;               /* all counted, including dead and unresolved domains */
	int64_t routed;                 /* to destinations */
	struct planner_domain *domains; /* by name */
	size_t ndomains;
	struct planner_dest *dests; /* by ETA, latest first (then key) */
	size_t ndests;
	size_t ndead, nunresolved; /* domains: dead (NXDOMAIN, null MX, no data); DNS failed */
	int64_t dead_messages, unresolved_messages;
	int64_t suppressed_domains;     /* suppressions --suppress-dead added */
	int64_t suppressed_messages;    /* queued messages it marked suppressed */
	double global_seconds;          /* routed / (global rate or concurrency x assume_rate) */
	int global_bound;               /* 1 when that global floor decides the campaign's ETA */
	int64_t eta;                    /* the whole campaign (routed messages); now when none */
	long bottleneck;                /* index into dests, -1 when none (or global_bound) */
	size_t tls_dests[PLANNER_NTLS]; /* destinations under each TLS policy */
	int64_t tls_messages[PLANNER_NTLS];
};

/* Error codes (negative). */
#define PLANNER_E_CONFIG (-1) /* unknown campaign, resolver set-up */
#define PLANNER_E_STORE (-2)  /* the database failed */

/* planner_run - plan the campaign's send into *r (planner_result_free it, even on error) */
int planner_run(struct store *s, const struct planner_opts *o, struct planner_result *r, char *err,
                size_t errsz);

/* planner_result_free - free what planner_run allocated; the result is empty after */
void planner_result_free(struct planner_result *r);

struct json_t;
/* planner_json - the plan as JSON (kirim campaign plan --json, the API's .../plan) */
struct json_t *planner_json(const struct planner_result *r);

/* planner_tls_name - "none", "mta-sts-enforce", "mta-sts-testing", "dane" */
const char *planner_tls_name(int tls);

/* planner_bound_name - "connections", "rate", "connect-rate" */
const char *planner_bound_name(int bound);

#endif
