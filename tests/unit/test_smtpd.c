/*
 * test_smtpd - src/net/smtpd.c: the pure command parser and DATA reader
 * (tables), then whole dialogues against a server on 127.0.0.1 port 0.
 *
 * Each dialogue starts its own server on a private uv loop; a client thread
 * with a blocking socket sends the lines of a table and compares the reply
 * codes, then wakes the loop (uv_async) to close the server; the test
 * asserts uv_loop_close() == 0. Debian's swaks (KIRIM_SWAKS, default
 * /usr/bin/swaks) is an independent client for two cases; a missing swaks
 * fails the test (tools/test installs it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/log.h"
#include "kirim/smtpd.h"
#include "kirim/xmalloc.h"

extern char **environ;

/* ---- the parser ------------------------------------------------------------------------------ */

struct parse_case {
	const char *label;
	const char *line;
	int rc;
	enum smtpd_verb verb;
	const char *addr; /* MAIL/RCPT: want cmd.addr; others: want cmd.arg (NULL: not checked) */
	unsigned long long size;
	const char *reply; /* on failure: the reply's first 9 bytes ("501 5.5.4") */
};

static const struct parse_case parse_cases[] = {
    {"ehlo", "EHLO client.test", 0, SMTPD_EHLO, "client.test", 0, NULL},
    {"ehlo lower, blanks", "ehlo   c.test  ", 0, SMTPD_EHLO, "c.test", 0, NULL},
    {"ehlo no arg", "EHLO", SMTPD_ESYNTAX, SMTPD_EHLO, NULL, 0, "501 5.5.4"},
    {"helo", "HELO c", 0, SMTPD_HELO, "c", 0, NULL},
    {"mail", "MAIL FROM:<a@b.test>", 0, SMTPD_MAIL, "a@b.test", 0, NULL},
    {"mail null sender", "MAIL FROM:<>", 0, SMTPD_MAIL, "", 0, NULL},
    {"mail space after colon", "mail from: <a@b.test>", 0, SMTPD_MAIL, "a@b.test", 0, NULL},
    {"mail size body utf8", "MAIL FROM:<a@b.test> SIZE=1234 BODY=8BITMIME SMTPUTF8", 0, SMTPD_MAIL,
     "a@b.test", 1234, NULL},
    {"mail size huge", "MAIL FROM:<a@b.test> SIZE=99999999999999999999", 0, SMTPD_MAIL, "a@b.test",
     ~0ULL, NULL},
    {"mail size bad", "MAIL FROM:<a@b.test> SIZE=12x", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0,
     "501 5.5.4"},
    {"mail binarymime", "MAIL FROM:<a@b.test> BODY=BINARYMIME", SMTPD_EPARAM, SMTPD_MAIL, NULL, 0,
     "555 5.5.4"},
    {"mail auth param", "MAIL FROM:<a@b.test> AUTH=<>", SMTPD_EPARAM, SMTPD_MAIL, NULL, 0,
     "555 5.5.4"},
    {"mail no brackets", "MAIL FROM:a@b.test", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0, "501 5.5.4"},
    {"mail no from", "MAIL <a@b.test>", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0, "501 5.5.4"},
    {"mail unterminated", "MAIL FROM:<a@b.test", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0, "501 5.1.7"},
    {"mail no domain", "MAIL FROM:<a@>", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0, "501 5.1.7"},
    {"mail junk after", "MAIL FROM:<a@b.test>x", SMTPD_ESYNTAX, SMTPD_MAIL, NULL, 0, "501 5.5.4"},
    {"mail source route", "MAIL FROM:<@relay.test,@r2.test:a@b.test>", 0, SMTPD_MAIL, "a@b.test", 0,
     NULL},
    {"mail quoted local part", "MAIL FROM:<\"a >b\"@c.test>", 0, SMTPD_MAIL, "\"a >b\"@c.test", 0,
     NULL},
    {"rcpt", "RCPT TO:<b-1@bounce.test>", 0, SMTPD_RCPT, "b-1@bounce.test", 0, NULL},
    {"rcpt postmaster", "RCPT TO:<Postmaster>", 0, SMTPD_RCPT, "Postmaster", 0, NULL},
    {"rcpt empty", "RCPT TO:<>", SMTPD_ESYNTAX, SMTPD_RCPT, NULL, 0, "501 5.1.3"},
    {"rcpt notify", "RCPT TO:<x@bounce.test> NOTIFY=NEVER", SMTPD_EPARAM, SMTPD_RCPT, NULL, 0,
     "555 5.5.4"},
    {"rcpt space in addr", "RCPT TO:<x y@bounce.test>", SMTPD_ESYNTAX, SMTPD_RCPT, NULL, 0,
     "501 5.1.3"},
    {"data", "DATA", 0, SMTPD_DATA, "", 0, NULL},
    {"data with arg", "DATA x", SMTPD_ESYNTAX, SMTPD_DATA, NULL, 0, "501 5.5.4"},
    {"quit", "quit", 0, SMTPD_QUIT, "", 0, NULL},
    {"noop with arg", "NOOP hello", 0, SMTPD_NOOP, "hello", 0, NULL},
    {"vrfy", "VRFY someone", 0, SMTPD_VRFY, "someone", 0, NULL},
    {"starttls", "STARTTLS", 0, SMTPD_NOT_IMPL, NULL, 0, NULL},
    {"unknown", "FOO bar", SMTPD_EUNKNOWN, SMTPD_UNKNOWN, NULL, 0, "500 5.5.1"},
    {"empty", "", SMTPD_EUNKNOWN, SMTPD_UNKNOWN, NULL, 0, "500 5.5.1"},
    {"verb prefix", "MAILX FROM:<a@b.test>", SMTPD_EUNKNOWN, SMTPD_UNKNOWN, NULL, 0, "500 5.5.1"},
    {"control char", "NOOP a\001b", SMTPD_ESYNTAX, SMTPD_NOOP, NULL, 0, "501 5.5.4"},
};

static void
test_parse_command(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *tc = &parse_cases[i];
		struct smtpd_cmd cmd;
		int rc = smtpd_parse_command(tc->line, strlen(tc->line), &cmd);
		const char *got_s =
		    cmd.verb == SMTPD_MAIL || cmd.verb == SMTPD_RCPT ? cmd.addr : cmd.arg;
		if (rc != tc->rc || cmd.verb != tc->verb ||
		    (rc == 0 && tc->addr && strcmp(got_s, tc->addr) != 0) ||
		    (rc == 0 && cmd.size != tc->size) ||
		    (rc < 0 && (cmd.reply == NULL || strncmp(cmd.reply, tc->reply, 9) != 0))) {
			print_error(
			    "%s: line \"%s\": got rc=%d verb=%d s=\"%s\" size=%llu reply=%s; "
			    "want rc=%d verb=%d s=\"%s\" size=%llu reply=%s\n",
			    tc->label, tc->line, rc, cmd.verb, got_s, cmd.size,
			    rc < 0 ? cmd.reply : "-", tc->rc, tc->verb, tc->addr ? tc->addr : "-",
			    tc->size, tc->reply ? tc->reply : "-");
			failed++;
		}
	}
	/* Line lengths: 512 with CRLF for most commands, 1000 for MAIL and RCPT. */
	char line[1200];
	struct smtpd_cmd cmd;
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	assert_int_equal(smtpd_parse_command(line, 510, &cmd), 0);
	assert_int_equal(smtpd_parse_command(line, 511, &cmd), SMTPD_ETOOLONG);
	memcpy(line, "MAIL FROM:<a@b.test> SIZE=1", 27);
	memset(line + 27, '0', 998 - 27);
	assert_int_equal(smtpd_parse_command(line, 998, &cmd), SMTPD_ESYNTAX); /* SIZE too long */
	assert_int_equal(smtpd_parse_command(line, 999, &cmd), SMTPD_ETOOLONG);
	assert_int_equal(failed, 0);
}

/* ---- the DATA reader ------------------------------------------------------------------------- */

struct data_case {
	const char *label;
	const char *in;
	long end;        /* bytes used through the end of data, -1: not ended */
	const char *out; /* the unstuffed message (up to the end) */
	int bare;        /* bare CR or LF seen */
};

static const struct data_case data_cases[] = {
    {"empty message", ".\r\n", 3, "", 0},
    {"one line", "hello\r\n.\r\n", 10, "hello\r\n", 0},
    {"stuffed dots", "..\r\n..x\r\n.y\r\nz\r\n.\r\nafter", 19, ".\r\n.x\r\ny\r\nz\r\n", 0},
    {"dot inside a line", "a.b\r\n a .\r\n.\r\n", 14, "a.b\r\n a .\r\n", 0},
    {"LF.LF is not the end", "x\n.\nMAIL FROM:<e@x>\r\n", -1, "x\n.\nMAIL FROM:<e@x>\r\n", 1},
    {"CR.CR is not the end", "x\r.\rMAIL FROM:<e@x>\r\n", -1, "x\r.\rMAIL FROM:<e@x>\r\n", 1},
    {"CRLF.LF is not the end", "x\r\n.\nMAIL\r\n", -1, "x\r\n\nMAIL\r\n", 1},
    {"LF.CRLF is not the end", "x\n.\r\nMAIL\r\n", -1, "x\n.\r\nMAIL\r\n", 1},
    {"smuggled then real end", "x\n.\nMAIL FROM:<e@x>\r\n.\r\n", 24, "x\n.\nMAIL FROM:<e@x>\r\n",
     1},
    {"dot CR then data", ".\rx\r\n.\r\n", 8, "\rx\r\n", 1},
    {"no end yet", "abc\r\n", -1, "abc\r\n", 0},
    {"CRCRLF", "a\r\r\n.\r\n", 7, "a\r\r\n", 1},
};

static void
run_data(const struct data_case *tc, size_t step, long *end, struct buf *out, struct smtpd_data *st)
{
	size_t n = strlen(tc->in), off = 0;
	smtpd_data_init(st);
	*end = -1;
	while (off < n) {
		size_t chunk = step && step < n - off ? step : n - off, used = 0;
		if (smtpd_data_feed(st, tc->in + off, chunk, out, 1 << 20, &used)) {
			*end = (long)(off + used);
			return;
		}
		assert_int_equal(used, chunk);
		off += chunk;
	}
}

static void
test_data_feed(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		const struct data_case *tc = &data_cases[i];
		/* Whole, then one byte at a time, then three at a time: the same result. */
		static const size_t steps[] = {0, 1, 3};
		for (size_t s = 0; s < 3; s++) {
			struct buf out = BUF_INIT;
			struct smtpd_data st;
			long end;
			run_data(tc, steps[s], &end, &out, &st);
			int bare = st.bare_cr || st.bare_lf;
			if (end != tc->end || out.len != strlen(tc->out) ||
			    memcmp(out.data ? out.data : "", tc->out, out.len) != 0 ||
			    bare != tc->bare) {
				print_error("%s (step %zu): got end=%ld bare=%d out=\"%.*s\"; want "
				            "end=%ld bare=%d out=\"%s\"\n",
				            tc->label, steps[s], end, bare, (int)out.len,
				            out.data ? out.data : "", tc->end, tc->bare, tc->out);
				failed++;
			}
			buf_free(&out);
		}
	}
	/* Over max: the first max bytes kept, the rest counted, the end still found. */
	struct smtpd_data st;
	struct buf out = BUF_INIT;
	size_t used;
	smtpd_data_init(&st);
	const char *big = "0123456789\r\n0123456789\r\n.\r\nQUIT\r\n";
	assert_int_equal(smtpd_data_feed(&st, big, strlen(big), &out, 15, &used), 1);
	assert_int_equal(used, strlen(big) - 6);
	assert_int_equal(st.overflow, 1);
	assert_int_equal(st.size, 24);
	assert_true(out.len <= 15);
	buf_free(&out);
	assert_int_equal(failed, 0);
}

/* ---- a server and a client thread ------------------------------------------------------------ */

#define MAX_MSGS 8

struct got_msg {
	char from[300];
	size_t nrcpt;
	char rcpt0[300];
	struct buf data;
};

struct srv {
	uv_loop_t loop;
	struct smtpd *d;
	uv_async_t async;
	uv_thread_t th;
	int port;
	void (*client)(struct srv *s, const void *arg);
	const void *client_arg;
	char fail[4096]; /* written by the client thread, read after the join */
	struct smtpd_stats st;
	int closed; /* the done callback ran */
	/* What the callbacks saw (loop thread). */
	size_t nmsg;
	struct got_msg msgs[MAX_MSGS];
	unsigned nrcpt_calls;
};

static void client_fail(struct srv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
client_fail(struct srv *s, const char *fmt, ...)
{
	size_t n = strlen(s->fail);
	if (n + 2 >= sizeof(s->fail))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail + n, sizeof(s->fail) - n - 1, fmt, ap);
	va_end(ap);
	strcat(s->fail, "\n");
}

static const char *
cb_rcpt(void *arg, const char *addr)
{
	struct srv *s = arg;
	s->nrcpt_calls++;
	if (strncmp(addr, "refuse", 6) == 0)
		return "550 5.7.1 relaying denied";
	if (strncmp(addr, "garbage", 7) == 0)
		return "hello\r\nworld";
	return NULL;
}

static const char *
cb_message(void *arg, const char *from, const char *const *rcpts, size_t nrcpt, const char *data,
           size_t len)
{
	struct srv *s = arg;
	if (strcmp(from, "reject@x.test") == 0)
		return "451 4.3.0 try again later";
	if (s->nmsg < MAX_MSGS) {
		struct got_msg *m = &s->msgs[s->nmsg];
		snprintf(m->from, sizeof(m->from), "%s", from);
		m->nrcpt = nrcpt;
		snprintf(m->rcpt0, sizeof(m->rcpt0), "%s", nrcpt ? rcpts[0] : "");
		buf_add(&m->data, data, len);
	}
	s->nmsg++;
	return NULL;
}

static void
on_done(void *arg)
{
	struct srv *s = arg;
	s->closed = 1;
}

static void
on_async(uv_async_t *a)
{
	struct srv *s = a->data;
	smtpd_stats(s->d, &s->st);
	smtpd_close(s->d, on_done, s);
	uv_close((uv_handle_t *)a, NULL);
}

static void
thread_main(void *arg)
{
	struct srv *s = arg;
	s->client(s, s->client_arg);
	uv_async_send(&s->async);
}

/* Run client(s, arg) in a thread against a fresh server with lim; then check the loop closes. */
static void
run_server(struct srv *s, const struct smtpd_limits *lim,
           void (*client)(struct srv *s, const void *arg), const void *arg)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(uv_loop_init(&s->loop), 0);
	struct smtpd_cbs cbs = {cb_rcpt, cb_message};
	char err[256];
	int rc =
	    smtpd_new(&s->loop, "127.0.0.1:0", "mx.test", lim, &cbs, s, &s->d, err, sizeof(err));
	if (rc != 0)
		fail_msg("smtpd_new: %s", err);
	s->port = smtpd_port(s->d);
	assert_true(s->port > 0);
	s->client = client;
	s->client_arg = arg;
	assert_int_equal(uv_async_init(&s->loop, &s->async, on_async), 0);
	s->async.data = s;
	assert_int_equal(uv_thread_create(&s->th, thread_main, s), 0);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_thread_join(&s->th);
	assert_true(s->closed);
	assert_int_equal(uv_loop_close(&s->loop), 0);
}

static void
srv_free(struct srv *s)
{
	for (size_t i = 0; i < MAX_MSGS; i++)
		buf_free(&s->msgs[i].data);
}

/* A blocking client connection. */
struct cli {
	int fd;
	char buf[16384];
	size_t len;
	char text[8192]; /* the last reply, all its lines */
};

static int
cli_connect(struct cli *c, int port)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	struct timeval tv = {5, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

static int
cli_send(struct cli *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line into out (without CRLF): 1, 0 at EOF, -1 on timeout or error. */
static int
cli_line(struct cli *c, char *out, size_t outsz)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf) + 1;
			size_t k = n - 1;
			if (k > 0 && c->buf[k - 1] == '\r')
				k--;
			if (k >= outsz)
				k = outsz - 1;
			memcpy(out, c->buf, k);
			out[k] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 1;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r == 0)
			return 0;
		if (r < 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* One whole reply: its code, 0 at EOF, -1 on timeout; its lines in c->text. */
static int
cli_reply(struct cli *c)
{
	char line[1024];
	c->text[0] = '\0';
	for (;;) {
		int rc = cli_line(c, line, sizeof(line));
		if (rc <= 0)
			return rc;
		size_t n = strlen(c->text);
		snprintf(c->text + n, sizeof(c->text) - n, "%s\n", line);
		if (strlen(line) < 3)
			return -1;
		if (line[3] != '-')
			return atoi(line);
	}
}

/* ---- dialogues ------------------------------------------------------------------------------- */

struct step {
	const char *send; /* NULL: send nothing, only read */
	const char *want; /* reply codes in order, "EOF" for the close; "" for none */
	const char *has;  /* NULL, or a string the replies must hold */
};

struct dialogue {
	const char *label;
	struct smtpd_limits lim;
	struct step steps[16];
	int nmsg;         /* messages the callback must have seen */
	const char *data; /* NULL, or the first message's bytes */
	size_t nrcpt;     /* the first message's recipients (when nmsg > 0) */
	const char *stat; /* NULL, or a counter that must be 1 */
};

#define EHLO_MAIL_RCPT "EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@bounce.test>\r\n"

static char long_noop[700];
static char long_mail[1100];
static char big_body[400];

static const struct dialogue dialogues[] = {
    {"normal message",
     {0},
     {{NULL, "220", "mx.test ESMTP kirim"},
      {"EHLO c.test\r\n", "250", "SIZE 10485760"},
      {"MAIL FROM:<>\r\n", "250", NULL},
      {"RCPT TO:<b-1@bounce.test>\r\n", "250", NULL},
      {"DATA\r\n", "354", NULL},
      {"Subject: hi\r\n\r\nbody\r\n.\r\n", "250", NULL},
      {"QUIT\r\n", "221 EOF", NULL}},
     1,
     "Subject: hi\r\n\r\nbody\r\n",
     1,
     "messages"},
    {"pipelined",
     {0},
     {{NULL, "220", NULL},
      {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@bounce.test>\r\nRCPT "
       "TO:<refuse@bounce.test>\r\nRCPT TO:<y@bounce.test>\r\nDATA\r\n",
       "250 250 250 550 250 354", "550 5.7.1 relaying denied"},
      {"hello\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<z@bounce.test>\r\nDATA\r\n",
       "250 250 250 354", NULL},
      {"two\r\n.\r\nQUIT\r\n", "250 221 EOF", NULL}},
     2,
     "hello\r\n",
     2,
     "refused_rcpts"},
    {"helo and null sender",
     {0},
     {{NULL, "220", NULL},
      {"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@bounce.test>\r\nDATA\r\n", "250 250 250 354", NULL},
      {".\r\n", "250", NULL}},
     1,
     "",
     1,
     NULL},
    {"every recipient refused",
     {0},
     {{NULL, "220", NULL},
      {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<refuse@bounce.test>\r\nRCPT "
       "TO:<garbage@bounce.test>\r\nDATA\r\n",
       "250 250 550 451 554", "451 4.3.0"},
      {"NOOP\r\n", "250", NULL}},
     0,
     NULL,
     0,
     NULL},
    {"too many recipients",
     {.max_rcpts = 2},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "RCPT TO:<y@bounce.test>\r\nRCPT TO:<z@bounce.test>\r\nDATA\r\n",
       "250 250 250 250 452 354", "452 4.5.3"},
      {"m\r\n.\r\n", "250", NULL}},
     1,
     "m\r\n",
     2,
     "refused_rcpts"},
    {"SIZE too big",
     {.max_message = 100},
     {{NULL, "220", NULL},
      {"EHLO c\r\n", "250", "SIZE 100"},
      {"MAIL FROM:<a@b.test> SIZE=101\r\n", "552", "552 5.3.4"},
      {"MAIL FROM:<a@b.test> SIZE=100\r\n", "250", NULL}},
     0,
     NULL,
     0,
     "too_big"},
    {"DATA over max_message, connection still usable",
     {.max_message = 100},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {big_body, "", NULL},
      {".\r\n", "552", "552 5.3.4"},
      {"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@bounce.test>\r\nDATA\r\n", "250 250 354", NULL},
      {"small\r\n.\r\n", "250", NULL}},
     1,
     "small\r\n",
     1,
     "too_big"},
    {"smuggling LF.LF",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x.test>\r\nRCPT "
       "TO:<v@bounce.test>\r\nDATA\r\nevil\r\n.\r\n",
       "554", "554 5.6.0"},
      {"HELP\r\n", "214", NULL}},
     0,
     NULL,
     0,
     "rejected"},
    {"smuggling CR.CR",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"hello\r.\rMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@bounce.test>\r\n.\r\n", "554", NULL},
      {"HELP\r\n", "214", NULL}},
     0,
     NULL,
     0,
     "rejected"},
    {"smuggling CRLF.LF",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"hello\r\n.\nMAIL FROM:<evil@x.test>\r\n.\r\n", "554", NULL},
      {"HELP\r\n", "214", NULL}},
     0,
     NULL,
     0,
     "rejected"},
    {"commands inside clean data are data",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"hello\r\nMAIL FROM:<evil@x.test>\r\n.\r\n", "250", NULL},
      {"HELP\r\n", "214", NULL}},
     1,
     "hello\r\nMAIL FROM:<evil@x.test>\r\n",
     1,
     NULL},
    {"dot-unstuffing",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"..\r\n..leading\r\nplain\r\n...\r\n.\r\n", "250", NULL}},
     1,
     ".\r\n.leading\r\nplain\r\n..\r\n",
     1,
     NULL},
    {"data in small pieces",
     {0},
     {{NULL, "220", NULL},
      {EHLO_MAIL_RCPT "DATA\r\n", "250 250 250 354", NULL},
      {"hel", "", NULL},
      {"lo\r", "", NULL},
      {"\n.", "", NULL},
      {".\r", "", NULL},
      {"\n.", "", NULL},
      {"\r", "", NULL},
      {"\n", "250", NULL}},
     1,
     "hello\r\n.\r\n",
     1,
     NULL},
    {"bad sequence and syntax",
     {.max_errors = 100},
     {{NULL, "220", NULL},
      {"MAIL FROM:<a@b.test>\r\n", "503", "send HELO/EHLO first"},
      {"EHLO c\r\nRCPT TO:<x@bounce.test>\r\nDATA\r\n", "250 503 503", NULL},
      {"MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n", "250 503 503", "need RCPT"},
      {"RCPT TO:<x@bounce.test> NOTIFY=NEVER\r\nRCPT TO:x@bounce.test\r\n", "555 501", NULL},
      {"FOO\r\nSTARTTLS\r\nVRFY x\r\nRSET\r\nNOOP\r\n", "500 502 252 250 250", NULL},
      {long_noop, "500", "500 5.5.2"},
      {"NOOP\r\n", "250", NULL},
      {long_mail, "500", "500 5.5.2"},
      {"QUIT\r\n", "221 EOF", NULL}},
     0,
     NULL,
     0,
     NULL},
    {"too many errors",
     {.max_errors = 3},
     {{NULL, "220", NULL}, {"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n", "500 500 500 421 EOF", NULL}},
     0,
     NULL,
     0,
     NULL},
    {"message refused by the callback",
     {0},
     {{NULL, "220", NULL},
      {"EHLO c\r\nMAIL FROM:<reject@x.test>\r\nRCPT TO:<x@bounce.test>\r\nDATA\r\n",
       "250 250 250 354", NULL},
      {"m\r\n.\r\n", "451", "451 4.3.0 try again later"},
      {"RSET\r\n", "250", NULL}},
     0,
     NULL,
     0,
     "rejected"},
    {"idle timeout",
     {.timeout_ms = 300},
     {{NULL, "220", NULL}, {"EHLO c\r\n", "250", NULL}, {NULL, "421 EOF", "421 4.4.2"}},
     0,
     NULL,
     0,
     "timeouts"},
    {"rate limit per address",
     {.rate_per_ip = 1, .rate_burst = 2},
     {{NULL, "220", NULL},
      {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRSET\r\nMAIL FROM:<a@b.test>\r\nRSET\r\nMAIL "
       "FROM:<a@b.test>\r\n",
       "250 250 250 250 250 451", "451 4.7.1"}},
     0,
     NULL,
     0,
     "rate_limited"},
};

static unsigned long
stat_named(const struct smtpd_stats *st, const char *name)
{
	if (strcmp(name, "messages") == 0)
		return st->messages;
	if (strcmp(name, "refused_rcpts") == 0)
		return st->refused_rcpts;
	if (strcmp(name, "too_big") == 0)
		return st->too_big;
	if (strcmp(name, "rejected") == 0)
		return st->rejected;
	if (strcmp(name, "timeouts") == 0)
		return st->timeouts;
	if (strcmp(name, "rate_limited") == 0)
		return st->rate_limited;
	if (strcmp(name, "refused_conns") == 0)
		return st->refused_conns;
	return ~0UL;
}

static void
dialogue_client(struct srv *s, const void *arg)
{
	const struct dialogue *dl = arg;
	struct cli *c = xmalloc(sizeof(*c));
	if (cli_connect(c, s->port) < 0) {
		client_fail(s, "%s: connect failed", dl->label);
		free(c);
		return;
	}
	for (size_t i = 0; i < 16 && (dl->steps[i].send || dl->steps[i].want); i++) {
		const struct step *st = &dl->steps[i];
		if (st->send && cli_send(c, st->send, strlen(st->send)) < 0) {
			client_fail(s, "%s step %zu: send failed", dl->label, i);
			break;
		}
		char got[256] = "", all[8192] = "";
		size_t nwant = 0;
		for (const char *w = st->want; *w; w++)
			if (*w != ' ' && (w == st->want || w[-1] == ' '))
				nwant++;
		for (size_t k = 0; k < nwant; k++) {
			int code = cli_reply(c);
			size_t n = strlen(got);
			if (code > 0)
				snprintf(got + n, sizeof(got) - n, "%s%d", n ? " " : "", code);
			else
				snprintf(got + n, sizeof(got) - n, "%s%s", n ? " " : "",
				         code == 0 ? "EOF" : "TIMEOUT");
			n = strlen(all);
			snprintf(all + n, sizeof(all) - n, "%s", c->text);
			if (code <= 0)
				break;
		}
		if (strcmp(got, st->want) != 0 || (st->has && strstr(all, st->has) == NULL)) {
			client_fail(s,
			            "%s step %zu: got \"%s\" want \"%s\" (replies: %s; must hold "
			            "\"%s\")",
			            dl->label, i, got, st->want, all, st->has ? st->has : "");
			break;
		}
	}
	close(c->fd);
	free(c);
}

static void
test_dialogues(void **state)
{
	(void)state;
	memset(long_noop, 'x', sizeof(long_noop) - 3);
	memcpy(long_noop, "NOOP ", 5);
	memcpy(long_noop + sizeof(long_noop) - 3, "\r\n", 3);
	memset(long_mail, 'x', sizeof(long_mail) - 3);
	memcpy(long_mail, "MAIL FROM:<", 11);
	memcpy(long_mail + sizeof(long_mail) - 3, "\r\n", 3);
	size_t k = 0;
	for (; k + 10 < sizeof(big_body); k += 10)
		memcpy(big_body + k, "12345678\r\n", 10);
	big_body[k] = '\0';
	int failed = 0;
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++) {
		const struct dialogue *dl = &dialogues[i];
		struct srv *s = xcalloc(1, sizeof(*s));
		run_server(s, &dl->lim, dialogue_client, dl);
		if (s->fail[0]) {
			print_error("%s", s->fail);
			failed++;
		}
		if (s->nmsg != (size_t)dl->nmsg) {
			print_error("%s: got %zu messages, want %d\n", dl->label, s->nmsg,
			            dl->nmsg);
			failed++;
		} else if (dl->nmsg > 0) {
			const struct got_msg *m = &s->msgs[0];
			if (dl->data && (m->data.len != strlen(dl->data) ||
			                 memcmp(m->data.data ? m->data.data : "", dl->data,
			                        m->data.len) != 0)) {
				print_error("%s: got data \"%.*s\" want \"%s\"\n", dl->label,
				            (int)m->data.len, m->data.data ? m->data.data : "",
				            dl->data);
				failed++;
			}
			if (m->nrcpt != dl->nrcpt) {
				print_error("%s: got %zu recipients want %zu\n", dl->label,
				            m->nrcpt, dl->nrcpt);
				failed++;
			}
		}
		if (dl->stat && stat_named(&s->st, dl->stat) != 1) {
			print_error("%s: got stats.%s=%lu want 1\n", dl->label, dl->stat,
			            stat_named(&s->st, dl->stat));
			failed++;
		}
		srv_free(s);
		free(s);
	}
	assert_int_equal(failed, 0);
}

/* ---- connection limits ----------------------------------------------------------------------- */

static void
conns_client(struct srv *s, const void *arg)
{
	const char *which = arg;
	struct cli *a = xmalloc(sizeof(*a)), *b = xmalloc(sizeof(*b)), *c = xmalloc(sizeof(*c));
	int ok = cli_connect(a, s->port) == 0 && cli_connect(b, s->port) == 0;
	int ra = ok ? cli_reply(a) : -1, rb = ok ? cli_reply(b) : -1;
	if (ra != 220 || rb != 220)
		client_fail(s, "%s: first two connections: got %d %d want 220 220", which, ra, rb);
	int rc = cli_connect(c, s->port) == 0 ? cli_reply(c) : -1;
	const char *text = c->text;
	int eof = rc == 421 ? cli_reply(c) : -1;
	if (rc != 421 || eof != 0)
		client_fail(s, "%s: third connection: got %d then %d want 421 then EOF (%s)", which,
		            rc, eof, text);
	close(c->fd);
	/* When one closes, a new one is served. */
	close(a->fd);
	int served = 0;
	for (int tries = 0; tries < 50 && !served; tries++) {
		if (cli_connect(c, s->port) < 0)
			break;
		rc = cli_reply(c);
		close(c->fd);
		if (rc == 220)
			served = 1;
		else
			usleep(20000);
	}
	if (!served)
		client_fail(s, "%s: no connection served after one closed", which);
	close(b->fd);
	free(a);
	free(b);
	free(c);
}

static void
test_max_conns(void **state)
{
	(void)state;
	struct smtpd_limits lims[2] = {{.max_conns = 2}, {.max_conns_per_ip = 2}};
	const char *names[2] = {"max_conns", "max_conns_per_ip"};
	for (int i = 0; i < 2; i++) {
		struct srv *s = xcalloc(1, sizeof(*s));
		run_server(s, &lims[i], conns_client, names[i]);
		if (s->fail[0])
			print_error("%s", s->fail);
		assert_string_equal(s->fail, "");
		assert_true(s->st.refused_conns >= 1);
		srv_free(s);
		free(s);
	}
}

/* ---- swaks ----------------------------------------------------------------------------------- */

struct swaks_case {
	const char *label;
	const char *to;
	const char *extra; /* one more swaks option, or NULL */
	int want_ok;       /* exit 0 */
	const char *has;   /* swaks's transcript must hold this */
};

static const struct swaks_case swaks_cases[] = {
    {"swaks delivers", "b-x@bounce.test", NULL, 1, "<-  250 2.0.0"},
    {"swaks pipelined", "b-y@bounce.test", "--pipeline", 1, "<-  250 2.0.0"},
    {"swaks refused recipient", "refuse-1@bounce.test", NULL, 0, "<** 550 5.7.1 relaying denied"},
};

static const char swaks_data[] = "From: MAILER-DAEMON@mta.example\n"
                                 "To: b-x@bounce.test\n"
                                 "Subject: Undelivered Mail Returned to Sender\n"
                                 "\n"
                                 ".a line that starts with a dot\n"
                                 "the end\n";

static void
swaks_client(struct srv *s, const void *arg)
{
	const struct swaks_case *tc = arg;
	const char *swaks = getenv("KIRIM_SWAKS");
	if (swaks == NULL || *swaks == '\0')
		swaks = "/usr/bin/swaks";
	char dfile[] = "/tmp/test_smtpd_dataXXXXXX", ofile[] = "/tmp/test_smtpd_outXXXXXX";
	int dfd = mkstemp(dfile), ofd = mkstemp(ofile);
	if (dfd < 0 || ofd < 0 ||
	    write(dfd, swaks_data, sizeof(swaks_data) - 1) != (ssize_t)(sizeof(swaks_data) - 1)) {
		client_fail(s, "%s: temporary files", tc->label);
		return;
	}
	close(dfd);
	char server[64];
	snprintf(server, sizeof(server), "127.0.0.1:%d", s->port);
	const char *argv[] = {swaks,    "--server",  server,   "--to",        tc->to,
	                      "--from", "<>",        "--helo", "mta.example", "--data",
	                      dfile,    "--timeout", "10",     tc->extra,     NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, ofd, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, swaks, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	int status = -1;
	if (rc != 0)
		client_fail(s, "%s: cannot run %s: %s", tc->label, swaks, strerror(rc));
	else
		waitpid(pid, &status, 0);
	char out[16384];
	ssize_t n = pread(ofd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(ofd);
	unlink(dfile);
	unlink(ofile);
	if (rc != 0)
		return;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (ok != tc->want_ok || strstr(out, tc->has) == NULL)
		client_fail(s,
		            "%s: swaks exit status %d (want %s), transcript must hold \"%s\":\n%s",
		            tc->label, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		            tc->want_ok ? "0" : "not 0", tc->has, out);
}

static void
test_swaks(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(swaks_cases) / sizeof(swaks_cases[0]); i++) {
		const struct swaks_case *tc = &swaks_cases[i];
		struct srv *s = xcalloc(1, sizeof(*s));
		run_server(s, NULL, swaks_client, tc);
		if (s->fail[0])
			print_error("%s", s->fail);
		assert_string_equal(s->fail, "");
		if (tc->want_ok) {
			assert_int_equal(s->nmsg, 1);
			const struct got_msg *m = &s->msgs[0];
			assert_string_equal(m->from, "");
			assert_string_equal(m->rcpt0, tc->to);
			const char *d = m->data.data ? m->data.data : "";
			if (strstr(d, "Subject: Undelivered Mail Returned to Sender\r\n") == NULL ||
			    strstr(d, "\r\n.a line that starts with a dot\r\nthe end\r\n") == NULL)
				fail_msg("%s: got data \"%s\"", tc->label, d);
		} else {
			assert_int_equal(s->nmsg, 0);
			assert_int_equal(s->st.refused_rcpts, 1);
		}
		srv_free(s);
		free(s);
	}
}

int
main(void)
{
	if (getenv("KIRIM_TEST_DEBUG"))
		log_set_level(LOG_DEBUG);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_command), cmocka_unit_test(test_data_feed),
	    cmocka_unit_test(test_dialogues),     cmocka_unit_test(test_max_conns),
	    cmocka_unit_test(test_swaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
