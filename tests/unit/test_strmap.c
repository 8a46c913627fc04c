/* test_strmap - the string → pointer hash map: puts, replaces, misses, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/strmap.h"

static void
test_table(void **state)
{
	static const struct {
		const char *label, *key;
		intptr_t put; /* 0: only look up */
		intptr_t want;
	} cases[] = {
	    {"miss on empty", "a", 0, 0},
	    {"put a", "a", 1, 1},
	    {"put b", "b", 2, 2},
	    {"replace a", "a", 3, 3},
	    {"empty key", "", 4, 4},
	    {"case matters", "A", 0, 0},
	    {"prefix is another key", "ab", 0, 0},
	    {"b still there", "b", 0, 2},
	};
	struct strmap m = {0};
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].put)
			strmap_put(&m, cases[i].key, (void *)cases[i].put);
		intptr_t got = (intptr_t)strmap_get(&m, cases[i].key);
		if (got != cases[i].want) {
			print_error("%s: got %ld, want %ld\n", cases[i].label, (long)got,
			            (long)cases[i].want);
			bad++;
		}
	}
	assert_int_equal(m.len, 3);
	strmap_free(&m);
	assert_null(strmap_get(&m, "a"));
	assert_int_equal(bad, 0);
}

/* Growth keeps every key: 20,000 domains, as a large direct send has. */
static void
test_growth(void **state)
{
	struct strmap m = {0};
	char key[32];
	(void)state;
	for (intptr_t i = 1; i <= 20000; i++) {
		snprintf(key, sizeof(key), "d%ld.example", (long)i);
		strmap_put(&m, key, (void *)i);
	}
	assert_int_equal(m.len, 20000);
	int bad = 0;
	for (intptr_t i = 1; i <= 20000; i++) {
		snprintf(key, sizeof(key), "d%ld.example", (long)i);
		if ((intptr_t)strmap_get(&m, key) != i)
			bad++;
	}
	assert_null(strmap_get(&m, "d20001.example"));
	strmap_free(&m);
	assert_int_equal(bad, 0);
}

static int freed;
static void
count_free(void *value)
{
	free(value);
	freed++;
}

/* strmap_free_values hands every value (and only those) to the free function once. */
static void
test_free_values(void **state)
{
	struct strmap m = {0};
	(void)state;
	strmap_put(&m, "a", malloc(1));
	strmap_put(&m, "b", malloc(1));
	void *old = strmap_get(&m, "a");
	free(old);
	strmap_put(&m, "a", malloc(1)); /* replaced: the map holds the new value only */
	freed = 0;
	strmap_free_values(&m, count_free);
	assert_int_equal(freed, 2);
	assert_int_equal(m.len, 0);
	assert_null(strmap_get(&m, "b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
	                                   cmocka_unit_test(test_growth),
	                                   cmocka_unit_test(test_free_values)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
