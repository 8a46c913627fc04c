/*
 * dsn - parse returned messages: RFC 3464 delivery status notifications,
 * the non-standard bounces real MTAs write, ARF complaints (RFC 5965) and
 * auto-replies (RFC 3834). See dsn.h for the contract.
 *
 * The work is in three steps:
 *   1. a lenient MIME walk collects the readable text, the delivery-status
 *      and feedback-report bodies and the header of the returned message;
 *   2. machine-readable reports are read first (feedback-report, then
 *      delivery-status fields, even when they appear in plain text);
 *   3. otherwise the readable text is searched for the failed addresses
 *      and the paragraph that explains each one (the way Postfix, Exim,
 *      qmail, Exchange and the big providers lay out their bounces), and
 *      auto-reply markers are checked last.
 * Every buffer that input can grow is capped (see the enums below).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/base64.h"
#include "kirim/buf.h"
#include "kirim/dsn.h"
#include "kirim/esp_event.h"
#include "kirim/hex.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

enum {
	HDR_MAX = 1000,             /* header fields kept per entity */
	HDR_VALUE_MAX = 64 * 1024,  /* longest unfolded header value kept */
	TEXT_MAX = 2 * 1024 * 1024, /* readable text kept in all */
	DIAG_MAX = 2000,            /* longest diagnostic kept per recipient */
	ADDR_MAX = 254,             /* longest address accepted */
	PARA_SCAN_MAX = 64 * 1024,  /* readable text searched for each recipient's paragraph */
};

struct hdr {
	char *name;
	char *value;
};

struct hdrs {
	struct hdr *v;
	size_t n;
};

struct ctx {
	struct buf text;  /* readable text parts, decoded, '\n' line ends */
	struct buf ds;    /* delivery-status bodies */
	struct buf fb;    /* feedback-report bodies */
	struct hdrs orig; /* header of the returned message */
	int have_orig;
	int parts;
	int report;      /* saw multipart/report */
	const char *err; /* why it cannot be read */
};

/* ---- small string helpers ---- */

static int
ci_prefix(const char *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && strncasecmp(s, pre, k) == 0;
}

/* Case-insensitive search of needle in s (n bytes); returns the offset or -1. */
static long
ci_find(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	if (k == 0)
		return 0;
	for (size_t i = 0; i + k <= n; i++)
		if (tolower((unsigned char)s[i]) == tolower((unsigned char)needle[0]) &&
		    strncasecmp(s + i, needle, k) == 0)
			return (long)i;
	return -1;
}

static char *
trim_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* One line: control bytes become spaces, blank runs one space, trimmed. */
static char *
one_line(const char *s, size_t n, size_t max)
{
	struct buf b = BUF_INIT;
	buf_add_line(&b, s, n, max);
	return b.data;
}

/* ---- headers ---- */

static void
hdrs_free(struct hdrs *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static int
is_name_char(unsigned char c)
{
	return c > 32 && c < 127 && c != ':';
}

/* Is p (up to n bytes, one line) "Name: ..."? Returns the name length or 0. */
static size_t
header_name_len(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && is_name_char((unsigned char)p[i]))
		i++;
	/* Allow blanks between the name and the colon (seen in old MTAs). */
	size_t k = i;
	while (k < n && (p[k] == ' ' || p[k] == '\t'))
		k++;
	if (i == 0 || i > 76 || k >= n || p[k] != ':')
		return 0;
	return i;
}

/*
 * Parse the header block at p (n bytes, '\n' line ends) into h, unfolding
 * continuation lines. Returns the offset of the body. A block that does not
 * start with a header field is empty and the body starts at 0, except that
 * a leading empty line is taken as the end of an empty header.
 */
static size_t
hdrs_parse(const char *p, size_t n, struct hdrs *h)
{
	size_t off = 0, cap = 0;
	struct buf val = BUF_INIT;
	char *name = NULL;
	h->v = NULL;
	h->n = 0;
	for (;;) {
		const char *line = p + off;
		const char *nl = off < n ? memchr(line, '\n', n - off) : NULL;
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t next = nl ? off + len + 1 : n;
		int end = off >= n || len == 0;
		int cont = !end && (line[0] == ' ' || line[0] == '\t') && name;
		size_t nlen = (!end && !cont) ? header_name_len(line, len) : 0;
		if (!cont && name) {
			if (h->n < HDR_MAX) {
				if (h->n == cap) {
					cap = cap ? cap * 2 : 16;
					h->v = xrealloc(h->v, cap * sizeof(*h->v));
				}
				h->v[h->n].name = name;
				h->v[h->n].value = trim_dup(val.data ? val.data : "", val.len);
				h->n++;
			} else {
				free(name);
			}
			name = NULL;
			buf_reset(&val);
		}
		if (end) {
			off = off >= n ? n : next;
			break;
		}
		if (cont) {
			if (val.len < HDR_VALUE_MAX) {
				buf_addc(&val, ' ');
				buf_add(&val, line, len);
			}
		} else if (nlen) {
			name = xstrndup(line, nlen);
			const char *colon = memchr(line, ':', len);
			size_t vlen = len - (size_t)(colon + 1 - line);
			buf_add(&val, colon + 1, vlen < HDR_VALUE_MAX ? vlen : HDR_VALUE_MAX);
		} else {
			/* Not a header line: the body starts here (an mbox "From " line is
			 * skipped). */
			if (h->n == 0 && ci_prefix(line, len, "From ")) {
				off = next;
				continue;
			}
			break;
		}
		off = next;
	}
	free(name);
	buf_free(&val);
	return off;
}

static const char *
hdr_get(const struct hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

/* The media type of a Content-Type value, lower case, into out. */
static void
ct_type(const char *v, char *out, size_t outsz)
{
	size_t i = 0;
	if (v)
		while (*v == ' ')
			v++;
	for (; v && v[i] && v[i] != ';' && !isspace((unsigned char)v[i]) && i + 1 < outsz; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[i] = '\0';
}

/* A parameter of a structured header value (boundary=, report-type=...), or NULL. */
static char *
ct_param(const char *v, const char *param)
{
	size_t k = strlen(param);
	for (const char *p = v ? strchr(v, ';') : NULL; p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, param, k) != 0)
			continue;
		q += k;
		while (*q == ' ')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		if (*q == '"') {
			const char *e = strchr(q + 1, '"');
			size_t len = e ? (size_t)(e - q - 1) : strlen(q + 1);
			return xstrndup(q + 1, len);
		}
		size_t len = strcspn(q, "; \t");
		return xstrndup(q, len);
	}
	return NULL;
}

/* ---- transfer decoding ---- */

static void
qp_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			buf_addc(out, s[i]);
			continue;
		}
		if (i + 1 < n && s[i + 1] == '\n') {
			i++;
			continue;
		}
		int a = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
		int b = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
		if (a >= 0 && b >= 0) {
			buf_addc(out, (char)(a * 16 + b));
			i += 2;
		} else {
			buf_addc(out, '=');
		}
	}
}

/* Decode body (n bytes) per its Content-Transfer-Encoding; line ends stay '\n'. */
static void
cte_decode(const char *cte, const char *s, size_t n, struct buf *out)
{
	if (cte && ci_find(cte, strlen(cte), "base64") >= 0) {
		struct buf tmp = BUF_INIT;
		base64_decode_lenient(&tmp, s, n); /* RFC 2045 6.8 */
		/* Normalise CR LF inside the decoded bytes too. */
		for (size_t i = 0; i < tmp.len; i++)
			if (tmp.data[i] != '\r')
				buf_addc(out, tmp.data[i] ? tmp.data[i] : ' ');
		buf_free(&tmp);
	} else if (cte && ci_find(cte, strlen(cte), "quoted-printable") >= 0) {
		qp_decode(s, n, out);
	} else {
		buf_add(out, s, n);
	}
}

/* Decode RFC 2047 encoded-words (bytes kept as they are, charset ignored). */
static char *
ew_decode(const char *v)
{
	struct buf b = BUF_INIT;
	buf_reserve(&b, 1);
	b.data[0] = '\0';
	if (!v)
		return b.data;
	size_t n = strlen(v);
	for (size_t i = 0; i < n;) {
		if (v[i] == '=' && i + 1 < n && v[i + 1] == '?') {
			const char *q1 = memchr(v + i + 2, '?', n - i - 2);
			const char *q2 = q1 && q1 + 2 < v + n && q1[2] == '?' ? q1 + 2 : NULL;
			const char *end = q2 ? strstr(q2 + 1, "?=") : NULL;
			if (end) {
				char enc = (char)tolower((unsigned char)q1[1]);
				const char *t = q2 + 1;
				size_t tl = (size_t)(end - t);
				if (enc == 'b') {
					base64_decode_lenient(&b, t, tl);
				} else {
					for (size_t k = 0; k < tl; k++) {
						if (t[k] == '_')
							buf_addc(&b, ' ');
						else if (t[k] == '=' && k + 2 < tl + 1 &&
						         hex_value((unsigned char)t[k + 1]) >= 0 &&
						         k + 2 < tl &&
						         hex_value((unsigned char)t[k + 2]) >= 0) {
							buf_addc(
							    &b,
							    (char)(hex_value(
							               (unsigned char)t[k + 1]) *
							               16 +
							           hex_value(
							               (unsigned char)t[k + 2])));
							k += 2;
						} else
							buf_addc(&b, t[k]);
					}
				}
				i = (size_t)(end + 2 - v);
				/* Blanks between two encoded-words vanish. */
				size_t j = i;
				while (j < n && (v[j] == ' ' || v[j] == '\t'))
					j++;
				if (j + 1 < n && v[j] == '=' && v[j + 1] == '?')
					i = j;
				continue;
			}
		}
		buf_addc(&b, v[i]);
		i++;
	}
	return b.data;
}

/* ---- character sets ---- */

/*
 * Convert s (n bytes) from charset cs to UTF-8 into out with iconv(3); a
 * byte that cannot be converted becomes a blank. Returns 0, or -1 when iconv
 * does not know cs (out is then untouched).
 */
static int
charset_to_utf8(const char *cs, const char *s, size_t n, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return -1;
	char tmp[4096];
	char *in = (char *)s; /* iconv's prototype; the input is not written */
	size_t left = n;
	while (left > 0) {
		char *o = tmp;
		size_t room = sizeof(tmp);
		size_t rc = iconv(cd, &in, &left, &o, &room);
		buf_add(out, tmp, (size_t)(o - tmp));
		if (rc == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL: skip the byte, start afresh (back to ASCII). */
			buf_addc(out, ' ');
			in++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	char *o = tmp;
	size_t room = sizeof(tmp);
	iconv(cd, NULL, NULL, &o, &room);
	buf_add(out, tmp, (size_t)(o - tmp));
	iconv_close(cd);
	return 0;
}

/*
 * Blank every byte of s that an ISO-2022 escape has shifted into a
 * two-byte set (ESC $ @, ESC $ B, ESC $ ( D ... until ESC ( B or ESC ( J):
 * those bytes are printable ASCII ("08@h" is one kanji and a half) and must
 * not be read as words or addresses when they could not be converted.
 */
static void
blank_iso2022(char *s, size_t n)
{
	int shifted = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == 0x1b && i + 2 < n) {
			if (s[i + 1] == '$')
				shifted = 1;
			else if (s[i + 1] == '(')
				shifted = 0;
			s[i] = ' ';
			continue;
		}
		if (shifted && s[i] != '\n')
			s[i] = ' ';
	}
}

/* ---- the MIME walk ---- */

static void walk(struct ctx *c, const struct hdrs *h, const char *body, size_t n, int depth);

/* Does s (n bytes) hold a byte above 0x7f? */
static int
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] & 0x80)
			return 1;
	return 0;
}

/*
 * Append readable text s (n bytes) in charset cs (NULL: not declared). It
 * is kept as UTF-8: a declared charset other than UTF-8 or ASCII is
 * converted (Shift_JIS, ISO-2022-JP, Latin-1...), and so is undeclared text
 * that holds ISO-2022-JP escapes; what is left of those is blanked.
 */
static void
add_text_cs(struct ctx *c, const char *s, size_t n, const char *cs)
{
	if (c->text.len >= TEXT_MAX)
		return;
	struct buf u = BUF_INIT;
	int esc = 0;
	for (const char *p = memchr(s, 0x1b, n); p && !esc;
	     p = memchr(p + 1, 0x1b, n - (size_t)(p + 1 - s)))
		esc = p + 1 < s + n && p[1] == '$';
	int plain = !cs || !*cs || strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	            strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
	if (!plain && charset_to_utf8(cs, s, n, &u) == 0) {
		s = u.data ? u.data : "";
		n = u.len;
	} else if (esc && !has_8bit(s, n) && charset_to_utf8("ISO-2022-JP", s, n, &u) == 0) {
		/* ISO-2022-JP is 7-bit: text with 8-bit bytes is something else, only blanked. */
		s = u.data ? u.data : "";
		n = u.len;
	}
	if (n > TEXT_MAX - c->text.len)
		n = TEXT_MAX - c->text.len;
	size_t start = c->text.len;
	buf_add(&c->text, s, n);
	buf_addc(&c->text, '\n');
	if (memchr(c->text.data + start, 0x1b, n))
		blank_iso2022(c->text.data + start, n);
	buf_free(&u);
}

static void
add_text(struct ctx *c, const char *s, size_t n)
{
	add_text_cs(c, s, n, NULL);
}

/* Walk a multipart body: the parts between "--boundary" lines. */
static void
walk_multipart(struct ctx *c, const char *bnd, const char *body, size_t n, int depth)
{
	size_t blen = strlen(bnd);
	size_t off = 0;
	long start = -1;
	int closed = 0;
	while (off < n && !closed && !c->err) {
		const char *line = body + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t next = nl ? off + len + 1 : n;
		if (len >= blen + 2 && line[0] == '-' && line[1] == '-' &&
		    memcmp(line + 2, bnd, blen) == 0) {
			int last =
			    len >= blen + 4 && line[blen + 2] == '-' && line[blen + 3] == '-';
			if (start >= 0) {
				size_t plen = off > (size_t)start ? off - (size_t)start - 1 : 0;
				if (off == (size_t)start)
					plen = 0;
				struct hdrs ph;
				size_t boff = hdrs_parse(body + start, plen, &ph);
				if (++c->parts > DSN_PARTS_MAX)
					c->err = "too many MIME parts";
				else
					walk(c, &ph, body + start + boff, plen - boff, depth + 1);
				hdrs_free(&ph);
			}
			start = (long)next;
			closed = last;
		}
		off = next;
	}
	if (start < 0) {
		/* No boundary line at all: read the whole body as text. */
		add_text(c, body, n);
		return;
	}
	if (!closed && !c->err && (size_t)start < n) {
		/* Truncated: the last part runs to the end. */
		struct hdrs ph;
		size_t plen = n - (size_t)start;
		size_t boff = hdrs_parse(body + start, plen, &ph);
		walk(c, &ph, body + start + boff, plen - boff, depth + 1);
		hdrs_free(&ph);
	}
}

static void
walk(struct ctx *c, const struct hdrs *h, const char *body, size_t n, int depth)
{
	char type[96];
	if (depth > DSN_DEPTH_MAX) {
		c->err = "MIME nesting deeper than 16";
		return;
	}
	const char *ctv = hdr_get(h, "Content-Type");
	ct_type(ctv, type, sizeof(type));
	const char *cte = hdr_get(h, "Content-Transfer-Encoding");
	if (ci_prefix(type, strlen(type), "multipart/")) {
		char *bnd = ct_param(ctv, "boundary");
		if (strcmp(type, "multipart/report") == 0)
			c->report = 1;
		if (bnd && *bnd)
			walk_multipart(c, bnd, body, n, depth);
		else
			add_text(c, body, n);
		free(bnd);
		return;
	}
	struct buf dec = BUF_INIT;
	cte_decode(cte, body, n, &dec);
	const char *d = dec.data ? dec.data : "";
	if (strcmp(type, "message/delivery-status") == 0 ||
	    strcmp(type, "message/global-delivery-status") == 0) {
		buf_add(&c->ds, d, dec.len);
		buf_adds(&c->ds, "\n\n");
	} else if (strcmp(type, "message/feedback-report") == 0) {
		buf_add(&c->fb, d, dec.len);
		buf_addc(&c->fb, '\n');
	} else if (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
	           strcmp(type, "text/rfc822-headers") == 0 ||
	           strcmp(type, "message/rfc822-headers") == 0 ||
	           strcmp(type, "message/global-headers") == 0) {
		struct hdrs in;
		size_t off = hdrs_parse(d, dec.len, &in);
		char itype[96];
		ct_type(hdr_get(&in, "Content-Type"), itype, sizeof(itype));
		if (!c->report && c->ds.len == 0 && strcmp(type, "message/rfc822") == 0 &&
		    strcmp(itype, "multipart/report") == 0) {
			/* A report forwarded as an attachment (X5, some gateways): read it. */
			walk(c, &in, d + off, dec.len - off, depth + 1);
			hdrs_free(&in);
		} else if (!c->have_orig) {
			c->orig = in;
			c->have_orig = 1;
		} else {
			hdrs_free(&in);
		}
	} else if (type[0] == '\0' || ci_prefix(type, strlen(type), "text/")) {
		/* Readable text; HTML is kept too, its tags do not hide the words we look for. */
		if (strcmp(type, "text/html") != 0 || c->text.len == 0) {
			char *cs = ct_param(ctv, "charset");
			add_text_cs(c, d, dec.len, cs);
			free(cs);
		}
	}
	buf_free(&dec);
}

/* ---- addresses ---- */

static int
is_local_char(unsigned char c)
{
	return c < 0x80 && (isalnum(c) || (c && strchr(".!#$%&'*+/=?^_`{|}~-", c)));
}

static int
is_domain_char(unsigned char c)
{
	return c < 0x80 && (isalnum(c) || c == '.' || c == '-' || c == '_');
}

/*
 * Is a (local@domain) an address in shape: a non-empty local part, a domain
 * of labels of 1 to 63 letters, digits, '-' or '_' that neither open nor
 * close with '-'? strict (an address read from free text, not from a
 * report's recipient field): also two labels or more, the last one of
 * letters (or an A-label), so that "08@h" out of raw ISO-2022-JP bytes or a
 * host name glued to a word is not taken for one. A DSN's own
 * Final-Recipient may name a local host ("user@mailhub0").
 */
static int
addr_shape_ok(const char *a, int strict)
{
	const char *at = strrchr(a, '@');
	if (!at || at == a)
		return 0;
	const char *lab = at + 1;
	size_t labels = 0;
	for (const char *p = lab;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t l = (size_t)(p - lab);
			if (l == 0 || l > 63 || lab[0] == '-' || lab[l - 1] == '-')
				return 0;
			labels++;
			if (!*p)
				break;
			lab = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			return 0;
		}
	}
	if (!strict)
		return 1;
	size_t l = strlen(lab);
	if (labels < 2 || l < 2)
		return 0;
	if (strncmp(lab, "xn--", 4) == 0)
		return 1;
	for (size_t k = 0; k < l; k++)
		if (!isalpha((unsigned char)lab[k]))
			return 0;
	return 1;
}

/*
 * The length of a "key=" that opens the local part s (k bytes) when it is an
 * Authentication-Results method property (RFC 8601: "smtp.mailfrom=",
 * "header.from=") or a Received-SPF key (RFC 7208 section 9.1:
 * "envelope-from="), else 0: the address is what follows the '='.
 */
static size_t
auth_key_len(const char *s, size_t k)
{
	static const char *const ptypes[] = {"smtp.", "header.", "body.", "policy.", NULL};
	static const char *const keys[] = {
	    "envelope-from=", "envelope_from=", "identity=", "receiver=", "mailfrom=", NULL};
	const char *eq = memchr(s, '=', k);
	if (!eq)
		return 0;
	size_t e = (size_t)(eq - s) + 1;
	for (int i = 0; ptypes[i]; i++)
		if (ci_prefix(s, e, ptypes[i]))
			return e;
	for (int i = 0; keys[i]; i++)
		if (e == strlen(keys[i]) && ci_prefix(s, e, keys[i]))
			return e;
	return 0;
}

/*
 * Find the first address in s (n bytes) at or after *pos. On success,
 * returns a new string (domain lower-cased) and sets *at to its start and
 * *pos past it.
 */
static char *
addr_next(const char *s, size_t n, size_t *pos, size_t *at)
{
	for (size_t i = *pos; i < n; i++) {
		if (s[i] != '@')
			continue;
		size_t a = i, b = i + 1;
		while (a > 0 && is_local_char((unsigned char)s[a - 1]) && i - a < 64)
			a--;
		while (b < n && is_domain_char((unsigned char)s[b]) && b - i < 253)
			b++;
		while (b > i + 1 && (s[b - 1] == '.' || s[b - 1] == '-'))
			b--;
		while (a < i && s[a] == '.')
			a++;
		if (a == i && i >= 2 && s[i - 1] == '"') {
			/* A quoted local part: "neko..nyaan"@example.org */
			size_t q = i - 1;
			while (q > 0 && s[q - 1] != '"' && s[q - 1] != '<' && s[q - 1] != '\n' &&
			       i - q < 64)
				q--;
			if (q > 0 && s[q - 1] == '"')
				a = q - 1;
		}
		a += auth_key_len(s + a, i - a);
		if (a == i || b == i + 1 || b - a > ADDR_MAX)
			continue;
		/* "=?utf-8?" or "mailto:" style prefixes are not part of it. */
		char *r = xstrndup(s + a, b - a);
		for (char *p = strchr(r, '@'); *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!addr_shape_ok(r, 0)) {
			free(r);
			continue;
		}
		*at = a;
		*pos = b;
		return r;
	}
	*pos = n;
	return NULL;
}

/* The first address in a string, or NULL. */
static char *
addr_first(const char *s)
{
	size_t pos = 0, at;
	return s ? addr_next(s, strlen(s), &pos, &at) : NULL;
}

static int
addr_is_daemon(const char *a)
{
	static const char *const names[] = {"mailer-daemon@", "postmaster@",  "mailer_daemon@",
	                                    "maildaemon@",    "mail-daemon@", NULL};
	for (int i = 0; names[i]; i++)
		if (strncasecmp(a, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* ---- the report ---- */

struct rlist {
	struct dsn_recipient *v;
	size_t n, cap;
	unsigned char *hint; /* per recipient: a reason the sending MTA decided, or 0 */
};

static struct dsn_recipient *
rcpt_add(struct rlist *l, char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].address, addr) == 0) {
			free(addr);
			return NULL;
		}
	if (l->n >= DSN_RCPT_MAX) {
		free(addr);
		return NULL;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		l->hint = xrealloc(l->hint, l->cap);
	}
	l->hint[l->n] = 0;
	struct dsn_recipient *r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	r->address = addr;
	r->action = xstrdup("");
	r->status = xstrdup("");
	r->remote_mta = xstrdup("");
	r->diag_type = xstrdup("");
	r->diagnostic = xstrdup("");
	return r;
}

static void
set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/*
 * The first enhanced status code "d.d.d" in s, into out[16]; 0 if none.
 * With fail, only a failure (4.x.x, 5.x.x): a transcript's "250 2.1.5 Ok"
 * before the failing reply says nothing about the failure.
 */
static int
find_ecode(const char *s, char out[16], int fail)
{
	for (const char *p = s; *p; p++) {
		if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.' ||
		    (fail && p[0] == '2'))
			continue;
		if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.'))
			continue;
		const char *q = p + 2;
		size_t d1 = 0, d2 = 0;
		while (isdigit((unsigned char)q[d1]) && d1 < 3)
			d1++;
		if (!d1 || q[d1] != '.')
			continue;
		q += d1 + 1;
		while (isdigit((unsigned char)q[d2]) && d2 < 3)
			d2++;
		if (!d2 || isalnum((unsigned char)q[d2]) ||
		    (q[d2] == '.' && isdigit((unsigned char)q[d2 + 1])))
			continue;
		size_t len = (size_t)(q + d2 - p);
		memcpy(out, p, len);
		out[len] = '\0';
		return 1;
	}
	return 0;
}

/* The first SMTP reply code in s: three digits [245]xx standing alone; with fail, 4xx/5xx. */
static int
find_reply(const char *s, int fail)
{
	for (const char *p = s; *p; p++) {
		if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || (fail && p[0] == '2'))
			continue;
		if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '#' ||
		              p[-1] == '-' || p[-1] == ':' || p[-1] == '/'))
			continue;
		if (p[3] && p[3] != ' ' && p[3] != '-' && p[3] != '\n')
			continue;
		if (p[1] > '5')
			continue;
		return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	}
	return 0;
}

/*
 * The paragraph of readable text h (n bytes) that mentions address a, into
 * out: where Postfix, Exim and qmail say at which SMTP command it failed.
 */
static void
para_of(const char *h, size_t n, const char *a, struct buf *out)
{
	/* Only the head of the text is searched: the cost stays bounded per recipient. */
	long f = ci_find(h, n < PARA_SCAN_MAX ? n : PARA_SCAN_MAX, a);
	if (f < 0)
		return;
	size_t lo = (size_t)f;
	while (lo > 0 && h[lo - 1] != '\n')
		lo--;
	size_t off = lo, lines = 0;
	while (off < n && out->len < DIAG_MAX && lines < 8) {
		const char *line = h + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t k = 0;
		while (k < len && isspace((unsigned char)line[k]))
			k++;
		if (k == len && lines > 0)
			break;
		buf_add(out, line, len);
		buf_addc(out, ' ');
		lines++;
		off = nl ? off + len + 1 : n;
	}
}

static void paragraph(const char *h, size_t n, size_t lo, const char *self, struct buf *d);

/* Where "550-'" (Amazon SES quoting the remote reply after its summary) starts in d, or NULL. */
static const char *
ses_quoted_reply(const char *d)
{
	for (const char *p = d; (p = strstr(p, "-'")) != NULL; p += 2) {
		if (p - d < 3)
			continue;
		const char *c = p - 3;
		if ((c[0] == '4' || c[0] == '5') && isdigit((unsigned char)c[1]) &&
		    isdigit((unsigned char)c[2]) && (c == d || c[-1] == ' '))
			return c;
	}
	return NULL;
}

/* Does a report's Action: say the mail went on (RFC 3464 delivered, relayed, expanded)? */
static int
action_delivered(const char *action)
{
	return strcasecmp(action, "delivered") == 0 || strcasecmp(action, "relayed") == 0 ||
	       strcasecmp(action, "expanded") == 0;
}

/* Fill the verdict of r from its status and diagnostic; h is the readable text. */
static void
rcpt_classify(struct dsn_recipient *r, const char *h, size_t hn)
{
	char ec[16] = "";
	if (!*r->diagnostic && hn) {
		/*
		 * A report with no Diagnostic-Code: the text's paragraph on this
		 * address (not a delivery-status field line quoted in the text).
		 */
		size_t hs = hn < PARA_SCAN_MAX ? hn : PARA_SCAN_MAX, from = 0;
		long f;
		while (from < hs && (f = ci_find(h + from, hs - from, r->address)) >= 0) {
			size_t lo = from + (size_t)f;
			from = lo + 1;
			while (lo > 0 && h[lo - 1] != '\n')
				lo--;
			size_t nlen = header_name_len(h + lo, hs - lo);
			if (nlen && ci_find(h + lo, nlen, "Recipient") >= 0)
				continue;
			struct buf d = BUF_INIT;
			paragraph(h, hn, lo, r->address, &d);
			set_str(&r->diagnostic, one_line(d.data ? d.data : "", d.len, DIAG_MAX));
			buf_free(&d);
			break;
		}
	}
	/*
	 * A report that says delivered is the only place a 2xx counts. A
	 * failure's text is read for its failure: a transcript's "250 2.1.5 Ok"
	 * to RCPT before "451 4.3.0" at DATA is not the answer, and a 2xx number
	 * in a paragraph ("Size (in bytes): 222") is no proof of delivery.
	 */
	int said_delivered = action_delivered(r->action);
	if (!r->reply_code) {
		int rc = find_reply(r->diagnostic, 1);
		if (!rc && said_delivered)
			rc = find_reply(r->diagnostic, 0);
		r->reply_code = rc;
	}
	/*
	 * The remote server's own code in the diagnostic beats the summary in
	 * Status: (Sendmail writes 4.4.7 over a "450 4.7.1 ..." reply).
	 */
	if ((find_ecode(r->diagnostic, ec, 1) ||
	     (said_delivered && find_ecode(r->diagnostic, ec, 0))) &&
	    (!*r->status || r->status[0] == ec[0] || strcmp(r->status + 1, ".0.0") == 0 ||
	     r->status[0] == '2'))
		set_str(&r->status, xstrdup(ec));
	/*
	 * Amazon SES quotes the remote server's reply after its own summary:
	 * "5.1.0 - Unknown address error 550-'5.7.1 <x>... Access denied'".
	 * The remote's reply decides, as elsewhere (its code beats the summary).
	 */
	const char *text = r->diagnostic;
	size_t tlen = strlen(text);
	const char *q = ses_quoted_reply(text);
	if (q) {
		int rc = atoi(q);
		text = q + 5;
		const char *end = strrchr(text, '\'');
		tlen = end ? (size_t)(end - text) : strlen(text);
		char *qt = xstrndup(text, tlen);
		if (find_ecode(qt, ec, 1))
			set_str(&r->status, xstrdup(ec));
		free(qt);
		r->reply_code = rc;
	}
	const char *st = r->status;
	enum bounce_stage stage = bounce_stage_of(r->diagnostic, strlen(r->diagnostic));
	if (stage == BOUNCE_STAGE_UNKNOWN) {
		struct buf p = BUF_INIT;
		para_of(h, hn, r->address, &p);
		stage = bounce_stage_of(p.data, p.len);
		buf_free(&p);
	}
	r->verdict = bounce_classify_stage(stage, r->reply_code, st, text, tlen);
	/*
	 * A local delivery agent's failure (Diagnostic-Code: X-Unix; 71): its
	 * text decides when it says something, else it is the mailer's error.
	 */
	if (strcasecmp(r->diag_type, "x-unix") == 0 || strcasecmp(r->diag_type, "x-postfix") == 0) {
		struct bounce_verdict t =
		    bounce_classify_stage(stage, 0, "", r->diagnostic, strlen(r->diagnostic));
		if (t.reason == BOUNCE_ONHOLD || t.reason == BOUNCE_UNDEFINED)
			r->verdict = bounce_verdict_of(BOUNCE_MAILERERROR, r->reply_code, st);
	}
	if (strcasecmp(r->action, "delayed") == 0 &&
	    (r->verdict.reason == BOUNCE_ONHOLD || r->verdict.reason == BOUNCE_UNDEFINED))
		r->verdict = bounce_verdict_of(BOUNCE_EXPIRED, r->reply_code, st);
	int failure = r->reply_code >= 400 || st[0] == '4' || st[0] == '5';
	if (said_delivered && !failure)
		r->verdict = bounce_verdict_of(BOUNCE_DELIVERED, r->reply_code, st);
	/*
	 * Nothing a server reports as failed comes out delivered: a report that
	 * does not say delivered (a failed or delayed action, or a text bounce)
	 * is read again without its codes, and is "onhold" if still nothing.
	 */
	if (r->verdict.reason == BOUNCE_DELIVERED && (!said_delivered || failure)) {
		r->verdict = bounce_classify_stage(stage, 0, "", text, tlen);
		if (r->verdict.reason == BOUNCE_DELIVERED)
			r->verdict = bounce_verdict_of(BOUNCE_ONHOLD, 0, "");
	}
}

/* "rfc822; user@example.org" -> the address, or NULL. */
static char *
dsn_addr(const char *v)
{
	const char *semi = strchr(v, ';');
	const char *p = semi ? semi + 1 : v;
	while (*p == ' ' || *p == '<')
		p++;
	/* A source route ("@relay:user@host", RFC 5321 obsolete syntax) is no address to keep. */
	if (*p == '@' && strchr(p, ':'))
		return NULL;
	return addr_first(p);
}

static void rlist_free(struct rlist *l);

/* Is this a per-recipient field of RFC 3464 that kirim reads? */
static int
is_rcpt_field(const char *line, size_t nlen)
{
	return (nlen == 6 &&
	        (ci_prefix(line, nlen, "Action") || ci_prefix(line, nlen, "Status"))) ||
	       (nlen == 10 && ci_prefix(line, nlen, "Remote-MTA")) ||
	       (nlen == 15 && ci_prefix(line, nlen, "Diagnostic-Code"));
}

/*
 * PowerMTA says what it made of each failure in X-PowerMTA-BounceCategory;
 * the sending MTA's own verdict is taken as it is (PowerMTA's documented
 * categories).
 */
static const struct {
	const char *name;
	enum bounce_reason reason;
} pmta_categories[] = {
    {"bad-mailbox", BOUNCE_USERUNKNOWN},        {"bad-domain", BOUNCE_HOSTUNKNOWN},
    {"quota-issues", BOUNCE_MAILBOXFULL},       {"inactive-mailbox", BOUNCE_SUSPEND},
    {"message-expired", BOUNCE_EXPIRED},        {"no-answer-from-host", BOUNCE_NETWORKERROR},
    {"bad-connection", BOUNCE_NETWORKERROR},    {"routing-errors", BOUNCE_SYSTEMERROR},
    {"policy-related", BOUNCE_POLICYVIOLATION}, {"spam-related", BOUNCE_SPAMDETECTED},
    {"virus-related", BOUNCE_VIRUSDETECTED},    {"content-related", BOUNCE_CONTENTERROR},
    {"relaying-issues", BOUNCE_NORELAYING},     {"protocol-errors", BOUNCE_SYNTAXERROR},
};

/* Store one per-recipient field (name nlen bytes at line, value v) into r and its hint. */
static void
rcpt_field(struct dsn_recipient *r, unsigned char *hint, const char *line, size_t nlen,
           const char *v)
{
	if (nlen == 25 && ci_prefix(line, nlen, "X-PowerMTA-BounceCategory")) {
		while (*v == ' ' || *v == '\t')
			v++;
		for (size_t i = 0; i < sizeof(pmta_categories) / sizeof(pmta_categories[0]); i++)
			if (ci_prefix(v, strlen(v), pmta_categories[i].name))
				*hint = (unsigned char)pmta_categories[i].reason;
	} else if (ci_prefix(line, nlen, "Action") && nlen == 6) {
		set_str(&r->action, one_line(v, strlen(v), 32));
		for (char *p = r->action; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	} else if (ci_prefix(line, nlen, "Status") && nlen == 6) {
		char ec[16];
		if (find_ecode(v, ec, 0))
			set_str(&r->status, xstrdup(ec));
	} else if (ci_prefix(line, nlen, "Remote-MTA") && nlen == 10) {
		const char *semi = strchr(v, ';');
		set_str(&r->remote_mta,
		        one_line(semi ? semi + 1 : v, strlen(semi ? semi + 1 : v), 255));
	} else if (ci_prefix(line, nlen, "Diagnostic-Code") && nlen == 15) {
		const char *semi = strchr(v, ';');
		if (semi) {
			set_str(&r->diag_type, one_line(v, (size_t)(semi - v), 32));
			for (char *p = r->diag_type; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			v = semi + 1;
		}
		set_str(&r->diagnostic, one_line(v, strlen(v), DIAG_MAX));
	}
}

/* Move the fields read into pre (before the recipient line) into r, if r lacks them. */
static void
rcpt_take(struct dsn_recipient *r, unsigned char *hint, struct dsn_recipient *pre,
          unsigned char *pre_hint)
{
	if (!*hint)
		*hint = *pre_hint;
	char **dst[] = {&r->action, &r->status, &r->remote_mta, &r->diag_type, &r->diagnostic};
	char **src[] = {&pre->action, &pre->status, &pre->remote_mta, &pre->diag_type,
	                &pre->diagnostic};
	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
		if (!**dst[i] && **src[i]) {
			free(*dst[i]);
			*dst[i] = *src[i];
			*src[i] = xstrdup("");
		}
	}
}

/*
 * Read delivery-status fields from s: groups of fields; a recipient starts
 * at Final-Recipient (or Original-Recipient when no Final-Recipient follows
 * in its group). Per-message fields (Reporting-MTA) are skipped.
 */
static void
read_ds_fields(const char *s, size_t n, struct rlist *l)
{
	struct dsn_recipient *cur = NULL;
	int cur_final = 0;
	size_t off = 0;
	struct buf val = BUF_INIT;
	/*
	 * Fields of a group read before its recipient line (Facebook and
	 * MessageLabs put Final-Recipient last): kept here, then moved over.
	 */
	struct rlist pend = {NULL, 0, 0, NULL};
	struct dsn_recipient *pre = rcpt_add(&pend, xstrdup(""));
	int pre_used = 0, group_final = 0;
	while (off < n) {
		const char *line = s + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		off = nl ? off + len + 1 : n;
		size_t nlen = header_name_len(line, len);
		if (len == 0) {
			pre_used = group_final = 0;
			continue;
		}
		if (!nlen)
			continue;
		/* Unfold: take continuation lines too. */
		buf_reset(&val);
		const char *colon = memchr(line, ':', len);
		buf_add(&val, colon + 1, len - (size_t)(colon + 1 - line));
		while (off < n && (s[off] == ' ' || s[off] == '\t')) {
			const char *l2 = s + off;
			const char *nl2 = memchr(l2, '\n', n - off);
			size_t len2 = nl2 ? (size_t)(nl2 - l2) : n - off;
			if (val.len < DIAG_MAX * 4)
				buf_add(&val, l2, len2);
			off = nl2 ? off + len2 + 1 : n;
		}
		const char *v = val.data ? val.data : "";
		if (ci_prefix(line, nlen, "Final-Recipient") && nlen == 15) {
			char *a = dsn_addr(v);
			if (!a)
				continue;
			if (cur && !cur_final) {
				/* Original-Recipient came first: this is the same recipient. */
				set_str(&cur->address, a);
				cur_final = 1;
				continue;
			}
			cur = rcpt_add(l, a);
			cur_final = 1;
			if (cur && pre_used)
				rcpt_take(cur, &l->hint[cur - l->v], pre, &pend.hint[0]);
			pre_used = 0;
			group_final = 1;
			if (!cur) {
				/* A repeated address: read its fields into the first one. */
				char *a2 = dsn_addr(v);
				for (size_t i = 0; a2 && i < l->n; i++)
					if (strcasecmp(l->v[i].address, a2) == 0)
						cur = &l->v[i];
				free(a2);
			}
		} else if (ci_prefix(line, nlen, "Original-Recipient") && nlen == 18) {
			char *a = dsn_addr(v);
			if (!a)
				continue;
			if (cur && cur_final && (group_final || (!*cur->action && !*cur->status))) {
				free(a); /* after Final-Recipient in the same group */
				continue;
			}
			cur = rcpt_add(l, a);
			cur_final = 0;
		} else if (!cur && !pre_used && !is_rcpt_field(line, nlen)) {
			continue;
		} else {
			struct dsn_recipient *t = cur ? cur : pre;
			if (!cur && !pre_used) {
				/* A new group: forget what an earlier one left. */
				char **f[] = {&pre->action, &pre->status, &pre->remote_mta,
				              &pre->diag_type, &pre->diagnostic};
				for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
					set_str(f[i], xstrdup(""));
				pend.hint[0] = 0;
				pre_used = 1;
			}
			rcpt_field(t, cur ? &l->hint[cur - l->v] : &pend.hint[0], line, nlen, v);
		}
	}
	buf_free(&val);
	rlist_free(&pend);
}

/* ---- readable text bounces ---- */

/* Is this line the start of the returned message (a separator naming it)? */
static int
is_orig_marker(const char *line, size_t len)
{
	static const char *const keys[] = {"original message",
	                                   "copy of the message",
	                                   "returned message",
	                                   "header of the original",
	                                   "headers of the original",
	                                   "message header",
	                                   "undelivered message",
	                                   "original mail",
	                                   "unsent message",
	                                   "original text",
	                                   "message headers follow",
	                                   "rfc822",
	                                   "the header",
	                                   "original email",
	                                   "headers of your message",
	                                   "message was as follows",
	                                   NULL};
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (ci_prefix(line + i, len - i, "Content-Type: message/rfc822") ||
	    ci_prefix(line + i, len - i, "Content-Type: text/rfc822-headers"))
		return 1;
	/*
	 * A line of its own without dashes: IMail "Original message follows.",
	 * fml, OpenSMTPD's bounce.c "Below is a copy of the original message:".
	 */
	if (ci_prefix(line + i, len - i, "Original message follows") ||
	    ci_prefix(line + i, len - i, "Original mail as follows") ||
	    ci_prefix(line + i, len - i, "Below is a copy of the original message"))
		return 1;
	size_t dashes = 0;
	while (i + dashes < len && strchr("-=*_>", line[i + dashes]))
		dashes++;
	if (dashes < 2)
		return 0;
	for (int k = 0; keys[k]; k++)
		if (ci_find(line, len, keys[k]) >= 0)
			return 1;
	return 0;
}

/* The length of the readable part of t: up to the returned message. */
static size_t
human_len(const char *t, size_t n)
{
	size_t off = 0;
	while (off < n) {
		const char *line = t + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		if (is_orig_marker(line, len))
			return off;
		off = nl ? off + len + 1 : n;
	}
	return n;
}

/* Does the line (starting at its first address) introduce a failed recipient? */
static int
line_names_rcpt(const char *line, size_t at)
{
	size_t i = 0;
	/* Bytes of UTF-8 (Japanese, accented text) are words too. */
	while (i < at && !isalnum((unsigned char)line[i]) && (unsigned char)line[i] < 0x80)
		i++;
	if (i == at)
		return 1; /* the address opens the line: Exim, qmail, Postfix, "* addr", ">>> addr"
		           */
	/* "554 <addr>... reason" (Sendmail transcripts), "550 addr ..." */
	if (i + 4 <= at && (line[i] == '4' || line[i] == '5') &&
	    isdigit((unsigned char)line[i + 1]) && isdigit((unsigned char)line[i + 2]) &&
	    line[i + 3] == ' ') {
		size_t k = i + 4;
		while (k < at && !isalnum((unsigned char)line[k]))
			k++;
		if (k == at)
			return 1;
	}
	static const char *const intro[] = {"rcpt to:",
	                                    "rcpt to: ",
	                                    "recipient:",
	                                    "recipients:",
	                                    "recipient address:",
	                                    "failed recipient",
	                                    "to:",
	                                    "address:",
	                                    "addressed to",
	                                    "delivered to",
	                                    "original-recipient:",
	                                    "final-recipient:",
	                                    "failed address",
	                                    "your message to",
	                                    "following address",
	                                    "following recipient",
	                                    "could not be delivered to",
	                                    "mailbox",
	                                    "user",
	                                    "destinataire",
	                                    "recipient",
	                                    "unknown",
	                                    "for <",
	                                    "rcpt",
	                                    "deliver",
	                                    "to <",
	                                    "adresse",
	                                    NULL};
	for (int k = 0; intro[k]; k++) {
		long f = ci_find(line, at, intro[k]);
		if (f >= 0)
			return 1;
	}
	return 0;
}

/* How many words of three letters or more s holds (an address alone has few). */
static size_t
words(const char *s, size_t n)
{
	size_t w = 0, run = 0;
	for (size_t i = 0; s && i < n; i++) {
		if (isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80) {
			run++;
		} else {
			if (s[i] == '@' || s[i] == '.')
				run = 0; /* address parts are not words */
			else if (run >= 3)
				w++;
			if (s[i] == '@' || s[i] == '.') {
				/* skip to the end of the address */
				while (i + 1 < n && !isspace((unsigned char)s[i + 1]))
					i++;
			}
			run = 0;
		}
	}
	return w + (run >= 3);
}

/*
 * Does the blank line at off lead to a line that introduces the remote
 * server's reply ("The error that the other server returned was:", "The
 * response was:")? Gmail puts the reply one paragraph further down.
 */
static int
intro_follows(const char *h, size_t n, size_t off)
{
	while (off < n && isspace((unsigned char)h[off]))
		off++;
	const char *line = h + off;
	const char *nl = memchr(line, '\n', n - off);
	size_t len = nl ? (size_t)(nl - line) : n - off;
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	return len > 0 && line[len - 1] == ':' &&
	       (ci_find(line, len, "server") >= 0 || ci_find(line, len, "response") >= 0);
}

/* Does the text gathered in d end with ':' ("For the following reason:")? */
static int
ends_colon(const struct buf *d)
{
	size_t k = d->len;
	while (k > 0 && isspace((unsigned char)d->data[k - 1]))
		k--;
	return k > 0 && d->data[k - 1] == ':';
}

/*
 * Is this Sendmail's per-recipient status line, "554 <user@example.org>...
 * reason"? It is complete on its own line: the transcript lines below it
 * are about the next host or recipient.
 */
static int
is_status_line(const char *line, size_t len)
{
	if (len < 8 || (line[0] != '4' && line[0] != '5') || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[3] != ' ' || line[4] != '<')
		return 0;
	const char *gt = memchr(line + 4, '>', len - 4);
	return gt && (size_t)(gt - line) + 4 <= len && memcmp(gt, ">...", 4) == 0;
}

/* Append the paragraph that explains the address at line offset lo to d. */
static void
paragraph(const char *h, size_t n, size_t lo, const char *self, struct buf *d)
{
	size_t off = lo, lines = 0;
	int status_line = 0;
	while (off < n && d->len < DIAG_MAX && lines < 12) {
		const char *line = h + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t k = 0;
		while (k < len && isspace((unsigned char)line[k]))
			k++;
		if (lines == 0)
			status_line = is_status_line(line, len);
		else if (status_line && k == 0)
			break; /* only its own folded lines follow a status line */
		if (k == len && lines > 0 && words(d->data, d->len) > 2 && !ends_colon(d) &&
		    !intro_follows(h, n, off))
			break;
		if (lines > 0 && memchr(line, '@', len)) {
			/* The next recipient's line ends this one's paragraph. */
			size_t p2 = 0, at2;
			char *b = addr_next(line, len, &p2, &at2);
			int other = b && strcasecmp(b, self) != 0 && line_names_rcpt(line, at2) &&
			            ci_find(line, at2, "mail from") < 0;
			free(b);
			if (other)
				break;
		}
		buf_add(d, line, len);
		buf_addc(d, ' ');
		lines++;
		off = nl ? off + len + 1 : n;
	}
}

/* The host named in "host mx.example.net[192.0.2.1] said" (Postfix, Exim), or NULL. */
static char *
remote_host(const char *d)
{
	size_t n = strlen(d), from = 0;
	long f;
	while (from < n && (f = ci_find(d + from, n - from, "host ")) >= 0) {
		const char *p = d + from + f + 5;
		size_t k = 0;
		while (p[k] && (isalnum((unsigned char)p[k]) || p[k] == '.' || p[k] == '-'))
			k++;
		if (k > 3 && k < 254 && memchr(p, '.', k) && isalpha((unsigned char)p[k - 1]))
			return xstrndup(p, k);
		from += (size_t)f + 5;
	}
	return NULL;
}

struct env {
	const struct hdrs *top;
	char *from;  /* the report's From address */
	char **skip; /* addresses that are not recipients: the report's own */
	size_t nskip;
};

static int
skipped(const struct env *e, const char *a)
{
	if (strncasecmp(a, "mailer-daemon@", 14) == 0)
		return 1;
	for (size_t i = 0; i < e->nskip; i++)
		if (strcasecmp(e->skip[i], a) == 0)
			return 1;
	return 0;
}

/*
 * In a report sent back to the address that failed (someone mailing
 * himself): may the report's own address a at offset at of the line be the
 * failed recipient? Only as qmail and Exim list it, alone on its line
 * ("<user@example.org>:"), and never a mailer daemon or the report's sender.
 */
static int
own_ok(const struct env *e, const char *a, const char *line, size_t len, size_t at)
{
	if (strncasecmp(a, "mailer-daemon@", 14) == 0 || (e->from && strcasecmp(e->from, a) == 0))
		return 0;
	for (size_t i = 0; i < at; i++)
		if (!isspace((unsigned char)line[i]) && line[i] != '<')
			return 0;
	size_t k = at + strlen(a);
	if (k > len)
		return 0;
	for (; k < len; k++)
		if (!isspace((unsigned char)line[k]) && line[k] != '>' && line[k] != ':')
			return 0;
	return 1;
}

/* Is this header field name (n bytes) a trace, authentication or threading field? */
static int
is_trace_field(const char *name, size_t n)
{
	static const char *const names[] = {"Received",
	                                    "Received-SPF",
	                                    "Authentication-Results",
	                                    "DKIM-Signature",
	                                    "DomainKey-Signature",
	                                    "Return-Path",
	                                    "Message-ID",
	                                    "References",
	                                    "In-Reply-To",
	                                    "Reply-To",
	                                    "From",
	                                    "Sender",
	                                    "X-Received",
	                                    NULL};
	for (int i = 0; names[i]; i++)
		if (n == strlen(names[i]) && strncasecmp(name, names[i], n) == 0)
			return 1;
	return ci_prefix(name, n, "ARC-") || ci_prefix(name, n, "List-") ||
	       ci_prefix(name, n, "X-Google-") || ci_prefix(name, n, "X-MS-");
}

/*
 * Find failed recipients in the readable text h (n bytes): addresses that
 * open a line or follow a recipient phrase; X-Failed-Recipients (Exim)
 * names them outright. The paragraph below each becomes its diagnostic.
 */
static void
read_text_bounce(const char *h, size_t n, const struct env *e, int own, struct rlist *l)
{
	const char *xfr = NULL;
	size_t off = 0;
	int trace = 0;
	while (off < n) {
		const char *line = h + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t pos = 0, at;
		/*
		 * Quoted trace and authentication fields (Received:,
		 * Authentication-Results: "smtp.mailfrom=x"...) and their folded
		 * lines are no place where a report names its recipients.
		 */
		size_t hn = header_name_len(line, len);
		if (hn)
			trace = is_trace_field(line, hn);
		else if (!(len && (line[0] == ' ' || line[0] == '\t')))
			trace = 0;
		char *a = NULL;
		while (!trace && (a = addr_next(line, len, &pos, &at)) && !addr_shape_ok(a, 1)) {
			free(a);
			a = NULL;
		}
		if (a) {
			long mf = ci_find(line, len, "mail from");
			int is_sender = mf >= 0 && (size_t)mf < at;
			if (!is_sender && (own ? own_ok(e, a, line, len, at) : !skipped(e, a)) &&
			    line_names_rcpt(line, at)) {
				/* "user@a <user@b>": the bracketed one is the address. */
				const char *lt = memchr(line + at, '<', len - at);
				if (lt && memchr(lt, '@', len - (size_t)(lt - line))) {
					size_t p2 = (size_t)(lt - line), at2;
					char *b = addr_next(line, len, &p2, &at2);
					if (b && !skipped(e, b) && addr_shape_ok(b, 1)) {
						free(a);
						a = b;
					} else {
						free(b);
					}
				}
				struct dsn_recipient *r = NULL;
				int had = 0;
				for (size_t i = 0; i < l->n; i++)
					if (strcasecmp(l->v[i].address, a) == 0) {
						r = &l->v[i];
						had = 1;
					}
				if (!had && !xfr)
					r = rcpt_add(l, a);
				else
					free(a);
				a = NULL;
				if (r && !*r->diagnostic) {
					struct buf d = BUF_INIT;
					paragraph(h, n, off, r->address, &d);
					set_str(&r->diagnostic,
					        one_line(d.data ? d.data : "", d.len, DIAG_MAX));
					buf_free(&d);
					char *mta = remote_host(r->diagnostic);
					if (mta)
						set_str(&r->remote_mta, mta);
				}
			}
			free(a);
		}
		off = nl ? off + len + 1 : n;
	}
}

/*
 * fml (the Japanese mailing list manager, X-MLServer: fml) explains a refused
 * post in a notice of its own: each failed address closes its line as
 * "<list@example.org>." ("Duplicated Message-ID in <neko@example.co.jp>.",
 * "NOT MEMBER article from <x@example.org>."). The line is the diagnostic.
 */
static void
read_fml(const char *h, size_t n, const struct env *e, struct rlist *l)
{
	size_t off = 0;
	while (off < n) {
		const char *line = h + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		off = nl ? off + len + 1 : n;
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			len--;
		if (len < 5 || line[len - 1] != '.' || line[len - 2] != '>')
			continue;
		const char *lt = line + len - 2;
		while (lt > line && *lt != '<')
			lt--;
		if (*lt != '<')
			continue;
		size_t pos = (size_t)(lt - line), at;
		char *a = addr_next(line, len, &pos, &at);
		if (!a || skipped(e, a) || !addr_shape_ok(a, 1)) {
			free(a);
			continue;
		}
		struct dsn_recipient *r = rcpt_add(l, a);
		if (r)
			set_str(&r->diagnostic, one_line(line, len, DIAG_MAX));
	}
}

/*
 * Does the readable text t (n bytes) hold an SMTP transcript of a failure:
 * a line that opens with "RCPT TO:" naming an address (Sendmail's ">>> RCPT
 * To:<x>", Verizon's "Message details: ... RCPT TO: x") and a 4xx/5xx reply?
 */
static int
text_has_transcript(const char *t, size_t n)
{
	int rcpt = 0;
	size_t off = 0;
	while (off < n && !rcpt) {
		const char *line = t + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		off = nl ? off + len + 1 : n;
		size_t i = 0;
		while (i < len && (isspace((unsigned char)line[i]) || line[i] == '>'))
			i++;
		rcpt = ci_prefix(line + i, len - i, "RCPT TO:") && memchr(line, '@', len);
	}
	if (!rcpt)
		return 0;
	char *s = xstrndup(t, n);
	int code = find_reply(s, 1);
	free(s);
	return code >= 400;
}

/* ---- kinds ---- */

static int
subject_has(const char *subj, const char *const *keys)
{
	for (int i = 0; keys[i]; i++)
		if (ci_find(subj, strlen(subj), keys[i]) >= 0)
			return 1;
	return 0;
}

static const char *const bounce_subjects[] = {"undeliver",
                                              "undelivered",
                                              "delivery status",
                                              "delivery failure",
                                              "delivery failed",
                                              "failure notice",
                                              "returned mail",
                                              "mail delivery",
                                              "delivery notification",
                                              "could not be delivered",
                                              "non remis",
                                              "non-delivery",
                                              "nondeliverable",
                                              "rejected",
                                              "mail system error",
                                              "failed delivery",
                                              "delivery problem",
                                              "warning: could not send",
                                              "message delivery has failed",
                                              "returned to sender",
                                              "not delivered",
                                              "unzustellbar",
                                              "delivery report",
                                              "error sending",
                                              "bounce",
                                              "nicht zustellbar",
                                              "undeliverable",
                                              "permanent error",
                                              "mail error",
                                              "failed mail",
                                              "delivery has failed",
                                              "non delivery",
                                              NULL};

static const char *const autoreply_subjects[] = {"auto:",
                                                 "auto reply",
                                                 "auto-reply",
                                                 "autoreply",
                                                 "automatic reply",
                                                 "out of office",
                                                 "out of the office",
                                                 "vacation",
                                                 "abwesenheit",
                                                 "away from",
                                                 "autosvar",
                                                 "absence",
                                                 "on leave",
                                                 "autorespon",
                                                 "respuesta automática",
                                                 "réponse automatique",
                                                 "automatische antwort",
                                                 NULL};

/* Phrases in the readable text that only bounces use. */
static const char *const bounce_phrases[] = {"could not be delivered",    "undeliverable",
                                             "delivery has failed",       "delivery failed",
                                             "was not delivered",         "unable to deliver",
                                             "could not deliver",         "permanent error",
                                             "following recipient",       "following address",
                                             "delivery to the following", "not be delivered",
                                             "failed to deliver",         NULL};

static int
subject_has_n(const char *s, size_t n, const char *const *keys)
{
	for (int i = 0; keys[i]; i++)
		if (ci_find(s, n, keys[i]) >= 0)
			return 1;
	return 0;
}

/* The value of the first "Name:" line in quoted headers of text t, or NULL. */
static char *
quoted_header(const char *t, size_t n, const char *name)
{
	size_t off = 0, k = strlen(name);
	while (off < n) {
		const char *line = t + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		if (len > k && strncasecmp(line, name, k) == 0)
			return xstrndup(line + k, len - k);
		off = nl ? off + len + 1 : n;
	}
	return NULL;
}

static int
is_autoreply(const struct hdrs *h, const char *subj)
{
	const char *as = hdr_get(h, "Auto-Submitted");
	if (as && ci_find(as, strlen(as), "auto-replied") >= 0)
		return 1;
	if (hdr_get(h, "X-Autoreply") || hdr_get(h, "X-Autorespond") ||
	    hdr_get(h, "X-Autoresponse") || hdr_get(h, "X-Vacation"))
		return 1;
	const char *pr = hdr_get(h, "Precedence");
	if (pr && ci_find(pr, strlen(pr), "auto_reply") >= 0)
		return 1;
	return subject_has(subj, autoreply_subjects);
}

/* ---- assembling the report ---- */

static void
env_add(char ***v, size_t *n, char *a)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp((*v)[i], a) == 0) {
			free(a);
			return;
		}
	if (*n >= 64) {
		free(a);
		return;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = a;
}

static void
envelope_collect(const struct hdrs *h, struct dsn_report *out)
{
	static const char *const names[] = {"To",          "Delivered-To",  "X-Original-To",
	                                    "Envelope-To", "X-Envelope-To", NULL};
	for (int k = 0; names[k]; k++)
		for (size_t i = 0; i < h->n; i++) {
			if (strcasecmp(h->v[i].name, names[k]) != 0)
				continue;
			const char *v = h->v[i].value;
			size_t pos = 0, at;
			char *a;
			while ((a = addr_next(v, strlen(v), &pos, &at)))
				env_add(&out->envelope, &out->nenvelope, a);
		}
}

/* The Message-ID value without angle brackets and blanks. */
static char *
msgid_clean(const char *v)
{
	const char *lt = strchr(v, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		return one_line(lt + 1, (size_t)(gt - lt - 1), 998);
	return one_line(v, strlen(v), 998);
}

/* A "Message-ID:" line in quoted headers of text t (n bytes), or NULL. */
static char *
msgid_in_text(const char *t, size_t n)
{
	size_t off = 0;
	while (off < n) {
		const char *line = t + off;
		const char *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		size_t k = 0;
		while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '>'))
			k++;
		if (ci_prefix(line + k, len - k, "Message-ID:")) {
			char *v = xstrndup(line + k + 11, len - k - 11);
			char *r = msgid_clean(v);
			free(v);
			if (*r)
				return r;
			free(r);
		}
		off = nl ? off + len + 1 : n;
	}
	return NULL;
}

static void
report_init(struct dsn_report *r)
{
	memset(r, 0, sizeof(*r));
	r->why = xstrdup("");
	r->format = xstrdup("");
	r->feedback_type = xstrdup("");
	r->orig_message_id = xstrdup("");
}

static void
finish_rcpts(struct dsn_report *out, struct rlist *l)
{
	out->rcpt = l->v;
	out->nrcpt = l->n;
	free(l->hint);
	l->v = NULL;
	l->hint = NULL;
	l->n = l->cap = 0;
}

static void
rlist_free(struct rlist *l)
{
	struct dsn_report tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.rcpt = l->v;
	tmp.nrcpt = l->n;
	for (size_t i = 0; i < tmp.nrcpt; i++) {
		free(tmp.rcpt[i].address);
		free(tmp.rcpt[i].action);
		free(tmp.rcpt[i].status);
		free(tmp.rcpt[i].remote_mta);
		free(tmp.rcpt[i].diag_type);
		free(tmp.rcpt[i].diagnostic);
	}
	free(l->hint);
	l->hint = NULL;
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Read a feedback report (ARF) into out; 1 when it is one. */
static int
read_arf(struct ctx *c, const struct hdrs *top, struct dsn_report *out, struct rlist *l)
{
	struct hdrs fb;
	const char *subj = hdr_get(top, "Subject");
	if (c->fb.len == 0 && c->have_orig && subj &&
	    ci_find(subj, strlen(subj), "complaint about message from") >= 0) {
		/* Hotmail's report before ARF: the complained-about message attached. */
		buf_adds(&c->fb, "Feedback-Type: abuse\n");
	}
	if (c->fb.len == 0)
		return 0;
	hdrs_parse(c->fb.data, c->fb.len, &fb);
	const char *ft = hdr_get(&fb, "Feedback-Type");
	set_str(&out->feedback_type, one_line(ft ? ft : "abuse", strlen(ft ? ft : "abuse"), 64));
	for (size_t i = 0; i < fb.n; i++)
		if (strcasecmp(fb.v[i].name, "Original-Rcpt-To") == 0 ||
		    strcasecmp(fb.v[i].name, "Removal-Recipient") == 0) {
			size_t pos = 0, at;
			char *a;
			const char *v = fb.v[i].value;
			while ((a = addr_next(v, strlen(v), &pos, &at)))
				rcpt_add(l, a);
		}
	if (l->n == 0 && c->have_orig) {
		const char *to = hdr_get(&c->orig, "To");
		size_t pos = 0, at;
		char *a;
		while (to && (a = addr_next(to, strlen(to), &pos, &at)))
			rcpt_add(l, a);
	}
	for (size_t i = 0; i < l->n; i++)
		l->v[i].verdict = bounce_verdict_of(BOUNCE_FEEDBACK, 0, "");
	hdrs_free(&fb);
	return 1;
}

/* ---- Amazon SES notifications (JSON, often inside an SNS envelope) ---- */

/*
 * The JSON value that starts at t (n bytes), or NULL. Mail may have folded a
 * long line ("\n " or "\n\t" inside a string, as Sendmail does past 990
 * octets): line breaks are dropped with the one blank after them, which
 * changes nothing between JSON tokens. Bytes that are not UTF-8 are read as
 * Latin-1 so that one stray byte does not lose the whole notification.
 */
static json_t *
ses_load(const char *t, size_t n)
{
	struct buf b = BUF_INIT;
	buf_reserve(&b, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (t[i] != '\n') {
			buf_addc(&b, t[i]);
			continue;
		}
		if (i + 1 < n && (t[i + 1] == ' ' || t[i + 1] == '\t'))
			i++;
	}
	if (!utf8_valid(b.data, b.len)) {
		struct buf u = BUF_INIT;
		utf8_from_latin1(&u, b.data, b.len);
		buf_free(&b);
		b = u;
	}
	json_error_t err;
	json_t *v =
	    json_loadb(b.data ? b.data : "", b.len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &err);
	buf_free(&b);
	return v;
}

/* The notification in v: v itself, or the SES message an SNS envelope holds as a string. */
static json_t *
ses_unwrap(json_t *v)
{
	if (json_is_string(json_object_get(v, "notificationType")))
		return json_incref(v);
	const json_t *m = json_object_get(v, "Message");
	if (!json_is_string(m))
		return NULL;
	json_t *inner = ses_load(json_string_value(m), json_string_length(m));
	json_t *found =
	    json_is_string(json_object_get(inner, "notificationType")) ? json_incref(inner) : NULL;
	json_decref(inner);
	return found;
}

/*
 * The SES notification in the readable text t (n bytes), or NULL: the first
 * JSON object that opens a line (SNS and SES both write it so) before the
 * text's first "notificationType" and holds one, directly or in an SNS
 * envelope's Message. At most DSN_SES_TRIES such lines are tried.
 */
static json_t *
ses_find(const char *t, size_t n)
{
	long k = ci_find(t, n, "notificationType");
	if (k < 0)
		return NULL;
	const char *p = t, *stop = t + k;
	for (int tries = 0; p < stop && tries < DSN_SES_TRIES;) {
		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if (p < stop && *p == '{') {
			tries++;
			json_t *v = ses_load(p, n - (size_t)(p - t));
			json_t *found = ses_unwrap(v);
			json_decref(v);
			if (found)
				return found;
		}
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

/*
 * Read an Amazon SES notification (Bounce, Complaint or Delivery) from the
 * readable text t into out and l; 1 when it is one. The JSON is read as JSON
 * (jansson), by the reader the SES webhook uses (esp_event.h): escapes such
 * as \" and \u0040 are what they say, whatever the diagnostic quotes.
 */
static int
read_ses(const char *t, size_t n, struct dsn_report *out, struct rlist *l)
{
	json_t *j = ses_find(t, n);
	struct esp_batch b;
	int kind = -1;
	if (j == NULL || esp_ses_read(j, "", &b) < 0) {
		json_decref(j);
		return 0;
	}
	json_decref(j);
	for (size_t i = 0; i < b.n; i++) {
		const struct esp_event *e = &b.ev[i];
		if (e->kind != ESP_BOUNCE && e->kind != ESP_COMPLAINT && e->kind != ESP_DELIVERED)
			continue; /* a delay is no report of a failure */
		kind = e->kind == ESP_COMPLAINT ? DSN_COMPLAINT : DSN_BOUNCE;
		char *ad = addr_first(e->address);
		struct dsn_recipient *r = ad ? rcpt_add(l, ad) : NULL;
		if (r == NULL)
			continue;
		if (e->kind == ESP_COMPLAINT) {
			r->verdict = bounce_verdict_of(BOUNCE_FEEDBACK, 0, "");
			set_str(&out->feedback_type, xstrdup(e->feedback_type));
			continue;
		}
		if (*e->action)
			set_str(&r->action, xstrdup(e->action));
		if (e->kind == ESP_DELIVERED) {
			set_str(&r->diag_type, xstrdup("smtp"));
			set_str(&r->diagnostic, xstrdup(e->diagnostic));
			continue;
		}
		if (*e->status)
			set_str(&r->status, xstrdup(e->status));
		const char *semi = strchr(e->diagnostic, ';');
		if (semi) {
			set_str(&r->diag_type,
			        xstrndup(e->diagnostic, (size_t)(semi - e->diagnostic)));
			set_str(&r->diagnostic, one_line(semi + 1, strlen(semi + 1), DIAG_MAX));
		} else if (*e->diagnostic) {
			set_str(&r->diagnostic, xstrdup(e->diagnostic));
		}
	}
	esp_batch_free(&b);
	if (kind < 0 || l->n == 0)
		return 0;
	out->kind = (enum dsn_kind)kind;
	set_str(&out->format, xstrdup("amazonses"));
	return 1;
}

/* Does the message say "Auto-Submitted: auto-replied" (RFC 3834)? */
static int
auto_replied(const struct hdrs *h)
{
	const char *v = hdr_get(h, "Auto-Submitted");
	return v && ci_find(v, strlen(v), "auto-replied") >= 0;
}

/* Does the text t (n bytes) quote an SMTP reply or an enhanced status code? */
static int
text_has_code(const char *t, size_t n)
{
	char *s = xstrndup(t, n), ec[16];
	int has = find_reply(s, 0) != 0 || find_ecode(s, ec, 0);
	free(s);
	return has;
}

int
dsn_parse(const char *msg, size_t len, struct dsn_report *out)
{
	report_init(out);
	if (!msg || len == 0) {
		out->kind = DSN_UNPARSEABLE;
		set_str(&out->why, xstrdup("empty message"));
		return 0;
	}
	if (len > DSN_INPUT_MAX) {
		out->kind = DSN_UNPARSEABLE;
		set_str(&out->why, xstrdup("message larger than 32 MiB"));
		return 0;
	}
	/* One line-end convention ('\n') and no NUL bytes from here on. */
	char *m = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = msg[i];
		if (ch == '\r') {
			if (i + 1 < len && msg[i + 1] == '\n')
				continue;
			ch = '\n';
		}
		m[n++] = ch ? ch : ' ';
	}
	m[n] = '\0';

	struct ctx c;
	memset(&c, 0, sizeof(c));
	struct hdrs top;
	size_t boff = hdrs_parse(m, n, &top);
	struct rlist l = {NULL, 0, 0, NULL};
	struct env e = {&top, NULL, NULL, 0};
	char *subj = ew_decode(hdr_get(&top, "Subject"));

	if (top.n == 0) {
		out->kind = DSN_UNPARSEABLE;
		set_str(&out->why, xstrdup("no header fields"));
		goto done;
	}
	walk(&c, &top, m + boff, n - boff, 0);
	if (c.err) {
		out->kind = DSN_UNPARSEABLE;
		set_str(&out->why, xstrdup(c.err));
		goto done;
	}
	envelope_collect(&top, out);

	/* The returned message's Message-ID. */
	if (c.have_orig && hdr_get(&c.orig, "Message-ID"))
		set_str(&out->orig_message_id, msgid_clean(hdr_get(&c.orig, "Message-ID")));

	if (read_arf(&c, &top, out, &l)) {
		out->kind = DSN_COMPLAINT;
		set_str(&out->format, xstrdup("arf"));
		goto done;
	}

	if (c.text.len && read_ses(c.text.data, c.text.len, out, &l)) {
		for (size_t i = 0; out->kind == DSN_BOUNCE && i < l.n; i++)
			rcpt_classify(&l.v[i], "", 0);
		goto done;
	}

	/* The report's own addresses are never the failed recipient. */
	e.from = addr_first(hdr_get(&top, "From"));
	for (size_t i = 0; i < out->nenvelope; i++)
		env_add(&e.skip, &e.nskip, xstrdup(out->envelope[i]));
	if (e.from)
		env_add(&e.skip, &e.nskip, xstrdup(e.from));

	size_t hl = human_len(c.text.data ? c.text.data : "", c.text.len);
	if (!*out->orig_message_id && c.text.len) {
		char *id = msgid_in_text(c.text.data + hl, c.text.len - hl);
		if (id)
			set_str(&out->orig_message_id, id);
	}

	if (c.ds.len)
		read_ds_fields(c.ds.data, c.ds.len, &l);
	if (l.n) {
		set_str(&out->format, xstrdup("rfc3464"));
	} else if (c.text.len && ci_find(c.text.data, hl, "Final-Recipient:") >= 0) {
		read_ds_fields(c.text.data, hl, &l);
		if (l.n)
			set_str(&out->format, xstrdup("rfc3464-text"));
	}

	const char *from = hdr_get(&top, "From");
	int daemon = e.from && addr_is_daemon(e.from);
	if (!daemon && from)
		daemon = ci_find(from, strlen(from), "mailer-daemon") >= 0 ||
		         ci_find(from, strlen(from), "postmaster") >= 0 ||
		         ci_find(from, strlen(from), "mail delivery") >= 0;
	int bsubj = subject_has(subj, bounce_subjects);

	if (l.n == 0 && !c.report && !daemon && !bsubj && is_autoreply(&top, subj)) {
		out->kind = DSN_AUTOREPLY;
		set_str(&out->format, xstrdup("rfc3834"));
		char *a = e.from ? xstrdup(e.from) : NULL;
		if (!a)
			a = addr_first(hdr_get(&top, "Reply-To"));
		if (a) {
			struct dsn_recipient *r = rcpt_add(&l, a);
			if (r)
				r->verdict = bounce_verdict_of(BOUNCE_VACATION, 0, "");
		}
		goto done;
	}

	/*
	 * RFC 3834 keeps "Auto-Submitted: auto-replied" for responders; MTAs
	 * mark DSNs auto-generated (Exim, which says auto-replied, also sends
	 * X-Failed-Recipients from Mailer-Daemon). An auto-replied notice with
	 * no delivery report, no failed-recipients header, not from a mailer
	 * daemon and quoting no SMTP reply is a person's or a script's note
	 * about the mail, not a report kirim can trust to suppress anyone.
	 */
	if (l.n == 0 && !c.report && !hdr_get(&top, "X-Failed-Recipients") &&
	    !(e.from && addr_is_daemon(e.from) && strncasecmp(e.from, "postmaster@", 11) != 0) &&
	    auto_replied(&top) && !text_has_code(c.text.data ? c.text.data : "", hl)) {
		out->kind = DSN_NOT_BOUNCE;
		set_str(&out->why, xstrdup("auto-replied notice without a delivery report"));
		goto done;
	}

	/* fml's notices (a mailing list refusing a post) name the address their own way. */
	const char *mls = hdr_get(&top, "X-MLServer");
	if (l.n == 0 && mls && ci_find(mls, strlen(mls), "fml") >= 0 && c.text.len) {
		read_fml(c.text.data, hl, &e, &l);
		if (l.n)
			set_str(&out->format, xstrdup("fml"));
	}

	int bbody = c.text.len && (subject_has_n(c.text.data, hl, bounce_phrases) ||
	                           text_has_transcript(c.text.data, hl));
	if (l.n == 0 &&
	    (c.report || daemon || bsubj || bbody || hdr_get(&top, "X-Failed-Recipients"))) {
		read_text_bounce(c.text.data ? c.text.data : "", hl, &e, 0, &l);
		if (l.n == 0)
			read_text_bounce(c.text.data ? c.text.data : "", hl, &e, 1, &l);
		/* Exim names them in a header too; used when the text did not. */
		const char *xfr = hdr_get(&top, "X-Failed-Recipients");
		size_t pos = 0, at;
		char *a;
		while (l.n == 0 && xfr && (a = addr_next(xfr, strlen(xfr), &pos, &at)))
			rcpt_add(&l, a);
		/* Last resort: the returned message's own To:. */
		const char *oto = c.have_orig ? hdr_get(&c.orig, "To") : NULL;
		char *qto = NULL;
		if (!oto && c.text.len)
			oto = qto = quoted_header(c.text.data + hl, c.text.len - hl, "To:");
		pos = 0;
		if (l.n == 0 && oto && (a = addr_next(oto, strlen(oto), &pos, &at))) {
			if (!skipped(&e, a) && addr_shape_ok(a, 1))
				rcpt_add(&l, a);
			else
				free(a);
		}
		free(qto);
		if (l.n)
			set_str(&out->format, xstrdup("text"));
	}
	if (l.n == 0) {
		if (c.report || daemon || bsubj) {
			out->kind = DSN_UNPARSEABLE;
			set_str(&out->why, xstrdup("looks like a bounce but names no recipient"));
		} else {
			out->kind = DSN_NOT_BOUNCE;
			set_str(&out->why,
			        xstrdup("no delivery report, bounce sender or bounce subject"));
		}
		goto done;
	}
	out->kind = DSN_BOUNCE;
	struct bounce_verdict whole;
	int have_whole = 0;
	for (size_t i = 0; i < l.n; i++) {
		struct dsn_recipient *r = &l.v[i];
		rcpt_classify(r, c.text.data ? c.text.data : "", hl);
		if (l.hint[i] && r->verdict.reason != BOUNCE_DELIVERED) {
			r->verdict = bounce_verdict_of((enum bounce_reason)l.hint[i], r->reply_code,
			                               r->status);
			continue;
		}
		/* Nothing said near the address: read the whole explanation. */
		if ((r->verdict.reason == BOUNCE_ONHOLD || r->verdict.reason == BOUNCE_UNDEFINED) &&
		    hl) {
			/* Computed once: the text is the same for every recipient. */
			if (!have_whole) {
				/* With the first reply and enhanced code the text quotes. */
				char *t = xstrndup(c.text.data, hl), wc[16] = "";
				find_ecode(t, wc, 1);
				whole = bounce_classify(find_reply(t, 1), wc, t, hl);
				free(t);
				have_whole = 1;
			}
			if (whole.reason != BOUNCE_ONHOLD && whole.reason != BOUNCE_UNDEFINED)
				r->verdict =
				    bounce_verdict_of(whole.reason, r->reply_code, r->status);
		}
	}

done:
	if (out->kind == DSN_UNPARSEABLE || out->kind == DSN_NOT_BOUNCE)
		rlist_free(&l);
	else
		finish_rcpts(out, &l);
	free(subj);
	free(e.from);
	for (size_t i = 0; i < e.nskip; i++)
		free(e.skip[i]);
	free(e.skip);
	hdrs_free(&top);
	hdrs_free(&c.orig);
	buf_free(&c.text);
	buf_free(&c.ds);
	buf_free(&c.fb);
	free(m);
	return 0;
}

void
dsn_report_free(struct dsn_report *r)
{
	if (!r)
		return;
	struct rlist l = {r->rcpt, r->nrcpt, r->nrcpt, NULL};
	rlist_free(&l);
	for (size_t i = 0; i < r->nenvelope; i++)
		free(r->envelope[i]);
	free(r->envelope);
	free(r->why);
	free(r->format);
	free(r->feedback_type);
	free(r->orig_message_id);
	memset(r, 0, sizeof(*r));
}

const char *
dsn_kind_name(enum dsn_kind k)
{
	switch (k) {
	case DSN_BOUNCE:
		return "bounce";
	case DSN_COMPLAINT:
		return "complaint";
	case DSN_AUTOREPLY:
		return "autoreply";
	case DSN_NOT_BOUNCE:
		return "not_bounce";
	default:
		return "unparseable";
	}
}

/* Append s with tabs and line breaks turned into spaces; "" becomes "-". */
static void
tsv_field(struct buf *out, const char *s)
{
	if (!s || !*s) {
		buf_addc(out, '-');
		return;
	}
	for (; *s; s++)
		buf_addc(out, (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s);
}

void
dsn_format_tsv(const struct dsn_report *r, const char *file, struct buf *out)
{
	if (r->nrcpt == 0) {
		tsv_field(out, file);
		buf_adds(out, "\t-\t");
		/* A complaint naming nobody is still a complaint: its reason is "feedback". */
		buf_adds(out, r->kind == DSN_COMPLAINT ? "feedback" : dsn_kind_name(r->kind));
		buf_adds(out, "\tnone\t-\t-\n");
		return;
	}
	for (size_t i = 0; i < r->nrcpt; i++) {
		const struct dsn_recipient *p = &r->rcpt[i];
		tsv_field(out, file);
		buf_addc(out, '\t');
		tsv_field(out, p->address);
		buf_addc(out, '\t');
		buf_adds(out, bounce_reason_name(p->verdict.reason));
		buf_addc(out, '\t');
		buf_adds(out, bounce_class_name(p->verdict.cls));
		buf_addc(out, '\t');
		tsv_field(out, p->status);
		buf_addc(out, '\t');
		tsv_field(out, p->remote_mta);
		buf_addc(out, '\n');
	}
}
