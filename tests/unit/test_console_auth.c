/*
 * test_console_auth - the console's pure rules: roles as scopes, the session
 * cookie read from a Cookie header, the CSRF token, the Origin rule and the
 * session's expiry, each a table of label, input, want.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/api_route.h"
#include "kirim/console_auth.h"

#define TOK "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde" /* 43 base64url characters */

static void
test_roles(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int want;
	} cases[] = {
	    {"viewer", API_SCOPE_READ},
	    {"editor", API_SCOPE_WRITE},
	    {"admin", API_SCOPE_ADMIN},
	    {"Admin", -1},
	    {"", -1},
	    {"root", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = console_role_parse(cases[i].in);
		if (got != cases[i].want)
			fail_msg("role '%s': got %d, want %d", cases[i].in, got, cases[i].want);
		if (got > 0)
			assert_string_equal(console_role_name(got), cases[i].in);
	}
	assert_int_equal(console_role_parse(NULL), -1);
}

static void
test_cookie(void **state)
{
	(void)state;
	static const struct {
		const char *label, *header, *want; /* want NULL: none */
	} cases[] = {
	    {"alone", "kirim_session=" TOK, TOK},
	    {"among others", "a=b; kirim_session=" TOK "; c=d", TOK},
	    {"trailing blank", "kirim_session=" TOK " ", TOK},
	    {"first of two", "kirim_session=" TOK "; kirim_session=x", TOK},
	    {"absent", "a=b; c=d", NULL},
	    {"prefix of a longer name", "xkirim_session=" TOK, NULL},
	    {"too short", "kirim_session=abc", NULL},
	    {"too long", "kirim_session=" TOK "x", NULL},
	    {"not base64url",
	     "kirim_session="
	     "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcde",
	     NULL},
	    {"empty", "kirim_session=", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[CONSOLE_TOKEN_CHARS + 1] = "";
		int rc = console_cookie(cases[i].header, out, sizeof(out));
		if (cases[i].want == NULL && rc == 0)
			fail_msg("%s: got '%s', want none", cases[i].label, out);
		if (cases[i].want && (rc != 0 || strcmp(out, cases[i].want) != 0))
			fail_msg("%s: got rc %d '%s', want '%s'", cases[i].label, rc, out,
			         cases[i].want);
	}
	char out[CONSOLE_TOKEN_CHARS + 1];
	assert_int_equal(console_cookie(NULL, out, sizeof(out)), -1);
	assert_int_equal(console_cookie("kirim_session=" TOK, out, 10), -1);
}

static void
test_csrf(void **state)
{
	(void)state;
	char a[CONSOLE_CSRF_CHARS + 1], b[CONSOLE_CSRF_CHARS + 1];
	assert_int_equal(console_csrf(TOK, a), 0);
	assert_int_equal(strlen(a), CONSOLE_CSRF_CHARS);
	assert_int_equal(console_csrf(TOK, b), 0);
	assert_string_equal(a, b); /* derived, so the same for the same session */
	assert_int_equal(console_csrf("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b), 0);
	assert_string_not_equal(a, b);
	assert_true(console_csrf_ok(TOK, a));
	assert_false(console_csrf_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", a));
	assert_false(console_csrf_ok(TOK, NULL));
	assert_false(console_csrf_ok(TOK, ""));
	a[5] ^= 1;
	assert_false(console_csrf_ok(TOK, a));
	/* Never the session's own hash, nor the token itself. */
	assert_false(console_csrf_ok(TOK, TOK));
}

static void
test_origin(void **state)
{
	(void)state;
	static const struct {
		const char *label, *origin, *host;
		bool https, want;
	} cases[] = {
	    {"same", "http://127.0.0.1:8026", "127.0.0.1:8026", false, true},
	    {"host case", "http://Admin.Example:8026", "admin.example:8026", false, true},
	    {"other port", "http://127.0.0.1:9999", "127.0.0.1:8026", false, false},
	    {"other host", "http://evil.example", "127.0.0.1:8026", false, false},
	    {"suffix trick", "http://127.0.0.1:8026.evil.example", "127.0.0.1:8026", false, false},
	    {"https wanted", "http://admin.example", "admin.example", true, false},
	    {"https", "https://admin.example", "admin.example", true, true},
	    {"null origin", "null", "127.0.0.1:8026", false, false},
	    {"absent", NULL, "127.0.0.1:8026", false, false},
	    {"no host", "http://127.0.0.1:8026", NULL, false, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = console_origin_ok(cases[i].origin, cases[i].host, cases[i].https);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].label, got, cases[i].want);
	}
}

static void
test_alive(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int64_t created, seen, now;
		bool want;
	} cases[] = {
	    {"fresh", 1000, 1000, 1000, true},
	    {"idle to the limit", 1000, 1000, 1000 + CONSOLE_IDLE, true},
	    {"idle past", 1000, 1000, 1001 + CONSOLE_IDLE, false},
	    {"used, old", 1000, 1000 + CONSOLE_ABSOLUTE, 1001 + CONSOLE_ABSOLUTE, false},
	    {"used, within", 1000, 1000 + CONSOLE_ABSOLUTE - 10, 1000 + CONSOLE_ABSOLUTE, true},
	    {"clock went back", 1000, 1000, 900, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = console_session_alive(cases[i].created, cases[i].seen, cases[i].now);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].label, got, cases[i].want);
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(console_user_name_ok("ann"));
	assert_true(console_user_name_ok("ann.lee@shop.example"));
	assert_false(console_user_name_ok(""));
	assert_false(console_user_name_ok("ann lee"));
	assert_false(console_user_name_ok("ann;drop"));
	char longname[102];
	memset(longname, 'a', 101);
	longname[101] = '\0';
	assert_false(console_user_name_ok(longname));
	longname[100] = '\0';
	assert_true(console_user_name_ok(longname));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles), cmocka_unit_test(test_cookie),
	    cmocka_unit_test(test_csrf),  cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_alive), cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
