/*
 * serve - the unsubscribe and tracking HTTP endpoint (see serve.h).
 *
 * Threads: the loop thread runs libuv, the HTTP server (http.h: llhttp on
 * the loop's sockets) and every request handler; the writer thread
 * (writer_main, at a lower priority: WRITER_NICE) alone uses the store's
 * connection, one batch (transaction) at a time, back to back while events
 * are queued, and folds the journal; the journal thread (journal_main)
 * commits one-click unsubscribes to the journal; the libuv worker pool runs
 * the WAL checkpoints on their own connections. A request that writes is
 * queued (its connection reads nothing more meanwhile) until its batch has
 * committed, then answered from the loop thread (on_done). The writer is
 * woken once per loop pass (a uv_check), so every request read in one pass
 * goes into one batch. The /r/ report pages read through a second store the
 * loop opens when needed. Browser views (/v/) are rendered in libuv's thread
 * pool, one work (a batch of views) at a time, on a third connection that
 * work opens and alone uses; their requests wait meanwhile, as writes do.
 * The subscriber pages (preferences, signup, confirmation, errors: pages.h)
 * are rendered by the same work, after their writes when they have any, so
 * that a page shows the state as committed.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "kirim/api.h"
#include "kirim/base64.h"
#include "kirim/buf.h"
#include "kirim/address.h"
#include "kirim/campaign.h"
#include "kirim/config.h"
#include "kirim/esp_hooks.h"
#include "kirim/http.h"
#include "kirim/log.h"
#include "kirim/pages.h"
#include "kirim/report.h"
#include "kirim/serve_route.h"
#include "kirim/store.h"
#include "kirim/store_report.h"
#include "kirim/store_serve.h"
#include "kirim/store_signup.h"
#include "kirim/signup.h"
#include "kirim/throttle.h"
#include "kirim/token.h"
#include "kirim/webhooks.h"
#include "kirim/xmalloc.h"

enum {
	BUCKETS = 4096,   /* per-IP rate slots */
	QUEUE_FACTOR = 8, /* queued events beyond batch_max × this get 503 */
	/*
	 * Journaled unsubscribes per fold transaction, at most; a fold starts
	 * when that many wait, or FOLD_WAIT_MS after the first one. The bigger
	 * the fold, the cheaper each unsubscribe in it (store_serve_fold takes
	 * them in contact order, and the index pages they write are shared): in
	 * random order 11.5 µs each in folds of 2,048, 6.8 in 8,192, 4.9 in
	 * 32,768. An unsubscribe is answered once journaled; the fold only
	 * decides when the database shows it.
	 */
	FOLD_MAX = 32768,
	FOLD_WAIT_MS = 500,
	/*
	 * Journaled and not folded yet, at most (then answers wait for the fold):
	 * ~0.7 s of folding in random order, so a burst is answered at the
	 * journal's pace and a suppression still reaches the database within
	 * seconds; a sustained load beyond the fold's pace is answered at it.
	 */
	JOURNAL_BACKLOG = 131072,
	LOG_FLUSH_MS = 100, /* the access log is written at least this often */
	LOG_FLUSH_BYTES = 64 * 1024,
	STOP_GRACE_MS = 10000, /* how long a stop waits for connections to finish */
	/*
	 * A passive WAL checkpoint this often: small ones. At 200 ms each one's
	 * fsync wrote back enough to stall commits behind it (bench-serve's p99
	 * 9.6-10.3 ms, against 5.2-6.3 ms at 50 ms, same requests/s).
	 */
	CKPT_MS = 50,
	/*
	 * The writer thread's nice value: folds are batch work with seconds to
	 * spare, the HTTP and journal threads answer requests. On a busy machine
	 * a fold's CPU bursts (~0.2 s each) delayed answers: bench-serve's random
	 * order, 7 runs each, p99 median 7.7 ms (5.2-26.8) at nice 0 against
	 * 5.3 ms (4.5-7.3) at 10, and 60,900 against 64,200 requests/s. The
	 * fold still keeps up (the same number of folds per run); when it
	 * cannot, the journal's backlog cap holds the answers back to its pace.
	 */
	WRITER_NICE = 10,
	/*
	 * Browser views waiting to be rendered, at most (more get 503), and
	 * taken by one work. A view is a person's click, not a burst: this only
	 * bounds what a flood of valid links can queue.
	 */
	VIEW_QUEUE_MAX = 256,
	VIEW_BATCH = 32,
};

/*
 * The subscriber pages the view work makes. The states of each are the
 * template's sections (templates/pages/).
 */
enum page_job {
	JOB_VIEW,    /* the browser view (campaign.h) */
	JOB_PREFS,   /* preferences.html for (campaign, contact) */
	JOB_SIGNUP,  /* signup.html of a list */
	JOB_CONFIRM, /* confirm.html for (campaign, contact) */
	JOB_ERROR,   /* error.html */
	JOB_HOOK,    /* a provider's webhook (esp_hooks.h): checked and recorded, not a page */
};
enum page_state {
	ST_NONE,
	ST_UNSUBSCRIBED, /* preferences: after an unsubscribe */
	ST_RESUBSCRIBED, /* preferences: after a resubscribe */
	ST_SENT,         /* signup: accepted (or a bot, told the same) */
	ST_FORM_ERROR,   /* signup: the form again, with what is wrong */
	ST_ASK,          /* confirm: the button */
	ST_DONE,         /* confirm: confirmed now */
	ST_ALREADY,      /* confirm: confirmed before */
	ST_EXPIRED,      /* confirm: the link is too old */
	ST_BUSY,         /* error: try again */
};

/* A signup request's fields, alive until it is answered (the writer reads them). */
struct signup_req {
	struct signup_form form;
	enum signup_problem problem;
	struct store_signup st;
	char list[64];
	const char *lang;
	char ip[INET6_ADDRSTRLEN];
	char user_agent[256];
	struct buf attrs;
	const char *consent; /* the text agreed to (srv->consents) */
};

/* One request, from http.h's on_request until its on_end. */
struct req {
	struct serve *srv;
	struct http_req *hr;
	struct serve_route route;
	char method[8];
	char ip[INET6_ADDRSTRLEN];
	uint64_t t0;
	int status;
	bool page, failed;
	bool local; /* the client is on this machine (client_addr): the report's rule */
	const char *machine;
	int64_t campaign, contact;
	char token[SERVE_TOKEN_MAX + 1];
	struct store_serve_event ev;
	struct req *qnext; /* writer queue, or the views' */
	/* A browser view: the page the view work made (its rc: 0, CAMPAIGN_E_NOTFOUND, -1). */
	struct buf view;
	int view_rc;
	bool view_html;
	/*
	 * A subscriber page (pages.h), made by the view work: which, in what
	 * state, and what the loop copied from the request for it (the work
	 * never reads the HTTP request: it is the loop's).
	 */
	enum page_job job;
	int page_state;
	int page_status;
	bool rendered;                   /* came back from the view work: answer what it made */
	const char *note;                /* for the access log (a static string), or NULL */
	char client[INET6_ADDRSTRLEN];   /* the client's address as text, for a consent */
	char lang_ask[I18N_TAG_MAX + 1]; /* ?lang=, or the form's lang */
	char accept[128];                /* Accept-Language (cut) */
	char reason[SIGNUP_REASON_MAX + 1];
	struct signup_req *su; /* a signup's own fields */
	/* A provider's webhook: what the work reads, copied from the request, and the answer's
	 * extra headers (static). */
	struct esp_hooks_req hook;
	char *hook_strs[4]; /* the copies: body, Authorization, the two SendGrid headers */
	bool hook_ask;      /* the answer asks for Basic credentials */
	/* A signup's CORS headers for a listed origin ([signup] cors_origins), "" else. */
	char cors[CONFIG_CORS_ORIGIN_MAX + 64];
};

/* An answer made once: status, extra headers, body. */
struct canned {
	int status;
	const char *headers;
	const void *body;
	size_t len;
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
	/*
	 * Browser views: requests wait in a queue (the loop's); one work at a
	 * time takes up to VIEW_BATCH of them into view_batch and renders them
	 * on views, a connection the work opens on first use and alone uses.
	 * view_batch is the work's from uv_queue_work to its done callback.
	 */
	struct store *views;
	uv_work_t view_work;
	bool view_running;
	struct req *view_head, *view_tail, *view_batch;
	size_t view_len;
	struct store_serve *ss;
	struct token_key *key;
	struct http_server *http;
	struct api *api;               /* the admin listener (api.h); NULL when off */
	struct webhooks_runner *hooks; /* the webhook delivery thread (webhooks.h) */
	struct esp_hooks *esp;         /* providers' webhooks in (esp_hooks.h): the view work's */
	struct api_opts api_opts;
	unsigned closing; /* servers still closing while stopping */
	uv_loop_t loop;
	uv_check_t wake_check;
	uv_timer_t log_timer, stop_timer, ckpt_timer;
	uv_work_t ckpt_work;
	bool ckpt_running;
	/* The writer's and journal's commits (atomic), and their count at the last checkpoint */
	unsigned long commits, ckpt_commits;
	uv_signal_t sigint, sigterm;
	unsigned open_handles;
	struct wqueue wq;
	uv_thread_t writer;
	bool writer_started;
	/* The journal (store_serve.h): one-click unsubscribes, committed by their own thread. */
	struct store_journal *journal;
	struct wqueue jq;
	uv_thread_t jwriter;
	bool jwriter_started, wake_journal;
	int64_t journal_last; /* the last journal id committed (atomic) */
	int64_t fold_through; /* journal id folded up to: the journal thread prunes (atomic) */
	/*
	 * What the writer waits for (wq.lock): nothing to fold (any new row
	 * wakes it), a fold's due time (only a full fold's worth wakes it
	 * early), or not waiting at all.
	 */
	enum { WRITER_BUSY, WRITER_IDLE, WRITER_DUE } writer_wait;
	int64_t folded;      /* folded in this run, for the log (jq.lock) */
	unsigned long folds; /* fold transactions (jq.lock) */
	uv_async_t done_async;
	bool wake_writer; /* events were queued since the writer was last woken */
	bool stopping, stopped;
	uint64_t stop_deadline;
	unsigned waiting;               /* requests queued for the writer or in its batch */
	struct throttle_keyed *buckets; /* the per-IP rate table (throttle.h) */
	/*
	 * Signups per client address ([signup] per_ip_per_hour): a table of its
	 * own, beside the one every request draws from.
	 */
	struct throttle_keyed *signup_buckets;
	double signup_rate, signup_burst;
	/* The subscriber pages, and what the loop needs of them. */
	struct pages *pages;
	char page_headers[1024]; /* Content-Type, caching, CSP (the logo's origin) */
	char **consents;         /* [list × language]: the consent text of each */
	const char *const *langs;
	size_t nlangs;
	struct buf log;
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
	if (r->note)
		buf_printf(&srv->log, " note=%s", r->note);
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

#define PLAIN "Content-Type: text/plain; charset=utf-8\r\n"
#define NOSTORE "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
#define CANNED(st, extra, text)                                                                    \
	{                                                                                          \
		st, PLAIN NOSTORE extra, text, sizeof(text) - 1                                    \
	}

/* The one-click answer: empty (RFC 8058), so no type to declare. */
static const struct canned r_ok = {200, "Cache-Control: no-store\r\n", "", 0},
                           r_health = CANNED(200, "", "ok\n"),
                           r_400 = CANNED(400, "", "bad request\n"),
                           r_404 = CANNED(404, "", "not found\n"),
                           r_405 =
                               CANNED(405, "Allow: GET, HEAD, POST\r\n", "method not allowed\n"),
                           r_429 = CANNED(429, "Retry-After: 1\r\n", "too many requests\n"),
                           r_500 = CANNED(500, "", "this page could not be made\n"),
                           r_503 = CANNED(503, "Retry-After: 5\r\n", "busy, try again\n"),
                           r_gif = {200, "Content-Type: image/gif\r\n" NOSTORE, gif, sizeof(gif)};

/* Answer r (which is freed: http.h's on_end runs before this returns). */
static void
answer_with(struct req *r, int status, const char *headers, const void *body, size_t len)
{
	r->status = status;
	if (r->cors[0]) {
		struct buf h = BUF_INIT;
		buf_adds(&h, headers ? headers : "");
		buf_adds(&h, r->cors);
		http_respond(r->hr, status, h.data, body, len);
		buf_free(&h);
		return;
	}
	http_respond(r->hr, status, headers, body, len);
}

static void
answer(struct req *r, const struct canned *c)
{
	answer_with(r, c->status, c->headers, c->body, c->len);
}

/* ---- per-IP token bucket ------------------------------------------------------------- */

/* rate_take - take one request's token from addr's bucket in table (BUCKETS slots, rate per
 * second, burst); false when it is empty (429) */
static bool
rate_take(struct throttle_keyed *table, double rate, double burst, const unsigned char addr[16],
          uint64_t now_ns)
{
	if (rate <= 0)
		return true;
	double now = (double)now_ns / 1e9;
	struct throttle_bucket *b = throttle_keyed_bucket(table, BUCKETS, addr, rate, burst, now);
	return throttle_bucket_take(b, now) == 0;
}

/*
 * The client's address as 16 bytes (IPv4 mapped) and text, and r->local. The
 * rate limit, the access log and the report's loopback rule all take it from
 * here (serve_route_client: with --trust-proxy, the one the proxy names).
 */
static void
client_addr(struct serve *srv, struct req *r, unsigned char addr[16])
{
	/* r->ip is for the access log only */
	bool text = log_get_level() >= LOG_INFO;
	const char *fwd = NULL, *real = NULL;
	if (srv->o->trust_proxy) {
		fwd = http_header_last(r->hr, "X-Forwarded-For");
		real = http_header_last(r->hr, "X-Real-IP");
	}
	r->local = serve_route_client(r->hr->peer, srv->o->trust_proxy, fwd, real, addr,
	                              text ? r->ip : NULL, sizeof(r->ip));
	if (!text)
		memcpy(r->ip, "-", 2);
}

/* ---- the writer ---------------------------------------------------------------------- */

/* Append r to the list from *head to *tail (linked by qnext). */
static void
req_append(struct req **head, struct req **tail, struct req *r)
{
	r->qnext = NULL;
	if (*tail)
		(*tail)->qnext = r;
	else
		*head = r;
	*tail = r;
}

/* Wake the thread that works q (under q's lock: a thread about to wait sees the change). */
static void
queue_wake(struct wqueue *q)
{
	uv_mutex_lock(&q->lock);
	uv_cond_signal(&q->cond);
	uv_mutex_unlock(&q->lock);
}

/* Take up to max queued requests of q (its lock held) into reqs and ev. */
static size_t
take(struct wqueue *q, struct req **reqs, struct store_serve_event *ev, size_t max)
{
	size_t n = 0;
	while (q->head && n < max) {
		struct req *r = q->head;
		q->head = r->qnext;
		r->qnext = NULL;
		reqs[n] = r;
		ev[n] = r->ev;
		n++;
	}
	if (q->head == NULL)
		q->tail = NULL;
	q->len -= n;
	return n;
}

/* Give n requests, with their results, back to the loop to answer (rc < 0: the batch failed). */
static void
hand_back(struct serve *srv, struct req **reqs, struct store_serve_event *ev, size_t n, int rc,
          const char *err)
{
	for (size_t i = 0; i < n; i++) {
		reqs[i]->ev = ev[i];
		reqs[i]->failed = rc < 0;
		reqs[i]->qnext = i + 1 < n ? reqs[i + 1] : NULL;
	}
	uv_mutex_lock(&srv->wq.lock);
	if (rc < 0) {
		/* The log is the loop's; errors go through it with the batch. */
		snprintf(srv->wq.err, sizeof(srv->wq.err), "%s", err);
		srv->wq.failed_batches++;
		srv->wq.failed_events += n;
	}
	if (n) {
		if (srv->wq.done_tail)
			srv->wq.done_tail->qnext = reqs[0];
		else
			srv->wq.done = reqs[0];
		srv->wq.done_tail = reqs[n - 1];
		uv_async_send(&srv->done_async);
	}
	uv_mutex_unlock(&srv->wq.lock);
}

/* Journaled and not folded yet (journal ids are consecutive). */
static int64_t
backlog(struct serve *srv)
{
	int64_t b = __atomic_load_n(&srv->journal_last, __ATOMIC_ACQUIRE) -
	            __atomic_load_n(&srv->fold_through, __ATOMIC_ACQUIRE);
	return b > 0 ? b : 0;
}

/*
 * The journal thread: takes the queued one-click unsubscribes (all of them,
 * up to batch_max), commits them to the journal (store_serve.h) and hands
 * them back to be answered, then tells the writer there is something to fold.
 * It waits while more than JOURNAL_BACKLOG journaled unsubscribes are not
 * folded yet: under a load the fold cannot keep up with, the answers slow
 * down to the fold's pace rather than the journal growing without end.
 */
static void
journal_main(void *arg)
{
	struct serve *srv = arg;
	struct req **reqs = xcalloc(srv->batch_max, sizeof(*reqs));
	struct store_serve_event *ev = xcalloc(srv->batch_max, sizeof(*ev));
	uv_mutex_lock(&srv->jq.lock);
	for (;;) {
		while (srv->jq.head == NULL && !srv->jq.quit)
			uv_cond_wait(&srv->jq.cond, &srv->jq.lock);
		while (backlog(srv) > JOURNAL_BACKLOG && !srv->jq.quit)
			uv_cond_wait(&srv->jq.cond, &srv->jq.lock);
		if (srv->jq.head == NULL)
			break; /* quit, and nothing left */
		size_t n = take(&srv->jq, reqs, ev, srv->batch_max);
		uv_mutex_unlock(&srv->jq.lock);

		int64_t last = 0;
		int rc = store_journal_add(srv->journal, ev, n, &last,
		                           __atomic_load_n(&srv->fold_through, __ATOMIC_ACQUIRE));
		hand_back(srv, reqs, ev, n, rc, rc < 0 ? store_journal_errmsg(srv->journal) : "");
		if (rc == 0) /* a checkpoint is due */
			__atomic_add_fetch(&srv->commits, 1, __ATOMIC_RELAXED);
		if (rc == 0 && last > __atomic_load_n(&srv->journal_last, __ATOMIC_RELAXED)) {
			/*
			 * Under wq.lock, so a writer either sees the new rows or is
			 * waiting and learns of them. A writer waiting for a fold's due
			 * time is woken only by a full fold's worth: a wake-up per
			 * journal batch cost each of them two context switches.
			 */
			uv_mutex_lock(&srv->wq.lock);
			__atomic_store_n(&srv->journal_last, last, __ATOMIC_RELEASE);
			if (srv->writer_wait == WRITER_IDLE ||
			    (srv->writer_wait == WRITER_DUE && backlog(srv) >= FOLD_MAX))
				uv_cond_signal(&srv->wq.cond);
			uv_mutex_unlock(&srv->wq.lock);
		}
		uv_mutex_lock(&srv->jq.lock);
		srv->jq.batches++;
		srv->jq.events += n;
	}
	uv_mutex_unlock(&srv->jq.lock);
	free(reqs);
	free(ev);
}

/* Fold the journal (all of it when all is set); whether more may be left. */
static bool
fold(struct serve *srv, bool all)
{
	size_t n = 0;
	int64_t through = 0;
	int rc = store_serve_fold(srv->ss, all ? 0 : FOLD_MAX, &n, &through);
	if (rc < 0) {
		char err[256];
		snprintf(err, sizeof(err), "fold the journal: %s", store_errmsg(srv->store));
		hand_back(srv, NULL, NULL, 0, rc, err);
		uv_sleep(100); /* the journal stays; the next fold tries again */
		return true;
	}
	uv_mutex_lock(&srv->jq.lock);
	srv->folded += (int64_t)n;
	if (n)
		__atomic_add_fetch(&srv->commits, 1, __ATOMIC_RELAXED);
	if (through > 0)
		__atomic_store_n(&srv->fold_through, through, __ATOMIC_RELEASE);
	srv->folds += n > 0;
	uv_cond_broadcast(&srv->jq.cond); /* a journal thread held back by the backlog */
	uv_mutex_unlock(&srv->jq.lock);
	return !all && n == FOLD_MAX;
}

/*
 * The writer thread: waits for queued events or journaled unsubscribes. It
 * folds the journal (FOLD_MAX at a time while nothing else waits), and
 * applies the other events in one transaction per batch, after folding all
 * of the journal first when the batch has an unsubscribe or resubscribe: an
 * unsubscribe answered before a resubscribe arrived is applied before it.
 * Then it hands the batch back to the loop (wq.done, then the done_async
 * wakes it) and at once starts on what was queued meanwhile, without
 * waiting for the loop to answer the batch it finished
 * (group commit, with the loop and the writer both busy under load). At quit
 * it folds what is left.
 */
static void
writer_main(void *arg)
{
	struct serve *srv = arg;
	struct req **reqs = xcalloc(srv->batch_max, sizeof(*reqs));
	struct store_serve_event *ev = xcalloc(srv->batch_max, sizeof(*ev));
	bool more = true; /* a journal left by an earlier run */
#ifdef __linux__
	/* Linux sets a thread's own nice value by its id; a failure only costs latency. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WRITER_NICE);
#endif
	uint64_t due = 0; /* when what waits in the journal is to be folded */
	uv_mutex_lock(&srv->wq.lock);
	for (;;) {
		/*
		 * A fold waits for FOLD_MAX journaled unsubscribes, or FOLD_WAIT_MS
		 * (the bigger the fold, the cheaper each unsubscribe in it).
		 */
		bool want = more;
		while (!want && srv->wq.head == NULL && !srv->wq.quit) {
			int64_t b = backlog(srv);
			uint64_t now = uv_hrtime();
			if (b >= FOLD_MAX) {
				want = true;
			} else if (b == 0) {
				due = 0;
				srv->writer_wait = WRITER_IDLE;
				uv_cond_wait(&srv->wq.cond, &srv->wq.lock);
			} else {
				/* FOLD_WAIT_MS from the first one waiting, whatever wakes us
				 * meanwhile. */
				if (due == 0)
					due = now + (uint64_t)FOLD_WAIT_MS * 1000000u;
				if (now >= due) {
					want = true;
				} else {
					srv->writer_wait = WRITER_DUE;
					uv_cond_timedwait(&srv->wq.cond, &srv->wq.lock, due - now);
				}
			}
			srv->writer_wait = WRITER_BUSY;
		}
		due = 0;
		bool quit = srv->wq.quit && srv->wq.head == NULL;
		size_t n = take(&srv->wq, reqs, ev, srv->batch_max);
		uv_mutex_unlock(&srv->wq.lock);

		/*
		 * Before an unsubscribe or resubscribe, everything journaled so far
		 * (see above). Opens and clicks do not depend on it: they do not
		 * wait for a fold of the whole backlog.
		 */
		bool ordered = false;
		for (size_t i = 0; i < n && !ordered; i++)
			ordered = ev[i].type == STORE_SERVE_UNSUBSCRIBE ||
			          ev[i].type == STORE_SERVE_RESUBSCRIBE;
		more = false;
		if (want || quit || (ordered && srv->journal))
			more = fold(srv, ordered || quit);
		if (n) {
			int rc = store_serve_apply(srv->ss, ev, n);
			__atomic_add_fetch(&srv->commits, 1, __ATOMIC_RELAXED);
			hand_back(srv, reqs, ev, n, rc, rc < 0 ? store_errmsg(srv->store) : "");
		}
		uv_mutex_lock(&srv->wq.lock);
		srv->wq.batches += n > 0;
		srv->wq.events += n;
		if (quit) {
			/* The journal thread has stopped: the folded rows are ours to delete. */
			store_serve_prune(srv->ss,
			                  __atomic_load_n(&srv->fold_through, __ATOMIC_ACQUIRE));
			break;
		}
	}
	uv_mutex_unlock(&srv->wq.lock);
	free(reqs);
	free(ev);
}

/* On the loop: answer the requests whose batches have committed. */
static void answer_ready(struct serve *srv, struct req *r);

/* Answer the list of requests from r (linked by qnext) that waited for a thread. */
static void
answer_all(struct serve *srv, struct req *r)
{
	while (r) {
		struct req *next = r->qnext;
		r->qnext = NULL;
		srv->waiting--;
		answer_ready(srv, r);
		r = next;
	}
}

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
	answer_all(srv, r);
}

/* After the loop has read what was ready: wake the writer once for all of it (one batch). */
static void
on_wake_check(uv_check_t *h)
{
	struct serve *srv = h->data;
	if (srv->wake_writer) {
		srv->wake_writer = false;
		queue_wake(&srv->wq);
	}
	if (srv->wake_journal) {
		srv->wake_journal = false;
		queue_wake(&srv->jq);
	}
}

/*
 * Queue r's event: a one-click unsubscribe (no page to show) for the journal
 * thread, anything else for the writer; r is answered once it is committed.
 */
static void
enqueue(struct serve *srv, struct req *r)
{
	r->ev.campaign_id = r->campaign;
	r->ev.contact_id = r->contact;
	r->ev.ts = (int64_t)time(NULL);
	bool journal = srv->journal && r->ev.type == STORE_SERVE_UNSUBSCRIBE && !r->page;
	struct wqueue *q = journal ? &srv->jq : &srv->wq;
	uv_mutex_lock(&q->lock);
	if (q->len >= (size_t)srv->batch_max * QUEUE_FACTOR) {
		uv_mutex_unlock(&q->lock);
		answer(r, &r_503);
		return;
	}
	req_append(&q->head, &q->tail, r);
	q->len++;
	uv_mutex_unlock(&q->lock);
	/* on_wake_check wakes the thread once per loop pass */
	if (journal)
		srv->wake_journal = true;
	else
		srv->wake_writer = true;
	srv->waiting++;
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
	if (srv->journal && store_journal_checkpoint(srv->journal) < 0)
		log_warn("serve journal checkpoint failed");
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
	unsigned long c = __atomic_load_n(&srv->commits, __ATOMIC_RELAXED);
	if (srv->ckpt_running || c == srv->ckpt_commits)
		return; /* nothing written since the last one: no wake-up for nothing */
	srv->ckpt_commits = c;
	srv->ckpt_running = true;
	srv->ckpt_work.data = srv;
	if (uv_queue_work(&srv->loop, &srv->ckpt_work, ckpt_work, ckpt_done) < 0)
		srv->ckpt_running = false;
}

/* ---- the browser view ---------------------------------------------------------------- */

/*
 * The view's headers. The page is one person's message: private, never
 * stored, never indexed. Its URL holds the token, so no Referer goes to the
 * sites it links to. A mail client runs no scripts and no plugins, and the
 * page runs none either; images and styles load as they do in the mail.
 */
#define VIEW_HEADERS                                                                               \
	"Cache-Control: private, no-store\r\nX-Robots-Tag: noindex\r\n"                            \
	"X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"                      \
	"Content-Security-Policy: script-src 'none'; object-src 'none';"                           \
	" frame-ancestors 'none'\r\n"

/* The work's read connection, opened on first use; false when it cannot be. */
static bool
views_open(struct serve *srv)
{
	char err[512];
	if (srv->views == NULL &&
	    store_open(store_path(srv->store), 0, &srv->views, err, sizeof(err)) < 0) {
		log_error("serve view error=\"%s\"", err);
		return false;
	}
	return true;
}

/* What a preferences or confirmation page shows of (campaign, contact): its ctx fields. */
static void
page_info_fields(const struct store_page_info *pi, json_t *ctx)
{
	char masked[ADDRESS_MAX + 16];
	address_mask(pi->email, masked, sizeof(masked));
	json_object_set_new(ctx, "email", json_string(masked));
	json_object_set_new(ctx, "list", json_string(pi->list));
	json_object_set_new(ctx, "confirm", json_boolean(pi->confirm));
}

/* The preferences page's state from what the request did, or (a GET) from the store. */
static void
prefs_fields(const struct req *r, const struct store_page_info *pi, json_t *ctx)
{
	/* The forms' actions are relative: from /u/TOKEN they need "TOKEN/". */
	bool at_token =
	    r->route.kind == SERVE_ROUTE_UNSUB_PAGE || r->route.kind == SERVE_ROUTE_UNSUB_POST;
	json_object_set_new(ctx, "prefix",
	                    at_token ? json_sprintf("%s/", r->token) : json_string(""));
	bool all;
	if (r->ev.scope != STORE_SERVE_SCOPE_CAMPAIGN)
		all = r->ev.scope == STORE_SERVE_SCOPE_ALL && !pi->confirm;
	else
		all = !pi->list_scope;
	switch (r->page_state) {
	case ST_UNSUBSCRIBED:
		json_object_set_new(ctx, "unsubscribed", json_true());
		json_object_set_new(ctx, "all", json_boolean(all));
		return;
	case ST_RESUBSCRIBED:
		json_object_set_new(ctx, "resubscribed", json_true());
		json_object_set_new(ctx, "all", json_boolean(all));
		return;
	default:
		break;
	}
	if (strcmp(pi->suppressed, "unsubscribe") == 0) {
		json_object_set_new(ctx, "unsubscribed", json_true());
		json_object_set_new(ctx, "all", json_true());
	} else if (pi->suppressed[0]) {
		json_object_set_new(ctx, "blocked", json_true());
	} else if (pi->member == STORE_MEMBER_NONE) {
		json_object_set_new(ctx, "unsubscribed", json_true());
	} else {
		json_object_set_new(ctx, "subscribed", json_true());
	}
}

/* The list's index in [signup] lists, or -1 when it takes no signups. */
static int
signup_list(const struct serve *srv, const char *name)
{
	const struct config *cfg = srv->o->cfg;
	for (size_t i = 0; i < cfg->n_signup_lists; i++)
		if (strcmp(cfg->signup_lists[i], name) == 0)
			return (int)i;
	return -1;
}

/*
 * The thread pool: one subscriber page into r->view, with r->page_status
 * (r->view_rc 0, or -1 when it could not be made). Pages about a (campaign,
 * contact) read it on the work's connection: the state as committed.
 */
static void
page_make(struct serve *srv, struct req *r)
{
	json_t *ctx = json_object();
	struct store_page_info pi;
	const char *attr = NULL;
	enum pages_kind kind = PAGES_ERROR;
	bool get = r->route.kind == SERVE_ROUTE_UNSUB_PAGE ||
	           r->route.kind == SERVE_ROUTE_SIGNUP_PAGE ||
	           r->route.kind == SERVE_ROUTE_CONFIRM_PAGE || r->route.kind == SERVE_ROUTE_VIEW;
	memset(&pi, 0, sizeof(pi));
	if (r->job == JOB_PREFS || r->job == JOB_CONFIRM) {
		int rc = views_open(srv) ? store_page_info(srv->views, r->campaign, r->contact, &pi)
		                         : STORE_E_SQL;
		/*
		 * A confirmation link whose signup was purged ([signup] pending_days),
		 * contact and all: the link has expired, and the page says so.
		 */
		if (rc == STORE_E_NOTFOUND && r->job == JOB_CONFIRM &&
		    store_signup_confirm_list(srv->views, r->campaign, &pi.list_id, pi.list,
		                              sizeof(pi.list)) == 0) {
			rc = 0;
			pi.confirm = true;
			json_object_set_new(ctx, "list", json_string(pi.list));
		} else if (rc == 0) {
			attr = pi.language;
			page_info_fields(&pi, ctx);
		}
		if (rc == 0 && r->job == JOB_CONFIRM && pi.member == STORE_MEMBER_NONE &&
		    r->page_state != ST_EXPIRED) {
			r->page_state = ST_EXPIRED;
			r->page_status = 410;
			r->note = "expired";
		}
		if (rc != 0) {
			if (rc != STORE_E_NOTFOUND)
				log_error("serve page campaign=%lld contact=%lld error=\"%s\"",
				          (long long)r->campaign, (long long)r->contact,
				          srv->views ? store_errmsg(srv->views) : "no connection");
			r->job = JOB_ERROR;
			r->page_state = rc == STORE_E_NOTFOUND ? ST_NONE : ST_BUSY;
			r->page_status = rc == STORE_E_NOTFOUND ? 404 : 503;
		}
	}
	const char *lang = pages_lang(srv->pages, r->lang_ask, attr, r->accept);
	const struct config *cfg = srv->o->cfg;
	switch (r->job) {
	case JOB_PREFS:
		kind = PAGES_PREFERENCES;
		prefs_fields(r, &pi, ctx);
		break;
	case JOB_CONFIRM:
		kind = PAGES_CONFIRM;
		json_object_set_new(ctx, "token", json_string(r->token));
		json_object_set_new(ctx, "hours", json_integer(cfg->signup_expiry_hours));
		if (r->page_state == ST_ASK && pi.member == STORE_MEMBER_CONFIRMED)
			r->page_state = ST_ALREADY;
		json_object_set_new(ctx,
		                    r->page_state == ST_DONE      ? "done"
		                    : r->page_state == ST_ALREADY ? "already"
		                    : r->page_state == ST_EXPIRED ? "expired"
		                                                  : "ask",
		                    json_true());
		if (r->page_state == ST_EXPIRED && signup_list(srv, pi.list) >= 0)
			json_object_set_new(ctx, "signup_url", json_sprintf("../s/%s", pi.list));
		break;
	case JOB_SIGNUP: {
		const struct signup_req *su = r->su;
		kind = PAGES_SIGNUP;
		json_object_set_new(ctx, "list", json_string(r->token));
		json_object_set_new(ctx, "action", json_string(r->token));
		json_object_set_new(ctx, "form", json_sprintf("kirim:/s/%s", r->token));
		if (su && su->form.form[0])
			json_object_set_new(ctx, "form", json_string(su->form.form));
		if (su) {
			json_object_set_new(ctx, "email", json_string(su->form.email));
			json_object_set_new(ctx, "name", json_string(su->form.name));
		}
		if (r->page_state == ST_SENT)
			json_object_set_new(ctx, "sent", json_true());
		if (r->page_state == ST_FORM_ERROR && su) {
			json_object_set_new(ctx, "error", json_true());
			json_object_set_new(
			    ctx, su->problem == SIGNUP_BAD_EMAIL ? "error_email" : "error_consent",
			    json_true());
		}
		break;
	}
	case JOB_ERROR:
	case JOB_VIEW:
	case JOB_HOOK: /* never a page (view_work) */
		kind = PAGES_ERROR;
		if (r->page_state == ST_BUSY)
			json_object_set_new(ctx, "busy", json_true());
		break;
	}
	char err[256];
	r->view_rc = pages_render(srv->pages, kind, lang, ctx, get, &r->view, err, sizeof(err));
	if (r->view_rc < 0)
		log_error("serve page kind=%d error=\"%s\"", (int)kind, err);
	json_decref(ctx);
}

/* The thread pool: render the batch's views and pages (the work alone uses srv->views). */
static void
view_work(uv_work_t *w)
{
	struct serve *srv = w->data;
	for (struct req *r = srv->view_batch; r; r = r->qnext) {
		char err[512];
		if (r->job == JOB_HOOK) {
			struct esp_hooks_answer a;
			esp_hooks_handle(srv->esp, &r->hook, &a);
			r->page_status = a.status;
			r->hook_ask = a.ask_credentials;
			buf_adds(&r->view, a.body);
			r->view_rc = 0;
			continue;
		}
		if (r->job != JOB_VIEW) {
			page_make(srv, r);
			continue;
		}
		if (!views_open(srv))
			continue;
		r->view_rc = campaign_view(srv->views, srv->o->cfg, r->campaign, r->contact,
		                           &r->view, &r->view_html, err, sizeof(err));
		if (r->view_rc == -1)
			log_error("serve view campaign=%lld contact=%lld error=\"%s\"",
			          (long long)r->campaign, (long long)r->contact, err);
		if (r->view_rc == CAMPAIGN_E_NOTFOUND) {
			/* A person's link to something gone: the page every bad link gets. */
			buf_reset(&r->view);
			r->job = JOB_ERROR;
			r->page_state = ST_NONE;
			r->page_status = 404;
			page_make(srv, r);
		}
	}
}

static void view_done(uv_work_t *w, int status);

/* Start a work on the views waiting, unless one is running. */
static void
view_start(struct serve *srv)
{
	if (srv->view_running || srv->view_head == NULL)
		return;
	struct req *first = srv->view_head, *last = first;
	for (size_t n = 1; n < VIEW_BATCH && last->qnext; n++)
		last = last->qnext;
	srv->view_head = last->qnext;
	if (srv->view_head == NULL)
		srv->view_tail = NULL;
	last->qnext = NULL;
	for (struct req *r = first; r; r = r->qnext) {
		srv->view_len--;
		r->view_rc = -1; /* until the work makes the page */
		r->rendered = true;
	}
	srv->view_batch = first;
	srv->view_running = true;
	srv->view_work.data = srv;
	if (uv_queue_work(&srv->loop, &srv->view_work, view_work, view_done) < 0)
		view_done(&srv->view_work, UV_EINVAL);
}

/* Answer a rendered view or page (r is freed by the answer: the page is moved out first). */
static void
answer_view(struct serve *srv, struct req *r)
{
	if (r->view_rc == CAMPAIGN_E_NOTFOUND) {
		answer(r, &r_404);
		return;
	}
	if (r->view_rc < 0) {
		answer(r, &r_500);
		return;
	}
	struct buf page = r->view;
	r->view = (struct buf)BUF_INIT;
	if (r->job == JOB_HOOK)
		answer_with(r, r->page_status,
		            r->hook_ask ? PLAIN NOSTORE
		                "WWW-Authenticate: Basic realm=\"kirim hooks\"\r\n"
		                        : PLAIN NOSTORE,
		            page.data ? page.data : "", page.len);
	else if (r->job != JOB_VIEW)
		answer_with(r, r->page_status, srv->page_headers, page.data ? page.data : "",
		            page.len);
	else
		answer_with(r, 200,
		            r->view_html ? "Content-Type: text/html; charset=utf-8\r\n" VIEW_HEADERS
		                         : PLAIN VIEW_HEADERS,
		            page.data ? page.data : "", page.len);
	buf_free(&page);
}

/*
 * The loop: a work has ended (or never ran: its views are still -1, "could
 * not be made"); answer its views and start on the next ones.
 */
static void
view_done(uv_work_t *w, int status)
{
	struct serve *srv = w->data;
	struct req *r = srv->view_batch;
	(void)status;
	srv->view_batch = NULL;
	srv->view_running = false;
	answer_all(srv, r);
	view_start(srv);
}

/* Queue r for the view work (a view or page to make). */
static void
view_queue(struct serve *srv, struct req *r)
{
	if (srv->view_len >= VIEW_QUEUE_MAX) {
		answer(r, &r_503);
		return;
	}
	req_append(&srv->view_head, &srv->view_tail, r);
	srv->view_len++;
	srv->waiting++;
	view_start(srv);
}

/*
 * Queue a browser view (its token checked). It records nothing: a page in a
 * browser is not an open, and its own page has no open pixel (composer.h).
 */
static void
view_enqueue(struct serve *srv, struct req *r)
{
	r->job = JOB_VIEW;
	view_queue(srv, r);
}

/* Queue subscriber page job in state, to be answered with status. */
static void
page_enqueue(struct serve *srv, struct req *r, enum page_job job, int state, int status)
{
	r->job = job;
	r->page_state = state;
	r->page_status = status;
	view_queue(srv, r);
}

/* ---- request handling ---------------------------------------------------------------- */

/* A signup's JSON answer. */
static void
answer_json(struct req *r, int status, const char *json)
{
	answer_with(r, status, "Content-Type: application/json\r\n" NOSTORE, json, strlen(json));
}

/* A signup accepted (or a bot, which is told the same): JSON, or "check your inbox". */
static void
signup_accepted(struct serve *srv, struct req *r)
{
	if (r->su->form.json)
		answer_json(r, 202, "{\"status\":\"pending\"}\n");
	else
		page_enqueue(srv, r, JOB_SIGNUP, ST_SENT, 200);
}

/* After its batch: answer a signup. Whatever became of the address, the answer is the same. */
static void
signup_answer(struct serve *srv, struct req *r)
{
	struct signup_req *su = r->su;
	if (r->ev.result < 0) {
		/* A campaign holds the confirmation campaign's name: the owner must act. */
		log_error("serve signup list=%s error=\"a campaign called confirm:%s exists: "
		          "rename it\"",
		          su->list, su->list);
		if (su->form.json)
			answer_json(r, 500,
			            "{\"error\":\"signups to this list are not possible now\"}\n");
		else
			page_enqueue(srv, r, JOB_ERROR, ST_BUSY, 500);
		return;
	}
	r->note = su->st.outcome == STORE_SIGNUP_SENT     ? "signup_sent"
	          : su->st.outcome == STORE_SIGNUP_RECENT ? "signup_recent"
	                                                  : "signup_member";
	r->campaign = su->st.campaign_id;
	r->contact = su->st.contact_id;
	signup_accepted(srv, r);
}

static void
answer_ready(struct serve *srv, struct req *r)
{
	if (r->rendered) {
		answer_view(srv, r);
		return;
	}
	if (r->failed) {
		answer(r, &r_503);
		return;
	}
	switch (r->route.kind) {
	case SERVE_ROUTE_UNSUB_POST:
		if (r->ev.result < 0)
			answer(r, &r_404);
		else if (r->page)
			page_enqueue(srv, r, JOB_PREFS, ST_UNSUBSCRIBED, 200);
		else
			answer(r, &r_ok);
		return;
	case SERVE_ROUTE_UNSUB_FORM:
	case SERVE_ROUTE_RESUB_POST:
		if (r->ev.result < 0)
			page_enqueue(srv, r, JOB_ERROR, ST_NONE, 404);
		else
			page_enqueue(srv, r, JOB_PREFS,
			             r->route.kind == SERVE_ROUTE_UNSUB_FORM ? ST_UNSUBSCRIBED
			                                                     : ST_RESUBSCRIBED,
			             200);
		return;
	case SERVE_ROUTE_SIGNUP_POST:
		signup_answer(srv, r);
		return;
	case SERVE_ROUTE_CONFIRM_POST:
		if (r->ev.result < 0)
			page_enqueue(srv, r, JOB_ERROR, ST_NONE, 404);
		else
			/* Not on the list any more: its signup expired and was purged (or
			 * taken back), and the page says so. */
			page_enqueue(srv, r, JOB_CONFIRM,
			             r->ev.confirmed == STORE_CONFIRM_DONE   ? ST_DONE
			             : r->ev.confirmed == STORE_CONFIRM_GONE ? ST_EXPIRED
			                                                     : ST_ALREADY,
			             r->ev.confirmed == STORE_CONFIRM_GONE ? 410 : 200);
		return;
	case SERVE_ROUTE_OPEN:
		answer(r, &r_gif);
		return;
	case SERVE_ROUTE_CLICK: {
		if (r->ev.result < 0 || !serve_route_redirect_ok(r->ev.url)) {
			answer(r, &r_404);
			return;
		}
		/* serve_route_redirect_ok: no CR, LF or other control bytes in the URL. */
		struct buf h = BUF_INIT;
		buf_printf(&h,
		           "Location: %s\r\nCache-Control: no-store\r\n"
		           "Referrer-Policy: no-referrer\r\n",
		           r->ev.url);
		answer_with(r, 302, h.data, NULL, 0);
		buf_free(&h);
		return;
	}
	default:
		answer_with(r, 500, r_503.headers, r_503.body, r_503.len);
		return;
	}
}

/*
 * The password of an "Authorization: Basic ..." header (user:password in
 * base64, RFC 7617), or NULL. Blanks around the credentials are not part of
 * them (RFC 9110 5.5); anything that is not strict base64 is refused.
 */
static char *
basic_password(const char *auth)
{
	if (auth == NULL || strncasecmp(auth, "Basic ", 6) != 0)
		return NULL;
	const char *b64 = auth + 6;
	while (*b64 == ' ')
		b64++;
	size_t n = strlen(b64);
	while (n > 0 && (b64[n - 1] == ' ' || b64[n - 1] == '\t'))
		n--;
	struct buf out = BUF_INIT;
	char *pass = NULL;
	if (n > 0 && n <= 1024 && base64_decode(&out, b64, n, 0) == 0) {
		char *colon = memchr(out.data, ':', out.len);
		if (colon != NULL && memchr(out.data, '\0', out.len) == NULL)
			pass = xstrdup(colon + 1);
	}
	buf_free(&out);
	return pass;
}

/*
 * report_allowed - with a report password, any client that gives it; else
 * clients on this machine only, by the address --trust-proxy takes (behind a
 * proxy every peer is loopback, so the peer alone would let everyone in).
 */
static bool
report_allowed(struct serve *srv, struct req *r)
{
	const char *pw = srv->o->report_password;
	if (pw && *pw) {
		char *pass = basic_password(http_header(r->hr, "Authorization"));
		bool ok = pass && strlen(pass) == strlen(pw) && token_equal(pass, pw, strlen(pw));
		free(pass);
		return ok;
	}
	return r->local;
}

/*
 * answer_report - the campaign's HTML report (report.h), made now from the
 * database; while the campaign sends it reloads itself every 15 seconds.
 */
static void
answer_report(struct serve *srv, struct req *r)
{
	if (!report_allowed(srv, r)) {
		if (srv->o->report_password && *srv->o->report_password)
			answer_with(r, 401,
			            PLAIN NOSTORE
			            "WWW-Authenticate: Basic realm=\"kirim report\"\r\n",
			            "unauthorized\n", 13);
		else
			answer_with(r, 403, PLAIN NOSTORE, "forbidden\n", 10);
		return;
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
			answer(r, &r_503);
			return;
		}
	}
	if (store_report_fill(srv->reports, name, &ro, &rep) < 0) {
		answer(r, &r_404);
		return;
	}
	rep.generated_at = (int64_t)time(NULL); /* the page says when it was made */
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
	answer_with(r, 200, "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n",
	            html.data, html.len);
	buf_free(&html);
}

/* addr (16 bytes, IPv4 mapped) as text into out, for a consent record. */
static void
addr_text(const unsigned char addr[16], char *out, size_t size)
{
	static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
	if (memcmp(addr, mapped, 12) == 0)
		inet_ntop(AF_INET, addr + 12, out, (socklen_t)size);
	else
		inet_ntop(AF_INET6, addr, out, (socklen_t)size);
}

/*
 * What a page needs of the request, copied while the loop holds it: the
 * language asked for (?lang= on a GET, the form's lang on a POST) and the
 * browser's Accept-Language.
 */
static void
page_request(struct req *r)
{
	struct http_req *hr = r->hr;
	const char *al = http_header(hr, "Accept-Language");
	snprintf(r->accept, sizeof(r->accept), "%s", al ? al : "");
	char lang[I18N_TAG_MAX + 1] = "";
	if (strcmp(r->method, "POST") == 0 && hr->body)
		serve_form_field(hr->body, hr->body_len, "lang", lang, sizeof(lang));
	else
		serve_form_field(hr->target, hr->target_len, "lang", lang, sizeof(lang));
	if (i18n_tag_ok(lang))
		snprintf(r->lang_ask, sizeof(r->lang_ask), "%s", lang);
}

/* The preferences page's form: its scope, and a reason from the page's own list of them. */
static void
prefs_form(struct req *r)
{
	static const char *const reasons[] = {"too_many", "not_relevant", "never_signed_up",
	                                      "other"};
	const char *body = r->hr->body ? r->hr->body : "";
	char v[SIGNUP_REASON_MAX + 1];
	r->ev.scope = STORE_SERVE_SCOPE_CAMPAIGN;
	if (serve_form_field(body, r->hr->body_len, "scope", v, sizeof(v)) == 1)
		r->ev.scope = strcmp(v, "all") == 0    ? STORE_SERVE_SCOPE_ALL
		              : strcmp(v, "list") == 0 ? STORE_SERVE_SCOPE_LIST
		                                       : STORE_SERVE_SCOPE_CAMPAIGN;
	if (serve_form_field(body, r->hr->body_len, "reason", v, sizeof(v)) == 1)
		for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (strcmp(v, reasons[i]) == 0)
				snprintf(r->reason, sizeof(r->reason), "%s", v);
	r->ev.reason = r->reason[0] ? r->reason : NULL;
}

/*
 * CORS for a signup form on another site ([signup] cors_origins): a request
 * whose Origin is listed gets Access-Control-Allow-Origin naming it (never
 * "*", never credentials); with any origin listed, every answer of /s/ says
 * Vary: Origin, so a cache keeps them apart. Whether a list takes signups is
 * the caller's look; this only writes r->cors and says whether it was listed.
 */
static bool
signup_cors(struct serve *srv, struct req *r)
{
	const struct config *cfg = srv->o->cfg;
	if (cfg->n_signup_cors == 0)
		return false;
	const char *origin = http_header(r->hr, "Origin");
	for (size_t i = 0; origin && i < cfg->n_signup_cors; i++)
		if (strcasecmp(origin, cfg->signup_cors[i]) == 0) {
			snprintf(r->cors, sizeof(r->cors),
			         "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n",
			         cfg->signup_cors[i]);
			return true;
		}
	snprintf(r->cors, sizeof(r->cors), "Vary: Origin\r\n");
	return false;
}

/*
 * OPTIONS /s/LIST: a browser asks whether a page of Origin may POST a signup
 * with fetch (a JSON body needs the question, RFC 9110 and the Fetch
 * standard's CORS protocol). A listed origin gets 204 with what it may send;
 * any other, or a list that takes no signups, a refusal without them.
 */
static void
signup_preflight(struct serve *srv, struct req *r)
{
	char list[SERVE_TOKEN_MAX + 1];
	snprintf(list, sizeof(list), "%.*s", (int)r->route.token_len, r->route.token);
	if (signup_list(srv, list) < 0) {
		answer(r, &r_404);
		return;
	}
	const char *want = http_header(r->hr, "Access-Control-Request-Method");
	if (!signup_cors(srv, r) || want == NULL || strcmp(want, "POST") != 0) {
		r->note = "cors_refused";
		answer_with(r, 403, PLAIN NOSTORE, "origin not allowed\n", 19);
		return;
	}
	answer_with(r, 204,
	            "Access-Control-Allow-Methods: POST\r\n"
	            "Access-Control-Allow-Headers: Content-Type\r\n"
	            "Access-Control-Max-Age: 600\r\n",
	            NULL, 0);
}

/*
 * /s/LIST: the page, or a signup. A signup draws from its client's signup
 * bucket first ([signup] per_ip_per_hour), is read (form or JSON), and goes
 * to the writer only when it is one to make; a bot that filled the hidden
 * field is answered as a person would be, and nothing is written.
 */
static void
signup_dispatch(struct serve *srv, struct req *r, const unsigned char addr[16])
{
	const struct serve_route *rt = &r->route;
	memcpy(r->token, rt->token, rt->token_len);
	r->token[rt->token_len] = '\0';
	page_request(r);
	int li = signup_list(srv, r->token);
	if (li >= 0 && rt->kind == SERVE_ROUTE_SIGNUP_POST)
		signup_cors(srv, r);
	const char *ctype = http_header(r->hr, "Content-Type");
	bool json = ctype && strncasecmp(ctype, "application/json", 16) == 0;
	if (li < 0) {
		if (json)
			answer_json(r, 404, "{\"error\":\"this list takes no signups\"}\n");
		else
			page_enqueue(srv, r, JOB_ERROR, ST_NONE, 404);
		return;
	}
	if (rt->kind == SERVE_ROUTE_SIGNUP_PAGE) {
		page_enqueue(srv, r, JOB_SIGNUP, ST_NONE, 200);
		return;
	}
	if (!rate_take(srv->signup_buckets, srv->signup_rate, srv->signup_burst, addr, r->t0)) {
		r->note = "signup_limit";
		if (json) {
			static const char busy[] =
			    "{\"error\":\"too many signups from this address: try later\"}\n";
			answer_with(r, 429,
			            "Content-Type: application/json\r\n" NOSTORE
			            "Retry-After: 600\r\n",
			            busy, sizeof(busy) - 1);
		} else {
			answer(r, &r_429);
		}
		return;
	}
	struct signup_req *su = r->su = xcalloc(1, sizeof(*r->su));
	su->problem =
	    signup_form_parse(ctype, r->hr->body ? r->hr->body : "", r->hr->body_len, &su->form);
	su->lang = pages_lang(srv->pages, su->form.lang, NULL, r->accept);
	snprintf(r->lang_ask, sizeof(r->lang_ask), "%s", su->lang);
	if (su->form.honeypot) {
		r->note = "honeypot";
		signup_accepted(srv, r);
		return;
	}
	switch (su->problem) {
	case SIGNUP_OK:
		break;
	case SIGNUP_BAD_REQUEST:
		if (json)
			answer_json(r, 400,
			            "{\"error\":\"not a signup: a JSON object or a form\"}\n");
		else
			answer(r, &r_400);
		return;
	case SIGNUP_BAD_EMAIL:
	case SIGNUP_NO_CONSENT:
		if (su->form.json)
			answer_json(r, 400,
			            su->problem == SIGNUP_BAD_EMAIL
			                ? "{\"error\":\"email: not an address kirim can mail\"}\n"
			                : "{\"error\":\"consent: must be true\"}\n");
		else
			page_enqueue(srv, r, JOB_SIGNUP, ST_FORM_ERROR, 400);
		return;
	}
	const struct config *cfg = srv->o->cfg;
	const struct pages_email *em = pages_confirm_email(srv->pages);
	size_t lang_i = 0;
	while (lang_i < srv->nlangs && strcmp(srv->langs[lang_i], su->lang) != 0)
		lang_i++;
	if (lang_i == srv->nlangs) /* pages_lang answers one of the tags: cannot be */
		lang_i = 0;
	snprintf(su->list, sizeof(su->list), "%s", r->token);
	addr_text(addr, su->ip, sizeof(su->ip));
	const char *ua = http_header(r->hr, "User-Agent");
	snprintf(su->user_agent, sizeof(su->user_agent), "%s", ua ? ua : "");
	signup_attrs(&su->form, su->lang, &su->attrs);
	su->st = (struct store_signup){
	    .list = su->list,
	    .email = su->form.addr.email,
	    .domain = su->form.addr.domain,
	    .attrs = su->attrs.data,
	    .form = su->form.form[0] ? su->form.form : NULL,
	    .ip = su->ip,
	    .user_agent = su->user_agent[0] ? su->user_agent : NULL,
	    .language = su->lang,
	    .consent_text = srv->consents[(size_t)li * srv->nlangs + lang_i],
	    .subject = em->subject,
	    .text = em->text,
	    .html = em->html,
	    .from_name = cfg->signup_from_name[0] ? cfg->signup_from_name : NULL,
	    .from_addr = cfg->signup_from_addr,
	    .resend_after = (int64_t)cfg->signup_resend_minutes * 60,
	};
	if (su->st.form == NULL) {
		snprintf(su->form.form, sizeof(su->form.form), "%s:/s/%s", json ? "api" : "kirim",
		         su->list);
		su->st.form = su->form.form;
	}
	r->ev.type = STORE_SERVE_SIGNUP;
	r->ev.signup = &su->st;
	enqueue(srv, r);
}

/* /k/TOKEN: the confirmation page, or the confirmation. */
static void
confirm_dispatch(struct serve *srv, struct req *r, const unsigned char addr[16])
{
	const struct serve_route *rt = &r->route;
	int64_t expires;
	page_request(r);
	if (token_check_expiring(srv->key, TOKEN_CONFIRM, rt->token, rt->token_len, &r->campaign,
	                         &r->contact, &expires) < 0) {
		r->campaign = -1;
		page_enqueue(srv, r, JOB_ERROR, ST_NONE, 404);
		return;
	}
	memcpy(r->token, rt->token, rt->token_len);
	r->token[rt->token_len] = '\0';
	if (expires < (int64_t)time(NULL)) {
		r->note = "expired";
		page_enqueue(srv, r, JOB_CONFIRM, ST_EXPIRED, 410);
		return;
	}
	if (rt->kind == SERVE_ROUTE_CONFIRM_PAGE) {
		page_enqueue(srv, r, JOB_CONFIRM, ST_ASK, 200);
		return;
	}
	addr_text(addr, r->client, sizeof(r->client));
	r->ev.type = STORE_SERVE_CONFIRM;
	r->ev.ip = r->client;
	enqueue(srv, r);
}

/* The provider a /hooks/ path names, or -1 for one that is not configured (a 404). */
static int
hook_provider(const struct serve *srv, const char *name, size_t n)
{
	static const enum esp_provider all[] = {ESP_SES, ESP_SENDGRID, ESP_POSTMARK};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *pn = esp_provider_name(all[i]);
		if (strlen(pn) == n && memcmp(pn, name, n) == 0)
			return srv->esp && esp_hooks_enabled(srv->o->cfg, all[i]) ? (int)all[i]
			                                                          : -1;
	}
	return -1;
}

/* http.h: a configured provider's webhook takes bodies up to ESP_BODY_MAX. */
static size_t
body_max(void *arg, const char *method, const char *target)
{
	struct serve *srv = arg;
	if (strcmp(method, "POST") != 0 || strncmp(target, "/hooks/", 7) != 0)
		return 0;
	size_t n = strcspn(target + 7, "?#");
	return hook_provider(srv, target + 7, n) >= 0 ? ESP_BODY_MAX : 0;
}

static char *
hook_copy(struct req *r, int i, const char *s)
{
	return r->hook_strs[i] = s ? xstrdup(s) : NULL;
}

/*
 * A provider's webhook: what the work needs is copied from the request (the
 * work never reads it: it is the loop's), then the view work checks and records it
 * (esp_hooks_handle blocks on a certificate fetch and on the database).
 */
static void
hook_dispatch(struct serve *srv, struct req *r)
{
	int p = hook_provider(srv, r->route.token, r->route.token_len);
	if (p < 0) {
		answer(r, &r_404);
		return;
	}
	r->hook.provider = (enum esp_provider)p;
	r->hook_strs[0] = xmalloc(r->hr->body_len + 1);
	memcpy(r->hook_strs[0], r->hr->body ? r->hr->body : "", r->hr->body_len);
	r->hook_strs[0][r->hr->body_len] = '\0';
	r->hook.body = r->hook_strs[0];
	r->hook.len = r->hr->body_len;
	r->hook.authorization = hook_copy(r, 1, http_header(r->hr, "Authorization"));
	r->hook.signature =
	    hook_copy(r, 2, http_header(r->hr, "X-Twilio-Email-Event-Webhook-Signature"));
	r->hook.timestamp =
	    hook_copy(r, 3, http_header(r->hr, "X-Twilio-Email-Event-Webhook-Timestamp"));
	r->hook.client = r->ip;
	r->job = JOB_HOOK;
	view_queue(srv, r);
}

/* The request is complete (headers and body): route it. addr is the client's. */
static void
dispatch(struct serve *srv, struct req *r, const unsigned char addr[16])
{
	struct serve_route *rt = &r->route;
	switch (rt->kind) {
	case SERVE_ROUTE_HEALTH:
		answer(r, &r_health);
		return;
	case SERVE_ROUTE_METHOD:
		answer(r, &r_405);
		return;
	case SERVE_ROUTE_NOT_FOUND:
		answer(r, &r_404);
		return;
	case SERVE_ROUTE_REPORT:
		answer_report(srv, r);
		return;
	case SERVE_ROUTE_SIGNUP_PAGE:
	case SERVE_ROUTE_SIGNUP_POST:
		signup_dispatch(srv, r, addr);
		return;
	case SERVE_ROUTE_SIGNUP_PREFLIGHT:
		signup_preflight(srv, r);
		return;
	case SERVE_ROUTE_CONFIRM_PAGE:
	case SERVE_ROUTE_CONFIRM_POST:
		confirm_dispatch(srv, r, addr);
		return;
	case SERVE_ROUTE_HOOK:
		hook_dispatch(srv, r);
		return;
	default:
		break;
	}
	enum token_purpose purpose = rt->kind == SERVE_ROUTE_OPEN    ? TOKEN_OPEN
	                             : rt->kind == SERVE_ROUTE_CLICK ? TOKEN_CLICK
	                             : rt->kind == SERVE_ROUTE_VIEW  ? TOKEN_VIEW
	                                                             : TOKEN_UNSUBSCRIBE;
	/* The pages a person opens say so in a page; links machines follow answer plainly. */
	bool page = rt->kind == SERVE_ROUTE_UNSUB_PAGE || rt->kind == SERVE_ROUTE_UNSUB_FORM ||
	            rt->kind == SERVE_ROUTE_RESUB_POST || rt->kind == SERVE_ROUTE_VIEW;
	if (page)
		page_request(r);
	if (token_check(srv->key, purpose, rt->token, rt->token_len, &r->campaign, &r->contact) <
	    0) {
		r->campaign = -1;
		if (page)
			page_enqueue(srv, r, JOB_ERROR, ST_NONE, 404);
		else
			answer(r, &r_404);
		return;
	}
	memcpy(r->token, rt->token, rt->token_len);
	r->token[rt->token_len] = '\0';
	switch (rt->kind) {
	case SERVE_ROUTE_UNSUB_PAGE:
		page_enqueue(srv, r, JOB_PREFS, ST_NONE, 200);
		return;
	case SERVE_ROUTE_UNSUB_POST:
		if (!serve_route_one_click(http_header(r->hr, "Content-Type"), r->hr->body,
		                           r->hr->body_len, &r->page)) {
			answer(r, &r_400);
			return;
		}
		if (r->page)
			page_request(r);
		r->ev.type = STORE_SERVE_UNSUBSCRIBE;
		enqueue(srv, r);
		return;
	case SERVE_ROUTE_UNSUB_FORM:
		prefs_form(r);
		r->page = true; /* the writer's, not the journal's: it has a scope and a reason */
		r->ev.type = STORE_SERVE_UNSUBSCRIBE;
		enqueue(srv, r);
		return;
	case SERVE_ROUTE_RESUB_POST:
		prefs_form(r);
		r->ev.type = STORE_SERVE_RESUBSCRIBE;
		enqueue(srv, r);
		return;
	case SERVE_ROUTE_OPEN:
		if (rt->head) {
			answer(r, &r_gif);
			return;
		}
		r->machine = serve_route_machine_ua(http_header(r->hr, "User-Agent"));
		r->ev.type = STORE_SERVE_OPEN;
		r->ev.machine = r->machine != NULL;
		r->ev.agent = r->machine;
		enqueue(srv, r);
		return;
	case SERVE_ROUTE_CLICK:
		r->ev.type = STORE_SERVE_CLICK;
		r->ev.link = rt->link;
		r->ev.dry = rt->head;
		enqueue(srv, r);
		return;
	case SERVE_ROUTE_VIEW:
		view_enqueue(srv, r);
		return;
	default:
		answer(r, &r_404);
		return;
	}
}

/* http.h: a complete request (its body within --max-body, or it was answered 413). */
static void
on_request(void *arg, struct http_req *hr)
{
	struct serve *srv = arg;
	struct req *r = xcalloc(1, sizeof(*r));
	hr->data = r;
	r->srv = srv;
	r->hr = hr;
	r->t0 = uv_hrtime();
	r->campaign = -1;
	size_t ml = strlen(hr->method);
	memcpy(r->method, hr->method, ml < sizeof(r->method) ? ml + 1 : sizeof(r->method) - 1);
	r->method[sizeof(r->method) - 1] = '\0';
	unsigned char addr[16];
	client_addr(srv, r, addr);
	serve_route_match(hr->method, hr->target, hr->target_len, &r->route);
	if (!rate_take(srv->buckets, srv->rate, srv->burst, addr, r->t0)) {
		answer(r, &r_429);
		return;
	}
	dispatch(srv, r, addr);
}

/* http.h: the request has ended (answered, or its client gone): log it and free it. */
static void
on_end(void *arg, struct http_req *hr, int status)
{
	struct serve *srv = arg;
	struct req *r = hr->data;
	if (r == NULL) {
		/* Answered by the HTTP server itself: the request could not be read. */
		struct req tmp = {.srv = srv, .hr = hr, .campaign = -1, .status = status};
		unsigned char addr[16];
		snprintf(tmp.method, sizeof(tmp.method), "%s", hr->method);
		tmp.t0 = uv_hrtime();
		client_addr(srv, &tmp, addr);
		tmp.route.kind = SERVE_ROUTE_NOT_FOUND;
		log_request(srv, &tmp);
		return;
	}
	r->status = status;
	log_request(srv, r);
	buf_free(&r->view);
	for (size_t i = 0; i < sizeof(r->hook_strs) / sizeof(r->hook_strs[0]); i++)
		free(r->hook_strs[i]);
	if (r->su)
		buf_free(&r->su->attrs);
	free(r->su);
	free(r);
	hr->data = NULL;
}

/* ---- stopping -------------------------------------------------------------------------- */

static void
on_close(uv_handle_t *h)
{
	struct serve *srv = h->data;
	srv->open_handles--;
}

static void
close_all(struct serve *srv)
{
	uv_handle_t *hs[] = {(uv_handle_t *)&srv->wake_check, (uv_handle_t *)&srv->log_timer,
	                     (uv_handle_t *)&srv->stop_timer, (uv_handle_t *)&srv->sigint,
	                     (uv_handle_t *)&srv->sigterm,    (uv_handle_t *)&srv->ckpt_timer,
	                     (uv_handle_t *)&srv->done_async};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		if (hs[i]->data && !uv_is_closing(hs[i]))
			uv_close(hs[i], on_close);
}

static void
on_http_closed(void *arg)
{
	struct serve *srv = arg;
	srv->http = NULL;
	if (--srv->closing == 0)
		close_all(srv);
}

static void
on_api_closed(void *arg)
{
	struct serve *srv = arg;
	srv->api = NULL;
	if (--srv->closing == 0)
		close_all(srv);
}

/* Close both listeners; the handles close once both have. */
static void
servers_close(struct serve *srv)
{
	srv->closing = 1 + (srv->api != NULL);
	if (srv->api)
		api_close(srv->api, on_api_closed, srv);
	http_server_close(srv->http, on_http_closed, srv);
}

/* While stopping: finish when nothing waits for the writer, or after the grace time. */
static void
on_stop_timer(uv_timer_t *t)
{
	struct serve *srv = t->data;
	/* Every queued request is answered first: its connection must stay until then. */
	if (srv->waiting > 0 || srv->stopped)
		return;
	/* The API's requests are answered too, within the grace time. */
	if ((http_server_conns(srv->http) > 0 || (srv->api && api_busy(srv->api) > 0)) &&
	    uv_hrtime() < srv->stop_deadline)
		return;
	/* Past it, a work still running (a long change) is waited for: it holds the store. */
	if (srv->api && api_working(srv->api))
		return;
	srv->stopped = true;
	uv_timer_stop(&srv->stop_timer);
	servers_close(srv);
}

static void
on_signal(uv_signal_t *s, int sig)
{
	struct serve *srv = s->data;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_warn("serve stopping signal=%d waiting=%u", sig, srv->waiting);
	/* No new connections; idle keep-alive ones close now, busy ones after their answer. */
	http_server_quiesce(srv->http);
	if (srv->api)
		api_quiesce(srv->api);
	srv->stop_deadline = uv_hrtime() + (uint64_t)STOP_GRACE_MS * 1000000u;
	uv_timer_start(&srv->stop_timer, on_stop_timer, 0, 20);
}

/* Tell the thread working q to finish what is queued and quit; wait for it. */
static void
thread_stop(struct wqueue *q, uv_thread_t *t)
{
	uv_mutex_lock(&q->lock);
	q->quit = true;
	uv_cond_broadcast(&q->cond);
	uv_mutex_unlock(&q->lock);
	uv_thread_join(t);
}

/*
 * The pages' answer headers: no caching, no indexing, no referrer, and a
 * policy that lets the page load nothing but its inline style and the brand's
 * logo, and post only to this server.
 */
static void
page_headers_make(struct serve *srv, const struct config *cfg)
{
	char img[600] = "'none'";
	const char *u = cfg->brand_logo_url;
	const char *host = strstr(u, "://");
	if (u[0] && host) {
		size_t n = (size_t)(host + 3 - u) + strcspn(host + 3, "/?#");
		snprintf(img, sizeof(img), "%.*s", (int)n, u);
	}
	snprintf(srv->page_headers, sizeof(srv->page_headers),
	         "Content-Type: text/html; charset=utf-8\r\n" NOSTORE
	         "Referrer-Policy: no-referrer\r\nX-Robots-Tag: noindex\r\n"
	         "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
	         "img-src %s; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n",
	         img);
}

/*
 * The pages, and the consent text of every signup list in every language,
 * made once: what a signup records is the text its form showed. 0, or -1
 * with err.
 */
static int
pages_start(struct serve *srv, const struct config *cfg, char *err, size_t errsz)
{
	char why[700], base[512];
	/* Signups whose confirmation requests could never be composed are refused at start. */
	if (cfg->n_signup_lists &&
	    campaign_track_base(cfg, base, sizeof(base), why, sizeof(why)) < 0) {
		snprintf(err, errsz, "[signup] lists: the confirmation links need a base: %s", why);
		return -1;
	}
	if (pages_new(cfg, &srv->pages, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "the subscriber pages: %s", why);
		return -1;
	}
	page_headers_make(srv, cfg);
	srv->nlangs = pages_langs(srv->pages, &srv->langs);
	srv->consents = xcalloc(cfg->n_signup_lists * srv->nlangs + 1, sizeof(*srv->consents));
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < cfg->n_signup_lists; i++) {
		json_t *ctx = json_pack("{s:s}", "list", cfg->signup_lists[i]);
		for (size_t j = 0; j < srv->nlangs; j++) {
			pages_text(srv->pages, srv->langs[j], "consent", ctx, &b);
			srv->consents[i * srv->nlangs + j] = xstrdup(b.data ? b.data : "");
		}
		json_decref(ctx);
	}
	buf_free(&b);
	/* [signup] per_ip_per_hour: that many at once, then one per hour's share of them. */
	srv->signup_burst = cfg->signup_per_ip ? cfg->signup_per_ip : 20;
	srv->signup_rate = srv->signup_burst / 3600.0;
	srv->signup_buckets = xcalloc(BUCKETS, sizeof(*srv->signup_buckets));
	return 0;
}

static void
pages_stop(struct serve *srv)
{
	for (size_t i = 0; srv->consents && srv->consents[i]; i++)
		free(srv->consents[i]);
	free(srv->consents);
	free(srv->signup_buckets);
	pages_free(srv->pages);
}

/* serve_run - listen and serve until a signal */
int
serve_run(struct store *s, const struct serve_opts *o, char *err, size_t errsz)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	if (serve_route_listen(o->listen ? o->listen : "127.0.0.1:8025", &sa, &salen) < 0) {
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
	uv_mutex_init(&srv->jq.lock);
	uv_cond_init(&srv->jq.cond);
	int ret = -1;
	if (o->cfg == NULL) {
		snprintf(err, errsz, "kirim serve needs the configuration (struct serve_opts cfg)");
		goto out;
	}
	if (pages_start(srv, o->cfg, err, errsz) < 0)
		goto out;
	srv->ss = store_serve_new(s);
	if (srv->ss == NULL) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		goto out;
	}
	srv->key = token_key_new(o->secret, o->secret_len);
	uv_loop_init(&srv->loop);
	struct http_opts ho = {
	    .max_header = o->max_header ? o->max_header : 8192,
	    .max_body = srv->max_body,
	    .timeout = srv->timeout,
	    /* 0: http.c's defaults (the per-address cap follows the global one) */
	    .max_conns = o->max_conns,
	    .max_conns_per_ip = o->max_conns_per_ip,
	    .on_request = on_request,
	    .on_end = on_end,
	    .body_max = body_max,
	    .arg = srv,
	};
	if (esp_hooks_enabled(o->cfg, ESP_SES) || esp_hooks_enabled(o->cfg, ESP_SENDGRID) ||
	    esp_hooks_enabled(o->cfg, ESP_POSTMARK)) {
		srv->esp = esp_hooks_new(o->cfg, store_path(s), err, errsz);
		if (srv->esp == NULL)
			goto out;
	}
	char herr[128];
	srv->http = http_server_new(&srv->loop, (struct sockaddr *)&sa, &ho, herr, sizeof(herr));
	if (srv->http == NULL) {
		snprintf(err, errsz, "cannot listen on %s: %s", o->listen, herr);
		uv_run(&srv->loop, UV_RUN_DEFAULT); /* the listener's close */
		uv_loop_close(&srv->loop);
		goto out;
	}
	unsigned port = http_server_port(srv->http);
	unsigned admin_port = 0;
	if (o->admin_listen) {
		srv->api_opts = (struct api_opts){
		    .listen = o->admin_listen,
		    .db_path = store_path(s),
		    .cfg = o->cfg,
		    .max_body = o->admin_max_body,
		    .timeout = 30,
		    .trust_proxy = o->trust_proxy,
		};
		char aerr[300];
		srv->api = api_new(&srv->loop, &srv->api_opts, aerr, sizeof(aerr));
		if (srv->api == NULL && (o->admin_required || strncmp(aerr, "--admin", 7) == 0)) {
			snprintf(err, errsz, "%s", aerr);
			srv->closing = 1;
			http_server_close(srv->http, on_http_closed, srv);
			uv_run(&srv->loop, UV_RUN_DEFAULT);
			uv_loop_close(&srv->loop);
			goto out;
		}
		if (srv->api == NULL)
			log_warn("serve admin API off: %s (--admin-listen names another address)",
			         aerr);
		else
			admin_port = api_port(srv->api);
	}
	uv_check_init(&srv->loop, &srv->wake_check);
	uv_timer_init(&srv->loop, &srv->log_timer);
	uv_timer_init(&srv->loop, &srv->stop_timer);
	uv_signal_init(&srv->loop, &srv->sigint);
	uv_signal_init(&srv->loop, &srv->sigterm);
	uv_timer_init(&srv->loop, &srv->ckpt_timer);
	uv_async_init(&srv->loop, &srv->done_async, on_done);
	uv_handle_t *hs[] = {(uv_handle_t *)&srv->wake_check, (uv_handle_t *)&srv->log_timer,
	                     (uv_handle_t *)&srv->stop_timer, (uv_handle_t *)&srv->sigint,
	                     (uv_handle_t *)&srv->sigterm,    (uv_handle_t *)&srv->ckpt_timer,
	                     (uv_handle_t *)&srv->done_async};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		hs[i]->data = srv;
	srv->open_handles = sizeof(hs) / sizeof(hs[0]);
	uv_check_start(&srv->wake_check, on_wake_check);
	uv_timer_start(&srv->log_timer, on_log_timer, LOG_FLUSH_MS, LOG_FLUSH_MS);
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	if (store_serve_checkpoint_start(srv->ss) == 0)
		uv_timer_start(&srv->ckpt_timer, on_ckpt_timer, CKPT_MS, CKPT_MS);
	else
		log_warn("serve checkpoints stay in the commits: %s", store_errmsg(s));
	/* The journal and its thread first: the writer reads srv->journal. */
	char jerr[512];
	srv->journal = store_journal_open(store_path(s), jerr, sizeof(jerr));
	if (srv->journal == NULL)
		log_warn("serve journal off, one-click unsubscribes commit directly error=\"%s\"",
		         jerr);
	else if (uv_is_active((uv_handle_t *)&srv->ckpt_timer) &&
	         store_journal_checkpoint_start(srv->journal) < 0)
		log_warn("serve journal checkpoints stay in its commits: %s",
		         store_journal_errmsg(srv->journal));
	if (srv->journal && uv_thread_create(&srv->jwriter, journal_main, srv) == 0)
		srv->jwriter_started = true;
	else {
		store_journal_close(srv->journal);
		srv->journal = NULL;
	}
	/* From here on the store's connection is the writer thread's. */
	if (uv_thread_create(&srv->writer, writer_main, srv) != 0) {
		snprintf(err, errsz, "cannot start the writer thread");
		servers_close(srv);
		uv_run(&srv->loop, UV_RUN_DEFAULT);
		uv_loop_close(&srv->loop);
		goto out;
	}
	srv->writer_started = true;
	/* Webhooks: their own thread and connection, so a slow receiver holds up nothing else. */
	char werr[200];
	if ((srv->hooks = webhooks_start(store_path(s), srv->o->cfg->tls_ca_file, werr,
	                                 sizeof(werr))) == NULL)
		log_warn("serve webhooks off: %s", werr);
	log_info("serve listening=%s port=%u base_url=%s batch_max=%u rate=%g burst=%g "
	         "max_body=%u timeout=%u",
	         o->listen, port, o->base_url ? o->base_url : "-", srv->batch_max, srv->rate,
	         srv->burst, srv->max_body, srv->timeout);
	if (srv->api)
		log_info("serve admin_listening=%s port=%u", o->admin_listen, admin_port);
	if (o->ready)
		o->ready(o->ready_arg, port, admin_port);
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	log_flush(srv);
	int lc = uv_loop_close(&srv->loop);
	if (lc != 0)
		log_error("serve loop_close=%s", uv_strerror(lc));
	ret = srv->stopped ? 0 : -1;
	if (ret < 0)
		snprintf(err, errsz, "the event loop ended unexpectedly");
out:
	webhooks_stop(srv->hooks);
	/* The journal thread first: the writer then folds everything it journaled. */
	if (srv->jwriter_started)
		thread_stop(&srv->jq, &srv->jwriter);
	if (srv->writer_started) {
		thread_stop(&srv->wq, &srv->writer);
		if (srv->journal)
			log_info("serve journal batches=%lu events=%lu folded=%lld folds=%lu",
			         srv->jq.batches, srv->jq.events, (long long)srv->folded,
			         srv->folds);
		log_info("serve stopped batches=%lu events=%lu events_per_batch=%.1f",
		         srv->wq.batches, srv->wq.events,
		         srv->wq.batches ? (double)srv->wq.events / (double)srv->wq.batches : 0.0);
	}
	store_journal_close(srv->journal);
	store_close(srv->reports);
	store_close(srv->views);
	esp_hooks_free(srv->esp);
	store_serve_free(srv->ss);
	token_key_free(srv->key);
	buf_free(&srv->log);
	free(srv->buckets);
	pages_stop(srv);
	uv_cond_destroy(&srv->wq.cond);
	uv_mutex_destroy(&srv->wq.lock);
	uv_cond_destroy(&srv->jq.cond);
	uv_mutex_destroy(&srv->jq.lock);
	free(srv);
	return ret;
}
