/*
 * smtp_session - one outgoing SMTP connection on a libuv loop.
 *
 * A session owns one uv_tcp_t and one uv_timer_t, runs one explicit state
 * machine (banner, EHLO/HELO, STARTTLS or implicit TLS, AUTH, then jobs) and
 * carries many jobs, one after the other, with PIPELINING when the server
 * offers it. A job is one message for N recipients; it is borrowed from the
 * owner from smtp_session_submit (or want_job) until job_done, which is
 * called exactly once per job, whatever happens to the connection. Before
 * job_done, rcpt is called exactly once per recipient.
 *
 * The session reports facts only (stage, code, enhanced code, text) through
 * the callbacks; it never decides whether a recipient is delivered, deferred
 * or bounced. A job that failed because the connection broke or timed out
 * carries SMTP_RESULT_CONN_LOST / SMTP_RESULT_TIMEOUT, so the owner can
 * requeue it elsewhere.
 *
 * Only the job in the transaction (from its MAIL command on) gets the
 * session's failure as its own result: it was on the wire, an attempt. Every
 * other job the session holds when it ends (queued, or taken and waiting for
 * the RSET that closes the previous transaction; with setup still running,
 * all of them) was never sent: it comes back flagged SMTP_RESULT_ABORTED, with
 * the failure's stage, code, ecode and flags as the reason (the session's,
 * not this message's) and a text "session to HOST ended before this message
 * was sent: WHY". Jobs handed back because the owner closed the session, or
 * submitted once QUIT is sent, are ABORTED too.
 *
 * On a TLS session the reply to QUIT is followed by a close_notify alert
 * (RFC 8446 6.1, RFC 5246 7.2.1) and then the TCP close; the server's own
 * close_notify is not waited for, as both RFCs allow.
 *
 * Lifetime: smtp_session_new, then smtp_session_connect. The session frees
 * itself after the last of its handles is closed, right after calling
 * closed(); it is never freed inside one of its callbacks, so the owner may
 * call smtp_session_close from any callback. Logs state transitions at debug
 * level; never logs credentials.
 */
#ifndef KIRIM_SMTP_SESSION_H
#define KIRIM_SMTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kirim/buf.h"
#include "kirim/smtp_reply.h"
#include "kirim/tls.h"

struct smtp_session;

/* Timeouts in milliseconds, per state (RFC 5321 4.5.3.2 for the defaults). */
struct smtp_timeouts {
	unsigned connect_ms;    /* 30 s (Postfix smtp_connect_timeout) */
	unsigned banner_ms;     /* 5 min */
	unsigned helo_ms;       /* EHLO/HELO 5 min */
	unsigned starttls_ms;   /* STARTTLS reply and handshake: 5 min */
	unsigned auth_ms;       /* 5 min */
	unsigned mail_ms;       /* 5 min */
	unsigned rcpt_ms;       /* 5 min */
	unsigned data_ms;       /* DATA initiation 2 min */
	unsigned data_block_ms; /* sending the body 3 min */
	unsigned dot_ms;        /* final dot 10 min */
	unsigned rset_ms;       /* 5 min */
	unsigned quit_ms;       /* 5 min is the RFC's figure for commands; 30 s here */
	unsigned idle_ms;       /* idle between jobs before QUIT: 10 s */
};

struct smtp_session_config {
	const char *helo_name; /* EHLO argument; copied */
	enum tls_policy tls_policy;
	int implicit_tls; /* TLS from the first byte (port 465); needs a policy other than none */
	const char *tls_ca_file; /* CA bundle for the verify policy (NULL: system store); copied */
	const struct tls_tlsa *tlsa; /* TLS_POLICY_DANE: the host's TLSA records; copied. With
	                                none usable, TLS is still required, unauthenticated */
	size_t ntlsa;
	struct tls_ctx *tls_ctx;  /* shared context, borrowed, must outlive the session; NULL:
	                             the session makes its own from tls_policy and tls_ca_file */
	const char *auth_user;    /* AUTH when both set; copied */
	const char *auth_pass;    /* copied; wiped when the session is freed */
	int allow_plaintext_auth; /* allow AUTH without TLS */
	unsigned max_jobs;        /* per connection; 0 = no limit */
	struct smtp_timeouts timeouts;
	/* The source address to bind before connecting (an egress source: docs/egress.md), port
	 * 0; NULL: the kernel chooses. Copied. A host address of the other family cannot be
	 * reached from it: the connect fails at once ("connect" stage) and says so. */
	const struct sockaddr *bind_addr;
};

/* A message and its recipients at this destination. */
struct smtp_job {
	const char *sender;       /* envelope sender without <>; "" for the null sender */
	const char *const *rcpts; /* recipient addresses without <> */
	size_t nrcpt;
	const char *data; /* the message, or its wire form (SMTP_JOB_WIRE) */
	size_t len;
	/* With SMTP_JOB_WIRE, optionally the malloc'd buffer data is in (data == give->data):
	 * the session writes the body from it without a copy, taking its memory when it writes
	 * (*give is left empty, data dangles). The job's body is then on the wire and the job
	 * ends with a result of its own: it is never sent again. Without give the session
	 * copies the body when it writes it (data need live only until job_done). */
	struct buf *give;
	unsigned flags;
	void *user; /* the owner's */
};

#define SMTP_JOB_WIRE (1u << 0)     /* data is already smtp_wire_encode output */
#define SMTP_JOB_8BIT (1u << 1)     /* send BODY=8BITMIME (detected when not set) */
#define SMTP_JOB_SMTPUTF8 (1u << 2) /* needs SMTPUTF8 (detected from the envelope too) */
#define SMTP_JOB_7BIT (1u << 3)     /* data known to hold no 8-bit byte: skip the scan */

struct smtp_session_cbs {
	/* The TCP connection is up (before the banner). May be NULL. */
	void (*connected)(struct smtp_session *s, void *owner);
	/* TLS is established; check: what checking the certificate found (verified means the
	 * policy required it and it passed). May be NULL. */
	void (*tls)(struct smtp_session *s, void *owner, const char *version, const char *cipher,
	            int verified, enum tls_check check);
	/* TLS was wanted and did not come about: the server offered no STARTTLS or refused it
	 * (no_starttls), or the handshake failed (check says how). Called before the session
	 * fails (or, under the opportunistic policy, goes on in plain text). May be NULL. */
	void (*tls_failed)(struct smtp_session *s, void *owner, int no_starttls,
	                   enum tls_check check, const char *text);
	/* The session is ready for a job and none is queued: return one, or NULL. May be NULL. */
	struct smtp_job *(*want_job)(struct smtp_session *s, void *owner);
	/* The outcome for recipient i of job (once per recipient). */
	void (*rcpt)(struct smtp_session *s, void *owner, struct smtp_job *job, size_t i,
	             const struct smtp_result *r);
	/* The job is finished and handed back; r says how the transaction ended. */
	void (*job_done)(struct smtp_session *s, void *owner, struct smtp_job *job,
	                 const struct smtp_result *r);
	/* The connection is closed; the session is freed when this returns. */
	void (*closed)(struct smtp_session *s, void *owner, const struct smtp_result *why);
};

/* smtp_session_default_timeouts - fill t with the defaults listed in struct smtp_timeouts */
void smtp_session_default_timeouts(struct smtp_timeouts *t);

/*
 * smtp_session_new - a session on loop with config (copied) and cbs (copied);
 * owner is passed back to every callback. Returns NULL with a message in err
 * when the TLS context cannot be made.
 */
struct smtp_session *smtp_session_new(uv_loop_t *loop, const struct smtp_session_config *config,
                                      const struct smtp_session_cbs *cbs, void *owner, char *err,
                                      size_t errsz);
/*
 * smtp_session_connect - start connecting to addr; host_name is used for TLS
 * (SNI and verification) and logs (copied). Returns 0 or a negative libuv
 * error, in which case the session closes and reports through closed().
 */
int smtp_session_connect(struct smtp_session *s, const struct sockaddr *addr,
                         const char *host_name);
/* smtp_session_submit - queue a job (borrowed until job_done); after QUIT is sent (idle
 * timeout, job cap) or once closed, it comes back at once, ABORTED */
void smtp_session_submit(struct smtp_session *s, struct smtp_job *job);
/* smtp_session_close - QUIT once the current job is done; queued jobs are handed back */
void smtp_session_close(struct smtp_session *s);
/* smtp_session_local_ip - the address this end of the connection has ("" before it is
 * connected) into out (at least 46 bytes) */
void smtp_session_local_ip(const struct smtp_session *s, char *out, size_t outsz);
/* smtp_session_source_check - whether sa (port 0) is an address of this host a TCP socket
 * can bind: 0, or a negative errno-style code with the reason in err */
int smtp_session_source_check(const struct sockaddr *sa, char *err, size_t errsz);
/* smtp_session_ehlo - the extensions of the last EHLO reply */
const struct smtp_ehlo *smtp_session_ehlo(const struct smtp_session *s);

#endif
