/* test_smtp_url - relay URL parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/smtp_url.h"

static const struct {
	const char *in;
	int ok;
	int tls;
	const char *host;
	unsigned port;
	const char *user;
	const char *err; /* substring of the error */
} cases[] = {
    {"smtp://relay.example.com", 1, 0, "relay.example.com", 25, "", NULL},
    {"smtp://relay.example.com:587", 1, 0, "relay.example.com", 587, "", NULL},
    {"smtp://relay.example.com:587/", 1, 0, "relay.example.com", 587, "", NULL},
    {"SMTPS://relay.example.com", 1, 1, "relay.example.com", 465, "", NULL},
    {"smtps://apikey@smtp.example.net:2465", 1, 1, "smtp.example.net", 2465, "apikey", NULL},
    {"smtp://me%40corp.example@127.0.0.1:2525", 1, 0, "127.0.0.1", 2525, "me@corp.example", NULL},
    {"smtp://[::1]:2525", 1, 0, "::1", 2525, "", NULL},
    {"smtp://[::1]", 1, 0, "::1", 25, "", NULL},
    {"http://relay.example.com", 0, 0, NULL, 0, NULL, "starts with smtp://"},
    {"smtp://user:secret@relay.example.com", 0, 0, NULL, 0, NULL, "no password in the URL"},
    {"smtp://", 0, 0, NULL, 0, NULL, "no host"},
    {"smtp://relay.example.com:0", 0, 0, NULL, 0, NULL, "1 to 65535"},
    {"smtp://relay.example.com:65536", 0, 0, NULL, 0, NULL, "1 to 65535"},
    {"smtp://relay.example.com:25x", 0, 0, NULL, 0, NULL, "bad port"},
    {"smtp://relay.example.com:", 0, 0, NULL, 0, NULL, "bad port"},
    {"smtp://relay.example.com/path", 0, 0, NULL, 0, NULL, "no path"},
    {"smtp://relay.example.com?x=1", 0, 0, NULL, 0, NULL, "no path"},
    {"smtp://rel ay.example.com", 0, 0, NULL, 0, NULL, "bad character"},
    {"smtp://[::1", 0, 0, NULL, 0, NULL, "unclosed"},
    {"smtp://@relay.example.com", 0, 0, NULL, 0, NULL, "bad user"},
    {"smtp://a%4@relay.example.com", 0, 0, NULL, 0, NULL, "bad user"},
    {"smtp://a%0d%0a@relay.example.com", 0, 0, NULL, 0, NULL, "bad user"},
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_url u;
		char err[300] = "";
		int rc = smtp_url_parse(cases[i].in, &u, err, sizeof(err));
		if (!cases[i].ok) {
			if (rc == 0 || strstr(err, cases[i].err) == NULL)
				fail_msg("%s: got rc %d err [%s] want an error with [%s]",
				         cases[i].in, rc, err, cases[i].err);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: unexpected error [%s]", cases[i].in, err);
		if (u.implicit_tls != cases[i].tls || strcmp(u.host, cases[i].host) != 0 ||
		    u.port != cases[i].port || strcmp(u.user, cases[i].user) != 0)
			fail_msg("%s: got tls=%d host=%s port=%u user=%s", cases[i].in,
			         u.implicit_tls, u.host, u.port, u.user);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
