/* test_policy - patterns, field-by-field merging and the shipped presets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/policy.h"
#include "kirim/throttle.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_pattern_parse(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want; /* want NULL: refused */
		enum policy_kind kind;
	} cases[] = {
	    {"domain", "gmail.com", "gmail.com", POLICY_KIND_EXACT},
	    {"upper case", "GMail.COM", "gmail.com", POLICY_KIND_EXACT},
	    {"trailing dot", "gmail.com.", "gmail.com", POLICY_KIND_EXACT},
	    {"at sign", "@yahoo.co.id", "yahoo.co.id", POLICY_KIND_EXACT},
	    {"blanks", "  web.de ", "web.de", POLICY_KIND_EXACT},
	    {"unicode", "münchen.de", "xn--mnchen-3ya.de", POLICY_KIND_EXACT},
	    {"wildcard", "*.outlook.com", "*.outlook.com", POLICY_KIND_WILDCARD},
	    {"wildcard upper", "*.Outlook.COM", "*.outlook.com", POLICY_KIND_WILDCARD},
	    {"wildcard tld", "*.jp", "*.jp", POLICY_KIND_WILDCARD},
	    {"wildcard second level", "*.ne.jp", "*.ne.jp", POLICY_KIND_WILDCARD},
	    {"mx set", "mx:google.com", "mx:google.com", POLICY_KIND_MX},
	    {"mx upper", "MX:Google.com", "mx:google.com", POLICY_KIND_MX},
	    {"mx star", "mx:*.google.com", "mx:google.com", POLICY_KIND_MX},
	    {"mx dot", "mx:.yahoodns.net", "mx:yahoodns.net", POLICY_KIND_MX},
	    {"default", "*", "*", POLICY_KIND_DEFAULT},
	    {"default blanks", " * ", "*", POLICY_KIND_DEFAULT},
	    {"global", "global", "global", POLICY_KIND_GLOBAL},
	    {"global upper", "GLOBAL", "global", POLICY_KIND_GLOBAL},
	    {"empty", "", NULL, 0},
	    {"single label", "localhost", NULL, 0},
	    {"star in middle", "mail.*.com", NULL, 0},
	    {"star suffix", "gmail.*", NULL, 0},
	    {"double star", "**", NULL, 0},
	    {"bare star dot", "*.", NULL, 0},
	    {"mx empty", "mx:", NULL, 0},
	    {"mx single label", "mx:com", NULL, 0},
	    {"space inside", "gm ail.com", NULL, 0},
	    {"underscore", "a_b.com", NULL, 0},
	    {"hyphen edge", "-a.com", NULL, 0},
	    {"wildcard hyphen", "*.-jp", NULL, 0},
	    {"empty label", "a..com", NULL, 0},
	    {"address", "bob@example.com", NULL, 0},
	    {"ip literal", "[192.0.2.1]", NULL, 0},
	    {"long label", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	     NULL, 0},
	    {"NULL", NULL, NULL, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[POLICY_PATTERN_MAX] = "";
		enum policy_kind k = POLICY_KIND_GLOBAL + 1;
		const char *why = NULL;
		int rc = policy_pattern_parse(cases[i].in, out, sizeof(out), &k, &why);
		if (cases[i].want == NULL) {
			if (rc == 0)
				fail_msg("%s: '%s' accepted as '%s', want refused", cases[i].label,
				         cases[i].in, out);
			if (why == NULL)
				fail_msg("%s: no reason", cases[i].label);
			continue;
		}
		if (rc != 0 || strcmp(out, cases[i].want) != 0 || k != cases[i].kind)
			fail_msg("%s: '%s': got rc %d '%s' %s (%s) want '%s' %s", cases[i].label,
			         cases[i].in, rc, out, policy_kind_name(k), rc ? why : "",
			         cases[i].want, policy_kind_name(cases[i].kind));
		/* The normal form is a fixed point. */
		char again[POLICY_PATTERN_MAX];
		if (policy_pattern_parse(out, again, sizeof(again), &k, NULL) != 0 ||
		    strcmp(again, out) != 0)
			fail_msg("%s: '%s' is not stable", cases[i].label, out);
	}
	char tiny[8];
	enum policy_kind k;
	assert_int_equal(policy_pattern_parse("gmail.com", tiny, sizeof(tiny), &k, NULL), -1);
}

static void
test_fields(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int want;
	} cases[] = {
	    {"max_connections", POLICY_F_MAX_CONNECTIONS},
	    {"max-connections", POLICY_F_MAX_CONNECTIONS},
	    {"--max-connections", POLICY_F_MAX_CONNECTIONS},
	    {"rate", POLICY_F_RATE},
	    {"max-msgs-per-conn", POLICY_F_MAX_MSGS_PER_CONN},
	    {"connect_rate", POLICY_F_CONNECT_RATE},
	    {"tls", POLICY_F_TLS},
	    {"warmup", POLICY_F_WARMUP},
	    {"egress", POLICY_F_EGRESS},
	    {"warm", -1},
	    {"rates", -1},
	    {"", -1},
	    {NULL, -1},
	};
	for (size_t i = 0; i < N(cases); i++)
		if (policy_field_parse(cases[i].in) != cases[i].want)
			fail_msg("'%s': got %d want %d", cases[i].in ? cases[i].in : "NULL",
			         policy_field_parse(cases[i].in), cases[i].want);
	for (int f = 0; f < POLICY_NFIELDS; f++)
		assert_int_equal(policy_field_parse(policy_field_name((enum policy_field)f)), f);
	enum policy_tls t;
	assert_int_equal(policy_tls_parse("verify", &t), 0);
	assert_int_equal(t, POLICY_TLS_VERIFY);
	assert_int_equal(policy_tls_parse("VERIFY", &t), -1);
	assert_int_equal(policy_tls_parse("strict", &t), -1);
	for (int i = POLICY_TLS_NONE; i <= POLICY_TLS_VERIFY; i++) {
		assert_int_equal(policy_tls_parse(policy_tls_name((enum policy_tls)i), &t), 0);
		assert_int_equal(t, i);
	}
}

/* row - a record from a pattern and the fields given (-1 / NULL: not given) */
static struct policy
row(const char *pattern, int conns, double rate, int per_conn, const char *tls, const char *warmup)
{
	struct policy p;
	memset(&p, 0, sizeof(p));
	snprintf(p.pattern, sizeof(p.pattern), "%s", pattern);
	if (conns >= 0) {
		p.max_connections = conns;
		p.set |= POLICY_HAS(POLICY_F_MAX_CONNECTIONS);
	}
	if (rate >= 0) {
		p.rate = rate;
		p.set |= POLICY_HAS(POLICY_F_RATE);
	}
	if (per_conn >= 0) {
		p.max_msgs_per_conn = per_conn;
		p.set |= POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN);
	}
	if (tls) {
		policy_tls_parse(tls, &p.tls);
		p.set |= POLICY_HAS(POLICY_F_TLS);
	}
	if (warmup) {
		snprintf(p.warmup, sizeof(p.warmup), "%s", warmup);
		p.warmup_start = 19000;
		p.set |= POLICY_HAS(POLICY_F_WARMUP);
	}
	return p;
}

static void
test_resolve(void **state)
{
	(void)state;
	struct policy rows[] = {
	    row("*", 5, 0, 100, "opportunistic", NULL),
	    row("global", 500, 1000, -1, NULL, NULL),
	    row("outlook.com", 3, -1, -1, NULL, NULL),
	    row("*.outlook.com", 4, 2, -1, NULL, NULL),
	    row("*.eu.outlook.com", -1, 1, -1, NULL, NULL),
	    row("*.com", -1, -1, 7, NULL, NULL),
	    row("mx:google.com", 6, 10, 50, "required", NULL),
	    row("mx:outlook.com", 8, 3, -1, NULL, NULL),
	    row("mx:protection.outlook.com", -1, 4, -1, NULL, NULL),
	    row("new.test", -1, -1, -1, NULL, "standard"),
	    row("empty.test", -1, -1, -1, NULL, NULL),
	};
	static const char *const gmx[] = {"aspmx.l.google.com", "alt1.aspmx.l.google.com"};
	static const char *const mixed[] = {"mx1.other.net.", "ASPMX.L.GOOGLE.COM."};
	static const char *const o365[] = {"x.mail.protection.outlook.com", "aspmx.l.google.com"};
	static const char *const apex[] = {"google.com"};
	static const char *const lookalike[] = {"mx.notgoogle.com"};
	static const struct {
		const char *label, *domain;
		const char *const *mx;
		size_t nmx;
		int conns;
		double rate;
		int per_conn;
		const char *tls;
		const char *from_conns, *from_rate, *from_per_conn, *from_tls, *from_warmup;
		int contributed;
	} cases[] = {
	    {"exact beats wildcard", "outlook.com", NULL, 0, 3, 0, 7, "opportunistic",
	     "outlook.com", "*", "*.com", "*", "", 3},
	    {"wildcard: subdomain", "eu.outlook.com", NULL, 0, 4, 2, 7, "opportunistic",
	     "*.outlook.com", "*.outlook.com", "*.com", "*", "", 3},
	    {"longest wildcard first", "x.eu.outlook.com", NULL, 0, 4, 1, 7, "opportunistic",
	     "*.outlook.com", "*.eu.outlook.com", "*.com", "*", "", 4},
	    {"wildcard is not the apex", "eu.outlook.com.au", NULL, 0, 5, 0, 100, "opportunistic",
	     "*", "*", "*", "*", "", 1},
	    {"mx set", "company.org", gmx, 2, 6, 10, 50, "required", "mx:google.com",
	     "mx:google.com", "mx:google.com", "mx:google.com", "", 1},
	    {"mx apex host", "company.org", apex, 1, 6, 10, 50, "required", "mx:google.com",
	     "mx:google.com", "mx:google.com", "mx:google.com", "", 1},
	    {"mx case and dot ignored", "company.org", mixed, 2, 6, 10, 50, "required",
	     "mx:google.com", "mx:google.com", "mx:google.com", "mx:google.com", "", 1},
	    {"mx look-alike is not under", "company.org", lookalike, 1, 5, 0, 100, "opportunistic",
	     "*", "*", "*", "*", "", 1},
	    {"mx: preferred host first, then longest", "firm.org", o365, 2, 8, 4, 50, "required",
	     "mx:outlook.com", "mx:protection.outlook.com", "mx:google.com", "mx:google.com", "",
	     3},
	    {"wildcard beats mx", "a.com", gmx, 2, 6, 10, 7, "required", "mx:google.com",
	     "mx:google.com", "*.com", "mx:google.com", "", 2},
	    {"no mx given: mx rows skipped", "company.org", NULL, 0, 5, 0, 100, "opportunistic",
	     "*", "*", "*", "*", "", 1},
	    {"warm-up from a domain", "new.test", NULL, 0, 5, 0, 100, "opportunistic", "*", "*",
	     "*", "*", "new.test", 2},
	    {"empty record contributes nothing", "empty.test", NULL, 0, 5, 0, 100, "opportunistic",
	     "*", "*", "*", "*", "", 1},
	    {"case of the domain", "OUTLOOK.COM.", NULL, 0, 3, 0, 7, "opportunistic", "outlook.com",
	     "*", "*.com", "*", "", 3},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct policy_effective e;
		int got =
		    policy_resolve(rows, N(rows), cases[i].domain, cases[i].mx, cases[i].nmx, &e);
		const char *tls = policy_tls_name(e.p.tls);
		if (e.p.max_connections != cases[i].conns || e.p.rate != cases[i].rate ||
		    e.p.max_msgs_per_conn != cases[i].per_conn || strcmp(tls, cases[i].tls) != 0)
			fail_msg("%s: got conns %d rate %g per_conn %d tls %s want %d %g %d %s",
			         cases[i].label, e.p.max_connections, e.p.rate,
			         e.p.max_msgs_per_conn, tls, cases[i].conns, cases[i].rate,
			         cases[i].per_conn, cases[i].tls);
		const char *want_from[] = {cases[i].from_conns,
		                           cases[i].from_rate,
		                           cases[i].from_per_conn,
		                           NULL,
		                           cases[i].from_tls,
		                           cases[i].from_warmup,
		                           NULL};
		for (int f = 0; f < POLICY_NFIELDS; f++)
			if (want_from[f] && strcmp(e.from[f], want_from[f]) != 0)
				fail_msg("%s: %s from '%s' want '%s'", cases[i].label,
				         policy_field_name((enum policy_field)f), e.from[f],
				         want_from[f]);
		if (got != cases[i].contributed)
			fail_msg("%s: %d records contributed, want %d", cases[i].label, got,
			         cases[i].contributed);
	}
	/* "global" is never merged; policy_find reads it. */
	const struct policy *g = policy_find(rows, N(rows), "global");
	assert_non_null(g);
	assert_int_equal(g->max_connections, 500);
	assert_null(policy_find(rows, N(rows), "nothing.test"));
	assert_false(policy_matches(g, "gmail.com", NULL, 0));
	/* No rows at all: the built-in defaults, from nowhere. */
	struct policy_effective e;
	assert_int_equal(policy_resolve(NULL, 0, "x.test", NULL, 0, &e), 0);
	assert_int_equal(e.p.max_connections, policy_builtin()->max_connections);
	assert_int_equal(e.p.set, 0);
	assert_string_equal(e.from[POLICY_F_RATE], "");
	assert_string_equal(e.p.pattern, "x.test");
	/* The warm-up field carries its start day. */
	policy_resolve(rows, N(rows), "new.test", NULL, 0, &e);
	assert_string_equal(e.p.warmup, "standard");
	assert_int_equal(e.p.warmup_start, 19000);
}

static void
test_format(void **state)
{
	(void)state;
	struct policy p = row("x.test", 4, 10, 0, "verify", "50,100");
	p.connect_rate = 0.5;
	p.set |= POLICY_HAS(POLICY_F_CONNECT_RATE);
	snprintf(p.egress, sizeof(p.egress), "bulk");
	p.set |= POLICY_HAS(POLICY_F_EGRESS);
	static const char *const want[] = {
	    "4", "10/s", "unlimited", "30/min", "verify", "50,100 from day 19000", "bulk"};
	_Static_assert(sizeof(want) / sizeof(want[0]) == POLICY_NFIELDS, "a value per field");
	for (int f = 0; f < POLICY_NFIELDS; f++) {
		char out[200];
		policy_field_format(&p, (enum policy_field)f, out, sizeof(out));
		if (strcmp(out, want[f]) != 0)
			fail_msg("%s: got '%s' want '%s'", policy_field_name((enum policy_field)f),
			         out, want[f]);
	}
	struct policy none = row("y.test", -1, -1, -1, NULL, NULL);
	char out[16];
	policy_field_format(&none, POLICY_F_RATE, out, sizeof(out));
	assert_string_equal(out, "-");
}

static void
test_presets(void **state)
{
	(void)state;
	size_t n = policy_preset_count();
	struct policy rows[128];
	assert_true(n > 30 && n <= N(rows));
	static const char *const must[] = {
	    "gmail.com",       "googlemail.com", "mx:google.com",  "outlook.com", "hotmail.com",
	    "live.com",        "msn.com",        "mx:outlook.com", "yahoo.com",   "aol.com",
	    "mx:yahoodns.net", "icloud.com",     "me.com",         "mac.com",     "telkom.net",
	    "yahoo.co.id",     "docomo.ne.jp",   "ezweb.ne.jp",    "au.com",      "softbank.ne.jp",
	    "i.softbank.jp",   "naver.com",      "qq.com",         "163.com",     "yandex.ru",
	    "mail.ru",         "gmx.de",         "web.de",         "t-online.de",
	};
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		policy_preset(i, &rows[i], &why);
		char norm[POLICY_PATTERN_MAX];
		enum policy_kind k;
		if (policy_pattern_parse(rows[i].pattern, norm, sizeof(norm), &k, NULL) != 0 ||
		    strcmp(norm, rows[i].pattern) != 0)
			fail_msg("preset '%s' is not a pattern in normal form", rows[i].pattern);
		if (why == NULL || *why == '\0')
			fail_msg("preset '%s' says not why", rows[i].pattern);
		assert_string_equal(rows[i].source, "preset");
		/* Conservative: few connections, a rate for every provider. */
		if (rows[i].max_connections < 1 || rows[i].max_connections > 10)
			fail_msg("preset '%s': %d connections", rows[i].pattern,
			         rows[i].max_connections);
		if (strcmp(rows[i].pattern, "*") != 0 && (rows[i].rate <= 0 || rows[i].rate > 20))
			fail_msg("preset '%s': rate %g", rows[i].pattern, rows[i].rate);
		for (size_t j = 0; j < i; j++)
			if (strcmp(rows[i].pattern, rows[j].pattern) == 0)
				fail_msg("preset '%s' twice", rows[i].pattern);
	}
	for (size_t m = 0; m < N(must); m++)
		if (policy_find(rows, n, must[m]) == NULL)
			fail_msg("no preset for %s", must[m]);
	/* No "*" preset: other destinations get the built-in defaults (kirim send's own). */
	assert_null(policy_find(rows, n, "*"));
	assert_int_equal(policy_builtin()->max_connections, 10);

	/* Resolving against the presets. */
	static const char *const ws[] = {"aspmx.l.google.com"};
	static const char *const yh[] = {"mta5.am0.yahoodns.net"};
	static const char *const ms[] = {"firm-org.mail.protection.outlook.com"};
	static const struct {
		const char *domain;
		const char *const *mx;
		size_t nmx;
		const char *from;
		int per_conn;
	} cases[] = {
	    {"gmail.com", NULL, 0, "gmail.com", 50},
	    {"workspace.example", ws, 1, "mx:google.com", 50},
	    {"yahoo.co.jp.example", yh, 1, "mx:yahoodns.net", 20},
	    {"firm.example", ms, 1, "mx:outlook.com", 50},
	    {"docomo.ne.jp", NULL, 0, "docomo.ne.jp", 20},
	    {"small.example", NULL, 0, "", 100}, /* "": the built-in default */
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct policy_effective e;
		policy_resolve(rows, n, cases[i].domain, cases[i].mx, cases[i].nmx, &e);
		if (strcmp(e.from[POLICY_F_MAX_CONNECTIONS], cases[i].from) != 0 ||
		    e.p.max_msgs_per_conn != cases[i].per_conn)
			fail_msg("%s: from '%s' per_conn %d, want '%s' %d", cases[i].domain,
			         e.from[POLICY_F_MAX_CONNECTIONS], e.p.max_msgs_per_conn,
			         cases[i].from, cases[i].per_conn);
		assert_string_equal(e.from[POLICY_F_TLS], ""); /* no preset sets TLS */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pattern_parse), cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_resolve),       cmocka_unit_test(test_format),
	    cmocka_unit_test(test_presets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
