/*
 * report - render a campaign's delivery report: a terminal table, CSV, JSON
 * (schema_version 1, see docs/report-formats.md) and one self-contained HTML
 * file (inline CSS and SVG charts, no JavaScript, no network).
 *
 * Pure code (format layer): the caller fills a struct report (the store does,
 * store_report.h) and passes it in; every renderer appends to a buf and never
 * does I/O, reads the clock or logs. Strings in the struct are owned by it and
 * freed by report_free; any of them may be NULL. Text that came from outside
 * (reply texts, addresses, names) is written escaped for the format, and bytes
 * that are not UTF-8 are read as Latin-1 so the output is always valid UTF-8.
 */
#ifndef KIRIM_REPORT_H
#define KIRIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define REPORT_SCHEMA_VERSION 1

enum report_format { REPORT_TEXT, REPORT_CSV, REPORT_JSON, REPORT_HTML };
enum report_by { REPORT_BY_DOMAIN, REPORT_BY_DEST, REPORT_BY_REASON, REPORT_BY_HOUR };

/* A count with a label: why messages were suppressed or skipped. */
struct report_count {
	char *label;
	int64_t n;
};

/* One recipient domain or destination (MX set or relay): its messages by state now. */
struct report_group {
	char *key;
	bool others;        /* the "(others)" row summing everything past the top N */
	int64_t messages;   /* recipients in the group */
	int64_t delivered;  /* state delivered */
	int64_t deferred;   /* queued again after a temporary failure */
	int64_t bounced;    /* state bounced */
	int64_t failed;     /* state failed (refused here, or retried too long) */
	int64_t pending;    /* queued and never tried, or in flight */
	int64_t suppressed; /* suppressed or cancelled: never sent */
	int64_t deferrals;  /* temporary failures on the way (attempts that were deferred) */
	int64_t tls;        /* delivered over TLS */
	double avg_delay;   /* seconds from queueing to delivery, delivered messages */
	int64_t max_delay;  /* the longest of those */
};

/* One failure reason: attempts with this outcome, class and reason. */
struct report_reason {
	char *outcome; /* "bounced", "deferred" or "failed" */
	char *cls;     /* "hard", "soft" or NULL (not classified) */
	char *reason;  /* the classifier's reason, or NULL (shown as "unclassified") */
	char *ecode;   /* the enhanced status code of the example, or NULL */
	int code;      /* the reply code of the example, 0 if none */
	int64_t count;
	char *example; /* one reply text seen for it, or NULL */
};

/* A destination the adaptive throttle slowed down (the destinations table). */
struct report_throttled {
	char *dest;
	char *change; /* the last change: decreased, suspended, increased, resumed */
	char *note;   /* in words */
	int64_t slowdowns, suspensions;
	double rate; /* effective messages per second now, 0 = unlimited */
	int conns;   /* effective connection cap now */
};

/* Attempts and engagement in one time bucket (UTC, starting at t). */
struct report_bucket {
	int64_t t;
	int64_t delivered, deferred, bounced, failed;
	int64_t opens, clicks;
};

struct report {
	/* The campaign. */
	char *campaign;
	char *state;
	int64_t campaign_id;
	int64_t created_at;
	int64_t generated_at; /* when the report was made (the caller's clock) */

	/* Messages by state now. deferred: queued again after a temporary failure. */
	int64_t recipients; /* every message of the campaign */
	int64_t suppressed, skipped, queued, in_flight, deferred, delivered;
	int64_t bounced_hard, bounced_soft, failed;
	struct report_count *skip_reasons; /* why suppressed or skipped, by reason */
	size_t n_skip_reasons;

	/* Events. */
	int64_t attempts;      /* delivery attempts (delivered, deferred, bounced, failed events) */
	int64_t tls_delivered; /* delivered attempts made over TLS */
	int64_t complaints, unsubscribes;
	int64_t opens_human, opens_machine,
	    opens_unique; /* opens_unique: messages opened by a person */
	int64_t clicks, clicks_unique;
	int64_t first_delivery, last_delivery; /* Unix times; 0 when nothing was delivered */
	int64_t peak_minute;                   /* the minute (Unix time) with the most deliveries */
	int64_t peak_per_minute;

	/* Breakdowns. domains and dests hold the top N by messages, then "(others)". */
	struct report_group *domains;
	size_t n_domains;
	struct report_group *dests;
	size_t n_dests;
	struct report_group *slowest; /* destinations by average delay, slowest first */
	size_t n_slowest;
	struct report_throttled *throttled; /* backed off by the throttle, most slow-downs first */
	size_t n_throttled;
	struct report_reason *reasons; /* by count, most first */
	size_t n_reasons;
	struct report_bucket *hours; /* one per hour that had events, in order */
	size_t n_hours;
	struct report_bucket *timeline; /* for the chart: buckets of timeline_step seconds */
	size_t n_timeline;
	int64_t timeline_step;
};

/* One campaign in `kirim report --all`. */
struct report_campaign {
	char *name;
	char *state;
	int64_t created_at;
	int64_t recipients, delivered, deferred, bounced, failed, suppressed, pending;
	int64_t complaints, unsubscribes, opens_unique, clicks_unique;
	int64_t first_delivery, last_delivery;
};

struct report_all {
	int64_t generated_at;
	struct report_campaign *campaigns; /* newest first */
	size_t n;
};

/* One delivery attempt, a row of `kirim log`; strings borrowed for the call. */
struct report_attempt {
	int64_t ts;
	const char *recipient;
	const char *dest;
	const char *host;
	const char *outcome;
	int code;
	const char *ecode;
	const char *text;
	const char *tls;
	int attempt;
};

/* report_free - free what a filled report owns and zero it; NULL is a no-op */
void report_free(struct report *r);
/* report_all_free - free what a filled report_all owns and zero it */
void report_all_free(struct report_all *a);

/* report_format_parse - "text", "csv", "json" or "html"; -1 if none of them */
int report_format_parse(const char *s);
/* report_by_parse - "domain", "destination" (or "dest"), "reason" or "hour"; -1 if none */
int report_by_parse(const char *s);

/*
 * report_render - append r in format f to out. by chooses the table of the
 * text and CSV formats (JSON and HTML hold every breakdown).
 */
void report_render(struct buf *out, const struct report *r, enum report_format f,
                   enum report_by by);
/* report_render_all - append the campaigns overview in format f to out */
void report_render_all(struct buf *out, const struct report_all *a, enum report_format f);

/* report_attempt_csv_header - append the header line of the attempt log CSV */
void report_attempt_csv_header(struct buf *out);
/* report_attempt_csv - append one attempt as a CSV line (RFC 4180, CRLF) */
void report_attempt_csv(struct buf *out, const struct report_attempt *a);

/* report_html_escape - append s escaped for HTML text and attribute values */
void report_html_escape(struct buf *out, const char *s);
/* report_csv_field - append s as one CSV field, quoted when it needs to be */
void report_csv_field(struct buf *out, const char *s);

#endif
