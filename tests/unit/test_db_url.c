/* test_db_url - database names: which kind, and the password hidden for printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/db_url.h"

static void
test_kind(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in;
		enum db_url_kind want;
	} cases[] = {
	    {"plain file", "kirim.db", DB_URL_SQLITE},
	    {"absolute path", "/var/lib/kirim/kirim.db", DB_URL_SQLITE},
	    {"relative with a colon", "./a:b.db", DB_URL_SQLITE},
	    {"colon but no slashes", "postgresql:kirim", DB_URL_SQLITE},
	    {"empty", "", DB_URL_SQLITE},
	    {"postgresql", "postgresql://kirim@127.0.0.1:5432/kirim", DB_URL_POSTGRES},
	    {"postgres", "postgres://h/db", DB_URL_POSTGRES},
	    {"upper case scheme", "PostgreSQL://h/db", DB_URL_POSTGRES},
	    {"bare scheme", "postgresql://", DB_URL_POSTGRES},
	    {"socket folder", "postgresql://%2Fvar%2Frun%2Fpostgresql/kirim", DB_URL_POSTGRES},
	    {"mysql", "mysql://h/db", DB_URL_OTHER},
	    {"file URI", "file:///tmp/kirim.db", DB_URL_OTHER},
	    {"postgresql+x", "postgresql+psycopg://h/db", DB_URL_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum db_url_kind got = db_url_kind(cases[i].in);
		if (got != cases[i].want)
			fail_msg("%s: db_url_kind(%s) = %d, want %d", cases[i].label, cases[i].in,
			         got, cases[i].want);
	}
}

static void
test_redact(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
	    {"no password", "postgresql://kirim@h:5432/db", "postgresql://kirim@h:5432/db"},
	    {"user password", "postgresql://kirim:s3cret@h/db", "postgresql://kirim:***@h/db"},
	    {"password with @ and :", "postgresql://u:a:b@c@h/db", "postgresql://u:***@h/db"},
	    {"empty password", "postgresql://u:@h/db", "postgresql://u:***@h/db"},
	    {"no user", "postgresql://h:5432/db", "postgresql://h:5432/db"},
	    {"query password", "postgresql://h/db?sslmode=require&password=x&user=u",
	     "postgresql://h/db?sslmode=require&password=***&user=u"},
	    {"first parameter", "postgresql://h/db?password=x", "postgresql://h/db?password=***"},
	    {"not a parameter name", "postgresql://h/db?application_name=password=x",
	     "postgresql://h/db?application_name=password=x"},
	    {"colon in the path", "postgresql://h/db:x@y", "postgresql://h/db:x@y"},
	    {"a path", "kirim.db", "kirim.db"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		db_url_redact(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].label, out, cases[i].want);
	}
	/* Cut to fit, NUL-terminated. */
	char small[12];
	db_url_redact("postgresql://u:secret@h/db", small, sizeof(small));
	assert_string_equal(small, "postgresql:");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind),
	    cmocka_unit_test(test_redact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
