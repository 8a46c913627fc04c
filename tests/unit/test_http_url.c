/* test_http_url - the URLs of kirim's HTTP requests: one row per case, what parses and why
 * the rest does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/http_url.h"

static const struct {
	const char *in;
	const char *want; /* "tls ip port_given port host path", or a substring of the reason */
} cases[] = {
    {"http://hooks.example.com/kirim", "0 0 0 80 hooks.example.com /kirim"},
    {"https://hooks.example.com/kirim", "1 0 0 443 hooks.example.com /kirim"},
    {"HTTPS://Hooks.Example.COM", "1 0 0 443 hooks.example.com /"},
    {"https://hooks.example.com:8443/a/b?x=1&y=%20", "1 0 1 8443 hooks.example.com /a/b?x=1&y=%20"},
    {"https://hooks.example.com?x=1", "1 0 0 443 hooks.example.com /?x=1"},
    {"http://hooks.example.com:80/", "0 0 1 80 hooks.example.com /"},
    {"https://127.0.0.1:9443/hook", "1 1 1 9443 127.0.0.1 /hook"},
    {"http://10.1.2.3/", "0 1 0 80 10.1.2.3 /"},
    {"https://[::1]:9443/hook", "1 1 1 9443 ::1 /hook"},
    {"https://[2001:DB8::1]/", "1 1 0 443 2001:db8::1 /"},
    {"http://[::ffff:127.0.0.1]:8080", "0 1 1 8080 ::ffff:127.0.0.1 /"},
    {"https://hook_host.internal/x", "1 0 0 443 hook_host.internal /x"},
    {"http://localhost:1/", "0 0 1 1 localhost /"},
    {"http://localhost:65535/", "0 0 1 65535 localhost /"},
    /* Schemes */
    {"ftp://hooks.example.com/", "not an http:// or https:// URL"},
    {"https:/hooks.example.com/", "not an http:// or https:// URL"},
    {"hooks.example.com/kirim", "not an http:// or https:// URL"},
    {"", "not an http:// or https:// URL"},
    /* User info */
    {"https://user:pw@hooks.example.com/", "user info"},
    {"https://user@hooks.example.com/", "user info"},
    {"https://@hooks.example.com/", "user info"},
    {"https://hooks.example.com/a@b", "1 0 0 443 hooks.example.com /a@b"},
    /* Hosts */
    {"https:///kirim", "no host"},
    {"https://:443/kirim", "no host"},
    {"https://hooks.exa mple.com/", "blanks"},
    {"https://hooks.example.com\\@evil.example/", "backslashes"},
    {"https://hooks%2eexample.com/", "bad host name"},
    {"https://127.1/", "looks like an IPv4 address"},
    {"https://10.0.0/", "looks like an IPv4 address"},
    {"https://300.1.1.1/", "looks like an IPv4 address"},
    {"https://[::1/", "bad IPv6"},
    {"https://[::g]/", "bad IPv6"},
    {"https://[127.0.0.1]/", "bad IPv6"},
    {"https://[fe80::1%25eth0]/", "bad IPv6"},
    {"https://[::1]x/", "bad IPv6"},
    {"https://::1/", "in brackets"},
    {"https://2001:db8::1:443/", "in brackets"},
    /* Ports */
    {"https://hooks.example.com:0/", "(1 to 65535)"},
    {"https://hooks.example.com:65536/", "(1 to 65535)"},
    {"https://hooks.example.com:99999/", "(1 to 65535)"},
    {"https://hooks.example.com:123456/", "bad port"},
    {"https://hooks.example.com:/", "bad port"},
    {"https://hooks.example.com:-1/", "bad port"},
    {"https://hooks.example.com:44x/", "bad port"},
    {"https://hooks.example.com:+443/", "bad port"},
    {"https://[::1]:/", "bad port"},
    /* The rest */
    {"https://hooks.example.com/#frag", "fragment"},
    {"https://hooks.example.com/a\tb", "control characters"},
    {"https://hooks.example.com/\r\nX-Injected: 1", "control characters"},
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_url u;
		const char *why = NULL;
		char got[2400];
		if (http_url_parse(cases[i].in, &u, &why) < 0)
			snprintf(got, sizeof(got), "%s", why);
		else
			snprintf(got, sizeof(got), "%d %d %d %u %s %s", u.tls, u.ip, u.port_given,
			         u.port, u.host, u.path);
		bool parsed = cases[i].want[0] == '0' || cases[i].want[0] == '1';
		if (parsed ? strcmp(got, cases[i].want) != 0 : strstr(got, cases[i].want) == NULL)
			fail_msg("[%s]: got [%s] want [%s]", cases[i].in, got, cases[i].want);
	}
}

static void
test_long(void **state)
{
	(void)state;
	char url[4200], host[300];
	struct http_url u;
	const char *why = NULL;
	memset(host, 'a', 256);
	host[256] = '\0';
	snprintf(url, sizeof(url), "https://%s/", host);
	assert_int_equal(http_url_parse(url, &u, &why), -1);
	assert_non_null(strstr(why, "longer than 255"));
	host[255] = '\0';
	snprintf(url, sizeof(url), "https://%s/", host);
	assert_int_equal(http_url_parse(url, &u, &why), 0);
	char path[2100];
	memset(path, 'p', 2047);
	path[2047] = '\0';
	snprintf(url, sizeof(url), "https://h.example/%s", path);
	assert_int_equal(http_url_parse(url, &u, &why), -1);
	assert_non_null(strstr(why, "path longer"));
	path[2046] = '\0';
	snprintf(url, sizeof(url), "https://h.example/%s", path);
	assert_int_equal(http_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.path), 2047);
}

static void
test_loopback(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		bool want;
	} t[] = {
	    {"http://127.0.0.1/", true},
	    {"http://127.8.9.10:81/", true},
	    {"http://localhost/", true},
	    {"http://[::1]/", true},
	    {"http://[0:0:0:0:0:0:0:1]/", true},
	    {"http://10.0.0.1/", false},
	    {"http://[::2]/", false},
	    {"http://127.example/", false},
	    {"http://localhost.evil.example/", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct http_url u;
		const char *why;
		assert_int_equal(http_url_parse(t[i].url, &u, &why), 0);
		if (http_url_loopback(&u) != t[i].want)
			fail_msg("%s: got %d want %d", t[i].url, !t[i].want, t[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_long),
	    cmocka_unit_test(test_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
