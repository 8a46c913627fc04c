/*
 * dsn - read one returned message: a delivery status notification (RFC 3464
 * multipart/report, or the home-made formats of Postfix, Exim, Sendmail,
 * qmail, Exchange, Gmail, Yahoo, Amazon SES, Courier, fml...), a complaint (ARF,
 * RFC 5965) or an auto-reply (RFC 3834), and say what it means for each
 * recipient, through the bounce classifier (bounce_class.h).
 *
 * It also returns what maps the report back to the message kirim sent: every
 * address in the report's To:, Delivered-To: and X-Original-To: (kirim's VERP
 * address b-TOKEN@bounce.domain is among them) and the Message-ID of the
 * returned original.
 *
 * A small lenient MIME walker lives here (header unfolding, nested
 * multiparts up to DSN_DEPTH_MAX, quoted-printable and base64); text parts
 * in another charset (ISO-2022-JP, Shift_JIS, Latin-1...) are read as UTF-8
 * through iconv(3), and ISO-2022 bytes it cannot convert are blanked, never
 * taken for words or addresses. A recipient is an address that parses as
 * one (a text's addresses need a dotted domain), taken from where a report
 * names recipients: report fields, X-Failed-Recipients, the notice's text
 * (not quoted Received:/Authentication-Results: fields). A recipient the
 * server reports as failed is never "delivered". Amazon SES
 * notifications (JSON, bare or in an SNS envelope's Message) are read as
 * JSON by jansson, from a line of the readable text that opens with '{' (at
 * most DSN_SES_TRIES such lines are tried); no jansson type crosses this
 * header. Pure code: no I/O, no globals, no logging. Every input
 * (malformed, truncated, huge, deeply nested) gives a report; what cannot
 * be read is DSN_UNPARSEABLE with a one-line reason. The report owns all its
 * strings; free it with dsn_report_free.
 */
#ifndef KIRIM_DSN_H
#define KIRIM_DSN_H

#include <stddef.h>

#include "kirim/bounce_class.h"

struct buf;

enum {
	DSN_DEPTH_MAX = 16,               /* deepest MIME nesting read */
	DSN_PARTS_MAX = 1000,             /* most MIME parts read */
	DSN_RCPT_MAX = 1000,              /* most recipients reported */
	DSN_INPUT_MAX = 32 * 1024 * 1024, /* biggest message read */
	DSN_SES_TRIES = 8,                /* lines opening with '{' tried as SES JSON */
};

enum dsn_kind { DSN_BOUNCE, DSN_COMPLAINT, DSN_AUTOREPLY, DSN_NOT_BOUNCE, DSN_UNPARSEABLE };

/* One recipient of the report. Strings are never NULL ("" when absent). */
struct dsn_recipient {
	char *address;    /* the bounced (or complained-about) address, domain lower-cased */
	char *action;     /* "failed", "delayed", "delivered"... */
	char *status;     /* enhanced status code "5.1.1" */
	char *remote_mta; /* the host that refused it */
	char *diag_type;  /* "smtp", "x-unix"... */
	char *diagnostic; /* the diagnostic text, one line */
	int reply_code;   /* the SMTP reply code found in the diagnostic, or 0 */
	struct bounce_verdict verdict;
};

struct dsn_report {
	enum dsn_kind kind;
	char *why;    /* one line: why not_bounce or unparseable; "" otherwise */
	char *format; /* what was read: "rfc3464", "arf", "rfc3834", "text", "fml"... */
	struct dsn_recipient *rcpt;
	size_t nrcpt;
	char *feedback_type; /* complaints: "abuse", "fraud"...; "" otherwise */
	char **envelope;     /* every address in To:, Delivered-To:, X-Original-To: */
	size_t nenvelope;
	char *orig_message_id; /* the original's Message-ID without <>, or "" */
};

/*
 * dsn_parse - read msg (len bytes, need not be NUL-terminated) into *out.
 * Returns 0; out->kind says what it was. *out must be freed with
 * dsn_report_free.
 */
int dsn_parse(const char *msg, size_t len, struct dsn_report *out);
/* dsn_report_free - release what dsn_parse allocated; the report is zeroed */
void dsn_report_free(struct dsn_report *r);
/* dsn_kind_name - "bounce", "complaint", "autoreply", "not_bounce", "unparseable" */
const char *dsn_kind_name(enum dsn_kind k);
/*
 * dsn_format_tsv - append one line per recipient to out: file, recipient,
 * reason, class, status, remote MTA, tab-separated (tabs and line breaks in
 * values become spaces). A report without recipients gives one line with
 * "-" as recipient and the kind as reason ("feedback" for a complaint).
 */
void dsn_format_tsv(const struct dsn_report *r, const char *file, struct buf *out);

#endif
