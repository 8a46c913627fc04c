/*
 * http - a small HTTP/1.1 server on a libuv loop, for `kirim serve`.
 *
 * Parsing is llhttp's (Node.js's parser, from Debian's node-llhttp); this
 * module owns the connections: keep-alive and pipelining (one request at a
 * time per connection, the next parsed only after the previous one is
 * answered), the limits (request line + headers, body, a deadline for a whole
 * request and for keep-alive idle, connections in all and per client
 * address), `Expect: 100-continue`, HEAD, and the answers to requests that
 * cannot be read (400, 413, 414, 431, 505, then the connection is closed).
 * A connection over a connection limit is closed at accept, unread, and
 * counts toward no limit while it closes.
 *
 * A complete request goes to on_request, which answers it with http_respond,
 * at once or later (a request can wait for a database commit): the request
 * and its connection stay valid until then, even if the client has gone. The
 * loop's thread only. Writes are attempted at once (no extra loop pass), so an
 * answer costs one write(2) in the common case. The caller ignores SIGPIPE
 * (writes to a client that has gone must fail with EPIPE, not kill the process).
 */
#ifndef KIRIM_HTTP_H
#define KIRIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

struct http_server;
struct http_conn;

struct http_req {
	const char *method; /* "GET", "POST", ... (NUL-terminated) */
	const char *target; /* the request target as sent: path and query (NUL-terminated) */
	size_t target_len;
	const char *body; /* the whole body (chunked bodies joined), NUL-terminated */
	size_t body_len;
	bool head;                   /* a HEAD request: http_respond sends no body */
	const struct sockaddr *peer; /* the client's address */
	void *data;                  /* the handler's */
	/* Internal. */
	struct http_conn *conn;
	bool keep_alive, http10;
};

struct http_opts {
	size_t max_header; /* request line and headers, bytes; 0: 8192 */
	size_t max_body;   /* bytes; 0: 4096 */
	/*
	 * The body limit of one request by its method and target (NUL-terminated),
	 * called once its headers are read; 0 (or no function): max_body. A target
	 * that takes bigger bodies than the rest (a provider's webhook) says so here.
	 */
	size_t (*body_max)(void *arg, const char *method, const char *target);
	unsigned timeout;          /* seconds to send a whole request, or to stay idle; 0: 10 */
	unsigned max_conns;        /* admitted and not closing; 0: 1024 */
	unsigned max_conns_per_ip; /* 0: max_conns / 4, from 1 to 256; cut to max_conns */
	/* A complete request: answer it exactly once with http_respond (now or later). */
	void (*on_request)(void *arg, struct http_req *r);
	/*
	 * A request has ended: answered with status, or 499 when its connection
	 * closed before the answer was written. Also called for requests the
	 * server answered itself (status 400, 413, 414, 431, 505), with data NULL.
	 * r is freed after this returns.
	 */
	void (*on_end)(void *arg, struct http_req *r, int status);
	void *arg;
};

/*
 * http_server_new - listen on sa (port 0: any free one). NULL with a sentence
 * in err when it cannot.
 */
struct http_server *http_server_new(uv_loop_t *loop, const struct sockaddr *sa,
                                    const struct http_opts *o, char *err, size_t errsz);
/* http_server_port - the bound port */
unsigned http_server_port(const struct http_server *s);
/* http_server_conns - admitted connections not closed yet (refused ones are not counted) */
size_t http_server_conns(const struct http_server *s);
/* http_server_waiting - requests handed to on_request and not answered yet */
size_t http_server_waiting(const struct http_server *s);
/*
 * http_server_quiesce - stop accepting; idle connections close now, the
 * others after their current answer.
 */
void http_server_quiesce(struct http_server *s);
/*
 * http_server_close - close every connection and the listener (no request may
 * be waiting: see http_server_waiting); on_closed(arg) runs once all of
 * them are closed, then the server is freed.
 */
void http_server_close(struct http_server *s, void (*on_closed)(void *arg), void *arg);

/*
 * http_respond - answer r: status, extra header lines ("Name: value\r\n" each,
 * or NULL) and the body (len bytes; not sent for HEAD). Adds Date,
 * Content-Length and, when the connection is to close, Connection: close.
 * r is invalid afterwards.
 */
void http_respond(struct http_req *r, int status, const char *headers, const void *body,
                  size_t len);
/* http_header - the first value of header name (any case), or NULL */
const char *http_header(const struct http_req *r, const char *name);
/*
 * http_header_last - the last value of header name (any case), or NULL: the
 * line a proxy appends comes after any the client sent itself.
 */
const char *http_header_last(const struct http_req *r, const char *name);

#endif
