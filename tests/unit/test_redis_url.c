/* test_redis_url - where the shared throttles' Redis is: one row per case, what parses (as
 * redis_url_format prints it, with the user and password) and why the rest does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/redis_url.h"

static const struct {
	const char *in;
	const char *want; /* "FORMATTED user=U password=P", or a substring of the reason */
} cases[] = {
    {"redis://127.0.0.1", "redis://127.0.0.1:6379/0 user= password="},
    {"redis://127.0.0.1:6380", "redis://127.0.0.1:6380/0 user= password="},
    {"redis://127.0.0.1:6380/", "redis://127.0.0.1:6380/0 user= password="},
    {"REDIS://Cache.Example.COM:7000/3", "redis://cache.example.com:7000/3 user= password="},
    {"redis://:s3cret@127.0.0.1/2", "redis://127.0.0.1:6379/2 user= password=s3cret"},
    {"redis://kirim:p@ss@10.0.0.5:6379", "redis://10.0.0.5:6379/0 user=kirim password=p@ss"},
    {"redis://[::1]:6390/1", "redis://[::1]:6390/1 user= password="},
    {"redis://[2001:DB8::1]", "redis://[2001:db8::1]:6379/0 user= password="},
    {"redis://redis_host-1.internal", "redis://redis_host-1.internal:6379/0 user= password="},
    {"unix:///run/redis/redis.sock", "unix:///run/redis/redis.sock user= password="},
    {"unix:///run/redis.sock?db=4", "unix:///run/redis.sock?db=4 user= password="},
    {"/var/run/redis.sock", "unix:///var/run/redis.sock user= password="},
    {"unix://:pw@/run/redis.sock?db=1", "unix:///run/redis.sock?db=1 user= password=pw"},
    {"unix://kirim:pw@/run/redis.sock", "unix:///run/redis.sock user=kirim password=pw"},
    {"unix://pw@/run/redis.sock", ":PASSWORD@"},
    /* Refused */
    {"", "empty"},
    {"rediss://127.0.0.1", "TLS"},
    {"http://127.0.0.1:6379", "starts with redis://"},
    {"127.0.0.1:6379", "starts with redis://"},
    {"redis://", "no host"},
    {"redis://:6379", "no host"},
    {"redis:///0", "no host"},
    {"redis://127.0.0.1:0", "1 to 65535"},
    {"redis://127.0.0.1:65536", "1 to 65535"},
    {"redis://127.0.0.1:", "1 to 65535"},
    {"redis://127.0.0.1:63x9", "1 to 65535"},
    {"redis://127.0.0.1/x", "database"},
    {"redis://127.0.0.1/10000", "database"},
    {"redis://user@127.0.0.1", ":PASSWORD@"},
    {"redis://user:@127.0.0.1", "empty password"},
    {"redis://[::1", "IPv6"},
    {"redis://[]:6379", "IPv6"},
    {"redis://[::1]x", "after ]"},
    {"redis://exa%mple.com", "letters, digits"},
    {"redis://127.0.0.1 /0", "blanks"},
    {"redis://127.0.0.1\r\n", "control"},
    {"unix://run/redis.sock", "absolute"},
    {"unix://", "absolute"},
    {"unix:///r.sock?database=1", "?db=N"},
    {"unix:///r.sock?db=", "?db=N"},
    {"unix:///"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaa.sock",
     "too long"},
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct redis_url u;
		memset(&u, 0x5a, sizeof(u));
		const char *why = NULL;
		char got[700], f[400];
		if (redis_url_parse(cases[i].in, &u, &why) == 0)
			snprintf(got, sizeof(got), "%s user=%s password=%s",
			         redis_url_format(&u, f, sizeof(f)), u.user, u.password);
		else
			snprintf(got, sizeof(got), "%s", why);
		if (strstr(got, cases[i].want) == NULL)
			fail_msg("case %zu [%s]: got [%s] want [%s]", i, cases[i].in, got,
			         cases[i].want);
	}
}

/* A refused URL leaves the caller's struct as it was. */
static void
test_untouched(void **state)
{
	(void)state;
	struct redis_url u = {.port = 1234};
	const char *why = NULL;
	assert_int_equal(redis_url_parse("redis://127.0.0.1:0", &u, &why), -1);
	assert_int_equal(u.port, 1234);
	assert_non_null(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
