/*
 * composer - campaign × recipient → the exact RFC 5322 bytes to send.
 *
 * A composer is made once per campaign: it compiles the subject, text and HTML
 * templates and holds the sender identity and DKIM signers. composer_render
 * then builds one recipient's context (their attributes, address, campaign
 * fields, signed unsubscribe token and URLs), renders the three templates with
 * the right escaping (header-safe subject, raw text, HTML-escaped HTML),
 * assembles the MIME message and prepends one DKIM-Signature per signer.
 * Buffers are reused between calls. Not thread-safe: one composer per thread;
 * composer_dup makes one for each further thread.
 * Does no I/O and does not log.
 *
 * Fields every template can use besides the recipient's own attributes
 * (built-ins win over attributes of the same name):
 *   email, domain, name (attribute "name", else "first_name last_name"),
 *   unsubscribe_url, unsubscribe_token, view_url,
 *   campaign.name, campaign.id, sender.name, sender.email
 * An attribute is reached by its name as written, blanks included ({{First
 * Name}}); one whose name holds dots ("utm.source") is also filed under nested
 * objects, so that {{utm.source}} finds it (unless a column "utm" is there).
 */
#ifndef KIRIM_COMPOSER_H
#define KIRIM_COMPOSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/address.h"

struct buf;
struct composer;
struct json_t;
struct dkim_signer;
struct mime_header;

struct composer_campaign {
	int64_t id;
	const char *name;
	const char *subject; /* template sources; text or html may be NULL, not both */
	const char *text;
	const char *html;
	const char *from_name; /* may be NULL */
	const char *from_addr;
	const char *reply_to; /* may be NULL */
	const struct mime_header *headers;
	size_t n_headers;
	/*
	 * The campaign's click-link table so far (options "links": a JSON array
	 * of URLs), or NULL: its URLs keep their numbers, new ones come after
	 * them. Read by composer_new, not kept.
	 */
	const struct json_t *links;
};

struct composer_identity {
	const void *secret; /* token key */
	size_t secret_len;
	const char *domain;        /* Message-ID domain; NULL or "": the From address's domain */
	const char *unsub_url;     /* one-click base URL (token appended); NULL: none */
	const char *unsub_mailto;  /* unsubscribe address; NULL: u-TOKEN@bounce_domain if set */
	const char *view_url;      /* browser view base URL; NULL: none */
	const char *bounce_domain; /* VERP envelope b-TOKEN@bounce_domain; NULL: From address */
	const char *feedback_id;   /* Feedback-ID sender id; NULL: no Feedback-ID */
	const char *track_base;    /* 'kirim serve' base URL for opens and clicks; NULL: none */
	int track_opens;           /* a 1x1 image BASE/o/TOKEN.gif at the end of the HTML part */
	int track_clicks;          /* http(s) links of the HTML part → BASE/c/TOKEN/N */
	struct dkim_signer *const *signers;
	size_t n_signers;
	/*
	 * fields - called for each recipient once the built-in fields are in ctx
	 * (a jansson object), to add a campaign kind's own: a confirmation
	 * campaign's link and texts (signup.h). now is the message's time (the
	 * browser view's: the time it is made). NULL: none. Called on the
	 * composer's thread.
	 */
	void (*fields)(void *arg, struct json_t *ctx, int64_t contact_id, long long now);
	void *fields_arg;
};

struct composer_recipient {
	int64_t contact_id;
	const char *email; /* as stored: local part as written, A-label domain */
	const char *attrs; /* the contact's attributes, a JSON object ("{}" when none) */
};

enum {
	COMPOSER_MAX_SUBJECT = 900,   /* rendered subject bytes */
	COMPOSER_MAX_PART = 8u << 20, /* rendered text or HTML bytes */
};

/*
 * composer_new - compile the campaign's templates; err gets "subject: 1:9:
 * ..." for a template that does not compile. The structs are copied; the
 * strings and arrays they point to (except the template sources, which are
 * compiled) are borrowed and must outlive the composer.
 */
int composer_new(const struct composer_campaign *c, const struct composer_identity *id,
                 struct composer **out, char *err, size_t errsz);
/*
 * composer_links - the click-tracking link table so far (every recipient's
 * links share it: a URL keeps its number) as a JSON array into out; returns
 * how many links it has (0 without click tracking); out may be NULL for the count only.
 */
size_t composer_links(const struct composer *c, struct buf *out);
/*
 * composer_dup - a composer for another thread that renders exactly what k
 * renders (the same bytes for the same recipient and time), signing with
 * signers (k's count of them, each its own: a signer is not shared between
 * threads; borrowed). It shares k's compiled templates and click-link table
 * (a URL has one number whichever thread meets it first; the table is locked
 * while a message's links are rewritten) and calls the identity's fields
 * callback under the same lock. Free every dup before k. Always 0.
 */
int composer_dup(const struct composer *k, struct dkim_signer *const *signers,
                 struct composer **out);
/* composer_free - NULL is a no-op */
void composer_free(struct composer *c);

/*
 * composer_view - one recipient's body for the browser view (kirim serve's
 * /v/TOKEN) into out (replacing what it held): the HTML part when the
 * template has one (*html true), else the text part, as the message's part
 * decodes (composer_render's rendering, line breaks as CRLF). Links are
 * tracked as in the message, except a URL the link table does not hold yet,
 * which is left as written (its number would mean nothing to kirim serve);
 * there is no open pixel (a page in a browser is not an open). now: the
 * time it is made. 0, or -1 with err as composer_render.
 */
int composer_view(struct composer *c, const struct composer_recipient *r, long long now,
                  struct buf *out, bool *html, char *err, size_t errsz);

/*
 * composer_render - append one recipient's message to out and write its
 * envelope sender to envelope_from. now and tz_minutes set the Date field.
 * Returns 0, or -1 with the reason in err (out unchanged): bad attributes,
 * a template that fails for this recipient, a message MIME refuses.
 */
int composer_render(struct composer *c, const struct composer_recipient *r, long long now,
                    int tz_minutes, struct buf *out, char envelope_from[ADDRESS_MAX + 1], char *err,
                    size_t errsz);

/*
 * composer_check - composer_render's verdict on r, without the message: the
 * templates are rendered and every field mime_build would refuse is checked,
 * but no body is encoded and nothing is signed (the start check, precheck.c).
 * 0, or -1 with the reason composer_render would give in err.
 */
int composer_check(struct composer *c, const struct composer_recipient *r, char *err, size_t errsz);

#endif
