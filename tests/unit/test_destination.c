/* test_destination - destination keys and limits of a direct send (destination.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/destination.h"

static void
test_dest_key(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *hosts[3];
		size_t n;
		const char *own;
		const char *want;
	} cases[] = {
	    {"one host", {"mx.a.test"}, 1, NULL, "mx:mx.a.test"},
	    {"sorted", {"mx2.a.test", "mx1.a.test"}, 2, "", "mx:mx1.a.test,mx2.a.test"},
	    {"own pattern", {"b", "a"}, 2, "own.test", "mx:a,b|own.test"},
	    {"no hosts", {NULL}, 0, NULL, "mx:"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		dest_key(cases[i].hosts, cases[i].n, cases[i].own, &b);
		if (strcmp(b.data, cases[i].want) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].label, b.data, cases[i].want);
		buf_free(&b);
	}
}

static struct policy
row(const char *pattern, unsigned set, int conns, double rate, const char *warmup)
{
	struct policy p;
	memset(&p, 0, sizeof(p));
	snprintf(p.pattern, sizeof(p.pattern), "%s", pattern);
	p.set = set;
	p.max_connections = conns;
	p.rate = rate;
	snprintf(p.warmup, sizeof(p.warmup), "%s", warmup ? warmup : "");
	p.warmup_start = 100;
	return p;
}

static void
test_resolve(void **state)
{
	(void)state;
	struct policy rows[] = {
	    row("own.test", POLICY_HAS(POLICY_F_RATE), 0, 10, NULL),
	    row("mx:shared.test", POLICY_HAS(POLICY_F_MAX_CONNECTIONS), 3, 0, NULL),
	    row("*.wild.test", POLICY_HAS(POLICY_F_WARMUP), 0, 0, "50,100"),
	    row("pool.test", POLICY_HAS(POLICY_F_EGRESS), 0, 0, NULL),
	};
	snprintf(rows[3].egress, sizeof(rows[3].egress), "bulk");
	const char *hosts[] = {"mx1.shared.test"};
	struct dest_limits run = {.max_conns = 8, .max_jobs = 100}, got;
	static const struct {
		const char *label, *domain;
		unsigned conns;
		double rate;
		const char *own, *egress;
	} cases[] = {
	    {"own rate, MX-set conns", "own.test", 3, 10, "own.test", ""},
	    {"MX set only: shared", "other.test", 3, 0, "", ""},
	    {"wildcard warm-up: own", "a.wild.test", 3, 0, "*.wild.test", ""},
	    {"egress pool: own destination", "pool.test", 3, 0, "pool.test", "bulk"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dest_resolve(rows, 4, cases[i].domain, hosts, 1, &run, &got);
		if (got.max_conns != cases[i].conns || got.rate != cases[i].rate ||
		    strcmp(got.own, cases[i].own) != 0 || got.max_jobs != 100 ||
		    strcmp(got.egress, cases[i].egress) != 0)
			fail_msg("%s: got conns %u rate %g own [%s] jobs %u egress [%s] want %u %g "
			         "[%s] 100 [%s]",
			         cases[i].label, got.max_conns, got.rate, got.own, got.max_jobs,
			         got.egress, cases[i].conns, cases[i].rate, cases[i].own,
			         cases[i].egress);
	}
	dest_resolve(rows, 3, "a.wild.test", hosts, 1, &run, &got);
	static const struct {
		int64_t day;
		long want;
	} caps[] = {{99, 50}, {100, 50}, {101, 100}, {102, -1}};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		long c = dest_warmup_cap(&got, caps[i].day);
		if (c != caps[i].want)
			fail_msg("warm-up day %lld: got %ld want %ld", (long long)caps[i].day, c,
			         caps[i].want);
	}
	dest_resolve(rows, 3, "plain.test", NULL, 0, &run, &got);
	if (dest_warmup_cap(&got, 100) != -1 || got.max_conns != 8 || got.own[0])
		fail_msg("no policy: got cap %ld conns %u own [%s] want -1 8 []",
		         dest_warmup_cap(&got, 100), got.max_conns, got.own);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dest_key),
	    cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
