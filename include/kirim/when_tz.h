/*
 * when_tz - IANA time zones ("Asia/Jakarta") for when.h, from the tz
 * database's files.
 *
 * when.c is pure and asks a callback for the UTC offset at an instant; this
 * module answers it from the zone's TZif file ($TZDIR or /usr/share/zoneinfo
 * + name), read and parsed (tzif.h) the first time a name is opened and kept
 * in a process-wide cache for the life of the process: a later change to the
 * file is not seen until restart. The cache is guarded by a mutex and the
 * parsed zones are immutable, so when_tz_open and the callbacks are safe
 * from any thread (the daemon's loop or its uv_queue_work workers); a lookup
 * is a binary search, or a few date computations past the file's last
 * transition. Nothing here changes TZ or calls tzset.
 * Names are checked before any file is opened: 1 to 63 characters of
 * [A-Za-z0-9_+-/], no leading '/' or '.', no "..", "//", "/." or trailing
 * '/'. A name without a regular, valid TZif file is refused (glibc would
 * silently take an unknown name as UTC).
 * The local zone (name NULL or "") is answered by the C library's
 * localtime_r, which guards its own state with a lock.
 * Does not log.
 */
#ifndef KIRIM_WHEN_TZ_H
#define KIRIM_WHEN_TZ_H

#include <stddef.h>

#include "kirim/when.h"

enum { WHEN_TZ_NAME_MAX = 64 };

struct tzif;

/* A zone usable with when.h: pass &tz->zone. Plain data; nothing to free. */
struct when_tz {
	char name[WHEN_TZ_NAME_MAX]; /* the IANA name, or "" for the process's local zone */
	const struct tzif *tzif; /* the cached zone (kept for the process's life); NULL: local */
	struct when_zone zone;   /* its callback points back at this struct: do not copy */
};

/*
 * when_tz_open - the zone called name (NULL or "": the local zone). Returns
 * 0, or -1 with "unknown time zone 'X': ..." in err (a file that exists but
 * does not parse says why).
 */
int when_tz_open(struct when_tz *tz, const char *name, char *err, size_t errsz);

/*
 * when_tz_local_name - the IANA name of the local zone ($TZ, the
 * /etc/localtime link, /etc/timezone) into out; "" when it cannot tell.
 */
void when_tz_local_name(char *out, size_t outsz);

#endif
