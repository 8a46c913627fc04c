/*
 * test_signup - signup requests read from forms and JSON (src/app/signup.c): what is a
 * signup, what is refused and why, the bot trap, the new contact's attributes; and the
 * confirmation message's fields: a link that kirim serve's key accepts until it expires.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/signup.h"
#include "kirim/token.h"

#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"

static void
test_parse(void **state)
{
	(void)state;
	static const struct {
		const char *label, *ctype, *body;
		enum signup_problem want;
		const char *email, *name, *lang, *form;
		bool consent, honeypot, json;
	} cases[] = {
	    {"form", FORM, "email=Ann%40Example.com&name=Ann+Lee&consent=yes&lang=id&form=shop",
	     SIGNUP_OK, "Ann@Example.com", "Ann Lee", "id", "shop", true, false, false},
	    {"no content type is a form", NULL, "email=a%40b.example&consent=on", SIGNUP_OK,
	     "a@b.example", "", "", "", true, false, false},
	    {"charset", FORM "; charset=UTF-8", "email=a%40b.example&consent=1", SIGNUP_OK,
	     "a@b.example", "", "", "", true, false, false},
	    {"blanks trimmed", FORM, "email=+a%40b.example+&consent=1", SIGNUP_OK, "a@b.example",
	     "", "", "", true, false, false},
	    {"no consent", FORM, "email=a%40b.example", SIGNUP_NO_CONSENT, "a@b.example", "", "",
	     "", false, false, false},
	    {"empty consent", FORM, "email=a%40b.example&consent=", SIGNUP_NO_CONSENT,
	     "a@b.example", "", "", "", false, false, false},
	    {"bad email", FORM, "email=not-an-address&consent=1", SIGNUP_BAD_EMAIL,
	     "not-an-address", "", "", "", true, false, false},
	    {"no email", FORM, "consent=1", SIGNUP_BAD_EMAIL, "", "", "", "", true, false, false},
	    {"IP literal refused", FORM, "email=a%40%5B127.0.0.1%5D&consent=1", SIGNUP_BAD_EMAIL,
	     "a@[127.0.0.1]", "", "", "", true, false, false},
	    {"honeypot", FORM, "email=a%40b.example&consent=1&website=http%3A%2F%2Fspam", SIGNUP_OK,
	     "a@b.example", "", "", "", true, true, false},
	    {"empty honeypot is a person", FORM, "email=a%40b.example&consent=1&website=",
	     SIGNUP_OK, "a@b.example", "", "", "", true, false, false},
	    {"broken honeypot is a bot", FORM, "email=a%40b.example&consent=1&website=%zz",
	     SIGNUP_OK, "a@b.example", "", "", "", true, true, false},
	    {"name too long", FORM,
	     "email=a%40b.example&consent=1&name="
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "a"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     SIGNUP_BAD_REQUEST, "a@b.example", "", "", "", true, false, false},
	    {"control in name", FORM, "email=a%40b.example&consent=1&name=a%0Ab",
	     SIGNUP_BAD_REQUEST, "a@b.example", "", "", "", true, false, false},
	    {"not UTF-8", FORM, "email=a%40b.example&consent=1&name=%E9", SIGNUP_BAD_REQUEST,
	     "a@b.example", "", "", "", true, false, false},
	    {"bad lang dropped", FORM, "email=a%40b.example&consent=1&lang=..%2Fx", SIGNUP_OK,
	     "a@b.example", "", "", "", true, false, false},
	    {"json", JSON,
	     "{\"email\":\"ann@example.com\",\"name\":\"Ann\",\"language\":\"en\",\"consent\":true,"
	     "\"form\":\"api\"}",
	     SIGNUP_OK, "ann@example.com", "Ann", "en", "api", true, false, true},
	    {"json consent must be true", JSON,
	     "{\"email\":\"ann@example.com\",\"consent\":\"yes\"}", SIGNUP_NO_CONSENT,
	     "ann@example.com", "", "", "", false, false, true},
	    {"json honeypot", JSON,
	     "{\"email\":\"ann@example.com\",\"consent\":true,\"website\":\"x\"}", SIGNUP_OK,
	     "ann@example.com", "", "", "", true, true, true},
	    {"json email not a string", JSON, "{\"email\":5,\"consent\":true}", SIGNUP_BAD_REQUEST,
	     "", "", "", "", true, false, true},
	    {"json not an object", JSON, "[\"ann@example.com\"]", SIGNUP_BAD_REQUEST, "", "", "",
	     "", false, false, true},
	    {"json broken", JSON, "{\"email\":", SIGNUP_BAD_REQUEST, "", "", "", "", false, false,
	     true},
	    {"other type", "text/plain", "email=a%40b.example&consent=1", SIGNUP_BAD_REQUEST, "",
	     "", "", "", false, false, false},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct signup_form f;
		enum signup_problem got =
		    signup_form_parse(cases[i].ctype, cases[i].body, strlen(cases[i].body), &f);
		bool fields =
		    got == SIGNUP_BAD_REQUEST ||
		    (strcmp(f.email, cases[i].email) == 0 && strcmp(f.name, cases[i].name) == 0 &&
		     strcmp(f.lang, cases[i].lang) == 0 && strcmp(f.form, cases[i].form) == 0 &&
		     f.consent == cases[i].consent);
		if (got != cases[i].want || !fields || f.honeypot != cases[i].honeypot ||
		    f.json != cases[i].json) {
			print_error("%s: got %d [%s|%s|%s|%s] consent %d honeypot %d json %d\n",
			            cases[i].label, got, f.email, f.name, f.lang, f.form, f.consent,
			            f.honeypot, f.json);
			bad++;
		}
	}
	/* The checked address is kirim's form of it. */
	struct signup_form f;
	const char *body = "email=Ann%40B%C3%BCcher.example&consent=1";
	assert_int_equal(signup_form_parse(FORM, body, strlen(body), &f), SIGNUP_OK);
	assert_string_equal(f.addr.email, "Ann@xn--bcher-kva.example");
	struct buf b = BUF_INIT;
	signup_attrs(&f, "id", &b);
	assert_string_equal(b.data, "{\"language\":\"id\"}");
	buf_reset(&b);
	body = "email=a%40b.example&consent=1&name=Siti+%22S%22";
	assert_int_equal(signup_form_parse(FORM, body, strlen(body), &f), SIGNUP_OK);
	signup_attrs(&f, "en", &b);
	assert_string_equal(b.data, "{\"name\":\"Siti \\\"S\\\"\",\"language\":\"en\"}");
	buf_free(&b);
	assert_int_equal(bad, 0);
}

/* The confirmation message's fields: a link to BASE/k/TOKEN that expires ttl after now. */
static void
test_mail_fields(void **state)
{
	(void)state;
	struct config c;
	memset(&c, 0, sizeof(c));
	snprintf(c.unsub_url, sizeof(c.unsub_url), "https://mail.shop.example/u/");
	snprintf(c.pages_language, sizeof(c.pages_language), "en");
	snprintf(c.brand_name, sizeof(c.brand_name), "Toko");
	c.signup_expiry_hours = 24;
	static const char secret[] = "a secret of 32 bytes, for tests.";
	struct signup_mail *m = NULL;
	char err[300];
	if (signup_mail_new(&c, secret, sizeof(secret) - 1, 7, "news", &m, err, sizeof(err)) != 0)
		fail_msg("signup_mail_new: %s", err);
	json_t *ctx = json_pack("{s:s, s:s}", "email", "ann@example.com", "language", "id");
	signup_mail_fields(m, ctx, 42, 1700000000);
	const char *url = json_string_value(json_object_get(ctx, "confirm_url"));
	assert_non_null(url);
	assert_int_equal(strncmp(url, "https://mail.shop.example/k/", 28), 0);
	struct token_key *k = token_key_new(secret, sizeof(secret) - 1);
	int64_t camp, contact, expires;
	assert_int_equal(token_check_expiring(k, TOKEN_CONFIRM, url + 28, strlen(url + 28), &camp,
	                                      &contact, &expires),
	                 0);
	assert_int_equal(camp, 7);
	assert_int_equal(contact, 42);
	assert_int_equal(expires, 1700000000 + 24 * 3600);
	token_key_free(k);
	assert_string_equal(json_string_value(json_object_get(ctx, "lang")), "id");
	json_t *t = json_object_get(ctx, "t");
	assert_string_equal(json_string_value(json_object_get(t, "email_subject")),
	                    "Konfirmasi langganan Anda untuk news");
	assert_non_null(strstr(json_string_value(json_object_get(t, "email_ignore")), "24 jam"));
	json_decref(ctx);
	signup_mail_free(m);

	/* Without [unsubscribe] url there is no base for the link: refused with what to do. */
	c.unsub_url[0] = '\0';
	assert_int_equal(signup_mail_new(&c, secret, 32, 7, "news", &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[unsubscribe] url"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_mail_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
