/*
 * report - render a filled struct report as text, CSV, JSON or HTML (see report.h).
 *
 * Pure: no I/O, no clock, no globals. Times are shown in UTC. Rates are
 * percentages of the messages meant to be sent (recipients less the
 * suppressed and skipped), engagement rates of those delivered.
 */
#include "kirim/report.h"

#include <inttypes.h>
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
	return -1;
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

static int64_t
to_send(const struct report *r)
{
	int64_t n = r->recipients - r->suppressed - r->skipped;
	return n > 0 ? n : 0;
}

static int64_t
bounced(const struct report *r)
{
	return r->bounced_hard + r->bounced_soft;
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
	if (r->delivered == 0 || r->first_delivery == 0)
		return 0;
	int64_t last = r->last_delivery > r->first_delivery ? r->last_delivery : r->first_delivery;
	int64_t minutes = last / 60 - r->first_delivery / 60 + 1;
	return (double)r->delivered / (double)minutes;
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

static void
json_str(struct buf *out, const char *s)
{
	if (s == NULL) {
		buf_adds(out, "null");
		return;
	}
	struct buf tmp = BUF_INIT;
	const char *p = clean(&tmp, s);
	buf_json_string(out, p, strlen(p));
	buf_free(&tmp);
}

static void
json_time(struct buf *out, int64_t t)
{
	char w[32];
	if (t == 0)
		buf_adds(out, "null");
	else
		buf_printf(out, "\"%s\"", when(w, t, true));
}

/* --- text tables ----------------------------------------------------------------------------- */

#define TABLE_MAXCOLS 12
#define TABLE_CELL_WIDTH 48 /* longer cells are cut with an ellipsis */

struct table {
	int ncols;
	const char *align; /* 'l' or 'r' per column */
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

/* cell - s made fit for a terminal cell: valid UTF-8, no controls, at most TABLE_CELL_WIDTH */
static char *
cell(const char *s)
{
	struct buf tmp = BUF_INIT, out = BUF_INIT;
	const char *p = clean(&tmp, s);
	size_t w = width(p), keep = w > TABLE_CELL_WIDTH ? TABLE_CELL_WIDTH - 1 : w, seen = 0;
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
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = cell(v[i] ? v[i] : "");
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

static void
text_summary(struct buf *out, const struct report *r)
{
	char a[32], b[32], c[32], w1[64];
	int64_t base = to_send(r);
	/* label, number, percentage, note */
	struct table t = {.ncols = 4, .align = "lrrl"};
#define ROW(label, n, p, note)                                                                     \
	do {                                                                                       \
		const char *v_[4] = {(label), (n), (p), (note)};                                   \
		table_row(&t, v_);                                                                 \
	} while (0)
	ROW("Recipients", num(a, r->recipients), "", "");
	ROW("  delivered", num(a, r->delivered), pctstr(b, r->delivered, base), "");
	ROW("  deferred now", num(a, r->deferred), pctstr(b, r->deferred, base), "");
	ROW("  bounced, hard", num(a, r->bounced_hard), pctstr(b, r->bounced_hard, base), "");
	ROW("  bounced, soft", num(a, r->bounced_soft), pctstr(b, r->bounced_soft, base), "");
	ROW("  failed", num(a, r->failed), pctstr(b, r->failed, base), "");
	ROW("  queued, not tried", num(a, r->queued), pctstr(b, r->queued, base), "");
	if (r->in_flight)
		ROW("  in flight", num(a, r->in_flight), "", "");
	struct buf why = BUF_INIT;
	for (size_t i = 0; i < r->n_skip_reasons; i++)
		buf_printf(&why, "%s%s %s", i ? ", " : "",
		           r->skip_reasons[i].label ? r->skip_reasons[i].label : "?",
		           num(c, r->skip_reasons[i].n));
	ROW("  suppressed", num(a, r->suppressed), "", why.data ? why.data : "");
	if (r->skipped)
		ROW("  skipped", num(a, r->skipped), "", "");
	buf_free(&why);
	ROW("Delivery attempts", num(a, r->attempts), "", "");
	ROW("Complaints", num(a, r->complaints), pctstr(b, r->complaints, r->delivered),
	    "of delivered");
	ROW("Unsubscribes", num(a, r->unsubscribes), pctstr(b, r->unsubscribes, r->delivered),
	    "of delivered");
	snprintf(w1, sizeof(w1), "%s opened", num(c, r->opens_unique));
	ROW("Opens, human", num(a, r->opens_human), pctstr(b, r->opens_unique, r->delivered), w1);
	ROW("Opens, machine", num(a, r->opens_machine), "", "prefetchers, not counted as opened");
	snprintf(w1, sizeof(w1), "%s clicked", num(c, r->clicks_unique));
	ROW("Clicks", num(a, r->clicks), pctstr(b, r->clicks_unique, r->delivered), w1);
	if (r->delivered)
		ROW("TLS", "", pctstr(b, r->tls_delivered, r->delivered), "of deliveries");
	if (r->first_delivery) {
		ROW("First delivery", when(a, r->first_delivery, false), "", "UTC");
		ROW("Last delivery", when(a, r->last_delivery, false), "", "UTC");
		ROW("Duration", dur(a, duration(r)), "", "");
		snprintf(a, sizeof(a), "%.1f", avg_per_minute(r));
		ROW("Per minute, average", a, "", "");
		snprintf(w1, sizeof(w1), "at %s", when(b, r->peak_minute, false));
		ROW("Per minute, peak", num(a, r->peak_per_minute), "", w1);
	}
#undef ROW
	table_print(out, &t);
}

static void
text_groups(struct buf *out, const struct report_group *g, size_t n, const char *keyname)
{
	char c[9][32];
	struct table t = {.ncols = 9, .align = "lrrrrrrrr"};
	const char *head[9] = {keyname,   "messages", "delivered", "%",        "deferred",
	                       "bounced", "failed",   "tls",       "avg delay"};
	table_row(&t, head);
	for (size_t i = 0; i < n; i++) {
		const char *v[9] = {g[i].key,
		                    num(c[1], g[i].messages),
		                    num(c[2], g[i].delivered),
		                    pctstr(c[3], g[i].delivered, g[i].messages - g[i].suppressed),
		                    num(c[4], g[i].deferred),
		                    num(c[5], g[i].bounced),
		                    num(c[6], g[i].failed),
		                    pctstr(c[7], g[i].tls, g[i].delivered),
		                    g[i].delivered ? dur(c[8], (int64_t)(g[i].avg_delay + 0.5))
		                                   : ""};
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
	char w[32];
	struct buf tmp = BUF_INIT;
	buf_printf(out, "Campaign %s (%s), report of %s UTC\n\n", clean(&tmp, r->campaign),
	           r->state ? r->state : "?", when(w, r->generated_at, false));
	buf_free(&tmp);
	text_summary(out, r);
	switch (by) {
	case REPORT_BY_DOMAIN:
		buf_adds(out, "\nBy recipient domain\n");
		text_groups(out, r->domains, r->n_domains, "domain");
		break;
	case REPORT_BY_DEST:
		buf_adds(out, "\nBy destination\n");
		text_groups(out, r->dests, r->n_dests, "destination");
		if (r->n_slowest) {
			buf_adds(out, "\nSlowest destinations (time from queueing to delivery)\n");
			text_groups(out, r->slowest, r->n_slowest, "destination");
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

static void
csv_groups(struct buf *out, const struct report_group *g, size_t n, const char *keyname)
{
	buf_printf(out,
	           "%s,messages,delivered,deferred,bounced,failed,pending,suppressed,"
	           "deferrals,tls_delivered,delivered_pct,avg_delay_s,max_delay_s\r\n",
	           keyname);
	for (size_t i = 0; i < n; i++) {
		report_csv_field(out, g[i].key);
		buf_printf(out,
		           ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
		           ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%.1f,%.1f,%" PRId64 "\r\n",
		           g[i].messages, g[i].delivered, g[i].deferred, g[i].bounced, g[i].failed,
		           g[i].pending, g[i].suppressed, g[i].deferrals, g[i].tls,
		           pct(g[i].delivered, g[i].messages - g[i].suppressed), g[i].avg_delay,
		           g[i].max_delay);
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

static void
json_groups(struct buf *out, const char *name, const struct report_group *g, size_t n)
{
	buf_printf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		buf_adds(out, i ? ",{\"key\":" : "{\"key\":");
		json_str(out, g[i].key);
		buf_printf(out,
		           ",\"others\":%s,\"messages\":%" PRId64 ",\"delivered\":%" PRId64
		           ",\"deferred\":%" PRId64 ",\"bounced\":%" PRId64 ",\"failed\":%" PRId64
		           ",\"pending\":%" PRId64 ",\"suppressed\":%" PRId64
		           ",\"deferrals\":%" PRId64 ",\"tls_delivered\":%" PRId64
		           ",\"avg_delay_s\":%.1f,\"max_delay_s\":%" PRId64 "}",
		           g[i].others ? "true" : "false", g[i].messages, g[i].delivered,
		           g[i].deferred, g[i].bounced, g[i].failed, g[i].pending, g[i].suppressed,
		           g[i].deferrals, g[i].tls, g[i].avg_delay, g[i].max_delay);
	}
	buf_addc(out, ']');
}

static void
json_buckets(struct buf *out, const struct report_bucket *b, size_t n)
{
	buf_addc(out, '[');
	for (size_t i = 0; i < n; i++) {
		buf_adds(out, i ? ",{\"t\":" : "{\"t\":");
		json_time(out, b[i].t);
		buf_printf(out,
		           ",\"delivered\":%" PRId64 ",\"deferred\":%" PRId64
		           ",\"bounced\":%" PRId64 ",\"failed\":%" PRId64 ",\"opens\":%" PRId64
		           ",\"clicks\":%" PRId64 "}",
		           b[i].delivered, b[i].deferred, b[i].bounced, b[i].failed, b[i].opens,
		           b[i].clicks);
	}
	buf_addc(out, ']');
}

static void
render_json(struct buf *out, const struct report *r)
{
	int64_t base = to_send(r);
	buf_printf(out, "{\"schema_version\":%d,\"generated_at\":", REPORT_SCHEMA_VERSION);
	json_time(out, r->generated_at);
	buf_adds(out, ",\"campaign\":{\"name\":");
	json_str(out, r->campaign);
	buf_printf(out, ",\"id\":%" PRId64 ",\"state\":", r->campaign_id);
	json_str(out, r->state);
	buf_adds(out, ",\"created_at\":");
	json_time(out, r->created_at);
	buf_printf(out,
	           "},\"summary\":{\"recipients\":%" PRId64 ",\"to_send\":%" PRId64
	           ",\"delivered\":%" PRId64 ",\"deferred\":%" PRId64 ",\"bounced\":%" PRId64
	           ",\"bounced_hard\":%" PRId64 ",\"bounced_soft\":%" PRId64 ",\"failed\":%" PRId64
	           ",\"queued\":%" PRId64 ",\"in_flight\":%" PRId64 ",\"suppressed\":%" PRId64
	           ",\"skipped\":%" PRId64 ",\"attempts\":%" PRId64 ",\"complaints\":%" PRId64
	           ",\"unsubscribes\":%" PRId64 ",\"opens\":{\"human\":%" PRId64
	           ",\"machine\":%" PRId64 ",\"unique_human\":%" PRId64
	           "},\"clicks\":{\"total\":%" PRId64 ",\"unique\":%" PRId64
	           "},\"tls_delivered\":%" PRId64,
	           r->recipients, base, r->delivered, r->deferred, bounced(r), r->bounced_hard,
	           r->bounced_soft, r->failed, r->queued, r->in_flight, r->suppressed, r->skipped,
	           r->attempts, r->complaints, r->unsubscribes, r->opens_human, r->opens_machine,
	           r->opens_unique, r->clicks, r->clicks_unique, r->tls_delivered);
	buf_printf(out,
	           ",\"rates\":{\"delivered\":%.2f,\"deferred\":%.2f,\"bounced\":%.2f,"
	           "\"failed\":%.2f,\"complaints\":%.2f,\"unsubscribes\":%.2f,\"opens\":%.2f,"
	           "\"clicks\":%.2f,\"tls\":%.2f}",
	           pct(r->delivered, base), pct(r->deferred, base), pct(bounced(r), base),
	           pct(r->failed, base), pct(r->complaints, r->delivered),
	           pct(r->unsubscribes, r->delivered), pct(r->opens_unique, r->delivered),
	           pct(r->clicks_unique, r->delivered), pct(r->tls_delivered, r->delivered));
	buf_adds(out, ",\"first_delivery\":");
	json_time(out, r->first_delivery);
	buf_adds(out, ",\"last_delivery\":");
	json_time(out, r->last_delivery);
	buf_printf(out,
	           ",\"duration_s\":%" PRId64
	           ",\"per_minute_avg\":%.1f,\"per_minute_peak\":%" PRId64 ",\"peak_minute\":",
	           duration(r), avg_per_minute(r), r->peak_per_minute);
	json_time(out, r->peak_minute);
	buf_adds(out, "},\"not_sent\":[");
	for (size_t i = 0; i < r->n_skip_reasons; i++) {
		buf_adds(out, i ? ",{\"reason\":" : "{\"reason\":");
		json_str(out, r->skip_reasons[i].label);
		buf_printf(out, ",\"count\":%" PRId64 "}", r->skip_reasons[i].n);
	}
	buf_addc(out, ']');
	json_groups(out, "domains", r->domains, r->n_domains);
	json_groups(out, "destinations", r->dests, r->n_dests);
	json_groups(out, "slowest_destinations", r->slowest, r->n_slowest);
	buf_adds(out, ",\"throttled_destinations\":[");
	for (size_t i = 0; i < r->n_throttled; i++) {
		const struct report_throttled *x = &r->throttled[i];
		buf_adds(out, i ? ",{\"destination\":" : "{\"destination\":");
		json_str(out, x->dest);
		buf_printf(out,
		           ",\"slowdowns\":%" PRId64 ",\"suspensions\":%" PRId64
		           ",\"rate_now\":%.3f,\"connections_now\":%d,\"last_change\":",
		           x->slowdowns, x->suspensions, x->rate, x->conns);
		json_str(out, x->change);
		buf_adds(out, ",\"note\":");
		json_str(out, x->note);
		buf_addc(out, '}');
	}
	buf_addc(out, ']');
	buf_adds(out, ",\"reasons\":[");
	for (size_t i = 0; i < r->n_reasons; i++) {
		const struct report_reason *x = &r->reasons[i];
		buf_adds(out, i ? ",{\"outcome\":" : "{\"outcome\":");
		json_str(out, x->outcome);
		buf_adds(out, ",\"class\":");
		json_str(out, x->cls);
		buf_adds(out, ",\"reason\":");
		json_str(out, reason_name(x));
		buf_adds(out, ",\"classified\":");
		buf_adds(out, x->reason ? "true" : "false");
		buf_adds(out, ",\"code\":");
		if (x->code)
			buf_printf(out, "%d", x->code);
		else
			buf_adds(out, "null");
		buf_adds(out, ",\"ecode\":");
		json_str(out, x->ecode);
		buf_printf(out, ",\"count\":%" PRId64 ",\"example\":", x->count);
		json_str(out, x->example);
		buf_addc(out, '}');
	}
	buf_adds(out, "],\"hours\":");
	json_buckets(out, r->hours, r->n_hours);
	buf_printf(out, ",\"timeline\":{\"step_s\":%" PRId64 ",\"buckets\":", r->timeline_step);
	json_buckets(out, r->timeline, r->n_timeline);
	buf_adds(out, "}}\n");
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
    "tr.others td{font-style:italic}"
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

static void
html_groups(struct buf *out, const char *title, const char *keyname, const struct report_group *g,
            size_t n)
{
	char c[8][32];
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
	buf_adds(out, "</th><th class=\"l\">share</th><th>messages</th><th>delivered</th>"
	              "<th>%</th><th>deferred</th><th>bounced</th><th>failed</th><th>TLS</th>"
	              "<th>avg delay</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		buf_adds(out, g[i].others ? "<tr class=\"others\"><td class=\"key\">"
		                          : "<tr><td class=\"key\">");
		report_html_escape(out, g[i].key);
		buf_adds(out, "</td><td class=\"bar\">");
		const int64_t v[4] = {g[i].delivered, g[i].deferred, g[i].bounced, g[i].failed};
		html_bar(out, v, outcome_colors, 4, max);
		buf_printf(out,
		           "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
		           "<td>%s</td><td>%s</td></tr>\n",
		           num(c[0], g[i].messages), num(c[1], g[i].delivered),
		           pctstr(c[2], g[i].delivered, g[i].messages - g[i].suppressed),
		           num(c[3], g[i].deferred), num(c[4], g[i].bounced),
		           num(c[5], g[i].failed), pctstr(c[6], g[i].tls, g[i].delivered),
		           g[i].delivered ? dur(c[7], (int64_t)(g[i].avg_delay + 0.5)) : "");
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
	int64_t base = to_send(r);
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
	buf_adds(out, "</p>\n<div class=\"cards\">\n");

	html_card(out, "", num(a, r->recipients), "recipients", "");
	html_card(out, "ok", num(a, r->delivered), "delivered", pctstr(b, r->delivered, base));
	html_card(out, "def", num(a, r->deferred), "deferred now", pctstr(b, r->deferred, base));
	snprintf(w, sizeof(w), "bounced (%s hard)", num(b, r->bounced_hard));
	html_card(out, "bnc", num(a, bounced(r)), w, pctstr(b, bounced(r), base));
	html_card(out, "fail", num(a, r->failed), "failed", pctstr(b, r->failed, base));
	html_card(out, "", num(a, r->queued + r->in_flight), "not tried yet", "");
	html_card(out, "", num(a, r->suppressed + r->skipped), "suppressed or skipped", "");
	html_card(out, "", num(a, r->complaints), "complaints",
	          pctstr(b, r->complaints, r->delivered));
	html_card(out, "", num(a, r->unsubscribes), "unsubscribes",
	          pctstr(b, r->unsubscribes, r->delivered));
	snprintf(w, sizeof(w), "opened (+%s machine opens)", num(b, r->opens_machine));
	html_card(out, "", num(a, r->opens_unique), w, pctstr(b, r->opens_unique, r->delivered));
	html_card(out, "", num(a, r->clicks_unique), "clicked",
	          pctstr(b, r->clicks_unique, r->delivered));
	html_card(out, "", pctstr(a, r->tls_delivered, r->delivered)[0] ? a : "–",
	          "delivered over TLS", "");
	if (avg_per_minute(r) >= 100)
		num(a, (int64_t)(avg_per_minute(r) + 0.5));
	else
		snprintf(a, sizeof(a), "%.1f", avg_per_minute(r));
	snprintf(w, sizeof(w), "per minute (peak %s)", num(b, r->peak_per_minute));
	html_card(out, "", a, w, "");
	html_card(out, "", num(a, r->attempts), "delivery attempts", "");
	buf_adds(out, "</div>\n");
	if (r->n_skip_reasons) {
		buf_adds(out, "<p class=\"sub\">Not sent: ");
		for (size_t i = 0; i < r->n_skip_reasons; i++) {
			if (i)
				buf_adds(out, ", ");
			report_html_escape(out, r->skip_reasons[i].label);
			buf_printf(out, " %s", num(a, r->skip_reasons[i].n));
		}
		buf_adds(out, "</p>\n");
	}

	html_timeline(out, r);
	html_groups(out, "By recipient domain", "domain", r->domains, r->n_domains);
	html_reasons(out, r);
	html_groups(out, "By destination", "destination", r->dests, r->n_dests);
	if (r->n_slowest)
		html_groups(out, "Slowest destinations (queueing to delivery)", "destination",
		            r->slowest, r->n_slowest);
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
	buf_adds(out, "<footer>Made by kirim. Times are UTC. Rates are of the messages meant to "
	              "be sent; engagement rates of those delivered.</footer>\n</main></body>"
	              "</html>\n");
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
	char c[12][32];
	if (f == REPORT_JSON) {
		buf_printf(out, "{\"schema_version\":%d,\"generated_at\":", REPORT_SCHEMA_VERSION);
		json_time(out, a->generated_at);
		buf_adds(out, ",\"campaigns\":[");
	} else if (f == REPORT_CSV) {
		buf_adds(out,
		         "campaign,state,created_at,recipients,delivered,deferred,bounced,failed,"
		         "suppressed,pending,complaints,unsubscribes,opened,clicked,"
		         "first_delivery,last_delivery\r\n");
	} else if (f == REPORT_HTML) {
		buf_printf(
		    out,
		    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		    "<title>kirim campaigns</title><style>%s</style></head>\n<body><main>"
		    "<h1>Campaigns</h1><p class=\"sub\">Report of %s UTC</p><section>"
		    "<div class=\"scroll\"><table><thead><tr><th>campaign</th><th>state</th>"
		    "<th>created</th><th>recipients</th><th>delivered</th><th>%%</th>"
		    "<th>deferred</th><th>bounced</th><th>failed</th><th>complaints</th>"
		    "<th>unsubscribes</th><th>opened</th><th>clicked</th></tr></thead><tbody>\n",
		    html_css, when(c[0], a->generated_at, false));
	}
	struct table t = {.ncols = 12, .align = "lllrrrrrrrrr"};
	if (f == REPORT_TEXT) {
		const char *head[12] = {"campaign",  "state",      "created",  "recipients",
		                        "delivered", "%",          "deferred", "bounced",
		                        "failed",    "complaints", "unsubs",   "opened"};
		table_row(&t, head);
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct report_campaign *x = &a->campaigns[i];
		int64_t base = x->recipients - x->suppressed;
		if (f == REPORT_JSON) {
			buf_adds(out, i ? ",{\"name\":" : "{\"name\":");
			json_str(out, x->name);
			buf_adds(out, ",\"state\":");
			json_str(out, x->state);
			buf_adds(out, ",\"created_at\":");
			json_time(out, x->created_at);
			buf_printf(out,
			           ",\"recipients\":%" PRId64 ",\"delivered\":%" PRId64
			           ",\"deferred\":%" PRId64 ",\"bounced\":%" PRId64
			           ",\"failed\":%" PRId64 ",\"suppressed\":%" PRId64
			           ",\"pending\":%" PRId64 ",\"complaints\":%" PRId64
			           ",\"unsubscribes\":%" PRId64 ",\"opened\":%" PRId64
			           ",\"clicked\":%" PRId64
			           ",\"delivered_pct\":%.2f,\"first_delivery\":",
			           x->recipients, x->delivered, x->deferred, x->bounced, x->failed,
			           x->suppressed, x->pending, x->complaints, x->unsubscribes,
			           x->opens_unique, x->clicks_unique, pct(x->delivered, base));
			json_time(out, x->first_delivery);
			buf_adds(out, ",\"last_delivery\":");
			json_time(out, x->last_delivery);
			buf_addc(out, '}');
		} else if (f == REPORT_CSV) {
			report_csv_field(out, x->name);
			buf_addc(out, ',');
			report_csv_field(out, x->state);
			buf_printf(out,
			           ",%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			           ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			           ",%" PRId64 ",%s,%s\r\n",
			           when(c[0], x->created_at, true), x->recipients, x->delivered,
			           x->deferred, x->bounced, x->failed, x->suppressed, x->pending,
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
			buf_printf(
			    out,
			    "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
			    "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
			    "</tr>\n",
			    c[0], num(c[1], x->recipients), num(c[2], x->delivered),
			    pctstr(c[3], x->delivered, base), num(c[4], x->deferred),
			    num(c[5], x->bounced), num(c[6], x->failed), num(c[7], x->complaints),
			    num(c[8], x->unsubscribes), num(c[9], x->opens_unique),
			    num(c[10], x->clicks_unique));
		} else {
			when(c[2], x->created_at, false);
			c[2][16] = '\0';
			const char *v[12] = {x->name,
			                     x->state,
			                     c[2],
			                     num(c[3], x->recipients),
			                     num(c[4], x->delivered),
			                     pctstr(c[5], x->delivered, base),
			                     num(c[6], x->deferred),
			                     num(c[7], x->bounced),
			                     num(c[8], x->failed),
			                     num(c[9], x->complaints),
			                     num(c[10], x->unsubscribes),
			                     num(c[11], x->opens_unique)};
			table_row(&t, v);
		}
	}
	if (f == REPORT_JSON)
		buf_adds(out, "]}\n");
	else if (f == REPORT_HTML)
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
	              "attempt\r\n");
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
	buf_printf(out, ",%d\r\n", a->attempt);
}
