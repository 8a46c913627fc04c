/*
 * webhooks - events pushed to other tools: `kirim webhooks` and the delivery
 * thread `kirim serve` runs.
 *
 * Durability: the triggers of schema 007 copy each event a webhook wants
 * (delivered, deferred, bounced, failed, complained, unsubscribed, opened,
 * clicked, and campaign state changes) into webhook_outbox in the
 * transaction that records the event, so a crash loses none. Delivery: one
 * webhook at a time, a batch of at most WEBHOOKS_BATCH events after its
 * cursor, POSTed as JSON; a 2xx answer moves the cursor (at-least-once: a
 * batch answered but not yet recorded when kirim dies is sent again, with
 * the same event ids). Anything else is tried again after 1, 2, 4, ... s (at
 * most an hour apart) until the batch has failed for 24 hours; then it is
 * dropped (counted) and the next one goes. The thread has its own
 * connection and sleeps while nothing is due, so a slow or dead receiver
 * delays only its own events, never a send.
 *
 * Signature: each POST carries Kirim-Signature: t=UNIX,v1=HEX where HEX is
 * HMAC-SHA256(secret, "UNIX.BODY") in lower-case hex; a receiver recomputes
 * it, compares in constant time and refuses a t more than 5 minutes away from
 * its clock (docs/api.md#webhooks). https:// receivers are verified ([tls]
 * ca_file, else the system's CAs; a bad certificate is a failed try, never a
 * POST without verification); http:// is taken too (the body is signed, not
 * hidden). One POST at a time through http_client on the thread's own loop.
 * Logs each try at info.
 */
#ifndef KIRIM_WEBHOOKS_H
#define KIRIM_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum {
	WEBHOOKS_BATCH = 100,         /* events per POST */
	WEBHOOKS_GIVE_UP = 24 * 3600, /* seconds a batch is tried before it is dropped */
	WEBHOOKS_BACKOFF_MAX = 3600,  /* seconds between tries, at most */
	WEBHOOKS_TIMEOUT = 10,        /* seconds for a whole POST and its answer */
	WEBHOOKS_SECRET_MIN = 16,     /* bytes of a signing secret, at least */
};

#define WEBHOOKS_E_INVALID (-90) /* a URL, event name or secret that cannot be */

/*
 * webhooks_add - subscribe url to the events named in events (comma-separated;
 * "all" for every one) with a signing secret; *id set. WEBHOOKS_E_INVALID or a
 * store error, with err.
 */
int webhooks_add(struct store *s, const char *url, const char *events, const char *secret,
                 int64_t now, int64_t *id, char *err, size_t errsz);
/* webhooks_url_in_clear - whether url is http:// to another host: the events (subscribers'
 * addresses) would cross the network unencrypted (signed, so not changed unseen) */
bool webhooks_url_in_clear(const char *url);
/* webhooks_event_names - the names webhooks_add takes, comma-separated */
const char *webhooks_event_names(void);

/* The delivery thread of kirim serve. */
struct webhooks_runner;
/* webhooks_start - a thread delivering from the store at db_path, https receivers verified
 * with the CAs of ca_file (NULL or "": the system's); NULL with err */
struct webhooks_runner *webhooks_start(const char *db_path, const char *ca_file, char *err,
                                       size_t errsz);
/* webhooks_stop - stop the thread (after the POST in flight) and free it; NULL is a no-op */
void webhooks_stop(struct webhooks_runner *r);

#endif
