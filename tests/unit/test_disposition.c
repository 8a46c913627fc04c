/* test_disposition - every kind of delivery fact → its disposition, row by row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/disposition.h"

enum { NOW = 1800000000, HOUR = 3600, DAY = 86400 };

static const struct disp_policy policy = {
    .max_age = 3 * DAY,
    .retry_first = 300,
    .retry_max = 4 * HOUR,
    .nxdomain_confirm_s = HOUR,
    .nxdomain_trust_s = 30 * DAY,
};

/* A fact in a row: the kind, the reply (stage, code, ecode, text, flags) and the rest. */
struct row {
	const char *label;
	enum disp_kind kind;
	struct smtp_result r;
	int64_t age;        /* seconds since queued */
	int attempts;       /* before this one */
	int64_t not_before; /* relative to NOW, 0 = none */
	int cancelled;
	int no_domain;         /* DNS: NXDOMAIN or no mail host */
	int64_t delivered_ago; /* the domain's last delivery, seconds ago (0: none) */
	int64_t first_ago;     /* its first no-domain answer, seconds ago */
	/* Want. */
	enum disp_state state;
	const char *event; /* NULL: none */
	int count;         /* attempt counted */
	const char *reason;
	const char *cls;
	int64_t next_min, next_max; /* next attempt, relative to NOW (0 0: don't care) */
};

#define REPLY(stage, code, ecode, text)                                                            \
	{                                                                                          \
		stage, code, ecode, text, 0, SMTP_LOCAL_NONE                                       \
	}
#define LOCAL(stage, text, flags)                                                                  \
	{                                                                                          \
		stage, 0, "", text, flags, SMTP_LOCAL_NONE                                         \
	}
#define NONE                                                                                       \
	{                                                                                          \
		SMTP_STAGE_CONNECT, 0, "", "", 0, SMTP_LOCAL_NONE                                  \
	}

static const struct row rows[] = {
    /* Attempts: the SMTP reply decides, through smtp_outcome and the bounce classifier. */
    {"250 at the dot", DISP_ATTEMPT, REPLY(SMTP_STAGE_DOT, 250, "2.0.0", "Ok"), 60, 0, 0, 0, 0, 0,
     0, DISP_DELIVERED, "delivered", 1, NULL, NULL, 0, 0},
    {"550 user unknown at RCPT", DISP_ATTEMPT, REPLY(SMTP_STAGE_RCPT, 550, "5.1.1", "User unknown"),
     60, 0, 0, 0, 0, 0, 0, DISP_BOUNCED, "bounced", 1, "userunknown", "hard", 0, 0},
    {"552 mailbox full at RCPT: soft bounce", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_RCPT, 552, "5.2.2", "Mailbox full"), 60, 0, 0, 0, 0, 0, 0, DISP_BOUNCED,
     "bounced", 1, "mailboxfull", "soft", 0, 0},
    {"451 at RCPT: first retry in ~5 min", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_RCPT, 451, "4.3.0", "Try later"), 60, 0, 0, 0, 0, 0, 0, DISP_QUEUED,
     "deferred", 1, NULL, "soft", 270, 330},
    {"451 at the 4th attempt: ~40 min", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_RCPT, 451, "4.3.0", "Try later"), 60, 3, 0, 0, 0, 0, 0, DISP_QUEUED,
     "deferred", 1, NULL, "soft", 2160, 2640},
    {"451 past the maximum age: expired", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_RCPT, 451, "4.3.0", "Try later"), 3 * DAY, 9, 0, 0, 0, 0, 0, DISP_BOUNCED,
     "bounced", 1, "expired", "soft", 0, 0},
    {"554 banner: never the recipient's fault", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_BANNER, 554, "5.7.1", "Go away"), 60, 0, 0, 0, 0, 0, 0, DISP_QUEUED,
     "deferred", 1, NULL, "soft", 270, 330},
    {"connection lost at the dot", DISP_ATTEMPT,
     LOCAL(SMTP_STAGE_DOT, "connection lost", SMTP_RESULT_CONN_LOST), 60, 0, 0, 0, 0, 0, 0,
     DISP_QUEUED, "deferred", 1, NULL, "soft", 270, 330},
    {"552 message too big at the dot", DISP_ATTEMPT,
     REPLY(SMTP_STAGE_DOT, 552, "5.3.4", "Message too big"), 60, 0, 0, 0, 0, 0, 0, DISP_BOUNCED,
     "bounced", 1, "mesgtoobig", NULL, 0, 0},
    /* DNS verdicts. */
    {"null MX bounces at once", DISP_DNS, REPLY(SMTP_STAGE_DNS, 0, "5.1.10", "null MX"), 60, 0, 0,
     0, 0, 0, 0, DISP_BOUNCED, "bounced", 1, NULL, NULL, 0, 0},
    {"SERVFAIL defers", DISP_DNS, REPLY(SMTP_STAGE_DNS, 0, "4.4.3", "SERVFAIL"), 60, 0, 0, 0, 0, 0,
     0, DISP_QUEUED, "deferred", 1, NULL, "soft", 270, 330},
    {"first NXDOMAIN waits for confirmation", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), 60, 0, 0, 0, 1, 0, 0, DISP_QUEUED, "deferred",
     1, NULL, "soft", HOUR, HOUR},
    {"NXDOMAIN again after 20 min: not yet", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), 1200, 1, 0, 0, 1, 0, 1200, DISP_QUEUED,
     "deferred", 1, NULL, "soft", HOUR - 1200, HOUR - 1200},
    {"NXDOMAIN confirmed an hour later: bounced", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), HOUR + 60, 1, 0, 0, 1, 0, HOUR + 60,
     DISP_BOUNCED, "bounced", 1, NULL, "hard", 0, 0},
    {"NXDOMAIN for a domain delivered to last week: deferred", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), 2 * HOUR, 1, 0, 0, 1, 7 * DAY, 2 * HOUR,
     DISP_QUEUED, "deferred", 1, NULL, "soft", 540, 660},
    {"NXDOMAIN for a domain delivered to 40 days ago: bounced", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), 2 * HOUR, 1, 0, 0, 1, 40 * DAY, 2 * HOUR,
     DISP_BOUNCED, "bounced", 1, NULL, "hard", 0, 0},
    {"NXDOMAIN of a trusted domain past the maximum age: expired", DISP_DNS,
     REPLY(SMTP_STAGE_DNS, 0, "5.1.2", "NXDOMAIN"), 3 * DAY, 20, 0, 0, 1, 7 * DAY, 3 * DAY,
     DISP_BOUNCED, "bounced", 1, "expired", "soft", 0, 0},
    /* Never on the wire. */
    {"destination down: back at its time, no attempt", DISP_UNSENT, NONE, 60, 0, 30, 0, 0, 0, 0,
     DISP_QUEUED, NULL, 0, NULL, NULL, 30, 30},
    {"shutdown: back now, no attempt", DISP_UNSENT, NONE, 60, 2, 0, 0, 0, 0, 0, DISP_QUEUED, NULL,
     0, NULL, NULL, -NOW, -NOW},
    {"destination down past the maximum age: expired", DISP_UNSENT, NONE, 3 * DAY, 0, 30, 0, 0, 0,
     0, DISP_BOUNCED, "bounced", 1, "expired", "soft", 0, 0},
    {"shutdown past the maximum age: not the message's failure", DISP_UNSENT, NONE, 4 * DAY, 0, 0,
     0, 0, 0, 0, DISP_QUEUED, NULL, 0, NULL, NULL, -NOW, -NOW},
    {"campaign cancelled meanwhile", DISP_UNSENT, NONE, 60, 0, 30, 1, 0, 0, 0, DISP_CANCELLED, NULL,
     0, NULL, NULL, 0, 0},
    {"suppressed since it was claimed", DISP_WITHDRAWN, NONE, 60, 0, 0, 0, 0, 0, 0, DISP_SUPPRESSED,
     NULL, 0, NULL, NULL, 0, 0},
    {"cannot render", DISP_RENDER, NONE, 60, 0, 0, 0, 0, 0, 0, DISP_FAILED, "failed", 1, NULL, NULL,
     0, 0},
};

/* What a row wants of a disposition (NULL reason or class: don't care; next 0 0: don't care). */
struct want {
	enum disp_state state;
	const char *event; /* NULL: none */
	int count;         /* attempt counted */
	const char *reason;
	const char *cls;
	int64_t next_min, next_max; /* relative to NOW */
};

/* mismatch - 0 when d is what w wants, else 1 with got and want printed */
static int
mismatch(const char *label, const struct disposition *d, const struct want *w)
{
	const char *ev = disposition_event_name(d->event);
	const char *reason = d->reason != BOUNCE_UNDEFINED ? bounce_reason_name(d->reason) : NULL;
	const char *cls = d->cls != BOUNCE_NONE ? bounce_class_name(d->cls) : NULL;
	int64_t next = d->next_attempt_at - NOW;
	bool ok =
	    d->state == w->state && (ev == NULL) == (w->event == NULL) &&
	    (ev == NULL || strcmp(ev, w->event) == 0) && d->count_attempt == w->count &&
	    (w->reason == NULL || (reason && strcmp(reason, w->reason) == 0)) &&
	    (w->cls == NULL || (cls && strcmp(cls, w->cls) == 0)) &&
	    (w->next_min == 0 && w->next_max == 0 ? true
	                                          : next >= w->next_min && next <= w->next_max);
	assert_non_null(d->why);
	if (ok)
		return 0;
	printf("row \"%s\": got %s/%s attempt=%d reason=%s class=%s next=%+lld (rule: %s); want "
	       "%s/%s attempt=%d reason=%s class=%s next in [%lld, %lld]\n",
	       label, disposition_state_name(d->state), ev ? ev : "-", d->count_attempt,
	       reason ? reason : "-", cls ? cls : "-", (long long)next, d->why,
	       disposition_state_name(w->state), w->event ? w->event : "-", w->count,
	       w->reason ? w->reason : "*", w->cls ? w->cls : "*", (long long)w->next_min,
	       (long long)w->next_max);
	return 1;
}

static void
test_rows(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct disp_fact f = {
		    .kind = w->kind,
		    .r = &w->r,
		    .dns_no_domain = w->no_domain,
		    .message_id = 1000 + (int64_t)i,
		    .attempts = w->attempts,
		    .queued_at = NOW - w->age,
		    .now = NOW,
		    .not_before = w->not_before ? NOW + w->not_before : 0,
		    .cancelled = w->cancelled,
		    .delivered_at = w->delivered_ago ? NOW - w->delivered_ago : 0,
		    .nxdomain_first = w->first_ago || w->no_domain ? NOW - w->first_ago : 0,
		};
		struct disposition d;
		disposition_decide(&f, &policy, &d);
		struct want want = {w->state, w->event,    w->count,   w->reason,
		                    w->cls,   w->next_min, w->next_max};
		failed += mismatch(w->label, &d, &want);
	}
	assert_int_equal(failed, 0);
}

/*
 * The refusals the client decides itself: each kind's enhanced code and text come from
 * disposition.c's table (the fact carries the kind and no code), and its disposition
 * follows. A job refused before MAIL fails (retrying cannot help; nothing is wrong with the
 * address as far as a server said); a destination our throttle suspended hands its jobs back.
 */
static void
test_local(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		enum smtp_local kind;
		const char *text; /* NULL: the kind's own */
		bool unsent;      /* handed back (ABORTED), its destination down for 30 s */
		int64_t age;
		/* Want. */
		const char *ecode;
		enum outcome_scope scope;
		struct want w;
	} t[] = {
	    {"job without recipients",
	     SMTP_LOCAL_NO_RCPT,
	     NULL,
	     false,
	     60,
	     "",
	     OUTCOME_MESSAGE,
	     {DISP_FAILED, "failed", 1, "onhold", "soft", 0, 0}},
	    {"sender cannot go on the wire",
	     SMTP_LOCAL_BAD_SENDER,
	     NULL,
	     false,
	     60,
	     "5.1.7",
	     OUTCOME_MESSAGE,
	     {DISP_FAILED, "failed", 1, "rejected", "soft", 0, 0}},
	    /* Refused at MAIL, so the classifier reads an address problem as the sender's. */
	    {"recipient cannot go on the wire",
	     SMTP_LOCAL_BAD_RCPT,
	     NULL,
	     false,
	     60,
	     "5.1.3",
	     OUTCOME_MESSAGE,
	     {DISP_FAILED, "failed", 1, "rejected", "soft", 0, 0}},
	    {"SMTPUTF8 not offered",
	     SMTP_LOCAL_SMTPUTF8,
	     NULL,
	     false,
	     60,
	     "5.6.7",
	     OUTCOME_MESSAGE,
	     {DISP_FAILED, "failed", 1, "contenterror", "soft", 0, 0}},
	    {"over the server's SIZE",
	     SMTP_LOCAL_TOO_BIG,
	     "message size 2000 exceeds the server's limit 1000",
	     false,
	     60,
	     "5.3.4",
	     OUTCOME_MESSAGE,
	     {DISP_FAILED, "failed", 1, "mesgtoobig", "soft", 0, 0}},
	    {"destination suspended: back when it ends",
	     SMTP_LOCAL_SUSPENDED,
	     NULL,
	     true,
	     60,
	     "4.7.0",
	     OUTCOME_DESTINATION,
	     {DISP_QUEUED, NULL, 0, NULL, NULL, 30, 30}},
	    {"destination suspended past the maximum age: expired",
	     SMTP_LOCAL_SUSPENDED,
	     NULL,
	     true,
	     3 * DAY,
	     "4.7.0",
	     OUTCOME_DESTINATION,
	     {DISP_BOUNCED, "bounced", 1, "expired", "soft", 0, 0}},
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *text = t[i].text ? t[i].text : disposition_local_text(t[i].kind);
		assert_string_equal(disposition_local_ecode(t[i].kind), t[i].ecode);
		assert_true(*text != '\0');
		/* The session's refusals are at MAIL; the pool's hand-backs at connect. */
		struct smtp_result r = {
		    t[i].unsent ? SMTP_STAGE_CONNECT : SMTP_STAGE_MAIL,          0,        "", text,
		    SMTP_RESULT_LOCAL | (t[i].unsent ? SMTP_RESULT_ABORTED : 0), t[i].kind};
		struct disp_fact f = {.kind = t[i].unsent ? DISP_UNSENT : DISP_ATTEMPT,
		                      .r = &r,
		                      .message_id = 1,
		                      .queued_at = NOW - t[i].age,
		                      .now = NOW,
		                      .not_before = t[i].unsent ? NOW + 30 : 0};
		struct disposition d;
		disposition_decide(&f, &policy, &d);
		failed += mismatch(t[i].label, &d, &t[i].w);
		struct disp_class c = disposition_classify(&r);
		if (c.scope != t[i].scope) {
			printf("row \"%s\": scope %s, want %s\n", t[i].label,
			       smtp_outcome_scope_name(c.scope),
			       smtp_outcome_scope_name(t[i].scope));
			failed++;
		}
	}
	assert_string_equal(disposition_local_ecode(SMTP_LOCAL_NONE), "");
	assert_int_equal(failed, 0);
}

/*
 * Reports that come back after the send (`kirim bounces`): one recipient of a DSN or an
 * ARF report. The verdict is the classifier's, fed the Status and Diagnostic-Code as the
 * DSN parser feeds it; the Action decides whether it is a bounce at all.
 */
static void
test_dsn(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		bool complaint;
		const char *action; /* NULL: no Action field */
		const char *status;
		const char *diagnostic;
		/* Want. */
		enum disp_suppress suppress;
		struct want w;
	} t[] = {
	    {"failed 5.1.1: bounced hard, suppressed at once",
	     false,
	     "failed",
	     "5.1.1",
	     "smtp; 550 5.1.1 <ann@example.test>: Recipient address rejected: User unknown",
	     DISP_SUPPRESS_HARD,
	     {DISP_BOUNCED, "bounced", 0, "userunknown", "hard", 0, 0}},
	    {"Action in capitals",
	     false,
	     "FAILED",
	     "5.1.1",
	     "smtp; 550 5.1.1 No such user",
	     DISP_SUPPRESS_HARD,
	     {DISP_BOUNCED, "bounced", 0, "userunknown", "hard", 0, 0}},
	    {"no Action: read as failed",
	     false,
	     NULL,
	     "5.1.1",
	     "550 5.1.1 User unknown",
	     DISP_SUPPRESS_HARD,
	     {DISP_BOUNCED, "bounced", 0, "userunknown", "hard", 0, 0}},
	    {"failed 5.2.2 mailbox full: a soft bounce, the message keeps its state",
	     false,
	     "failed",
	     "5.2.2",
	     "smtp; 552 5.2.2 Mailbox full",
	     DISP_SUPPRESS_SOFT,
	     {DISP_KEEP, "bounced", 0, "mailboxfull", "soft", 0, 0}},
	    {"failed 4.4.7 given up on: soft",
	     false,
	     "failed",
	     "4.4.7",
	     "delivery time expired",
	     DISP_SUPPRESS_SOFT,
	     {DISP_KEEP, "bounced", 0, "expired", "soft", 0, 0}},
	    {"delayed 4.4.1: not a bounce, nothing recorded",
	     false,
	     "delayed",
	     "4.4.1",
	     "smtp; 421 4.4.1 connection timed out",
	     DISP_SUPPRESS_NONE,
	     {DISP_KEEP, NULL, 0, NULL, NULL, 0, 0}},
	    {"delivered 2.0.0: a success notice",
	     false,
	     "delivered",
	     "2.0.0",
	     "smtp; 250 ok",
	     DISP_SUPPRESS_NONE,
	     {DISP_KEEP, NULL, 0, NULL, NULL, 0, 0}},
	    {"delivered, though its diagnostic says 5.x.x: the Action decides",
	     false,
	     "delivered",
	     "5.1.1",
	     "smtp; 550 5.1.1 User unknown",
	     DISP_SUPPRESS_NONE,
	     {DISP_KEEP, NULL, 0, NULL, NULL, 0, 0}},
	    {"relayed",
	     false,
	     "relayed",
	     "2.0.0",
	     "",
	     DISP_SUPPRESS_NONE,
	     {DISP_KEEP, NULL, 0, NULL, NULL, 0, 0}},
	    {"no Action and 2.0.0: recorded, class none, nothing suppressed",
	     false,
	     NULL,
	     "2.0.0",
	     "",
	     DISP_SUPPRESS_NONE,
	     {DISP_KEEP, "bounced", 0, "delivered", NULL, 0, 0}},
	    {"a complaint: recorded, suppressed, the message keeps its state",
	     true,
	     NULL,
	     "",
	     "",
	     DISP_SUPPRESS_COMPLAINT,
	     {DISP_KEEP, "complaint", 0, "feedback", NULL, 0, 0}},
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct disp_dsn dd = {t[i].complaint, t[i].action,
		                      t[i].complaint
		                          ? bounce_verdict_of(BOUNCE_FEEDBACK, 0, "")
		                          : bounce_classify(0, t[i].status, t[i].diagnostic,
		                                            strlen(t[i].diagnostic))};
		struct disp_fact f = {.kind = DISP_DSN, .dsn = &dd, .now = NOW};
		struct disposition d;
		disposition_decide(&f, NULL, &d);
		failed += mismatch(t[i].label, &d, &t[i].w);
		if (d.suppress != t[i].suppress) {
			printf("row \"%s\": suppress %d, want %d\n", t[i].label, (int)d.suppress,
			       (int)t[i].suppress);
			failed++;
		}
		if (d.event != DISP_EV_NONE && d.cls == BOUNCE_NONE && !t[i].complaint &&
		    dd.verdict.cls != BOUNCE_NONE) {
			printf("row \"%s\": the verdict's class was lost\n", t[i].label);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* The loop's classification agrees with the decision's for attempts. */
static void
test_classify(void **state)
{
	(void)state;
	struct smtp_result hard = REPLY(SMTP_STAGE_RCPT, 550, "5.1.1", "No such user");
	struct disp_class c = disposition_classify(&hard);
	assert_int_equal(c.outcome, OUTCOME_BOUNCED);
	assert_int_equal(c.cls, BOUNCE_HARD);
	assert_string_equal(bounce_reason_name(c.reason), "userunknown");
	struct smtp_result soft = REPLY(SMTP_STAGE_RCPT, 450, "4.2.1", "Slow down");
	c = disposition_classify(&soft);
	assert_int_equal(c.outcome, OUTCOME_DEFERRED);
	assert_int_equal(c.cls, BOUNCE_SOFT);
	struct smtp_result ok = REPLY(SMTP_STAGE_DOT, 250, "2.0.0", "Ok");
	c = disposition_classify(&ok);
	assert_int_equal(c.outcome, OUTCOME_DELIVERED);
	assert_int_equal(c.cls, BOUNCE_NONE);
}

/* Retries of a batch deferred together spread out (jitter by message), and stay within
 * +-10% of the schedule. */
static void
test_jitter(void **state)
{
	(void)state;
	struct smtp_result r = REPLY(SMTP_STAGE_RCPT, 451, "4.3.0", "later");
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 200; i++) {
		struct disp_fact f = {.kind = DISP_ATTEMPT,
		                      .r = &r,
		                      .message_id = i,
		                      .queued_at = NOW - 60,
		                      .now = NOW};
		struct disposition d;
		disposition_decide(&f, &policy, &d);
		int64_t next = d.next_attempt_at - NOW;
		lo = next < lo ? next : lo;
		hi = next > hi ? next : hi;
	}
	assert_true(lo >= 270 && hi <= 330);
	assert_true(hi - lo >= 30);
}

/* DNS verdicts' enhanced codes (RFC 3463, RFC 7505) and which need confirming. */
static void
test_dns(void **state)
{
	(void)state;
	static const struct {
		enum disp_dns v;
		const char *ecode;
		bool unconfirmed;
	} t[] = {
	    {DISP_DNS_NXDOMAIN, "5.1.2", true},    {DISP_DNS_NODATA, "5.1.2", true},
	    {DISP_DNS_NULLMX, "5.1.10", false},    {DISP_DNS_TEMPFAIL, "4.4.3", false},
	    {DISP_DNS_UNROUTABLE, "4.4.0", false}, {DISP_DNS_POLICY, "4.7.5", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(disposition_dns_ecode(t[i].v), t[i].ecode);
		assert_int_equal(disposition_dns_unconfirmed(t[i].v), t[i].unconfirmed);
	}
	/* A policy that cannot be met defers: never a bounce, never plain text. */
	struct smtp_result r = {.stage = SMTP_STAGE_DNS, .ecode = "4.7.5", .text = "policy"};
	assert_int_equal(disposition_classify(&r).outcome, OUTCOME_DEFERRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),   cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_jitter), cmocka_unit_test(test_dns),
	    cmocka_unit_test(test_local),  cmocka_unit_test(test_dsn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
