/*
 * bounces - what kirim does with mail that comes back: bounce messages
 * (DSNs), complaint reports (ARF) and auto-replies, and mail to the
 * unsubscribe address.
 *
 * A message is parsed (dsn.h) and mapped back to the message kirim sent: by
 * the VERP envelope address it was returned to (b-TOKEN@bounce domain) first,
 * then by the original's Message-ID (k.TOKEN@domain). A bounce is recorded as
 * an event of that message (a hard one marks it bounced) and suppresses the
 * address as the rules say; a complaint suppresses it and unsubscribes it;
 * mail to u-TOKEN@bounce domain unsubscribes (RFC 2369 mailto); auto-replies
 * and other mail are counted and left alone. A provider's webhook events
 * (esp_hooks.h) take the same path through bounces_ingest_esp. Owns a token key and borrows the
 * store it is given; one per thread. bounces_ingest_paths (files) and
 * bounces_listen.h (SMTP) feed it. Logs one line per message.
 */
#ifndef KIRIM_BOUNCES_H
#define KIRIM_BOUNCES_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct config;
struct bounces;
struct esp_event;

/* What became of one message. */
enum bounces_outcome {
	BOUNCES_RECORDED,     /* a bounce, recorded against its message */
	BOUNCES_COMPLAINT,    /* a complaint, recorded; the address suppressed */
	BOUNCES_UNSUBSCRIBED, /* mail to the unsubscribe address */
	BOUNCES_AUTOREPLY,    /* an auto-reply (RFC 3834): not a bounce */
	BOUNCES_NOT_BOUNCE,   /* some other mail */
	BOUNCES_UNMATCHED,    /* a bounce or complaint for no message kirim sent */
	BOUNCES_UNPARSEABLE,  /* cannot be read as mail */
	BOUNCES_DUPLICATE,    /* a provider's event taken before: nothing changed */
};

struct bounces_stats {
	uint64_t messages, recorded, complaints, unsubscribed, autoreplies, not_bounces, unmatched,
	    unparseable, suppressed, duplicates;
};

/* bounces_new - a context on s, with the token secret and bounce domain of cfg */
int bounces_new(struct store *s, const struct config *cfg, struct bounces **out, char *err,
                size_t errsz);
/* bounces_free - NULL is a no-op */
void bounces_free(struct bounces *b);
/*
 * bounces_ingest - one whole message (rcpts: its envelope recipients when an
 * SMTP listener knows them, else NULL/0). *out says what became of it; why
 * gets a line for logs. Returns 0, or a negative store error (nothing
 * recorded: the caller may retry).
 */
int bounces_ingest(struct bounces *b, const char *msg, size_t len, const char *const *rcpts,
                   size_t nrcpt, enum bounces_outcome *out, char *why, size_t whysz);
/*
 * bounces_ingest_esp - one event a provider's webhook reported (esp_event.h;
 * provider "ses", "sendgrid", "postmark"), mapped to kirim's message by the
 * original's Message-ID (k.TOKEN@domain), else by its recipient and the
 * campaign the payload named. A bounce goes through the classifier and the
 * disposition rules as a DSN's recipient does (its status, else the reply its
 * diagnostic quotes, else the provider's hard or soft word as 5.0.0 or
 * 4.0.0), a complaint as an ARF report's; an event id taken before changes
 * nothing (BOUNCES_DUPLICATE). Deliveries and deferrals are BOUNCES_NOT_BOUNCE.
 * Returns 0, or a negative store error (nothing recorded).
 */
int bounces_ingest_esp(struct bounces *b, const char *provider, const struct esp_event *e,
                       enum bounces_outcome *out, char *why, size_t whysz);
/*
 * bounces_accept_rcpt - whether mail for addr is kirim's to take: a valid
 * b-TOKEN (bounce) or u-TOKEN (unsubscribe) address at the bounce domain.
 * Returns 0, or -1 with a reason.
 */
int bounces_accept_rcpt(struct bounces *b, const char *addr, const char **why);
/*
 * bounces_ingest_paths - bounces_ingest every message at each of the n
 * paths: "-" (standard input), a file holding one message or an mbox, a
 * Maildir or a directory of message files (mailbox.h: what becomes of a
 * Maildir's files). problem(arg, sentence) hears of each path, directory or
 * file that could not be read or moved; the rest goes on. Returns 0, or the
 * first store error, which stops the run (what is left stays for the next).
 */
int bounces_ingest_paths(struct bounces *b, char *const *paths, size_t n,
                         void (*problem)(void *arg, const char *what), void *arg);
/* bounces_stats - counters so far */
void bounces_stats(const struct bounces *b, struct bounces_stats *st);
/* bounces_outcome_name - "recorded", "complaint", ... */
const char *bounces_outcome_name(enum bounces_outcome o);

#endif
