/*
 * https_get - one HTTPS GET (see https_get.h).
 *
 * States follow the fetch: the look-up (dns_resolve_host), a connect per
 * address until one answers, the TLS handshake, the request, the response.
 * One timer bounds all of them. llhttp parses the response (the second
 * module besides http.c to include llhttp.h: the server and this client are
 * two jobs). finish() is the one way out: it records the result, calls back
 * once, and closes the handles; the last close callback frees the object.
 */
#include "kirim/https_get.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "kirim/buf.h"
#include "kirim/dns.h"
#include "kirim/tls.h"
#include "kirim/xmalloc.h"

enum get_state { G_RESOLVE, G_CONNECT, G_HANDSHAKE, G_RESPONSE, G_DONE };

struct https_get {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t creq;
	int open_handles; /* handles whose close callback is pending or not yet asked */
	bool tcp_open;    /* tcp initialised (it is for each connect) */
	enum get_state state;
	bool cancelled;
	https_get_cb cb;
	void *arg;
	char *host, *path, *want_type, *user_agent;
	char *post_type; /* a POST's Content-Type; NULL: a GET */
	struct buf post; /* a POST's body */
	unsigned port;
	size_t max_body;
	unsigned timeout_ms;
	struct tls_ctx *ctx;
	struct tls_conn *tls;
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
	struct buf plain; /* decrypted bytes not yet parsed */
	int http_status;
	bool too_big;
	bool tls_failed;
	bool refused; /* the answer broke a limit on what it holds: size, media type */
	char rbuf[16384];
	char error[300];
};

struct get_write {
	uv_write_t req;
	struct buf data;
};

static void finish(struct https_get *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void try_connect(struct https_get *g);

/* release - one holder of g (a handle, or the look-up) is done; the last frees it */
static void
release(struct https_get *g)
{
	if (--g->open_handles > 0)
		return;
	tls_conn_free(g->tls);
	buf_free(&g->field);
	buf_free(&g->ctype);
	buf_free(&g->body);
	buf_free(&g->plain);
	free(g->host);
	free(g->path);
	free(g->want_type);
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
close_all(struct https_get *g)
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
finish(struct https_get *g, const char *fmt, ...)
{
	if (g->state == G_DONE)
		return;
	g->state = G_DONE;
	struct https_get_result r = {
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
	close_all(g);
}

static void
on_timeout(uv_timer_t *t)
{
	struct https_get *g = t->data;
	finish(g, "https://%s%s: no complete answer within %u s", g->host, g->path,
	       g->timeout_ms / 1000);
}

/* ---- writing ---- */

static void
on_written(uv_write_t *req, int status)
{
	struct get_write *w = (struct get_write *)req;
	struct https_get *g = req->data;
	buf_free(&w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		finish(g, "https://%s%s: write failed: %s", g->host, g->path, uv_strerror(status));
}

/* flush - send the ciphertext TLS has waiting */
static void
flush(struct https_get *g)
{
	if (g->state == G_DONE || tls_conn_pending_out(g->tls) == 0)
		return;
	struct get_write *w = xcalloc(1, sizeof(*w));
	tls_conn_take_out(g->tls, &w->data);
	w->req.data = g;
	uv_buf_t b = uv_buf_init(w->data.data, (unsigned)w->data.len);
	int rc = uv_write(&w->req, (uv_stream_t *)&g->tcp, &b, 1, on_written);
	if (rc < 0) {
		buf_free(&w->data);
		free(w);
		finish(g, "https://%s%s: write failed: %s", g->host, g->path, uv_strerror(rc));
	}
}

/* ---- the response ---- */

static int
on_status_complete(llhttp_t *p)
{
	struct https_get *g = p->data;
	g->http_status = p->status_code;
	return 0;
}

static int
on_field(llhttp_t *p, const char *at, size_t n)
{
	struct https_get *g = p->data;
	if (g->field.len + n > 256)
		return HPE_USER;
	buf_add(&g->field, at, n);
	return 0;
}

static int
on_field_complete(llhttp_t *p)
{
	struct https_get *g = p->data;
	g->in_type = g->field.len == 12 && strncasecmp(g->field.data, "content-type", 12) == 0;
	g->field.len = 0;
	if (g->in_type)
		g->ctype.len = 0;
	return 0;
}

static int
on_value(llhttp_t *p, const char *at, size_t n)
{
	struct https_get *g = p->data;
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
	struct https_get *g = p->data;
	if (g->body.len + n > g->max_body) {
		g->too_big = true;
		return HPE_USER; /* the size limit: parse says so */
	}
	buf_add(&g->body, at, n);
	return 0;
}

static int
on_complete(llhttp_t *p)
{
	struct https_get *g = p->data;
	g->complete = true;
	return HPE_PAUSED; /* nothing after the one response is read */
}

/* type_ok - whether Content-Type's media type is want_type (parameters ignored) */
static bool
type_ok(struct https_get *g)
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
verdict(struct https_get *g)
{
	const char *where = g->host;
	if (g->http_status >= 300 && g->http_status < 400) {
		finish(g, "https://%s%s: HTTP %d, a redirect (never followed: RFC 8461 3.3)", where,
		       g->path, g->http_status);
	} else if (g->post_type && g->http_status >= 200 && g->http_status < 300) {
		finish(g, NULL); /* a POST taken (RFC 8460 5.3.2: 200, 201, 202, 204...) */
	} else if (g->http_status != 200 || g->post_type) {
		finish(g, "https://%s%s: HTTP %d", where, g->path, g->http_status);
	} else if (!type_ok(g)) {
		buf_reserve(&g->ctype, 1);
		g->ctype.data[g->ctype.len] = '\0';
		g->refused = true;
		finish(g, "https://%s%s: content type \"%.80s\", not %s", where, g->path,
		       g->ctype.len ? g->ctype.data : "(none)", g->want_type);
	} else {
		finish(g, NULL);
	}
}

/* parse - hand the decrypted bytes to llhttp; eof: the server closed the stream */
static void
parse(struct https_get *g, bool eof)
{
	if (g->plain.len > 0 && !g->complete) {
		llhttp_errno_t e = llhttp_execute(&g->parser, g->plain.data, g->plain.len);
		g->plain.len = 0;
		if (g->too_big) {
			g->refused = true;
			finish(g, "https://%s%s: the body is larger than %zu bytes", g->host,
			       g->path, g->max_body);
			return;
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			finish(g, "https://%s%s: bad HTTP response: %s", g->host, g->path,
			       llhttp_get_error_reason(&g->parser));
			return;
		}
	}
	if (eof && !g->complete) {
		/* A body without a length ends with the connection. */
		llhttp_errno_t e = llhttp_finish(&g->parser);
		if (e != HPE_OK && e != HPE_PAUSED && !g->complete) {
			finish(g, "https://%s%s: the connection closed before the whole response",
			       g->host, g->path);
			return;
		}
	}
	if (g->complete)
		verdict(g);
	else if (eof)
		finish(g, "https://%s%s: the connection closed before the whole response", g->host,
		       g->path);
}

/* ---- the connection ---- */

static void
send_request(struct https_get *g)
{
	struct buf req = BUF_INIT;
	buf_printf(&req,
	           "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: %s\r\n"
	           "Connection: close\r\n",
	           g->post_type ? "POST" : "GET", g->path, g->host, g->user_agent,
	           g->want_type ? g->want_type : "*/*");
	if (g->post_type)
		buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", g->post_type,
		           g->post.len);
	buf_adds(&req, "\r\n");
	if (g->post_type)
		buf_add(&req, g->post.data, g->post.len);
	int rc = tls_conn_write(g->tls, req.data, req.len);
	buf_free(&req);
	if (rc < 0) {
		finish(g, "https://%s%s: %s", g->host, g->path, tls_conn_error(g->tls));
		return;
	}
	flush(g);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct https_get *g = h->data;
	(void)suggested;
	*b = uv_buf_init(g->rbuf, sizeof(g->rbuf)); /* fed to TLS at once, in on_read */
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct https_get *g = st->data;
	if (g->state == G_DONE)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			finish(g, "https://%s%s: read failed: %s", g->host, g->path,
			       uv_strerror((int)nread));
			return;
		}
		if (g->state == G_HANDSHAKE) {
			g->tls_failed = true;
			finish(g, "https://%s%s: TLS handshake failed: the server closed", g->host,
			       g->path);
			return;
		}
		parse(g, true);
		return;
	}
	if (nread == 0)
		return;
	tls_conn_feed(g->tls, b->base, (size_t)nread);
	if (g->state == G_HANDSHAKE) {
		int rc = tls_conn_handshake(g->tls);
		flush(g);
		if (rc == TLS_WANT)
			return;
		if (rc == TLS_ERROR) {
			g->tls_failed = true;
			finish(g, "https://%s%s: %s", g->host, g->path, tls_conn_error(g->tls));
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
		finish(g, "https://%s%s: %s", g->host, g->path, tls_conn_error(g->tls));
		return;
	}
	parse(g, rc == TLS_CLOSED);
}

static void
on_tcp_reset(uv_handle_t *h)
{
	/* A connect that failed: its handle is closed, the next address gets a fresh one. */
	struct https_get *g = h->data;
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
	struct https_get *g = req->data;
	if (status == UV_ECANCELED || g->state == G_DONE)
		return;
	if (status < 0) {
		snprintf(g->last_connect_error, sizeof(g->last_connect_error), "%s",
		         uv_strerror(status));
		uv_close((uv_handle_t *)&g->tcp, on_tcp_reset);
		return;
	}
	g->state = G_HANDSHAKE;
	g->tls = tls_conn_new(g->ctx, g->host);
	int rc = uv_read_start((uv_stream_t *)&g->tcp, on_alloc, on_read);
	if (rc < 0) {
		finish(g, "https://%s%s: %s", g->host, g->path, uv_strerror(rc));
		return;
	}
	if (tls_conn_handshake(g->tls) == TLS_ERROR) {
		g->tls_failed = true;
		finish(g, "https://%s%s: %s", g->host, g->path, tls_conn_error(g->tls));
		return;
	}
	flush(g);
}

/* try_connect - connect to the next address, or finish when none is left */
static void
try_connect(struct https_get *g)
{
	if (g->next_addr >= g->addrs.naddrs) {
		finish(g, "https://%s%s: cannot connect: %s", g->host, g->path,
		       g->last_connect_error[0] ? g->last_connect_error : "no address");
		return;
	}
	struct sockaddr_storage sa = g->addrs.addrs[g->next_addr++];
	if (sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)g->port);
	else
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)g->port);
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
	struct https_get *g = arg;
	if (g->state == G_DONE) {
		/* Cancelled or timed out while the look-up ran: the object waited for it. */
		release(g);
		return;
	}
	g->open_handles--; /* the look-up held the object like a handle; the timer still does */
	if (r->status != DNS_OK) {
		finish(g, "https://%s%s: %s", g->host, g->path,
		       r->error ? r->error : dns_status_name(r->status));
		return;
	}
	g->addrs = r->hosts[0];
	try_connect(g);
}

struct https_get *
https_get_start(uv_loop_t *loop, struct dns *dns, const struct https_get_opts *o, https_get_cb cb,
                void *arg)
{
	if (o->host == NULL || o->path == NULL || o->tls == NULL || cb == NULL || o->path[0] != '/')
		return NULL;
	struct https_get *g = xcalloc(1, sizeof(*g));
	g->loop = loop;
	g->cb = cb;
	g->arg = arg;
	g->host = xstrdup(o->host);
	g->path = xstrdup(o->path);
	g->want_type = o->want_type ? xstrdup(o->want_type) : NULL;
	if (o->post_type) {
		g->post_type = xstrdup(o->post_type);
		buf_add(&g->post, o->post_body, o->post_len);
	}
	g->user_agent = xstrdup(o->user_agent ? o->user_agent : "kirim");
	g->port = o->port ? o->port : 443;
	g->max_body = o->max_body;
	g->timeout_ms = o->timeout_ms;
	g->ctx = o->tls;
	llhttp_settings_init(&g->settings);
	g->settings.on_status_complete = on_status_complete;
	g->settings.on_header_field = on_field;
	g->settings.on_header_field_complete = on_field_complete;
	g->settings.on_header_value = on_value;
	g->settings.on_body = on_body;
	g->settings.on_message_complete = on_complete;
	llhttp_init(&g->parser, HTTP_RESPONSE, &g->settings);
	g->parser.data = g;
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	g->open_handles = 2; /* the timer, and the look-up until it answers */
	if (dns_resolve_host(dns, g->host, on_resolved, g) < 0) {
		g->open_handles = 1;
		g->state = G_DONE;
		uv_close((uv_handle_t *)&g->timer, on_closed);
		return NULL;
	}
	uv_timer_start(&g->timer, on_timeout, o->timeout_ms, 0);
	return g;
}

void
https_get_cancel(struct https_get *g)
{
	if (g == NULL || g->state == G_DONE)
		return;
	g->cancelled = true;
	finish(g, "cancelled");
}
