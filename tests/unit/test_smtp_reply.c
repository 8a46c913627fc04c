/*
 * test_smtp_reply - table tests for src/format/smtp_reply.c.
 *
 * Reply cases: a byte stream and the replies wanted, written as
 * "code|ecode|text" items separated by " ;; ", ending with "ERR:reason" when
 * the parser must refuse the stream. Each stream is fed whole, one byte at a
 * time, and split at every position: all must give the same result.
 * EHLO cases: a reply stream and the extension set wanted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/smtp_reply.h"

struct rcase {
	const char *label;
	const char *in;
	const char *want;
};

static const struct rcase cases[] = {
    {"single line", "220 mx.example.com ESMTP\r\n", "220||mx.example.com ESMTP"},
    {"code only", "250\r\n", "250||"},
    {"code and space", "250 \r\n", "250||"},
    {"bare LF", "250 ok\n", "250||ok"},
    {"ecode", "250 2.1.0 Ok\r\n", "250|2.1.0|Ok"},
    {"ecode only", "550 5.1.1\r\n", "550|5.1.1|"},
    {"ecode three digits", "554 5.7.133 blocked\r\n", "554|5.7.133|blocked"},
    {"ecode class mismatch kept", "250 5.1.1 text\r\n", "250||5.1.1 text"},
    {"ecode four digits kept", "250 2.1.1000 x\r\n", "250||2.1.1000 x"},
    {"ecode no space kept", "250 2.1.0x\r\n", "250||2.1.0x"},
    {"not ecode", "250 2.0 ok\r\n", "250||2.0 ok"},
    {"multi-line", "250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
     "250||mx.example.com\nPIPELINING\n8BITMIME"},
    {"multi-line ecodes", "550-5.7.1 line one\r\n550 5.7.1 line two\r\n",
     "550|5.7.1|line one\nline two"},
    {"two replies", "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n", "250|2.1.0|Ok ;; 250|2.1.5|Ok"},
    {"pipelined mixed", "250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n451 4.3.0 try later\r\n354 go\r\n",
     "250|2.1.0|Ok ;; 550|5.1.1|unknown ;; 451|4.3.0|try later ;; 354||go"},
    {"incomplete kept", "250 ok\r\n250 par", "250||ok"},
    {"CR inside kept", "250 a\rb\r\n", "250||a\rb"},
    {"utf8 text", "250 caf\xc3\xa9\r\n", "250||caf\xc3\xa9"},
    {"code 1xx", "150 x\r\n", "ERR:bad reply code"},
    {"code 6xx", "600 x\r\n", "ERR:bad reply code"},
    {"second digit 6", "260 x\r\n", "ERR:bad reply code"},
    {"letters", "abc x\r\n", "ERR:bad reply code"},
    {"short", "25\r\n", "ERR:reply line too short"},
    {"empty line", "\r\n", "ERR:reply line too short"},
    {"bad separator", "250x ok\r\n", "ERR:bad separator after reply code"},
    {"mixed codes", "250-a\r\n251 b\r\n", "ERR:mixed reply codes in multi-line reply"},
    {"ok then mixed", "220 hi\r\n250-a\r\n550 b\r\n",
     "220||hi ;; ERR:mixed reply codes in multi-line reply"},
    {"nul", "250 a\0b\r\n", "ERR:NUL byte in reply"},
};

static void
serialise(struct buf *b, const struct smtp_reply *r)
{
	if (b->len)
		buf_adds(b, " ;; ");
	buf_printf(b, "%d|%s|", r->code, r->ecode);
	buf_add(b, r->text, r->text_len);
	assert_int_equal(strlen(r->text), r->text_len);
}

/* Feed in (n bytes) in pieces of at most step bytes, split first at 'split'. */
static void
run(const char *in, size_t n, size_t split, size_t step, struct buf *got)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	size_t off = 0;
	while (off < n) {
		size_t piece = off < split ? split - off : step;
		if (piece > n - off)
			piece = n - off;
		size_t used = 0, pos = 0;
		for (;;) {
			struct smtp_reply r;
			int rc = smtp_reply_feed(&p, in + off + pos, piece - pos, &used, &r);
			pos += used;
			if (rc < 0) {
				if (got->len)
					buf_adds(got, " ;; ");
				buf_printf(got, "ERR:%s", p.error);
				smtp_reply_parser_free(&p);
				return;
			}
			if (rc == 0)
				break;
			serialise(got, &r);
		}
		assert_int_equal(pos, piece);
		off += piece;
	}
	smtp_reply_parser_free(&p);
}

static void
test_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		/* Case "nul" holds a NUL: its length runs to the CRLF that follows. */
		size_t n = strlen(c->in);
		if (strcmp(c->label, "nul") == 0)
			n = 10;
		for (size_t split = 0; split <= n; split++) {
			for (size_t step = 1; step <= n; step += (step < 3 ? 1 : n)) {
				struct buf got = BUF_INIT;
				run(c->in, n, split, step, &got);
				if (strcmp(got.data ? got.data : "", c->want) != 0)
					fail_msg("%s (split %zu step %zu): got \"%s\" want \"%s\"",
					         c->label, split, step, got.data, c->want);
				buf_free(&got);
			}
		}
	}
}

static void
test_limits(void **state)
{
	(void)state;
	struct buf in = BUF_INIT, got = BUF_INIT;
	/* A line of exactly SMTP_REPLY_LINE_MAX bytes (CRLF included) passes. */
	buf_adds(&in, "250 ");
	while (in.len < SMTP_REPLY_LINE_MAX - 2)
		buf_addc(&in, 'x');
	buf_adds(&in, "\r\n");
	run(in.data, in.len, 0, in.len, &got);
	assert_int_equal(strncmp(got.data, "250||xxx", 8), 0);
	/* One more byte is refused, and so is a line that grows too long unterminated. */
	buf_reset(&got);
	buf_reset(&in);
	buf_adds(&in, "250 ");
	while (in.len < SMTP_REPLY_LINE_MAX - 1)
		buf_addc(&in, 'x');
	buf_adds(&in, "\r\n");
	run(in.data, in.len, 0, in.len, &got);
	assert_string_equal(got.data, "ERR:reply line too long");
	buf_reset(&got);
	in.len -= 2;
	buf_adds(&in, "xx");
	run(in.data, in.len, 0, 7, &got);
	assert_string_equal(got.data, "ERR:reply line too long");
	/* A reply over SMTP_REPLY_MAX is refused. */
	buf_reset(&got);
	buf_reset(&in);
	while (in.len <= SMTP_REPLY_MAX)
		buf_adds(&in,
		         "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	buf_adds(&in, "250 end\r\n");
	run(in.data, in.len, 0, 4096, &got);
	assert_string_equal(got.data, "ERR:reply too long");
	/* A failed parser stays failed. */
	struct smtp_reply_parser p;
	struct smtp_reply r;
	size_t used;
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_feed(&p, "xyz\r\n", 5, &used, &r), -1);
	assert_int_equal(smtp_reply_feed(&p, "250 ok\r\n", 8, &used, &r), -1);
	smtp_reply_parser_reset(&p);
	assert_int_equal(smtp_reply_feed(&p, "250 ok\r\n", 8, &used, &r), 1);
	assert_int_equal(smtp_reply_parser_pending(&p), 0);
	assert_int_equal(smtp_reply_feed(&p, "250-a\r\n", 7, &used, &r), 0);
	assert_int_equal(smtp_reply_parser_pending(&p), 1);
	smtp_reply_parser_free(&p);
	buf_free(&in);
	buf_free(&got);
}

struct ecase {
	const char *label;
	const char *in;
	int rc;
	unsigned flags;
	unsigned auth;
	uint64_t size;
};

static const struct ecase ehlo_cases[] = {
    {"postfix",
     "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
     "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
     "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
     0,
     SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_STARTTLS | SMTP_EXT_ENHANCEDSTATUSCODES |
         SMTP_EXT_8BITMIME | SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 | SMTP_EXT_CHUNKING,
     0, 10240000},
    {"greeting only", "250 mx.example.com\r\n", 0, 0, 0, 0},
    {"keyword on greeting line ignored", "250 PIPELINING\r\n", 0, 0, 0, 0},
    {"lower case", "250-x\r\n250-pipelining\r\n250 size\r\n", 0,
     SMTP_EXT_PIPELINING | SMTP_EXT_SIZE, 0, 0},
    {"auth list", "250-x\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1\r\n250 OK\r\n", 0,
     SMTP_EXT_AUTH, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_CRAM_MD5 | SMTP_AUTH_OTHER, 0},
    {"old auth=", "250-x\r\n250-AUTH=LOGIN\r\n250 AUTH xoauth2\r\n", 0, SMTP_EXT_AUTH,
     SMTP_AUTH_LOGIN | SMTP_AUTH_XOAUTH2, 0},
    {"size 0", "250-x\r\n250 SIZE 0\r\n", 0, SMTP_EXT_SIZE, 0, 0},
    {"size huge", "250-x\r\n250 SIZE 99999999999999999999999\r\n", 0, SMTP_EXT_SIZE, 0, UINT64_MAX},
    {"prefix not a match", "250-x\r\n250-PIPELININGX\r\n250 8BITMIMES\r\n", 0, 0, 0, 0},
    {"extra blanks", "250-x\r\n250- STARTTLS \r\n250 AUTH  PLAIN\r\n", 0,
     SMTP_EXT_STARTTLS | SMTP_EXT_AUTH, SMTP_AUTH_PLAIN, 0},
    {"error reply", "502 5.5.1 no EHLO\r\n", -1, 0, 0, 0},
};

static void
test_ehlo(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		const struct ecase *c = &ehlo_cases[i];
		struct smtp_reply_parser p;
		struct smtp_reply r;
		size_t used;
		smtp_reply_parser_init(&p);
		assert_int_equal(smtp_reply_feed(&p, c->in, strlen(c->in), &used, &r), 1);
		struct smtp_ehlo e = {.flags = 0xdead};
		int rc = smtp_reply_parse_ehlo(&r, &e);
		if (rc != c->rc)
			fail_msg("%s: rc got %d want %d", c->label, rc, c->rc);
		if (rc == 0 && (e.flags != c->flags || e.auth != c->auth || e.size_max != c->size))
			fail_msg("%s: got flags=%#x auth=%#x size=%llu want flags=%#x auth=%#x "
			         "size=%llu",
			         c->label, e.flags, e.auth, (unsigned long long)e.size_max,
			         c->flags, c->auth, (unsigned long long)c->size);
		if (rc < 0)
			assert_int_equal(e.flags, 0xdead);
		smtp_reply_parser_free(&p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_ehlo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
