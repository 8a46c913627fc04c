/*
 * when - civil time for schedules and send windows: parse "2026-12-07 09:00"
 * in a time zone or ISO 8601 with an offset, convert local ↔ UTC across DST
 * changes, and parse and evaluate send windows ("Mon-Fri 08:00-18:00").
 *
 * Pure code: no I/O, no globals, no logging. A time zone is a callback that
 * gives the UTC offset in force at a UTC instant (struct when_zone); the
 * caller supplies it from the C library's tz database (when_tz.h, app layer)
 * or, in tests, from a table. Everything else is arithmetic on that.
 *
 * DST rules (the same for every function here):
 * - A local time that does not exist (the spring-forward gap, e.g. 02:30 on
 *   2026-03-08 in America/New_York) is refused by when_parse_at with
 *   WHEN_E_GAP and a sentence naming the first valid time after it: a
 *   one-off send time should be exactly what the marketer meant. A window
 *   opening or closing inside a gap moves forward to the end of the gap
 *   (like cron, which runs jobs whose time was skipped right after the change).
 * - A local time that exists twice (the fall-back overlap, 01:30 on
 *   2026-11-01 in New York) means its first occurrence (the earlier UTC
 *   instant, still on summer time), as systemd calendar events do.
 */
#ifndef KIRIM_WHEN_H
#define KIRIM_WHEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
#define WHEN_E_SYNTAX (-1) /* the text is not in a form this module reads */
#define WHEN_E_RANGE (-2)  /* a field out of range (month 13, 25:00, year 1969) */
#define WHEN_E_GAP (-3)    /* the local time does not exist (DST gap) */
#define WHEN_E_ZONE (-4)   /* the zone callback failed or gave an absurd offset */

/*
 * The UTC offset (seconds east of UTC, e.g. +25200 for Asia/Jakarta) in
 * force at the UTC instant utc. Returns 0, or negative when it cannot tell.
 */
typedef int (*when_offset_cb)(void *arg, int64_t utc, int *offset);

/* A time zone: its offset callback and the callback's argument (borrowed). */
struct when_zone {
	when_offset_cb offset;
	void *arg;
};

/* A local (civil) date and time; mon 1-12, day 1-31, hour 0-23, min 0-59, sec 0-59. */
struct when_civil {
	int year, mon, day, hour, min, sec;
};

/* when_days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
int64_t when_days_from_civil(int year, int mon, int day);
/* when_civil_from_days - the date of a day number (inverse of when_days_from_civil) */
void when_civil_from_days(int64_t days, int *year, int *mon, int *day);
/* when_weekday - 0 = Sunday ... 6 = Saturday, for a day number */
int when_weekday(int64_t days);

/*
 * when_local_to_utc - the UTC instant of local time c in zone z. An ambiguous
 * time gives its first occurrence; a time in a DST gap gives WHEN_E_GAP, or
 * with gap_forward the instant the gap ends (the first valid local time).
 */
int when_local_to_utc(const struct when_zone *z, const struct when_civil *c, bool gap_forward,
                      int64_t *out);
/* when_utc_to_local - local time and offset (seconds east; may be NULL) of t in zone z */
int when_utc_to_local(const struct when_zone *z, int64_t t, struct when_civil *out, int *offset);

/*
 * when_parse_at - a schedule time: "YYYY-MM-DD HH:MM[:SS]" (or with "T")
 * is local time in zone z; with a trailing "Z", "+HH:MM", "+HHMM" or "+HH"
 * (or "-") it is absolute and z is not used. Returns 0 with *out in Unix
 * seconds, or a WHEN_E_* code with a sentence in err.
 */
int when_parse_at(const char *s, const struct when_zone *z, int64_t *out, char *err, size_t errsz);

/* when_format - t as "YYYY-MM-DDTHH:MM:SS+HH:MM" in zone z (out: at least 32 bytes) */
int when_format(const struct when_zone *z, int64_t t, char *out, size_t outsz);

/*
 * Send windows. Text: rules separated by ";", each "DAYS HH:MM-HH:MM" where
 * DAYS is a comma list of days or day ranges ("Mon-Fri", "Mon,Wed,Fri",
 * "Sat", "Fri-Mon" wraps over the weekend; three-letter or full English
 * names, any case) and may be left out for every day. "24:00" may end a
 * window. A window whose end is not after its start crosses midnight
 * ("Fri 22:00-06:00" opens Friday 22:00 and closes Saturday 06:00): DAYS
 * name the day it opens. Equal start and end are refused (use 00:00-24:00).
 */
enum { WHEN_WINDOW_MAX = 16 };

struct when_window_rule {
	unsigned days; /* 1u << weekday, 0 = Sunday */
	int start;     /* minutes after local midnight, 0-1439 */
	int end;       /* 1-1440; <= start means it ends the next day */
};

struct when_window {
	struct when_window_rule rule[WHEN_WINDOW_MAX];
	int n;
};

/* when_window_parse - read a window; WHEN_E_SYNTAX or WHEN_E_RANGE with a sentence in err */
int when_window_parse(const char *s, struct when_window *out, char *err, size_t errsz);

/*
 * when_window_next - is now inside window w (local times in zone z)? Sets
 * *inside; *open_at to now when inside, else to the next opening; *close_at
 * (may be NULL) to when that opening closes (touching or overlapping
 * openings are merged). Both are Unix seconds. Always finds an opening
 * within 8 days, since every rule names at least one day.
 */
int when_window_next(const struct when_window *w, const struct when_zone *z, int64_t now,
                     bool *inside, int64_t *open_at, int64_t *close_at);

#endif
