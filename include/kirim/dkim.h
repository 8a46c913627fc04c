/*
 * dkim - DKIM signatures (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463).
 *
 * Owns private keys loaded from PEM bytes (struct dkim_key) and signers bound to
 * one key, signing domain and selector (struct dkim_signer). A signer turns a
 * complete CRLF-terminated RFC 5322 message (header fields, blank line, body)
 * into the "DKIM-Signature:" header field to prepend to it, with
 * c=relaxed/relaxed. It signs every instance of the header fields that RFC 6376
 * 5.4 recommends and the message carries (From, Reply-To, Subject, Date, To, Cc,
 * Message-ID, In-Reply-To, References, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, List-Unsubscribe, List-Unsubscribe-Post, List-Id,
 * Feedback-ID), bottom-up as 5.4.2 says, and lists From once more than it occurs
 * so that nobody can add a From field without breaking the signature.
 *
 * Lifetime: a signer takes its own reference to the key, so the key may be
 * freed before the signer. A signer keeps hash and signature contexts and
 * scratch memory between calls: use one signer per thread. A key is read-only
 * once loaded and may be shared by signers in several threads.
 *
 * Pure code: no file or network I/O, no globals, no logging. Functions return 0
 * or -1; on -1 a short English message is written to err (errsz bytes, may be
 * NULL/0) and out-parameters are untouched. OpenSSL stays inside dkim.c.
 */
#ifndef KIRIM_DKIM_H
#define KIRIM_DKIM_H

#include <stddef.h>

#include "kirim/buf.h"

enum dkim_key_type {
	DKIM_KEY_RSA = 1,     /* a=rsa-sha256, k=rsa */
	DKIM_KEY_ED25519 = 2, /* a=ed25519-sha256, k=ed25519 (RFC 8463) */
};

enum {
	DKIM_RSA_BITS_MIN = 1024,      /* RFC 8301 3.2: verifiers refuse shorter keys */
	DKIM_RSA_BITS_MAX = 8192,      /* beyond this the TXT record and signing time are absurd */
	DKIM_RSA_BITS_DEFAULT = 2048,  /* what dkim_keygen makes when asked for 0 bits */
	DKIM_PEM_MAX = 64 * 1024,      /* cap on a PEM private key given to dkim_key_load */
	DKIM_HEADER_MAX = 1024 * 1024, /* cap on the header section of a message to sign */
	DKIM_NAME_MAX = 253,           /* cap on the d= domain and the s= selector */
};

struct dkim_key;
struct dkim_signer;

/*
 * dkim_key_load - parse a PEM private key (PKCS#8 "PRIVATE KEY" or PKCS#1
 * "RSA PRIVATE KEY"; len bytes at pem) and tell RSA from Ed25519. Encrypted
 * keys, other key types and RSA keys outside DKIM_RSA_BITS_MIN..MAX are refused.
 */
int dkim_key_load(const char *pem, size_t len, struct dkim_key **out, char *err, size_t errsz);

/* dkim_key_free - release a key; NULL is a no-op; signers made from it stay valid */
void dkim_key_free(struct dkim_key *key);

/* dkim_key_type - DKIM_KEY_RSA or DKIM_KEY_ED25519 */
enum dkim_key_type dkim_key_type(const struct dkim_key *key);

/*
 * dkim_pubkey_txt - append the DNS TXT record text for the key's public half,
 * "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519;
 * p=<base64 of the 32-byte key>", to out. The text is one string: a 2048-bit
 * RSA record is longer than 255 bytes, so the DNS side must split it into
 * several character-strings.
 */
int dkim_pubkey_txt(const struct dkim_key *key, struct buf *out);

/*
 * dkim_keygen - make a new private key of the given type and append it to pem
 * as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). rsa_bits is used for RSA only
 * (0 means DKIM_RSA_BITS_DEFAULT).
 */
int dkim_keygen(enum dkim_key_type type, unsigned rsa_bits, struct buf *pem, char *err,
                size_t errsz);

/*
 * dkim_signer_new - make a signer for key, signing domain (d=, ASCII A-labels)
 * and selector (s=). The strings are copied; the signer holds its own
 * reference to the key.
 */
int dkim_signer_new(struct dkim_key *key, const char *domain, const char *selector,
                    struct dkim_signer **out, char *err, size_t errsz);

/*
 * dkim_signer_dup - a second signer for the same key, domain and selector, with
 * contexts of its own: one signer per thread signs in parallel (the key is shared)
 */
int dkim_signer_dup(const struct dkim_signer *s, struct dkim_signer **out, char *err, size_t errsz);
/* dkim_signer_free - release a signer; NULL is a no-op */
void dkim_signer_free(struct dkim_signer *s);

/*
 * dkim_sign - sign the len bytes of msg (CRLF line ends; a bare CR or LF is an
 * error) and append the complete "DKIM-Signature: ...\r\n" header field,
 * folded with CRLF+TAB so that no line is wider than 78 columns (a TAB counted
 * as 8), to out_header. timestamp (seconds since the epoch) goes in t= when it
 * is above 0. Errors: no From field, a malformed header section, a header
 * section over DKIM_HEADER_MAX bytes, a crypto failure.
 */
int dkim_sign(struct dkim_signer *s, const char *msg, size_t len, long timestamp,
              struct buf *out_header, char *err, size_t errsz);

/*
 * dkim_canon_header - append the relaxed canonical form (RFC 6376 3.4.2) of one
 * header field (len bytes, folds included, a final CRLF optional) to out,
 * ending in CRLF. Returns -1 for a field without "name:" or with a bare CR/LF.
 */
int dkim_canon_header(const char *field, size_t len, struct buf *out);

/*
 * dkim_canon_body - append the relaxed canonical form (RFC 6376 3.4.4) of a
 * message body to out. An empty body (or one of only blank lines) gives the
 * empty string, as RFC 6376 3.4.4 and its verifiers have it. Returns -1 for a
 * bare CR or LF.
 */
int dkim_canon_body(const char *body, size_t len, struct buf *out);

#endif
