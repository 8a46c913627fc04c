/*
 * test_policies - the policy use cases: every field's value rules as a table,
 * --field lists, patterns, and set / unset / show / list / presets on a real
 * database (the shipped presets seeded once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/policies.h"
#include "kirim/store.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_field_value(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		enum policy_field f;
		const char *in;
		const char *want; /* the field as policy_field_format writes it; NULL: refused */
		const char *err;  /* refused: a part of the sentence */
	} cases[] = {
	    {"connections", POLICY_F_MAX_CONNECTIONS, "3", "3", NULL},
	    {"connections at the cap", POLICY_F_MAX_CONNECTIONS, "1000", "1000", NULL},
	    {"connections zero", POLICY_F_MAX_CONNECTIONS, "0", NULL,
	     "--x takes a number from 1 to 1000, not '0'"},
	    {"connections over", POLICY_F_MAX_CONNECTIONS, "1001", NULL, "from 1 to 1000"},
	    {"connections text", POLICY_F_MAX_CONNECTIONS, "three", NULL, "not 'three'"},
	    {"connections trailing", POLICY_F_MAX_CONNECTIONS, "3x", NULL, "not '3x'"},
	    {"connections empty", POLICY_F_MAX_CONNECTIONS, "", NULL, "not ''"},
	    {"connections huge", POLICY_F_MAX_CONNECTIONS, "99999999999999999999", NULL, "from 1"},
	    {"per connection zero: unlimited", POLICY_F_MAX_MSGS_PER_CONN, "0", "unlimited", NULL},
	    {"per connection", POLICY_F_MAX_MSGS_PER_CONN, "50", "50", NULL},
	    {"per connection negative", POLICY_F_MAX_MSGS_PER_CONN, "-1", NULL, "from 0 to 100000"},
	    {"rate per minute", POLICY_F_RATE, "600/min", "10/s", NULL},
	    {"rate without unit", POLICY_F_RATE, "10", NULL, "--x '10': "},
	    {"rate not a number", POLICY_F_RATE, "fast/s", NULL, "--x 'fast/s': "},
	    {"connect rate", POLICY_F_CONNECT_RATE, "30/min", "30/min", NULL},
	    {"connect rate bad", POLICY_F_CONNECT_RATE, "30/fortnight", NULL, "--x '30/fortnight'"},
	    {"tls", POLICY_F_TLS, "required", "required", NULL},
	    {"tls none", POLICY_F_TLS, "none", "none", NULL},
	    {"tls bad", POLICY_F_TLS, "maybe", NULL,
	     "--x takes none, opportunistic, required, verify or dane, not 'maybe'"},
	    {"warm-up", POLICY_F_WARMUP, "50,100", "50,100", NULL},
	    {"egress pool", POLICY_F_EGRESS, "bulk-2.eu", "bulk-2.eu", NULL},
	    {"egress not a name", POLICY_F_EGRESS, "a b", NULL,
	     "--x takes the name of an [egress] pool of kirim.conf (letters, digits, - _ and ., "
	     "63 at most), not 'a b'"},
	    {"warm-up none", POLICY_F_WARMUP, "none", "none", NULL},
	    {"warm-up empty day", POLICY_F_WARMUP, "50,,100", NULL, "--x '50,,100': "},
	    {"warm-up too long", POLICY_F_WARMUP,
	     "100,200,300,400,500,600,700,800,900,1000,1100,1200,1300,1400,1500,1600,1700,1800,"
	     "1900,2000,2100,2200,2300,2400,2500,2600,2700,2800,2900,3000",
	     NULL, "--x: plan too long"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct policy p;
		memset(&p, 0, sizeof(p));
		char err[512] = "", got[256] = "";
		int rc = policies_field_value(&p, cases[i].f, "--x", cases[i].in, err, sizeof(err));
		if (cases[i].want == NULL) {
			if (rc != POLICIES_E_USAGE || strstr(err, cases[i].err) == NULL)
				fail_msg("%s: '%s': got rc %d err \"%s\", want %d with \"%s\"",
				         cases[i].label, cases[i].in, rc, err, POLICIES_E_USAGE,
				         cases[i].err);
			if (p.set != 0)
				fail_msg("%s: a refused value set a field", cases[i].label);
			continue;
		}
		if (cases[i].f == POLICY_F_WARMUP && p.warmup[0] == '\0' && rc == 0)
			snprintf(got, sizeof(got), "none");
		else
			policy_field_format(&p, cases[i].f, got, sizeof(got));
		if (rc != 0 || p.set != POLICY_HAS(cases[i].f) ||
		    strncmp(got, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: '%s': got rc %d set %#x '%s' (%s), want '%s'", cases[i].label,
			         cases[i].in, rc, p.set, got, err, cases[i].want);
		if (cases[i].f == POLICY_F_WARMUP && p.warmup[0] &&
		    p.warmup_start != (int64_t)(time(NULL) / 86400))
			fail_msg("%s: a plan starts today, not on day %lld", cases[i].label,
			         (long long)p.warmup_start);
	}
}

static void
test_field_mask(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in;
		unsigned want; /* with rc 0 */
		int rc;
	} cases[] = {
	    {"one", "rate", POLICY_HAS(POLICY_F_RATE), 0},
	    {"dash and underscore", "max-connections,max_msgs_per_conn",
	     POLICY_HAS(POLICY_F_MAX_CONNECTIONS) | POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN), 0},
	    {"blanks and commas", " tls ,, warmup ",
	     POLICY_HAS(POLICY_F_TLS) | POLICY_HAS(POLICY_F_WARMUP), 0},
	    {"empty: nothing", "", 0, 0},
	    {"unknown", "rate,speed", 0, POLICIES_E_USAGE},
	    {"very long", "a-field-name-longer-than-any-there-is", 0, POLICIES_E_USAGE},
	};
	for (size_t i = 0; i < N(cases); i++) {
		unsigned mask = 0;
		char err[512] = "";
		int rc = policies_field_mask("--field", cases[i].in, &mask, err, sizeof(err));
		if (rc != cases[i].rc || mask != cases[i].want)
			fail_msg("%s: '%s': got rc %d mask %#x (%s), want rc %d mask %#x",
			         cases[i].label, cases[i].in, rc, mask, err, cases[i].rc,
			         cases[i].want);
	}
	char err[512];
	unsigned mask = POLICY_HAS(POLICY_F_TLS);
	policies_field_mask("--field", "rate", &mask, err, sizeof(err));
	assert_int_equal(mask, POLICY_HAS(POLICY_F_TLS) | POLICY_HAS(POLICY_F_RATE));
	assert_int_equal(policies_field_mask("--field", "speed", &mask, err, sizeof(err)),
	                 POLICIES_E_USAGE);
	assert_string_equal(err, "--field takes max-connections, rate, max-msgs-per-conn, "
	                         "connect-rate, tls, warmup or egress, not 'speed'");
}

static void
test_pattern(void **state)
{
	(void)state;
	char out[POLICY_PATTERN_MAX], err[512];
	enum policy_kind k;
	assert_int_equal(policies_pattern("*.Outlook.com", out, &k, err, sizeof(err)), 0);
	assert_string_equal(out, "*.outlook.com");
	assert_int_equal(k, POLICY_KIND_WILDCARD);
	assert_int_equal(policies_pattern("mail.*.com", out, &k, err, sizeof(err)),
	                 POLICIES_E_DATA);
	assert_non_null(strstr(err, "'mail.*.com' is not a pattern (example.com, "));
}

struct fx {
	char dir[64], db[96];
	struct store *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];
	snprintf(f->dir, sizeof(f->dir), "/tmp/kirim-test-policies-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/kirim.db", f->dir);
	if (store_open(f->db, STORE_CREATE, &f->s, err, sizeof(err)) != 0) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];
	store_close(f->s);
	for (const char *const *x = (const char *const[]){"", "-wal", "-shm", NULL}; *x; x++) {
		snprintf(p, sizeof(p), "%s%s", f->db, *x);
		unlink(p);
	}
	int rc = rmdir(f->dir);
	free(f);
	return rc;
}

static int
count_row(void *arg, const struct policy *p)
{
	(void)p;
	++*(int *)arg;
	return 0;
}

static void
test_changes(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	int seeded = -1, n = 0;

	/* The first look seeds the presets, once. */
	assert_int_equal(policies_list(f->s, count_row, &n, &seeded, err, sizeof(err)), 0);
	assert_true(seeded > 30);
	assert_int_equal(n, seeded);
	assert_int_equal(policies_list(f->s, count_row, &n, &seeded, err, sizeof(err)), 0);
	assert_int_equal(seeded, 0);

	/* set: only the fields given; the pattern normalised; the record read back. */
	struct policy p, now;
	memset(&p, 0, sizeof(p));
	snprintf(p.pattern, sizeof(p.pattern), "GMAIL.com");
	assert_int_equal(
	    policies_field_value(&p, POLICY_F_MAX_CONNECTIONS, "c", "3", err, sizeof(err)), 0);
	assert_int_equal(policies_set(f->s, &p, &now, &seeded, err, sizeof(err)), 0);
	assert_string_equal(now.pattern, "gmail.com");
	assert_int_equal(now.max_connections, 3);
	assert_true(now.set & POLICY_HAS(POLICY_F_RATE)); /* the preset's, kept */
	assert_string_equal(now.source, "user");
	struct policy none;
	memset(&none, 0, sizeof(none));
	snprintf(none.pattern, sizeof(none.pattern), "gmail.com");
	assert_int_equal(policies_set(f->s, &none, &now, &seeded, err, sizeof(err)),
	                 POLICIES_E_USAGE);
	snprintf(p.pattern, sizeof(p.pattern), "mail.*.com");
	assert_int_equal(policies_set(f->s, &p, &now, &seeded, err, sizeof(err)), POLICIES_E_DATA);

	/* show: merged, with the records that matched. */
	struct policies_view v;
	assert_int_equal(policies_show(f->s, "@Gmail.com", NULL, 0, &v, &seeded, err, sizeof(err)),
	                 0);
	assert_string_equal(v.domain, "gmail.com");
	assert_int_equal(v.eff.p.max_connections, 3);
	assert_string_equal(v.eff.from[POLICY_F_MAX_CONNECTIONS], "gmail.com");
	int found = 0;
	for (size_t i = 0; i < v.nmatched; i++)
		found += strcmp(v.matched[i]->pattern, "gmail.com") == 0;
	assert_int_equal(found, 1);
	policies_view_free(&v);
	assert_int_equal(
	    policies_show(f->s, "not a domain", NULL, 0, &v, &seeded, err, sizeof(err)),
	    POLICIES_E_DATA);
	assert_non_null(strstr(err, "'not a domain' is not a domain: "));
	policies_view_free(&v);

	/* unset a field, then the record, then again (not an error). */
	bool removed = false;
	assert_int_equal(policies_unset(f->s, "gmail.com", POLICY_HAS(POLICY_F_MAX_CONNECTIONS),
	                                &removed, &seeded, err, sizeof(err)),
	                 0);
	assert_true(removed);
	assert_int_equal(policies_unset(f->s, "gmail.com", 0, &removed, &seeded, err, sizeof(err)),
	                 0);
	assert_true(removed);
	assert_int_equal(policies_unset(f->s, "gmail.com", 0, &removed, &seeded, err, sizeof(err)),
	                 0);
	assert_false(removed);

	/* presets: the removed one comes back; a second run writes nothing. */
	int written = -1;
	assert_int_equal(policies_presets(f->s, false, &written, err, sizeof(err)), 0);
	assert_int_equal(written, 1);
	assert_int_equal(policies_presets(f->s, false, &written, err, sizeof(err)), 0);
	assert_int_equal(written, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_field_value),
	    cmocka_unit_test(test_field_mask),
	    cmocka_unit_test(test_pattern),
	    cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
