/* test_serve_route - routes, the one-click body check, prefetchers and link rewriting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/serve_route.h"

static void
test_match(void **state)
{
	(void)state;
	static const struct {
		const char *label, *method, *path;
		enum serve_route_kind want;
		const char *token;
		unsigned link;
		int head;
	} cases[] = {
	    {"health", "GET", "/healthz", SERVE_ROUTE_HEALTH, NULL, 0, 0},
	    {"health head", "HEAD", "/healthz", SERVE_ROUTE_HEALTH, NULL, 0, 1},
	    {"health post", "POST", "/healthz", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"unsub page", "GET", "/u/abc_-9", SERVE_ROUTE_UNSUB_PAGE, "abc_-9", 0, 0},
	    {"unsub page query", "GET", "/u/abc?x=1", SERVE_ROUTE_UNSUB_PAGE, "abc", 0, 0},
	    {"unsub post", "POST", "/u/abc", SERVE_ROUTE_UNSUB_POST, "abc", 0, 0},
	    {"unsub put", "PUT", "/u/abc", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"unsub trailing slash", "GET", "/u/abc/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"unsub empty token", "GET", "/u/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"unsub bad char", "GET", "/u/ab%63", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"unsub dot", "GET", "/u/ab.c", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"resub", "POST", "/u/abc/resubscribe", SERVE_ROUTE_RESUB_POST, "abc", 0, 0},
	    {"resub get", "GET", "/u/abc/resubscribe", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"unsub form", "POST", "/u/abc/unsubscribe", SERVE_ROUTE_UNSUB_FORM, "abc", 0, 0},
	    {"unsub form get", "GET", "/u/abc/unsubscribe", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"unsub form head", "HEAD", "/u/abc/unsubscribe", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"unsub other", "POST", "/u/abc/preferences", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"signup page", "GET", "/s/news", SERVE_ROUTE_SIGNUP_PAGE, "news", 0, 0},
	    {"signup page lang", "GET", "/s/news?lang=id", SERVE_ROUTE_SIGNUP_PAGE, "news", 0, 0},
	    {"signup head", "HEAD", "/s/news", SERVE_ROUTE_SIGNUP_PAGE, "news", 0, 1},
	    {"signup post", "POST", "/s/news", SERVE_ROUTE_SIGNUP_POST, "news", 0, 0},
	    {"signup preflight", "OPTIONS", "/s/news", SERVE_ROUTE_SIGNUP_PREFLIGHT, "news", 0, 0},
	    {"no preflight elsewhere", "OPTIONS", "/k/tok", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"signup put", "PUT", "/s/news", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"signup slash", "POST", "/s/news/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"signup no list", "GET", "/s/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"signup dot", "GET", "/s/a.b", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"confirm page", "GET", "/k/tok", SERVE_ROUTE_CONFIRM_PAGE, "tok", 0, 0},
	    {"confirm head", "HEAD", "/k/tok", SERVE_ROUTE_CONFIRM_PAGE, "tok", 0, 1},
	    {"confirm post", "POST", "/k/tok", SERVE_ROUTE_CONFIRM_POST, "tok", 0, 0},
	    {"confirm delete", "DELETE", "/k/tok", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"confirm suffix", "GET", "/k/tok/x", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"open", "GET", "/o/tok.gif", SERVE_ROUTE_OPEN, "tok", 0, 0},
	    {"open head", "HEAD", "/o/tok.gif", SERVE_ROUTE_OPEN, "tok", 0, 1},
	    {"open png", "GET", "/o/tok.png", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"open post", "POST", "/o/tok.gif", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"click 0", "GET", "/c/tok/0", SERVE_ROUTE_CLICK, "tok", 0, 0},
	    {"click 17", "GET", "/c/tok/17", SERVE_ROUTE_CLICK, "tok", 17, 0},
	    {"click 999", "GET", "/c/tok/999", SERVE_ROUTE_CLICK, "tok", 999, 0},
	    {"click 1000", "GET", "/c/tok/1000", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"click leading zero", "GET", "/c/tok/07", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"click no number", "GET", "/c/tok/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"click sign", "GET", "/c/tok/-1", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"click long", "GET", "/c/tok/99999999999", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"view", "GET", "/v/tok", SERVE_ROUTE_VIEW, "tok", 0, 0},
	    {"view head", "HEAD", "/v/tok", SERVE_ROUTE_VIEW, "tok", 0, 1},
	    {"view query", "GET", "/v/tok?utm_source=x", SERVE_ROUTE_VIEW, "tok", 0, 0},
	    {"view post", "POST", "/v/tok", SERVE_ROUTE_METHOD, NULL, 0, 0},
	    {"view trailing slash", "GET", "/v/tok/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"view suffix", "GET", "/v/tok.html", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"view empty token", "GET", "/v/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"view head, no token", "HEAD", "/v", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"root", "GET", "/", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"empty", "GET", "", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"other letter", "GET", "/x/tok", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"no slash", "GET", "u/tok", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"absolute form", "GET", "http://h/u/tok", SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	    {"token 63", "GET",
	     "/u/abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123",
	     SERVE_ROUTE_UNSUB_PAGE,
	     "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123", 0, 0},
	    {"token 64", "GET",
	     "/u/abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234",
	     SERVE_ROUTE_NOT_FOUND, NULL, 0, 0},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct serve_route r;
		serve_route_match(cases[i].method, cases[i].path, strlen(cases[i].path), &r);
		char tok[80] = "";
		if (r.token)
			snprintf(tok, sizeof(tok), "%.*s", (int)r.token_len, r.token);
		const char *wt = cases[i].token ? cases[i].token : "";
		if (r.kind != cases[i].want || strcmp(tok, wt) != 0 || r.link != cases[i].link ||
		    (int)r.head != cases[i].head) {
			printf("FAIL %s: got %s tok=%s link=%u head=%d, want %s tok=%s link=%u "
			       "head=%d\n",
			       cases[i].label, serve_route_name(r.kind), tok, r.link, r.head,
			       serve_route_name(cases[i].want), wt, cases[i].link, cases[i].head);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

static void
test_one_click(void **state)
{
	(void)state;
	static const struct {
		const char *label, *ctype, *body;
		int want, page;
	} cases[] = {
	    {"rfc 8058 urlencoded", "application/x-www-form-urlencoded",
	     "List-Unsubscribe=One-Click", 1, 0},
	    {"no content type", NULL, "List-Unsubscribe=One-Click", 1, 0},
	    {"charset param", "application/x-www-form-urlencoded; charset=utf-8",
	     "List-Unsubscribe=One-Click", 1, 0},
	    {"encoded", "application/x-www-form-urlencoded", "List%2DUnsubscribe=One%2dClick", 1,
	     0},
	    {"page form", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click&page=1",
	     1, 1},
	    {"other fields", "application/x-www-form-urlencoded", "a=b&List-Unsubscribe=One-Click&",
	     1, 0},
	    {"wrong value", "application/x-www-form-urlencoded", "List-Unsubscribe=one-click", 0,
	     0},
	    {"empty", "application/x-www-form-urlencoded", "", 0, 0},
	    {"no equals", "application/x-www-form-urlencoded", "List-Unsubscribe", 0, 0},
	    {"broken escape", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click%", 0,
	     0},
	    {"trailing junk", "application/x-www-form-urlencoded", "List-Unsubscribe=One-ClickX", 0,
	     0},
	    {"json", "application/json", "List-Unsubscribe=One-Click", 0, 0},
	    {"multipart", "multipart/form-data; boundary=XyZ",
	     "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
	     "One-Click\r\n--XyZ--\r\n",
	     1, 0},
	    {"multipart quoted boundary", "multipart/form-data; boundary=\"a b\"",
	     "--a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a b\r\n"
	     "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
	     "--a b--\r\n",
	     1, 0},
	    {"multipart wrong value", "multipart/form-data; boundary=XyZ",
	     "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
	     "Two-Click\r\n--XyZ--\r\n",
	     0, 0},
	    {"multipart no boundary", "multipart/form-data",
	     "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
	     "One-Click\r\n--XyZ--\r\n",
	     0, 0},
	    {"multipart unterminated", "multipart/form-data; boundary=XyZ",
	     "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click",
	     0, 0},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool page = true;
		bool got = serve_route_one_click(cases[i].ctype, cases[i].body,
		                                 strlen(cases[i].body), &page);
		if ((int)got != cases[i].want || (int)page != cases[i].page) {
			printf("FAIL %s: got %d page %d, want %d page %d\n", cases[i].label, got,
			       page, cases[i].want, cases[i].page);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

static void
test_machine_ua(void **state)
{
	(void)state;
	static const struct {
		const char *label, *ua, *want;
	} cases[] = {
	    {"apple mpp", "Mozilla/5.0", "apple-mpp"},
	    {"gmail",
	     "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
	     "GoogleImageProxy)",
	     "gmail-proxy"},
	    {"yahoo", "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
	     "yahoo-proxy"},
	    {"bing preview", "Mozilla/5.0 (compatible; BingPreview/1.0b)", "microsoft-scanner"},
	    {"empty", "", "empty"},
	    {"null", NULL, "empty"},
	    {"firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
	     NULL},
	    {"apple mail app",
	     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
	     "Gecko)",
	     NULL},
	    {"outlook desktop", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)",
	     NULL},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = serve_route_machine_ua(cases[i].ua);
		const char *w = cases[i].want;
		if ((got == NULL) != (w == NULL) || (got && strcmp(got, w) != 0)) {
			printf("FAIL %s: got %s want %s\n", cases[i].label, got ? got : "(human)",
			       w ? w : "(human)");
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

static void
test_redirect_ok(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		int want;
	} cases[] = {
	    {"https://example.com/", 1},  {"HTTP://example.com/a?b=c&d#e", 1},
	    {"https://example.com", 1},   {"javascript:alert(1)", 0},
	    {"https:///path", 0},         {"https://", 0},
	    {"//evil.example/", 0},       {"https://a.example/\r\nSet-Cookie: x", 0},
	    {"https://a.example/ b", 0},  {"https://a.example/\xc3\xa9", 0},
	    {"https:/\\evil.example", 0}, {"ftp://a.example/", 0},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = serve_route_redirect_ok(cases[i].url);
		if (got != cases[i].want) {
			printf("FAIL redirect_ok(%s): got %d want %d\n", cases[i].url, got,
			       cases[i].want);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

static void
test_rewrite(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want, *links;
	} cases[] = {
	    {"one link", "<p><a href=\"https://shop.example/x\">x</a></p>",
	     "<p><a href=\"https://t.example/c/TOK/0\">x</a></p>", "[\"https://shop.example/x\"]"},
	    {"same url twice", "<a href='http://a.example/'>1</a><A HREF=http://a.example/>2</A>",
	     "<a href='https://t.example/c/TOK/0'>1</a><A HREF=https://t.example/c/TOK/0>2</A>",
	     "[\"http://a.example/\"]"},
	    {"entities decoded", "<a class=b href=\"https://a.example/?x=1&amp;y=2\">",
	     "<a class=b href=\"https://t.example/c/TOK/0\">", "[\"https://a.example/?x=1&y=2\"]"},
	    {"mailto kept", "<a href=\"mailto:x@example.com\">m</a>",
	     "<a href=\"mailto:x@example.com\">m</a>", "[]"},
	    {"unsubscribe kept", "<a href=\"https://t.example/u/abc\">u</a>",
	     "<a href=\"https://t.example/u/abc\">u</a>", "[]"},
	    {"img src kept", "<img src=\"https://a.example/i.png\">",
	     "<img src=\"https://a.example/i.png\">", "[]"},
	    {"data-href kept", "<a data-href=\"https://a.example/\">",
	     "<a data-href=\"https://a.example/\">", "[]"},
	    {"comment kept", "<!-- <a href=\"https://a.example/\"> -->",
	     "<!-- <a href=\"https://a.example/\"> -->", "[]"},
	    {"abbr not a", "<abbr href=\"https://a.example/\">",
	     "<abbr href=\"https://a.example/\">", "[]"},
	    {"area", "<area href=\"https://b.example/\">",
	     "<area href=\"https://t.example/c/TOK/0\">", "[\"https://b.example/\"]"},
	    {"unclosed tag", "<a href=\"https://a.example/", "<a href=\"https://a.example/", "[]"},
	    {"two links", "<a href=\"https://a.example/\"></a><a href=\"https://b.example/\"></a>",
	     "<a href=\"https://t.example/c/TOK/0\"></a><a href=\"https://t.example/c/TOK/1\"></a>",
	     "[\"https://a.example/\",\"https://b.example/\"]"},
	    {"spaces trimmed", "<a href=\" https://a.example/ \">",
	     "<a href=\"https://t.example/c/TOK/0\">", "[\"https://a.example/\"]"},
	    {"lt in text", "a < b <a href=https://a.example/>x</a>",
	     "a < b <a href=https://t.example/c/TOK/0>x</a>", "[\"https://a.example/\"]"},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT, js = BUF_INIT;
		struct serve_links links = {0};
		serve_links_rewrite(cases[i].in, strlen(cases[i].in), "https://t.example/", "TOK",
		                    "https://t.example/u/", &out, &links);
		serve_links_json(&links, &js);
		const char *got = out.data ? out.data : "";
		if (strcmp(got, cases[i].want) != 0 || strcmp(js.data, cases[i].links) != 0) {
			printf("FAIL %s:\n  got  %s %s\n  want %s %s\n", cases[i].label, got,
			       js.data, cases[i].want, cases[i].links);
			fails++;
		}
		buf_free(&out);
		buf_free(&js);
		serve_links_free(&links);
	}
	assert_int_equal(fails, 0);
}

static void
test_rewrite_shared_table(void **state)
{
	(void)state;
	/* A second recipient's render reuses the first's numbers. */
	struct serve_links links = {0};
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *h1 = "<a href=\"https://x.example/\"></a>";
	const char *h2 = "<a href=\"https://y.example/\"></a><a href=\"https://x.example/\"></a>";
	serve_links_rewrite(h1, strlen(h1), "https://t.example", "A", NULL, &a, &links);
	serve_links_rewrite(h2, strlen(h2), "https://t.example", "B", NULL, &b, &links);
	assert_string_equal(b.data, "<a href=\"https://t.example/c/B/1\"></a><a "
	                            "href=\"https://t.example/c/B/0\"></a>");
	assert_int_equal(links.n, 2);
	buf_free(&a);
	buf_free(&b);
	serve_links_free(&links);
}

static void
test_rewrite_fixed_table(void **state)
{
	(void)state;
	/*
	 * The browser view: a table read back from the campaign keeps its numbers,
	 * and a URL it does not hold stays as written (no number is made up).
	 */
	struct serve_links links = {0};
	struct buf out = BUF_INIT, js = BUF_INIT;
	serve_links_add(&links, "javascript:x");
	serve_links_add(&links, "https://y.example/");
	links.fixed = true;
	const char *h = "<a href=\"https://x.example/\"></a><a href=\"https://y.example/\"></a>";
	size_t n = serve_links_rewrite(h, strlen(h), "https://t.example", "V", NULL, &out, &links);
	assert_string_equal(out.data, "<a href=\"https://x.example/\"></a><a "
	                              "href=\"https://t.example/c/V/1\"></a>");
	assert_int_equal(n, 1);
	serve_links_json(&links, &js);
	assert_string_equal(js.data, "[\"javascript:x\",\"https://y.example/\"]");
	buf_free(&out);
	buf_free(&js);
	serve_links_free(&links);
}

/* The client of a request: the peer, or behind --trust-proxy the one the proxy names. */
static void
test_client(void **state)
{
	(void)state;
	static const struct {
		const char *label, *peer;
		bool trust;
		const char *fwd, *real, *want_text;
		bool want_local;
	} cases[] = {
	    {"loopback", "127.0.0.1", false, NULL, NULL, "127.0.0.1", true},
	    {"remote", "192.0.2.7", false, NULL, NULL, "192.0.2.7", false},
	    {"v6 loopback", "::1", false, NULL, NULL, "::1", true},
	    {"headers ignored without trust", "127.0.0.1", false, "192.0.2.1", NULL, "127.0.0.1",
	     true},
	    {"proxy: X-Forwarded-For", "127.0.0.1", true, "192.0.2.1", NULL, "192.0.2.1", false},
	    {"proxy: the rightmost entry", "127.0.0.1", true, "10.0.0.1, 192.0.2.2", NULL,
	     "192.0.2.2", false},
	    {"proxy: X-Real-IP wins", "127.0.0.1", true, "192.0.2.1", "198.51.100.9",
	     "198.51.100.9", false},
	    {"proxy: local client", "127.0.0.1", true, "127.0.0.5", NULL, "127.0.0.5", true},
	    {"proxy: unreadable header", "127.0.0.1", true, "garbage", NULL, "127.0.0.1", false},
	    {"remote peer: headers ignored", "192.0.2.7", true, "127.0.0.1", NULL, "192.0.2.7",
	     false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		if (strchr(cases[i].peer, ':')) {
			struct sockaddr_in6 *in6 = (void *)&ss;
			in6->sin6_family = AF_INET6;
			inet_pton(AF_INET6, cases[i].peer, &in6->sin6_addr);
		} else {
			struct sockaddr_in *in = (void *)&ss;
			in->sin_family = AF_INET;
			inet_pton(AF_INET, cases[i].peer, &in->sin_addr);
		}
		unsigned char addr[16];
		char text[64];
		bool local =
		    serve_route_client((struct sockaddr *)&ss, cases[i].trust, cases[i].fwd,
		                       cases[i].real, addr, text, sizeof(text));
		if (local != cases[i].want_local || strcmp(text, cases[i].want_text) != 0)
			fail_msg("%s: got %d [%s] want %d [%s]", cases[i].label, local, text,
			         cases[i].want_local, cases[i].want_text);
	}
}

/* Listen addresses: numeric IPv4 or [IPv6] and a port; anything else refused. */
static void
test_listen(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int want, family, port;
	} cases[] = {
	    {"127.0.0.1:8026", 0, AF_INET, 8026},
	    {"0.0.0.0:0", 0, AF_INET, 0},
	    {"[::1]:8025", 0, AF_INET6, 8025},
	    {"localhost:80", -1, 0, 0},
	    {"127.0.0.1", -1, 0, 0},
	    {"127.0.0.1:", -1, 0, 0},
	    {"127.0.0.1:65536", -1, 0, 0},
	    {"127.0.0.1:80x", -1, 0, 0},
	    {"[::1]8025", -1, 0, 0},
	    {":80", -1, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage sa;
		socklen_t len = 0;
		int rc = serve_route_listen(cases[i].s, &sa, &len);
		if (rc != cases[i].want)
			fail_msg("[%s]: got %d want %d", cases[i].s, rc, cases[i].want);
		if (rc == 0 && (sa.ss_family != cases[i].family ||
		                ntohs(((struct sockaddr_in *)&sa)->sin_port) != cases[i].port))
			fail_msg("[%s]: family %d port %d", cases[i].s, sa.ss_family,
			         ntohs(((struct sockaddr_in *)&sa)->sin_port));
	}
}

static void
test_form_field(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *name;
		size_t cap;
		int want;
		const char *value;
	} cases[] = {
	    {"one", "email=a%40b.example", "email", 64, 1, "a@b.example"},
	    {"among others", "x=1&email=ann%40x.example&y=2", "email", 64, 1, "ann@x.example"},
	    {"first of two", "a=1&a=2", "a", 8, 1, "1"},
	    {"plus is a space", "name=Ann+Lee", "name", 64, 1, "Ann Lee"},
	    {"encoded key", "e%6dail=x", "email", 8, 1, "x"},
	    {"no value", "consent&x=1", "consent", 8, 1, ""},
	    {"empty value", "consent=&x=1", "consent", 8, 1, ""},
	    {"absent", "x=1&y=2", "email", 8, 0, ""},
	    {"prefix is not the name", "emailx=1", "email", 8, 0, ""},
	    {"empty input", "", "email", 8, 0, ""},
	    {"query of a target", "/s/news?lang=id&x=1", "lang", 8, 1, "id"},
	    {"query, fragment cut", "/s/news?lang=id#top", "lang", 8, 1, "id"},
	    {"no query", "/s/news", "lang", 8, 0, ""},
	    {"too long", "a=123456789", "a", 8, -1, ""},
	    {"just fits", "a=1234567", "a", 8, 1, "1234567"},
	    {"broken escape", "a=%4", "a", 8, -1, ""},
	    {"bad hex", "a=%zz", "a", 8, -1, ""},
	    {"NUL inside", "a=x%00y", "a", 8, -1, ""},
	    {"control byte", "a=x%01y", "a", 8, -1, ""},
	    {"line breaks kept", "a=x%0D%0Ay", "a", 8, 1, "x\r\ny"},
	    {"UTF-8 kept", "name=Sit%C3%AC", "name", 16, 1, "Sit\xc3\xac"},
	    {"empty fields skipped", "&&a=1&", "a", 8, 1, "1"},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64] = "";
		int got = serve_form_field(cases[i].in, strlen(cases[i].in), cases[i].name, out,
		                           cases[i].cap);
		if (got != cases[i].want || (got == 1 && strcmp(out, cases[i].value) != 0)) {
			print_error("%s: got %d [%s], want %d [%s]\n", cases[i].label, got, out,
			            cases[i].want, cases[i].value);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_one_click),
	    cmocka_unit_test(test_form_field),
	    cmocka_unit_test(test_machine_ua),
	    cmocka_unit_test(test_redirect_ok),
	    cmocka_unit_test(test_rewrite),
	    cmocka_unit_test(test_rewrite_shared_table),
	    cmocka_unit_test(test_rewrite_fixed_table),
	    cmocka_unit_test(test_client),
	    cmocka_unit_test(test_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
