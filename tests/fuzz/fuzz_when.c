/*
 * fuzz_when - libFuzzer target for src/format/when.c's parsers.
 *
 * The first input byte picks the parser: even, a schedule time (when_parse_at) in a
 * zone with a fixed offset of up to 14 hours either way (real zones' range); odd, a send window
 * (when_window_parse), then its next opening from a few instants. Whatever parses must
 * format and parse back to the same instant, and a window's next opening is never in
 * the past. Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/when.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static int
fixed_offset(void *arg, int64_t utc, int *offset)
{
	(void)utc;
	*offset = *(const int *)arg;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 512)
		return 0;
	char s[513];
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	int off = ((data[0] >> 1) % 57 - 28) * 30 * 60;
	struct when_zone z = {fixed_offset, &off};
	char err[256];
	if ((data[0] & 1) == 0) {
		int64_t t;
		if (when_parse_at(s, &z, &t, err, sizeof(err)) == 0) {
			char out[64];
			int64_t back;
			CHECK(when_format(&z, t, out, sizeof(out)) == 0);
			CHECK(when_parse_at(out, &z, &back, err, sizeof(err)) == 0);
			CHECK(back == t);
		}
		return 0;
	}
	struct when_window w;
	if (when_window_parse(s, &w, err, sizeof(err)) < 0)
		return 0;
	static const int64_t nows[] = {0, 1764000000, 1790000000 + 3600 * 13, 1800000000};
	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		bool inside = false;
		int64_t open_at = 0, close_at = 0;
		if (when_window_next(&w, &z, nows[i], &inside, &open_at, &close_at) == 0 && !inside)
			CHECK(open_at >= nows[i]);
	}
	return 0;
}
