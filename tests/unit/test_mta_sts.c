/*
 * test_mta_sts - RFC 8461's TXT record, policy file and MX patterns: tables of
 * cases, and golden files (tests/data/mta_sts/NAME.in -> NAME.out: the policy
 * as mta_sts_policy_format writes it, or "invalid: REASON"). Set
 * KIRIM_UPDATE_GOLDEN=1 to rewrite the .out files after a deliberate change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/mta_sts.h"

#include "test_data.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_txt(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *recs[3];
		size_t n;
		const char *want; /* the id, or NULL: no policy */
	} cases[] = {
	    {"rfc example", {"v=STSv1; id=20160831085700Z;"}, 1, "20160831085700Z"},
	    {"no final semicolon", {"v=STSv1; id=abc123"}, 1, "abc123"},
	    {"no blanks", {"v=STSv1;id=x"}, 1, "x"},
	    {"extension first", {"v=STSv1; ext_1=foo; id=42"}, 1, "42"},
	    {"other records ignored", {"google-site-verification=abc", "v=STSv1; id=7"}, 2, "7"},
	    {"two STS records", {"v=STSv1; id=1", "v=STSv1; id=2"}, 2, NULL},
	    {"none", {"v=spf1 -all"}, 1, NULL},
	    {"version must come first", {"id=1; v=STSv1"}, 1, NULL},
	    {"v=STSv10 is not STSv1", {"v=STSv10; id=1"}, 1, NULL},
	    {"lower-case version", {"v=stsv1; id=1"}, 1, NULL},
	    {"no id", {"v=STSv1;"}, 1, NULL},
	    {"bare version", {"v=STSv1"}, 1, NULL},
	    {"id too long", {"v=STSv1; id=123456789012345678901234567890123"}, 1, NULL},
	    {"id of 32",
	     {"v=STSv1; id=12345678901234567890123456789012"},
	     1,
	     "12345678901234567890123456789012"},
	    {"id punctuation", {"v=STSv1; id=2016-08-31"}, 1, NULL},
	    {"empty id", {"v=STSv1; id=;"}, 1, NULL},
	    {"missing delimiter", {"v=STSv1 id=1"}, 1, NULL},
	    {"garbage field", {"v=STSv1; id=1; ???"}, 1, NULL},
	    {"first id wins", {"v=STSv1; id=1; id=2"}, 1, "1"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char id[MTA_STS_ID_MAX] = "unset";
		const char *reason = NULL;
		int rc = mta_sts_txt_select(cases[i].recs, cases[i].n, id, &reason);
		if (cases[i].want == NULL) {
			if (rc != -1 || reason == NULL || strcmp(id, "unset") != 0)
				fail_msg("%s: got rc %d id %s, want refused", cases[i].label, rc,
				         id);
		} else if (rc != 0 || strcmp(id, cases[i].want) != 0) {
			fail_msg("%s: got rc %d id [%s] (%s), want [%s]", cases[i].label, rc, id,
			         reason ? reason : "", cases[i].want);
		}
	}
}

static void
test_policy(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in;
		int mode; /* -1: refused */
		long max_age;
		size_t nmx;
	} cases[] = {
	    {"enforce", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n", 2, 86400,
	     1},
	    {"crlf", "version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 1\r\n", 1, 1, 1},
	    {"order free", "max_age: 5\nmx: a.example\nmode: enforce\nversion: STSv1\n", 2, 5, 1},
	    {"none without mx", "version: STSv1\nmode: none\nmax_age: 0\n", 0, 0, 0},
	    {"zero max_age", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 0\n", 2, 0, 1},
	    {"year", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557600\n", 2, 31557600, 1},
	    {"over a year", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601\n", -1, 0,
	     0},
	    {"eleven digits", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 00000000001\n", -1,
	     0, 0},
	    {"negative", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n", -1, 0, 0},
	    {"no max_age", "version: STSv1\nmode: enforce\nmx: a.b\n", -1, 0, 0},
	    {"no mode", "version: STSv1\nmx: a.b\nmax_age: 1\n", -1, 0, 0},
	    {"bad version", "version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1\n", -1, 0, 0},
	    {"mode case", "version: STSv1\nmode: ENFORCE\nmx: a.b\nmax_age: 1\n", -1, 0, 0},
	    {"field case", "Version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n", -1, 0, 0},
	    {"no colon", "version STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n", -1, 0, 0},
	    {"blank before colon", "version : STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n", -1, 0,
	     0},
	    {"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n", -1, 0, 0},
	    {"single-label mx", "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 1\n", -1, 0,
	     0},
	    {"inner star", "version: STSv1\nmode: enforce\nmx: a.*.b\nmax_age: 1\n", -1, 0, 0},
	    {"bare star", "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", -1, 0, 0},
	    {"star without dot", "version: STSv1\nmode: enforce\nmx: *example.com\nmax_age: 1\n",
	     -1, 0, 0},
	    {"nul byte", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\nx: \x01\n", -1, 0, 0},
	    {"extension ignored", "version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\nfoo: bar\n",
	     2, 1, 1},
	    {"repeated mode: first wins",
	     "version: STSv1\nmode: testing\nmode: enforce\nmx: a.b\nmax_age: 1\n", 1, 1, 1},
	    {"html", "<html><body>404</body></html>\n", -1, 0, 0},
	    {"empty", "", -1, 0, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct mta_sts_policy p;
		memset(&p, 0x5a, sizeof(p));
		const char *reason = NULL;
		int rc = mta_sts_policy_parse(cases[i].in, strlen(cases[i].in), &p, &reason);
		if (cases[i].mode < 0) {
			if (rc != -1 || reason == NULL || p.nmx != 0x5a5a5a5a5a5a5a5aULL)
				fail_msg("%s: got rc %d, want refused (and *out untouched)",
				         cases[i].label, rc);
			continue;
		}
		if (rc != 0 || (int)p.mode != cases[i].mode || p.max_age != cases[i].max_age ||
		    p.nmx != cases[i].nmx)
			fail_msg("%s: got rc %d (%s) mode %d max_age %ld nmx %zu, want %d %ld %zu",
			         cases[i].label, rc, reason ? reason : "", rc ? -1 : (int)p.mode,
			         rc ? 0 : p.max_age, rc ? 0 : p.nmx, cases[i].mode,
			         cases[i].max_age, cases[i].nmx);
	}
	/* Over 64 KiB: refused before it is read. */
	size_t big = MTA_STS_BODY_MAX + 1;
	char *b = malloc(big);
	memset(b, '\n', big);
	struct mta_sts_policy p;
	const char *reason = NULL;
	assert_int_equal(mta_sts_policy_parse(b, big, &p, &reason), -1);
	assert_non_null(strstr(reason, "64 KiB"));
	free(b);
	/* 65 mx lines: over the cap. */
	struct buf many = BUF_INIT;
	buf_adds(&many, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < MTA_STS_MX_MAX + 1; i++)
		buf_printf(&many, "mx: mx%d.example.com\n", i);
	assert_int_equal(mta_sts_policy_parse(many.data, many.len, &p, &reason), -1);
	buf_free(&many);
}

static void
test_match(void **state)
{
	(void)state;
	static const struct {
		const char *pattern, *host;
		bool want;
	} cases[] = {
	    {"mail.example.com", "mail.example.com", true},
	    {"mail.example.com", "MAIL.Example.COM", true},
	    {"mail.example.com", "mail.example.com.", true},
	    {"mail.example.com", "mail2.example.com", false},
	    {"mail.example.com", "example.com", false},
	    {"*.example.net", "mx1.example.net", true},
	    {"*.example.net", "MX1.EXAMPLE.NET.", true},
	    {"*.example.net", "example.net", false},
	    {"*.example.net", "a.mx1.example.net", false},
	    {"*.example.net", ".example.net", false},
	    {"*.example.net", "mx1.example.network", false},
	    {"*.example.net", "mx1example.net", false},
	    {"*.mail.example.org", "a.mail.example.org", true},
	};
	for (size_t i = 0; i < N(cases); i++) {
		bool got = mta_sts_pattern_match(cases[i].pattern, cases[i].host);
		if (got != cases[i].want)
			fail_msg("%s vs %s: got %d want %d", cases[i].pattern, cases[i].host, got,
			         cases[i].want);
	}
	struct mta_sts_policy p;
	const char *reason;
	const char *in =
	    "version: STSv1\nmode: enforce\nmx: a.example\nmx: *.b.example\nmax_age: 1\n";
	assert_int_equal(mta_sts_policy_parse(in, strlen(in), &p, &reason), 0);
	assert_true(mta_sts_mx_match(&p, "a.example"));
	assert_true(mta_sts_mx_match(&p, "x.b.example"));
	assert_false(mta_sts_mx_match(&p, "b.example"));
	assert_false(mta_sts_mx_match(&p, "c.example"));
}

static void
test_golden(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "rfc-example",  "testing-no-final-newline",
	    "none-no-mx",   "extensions-and-repeats",
	    "no-version",   "enforce-no-mx",
	    "max-age-over", "mode-case",
	    "bad-wildcard", "html",
	    "binary",
	};
	int update = getenv("KIRIM_UPDATE_GOLDEN") != NULL, failed = 0;
	for (size_t i = 0; i < N(names); i++) {
		char in[1024], outp[1024];
		snprintf(in, sizeof(in), "%s/mta_sts/%s.in", test_datadir(), names[i]);
		snprintf(outp, sizeof(outp), "%s/mta_sts/%s.out", test_datadir(), names[i]);
		size_t len, wlen;
		char *body = test_slurp(in, &len);
		if (!body)
			fail_msg("cannot read %s", in);
		struct mta_sts_policy p;
		const char *reason = NULL;
		struct buf got = BUF_INIT;
		if (mta_sts_policy_parse(body, len, &p, &reason) == 0)
			mta_sts_policy_format(&p, &got);
		else
			buf_printf(&got, "invalid: %s\n", reason);
		if (update) {
			FILE *f = fopen(outp, "wb");
			assert_non_null(f);
			fwrite(got.data, 1, got.len, f);
			fclose(f);
		}
		char *want = test_slurp(outp, &wlen);
		if (!want)
			fail_msg("cannot read %s", outp);
		if (wlen != got.len || memcmp(want, got.data, wlen) != 0) {
			print_error("%s: got\n%s\nwant\n%s\n", names[i], got.data, want);
			failed++;
		}
		/* What was written parses back to the same policy. */
		if (got.len && strncmp(got.data, "invalid", 7) != 0) {
			struct mta_sts_policy q;
			assert_int_equal(mta_sts_policy_parse(got.data, got.len, &q, &reason), 0);
			struct buf again = BUF_INIT;
			mta_sts_policy_format(&q, &again);
			assert_string_equal(again.data, got.data);
			buf_free(&again);
		}
		free(want);
		free(body);
		buf_free(&got);
	}
	if (failed)
		fail_msg("%d of %zu golden files differ", failed, N(names));
}

/* A policy is refreshed half its max_age before it expires, at most a day before. */
static void
test_refresh_at(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		long long fetched_at;
		long max_age;
		long long want;
	} cases[] = {
	    {"an hour: after half an hour", 1000, 3600, 2800},
	    {"a day: after half a day", 0, 86400, 43200},
	    {"a week: a day before it expires", 0, 604800, 518400},
	    {"a year: a day before", 0, MTA_STS_MAX_AGE_MAX, MTA_STS_MAX_AGE_MAX - 86400},
	    {"zero: at once", 500, 0, 500},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long got = mta_sts_refresh_at(cases[i].fetched_at, cases[i].max_age);
		if (got != cases[i].want)
			fail_msg("%s: got %lld, want %lld", cases[i].label, got, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt),        cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_match),      cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_refresh_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
