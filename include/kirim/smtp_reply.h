/*
 * smtp_reply - parse SMTP server replies (RFC 5321 4.2) and EHLO extensions.
 *
 * A struct smtp_reply_parser is fed the bytes a server sends, in pieces of any
 * size, and yields one complete reply at a time: multi-line replies are joined
 * (text lines separated by "\n"), the RFC 2034 enhanced status code ("x.y.z")
 * is split off when the text carries one. Malformed input (a bad code, mixed
 * codes in one multi-line reply, a NUL byte, a line over SMTP_REPLY_LINE_MAX or
 * a reply over SMTP_REPLY_MAX bytes) is refused with a short static reason in
 * p->error; the parser stays failed, since the stream cannot be resynchronised.
 * Bare LF ends a line as CRLF does (servers differ; the client never has to
 * trust line ends for safety).
 *
 * The reply handed out borrows the parser's memory: valid until the next call
 * to smtp_reply_feed or smtp_reply_parser_free. Pure code: no I/O, no globals,
 * no logging.
 */
#ifndef KIRIM_SMTP_REPLY_H
#define KIRIM_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "kirim/buf.h"

enum {
	SMTP_REPLY_LINE_MAX = 2048, /* one line, CRLF included */
	SMTP_REPLY_MAX = 64 * 1024, /* one reply, all lines */
	SMTP_REPLY_ECODE_MAX = 16,  /* "5.7.1" with room: class "." 3 digits "." 3 digits */
};

struct smtp_reply {
	int code;                         /* 200..599 */
	char ecode[SMTP_REPLY_ECODE_MAX]; /* "x.y.z", or "" when the text has none */
	const char *text;                 /* lines joined by "\n", ecodes removed; NUL-terminated */
	size_t text_len;
	unsigned nlines;
};

struct smtp_reply_parser {
	struct buf line; /* the line being received, not yet complete */
	struct buf text; /* text of the reply being assembled */
	int code;        /* code of the reply being assembled, 0 when none */
	unsigned nlines;
	size_t reply_bytes;
	char ecode[SMTP_REPLY_ECODE_MAX];
	int failed;
	const char *error; /* static reason once failed */
};

/* smtp_reply_parser_init - make an empty parser */
void smtp_reply_parser_init(struct smtp_reply_parser *p);
/* smtp_reply_parser_free - release the parser's memory; it may be initialised again */
void smtp_reply_parser_free(struct smtp_reply_parser *p);
/* smtp_reply_parser_reset - forget any partial reply and a previous failure */
void smtp_reply_parser_reset(struct smtp_reply_parser *p);
/* smtp_reply_parser_pending - 1 if bytes of an incomplete reply are held */
int smtp_reply_parser_pending(const struct smtp_reply_parser *p);

/*
 * smtp_reply_feed - consume bytes from data (len) until one reply is complete.
 * Sets *consumed to the bytes used. Returns 1 with *out filled when a reply is
 * complete (call again with the rest), 0 when every byte was used and more
 * are needed, -1 on malformed input (p->error says why; *out untouched).
 */
int smtp_reply_feed(struct smtp_reply_parser *p, const char *data, size_t len, size_t *consumed,
                    struct smtp_reply *out);

/* EHLO extensions (struct smtp_ehlo.flags). */
#define SMTP_EXT_PIPELINING (1u << 0)
#define SMTP_EXT_SIZE (1u << 1)
#define SMTP_EXT_8BITMIME (1u << 2)
#define SMTP_EXT_SMTPUTF8 (1u << 3)
#define SMTP_EXT_ENHANCEDSTATUSCODES (1u << 4)
#define SMTP_EXT_STARTTLS (1u << 5)
#define SMTP_EXT_AUTH (1u << 6)
#define SMTP_EXT_CHUNKING (1u << 7)
#define SMTP_EXT_DSN (1u << 8)

/* AUTH mechanisms (struct smtp_ehlo.auth). */
#define SMTP_AUTH_PLAIN (1u << 0)
#define SMTP_AUTH_LOGIN (1u << 1)
#define SMTP_AUTH_CRAM_MD5 (1u << 2)
#define SMTP_AUTH_XOAUTH2 (1u << 3)
#define SMTP_AUTH_OTHER (1u << 4) /* some mechanism not listed above */

struct smtp_ehlo {
	unsigned flags;
	unsigned auth;     /* SMTP_AUTH_* offered */
	uint64_t size_max; /* SIZE n; 0 when absent or when the server states no limit */
};

/*
 * smtp_reply_parse_ehlo - read the extension keywords of a 250 EHLO reply
 * (every line but the first, RFC 5321 4.1.1.1) into *out. Keywords are
 * case-insensitive; unknown ones are ignored; the old "AUTH=" form counts as
 * AUTH. Returns 0, or -1 when the reply is not a 2xx (*out untouched).
 */
int smtp_reply_parse_ehlo(const struct smtp_reply *r, struct smtp_ehlo *out);

/*
 * The facts an SMTP client reports about one recipient, message or
 * connection: where in the dialogue (stage), the reply, and what happened
 * without a reply. They live here, beside the reply parser, so that the code
 * that decides what they mean (smtp_outcome) needs no network code.
 */

/* Where in the dialogue a fact was observed. */
enum smtp_stage {
	SMTP_STAGE_CONNECT,
	SMTP_STAGE_BANNER,
	SMTP_STAGE_EHLO,
	SMTP_STAGE_STARTTLS,
	SMTP_STAGE_AUTH,
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,
	SMTP_STAGE_DOT,
	SMTP_STAGE_QUIT,
	SMTP_STAGE_DNS, /* finding the destination (direct delivery): no connection yet */
};

/* Flags of struct smtp_result. */
#define SMTP_RESULT_CONN_LOST (1u << 0) /* the connection broke: no reply */
#define SMTP_RESULT_TIMEOUT (1u << 1)   /* the server did not answer in time */
#define SMTP_RESULT_LOCAL (1u << 2)     /* decided here (TLS policy, size, protocol error) */
#define SMTP_RESULT_ABORTED (1u << 3)   /* the owner aborted or closed the session */

/*
 * What a local refusal (SMTP_RESULT_LOCAL) of a job was, when it is one of
 * these: the client names the fact, and disposition.c's table gives it its
 * RFC 3463 enhanced code and default text (disposition_local_ecode), so that
 * no code is invented in the network layer.
 */
enum smtp_local {
	SMTP_LOCAL_NONE,       /* a reply, or a local failure with no code of its own */
	SMTP_LOCAL_NO_RCPT,    /* a job without recipients */
	SMTP_LOCAL_BAD_SENDER, /* the envelope sender cannot go on a command line */
	SMTP_LOCAL_BAD_RCPT,   /* a recipient cannot go on a command line */
	SMTP_LOCAL_SMTPUTF8,   /* SMTPUTF8 needed, not offered (RFC 6531 3.4) */
	SMTP_LOCAL_TOO_BIG,    /* over the server's SIZE */
	SMTP_LOCAL_SUSPENDED,  /* the destination is suspended by its adaptive throttle */
};

/* One fact. Strings are borrowed for the duration of the callback. */
struct smtp_result {
	enum smtp_stage stage;
	int code;          /* the server's reply code, 0 when there was none */
	const char *ecode; /* "x.y.z" or "" */
	const char *text;  /* the server's text, or a local description */
	unsigned flags;
	enum smtp_local local; /* which local refusal, or NONE */
};

/* smtp_stage_name - "connect", "banner", "ehlo", ..., "dns" (the stored names) */
const char *smtp_stage_name(enum smtp_stage st);

#endif
