/*
 * test_pool - the connection pool's slot keeping, against a real smtp-sink on
 * loopback: how many sessions a queue opens, and that a destination waiting
 * for a global slot gets one from another destination's idle session (not
 * only when that session's idle timeout closes it).
 *
 * Environment: KIRIM_SMTP_SINK (default /usr/sbin/smtp-sink).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "kirim/pool.h"
#include "kirim/smtp_session.h"

#include "test_servers.h"

static char tmpdir[256];

static int
setup_all(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kirim-test-pool.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static pid_t
start_sink(int port)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/sink-%d.log", tmpdir, port);
	return test_sink_start(port, log, NULL, NULL, NULL);
}

/* ---- a pool on a loop, with the jobs' outcomes counted ---- */

enum { MAX_JOBS = 64 };

struct world;

/* When job number `after` of destination `from` is done, submit `n` jobs to `to`. */
struct then {
	int from, after, to, n;
};

struct world {
	uv_loop_t loop;
	uv_timer_t guard;
	struct pool *pool;
	struct pool_dest *dest[2];
	struct smtp_job jobs[MAX_JOBS];
	int njobs;
	int done[2], ok[2], total;
	struct then then;
	bool guard_fired;
};

static const char *const rcpt[] = {"user@example.test"};
static const char msg[] = "From: a@example.test\r\nTo: user@example.test\r\n"
                          "Subject: pool test\r\n\r\nhello\r\n";

static void
submit(struct world *w, int dest, int n)
{
	for (int i = 0; i < n; i++) {
		assert_true(w->njobs < MAX_JOBS);
		struct smtp_job *j = &w->jobs[w->njobs++];
		*j = (struct smtp_job){
		    .sender = "bounce@example.test",
		    .rcpts = rcpt,
		    .nrcpt = 1,
		    .data = msg,
		    .len = sizeof(msg) - 1,
		    .user = (void *)(intptr_t)dest,
		};
		pool_submit(w->dest[dest], j);
	}
}

static void
cb_rcpt(void *owner, struct smtp_job *job, size_t i, const struct smtp_result *r,
        const struct pool_conn_info *ci)
{
	(void)owner, (void)job, (void)i, (void)r, (void)ci;
}

static void
cb_job_done(void *owner, struct smtp_job *job, const struct smtp_result *r,
            const struct pool_conn_info *ci)
{
	struct world *w = owner;
	int d = (int)(intptr_t)job->user;
	(void)ci;
	w->done[d]++;
	w->total++;
	if (r->code == 250)
		w->ok[d]++;
	if (w->then.n && d == w->then.from && w->done[d] == w->then.after) {
		int n = w->then.n;
		w->then.n = 0;
		submit(w, w->then.to, n);
	}
	if (w->total == w->njobs && w->then.n == 0) {
		uv_timer_stop(&w->guard);
		pool_shutdown(w->pool);
	}
}

/* A hang guard, not a timing check: the sessions' idle timeout is an hour, so without the
 * pool handing the slot on, the waiting job would never go. */
static void
on_guard(uv_timer_t *t)
{
	struct world *w = t->data;
	w->guard_fired = true;
	pool_shutdown(w->pool);
}

static void
world_init(struct world *w, int port, unsigned global, unsigned per_dest)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	uv_timer_init(&w->loop, &w->guard);
	w->guard.data = w;
	uv_timer_start(&w->guard, on_guard, 30000, 0);
	struct pool_cbs cbs = {.rcpt = cb_rcpt, .job_done = cb_job_done};
	w->pool = pool_new(&w->loop, global, &cbs, w);
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", port, &sa);
	struct pool_route route = {"sink.example.test", (const struct sockaddr *)&sa, 10};
	for (int i = 0; i < 2; i++) {
		struct pool_dest_config c = {
		    .name = i ? "mx:b.example.test" : "mx:a.example.test",
		    .routes = &route,
		    .nroutes = 1,
		    .limits = {.max_conns = per_dest},
		};
		c.session.helo_name = "client.kirim.test";
		c.session.tls_policy = TLS_POLICY_NONE;
		smtp_session_default_timeouts(&c.session.timeouts);
		c.session.timeouts.connect_ms = 5000;
		c.session.timeouts.idle_ms = 3600 * 1000;
		char err[256];
		w->dest[i] = pool_dest_add(w->pool, &c, err, sizeof(err));
		assert_non_null(w->dest[i]);
	}
}

static unsigned long
world_run(struct world *w)
{
	uv_run(&w->loop, UV_RUN_DEFAULT);
	struct pool_stats st;
	pool_stats(w->pool, &st);
	pool_free(w->pool);
	if (!uv_is_closing((uv_handle_t *)&w->guard))
		uv_close((uv_handle_t *)&w->guard, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	return st.connects;
}

/* ---- tests ---- */

/* Jobs submitted together open a session beyond the first only for every 8 waiting: a
 * session costs a connect and a greeting, and 3 messages do not need 3 of them. */
static void
test_sessions_by_queue(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int jobs;
		unsigned per_dest;
		unsigned long want_sessions;
	} cases[] = {
	    {"one job", 1, 4, 1},
	    {"three jobs: one session", 3, 4, 1},
	    {"eight waiting: a second", 9, 4, 2},
	    {"forty: the cap of four", 40, 4, 4},
	    {"forty, cap two", 40, 2, 2},
	};
	int port = test_free_port(TEST_TCP);
	pid_t sink = start_sink(port);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world w;
		world_init(&w, port, 8, cases[i].per_dest);
		submit(&w, 0, cases[i].jobs);
		unsigned long sessions = world_run(&w);
		if (w.guard_fired || w.ok[0] != cases[i].jobs ||
		    sessions != cases[i].want_sessions) {
			print_error("%s: delivered %d of %d, sessions %lu (want %lu)%s\n",
			            cases[i].label, w.ok[0], cases[i].jobs, sessions,
			            cases[i].want_sessions, w.guard_fired ? ", hung" : "");
			test_server_stop(sink);
			fail();
		}
	}
	test_server_stop(sink);
}

/* One global slot: A's session delivers and goes idle; B's job, submitted then, must get
 * the slot (A's idle session closed for it), with A's idle timeout an hour away. And the
 * other way round with a queue: A submits more while B holds the slot. */
static void
test_idle_slot_handed_on(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int first, after, second;
	} cases[] = {
	    {"one job each", 1, 1, 1},
	    {"B's short queue after A's run", 5, 5, 3},
	    {"B's long queue while A still sends", 20, 1, 40},
	};
	int port = test_free_port(TEST_TCP);
	pid_t sink = start_sink(port);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world w;
		world_init(&w, port, 1, 2);
		w.then = (struct then){0, cases[i].after, 1, cases[i].second};
		submit(&w, 0, cases[i].first);
		unsigned long sessions = world_run(&w);
		if (w.guard_fired || w.ok[0] != cases[i].first || w.ok[1] != cases[i].second ||
		    sessions != 2) {
			print_error("%s: A %d/%d, B %d/%d, sessions %lu (want 2)%s\n",
			            cases[i].label, w.ok[0], cases[i].first, w.ok[1],
			            cases[i].second, sessions,
			            w.guard_fired ? ": B never got the slot" : "");
			test_server_stop(sink);
			fail();
		}
	}
	test_server_stop(sink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sessions_by_queue),
	    cmocka_unit_test(test_idle_slot_handed_on),
	};
	return cmocka_run_group_tests(tests, setup_all, NULL);
}
