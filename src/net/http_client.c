/*
 * http_client - one HTTP or HTTPS request (see http_client.h).
 *
 * States follow the request: the look-up (dns_resolve_host, getaddrinfo, or
 * none for an IP address), a connect per address until one answers, the TLS
 * handshake (https), the request, the response. One timer bounds all of them.
 * llhttp parses the response (the second module besides http.c to include
 * llhttp.h: the server and this client are two jobs). finish() is the one way
 * out: it records the result, calls back once, and closes the handles; the
 * last close callback frees the object.
 */
#include "kirim/http_client.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "kirim/buf.h"
#include "kirim/dns.h"
#include "kirim/http_url.h"
#include "kirim/tls.h"
#include "kirim/xmalloc.h"

enum get_state { G_RESOLVE, G_CONNECT, G_HANDSHAKE, G_RESPONSE, G_DONE };

struct http_client {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t creq;
	uv_getaddrinfo_t gai; /* the system's look-up, when no resolver was given */
	bool gai_pending;     /* gai has not called back yet */
	int open_handles;     /* handles whose close callback is pending or not yet asked */
	bool tcp_open;        /* tcp initialised (it is for each connect) */
	enum get_state state;
	bool cancelled;
	http_client_cb cb;
	void *arg;
	struct http_url url;
	char where[420]; /* "https://host[:port]/path" (the path's first 120 bytes): every
	                    error starts with it */
	char *want_type, *user_agent, *headers;
	char *post_type; /* a POST's Content-Type; NULL: a GET */
	struct buf post; /* a POST's body */
	size_t max_body;
	unsigned timeout_ms;
	struct tls_ctx *ctx;
	struct tls_conn *tls;     /* https, once connected; NULL over http */
	struct dns_mx_host addrs; /* the host's addresses, tried in turn */
	size_t next_addr;
	char last_connect_error[128];
	llhttp_t parser;
	llhttp_settings_t settings;
	bool in_type;     /* the header being read is Content-Type */
	bool complete;    /* the whole response was read */
	struct buf field; /* the header name being read */
	struct buf ctype; /* Content-Type's value */
	struct buf body;  /* the body so far */
	struct buf plain; /* received (and decrypted) bytes not yet parsed */
	int http_status;
	bool too_big;
	bool tls_failed;
	bool refused; /* the answer broke a limit on what it holds: size, media type */
	char rbuf[16384];
	char error[700];
};

struct get_write {
	uv_write_t req;
	struct buf data;
};

static void finish(struct http_client *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void try_connect(struct http_client *g);

/* release - one holder of g (a handle, or the look-up) is done; the last frees it */
static void
release(struct http_client *g)
{
	if (--g->open_handles > 0)
		return;
	tls_conn_free(g->tls);
	buf_free(&g->field);
	buf_free(&g->ctype);
	buf_free(&g->body);
	buf_free(&g->plain);
	free(g->want_type);
	free(g->headers);
	free(g->post_type);
	buf_free(&g->post);
	free(g->user_agent);
	free(g);
}

static void
on_closed(uv_handle_t *h)
{
	release(h->data);
}

/* close_all - close the handles; the last close frees g */
static void
close_all(struct http_client *g)
{
	uv_timer_stop(&g->timer);
	if (!uv_is_closing((uv_handle_t *)&g->timer))
		uv_close((uv_handle_t *)&g->timer, on_closed);
	if (g->tcp_open && !uv_is_closing((uv_handle_t *)&g->tcp))
		uv_close((uv_handle_t *)&g->tcp, on_closed);
}

/* finish - the fetch is over: ok when fmt is NULL, else failed with the sentence; call
 * back (unless cancelled) and close */
static void
finish(struct http_client *g, const char *fmt, ...)
{
	if (g->state == G_DONE)
		return;
	g->state = G_DONE;
	struct http_client_result r = {
	    .http_status = g->http_status, .tls_failed = g->tls_failed, .refused = g->refused};
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(g->error, sizeof(g->error), fmt, ap);
		va_end(ap);
		r.error = g->error;
	} else {
		r.ok = 1;
		buf_reserve(&g->body, 1);
		g->body.data[g->body.len] = '\0';
		r.body = g->body.data;
		r.len = g->body.len;
	}
	if (!g->cancelled)
		g->cb(g->arg, &r);
	if (g->gai_pending)
		(void)uv_cancel((uv_req_t *)&g->gai); /* on_gai frees g, now or later */
	close_all(g);
}

static void
on_timeout(uv_timer_t *t)
{
	struct http_client *g = t->data;
	finish(g, "%s: no complete answer within %u s", g->where, g->timeout_ms / 1000);
}

/* ---- writing ---- */

static void
on_written(uv_write_t *req, int status)
{
	struct get_write *w = (struct get_write *)req;
	struct http_client *g = req->data;
	buf_free(&w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		finish(g, "%s: write failed: %s", g->where, uv_strerror(status));
}

/* write_out - send the bytes of data (taken: data is left empty) */
static void
write_out(struct http_client *g, struct buf *data)
{
	struct get_write *w = xcalloc(1, sizeof(*w));
	w->data = *data;
	*data = (struct buf)BUF_INIT;
	w->req.data = g;
	uv_buf_t b = uv_buf_init(w->data.data, (unsigned)w->data.len);
	int rc = uv_write(&w->req, (uv_stream_t *)&g->tcp, &b, 1, on_written);
	if (rc < 0) {
		buf_free(&w->data);
		free(w);
		finish(g, "%s: write failed: %s", g->where, uv_strerror(rc));
	}
}

/* flush - send the ciphertext TLS has waiting (nothing over http) */
static void
flush(struct http_client *g)
{
	if (g->state == G_DONE || g->tls == NULL || tls_conn_pending_out(g->tls) == 0)
		return;
	struct buf out = BUF_INIT;
	tls_conn_take_out(g->tls, &out);
	write_out(g, &out);
}

/* ---- the response ---- */

static int
on_status_complete(llhttp_t *p)
{
	struct http_client *g = p->data;
	g->http_status = p->status_code;
	return 0;
}

static int
on_field(llhttp_t *p, const char *at, size_t n)
{
	struct http_client *g = p->data;
	if (g->field.len + n > 256)
		return HPE_USER;
	buf_add(&g->field, at, n);
	return 0;
}

static int
on_field_complete(llhttp_t *p)
{
	struct http_client *g = p->data;
	g->in_type = g->field.len == 12 && strncasecmp(g->field.data, "content-type", 12) == 0;
	g->field.len = 0;
	if (g->in_type)
		g->ctype.len = 0;
	return 0;
}

static int
on_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_client *g = p->data;
	if (g->in_type) {
		if (g->ctype.len + n > 256)
			return HPE_USER;
		buf_add(&g->ctype, at, n);
	}
	return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_client *g = p->data;
	if (g->body.len + n > g->max_body) {
		g->too_big = true;
		return HPE_USER; /* the size limit: parse says so */
	}
	buf_add(&g->body, at, n);
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct http_client *g = p->data;
	/* A POST's answer is its status: the body is not read (1xx: the answer follows). */
	if (g->post_type == NULL || (g->http_status >= 100 && g->http_status < 200))
		return 0;
	g->complete = true;
	return HPE_PAUSED;
}

static int
on_complete(llhttp_t *p)
{
	struct http_client *g = p->data;
	if (g->http_status >= 100 && g->http_status < 200)
		return 0; /* an interim answer (100 Continue): the real one comes next */
	g->complete = true;
	return HPE_PAUSED; /* nothing after the one response is read */
}

/* type_ok - whether Content-Type's media type is want_type (parameters ignored) */
static bool
type_ok(struct http_client *g)
{
	if (g->want_type == NULL)
		return true;
	size_t n = 0;
	const char *v = g->ctype.data ? g->ctype.data : "";
	size_t len = g->ctype.len;
	while (n < len && (v[n] == ' ' || v[n] == '\t'))
		n++;
	size_t start = n;
	while (n < len && v[n] != ';' && v[n] != ' ' && v[n] != '\t')
		n++;
	size_t wl = strlen(g->want_type);
	return n - start == wl && strncasecmp(v + start, g->want_type, wl) == 0;
}

/* verdict - the response is complete: check it and finish */
static void
verdict(struct http_client *g)
{
	const char *where = g->where;
	if (g->http_status >= 300 && g->http_status < 400) {
		finish(g, "%s: HTTP %d, a redirect (never followed)", where, g->http_status);
	} else if (g->post_type && g->http_status >= 200 && g->http_status < 300) {
		finish(g, NULL); /* a POST taken (RFC 8460 5.3.2: 200, 201, 202, 204...) */
	} else if (g->http_status != 200 || g->post_type) {
		finish(g, "%s: HTTP %d", where, g->http_status);
	} else if (!type_ok(g)) {
		buf_reserve(&g->ctype, 1);
		g->ctype.data[g->ctype.len] = '\0';
		g->refused = true;
		finish(g, "%s: content type \"%.80s\", not %s", where,
		       g->ctype.len ? g->ctype.data : "(none)", g->want_type);
	} else {
		finish(g, NULL);
	}
}

/* parse - hand the decrypted bytes to llhttp; eof: the server closed the stream */
static void
parse(struct http_client *g, bool eof)
{
	if (g->plain.len > 0 && !g->complete) {
		llhttp_errno_t e = llhttp_execute(&g->parser, g->plain.data, g->plain.len);
		g->plain.len = 0;
		if (g->too_big) {
			g->refused = true;
			finish(g, "%s: the body is larger than %zu bytes", g->where, g->max_body);
			return;
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			finish(g, "%s: bad HTTP response: %s", g->where,
			       llhttp_get_error_reason(&g->parser));
			return;
		}
	}
	if (eof && !g->complete) {
		/* A body without a length ends with the connection. */
		llhttp_errno_t e = llhttp_finish(&g->parser);
		if (e != HPE_OK && e != HPE_PAUSED && !g->complete) {
			finish(g, "%s: the connection closed before the whole response", g->where);
			return;
		}
	}
	if (g->complete)
		verdict(g);
	else if (eof)
		finish(g, "%s: the connection closed before the whole response", g->where);
}

/* ---- the connection ---- */

static void
send_request(struct http_client *g)
{
	struct buf req = BUF_INIT;
	const struct http_url *u = &g->url;
	bool v6 = strchr(u->host, ':') != NULL;
	/* Host: the port only when it is not the scheme's (RFC 9110 7.2). */
	buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s", g->post_type ? "POST" : "GET", u->path,
	           v6 ? "[" : "", u->host, v6 ? "]" : "");
	if (u->port != (u->tls ? 443u : 80u))
		buf_printf(&req, ":%u", u->port);
	buf_printf(&req, "\r\nUser-Agent: %s\r\nAccept: %s\r\nConnection: close\r\n", g->user_agent,
	           g->want_type ? g->want_type : "*/*");
	if (g->post_type)
		buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", g->post_type,
		           g->post.len);
	if (g->headers)
		buf_adds(&req, g->headers);
	buf_adds(&req, "\r\n");
	if (g->post_type)
		buf_add(&req, g->post.data, g->post.len);
	if (g->tls == NULL) {
		write_out(g, &req);
		return;
	}
	int rc = tls_conn_write(g->tls, req.data, req.len);
	buf_free(&req);
	if (rc < 0) {
		finish(g, "%s: %s", g->where, tls_conn_error(g->tls));
		return;
	}
	flush(g);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct http_client *g = h->data;
	(void)suggested;
	*b = uv_buf_init(g->rbuf, sizeof(g->rbuf)); /* used at once, in on_read */
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct http_client *g = st->data;
	if (g->state == G_DONE)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			finish(g, "%s: read failed: %s", g->where, uv_strerror((int)nread));
			return;
		}
		if (g->state == G_HANDSHAKE) {
			g->tls_failed = true;
			finish(g, "%s: TLS handshake failed: the server closed", g->where);
			return;
		}
		parse(g, true);
		return;
	}
	if (nread == 0)
		return;
	if (g->tls == NULL) {
		/* Plain http: the bytes are the response; the cap is the parser's (max_body). */
		buf_add(&g->plain, b->base, (size_t)nread);
		parse(g, false);
		return;
	}
	tls_conn_feed(g->tls, b->base, (size_t)nread);
	if (g->state == G_HANDSHAKE) {
		int rc = tls_conn_handshake(g->tls);
		flush(g);
		if (rc == TLS_WANT)
			return;
		if (rc == TLS_ERROR) {
			g->tls_failed = true;
			finish(g, "%s: %s", g->where, tls_conn_error(g->tls));
			return;
		}
		g->state = G_RESPONSE;
		send_request(g);
		if (g->state == G_DONE)
			return;
	}
	int rc = tls_conn_read(g->tls, &g->plain);
	flush(g);
	if (g->state == G_DONE)
		return;
	if (rc == TLS_ERROR) {
		finish(g, "%s: %s", g->where, tls_conn_error(g->tls));
		return;
	}
	parse(g, rc == TLS_CLOSED);
}

static void
on_tcp_reset(uv_handle_t *h)
{
	/* A connect that failed: its handle is closed, the next address gets a fresh one. */
	struct http_client *g = h->data;
	g->tcp_open = false;
	if (g->state == G_DONE) {
		release(g);
		return;
	}
	g->open_handles--; /* the timer is open: never the last */
	try_connect(g);
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct http_client *g = req->data;
	if (status == UV_ECANCELED || g->state == G_DONE)
		return;
	if (status < 0) {
		snprintf(g->last_connect_error, sizeof(g->last_connect_error), "%s",
		         uv_strerror(status));
		uv_close((uv_handle_t *)&g->tcp, on_tcp_reset);
		return;
	}
	int rc = uv_read_start((uv_stream_t *)&g->tcp, on_alloc, on_read);
	if (rc < 0) {
		finish(g, "%s: %s", g->where, uv_strerror(rc));
		return;
	}
	if (!g->url.tls) {
		g->state = G_RESPONSE;
		send_request(g);
		return;
	}
	g->state = G_HANDSHAKE;
	/* The name (SNI, and the certificate's DNS names) or the IP address (its IP
	 * subjectAltNames, no SNI): tls.c tells them apart. */
	g->tls = tls_conn_new(g->ctx, g->url.host);
	if (tls_conn_handshake(g->tls) == TLS_ERROR) {
		g->tls_failed = true;
		finish(g, "%s: %s", g->where, tls_conn_error(g->tls));
		return;
	}
	flush(g);
}

/* try_connect - connect to the next address, or finish when none is left */
static void
try_connect(struct http_client *g)
{
	if (g->next_addr >= g->addrs.naddrs) {
		finish(g, "%s: cannot connect: %s", g->where,
		       g->last_connect_error[0] ? g->last_connect_error : "no address");
		return;
	}
	struct sockaddr_storage sa = g->addrs.addrs[g->next_addr++];
	if (sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)g->url.port);
	else
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)g->url.port);
	g->state = G_CONNECT;
	uv_tcp_init(g->loop, &g->tcp);
	g->tcp.data = g;
	g->tcp_open = true;
	g->open_handles++;
	g->creq.data = g;
	int rc = uv_tcp_connect(&g->creq, &g->tcp, (const struct sockaddr *)&sa, on_connect);
	if (rc < 0) {
		snprintf(g->last_connect_error, sizeof(g->last_connect_error), "%s",
		         uv_strerror(rc));
		uv_close((uv_handle_t *)&g->tcp, on_tcp_reset);
	}
}

static void
on_resolved(void *arg, const struct dns_mx_result *r)
{
	struct http_client *g = arg;
	if (g->state == G_DONE) {
		/* Cancelled or timed out while the look-up ran: the object waited for it. */
		release(g);
		return;
	}
	g->open_handles--; /* the look-up held the object like a handle; the timer still does */
	if (r->status != DNS_OK) {
		finish(g, "%s: %s", g->where, r->error ? r->error : dns_status_name(r->status));
		return;
	}
	g->addrs = r->hosts[0];
	try_connect(g);
}

static void
on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct http_client *g = req->data;
	g->gai_pending = false;
	if (g->state == G_DONE) {
		uv_freeaddrinfo(res);
		release(g);
		return;
	}
	g->open_handles--;
	if (status < 0) {
		finish(g, "%s: cannot look up %s: %s", g->where, g->url.host, uv_strerror(status));
		return;
	}
	for (struct addrinfo *a = res; a && g->addrs.naddrs < DNS_MAX_ADDRS; a = a->ai_next)
		if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
		    a->ai_addrlen <= sizeof(struct sockaddr_storage))
			memcpy(&g->addrs.addrs[g->addrs.naddrs++], a->ai_addr, a->ai_addrlen);
	uv_freeaddrinfo(res);
	try_connect(g);
}

/* literal - the URL's IP address as the one address to try; false when it is none */
static bool
literal(struct http_client *g)
{
	struct sockaddr_storage *sa = &g->addrs.addrs[0];
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	if (inet_pton(AF_INET, g->url.host, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, g->url.host, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		return false;
	g->addrs.naddrs = 1;
	return true;
}

struct http_client *
http_client_start(uv_loop_t *loop, struct dns *dns, const struct http_client_opts *o,
                  http_client_cb cb, void *arg)
{
	if (o->url == NULL || cb == NULL || o->url->path[0] != '/' || o->url->host[0] == '\0')
		return NULL;
	/* https is verified or not done. */
	if (o->url->tls && (o->tls == NULL || !tls_ctx_verifies(o->tls)))
		return NULL;
	struct http_client *g = xcalloc(1, sizeof(*g));
	g->loop = loop;
	g->cb = cb;
	g->arg = arg;
	g->url = *o->url;
	bool v6 = strchr(g->url.host, ':') != NULL;
	char port[8] = "";
	if (g->url.port != (g->url.tls ? 443u : 80u))
		snprintf(port, sizeof(port), ":%u", g->url.port);
	/* A long path is cut in what errors quote, so that the reason after it is kept. */
	snprintf(g->where, sizeof(g->where), "%s://%s%s%s%s%.120s%s", g->url.tls ? "https" : "http",
	         v6 ? "[" : "", g->url.host, v6 ? "]" : "", port, g->url.path,
	         strlen(g->url.path) > 120 ? "..." : "");
	g->want_type = o->want_type ? xstrdup(o->want_type) : NULL;
	g->headers = o->headers ? xstrdup(o->headers) : NULL;
	if (o->post_type) {
		g->post_type = xstrdup(o->post_type);
		buf_add(&g->post, o->post_body, o->post_len);
	}
	g->user_agent = xstrdup(o->user_agent ? o->user_agent : "kirim");
	g->max_body = o->max_body;
	g->timeout_ms = o->timeout_ms;
	g->ctx = g->url.tls ? o->tls : NULL;
	llhttp_settings_init(&g->settings);
	g->settings.on_status_complete = on_status_complete;
	g->settings.on_header_field = on_field;
	g->settings.on_header_field_complete = on_field_complete;
	g->settings.on_header_value = on_value;
	g->settings.on_headers_complete = on_headers_complete;
	g->settings.on_body = on_body;
	g->settings.on_message_complete = on_complete;
	llhttp_init(&g->parser, HTTP_RESPONSE, &g->settings);
	g->parser.data = g;
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	if (literal(g)) {
		/* An address is never looked up; the connect's outcome comes from the loop
		 * (a connect that fails at once closes its handle first). */
		g->open_handles = 1;
		try_connect(g);
		uv_timer_start(&g->timer, on_timeout, o->timeout_ms, 0);
		return g;
	}
	g->open_handles = 2; /* the timer, and the look-up until it answers */
	int rc;
	if (dns) {
		rc = dns_resolve_host(dns, g->url.host, on_resolved, g);
	} else {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		g->gai.data = g;
		rc = uv_getaddrinfo(loop, &g->gai, on_gai, g->url.host, NULL, &hints);
		g->gai_pending = rc == 0;
	}
	if (rc < 0) {
		g->open_handles = 1;
		g->state = G_DONE;
		uv_close((uv_handle_t *)&g->timer, on_closed);
		return NULL;
	}
	uv_timer_start(&g->timer, on_timeout, o->timeout_ms, 0);
	return g;
}

void
http_client_cancel(struct http_client *g)
{
	if (g == NULL || g->state == G_DONE)
		return;
	g->cancelled = true;
	finish(g, "cancelled");
}
