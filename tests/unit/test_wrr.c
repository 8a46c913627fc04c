/* test_wrr - smooth weighted round-robin (wrr.c): sequences by table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/wrr.h"

static void
test_sequences(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		unsigned weights[4];
		size_t n;
		const char *want; /* the first picks, one letter per item: a = 0, b = 1... */
	} cases[] = {
	    {"one item", {1}, 1, "aaaa"},
	    {"equal weights take turns", {1, 1, 1}, 3, "abcabcabc"},
	    {"3:1 spread, not bunched", {3, 1}, 2, "aabaaaba"},
	    {"1:3: equal scores go to the first", {1, 3}, 2, "babbbabb"},
	    {"nginx's example 5:1:1", {5, 1, 1}, 3, "aabacaaaabacaa"},
	    {"2:1", {2, 1}, 2, "abaaba"},
	    {"a zero weight is skipped", {2, 0, 1}, 3, "acaaca"},
	    {"all zero: none", {0, 0}, 2, "--"},
	    {"no items: none", {0}, 0, "-"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wrr_item items[4];
		memset(items, 0, sizeof(items));
		for (size_t k = 0; k < cases[i].n; k++)
			items[k].weight = cases[i].weights[k];
		char got[32];
		size_t len = strlen(cases[i].want);
		for (size_t k = 0; k < len; k++) {
			int x = wrr_next(items, cases[i].n);
			got[k] = x < 0 ? '-' : (char)('a' + x);
		}
		got[len] = '\0';
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s want %s", cases[i].label, got, cases[i].want);
	}
}

/* Over any whole cycle, each item is chosen exactly weight times. */
static void
test_shares(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		unsigned weights[4];
		size_t n;
	} cases[] = {
	    {"3:1", {3, 1}, 2},
	    {"5:3:2", {5, 3, 2}, 3},
	    {"1:1:1:7", {1, 1, 1, 7}, 4},
	    {"100:1", {100, 1}, 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wrr_item items[4];
		memset(items, 0, sizeof(items));
		unsigned total = 0, got[4] = {0};
		for (size_t k = 0; k < cases[i].n; k++)
			total += items[k].weight = cases[i].weights[k];
		for (unsigned round = 0; round < 3 * total; round++)
			got[wrr_next(items, cases[i].n)]++;
		for (size_t k = 0; k < cases[i].n; k++)
			if (got[k] != 3 * cases[i].weights[k])
				fail_msg("%s: item %zu chosen %u times in 3 cycles, want %u",
				         cases[i].label, k, got[k], 3 * cases[i].weights[k]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequences),
	    cmocka_unit_test(test_shares),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
