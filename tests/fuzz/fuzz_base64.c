/*
 * fuzz_base64 - libFuzzer target for src/base/base64.c.
 *
 * The input is read three ways. As text: whatever the strict decoder accepts
 * the lenient one reads the same (strict is a subset), and encoding it again
 * gives a text of the same length; a refusal leaves the buffer as it was. As
 * bytes: the encoding (flat and wrapped) has the length base64_encoded_len
 * says, only alphabet characters and padding, wrapped lines of at most 76
 * characters each ending in CRLF, and it decodes back to the input. Any broken
 * property aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/base64.h"
#include "kirim/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static int
is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

/* The input as text to decode. */
static void
decode_props(const char *s, size_t n)
{
	static const unsigned flags[] = {0, BASE64_PAD_OPTIONAL};
	for (size_t f = 0; f < 2; f++) {
		struct buf strict = BUF_INIT, lenient = BUF_INIT, again = BUF_INIT;
		buf_adds(&strict, "x");
		int rc = base64_decode(&strict, s, n, flags[f]);
		if (rc != 0) {
			CHECK(rc == -1 && strict.len == 1 && strcmp(strict.data, "x") == 0);
		} else {
			base64_decode_lenient(&lenient, s, n);
			CHECK(strict.len - 1 == lenient.len);
			CHECK(memcmp(strict.data + 1, lenient.data ? lenient.data : "",
			             lenient.len) == 0);
			/* Re-encoded: the same length once the padding left out is put back. */
			base64_encode(&again, strict.data + 1, strict.len - 1, 0);
			CHECK(again.len == (n + 3) / 4 * 4);
		}
		buf_free(&strict);
		buf_free(&lenient);
		buf_free(&again);
	}
}

/* The input as bytes to encode. */
static void
encode_props(const uint8_t *p, size_t n)
{
	for (unsigned flags = 0; flags <= BASE64_WRAP; flags += BASE64_WRAP) {
		struct buf e = BUF_INIT, d = BUF_INIT;
		base64_encode(&e, p, n, flags);
		CHECK(e.len == base64_encoded_len(n, flags));
		size_t col = 0;
		for (size_t i = 0; i < e.len; i++) {
			if ((flags & BASE64_WRAP) && e.data[i] == '\r') {
				CHECK(i + 1 < e.len && e.data[i + 1] == '\n' && col > 0);
				col = 0;
				i++;
				continue;
			}
			CHECK(is_b64(e.data[i]));
			CHECK(++col <= BASE64_LINE || !(flags & BASE64_WRAP));
		}
		CHECK(!(flags & BASE64_WRAP) || n == 0 ||
		      (e.len >= 2 && memcmp(e.data + e.len - 2, "\r\n", 2) == 0));
		if (flags & BASE64_WRAP)
			base64_decode_lenient(&d, e.data ? e.data : "", e.len);
		else
			CHECK(base64_decode(&d, e.data ? e.data : "", e.len, 0) == 0);
		CHECK(d.len == n && (n == 0 || memcmp(d.data, p, n) == 0));
		buf_free(&e);
		buf_free(&d);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_props((const char *)data, size);
	encode_props(data, size);
	return 0;
}
