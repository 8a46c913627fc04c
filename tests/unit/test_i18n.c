/* test_i18n - Accept-Language negotiation and language tags (src/format/i18n.c), as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/i18n.h"

static void
test_pick(void **state)
{
	(void)state;
	static const char *const avail[] = {"en", "id", "pt-BR"};
	static const struct {
		const char *label, *accept;
		int want; /* index in avail, -1 none */
	} cases[] = {
	    {"NULL", NULL, -1},
	    {"empty", "", -1},
	    {"one exact", "id", 1},
	    {"case", "ID", 1},
	    {"region falls back", "id-ID", 1},
	    {"browser's list", "id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", 1},
	    {"english first", "en-US,en;q=0.9,id;q=0.8", 0},
	    {"q decides, not order", "en;q=0.5, id;q=0.8", 1},
	    {"ties: the earlier", "fr, id, en", 1},
	    {"unknown only", "fr-FR,de;q=0.9", -1},
	    {"unknown, then known", "fr;q=1, en;q=0.1", 0},
	    {"q=0 refuses", "id;q=0, en;q=0.1", 0},
	    {"only q=0", "id;q=0", -1},
	    {"star", "*", 0},
	    {"star after unknown", "fr, *;q=0.5", 0},
	    {"blanks", "  id ; q=0.9 ,en;q=0.1", 1},
	    {"longer avail not taken by shorter range", "pt", -1},
	    {"longer range takes its own", "pt-BR", 2},
	    {"longer still falls back", "pt-BR-x-private", 2},
	    {"bad q skipped", "id;q=2, en", 0},
	    {"bad q text skipped", "id;q=high, en;q=0.3", 0},
	    {"three decimals", "id;q=0.001, en;q=0.0001", 1},
	    {"q 1.000", "en;q=1.000", 0},
	    {"q 1.001 bad", "en;q=1.001", -1},
	    {"junk", ";;,,", -1},
	    {"attribute value (Indonesian)", "id", 1},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = i18n_pick(cases[i].accept, avail, 3);
		if (got != cases[i].want) {
			print_error("%s: [%s] got %d want %d\n", cases[i].label,
			            cases[i].accept ? cases[i].accept : "(null)", got,
			            cases[i].want);
			fails++;
		}
	}
	assert_int_equal(i18n_pick("en", avail, 0), -1);
	assert_int_equal(fails, 0);
}

static void
test_tag_ok(void **state)
{
	(void)state;
	static const struct {
		const char *tag;
		bool want;
	} cases[] = {
	    {"en", true},        {"id", true},     {"pt-BR", true},
	    {"zh-Hant", true},   {"gsw", true},    {"", false},
	    {"e", false},        {"engl", false},  {"en-", false},
	    {"en--US", false},   {"en_US", false}, {"../x", false},
	    {"en/US", false},    {"1d", false},    {"en-toolongsubtag", false},
	    {"en-US-x-a", true},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i18n_tag_ok(cases[i].tag) != cases[i].want) {
			print_error("[%s]: want %d\n", cases[i].tag, cases[i].want);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick),
	    cmocka_unit_test(test_tag_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
