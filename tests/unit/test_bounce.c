/* test_bounce - the bounce classifier table: code, enhanced code, text -> reason, class, scope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/bounce.h"

static const struct {
	const char *label;
	enum bounce_stage stage;
	int code;
	const char *ecode;
	const char *text;
	enum bounce_reason want;
	enum bounce_class cls;
} cases[] = {
    {"5.1.1 alone", BOUNCE_STAGE_UNKNOWN, 550, "5.1.1", "", BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"user not found at RCPT", BOUNCE_STAGE_RCPT, 550, "", "550 User not found", BOUNCE_USERUNKNOWN,
     BOUNCE_HARD},
    {"user not found, nothing says where", BOUNCE_STAGE_UNKNOWN, 550, "", "550 User not found",
     BOUNCE_FILTERED, BOUNCE_SOFT},
    {"no valid recipients names the recipient", BOUNCE_STAGE_UNKNOWN, 0, "",
     "Error: No valid recipients for this MM", BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"SMTP authentication asked", BOUNCE_STAGE_UNKNOWN, 550, "5.0.0",
     "550-Please turn on SMTP Authentication in your mail client.", BOUNCE_SECURITYERROR,
     BOUNCE_SOFT},
    {"Gmail no such user", BOUNCE_STAGE_RCPT, 550, "5.1.1",
     "The email account that you tried to reach does not exist.", BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"Postfix user unknown at RCPT", BOUNCE_STAGE_RCPT, 550, "",
     "<x@y>: Recipient address rejected: User unknown in local recipient table", BOUNCE_USERUNKNOWN,
     BOUNCE_HARD},
    {"user unknown after DATA is a filter", BOUNCE_STAGE_DATA, 550, "5.2.0", "User unknown",
     BOUNCE_FILTERED, BOUNCE_SOFT},
    {"stage read from the text", BOUNCE_STAGE_UNKNOWN, 550, "",
     "550 no such user (in reply to RCPT TO command)", BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"sender refused after MAIL", BOUNCE_STAGE_MAIL, 550, "5.1.0", "Address unknown",
     BOUNCE_REJECTED, BOUNCE_SOFT},
    {"mailbox full", BOUNCE_STAGE_UNKNOWN, 552, "5.2.2", "Mailbox full", BOUNCE_MAILBOXFULL,
     BOUNCE_SOFT},
    {"Exim quota text", BOUNCE_STAGE_UNKNOWN, 0, "", "mailbox is full: retry timeout exceeded",
     BOUNCE_MAILBOXFULL, BOUNCE_SOFT},
    {"over quota beats 5.1.1", BOUNCE_STAGE_RCPT, 550, "5.1.1", "user over quota",
     BOUNCE_MAILBOXFULL, BOUNCE_SOFT},
    {"host unknown", BOUNCE_STAGE_UNKNOWN, 0, "5.1.2", "Host or domain name not found",
     BOUNCE_HOSTUNKNOWN, BOUNCE_HARD},
    {"Spamhaus listing", BOUNCE_STAGE_CONNECT, 554, "5.7.1",
     "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", BOUNCE_BLOCKED,
     BOUNCE_SOFT},
    {"Gmail spam", BOUNCE_STAGE_DATA, 550, "5.7.1",
     "Our system has detected that this message is likely unsolicited mail", BOUNCE_SPAMDETECTED,
     BOUNCE_SOFT},
    {"DMARC policy", BOUNCE_STAGE_DATA, 550, "5.7.26",
     "Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
     BOUNCE_POLICYVIOLATION, BOUNCE_SOFT},
    {"relay denied", BOUNCE_STAGE_RCPT, 554, "5.7.1", "Relay access denied", BOUNCE_NORELAYING,
     BOUNCE_SOFT},
    {"expired in queue", BOUNCE_STAGE_UNKNOWN, 0, "4.4.7", "", BOUNCE_EXPIRED, BOUNCE_SOFT},
    {"too big", BOUNCE_STAGE_DATA, 552, "5.3.4", "Message size exceeds fixed limit",
     BOUNCE_MESGTOOBIG, BOUNCE_SOFT},
    {"too many connections", BOUNCE_STAGE_CONNECT, 421, "4.7.0",
     "Too many concurrent SMTP connections from this IP", BOUNCE_TOOMANYCONN, BOUNCE_SOFT},
    {"disabled account", BOUNCE_STAGE_RCPT, 550, "5.2.1",
     "The email account that you tried to reach is disabled", BOUNCE_SUSPEND, BOUNCE_SOFT},
    {"virus", BOUNCE_STAGE_DATA, 554, "5.7.1", "Message rejected: virus found",
     BOUNCE_VIRUSDETECTED, BOUNCE_SOFT},
    {"null MX 5.x is hard", BOUNCE_STAGE_UNKNOWN, 556, "5.1.10", "", BOUNCE_NOTACCEPT, BOUNCE_HARD},
    {"null MX text, no code: hard", BOUNCE_STAGE_UNKNOWN, 0, "", "4.x: domain has a null MX",
     BOUNCE_NOTACCEPT, BOUNCE_HARD},
    {"moved", BOUNCE_STAGE_UNKNOWN, 550, "5.1.6", "", BOUNCE_HASMOVED, BOUNCE_HARD},
    {"delivered", BOUNCE_STAGE_UNKNOWN, 250, "2.0.0", "Ok: queued", BOUNCE_DELIVERED, BOUNCE_NONE},
    {"bare 552 reply", BOUNCE_STAGE_UNKNOWN, 552, "", "", BOUNCE_MAILBOXFULL, BOUNCE_SOFT},
    {"unreadable text", BOUNCE_STAGE_UNKNOWN, 0, "", "zzz qqq", BOUNCE_ONHOLD, BOUNCE_SOFT},
    {"nothing at all", BOUNCE_STAGE_UNKNOWN, 0, NULL, NULL, BOUNCE_UNDEFINED, BOUNCE_SOFT},
    {"junk status code", BOUNCE_STAGE_UNKNOWN, 0, "5.x.y.", "", BOUNCE_UNDEFINED, BOUNCE_SOFT},
    {"generic 5.7.1", BOUNCE_STAGE_UNKNOWN, 550, "5.7.1", "Delivery not authorized", BOUNCE_BLOCKED,
     BOUNCE_SOFT},
    {"rate limited", BOUNCE_STAGE_UNKNOWN, 421, "4.7.28",
     "Our system has detected an unusual rate of unsolicited mail", BOUNCE_SPAMDETECTED,
     BOUNCE_SOFT},
    {"rate limited, plain", BOUNCE_STAGE_UNKNOWN, 421, "4.7.0", "Rate limit exceeded, slow down",
     BOUNCE_SPEEDING, BOUNCE_SOFT},
    {"Facebook recipient preferences under 5.1.1", BOUNCE_STAGE_UNKNOWN, 550, "5.1.1",
     "550 5.1.1 RCP-P2 Refused due to recipient preferences", BOUNCE_FILTERED, BOUNCE_SOFT},
    {"fml loop alert", BOUNCE_STAGE_UNKNOWN, 0, "", "Duplicated Message-ID in <list@example.org>.",
     BOUNCE_SYSTEMERROR, BOUNCE_SOFT},
    {"fml non-member post", BOUNCE_STAGE_UNKNOWN, 0, "", "NOT MEMBER article from <x@example.org>.",
     BOUNCE_REJECTED, BOUNCE_SOFT},
    {"IMail local unknown user", BOUNCE_STAGE_UNKNOWN, 0, "", "Unknown user: x@example.com",
     BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"Postfix local(8) unknown user", BOUNCE_STAGE_UNKNOWN, 0, "", "unknown user: \"x\"",
     BOUNCE_USERUNKNOWN, BOUNCE_HARD},
    {"unknown user without the colon stays a filter", BOUNCE_STAGE_UNKNOWN, 550, "",
     "550 Unknown user x@example.com", BOUNCE_FILTERED, BOUNCE_SOFT},
    {"SMTP:RCPT host names the stage", BOUNCE_STAGE_UNKNOWN, 553, "5.3.0",
     "SMTP:RCPT host 192.0.2.1: 553 5.3.0 <x@example.jp>... No such user here", BOUNCE_USERUNKNOWN,
     BOUNCE_HARD},
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		struct bounce_verdict v = bounce_classify_stage(
		    cases[i].stage, cases[i].code, cases[i].ecode, t, t ? strlen(t) : 0);
		if (v.reason != cases[i].want || v.cls != cases[i].cls)
			fail_msg("%s: got %s/%s want %s/%s", cases[i].label,
			         bounce_reason_name(v.reason), bounce_class_name(v.cls),
			         bounce_reason_name(cases[i].want),
			         bounce_class_name(cases[i].cls));
	}
}

static void
test_names(void **state)
{
	(void)state;
	for (int r = 0; r < BOUNCE_REASON_COUNT; r++) {
		const char *n = bounce_reason_name((enum bounce_reason)r);
		if (bounce_reason_from_name(n) != (enum bounce_reason)r)
			fail_msg("reason %d: name %s does not map back", r, n);
	}
	assert_string_equal(bounce_reason_name(BOUNCE_REASON_COUNT), "undefined");
	assert_string_equal(bounce_class_name(BOUNCE_HARD), "hard");
	assert_string_equal(bounce_class_name(BOUNCE_NONE), "none");
	assert_string_equal(bounce_scope_name(BOUNCE_SCOPE_DESTINATION), "destination");
	struct bounce_verdict v = bounce_verdict_of(BOUNCE_NOTACCEPT, 450, "");
	assert_int_equal(v.cls, BOUNCE_SOFT);
	v = bounce_verdict_of(BOUNCE_HOSTUNKNOWN, 0, NULL);
	assert_int_equal(v.scope, BOUNCE_SCOPE_DESTINATION);
}

static void
test_stage(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum bounce_stage want;
	} rows[] = {
	    {"(in reply to RCPT TO command)", BOUNCE_STAGE_RCPT},
	    {"SMTP error from remote mail server after end of data", BOUNCE_STAGE_DATA},
	    {"after MAIL FROM:<a@b>", BOUNCE_STAGE_MAIL},
	    {"550 user unknown", BOUNCE_STAGE_UNKNOWN},
	    {"SMTP:RCPT host 192.0.2.1: 553 no such user", BOUNCE_STAGE_RCPT},
	    {"SMTP:DATA host 192.0.2.1: 554 rejected", BOUNCE_STAGE_DATA},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum bounce_stage s = bounce_stage_of(rows[i].text, strlen(rows[i].text));
		if (s != rows[i].want)
			fail_msg("%s: got %d want %d", rows[i].text, s, rows[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
	                                   cmocka_unit_test(test_names),
	                                   cmocka_unit_test(test_stage)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
