/*
 * webhooks - subscriptions and the delivery of the outbox (see webhooks.h).
 */
#include "kirim/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "kirim/api_json.h"
#include "kirim/buf.h"
#include "kirim/http_client.h"
#include "kirim/http_url.h"
#include "kirim/log.h"
#include "kirim/store.h"
#include "kirim/store_webhook.h"
#include "kirim/tls.h"
#include "kirim/token.h"
#include "kirim/xmalloc.h"

/* The names a webhook subscribes to; the triggers of schema 007 write them. */
static const char *const names[] = {"delivered",    "deferred", "bounced", "failed",   "complained",
                                    "unsubscribed", "opened",   "clicked", "campaign", NULL};

const char *
webhooks_event_names(void)
{
	return "delivered, deferred, bounced, failed, complained, unsubscribed, opened, clicked, "
	       "campaign";
}

int
webhooks_add(struct store *s, const char *url, const char *events, const char *secret, int64_t now,
             int64_t *id, char *err, size_t errsz)
{
	struct http_url u;
	const char *why;
	if (strlen(url) >= 1024) {
		snprintf(err, errsz, "a URL of 1024 bytes or more");
		return WEBHOOKS_E_INVALID;
	}
	if (http_url_parse(url, &u, &why) < 0) {
		snprintf(err, errsz, "'%.200s': %s", url, why);
		return WEBHOOKS_E_INVALID;
	}
	if (secret == NULL || strlen(secret) < WEBHOOKS_SECRET_MIN || strlen(secret) >= 256) {
		snprintf(err, errsz, "a signing secret is %d to 255 bytes", WEBHOOKS_SECRET_MIN);
		return WEBHOOKS_E_INVALID;
	}
	/* In the order given, once each; "all" is every name. */
	json_t *list = json_array();
	for (const char *p = events; *p;) {
		size_t n = strcspn(p, ", ");
		if (n == 0) {
			p++;
			continue;
		}
		bool all = n == 3 && strncmp(p, "all", 3) == 0, known = all;
		for (const char *const *k = names; *k; k++) {
			if (!all && (strlen(*k) != n || strncmp(*k, p, n) != 0))
				continue;
			known = true;
			bool there = false;
			for (size_t i = 0; i < json_array_size(list); i++)
				there |=
				    strcmp(json_string_value(json_array_get(list, i)), *k) == 0;
			if (!there)
				json_array_append_new(list, json_string(*k));
		}
		if (!known) {
			snprintf(err, errsz, "unknown event '%.*s' (%s, or all)",
			         (int)(n > 60 ? 60 : n), p, webhooks_event_names());
			json_decref(list);
			return WEBHOOKS_E_INVALID;
		}
		p += n;
	}
	if (json_array_size(list) == 0) {
		snprintf(err, errsz, "which events? (%s, or all)", webhooks_event_names());
		json_decref(list);
		return WEBHOOKS_E_INVALID;
	}
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	int rc = store_webhook_add(s, url, text, secret, now, id);
	if (rc < 0)
		snprintf(err, errsz, "%s", store_errmsg(s));
	free(text);
	return rc;
}

bool
webhooks_url_in_clear(const char *url)
{
	struct http_url u;
	const char *why;
	return http_url_parse(url, &u, &why) == 0 && !u.tls && !http_url_loopback(&u);
}

/* ---- delivery -------------------------------------------------------------------------- */

/* The delivery thread: its store is opened in the thread; the loop and the TLS context are
 * the thread's alone, for one POST at a time. */
struct webhooks_runner {
	char *db_path;
	char *ca_file; /* [tls] ca_file, or NULL: the system's CAs */
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t cond;
	bool quit;
	uv_loop_t loop;
	struct tls_ctx *tls; /* made for the first https:// POST */
};

struct post {
	bool done;
	int ok, status;
	char err[700];
};

static void
on_posted(void *arg, const struct http_client_result *res)
{
	struct post *p = arg;
	p->done = true;
	p->ok = res->ok;
	p->status = res->http_status;
	if (!res->ok)
		snprintf(p->err, sizeof(p->err), "%s", res->error ? res->error : "failed");
}

/*
 * post - POST body (n bytes, JSON) with the extra header lines to url on the thread's loop,
 * within WEBHOOKS_TIMEOUT; an https:// receiver's certificate verified against ca_file or
 * the system's CAs. 1 when answered 2xx, else 0 with a sentence in p->err; p->status is
 * the answer's (0: none)
 */
static int
post(struct webhooks_runner *r, const char *url, const char *headers, const char *body, size_t n,
     struct post *p)
{
	struct http_url u;
	const char *why;
	if (http_url_parse(url, &u, &why) < 0) {
		snprintf(p->err, sizeof(p->err), "%s", why);
		return 0;
	}
	char terr[200];
	if (u.tls && r->tls == NULL &&
	    tls_ctx_new(TLS_POLICY_VERIFY, r->ca_file, &r->tls, terr, sizeof(terr)) < 0) {
		r->tls = NULL;
		snprintf(p->err, sizeof(p->err), "no CA certificates to verify %.80s with: %s",
		         u.host, terr);
		return 0;
	}
	struct http_client_opts o = {.url = &u,
	                             .tls = r->tls,
	                             .timeout_ms = WEBHOOKS_TIMEOUT * 1000,
	                             .user_agent = "kirim/" KIRIM_VERSION,
	                             .headers = headers,
	                             .post_type = "application/json",
	                             .post_body = body,
	                             .post_len = n};
	/* dns NULL: the system's resolver, as for any HTTP client on the host (/etc/hosts). */
	if (http_client_start(&r->loop, NULL, &o, on_posted, p) == NULL)
		snprintf(p->err, sizeof(p->err), "cannot look up %.200s", u.host);
	else
		while (!p->done && uv_run(&r->loop, UV_RUN_ONCE))
			;
	uv_run(&r->loop, UV_RUN_DEFAULT); /* the request's handles close */
	return p->done && p->ok;
}

static json_t *
opt_json(const char *text)
{
	return text ? api_json_parse(text) : json_null();
}

static int
batch_event(void *arg, const struct store_webhook_event *e)
{
	json_t *events = arg;
	json_t *o =
	    json_pack("{s:I,s:s,s:o,s:I,s:o,s:o}", "id", (json_int_t)e->id, "type", e->type, "ts",
	              api_json_time(e->ts), "campaign_id", (json_int_t)e->campaign_id, "campaign",
	              api_json_text(e->campaign), "email", api_json_text(e->email));
	if (strcmp(e->type, "campaign") == 0) {
		json_object_set_new(o, "data", opt_json(e->data));
	} else {
		json_object_set_new(
		    o, "smtp",
		    json_pack("{s:o,s:o,s:o,s:o,s:o}", "stage", api_json_text(e->stage), "code",
		              e->code ? json_integer(e->code) : json_null(), "ecode",
		              api_json_text(e->ecode), "text", api_json_text(e->text), "host",
		              api_json_text(e->host)));
		json_object_set_new(o, "detail", opt_json(e->detail));
	}
	json_array_append_new(events, o);
	return 0;
}

/* Seconds before try attempts + 1 of a failing batch: 1, 2, 4, ... at most an hour. */
static int64_t
backoff(int attempts)
{
	int64_t w = 1;
	for (int i = 0; i < attempts && w < WEBHOOKS_BACKOFF_MAX; i++)
		w *= 2;
	return w < WEBHOOKS_BACKOFF_MAX ? w : WEBHOOKS_BACKOFF_MAX;
}

/* deliver_one - deliver the batch of the webhook due longest (at now), if any, and record
 * the outcome: 1 when one was tried, 0 when none is due, or a store error. The POST blocks
 * the thread (WEBHOOKS_TIMEOUT). */
static int
deliver_one(struct webhooks_runner *r, struct store *s, int64_t now)
{
	int64_t id = 0, last;
	int rc = store_webhook_due(s, now, &id);
	if (rc < 0 || id == 0)
		return rc;
	struct store_webhook w;
	if ((rc = store_webhook_get(s, id, &w)) < 0)
		return rc;
	json_t *events = json_array();
	if ((rc = store_webhook_batch(s, w.cursor, w.events, WEBHOOKS_BATCH, batch_event, events,
	                              &last)) < 0) {
		json_decref(events);
		return rc;
	}
	size_t n = json_array_size(events);
	if (n == 0) { /* only events of other types: passed over */
		json_decref(events);
		rc = store_webhook_settle(s, id, last, 0, false, 0, NULL, now);
		return rc < 0 ? rc : 1;
	}
	json_t *payload = json_pack("{s:I,s:o,s:o}", "webhook", (json_int_t)id, "sent_at",
	                            api_json_time(now), "events", events);
	char *body = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	size_t blen = strlen(body);
	/* The signed string is "T.BODY": the time is signed with the body (replays). */
	struct buf signed_text = BUF_INIT;
	buf_printf(&signed_text, "%lld.", (long long)now);
	buf_add(&signed_text, body, blen);
	unsigned char mac[32];
	struct token_key *k = token_key_new(w.secret, strlen(w.secret));
	int mrc = token_hmac(k, signed_text.data, signed_text.len, mac);
	token_key_free(k);
	buf_free(&signed_text);
	char hex[65], headers[400];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	snprintf(
	    headers, sizeof(headers),
	    "Kirim-Signature: t=%lld,v1=%s\r\nKirim-Webhook-Id: %lld\r\nKirim-Event-Count: %zu\r\n",
	    (long long)now, mrc == 0 ? hex : "", (long long)id, n);
	struct post p = {0};
	int delivered = post(r, w.url, headers, body, blen, &p);
	int status = p.status;
	const char *err = p.err;
	free(body);
	int64_t done = (int64_t)time(NULL);
	if (delivered) {
		log_info("webhook id=%lld url=%s events=%zu status=%d result=delivered",
		         (long long)id, w.url, n, status);
		rc = store_webhook_settle(s, id, last, (int64_t)n, false, status, NULL, done);
	} else {
		int64_t since = w.failing_since ? w.failing_since : done;
		if (done - since >= WEBHOOKS_GIVE_UP) {
			log_warn("webhook id=%lld url=%s events=%zu result=dropped after=%llds "
			         "error=\"%s\"",
			         (long long)id, w.url, n, (long long)(done - since), err);
			rc = store_webhook_settle(s, id, last, (int64_t)n, true, status, err, done);
		} else {
			int64_t wait = backoff(w.attempts);
			log_info(
			    "webhook id=%lld url=%s events=%zu result=retry attempt=%d in=%llds "
			    "error=\"%s\"",
			    (long long)id, w.url, n, w.attempts + 1, (long long)wait, err);
			rc = store_webhook_failed(s, id, status, err, done, done + wait);
		}
	}
	int64_t pruned;
	if (rc == 0)
		(void)store_webhook_prune(s, &pruned);
	return rc < 0 ? rc : 1;
}

/* ---- the thread ------------------------------------------------------------------------- */

static void
runner_main(void *arg)
{
	struct webhooks_runner *r = arg;
	struct store *s = NULL;
	uv_mutex_lock(&r->lock);
	while (!r->quit) {
		uv_mutex_unlock(&r->lock);
		int rc = 0;
		char err[512];
		if (s == NULL && store_open(r->db_path, 0, &s, err, sizeof(err)) < 0) {
			log_error("webhook store error=\"%s\"", err);
			s = NULL;
		} else {
			rc = deliver_one(r, s, (int64_t)time(NULL));
			if (rc < 0)
				log_warn("webhook delivery error=\"%s\"", store_errmsg(s));
		}
		uv_mutex_lock(&r->lock);
		/* Nothing due (or a failure): look again in a second, or at once when asked to
		 * stop. */
		if (rc <= 0 && !r->quit)
			uv_cond_timedwait(&r->cond, &r->lock, (uint64_t)1000000000);
	}
	uv_mutex_unlock(&r->lock);
	store_close(s);
	tls_ctx_free(r->tls);
	uv_loop_close(&r->loop);
}

struct webhooks_runner *
webhooks_start(const char *db_path, const char *ca_file, char *err, size_t errsz)
{
	struct webhooks_runner *r = xcalloc(1, sizeof(*r));
	if (uv_loop_init(&r->loop) < 0) {
		snprintf(err, errsz, "cannot make the webhook thread's event loop");
		free(r);
		return NULL;
	}
	r->db_path = xstrdup(db_path);
	r->ca_file = ca_file && *ca_file ? xstrdup(ca_file) : NULL;
	uv_mutex_init(&r->lock);
	uv_cond_init(&r->cond);
	if (uv_thread_create(&r->thread, runner_main, r) != 0) {
		snprintf(err, errsz, "cannot start the webhook thread");
		uv_cond_destroy(&r->cond);
		uv_mutex_destroy(&r->lock);
		uv_loop_close(&r->loop);
		free(r->db_path);
		free(r->ca_file);
		free(r);
		return NULL;
	}
	return r;
}

void
webhooks_stop(struct webhooks_runner *r)
{
	if (r == NULL)
		return;
	uv_mutex_lock(&r->lock);
	r->quit = true;
	uv_cond_signal(&r->cond);
	uv_mutex_unlock(&r->lock);
	uv_thread_join(&r->thread);
	uv_cond_destroy(&r->cond);
	uv_mutex_destroy(&r->lock);
	free(r->db_path);
	free(r->ca_file);
	free(r);
}
