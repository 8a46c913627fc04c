/*
 * test_smtp_wire - table tests for src/format/smtp_wire.c.
 *
 * Each case gives message bytes and the exact wire bytes wanted. A second
 * check runs over every case (and a generated set of random messages): the
 * output holds no bare CR or LF, and "\r\n.\r\n" occurs once, at the end —
 * the property that rules out SMTP smuggling. A decoder (undo stuffing) then
 * gives back the message with its line ends normalised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/smtp_wire.h"

#define BIN(s) s, sizeof(s) - 1

struct wcase {
	const char *label;
	const char *in;
	size_t n;
	const char *want;
	size_t wn;
};

static const struct wcase cases[] = {
    {"empty", BIN(""), BIN(".\r\n")},
    {"one line CRLF", BIN("a\r\n"), BIN("a\r\n.\r\n")},
    {"one line no end", BIN("a"), BIN("a\r\n.\r\n")},
    {"bare LF lines", BIN("a\nb\n"), BIN("a\r\nb\r\n.\r\n")},
    {"bare CR lines", BIN("a\rb\r"), BIN("a\r\nb\r\n.\r\n")},
    {"CR CR LF", BIN("a\r\r\nb"), BIN("a\r\n\r\nb\r\n.\r\n")},
    {"LF CR", BIN("a\n\rb"), BIN("a\r\n\r\nb\r\n.\r\n")},
    {"leading dot", BIN(".hidden\r\n"), BIN("..hidden\r\n.\r\n")},
    {"dot only line", BIN("a\r\n.\r\nb\r\n"), BIN("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggle LF dot LF", BIN("a\n.\nMAIL FROM:<x>\n"), BIN("a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")},
    {"smuggle CR dot CR", BIN("a\r.\rRCPT TO:<x>\r"), BIN("a\r\n..\r\nRCPT TO:<x>\r\n.\r\n")},
    {"smuggle LF dot CRLF", BIN("a\n.\r\nb"), BIN("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggle CRLF dot LF", BIN("a\r\n.\nb"), BIN("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggle CRLF dot CR", BIN("a\r\n.\rb"), BIN("a\r\n..\r\nb\r\n.\r\n")},
    {"dot at very start", BIN(".\r\n"), BIN("..\r\n.\r\n")},
    {"ends with dot no CRLF", BIN("a\r\n."), BIN("a\r\n..\r\n.\r\n")},
    {"ends with CRLF dot CRLF", BIN("a\r\n.\r\n"), BIN("a\r\n..\r\n.\r\n")},
    {"double dot kept", BIN("..x\n"), BIN("...x\r\n.\r\n")},
    {"dot mid line untouched", BIN("a.b\r\n"), BIN("a.b\r\n.\r\n")},
    {"empty lines", BIN("\n\n"), BIN("\r\n\r\n.\r\n")},
    {"NUL passes", BIN("a\0b\n"), BIN("a\0b\r\n.\r\n")},
    {"8-bit passes", BIN("J\xc3\xa9\n"), BIN("J\xc3\xa9\r\n.\r\n")},
};

/* The smuggling property: no bare CR/LF, one end-of-data at the very end. */
static void
check_wire(const char *label, const char *w, size_t n)
{
	if (n < 3 || memcmp(w + n - 3, ".\r\n", 3) != 0)
		fail_msg("%s: does not end with .CRLF", label);
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '\r' && (i + 1 >= n || w[i + 1] != '\n'))
			fail_msg("%s: bare CR at %zu", label, i);
		if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
			fail_msg("%s: bare LF at %zu", label, i);
		/* A line that is exactly "." may only be the last. */
		int line_start = i == 0 || w[i - 1] == '\n';
		if (line_start && i + 3 <= n && memcmp(w + i, ".\r\n", 3) == 0 && i + 3 != n)
			fail_msg("%s: early end-of-data at %zu", label, i);
	}
}

static void
dump(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wcase *c = &cases[i];
		struct buf b = BUF_INIT;
		smtp_wire_encode(&b, c->in, c->n);
		if (b.len != c->wn || memcmp(b.data, c->want, c->wn) != 0) {
			char got[512], want[512];
			dump(b.data, b.len, got, sizeof(got));
			dump(c->want, c->wn, want, sizeof(want));
			fail_msg("%s: got \"%s\" want \"%s\"", c->label, got, want);
		}
		check_wire(c->label, b.data, b.len);
		buf_free(&b);
	}
}

static void
test_appends(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "DATA-PREFIX");
	smtp_wire_encode(&b, BIN("x\n"));
	assert_int_equal(b.len, 11 + 6);
	assert_memory_equal(b.data, "DATA-PREFIXx\r\n.\r\n", b.len);
	buf_free(&b);
}

/* Undo the wire form: strip the end-of-data and the stuffed dots. */
static void
unstuff(const char *w, size_t n, struct buf *out)
{
	size_t i = 0;
	n -= 3; /* ".\r\n" */
	while (i < n) {
		if (w[i] == '.')
			i++;
		const char *nl = memchr(w + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - w) + 1 : n;
		buf_add(out, w + i, e - i);
		i = e;
	}
}

/* round_trip - encode msg and check the wire rules, the round trip and the 8-bit flag */
static void
round_trip(const char *label, const char *msg, size_t n)
{
	struct buf w = BUF_INIT, back = BUF_INIT, norm = BUF_INIT;
	int hi = smtp_wire_encode(&w, msg, n);
	check_wire(label, w.data, w.len);
	/* Normalise the input by hand: CRLF, CR, LF -> CRLF; add a final CRLF. */
	for (size_t i = 0; i < n; i++) {
		if (msg[i] == '\r') {
			buf_add(&norm, "\r\n", 2);
			if (i + 1 < n && msg[i + 1] == '\n')
				i++;
		} else if (msg[i] == '\n') {
			buf_add(&norm, "\r\n", 2);
		} else {
			buf_addc(&norm, msg[i]);
		}
	}
	if (norm.len > 0 && (norm.len < 2 || memcmp(norm.data + norm.len - 2, "\r\n", 2)))
		buf_add(&norm, "\r\n", 2);
	unstuff(w.data, w.len, &back);
	if (back.len != norm.len || (norm.len && memcmp(back.data, norm.data, norm.len)))
		fail_msg("%s: round trip differs (got %zu bytes, want %zu)", label, back.len,
		         norm.len);
	assert_int_equal(smtp_wire_has_8bit(msg, n), memchr(msg, 0xe9, n) != NULL);
	assert_int_equal(hi, memchr(msg, 0xe9, n) != NULL); /* the encoder's own check */
	buf_free(&w);
	buf_free(&back);
	buf_free(&norm);
}

static void
test_random(void **state)
{
	(void)state;
	static const char alphabet[] = {'\r', '\n', '.', 'a', ' ', '\0', (char)0xe9};
	srand(12345);
	for (int round = 0; round < 5000; round++) {
		char msg[64];
		size_t n = (size_t)(rand() % 64);
		for (size_t i = 0; i < n; i++)
			msg[i] = alphabet[rand() % (int)sizeof(alphabet)];
		char label[32];
		snprintf(label, sizeof(label), "random %d", round);
		round_trip(label, msg, n);
	}
}

/*
 * Messages whose lines all end in CRLF, as MIME makes them (the encoder's fast
 * path), long enough for its 16-byte steps, with dots at line starts, 8-bit
 * bytes at any place, and one time in three a defect the fast path must hand
 * to the general one: a bare CR or LF anywhere, or no final CRLF.
 */
static void
test_random_crlf(void **state)
{
	(void)state;
	static const char alphabet[] = {'.', '.', 'a', 'b', ' ', '\0', (char)0xe9};
	srand(54321);
	for (int round = 0; round < 20000; round++) {
		char msg[400];
		size_t n = 0, want = (size_t)(rand() % 390);
		while (n + 2 < want) {
			size_t line = (size_t)(rand() % 40);
			if (rand() % 4 == 0)
				line = (size_t)(rand() % 3);
			for (size_t k = 0; k < line && n + 2 < want; k++)
				msg[n++] = alphabet[rand() % (int)sizeof(alphabet)];
			msg[n++] = '\r';
			msg[n++] = '\n';
		}
		if (n && rand() % 3 == 0) {
			int d = rand() % 3;
			if (d == 2)
				n -=
				    1 + (size_t)(rand() % 2); /* no final CRLF, or a bare CR last */
			else
				msg[rand() % (int)n] = d ? '\r' : '\n';
		}
		char label[32];
		snprintf(label, sizeof(label), "crlf %d", round);
		round_trip(label, msg, n);
	}
}

static void
test_8bit(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *in;
		int want;
	} t[] = {
	    {"ascii", "hello world, a line longer than eight", 0},
	    {"empty", "", 0},
	    {"high byte at end", "0123456789abcdef\x80", 1},
	    {"high byte in first word", "a\xc3\xa9", 1},
	    {"high byte in word",
	     "01234567\xff"
	     "01234567",
	     1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = smtp_wire_has_8bit(t[i].in, strlen(t[i].in));
		if (got != t[i].want)
			fail_msg("%s: got %d want %d", t[i].label, got, t[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),  cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_random), cmocka_unit_test(test_random_crlf),
	    cmocka_unit_test(test_8bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
