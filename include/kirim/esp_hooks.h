/*
 * esp_hooks - the webhooks email service providers post to kirim serve's
 * public listener when kirim relays through them: Amazon SES through SNS
 * (POST /hooks/ses), SendGrid's signed event webhook (/hooks/sendgrid) and
 * Postmark's bounce and spam complaint webhooks (/hooks/postmark). Each is off
 * until kirim.conf's [hooks] configures it (docs/esp-webhooks.md).
 *
 * A request is checked first and nothing is written unless it passes: an SNS
 * message's signature against the certificate fetched from its
 * SigningCertURL (https, a host [hooks] sns_cert_hosts trusts, verified with
 * sns_ca_file or the system's CAs; certificates kept for the context's life),
 * from a topic [hooks] ses_topics names; SendGrid's ECDSA signature over its
 * timestamp and the body, with a fresh timestamp; Postmark's HTTP Basic
 * credentials (compared in constant time). A subscription confirmation is
 * confirmed by a GET of its SubscribeURL (the same host rule). Each event the
 * payload holds then goes through bounces_ingest_esp (bounces.h), the DSNs'
 * path: the classifier, the disposition rules, suppressions, the campaign's
 * pause rules, and the events table the reports and outgoing webhooks read.
 *
 * Blocking (the certificate fetch runs a private libuv loop, with its own
 * resolver): kirim serve calls it from its thread pool, one request at a time.
 * One context per thread; it opens its own store connection on first use.
 * Logs one line per event and per refused request.
 */
#ifndef KIRIM_ESP_HOOKS_H
#define KIRIM_ESP_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/esp_event.h"

struct config;
struct esp_hooks;

/* One request, as the HTTP server read it (strings NULL when absent). */
struct esp_hooks_req {
	enum esp_provider provider;
	const char *body;
	size_t len;
	const char *authorization; /* Authorization (Postmark) */
	const char *signature;     /* X-Twilio-Email-Event-Webhook-Signature (SendGrid) */
	const char *timestamp;     /* X-Twilio-Email-Event-Webhook-Timestamp (SendGrid) */
	const char *client;        /* the client's address, for the log */
};

/* The answer: status, a short text body, and whether to ask for Basic credentials. */
struct esp_hooks_answer {
	int status;
	bool ask_credentials; /* a 401 of Postmark's: WWW-Authenticate goes with it */
	char body[256];
};

/* esp_hooks_enabled - whether cfg configures provider p's webhook */
bool esp_hooks_enabled(const struct config *cfg, enum esp_provider p);
/*
 * esp_hooks_new - a context for cfg (borrowed, outliving it) on the database
 * at db_path (opened on first use); NULL with a sentence in err when the
 * configuration cannot be used (a SendGrid key that is not one)
 */
struct esp_hooks *esp_hooks_new(const struct config *cfg, const char *db_path, char *err,
                                size_t errsz);
/* esp_hooks_free - NULL is a no-op */
void esp_hooks_free(struct esp_hooks *h);
/*
 * esp_hooks_handle - check and take one request: 200 when taken (its events
 * recorded, counted or found to be retries), 400 a body that is not the
 * provider's, 401 a bad signature, a stale timestamp or bad credentials, 403
 * an SNS topic not configured, 404 a provider not configured, 502 a signing
 * certificate or subscription URL that could not be fetched, 503 a database
 * error (the provider retries). Nothing is written unless the answer is 200.
 */
void esp_hooks_handle(struct esp_hooks *h, const struct esp_hooks_req *rq,
                      struct esp_hooks_answer *out);

#endif
