/*
 * http - a small HTTP/1.1 server on a libuv loop (see http.h).
 *
 * One struct http_conn per client. Bytes are parsed straight from the read
 * buffer; the parser pauses at the end of each request (on_message_complete
 * returns HPE_PAUSED), the request goes to on_request, and whatever the
 * client sent after it (a pipelined request) waits in conn->in until the
 * answer is written. A connection that is to close after an answer shuts down
 * its sending side and reads (and drops) what the client still sends until
 * the client closes, so the client sees the answer rather than a reset.
 */
#include "kirim/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <llhttp.h>

#include "kirim/buf.h"
#include "kirim/sockaddr.h"
#include "kirim/xmalloc.h"

enum {
	READ_BUF = 64 * 1024,
	PIPELINE_SLACK = 4096, /* bytes beyond one request kept while a request waits */
};

struct hdr {
	size_t name, value; /* offsets into conn->hb, each NUL-terminated */
};

struct http_conn {
	struct http_conn *prev, *next;
	struct http_server *srv;
	uv_tcp_t tcp;
	llhttp_t p;
	struct sockaddr_storage peer;
	uint64_t since; /* accept, or the end of the last answer (ns) */
	/* The request being read. */
	struct buf target, hb, body;
	struct hdr *hdrs;
	size_t nhdrs, hdrs_cap;
	bool in_field, value_open;
	size_t head_bytes;
	int fail;        /* the answer when parsing stops: 413, 414, 431 */
	size_t body_max; /* this request's body limit (http_opts.body_max) */
	bool complete;   /* a whole request was parsed: to dispatch */
	bool keep_alive;
	/* The request handed to on_request, until http_respond. */
	struct http_req *cur;
	bool in_handler;
	/* Bytes read and not parsed yet. */
	struct buf in;
	size_t in_off;
	unsigned writes; /* uv_write requests in flight */
	bool reading, close_after, shut, closing, dead;
	bool eof; /* the client sent EOF while an answer was still being written */
};

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t sweep;
	struct http_opts o;
	unsigned port;
	struct http_conn *conns; /* admitted connections, closing ones too */
	size_t nconns, waiting;
	/*
	 * Admitted and not closing: what max_conns bounds. A connection refused at
	 * accept is never admitted: under a flood from one address its refused
	 * connections, closing in the same loop pass, would otherwise fill the
	 * pool and shut every other client out.
	 */
	size_t live;
	unsigned handles; /* open: listener, sweep timer, connections */
	bool listening, quiescing, closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
	llhttp_settings_t settings;
	char date[40];
	time_t date_at;
	struct buf out;
	char rbuf[READ_BUF];
};

struct wreq {
	uv_write_t w;
	struct http_conn *c;
	char data[];
};

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c);
static void conn_resume(struct http_conn *c);
static void conn_fail(struct http_conn *c, int status);

/* A request with the handler, or an answer still queued: the next request waits in c->in. */
static bool
conn_busy(const struct http_conn *c)
{
	return c->cur || c->writes > 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 428:
		return "Precondition Required";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static const char *
date_now(struct http_server *s)
{
	time_t t = time(NULL);
	if (t != s->date_at) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		s->date_at = t;
	}
	return s->date;
}

/* ---- closing ---------------------------------------------------------------------------- */

static void
server_handle_closed(struct http_server *s)
{
	if (--s->handles == 0 && s->closing) {
		void (*cb)(void *) = s->on_closed;
		void *arg = s->closed_arg;
		buf_free(&s->out);
		free(s);
		if (cb)
			cb(arg);
	}
}

static void
on_conn_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	buf_free(&c->target);
	buf_free(&c->hb);
	buf_free(&c->body);
	buf_free(&c->in);
	free(c->hdrs);
	free(c);
	server_handle_closed(s);
}

/* Close c now; a connection whose request is with the handler closes when it is answered. */
static void
conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->srv->live--;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	if (c->cur) {
		c->dead = true;
		return;
	}
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

/* After the last answer: stop sending, drop what the client still sends until it closes. */
static void
conn_finish(struct http_conn *c)
{
	if (c->shut || c->closing)
		return;
	if (c->eof) {
		conn_close(c); /* the client half-closed: nothing more to wait for */
		return;
	}
	c->shut = true;
	c->since = uv_hrtime();
	uv_shutdown_t *req = xmalloc(sizeof(*req));
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		free(req);
		conn_close(c);
	}
}

/* ---- writing ---------------------------------------------------------------------------- */

static void
on_written(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct http_conn *c = wr->c;
	free(wr);
	c->writes--;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->writes > 0 || c->cur)
		return;
	if (c->close_after)
		conn_finish(c);
	else
		conn_resume(c); /* the queue drained: parse what waits, read again */
}

/* Write n bytes: at once when nothing is queued, the rest (or all) through uv_write. */
static void
conn_write(struct http_conn *c, const char *data, size_t n)
{
	if (c->closing || c->shut)
		return;
	size_t off = 0;
	if (c->writes == 0) {
		uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)n);
		int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (w < 0 && w != UV_EAGAIN) {
			conn_close(c);
			return;
		}
		if (w > 0)
			off = (size_t)w;
	}
	if (off == n)
		return;
	struct wreq *wr = xmalloc(sizeof(*wr) + n - off);
	memcpy(wr->data, data + off, n - off);
	wr->c = c;
	uv_buf_t b = uv_buf_init(wr->data, (unsigned)(n - off));
	if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
		free(wr);
		conn_close(c);
		return;
	}
	c->writes++;
}

/* The answer's head into s->out: no printf, this runs once per request. */
static void
response_head(struct http_server *s, int status, const char *headers, size_t len, bool close,
              bool keep10)
{
	char num[24];
	int n = 0;
	buf_reset(&s->out);
	buf_adds(&s->out, "HTTP/1.1 ");
	num[n++] = (char)('0' + status / 100 % 10);
	num[n++] = (char)('0' + status / 10 % 10);
	num[n++] = (char)('0' + status % 10);
	buf_add(&s->out, num, (size_t)n);
	buf_addc(&s->out, ' ');
	buf_adds(&s->out, reason(status));
	buf_adds(&s->out, "\r\nDate: ");
	buf_adds(&s->out, date_now(s));
	buf_adds(&s->out, "\r\nContent-Length: ");
	n = sizeof(num);
	do {
		num[--n] = (char)('0' + len % 10);
		len /= 10;
	} while (len);
	buf_add(&s->out, num + n, sizeof(num) - (size_t)n);
	buf_adds(&s->out, "\r\n");
	if (headers)
		buf_adds(&s->out, headers);
	if (close)
		buf_adds(&s->out, "Connection: close\r\n");
	else if (keep10)
		buf_adds(&s->out, "Connection: keep-alive\r\n"); /* HTTP/1.0 closes without it */
	buf_adds(&s->out, "\r\n");
}

/* ---- the parser's callbacks ------------------------------------------------------------ */

static bool
head_grow(struct http_conn *c, size_t n, int status)
{
	c->head_bytes += n;
	if (c->head_bytes > c->srv->o.max_header) {
		c->fail = status;
		return false;
	}
	return true;
}

static int
on_begin(llhttp_t *p)
{
	struct http_conn *c = p->data;
	buf_reset(&c->target);
	buf_reset(&c->hb);
	buf_reset(&c->body);
	c->nhdrs = 0;
	c->in_field = c->value_open = false;
	c->head_bytes = 0;
	c->fail = 0;
	return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (!head_grow(c, n, 414))
		return HPE_USER;
	buf_add(&c->target, at, n);
	return 0;
}

static void
value_close(struct http_conn *c)
{
	if (c->value_open) {
		buf_addc(&c->hb, '\0');
		c->value_open = false;
	}
}

static int
on_field(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (!head_grow(c, n + 4, 431)) /* + ": " and CRLF */
		return HPE_USER;
	if (!c->in_field) {
		value_close(c);
		if (c->nhdrs == c->hdrs_cap) {
			c->hdrs_cap = c->hdrs_cap ? 2 * c->hdrs_cap : 16;
			c->hdrs = xrealloc(c->hdrs, c->hdrs_cap * sizeof(*c->hdrs));
		}
		c->hdrs[c->nhdrs].name = c->hb.len;
		c->hdrs[c->nhdrs].value = SIZE_MAX;
		c->nhdrs++;
		c->in_field = true;
	}
	buf_add(&c->hb, at, n);
	return 0;
}

static int
on_field_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;
	if (c->in_field) {
		buf_addc(&c->hb, '\0');
		c->in_field = false;
		c->hdrs[c->nhdrs - 1].value = c->hb.len;
		c->value_open = true;
	}
	return 0;
}

static int
on_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (!head_grow(c, n, 431))
		return HPE_USER;
	if (c->value_open)
		buf_add(&c->hb, at, n);
	return 0;
}

static int
on_value_complete(llhttp_t *p)
{
	value_close(p->data);
	return 0;
}

static const char *cstr(struct buf *b);

static bool
header_is(const char *v, const char *want)
{
	return v && strcasecmp(v, want) == 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;
	value_close(c);
	c->body_max = 0;
	if (c->srv->o.body_max)
		c->body_max = c->srv->o.body_max(c->srv->o.arg,
		                                 llhttp_method_name((llhttp_method_t)p->method),
		                                 cstr(&c->target));
	if (c->body_max == 0)
		c->body_max = c->srv->o.max_body;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->body_max) {
		c->fail = 413;
		return -1;
	}
	struct http_req probe = {.conn = c};
	if (header_is(http_header(&probe, "Expect"), "100-continue") &&
	    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		conn_write(c, cont, sizeof(cont) - 1);
		if (c->closing)
			return -1; /* the write failed: the client is gone */
	}
	return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	if (c->body.len + n > c->body_max) {
		c->fail = 413;
		return HPE_USER;
	}
	buf_add(&c->body, at, n);
	return 0;
}

static int
on_complete(llhttp_t *p)
{
	struct http_conn *c = p->data;
	c->complete = true;
	c->keep_alive = llhttp_should_keep_alive(p) != 0;
	return HPE_PAUSED;
}

/* ---- requests --------------------------------------------------------------------------- */

/* A NUL-terminated copy point for b (its data stays b's). */
static const char *
cstr(struct buf *b)
{
	buf_addc(b, '\0');
	b->len--;
	return b->data;
}

static struct http_req *
req_new(struct http_conn *c)
{
	struct http_req *r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->method = llhttp_method_name((llhttp_method_t)c->p.method);
	r->target = cstr(&c->target);
	r->target_len = c->target.len;
	r->body = cstr(&c->body);
	r->body_len = c->body.len;
	r->head = c->p.method == HTTP_HEAD;
	r->peer = (const struct sockaddr *)&c->peer;
	r->keep_alive = c->keep_alive;
	r->http10 = c->p.http_major == 1 && c->p.http_minor == 0;
	return r;
}

/* Hand the parsed request to the handler. */
static void
dispatch(struct http_conn *c)
{
	struct http_server *s = c->srv;
	c->complete = false;
	if (llhttp_get_upgrade(&c->p))
		c->keep_alive = false; /* no protocol switches here: answer, then close */
	c->cur = req_new(c);
	s->waiting++;
	c->in_handler = true;
	s->o.on_request(s->o.arg, c->cur);
	c->in_handler = false;
	if (c->cur == NULL && !c->closing)
		llhttp_resume(&c->p);
}

/*
 * Parse n bytes at d until a request is complete (then it is dispatched) or
 * the bytes run out. Returns the bytes used, or SIZE_MAX when the connection
 * failed (answered and closing).
 */
static size_t
feed(struct http_conn *c, const char *d, size_t n)
{
	llhttp_errno_t e = llhttp_execute(&c->p, d, n);
	if (c->closing) {
		c->complete = false; /* a write failed in a callback: nothing more to dispatch */
		return SIZE_MAX;
	}
	if (e == HPE_OK)
		return n;
	if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
		size_t used = (size_t)(llhttp_get_error_pos(&c->p) - d);
		if (c->complete)
			dispatch(c);
		return used;
	}
	int status = c->fail ? c->fail : e == HPE_INVALID_VERSION ? 505 : 400;
	conn_fail(c, status);
	return SIZE_MAX;
}

/*
 * Parse n bytes at d request after request while the connection is free (no
 * request with the handler, no answer queued, not closing): the bytes used,
 * or SIZE_MAX when the connection failed.
 */
static size_t
feed_all(struct http_conn *c, const char *d, size_t n)
{
	size_t off = 0;
	while (off < n && !conn_busy(c) && !c->closing && !c->shut) {
		size_t used = feed(c, d + off, n - off);
		if (used == SIZE_MAX)
			return SIZE_MAX;
		off += used;
	}
	return off;
}

/* Parse what waits in c->in, request after request, while nothing is with the handler. */
static void
conn_process(struct http_conn *c)
{
	if (c->in_off < c->in.len) { /* else c->in.data may be NULL */
		size_t used = feed_all(c, c->in.data + c->in_off, c->in.len - c->in_off);
		if (used == SIZE_MAX)
			return;
		c->in_off += used;
	}
	if (c->in_off == c->in.len) {
		buf_reset(&c->in);
		c->in_off = 0;
	}
}

static void
conn_keep(struct http_conn *c, const char *d, size_t n)
{
	if (c->in_off > 0) { /* drop what was parsed: a steady pipeline never empties c->in */
		memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	buf_add(&c->in, d, n);
	/* A client that sends far ahead of its answers waits (TCP pushes back). */
	struct http_server *s = c->srv;
	if (conn_busy(c) && c->reading &&
	    c->in.len - c->in_off > s->o.max_header + s->o.max_body + PIPELINE_SLACK) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void
on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct http_conn *c = h->data;
	(void)want;
	*b = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct http_conn *c = st->data;
	if (n < 0) {
		if (n == UV_EOF && c->writes > 0 && !c->cur && !c->closing) {
			/* A half-close: the queued answers are still written, then it closes. */
			c->eof = true;
			c->reading = false;
			return;
		}
		conn_close(c);
		return;
	}
	if (n == 0 || c->shut || c->closing)
		return; /* after the last answer the client's bytes are dropped */
	const char *d = b->base;
	size_t len = (size_t)n;
	if (conn_busy(c) || c->in_off < c->in.len) {
		conn_keep(c, d, len);
		conn_process(c);
		return;
	}
	/* Straight from the read buffer; only what follows a dispatched request is copied. */
	size_t off = feed_all(c, d, len);
	if (off == SIZE_MAX)
		return;
	if (off < len && !c->closing && !c->shut)
		conn_keep(c, d + off, len - off);
}

/* An answer of the server's own: the request could not be read. */
static void
conn_fail(struct http_conn *c, int status)
{
	struct http_server *s = c->srv;
	char body[64];
	int bl = snprintf(body, sizeof(body), "%s\n", reason(status));
	c->close_after = true;
	response_head(s, status, "Content-Type: text/plain; charset=utf-8\r\n", (size_t)bl, true,
	              false);
	buf_add(&s->out, body, (size_t)bl);
	conn_write(c, s->out.data, s->out.len);
	struct http_req r = {
	    .method = c->p.method ? llhttp_method_name((llhttp_method_t)c->p.method) : "-",
	    .target = "",
	    .peer = (const struct sockaddr *)&c->peer,
	    .conn = c,
	};
	if (s->o.on_end)
		s->o.on_end(s->o.arg, &r, status);
	if (c->writes == 0)
		conn_finish(c);
}

/* http_respond - write r's answer; parse the next request if one waits */
void
http_respond(struct http_req *r, int status, const char *headers, const void *body, size_t len)
{
	struct http_conn *c = r->conn;
	struct http_server *s = c->srv;
	s->waiting--;
	if (!c->dead) {
		if (!r->keep_alive || s->quiescing)
			c->close_after = true;
		response_head(s, status, headers, len, c->close_after, r->http10);
		if (!r->head && len)
			buf_add(&s->out, body, len);
		conn_write(c, s->out.data, s->out.len);
	}
	if (s->o.on_end)
		s->o.on_end(s->o.arg, r, c->dead ? 499 : status);
	free(r);
	c->cur = NULL;
	c->since = uv_hrtime();
	if (c->dead) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	if (c->close_after) {
		if (c->writes == 0)
			conn_finish(c);
		return;
	}
	if (c->in_handler)
		return; /* dispatch resumes the parser and the read loop goes on */
	llhttp_resume(&c->p);
	conn_resume(c);
}

/* Parse what waits; read again unless much waits behind a busy request (or the client ended). */
static void
conn_resume(struct http_conn *c)
{
	struct http_server *s = c->srv;
	conn_process(c);
	if (c->closing || c->shut)
		return;
	if (c->eof) {
		if (!conn_busy(c))
			conn_close(c); /* the client half-closed and every answer is out */
		return;
	}
	if (!c->reading &&
	    !(conn_busy(c) &&
	      c->in.len - c->in_off > s->o.max_header + s->o.max_body + PIPELINE_SLACK) &&
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

/* http_header - the first value of header name, or NULL */
const char *
http_header(const struct http_req *r, const char *name)
{
	const struct http_conn *c = r->conn;
	for (size_t i = 0; i < c->nhdrs; i++) {
		if (c->hdrs[i].value == SIZE_MAX)
			continue;
		if (strcasecmp(c->hb.data + c->hdrs[i].name, name) == 0)
			return c->hb.data + c->hdrs[i].value;
	}
	return NULL;
}

/* http_header_last - the last value of header name, or NULL */
const char *
http_header_last(const struct http_req *r, const char *name)
{
	const struct http_conn *c = r->conn;
	for (size_t i = c->nhdrs; i-- > 0;) {
		if (c->hdrs[i].value == SIZE_MAX)
			continue;
		if (strcasecmp(c->hb.data + c->hdrs[i].name, name) == 0)
			return c->hb.data + c->hdrs[i].value;
	}
	return NULL;
}

/* ---- accepting and the deadline --------------------------------------------------------- */

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
	return false;
}

/* Room for c (not admitted yet): under the global cap, and its address under its own. */
static bool
conn_allowed(struct http_server *s, const struct http_conn *c)
{
	if (s->live >= s->o.max_conns)
		return false;
	unsigned same = 0;
	for (struct http_conn *o = s->conns; o; o = o->next)
		if (!o->closing && same_ip(&o->peer, &c->peer) && ++same >= s->o.max_conns_per_ip)
			return false;
	return true;
}

static void
on_refused_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct http_server *s = c->srv;
	free(c);
	server_handle_closed(s);
}

static void
on_connection(uv_stream_t *l, int status)
{
	struct http_server *s = l->data;
	if (status < 0 || s->quiescing)
		return;
	struct http_conn *c = xcalloc(1, sizeof(*c));
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	s->handles++;
	int len = sizeof(c->peer);
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 ||
	    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) < 0 ||
	    !conn_allowed(s, c)) {
		/* Refused: closed unread, outside the list and the counts (see s->live). */
		uv_close((uv_handle_t *)&c->tcp, on_refused_closed);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->live++;
	c->since = uv_hrtime();
	uv_tcp_nodelay(&c->tcp, 1);
	llhttp_init(&c->p, HTTP_REQUEST, &s->settings);
	c->p.data = c;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* A connection that has not sent a whole request within the timeout (or sat idle) closes. */
static void
on_sweep(uv_timer_t *t)
{
	struct http_server *s = t->data;
	uint64_t now = uv_hrtime(), limit = (uint64_t)s->o.timeout * 1000000000u;
	for (struct http_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (!c->cur && !c->closing && now - c->since > limit)
			conn_close(c);
	}
}

static void
on_handle_closed(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

/* http_server_new - listen on sa */
struct http_server *
http_server_new(uv_loop_t *loop, const struct sockaddr *sa, const struct http_opts *o, char *err,
                size_t errsz)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->o = *o;
	if (!s->o.max_header)
		s->o.max_header = 8192;
	if (!s->o.max_body)
		s->o.max_body = 4096;
	if (!s->o.timeout)
		s->o.timeout = 10;
	if (!s->o.max_conns)
		s->o.max_conns = 1024;
	/*
	 * One address gets at most a quarter of the pool by default (256 of the
	 * default 1024), so that a flood from one address leaves room for the
	 * others however small max_conns is made. More than the pool
	 * means the pool.
	 */
	if (!s->o.max_conns_per_ip) {
		unsigned q = s->o.max_conns / 4;
		s->o.max_conns_per_ip = q == 0 ? 1 : q < 256 ? q : 256;
	}
	if (s->o.max_conns_per_ip > s->o.max_conns)
		s->o.max_conns_per_ip = s->o.max_conns;
	llhttp_settings_init(&s->settings);
	s->settings.on_message_begin = on_begin;
	s->settings.on_url = on_url;
	s->settings.on_header_field = on_field;
	s->settings.on_header_field_complete = on_field_complete;
	s->settings.on_header_value = on_value;
	s->settings.on_header_value_complete = on_value_complete;
	s->settings.on_headers_complete = on_headers_complete;
	s->settings.on_body = on_body;
	s->settings.on_message_complete = on_complete;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	s->handles = 1;
	int rc = uv_tcp_bind(&s->listener, sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
	if (rc < 0) {
		snprintf(err, errsz, "%s", uv_strerror(rc));
		s->closing = true;
		uv_close((uv_handle_t *)&s->listener, on_handle_closed);
		return NULL; /* freed when the loop runs the close */
	}
	s->listening = true;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) == 0)
		s->port = sockaddr_port((const struct sockaddr *)&bound);
	uv_timer_init(loop, &s->sweep);
	s->sweep.data = s;
	s->handles++;
	uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
	return s;
}

unsigned
http_server_port(const struct http_server *s)
{
	return s->port;
}

size_t
http_server_conns(const struct http_server *s)
{
	return s->nconns;
}

size_t
http_server_waiting(const struct http_server *s)
{
	return s->waiting;
}

/* http_server_quiesce - no new connections; idle ones close, busy ones after their answer */
void
http_server_quiesce(struct http_server *s)
{
	if (s->quiescing)
		return;
	s->quiescing = true;
	s->o.timeout = 1; /* what is left half-sent is not waited for */
	if (s->listening) {
		s->listening = false;
		uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	}
	for (struct http_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->cur || c->writes > 0)
			c->close_after = true; /* closes once its answer is out */
		else
			conn_close(c);
	}
}

/* http_server_close - close everything; on_closed when done */
void
http_server_close(struct http_server *s, void (*on_closed)(void *arg), void *arg)
{
	s->on_closed = on_closed;
	s->closed_arg = arg;
	s->closing = true;
	s->quiescing = true;
	if (s->listening) {
		s->listening = false;
		uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	}
	uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
	for (struct http_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_close(c);
	}
}
