/*
 * mta_sts - MTA-STS (RFC 8461) records and policies: the _mta-sts TXT record,
 * the policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
 * and which MX hosts a policy allows (section 4.1).
 *
 * Pure code: no I/O, no globals but constant tables, no logging. Every parser
 * returns 0, or -1 with *reason pointing at a static sentence; out-params are
 * set only on success. Limits are stated below where they bind: a policy file
 * over MTA_STS_BODY_MAX bytes, or with more than MTA_STS_MX_MAX mx lines, is
 * refused (the fetcher never reads more than MTA_STS_BODY_MAX bytes either).
 */
#ifndef KIRIM_MTA_STS_H
#define KIRIM_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/buf.h"

#define MTA_STS_BODY_MAX (64 * 1024)  /* policy file bytes (RFC 8461 3.3's suggestion) */
#define MTA_STS_MX_MAX 64             /* mx patterns kept per policy */
#define MTA_STS_ID_MAX 33             /* an id is 1 to 32 letters and digits, + NUL */
#define MTA_STS_MAX_AGE_MAX 31557600L /* one year: the largest max_age RFC 8461 allows */

enum mta_sts_mode {
	MTA_STS_NONE,    /* the domain withdraws its policy */
	MTA_STS_TESTING, /* report failures, deliver as if there were no policy */
	MTA_STS_ENFORCE, /* only matching MX hosts, only with TLS and a valid certificate */
};

struct mta_sts_policy {
	enum mta_sts_mode mode;
	long max_age; /* seconds, 0 to MTA_STS_MAX_AGE_MAX */
	size_t nmx;
	char mx[MTA_STS_MX_MAX][256]; /* lower case, no trailing dot; "*.example.net" allowed */
};

/*
 * mta_sts_txt_select - the policy id from a domain's _mta-sts TXT records
 * (each record's strings already joined): records that do not start with
 * "v=STSv1" are ignored; exactly one must remain and be well-formed
 * (section 3.1). id gets the id (MTA_STS_ID_MAX bytes).
 */
int mta_sts_txt_select(const char *const *records, size_t n, char id[MTA_STS_ID_MAX],
                       const char **reason);

/* mta_sts_policy_parse - the policy file (len bytes, LF or CRLF lines) into *out */
int mta_sts_policy_parse(const char *body, size_t len, struct mta_sts_policy *out,
                         const char **reason);

/* mta_sts_pattern_match - whether mx pattern (as parsed) names host ("*.a.b" matches x.a.b
 * and nothing deeper; case and a trailing dot of host ignored) */
bool mta_sts_pattern_match(const char *pattern, const char *host);
/* mta_sts_mx_match - whether some mx pattern of p names host */
bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host);

/* mta_sts_mode_name - "none", "testing", "enforce" */
const char *mta_sts_mode_name(enum mta_sts_mode m);
/* mta_sts_mode_parse - the mode called s; 0 or -1 */
int mta_sts_mode_parse(const char *s, enum mta_sts_mode *out);

/* mta_sts_policy_format - p in the policy file's own syntax, LF lines, fields in the
 * RFC's order (version, mode, mx..., max_age): what is stored and reported */
void mta_sts_policy_format(const struct mta_sts_policy *p, struct buf *out);

/*
 * mta_sts_refresh_at - when a policy fetched at fetched_at with max_age should be fetched
 * again in the background (RFC 8461 5.1: before it expires, so that a domain never waits
 * for a fetch while its policy was valid): half its max_age before it expires, and never
 * more than a day before.
 */
long long mta_sts_refresh_at(long long fetched_at, long max_age);

#endif
