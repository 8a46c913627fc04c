/* test_mime - header encoding, bodies, whole messages (golden files), Python's email check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kirim/buf.h"
#include "kirim/mime.h"

#define LEN_STR ((size_t)-1) /* length is strlen(input) */

/* show - printable form of n bytes for failure messages (static buffer, one at a time) */
static const char *
show(const char *s, size_t n)
{
	static struct buf b;
	buf_reset(&b);
	if (!s)
		return "(null)";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			buf_adds(&b, "\\r");
		else if (c == '\n')
			buf_adds(&b, "\\n\n");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_addc(&b, (char)c);
	}
	return b.data ? b.data : "";
}

static void
expect_bytes(const char *label, const char *got, size_t gotn, const char *want, size_t wantn)
{
	if (gotn == wantn && memcmp(got, want, gotn) == 0)
		return;
	print_error("%s:\n--- got:\n%s\n", label, show(got, gotn));
	print_error("--- want:\n%s\n", show(want, wantn));
	fail();
}

/*
 * check_lines - the rules every output obeys: CRLF only, lines <= 998. With
 * header set, the bytes are header fields: every line is "Name: ..." or a
 * folded continuation that is not blank.
 */
static void
check_lines(const char *label, const char *s, size_t n, int header)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
			print_error("%s: bare LF at %zu in\n%s\n", label, i, show(s, n));
			fail();
		}
		if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n')) {
			print_error("%s: bare CR at %zu in\n%s\n", label, i, show(s, n));
			fail();
		}
		if (s[i] != '\n')
			continue;
		size_t len = i - 1 - start;
		if (len > MIME_LINE_MAX) {
			print_error("%s: line of %zu octets\n", label, len);
			fail();
		}
		if (header) {
			const char *l = s + start;
			if (l[0] == ' ') {
				size_t k = 0;
				while (k < len && l[k] == ' ')
					k++;
				if (start == 0 || k == len) {
					print_error("%s: bad continuation line in\n%s\n", label,
					            show(s, n));
					fail();
				}
			} else {
				size_t k = 0;
				while (k < len && l[k] > 0x20 && l[k] < 0x7f && l[k] != ':')
					k++;
				if (k == 0 || k == len || l[k] != ':') {
					print_error("%s: not a header line in\n%s\n", label,
					            show(s, n));
					fail();
				}
			}
		}
		start = i + 1;
	}
	if (n && start != n) {
		print_error("%s: output does not end in CRLF\n", label);
		fail();
	}
}

/* count_fields - lines that start a header field (not continuations) */
static size_t
count_fields(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || s[i - 1] == '\n') && s[i] != ' ')
			k++;
	return k;
}

/* ---- unstructured header fields ---- */

struct header_case {
	const char *label;
	const char *name;
	const char *value;
	size_t len;
	const char *want; /* NULL: the call must fail */
};

static const struct header_case header_cases[] = {
    {"ascii", "Subject", "Hello world", LEN_STR, "Subject: Hello world\r\n"},
    {"empty", "Subject", "", LEN_STR, "Subject:\r\n"},
    {"only blanks and breaks", "Subject", "  \r\n ", LEN_STR, "Subject:\r\n"},
    {"trimmed", "Subject", "  padded  ", LEN_STR, "Subject: padded\r\n"},
    {"inner blanks kept", "Subject", "a  b   c", LEN_STR, "Subject: a  b   c\r\n"},
    {"utf-8 latin uses Q", "Subject", "H\xc3\xa9llo w\xc3\xb6rld", LEN_STR,
     "Subject: =?utf-8?q?H=C3=A9llo_w=C3=B6rld?=\r\n"},
    {"utf-8 cjk uses B", "Subject",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
     LEN_STR, "Subject: =?utf-8?b?5pel5pys6Kqe44Gu44OG44K544OI?=\r\n"},
    {"CRLF injection", "Subject", "Hi\r\nBcc: victim@example.com", LEN_STR,
     "Subject: Hi  Bcc: victim@example.com\r\n"},
    {"LF injection", "Subject", "Hi\nBcc: victim@example.com", LEN_STR,
     "Subject: Hi Bcc: victim@example.com\r\n"},
    {"CR injection", "Subject", "Hi\rX-Evil: 1", LEN_STR, "Subject: Hi X-Evil: 1\r\n"},
    {"NUL injection", "Subject", "Hi\0\r\nX-Evil: 1", 15, "Subject: Hi   X-Evil: 1\r\n"},
    {"injection at end", "Subject", "Hi\r\n", LEN_STR, "Subject: Hi\r\n"},
    {"injection with folding lookalike", "Subject", "Hi\r\n X-Evil: 1", LEN_STR,
     "Subject: Hi   X-Evil: 1\r\n"},
    {"tab and DEL", "Subject",
     "a\tb\x7f"
     "c",
     LEN_STR, "Subject: a b c\r\n"},
    {"utf-8 with CRLF injection", "Subject", "\xc3\xa9\r\nBcc: x@y", LEN_STR,
     "Subject: =?utf-8?q?=C3=A9__Bcc=3A_x=40y?=\r\n"},
    {"encoded-word lookalike", "Subject", "=?utf-8?q?hi?=", LEN_STR,
     "Subject: =?utf-8?b?PT91dGYtOD9xP2hpPz0=?=\r\n"},
    {"invalid utf-8 becomes U+FFFD", "Subject", "bad \xff byte", LEN_STR,
     "Subject: =?utf-8?q?bad_=EF=BF=BD_byte?=\r\n"},
    {"truncated utf-8", "Subject", "x\xe6\x97", LEN_STR, "Subject: =?utf-8?b?eO+/ve+/vQ==?=\r\n"},
    {"long ascii folds at blanks", "Subject",
     "This is a rather long subject line that will certainly need folding somewhere along "
     "the way, twice or more, when the line goes on and on and on past column 78",
     LEN_STR,
     "Subject: This is a rather long subject line that will certainly need folding\r\n"
     " somewhere along the way, twice or more, when the line goes on and on and on\r\n"
     " past column 78\r\n"},
    {"long utf-8 splits between characters", "Subject",
     "\xc3\x9cn\xc3\xaf"
     "c\xc3\xb6"
     "d\xc3\xa9 s\xc3\xbc"
     "bj\xc3\xa9"
     "ct th\xc3\xa4t is "
     "l\xc3\xb6ng enough to need several encoded words, folded with CRLF SP and never "
     "split \xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
     LEN_STR,
     "Subject: =?utf-8?q?=C3=9Cn=C3=AFc=C3=B6d=C3=A9_s=C3=BCbj=C3=A9ct_th=C3=A4t_?=\r\n"
     " =?utf-8?q?is_l=C3=B6ng_enough_to_need_several_encoded_words=2C_folded_?=\r\n"
     " =?utf-8?q?with_CRLF_SP_and_never_split_?=\r\n"
     " =?utf-8?q?=F0=9F=98=80=F0=9F=98=80=F0=9F=98=80?=\r\n"},
    {"long word splits between characters", "Subject",
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9"
     "abcdefgh\xc3\xa9",
     LEN_STR,
     "Subject: =?utf-8?q?abcdefgh=C3=A9abcdefgh=C3=A9abcdefgh=C3=A9abcdefgh=C3=A9a?=\r\n"
     " =?utf-8?q?bcdefgh=C3=A9abcdefgh=C3=A9abcdefgh=C3=A9abcdefgh=C3=A9?=\r\n"},
    {"long name leaves a short first word", "X-A-Very-Long-Header-Name-For-Testing-Purposes-Only",
     "\xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9", LEN_STR,
     "X-A-Very-Long-Header-Name-For-Testing-Purposes-Only: =?utf-8?b?w6l0w6kgw6l0w6kg?=\r\n"
     " =?utf-8?b?w6l0w6k=?=\r\n"},
    {"custom value", "X-Campaign", "spring-2024 / batch 7", LEN_STR,
     "X-Campaign: spring-2024 / batch 7\r\n"},
    {"name with space", "X Bad", "v", LEN_STR, NULL},
    {"name with colon", "X:Bad", "v", LEN_STR, NULL},
    {"name with CRLF", "X\r\nBcc", "v", LEN_STR, NULL},
    {"name with utf-8", "X-\xc3\xa9", "v", LEN_STR, NULL},
    {"empty name", "", "v", LEN_STR, NULL},
    {"name too long",
     "X-0123456789012345678901234567890123456789012345678901234567890123456789abcde", "v", LEN_STR,
     NULL},
};

static void
test_header_encode(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		const struct header_case *c = &header_cases[i];
		size_t len = c->len == LEN_STR ? strlen(c->value) : c->len;
		buf_reset(&b);
		int rc = mime_header_encode(&b, c->name, c->value, len);
		if (!c->want) {
			if (rc != -1 || b.len != 0) {
				print_error("%s: want -1 and no output, got %d:\n%s\n", c->label,
				            rc, show(b.data, b.len));
				fail();
			}
			continue;
		}
		if (rc != 0) {
			print_error("%s: got %d, want 0\n", c->label, rc);
			fail();
		}
		expect_bytes(c->label, b.data, b.len, c->want, strlen(c->want));
		check_lines(c->label, b.data, b.len, 1);
		assert_int_equal(count_fields(b.data, b.len), 1);
	}
	buf_free(&b);
}

/* Every encoded-word is at most 75 characters and every line at most 78 here. */
static void
test_header_limits(void **state)
{
	(void)state;
	struct buf b = BUF_INIT, v = BUF_INIT;
	static const char *pieces[] = {
	    "a", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", " ", "=", "?", "_", "\"", "\r\n"};
	unsigned seed = 1;
	for (int round = 0; round < 400; round++) {
		buf_reset(&v);
		buf_reset(&b);
		int n = round % 200;
		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			buf_adds(&v, pieces[(seed >> 16) % 10]);
		}
		assert_int_equal(mime_header_encode(&b, "Subject", v.data ? v.data : "", v.len), 0);
		check_lines("random subject", b.data, b.len, 1);
		assert_int_equal(count_fields(b.data, b.len), 1);
		for (const char *p = b.data; (p = strstr(p, "=?utf-8?")) != NULL;) {
			const char *e = strstr(p + 10, "?=");
			assert_non_null(e);
			if (e + 2 - p > 75) {
				print_error("encoded-word of %d chars in\n%s\n", (int)(e + 2 - p),
				            show(b.data, b.len));
				fail();
			}
			p = e + 2;
		}
		for (const char *p = b.data; *p;) {
			const char *e = strstr(p, "\r\n");
			if (e - p > MIME_LINE_SOFT) {
				print_error("line of %d in\n%s\n", (int)(e - p),
				            show(b.data, b.len));
				fail();
			}
			p = e + 2;
		}
	}
	/* A 5000-byte word cannot stay on one line: it goes to encoded-words. */
	buf_reset(&v);
	buf_reset(&b);
	for (int k = 0; k < 5000; k++)
		buf_addc(&v, (char)('a' + k % 26));
	assert_int_equal(mime_header_encode(&b, "X-Long", v.data, v.len), 0);
	check_lines("long word", b.data, b.len, 1);
	assert_non_null(strstr(b.data, "=?utf-8?q?"));
	/* A 5000-byte run of blanks between words likewise. */
	buf_reset(&v);
	buf_reset(&b);
	buf_adds(&v, "a");
	for (int k = 0; k < 5000; k++)
		buf_addc(&v, ' ');
	buf_adds(&v, "b");
	assert_int_equal(mime_header_encode(&b, "X-Long", v.data, v.len), 0);
	check_lines("long blank run", b.data, b.len, 1);
	buf_free(&v);
	buf_free(&b);
}

/* ---- address fields ---- */

struct addr_case {
	const char *label;
	const char *display;
	const char *addr;
	const char *want; /* NULL: the call must fail */
};

static const struct addr_case addr_cases[] = {
    {"bare address", NULL, "a@example.com", "From: a@example.com\r\n"},
    {"blank display", " \r\n", "a@example.com", "From: a@example.com\r\n"},
    {"atoms", "John Smith", "a@example.com", "From: John Smith <a@example.com>\r\n"},
    {"comma is quoted", "Smith, John", "a@example.com",
     "From: \"Smith, John\" <a@example.com>\r\n"},
    {"quotes are escaped", "John \"Q\" Public", "a@example.com",
     "From: \"John \\\"Q\\\" Public\" <a@example.com>\r\n"},
    {"backslash is escaped", "back\\slash", "a@example.com",
     "From: \"back\\\\slash\" <a@example.com>\r\n"},
    {"dot is quoted", "John Q. Public", "a@example.com",
     "From: \"John Q. Public\" <a@example.com>\r\n"},
    {"angle brackets quoted", "Bob <boss@example.com>", "a@example.com",
     "From: \"Bob <boss@example.com>\" <a@example.com>\r\n"},
    {"double blank quoted", "Ann  Lee", "a@example.com", "From: \"Ann  Lee\" <a@example.com>\r\n"},
    {"utf-8", "J\xc3\xb6hn Sm\xc3\xafth", "a@example.com",
     "From: =?utf-8?q?J=C3=B6hn_Sm=C3=AFth?= <a@example.com>\r\n"},
    {"utf-8 with comma and quote", "\xc3\x89mile, \"the\" boss", "a@example.com",
     "From: =?utf-8?q?=C3=89mile=2C_=22the=22_boss?= <a@example.com>\r\n"},
    {"CRLF injection", "Evil\r\nBcc: x@y.com", "a@example.com",
     "From: \"Evil  Bcc: x@y.com\" <a@example.com>\r\n"},
    {"NUL injection", "Evil\0Bcc", "a@example.com", "From: Evil <a@example.com>\r\n"},
    {"encoded-word lookalike", "=?utf-8?q?x?=", "a@example.com",
     "From: =?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= <a@example.com>\r\n"},
    {"quoted local part", "Ann", "\"a b\"@example.com", "From: Ann <\"a b\"@example.com>\r\n"},
    {"address literal", NULL, "a@[192.0.2.1]", "From: a@[192.0.2.1]\r\n"},
    {"long quoted name folds inside quotes",
     "A very long display name, with a comma, that goes on and on past the seventy-eighth column",
     "someone.with.a.long.address@subdomain.example.com",
     "From: \"A very long display name, with a comma, that goes on and on past the\r\n"
     " seventy-eighth column\" <someone.with.a.long.address@subdomain.example.com>\r\n"},
    {"no @", "Ann", "no-at", NULL},
    {"CRLF in address", "Ann", "a@b.com\r\nBcc: c@d.com", NULL},
    {"LF in address", "Ann", "a@b.com\nBcc: c@d.com", NULL},
    {"angle brackets in address", "Ann", "<a@b.com>", NULL},
    {"blank in address", "Ann", "a b@c.com", NULL},
    {"two addresses", "Ann", "a@b.com,c@d.com", NULL},
    {"empty local part", "Ann", "@b.com", NULL},
    {"empty domain", "Ann", "a@", NULL},
    {"unterminated quote", "Ann", "\"a@b.com", NULL},
    {"invalid utf-8", "Ann", "\xff@b.com", NULL},
    {"missing", "Ann", NULL, NULL},
};

static void
test_addr_encode(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
		const struct addr_case *c = &addr_cases[i];
		buf_reset(&b);
		int rc = mime_addr_encode(&b, "From", c->display, c->addr);
		if (!c->want) {
			if (rc != -1 || b.len != 0) {
				print_error("%s: want -1 and no output, got %d:\n%s\n", c->label,
				            rc, show(b.data, b.len));
				fail();
			}
			continue;
		}
		if (rc != 0) {
			print_error("%s: got %d, want 0\n", c->label, rc);
			fail();
		}
		expect_bytes(c->label, b.data, b.len, c->want, strlen(c->want));
		check_lines(c->label, b.data, b.len, 1);
		assert_int_equal(count_fields(b.data, b.len), 1);
	}
	buf_free(&b);
}

/* ---- custom header names ---- */

struct name_case {
	const char *name;
	int want;
};

static const struct name_case name_cases[] = {
    {"X-Campaign", 0},
    {"List-Id", 0},
    {"Precedence", 0},
    {"X-Mailer", 0},
    {"In-Reply-To", 0},
    {"X-\x21~", 0},
    {"", -1},
    {"X Campaign", -1},
    {"X-Campaign:", -1},
    {"X-Camp\taign", -1},
    {"X-Camp\r\naign", -1},
    {"X-\xc3\xa9", -1},
    {"From", -1},
    {"from", -1},
    {"TO", -1},
    {"Cc", -1},
    {"Bcc", -1},
    {"Subject", -1},
    {"Date", -1},
    {"Message-ID", -1},
    {"message-id", -1},
    {"MIME-Version", -1},
    {"Content-Type", -1},
    {"content-transfer-encoding", -1},
    {"Content-Disposition", -1},
    {"DKIM-Signature", -1},
    {"Return-Path", -1},
    {"Received", -1},
    {"Reply-To", -1},
    {"Sender", -1},
    {"List-Unsubscribe", -1},
    {"List-Unsubscribe-Post", -1},
    {"Feedback-ID", -1},
    {"Resent-From", -1},
    {"ARC-Seal", -1},
    {"X-0123456789012345678901234567890123456789012345678901234567890123456789abcde", -1},
};

static void
test_header_name_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		const char *why = NULL;
		int rc = mime_header_name_check(name_cases[i].name, &why);
		if (rc != name_cases[i].want) {
			print_error("name \"%s\": got %d want %d\n",
			            show(name_cases[i].name, strlen(name_cases[i].name)), rc,
			            name_cases[i].want);
			fail();
		}
		if (rc < 0 && (!why || !why[0])) {
			print_error("name \"%s\": no reason\n", name_cases[i].name);
			fail();
		}
	}
}

/* ---- bodies ---- */

struct body_case {
	const char *label;
	const char *in;
	size_t len;
	enum mime_cte want_cte;
	const char *want;
};

#define A10 "aaaaaaaaaa"
#define A50 A10 A10 A10 A10 A10
#define A100 A50 A50
#define A500 A100 A100 A100 A100 A100
#define A998 A500 A100 A100 A100 A100 A50 A10 A10 A10 A10 "aaaaaaaa"
#define Q75 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct body_case body_cases[] = {
    {"7bit crlf", "Hello\r\nWorld\r\n", LEN_STR, MIME_7BIT, "Hello\r\nWorld\r\n"},
    {"7bit keeps = and trailing blanks", "a=b \r\n", LEN_STR, MIME_7BIT, "a=b \r\n"},
    {"bare LF", "a\nb\n", LEN_STR, MIME_7BIT, "a\r\nb\r\n"},
    {"lone CR", "a\rb", LEN_STR, MIME_7BIT, "a\r\nb\r\n"},
    {"mixed breaks", "a\r\n\rb\n\nc\r", LEN_STR, MIME_7BIT, "a\r\n\r\nb\r\n\r\nc\r\n"},
    {"LF CR is two breaks", "a\n\rb", LEN_STR, MIME_7BIT, "a\r\n\r\nb\r\n"},
    {"final break added", "abc", LEN_STR, MIME_7BIT, "abc\r\n"},
    {"empty", "", 0, MIME_7BIT, ""},
    {"998-octet line is 7bit", A998 "\n", LEN_STR, MIME_7BIT, A998 "\r\n"},
    {"999-octet line is QP", A998 "a\n", LEN_STR, MIME_QP,
     Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75
         "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n" Q75 "=\r\n"
         "aaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
    {"QP equals sign", "caf\xc3\xa9 = ok, a=b and more ascii text\n", LEN_STR, MIME_QP,
     "caf=C3=A9 =3D ok, a=3Db and more ascii text\r\n"},
    {"QP trailing blanks", "caf\xc3\xa9 \nsome ascii text here\t\nend  \n", LEN_STR, MIME_QP,
     "caf=C3=A9=20\r\nsome ascii text here=09\r\nend =20\r\n"},
    {"QP bare LF and lone CR", "d\xc3\xa9j\xc3\xa0 vu, once more\nline two\rline three", LEN_STR,
     MIME_QP, "d=C3=A9j=C3=A0 vu, once more\r\nline two\r\nline three\r\n"},
    {"QP NUL, DEL and controls",
     "nul\0del\x7f"
     "esc\x1b and then plenty of plain text",
     42, MIME_QP, "nul=00del=7Fesc=1B and then plenty of plain text\r\n"},
    {"QP escape never split by a soft break",
     "\xc3\xa9" A50 "aaaaaaaaaaaaaaaaaaa"
     "\xc3\xa9\xc3\xa9" A100 "\n",
     LEN_STR, MIME_QP,
     "=C3=A9" A50 "aaaaaaaaaaaaaaaaaaa=\r\n"
     "=C3=A9=C3=A9" A50 "aaaaaaaaaaaaa=\r\n" A10 A10 A10 "aaaaaaa\r\n"},
    {"QP blank before soft break stays", "\xc3\xa9" A50 A10 "aaaaaaaa tail\n", LEN_STR, MIME_QP,
     "=C3=A9" A50 A10 "aaaaaaaa =\r\ntail\r\n"},
    {"base64 when mostly non-ASCII", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n", LEN_STR, MIME_BASE64,
     "5pel5pys6KqeDQo=\r\n"},
    {"base64 normalises breaks first", "\xc3\xa9\xc3\xa9\r\xc3\xa9", LEN_STR, MIME_BASE64,
     "w6nDqQ0Kw6kNCg==\r\n"},
    {"base64 76-character lines",
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
     LEN_STR, MIME_BASE64,
     "w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nD\r\n"
     "qcOpDQo=\r\n"},
};

static void
test_body(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
		const struct body_case *c = &body_cases[i];
		size_t len = c->len == LEN_STR ? strlen(c->in) : c->len;
		enum mime_cte cte = mime_body_choose(c->in, len);
		if (cte != c->want_cte) {
			print_error("%s: got %s want %s\n", c->label, mime_cte_name(cte),
			            mime_cte_name(c->want_cte));
			fail();
		}
		buf_reset(&b);
		mime_body_encode(&b, c->in, len, cte);
		expect_bytes(c->label, b.data, b.len, c->want, strlen(c->want));
		check_lines(c->label, b.data, b.len, 0);
	}
	/* Asking for 7bit where it does not fit still gives legal lines. */
	buf_reset(&b);
	mime_body_encode(&b, "caf\xc3\xa9\n", 6, MIME_7BIT);
	expect_bytes("7bit refused", b.data, b.len, "caf=C3=A9\r\n", 11);
	buf_free(&b);
}

/*
 * Quoted-printable asked for, whatever the body: the places where the
 * encoder's fast path could go wrong (a line that ends exactly at column 75 or
 * 76, "=XX" at the edge, blanks before a break, every kind of break, 8-bit
 * lines, a CRLF or a blank before a break across the 63-byte blocks it scans,
 * and across the end of the part it encodes in place, at 189 bytes in a
 * 300-byte body). Each want is the byte loop's output, and Python's quopri
 * decodes it back to the input.
 */
static const struct {
	const char *label, *in, *want;
} qp_cases[] = {
    {"empty", "", ""},
    {"75 columns, then a break", "\xc3\xa9" A50 A10 "aaaaaaaaa\n",
     "=C3=A9" A50 A10 "aaaaaaaaa\r\n"},
    {"76 columns: a soft break", "\xc3\xa9" A50 A10 A10 "\n",
     "=C3=A9" A50 A10 "aaaaaaaaa=\r\n"
     "a\r\n"},
    {"=XX ending at column 75", "\xc3\xa9" A50 A10 "aaaaaa=\n", "=C3=A9" A50 A10 "aaaaaa=3D\r\n"},
    {"=XX that would end at 76 goes on", "\xc3\xa9" A50 A10 "aaaaaaa=\n",
     "=C3=A9" A50 A10 "aaaaaaa=\r\n"
     "=3D\r\n"},
    {"= last on a line", "a=\nb",
     "a=3D\r\n"
     "b\r\n"},
    {"SP before a break at column 72", "\xc3\xa9" A50 A10 "aaaaaa \n",
     "=C3=A9" A50 A10 "aaaaaa=20\r\n"},
    {"TAB before a break at column 74", "\xc3\xa9" A50 A10 "aaaaaaaa\t\n",
     "=C3=A9" A50 A10 "aaaaaaaa=\r\n"
     "=09\r\n"},
    {"SP before a break at column 75", "\xc3\xa9" A50 A10 "aaaaaaaaa \n",
     "=C3=A9" A50 A10 "aaaaaaaaa=\r\n"
     "=20\r\n"},
    {"blanks at the very end", "a \t", "a =09\r\n"},
    {"CRLF, LF and CR are one break each", "a\r\nb\nc\rd\r",
     "a\r\n"
     "b\r\n"
     "c\r\n"
     "d\r\n"},
    {"CR CR LF is two breaks", "a\r\r\nb",
     "a\r\n"
     "\r\n"
     "b\r\n"},
    {"blanks before CRLF", "a \r\nb\t\r\n",
     "a=20\r\n"
     "b=09\r\n"},
    {"a long line of 8-bit text",
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n",
     "=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=\r\n"
     "=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=\r\n"
     "=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=\r\n"
     "=A9=C3=A9=C3=A9\r\n"},
    {"3-byte characters",
     "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82"
     "\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2"
     "\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
     "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
     "=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=\r\n"
     "=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=\r\n"
     "=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=\r\n"
     "=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC\r\n"},
    {"CRLF across a 63-byte block", A50 A10 "aa\r\n" A100 "\xc3\xa9\n",
     A50 A10 "aa\r\n" A50 A10 A10 "aaaaa=\r\n" A10 A10 "aaaaa=C3=A9\r\n"},
    {"SP CRLF across a 63-byte block", A50 A10 "a \r\n" A100 A50 "\n",
     A50 A10 "a=20\r\n" A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa\r\n"},
    {"CRLF across the in-place part's end", A100 A50 A10 A10 A10 "aaaaaaaa\r\n" A100 A10,
     A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa=\r\n" A10 A10 A10 "aaaaaaaa\r\n" A50 A10 A10
                 "aaaaa=\r\n" A10 A10 A10 "aaaaa\r\n"},
    {"SP before a LF across the in-place part's end", A100 A50 A10 A10 A10 "aaaaaaaa \n" A100 A10,
     A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa=\r\n" A10 A10 A10 "aaaaaaaa=20\r\n" A50 A10 A10
                 "aaaaa=\r\n" A10 A10 A10 "aaaaa\r\n"},
    {"a final blank in a long body", A100 A50 "=" A100 A10 A10 A10 A10 "aaaaaaaa ",
     A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa=\r\n"
                 "=3D" A50 A10 A10 "aa=\r\n" A50 A10 A10 "aaaaa=\r\n"
                 "a=20\r\n"},
    {"a final CR in a long body", A100 A100 A50 A10 A10 A10 A10 "aaaaaaaaa\r",
     A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa=\r\n" A50 A10 A10 "aaaaa=\r\n" A50 A10 A10
                 "aaaa\r\n"},
};

static void
test_body_qp(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof qp_cases / sizeof qp_cases[0]; i++) {
		buf_reset(&b);
		mime_body_encode(&b, qp_cases[i].in, strlen(qp_cases[i].in), MIME_QP);
		expect_bytes(qp_cases[i].label, b.data ? b.data : "", b.len, qp_cases[i].want,
		             strlen(qp_cases[i].want));
		check_lines(qp_cases[i].label, b.data ? b.data : "", b.len, 0);
	}
	buf_free(&b);
}

/* The browser view's body: what a reader of the message decodes the part to. */
static void
test_body_crlf(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
	    {"empty", "", ""},
	    {"no final break", "a", "a\r\n"},
	    {"bare LF", "a\nb", "a\r\nb\r\n"},
	    {"CRLF kept", "a\r\n", "a\r\n"},
	    {"bare CR", "a\rb\r", "a\r\nb\r\n"},
	    {"empty lines", "\n\n", "\r\n\r\n"},
	    {"8-bit as is", "caf\xc3\xa9\n", "caf\xc3\xa9\r\n"},
	};
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&b);
		buf_adds(&b, "x"); /* appended to what the buffer holds */
		mime_body_crlf(&b, cases[i].in, strlen(cases[i].in));
		expect_bytes(cases[i].label, b.data + 1, b.len - 1, cases[i].want,
		             strlen(cases[i].want));
	}
	buf_free(&b);
}

/*
 * Random bodies of up to 300 bytes (lines of any length, CRLF, bare CR and bare
 * LF, 8-bit bytes, breaks across the encoder's 16-byte steps) against line
 * breaks made CRLF by hand, through mime_body_crlf and through a 7bit part.
 */
static void
test_body_crlf_random(void **state)
{
	(void)state;
	static const char alphabet[] = {'\r', '\n', 'a', 'b', ' ', '.', (char)0xe9};
	struct buf b = BUF_INIT, want = BUF_INIT;
	srand(4242);
	for (int round = 0; round < 20000; round++) {
		char in[300];
		size_t n = (size_t)(rand() % (int)sizeof in), brk = (size_t)(rand() % 40) + 1;
		for (size_t i = 0; i < n; i++)
			in[i] = rand() % (int)brk == 0 ? alphabet[rand() % 2]
			                               : alphabet[2 + rand() % 5];
		buf_reset(&want);
		for (size_t i = 0; i < n; i++) {
			if (in[i] == '\r' || in[i] == '\n') {
				buf_add(&want, "\r\n", 2);
				if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
					i++;
			} else {
				buf_addc(&want, in[i]);
			}
		}
		if (n && in[n - 1] != '\r' && in[n - 1] != '\n')
			buf_add(&want, "\r\n", 2);
		char label[32];
		snprintf(label, sizeof label, "random %d", round);
		buf_reset(&b);
		buf_adds(&b, "x");
		mime_body_crlf(&b, in, n);
		expect_bytes(label, b.data + 1, b.len - 1, want.data ? want.data : "", want.len);
		buf_reset(&b);
		mime_body_encode(&b, in, n, MIME_7BIT);
		if (mime_body_choose(in, n) == MIME_7BIT)
			expect_bytes(label, b.data, b.len, want.data ? want.data : "", want.len);
	}
	buf_free(&b);
	buf_free(&want);
}

/* ---- whole messages ---- */

static const struct mime_header golden_headers[] = {
    {"X-Campaign", "spring-2024"},
    {"X-Note", "caf\xc3\xa9 cr\xc3\xa8me \"special\"\r\nBcc: evil@example.net"},
    {"Precedence", "bulk"},
};

#define SIMPLE_TEXT "Hi Ann,\n\nThis is plain ASCII.\n"
#define ALT_TEXT "Hello J\xc3\xb6rg,\r\n\r\nOur spring offer: 20% off = a good deal.\r\n"
#define JP_TEXT "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n"
#define INJ_HTML "<p>only html</p>"
#define LONG_TEXT                                                                                  \
	"A line that is longer than seventy-eight characters but well under the limit of 998 "     \
	"octets stays as it is in 7bit.\n"
#define LONG_HTML                                                                                  \
	"<p style=\"margin:0;padding:0;font-family:Helvetica,Arial,sans-serif;font-size:16px;"     \
	"line-height:24px;color:#333333\">Caf\xc3\xa9 \xe2\x80\x94 a long HTML line with "         \
	"non-ASCII text goes quoted-printable with soft breaks.</p>\n"

static const struct mime_header long_headers[] = {
    {"X-Long-Value", "one two three four five six seven eight nine ten eleven twelve thirteen "
                     "fourteen fifteen sixteen seventeen eighteen nineteen twenty"},
};

#define HTML_BODY                                                                                  \
	"<!doctype html>\n<html><body>\n<p>Hello J\xc3\xb6rg,</p>\n<p>Our <b>spring</b> "          \
	"offer: 20% off = a good deal.</p>\n</body></html>\n"

static const struct mime_msg golden_msgs[] = {
    {
        .from_addr = "news@example.com",
        .to_addr = "ann@example.org",
        .subject = "Hello",
        .text = SIMPLE_TEXT,
        .text_len = sizeof SIMPLE_TEXT - 1,
        .msgid_local = "1f3a.1",
        .domain = "example.com",
        .date = 1700000000,
    },
    {
        .from_name = "Kirim News",
        .from_addr = "news@example.com",
        .to_name = "J\xc3\xb6rg M\xc3\xbcller",
        .to_addr = "jorg@example.de",
        .reply_to = "help@example.com",
        .subject = "Spring offer for J\xc3\xb6rg \xf0\x9f\x8c\xb7",
        .text = ALT_TEXT,
        .text_len = sizeof ALT_TEXT - 1,
        .html = HTML_BODY,
        .html_len = sizeof HTML_BODY - 1,
        .msgid_local = "c42.r1001",
        .domain = "example.com",
        .list_unsub_url = "https://example.com/u/c42/r1001?t=abc",
        .list_unsub_mailto = "unsub+c42.r1001@example.com",
        .feedback_id = "c42:spring:kirim",
        .date = 1711962000,
        .tz_minutes = 420,
        .headers = golden_headers,
        .n_headers = 3,
    },
    {
        .from_name = "Shop",
        .from_addr = "shop@example.com",
        .to_addr = "taro@example.jp",
        .subject = "\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89\xe3\x81\x9b",
        .text = JP_TEXT,
        .text_len = sizeof JP_TEXT - 1,
        .msgid_local = "jp.7",
        .domain = "example.com",
        .list_unsub_mailto = "mailto:unsub@example.com",
        .date = 1704067199,
        .tz_minutes = -330,
    },
    {
        .from_name = "Evil\r\nBcc: victim@example.net",
        .from_addr = "a@example.com",
        .to_name = "\"Quoted\", Name\\",
        .to_addr = "b@example.com",
        .subject = "Hi\r\nBcc: victim@example.net\r\n\r\nbody?",
        .html = INJ_HTML,
        .html_len = sizeof INJ_HTML - 1,
        .msgid_local = "inj",
        .domain = "example.com",
        .list_unsub_url = "http://example.com/u",
        .date = 0,
    },
    {
        .from_name = "A very long display name, with a comma, that goes on and on past the "
                     "seventy-eighth column",
        .from_addr = "someone.with.a.long.address@subdomain.example.com",
        .to_name = "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e \xe6\xa7\x98 "
                   "(\xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe "
                   "\xe3\x82\xb5\xe3\x83\xb3\xe3\x83\x97\xe3\x83\xab "
                   "\xe5\x96\xb6\xe6\xa5\xad\xe9\x83\xa8)",
        .to_addr = "taro.yamada@example.jp",
        .subject = "Your weekly digest: twelve new articles about email deliverability, "
                   "DKIM, DMARC, one-click unsubscribe and why bounce handling matters "
                   "more than you think",
        .text = LONG_TEXT,
        .text_len = sizeof LONG_TEXT - 1,
        .html = LONG_HTML,
        .html_len = sizeof LONG_HTML - 1,
        .msgid_local = "digest.2024-w14.r77",
        .domain = "mail.example.com",
        .list_unsub_url = "https://mail.example.com/unsubscribe/one-click/"
                          "eyJjIjo0MiwiciI6NzcsInQiOiJhYmNkZWYwMTIzNDU2Nzg5In0",
        .list_unsub_mailto = "mailto:unsubscribe+digest.2024-w14.r77@mail.example.com"
                             "?subject=unsubscribe",
        .feedback_id = "digest-2024-w14:weekly:tenant-123:kirim",
        .date = 1712000000,
        .tz_minutes = 60,
        .headers = long_headers,
        .n_headers = 1,
    },
};

static const char *const golden_names[] = {"simple_text", "alternative", "base64_text", "injection",
                                           "long_headers"};

static const char *
testdata(void)
{
	const char *d = getenv("KIRIM_TESTDATA");
	return d && d[0] ? d : "tests/data";
}

static char *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t k;
	while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, k);
	fclose(f);
	*n = b.len;
	return b.data ? b.data : calloc(1, 1);
}

static void
write_file(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Golden files: exact bytes. KIRIM_UPDATE_GOLDEN=1 rewrites them (then review the diff). */
static void
test_golden(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char err[200], path[4096];
	for (size_t i = 0; i < sizeof golden_msgs / sizeof golden_msgs[0]; i++) {
		buf_reset(&b);
		if (mime_build(&golden_msgs[i], &b, err, sizeof err) != 0) {
			print_error("%s: mime_build failed: %s\n", golden_names[i], err);
			fail();
		}
		check_lines(golden_names[i], b.data, b.len, 0);
		snprintf(path, sizeof path, "%s/mime/%s.out", testdata(), golden_names[i]);
		if (getenv("KIRIM_UPDATE_GOLDEN")) {
			write_file(path, b.data, b.len);
			continue;
		}
		size_t n = 0;
		char *want = read_file(path, &n);
		if (!want) {
			print_error("%s: cannot read %s\n", golden_names[i], path);
			fail();
		}
		expect_bytes(golden_names[i], b.data, b.len, want, n);
		free(want);
	}
	buf_free(&b);
}

/* The same inputs always give the same bytes, and appending keeps what was there. */
static void
test_deterministic(void **state)
{
	(void)state;
	struct buf a = BUF_INIT, b = BUF_INIT;
	buf_adds(&b, "prefix");
	assert_int_equal(mime_build(&golden_msgs[1], &a, NULL, 0), 0);
	assert_int_equal(mime_build(&golden_msgs[1], &b, NULL, 0), 0);
	assert_int_equal(b.len, a.len + 6);
	assert_memory_equal(b.data + 6, a.data, a.len);
	buf_free(&a);
	buf_free(&b);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#define BASE                                                                                       \
	.from_addr = "a@example.com", .to_addr = "b@example.com", .subject = "s", .text = "t",     \
	.text_len = 1, .msgid_local = "id", .domain = "example.com", .date = 1700000000

struct build_err_case {
	const char *label;
	struct mime_msg m;
	const char *want; /* part of the error text */
};

static const struct mime_header bad_name[] = {{"X Bad", "v"}};
static const struct mime_header reserved_name[] = {{"X-Ok", "v"}, {"Content-Type", "text/evil"}};
static const struct mime_header crlf_name[] = {{"X-A\r\nBcc", "v"}};
static const struct mime_header dkim_name[] = {{"dkim-signature", "v=1"}};

static const struct build_err_case build_err_cases[] = {
    {"no from", {BASE, .from_addr = NULL}, "From"},
    {"bad from", {BASE, .from_addr = "a@b.com\r\nBcc: c@d.com"}, "From"},
    {"bad to", {BASE, .to_addr = "nobody"}, "To"},
    {"bad reply-to", {BASE, .reply_to = "x y@z.com"}, "Reply-To"},
    {"no msgid", {BASE, .msgid_local = NULL}, "Message-ID"},
    {"msgid with blank", {BASE, .msgid_local = "a b"}, "Message-ID"},
    {"msgid with >", {BASE, .msgid_local = "a>b"}, "Message-ID"},
    {"msgid with CRLF", {BASE, .msgid_local = "a\r\nb"}, "Message-ID"},
    {"no domain", {BASE, .domain = NULL}, "domain"},
    {"domain with @", {BASE, .domain = "a@b"}, "domain"},
    {"no body", {BASE, .text = NULL}, "body"},
    {"negative date", {BASE, .date = -1}, "date"},
    {"bad tz", {BASE, .tz_minutes = 1440}, "zone"},
    {"url with CRLF", {BASE, .list_unsub_url = "https://x/\r\nBcc: y"}, "List-Unsubscribe"},
    {"url with >", {BASE, .list_unsub_url = "https://x/>"}, "List-Unsubscribe"},
    {"url not http", {BASE, .list_unsub_url = "javascript:alert(1)"}, "List-Unsubscribe"},
    {"mailto with blank", {BASE, .list_unsub_mailto = "a b@c"}, "List-Unsubscribe"},
    {"bad custom name", {BASE, .headers = bad_name, .n_headers = 1}, "custom header 1"},
    {"reserved custom name",
     {BASE, .headers = reserved_name, .n_headers = 2},
     "custom header 2 \"Content-Type\""},
    {"CRLF custom name", {BASE, .headers = crlf_name, .n_headers = 1}, "custom header 1"},
    {"dkim custom name", {BASE, .headers = dkim_name, .n_headers = 1}, "dkim-signature"},
};
#pragma GCC diagnostic pop

static void
test_build_errors(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char err[200];
	buf_adds(&b, "kept");
	for (size_t i = 0; i < sizeof build_err_cases / sizeof build_err_cases[0]; i++) {
		const struct build_err_case *c = &build_err_cases[i];
		err[0] = '\0';
		int rc = mime_build(&c->m, &b, err, sizeof err);
		if (rc != -1 || !strstr(err, c->want) || b.len != 4) {
			print_error("%s: got %d \"%s\" (out %zu bytes), want -1 and \"%s\"\n",
			            c->label, rc, err, b.len, c->want);
			fail();
		}
		/* mime_check (the start check's) gives the same verdict and reason. */
		char cerr[200] = "";
		rc = mime_check(&c->m, cerr, sizeof cerr);
		if (rc != -1 || strcmp(cerr, err) != 0) {
			print_error("%s: mime_check got %d \"%s\", want -1 and \"%s\"\n", c->label,
			            rc, cerr, err);
			fail();
		}
	}
	/* And it passes every message mime_build makes. */
	for (size_t i = 0; i < sizeof golden_msgs / sizeof golden_msgs[0]; i++) {
		if (mime_check(&golden_msgs[i], err, sizeof err) != 0) {
			print_error("%s: mime_check refused: %s\n", golden_names[i], err);
			fail();
		}
	}
	buf_free(&b);
}

static void
test_build_fields(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct mime_msg m = golden_msgs[1];
	assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
	assert_non_null(strstr(b.data,
	                       "\r\nList-Unsubscribe: <https://example.com/u/c42/r1001?t=abc>,"
	                       "\r\n <mailto:unsub+c42.r1001@example.com>\r\n"));
	assert_non_null(
	    strstr(b.data, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	assert_non_null(strstr(b.data, "\r\nMessage-ID: <c42.r1001@example.com>\r\n"));
	assert_non_null(strstr(b.data, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(b.data, "\r\nFeedback-ID: c42:spring:kirim\r\n"));
	assert_memory_equal(b.data, "Date: Mon, 1 Apr 2024 16:00:00 +0700\r\n", 38);
	/* An http URL gets no one-click POST (RFC 8058 wants HTTPS). */
	buf_reset(&b);
	assert_int_equal(mime_build(&golden_msgs[3], &b, NULL, 0), 0);
	assert_non_null(strstr(b.data, "List-Unsubscribe: <http://example.com/u>\r\n"));
	assert_null(strstr(b.data, "List-Unsubscribe-Post"));
	/* Only the header fields we set, plus the custom ones, start lines before the body. */
	const char *end = strstr(b.data, "\r\n\r\n");
	assert_non_null(end);
	assert_int_equal(count_fields(b.data, (size_t)(end - b.data) + 2), 9);
	buf_free(&b);
}

struct date_case {
	long long t;
	int tz;
	const char *want;
};

static const struct date_case date_cases[] = {
    {0, 0, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"},
    {951782400, 0, "Date: Tue, 29 Feb 2000 00:00:00 +0000\r\n"},
    {1700000000, 0, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"},
    {1700000000, 420, "Date: Wed, 15 Nov 2023 05:13:20 +0700\r\n"},
    {1700000000, -330, "Date: Tue, 14 Nov 2023 16:43:20 -0530\r\n"},
    {1704067199, 0, "Date: Sun, 31 Dec 2023 23:59:59 +0000\r\n"},
    {4102444800LL, 0, "Date: Fri, 1 Jan 2100 00:00:00 +0000\r\n"},
    {253402214399LL, 0, "Date: Thu, 30 Dec 9999 23:59:59 +0000\r\n"},
};

static void
test_date(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
		struct mime_msg m = {BASE};
		m.date = date_cases[i].t;
		m.tz_minutes = date_cases[i].tz;
		buf_reset(&b);
		assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
		size_t wl = strlen(date_cases[i].want);
		expect_bytes("date", b.data, wl, date_cases[i].want, wl);
		/* Cross-check against libc for UTC. */
		if (date_cases[i].tz == 0) {
			struct tm tm;
			char s[64];
			time_t t = (time_t)date_cases[i].t;
			gmtime_r(&t, &tm);
			strftime(s, sizeof s, "%a, %-d %b %Y %H:%M:%S +0000", &tm);
			assert_memory_equal(b.data + 6, s, strlen(s));
		}
	}
	buf_free(&b);
}

/* A body that holds the first boundaries tried gets another one, or QP. */
static void
test_boundary_clash(void **state)
{
	(void)state;
	struct buf b = BUF_INIT, body = BUF_INIT;
	struct mime_msg m = golden_msgs[0];
	m.html = "<p>x</p>";
	m.html_len = 8;
	assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
	const char *p = strstr(b.data, "boundary=\"");
	assert_non_null(p);
	char first[25];
	memcpy(first, p + 10, 24);
	first[24] = '\0';
	/* Put that boundary in the text: the next build must pick another. */
	buf_adds(&body, "text\n--");
	buf_adds(&body, first);
	buf_adds(&body, "\n");
	m.text = body.data;
	m.text_len = body.len;
	buf_reset(&b);
	assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
	p = strstr(b.data, "boundary=\"");
	assert_non_null(p);
	assert_memory_not_equal(p + 10, first, 24);
	assert_non_null(strstr(b.data, "Content-Transfer-Encoding: 7bit"));
	/* Put in every candidate: it falls back to quoted-printable. */
	for (int k = 0; k < 40; k++) {
		buf_reset(&b);
		assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
		p = strstr(b.data, "boundary=\"");
		buf_adds(&body, "--");
		buf_add(&body, p + 10, 24);
		buf_adds(&body, "\n");
		m.text = body.data;
		m.text_len = body.len;
	}
	buf_reset(&b);
	assert_int_equal(mime_build(&m, &b, NULL, 0), 0);
	assert_non_null(strstr(b.data, "Content-Transfer-Encoding: quoted-printable"));
	p = strstr(b.data, "boundary=\"");
	char bnd[27] = "--";
	memcpy(bnd + 2, p + 10, 24);
	bnd[26] = '\0';
	/* Three delimiter lines: two part openers and the closer. */
	int k = 0;
	for (const char *q = b.data; (q = strstr(q, bnd)) != NULL; q++)
		k++;
	assert_int_equal(k, 3);
	buf_free(&b);
	buf_free(&body);
}

/* ---- independent check with Python's email package ---- */

/* expect_clean - what a header text decodes to: controls as blanks, trimmed */
static void
expect_clean(struct buf *out, const char *s)
{
	size_t n = strlen(s), a = 0;
	while (a < n && ((unsigned char)s[a] <= 0x20 || s[a] == 0x7f))
		a++;
	while (n > a && ((unsigned char)s[n - 1] <= 0x20 || s[n - 1] == 0x7f))
		n--;
	struct buf t = BUF_INIT;
	for (size_t i = a; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_addc(&t, (char)(c < 0x20 || c == 0x7f ? ' ' : c));
	}
	buf_json_string(out, t.data ? t.data : "", t.len);
	buf_free(&t);
}

static unsigned rng_state;

static unsigned
rng(unsigned n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) % n;
}

/* rand_text - valid UTF-8 mixing words, specials, controls and line breaks */
static void
rand_text(struct buf *b, size_t n, int breaks)
{
	static const char *const pieces[] = {"hello",
	                                     " ",
	                                     "world",
	                                     ",",
	                                     "\"",
	                                     "\\",
	                                     "=",
	                                     "=?",
	                                     "?=",
	                                     "_",
	                                     ".",
	                                     "<",
	                                     ">",
	                                     "@",
	                                     ":",
	                                     "\xc3\xa9",
	                                     "\xc3\xbc",
	                                     "(",
	                                     ")",
	                                     "\t",
	                                     "\xe6\x97\xa5\xe6\x9c\xac",
	                                     "\xf0\x9f\x98\x80",
	                                     "  ",
	                                     "a",
	                                     "Z",
	                                     "0",
	                                     "\r\n",
	                                     "\n",
	                                     "\r"};
	size_t np = sizeof pieces / sizeof pieces[0] - (breaks ? 0 : 3);
	for (size_t i = 0; i < n; i++)
		buf_adds(b, pieces[rng((unsigned)np)]);
}

/* ---- display names read back ---- */

struct dn_case {
	const char *label;
	const char *in;
	const char *want;   /* NULL: refused */
	const char *reason; /* with want NULL: the reason */
};

static const struct dn_case dn_cases[] = {
    /* Issue 11: the quoted-pair was kept, then escaped again when written. */
    {"quoted-pair undone", "\"Sh\\\"op\"", "Sh\"op", NULL},
    {"escaped backslash", "\"a\\\\b\"", "a\\b", NULL},
    {"quoted-pair of any character", "\"\\a\\ \\b\"", "a b", NULL},
    {"quoted-pair before UTF-8", "\"\\\xc3\xa9\"", "\xc3\xa9", NULL},
    {"quoted specials", "\"Smith, John\"", "Smith, John", NULL},
    {"quoted blanks kept", "\"Ann  Lee\"", "Ann  Lee", NULL},
    {"quoted tab is a space", "\"Ann\tLee\"", "Ann Lee", NULL},
    {"empty quoted string", "\"\"", "", NULL},
    {"quoted comment is text", "\"Shop (Sales)\"", "Shop (Sales)", NULL},
    {"encoded-word inside quotes is text", "\"=?utf-8?q?Hi?=\"", "=?utf-8?q?Hi?=", NULL},
    /* Anything not wholly quoted is taken as written. */
    {"atoms", "Kirim News", "Kirim News", NULL},
    {"blanks at the ends dropped", " \t Kirim News \t", "Kirim News", NULL},
    {"tab between words", "Kirim\tNews", "Kirim News", NULL},
    {"double blank kept", "Ann  Lee", "Ann  Lee", NULL},
    {"stray quote", "Sh\"op", "Sh\"op", NULL},
    {"quoted word among others", "Toko \"Kirim\"", "Toko \"Kirim\"", NULL},
    {"closing quote before the end", "\"Best\" Deals", "\"Best\" Deals", NULL},
    {"unterminated quote", "\"Shop", "\"Shop", NULL},
    {"escaped last quote", "\"a\\\"", "\"a\\\"", NULL},
    {"lone quote", "\"", "\"", NULL},
    {"backslash outside quotes", "a\\b", "a\\b", NULL},
    {"comment", "Shop (Sales)", "Shop (Sales)", NULL},
    {"UTF-8", "J\xc3\xb6rg", "J\xc3\xb6rg", NULL},
    {"empty", "", "", NULL},
    /* RFC 2047 encoded-words, as copied from a header. */
    {"Q word", "=?utf-8?q?Caf=C3=A9_Kirim?=", "Caf\xc3\xa9 Kirim", NULL},
    {"B word", "=?UTF-8?B?Q2Fmw6k=?=", "Caf\xc3\xa9", NULL},
    {"B word without padding", "=?utf-8?b?Q2Fmw6k?=", "Caf\xc3\xa9", NULL},
    {"empty word", "=?utf-8?q?\?=", "", NULL}, /* "\?" keeps "??=" from being a trigraph */
    {"blanks between words dropped",
     "=?utf-8?q?Caf=C3=A9?=  \t=?utf-8?q?_Kirim?=", "Caf\xc3\xa9 Kirim", NULL},
    {"blank between word and text kept", "=?utf-8?q?Caf=C3=A9?= Kirim", "Caf\xc3\xa9 Kirim", NULL},
    {"text then word", "Toko =?utf-8?q?Caf=C3=A9?=", "Toko Caf\xc3\xa9", NULL},
    {"iso-8859-1", "=?ISO-8859-1?Q?Jos=E9?=", "Jos\xc3\xa9", NULL},
    {"us-ascii", "=?us-ascii?q?Hi_there?=", "Hi there", NULL},
    {"language tag (RFC 2231)", "=?utf-8*en?q?Hi?=", "Hi", NULL},
    {"word inside a word is text", "x=?utf-8?q?Hi?=", "x=?utf-8?q?Hi?=", NULL},
    {"too short to be a word", "=?a?=", "=?a?=", NULL},
    {"unsupported charset", "=?koi8-r?q?x?=", NULL, "unsupported charset in encoded-word"},
    {"unknown encoding", "=?utf-8?x?abc?=", NULL, "malformed encoded-word"},
    {"empty charset", "=?\?q?x?=", NULL, "malformed encoded-word"},
    {"bad Q escape", "=?utf-8?q?a=G1?=", NULL, "malformed encoded-word"},
    {"short Q escape", "=?utf-8?q?a=4?=", NULL, "malformed encoded-word"},
    {"bad base64 digit", "=?utf-8?b?Q2F*?=", NULL, "malformed encoded-word"},
    {"bad base64 length", "=?utf-8?b?Q?=", NULL, "malformed encoded-word"},
    {"too much padding", "=?utf-8?b?QQ===?=", NULL, "malformed encoded-word"},
    {"extra question mark", "=?utf-8?q?a?b?=", NULL, "malformed encoded-word"},
    {"non-ASCII in us-ascii", "=?us-ascii?q?=E9?=", NULL, "malformed encoded-word"},
    {"decoded invalid UTF-8", "=?utf-8?q?=FF?=", NULL, "invalid UTF-8"},
    {"decoded CR LF", "=?utf-8?q?a=0D=0ABcc:_x@y.com?=", NULL, "control character"},
    {"decoded NUL", "=?utf-8?q?a=00?=", NULL, "control character"},
    {"decoded tab", "=?utf-8?q?a=09b?=", NULL, "control character"},
    /* Typed control bytes and broken UTF-8. */
    {"control byte", "Sh\x01op", NULL, "control character"},
    {"CR LF typed", "Evil\r\nBcc: x@y.com", NULL, "control character"},
    {"DEL", "a\x7f", NULL, "control character"},
    {"invalid UTF-8", "Caf\xe9", NULL, "invalid UTF-8"},
};

static void
test_display_name_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof dn_cases / sizeof dn_cases[0]; i++) {
		const struct dn_case *c = &dn_cases[i];
		char out[64] = "untouched";
		const char *why = NULL;
		int rc = mime_display_name_decode(c->in, strlen(c->in), out, sizeof out, &why);
		if (c->want && (rc != 0 || strcmp(out, c->want) != 0)) {
			print_error("%s: got %d [%s] (%s)\n", c->label, rc, show(out, strlen(out)),
			            why ? why : "");
			print_error("%s: want 0 [%s]\n", c->label, show(c->want, strlen(c->want)));
			fail();
		}
		if (!c->want && (rc != -1 || !why || strcmp(why, c->reason) != 0 ||
		                 strcmp(out, "untouched") != 0)) {
			print_error(
			    "%s: got %d [%s] reason [%s], want -1 [%s] with out untouched\n",
			    c->label, rc, show(out, strlen(out)), why ? why : "(none)", c->reason);
			fail();
		}
	}
	/* The size of out binds: the text and its NUL must fit. */
	char small[6] = "x";
	const char *why = NULL;
	assert_int_equal(mime_display_name_decode("\"Shop\"", 6, small, 5, &why), 0);
	assert_string_equal(small, "Shop");
	assert_int_equal(mime_display_name_decode("Shops", 5, small, 5, &why), -1);
	assert_string_equal(why, "display name too long");
	assert_string_equal(small, "Shop");
	assert_int_equal(mime_display_name_decode(NULL, 0, small, 5, NULL), 0);
	assert_string_equal(small, "");
}

/*
 * roundtrip_one - write t as a From display name and read the display part back:
 * mime_display_name_decode must undo mime_addr_encode exactly (after unfolding),
 * whichever form the writer chose (atoms, quoted-string, Q or B encoded-words).
 */
static void
roundtrip_one(const char *label, const char *t, size_t n)
{
	struct buf b = BUF_INIT, unfolded = BUF_INIT, want = BUF_INIT;
	/* Text mime_addr_encode writes unchanged: no controls, no blanks at the ends. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		buf_addc(&want, (char)(c < 0x20 || c == 0x7f ? ' ' : c));
	}
	while (want.len && want.data[want.len - 1] == ' ')
		want.data[--want.len] = '\0';
	size_t skip = 0;
	while (skip < want.len && want.data[skip] == ' ')
		skip++;
	buf_add(&b, want.data ? want.data + skip : "", want.len - skip);
	buf_reset(&want);
	buf_add(&want, b.data ? b.data : "", b.len);
	buf_reset(&b);

	assert_int_equal(mime_addr_encode(&b, "From", want.data, "a@example.com"), 0);
	for (size_t i = 0; i < b.len; i++)
		if (!(b.data[i] == '\r' && i + 1 < b.len && b.data[i + 1] == '\n'))
			buf_addc(&unfolded, b.data[i]);
		else
			i++;
	/* Unfolded, the field is "From: " display " <a@example.com>", or the bare address. */
	const char *s = unfolded.data + 6;
	size_t dn = 0;
	if (want.len) {
		if (unfolded.len < 6 + 16 ||
		    strcmp(unfolded.data + unfolded.len - 16, " <a@example.com>") != 0) {
			print_error("%s: written as [%s]\n", label, show(b.data, b.len));
			fail();
		}
		dn = unfolded.len - 6 - 16;
	}
	char out[4096];
	const char *why = NULL;
	int rc = mime_display_name_decode(s, dn, out, sizeof out, &why);
	if (rc != 0 || strcmp(out, want.data ? want.data : "") != 0) {
		print_error("%s: written as [%s]\n", label, show(b.data, b.len));
		print_error("%s: read back %d [%s] (%s)\n", label, rc, show(out, strlen(out)),
		            why ? why : "");
		print_error("%s: want [%s]\n", label, show(want.data, want.len));
		fail();
	}
	buf_free(&b);
	buf_free(&unfolded);
	buf_free(&want);
}

static void
test_display_name_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++)
		if (addr_cases[i].display && addr_cases[i].want)
			roundtrip_one(addr_cases[i].label, addr_cases[i].display,
			              strlen(addr_cases[i].display));
	for (size_t i = 0; i < sizeof dn_cases / sizeof dn_cases[0]; i++)
		if (dn_cases[i].want)
			roundtrip_one(dn_cases[i].label, dn_cases[i].want,
			              strlen(dn_cases[i].want));
	struct buf t = BUF_INIT;
	rng_state = 7;
	for (int i = 0; i < 3000; i++) {
		buf_reset(&t);
		rand_text(&t, rng(i % 10 == 0 ? 80 : 12), 1);
		char label[32];
		snprintf(label, sizeof label, "random %d", i);
		roundtrip_one(label, t.data ? t.data : "", t.len);
	}
	buf_free(&t);
}

static void
test_python_check(void **state)
{
	(void)state;
	const char *py = "/usr/bin/python3";
	if (access(py, X_OK) != 0) {
		print_error("%s not found: the independent MIME check cannot run\n", py);
		fail();
	}
	const char *src = getenv("KIRIM_SRC");
	char dir[] = "/tmp/kirim-mime-XXXXXX", path[4096], script[4096];
	assert_non_null(mkdtemp(dir));
	/* KIRIM_SRC, else next to KIRIM_TESTDATA (meson sets only that), else the cwd. */
	if (src && src[0])
		snprintf(script, sizeof script, "%s/tests/integration/mime_check.py", src);
	else if (getenv("KIRIM_TESTDATA"))
		snprintf(script, sizeof script, "%s/../integration/mime_check.py", testdata());
	else
		snprintf(script, sizeof script, "tests/integration/mime_check.py");
	assert_int_equal(access(script, R_OK), 0);

	struct buf cmd = BUF_INIT, json = BUF_INIT, out = BUF_INIT;
	struct buf subj = BUF_INIT, fname = BUF_INIT, tname = BUF_INIT, text = BUF_INIT,
	           html = BUF_INIT, xval = BUF_INIT;
	buf_printf(&cmd, "%s %s --expect %s/expect.json", py, script, dir);
	buf_adds(&json, "{");
	size_t nmsg = 0, seen_cte[3] = {0, 0, 0}, seen_multi = 0;
	rng_state = 42;
	for (size_t i = 0; i < 60 + sizeof golden_msgs / sizeof golden_msgs[0]; i++) {
		struct mime_msg m;
		struct mime_header xh[1];
		if (i < sizeof golden_msgs / sizeof golden_msgs[0]) {
			m = golden_msgs[i];
		} else {
			buf_reset(&subj);
			buf_reset(&fname);
			buf_reset(&tname);
			buf_reset(&text);
			buf_reset(&html);
			buf_reset(&xval);
			rand_text(&subj, rng(60), 1);
			/* Display names get a blank every few pieces: see mime_check.py. */
			for (unsigned w = rng(8); w > 0; w--) {
				rand_text(&fname, rng(4), 1);
				buf_adds(&fname, " ");
			}
			rand_text(&tname, rng(4), 0);
			rand_text(&xval, rng(200), 1);
			/* Long lines now and then: over 998 forces QP or base64. */
			rand_text(&text, rng(4) == 0 ? 1500 : rng(300), rng(3) != 0);
			rand_text(&html, rng(400), 1);
			xh[0] = (struct mime_header){"X-Random", xval.data ? xval.data : ""};
			m = (struct mime_msg){
			    .from_name = fname.data,
			    .from_addr = "sender@example.com",
			    .to_name = tname.data,
			    .to_addr = "rcpt@example.org",
			    .subject = subj.data ? subj.data : "",
			    .text = text.data ? text.data : "",
			    .text_len = text.len,
			    .html = rng(3) ? (html.data ? html.data : "") : NULL,
			    .html_len = html.len,
			    .msgid_local = "rand",
			    .domain = "example.com",
			    .list_unsub_url = "https://example.com/u?x=1",
			    .date = 1700000000 + (long long)i * 86400 * 17,
			    .tz_minutes = (int)rng(1400) - 700,
			    .headers = xh,
			    .n_headers = 1,
			};
		}
		buf_reset(&out);
		char err[200];
		if (mime_build(&m, &out, err, sizeof err) != 0) {
			print_error("message %zu: %s\n", i, err);
			fail();
		}
		check_lines("python message", out.data, out.len, 0);
		snprintf(path, sizeof path, "%s/m%03zu.eml", dir, i);
		write_file(path, out.data, out.len);
		buf_printf(&cmd, " %s", path);

		buf_printf(&json, "%s\"m%03zu.eml\":{", nmsg++ ? "," : "", i);
		if (m.subject) {
			buf_adds(&json, "\"subject\":");
			expect_clean(&json, m.subject);
			buf_adds(&json, ",");
		}
		buf_adds(&json, "\"from_name\":");
		expect_clean(&json, m.from_name ? m.from_name : "");
		buf_adds(&json, ",\"to_name\":");
		expect_clean(&json, m.to_name ? m.to_name : "");
		buf_printf(&json, ",\"from_addr\":\"%s\",\"to_addr\":\"%s\"", m.from_addr,
		           m.to_addr);
		if (m.text) {
			buf_adds(&json, ",\"text\":");
			buf_json_string(&json, m.text, m.text_len);
		}
		if (m.html) {
			buf_adds(&json, ",\"html\":");
			buf_json_string(&json, m.html, m.html_len);
		}
		buf_adds(&json, ",\"headers\":{\"Message-ID\":");
		buf_printf(&json, "\"<%s@%s>\"", m.msgid_local, m.domain);
		for (size_t k = 0; k < m.n_headers; k++) {
			buf_adds(&json, ",");
			buf_json_string(&json, m.headers[k].name, strlen(m.headers[k].name));
			buf_adds(&json, ":");
			expect_clean(&json, m.headers[k].value);
		}
		if (m.feedback_id) {
			buf_adds(&json, ",\"Feedback-ID\":");
			expect_clean(&json, m.feedback_id);
		}
		if (m.list_unsub_url || m.list_unsub_mailto) {
			struct buf lu = BUF_INIT;
			const char *mt = m.list_unsub_mailto;
			if (m.list_unsub_url)
				buf_printf(&lu, "<%s>%s", m.list_unsub_url, mt ? ", " : "");
			if (mt)
				buf_printf(&lu, "<%s%s>",
				           strncmp(mt, "mailto:", 7) ? "mailto:" : "", mt);
			buf_adds(&json, ",\"List-Unsubscribe\":");
			buf_json_string(&json, lu.data, lu.len);
			buf_free(&lu);
		}
		buf_adds(&json, "}}");
		for (int k = 0; k < 3; k++) {
			static const char *const ctes[] = {"7bit", "quoted-printable", "base64"};
			char t[64];
			snprintf(t, sizeof t, "Content-Transfer-Encoding: %s\r\n", ctes[k]);
			if (strstr(out.data, t))
				seen_cte[k]++;
		}
		if (strstr(out.data, "multipart/alternative"))
			seen_multi++;
	}
	/* The random messages cover every encoding and both shapes. */
	assert_true(seen_cte[0] > 0 && seen_cte[1] > 0 && seen_cte[2] > 0);
	assert_true(seen_multi > 0 && seen_multi < nmsg);
	buf_adds(&json, "}");
	snprintf(path, sizeof path, "%s/expect.json", dir);
	write_file(path, json.data, json.len);

	int rc = system(cmd.data);
	if (rc != 0) {
		print_error("mime_check.py failed (status %d); messages kept in %s\n", rc, dir);
		fail();
	}
	/* Clean up only on success, so a failure leaves the evidence. */
	buf_reset(&cmd);
	buf_printf(&cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd.data), 0);
	buf_free(&cmd);
	buf_free(&json);
	buf_free(&out);
	buf_free(&subj);
	buf_free(&fname);
	buf_free(&tname);
	buf_free(&text);
	buf_free(&html);
	buf_free(&xval);
}

/* ---- speed (only with KIRIM_BENCH set) ---- */

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench_one(const char *label, const char *line, size_t html_bytes, size_t text_bytes)
{
	struct buf html = BUF_INIT, text = BUF_INIT, out = BUF_INIT;
	while (html.len < html_bytes)
		buf_adds(&html, line);
	while (text.len < text_bytes)
		buf_adds(&text, "Plain text line of the message, about sixty bytes long.\n");
	struct mime_msg m = golden_msgs[1];
	m.html = html.data;
	m.html_len = html.len;
	m.text = text.data;
	m.text_len = text.len;
	int n = 200000;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		buf_reset(&out);
		mime_build(&m, &out, NULL, 0);
	}
	double dt = now() - t0;
	print_message("bench %-28s html %zu B + text %zu B -> %zu B: %.2f us/msg, %.0f msg/s\n",
	              label, html.len, text.len, out.len, dt / n * 1e6, n / dt);
	buf_free(&html);
	buf_free(&text);
	buf_free(&out);
}

static void
test_bench(void **state)
{
	(void)state;
	if (!getenv("KIRIM_BENCH"))
		skip();
	bench_one("ascii html (7bit)",
	          "<tr><td class=\"x\">Some table cell text for the newsletter body</td></tr>\n",
	          10240, 2048);
	bench_one(
	    "utf-8 html (quoted-printable)",
	    "<tr><td class=\"x\">Caf\xc3\xa9 cr\xc3\xa8me and other text for the body</td></tr>\n",
	    10240, 2048);
	bench_one("utf-8 crlf html (quoted-printable)",
	          "<tr><td class=\"x\">Caf\xc3\xa9 cr\xc3\xa8me and other text for the "
	          "body</td></tr>\r\n",
	          10240, 2048);
	bench_one(
	    "cjk html (base64)",
	    "<p>"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88</"
	    "p>\n",
	    10240, 2048);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_encode),
	    cmocka_unit_test(test_header_limits),
	    cmocka_unit_test(test_addr_encode),
	    cmocka_unit_test(test_header_name_check),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_body_qp),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_build_fields),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_body_crlf),
	    cmocka_unit_test(test_body_crlf_random),
	    cmocka_unit_test(test_boundary_clash),
	    cmocka_unit_test(test_python_check),
	    cmocka_unit_test(test_display_name_decode),
	    cmocka_unit_test(test_display_name_roundtrip),
	    cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
