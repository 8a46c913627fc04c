/* test_smtp_outcome - the delivered/deferred/bounced/failed decision table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/smtp_outcome.h"

static const struct {
	const char *label;
	enum smtp_stage stage;
	int code;
	unsigned flags;
	enum outcome want;
	enum outcome_scope scope;
} cases[] = {
    {"250 to dot", SMTP_STAGE_DOT, 250, 0, OUTCOME_DELIVERED, OUTCOME_RECIPIENT},
    {"550 5.1.1 user unknown", SMTP_STAGE_RCPT, 550, 0, OUTCOME_BOUNCED, OUTCOME_RECIPIENT},
    {"450 greylisted", SMTP_STAGE_RCPT, 450, 0, OUTCOME_DEFERRED, OUTCOME_RECIPIENT},
    {"452 too many recipients", SMTP_STAGE_RCPT, 452, 0, OUTCOME_DEFERRED, OUTCOME_RECIPIENT},
    {"554 at dot: content rejected", SMTP_STAGE_DOT, 554, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE},
    {"451 at dot", SMTP_STAGE_DOT, 451, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE},
    {"553 sender refused", SMTP_STAGE_MAIL, 553, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE},
    {"421 at MAIL", SMTP_STAGE_MAIL, 421, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE},
    {"554 DATA: no valid recipients", SMTP_STAGE_DATA, 554, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE},
    {"421 banner", SMTP_STAGE_BANNER, 421, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION},
    {"554 banner: blocked", SMTP_STAGE_BANNER, 554, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION},
    {"535 bad password", SMTP_STAGE_AUTH, 535, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION},
    {"connection refused", SMTP_STAGE_CONNECT, 0, SMTP_RESULT_CONN_LOST, OUTCOME_DEFERRED,
     OUTCOME_DESTINATION},
    {"lost during DATA", SMTP_STAGE_DATA, 0, SMTP_RESULT_CONN_LOST, OUTCOME_DEFERRED,
     OUTCOME_MESSAGE},
    {"timeout at dot", SMTP_STAGE_DOT, 0, SMTP_RESULT_TIMEOUT, OUTCOME_DEFERRED, OUTCOME_MESSAGE},
    {"TLS required but not offered", SMTP_STAGE_EHLO, 0, SMTP_RESULT_LOCAL, OUTCOME_DEFERRED,
     OUTCOME_DESTINATION},
    {"message over SIZE", SMTP_STAGE_MAIL, 0, SMTP_RESULT_LOCAL, OUTCOME_FAILED, OUTCOME_MESSAGE},
    {"aborted by us", SMTP_STAGE_RCPT, 0, SMTP_RESULT_ABORTED, OUTCOME_DEFERRED, OUTCOME_MESSAGE},
    {"a reply then the line drops", SMTP_STAGE_DOT, 250, SMTP_RESULT_CONN_LOST, OUTCOME_DEFERRED,
     OUTCOME_MESSAGE},
    {"354 as a final answer", SMTP_STAGE_DATA, 354, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE},
    {"550 at QUIT (odd)", SMTP_STAGE_QUIT, 550, 0, OUTCOME_FAILED, OUTCOME_MESSAGE},
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_result r = {.stage = cases[i].stage,
		                        .code = cases[i].code,
		                        .ecode = "",
		                        .text = "",
		                        .flags = cases[i].flags};
		struct smtp_outcome o = smtp_outcome_classify(&r);
		if (o.outcome != cases[i].want || o.scope != cases[i].scope)
			fail_msg("%s: got %s/%s want %s/%s", cases[i].label,
			         smtp_outcome_name(o.outcome), smtp_outcome_scope_name(o.scope),
			         smtp_outcome_name(cases[i].want),
			         smtp_outcome_scope_name(cases[i].scope));
	}
}

/* DNS verdicts of direct delivery carry no reply code, only an enhanced status code. */
static void
test_dns(void **state)
{
	static const struct {
		const char *label, *ecode;
		enum outcome want;
	} dns_cases[] = {
	    {"NXDOMAIN", "5.1.2", OUTCOME_BOUNCED},
	    {"null MX", "5.1.10", OUTCOME_BOUNCED},
	    {"SERVFAIL", "4.4.3", OUTCOME_DEFERRED},
	    {"no enhanced code", "", OUTCOME_DEFERRED},
	};
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(dns_cases) / sizeof(dns_cases[0]); i++) {
		struct smtp_result r = {
		    .stage = SMTP_STAGE_DNS, .ecode = dns_cases[i].ecode, .text = "x"};
		struct smtp_outcome o = smtp_outcome_classify(&r);
		if (o.outcome != dns_cases[i].want) {
			print_error("%s: got %s, want %s\n", dns_cases[i].label,
			            smtp_outcome_name(o.outcome),
			            smtp_outcome_name(dns_cases[i].want));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
	                                   cmocka_unit_test(test_dns)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
