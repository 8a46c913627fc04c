/* test_when - schedule times, DST, and send windows (when.c with when_tz.c's real zones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/when.h"
#include "kirim/when_tz.h"

static int
utc_offset(void *arg, int64_t t, int *off)
{
	(void)arg;
	(void)t;
	*off = 0;
	return 0;
}

static const struct when_zone utc = {utc_offset, NULL};

/* iso - t as "YYYY-MM-DDTHH:MM:SSZ" */
static const char *
iso(int64_t t, char out[40])
{
	char tmp[40];
	when_format(&utc, t, tmp, sizeof(tmp));
	snprintf(out, 40, "%.19sZ", tmp);
	return out;
}

/* at - parse an absolute ISO time from a table */
static int64_t
at(const char *s)
{
	int64_t t = 0;
	char err[200];
	if (when_parse_at(s, &utc, &t, err, sizeof(err)) < 0)
		fail_msg("bad test time %s: %s", s, err);
	return t;
}

static void
test_civil(void **state)
{
	(void)state;
	static const struct {
		int y, m, d;
		int64_t days;
		int wday;
	} cases[] = {
	    {1970, 1, 1, 0, 4},       {2000, 2, 29, 11016, 2}, {2026, 12, 7, 20794, 1},
	    {1969, 12, 31, -1, 3},    {2026, 3, 8, 20520, 0},  {9999, 12, 31, 2932896, 5},
	    {2400, 2, 29, 157113, 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t d = when_days_from_civil(cases[i].y, cases[i].m, cases[i].d);
		int y, m, dd;
		when_civil_from_days(d, &y, &m, &dd);
		if (d != cases[i].days || when_weekday(d) != cases[i].wday || y != cases[i].y ||
		    m != cases[i].m || dd != cases[i].d)
			fail_msg("%04d-%02d-%02d: got days %lld wday %d back %04d-%02d-%02d want "
			         "days %lld wday %d",
			         cases[i].y, cases[i].m, cases[i].d, (long long)d, when_weekday(d),
			         y, m, dd, (long long)cases[i].days, cases[i].wday);
	}
}

static void
test_parse_at(void **state)
{
	(void)state;
	static const struct {
		const char *label, *zone, *in;
		const char *want; /* UTC "....Z", or NULL for an error */
		const char *err;  /* substring of the error */
	} cases[] = {
	    {"jakarta no dst", "Asia/Jakarta", "2026-12-07 09:00", "2026-12-07T02:00:00Z", NULL},
	    {"jakarta seconds", "Asia/Jakarta", "2026-12-07 09:00:30", "2026-12-07T02:00:30Z",
	     NULL},
	    {"jakarta T", "Asia/Jakarta", "2026-12-07T09:00", "2026-12-07T02:00:00Z", NULL},
	    {"jakarta midsummer", "Asia/Jakarta", "2026-06-07 09:00", "2026-06-07T02:00:00Z", NULL},
	    {"offset wins over zone", "America/New_York", "2026-12-07T09:00:00+07:00",
	     "2026-12-07T02:00:00Z", NULL},
	    {"Z", "Asia/Jakarta", "2026-12-07T09:00:00Z", "2026-12-07T09:00:00Z", NULL},
	    {"z lower, space", "Asia/Jakarta", "2026-12-07 09:00z", "2026-12-07T09:00:00Z", NULL},
	    {"negative hhmm", "UTC", "2026-12-07T09:00-0530", "2026-12-07T14:30:00Z", NULL},
	    {"hh only", "UTC", "2026-12-07T09:00+07", "2026-12-07T02:00:00Z", NULL},
	    {"ny before spring gap", "America/New_York", "2026-03-08 01:59", "2026-03-08T06:59:00Z",
	     NULL},
	    {"ny spring gap", "America/New_York", "2026-03-08 02:30", NULL,
	     "the first time after the gap is 2026-03-08 03:00"},
	    {"ny spring gap start", "America/New_York", "2026-03-08 02:00", NULL, "does not exist"},
	    {"ny after spring gap", "America/New_York", "2026-03-08 03:00", "2026-03-08T07:00:00Z",
	     NULL},
	    {"ny fall ambiguous: first", "America/New_York", "2026-11-01 01:30",
	     "2026-11-01T05:30:00Z", NULL},
	    {"ny fall after", "America/New_York", "2026-11-01 02:00", "2026-11-01T07:00:00Z", NULL},
	    {"ny fall before", "America/New_York", "2026-11-01 00:59", "2026-11-01T04:59:00Z",
	     NULL},
	    {"berlin spring gap", "Europe/Berlin", "2026-03-29 02:30", NULL,
	     "first time after the gap is 2026-03-29 03:00"},
	    {"berlin after gap", "Europe/Berlin", "2026-03-29 03:00", "2026-03-29T01:00:00Z", NULL},
	    {"berlin fall first", "Europe/Berlin", "2026-10-25 02:30", "2026-10-25T00:30:00Z",
	     NULL},
	    {"berlin winter", "Europe/Berlin", "2026-12-07 09:00", "2026-12-07T08:00:00Z", NULL},
	    {"month 13", "UTC", "2026-13-01 09:00", NULL, "not a valid time"},
	    {"feb 29 no leap", "UTC", "2026-02-29 09:00", NULL, "not a valid time"},
	    {"feb 29 leap", "UTC", "2028-02-29 09:00", "2028-02-29T09:00:00Z", NULL},
	    {"hour 24", "UTC", "2026-12-07 24:00", NULL, "not a valid time"},
	    {"before 1970", "UTC", "1969-12-31 23:59", NULL, "not a valid time"},
	    {"one-digit hour", "UTC", "2026-12-07 9:00", NULL, "not a date and time"},
	    {"words", "UTC", "next monday", NULL, "not a date and time"},
	    {"date only", "UTC", "2026-12-07", NULL, "not a date and time"},
	    {"trailing junk", "UTC", "2026-12-07 09:00 am", NULL, "unexpected 'am'"},
	    {"bad offset", "UTC", "2026-12-07 09:00+7", NULL, "UTC offset"},
	    {"offset range", "UTC", "2026-12-07 09:00+24:00", NULL, "out of range"},
	    {"empty", "UTC", "", NULL, "not a date and time"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct when_tz tz;
		char err[300] = "", got[40];
		int64_t t = 0;
		if (when_tz_open(&tz, cases[i].zone, err, sizeof(err)) < 0)
			fail_msg("%s: zone: %s", cases[i].label, err);
		int rc = when_parse_at(cases[i].in, &tz.zone, &t, err, sizeof(err));
		if (cases[i].want == NULL) {
			if (rc == 0 || strstr(err, cases[i].err) == NULL)
				fail_msg("%s: '%s': got rc %d [%s] %s want an error with [%s]",
				         cases[i].label, cases[i].in, rc, err,
				         rc ? "" : iso(t, got), cases[i].err);
			continue;
		}
		if (rc != 0 || strcmp(iso(t, got), cases[i].want) != 0)
			fail_msg("%s: '%s': got rc %d [%s] %s want %s", cases[i].label, cases[i].in,
			         rc, err, got, cases[i].want);
	}
}

static void
test_format(void **state)
{
	(void)state;
	static const struct {
		const char *zone, *utc, *want;
	} cases[] = {
	    {"Asia/Jakarta", "2026-12-07T02:00:00Z", "2026-12-07T09:00:00+07:00"},
	    {"America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"},
	    {"America/New_York", "2026-11-01T06:30:00Z", "2026-11-01T01:30:00-05:00"},
	    {"Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T05:30:00+05:30"},
	    {"UTC", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct when_tz tz;
		char err[200], got[40];
		assert_int_equal(when_tz_open(&tz, cases[i].zone, err, sizeof(err)), 0);
		when_format(&tz.zone, at(cases[i].utc), got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s %s: got %s want %s", cases[i].zone, cases[i].utc, got,
			         cases[i].want);
	}
}

static void
test_zone_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
	    {"Asia/Jakarta", 1},
	    {"UTC", 1},
	    {"America/New_York", 1},
	    {"", 1},
	    {"Mars/Olympus", 0},
	    {"../../etc/passwd", 0},
	    {"/etc/localtime", 0},
	    {"Asia/Jakarta ", 0},
	    {"Asia", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct when_tz tz;
		char err[300] = "";
		int rc = when_tz_open(&tz, cases[i].name, err, sizeof(err));
		if ((rc == 0) != cases[i].ok)
			fail_msg("zone '%s': got rc %d [%s] want ok=%d", cases[i].name, rc, err,
			         cases[i].ok);
		if (!cases[i].ok && strstr(err, "unknown time zone") == NULL)
			fail_msg("zone '%s': got [%s] want 'unknown time zone'", cases[i].name,
			         err);
	}
}

/* window_str - a parsed window as "days:start-end;..." with days as 7 chars from Sunday */
static void
window_str(const struct when_window *w, char *out, size_t outsz)
{
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < w->n && n < outsz; i++) {
		char days[8];
		for (int d = 0; d < 7; d++)
			days[d] = (w->rule[i].days & (1u << d)) ? "SMTWTFS"[d] : '.';
		days[7] = '\0';
		n += (size_t)snprintf(out + n, outsz - n, "%s%s:%d-%d", i ? ";" : "", days,
		                      w->rule[i].start, w->rule[i].end);
	}
}

static void
test_window_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *want; /* window_str, or NULL for an error */
		const char *err;
	} cases[] = {
	    {"Mon-Fri 08:00-18:00", ".MTWTF.:480-1080", NULL},
	    {"Sat 10:00-14:00", "......S:600-840", NULL},
	    {"Mon,Wed,Fri 09:00-17:00", ".M.W.F.:540-1020", NULL},
	    {"Mon-Fri 08:00-12:00; Sat 10:00-14:00", ".MTWTF.:480-720;......S:600-840", NULL},
	    {"monday-FRIDAY 8:00-18:00", ".MTWTF.:480-1080", NULL},
	    {"Fri-Mon 09:00-17:00", "SM...FS:540-1020", NULL},
	    {"Sun 22:00-06:00", "S......:1320-360", NULL},
	    {"22:00-00:00", "SMTWTFS:1320-1440", NULL},
	    {"08:00-18:00", "SMTWTFS:480-1080", NULL},
	    {"Mon 00:00-24:00;", ".M.....:0-1440", NULL},
	    {"Mon-Fri,Sun 08:00-09:30", "SMTWTF.:480-570", NULL},
	    {"Mon 09:00-09:00", NULL, "is empty"},
	    {"Mon 00:00-00:00", NULL, "is empty"},
	    {"Mon 24:00-01:00", NULL, "hours run from"},
	    {"Mon 08:00-25:00", NULL, "hours run from"},
	    {"Mon 08:60-09:00", NULL, "hours run from"},
	    {"Mun 08:00-09:00", NULL, "is not a day"},
	    {"Mo 08:00-09:00", NULL, "is not a day"},
	    {"Mon-Fro 08:00-09:00", NULL, "is not a day"},
	    {"Mon 8-18", NULL, "is not HH:MM-HH:MM"},
	    {"Mon 08:00", NULL, "is not HH:MM-HH:MM"},
	    {"Mon08:00-09:00", NULL, "need a space"},
	    {"Mon 08:00-09:00 x", NULL, "unexpected 'x'"},
	    {"", NULL, "window is empty"},
	    {"  ", NULL, "window is empty"},
	    {"1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17", NULL, "is not HH:MM"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct when_window w;
		char err[300] = "", got[400] = "";
		int rc = when_window_parse(cases[i].in, &w, err, sizeof(err));
		if (rc == 0)
			window_str(&w, got, sizeof(got));
		if (cases[i].want == NULL) {
			if (rc == 0 || strstr(err, cases[i].err) == NULL)
				fail_msg("'%s': got rc %d [%s] %s want an error with [%s]",
				         cases[i].in, rc, err, got, cases[i].err);
			continue;
		}
		if (rc != 0 || strcmp(got, cases[i].want) != 0)
			fail_msg("'%s': got rc %d [%s] %s want %s", cases[i].in, rc, err, got,
			         cases[i].want);
	}
	/* More rules than fit. */
	struct when_window w;
	char err[300] = "", big[600] = "";
	for (int i = 0; i <= WHEN_WINDOW_MAX; i++)
		strcat(big, "Mon 08:00-09:00;");
	if (when_window_parse(big, &w, err, sizeof(err)) == 0 || strstr(err, "at most") == NULL)
		fail_msg("17 rules: got [%s] want 'at most'", err);
}

static void
test_window_next(void **state)
{
	(void)state;
	static const struct {
		const char *label, *zone, *window, *now;
		int inside;
		const char *open, *close;
	} cases[] = {
	    {"jakarta inside", "Asia/Jakarta", "Mon-Fri 08:00-18:00", "2026-12-07T02:00:00Z", 1,
	     "2026-12-07T02:00:00Z", "2026-12-07T11:00:00Z"},
	    {"jakarta at opening", "Asia/Jakarta", "Mon-Fri 08:00-18:00", "2026-12-07T01:00:00Z", 1,
	     "2026-12-07T01:00:00Z", "2026-12-07T11:00:00Z"},
	    {"jakarta at closing", "Asia/Jakarta", "Mon-Fri 08:00-18:00", "2026-12-07T11:00:00Z", 0,
	     "2026-12-08T01:00:00Z", "2026-12-08T11:00:00Z"},
	    {"jakarta friday evening to monday", "Asia/Jakarta", "Mon-Fri 08:00-18:00",
	     "2026-12-11T12:00:00Z", 0, "2026-12-14T01:00:00Z", "2026-12-14T11:00:00Z"},
	    {"jakarta early monday (sunday utc)", "Asia/Jakarta", "Mon-Fri 08:00-18:00",
	     "2026-12-13T20:00:00Z", 0, "2026-12-14T01:00:00Z", "2026-12-14T11:00:00Z"},
	    {"saturday only from sunday", "Asia/Jakarta", "Sat 10:00-14:00", "2026-12-13T05:00:00Z",
	     0, "2026-12-19T03:00:00Z", "2026-12-19T07:00:00Z"},
	    {"mon wed fri on tuesday", "UTC", "Mon,Wed,Fri 09:00-17:00", "2026-12-08T10:00:00Z", 0,
	     "2026-12-09T09:00:00Z", "2026-12-09T17:00:00Z"},
	    {"two rules, second", "UTC", "Mon-Fri 08:00-12:00; Sat 10:00-14:00",
	     "2026-12-11T13:00:00Z", 0, "2026-12-12T10:00:00Z", "2026-12-12T14:00:00Z"},
	    {"across midnight, after", "UTC", "Fri 22:00-06:00", "2026-12-12T03:00:00Z", 1,
	     "2026-12-12T03:00:00Z", "2026-12-12T06:00:00Z"},
	    {"across midnight, before", "UTC", "Fri 22:00-06:00", "2026-12-11T21:00:00Z", 0,
	     "2026-12-11T22:00:00Z", "2026-12-12T06:00:00Z"},
	    {"across midnight, after close", "UTC", "Fri 22:00-06:00", "2026-12-12T06:00:00Z", 0,
	     "2026-12-18T22:00:00Z", "2026-12-19T06:00:00Z"},
	    {"across the week's end", "UTC", "Sun 22:00-06:00", "2026-12-14T01:00:00Z", 1,
	     "2026-12-14T01:00:00Z", "2026-12-14T06:00:00Z"},
	    {"touching rules merge", "UTC", "Mon 20:00-24:00; Tue 00:00-02:00",
	     "2026-12-07T21:00:00Z", 1, "2026-12-07T21:00:00Z", "2026-12-08T02:00:00Z"},
	    {"ny weekday across spring dst", "America/New_York", "Mon-Fri 08:00-18:00",
	     "2026-03-06T23:00:00Z", 0, "2026-03-09T12:00:00Z", "2026-03-09T22:00:00Z"},
	    {"ny friday before spring dst", "America/New_York", "Mon-Fri 08:00-18:00",
	     "2026-03-06T14:00:00Z", 1, "2026-03-06T14:00:00Z", "2026-03-06T23:00:00Z"},
	    {"ny weekday across fall dst", "America/New_York", "Mon-Fri 08:00-18:00",
	     "2026-10-30T22:00:00Z", 0, "2026-11-02T13:00:00Z", "2026-11-02T23:00:00Z"},
	    {"ny opening in the gap moves forward", "America/New_York", "02:30-03:30",
	     "2026-03-08T06:00:00Z", 0, "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"},
	    {"ny window wholly in the gap is skipped", "America/New_York", "02:10-02:50",
	     "2026-03-08T06:00:00Z", 0, "2026-03-09T06:10:00Z", "2026-03-09T06:50:00Z"},
	    {"ny fall back: ambiguous ends", "America/New_York", "Sun 01:00-02:00",
	     "2026-10-31T12:00:00Z", 0, "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"},
	    {"berlin short night", "Europe/Berlin", "Sun 01:00-04:00", "2026-03-28T12:00:00Z", 0,
	     "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z"},
	    {"berlin summer", "Europe/Berlin", "Mon-Fri 08:00-18:00", "2026-03-30T05:00:00Z", 0,
	     "2026-03-30T06:00:00Z", "2026-03-30T16:00:00Z"},
	    {"always", "UTC", "00:00-24:00", "2026-12-07T12:00:00Z", 1, "2026-12-07T12:00:00Z",
	     "2026-12-16T00:00:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct when_tz tz;
		struct when_window w;
		char err[300] = "", go[40], gc[40];
		if (when_tz_open(&tz, cases[i].zone, err, sizeof(err)) < 0 ||
		    when_window_parse(cases[i].window, &w, err, sizeof(err)) < 0)
			fail_msg("%s: %s", cases[i].label, err);
		bool inside = false;
		int64_t open = 0, close = 0;
		int rc = when_window_next(&w, &tz.zone, at(cases[i].now), &inside, &open, &close);
		iso(open, go);
		iso(close, gc);
		if (rc != 0 || inside != (cases[i].inside != 0) || strcmp(go, cases[i].open) != 0 ||
		    strcmp(gc, cases[i].close) != 0)
			fail_msg("%s: got rc %d inside %d open %s close %s want inside %d open %s "
			         "close %s",
			         cases[i].label, rc, inside, go, gc, cases[i].inside, cases[i].open,
			         cases[i].close);
	}
}

/* A table zone: +1 h until 2026-03-29T01:00Z, then +2 h, without the tz database. */
static int
table_offset(void *arg, int64_t t, int *off)
{
	(void)arg;
	*off = t < 1774746000 ? 3600 : 7200;
	return 0;
}

static int
broken_offset(void *arg, int64_t t, int *off)
{
	(void)arg;
	(void)t;
	*off = 99 * 3600;
	return 0;
}

static void
test_pure_zone(void **state)
{
	(void)state;
	const struct when_zone z = {table_offset, NULL};
	struct when_civil c = {2026, 3, 29, 2, 30, 0};
	int64_t t = 0;
	char got[40];
	assert_int_equal(when_local_to_utc(&z, &c, false, &t), WHEN_E_GAP);
	assert_int_equal(when_local_to_utc(&z, &c, true, &t), 0);
	assert_string_equal(iso(t, got), "2026-03-29T01:00:00Z");
	struct when_civil back;
	int off;
	assert_int_equal(when_utc_to_local(&z, t, &back, &off), 0);
	assert_int_equal(back.hour, 3);
	assert_int_equal(off, 7200);
	c.mon = 2;
	c.day = 30;
	assert_int_equal(when_local_to_utc(&z, &c, false, &t), WHEN_E_RANGE);
	const struct when_zone bad = {broken_offset, NULL};
	char err[200];
	assert_int_equal(when_parse_at("2026-01-01 00:00", &bad, &t, err, sizeof(err)),
	                 WHEN_E_ZONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_civil),        cmocka_unit_test(test_parse_at),
	    cmocka_unit_test(test_format),       cmocka_unit_test(test_zone_names),
	    cmocka_unit_test(test_window_parse), cmocka_unit_test(test_window_next),
	    cmocka_unit_test(test_pure_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
