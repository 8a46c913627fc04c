/*
 * fuzz_mime - random subject, display names, custom header name and value, and
 * bodies go through mime_build, mime_header_encode and mime_addr_encode. The
 * output must keep the line rules (CRLF only, no line over 998 octets), every
 * header-section line must be "Name: ..." or a non-blank continuation, and the
 * number of header fields must be exactly what the inputs ask for: a field
 * added by injected bytes fails the count. Multipart output must have exactly
 * three delimiter lines.
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
