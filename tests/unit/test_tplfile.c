/* test_tplfile - one-file templates split into subject, text and HTML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/tplfile.h"

static const struct {
	const char *label;
	const char *in;
	const char *subject, *text, *html; /* want; NULL = absent */
	const char *err;                   /* want an error starting with this */
} cases[] = {
    {"subject and text", "Subject: Hi {{x}}\n\nHello\n", "Hi {{x}}", "Hello\n", NULL, NULL},
    {"case-insensitive header, CRLF", "SUBJECT:  Hi  \r\n\r\nBody\r\n", "Hi", "Body\r\n", NULL,
     NULL},
    {"html guessed", "Subject: s\n\n  <p>x</p>\n", "s", NULL, "  <p>x</p>\n", NULL},
    {"both parts", "Subject: s\n\n--- text\nT\n--- html\n<p>H</p>\n", "s", "T\n", "<p>H</p>\n",
     NULL},
    {"html then text", "Subject: s\n\n--- html\n<b>\n--- text  \nT", "s", "T", "<b>\n", NULL},
    {"no header block", "\nJust text", NULL, "Just text", NULL, NULL},
    {"marker with trailing spaces", "Subject: s\n\n--- html \t\nH", "s", NULL, "H", NULL},
    {"dashes in a part are text", "Subject: s\n\n--- text\n---- not a marker\n", "s",
     "---- not a marker\n", NULL, NULL},
    {"unknown header", "From: x\n\nBody", NULL, NULL, NULL, "line 1: unknown header 'From'"},
    {"not a header line", "Hello there\n\nBody", NULL, NULL, NULL,
     "line 1: expected a header line"},
    {"two subjects", "Subject: a\nSubject: b\n\nx", NULL, NULL, NULL, "line 2: a second Subject"},
    {"text before marker", "Subject: s\n\nstray\n--- html\nH", NULL, NULL, NULL,
     "line 4: text before the first '--- html'"},
    {"two text parts", "Subject: s\n\n--- text\na\n--- text\nb", NULL, NULL, NULL,
     "line 5: a second '--- text' part"},
    {"empty body", "Subject: s\n\n  \n", NULL, NULL, NULL, "the template has no body"},
    {"empty file", "", NULL, NULL, NULL, "the template has no body"},
};

static void
check_str(const char *label, const char *what, const char *got, const char *want)
{
	if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
		fail_msg("%s: %s: got [%s] want [%s]", label, what, got ? got : "(none)",
		         want ? want : "(none)");
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tplfile t;
		char err[200] = "";
		int rc = tplfile_parse(cases[i].in, strlen(cases[i].in), &t, err, sizeof(err));
		if (cases[i].err) {
			if (rc == 0 || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
				fail_msg("%s: got rc %d err [%s] want err [%s]", cases[i].label, rc,
				         err, cases[i].err);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: unexpected error [%s]", cases[i].label, err);
		check_str(cases[i].label, "subject", t.subject, cases[i].subject);
		check_str(cases[i].label, "text", t.text, cases[i].text);
		check_str(cases[i].label, "html", t.html, cases[i].html);
		tplfile_clear(&t);
	}
}

static void
test_nul(void **state)
{
	(void)state;
	struct tplfile t;
	char err[100];
	assert_int_equal(tplfile_parse("Subject: a\n\nx\0y", 15, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "the file holds a NUL byte");
}

/* Does a body part offer an unsubscribe link? (issue #18, item 12) */
static const struct {
	const char *label;
	const char *part;
	bool html;
	bool want;
} optout_cases[] = {
    {"text: the field", "Stop: {{unsubscribe_url}}\n", false, true},
    {"text: the field padded", "Stop: {{ unsubscribe_url }}\n", false, true},
    {"text: triple", "Stop: {{{unsubscribe_url}}}\n", false, true},
    {"text: ampersand", "Stop: {{&unsubscribe_url}}\n", false, true},
    {"text: inside a section", "{{#vip}}Stop: {{unsubscribe_url}}{{/vip}}", false, true},
    {"text: other delimiters", "{{=<% %>=}}Stop: <% unsubscribe_url %>", false, true},
    {"text: own URL with the token", "https://shop.example/bye/{{unsubscribe_token}}", false, true},
    {"text: a link that says so", "Unsubscribe here: https://shop.example/prefs\n", false, true},
    {"text: opt-out address", "To opt out, write to mailto:stop@shop.example", false, true},
    {"text: the word without an address", "Reply 'unsubscribe' to stop.\n", false, false},
    {"text: an address on another line", "Unsubscribe below.\nhttps://shop.example/\n", false,
     false},
    {"text: nothing", "Hello {{first_name}}\n", false, false},
    {"text: a default is not the field", "{{unsubscribe|x}} {{unsubscribe_urls}}", false, false},
    {"text: only the view link", "View: {{view_url}}\n", false, false},
    {"html: the field in a link", "<a href=\"{{unsubscribe_url}}\">stop</a>", true, true},
    {"html: the address says so", "<p><A HREF='https://x.example/Unsubscribe?e={{email}}'>x</A>",
     true, true},
    {"html: the text says so", "<a class=\"f\"\n href=\"https://x.example/p\">Opt out</a>", true,
     true},
    {"html: the word outside a link", "<p>unsubscribe</p><a href=\"https://x.example/\">x</a>",
     true, false},
    {"html: not an a element", "<abbr title=\"unsubscribe\">u</abbr>", true, false},
    {"html: nothing", "<p>Hello</p>", true, false},
    {"does not compile", "{{#a}} {{unsubscribe_url}}", false, false},
};

static void
test_optout(void **state)
{
	(void)state;
	int fails = 0;
	for (size_t i = 0; i < sizeof(optout_cases) / sizeof(optout_cases[0]); i++) {
		bool got = tplfile_optout(optout_cases[i].part, optout_cases[i].html);
		if (got != optout_cases[i].want) {
			printf("FAIL optout %s: got %d want %d\n", optout_cases[i].label, got,
			       optout_cases[i].want);
			fails++;
		}
	}
	assert_int_equal(fails, 0);
}

/* Which column did a missing field mean? (issue #18, item 9) */
static void
test_nearest(void **state)
{
	(void)state;
	static const char *const cols[] = {
	    "email",   "First Name", "Last Name", "utm.source", "city",
	    "Country", "post-code",  "zip",       "",           "company_name",
	};
	static const struct {
		const char *want, *got; /* got: the suggestion, NULL for none */
	} near_cases[] = {
	    {"First_Name", "First Name"},
	    {"first name", "First Name"},
	    {"FIRSTNAME", "First Name"},
	    {"frist_name", "First Name"},
	    {"LastName", "Last Name"},
	    {"utm_source", "utm.source"},
	    {"cty", "city"},
	    {"country", "Country"},
	    {"postcode", "post-code"},
	    {"postcodes", "post-code"},
	    {"companyname", "company_name"},
	    {"compny", NULL},
	    {"zp", NULL},
	    {"name", NULL},
	    {"shoe_size", NULL},
	    {"___", NULL},
	    {"", NULL},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(near_cases) / sizeof(near_cases[0]); i++) {
		long k = tplfile_nearest(near_cases[i].want, cols, sizeof(cols) / sizeof(cols[0]));
		const char *got = k < 0 ? NULL : cols[k];
		if ((got == NULL) != (near_cases[i].got == NULL) ||
		    (got && strcmp(got, near_cases[i].got))) {
			printf("FAIL nearest '%s': got %s want %s\n", near_cases[i].want,
			       got ? got : "(none)",
			       near_cases[i].got ? near_cases[i].got : "(none)");
			fails++;
		}
	}
	/* The closest wins; on a tie, the first. */
	static const char *const two[] = {"abcdx", "abcde", "abcdy"};
	assert_int_equal(tplfile_nearest("abcde", two, 3), 1);
	assert_int_equal(tplfile_nearest("abcdz", two, 3), 0);
	assert_int_equal(tplfile_nearest("x", NULL, 0), -1);
	assert_int_equal(fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_nul),
	    cmocka_unit_test(test_optout),
	    cmocka_unit_test(test_nearest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
