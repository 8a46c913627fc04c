/* smtp_wire - DATA encoder: CRLF line ends, dot-stuffing, end-of-data (see smtp_wire.h). */
#include "kirim/smtp_wire.h"

#include <stdint.h>
#include <string.h>

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

int
smtp_wire_encode(struct buf *out, const char *msg, size_t len)
{
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
