/* test_throttle - token buckets, rate strings, slow-down replies, AIMD, retries, warm-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/throttle.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int
near(double got, double want)
{
	double d = got - want;
	if (d < 0)
		d = -d;
	return d <= 1e-9 * (want < 0 ? -want : want) + 1e-12;
}

static void
test_rate_parse(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in;
		int ok;
		double want;
	} cases[] = {
	    {"per second", "10/s", 1, 10},
	    {"per minute", "600/min", 1, 10},
	    {"per hour", "3600/h", 1, 1},
	    {"per day", "86400/d", 1, 1},
	    {"long units", "120/minute", 1, 2},
	    {"hours word", "7200/hours", 1, 2},
	    {"hr", "1800/hr", 1, 0.5},
	    {"sec", "5/sec", 1, 5},
	    {"m is minute", "30/m", 1, 0.5},
	    {"case and blanks", "  600 / MIN ", 1, 10},
	    {"decimal", "0.5/s", 1, 0.5},
	    {"leading dot", ".5/s", 1, 0.5},
	    {"zero is unlimited", "0", 1, 0},
	    {"none", "none", 1, 0},
	    {"unlimited", "Unlimited", 1, 0},
	    {"ceiling", "1000000/s", 1, 1e6},
	    {"empty", "", 0, 0},
	    {"blank", "   ", 0, 0},
	    {"no unit", "10", 0, 0},
	    {"unknown unit", "10/w", 0, 0},
	    {"unit only", "/s", 0, 0},
	    {"negative", "-5/s", 0, 0},
	    {"zero with unit", "0/h", 0, 0},
	    {"too high", "1000001/s", 0, 0},
	    {"too many digits", "1234567890/d", 0, 0},
	    {"trailing junk", "10/s x", 0, 0},
	    {"two slashes", "10//s", 0, 0},
	    {"dot without digits", "./s", 0, 0},
	    {"below one a day", "0.5/d", 0, 0},
	    {"one a day", "1/d", 1, 1.0 / 86400},
	    {"exponent", "1e3/s", 0, 0},
	    {"hex", "0x10/s", 0, 0},
	    {"inf", "inf/s", 0, 0},
	    {"nan", "nan", 0, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		double got = -1;
		const char *why = NULL;
		int rc = throttle_rate_parse(cases[i].in, &got, &why);
		if ((rc == 0) != cases[i].ok)
			fail_msg("%s: '%s': got rc %d (%s) want %s", cases[i].label, cases[i].in,
			         rc, why ? why : "", cases[i].ok ? "ok" : "error");
		if (rc == 0 && !near(got, cases[i].want))
			fail_msg("%s: '%s': got %g want %g", cases[i].label, cases[i].in, got,
			         cases[i].want);
		if (rc < 0 && why == NULL)
			fail_msg("%s: no reason given", cases[i].label);
	}
	double v;
	assert_int_equal(throttle_rate_parse(NULL, &v, NULL), -1);
}

static void
test_rate_format(void **state)
{
	(void)state;
	static const struct {
		double in;
		const char *want;
	} cases[] = {
	    {10, "10/s"},      {1, "1/s"},         {600.0 / 3600, "10/min"}, {1.0 / 60, "1/min"},
	    {0.5, "30/min"},   {1.5 / 60, "90/h"}, {100.0 / 86400, "100/d"}, {0, "unlimited"},
	    {-1, "unlimited"}, {2.5, "150/min"},   {1e6, "1000000/s"},       {1.0 / 7, "%"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[THROTTLE_RATE_STR];
		throttle_rate_format(cases[i].in, out, sizeof(out));
		if (strcmp(cases[i].want, "%") == 0) {
			/* Not a whole number in any unit: "%.3g/h", and it parses back close. */
			double back;
			assert_int_equal(throttle_rate_parse(out, &back, NULL), 0);
			if (back < cases[i].in * 0.99 || back > cases[i].in * 1.01)
				fail_msg("%g: got '%s' which reads back as %g", cases[i].in, out,
				         back);
			continue;
		}
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%g: got '%s' want '%s'", cases[i].in, out, cases[i].want);
		/* Round trip: what is printed parses back to the same rate. */
		double back;
		if (cases[i].in > 0 &&
		    (throttle_rate_parse(out, &back, NULL) < 0 || !near(back, cases[i].in)))
			fail_msg("%g: '%s' does not read back", cases[i].in, out);
	}
	char tiny[4];
	throttle_rate_format(10, tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), 3);
}

/*
 * Drive a bucket for secs with a fake clock. The caller either comes back
 * exactly when told (poll 0) or polls every poll seconds like a timer would.
 * Returns the count; checks the bucket never holds more than its burst nor
 * lets more than its burst go at one instant; *max_window gets the most sent
 * in any 1 s window.
 */
static long
drive(double rate, double burst, double secs, double poll, double *max_window)
{
	struct throttle_bucket b;
	static double sent[200000];
	long n = 0;
	double now = 0;
	throttle_bucket_init(&b, rate, burst, now);
	*max_window = 0;
	while (now < secs) {
		double w = throttle_bucket_take(&b, now);
		if (b.tokens > b.burst + 1e-9)
			fail_msg("tokens %g over burst %g at %g", b.tokens, b.burst, now);
		if (w == 0) {
			assert_true(n < (long)N(sent));
			long same = 0;
			for (long k = n - 1; k >= 0 && sent[k] == now; k--)
				same++;
			if (same + 1 > b.burst + 1e-9)
				fail_msg("%ld at one instant, burst %g", same + 1, b.burst);
			sent[n++] = now;
			continue;
		}
		assert_true(w > 0);
		now += poll > 0 ? poll : w;
	}
	/* The largest number sent in any window [t, t + 1 s). */
	for (long i = 0, j = 0; i < n; i++) {
		while (sent[i] - sent[j] >= 1.0 - 1e-6)
			j++;
		if (i - j + 1 > *max_window)
			*max_window = (double)(i - j + 1);
	}
	return n;
}

static void
test_bucket(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		double rate, burst, secs, poll;
		long lo, hi;   /* the count must fall within */
		double window; /* most in any 1 s window: rate + what one poll step can carry */
	} cases[] = {
	    /* The test: 60 s at 10/s within 5%, never past the bucket. */
	    {"10/s exact wake-ups", 10, 0, 60, 0, 570, 630, 10},
	    {"10/s polled every 7 ms", 10, 0, 60, 0.007, 570, 630, 11},
	    {"10/s polled every 250 ms", 10, 0, 60, 0.25, 570, 630, 11},
	    {"3600/h is one a second", 1, 0, 60, 0, 59, 61, 1},
	    {"3600/h polled", 1, 0, 60, 0.05, 57, 63, 2},
	    {"burst 5 at 2/s", 2, 5, 60, 0, 114, 126, 5},
	    {"100/d over an hour", 100.0 / 86400, 0, 3600, 0, 1, 5, 1},
	    {"1000/s", 1000, 0, 10, 0, 9500, 10500, 1000},
	};
	for (size_t i = 0; i < N(cases); i++) {
		double win;
		long n = drive(cases[i].rate, cases[i].burst, cases[i].secs, cases[i].poll, &win);
		if (n < cases[i].lo || n > cases[i].hi)
			fail_msg("%s: got %ld messages want %ld..%ld", cases[i].label, n,
			         cases[i].lo, cases[i].hi);
		print_message("%s: %ld messages in %g s, at most %g in 1 s\n", cases[i].label, n,
		              cases[i].secs, win);
		if (win > cases[i].window)
			fail_msg("%s: %g in one second, want at most %g", cases[i].label, win,
			         cases[i].window);
	}
}

static void
test_bucket_unlimited_and_rate_change(void **state)
{
	(void)state;
	struct throttle_bucket b;
	throttle_bucket_init(&b, 0, 0, 0);
	for (int i = 0; i < 1000; i++)
		assert_true(throttle_bucket_take(&b, 0) == 0);

	/* Lowering the rate never lets a stored burst through. */
	throttle_bucket_init(&b, 100, 0, 0);
	assert_true(throttle_bucket_take(&b, 0) == 0);
	assert_true(throttle_bucket_take(&b, 0) > 0);
	throttle_bucket_set_rate(&b, 100, 0, 5); /* full: 100 tokens */
	assert_true(b.tokens <= 100 + 1e-9);
	throttle_bucket_set_rate(&b, 1, 0, 5);
	assert_true(b.tokens <= 1 + 1e-9);
	assert_true(throttle_bucket_take(&b, 5) == 0);
	double w = throttle_bucket_take(&b, 5);
	if (w < 0.99 || w > 1.01)
		fail_msg("after lowering to 1/s: wait %g want 1", w);
	/* A clock that goes back earns nothing and breaks nothing. */
	w = throttle_bucket_take(&b, 2);
	assert_true(w > 0);
	/* wait does not take. */
	throttle_bucket_init(&b, 1, 0, 0);
	assert_true(throttle_bucket_wait(&b, 0) == 0);
	assert_true(throttle_bucket_wait(&b, 0) == 0);
	assert_true(throttle_bucket_take(&b, 0) == 0);
	assert_true(throttle_bucket_wait(&b, 0) > 0);
}

static void
test_slowdown_table(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int code;
		const char *ecode, *text;
		int want;
	} cases[] = {
	    {"421 anything", 421, "", "Service not available", 1},
	    {"Gmail 421-4.7.28", 421, "4.7.28",
	     "Our system has detected an unusual rate of unsolicited mail originating from your "
	     "IP address.",
	     1},
	    {"Gmail 4.7.28 as 450", 450, "4.7.28", "unusual rate", 1},
	    {"Gmail 421-4.7.0 try again", 421, "4.7.0", "Try again later, closing connection.", 1},
	    {"Outlook 4.7.650", 451, "4.7.650",
	     "The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
	     1},
	    {"Outlook server busy", 451, "4.7.500",
	     "Server busy. Please try again later from [192.0.2.1]. (S77719)", 1},
	    {"Yahoo TSS04", 421, "4.7.0",
	     "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or "
	     "user complaints",
	     1},
	    {"Yahoo TSS04 as 451", 451, "", "[TSS04] Messages temporarily deferred", 1},
	    {"451 4.7.1 policy", 451, "4.7.1", "Sorry, the service is currently unavailable.", 1},
	    {"Yandex come back", 451, "", "Sorry, please come back later", 1},
	    {"452 too many connections", 452, "4.3.2", "Too many connections from your IP", 1},
	    {"450 rate limited", 450, "4.7.1", "Sender rate limit exceeded", 1},
	    {"ratelimit word", 450, "", "Ratelimit reached for sender", 1},
	    {"throttled", 451, "4.3.0", "Message throttled", 1},
	    {"QQ frequency", 451, "", "Mail sent by this IP is too frequent", 1},
	    {"NetEase RP", 451, "", "RP:QRC 192.0.2.1 Temporary quota exceeded", 1},
	    {"too many messages", 450, "", "Too many messages in this session", 1},
	    {"server busy plain", 450, "", "Server is busy", 1},
	    {"greylisting", 451, "4.7.1", "Greylisted, please try again later", 0},
	    {"greylist 450", 450, "4.2.0", "Recipient address rejected: Greylisted", 0},
	    {"mailbox full", 452, "4.2.2", "Mailbox full, try again later", 0},
	    {"too many recipients 452", 452, "4.5.3", "Too many recipients", 0},
	    {"too many recipients no ecode", 452, "", "Error: too many recipients", 0},
	    {"Gmail 4.2.1 one mailbox", 450, "4.2.1",
	     "The user you are trying to contact is receiving mail at a rate that prevents "
	     "additional messages from being delivered. Please resend your message at a later "
	     "time. Try again later",
	     0},
	    {"plain 450", 450, "4.3.0", "Temporary failure", 0},
	    {"451 local error", 451, "4.3.0", "Local error in processing", 0},
	    {"5xx never", 550, "5.7.1", "rate limit exceeded, try again later", 0},
	    {"2xx never", 250, "2.0.0", "OK try again later", 0},
	    {"NULL strings", 451, NULL, NULL, 0},
	    {"NULL text 421", 421, NULL, NULL, 1},
	};
	for (size_t i = 0; i < N(cases); i++) {
		int got = throttle_is_slowdown(cases[i].code, cases[i].ecode, cases[i].text);
		if (got != cases[i].want)
			fail_msg("%s: got %d want %d (rule: %s)", cases[i].label, got,
			         cases[i].want,
			         throttle_slowdown_why(cases[i].code, cases[i].ecode, cases[i].text)
			             ?: "none");
	}
}

static void
test_result_slowdown(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		enum smtp_stage stage;
		int code;
		unsigned flags;
		int want;
	} cases[] = {
	    {"connection refused", SMTP_STAGE_CONNECT, 0, SMTP_RESULT_CONN_LOST, 1},
	    {"dropped before the greeting", SMTP_STAGE_BANNER, 0, SMTP_RESULT_CONN_LOST, 1},
	    {"timeout at DATA", SMTP_STAGE_DOT, 0, SMTP_RESULT_TIMEOUT, 1},
	    {"connect timeout", SMTP_STAGE_CONNECT, 0, SMTP_RESULT_TIMEOUT, 1},
	    {"lost mid-transaction", SMTP_STAGE_RCPT, 0, SMTP_RESULT_CONN_LOST, 0},
	    {"421 banner", SMTP_STAGE_BANNER, 421, 0, 1},
	    {"421 then drop", SMTP_STAGE_MAIL, 421, SMTP_RESULT_CONN_LOST, 1},
	    {"local TLS refusal", SMTP_STAGE_EHLO, 0, SMTP_RESULT_LOCAL, 0},
	    {"our abort", SMTP_STAGE_RCPT, 0, SMTP_RESULT_ABORTED, 0},
	    {"250 at dot", SMTP_STAGE_DOT, 250, 0, 0},
	    {"550 at rcpt", SMTP_STAGE_RCPT, 550, 0, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_result r = {.stage = cases[i].stage,
		                        .code = cases[i].code,
		                        .ecode = "",
		                        .text = "",
		                        .flags = cases[i].flags};
		if (throttle_result_is_slowdown(&r) != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].label, !cases[i].want,
			         cases[i].want);
	}
}

/* One step of an AIMD sequence. */
struct step {
	double t;
	char ev; /* 'S' slow-down, 'O' success, 'T' tick, 'R' 250 result, 'C' refused result */
	int repeat;
	enum throttle_change want;
	double rate;
	unsigned conns;
	const char *note; /* a substring of a->last, or NULL */
};

static void
run_steps(const char *label, double rate_max, unsigned conns_max, const struct step *s, size_t n)
{
	struct throttle_aimd a;
	throttle_aimd_init(&a, NULL, rate_max, conns_max, 0);
	for (size_t i = 0; i < n; i++) {
		enum throttle_change got = THROTTLE_SAME;
		for (int k = 0; k < (s[i].repeat ? s[i].repeat : 1); k++) {
			struct smtp_result ok = {
			    .stage = SMTP_STAGE_DOT, .code = 250, .ecode = "2.0.0", .text = "ok"};
			struct smtp_result refused = {.stage = SMTP_STAGE_CONNECT,
			                              .ecode = "",
			                              .text = "",
			                              .flags = SMTP_RESULT_CONN_LOST};
			switch (s[i].ev) {
			case 'S':
				got =
				    throttle_aimd_slowdown(&a, s[i].t, "421 4.7.0 try again later");
				break;
			case 'O':
				got = throttle_aimd_success(&a, s[i].t);
				break;
			case 'R':
				got = throttle_aimd_result(&a, s[i].t, &ok);
				break;
			case 'C':
				got = throttle_aimd_result(&a, s[i].t, &refused);
				break;
			default:
				got = throttle_aimd_tick(&a, s[i].t);
			}
		}
		if (got != s[i].want || !near(a.rate, s[i].rate) || a.conns != s[i].conns)
			fail_msg("%s step %zu (t=%g %c): got %s rate %g conns %u want %s rate %g "
			         "conns %u [%s]",
			         label, i, s[i].t, s[i].ev, throttle_change_name(got), a.rate,
			         a.conns, throttle_change_name(s[i].want), s[i].rate, s[i].conns,
			         a.last);
		if (s[i].note && strstr(a.last, s[i].note) == NULL)
			fail_msg("%s step %zu: note '%s' lacks '%s'", label, i, a.last, s[i].note);
	}
}

static void
test_aimd(void **state)
{
	(void)state;
	/* Halve, absorb the echo on other connections, halve again, suspend on the third. */
	static const struct step halve[] = {
	    {0, 'O', 10, THROTTLE_SAME, 10, 8, NULL},
	    {1, 'S', 0, THROTTLE_DECREASED, 5, 4, "rate 10/s -> 5/s, connections 8 -> 4 after 421"},
	    {2, 'S', 0, THROTTLE_SAME, 5, 4, NULL}, /* within hold_s: same episode */
	    {10, 'S', 0, THROTTLE_DECREASED, 2.5, 2, "rate 5/s -> 150/min"},
	    {20, 'S', 0, THROTTLE_SUSPENDED, 1.25, 1, "suspended for 60 s"},
	    {30, 'S', 0, THROTTLE_SAME, 1.25, 1, NULL}, /* suspended: ignored */
	    {50, 'T', 0, THROTTLE_SAME, 1.25, 1, NULL},
	    {80, 'T', 0, THROTTLE_RESUMED, 1.25, 1, "resumed at rate 75/min, 1 connection"},
	    /* 50 successes: one additive step (+10% of the ceiling, +1 connection). */
	    {81, 'O', 49, THROTTLE_SAME, 1.25, 1, NULL},
	    {81, 'O', 0, THROTTLE_INCREASED, 2.25, 2, "after 50 messages accepted"},
	    /* 30 s without a complaint: another step, even with few successes. */
	    {100, 'O', 0, THROTTLE_SAME, 2.25, 2, NULL},
	    {112, 'O', 0, THROTTLE_INCREASED, 3.25, 3, "without a complaint"},
	    /* A new complaint long after the window: a plain halving, no suspension. */
	    {800, 'S', 0, THROTTLE_DECREASED, 1.625, 1, NULL},
	};
	run_steps("halve", 10, 8, halve, N(halve));

	/* Suspensions double up to the cap: 60, 120, 240, ... 1800. */
	static const struct step doubling[] = {
	    {0, 'S', 0, THROTTLE_DECREASED, 5, 2, NULL},
	    {10, 'S', 0, THROTTLE_DECREASED, 2.5, 1, NULL},
	    {20, 'S', 0, THROTTLE_SUSPENDED, 1.25, 1, "for 60 s"},
	    {80, 'T', 0, THROTTLE_RESUMED, 1.25, 1, NULL},
	    {90, 'S', 0, THROTTLE_DECREASED, 0.625, 1, NULL},
	    {100, 'S', 0, THROTTLE_DECREASED, 0.3125, 1, NULL},
	    {110, 'S', 0, THROTTLE_SUSPENDED, 0.15625, 1, "for 120 s"},
	    {230, 'T', 0, THROTTLE_RESUMED, 0.15625, 1, NULL},
	    {240, 'S', 0, THROTTLE_DECREASED, 0.078125, 1, NULL},
	    {250, 'S', 0, THROTTLE_DECREASED, 0.0390625, 1, NULL},
	    {260, 'S', 0, THROTTLE_SUSPENDED, 0.01953125, 1, "for 240 s"},
	    {500, 'T', 0, THROTTLE_RESUMED, 0.01953125, 1, NULL},
	    {510, 'S', 0, THROTTLE_DECREASED, 1.0 / 60, 1, "-> 1/min"}, /* the floor */
	};
	run_steps("doubling", 10, 4, doubling, N(doubling));

	/* Climb from the floor back to the ceiling, then stay there. */
	static const struct step climb[] = {
	    {0, 'S', 0, THROTTLE_DECREASED, 50, 2, NULL},
	    {1, 'R', 50, THROTTLE_INCREASED, 60, 3, NULL},
	    {2, 'R', 50, THROTTLE_INCREASED, 70, 4, NULL},
	    {3, 'R', 50, THROTTLE_INCREASED, 80, 4, NULL},
	    {4, 'R', 50, THROTTLE_INCREASED, 90, 4, NULL},
	    {5, 'R', 50, THROTTLE_INCREASED, 100, 4, NULL},
	    {6, 'R', 500, THROTTLE_SAME, 100, 4, NULL},
	};
	run_steps("climb", 100, 4, climb, N(climb));

	/* Unlimited rate: only connections move; refusals count as complaints. */
	static const struct step unlimited[] = {
	    {0, 'C', 0, THROTTLE_DECREASED, 0, 5, "rate unlimited, connections 10 -> 5"},
	    {10, 'C', 0, THROTTLE_DECREASED, 0, 2, "connection refused at connect"},
	    {40, 'R', 1, THROTTLE_INCREASED, 0, 3, NULL},
	};
	run_steps("unlimited", 0, 10, unlimited, N(unlimited));

	/* At the floor a complaint changes nothing but still counts toward a suspension. */
	static const struct step floor[] = {
	    {0, 'S', 0, THROTTLE_SAME, 1.0 / 60, 1, NULL},
	    {10, 'S', 0, THROTTLE_SAME, 1.0 / 60, 1, NULL},
	    {20, 'S', 0, THROTTLE_SUSPENDED, 1.0 / 60, 1, NULL},
	};
	run_steps("floor", 1.0 / 60, 1, floor, N(floor));
}

static void
test_aimd_ceiling(void **state)
{
	(void)state;
	struct throttle_aimd a;
	throttle_aimd_init(&a, NULL, 10, 8, 0);
	throttle_aimd_slowdown(&a, 0, "421\nmulti\tline");
	assert_null(strchr(a.last, '\n'));
	assert_null(strchr(a.last, '\t'));
	throttle_aimd_set_ceiling(&a, 2, 2); /* lower: clamped */
	assert_true(near(a.rate, 2) && a.conns == 2);
	throttle_aimd_set_ceiling(&a, 20, 16); /* higher: the climb stays gradual */
	assert_true(near(a.rate, 2) && a.conns == 2);
	throttle_aimd_set_ceiling(&a, 0, 16); /* unlimited: now */
	assert_true(a.rate == 0);
	assert_true(throttle_aimd_suspended(&a, 0) == 0);
	assert_string_equal(throttle_change_name(THROTTLE_SUSPENDED), "suspended");
	/* A long reply is cut, never overflows. */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	throttle_aimd_init(&a, NULL, 10, 8, 0);
	throttle_aimd_slowdown(&a, 0, big);
	assert_true(strlen(a.last) < sizeof(a.last));
}

/* Another node's levels: clamped to ours, a decrease starts the hold, the same is SAME. */
static void
test_aimd_adopt(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		double rate;
		unsigned conns;
		enum throttle_change want;
		double want_rate;
		unsigned want_conns;
	} rows[] = {
	    {"halved elsewhere", 5, 4, THROTTLE_DECREASED, 5, 4},
	    {"the same again", 5, 4, THROTTLE_SAME, 5, 4},
	    {"rate only (conns 0 = keep)", 2.5, 0, THROTTLE_DECREASED, 2.5, 4},
	    {"back up", 7.5, 6, THROTTLE_INCREASED, 7.5, 6},
	    {"above our ceilings: clamped", 50, 99, THROTTLE_INCREASED, 10, 8},
	    {"a rate of 0 keeps ours", 0, 8, THROTTLE_SAME, 10, 8},
	};
	struct throttle_aimd a;
	throttle_aimd_init(&a, NULL, 10, 8, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum throttle_change got = throttle_aimd_adopt(&a, (double)i, rows[i].rate,
		                                               rows[i].conns, 0, "node b: 421");
		if (got != rows[i].want || !near(a.rate, rows[i].want_rate) ||
		    a.conns != rows[i].want_conns)
			fail_msg("%s: got %s %.3f/%u want %s %.3f/%u", rows[i].label,
			         throttle_change_name(got), a.rate, a.conns,
			         throttle_change_name(rows[i].want), rows[i].want_rate,
			         rows[i].want_conns);
	}
	assert_non_null(strstr(a.last, "shared: node b: 421"));
	/* A local complaint right after a shared decrease is the same episode. */
	throttle_aimd_init(&a, NULL, 10, 8, 0);
	throttle_aimd_adopt(&a, 100, 5, 4, 0, "x");
	assert_int_equal(throttle_aimd_slowdown(&a, 100.5, "421 4.7.0"), THROTTLE_SAME);
	assert_true(near(a.rate, 5));
}

/* Another node's suspension: held back here until its end; a longer one of ours stays. */
static void
test_aimd_adopt_suspension(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		double now, suspend_s;
		enum throttle_change want;
		double want_left; /* seconds of suspension left after the call */
	} rows[] = {
	    {"suspended elsewhere, 40 s left", 10, 40, THROTTLE_SUSPENDED, 40},
	    {"the same again", 11, 39, THROTTLE_SAME, 39},
	    {"a shorter one: ours stays", 12, 5, THROTTLE_SAME, 38},
	    {"a longer one: taken", 13, 100, THROTTLE_SUSPENDED, 100},
	    {"none told: ours stays", 14, 0, THROTTLE_SAME, 99},
	};
	struct throttle_aimd a;
	throttle_aimd_init(&a, NULL, 10, 8, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum throttle_change got = throttle_aimd_adopt(
		    &a, rows[i].now, 2.5, 1, rows[i].suspend_s, "node b: suspended");
		double left = throttle_aimd_suspended(&a, rows[i].now);
		if (got != rows[i].want || !near(left, rows[i].want_left))
			fail_msg("%s: got %s %.1f s left want %s %.1f s", rows[i].label,
			         throttle_change_name(got), left,
			         throttle_change_name(rows[i].want), rows[i].want_left);
	}
	assert_non_null(strstr(a.last, "shared: node b: suspended"));
	assert_int_equal(a.conns, 1);
	/* Complaints during it are the suspension's; at its end it resumes as a local one. */
	assert_int_equal(throttle_aimd_slowdown(&a, 50, "421 4.7.0"), THROTTLE_SAME);
	assert_int_equal(throttle_aimd_tick(&a, 113.5), THROTTLE_RESUMED);
}

static void
test_retry(void **state)
{
	(void)state;
	static const struct {
		int attempts;
		double first, cap, rnd, want;
	} cases[] = {
	    {0, 0, 0, 0.5, 0},          {1, 0, 0, 0.5, 300},      {2, 0, 0, 0.5, 600},
	    {3, 0, 0, 0.5, 1200},       {4, 0, 0, 0.5, 2400},     {5, 0, 0, 0.5, 4800},
	    {6, 0, 0, 0.5, 9600},       {7, 0, 0, 0.5, 14400},    {100, 0, 0, 0.5, 14400},
	    {100000, 0, 0, 0.5, 14400}, {1, 0, 0, 0, 270},        {1, 0, 0, 1, 330},
	    {7, 0, 0, 0, 12960},        {7, 0, 0, 1, 15840},      {1, 60, 600, 0.5, 60},
	    {5, 60, 600, 0.5, 600},     {1, 1000, 600, 0.5, 600}, {1, 0, 0, -3, 270},
	    {1, 0, 0, 7, 330},
	};
	for (size_t i = 0; i < N(cases); i++) {
		double got = throttle_retry_delay(cases[i].attempts, cases[i].first, cases[i].cap,
		                                  cases[i].rnd);
		if (!near(got, cases[i].want))
			fail_msg("attempts %d first %g cap %g rnd %g: got %g want %g",
			         cases[i].attempts, cases[i].first, cases[i].cap, cases[i].rnd, got,
			         cases[i].want);
	}
	/* Jitter spreads: 1000 evenly spread random values stay within +-10%. */
	for (int k = 0; k < 1000; k++) {
		double d = throttle_retry_delay(3, 0, 0, k / 1000.0);
		assert_true(d >= 1080 - 1e-9 && d <= 1320 + 1e-9);
	}
	static const struct {
		double first, now, max_age;
		int want;
	} exp[] = {
	    {0, 259199, 0, 0},  {0, 259200, 0, 1}, {100, 200, 100, 1},
	    {100, 199, 100, 0}, {0, 1e9, -1, 1},
	};
	for (size_t i = 0; i < N(exp); i++)
		if (throttle_expired(exp[i].first, exp[i].now, exp[i].max_age) != exp[i].want)
			fail_msg("expired(%g, %g, %g): want %d", exp[i].first, exp[i].now,
			         exp[i].max_age, exp[i].want);
}

static void
test_warmup(void **state)
{
	(void)state;
	static const struct {
		const char *plan;
		long day, want;
	} cases[] = {
	    {"50,100,200", 0, 50},
	    {"50,100,200", 1, 100},
	    {"50,100,200", 2, 200},
	    {"50,100,200", 3, -1},
	    {"50,100,200", -5, 50},
	    {" 50 , 100 ", 1, 100},
	    {"standard", 0, 50},
	    {"standard", 1, 100},
	    {"standard", 10, 51200},
	    {"standard", 11, 100000},
	    {"standard", 12, -1},
	    {"standard:1000", 4, 800},
	    {"standard:1000", 5, 1000},
	    {"standard:1000", 6, -1},
	    {"STANDARD:30", 0, 30},
	    {"standard:30", 1, -1},
	    {"slow:200", 0, 50},
	    {"slow:200", 1, 75},
	    {"slow:200", 2, 113},
	    {"slow:200", 3, 170},
	    {"slow:200", 4, 200},
	    {"slow:200", 5, -1},
	    {"", 0, -2},
	    {"fast", 0, -2},
	    {"standard:", 0, -2},
	    {"standard:0", 0, -2},
	    {"standard:x", 0, -2},
	    {"50,,100", 0, -2},
	    {"50,100,", 0, -2},
	    {"0,100", 0, -2},
	    {"-50", 0, -2},
	    {"50;100", 0, -2},
	    {"2000000000", 0, -2},
	    {NULL, 0, -2},
	};
	for (size_t i = 0; i < N(cases); i++) {
		long got = throttle_warmup_cap(cases[i].plan, cases[i].day);
		if (got != cases[i].want)
			fail_msg("'%s' day %ld: got %ld want %ld",
			         cases[i].plan ? cases[i].plan : "NULL", cases[i].day, got,
			         cases[i].want);
	}
	/* A plan of 367 days is refused, 366 accepted. */
	char plan[367 * 3];
	size_t o = 0;
	for (int d = 0; d < 367; d++)
		o += (size_t)snprintf(plan + o, sizeof(plan) - o, "%s9", d ? "," : "");
	assert_int_equal(throttle_warmup_cap(plan, 0), -2);
	plan[o - 2] = '\0';
	assert_int_equal(throttle_warmup_cap(plan, 365), 9);
}

/* Buckets by key: each key its own, full at first; a full table gives up the oldest slot. */
static void
test_keyed(void **state)
{
	(void)state;
	struct throttle_keyed slots[16];
	memset(slots, 0, sizeof(slots));
	unsigned char a[16] = {1}, b[16] = {2};
	struct throttle_bucket *ba = throttle_keyed_bucket(slots, 16, a, 1, 3, 100);
	for (int i = 0; i < 3; i++)
		assert_true(throttle_bucket_take(ba, 100) == 0);
	assert_true(throttle_bucket_take(ba, 100) > 0);
	/* Another key has its own, full bucket. */
	struct throttle_bucket *bb = throttle_keyed_bucket(slots, 16, b, 1, 3, 100);
	assert_ptr_not_equal(ba, bb);
	assert_true(throttle_bucket_take(bb, 100) == 0);
	/* The same key finds its bucket again, empty until it refills. */
	assert_ptr_equal(throttle_keyed_bucket(slots, 16, a, 1, 3, 100.5), ba);
	assert_true(throttle_bucket_wait(ba, 100.5) > 0);
	assert_true(throttle_bucket_take(ba, 101.1) == 0);
	/* Many other keys: a's slot is given up in the end, and a starts full again. */
	for (int k = 3; k < 200; k++) {
		unsigned char key[16] = {(unsigned char)k, (unsigned char)(k >> 8)};
		(void)throttle_bucket_take(throttle_keyed_bucket(slots, 16, key, 1, 3, 200 + k),
		                           200 + k);
	}
	struct throttle_bucket *again = throttle_keyed_bucket(slots, 16, a, 1, 3, 500);
	assert_true(again->tokens == 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_parse),
	    cmocka_unit_test(test_rate_format),
	    cmocka_unit_test(test_bucket),
	    cmocka_unit_test(test_bucket_unlimited_and_rate_change),
	    cmocka_unit_test(test_slowdown_table),
	    cmocka_unit_test(test_result_slowdown),
	    cmocka_unit_test(test_aimd),
	    cmocka_unit_test(test_aimd_ceiling),
	    cmocka_unit_test(test_aimd_adopt),
	    cmocka_unit_test(test_aimd_adopt_suspension),
	    cmocka_unit_test(test_retry),
	    cmocka_unit_test(test_warmup),
	    cmocka_unit_test(test_keyed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
