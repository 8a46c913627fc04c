/* dkim - DKIM signer, rsa-sha256 and ed25519-sha256, relaxed/relaxed (see dkim.h). */
#include "kirim/dkim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* DKIM_NO_SIMD builds the plain C body scan, so that tests can cover it too. */
#if defined(__SSE2__) && !defined(DKIM_NO_SIMD)
#define DKIM_SSE2 1
#include <emmintrin.h>
#endif

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "kirim/base64.h"
#include "kirim/xmalloc.h"

/* Widest line of the DKIM-Signature field, in columns (a TAB after a fold counts as 8). */
#define FOLD_WIDTH 78
#define FOLD_INDENT 8

struct dkim_key {
	EVP_PKEY *pkey;
	enum dkim_key_type type;
};

/*
 * The header fields to sign, in the order they appear in h=. RFC 6376 5.4.1
 * lists the ones that carry the message's meaning; the List-* and Feedback-ID
 * fields matter to receivers' unsubscribe and feedback loops.
 */
static const struct {
	const char *name; /* lower case, as written in h= */
	size_t len;       /* strlen(name) */
} signed_names[] = {
    {"from", 4},
    {"reply-to", 8},
    {"subject", 7},
    {"date", 4},
    {"to", 2},
    {"cc", 2},
    {"message-id", 10},
    {"in-reply-to", 11},
    {"references", 10},
    {"mime-version", 12},
    {"content-type", 12},
    {"content-transfer-encoding", 25},
    {"list-unsubscribe", 16},
    {"list-unsubscribe-post", 21},
    {"list-id", 7},
    {"feedback-id", 11},
};
#define NSIGNED (sizeof(signed_names) / sizeof(signed_names[0]))
#define FROM_INDEX 0

/* One header field of the message being signed that is in signed_names. */
struct field {
	const char *p;  /* start of the name; borrowed from the message during dkim_sign */
	size_t len;     /* up to, not including, the CRLF that ends its last line */
	unsigned which; /* index in signed_names */
};

struct dkim_signer {
	EVP_PKEY *pkey; /* own reference */
	enum dkim_key_type type;
	char *domain;
	char *selector;
	char *dtag, *stag;    /* "d=DOMAIN;" and "s=SELECTOR;", made once */
	EVP_MD *sha256;       /* fetched once: implicit fetches cost a lookup per call */
	EVP_MD_CTX *bodyctx;  /* body hash */
	EVP_MD_CTX *hdrctx;   /* header hash */
	EVP_PKEY_CTX *rsactx; /* RSA: PKCS#1 v1.5 over a SHA-256 digest, set up once */
	EVP_MD_CTX *edctx;    /* Ed25519: PureEdDSA over the 32-byte header digest */
	int ed_reinit;        /* edctx must be set up again before each signature */
	unsigned char *sig;   /* room for one signature */
	size_t sigmax;
	char *sig64;      /* its base64 */
	struct buf canon; /* canonical header data being hashed */
	struct buf hdr;   /* the DKIM-Signature field being built */
	struct field *fields;
	size_t nfields, fieldcap;
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Report what failed with OpenSSL's reason for it, and leave its error queue empty. */
static void
seterr_ssl(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason)
		seterr(err, errsz, "%s: %s", what, reason);
	else
		seterr(err, errsz, "%s", what);
	ERR_clear_error();
}

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ftext (RFC 5322 3.6.8): printable US-ASCII except the colon. */
static int
is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* ---- canonicalization ---- */

/*
 * The first byte at or after q that is SP or below (WSP, CR, LF, a control
 * byte), or end: a run of such bytes is copied or hashed as it is.
 */
static const char *
text_run(const char *q, const char *end)
{
#if defined(DKIM_SSE2)
	const __m128i sp = _mm_set1_epi8(' ');

	while (end - q >= 16) {
		__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)q);
		/* x <= SP, unsigned: min(x, SP) == x. */
		unsigned m =
		    (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(cur, sp), cur));
		if (m != 0)
			return q + __builtin_ctz(m);
		q += 16;
	}
#endif
	while (q < end && (unsigned char)*q > ' ')
		q++;
	return q;
}

/*
 * Append the relaxed form of one header field without its final CRLF:
 * lower-case name, no WSP around the colon, folds undone, WSP runs turned into
 * one SP, no WSP at the end. Fails on a field that is not "name WSP* :" or
 * holds a CR not followed by LF+WSP (a fold) or a bare LF.
 */
static int
canon_header(const char *p, size_t n, struct buf *out)
{
	size_t i = 0, name;
	int pending = 0, started = 0;

	while (i < n && is_ftext((unsigned char)p[i]))
		i++;
	name = i;
	if (name == 0)
		return -1;
	while (i < n && is_wsp((unsigned char)p[i]))
		i++;
	if (i == n || p[i] != ':')
		return -1;
	buf_reserve(out, n);
	for (size_t k = 0; k < name; k++) {
		unsigned char c = (unsigned char)p[k];
		out->data[out->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out->data[out->len++] = ':';
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c > ' ') {
			/* A run of text bytes goes as it is, in one copy. */
			size_t run = (size_t)(text_run(p + i + 1, p + n) - (p + i));
			if (pending && started)
				out->data[out->len++] = ' ';
			memcpy(out->data + out->len, p + i, run);
			out->len += run;
			i += run - 1;
			pending = 0;
			started = 1;
			continue;
		}
		if (c == '\r') {
			if (i + 2 >= n || p[i + 1] != '\n' || !is_wsp((unsigned char)p[i + 2]))
				return -1;
			i++;
			continue;
		}
		if (c == '\n')
			return -1;
		if (is_wsp(c)) {
			pending = 1;
			continue;
		}
		if (pending && started)
			out->data[out->len++] = ' ';
		out->data[out->len++] = (char)c;
		pending = 0;
		started = 1;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* Where canonical body bytes go: a hash context or a buffer. */
struct sink {
	EVP_MD_CTX *md;
	struct buf *b;
	int failed;
};

static void
sink_add(struct sink *s, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (s->md) {
		if (EVP_DigestUpdate(s->md, p, n) != 1)
			s->failed = 1;
	} else {
		buf_add(s->b, p, n);
	}
}

static void
sink_crlfs(struct sink *s, size_t n)
{
	static const char crlfs[] =
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
	const size_t per = (sizeof(crlfs) - 1) / 2;

	while (n > 0) {
		size_t k = n < per ? n : per;
		sink_add(s, crlfs, 2 * k);
		n -= k;
	}
}

/*
 * Skip 16-byte blocks that relaxed canonicalization leaves as they are: every
 * byte is above SP, or is an SP followed by a byte above SP. Called inside a
 * line that has content, just after a text byte (not WSP, CR or LF), so no SP
 * in a block can follow WSP unnoticed (that WSP would itself be in the block
 * and not be such an SP), and the caller never resumes inside a WSP run.
 * Without SSE2 the caller's byte loop does the work.
 */
static const char *
skip_plain(const char *q, const char *end)
{
#if defined(DKIM_SSE2)
	const __m128i sp = _mm_set1_epi8(' ');

	while (end - q >= 17) {
		__m128i cur = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i next = _mm_loadu_si128((const __m128i *)(const void *)(q + 1));
		/* x <= SP, unsigned: min(x, SP) == x. */
		__m128i cur_le = _mm_cmpeq_epi8(_mm_min_epu8(cur, sp), cur);
		__m128i next_le = _mm_cmpeq_epi8(_mm_min_epu8(next, sp), next);
		__m128i lone_sp = _mm_andnot_si128(next_le, _mm_cmpeq_epi8(cur, sp));
		if (_mm_movemask_epi8(_mm_andnot_si128(lone_sp, cur_le)) != 0)
			break;
		q += 16;
	}
#else
	(void)end;
#endif
	return q;
}

/*
 * Relaxed body canonicalization (RFC 6376 3.4.4) in one pass, without copying:
 * the canonical form is mostly the input itself, so the loop keeps a span of
 * input bytes that are already canonical and hands them to the sink only when
 * something must change (a WSP run that is not one SP, WSP at a line's end,
 * blank lines holding WSP). Empty lines are held back until a non-empty line
 * shows they are not at the end of the body. A clean body is hashed with one
 * update call.
 */
static int
canon_body(struct sink *s, const char *p, size_t n)
{
	const char *end = p + n, *q = p;
	const char *span = p;  /* first byte not yet given to the sink */
	const char *line = p;  /* start of the current line */
	const char *tail = p;  /* start of the pending empty lines */
	size_t empties = 0;    /* empty lines since the last non-empty one */
	int tail_verbatim = 1; /* the pending empty lines are all a bare CRLF */
	int content = 0;       /* the current line has a byte other than WSP */
	int ws = 0;            /* the current line has WSP */

	while (q < end) {
		unsigned char c = (unsigned char)*q;

		if (is_wsp(c)) {
			const char *a = q;
			while (q < end && is_wsp((unsigned char)*q))
				q++;
			if (q == end || *q == '\r') {
				/* WSP at the end of a line goes. */
				if (content) {
					sink_add(s, span, (size_t)(a - span));
					span = q;
				} else {
					ws = 1;
				}
				continue;
			}
			if (!content) {
				if (empties > 0 && !tail_verbatim) {
					sink_add(s, span, (size_t)(tail - span));
					sink_crlfs(s, empties);
					span = line;
				}
				empties = 0;
				content = 1;
			}
			if (q - a != 1 || *a != ' ') {
				sink_add(s, span, (size_t)(a - span));
				sink_add(s, " ", 1);
				span = q;
			}
			continue;
		}
		if (c == '\r') {
			if (q + 1 == end || q[1] != '\n')
				return -1;
			q += 2;
			if (!content) {
				if (empties++ == 0) {
					tail = line;
					tail_verbatim = 1;
				}
				if (ws)
					tail_verbatim = 0;
			}
			line = q;
			content = 0;
			ws = 0;
			continue;
		}
		if (c == '\n')
			return -1;
		/* Text: any other byte, control bytes included. */
		if (!content) {
			if (empties > 0 && !tail_verbatim) {
				sink_add(s, span, (size_t)(tail - span));
				sink_crlfs(s, empties);
				span = line;
			}
			empties = 0;
			content = 1;
		}
		q++;
		/* The common case: a run of plain text. */
		q = text_run(skip_plain(q, end), end);
	}
	if (content && line < end) {
		/* A last line without CRLF gets one. */
		sink_add(s, span, (size_t)(end - span));
		sink_add(s, "\r\n", 2);
	} else if (empties > 0) {
		sink_add(s, span, (size_t)(tail - span));
	} else {
		sink_add(s, span, (size_t)(line - span));
	}
	return 0;
}

/* dkim_canon_header - relaxed header canonicalization of one field */
int
dkim_canon_header(const char *field, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	if (canon_header(field, len, out) < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	buf_add(out, "\r\n", 2);
	return 0;
}

/* dkim_canon_body - relaxed body canonicalization */
int
dkim_canon_body(const char *body, size_t len, struct buf *out)
{
	struct sink s = {NULL, out, 0};
	size_t start = out->len;

	if (body == NULL)
		return 0;

	if (canon_body(&s, body, len) < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/* ---- keys ---- */

/* Never prompt for a passphrase: an encrypted key is an error here. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* dkim_key_load - parse a PEM private key */
int
dkim_key_load(const char *pem, size_t len, struct dkim_key **out, char *err, size_t errsz)
{
	BIO *bio;
	EVP_PKEY *pkey;
	enum dkim_key_type type;
	struct dkim_key *k;

	if (len == 0 || len > DKIM_PEM_MAX) {
		seterr(err, errsz, len ? "PEM key larger than %d bytes" : "empty PEM key",
		       DKIM_PEM_MAX);
		return -1;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		seterr_ssl(err, errsz, "cannot read PEM key");
		return -1;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		seterr_ssl(err, errsz, "not a PEM private key (or an encrypted one)");
		return -1;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < DKIM_RSA_BITS_MIN || bits > DKIM_RSA_BITS_MAX) {
			seterr(err, errsz, "RSA key of %d bits: DKIM needs %d to %d", bits,
			       DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
			EVP_PKEY_free(pkey);
			return -1;
		}
		type = DKIM_KEY_RSA;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		type = DKIM_KEY_ED25519;
	} else {
		seterr(err, errsz, "unsupported key type %s (want RSA or Ed25519)",
		       EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
		EVP_PKEY_free(pkey);
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->type = type;
	*out = k;
	return 0;
}

/* dkim_key_free - release a key */
void
dkim_key_free(struct dkim_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

/* dkim_key_type - the key's algorithm */
enum dkim_key_type
dkim_key_type(const struct dkim_key *key)
{
	return key->type;
}

/* dkim_pubkey_txt - the DNS TXT record text for the public key */
int
dkim_pubkey_txt(const struct dkim_key *key, struct buf *out)
{
	unsigned char raw[32], *der = NULL;
	const unsigned char *pub;
	size_t n;
	int dn;

	if (key->type == DKIM_KEY_ED25519) {
		n = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) != 1 || n != sizeof(raw)) {
			ERR_clear_error();
			return -1;
		}
		pub = raw;
	} else {
		dn = i2d_PUBKEY(key->pkey, &der);
		if (dn <= 0) {
			ERR_clear_error();
			return -1;
		}
		pub = der;
		n = (size_t)dn;
	}
	buf_printf(out, "v=DKIM1; k=%s; p=", key->type == DKIM_KEY_ED25519 ? "ed25519" : "rsa");
	base64_encode(out, pub, n, 0);
	OPENSSL_free(der);
	return 0;
}

/* dkim_keygen - make a new private key as PKCS#8 PEM */
int
dkim_keygen(enum dkim_key_type type, unsigned rsa_bits, struct buf *pem, char *err, size_t errsz)
{
	EVP_PKEY *pkey;
	BIO *bio;
	char *data;
	long n;

	if (type == DKIM_KEY_RSA) {
		if (rsa_bits == 0)
			rsa_bits = DKIM_RSA_BITS_DEFAULT;
		if (rsa_bits < DKIM_RSA_BITS_MIN || rsa_bits > DKIM_RSA_BITS_MAX) {
			seterr(err, errsz, "RSA key size %u outside %d..%d", rsa_bits,
			       DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
			return -1;
		}
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
	} else if (type == DKIM_KEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		seterr(err, errsz, "unknown key type %d", (int)type);
		return -1;
	}
	if (pkey == NULL) {
		seterr_ssl(err, errsz, "key generation failed");
		return -1;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		seterr_ssl(err, errsz, "cannot write PEM key");
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		return -1;
	}
	n = BIO_get_mem_data(bio, &data);
	buf_add(pem, data, (size_t)n);
	/* The memory BIO held the private key: wipe it before it goes back to the heap. */
	OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return 0;
}

/* ---- signer ---- */

/* A domain or selector: dot-separated labels of letters, digits, '-' and '_'. */
static int
valid_name(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > DKIM_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* dkim_signer_free - release a signer */
int
dkim_signer_dup(const struct dkim_signer *s, struct dkim_signer **out, char *err, size_t errsz)
{
	struct dkim_key k = {s->pkey, s->type};
	return dkim_signer_new(&k, s->domain, s->selector, out, err, errsz);
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_CTX_free(s->rsactx);
	EVP_MD_CTX_free(s->edctx);
	EVP_MD_CTX_free(s->bodyctx);
	EVP_MD_CTX_free(s->hdrctx);
	EVP_MD_free(s->sha256);
	EVP_PKEY_free(s->pkey);
	free(s->domain);
	free(s->selector);
	free(s->dtag);
	free(s->stag);
	free(s->sig);
	free(s->sig64);
	buf_free(&s->canon);
	buf_free(&s->hdr);
	free(s->fields);
	free(s);
}

/* dkim_signer_new - make a signer for key, domain and selector */
int
dkim_signer_new(struct dkim_key *key, const char *domain, const char *selector,
                struct dkim_signer **out, char *err, size_t errsz)
{
	struct dkim_signer *s;
	int size;

	if (!valid_name(domain)) {
		seterr(err, errsz, "bad signing domain \"%.64s\"", domain);
		return -1;
	}
	if (!valid_name(selector)) {
		seterr(err, errsz, "bad selector \"%.64s\"", selector);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	if (EVP_PKEY_up_ref(key->pkey) != 1) {
		free(s);
		seterr_ssl(err, errsz, "cannot reference key");
		return -1;
	}
	s->pkey = key->pkey;
	s->type = key->type;
	s->domain = xstrdup(domain);
	s->selector = xstrdup(selector);
	s->dtag = xmalloc(strlen(domain) + 4);
	*stpcpy(stpcpy(stpcpy(s->dtag, "d="), domain), ";") = '\0';
	s->stag = xmalloc(strlen(selector) + 4);
	*stpcpy(stpcpy(stpcpy(s->stag, "s="), selector), ";") = '\0';
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->bodyctx = EVP_MD_CTX_new();
	s->hdrctx = EVP_MD_CTX_new();
	if (s->sha256 == NULL || s->bodyctx == NULL || s->hdrctx == NULL)
		goto fail;
	if (s->type == DKIM_KEY_RSA) {
		s->rsactx = EVP_PKEY_CTX_new_from_pkey(NULL, s->pkey, NULL);
		if (s->rsactx == NULL || EVP_PKEY_sign_init(s->rsactx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(s->rsactx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(s->rsactx, s->sha256) != 1)
			goto fail;
	} else {
		s->edctx = EVP_MD_CTX_new();
		if (s->edctx == NULL ||
		    EVP_DigestSignInit_ex(s->edctx, NULL, NULL, NULL, NULL, s->pkey, NULL) != 1)
			goto fail;
	}
	size = EVP_PKEY_get_size(s->pkey);
	if (size <= 0)
		goto fail;
	s->sigmax = (size_t)size;
	s->sig = xmalloc(s->sigmax);
	s->sig64 = xmalloc(base64_encoded_len(s->sigmax, 0));
	*out = s;
	return 0;
fail:
	seterr_ssl(err, errsz, "cannot set up signing contexts");
	dkim_signer_free(s);
	return -1;
}

/* Which signed_names entry a field name is, or -1. */
static int
signed_index(const char *name, size_t n)
{
	for (size_t i = 0; i < NSIGNED; i++)
		if (signed_names[i].len == n && strncasecmp(signed_names[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

/* Record the field [p, p+n) if its name is one we sign. */
static int
note_field(struct dkim_signer *s, const char *p, size_t n)
{
	size_t i = 0;
	int which;

	while (i < n && is_ftext((unsigned char)p[i]))
		i++;
	size_t name = i;
	while (i < n && is_wsp((unsigned char)p[i]))
		i++;
	if (name == 0 || i == n || p[i] != ':')
		return -1;
	which = signed_index(p, name);
	if (which < 0)
		return 0;
	if (s->nfields == s->fieldcap) {
		s->fieldcap = s->fieldcap ? 2 * s->fieldcap : 32;
		s->fields = xrealloc(s->fields, s->fieldcap * sizeof(*s->fields));
	}
	s->fields[s->nfields++] = (struct field){p, n, (unsigned)which};
	return 0;
}

/*
 * Split the header section into fields and keep those we sign. Sets *body to
 * the offset of the body: after the blank line, or len when there is none.
 */
static int
parse_header(struct dkim_signer *s, const char *msg, size_t len, size_t *body, char *err,
             size_t errsz)
{
	const char *p = msg, *end = msg + len;
	const char *field = NULL, *fend = NULL;

	s->nfields = 0;
	while (p < end) {
		const char *lf, *le, *next;

		if ((size_t)(p - msg) > DKIM_HEADER_MAX) {
			seterr(err, errsz, "header section longer than %d bytes", DKIM_HEADER_MAX);
			return -1;
		}
		lf = memchr(p, '\n', (size_t)(end - p));
		if (lf) {
			if (lf == p || lf[-1] != '\r') {
				seterr(err, errsz, "bare LF in header section");
				return -1;
			}
			le = lf - 1;
			next = lf + 1;
		} else {
			le = end;
			next = end;
		}
		if (memchr(p, '\r', (size_t)(le - p))) {
			seterr(err, errsz, "bare CR in header section");
			return -1;
		}
		if (le == p) {
			/* The blank line that ends the header section. */
			p = next;
			break;
		}
		if (is_wsp((unsigned char)*p)) {
			if (field == NULL) {
				seterr(err, errsz,
				       "header section starts with a continuation line");
				return -1;
			}
		} else {
			if (field && note_field(s, field, (size_t)(fend - field)) < 0)
				goto bad;
			field = p;
		}
		fend = le;
		p = next;
	}
	if ((size_t)(p - msg) > DKIM_HEADER_MAX) {
		seterr(err, errsz, "header section longer than %d bytes", DKIM_HEADER_MAX);
		return -1;
	}
	if (field && note_field(s, field, (size_t)(fend - field)) < 0)
		goto bad;
	*body = (size_t)(p - msg);
	return 0;
bad:
	seterr(err, errsz, "malformed header field (no \"name:\")");
	return -1;
}

/* Fold state for building the DKIM-Signature field. */
struct fold {
	struct buf *b;
	size_t col;
};

/* Append n bytes as one unbreakable word, after a space or a fold. */
static void
fold_word(struct fold *f, const char *w, size_t n, int space)
{
	if (f->col + (size_t)(space != 0) + n > FOLD_WIDTH && f->col > FOLD_INDENT) {
		buf_add(f->b, "\r\n\t", 3);
		f->col = FOLD_INDENT;
	} else if (space) {
		buf_addc(f->b, ' ');
		f->col++;
	}
	buf_add(f->b, w, n);
	f->col += n;
}

/* Append base64 text that may break anywhere (FWS is allowed inside b=). */
static void
fold_base64(struct fold *f, const char *w, size_t n)
{
	while (n > 0) {
		if (f->col >= FOLD_WIDTH) {
			buf_add(f->b, "\r\n\t", 3);
			f->col = FOLD_INDENT;
		}
		size_t k = FOLD_WIDTH - f->col;
		if (k > n)
			k = n;
		buf_add(f->b, w, k);
		f->col += k;
		w += k;
		n -= k;
	}
}

/* dkim_sign - make the DKIM-Signature field for a message */
int
dkim_sign(struct dkim_signer *s, const char *msg, size_t len, long timestamp,
          struct buf *out_header, char *err, size_t errsz)
{
	unsigned char bh[EVP_MAX_MD_SIZE], hh[EVP_MAX_MD_SIZE];
	char bh64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1], word[64];
	unsigned int bhlen, hhlen;
	size_t body, siglen, nfrom = 0;
	struct fold f;
	struct sink sink;
	int n;

	if (timestamp < 0) {
		seterr(err, errsz, "negative timestamp");
		return -1;
	}
	if (msg == NULL) {
		/* No arithmetic on a null pointer below. */
		msg = "";
		len = 0;
	}
	if (parse_header(s, msg, len, &body, err, errsz) < 0)
		return -1;
	for (size_t i = 0; i < s->nfields; i++)
		nfrom += s->fields[i].which == FROM_INDEX;
	if (nfrom == 0) {
		seterr(err, errsz, "no From header field");
		return -1;
	}

	/* Body hash. */
	sink = (struct sink){s->bodyctx, NULL, 0};
	if (EVP_DigestInit_ex(s->bodyctx, s->sha256, NULL) != 1)
		goto ssl;
	if (canon_body(&sink, msg + body, len - body) < 0) {
		seterr(err, errsz, "bare CR or LF in body");
		return -1;
	}
	if (sink.failed || EVP_DigestFinal_ex(s->bodyctx, bh, &bhlen) != 1)
		goto ssl;
	*base64_encode_to(bh64, bh, bhlen, 0) = '\0';

	/* The field up to "b=", folded; the same text, canonicalized, ends the hashed data. */
	buf_reset(&s->hdr);
	buf_adds(&s->hdr, "DKIM-Signature:");
	f = (struct fold){&s->hdr, strlen("DKIM-Signature:")};
	fold_word(&f, "v=1;", 4, 1);
	if (s->type == DKIM_KEY_RSA)
		fold_word(&f, "a=rsa-sha256;", strlen("a=rsa-sha256;"), 1);
	else
		fold_word(&f, "a=ed25519-sha256;", strlen("a=ed25519-sha256;"), 1);
	fold_word(&f, "c=relaxed/relaxed;", strlen("c=relaxed/relaxed;"), 1);
	fold_word(&f, s->dtag, strlen(s->dtag), 1);
	fold_word(&f, s->stag, strlen(s->stag), 1);
	if (timestamp > 0) {
		n = snprintf(word, sizeof(word), "t=%ld;", timestamp);
		fold_word(&f, word, (size_t)n, 1);
	}
	/*
	 * h= lists every instance of each signed name (5.4.2 picks them bottom-up),
	 * and From once more: the extra entry matches an absent field, so a From
	 * added later breaks the signature.
	 */
	int first = 1;
	size_t left = s->nfields + 1;
	for (size_t i = 0; i < NSIGNED; i++) {
		size_t count = i == FROM_INDEX ? 1 : 0;
		for (size_t j = 0; j < s->nfields; j++)
			count += s->fields[j].which == i;
		while (count-- > 0) {
			left--;
			/* "h=" before the first, ':' between, ';' after the last; no printf per
			 * name per message. */
			size_t w = first ? 2 : 0;
			memcpy(word, "h=", 2);
			memcpy(word + w, signed_names[i].name, signed_names[i].len);
			w += signed_names[i].len;
			word[w++] = left ? ':' : ';';
			fold_word(&f, word, w, first);
			first = 0;
		}
	}
	{
		char bhw[sizeof(bh64) + 4];
		char *e = stpcpy(stpcpy(bhw, "bh="), bh64);
		*e++ = ';';
		fold_word(&f, bhw, (size_t)(e - bhw), 1);
	}
	fold_word(&f, "b=", 2, 1);

	/* Header hash: the signed fields bottom-up in h= order, then this field without b=. */
	buf_reset(&s->canon);
	for (size_t i = 0; i < NSIGNED; i++) {
		for (size_t j = s->nfields; j-- > 0;) {
			if (s->fields[j].which != i)
				continue;
			if (canon_header(s->fields[j].p, s->fields[j].len, &s->canon) < 0) {
				seterr(err, errsz, "malformed header field");
				return -1;
			}
			buf_add(&s->canon, "\r\n", 2);
		}
	}
	if (canon_header(s->hdr.data, s->hdr.len, &s->canon) < 0) {
		seterr(err, errsz, "internal error: bad DKIM-Signature field");
		return -1;
	}
	if (EVP_DigestInit_ex(s->hdrctx, s->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(s->hdrctx, s->canon.data, s->canon.len) != 1 ||
	    EVP_DigestFinal_ex(s->hdrctx, hh, &hhlen) != 1)
		goto ssl;

	siglen = s->sigmax;
	if (s->type == DKIM_KEY_RSA) {
		if (EVP_PKEY_sign(s->rsactx, s->sig, &siglen, hh, hhlen) != 1)
			goto ssl;
	} else {
		/*
		 * RFC 8463: PureEdDSA over the SHA-256 digest. The context is set up
		 * once: OpenSSL 3.0 lets a one-shot EdDSA context sign again. Should a
		 * version refuse, the context is set up afresh from then on.
		 */
		if (s->ed_reinit &&
		    EVP_DigestSignInit_ex(s->edctx, NULL, NULL, NULL, NULL, s->pkey, NULL) != 1)
			goto ssl;
		if (EVP_DigestSign(s->edctx, s->sig, &siglen, hh, hhlen) != 1) {
			if (s->ed_reinit)
				goto ssl;
			ERR_clear_error();
			s->ed_reinit = 1;
			siglen = s->sigmax;
			if (EVP_DigestSignInit_ex(s->edctx, NULL, NULL, NULL, NULL, s->pkey,
			                          NULL) != 1 ||
			    EVP_DigestSign(s->edctx, s->sig, &siglen, hh, hhlen) != 1)
				goto ssl;
		}
	}
	size_t sig64len = (size_t)(base64_encode_to(s->sig64, s->sig, siglen, 0) - s->sig64);
	fold_base64(&f, s->sig64, sig64len);
	buf_add(&s->hdr, "\r\n", 2);
	buf_add(out_header, s->hdr.data, s->hdr.len);
	return 0;
ssl:
	seterr_ssl(err, errsz, "signing failed");
	return -1;
}
