/*
 * bounce - the one classifier that says why a recipient bounced.
 *
 * Input is one SMTP fact: a reply code (0 when unknown), an enhanced status
 * code ("5.1.1", or "" when absent) and the reply text. The same function
 * classifies a live SMTP reply and the Status:/Diagnostic-Code: of a DSN.
 * Output is a reason from a fixed list close to Sisimai's, a class (hard,
 * soft, none; Sisimai's softbounce notion: only userunknown, hostunknown,
 * hasmoved and a 5xx notaccept are hard) and a scope hint (the recipient,
 * the message, or the whole destination).
 *
 * The rules are data: one static table in bounce.c, read in order (specific
 * enhanced status codes, then reply-text patterns of well-known MTAs and
 * providers, then generic codes). Pure code: no I/O, no globals, no logging.
 */
#ifndef KIRIM_BOUNCE_H
#define KIRIM_BOUNCE_H

#include <stddef.h>

enum bounce_reason {
	BOUNCE_UNDEFINED,
	BOUNCE_USERUNKNOWN,
	BOUNCE_MAILBOXFULL,
	BOUNCE_HOSTUNKNOWN,
	BOUNCE_BLOCKED,
	BOUNCE_SPAMDETECTED,
	BOUNCE_POLICYVIOLATION,
	BOUNCE_REJECTED,
	BOUNCE_FILTERED,
	BOUNCE_EXPIRED,
	BOUNCE_MESGTOOBIG,
	BOUNCE_NETWORKERROR,
	BOUNCE_SYSTEMERROR,
	BOUNCE_SYSTEMFULL,
	BOUNCE_TOOMANYCONN,
	BOUNCE_SUSPEND,
	BOUNCE_SECURITYERROR,
	BOUNCE_NORELAYING,
	BOUNCE_CONTENTERROR,
	BOUNCE_VIRUSDETECTED,
	BOUNCE_EXCEEDLIMIT,
	BOUNCE_SYNTAXERROR,
	BOUNCE_NOTACCEPT,
	BOUNCE_ONHOLD,
	BOUNCE_SPEEDING,
	BOUNCE_HASMOVED,
	BOUNCE_MAILERERROR,
	BOUNCE_FEEDBACK,
	BOUNCE_VACATION,
	BOUNCE_DELIVERED,
	BOUNCE_REASON_COUNT
};

/* Where in the SMTP dialogue the reply came; UNKNOWN lets the text tell ("after RCPT TO"...). */
enum bounce_stage {
	BOUNCE_STAGE_UNKNOWN,
	BOUNCE_STAGE_CONNECT,
	BOUNCE_STAGE_HELO,
	BOUNCE_STAGE_MAIL,
	BOUNCE_STAGE_RCPT,
	BOUNCE_STAGE_DATA,
};

enum bounce_class { BOUNCE_HARD, BOUNCE_SOFT, BOUNCE_NONE };

enum bounce_scope { BOUNCE_SCOPE_RECIPIENT, BOUNCE_SCOPE_MESSAGE, BOUNCE_SCOPE_DESTINATION };

struct bounce_verdict {
	enum bounce_reason reason;
	enum bounce_class cls;
	enum bounce_scope scope;
};

/*
 * bounce_classify - classify one SMTP fact. code is the reply code (0 when
 * unknown); ecode the enhanced status code or "" (NULL is taken as ""); text
 * the reply or diagnostic text, text_len bytes, need not be NUL-terminated
 * (NULL with 0 is fine). Only the first 16 KiB of text are read. The SMTP
 * stage is read from the text when it says ("in reply to RCPT TO command").
 */
struct bounce_verdict bounce_classify(int code, const char *ecode, const char *text,
                                      size_t text_len);
/*
 * bounce_classify_stage - the same, for a caller that knows the stage. A
 * "user unknown" text is a hard userunknown only when the status code says
 * x.1.x, the reply came at RCPT, or the text names the recipient outright
 * ("invalid recipient"); after DATA, or when nothing says where, it is
 * "filtered" (soft). After MAIL FROM an unknown address is our sender's:
 * "rejected".
 */
struct bounce_verdict bounce_classify_stage(enum bounce_stage stage, int code, const char *ecode,
                                            const char *text, size_t text_len);
/* bounce_stage_of - the SMTP stage a text names ("after RCPT TO:", "end of DATA"...), or UNKNOWN */
enum bounce_stage bounce_stage_of(const char *text, size_t text_len);
/* bounce_verdict_of - the class and scope that go with a reason already decided */
struct bounce_verdict bounce_verdict_of(enum bounce_reason reason, int code, const char *ecode);
/* bounce_reason_name - "userunknown", "mailboxfull", ... ("undefined" when out of range) */
const char *bounce_reason_name(enum bounce_reason r);
/* bounce_reason_from_name - the reason with that name, or BOUNCE_UNDEFINED */
enum bounce_reason bounce_reason_from_name(const char *name);
/* bounce_class_name - "hard", "soft", "none" */
const char *bounce_class_name(enum bounce_class c);
/* bounce_scope_name - "recipient", "message", "destination" */
const char *bounce_scope_name(enum bounce_scope s);

#endif
