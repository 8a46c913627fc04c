/* test_buf - the byte buffer and its JSON string writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"

static void
test_grow(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_addc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[b.len], '\0');
	buf_printf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.data + 10000, "42-x");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
	buf_free(&b); /* a freed buffer frees again harmlessly */
}

static const struct {
	const char *label;
	const char *in;
	size_t len;
	const char *want;
} json_cases[] = {
    {"plain", "abc", 3, "\"abc\""},
    {"empty", "", 0, "\"\""},
    {"quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\""},
    {"CR LF tab", "a\r\nb\tc", 6, "\"a\\r\\nb\\tc\""},
    {"other controls", "\x01\x1f", 2, "\"\\u0001\\u001f\""},
    {"embedded NUL", "a\0b", 3, "\"a\\u0000b\""},
    {"UTF-8 passes through", "Jos\xc3\xa9", 5, "\"Jos\xc3\xa9\""},
    {"DEL passes", "\x7f", 1, "\"\x7f\""},
};

static void
test_json_string(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		struct buf b = BUF_INIT;
		buf_json_string(&b, json_cases[i].in, json_cases[i].len);
		if (strcmp(b.data, json_cases[i].want) != 0)
			fail_msg("%s: got %s want %s", json_cases[i].label, b.data,
			         json_cases[i].want);
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grow),
	    cmocka_unit_test(test_json_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
