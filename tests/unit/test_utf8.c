/* test_utf8 - UTF-8 validation and Latin-1 conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/utf8.h"

static const struct {
	const char *label;
	const char *in;
	bool want;
} valid_cases[] = {
    {"ASCII", "hello", true},
    {"empty", "", true},
    {"2-byte", "Jos\xc3\xa9", true},
    {"3-byte", "\xe6\x97\xa5\xe6\x9c\xac", true},
    {"4-byte", "\xf0\x9f\x98\x80", true},
    {"max code point U+10FFFF", "\xf4\x8f\xbf\xbf", true},
    {"Latin-1 byte alone", "Jos\xe9", false},
    {"truncated 2-byte", "\xc3", false},
    {"truncated 3-byte", "\xe6\x97", false},
    {"overlong 2-byte", "\xc0\xaf", false},
    {"overlong 3-byte", "\xe0\x80\xaf", false},
    {"overlong 4-byte", "\xf0\x80\x80\xaf", false},
    {"surrogate", "\xed\xa0\x80", false},
    {"beyond U+10FFFF", "\xf4\x90\x80\x80", false},
    {"stray continuation", "\x80", false},
    {"0xFF", "\xff", false},
    {"bad continuation", "\xc3\x28", false},
};

static void
test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		bool got = utf8_valid(valid_cases[i].in, strlen(valid_cases[i].in));
		if (got != valid_cases[i].want)
			fail_msg("%s: got %d want %d", valid_cases[i].label, got,
			         valid_cases[i].want);
	}
}

static void
test_latin1(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	utf8_from_latin1(&b, "Jos\xe9 M\xfcller \xff", 13);
	assert_string_equal(b.data, "Jos\xc3\xa9 M\xc3\xbcller \xc3\xbf");
	assert_true(utf8_valid(b.data, b.len));
	buf_free(&b);
}

/* utf8_put: each length's first and last code point, valid and as expected */
static void
test_put(void **state)
{
	(void)state;
	static const struct {
		uint32_t cp;
		const char *want;
	} cases[] = {
	    {0x41, "A"},
	    {0x7F, "\x7f"},
	    {0x80, "\xc2\x80"},
	    {0x7FF, "\xdf\xbf"},
	    {0x800, "\xe0\xa0\x80"},
	    {0xE9, "\xc3\xa9"},
	    {0xFFFF, "\xef\xbf\xbf"},
	    {0x10000, "\xf0\x90\x80\x80"},
	    {0x1F600, "\xf0\x9f\x98\x80"},
	    {0x10FFFF, "\xf4\x8f\xbf\xbf"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		utf8_put(&b, cases[i].cp);
		assert_int_equal(b.len, strlen(cases[i].want));
		assert_memory_equal(b.data, cases[i].want, b.len);
		assert_true(utf8_valid(b.data, b.len));
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_latin1),
	    cmocka_unit_test(test_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
