/*
 * test_tzif - the TZif reader and TZ rules (src/format/tzif.c) against the C
 * library as the oracle: for real zones from /usr/share/zoneinfo and for TZ
 * strings, every transition libc shows in a table of years (found by
 * scanning libc's answers hour by hour, then bisecting to the second) is
 * checked on both sides, in both directions. The oracle sets TZ and calls
 * tzset: fine here, this test is single-threaded. Then hand-written rows
 * that state the gap and fold rules, and malformed files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "kirim/tzif.h"
#include "kirim/when.h"

static const char *
zonedir(void)
{
	const char *d = getenv("TZDIR");
	return d && *d ? d : "/usr/share/zoneinfo";
}

/* slurp - a whole file, or NULL; *len its size */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

static struct tzif *
load_zone(const char *name)
{
	char path[512], err[200] = "";
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", zonedir(), name);
	uint8_t *data = slurp(path, &len);
	if (data == NULL)
		fail_msg("%s: cannot read (is tzdata installed?)", path);
	struct tzif *z = NULL;
	int rc = tzif_parse(data, len, &z, err, sizeof(err));
	free(data);
	if (rc != 0)
		fail_msg("%s: got rc %d [%s] want 0", path, rc, err);
	return z;
}

/* iso - t as "YYYY-MM-DDTHH:MM:SSZ" */
static const char *
iso(int64_t t, char out[40])
{
	int64_t days = t / 86400 - (t % 86400 < 0);
	int64_t s = t - days * 86400;
	int y, m, d;
	when_civil_from_days(days, &y, &m, &d);
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(s / 3600),
	         (int)(s / 60 % 60), (int)(s % 60));
	return out;
}

/* civil - local seconds of a civil time */
static int64_t
civil(int y, int mo, int d, int h, int mi, int s)
{
	return when_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static const char *
kind_name(enum tzif_local_kind k)
{
	return k == TZIF_LOCAL_ONE ? "one" : k == TZIF_LOCAL_FOLD ? "fold" : "gap";
}

/* ---- the libc oracle ---- */

/* libc_use - make libc answer for tz ("Europe/Berlin" as a file, or a TZ rule string) */
static void
libc_use(const char *tz, int is_file)
{
	char v[300];
	snprintf(v, sizeof(v), "%s%s", is_file ? ":" : "", tz);
	setenv("TZ", v, 1);
	tzset();
}

struct answer {
	long off;
	int isdst;
	char abbr[16];
	int64_t local; /* libc's civil fields, as local seconds */
};

static void
libc_at(int64_t t, struct answer *a)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL)
		fail_msg("localtime_r(%lld) failed", (long long)t);
	a->off = tm.tm_gmtoff;
	a->isdst = tm.tm_isdst > 0;
	snprintf(a->abbr, sizeof(a->abbr), "%s", tm.tm_zone ? tm.tm_zone : "");
	a->local =
	    civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool
same(const struct answer *a, const struct answer *b)
{
	return a->off == b->off && a->isdst == b->isdst && strcmp(a->abbr, b->abbr) == 0;
}

/* libc_transitions - the instants of year y where libc's answer changes */
static size_t
libc_transitions(int y, int64_t *out, size_t max)
{
	int64_t from = civil(y, 1, 1, 0, 0, 0) - 86400, to = civil(y + 1, 1, 1, 0, 0, 0) + 86400;
	size_t n = 0;
	struct answer prev, cur;
	libc_at(from, &prev);
	for (int64_t t = from + 3600; t <= to && n < max; t += 3600) {
		libc_at(t, &cur);
		if (same(&prev, &cur))
			continue;
		int64_t lo = t - 3600, hi = t; /* answer(lo) == prev != answer(hi) */
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			struct answer m;
			libc_at(mid, &m);
			if (same(&m, &prev))
				lo = mid;
			else
				hi = mid;
		}
		out[n++] = hi;
		prev = cur;
	}
	return n;
}

/* check_utc - tzif_lookup at t against libc; names the case in failures */
static void
check_utc(const char *label, const struct tzif *z, int64_t t)
{
	struct answer want;
	struct tzif_info got;
	char ts[40];
	libc_at(t, &want);
	int rc = tzif_lookup(z, t, &got);
	if (rc != 0 || got.utoff != want.off || got.isdst != want.isdst ||
	    strcmp(got.abbr, want.abbr) != 0 || t + got.utoff != want.local)
		fail_msg("%s at %s: got rc %d offset %d dst %d %s want offset %ld dst %d %s", label,
		         iso(t, ts), rc, got.utoff, got.isdst, got.abbr, want.off, want.isdst,
		         want.abbr);
}

/*
 * check_local - tzif_local_to_utc(L) against libc: the solutions are the
 * t = L - o (o any offset libc uses within the reach of L) where libc's
 * offset at t is o. None: t must be where the gap ends (libc's local time
 * is after L at t and before L at t - 1). One: mktime (tm_isdst = -1) must
 * agree too.
 */
static void
check_local(const char *label, const struct tzif *z, int64_t L)
{
	int64_t sol[8];
	size_t n = 0;
	for (int64_t k = 0; k <= 52; k++) {
		struct answer a, b;
		libc_at(L - TZIF_UTOFF_MAX + k * 3600, &a);
		int64_t t = L - a.off;
		libc_at(t, &b);
		if (b.off != a.off)
			continue;
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= sol[i] == t;
		if (!seen && n < 8)
			sol[n++] = t;
	}
	int64_t lo = n ? sol[0] : 0, hi = lo;
	for (size_t i = 1; i < n; i++) {
		lo = sol[i] < lo ? sol[i] : lo;
		hi = sol[i] > hi ? sol[i] : hi;
	}
	struct tzif_local got;
	char ls[40], g1[40], g2[40], w1[40], w2[40];
	int rc = tzif_local_to_utc(z, L, &got);
	if (rc != 0)
		fail_msg("%s local %s: got rc %d", label, iso(L, ls), rc);
	if (n == 0) {
		struct answer at, before;
		libc_at(got.t, &at);
		libc_at(got.t - 1, &before);
		if (got.kind != TZIF_LOCAL_GAP || at.local <= L || before.local >= L ||
		    got.last != got.t)
			fail_msg("%s local %s: got %s %s want a gap ending there (libc: %s "
			         "then %s)",
			         label, iso(L, ls), kind_name(got.kind), iso(got.t, g1),
			         iso(before.local, w1), iso(at.local, w2));
		return;
	}
	enum tzif_local_kind want = n > 1 ? TZIF_LOCAL_FOLD : TZIF_LOCAL_ONE;
	if (got.kind != want || got.t != lo || got.last != hi)
		fail_msg("%s local %s: got %s %s..%s want %s %s..%s", label, iso(L, ls),
		         kind_name(got.kind), iso(got.t, g1), iso(got.last, g2), kind_name(want),
		         iso(lo, w1), iso(hi, w2));
	if (n == 1) {
		int64_t days = L / 86400 - (L % 86400 < 0), s = L - days * 86400;
		int y, m, d;
		when_civil_from_days(days, &y, &m, &d);
		struct tm tm = {.tm_year = y - 1900,
		                .tm_mon = m - 1,
		                .tm_mday = d,
		                .tm_hour = (int)(s / 3600),
		                .tm_min = (int)(s / 60 % 60),
		                .tm_sec = (int)(s % 60),
		                .tm_isdst = -1};
		time_t mk = mktime(&tm);
		if ((int64_t)mk != got.t)
			fail_msg("%s local %s: got %s, mktime says %s", label, iso(L, ls),
			         iso(got.t, g1), iso((int64_t)mk, w1));
	}
}

/* check_years - both directions around every libc transition of each year, and mid-year */
static size_t
check_years(const char *label, const struct tzif *z, const int *years, size_t nyears)
{
	size_t total = 0;
	for (size_t i = 0; i < nyears; i++) {
		int y = years[i];
		check_utc(label, z, civil(y, 1, 15, 12, 0, 0));
		check_utc(label, z, civil(y, 7, 15, 12, 0, 0));
		check_local(label, z, civil(y, 1, 15, 12, 0, 0));
		check_local(label, z, civil(y, 7, 15, 12, 0, 0));
		int64_t tr[16];
		size_t n = libc_transitions(y, tr, 16);
		total += n;
		for (size_t k = 0; k < n; k++) {
			for (int64_t d = -2; d <= 1; d++)
				check_utc(label, z, tr[k] + d);
			check_utc(label, z, tr[k] - 86400);
			check_utc(label, z, tr[k] + 86400);
			/* Local times from 2 h before to 2 h after the change, on both clocks. */
			struct answer before, after;
			libc_at(tr[k] - 1, &before);
			libc_at(tr[k], &after);
			int64_t l0 = tr[k] + (before.off < after.off ? before.off : after.off);
			int64_t l1 = tr[k] + (before.off > after.off ? before.off : after.off);
			for (int64_t L = l0 - 7200; L <= l1 + 7200; L += 900)
				check_local(label, z, L);
			for (int64_t d = -1; d <= 1; d++) {
				check_local(label, z, l0 + d);
				check_local(label, z, l1 + d);
			}
		}
	}
	return total;
}

static const int years[] = {1960, 1985, 2000, 2011, 2019, 2022, 2026,
                            2037, 2038, 2040, 2055, 2100, 2101};

static void
test_zones_against_libc(void **state)
{
	(void)state;
	static const struct {
		const char *zone;
		size_t min_transitions; /* over the years above: proves the scan saw changes */
	} zones[] = {
	    {"Europe/Berlin", 20},       {"America/New_York", 24},
	    {"Australia/Lord_Howe", 20}, {"Asia/Kolkata", 0},
	    {"Pacific/Apia", 3},         {"America/Sao_Paulo", 6},
	    {"Europe/Dublin", 20},       {"UTC", 0},
	    {"Asia/Tehran", 8},          {"America/Nuuk", 10},
	    {"Europe/London", 20},       {"Africa/Casablanca", 2},
	    {"Pacific/Chatham", 20},     {"Asia/Jakarta", 0},
	    {"America/Santiago", 20},    {"Antarctica/Troll", 10},
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tzif *z = load_zone(zones[i].zone);
		libc_use(zones[i].zone, 1);
		size_t n = check_years(zones[i].zone, z, years, sizeof(years) / sizeof(years[0]));
		if (n < zones[i].min_transitions)
			fail_msg("%s: libc showed %zu transitions, want at least %zu",
			         zones[i].zone, n, zones[i].min_transitions);
		tzif_free(z);
	}
	unsetenv("TZ");
	tzset();
}

static void
test_rules_against_libc(void **state)
{
	(void)state;
	static const struct {
		const char *rule;
		size_t min_transitions; /* over the years below */
	} rules[] = {
	    {"CET-1CEST,M3.5.0,M10.5.0/3", 12},
	    {"EST5EDT,M3.2.0,M11.1.0", 12},
	    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 12},
	    {"IST-1GMT0,M10.5.0,M3.5.0/1", 12},       /* negative DST, Europe/Dublin */
	    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 12},  /* version 3: negative hours, America/Nuuk */
	    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 12}, /* version 3, America/Godthab before 2023 */
	    {"NZST-12NZDT,M9.5.0,M4.1.0/3", 12},
	    {"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 12},
	    {"AAA3BBB,J60/2,J300/2", 12},          /* Julian days, no Feb 29 */
	    {"AAA-5BBB-6,59/2,300/2", 12},         /* zero-based days, Feb 29 counted */
	    {"XXX-2YYY,M4.5.5/48,M10.5.4/49", 12}, /* version 3: hours past 24 */
	    {"EST5EDT,M1.1.0/0,M12.5.6/23:59:59", 12},
	    {"<+0330>-3:30", 0},
	    {"UTC0", 0},
	    {"<+13>-13", 0},
	};
	static const int ryears[] = {1999, 2000, 2024, 2025, 2026, 2100};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct tzif *z = NULL;
		char err[200] = "";
		const char *r = rules[i].rule;
		int rc = tzif_parse_rule(r, strlen(r), &z, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: got rc %d [%s] want 0", r, rc, err);
		assert_int_equal(tzif_version(z), 0);
		libc_use(r, 0);
		size_t n = check_years(r, z, ryears, sizeof(ryears) / sizeof(ryears[0]));
		if (n < rules[i].min_transitions)
			fail_msg("%s: libc showed %zu transitions, want at least %zu", r, n,
			         rules[i].min_transitions);
		tzif_free(z);
	}
	unsetenv("TZ");
	tzset();
}

/*
 * DST all year (RFC 8536 3.3.1): glibc 2.36 does not implement it, so the
 * answers are written out. EST5EDT,0/0,J365/25: DST from 00:00 on January 1
 * (standard time) to 25:00 on December 31 (DST), which is the next start.
 */
static void
test_rule_dst_all_year(void **state)
{
	(void)state;
	static const char *rule = "EST5EDT,0/0,J365/25";
	struct tzif *z = NULL;
	assert_int_equal(tzif_parse_rule(rule, strlen(rule), &z, NULL, 0), 0);
	static const int64_t at[] = {0, 946684799, 946684800, 1704085200, 1719835200, 4102444800};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct tzif_info got;
		char ts[40];
		if (tzif_lookup(z, at[i], &got) != 0 || got.utoff != -4 * 3600 || !got.isdst ||
		    strcmp(got.abbr, "EDT") != 0)
			fail_msg("%s at %s: got %d %d %s want -14400 1 EDT", rule, iso(at[i], ts),
			         got.utoff, got.isdst, got.abbr);
		struct tzif_local l;
		if (tzif_local_to_utc(z, at[i] - 4 * 3600, &l) != 0 || l.kind != TZIF_LOCAL_ONE ||
		    l.t != at[i])
			fail_msg("%s local of %s: got %s t %lld want one", rule, iso(at[i], ts),
			         kind_name(l.kind), (long long)l.t);
	}
	tzif_free(z);
}

/* The gap and fold rules, written out (when.h's rules: first occurrence, gap end). */
static void
test_local_rules(void **state)
{
	(void)state;
	static const struct {
		const char *zone;
		int y, mo, d, h, mi;
		enum tzif_local_kind kind;
		const char *t, *last;
	} cases[] = {
	    {"America/New_York", 2026, 3, 8, 2, 30, TZIF_LOCAL_GAP, "2026-03-08T07:00:00Z",
	     "2026-03-08T07:00:00Z"},
	    {"America/New_York", 2026, 11, 1, 1, 30, TZIF_LOCAL_FOLD, "2026-11-01T05:30:00Z",
	     "2026-11-01T06:30:00Z"},
	    {"America/New_York", 2026, 11, 1, 2, 0, TZIF_LOCAL_ONE, "2026-11-01T07:00:00Z",
	     "2026-11-01T07:00:00Z"},
	    {"Europe/Berlin", 2026, 3, 29, 2, 30, TZIF_LOCAL_GAP, "2026-03-29T01:00:00Z",
	     "2026-03-29T01:00:00Z"},
	    {"Europe/Berlin", 2026, 10, 25, 2, 30, TZIF_LOCAL_FOLD, "2026-10-25T00:30:00Z",
	     "2026-10-25T01:30:00Z"},
	    {"Europe/Berlin", 2100, 3, 28, 2, 30, TZIF_LOCAL_GAP, "2100-03-28T01:00:00Z",
	     "2100-03-28T01:00:00Z"},
	    {"Europe/Berlin", 2100, 10, 31, 2, 30, TZIF_LOCAL_FOLD, "2100-10-31T00:30:00Z",
	     "2100-10-31T01:30:00Z"},
	    {"Australia/Lord_Howe", 2026, 4, 5, 1, 45, TZIF_LOCAL_FOLD, "2026-04-04T14:45:00Z",
	     "2026-04-04T15:15:00Z"},
	    {"Australia/Lord_Howe", 2026, 10, 4, 2, 15, TZIF_LOCAL_GAP, "2026-10-03T15:30:00Z",
	     "2026-10-03T15:30:00Z"},
	    {"Pacific/Apia", 2011, 12, 30, 12, 0, TZIF_LOCAL_GAP, "2011-12-30T10:00:00Z",
	     "2011-12-30T10:00:00Z"},
	    {"Europe/Dublin", 2026, 10, 25, 1, 30, TZIF_LOCAL_FOLD, "2026-10-25T00:30:00Z",
	     "2026-10-25T01:30:00Z"},
	    {"Europe/Dublin", 2040, 3, 25, 1, 30, TZIF_LOCAL_GAP, "2040-03-25T01:00:00Z",
	     "2040-03-25T01:00:00Z"},
	    {"Asia/Kolkata", 2026, 6, 1, 12, 0, TZIF_LOCAL_ONE, "2026-06-01T06:30:00Z",
	     "2026-06-01T06:30:00Z"},
	    {"Asia/Tehran", 2022, 3, 22, 0, 30, TZIF_LOCAL_GAP, "2022-03-21T20:30:00Z",
	     "2022-03-21T20:30:00Z"},
	    {"Asia/Tehran", 2022, 9, 21, 23, 30, TZIF_LOCAL_FOLD, "2022-09-21T19:00:00Z",
	     "2022-09-21T20:00:00Z"},
	    {"America/Sao_Paulo", 2018, 11, 4, 0, 30, TZIF_LOCAL_GAP, "2018-11-04T03:00:00Z",
	     "2018-11-04T03:00:00Z"},
	    {"America/Sao_Paulo", 2019, 2, 16, 23, 30, TZIF_LOCAL_FOLD, "2019-02-17T01:30:00Z",
	     "2019-02-17T02:30:00Z"},
	    {"America/Nuuk", 2040, 3, 24, 23, 30, TZIF_LOCAL_GAP, "2040-03-25T01:00:00Z",
	     "2040-03-25T01:00:00Z"},
	    {"America/Nuuk", 2040, 10, 27, 23, 30, TZIF_LOCAL_FOLD, "2040-10-28T00:30:00Z",
	     "2040-10-28T01:30:00Z"},
	    {"UTC", 2026, 3, 29, 2, 30, TZIF_LOCAL_ONE, "2026-03-29T02:30:00Z",
	     "2026-03-29T02:30:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tzif *z = load_zone(cases[i].zone);
		struct tzif_local got;
		char g1[40], g2[40];
		int rc = tzif_local_to_utc(
		    z, civil(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, 0),
		    &got);
		if (rc != 0 || got.kind != cases[i].kind || strcmp(iso(got.t, g1), cases[i].t) ||
		    strcmp(iso(got.last, g2), cases[i].last))
			fail_msg("%s %04d-%02d-%02d %02d:%02d: got rc %d %s %s..%s want %s %s..%s",
			         cases[i].zone, cases[i].y, cases[i].mo, cases[i].d, cases[i].h,
			         cases[i].mi, rc, kind_name(got.kind), g1, g2,
			         kind_name(cases[i].kind), cases[i].t, cases[i].last);
		tzif_free(z);
	}
}

/* ---- malformed files ---- */

/*
 * A small version 2 file built in memory: CET/CEST with two transitions in
 * 2026 and the Berlin footer. Rows edit it, then build() writes the bytes.
 */
struct spec {
	char version;
	uint32_t counts[6]; /* isut, isstd, leap, time, type, char: as written in both headers */
	int64_t times[4];
	uint8_t idx[4];
	int32_t utoff[3];
	uint8_t isdst[3], desig[3];
	char chars[16];
	uint8_t isstd[3], isut[3];
	const char *footer; /* NULL: none */
	int v2_version;     /* the second header's version byte, 0: the same */
	size_t pad;         /* bytes added after the footer */
};

static const struct spec base = {
    .version = '2',
    .counts = {0, 0, 0, 2, 2, 9},
    .times = {1774746000, 1792890000},
    .idx = {1, 0},
    .utoff = {3600, 7200},
    .isdst = {0, 1},
    .desig = {0, 4},
    .chars = "CET\0CEST",
    .footer = "CET-1CEST,M3.5.0,M10.5.0/3",
};

struct bytes {
	uint8_t b[TZIF_INPUT_MAX + 1024];
	size_t n;
};

static void
put(struct bytes *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put_be(struct bytes *o, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--)
		o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static void
put_block(struct bytes *o, const struct spec *s, char version, int width)
{
	put(o, "TZif", 4);
	o->b[o->n++] = (uint8_t)version;
	memset(o->b + o->n, 0, 15);
	o->n += 15;
	for (int i = 0; i < 6; i++)
		put_be(o, s->counts[i], 4);
	uint32_t nt = s->counts[3] > 4 ? 4 : s->counts[3], ny = s->counts[4] > 3 ? 3 : s->counts[4];
	uint32_t nc = s->counts[5] > 16 ? 16 : s->counts[5];
	for (uint32_t i = 0; i < nt; i++)
		put_be(o, (uint64_t)s->times[i], width);
	put(o, s->idx, nt);
	for (uint32_t i = 0; i < ny; i++) {
		put_be(o, (uint32_t)s->utoff[i], 4);
		o->b[o->n++] = s->isdst[i];
		o->b[o->n++] = s->desig[i];
	}
	put(o, s->chars, nc);
	if (s->counts[1])
		put(o, s->isstd, ny);
	if (s->counts[0])
		put(o, s->isut, ny);
}

static void
build(const struct spec *s, struct bytes *o)
{
	o->n = 0;
	put_block(o, s, s->version, 4);
	if (s->version != 0) {
		put_block(o, s, s->v2_version ? (char)s->v2_version : s->version, 8);
		if (s->footer) {
			o->b[o->n++] = '\n';
			put(o, s->footer, strlen(s->footer));
			o->b[o->n++] = '\n';
		}
	}
	memset(o->b + o->n, 'x', s->pad);
	o->n += s->pad;
}

static void
test_malformed(void **state)
{
	(void)state;
	static struct bytes buf;
	struct spec s;
	static const char long_footer[] =
	    "CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3"
	    "CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3"
	    "CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3CET-1CEST,M3.5.0,M10.5.0/3"
	    "CET-1CEST,M3.5.0,M10.5.0/3";
	static const struct {
		const char *label;
		int field; /* which spec field the row changes (see the switch) */
		int64_t value;
		const char *footer;
		int want;
		const char *err; /* substring of the reason */
	} cases[] = {
	    {"valid version 2", 0, 0, NULL, 0, ""},
	    {"valid version 1 (no footer)", 1, 0, NULL, 0, ""},
	    {"valid with bytes after the footer", 2, 100, NULL, 0, ""},
	    {"valid version 4, empty footer", 3, '4', "", 0, ""},
	    {"valid future version 7", 3, '7', NULL, 0, ""},
	    {"empty input", 18, 0, NULL, TZIF_E_FORMAT, "truncated header"},
	    {"truncated header", 18, 20, NULL, TZIF_E_FORMAT, "truncated header"},
	    {"bad magic", 5, 'X', NULL, TZIF_E_FORMAT, "magic"},
	    {"version byte '1'", 3, '1', NULL, TZIF_E_FORMAT, "version"},
	    {"headers disagree on version", 6, '3', NULL, TZIF_E_FORMAT, "second header"},
	    {"transitions past the cap", 7, TZIF_TIMES_MAX + 1, NULL, TZIF_E_LIMIT, "too big"},
	    {"types past the cap", 8, TZIF_TYPES_MAX + 1, NULL, TZIF_E_LIMIT, "too big"},
	    {"abbreviation bytes past the cap", 9, TZIF_CHARS_MAX + 1, NULL, TZIF_E_LIMIT,
	     "too big"},
	    {"leap seconds past the cap", 10, TZIF_LEAPS_MAX + 1, NULL, TZIF_E_LIMIT, "too big"},
	    {"no types", 8, 0, NULL, TZIF_E_FORMAT, "inconsistent counts"},
	    {"no abbreviation bytes", 9, 0, NULL, TZIF_E_FORMAT, "inconsistent counts"},
	    {"UT indicators for some types", 11, 1, NULL, TZIF_E_FORMAT, "inconsistent counts"},
	    {"truncated 64-bit data", 4, 40, NULL, TZIF_E_FORMAT, "64-bit data needs"},
	    {"truncated 32-bit data", 18, 60, NULL, TZIF_E_FORMAT, "version 1 data needs"},
	    {"truncated second header", 18, 100, NULL, TZIF_E_FORMAT, "truncated header"},
	    {"transitions out of order", 12, 1700000000, NULL, TZIF_E_FORMAT, "not after"},
	    {"type index out of range", 13, 2, NULL, TZIF_E_FORMAT, "names type 2"},
	    {"offset of 26 hours", 14, 26 * 3600, NULL, TZIF_E_FORMAT, "offset 93600"},
	    {"offset of -2^31", 14, INT32_MIN, NULL, TZIF_E_FORMAT, "offset"},
	    {"DST flag 2", 15, 2, NULL, TZIF_E_FORMAT, "DST flag 2"},
	    {"abbreviation index past the bytes", 16, 9, NULL, TZIF_E_FORMAT, "abbreviation at 9"},
	    {"abbreviation without NUL", 9, 8, NULL, TZIF_E_FORMAT, "not NUL-terminated"},
	    {"no footer", 0, 0, "\x01", TZIF_E_FORMAT, "no footer"},
	    {"footer without closing newline", 4, 1, NULL, TZIF_E_FORMAT, "closing newline"},
	    {"footer too long", 0, 0, long_footer, TZIF_E_LIMIT, "footer longer"},
	    {"footer: DST without dates", 0, 0, "CET-1CEST", TZIF_E_RULE, "without the dates"},
	    {"footer: no offset", 0, 0, "CET", TZIF_E_RULE, "malformed TZ string"},
	    {"footer: short name", 0, 0, "CE-1", TZIF_E_RULE, "malformed"},
	    {"footer: month 13", 0, 0, "CET-1CEST,M13.5.0,M10.5.0/3", TZIF_E_RULE, "malformed"},
	    {"footer: week 6", 0, 0, "CET-1CEST,M3.6.0,M10.5.0/3", TZIF_E_RULE, "malformed"},
	    {"footer: weekday 7", 0, 0, "CET-1CEST,M3.5.7,M10.5.0/3", TZIF_E_RULE, "malformed"},
	    {"footer: offset 25 h", 0, 0, "CET-25", TZIF_E_RULE, "malformed"},
	    {"footer: time 168 h", 0, 0, "CET-1CEST,M3.5.0/168,M10.5.0/3", TZIF_E_RULE,
	     "malformed"},
	    {"footer: J0", 0, 0, "CET-1CEST,J0,J300", TZIF_E_RULE, "malformed"},
	    {"footer: day 366", 0, 0, "CET-1CEST,366,300", TZIF_E_RULE, "malformed"},
	    {"footer: minutes 60", 0, 0, "CET-1:60", TZIF_E_RULE, "malformed"},
	    {"footer: unclosed <", 0, 0, "<+03-3", TZIF_E_RULE, "malformed"},
	    {"footer: trailing junk", 0, 0, "CET-1CEST,M3.5.0,M10.5.0/3,", TZIF_E_RULE,
	     "malformed"},
	    {"footer: control byte", 0, 0, "CET\x01-1", TZIF_E_RULE, "malformed"},
	    {"input past the cap", 2, TZIF_INPUT_MAX, NULL, TZIF_E_LIMIT, "more than"},
	    {"UT without standard indicator", 17, 0, NULL, TZIF_E_FORMAT, "UT/local 1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = base;
		switch (cases[i].field) {
		case 1:
			s.version = 0;
			break;
		case 2:
			s.pad = (size_t)cases[i].value;
			break;
		case 3:
			s.version = (char)cases[i].value;
			break;
		case 6:
			s.v2_version = (int)cases[i].value;
			break;
		case 7:
			s.counts[3] = (uint32_t)cases[i].value;
			break;
		case 8:
			s.counts[4] = (uint32_t)cases[i].value;
			break;
		case 9:
			s.counts[5] = (uint32_t)cases[i].value;
			break;
		case 10:
			s.counts[2] = (uint32_t)cases[i].value;
			break;
		case 11:
			s.counts[0] = (uint32_t)cases[i].value;
			break;
		case 12:
			s.times[1] = cases[i].value;
			break;
		case 13:
			s.idx[1] = (uint8_t)cases[i].value;
			break;
		case 14:
			s.utoff[1] = (int32_t)cases[i].value;
			break;
		case 15:
			s.isdst[1] = (uint8_t)cases[i].value;
			break;
		case 16:
			s.desig[1] = (uint8_t)cases[i].value;
			break;
		case 17:
			s.counts[0] = s.counts[1] = 2;
			s.isut[1] = 1;
			break;
		default:
			break;
		}
		if (cases[i].footer)
			s.footer = cases[i].footer[0] == '\x01' && cases[i].footer[1] == '\0'
			               ? NULL
			               : cases[i].footer;
		build(&s, &buf);
		size_t v = (size_t)cases[i].value;
		if (cases[i].field == 4) /* drop bytes from the end */
			buf.n -= v < buf.n ? v : buf.n;
		else if (cases[i].field == 18) /* keep only the first bytes */
			buf.n = v < buf.n ? v : buf.n;
		else if (cases[i].field == 5)
			buf.b[0] = 'X';
		struct tzif *z = NULL;
		char err[200] = "";
		int rc = tzif_parse(buf.b, buf.n, &z, err, sizeof(err));
		if (rc != cases[i].want || strstr(err, cases[i].err) == NULL ||
		    (rc == 0) != (z != NULL))
			fail_msg("%s: got rc %d [%s] want rc %d [%s]", cases[i].label, rc, err,
			         cases[i].want, cases[i].err);
		if (rc == 0) {
			/* Every valid variant reads as the built zone does. */
			struct tzif_info a, b, c;
			assert_int_equal(tzif_lookup(z, 1774746000 - 1, &a), 0);
			assert_int_equal(tzif_lookup(z, 1774746000, &b), 0);
			assert_int_equal(tzif_lookup(z, 1792890000, &c), 0);
			if (a.utoff != 3600 || b.utoff != 7200 || !b.isdst ||
			    strcmp(b.abbr, "CEST") || c.utoff != 3600)
				fail_msg("%s: got %d, %d %s, %d want 3600, 7200 CEST, 3600",
				         cases[i].label, a.utoff, b.utoff, b.abbr, c.utoff);
		}
		tzif_free(z);
	}
}

/* Every zone file of the installed tz database parses; every prefix of one is refused. */
static size_t
parse_tree(const char *dir, size_t *bad, char *first_bad, size_t fbsz)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += parse_tree(path, bad, first_bad, fbsz);
			continue;
		}
		size_t len;
		uint8_t *data = slurp(path, &len);
		if (data == NULL || len < 4 || memcmp(data, "TZif", 4) != 0) {
			free(data);
			continue; /* zone.tab, tzdata.zi, leapseconds... */
		}
		struct tzif *z = NULL;
		char err[200];
		if (tzif_parse(data, len, &z, err, sizeof(err)) != 0 && (*bad)++ == 0)
			snprintf(first_bad, fbsz, "%s: %s", path, err);
		tzif_free(z);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_whole_database(void **state)
{
	(void)state;
	size_t bad = 0;
	char first_bad[600] = "";
	size_t n = parse_tree(zonedir(), &bad, first_bad, sizeof(first_bad));
	if (n < 300 || bad)
		fail_msg("%zu zone files, %zu refused (first: %s); want 300+ and none refused", n,
		         bad, first_bad);

	char path[512];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/Europe/Berlin", zonedir());
	uint8_t *data = slurp(path, &len);
	assert_non_null(data);
	for (size_t cut = 0; cut < len; cut++) {
		struct tzif *z = NULL;
		int rc = tzif_parse(data, cut, &z, NULL, 0);
		if (rc == 0 || z != NULL)
			fail_msg("Europe/Berlin cut to %zu of %zu bytes: got rc %d want refused",
			         cut, len, rc);
	}
	free(data);
}

static void
test_range(void **state)
{
	(void)state;
	struct tzif *z = load_zone("Europe/Berlin");
	struct tzif_info info;
	struct tzif_local l;
	assert_int_equal(tzif_lookup(z, TZIF_TIME_MAX, &info), 0);
	assert_int_equal(tzif_lookup(z, TZIF_TIME_MIN, &info), 0);
	assert_int_equal(tzif_lookup(z, TZIF_TIME_MAX + 1, &info), TZIF_E_RANGE);
	assert_int_equal(tzif_lookup(z, INT64_MIN, &info), TZIF_E_RANGE);
	assert_int_equal(tzif_local_to_utc(z, INT64_MAX, &l), TZIF_E_RANGE);
	assert_int_equal(tzif_local_to_utc(z, TZIF_TIME_MAX, &l), 0);
	assert_int_equal(tzif_version(z), 2);
	tzif_free(z);
	tzif_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zones_against_libc),
	    cmocka_unit_test(test_rules_against_libc),
	    cmocka_unit_test(test_rule_dst_all_year),
	    cmocka_unit_test(test_local_rules),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_whole_database),
	    cmocka_unit_test(test_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
