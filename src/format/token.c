/*
 * token - signed, URL-safe tokens that name a (campaign, contact, purpose).
 *
 * Layout. The signed payload is one purpose byte followed by the campaign and
 * contact ids as unsigned LEB128 varints (ids are never negative, so at most 9
 * bytes each for 63 bits), and for a purpose that expires (TOKEN_CONFIRM) a
 * third varint, the expiry time: a token with two varints never passes for
 * one with three, or the other way round, since the purpose byte is signed. The tag is the first
 * TAG_LEN bytes of HMAC-SHA256(key, payload). The token is the encoding of the payload without its
 * purpose byte, followed by the tag: the purpose is bound by the HMAC but not written, so a token
 * made for one purpose fails for every other.
 *
 * Encodings. token_make writes base64url (RFC 4648 section 5) without
 * padding; token_make_lower writes base32 (RFC 4648 section 6) in lower case
 * without padding. Both decoders are strict: the unused low bits of the last
 * character must be zero and the length must be one a real encoding can have,
 * so every token has exactly one spelling per alphabet and changing any one
 * character changes the bytes. token_check accepts base32 in any case (mail
 * systems may upper-case local parts) and, since a base64url token can by
 * chance use only base32 characters, tries each decoding the characters allow.
 *
 * Pure code: no I/O, no globals, no logging. OpenSSL is used for HMAC-SHA256
 * and the constant-time comparison only (of tags here, of other secrets
 * through token_equal).
 */
#include "kirim/token.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "kirim/xmalloc.h"

enum {
	TAG_LEN = 12,                       /* 96-bit truncated HMAC-SHA256 */
	VARINT_MAX = 9,                     /* 63 bits of a non-negative int64_t */
	RAW_MAX = 3 * VARINT_MAX + TAG_LEN, /* 39 bytes (expiring): base64url 52, base32 63 */
	PAYLOAD_MAX = 1 + 3 * VARINT_MAX,   /* purpose + varints */
	TEXT_MAX = (RAW_MAX * 8 + 4) / 5,   /* the longer encoding (base32), 63 */
};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b32lower[] = "abcdefghijklmnopqrstuvwxyz234567";

/* How many ids a purpose's token signs: 2, 3 for one that expires, 0 for no purpose. */
static int
purpose_ids(enum token_purpose p)
{
	switch (p) {
	case TOKEN_UNSUBSCRIBE:
	case TOKEN_BOUNCE:
	case TOKEN_OPEN:
	case TOKEN_CLICK:
	case TOKEN_VIEW:
	case TOKEN_MESSAGE_ID:
		return 2;
	case TOKEN_CONFIRM:
		return 3;
	}
	return 0;
}

static size_t
varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/*
 * Read one varint from p (n bytes). Returns the bytes used, or 0 when it is
 * truncated, longer than VARINT_MAX bytes, overlong (a needless final 0x00
 * group, so that each value has one spelling) or above INT64_MAX.
 */
static size_t
varint_get(const unsigned char *p, size_t n, int64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && i < VARINT_MAX; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] & 0x80)
			continue;
		if (i > 0 && p[i] == 0)
			return 0;
		/* Nine groups of 7 bits are 63 bits: v always fits in int64_t. */
		*out = (int64_t)v;
		return i + 1;
	}
	return 0;
}

enum { SHA256_BLOCK = 64, SHA256_LEN = 32 };

/*
 * The HMAC key schedule (RFC 2104): SHA-256 states that have already taken
 * the key XOR ipad and the key XOR opad blocks; each tag copies them.
 */
struct token_key {
	EVP_MD_CTX *inner;
	EVP_MD_CTX *outer;
	EVP_MD_CTX *work;
	int ok; /* 0 when OpenSSL failed to set up: every token is then refused */
};

/* token_key_new - compute the HMAC-SHA256 key schedule for key */
struct token_key *
token_key_new(const void *key, size_t keylen)
{
	struct token_key *k = xcalloc(1, sizeof(*k));
	unsigned char k0[SHA256_BLOCK] = {0}, pad[SHA256_BLOCK];
	unsigned int dlen = 0;
	const EVP_MD *md = EVP_sha256();

	k->inner = EVP_MD_CTX_new();
	k->outer = EVP_MD_CTX_new();
	k->work = EVP_MD_CTX_new();
	if (!k->inner || !k->outer || !k->work)
		return k;
	if (keylen > SHA256_BLOCK) {
		if (!EVP_Digest(key, keylen, k0, &dlen, md, NULL))
			return k;
	} else if (keylen) {
		memcpy(k0, key, keylen);
	}
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	if (!EVP_DigestInit_ex(k->inner, md, NULL) || !EVP_DigestUpdate(k->inner, pad, sizeof(pad)))
		goto out;
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	if (!EVP_DigestInit_ex(k->outer, md, NULL) || !EVP_DigestUpdate(k->outer, pad, sizeof(pad)))
		goto out;
	k->ok = 1;
out:
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(pad, sizeof(pad));
	return k;
}

/* token_key_free - release the key schedule */
void
token_key_free(struct token_key *k)
{
	if (k == NULL)
		return;
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	EVP_MD_CTX_free(k->work);
	free(k);
}

/* token_hmac - HMAC-SHA256 of the n bytes at data with k's key; 0 or -1 */
int
token_hmac(struct token_key *k, const void *data, size_t n, unsigned char out[32])
{
	unsigned char ih[SHA256_LEN];
	unsigned int len = 0;

	if (!k->ok || !EVP_MD_CTX_copy_ex(k->work, k->inner) ||
	    !EVP_DigestUpdate(k->work, data, n) || !EVP_DigestFinal_ex(k->work, ih, &len) ||
	    !EVP_MD_CTX_copy_ex(k->work, k->outer) || !EVP_DigestUpdate(k->work, ih, sizeof(ih)) ||
	    !EVP_DigestFinal_ex(k->work, out, &len))
		return -1;
	OPENSSL_cleanse(ih, sizeof(ih));
	return 0;
}

/* HMAC-SHA256 of the n payload bytes, truncated to TAG_LEN. Returns 0 or -1. */
static int
tag_make(struct token_key *k, const unsigned char *payload, size_t n, unsigned char tag[TAG_LEN])
{
	unsigned char md[SHA256_LEN];

	if (token_hmac(k, payload, n, md) < 0)
		return -1;
	memcpy(tag, md, TAG_LEN);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* Build the written bytes (nids varints + tag) into raw. Returns their count, 0 on error. */
static size_t
raw_make(struct token_key *k, enum token_purpose purpose, const int64_t *ids, int nids,
         unsigned char raw[RAW_MAX])
{
	unsigned char payload[PAYLOAD_MAX];
	size_t n = 0;

	if (purpose_ids(purpose) != nids)
		return 0;
	for (int i = 0; i < nids; i++)
		if (ids[i] < 0)
			return 0;
	payload[n++] = (unsigned char)purpose;
	for (int i = 0; i < nids; i++)
		n += varint_put(payload + n, (uint64_t)ids[i]);
	if (tag_make(k, payload, n, raw + n - 1) < 0)
		return 0;
	memcpy(raw, payload + 1, n - 1);
	return n - 1 + TAG_LEN;
}

/* encode - n bytes as width-bit characters of alphabet (6: base64url, 5: base32), no padding */
static size_t
encode(const unsigned char *p, size_t n, int width, const char *alphabet, char *out)
{
	size_t o = 0;
	uint32_t acc = 0, mask = (1u << width) - 1;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= width) {
			bits -= width;
			out[o++] = alphabet[(acc >> bits) & mask];
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (width - bits)) & mask];
	out[o] = '\0';
	return o;
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Base32 digit value, in either case. */
static int
b32_value(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/*
 * Decode n characters of width bits each (6: base64url, 5: base32) into out
 * (cap bytes). Refuses characters outside the alphabet, a length no encoder
 * writes, and non-zero leftover bits. Returns the byte count or -1.
 */
static int
decode(const char *s, size_t n, int width, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int v =
		    width == 6 ? b64url_value((unsigned char)s[i]) : b32_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << width) | (uint32_t)v;
		bits += width;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits fill less than one character and must be zero. */
	if (bits >= width || acc != 0)
		return -1;
	return (int)o;
}

/* Check decoded bytes against purpose (nids varints and the tag); set ids on success. */
static int
raw_check(struct token_key *k, enum token_purpose purpose, const unsigned char *raw, size_t n,
          int64_t *ids, int nids)
{
	unsigned char payload[PAYLOAD_MAX];
	unsigned char tag[TAG_LEN];
	int64_t v[3];
	size_t used = 0;

	for (int i = 0; i < nids; i++) {
		size_t l = varint_get(raw + used, n - used, &v[i]);
		if (l == 0)
			return -1;
		used += l;
	}
	if (n - used != TAG_LEN)
		return -1;
	payload[0] = (unsigned char)purpose;
	memcpy(payload + 1, raw, used);
	if (tag_make(k, payload, 1 + used, tag) < 0)
		return -1;
	if (!token_equal(tag, raw + used, TAG_LEN))
		return -1;
	memcpy(ids, v, (size_t)nids * sizeof(*ids));
	return 0;
}

/* token_make - write the base64url token for (purpose, campaign, contact) */
size_t
token_make(struct token_key *k, enum token_purpose purpose, int64_t campaign, int64_t contact,
           char out[TOKEN_MAX])
{
	unsigned char raw[RAW_MAX];
	int64_t ids[2] = {campaign, contact};
	size_t n = raw_make(k, purpose, ids, 2, raw);

	out[0] = '\0';
	if (n == 0)
		return 0;
	return encode(raw, n, 6, b64url, out);
}

/* token_make_lower - write the lower-case base32 token for (purpose, campaign, contact) */
size_t
token_make_lower(struct token_key *k, enum token_purpose purpose, int64_t campaign, int64_t contact,
                 char out[TOKEN_MAX])
{
	unsigned char raw[RAW_MAX];
	int64_t ids[2] = {campaign, contact};
	size_t n = raw_make(k, purpose, ids, 2, raw);

	out[0] = '\0';
	if (n == 0)
		return 0;
	return encode(raw, n, 5, b32lower, out);
}

/* token_make_both - token_make into out and token_make_lower into lower, one HMAC for both */
size_t
token_make_both(struct token_key *k, enum token_purpose purpose, int64_t campaign, int64_t contact,
                char out[TOKEN_MAX], char lower[TOKEN_MAX])
{
	unsigned char raw[RAW_MAX];
	int64_t ids[2] = {campaign, contact};
	size_t n = raw_make(k, purpose, ids, 2, raw);

	out[0] = lower[0] = '\0';
	if (n == 0)
		return 0;
	encode(raw, n, 5, b32lower, lower);
	return encode(raw, n, 6, b64url, out);
}

/* token_check - verify a token of either alphabet for purpose and return its ids */
int
token_check(struct token_key *k, enum token_purpose purpose, const char *s, size_t n,
            int64_t *campaign, int64_t *contact)
{
	unsigned char raw[RAW_MAX];
	int64_t ids[2];
	int len;

	if (purpose_ids(purpose) != 2 || !s || n == 0 || n > TEXT_MAX)
		return -1;
	/*
	 * Each decoder refuses characters outside its alphabet, so trying both
	 * covers the ambiguous case (a base64url token made only of base32
	 * characters) without guessing. A forger gains nothing from the second
	 * try: both need a valid tag.
	 */
	len = decode(s, n, 6, raw, sizeof(raw));
	if (len <= 0 || raw_check(k, purpose, raw, (size_t)len, ids, 2) < 0) {
		len = decode(s, n, 5, raw, sizeof(raw));
		if (len <= 0 || raw_check(k, purpose, raw, (size_t)len, ids, 2) < 0)
			return -1;
	}
	*campaign = ids[0];
	*contact = ids[1];
	return 0;
}

/* token_make_expiring - the base64url token for (purpose, campaign, contact, expires) */
size_t
token_make_expiring(struct token_key *k, enum token_purpose purpose, int64_t campaign,
                    int64_t contact, int64_t expires, char out[TOKEN_MAX])
{
	unsigned char raw[RAW_MAX];
	int64_t ids[3] = {campaign, contact, expires};
	size_t n = raw_make(k, purpose, ids, 3, raw);

	out[0] = '\0';
	if (n == 0)
		return 0;
	return encode(raw, n, 6, b64url, out);
}

/* token_check_expiring - verify a token_make_expiring token and return its ids and expiry */
int
token_check_expiring(struct token_key *k, enum token_purpose purpose, const char *s, size_t n,
                     int64_t *campaign, int64_t *contact, int64_t *expires)
{
	unsigned char raw[RAW_MAX];
	int64_t ids[3];

	if (purpose_ids(purpose) != 3 || !s || n == 0 || n > TEXT_MAX)
		return -1;
	/* Links only: base64url alone (a mail system never changes a URL's case). */
	int len = decode(s, n, 6, raw, sizeof(raw));
	if (len <= 0 || raw_check(k, purpose, raw, (size_t)len, ids, 3) < 0)
		return -1;
	*campaign = ids[0];
	*contact = ids[1];
	*expires = ids[2];
	return 0;
}

/* token_equal - compare n bytes in constant time */
int
token_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* token_sha256 - SHA-256 of the n bytes at data */
int
token_sha256(const void *data, size_t n, unsigned char out[32])
{
	unsigned int len = 0;
	return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) ? 0 : -1;
}

/* token_secret_new - prefix and 32 random bytes in base64url */
int
token_secret_new(const char *prefix, char *out, size_t outsz)
{
	unsigned char raw[TOKEN_SECRET_BYTES];
	size_t pl = strlen(prefix);
	if (outsz < pl + TOKEN_SECRET_CHARS + 1 || RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memcpy(out, prefix, pl);
	encode(raw, sizeof(raw), 6, b64url, out + pl);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}
