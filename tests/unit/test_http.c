/*
 * test_http - src/net/http.c against a real server on 127.0.0.1 port 0.
 *
 * Each case starts its own uv loop and server; the client is a non-blocking
 * socket in the same thread, and the test pumps the loop (UV_RUN_NOWAIT)
 * while polling the client, until what the case waits for has arrived. Every
 * wait has a cap (PUMP_CAP_MS) that fails the test instead of hanging; no
 * assertion depends on timing. The handler answers now, later (a uv_timer of
 * 0 ms) or holds the request until the test answers it. The client parses
 * what it reads into a list of status codes ("100 200 413c": c when the
 * answer says Connection: close) and the final answers' bodies. Each case
 * ends with the client closed, the server's counters back at 0 and
 * http_server_close() calling on_closed with uv_loop_close() == 0.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/http.h"

enum {
	PUMP_CAP_MS = 10000, /* the longest any wait may take before the test fails */
	SETTLE_PASSES = 10,  /* loop passes that must change nothing ("stays open") */
	MAX_CLIENTS = 4,
	MAX_HELD = 16,
};

enum mode {
	ANSWER_NOW,
	ANSWER_LATER, /* from a 0 ms uv_timer */
	ANSWER_HELD,  /* the test answers (after the client has gone, for 499) */
};

struct env {
	uv_loop_t loop;
	struct http_server *srv;
	enum mode mode;
	size_t big; /* > 0: answer with this many body bytes */
	unsigned nreq;
	bool head[64]; /* per on_request: a HEAD request */
	struct http_req *held[MAX_HELD];
	unsigned nheld;
	char ends[256]; /* on_end statuses, space-separated */
	bool ends_null_data_ok;
	bool closed; /* on_closed ran */
};

struct later {
	uv_timer_t t;
	struct env *e;
	struct http_req *r;
};

struct client {
	int fd;
	char *in;
	size_t len, cap;
	bool eof;
	/* parsed from in */
	char got[256];    /* statuses: "100 200 413c" */
	char bodies[512]; /* final answers' bodies joined by '|'; HEAD answers: cl=N */
	unsigned finals, interims;
	bool bad; /* not a well-formed answer */
};

/* ---- the handler ----------------------------------------------------------------------------- */

static void
answer(struct env *e, struct http_req *r)
{
	int status = 200;
	if (strncmp(r->target, "/status/", 8) == 0)
		status = atoi(r->target + 8);
	if (e->big) {
		char *b = malloc(e->big);
		assert_non_null(b);
		memset(b, 'b', e->big);
		http_respond(r, status, "Content-Type: text/plain\r\n", b, e->big);
		free(b);
		return;
	}
	const char *x = http_header(r, "x-test");
	char body[600];
	int n = snprintf(body, sizeof(body), "%s %s %zu:%.*s x=%s", r->method, r->target,
	                 r->body_len, (int)r->body_len, r->body, x ? x : "-");
	assert_true(n > 0 && (size_t)n < sizeof(body));
	http_respond(r, status, "Content-Type: text/plain\r\n", body, (size_t)n);
}

static void
on_later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
on_later(uv_timer_t *t)
{
	struct later *l = t->data;
	answer(l->e, l->r);
	uv_close((uv_handle_t *)&l->t, on_later_closed);
}

static void
on_request(void *arg, struct http_req *r)
{
	struct env *e = arg;
	assert_non_null(r->method);
	assert_non_null(r->target);
	assert_non_null(r->body);
	assert_int_equal(r->body[r->body_len], '\0');
	assert_int_equal(strlen(r->target), r->target_len);
	assert_non_null(r->peer);
	assert_int_equal(r->peer->sa_family, AF_INET);
	if (e->nreq < 64)
		e->head[e->nreq] = r->head;
	e->nreq++;
	r->data = e;
	switch (e->mode) {
	case ANSWER_NOW:
		answer(e, r);
		break;
	case ANSWER_LATER: {
		struct later *l = calloc(1, sizeof(*l));
		assert_non_null(l);
		l->e = e;
		l->r = r;
		uv_timer_init(&e->loop, &l->t);
		l->t.data = l;
		uv_timer_start(&l->t, on_later, 0, 0);
		break;
	}
	case ANSWER_HELD:
		assert_true(e->nheld < MAX_HELD);
		e->held[e->nheld++] = r;
		break;
	}
}

static void
on_end(void *arg, struct http_req *r, int status)
{
	struct env *e = arg;
	/* The server's own answers carry data NULL; the handler's carry e. */
	if (status == 400 || status == 413 || status == 414 || status == 431 || status == 505)
		assert_null(r->data);
	else
		assert_ptr_equal(r->data, e);
	size_t n = strlen(e->ends);
	snprintf(e->ends + n, sizeof(e->ends) - n, "%s%d", n ? " " : "", status);
}

static void
on_closed(void *arg)
{
	struct env *e = arg;
	assert_false(e->closed);
	e->closed = true;
}

/* ---- the client ------------------------------------------------------------------------------ */

/* A client from address from (NULL: the kernel's choice); every 127.x.y.z is this machine. */
static int
client_connect_from(unsigned port, const char *from)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (from) {
		struct sockaddr_in me = {.sin_family = AF_INET};
		assert_int_equal(inet_pton(AF_INET, from, &me.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback: the kernel completes the handshake at once, the server accepts when pumped. */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

static int
client_connect(unsigned port)
{
	return client_connect_from(port, NULL);
}

static void
client_send(struct client *c, const char *d, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};
			poll(&p, 1, 10);
			continue;
		}
		assert_true(w > 0);
		d += w;
		n -= (size_t)w;
	}
}

/* Parse c->in from the start into got, bodies, finals, interims; head[i]: final i has no body. */
static void
client_parse(struct client *c, const struct env *e)
{
	size_t off = 0;
	c->got[0] = c->bodies[0] = '\0';
	c->finals = c->interims = 0;
	c->bad = false;
	while (off < c->len) {
		const char *p = c->in + off;
		size_t left = c->len - off;
		if (left < 13)
			break;
		if (memcmp(p, "HTTP/1.1 ", 9) != 0 || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
		    p[10] > '9' || p[11] < '0' || p[11] > '9' || p[12] != ' ') {
			c->bad = true;
			return;
		}
		int status = atoi(p + 9);
		const char *end = memmem(p, left, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t hlen = (size_t)(end - p) + 4;
		long cl = -1;
		bool close = false;
		for (const char *l = memchr(p, '\n', hlen) + 1; l < p + hlen - 2;
		     l = memchr(l, '\n', hlen) + 1) {
			if (strncasecmp(l, "Content-Length: ", 16) == 0)
				cl = strtol(l + 16, NULL, 10);
			else if (strncasecmp(l, "Connection: close\r\n", 19) == 0)
				close = true;
		}
		size_t blen = 0;
		if (status >= 200) {
			if (cl < 0) {
				c->bad = true;
				return;
			}
			bool nobody = c->finals < e->nreq && c->finals < 64 && e->head[c->finals];
			blen = nobody ? 0 : (size_t)cl;
			if (left < hlen + blen)
				break;
			size_t bl = strlen(c->bodies);
			if (nobody)
				snprintf(c->bodies + bl, sizeof(c->bodies) - bl, "%scl=%ld",
				         c->finals ? "|" : "", cl);
			else
				snprintf(c->bodies + bl, sizeof(c->bodies) - bl, "%s%.*s",
				         c->finals ? "|" : "", (int)(blen < 200 ? blen : 200),
				         p + hlen);
			c->finals++;
		} else {
			c->interims++;
		}
		size_t gl = strlen(c->got);
		snprintf(c->got + gl, sizeof(c->got) - gl, "%s%d%s", gl ? " " : "", status,
		         close ? "c" : "");
		off += hlen + blen;
	}
}

static void
client_read(struct client *c, const struct env *e)
{
	if (c->fd < 0 || c->eof)
		return;
	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? 2 * c->cap : 131072;
			c->in = realloc(c->in, c->cap);
			assert_non_null(c->in);
		}
		ssize_t n = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->eof = true; /* EOF or reset: the server closed */
		break;
	}
	client_parse(c, e);
}

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* ---- pumping --------------------------------------------------------------------------------- */

struct want {
	unsigned finals, interims, reqs;
	bool eof;
};

static bool
reached(const struct env *e, const struct client *c, const struct want *w)
{
	if (e->nreq < w->reqs)
		return false;
	if (!c)
		return true;
	if (w->eof)
		return c->eof;
	return c->eof || (c->finals >= w->finals && c->interims >= w->interims);
}

static uint64_t
now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* Run the loop and read n clients until pred(ctx) or the cap; false at the cap. */
static bool
pump_until(struct env *e, struct client *cs, size_t n, bool (*pred)(struct env *, void *),
           void *ctx)
{
	uint64_t until = now_ms() + PUMP_CAP_MS;
	while (now_ms() < until) {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		struct pollfd p[MAX_CLIENTS];
		nfds_t np = 0;
		for (size_t i = 0; i < n; i++) {
			client_read(&cs[i], e);
			if (cs[i].fd >= 0 && !cs[i].eof)
				p[np++] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
		}
		if (pred(e, ctx))
			return true;
		/* Wake for the clients or the loop's own fd (server sockets, timers). */
		p[np++] = (struct pollfd){.fd = uv_backend_fd(&e->loop), .events = POLLIN};
		int t = uv_backend_timeout(&e->loop);
		poll(p, np, t < 0 || t > 5 ? 5 : t);
	}
	return false;
}

static void
pump_passes(struct env *e, struct client *cs, size_t n, int passes)
{
	for (int i = 0; i < passes; i++) {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		for (size_t k = 0; k < n; k++)
			client_read(&cs[k], e);
		poll(NULL, 0, 1);
	}
}

struct one {
	struct client *c;
	const struct want *w;
};

static bool
pred_one(struct env *e, void *ctx)
{
	struct one *o = ctx;
	return reached(e, o->c, o->w);
}

static bool
pred_conns(struct env *e, void *ctx)
{
	size_t *want = ctx;
	return http_server_conns(e->srv) == *want;
}

static bool
pred_idle(struct env *e, void *ctx)
{
	(void)ctx;
	return http_server_conns(e->srv) == 0 && http_server_waiting(e->srv) == 0;
}

static bool
pred_closed(struct env *e, void *ctx)
{
	(void)ctx;
	return e->closed;
}

static void
pump_want(struct env *e, struct client *c, struct want w, const char *label)
{
	struct one o = {c, &w};
	if (!pump_until(e, c, c ? 1 : 0, pred_one, &o))
		fail_msg(
		    "%s: no %u final/%u interim answers/%u requests%s within %d ms; got \"%s\" "
		    "(%u requests, eof %d)",
		    label, w.finals, w.interims, w.reqs, w.eof ? "/close" : "", PUMP_CAP_MS,
		    c ? c->got : "", e->nreq, c ? c->eof : 0);
}

/* ---- setup and teardown ---------------------------------------------------------------------- */

static void
env_start(struct env *e, const struct http_opts *base, enum mode mode)
{
	memset(e, 0, sizeof(*e));
	e->mode = mode;
	assert_int_equal(uv_loop_init(&e->loop), 0);
	struct http_opts o = *base;
	o.on_request = on_request;
	o.on_end = on_end;
	o.arg = e;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char err[256] = "";
	e->srv = http_server_new(&e->loop, (struct sockaddr *)&sa, &o, err, sizeof(err));
	if (!e->srv)
		fail_msg("http_server_new: %s", err);
	assert_true(http_server_port(e->srv) > 0);
}

/*
 * Close the clients, answer what is held (after the server saw the clients
 * go: 499), wait for no connection and nothing waiting, then close the server.
 */
static void
env_finish(struct env *e, struct client *cs, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		client_close(&cs[i]);
	/* The FIN is in the server's socket when close() returns (loopback): a pass reads it. */
	pump_passes(e, cs, n, 3);
	for (unsigned i = 0; i < e->nheld; i++)
		answer(e, e->held[i]);
	e->nheld = 0;
	if (!pump_until(e, cs, 0, pred_idle, NULL))
		fail_msg("%s: server still has %zu connections, %zu waiting", label,
		         http_server_conns(e->srv), http_server_waiting(e->srv));
	http_server_close(e->srv, on_closed, e);
	if (!pump_until(e, cs, 0, pred_closed, NULL))
		fail_msg("%s: on_closed not called", label);
	assert_int_equal(uv_run(&e->loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	for (size_t i = 0; i < n; i++) {
		free(cs[i].in);
		cs[i].in = NULL;
	}
}

/* ---- the table ------------------------------------------------------------------------------- */

#define S(x) x, sizeof(x) - 1

struct step {
	const char *d;
	size_t n;
	struct want w; /* pump until this after the write */
};

struct hcase {
	const char *label;
	size_t max_header, max_body; /* 0: 8192, 4096 */
	enum mode mode;
	struct step steps[3];
	const char *got;    /* statuses read back */
	const char *bodies; /* final bodies ('|'), HEAD: cl=N; NULL: not checked */
	bool closed;        /* the server closed the connection */
	const char *ends;   /* on_end statuses, after the client has gone */
};

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"
#define LONG64 "0123456789012345678901234567890123456789012345678901234567890123"

static const struct hcase cases[] = {
    /* Requests and what the handler sees. */
    {"get with query and header (any case)",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /a?q=1 HTTP/1.1\r\nHost: t\r\nX-TeSt: v1\r\n\r\n"), {1, 0, 1, false}}},
     "200",
     "GET /a?q=1 0: x=v1",
     false,
     "200"},
    {"post with body",
     0,
     0,
     ANSWER_NOW,
     {{S("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nx-test: V\r\n\r\nhello"),
       {1, 0, 1, false}}},
     "200",
     "POST /p 5:hello x=V",
     false,
     "200"},
    {"post with chunked body",
     0,
     0,
     ANSWER_NOW,
     {{S("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
       {1, 0, 1, false}}},
     "200",
     "POST /c 5:abcde x=-",
     false,
     "200"},
    {"body split over three writes",
     0,
     0,
     ANSWER_NOW,
     {{S("POST /s HTTP/1.1\r\nContent-Le"), {0, 0, 0, false}},
      {S("ngth: 6\r\n\r\nab"), {0, 0, 0, false}},
      {S("cdef"), {1, 0, 1, false}}},
     "200",
     "POST /s 6:abcdef x=-",
     false,
     "200"},
    {"status from the handler",
     0,
     0,
     ANSWER_NOW,
     {{S(GET("/status/404")), {1, 0, 1, false}}},
     "404",
     "GET /status/404 0: x=-",
     false,
     "404"},

    /* Pipelining: one write, answers in order. */
    {"two pipelined",
     0,
     0,
     ANSWER_NOW,
     {{S(GET("/1") GET("/2")), {2, 0, 2, false}}},
     "200 200",
     "GET /1 0: x=-|GET /2 0: x=-",
     false,
     "200 200"},
    {"three pipelined",
     0,
     0,
     ANSWER_NOW,
     {{S(GET("/1") "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz" GET("/3")),
       {3, 0, 3, false}}},
     "200 200 200",
     "GET /1 0: x=-|POST /2 3:xyz x=-|GET /3 0: x=-",
     false,
     "200 200 200"},
    {"two pipelined, answered later",
     0,
     0,
     ANSWER_LATER,
     {{S(GET("/1") GET("/2")), {2, 0, 2, false}}},
     "200 200",
     "GET /1 0: x=-|GET /2 0: x=-",
     false,
     "200 200"},
    {"three pipelined, answered later",
     0,
     0,
     ANSWER_LATER,
     {{S(GET("/1") "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz" GET("/status/201")),
       {3, 0, 3, false}}},
     "200 200 201",
     "GET /1 0: x=-|POST /2 3:xyz x=-|GET /status/201 0: x=-",
     false,
     "200 200 201"},
    {"pipelined, the second one split",
     0,
     0,
     ANSWER_LATER,
     {{S(GET("/1") "GET /2 HTT"), {1, 0, 1, false}}, {S("P/1.1\r\n\r\n"), {2, 0, 2, false}}},
     "200 200",
     "GET /1 0: x=-|GET /2 0: x=-",
     false,
     "200 200"},

    /* Keep-alive and closing. */
    {"keep-alive: two requests in two writes",
     0,
     0,
     ANSWER_NOW,
     {{S(GET("/1")), {1, 0, 1, false}}, {S(GET("/2")), {2, 0, 2, false}}},
     "200 200",
     "GET /1 0: x=-|GET /2 0: x=-",
     false,
     "200 200"},
    {"keep-alive: answered later, two writes",
     0,
     0,
     ANSWER_LATER,
     {{S(GET("/1")), {1, 0, 1, false}}, {S(GET("/2")), {2, 0, 2, false}}},
     "200 200",
     NULL,
     false,
     "200 200"},
    {"http/1.0 closes after the answer",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /old HTTP/1.0\r\n\r\n"), {1, 0, 1, false}}},
     "200c",
     "GET /old 0: x=-",
     true,
     "200"},
    {"http/1.0 answered later closes",
     0,
     0,
     ANSWER_LATER,
     {{S("GET /old HTTP/1.0\r\n\r\n"), {1, 0, 1, false}}},
     "200c",
     NULL,
     true,
     "200"},
    {"http/1.0 with keep-alive stays",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), {1, 0, 1, false}}},
     "200",
     NULL,
     false,
     "200"},
    {"connection: close closes, what follows is dropped",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n" GET("/2")), {1, 0, 1, false}}},
     "200c",
     "GET /1 0: x=-",
     true,
     "200"},
    {"connection: close answered later",
     0,
     0,
     ANSWER_LATER,
     {{S("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n" GET("/2")), {1, 0, 1, false}}},
     "200c",
     "GET /1 0: x=-",
     true,
     "200"},
    {"upgrade is answered, then closed",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
       {1, 0, 1, false}}},
     "200c",
     NULL,
     true,
     "200"},

    /* Limits. */
    {"content-length at max_body",
     0,
     16,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef"), {1, 0, 1, false}}},
     "200",
     "POST / 16:0123456789abcdef x=-",
     false,
     "200"},
    {"content-length over max_body",
     0,
     16,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), {1, 0, 0, false}}},
     "413c",
     "Content Too Large\n",
     true,
     "413"},
    {"a target with a bigger limit of its own (body_max: /big takes 32)",
     0,
     16,
     ANSWER_NOW,
     {{S("POST /big HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij"),
       {1, 0, 1, false}}},
     "200",
     "POST /big 20:0123456789abcdefghij x=-",
     false,
     "200"},
    {"a bigger limit of its own, passed",
     0,
     16,
     ANSWER_NOW,
     {{S("POST /big HTTP/1.1\r\nContent-Length: 33\r\n\r\n"), {1, 0, 0, false}}},
     "413c",
     "Content Too Large\n",
     true,
     "413"},
    {"content-length over max_body, answered later, after a good one",
     0,
     16,
     ANSWER_LATER,
     {{S(GET("/1") "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"), {2, 0, 1, false}}},
     "200 413c",
     NULL,
     true,
     "200 413"},
    {"chunked body passing max_body",
     0,
     8,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nTransfer-Encoding: "
         "chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n"),
       {1, 0, 0, false}}},
     "413c",
     NULL,
     true,
     "413"},
    {"headers over max_header",
     64,
     0,
     ANSWER_NOW,
     {{S("GET / HTTP/1.1\r\nX-Big: " LONG64 "\r\n\r\n"), {1, 0, 0, false}}},
     "431c",
     "Request Header Fields Too Large\n",
     true,
     "431"},
    {"many small headers over max_header",
     64,
     0,
     ANSWER_NOW,
     {{S("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\ng: 7\r\nh: 8\r\ni: "
         "9\r\nj: 10\r\nk: 11\r\n\r\n"),
       {1, 0, 0, false}}},
     "431c",
     NULL,
     true,
     "431"},
    {"url over max_header",
     64,
     0,
     ANSWER_NOW,
     {{S("GET /" LONG64 " HTTP/1.1\r\n\r\n"), {1, 0, 0, false}}},
     "414c",
     "URI Too Long\n",
     true,
     "414"},
    {"url over max_header, sent in pieces",
     64,
     0,
     ANSWER_NOW,
     {{S("GET /0123456789012345678901234567890"), {0, 0, 0, false}},
      {S("0123456789012345678901234567890123456789 HTTP/1.1\r\n\r\n"), {1, 0, 0, false}}},
     "414c",
     NULL,
     true,
     "414"},

    /* Requests that cannot be read. */
    {"garbage request line",
     0,
     0,
     ANSWER_NOW,
     {{S("HELLO WORLD\r\n\r\n"), {1, 0, 0, false}}},
     "400c",
     "Bad Request\n",
     true,
     "400"},
    {"bad content-length",
     0,
     0,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nab"), {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"two content-lengths",
     0,
     0,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"bad chunk size",
     0,
     0,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"),
       {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"header line without colon",
     0,
     0,
     ANSWER_NOW,
     {{S("GET / HTTP/1.1\r\nHost t\r\n\r\n"), {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"http/9.9",
     0,
     0,
     ANSWER_NOW,
     {{S("GET / HTTP/9.9\r\n\r\n"), {1, 0, 0, false}}},
     "505c",
     "HTTP Version Not Supported\n",
     true,
     "505"},
    {"content-length with chunked (smuggling)",
     0,
     0,
     ANSWER_NOW,
     {{S("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
       {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"nul in the path",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /a\0b HTTP/1.1\r\n\r\n"), {1, 0, 0, false}}},
     "400c",
     NULL,
     true,
     "400"},
    {"good, then garbage: answer then 400",
     0,
     0,
     ANSWER_LATER,
     {{S(GET("/1") "\x01\x02\x03\r\n\r\n"), {2, 0, 1, false}}},
     "200 400c",
     "GET /1 0: x=-|Bad Request\n",
     true,
     "200 400"},
    {"bytes after the error are dropped",
     0,
     0,
     ANSWER_NOW,
     {{S("BAD\r\n\r\n"), {1, 0, 0, false}}, {S(GET("/after")), {1, 0, 0, true}}},
     "400c",
     NULL,
     true,
     "400"},

    /* Expect: 100-continue. */
    {"expect: 100 continue before the body",
     0,
     0,
     ANSWER_NOW,
     {{S("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"),
       {0, 1, 0, false}},
      {S("hello"), {1, 1, 1, false}}},
     "100 200",
     "POST /e 5:hello x=-",
     false,
     "200"},
    {"expect with chunked body, answered later",
     0,
     0,
     ANSWER_LATER,
     {{S("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"),
       {0, 1, 0, false}},
      {S("2\r\nhi\r\n0\r\n\r\n"), {1, 1, 1, false}}},
     "100 200",
     "POST /e 2:hi x=-",
     false,
     "200"},
    {"expect over max_body: 413, no 100",
     0,
     16,
     ANSWER_NOW,
     {{S("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n"),
       {1, 0, 0, false}}},
     "413c",
     NULL,
     true,
     "413"},
    {"expect without a body: no 100",
     0,
     0,
     ANSWER_NOW,
     {{S("GET /e HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), {1, 0, 1, false}}},
     "200",
     NULL,
     false,
     "200"},

    /* HEAD. */
    {"head: the body's length, no body, then a get",
     0,
     0,
     ANSWER_NOW,
     {{S("HEAD /h HTTP/1.1\r\n\r\n" GET("/g")), {2, 0, 2, false}}},
     "200 200",
     "cl=14|GET /g 0: x=-",
     false,
     "200 200"},
    {"head answered later",
     0,
     0,
     ANSWER_LATER,
     {{S("HEAD /h HTTP/1.1\r\n\r\n" GET("/g")), {2, 0, 2, false}}},
     "200 200",
     "cl=14|GET /g 0: x=-",
     false,
     "200 200"},

    /* The client leaves before a held answer: 499 when the handler answers. */
    {"client closes while its request waits",
     0,
     0,
     ANSWER_HELD,
     {{S(GET("/wait")), {0, 0, 1, false}}},
     "",
     NULL,
     false,
     "499"},
    {"client closes while a request waits and another is queued",
     0,
     0,
     ANSWER_HELD,
     {{S(GET("/wait") GET("/queued")), {0, 0, 1, false}}},
     "",
     NULL,
     false,
     "499"},
};

/* http_opts.body_max: POST /big... takes 32 bytes, the rest max_body. */
static size_t
big_body(void *arg, const char *method, const char *target)
{
	(void)arg;
	return strcmp(method, "POST") == 0 && strncmp(target, "/big", 4) == 0 ? 32 : 0;
}

static void
run_case(const struct hcase *tc)
{
	struct env e;
	struct http_opts o = {
	    .max_header = tc->max_header, .max_body = tc->max_body, .body_max = big_body};
	env_start(&e, &o, tc->mode);
	struct client c = {.fd = client_connect(http_server_port(e.srv))};
	for (size_t i = 0; i < 3 && tc->steps[i].d; i++) {
		const struct step *st = &tc->steps[i];
		client_send(&c, st->d, st->n);
		char label[200];
		snprintf(label, sizeof(label), "%s (write %zu)", tc->label, i + 1);
		pump_want(&e, &c, st->w, label);
	}
	if (tc->closed) {
		struct want w = {.eof = true};
		pump_want(&e, &c, w, tc->label);
	} else {
		pump_passes(&e, &c, 1, SETTLE_PASSES);
		if (c.eof)
			fail_msg("%s: the server closed the connection (got \"%s\")", tc->label,
			         c.got);
		assert_int_equal(http_server_conns(e.srv), 1);
	}
	if (c.bad)
		fail_msg("%s: malformed answer: \"%.*s\"", tc->label, (int)c.len, c.in);
	if (strcmp(c.got, tc->got) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", tc->label, c.got, tc->got);
	if (tc->bodies && strcmp(c.bodies, tc->bodies) != 0)
		fail_msg("%s: got bodies \"%s\", want \"%s\"", tc->label, c.bodies, tc->bodies);
	env_finish(&e, &c, 1, tc->label);
	if (strcmp(e.ends, tc->ends) != 0)
		fail_msg("%s: on_end got \"%s\", want \"%s\"", tc->label, e.ends, tc->ends);
}

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* ---- deadline, connection limits, quiesce, close --------------------------------------------- */

static void
test_deadline(void **state)
{
	(void)state;
	struct env e;
	struct http_opts o = {.timeout = 1};
	env_start(&e, &o, ANSWER_NOW);
	struct client c[3] = {{.fd = -1}, {.fd = -1}, {.fd = -1}};
	/* Half a request, then nothing. */
	c[0].fd = client_connect(http_server_port(e.srv));
	client_send(&c[0], S("GET /half HTTP/1.1\r\nHost: t\r\n"));
	/* Connected, nothing sent. */
	c[1].fd = client_connect(http_server_port(e.srv));
	/* One answer, then idle on keep-alive. */
	c[2].fd = client_connect(http_server_port(e.srv));
	client_send(&c[2], S(GET("/one")));
	struct want w = {.finals = 1, .reqs = 1};
	pump_want(&e, &c[2], w, "deadline: the answered one");
	w = (struct want){.eof = true};
	for (int i = 0; i < 3; i++) {
		char label[64];
		snprintf(label, sizeof(label), "deadline: client %d closed", i);
		pump_want(&e, &c[i], w, label);
	}
	assert_string_equal(c[0].got, "");
	assert_int_equal(c[0].len, 0);
	assert_int_equal(c[1].len, 0);
	assert_string_equal(c[2].got, "200");
	env_finish(&e, c, 3, "deadline");
	assert_string_equal(e.ends, "200");
}

static bool
pred_eof2(struct env *e, void *ctx)
{
	(void)e;
	struct client *c = ctx;
	return c->eof;
}

static void
limit_case(const char *label, const struct http_opts *o, unsigned allowed)
{
	struct env e;
	env_start(&e, o, ANSWER_NOW);
	struct client c[MAX_CLIENTS];
	assert_true(allowed < MAX_CLIENTS);
	for (unsigned i = 0; i <= allowed; i++) {
		c[i] = (struct client){.fd = client_connect(http_server_port(e.srv))};
		/* Accepted one by one, so which one is refused is known. */
		size_t want = i + 1;
		if (i < allowed && !pump_until(&e, c, i + 1, pred_conns, &want))
			fail_msg("%s: connection %u not accepted", label, i);
	}
	if (!pump_until(&e, c, allowed + 1, pred_eof2, &c[allowed]))
		fail_msg("%s: connection %u over the limit not closed", label, allowed);
	assert_int_equal(c[allowed].len, 0);
	for (unsigned i = 0; i < allowed; i++) {
		assert_false(c[i].eof);
		client_send(&c[i], S(GET("/ok")));
		struct want w = {.finals = 1};
		pump_want(&e, &c[i], w, label);
		assert_string_equal(c[i].got, "200");
	}
	env_finish(&e, c, allowed + 1, label);
	assert_string_equal(e.ends, allowed == 2 ? "200 200" : "200");
}

static void
test_conn_limits(void **state)
{
	(void)state;
	struct http_opts per_ip = {.max_conns_per_ip = 2};
	limit_case("max_conns_per_ip 2", &per_ip, 2);
	struct http_opts all = {.max_conns = 1};
	limit_case("max_conns 1", &all, 1);
}

/*
 * One address floods (more connections than its cap, all queued at once, so
 * the refused ones are still closing when the next is accepted); another
 * address within its own cap is served. Refused connections hold no slot of
 * the global cap, yet the global cap still binds across addresses.
 */
static void
test_flood_other_addr(void **state)
{
	(void)state;
	enum { FLOOD = 6, PER_IP = 2, ALL = 4 };
	struct env e;
	struct http_opts o = {.max_conns = ALL, .max_conns_per_ip = PER_IP};
	env_start(&e, &o, ANSWER_NOW);
	unsigned port = http_server_port(e.srv);
	struct client c[FLOOD + 3];
	/* All in the accept queue before the loop runs: one accept pass takes them in order. */
	for (int i = 0; i < FLOOD; i++)
		c[i] = (struct client){.fd = client_connect_from(port, "127.0.0.1")};
	struct client *other = &c[FLOOD];
	*other = (struct client){.fd = client_connect_from(port, "127.0.0.2")};
	client_send(other, S(GET("/other")));
	struct want w = {.finals = 1};
	pump_want(&e, other, w, "flood: the other address");
	if (strcmp(other->got, "200") != 0)
		fail_msg("flood: the other address got \"%s\" (closed %d), want \"200\"",
		         other->got, other->eof);
	/* The flood's first PER_IP are served, the rest were closed unanswered. */
	for (int i = 0; i < FLOOD; i++) {
		char label[64];
		snprintf(label, sizeof(label), "flood: connection %d", i);
		if (i < PER_IP) {
			client_send(&c[i], S(GET("/flood")));
			w = (struct want){.finals = 1};
		} else {
			w = (struct want){.eof = true};
		}
		pump_want(&e, &c[i], w, label);
		if (strcmp(c[i].got, i < PER_IP ? "200" : "") != 0 || (i >= PER_IP && c[i].len))
			fail_msg("%s: got \"%s\", want \"%s\"", label, c[i].got,
			         i < PER_IP ? "200" : "");
	}
	/* A second from 127.0.0.2 fills the pool (2 + 2 = ALL): a third address is refused. */
	c[FLOOD + 1] = (struct client){.fd = client_connect_from(port, "127.0.0.2")};
	size_t want = ALL;
	if (!pump_until(&e, &c[FLOOD + 1], 1, pred_conns, &want))
		fail_msg("flood: %zu connections, want %d", http_server_conns(e.srv), ALL);
	c[FLOOD + 2] = (struct client){.fd = client_connect_from(port, "127.0.0.3")};
	w = (struct want){.eof = true};
	pump_want(&e, &c[FLOOD + 2], w, "flood: a third address over the global cap");
	assert_int_equal(c[FLOOD + 2].len, 0);
	assert_false(c[FLOOD + 1].eof);
	env_finish(&e, c, FLOOD + 3, "flood");
	assert_string_equal(e.ends, "200 200 200");
}

/*
 * Only --max-connections given: the per-address cap follows it (a quarter),
 * so one address cannot take every connection and leave none for others.
 */
static void
test_per_ip_default(void **state)
{
	(void)state;
	struct env e;
	struct http_opts o = {.max_conns = 2};
	env_start(&e, &o, ANSWER_NOW);
	unsigned port = http_server_port(e.srv);
	struct client c[3];
	c[0] = (struct client){.fd = client_connect_from(port, "127.0.0.1")};
	c[1] = (struct client){.fd = client_connect_from(port, "127.0.0.1")};
	c[2] = (struct client){.fd = client_connect_from(port, "127.0.0.2")};
	client_send(&c[2], S(GET("/other")));
	struct want w = {.finals = 1};
	pump_want(&e, &c[2], w, "per-ip default: the other address");
	if (strcmp(c[2].got, "200") != 0)
		fail_msg("per-ip default: the other address got \"%s\" (closed %d), want \"200\"",
		         c[2].got, c[2].eof);
	w = (struct want){.eof = true};
	pump_want(&e, &c[1], w, "per-ip default: the second from one address refused");
	assert_int_equal(c[1].len, 0);
	client_send(&c[0], S(GET("/first")));
	w = (struct want){.finals = 1};
	pump_want(&e, &c[0], w, "per-ip default: the first from one address");
	assert_string_equal(c[0].got, "200");
	env_finish(&e, c, 3, "per-ip default");
	assert_string_equal(e.ends, "200 200");
}

static void
test_quiesce(void **state)
{
	(void)state;
	struct env e;
	struct http_opts o = {0};
	env_start(&e, &o, ANSWER_HELD);
	unsigned port = http_server_port(e.srv);
	struct client c[3] = {{.fd = -1}, {.fd = -1}, {.fd = -1}};
	c[0].fd = client_connect(port); /* idle */
	c[1].fd = client_connect(port); /* a request waiting */
	c[2].fd = client_connect(port); /* answered, then idle */
	size_t want = 3;
	assert_true(pump_until(&e, c, 3, pred_conns, &want));
	client_send(&c[2], S(GET("/first")));
	struct want w = {.reqs = 1};
	pump_want(&e, &c[2], w, "quiesce: first request");
	answer(&e, e.held[0]);
	e.nheld = 0;
	w = (struct want){.finals = 1, .reqs = 1};
	pump_want(&e, &c[2], w, "quiesce: first answer");
	client_send(&c[1], S(GET("/wait")));
	w = (struct want){.reqs = 2};
	pump_want(&e, &c[1], w, "quiesce: the waiting request");
	assert_int_equal(http_server_waiting(e.srv), 1);

	http_server_quiesce(e.srv);
	/* Idle ones close now; the waiting one stays. */
	w = (struct want){.eof = true};
	pump_want(&e, &c[0], w, "quiesce: idle connection closed");
	pump_want(&e, &c[2], w, "quiesce: idle keep-alive connection closed");
	assert_string_equal(c[2].got, "200");
	pump_passes(&e, c, 3, SETTLE_PASSES);
	assert_false(c[1].eof);
	/* No new connections. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	close(fd);
	/* The waiting one gets its answer with Connection: close, then the server closes. */
	answer(&e, e.held[0]);
	e.nheld = 0;
	pump_want(&e, &c[1], w, "quiesce: answered connection closed");
	assert_string_equal(c[1].got, "200c");
	assert_string_equal(c[1].bodies, "GET /wait 0: x=-");
	env_finish(&e, c, 3, "quiesce");
	assert_string_equal(e.ends, "200 200");
}

/* http_server_close with connections open (idle and half a request): all closed, on_closed. */
static void
test_close_open(void **state)
{
	(void)state;
	struct env e;
	struct http_opts o = {0};
	env_start(&e, &o, ANSWER_NOW);
	struct client c[2] = {{.fd = client_connect(http_server_port(e.srv))},
	                      {.fd = client_connect(http_server_port(e.srv))}};
	client_send(&c[1], S("GET /half HTTP/1.1\r\n"));
	size_t want = 2;
	assert_true(pump_until(&e, c, 2, pred_conns, &want));
	pump_passes(&e, c, 2, 3);
	http_server_close(e.srv, on_closed, &e);
	if (!pump_until(&e, c, 2, pred_closed, NULL))
		fail_msg("close: on_closed not called");
	struct one o0 = {&c[0], &(struct want){.eof = true}};
	struct one o1 = {&c[1], &(struct want){.eof = true}};
	assert_true(pump_until(&e, c, 2, pred_one, &o0));
	assert_true(pump_until(&e, c, 2, pred_one, &o1));
	client_close(&c[0]);
	client_close(&c[1]);
	assert_int_equal(uv_loop_close(&e.loop), 0);
	free(c[0].in);
	free(c[1].in);
	assert_string_equal(e.ends, "");
}

/*
 * A client that half-closes (shutdown of its sending side) after its requests
 * still gets the whole answers, even ones too big for the socket buffers.
 */
static const struct {
	const char *label, *req, *got;
} half_close_cases[] = {
    {"half-close after a get", GET("/big"), "200"},
    {"half-close after an http/1.0 get", "GET /big HTTP/1.0\r\n\r\n", "200c"},
    {"half-close after two pipelined gets", GET("/big1") GET("/big2"), "200 200"},
};

static void
test_half_close_big_answer(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(half_close_cases) / sizeof(half_close_cases[0]); i++) {
		const char *label = half_close_cases[i].label;
		struct env e;
		struct http_opts o = {0};
		env_start(&e, &o, ANSWER_NOW);
		e.big = 8u << 20;
		struct client c = {.fd = client_connect(http_server_port(e.srv))};
		client_send(&c, half_close_cases[i].req, strlen(half_close_cases[i].req));
		assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
		struct want w = {.eof = true};
		pump_want(&e, &c, w, label);
		if (c.bad || strcmp(c.got, half_close_cases[i].got) != 0)
			fail_msg(
			    "%s, 8 MB answers: got \"%s\" (%zu bytes read), want \"%s\" with the "
			    "whole bodies",
			    label, c.got, c.len, half_close_cases[i].got);
		env_finish(&e, &c, 1, label);
		assert_string_equal(e.ends,
		                    strchr(half_close_cases[i].got, ' ') ? "200 200" : "200");
	}
}

/*
 * A client that pipelines many requests and does not read: the server stops
 * taking requests while its answers wait in the socket (it must not queue
 * every answer in memory), and answers all of them once the client reads.
 */
static void
test_pipeline_backpressure(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct env e;
	struct http_opts o = {0};
	env_start(&e, &o, ANSWER_NOW);
	e.big = 64u << 10; /* N answers: 64 MB */
	struct client c = {.fd = client_connect(http_server_port(e.srv))};
	static const char req[] = GET("/p");
	char *all = malloc(N * (sizeof(req) - 1));
	assert_non_null(all);
	for (size_t i = 0; i < N; i++)
		memcpy(all + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	client_send(&c, all, N * (sizeof(req) - 1));
	free(all);
	/* The loop, without the client reading. */
	for (int i = 0; i < 200; i++) {
		uv_run(&e.loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	if (e.nreq >= N)
		fail_msg("backpressure: all %u requests taken while the client read nothing",
		         e.nreq);
	struct want w = {.finals = N, .reqs = N};
	pump_want(&e, &c, w, "backpressure: all answers once the client reads");
	assert_false(c.bad);
	assert_int_equal(c.finals, N);
	env_finish(&e, &c, 1, "backpressure");
}

/*
 * The client sends a request with Expect: 100-continue and its body, then
 * resets the connection before the server reads: writing the 100 fails while
 * the request is being parsed. The handler holds what it gets (if anything)
 * and answers after; nothing may touch freed memory (ASan) and the server's
 * counters come back to 0.
 */
static void
test_reset_during_expect(void **state)
{
	(void)state;
	static const enum mode modes[] = {ANSWER_HELD, ANSWER_LATER, ANSWER_NOW};
	for (size_t m = 0; m < 3; m++) {
		struct env e;
		struct http_opts o = {0};
		env_start(&e, &o, modes[m]);
		struct client c = {.fd = client_connect(http_server_port(e.srv))};
		size_t want = 1;
		assert_true(pump_until(&e, &c, 1, pred_conns, &want));
		client_send(&c, S("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: "
		                  "2\r\n\r\nhi"));
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		assert_int_equal(setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
		client_close(&c); /* RST */
		pump_passes(&e, &c, 1, 5);
		env_finish(&e, &c, 1, "reset during expect");
		/* Either the request never reached the handler or it ended as 499. */
		if (e.nreq == 0)
			assert_string_equal(e.ends, "");
		else if (strcmp(e.ends, "499") != 0 && strcmp(e.ends, "200") != 0)
			fail_msg("reset during expect: on_end \"%s\"", e.ends);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_conn_limits),
	    cmocka_unit_test(test_flood_other_addr),
	    cmocka_unit_test(test_per_ip_default),
	    cmocka_unit_test(test_quiesce),
	    cmocka_unit_test(test_close_open),
	    cmocka_unit_test(test_half_close_big_answer),
	    cmocka_unit_test(test_pipeline_backpressure),
	    cmocka_unit_test(test_reset_during_expect),
	    cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
