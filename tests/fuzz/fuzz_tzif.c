/*
 * fuzz_tzif - libFuzzer target for src/format/tzif.c.
 *
 * The first input byte picks the reader: even, the rest is a TZif file
 * (tzif_parse); odd, a TZ rule string (tzif_parse_rule). Whatever parses is
 * queried at instants across the whole range and around the input's own
 * numbers, and must keep these properties (any broken one aborts):
 * - lookups succeed inside [TZIF_TIME_MIN, TZIF_TIME_MAX] and are refused
 *   outside; offsets are within RFC 8536's range, abbreviations within the cap;
 * - the local time of every instant maps back to a set of instants that
 *   includes it (kind ONE or FOLD, t <= instant <= last), and every instant
 *   it returns really shows that local time;
 * - a gap's answer is where the gap ends: the local time just before it is
 *   earlier than asked, at it later;
 * - a refused input gives a negative code and no zone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/tzif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* local_of - the local time of t, checking the lookup's own properties */
static int64_t
local_of(const struct tzif *z, int64_t t)
{
	struct tzif_info info;
	CHECK(tzif_lookup(z, t, &info) == 0);
	CHECK(info.utoff >= TZIF_UTOFF_MIN && info.utoff <= TZIF_UTOFF_MAX);
	CHECK(info.abbr != NULL && strlen(info.abbr) <= TZIF_ABBR_MAX);
	return t + info.utoff;
}

/* check_local - tzif_local_to_utc(L) is consistent with tzif_lookup */
static void
check_local(const struct tzif *z, int64_t L, const int64_t *must)
{
	struct tzif_local l;
	if (L < TZIF_TIME_MIN || L > TZIF_TIME_MAX) {
		CHECK(tzif_local_to_utc(z, L, &l) == TZIF_E_RANGE);
		return;
	}
	CHECK(tzif_local_to_utc(z, L, &l) == 0);
	if (l.t <= TZIF_TIME_MIN || l.last > TZIF_TIME_MAX)
		return; /* answers at the very edge of the range cannot be looked up */
	switch (l.kind) {
	case TZIF_LOCAL_ONE:
		CHECK(l.t == l.last && local_of(z, l.t) == L);
		break;
	case TZIF_LOCAL_FOLD:
		CHECK(l.t < l.last && local_of(z, l.t) == L && local_of(z, l.last) == L);
		break;
	case TZIF_LOCAL_GAP:
		CHECK(must == NULL); /* an instant's own local time is never in a gap */
		CHECK(l.t == l.last && local_of(z, l.t) > L && local_of(z, l.t - 1) < L);
		break;
	default:
		abort();
	}
	if (must)
		CHECK(l.t <= *must && *must <= l.last);
}

static void
probe(const struct tzif *z, int64_t t)
{
	struct tzif_info info;
	if (t < TZIF_TIME_MIN || t > TZIF_TIME_MAX) {
		CHECK(tzif_lookup(z, t, &info) == TZIF_E_RANGE);
		return;
	}
	int64_t L = local_of(z, t);
	check_local(z, L, &t);
	for (int64_t d = -5400; d <= 5400; d += 3600)
		check_local(z, L + d, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct tzif *z = NULL;
	char err[200];
	int rc = (data[0] & 1)
	             ? tzif_parse_rule((const char *)data + 1, size - 1, &z, err, sizeof(err))
	             : tzif_parse(data + 1, size - 1, &z, err, sizeof(err));
	if (rc < 0) {
		CHECK(z == NULL && rc >= TZIF_E_RANGE);
		return 0;
	}
	CHECK(rc == 0 && z != NULL);
	int v = tzif_version(z);
	CHECK(v >= 0 && v <= 4);
	static const int64_t fixed[] = {
	    INT64_MIN,
	    TZIF_TIME_MIN - 1,
	    TZIF_TIME_MIN,
	    TZIF_TIME_MIN + 100000,
	    -(INT64_C(1) << 59),
	    -2208988800,
	    -2147483648LL,
	    -1,
	    0,
	    1,
	    2147483647,
	    2147483648LL,
	    4102444800,
	    253402300799,
	    TZIF_TIME_MAX - 100000,
	    TZIF_TIME_MAX,
	    TZIF_TIME_MAX + 1,
	    INT64_MAX,
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		probe(z, fixed[i]);
	/* Every 40 days or so over 1970-2040, landing on many changes of rules and tables. */
	for (int64_t t = 0; t < 2208988800; t += 40 * 86400 + 3617)
		probe(z, t);
	/* And the input's own numbers read as instants, so transitions get hit. */
	for (size_t i = 1; i + 8 <= size && i < 4096; i += 8) {
		int64_t t = 0;
		for (int k = 0; k < 8; k++)
			t = (int64_t)((uint64_t)t << 8 | data[i + k]);
		probe(z, t);
		probe(z, (int64_t)((uint64_t)t - 1)); /* wraps at INT64_MIN, no overflow */
		probe(z, (int32_t)(t >> 32));         /* the 32-bit block's */
	}
	tzif_free(z);
	return 0;
}
