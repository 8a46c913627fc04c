/*
 * smtpd - a small inbound SMTP server (see smtpd.h).
 *
 * Input is read into one buffer shared by every connection (libuv calls
 * alloc and read back to back for one stream, and every byte is consumed or
 * copied before on_read returns). Outside DATA, bytes are gathered into a
 * line (at most SMTPD_LINE_MAX); each complete line is parsed by the pure
 * smtpd_parse_command and answered in order, so pipelined commands get their
 * replies in order. Inside DATA, bytes go through the pure smtpd_data_feed,
 * which unstuffs dots, keeps at most max_message bytes and stops only at
 * <CRLF>.<CRLF>. Replies are gathered in c->out and written once per read.
 *
 * Invariants: a connection is freed only in the close callback of its last
 * handle; every byte handed to libuv belongs to its write request until the
 * write callback; a session counted in stats.open holds one reference (conns)
 * on its address entry, and entries are pruned only when that count is 0.
 */
#include "kirim/smtpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/clock.h"
#include "kirim/log.h"
#include "kirim/sockaddr.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

#define SMTPD_OUT_MAX (256 * 1024) /* unread replies before the client's input is paused */
#define SMTPD_IP_MAX 4096          /* address entries kept for the rate limit */
#define SMTPD_DRAIN_MS 5000        /* time to deliver a last reply before closing */
#define SMTPD_REPLY_MAX 512        /* bytes of a reply line from a callback */

/* ---- the command parser ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	enum smtpd_verb verb;
} verbs[] = {
    {"HELO", SMTPD_HELO},     {"EHLO", SMTPD_EHLO},     {"MAIL", SMTPD_MAIL},
    {"RCPT", SMTPD_RCPT},     {"DATA", SMTPD_DATA},     {"RSET", SMTPD_RSET},
    {"NOOP", SMTPD_NOOP},     {"QUIT", SMTPD_QUIT},     {"VRFY", SMTPD_VRFY},
    {"EXPN", SMTPD_EXPN},     {"HELP", SMTPD_HELP},     {"STARTTLS", SMTPD_NOT_IMPL},
    {"AUTH", SMTPD_NOT_IMPL}, {"BDAT", SMTPD_NOT_IMPL}, {"TURN", SMTPD_NOT_IMPL},
    {"ETRN", SMTPD_NOT_IMPL}, {"ATRN", SMTPD_NOT_IMPL}, {"SEND", SMTPD_NOT_IMPL},
    {"SOML", SMTPD_NOT_IMPL}, {"SAML", SMTPD_NOT_IMPL},
};

static int
upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

/* 1 when the n bytes at p are word, ignoring case. */
static int
ci_eq(const char *p, size_t n, const char *word)
{
	size_t i = 0;
	for (; i < n && word[i]; i++)
		if (upper((unsigned char)p[i]) != word[i])
			return 0;
	return i == n && word[i] == '\0';
}

static int
fail(struct smtpd_cmd *cmd, int rc, const char *reply)
{
	cmd->reply = reply;
	return rc;
}

/*
 * Parse "<path>" at p[*i]: source route dropped, quoted local parts
 * honoured. Copies the address into cmd->addr and leaves *i after '>'.
 */
static int
parse_path(const char *p, size_t len, size_t *i, struct smtpd_cmd *cmd, int rcpt)
{
	const char *bad =
	    rcpt ? "501 5.1.3 Bad recipient address syntax" : "501 5.1.7 Bad sender address syntax";
	size_t k = *i;
	if (k >= len || p[k] != '<')
		return fail(cmd, SMTPD_ESYNTAX,
		            rcpt ? "501 5.5.4 Syntax: RCPT TO:<address>"
		                 : "501 5.5.4 Syntax: MAIL FROM:<address>");
	k++;
	if (k < len && p[k] == '@') {
		/* An obsolete source route "@a,@b:" (RFC 5321 4.1.2, C): accept and ignore. */
		while (k < len && p[k] != ':' && p[k] != '>')
			k++;
		if (k >= len || p[k] != ':')
			return fail(cmd, SMTPD_ESYNTAX, bad);
		k++;
	}
	size_t start = k;
	int quoted = 0;
	long at = -1;
	for (; k < len; k++) {
		unsigned char ch = (unsigned char)p[k];
		if (quoted) {
			if (ch == '\\' && k + 1 < len)
				k++;
			else if (ch == '"')
				quoted = 0;
			continue;
		}
		if (ch == '>')
			break;
		if (ch == '"') {
			quoted = 1;
		} else if (ch == '@') {
			at = (long)(k - start);
		} else if (ch == ' ' || ch == '\t' || ch == '<' || ch == '\\' || ch == ',' ||
		           ch == ';' || ch == '(' || ch == ')') {
			return fail(cmd, SMTPD_ESYNTAX, bad);
		}
	}
	if (k >= len)
		return fail(cmd, SMTPD_ESYNTAX, bad);
	size_t alen = k - start;
	if (alen > SMTPD_ADDR_MAX)
		return fail(cmd, SMTPD_ESYNTAX,
		            rcpt ? "501 5.1.3 Recipient address too long"
		                 : "501 5.1.7 Sender address too long");
	memcpy(cmd->addr, p + start, alen);
	cmd->addr[alen] = '\0';
	if (alen == 0) {
		if (rcpt)
			return fail(cmd, SMTPD_ESYNTAX, bad);
	} else if (!(rcpt && ci_eq(cmd->addr, alen, "POSTMASTER"))) {
		/* local@domain, both non-empty. */
		if (at <= 0 || (size_t)at + 1 >= alen)
			return fail(cmd, SMTPD_ESYNTAX, bad);
	}
	*i = k + 1;
	return 0;
}

/* MAIL parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8); RCPT takes none. */
static int
parse_params(const char *p, size_t len, size_t i, struct smtpd_cmd *cmd, int rcpt)
{
	while (i < len) {
		if (p[i] != ' ')
			return fail(cmd, SMTPD_ESYNTAX,
			            rcpt ? "501 5.5.4 Syntax: RCPT TO:<address>"
			                 : "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n]");
		while (i < len && p[i] == ' ')
			i++;
		if (i == len)
			break;
		size_t ks = i;
		while (i < len && p[i] != ' ' && p[i] != '=')
			i++;
		size_t klen = i - ks;
		const char *v = NULL;
		size_t vlen = 0;
		if (i < len && p[i] == '=') {
			v = p + ++i;
			while (i < len && p[i] != ' ')
				i++;
			vlen = (size_t)(p + i - v);
		}
		if (rcpt)
			return fail(cmd, SMTPD_EPARAM, "555 5.5.4 Unsupported RCPT parameter");
		if (ci_eq(p + ks, klen, "SIZE")) {
			if (v == NULL || vlen == 0 || vlen > 20)
				return fail(cmd, SMTPD_ESYNTAX, "501 5.5.4 Bad SIZE parameter");
			unsigned long long n = 0;
			for (size_t j = 0; j < vlen; j++) {
				if (v[j] < '0' || v[j] > '9')
					return fail(cmd, SMTPD_ESYNTAX,
					            "501 5.5.4 Bad SIZE parameter");
				unsigned d = (unsigned)(v[j] - '0');
				n = n > (~0ULL - d) / 10 ? ~0ULL : n * 10 + d;
			}
			cmd->size = n;
		} else if (ci_eq(p + ks, klen, "BODY")) {
			if (v && ci_eq(v, vlen, "7BIT"))
				cmd->body = SMTPD_BODY_7BIT;
			else if (v && ci_eq(v, vlen, "8BITMIME"))
				cmd->body = SMTPD_BODY_8BITMIME;
			else
				return fail(cmd, SMTPD_EPARAM, "555 5.5.4 Unsupported BODY type");
		} else if (ci_eq(p + ks, klen, "SMTPUTF8") && v == NULL) {
			cmd->smtputf8 = 1;
		} else {
			return fail(cmd, SMTPD_EPARAM, "555 5.5.4 Unsupported MAIL parameter");
		}
	}
	return 0;
}

/* MAIL FROM: / RCPT TO: */
static int
parse_mail_rcpt(const char *p, size_t len, size_t i, struct smtpd_cmd *cmd, int rcpt)
{
	const char *kw = rcpt ? "TO:" : "FROM:";
	size_t kwlen = strlen(kw);
	if (len - i < kwlen || !ci_eq(p + i, kwlen, kw))
		return fail(cmd, SMTPD_ESYNTAX,
		            rcpt ? "501 5.5.4 Syntax: RCPT TO:<address>"
		                 : "501 5.5.4 Syntax: MAIL FROM:<address>");
	i += kwlen;
	/* "MAIL FROM: <a@b>" is common enough to accept (Postfix does too). */
	while (i < len && p[i] == ' ')
		i++;
	int rc = parse_path(p, len, &i, cmd, rcpt);
	if (rc < 0)
		return rc;
	return parse_params(p, len, i, cmd, rcpt);
}

int
smtpd_parse_command(const char *line, size_t len, struct smtpd_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (ci_eq(line, vlen, verbs[k].name)) {
			cmd->verb = verbs[k].verb;
			break;
		}
	}
	size_t max = cmd->verb == SMTPD_MAIL || cmd->verb == SMTPD_RCPT ? SMTPD_LINE_MAX
	                                                                : SMTPD_CMD_LINE_MAX;
	if (len > max - 2)
		return fail(cmd, SMTPD_ETOOLONG, "500 5.5.2 Error: line too long");
	if (cmd->verb == SMTPD_UNKNOWN)
		return fail(cmd, SMTPD_EUNKNOWN, "500 5.5.1 Error: command not recognized");
	for (size_t k = 0; k < len; k++) {
		unsigned char ch = (unsigned char)line[k];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(cmd, SMTPD_ESYNTAX,
			            "501 5.5.4 Syntax error: control character in command");
	}
	/* The argument: after the verb's space, trimmed of blanks at both ends. */
	size_t as = vlen < len ? vlen + 1 : len;
	size_t ae = len;
	while (as < ae && (line[as] == ' ' || line[as] == '\t'))
		as++;
	while (ae > as && (line[ae - 1] == ' ' || line[ae - 1] == '\t'))
		ae--;
	size_t alen = ae - as;
	switch (cmd->verb) {
	case SMTPD_HELO:
	case SMTPD_EHLO:
		if (alen == 0)
			return fail(cmd, SMTPD_ESYNTAX,
			            cmd->verb == SMTPD_HELO ? "501 5.5.4 Syntax: HELO hostname"
			                                    : "501 5.5.4 Syntax: EHLO hostname");
		break;
	case SMTPD_MAIL:
	case SMTPD_RCPT:
		/* The verb is followed by exactly one space (RFC 5321 4.1.1.2). */
		if (vlen + 1 > len)
			return fail(cmd, SMTPD_ESYNTAX,
			            cmd->verb == SMTPD_RCPT
			                ? "501 5.5.4 Syntax: RCPT TO:<address>"
			                : "501 5.5.4 Syntax: MAIL FROM:<address>");
		return parse_mail_rcpt(line, ae, vlen + 1, cmd, cmd->verb == SMTPD_RCPT);
	case SMTPD_DATA:
	case SMTPD_RSET:
	case SMTPD_QUIT:
		if (alen > 0)
			return fail(cmd, SMTPD_ESYNTAX,
			            "501 5.5.4 Syntax error: no parameters allowed");
		break;
	case SMTPD_VRFY:
		if (alen == 0)
			return fail(cmd, SMTPD_ESYNTAX, "501 5.5.4 Syntax: VRFY address");
		break;
	default:
		break;
	}
	memcpy(cmd->arg, line + as, alen);
	cmd->arg[alen] = '\0';
	return 0;
}

/* ---- the DATA reader ------------------------------------------------------------------------- */

enum {
	DS_BOL,     /* at the start of a line (after CRLF, or the first byte) */
	DS_BOL_DOT, /* a '.' at the start of a line, not kept */
	DS_DOT_CR,  /* ".\r" at the start of a line */
	DS_MID,     /* inside a line */
	DS_CR,      /* a '\r' inside a line, not kept yet */
};

void
smtpd_data_init(struct smtpd_data *st)
{
	memset(st, 0, sizeof(*st));
	st->state = DS_BOL;
}

static void
data_keep(struct smtpd_data *st, struct buf *out, size_t max, const char *p, size_t n)
{
	/* out holds exactly the first max bytes, however the input was cut into reads. */
	if (!st->overflow) {
		size_t room = out->len < max ? max - out->len : 0;
		if (n <= room) {
			buf_add(out, p, n);
		} else {
			buf_add(out, p, room);
			st->overflow = 1;
		}
	}
	st->size += n;
}

int
smtpd_data_feed(struct smtpd_data *st, const char *p, size_t n, struct buf *out, size_t max,
                size_t *used)
{
	size_t i = 0;
	while (i < n) {
		char ch = p[i];
		switch (st->state) {
		case DS_BOL:
			if (ch == '.') {
				st->state = DS_BOL_DOT;
				i++;
				continue;
			}
			st->state = DS_MID;
			continue; /* the same byte, inside the line */
		case DS_BOL_DOT:
			if (ch == '\r') {
				st->state = DS_DOT_CR;
				i++;
				continue;
			}
			/* A stuffed dot: it is dropped and the line goes on (RFC 5321 4.5.2). */
			st->state = DS_MID;
			continue;
		case DS_DOT_CR:
			if (ch == '\n') {
				*used = i + 1;
				st->state = DS_BOL;
				return 1;
			}
			/* ".\r" then not LF: the CR is a bare CR inside the line. */
			data_keep(st, out, max, "\r", 1);
			st->bare_cr++;
			st->state = DS_MID;
			continue;
		case DS_CR:
			if (ch == '\n') {
				data_keep(st, out, max, "\r\n", 2);
				st->state = DS_BOL;
				i++;
				continue;
			}
			data_keep(st, out, max, "\r", 1);
			st->bare_cr++;
			st->state = DS_MID;
			continue;
		default: /* DS_MID */
			if (ch == '\r') {
				st->state = DS_CR;
				i++;
				continue;
			}
			if (ch == '\n') {
				/* A bare LF never starts a line: "\n.\n" is data, not the end. */
				st->bare_lf++;
				data_keep(st, out, max, "\n", 1);
				i++;
				continue;
			}
			size_t j = i + 1;
			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			data_keep(st, out, max, p + i, j - i);
			i = j;
			continue;
		}
	}
	*used = n;
	return 0;
}

/* ---- the server ------------------------------------------------------------------------------ */

/* What the server remembers about one client address. */
struct ipent {
	struct ipent *next;
	unsigned conns; /* sessions open now */
	struct throttle_bucket bucket;
	char ip[64];
};

struct conn {
	struct smtpd *d;
	struct conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int open_handles; /* handles whose close callback is pending */
	int closing;      /* uv_close has been called */
	int draining;     /* closing once the last reply is written */
	int paused;       /* reading stopped until the client reads its replies */
	unsigned pending_writes;
	struct ipent *ipe; /* non-NULL: counted in stats.open and ipe->conns */
	char ip[64];

	char *helo;
	int have_mail;
	char *from;
	char **rcpts;
	size_t nrcpt;
	unsigned rcpt_tries; /* RCPT commands in this transaction, refused ones included */
	int in_data;
	struct smtpd_data ds;
	int skipping; /* throwing away the rest of an over-long command line */
	unsigned errors;
	struct buf in;  /* a command line being gathered */
	struct buf msg; /* the message being received */
	struct buf out; /* replies not yet handed to libuv */
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	char *data;
};

struct smtpd {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	int listener_open; /* the listening handle's close callback is pending */
	int closing;
	void (*done)(void *arg);
	void *done_arg;
	char *hostname;
	struct smtpd_limits lim;
	struct smtpd_cbs cbs;
	void *arg;
	int port;
	struct conn *conns;
	struct ipent *ips;
	unsigned nips;
	struct smtpd_stats st;
	char rbuf[65536];
};

void
smtpd_default_limits(struct smtpd_limits *lim)
{
	lim->max_message = 10 * 1024 * 1024;
	lim->max_rcpts = 100;
	lim->max_conns = 64;
	lim->max_conns_per_ip = 8;
	lim->rate_per_ip = 10;
	lim->rate_burst = 20;
	lim->timeout_ms = 60 * 1000;
	lim->max_errors = 10;
}

static void reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	buf_add(&c->out, "\r\n", 2);
}

static void maybe_done(struct smtpd *d);

static void
on_conn_close(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct smtpd *d = c->d;
	if (c->ipe) {
		c->ipe->conns--;
		d->st.open--;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (size_t i = 0; i < c->nrcpt; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	free(c->from);
	free(c->helo);
	buf_free(&c->in);
	buf_free(&c->msg);
	buf_free(&c->out);
	free(c);
	maybe_done(d);
}

static void
close_now(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	log_debug("smtpd client=%s closed", c->ip);
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, on_conn_close);
	uv_close((uv_handle_t *)&c->timer, on_conn_close);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;
	free(w->data);
	free(w);
	c->pending_writes--;
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("smtpd client=%s write: %s", c->ip, uv_strerror(status));
		close_now(c);
		return;
	}
	if (c->draining) {
		if (c->pending_writes == 0)
			close_now(c);
		return;
	}
	if (c->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < SMTPD_OUT_MAX / 2) {
		c->paused = 0;
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
			close_now(c);
	}
}

/* Hand the gathered replies to libuv. */
static void
flush(struct conn *c)
{
	if (c->closing || c->out.len == 0)
		return;
	struct wreq *w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->data = c->out.data;
	uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
	c->out = (struct buf)BUF_INIT;
	c->pending_writes++;
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		c->pending_writes--;
		free(w->data);
		free(w);
		close_now(c);
		return;
	}
	if (!c->paused && !c->draining &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SMTPD_OUT_MAX) {
		/* The client does not read its replies: stop reading its commands. */
		c->paused = 1;
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
}

static void
on_drain_timer(uv_timer_t *t)
{
	close_now(t->data);
}

/* Send what is gathered, then close once it is written (or after SMTPD_DRAIN_MS). */
static void
drain(struct conn *c)
{
	if (c->closing || c->draining)
		return;
	c->draining = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	unsigned ms = c->d->lim.timeout_ms < SMTPD_DRAIN_MS ? c->d->lim.timeout_ms : SMTPD_DRAIN_MS;
	uv_timer_start(&c->timer, on_drain_timer, ms, 0);
	flush(c);
	if (c->pending_writes == 0)
		close_now(c);
}

static void
reset_txn(struct conn *c)
{
	for (size_t i = 0; i < c->nrcpt; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	c->rcpts = NULL;
	c->nrcpt = 0;
	c->rcpt_tries = 0;
	free(c->from);
	c->from = NULL;
	c->have_mail = 0;
	c->in_data = 0;
	/* Free rather than reset: a big message's memory is not kept for the next one. */
	buf_free(&c->msg);
}

/*
 * A reply line from a callback, made safe: a 2xx, 4xx or 5xx code then
 * text without control characters, at most SMTPD_REPLY_MAX bytes. Returns
 * the class digit, with the line in out; anything else becomes a 451.
 */
static int
clean_reply(struct conn *c, const char *what, const char *r, char *out, size_t outsz)
{
	size_t i = 0;
	if (r && (r[0] == '2' || r[0] == '4' || r[0] == '5') && r[1] >= '0' && r[1] <= '9' &&
	    r[2] >= '0' && r[2] <= '9' && (r[3] == ' ' || r[3] == '\0')) {
		for (; r[i] && i + 1 < outsz; i++)
			out[i] = (unsigned char)r[i] < 0x20 || r[i] == 0x7f ? ' ' : r[i];
		out[i] = '\0';
		return r[0];
	}
	log_warn("smtpd client=%s bad %s callback reply", c->ip, what);
	snprintf(out, outsz, "451 4.3.0 Error: internal error");
	return '4';
}

/* A bad command: its reply, and 421 after too many. */
static void
bad(struct conn *c, const char *r)
{
	struct smtpd *d = c->d;
	reply(c, "%s", r);
	c->errors++;
	d->st.errors++;
	if (c->errors >= d->lim.max_errors) {
		log_info("smtpd client=%s result=dropped reason=too_many_errors errors=%u", c->ip,
		         c->errors);
		reply(c, "421 4.7.0 %s Error: too many errors", d->hostname);
		drain(c);
	}
}

static void
end_data(struct conn *c)
{
	struct smtpd *d = c->d;
	const char *result;
	char line[SMTPD_REPLY_MAX];
	c->in_data = 0;
	if (c->ds.overflow) {
		d->st.too_big++;
		result = "too_big";
		snprintf(line, sizeof(line), "552 5.3.4 Error: message too big (limit %zu bytes)",
		         d->lim.max_message);
	} else if (c->ds.bare_cr || c->ds.bare_lf) {
		/* RFC 5321 2.3.8; this is what keeps "<LF>.<LF>" smuggling out. */
		d->st.rejected++;
		result = "bare_newline";
		snprintf(line, sizeof(line),
		         "554 5.6.0 Error: bare CR or LF in message (RFC 5321 2.3.8)");
	} else {
		const char *r = NULL;
		if (d->cbs.message)
			r = d->cbs.message(d->arg, c->from, (const char *const *)c->rcpts, c->nrcpt,
			                   c->msg.data ? c->msg.data : "", c->msg.len);
		if (r == NULL || clean_reply(c, "message", r, line, sizeof(line)) == '2') {
			if (r == NULL)
				snprintf(line, sizeof(line), "250 2.0.0 Ok: message accepted");
			d->st.messages++;
			result = "accepted";
		} else {
			d->st.rejected++;
			result = "refused";
		}
	}
	log_info("smtpd client=%s from=<%s> nrcpt=%zu size=%zu result=%s reply=\"%s\"", c->ip,
	         c->from, c->nrcpt, c->ds.size, result, line);
	reply(c, "%s", line);
	reset_txn(c);
}

static void
do_mail(struct conn *c, const struct smtpd_cmd *cmd)
{
	struct smtpd *d = c->d;
	if (c->helo == NULL) {
		bad(c, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (c->have_mail) {
		bad(c, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (cmd->size > d->lim.max_message) {
		d->st.too_big++;
		log_info("smtpd client=%s from=<%s> size=%llu result=refused reason=size", c->ip,
		         cmd->addr, cmd->size);
		reply(c, "552 5.3.4 Error: message size exceeds limit (%zu bytes)",
		      d->lim.max_message);
		return;
	}
	if (throttle_bucket_take(&c->ipe->bucket, clock_seconds()) > 0) {
		d->st.rate_limited++;
		log_info("smtpd client=%s from=<%s> result=refused reason=rate", c->ip, cmd->addr);
		reply(c, "451 4.7.1 Error: too many messages from your address, slow down");
		return;
	}
	c->have_mail = 1;
	c->from = xstrdup(cmd->addr);
	reply(c, "250 2.1.0 Ok");
}

static void
do_rcpt(struct conn *c, const struct smtpd_cmd *cmd)
{
	struct smtpd *d = c->d;
	if (!c->have_mail) {
		bad(c, "503 5.5.1 Error: need MAIL command");
		return;
	}
	c->rcpt_tries++;
	if (c->nrcpt >= d->lim.max_rcpts) {
		d->st.refused_rcpts++;
		log_info("smtpd client=%s from=<%s> rcpt=<%s> result=refused reason=max_rcpts",
		         c->ip, c->from, cmd->addr);
		reply(c, "452 4.5.3 Error: too many recipients");
		return;
	}
	const char *r = d->cbs.rcpt ? d->cbs.rcpt(d->arg, cmd->addr) : NULL;
	char line[SMTPD_REPLY_MAX];
	if (r != NULL && clean_reply(c, "rcpt", r, line, sizeof(line)) != '2') {
		d->st.refused_rcpts++;
		log_info("smtpd client=%s from=<%s> rcpt=<%s> result=refused reply=\"%s\"", c->ip,
		         c->from, cmd->addr, line);
		reply(c, "%s", line);
		return;
	}
	if (c->closing)
		return;
	c->rcpts = xrealloc(c->rcpts, (c->nrcpt + 1) * sizeof(*c->rcpts));
	c->rcpts[c->nrcpt++] = xstrdup(cmd->addr);
	if (r)
		reply(c, "%s", line);
	else
		reply(c, "250 2.1.5 Ok");
}

static void
do_data(struct conn *c)
{
	if (!c->have_mail) {
		bad(c, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (c->nrcpt == 0) {
		if (c->rcpt_tries == 0)
			bad(c, "503 5.5.1 Error: need RCPT command");
		else
			reply(c, "554 5.5.1 Error: no valid recipients");
		return;
	}
	reply(c, "354 End data with <CR><LF>.<CR><LF>");
	c->in_data = 1;
	smtpd_data_init(&c->ds);
	buf_free(&c->msg);
}

static void
handle_line(struct conn *c, const char *line, size_t len)
{
	struct smtpd *d = c->d;
	struct smtpd_cmd cmd;
	if (smtpd_parse_command(line, len, &cmd) < 0) {
		bad(c, cmd.reply);
		return;
	}
	switch (cmd.verb) {
	case SMTPD_HELO:
	case SMTPD_EHLO:
		reset_txn(c);
		free(c->helo);
		c->helo = xstrdup(cmd.arg);
		if (cmd.verb == SMTPD_HELO) {
			reply(c, "250 %s", d->hostname);
			break;
		}
		reply(c, "250-%s", d->hostname);
		reply(c, "250-PIPELINING");
		reply(c, "250-SIZE %zu", d->lim.max_message);
		reply(c, "250-8BITMIME");
		reply(c, "250-ENHANCEDSTATUSCODES");
		reply(c, "250 SMTPUTF8");
		break;
	case SMTPD_MAIL:
		do_mail(c, &cmd);
		break;
	case SMTPD_RCPT:
		do_rcpt(c, &cmd);
		break;
	case SMTPD_DATA:
		do_data(c);
		break;
	case SMTPD_RSET:
		reset_txn(c);
		reply(c, "250 2.0.0 Ok");
		break;
	case SMTPD_NOOP:
		reply(c, "250 2.0.0 Ok");
		break;
	case SMTPD_QUIT:
		reply(c, "221 2.0.0 Bye");
		drain(c);
		break;
	case SMTPD_VRFY:
		reply(c, "252 2.5.2 Cannot VRFY user, but will accept message for it");
		break;
	case SMTPD_HELP:
		reply(c, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY");
		break;
	default: /* EXPN and the verbs not offered */
		bad(c, "502 5.5.1 Error: command not implemented");
		break;
	}
}

/* Consume n bytes from the client: command lines, or message data. */
static void
process(struct conn *c, const char *p, size_t n)
{
	while (n > 0 && !c->closing && !c->draining) {
		if (c->in_data) {
			size_t used = 0;
			int end =
			    smtpd_data_feed(&c->ds, p, n, &c->msg, c->d->lim.max_message, &used);
			p += used;
			n -= used;
			if (end)
				end_data(c);
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		const char *seg = p;
		p += take;
		n -= take;
		if (c->skipping || c->in.len + take > SMTPD_LINE_MAX) {
			/* Over-long: throw it away up to its end, then answer once. */
			buf_reset(&c->in);
			c->skipping = nl == NULL;
			if (nl)
				bad(c, "500 5.5.2 Error: line too long");
			continue;
		}
		buf_add(&c->in, seg, take);
		if (nl == NULL)
			break;
		size_t len = c->in.len - 1;
		if (len > 0 && c->in.data[len - 1] == '\r')
			len--;
		handle_line(c, c->in.data, len);
		buf_reset(&c->in);
	}
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;
	(void)suggested;
	*b = uv_buf_init(c->d->rbuf, sizeof(c->d->rbuf));
}

static void
on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->closing || c->draining)
		return;
	c->d->st.timeouts++;
	log_info("smtpd client=%s result=dropped reason=timeout", c->ip);
	reply(c, "421 4.4.2 %s Error: timeout exceeded", c->d->hostname);
	drain(c);
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = st->data;
	if (c->closing || c->draining)
		return;
	if (nread < 0) {
		log_debug("smtpd client=%s read: %s", c->ip, uv_strerror((int)nread));
		close_now(c);
		return;
	}
	if (nread == 0)
		return;
	uv_timer_start(&c->timer, on_timer, c->d->lim.timeout_ms, 0);
	process(c, b->base, (size_t)nread);
	flush(c);
}

/* Forget addresses with no session whose bucket has refilled; then the oldest idle ones. */
static void
prune_ips(struct smtpd *d, double now)
{
	for (struct ipent **pp = &d->ips; *pp;) {
		struct ipent *e = *pp;
		const struct throttle_bucket *b = &e->bucket;
		int full = b->rate <= 0 || b->tokens + (now - b->last) * b->rate >= b->burst;
		if (e->conns == 0 && (full || d->nips > SMTPD_IP_MAX)) {
			*pp = e->next;
			free(e);
			d->nips--;
		} else {
			pp = &e->next;
		}
	}
}

static struct ipent *
find_ip(struct smtpd *d, const char *ip)
{
	double now = clock_seconds();
	prune_ips(d, now);
	for (struct ipent *e = d->ips; e; e = e->next)
		if (strcmp(e->ip, ip) == 0)
			return e;
	struct ipent *e = xcalloc(1, sizeof(*e));
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	double rate = d->lim.rate_per_ip < 0 ? 0 : d->lim.rate_per_ip;
	throttle_bucket_init(&e->bucket, rate, d->lim.rate_burst, now);
	/* A new client may use its whole burst at once. */
	e->bucket.tokens = e->bucket.burst;
	/* New entries go last: pruning over the cap then drops the oldest first. */
	struct ipent **pp = &d->ips;
	while (*pp)
		pp = &(*pp)->next;
	*pp = e;
	d->nips++;
	return e;
}

static void
peer_ip(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	snprintf(c->ip, sizeof(c->ip), "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		sockaddr_ip((const struct sockaddr *)&ss, c->ip, sizeof(c->ip));
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct smtpd *d = srv->data;
	if (status < 0) {
		log_warn("smtpd accept: %s", uv_strerror(status));
		return;
	}
	if (d->closing)
		return;
	struct conn *c = xcalloc(1, sizeof(*c));
	c->d = d;
	if (uv_tcp_init(d->loop, &c->tcp) != 0 || uv_timer_init(d->loop, &c->timer) != 0)
		abort(); /* cannot fail but for a broken loop: a bug */
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	snprintf(c->ip, sizeof(c->ip), "?");
	int rc = uv_accept(srv, (uv_stream_t *)&c->tcp);
	if (rc < 0) {
		log_warn("smtpd accept: %s", uv_strerror(rc));
		close_now(c);
		return;
	}
	peer_ip(c);
	const char *why = NULL;
	struct ipent *e = NULL;
	if (d->st.open >= d->lim.max_conns) {
		why = "max_conns";
	} else {
		e = find_ip(d, c->ip);
		if (e->conns >= d->lim.max_conns_per_ip)
			why = "max_conns_per_ip";
	}
	if (why) {
		d->st.refused_conns++;
		log_info("smtpd client=%s result=refused reason=%s", c->ip, why);
		reply(c, "421 4.7.0 %s Error: too many connections%s, try again later", d->hostname,
		      e ? " from your address" : "");
		drain(c);
		return;
	}
	c->ipe = e;
	e->conns++;
	d->st.open++;
	d->st.connections++;
	log_debug("smtpd client=%s connected open=%u", c->ip, d->st.open);
	uv_tcp_nodelay(&c->tcp, 1);
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc < 0) {
		close_now(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, d->lim.timeout_ms, 0);
	reply(c, "220 %s ESMTP kirim", d->hostname);
	flush(c);
}

static void
maybe_done(struct smtpd *d)
{
	if (!d->closing || d->listener_open || d->conns)
		return;
	if (d->done)
		d->done(d->done_arg);
	while (d->ips) {
		struct ipent *e = d->ips;
		d->ips = e->next;
		free(e);
	}
	free(d->hostname);
	free(d);
}

static void
on_listener_close(uv_handle_t *h)
{
	struct smtpd *d = h->data;
	d->listener_open = 0;
	maybe_done(d);
}

/* "1.2.3.4:25", ":25", "[::1]:25" into an address. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *port;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host))
			return UV_EINVAL;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		port = e + 2;
	} else {
		const char *e = strrchr(s, ':');
		if (e == NULL || (size_t)(e - s) >= sizeof(host))
			return UV_EINVAL;
		memcpy(host, s, (size_t)(e - s));
		host[e - s] = '\0';
		if (host[0] == '\0' || strcmp(host, "*") == 0)
			snprintf(host, sizeof(host), "0.0.0.0");
		port = e + 1;
	}
	if (*port == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
		return UV_EINVAL;
	long p = strtol(port, NULL, 10);
	if (p > 65535)
		return UV_EINVAL;
	if (s[0] == '[')
		return uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss);
	return uv_ip4_addr(host, (int)p, (struct sockaddr_in *)ss);
}

int
smtpd_new(uv_loop_t *loop, const char *listen, const char *hostname, const struct smtpd_limits *lim,
          const struct smtpd_cbs *cbs, void *arg, struct smtpd **out, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	int rc = parse_listen(listen, &ss);
	if (rc < 0) {
		snprintf(err, errsz, "listen address \"%s\": want IPv4:PORT or [IPv6]:PORT",
		         listen);
		return rc;
	}
	struct smtpd *d = xcalloc(1, sizeof(*d));
	d->loop = loop;
	d->hostname = xstrdup(hostname && *hostname ? hostname : "localhost");
	smtpd_default_limits(&d->lim);
	if (lim) {
		if (lim->max_message)
			d->lim.max_message = lim->max_message;
		if (lim->max_rcpts)
			d->lim.max_rcpts = lim->max_rcpts;
		if (lim->max_conns)
			d->lim.max_conns = lim->max_conns;
		if (lim->max_conns_per_ip)
			d->lim.max_conns_per_ip = lim->max_conns_per_ip;
		if (lim->rate_per_ip != 0) {
			d->lim.rate_per_ip = lim->rate_per_ip;
			d->lim.rate_burst =
			    lim->rate_burst > 0 ? lim->rate_burst : 2 * lim->rate_per_ip;
		} else if (lim->rate_burst > 0) {
			d->lim.rate_burst = lim->rate_burst;
		}
		if (lim->timeout_ms)
			d->lim.timeout_ms = lim->timeout_ms;
		if (lim->max_errors)
			d->lim.max_errors = lim->max_errors;
	}
	if (cbs)
		d->cbs = *cbs;
	d->arg = arg;
	if (uv_tcp_init(loop, &d->tcp) != 0)
		abort(); /* cannot fail but for a broken loop: a bug */
	d->tcp.data = d;
	d->listener_open = 1;
	rc = uv_tcp_bind(&d->tcp, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&d->tcp, 128, on_connection);
	if (rc == 0) {
		struct sockaddr_storage bound;
		int len = sizeof(bound);
		rc = uv_tcp_getsockname(&d->tcp, (struct sockaddr *)&bound, &len);
		if (rc == 0)
			d->port = sockaddr_port((const struct sockaddr *)&bound);
	}
	if (rc < 0) {
		snprintf(err, errsz, "listen on %s: %s", listen, uv_strerror(rc));
		d->closing = 1;
		uv_close((uv_handle_t *)&d->tcp, on_listener_close);
		return rc;
	}
	log_info("smtpd listening=%s port=%d hostname=%s", listen, d->port, d->hostname);
	*out = d;
	return 0;
}

int
smtpd_port(const struct smtpd *d)
{
	return d->port;
}

void
smtpd_close(struct smtpd *d, void (*done)(void *arg), void *arg)
{
	if (d->closing)
		abort(); /* closed twice: a bug */
	d->closing = 1;
	d->done = done;
	d->done_arg = arg;
	uv_close((uv_handle_t *)&d->tcp, on_listener_close);
	for (struct conn *c = d->conns; c; c = c->next)
		close_now(c);
}

void
smtpd_stats(const struct smtpd *d, struct smtpd_stats *st)
{
	*st = d->st;
}
