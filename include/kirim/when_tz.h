/*
 * when_tz - IANA time zones ("Asia/Jakarta") for when.h, from the C
 * library's tz database.
 *
 * when.c is pure and asks a callback for the UTC offset at an instant; this
 * module answers it with localtime_r under TZ set to the zone's name, saving
 * and restoring the process's TZ around every call, so the rest of the
 * program never sees another zone. That makes it not thread-safe (setenv and
 * tzset touch process state): use it from one thread only (the CLI, or the
 * daemon's loop thread, never from uv_queue_work). Each call re-reads the
 * zone file (glibc caches only the last TZ), about 10-30 µs: fine for
 * schedules and windows (when_window_next: about 1 ms), not meant for a
 * per-message hot path.
 * Zone names are checked against $TZDIR or /usr/share/zoneinfo (a file that
 * starts with "TZif"), since glibc silently takes an unknown name as UTC.
 * Does not log.
 */
#ifndef KIRIM_WHEN_TZ_H
#define KIRIM_WHEN_TZ_H

#include <stddef.h>

#include "kirim/when.h"

enum { WHEN_TZ_NAME_MAX = 64 };

/* A zone usable with when.h: pass &tz->zone. Plain data; nothing to free. */
struct when_tz {
	char name[WHEN_TZ_NAME_MAX]; /* the IANA name, or "" for the process's local zone */
	struct when_zone zone;       /* its callback points back at this struct: do not copy */
};

/*
 * when_tz_open - the zone called name (NULL or "": the local zone). Returns
 * 0, or -1 with "unknown time zone 'X' (...)" in err.
 */
int when_tz_open(struct when_tz *tz, const char *name, char *err, size_t errsz);

/*
 * when_tz_local_name - the IANA name of the local zone ($TZ, the
 * /etc/localtime link, /etc/timezone) into out; "" when it cannot tell.
 */
void when_tz_local_name(char *out, size_t outsz);

#endif
