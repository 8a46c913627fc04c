/* test_attrs - attrs_parse reads what json_loads reads, the flat objects quickly */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/attrs.h"

/*
 * Each input is read by attrs_parse and by json_loads with duplicate names
 * refused: both must give the same object (json_equal, and the same order of
 * names, which templates do not see but a dump would), or both refuse (ok 0).
 * want, when set, is the object's compact dump, so that a row also checks
 * what was read, not only that the two agree.
 */
static const struct {
	const char *label, *in;
	int ok;
	const char *want;
} cases[] = {
    /* The importer's shape: read directly. */
    {"empty object", "{}", 1, "{}"},
    {"strings", "{\"first_name\":\"Ann\",\"city\":\"Oslo\"}", 1,
     "{\"first_name\": \"Ann\", \"city\": \"Oslo\"}"},
    {"UTF-8 names and values", "{\"pr\xc3\xa9nom\":\"Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
     1, "{\"pr\xc3\xa9nom\": \"Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"},
    {"blanks inside names", "{\"First Name\":\"Ann\"}", 1, "{\"First Name\": \"Ann\"}"},
    {"empty name and value", "{\"\":\"\"}", 1, "{\"\": \"\"}"},
    {"whitespace everywhere", " \t\r\n{ \"a\" :\n\"b\" , \"c\":\"d\" }\n ", 1,
     "{\"a\": \"b\", \"c\": \"d\"}"},
    {"DEL and 8-bit punctuation as data", "{\"a\":\"x\x7fy\xc2\xa0z\"}", 1, NULL},
    {"dotted names kept flat", "{\"utm.source\":\"mail\"}", 1, "{\"utm.source\": \"mail\"}"},
    /* Everything else goes to jansson: same values. */
    {"escapes", "{\"a\":\"say \\\"hi\\\"\\n\\u00e9\\\\\"}", 1,
     "{\"a\": \"say \\\"hi\\\"\\n\xc3\xa9\\\\\"}"},
    {"escaped name", "{\"a\\u0062\":\"c\"}", 1, "{\"ab\": \"c\"}"},
    {"numbers, booleans, null", "{\"n\":42,\"x\":1.5,\"t\":true,\"f\":false,\"z\":null}", 1,
     "{\"n\": 42, \"x\": 1.5, \"t\": true, \"f\": false, \"z\": null}"},
    {"nested", "{\"a\":{\"b\":[\"c\"]},\"d\":\"e\"}", 1, "{\"a\": {\"b\": [\"c\"]}, \"d\": \"e\"}"},
    {"a string, then a number", "{\"a\":\"b\",\"c\":1}", 1, "{\"a\": \"b\", \"c\": 1}"},
    /* Refused, by both. */
    {"empty", "", 0, NULL},
    {"blank", "  ", 0, NULL},
    {"array", "[\"a\"]", 0, NULL},
    {"string", "\"a\"", 0, NULL},
    {"duplicate name", "{\"a\":\"b\",\"a\":\"c\"}", 0, NULL},
    {"duplicate after a number", "{\"n\":1,\"a\":\"b\",\"a\":\"c\"}", 0, NULL},
    {"unterminated", "{\"a\":\"b\"", 0, NULL},
    {"unterminated string", "{\"a\":\"b}", 0, NULL},
    {"trailing comma", "{\"a\":\"b\",}", 0, NULL},
    {"missing colon", "{\"a\" \"b\"}", 0, NULL},
    {"trailing bytes", "{\"a\":\"b\"} x", 0, NULL},
    {"two objects", "{}{}", 0, NULL},
    {"bare name", "{a:\"b\"}", 0, NULL},
    {"single quotes", "{'a':'b'}", 0, NULL},
    {"control byte in a value", "{\"a\":\"b\tc\"}", 0, NULL},
    {"control byte in a name", "{\"a\nb\":\"c\"}", 0, NULL},
    {"invalid UTF-8", "{\"a\":\"\xc3\"}", 0, NULL},
    {"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", 0, NULL},
    {"surrogate in UTF-8", "{\"a\":\"\xed\xa0\x80\"}", 0, NULL},
    {"past U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}", 0, NULL},
    {"byte order mark", "\xef\xbb\xbf{}", 0, NULL},
    {"escaped NUL", "{\"a\":\"\\u0000\"}", 0, NULL},
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *got = NULL;
		int rc = attrs_parse(cases[i].in, &got);
		json_t *ref = json_loads(cases[i].in, JSON_REJECT_DUPLICATES, NULL);
		if (ref && !json_is_object(ref)) {
			json_decref(ref);
			ref = NULL;
		}
		char *gs = rc == 0 ? json_dumps(got, JSON_PRESERVE_ORDER) : NULL;
		char *rs = ref ? json_dumps(ref, JSON_PRESERVE_ORDER) : NULL;
		if ((rc == 0) != cases[i].ok || (ref != NULL) != cases[i].ok ||
		    (rc == 0 && (!json_equal(got, ref) || strcmp(gs, rs) != 0)) ||
		    (gs && cases[i].want && strcmp(gs, cases[i].want) != 0)) {
			print_error("%s: got rc %d %s, json_loads %s, want %s %s\n", cases[i].label,
			            rc, gs ? gs : "-", rs ? rs : "refuses",
			            cases[i].ok ? "ok" : "refused",
			            cases[i].want ? cases[i].want : "");
			fail();
		}
		free(gs);
		free(rs);
		json_decref(got);
		json_decref(ref);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
