/*
 * serve - `kirim serve`: the HTTP endpoint for one-click unsubscribes (RFC
 * 8058), open pixels, click redirects and the browser view of a message, and
 * the pages subscribers see (pages.h): preferences, signup with double
 * opt-in (signup.h), confirmation.
 *
 * One libuv loop on the calling thread runs the HTTP server (http.h: llhttp
 * parsing, kirim's connection handling); routing and token checks run on the
 * loop (serve_route.h, token.h). Requests that change the database are
 * queued and answered only once what they wrote is committed (group commit:
 * a thread takes everything queued, at most batch_max events, commits it in
 * one transaction, and starts on the next batch). One-click unsubscribes go
 * to the journal thread (store_serve.h: a SQLite file of its own, an append
 * per commit); the writer thread folds the journal into the database in large
 * transactions and applies every other event, after folding what was
 * journaled before it.
 * The store's connection is used only by the writer thread while serve_run
 * runs (the report pages open a second one). Browser views (/v/) are rendered
 * in libuv's thread pool, one batch of requests at a time, on a read
 * connection of their own (campaign.h's campaign_view: the sender's composer);
 * so are the subscriber pages, after the write a request makes, if any.
 * Signups draw from a second per-IP bucket table ([signup] per_ip_per_hour).
 *
 * Limits: request body, request header memory, a deadline for a whole
 * request (slow senders are cut off), per-IP token-bucket rate and
 * per-IP connections. Logs one logfmt line per request (at info; the token
 * is never logged, only the campaign and contact it names), buffered and
 * written at least every 100 ms. SIGINT/SIGTERM stop it gracefully: no new
 * connections, queued writes committed and answered, then return 0.
 */
#ifndef KIRIM_SERVE_H
#define KIRIM_SERVE_H

#include <stddef.h>

struct config;
struct store;

struct serve_opts {
	const char *listen;          /* "HOST:PORT" or "[V6]:PORT"; port 0 picks one */
	const char *base_url;        /* the public base URL (for the startup line), or NULL */
	const unsigned char *secret; /* the token key */
	size_t secret_len;
	unsigned max_body;         /* bytes of request body; 0: 4096 */
	unsigned max_header;       /* bytes for the request line and headers; 0: 8192 */
	unsigned timeout;          /* seconds for a whole request, and keep-alive idle; 0: 10 */
	unsigned max_conns;        /* open connections; 0: 1024 */
	unsigned max_conns_per_ip; /* 0: max_conns / 4, at most 256 (http.h) */
	double rate;               /* requests per second per client IP; < 0: off; 0: 20 */
	unsigned burst;            /* token bucket size; 0: 100 */
	unsigned batch_max;        /* events per transaction; 0: 500 */
	/* When the peer is a loopback address (the proxy), the client is the one its
	 * X-Real-IP or X-Forwarded-For names: for the rate limit, the log and the report. */
	int trust_proxy;
	/* /r/CAMPAIGN (the live report) answers clients on this machine only (by the address
	 * trust_proxy takes), unless this password is set: then any client that gives it (HTTP
	 * Basic, any user name). */
	const char *report_password;
	/* The machine's identity the sender composes with (URLs, domain): the browser view
	 * renders each message as it was composed; the pages take [brand], [signup] and
	 * [pages] from it. Required. Read from the thread pool while serve_run runs. */
	const struct config *cfg;
	/*
	 * The HTTP API (api.h) on a second listener: "HOST:PORT", or NULL for
	 * none. admin_required: a listener that cannot bind stops serve_run;
	 * else it is left off with a warning (the default address may be taken
	 * by another kirim serve on the machine).
	 */
	const char *admin_listen;
	int admin_required;
	unsigned admin_max_body; /* bytes; 0: 16 MiB */
	/* ready - called once listening, with the bound ports (admin_port 0: no API) */
	void (*ready)(void *arg, unsigned port, unsigned admin_port);
	void *ready_arg;
};

/*
 * serve_run - serve until SIGINT or SIGTERM. Returns 0 after a graceful
 * stop, or -1 with a sentence in err (cannot listen, bad address, store).
 */
int serve_run(struct store *s, const struct serve_opts *o, char *err, size_t errsz);

#endif
