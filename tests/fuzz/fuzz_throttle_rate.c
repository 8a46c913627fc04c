/*
 * fuzz_throttle_rate - libFuzzer target for the parsers of src/format/throttle.c
 * and src/format/policy.c: rate strings, policy patterns, warm-up plans and
 * the slow-down table.
 *
 * The first byte picks the parser ('r' rate, 'p' pattern, 'w' warm-up,
 * 's' slow-down: code, ecode and text separated by NUL bytes; anything else
 * runs all of the first three); the rest is the input. Checks: what parses
 * formats and parses back to (nearly) the same rate, a pattern's normal form
 * is a fixed point and matches its own domain, warm-up caps are in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/policy.h"
#include "kirim/throttle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
fuzz_rate(const char *s)
{
	double r;
	const char *why = NULL;
	if (throttle_rate_parse(s, &r, &why) < 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(r >= 0 && r <= THROTTLE_RATE_MAX);
	char out[THROTTLE_RATE_STR];
	throttle_rate_format(r, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out));
	double back;
	CHECK(throttle_rate_parse(out, &back, NULL) == 0);
	if (r == 0)
		CHECK(back == 0);
	else
		CHECK(back > r * 0.99 && back < r * 1.01);
}

static void
fuzz_pattern(const char *s)
{
	char out[POLICY_PATTERN_MAX], again[POLICY_PATTERN_MAX];
	enum policy_kind k, k2;
	const char *why = NULL;
	if (policy_pattern_parse(s, out, sizeof(out), &k, &why) < 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(strlen(out) < sizeof(out));
	CHECK(policy_pattern_parse(out, again, sizeof(again), &k2, NULL) == 0);
	CHECK(strcmp(out, again) == 0 && k == k2);
	struct policy row;
	memset(&row, 0, sizeof(row));
	memcpy(row.pattern, out, sizeof(out));
	row.set = POLICY_HAS(POLICY_F_MAX_CONNECTIONS);
	row.max_connections = 3;
	struct policy_effective e;
	const char *mx[1];
	if (k == POLICY_KIND_EXACT) {
		CHECK(policy_resolve(&row, 1, out, NULL, 0, &e) == 1);
		CHECK(e.p.max_connections == 3);
	} else if (k == POLICY_KIND_WILDCARD) {
		char sub[POLICY_PATTERN_MAX + 2];
		memcpy(sub, "a", 2);
		strcat(sub, out + 1); /* "a.suffix" */
		CHECK(policy_matches(&row, sub, NULL, 0));
		CHECK(!policy_matches(&row, out + 2, NULL, 0));
	} else if (k == POLICY_KIND_MX) {
		mx[0] = out + 3;
		CHECK(policy_matches(&row, "x.test", mx, 1));
	}
}

static void
fuzz_warmup(const char *s)
{
	long caps[THROTTLE_WARMUP_DAYS];
	int n = throttle_warmup_expand(s, caps, THROTTLE_WARMUP_DAYS, NULL);
	CHECK(n >= -1 && n <= THROTTLE_WARMUP_DAYS);
	for (int i = 0; i < n; i++)
		CHECK(caps[i] >= 1 && caps[i] <= 1000000000L);
	long c = throttle_warmup_cap(s, 0);
	CHECK(n < 0 ? c == -2 : n == 0 ? c == -1 : c == caps[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0]) {
	case 'r':
		fuzz_rate(s);
		break;
	case 'p':
		fuzz_pattern(s);
		break;
	case 'w':
		fuzz_warmup(s);
		break;
	case 's': {
		/* code NUL ecode NUL text: the parts as the reply parser hands them over. */
		const char *ecode = s + strlen(s);
		if ((size_t)(ecode - s) < size - 1)
			ecode++;
		const char *text = ecode + strlen(ecode);
		if ((size_t)(text - s) < size - 1)
			text++;
		int code = atoi(s);
		int slow = throttle_is_slowdown(code, ecode, text);
		CHECK(slow == 0 || (code >= 400 && code <= 499));
		CHECK(!slow || throttle_slowdown_why(code, ecode, text) != NULL);
		struct throttle_aimd a;
		throttle_aimd_init(&a, NULL, 10, 4, 0);
		throttle_aimd_slowdown(&a, 0, text);
		CHECK(strlen(a.last) < sizeof(a.last));
		break;
	}
	default:
		fuzz_rate(s);
		fuzz_pattern(s);
		fuzz_warmup(s);
	}
	free(s);
	return 0;
}
