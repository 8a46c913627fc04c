/* test_tlsrpt - RFC 8460's _smtp._tls TXT record: a table of records and what is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
