/* smtp_outcome - SMTP facts → delivered / deferred / bounced / failed (see smtp_outcome.h). */
#include "kirim/smtp_outcome.h"

#include <stddef.h>

/* What matched: a reply class (2, 4, 5), or no reply with these flags. */
enum { ANY_STAGE = -1, NO_REPLY = 0 };

/*
 * The rules, first match wins. A row names a stage (or any), the reply's
 * first digit (or NO_REPLY: the connection broke, timed out, was aborted, or
 * the client refused locally) and, for NO_REPLY rows, the flag that must be set.
 */
static const struct rule {
	int stage;
	int klass;
	unsigned flag;
	enum outcome outcome;
	enum outcome_scope scope;
	const char *why; /* the comment, kept as data so a test can print it */
} rules[] = {
    /* The server took the message for this recipient. */
    {SMTP_STAGE_DOT, 2, 0, OUTCOME_DELIVERED, OUTCOME_RECIPIENT, "250 to the final dot"},
    /* Direct delivery's DNS verdicts (no reply: the enhanced code's class counts). The
     * domain does not exist, has a null MX or no address at all: it never will. */
    {SMTP_STAGE_DNS, 5, 0, OUTCOME_BOUNCED, OUTCOME_DESTINATION, "domain cannot receive mail"},
    /* SERVFAIL, REFUSED, a resolver timeout: the answer may come later. */
    {SMTP_STAGE_DNS, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "DNS temporary failure"},
    /* Refused here before any transaction (TLS policy, no usable AUTH): the destination
     * as configured cannot take mail now; nothing is wrong with the recipient. */
    {ANY_STAGE, NO_REPLY, SMTP_RESULT_LOCAL, OUTCOME_DEFERRED, OUTCOME_DESTINATION,
     "local refusal before MAIL"},
    /* No reply at all: connection refused, lost or timed out, or our own shutdown. */
    {SMTP_STAGE_CONNECT, NO_REPLY, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "cannot connect"},
    {ANY_STAGE, NO_REPLY, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE, "connection lost or timed out"},
    /* Greeting, EHLO, STARTTLS, AUTH: a refusal there is about us or the server, never
     * about the recipient; 5xx too (a 554 banner is a block list, a 535 a bad password). */
    {SMTP_STAGE_BANNER, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "banner 4xx"},
    {SMTP_STAGE_BANNER, 5, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "banner 5xx"},
    {SMTP_STAGE_EHLO, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "EHLO refused"},
    {SMTP_STAGE_EHLO, 5, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "EHLO refused"},
    {SMTP_STAGE_STARTTLS, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "STARTTLS refused"},
    {SMTP_STAGE_STARTTLS, 5, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "STARTTLS refused"},
    {SMTP_STAGE_AUTH, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "AUTH 4xx"},
    {SMTP_STAGE_AUTH, 5, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "AUTH refused"},
    /* The transaction: RCPT replies are about the recipient, the rest about the message. */
    {SMTP_STAGE_RCPT, 4, 0, OUTCOME_DEFERRED, OUTCOME_RECIPIENT, "RCPT 4xx"},
    {SMTP_STAGE_RCPT, 5, 0, OUTCOME_BOUNCED, OUTCOME_RECIPIENT, "RCPT 5xx"},
    {SMTP_STAGE_MAIL, 4, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE, "MAIL 4xx"},
    {SMTP_STAGE_MAIL, 5, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE, "MAIL 5xx"},
    {SMTP_STAGE_DATA, 4, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE, "DATA 4xx"},
    {SMTP_STAGE_DATA, 5, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE, "DATA 5xx"},
    {SMTP_STAGE_DOT, 4, 0, OUTCOME_DEFERRED, OUTCOME_MESSAGE, "final dot 4xx"},
    {SMTP_STAGE_DOT, 5, 0, OUTCOME_BOUNCED, OUTCOME_MESSAGE, "final dot 5xx"},
    /* 421 at any stage closes the connection: the server is going away. */
    {ANY_STAGE, 4, 0, OUTCOME_DEFERRED, OUTCOME_DESTINATION, "other 4xx"},
    /* Anything else (a 5xx where none is expected, an unexpected class) is kept for a
     * person to look at rather than retried forever or bounced blindly. */
    {ANY_STAGE, 5, 0, OUTCOME_FAILED, OUTCOME_MESSAGE, "unexpected 5xx"},
};

struct smtp_outcome
smtp_outcome_classify(const struct smtp_result *r)
{
	int klass = r->code >= 200 && r->code <= 599 ? r->code / 100 : NO_REPLY;
	/* A DNS verdict has no reply code: its enhanced status code's class says which. */
	if (r->stage == SMTP_STAGE_DNS && klass == NO_REPLY && r->ecode &&
	    (r->ecode[0] == '4' || r->ecode[0] == '5'))
		klass = r->ecode[0] - '0';
	/* A local refusal inside a transaction (message over the server's SIZE, an
	 * address the server cannot take without SMTPUTF8) will not get better. */
	if ((r->flags & SMTP_RESULT_LOCAL) && r->stage >= SMTP_STAGE_MAIL && klass == NO_REPLY)
		return (struct smtp_outcome){OUTCOME_FAILED, OUTCOME_MESSAGE};
	if (klass != NO_REPLY && (r->flags & (SMTP_RESULT_CONN_LOST | SMTP_RESULT_TIMEOUT)))
		klass = NO_REPLY;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *ru = &rules[i];
		if (ru->stage != ANY_STAGE && ru->stage != (int)r->stage)
			continue;
		if (ru->klass != klass)
			continue;
		if (ru->flag && !(r->flags & ru->flag))
			continue;
		return (struct smtp_outcome){ru->outcome, ru->scope};
	}
	/* 2xx where a transaction did not end (a 250 to RCPT reported as final, which the
	 * session never does) or a 3xx: not delivered, try again. */
	return (struct smtp_outcome){OUTCOME_DEFERRED, OUTCOME_MESSAGE};
}

const char *
smtp_outcome_name(enum outcome o)
{
	static const char *const names[] = {"delivered", "deferred", "bounced", "failed"};
	return (unsigned)o < 4 ? names[o] : "?";
}

const char *
smtp_outcome_scope_name(enum outcome_scope s)
{
	static const char *const names[] = {"recipient", "message", "destination"};
	return (unsigned)s < 3 ? names[s] : "?";
}
