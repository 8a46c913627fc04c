/*
 * clock - the monotonic clock, for durations and rates (never for timestamps
 * stored or shown: those use time()). Does not log.
 */
#ifndef KIRIM_CLOCK_H
#define KIRIM_CLOCK_H

/* clock_seconds - seconds on the monotonic clock, with nanosecond resolution */
double clock_seconds(void);

#endif
