/*
 * serve - the unsubscribe and tracking HTTP endpoint (see serve.h).
 *
 * Threads: the loop thread runs libuv, libmicrohttpd (MHD_run from a
 * uv_poll on MHD's epoll fd) and every request handler; the writer thread
 * (writer_main) alone uses the store's connection, one batch (transaction) at
 * a time, back to back while events are queued; the libuv worker pool runs
 * the WAL checkpoints on their own connection. A request that writes is
 * queued and suspended (MHD_suspend_connection) until its batch has
 * committed, then resumed and answered from the loop thread (on_done). The
 * /r/ report pages read through a second store the loop opens when needed.
 */
#include "kirim/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <uv.h>

#include "kirim/buf.h"
#include "kirim/log.h"
#include "kirim/report.h"
#include "kirim/serve_route.h"
#include "kirim/store.h"
#include "kirim/store_report.h"
#include "kirim/store_serve.h"
#include "kirim/token.h"
#include "kirim/xmalloc.h"

enum {
	BUCKETS = 4096,     /* per-IP rate slots */
	BUCKET_PROBE = 8,   /* slots tried per address */
	QUEUE_FACTOR = 8,   /* queued events beyond batch_max × this get 503 */
	LOG_FLUSH_MS = 100, /* the access log is written at least this often */
	LOG_FLUSH_BYTES = 64 * 1024,
	STOP_GRACE_MS = 10000, /* how long a stop waits for connections to finish */
};

/* One client connection (MHD's socket context): for the whole-request deadline. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t since; /* accept time or the end of its last request (ns) */
	bool busy;      /* a request is being answered or waits for the writer */
};

enum req_state { REQ_NEW, REQ_BODY, REQ_WAITING, REQ_READY, REQ_ANSWERED };

/* One request (MHD's request context), freed when MHD says it completed. */
struct req {
	struct serve *srv;
	struct MHD_Connection *mc;
	struct conn *conn;
	enum req_state state;
	struct serve_route route;
	char method[8];
	char ip[INET6_ADDRSTRLEN];
	uint64_t t0;
	int status;
	bool too_big, page, failed;
	const char *machine;
	int64_t campaign, contact;
	char token[SERVE_TOKEN_MAX + 1];
	struct buf body;
	struct store_serve_event ev;
	struct req *qnext; /* writer queue */
};

struct bucket {
	unsigned char addr[16];
	bool used;
	double tokens;
	uint64_t last;
};

/* The writer's queue: the loop appends, the writer takes; both under lock. */
struct wqueue {
	uv_mutex_t lock;
	uv_cond_t cond;
	struct req *head, *tail; /* waiting for the writer */
	size_t len;
	struct req *done, *done_tail; /* committed (or failed), for the loop to answer */
	bool quit;
	unsigned long failed_batches, failed_events;
	unsigned long batches, events; /* committed, for the log at the end */
	char err[256];
};

struct serve {
	const struct serve_opts *o;
	struct store *store;   /* the writer thread's */
	struct store *reports; /* the loop's own connection for /r/ pages, opened when needed */
	struct store_serve *ss;
	struct token_key *key;
	struct MHD_Daemon *d;
	uv_loop_t loop;
	uv_poll_t poll;
	uv_timer_t mhd_timer, sweep_timer, log_timer, stop_timer, ckpt_timer;
	uv_work_t ckpt_work;
	bool ckpt_running;
	uv_signal_t sigint, sigterm;
	unsigned open_handles;
	struct conn *conns;
	struct wqueue wq;
	uv_thread_t writer;
	bool writer_started;
	uv_async_t done_async;
	bool wake_writer; /* events were queued since the writer was last woken */
	bool stopping, stopped;
	uint64_t stop_deadline;
	unsigned suspended;
	struct bucket *buckets;
	struct buf log;
	/* Shared responses, made once. */
	struct MHD_Response *r_gif, *r_ok, *r_health, *r_400, *r_404, *r_405, *r_413, *r_429,
	    *r_503;
	unsigned max_body, timeout, batch_max;
	double rate, burst;
};

static const unsigned char gif[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

/* ---- the access log ------------------------------------------------------------------ */

static void
log_flush(struct serve *srv)
{
	size_t off = 0;
	while (off < srv->log.len) {
		ssize_t w = write(STDERR_FILENO, srv->log.data + off, srv->log.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_reset(&srv->log);
}

/* One logfmt line per request, in log.h's format; buffered (a write per line would cost). */
static void
log_request(struct serve *srv, struct req *r)
{
	if (log_get_level() < LOG_INFO)
		return;
	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(&srv->log, "ts=%s.%03ldZ level=info http ip=%s method=%s route=%s status=%d", ts,
	           now.tv_nsec / 1000000, r->ip, r->method, serve_route_name(r->route.kind),
	           r->status);
	if (r->campaign >= 0)
		buf_printf(&srv->log, " campaign=%lld contact=%lld", (long long)r->campaign,
		           (long long)r->contact);
	if (r->route.kind == SERVE_ROUTE_CLICK)
		buf_printf(&srv->log, " link=%u", r->route.link);
	if (r->machine)
		buf_printf(&srv->log, " machine=%s", r->machine);
	if (r->ev.changed)
		buf_adds(&srv->log, " changed=1");
	buf_printf(&srv->log, " ms=%.2f\n", (double)(uv_hrtime() - r->t0) / 1e6);
	if (srv->log.len >= LOG_FLUSH_BYTES)
		log_flush(srv);
}

static void
on_log_timer(uv_timer_t *t)
{
	struct serve *srv = t->data;
	if (srv->log.len)
		log_flush(srv);
}

/* ---- responses ----------------------------------------------------------------------- */

static struct MHD_Response *
resp_static(const void *data, size_t n, const char *ctype)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(n, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	return r;
}

static void
responses_make(struct serve *srv)
{
	static const char t[] = "text/plain; charset=utf-8";
	srv->r_gif = resp_static(gif, sizeof(gif), "image/gif");
	srv->r_ok = resp_static("", 0, t);
	srv->r_health = resp_static("ok\n", 3, t);
	srv->r_400 = resp_static("bad request\n", 12, t);
	srv->r_404 = resp_static("not found\n", 10, t);
	srv->r_405 = resp_static("method not allowed\n", 19, t);
	MHD_add_response_header(srv->r_405, "Allow", "GET, HEAD, POST");
	srv->r_413 = resp_static("request body too large\n", 23, t);
	MHD_add_response_header(srv->r_413, "Connection", "close");
	srv->r_429 = resp_static("too many requests\n", 18, t);
	MHD_add_response_header(srv->r_429, "Retry-After", "1");
	srv->r_503 = resp_static("busy, try again\n", 16, t);
	MHD_add_response_header(srv->r_503, "Retry-After", "5");
}

static void
responses_free(struct serve *srv)
{
	struct MHD_Response **all[] = {&srv->r_gif, &srv->r_ok,  &srv->r_health,
	                               &srv->r_400, &srv->r_404, &srv->r_405,
	                               &srv->r_413, &srv->r_429, &srv->r_503};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i])
			MHD_destroy_response(*all[i]);
		*all[i] = NULL;
	}
}

static enum MHD_Result
answer(struct req *r, int status, struct MHD_Response *resp)
{
	r->status = status;
	r->state = REQ_ANSWERED;
	if (r->conn)
		r->conn->busy = true;
	return MHD_queue_response(r->mc, (unsigned)status, resp);
}

/*
 * The pages a person sees. Small, no scripts, no external resources, one
 * form each; the forms post to relative URLs so they work behind any proxy
 * path. The token is [A-Za-z0-9_-] only (checked), so it needs no escaping.
 */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%s</title>\n<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;"
    "margin:3rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1.25rem;"
    "cursor:pointer}</style>\n</head>\n<body>\n<main>\n<h1>%s</h1>\n";

static enum MHD_Result
answer_page(struct req *r, int which)
{
	struct buf b = BUF_INIT;
	const char *t = r->token;
	switch (which) {
	case 0: /* GET /u/T: asks, never unsubscribes */
		buf_printf(&b, page_head, "Unsubscribe", "Unsubscribe");
		buf_printf(&b,
		           "<form method=\"post\" action=\"%s\">\n"
		           "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n"
		           "<input type=\"hidden\" name=\"page\" value=\"1\">\n"
		           "<p><label for=\"unsubscribe\">Stop getting these emails at this "
		           "address.</label></p>\n"
		           "<button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button>\n"
		           "</form>\n",
		           t);
		break;
	case 1: /* after POST /u/T */
		buf_printf(&b, page_head, "Unsubscribed", "You are unsubscribed");
		buf_printf(&b,
		           "<p role=\"status\">You will not get these emails any more.</p>\n"
		           "<form method=\"post\" action=\"%s/resubscribe\">\n"
		           "<p><label for=\"resubscribe\">Unsubscribed by mistake?</label></p>\n"
		           "<button type=\"submit\" id=\"resubscribe\">Resubscribe</button>\n"
		           "</form>\n",
		           t);
		break;
	default: /* after POST /u/T/resubscribe */
		buf_printf(&b, page_head, "Subscribed", "You are subscribed again");
		buf_printf(&b,
		           "<p role=\"status\">You will get these emails again.</p>\n"
		           "<form method=\"post\" action=\"../%s\">\n"
		           "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n"
		           "<input type=\"hidden\" name=\"page\" value=\"1\">\n"
		           "<p><label for=\"unsubscribe\">Changed your mind?</label></p>\n"
		           "<button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button>\n"
		           "</form>\n",
		           t);
		break;
	}
	buf_adds(&b, "</main>\n</body>\n</html>\n");
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
	buf_free(&b);
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'unsafe-inline'; "
	                        "form-action 'self'; frame-ancestors 'none'");
	enum MHD_Result rc = answer(r, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- per-IP token bucket ------------------------------------------------------------- */

static bool
rate_ok(struct serve *srv, const unsigned char addr[16], uint64_t now)
{
	if (srv->rate <= 0)
		return true;
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	struct bucket *b = NULL, *oldest = NULL;
	for (unsigned i = 0; i < BUCKET_PROBE; i++) {
		struct bucket *c = &srv->buckets[(h + i) % BUCKETS];
		if (c->used && memcmp(c->addr, addr, 16) == 0) {
			b = c;
			break;
		}
		if (oldest == NULL || !c->used || (oldest->used && c->last < oldest->last))
			oldest = c;
	}
	if (b == NULL) {
		/* A new (or evicted) address starts with a full bucket. */
		b = oldest;
		memcpy(b->addr, addr, 16);
		b->used = true;
		b->tokens = srv->burst;
		b->last = now;
	}
	b->tokens += (double)(now - b->last) / 1e9 * srv->rate;
	if (b->tokens > srv->burst)
		b->tokens = srv->burst;
	b->last = now;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

/* The client's address as 16 bytes (IPv4 mapped) and text. */
static void
client_addr(struct serve *srv, struct req *r, unsigned char addr[16])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	memset(addr, 0, 16);
	snprintf(r->ip, sizeof(r->ip), "-");
	bool loopback = false;
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)sa;
			addr[10] = addr[11] = 0xff;
			memcpy(addr + 12, &in->sin_addr, 4);
			inet_ntop(AF_INET, &in->sin_addr, r->ip, sizeof(r->ip));
			loopback = addr[12] == 127;
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)sa;
			memcpy(addr, &in6->sin6_addr, 16);
			inet_ntop(AF_INET6, &in6->sin6_addr, r->ip, sizeof(r->ip));
			loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		}
	}
	if (!srv->o->trust_proxy || !loopback)
		return;
	const char *real = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, "X-Real-IP");
	if (real == NULL)
		return;
	unsigned char tmp[16];
	if (inet_pton(AF_INET, real, tmp) == 1) {
		memset(addr, 0, 16);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, tmp, 4);
		snprintf(r->ip, sizeof(r->ip), "%s", real);
	} else if (inet_pton(AF_INET6, real, tmp) == 1) {
		memcpy(addr, tmp, 16);
		snprintf(r->ip, sizeof(r->ip), "%s", real);
	}
}

/* ---- the writer ---------------------------------------------------------------------- */

static void mhd_run(struct serve *srv);

/*
 * The writer thread: waits for queued events, takes all of them (up to
 * batch_max) and applies them in one transaction, hands the batch back to the
 * loop (wq.done, then the done_async wakes it) and at once starts on what was
 * queued meanwhile, without waiting for the loop to answer the batch it
 * finished (group commit, with the loop and the writer both busy under load).
 */
static void
writer_main(void *arg)
{
	struct serve *srv = arg;
	struct req **reqs = xcalloc(srv->batch_max, sizeof(*reqs));
	struct store_serve_event *ev = xcalloc(srv->batch_max, sizeof(*ev));
	uv_mutex_lock(&srv->wq.lock);
	for (;;) {
		while (srv->wq.head == NULL && !srv->wq.quit)
			uv_cond_wait(&srv->wq.cond, &srv->wq.lock);
		if (srv->wq.head == NULL)
			break; /* quit, and nothing left */
		size_t n = 0;
		while (srv->wq.head && n < srv->batch_max) {
			struct req *r = srv->wq.head;
			srv->wq.head = r->qnext;
			r->qnext = NULL;
			reqs[n] = r;
			ev[n] = r->ev;
			n++;
		}
		if (srv->wq.head == NULL)
			srv->wq.tail = NULL;
		srv->wq.len -= n;
		uv_mutex_unlock(&srv->wq.lock);

		int rc = store_serve_apply(srv->ss, ev, n);
		if (rc < 0) {
			/* The log is the loop's; errors go through it with the batch. */
			char err[256];
			snprintf(err, sizeof(err), "%s", store_errmsg(srv->store));
			uv_mutex_lock(&srv->wq.lock);
			snprintf(srv->wq.err, sizeof(srv->wq.err), "%s", err);
			srv->wq.failed_batches++;
			srv->wq.failed_events += n;
			uv_mutex_unlock(&srv->wq.lock);
		}
		uv_mutex_lock(&srv->wq.lock);
		srv->wq.batches++;
		srv->wq.events += n;
		uv_mutex_unlock(&srv->wq.lock);
		for (size_t i = 0; i < n; i++) {
			reqs[i]->ev = ev[i];
			reqs[i]->failed = rc < 0;
			reqs[i]->qnext = i + 1 < n ? reqs[i + 1] : NULL;
		}
		uv_mutex_lock(&srv->wq.lock);
		if (srv->wq.done_tail)
			srv->wq.done_tail->qnext = reqs[0];
		else
			srv->wq.done = reqs[0];
		srv->wq.done_tail = reqs[n - 1];
		uv_async_send(&srv->done_async);
	}
	uv_mutex_unlock(&srv->wq.lock);
	free(reqs);
	free(ev);
}

/* On the loop: answer the requests whose batches have committed. */
static void
on_done(uv_async_t *a)
{
	struct serve *srv = a->data;
	uv_mutex_lock(&srv->wq.lock);
	struct req *r = srv->wq.done;
	srv->wq.done = srv->wq.done_tail = NULL;
	unsigned long fb = srv->wq.failed_batches, fe = srv->wq.failed_events;
	char err[256];
	snprintf(err, sizeof(err), "%s", srv->wq.err);
	srv->wq.failed_batches = srv->wq.failed_events = 0;
	uv_mutex_unlock(&srv->wq.lock);
	if (fb)
		log_error("serve batch failed batches=%lu events=%lu error=\"%s\"", fb, fe, err);
	if (r == NULL)
		return;
	while (r) {
		struct req *next = r->qnext;
		r->qnext = NULL;
		r->state = REQ_READY;
		srv->suspended--;
		MHD_resume_connection(r->mc);
		r = next;
	}
	mhd_run(srv);
}

/* Queue r's event for the writer and suspend r until it is committed. */
static enum MHD_Result
enqueue(struct serve *srv, struct req *r)
{
	r->ev.campaign_id = r->campaign;
	r->ev.contact_id = r->contact;
	r->ev.ts = (int64_t)time(NULL);
	uv_mutex_lock(&srv->wq.lock);
	if (srv->wq.len >= (size_t)srv->batch_max * QUEUE_FACTOR) {
		uv_mutex_unlock(&srv->wq.lock);
		return answer(r, 503, srv->r_503);
	}
	r->qnext = NULL;
	if (srv->wq.tail)
		srv->wq.tail->qnext = r;
	else
		srv->wq.head = r;
	srv->wq.tail = r;
	srv->wq.len++;
	uv_mutex_unlock(&srv->wq.lock);
	srv->wake_writer = true; /* once per pass of MHD_run: see mhd_run */
	r->state = REQ_WAITING;
	if (r->conn)
		r->conn->busy = true;
	srv->suspended++;
	MHD_suspend_connection(r->mc);
	return MHD_YES;
}

/*
 * WAL checkpoints run on their own connection in the thread pool, beside the
 * writer, so a commit never waits for one (checkpoints fsync the database).
 */
static void
ckpt_work(uv_work_t *w)
{
	struct serve *srv = w->data;
	if (store_serve_checkpoint(srv->ss) < 0)
		log_warn("serve checkpoint failed");
}

static void
ckpt_done(uv_work_t *w, int status)
{
	struct serve *srv = w->data;
	(void)status;
	srv->ckpt_running = false;
}

static void
on_ckpt_timer(uv_timer_t *t)
{
	struct serve *srv = t->data;
	if (srv->ckpt_running)
		return;
	srv->ckpt_running = true;
	srv->ckpt_work.data = srv;
	if (uv_queue_work(&srv->loop, &srv->ckpt_work, ckpt_work, ckpt_done) < 0)
		srv->ckpt_running = false;
}

/* ---- request handling ---------------------------------------------------------------- */

static enum MHD_Result
answer_ready(struct serve *srv, struct req *r)
{
	if (r->failed)
		return answer(r, 503, srv->r_503);
	switch (r->route.kind) {
	case SERVE_ROUTE_UNSUB_POST:
		if (r->ev.result < 0)
			return answer(r, 404, srv->r_404);
		return r->page ? answer_page(r, 1) : answer(r, 200, srv->r_ok);
	case SERVE_ROUTE_RESUB_POST:
		if (r->ev.result < 0)
			return answer(r, 404, srv->r_404);
		return answer_page(r, 2);
	case SERVE_ROUTE_OPEN:
		return answer(r, 200, srv->r_gif);
	case SERVE_ROUTE_CLICK: {
		if (r->ev.result < 0 || !serve_route_redirect_ok(r->ev.url))
			return answer(r, 404, srv->r_404);
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Location", r->ev.url);
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		enum MHD_Result rc = answer(r, 302, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	default:
		return answer(r, 500, srv->r_503);
	}
}

/* report_allowed - loopback clients, or any client with the report password */
static bool
report_allowed(struct serve *srv, struct req *r)
{
	const char *pw = srv->o->report_password;
	if (pw && *pw) {
		char *pass = NULL;
		char *user = MHD_basic_auth_get_username_password(r->mc, &pass);
		bool ok =
		    pass && strlen(pass) == strlen(pw) && CRYPTO_memcmp(pass, pw, strlen(pw)) == 0;
		MHD_free(user);
		MHD_free(pass);
		return ok;
	}
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET)
		return ((const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)
		            ->sin_addr)[0] == 127;
	return sa && sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

/*
 * answer_report - the campaign's HTML report (report.h), made now from the
 * database; while the campaign sends it reloads itself every 15 seconds.
 */
static enum MHD_Result
answer_report(struct serve *srv, struct req *r)
{
	if (!report_allowed(srv, r)) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    13, (void *)"unauthorized\n", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result rc =
		    srv->o->report_password && *srv->o->report_password
		        ? MHD_queue_basic_auth_fail_response(r->mc, "kirim report", resp)
		        : answer(r, 403, resp);
		r->status = srv->o->report_password && *srv->o->report_password ? 401 : 403;
		r->state = REQ_ANSWERED;
		MHD_destroy_response(resp);
		return rc;
	}
	char name[SERVE_TOKEN_MAX + 1];
	snprintf(name, sizeof(name), "%.*s", (int)r->route.token_len, r->route.token);
	struct report rep;
	struct store_report_opts ro = {.top = 10, .slowest = 5};
	/* The store's own connection belongs to the writer thread: the loop reads on its own. */
	if (srv->reports == NULL) {
		char e[256];
		if (store_open(store_path(srv->store), 0, &srv->reports, e, sizeof(e)) < 0) {
			log_error("serve report error=\"%s\"", e);
			return answer(r, 503, srv->r_503);
		}
	}
	if (store_report_fill(srv->reports, name, &ro, &rep) < 0)
		return answer(r, 404, srv->r_404);
	struct buf html = BUF_INIT;
	report_render(&html, &rep, REPORT_HTML, REPORT_BY_DOMAIN);
	bool live =
	    rep.state && (strcmp(rep.state, "sending") == 0 || strcmp(rep.state, "scheduled") == 0);
	report_free(&rep);
	if (live) {
		/* A refresh header: no script needed for the live view. */
		const char *head = strstr(html.data ? html.data : "", "<head>");
		if (head) {
			struct buf t = BUF_INIT;
			size_t at = (size_t)(head - html.data) + 6;
			buf_add(&t, html.data, at);
			buf_adds(&t, "\n<meta http-equiv=\"refresh\" content=\"15\">");
			buf_add(&t, html.data + at, html.len - at);
			buf_free(&html);
			html = t;
		}
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(html.len, html.data, MHD_RESPMEM_MUST_COPY);
	buf_free(&html);
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result rc = answer(r, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* The request is complete (headers and body): route it. */
static enum MHD_Result
dispatch(struct serve *srv, struct req *r)
{
	struct serve_route *rt = &r->route;
	if (r->too_big)
		return answer(r, 413, srv->r_413);
	switch (rt->kind) {
	case SERVE_ROUTE_HEALTH:
		return answer(r, 200, srv->r_health);
	case SERVE_ROUTE_METHOD:
		return answer(r, 405, srv->r_405);
	case SERVE_ROUTE_NOT_FOUND:
	case SERVE_ROUTE_VIEW:
		return answer(r, 404, srv->r_404);
	case SERVE_ROUTE_REPORT:
		return answer_report(srv, r);
	default:
		break;
	}
	enum token_purpose purpose = rt->kind == SERVE_ROUTE_OPEN    ? TOKEN_OPEN
	                             : rt->kind == SERVE_ROUTE_CLICK ? TOKEN_CLICK
	                                                             : TOKEN_UNSUBSCRIBE;
	if (token_check(srv->key, purpose, rt->token, rt->token_len, &r->campaign, &r->contact) <
	    0) {
		r->campaign = -1;
		return answer(r, 404, srv->r_404);
	}
	memcpy(r->token, rt->token, rt->token_len);
	r->token[rt->token_len] = '\0';
	switch (rt->kind) {
	case SERVE_ROUTE_UNSUB_PAGE:
		return answer_page(r, 0);
	case SERVE_ROUTE_UNSUB_POST: {
		const char *ct =
		    MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, "Content-Type");
		if (!serve_route_one_click(ct, r->body.data ? r->body.data : "", r->body.len,
		                           &r->page))
			return answer(r, 400, srv->r_400);
		r->ev.type = STORE_SERVE_UNSUBSCRIBE;
		return enqueue(srv, r);
	}
	case SERVE_ROUTE_RESUB_POST:
		r->ev.type = STORE_SERVE_RESUBSCRIBE;
		return enqueue(srv, r);
	case SERVE_ROUTE_OPEN: {
		if (rt->head)
			return answer(r, 200, srv->r_gif);
		const char *ua = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, "User-Agent");
		r->machine = serve_route_machine_ua(ua);
		r->ev.type = STORE_SERVE_OPEN;
		r->ev.machine = r->machine != NULL;
		r->ev.agent = r->machine;
		return enqueue(srv, r);
	}
	case SERVE_ROUTE_CLICK:
		r->ev.type = STORE_SERVE_CLICK;
		r->ev.link = rt->link;
		r->ev.dry = rt->head;
		return enqueue(srv, r);
	default:
		return answer(r, 404, srv->r_404);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct serve *srv = cls;
	struct req *r = *req_cls;
	(void)version;
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		*req_cls = r;
		r->srv = srv;
		r->mc = mc;
		r->t0 = uv_hrtime();
		r->campaign = -1;
		snprintf(r->method, sizeof(r->method), "%s", method);
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->conn = ci ? ci->socket_context : NULL;
		unsigned char addr[16];
		client_addr(srv, r, addr);
		serve_route_match(method, url, strlen(url), &r->route);
		if (!rate_ok(srv, addr, r->t0))
			return answer(r, 429, srv->r_429);
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > srv->max_body)
			return answer(r, 413, srv->r_413);
		r->state = REQ_BODY;
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->state == REQ_BODY && !r->too_big) {
			if (r->body.len + *upload_size > srv->max_body) {
				r->too_big = true;
				buf_free(&r->body);
			} else {
				buf_add(&r->body, upload, *upload_size);
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	switch (r->state) {
	case REQ_BODY:
		return dispatch(srv, r);
	case REQ_READY:
		return answer_ready(srv, r);
	default:
		return MHD_YES;
	}
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct serve *srv = cls;
	struct req *r = *req_cls;
	(void)mc;
	if (r == NULL)
		return;
	if (r->status == 0)
		r->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499;
	log_request(srv, r);
	if (r->conn) {
		r->conn->busy = false;
		r->conn->since = uv_hrtime();
	}
	buf_free(&r->body);
	free(r);
	*req_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
              enum MHD_ConnectionNotificationCode code)
{
	struct serve *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *c = xcalloc(1, sizeof(*c));
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci ? ci->connect_fd : -1;
		c->since = uv_hrtime();
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		*socket_ctx = c;
		return;
	}
	struct conn *c = *socket_ctx;
	if (c == NULL)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	*socket_ctx = NULL;
}

/*
 * The whole-request deadline: a connection that has not finished sending
 * a request within timeout of its accept (or of its previous answer) is shut
 * down; MHD then sees the socket end and closes it. This catches clients
 * that trickle bytes and so never trip MHD's idle timeout.
 */
static void
on_sweep(uv_timer_t *t)
{
	struct serve *srv = t->data;
	uint64_t now = uv_hrtime(), limit = (uint64_t)srv->timeout * 1000000000u;
	bool cut = false;
	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->busy && c->fd >= 0 && now - c->since > limit) {
			shutdown(c->fd, SHUT_RDWR);
			c->fd = -1;
			cut = true;
		}
	}
	if (cut)
		mhd_run(srv);
}

/* ---- driving MHD from the loop -------------------------------------------------------- */

static void
on_mhd_timer(uv_timer_t *t)
{
	mhd_run(t->data);
}

static void
mhd_run(struct serve *srv)
{
	if (srv->d == NULL)
		return;
	MHD_run(srv->d);
	if (srv->wake_writer) {
		/* Every request that came in this pass is queued: wake the writer once, so
		 * that it takes them as one batch (one commit) instead of the first alone. */
		srv->wake_writer = false;
		uv_mutex_lock(&srv->wq.lock);
		uv_cond_signal(&srv->wq.cond);
		uv_mutex_unlock(&srv->wq.lock);
	}
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(srv->d, &ms) == MHD_YES)
		uv_timer_start(&srv->mhd_timer, on_mhd_timer, ms > 1000 ? 1000 : ms, 0);
	else
		uv_timer_stop(&srv->mhd_timer);
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	mhd_run(p->data);
}

static void
on_close(uv_handle_t *h)
{
	struct serve *srv = h->data;
	srv->open_handles--;
}

static void
close_all(struct serve *srv)
{
	uv_handle_t *hs[] = {(uv_handle_t *)&srv->poll,        (uv_handle_t *)&srv->mhd_timer,
	                     (uv_handle_t *)&srv->sweep_timer, (uv_handle_t *)&srv->log_timer,
	                     (uv_handle_t *)&srv->stop_timer,  (uv_handle_t *)&srv->sigint,
	                     (uv_handle_t *)&srv->sigterm,     (uv_handle_t *)&srv->ckpt_timer,
	                     (uv_handle_t *)&srv->done_async};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		if (hs[i]->data && !uv_is_closing(hs[i]))
			uv_close(hs[i], on_close);
}

/* While stopping: finish when nothing waits for the writer, or after the grace time. */
static void
on_stop_timer(uv_timer_t *t)
{
	struct serve *srv = t->data;
	mhd_run(srv);
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	unsigned conns = di ? di->num_connections : 0;
	/* Every queued request is suspended until the loop has taken it back from the writer. */
	bool idle = srv->suspended == 0;
	if (!idle || (conns > 0 && uv_hrtime() < srv->stop_deadline))
		return;
	/* Nothing is suspended now, so MHD may close what is left. */
	srv->stopped = true;
	uv_poll_stop(&srv->poll); /* before MHD closes the epoll fd it watches */
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
	close_all(srv);
}

static void
on_signal(uv_signal_t *s, int sig)
{
	struct serve *srv = s->data;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_warn("serve stopping signal=%d waiting=%u", sig, srv->suspended);
	int lfd = MHD_quiesce_daemon(srv->d);
	if (lfd >= 0)
		close(lfd);
	srv->stop_deadline = uv_hrtime() + (uint64_t)STOP_GRACE_MS * 1000000u;
	/* Idle keep-alive connections are not waited for: the sweep closes them soon. */
	srv->timeout = 1;
	uv_timer_start(&srv->stop_timer, on_stop_timer, 0, 20);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("microhttpd msg=\"%s\"", line);
}

/* Parse "HOST:PORT" or "[V6]:PORT" into sa. */
static int
parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	const char *h = s;
	size_t hl;
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *in = (void *)sa;
	struct sockaddr_in6 *in6 = (void *)sa;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* serve_run - listen and serve until a signal */
int
serve_run(struct store *s, const struct serve_opts *o, char *err, size_t errsz)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	if (parse_listen(o->listen ? o->listen : "127.0.0.1:8025", &sa, &salen) < 0) {
		snprintf(err, errsz, "--listen '%s': expected HOST:PORT or [IPV6]:PORT", o->listen);
		return -1;
	}
	/*
	 * SQLite's page cache takes and gives back memory with every batch; the
	 * default malloc trimming then returns it to the kernel and faults it in
	 * again (a tenth of the writer's time). Keep it.
	 */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	struct serve *srv = xcalloc(1, sizeof(*srv));
	srv->o = o;
	srv->store = s;
	srv->max_body = o->max_body ? o->max_body : 4096;
	srv->timeout = o->timeout ? o->timeout : 10;
	srv->batch_max = o->batch_max ? o->batch_max : 500;
	srv->rate = o->rate < 0 ? 0 : o->rate > 0 ? o->rate : 20;
	srv->burst = o->burst ? o->burst : 100;
	srv->buckets = xcalloc(BUCKETS, sizeof(*srv->buckets));
	uv_mutex_init(&srv->wq.lock);
	uv_cond_init(&srv->wq.cond);
	int ret = -1;
	srv->ss = store_serve_new(s);
	if (srv->ss == NULL) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		goto out;
	}
	srv->key = token_key_new(o->secret, o->secret_len);
	responses_make(srv);
	unsigned header = o->max_header ? o->max_header : 8192;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(header < 2048 ? 2048 : header),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->timeout, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(o->max_conns ? o->max_conns : 1024), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)(o->max_conns_per_ip ? o->max_conns_per_ip : 256),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (srv->d == NULL) {
		snprintf(err, errsz, "cannot listen on %s: %s", o->listen, strerror(errno));
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = pi ? pi->port : 0;
	uv_loop_init(&srv->loop);
	uv_poll_init(&srv->loop, &srv->poll, di->epoll_fd);
	uv_timer_init(&srv->loop, &srv->mhd_timer);
	uv_timer_init(&srv->loop, &srv->sweep_timer);
	uv_timer_init(&srv->loop, &srv->log_timer);
	uv_timer_init(&srv->loop, &srv->stop_timer);
	uv_signal_init(&srv->loop, &srv->sigint);
	uv_signal_init(&srv->loop, &srv->sigterm);
	uv_timer_init(&srv->loop, &srv->ckpt_timer);
	uv_async_init(&srv->loop, &srv->done_async, on_done);
	uv_handle_t *hs[] = {(uv_handle_t *)&srv->poll,        (uv_handle_t *)&srv->mhd_timer,
	                     (uv_handle_t *)&srv->sweep_timer, (uv_handle_t *)&srv->log_timer,
	                     (uv_handle_t *)&srv->stop_timer,  (uv_handle_t *)&srv->sigint,
	                     (uv_handle_t *)&srv->sigterm,     (uv_handle_t *)&srv->ckpt_timer,
	                     (uv_handle_t *)&srv->done_async};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		hs[i]->data = srv;
	srv->open_handles = sizeof(hs) / sizeof(hs[0]);
	uv_poll_start(&srv->poll, UV_READABLE, on_poll);
	uv_timer_start(&srv->sweep_timer, on_sweep, 1000, 1000);
	uv_timer_start(&srv->log_timer, on_log_timer, LOG_FLUSH_MS, LOG_FLUSH_MS);
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	if (store_serve_checkpoint_start(srv->ss) == 0)
		uv_timer_start(&srv->ckpt_timer, on_ckpt_timer, 200, 200);
	else
		log_warn("serve checkpoints stay in the commits: %s", store_errmsg(s));
	/* From here on the store's connection is the writer thread's. */
	if (uv_thread_create(&srv->writer, writer_main, srv) != 0) {
		snprintf(err, errsz, "cannot start the writer thread");
		close_all(srv);
		uv_run(&srv->loop, UV_RUN_DEFAULT);
		uv_loop_close(&srv->loop);
		goto out;
	}
	srv->writer_started = true;
	log_info("serve listening=%s port=%u base_url=%s batch_max=%u rate=%g burst=%g "
	         "max_body=%u timeout=%u",
	         o->listen, port, o->base_url ? o->base_url : "-", srv->batch_max, srv->rate,
	         srv->burst, srv->max_body, srv->timeout);
	if (o->ready)
		o->ready(o->ready_arg, port);
	mhd_run(srv);
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	log_flush(srv);
	int lc = uv_loop_close(&srv->loop);
	if (lc != 0)
		log_error("serve loop_close=%s", uv_strerror(lc));
	ret = srv->stopped ? 0 : -1;
	if (ret < 0)
		snprintf(err, errsz, "the event loop ended unexpectedly");
out:
	if (srv->writer_started) {
		uv_mutex_lock(&srv->wq.lock);
		srv->wq.quit = true;
		uv_cond_signal(&srv->wq.cond);
		uv_mutex_unlock(&srv->wq.lock);
		uv_thread_join(&srv->writer);
		log_info("serve stopped batches=%lu events=%lu events_per_batch=%.1f",
		         srv->wq.batches, srv->wq.events,
		         srv->wq.batches ? (double)srv->wq.events / (double)srv->wq.batches : 0.0);
	}
	if (srv->d)
		MHD_stop_daemon(srv->d);
	store_close(srv->reports);
	responses_free(srv);
	store_serve_free(srv->ss);
	token_key_free(srv->key);
	buf_free(&srv->log);
	free(srv->buckets);
	uv_cond_destroy(&srv->wq.cond);
	uv_mutex_destroy(&srv->wq.lock);
	free(srv);
	return ret;
}
