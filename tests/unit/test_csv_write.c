/* test_csv_write - RFC 4180 fields and the spreadsheet formula guard, row by row */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/csv_write.h"

static const struct {
	const char *label, *in;
	unsigned flags;
	const char *want;
} cases[] = {
    {"plain", "Ann", CSV_WRITE_GUARD, "Ann"},
    {"empty", "", CSV_WRITE_GUARD, ""},
    {"comma quoted", "Jakarta, ID", 0, "\"Jakarta, ID\""},
    {"quote doubled", "say \"hi\"", 0, "\"say \"\"hi\"\"\""},
    {"line break quoted", "a\r\nb", 0, "\"a\r\nb\""},
    {"edge blank quoted", " x", 0, "\" x\""},
    {"UTF-8 as it is", "Jos\xc3\xa9", CSV_WRITE_GUARD, "Jos\xc3\xa9"},
    {"formula guarded", "=HYPERLINK(\"x\")", CSV_WRITE_GUARD, "\"'=HYPERLINK(\"\"x\"\")\""},
    {"formula raw", "=1+2", 0, "=1+2"},
    {"at guarded", "@SUM(A1)", CSV_WRITE_GUARD, "\"'@SUM(A1)\""},
    {"tab guarded", "\tx", CSV_WRITE_GUARD, "\"'\tx\""},
    {"plus formula guarded", "+1+cmd|' /C calc'!A0", CSV_WRITE_GUARD, "\"'+1+cmd|' /C calc'!A0\""},
    {"minus formula guarded", "-2+3+cmd", CSV_WRITE_GUARD, "\"'-2+3+cmd\""},
    {"negative number kept", "-3.5", CSV_WRITE_GUARD, "-3.5"},
    {"phone kept", "+62 812-3456-7890", CSV_WRITE_GUARD, "+62 812-3456-7890"},
    {"phone with brackets kept", "+1 (555) 010-9999", CSV_WRITE_GUARD, "+1 (555) 010-9999"},
    {"lone minus guarded", "-", CSV_WRITE_GUARD, "\"'-\""},
    {"equals inside kept", "a=b", CSV_WRITE_GUARD, "a=b"},
};

static void
test_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		csv_write_field(&b, cases[i].in, strlen(cases[i].in), true, cases[i].flags);
		if (strcmp(b.data ? b.data : "", cases[i].want) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].label, b.data ? b.data : "",
			         cases[i].want);
		buf_free(&b);
	}
}

static void
test_row(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	csv_write_field(&b, "a", 1, true, 0);
	csv_write_field(&b, "", 0, false, 0);
	csv_write_field(&b, "c,d", 3, false, 0);
	csv_write_end(&b);
	assert_string_equal(b.data, "a,,\"c,d\"\r\n");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
