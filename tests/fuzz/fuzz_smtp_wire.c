/*
 * fuzz_smtp_wire - libFuzzer target for src/format/smtp_wire.c.
 *
 * Encodes the input and checks the property that rules out SMTP smuggling:
 * no bare CR or LF, and a line that is exactly "." only at the very end.
 * Undoing the dot-stuffing must give back the input with its line ends
 * normalised to CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/smtp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct buf w = BUF_INIT, norm = BUF_INIT, back = BUF_INIT;
	int hi = smtp_wire_encode(&w, msg, size);
	CHECK(w.len >= 3 && memcmp(w.data + w.len - 3, ".\r\n", 3) == 0);
	for (size_t i = 0; i < w.len; i++) {
		if (w.data[i] == '\r')
			CHECK(i + 1 < w.len && w.data[i + 1] == '\n');
		if (w.data[i] == '\n')
			CHECK(i > 0 && w.data[i - 1] == '\r');
		if ((i == 0 || w.data[i - 1] == '\n') && i + 3 <= w.len &&
		    memcmp(w.data + i, ".\r\n", 3) == 0)
			CHECK(i + 3 == w.len);
	}
	for (size_t i = 0; i < size; i++) {
		if (msg[i] == '\r') {
			buf_add(&norm, "\r\n", 2);
			if (i + 1 < size && msg[i + 1] == '\n')
				i++;
		} else if (msg[i] == '\n') {
			buf_add(&norm, "\r\n", 2);
		} else {
			buf_addc(&norm, msg[i]);
		}
	}
	if (norm.len > 0 && (norm.len < 2 || memcmp(norm.data + norm.len - 2, "\r\n", 2) != 0))
		buf_add(&norm, "\r\n", 2);
	size_t n = w.len - 3;
	for (size_t i = 0; i < n;) {
		if (w.data[i] == '.')
			i++;
		const char *nl = memchr(w.data + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - w.data) + 1 : n;
		buf_add(&back, w.data + i, e - i);
		i = e;
	}
	CHECK(back.len == norm.len);
	CHECK(norm.len == 0 || memcmp(back.data, norm.data, norm.len) == 0);
	int high = 0;
	for (size_t i = 0; i < size; i++)
		high |= (data[i] & 0x80) != 0;
	CHECK(smtp_wire_has_8bit(msg, size) == high);
	CHECK(hi == high);
	buf_free(&w);
	buf_free(&norm);
	buf_free(&back);
	return 0;
}
