/* test_rowsum - rows summed in order: equal rows agree, any change shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/rowsum.h"

/* A row as a string of values: i<n> integer, r<x> real, t<text>, b<bytes>, n NULL, | between
 * values, ; between rows. */
static void
sum_of(const char *rows, unsigned char out[ROWSUM_BYTES])
{
	struct rowsum r;
	rowsum_init(&r);
	const char *p = rows;
	while (*p) {
		size_t n = strcspn(p, "|;");
		char v[64];
		snprintf(v, sizeof(v), "%.*s", (int)n, p);
		switch (n ? v[0] : 'e') {
		case 'e':
			break; /* a row without values */
		case 'i':
			rowsum_int(&r, strtoll(v + 1, NULL, 10));
			break;
		case 'r':
			rowsum_real(&r, strtod(v + 1, NULL));
			break;
		case 't':
			rowsum_text(&r, v + 1, n - 1);
			break;
		case 'b':
			rowsum_bytes(&r, v + 1, n - 1);
			break;
		case 'n':
			rowsum_null(&r);
			break;
		default:
			fail_msg("bad test value [%s]", v);
		}
		p += n;
		if (*p == ';')
			rowsum_row_end(&r);
		if (*p)
			p++;
	}
	rowsum_final(&r, out);
}

static void
test_pairs(void **state)
{
	(void)state;
	static const struct {
		const char *label, *a, *b;
		int same;
	} cases[] = {
	    {"same rows", "i1|tx;i2|ty;", "i1|tx;i2|ty;", 1},
	    {"no rows", "", "", 1},
	    {"no rows and one empty row", "", ";", 0},
	    {"row order", "i1|tx;i2|ty;", "i2|ty;i1|tx;", 0},
	    {"one value changed", "i1|tx;i2|ty;", "i1|tx;i2|tz;", 0},
	    {"NULL and empty text", "n;", "t;", 0},
	    {"empty text and empty bytes", "t;", "b;", 0},
	    {"text and bytes alike", "tab;", "bab;", 0},
	    {"value boundary", "tab|tc;", "ta|tbc;", 0},
	    {"row boundary", "ta;tb;", "ta|tb;", 0},
	    {"integer and real", "i1;", "r1;", 0},
	    {"zero and minus zero", "r0;", "r-0;", 0},
	    {"integer and NULL", "i0;", "n;", 0},
	    {"large integers", "i9223372036854775807;", "i9223372036854775807;", 1},
	    {"large integers differ", "i9223372036854775807;", "i-9223372036854775808;", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char a[ROWSUM_BYTES], b[ROWSUM_BYTES];
		sum_of(cases[i].a, a);
		sum_of(cases[i].b, b);
		int same = memcmp(a, b, sizeof(a)) == 0;
		if (same != cases[i].same)
			fail_msg("%s: [%s] and [%s] sums %s, want %s", cases[i].label, cases[i].a,
			         cases[i].b, same ? "equal" : "differ",
			         cases[i].same ? "equal" : "differ");
	}
}

/* Many rows (past several chunk folds): the same twice, and one changed near the end shows. */
static void
test_many(void **state)
{
	(void)state;
	unsigned char sums[3][ROWSUM_BYTES];
	for (int k = 0; k < 3; k++) {
		struct rowsum r;
		rowsum_init(&r);
		for (int64_t i = 0; i < 100000; i++) {
			char t[32];
			int n = snprintf(t, sizeof(t), "user%lld@example.com", (long long)i);
			if (k == 2 && i == 99998)
				t[0] = 'U';
			rowsum_int(&r, i);
			rowsum_text(&r, t, (size_t)n);
			rowsum_row_end(&r);
		}
		assert_int_equal(r.rows, 100000);
		rowsum_final(&r, sums[k]);
	}
	assert_memory_equal(sums[0], sums[1], ROWSUM_BYTES);
	assert_memory_not_equal(sums[0], sums[2], ROWSUM_BYTES);
	char hex[2 * ROWSUM_BYTES + 1];
	rowsum_hex(sums[0], 8, hex);
	assert_int_equal(strlen(hex), 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pairs),
	    cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
