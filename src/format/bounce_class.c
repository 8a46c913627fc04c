/*
 * bounce_class - the bounce classifier: one SMTP fact -> reason, class, scope.
 *
 * The decision is taken in a fixed order (docs/bounces.md says why):
 *   1. the SMTP stage and the reply code. A 2xx reply with no failure code is
 *      a delivery; a 4xx/5xx reply or a 4.x.x/5.x.x code never is. A reply
 *      to the greeting or to EHLO/HELO refuses the sending host, never the
 *      recipient; a reply to MAIL FROM refuses the sender; after DATA the
 *      recipient had been accepted.
 *   2. the enhanced status code (RFC 3463 and the IANA registry's meaning of
 *      each code). A code whose meaning names one reason (5.1.1, 5.2.2,
 *      4.4.7...) decides, except where a provider is known to use it
 *      against its meaning (the exceptions table: a full mailbox or a rate
 *      limit worded with 5.1.1...). A code that says little (x.0.0, 5.7.1)
 *      waits for step 3 and is the default after it.
 *   3. phrase classes: one table of phrases, each with the reason it shows,
 *      matched case- and space-insensitively; the first row that matches
 *      decides, so the table's order is the priority between reasons.
 *   4. a default: the weak code's reason, then the basic reply code's
 *      (RFC 5321 section 4.2), then "onhold" when there is a text, else
 *      "undefined".
 * A missing mailbox is hard. The only texts that need evidence of where they
 * were said are the ambiguous ones (flag AMBIG: "invalid address", "does not
 * exist."...), and a bare 550/551/553 reply: a reply to RCPT TO or an x.1.x
 * code is that evidence; without it they are "filtered" / "onhold" (soft).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounce_class.h"
#include "kirim/xmalloc.h"

#define R_UU BOUNCE_USERUNKNOWN
#define R_MF BOUNCE_MAILBOXFULL
#define R_HU BOUNCE_HOSTUNKNOWN
#define R_BL BOUNCE_BLOCKED
#define R_SP BOUNCE_SPAMDETECTED
#define R_PV BOUNCE_POLICYVIOLATION
#define R_RJ BOUNCE_REJECTED
#define R_FI BOUNCE_FILTERED
#define R_EX BOUNCE_EXPIRED
#define R_TB BOUNCE_MESGTOOBIG
#define R_NE BOUNCE_NETWORKERROR
#define R_SE BOUNCE_SYSTEMERROR
#define R_SF BOUNCE_SYSTEMFULL
#define R_TC BOUNCE_TOOMANYCONN
#define R_SU BOUNCE_SUSPEND
#define R_SC BOUNCE_SECURITYERROR
#define R_NR BOUNCE_NORELAYING
#define R_CE BOUNCE_CONTENTERROR
#define R_VI BOUNCE_VIRUSDETECTED
#define R_EL BOUNCE_EXCEEDLIMIT
#define R_SY BOUNCE_SYNTAXERROR
#define R_NA BOUNCE_NOTACCEPT
#define R_HM BOUNCE_HASMOVED
#define R_ME BOUNCE_MAILERERROR
#define R_SPD BOUNCE_SPEEDING

/* ---- Step 2: enhanced status codes ---- */

/*
 * The IANA "SMTP Enhanced Status Codes" registry (RFC 3463, 3886, 4468,
 * 4865, 4954, 5248, 6710, 7293, 7372, 7505, 8689). STRONG codes name one
 * reason and decide before any phrase; WEAK ones are read after the phrases.
 * First match wins; '*' is any class or subject number.
 */
enum { WEAK, STRONG };

static const struct code_rule {
	const char *code;
	enum bounce_reason reason;
	int strength;
} codes[] = {
    {"5.1.1", R_UU, STRONG},  /* bad destination mailbox address */
    {"5.1.2", R_HU, STRONG},  /* bad destination system address */
    {"5.1.3", R_UU, STRONG},  /* bad destination mailbox address syntax */
    {"5.1.6", R_HM, STRONG},  /* destination mailbox has moved, no forwarding address */
    {"*.1.7", R_RJ, STRONG},  /* bad sender's mailbox address syntax */
    {"*.1.8", R_RJ, STRONG},  /* bad sender's system address */
    {"*.1.10", R_NA, STRONG}, /* recipient address has null MX (RFC 7505) */
    {"*.2.2", R_MF, STRONG},  /* mailbox full */
    {"*.2.3", R_EL, STRONG},  /* message length exceeds administrative limit */
    {"*.3.1", R_SF, STRONG},  /* mail system full */
    {"*.3.4", R_TB, STRONG},  /* message too big for system */
    {"*.4.7", R_EX, STRONG},  /* delivery time expired */
    {"*.6.1", R_CE, STRONG},  /* media not supported */
    {"*.7.13", R_SU, STRONG}, /* user account disabled (RFC 4954) */
    {"*.7.17", R_HM, STRONG}, /* mailbox owner has changed (RFC 7293) */
    {"*.7.18", R_HM, STRONG}, /* domain owner has changed (RFC 7293) */
    {"*.7.25", R_BL, STRONG}, /* reverse DNS validation failed (RFC 7372) */
    {"*.7.27", R_RJ, STRONG}, /* sender address has null MX (RFC 7505) */
    {"*.1.0", R_UU, WEAK},    /* other address status */
    {"4.1.1", R_UU, WEAK},    /* bad mailbox, temporary: Postfix "unverified address" */
    {"4.1.2", R_HU, WEAK},    /* a 4xx says the address may yet be good: */
    {"4.1.3", R_UU, WEAK},    /* let the text speak first */
    {"4.1.6", R_HM, WEAK},
    {"*.2.1", R_SU, WEAK},  /* mailbox disabled, not accepting messages: also filters */
    {"*.1.4", R_FI, WEAK},  /* destination mailbox address ambiguous */
    {"*.1.9", R_SE, WEAK},  /* message relayed to non-compliant mailer */
    {"*.2.*", R_FI, WEAK},  /* other or undefined mailbox status, list expansion */
    {"*.3.2", R_NA, WEAK},  /* system not accepting network messages */
    {"*.3.*", R_SE, WEAK},  /* other mail system status */
    {"4.4.1", R_EX, WEAK},  /* no answer from host: the queue's last word */
    {"*.4.4", R_HU, WEAK},  /* unable to route */
    {"*.4.5", R_SF, WEAK},  /* mail system congestion */
    {"*.4.*", R_NE, WEAK},  /* network and routing status */
    {"*.5.3", R_TC, WEAK},  /* too many recipients */
    {"*.5.*", R_SY, WEAK},  /* mail delivery protocol status */
    {"*.6.*", R_CE, WEAK},  /* message content or media status */
    {"*.7.1", R_BL, WEAK},  /* delivery not authorized, message refused */
    {"*.7.26", R_SC, WEAK}, /* multiple authentication checks failed */
    {"*.7.28", R_SP, WEAK}, /* mail flood detected */
    {"*.7.*", R_SC, WEAK},  /* security or policy status */
};

/*
 * Where a provider uses a STRONG code against its meaning: with the code, a
 * phrase of the given class wins over the code's reason. Tried in order.
 */
static const struct code_exception {
	const char *code;
	enum bounce_reason phrase;
} code_exceptions[] = {
    {"*.1.1", R_MF},  /* vpopmail and qmail-ldap: "user is over quota (#5.1.1)" */
    {"*.1.1", R_TC},  /* rate limits worded with 5.1.1: "sent to too many recipients this hour" */
    {"*.1.1", R_SPD}, /* the same, as a sending rate */
    {"*.1.1", R_SU},  /* disabled or suspended accounts answered with 5.1.1 */
    {"*.1.1", R_ME},  /* procmail and pipes quote "no such user" from their own errors */
    {"*.1.3", R_SY},  /* Exim's parser: "malformed address: x may not follow y" */
    {"*.1.10", R_UU}, /* Microsoft 5.1.10 "RESOLVER.ADR.RecipientNotFound", not a null MX */
    {"*.4.7", R_MF},  /* Exim "mailbox is full: retry timeout exceeded": the cause that lasted */
};

/* ---- Step 3: phrase classes ---- */

enum {
	F_NOT_RCPT = 1u << 0, /* not believed in a reply to RCPT TO: the recipient is its subject */
	F_AMBIG = 1u << 1, /* a missing mailbox only with evidence (x.1.x, RCPT), else filtered */
	F_HARD = 1u << 2,  /* hard with a 5xx even though the reason is soft (deliberate) */
	F_OVERRIDE = 1u << 3, /* names its cause outright: beats even a STRONG code */
};

/*
 * Every phrase, in priority order, with the reason it shows. Lower case;
 * a blank matches any run of blanks or none ("mailbox full" matches
 * "MailboxFull"); '*' is a gap of at most 64 bytes. Non-ASCII phrases are
 * UTF-8 (dsn.c decodes text parts to UTF-8).
 */
static const struct phrase {
	enum bounce_reason reason;
	const char *pat;
	unsigned flags;
} phrases[] = {
    /* Local delivery agents: their errors quote other texts ("no such user"). */
    {R_ME, "procmail:", F_OVERRIDE},                /* procmail */
    {R_ME, "command died with status", F_OVERRIDE}, /* Postfix pipe(8) */
    {R_ME, "pipe to |", F_OVERRIDE},                /* Exim pipe transport "pipe to |/path/prog" */
    {R_ME, "mailer error", F_OVERRIDE},             /* Sendmail "mailer error" / prog mailer */
    {R_SY, "malformed address", F_OVERRIDE}, /* Exim's parser: "malformed address: x may..." */
    {R_TB, "recipsizelimit", F_OVERRIDE},    /* Exchange "RESOLVER.RST.RecipSizeLimit" */
    {R_TB, "mail size limit", F_OVERRIDE},   /* 1&1, before "size limit exceeded" (a mailbox) */

    /*
     * Our own sending quota, not the recipient's mailbox: before the mailbox rows, whose
     * "quota exceeded" it contains, and before the code (Exchange uses 5.2.2 for it).
     */
    {R_SPD, "sending quota", F_OVERRIDE},    /* Gmail 550 5.4.5 "Daily sending quota exceeded" */
    {R_SPD, "submission quota", F_OVERRIDE}, /* Exchange Online 5.2.2 "Submission quota exceeded" */
    {R_SPD, "daily message quota", F_OVERRIDE}, /* Amazon SES 454 "Daily message quota exceeded" */

    /* The mailbox exists and is full (stock Postfix, Exim, Dovecot, Gmail, Yahoo texts). */
    {R_MF, "mailbox full", 0},
    {R_MF, "mailbox is full", 0}, /* Exim appendfile */
    {R_MF, "mailbox quota", 0},
    {R_MF, "mailfolder is full", 0}, /* vpopmail */
    {R_MF, "full mailbox", 0},
    {R_MF, "over quota", 0},               /* Gmail 452 4.2.2, Dovecot, qmail */
    {R_MF, "quota exceeded", 0},           /* Dovecot "Quota exceeded (mailbox for user is full)" */
    {R_MF, "exceeded storage", 0},         /* RFC 5321 552 "exceeded storage allocation" */
    {R_MF, "the allowed quota", 0},        /* Exim appendfile */
    {R_MF, "exceeding * quota", 0},        /* "account is exceeding their quota" */
    {R_MF, "disk quota", 0},               /* "disk quota exceeded" */
    {R_MF, "disc quota", 0},               /* Exim */
    {R_MF, "over the quota", 0},           /* "user is over the quota" */
    {R_MF, "quota violation", 0},          /* Courier */
    {R_MF, "not enough storage", 0},       /* Exchange */
    {R_MF, "enough space", 0},             /* "does not have enough space" */
    {R_MF, "disk space limit", 0},         /* "mailbox has exceeded its disk space limit" */
    {R_MF, "size limit exceeded", 0},      /* "mailbox size limit exceeded" */
    {R_MF, "too many messages on", 0},     /* "user has too many messages on the server" */
    {R_MF, "too much mail data", 0},       /* NTT docomo */
    {R_MF, "mailbox exceeded", 0},         /* "mailbox exceeded the local limit" */
    {R_MF, "mailbox exceeds", 0},          /* IMail "mailbox exceeds allowed size" */
    {R_MF, "out of storage space", 0},     /* Gmail "inbox is out of storage space" */
    {R_MF, "destinataire pleine", 0},      /* Orange (fr): "boite du destinataire pleine" */
    {R_MF, "boîte aux lettres pleine", 0}, /* fr: mailbox full */
    {R_MF, "postfach voll", 0},            /* de: mailbox full */
    {R_MF, "buzón lleno", 0},              /* es: mailbox full */
    {R_MF, "buzon lleno", 0},              /* es, without the accent */
    {R_MF, "caixa postal cheia", 0},       /* pt-BR: mailbox full */
    {R_MF, "casella piena", 0},            /* it: mailbox full */
    {R_MF, "ящик переполнен", 0},          /* ru: mailbox full */
    {R_MF, "容量超過", 0},                 /* ja: over capacity */
    {R_MF, "容量オーバー", 0},             /* ja: over capacity */
    {R_SF, "insufficient disk space", 0},  /* Sendmail 452 4.4.5: the system's disk */
    {R_SF, "insufficient system storage", 0}, /* RFC 5321 452: the system, not the box */

    /* Microsoft's code names the cause of its expiry: 5.4.312 "Message expired, DNS query
       failed". */
    {R_NE, "dns query failed", F_OVERRIDE},
    /* Exchange/Outlook 5.4.6, 5.4.14 "Hop count exceeded - possible mail loop": RFC 3463 X.4.6,
       a routing loop (network), before the "mail loop" of the systemerror rows. */
    {R_NE, "hop count exceeded", F_OVERRIDE},

    /*
     * Delay-expiry notices: the sending MTA gave up after its queue lifetime.
     * The reason is that, not the last attempt's cause quoted with it, nor its
     * code ("451 4.1.8 ... in the queue too long"); only a full mailbox, above,
     * says more about the recipient.
     */
    {R_EX, "queue too long", F_OVERRIDE}, /* qmail "has been in the queue too long" */
    {R_EX, "too long in queue", F_OVERRIDE},
    {R_EX, "still undelivered", F_OVERRIDE}, /* Sendmail "Warning: message still undelivered" */
    {R_EX, "cannot send message for", F_OVERRIDE},         /* Sendmail queue return "for 5 days" */
    {R_EX, "could not send message for past", F_OVERRIDE}, /* Sendmail delay warning */
    {R_EX, "retry timeout exceeded", F_OVERRIDE},          /* Exim */
    {R_EX, "retry time not reached", F_OVERRIDE}, /* Exim "... after a long failure period" */
    {R_EX, "message expired", F_OVERRIDE},        /* Office 365 5.4.316 */
    {R_EX, "delivery time expired", F_OVERRIDE},  /* RFC 3463 X.4.7 wording */
    {R_EX, "delivery expired", F_OVERRIDE},
    {R_EX, "envelope expired", F_OVERRIDE},     /* OpenSMTPD */
    {R_EX, "delivered for * day", F_OVERRIDE},  /* Sendmail "could not be delivered for 5 days" */
    {R_EX, "delivered for * hour", F_OVERRIDE}, /* "has not been delivered for 48 hours" */
    {R_EX, "delivery failed * attempts", F_OVERRIDE}, /* IMail "Delivery failed 20 attempts" */
    {R_EX, "unable to deliver message after multiple retries", F_OVERRIDE},
    {R_EX, "not reachable within the allowed queue period", F_OVERRIDE},
    {R_EX, "could not find a gateway", F_OVERRIDE},
    {R_EX, "did not accept our requests to connect", F_OVERRIDE}, /* Gmail, after days */

    /* fml, the Japanese list manager: its own notices. */
    {R_SE, "duplicated message-id", F_OVERRIDE},   /* fml "Loop Alert: Duplicated Message-ID" */
    {R_RJ, "not member article from", F_OVERRIDE}, /* fml: a post from a non-member refused */

    /* DMARC and IP block lists are named outright, whatever else the text says. */
    {R_PV, "dmarc", F_OVERRIDE},               /* RFC 7489 refusals, even worded "access denied" */
    {R_SP, "blacklisted url", F_OVERRIDE},     /* URI block lists (SURBL, URIBL): the content */
    {R_SP, "url in message", F_OVERRIDE},      /* "URL in message is blacklisted" */
    {R_SP, "uribl", F_OVERRIDE},               /* URIBL */
    {R_SP, "surbl", F_OVERRIDE},               /* SURBL */
    {R_BL, "spamhaus", F_OVERRIDE},            /* Spamhaus: our IP is listed */
    {R_BL, "client host blocked", F_OVERRIDE}, /* Orange */
    {R_BL, "invalid ip for sending", F_OVERRIDE}, /* Yahoo */
    {R_BL, "unverifyable sending ip",
     F_OVERRIDE},                               /* "service permits 2 unverifyable sending IPs" */
    {R_BL, "my name was rejected", F_OVERRIDE}, /* qmail-remote: our HELO refused */
    {R_BL, "banned sending ip", 0},             /* Office 365 5.7.606-649 */
    {R_BL, "ip name lookup failed", 0},         /* Sendmail */
    {R_BL, "blacklisted by", 0},                /* "IP blacklisted by ..." */
    {R_BL, "low reputation", 0},                /* Gmail 421/550 "very low reputation" */
    {R_BL, "mismatches client ip", 0},          /* HELO name check */
    {R_BL, "traffic not accepted from this ip", 0},     /* Exchange Online 5.7.708 */
    {R_BL, "not authorized to send email directly", 0}, /* Gmail 550 5.7.1: use your ISP's relay */
    {R_BL, "will be permanently deferred",
     0},                                     /* Yahoo [TSS09] "All messages from <IP> will be..." */
    {R_BL, "does not relay dynamically", 0}, /* Outlook.com SC-001 "dynamically-assigned IP" */
    {R_RJ, "sender was rejected", F_OVERRIDE}, /* qmail-remote "sender was rejected" */
    {R_RJ, "address that has been blacklisted", F_OVERRIDE}, /* the sender address, not our IP */
    {R_SC, "sender is unauthenticated", F_OVERRIDE},         /* Gmail 5.7.26 */
    {R_SC, "not rfc 5322 compliant", F_OVERRIDE},            /* Gmail 5.7.1 */
    {R_TC, "connection frequency limited", F_OVERRIDE},      /* Tencent QQ */
    {R_NA, "null mx", F_OVERRIDE},             /* RFC 7505: the domain takes no mail */
    {R_NA, "nullmx", F_OVERRIDE},              /* RFC 7505 */
    {R_NA, "no mx record", F_OVERRIDE},        /* Yahoo "No mx record found for domain" */
    {R_NR, "configured to relay", F_OVERRIDE}, /* "not configured to relay mail" */
    {R_NR, "insecure mail relay", F_OVERRIDE}, /* an open relay refused */
    {R_FI, "refused due to recipient preferences", F_OVERRIDE}, /* Facebook RCP-P2 */

    /* Per-sender rate limits worded like a recipient problem. */
    {R_TC, "receiving mail at a rate", 0},   /* Gmail 450 4.2.1 */
    {R_TC, "receiving mail too quickly", 0}, /* Gmail 450 4.2.1 */
    {R_TC, "too many recipients", 0},        /* RFC 3463 X.5.3; "sent to too many recipients" */

    /* Office 365 and Gmail wording that names the reason outright. */
    {R_UU, "recipient address rejected: access denied", 0}, /* Office 365 5.4.1 (DBEB) */
    {R_PV, "multiple *addresses in from", 0},               /* Gmail: RFC 5322 header policy */
    {R_PV, "content presents a potential", 0},              /* Gmail: attachment policy */
    {R_PV, "denied by policy", 0},
    {R_PV, "protocol violation", 0},            /* Gmail 451 4.5.0 "SMTP protocol violation" */
    {R_NE, "dns error", 0},                     /* Gmail "DNS Error: ... NXDOMAIN" */
    {R_HU, "host or domain name not found", 0}, /* Postfix, before its "name service error" */
    {R_NE, "name service error", 0},            /* Postfix: the lookup failed */
    {R_RJ, "permission to post", F_NOT_RCPT},   /* Google Groups */
    {R_RJ, "groups.google.com", F_NOT_RCPT},    /* Google Groups' refusal, in any language */
    {R_HU, "domain * couldn't be found", 0},    /* Gmail DSN "** Address not found **" */
    {R_HU, "domain * could not be found", 0},

    /* Message too big (RFC 3463 X.3.4, X.2.3). */
    {R_TB, "message too big", 0},
    {R_TB, "line limit exceeded", 0}, /* an SMTP line longer than the server takes */
    {R_TB, "message too large", 0},
    {R_TB, "message is too large", 0},
    {R_TB, "message is too big", 0},
    {R_TB, "message size exceeds", 0}, /* Postfix "message size exceeds fixed limit" */
    {R_TB, "message file too big", 0}, /* Postfix local(8) */
    {R_TB, "exceeds size limit", 0},
    {R_TB, "size exceeds the maximum", 0},
    {R_TB, "exceeds the maximum size", 0},
    {R_TB, "exceeds the size limit", 0},
    {R_TB, "exceeded the max message size", 0},
    {R_TB, "exceeds maximum message size", 0},
    {R_EL, "header size exceeds", 0}, /* the header, not the size of the whole */
    {R_EL, "header are too large", 0},
    {R_EL, "message length exceeds", 0}, /* RFC 3463 X.2.3 wording */

    /* Suspended, disabled or locked accounts (RFC 3463 X.2.1, RFC 4954 X.7.13). */
    {R_SU, "account that you tried to reach is disabled", F_HARD}, /* Gmail 550 5.2.1 (D9) */
    {R_SU, "recipient account is blocked", 0},                     /* La Poste */
    {R_SU, "account disabled", 0},
    {R_SU, "account is disabled", 0},
    {R_SU, "account has been disabled", 0}, /* Gmail, Outlook */
    {R_SU, "mailbox disabled", 0},
    {R_SU, "mailbox is disabled", 0}, /* Yahoo 554.30 "This mailbox is disabled" */
    {R_SU, "account deactivated", 0},
    {R_SU, "account is inactive", 0},
    {R_SU, "inactive account", 0},
    {R_SU, "account expired", 0},
    {R_SU, "account suspended", 0},
    {R_SU, "has been suspended", 0},
    {R_SU, "is suspended", 0},
    {R_SU, "currently suspended", 0},
    {R_SU, "account is locked", 0},  /* vpopmail */
    {R_SU, "temporarily locked", 0}, /* "mailbox is temporarily locked" */
    {R_SU, "account locked", 0},
    {R_SU, "mailbox is frozen", 0},
    {R_SU, "is not active", 0},
    {R_SU, "recipient suspend", 0},
    {R_SU, "has been temporarily disabled", 0},

    /* Moved (RFC 3463 X.1.6). */
    {R_HM, "address has been replaced by", 0},
    {R_HM, "has moved to", 0},

    /* Relaying (Postfix, Sendmail, Exim, Exchange, qmail stock texts). */
    {R_NR, "relay access denied", 0}, /* Postfix */
    {R_NR, "relaying denied", 0},     /* Sendmail */
    {R_NR, "relay denied", 0},
    {R_NR, "relay not permitted", 0}, /* Exim */
    {R_NR, "relaying not allowed", 0},
    {R_NR, "not permitted to relay", 0},
    {R_NR, "not allowed to relay", 0},
    {R_NR, "unable to relay", 0}, /* Exchange */
    {R_NR, "we do not relay", 0},
    {R_NR, "relaying to * denied", 0},
    {R_NR, "relay prohibited", 0},
    {R_NR, "no relaying", 0},
    {R_NR, "that domain isn't in my list of allowed rcpthosts", 0}, /* qmail-smtpd */

    /*
     * Our sender address is refused, named outright (Postfix, Exim, Sendmail, IMail
     * stock texts): believed at RCPT too, where Postfix checks the sender by default.
     */
    {R_RJ, "sender rejected", 0},
    {R_RJ, "sender address rejected", 0}, /* Postfix, also at RCPT (smtpd_delay_reject) */
    {R_RJ, "sender verify failed", 0},    /* Exim callout */
    {R_RJ, "invalid sender", 0},
    {R_RJ, "domain of sender address", 0}, /* Postfix reject_unknown_sender_domain */
    {R_RJ, "sender domain", 0},
    {R_RJ, "bogus mail from", 0}, /* IMail */
    {R_RJ, "empty envelope senders", 0},
    {R_RJ, "null sender", 0},
    {R_RJ, "unroutable sender", 0},
    {R_RJ, "sender is in my black list", 0},
    {R_RJ, "sender address has been blacklisted", 0},
    {R_RJ, "mail from not owned by user", 0},
    {R_RJ, "emetteur invalide", 0},                 /* fr: invalid sender */
    {R_RJ, "unresolvable rfc.5321 from domain", 0}, /* Yahoo 451: our MAIL FROM domain */
    {R_RJ, "bad outbound sender", 0},               /* Exchange Online 5.1.8 */

    /*
     * The recipient does not exist. Stock texts of Postfix (local_recipient_maps,
     * local(8)), Exim, Sendmail, qmail, Courier, Exchange, Domino, IMail, and
     * the documented replies of Gmail, Yahoo, Outlook; hard without more.
     */
    {R_UU, "not listed in domino directory", 0},           /* Lotus Domino */
    {R_UU, "not listed in public name & address book", 0}, /* Lotus Notes */
    {R_UU, "ディレクトリのリストにありません", 0},         /* Lotus Notes (ja) */
    {R_UU, "ディレクトリにありません", 0},                 /* Lotus Notes (ja) */
    {R_UU, "mail.local: unknown user", 0},                 /* Sendmail's mail.local */
    {R_UU, "unknown user:", 0},               /* Postfix local(8) 'unknown user: "x"', IMail */
    {R_UU, "check if address is correct", 0}, /* Trend Micro InterScan */
    {R_UU, "account that you tried to reach does not exist", 0}, /* Gmail 550 5.1.1 */
    {R_UU, "address couldn't be found", 0}, /* Gmail DSN "** Address not found **" */
    {R_UU, "address couldn’t be found", 0}, /* the same with a typographic apostrophe */
    {R_UU, "address could not be found", 0},
    {R_UU, "doesn't have a * account",
     0}, /* Yahoo 554 "this user doesn't have a yahoo.com account" */
    {R_UU, "t found at the destination domain", 0}, /* Office 365 "wasn't found at" */
    {R_UU, "recipnotfound", 0},                     /* Exchange "RESOLVER.ADR.RecipNotFound" */
    {R_UU, "recipient notfound", 0},
    {R_UU, "recipient name is not recognized", 0}, /* Exchange 2003 */
    {R_UU, "invalid final delivery userid", 0},    /* IMail */
    {R_UU, "invalid recipient", 0},
    {R_UU, "mailbox unavailable", 0}, /* RFC 5321 550 "mailbox unavailable" */
    {R_UU, "recipient not found", 0},
    {R_UU, "no valid recipients", 0}, /* qmail "no valid recipients, bye", Verizon */
    {R_UU, "user unknown", 0},        /* Postfix, Sendmail */
    {R_UU, "unknown user", 0},
    {R_UU, "no such user", 0}, /* Sendmail, qmail-ldap, Exim */
    {R_UU, "no such mailbox", 0},
    {R_UU, "no such recipient", 0},
    {R_UU, "no such address", 0},
    {R_UU, "no such person", 0},
    {R_UU, "unknown recipient", 0},
    {R_UU, "recipient unknown", 0},
    {R_UU, "unknown mailbox", 0},
    {R_UU, "mailbox unknown", 0},
    {R_UU, "unknown local part", 0}, /* Exim */
    {R_UU, "unknown local-part", 0},
    {R_UU, "addressee unknown", 0},
    {R_UU, "unknown e-mail address", 0},
    {R_UU, "unknown email address", 0},
    {R_UU, "invalid mailbox", 0},
    {R_UU, "invalid user", 0},
    {R_UU, "bad recipient", 0},
    {R_UU, "bad_recipient", 0},
    {R_UU, "no mailbox here by that name", 0}, /* qmail-send */
    {R_UU, "no account by that name", 0},
    {R_UU, "no mailbox found", 0},
    {R_UU, "mailbox not found", 0},
    {R_UU, "mailbox not present", 0},
    {R_UU, "mailbox is unavailable", 0},
    {R_UU, "mailbox is inactive", 0},
    {R_UU, "mailbox invalid", 0},
    {R_UU, "mailbox * does not exist", 0},
    {R_UU, "mailbox does not exist", 0},
    {R_UU, "user * does not exist", 0},
    {R_UU, "user does not exist", 0},
    {R_UU, "user doesn't exist", 0},
    {R_UU, "user not known", 0},
    {R_UU, "user not found", 0},
    {R_UU, "user not exist", 0},
    {R_UU, "user * was not found", 0},
    {R_UU, "user missing home directory", 0},
    {R_UU, "recipient does not exist", 0},
    {R_UU, "recipient not exist", 0},
    {R_UU, "recipient not ok", 0},
    {R_UU, "recipient is not local", 0},
    {R_UU, "address does not exist", 0},
    {R_UU, "account * does not exist", 0},
    {R_UU, "is not a valid mailbox", 0},
    {R_UU, "not a valid recipient", 0},
    {R_UU, "not a valid user", 0},
    {R_UU, "is not a known user", 0},
    {R_UU, "unknown or illegal alias", 0},
    {R_UU, "no one at this address", 0},
    {R_UU, "address no longer accepts mail", 0},
    {R_UU, "badrcptto", 0}, /* qmail badrcptto patch */
    {R_UU, "validrcptto", 0},
    {R_UU, "non-existent user", 0},
    {R_UU, "nonexistent user", 0},
    {R_UU, "address not present in directory", 0},
    {R_UU, "email address could not be found", 0},
    {R_UU, "archived recipient", 0},
    {R_UU, "utilisateur inconnu", 0},     /* fr: unknown user */
    {R_UU, "destinataire inconnu", 0},    /* fr: unknown recipient */
    {R_UU, "destinataire invalide", 0},   /* La Poste, SFR (fr) */
    {R_UU, "benutzer unbekannt", 0},      /* de: unknown user */
    {R_UU, "empfänger unbekannt", 0},     /* de: unknown recipient */
    {R_UU, "usuario desconocido", 0},     /* es: unknown user */
    {R_UU, "usuário desconhecido", 0},    /* pt: unknown user */
    {R_UU, "utente sconosciuto", 0},      /* it: unknown user */
    {R_UU, "пользователь не найден", 0},  /* ru: user not found */
    {R_UU, "нет такого пользователя", 0}, /* ru: no such user */
    /* Texts that may be about something else: a missing mailbox only with evidence. */
    {R_UU, "unknown address", F_AMBIG},
    {R_UU, "address unknown", F_AMBIG},
    {R_UU, "invalid address", F_AMBIG},
    {R_UU, "bad address", F_AMBIG},
    {R_UU, "not our customer", F_AMBIG},
    {R_UU, "no longer valid", F_AMBIG},
    {R_UU, "> not found", F_AMBIG}, /* "<someone@example.org> not found" */
    {R_UU, "does not exist.", F_AMBIG},
    {R_UU, "was not found in", F_AMBIG}, /* "recipient x was not found in LDAP" */
    {R_UU, "undeliverable address", F_AMBIG},

    /* The recipient's own filters refuse this mail. */
    {R_FI, "user reject", 0},
    {R_FI, "is not accepting any mail", 0},
    {R_FI, "rejected due to user rules", 0},
    {R_FI, "this account is protected by", 0},
    {R_FI, "notauthorized", 0}, /* Exchange "RESOLVER.RST.NotAuthorized" */
    {R_FI, "blocked by the recipient", 0},
    {R_FI, "only accepting mail from specific", 0}, /* AOL */
    {R_FI, "due to extended inactivity", 0},
    {R_FI, "bounced address", 0},       /* SendGrid */
    {R_FI, "sender not in allowed", 0}, /* Exchange 5.7.124 "not in allowed-senders list" */

    /* The envelope or the message is refused in general words (not at RCPT). */
    {R_RJ, "provide a valid from", F_NOT_RCPT}, /* GoDaddy "Please provide a valid From:" */
    {R_RJ, "returned mail not accepted", F_NOT_RCPT},
    {R_RJ, "registered gateway user", F_NOT_RCPT},
    {R_RJ, "administrative prohibition", F_NOT_RCPT}, /* Exim ACL */
    {R_RJ, "access denied", F_NOT_RCPT},
    {R_RJ, "batv", F_NOT_RCPT},
    {R_RJ, "not allowed to post to this", F_NOT_RCPT},
    {R_RJ, "no third-party dsns", F_NOT_RCPT},
    {R_RJ, "email address is not verified", F_NOT_RCPT}, /* Amazon SES */
    {R_RJ, "fully qualified email address required", F_NOT_RCPT},

    /* The destination domain does not exist (Postfix, Exim, Sendmail stock texts). */
    {R_HU, "host unknown", 0},
    {R_HU, "unknown host", 0},
    {R_HU, "name or service not known", 0},
    {R_HU, "no such domain", 0},
    {R_HU, "domain does not exist", 0},
    {R_HU, "domain must exist", 0},
    {R_HU, "domain is not reachable", 0},
    {R_HU, "unrouteable address", 0}, /* Exim */
    {R_HU, "unroutable address", 0},
    {R_HU, "unknown domain", 0},
    {R_HU, "domain not found", 0},
    {R_HU, "host not found", 0},
    {R_HU, "mail domain mentioned in email address is unknown", 0},
    {R_HU, "domain may not exist", 0},
    {R_HU, "host unreachable", 0},
    {R_HU, "couldn't find any host named", 0},   /* qmail-remote (#5.1.2) */
    {R_HU, "couldn't find a mail exchanger", 0}, /* qmail-remote (#5.4.4) "... or IP address" */
    {R_HU, "point to non-existent hosts", 0},    /* Exim "all relevant MX records point to..." */

    /* Spam content: only said of a message that was seen (not at RCPT). */
    {R_SP, "spam", F_NOT_RCPT},
    {R_SP, "unsolicited", F_NOT_RCPT}, /* Gmail "likely unsolicited mail" */
    {R_SP, "bulk mail", F_NOT_RCPT},
    {R_SP, "bulk email", F_NOT_RCPT},
    {R_SP, "message content rejected", F_NOT_RCPT},
    {R_SP, "content filter rejection", F_NOT_RCPT},
    {R_SP, "message filtered", F_NOT_RCPT},
    {R_PV, "rejected for policy reasons", 0},
    {R_SP, "unacceptable content", F_NOT_RCPT},
    {R_SP, "banned content", F_NOT_RCPT},
    {R_SP, "mass mailer", F_NOT_RCPT},

    /* Too many connections (Postfix, Exim, Exchange, Microsoft). */
    {R_TC, "too many connections", 0},
    {R_TC, "too many concurrent", 0}, /* Exim "Too many concurrent SMTP connections" */
    {R_TC, "too many simultaneous", 0},
    {R_TC, "too many sessions", 0},
    {R_TC, "connection limit", 0},
    {R_TC, "too many hosts", 0},
    {R_TC, "maximum number of connections", 0},

    /* Our IP or host is refused (block lists, reverse DNS, reputation). */
    {R_BL, "blocked", 0},
    {R_BL, "blacklist", 0},
    {R_BL, "black list", 0},
    {R_BL, "blocklist", 0},
    {R_BL, "block list", 0},
    {R_BL, "listed in", 0},
    {R_BL, "rbl", 0},
    {R_BL, "client host rejected", 0}, /* Postfix */
    {R_BL, "reverse dns", 0},
    {R_BL, "ptr record", 0},
    {R_BL, "rdns", 0},
    {R_BL, "reputation", 0},
    {R_BL, "your ip", 0},
    {R_BL, "helo command rejected", 0}, /* Postfix */
    {R_BL, "connection refused by", 0},
    {R_BL, "connection reset by peer", 0},
    {R_BL, "connection dropped", 0},
    {R_BL, "refused to talk to me", 0}, /* Postfix: refused at the greeting */
    {R_BL, "dynamic ip", 0},
    {R_BL, "cannot find your hostname", 0},
    {R_BL, "cannot resolve your address", 0},
    {R_BL, "please use the smtp server of your isp", 0},
    {R_BL, "open proxy", 0},
    {R_BL, "go away", 0},
    {R_BL, "not currently accepting mail from your ip", 0},           /* Microsoft */
    {R_BL, "esmtp not accepting connections", 0},                     /* iCloud */
    {R_BL, "service not available, closing transmission channel", 0}, /* RFC 5321 421 */
    {R_BL, "temporarily deferred due to", 0},                         /* Yahoo complaints/volume */
    {R_BL, "after initial connection", 0}, /* Exim: refused at the banner */
    {R_BL, "ip not in whitelist", 0},      /* Gmail 421 4.7.0 */
    {R_BL, "spf record", 0},
    {R_BL, "spf check: fail", 0},

    /* Policy (DMARC, local policy). */
    {R_PV, "policy violation", 0},
    {R_PV, "violates * policy", 0}, /* Gmail gcdp "violates example.com email policy" */
    {R_PV, "violation of * policy", 0},
    {R_PV, "has a policy that prohibited", 0}, /* Gmail 550 5.7.1 "... the mail that you sent" */
    {R_PV, "local policy", 0},
    {R_PV, "policy reasons", 0},
    {R_PV, "rejected by policy", 0},
    {R_PV, "header error", 0},
    {R_PV, "message has been rejected by policy", 0},
    {R_PV, "unauthenticated email from", 0}, /* Gmail DMARC/auth */
    {R_PV, "email from * is not accepted due to domain's", 0},

    /* Viruses. */
    {R_VI, "virus", 0},
    {R_VI, "malware", 0},
    {R_VI, "infected", 0},
    {R_VI, "banned attachment", 0},

    /* Security: authentication, TLS, SPF/DKIM failures (RFC 4954, RFC 3207, RFC 7372). */
    {R_SC, "authentication required", 0}, /* RFC 4954 530 5.7.0 */
    {R_SC, "smtp authentication", 0},     /* "please turn on SMTP Authentication" */
    {R_SC, "unauthenticated senders", 0},
    {R_SC, "authentication failed", 0},
    {R_SC, "must issue a starttls", 0}, /* RFC 3207 530 */
    {R_SC, "tls required", 0},          /* Gmail 421 4.7.0 "TLS required for RCPT domain" */
    {R_SC, "encryption required", 0},
    {R_SC, "certificate", 0},
    {R_SC, "user not authenticated", 0},
    {R_SC, "sender policy framework", 0},
    {R_SC, "dkim", 0},
    {R_SC, "spf", 0},
    {R_SC, "authentication is required", 0},
    {R_SC, "not authenticated to send anonymous mail", 0}, /* Exchange Online 5.7.57 */

    /* The remote system fails. */
    {R_SE, "local error in processing", 0}, /* RFC 5321 451 */
    {R_SE, "internal error", 0},
    {R_SE, "server configuration problem", 0},
    {R_SE, "system error", 0},
    {R_SE, "temporary system problem", 0}, /* Gmail 421 4.3.0 */
    {R_SE, "transaction failed", 0},       /* RFC 5321 554 */
    {R_SE, "service currently unavailable", 0},
    {R_SE, "mail system configuration error", 0},
    {R_SE, "mail loop", 0}, /* "mail forwarding loop" */
    {R_SE, "loops back to myself", 0},
    {R_SE, "message is looping", 0}, /* qmail "it already has my Delivered-To line" (#5.4.6) */
    {R_NE, "too many hops", 0},
    {R_SE, "routing loop", 0},
    {R_SE, "timeout waiting for input", 0},
    {R_SE, "unable to connect to", 0},

    /* Network trouble. */
    {R_NE, "establish an smtp connection", 0}, /* qmail-remote */
    {R_NE, "could not connect", 0},
    {R_NE, "network error", 0},
    {R_NE, "no route to host", 0},
    {R_NE, "network is unreachable", 0},
    {R_NE, "connection refused", 0},
    {R_NE, "lost connection", 0},
    {R_NE, "dns lookup", 0},
    {R_NE, "malformed or unexpected name server reply", 0}, /* Postfix */
    {R_NE, "mx points to", 0},
    {R_NE, "no mx", 0},
    {R_NE, "temporary lookup failure", 0},
    {R_NE, "unable to resolve", 0},
    {R_EX, "host not reachable", 0},

    /* The last attempt timed out (Sisimai's "expired" wording; RFC 3463 X.4.7). */
    {R_EX, "message timed out", 0},
    {R_EX, "server did not respond", 0},
    {R_EX, "connection timed out", 0},
    {R_EX, "timed out", 0},
    {R_EX, "failing for a long time", 0},
    /* qmail-remote ends every permanent failure with "Giving up on <host>.": not an expiry. */
    {R_EX, "giving up on", 0},
    {R_EX, "has been delayed", 0},                /* delay warnings (RFC 3464 delayed) */
    {R_EX, "delivery attempts will continue", 0}, /* Exim delay warning */

    /* Content the remote cannot take (RFC 6152 8BITMIME, RFC 5322 headers). */
    {R_CE, "message header", 0},
    {R_CE, "improper use of 8-bit data", 0},
    {R_CE, "message contains invalid header", 0},
    {R_CE, "charset", 0},

    /* The whole remote system is full or busy. */
    {R_SF, "system full", 0},
    {R_SF, "out of disk space", 0},
    {R_SF, "out of memory", 0},
    {R_SF, "too busy", 0},
    {R_SF, "system is busy", 0},
    {R_SF, "server busy", 0}, /* Gmail 421 4.4.5 */

    /* The destination takes no mail at all (RFC 7505, RFC 5321 521/556). */
    {R_NA, "does not accept mail", 0},
    {R_NA, "not accepting mail", 0},
    {R_NA, "indicated no smtp service",
     0}, /* Exim: "an MX or SRV record indicated no SMTP service" */

    /* Local delivery agents (pipe, procmail, maildrop). */
    {R_ME, "command output:", 0},
    {R_ME, "x-unix;", 0},
    {R_ME, "procmail", 0},
    {R_ME, "program exited", 0},

    /* Rate limits of the big providers (kirim's own reason, D3). */
    {R_SPD, "rate limit", 0},
    {R_SPD, "rate-limit", 0},
    {R_SPD, "unusual rate", 0}, /* Gmail 4.7.28 */
    {R_SPD, "sending too fast", 0},
    {R_SPD, "too many messages", 0},
    {R_SPD, "relay limit exceeded", 0}, /* Gmail "Peak/Daily SMTP relay limit exceeded" */
    {R_SPD, "daily limit for", 0}, /* Exchange Online 5.1.90 "your daily limit for recipients" */

    /* Syntax of our own commands (RFC 5321 500-504). */
    {R_SY, "syntax error", 0},
    {R_SY, "command unrecognized", 0},
    {R_SY, "command not recognized", 0},
    {R_SY, "bad sequence of commands", 0},
    {R_SY, "command parameter not implemented", 0},
};

/*
 * Boilerplate that names a reason without being one: cut out of the text
 * before the phrases are matched. Gmail ends its IP blocks, rate limits and
 * SPF/authentication refusals with "To (best) protect our users from spam,
 * ..." (support.google.com/a/answer/3726730); the cause is the sentence
 * before it, not spam in this message. Literal, lower case, single blanks.
 */
static const char *const boilerplate[] = {
    "protect our users from spam",
    "to reduce the amount of spam sent to gmail",
};

/* ---- Step 4: the basic reply code (RFC 5321 section 4.2.2, 4.2.3) ---- */

static const struct {
	int code;
	enum bounce_reason reason;
} replies[] = {
    {552, R_MF}, /* exceeded storage allocation */
    {452, R_SF}, /* insufficient system storage */
    {421, R_BL}, /* service not available, closing the channel: the session is refused */
    {554, R_RJ}, /* transaction failed */
    {553, R_UU}, /* mailbox name not allowed: at RCPT only */
    {551, R_UU}, /* user not local: at RCPT only */
    {550, R_UU}, /* mailbox unavailable: at RCPT only */
};

/* Name, class and scope of each reason. HARD_5XX: hard only when the code says permanent. */
enum { SOFT, HARD, NONE, HARD_5XX };

static const struct {
	const char *name;
	int cls;
	enum bounce_scope scope;
} reasons[BOUNCE_REASON_COUNT] = {
    [BOUNCE_UNDEFINED] = {"undefined", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_USERUNKNOWN] = {"userunknown", HARD, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_MAILBOXFULL] = {"mailboxfull", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_HOSTUNKNOWN] = {"hostunknown", HARD, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_BLOCKED] = {"blocked", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_SPAMDETECTED] = {"spamdetected", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_POLICYVIOLATION] = {"policyviolation", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_REJECTED] = {"rejected", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_FILTERED] = {"filtered", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_EXPIRED] = {"expired", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_MESGTOOBIG] = {"mesgtoobig", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_NETWORKERROR] = {"networkerror", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_SYSTEMERROR] = {"systemerror", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_SYSTEMFULL] = {"systemfull", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_TOOMANYCONN] = {"toomanyconn", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_SUSPEND] = {"suspend", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_SECURITYERROR] = {"securityerror", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_NORELAYING] = {"norelaying", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_CONTENTERROR] = {"contenterror", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_VIRUSDETECTED] = {"virusdetected", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_EXCEEDLIMIT] = {"exceedlimit", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_SYNTAXERROR] = {"syntaxerror", SOFT, BOUNCE_SCOPE_MESSAGE},
    [BOUNCE_NOTACCEPT] = {"notaccept", HARD_5XX, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_ONHOLD] = {"onhold", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_SPEEDING] = {"speeding", SOFT, BOUNCE_SCOPE_DESTINATION},
    [BOUNCE_HASMOVED] = {"hasmoved", HARD, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_MAILERERROR] = {"mailererror", SOFT, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_FEEDBACK] = {"feedback", NONE, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_VACATION] = {"vacation", NONE, BOUNCE_SCOPE_RECIPIENT},
    [BOUNCE_DELIVERED] = {"delivered", NONE, BOUNCE_SCOPE_RECIPIENT},
};

/*
 * A refusal at the greeting or after EHLO/HELO is about the sending host:
 * only these reasons can come of it, anything else is "blocked".
 */
static int
host_level(enum bounce_reason r)
{
	switch (r) {
	case BOUNCE_BLOCKED:
	case BOUNCE_TOOMANYCONN:
	case BOUNCE_SPEEDING:
	case BOUNCE_SYSTEMERROR:
	case BOUNCE_SYSTEMFULL:
	case BOUNCE_NETWORKERROR:
	case BOUNCE_SECURITYERROR:
	case BOUNCE_NOTACCEPT:
	case BOUNCE_SYNTAXERROR:
	case BOUNCE_EXPIRED:
		return 1;
	default:
		return 0;
	}
}

enum { TEXT_MAX = 16384, GAP_MAX = 64 };

/*
 * Does pattern p match at the start of t (n bytes, lower case, blanks
 * squeezed to one space)? A blank in p matches one space or none; '*' is a
 * gap of 0..GAP_MAX bytes.
 */
static int
match_at(const char *t, size_t n, const char *p)
{
	size_t i = 0;
	for (; *p; p++) {
		if (*p == '*') {
			for (size_t g = 0; g <= GAP_MAX && i + g <= n; g++)
				if (match_at(t + i + g, n - i - g, p + 1))
					return 1;
			return 0;
		}
		if (*p == ' ') {
			if (i < n && t[i] == ' ')
				i++;
			continue;
		}
		if (i >= n || t[i] != *p)
			return 0;
		i++;
	}
	return 1;
}

/* Does lower-case text t (n bytes) contain pattern p anywhere? */
static int
text_match(const char *t, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] == p[0] && match_at(t + i, n - i, p))
			return 1;
	return 0;
}

/* Does enhanced code c match pattern p ("5.7.1", "*.7.1", "*.2.*")? */
static int
code_match(const char *c, const char *p)
{
	while (*p) {
		if (*p == '*') {
			while (*c && *c != '.')
				c++;
			p++;
			continue;
		}
		if (*c != *p)
			return 0;
		c++;
		p++;
	}
	return *c == '\0';
}

/* Copy the enhanced code's leading "d.ddd.ddd" into out (at most 15 bytes), or "". */
static void
code_clean(const char *ecode, char out[16])
{
	size_t i = 0;
	out[0] = '\0';
	if (!ecode)
		return;
	while (*ecode == ' ' || *ecode == '\t' || *ecode == '#')
		ecode++;
	for (; i < 15 && (isdigit((unsigned char)ecode[i]) || ecode[i] == '.'); i++)
		out[i] = ecode[i];
	out[i] = '\0';
	/* Three parts, first a class digit 2, 4 or 5, and no dot at the end. */
	int dots = 0;
	for (size_t k = 0; k < i; k++)
		dots += out[k] == '.';
	if (dots != 2 || (out[0] != '2' && out[0] != '4' && out[0] != '5') || out[1] != '.' ||
	    out[i - 1] == '.')
		out[0] = '\0';
}

struct bounce_verdict
bounce_verdict_of(enum bounce_reason reason, int code, const char *ecode)
{
	struct bounce_verdict v;
	if ((unsigned)reason >= BOUNCE_REASON_COUNT)
		reason = BOUNCE_UNDEFINED;
	v.reason = reason;
	v.scope = reasons[reason].scope;
	switch (reasons[reason].cls) {
	case HARD:
		v.cls = BOUNCE_HARD;
		break;
	case NONE:
		v.cls = BOUNCE_NONE;
		break;
	case HARD_5XX: {
		char c[16];
		code_clean(ecode, c);
		int cls = c[0] ? c[0] - '0' : code / 100;
		v.cls = cls == 4 ? BOUNCE_SOFT : BOUNCE_HARD;
		break;
	}
	default:
		v.cls = BOUNCE_SOFT;
	}
	return v;
}

/* Lower case text into low (room for n + 1), runs of blanks squeezed; returns the length. */
static size_t
lower_squeeze(const char *text, size_t text_len, char *low)
{
	size_t n = 0;
	for (size_t i = 0; i < text_len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\r' || ch == '\n' || ch == '\t' || ch == ' ' || ch == '\0') {
			if (n > 0 && low[n - 1] != ' ')
				low[n++] = ' ';
			continue;
		}
		low[n++] = (char)tolower(ch);
	}
	low[n] = '\0';
	return n;
}

/* Is c a byte of an address's local part or domain (RFC 5322 atext, '.', '"')? */
static int
addr_byte(unsigned char c)
{
	return c < 0x80 && c > ' ' && (isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-\"", c));
}

/*
 * Cut the addresses out of t (n bytes), leaving their '@': a phrase says
 * what failed, and a test address such as "mailbox-full@example.org" or
 * "userunknown@..." must not say it. Returns the new length.
 */
static size_t
strip_addresses(char *t, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] != '@') {
			t[w++] = t[i];
			continue;
		}
		while (w > 0 && addr_byte((unsigned char)t[w - 1]))
			w--;
		t[w++] = '@';
		while (i + 1 < n && addr_byte((unsigned char)t[i + 1]) && t[i + 1] != '@')
			i++;
	}
	t[w] = '\0';
	return w;
}

/*
 * Cut the prefixes of a multiline reply's continuation lines out of t (n
 * bytes, NUL-terminated, blanks squeezed): RFC 5321 4.2.1 starts every line
 * but the last with the code and a hyphen ("550-5.7.26 "), and a phrase that
 * runs across lines ("... to protect our users from 550-5.7.1 spam") must
 * still match. The codes themselves reach the classifier apart from the text.
 * Returns the new length.
 */
static size_t
cut_continuations(char *t, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		if ((i == 0 || t[i - 1] == ' ') && i + 4 <= n &&
		    (t[i] == '2' || t[i] == '4' || t[i] == '5') &&
		    isdigit((unsigned char)t[i + 1]) && isdigit((unsigned char)t[i + 2]) &&
		    t[i + 3] == '-') {
			size_t j = i + 4;
			/* an enhanced code after it: d.ddd.ddd and a blank */
			size_t k = j;
			if (k < n && isdigit((unsigned char)t[k]) && k + 1 < n && t[k + 1] == '.') {
				k += 2;
				int parts = 1;
				while (k < n && (isdigit((unsigned char)t[k]) || t[k] == '.')) {
					parts += t[k] == '.';
					k++;
				}
				if (parts == 2 && (k == n || t[k] == ' '))
					j = k;
			}
			while (j < n && t[j] == ' ')
				j++;
			i = j;
			continue;
		}
		t[w++] = t[i++];
	}
	t[w] = '\0';
	return w;
}

/* Cut each boilerplate phrase out of t (n bytes, NUL-terminated); returns the new length. */
static size_t
cut_boilerplate(char *t, size_t n)
{
	for (size_t i = 0; i < sizeof(boilerplate) / sizeof(boilerplate[0]); i++) {
		size_t len = strlen(boilerplate[i]);
		char *q;
		while ((q = strstr(t, boilerplate[i])) != NULL) {
			memmove(q, q + len, n - (size_t)(q - t) - len + 1);
			n -= len;
		}
	}
	return n;
}

/*
 * Where the first failure reply of t (n bytes) is: a 4xx or 5xx standing
 * alone (after the start, a blank, "<<<" or "said:"), or n when there is none.
 */
static size_t
first_failure(const char *t, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++) {
		if ((t[i] != '4' && t[i] != '5') || !isdigit((unsigned char)t[i + 1]) ||
		    !isdigit((unsigned char)t[i + 2]) || t[i + 1] > '5')
			continue;
		if (i > 0 && t[i - 1] != ' ' && t[i - 1] != '<' && t[i - 1] != ':' &&
		    t[i - 1] != '(' && t[i - 1] != '\'' && t[i - 1] != '"')
			continue;
		if (i + 3 < n && t[i + 3] != ' ' && t[i + 3] != '-')
			continue;
		return i;
	}
	return n;
}

/* Does a 2xx reply stand alone in t between from and to? */
static int
answered_2xx(const char *t, size_t from, size_t to)
{
	for (size_t i = from; i + 3 <= to; i++)
		if (t[i] == '2' && (t[i + 1] == '5' || t[i + 1] == '0') &&
		    isdigit((unsigned char)t[i + 2]) && i > 0 &&
		    (t[i - 1] == ' ' || t[i - 1] == '<') &&
		    (i + 3 == to || t[i + 3] == ' ' || t[i + 3] == '-'))
			return 1;
	return 0;
}

/*
 * The SMTP stage a diagnostic text names (lower case, blanks squeezed). An
 * explicit "in reply to X" (Postfix) decides; otherwise the last command
 * named before the first failure reply, a command that a 2xx answered
 * before that failure being past (">>> RCPT TO:<x> <<< 250 ok ... <<< 451"
 * failed at DATA); else the first of the table's commands that the text
 * names (a summary that lists "MAIL FROM: ... RCPT TO: ..." after the reply).
 * A bare ">>> DATA" is no evidence: Sendmail writes only the last command of
 * a pipelined group, and the replies to its RCPTs follow it.
 */
static enum bounce_stage
stage_of(const char *t, size_t n)
{
	static const struct {
		const char *pat;
		enum bounce_stage stage;
	} st[] = {
	    {"rcpt to", BOUNCE_STAGE_RCPT}, /* Postfix, Exim, Sendmail transcripts */
	    {">>> rcpt", BOUNCE_STAGE_RCPT},
	    {"for rcpt", BOUNCE_STAGE_RCPT},                /* qmail "for RCPT TO response" */
	    {"does not like recipient", BOUNCE_STAGE_RCPT}, /* qmail-remote */
	    {"failed on data command", BOUNCE_STAGE_DATA},  /* qmail-remote */
	    {"failed after i sent the message", BOUNCE_STAGE_DATA}, /* qmail-remote */
	    {"but sender was rejected", BOUNCE_STAGE_MAIL},         /* qmail-remote */
	    {"rcpt command", BOUNCE_STAGE_RCPT},                    /* GMX */
	    {"rcpt_to", BOUNCE_STAGE_RCPT},                         /* Yahoo "[RCPT_TO]" */
	    {"smtp:rcpt host", BOUNCE_STAGE_RCPT}, /* "SMTP:RCPT host 192.0.2.1: 553 ..." */
	    {"smtp:data host", BOUNCE_STAGE_DATA}, /* the same gateway's reply to DATA */
	    {"end of data", BOUNCE_STAGE_DATA},    /* Postfix "in reply to end of DATA" */
	    {"after data", BOUNCE_STAGE_DATA},     /* Exim */
	    {"data command", BOUNCE_STAGE_DATA},
	    {"mail from", BOUNCE_STAGE_MAIL},
	    {"after ehlo", BOUNCE_STAGE_HELO}, /* Exim "after EHLO x" */
	    {"after helo", BOUNCE_STAGE_HELO},
	    {">>> ehlo", BOUNCE_STAGE_HELO}, /* Sendmail transcript */
	    {">>> helo", BOUNCE_STAGE_HELO},
	    {"ehlo command", BOUNCE_STAGE_HELO},
	    {"helo command", BOUNCE_STAGE_HELO},
	    {"initial connection", BOUNCE_STAGE_CONNECT},    /* Exim "after initial connection" */
	    {"refused to talk to me", BOUNCE_STAGE_CONNECT}, /* Postfix: at the greeting */
	};
	static const struct {
		const char *pat;
		enum bounce_stage stage;
	} explicit_[] = {
	    {"in reply to rcpt to", BOUNCE_STAGE_RCPT},
	    {"in reply to end of data", BOUNCE_STAGE_DATA},
	    {"in reply to data", BOUNCE_STAGE_DATA},
	    {"in reply to mail from", BOUNCE_STAGE_MAIL},
	    {"in reply to ehlo", BOUNCE_STAGE_HELO},
	    {"in reply to helo", BOUNCE_STAGE_HELO},
	    {"in reply to lhlo", BOUNCE_STAGE_HELO},
	    {"in reply to initial greeting", BOUNCE_STAGE_CONNECT},
	};
	for (size_t i = 0; i < sizeof(explicit_) / sizeof(explicit_[0]); i++)
		if (text_match(t, n, explicit_[i].pat))
			return explicit_[i].stage;
	size_t fail = first_failure(t, n);
	size_t best_pos = 0, first_pos = n;
	enum bounce_stage best = BOUNCE_STAGE_UNKNOWN, first = BOUNCE_STAGE_UNKNOWN;
	int have_best = 0;
	for (size_t k = 0; k < sizeof(st) / sizeof(st[0]); k++) {
		const char *p = st[k].pat;
		for (size_t i = 0; i < n; i++) {
			if (t[i] != p[0] || !match_at(t + i, n - i, p))
				continue;
			if (i < fail && (!have_best || i > best_pos)) {
				best_pos = i;
				best = st[k].stage;
				have_best = 1;
			}
			if (first_pos == n) {
				first_pos =
				    i; /* the table's order, when no command precedes the reply */
				first = st[k].stage;
			}
		}
	}
	if (have_best && best == BOUNCE_STAGE_RCPT && answered_2xx(t, best_pos, fail))
		return BOUNCE_STAGE_DATA; /* RCPT TO was accepted; the failure came after it */
	return have_best ? best : first;
}

enum bounce_stage
bounce_stage_of(const char *text, size_t text_len)
{
	if (!text)
		return BOUNCE_STAGE_UNKNOWN;
	if (text_len > TEXT_MAX)
		text_len = TEXT_MAX;
	char *low = xmalloc(text_len + 1);
	size_t n = strip_addresses(low, lower_squeeze(text, text_len, low));
	enum bounce_stage st = stage_of(low, n);
	free(low);
	return st;
}

struct bounce_verdict
bounce_classify(int code, const char *ecode, const char *text, size_t text_len)
{
	return bounce_classify_stage(BOUNCE_STAGE_UNKNOWN, code, ecode, text, text_len);
}

/* May a phrase row decide at this stage? */
static int
phrase_allowed(const struct phrase *ph, enum bounce_stage stage)
{
	if ((ph->flags & F_NOT_RCPT) && stage == BOUNCE_STAGE_RCPT)
		return 0;
	if ((stage == BOUNCE_STAGE_CONNECT || stage == BOUNCE_STAGE_HELO) &&
	    !host_level(ph->reason))
		return 0;
	return 1;
}

struct bounce_verdict
bounce_classify_stage(enum bounce_stage stage, int code, const char *ecode, const char *text,
                      size_t text_len)
{
	char c[16];
	code_clean(ecode, c);
	if (code < 100 || code > 599)
		code = 0;
	/* Step 1: a failure reply or code is never a delivery, whatever else says 2xx. */
	int failed = code >= 400 || c[0] == '4' || c[0] == '5';
	if (!failed && (c[0] == '2' || (code >= 200 && code < 300)))
		return bounce_verdict_of(BOUNCE_DELIVERED, code, c);
	if (c[0] == '2')
		c[0] = '\0'; /* a 2.x.x code beside a failure reply says nothing */
	if (code >= 200 && code < 300)
		code = 0;

	if (!text)
		text_len = 0;
	if (text_len > TEXT_MAX)
		text_len = TEXT_MAX;
	char *low = xmalloc(text_len + 1);
	size_t n = lower_squeeze(text, text_len, low);
	int has_text = 0;
	for (size_t i = 0; i < n && !has_text; i++)
		has_text = isalpha((unsigned char)low[i]) || (unsigned char)low[i] >= 0x80;
	n = strip_addresses(low, n);
	if (stage == BOUNCE_STAGE_UNKNOWN)
		stage = stage_of(low, n);
	n = cut_boilerplate(low, cut_continuations(low, n));
	int host_only = stage == BOUNCE_STAGE_CONNECT || stage == BOUNCE_STAGE_HELO;

	/* Step 3 first computed: which phrase classes the text shows, and the first. */
	uint64_t shown = 0;
	const struct phrase *first = NULL, *hard = NULL;
	for (size_t i = 0; n && i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		const struct phrase *ph = &phrases[i];
		if ((shown >> ph->reason & 1) && !(ph->flags & F_HARD))
			continue; /* this class is already known to be shown */
		if (!phrase_allowed(ph, stage) || !text_match(low, n, ph->pat))
			continue;
		shown |= (uint64_t)1 << ph->reason;
		if (!first)
			first = ph;
		if ((ph->flags & F_HARD) && !hard)
			hard = ph;
	}
	free(low);

	/* Step 2: the enhanced status code. */
	const struct code_rule *cr = NULL;
	for (size_t i = 0; c[0] && i < sizeof(codes) / sizeof(codes[0]) && !cr; i++)
		if (code_match(c, codes[i].code))
			cr = &codes[i];
	if (cr && host_only && !host_level(cr->reason))
		cr = NULL;

	enum bounce_reason r = BOUNCE_REASON_COUNT;
	const struct phrase *by = NULL; /* the phrase row that decided, if one did */
	int by_reply = 0;
	if (first && (first->flags & F_OVERRIDE)) {
		r = first->reason; /* a phrase that names its cause outright */
		by = first;
	} else if (cr && cr->strength == STRONG) {
		r = cr->reason;
		for (size_t i = 0; i < sizeof(code_exceptions) / sizeof(code_exceptions[0]); i++) {
			const struct code_exception *ex = &code_exceptions[i];
			if (code_match(c, ex->code) && (shown >> ex->phrase & 1)) {
				r = ex->phrase;
				break;
			}
		}
	} else if (first) {
		/* Step 3: the first phrase row that matched. */
		r = first->reason;
		by = first;
	} else if (cr) {
		/* Step 4: the weak code, then the reply code, then onhold/undefined. */
		r = cr->reason;
	} else {
		for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
			if (replies[i].code == code) {
				r = replies[i].reason;
				by_reply = 1;
			}
	}

	/* Step 1 again: what the stage allows. */
	if (host_only && (r == BOUNCE_REASON_COUNT || !host_level(r)))
		r = BOUNCE_BLOCKED; /* the greeting or EHLO refused: our host, not the recipient */
	if (stage == BOUNCE_STAGE_MAIL &&
	    (r == BOUNCE_USERUNKNOWN || r == BOUNCE_FILTERED || r == BOUNCE_HOSTUNKNOWN))
		r = BOUNCE_REJECTED; /* refused after MAIL FROM: our sender address */
	if (r == BOUNCE_USERUNKNOWN) {
		int x1 = c[0] && c[1] == '.' && c[2] == '1' && c[3] == '.';
		if (stage == BOUNCE_STAGE_DATA && !x1)
			r = BOUNCE_FILTERED; /* the recipient was accepted at RCPT: a filter */
		else if (by && (by->flags & F_AMBIG) && stage != BOUNCE_STAGE_RCPT && !x1)
			r = BOUNCE_FILTERED; /* an ambiguous text without evidence */
		else if (by_reply && stage != BOUNCE_STAGE_RCPT)
			r = BOUNCE_REASON_COUNT; /* a bare 550 is about the recipient only at RCPT
			                          */
	}
	if (r == BOUNCE_REASON_COUNT)
		r = has_text ? BOUNCE_ONHOLD : BOUNCE_UNDEFINED;
	struct bounce_verdict v = bounce_verdict_of(r, code, c);
	/* Deliberate: a disabled mailbox at a large provider does not come back (D9). */
	if (hard && v.reason == hard->reason && (c[0] == '5' || (!c[0] && code >= 500)))
		v.cls = BOUNCE_HARD;
	return v;
}

const char *
bounce_reason_name(enum bounce_reason r)
{
	if ((unsigned)r >= BOUNCE_REASON_COUNT)
		return "undefined";
	return reasons[r].name;
}

enum bounce_reason
bounce_reason_from_name(const char *name)
{
	for (int i = 0; name && i < BOUNCE_REASON_COUNT; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return (enum bounce_reason)i;
	return BOUNCE_UNDEFINED;
}

const char *
bounce_class_name(enum bounce_class c)
{
	switch (c) {
	case BOUNCE_HARD:
		return "hard";
	case BOUNCE_SOFT:
		return "soft";
	default:
		return "none";
	}
}

const char *
bounce_scope_name(enum bounce_scope s)
{
	switch (s) {
	case BOUNCE_SCOPE_MESSAGE:
		return "message";
	case BOUNCE_SCOPE_DESTINATION:
		return "destination";
	default:
		return "recipient";
	}
}
