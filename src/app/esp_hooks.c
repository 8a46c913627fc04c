/* esp_hooks - providers' webhooks checked and fed to the bounce path (see esp_hooks.h). */
#include "kirim/esp_hooks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>

#include "kirim/base64.h"
#include "kirim/bounces.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/http_url.h"
#include "kirim/log.h"
#include "kirim/sigcheck.h"
#include "kirim/store.h"
#include "kirim/strmap.h"
#include "kirim/tls.h"
#include "kirim/token.h"
#include "kirim/xmalloc.h"

enum {
	CERT_MAX = 64 * 1024, /* bytes of a signing certificate, at most */
	CERTS_KEPT = 32,      /* certificates cached; the cache starts over past this */
	FETCH_MS = 10000,     /* a certificate fetch or a subscription confirmation */
	SIG_MAX = 1024,       /* bytes of a decoded signature, at most */
};

struct esp_hooks {
	const struct config *cfg;
	char *db_path;
	struct store *store;     /* opened on first use */
	struct bounces *bounces; /* on store */
	struct tls_ctx *tls;     /* verifying, for the fetches; made on first use */
	struct strmap certs;     /* SigningCertURL → PEM (char *) */
	size_t ncerts;
	struct buf sg_key; /* SendGrid's public key, DER */
};

bool
esp_hooks_enabled(const struct config *cfg, enum esp_provider p)
{
	switch (p) {
	case ESP_SES:
		return cfg->hooks_ses_topics[0] != '\0';
	case ESP_SENDGRID:
		return cfg->hooks_sendgrid_key[0] != '\0';
	case ESP_POSTMARK:
		return cfg->hooks_postmark_user[0] != '\0';
	}
	return false;
}

struct esp_hooks *
esp_hooks_new(const struct config *cfg, const char *db_path, char *err, size_t errsz)
{
	struct esp_hooks *h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->db_path = xstrdup(db_path);
	const char *k = cfg->hooks_sendgrid_key, *why = NULL;
	if (*k) {
		/* The key as SendGrid's settings page shows it: base64 DER, or a PEM block. */
		struct buf b64 = BUF_INIT;
		for (; *k; k++)
			if (*k != ' ' && *k != '\n' && *k != '\r')
				buf_addc(&b64, *k);
		const char *s = b64.data;
		size_t n = b64.len;
		if (strncmp(s, "-----BEGINPUBLICKEY-----", 24) == 0 && n > 46) {
			s += 24;
			n -= 46; /* and "-----ENDPUBLICKEY-----" */
		}
		if (base64_decode(&h->sg_key, s, n, 0) < 0 ||
		    sigcheck_key((const unsigned char *)h->sg_key.data, h->sg_key.len,
		                 SIGCHECK_ECDSA_P256, "", 0, (const unsigned char *)"", 0,
		                 &why) < 0) {
			snprintf(err, errsz, "[hooks] sendgrid_key: %s",
			         why ? why : "not base64 (the verification key SendGrid shows)");
			buf_free(&b64);
			esp_hooks_free(h);
			return NULL;
		}
		buf_free(&b64);
	}
	return h;
}

void
esp_hooks_free(struct esp_hooks *h)
{
	if (h == NULL)
		return;
	bounces_free(h->bounces);
	store_close(h->store);
	tls_ctx_free(h->tls);
	strmap_free_values(&h->certs, free);
	buf_free(&h->sg_key);
	free(h->db_path);
	free(h);
}

static void
answer(struct esp_hooks_answer *out, int status, const char *fmt, const char *what)
{
	out->status = status;
	out->ask_credentials = false;
	snprintf(out->body, sizeof(out->body), fmt, what ? what : "");
	size_t n = strlen(out->body);
	if (n + 1 < sizeof(out->body)) {
		out->body[n] = '\n';
		out->body[n + 1] = '\0';
	}
}

/* ---- fetches over HTTPS -------------------------------------------------------------- */

struct fetch {
	bool done;
	int ok;
	struct buf body;
	char err[256];
};

static void
on_fetch(void *arg, const struct http_client_result *r)
{
	struct fetch *f = arg;
	f->done = true;
	f->ok = r->ok;
	if (r->ok)
		buf_add(&f->body, r->body, r->len);
	else
		snprintf(f->err, sizeof(f->err), "%s", r->error ? r->error : "failed");
}

/*
 * get - GET url (its host one sns_cert_hosts trusts) on a loop of our own: 0 with the body
 * in out, or -1 with a sentence in err
 */
static int
get(struct esp_hooks *h, const char *url, struct buf *out, char *err, size_t errsz)
{
	struct http_url u;
	const char *why;
	snprintf(err, errsz, "the fetch of %.200s did not finish", url);
	if (esp_url_split(url, h->cfg->hooks_sns_cert_hosts, &u, &why) < 0) {
		snprintf(err, errsz, "%s", why);
		return -1;
	}
	if (h->tls == NULL &&
	    tls_ctx_new(TLS_POLICY_VERIFY,
	                h->cfg->hooks_sns_ca_file[0] ? h->cfg->hooks_sns_ca_file : NULL, &h->tls,
	                err, errsz) < 0)
		return -1;
	uv_loop_t loop;
	if (uv_loop_init(&loop) < 0) {
		snprintf(err, errsz, "cannot make an event loop");
		return -1;
	}
	struct dns_opts dopts = {.servers =
	                             h->cfg->hooks_sns_dns[0] ? h->cfg->hooks_sns_dns : NULL};
	struct dns *d = dns_new(&loop, &dopts, err, errsz);
	struct fetch f = {.body = BUF_INIT};
	int rc = -1;
	if (d != NULL) {
		struct http_client_opts o = {.url = &u,
		                             .tls = h->tls,
		                             .max_body = CERT_MAX,
		                             .timeout_ms = FETCH_MS,
		                             .user_agent = "kirim/" KIRIM_VERSION};
		if (http_client_start(&loop, d, &o, on_fetch, &f) == NULL)
			snprintf(err, errsz, "cannot fetch %.200s", url);
		else
			while (!f.done && uv_run(&loop, UV_RUN_ONCE))
				;
		if (f.done && f.ok) {
			buf_add(out, f.body.data ? f.body.data : "", f.body.len);
			rc = 0;
		} else if (f.done) {
			snprintf(err, errsz, "%s", f.err); /* it names the URL */
		}
		dns_free(d);
	}
	uv_run(&loop, UV_RUN_DEFAULT); /* the fetch's and resolver's handles close */
	uv_loop_close(&loop);
	buf_free(&f.body);
	return rc;
}

/* ---- the providers' checks ----------------------------------------------------------- */

/* Whether arn is one of [hooks] ses_topics (commas or blanks between them). */
static bool
topic_taken(const struct esp_hooks *h, const char *arn)
{
	size_t n = strlen(arn);
	for (const char *p = h->cfg->hooks_ses_topics; *p;) {
		p += strspn(p, ", \t");
		size_t l = strcspn(p, ", \t");
		if (l && l == n && memcmp(p, arn, n) == 0)
			return true;
		p += l;
	}
	return false;
}

/* sns_verify - 1 the message is signed by its certificate, 0 not, -1 err (a fetch) */
static int
sns_verify(struct esp_hooks *h, const struct esp_sns *m, char *err, size_t errsz)
{
	enum sigcheck_alg alg;
	if (strcmp(m->signature_version, "1") == 0)
		alg = SIGCHECK_RSA_SHA1;
	else if (strcmp(m->signature_version, "2") == 0)
		alg = SIGCHECK_RSA_SHA256;
	else {
		snprintf(err, errsz, "SignatureVersion %.16s is not 1 or 2", m->signature_version);
		return 0;
	}
	struct buf sig = BUF_INIT;
	if (strlen(m->signature) > SIG_MAX * 2 ||
	    base64_decode(&sig, m->signature, strlen(m->signature), 0) < 0) {
		snprintf(err, errsz, "the Signature is not base64");
		buf_free(&sig);
		return 0;
	}
	char *pem = strmap_get(&h->certs, m->signing_cert_url);
	struct http_url u;
	const char *bad;
	if (pem == NULL &&
	    esp_url_split(m->signing_cert_url, h->cfg->hooks_sns_cert_hosts, &u, &bad) < 0) {
		/* Anyone can sign with a certificate of their own: only SNS's hosts count. */
		snprintf(err, errsz, "SigningCertURL: %s", bad);
		buf_free(&sig);
		return 0;
	}
	if (pem == NULL) {
		struct buf b = BUF_INIT;
		if (get(h, m->signing_cert_url, &b, err, errsz) < 0) {
			buf_free(&b);
			buf_free(&sig);
			return -1;
		}
		buf_addc(&b, '\0');
		if (h->ncerts >= CERTS_KEPT) {
			strmap_free_values(&h->certs, free);
			h->ncerts = 0;
		}
		pem = b.data;
		strmap_put(&h->certs, m->signing_cert_url, pem);
		h->ncerts++;
	}
	struct buf text = BUF_INIT;
	esp_sns_canonical(m, &text);
	const char *why = NULL;
	int rc = sigcheck_cert(pem, strlen(pem), alg, text.data, text.len,
	                       (const unsigned char *)sig.data, sig.len, &why);
	buf_free(&text);
	buf_free(&sig);
	if (rc < 0)
		snprintf(err, errsz, "%s", why);
	else if (rc == 0)
		snprintf(err, errsz, "the signature does not match the message");
	return rc < 0 ? 0 : rc;
}

/* Postmark: the request's Basic credentials are the configured user and password. */
static bool
postmark_allowed(const struct esp_hooks *h, const char *auth)
{
	if (auth == NULL || strncasecmp(auth, "Basic ", 6) != 0)
		return false;
	const char *b64 = auth + 6;
	b64 += strspn(b64, " ");
	size_t n = strcspn(b64, " \t");
	struct buf got = BUF_INIT, want = BUF_INIT;
	buf_printf(&want, "%s:%s", h->cfg->hooks_postmark_user, h->cfg->hooks_postmark_password);
	bool ok = n <= 1024 && base64_decode(&got, b64, n, 0) == 0 && got.len == want.len &&
	          token_equal(got.data, want.data, want.len);
	explicit_bzero(want.data, want.len);
	buf_free(&got);
	buf_free(&want);
	return ok;
}

/* SendGrid: the ECDSA signature over timestamp + body, and a timestamp within max_age. */
static bool
sendgrid_allowed(const struct esp_hooks *h, const struct esp_hooks_req *rq, const char **why)
{
	char *end;
	if (rq->signature == NULL || rq->timestamp == NULL) {
		*why = "no X-Twilio-Email-Event-Webhook-Signature or -Timestamp header";
		return false;
	}
	long long ts = strtoll(rq->timestamp, &end, 10);
	long long now = (long long)time(NULL);
	if (end == rq->timestamp || *end || ts < now - (long long)h->cfg->hooks_sendgrid_max_age ||
	    ts > now + (long long)h->cfg->hooks_sendgrid_max_age) {
		*why = "the timestamp is not a time within [hooks] sendgrid_max_age of now";
		return false;
	}
	struct buf sig = BUF_INIT, text = BUF_INIT;
	size_t sl = strlen(rq->signature);
	int rc = 0;
	if (sl <= SIG_MAX && base64_decode(&sig, rq->signature, sl, 0) == 0) {
		buf_adds(&text, rq->timestamp);
		buf_add(&text, rq->body, rq->len);
		rc = sigcheck_key((const unsigned char *)h->sg_key.data, h->sg_key.len,
		                  SIGCHECK_ECDSA_P256, text.data, text.len,
		                  (const unsigned char *)sig.data, sig.len, why);
	}
	buf_free(&sig);
	buf_free(&text);
	if (rc != 1)
		*why = "the signature does not match the timestamp and body";
	return rc == 1;
}

/* ---- events -------------------------------------------------------------------------- */

/* take - every event of batch through bounces_ingest_esp; 0, or a store error */
static int
take(struct esp_hooks *h, enum esp_provider p, const struct esp_batch *batch,
     struct esp_hooks_answer *out)
{
	char err[512];
	if (h->store == NULL) {
		if (store_open(h->db_path, 0, &h->store, err, sizeof(err)) < 0) {
			log_error("hooks provider=%s error=\"%s\"", esp_provider_name(p), err);
			return -1;
		}
		if (bounces_new(h->store, h->cfg, &h->bounces, err, sizeof(err)) < 0) {
			log_error("hooks provider=%s error=\"%s\"", esp_provider_name(p), err);
			store_close(h->store);
			h->store = NULL;
			return -1;
		}
	}
	unsigned counts[BOUNCES_DUPLICATE + 1] = {0};
	for (size_t i = 0; i < batch->n; i++) {
		const struct esp_event *e = &batch->ev[i];
		enum bounces_outcome oc;
		char why[768];
		int rc =
		    bounces_ingest_esp(h->bounces, esp_provider_name(p), e, &oc, why, sizeof(why));
		if (rc < 0) {
			log_error("hooks provider=%s event=%s error=\"%s\"", esp_provider_name(p),
			          e->id, store_errmsg(h->store));
			return rc;
		}
		counts[oc]++;
		log_info("hooks provider=%s event=%s type=\"%s\" result=%s %s",
		         esp_provider_name(p), e->id, e->type, bounces_outcome_name(oc), why);
	}
	snprintf(out->body, sizeof(out->body),
	         "ok events=%zu recorded=%u complaints=%u duplicates=%u unmatched=%u other=%u\n",
	         batch->n, counts[BOUNCES_RECORDED], counts[BOUNCES_COMPLAINT],
	         counts[BOUNCES_DUPLICATE], counts[BOUNCES_UNMATCHED], counts[BOUNCES_NOT_BOUNCE]);
	out->status = 200;
	out->ask_credentials = false;
	return 0;
}

static void
handle_ses(struct esp_hooks *h, const struct esp_hooks_req *rq, struct esp_hooks_answer *out)
{
	struct esp_sns m;
	const char *why;
	char err[512];
	if (esp_sns_parse(rq->body, rq->len, &m, &why) < 0) {
		answer(out, 400, "%s", why);
		return;
	}
	if (!topic_taken(h, m.topic_arn)) {
		log_warn("hooks provider=ses client=%s result=refused topic=\"%.200s\" "
		         "reason=\"not in [hooks] ses_topics\"",
		         rq->client, m.topic_arn);
		answer(out, 403, "topic %s is not one [hooks] ses_topics takes", m.topic_arn);
		esp_sns_free(&m);
		return;
	}
	int ok = sns_verify(h, &m, err, sizeof(err));
	if (ok <= 0) {
		log_warn("hooks provider=ses client=%s message=%s result=refused reason=\"%s\"",
		         rq->client, m.message_id, err);
		answer(out, ok < 0 ? 502 : 401,
		       ok < 0 ? "signing certificate: %s" : "SNS signature: %s", err);
		esp_sns_free(&m);
		return;
	}
	if (strcmp(m.type, "SubscriptionConfirmation") == 0) {
		struct buf b = BUF_INIT;
		if (get(h, m.subscribe_url, &b, err, sizeof(err)) < 0) {
			log_warn("hooks provider=ses topic=%s result=unconfirmed reason=\"%s\"",
			         m.topic_arn, err);
			answer(out, 502, "subscription not confirmed: %s", err);
		} else {
			log_info("hooks provider=ses topic=%s result=confirmed", m.topic_arn);
			answer(out, 200, "subscription to %s confirmed", m.topic_arn);
		}
		buf_free(&b);
	} else if (strcmp(m.type, "UnsubscribeConfirmation") == 0) {
		log_info("hooks provider=ses topic=%s result=unsubscribed", m.topic_arn);
		answer(out, 200, "unsubscribed from %s", m.topic_arn);
	} else {
		struct esp_batch batch;
		if (esp_ses_parse(m.message, strlen(m.message), m.message_id, &batch, &why) < 0) {
			/* Signed by SNS but not SES's: taken, so that SNS does not retry it. */
			log_warn("hooks provider=ses message=%s result=ignored reason=\"%s\"",
			         m.message_id, why);
			answer(out, 200, "ignored: %s", why);
		} else {
			if (take(h, ESP_SES, &batch, out) < 0)
				answer(out, 503, "%s", "database busy or failing: try again");
			esp_batch_free(&batch);
		}
	}
	esp_sns_free(&m);
}

void
esp_hooks_handle(struct esp_hooks *h, const struct esp_hooks_req *rq, struct esp_hooks_answer *out)
{
	const char *name = esp_provider_name(rq->provider), *why = NULL;
	if (!esp_hooks_enabled(h->cfg, rq->provider)) {
		answer(out, 404, "%s", "not found");
		return;
	}
	if (rq->provider == ESP_SES) {
		handle_ses(h, rq, out);
		return;
	}
	if (rq->provider == ESP_POSTMARK && !postmark_allowed(h, rq->authorization)) {
		log_warn("hooks provider=%s client=%s result=refused reason=\"bad credentials\"",
		         name, rq->client);
		answer(out, 401, "%s", "bad credentials");
		out->ask_credentials = true;
		return;
	}
	if (rq->provider == ESP_SENDGRID && !sendgrid_allowed(h, rq, &why)) {
		log_warn("hooks provider=%s client=%s result=refused reason=\"%s\"", name,
		         rq->client, why);
		answer(out, 401, "%s", why);
		return;
	}
	struct esp_batch batch;
	int rc = rq->provider == ESP_SENDGRID ? esp_sendgrid_parse(rq->body, rq->len, &batch, &why)
	                                      : esp_postmark_parse(rq->body, rq->len, &batch, &why);
	if (rc < 0) {
		answer(out, 400, "%s", why);
		return;
	}
	if (take(h, rq->provider, &batch, out) < 0)
		answer(out, 503, "%s", "database busy or failing: try again");
	esp_batch_free(&batch);
}
