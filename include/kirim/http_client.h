/*
 * http_client - kirim's one HTTP client: one request on a libuv loop, GET or
 * POST, over http:// or https://, for the small documents and posts kirim
 * exchanges with other servers: MTA-STS policies (RFC 8461 section 3.3), SNS
 * signing certificates, TLS-RPT reports (RFC 8460 5.3.2) and outgoing webhooks.
 *
 * The host (struct http_url, format/http_url.h) is a name or an IP address.
 * An IP address is connected to as it is, never looked up. A name is looked
 * up with the caller's resolver (dns.h), or with the system's (getaddrinfo on
 * libuv's thread pool: /etc/hosts and nsswitch) when dns is NULL; each
 * address is tried in turn until one connects. https: TLS runs through tls.c
 * with the caller's context, which must verify (TLS_POLICY_VERIFY; a start
 * with another is refused): the chain against its CAs and the certificate
 * against the host, a name (sent as SNI) or an IP address (which must be in
 * the certificate's IP subjectAltNames; no SNI). Nothing is ever sent over an
 * unverified connection. The response is read with llhttp.
 *
 * Hard limits, each a failure with its own sentence: the whole request (look-up
 * included) within timeout_ms; a GET's answer must be 200 (a redirect is never
 * followed) of the media type want_type (parameters such as charset ignored)
 * with at most max_body bytes of body (never more is kept); a POST's answer
 * must be 2xx (its body is not read: the request ends with its headers). Header
 * names over 256 bytes and a Content-Type over 256 bytes fail. Nothing is
 * retried.
 *
 * Lifetime: http_client_start, then cb exactly once, from the loop (never
 * inside http_client_start); the object frees itself once its handles are
 * closed, after cb returns. http_client_cancel before cb: cb is never called.
 * The loop must run until the handles are closed before uv_loop_close. Never
 * logs.
 */
#ifndef KIRIM_HTTP_CLIENT_H
#define KIRIM_HTTP_CLIENT_H

#include <stddef.h>

#include <uv.h>

struct dns;
struct http_url;
struct tls_ctx;
struct http_client;

struct http_client_opts {
	const struct http_url *url; /* where (copied) */
	struct tls_ctx *tls;        /* https: a verifying context, borrowed, outliving the
	                               request; http: not used (may be NULL) */
	size_t max_body;            /* a GET's body: bytes at most */
	unsigned timeout_ms;        /* the whole request */
	const char *want_type;      /* a GET's media type: "text/plain"; NULL: any */
	const char *user_agent;     /* "kirim/0.1.0" */
	const char *headers;        /* more header lines, "Name: value\r\n" each; NULL: none
	                               (copied) */
	/*
	 * A POST instead of a GET when post_type is set: post_len bytes of
	 * post_body (copied) with that Content-Type. Any 2xx answer is then a
	 * success (its body and type are not looked at); the rest as for a GET.
	 */
	const char *post_type;
	const void *post_body;
	size_t post_len;
};

struct http_client_result {
	int ok;            /* 1: a GET's 200 of the wanted type within limits, a POST's 2xx */
	int http_status;   /* 0 when no response came */
	const char *error; /* NULL when ok, else a one-line reason that starts with the URL */
	const char *body;  /* a GET's body, NUL-terminated; borrowed for the callback */
	size_t len;
	int tls_failed; /* the failure was the TLS handshake (certificate, protocol) */
	int refused;    /* an answer came and broke a limit on its body: size, media type */
};

typedef void (*http_client_cb)(void *arg, const struct http_client_result *r);

/* http_client_start - start the request; NULL (and no callback) when the options are
 * unusable (no URL, https without a verifying context) or the look-up cannot start */
struct http_client *http_client_start(uv_loop_t *loop, struct dns *dns,
                                      const struct http_client_opts *o, http_client_cb cb,
                                      void *arg);
/* http_client_cancel - stop a request whose callback has not run yet; it is never called */
void http_client_cancel(struct http_client *g);

#endif
