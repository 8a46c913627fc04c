/*
 * test_pages - the subscriber pages (src/app/pages.c): the embedded templates and
 * translations compile and render in English and Indonesian, the language is chosen as
 * pages_lang says, the brand and its colours reach the page, values are escaped, and
 * [pages] dir replaces a page, adds a language (missing texts from English) and reports
 * a broken file by its name. Tables of (label, what, wanted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/pages.h"

static void
base_config(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->domain, sizeof(c->domain), "shop.example");
	snprintf(c->pages_language, sizeof(c->pages_language), "en");
	c->signup_expiry_hours = 48;
}

static struct pages *
must_new(const struct config *c)
{
	struct pages *p = NULL;
	char err[512] = "";
	if (pages_new(c, &p, err, sizeof(err)) != 0)
		fail_msg("pages_new: %s", err);
	return p;
}

/* Render kind in lang with the JSON fields in ctx_text; the page into out. */
static void
render(struct pages *p, enum pages_kind kind, const char *lang, const char *ctx_text,
       struct buf *out)
{
	json_error_t je;
	json_t *ctx = json_loads(ctx_text, 0, &je);
	if (ctx == NULL)
		fail_msg("bad ctx %s: %s", ctx_text, je.text);
	char err[256];
	buf_reset(out);
	if (pages_render(p, kind, lang, ctx, true, out, err, sizeof(err)) != 0)
		fail_msg("render: %s", err);
	json_decref(ctx);
}

static int
want_in(const char *label, const struct buf *page, const char *want, bool present)
{
	bool found = page->data && strstr(page->data, want) != NULL;
	if (found == present)
		return 0;
	print_error("%s: [%s] %s in the page\n", label, want, present ? "not" : "wrongly");
	return 1;
}

static void
test_lang(void **state)
{
	(void)state;
	struct config c;
	base_config(&c);
	struct pages *p = must_new(&c);
	static const struct {
		const char *label, *ask, *attr, *accept, *want;
	} cases[] = {
	    {"nothing: the default", NULL, NULL, NULL, "en"},
	    {"browser", NULL, NULL, "id-ID,id;q=0.9,en;q=0.8", "id"},
	    {"attribute beats the browser", NULL, "id", "en-US,en", "id"},
	    {"attribute in another case, with region", NULL, "ID-id", NULL, "id"},
	    {"unknown attribute: the browser", NULL, "fr", "id", "id"},
	    {"choice beats both", "en", "id", "id", "en"},
	    {"unknown choice ignored", "xx", "id", NULL, "id"},
	    {"nothing known: the default", NULL, "de", "fr-CH, fr;q=0.9", "en"},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = pages_lang(p, cases[i].ask, cases[i].attr, cases[i].accept);
		if (strcmp(got, cases[i].want) != 0) {
			print_error("%s: got %s want %s\n", cases[i].label, got, cases[i].want);
			bad++;
		}
	}
	pages_free(p);
	/* Indonesian as the default. */
	snprintf(c.pages_language, sizeof(c.pages_language), "id");
	p = must_new(&c);
	assert_string_equal(pages_lang(p, NULL, NULL, NULL), "id");
	assert_string_equal(pages_lang(p, NULL, NULL, "en"), "en");
	pages_free(p);
	assert_int_equal(bad, 0);
}

static void
test_render(void **state)
{
	(void)state;
	struct config c;
	base_config(&c);
	snprintf(c.brand_name, sizeof(c.brand_name), "Toko Sinar");
	snprintf(c.brand_logo_url, sizeof(c.brand_logo_url), "https://shop.example/logo.png");
	snprintf(c.brand_colour, sizeof(c.brand_colour), "#ffaa00");
	snprintf(c.brand_url, sizeof(c.brand_url), "https://shop.example/");
	snprintf(c.brand_address, sizeof(c.brand_address), "Jl. Merdeka 1, Jakarta");
	struct pages *p = must_new(&c);
	struct buf b = BUF_INIT;
	int bad = 0;
	const char *prefs =
	    "{\"subscribed\":true,\"list\":\"News <b>\",\"email\":\"a\\u2022\\u2022\\u2022@e"
	    "\\u2022\\u2022\\u2022.com\",\"prefix\":\"TOK/\",\"token\":\"TOK\"}";

	render(p, PAGES_PREFERENCES, "en", prefs, &b);
	/* The templates' comments leave nothing behind: the page starts with its doctype. */
	if (strncmp(b.data, "<!DOCTYPE html>\n<html lang=\"en\">", 32) != 0) {
		print_error("the page starts [%.60s]\n", b.data);
		bad++;
	}
	bad += want_in("no template text", &b, "{{", false);
	bad += want_in("en prefs: lang", &b, "<html lang=\"en\">", true);
	bad += want_in("en prefs: title", &b, "<title>Your email preferences · Toko Sinar</title>",
	               true);
	bad += want_in("en prefs: masked address", &b,
	               "a\u2022\u2022\u2022@e\u2022\u2022\u2022.com", true);
	bad += want_in("en prefs: list escaped", &b, "Stop News &lt;b&gt; emails only", true);
	bad += want_in("en prefs: no raw tag", &b, "News <b>", false);
	bad += want_in("en prefs: form action", &b, "action=\"TOK/unsubscribe\"", true);
	bad += want_in("en prefs: scope all", &b, "Stop all emails from Toko Sinar", true);
	bad += want_in("en prefs: reason", &b, "<select id=\"reason\" name=\"reason\">", true);
	bad += want_in("brand colour", &b, "background:#ffaa00;color:#000000", true);
	bad += want_in(
	    "brand logo, its name beside it", &b,
	    "<img src=\"https://shop.example/logo.png\" alt=\"\" height=\"40\">\nToko Sinar\n",
	    true);
	bad += want_in("brand link", &b, "<a href=\"https://shop.example/\">", true);
	bad += want_in("brand address", &b, "<p>Jl. Merdeka 1, Jakarta</p>", true);
	bad +=
	    want_in("language links", &b,
	            "<a href=\"?lang=id\" hreflang=\"id\" lang=\"id\">Bahasa Indonesia</a>", true);
	bad += want_in("no script", &b, "<script", false);

	render(p, PAGES_PREFERENCES, "id", prefs, &b);
	bad += want_in("id prefs: lang", &b, "<html lang=\"id\">", true);
	bad += want_in("id prefs: heading", &b, "<h1>Preferensi email Anda</h1>", true);
	bad += want_in("id prefs: button", &b, "Berhenti berlangganan</button>", true);
	bad += want_in("id prefs: all", &b, "Berhenti menerima semua email dari Toko Sinar", true);

	render(p, PAGES_PREFERENCES, "en",
	       "{\"unsubscribed\":true,\"all\":true,\"list\":\"News\",\"email\":\"x\",\"prefix\":"
	       "\"\"}",
	       &b);
	bad += want_in("unsubscribed all", &b, "You will get no more emails from Toko Sinar at x.",
	               true);
	bad += want_in("resubscribe all", &b, "name=\"scope\" value=\"all\"", true);
	bad += want_in("resubscribe form", &b, "action=\"resubscribe\"", true);
	render(p, PAGES_PREFERENCES, "en",
	       "{\"unsubscribed\":true,\"confirm\":true,\"list\":\"News\",\"email\":\"x\"}", &b);
	bad += want_in("confirmation's unsubscribe: no way back", &b, "resubscribe", false);

	render(p, PAGES_SIGNUP, "id",
	       "{\"list\":\"news\",\"action\":\"news\",\"form\":\"kirim:/s/news\"}", &b);
	bad += want_in("signup: heading", &b, "<h1>Berlangganan news</h1>", true);
	bad += want_in("signup: email field", &b,
	               "type=\"email\" id=\"kirim-email\" name=\"email\"", true);
	bad += want_in("signup: consent", &b, "Saya setuju menerima email news dari Toko Sinar.",
	               true);
	bad += want_in(
	    "signup: honeypot hidden", &b,
	    "<div class=\"hp\" aria-hidden=\"true\" style=\"position:absolute;left:-10000px;",
	    true);
	bad += want_in("signup: form name", &b, "name=\"form\" value=\"kirim:/s/news\"", true);
	render(p, PAGES_SIGNUP, "en",
	       "{\"list\":\"news\",\"error\":true,\"error_email\":true,\"email\":\"bad@\"}", &b);
	bad += want_in("signup error: alert", &b, "role=\"alert\"", true);
	bad +=
	    want_in("signup error: described", &b, "aria-describedby=\"kirim-email-error\"", true);
	bad += want_in("signup error: value kept", &b, "value=\"bad@\"", true);
	render(p, PAGES_SIGNUP, "en", "{\"sent\":true,\"list\":\"news\",\"email\":\"a@b.example\"}",
	       &b);
	bad += want_in("signup sent", &b, "A message is on its way to a@b.example.", true);

	render(p, PAGES_CONFIRM, "en",
	       "{\"expired\":true,\"hours\":48,\"list\":\"news\",\"signup_url\":\"../s/news\"}",
	       &b);
	bad += want_in("expired: hours", &b, "Confirmation links work for 48 hours.", true);
	bad += want_in("expired: way back", &b, "<a href=\"../s/news\">Sign up again</a>", true);
	render(p, PAGES_CONFIRM, "id",
	       "{\"ask\":true,\"token\":\"T\",\"list\":\"news\",\"email\":\"e\"}", &b);
	bad += want_in("confirm: button", &b,
	               "<button type=\"submit\" id=\"confirm\">Konfirmasi</button>", true);
	render(p, PAGES_ERROR, "en", "{}", &b);
	bad += want_in("error", &b, "<h1>This link does not work</h1>", true);

	/* The consent text alone, as it is recorded. */
	json_t *ctx = json_pack("{s:s}", "list", "news");
	pages_text(p, "en", "consent", ctx, &b);
	assert_string_equal(b.data, "I agree to receive news emails from Toko Sinar. I can "
	                            "unsubscribe at any time with the link in every email.");
	pages_text(p, "id", "no-such-text", ctx, &b);
	assert_int_equal(b.len, 0);
	json_decref(ctx);

	const struct pages_email *em = pages_confirm_email(p);
	assert_string_equal(em->subject, "{{t.email_subject}}");
	assert_non_null(strstr(em->text, "{{confirm_url}}"));
	assert_non_null(strstr(em->html, "{{confirm_url}}"));
	buf_free(&b);
	pages_free(p);
	assert_int_equal(bad, 0);
}

/* Write text to dir/name. */
static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_override(void **state)
{
	(void)state;
	char dir[] = "/tmp/kirim-test-pages-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[600];
	snprintf(sub, sizeof(sub), "%s/pages", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/i18n", dir);
	mkdir(sub, 0700);
	put(dir, "pages/error.html", "<p>{{t.invalid_title}} / {{t.own}}</p>\n");
	put(dir, "i18n/fr.json",
	    "{\"language_name\":\"Fran\\u00e7ais\",\"invalid_title\":\"Ce lien ne marche pas\","
	    "\"own\":\"le mien\"}");
	struct config c;
	base_config(&c);
	snprintf(c.pages_dir, sizeof(c.pages_dir), "%s", dir);
	struct pages *p = must_new(&c);
	struct buf b = BUF_INIT;
	assert_string_equal(pages_lang(p, NULL, NULL, "fr-FR"), "fr");
	render(p, PAGES_ERROR, "fr", "{}", &b);
	assert_string_equal(b.data, "<p>Ce lien ne marche pas / le mien</p>\n");
	/* A text French lacks is English's. */
	json_t *ctx = json_object();
	pages_text(p, "fr", "busy_title", ctx, &b);
	assert_string_equal(b.data, "Please try again");
	json_decref(ctx);
	pages_free(p);

	/* Broken files are named. */
	static const struct {
		const char *name, *text, *want;
	} broken[] = {
	    {"i18n/fr.json", "[1, 2]", "i18n/fr.json: not a JSON object of texts"},
	    {"i18n/fr.json", "{\"a\": 1}", "i18n/fr.json: \"a\" is not a string"},
	    {"i18n/fr.json", "{\"a\": \"{{#x}}\"}", "i18n/fr.json: \"a\": "},
	    {"pages/error.html", "{{#open}}", "pages/error.html: "},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		put(dir, "pages/error.html", "ok\n");
		put(dir, "i18n/fr.json", "{}");
		put(dir, broken[i].name, broken[i].text);
		char err[512] = "";
		struct pages *q = NULL;
		if (pages_new(&c, &q, err, sizeof(err)) != -1 ||
		    strncmp(err, broken[i].want, strlen(broken[i].want)) != 0) {
			print_error("%s [%s]: got [%s] want [%s...]\n", broken[i].name,
			            broken[i].text, err, broken[i].want);
			pages_free(q);
			bad++;
		}
	}
	/* A default language with no translation. */
	put(dir, "i18n/fr.json", "{}");
	snprintf(c.pages_language, sizeof(c.pages_language), "de");
	char err[512] = "";
	struct pages *q = NULL;
	assert_int_equal(pages_new(&c, &q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[pages] language de has no translation"));
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	buf_free(&b);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lang),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_override),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
