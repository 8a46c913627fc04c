/*
 * test_dns - the MX resolver against a real dnsmasq (and a python3-dnspython
 * peer for SERVFAIL/REFUSED), each on a free loopback UDP port, each stopped
 * by its PID. A missing dnsmasq fails the tests; it never skips them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/dns.h"
#include "kirim/xmalloc.h"

#include "test_servers.h"

#define DNSMASQ "/usr/sbin/dnsmasq"
#define PYTHON "/usr/bin/python3"

/* ---- processes and ports ---- */

struct server {
	char dir[64];
	pid_t pid;
	int port;
	char servers[64];
};

static int dnsmasq_try(struct server *s, const char *records);

/* Start dnsmasq answering for .test with the given extra conf text. */
static void
dnsmasq_start(struct server *s, const char *records)
{
	if (access(DNSMASQ, X_OK) != 0)
		fail_msg("%s is missing: install Debian package dnsmasq-base", DNSMASQ);
	snprintf(s->dir, sizeof(s->dir), "/tmp/kirim-dns-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	/* A free port can be taken by another test between the check and dnsmasq's bind:
	 * try a few. */
	for (int attempt = 0;; attempt++) {
		s->port = test_free_port(TEST_UDP);
		if (dnsmasq_try(s, records) == 0)
			return;
		if (attempt == 4)
			fail_msg("dnsmasq did not start on 5 free ports (see %s/dnsmasq.log)",
			         s->dir);
	}
}

/* dnsmasq_try - start dnsmasq on s->port; 0, or -1 when it exited (the port was taken) */
static int
dnsmasq_try(struct server *s, const char *records)
{
	snprintf(s->servers, sizeof(s->servers), "127.0.0.1:%d", s->port);
	char conf[128], log[128];
	snprintf(conf, sizeof(conf), "%s/dnsmasq.conf", s->dir);
	snprintf(log, sizeof(log), "%s/dnsmasq.log", s->dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
	        "port=%d\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n"
	        "local=/test/\npid-file=\nuser=root\n%s",
	        s->port, records);
	fclose(f);
	char arg[160];
	snprintf(arg, sizeof(arg), "--conf-file=%s", conf);
	char *argv[] = {DNSMASQ, "-k", arg, NULL};
	s->pid = test_server_try(argv, log, TEST_UDP, s->port);
	return s->pid < 0 ? -1 : 0;
}

static void
pyserver_start(struct server *s, const char *mode)
{
	if (access(PYTHON, X_OK) != 0)
		fail_msg("%s is missing", PYTHON);
	const char *src = getenv("KIRIM_SRC");
	char script[512], portstr[16], log[64];
	snprintf(script, sizeof(script), "%s/tests/integration/dns_server.py",
	         src && *src ? src : ".");
	if (access(script, R_OK) != 0)
		fail_msg("%s is missing (set KIRIM_SRC)", script);
	s->dir[0] = '\0';
	s->port = test_free_port(TEST_UDP);
	snprintf(s->servers, sizeof(s->servers), "127.0.0.1:%d", s->port);
	snprintf(portstr, sizeof(portstr), "%d", s->port);
	snprintf(log, sizeof(log), "/tmp/kirim-dns-py-%d.log", s->port);
	char *argv[] = {PYTHON, script, portstr, (char *)mode, NULL};
	s->pid = test_server_start(argv, log, TEST_UDP, s->port);
	unlink(log);
}

/* pyzone_start - dns_server.py answering from a zone file written with text (in a fresh
 * folder, removed by server_stop) */
static void
pyzone_start(struct server *s, const char *text)
{
	const char *src = getenv("KIRIM_SRC");
	char script[512], portstr[16], log[160], zone[128];
	snprintf(script, sizeof(script), "%s/tests/integration/dns_server.py",
	         src && *src ? src : ".");
	if (access(script, R_OK) != 0)
		fail_msg("%s is missing (set KIRIM_SRC)", script);
	snprintf(s->dir, sizeof(s->dir), "/tmp/kirim-dns-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(zone, sizeof(zone), "%s/zone", s->dir);
	FILE *f = fopen(zone, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	s->port = test_free_port(TEST_UDP);
	snprintf(s->servers, sizeof(s->servers), "127.0.0.1:%d", s->port);
	snprintf(portstr, sizeof(portstr), "%d", s->port);
	snprintf(log, sizeof(log), "%s/server.log", s->dir);
	char *argv[] = {PYTHON, script, portstr, "zone", zone, NULL};
	s->pid = test_server_start(argv, log, TEST_UDP, s->port);
}

static void
server_stop(struct server *s)
{
	test_server_stop(s->pid);
	if (s->dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
		if (system(cmd) != 0)
			print_message("could not remove %s\n", s->dir);
	}
}

/* ---- lookups ---- */

struct got {
	int calls;
	int status;
	char error[400];
	struct dns_mx_host hosts[DNS_MAX_HOSTS];
	size_t nhosts;
	int from_a;
	int secure;
	unsigned ttl;
};

static void
on_mx(void *arg, const struct dns_mx_result *r)
{
	struct got *g = arg;
	g->calls++;
	g->status = r->status;
	snprintf(g->error, sizeof(g->error), "%s", r->error ? r->error : "");
	g->nhosts = r->nhosts;
	for (size_t i = 0; i < r->nhosts; i++)
		g->hosts[i] = r->hosts[i];
	g->from_a = r->from_a_fallback;
	g->secure = r->secure;
	g->ttl = r->ttl;
	if (r->status == DNS_OK)
		assert_null(r->error);
	else
		assert_non_null(r->error);
}

static struct dns *
new_resolver(uv_loop_t *loop, const char *servers, unsigned flags, unsigned timeout_ms)
{
	char err[256] = "";
	struct dns_opts o = {.servers = servers,
	                     .flags = flags,
	                     .timeout_ms = timeout_ms,
	                     .tries = timeout_ms ? 1 : 0};
	struct dns *d = dns_new(loop, &o, err, sizeof(err));
	if (d == NULL)
		fail_msg("dns_new: %s", err);
	return d;
}

static void
resolve(uv_loop_t *loop, struct dns *d, const char *domain, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(dns_resolve_mx(d, domain, on_mx, g), 0);
	/* The callback never runs inside dns_resolve_mx. */
	assert_int_equal(g->calls, 0);
	while (g->calls == 0)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(g->calls, 1);
}

static void
close_resolver(uv_loop_t *loop, struct dns *d)
{
	dns_free(d);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
addr_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)n);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
		          (socklen_t)n);
}

/* ---- cases ---- */

static const char records[] = "mx-host=pref.test,mx2.test,20\n"
                              "mx-host=pref.test,mx1.test,10\n"
                              "host-record=mx1.test,127.0.0.11\n"
                              "host-record=mx2.test,127.0.0.12\n"
                              "host-record=plain.test,127.0.0.20\n"
                              "mx-host=nullmx.test,.,0\n"
                              "mx-host=dangling.test,nohost.test,10\n"
                              "host-record=v6.test,127.0.0.30,::1\n";

struct mx_case {
	const char *label;
	const char *domain;
	int status;
	size_t nhosts;
	const char *host0; /* NULL: not checked */
	unsigned pref0;
	const char *addr0;
	int from_a;
	const char *host1;
};

static const struct mx_case mx_cases[] = {
    {"preference order", "pref.test", DNS_OK, 2, "mx1.test", 10, "127.0.0.11", 0, "mx2.test"},
    {"case and trailing dot", "PREF.Test.", DNS_OK, 2, "mx1.test", 10, "127.0.0.11", 0, "mx2.test"},
    {"A fallback without MX", "plain.test", DNS_OK, 1, "plain.test", 0, "127.0.0.20", 1, NULL},
    {"A and AAAA fallback", "v6.test", DNS_OK, 1, "v6.test", 0, "127.0.0.30", 1, NULL},
    {"null MX", "nullmx.test", DNS_NULLMX, 0, NULL, 0, NULL, 0, NULL},
    {"NXDOMAIN", "nosuch.test", DNS_NXDOMAIN, 0, NULL, 0, NULL, 0, NULL},
    {"MX host without address", "dangling.test", DNS_NODATA, 0, NULL, 0, NULL, 0, NULL},
};

static void
test_mx_table(void **state)
{
	(void)state;
	struct server s;
	dnsmasq_start(&s, records);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, DNS_NO_CACHE, 0);
	int failed = 0;
	for (size_t i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
		const struct mx_case *c = &mx_cases[i];
		struct got g;
		resolve(&loop, d, c->domain, &g);
		char a0[64] = "";
		if (g.nhosts > 0 && g.hosts[0].naddrs > 0)
			addr_str(&g.hosts[0].addrs[0], a0, sizeof(a0));
		int ok = g.status == c->status && g.nhosts == c->nhosts && g.from_a == c->from_a &&
		         (c->host0 == NULL ||
		          (strcmp(g.hosts[0].name, c->host0) == 0 && g.hosts[0].pref == c->pref0 &&
		           strcmp(a0, c->addr0) == 0)) &&
		         (c->host1 == NULL || strcmp(g.hosts[1].name, c->host1) == 0);
		if (!ok) {
			failed++;
			print_message(
			    "FAIL %s: got status=%s nhosts=%zu host0=%s pref0=%u addr0=%s "
			    "from_a=%d error=\"%s\"; want status=%s nhosts=%zu host0=%s "
			    "pref0=%u addr0=%s from_a=%d\n",
			    c->label, dns_status_name(g.status), g.nhosts,
			    g.nhosts ? g.hosts[0].name : "-", g.nhosts ? g.hosts[0].pref : 0, a0,
			    g.from_a, g.error, dns_status_name(c->status), c->nhosts,
			    c->host0 ? c->host0 : "-", c->pref0, c->addr0 ? c->addr0 : "-",
			    c->from_a);
		}
		if (strcmp(c->domain, "v6.test") == 0 && g.nhosts == 1) {
			/* IPv4 first, then IPv6. */
			char a1[64] = "";
			if (g.hosts[0].naddrs == 2)
				addr_str(&g.hosts[0].addrs[1], a1, sizeof(a1));
			if (strcmp(a1, "::1") != 0) {
				failed++;
				print_message("FAIL %s: got naddrs=%zu addr1=%s; want 2, ::1\n",
				              c->label, g.hosts[0].naddrs, a1);
			}
		}
	}
	close_resolver(&loop, d);
	server_stop(&s);
	assert_int_equal(failed, 0);
}

static void
test_shuffle(void **state)
{
	(void)state;
	struct server s;
	dnsmasq_start(&s, "mx-host=shuf.test,mxa.test,10\nmx-host=shuf.test,mxb.test,10\n"
	                  "mx-host=shuf.test,mxc.test,20\n"
	                  "host-record=mxa.test,127.0.0.41\nhost-record=mxb.test,127.0.0.42\n"
	                  "host-record=mxc.test,127.0.0.43\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, DNS_NO_CACHE | DNS_NO_IPV6, 0);
	int a_first = 0, b_first = 0, c_last = 0;
	for (int i = 0; i < 50; i++) {
		struct got g;
		resolve(&loop, d, "shuf.test", &g);
		assert_int_equal(g.status, DNS_OK);
		assert_int_equal(g.nhosts, 3);
		a_first += strcmp(g.hosts[0].name, "mxa.test") == 0;
		b_first += strcmp(g.hosts[0].name, "mxb.test") == 0;
		c_last += strcmp(g.hosts[2].name, "mxc.test") == 0;
	}
	struct dns_stats st;
	dns_stats(d, &st);
	close_resolver(&loop, d);
	server_stop(&s);
	print_message("shuffle: mxa first %d, mxb first %d of 50\n", a_first, b_first);
	if (a_first == 0 || b_first == 0 || a_first + b_first != 50 || c_last != 50)
		fail_msg("got a_first=%d b_first=%d c_last=%d; want both > 0, sum 50, c_last 50",
		         a_first, b_first, c_last);
	/* No cache: every lookup asked again (MX + 3 A). */
	assert_int_equal(st.queries_sent, 50 * 4);
}

static void
test_cache_ttl(void **state)
{
	(void)state;
	struct server s;
	dnsmasq_start(&s, "local-ttl=60\n"
	                  "mx-host=pref.test,mx1.test,10\nhost-record=mx1.test,127.0.0.11\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, DNS_NO_IPV6, 0);
	struct got g;
	struct dns_stats st1, st2;
	resolve(&loop, d, "pref.test", &g);
	assert_int_equal(g.status, DNS_OK);
	dns_stats(d, &st1);
	if (g.ttl == 0 || g.ttl > 60)
		fail_msg("got ttl %u; want 1..60", g.ttl);
	resolve(&loop, d, "pref.test", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_string_equal(g.hosts[0].name, "mx1.test");
	dns_stats(d, &st2);
	close_resolver(&loop, d);
	server_stop(&s);
	if (st1.queries_sent != 2 || st2.queries_sent != 2 || st2.cache_hits != 2)
		fail_msg("got queries %llu then %llu, cache hits %llu; want 2, 2, 2",
		         (unsigned long long)st1.queries_sent, (unsigned long long)st2.queries_sent,
		         (unsigned long long)st2.cache_hits);
}

/* A cache lent to resolvers one after the other (kirim run's turns, each on its own loop):
 * the second answers from what the first learnt, without a query; one of its own does not. */
static void
test_cache_shared(void **state)
{
	(void)state;
	struct server s;
	dnsmasq_start(&s, "local-ttl=60\n"
	                  "mx-host=pref.test,mx1.test,10\nhost-record=mx1.test,127.0.0.11\n");
	struct dns_cache *cache = dns_cache_new();
	uint64_t sent[3];
	for (int i = 0; i < 3; i++) {
		uv_loop_t loop;
		uv_loop_init(&loop);
		char err[256] = "";
		struct dns_opts o = {
		    .servers = s.servers, .flags = DNS_NO_IPV6, .cache = i < 2 ? cache : NULL};
		struct dns *d = dns_new(&loop, &o, err, sizeof(err));
		if (d == NULL)
			fail_msg("dns_new: %s", err);
		struct got g;
		struct dns_stats st;
		resolve(&loop, d, "pref.test", &g);
		assert_int_equal(g.status, DNS_OK);
		assert_string_equal(g.hosts[0].name, "mx1.test");
		dns_stats(d, &st);
		sent[i] = st.queries_sent;
		close_resolver(&loop, d);
	}
	dns_cache_free(cache);
	server_stop(&s);
	if (sent[0] != 2 || sent[1] != 0 || sent[2] != 2)
		fail_msg("queries %llu, %llu (shared cache), %llu (own cache); want 2, 0, 2",
		         (unsigned long long)sent[0], (unsigned long long)sent[1],
		         (unsigned long long)sent[2]);
}

static void
test_timeout(void **state)
{
	(void)state;
	/* A bound UDP socket that never answers (no ICMP port unreachable). */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	char servers[64];
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", ntohs(a.sin_port));
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, servers, 0, 300);
	struct got g;
	resolve(&loop, d, "slow.test", &g);
	close_resolver(&loop, d);
	/* The resolver gave up by its own count (tries = 1: one query), not by a clock of the
	 * test's: the silent server holds exactly the queries it was sent. */
	int queries = 0;
	char dgram[512];
	while (recv(fd, dgram, sizeof(dgram), MSG_DONTWAIT) > 0)
		queries++;
	close(fd);
	if (g.status != DNS_TEMPFAIL || strstr(g.error, "timeout") == NULL || queries != 1)
		fail_msg("got %s \"%s\" after %d queries; want tempfail with timeout after 1",
		         dns_status_name(g.status), g.error, queries);
}

static void
test_servfail_refused(void **state)
{
	(void)state;
	static const struct {
		const char *mode, *want;
	} cases[] = {{"servfail", "SERVFAIL"}, {"refused", "REFUSED"}};
	for (size_t i = 0; i < 2; i++) {
		struct server s;
		pyserver_start(&s, cases[i].mode);
		uv_loop_t loop;
		uv_loop_init(&loop);
		struct dns *d = new_resolver(&loop, s.servers, 0, 500);
		struct got g;
		resolve(&loop, d, "broken.test", &g);
		close_resolver(&loop, d);
		server_stop(&s);
		if (g.status != DNS_TEMPFAIL || strstr(g.error, cases[i].want) == NULL)
			fail_msg("%s: got %s \"%s\"; want tempfail with %s", cases[i].mode,
			         dns_status_name(g.status), g.error, cases[i].want);
	}
}

struct many {
	int calls;
	int ok;
	int wrong;
};

struct many_one {
	struct many *m;
	int i;
};

static void
on_many(void *arg, const struct dns_mx_result *r)
{
	struct many_one *o = arg;
	char want[64], got[64] = "";
	o->m->calls++;
	snprintf(want, sizeof(want), "127.1.%d.%d", o->i / 250, o->i % 250 + 1);
	if (r->status == DNS_OK && r->nhosts == 1 && r->hosts[0].naddrs == 1)
		addr_str(&r->hosts[0].addrs[0], got, sizeof(got));
	if (strcmp(got, want) == 0) {
		o->m->ok++;
	} else {
		o->m->wrong++;
		print_message("d%d.test: got %s %s \"%s\"; want %s\n", o->i,
		              dns_status_name(r->status), got, r->error ? r->error : "", want);
	}
}

static void
test_many_concurrent(void **state)
{
	(void)state;
	enum { N = 200 };
	struct buf conf = {0};
	for (int i = 0; i < N; i++)
		buf_printf(&conf,
		           "mx-host=d%d.test,mx%d.test,10\nhost-record=mx%d.test,127.1.%d.%d\n", i,
		           i, i, i / 250, i % 250 + 1);
	buf_addc(&conf, '\0');
	struct server s;
	dnsmasq_start(&s, conf.data);
	buf_free(&conf);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, DNS_NO_IPV6, 0);
	struct many m = {0};
	struct many_one ones[N];
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d%d.test", i);
		ones[i] = (struct many_one){&m, i};
		assert_int_equal(dns_resolve_mx(d, name, on_many, &ones[i]), 0);
	}
	while (m.calls < N)
		uv_run(&loop, UV_RUN_ONCE);
	struct dns_stats st;
	dns_stats(d, &st);
	close_resolver(&loop, d);
	server_stop(&s);
	print_message("many: ok %d, queries %llu, max in flight %zu\n", m.ok,
	              (unsigned long long)st.queries_sent, st.max_in_flight);
	assert_int_equal(m.calls, N);
	assert_int_equal(m.ok, N);
	assert_int_equal(st.queries_sent, 2 * N);
	assert_true(st.max_in_flight <= DNS_MAX_INFLIGHT);
	assert_int_equal(st.max_in_flight, DNS_MAX_INFLIGHT);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.queued, 0);
}

/* ---- TXT, TLSA, host addresses and the AD bit (the zone-serving dnspython peer) ---- */

static const char zone[] = ";insecure plain.test.\n"
                           ";insecure mx1.plain.test.\n"
                           ";servfail _25._tcp.bad.test.\n"
                           "sec.test. 60 IN MX 10 mx1.sec.test.\n"
                           "mx1.sec.test. 60 IN A 127.0.0.2\n"
                           "plain.test. 60 IN MX 10 mx1.plain.test.\n"
                           "mx1.plain.test. 60 IN A 127.0.0.3\n"
                           "_mta-sts.sec.test. 60 IN TXT \"v=STSv1; \" \"id=abc\"\n"
                           "_mta-sts.sec.test. 60 IN TXT \"other\"\n"
                           "_25._tcp.mx1.sec.test. 60 IN TLSA 3 1 1 "
                           "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n"
                           "_25._tcp.mx1.sec.test. 60 IN TLSA 2 0 1 "
                           "a102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n"
                           "_25._tcp.mx1.plain.test. 60 IN TLSA 3 1 1 "
                           "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n";

struct got_txt {
	int calls, status, secure;
	size_t n;
	char recs[4][256];
};

static void
on_txt(void *arg, const struct dns_txt_result *r)
{
	struct got_txt *g = arg;
	g->calls++;
	g->status = r->status;
	g->secure = r->secure;
	g->n = r->n;
	for (size_t i = 0; i < r->n && i < 4; i++)
		snprintf(g->recs[i], sizeof(g->recs[i]), "%s", r->records[i]);
}

struct got_tlsa {
	int calls, status, secure;
	size_t n;
	struct dns_tlsa recs[4];
};

static void
on_tlsa(void *arg, const struct dns_tlsa_result *r)
{
	struct got_tlsa *g = arg;
	g->calls++;
	g->status = r->status;
	g->secure = r->secure;
	g->n = r->n;
	for (size_t i = 0; i < r->n && i < 4; i++)
		g->recs[i] = r->recs[i];
}

static void
test_txt_tlsa_ad(void **state)
{
	(void)state;
	struct server s;
	pyzone_start(&s, zone);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, DNS_NO_IPV6, 0);
	assert_true(dns_servers_local(d));

	/* MX with AD: the answer and the host's address are secure. */
	struct got g;
	resolve(&loop, d, "sec.test", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 1);
	assert_int_equal(g.hosts[0].secure, 1);
	resolve(&loop, d, "plain.test", &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.secure, 0);
	assert_int_equal(g.hosts[0].secure, 0);

	/* TXT: the record's two strings joined; the other record kept apart. */
	struct got_txt t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(dns_resolve_txt(d, "_mta-sts.sec.test", on_txt, &t), 0);
	while (t.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(t.status, DNS_OK);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.secure, 1);
	assert_true(
	    (strcmp(t.recs[0], "v=STSv1; id=abc") == 0 && strcmp(t.recs[1], "other") == 0) ||
	    (strcmp(t.recs[1], "v=STSv1; id=abc") == 0 && strcmp(t.recs[0], "other") == 0));
	memset(&t, 0, sizeof(t));
	assert_int_equal(dns_resolve_txt(d, "_mta-sts.none.test", on_txt, &t), 0);
	while (t.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(t.status, DNS_NXDOMAIN);
	assert_int_equal(t.secure, 1); /* a validated denial */
	memset(&t, 0, sizeof(t));
	assert_int_equal(dns_resolve_txt(d, "mx1.sec.test", on_txt, &t), 0);
	while (t.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(t.status, DNS_NODATA);

	/* TLSA: both records, with their fields and data; secure. */
	struct got_tlsa a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_resolve_tlsa(d, "_25._tcp.mx1.sec.test", on_tlsa, &a), 0);
	while (a.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.secure, 1);
	assert_int_equal(a.n, 2);
	int seen311 = 0, seen201 = 0;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(a.recs[i].len, 32);
		if (a.recs[i].usage == 3 && a.recs[i].selector == 1 && a.recs[i].mtype == 1 &&
		    a.recs[i].data[0] == 0x01 && a.recs[i].data[31] == 0x20)
			seen311 = 1;
		if (a.recs[i].usage == 2 && a.recs[i].selector == 0 && a.recs[i].mtype == 1 &&
		    a.recs[i].data[0] == 0xa1)
			seen201 = 1;
	}
	assert_true(seen311 && seen201);
	/* Insecure TLSA: records, but no AD. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_resolve_tlsa(d, "_25._tcp.mx1.plain.test", on_tlsa, &a), 0);
	while (a.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.secure, 0);
	/* A validation failure (SERVFAIL) is a temporary failure, never secure. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_resolve_tlsa(d, "_25._tcp.bad.test", on_tlsa, &a), 0);
	while (a.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_int_equal(a.secure, 0);

	/* A host's own addresses. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_resolve_host(d, "mx1.sec.test", on_mx, &g), 0);
	while (g.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.nhosts, 1);
	char ip[64];
	addr_str(&g.hosts[0].addrs[0], ip, sizeof(ip));
	assert_string_equal(ip, "127.0.0.2");
	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_resolve_host(d, "nothing.sec.test", on_mx, &g), 0);
	while (g.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(g.status, DNS_NODATA);
	assert_string_equal(g.error, "nothing.sec.test: no address");

	close_resolver(&loop, d);
	server_stop(&s);
}

static void
test_free_pending(void **state)
{
	(void)state;
	struct server s;
	dnsmasq_start(&s, records);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct dns *d = new_resolver(&loop, s.servers, 0, 0);
	struct got g1, g2;
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	/* One request on the wire, one not yet started. */
	assert_int_equal(dns_resolve_mx(d, "pref.test", on_mx, &g1), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(dns_resolve_mx(d, "plain.test", on_mx, &g2), 0);
	dns_free(d);
	assert_int_equal(g1.calls + g2.calls, 2);
	assert_int_equal(g2.status, DNS_TEMPFAIL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	server_stop(&s);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx_table),        cmocka_unit_test(test_shuffle),
	    cmocka_unit_test(test_cache_ttl),       cmocka_unit_test(test_cache_shared),
	    cmocka_unit_test(test_timeout),         cmocka_unit_test(test_servfail_refused),
	    cmocka_unit_test(test_many_concurrent), cmocka_unit_test(test_free_pending),
	    cmocka_unit_test(test_txt_tlsa_ad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
