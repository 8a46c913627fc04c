/* test_strdist - the distance of names, row by row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/strdist.h"

static void
test_rows(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool fold;
		size_t want;
	} rows[] = {
	    {"", "", false, 0},
	    {"import", "import", false, 0},
	    {"imprt", "import", false, 1},   /* a deletion */
	    {"importt", "import", false, 1}, /* an insertion */
	    {"impart", "import", false, 1},  /* a change */
	    {"sned", "send", false, 1},      /* two neighbours swapped */
	    {"IMPORT", "import", true, 0},   /* case apart */
	    {"IMPORT", "import", false, 6},  /* case counts */
	    {"ca", "abc", false, 3},         /* OSA: no edit of a swapped pair */
	    {"concurency", "concurrency", false, 1},
	    {"kitten", "sitting", false, 3},
	    {"First_Name", "First Name", false, 1},
	    {"ab", "", false, 2},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t got = strdist(rows[i].a, strlen(rows[i].a), rows[i].b, strlen(rows[i].b),
		                     rows[i].fold);
		if (got != rows[i].want)
			printf("strdist(\"%s\", \"%s\", %d): got %zu want %zu\n", rows[i].a,
			       rows[i].b, rows[i].fold, got, rows[i].want);
		assert_int_equal(got, rows[i].want);
	}
	char big[STRDIST_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(strdist(big, strlen(big), "x", 1, false) == SIZE_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_rows)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
