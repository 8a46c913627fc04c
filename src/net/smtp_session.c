/*
 * smtp_session - one outgoing SMTP connection (see smtp_session.h).
 *
 * enter() enters a state, arms the state's timer and sends the state's
 * command; on_reply() takes one complete reply and chooses the next state.
 * With PIPELINING, entering SMTP_S_MAIL writes MAIL, every RCPT and DATA at
 * once (the send cursor, rcpt_sent, runs ahead); replies are then matched in
 * order as the receive cursor (rcpt_recv) catches up, the way Postfix's
 * smtp_loop does. Without PIPELINING the two cursors move in lock-step.
 *
 * Invariants: every job taken from the queue reaches finish_job() once, and
 * finish_job() reports every recipient not yet reported; the session is freed
 * only in the close callback of its last handle; every byte handed to libuv
 * is owned by its write request (struct wreq) until the write callback.
 */
#include "kirim/smtp_session.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kirim/base64.h"
#include "kirim/disposition.h"
#include "kirim/log.h"
#include "kirim/sockaddr.h"
#include "kirim/smtp_wire.h"
#include "kirim/xmalloc.h"

/* The session's states; state_names below gives their names for the debug log. */
enum smtp_state {
	SMTP_S_INIT,
	SMTP_S_CONNECT,
	SMTP_S_TLS_HANDSHAKE, /* implicit TLS (port 465) before the banner */
	SMTP_S_BANNER,
	SMTP_S_EHLO,
	SMTP_S_HELO,
	SMTP_S_STARTTLS,
	SMTP_S_STARTTLS_HANDSHAKE,
	SMTP_S_AUTH, /* AUTH PLAIN with initial response, or AUTH LOGIN */
	SMTP_S_AUTH_LOGIN_USER,
	SMTP_S_AUTH_LOGIN_PASS,
	SMTP_S_IDLE, /* ready for a job */
	SMTP_S_MAIL,
	SMTP_S_RCPT,
	SMTP_S_DATA,
	SMTP_S_BODY, /* sending the message */
	SMTP_S_DOT,  /* waiting for the reply to the final dot */
	SMTP_S_RSET,
	SMTP_S_QUIT,
	SMTP_S_CLOSED,
	SMTP_S_COUNT
};

enum { RS_PENDING, RS_ACCEPTED, RS_DONE };

enum auth_mode { AUTH_NONE, AUTH_MODE_PLAIN, AUTH_MODE_LOGIN };

struct smtp_session {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect_req;
	int open_handles; /* handles whose init succeeded and whose close callback is pending */
	int closing;      /* uv_close has been called */
	enum smtp_state state;
	unsigned timeout_ms[SMTP_S_COUNT]; /* per state; 0 = no timer */

	struct smtp_session_config cfg; /* strings are copies owned here */
	struct sockaddr_storage bind;   /* cfg.bind_addr copied (cfg.bind_addr points here) */
	struct smtp_session_cbs cbs;
	void *owner;
	char *host;

	struct tls_ctx *tls_ctx;
	int own_tls_ctx;
	struct tls_tlsa *tlsa; /* cfg.tlsa copied, data in one block after the array */
	struct tls_conn *tls;
	int tls_active;    /* traffic goes through s->tls */
	int starttls_done; /* STARTTLS was tried (or TLS is up): do not offer it again */
	enum auth_mode auth;

	struct smtp_reply_parser parser;
	struct buf plain; /* decrypted input */
	struct smtp_ehlo ehlo;
	char rbuf[65536];

	/* Jobs. */
	struct smtp_job **queue;
	size_t nqueue, qcap;
	struct smtp_job *next; /* taken from the queue, waiting for RSET */
	struct smtp_job *job;  /* in progress */
	unsigned char *rstat;  /* RS_* per recipient of job */
	size_t rcpt_sent;      /* send cursor */
	size_t rcpt_recv;      /* receive cursor */
	size_t naccepted;
	int pipelined;
	int mail_failed;
	int data_sent;
	int discard_dot; /* a broken server said 354 with no recipient: end the empty message */
	int txn_open;    /* MAIL accepted and the transaction not ended */
	int in_next_job;
	int quit_requested;
	unsigned jobs_done;
	struct buf body;  /* the job's message put in wire form here (a job not SMTP_JOB_WIRE) */
	const char *wire; /* the wire form of the job's message: body's, or the job's own */
	size_t wire_len;
	struct buf cmd; /* scratch for commands */

	/* Job-level result when no recipient reached DATA (the last refusal). */
	enum smtp_stage jr_stage;
	int jr_code;
	char jr_ecode[SMTP_REPLY_ECODE_MAX];
	char jr_text[512];

	/* Why the session closed (the first failure wins). */
	int why_set;
	struct smtp_result why;
	char why_ecode[SMTP_REPLY_ECODE_MAX];
	char why_text[512];
};

struct wreq {
	uv_write_t req;
	struct smtp_session *s;
	char *owned;
	int body;
};

static const char *const state_names[SMTP_S_COUNT] = {
    [SMTP_S_INIT] = "init",
    [SMTP_S_CONNECT] = "connect",
    [SMTP_S_TLS_HANDSHAKE] = "tls-handshake",
    [SMTP_S_BANNER] = "banner",
    [SMTP_S_EHLO] = "ehlo",
    [SMTP_S_HELO] = "helo",
    [SMTP_S_STARTTLS] = "starttls",
    [SMTP_S_STARTTLS_HANDSHAKE] = "starttls-handshake",
    [SMTP_S_AUTH] = "auth",
    [SMTP_S_AUTH_LOGIN_USER] = "auth-login-user",
    [SMTP_S_AUTH_LOGIN_PASS] = "auth-login-pass",
    [SMTP_S_IDLE] = "idle",
    [SMTP_S_MAIL] = "mail",
    [SMTP_S_RCPT] = "rcpt",
    [SMTP_S_DATA] = "data",
    [SMTP_S_BODY] = "body",
    [SMTP_S_DOT] = "dot",
    [SMTP_S_RSET] = "rset",
    [SMTP_S_QUIT] = "quit",
    [SMTP_S_CLOSED] = "closed",
};

/* The stage a fact observed in state st belongs to. */
static const enum smtp_stage state_stage[SMTP_S_COUNT] = {
    [SMTP_S_INIT] = SMTP_STAGE_CONNECT,
    [SMTP_S_CONNECT] = SMTP_STAGE_CONNECT,
    [SMTP_S_TLS_HANDSHAKE] = SMTP_STAGE_STARTTLS,
    [SMTP_S_BANNER] = SMTP_STAGE_BANNER,
    [SMTP_S_EHLO] = SMTP_STAGE_EHLO,
    [SMTP_S_HELO] = SMTP_STAGE_EHLO,
    [SMTP_S_STARTTLS] = SMTP_STAGE_STARTTLS,
    [SMTP_S_STARTTLS_HANDSHAKE] = SMTP_STAGE_STARTTLS,
    [SMTP_S_AUTH] = SMTP_STAGE_AUTH,
    [SMTP_S_AUTH_LOGIN_USER] = SMTP_STAGE_AUTH,
    [SMTP_S_AUTH_LOGIN_PASS] = SMTP_STAGE_AUTH,
    [SMTP_S_IDLE] = SMTP_STAGE_MAIL,
    [SMTP_S_MAIL] = SMTP_STAGE_MAIL,
    [SMTP_S_RCPT] = SMTP_STAGE_RCPT,
    [SMTP_S_DATA] = SMTP_STAGE_DATA,
    [SMTP_S_BODY] = SMTP_STAGE_DOT,
    [SMTP_S_DOT] = SMTP_STAGE_DOT,
    [SMTP_S_RSET] = SMTP_STAGE_MAIL,
    [SMTP_S_QUIT] = SMTP_STAGE_QUIT,
    [SMTP_S_CLOSED] = SMTP_STAGE_QUIT,
};

static void enter(struct smtp_session *s, enum smtp_state st);
static void next_job(struct smtp_session *s);
static void close_now(struct smtp_session *s);
static void process_input(struct smtp_session *s, const char *data, size_t n);

void
smtp_session_default_timeouts(struct smtp_timeouts *t)
{
	t->connect_ms = 30 * 1000;
	t->banner_ms = 5 * 60 * 1000;
	t->helo_ms = 5 * 60 * 1000;
	t->starttls_ms = 5 * 60 * 1000;
	t->auth_ms = 5 * 60 * 1000;
	t->mail_ms = 5 * 60 * 1000;
	t->rcpt_ms = 5 * 60 * 1000;
	t->data_ms = 2 * 60 * 1000;
	t->data_block_ms = 3 * 60 * 1000;
	t->dot_ms = 10 * 60 * 1000;
	t->rset_ms = 5 * 60 * 1000;
	t->quit_ms = 30 * 1000;
	t->idle_ms = 10 * 1000;
}

/* smtp_session_source_check - whether sa is an address of this host to bind a socket to */
int
smtp_session_source_check(const struct sockaddr *sa, char *err, size_t errsz)
{
	char ip[INET6_ADDRSTRLEN];
	sockaddr_ip(sa, ip, sizeof(ip));
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errsz, "no socket for %s: %s", ip, strerror(e));
		return -e;
	}
	socklen_t len =
	    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int rc = 0;
	if (bind(fd, sa, len) < 0) {
		rc = -errno;
		snprintf(err, errsz, "%s cannot be bound%s: %s", ip,
		         rc == -EADDRNOTAVAIL ? " (it is not an address of this host)" : "",
		         strerror(-rc));
	}
	close(fd);
	return rc;
}

void
smtp_session_local_ip(const struct smtp_session *s, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	out[0] = '\0';
	if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	sockaddr_ip((const struct sockaddr *)&ss, out, outsz);
}

const struct smtp_ehlo *
smtp_session_ehlo(const struct smtp_session *s)
{
	return &s->ehlo;
}

static char *
dup_or_null(const char *p)
{
	return p ? xstrdup(p) : NULL;
}

/* Copy at most outsz-1 bytes of src, replacing control characters for logs and results. */
static void
copy_text(char *out, size_t outsz, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < outsz; i++)
		out[i] = (unsigned char)src[i] < 0x20 && src[i] != '\n' ? ' ' : src[i];
	out[i] = '\0';
}

/* ---- results ---- */

static void
set_why(struct smtp_session *s, enum smtp_stage stage, int code, const char *ecode,
        const char *text, unsigned flags)
{
	if (s->why_set)
		return;
	s->why_set = 1;
	copy_text(s->why_ecode, sizeof(s->why_ecode), ecode);
	copy_text(s->why_text, sizeof(s->why_text), text);
	s->why.stage = stage;
	s->why.code = code;
	s->why.ecode = s->why_ecode;
	s->why.text = s->why_text;
	s->why.flags = flags;
}

static void
report_rcpt(struct smtp_session *s, struct smtp_job *job, unsigned char *rstat, size_t i,
            const struct smtp_result *r)
{
	if (rstat[i] == RS_DONE)
		return;
	rstat[i] = RS_DONE;
	log_debug("smtp_session host=%s rcpt=%s stage=%s code=%d ecode=%s", s->host, job->rcpts[i],
	          smtp_stage_name(r->stage), r->code, r->ecode);
	if (s->cbs.rcpt)
		s->cbs.rcpt(s, s->owner, job, i, r);
}

/* Report every recipient of the current job not yet reported, then hand the job back. */
static void
finish_job(struct smtp_session *s, const struct smtp_result *r)
{
	struct smtp_job *job = s->job;
	unsigned char *rstat = s->rstat;
	if (job == NULL)
		return;
	/* Detach first: a callback may abort the session, which must not see this job. */
	s->job = NULL;
	s->rstat = NULL;
	for (size_t i = 0; i < job->nrcpt; i++)
		report_rcpt(s, job, rstat, i, r);
	free(rstat);
	s->jobs_done++;
	log_debug("smtp_session host=%s job_done stage=%s code=%d jobs=%u", s->host,
	          smtp_stage_name(r->stage), r->code, s->jobs_done);
	if (s->cbs.job_done)
		s->cbs.job_done(s, s->owner, job, r);
}

/* Hand back a job that was never started. */
static void
return_job(struct smtp_session *s, struct smtp_job *job, const struct smtp_result *r)
{
	unsigned char *rstat = xcalloc(job->nrcpt ? job->nrcpt : 1, 1);
	for (size_t i = 0; i < job->nrcpt; i++)
		report_rcpt(s, job, rstat, i, r);
	free(rstat);
	if (s->cbs.job_done)
		s->cbs.job_done(s, s->owner, job, r);
}

/*
 * Hand back the job waiting for RSET and every queued job. They were never sent, so they
 * come back flagged ABORTED whatever ended the session (r), with its facts (stage, code,
 * ecode, flags) and a text that says those are the session's, not theirs.
 */
static void
return_unsent_jobs(struct smtp_session *s, const struct smtp_result *r)
{
	if (s->next == NULL && s->nqueue == 0)
		return;
	struct smtp_result unsent = *r;
	char text[sizeof(s->why_text) + 400];
	if (!(r->flags & SMTP_RESULT_ABORTED)) {
		snprintf(text, sizeof(text),
		         "session to %.300s ended before this message was sent: %s", s->host,
		         r->text ? r->text : "");
		unsent.text = text;
		unsent.flags |= SMTP_RESULT_ABORTED;
	}
	if (s->next) {
		struct smtp_job *j = s->next;
		s->next = NULL;
		return_job(s, j, &unsent);
	}
	while (s->nqueue > 0) {
		struct smtp_job *j = s->queue[0];
		memmove(s->queue, s->queue + 1, (s->nqueue - 1) * sizeof(*s->queue));
		s->nqueue--;
		return_job(s, j, &unsent);
	}
}

/* Hand back the current job with r, its own result (it was on the wire: an attempt),
 * then the jobs never sent (return_unsent_jobs). */
static void
return_all_jobs(struct smtp_session *s, const struct smtp_result *r)
{
	finish_job(s, r);
	return_unsent_jobs(s, r);
}

/*
 * The session cannot go on: hand every job back with this fact, then QUIT
 * politely when the dialogue is still in step (quit), else close at once.
 */
static void
session_fail(struct smtp_session *s, enum smtp_stage stage, int code, const char *ecode,
             const char *text, unsigned flags, int quit)
{
	struct smtp_result r = {.stage = stage,
	                        .code = code,
	                        .ecode = ecode ? ecode : "",
	                        .text = text ? text : "",
	                        .flags = flags};
	log_debug("smtp_session host=%s fail stage=%s code=%d ecode=%s text=\"%s\"", s->host,
	          smtp_stage_name(stage), code, r.ecode, r.text);
	set_why(s, stage, code, r.ecode, r.text, flags);
	if (quit && !s->closing) {
		/* Enter QUIT before the callbacks so that none can start a job here. */
		enter(s, SMTP_S_QUIT);
		return_all_jobs(s, &s->why);
		return;
	}
	close_now(s);
	return_all_jobs(s, &s->why);
}

static void
session_fail_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	enum smtp_stage stage = state_stage[s->state];
	/* 421: the server is closing the channel (RFC 5321 3.8); no QUIT. */
	session_fail(s, stage, r->code, r->ecode, r->text, 0, r->code != 421);
}

static void session_fail_local(struct smtp_session *s, enum smtp_stage stage, unsigned flags,
                               int quit, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
session_fail_local(struct smtp_session *s, enum smtp_stage stage, unsigned flags, int quit,
                   const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	session_fail(s, stage, 0, "", text, flags, quit);
}

/* ---- handles and I/O ---- */

static void
on_close(uv_handle_t *h)
{
	struct smtp_session *s = h->data;
	if (--s->open_handles > 0)
		return;
	/* Every path that closes hands its jobs back first; should a job not yet started be
	 * left, it still comes back (job_done once per job, whatever happens). */
	struct smtp_result r = {.stage = SMTP_STAGE_QUIT,
	                        .ecode = "",
	                        .text = "session closed before this message was sent",
	                        .flags = SMTP_RESULT_ABORTED};
	return_unsent_jobs(s, &r);
	if (s->cbs.closed)
		s->cbs.closed(s, s->owner, &s->why);
	tls_conn_free(s->tls);
	if (s->own_tls_ctx)
		tls_ctx_free(s->tls_ctx);
	free(s->tlsa);
	smtp_reply_parser_free(&s->parser);
	buf_free(&s->plain);
	buf_free(&s->body);
	buf_free(&s->cmd);
	free(s->queue);
	free((void *)s->cfg.helo_name);
	free((void *)s->cfg.tls_ca_file);
	free((void *)s->cfg.auth_user);
	if (s->cfg.auth_pass) {
		explicit_bzero((void *)s->cfg.auth_pass, strlen(s->cfg.auth_pass));
		free((void *)s->cfg.auth_pass);
	}
	free(s->host);
	free(s);
}

static void
close_now(struct smtp_session *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	if (s->state != SMTP_S_CLOSED)
		log_debug("smtp_session host=%s state=%s->closed", s->host, state_names[s->state]);
	s->state = SMTP_S_CLOSED;
	set_why(s, SMTP_STAGE_QUIT, 0, "", "closed", 0);
	uv_timer_stop(&s->timer);
	uv_read_stop((uv_stream_t *)&s->tcp);
	uv_close((uv_handle_t *)&s->tcp, on_close);
	uv_close((uv_handle_t *)&s->timer, on_close);
}

/* The connection broke or timed out. */
static void
conn_lost(struct smtp_session *s, unsigned flags, const char *text)
{
	if (s->closing)
		return;
	if (s->state == SMTP_S_QUIT) {
		/* The server closed after (or instead of) answering QUIT: normal. */
		set_why(s, SMTP_STAGE_QUIT, 0, "", "quit", 0);
		close_now(s);
		return;
	}
	session_fail(s, state_stage[s->state], 0, "", text, flags, 0);
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct smtp_session *s = w->s;
	int body = w->body;
	free(w->owned);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED && !s->closing) {
			char text[128];
			snprintf(text, sizeof(text), "connection lost: write: %s",
			         uv_strerror(status));
			conn_lost(s, SMTP_RESULT_CONN_LOST, text);
		}
		return;
	}
	if (body && s->state == SMTP_S_BODY)
		enter(s, SMTP_S_DOT);
}

/* Write len bytes at data (malloc'd; ownership passes to the write request). */
static void
write_owned(struct smtp_session *s, char *data, size_t len, int body)
{
	if (s->closing || len == 0) {
		free(data);
		if (body && len == 0 && s->state == SMTP_S_BODY)
			enter(s, SMTP_S_DOT);
		return;
	}
	struct wreq *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->owned = data;
	w->body = body;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_write);
	if (rc < 0) {
		free(w->owned);
		free(w);
		char text[128];
		snprintf(text, sizeof(text), "connection lost: write: %s", uv_strerror(rc));
		conn_lost(s, SMTP_RESULT_CONN_LOST, text);
	}
}

static void
flush_tls(struct smtp_session *s)
{
	if (s->tls == NULL || tls_conn_pending_out(s->tls) == 0)
		return;
	struct buf out = BUF_INIT;
	tls_conn_take_out(s->tls, &out);
	write_owned(s, out.data, out.len, 0);
}

/*
 * close_notify - after the reply to QUIT on a TLS session, end the TLS stream
 * with a close_notify alert (RFC 8446 6.1, RFC 5246 7.2.1) before the TCP
 * close that follows at once; the server's close_notify is not waited for.
 * The server has answered every command, so none of our bytes is still
 * queued in libuv: uv_write hands the alert to the kernel at once, ahead of
 * the FIN that closing the socket sends, and close_now cannot cancel it.
 */
static void
close_notify(struct smtp_session *s)
{
	if (!s->tls_active || s->closing)
		return;
	tls_conn_close_notify(s->tls);
	flush_tls(s);
}

/* Send n bytes (plaintext of the SMTP dialogue), through TLS when it is up. */
static void
send_bytes(struct smtp_session *s, const char *p, size_t n, int body)
{
	if (s->closing)
		return;
	struct buf out = BUF_INIT;
	if (s->tls_active) {
		if (tls_conn_write(s->tls, p, n) < 0) {
			session_fail(s, state_stage[s->state], 0, "", tls_conn_error(s->tls),
			             SMTP_RESULT_CONN_LOST, 0);
			return;
		}
		tls_conn_take_out(s->tls, &out);
	} else {
		buf_add(&out, p, n);
	}
	write_owned(s, out.data, out.len, body);
}

/*
 * write_body - the job's message after DATA's 354, with no copy where it can: through TLS
 * it is encrypted from where it is; in plain text the write request takes the memory of
 * the buffer the session encoded it into, or of the job's own (smtp_job.give), and copies
 * only a job's wire form it was not given. The job may end (an early reply) while the
 * write is in flight, so the write never points into memory the session does not own.
 */
static void
write_body(struct smtp_session *s)
{
	const char *p = s->wire;
	size_t n = s->wire_len;
	s->wire = NULL;
	s->wire_len = 0;
	if (s->tls_active) {
		send_bytes(s, p, n, 1);
		return;
	}
	char *own;
	struct buf *give = s->job->give;
	if (p == s->body.data) {
		own = s->body.data;
		s->body = (struct buf)BUF_INIT;
	} else if (give && give->data == p) {
		own = give->data;
		*give = (struct buf)BUF_INIT;
		s->job->data = NULL;
	} else {
		own = xmalloc(n ? n : 1);
		memcpy(own, p, n);
	}
	write_owned(s, own, n, 1);
}

static void
send_cmd(struct smtp_session *s)
{
	send_bytes(s, s->cmd.data, s->cmd.len, 0);
	/* Commands may hold credentials: wipe the scratch buffer. */
	if (s->cmd.data)
		explicit_bzero(s->cmd.data, s->cmd.len);
	buf_reset(&s->cmd);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct smtp_session *s = h->data;
	(void)suggested;
	*b = uv_buf_init(s->rbuf, sizeof(s->rbuf));
}

static void handshake_done(struct smtp_session *s);

/* Advance the TLS handshake; on completion go on with the dialogue. */
static void
tls_step(struct smtp_session *s)
{
	int rc = tls_conn_handshake(s->tls);
	flush_tls(s);
	if (s->closing || rc == TLS_WANT)
		return;
	if (rc == TLS_ERROR) {
		if (s->cbs.tls_failed)
			s->cbs.tls_failed(s, s->owner, 0, tls_conn_check(s->tls),
			                  tls_conn_error(s->tls));
		if (s->closing)
			return;
		/* The TLS stream is broken: no QUIT is possible. */
		session_fail(s, SMTP_STAGE_STARTTLS, 0, "", tls_conn_error(s->tls),
		             SMTP_RESULT_LOCAL, 0);
		return;
	}
	handshake_done(s);
}

/* Decrypt what is buffered and hand it to the reply parser. */
static void
tls_input(struct smtp_session *s)
{
	int rc = tls_conn_read(s->tls, &s->plain);
	flush_tls(s);
	if (s->plain.len > 0) {
		process_input(s, s->plain.data, s->plain.len);
		buf_reset(&s->plain);
	}
	if (s->closing)
		return;
	if (rc == TLS_CLOSED)
		conn_lost(s, SMTP_RESULT_CONN_LOST, "connection lost: TLS close_notify");
	else if (rc == TLS_ERROR)
		conn_lost(s, SMTP_RESULT_CONN_LOST, tls_conn_error(s->tls));
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
	struct smtp_session *s = stream->data;
	if (s->closing || nread == 0)
		return;
	if (nread < 0) {
		char text[128];
		if (nread == UV_EOF)
			snprintf(text, sizeof(text), "connection lost");
		else
			snprintf(text, sizeof(text), "connection lost: %s",
			         uv_strerror((int)nread));
		conn_lost(s, SMTP_RESULT_CONN_LOST, text);
		return;
	}
	if (!s->tls_active) {
		process_input(s, b->base, (size_t)nread);
		return;
	}
	tls_conn_feed(s->tls, b->base, (size_t)nread);
	if (s->state == SMTP_S_TLS_HANDSHAKE || s->state == SMTP_S_STARTTLS_HANDSHAKE)
		tls_step(s);
	else
		tls_input(s);
}

static void
on_timer(uv_timer_t *t)
{
	struct smtp_session *s = t->data;
	if (s->closing)
		return;
	if (s->state == SMTP_S_IDLE) {
		log_debug("smtp_session host=%s idle timeout", s->host);
		enter(s, SMTP_S_QUIT);
		return;
	}
	if (s->state == SMTP_S_QUIT) {
		set_why(s, SMTP_STAGE_QUIT, 0, "", "timeout waiting for QUIT reply", 0);
		close_now(s);
		return;
	}
	char text[128];
	snprintf(text, sizeof(text), "timeout in state %s", state_names[s->state]);
	session_fail(s, state_stage[s->state], 0, "", text, SMTP_RESULT_TIMEOUT, 0);
}

/* ---- the state machine ---- */

static void
add_mail_cmd(struct smtp_session *s)
{
	struct smtp_job *j = s->job;
	buf_printf(&s->cmd, "MAIL FROM:<%s>", j->sender ? j->sender : "");
	if (s->ehlo.flags & SMTP_EXT_SIZE)
		buf_printf(&s->cmd, " SIZE=%zu", s->wire_len);
	if ((s->ehlo.flags & SMTP_EXT_8BITMIME) && (j->flags & SMTP_JOB_8BIT))
		buf_adds(&s->cmd, " BODY=8BITMIME");
	if ((s->ehlo.flags & SMTP_EXT_SMTPUTF8) && (j->flags & SMTP_JOB_SMTPUTF8))
		buf_adds(&s->cmd, " SMTPUTF8");
	buf_adds(&s->cmd, "\r\n");
}

static void
enter(struct smtp_session *s, enum smtp_state st)
{
	if (s->closing)
		return;
	if (s->state != st)
		log_debug("smtp_session host=%s state=%s->%s", s->host, state_names[s->state],
		          state_names[st]);
	s->state = st;
	if (s->timeout_ms[st] > 0)
		uv_timer_start(&s->timer, on_timer, s->timeout_ms[st], 0);
	else
		uv_timer_stop(&s->timer);

	switch (st) {
	case SMTP_S_TLS_HANDSHAKE:
	case SMTP_S_STARTTLS_HANDSHAKE:
		if (s->cfg.tls_policy == TLS_POLICY_DANE) {
			size_t usable = 0;
			s->tls =
			    tls_conn_new_dane(s->tls_ctx, s->host, s->tlsa, s->cfg.ntlsa, &usable);
			log_debug("smtp_session host=%s dane tlsa=%zu usable=%zu", s->host,
			          s->cfg.ntlsa, usable);
		} else if (s->cfg.tls_policy != TLS_POLICY_VERIFY && tls_ctx_verifies(s->tls_ctx)) {
			/* Not required, but checked all the same (for TLS-RPT). */
			s->tls = tls_conn_new_check(s->tls_ctx, s->host);
		} else {
			s->tls = tls_conn_new(s->tls_ctx, s->host);
		}
		s->tls_active = 1;
		s->starttls_done = 1;
		tls_step(s);
		break;
	case SMTP_S_EHLO:
		buf_printf(&s->cmd, "EHLO %s\r\n", s->cfg.helo_name);
		send_cmd(s);
		break;
	case SMTP_S_HELO:
		buf_printf(&s->cmd, "HELO %s\r\n", s->cfg.helo_name);
		send_cmd(s);
		break;
	case SMTP_S_STARTTLS:
		s->starttls_done = 1;
		buf_adds(&s->cmd, "STARTTLS\r\n");
		send_cmd(s);
		break;
	case SMTP_S_AUTH:
		if (s->auth == AUTH_MODE_PLAIN) {
			struct buf raw = BUF_INIT;
			buf_addc(&raw, '\0');
			buf_adds(&raw, s->cfg.auth_user);
			buf_addc(&raw, '\0');
			buf_adds(&raw, s->cfg.auth_pass);
			buf_adds(&s->cmd, "AUTH PLAIN ");
			base64_encode(&s->cmd, raw.data, raw.len, 0);
			explicit_bzero(raw.data, raw.len);
			buf_free(&raw);
		} else {
			buf_adds(&s->cmd, "AUTH LOGIN");
		}
		buf_adds(&s->cmd, "\r\n");
		send_cmd(s);
		break;
	case SMTP_S_AUTH_LOGIN_USER:
		base64_encode(&s->cmd, s->cfg.auth_user, strlen(s->cfg.auth_user), 0);
		buf_adds(&s->cmd, "\r\n");
		send_cmd(s);
		break;
	case SMTP_S_AUTH_LOGIN_PASS:
		base64_encode(&s->cmd, s->cfg.auth_pass, strlen(s->cfg.auth_pass), 0);
		buf_adds(&s->cmd, "\r\n");
		send_cmd(s);
		break;
	case SMTP_S_MAIL:
		add_mail_cmd(s);
		if (s->pipelined) {
			/* One write: MAIL, every RCPT, DATA (RFC 2920 3.1). */
			for (size_t i = 0; i < s->job->nrcpt; i++)
				buf_printf(&s->cmd, "RCPT TO:<%s>\r\n", s->job->rcpts[i]);
			s->rcpt_sent = s->job->nrcpt;
			buf_adds(&s->cmd, "DATA\r\n");
			s->data_sent = 1;
		}
		send_cmd(s);
		break;
	case SMTP_S_RCPT:
		if (s->rcpt_sent == s->rcpt_recv) {
			buf_printf(&s->cmd, "RCPT TO:<%s>\r\n", s->job->rcpts[s->rcpt_sent]);
			s->rcpt_sent++;
			send_cmd(s);
		}
		break;
	case SMTP_S_DATA:
		if (!s->data_sent) {
			s->data_sent = 1;
			buf_adds(&s->cmd, "DATA\r\n");
			send_cmd(s);
		}
		break;
	case SMTP_S_BODY:
		write_body(s);
		break;
	case SMTP_S_RSET:
		buf_adds(&s->cmd, "RSET\r\n");
		send_cmd(s);
		break;
	case SMTP_S_QUIT:
		buf_adds(&s->cmd, "QUIT\r\n");
		send_cmd(s);
		break;
	default:
		break;
	}
}

static int
has_8bit_str(const char *p)
{
	return p && smtp_wire_has_8bit(p, strlen(p));
}

/* An envelope address must not break the command line it goes into. */
static int
bad_address(const char *p)
{
	for (; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 1;
	return p == NULL;
}

/* fail_job_local - the job refused here before MAIL: kind names why (its code is
 * disposition.c's), text says more than the kind's own text when not NULL */
static void
fail_job_local(struct smtp_session *s, enum smtp_local kind, const char *text)
{
	struct smtp_result r = {.stage = SMTP_STAGE_MAIL,
	                        .ecode = disposition_local_ecode(kind),
	                        .text = text ? text : disposition_local_text(kind),
	                        .flags = SMTP_RESULT_LOCAL,
	                        .local = kind};
	finish_job(s, &r);
}

static void
start_job(struct smtp_session *s, struct smtp_job *job)
{
	s->job = job;
	s->rstat = xcalloc(job->nrcpt ? job->nrcpt : 1, 1);
	s->rcpt_sent = s->rcpt_recv = s->naccepted = 0;
	s->mail_failed = s->data_sent = s->discard_dot = 0;
	s->pipelined = (s->ehlo.flags & SMTP_EXT_PIPELINING) != 0;
	s->jr_stage = SMTP_STAGE_RCPT;
	s->jr_code = 0;
	s->jr_ecode[0] = '\0';
	snprintf(s->jr_text, sizeof(s->jr_text), "no recipient accepted");

	if (job->nrcpt == 0) {
		fail_job_local(s, SMTP_LOCAL_NO_RCPT, NULL);
		return;
	}
	if (bad_address(job->sender)) {
		fail_job_local(s, SMTP_LOCAL_BAD_SENDER, NULL);
		return;
	}
	for (size_t i = 0; i < job->nrcpt; i++) {
		if (bad_address(job->rcpts[i])) {
			fail_job_local(s, SMTP_LOCAL_BAD_RCPT, NULL);
			return;
		}
	}
	buf_reset(&s->body);
	if (job->flags & SMTP_JOB_WIRE) {
		/* Already in wire form: written from the job's memory (write_body). */
		s->wire = job->data;
		s->wire_len = job->len;
		if (!(job->flags & (SMTP_JOB_8BIT | SMTP_JOB_7BIT)) &&
		    smtp_wire_has_8bit(job->data, job->len))
			job->flags |= SMTP_JOB_8BIT;
	} else {
		if (smtp_wire_encode(&s->body, job->data, job->len) &&
		    !(job->flags & SMTP_JOB_7BIT))
			job->flags |= SMTP_JOB_8BIT;
		s->wire = s->body.data;
		s->wire_len = s->body.len;
	}
	if (!(job->flags & SMTP_JOB_SMTPUTF8)) {
		int u = has_8bit_str(job->sender);
		for (size_t i = 0; i < job->nrcpt && !u; i++)
			u = has_8bit_str(job->rcpts[i]);
		if (u)
			job->flags |= SMTP_JOB_SMTPUTF8;
	}
	if ((job->flags & SMTP_JOB_SMTPUTF8) && !(s->ehlo.flags & SMTP_EXT_SMTPUTF8)) {
		/* RFC 6531 3.4: such a message must not be sent to this server. */
		fail_job_local(s, SMTP_LOCAL_SMTPUTF8, NULL);
		return;
	}
	if ((s->ehlo.flags & SMTP_EXT_SIZE) && s->ehlo.size_max > 0 &&
	    s->wire_len > s->ehlo.size_max) {
		char text[128];
		snprintf(text, sizeof(text), "message size %zu exceeds the server's limit %llu",
		         s->wire_len, (unsigned long long)s->ehlo.size_max);
		fail_job_local(s, SMTP_LOCAL_TOO_BIG, text);
		return;
	}
	enter(s, SMTP_S_MAIL);
}

static struct smtp_job *
pop_queue(struct smtp_session *s)
{
	if (s->nqueue == 0)
		return NULL;
	struct smtp_job *j = s->queue[0];
	memmove(s->queue, s->queue + 1, (s->nqueue - 1) * sizeof(*s->queue));
	s->nqueue--;
	return j;
}

/* Between jobs: start the next one, RSET first when needed, or idle, or QUIT. */
static void
next_job(struct smtp_session *s)
{
	for (;;) {
		if (s->closing || s->job != NULL)
			return;
		if (s->quit_requested || (s->cfg.max_jobs && s->jobs_done >= s->cfg.max_jobs)) {
			enter(s, SMTP_S_QUIT);
			struct smtp_result r = {.stage = SMTP_STAGE_MAIL,
			                        .ecode = "",
			                        .text = "session closing before the job started",
			                        .flags = SMTP_RESULT_ABORTED};
			return_all_jobs(s, &r);
			return;
		}
		struct smtp_job *job = s->next;
		s->next = NULL;
		if (job == NULL)
			job = pop_queue(s);
		if (job == NULL && s->cbs.want_job) {
			s->in_next_job = 1;
			job = s->cbs.want_job(s, s->owner);
			s->in_next_job = 0;
			if (job == NULL)
				job = pop_queue(s);
		}
		if (s->closing) {
			if (job) {
				struct smtp_result r = {.stage = state_stage[s->state],
				                        .ecode = "",
				                        .text = "session closed",
				                        .flags = SMTP_RESULT_ABORTED};
				return_job(s, job, &r);
			}
			return;
		}
		if (job == NULL) {
			enter(s, SMTP_S_IDLE);
			return;
		}
		if (s->txn_open) {
			/* RFC 5321 4.1.1.5: end the transaction left open before the next one. */
			s->next = job;
			enter(s, SMTP_S_RSET);
			return;
		}
		start_job(s, job);
		if (s->job != NULL || s->closing)
			return;
		/* The job failed before MAIL: loop for the next one. */
	}
}

/* Ready for mail: after EHLO (and TLS and AUTH as the configuration asks). */
static void
after_ehlo(struct smtp_session *s)
{
	enum tls_policy pol = s->cfg.tls_policy;
	if (!s->tls_active && !s->starttls_done && pol != TLS_POLICY_NONE) {
		if (s->ehlo.flags & SMTP_EXT_STARTTLS) {
			enter(s, SMTP_S_STARTTLS);
			return;
		}
		s->starttls_done = 1; /* not offered: reported once */
		if (s->cbs.tls_failed)
			s->cbs.tls_failed(s, s->owner, 1, TLS_CHECK_OTHER, "STARTTLS not offered");
		if (s->closing)
			return;
		if (pol != TLS_POLICY_OPPORTUNISTIC) {
			session_fail_local(s, SMTP_STAGE_STARTTLS, SMTP_RESULT_LOCAL, 1,
			                   "TLS required (policy %s) but STARTTLS not offered",
			                   tls_policy_name(pol));
			return;
		}
	}
	if (!s->tls_active && pol != TLS_POLICY_NONE && pol != TLS_POLICY_OPPORTUNISTIC) {
		session_fail_local(s, SMTP_STAGE_STARTTLS, SMTP_RESULT_LOCAL, 1,
		                   "TLS required (policy %s) but not established",
		                   tls_policy_name(pol));
		return;
	}
	if (s->cfg.auth_user && s->cfg.auth_pass && s->auth == AUTH_NONE) {
		if (!s->tls_active && !s->cfg.allow_plaintext_auth) {
			session_fail_local(s, SMTP_STAGE_AUTH, SMTP_RESULT_LOCAL, 1,
			                   "refusing to send credentials without TLS");
			return;
		}
		if (!(s->ehlo.flags & SMTP_EXT_AUTH)) {
			session_fail_local(s, SMTP_STAGE_AUTH, SMTP_RESULT_LOCAL, 1,
			                   "server does not offer AUTH");
			return;
		}
		if (s->ehlo.auth & SMTP_AUTH_PLAIN) {
			s->auth = AUTH_MODE_PLAIN;
		} else if (s->ehlo.auth & SMTP_AUTH_LOGIN) {
			s->auth = AUTH_MODE_LOGIN;
		} else {
			session_fail_local(s, SMTP_STAGE_AUTH, SMTP_RESULT_LOCAL, 1,
			                   "no supported AUTH mechanism (PLAIN, LOGIN) offered");
			return;
		}
		enter(s, SMTP_S_AUTH);
		return;
	}
	next_job(s);
}

static void
handshake_done(struct smtp_session *s)
{
	int verified = tls_conn_verified(s->tls);
	log_debug("smtp_session host=%s tls=%s cipher=%s verified=%d", s->host,
	          tls_conn_version(s->tls), tls_conn_cipher(s->tls), verified);
	if (s->cbs.tls)
		s->cbs.tls(s, s->owner, tls_conn_version(s->tls), tls_conn_cipher(s->tls), verified,
		           tls_conn_check(s->tls));
	if (s->closing)
		return;
	if (s->state == SMTP_S_TLS_HANDSHAKE) {
		enter(s, SMTP_S_BANNER);
	} else {
		/* RFC 3207 4.2: forget everything learnt before TLS. */
		memset(&s->ehlo, 0, sizeof(s->ehlo));
		enter(s, SMTP_S_EHLO);
	}
	/* The server may have sent application data with its last handshake message. */
	tls_input(s);
}

static void
save_job_result(struct smtp_session *s, enum smtp_stage stage, const struct smtp_reply *r)
{
	s->jr_stage = stage;
	s->jr_code = r->code;
	copy_text(s->jr_ecode, sizeof(s->jr_ecode), r->ecode);
	copy_text(s->jr_text, sizeof(s->jr_text), r->text);
}

static void
finish_saved(struct smtp_session *s)
{
	struct smtp_result res = {
	    .stage = s->jr_stage, .code = s->jr_code, .ecode = s->jr_ecode, .text = s->jr_text};
	finish_job(s, &res);
}

/* The reply to the final dot (or an early reply during the body). */
static void
on_dot_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	int early = s->state == SMTP_S_BODY;
	s->txn_open = 0;
	if (s->discard_dot) {
		finish_saved(s);
	} else {
		struct smtp_result res = {
		    .stage = SMTP_STAGE_DOT, .code = r->code, .ecode = r->ecode, .text = r->text};
		finish_job(s, &res);
	}
	if (s->closing)
		return;
	if (early) {
		/* The server answered before the end of data: the stream is out of step. */
		session_fail_local(s, SMTP_STAGE_DOT, SMTP_RESULT_LOCAL, 0,
		                   "reply before the end of data");
		return;
	}
	next_job(s);
}

/* The reply to DATA. */
static void
on_data_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	int nobody = s->mail_failed || s->naccepted == 0;
	if (r->code / 100 == 3) {
		if (nobody) {
			/* A broken server accepted DATA without recipients: end an empty message.
			 */
			s->discard_dot = 1;
			send_bytes(s, ".\r\n", 3, 0);
			enter(s, SMTP_S_DOT);
			return;
		}
		enter(s, SMTP_S_BODY);
		return;
	}
	if (nobody) {
		/* The expected 503/554 after every RCPT failed: no body was sent. */
		finish_saved(s);
	} else {
		struct smtp_result res = {
		    .stage = SMTP_STAGE_DATA, .code = r->code, .ecode = r->ecode, .text = r->text};
		finish_job(s, &res);
	}
	if (r->code == 421) {
		session_fail_reply(s, r);
		return;
	}
	next_job(s);
}

/* The reply to RCPT number rcpt_recv. */
static void
on_rcpt_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t i = s->rcpt_recv++;
	if (!s->mail_failed) {
		if (r->code / 100 == 2) {
			s->rstat[i] = RS_ACCEPTED;
			s->naccepted++;
		} else {
			struct smtp_result res = {.stage = SMTP_STAGE_RCPT,
			                          .code = r->code,
			                          .ecode = r->ecode,
			                          .text = r->text};
			save_job_result(s, SMTP_STAGE_RCPT, r);
			report_rcpt(s, s->job, s->rstat, i, &res);
			if (s->closing || s->job == NULL)
				return;
		}
	}
	if (s->rcpt_recv < s->job->nrcpt) {
		enter(s, SMTP_S_RCPT);
		return;
	}
	if (s->pipelined) {
		enter(s, SMTP_S_DATA); /* DATA was sent; its reply comes next */
		return;
	}
	if (s->naccepted > 0) {
		enter(s, SMTP_S_DATA);
		return;
	}
	/* Lock-step and no recipient: no DATA; the open transaction gets an RSET. */
	finish_saved(s);
	next_job(s);
}

static void
on_mail_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		s->txn_open = 1;
	} else {
		struct smtp_result res = {
		    .stage = SMTP_STAGE_MAIL, .code = r->code, .ecode = r->ecode, .text = r->text};
		s->mail_failed = 1;
		save_job_result(s, SMTP_STAGE_MAIL, r);
		for (size_t i = 0; s->job != NULL && i < s->job->nrcpt; i++)
			report_rcpt(s, s->job, s->rstat, i, &res);
		if (s->closing || s->job == NULL)
			return;
		if (!s->pipelined) {
			finish_saved(s);
			next_job(s);
			return;
		}
	}
	/* With PIPELINING the RCPT replies follow (refusals after a failed MAIL). */
	enter(s, SMTP_S_RCPT);
}

static void
on_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	log_debug("smtp_session host=%s state=%s reply=%d ecode=%s", s->host, state_names[s->state],
	          r->code, r->ecode);
	int ok = r->code / 100 == 2;
	switch (s->state) {
	case SMTP_S_BANNER:
		if (r->code == 220)
			enter(s, SMTP_S_EHLO);
		else
			session_fail_reply(s, r);
		return;
	case SMTP_S_EHLO:
		if (ok) {
			smtp_reply_parse_ehlo(r, &s->ehlo);
			after_ehlo(s);
		} else if (r->code / 100 == 5) {
			enter(s, SMTP_S_HELO); /* RFC 5321 3.2 */
		} else {
			session_fail_reply(s, r);
		}
		return;
	case SMTP_S_HELO:
		if (ok) {
			memset(&s->ehlo, 0, sizeof(s->ehlo));
			after_ehlo(s);
		} else {
			session_fail_reply(s, r);
		}
		return;
	case SMTP_S_STARTTLS:
		if (r->code != 220 && s->cbs.tls_failed) {
			s->cbs.tls_failed(s, s->owner, 1, TLS_CHECK_OTHER, "STARTTLS refused");
			if (s->closing)
				return;
		}
		if (r->code == 220)
			enter(s, SMTP_S_STARTTLS_HANDSHAKE);
		else if (s->cfg.tls_policy == TLS_POLICY_OPPORTUNISTIC && r->code != 421)
			after_ehlo(s); /* go on in plaintext */
		else
			session_fail_reply(s, r);
		return;
	case SMTP_S_AUTH:
		if (ok)
			next_job(s);
		else if (r->code == 334 && s->auth == AUTH_MODE_LOGIN)
			enter(s, SMTP_S_AUTH_LOGIN_USER);
		else
			session_fail_reply(s, r);
		return;
	case SMTP_S_AUTH_LOGIN_USER:
		if (r->code == 334)
			enter(s, SMTP_S_AUTH_LOGIN_PASS);
		else
			session_fail_reply(s, r);
		return;
	case SMTP_S_AUTH_LOGIN_PASS:
		if (ok)
			next_job(s);
		else
			session_fail_reply(s, r);
		return;
	case SMTP_S_MAIL:
	case SMTP_S_RCPT:
	case SMTP_S_DATA:
	case SMTP_S_BODY:
	case SMTP_S_DOT:
		if (r->code == 421 && s->state != SMTP_S_DATA) {
			session_fail_reply(s, r);
			return;
		}
		if (s->state == SMTP_S_MAIL)
			on_mail_reply(s, r);
		else if (s->state == SMTP_S_RCPT)
			on_rcpt_reply(s, r);
		else if (s->state == SMTP_S_DATA)
			on_data_reply(s, r);
		else
			on_dot_reply(s, r);
		return;
	case SMTP_S_RSET:
		if (ok) {
			s->txn_open = 0;
			next_job(s);
		} else {
			session_fail_reply(s, r);
		}
		return;
	case SMTP_S_QUIT:
		set_why(s, SMTP_STAGE_QUIT, r->code, r->ecode, "quit", 0);
		close_notify(s);
		close_now(s);
		return;
	default:
		/* A reply nobody asked for (idle, or during a handshake). */
		if (r->code == 421)
			session_fail_reply(s, r);
		else
			session_fail_local(s, state_stage[s->state], SMTP_RESULT_LOCAL, 0,
			                   "unexpected reply %d in state %s", r->code,
			                   state_names[s->state]);
		return;
	}
}

static void
process_input(struct smtp_session *s, const char *data, size_t n)
{
	while (n > 0 && !s->closing) {
		struct smtp_reply r;
		size_t used = 0;
		int rc = smtp_reply_feed(&s->parser, data, n, &used, &r);
		data += used;
		n -= used;
		if (rc < 0) {
			session_fail_local(s, state_stage[s->state], SMTP_RESULT_LOCAL, 0,
			                   "protocol error: %s", s->parser.error);
			return;
		}
		if (rc == 0)
			return;
		on_reply(s, &r);
		if (s->state == SMTP_S_STARTTLS_HANDSHAKE && !s->closing &&
		    (n > 0 || smtp_reply_parser_pending(&s->parser))) {
			/* Plaintext after "220 ready for TLS" would be injected into TLS. */
			session_fail_local(s, SMTP_STAGE_STARTTLS, SMTP_RESULT_LOCAL, 0,
			                   "protocol error: data after the STARTTLS reply");
			return;
		}
		if (s->state == SMTP_S_STARTTLS_HANDSHAKE)
			return;
	}
}

/* ---- public API ---- */

struct smtp_session *
smtp_session_new(uv_loop_t *loop, const struct smtp_session_config *config,
                 const struct smtp_session_cbs *cbs, void *owner, char *err, size_t errsz)
{
	struct tls_ctx *ctx = config->tls_ctx;
	int own = 0;
	if (config->implicit_tls && config->tls_policy == TLS_POLICY_NONE) {
		snprintf(err, errsz, "implicit TLS needs a TLS policy other than none");
		return NULL;
	}
	if (ctx == NULL && config->tls_policy != TLS_POLICY_NONE) {
		if (tls_ctx_new(config->tls_policy, config->tls_ca_file, &ctx, err, errsz) < 0)
			return NULL;
		own = 1;
	}
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->cfg = *config;
	s->cfg.helo_name = xstrdup(config->helo_name ? config->helo_name : "localhost");
	s->cfg.tls_ca_file = dup_or_null(config->tls_ca_file);
	if (config->ntlsa > 0) {
		/* One block: the array, then every record's data. */
		size_t bytes = config->ntlsa * sizeof(*s->tlsa);
		for (size_t i = 0; i < config->ntlsa; i++)
			bytes += config->tlsa[i].len;
		s->tlsa = xmalloc(bytes);
		unsigned char *data = (unsigned char *)(s->tlsa + config->ntlsa);
		for (size_t i = 0; i < config->ntlsa; i++) {
			s->tlsa[i] = config->tlsa[i];
			memcpy(data, config->tlsa[i].data, config->tlsa[i].len);
			s->tlsa[i].data = data;
			data += config->tlsa[i].len;
		}
	}
	s->cfg.tlsa = s->tlsa;
	if (config->bind_addr) {
		memcpy(&s->bind, config->bind_addr,
		       config->bind_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                : sizeof(struct sockaddr_in));
		s->cfg.bind_addr = (const struct sockaddr *)&s->bind;
	}
	s->cfg.auth_user = dup_or_null(config->auth_user);
	s->cfg.auth_pass = dup_or_null(config->auth_pass);
	s->cbs = *cbs;
	s->owner = owner;
	s->tls_ctx = ctx;
	s->own_tls_ctx = own;
	s->host = xstrdup("-");
	smtp_reply_parser_init(&s->parser);

	const struct smtp_timeouts *t = &config->timeouts;
	s->timeout_ms[SMTP_S_CONNECT] = t->connect_ms;
	s->timeout_ms[SMTP_S_TLS_HANDSHAKE] = t->starttls_ms;
	s->timeout_ms[SMTP_S_BANNER] = t->banner_ms;
	s->timeout_ms[SMTP_S_EHLO] = t->helo_ms;
	s->timeout_ms[SMTP_S_HELO] = t->helo_ms;
	s->timeout_ms[SMTP_S_STARTTLS] = t->starttls_ms;
	s->timeout_ms[SMTP_S_STARTTLS_HANDSHAKE] = t->starttls_ms;
	s->timeout_ms[SMTP_S_AUTH] = t->auth_ms;
	s->timeout_ms[SMTP_S_AUTH_LOGIN_USER] = t->auth_ms;
	s->timeout_ms[SMTP_S_AUTH_LOGIN_PASS] = t->auth_ms;
	s->timeout_ms[SMTP_S_IDLE] = t->idle_ms;
	s->timeout_ms[SMTP_S_MAIL] = t->mail_ms;
	s->timeout_ms[SMTP_S_RCPT] = t->rcpt_ms;
	s->timeout_ms[SMTP_S_DATA] = t->data_ms;
	s->timeout_ms[SMTP_S_BODY] = t->data_block_ms;
	s->timeout_ms[SMTP_S_DOT] = t->dot_ms;
	s->timeout_ms[SMTP_S_RSET] = t->rset_ms;
	s->timeout_ms[SMTP_S_QUIT] = t->quit_ms;

	int rc = uv_tcp_init(loop, &s->tcp);
	if (rc == 0)
		rc = uv_timer_init(loop, &s->timer);
	/* Both cannot fail on Linux but for an invalid loop: a bug. */
	if (rc != 0)
		abort();
	s->tcp.data = s;
	s->timer.data = s;
	s->open_handles = 2;
	return s;
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct smtp_session *s = req->data;
	if (status == UV_ECANCELED || s->closing)
		return;
	if (status < 0) {
		char text[128];
		snprintf(text, sizeof(text), "connect failed: %s", uv_strerror(status));
		session_fail(s, SMTP_STAGE_CONNECT, 0, "", text, SMTP_RESULT_CONN_LOST, 0);
		return;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	if (s->cbs.connected)
		s->cbs.connected(s, s->owner);
	if (s->closing)
		return;
	int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
	if (rc < 0) {
		conn_lost(s, SMTP_RESULT_CONN_LOST, uv_strerror(rc));
		return;
	}
	enter(s, s->cfg.implicit_tls ? SMTP_S_TLS_HANDSHAKE : SMTP_S_BANNER);
}

int
smtp_session_connect(struct smtp_session *s, const struct sockaddr *addr, const char *host_name)
{
	free(s->host);
	s->host = xstrdup(host_name ? host_name : "-");
	s->connect_req.data = s;
	enter(s, SMTP_S_CONNECT);
	int rc = 0;
	char text[160];
	snprintf(text, sizeof(text), "connect failed");
	if (s->cfg.bind_addr) {
		/* The egress source: bind before connecting (Postfix smtp_bind_address). */
		char src[INET6_ADDRSTRLEN];
		sockaddr_ip(s->cfg.bind_addr, src, sizeof(src));
		if (s->cfg.bind_addr->sa_family != addr->sa_family) {
			rc = UV_EAFNOSUPPORT;
			snprintf(text, sizeof(text),
			         "connect failed: source address %s cannot reach an IPv%c address",
			         src, addr->sa_family == AF_INET6 ? '6' : '4');
		} else if ((rc = uv_tcp_bind(&s->tcp, s->cfg.bind_addr, 0)) < 0) {
			snprintf(text, sizeof(text),
			         "connect failed: bind to source address %s: %s", src,
			         uv_strerror(rc));
		}
	}
	if (rc == 0)
		rc = uv_tcp_connect(&s->connect_req, &s->tcp, addr, on_connect);
	if (rc < 0) {
		if (strcmp(text, "connect failed") == 0)
			snprintf(text, sizeof(text), "connect failed: %s", uv_strerror(rc));
		session_fail(s, SMTP_STAGE_CONNECT, 0, "", text, SMTP_RESULT_CONN_LOST, 0);
	}
	return rc;
}

void
smtp_session_submit(struct smtp_session *s, struct smtp_job *job)
{
	if (s->closing || s->state == SMTP_S_QUIT) {
		/* QUIT is sent (the idle timeout, or the job cap): nothing queued would ever
		 * start, so the job comes back now instead of being lost with the session. */
		struct smtp_result r = {.stage = state_stage[s->state],
		                        .ecode = "",
		                        .text = s->closing ? "session closed" : "session closing",
		                        .flags = SMTP_RESULT_ABORTED};
		return_job(s, job, &r);
		return;
	}
	if (s->nqueue == s->qcap) {
		s->qcap = s->qcap ? s->qcap * 2 : 8;
		s->queue = xrealloc(s->queue, s->qcap * sizeof(*s->queue));
	}
	s->queue[s->nqueue++] = job;
	if (s->state == SMTP_S_IDLE && !s->in_next_job)
		next_job(s);
}

void
smtp_session_close(struct smtp_session *s)
{
	if (s->closing)
		return;
	s->quit_requested = 1;
	if (s->state == SMTP_S_INIT) {
		close_now(s);
		struct smtp_result r = {.stage = SMTP_STAGE_CONNECT,
		                        .ecode = "",
		                        .text = "session closed",
		                        .flags = SMTP_RESULT_ABORTED};
		return_all_jobs(s, &r);
	} else if (s->state == SMTP_S_IDLE && !s->in_next_job) {
		next_job(s);
	}
}
