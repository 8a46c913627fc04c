/*
 * mime - build one RFC 5322 / MIME message and encode header fields.
 *
 * Owns the exact bytes of a message: header fields (RFC 2047 encoded-words,
 * RFC 5322 quoting and folding), the body structure (one text part, or
 * multipart/alternative with the text part first and the HTML part second)
 * and the body transfer encodings; and, the other way, the plain text of a
 * display name given quoted or encoded (mime_display_name_decode). Pure code:
 * no I/O, no clock, no globals, no logging. Output is deterministic: the same
 * inputs give the same bytes.
 *
 * Guarantees on every message and header written here:
 * - every line ends in CRLF; no bare CR or LF is ever written;
 * - no line is longer than 998 octets; header fields are folded at whitespace
 *   to stay within 78 where the input allows;
 * - header text cannot split or add a header field: in free text (Subject,
 *   display names, custom header values, Feedback-ID) every control byte
 *   (0x00-0x1f, 0x7f: CR, LF, NUL, TAB...) is replaced by a space, invalid
 *   UTF-8 by U+FFFD, and leading and trailing blanks are dropped; in
 *   structured inputs (addresses, Message-ID parts, List-Unsubscribe URLs)
 *   such bytes are refused with an error instead, since a space there would
 *   change their meaning.
 *
 * Body transfer encoding (see mime_body_choose): 7bit when every byte is
 * ASCII (no NUL) and every line is at most 998 octets; otherwise
 * quoted-printable when at most one byte in six is non-ASCII (or NUL), else
 * base64. Line breaks in bodies (CRLF, bare LF, bare CR) become CRLF, and a
 * non-empty body that does not end in a line break gets one.
 */
#ifndef KIRIM_MIME_H
#define KIRIM_MIME_H

#include <stddef.h>

struct buf;

enum {
	MIME_LINE_SOFT = 78,  /* RFC 5322 2.1.1: SHOULD */
	MIME_LINE_MAX = 998,  /* RFC 5322 2.1.1: MUST (without the CRLF) */
	MIME_NAME_MAX = 76,   /* longest header field name accepted ("Name: " fits in 78) */
	MIME_ADDR_MAX = 254,  /* longest address accepted (RFC 5321 path less the brackets) */
	MIME_URL_MAX = 900,   /* longest List-Unsubscribe URL accepted */
	MIME_MSGID_MAX = 250, /* longest Message-ID local part or domain accepted */
};

enum mime_cte {
	MIME_7BIT,
	MIME_QP,
	MIME_BASE64,
};

/* A custom header field: name and value, both NUL-terminated. */
struct mime_header {
	const char *name;
	const char *value;
};

/*
 * One message. Strings are NUL-terminated and borrowed for the duration of
 * mime_build only; NULL means absent. Required: from_addr, to_addr,
 * msgid_local, domain, and at least one of text and html.
 */
struct mime_msg {
	const char *from_name; /* display name, UTF-8, may be NULL */
	const char *from_addr; /* addr-spec, e.g. as checked by address_parse */
	const char *to_name;
	const char *to_addr;
	const char *reply_to; /* addr-spec, optional */
	const char *subject;  /* UTF-8 text; NULL omits the Subject field */
	const char *text;     /* text/plain body (text_len bytes), NULL if absent */
	size_t text_len;
	const char *html; /* text/html body (html_len bytes), NULL if absent */
	size_t html_len;
	const char *msgid_local;           /* unique id: Message-ID is <msgid_local@domain> */
	const char *domain;                /* sending domain (A-labels) */
	const char *list_unsub_url;        /* https://... one-click URL, optional */
	const char *list_unsub_mailto;     /* mailto:... or a bare address, optional */
	const char *feedback_id;           /* Feedback-ID value, optional */
	long long date;                    /* seconds since the epoch, UTC */
	int tz_minutes;                    /* UTC offset of the Date field, east positive */
	const struct mime_header *headers; /* custom header fields, written in order */
	size_t n_headers;
	const char *boundary_seed; /* seeds the multipart boundary; NULL uses msgid_local */
};

/*
 * mime_build - append the whole message to out. Returns 0, or -1 with a short
 * English reason in err (errsz bytes) and out left as it was.
 *
 * Fields are written in this order: Date, From, To, Reply-To, Subject,
 * Message-ID, MIME-Version, List-Unsubscribe, List-Unsubscribe-Post (only
 * with an https URL, RFC 8058), Feedback-ID, the custom fields, Content-Type,
 * Content-Transfer-Encoding. Custom field names must pass
 * mime_header_name_check.
 */
int mime_build(const struct mime_msg *m, struct buf *out, char *err, size_t errsz);
/*
 * mime_check - mime_build's verdict on m without the message: 0, or -1 with
 * the reason it would give. The bodies are not read (any bytes encode).
 */
int mime_check(const struct mime_msg *m, char *err, size_t errsz);

/*
 * mime_header_encode - append "name: value" CRLF as an unstructured field:
 * value (len bytes) is cleaned as described above, written as is when it is
 * printable ASCII, or as RFC 2047 encoded-words (UTF-8; Q unless B is more
 * than 25% shorter; each at most 75 characters, never splitting a UTF-8 sequence)
 * when it holds non-ASCII, looks like an encoded-word ("=?") or has a run of
 * more than 900 bytes without a blank; folded with CRLF SP. Returns 0, or -1
 * when name is not a valid field name (out unchanged).
 */
int mime_header_encode(struct buf *out, const char *name, const char *value, size_t len);

/*
 * mime_addr_encode - append "name: display <addr>" CRLF (or "name: addr" when
 * display is NULL or blank). The display name is written as atoms, as a
 * quoted-string with escapes when it holds specials, or as encoded-words when
 * it holds non-ASCII. Returns 0, or -1 when name or addr is not acceptable.
 */
int mime_addr_encode(struct buf *out, const char *name, const char *display, const char *addr);

/*
 * mime_display_name_decode - the plain UTF-8 text of a display name as a person
 * gives it (typed, or copied from a header), which is what mime_addr_encode
 * takes: a name wholly in double quotes is an RFC 5322 quoted-string (the
 * quotes go and each quoted-pair stands for its character); any other name is
 * taken as written, a stray quote, a backslash or a parenthesised comment
 * included, except that RFC 2047 encoded-words (whole blank-separated words in
 * utf-8, us-ascii or iso-8859-1) are decoded and the blanks between two of them
 * dropped. Encoded-words inside quotes stay text (RFC 2047 5 (3)). Blanks at
 * both ends are dropped, a tab is a space. So for any text t that
 * mime_addr_encode writes unchanged (no controls, no blanks at the ends), the
 * display name it writes decodes back to t.
 *
 * Writes the text, NUL-terminated, to out (outsz bytes) and returns 0, or
 * returns -1 with *reason set to a static phrase and out untouched:
 * "control character" (other than tab, or any decoded from an encoded-word),
 * "invalid UTF-8", "malformed encoded-word", "unsupported charset in
 * encoded-word", "display name too long" (it does not fit in out).
 */
int mime_display_name_decode(const char *s, size_t n, char *out, size_t outsz, const char **reason);

/*
 * mime_header_name_check - may a campaign set a header field called name?
 * Returns 0, or -1 with *reason set to a static phrase: empty, too long, a
 * byte other than printable ASCII except ':' and SP, or a field kirim sets
 * itself or that belongs to transport or signing (From, To, Cc, Bcc, Sender,
 * Reply-To, Subject, Date, Message-ID, MIME-Version, Content-*, Resent-*,
 * ARC-*, DKIM-Signature, Return-Path, Received, List-Unsubscribe*,
 * Feedback-ID...).
 */
int mime_header_name_check(const char *name, const char **reason);

/* mime_body_choose - the transfer encoding mime_build uses for these body bytes */
enum mime_cte mime_body_choose(const char *body, size_t len);

/*
 * mime_body_encode - append body (len bytes) in the given encoding, line
 * breaks normalised to CRLF; the output is empty or ends in CRLF. MIME_7BIT
 * must only be asked for when mime_body_choose said so.
 */
void mime_body_encode(struct buf *out, const char *body, size_t len, enum mime_cte cte);

/*
 * mime_body_crlf - append body (len bytes) as a reader of the message decodes
 * its part: line breaks normalised to CRLF, and one at the end of a non-empty
 * body (the bytes mime_body_encode encodes)
 */
void mime_body_crlf(struct buf *out, const char *body, size_t len);

/* mime_cte_name - "7bit", "quoted-printable" or "base64" */
const char *mime_cte_name(enum mime_cte cte);

#endif
