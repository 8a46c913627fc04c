/* when - schedule times and send windows (see when.h). */
#include "kirim/when.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Offsets beyond ±26 h exist nowhere; a callback giving one is broken. */
#define WHEN_MAX_OFFSET (26 * 3600)
/* Local times we accept: 1970-01-01 to 9999-12-31. */
#define WHEN_MIN_YEAR 1970
#define WHEN_MAX_YEAR 9999

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	if (err == NULL || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* floor division, for negative day numbers */
static int64_t
fdiv(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* when_days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
int64_t
when_days_from_civil(int year, int mon, int day)
{
	/* H. Hinnant's algorithm: years start in March so the leap day is last. */
	int64_t y = (int64_t)year - (mon <= 2);
	int64_t era = fdiv(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = (mon + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* when_civil_from_days - the date of a day number (inverse of when_days_from_civil) */
void
when_civil_from_days(int64_t days, int *year, int *mon, int *day)
{
	int64_t z = days + 719468;
	int64_t era = fdiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (m <= 2));
	*mon = m;
	*day = d;
}

/* when_weekday - 0 = Sunday ... 6 = Saturday, for a day number */
int
when_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (4). */
	int64_t w = (days + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static int
days_in_month(int year, int mon)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon == 2 && leap ? 29 : dim[mon - 1];
}

static bool
civil_valid(const struct when_civil *c)
{
	return c->year >= WHEN_MIN_YEAR && c->year <= WHEN_MAX_YEAR && c->mon >= 1 &&
	       c->mon <= 12 && c->day >= 1 && c->day <= days_in_month(c->year, c->mon) &&
	       c->hour >= 0 && c->hour <= 23 && c->min >= 0 && c->min <= 59 && c->sec >= 0 &&
	       c->sec <= 59;
}

static int64_t
civil_seconds(const struct when_civil *c)
{
	return when_days_from_civil(c->year, c->mon, c->day) * 86400 + c->hour * 3600 +
	       c->min * 60 + c->sec;
}

static int
zone_offset(const struct when_zone *z, int64_t t, int *off)
{
	int o = 0;
	if (z == NULL || z->offset == NULL || z->offset(z->arg, t, &o) < 0)
		return WHEN_E_ZONE;
	if (o < -WHEN_MAX_OFFSET || o > WHEN_MAX_OFFSET)
		return WHEN_E_ZONE;
	*off = o;
	return 0;
}

/*
 * local_to_utc - local seconds L (civil time counted as if it were UTC) to
 * the UTC instant. Every offset in force near L is a candidate o; t = L - o
 * is a solution when the offset at t is o. Offsets are sampled 36 hours on
 * either side, which brackets every real solution (|offset| <= 26 h) and
 * holds at most one transition for every zone in the tz database.
 */
static int
local_to_utc(const struct when_zone *z, int64_t L, bool gap_forward, int64_t *out)
{
	int samples[3], n = 0, rc;
	for (int i = -1; i <= 1; i++) {
		int o;
		if ((rc = zone_offset(z, L + i * 36 * 3600, &o)) < 0)
			return rc;
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen |= samples[k] == o;
		if (!seen)
			samples[n++] = o;
	}
	bool found = false;
	int64_t best = 0;
	for (int k = 0; k < n; k++) {
		int64_t t = L - samples[k];
		int o;
		if ((rc = zone_offset(z, t, &o)) < 0)
			return rc;
		if (o == samples[k] && (!found || t < best)) {
			best = t; /* the earliest solution: the first occurrence */
			found = true;
		}
	}
	if (found) {
		*out = best;
		return 0;
	}
	if (!gap_forward)
		return WHEN_E_GAP;
	/*
	 * In a gap: the offset jumps from lo to hi somewhere in [L - hi, L - lo];
	 * the first instant on hi (found by bisection) is where the gap ends.
	 */
	int lo = samples[0], hi = samples[0];
	for (int k = 1; k < n; k++) {
		lo = samples[k] < lo ? samples[k] : lo;
		hi = samples[k] > hi ? samples[k] : hi;
	}
	int64_t a = L - hi, b = L - lo; /* offset(a) != hi, offset(b) == hi (or later) */
	int o;
	if ((rc = zone_offset(z, b, &o)) < 0)
		return rc;
	if (o != hi)
		return WHEN_E_ZONE;
	while (b - a > 1) {
		int64_t m = a + (b - a) / 2;
		if ((rc = zone_offset(z, m, &o)) < 0)
			return rc;
		if (o == hi)
			b = m;
		else
			a = m;
	}
	*out = b;
	return 0;
}

/* when_local_to_utc - the UTC instant of local time c in zone z */
int
when_local_to_utc(const struct when_zone *z, const struct when_civil *c, bool gap_forward,
                  int64_t *out)
{
	if (!civil_valid(c))
		return WHEN_E_RANGE;
	return local_to_utc(z, civil_seconds(c), gap_forward, out);
}

/* when_utc_to_local - local time and offset of t in zone z */
int
when_utc_to_local(const struct when_zone *z, int64_t t, struct when_civil *out, int *offset)
{
	int off, rc;
	if ((rc = zone_offset(z, t, &off)) < 0)
		return rc;
	int64_t L = t + off;
	int64_t days = fdiv(L, 86400);
	int64_t secs = L - days * 86400;
	when_civil_from_days(days, &out->year, &out->mon, &out->day);
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
	if (offset)
		*offset = off;
	return 0;
}

/* when_format - t as "YYYY-MM-DDTHH:MM:SS+HH:MM" in zone z */
int
when_format(const struct when_zone *z, int64_t t, char *out, size_t outsz)
{
	struct when_civil c;
	int off, rc;
	if ((rc = when_utc_to_local(z, t, &c, &off)) < 0)
		return rc;
	int a = off < 0 ? -off : off;
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.mon, c.day,
	         c.hour, c.min, c.sec, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	return 0;
}

/* digits - read exactly n decimal digits at *p into *v */
static bool
digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch < '0' || ch > '9')
			return false;
		x = x * 10 + (ch - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* when_parse_at - a schedule time, local in z or absolute with an offset */
int
when_parse_at(const char *s, const struct when_zone *z, int64_t *out, char *err, size_t errsz)
{
	static const char form[] = "write it as \"YYYY-MM-DD HH:MM\" (local time in the zone) or "
	                           "ISO 8601 with an offset, \"2026-12-07T09:00:00+07:00\"";
	struct when_civil c = {0};
	const char *p = s;
	while (*p == ' ')
		p++;
	if (!digits(&p, 4, &c.year) || *p++ != '-' || !digits(&p, 2, &c.mon) || *p++ != '-' ||
	    !digits(&p, 2, &c.day) || (*p != ' ' && *p != 'T' && *p != 't') ||
	    (p++, !digits(&p, 2, &c.hour)) || *p++ != ':' || !digits(&p, 2, &c.min)) {
		seterr(err, errsz, "'%s' is not a date and time: %s", s, form);
		return WHEN_E_SYNTAX;
	}
	if (*p == ':' && (p++, !digits(&p, 2, &c.sec))) {
		seterr(err, errsz, "'%s': seconds need two digits: %s", s, form);
		return WHEN_E_SYNTAX;
	}
	bool has_off = false;
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		has_off = true;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
		if (!digits(&p, 2, &oh)) {
			seterr(err, errsz, "'%s': the UTC offset must be +HH:MM, +HHMM or +HH", s);
			return WHEN_E_SYNTAX;
		}
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9' && !digits(&p, 2, &om)) {
			seterr(err, errsz, "'%s': the UTC offset must be +HH:MM, +HHMM or +HH", s);
			return WHEN_E_SYNTAX;
		}
		if (oh > 23 || om > 59) {
			seterr(err, errsz, "'%s': the UTC offset is out of range", s);
			return WHEN_E_RANGE;
		}
		has_off = true;
		off = sign * (oh * 3600 + om * 60);
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		seterr(err, errsz, "'%s': unexpected '%s' at the end: %s", s, p, form);
		return WHEN_E_SYNTAX;
	}
	if (!civil_valid(&c)) {
		seterr(err, errsz,
		       "'%s' is not a valid time (month 01-12, a day the month has, hour 00-23, "
		       "minute and second 00-59, year 1970-9999)",
		       s);
		return WHEN_E_RANGE;
	}
	if (has_off) {
		*out = civil_seconds(&c) - off;
		return 0;
	}
	int rc = when_local_to_utc(z, &c, false, out);
	if (rc == WHEN_E_GAP) {
		int64_t next;
		char after[40] = "";
		if (when_local_to_utc(z, &c, true, &next) == 0) {
			struct when_civil n;
			if (when_utc_to_local(z, next, &n, NULL) == 0)
				snprintf(after, sizeof(after), "%04d-%02d-%02d %02d:%02d", n.year,
				         n.mon, n.day, n.hour, n.min);
		}
		seterr(err, errsz,
		       "%04d-%02d-%02d %02d:%02d does not exist in this time zone: the clocks "
		       "skip it for daylight saving time; the first time after the gap is %s",
		       c.year, c.mon, c.day, c.hour, c.min, after[0] ? after : "later");
	} else if (rc < 0) {
		seterr(err, errsz, "cannot read the time zone's UTC offset");
	}
	return rc;
}

/* --- send windows -------------------------------------------------------------------------- */

static const char *const day_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                         "thursday", "friday", "saturday"};

static int
lc(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* day_name - read a day name ("Mon" or "Monday", any case) at *p; weekday or -1 */
static int
day_name(const char **p)
{
	char word[16];
	size_t n = 0;
	while (n + 1 < sizeof(word) && lc((*p)[n]) >= 'a' && lc((*p)[n]) <= 'z') {
		word[n] = (char)lc((*p)[n]);
		n++;
	}
	word[n] = '\0';
	for (int d = 0; d < 7 && n >= 3; d++) {
		if (strcmp(word, day_names[d]) == 0 ||
		    (n == 3 && strncmp(word, day_names[d], 3) == 0)) {
			*p += n;
			return d;
		}
	}
	return -1;
}

/* clock_time - "H:MM" or "HH:MM" at *p, minutes after midnight (up to 24:00) or -1 */
static int
clock_time(const char **p)
{
	int h = 0, m, nd = 0;
	while (**p >= '0' && **p <= '9' && nd < 2) {
		h = h * 10 + (*(*p)++ - '0');
		nd++;
	}
	if (nd == 0 || **p != ':')
		return -1;
	(*p)++;
	if (!digits(p, 2, &m))
		return -1;
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -2;
	return h * 60 + m;
}

/* when_window_parse - read a window */
int
when_window_parse(const char *s, struct when_window *out, char *err, size_t errsz)
{
	static const char form[] =
	    "write \"Mon-Fri 08:00-18:00\", \"Sat 10:00-14:00\" or \"Mon,Wed,Fri 09:00-17:00\", "
	    "several separated by \";\"";
	const char *p = s;
	memset(out, 0, sizeof(*out));
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		seterr(err, errsz, "the window is empty: %s", form);
		return WHEN_E_SYNTAX;
	}
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (out->n == WHEN_WINDOW_MAX) {
			seterr(err, errsz, "window '%s': at most %d rules", s, WHEN_WINDOW_MAX);
			return WHEN_E_RANGE;
		}
		struct when_window_rule *r = &out->rule[out->n];
		const char *rule_start = p;
		if (*p >= '0' && *p <= '9') {
			r->days = 0x7f; /* no days named: every day */
		} else {
			for (;;) {
				int a = day_name(&p), b;
				if (a < 0) {
					seterr(err, errsz,
					       "window '%s': '%.20s' is not a day (Mon, Tue, Wed, "
					       "Thu, Fri, Sat, Sun): %s",
					       s, p, form);
					return WHEN_E_SYNTAX;
				}
				b = a;
				if (*p == '-') {
					p++;
					if ((b = day_name(&p)) < 0) {
						seterr(err, errsz,
						       "window '%s': '%.20s' is not a day: %s", s,
						       p, form);
						return WHEN_E_SYNTAX;
					}
				}
				/* A range may wrap over the week's end: Fri-Mon. */
				for (int d = a;; d = (d + 1) % 7) {
					r->days |= 1u << d;
					if (d == b)
						break;
				}
				if (*p != ',')
					break;
				p++;
			}
			if (*p != ' ' && *p != '\t') {
				seterr(err, errsz,
				       "window '%s': the days need a space and then "
				       "the hours: %s",
				       s, form);
				return WHEN_E_SYNTAX;
			}
			while (*p == ' ' || *p == '\t')
				p++;
		}
		int a = clock_time(&p), b = -1;
		if (a >= 0 && *p == '-') {
			p++;
			b = clock_time(&p);
		} else if (a >= 0) {
			a = -1;
		}
		if (a == -2 || b == -2 || a == 1440) {
			seterr(
			    err, errsz,
			    "window '%s': hours run from 00:00 to 23:59 (24:00 may end a window)",
			    s);
			return WHEN_E_RANGE;
		}
		if (a < 0 || b < 0) {
			seterr(err, errsz, "window '%s': '%.20s' is not HH:MM-HH:MM: %s", s,
			       rule_start, form);
			return WHEN_E_SYNTAX;
		}
		if (a == b || (a == 0 && b == 0)) {
			seterr(err, errsz,
			       "window '%s': %02d:%02d-%02d:%02d is empty (a whole day is "
			       "00:00-24:00)",
			       s, a / 60, a % 60, b / 60, b % 60);
			return WHEN_E_RANGE;
		}
		r->start = a;
		r->end = b == 0 ? 1440 : b; /* "22:00-00:00" ends at midnight */
		out->n++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		if (*p != ';') {
			seterr(err, errsz, "window '%s': unexpected '%.20s': %s", s, p, form);
			return WHEN_E_SYNTAX;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0') /* a trailing ";" is harmless */
			return 0;
	}
}

/* One opening: [open, close) in Unix seconds. */
struct span {
	int64_t open, close;
};

/* minutes_local - local seconds for day number d plus m minutes (m may pass 1440) */
static int64_t
minutes_local(int64_t d, int m)
{
	return d * 86400 + (int64_t)m * 60;
}

/* when_window_next - whether now is inside w, the next opening and its close */
int
when_window_next(const struct when_window *w, const struct when_zone *z, int64_t now, bool *inside,
                 int64_t *open_at, int64_t *close_at)
{
	/* Every opening from yesterday (one may cross midnight into today) to 8 days on. */
	enum { SPAN_DAYS = 10, SPAN_MAX = SPAN_DAYS * WHEN_WINDOW_MAX };
	struct span sp[SPAN_MAX];
	int n = 0, rc, off;
	if (w->n <= 0)
		return WHEN_E_RANGE;
	if ((rc = zone_offset(z, now, &off)) < 0)
		return rc;
	int64_t today = fdiv(now + off, 86400);
	for (int64_t d = today - 1; d < today - 1 + SPAN_DAYS; d++) {
		int wd = when_weekday(d);
		for (int i = 0; i < w->n; i++) {
			const struct when_window_rule *r = &w->rule[i];
			if (!(r->days & (1u << wd)))
				continue;
			int end = r->end <= r->start ? r->end + 1440 : r->end;
			struct span s;
			if ((rc = local_to_utc(z, minutes_local(d, r->start), true, &s.open)) < 0 ||
			    (rc = local_to_utc(z, minutes_local(d, end), true, &s.close)) < 0)
				return rc;
			if (s.close > s.open) /* an opening wholly inside a DST gap is none */
				sp[n++] = s;
		}
	}
	/* The opening that holds now, else the earliest after now. */
	int best = -1;
	for (int i = 0; i < n; i++) {
		if (sp[i].open <= now && now < sp[i].close) {
			if (best < 0 || sp[best].open > now || sp[i].close > sp[best].close)
				best = i;
		} else if (sp[i].open > now &&
		           (best < 0 || (sp[best].open > now && sp[i].open < sp[best].open))) {
			best = i;
		}
	}
	if (best < 0)
		return WHEN_E_RANGE;
	struct span cur = sp[best];
	/* Merge openings that touch or overlap the chosen one, so close is the real close. */
	for (bool grew = true; grew;) {
		grew = false;
		for (int i = 0; i < n; i++) {
			if (sp[i].open <= cur.close && sp[i].close > cur.close) {
				cur.close = sp[i].close;
				grew = true;
			}
		}
	}
	*inside = cur.open <= now;
	*open_at = *inside ? now : cur.open;
	if (close_at)
		*close_at = cur.close;
	return 0;
}
