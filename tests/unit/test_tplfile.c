/* test_tplfile - one-file templates split into subject, text and HTML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
