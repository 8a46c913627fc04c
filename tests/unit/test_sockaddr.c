/* test_sockaddr - socket addresses as text: one row per case, the address and port as
 * sockaddr_ip and sockaddr_port give them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "kirim/sockaddr.h"

static const struct {
	int family;
	const char *in; /* for inet_pton */
	unsigned port;
	size_t outsz; /* 0: SOCKADDR_IP_MAX */
	const char *want;
	unsigned want_port;
} cases[] = {
    {AF_INET, "127.0.0.1", 25, 0, "127.0.0.1", 25},
    {AF_INET, "203.0.113.254", 65535, 0, "203.0.113.254", 65535},
    {AF_INET6, "::1", 2525, 0, "::1", 2525},
    {AF_INET6, "2001:DB8:0:0:0:0:0:1", 0, 0, "2001:db8::1", 0},
    {AF_INET6, "::ffff:127.0.0.2", 80, 0, "::ffff:127.0.0.2", 80},
    {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1, 0,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
    /* Too little room: nothing rather than a cut address. */
    {AF_INET, "192.168.100.200", 25, 8, "", 25},
    /* A family without an IP address. */
    {AF_UNIX, NULL, 0, 0, "", 0},
};

static void
test_text(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)cases[i].family;
		if (cases[i].family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			assert_int_equal(inet_pton(AF_INET, cases[i].in, &in->sin_addr), 1);
			in->sin_port = htons((uint16_t)cases[i].port);
		} else if (cases[i].family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			assert_int_equal(inet_pton(AF_INET6, cases[i].in, &in6->sin6_addr), 1);
			in6->sin6_port = htons((uint16_t)cases[i].port);
		}
		char out[SOCKADDR_IP_MAX] = "junk";
		size_t outsz = cases[i].outsz ? cases[i].outsz : sizeof(out);
		sockaddr_ip((const struct sockaddr *)&ss, out, outsz);
		unsigned port = sockaddr_port((const struct sockaddr *)&ss);
		if (strcmp(out, cases[i].want) != 0 || port != cases[i].want_port) {
			printf("case %zu (%s): got \"%s\" port %u, want \"%s\" port %u\n", i,
			       cases[i].in ? cases[i].in : "-", out, port, cases[i].want,
			       cases[i].want_port);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
