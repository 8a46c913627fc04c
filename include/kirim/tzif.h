/*
 * tzif - time zone files (TZif, RFC 8536, versions 1 to 4) and the POSIX TZ
 * rule strings in their footers: bytes in, an immutable zone out, and the
 * two questions schedules ask of a zone (UTC → local, local → UTC).
 *
 * Pure code: no I/O, no globals, no logging. A parsed zone is never written
 * after tzif_parse returns, so any number of threads may query it at once;
 * the caller owns it and frees it with tzif_free. Reading the file and
 * caching zones by name is the app layer's job (when_tz.c).
 *
 * What is read (RFC 8536 section 3): the 64-bit data block of version 2+
 * files (the 32-bit block is skipped; a version 1 file is read from it),
 * transitions, local time types (UTC offset, DST flag, abbreviation), and
 * the footer's TZ string, which gives local time after the last transition
 * (or always, in a file without transitions). An empty footer or a version 1
 * file keeps the last transition's type forever. Before the first transition
 * type 0 is in force. Leap-second records are checked but not applied:
 * instants here are POSIX seconds, as everywhere in kirim (the C library's
 * tm_gmtoff does not include them either). Standard/wall and UT/local
 * indicators are checked and ignored (they only matter for POSIX TZ strings
 * without rules, which RFC 8536 calls obsolete).
 *
 * TZ strings (POSIX.1-2017 section 8.3 and RFC 8536 section 3.3.1):
 * "std offset [dst [offset] ,start[/time],end[/time]]", names alphabetic or
 * <quoted> ("<+0530>"), dates Jn, n or Mm.w.d, times with the version 3
 * extension (hours -167..167). A DST name without a rule is refused (POSIX
 * leaves its dates to the implementation; zic never writes one). DST "all
 * year" (RFC 8536 3.3.1, "EST5EDT,0/0,J365/25") works: when one year's end
 * and the next year's start fall on the same instant, DST stays.
 *
 * Malformed input is refused with a TZIF_E_* code and a one-line reason;
 * nothing past the caps below is read.
 */
#ifndef KIRIM_TZIF_H
#define KIRIM_TZIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TZIF_INPUT_MAX = 256 * 1024, /* biggest file read (tzdata's largest is under 4 KiB) */
	TZIF_TIMES_MAX = 2000,       /* most transitions (tzcode's TZ_MAX_TIMES) */
	TZIF_TYPES_MAX = 256,        /* most local time types (the index is one byte) */
	TZIF_CHARS_MAX = 512,        /* most abbreviation bytes */
	TZIF_LEAPS_MAX = 512,        /* most leap-second records */
	TZIF_ABBR_MAX = 15,          /* longest abbreviation, in bytes ("+0530" is 5) */
	TZIF_FOOTER_MAX = 255,       /* longest footer TZ string */
	TZIF_UTOFF_MIN = -89999,     /* UTC offsets, seconds: more than -25 h ... */
	TZIF_UTOFF_MAX = 93599,      /* ... and less than 26 h (RFC 8536 section 3.2) */
};

/* Instants outside this range are refused by the queries (about ±8.9 million years). */
#define TZIF_TIME_MIN (-(INT64_C(1) << 48))
#define TZIF_TIME_MAX (INT64_C(1) << 48)

/* Error codes (negative). */
#define TZIF_E_FORMAT (-1) /* malformed: bad magic, truncated, inconsistent */
#define TZIF_E_LIMIT (-2)  /* well-formed but past one of the caps above */
#define TZIF_E_RULE (-3)   /* the TZ string (footer) is malformed */
#define TZIF_E_RANGE (-4)  /* a query outside [TZIF_TIME_MIN, TZIF_TIME_MAX] */

struct tzif;

/* What is in force at one instant. */
struct tzif_info {
	int32_t utoff;    /* seconds east of UTC (local = UTC + utoff) */
	bool isdst;       /* the zone calls it daylight saving time (may be negative DST) */
	const char *abbr; /* "CEST", "+0530", or ""; lives as long as the zone */
};

/* How a local time maps to UTC. */
enum tzif_local_kind {
	TZIF_LOCAL_ONE,  /* exactly one instant */
	TZIF_LOCAL_FOLD, /* the clock went back: it happened twice (or more) */
	TZIF_LOCAL_GAP,  /* the clock jumped over it: it never happened */
};

struct tzif_local {
	enum tzif_local_kind kind;
	/*
	 * The instant chosen, by the rules of when.h: ONE, that instant; FOLD,
	 * the first occurrence (the earlier instant, e.g. still on summer
	 * time); GAP, the instant the gap ends, which is the first valid local
	 * time after it (02:30 in New York's spring gap gives 07:00Z = 03:00
	 * EDT, like cron and systemd, where mktime with tm_isdst = -1 gives
	 * 07:30Z = 03:30 EDT).
	 */
	int64_t t;
	int64_t last; /* FOLD: the last occurrence; otherwise equal to t */
};

/*
 * tzif_parse - read a TZif file (len bytes) into *out. Returns 0, or a
 * TZIF_E_* code with a reason in err (which may be NULL). *out is set only
 * on success; free it with tzif_free. Bytes after the footer are ignored
 * (RFC 8536 lets later versions append data).
 */
int tzif_parse(const void *data, size_t len, struct tzif **out, char *err, size_t errsz);

/*
 * tzif_parse_rule - a zone made of a POSIX TZ string alone ("CET-1CEST,
 * M3.5.0,M10.5.0/3"), as if it were the footer of a file without
 * transitions. Same returns as tzif_parse.
 */
int tzif_parse_rule(const char *s, size_t len, struct tzif **out, char *err, size_t errsz);

/* tzif_free - release a zone; NULL is a no-op */
void tzif_free(struct tzif *z);

/* tzif_version - the file's format version: 1 to 4 (0 for tzif_parse_rule zones) */
int tzif_version(const struct tzif *z);

/*
 * tzif_lookup - the offset, DST flag and abbreviation in force at UTC
 * instant t. Returns 0, or TZIF_E_RANGE.
 */
int tzif_lookup(const struct tzif *z, int64_t t, struct tzif_info *out);

/*
 * tzif_local_to_utc - the UTC instant(s) of local time local (civil time
 * counted in seconds as if it were UTC: days_from_civil * 86400 + hh * 3600
 * + mm * 60 + ss). Returns 0 with *out as described above, or TZIF_E_RANGE.
 */
int tzif_local_to_utc(const struct tzif *z, int64_t local, struct tzif_local *out);

#endif
