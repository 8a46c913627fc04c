/* smtp_wire - DATA encoder: CRLF line ends, dot-stuffing, end-of-data (see smtp_wire.h). */
#include "kirim/smtp_wire.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * add_scan - append n bytes at p to out, OR-ing them into *hi on the way: the
 * copy the encoder makes anyway is also the 8-bit check (a word at a time).
 */
static void
add_scan(struct buf *out, const char *p, size_t n, uint64_t *hi)
{
	if (out->cap - out->len <= n)
		buf_reserve(out, n);
	char *d = out->data + out->len;
	size_t i = 0;
	uint64_t acc = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		acc |= w;
		memcpy(d + i, &w, 8);
	}
	for (; i < n; i++) {
		acc |= (unsigned char)p[i];
		d[i] = p[i];
	}
	*hi |= acc;
	out->len += n;
	out->data[out->len] = '\0';
}

/*
 * crlf_fast - the encoding of a message whose every line ends in CRLF, as
 * composer_render (MIME) makes them: then the wire form is the message with a
 * '.' after each LF that a '.' follows (and before a first '.'), and
 * ".\r\n". The message is scanned once, 16 bytes at a time where SSE2 is
 * there (a CR at j must have its LF at j + 1, and a LF there its CR; a LF at
 * j with '.' at j + 1 is a place to stuff), and copied in runs between the
 * dots. Returns -1 with out as it was when a line end is not CRLF or the
 * message does not end with one (the general encoder takes it), else as
 * smtp_wire_encode.
 */
static int
crlf_fast(struct buf *out, const char *msg, size_t n)
{
	const unsigned char *p = (const unsigned char *)msg;
	if (n < 2 || p[0] == '\n' || p[n - 2] != '\r' || p[n - 1] != '\n')
		return -1;
	size_t base = out->len, from = 0, i = 0;
	uint64_t hi = 0;
	buf_reserve(out, n + 8);
	if (p[0] == '.')
		buf_addc(out, '.');
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'), dot = _mm_set1_epi8('.');
	__m128i acc = _mm_setzero_si128();
	for (; i + 17 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i vn = _mm_loadu_si128((const __m128i *)(p + i + 1));
		__m128i l = _mm_cmpeq_epi8(v, lf);
		acc = _mm_or_si128(acc, v);
		unsigned bad = (unsigned)_mm_movemask_epi8(
		    _mm_xor_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(vn, lf)));
		unsigned dots =
		    (unsigned)_mm_movemask_epi8(_mm_and_si128(l, _mm_cmpeq_epi8(vn, dot)));
		if (__builtin_expect((bad | dots) != 0, 0)) {
			if (bad)
				goto general;
			for (; dots; dots &= dots - 1) {
				size_t j = i + (size_t)__builtin_ctz(dots);
				buf_add(out, msg + from, j + 1 - from);
				buf_addc(out, '.');
				from = j + 1;
			}
		}
	}
	hi = (uint64_t)_mm_movemask_epi8(acc) ? 0x80 : 0;
#endif
	for (; i + 1 < n; i++) {
		hi |= p[i];
		if ((p[i] == '\r') != (p[i + 1] == '\n'))
			goto general;
		if (p[i] == '\n' && p[i + 1] == '.') {
			buf_add(out, msg + from, i + 1 - from);
			buf_addc(out, '.');
			from = i + 1;
		}
	}
	buf_add(out, msg + from, n - from);
	buf_add(out, ".\r\n", 3);
	return (hi & 0x80) != 0;
general:
	out->len = base;
	out->data[base] = '\0';
	return -1;
}

int
smtp_wire_encode(struct buf *out, const char *msg, size_t len)
{
	int rc = crlf_fast(out, msg, len);
	if (rc >= 0)
		return rc;

	const char *p = msg;
	const char *end = msg + len;
	/*
	 * Positions of the next CR and the next LF at or after p (end when none).
	 * Each is searched again only once p has passed it, so the whole message
	 * is scanned twice at most: linear time, at memchr speed.
	 */
	const char *cr = p;
	const char *lf = p;
	int need_cr = 1, need_lf = 1;
	uint64_t hi = 0;

	/* Dot-stuffing adds at most one byte per line; reserve the usual case up front. */
	buf_reserve(out, len + len / 64 + 8);
	while (p < end) {
		if (need_cr) {
			cr = memchr(p, '\r', (size_t)(end - p));
			if (cr == NULL)
				cr = end;
			need_cr = 0;
		}
		if (need_lf) {
			lf = memchr(p, '\n', (size_t)(end - p));
			if (lf == NULL)
				lf = end;
			need_lf = 0;
		}
		/* p is at the start of a line. */
		if (*p == '.')
			buf_addc(out, '.');
		const char *eol = cr < lf ? cr : lf;
		add_scan(out, p, (size_t)(eol - p), &hi);
		if (eol == end) {
			p = end;
			break;
		}
		buf_add(out, "\r\n", 2);
		if (eol == cr && cr + 1 < end && cr[1] == '\n') {
			/* CRLF: one line end. */
			p = cr + 2;
			need_cr = need_lf = 1;
		} else if (eol == cr) {
			/* Bare CR. */
			p = cr + 1;
			need_cr = 1;
		} else {
			/* Bare LF. */
			p = lf + 1;
			need_lf = 1;
		}
		if (p == end)
			goto terminate;
	}
	/* Reached only when the message is empty or its last line has no line end. */
	if (len > 0)
		buf_add(out, "\r\n", 2);
terminate:
	buf_add(out, ".\r\n", 3);
	return (hi & UINT64_C(0x8080808080808080)) != 0;
}

int
smtp_wire_has_8bit(const char *msg, size_t len)
{
	const unsigned char *p = (const unsigned char *)msg;
	size_t i = 0;
	/* Eight bytes at a time: any byte with its top bit set shows in the mask. */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			return 1;
	}
	for (; i < len; i++)
		if (p[i] & 0x80)
			return 1;
	return 0;
}
