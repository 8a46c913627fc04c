/*
 * test_http_client - the HTTP client against real servers on loopback:
 * tests/integration/https_server.py (good and hostile answers) behind a test
 * CA, names from tests/integration/dns_server.py. Each case is a table row:
 * how the server answers, and what the fetch must say.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/http_url.h"
#include "kirim/tls.h"

#include "test_servers.h"

#define PYTHON "/usr/bin/python3"
#define POLICY "version: STSv1\nmode: enforce\nmx: mx.a.test\nmax_age: 86400\n"

static char dir[64];
static int https_port, dns_port, ip_port;
static pid_t https_pid, dns_pid, ip_pid;

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static void
put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/www/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* start_https - tests/integration/https_server.py on port with the certificate NAME.pem */
static pid_t
start_https(const char *src, int port, const char *name)
{
	char script[512], portstr[16], log[256], cert[256], key[256], www[256];
	snprintf(script, sizeof(script), "%s/tests/integration/https_server.py", src);
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(www, sizeof(www), "%s/www", dir);
	char *argv[] = {PYTHON,  script, "--port", portstr, "--cert", cert,
	                "--key", key,    "--dir",  www,     NULL};
	return test_server_start(argv, log, TEST_TCP, port);
}

static int
setup(void **state)
{
	(void)state;
	const char *src = getenv("KIRIM_SRC");
	src = src && *src ? src : ".";
	snprintf(dir, sizeof(dir), "/tmp/kirim-https-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* The CA, and a certificate for the policy hosts of a.test (not of wrong.test). */
	sh("mkdir %s/www && %s %s/tests/integration/smtp_server.py --make-certs %s && "
	   "%s %s/tests/integration/smtp_server.py --make-cert %s web "
	   "mta-sts.a.test,mta-sts.wrong2.test",
	   dir, PYTHON, src, dir, PYTHON, src, dir);
	char zone[256];
	snprintf(zone, sizeof(zone), "%s/zone", dir);
	FILE *f = fopen(zone, "w");
	assert_non_null(f);
	fprintf(f, "mta-sts.a.test. 60 IN A 127.0.0.1\n"
	           "mta-sts.wrong.test. 60 IN A 127.0.0.1\n");
	fclose(f);
	put("mta-sts.a.test", POLICY);
	put("mta-sts.wrong.test", POLICY);

	char script[512], portstr[16], log[256];
	dns_port = test_free_port(TEST_UDP);
	snprintf(script, sizeof(script), "%s/tests/integration/dns_server.py", src);
	snprintf(portstr, sizeof(portstr), "%d", dns_port);
	snprintf(log, sizeof(log), "%s/dns.log", dir);
	char *dargv[] = {PYTHON, script, portstr, "zone", zone, NULL};
	dns_pid = test_server_start(dargv, log, TEST_UDP, dns_port);

	https_port = test_free_port(TEST_TCP);
	https_pid = start_https(src, https_port, "web");
	/* A server whose certificate names IP:127.0.0.1 (and mx.test). */
	ip_port = test_free_port(TEST_TCP);
	ip_pid = start_https(src, ip_port, "server");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	test_server_stop(https_pid);
	test_server_stop(ip_pid);
	test_server_stop(dns_pid);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", dir);
	return 0;
}

struct got {
	int calls, ok, status, tls_failed;
	char error[400];
	char body[256];
	size_t len;
};

static void
on_done(void *arg, const struct http_client_result *r)
{
	struct got *g = arg;
	g->calls++;
	g->ok = r->ok;
	g->status = r->http_status;
	g->tls_failed = r->tls_failed;
	snprintf(g->error, sizeof(g->error), "%s", r->error ? r->error : "");
	g->len = r->len;
	snprintf(g->body, sizeof(g->body), "%s", r->ok ? r->body : "");
}

static void
test_fetch(void **state)
{
	(void)state;
	static const struct {
		const char *label, *host, *how; /* how: the .how file ("" none) */
		unsigned port_off;              /* 1: a port nobody listens on */
		int ok;
		const char *want; /* in the body when ok, in the error otherwise */
		int tls_failed;
	} cases[] = {
	    {"a policy", "mta-sts.a.test", "", 0, 1, "mode: enforce", 0},
	    {"chunked", "mta-sts.a.test", "chunked", 0, 1, "max_age: 86400", 0},
	    {"redirect not followed", "mta-sts.a.test", "redirect", 0, 0, "HTTP 301, a redirect",
	     0},
	    {"huge", "mta-sts.a.test", "huge", 0, 0, "larger than 65536 bytes", 0},
	    {"html", "mta-sts.a.test", "html", 0, 0, "content type \"text/html\"", 0},
	    {"not found", "mta-sts.a.test", "404", 0, 0, "HTTP 404", 0},
	    {"slow", "mta-sts.a.test", "slow", 0, 0, "no complete answer within 3 s", 0},
	    {"certificate for another name", "mta-sts.wrong.test", "", 0, 0, "certificate", 1},
	    {"no address", "mta-sts.none.test", "", 0, 0, "mta-sts.none.test: no address", 0},
	    {"nothing listens", "mta-sts.a.test", "", 1, 0, "cannot connect", 0},
	};
	char ca[256];
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	struct tls_ctx *ctx;
	char err[256];
	if (tls_ctx_new(TLS_POLICY_VERIFY, ca, &ctx, err, sizeof(err)) < 0)
		fail_msg("tls_ctx_new: %s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char how[256];
		snprintf(how, sizeof(how), "%s/www/mta-sts.a.test.how", dir);
		if (cases[i].how[0])
			put("mta-sts.a.test.how", cases[i].how);
		else
			unlink(how);
		uv_loop_t loop;
		uv_loop_init(&loop);
		char servers[64];
		snprintf(servers, sizeof(servers), "127.0.0.1:%d", dns_port);
		struct dns_opts dopts = {.servers = servers, .flags = DNS_NO_IPV6};
		struct dns *d = dns_new(&loop, &dopts, err, sizeof(err));
		assert_non_null(d);
		struct http_url u = {.tls = true,
		                     .port = cases[i].port_off ? (unsigned)test_free_port(TEST_TCP)
		                                               : (unsigned)https_port,
		                     .path = "/.well-known/mta-sts.txt"};
		snprintf(u.host, sizeof(u.host), "%s", cases[i].host);
		struct http_client_opts o = {
		    .url = &u,
		    .tls = ctx,
		    .max_body = 65536,
		    .timeout_ms = 3000,
		    .want_type = "text/plain",
		    .user_agent = "kirim-test",
		};
		struct got g = {0};
		assert_non_null(http_client_start(&loop, d, &o, on_done, &g));
		assert_int_equal(g.calls, 0); /* never inside http_client_start */
		while (g.calls == 0)
			uv_run(&loop, UV_RUN_ONCE);
		dns_free(d);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_int_equal(uv_loop_close(&loop), 0);
		assert_int_equal(g.calls, 1);
		const char *where = cases[i].ok ? g.body : g.error;
		if (g.ok != cases[i].ok || strstr(where, cases[i].want) == NULL ||
		    g.tls_failed != cases[i].tls_failed)
			fail_msg(
			    "%s: got ok=%d tls_failed=%d body [%s] error [%s], want ok=%d [%s]",
			    cases[i].label, g.ok, g.tls_failed, g.body, g.error, cases[i].ok,
			    cases[i].want);
	}
	tls_ctx_free(ctx);
}

/* An IP address in the URL: connected to without a look-up (the test's DNS server knows no
 * such name, so a look-up would fail), the certificate checked against the address (IP
 * subjectAltNames), not a name. */
static void
test_ip_literal(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int ip_server; /* 1: the server whose certificate names 127.0.0.1 */
		int post, ok;
		const char *want; /* in the error when not ok */
		int tls_failed;
	} cases[] = {
	    {"GET by address", 1, 0, 1, "", 0},
	    {"POST by address with headers", 1, 1, 1, "", 0},
	    {"a certificate without the address", 0, 0, 0, "IP address mismatch", 1},
	    {"a certificate without the address, POST", 0, 1, 0, "IP address mismatch", 1},
	};
	char ca[256], err[256], servers[64];
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	struct tls_ctx *ctx;
	assert_int_equal(tls_ctx_new(TLS_POLICY_VERIFY, ca, &ctx, err, sizeof(err)), 0);
	put("127.0.0.1", POLICY);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uv_loop_t loop;
		uv_loop_init(&loop);
		snprintf(servers, sizeof(servers), "127.0.0.1:%d", dns_port);
		struct dns_opts dopts = {.servers = servers, .flags = DNS_NO_IPV6};
		struct dns *d = dns_new(&loop, &dopts, err, sizeof(err));
		char url[128];
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/.well-known/mta-sts.txt",
		         cases[i].ip_server ? ip_port : https_port);
		struct http_url u;
		const char *why;
		assert_int_equal(http_url_parse(url, &u, &why), 0);
		struct http_client_opts o = {.url = &u,
		                             .tls = ctx,
		                             .max_body = 65536,
		                             .timeout_ms = 5000,
		                             .want_type = "text/plain",
		                             .headers = "X-Test: 1\r\n"};
		if (cases[i].post) {
			o.post_type = "application/json";
			o.post_body = "{}";
			o.post_len = 2;
		}
		struct got g = {0};
		assert_non_null(http_client_start(&loop, d, &o, on_done, &g));
		while (g.calls == 0)
			uv_run(&loop, UV_RUN_ONCE);
		dns_free(d);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_int_equal(uv_loop_close(&loop), 0);
		if (g.ok != cases[i].ok || g.tls_failed != cases[i].tls_failed ||
		    strstr(g.error, cases[i].want) == NULL ||
		    (g.ok && !cases[i].post && strstr(g.body, "mode: enforce") == NULL))
			fail_msg(
			    "%s: got ok=%d tls_failed=%d body [%s] error [%s], want ok=%d [%s]",
			    cases[i].label, g.ok, g.tls_failed, g.body, g.error, cases[i].ok,
			    cases[i].want);
	}
	/* The POST arrived, with its type. */
	char posts[256], line[256] = "";
	snprintf(posts, sizeof(posts), "%s/www/127.0.0.1.posts", dir);
	FILE *f = fopen(posts, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "/.well-known/mta-sts.txt application/json\n");
	tls_ctx_free(ctx);
}

/* https is verified or not started: a context that does not verify is refused. */
static void
test_unverified_refused(void **state)
{
	(void)state;
	struct tls_ctx *ctx;
	char err[256];
	assert_int_equal(tls_ctx_new(TLS_POLICY_REQUIRED, NULL, &ctx, err, sizeof(err)), 0);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct http_url u;
	const char *why;
	assert_int_equal(http_url_parse("https://127.0.0.1:1/", &u, &why), 0);
	struct http_client_opts o = {.url = &u, .tls = ctx, .timeout_ms = 1000};
	struct got g = {0};
	assert_null(http_client_start(&loop, NULL, &o, on_done, &g));
	o.tls = NULL;
	assert_null(http_client_start(&loop, NULL, &o, on_done, &g));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(g.calls, 0);
	tls_ctx_free(ctx);
}

/* A fetch cancelled while its look-up runs, and one cancelled while connected: no
 * callback, every handle closed. */
static void
test_cancel(void **state)
{
	(void)state;
	char ca[256], err[256], servers[64];
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	struct tls_ctx *ctx;
	assert_int_equal(tls_ctx_new(TLS_POLICY_VERIFY, ca, &ctx, err, sizeof(err)), 0);
	put("mta-sts.a.test.how", "slow");
	for (int when = 0; when < 2; when++) {
		uv_loop_t loop;
		uv_loop_init(&loop);
		snprintf(servers, sizeof(servers), "127.0.0.1:%d", dns_port);
		struct dns_opts dopts = {.servers = servers, .flags = DNS_NO_IPV6};
		struct dns *d = dns_new(&loop, &dopts, err, sizeof(err));
		struct http_url u = {.tls = true,
		                     .port = (unsigned)https_port,
		                     .host = "mta-sts.a.test",
		                     .path = "/.well-known/mta-sts.txt"};
		struct http_client_opts o = {
		    .url = &u, .tls = ctx, .max_body = 65536, .timeout_ms = 10000};
		struct got g = {0};
		struct http_client *h = http_client_start(&loop, d, &o, on_done, &g);
		assert_non_null(h);
		if (when == 1)
			for (int k = 0; k < 50; k++)
				uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
		http_client_cancel(h);
		dns_free(d);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_int_equal(uv_loop_close(&loop), 0);
		assert_int_equal(g.calls, 0);
	}
	tls_ctx_free(ctx);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_ip_literal),
	    cmocka_unit_test(test_unverified_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
