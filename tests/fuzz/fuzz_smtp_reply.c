/*
 * fuzz_smtp_reply - libFuzzer target for src/format/smtp_reply.c.
 *
 * Feeds the input whole and then in pieces cut where the first byte says;
 * both runs must agree on every reply and on the verdict. Every reply must
 * respect the documented limits; EHLO parsing runs on each reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Parse in pieces of 'step' bytes; return the replies serialised into out, and the verdict. */
static int
run(const char *in, size_t n, size_t step, struct buf *out)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	int verdict = 0;
	for (size_t off = 0; off < n && verdict == 0;) {
		size_t piece = n - off < step ? n - off : step;
		size_t pos = 0;
		while (pos < piece) {
			struct smtp_reply r;
			size_t used;
			int rc = smtp_reply_feed(&p, in + off + pos, piece - pos, &used, &r);
			CHECK(used <= piece - pos);
			pos += used;
			if (rc < 0) {
				CHECK(p.error != NULL);
				verdict = -1;
				break;
			}
			if (rc == 0) {
				CHECK(pos == piece);
				break;
			}
			CHECK(r.code >= 200 && r.code <= 599);
			CHECK(r.text_len <= SMTP_REPLY_MAX);
			CHECK(strlen(r.text) == r.text_len);
			CHECK(strlen(r.ecode) < SMTP_REPLY_ECODE_MAX);
			CHECK(r.ecode[0] == '\0' || r.ecode[0] == '0' + r.code / 100);
			struct smtp_ehlo e;
			(void)smtp_reply_parse_ehlo(&r, &e);
			buf_printf(out, "%d|%s|%u|", r.code, r.ecode, r.nlines);
			buf_add(out, r.text, r.text_len);
			buf_addc(out, '\0');
		}
		off += piece;
	}
	smtp_reply_parser_free(&p);
	return verdict;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 17 + 1;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct buf a = BUF_INIT, b = BUF_INIT;
	int va = run(in, n, n ? n : 1, &a);
	int vb = run(in, n, step, &b);
	CHECK(va == vb);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	buf_free(&a);
	buf_free(&b);
	return 0;
}
