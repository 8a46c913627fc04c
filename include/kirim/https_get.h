/*
 * https_get - one HTTPS GET on a libuv loop, for small documents a sender
 * must fetch without stalling anything else: MTA-STS policies (RFC 8461
 * section 3.3); or one POST of a small body (TLS-RPT reports, RFC 8460 5.3.2).
 *
 * The host name is resolved with the caller's resolver (dns.h), each address
 * tried in turn until one connects; TLS runs through tls.c with the caller's
 * context, which must verify (TLS_POLICY_VERIFY): the certificate is checked
 * against the host name. The response is read with llhttp. Hard limits, each
 * a failure with its own sentence: the whole fetch (look-up included) within
 * timeout_ms, at most max_body bytes of body (never more is kept), a status
 * other than 200 (a redirect is never followed), and a media type other than
 * want_type (parameters such as charset ignored). Nothing is retried.
 *
 * Lifetime: https_get_start, then cb exactly once, from the loop (never inside
 * https_get_start); the object frees itself once its handles are closed, after
 * cb returns. https_get_cancel before cb: cb is never called. The loop must
 * run until the handles are closed before uv_loop_close. Never logs.
 */
#ifndef KIRIM_HTTPS_GET_H
#define KIRIM_HTTPS_GET_H

#include <stddef.h>

#include <uv.h>

struct dns;
struct tls_ctx;
struct https_get;

struct https_get_opts {
	const char *host;       /* the server's name: look-up, SNI, certificate, Host: */
	const char *path;       /* "/.well-known/mta-sts.txt" */
	unsigned port;          /* 0: 443 */
	struct tls_ctx *tls;    /* a verifying context, borrowed, outliving the fetch */
	size_t max_body;        /* bytes of body at most */
	unsigned timeout_ms;    /* the whole fetch */
	const char *want_type;  /* "text/plain"; NULL: any */
	const char *user_agent; /* "kirim/0.1.0" */
	/*
	 * A POST instead of a GET when post_type is set: post_len bytes of
	 * post_body (copied) with that Content-Type. Any 2xx answer is then a
	 * success (its body and type are not looked at); the rest as for a GET.
	 */
	const char *post_type;
	const void *post_body;
	size_t post_len;
};

struct https_get_result {
	int ok;            /* 1: status 200, the wanted type, the whole body within limits */
	int http_status;   /* 0 when no response came */
	const char *error; /* NULL when ok, else a one-line reason */
	const char *body;  /* NUL-terminated; borrowed for the duration of the callback */
	size_t len;
	int tls_failed; /* the failure was the TLS handshake (certificate, protocol) */
	int refused;    /* an answer came and broke a limit on its body: size, media type */
};

typedef void (*https_get_cb)(void *arg, const struct https_get_result *r);

/* https_get_start - start fetching https://host[:port]/path; NULL (and no callback) when
 * the options are unusable */
struct https_get *https_get_start(uv_loop_t *loop, struct dns *dns, const struct https_get_opts *o,
                                  https_get_cb cb, void *arg);
/* https_get_cancel - stop a fetch whose callback has not run yet; it is never called */
void https_get_cancel(struct https_get *g);

#endif
