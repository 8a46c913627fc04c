/*
 * report - render a campaign's delivery report: a terminal table, CSV, JSON
 * (schema_version 2, see docs/report-formats.md) and one self-contained HTML
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

#define REPORT_SCHEMA_VERSION 2

enum report_format { REPORT_TEXT, REPORT_CSV, REPORT_JSON, REPORT_HTML };
enum report_by {
	REPORT_BY_DOMAIN,
	REPORT_BY_DEST,
	REPORT_BY_REASON,
	REPORT_BY_HOUR,
	REPORT_BY_LINK,    /* clicks by tracked link */
	REPORT_BY_SUMMARY, /* the header and the summary only (CSV: one name,value row each) */
};

/*
 * The categories of a campaign's messages: each message is in exactly one, by
 * its state now, so the categories add up to the campaign's messages. Every
 * format shows every category, zeros included, under the name
 * report_cat_name gives (text and HTML write it with spaces for underscores).
 * The first five are the attempted messages, the base of the delivery rates.
 */
enum report_cat {
	REPORT_DELIVERED,
	REPORT_BOUNCED_HARD,
	REPORT_BOUNCED_SOFT,
	REPORT_FAILED,     /* refused here, or retried too long */
	REPORT_DEFERRED,   /* queued again after a temporary failure: will be retried */
	REPORT_QUEUED,     /* queued, never tried */
	REPORT_IN_FLIGHT,  /* claimed by a sender now */
	REPORT_SUPPRESSED, /* never sent: suppressed, or no longer on the list */
	REPORT_CANCELLED,  /* never sent: the campaign was cancelled first */
	REPORT_NCAT
};

/* Why messages of a category (suppressed or cancelled) were never sent, and how many. */
struct report_count {
	enum report_cat cat;
	char *label;
	int64_t n;
};

/* One recipient domain or destination (MX set or relay): its messages by category. */
struct report_group {
	char *key;
	bool others;      /* the "(others)" row summing everything past the top N */
	int64_t messages; /* messages in the group: the sum of n */
	int64_t n[REPORT_NCAT];
	int64_t deferrals;     /* temporary failures on the way (attempts that were deferred) */
	int64_t tls;           /* delivered over TLS */
	int64_t tls_verified;  /* of those, with the certificate verified (MTA-STS, DANE, verify) */
	char tls_versions[32]; /* the TLS versions of those, sorted, '/' between: "TLSv1.2/TLSv1.3"
	                        */
	double avg_delay;      /* seconds from queueing to delivery, delivered messages */
	int64_t max_delay;     /* the longest of those */
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

/* One tracked link: number index in the campaign's link table (the N of /c/TOKEN/N). */
struct report_link {
	int index;
	char *url;      /* NULL for a click on a number the table does not hold */
	int64_t unique; /* messages that clicked it */
	int64_t total;  /* clicks */
};

struct report {
	/* The campaign: what was sent, to whom, from whom, when. */
	char *campaign;
	char *state;
	char *state_reason; /* why it was paused or cancelled, or NULL */
	int64_t campaign_id;
	char *subject; /* the template's subject as written, {{tags}} and all */
	char *template_name;
	int template_version;
	char *list;
	char *from;     /* "Name <address>", or the address */
	char *reply_to; /* or NULL */
	bool track_opens, track_clicks;
	int64_t scheduled_at; /* 0: not scheduled */
	char *window;         /* the send window as written ("Mon-Fri 08:00-18:00"), or NULL */
	char *tz;             /* the campaign's zone (IANA), or NULL: the sender's local time */
	int64_t own_zone;     /* with a window: recipients whose own "timezone" it follows */
	int64_t created_at;
	int64_t started_at;   /* the first send (its messages made); 0: not yet */
	int64_t finished_at;  /* when it became done or cancelled; 0: not */
	int64_t generated_at; /* when the report was made (the caller's clock) */

	/* Messages by category (report_cat); messages is their sum. */
	int64_t messages;
	int64_t n[REPORT_NCAT];
	struct report_count *skip_reasons; /* why suppressed or cancelled, by reason */
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

	/* Clicks by link: every link of the table, most unique clicks first. */
	struct report_link *links;
	size_t n_links;

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
	int64_t messages;       /* the sum of n */
	int64_t n[REPORT_NCAT]; /* messages by category */
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
	const char *source; /* the source address ("" when none was bound) */
	const char *helo;   /* the EHLO name given ("" before the migration that records it) */
};

/* report_free - free what a filled report owns and zero it; NULL is a no-op */
void report_free(struct report *r);
/* report_all_free - free what a filled report_all owns and zero it */
void report_all_free(struct report_all *a);

/* report_cat_name - the category's name in CSV and JSON ("bounced_hard") */
const char *report_cat_name(enum report_cat c);
/* report_cat_label - the same name for people ("bounced hard") */
const char *report_cat_label(enum report_cat c);
/* report_cat_attempted - whether messages in c were attempted: the base of delivery rates */
bool report_cat_attempted(enum report_cat c);
/* report_attempted - the attempted messages among the counts n (indexed by report_cat) */
int64_t report_attempted(const int64_t n[REPORT_NCAT]);

/* report_format_parse - "text", "csv", "json" or "html"; -1 if none of them */
int report_format_parse(const char *s);
/* report_by_parse - "domain", "destination" (or "dest"), "reason", "hour", "link" (or
 * "links") or "summary"; -1 if none */
int report_by_parse(const char *s);

/*
 * report_render - append r in format f to out. by chooses the table of the
 * text and CSV formats (JSON and HTML hold every breakdown); text always has
 * the header, the summary and, with click tracking, the clicks by link.
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
