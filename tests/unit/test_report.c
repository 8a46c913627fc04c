/* test_report - rendering of a hand-filled report in every format, escaping first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/report.h"
#include "kirim/xmalloc.h"

/* A campaign with hostile strings everywhere a person or a server could put them. */
static void
fill(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->campaign = xstrdup("<b>\"Spring\" & 'sale'</b>");
	r->state = xstrdup("done");
	r->campaign_id = 7;
	r->created_at = 1700000000;
	r->generated_at = 1700003600;
	r->recipients = 1000;
	r->delivered = 900;
	r->deferred = 20;
	r->bounced_hard = 40;
	r->bounced_soft = 5;
	r->failed = 5;
	r->queued = 10;
	r->suppressed = 20;
	r->attempts = 1010;
	r->tls_delivered = 450;
	r->complaints = 2;
	r->unsubscribes = 9;
	r->opens_human = 500;
	r->opens_machine = 120;
	r->opens_unique = 400;
	r->clicks = 80;
	r->clicks_unique = 60;
	r->first_delivery = 1700000060;
	r->last_delivery = 1700001860; /* 30 minutes */
	r->peak_minute = 1700000120;
	r->peak_per_minute = 77;
	r->n_skip_reasons = 1;
	r->skip_reasons = xcalloc(1, sizeof(*r->skip_reasons));
	r->skip_reasons[0].label = xstrdup("unsubscribe");
	r->skip_reasons[0].n = 20;
	r->n_domains = 2;
	r->domains = xcalloc(2, sizeof(*r->domains));
	r->domains[0] = (struct report_group){.key = xstrdup("gmail.com"),
	                                      .messages = 600,
	                                      .delivered = 590,
	                                      .bounced = 10,
	                                      .tls = 590,
	                                      .avg_delay = 65,
	                                      .max_delay = 300};
	r->domains[1] = (struct report_group){.key = xstrdup("we,ird\"<x>.example"),
	                                      .others = true,
	                                      .messages = 400,
	                                      .delivered = 310};
	r->n_dests = 1;
	r->dests = xcalloc(1, sizeof(*r->dests));
	r->dests[0] = (struct report_group){
	    .key = xstrdup("relay:127.0.0.1:2525"), .messages = 1000, .delivered = 900};
	r->n_reasons = 2;
	r->reasons = xcalloc(2, sizeof(*r->reasons));
	r->reasons[0] = (struct report_reason){
	    .outcome = xstrdup("bounced"),
	    .cls = xstrdup("hard"),
	    .reason = xstrdup("user_unknown"),
	    .ecode = xstrdup("5.1.1"),
	    .code = 550,
	    .count = 40,
	    .example = xstrdup("<script>alert(1)</script> user \"x\" unknown,\r\nbye \xe9t\xe9")};
	r->reasons[1] = (struct report_reason){.outcome = xstrdup("deferred"), .count = 20};
	r->n_hours = 1;
	r->hours = xcalloc(1, sizeof(*r->hours));
	r->hours[0] = (struct report_bucket){.t = 1699999200,
	                                     .delivered = 900,
	                                     .deferred = 20,
	                                     .bounced = 45,
	                                     .opens = 500,
	                                     .clicks = 80};
	r->n_timeline = 2;
	r->timeline_step = 900;
	r->timeline = xcalloc(2, sizeof(*r->timeline));
	r->timeline[0] = (struct report_bucket){.t = 1699999200, .delivered = 500, .bounced = 45};
	r->timeline[1] = (struct report_bucket){.t = 1700000100, .delivered = 400, .deferred = 20};
}

static char *
render(enum report_format f, enum report_by by)
{
	struct report r;
	fill(&r);
	struct buf b = BUF_INIT;
	report_render(&b, &r, f, by);
	report_free(&r);
	return b.data ? b.data : xstrdup("");
}

struct render_case {
	const char *label;
	enum report_format f;
	enum report_by by;
	const char *want;   /* must appear */
	const char *unwant; /* must not appear (NULL: no check) */
};

static const struct render_case render_cases[] = {
    {"text title", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Campaign <b>\"Spring\" & 'sale'</b> (done), report of 2023-11-14 23:13:20 UTC", NULL},
    {"text delivered % of those to send", REPORT_TEXT, REPORT_BY_DOMAIN,
     "  delivered                          900  91.8%\n", NULL},
    {"text opens apart", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Opens, machine                       120         prefetchers", NULL},
    {"text numbers right-aligned in the domain table", REPORT_TEXT, REPORT_BY_DOMAIN,
     "gmail.com                600        590  98.3%         0       10       0  100.0%     1m "
     "05s\n",
     NULL},
    {"text duration", REPORT_TEXT, REPORT_BY_DOMAIN, "Duration                         30m 00s\n",
     NULL},
    {"text latin-1 example made UTF-8, no CR", REPORT_TEXT, REPORT_BY_REASON,
     "4.0%  <script>alert(1)</script> user \"x\" unknown,  by\xe2\x80\xa6\n", "\r"},
    {"text unclassified", REPORT_TEXT, REPORT_BY_REASON,
     "deferred  unclassified          20             2.0%\n", NULL},
    {"text hours", REPORT_TEXT, REPORT_BY_HOUR,
     "2023-11-14 22:00        900        20       45       0    500      80\n", NULL},
    {"csv domain header", REPORT_CSV, REPORT_BY_DOMAIN,
     "domain,messages,delivered,deferred,bounced,failed,pending,suppressed,deferrals,"
     "tls_delivered,delivered_pct,avg_delay_s,max_delay_s\r\n",
     NULL},
    {"csv quoted key", REPORT_CSV, REPORT_BY_DOMAIN, "\"we,ird\"\"<x>.example\",400,310,", NULL},
    {"csv gmail row", REPORT_CSV, REPORT_BY_DOMAIN,
     "gmail.com,600,590,0,10,0,0,0,0,590,98.3,65.0,300\r\n", NULL},
    {"csv reason row", REPORT_CSV, REPORT_BY_REASON,
     "bounced,hard,user_unknown,550,5.1.1,40,4.0,\"<script>alert(1)</script> user \"\"x\"\" "
     "unknown,\r\nbye \xc3\xa9t\xc3\xa9\"\r\n",
     NULL},
    {"csv unclassified", REPORT_CSV, REPORT_BY_REASON, "deferred,,unclassified,,,20,2.0,\r\n",
     NULL},
    {"csv hour", REPORT_CSV, REPORT_BY_HOUR, "2023-11-14T22:00:00Z,900,20,45,0,500,80\r\n", NULL},
    {"json schema version", REPORT_JSON, REPORT_BY_DOMAIN, "{\"schema_version\":1,", NULL},
    {"json escaped name", REPORT_JSON, REPORT_BY_DOMAIN,
     "\"name\":\"<b>\\\"Spring\\\" & 'sale'</b>\"", NULL},
    {"html escaped title", REPORT_HTML, REPORT_BY_DOMAIN,
     "<title>kirim report: &lt;b&gt;&quot;Spring&quot; &amp; &#39;sale&#39;&lt;/b&gt;</title>",
     "<b>\"Spring\""},
    {"html escaped example", REPORT_HTML, REPORT_BY_DOMAIN,
     "&lt;script&gt;alert(1)&lt;/script&gt; user &quot;x&quot; unknown,", "<script>"},
    {"html escaped key", REPORT_HTML, REPORT_BY_DOMAIN, "we,ird&quot;&lt;x&gt;.example", "<x>"},
    {"html svg chart", REPORT_HTML, REPORT_BY_DOMAIN, "<svg viewBox=\"0 0 1000 200\"", NULL},
    {"html print css", REPORT_HTML, REPORT_BY_DOMAIN, "@media print{", NULL},
    {"html phone css", REPORT_HTML, REPORT_BY_DOMAIN, "@media (max-width:600px){", NULL},
    {"html no script", REPORT_HTML, REPORT_BY_DOMAIN, "</html>", "<script"},
    {"html no network", REPORT_HTML, REPORT_BY_DOMAIN, "<!DOCTYPE html>", "http"},
    {"html machine opens", REPORT_HTML, REPORT_BY_DOMAIN, "opened (+120 machine opens)", NULL},
};

static void
test_render(void **state)
{
	(void)state;
	int fails = 0;
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		char *got = render(c->f, c->by);
		if (strstr(got, c->want) == NULL) {
			print_error("%s: want [%s] in:\n%s\n", c->label, c->want, got);
			fails++;
		}
		if (c->unwant && strstr(got, c->unwant) != NULL) {
			print_error("%s: [%s] must not appear in:\n%s\n", c->label, c->unwant, got);
			fails++;
		}
		free(got);
	}
	assert_int_equal(fails, 0);
}

/* The JSON parses, and its fields hold the struct's numbers. */
static void
test_json(void **state)
{
	(void)state;
	char *got = render(REPORT_JSON, REPORT_BY_DOMAIN);
	json_error_t err;
	json_t *j = json_loads(got, 0, &err);
	if (j == NULL)
		print_error("invalid JSON (%s at %d): %s\n", err.text, err.position, got);
	assert_non_null(j);
	struct {
		const char *path;
		json_int_t want;
	} cases[] = {
	    {"schema_version", 1},        {"summary.recipients", 1000},
	    {"summary.delivered", 900},   {"summary.bounced", 45},
	    {"summary.bounced_hard", 40}, {"summary.opens.machine", 120},
	    {"summary.opens.human", 500}, {"summary.clicks.unique", 60},
	    {"summary.duration_s", 1800}, {"summary.per_minute_peak", 77},
	    {"summary.unsubscribes", 9},  {"summary.complaints", 2},
	    {"timeline.step_s", 900},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s", cases[i].path);
		json_t *v = j;
		for (char *tok = strtok(path, "."); tok && v; tok = strtok(NULL, "."))
			v = json_object_get(v, tok);
		if (!json_is_integer(v) || json_integer_value(v) != cases[i].want) {
			print_error("%s: got %lld want %lld\n", cases[i].path,
			            v ? (long long)json_integer_value(v) : -1LL,
			            (long long)cases[i].want);
			fails++;
		}
	}
	json_t *reasons = json_object_get(j, "reasons");
	assert_int_equal(json_array_size(reasons), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(reasons, 1), "reason")),
	    "unclassified");
	assert_true(json_is_null(json_object_get(json_array_get(reasons, 1), "code")));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(reasons, 0), "example")),
	    "<script>alert(1)</script> user \"x\" unknown,\r\nbye \xc3\xa9t\xc3\xa9");
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "domains"), 1), "others")));
	json_decref(j);
	free(got);
	assert_int_equal(fails, 0);
}

/* A report with nothing in it (a draft campaign: every string NULL) renders everywhere. */
static void
test_empty(void **state)
{
	(void)state;
	struct report r;
	memset(&r, 0, sizeof(r));
	for (int f = REPORT_TEXT; f <= REPORT_HTML; f++) {
		for (int by = REPORT_BY_DOMAIN; by <= REPORT_BY_HOUR; by++) {
			struct buf b = BUF_INIT;
			report_render(&b, &r, (enum report_format)f, (enum report_by)by);
			assert_non_null(b.data);
			if (f == REPORT_JSON) {
				json_t *j = json_loads(b.data, 0, NULL);
				assert_non_null(j);
				assert_true(json_is_null(json_object_get(
				    json_object_get(j, "summary"), "first_delivery")));
				json_decref(j);
			}
			buf_free(&b);
		}
	}
	report_free(&r);
	report_free(NULL);
}

static void
test_escapes(void **state)
{
	(void)state;
	struct {
		const char *label, *in, *csv, *html;
	} cases[] = {
	    {"plain", "abc", "abc", "abc"},
	    {"comma", "a,b", "\"a,b\"", "a,b"},
	    {"quote", "say \"hi\"", "\"say \"\"hi\"\"\"", "say &quot;hi&quot;"},
	    {"newline", "a\nb", "\"a\nb\"", "a\nb"},
	    {"markup", "<a href='x'>&</a>", "<a href='x'>&</a>",
	     "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"},
	    {"control", "a\x01z", "a\x01z", "a z"},
	    {"latin-1", "caf\xe9", "caf\xc3\xa9", "caf\xc3\xa9"},
	    {"utf-8 kept", "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac",
	     "\xe6\x97\xa5\xe6\x9c\xac"},
	    {"leading =", "=1+1", "=1+1", "=1+1"},
	    {"NULL", NULL, "", ""},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		report_csv_field(&b, cases[i].in);
		if (strcmp(b.data ? b.data : "", cases[i].csv) != 0) {
			print_error("%s csv: got [%s] want [%s]\n", cases[i].label,
			            b.data ? b.data : "", cases[i].csv);
			fails++;
		}
		buf_reset(&b);
		report_html_escape(&b, cases[i].in);
		if (strcmp(b.data ? b.data : "", cases[i].html) != 0) {
			print_error("%s html: got [%s] want [%s]\n", cases[i].label,
			            b.data ? b.data : "", cases[i].html);
			fails++;
		}
		buf_free(&b);
	}
	assert_int_equal(fails, 0);
}

static void
test_attempt_csv(void **state)
{
	(void)state;
	struct {
		const char *label;
		struct report_attempt a;
		const char *want;
	} cases[] = {
	    {"delivered",
	     {1700000000, "a@x.test", "relay:127.0.0.1:25", "127.0.0.1", "delivered", 250, "2.0.0",
	      "OK queued as 12", "TLSv1.3 TLS_AES_256_GCM_SHA384 verified", 1},
	     "2023-11-14T22:13:20Z,a@x.test,relay:127.0.0.1:25,127.0.0.1,delivered,250,2.0.0,"
	     "OK queued as 12,TLSv1.3 TLS_AES_256_GCM_SHA384 verified,1\r\n"},
	    {"NULLs",
	     {1700000000, "\"q,uoted\"@x.test", NULL, NULL, "deferred", 0, NULL,
	      "connect: refused, try later", NULL, 2},
	     "2023-11-14T22:13:20Z,\"\"\"q,uoted\"\"@x.test\",,,deferred,,,"
	     "\"connect: refused, try later\",,2\r\n"},
	};
	struct buf b = BUF_INIT;
	report_attempt_csv_header(&b);
	assert_string_equal(b.data, "time,recipient,destination,mx_host,outcome,code,enhanced_code,"
	                            "reply,tls,attempt\r\n");
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		report_attempt_csv(&b, &cases[i].a);
		if (strcmp(b.data, cases[i].want) != 0) {
			print_error("%s: got [%s] want [%s]\n", cases[i].label, b.data,
			            cases[i].want);
			fails++;
		}
	}
	buf_free(&b);
	assert_int_equal(fails, 0);
}

static void
test_parse(void **state)
{
	(void)state;
	assert_int_equal(report_format_parse("html"), REPORT_HTML);
	assert_int_equal(report_format_parse("HTML"), -1);
	assert_int_equal(report_format_parse(NULL), -1);
	assert_int_equal(report_by_parse("dest"), REPORT_BY_DEST);
	assert_int_equal(report_by_parse("destination"), REPORT_BY_DEST);
	assert_int_equal(report_by_parse("hour"), REPORT_BY_HOUR);
	assert_int_equal(report_by_parse("day"), -1);
}

static void
test_all(void **state)
{
	(void)state;
	struct report_all a = {.generated_at = 1700000000, .n = 1};
	a.campaigns = xcalloc(1, sizeof(*a.campaigns));
	a.campaigns[0] = (struct report_campaign){.name = xstrdup("a<b>,c"),
	                                          .state = xstrdup("done"),
	                                          .created_at = 1700000000,
	                                          .recipients = 10,
	                                          .delivered = 8,
	                                          .bounced = 2};
	const struct {
		enum report_format f;
		const char *want;
	} cases[] = {
	    {REPORT_TEXT, "a<b>,c    done   2023-11-14 22:13          10          8  80.0%"},
	    {REPORT_CSV, "\"a<b>,c\",done,2023-11-14T22:13:20Z,10,8,0,2,0,0,0,0,0,0,0,,\r\n"},
	    {REPORT_JSON, "\"campaigns\":[{\"name\":\"a<b>,c\",\"state\":\"done\""},
	    {REPORT_HTML, "<td class=\"key\">a&lt;b&gt;,c</td>"},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		report_render_all(&b, &a, cases[i].f);
		if (strstr(b.data, cases[i].want) == NULL) {
			print_error("format %d: want [%s] in:\n%s\n", (int)cases[i].f,
			            cases[i].want, b.data);
			fails++;
		}
		buf_free(&b);
	}
	report_all_free(&a);
	assert_int_equal(fails, 0);
}

/*
 * #18 item 17: the average per minute is over the calendar minutes the sending spanned,
 * the same minutes the peak is the most of, so it never passes the peak. A known timeline:
 * 900 delivered in 40 s straddling two minutes, 500 of them in the busier minute.
 */
static void
test_minute_rates(void **state)
{
	(void)state;
	static const struct {
		int64_t first, last, delivered, peak;
		double want;
	} rows[] = {
	    {1700000150, 1700000190, 900, 500, 450.0},     /* 40 s over two minutes */
	    {1700000100, 1700000110, 120, 120, 120.0},     /* inside one minute */
	    {1700000060, 1700001860, 900, 77, 900.0 / 31}, /* 30 minutes: 31 calendar minutes */
	    {1700000100, 1700000100, 1, 1, 1.0},           /* one delivery */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct report r;
		fill(&r);
		r.first_delivery = rows[i].first;
		r.last_delivery = rows[i].last;
		r.delivered = rows[i].delivered;
		r.peak_per_minute = rows[i].peak;
		struct buf b = BUF_INIT;
		report_render(&b, &r, REPORT_JSON, REPORT_BY_DOMAIN);
		report_free(&r);
		json_t *j = json_loads(b.data, 0, NULL);
		assert_non_null(j);
		double avg = json_number_value(
		    json_object_get(json_object_get(j, "summary"), "per_minute_avg"));
		if (avg > (double)rows[i].peak + 0.05 || avg < rows[i].want - 0.05 ||
		    avg > rows[i].want + 0.05)
			print_error("row %zu: average %.2f, want %.2f (peak %lld)\n", i, avg,
			            rows[i].want, (long long)rows[i].peak);
		assert_true(avg <= (double)rows[i].peak + 0.05);
		assert_true(avg >= rows[i].want - 0.05 && avg <= rows[i].want + 0.05);
		json_decref(j);
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render),      cmocka_unit_test(test_json),
	    cmocka_unit_test(test_empty),       cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_attempt_csv), cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_all),         cmocka_unit_test(test_minute_rates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
