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
	r->subject = xstrdup("Hi {{first_name}}, <50% off> & more");
	r->template_name = xstrdup("spring-tpl");
	r->template_version = 3;
	r->list = xstrdup("customers, EU");
	r->from = xstrdup("Shop <news@shop.example>");
	r->track_clicks = true;
	r->window = xstrdup("Mon-Fri 09:00-17:00");
	r->tz = xstrdup("Europe/Berlin");
	r->own_zone = 600;
	r->created_at = 1700000000;
	r->started_at = 1700000030;
	r->finished_at = 1700002000;
	r->generated_at = 1700003600;
	r->messages = 1000;
	r->n[REPORT_DELIVERED] = 900;
	r->n[REPORT_DEFERRED] = 20;
	r->n[REPORT_BOUNCED_HARD] = 40;
	r->n[REPORT_BOUNCED_SOFT] = 5;
	r->n[REPORT_FAILED] = 5;
	r->n[REPORT_QUEUED] = 10;
	r->n[REPORT_SUPPRESSED] = 20;
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
	r->skip_reasons[0] = (struct report_count){REPORT_SUPPRESSED, xstrdup("unsubscribe"), 20};
	r->n_links = 3;
	r->links = xcalloc(3, sizeof(*r->links));
	r->links[0] =
	    (struct report_link){1, xstrdup("https://shop.example/sale?a=1&b=\"2\""), 50, 70};
	r->links[1] = (struct report_link){0, xstrdup("https://shop.example/"), 8, 10};
	r->links[2] = (struct report_link){2, xstrdup("https://shop.example/unclicked"), 0, 0};
	r->n_domains = 2;
	r->domains = xcalloc(2, sizeof(*r->domains));
	r->domains[0] =
	    (struct report_group){.key = xstrdup("gmail.com"),
	                          .messages = 600,
	                          .n = {[REPORT_DELIVERED] = 590, [REPORT_BOUNCED_HARD] = 10},
	                          .tls = 590,
	                          .avg_delay = 65,
	                          .max_delay = 300};
	r->domains[1] = (struct report_group){.key = xstrdup("we,ird\"<x>.example"),
	                                      .others = true,
	                                      .messages = 400,
	                                      .n = {[REPORT_DELIVERED] = 310,
	                                            [REPORT_DEFERRED] = 20,
	                                            [REPORT_BOUNCED_HARD] = 30,
	                                            [REPORT_BOUNCED_SOFT] = 5,
	                                            [REPORT_FAILED] = 5,
	                                            [REPORT_QUEUED] = 10,
	                                            [REPORT_SUPPRESSED] = 20}};
	r->n_dests = 3;
	r->dests = xcalloc(3, sizeof(*r->dests));
	r->dests[0] = (struct report_group){.key = xstrdup("relay:127.0.0.1:2525"),
	                                    .messages = 1000,
	                                    .n = {[REPORT_DELIVERED] = 890},
	                                    .tls = 600,
	                                    .tls_verified = 300,
	                                    .tls_versions = "TLSv1.2/TLSv1.3"};
	r->dests[1] = (struct report_group){.key = xstrdup("mx:mx.example.com|sts:example.com"),
	                                    .messages = 10,
	                                    .n = {[REPORT_DELIVERED] = 10},
	                                    .tls = 10,
	                                    .tls_verified = 10,
	                                    .tls_versions = "TLSv1.3"};
	r->dests[2] = (struct report_group){.key = xstrdup("mx:mx.example.net|dane"),
	                                    .messages = 5,
	                                    .n = {[REPORT_DELIVERED] = 5},
	                                    .tls = 5,
	                                    .tls_verified = 5,
	                                    .tls_versions = "TLSv1.3"};
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

/*
 * The campaign of issue #18 item 18: cancelled after 100 of its 1,500 messages were tried.
 * 96 delivered are 96.0% of the attempted and 6.4% of all; 1,400 cancelled are 93.3%.
 */
static void
fill_cancelled(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->campaign = xstrdup("autumn");
	r->state = xstrdup("cancelled");
	r->state_reason = xstrdup("cancelled by user");
	r->generated_at = 1700003600;
	r->messages = 1500;
	r->n[REPORT_DELIVERED] = 96;
	r->n[REPORT_BOUNCED_HARD] = 2;
	r->n[REPORT_FAILED] = 1;
	r->n[REPORT_DEFERRED] = 1;
	r->n[REPORT_CANCELLED] = 1400;
	r->n_domains = 1;
	r->domains = xcalloc(1, sizeof(*r->domains));
	r->domains[0] = (struct report_group){.key = xstrdup("example.com"), .messages = 1500};
	memcpy(r->domains[0].n, r->n, sizeof(r->n));
}

static char *
render_with(void (*f)(struct report *), enum report_format fmt, enum report_by by)
{
	struct report r;
	f(&r);
	struct buf b = BUF_INIT;
	report_render(&b, &r, fmt, by);
	report_free(&r);
	return b.data ? b.data : xstrdup("");
}

static char *
render(enum report_format f, enum report_by by)
{
	return render_with(fill, f, by);
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
     "Campaign     <b>\"Spring\" & 'sale'</b>\nState        done\n", NULL},
    {"text subject as written", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Subject      Hi {{first_name}}, <50% off> & more\n", NULL},
    {"text list", REPORT_TEXT, REPORT_BY_DOMAIN, "List         customers, EU\n", NULL},
    {"text from", REPORT_TEXT, REPORT_BY_DOMAIN, "From         Shop <news@shop.example>\n", NULL},
    {"text window", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Send window  Mon-Fri 09:00-17:00\nZone         Europe/Berlin\n"
     "Own zone     600 of 1,000 recipients: the window in their timezone\n",
     NULL},
    {"text times", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Created      2023-11-14 22:13:20 UTC\nStarted      2023-11-14 22:13:50 UTC\n"
     "Finished     2023-11-14 22:46:40 UTC\nReport of    2023-11-14 23:13:20 UTC\n",
     NULL},
    {"text delivered: of all and of attempted", REPORT_TEXT, REPORT_BY_DOMAIN,
     "  delivered       900     90.0%           92.8%\n", NULL},
    {"text suppressed: of all, with its reason", REPORT_TEXT, REPORT_BY_DOMAIN,
     "  suppressed       20      2.0%                  unsubscribe 20\n", NULL},
    {"text cancelled shown at zero", REPORT_TEXT, REPORT_BY_DOMAIN,
     "  cancelled         0      0.0%\n", NULL},
    {"text opens apart", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Opens, machine                       120         prefetchers", NULL},
    {"text links by unique clicks", REPORT_TEXT, REPORT_BY_DOMAIN,
     "Clicks by link\nunique  clicks  link\n    50      70  https://shop.example/sale?a=1&b=\"2\"\n"
     "     8      10  https://shop.example/\n     0       0  https://shop.example/unclicked\n",
     NULL},
    {"text domain table: every category", REPORT_TEXT, REPORT_BY_DOMAIN,
     "gmail.com                600        590      98.3%       10        0       0         0"
     "       0       0           0          0\n",
     NULL},
    {"text duration", REPORT_TEXT, REPORT_BY_DOMAIN, "Duration                         30m 00s\n",
     NULL},
    {"text latin-1 example made UTF-8, no CR", REPORT_TEXT, REPORT_BY_REASON,
     "4.0%  <script>alert(1)</script> user \"x\" unknown,  by\xe2\x80\xa6\n", "\r"},
    {"text unclassified", REPORT_TEXT, REPORT_BY_REASON,
     "deferred  unclassified          20             2.0%\n", NULL},
    {"text hours", REPORT_TEXT, REPORT_BY_HOUR,
     "2023-11-14 22:00        900        20       45       0    500      80\n", NULL},
    {"text summary only", REPORT_TEXT, REPORT_BY_SUMMARY, "Attempted", "By recipient domain"},
    {"csv domain header", REPORT_CSV, REPORT_BY_DOMAIN,
     "domain,messages,delivered,bounced_hard,bounced_soft,failed,deferred,queued,in_flight,"
     "suppressed,cancelled,attempted,delivered_pct_of_attempted,deferrals,tls_delivered,"
     "avg_delay_s,max_delay_s\r\n",
     NULL},
    {"csv quoted key", REPORT_CSV, REPORT_BY_DOMAIN,
     "\"we,ird\"\"<x>.example\",400,310,30,5,5,20,10,0,20,0,370,83.78,", NULL},
    {"csv gmail row", REPORT_CSV, REPORT_BY_DOMAIN,
     "gmail.com,600,590,10,0,0,0,0,0,0,0,600,98.33,0,590,65.0,300\r\n", NULL},
    {"csv summary header", REPORT_CSV, REPORT_BY_SUMMARY,
     "name,value,pct_of_messages,pct_of_attempted,pct_of_delivered\r\n", NULL},
    {"csv summary subject", REPORT_CSV, REPORT_BY_SUMMARY,
     "subject,\"Hi {{first_name}}, <50% off> & more\",,,\r\n", NULL},
    {"csv summary window", REPORT_CSV, REPORT_BY_SUMMARY,
     "window,Mon-Fri 09:00-17:00,,,\r\nzone,Europe/Berlin,,,\r\nown_zone,600,,,\r\n", NULL},
    {"csv summary delivered", REPORT_CSV, REPORT_BY_SUMMARY, "delivered,900,90.00,92.78,\r\n",
     NULL},
    {"csv summary cancelled", REPORT_CSV, REPORT_BY_SUMMARY, "cancelled,0,0.00,,\r\n", NULL},
    {"csv summary suppression reason", REPORT_CSV, REPORT_BY_SUMMARY,
     "suppressed.unsubscribe,20,2.00,,\r\n", NULL},
    {"csv summary opened", REPORT_CSV, REPORT_BY_SUMMARY, "opened,400,,,44.44\r\n", NULL},
    {"csv links", REPORT_CSV, REPORT_BY_LINK,
     "link,url,unique_clicks,total_clicks\r\n1,\"https://shop.example/sale?a=1&b=\"\"2\"\"\","
     "50,70\r\n0,https://shop.example/,8,10\r\n2,https://shop.example/unclicked,0,0\r\n",
     NULL},
    {"csv reason row", REPORT_CSV, REPORT_BY_REASON,
     "bounced,hard,user_unknown,550,5.1.1,40,4.0,\"<script>alert(1)</script> user \"\"x\"\" "
     "unknown,\r\nbye \xc3\xa9t\xc3\xa9\"\r\n",
     NULL},
    {"csv unclassified", REPORT_CSV, REPORT_BY_REASON, "deferred,,unclassified,,,20,2.0,\r\n",
     NULL},
    {"csv hour", REPORT_CSV, REPORT_BY_HOUR, "2023-11-14T22:00:00Z,900,20,45,0,500,80\r\n", NULL},
    {"text destination TLS detail: versions, share verified", REPORT_TEXT, REPORT_BY_DEST,
     "tls detail\n", NULL},
    {"text destination TLS detail of a relay", REPORT_TEXT, REPORT_BY_DEST,
     "TLSv1.2/TLSv1.3 50% verified\n", NULL},
    {"text destination TLS detail under MTA-STS", REPORT_TEXT, REPORT_BY_DEST,
     "TLSv1.3 verified, MTA-STS\n", NULL},
    {"text destination TLS detail, DANE shared by domains without TLS-RPT", REPORT_TEXT,
     REPORT_BY_DEST, "TLSv1.3 verified, DANE\n", NULL},
    {"csv destination header: tls_detail last", REPORT_CSV, REPORT_BY_DEST,
     "deferrals,tls_delivered,avg_delay_s,max_delay_s,tls_detail\r\n", NULL},
    {"csv destination row", REPORT_CSV, REPORT_BY_DEST,
     "mx:mx.example.com|sts:example.com,10,10,0,0,0,0,0,0,0,0,10,100.00,0,10,0.0,0,"
     "\"TLSv1.3 verified, MTA-STS\"\r\n",
     NULL},
    {"csv domain table: no tls_detail", REPORT_CSV, REPORT_BY_DOMAIN, "max_delay_s\r\n",
     "tls_detail"},
    {"json destination tls_detail", REPORT_JSON, REPORT_BY_DOMAIN,
     "\"tls_delivered\":600,\"avg_delay_s\":0.0,\"max_delay_s\":0,\"tls_detail\":"
     "\"TLSv1.2/TLSv1.3 50% verified\"}",
     NULL},
    {"html destination TLS detail", REPORT_HTML, REPORT_BY_DOMAIN,
     "<td class=\"l\">TLSv1.3 verified, MTA-STS</td></tr>", NULL},
    {"json schema version", REPORT_JSON, REPORT_BY_DOMAIN, "{\"schema_version\":2,", NULL},
    {"json escaped name", REPORT_JSON, REPORT_BY_DOMAIN,
     "\"name\":\"<b>\\\"Spring\\\" & 'sale'</b>\"", NULL},
    {"html escaped title", REPORT_HTML, REPORT_BY_DOMAIN,
     "<title>kirim report: &lt;b&gt;&quot;Spring&quot; &amp; &#39;sale&#39;&lt;/b&gt;</title>",
     "<b>\"Spring\""},
    {"html subject", REPORT_HTML, REPORT_BY_DOMAIN,
     "<dt>Subject</dt><dd>Hi {{first_name}}, &lt;50% off&gt; &amp; more</dd>", NULL},
    {"html list", REPORT_HTML, REPORT_BY_DOMAIN, "<dt>List</dt><dd>customers, EU</dd>", NULL},
    {"html from", REPORT_HTML, REPORT_BY_DOMAIN,
     "<dt>From</dt><dd>Shop &lt;news@shop.example&gt;</dd>", NULL},
    {"html window", REPORT_HTML, REPORT_BY_DOMAIN,
     "<dt>Send window</dt><dd>Mon-Fri 09:00-17:00</dd>", NULL},
    {"html category row", REPORT_HTML, REPORT_BY_DOMAIN,
     "<tr><td class=\"key\">delivered</td><td>900</td><td>90.0%</td><td>92.8%</td>", NULL},
    {"html cancelled row at zero", REPORT_HTML, REPORT_BY_DOMAIN,
     "<tr><td class=\"key\">cancelled</td><td>0</td><td>0.0%</td><td></td>", NULL},
    {"html link row, escaped", REPORT_HTML, REPORT_BY_DOMAIN,
     "<tr><td class=\"url\">https://shop.example/sale?a=1&amp;b=&quot;2&quot;</td><td>50</td>"
     "<td>70</td></tr>",
     NULL},
    {"html escaped example", REPORT_HTML, REPORT_BY_DOMAIN,
     "&lt;script&gt;alert(1)&lt;/script&gt; user &quot;x&quot; unknown,", "<script>"},
    {"html escaped key", REPORT_HTML, REPORT_BY_DOMAIN, "we,ird&quot;&lt;x&gt;.example", "<x>"},
    {"html svg chart", REPORT_HTML, REPORT_BY_DOMAIN, "<svg viewBox=\"0 0 1000 200\"", NULL},
    {"html print css", REPORT_HTML, REPORT_BY_DOMAIN, "@media print{", NULL},
    {"html phone css", REPORT_HTML, REPORT_BY_DOMAIN, "@media (max-width:600px){", NULL},
    {"html no script", REPORT_HTML, REPORT_BY_DOMAIN, "</html>", "<script"},
    {"html links are text, never loaded or followed", REPORT_HTML, REPORT_BY_DOMAIN,
     "<!DOCTYPE html>", "href="},
    {"html no network", REPORT_HTML, REPORT_BY_DOMAIN, "<!DOCTYPE html>", "src="},
    {"html machine opens", REPORT_HTML, REPORT_BY_DOMAIN, "opened (+120 machine opens)", NULL},
};

/* check - render every case from fill f; the number of cases that failed */
static int
check(void (*f)(struct report *), const struct render_case *cases, size_t n)
{
	int fails = 0;
	for (size_t i = 0; i < n; i++) {
		const struct render_case *c = &cases[i];
		char *got = render_with(f, c->f, c->by);
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
	return fails;
}

static void
test_render(void **state)
{
	(void)state;
	assert_int_equal(check(fill, render_cases, sizeof(render_cases) / sizeof(render_cases[0])),
	                 0);
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
	    {"schema_version", 2},
	    {"messages.total", 1000},
	    {"messages.attempted", 970},
	    {"messages.counts.delivered", 900},
	    {"messages.counts.bounced_hard", 40},
	    {"messages.counts.bounced_soft", 5},
	    {"messages.counts.cancelled", 0},
	    {"summary.opens.machine", 120},
	    {"summary.opens.human", 500},
	    {"summary.clicks.unique", 60},
	    {"summary.duration_s", 1800},
	    {"summary.per_minute_peak", 77},
	    {"summary.unsubscribes", 9},
	    {"summary.complaints", 2},
	    {"timeline.step_s", 900},
	    {"campaign.template.version", 3},
	    {"campaign.schedule.own_zone", 600},
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
	/* The header, as written. */
	json_t *c = json_object_get(j, "campaign");
	assert_string_equal(json_string_value(json_object_get(c, "subject")),
	                    "Hi {{first_name}}, <50% off> & more");
	assert_string_equal(json_string_value(json_object_get(c, "list")), "customers, EU");
	assert_string_equal(json_string_value(json_object_get(c, "from")),
	                    "Shop <news@shop.example>");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(c, "schedule"), "window")),
	    "Mon-Fri 09:00-17:00");
	assert_string_equal(json_string_value(json_object_get(c, "finished_at")),
	                    "2023-11-14T22:46:40Z");
	/* Percentages: of all, and of the attempted for the attempted categories only. */
	json_t *m = json_object_get(j, "messages");
	assert_true(json_real_value(json_object_get(json_object_get(m, "pct_of_attempted"),
	                                            "delivered")) == 92.78);
	assert_true(json_real_value(
	                json_object_get(json_object_get(m, "pct_of_total"), "delivered")) == 90.0);
	assert_null(json_object_get(json_object_get(m, "pct_of_attempted"), "suppressed"));
	/* Links in the order given (the store sorts them), unique and total apart. */
	json_t *links = json_object_get(j, "links");
	assert_int_equal(json_array_size(links), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(links, 0), "link")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(links, 0), "url")),
	                    "https://shop.example/sale?a=1&b=\"2\"");
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(links, 0), "unique_clicks")), 50);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(links, 0), "total_clicks")), 70);
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
		for (int by = REPORT_BY_DOMAIN; by <= REPORT_BY_SUMMARY; by++) {
			struct buf b = BUF_INIT;
			report_render(&b, &r, (enum report_format)f, (enum report_by)by);
			assert_non_null(b.data);
			if (f == REPORT_JSON) {
				json_t *j = json_loads(b.data, 0, NULL);
				assert_non_null(j);
				assert_true(json_is_null(json_object_get(
				    json_object_get(j, "summary"), "first_delivery")));
				/* A share of nothing is null, not 0. */
				assert_true(json_is_null(json_object_get(
				    json_object_get(json_object_get(j, "messages"), "pct_of_total"),
				    "delivered")));
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
	      "OK queued as 12", "TLSv1.3 TLS_AES_256_GCM_SHA384 verified", 1, "192.0.2.2",
	      "mta2.example.com"},
	     "2023-11-14T22:13:20Z,a@x.test,relay:127.0.0.1:25,127.0.0.1,delivered,250,2.0.0,"
	     "OK queued as 12,TLSv1.3 TLS_AES_256_GCM_SHA384 verified,1,192.0.2.2,"
	     "mta2.example.com\r\n"},
	    {"NULLs",
	     {1700000000, "\"q,uoted\"@x.test", NULL, NULL, "deferred", 0, NULL,
	      "connect: refused, try later", NULL, 2, NULL, NULL},
	     "2023-11-14T22:13:20Z,\"\"\"q,uoted\"\"@x.test\",,,deferred,,,"
	     "\"connect: refused, try later\",,2,,\r\n"},
	};
	struct buf b = BUF_INIT;
	report_attempt_csv_header(&b);
	assert_string_equal(b.data, "time,recipient,destination,mx_host,outcome,code,enhanced_code,"
	                            "reply,tls,attempt,source,ehlo\r\n");
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
	assert_int_equal(report_by_parse("link"), REPORT_BY_LINK);
	assert_int_equal(report_by_parse("links"), REPORT_BY_LINK);
	assert_int_equal(report_by_parse("summary"), REPORT_BY_SUMMARY);
	assert_int_equal(report_by_parse("day"), -1);
	/* One set of names, the attempted ones first. */
	static const char *const names[REPORT_NCAT] = {"delivered", "bounced_hard", "bounced_soft",
	                                               "failed",    "deferred",     "queued",
	                                               "in_flight", "suppressed",   "cancelled"};
	for (int c = 0; c < REPORT_NCAT; c++) {
		assert_string_equal(report_cat_name((enum report_cat)c), names[c]);
		assert_int_equal(report_cat_attempted((enum report_cat)c), c <= REPORT_DEFERRED);
	}
	assert_string_equal(report_cat_label(REPORT_IN_FLIGHT), "in flight");
}

static void
test_all(void **state)
{
	(void)state;
	struct report_all a = {.generated_at = 1700000000, .n = 1};
	a.campaigns = xcalloc(1, sizeof(*a.campaigns));
	a.campaigns[0] = (struct report_campaign){
	    .name = xstrdup("a<b>,c"),
	    .state = xstrdup("cancelled"),
	    .created_at = 1700000000,
	    .messages = 20,
	    .n = {[REPORT_DELIVERED] = 8, [REPORT_BOUNCED_HARD] = 2, [REPORT_CANCELLED] = 10}};
	const struct {
		enum report_format f;
		const char *want;
	} cases[] = {
	    {REPORT_TEXT, "a<b>,c    cancelled  2023-11-14 22:13        20          8      80.0%"},
	    {REPORT_TEXT, "      0       0           0         10       0        0\n"},
	    {REPORT_CSV, "campaign,state,created_at,messages,delivered,bounced_hard,bounced_soft,"
	                 "failed,deferred,queued,in_flight,suppressed,cancelled,attempted,"
	                 "delivered_pct_of_attempted,"},
	    {REPORT_CSV, "\"a<b>,c\",cancelled,2023-11-14T22:13:20Z,20,8,2,0,0,0,0,0,0,10,10,80.00,"
	                 "0,0,0,0,,\r\n"},
	    {REPORT_JSON, "\"campaigns\":[{\"name\":\"a<b>,c\",\"state\":\"cancelled\""},
	    {REPORT_JSON, "\"counts\":{\"delivered\":8,\"bounced_hard\":2,\"bounced_soft\":0,"
	                  "\"failed\":0,\"deferred\":0,\"queued\":0,\"in_flight\":0,"
	                  "\"suppressed\":0,\"cancelled\":10}"},
	    {REPORT_HTML, "<td class=\"key\">a&lt;b&gt;,c</td>"},
	    {REPORT_HTML, "<th>cancelled</th>"},
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
 * #18 item 18: a cancelled campaign. Percentages say what they are of: delivered is 96.0%
 * of the attempted and 6.4% of all; the 1,400 cancelled are shown (93.3% of all) in the
 * summary and in the domain rows of every format, never folded into "suppressed".
 */
static void
test_cancelled(void **state)
{
	(void)state;
	static const struct render_case cases[] = {
	    {"text delivered", REPORT_TEXT, REPORT_BY_DOMAIN,
	     "  delivered        96      6.4%           96.0%\n", NULL},
	    {"text cancelled", REPORT_TEXT, REPORT_BY_DOMAIN, "  cancelled     1,400     93.3%\n",
	     NULL},
	    {"text suppressed apart", REPORT_TEXT, REPORT_BY_DOMAIN,
	     "  suppressed        0      0.0%\n", NULL},
	    {"text attempted", REPORT_TEXT, REPORT_BY_DOMAIN, "Attempted         100      6.7%",
	     NULL},
	    {"text says what % are of", REPORT_TEXT, REPORT_BY_DOMAIN,
	     "(% of all: of the campaign's 1,500 messages, one per recipient; % of attempted: "
	     "of the 100 the sender has tried)",
	     NULL},
	    {"text state and why", REPORT_TEXT, REPORT_BY_DOMAIN,
	     "State        cancelled\nWhy          cancelled by user\n", NULL},
	    {"text domain row has the cancelled", REPORT_TEXT, REPORT_BY_DOMAIN,
	     "example.com     1,500         96      96.0%        2        0       1         1"
	     "       0       0           0      1,400\n",
	     NULL},
	    {"csv domain row has the cancelled apart", REPORT_CSV, REPORT_BY_DOMAIN,
	     "example.com,1500,96,2,0,1,1,0,0,0,1400,100,96.00,", NULL},
	    {"csv summary cancelled", REPORT_CSV, REPORT_BY_SUMMARY, "cancelled,1400,93.33,,\r\n",
	     NULL},
	    {"csv summary delivered", REPORT_CSV, REPORT_BY_SUMMARY, "delivered,96,6.40,96.00,\r\n",
	     NULL},
	    {"json cancelled", REPORT_JSON, REPORT_BY_DOMAIN, "\"cancelled\":1400", NULL},
	    {"json share of all", REPORT_JSON, REPORT_BY_DOMAIN,
	     "\"pct_of_total\":{\"delivered\":6.4,", NULL},
	    {"json share of attempted", REPORT_JSON, REPORT_BY_DOMAIN,
	     "\"pct_of_attempted\":{\"delivered\":96.0,", NULL},
	    {"html cancelled row", REPORT_HTML, REPORT_BY_DOMAIN,
	     "<tr><td class=\"key\">cancelled</td><td>1,400</td><td>93.3%</td><td></td>", NULL},
	    {"html domain row has the cancelled", REPORT_HTML, REPORT_BY_DOMAIN,
	     "<td>0</td><td>0</td><td>0</td><td>1,400</td></tr>", NULL},
	};
	assert_int_equal(check(fill_cancelled, cases, sizeof(cases) / sizeof(cases[0])), 0);
}

/* The categories add up to the messages, in the CSV summary as in the JSON. */
static void
test_categories_add_up(void **state)
{
	(void)state;
	void (*fills[])(struct report *) = {fill, fill_cancelled};
	for (size_t f = 0; f < 2; f++) {
		char *csv = render_with(fills[f], REPORT_CSV, REPORT_BY_SUMMARY);
		long long total = -1, sum = 0;
		int seen = 0;
		for (char *line = strtok(csv, "\r\n"); line; line = strtok(NULL, "\r\n")) {
			char name[32];
			long long v;
			if (sscanf(line, "%31[a-z_],%lld", name, &v) != 2)
				continue;
			if (strcmp(name, "messages") == 0)
				total = v;
			for (int c = 0; c < REPORT_NCAT; c++)
				if (strcmp(name, report_cat_name((enum report_cat)c)) == 0) {
					sum += v;
					seen++;
				}
		}
		free(csv);
		assert_int_equal(seen, REPORT_NCAT);
		assert_int_equal(sum, total);
		char *js = render_with(fills[f], REPORT_JSON, REPORT_BY_DOMAIN);
		json_t *j = json_loads(js, 0, NULL);
		assert_non_null(j);
		json_t *m = json_object_get(j, "messages"), *v;
		const char *k;
		long long jsum = 0;
		json_object_foreach(json_object_get(m, "counts"), k, v) jsum +=
		    json_integer_value(v);
		assert_int_equal(jsum, json_integer_value(json_object_get(m, "total")));
		assert_int_equal(jsum, total);
		json_decref(j);
		free(js);
	}
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
		r.n[REPORT_DELIVERED] = rows[i].delivered;
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
	    cmocka_unit_test(test_cancelled),   cmocka_unit_test(test_categories_add_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
