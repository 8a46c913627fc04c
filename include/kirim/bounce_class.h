/*
 * bounce_class - the one classifier that says why a recipient bounced.
 *
 * Input is one SMTP fact: the stage when known, a reply code (0 when
 * unknown), an enhanced status code ("5.1.1", or "" when absent) and the
 * reply text. The same function classifies a live SMTP reply (through the
 * disposition module) and the Status:/Diagnostic-Code: of a DSN (dsn.c).
 * Output is a reason from a fixed list close to Sisimai's, a class (hard,
 * soft, none: userunknown, hostunknown, hasmoved and a 5xx notaccept are
 * hard, plus Gmail's "account ... is disabled" at 5xx, a deliberate
 * difference) and a scope hint (the recipient, the message, or the whole
 * destination).
 *
 * The order is fixed (docs/bounces.md): (1) the SMTP stage and reply code,
 * (2) the enhanced status code by its IANA-registry meaning, with the known
 * provider exceptions, (3) phrase classes, one table in bounce_class.c matched
 * case- and space-insensitively, (4) a default. Invariants: a 4xx/5xx reply
 * or a 4.x.x/5.x.x code is never "delivered"; a reply to the greeting or to
 * EHLO/HELO is never about the recipient. Pure code: no I/O, no globals, no
 * logging.
 */
#ifndef KIRIM_BOUNCE_CLASS_H
#define KIRIM_BOUNCE_CLASS_H

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
 * bounce_classify_stage - the same, for a caller that knows the stage
 * (UNKNOWN: read it from the text). A text that says the mailbox does not
 * exist ("User unknown", "No such user") is a hard userunknown; after DATA
 * without an x.1.x code it is "filtered" (the recipient had been accepted),
 * and the ambiguous texts ("invalid address") or a bare 550/551/553 need the
 * evidence of an x.1.x code or a reply to RCPT TO. After MAIL FROM an
 * unknown address is our sender's: "rejected". At the greeting or EHLO the
 * reason is one about our host, "blocked" when the text says no more.
 */
struct bounce_verdict bounce_classify_stage(enum bounce_stage stage, int code, const char *ecode,
                                            const char *text, size_t text_len);
/*
 * bounce_stage_of - the SMTP stage a text names, or UNKNOWN: "in reply to X
 * command", else the last command named before the first 4xx/5xx reply (a
 * RCPT TO answered 2xx before it means DATA), else the first named.
 */
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
