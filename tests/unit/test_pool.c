/*
 * test_pool - the connection pool against a real smtp-sink on loopback: how
 * many sessions a queue opens, that a destination waiting for a global slot
 * gets one from another destination's idle session (not only when that
 * session's idle timeout closes it), and who gets an attempt counted when a
 * destination fails: only a job that was in a session's transaction; every
 * other one comes back ABORTED with a hint when to try again.
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

enum { MAX_JOBS = 64, MAX_ADDRS = 4 };

/* What came back for one job. */
struct got {
	int done;  /* job_done calls */
	int rcpts; /* rcpt calls */
	enum smtp_stage stage;
	int code;
	unsigned flags;
	double retry_in; /* pool_dest_retry_in at job_done */
	char text[256];
};

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
	struct got got[MAX_JOBS];
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
	/* Count them all first: a job may come back inside pool_submit (a destination down). */
	assert_true(w->njobs + n <= MAX_JOBS);
	int first = w->njobs;
	w->njobs += n;
	for (int i = first; i < first + n; i++) {
		struct smtp_job *j = &w->jobs[i];
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
	struct world *w = owner;
	(void)i, (void)r, (void)ci;
	w->got[job - w->jobs].rcpts++;
}

static void
cb_job_done(void *owner, struct smtp_job *job, const struct smtp_result *r,
            const struct pool_conn_info *ci)
{
	struct world *w = owner;
	int d = (int)(intptr_t)job->user;
	struct got *g = &w->got[job - w->jobs];
	(void)ci;
	g->done++;
	g->stage = r->stage;
	g->code = r->code;
	g->flags = r->flags;
	g->retry_in = pool_dest_retry_in(w->dest[d]);
	snprintf(g->text, sizeof(g->text), "%s", r->text ? r->text : "");
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

/* How the test's destinations are made: their addrs (loopback ports, in order) and
 * the sessions' timeouts where they differ from an hour-long idle and a 5 s connect. */
struct wconf {
	unsigned global, per_dest;
	int ports[MAX_ADDRS];
	size_t nports;
	unsigned data_ms, dot_ms; /* 0: the defaults */
};

static void
world_init_conf(struct world *w, const struct wconf *wc)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	uv_timer_init(&w->loop, &w->guard);
	w->guard.data = w;
	uv_timer_start(&w->guard, on_guard, 30000, 0);
	struct pool_cbs cbs = {.rcpt = cb_rcpt, .job_done = cb_job_done};
	w->pool = pool_new(&w->loop, wc->global, &cbs, w);
	struct sockaddr_in sa[MAX_ADDRS];
	struct pool_addr addrs[MAX_ADDRS];
	for (size_t i = 0; i < wc->nports; i++) {
		uv_ip4_addr("127.0.0.1", wc->ports[i], &sa[i]);
		addrs[i] = (struct pool_addr){.host = "sink.example.test",
		                              .addr = (const struct sockaddr *)&sa[i],
		                              .pref = 10};
	}
	for (int i = 0; i < 2; i++) {
		struct pool_dest_config c = {
		    .name = i ? "mx:b.example.test" : "mx:a.example.test",
		    .addrs = addrs,
		    .naddrs = wc->nports,
		    .limits = {.max_conns = wc->per_dest},
		};
		c.session.helo_name = "client.kirim.test";
		c.session.tls_policy = TLS_POLICY_NONE;
		smtp_session_default_timeouts(&c.session.timeouts);
		c.session.timeouts.connect_ms = 5000;
		c.session.timeouts.idle_ms = 3600 * 1000;
		if (wc->data_ms)
			c.session.timeouts.data_ms = wc->data_ms;
		if (wc->dot_ms)
			c.session.timeouts.dot_ms = wc->dot_ms;
		char err[256];
		w->dest[i] = pool_dest_add(w->pool, &c, err, sizeof(err));
		assert_non_null(w->dest[i]);
	}
}

static void
world_init(struct world *w, int port, unsigned global, unsigned per_dest)
{
	struct wconf wc = {.global = global, .per_dest = per_dest, .ports = {port}, .nports = 1};
	world_init_conf(w, &wc);
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

/* ---- who gets an attempt counted when a destination fails ---- */

/* What a run handed back: jobs with a result of their own (attempted), jobs handed back
 * ABORTED; a job with no result, two, or rcpt calls that do not match, is a bug. */
struct tally {
	int attempted, aborted, delivered;
	int aborted_bad; /* ABORTED without a retry hint, or without saying why */
	int wrong_count; /* job_done not called once, or rcpt not once per recipient */
	char example[512];
};

static void
tally(const struct world *w, const char *want_text, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < w->njobs; i++) {
		const struct got *g = &w->got[i];
		if (g->done != 1 || g->rcpts != 1) {
			t->wrong_count++;
			continue;
		}
		if (g->flags & SMTP_RESULT_ABORTED) {
			t->aborted++;
			if (g->retry_in <= 0 || strstr(g->text, want_text) == NULL) {
				t->aborted_bad++;
				snprintf(t->example, sizeof(t->example),
				         "job %d: ABORTED retry_in=%.1f text=\"%s\"", i,
				         g->retry_in, g->text);
			}
			continue;
		}
		t->attempted++;
		t->delivered += g->code == 250;
		if (g->flags & (SMTP_RESULT_CONN_LOST | SMTP_RESULT_TIMEOUT)) {
			if (t->example[0] == '\0')
				snprintf(t->example, sizeof(t->example),
				         "job %d: attempted stage=%s code=%d flags=%#x text=\"%s\"",
				         i, smtp_stage_name(g->stage), g->code, g->flags, g->text);
		}
	}
}

enum { REFUSED = 0, SINK = 1 };

/*
 * (a) Routes that refuse connections: no job was ever in a transaction, so none gets an
 * attempt; all come back ABORTED with the destination's remaining down time, those
 * submitted while it is down too (at once, without a connect). A good address after a
 * refused one still delivers everything (MX failover).
 */
static void
test_down_hands_back_unattempted(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		int addrs[MAX_ADDRS];
		size_t naddrs;
		int jobs, later;
		unsigned per_dest;
		int want_delivered;
		unsigned long max_connects; /* no reconnect loop: the first kick's sessions */
	} cases[] = {
	    {"one address refused, one job", {REFUSED}, 1, 1, 0, 1, 0, 1},
	    {"one address refused, 20 jobs on 4 sessions", {REFUSED}, 1, 20, 0, 4, 0, 3},
	    {"two addrs refused, then 5 more while down", {REFUSED, REFUSED}, 2, 20, 5, 2, 0, 3},
	    {"refused, then a sink: failover delivers", {REFUSED, SINK}, 2, 20, 0, 2, 20, 4},
	};
	int sink_port = test_free_port(TEST_TCP);
	pid_t sink = start_sink(sink_port);
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wconf wc = {
		    .global = 8, .per_dest = cases[i].per_dest, .nports = cases[i].naddrs};
		for (size_t k = 0; k < cases[i].naddrs; k++)
			/* Nothing listens on a free port: the connection is refused. */
			wc.ports[k] =
			    cases[i].addrs[k] == SINK ? sink_port : test_free_port(TEST_TCP);
		struct world w;
		world_init_conf(&w, &wc);
		if (cases[i].later)
			w.then = (struct then){0, cases[i].jobs, 0, cases[i].later};
		submit(&w, 0, cases[i].jobs);
		unsigned long connects = world_run(&w);
		int total = cases[i].jobs + cases[i].later;
		struct tally t;
		tally(&w, "destination mx:a.example.test down until", &t);
		int want_aborted = total - cases[i].want_delivered;
		if (w.guard_fired || w.njobs != total || t.wrong_count || t.aborted_bad ||
		    t.attempted != cases[i].want_delivered ||
		    t.delivered != cases[i].want_delivered || t.aborted != want_aborted ||
		    connects > cases[i].max_connects) {
			print_error(
			    "%s: got attempted %d (delivered %d), ABORTED %d (%d without a "
			    "hint or reason), miscounted %d, connects %lu%s; want attempted "
			    "%d (delivered %d), ABORTED %d with a hint, connects at most %lu\n"
			    "  e.g. %s\n",
			    cases[i].label, t.attempted, t.delivered, t.aborted, t.aborted_bad,
			    t.wrong_count, connects, w.guard_fired ? ", hung" : "",
			    cases[i].want_delivered, cases[i].want_delivered, want_aborted,
			    cases[i].max_connects, t.example);
			bad++;
		}
	}
	test_server_stop(sink);
	if (bad)
		fail_msg("%d of %zu cases failed", bad, sizeof(cases) / sizeof(cases[0]));
}

/*
 * (b) A server that breaks the session inside the transaction: the job on the wire gets
 * the real error (an attempt), each session carries exactly one; the jobs waiting at the
 * destination come back ABORTED once it is down, not with that job's error ("timeout in
 * state dot" for messages that never left). A session that dies at the RSET after a
 * refused RCPT has the next job taken but not started: it goes out on the next session
 * and gets its own answer, never the lost connection of the RSET.
 */
static void
test_session_death_blames_its_job(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *o1, *o2, *o3; /* smtp-sink faults */
		unsigned data_ms, dot_ms;
		int jobs;
		unsigned per_dest;
		enum smtp_stage want_stage; /* of the jobs attempted */
		int want_code;
		unsigned want_flag;
		int every_job_attempted; /* else: one per session, the rest ABORTED */
	} cases[] = {
	    {"disconnect at the dot", "-q.", NULL, NULL, 0, 0, 20, 2, SMTP_STAGE_DOT, 0,
	     SMTP_RESULT_CONN_LOST, 0},
	    {"timeout in state dot", "-W.:3", NULL, NULL, 0, 400, 20, 2, SMTP_STAGE_DOT, 0,
	     SMTP_RESULT_TIMEOUT, 0},
	    {"timeout in state data", "-p", "-w", "3", 400, 0, 12, 1, SMTP_STAGE_DATA, 0,
	     SMTP_RESULT_TIMEOUT, 0},
	    {"disconnect at the RSET after a refused RCPT", "-rRCPT", "-qRSET", NULL, 0, 0, 6, 1,
	     SMTP_STAGE_RCPT, 450, 0, 1},
	    {"421 to the RSET after a refused RCPT", "-rRCPT", "-QRSET", NULL, 0, 0, 6, 1,
	     SMTP_STAGE_RCPT, 450, 0, 1},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int port = test_free_port(TEST_TCP);
		char log[300];
		snprintf(log, sizeof(log), "%s/sink-%d.log", tmpdir, port);
		pid_t sink = test_sink_start(port, log, cases[i].o1, cases[i].o2, cases[i].o3);
		struct wconf wc = {.global = 8,
		                   .per_dest = cases[i].per_dest,
		                   .ports = {port},
		                   .nports = 1,
		                   .data_ms = cases[i].data_ms,
		                   .dot_ms = cases[i].dot_ms};
		struct world w;
		world_init_conf(&w, &wc);
		submit(&w, 0, cases[i].jobs);
		unsigned long connects = world_run(&w);
		test_server_stop(sink);
		struct tally t;
		tally(&w, "destination mx:a.example.test down until", &t);
		int want_attempted = cases[i].every_job_attempted ? cases[i].jobs : (int)connects;
		int wrong_stage = 0;
		for (int k = 0; k < w.njobs; k++) {
			const struct got *g = &w.got[k];
			if (g->flags & SMTP_RESULT_ABORTED)
				continue;
			if (g->stage != cases[i].want_stage || g->code != cases[i].want_code ||
			    (g->flags & cases[i].want_flag) != cases[i].want_flag ||
			    (!cases[i].want_flag &&
			     (g->flags & (SMTP_RESULT_CONN_LOST | SMTP_RESULT_TIMEOUT)))) {
				if (wrong_stage++ == 0)
					snprintf(t.example, sizeof(t.example),
					         "job %d: stage=%s code=%d flags=%#x text=\"%s\"",
					         k, smtp_stage_name(g->stage), g->code, g->flags,
					         g->text);
			}
		}
		if (w.guard_fired || t.wrong_count || t.aborted_bad || wrong_stage ||
		    t.attempted != want_attempted || t.aborted != cases[i].jobs - want_attempted) {
			print_error(
			    "%s: got attempted %d (%d not as the transaction ended), "
			    "ABORTED %d (%d without a hint or reason), miscounted %d, "
			    "sessions %lu%s; want attempted %d, each %s %d, ABORTED %d with a "
			    "hint\n  e.g. %s\n",
			    cases[i].label, t.attempted, wrong_stage, t.aborted, t.aborted_bad,
			    t.wrong_count, connects, w.guard_fired ? ", hung" : "", want_attempted,
			    smtp_stage_name(cases[i].want_stage), cases[i].want_code,
			    cases[i].jobs - want_attempted, t.example);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d of %zu cases failed", bad, sizeof(cases) / sizeof(cases[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sessions_by_queue),
	    cmocka_unit_test(test_idle_slot_handed_on),
	    cmocka_unit_test(test_down_hands_back_unattempted),
	    cmocka_unit_test(test_session_death_blames_its_job),
	};
	return cmocka_run_group_tests(tests, setup_all, NULL);
}
