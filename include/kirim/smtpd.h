/*
 * smtpd - a small inbound SMTP server on a libuv loop (RFC 5321, server side),
 * for `kirim bounces listen`: it takes bounces, DSNs and complaint reports
 * for kirim's bounce domain and hands each whole message to its owner.
 *
 * The server owns one listening uv_tcp_t and, per client, one uv_tcp_t and
 * one uv_timer_t. It speaks ESMTP with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES and SMTPUTF8 (no AUTH, no STARTTLS). Every buffer that
 * a client can grow is capped: a command line at SMTPD_LINE_MAX bytes, a
 * message at limits.max_message (the rest is read and thrown away), the
 * recipients at limits.max_rcpts, and unread replies pause reading.
 *
 * SMTP smuggling: only <CRLF>.<CRLF> ends DATA; a message holding a bare CR
 * or a bare LF is refused (554 5.6.0) and never handed to the owner, so
 * "<LF>.<LF>" or "<CR>.<CR>" can never start a second, forged message.
 *
 * Callbacks run on the loop thread, synchronously, in the order the client
 * sent its commands; they must not block. smtpd_close may be called from a
 * callback. Logs one info line per message and per refusal (addresses, sizes
 * and codes, never message bodies) and connection events at debug.
 *
 * The parsing functions at the end are pure (no I/O, no globals, no logging)
 * and exported for the unit tests and the fuzz target.
 */
#ifndef KIRIM_SMTPD_H
#define KIRIM_SMTPD_H

#include <stddef.h>

#include <uv.h>

#include "kirim/buf.h"

struct smtpd;

/* Limits; a zero field takes its default (smtpd_default_limits). */
struct smtpd_limits {
	size_t max_message;        /* bytes of DATA after unstuffing (10 MiB): over, 552 5.3.4 */
	unsigned max_rcpts;        /* per message (100): over, 452 4.5.3 */
	unsigned max_conns;        /* at once (64): over, 421 4.7.0 and close */
	unsigned max_conns_per_ip; /* at once per client address (8): over, 421 4.7.0 */
	double rate_per_ip;        /* MAIL commands per second per client address (10); < 0:
	                              unlimited; over, 451 4.7.1 */
	double rate_burst;         /* the token bucket's size (twice the rate) */
	unsigned timeout_ms;       /* idle time before 421 4.4.2 and close (60 s; RFC 5321
	                              4.5.3.2.7 says 5 min) */
	unsigned max_errors;       /* bad commands before 421 4.7.0 and close (10) */
};

struct smtpd_cbs {
	/*
	 * RCPT TO:<addr> (addr without <>): return NULL to accept (250), or a
	 * reply line to refuse, e.g. "550 5.7.1 relaying denied" (no CRLF; a
	 * 2xx line accepts with its own text; anything but a 2xx, 4xx or 5xx
	 * line becomes a 451 4.3.0). May be NULL: every recipient is accepted.
	 */
	const char *(*rcpt)(void *arg, const char *addr);
	/*
	 * A whole message, dot-unstuffed, exactly as sent (CRLF line ends, no
	 * trace header added), with its envelope: mail_from without <> ("" for
	 * the null sender, as bounces use), the accepted recipients. Everything
	 * is borrowed for the call only. Return NULL to answer 250, or a reply
	 * line to refuse ("451 4.3.0 try again later"), as for rcpt.
	 */
	const char *(*message)(void *arg, const char *mail_from, const char *const *rcpts,
	                       size_t nrcpt, const char *data, size_t len);
};

struct smtpd_stats {
	unsigned long connections;   /* accepted sessions (those that got a 220) */
	unsigned long refused_conns; /* connections refused by max_conns or max_conns_per_ip */
	unsigned long messages;      /* messages accepted (250 after the dot) */
	unsigned long rejected;      /* messages refused after the dot (callback, bare LF) */
	unsigned long refused_rcpts; /* RCPT refused (callback or max_rcpts) */
	unsigned long too_big;       /* messages refused for size (SIZE= or DATA) */
	unsigned long rate_limited;  /* MAIL refused by the per-address rate */
	unsigned long errors;        /* bad commands (500, 501, 502, 503, 555 replies) */
	unsigned long timeouts;      /* sessions closed for idleness */
	unsigned open;               /* sessions open now */
};

/* smtpd_default_limits - fill lim with the defaults listed in struct smtpd_limits */
void smtpd_default_limits(struct smtpd_limits *lim);

/*
 * smtpd_new - listen on listen ("127.0.0.1:2525", "[::1]:25", "0.0.0.0:25";
 * port 0 picks a free port) on loop. hostname is used in the greeting and
 * replies (copied); lim (copied) may be NULL for the defaults; cbs is copied;
 * arg is passed back to every callback. Returns 0 and sets *out, or a
 * negative libuv error with a message in err. After a failure the loop must
 * still run once to close what was opened.
 */
int smtpd_new(uv_loop_t *loop, const char *listen, const char *hostname,
              const struct smtpd_limits *lim, const struct smtpd_cbs *cbs, void *arg,
              struct smtpd **out, char *err, size_t errsz);
/* smtpd_port - the port the server listens on */
int smtpd_port(const struct smtpd *d);
/*
 * smtpd_close - stop listening and close every session at once (no reply);
 * done(arg) (may be NULL) is called when every handle is closed, and d is
 * freed right after it returns. Calling it twice is a bug.
 */
void smtpd_close(struct smtpd *d, void (*done)(void *arg), void *arg);
/* smtpd_stats - the counters since smtpd_new */
void smtpd_stats(const struct smtpd *d, struct smtpd_stats *st);

/* ---- pure parsing, exported for tests and fuzzing ------------------------------------------ */

#define SMTPD_LINE_MAX 1000    /* bytes of a MAIL or RCPT line with CRLF (extensions, 4.5.3.1.4) */
#define SMTPD_CMD_LINE_MAX 512 /* bytes of any other command line with CRLF (4.5.3.1.4) */
#define SMTPD_ADDR_MAX 256     /* bytes of a path between <> (4.5.3.1.3) */

enum smtpd_verb {
	SMTPD_UNKNOWN,
	SMTPD_HELO,
	SMTPD_EHLO,
	SMTPD_MAIL,
	SMTPD_RCPT,
	SMTPD_DATA,
	SMTPD_RSET,
	SMTPD_NOOP,
	SMTPD_QUIT,
	SMTPD_VRFY,
	SMTPD_EXPN,
	SMTPD_HELP,
	SMTPD_NOT_IMPL /* known but not offered: STARTTLS, AUTH, BDAT, TURN, ... (502) */
};

#define SMTPD_BODY_7BIT 1
#define SMTPD_BODY_8BITMIME 2

/* One parsed command line. */
struct smtpd_cmd {
	enum smtpd_verb verb;
	char arg[SMTPD_LINE_MAX];      /* HELO/EHLO/VRFY argument, trimmed; "" when none */
	char addr[SMTPD_ADDR_MAX + 1]; /* MAIL/RCPT path without <> or source route */
	unsigned long long size;       /* MAIL SIZE=, 0 when absent */
	int body;                      /* MAIL BODY=: 0 (absent) or SMTPD_BODY_* */
	int smtputf8;                  /* MAIL SMTPUTF8 */
	const char *reply;             /* on failure: the reply line (static, no CRLF) */
};

#define SMTPD_ETOOLONG (-1) /* 500 5.5.2 */
#define SMTPD_EUNKNOWN (-2) /* 500 5.5.1 */
#define SMTPD_ESYNTAX (-3)  /* 501 5.5.4, or 501 5.1.3 / 5.1.7 for a bad address */
#define SMTPD_EPARAM (-4)   /* 555 5.5.4 */

/*
 * smtpd_parse_command - parse one command line (len bytes, without its line
 * end, which the caller strips) into *cmd. Verbs are case-insensitive.
 * Returns 0, or SMTPD_E* with cmd->verb (when known) and cmd->reply set.
 */
int smtpd_parse_command(const char *line, size_t len, struct smtpd_cmd *cmd);

/* The DATA reader's state, between two calls; zero it (or smtpd_data_init) before a message. */
struct smtpd_data {
	int state;        /* private: where in a line the last byte left off */
	size_t size;      /* bytes of the unstuffed message seen, kept or not */
	int overflow;     /* size went over max: out holds only the first max bytes */
	unsigned bare_cr; /* CRs not followed by LF */
	unsigned bare_lf; /* LFs not preceded by CR */
};

/* smtpd_data_init - ready st for the first byte after "354" */
void smtpd_data_init(struct smtpd_data *st);
/*
 * smtpd_data_feed - read n bytes of DATA: append the dot-unstuffed message
 * to out while it stays within max bytes, count the rest. Returns 1 when
 * <CRLF>.<CRLF> (the first CRLF being the end of the previous line, or the
 * DATA command's) ended the message, with *used the bytes consumed up to and
 * including it, or 0 with *used = n when more is needed.
 */
int smtpd_data_feed(struct smtpd_data *st, const char *p, size_t n, struct buf *out, size_t max,
                    size_t *used);

#endif
