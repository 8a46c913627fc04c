/*
 * dns - MX resolution for direct delivery, on one libuv loop (c-ares); TXT
 * (MTA-STS, TLS-RPT), TLSA (DANE) and host address look-ups beside it.
 *
 * The module owns one c-ares channel, driven by the caller's libuv loop: a
 * uv_poll_t per socket c-ares opens and one uv_timer_t for its timeouts. It
 * never blocks and starts no thread. dns_resolve_mx looks up a domain's MX
 * records, sorts them by preference (shuffled among equal preferences),
 * resolves each MX host's A and AAAA records, and falls back to the domain's
 * own A/AAAA when it has no MX (RFC 5321 section 5.1). Every query asks for
 * the AD bit and every result says whether the answers it used carried it
 * ("secure"): a validating resolver sets it for DNSSEC-validated data, so it
 * means something only when the resolver is one the host trusts (a local
 * validating resolver: docs/tls.md). Answers (positive and,
 * when the server sends an SOA, negative) are cached for their TTL; at most
 * DNS_MAX_INFLIGHT queries are on the wire at once, the rest wait in a FIFO.
 *
 * Lifetime: dns_new, then any number of dns_resolve_mx; the callback is
 * called exactly once per request, always from the loop (never from inside
 * dns_resolve_mx). dns_free cancels pending requests (their callbacks run
 * inside dns_free with DNS_TEMPFAIL, "resolver shut down"), closes the
 * handles and frees the object once the loop has run the close callbacks:
 * run the loop after dns_free before uv_loop_close. Never logs.
 */
#ifndef KIRIM_DNS_H
#define KIRIM_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <uv.h>

#define DNS_MAX_INFLIGHT 64 /* queries on the wire at once */
#define DNS_MAX_HOSTS 16    /* MX hosts kept, lowest preferences first */
#define DNS_MAX_ADDRS 8     /* addresses kept per host: IPv4 first, then IPv6 */

struct dns;

/* Resolver settings; dns_new(loop, NULL, ...) takes the defaults (all 0). */
struct dns_opts {
	const char *servers; /* "127.0.0.1:5353,[::1]:53"; NULL = /etc/resolv.conf */
	unsigned timeout_ms; /* first try's timeout; 0 = 2000 */
	unsigned tries;      /* tries per server; 0 = 3 */
	unsigned flags;
	/* Answers shared with earlier and later resolvers of the process, one at a time
	 * (kirim run's turns); NULL: the resolver keeps its own, freed with it. Borrowed. */
	struct dns_cache *cache;
#define DNS_NO_CACHE (1u << 0) /* never cache answers (tests) */
#define DNS_NO_IPV6 (1u << 1)  /* skip AAAA lookups */
};

enum dns_status {
	DNS_OK = 0,       /* hosts[0..nhosts) each have at least one address */
	DNS_NXDOMAIN = 1, /* permanent: the domain does not exist */
	DNS_NULLMX = 2,   /* permanent: the domain accepts no mail (RFC 7505 "0 .") */
	DNS_NODATA = 3,   /* permanent: no MX and no address, or no MX host has one */
	DNS_TEMPFAIL = 4, /* SERVFAIL, REFUSED, timeout, shutdown: try again later */
};

struct dns_mx_host {
	char name[256]; /* MX host name, no trailing dot */
	unsigned pref;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS]; /* port 0: the caller sets it */
	size_t naddrs;
	int secure; /* every address answer of the host carried AD */
};

/* Borrowed for the duration of the callback only. */
struct dns_mx_result {
	int status;        /* enum dns_status */
	const char *error; /* NULL on DNS_OK, else a one-line reason */
	const struct dns_mx_host *hosts;
	size_t nhosts;
	int from_a_fallback; /* no MX: hosts[0] is the domain itself */
	int secure;          /* the MX answer (or the no-MX answer) carried AD */
	unsigned ttl;        /* seconds the answer may be reused (min over records) */
};

typedef void (*dns_mx_cb)(void *arg, const struct dns_mx_result *r);

#define DNS_TXT_MAX 16       /* TXT records kept per name */
#define DNS_TXT_LEN_MAX 4096 /* bytes kept of one record (its strings joined) */
#define DNS_TLSA_MAX 16      /* TLSA records kept per name */
#define DNS_TLSA_DATA_MAX 64 /* association data kept: a SHA-512 digest; longer: skipped */

/* A TXT answer, borrowed for the duration of the callback. status: DNS_OK (n >= 1),
 * DNS_NXDOMAIN, DNS_NODATA or DNS_TEMPFAIL. */
struct dns_txt_result {
	int status;
	const char *error;
	const char *const *records; /* each record's strings joined, NUL-terminated */
	size_t n;
	int secure;
	unsigned ttl;
};
typedef void (*dns_txt_cb)(void *arg, const struct dns_txt_result *r);

/* One TLSA record (RFC 6698). */
struct dns_tlsa {
	unsigned char usage, selector, mtype;
	size_t len; /* bytes of data */
	unsigned char data[DNS_TLSA_DATA_MAX];
};
/* A TLSA answer, borrowed for the callback. n counts the records kept; skipped says how
 * many were left out (association data longer than DNS_TLSA_DATA_MAX, or over the cap). */
struct dns_tlsa_result {
	int status;
	const char *error;
	const struct dns_tlsa *recs;
	size_t n, skipped;
	int secure;
	unsigned ttl;
};
typedef void (*dns_tlsa_cb)(void *arg, const struct dns_tlsa_result *r);

struct dns_stats {
	uint64_t queries_sent; /* queries handed to c-ares */
	uint64_t cache_hits;
	uint64_t requests; /* dns_resolve_mx calls accepted */
	size_t in_flight;
	size_t max_in_flight; /* high-water mark of in_flight */
	size_t queued;        /* waiting for an in-flight slot */
	size_t cache_entries;
};

struct dns_cache;

/* dns_cache_new - an answer cache to lend resolvers through dns_opts.cache, so that a
 * resolver made later (on another loop, one after the other: no locking) reuses what an
 * earlier one learnt, until each answer's TTL runs out */
struct dns_cache *dns_cache_new(void);
/* dns_cache_free - after every resolver that used it is freed; NULL is a no-op */
void dns_cache_free(struct dns_cache *c);

/* dns_new - a resolver on loop; NULL with a message in err on failure */
struct dns *dns_new(uv_loop_t *loop, const struct dns_opts *opts, char *err, size_t errsz);

/* dns_free - cancel pending requests, close the handles; the loop finishes it */
void dns_free(struct dns *d);

/* dns_resolve_mx - look up domain's mail hosts; cb(arg, result) once, later */
int dns_resolve_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg);

/* dns_resolve_host - host's own addresses (A, AAAA) as a one-host MX result (pref 0,
 * from_a_fallback set); cb(arg, result) once, later */
int dns_resolve_host(struct dns *d, const char *host, dns_mx_cb cb, void *arg);

/* dns_resolve_txt - the TXT records of name; cb(arg, result) once, later */
int dns_resolve_txt(struct dns *d, const char *name, dns_txt_cb cb, void *arg);

/* dns_resolve_tlsa - the TLSA records of name ("_25._tcp.mx.example.com"); cb once, later */
int dns_resolve_tlsa(struct dns *d, const char *name, dns_tlsa_cb cb, void *arg);

/* dns_servers_local - whether every server the resolver asks is on this host (127.0.0.0/8
 * or ::1): the only servers whose AD bit can be trusted without a secured channel */
int dns_servers_local(const struct dns *d);

/* dns_stats - copy the counters */
void dns_stats(const struct dns *d, struct dns_stats *st);

/* dns_status_name - "ok", "nxdomain", "nullmx", "nodata", "tempfail" */
const char *dns_status_name(int status);

#endif
