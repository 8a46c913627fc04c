/* mime - RFC 5322 / MIME message builder and header encoder (see mime.h). */
#define _GNU_SOURCE /* memmem */
#include "kirim/mime.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/base64.h"
#include "kirim/buf.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

#ifdef __SSE2__
#include <emmintrin.h> /* baseline on x86-64; other targets use the SWAR loops */
#endif

enum {
	TOKEN_MAX = 900,  /* longest unbroken header run written as is */
	EW_MAX = 75,      /* RFC 2047 2: longest encoded-word */
	EW_OVERHEAD = 12, /* "=?utf-8?q?" and "?=" */
	EW_PAYLOAD = EW_MAX - EW_OVERHEAD,
	EW_MIN_FIRST = 16, /* smallest first encoded-word, even past column 78 */
	QP_DATA = 75,      /* data characters per quoted-printable line, "=" makes 76 */
	BOUNDARY_TRIES = 32,
	STACK_TMP = 1024,
};

static const char hexd[] = "0123456789ABCDEF";

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* haszero - nonzero when some byte of w is zero (exact as a yes/no answer) */
static inline uint64_t
haszero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* ---- character classes ---- */

static int
is_alnum(unsigned c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* is_atext - RFC 5322 3.2.3 atext */
static int
is_atext(unsigned c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) != NULL);
}

/* is_qsafe - may c stand for itself in a Q encoded-word anywhere (RFC 2047 5 (3))? */
static int
is_qsafe(unsigned c)
{
	return is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

/* utf8_seq - length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
			return 0; /* overlong, past U+10FFFF */
		return 4;
	}
	return 0;
}

/* lead_len - length of the sequence led by c in text already known to be valid UTF-8 */
static size_t
lead_len(unsigned c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/*
 * clean - copy s (n bytes) to dst (room for 3n bytes) with every control byte
 * as a space and every invalid UTF-8 byte as U+FFFD, without leading or
 * trailing blanks. This is what makes header injection impossible: after it,
 * header text holds no CR, LF or NUL. Returns the length written.
 */
static size_t
clean(const char *s, size_t n, char *dst)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) {
			dst[o++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
			i++;
			continue;
		}
		size_t k = utf8_seq(p + i, n - i);
		if (k == 0) {
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(dst + o, p + i, k);
		o += k;
		i += k;
	}
	size_t a = 0;
	while (a < o && dst[a] == ' ')
		a++;
	while (o > a && dst[o - 1] == ' ')
		o--;
	if (a)
		memmove(dst, dst + a, o - a);
	return o - a;
}

#define T_8BIT (1u << 0)    /* holds non-ASCII */
#define T_EWLIKE (1u << 1)  /* holds "=?", which a reader could take for an encoded-word */
#define T_LONG (1u << 2)    /* a blank run plus word longer than TOKEN_MAX */
#define T_SPECIAL (1u << 3) /* not a phrase of atoms separated by single spaces */

/* analyse - T_* flags of cleaned header text */
static unsigned
analyse(const char *s, size_t n)
{
	unsigned f = 0;
	size_t tok = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (c >= 0x80)
			f |= T_8BIT;
		else if (c == ' ') {
			if (i > 0 && s[i - 1] == ' ')
				f |= T_SPECIAL;
			else
				tok = 0;
		} else if (!is_atext(c))
			f |= T_SPECIAL;
		if (c == '=' && i + 1 < n && s[i + 1] == '?')
			f |= T_EWLIKE;
		if (++tok > TOKEN_MAX)
			f |= T_LONG;
	}
	return f;
}

/* ---- checks on structured inputs ---- */

/* name_ok - RFC 5322 3.6.8 field-name, at most MIME_NAME_MAX bytes */
static int
name_ok(const char *name, size_t *len)
{
	size_t n = 0;
	if (!name)
		return -1;
	for (; name[n]; n++) {
		unsigned c = (unsigned char)name[n];
		if (c < 0x21 || c > 0x7e || c == ':' || n >= MIME_NAME_MAX)
			return -1;
	}
	if (n == 0)
		return -1;
	*len = n;
	return 0;
}

/*
 * addr_ok - is a an addr-spec we can put between angle brackets? Dot-atom or
 * quoted local part, UTF-8 allowed (RFC 6532), no control bytes, a domain of
 * letters, digits, '-', '.', UTF-8, or an address literal. The real checking
 * belongs to the address module; this only keeps the header well formed.
 */
static int
addr_ok(const char *a, size_t *len)
{
	const unsigned char *p = (const unsigned char *)a;
	size_t n, i;
	if (!a)
		return -1;
	n = strlen(a);
	if (n < 3 || n > MIME_ADDR_MAX)
		return -1;
	for (i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f)
			return -1;
		i += k;
	}
	i = 0;
	if (p[0] == '"') {
		for (i = 1;; i++) {
			if (i >= n)
				return -1;
			if (p[i] == '"')
				break;
			if (p[i] == '\\' && ++i >= n)
				return -1;
		}
		i++;
	} else {
		for (; i < n && p[i] != '@'; i++)
			if (p[i] < 0x80 && !is_atext(p[i]) && p[i] != '.')
				return -1;
		if (i == 0)
			return -1;
	}
	if (i + 1 >= n || p[i] != '@')
		return -1;
	i++;
	if (p[i] == '[') {
		if (p[n - 1] != ']' || n - i < 3)
			return -1;
		for (i++; i < n - 1; i++)
			if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '[' || p[i] == ']' ||
			    p[i] == '\\')
				return -1;
	} else {
		for (; i < n; i++)
			if (p[i] < 0x80 && !is_alnum(p[i]) && p[i] != '-' && p[i] != '.')
				return -1;
	}
	*len = n;
	return 0;
}

/* dotatom_ok - RFC 5322 dot-atom-text of 1..MIME_MSGID_MAX bytes */
static int
dotatom_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > MIME_MSGID_MAX || s[0] == '.' || s[n - 1] == '.')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return -1;
		if (s[i] != '.' && !is_atext((unsigned char)s[i]))
			return -1;
	}
	return 0;
}

/* uri_ok - printable ASCII without blanks or angle brackets, 1..MIME_URL_MAX bytes */
static int
uri_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MIME_URL_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '<' || c == '>')
			return -1;
	}
	return 0;
}

/* Fields a campaign may not set: ours, transport's, or signing's. */
static const char *const reserved_names[] = {
    "from",
    "to",
    "cc",
    "bcc",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "return-path",
    "received",
    "received-spf",
    "authentication-results",
    "dkim-signature",
    "domainkey-signature",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "delivered-to",
};
static const char *const reserved_prefixes[] = {"content-", "resent-", "arc-"};

/* mime_header_name_check - may a campaign set a header field called name? */
int
mime_header_name_check(const char *name, const char **reason)
{
	size_t n;
	if (!name || !name[0]) {
		*reason = "empty header name";
		return -1;
	}
	if (name_ok(name, &n) < 0) {
		*reason = strlen(name) > MIME_NAME_MAX
		              ? "header name too long"
		              : "header name must be printable ASCII without ':' or spaces";
		return -1;
	}
	for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
		if (strcasecmp(name, reserved_names[i]) == 0) {
			*reason = "header is set by kirim or the mail system";
			return -1;
		}
	for (size_t i = 0; i < sizeof reserved_prefixes / sizeof reserved_prefixes[0]; i++)
		if (strncasecmp(name, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0) {
			*reason = "header is set by kirim or the mail system";
			return -1;
		}
	return 0;
}

/* ---- header writer: tracks the column so that it can fold ---- */

struct hdr {
	struct buf *b;
	size_t col; /* bytes on the current line so far */
};

static void
hdr_start(struct hdr *h, struct buf *b, const char *name, size_t nlen)
{
	h->b = b;
	buf_add(b, name, nlen);
	buf_add(b, ": ", 2);
	h->col = nlen + 2;
}

/*
 * hdr_token - append n bytes; a token that starts with a blank is a folding
 * point: when it would pass column 78 the line is folded before it (CRLF,
 * keeping the blank as the continuation's first byte, so unfolding restores
 * the exact text). Tokens never hold CR or LF.
 */
static void
hdr_token(struct hdr *h, const char *s, size_t n)
{
	if (n && s[0] == ' ' && h->col + n > MIME_LINE_SOFT) {
		buf_add(h->b, "\r\n", 2);
		h->col = 0;
	}
	buf_add(h->b, s, n);
	h->col += n;
}

static void
hdr_end(struct hdr *h)
{
	buf_add(h->b, "\r\n", 2);
}

/* hdr_words - append cleaned text, folding before blank runs as needed */
static void
hdr_words(struct hdr *h, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] == ' ')
			j++;
		while (j < n && s[j] != ' ')
			j++;
		hdr_token(h, s + i, j - i);
		i = j;
	}
}

/* ew_put - append one encoded-word; every word after the first goes on its own line */
static void
ew_put(struct hdr *h, char enc, const char *payload, size_t n, int *first)
{
	char pre[] = "=?utf-8?q?";
	pre[8] = enc;
	if (!*first) {
		buf_add(h->b, "\r\n ", 3);
		h->col = 1;
	}
	buf_add(h->b, pre, 10);
	buf_add(h->b, payload, n);
	buf_add(h->b, "?=", 2);
	h->col += n + EW_OVERHEAD;
	*first = 0;
}

/* q_cost - length of n bytes in Q encoding */
static size_t
q_cost(const unsigned char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += is_qsafe(p[i]) || p[i] == ' ' ? 1 : 3;
	return c;
}

/* One encoded-word being filled: Q text in word, or B input as a span of the source. */
struct ew {
	struct hdr *h;
	const unsigned char *src;
	int b64, first;
	size_t budget; /* payload room in this word */
	char word[EW_PAYLOAD + 1];
	size_t wl, raw, raw_len;
};

/* ew_len - payload length of the current word with n more source bytes */
static size_t
ew_len(const struct ew *e, const unsigned char *p, size_t n)
{
	return e->b64 ? (e->raw_len + n + 2) / 3 * 4 : e->wl + q_cost(p, n);
}

static void
ew_flush(struct ew *e, size_t next)
{
	if (e->b64 && e->raw_len)
		e->wl =
		    (size_t)(base64_encode_to(e->word, e->src + e->raw, e->raw_len, 0) - e->word);
	if (e->wl)
		ew_put(e->h, e->b64 ? 'b' : 'q', e->word, e->wl, &e->first);
	e->wl = 0;
	e->raw = next;
	e->raw_len = 0;
	e->budget = EW_PAYLOAD;
}

/*
 * hdr_encoded - append cleaned UTF-8 text as RFC 2047 encoded-words. Q uses
 * only the characters allowed in a phrase, so the same words serve Subject
 * and display names. The whole text, blanks included, is inside the words,
 * since a reader drops blanks between adjacent encoded-words. Words break
 * after a blank where they can (some decoders, Python's address parser among
 * them, put a space between adjacent encoded-words in a phrase), else between
 * two characters, never inside a UTF-8 sequence.
 */
static void
hdr_encoded(struct hdr *h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct ew e = {.h = h, .src = p, .first = 1};
	/* Q reads better in mail sources and logs: keep it unless B is 25% shorter. */
	size_t qlen = q_cost(p, n), blen = (n + 2) / 3 * 4;
	e.b64 = blen + blen / 4 < qlen;
	e.budget = EW_PAYLOAD;
	if (h->col + EW_OVERHEAD + e.budget > MIME_LINE_SOFT)
		e.budget = h->col + EW_OVERHEAD + EW_MIN_FIRST < MIME_LINE_SOFT
		               ? MIME_LINE_SOFT - h->col - EW_OVERHEAD
		               : EW_MIN_FIRST;
	for (size_t i = 0; i < n;) {
		/* A unit: a run of non-blanks and the blanks after it. */
		size_t j = i;
		while (j < n && p[j] != ' ')
			j++;
		while (j < n && p[j] == ' ')
			j++;
		if ((e.wl || e.raw_len) && ew_len(&e, p + i, j - i) > e.budget) {
			struct ew alone = {.b64 = e.b64};
			if (ew_len(&alone, p + i, j - i) <= EW_PAYLOAD)
				ew_flush(&e, i);
		}
		while (i < j) {
			size_t k = lead_len(p[i]);
			if (i + k > n)
				k = n -
				    i; /* cannot happen on cleaned text; keeps reads in bounds */
			if ((e.wl || e.raw_len) && ew_len(&e, p + i, k) > e.budget)
				ew_flush(&e, i);
			if (e.b64) {
				e.raw_len += k;
			} else {
				for (size_t m = 0; m < k; m++) {
					unsigned c = p[i + m];
					if (is_qsafe(c)) {
						e.word[e.wl++] = (char)c;
					} else if (c == ' ') {
						e.word[e.wl++] = '_';
					} else {
						e.word[e.wl++] = '=';
						e.word[e.wl++] = hexd[c >> 4];
						e.word[e.wl++] = hexd[c & 15];
					}
				}
			}
			i += k;
		}
	}
	ew_flush(&e, n);
}

/* scratch - a buffer for n bytes: the stack one when it fits, else the heap */
static char *
scratch(char *stack, size_t n)
{
	return n <= STACK_TMP ? stack : xmalloc(n);
}

static void
scratch_free(char *stack, char *p)
{
	if (p != stack)
		free(p);
}

/* hdr_text - append an unstructured value (cleaned, then plain or encoded) */
static void
hdr_text(struct hdr *h, const char *value, size_t len)
{
	char stack[STACK_TMP];
	char *t = scratch(stack, 3 * len + 1);
	size_t n = clean(value, len, t);
	if (n == 0) {
		/* "Name:" with nothing after it, not a line ending in a blank. */
		h->b->data[--h->b->len] = '\0';
		h->col--;
	} else if (analyse(t, n) & (T_8BIT | T_EWLIKE | T_LONG))
		hdr_encoded(h, t, n);
	else
		hdr_words(h, t, n);
	scratch_free(stack, t);
}

/* hdr_mailbox - append [display-name] angle-addr, or the bare addr-spec */
static void
hdr_mailbox(struct hdr *h, const char *display, const char *addr, size_t alen)
{
	size_t dlen = display ? strlen(display) : 0;
	char stack[STACK_TMP], qstack[STACK_TMP];
	char *t = scratch(stack, 3 * dlen + 1);
	size_t n = clean(display ? display : "", dlen, t);
	if (n == 0) {
		hdr_token(h, addr, alen);
		scratch_free(stack, t);
		return;
	}
	unsigned f = analyse(t, n);
	if (f & (T_8BIT | T_EWLIKE | T_LONG)) {
		hdr_encoded(h, t, n);
	} else if (!(f & T_SPECIAL)) {
		hdr_words(h, t, n);
	} else {
		/* RFC 5322 3.2.4 quoted-string: escape only DQUOTE and backslash. */
		char *q = scratch(qstack, 2 * n + 2);
		size_t qn = 0;
		q[qn++] = '"';
		for (size_t i = 0; i < n; i++) {
			if (t[i] == '"' || t[i] == '\\')
				q[qn++] = '\\';
			q[qn++] = t[i];
		}
		q[qn++] = '"';
		if (analyse(q, qn) & T_LONG)
			hdr_encoded(h, t, n);
		else
			hdr_words(h, q, qn);
		scratch_free(qstack, q);
	}
	scratch_free(stack, t);

	char a[MIME_ADDR_MAX + 4];
	a[0] = ' ';
	a[1] = '<';
	memcpy(a + 2, addr, alen);
	a[alen + 2] = '>';
	hdr_token(h, a, alen + 3);
}

/* mime_header_encode - append "name: value" CRLF as an unstructured field */
int
mime_header_encode(struct buf *out, const char *name, const char *value, size_t len)
{
	struct hdr h;
	size_t nlen;
	if (name_ok(name, &nlen) < 0)
		return -1;
	hdr_start(&h, out, name, nlen);
	hdr_text(&h, value ? value : "", value ? len : 0);
	hdr_end(&h);
	return 0;
}

/* addr_put - "name: display <addr>" CRLF, name (nlen bytes) and addr (alen) already checked */
static void
addr_put(struct buf *out, const char *name, size_t nlen, const char *display, const char *addr,
         size_t alen)
{
	struct hdr h;
	hdr_start(&h, out, name, nlen);
	hdr_mailbox(&h, display, addr, alen);
	hdr_end(&h);
}

/* mime_addr_encode - append "name: display <addr>" CRLF */
int
mime_addr_encode(struct buf *out, const char *name, const char *display, const char *addr)
{
	size_t nlen, alen;
	if (name_ok(name, &nlen) < 0 || addr_ok(addr, &alen) < 0)
		return -1;
	addr_put(out, name, nlen, display, addr, alen);
	return 0;
}

/* ---- display names read back (the inverse of hdr_mailbox's display part) ---- */

/* hex_val - value of the hexadecimal digit c, or -1 */
static int
hex_val(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10) : -1;
}

/* ew_charset_ok - RFC 2047 2 token: no blank, control, non-ASCII or especial */
static int
ew_charset_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\"/[]?.=", (int)c))
			return 0;
	}
	return 1;
}

/* ew_q - append RFC 2047 4.2 "Q" text; -1 when it is malformed */
static int
ew_q(const char *t, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)t[i];
		if (c == '_') {
			buf_addc(out, ' ');
		} else if (c == '=') {
			int hi = i + 2 < n ? hex_val((unsigned char)t[i + 1]) : -1;
			int lo = hi >= 0 ? hex_val((unsigned char)t[i + 2]) : -1;
			if (lo < 0)
				return -1;
			buf_addc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_addc(out, (char)c);
		}
	}
	return 0;
}

/*
 * ew_decode - if the word w (n bytes, no blanks) has the shape of an RFC 2047
 * encoded-word, "=?" charset "?" encoding "?" text "?=", append its text as
 * UTF-8 to out and return 1; return 0 when it is ordinary text. A word of that
 * shape that cannot be read is refused (-1 with *reason) rather than kept: it was
 * copied from a header to be decoded, and kept it would reach readers as
 * "=?...?=". The 75-octet limit is not enforced, since decoders do not either.
 */
static int
ew_decode(const char *w, size_t n, struct buf *out, const char **reason)
{
	if (n < 8 || memcmp(w, "=?", 2) != 0 || memcmp(w + n - 2, "?=", 2) != 0)
		return 0;
	const char *cs = w + 2, *end = w + n - 2, *why = "malformed encoded-word";
	const char *q = memchr(cs, '?', (size_t)(end - cs));
	if (q == NULL || q + 2 > end || q[2] != '?' || !ew_charset_ok(cs, (size_t)(q - cs)))
		goto bad;
	const char *t = q + 3;
	size_t tn = (size_t)(end - t);
	for (size_t i = 0; i < tn; i++)
		if (t[i] == '?' || (unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			goto bad;
	/* RFC 2231 5: a language may follow the charset after '*'. */
	const char *star = memchr(cs, '*', (size_t)(q - cs));
	size_t cslen = (size_t)((star ? star : q) - cs);
	enum { UTF8, ASCII, LATIN1 } charset;
	if (cslen == 5 && strncasecmp(cs, "utf-8", 5) == 0) {
		charset = UTF8;
	} else if (cslen == 8 && strncasecmp(cs, "us-ascii", 8) == 0) {
		charset = ASCII;
	} else if (cslen == 10 && strncasecmp(cs, "iso-8859-1", 10) == 0) {
		charset = LATIN1;
	} else {
		why = cslen ? "unsupported charset in encoded-word" : why;
		goto bad;
	}

	struct buf raw = BUF_INIT;
	int rc = -1;
	if ((q[1] | 0x20) == 'q')
		rc = ew_q(t, tn, &raw);
	else if ((q[1] | 0x20) == 'b')
		rc = base64_decode(&raw, t, tn, BASE64_PAD_OPTIONAL); /* RFC 2047 4.1 */
	const char *r = raw.data ? raw.data : "";
	for (size_t i = 0; rc == 0 && i < raw.len; i++) {
		unsigned c = (unsigned char)r[i];
		if (c < 0x20 || c == 0x7f)
			why = "control character", rc = -1;
		else if (c >= 0x80 && charset == ASCII)
			rc = -1;
	}
	if (rc == 0 && charset == UTF8 && !utf8_valid(r, raw.len))
		why = "invalid UTF-8", rc = -1;
	if (rc == 0 && charset == LATIN1)
		utf8_from_latin1(out, r, raw.len);
	else if (rc == 0)
		buf_add(out, r, raw.len);
	buf_free(&raw);
	if (rc == 0)
		return 1;
bad:
	*reason = why;
	return -1;
}

/* quoted_end - with s[0] == '"', the index of the closing DQUOTE, or n when there is none */
static size_t
quoted_end(const char *s, size_t n)
{
	size_t i = 1;
	while (i < n && s[i] != '"')
		i += s[i] == '\\' && i + 1 < n ? 2 : 1;
	return i < n ? i : n;
}

/* mime_display_name_decode - the plain text of a display name as a person gives it */
int
mime_display_name_decode(const char *s, size_t n, char *out, size_t outsz, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	if (!s)
		n = 0;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*reason = "control character";
			return -1;
		}
	}
	if (!utf8_valid(s, n)) {
		*reason = "invalid UTF-8";
		return -1;
	}

	struct buf b = BUF_INIT;
	int rc = 0;
	/*
	 * Only a name wholly in quotes is read as a quoted-string. To RFC 5322,
	 * Toko "Kirim" is a phrase of two words that displays as Toko Kirim, but
	 * whoever types it on a command line means the quotes to be seen, and
	 * such names were always taken as written.
	 */
	if (n >= 2 && s[0] == '"' && quoted_end(s, n) == n - 1) {
		/* RFC 5322 3.2.4: qtext and quoted-pairs; "\x" is x, whatever x is. */
		for (size_t i = 1; i < n - 1; i++) {
			if (s[i] == '\\')
				i++;
			buf_addc(&b, s[i] == '\t' ? ' ' : s[i]);
		}
	} else {
		/* Words as written, with the blanks between them; encoded-words decoded. */
		struct buf w = BUF_INIT;
		int prev_ew = 0;
		size_t blanks = 0;
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && s[j] != ' ' && s[j] != '\t')
				j++;
			buf_reset(&w);
			int ew = ew_decode(s + i, j - i, &w, reason);
			if (ew < 0) {
				rc = -1;
				break;
			}
			/* RFC 2047 6.2: blanks between two encoded-words are not text. */
			if (!(ew && prev_ew))
				for (; blanks; blanks--)
					buf_addc(&b, ' ');
			if (ew)
				buf_add(&b, w.data, w.len);
			else
				buf_add(&b, s + i, j - i);
			prev_ew = ew;
			for (blanks = 0, i = j; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
				blanks++;
		}
		buf_free(&w);
	}
	if (rc == 0 && b.len >= outsz) {
		*reason = "display name too long";
		rc = -1;
	}
	if (rc == 0) {
		if (b.len)
			memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	buf_free(&b);
	return rc;
}

/* ---- Date ---- */

/* civil - proleptic Gregorian date of day z since 1970-01-01, z >= 0 (H. Hinnant) */
static void
civil(long long z, long long *y, unsigned *m, unsigned *d)
{
	z += 719468;
	long long era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

static char *
put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10 % 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* put_date - append the Date field (RFC 5322 3.3); t and tz were checked by the caller */
static void
put_date(struct buf *b, long long t, int tz)
{
	static const char wday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	long long lt = t + (long long)tz * 60, y;
	long long days = lt / 86400, secs = lt % 86400;
	unsigned m, d, atz = (unsigned)(tz < 0 ? -tz : tz);
	char s[64], *o = s;
	civil(days, &y, &m, &d);
	memcpy(o, "Date: ", 6);
	o += 6;
	memcpy(o, wday[days % 7], 3);
	o += 3;
	*o++ = ',';
	*o++ = ' ';
	if (d >= 10)
		*o++ = (char)('0' + d / 10);
	*o++ = (char)('0' + d % 10);
	*o++ = ' ';
	memcpy(o, mon[m - 1], 3);
	o += 3;
	*o++ = ' ';
	o = put2(o, (unsigned)(y / 100));
	o = put2(o, (unsigned)(y % 100));
	*o++ = ' ';
	o = put2(o, (unsigned)(secs / 3600));
	*o++ = ':';
	o = put2(o, (unsigned)(secs / 60 % 60));
	*o++ = ':';
	o = put2(o, (unsigned)(secs % 60));
	*o++ = ' ';
	*o++ = tz < 0 ? '-' : '+';
	o = put2(o, atz / 60);
	o = put2(o, atz % 60);
	*o++ = '\r';
	*o++ = '\n';
	buf_add(b, s, (size_t)(o - s));
}

/* ---- bodies ---- */

/*
 * The body passes look at eight bytes at a time: a word with no byte of
 * interest is skipped (or copied) whole, and the lowest flagged byte of a
 * word is found with ctz. The SWAR tests below can flag a byte above a true
 * hit by a borrow, never one below it, so the lowest flag is always exact.
 */

/* brk_mask - flags the CR and LF bytes of w (plus possible false hits above a true one) */
static inline uint64_t
brk_mask(uint64_t w)
{
	return haszero(w ^ (ONES * '\r')) | haszero(w ^ (ONES * '\n'));
}

/* next_brk - index of the first CR or LF in [i, lim), or lim */
static size_t
next_brk(const unsigned char *p, size_t i, size_t lim)
{
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= lim; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i + 8 <= lim; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t m = brk_mask(w);
		if (m)
			return i + ((size_t)__builtin_ctzll(m) >> 3);
	}
	for (; i < lim; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return lim;
}

/* brk_len - length of the line break at p[i]: 2 for CRLF, else 1 */
static size_t
brk_len(const unsigned char *p, size_t i, size_t n)
{
	return p[i] == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
}

struct scan {
	size_t high;     /* bytes that are not ASCII, or NUL */
	size_t max_line; /* longest line, without its break (0 when known to be short) */
	int crlf_only;   /* every break is CRLF and the body ends with one (or is empty) */
	int eq_us;       /* holds "=_", the start of every boundary we make */
};

/* scan_byte - account for p[i]; returns the index of the next byte to look at */
static size_t
scan_byte(const unsigned char *p, size_t i, size_t n, size_t *line_start, struct scan *sc)
{
	unsigned c = p[i];
	if (c == '\r' || c == '\n') {
		if (i - *line_start > sc->max_line)
			sc->max_line = i - *line_start;
		size_t k = brk_len(p, i, n);
		if (k == 1)
			sc->crlf_only = 0;
		*line_start = i + k;
		return i + k;
	}
	if (c >= 0x80 || c == 0)
		sc->high++;
	else if (c == '=' && i + 1 < n && p[i + 1] == '_')
		sc->eq_us = 1;
	return i + 1;
}

#ifdef __SSE2__
/*
 * scan_sse2 - body_scan 64 bytes at a time with no branch on the bytes: the
 * counts and flags are kept in vector registers. Every position j compares
 * its byte and the next one: "CR at j" differs from "LF at j + 1" exactly
 * where a CR lacks its LF or a LF (past the first byte) lacks its CR; "=" at
 * j with "_" at j + 1 is "=_". Bytes that are NUL or >= 0x80 are those below
 * 1 as signed bytes, counted in byte lanes that are summed before they can
 * overflow. Lines are measured per block: only a line that may come within
 * a block of the limit makes this give up (-1), for the exact byte loop.
 * The last bytes are read from a copy padded with a byte that is none of
 * those (so a final CR is one without its LF).
 */
struct scan16 {
	__m128i acc, bad, equs; /* per-lane counts; sticky flags */
	size_t high, last;      /* count so far; start of the last block with a break */
	unsigned lanes;         /* vectors counted in acc since it was emptied */
};

/*
 * scan_block - the 64 bytes at q (and q[64]) into st, for the block at i.
 * With track_bad 0, CR/LF pairing is not looked at (once a break is known
 * bad, the rest cannot make the body CRLF-only). 0, or -1 when a line may
 * come near the limit.
 */
static inline int
scan_block(const unsigned char *q, size_t i, struct scan16 *st, int track_bad)
{
	const __m128i one = _mm_set1_epi8(1), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'),
	              eq = _mm_set1_epi8('='), us = _mm_set1_epi8('_'), zero = _mm_setzero_si128();
	__m128i brk = zero;
	for (int j = 0; j < 4; j++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * j));
		__m128i vn = _mm_loadu_si128((const __m128i *)(q + 16 * j + 1));
		__m128i c = _mm_cmpeq_epi8(v, cr);
		st->acc = _mm_sub_epi8(st->acc, _mm_cmplt_epi8(v, one));
		brk = _mm_or_si128(brk, _mm_or_si128(c, _mm_cmpeq_epi8(v, lf)));
		if (track_bad)
			st->bad = _mm_or_si128(st->bad, _mm_xor_si128(c, _mm_cmpeq_epi8(vn, lf)));
		st->equs = _mm_or_si128(
		    st->equs, _mm_and_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(vn, us)));
	}
	if (_mm_movemask_epi8(brk))
		st->last = i;
	else if (i + 128 - st->last > MIME_LINE_MAX)
		return -1; /* a line in the next block may pass the limit */
	if ((st->lanes += 4) > 255 - 4) {
		__m128i s = _mm_sad_epu8(st->acc, zero);
		st->high += (size_t)_mm_cvtsi128_si64(s) +
		            (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
		st->acc = zero;
		st->lanes = 0;
	}
	return 0;
}

static int
scan_sse2(const unsigned char *p, size_t n, struct scan *sc)
{
	const __m128i zero = _mm_setzero_si128();
	struct scan16 st = {zero, zero, zero, 0, 0, 0};
	unsigned char t[64 + 16 + 16];
	size_t i = 0;
	/* Until a break is known bad (at the first LF, in most templates); then without. */
	for (; i + 64 + 1 <= n && !_mm_movemask_epi8(st.bad); i += 64)
		if (scan_block(p + i, i, &st, 1) < 0)
			return -1;
	for (; i + 64 + 1 <= n; i += 64)
		if (scan_block(p + i, i, &st, 0) < 0)
			return -1;
	if (i < n) {
		memset(t, 'a', sizeof(t));
		memcpy(t, p + i, n - i);
		if (scan_block(t, i, &st, 1) < 0)
			return -1;
	}
	if (n - st.last > MIME_LINE_MAX)
		return -1;
	__m128i s = _mm_sad_epu8(st.acc, zero);
	sc->high = st.high + (size_t)_mm_cvtsi128_si64(s) +
	           (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
	sc->max_line = 0;
	sc->eq_us = _mm_movemask_epi8(st.equs) != 0;
	sc->crlf_only = n == 0 || (!_mm_movemask_epi8(st.bad) && p[0] != '\n' && p[n - 1] == '\n');
	return 0;
}
#endif

static void
body_scan(const char *s, size_t n, struct scan *sc)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, line_start = 0;
#ifdef __SSE2__
	/* Lines are then known to be shorter than the limit; max_line is left 0. */
	if (scan_sse2(p, n, sc) == 0)
		return;
#endif
	*sc = (struct scan){0, 0, 1, 0};
	while (i < n) {
		if (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			uint64_t m =
			    (w & HIGHS) | haszero(w) | brk_mask(w) | haszero(w ^ (ONES * '='));
			if (!m) {
				i += 8;
				continue;
			}
			if (!(m & ~(w & HIGHS))) {
				/* Only non-ASCII bytes here: count them all at once. */
				sc->high += (size_t)__builtin_popcountll(m);
				i += 8;
				continue;
			}
			i += (size_t)__builtin_ctzll(m) >> 3;
		}
		i = scan_byte(p, i, n, &line_start, sc);
	}
	if (line_start < n) {
		/* A last line without a break: it will get one. */
		if (n - line_start > sc->max_line)
			sc->max_line = n - line_start;
		sc->crlf_only = 0;
	}
}

static enum mime_cte
choose(const struct scan *sc, size_t n)
{
	if (sc->high == 0 && sc->max_line <= MIME_LINE_MAX)
		return MIME_7BIT;
	return sc->high <= n / 6 ? MIME_QP : MIME_BASE64;
}

/* mime_body_choose - the transfer encoding mime_build uses for these body bytes */
enum mime_cte
mime_body_choose(const char *body, size_t len)
{
	struct scan sc;
	body_scan(body, len, &sc);
	return choose(&sc, len);
}

/*
 * sevenbit_body - copy with every line break as CRLF, and one at the end.
 * With SSE2 the bytes go 16 at a time, stored whole before the break in them
 * is looked for (the bytes past it are written over next): up to 16 bytes are
 * written past the output kept, which the caller reserves.
 */
static char *
sevenbit_body(char *o, const unsigned char *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	while (i + 16 <= n) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		_mm_storeu_si128((__m128i *)o, v);
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (!m) {
			o += 16;
			i += 16;
			continue;
		}
		size_t k = (size_t)__builtin_ctz(m);
		o += k;
		i += k;
		*o++ = '\r';
		*o++ = '\n';
		i += brk_len(p, i, n);
	}
	for (; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			i += brk_len(p, i, n) - 1;
		} else {
			*o++ = (char)p[i];
		}
	}
	/* A last line without its break gets one. */
	if (n && p[n - 1] != '\r' && p[n - 1] != '\n') {
		*o++ = '\r';
		*o++ = '\n';
	}
	return o;
#else
	while (i < n) {
		size_t j = next_brk(p, i, n);
		memcpy(o, p + i, j - i);
		o += j - i;
		*o++ = '\r';
		*o++ = '\n';
		if (j == n)
			break;
		i = j + brk_len(p, j, n);
	}
	return o;
#endif
}

/*
 * Quoted-printable (RFC 2045 6.7), the rules: a byte of 0x21..0x7e other than
 * '=' stands for itself, and so does a blank (SP, TAB) that is neither the
 * last byte nor before a line break; every other byte is "=XX". CR, LF and
 * CRLF are line breaks, written CRLF. A line holds at most QP_DATA
 * characters; a longer one is broken with a soft break ("=" CRLF), never
 * inside an "=XX". The body gets a final CRLF when it has none.
 *
 * The encoder works in two steps. qp_mask flags, for a block of QP_BLOCK
 * bytes, every byte that does not stand for itself bar blanks (the "special"
 * bytes, break bytes included); qp_events then walks the flags in order,
 * copying the run of plain bytes before each with one fixed-size copy and
 * writing the special byte from a table, without a branch on what the byte
 * is. Besides the loop, only a block's end, a full line and a blank before a
 * break (copied as itself with its run, then written again encoded) take a
 * branch. Output is written up to QP_OVERRUN bytes past what is kept, which
 * the caller reserves.
 */
enum {
	QP_BLOCK = 63,    /* bytes per flag word; bit 63 (QP_END) marks the block's end */
	QP_COPY = 64,     /* bytes copied per run, whatever its length (runs are <= QP_BLOCK) */
	QP_OVERRUN = 128, /* bytes qp_body may write past the output it keeps */
	QP_CHUNK = 64,    /* blocks whose flags are computed at once */
	QP_READ = QP_BLOCK + QP_COPY + 1, /* bytes read from a block's start */
};
#define QP_END (1ULL << QP_BLOCK)

/* What a special byte becomes: len bytes of pat, taking width columns; keep is 0 after a line
 * break, which brk marks (an encoded blank before it must be written first). */
struct qp_out {
	char pat[4];
	unsigned char len, width, keep, brk;
};

#define QP_HEX(v) ((v) < 10 ? '0' + (v) : 'A' + (v)-10)
#define QP_ISBRK(c) ((c) == '\r' || (c) == '\n')
#define QP_E(c)                                                                                    \
	{                                                                                          \
		{QP_ISBRK(c) ? '\r' : '=', QP_ISBRK(c) ? '\n' : QP_HEX((c) >> 4), QP_HEX((c)&15),  \
		 0},                                                                               \
		    QP_ISBRK(c) ? 2 : 3, QP_ISBRK(c) ? 0 : 3, !QP_ISBRK(c), QP_ISBRK(c)            \
	}
#define QP_E4(c) QP_E(c), QP_E((c) + 1), QP_E((c) + 2), QP_E((c) + 3)
#define QP_E16(c) QP_E4(c), QP_E4((c) + 4), QP_E4((c) + 8), QP_E4((c) + 12)
#define QP_E64(c) QP_E16(c), QP_E16((c) + 16), QP_E16((c) + 32), QP_E16((c) + 48)

/* Indexed by the byte, or QP_NONE at a block's end, or QP_CR for a CR before a LF (the LF
 * writes the break): these two write nothing. */
enum { QP_NONE = 256, QP_CR = 257 };
static const struct qp_out qp_tab[258] = {
    QP_E64(0),
    QP_E64(64),
    QP_E64(128),
    QP_E64(192),
    {{0, 0, 0, 0}, 0, 0, 1, 0},
    {{0, 0, 0, 0}, 0, 0, 1, 1},
};

#ifdef __SSE2__
/* qp_mask - bit j set when p[j] is special (j < QP_BLOCK); reads p[0..63] */
static inline uint64_t
qp_mask(const unsigned char *p)
{
	const __m128i one = _mm_set1_epi8(1), c21 = _mm_set1_epi8(0x21), ceq = _mm_set1_epi8('='),
	              ctab = _mm_set1_epi8('\t');
	uint64_t m = 0;
	for (int j = 0; j < 4; j++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * j));
		/* v + 1 < 0x21 as signed bytes: v is below 0x20, or 0x7f and above. */
		__m128i sp = _mm_cmplt_epi8(_mm_add_epi8(v, one), c21);
		sp = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, ctab), sp),
		                  _mm_cmpeq_epi8(v, ceq));
		m |= (uint64_t)(unsigned)_mm_movemask_epi8(sp) << (16 * j);
	}
	return m & (QP_END - 1);
}
#else
/* zbyte - the high bit of every byte of w that is zero (exact: no borrow between bytes) */
static inline uint64_t
zbyte(uint64_t w)
{
	return ~(((w & ~HIGHS) + ~HIGHS) | w) & HIGHS;
}

/* qp_mask - bit j set when p[j] is special (j < QP_BLOCK); reads p[0..63], 8 bytes at a time */
static inline uint64_t
qp_mask(const unsigned char *p)
{
	uint64_t m = 0;
	for (int j = 0; j < 8; j++) {
		uint64_t w;
		memcpy(&w, p + 8 * j, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w); /* byte j of memory in bits 8j..8j+7, as below */
#endif
		/* Low seven bits below 0x20, or the high bit set; then TAB out, DEL and '=' in. */
		uint64_t f = (~((w & ~HIGHS) + ONES * 0x60) | w) & HIGHS;
		f = (f & ~zbyte(w ^ (ONES * '\t'))) | zbyte(w ^ (ONES * 0x7f)) |
		    zbyte(w ^ (ONES * '='));
		/* The high bits, one per byte, gathered into the low eight bits. */
		m |= (((f >> 7) * 0x0102040810204080ULL) >> 56) << (8 * j);
	}
	return m & (QP_END - 1);
}
#endif

/*
 * qp_events - encode p[i..lim) given the flags of its blocks: masks[k] for the
 * QP_BLOCK bytes at i + k * QP_BLOCK, with QP_END set, and one more word that
 * is read but not used. p is read from p[i - 1] (p[0] when i is 0) up to
 * QP_READ bytes past the last block's start. *colp is the
 * column on entry and on return. Each turn of the loop is one event: the
 * run of plain bytes up to the next special byte and that byte, or up to the
 * block's end (QP_END), or up to the end of a full line (a soft break).
 */
static char *
qp_events(char *o, const unsigned char *p, size_t i, size_t lim, const uint64_t *masks,
          size_t *colp)
{
	size_t col = *colp, b = i;
	uint64_t m = *masks++;
	while (i < lim) {
		size_t s = b + (size_t)__builtin_ctzll(m);
		unsigned c = p[s];
		int end = m == QP_END;
		const struct qp_out *e = &qp_tab[end                             ? QP_NONE
		                                 : c == '\r' && p[s + 1] == '\n' ? QP_CR
		                                                                 : c];
		size_t r = s - i;
		memcpy(o, p + i, QP_COPY);
		if (__builtin_expect(col + r + e->width > QP_DATA, 0)) {
			/* The line is full: a soft break inside the run or before the byte. */
			if (col + r > QP_DATA)
				r = QP_DATA - col;
			o += r;
			memcpy(o, "=\r\n", 3);
			o += 3;
			i += r;
			col = 0;
			continue;
		}
		o += r;
		col += r;
		/* (At s == 0 the byte read is the break itself, not a blank.) */
		unsigned prev = p[s - (s != 0)];
		if (__builtin_expect(e->brk & ((prev == ' ') | (prev == '\t')), 0)) {
			/*
			 * The blank before this break was copied as itself, last:
			 * encoded it takes three columns, maybe on a line of its
			 * own (a soft break cannot have come between, since one
			 * before a break is never needed).
			 */
			o--;
			col--;
			if (col + 3 > QP_DATA) {
				memcpy(o, "=\r\n", 3);
				o += 3;
				col = 0;
			}
			memcpy(o, qp_tab[prev].pat, 3);
			o += 3;
		}
		memcpy(o, e->pat, 4);
		o += e->len;
		col = (col + e->width) & (0 - (size_t)e->keep);
		if (end) {
			i = s;
			b += QP_BLOCK;
			m = *masks++;
		} else {
			i = s + 1;
			m &= m - 1;
		}
	}
	*colp = col;
	return o;
}

/* qp_masks - the flags of nb blocks at p, each with QP_END, and a last word read past them */
static void
qp_masks(const unsigned char *p, size_t nb, uint64_t *masks)
{
	for (size_t k = 0; k < nb; k++)
		masks[k] = qp_mask(p + k * QP_BLOCK) | QP_END;
	masks[nb] = QP_END;
}

/*
 * qp_body - quoted-printable with line breaks as CRLF, QP_OVERRUN bytes of
 * room past the output needed. The blocks that have QP_READ bytes of input
 * from their start are encoded in place; the rest (fewer than QP_READ bytes)
 * from a padded copy whose padding is LF: the break it adds after the last
 * byte makes a final blank one before a break and, when the body has no final
 * break, is the one it gets.
 */
static char *
qp_body(char *o, const unsigned char *p, size_t n)
{
	uint64_t masks[QP_CHUNK + 1];
	size_t col = 0, end = n >= QP_READ ? (n - QP_READ) / QP_BLOCK * QP_BLOCK + QP_BLOCK : 0;
	for (size_t b = 0; b < end;) {
		size_t nb = (end - b) / QP_BLOCK < QP_CHUNK ? (end - b) / QP_BLOCK : QP_CHUNK;
		qp_masks(p + b, nb, masks);
		o = qp_events(o, p, b, b + nb * QP_BLOCK, masks, &col);
		b += nb * QP_BLOCK;
	}
	/*
	 * t[0] is the byte before the tail: a blank there may still be before a
	 * break. The tail and one byte of padding make at most three blocks.
	 */
	unsigned char t[1 + 2 * QP_BLOCK + QP_READ];
	size_t nt = n - end;
	memset(t, '\n', sizeof(t));
	t[0] = end ? p[end - 1] : 0;
	if (nt)
		memcpy(t + 1, p + end, nt);
	qp_masks(t + 1, (nt + 1 + QP_BLOCK - 1) / QP_BLOCK, masks);
	/* The padding's first LF is encoded when the body has no final break, or ends in a
	 * CR (which then reads as a CRLF's CR). */
	size_t final = n && p[n - 1] != '\n';
	return qp_events(o, t, 1, 1 + nt + final, masks, &col);
}

/*
 * b64_body - base64 of the body with its line breaks made CRLF first (base64
 * carries them as data). The normalised bytes are staged BASE64_LINE_RAW at a time,
 * a multiple of 3, so that padding only ever comes at the very end.
 */
static char *
b64_body(char *o, const unsigned char *p, size_t n)
{
	unsigned char st[BASE64_LINE_RAW];
	const char *pend = ""; /* line-break bytes still to stage */
	size_t i = 0;
	for (;;) {
		size_t sl = 0;
		while (sl < BASE64_LINE_RAW) {
			if (*pend) {
				st[sl++] = (unsigned char)*pend++;
				continue;
			}
			if (i >= n)
				break;
			size_t lim = n - i < BASE64_LINE_RAW - sl ? n : i + BASE64_LINE_RAW - sl;
			size_t j = next_brk(p, i, lim);
			memcpy(st + sl, p + i, j - i);
			sl += j - i;
			if (j < lim) {
				pend = "\r\n";
				i = j + brk_len(p, j, n);
			} else if (j == n && j > i) {
				pend = "\r\n"; /* the last line gets a break */
				i = n;
			} else {
				i = j;
			}
		}
		if (sl == 0)
			break;
		o = base64_encode_to(o, st, sl, BASE64_WRAP); /* one line: sl <= 57 */
	}
	return o;
}

/*
 * body_put - append the encoded body. Room is reserved up front for the worst
 * case (4 output bytes per input byte: QP is at most 3 plus soft breaks, CRLF
 * for a bare LF is 2, base64 of CRLF-normalised text is under 2.8), plus what
 * qp_body writes past its output, and the output is written in place,
 * without per-byte buf calls.
 */
static void
body_put(struct buf *out, const char *s, size_t n, enum mime_cte cte, int crlf_only)
{
	const unsigned char *p = (const unsigned char *)s;
	buf_reserve(out, 4 * n + QP_OVERRUN);
	char *o0 = out->data + out->len, *o = o0;
	if (cte == MIME_7BIT && crlf_only) {
		memcpy(o, s, n);
		o += n;
	} else if (cte == MIME_7BIT) {
		o = sevenbit_body(o, p, n);
	} else if (cte == MIME_QP) {
		o = qp_body(o, p, n);
	} else if (crlf_only) {
		o = base64_encode_to(o, p, n, BASE64_WRAP);
	} else {
		o = b64_body(o, p, n);
	}
	out->len += (size_t)(o - o0);
	out->data[out->len] = '\0';
}

/* mime_body_encode - append body in the given encoding, line breaks as CRLF */
void
mime_body_encode(struct buf *out, const char *body, size_t len, enum mime_cte cte)
{
	struct scan sc;
	body_scan(body, len, &sc);
	if (cte == MIME_7BIT && choose(&sc, len) != MIME_7BIT)
		cte = MIME_QP; /* a caller's mistake must not break the line rules */
	body_put(out, body, len, cte, sc.crlf_only);
}

/* mime_body_crlf - append body with its line breaks as CRLF, as a reader decodes it */
void
mime_body_crlf(struct buf *out, const char *body, size_t len)
{
	buf_reserve(out, 2 * len + 16 + 16); /* sevenbit_body writes up to 16 bytes past */
	char *o0 = out->data + out->len;
	char *o = sevenbit_body(o0, (const unsigned char *)body, len);
	out->len += (size_t)(o - o0);
	out->data[out->len] = '\0';
}

/* mime_cte_name - "7bit", "quoted-printable" or "base64" */
const char *
mime_cte_name(enum mime_cte cte)
{
	switch (cte) {
	case MIME_7BIT:
		return "7bit";
	case MIME_QP:
		return "quoted-printable";
	case MIME_BASE64:
		return "base64";
	}
	return "7bit";
}

/* ---- the message ---- */

struct part {
	const char *type; /* "text/plain" or "text/html" */
	const char *s;
	size_t n;
	struct scan sc;
	enum mime_cte cte;
};

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errsz, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* mime_check - every refusal mime_build makes, before it writes anything */
int
mime_check(const struct mime_msg *m, char *err, size_t errsz)
{
	size_t n;
	if (addr_ok(m->from_addr, &n) < 0)
		return fail(err, errsz, "bad or missing From address");
	if (addr_ok(m->to_addr, &n) < 0)
		return fail(err, errsz, "bad or missing To address");
	if (m->reply_to && addr_ok(m->reply_to, &n) < 0)
		return fail(err, errsz, "bad Reply-To address");
	if (dotatom_ok(m->msgid_local) < 0)
		return fail(err, errsz, "bad or missing Message-ID id (want dot-atom text)");
	if (dotatom_ok(m->domain) < 0)
		return fail(err, errsz, "bad or missing sending domain");
	if (!m->text && !m->html)
		return fail(err, errsz, "no text or html body");
	if (m->date < 0 || m->date > 253402300799LL - 86400)
		return fail(err, errsz, "date out of range");
	if (m->tz_minutes <= -24 * 60 || m->tz_minutes >= 24 * 60)
		return fail(err, errsz, "time zone offset out of range");
	if (m->date + (long long)m->tz_minutes * 60 < 0)
		return fail(err, errsz, "date out of range");
	if (m->list_unsub_url &&
	    (uri_ok(m->list_unsub_url) < 0 || !(has_prefix(m->list_unsub_url, "https://") ||
	                                        has_prefix(m->list_unsub_url, "http://"))))
		return fail(err, errsz, "bad List-Unsubscribe URL (want http[s]:// and no blanks)");
	if (m->list_unsub_mailto && uri_ok(m->list_unsub_mailto) < 0)
		return fail(err, errsz, "bad List-Unsubscribe mailto");
	for (size_t i = 0; i < m->n_headers; i++) {
		const char *why;
		if (mime_header_name_check(m->headers[i].name, &why) < 0) {
			if (name_ok(m->headers[i].name, &n) == 0)
				return fail(err, errsz, "custom header %zu \"%s\": %s", i + 1,
				            m->headers[i].name, why);
			return fail(err, errsz, "custom header %zu: %s", i + 1, why);
		}
	}
	return 0;
}

/* boundary - deterministic from the seed; "=_" cannot occur in QP or base64 output */
static void
boundary_make(char out[25], const char *seed, unsigned attempt)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)seed; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= attempt;
	h *= 0x100000001b3ULL;
	/* splitmix64 finaliser: spread the bits so nearby seeds differ everywhere. */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	memcpy(out, "=_kirim_", 8);
	for (int i = 0; i < 16; i++)
		out[8 + i] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 15];
	out[24] = '\0';
}

static void
part_put(struct buf *out, const struct part *pt)
{
	buf_adds(out, "Content-Type: ");
	buf_adds(out, pt->type);
	buf_adds(out, "; charset=utf-8\r\nContent-Transfer-Encoding: ");
	buf_adds(out, mime_cte_name(pt->cte));
	buf_add(out, "\r\n\r\n", 4);
	body_put(out, pt->s, pt->n, pt->cte, pt->sc.crlf_only);
}

/* mime_build - append the whole message to out */
int
mime_build(const struct mime_msg *m, struct buf *out, char *err, size_t errsz)
{
	struct part parts[2];
	size_t np = 0;
	char bnd[25];

	if (mime_check(m, err, errsz) < 0)
		return -1;
	if (m->text)
		parts[np++] = (struct part){"text/plain", m->text, m->text_len, {0, 0, 0, 0}, 0};
	if (m->html)
		parts[np++] = (struct part){"text/html", m->html, m->html_len, {0, 0, 0, 0}, 0};
	size_t total = 1024;
	for (size_t i = 0; i < np; i++) {
		body_scan(parts[i].s, parts[i].n, &parts[i].sc);
		parts[i].cte = choose(&parts[i].sc, parts[i].n);
		total += 4 * parts[i].n + 256;
	}
	if (np == 2) {
		/* Vary the boundary until no 7bit body holds it (QP and base64 never do). */
		const char *seed = m->boundary_seed ? m->boundary_seed : m->msgid_local;
		unsigned attempt = 0;
		for (;;) {
			int clash = 0;
			boundary_make(bnd, seed, attempt);
			for (size_t i = 0; i < np; i++)
				if (parts[i].cte == MIME_7BIT && parts[i].sc.eq_us &&
				    memmem(parts[i].s, parts[i].n, bnd, 24) != NULL)
					clash = 1;
			if (!clash)
				break;
			if (++attempt == BOUNDARY_TRIES) {
				/* Someone built bodies against our seed: QP cannot hold "=_". */
				for (size_t i = 0; i < np; i++)
					if (parts[i].cte == MIME_7BIT)
						parts[i].cte = MIME_QP;
				break;
			}
		}
	}
	if (m->subject)
		total += 3 * strlen(m->subject);
	for (size_t i = 0; i < m->n_headers; i++)
		total += 3 * strlen(m->headers[i].value ? m->headers[i].value : "") + 100;
	buf_reserve(out, total);

	put_date(out, m->date, m->tz_minutes);
	/* The addresses were checked by check(). */
	addr_put(out, "From", 4, m->from_name, m->from_addr, strlen(m->from_addr));
	addr_put(out, "To", 2, m->to_name, m->to_addr, strlen(m->to_addr));
	if (m->reply_to)
		addr_put(out, "Reply-To", 8, NULL, m->reply_to, strlen(m->reply_to));
	if (m->subject)
		mime_header_encode(out, "Subject", m->subject, strlen(m->subject));
	buf_adds(out, "Message-ID: <");
	buf_adds(out, m->msgid_local);
	buf_addc(out, '@');
	buf_adds(out, m->domain);
	buf_adds(out, ">\r\nMIME-Version: 1.0\r\n");
	if (m->list_unsub_url || m->list_unsub_mailto) {
		struct hdr h;
		struct buf tmp = BUF_INIT;
		hdr_start(&h, out, "List-Unsubscribe", 16);
		if (m->list_unsub_url) {
			buf_addc(&tmp, '<');
			buf_adds(&tmp, m->list_unsub_url);
			buf_addc(&tmp, '>');
			if (m->list_unsub_mailto)
				buf_addc(&tmp, ',');
			hdr_token(&h, tmp.data, tmp.len);
			buf_reset(&tmp);
		}
		if (m->list_unsub_mailto) {
			buf_adds(&tmp, m->list_unsub_url ? " <" : "<");
			if (!has_prefix(m->list_unsub_mailto, "mailto:"))
				buf_adds(&tmp, "mailto:");
			buf_adds(&tmp, m->list_unsub_mailto);
			buf_addc(&tmp, '>');
			hdr_token(&h, tmp.data, tmp.len);
		}
		hdr_end(&h);
		buf_free(&tmp);
		if (m->list_unsub_url && has_prefix(m->list_unsub_url, "https://"))
			buf_adds(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
	if (m->feedback_id)
		mime_header_encode(out, "Feedback-ID", m->feedback_id, strlen(m->feedback_id));
	for (size_t i = 0; i < m->n_headers; i++) {
		const char *v = m->headers[i].value ? m->headers[i].value : "";
		mime_header_encode(out, m->headers[i].name, v, strlen(v));
	}

	if (np == 1) {
		part_put(out, &parts[0]);
		return 0;
	}
	buf_adds(out, "Content-Type: multipart/alternative;\r\n boundary=\"");
	buf_add(out, bnd, 24);
	buf_add(out, "\"\r\n\r\n", 5);
	for (size_t i = 0; i < np; i++) {
		/* The CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1). */
		buf_add(out, i ? "\r\n--" : "--", i ? 4 : 2);
		buf_add(out, bnd, 24);
		buf_add(out, "\r\n", 2);
		part_put(out, &parts[i]);
	}
	buf_add(out, "\r\n--", 4);
	buf_add(out, bnd, 24);
	buf_add(out, "--\r\n", 4);
	return 0;
}
