/*
 * esp_event - read the webhooks an email service provider (ESP) posts about
 * mail kirim relayed through it: Amazon SES notifications inside Amazon SNS
 * messages, SendGrid's event webhook and Postmark's bounce and spam
 * complaint webhooks; and the parts of SNS's message signing that are text:
 * the string a signature covers and the rule for the signing certificate's
 * URL.
 *
 * Each provider's payload becomes a list of events in one shape: what
 * happened (a bounce, a complaint, a delivery, a deferral, something else),
 * the recipient, the provider's own id of the event (a retry repeats it), the
 * enhanced status code and diagnostic the provider quotes, the provider's
 * hard or soft word, and what maps the event back to the message kirim sent
 * (the original's Message-ID, or kirim's campaign as a header or custom
 * argument carried it). What the event means for the message (reason, class,
 * suppression) is not decided here: bounces.h feeds it to the same
 * classifier and disposition rules as a DSN.
 *
 * Pure code: no I/O, no logging; jansson reads the JSON. The DSN parser
 * (dsn.h) reads an SES notification that came by mail with esp_ses_read, so
 * SES's format is read in one place; struct json_t is only forward-declared. Every input gives a
 * result: 0 with the events, or -1 with a one-line reason (not JSON, not the provider's shape).
 * Strings are owned by the batch (free with esp_batch_free) and never NULL ("" when absent).
 */
#ifndef KIRIM_ESP_EVENT_H
#define KIRIM_ESP_EVENT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct http_url;
struct json_t;

enum {
	ESP_BODY_MAX = 1024 * 1024, /* the biggest webhook body read (SendGrid batches events) */
	ESP_EVENTS_MAX = 10000,     /* events read from one body, at most */
	ESP_FIELD_MAX = 2000,       /* bytes kept of one string field (a diagnostic) */
};

enum esp_provider { ESP_SES, ESP_SENDGRID, ESP_POSTMARK };

enum esp_kind {
	ESP_BOUNCE,    /* the recipient's server refused it, now or later */
	ESP_COMPLAINT, /* the recipient marked it as spam */
	ESP_DELIVERED, /* the recipient's server took it */
	ESP_DEFERRED,  /* the provider will try again */
	ESP_OTHER,     /* an event kirim does not record (opens, clicks, auto-replies...) */
};

/* The provider's own word on a bounce, when it gives one. */
enum esp_hint { ESP_HINT_NONE, ESP_HINT_HARD, ESP_HINT_SOFT };

struct esp_event {
	enum esp_kind kind;
	enum esp_hint hint;
	char *id;            /* the provider's id of this event: a retry repeats it */
	char *address;       /* the recipient */
	char *status;        /* an enhanced status code "5.1.1", or "" */
	char *diagnostic;    /* the remote server's reply or the provider's reason, one line */
	char *action;        /* SES's DSN action ("failed"; "delivered" for a delivery), or "" */
	char *type;          /* the provider's words: "Permanent/General", "bounce/blocked"... */
	char *message_id;    /* the original's Message-ID without <>, or "" */
	char *campaign;      /* kirim's campaign (name or id) the payload carried, or "" */
	char *feedback_type; /* a complaint's ("abuse"), or "" */
	char *remote_mta;    /* the server that refused it, or "" */
};

struct esp_batch {
	struct esp_event *ev;
	size_t n;
};

/*
 * esp_ses_parse - the SES notification json (n bytes: an SNS Notification's
 * Message). Bounce and Complaint give one event per recipient, Delivery one
 * ESP_DELIVERED per recipient, DeliveryDelay one ESP_DEFERRED, anything else
 * none. Event ids are id_prefix (the SNS MessageId) "/" the recipient.
 */
int esp_ses_parse(const char *json, size_t n, const char *id_prefix, struct esp_batch *out,
                  const char **why);
/*
 * esp_ses_read - the same for a notification jansson has read: 0, or -1 when
 * it has no notificationType (nothing in out)
 */
int esp_ses_read(const struct json_t *j, const char *id_prefix, struct esp_batch *out);
/* esp_sendgrid_parse - SendGrid's event webhook body: a JSON array of events */
int esp_sendgrid_parse(const char *body, size_t n, struct esp_batch *out, const char **why);
/* esp_postmark_parse - a Postmark webhook body: one Bounce or SpamComplaint record */
int esp_postmark_parse(const char *body, size_t n, struct esp_batch *out, const char **why);
/* esp_batch_free - release what a parse allocated; the batch is zeroed */
void esp_batch_free(struct esp_batch *b);
/* esp_kind_name - "bounce", "complaint", "delivered", "deferred", "other" */
const char *esp_kind_name(enum esp_kind k);
/* esp_provider_name - "ses", "sendgrid", "postmark" */
const char *esp_provider_name(enum esp_provider p);

/* An Amazon SNS message (HTTP POST body), its fields as sent. */
struct esp_sns {
	char *type; /* "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation" */
	char *message_id; /* MessageId */
	char *topic_arn;  /* TopicArn */
	char *subject;    /* Subject (Notification only; may be absent) */
	bool has_subject;
	char *message;           /* Message */
	char *timestamp;         /* Timestamp */
	char *token;             /* Token (confirmations) */
	char *subscribe_url;     /* SubscribeURL (confirmations) */
	char *signature_version; /* "1" (SHA1withRSA) or "2" (SHA256withRSA) */
	char *signature;         /* base64 */
	char *signing_cert_url;  /* SigningCertURL */
};

/*
 * esp_sns_parse - read an SNS message: 0, or -1 with why (not JSON, a type
 * SNS does not send, a field the type needs missing or not a string).
 */
int esp_sns_parse(const char *body, size_t n, struct esp_sns *out, const char **why);
/* esp_sns_free - release what esp_sns_parse allocated; zeroed */
void esp_sns_free(struct esp_sns *m);
/*
 * esp_sns_canonical - the string the message's signature covers, as SNS
 * documents it: "Name\nvalue\n" for each of the type's fields in byte order
 * of their names (Notification: Message, MessageId, Subject when present,
 * Timestamp, TopicArn, Type; the confirmations: Message, MessageId,
 * SubscribeURL, Timestamp, Token, TopicArn, Type)
 */
void esp_sns_canonical(const struct esp_sns *m, struct buf *out);

/*
 * esp_url_split - an https URL whose host matches one of hosts (patterns
 * separated by commas or blanks, "*" standing for one DNS label of letters,
 * digits and hyphens: "sns.*.amazonaws.com"), parsed by http_url_parse into *u.
 * 0, or -1 with why. No IP address unless a pattern names it.
 */
int esp_url_split(const char *url, const char *hosts, struct http_url *u, const char **why);

#endif
