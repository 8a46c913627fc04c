/*
 * token - signed, URL-safe tokens that name a (campaign, contact, purpose).
 *
 * A token is what goes into unsubscribe links, VERP bounce addresses and
 * tracking URLs: it says which campaign and contact a request is about, and
 * an HMAC-SHA256 tag (truncated to 96 bits) made with a key from the config
 * (or the database's generated secret) proves kirim made it, so links can't
 * be forged, altered or moved to another purpose. Tokens use only
 * [A-Za-z0-9_-] (base64url without padding) and are case-sensitive, so they
 * fit in URL paths; for the local part of an email address, where case may
 * not survive, use token_make_lower (base32, lower case). token_equal is the
 * constant-time comparison the tags use, for other secrets (kirim serve's
 * report password) so that their callers need no OpenSSL. Pure code.
 */
#ifndef KIRIM_TOKEN_H
#define KIRIM_TOKEN_H

#include <stddef.h>
#include <stdint.h>

enum token_purpose {
	TOKEN_UNSUBSCRIBE = 'u',
	TOKEN_BOUNCE = 'b',
	TOKEN_OPEN = 'o',
	TOKEN_CLICK = 'c',
	TOKEN_VIEW = 'v',
	TOKEN_MESSAGE_ID = 'm',
	/* A signup's confirmation link: (confirmation campaign, contact) and an expiry time,
	 * made and checked only by token_make_expiring and token_check_expiring. */
	TOKEN_CONFIRM = 'k',
};

enum { TOKEN_MAX = 64 }; /* longest token written, with its NUL */

/*
 * A signing key, made once (the HMAC key schedule is computed here, so each
 * token costs two SHA-256 compressions, not an HMAC set-up). Not thread-safe:
 * one per thread.
 */
struct token_key;

/* token_key_new - a key for keylen bytes of secret (any length, 0 allowed) */
struct token_key *token_key_new(const void *key, size_t keylen);
/* token_key_free - NULL is a no-op; the key bytes are wiped */
void token_key_free(struct token_key *k);

/*
 * token_make - write the token for (purpose, campaign, contact) into out
 * (TOKEN_MAX bytes, NUL-terminated), signed with key. Returns its length (at
 * most 40), or 0 with out = "" when an id is negative or purpose is not one
 * of enum token_purpose (or one that expires: token_make_expiring).
 */
size_t token_make(struct token_key *k, enum token_purpose purpose, int64_t campaign,
                  int64_t contact, char out[TOKEN_MAX]);
/* token_make_lower - the same in lower-case base32 (at most 48 chars), for email local parts */
size_t token_make_lower(struct token_key *k, enum token_purpose purpose, int64_t campaign,
                        int64_t contact, char out[TOKEN_MAX]);
/* token_make_both - token_make's token into out and token_make_lower's into lower, for the
 * cost of one (one HMAC); returns out's length */
size_t token_make_both(struct token_key *k, enum token_purpose purpose, int64_t campaign,
                       int64_t contact, char out[TOKEN_MAX], char lower[TOKEN_MAX]);
/*
 * token_check - verify the n bytes at s (either alphabet; base32 in any case,
 * since mail systems may upper-case local parts) for purpose; on success set
 * *campaign and *contact and return 0, else -1 (forged, altered, truncated,
 * trailing bytes, other purpose, or not a token). The tag is compared in
 * constant time.
 */
int token_check(struct token_key *k, enum token_purpose purpose, const char *s, size_t n,
                int64_t *campaign, int64_t *contact);
/*
 * token_make_expiring - the base64url token for (purpose, campaign, contact)
 * that also carries expires (Unix seconds, signed with the ids: it cannot be
 * moved), into out. Only purposes that expire (TOKEN_CONFIRM) take it, and
 * they take no other. Returns its length (at most 52), or 0 with out = ""
 * for a negative id or time or another purpose.
 */
size_t token_make_expiring(struct token_key *k, enum token_purpose purpose, int64_t campaign,
                           int64_t contact, int64_t expires, char out[TOKEN_MAX]);
/*
 * token_check_expiring - verify a token_make_expiring token (base64url) for
 * purpose as token_check does; on success set *campaign, *contact and
 * *expires and return 0. Whether it has expired is the caller's to decide
 * (this module reads no clock).
 */
int token_check_expiring(struct token_key *k, enum token_purpose purpose, const char *s, size_t n,
                         int64_t *campaign, int64_t *contact, int64_t *expires);
/*
 * token_equal - 1 when the n bytes at a and b are the same, else 0, in a time
 * that does not depend on where they differ (CRYPTO_memcmp)
 */
int token_equal(const void *a, const void *b, size_t n);

/*
 * The other secrets kirim makes and checks, so that their callers need no
 * OpenSSL: API tokens (a prefix and 32 random bytes in base64url, kept as
 * their SHA-256) and the HMAC-SHA256 signatures of outgoing webhooks.
 */
enum { TOKEN_SECRET_BYTES = 32, TOKEN_SECRET_CHARS = 43 };
/*
 * token_secret_new - prefix followed by TOKEN_SECRET_BYTES from the system's
 * random generator in base64url (TOKEN_SECRET_CHARS), NUL-terminated in out
 * (outsz bytes). 0, or -1 when out is too small or no random bytes came.
 */
int token_secret_new(const char *prefix, char *out, size_t outsz);
/* token_sha256 - the SHA-256 of the n bytes at data into out; 0 or -1 */
int token_sha256(const void *data, size_t n, unsigned char out[32]);
/* token_hmac - the full HMAC-SHA256 of the n bytes at data with k's key into out; 0 or -1 */
int token_hmac(struct token_key *k, const void *data, size_t n, unsigned char out[32]);

#endif
