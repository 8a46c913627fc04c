/*
 * report - render a filled struct report as text, CSV, JSON or HTML (see report.h).
 *
 * Pure: no I/O, no clock, no globals. Times are shown in UTC. Every message is
 * in one category (report.h); a category's share is a percentage of all the
 * campaign's messages, and for the attempted ones also of the attempted
 * (delivered, bounced, failed, deferred), which is the delivery rate a
 * marketer knows; engagement rates are of the delivered. JSON is built with
 * jansson.
 */
#include "kirim/report.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/buf.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* --- memory ---------------------------------------------------------------------------------- */

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	free(r->campaign);
	free(r->state);
	free(r->state_reason);
	free(r->subject);
	free(r->template_name);
	free(r->list);
	free(r->from);
	free(r->reply_to);
	free(r->window);
	free(r->tz);
	for (size_t i = 0; i < r->n_links; i++)
		free(r->links[i].url);
	free(r->links);
	for (size_t i = 0; i < r->n_skip_reasons; i++)
		free(r->skip_reasons[i].label);
	free(r->skip_reasons);
	for (size_t i = 0; i < r->n_domains; i++)
		free(r->domains[i].key);
	free(r->domains);
	for (size_t i = 0; i < r->n_dests; i++)
		free(r->dests[i].key);
	free(r->dests);
	for (size_t i = 0; i < r->n_slowest; i++)
		free(r->slowest[i].key);
	free(r->slowest);
	for (size_t i = 0; i < r->n_throttled; i++) {
		free(r->throttled[i].dest);
		free(r->throttled[i].change);
		free(r->throttled[i].note);
	}
	free(r->throttled);
	for (size_t i = 0; i < r->n_reasons; i++) {
		free(r->reasons[i].outcome);
		free(r->reasons[i].cls);
		free(r->reasons[i].reason);
		free(r->reasons[i].ecode);
		free(r->reasons[i].example);
	}
	free(r->reasons);
	free(r->hours);
	free(r->timeline);
	memset(r, 0, sizeof(*r));
}

void
report_all_free(struct report_all *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->campaigns[i].name);
		free(a->campaigns[i].state);
	}
	free(a->campaigns);
	memset(a, 0, sizeof(*a));
}

int
report_format_parse(const char *s)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
report_by_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "domain") == 0)
		return REPORT_BY_DOMAIN;
	if (strcmp(s, "destination") == 0 || strcmp(s, "dest") == 0)
		return REPORT_BY_DEST;
	if (strcmp(s, "reason") == 0)
		return REPORT_BY_REASON;
	if (strcmp(s, "hour") == 0)
		return REPORT_BY_HOUR;
	if (strcmp(s, "link") == 0 || strcmp(s, "links") == 0)
		return REPORT_BY_LINK;
	if (strcmp(s, "summary") == 0)
		return REPORT_BY_SUMMARY;
	return -1;
}

/* --- categories ------------------------------------------------------------------------------ */

/* The one set of names: name in CSV and JSON, label for people; the attempted ones first. */
static const struct {
	const char *name, *label;
	bool attempted;
} cats[REPORT_NCAT] = {
    [REPORT_DELIVERED] = {"delivered", "delivered", true},
    [REPORT_BOUNCED_HARD] = {"bounced_hard", "bounced hard", true},
    [REPORT_BOUNCED_SOFT] = {"bounced_soft", "bounced soft", true},
    [REPORT_FAILED] = {"failed", "failed", true},
    [REPORT_DEFERRED] = {"deferred", "deferred", true},
    [REPORT_QUEUED] = {"queued", "queued", false},
    [REPORT_IN_FLIGHT] = {"in_flight", "in flight", false},
    [REPORT_SUPPRESSED] = {"suppressed", "suppressed", false},
    [REPORT_CANCELLED] = {"cancelled", "cancelled", false},
};

const char *
report_cat_name(enum report_cat c)
{
	return c < REPORT_NCAT ? cats[c].name : "?";
}

const char *
report_cat_label(enum report_cat c)
{
	return c < REPORT_NCAT ? cats[c].label : "?";
}

bool
report_cat_attempted(enum report_cat c)
{
	return c < REPORT_NCAT && cats[c].attempted;
}

int64_t
report_attempted(const int64_t n[REPORT_NCAT])
{
	int64_t a = 0;
	for (int c = 0; c < REPORT_NCAT; c++)
		if (cats[c].attempted)
			a += n[c];
	return a;
}

/* --- small helpers --------------------------------------------------------------------------- */

/* clean - s as valid UTF-8 (Latin-1 when it is not) into tmp; returns tmp's data */
static const char *
clean(struct buf *tmp, const char *s)
{
	buf_reset(tmp);
	if (s == NULL)
		s = "";
	size_t n = strlen(s);
	if (utf8_valid(s, n))
		buf_add(tmp, s, n);
	else
		utf8_from_latin1(tmp, s, n);
	buf_addc(tmp, '\0');
	tmp->len--;
	return tmp->data;
}

static double
pct(int64_t n, int64_t d)
{
	return d > 0 ? 100.0 * (double)n / (double)d : 0.0;
}

/* pct2 - a percentage rounded to two decimals, as JSON and CSV carry it */
static double
pct2(int64_t n, int64_t d)
{
	return (double)(int64_t)(pct(n, d) * 100.0 + 0.5) / 100.0;
}

static int64_t
bounced(const int64_t n[REPORT_NCAT])
{
	return n[REPORT_BOUNCED_HARD] + n[REPORT_BOUNCED_SOFT];
}

static int64_t
duration(const struct report *r)
{
	return r->first_delivery && r->last_delivery > r->first_delivery
	           ? r->last_delivery - r->first_delivery
	           : 0;
}

/*
 * avg_per_minute - deliveries per calendar minute, over the minutes from the first
 * delivery's to the last's (both counted): the same minutes the peak is the most of, so
 * the average can never pass the peak (it did when a 40 s send straddled two minutes)
 */
static double
avg_per_minute(const struct report *r)
{
	int64_t delivered = r->n[REPORT_DELIVERED];
	if (delivered == 0 || r->first_delivery == 0)
		return 0;
	int64_t last = r->last_delivery > r->first_delivery ? r->last_delivery : r->first_delivery;
	int64_t minutes = last / 60 - r->first_delivery / 60 + 1;
	return (double)delivered / (double)minutes;
}

/* when - a Unix time as "YYYY-MM-DD HH:MM:SS" (iso: "YYYY-MM-DDTHH:MM:SSZ") into out */
static const char *
when(char out[32], int64_t t, bool iso)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 32, "%" PRId64, t);
		return out;
	}
	strftime(out, 32, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm);
	return out;
}

static const char *
dur(char out[32], int64_t s)
{
	if (s >= 86400)
		snprintf(out, 32, "%" PRId64 "d %02" PRId64 "h %02" PRId64 "m", s / 86400,
		         s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(out, 32, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s", s / 3600,
		         s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(out, 32, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(out, 32, "%" PRId64 "s", s);
	return out;
}

/* num - n with thousands separators */
static const char *
num(char out[32], int64_t n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%" PRId64, n);
	int o = 0, start = tmp[0] == '-';
	if (start)
		out[o++] = '-';
	for (int i = start; i < len; i++) {
		if (i > start && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
	return out;
}

static const char *
reason_name(const struct report_reason *x)
{
	return x->reason ? x->reason : "unclassified";
}

/* reason_code - "550 5.1.1", "451" or "" for a reason row */
static const char *
reason_code(char out[32], const struct report_reason *x)
{
	if (x->code && x->ecode)
		snprintf(out, 32, "%d %.20s", x->code, x->ecode);
	else if (x->code)
		snprintf(out, 32, "%d", x->code);
	else
		snprintf(out, 32, "%.20s", x->ecode ? x->ecode : "");
	return out;
}

/* --- escaping -------------------------------------------------------------------------------- */

void
report_html_escape(struct buf *out, const char *s)
{
	struct buf tmp = BUF_INIT;
	const char *p = clean(&tmp, s);
	for (; *p; p++) {
		switch (*p) {
		case '&':
			buf_adds(out, "&amp;");
			break;
		case '<':
			buf_adds(out, "&lt;");
			break;
		case '>':
			buf_adds(out, "&gt;");
			break;
		case '"':
			buf_adds(out, "&quot;");
			break;
		case '\'':
			buf_adds(out, "&#39;");
			break;
		default:
			/* Control characters are not allowed in HTML text: show a space. */
			if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
				buf_addc(out, ' ');
			else
				buf_addc(out, *p);
		}
	}
	buf_free(&tmp);
}

void
report_csv_field(struct buf *out, const char *s)
{
	/*
	 * RFC 4180 quoting only: values are written exactly (an address may start
	 * with = or +), so a spreadsheet user who fears formulas imports as text.
	 */
	struct buf tmp = BUF_INIT;
	const char *p = clean(&tmp, s);
	if (strpbrk(p, ",\"\r\n") == NULL) {
		buf_adds(out, p);
	} else {
		buf_addc(out, '"');
		for (; *p; p++) {
			if (*p == '"')
				buf_addc(out, '"');
			buf_addc(out, *p);
		}
		buf_addc(out, '"');
	}
	buf_free(&tmp);
}

/* jstr - s as a JSON string (valid UTF-8, see clean), or null */
static json_t *
jstr(const char *s)
{
	if (s == NULL)
		return json_null();
	struct buf tmp = BUF_INIT;
	const char *p = clean(&tmp, s);
	json_t *v = json_stringn(p, strlen(p));
	buf_free(&tmp);
	return v ? v : json_null();
}

/* jtime - a Unix time as an ISO 8601 string, or null for 0 */
static json_t *
jtime(int64_t t)
{
	char w[32];
	return t == 0 ? json_null() : json_string(when(w, t, true));
}

/* jpct - n / d as a percentage with two decimals; null when d is 0 (a share of nothing) */
static json_t *
jpct(int64_t n, int64_t d)
{
	return d > 0 ? json_real(pct2(n, d)) : json_null();
}

/* json_dump_to - append j (compact, reals as rounded) and a newline to out; frees j */
static void
json_dump_to(struct buf *out, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	buf_adds(out, s ? s : "null");
	buf_addc(out, '\n');
	free(s);
	json_decref(j);
}

/* --- text tables ----------------------------------------------------------------------------- */

#define TABLE_MAXCOLS 16
#define TABLE_CELL_WIDTH 48 /* longer cells are cut with an ellipsis (unless maxw says) */

struct table {
	int ncols;
	const char *align; /* 'l' or 'r' per column */
	size_t maxw;       /* the widest cell, 0: TABLE_CELL_WIDTH */
	char **cells;      /* rows × ncols, owned */
	size_t nrows, cap;
};

/* width - display width of UTF-8 s (one column per code point) */
static size_t
width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* cell - s made fit for a terminal cell: valid UTF-8, no controls, at most maxw wide */
static char *
cell(const char *s, size_t maxw)
{
	struct buf tmp = BUF_INIT, out = BUF_INIT;
	const char *p = clean(&tmp, s);
	size_t w = width(p), keep = w > maxw ? maxw - 1 : w, seen = 0;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c & 0xC0) != 0x80 && seen++ == keep)
			break;
		buf_addc(&out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	if (keep < w)
		buf_adds(&out, "\xe2\x80\xa6"); /* an ellipsis */
	buf_free(&tmp);
	if (out.data == NULL)
		return xstrdup("");
	return out.data;
}

static void
table_row(struct table *t, const char *const *v)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols * sizeof(char *));
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
		    cell(v[i] ? v[i] : "", t->maxw ? t->maxw : TABLE_CELL_WIDTH);
	t->nrows++;
}

/* table_print - every row, columns padded to their widest cell, two spaces apart */
static void
table_print(struct buf *out, struct table *t)
{
	size_t w[TABLE_MAXCOLS] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t cw = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
			if (cw > w[i])
				w[i] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		struct buf line = BUF_INIT;
		for (int i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * (size_t)t->ncols + (size_t)i];
			size_t pad = w[i] - width(c);
			if (i > 0)
				buf_adds(&line, "  ");
			if (t->align[i] == 'r')
				for (size_t k = 0; k < pad; k++)
					buf_addc(&line, ' ');
			buf_adds(&line, c);
			if (t->align[i] != 'r' && i < t->ncols - 1)
				for (size_t k = 0; k < pad; k++)
					buf_addc(&line, ' ');
		}
		while (line.len && line.data[line.len - 1] == ' ')
			line.len--;
		buf_add(out, line.data ? line.data : "", line.len);
		buf_addc(out, '\n');
		buf_free(&line);
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

static const char *
pctstr(char out[32], int64_t n, int64_t d)
{
	if (d <= 0)
		out[0] = '\0';
	else
		snprintf(out, 32, "%.1f%%", pct(n, d));
	return out;
}

/* --- the header: what was sent, to whom, from whom, when -------------------------------------- */

/* One line of the header: a label for people, a name for CSV, and the value both ways. */
struct hrow {
	const char *label, *name;
	char *text; /* for people (text, HTML); NULL: none, and the line is left out */
	char *raw;  /* for CSV: as stored, times in ISO 8601; NULL: empty */
};

#define HEADER_ROWS 17

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
dupf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.data ? b.data : xstrdup("");
}

static char *
dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* hrow_time - a time row: UTC for people, ISO 8601 for CSV; none for 0 (or none_text) */
static void
hrow_time(struct hrow *h, int64_t t, const char *none_text)
{
	char w[32];
	if (t == 0) {
		h->text = none_text ? xstrdup(none_text) : NULL;
		return;
	}
	h->text = dupf("%s UTC", when(w, t, false));
	h->raw = xstrdup(when(w, t, true));
}

/* header_rows - the header's lines into h (HEADER_ROWS of them); free with header_free */
static size_t
header_rows(const struct report *r, struct hrow *h)
{
	size_t n = 0;
	memset(h, 0, HEADER_ROWS * sizeof(*h));
#define ROW(l, k) (h[n] = (struct hrow){.label = (l), .name = (k)}, &h[n++])
	struct hrow *x = ROW("Campaign", "campaign");
	x->text = dup_or_null(r->campaign);
	x->raw = dup_or_null(r->campaign);
	x = ROW("State", "state");
	x->text = dup_or_null(r->state);
	x->raw = dup_or_null(r->state);
	x = ROW("Why", "state_reason");
	x->text = dup_or_null(r->state_reason);
	x->raw = dup_or_null(r->state_reason);
	x = ROW("Subject", "subject");
	x->text = dup_or_null(r->subject);
	x->raw = dup_or_null(r->subject);
	x = ROW("Template", "template");
	if (r->template_name) {
		x->text = dupf("%s, version %d", r->template_name, r->template_version);
		x->raw = xstrdup(x->text);
	}
	x = ROW("List", "list");
	x->text = dup_or_null(r->list);
	x->raw = dup_or_null(r->list);
	x = ROW("From", "from");
	x->text = dup_or_null(r->from);
	x->raw = dup_or_null(r->from);
	x = ROW("Reply-To", "reply_to");
	x->text = dup_or_null(r->reply_to);
	x->raw = dup_or_null(r->reply_to);
	x = ROW("Tracking", "tracking");
	x->text = xstrdup(r->track_opens && r->track_clicks ? "opens and clicks"
	                  : r->track_opens                  ? "opens"
	                  : r->track_clicks                 ? "clicks"
	                                                    : "none");
	x->raw = xstrdup(x->text);
	hrow_time(ROW("Scheduled", "scheduled_at"), r->scheduled_at, "not scheduled");
	x = ROW("Send window", "window");
	x->text = xstrdup(r->window ? r->window : "none (any time)");
	x->raw = dup_or_null(r->window);
	x = ROW("Zone", "zone");
	if (r->window || r->scheduled_at || r->tz)
		x->text = xstrdup(r->tz ? r->tz : "the sending machine's local time");
	x->raw = dup_or_null(r->tz);
	x = ROW("Own zone", "own_zone");
	if (r->window) {
		char a[32], b[32];
		x->text = dupf("%s of %s recipients: the window in their timezone",
		               num(a, r->own_zone), num(b, r->messages));
		x->raw = dupf("%" PRId64, r->own_zone);
	}
	hrow_time(ROW("Created", "created_at"), r->created_at, NULL);
	hrow_time(ROW("Started", "started_at"), r->started_at, "not yet");
	hrow_time(ROW("Finished", "finished_at"), r->finished_at, "not yet");
	hrow_time(ROW("Report of", "generated_at"), r->generated_at, NULL);
#undef ROW
	return n;
}

static void
header_free(struct hrow *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].text);
		free(h[i].raw);
	}
}

/* --- text ------------------------------------------------------------------------------------ */

static void
text_header(struct buf *out, const struct report *r)
{
	struct hrow h[HEADER_ROWS];
	size_t n = header_rows(r, h);
	struct table t = {.ncols = 2, .align = "ll", .maxw = 100};
	for (size_t i = 0; i < n; i++) {
		if (h[i].text == NULL)
			continue;
		const char *v[2] = {h[i].label, h[i].text};
		table_row(&t, v);
	}
	table_print(out, &t);
	header_free(h, n);
}

/* skip_note - the reasons of category c's messages ("unsubscribe 1, manual 2") into out */
static const char *
skip_note(struct buf *out, const struct report *r, enum report_cat c)
{
	char a[32];
	buf_reset(out);
	for (size_t i = 0; i < r->n_skip_reasons; i++) {
		const struct report_count *x = &r->skip_reasons[i];
		if (x->cat != c || (x->label && strcmp(x->label, cats[c].name) == 0))
			continue;
		buf_printf(out, "%s%s %s", out->len ? ", " : "", x->label ? x->label : "?",
		           num(a, x->n));
	}
	return out->data ? out->data : "";
}

/* trow - a row of up to 5 cells into t */
static void
trow(struct table *t, const char *a, const char *b, const char *c, const char *d, const char *e)
{
	const char *v[5] = {a, b, c, d, e};
	table_row(t, v);
}

static void
text_summary(struct buf *out, const struct report *r)
{
	char a[32], b[32], c[32], w1[96];
	int64_t all = r->messages, tried = report_attempted(r->n);
	struct buf note = BUF_INIT;
	/* label, number, % of all, % of attempted, note */
	struct table t = {.ncols = 5, .align = "lrrrl"};
	trow(&t, "Messages", num(a, all), "% of all", "% of attempted", "");
	for (int k = 0; k < REPORT_NCAT; k++) {
		snprintf(w1, sizeof(w1), "  %s", cats[k].label);
		trow(&t, w1, num(a, r->n[k]), pctstr(b, r->n[k], all),
		     cats[k].attempted ? pctstr(c, r->n[k], tried) : "",
		     skip_note(&note, r, (enum report_cat)k));
	}
	trow(&t, "Attempted", num(a, tried), pctstr(b, tried, all), "",
	     "delivered, bounced, failed or deferred");
	table_print(out, &t);
	buf_free(&note);
	buf_printf(out,
	           "(%% of all: of the campaign's %s messages, one per recipient; %% of "
	           "attempted: of the %s the sender has tried)\n\n",
	           num(a, all), num(b, tried));

	/* label, number, percentage, note */
	int64_t delivered = r->n[REPORT_DELIVERED];
	struct table e = {.ncols = 4, .align = "lrrl"};
	trow(&e, "Delivery attempts", num(a, r->attempts), "", "", NULL);
	trow(&e, "Complaints", num(a, r->complaints), pctstr(b, r->complaints, delivered),
	     "of delivered", NULL);
	trow(&e, "Unsubscribes", num(a, r->unsubscribes), pctstr(b, r->unsubscribes, delivered),
	     "of delivered", NULL);
	snprintf(w1, sizeof(w1), "%s opened, of delivered", num(c, r->opens_unique));
	trow(&e, "Opens, human", num(a, r->opens_human), pctstr(b, r->opens_unique, delivered), w1,
	     NULL);
	trow(&e, "Opens, machine", num(a, r->opens_machine), "",
	     "prefetchers, not counted as opened", NULL);
	snprintf(w1, sizeof(w1), "%s clicked, of delivered", num(c, r->clicks_unique));
	trow(&e, "Clicks", num(a, r->clicks), pctstr(b, r->clicks_unique, delivered), w1, NULL);
	if (delivered)
		trow(&e, "TLS", "", pctstr(b, r->tls_delivered, delivered), "of deliveries", NULL);
	if (r->first_delivery) {
		trow(&e, "First delivery", when(a, r->first_delivery, false), "", "UTC", NULL);
		trow(&e, "Last delivery", when(a, r->last_delivery, false), "", "UTC", NULL);
		trow(&e, "Duration", dur(a, duration(r)), "", "", NULL);
		snprintf(a, sizeof(a), "%.1f", avg_per_minute(r));
		trow(&e, "Per minute, average", a, "", "", NULL);
		snprintf(w1, sizeof(w1), "at %s", when(b, r->peak_minute, false));
		trow(&e, "Per minute, peak", num(a, r->peak_per_minute), "", w1, NULL);
	}
	table_print(out, &e);
}

/* text_links - clicks by link, most unique clicks first */
static void
text_links(struct buf *out, const struct report *r)
{
	char c[2][32];
	buf_adds(out, "\nClicks by link\n");
	if (r->n_links == 0) {
		buf_adds(out, "(no tracked links)\n");
		return;
	}
	struct table t = {.ncols = 3, .align = "rrl", .maxw = 100};
	const char *head[3] = {"unique", "clicks", "link"};
	table_row(&t, head);
	for (size_t i = 0; i < r->n_links; i++) {
		const struct report_link *l = &r->links[i];
		char unknown[48];
		snprintf(unknown, sizeof(unknown), "(link %d: not in the link table)", l->index);
		const char *v[3] = {num(c[0], l->unique), num(c[1], l->total),
		                    l->url ? l->url : unknown};
		table_row(&t, v);
	}
	table_print(out, &t);
}

/*
 * cat_heads - the headings of the categories from first on, from column k of a text table,
 * on two lines ("bounced" over "hard") in h1 and h2; words keeps the split names. Returns
 * the next column.
 */
static int
cat_heads(const char **h1, const char **h2, int k, char words[REPORT_NCAT][32])
{
	for (int x = REPORT_BOUNCED_HARD; x < REPORT_NCAT; x++, k++) {
		snprintf(words[x], 32, "%s", cats[x].label);
		char *sp = strchr(words[x], ' ');
		h1[k] = sp ? words[x] : "";
		h2[k] = sp ? sp + 1 : words[x];
		if (sp)
			*sp = '\0';
	}
	return k;
}

/* cat_cells - the counts of the categories after delivered as cells from column k (text
 * in c[k]); the next column */
static int
cat_cells(const char **v, char c[][32], int k, const int64_t n[REPORT_NCAT])
{
	for (int x = REPORT_BOUNCED_HARD; x < REPORT_NCAT; x++, k++)
		v[k] = num(c[k], n[x]);
	return k;
}

/*
 * tls_detail - how a destination's deliveries went, for its TLS column: the TLS versions,
 * whether the certificates were verified ("verified", "unverified", or the share
 * verified), and the policy its destination was made for (", MTA-STS" or ", DANE", from
 * the key: `|sts[:DOMAIN]` and `|dane[:DOMAIN]`); "none" when none went over TLS, "" when
 * none was delivered.
 */
/* made_for - whether key is a destination made for policy ("|sts": "...|sts:DOMAIN", a
 * domain's own, or "...|sts", shared by the domains without a TLS-RPT record) */
static bool
made_for(const char *key, const char *policy)
{
	size_t n = strlen(policy), k = strlen(key);
	const char *p = strstr(key, policy);
	return p && (p[n] == ':' || (k >= n && strcmp(key + k - n, policy) == 0));
}

static const char *
tls_detail(char out[96], const struct report_group *g)
{
	const char *policy = made_for(g->key, "|dane")  ? ", DANE"
	                     : made_for(g->key, "|sts") ? ", MTA-STS"
	                                                : "";
	char v[32];
	if (g->n[REPORT_DELIVERED] == 0)
		return "";
	if (g->tls == 0) {
		snprintf(out, 96, "none%s", policy);
		return out;
	}
	if (g->tls_verified == g->tls)
		snprintf(v, sizeof(v), "verified");
	else if (g->tls_verified == 0)
		snprintf(v, sizeof(v), "unverified");
	else
		snprintf(v, sizeof(v), "%.0f%% verified", pct(g->tls_verified, g->tls));
	snprintf(out, 96, "%s %s%s", g->tls_versions[0] ? g->tls_versions : "TLS", v, policy);
	return out;
}

/*
 * text_groups - a table of domains or destinations with every category; the headers take
 * two lines ("bounced" over "hard"), and destinations add TLS and the delay
 */
static void
text_groups(struct buf *out, const struct report_group *g, size_t n, const char *keyname,
            bool delays)
{
	char c[16][32], detail[96];
	int nc = 4 + (REPORT_NCAT - 1) + (delays ? 3 : 0);
	struct table t = {.ncols = nc, .align = "lrrrrrrrrrrrrrl"};
	const char *h1[16] = {"", "", "", "% of"},
	           *h2[16] = {keyname, "messages", "delivered", "attempted"};
	char split[REPORT_NCAT][32];
	int k = cat_heads(h1, h2, 4, split);
	if (delays) {
		h1[k] = "";
		h2[k++] = "tls";
		h1[k] = "avg";
		h2[k++] = "delay";
		h1[k] = "";
		h2[k++] = "tls detail";
	}
	if (n == 0) {
		buf_adds(out, "(no messages yet)\n");
		return;
	}
	table_row(&t, h1);
	table_row(&t, h2);
	for (size_t i = 0; i < n; i++) {
		const char *v[16];
		v[0] = g[i].key;
		v[1] = num(c[1], g[i].messages);
		v[2] = num(c[2], g[i].n[REPORT_DELIVERED]);
		v[3] = pctstr(c[3], g[i].n[REPORT_DELIVERED], report_attempted(g[i].n));
		k = cat_cells(v, c, 4, g[i].n);
		if (delays) {
			v[k] = pctstr(c[k], g[i].tls, g[i].n[REPORT_DELIVERED]);
			k++;
			v[k] = g[i].n[REPORT_DELIVERED] ? dur(c[k], (int64_t)(g[i].avg_delay + 0.5))
			                                : "";
			k++;
			v[k] = tls_detail(detail, &g[i]);
		}
		table_row(&t, v);
	}
	table_print(out, &t);
}

static void
text_reasons(struct buf *out, const struct report *r, size_t max)
{
	char c[3][32];
	struct table t = {.ncols = 6, .align = "llrlrl"};
	const char *head[6] = {"outcome", "reason", "count", "code", "%", "example"};
	table_row(&t, head);
	for (size_t i = 0; i < r->n_reasons && i < max; i++) {
		const struct report_reason *x = &r->reasons[i];
		char name[160];
		snprintf(name, sizeof(name), "%s%s%s", reason_name(x), x->cls ? " " : "",
		         x->cls ? x->cls : "");
		const char *v[6] = {x->outcome,
		                    name,
		                    num(c[0], x->count),
		                    reason_code(c[1], x),
		                    pctstr(c[2], x->count, r->attempts),
		                    x->example};
		table_row(&t, v);
	}
	table_print(out, &t);
}

static void
text_hours(struct buf *out, const struct report *r)
{
	char c[8][32];
	struct table t = {.ncols = 7, .align = "lrrrrrr"};
	const char *head[7] = {"hour (UTC)", "delivered", "deferred", "bounced",
	                       "failed",     "opens",     "clicks"};
	table_row(&t, head);
	for (size_t i = 0; i < r->n_hours; i++) {
		const struct report_bucket *h = &r->hours[i];
		when(c[0], h->t, false);
		c[0][16] = '\0';
		const char *v[7] = {c[0],
		                    num(c[1], h->delivered),
		                    num(c[2], h->deferred),
		                    num(c[3], h->bounced),
		                    num(c[4], h->failed),
		                    num(c[5], h->opens),
		                    num(c[6], h->clicks)};
		table_row(&t, v);
	}
	table_print(out, &t);
}

static void
render_text(struct buf *out, const struct report *r, enum report_by by)
{
	text_header(out, r);
	buf_addc(out, '\n');
	text_summary(out, r);
	if (by == REPORT_BY_SUMMARY)
		return;
	if (r->track_clicks || r->n_links || by == REPORT_BY_LINK)
		text_links(out, r);
	switch (by) {
	case REPORT_BY_DOMAIN:
		buf_adds(out, "\nBy recipient domain\n");
		text_groups(out, r->domains, r->n_domains, "domain", false);
		break;
	case REPORT_BY_DEST:
		buf_adds(out, "\nBy destination\n");
		text_groups(out, r->dests, r->n_dests, "destination", true);
		if (r->n_slowest) {
			buf_adds(out, "\nSlowest destinations (time from queueing to delivery)\n");
			text_groups(out, r->slowest, r->n_slowest, "destination", true);
		}
		for (size_t i = 0; i < r->n_throttled; i++) {
			const struct report_throttled *x = &r->throttled[i];
			if (i == 0)
				buf_adds(out, "\nBacked off by the throttle\n");
			buf_printf(out,
			           "  %s: %" PRId64 " slow-down%s, %" PRId64
			           " suspension%s; last %s: %s\n",
			           x->dest, x->slowdowns, x->slowdowns == 1 ? "" : "s",
			           x->suspensions, x->suspensions == 1 ? "" : "s", x->change,
			           x->note);
		}
		break;
	case REPORT_BY_REASON:
	case REPORT_BY_LINK:
	case REPORT_BY_SUMMARY:
		break;
	case REPORT_BY_HOUR:
		buf_adds(out, "\nBy hour\n");
		if (r->n_hours)
			text_hours(out, r);
		else
			buf_adds(out, "(no events yet)\n");
		break;
	}
	if (r->n_reasons) {
		buf_adds(out, by == REPORT_BY_REASON ? "\nFailures by reason\n"
		                                     : "\nFailures by reason (top 10)\n");
		text_reasons(out, r, by == REPORT_BY_REASON ? r->n_reasons : 10);
	} else if (by == REPORT_BY_REASON) {
		buf_adds(out, "\nNo failures.\n");
	}
}

/* --- CSV ------------------------------------------------------------------------------------- */

/* csv_pct - n / d as a percentage with two decimals, or "" when d is 0 */
static const char *
csv_pct(char out[32], int64_t n, int64_t d)
{
	if (d <= 0)
		out[0] = '\0';
	else
		snprintf(out, 32, "%.2f", pct(n, d));
	return out;
}

static void
csv_groups(struct buf *out, const struct report_group *g, size_t n, const char *keyname)
{
	char p[32];
	buf_printf(out, "%s,messages", keyname);
	for (int c = 0; c < REPORT_NCAT; c++)
		buf_printf(out, ",%s", cats[c].name);
	bool dests = strcmp(keyname, "destination") == 0;
	char detail[96];
	buf_adds(out, ",attempted,delivered_pct_of_attempted,deferrals,tls_delivered,avg_delay_s,"
	              "max_delay_s");
	buf_adds(out, dests ? ",tls_detail\r\n" : "\r\n");
	for (size_t i = 0; i < n; i++) {
		report_csv_field(out, g[i].key);
		buf_printf(out, ",%" PRId64, g[i].messages);
		for (int c = 0; c < REPORT_NCAT; c++)
			buf_printf(out, ",%" PRId64, g[i].n[c]);
		int64_t tried = report_attempted(g[i].n);
		buf_printf(out, ",%" PRId64 ",%s,%" PRId64 ",%" PRId64 ",%.1f,%" PRId64, tried,
		           csv_pct(p, g[i].n[REPORT_DELIVERED], tried), g[i].deferrals, g[i].tls,
		           g[i].avg_delay, g[i].max_delay);
		if (dests) {
			buf_adds(out, ",");
			report_csv_field(out, tls_detail(detail, &g[i]));
		}
		buf_adds(out, "\r\n");
	}
}

/* csv_pcts - the percentage columns of a summary row: empty where d is 0 or not asked */
static void
csv_pcts(struct buf *out, int64_t n, int64_t all, int64_t tried, int64_t delivered)
{
	const int64_t d[3] = {all, tried, delivered};
	char p[32];
	for (int i = 0; i < 3; i++) {
		buf_addc(out, ',');
		buf_adds(out, csv_pct(p, n, d[i]));
	}
	buf_adds(out, "\r\n");
}

/*
 * csv_summary - one row per line of the header and per figure: name, value, and its
 * percentages of all the messages, of the attempted and of the delivered where they apply
 */
static void
csv_summary(struct buf *out, const struct report *r)
{
	struct hrow h[HEADER_ROWS];
	size_t nh = header_rows(r, h);
	buf_adds(out, "name,value,pct_of_messages,pct_of_attempted,pct_of_delivered\r\n");
	for (size_t i = 0; i < nh; i++) {
		buf_adds(out, h[i].name);
		buf_addc(out, ',');
		report_csv_field(out, h[i].raw);
		buf_adds(out, ",,,\r\n");
	}
	header_free(h, nh);
	int64_t all = r->messages, tried = report_attempted(r->n), deliv = r->n[REPORT_DELIVERED];
	buf_printf(out, "messages,%" PRId64, all);
	csv_pcts(out, all, all, 0, 0);
	for (int c = 0; c < REPORT_NCAT; c++) {
		buf_printf(out, "%s,%" PRId64, cats[c].name, r->n[c]);
		csv_pcts(out, r->n[c], all, cats[c].attempted ? tried : 0, 0);
	}
	buf_printf(out, "attempted,%" PRId64, tried);
	csv_pcts(out, tried, all, 0, 0);
	for (size_t i = 0; i < r->n_skip_reasons; i++) {
		const struct report_count *x = &r->skip_reasons[i];
		if (x->label && strcmp(x->label, cats[x->cat].name) == 0)
			continue;
		struct buf key = BUF_INIT;
		buf_printf(&key, "%s.%s", cats[x->cat].name, x->label ? x->label : "?");
		report_csv_field(out, key.data);
		buf_free(&key);
		buf_printf(out, ",%" PRId64, x->n);
		csv_pcts(out, x->n, all, 0, 0);
	}
	const struct {
		const char *name;
		int64_t v;
		bool of_delivered;
	} rows[] = {
	    {"attempts", r->attempts, false},
	    {"complaints", r->complaints, true},
	    {"unsubscribes", r->unsubscribes, true},
	    {"opens_human", r->opens_human, false},
	    {"opens_machine", r->opens_machine, false},
	    {"opened", r->opens_unique, true},
	    {"clicks", r->clicks, false},
	    {"clicked", r->clicks_unique, true},
	    {"tls_delivered", r->tls_delivered, true},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_printf(out, "%s,%" PRId64, rows[i].name, rows[i].v);
		csv_pcts(out, rows[i].v, 0, 0, rows[i].of_delivered ? deliv : 0);
	}
	char w[32];
	buf_printf(out, "first_delivery,%s,,,\r\n",
	           r->first_delivery ? when(w, r->first_delivery, true) : "");
	buf_printf(out, "last_delivery,%s,,,\r\n",
	           r->last_delivery ? when(w, r->last_delivery, true) : "");
	buf_printf(out, "duration_s,%" PRId64 ",,,\r\n", duration(r));
	buf_printf(out, "per_minute_avg,%.1f,,,\r\n", avg_per_minute(r));
	buf_printf(out, "per_minute_peak,%" PRId64 ",,,\r\n", r->peak_per_minute);
}

/* csv_links - one row per tracked link, most unique clicks first */
static void
csv_links(struct buf *out, const struct report *r)
{
	buf_adds(out, "link,url,unique_clicks,total_clicks\r\n");
	for (size_t i = 0; i < r->n_links; i++) {
		const struct report_link *l = &r->links[i];
		buf_printf(out, "%d,", l->index);
		report_csv_field(out, l->url);
		buf_printf(out, ",%" PRId64 ",%" PRId64 "\r\n", l->unique, l->total);
	}
}

static void
render_csv(struct buf *out, const struct report *r, enum report_by by)
{
	char w[32];
	switch (by) {
	case REPORT_BY_DOMAIN:
		csv_groups(out, r->domains, r->n_domains, "domain");
		break;
	case REPORT_BY_DEST:
		csv_groups(out, r->dests, r->n_dests, "destination");
		break;
	case REPORT_BY_SUMMARY:
		csv_summary(out, r);
		break;
	case REPORT_BY_LINK:
		csv_links(out, r);
		break;
	case REPORT_BY_REASON:
		buf_adds(out, "outcome,class,reason,code,ecode,count,pct_of_attempts,example\r\n");
		for (size_t i = 0; i < r->n_reasons; i++) {
			const struct report_reason *x = &r->reasons[i];
			report_csv_field(out, x->outcome);
			buf_addc(out, ',');
			report_csv_field(out, x->cls);
			buf_addc(out, ',');
			report_csv_field(out, reason_name(x));
			buf_addc(out, ',');
			if (x->code)
				buf_printf(out, "%d", x->code);
			buf_addc(out, ',');
			report_csv_field(out, x->ecode);
			buf_printf(out, ",%" PRId64 ",%.1f,", x->count, pct(x->count, r->attempts));
			report_csv_field(out, x->example);
			buf_adds(out, "\r\n");
		}
		break;
	case REPORT_BY_HOUR:
		buf_adds(out, "hour,delivered,deferred,bounced,failed,opens,clicks\r\n");
		for (size_t i = 0; i < r->n_hours; i++) {
			const struct report_bucket *h = &r->hours[i];
			buf_printf(out,
			           "%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			           ",%" PRId64 "\r\n",
			           when(w, h->t, true), h->delivered, h->deferred, h->bounced,
			           h->failed, h->opens, h->clicks);
		}
		break;
	}
}

/* --- JSON ------------------------------------------------------------------------------------ */

/* json_counts - the categories as an object, in their order: {"delivered": n, ...} */
static json_t *
json_counts(const int64_t n[REPORT_NCAT])
{
	json_t *o = json_object();
	for (int c = 0; c < REPORT_NCAT; c++)
		json_object_set_new(o, cats[c].name, json_integer(n[c]));
	return o;
}

static json_t *
json_groups(const struct report_group *g, size_t n, bool dests)
{
	json_t *a = json_array();
	char detail[96];
	for (size_t i = 0; i < n; i++) {
		int64_t tried = report_attempted(g[i].n);
		json_t *o = json_pack(
		    "{s:o,s:b,s:I,s:o,s:I,s:o,s:I,s:I,s:o,s:I}", "key", jstr(g[i].key), "others",
		    g[i].others, "messages", (json_int_t)g[i].messages, "counts",
		    json_counts(g[i].n), "attempted", (json_int_t)tried,
		    "delivered_pct_of_attempted", jpct(g[i].n[REPORT_DELIVERED], tried),
		    "deferrals", (json_int_t)g[i].deferrals, "tls_delivered", (json_int_t)g[i].tls,
		    "avg_delay_s", json_real((double)(int64_t)(g[i].avg_delay * 10 + 0.5) / 10),
		    "max_delay_s", (json_int_t)g[i].max_delay);
		if (dests)
			json_object_set_new(o, "tls_detail",
			                    json_string(tls_detail(detail, &g[i])));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
json_buckets(const struct report_bucket *b, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    a, json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "t", jtime(b[i].t), "delivered",
		                 (json_int_t)b[i].delivered, "deferred", (json_int_t)b[i].deferred,
		                 "bounced", (json_int_t)b[i].bounced, "failed",
		                 (json_int_t)b[i].failed, "opens", (json_int_t)b[i].opens, "clicks",
		                 (json_int_t)b[i].clicks));
	return a;
}

/* json_campaign - the header: what was sent, to whom, from whom, when */
static json_t *
json_campaign(const struct report *r)
{
	json_t *tpl = r->template_name ? json_pack("{s:o,s:i}", "name", jstr(r->template_name),
	                                           "version", r->template_version)
	                               : json_null();
	json_t *sched = json_pack("{s:o,s:o,s:o,s:o}", "scheduled_at", jtime(r->scheduled_at),
	                          "window", jstr(r->window), "tz", jstr(r->tz), "own_zone",
	                          r->window ? json_integer(r->own_zone) : json_null());
	return json_pack("{s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:b,s:b},s:o,s:o,s:o,s:o}",
	                 "name", jstr(r->campaign), "id", (json_int_t)r->campaign_id, "state",
	                 jstr(r->state), "state_reason", jstr(r->state_reason), "subject",
	                 jstr(r->subject), "template", tpl, "list", jstr(r->list), "from",
	                 jstr(r->from), "reply_to", jstr(r->reply_to), "tracking", "opens",
	                 r->track_opens, "clicks", r->track_clicks, "schedule", sched, "created_at",
	                 jtime(r->created_at), "started_at", jtime(r->started_at), "finished_at",
	                 jtime(r->finished_at));
}

/* json_messages - the categories: counts, and percentages of all and of the attempted */
static json_t *
json_messages(const struct report *r)
{
	int64_t all = r->messages, tried = report_attempted(r->n);
	json_t *of_all = json_object(), *of_tried = json_object();
	for (int c = 0; c < REPORT_NCAT; c++) {
		json_object_set_new(of_all, cats[c].name, jpct(r->n[c], all));
		if (cats[c].attempted)
			json_object_set_new(of_tried, cats[c].name, jpct(r->n[c], tried));
	}
	json_t *not_sent = json_array();
	for (size_t i = 0; i < r->n_skip_reasons; i++) {
		const struct report_count *x = &r->skip_reasons[i];
		json_array_append_new(
		    not_sent, json_pack("{s:s,s:o,s:I}", "category", cats[x->cat].name, "reason",
		                        jstr(x->label), "count", (json_int_t)x->n));
	}
	return json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "total", (json_int_t)all, "attempted",
	                 (json_int_t)tried, "counts", json_counts(r->n), "pct_of_total", of_all,
	                 "pct_of_attempted", of_tried, "not_sent", not_sent);
}

static json_t *
json_summary(const struct report *r)
{
	int64_t d = r->n[REPORT_DELIVERED];
	json_t *o = json_pack(
	    "{s:I,s:I,s:I,s:{s:I,s:I,s:I},s:{s:I,s:I},s:I}", "attempts", (json_int_t)r->attempts,
	    "complaints", (json_int_t)r->complaints, "unsubscribes", (json_int_t)r->unsubscribes,
	    "opens", "human", (json_int_t)r->opens_human, "machine", (json_int_t)r->opens_machine,
	    "unique_human", (json_int_t)r->opens_unique, "clicks", "total", (json_int_t)r->clicks,
	    "unique", (json_int_t)r->clicks_unique, "tls_delivered", (json_int_t)r->tls_delivered);
	json_object_set_new(o, "rates_of_delivered",
	                    json_pack("{s:o,s:o,s:o,s:o,s:o}", "complaints", jpct(r->complaints, d),
	                              "unsubscribes", jpct(r->unsubscribes, d), "opens",
	                              jpct(r->opens_unique, d), "clicks", jpct(r->clicks_unique, d),
	                              "tls", jpct(r->tls_delivered, d)));
	json_object_set_new(o, "first_delivery", jtime(r->first_delivery));
	json_object_set_new(o, "last_delivery", jtime(r->last_delivery));
	json_object_set_new(o, "duration_s", json_integer(duration(r)));
	json_object_set_new(o, "per_minute_avg",
	                    json_real((double)(int64_t)(avg_per_minute(r) * 10 + 0.5) / 10));
	json_object_set_new(o, "per_minute_peak", json_integer(r->peak_per_minute));
	json_object_set_new(o, "peak_minute", jtime(r->peak_minute));
	return o;
}

static void
render_json(struct buf *out, const struct report *r)
{
	json_t *j = json_pack("{s:i,s:o,s:o,s:o,s:o}", "schema_version", REPORT_SCHEMA_VERSION,
	                      "generated_at", jtime(r->generated_at), "campaign", json_campaign(r),
	                      "messages", json_messages(r), "summary", json_summary(r));
	json_t *links = json_array();
	for (size_t i = 0; i < r->n_links; i++) {
		const struct report_link *l = &r->links[i];
		json_array_append_new(links, json_pack("{s:i,s:o,s:I,s:I}", "link", l->index, "url",
		                                       jstr(l->url), "unique_clicks",
		                                       (json_int_t)l->unique, "total_clicks",
		                                       (json_int_t)l->total));
	}
	json_object_set_new(j, "links", links);
	json_object_set_new(j, "domains", json_groups(r->domains, r->n_domains, false));
	json_object_set_new(j, "destinations", json_groups(r->dests, r->n_dests, true));
	json_object_set_new(j, "slowest_destinations", json_groups(r->slowest, r->n_slowest, true));
	json_t *thr = json_array();
	for (size_t i = 0; i < r->n_throttled; i++) {
		const struct report_throttled *x = &r->throttled[i];
		json_array_append_new(
		    thr,
		    json_pack("{s:o,s:I,s:I,s:f,s:i,s:o,s:o}", "destination", jstr(x->dest),
		              "slowdowns", (json_int_t)x->slowdowns, "suspensions",
		              (json_int_t)x->suspensions, "rate_now", x->rate, "connections_now",
		              x->conns, "last_change", jstr(x->change), "note", jstr(x->note)));
	}
	json_object_set_new(j, "throttled_destinations", thr);
	json_t *reasons = json_array();
	for (size_t i = 0; i < r->n_reasons; i++) {
		const struct report_reason *x = &r->reasons[i];
		json_array_append_new(
		    reasons, json_pack("{s:o,s:o,s:o,s:b,s:o,s:o,s:I,s:o}", "outcome",
		                       jstr(x->outcome), "class", jstr(x->cls), "reason",
		                       jstr(reason_name(x)), "classified", x->reason != NULL,
		                       "code", x->code ? json_integer(x->code) : json_null(),
		                       "ecode", jstr(x->ecode), "count", (json_int_t)x->count,
		                       "example", jstr(x->example)));
	}
	json_object_set_new(j, "reasons", reasons);
	json_object_set_new(j, "hours", json_buckets(r->hours, r->n_hours));
	json_object_set_new(j, "timeline",
	                    json_pack("{s:I,s:o}", "step_s", (json_int_t)r->timeline_step,
	                              "buckets", json_buckets(r->timeline, r->n_timeline)));
	json_dump_to(out, j);
}

/* --- HTML ------------------------------------------------------------------------------------ */

static const char html_css[] =
    ":root{--ok:#2e7d32;--def:#f9a825;--bnc:#c62828;--fail:#6d4c41;--ink:#1d2330;"
    "--mute:#5f6b7a;--line:#dde3ea;--bg:#f6f8fa}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--ink);background:var(--bg)}"
    "main{max-width:1100px;margin:0 auto;padding:16px}"
    "h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .5em}"
    ".sub{color:var(--mute);margin:0 0 1em}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}"
    ".card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}"
    ".card b{display:block;font-size:1.45em;font-variant-numeric:tabular-nums}"
    ".card span{color:var(--mute);font-size:.85em}"
    ".card.ok{border-top:4px solid var(--ok)}.card.def{border-top:4px solid var(--def)}"
    ".card.bnc{border-top:4px solid var(--bnc)}.card.fail{border-top:4px solid var(--fail)}"
    "section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;"
    "margin-top:14px}"
    "section h2{margin-top:0}"
    ".chart svg{display:block;width:100%;height:200px}"
    ".axis{display:flex;justify-content:space-between;color:var(--mute);font-size:.8em}"
    ".legend{display:flex;flex-wrap:wrap;gap:12px;font-size:.85em;margin:.4em 0}"
    ".legend i{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:4px;"
    "vertical-align:-1px}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:.9em}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;"
    "white-space:nowrap;font-variant-numeric:tabular-nums}"
    "th:first-child,td:first-child,td.l,th.l{text-align:left}"
    "td.ex{text-align:left;white-space:normal;min-width:16em;color:var(--mute);"
    "word-break:break-word}"
    "td.bar{width:40%;min-width:120px}td.bar svg{display:block;width:100%;height:14px}"
    "td.bar.narrow{width:12%;min-width:60px}"
    "tr.others td{font-style:italic}tr.total td{font-weight:600}"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 1em}"
    "dl.meta dt{color:var(--mute)}dl.meta dd{margin:0;overflow-wrap:anywhere}"
    "td.url{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:16em}"
    ".key{max-width:22em;overflow:hidden;text-overflow:ellipsis}"
    "footer{color:var(--mute);font-size:.8em;margin:1.5em 0}"
    "@media (max-width:600px){main{padding:8px}body{font-size:14px}"
    ".cards{grid-template-columns:repeat(2,1fr)}td.bar{min-width:80px}"
    ".chart svg{height:150px}}"
    "@media print{body{background:#fff;font-size:11pt}main{max-width:none;padding:0}"
    "section,.card{break-inside:avoid;border-color:#999}"
    ".scroll{overflow:visible}th,td{white-space:normal}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

static void
html_card(struct buf *out, const char *cls, const char *value, const char *label, const char *note)
{
	buf_printf(out, "<div class=\"card %s\"><b>", cls);
	report_html_escape(out, value);
	buf_adds(out, "</b><span>");
	report_html_escape(out, label);
	if (note && *note) {
		buf_adds(out, " · ");
		report_html_escape(out, note);
	}
	buf_adds(out, "</span></div>\n");
}

/*
 * html_bar - a horizontal stacked bar as an SVG whose rectangles are sized in
 * percent, so it scales to any width without stretching text (there is none).
 */
static void
html_bar(struct buf *out, const int64_t *v, const char *const *colors, int n, int64_t max)
{
	buf_adds(out, "<svg role=\"img\" aria-hidden=\"true\" preserveAspectRatio=\"none\">");
	double x = 0;
	for (int i = 0; i < n; i++) {
		if (v[i] <= 0 || max <= 0)
			continue;
		double w = 100.0 * (double)v[i] / (double)max;
		buf_printf(
		    out,
		    "<rect x=\"%.3f%%\" y=\"0\" width=\"%.3f%%\" height=\"100%%\" fill=\"%s\"/>", x,
		    w, colors[i]);
		x += w;
	}
	buf_adds(out, "</svg>");
}

static const char *const outcome_colors[] = {"#2e7d32", "#f9a825", "#c62828", "#6d4c41"};

static void
html_legend(struct buf *out)
{
	static const char *const names[] = {"delivered", "deferred", "bounced", "failed"};
	buf_adds(out, "<div class=\"legend\">");
	for (int i = 0; i < 4; i++)
		buf_printf(out, "<span><i style=\"background:%s\"></i>%s</span>", outcome_colors[i],
		           names[i]);
	buf_adds(out, "</div>\n");
}

static void
html_timeline(struct buf *out, const struct report *r)
{
	char w[32], w2[32], w3[32];
	buf_adds(out, "<section class=\"chart\"><h2>Delivery over time</h2>\n");
	if (r->n_timeline == 0) {
		buf_adds(out, "<p class=\"sub\">No delivery attempts yet.</p></section>\n");
		return;
	}
	int64_t max = 1;
	for (size_t i = 0; i < r->n_timeline; i++) {
		const struct report_bucket *b = &r->timeline[i];
		int64_t s = b->delivered + b->deferred + b->bounced + b->failed;
		if (s > max)
			max = s;
	}
	html_legend(out);
	/* A 1000 × 200 canvas stretched to the box: bars only, the labels are HTML below. */
	size_t n = r->n_timeline;
	double bw = 1000.0 / (double)n;
	buf_printf(out,
	           "<svg viewBox=\"0 0 1000 200\" preserveAspectRatio=\"none\" role=\"img\" "
	           "aria-label=\"Attempts per %s, stacked by outcome; highest %" PRId64 "\">",
	           dur(w, r->timeline_step), max);
	for (int k = 1; k <= 3; k++)
		buf_printf(out,
		           "<line x1=\"0\" x2=\"1000\" y1=\"%d\" y2=\"%d\" stroke=\"#dde3ea\" "
		           "stroke-width=\"1\" vector-effect=\"non-scaling-stroke\"/>",
		           200 - k * 50, 200 - k * 50);
	for (size_t i = 0; i < n; i++) {
		const struct report_bucket *b = &r->timeline[i];
		const int64_t v[4] = {b->delivered, b->deferred, b->bounced, b->failed};
		double y = 200.0;
		buf_printf(out,
		           "<g><title>%s UTC: %" PRId64 " delivered, %" PRId64 " deferred, %" PRId64
		           " bounced, %" PRId64 " failed</title>",
		           when(w, b->t, false), v[0], v[1], v[2], v[3]);
		for (int k = 0; k < 4; k++) {
			if (v[k] <= 0)
				continue;
			double h = 200.0 * (double)v[k] / (double)max;
			y -= h;
			buf_printf(out,
			           "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
			           "fill=\"%s\"/>",
			           (double)i * bw + bw * 0.1, y, bw * 0.8, h, outcome_colors[k]);
		}
		buf_adds(out, "</g>");
	}
	buf_adds(out, "</svg>\n");
	buf_printf(out,
	           "<div class=\"axis\"><span>%s</span><span>%s per bar, highest %" PRId64
	           "</span><span>%s UTC</span></div>\n",
	           when(w, r->timeline[0].t, false), dur(w2, r->timeline_step), max,
	           when(w3, r->timeline[n - 1].t + r->timeline_step, false));
	buf_adds(out, "</section>\n");
}

/* html_cat_heads - a heading per category, two-word ones on two lines so that a table of
 * every category stays narrow, and "% of attempted" after delivered */
static void
html_cat_heads(struct buf *out)
{
	for (int k = 0; k < REPORT_NCAT; k++) {
		const char *sp = strchr(cats[k].label, ' ');
		if (sp)
			buf_printf(out, "<th>%.*s<br>%s</th>", (int)(sp - cats[k].label),
			           cats[k].label, sp + 1);
		else
			buf_printf(out, "<th>%s</th>", cats[k].label);
		if (k == REPORT_DELIVERED)
			buf_adds(out, "<th>% of<br>attempted</th>");
	}
}

/* html_cat_cells - a cell per category, and the delivered's share of the attempted */
static void
html_cat_cells(struct buf *out, const int64_t n[REPORT_NCAT])
{
	char c[32];
	for (int k = 0; k < REPORT_NCAT; k++) {
		buf_printf(out, "<td>%s</td>", num(c, n[k]));
		if (k == REPORT_DELIVERED)
			buf_printf(out, "<td>%s</td>", pctstr(c, n[k], report_attempted(n)));
	}
}

static void
html_groups(struct buf *out, const char *title, const char *keyname, const struct report_group *g,
            size_t n, bool delays)
{
	char c[4][32];
	buf_adds(out, "<section><h2>");
	report_html_escape(out, title);
	buf_adds(out, "</h2>\n");
	if (n == 0) {
		buf_adds(out, "<p class=\"sub\">Nothing yet.</p></section>\n");
		return;
	}
	html_legend(out);
	int64_t max = 1;
	for (size_t i = 0; i < n; i++)
		if (g[i].messages > max)
			max = g[i].messages;
	buf_adds(out, "<div class=\"scroll\"><table><thead><tr><th>");
	report_html_escape(out, keyname);
	buf_adds(out, "</th><th class=\"l\">share</th><th>messages</th>");
	html_cat_heads(out);
	if (delays)
		buf_adds(out, "<th>TLS</th><th>avg<br>delay</th><th class=\"l\">TLS detail</th>");
	buf_adds(out, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		buf_adds(out, g[i].others ? "<tr class=\"others\"><td class=\"key\">"
		                          : "<tr><td class=\"key\">");
		report_html_escape(out, g[i].key);
		buf_adds(out, "</td><td class=\"bar narrow\">");
		const int64_t v[4] = {g[i].n[REPORT_DELIVERED], g[i].n[REPORT_DEFERRED],
		                      bounced(g[i].n), g[i].n[REPORT_FAILED]};
		html_bar(out, v, outcome_colors, 4, max);
		buf_printf(out, "</td><td>%s</td>", num(c[0], g[i].messages));
		html_cat_cells(out, g[i].n);
		if (delays)
			buf_printf(out, "<td>%s</td><td>%s</td>",
			           pctstr(c[2], g[i].tls, g[i].n[REPORT_DELIVERED]),
			           g[i].n[REPORT_DELIVERED]
			               ? dur(c[3], (int64_t)(g[i].avg_delay + 0.5))
			               : "");
		if (delays) {
			char detail[96];
			buf_adds(out, "<td class=\"l\">");
			report_html_escape(out, tls_detail(detail, &g[i]));
			buf_adds(out, "</td>");
		}
		buf_adds(out, "</tr>\n");
	}
	buf_adds(out, "</tbody></table></div></section>\n");
}

/* html_header - the campaign's header lines as a definition list */
static void
html_header(struct buf *out, const struct report *r)
{
	struct hrow h[HEADER_ROWS];
	size_t n = header_rows(r, h);
	buf_adds(out, "<dl class=\"meta\">\n");
	for (size_t i = 0; i < n; i++) {
		/* The title and the line under it say the name, the state and the time. */
		if (h[i].text == NULL || strcmp(h[i].name, "campaign") == 0 ||
		    strcmp(h[i].name, "state") == 0 || strcmp(h[i].name, "generated_at") == 0)
			continue;
		buf_printf(out, "<dt>%s</dt><dd>", h[i].label);
		report_html_escape(out, h[i].text);
		buf_adds(out, "</dd>\n");
	}
	buf_adds(out, "</dl>\n");
	header_free(h, n);
}

/* html_messages - every category: count, share of all, share of the attempted */
static void
html_messages(struct buf *out, const struct report *r)
{
	char a[32], b[32], c[32];
	struct buf note = BUF_INIT;
	int64_t all = r->messages, tried = report_attempted(r->n);
	buf_printf(out,
	           "<section><h2>Messages</h2>\n<p class=\"sub\">%% of all: of the campaign's %s "
	           "messages, one per recipient; %% of attempted: of the %s the sender has tried "
	           "(delivered, bounced, failed or deferred).</p>\n",
	           num(a, all), num(b, tried));
	buf_adds(out, "<div class=\"scroll\"><table><thead><tr><th>category</th><th>messages</th>"
	              "<th>% of all</th><th>% of attempted</th><th class=\"l\">why</th></tr>"
	              "</thead><tbody>\n");
	for (int k = 0; k < REPORT_NCAT; k++) {
		buf_printf(out,
		           "<tr><td class=\"key\">%s</td><td>%s</td><td>%s</td><td>%s</td>"
		           "<td class=\"l\">",
		           cats[k].label, num(a, r->n[k]), pctstr(b, r->n[k], all),
		           cats[k].attempted ? pctstr(c, r->n[k], tried) : "");
		report_html_escape(out, skip_note(&note, r, (enum report_cat)k));
		buf_adds(out, "</td></tr>\n");
	}
	buf_printf(out,
	           "<tr class=\"total\"><td class=\"key\">attempted</td><td>%s</td><td>%s</td>"
	           "<td></td><td class=\"l\"></td></tr>\n<tr class=\"total\"><td "
	           "class=\"key\">messages</td><td>%s</td><td>%s</td><td></td><td "
	           "class=\"l\"></td></tr>\n",
	           num(a, tried), pctstr(b, tried, all), num(c, all), all ? "100.0%" : "");
	buf_adds(out, "</tbody></table></div></section>\n");
	buf_free(&note);
}

/* html_links - clicks by link; the URLs are text, not links (the file loads nothing) */
static void
html_links(struct buf *out, const struct report *r)
{
	char a[32], b[32];
	buf_adds(out, "<section><h2>Clicks by link</h2>\n");
	if (r->n_links == 0) {
		buf_adds(out, "<p class=\"sub\">No tracked links.</p></section>\n");
		return;
	}
	buf_adds(out, "<div class=\"scroll\"><table><thead><tr><th>link</th><th>unique</th>"
	              "<th>clicks</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < r->n_links; i++) {
		const struct report_link *l = &r->links[i];
		buf_adds(out, "<tr><td class=\"url\">");
		if (l->url)
			report_html_escape(out, l->url);
		else
			buf_printf(out, "(link %d: not in the link table)", l->index);
		buf_printf(out, "</td><td>%s</td><td>%s</td></tr>\n", num(a, l->unique),
		           num(b, l->total));
	}
	buf_adds(out, "</tbody></table></div></section>\n");
}

static void
html_reasons(struct buf *out, const struct report *r)
{
	char c[2][32];
	buf_adds(out, "<section><h2>Failures by reason</h2>\n");
	if (r->n_reasons == 0) {
		buf_adds(out, "<p class=\"sub\">No failures.</p></section>\n");
		return;
	}
	int64_t max = 1;
	for (size_t i = 0; i < r->n_reasons; i++)
		if (r->reasons[i].count > max)
			max = r->reasons[i].count;
	buf_adds(out, "<div class=\"scroll\"><table><thead><tr><th>reason</th><th class=\"l\">"
	              "outcome</th><th>count</th><th class=\"l\">share</th><th>code</th><th "
	              "class=\"l\">example "
	              "reply</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < r->n_reasons; i++) {
		const struct report_reason *x = &r->reasons[i];
		int color = strcmp(x->outcome, "deferred") == 0  ? 1
		            : strcmp(x->outcome, "bounced") == 0 ? 2
		                                                 : 3;
		buf_adds(out, "<tr><td class=\"key\">");
		report_html_escape(out, reason_name(x));
		if (x->cls) {
			buf_adds(out, " (");
			report_html_escape(out, x->cls);
			buf_adds(out, ")");
		}
		buf_adds(out, "</td><td class=\"l\">");
		report_html_escape(out, x->outcome);
		buf_printf(out, "</td><td>%s</td><td class=\"bar\">", num(c[0], x->count));
		const int64_t v[1] = {x->count};
		const char *col[1] = {outcome_colors[color]};
		html_bar(out, v, col, 1, max);
		buf_adds(out, "</td><td>");
		report_html_escape(out, reason_code(c[1], x));
		buf_adds(out, "</td><td class=\"ex\">");
		report_html_escape(out, x->example);
		buf_adds(out, "</td></tr>\n");
	}
	buf_adds(out, "</tbody></table></div></section>\n");
}

static void
html_hours(struct buf *out, const struct report *r)
{
	char c[7][32];
	if (r->n_hours == 0)
		return;
	buf_adds(out, "<section><h2>By hour (UTC)</h2><div class=\"scroll\"><table><thead><tr>"
	              "<th>hour</th><th>delivered</th><th>deferred</th><th>bounced</th>"
	              "<th>failed</th><th>opens</th><th>clicks</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < r->n_hours; i++) {
		const struct report_bucket *h = &r->hours[i];
		when(c[0], h->t, false);
		c[0][16] = '\0';
		buf_printf(out,
		           "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
		           "<td>%s</td></tr>\n",
		           c[0], num(c[1], h->delivered), num(c[2], h->deferred),
		           num(c[3], h->bounced), num(c[4], h->failed), num(c[5], h->opens),
		           num(c[6], h->clicks));
	}
	buf_adds(out, "</tbody></table></div></section>\n");
}

static void
render_html(struct buf *out, const struct report *r)
{
	char a[32], b[32], w[64];
	int64_t delivered = r->n[REPORT_DELIVERED], tried = report_attempted(r->n);
	buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	              "<title>kirim report: ");
	report_html_escape(out, r->campaign);
	buf_printf(out, "</title><style>%s</style></head>\n<body><main>\n<h1>Campaign ", html_css);
	report_html_escape(out, r->campaign);
	buf_adds(out, "</h1>\n<p class=\"sub\">State ");
	report_html_escape(out, r->state ? r->state : "?");
	buf_printf(out, " · report of %s UTC", when(a, r->generated_at, false));
	if (r->first_delivery)
		buf_printf(out, " · delivered from %s to %s UTC (%s)",
		           when(a, r->first_delivery, false), when(b, r->last_delivery, false),
		           dur(w, duration(r)));
	buf_adds(out, "</p>\n");
	html_header(out, r);
	buf_adds(out, "<div class=\"cards\">\n");
	html_card(out, "", num(a, r->messages), "messages", "");
	html_card(out, "", num(a, tried), "attempted", pctstr(b, tried, r->messages));
	snprintf(w, sizeof(w), "%s of attempted", pctstr(b, delivered, tried));
	html_card(out, "ok", num(a, delivered), "delivered", tried ? w : "");
	html_card(out, "", num(a, r->complaints), "complaints",
	          pctstr(b, r->complaints, delivered));
	html_card(out, "", num(a, r->unsubscribes), "unsubscribes",
	          pctstr(b, r->unsubscribes, delivered));
	snprintf(w, sizeof(w), "opened (+%s machine opens)", num(b, r->opens_machine));
	html_card(out, "", num(a, r->opens_unique), w, pctstr(b, r->opens_unique, delivered));
	html_card(out, "", num(a, r->clicks_unique), "clicked",
	          pctstr(b, r->clicks_unique, delivered));
	html_card(out, "", pctstr(a, r->tls_delivered, delivered)[0] ? a : "–",
	          "delivered over TLS", "");
	if (avg_per_minute(r) >= 100)
		num(a, (int64_t)(avg_per_minute(r) + 0.5));
	else
		snprintf(a, sizeof(a), "%.1f", avg_per_minute(r));
	snprintf(w, sizeof(w), "per minute (peak %s)", num(b, r->peak_per_minute));
	html_card(out, "", a, w, "");
	html_card(out, "", num(a, r->attempts), "delivery attempts", "");
	buf_adds(out, "</div>\n");

	html_messages(out, r);
	html_timeline(out, r);
	if (r->track_clicks || r->n_links)
		html_links(out, r);
	html_groups(out, "By recipient domain", "domain", r->domains, r->n_domains, false);
	html_reasons(out, r);
	html_groups(out, "By destination", "destination", r->dests, r->n_dests, true);
	if (r->n_slowest)
		html_groups(out, "Slowest destinations (queueing to delivery)", "destination",
		            r->slowest, r->n_slowest, true);
	if (r->n_throttled) {
		buf_adds(out, "<section><h2>Backed off by the throttle</h2>\n<ul>\n");
		for (size_t i = 0; i < r->n_throttled; i++) {
			const struct report_throttled *x = &r->throttled[i];
			buf_adds(out, "<li><strong>");
			report_html_escape(out, x->dest);
			buf_printf(out,
			           "</strong>: %" PRId64 " slow-downs, %" PRId64
			           " suspensions; last ",
			           x->slowdowns, x->suspensions);
			report_html_escape(out, x->change);
			buf_adds(out, ": ");
			report_html_escape(out, x->note);
			buf_adds(out, "</li>\n");
		}
		buf_adds(out, "</ul></section>\n");
	}
	html_hours(out, r);
	buf_adds(out, "<footer>Made by kirim. Times are UTC. Shares of messages are of all the "
	              "campaign's messages and, for those tried, of the attempted; engagement "
	              "rates are of the delivered.</footer>\n</main></body></html>\n");
}

void
report_render(struct buf *out, const struct report *r, enum report_format f, enum report_by by)
{
	switch (f) {
	case REPORT_TEXT:
		render_text(out, r, by);
		break;
	case REPORT_CSV:
		render_csv(out, r, by);
		break;
	case REPORT_JSON:
		render_json(out, r);
		break;
	case REPORT_HTML:
		render_html(out, r);
		break;
	}
}

/* --- every campaign -------------------------------------------------------------------------- */

void
report_render_all(struct buf *out, const struct report_all *a, enum report_format f)
{
	char c[16][32];
	if (f == REPORT_JSON) {
		json_t *list = json_array();
		for (size_t i = 0; i < a->n; i++) {
			const struct report_campaign *x = &a->campaigns[i];
			int64_t tried = report_attempted(x->n);
			json_array_append_new(
			    list,
			    json_pack(
			        "{s:o,s:o,s:o,s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:I,s:o,s:o}", "name",
			        jstr(x->name), "state", jstr(x->state), "created_at",
			        jtime(x->created_at), "messages", (json_int_t)x->messages, "counts",
			        json_counts(x->n), "attempted", (json_int_t)tried,
			        "delivered_pct_of_attempted", jpct(x->n[REPORT_DELIVERED], tried),
			        "complaints", (json_int_t)x->complaints, "unsubscribes",
			        (json_int_t)x->unsubscribes, "opened", (json_int_t)x->opens_unique,
			        "clicked", (json_int_t)x->clicks_unique, "first_delivery",
			        jtime(x->first_delivery), "last_delivery",
			        jtime(x->last_delivery)));
		}
		json_dump_to(out,
		             json_pack("{s:i,s:o,s:o}", "schema_version", REPORT_SCHEMA_VERSION,
		                       "generated_at", jtime(a->generated_at), "campaigns", list));
		return;
	}
	if (f == REPORT_CSV) {
		buf_adds(out, "campaign,state,created_at,messages");
		for (int k = 0; k < REPORT_NCAT; k++)
			buf_printf(out, ",%s", cats[k].name);
		buf_adds(out,
		         ",attempted,delivered_pct_of_attempted,complaints,unsubscribes,opened,"
		         "clicked,first_delivery,last_delivery\r\n");
	} else if (f == REPORT_HTML) {
		buf_printf(out,
		           "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		           "<title>kirim campaigns</title><style>%s</style></head>\n<body><main>"
		           "<h1>Campaigns</h1><p class=\"sub\">Report of %s UTC</p><section>"
		           "<div class=\"scroll\"><table><thead><tr><th>campaign</th><th>state</th>"
		           "<th>created</th><th>messages</th>",
		           html_css, when(c[0], a->generated_at, false));
		html_cat_heads(out);
		buf_adds(out, "<th>complaints</th><th>unsubscribes</th><th>opened</th>"
		              "<th>clicked</th></tr></thead><tbody>\n");
	}
	/* Text: campaign, state, created, messages, delivered, % of attempted, the other
	 * categories, opened, clicked; headers on two lines as in the group tables. */
	struct table t = {.ncols = 16, .align = "lllrrrrrrrrrrrrr"};
	if (f == REPORT_TEXT && a->n > 0) {
		const char *h1[16] = {"", "", "", "", "", "% of"},
		           *h2[16] = {"campaign", "state",     "created",
		                      "messages", "delivered", "attempted"};
		char split[REPORT_NCAT][32];
		int k = cat_heads(h1, h2, 6, split);
		h1[k] = "";
		h2[k++] = "opened";
		h1[k] = "";
		h2[k] = "clicked";
		table_row(&t, h1);
		table_row(&t, h2);
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct report_campaign *x = &a->campaigns[i];
		int64_t tried = report_attempted(x->n);
		if (f == REPORT_CSV) {
			report_csv_field(out, x->name);
			buf_addc(out, ',');
			report_csv_field(out, x->state);
			buf_printf(out, ",%s,%" PRId64, when(c[0], x->created_at, true),
			           x->messages);
			for (int k = 0; k < REPORT_NCAT; k++)
				buf_printf(out, ",%" PRId64, x->n[k]);
			buf_printf(out,
			           ",%" PRId64 ",%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			           ",%s,%s\r\n",
			           tried, csv_pct(c[3], x->n[REPORT_DELIVERED], tried),
			           x->complaints, x->unsubscribes, x->opens_unique,
			           x->clicks_unique,
			           x->first_delivery ? when(c[1], x->first_delivery, true) : "",
			           x->last_delivery ? when(c[2], x->last_delivery, true) : "");
		} else if (f == REPORT_HTML) {
			buf_adds(out, "<tr><td class=\"key\">");
			report_html_escape(out, x->name);
			buf_adds(out, "</td><td>");
			report_html_escape(out, x->state);
			when(c[0], x->created_at, false);
			c[0][16] = '\0';
			buf_printf(out, "</td><td>%s</td><td>%s</td>", c[0],
			           num(c[1], x->messages));
			html_cat_cells(out, x->n);
			buf_printf(out, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			           num(c[1], x->complaints), num(c[2], x->unsubscribes),
			           num(c[3], x->opens_unique), num(c[4], x->clicks_unique));
		} else {
			when(c[2], x->created_at, false);
			c[2][16] = '\0';
			const char *v[16] = {x->name,
			                     x->state,
			                     c[2],
			                     num(c[3], x->messages),
			                     num(c[4], x->n[REPORT_DELIVERED]),
			                     pctstr(c[5], x->n[REPORT_DELIVERED], tried)};
			int k = cat_cells(v, c, 6, x->n);
			v[k] = num(c[k], x->opens_unique);
			k++;
			v[k] = num(c[k], x->clicks_unique);
			table_row(&t, v);
		}
	}
	if (f == REPORT_HTML)
		buf_adds(out, "</tbody></table></div></section><footer>Made by kirim. Times are "
		              "UTC.</footer></main></body></html>\n");
	else if (f == REPORT_TEXT) {
		if (a->n == 0)
			buf_adds(out, "No campaigns.\n");
		else
			table_print(out, &t);
	}
}

/* --- the attempt log ------------------------------------------------------------------------- */

void
report_attempt_csv_header(struct buf *out)
{
	buf_adds(out, "time,recipient,destination,mx_host,outcome,code,enhanced_code,reply,tls,"
	              "attempt,source,ehlo\r\n");
}

void
report_attempt_csv(struct buf *out, const struct report_attempt *a)
{
	char w[32];
	buf_adds(out, when(w, a->ts, true));
	buf_addc(out, ',');
	report_csv_field(out, a->recipient);
	buf_addc(out, ',');
	report_csv_field(out, a->dest);
	buf_addc(out, ',');
	report_csv_field(out, a->host);
	buf_addc(out, ',');
	report_csv_field(out, a->outcome);
	buf_addc(out, ',');
	if (a->code)
		buf_printf(out, "%d", a->code);
	buf_addc(out, ',');
	report_csv_field(out, a->ecode);
	buf_addc(out, ',');
	report_csv_field(out, a->text);
	buf_addc(out, ',');
	report_csv_field(out, a->tls);
	buf_printf(out, ",%d,", a->attempt);
	report_csv_field(out, a->source);
	buf_addc(out, ',');
	report_csv_field(out, a->helo);
	buf_adds(out, "\r\n");
}
