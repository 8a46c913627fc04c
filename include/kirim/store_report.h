/*
 * store_report - the SQL behind `kirim report` and `kirim log`.
 *
 * Fills a struct report (report.h) for one campaign, an overview of the
 * latest campaigns, and walks the per-attempt delivery log. A campaign's
 * report reads the rollups the writers keep as messages and events are
 * written (schema/018_rollups.sql, src/store/store_rollup.c): a few thousand rows, whatever the
 * campaign's size. With recount it reads every message and event instead and
 * groups them in C (hash tables, because SQLite's GROUP BY sorts); the two
 * must give the same report, which is how the tests check the rollups. Read-only:
 * needs no transaction, and a sender may write while it runs (WAL). Does not
 * log; errors are in store_errmsg.
 */
#ifndef KIRIM_STORE_REPORT_H
#define KIRIM_STORE_REPORT_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct report;
struct report_all;
struct report_attempt;

struct store_report_opts {
	int top;         /* domains and destinations kept before "(others)"; 0: all */
	int slowest;     /* how many slowest destinations; 0: none */
	int max_buckets; /* at most this many timeline buckets (0: 120) */
	bool recount;    /* count from the messages and events, not the rollups */
	bool rebuild;    /* first count the rollups again from the messages and events, and
	                    store them (rows written by hand, a repair); a write transaction */
};

/*
 * store_report_fill - the report of the campaign called name into *out (zeroed
 * first; free with report_free, also after a failure); STORE_E_NOTFOUND if no
 * such campaign. generated_at is left for the caller.
 */
int store_report_fill(struct store *s, const char *name, const struct store_report_opts *o,
                      struct report *out);

/* store_report_all - the last (newest) campaigns into *out; last 0 means all */
int store_report_all(struct store *s, int last, struct report_all *out);

/* One UTC day's outcomes over every campaign (GET /api/stats). */
struct store_report_day {
	int64_t day; /* the day's first second (UTC) */
	int64_t delivered, bounced, complaints, unsubscribes;
};
typedef int (*store_report_day_cb)(void *arg, const struct store_report_day *d);

/*
 * store_report_days - deliveries, bounces, complaints and unsubscribes recorded per UTC
 * day from the day of since to the day of until, every day (zeros too), oldest first,
 * counted from those days' events (an index of events by type and time: the cost is the
 * events of the days asked for, not the campaigns'); a non-zero return of cb stops the
 * walk and is returned.
 */
int store_report_days(struct store *s, int64_t since, int64_t until, store_report_day_cb cb,
                      void *arg);

/* A callback per attempt; a non-zero return stops the walk and is returned. */
typedef int (*store_report_attempt_cb)(void *arg, const struct report_attempt *a);

/*
 * store_report_attempts - every delivery attempt of the campaign called name,
 * oldest first; STORE_E_NOTFOUND if no such campaign.
 */
int store_report_attempts(struct store *s, const char *name, store_report_attempt_cb cb, void *arg);

#endif
