/*
 * encoding - legacy and UTF-16 text to UTF-8 through iconv, and guesses (see encoding.h).
 *
 * iconv does the converting; this module adds what a CSV import needs around
 * it: names as people give them, a byte order for utf-16 without a mark,
 * characters cut between chunks, and marks instead of errors for bytes the
 * encoding lacks, so that one bad byte refuses one row, not the file.
 */
#include "kirim/encoding.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/buf.h"
#include "kirim/xmalloc.h"

/*
 * Names as people and spreadsheets give them, read the way browsers do (the
 * WHATWG Encoding Standard's labels), compared without case. iconv NULL is
 * utf-16 with its byte order decided by the input.
 */
static const struct {
	const char *label;
	const char *iconv;
	const char *shown;
} encoding_names[] = {
    {"windows-1252", "WINDOWS-1252", "windows-1252"},
    {"cp1252", "WINDOWS-1252", "windows-1252"},
    {"x-cp1252", "WINDOWS-1252", "windows-1252"},
    {"latin1", "WINDOWS-1252", "windows-1252"},
    {"latin-1", "WINDOWS-1252", "windows-1252"},
    {"l1", "WINDOWS-1252", "windows-1252"},
    {"iso-8859-1", "WINDOWS-1252", "windows-1252"},
    {"iso8859-1", "WINDOWS-1252", "windows-1252"},
    {"iso_8859-1", "WINDOWS-1252", "windows-1252"},
    {"ascii", "WINDOWS-1252", "windows-1252"},
    {"us-ascii", "WINDOWS-1252", "windows-1252"},
    {"shift_jis", "CP932", "shift_jis"},
    {"shift-jis", "CP932", "shift_jis"},
    {"sjis", "CP932", "shift_jis"},
    {"cp932", "CP932", "shift_jis"},
    {"windows-31j", "CP932", "shift_jis"},
    {"ms_kanji", "CP932", "shift_jis"},
    {"gb18030", "GB18030", "gb18030"},
    {"gbk", "GB18030", "gb18030"},
    {"gb2312", "GB18030", "gb18030"},
    {"cp936", "GB18030", "gb18030"},
    {"euc-cn", "GB18030", "gb18030"},
    {"euc-kr", "CP949", "euc-kr"},
    {"cp949", "CP949", "euc-kr"},
    {"big5", "BIG5-HKSCS", "big5"},
    {"utf-16", NULL, "utf-16"},
    {"utf16", NULL, "utf-16"},
    {"utf-16le", "UTF-16LE", "utf-16le"},
    {"utf16le", "UTF-16LE", "utf-16le"},
    {"utf-16be", "UTF-16BE", "utf-16be"},
    {"utf16be", "UTF-16BE", "utf-16be"},
};

struct encoding {
	iconv_t cd;             /* (iconv_t)-1 while utf16_auto waits for its first bytes */
	int utf16_auto;         /* utf-16: the byte order comes from the first bytes */
	size_t unit;            /* bytes one bad character takes: 2 in UTF-16, 4 in UTF-32 */
	unsigned char pend[16]; /* a character cut at the end of the last chunk */
	size_t npend;
	char shown[40];
};

bool
encoding_is_utf8(const char *name)
{
	return strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0;
}

static size_t
unit_of(const char *iconv_name)
{
	char up[40];
	size_t i;
	for (i = 0; iconv_name[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)toupper((unsigned char)iconv_name[i]);
	up[i] = '\0';
	if (strstr(up, "UTF-16") || strstr(up, "UTF16") || strstr(up, "UCS-2") ||
	    strstr(up, "UCS2"))
		return 2;
	if (strstr(up, "UTF-32") || strstr(up, "UTF32") || strstr(up, "UCS-4") ||
	    strstr(up, "UCS4"))
		return 4;
	return 1;
}

struct encoding *
encoding_new(const char *name)
{
	const char *ic = name, *shown = NULL;
	int found = 0;
	for (size_t i = 0; i < sizeof(encoding_names) / sizeof(encoding_names[0]); i++) {
		if (strcasecmp(encoding_names[i].label, name) == 0) {
			ic = encoding_names[i].iconv;
			shown = encoding_names[i].shown;
			found = 1;
			break;
		}
	}
	/*
	 * iconv takes "" as the locale's own encoding and "//IGNORE" or "//TRANSLIT"
	 * as licence to drop or approximate characters: neither is a file's encoding.
	 */
	if (!found && (*name == '\0' || strchr(name, '/')))
		return NULL;
	struct encoding *e = xcalloc(1, sizeof(*e));
	if (found && ic == NULL) {
		e->utf16_auto = 1;
		e->unit = 2;
		e->cd = (iconv_t)-1;
		snprintf(e->shown, sizeof(e->shown), "%s", shown);
		return e;
	}
	e->cd = iconv_open("UTF-8", ic);
	if (e->cd == (iconv_t)-1) {
		free(e);
		return NULL;
	}
	e->unit = unit_of(ic);
	if (shown) {
		snprintf(e->shown, sizeof(e->shown), "%s", shown);
	} else {
		size_t i;
		for (i = 0; name[i] && i + 1 < sizeof(e->shown); i++)
			e->shown[i] = (char)tolower((unsigned char)name[i]);
		e->shown[i] = '\0';
	}
	return e;
}

void
encoding_free(struct encoding *e)
{
	if (!e)
		return;
	if (e->cd != (iconv_t)-1)
		iconv_close(e->cd);
	free(e);
}

const char *
encoding_name(const struct encoding *e)
{
	return e->shown;
}

/* Write the n bytes at p as marks. */
static void
mark(struct buf *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		char m[3] = {ENCODING_MARK, hex[c >> 4], hex[c & 15]};
		buf_add(out, m, sizeof(m));
	}
}

/*
 * Convert what iconv can of n bytes, marking bytes it refuses; returns how many
 * bytes were used. It stops early only at a character cut short by the end.
 */
static size_t
convert(struct encoding *e, const char *in, size_t n, struct buf *out)
{
	char *ip = (char *)in;
	size_t il = n;
	while (il > 0) {
		/* Room for the worst case (4 bytes of UTF-8 a byte), in steps of 64 KiB at most. */
		buf_reserve(out, il < 16384 ? 4 * il + 16 : 65536);
		char *op = out->data + out->len;
		size_t ol = out->cap - out->len - 1;
		size_t rc = iconv(e->cd, &ip, &il, &op, &ol);
		int err = errno;
		out->len = (size_t)(op - out->data);
		out->data[out->len] = '\0';
		if (rc != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		if (err == EINVAL)
			break;
		/* EILSEQ: a byte (a code unit in UTF-16/32) the encoding lacks. */
		size_t k = e->unit < il ? e->unit : il;
		mark(out, ip, k);
		ip += k;
		il -= k;
	}
	return (size_t)(ip - in);
}

/* utf-16 without a byte order given: a mark decides, else the NUL bytes of ASCII text. */
static void
utf16_start(struct encoding *e, const char *in, size_t n)
{
	const unsigned char *p = e->pend;
	int le;
	if (p[0] == 0xFF && p[1] == 0xFE) {
		le = 1;
		e->npend = 0;
	} else if (p[0] == 0xFE && p[1] == 0xFF) {
		le = 0;
		e->npend = 0;
	} else {
		/* pend holds bytes 0 and 1; in[i] is byte 2 + i, of the same parity. */
		size_t even = p[0] == 0, odd = p[1] == 0;
		for (size_t i = 0; i < n && i < 4096; i++)
			if (in[i] == '\0')
				*(i % 2 ? &odd : &even) += 1;
		le = even <= odd;
	}
	e->cd = iconv_open("UTF-8", le ? "UTF-16LE" : "UTF-16BE");
	if (e->cd == (iconv_t)-1)
		abort(); /* encoding_new found UTF-16 in iconv's list */
	snprintf(e->shown, sizeof(e->shown), "%s", le ? "utf-16le" : "utf-16be");
	e->utf16_auto = 0;
}

void
encoding_feed(struct encoding *e, const char *in, size_t n, struct buf *out)
{
	if (e->utf16_auto) {
		while (e->npend < 2 && n > 0) {
			e->pend[e->npend++] = (unsigned char)*in++;
			n--;
		}
		if (e->npend < 2)
			return;
		utf16_start(e, in, n);
	}
	/* Complete the character held over, a byte at a time. */
	while (e->npend > 0 && n > 0) {
		e->pend[e->npend++] = (unsigned char)*in++;
		n--;
		size_t used = convert(e, (const char *)e->pend, e->npend, out);
		memmove(e->pend, e->pend + used, e->npend - used);
		e->npend -= used;
		if (e->npend == sizeof(e->pend)) {
			/* No encoding has characters this long: give up on these bytes. */
			mark(out, (const char *)e->pend, e->npend);
			e->npend = 0;
		}
	}
	if (n == 0)
		return;
	size_t used = convert(e, in, n, out);
	size_t rest = n - used;
	if (rest >= sizeof(e->pend)) {
		mark(out, in + used, rest);
		return;
	}
	memcpy(e->pend, in + used, rest);
	e->npend = rest;
}

void
encoding_finish(struct encoding *e, struct buf *out)
{
	mark(out, (const char *)e->pend, e->npend);
	e->npend = 0;
	if (e->cd == (iconv_t)-1)
		return;
	/* A stateful encoding (ISO-2022-JP) may owe a shift back to its initial state. */
	buf_reserve(out, 64);
	char *op = out->data + out->len;
	size_t ol = out->cap - out->len - 1;
	iconv(e->cd, NULL, NULL, &op, &ol);
	out->len = (size_t)(op - out->data);
	out->data[out->len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
encoding_first_mark(const char *s, size_t n)
{
	const char *m = memchr(s, ENCODING_MARK, n);
	while (m) {
		size_t at = (size_t)(m - s);
		if (at + 2 < n && hexval(m[1]) >= 0 && hexval(m[2]) >= 0)
			return hexval(m[1]) * 16 + hexval(m[2]);
		m = memchr(m + 1, ENCODING_MARK, n - at - 1);
	}
	return -1;
}

void
encoding_unmark(struct buf *out, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *m = memchr(s + i, ENCODING_MARK, n - i);
		size_t at = m ? (size_t)(m - s) : n;
		buf_add(out, s + i, at - i);
		if (!m)
			break;
		/* A mark cut by the end of s (a row cut at its cap) shows what is left of it. */
		buf_adds(out, "\\x");
		size_t k = at + 1;
		while (k < n && k < at + 3 && hexval(s[k]) >= 0)
			buf_addc(out, s[k++]);
		i = k;
	}
}

const char *
encoding_bom(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (n >= 4 && p[0] == 0xFF && p[1] == 0xFE && p[2] == 0 && p[3] == 0)
		return "utf-32";
	if (n >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0xFE && p[3] == 0xFF)
		return "utf-32";
	if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)))
		return "utf-16";
	return NULL;
}

/* ---- guessing ---- */

struct sample {
	const char *s;
	size_t n;
	size_t nul_even, nul_odd; /* NUL bytes at even and odd offsets */
	size_t c1;                /* bytes 0x80-0x9F */
	size_t high;              /* bytes 0x80-0xFF */
};

/* Mostly NUL at one parity: at least one byte in eight is NUL, four times more at one. */
static bool
nul_pattern(const struct sample *s, bool odd)
{
	size_t nul = s->nul_even + s->nul_odd;
	size_t at = odd ? s->nul_odd : s->nul_even, other = odd ? s->nul_even : s->nul_odd;
	return s->n >= 4 && nul * 8 >= s->n && at >= 4 * other;
}

static bool
utf16le(const struct sample *s)
{
	return nul_pattern(s, true);
}

static bool
utf16be(const struct sample *s)
{
	return nul_pattern(s, false);
}

/* Kana, CJK ideographs and punctuation, fullwidth forms: what Japanese and Chinese text holds. */
static bool
cjk(uint32_t c)
{
	return (c >= 0x3000 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
	       (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xFF01 && c <= 0xFF5E);
}

/*
 * The sample reads as name without a bad byte, and at least 60% of its non-ASCII
 * characters (two at least) are CJK: Western text read as Shift_JIS or GB18030
 * soon hits a byte those lack, and where it does not, it turns into half-width
 * katakana and private-use characters rather than ideographs.
 */
static bool
reads_as_cjk(const struct sample *s, const char *name)
{
	struct encoding *e = encoding_new(name);
	if (!e)
		return false;
	struct buf u = BUF_INIT;
	encoding_feed(e, s->s, s->n, &u);
	encoding_free(e);
	size_t other = 0, hits = 0;
	bool ok = u.len > 0 && memchr(u.data, ENCODING_MARK, u.len) == NULL;
	for (size_t i = 0; ok && i < u.len;) {
		unsigned char c = (unsigned char)u.data[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (i + len > u.len)
			break;
		uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
		for (size_t k = 1; k < len; k++)
			cp = cp << 6 | ((unsigned char)u.data[i + k] & 0x3F);
		if (cjk(cp))
			hits++;
		else
			other++;
		i += len;
	}
	buf_free(&u);
	return ok && hits >= 2 && hits * 10 >= (hits + other) * 6;
}

static bool
japanese(const struct sample *s)
{
	return reads_as_cjk(s, "shift_jis");
}

static bool
chinese(const struct sample *s)
{
	return reads_as_cjk(s, "gb18030");
}

static bool
c1_bytes(const struct sample *s)
{
	return s->c1 > 0;
}

static bool
high_bytes(const struct sample *s)
{
	return s->high > 0;
}

/* First match wins; each rule's why is the reason the error message gives. */
static const struct {
	const char *name;
	const char *why;
	bool (*holds)(const struct sample *);
} guess_rules[] = {
    {"utf-16le",
     "every other byte is NUL, as in UTF-16 without a byte order mark, which Excel's \"Unicode "
     "Text\" writes",
     utf16le},
    {"utf-16be", "every other byte is NUL, as in big-endian UTF-16 without a byte order mark",
     utf16be},
    {"shift_jis",
     "the bytes read as Japanese in Shift_JIS, which Excel's \"CSV\" writes on Japanese Windows",
     japanese},
    {"gb18030",
     "the bytes read as Chinese in GB18030, which Excel's \"CSV\" writes on Chinese Windows",
     chinese},
    {"windows-1252",
     "bytes 0x80-0x9F appear (\xE2\x82\xAC \xE2\x80\x9E \xE2\x80\x9C \xE2\x80\x9D "
     "\xE2\x80\x93 in Windows-1252), as Excel's \"CSV\" writes them on Windows",
     c1_bytes},
    {"latin1",
     "bytes 0xA0-0xFF appear and 0x80-0x9F do not, as in ISO-8859-1, which kirim reads as "
     "windows-1252 (give iso-8859-15 if \xC2\xA4 should be \xE2\x82\xAC)",
     high_bytes},
};

static void
sample_scan(struct sample *sm, const char *s, size_t n)
{
	memset(sm, 0, sizeof(*sm));
	sm->s = s;
	sm->n = n;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			*(i % 2 ? &sm->nul_odd : &sm->nul_even) += 1;
		else if (c >= 0x80)
			sm->high++, sm->c1 += c <= 0x9F;
	}
}

void
encoding_guess(const char *s, size_t n, struct encoding_guess *g)
{
	struct sample sm;
	sample_scan(&sm, s, n);
	g->name = NULL;
	g->why = NULL;
	for (size_t i = 0; i < sizeof(guess_rules) / sizeof(guess_rules[0]); i++) {
		if (guess_rules[i].holds(&sm)) {
			g->name = guess_rules[i].name;
			g->why = guess_rules[i].why;
			return;
		}
	}
}

bool
encoding_guess_utf16(const char *s, size_t n, struct encoding_guess *g)
{
	struct sample sm;
	sample_scan(&sm, s, n);
	for (size_t i = 0; i < 2; i++) {
		if (guess_rules[i].holds(&sm)) {
			g->name = guess_rules[i].name;
			g->why = guess_rules[i].why;
			return true;
		}
	}
	return false;
}
