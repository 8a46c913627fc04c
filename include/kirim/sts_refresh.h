/*
 * sts_refresh - MTA-STS policies refreshed in the background (RFC 8461 5.1), so that a
 * domain whose cached policy was valid never waits for a fetch when it is next mailed:
 * each cached policy that has not expired and whose refresh time has come
 * (mta_sts_refresh_at: half its max_age before it expires, at most a day) is fetched
 * again, its _mta-sts TXT id looked up first (a new id is kept with the new policy; no
 * record keeps the old id, RFC 8461 10.2). A policy fetched replaces the cached one and
 * its max_age starts again; a refresh that fails keeps the cached policy as it was, and
 * is tried again at the next call.
 *
 * Blocking: runs a libuv loop of its own for the look-ups and the fetches, at most
 * STS_REFRESH_PARALLEL at once, each within the sender's limits (10 s, 64 KiB, no
 * redirect, text/plain, the certificate verified). Writes the store; does not log (the
 * callback hears of every domain tried).
 */
#ifndef KIRIM_STS_REFRESH_H
#define KIRIM_STS_REFRESH_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

#include <uv.h>

#include "kirim/http_client.h"

struct buf;
struct dns;
struct mta_sts_policy;
struct tls_ctx;

#define STS_REFRESH_PARALLEL 32  /* fetches at once */
#define STS_FETCH_MS (10 * 1000) /* one policy fetch, look-up included */

/*
 * sts_refresh_fetch - start fetching domain's policy from https://mta-sts.DOMAIN[:port]/
 * .well-known/mta-sts.txt with RFC 8461 3.3's limits (STS_FETCH_MS, MTA_STS_BODY_MAX,
 * text/plain, no redirect), the certificate verified with tls: as http_client_start (the
 * sender's, the plan's and the refresh's fetches are the same).
 */
struct http_client *sts_refresh_fetch(uv_loop_t *loop, struct dns *dns, const char *domain,
                                      unsigned port, struct tls_ctx *tls, http_client_cb cb,
                                      void *arg);

/*
 * sts_fetch_read - the policy in the answer r of sts_refresh_fetch: 0 with *p and its text
 * (mta_sts_policy_format, appended to text); or -1 with why in err ("policy fetch failed:
 * ..." or "policy invalid: ...") and its RFC 8460 4.3.2.2 result type in *result (static):
 * sts-webpki-invalid for the policy host's certificate, sts-policy-invalid for an answer
 * that cannot be a policy (too big, not text/plain, does not parse), and
 * sts-policy-fetch-error for no answer or another status.
 */
int sts_fetch_read(const struct http_client_result *r, struct mta_sts_policy *p, struct buf *text,
                   char *err, size_t errsz, const char **result);

struct sts_refresh_opts {
	const char *dns_servers; /* "127.0.0.1:5353,..."; NULL: /etc/resolv.conf */
	unsigned port;           /* the policy hosts' port (0: 443; tests and labs) */
};

/* What became of one domain's refresh, borrowed for the callback. */
struct sts_refreshed {
	const char *domain;
	const char *id;     /* the policy's id now */
	const char *error;  /* NULL: refreshed; else why not (the cached policy stays) */
	int64_t expires_at; /* when the policy in the cache expires now */
};
typedef void (*sts_refresh_cb)(void *arg, const struct sts_refreshed *r);

/*
 * sts_refresh_due - refresh the cached policies due at now, each outcome to cb. Returns
 * the number refreshed, a store error, or -1 with a sentence in err for a set-up fault
 * (the resolver, the CA certificates).
 */
int sts_refresh_due(struct store *s, const struct config *cfg, int64_t now,
                    const struct sts_refresh_opts *o, sts_refresh_cb cb, void *arg, char *err,
                    size_t errsz);

#endif
