/*
 * fuzz_mime - random subject, display names, custom header name and value, and
 * bodies go through mime_build, mime_header_encode and mime_addr_encode. The
 * output must keep the line rules (CRLF only, no line over 998 octets), every
 * header-section line must be "Name: ..." or a non-blank continuation, and the
 * number of header fields must be exactly what the inputs ask for: a field
 * added by injected bytes fails the count. Multipart output must have exactly
 * three delimiter lines. Each body is also encoded as quoted-printable and
 * must match, byte for byte, a plain byte-at-a-time encoder kept here (the
 * library's scans blocks with SIMD), and mime_body_choose must choose what
 * the body's plain counts say.
 *
 * Input: a flags byte, then fields, each a 2-byte little-endian length and
 * that many bytes (short input leaves the rest empty).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_SUBJECT, F_FROM, F_TO, F_XNAME, F_XVALUE, F_TEXT, F_HTML, F_N };

/*
 * ref_qp - quoted-printable (RFC 2045 6.7) one byte at a time, into o (room
 * for 4n + 2 bytes): 0x21..0x7e but '=' stand for themselves, and a blank
 * does unless it is last or before a break; CR, LF and CRLF are one break
 * (CRLF); soft breaks keep lines to 75 characters and "="; a final CRLF is
 * added when the body has none. Returns the length.
 */
static size_t
ref_qp(const unsigned char *p, size_t n, char *o)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0, col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		if (c == '\r' || c == '\n') {
			o[k++] = '\r';
			o[k++] = '\n';
			col = 0;
			if (c == '\r' && i + 1 < n && p[i + 1] == '\n')
				i++;
			continue;
		}
		int last = i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n';
		int lit =
		    (c >= 0x21 && c <= 0x7e && c != '=') || ((c == ' ' || c == '\t') && !last);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			memcpy(o + k, "=\r\n", 3);
			k += 3;
			col = 0;
		}
		if (lit) {
			o[k++] = (char)c;
		} else {
			o[k++] = '=';
			o[k++] = hex[c >> 4];
			o[k++] = hex[c & 15];
		}
		col += w;
	}
	if (n && p[n - 1] != '\r' && p[n - 1] != '\n') {
		o[k++] = '\r';
		o[k++] = '\n';
	}
	return k;
}

/* ref_choose - 7bit for ASCII without NUL in lines of at most 998, QP for up to 1/6 else */
static enum mime_cte
ref_choose(const unsigned char *p, size_t n)
{
	size_t high = 0, line = 0, longest = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			line = 0;
			continue;
		}
		high += p[i] >= 0x80 || p[i] == 0;
		if (++line > longest)
			longest = line;
	}
	if (high == 0 && longest <= MIME_LINE_MAX)
		return MIME_7BIT;
	return high <= n / 6 ? MIME_QP : MIME_BASE64;
}

/* check_body - the library's quoted-printable and choice against the plain versions */
static void
check_body(const char *s, size_t n, struct buf *out)
{
	char *want = malloc(4 * n + 2);
	size_t wn = ref_qp((const unsigned char *)s, n, want);
	buf_reset(out);
	mime_body_encode(out, s, n, MIME_QP);
	if (out->len != wn || (wn && memcmp(out->data, want, wn) != 0))
		abort();
	if (mime_body_choose(s, n) != ref_choose((const unsigned char *)s, n))
		abort();
	free(want);
}

/* check - the line rules; returns the number of header fields (lines that start one) */
static size_t
check(const char *s, size_t n, int whole_message)
{
	size_t start = 0, fields = 0;
	int in_header = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
			abort(); /* bare CR */
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort(); /* bare LF */
		if (s[i] != '\n')
			continue;
		const char *l = s + start;
		size_t len = i - 1 - start;
		if (len > MIME_LINE_MAX)
			abort();
		if (in_header) {
			if (len == 0) {
				if (!whole_message)
					abort();
				in_header = 0;
			} else if (l[0] == ' ' || l[0] == '\t') {
				size_t k = 0;
				while (k < len && (l[k] == ' ' || l[k] == '\t'))
					k++;
				if (start == 0 || k == len)
					abort(); /* continuation first, or blank */
			} else {
				size_t k = 0;
				while (k < len && l[k] > 0x20 && l[k] < 0x7f && l[k] != ':')
					k++;
				if (k == 0 || k == len || l[k] != ':')
					abort(); /* not "Name:" */
				fields++;
			}
		}
		start = i + 1;
	}
	if (n && start != n)
		abort(); /* does not end in CRLF */
	if (whole_message && in_header)
		abort();
	return fields;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[F_N];
	size_t fl[F_N];
	unsigned flags = size ? data[0] : 0;
	size_t pos = size ? 1 : 0;
	for (int i = 0; i < F_N; i++) {
		size_t len = 0;
		if (pos + 2 <= size) {
			len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
			pos += 2;
		}
		if (len > size - pos)
			len = size - pos;
		f[i] = malloc(len + 1);
		memcpy(f[i], data + pos, len);
		f[i][len] = '\0';
		fl[i] = len;
		pos += len;
	}

	struct buf out = BUF_INIT;
	char err[200];
	check_body(f[F_TEXT], fl[F_TEXT], &out);
	check_body(f[F_HTML], fl[F_HTML], &out);
	buf_reset(&out);
	struct mime_header xh = {f[F_XNAME], f[F_XVALUE]};
	if (!(flags & 1))
		xh.name = "X-Fuzz";
	struct mime_msg m = {
	    .from_name = f[F_FROM],
	    .from_addr = "from@example.com",
	    .to_name = f[F_TO],
	    .to_addr = "to@example.org",
	    .reply_to = (flags & 2) ? "reply@example.com" : NULL,
	    .subject = f[F_SUBJECT],
	    .text = (flags & 4) ? NULL : f[F_TEXT],
	    .text_len = fl[F_TEXT],
	    .html = (flags & 8) ? f[F_HTML] : NULL,
	    .html_len = fl[F_HTML],
	    .msgid_local = "fuzz",
	    .domain = "example.com",
	    .list_unsub_url = (flags & 16) ? "https://example.com/u" : NULL,
	    .list_unsub_mailto = (flags & 32) ? "unsub@example.com" : NULL,
	    .feedback_id = (flags & 64) ? f[F_XVALUE] : NULL,
	    .date = 1700000000,
	    .tz_minutes = (int)(flags >> 4) * 60 - 420,
	    .headers = &xh,
	    .n_headers = 1,
	};
	if (!m.text && !m.html)
		m.text = f[F_TEXT];
	if (mime_build(&m, &out, err, sizeof err) == 0) {
		int multi = m.text && m.html;
		size_t want = 6 /* Date From To Subject Message-ID MIME-Version */ +
		              1 /* custom */ + 1 /* Content-Type */ +
		              !multi /* Content-Transfer-Encoding */ + !!m.reply_to +
		              !!m.feedback_id + !!(m.list_unsub_url || m.list_unsub_mailto) +
		              !!m.list_unsub_url;
		if (check(out.data, out.len, 1) != want)
			abort(); /* a field was added or lost */
		if (multi) {
			static const char ct[] = "\r\nContent-Type: multipart/alternative;\r\n"
			                         " boundary=\"";
			const char *b = strstr(out.data, ct);
			if (!b)
				abort();
			char delim[29] = "\r\n--";
			memcpy(delim + 4, b + sizeof ct - 1, 24);
			delim[28] = '\0';
			/* Delimiters count in the body only: a custom field name may look like one.
			 */
			const char *body = strstr(out.data, "\r\n\r\n");
			int k = 0;
			for (const char *q = body ? body + 2 : out.data;
			     (q = strstr(q, delim)) != NULL; q++)
				k++;
			if (k != 3)
				abort();
		}
	} else if (!(flags & 1)) {
		abort(); /* only a fuzzed custom header name may be refused here */
	}

	/* The raw bytes, NULs included, straight to the header encoders. */
	buf_reset(&out);
	if (mime_header_encode(&out, "Subject", f[F_SUBJECT], fl[F_SUBJECT]) != 0)
		abort();
	if (check(out.data, out.len, 0) != 1)
		abort();
	buf_reset(&out);
	if (mime_addr_encode(&out, "To", f[F_TO], "to@example.org") != 0)
		abort();
	if (check(out.data, out.len, 0) != 1)
		abort();
	buf_reset(&out);
	if (mime_header_encode(&out, f[F_XNAME], f[F_XVALUE], fl[F_XVALUE]) == 0 &&
	    check(out.data, out.len, 0) != 1)
		abort();

	buf_free(&out);
	for (int i = 0; i < F_N; i++)
		free(f[i]);
	return 0;
}
