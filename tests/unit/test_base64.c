/*
 * test_base64 - the base64 codec: the RFC 4648 section 10 vectors both ways,
 * MIME line wrapping, the strict decoder's refusals (with the buffer left as
 * it was) and the lenient decoder's skipping, each as a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/base64.h"
#include "kirim/buf.h"

/* The n bytes at p as printable text, for failure messages. */
static const char *
show(const char *p, size_t n)
{
	static char out[4][512];
	static int k;
	char *o = out[k++ % 4];
	size_t j = 0;
	for (size_t i = 0; i < n && j + 5 < sizeof(out[0]); i++) {
		unsigned c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[j++] = (char)c;
		else
			j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
	}
	o[j] = '\0';
	return o;
}

/* RFC 4648 section 10, then bytes that use every part of the alphabet. */
static const struct {
	const char *label;
	const char *raw;
	size_t rawlen;
	const char *enc;
} vectors[] = {
    {"rfc4648 empty", "", 0, ""},
    {"rfc4648 f", "f", 1, "Zg=="},
    {"rfc4648 fo", "fo", 2, "Zm8="},
    {"rfc4648 foo", "foo", 3, "Zm9v"},
    {"rfc4648 foob", "foob", 4, "Zm9vYg=="},
    {"rfc4648 fooba", "fooba", 5, "Zm9vYmE="},
    {"rfc4648 foobar", "foobar", 6, "Zm9vYmFy"},
    {"AUTH PLAIN with NULs", "\0kirim\0s3cret", 13, "AGtpcmltAHMzY3JldA=="},
    {"62 and 63", "\xfb\xff\xbf", 3, "+/+/"},
    {"zero bytes", "\0\0\0\0", 4, "AAAAAA=="},
};

static void
test_vectors(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t c = 0; c < sizeof(vectors) / sizeof(vectors[0]); c++) {
		const char *label = vectors[c].label, *raw = vectors[c].raw, *enc = vectors[c].enc;
		size_t rawlen = vectors[c].rawlen, enclen = strlen(enc);
		struct buf b = BUF_INIT;
		base64_encode(&b, raw, rawlen, 0);
		if (b.len != enclen || memcmp(b.data, enc, enclen) != 0 || b.data[b.len] != '\0') {
			print_error("%s: encode got \"%s\" want \"%s\"\n", label,
			            show(b.data, b.len), enc);
			bad++;
		}
		if (base64_encoded_len(rawlen, 0) != enclen) {
			print_error("%s: encoded_len got %zu want %zu\n", label,
			            base64_encoded_len(rawlen, 0), enclen);
			bad++;
		}
		char direct[64];
		char *end = base64_encode_to(direct, raw, rawlen, 0);
		if ((size_t)(end - direct) != enclen || memcmp(direct, enc, enclen) != 0) {
			print_error("%s: encode_to got \"%s\"\n", label,
			            show(direct, (size_t)(end - direct)));
			bad++;
		}
		/* Strict, strict with the padding optional, and lenient all read it back. */
		for (int mode = 0; mode < 3; mode++) {
			buf_reset(&b);
			int rc = 0;
			if (mode < 2)
				rc = base64_decode(&b, enc, enclen, mode ? BASE64_PAD_OPTIONAL : 0);
			else
				base64_decode_lenient(&b, enc, enclen);
			if (rc != 0 || b.len != rawlen ||
			    memcmp(b.data ? b.data : "", raw, rawlen)) {
				print_error("%s: decode mode %d got rc=%d \"%s\" want \"%s\"\n",
				            label, mode, rc, show(b.data ? b.data : "", b.len),
				            show(raw, rawlen));
				bad++;
			}
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d wrong results", bad);
}

/* Every byte value at every position mod 3 goes there and back. */
static void
test_round_trip(void **state)
{
	(void)state;
	unsigned char raw[256 + 2];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(raw); n++) {
		for (unsigned flags = 0; flags <= BASE64_WRAP; flags += BASE64_WRAP) {
			struct buf e = BUF_INIT, d = BUF_INIT;
			base64_encode(&e, raw, n, flags);
			assert_int_equal(e.len, base64_encoded_len(n, flags));
			if (flags & BASE64_WRAP)
				base64_decode_lenient(&d, e.data ? e.data : "", e.len);
			else
				assert_int_equal(base64_decode(&d, e.data ? e.data : "", e.len, 0),
				                 0);
			if (d.len != n || (n && memcmp(d.data, raw, n) != 0))
				fail_msg("%zu bytes, flags %u: got %zu bytes back", n, flags,
				         d.len);
			buf_free(&e);
			buf_free(&d);
		}
	}
}

/* BASE64_WRAP: 76 characters a line, CRLF after each, the last line too. */
static const struct {
	const char *label;
	size_t rawlen;
	size_t lines;   /* CRLF count */
	size_t lastlen; /* characters on the last line */
} wrap_cases[] = {
    {"empty: no line at all", 0, 0, 0},
    {"one byte", 1, 1, 4},
    {"56 bytes: one short line", 56, 1, 76},
    {"57 bytes: exactly one line", 57, 1, 76},
    {"58 bytes: a second line of one group", 58, 2, 4},
    {"114 bytes: exactly two lines", 114, 2, 76},
    {"1000 bytes", 1000, 18, 44},
};

static void
test_wrap(void **state)
{
	(void)state;
	static unsigned char raw[1000];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 13);
	int bad = 0;
	for (size_t c = 0; c < sizeof(wrap_cases) / sizeof(wrap_cases[0]); c++) {
		struct buf w = BUF_INIT, flat = BUF_INIT;
		base64_encode(&w, raw, wrap_cases[c].rawlen, BASE64_WRAP);
		base64_encode(&flat, raw, wrap_cases[c].rawlen, 0);
		const char *p = w.data ? w.data : "";
		size_t lines = 0, lastlen = 0, pos = 0, ok = 1;
		/* Each line is the next slice of the unwrapped text, then CRLF. */
		for (size_t i = 0; i < w.len;) {
			const char *crlf = strstr(p + i, "\r\n");
			if (crlf == NULL) {
				ok = 0;
				break;
			}
			size_t len = (size_t)(crlf - (p + i));
			if (len > BASE64_LINE || len == 0 || pos + len > flat.len ||
			    memcmp(p + i, flat.data + pos, len) != 0 ||
			    (len != BASE64_LINE && i + len + 2 != w.len))
				ok = 0;
			pos += len;
			lastlen = len;
			lines++;
			i += len + 2;
		}
		if (!ok || pos != flat.len || lines != wrap_cases[c].lines ||
		    lastlen != wrap_cases[c].lastlen ||
		    w.len != base64_encoded_len(wrap_cases[c].rawlen, BASE64_WRAP)) {
			print_error(
			    "%s: got %zu lines, last of %zu, %zu bytes (shape ok %zu); want "
			    "%zu lines, last of %zu\n",
			    wrap_cases[c].label, lines, lastlen, w.len, ok, wrap_cases[c].lines,
			    wrap_cases[c].lastlen);
			bad++;
		}
		buf_free(&w);
		buf_free(&flat);
	}
	if (bad)
		fail_msg("%d wrong results", bad);
}

/* The strict decoder: want NULL means refused; n is strlen(in) unless given. */
#define LEN_STR SIZE_MAX
static const struct {
	const char *label;
	const char *in;
	size_t n;
	unsigned flags;
	const char *want;
} strict_cases[] = {
    {"one pad", "Zm8=", LEN_STR, 0, "fo"},
    {"missing padding", "Zm8", LEN_STR, 0, NULL},
    {"missing padding, allowed", "Zm8", LEN_STR, BASE64_PAD_OPTIONAL, "fo"},
    {"missing two pads, allowed", "Zg", LEN_STR, BASE64_PAD_OPTIONAL, "f"},
    {"padding given though optional", "Zg==", LEN_STR, BASE64_PAD_OPTIONAL, "f"},
    {"short padding", "Zg=", LEN_STR, 0, NULL},
    {"short padding, even when optional", "Zg=", LEN_STR, BASE64_PAD_OPTIONAL, NULL},
    {"three pads", "Z===", LEN_STR, 0, NULL},
    {"padding alone", "====", LEN_STR, 0, NULL},
    {"a lone '='", "=", LEN_STR, BASE64_PAD_OPTIONAL, NULL},
    {"padding after a whole group", "Zm9v====", LEN_STR, 0, NULL},
    {"padding in the middle", "Zg==Zg==", LEN_STR, 0, NULL},
    {"'=' inside a group", "Zm=v", LEN_STR, 0, NULL},
    {"a lone last character", "Zm9vY", LEN_STR, BASE64_PAD_OPTIONAL, NULL},
    {"a lone character", "Z", LEN_STR, BASE64_PAD_OPTIONAL, NULL},
    {"blank", "Zm9v YmFy", LEN_STR, 0, NULL},
    {"trailing CRLF", "Zm9v\r\n", LEN_STR, 0, NULL},
    {"URL alphabet '-'", "Zm-v", LEN_STR, 0, NULL},
    {"URL alphabet '_'", "Zm_v", LEN_STR, 0, NULL},
    {"NUL byte", "Zm\0v", 4, 0, NULL},
    {"non-ASCII", "Zm\xc3\xa9", LEN_STR, 0, NULL},
    {"unused bits set are read as zero", "Zh==", LEN_STR, 0, "f"},
    {"empty", "", LEN_STR, 0, ""},
};

static void
test_strict(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t c = 0; c < sizeof(strict_cases) / sizeof(strict_cases[0]); c++) {
		const char *in = strict_cases[c].in, *want = strict_cases[c].want;
		size_t n = strict_cases[c].n == LEN_STR ? strlen(in) : strict_cases[c].n;
		struct buf b = BUF_INIT;
		buf_adds(&b, "kept:");
		int rc = base64_decode(&b, in, n, strict_cases[c].flags);
		int ok = want ? rc == 0 && b.len == 5 + strlen(want) &&
		                    memcmp(b.data + 5, want, strlen(want)) == 0
		              : rc == -1 && b.len == 5 && strcmp(b.data, "kept:") == 0;
		if (!ok) {
			print_error("%s: \"%s\" got rc=%d \"%s\"; want %s%s%s\n",
			            strict_cases[c].label, show(in, n), rc, show(b.data, b.len),
			            want ? "\"kept:" : "refused, buffer untouched",
			            want ? want : "", want ? "\"" : "");
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d wrong results", bad);
}

/* The lenient decoder (RFC 2045 6.8). */
static const struct {
	const char *label;
	const char *in;
	const char *want;
} lenient_cases[] = {
    {"line breaks", "Zm9v\r\nYmFy\r\n", "foobar"},
    {"blanks and tabs", " Zm 9v\tYm Fy ", "foobar"},
    {"garbage is skipped", "Zm9v*YmFy!", "foobar"},
    {"'=' ends the data", "Zm9vYg==Zm9v", "foob"},
    {"a lone '=' ends it too", "Zm9v=YmFy", "foo"},
    {"URL alphabet", "-_-_", "\xfb\xff\xbf"},
    {"missing padding", "Zm8", "fo"},
    {"a lone last character is dropped", "Zm9vY", "foo"},
    {"nothing but garbage", "!!** \r\n", ""},
    {"empty", "", ""},
    {"8-bit bytes skipped",
     "Zm\xc3\xa9"
     "9v",
     "foo"},
};

static void
test_lenient(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t c = 0; c < sizeof(lenient_cases) / sizeof(lenient_cases[0]); c++) {
		struct buf b = BUF_INIT;
		buf_adds(&b, "kept:");
		base64_decode_lenient(&b, lenient_cases[c].in, strlen(lenient_cases[c].in));
		const char *want = lenient_cases[c].want;
		if (b.len != 5 + strlen(want) || memcmp(b.data, "kept:", 5) != 0 ||
		    memcmp(b.data + 5, want, strlen(want)) != 0 || b.data[b.len] != '\0') {
			print_error("%s: got \"%s\" want \"kept:%s\"\n", lenient_cases[c].label,
			            show(b.data, b.len), show(want, strlen(want)));
			bad++;
		}
		buf_free(&b);
	}
	if (bad)
		fail_msg("%d wrong results", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors), cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_wrap),    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_lenient),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
