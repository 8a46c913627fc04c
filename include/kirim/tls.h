/*
 * tls - TLS client over memory buffers (OpenSSL memory BIOs).
 *
 * libuv owns the socket; this module never touches it (h2o style). The caller
 * feeds the ciphertext it read (tls_conn_feed), drives the handshake
 * (tls_conn_handshake), writes plaintext (tls_conn_write), sends whatever
 * ciphertext tls_conn_take_out hands back, and reads plaintext
 * (tls_conn_read). The only module that includes OpenSSL headers besides
 * dkim.c; OpenSSL errors are turned into text here.
 *
 * A struct tls_ctx holds the policy and trust store and may be shared by many
 * connections; it must outlive them. A struct tls_conn belongs to one
 * connection. Both are freed with their _free function (NULL is a no-op).
 * Does not log.
 */
#ifndef KIRIM_TLS_H
#define KIRIM_TLS_H

#include <stddef.h>

#include "kirim/buf.h"

enum tls_policy {
	TLS_POLICY_NONE,          /* never start TLS */
	TLS_POLICY_OPPORTUNISTIC, /* STARTTLS when offered, any certificate */
	TLS_POLICY_REQUIRED,      /* TLS or no delivery, any certificate */
	TLS_POLICY_VERIFY,        /* TLS, certificate chain and host name verified */
	TLS_POLICY_DANE,          /* TLS, certificate matched to DNSSEC-validated TLSA records
	                             (RFC 7672; needs them: tls_conn_new_dane) */
};

/* One TLSA record for tls_conn_new_dane (RFC 6698 fields; data borrowed for the call). */
struct tls_tlsa {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

/* tls_conn_handshake and tls_conn_read results. */
enum {
	TLS_OK = 0,
	TLS_WANT = 1,    /* handshake: more input needed */
	TLS_ERROR = -1,  /* fatal; tls_conn_error says why */
	TLS_CLOSED = -2, /* the peer sent close_notify */
};

struct tls_ctx;
struct tls_conn;

/* tls_policy_name - "none", "opportunistic", "required", "verify" or "dane" */
const char *tls_policy_name(enum tls_policy policy);
/* tls_policy_parse - the policy named s; 0, or -1 for an unknown name */
int tls_policy_parse(const char *s, enum tls_policy *out);

/*
 * tls_ctx_new - a client context for policy (which must not be
 * TLS_POLICY_NONE). ca_file: PEM bundle of trusted CAs for the verify policy,
 * or NULL for the system's default store. Returns 0 with *out set, or -1 with
 * a message in err (errsz bytes).
 */
int tls_ctx_new(enum tls_policy policy, const char *ca_file, struct tls_ctx **out, char *err,
                size_t errsz);
/* tls_ctx_free - release a context no connection uses any more */
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * tls_conn_new - a client connection. host: the server's name, sent as SNI
 * (unless it is an IP address) and, under the verify policy, checked against
 * the certificate. May be NULL (no SNI; verify then fails).
 */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *host);
/*
 * tls_conn_new_dane - a client connection authenticated by DANE (RFC 7672): the server's
 * chain must match one of the TLSA records (usages 2 and 3; selectors 0 and 1; digests
 * SHA-256 and SHA-512), DANE-EE without a name check, DANE-TA with host as the name.
 * Records OpenSSL cannot use are skipped; *usable (may be NULL) gets how many were taken:
 * with none, the caller decides (RFC 7672 2.2: TLS without authentication). ctx may be of
 * any policy but must come from tls_ctx_new (DANE is enabled on every context).
 */
struct tls_conn *tls_conn_new_dane(struct tls_ctx *ctx, const char *host,
                                   const struct tls_tlsa *tlsa, size_t n, size_t *usable);
/* tls_conn_free - release a connection */
void tls_conn_free(struct tls_conn *c);
/* tls_conn_feed - hand over n bytes of ciphertext read from the socket */
void tls_conn_feed(struct tls_conn *c, const void *data, size_t n);
/* tls_conn_handshake - advance the handshake: TLS_OK (done), TLS_WANT or TLS_ERROR */
int tls_conn_handshake(struct tls_conn *c);
/* tls_conn_write - encrypt n bytes of plaintext (after the handshake); 0 or TLS_ERROR */
int tls_conn_write(struct tls_conn *c, const void *data, size_t n);
/* tls_conn_read - append the plaintext available to out: TLS_OK, TLS_CLOSED or TLS_ERROR */
int tls_conn_read(struct tls_conn *c, struct buf *out);
/* tls_conn_pending_out - bytes of ciphertext waiting to be sent */
size_t tls_conn_pending_out(const struct tls_conn *c);
/* tls_conn_take_out - append the ciphertext waiting to be sent to out and forget it */
void tls_conn_take_out(struct tls_conn *c, struct buf *out);
/* tls_conn_close_notify - after the handshake, queue a close_notify alert for take_out */
void tls_conn_close_notify(struct tls_conn *c);
/* tls_conn_version - "TLSv1.3" etc. once the handshake is done, else "" */
const char *tls_conn_version(const struct tls_conn *c);
/* tls_conn_cipher - the cipher suite name once the handshake is done, else "" */
const char *tls_conn_cipher(const struct tls_conn *c);
/* tls_conn_verified - 1 when the chain and host name were verified (or, under DANE, the
 * chain matched a TLSA record) */
int tls_conn_verified(const struct tls_conn *c);
/* What checking the server's certificate found (RFC 8460's failure types), verified or
 * not: a connection made by tls_conn_new_check is checked but never failed for it. */
enum tls_check {
	TLS_CHECK_OK,            /* chain and name (or a TLSA record) matched */
	TLS_CHECK_UNCHECKED,     /* nothing was checked (a context without CAs) */
	TLS_CHECK_EXPIRED,       /* a certificate of the chain has expired (or is not yet valid) */
	TLS_CHECK_HOST_MISMATCH, /* no name of the certificate is the host's */
	TLS_CHECK_NOT_TRUSTED,   /* self-signed, or no chain to a trusted CA */
	TLS_CHECK_TLSA,          /* DANE: no TLSA record matched the chain */
	TLS_CHECK_OTHER,         /* the handshake failed for another reason */
};

/* tls_ctx_verifies - whether ctx has CAs to check certificates against */
int tls_ctx_verifies(const struct tls_ctx *ctx);
/* tls_conn_new_check - tls_conn_new that checks the certificate against host (when ctx
 * has CAs) but goes on whatever the check finds: tls_conn_check says what it found */
struct tls_conn *tls_conn_new_check(struct tls_ctx *ctx, const char *host);
/* tls_conn_check - what checking the certificate found, after the handshake or its failure */
enum tls_check tls_conn_check(const struct tls_conn *c);
/* tls_conn_error - text of the last error ("" when none) */
const char *tls_conn_error(const struct tls_conn *c);

#endif
