/* test_colour - brand colours and WCAG contrast (src/format/colour.c), as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/colour.h"

static void
test_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		uint32_t want;
	} cases[] = {
	    {"#1a73e8", 0, 0x1a73e8},
	    {"#1A73E8", 0, 0x1a73e8},
	    {"#fa0", 0, 0xffaa00},
	    {"#000", 0, 0x000000},
	    {"#ffffff", 0, 0xffffff},
	    {"1a73e8", -1, 0},
	    {"#1a73e", -1, 0},
	    {"#1a73e8f", -1, 0},
	    {"#ggg", -1, 0},
	    {"", -1, 0},
	    {"#", -1, 0},
	    {"red", -1, 0},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t got = 0xdeadbe;
		int rc = colour_parse(cases[i].in, &got);
		if (rc != cases[i].rc || (rc == 0 && got != cases[i].want)) {
			print_error("[%s]: rc %d %06x, want %d %06x\n", cases[i].in, rc, got,
			            cases[i].rc, cases[i].want);
			fails++;
		}
	}
	char out[8];
	colour_format(0x1a73e8, out);
	assert_string_equal(out, "#1a73e8");
	colour_format(0x00000f, out);
	assert_string_equal(out, "#00000f");
	assert_int_equal(fails, 0);
}

/* Known ratios (WebAIM's contrast checker: 777777 4.48, 767676 4.54; the others from
 * WCAG 2's formula in Python), to two decimals. */
static void
test_contrast(void **state)
{
	(void)state;
	static const struct {
		uint32_t a, b;
		double want;
	} cases[] = {
	    {0x000000, 0xffffff, 21.00}, {0xffffff, 0x000000, 21.00}, {0x777777, 0xffffff, 4.48},
	    {0x767676, 0xffffff, 4.54},  {0x1a73e8, 0xffffff, 4.51},  {0xffaa00, 0xffffff, 1.91},
	    {0x123456, 0x123456, 1.00},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = colour_contrast(cases[i].a, cases[i].b);
		if (got < cases[i].want - 0.005 || got > cases[i].want + 0.005) {
			print_error("%06x on %06x: %.3f want %.2f\n", cases[i].a, cases[i].b, got,
			            cases[i].want);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

/* Whatever the brand's colour, the text on it and the links made from it read at 4.5:1. */
static void
test_readable(void **state)
{
	(void)state;
	static const uint32_t brands[] = {0x1a73e8, 0xffaa00, 0xffff00, 0x00ff00, 0x000000,
	                                  0xffffff, 0x7f7f7f, 0xc0392b, 0x0b6e4f, 0xe91e63};
	assert_int_equal(colour_text_on(0xffffff), 0x000000);
	assert_int_equal(colour_text_on(0x000000), 0xffffff);
	assert_int_equal(colour_text_on(0xffaa00), 0x000000);
	assert_int_equal(colour_text_on(0x0b6e4f), 0xffffff);
	int fails = 0;
	for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++) {
		uint32_t b = brands[i];
		uint32_t t = colour_text_on(b);
		uint32_t link = colour_readable_on(b, 0xffffff, 4.5);
		uint32_t dark = colour_readable_on(b, 0x111111, 4.5);
		if (colour_contrast(t, b) < 4.5 || colour_contrast(link, 0xffffff) < 4.5 ||
		    colour_contrast(dark, 0x111111) < 4.5) {
			print_error("%06x: text %06x %.2f, link %06x %.2f, on dark %06x %.2f\n", b,
			            t, colour_contrast(t, b), link, colour_contrast(link, 0xffffff),
			            dark, colour_contrast(dark, 0x111111));
			fails++;
		}
	}
	/* A colour that reads already is kept as it is. */
	assert_int_equal(colour_readable_on(0x0b6e4f, 0xffffff, 4.5), 0x0b6e4f);
	assert_int_equal(fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_contrast),
	    cmocka_unit_test(test_readable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
