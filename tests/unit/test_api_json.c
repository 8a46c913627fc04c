/* test_api_json - problem details, entity tags and If-Match, cursors, JSON text and times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/api_json.h"

static void
test_problem(void **state)
{
	(void)state;
	json_t *p = api_problem(412, "etag-mismatch", "changed", "/api/contacts/a@b.example");
	char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text,
	                    "{\"detail\":\"changed\",\"instance\":\"/api/contacts/a@b.example\","
	                    "\"status\":412,\"title\":\"Precondition Failed\","
	                    "\"type\":\"urn:kirim:problem:etag-mismatch\"}");
	free(text);
	json_decref(p);
	p = api_problem(404, NULL, NULL, NULL);
	text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text,
	                    "{\"status\":404,\"title\":\"Not Found\",\"type\":\"about:blank\"}");
	free(text);
	json_decref(p);
	assert_string_equal(api_status_text(422), "Unprocessable Content");
	assert_string_equal(api_status_text(299), "Error");
}

static void
test_etag(void **state)
{
	(void)state;
	char a[API_ETAG_MAX], b[API_ETAG_MAX], c[API_ETAG_MAX];
	json_t *x = json_pack("{s:s,s:i}", "email", "a@b.example", "n", 1);
	json_t *y = json_pack("{s:i,s:s}", "n", 1, "email", "a@b.example"); /* other key order */
	json_t *z = json_pack("{s:s,s:i}", "email", "a@b.example", "n", 2);
	api_etag(x, a);
	api_etag(y, b);
	api_etag(z, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 18);
	assert_true(a[0] == '"' && a[17] == '"');
	json_decref(x);
	json_decref(y);
	json_decref(z);

	static const struct {
		const char *label, *header, *etag;
		bool want;
	} cases[] = {
	    {"absent passes", NULL, "\"abc\"", true},
	    {"absent, no resource", NULL, NULL, true},
	    {"same", "\"abc\"", "\"abc\"", true},
	    {"other", "\"abd\"", "\"abc\"", false},
	    {"in a list", "\"x\", \"abc\"", "\"abc\"", true},
	    {"not in a list", "\"x\",\"y\"", "\"abc\"", false},
	    {"weak never", "W/\"abc\"", "\"abc\"", false},
	    {"star", "*", "\"abc\"", true},
	    {"star, no resource", "*", NULL, false},
	    {"unquoted", "abc", "\"abc\"", false},
	    {"unterminated", "\"abc", "\"abc\"", false},
	    {"star in a list", "*, \"x\"", "\"abc\"", false},
	    {"empty", "", "\"abc\"", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (api_if_match(cases[i].header, cases[i].etag) != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].label, !cases[i].want,
			         cases[i].want);
}

static void
test_cursor(void **state)
{
	(void)state;
	static const char *const keys[] = {
	    "", "a", "ann@one.example", "12345", "\xc3\xa9t\xc3\xa9@caf\xc3\xa9.example", "?&=/+"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char c[API_CURSOR_MAX], k[256];
		api_cursor_encode(keys[i], strlen(keys[i]), c);
		assert_int_equal(c[0], 'k');
		assert_null(strpbrk(c, "+/=&?"));
		int n = api_cursor_decode(c, k, sizeof(k));
		if (n != (int)strlen(keys[i]) || strcmp(k, keys[i]) != 0)
			fail_msg("key [%s]: cursor [%s] gave back %d [%s]", keys[i], c, n,
			         n >= 0 ? k : "");
	}
	static const char *const bad[] = {"", "x", "kYW5u=", "kYW+u", "k!!!!", "kAA"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char k[64];
		if (api_cursor_decode(bad[i], k, sizeof(k)) >= 0)
			fail_msg("[%s] decoded as a cursor", bad[i]);
	}
	/* A key too long for the caller: refused. */
	char c[API_CURSOR_MAX], k[4];
	api_cursor_encode("abcdef", 6, c);
	assert_int_equal(api_cursor_decode(c, k, sizeof(k)), -1);
}

static void
test_values(void **state)
{
	(void)state;
	json_t *t = api_json_time(1700000000);
	assert_string_equal(json_string_value(t), "2023-11-14T22:13:20Z");
	json_decref(t);
	assert_true(json_is_null(api_json_time(0)));
	json_t *l = api_json_text("caf\xe9"); /* Latin-1 */
	assert_string_equal(json_string_value(l), "caf\xc3\xa9");
	json_decref(l);
	assert_true(json_is_null(api_json_opt("")));
	json_t *p = api_json_parse("{\"a\":1}");
	assert_true(json_is_object(p));
	json_decref(p);
	p = api_json_parse("not json");
	assert_string_equal(json_string_value(p), "not json");
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_problem),
	    cmocka_unit_test(test_etag),
	    cmocka_unit_test(test_cursor),
	    cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
