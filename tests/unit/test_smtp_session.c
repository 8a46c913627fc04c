/*
 * test_smtp_session - drive src/net/smtp_session.c against real SMTP servers.
 *
 * Each test starts its own server on a free loopback port (Postfix's
 * smtp-sink, or tests/integration/smtp_server.py on Debian's aiosmtpd for
 * TLS, AUTH and per-recipient answers), runs sessions on a private uv loop,
 * checks the facts reported through the callbacks, stops the server by its
 * PID and asserts uv_loop_close() == 0.
 *
 * Environment: KIRIM_SMTP_SINK (default /usr/sbin/smtp-sink), KIRIM_PYTHON
 * (default /usr/bin/python3), KIRIM_SMTP_SERVER (default
 * $KIRIM_TESTDATA/../integration/smtp_server.py, KIRIM_TESTDATA defaulting to
 * tests/data). A missing server fails the test (tools/test installs them): a
 * test that quietly skips would claim what it never checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/disposition.h"
#include "kirim/log.h"
#include "kirim/smtp_session.h"
#include "kirim/smtp_wire.h"
#include "kirim/xmalloc.h"

#include "test_servers.h"

/* ---- processes and ports ---- */

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static char server_script[1024];
static char tmpdir[256];

static const char *
python_path(void)
{
	return env_or("KIRIM_PYTHON", "/usr/bin/python3");
}

/* ---- the session driver ---- */

#define MAX_RES 1024

struct rres {
	size_t job;
	size_t i;
	enum smtp_stage stage;
	int code;
	char ecode[16];
	char text[256];
	unsigned flags;
	enum smtp_local local;
};

struct run {
	uv_loop_t loop;
	struct smtp_session *s;
	struct smtp_job *jobs;
	size_t njobs, next;
	int close_after;  /* close the session once every job is done */
	int free_on_done; /* job_done frees the job's message, as the sender does */
	int connected;
	int tls;
	int tls_verified;
	char tls_version[32];
	unsigned ehlo_flags;
	size_t jobs_done;
	struct rres job_res[MAX_RES];
	struct rres res[MAX_RES];
	size_t nres;
	int closed;
	struct rres why;
};

static void
copy_res(struct rres *o, size_t job, size_t i, const struct smtp_result *r)
{
	o->job = job;
	o->i = i;
	o->stage = r->stage;
	o->code = r->code;
	snprintf(o->ecode, sizeof(o->ecode), "%s", r->ecode);
	snprintf(o->text, sizeof(o->text), "%s", r->text);
	o->flags = r->flags;
	o->local = r->local;
}

static void
cb_connected(struct smtp_session *s, void *owner)
{
	(void)s;
	((struct run *)owner)->connected++;
}

static void
cb_tls(struct smtp_session *s, void *owner, const char *version, const char *cipher, int verified,
       enum tls_check check)
{
	struct run *run = owner;
	(void)s;
	(void)cipher;
	(void)check;
	run->tls++;
	run->tls_verified = verified;
	snprintf(run->tls_version, sizeof(run->tls_version), "%s", version);
}

static struct smtp_job *
cb_want_job(struct smtp_session *s, void *owner)
{
	struct run *run = owner;
	run->ehlo_flags = smtp_session_ehlo(s)->flags;
	if (run->next < run->njobs)
		return &run->jobs[run->next++];
	return NULL;
}

static void
cb_rcpt(struct smtp_session *s, void *owner, struct smtp_job *job, size_t i,
        const struct smtp_result *r)
{
	struct run *run = owner;
	(void)s;
	assert_true(run->nres < MAX_RES);
	copy_res(&run->res[run->nres++], (size_t)(job - run->jobs), i, r);
}

static void
cb_job_done(struct smtp_session *s, void *owner, struct smtp_job *job, const struct smtp_result *r)
{
	struct run *run = owner;
	size_t j = (size_t)(job - run->jobs);
	assert_true(j < run->njobs && j < MAX_RES);
	copy_res(&run->job_res[j], j, 0, r);
	run->jobs_done++;
	if (run->free_on_done) {
		/* The owner is done with the job: its memory goes (a write still in flight
		 * must not point into it). */
		if (job->give)
			buf_free(job->give);
		else
			free((void *)job->data);
		job->data = NULL;
	}
	if (run->close_after && run->jobs_done == run->njobs)
		smtp_session_close(s);
}

static void
cb_closed(struct smtp_session *s, void *owner, const struct smtp_result *why)
{
	struct run *run = owner;
	(void)s;
	run->closed++;
	copy_res(&run->why, 0, 0, why);
	run->s = NULL;
}

static const struct smtp_session_cbs cbs = {
    .connected = cb_connected,
    .tls = cb_tls,
    .want_job = cb_want_job,
    .rcpt = cb_rcpt,
    .job_done = cb_job_done,
    .closed = cb_closed,
};

static void
base_config(struct smtp_session_config *c)
{
	memset(c, 0, sizeof(*c));
	c->helo_name = "client.kirim.test";
	c->tls_policy = TLS_POLICY_NONE;
	smtp_session_default_timeouts(&c->timeouts);
	/* A test must not hang for the RFC's minutes when a server misbehaves. */
	c->timeouts.connect_ms = 5000;
	c->timeouts.banner_ms = c->timeouts.helo_ms = c->timeouts.starttls_ms = 10000;
	c->timeouts.auth_ms = c->timeouts.mail_ms = c->timeouts.rcpt_ms = 10000;
	c->timeouts.data_ms = c->timeouts.data_block_ms = c->timeouts.dot_ms = 10000;
	c->timeouts.rset_ms = c->timeouts.quit_ms = 10000;
	c->timeouts.idle_ms = 300;
}

/*
 * Run one session to its end on run->loop, already initialised (other
 * handles, a proxy, may share it); every job must come back; the loop must
 * close clean.
 */
static void
run_session_on(struct run *run, const struct smtp_session_config *cfg, int port, const char *host)
{
	char err[256] = "";
	run->s = smtp_session_new(&run->loop, cfg, &cbs, run, err, sizeof(err));
	if (run->s == NULL)
		fail_msg("smtp_session_new: %s", err);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", port, &a);
	smtp_session_connect(run->s, (struct sockaddr *)&a, host);
	uv_run(&run->loop, UV_RUN_DEFAULT);
	assert_int_equal(run->closed, 1);
	assert_int_equal(run->jobs_done, run->next);
	assert_int_equal(uv_loop_close(&run->loop), 0);
}

/* Run one session to its end on a loop of its own. */
static void
run_session(struct run *run, const struct smtp_session_config *cfg, int port, const char *host)
{
	assert_int_equal(uv_loop_init(&run->loop), 0);
	run_session_on(run, cfg, port, host);
}

/*
 * As run_session, but the jobs are submitted before connecting, the way an
 * owner hands a connection its work: a session that fails during setup
 * hands them back with the failing stage.
 */
static void
run_session_submit(struct run *run, const struct smtp_session_config *cfg, int port,
                   const char *host)
{
	char err[256] = "";
	assert_int_equal(uv_loop_init(&run->loop), 0);
	run->s = smtp_session_new(&run->loop, cfg, &cbs, run, err, sizeof(err));
	if (run->s == NULL)
		fail_msg("smtp_session_new: %s", err);
	for (; run->next < run->njobs; run->next++)
		smtp_session_submit(run->s, &run->jobs[run->next]);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", port, &a);
	smtp_session_connect(run->s, (struct sockaddr *)&a, host);
	uv_run(&run->loop, UV_RUN_DEFAULT);
	assert_int_equal(run->closed, 1);
	assert_int_equal(run->jobs_done, run->next);
	assert_int_equal(uv_loop_close(&run->loop), 0);
}

static struct run *
new_run(struct smtp_job *jobs, size_t njobs)
{
	struct run *run = xcalloc(1, sizeof(*run));
	run->jobs = jobs;
	run->njobs = njobs;
	run->close_after = 1;
	return run;
}

/* Find the result for recipient i of job j. */
static const struct rres *
find_res(const struct run *run, size_t j, size_t i)
{
	const struct rres *found = NULL;
	for (size_t k = 0; k < run->nres; k++) {
		if (run->res[k].job == j && run->res[k].i == i) {
			if (found)
				fail_msg("recipient %zu of job %zu reported twice", i, j);
			found = &run->res[k];
		}
	}
	if (found == NULL)
		fail_msg("recipient %zu of job %zu not reported", i, j);
	return found;
}

static void
expect_res(const struct run *run, size_t j, size_t i, enum smtp_stage stage, int code,
           const char *ecode, unsigned flags)
{
	const struct rres *r = find_res(run, j, i);
	if (r->stage != stage || r->code != code || (ecode && strcmp(r->ecode, ecode) != 0) ||
	    (r->flags & flags) != flags)
		fail_msg("job %zu rcpt %zu: got stage=%s code=%d ecode=%s flags=%#x text=\"%s\"; "
		         "want stage=%s code=%d ecode=%s flags=%#x",
		         j, i, smtp_stage_name(r->stage), r->code, r->ecode, r->flags, r->text,
		         smtp_stage_name(stage), code, ecode ? ecode : "*", flags);
}

static const char *const one_rcpt[] = {"user@example.test"};

static const char sample_msg[] = "From: a@example.test\nTo: user@example.test\nSubject: t\n\n"
                                 "line one\n.\n..two dots\r.\rbare cr\r\n.\r\nend";

/* ---- smtp-sink tests ---- */

static pid_t
start_sink(int port, const char *extra1, const char *extra2, const char *extra3)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/sink-%d.log", tmpdir, port);
	return test_sink_start(port, log, extra1, extra2, extra3);
}

static void
test_sink_persistent(void **state)
{
	(void)state;
	int port = test_free_port(TEST_TCP);
	pid_t pid = start_sink(port, NULL, NULL, NULL);
	enum { N = 200 };
	struct smtp_job *jobs = xcalloc(N, sizeof(*jobs));
	for (size_t i = 0; i < N; i++) {
		jobs[i].sender = "bounce@kirim.test";
		jobs[i].rcpts = one_rcpt;
		jobs[i].nrcpt = 1;
		jobs[i].data = sample_msg;
		jobs[i].len = sizeof(sample_msg) - 1;
	}
	struct run *run = new_run(jobs, N);
	struct smtp_session_config cfg;
	base_config(&cfg);
	run_session(run, &cfg, port, "sink.test");
	test_server_stop(pid);

	assert_int_equal(run->connected, 1);
	assert_true(run->ehlo_flags & SMTP_EXT_PIPELINING);
	assert_int_equal(run->jobs_done, N);
	assert_int_equal(run->nres, N);
	for (size_t j = 0; j < N; j++)
		expect_res(run, j, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(run->why.stage, SMTP_STAGE_QUIT);
	assert_int_equal(run->why.code, 221);
	free(run);
	free(jobs);
}

static void
test_sink_max_jobs(void **state)
{
	(void)state;
	int port = test_free_port(TEST_TCP);
	pid_t pid = start_sink(port, NULL, NULL, NULL);
	struct smtp_job jobs[5];
	memset(jobs, 0, sizeof(jobs));
	for (size_t i = 0; i < 5; i++) {
		jobs[i].sender = "";
		jobs[i].rcpts = one_rcpt;
		jobs[i].nrcpt = 1;
		jobs[i].data = sample_msg;
		jobs[i].len = sizeof(sample_msg) - 1;
	}
	struct run *run = new_run(jobs, 5);
	run->close_after = 0; /* the cap ends the session */
	struct smtp_session_config cfg;
	base_config(&cfg);
	cfg.max_jobs = 3;
	run_session(run, &cfg, port, "sink.test");
	test_server_stop(pid);
	assert_int_equal(run->jobs_done, 3);
	assert_int_equal(run->next, 3);
	assert_int_equal(run->why.code, 221);
	free(run);
}

/*
 * Jobs the session refuses itself, before MAIL, each reported by its kind with the
 * enhanced code and text of disposition.c's table (none invented here); the session goes
 * on with the next job, and the last one is delivered.
 */
static void
test_sink_local_refusals(void **state)
{
	(void)state;
	int port = test_free_port(TEST_TCP);
	pid_t pid = start_sink(port, NULL, NULL, NULL); /* smtp-sink offers no SMTPUTF8 */
	static const char *const bad_rcpt[] = {"user@example.test>\r\nRSET"};
	static const char *const utf8_rcpt[] = {"j\xc3\xbcrgen@example.test"};
	static const struct {
		const char *sender;
		const char *const *rcpts;
		size_t nrcpt;
		enum smtp_local want;
	} t[] = {
	    {"bounce@kirim.test", one_rcpt, 0, SMTP_LOCAL_NO_RCPT},
	    {"bounce@kirim.test>", one_rcpt, 1, SMTP_LOCAL_BAD_SENDER},
	    {"bounce@kirim.test", bad_rcpt, 1, SMTP_LOCAL_BAD_RCPT},
	    {"bounce@kirim.test", utf8_rcpt, 1, SMTP_LOCAL_SMTPUTF8},
	    {"bounce@kirim.test", one_rcpt, 1, SMTP_LOCAL_NONE},
	};
	enum { N = sizeof(t) / sizeof(t[0]) };
	struct smtp_job jobs[N];
	memset(jobs, 0, sizeof(jobs));
	for (size_t j = 0; j < N; j++) {
		jobs[j].sender = t[j].sender;
		jobs[j].rcpts = t[j].rcpts;
		jobs[j].nrcpt = t[j].nrcpt;
		jobs[j].data = sample_msg;
		jobs[j].len = sizeof(sample_msg) - 1;
	}
	struct run *run = new_run(jobs, N);
	struct smtp_session_config cfg;
	base_config(&cfg);
	run_session(run, &cfg, port, "sink.test");
	test_server_stop(pid);
	assert_int_equal(run->jobs_done, N);
	for (size_t j = 0; j + 1 < N; j++) {
		const struct rres *r = &run->job_res[j];
		if (r->stage != SMTP_STAGE_MAIL || r->code != 0 ||
		    !(r->flags & SMTP_RESULT_LOCAL) || r->local != t[j].want ||
		    strcmp(r->ecode, disposition_local_ecode(t[j].want)) != 0 ||
		    strcmp(r->text, disposition_local_text(t[j].want)) != 0)
			fail_msg("job %zu: got stage=%s code=%d ecode=%s flags=%#x local=%d "
			         "text=\"%s\"; want a local refusal of kind %d (%s \"%s\")",
			         j, smtp_stage_name(r->stage), r->code, r->ecode, r->flags,
			         (int)r->local, r->text, (int)t[j].want,
			         disposition_local_ecode(t[j].want),
			         disposition_local_text(t[j].want));
	}
	assert_string_equal(run->job_res[2].ecode, "5.1.3");
	expect_res(run, N - 1, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(run->job_res[N - 1].local, SMTP_LOCAL_NONE);
	free(run);
}

/* One job, two recipients, against a sink started with the given fault options. */
static struct run *
sink_fault(const char *o1, const char *o2, const char *o3, const struct smtp_session_config *cfg,
           struct smtp_job *job)
{
	int port = test_free_port(TEST_TCP);
	pid_t pid = start_sink(port, o1, o2, o3);
	static const char *const two[] = {"a@example.test", "b@example.test"};
	memset(job, 0, sizeof(*job));
	job->sender = "bounce@kirim.test";
	job->rcpts = two;
	job->nrcpt = 2;
	job->data = sample_msg;
	job->len = sizeof(sample_msg) - 1;
	struct run *run = new_run(job, 1);
	run_session(run, cfg, port, "sink.test");
	test_server_stop(pid);
	assert_int_equal(run->jobs_done, 1);
	return run;
}

static void
test_sink_rcpt_hard(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	struct run *run = sink_fault("-f", "RCPT", NULL, &cfg, &job);
	assert_false(run->ehlo_flags & SMTP_EXT_PIPELINING);
	expect_res(run, 0, 0, SMTP_STAGE_RCPT, 500, "5.3.0", 0);
	expect_res(run, 0, 1, SMTP_STAGE_RCPT, 500, "5.3.0", 0);
	assert_int_equal(run->job_res[0].stage, SMTP_STAGE_RCPT);
	assert_int_equal(run->why.code, 221);
	free(run);
}

static void
test_sink_rcpt_soft(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	struct run *run = sink_fault("-r", "RCPT", NULL, &cfg, &job);
	expect_res(run, 0, 0, SMTP_STAGE_RCPT, 450, "4.3.0", 0);
	expect_res(run, 0, 1, SMTP_STAGE_RCPT, 450, "4.3.0", 0);
	free(run);
}

static void
test_sink_mail_421(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	struct run *run = sink_fault("-Q", "MAIL", NULL, &cfg, &job);
	expect_res(run, 0, 0, SMTP_STAGE_MAIL, 421, NULL, 0);
	expect_res(run, 0, 1, SMTP_STAGE_MAIL, 421, NULL, 0);
	assert_int_equal(run->why.code, 421);
	free(run);
}

static void
test_sink_data_disconnect(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	struct run *run = sink_fault("-q", "DATA", NULL, &cfg, &job);
	expect_res(run, 0, 0, SMTP_STAGE_DATA, 0, "", SMTP_RESULT_CONN_LOST);
	expect_res(run, 0, 1, SMTP_STAGE_DATA, 0, "", SMTP_RESULT_CONN_LOST);
	assert_true(run->job_res[0].flags & SMTP_RESULT_CONN_LOST);
	assert_non_null(strstr(run->job_res[0].text, "connection lost"));
	free(run);
}

static void
test_sink_data_timeout(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.timeouts.data_ms = 1000;
	uint64_t t0 = uv_hrtime();
	/* Without PIPELINING (-p): the sink delays the batch's replies when pipelining. */
	struct run *run = sink_fault("-p", "-w", "3", &cfg, &job);
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	expect_res(run, 0, 0, SMTP_STAGE_DATA, 0, "", SMTP_RESULT_TIMEOUT);
	expect_res(run, 0, 1, SMTP_STAGE_DATA, 0, "", SMTP_RESULT_TIMEOUT);
	assert_true(run->why.flags & SMTP_RESULT_TIMEOUT);
	assert_true(ms >= 900 && ms < 2900);
	free(run);
}

static void
test_connect_refused(void **state)
{
	(void)state;
	struct smtp_session_config cfg;
	base_config(&cfg);
	struct smtp_job job = {.sender = "", .rcpts = one_rcpt, .nrcpt = 1, .data = "x", .len = 1};
	struct run *run = new_run(&job, 1);
	char err[256];
	int port = test_free_port(TEST_TCP); /* nothing listens there */
	assert_int_equal(uv_loop_init(&run->loop), 0);
	run->s = smtp_session_new(&run->loop, &cfg, &cbs, run, err, sizeof(err));
	smtp_session_submit(run->s, &job); /* queued before connecting: handed back */
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", port, &a);
	smtp_session_connect(run->s, (struct sockaddr *)&a, "nowhere.test");
	uv_run(&run->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&run->loop), 0);
	assert_int_equal(run->closed, 1);
	assert_int_equal(run->jobs_done, 1);
	/* Never on the wire: no attempt (ABORTED), with the session's failure as the reason. */
	expect_res(run, 0, 0, SMTP_STAGE_CONNECT, 0, "",
	           SMTP_RESULT_CONN_LOST | SMTP_RESULT_ABORTED);
	assert_non_null(strstr(run->job_res[0].text, "ended before this message was sent"));
	assert_int_equal(run->connected, 0);
	free(run);
}

/*
 * Three jobs queued before connecting, and a server that breaks the session: the job in
 * the transaction gets the real error (no ABORTED: an attempt), the ones behind it were
 * never sent and come back ABORTED, saying why, not with that job's error.
 */
static void
test_sink_jobs_behind_aborted(void **state)
{
	(void)state;
	static const struct {
		const char *label;
		const char *o1, *o2, *o3; /* smtp-sink faults */
		unsigned dot_ms;
		enum smtp_stage stage; /* the first job's */
		int code;
		unsigned flag;
	} cases[] = {
	    {"disconnect at the dot", "-q.", NULL, NULL, 0, SMTP_STAGE_DOT, 0,
	     SMTP_RESULT_CONN_LOST},
	    {"timeout in state dot", "-W.:3", NULL, NULL, 400, SMTP_STAGE_DOT, 0,
	     SMTP_RESULT_TIMEOUT},
	    {"disconnect at the RSET after a refused RCPT", "-rRCPT", "-qRSET", NULL, 0,
	     SMTP_STAGE_RCPT, 450, 0},
	    {"421 to the RSET after a refused RCPT", "-rRCPT", "-QRSET", NULL, 0, SMTP_STAGE_RCPT,
	     450, 0},
	};
	int bad = 0;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int port = test_free_port(TEST_TCP);
		pid_t pid = start_sink(port, cases[c].o1, cases[c].o2, cases[c].o3);
		struct smtp_job jobs[3];
		for (size_t i = 0; i < 3; i++)
			jobs[i] = (struct smtp_job){.sender = "bounce@kirim.test",
			                            .rcpts = one_rcpt,
			                            .nrcpt = 1,
			                            .data = sample_msg,
			                            .len = sizeof(sample_msg) - 1};
		struct run *run = new_run(jobs, 3);
		struct smtp_session_config cfg;
		base_config(&cfg);
		if (cases[c].dot_ms)
			cfg.timeouts.dot_ms = cases[c].dot_ms;
		run_session_submit(run, &cfg, port, "sink.test");
		test_server_stop(pid);
		const struct rres *r = &run->job_res[0];
		if (r->stage != cases[c].stage || r->code != cases[c].code ||
		    (r->flags & cases[c].flag) != cases[c].flag ||
		    (r->flags & SMTP_RESULT_ABORTED)) {
			print_error("%s: job 0 got stage=%s code=%d flags=%#x text=\"%s\"; want "
			            "stage=%s code=%d flags=%#x, not ABORTED\n",
			            cases[c].label, smtp_stage_name(r->stage), r->code, r->flags,
			            r->text, smtp_stage_name(cases[c].stage), cases[c].code,
			            cases[c].flag);
			bad++;
		}
		for (size_t j = 1; j < 3; j++) {
			r = &run->job_res[j];
			const struct rres *rr = find_res(run, j, 0);
			if (!(r->flags & SMTP_RESULT_ABORTED) ||
			    !(rr->flags & SMTP_RESULT_ABORTED) ||
			    strstr(r->text,
			           "session to sink.test ended before this message was sent") ==
			        NULL) {
				print_error(
				    "%s: job %zu got stage=%s code=%d flags=%#x text=\"%s\"; "
				    "want ABORTED, \"session to sink.test ended before this "
				    "message was sent: ...\"\n",
				    cases[c].label, j, smtp_stage_name(r->stage), r->code, r->flags,
				    r->text);
				bad++;
			}
		}
		free(run);
	}
	if (bad)
		fail_msg("%d wrong results", bad);
}

static void
on_submit_timer(uv_timer_t *t)
{
	struct run *run = t->data;
	uv_close((uv_handle_t *)t, NULL);
	assert_non_null(run->s); /* still waiting for the reply to QUIT (the text below says so) */
	run->njobs = 2;
	run->next = 2;
	smtp_session_submit(run->s, &run->jobs[1]);
}

/*
 * A job submitted after the idle timeout sent QUIT (an owner that has not heard yet)
 * must come back, ABORTED: job_done once per job, whatever happens to the connection.
 */
static void
test_submit_while_quitting(void **state)
{
	(void)state;
	int port = test_free_port(TEST_TCP);
	pid_t pid = start_sink(port, "-WQUIT:1", NULL, NULL);
	struct smtp_job jobs[2];
	for (size_t i = 0; i < 2; i++)
		jobs[i] = (struct smtp_job){.sender = "bounce@kirim.test",
		                            .rcpts = one_rcpt,
		                            .nrcpt = 1,
		                            .data = sample_msg,
		                            .len = sizeof(sample_msg) - 1};
	struct run *run = new_run(jobs, 1);
	run->close_after = 0; /* the idle timeout (300 ms) sends QUIT */
	struct smtp_session_config cfg;
	base_config(&cfg);
	char err[256];
	assert_int_equal(uv_loop_init(&run->loop), 0);
	run->s = smtp_session_new(&run->loop, &cfg, &cbs, run, err, sizeof(err));
	assert_non_null(run->s);
	uv_timer_t t;
	uv_timer_init(&run->loop, &t);
	t.data = run;
	uv_timer_start(&t, on_submit_timer, 600, 0);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", port, &a);
	smtp_session_connect(run->s, (struct sockaddr *)&a, "sink.test");
	uv_run(&run->loop, UV_RUN_DEFAULT);
	test_server_stop(pid);
	assert_int_equal(uv_loop_close(&run->loop), 0);
	assert_int_equal(run->closed, 1);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	if (run->jobs_done != 2)
		fail_msg("jobs done %zu, want 2: the job submitted during QUIT never came back",
		         run->jobs_done);
	expect_res(run, 1, 0, SMTP_STAGE_QUIT, 0, "", SMTP_RESULT_ABORTED);
	/* "session closing": QUIT was sent and its reply not yet read ("closed" once it is). */
	assert_string_equal(run->job_res[1].text, "session closing");
	free(run);
}

/* ---- a recording proxy: what the client wrote, one read at a time ---- */

/*
 * A one-connection TCP relay on the session's own loop, between the session
 * and a real server. Every read on the client's side is kept as one chunk.
 * Commands the client wrote at once arrive in one chunk: one write on
 * loopback, and the relay reads all there is. Commands sent in lock-step
 * cannot share a chunk, since each waits for the reply to the one before,
 * which has to come back through the relay after it read that command.
 */
enum { PROXY_CHUNKS = 256 };

struct proxy;

struct proxy_side {
	uv_tcp_t tcp;
	struct proxy *px;
	int eof;
};

struct proxy {
	uv_tcp_t listener;
	struct proxy_side down, up; /* down: the session's connection; up: the server's */
	uv_connect_t creq;
	struct sockaddr_in server;
	int port;    /* where the session connects */
	int open;    /* handles not yet closed */
	int closing; /* both sides are being closed */
	struct buf chunk[PROXY_CHUNKS];
	size_t nchunk;
};

struct proxy_wreq {
	uv_write_t req;
	char *data;
};

static void
proxy_on_close_listener(uv_handle_t *h)
{
	struct proxy *px = h->data;
	px->open--;
}

static void
proxy_on_close_side(uv_handle_t *h)
{
	struct proxy_side *side = h->data;
	side->px->open--;
}

static void
proxy_close(struct proxy *px)
{
	if (px->closing)
		return;
	px->closing = 1;
	uv_close((uv_handle_t *)&px->down.tcp, proxy_on_close_side);
	uv_close((uv_handle_t *)&px->up.tcp, proxy_on_close_side);
}

static void
proxy_on_write(uv_write_t *req, int status)
{
	(void)status; /* a side that went away ends the relay through its read */
	struct proxy_wreq *w = (struct proxy_wreq *)req;
	free(w->data);
	free(w);
}

static void
proxy_on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void
proxy_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	*b = uv_buf_init(xmalloc(65536), 65536);
}

static void
proxy_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
	struct proxy_side *side = stream->data;
	struct proxy *px = side->px;
	struct proxy_side *other = side == &px->down ? &px->up : &px->down;
	if (nread > 0 && !px->closing) {
		if (side == &px->down) {
			assert_true(px->nchunk < PROXY_CHUNKS);
			buf_add(&px->chunk[px->nchunk++], b->base, (size_t)nread);
		}
		struct proxy_wreq *w = xcalloc(1, sizeof(*w));
		w->data = b->base;
		uv_buf_t out = uv_buf_init(b->base, (unsigned)nread);
		if (uv_write(&w->req, (uv_stream_t *)&other->tcp, &out, 1, proxy_on_write) < 0) {
			free(w->data);
			free(w);
		}
		return;
	}
	free(b->base);
	if (nread == 0 || px->closing)
		return;
	/* The end of one side: pass the FIN on after what is queued; close when both ended. */
	side->eof = 1;
	if (nread != UV_EOF || other->eof) {
		proxy_close(px);
		return;
	}
	uv_shutdown_t *sr = xcalloc(1, sizeof(*sr));
	if (uv_shutdown(sr, (uv_stream_t *)&other->tcp, proxy_on_shutdown) < 0) {
		free(sr);
		proxy_close(px);
	}
}

static void
proxy_on_connect(uv_connect_t *req, int status)
{
	struct proxy *px = req->data;
	if (status < 0) {
		proxy_close(px);
		return;
	}
	uv_read_start((uv_stream_t *)&px->down.tcp, proxy_alloc, proxy_on_read);
	uv_read_start((uv_stream_t *)&px->up.tcp, proxy_alloc, proxy_on_read);
}

static void
proxy_on_conn(uv_stream_t *listener, int status)
{
	struct proxy *px = listener->data;
	assert_int_equal(status, 0);
	assert_int_equal(uv_accept(listener, (uv_stream_t *)&px->down.tcp), 0);
	uv_close((uv_handle_t *)listener, proxy_on_close_listener); /* one connection only */
	px->creq.data = px;
	assert_int_equal(uv_tcp_connect(&px->creq, &px->up.tcp, (struct sockaddr *)&px->server,
	                                proxy_on_connect),
	                 0);
}

/* proxy_start - listen on a free loopback port (px->port) and relay to server_port */
static void
proxy_start(struct proxy *px, uv_loop_t *loop, int server_port)
{
	memset(px, 0, sizeof(*px));
	uv_ip4_addr("127.0.0.1", server_port, &px->server);
	struct sockaddr_in any;
	uv_ip4_addr("127.0.0.1", 0, &any);
	assert_int_equal(uv_tcp_init(loop, &px->listener), 0);
	assert_int_equal(uv_tcp_init(loop, &px->down.tcp), 0);
	assert_int_equal(uv_tcp_init(loop, &px->up.tcp), 0);
	px->open = 3;
	px->listener.data = px;
	px->down.px = px->up.px = px;
	px->down.tcp.data = &px->down;
	px->up.tcp.data = &px->up;
	assert_int_equal(uv_tcp_bind(&px->listener, (struct sockaddr *)&any, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&px->listener, 4, proxy_on_conn), 0);
	struct sockaddr_in me;
	int len = sizeof(me);
	assert_int_equal(uv_tcp_getsockname(&px->listener, (struct sockaddr *)&me, &len), 0);
	px->port = ntohs(me.sin_port);
}

static void
proxy_free(struct proxy *px)
{
	for (size_t i = 0; i < px->nchunk; i++)
		buf_free(&px->chunk[i]);
}

/* ---- aiosmtpd server tests ---- */

struct srv {
	pid_t pid;
	int port;
	char dump[300];
};

static void
need_server(void)
{
	if (access(python_path(), X_OK) != 0 || access(server_script, R_OK) != 0) {
		print_error("%s or %s missing: install python3-aiosmtpd (tools/test does)\n",
		            python_path(), server_script);
		fail();
	}
}

/* Start smtp_server.py with the given options (NULL-terminated). */
static void
start_py(struct srv *sv, ...)
{
	need_server();
	static int seq;
	char port[16], log[300], cert[300], key[300];
	char *argv[32];
	int n = 0;
	sv->port = test_free_port(TEST_TCP);
	snprintf(port, sizeof(port), "%d", sv->port);
	snprintf(sv->dump, sizeof(sv->dump), "%s/dump-%d", tmpdir, ++seq);
	mkdir(sv->dump, 0755);
	snprintf(log, sizeof(log), "%s/server-%d.log", tmpdir, seq);
	snprintf(cert, sizeof(cert), "%s/server.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/server.key", tmpdir);
	argv[n++] = (char *)python_path();
	argv[n++] = server_script;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--dump";
	argv[n++] = sv->dump;
	va_list ap;
	va_start(ap, sv);
	for (const char *o; (o = va_arg(ap, const char *)) != NULL;) {
		if (strcmp(o, "--tls") == 0) {
			argv[n++] = "--cert";
			argv[n++] = cert;
			argv[n++] = "--key";
			argv[n++] = key;
		} else {
			argv[n++] = (char *)o;
		}
	}
	va_end(ap);
	argv[n] = NULL;
	sv->pid = test_server_start(argv, log, TEST_TCP, sv->port);
}

static int
count_dumps(const struct srv *sv)
{
	DIR *d = opendir(sv->dump);
	int n = 0;
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strstr(e->d_name, ".eml") != NULL;
	closedir(d);
	return n;
}

static void
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, n);
	fclose(f);
}

static char ca_file[300];

/* One job with one recipient; returns the run (caller frees). */
static struct run *
deliver_one(const struct smtp_session_config *cfg, const struct srv *sv, const char *host,
            struct smtp_job *job)
{
	memset(job, 0, sizeof(*job));
	job->sender = "bounce@kirim.test";
	job->rcpts = one_rcpt;
	job->nrcpt = 1;
	job->data = sample_msg;
	job->len = sizeof(sample_msg) - 1;
	struct run *run = new_run(job, 1);
	run_session_submit(run, cfg, sv->port, host);
	test_server_stop(sv->pid);
	assert_int_equal(run->jobs_done, 1);
	return run;
}

static void
test_starttls_opportunistic(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--tls", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_OPPORTUNISTIC;
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(run->tls, 1);
	assert_int_equal(run->tls_verified, 0);
	assert_true(strncmp(run->tls_version, "TLSv1.", 6) == 0);

	/* The bytes the server stored: the message with CRLF line ends, dots restored. */
	struct buf got = BUF_INIT, json = BUF_INIT;
	char path[400];
	snprintf(path, sizeof(path), "%s/0001.eml", sv.dump);
	read_file(path, &got);
	static const char want[] = "From: a@example.test\r\nTo: user@example.test\r\nSubject: "
	                           "t\r\n\r\nline one\r\n.\r\n..two dots\r\n.\r\nbare cr\r\n.\r\n"
	                           "end\r\n";
	if (got.len != sizeof(want) - 1 || memcmp(got.data, want, got.len) != 0)
		fail_msg("stored message differs: got \"%s\"", got.data);
	snprintf(path, sizeof(path), "%s/0001.json", sv.dump);
	read_file(path, &json);
	assert_non_null(strstr(json.data, "\"tls\": true"));
	assert_non_null(strstr(json.data, "SIZE="));
	buf_free(&got);
	buf_free(&json);
	free(run);
}

static void
test_starttls_verify_ok(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--tls", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_VERIFY;
	cfg.tls_ca_file = ca_file;
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(run->tls_verified, 1);
	assert_int_equal(count_dumps(&sv), 1);
	free(run);
}

static void
test_starttls_verify_wrong_host(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--tls", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_VERIFY;
	cfg.tls_ca_file = ca_file;
	struct run *run = deliver_one(&cfg, &sv, "wrong.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_STARTTLS, 0, "", SMTP_RESULT_LOCAL);
	const struct rres *r = find_res(run, 0, 0);
	if (strstr(r->text, "hostname mismatch") == NULL)
		fail_msg("got text \"%s\", want a hostname mismatch", r->text);
	assert_int_equal(run->tls, 0);
	assert_int_equal(count_dumps(&sv), 0);
	free(run);
}

static void
test_starttls_verify_untrusted(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--tls", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_VERIFY;
	cfg.tls_ca_file = NULL; /* the system store does not know the test CA */
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_STARTTLS, 0, "", SMTP_RESULT_LOCAL);
	assert_non_null(strstr(find_res(run, 0, 0)->text, "certificate verify"));
	free(run);
}

static void
test_starttls_required_not_offered(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_REQUIRED;
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_STARTTLS, 0, "", SMTP_RESULT_LOCAL);
	assert_non_null(strstr(find_res(run, 0, 0)->text, "STARTTLS not offered"));
	assert_int_equal(count_dumps(&sv), 0);
	assert_int_equal(run->why.stage, SMTP_STAGE_STARTTLS);
	free(run);
}

static void
test_implicit_tls(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--tls", "--implicit-tls", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_VERIFY;
	cfg.tls_ca_file = ca_file;
	cfg.implicit_tls = 1;
	struct run *run = deliver_one(&cfg, &sv, "127.0.0.1", &job);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(run->tls, 1);
	assert_int_equal(run->tls_verified, 1);
	assert_int_equal(count_dumps(&sv), 1);
	free(run);
}

/*
 * A TLS SMTP server just big enough to see how a session ends, on python3's
 * ssl module (aiosmtpd's transport hides the alert): implicit TLS or
 * STARTTLS (argv[5]), EHLO and QUIT. After its reply to QUIT it reads once
 * more, ragged EOFs not suppressed, and writes to argv[4] what came:
 * "close_notify" when the client's alert arrived before the TCP FIN, else
 * what did. Connections that end before their first command (the readiness
 * probe of test_server_start) are skipped.
 */
static const char tls_end_server[] =
    "import socket, ssl, sys\n"
    "port, cert, key, out, mode = sys.argv[1:6]\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(cert, key)\n"
    "# Where it is set, this option would read a bare FIN as close_notify.\n"
    "ctx.options &= ~getattr(ssl, 'OP_IGNORE_UNEXPECTED_EOF', 0)\n"
    "ls = socket.create_server(('127.0.0.1', int(port)))\n"
    "def wrap(raw):\n"
    "    return ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)\n"
    "def readline(c):\n"
    "    line = b''\n"
    "    while not line.endswith(b'\\r\\n'):\n"
    "        d = c.recv(1)\n"
    "        if not d:\n"
    "            raise EOFError\n"
    "        line += d\n"
    "    return line\n"
    "def session(raw):\n"
    "    c = wrap(raw) if mode == 'implicit' else raw\n"
    "    c.sendall(b'220 mx.test ESMTP\\r\\n')\n"
    "    while True:\n"
    "        verb = readline(c)[:4].upper()\n"
    "        if verb == b'EHLO' and c is raw:\n"
    "            c.sendall(b'250-mx.test\\r\\n250 STARTTLS\\r\\n')\n"
    "        elif verb == b'EHLO':\n"
    "            c.sendall(b'250 mx.test\\r\\n')\n"
    "        elif verb == b'STAR' and c is raw:\n"
    "            c.sendall(b'220 2.0.0 go ahead\\r\\n')\n"
    "            c = wrap(raw)\n"
    "        elif verb == b'QUIT':\n"
    "            c.sendall(b'221 2.0.0 bye\\r\\n')\n"
    "            break\n"
    "        else:\n"
    "            c.sendall(b'502 5.5.2 not here\\r\\n')\n"
    "    try:\n"
    "        return 'close_notify' if c.recv(1) == b'' else 'data after QUIT'\n"
    "    except ssl.SSLError as e:\n"
    "        if isinstance(e, ssl.SSLEOFError) or 'UNEXPECTED_EOF' in str(e):\n"
    "            return 'TCP FIN without close_notify'\n"
    "        return 'error: %s' % e\n"
    "    except OSError as e:\n"
    "        return 'error: %s' % e\n"
    "while True:\n"
    "    raw, _ = ls.accept()\n"
    "    try:\n"
    "        seen = session(raw)\n"
    "    except (OSError, EOFError):\n"
    "        raw.close()\n"
    "        continue\n"
    "    with open(out, 'w') as f:\n"
    "        f.write(seen)\n"
    "    break\n";

/* wait_exit - reap pid, failing the test when it has not exited within ms */
static void
wait_exit(pid_t pid, int ms)
{
	for (int waited = 0;; waited += 10) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		if (waited >= ms) {
			test_server_stop(pid);
			fail_msg("server %d still running after %d ms", (int)pid, ms);
		}
		usleep(10 * 1000);
	}
}

/*
 * After the reply to QUIT a TLS session sends close_notify before its TCP
 * FIN (RFC 8446 6.1, RFC 5246 7.2.1), with implicit TLS and with STARTTLS.
 */
static void
test_tls_close_notify(void **state)
{
	(void)state;
	static const struct {
		const char *mode;
		int implicit_tls;
	} cases[] = {{"implicit", 1}, {"starttls", 0}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char port[16], cert[300], key[300], out[300], log[300];
		int p = test_free_port(TEST_TCP);
		snprintf(port, sizeof(port), "%d", p);
		snprintf(cert, sizeof(cert), "%s/server.pem", tmpdir);
		snprintf(key, sizeof(key), "%s/server.key", tmpdir);
		snprintf(out, sizeof(out), "%s/tls-end-%s.txt", tmpdir, cases[c].mode);
		snprintf(log, sizeof(log), "%s/tls-end-%s.log", tmpdir, cases[c].mode);
		char *argv[] = {
		    (char *)python_path(), "-c", (char *)tls_end_server, port, cert, key, out,
		    (char *)cases[c].mode, NULL};
		pid_t pid = test_server_start(argv, log, TEST_TCP, p);

		struct smtp_session_config cfg;
		base_config(&cfg);
		cfg.tls_policy = TLS_POLICY_VERIFY;
		cfg.tls_ca_file = ca_file;
		cfg.implicit_tls = cases[c].implicit_tls;
		struct run *run = new_run(NULL, 0); /* no job: the idle timeout sends QUIT */
		run_session(run, &cfg, p, "mx.test");
		wait_exit(pid, 5000);
		assert_int_equal(run->tls, 1);
		assert_int_equal(run->why.stage, SMTP_STAGE_QUIT);
		assert_int_equal(run->why.code, 221);
		struct buf seen = BUF_INIT;
		read_file(out, &seen);
		if (seen.data == NULL || strcmp(seen.data, "close_notify") != 0)
			fail_msg(
			    "%s: the server saw \"%s\" after its reply to QUIT; want close_notify",
			    cases[c].mode, seen.data ? seen.data : "");
		buf_free(&seen);
		free(run);
	}
}

static void
auth_case(const char *exclude, const char *pass, int want_ok)
{
	struct srv sv;
	if (exclude)
		start_py(&sv, "--tls", "--auth", "--auth-exclude", exclude, NULL);
	else
		start_py(&sv, "--tls", "--auth", NULL);
	struct smtp_session_config cfg;
	struct smtp_job job;
	base_config(&cfg);
	cfg.tls_policy = TLS_POLICY_VERIFY;
	cfg.tls_ca_file = ca_file;
	cfg.auth_user = "kirim";
	cfg.auth_pass = pass;
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	if (want_ok) {
		expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
		assert_int_equal(count_dumps(&sv), 1);
	} else {
		expect_res(run, 0, 0, SMTP_STAGE_AUTH, 535, "5.7.8", 0);
		assert_int_equal(count_dumps(&sv), 0);
	}
	free(run);
}

static void
test_auth_plain(void **state)
{
	(void)state;
	auth_case("LOGIN", "s3cret", 1);
	auth_case("LOGIN", "wrong", 0);
}

static void
test_auth_login(void **state)
{
	(void)state;
	auth_case("PLAIN", "s3cret", 1);
	auth_case("PLAIN", "wrong", 0);
}

static void
test_auth_plaintext(void **state)
{
	(void)state;
	struct srv sv;
	struct smtp_session_config cfg;
	struct smtp_job job;
	/* Refused: credentials would travel in the clear. */
	start_py(&sv, "--auth", "--auth-plaintext", NULL);
	base_config(&cfg);
	cfg.auth_user = "kirim";
	cfg.auth_pass = "s3cret";
	struct run *run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_AUTH, 0, "", SMTP_RESULT_LOCAL);
	assert_non_null(strstr(find_res(run, 0, 0)->text, "without TLS"));
	assert_int_equal(count_dumps(&sv), 0);
	free(run);
	/* Allowed when the configuration says so. */
	start_py(&sv, "--auth", "--auth-plaintext", NULL);
	cfg.allow_plaintext_auth = 1;
	run = deliver_one(&cfg, &sv, "mx.test", &job);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	free(run);
}

/*
 * RFC 2920 3.1 on the wire: each job's MAIL, all its RCPTs and DATA went in
 * one write, so they reached the relay in one read, and no command of those
 * arrived alone. In lock-step (no PIPELINING) every chunk would hold one
 * command.
 */
static void
expect_pipelined(const struct proxy *px, const struct smtp_job *jobs, size_t njobs)
{
	size_t j = 0, bad = 0;
	for (size_t k = 0; k < px->nchunk; k++) {
		const struct buf *c = &px->chunk[k];
		const char *eol = strstr(c->data, "\r\n");
		if (strncmp(c->data, "RCPT ", 5) == 0 || strcmp(c->data, "DATA\r\n") == 0)
			bad++;
		if (strncmp(c->data, "MAIL FROM:", 10) != 0 || eol == NULL || j == njobs)
			continue;
		/* After the MAIL line (its SIZE= depends on the body): the RCPTs, then DATA. */
		struct buf want = BUF_INIT;
		for (size_t i = 0; i < jobs[j].nrcpt; i++)
			buf_printf(&want, "RCPT TO:<%s>\r\n", jobs[j].rcpts[i]);
		buf_adds(&want, "DATA\r\n");
		if (strcmp(eol + 2, want.data) != 0)
			bad++;
		j++;
		buf_free(&want);
	}
	if (bad || j != njobs) {
		for (size_t k = 0; k < px->nchunk; k++)
			print_error("read %zu:\n%s", k, px->chunk[k].data);
		fail_msg(
		    "want %zu reads of MAIL + RCPT... + DATA and none of RCPT or DATA alone; got "
		    "%zu reads starting with MAIL, %zu reads wrong",
		    njobs, j, bad);
	}
}

static void
test_mixed_pipelined(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--pipelining", NULL);
	static const char *const rc1[] = {"ok1@example.test", "reject1@example.test",
	                                  "defer1@example.test", "ok2@example.test"};
	static const char *const rc2[] = {"reject2@example.test", "defer2@example.test"};
	static const char *const rc3[] = {"ok3@example.test"};
	struct smtp_job jobs[3] = {
	    {.sender = "b@kirim.test",
	     .rcpts = rc1,
	     .nrcpt = 4,
	     .data = sample_msg,
	     .len = sizeof(sample_msg) - 1},
	    {.sender = "b@kirim.test",
	     .rcpts = rc2,
	     .nrcpt = 2,
	     .data = sample_msg,
	     .len = sizeof(sample_msg) - 1},
	    {.sender = "b@kirim.test",
	     .rcpts = rc3,
	     .nrcpt = 1,
	     .data = sample_msg,
	     .len = sizeof(sample_msg) - 1},
	};
	struct smtp_session_config cfg;
	base_config(&cfg);
	struct run *run = new_run(jobs, 3);
	/* Through a relay that records what the session wrote, read by read. */
	struct proxy px;
	assert_int_equal(uv_loop_init(&run->loop), 0);
	proxy_start(&px, &run->loop, sv.port);
	run_session_on(run, &cfg, px.port, "mx.test"); /* it runs the loop until the relay ends */
	test_server_stop(sv.pid);
	assert_int_equal(px.open, 0);
	assert_true(run->ehlo_flags & SMTP_EXT_PIPELINING);
	assert_int_equal(run->connected, 1);
	expect_pipelined(&px, jobs, 3);
	proxy_free(&px);
	expect_res(run, 0, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	expect_res(run, 0, 1, SMTP_STAGE_RCPT, 550, "5.1.1", 0);
	expect_res(run, 0, 2, SMTP_STAGE_RCPT, 451, "4.3.0", 0);
	expect_res(run, 0, 3, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	/* Every RCPT refused: no body; the job ends at the RCPT stage. */
	expect_res(run, 1, 0, SMTP_STAGE_RCPT, 550, "5.1.1", 0);
	expect_res(run, 1, 1, SMTP_STAGE_RCPT, 451, "4.3.0", 0);
	assert_int_equal(run->job_res[1].stage, SMTP_STAGE_RCPT);
	/* The same connection goes on after an RSET. */
	expect_res(run, 2, 0, SMTP_STAGE_DOT, 250, "2.0.0", 0);
	assert_int_equal(count_dumps(&sv), 2);

	struct buf json = BUF_INIT;
	char path[400];
	snprintf(path, sizeof(path), "%s/0001.json", sv.dump);
	read_file(path, &json);
	assert_non_null(strstr(json.data, "[\"ok1@example.test\", \"ok2@example.test\"]"));
	buf_free(&json);
	snprintf(path, sizeof(path), "%s/0002.json", sv.dump);
	read_file(path, &json);
	assert_non_null(strstr(json.data, "[\"ok3@example.test\"]"));
	buf_free(&json);
	free(run);
}

static void
test_all_rcpt_failed_no_body(void **state)
{
	(void)state;
	struct srv sv;
	start_py(&sv, "--pipelining", NULL);
	static const char *const rc[] = {"reject@example.test", "defer@example.test"};
	struct smtp_job job = {.sender = "b@kirim.test",
	                       .rcpts = rc,
	                       .nrcpt = 2,
	                       .data = sample_msg,
	                       .len = sizeof(sample_msg) - 1};
	struct smtp_session_config cfg;
	base_config(&cfg);
	struct run *run = new_run(&job, 1);
	run_session(run, &cfg, sv.port, "mx.test");
	test_server_stop(sv.pid);
	expect_res(run, 0, 0, SMTP_STAGE_RCPT, 550, "5.1.1", 0);
	expect_res(run, 0, 1, SMTP_STAGE_RCPT, 451, "4.3.0", 0);
	assert_int_equal(count_dumps(&sv), 0);
	assert_int_equal(run->why.code, 221);
	free(run);
}

static int
setup(void **state)
{
	(void)state;
	if (getenv("KIRIM_TEST_DEBUG"))
		log_set_level(LOG_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	const char *td = env_or("KIRIM_TESTDATA", "tests/data");
	const char *sc = getenv("KIRIM_SMTP_SERVER");
	if (sc && *sc)
		snprintf(server_script, sizeof(server_script), "%s", sc);
	else
		snprintf(server_script, sizeof(server_script), "%s/../integration/smtp_server.py",
		         td);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kirim-smtp-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* smtp-sink drops privileges to nobody: let it use the directory too. */
	chmod(tmpdir, 0777);
	snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tmpdir);
	if (access(python_path(), X_OK) == 0 && access(server_script, R_OK) == 0) {
		char cmd[1500];
		snprintf(cmd, sizeof(cmd), "%s %s --make-certs %s", python_path(), server_script,
		         tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* ---- a reply during the body ---- */

/*
 * A server on the test's own loop that answers the envelope, says 354, and on the first
 * bytes of the body replies 554 at once and stops reading: the client's write of a large
 * body is still in flight when its job ends (and its owner frees the message).
 */
struct early {
	uv_tcp_t listener, conn;
	uv_timer_t timer;
	struct buf in;
	int in_body, conns, open;
};

static void
early_closed(uv_handle_t *h)
{
	struct early *e = h->data;
	e->open--;
}

static void
early_sent(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
early_send(struct early *e, const char *text)
{
	uv_write_t *w = xcalloc(1, sizeof(*w));
	uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
	if (uv_write(w, (uv_stream_t *)&e->conn, &b, 1, early_sent) < 0)
		free(w);
}

static void
early_end(uv_timer_t *t)
{
	struct early *e = t->data;
	uv_close((uv_handle_t *)&e->conn, early_closed);
	uv_close((uv_handle_t *)&e->timer, early_closed);
}

static void
early_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	static char space[65536];
	*b = uv_buf_init(space, sizeof(space));
}

static void
early_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct early *e = st->data;
	if (n <= 0)
		return;
	if (e->in_body) {
		/* The body has started: refuse it now, read no more, hang up a little later. */
		early_send(e, "554 5.7.1 refused before the end of the message\r\n");
		uv_read_stop(st);
		uv_timer_start(&e->timer, early_end, 300, 0);
		return;
	}
	buf_add(&e->in, b->base, (size_t)n);
	char *nl;
	while ((nl = memchr(e->in.data, '\n', e->in.len)) != NULL) {
		size_t len = (size_t)(nl - e->in.data) + 1;
		if (strncasecmp(e->in.data, "EHLO", 4) == 0)
			early_send(e, "250 early.test\r\n");
		else if (strncasecmp(e->in.data, "DATA", 4) == 0) {
			early_send(e, "354 go on\r\n");
			e->in_body = 1;
		} else
			early_send(e, "250 ok\r\n");
		memmove(e->in.data, e->in.data + len, e->in.len - len);
		e->in.len -= len;
		if (e->in_body)
			break;
	}
}

static void
early_accept(uv_stream_t *l, int status)
{
	struct early *e = l->data;
	assert_int_equal(status, 0);
	assert_int_equal(e->conns++, 0);
	uv_tcp_init(l->loop, &e->conn);
	e->conn.data = e;
	e->open++;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&e->conn), 0);
	uv_close((uv_handle_t *)&e->listener, early_closed);
	early_send(e, "220 early.test ESMTP\r\n");
	uv_read_start((uv_stream_t *)&e->conn, early_alloc, early_read);
}

/*
 * One 32 MiB job in wire form, sent to the server above: given to the session
 * (give) it is written from the job's own memory, which the session takes;
 * not given, the session copies it when it writes. Either way the job ends
 * with the 554 while the write is in flight, its owner frees the message in
 * job_done, and nothing touches freed memory (AddressSanitizer checks the
 * writev that libuv goes on with).
 */
static void
early_reply(int give)
{
	struct smtp_session_config cfg;
	base_config(&cfg);
	struct buf msg = BUF_INIT, wire = BUF_INIT;
	buf_adds(&msg, "From: a@example.test\r\nSubject: big\r\n\r\n");
	while (msg.len < (32u << 20))
		buf_adds(&msg,
		         "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n");
	assert_int_equal(smtp_wire_encode(&wire, msg.data, msg.len), 0);
	buf_free(&msg);
	struct smtp_job job = {.sender = "a@example.test",
	                       .rcpts = one_rcpt,
	                       .nrcpt = 1,
	                       .data = wire.data,
	                       .len = wire.len,
	                       .flags = SMTP_JOB_WIRE | SMTP_JOB_7BIT};
	char *copy = NULL;
	if (give) {
		job.give = &wire;
	} else {
		copy = xmalloc(wire.len);
		memcpy(copy, wire.data, wire.len);
		job.data = copy;
		buf_free(&wire);
	}
	struct run *run = new_run(&job, 1);
	run->free_on_done = 1;
	struct early e = {.in = BUF_INIT};
	assert_int_equal(uv_loop_init(&run->loop), 0);
	uv_tcp_init(&run->loop, &e.listener);
	uv_timer_init(&run->loop, &e.timer);
	e.listener.data = e.timer.data = &e;
	e.open = 2;
	int port = test_free_port(TEST_TCP);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", port, &a);
	assert_int_equal(uv_tcp_bind(&e.listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&e.listener, 4, early_accept), 0);
	run_session_on(run, &cfg, port, "early.test");
	assert_int_equal(e.open, 0);
	assert_int_equal(run->jobs_done, 1);
	assert_int_equal(run->job_res[0].stage, SMTP_STAGE_DOT);
	assert_int_equal(run->job_res[0].code, 554);
	assert_null(job.data);
	if (give)
		assert_null(wire.data); /* taken by the session, freed when the write ended */
	buf_free(&e.in);
	free(run);
}

static void
test_early_reply_given(void **state)
{
	(void)state;
	early_reply(1);
}

static void
test_early_reply_copied(void **state)
{
	(void)state;
	early_reply(0);
}

static int
teardown(void **state)
{
	(void)state;
	if (getenv("KIRIM_TEST_KEEP") == NULL) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_persistent),
	    cmocka_unit_test(test_sink_max_jobs),
	    cmocka_unit_test(test_sink_local_refusals),
	    cmocka_unit_test(test_sink_rcpt_hard),
	    cmocka_unit_test(test_sink_rcpt_soft),
	    cmocka_unit_test(test_sink_mail_421),
	    cmocka_unit_test(test_sink_data_disconnect),
	    cmocka_unit_test(test_sink_data_timeout),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_sink_jobs_behind_aborted),
	    cmocka_unit_test(test_submit_while_quitting),
	    cmocka_unit_test(test_starttls_opportunistic),
	    cmocka_unit_test(test_starttls_verify_ok),
	    cmocka_unit_test(test_starttls_verify_wrong_host),
	    cmocka_unit_test(test_starttls_verify_untrusted),
	    cmocka_unit_test(test_starttls_required_not_offered),
	    cmocka_unit_test(test_implicit_tls),
	    cmocka_unit_test(test_tls_close_notify),
	    cmocka_unit_test(test_auth_plain),
	    cmocka_unit_test(test_auth_login),
	    cmocka_unit_test(test_auth_plaintext),
	    cmocka_unit_test(test_mixed_pipelined),
	    cmocka_unit_test(test_all_rcpt_failed_no_body),
	    cmocka_unit_test(test_early_reply_given),
	    cmocka_unit_test(test_early_reply_copied),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
