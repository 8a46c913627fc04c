/* tls - TLS client over OpenSSL memory BIOs (see tls.h). */
#include "kirim/tls.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kirim/xmalloc.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	enum tls_policy policy;
};

struct tls_conn {
	struct tls_ctx *ctx; /* borrowed; outlives the connection */
	bool dane;           /* authenticated by TLSA records, whatever ctx's policy */
	bool checked;        /* the certificate is checked (verify policy, DANE, or _check) */
	SSL *ssl;
	BIO *rbio; /* ciphertext from the network; owned by ssl */
	BIO *wbio; /* ciphertext to the network; owned by ssl */
	int done;
	char error[256];
};

static const char *const policy_names[] = {
    [TLS_POLICY_NONE] = "none",         [TLS_POLICY_OPPORTUNISTIC] = "opportunistic",
    [TLS_POLICY_REQUIRED] = "required", [TLS_POLICY_VERIFY] = "verify",
    [TLS_POLICY_DANE] = "dane",
};

const char *
tls_policy_name(enum tls_policy policy)
{
	if ((unsigned)policy >= sizeof(policy_names) / sizeof(policy_names[0]))
		return "?";
	return policy_names[policy];
}

int
tls_policy_parse(const char *s, enum tls_policy *out)
{
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (enum tls_policy)i;
			return 0;
		}
	}
	return -1;
}

/* Text of the oldest queued OpenSSL error (or fallback), clearing the queue. */
static void
ssl_error_text(char *out, size_t outsz, const char *what, const char *fallback)
{
	unsigned long e = ERR_get_error();
	if (e == 0) {
		snprintf(out, outsz, "%s: %s", what, fallback);
		return;
	}
	char tmp[200];
	ERR_error_string_n(e, tmp, sizeof(tmp));
	snprintf(out, outsz, "%s: %s", what, tmp);
	ERR_clear_error();
}

int
tls_ctx_new(enum tls_policy policy, const char *ca_file, struct tls_ctx **out, char *err,
            size_t errsz)
{
	if (policy == TLS_POLICY_NONE) {
		snprintf(err, errsz, "TLS context requested with policy none");
		return -1;
	}
	if (policy == TLS_POLICY_DANE)
		policy =
		    TLS_POLICY_REQUIRED; /* the context: TLS; each connection brings its TLSA */
	ERR_clear_error();
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	if (sc == NULL) {
		ssl_error_text(err, errsz, "SSL_CTX_new", "failed");
		return -1;
	}
	SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
	if (policy == TLS_POLICY_VERIFY) {
		SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
		int ok = ca_file ? SSL_CTX_load_verify_locations(sc, ca_file, NULL)
		                 : SSL_CTX_set_default_verify_paths(sc);
		if (ok != 1) {
			ssl_error_text(err, errsz, ca_file ? ca_file : "default CA store",
			               "cannot load CA certificates");
			SSL_CTX_free(sc);
			return -1;
		}
	} else {
		/* Encryption without authentication: better than plaintext (RFC 7435). */
		SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	}
	/* DANE (RFC 7672) is per connection (tls_conn_new_dane); the context only needs its
	 * digest tables. */
	if (SSL_CTX_dane_enable(sc) <= 0) {
		ssl_error_text(err, errsz, "SSL_CTX_dane_enable", "failed");
		SSL_CTX_free(sc);
		return -1;
	}
	struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->ssl_ctx = sc;
	ctx->policy = policy;
	*out = ctx;
	return 0;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

static int
is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, const char *host)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->ssl = SSL_new(ctx->ssl_ctx);
	if (c->ssl == NULL)
		abort(); /* allocation failure, as xmalloc does */
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->rbio == NULL || c->wbio == NULL)
		abort();
	/* An empty read BIO means "want more", not end of file. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_connect_state(c->ssl);
	if (host != NULL && host[0] != '\0') {
		int ip = is_ip(host);
		if (!ip)
			SSL_set_tlsext_host_name(c->ssl, host);
		if (ctx->policy == TLS_POLICY_VERIFY) {
			if (ip)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
			else
				SSL_set1_host(c->ssl, host);
			c->checked = true;
		}
	}
	return c;
}

int
tls_ctx_verifies(const struct tls_ctx *ctx)
{
	return ctx->policy == TLS_POLICY_VERIFY;
}

struct tls_conn *
tls_conn_new_check(struct tls_ctx *ctx, const char *host)
{
	struct tls_conn *c = tls_conn_new(ctx, host);
	/* The chain and name are checked as under verify, the result kept, the handshake
	 * never failed for it (the policy does not require it: RFC 8460 counts it). */
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	return c;
}

enum tls_check
tls_conn_check(const struct tls_conn *c)
{
	if (!c->checked && !c->dane)
		return c->done ? TLS_CHECK_UNCHECKED : TLS_CHECK_OTHER;
	long vr = SSL_get_verify_result(c->ssl);
	switch (vr) {
	case X509_V_OK:
		return c->done ? TLS_CHECK_OK : TLS_CHECK_OTHER;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_CHECK_EXPIRED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLS_CHECK_HOST_MISMATCH;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return c->dane ? TLS_CHECK_TLSA : TLS_CHECK_NOT_TRUSTED;
	case X509_V_ERR_DANE_NO_MATCH:
		return TLS_CHECK_TLSA;
	default:
		return TLS_CHECK_OTHER;
	}
}

struct tls_conn *
tls_conn_new_dane(struct tls_ctx *ctx, const char *host, const struct tls_tlsa *tlsa, size_t n,
                  size_t *usable)
{
	struct tls_conn *c = tls_conn_new(ctx, NULL);
	size_t ok = 0;
	if (host != NULL && host[0] != '\0' && !is_ip(host))
		SSL_set_tlsext_host_name(c->ssl, host);
	/* The reference identifier for DANE-TA is the MX host's name (RFC 7672 3.2.2). */
	if (SSL_dane_enable(c->ssl, host && host[0] ? host : NULL) <= 0)
		abort(); /* only fails without a DANE-enabled context or memory */
	/* RFC 7672 3.1.1: DANE-EE matches the key, whatever names the certificate holds. */
	SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < n; i++) {
		/* PKIX-TA and PKIX-EE (0, 1) are not for SMTP (RFC 7672 3.1.3): unusable. */
		if (tlsa[i].usage != 2 && tlsa[i].usage != 3)
			continue;
		if (SSL_dane_tlsa_add(c->ssl, tlsa[i].usage, tlsa[i].selector, tlsa[i].mtype,
		                      tlsa[i].data, tlsa[i].len) > 0)
			ok++;
	}
	ERR_clear_error(); /* a record OpenSSL refuses is skipped, not an error */
	if (ok > 0) {
		c->dane = true;
		c->checked = true;
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	}
	if (usable)
		*usable = ok;
	return c;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl); /* frees both BIOs */
	free(c);
}

void
tls_conn_feed(struct tls_conn *c, const void *data, size_t n)
{
	while (n > 0) {
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		int w = BIO_write(c->rbio, data, chunk);
		if (w <= 0)
			abort(); /* a memory BIO only fails when out of memory */
		data = (const char *)data + w;
		n -= (size_t)w;
	}
}

int
tls_conn_handshake(struct tls_conn *c)
{
	if (c->done)
		return TLS_OK;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->done = 1;
		return TLS_OK;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return TLS_WANT;
	long vr = SSL_get_verify_result(c->ssl);
	if ((c->ctx->policy == TLS_POLICY_VERIFY || c->dane) && vr != X509_V_OK) {
		snprintf(c->error, sizeof(c->error), "TLS handshake failed: certificate verify: %s",
		         X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else if (e == SSL_ERROR_SSL) {
		ssl_error_text(c->error, sizeof(c->error), "TLS handshake failed", "error");
	} else {
		snprintf(c->error, sizeof(c->error), "TLS handshake failed: peer closed");
		ERR_clear_error();
	}
	return TLS_ERROR;
}

int
tls_conn_write(struct tls_conn *c, const void *data, size_t n)
{
	ERR_clear_error();
	while (n > 0) {
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		int w = SSL_write(c->ssl, data, chunk);
		if (w <= 0) {
			ssl_error_text(c->error, sizeof(c->error), "TLS write failed", "error");
			return TLS_ERROR;
		}
		data = (const char *)data + w;
		n -= (size_t)w;
	}
	return TLS_OK;
}

int
tls_conn_read(struct tls_conn *c, struct buf *out)
{
	ERR_clear_error();
	for (;;) {
		buf_reserve(out, 16384);
		int r = SSL_read(c->ssl, out->data + out->len, 16384);
		if (r > 0) {
			out->len += (size_t)r;
			out->data[out->len] = '\0';
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return TLS_OK;
		if (e == SSL_ERROR_ZERO_RETURN)
			return TLS_CLOSED;
		ssl_error_text(c->error, sizeof(c->error), "TLS read failed", "connection error");
		return TLS_ERROR;
	}
}

size_t
tls_conn_pending_out(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

void
tls_conn_take_out(struct tls_conn *c, struct buf *out)
{
	size_t n = BIO_ctrl_pending(c->wbio);
	while (n > 0) {
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		buf_reserve(out, (size_t)chunk);
		int r = BIO_read(c->wbio, out->data + out->len, chunk);
		if (r <= 0)
			break;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
		n = BIO_ctrl_pending(c->wbio);
	}
}

void
tls_conn_close_notify(struct tls_conn *c)
{
	if (c->done) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

const char *
tls_conn_version(const struct tls_conn *c)
{
	return c->done ? SSL_get_version(c->ssl) : "";
}

const char *
tls_conn_cipher(const struct tls_conn *c)
{
	const char *n = c->done ? SSL_get_cipher_name(c->ssl) : NULL;
	return n ? n : "";
}

int
tls_conn_verified(const struct tls_conn *c)
{
	if (!c->done || SSL_get_verify_result(c->ssl) != X509_V_OK)
		return 0;
	if (c->dane)
		return SSL_get0_dane_authority(c->ssl, NULL, NULL) >= 0;
	return c->ctx->policy == TLS_POLICY_VERIFY;
}

const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->error;
}
