/*
 * policy - per-destination sending policies: what a record holds, which
 * patterns a record may name, how the records that apply to one domain merge
 * into its effective policy, and the presets kirim ships.
 *
 * A pattern is one of:
 *   "example.com"     exactly that domain;
 *   "*.outlook.com"   every subdomain of outlook.com (not outlook.com itself);
 *   "mx:google.com"   every domain whose MX hosts are under google.com
 *                     (aspmx.l.google.com, or google.com itself);
 *   "*"               the default for every destination;
 *   "global"          limits over all destinations together (never merged into
 *                     a destination's policy; read it with policy_find).
 * Every field of a record is optional. policy_resolve merges, field by field,
 * the records that match a domain, most specific first: the exact domain, then
 * wildcards (longest first), then MX sets (the one matching the most preferred
 * MX host first, then the longest), then "*", then the built-in defaults.
 *
 * Pure code: no I/O, no globals but constant tables, no logging. Records are
 * plain values; policy_resolve copies what it needs and borrows nothing.
 */
#ifndef KIRIM_POLICY_H
#define KIRIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_PATTERN_MAX 264 /* "mx:" + a 253-byte domain + NUL, with room */
#define POLICY_WARMUP_MAX 128  /* a warm-up plan as written */
#define POLICY_EGRESS_MAX 64   /* an egress pool's name (kirim.conf [egress] pool) */

enum policy_kind {
	POLICY_KIND_DEFAULT,  /* "*" */
	POLICY_KIND_MX,       /* "mx:google.com" */
	POLICY_KIND_WILDCARD, /* "*.outlook.com" */
	POLICY_KIND_EXACT,    /* "gmail.com" */
	POLICY_KIND_GLOBAL,   /* "global" */
};

/* The fields of a record, in the order people see them. */
enum policy_field {
	POLICY_F_MAX_CONNECTIONS,
	POLICY_F_RATE,
	POLICY_F_MAX_MSGS_PER_CONN,
	POLICY_F_CONNECT_RATE,
	POLICY_F_TLS,
	POLICY_F_WARMUP,
	POLICY_F_EGRESS,
	POLICY_NFIELDS,
};
#define POLICY_HAS(f) (1u << (f)) /* bit of struct policy.set for field f */

enum policy_tls {
	POLICY_TLS_NONE,
	POLICY_TLS_OPPORTUNISTIC,
	POLICY_TLS_REQUIRED,
	POLICY_TLS_VERIFY,
	POLICY_TLS_DANE, /* DANE required (RFC 7672): only MX hosts with usable TLSA records */
};

/* Limits a field may take (the CLI refuses anything outside them). */
#define POLICY_CONNECTIONS_MAX 1000
#define POLICY_MSGS_PER_CONN_MAX 100000

struct policy {
	char pattern[POLICY_PATTERN_MAX]; /* normalised (policy_pattern_parse) */
	unsigned set;                     /* POLICY_HAS(f) for every field given */
	int max_connections;              /* connections at once, >= 1 */
	double rate;                      /* messages per second; 0 = unlimited */
	int max_msgs_per_conn;            /* messages per connection; 0 = unlimited */
	double connect_rate;              /* new connections per second; 0 = unlimited */
	enum policy_tls tls;
	char warmup[POLICY_WARMUP_MAX]; /* throttle_warmup_cap plan; "" = no warm-up */
	int64_t warmup_start;           /* Unix day (time / 86400) of the plan's first day */
	char egress[POLICY_EGRESS_MAX]; /* the egress pool to send from (docs/egress.md) */
	char source[8];                 /* "preset" or "user" ("" for built-in) */
	int64_t updated_at;
};

/* The merged policy of one domain, and where each field came from. */
struct policy_effective {
	struct policy p; /* every field filled; p.set: the fields some record gave */
	char from[POLICY_NFIELDS][POLICY_PATTERN_MAX]; /* the record's pattern, "" = built-in */
};

/*
 * policy_pattern_parse - check a pattern and write its normal form to out
 * (lower case, A-labels, no trailing dot, "@example.com" taken as
 * "example.com", "mx:*.google.com" as "mx:google.com"); *kind gets its kind.
 * Returns 0, or -1 with *reason (static).
 */
int policy_pattern_parse(const char *s, char *out, size_t outsz, enum policy_kind *kind,
                         const char **reason);
/* policy_kind_name - "default", "mx", "wildcard", "domain", "global" */
const char *policy_kind_name(enum policy_kind k);

/* policy_field_name - the column name: "max_connections", "rate", ... "warmup", "egress" */
const char *policy_field_name(enum policy_field f);
/* policy_field_parse - a field from its name ("max-connections" or "max_connections"), or -1 */
int policy_field_parse(const char *name);
/* policy_tls_name - "none", "opportunistic", "required", "verify", "dane" */
const char *policy_tls_name(enum policy_tls t);
/* policy_tls_parse - the TLS policy called s; 0 or -1 */
int policy_tls_parse(const char *s, enum policy_tls *out);
/*
 * policy_field_format - one field's value as people read it ("5", "10/s",
 * "unlimited", "opportunistic", "standard:20000 from day 19876", "-" when
 * the record does not give it) into out (outsz bytes).
 */
void policy_field_format(const struct policy *p, enum policy_field f, char *out, size_t outsz);

/*
 * policy_resolve - the effective policy of domain (an A-label; case and a
 * trailing dot ignored) whose MX hosts are mx_hosts (nmx of them, most
 * preferred first; may be NULL/0 when unknown) from the records rows (n).
 * Fills *out (p.pattern = domain). Returns how many records contributed.
 */
int policy_resolve(const struct policy *rows, size_t n, const char *domain,
                   const char *const *mx_hosts, size_t nmx, struct policy_effective *out);
/* policy_matches - 1 when the record's pattern applies to domain with these MX hosts */
int policy_matches(const struct policy *row, const char *domain, const char *const *mx_hosts,
                   size_t nmx);
/* policy_find - the record whose pattern is pattern (normal form), or NULL */
const struct policy *policy_find(const struct policy *rows, size_t n, const char *pattern);

/* policy_builtin - the values used for a field no record gives (and the "*" preset) */
const struct policy *policy_builtin(void);
/* policy_preset_count - how many presets kirim ships */
size_t policy_preset_count(void);
/* policy_preset - preset i (< policy_preset_count) into *out, *why: why these values */
void policy_preset(size_t i, struct policy *out, const char **why);

#endif
