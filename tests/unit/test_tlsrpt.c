/* test_tlsrpt - RFC 8460's _smtp._tls TXT record: a table of records and what is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "kirim/tlsrpt.h"

static void
test_txt(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *recs[3];
		size_t n;
		const char *want; /* the rua, or NULL: none */
	} cases[] = {
	    {"rfc mailto",
	     {"v=TLSRPTv1; rua=mailto:reports@example.com"},
	     1,
	     "mailto:reports@example.com"},
	    {"rfc https",
	     {"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"},
	     1,
	     "https://reporting.example.com/v1/tlsrpt"},
	    {"both",
	     {"v=TLSRPTv1;rua=mailto:a@example.com,https://r.example.com/x"},
	     1,
	     "mailto:a@example.com,https://r.example.com/x"},
	    {"trailing semicolon",
	     {"v=TLSRPTv1; rua=mailto:a@example.com;"},
	     1,
	     "mailto:a@example.com"},
	    {"others ignored", {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@b.c"}, 2, "mailto:a@b.c"},
	    {"two", {"v=TLSRPTv1; rua=mailto:a@b.c", "v=TLSRPTv1; rua=mailto:d@e.f"}, 2, NULL},
	    {"none", {"v=STSv1; id=1"}, 1, NULL},
	    {"no rua", {"v=TLSRPTv1;"}, 1, NULL},
	    {"http is not https", {"v=TLSRPTv1; rua=http://r.example.com/"}, 1, NULL},
	    {"bare address", {"v=TLSRPTv1; rua=a@b.c"}, 1, NULL},
	    {"empty uri", {"v=TLSRPTv1; rua=mailto:a@b.c,"}, 1, NULL},
	    {"v=TLSRPTv10", {"v=TLSRPTv10; rua=mailto:a@b.c"}, 1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rua[TLSRPT_RUA_MAX] = "unset";
		const char *reason = NULL;
		int rc = tlsrpt_txt_select(cases[i].recs, cases[i].n, rua, &reason);
		if (cases[i].want == NULL) {
			if (rc != -1 || reason == NULL || strcmp(rua, "unset") != 0)
				fail_msg("%s: got rc %d rua %s, want refused", cases[i].label, rc,
				         rua);
		} else if (rc != 0 || strcmp(rua, cases[i].want) != 0) {
			fail_msg("%s: got rc %d [%s] (%s), want [%s]", cases[i].label, rc, rua,
			         reason ? reason : "", cases[i].want);
		}
	}
}

/* expect_report - the report of rows (its member key, NULL: all of it) is want, as compact
 * JSON with sorted keys */
static void
expect_report(const struct tlsrpt_row *rows, size_t n, const char *key, const char *want)
{
	struct tlsrpt_meta m = {"kirim.example", "postmaster@kirim.example", "id-1", "example.com",
	                        19000};
	json_t *j = tlsrpt_report(&m, rows, n);
	char *text = json_dumps(key ? json_object_get(j, key) : j, JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(text, want) != 0)
		fail_msg("got\n%s\nwant\n%s", text, want);
	free(text);
	json_decref(j);
}

/* Rows of two policies, in any order, become two policy objects with their sums. */
static void
test_report(void **state)
{
	(void)state;
	const char *sts = "version: STSv1\nmode: enforce\nmx: *.mx.example\nmax_age: 86400";
	struct tlsrpt_row rows[] = {
	    {"sts", sts, "a.mx.example", "192.0.2.1", "198.51.100.1", "success", "", 7},
	    {"no-policy-found", "", "b.mx.example", "192.0.2.2", "", "success", "", 2},
	    {"sts", sts, "c.mx.example", "192.0.2.3", "198.51.100.1", "certificate-expired",
	     "certificate has expired", 3},
	};
	const char *want =
	    "{\"contact-info\":\"postmaster@kirim.example\",\"date-range\":{\"end-datetime\":"
	    "\"2022-01-08T23:59:59Z\",\"start-datetime\":\"2022-01-08T00:00:00Z\"},"
	    "\"organization-name\":\"kirim.example\",\"policies\":[{\"failure-details\":[{"
	    "\"failed-session-count\":3,\"failure-reason-code\":\"certificate has expired\","
	    "\"receiving-ip\":\"192.0.2.3\",\"receiving-mx-hostname\":\"c.mx.example\","
	    "\"result-type\":\"certificate-expired\",\"sending-mta-ip\":\"198.51.100.1\"}],"
	    "\"policy\":{\"mx-host\":[\"*.mx.example\"],\"policy-domain\":\"example.com\","
	    "\"policy-string\":[\"version: STSv1\",\"mode: enforce\",\"mx: *.mx.example\","
	    "\"max_age: 86400\"],\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-failure-session-count\":3,\"total-successful-session-count\":7}},{"
	    "\"policy\":{\"mx-host\":[\"b.mx.example\"],\"policy-domain\":\"example.com\","
	    "\"policy-string\":[],\"policy-type\":\"no-policy-found\"},\"summary\":{"
	    "\"total-failure-session-count\":0,\"total-successful-session-count\":2}}],"
	    "\"report-id\":\"id-1\"}";
	expect_report(rows, 3, NULL, want);
}

/* A failure before any session (a policy fetch) names no MX host and no receiving IP: the
 * fields are left out, not written empty. */
static void
test_report_fetch_failure(void **state)
{
	(void)state;
	struct tlsrpt_row rows[] = {
	    {"sts", "", "", "", "", "sts-policy-fetch-error", "HTTP 404", 2},
	};
	const char *want =
	    "[{\"failure-details\":[{\"failed-session-count\":2,\"failure-reason-code\":"
	    "\"HTTP 404\",\"result-type\":\"sts-policy-fetch-error\"}],\"policy\":{\"mx-host\":[],"
	    "\"policy-domain\":\"example.com\",\"policy-string\":[],\"policy-type\":\"sts\"},"
	    "\"summary\":{\"total-failure-session-count\":2,\"total-successful-session-count\":0}"
	    "}]";
	expect_report(rows, 1, "policies", want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_report),
	    cmocka_unit_test(test_report_fetch_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
