/*
 * bounce - the bounce classifier: one ordered table of rules.
 *
 * A rule is a kind, a pattern and a reason. The table is read top to bottom
 * and the first rule that matches decides:
 *   1. CODE rules: enhanced status codes whose meaning is unambiguous
 *      (5.1.1, 5.2.2, 4.4.7...);
 *   2. TEXT rules: reply-text patterns (lower case; '*' stands for a gap of
 *      at most 64 bytes within the text) from stock MTA texts and from the
 *      big providers, most specific reasons first, following the order in
 *      which Sisimai tries its reasons;
 *   3. GENERIC rules: enhanced status codes that only say little (5.7.1,
 *      x.0.0...), and a trailing '*' matches any subject code (5.7.*);
 *   4. REPLY rules: the basic reply code alone (552, 421...).
 * When nothing matches the reason is "onhold" if there is a text, else
 * "undefined" (Sisimai's notion: we have something, we cannot tell what).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounce.h"
#include "kirim/xmalloc.h"

enum rule_kind { CODE, TEXT, STRONG, GENERIC, REPLY };

struct rule {
	enum rule_kind kind;
	const char *pat;
	enum bounce_reason reason;
};

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

static const struct rule rules[] = {
    /* 0. Texts that say more than any code: local delivery agents, well-known phrasings. */
    {TEXT, "procmail:", R_ME},                /* its own errors quote "no such user" */
    {TEXT, "command died with status", R_ME}, /* Postfix pipe */
    {TEXT, "pipe to |", R_ME},                /* Exim pipe transport: "pipe to |/path/prog" */
    {TEXT, "malformed address", R_SY}, /* Exim parser: "malformed address: x may not follow y" */
    {TEXT, "still undelivered", R_EX}, /* Sendmail "Warning: message still undelivered after" */
    {TEXT, "mailer error", R_ME},
    {TEXT, "recipsizelimit", R_TB},  /* Exchange "RESOLVER.RST.RecipSizeLimit" */
    {TEXT, "mail size limit", R_TB}, /* 1&1, before "size limit exceeded" (a mailbox) */
    {TEXT, "hop count exceeded",
     R_NE},                   /* Exchange/Outlook "Hop count exceeded - possible mail loop" */
    {TEXT, "dmarc", R_PV},    /* a DMARC refusal, even worded "access denied" */
    {TEXT, "spamhaus", R_BL}, /* our IP is listed, whatever the code */
    {TEXT, "client host blocked", R_BL},     /* Orange */
    {TEXT, "invalid ip for sending", R_BL},  /* Yahoo */
    {TEXT, "unverifyable sending ip", R_BL}, /* "service permits 2 unverifyable sending IPs" */
    {TEXT, "my name was rejected", R_BL},    /* qmail: our HELO refused */
    {TEXT, "sender was rejected", R_RJ},     /* qmail */
    {TEXT, "registered gateway user", R_RJ},
    {TEXT, "address that has been blacklisted", R_RJ}, /* the sender address, not our IP */
    {TEXT, "recipient account is blocked", R_SU},      /* La Poste */
    {TEXT, "sender is unauthenticated", R_SC},         /* Gmail 5.7.26 */
    {TEXT, "not rfc 5322 compliant", R_SC},            /* Gmail 5.7.1 */
    {TEXT, "connection frequency limited", R_TC},      /* QQ */
    {TEXT, "null mx", R_NA},                           /* RFC 7505: the domain takes no mail */
    {TEXT, "no mx record", R_NA},                      /* Yahoo: "No mx record found for domain" */
    {TEXT, "establish an smtp connection", R_NE},      /* qmail, before its "queue too long" */
    {TEXT, "could not find a gateway", R_EX},
    {TEXT, "did not accept our requests to connect", R_EX}, /* Gmail, after days */
    {TEXT, "configured to relay", R_NR},
    {TEXT, "refused due to recipient preferences", R_FI}, /* Facebook RCP-P2, even under 5.1.1 */
    {TEXT, "duplicated message-id", R_SE},   /* fml "Loop Alert: Duplicated Message-ID in <list>" */
    {TEXT, "not member article from", R_RJ}, /* fml: a post from a non-member refused */
    {STRONG, "not listed in domino directory", R_UU},           /* Lotus Domino */
    {STRONG, "not listed in public name & address book", R_UU}, /* Lotus Notes */
    {STRONG, "mail.local: unknown user", R_UU}, /* Sendmail's local delivery agent */
    /* Local delivery agents' own wording: Postfix local(8) 'unknown user: "x"', IMail
       "Unknown user: x@y": the host that keeps the mailbox says it is not there. */
    {STRONG, "unknown user:", R_UU},
    {STRONG, "check if address is correct", R_UU}, /* Trend Micro InterScan */
    {CODE, "*.1.7", R_RJ},                         /* bad sender's mailbox address syntax */
    {CODE, "*.1.8", R_RJ},                         /* bad sender's system address */
    {CODE, "5.6.1", R_CE},                         /* media not supported */

    /* Mailbox full, even under x.1.1: qmail-toaster says "over quota (#5.1.1)" (stock Postfix,
       Exim, Dovecot, Gmail, Yahoo texts). */
    {TEXT, "mailbox full", R_MF},
    {TEXT, "mailbox is full", R_MF},
    {TEXT, "mailbox quota", R_MF},
    {TEXT, "mailfolder is full", R_MF},
    {TEXT, "full mailbox", R_MF},
    {TEXT, "over quota", R_MF},           /* "user is over quota", Dovecot, qmail */
    {TEXT, "quota exceeded", R_MF},       /* "mail quota exceeded" */
    {TEXT, "exceeded storage", R_MF},     /* Gmail: "exceeded storage allocation" */
    {TEXT, "the allowed quota", R_MF},    /* Exim appendfile */
    {TEXT, "exceeding * quota", R_MF},    /* "account is exceeding their quota" */
    {TEXT, "disk quota", R_MF},           /* "disc quota exceeded" */
    {TEXT, "disc quota", R_MF},           /* Exim */
    {TEXT, "over the quota", R_MF},       /* "user is over the quota" */
    {TEXT, "quota violation", R_MF},      /* Courier */
    {TEXT, "not enough storage", R_MF},   /* Exchange */
    {TEXT, "enough space", R_MF},         /* "does not have enough space" */
    {TEXT, "disk space limit", R_MF},     /* "mailbox has exceeded its disk space limit" */
    {TEXT, "size limit exceeded", R_MF},  /* "mailbox size limit exceeded" */
    {TEXT, "too many messages on", R_MF}, /* "user has too many messages on the server" */
    {TEXT, "too much mail data", R_MF},   /* docomo.ne.jp */
    {TEXT, "destinataire pleine", R_MF},  /* Orange: "boite du destinataire pleine" */
    {TEXT, "mailbox exceeded", R_MF},
    {TEXT, "mailbox exceeds", R_MF}, /* IMail "mailbox exceeds allowed size" */
    {TEXT, "insufficient disk space", R_SF},
    /* Sendmail 452 4.4.5: the system's disk */  /* "mailbox exceeded the local limit" */
    {TEXT, "insufficient system storage", R_SF}, /* RFC 5321 452: the system, not the box */

    /* 1. Enhanced status codes that say exactly one thing (RFC 3463, RFC 7505). */
    {CODE, "5.1.1", R_UU},  /* bad destination mailbox address */
    {CODE, "5.1.2", R_HU},  /* bad destination system address */
    {CODE, "5.1.3", R_UU},  /* bad destination mailbox address syntax */
    {CODE, "5.1.6", R_HM},  /* mailbox has moved, no forwarding address */
    {CODE, "4.1.6", R_HM},  /* the same, temporary */
    {CODE, "5.7.27", R_NA}, /* sender domain has a null MX */
    {CODE, "4.2.2", R_MF},  /* mailbox full */
    {CODE, "5.2.2", R_MF},  /* mailbox full */
    {CODE, "5.3.4", R_TB},  /* message too big for system */
    {CODE, "4.4.7", R_EX},  /* delivery time expired */
    {CODE, "5.4.7", R_EX},  /* delivery time expired */
    {CODE, "5.7.13", R_SU}, /* user account disabled */
    {CODE, "5.2.3", R_EL},  /* message length exceeds administrative limit */

    /* 2. Reply texts. Local delivery agents first: their texts quote other errors. */
    /* Per-sender rate limits that Gmail words like a full mailbox. */
    {TEXT, "receiving mail at a rate", R_TC},
    /* Sender IP refused, worded like a recipient or sender error. */
    {TEXT, "banned sending ip", R_BL},     /* Office 365 */
    {TEXT, "ip name lookup failed", R_BL}, /* Sendmail */
    {TEXT, "blacklisted by", R_BL},
    {TEXT, "low reputation", R_BL}, /* Gmail */
    {TEXT, "mismatches client ip", R_BL},
    {TEXT, "5.1.0 address rejected", R_UU}, /* Sisimai's reading of this GMX text */
    {TEXT, "recipient address rejected: access denied", R_UU}, /* Office 365 */
    {TEXT, "multiple *addresses in from", R_PV},               /* Gmail: RFC 5322 header policy */
    {TEXT, "content presents a potential", R_PV},              /* Gmail: attachment policy */
    {TEXT, "denied by policy", R_PV},
    {TEXT, "protocol violation", R_PV},
    {TEXT, "dns query failed", R_NE},              /* Office 365 5.4.312 */
    {TEXT, "message expired", R_EX},               /* Office 365 5.4.316 */
    {TEXT, "failed * attempts", R_EX},             /* IMail "Delivery failed 20 attempts" */
    {TEXT, "dns error", R_NE},                     /* Gmail "DNS Error: ... NXDOMAIN" */
    {TEXT, "host or domain name not found", R_HU}, /* Postfix, before its "name service error" */
    {TEXT, "name service error", R_NE}, /* Postfix: the lookup failed, not "no such host" */
    {TEXT, "permission to post", R_RJ}, /* Google Groups */
    {TEXT, "groups.google.com", R_RJ},  /* Google Groups' refusal, in any language */

    /* Message too big. */
    {TEXT, "message too big", R_TB},
    {TEXT, "line limit exceeded", R_TB}, /* an SMTP line longer than the server takes */
    {TEXT, "message too large", R_TB},
    {TEXT, "message is too large", R_TB},
    {TEXT, "message is too big", R_TB},
    {TEXT, "message size exceeds", R_TB},
    {TEXT, "message file too big", R_TB},
    {TEXT, "exceeds size limit", R_TB},
    {TEXT, "size exceeds the maximum", R_TB}, /* "message size exceeds the maximum" */
    {TEXT, "exceeds the maximum size", R_TB},
    {TEXT, "exceeds the size limit", R_TB},
    {TEXT, "exceeded the max message size", R_TB},
    {TEXT, "exceeds maximum message size", R_TB},
    {TEXT, "header size exceeds", R_EL}, /* the header, not the size of the whole */
    {TEXT, "header are too large", R_EL},
    {TEXT, "message length exceeds", R_EL}, /* RFC 3463 x.2.3 wording */

    /* Suspended or disabled accounts. */
    {TEXT, "account disabled", R_SU},
    {TEXT, "account is disabled", R_SU},
    {TEXT, "account has been disabled", R_SU}, /* Gmail/Outlook */
    {TEXT, "mailbox disabled", R_SU},
    {TEXT, "mailbox is disabled", R_SU},
    {TEXT, "account deactivated", R_SU},
    {TEXT, "account is inactive", R_SU},
    {TEXT, "inactive account", R_SU},
    {TEXT, "account expired", R_SU},
    {TEXT, "account suspended", R_SU},
    {TEXT, "has been suspended", R_SU},
    {TEXT, "is suspended", R_SU},
    {TEXT, "currently suspended", R_SU},
    {TEXT, "account is locked", R_SU}, /* vpopmail */
    {TEXT, "mailbox is frozen", R_SU},
    {TEXT, "is not active", R_SU},
    {TEXT, "recipient suspend", R_SU},
    {TEXT, "has been temporarily disabled", R_SU},

    /* Moved. */
    {TEXT, "address has been replaced by", R_HM},
    {TEXT, "has moved to", R_HM},

    /* Relaying. */
    {TEXT, "relay access denied", R_NR}, /* Postfix */
    {TEXT, "relaying denied", R_NR},     /* Sendmail */
    {TEXT, "relay denied", R_NR},
    {TEXT, "relay not permitted", R_NR}, /* Exim */
    {TEXT, "relaying not allowed", R_NR},
    {TEXT, "not permitted to relay", R_NR},
    {TEXT, "not allowed to relay", R_NR},
    {TEXT, "unable to relay", R_NR}, /* Exchange */
    {TEXT, "we do not relay", R_NR},
    {TEXT, "relaying to * denied", R_NR},
    {TEXT, "relay prohibited", R_NR},
    {TEXT, "no relaying", R_NR},
    {TEXT, "that domain isn't in my list of allowed rcpthosts", R_NR}, /* qmail */

    /* The recipient does not exist (Postfix, Exim, Sendmail, qmail, Gmail, Yahoo, Outlook). */
    {STRONG, "invalid recipient", R_UU},
    {STRONG, "mailbox unavailable", R_UU}, /* "requested action not taken: mailbox unavailable" */
    {STRONG, "recipient not found", R_UU},
    {STRONG, "destinataire invalide", R_UU}, /* La Poste, SFR */
    {STRONG, "t found at the destination domain", R_UU},
    /* Office 365 "wasn't found" */                     /* French */
    {STRONG, "invalid final delivery userid", R_UU},    /* IMail */
    {STRONG, "recipient name is not recognized", R_UU}, /* Exchange 2003 */
    {STRONG, "no valid recipients", R_UU}, /* Verizon, qmail "no valid recipients, bye" */
    {TEXT, "user unknown", R_UU},
    {TEXT, "unknown user", R_UU},
    {TEXT, "no such user", R_UU},
    {TEXT, "no such mailbox", R_UU},
    {TEXT, "no such recipient", R_UU},
    {TEXT, "no such address", R_UU},
    {TEXT, "no such person", R_UU},
    {TEXT, "unknown recipient", R_UU},
    {TEXT, "recipient unknown", R_UU},
    {TEXT, "unknown mailbox", R_UU},
    {TEXT, "mailbox unknown", R_UU},
    {TEXT, "unknown local part", R_UU}, /* Exim */
    {TEXT, "unknown local-part", R_UU},
    {TEXT, "unknown address", R_UU},
    {TEXT, "address unknown", R_UU},
    {TEXT, "addressee unknown", R_UU},
    {TEXT, "unknown e-mail address", R_UU},
    {TEXT, "unknown email address", R_UU},
    {TEXT, "invalid mailbox", R_UU},
    {TEXT, "invalid address", R_UU},
    {TEXT, "invalid user", R_UU},
    {TEXT, "bad recipient", R_UU},
    {TEXT, "bad address", R_UU},
    {TEXT, "bad_recipient", R_UU},
    {TEXT, "no mailbox here by that name", R_UU}, /* qmail */
    {TEXT, "no account by that name", R_UU},
    {TEXT, "no mailbox found", R_UU},
    {TEXT, "mailbox not found", R_UU},
    {TEXT, "mailbox not present", R_UU},
    {TEXT, "mailbox is unavailable", R_UU},
    {TEXT, "mailbox is inactive", R_UU},
    {TEXT, "mailbox invalid", R_UU},
    {TEXT, "mailbox * does not exist", R_UU},
    {TEXT, "mailbox does not exist", R_UU},
    {TEXT, "user * does not exist", R_UU},
    {TEXT, "user does not exist", R_UU},
    {TEXT, "user doesn't exist", R_UU},
    {TEXT, "user not known", R_UU},
    {TEXT, "user not found", R_UU}, /* "550 User not found": filtered unless said at RCPT */
    {TEXT, "user not exist", R_UU},
    {TEXT, "user * was not found", R_UU},
    {TEXT, "user missing home directory", R_UU},
    {TEXT, "recipient does not exist", R_UU},
    {TEXT, "recipient not exist", R_UU},
    {TEXT, "recipient not ok", R_UU},
    {TEXT, "recipient is not local", R_UU},
    {TEXT, "address does not exist", R_UU},
    {TEXT, "account that you tried to reach does not exist", R_UU}, /* Gmail */
    {TEXT, "account * does not exist", R_UU},
    {TEXT, "recipnotfound", R_UU}, /* Exchange "RESOLVER.ADR.RecipNotFound" */
    {TEXT, "recipient notfound", R_UU},
    {TEXT, "doesn't have a * account",
     R_UU}, /* Yahoo: "this user doesn't have a yahoo.com account" */
    {TEXT, "is not a valid mailbox", R_UU},
    {TEXT, "not a valid recipient", R_UU},
    {TEXT, "not a valid user", R_UU},
    {TEXT, "is not a known user", R_UU},
    {TEXT, "not our customer", R_UU},
    {TEXT, "unknown or illegal alias", R_UU},
    {TEXT, "no one at this address", R_UU},
    {TEXT, "address no longer accepts mail", R_UU},
    {TEXT, "no longer valid", R_UU},
    {TEXT, "utilisateur inconnu", R_UU},
    {TEXT, "badrcptto", R_UU}, /* qmail */
    {TEXT, "validrcptto", R_UU},
    {TEXT, "> not found", R_UU}, /* "<someone@example.org> not found" */
    {TEXT, "does not exist.", R_UU},
    {TEXT, "non-existent user", R_UU},
    {TEXT, "nonexistent user", R_UU},
    {TEXT, "was not found in", R_UU}, /* "recipient x was not found in LDAP" */
    {TEXT, "address not present in directory", R_UU},
    {TEXT, "email address could not be found", R_UU},
    {TEXT, "undeliverable address", R_UU},
    {TEXT, "archived recipient", R_UU},

    /* The recipient refuses this mail (per-user filters). */
    {TEXT, "user reject", R_FI},
    {TEXT, "is not accepting any mail", R_FI},
    {TEXT, "rejected due to user rules", R_FI},
    {TEXT, "this account is protected by", R_FI},
    {TEXT, "notauthorized", R_FI}, /* Exchange "RESOLVER.RST.NotAuthorized" */
    {TEXT, "blocked by the recipient", R_FI},
    {TEXT, "only accepting mail from specific", R_FI}, /* AOL */
    {TEXT, "due to extended inactivity", R_FI},
    {TEXT, "bounced address", R_FI}, /* SendGrid */

    /* The sender or the envelope is refused. */
    {TEXT, "sender rejected", R_RJ},
    {TEXT, "sender address rejected", R_RJ}, /* Postfix */
    {TEXT, "provide a valid from",
     R_RJ}, /* GoDaddy "From: Domain is invalid. Please provide a valid From:" */
    {TEXT, "sender verify failed", R_RJ}, /* Exim callout */
    {TEXT, "invalid sender", R_RJ},
    {TEXT, "domain of sender address", R_RJ}, /* Postfix reject_unknown_sender_domain */
    {TEXT, "sender domain", R_RJ},
    {TEXT, "bogus mail from", R_RJ}, /* IMail */
    {TEXT, "empty envelope senders", R_RJ},
    {TEXT, "null sender", R_RJ},
    {TEXT, "returned mail not accepted", R_RJ},
    {TEXT, "unroutable sender", R_RJ},
    {TEXT, "sender is in my black list", R_RJ},
    {TEXT, "sender address has been blacklisted", R_RJ},
    {TEXT, "administrative prohibition", R_RJ}, /* Exim */
    {TEXT, "address rejected", R_RJ},
    {TEXT, "access denied", R_RJ},
    {TEXT, "batv", R_RJ},
    {TEXT, "not allowed to post to this", R_RJ},
    {TEXT, "no third-party dsns", R_RJ},
    {TEXT, "mail from not owned by user", R_RJ},
    {TEXT, "email address is not verified", R_RJ}, /* Amazon SES */
    {TEXT, "emetteur invalide", R_RJ},
    {TEXT, "fully qualified email address required", R_RJ},

    /* The destination domain does not exist. */
    {TEXT, "host unknown", R_HU},
    {TEXT, "unknown host", R_HU},
    {TEXT, "host or domain name not found", R_HU}, /* Postfix */
    {TEXT, "name or service not known", R_HU},
    {TEXT, "no such domain", R_HU},
    {TEXT, "domain does not exist", R_HU},
    {TEXT, "domain must exist", R_HU},
    {TEXT, "domain is not reachable", R_HU},
    {TEXT, "unrouteable address", R_HU}, /* Exim */
    {TEXT, "unroutable address", R_HU},
    {TEXT, "unknown domain", R_HU},
    {TEXT, "domain not found", R_HU},
    {TEXT, "host not found", R_HU},
    {TEXT, "mail domain mentioned in email address is unknown", R_HU},
    {TEXT, "domain may not exist", R_HU},
    {TEXT, "host unreachable", R_HU},

    /* Spam content. */
    {TEXT, "spam", R_SP},        /* any mention after the above: the content */
    {TEXT, "unsolicited", R_SP}, /* Gmail "likely unsolicited mail" */
    {TEXT, "bulk mail", R_SP},
    {TEXT, "bulk email", R_SP},
    {TEXT, "message content rejected", R_SP},
    {TEXT, "content filter rejection", R_SP},
    {TEXT, "message filtered", R_SP},
    {TEXT, "rejected for policy reasons", R_PV},
    {TEXT, "unacceptable content", R_SP},
    {TEXT, "banned content", R_SP},
    {TEXT, "mass mailer", R_SP},

    /* Too many connections or recipients. */
    {TEXT, "too many connections", R_TC},
    {TEXT, "too many concurrent", R_TC},
    {TEXT, "too many simultaneous", R_TC},
    {TEXT, "too many sessions", R_TC},
    {TEXT, "connection limit", R_TC},
    {TEXT, "too many recipients", R_TC},
    {TEXT, "too many hosts", R_TC},
    {TEXT, "maximum number of connections", R_TC},

    /* Our IP or host is refused (block lists, reverse DNS, reputation). */
    {TEXT, "blocked", R_BL},
    {TEXT, "blacklist", R_BL},
    {TEXT, "black list", R_BL},
    {TEXT, "blocklist", R_BL},
    {TEXT, "block list", R_BL},
    {TEXT, "listed in", R_BL},
    {TEXT, "rbl", R_BL},
    {TEXT, "client host rejected", R_BL}, /* Postfix */
    {TEXT, "reverse dns", R_BL},
    {TEXT, "ptr record", R_BL},
    {TEXT, "rdns", R_BL},
    {TEXT, "reputation", R_BL},
    {TEXT, "your ip", R_BL},
    {TEXT, "helo command rejected", R_BL},
    {TEXT, "connection refused by", R_BL},
    {TEXT, "connection reset by peer", R_BL},
    {TEXT, "connection dropped", R_BL},
    {TEXT, "refused to talk to me", R_BL},
    {TEXT, "dynamic ip", R_BL},
    {TEXT, "cannot find your hostname", R_BL},
    {TEXT, "cannot resolve your address", R_BL},
    {TEXT, "please use the smtp server of your isp", R_BL},
    {TEXT, "open proxy", R_BL},
    {TEXT, "go away", R_BL},
    {TEXT, "not currently accepting mail from your ip", R_BL}, /* Microsoft */
    {TEXT, "esmtp not accepting connections", R_BL},           /* iCloud */
    {TEXT, "service not available, closing transmission channel", R_BL},
    {TEXT, "temporarily deferred due to", R_BL}, /* Yahoo complaints/volume */
    {TEXT, "after initial connection", R_BL},    /* Exim: refused at the banner */
    {TEXT, "spf record", R_BL},
    {TEXT, "spf check: fail", R_BL},

    /* Policy (DMARC, local policy). */
    {TEXT, "dmarc", R_PV},
    {TEXT, "policy violation", R_PV},
    {TEXT, "violates * policy", R_PV},
    {TEXT, "violation of * policy", R_PV},
    {TEXT, "local policy", R_PV},
    {TEXT, "policy reasons", R_PV},
    {TEXT, "rejected by policy", R_PV},
    {TEXT, "header error", R_PV},
    {TEXT, "message has been rejected by policy", R_PV},
    {TEXT, "unauthenticated email from", R_PV}, /* Gmail DMARC/auth */
    {TEXT, "email from * is not accepted due to domain's", R_PV},

    /* Viruses. */
    {TEXT, "virus", R_VI},
    {TEXT, "malware", R_VI},
    {TEXT, "infected", R_VI},
    {TEXT, "banned attachment", R_VI},

    /* Security: authentication, TLS, SPF/DKIM failures. */
    {TEXT, "authentication required", R_SC},
    {TEXT, "smtp authentication", R_SC}, /* "please turn on SMTP Authentication" */
    {TEXT, "unauthenticated senders", R_SC},
    {TEXT, "authentication failed", R_SC},
    {TEXT, "must issue a starttls", R_SC},
    {TEXT, "tls required", R_SC},
    {TEXT, "encryption required", R_SC},
    {TEXT, "certificate", R_SC},
    {TEXT, "user not authenticated", R_SC},
    {TEXT, "sender policy framework", R_SC},
    {TEXT, "dkim", R_SC},
    {TEXT, "spf", R_SC},
    {TEXT, "authentication is required", R_SC},

    /* The remote system fails. */
    {TEXT, "local error in processing", R_SE},
    {TEXT, "internal error", R_SE},
    {TEXT, "server configuration problem", R_SE},
    {TEXT, "system error", R_SE},
    {TEXT, "transaction failed", R_SE},
    {TEXT, "service currently unavailable", R_SE},
    {TEXT, "mail system configuration error", R_SE},
    {TEXT, "mail loop", R_SE}, /* "mail forwarding loop" */
    {TEXT, "loops back to myself", R_SE},
    {TEXT, "too many hops", R_NE},
    {TEXT, "routing loop", R_SE},
    {TEXT, "timeout waiting for input", R_SE},
    {TEXT, "unable to connect to", R_SE},

    /* Network trouble. */
    {TEXT, "could not connect", R_NE},
    {TEXT, "network error", R_NE},
    {TEXT, "no route to host", R_NE},
    {TEXT, "network is unreachable", R_NE},
    {TEXT, "connection refused", R_NE},
    {TEXT, "lost connection", R_NE},
    {TEXT, "dns lookup", R_NE},
    {TEXT, "malformed or unexpected name server reply", R_NE}, /* Postfix */
    {TEXT, "mx points to", R_NE},
    {TEXT, "no mx", R_NE},
    {TEXT, "temporary lookup failure", R_NE},
    {TEXT, "unable to resolve", R_NE},
    {TEXT, "host not reachable", R_EX},

    /* Timed out in the queue. */
    {TEXT, "retry timeout exceeded", R_EX}, /* Exim */
    {TEXT, "retry time not reached", R_EX}, /* Exim */
    {TEXT, "message timed out", R_EX},
    {TEXT, "delivery time expired", R_EX},
    {TEXT, "queue too long", R_EX},
    {TEXT, "message expired", R_EX},
    {TEXT, "has been delayed", R_EX},
    {TEXT, "delivery attempts will continue", R_EX},
    {TEXT, "giving up on", R_EX},
    {TEXT, "could not be delivered for", R_EX}, /* Sendmail "...for 5 days" */
    {TEXT, "unable to deliver message after multiple retries", R_EX},
    {TEXT, "not reachable within the allowed queue period", R_EX},
    {TEXT, "failing for a long time", R_EX},
    {TEXT, "server did not respond", R_EX},
    {TEXT, "connection timed out", R_EX},
    {TEXT, "timed out", R_EX},
    {TEXT, "not delivered for", R_EX},
    {TEXT, "delivery expired", R_EX},
    {TEXT, "envelope expired", R_EX}, /* OpenSMTPD */

    /* Content the remote cannot take. */
    {TEXT, "message header", R_CE},
    {TEXT, "improper use of 8-bit data", R_CE},
    {TEXT, "message contains invalid header", R_CE},
    {TEXT, "charset", R_CE},

    /* The whole remote system is full. */
    {TEXT, "system full", R_SF},
    {TEXT, "out of disk space", R_SF},
    {TEXT, "out of memory", R_SF},
    {TEXT, "too busy", R_SF},
    {TEXT, "system is busy", R_SF},

    /* The destination takes no mail at all. */
    {TEXT, "does not accept mail", R_NA},
    {TEXT, "null mx", R_NA},
    {TEXT, "not accepting mail", R_NA},
    {TEXT, "nullmx", R_NA},
    {TEXT, "no smtp service", R_NA}, /* "an MX or SRV record indicated no SMTP service" */

    /* Local delivery agents (pipe, procmail, maildrop). */
    {TEXT, "command output:", R_ME},
    {TEXT, "x-unix;", R_ME},
    {TEXT, "procmail", R_ME},
    {TEXT, "program exited", R_ME},

    /* Rate limits of the big providers. */
    {TEXT, "rate limit", R_SPD},
    {TEXT, "rate-limit", R_SPD},
    {TEXT, "unusual rate", R_SPD}, /* Gmail 4.7.28 */
    {TEXT, "sending too fast", R_SPD},
    {TEXT, "too many messages", R_SPD},

    /* Syntax of our own commands. */
    {TEXT, "syntax error", R_SY},
    {TEXT, "command unrecognized", R_SY},
    {TEXT, "command not recognized", R_SY},
    {TEXT, "bad sequence of commands", R_SY},
    {TEXT, "command parameter not implemented", R_SY},

    /* 3. Generic enhanced status codes, read when the text told nothing. */
    {GENERIC, "5.1.0", R_UU}, /* other address status */
    {GENERIC, "5.1.4", R_FI}, /* destination address ambiguous */
    {GENERIC, "*.1.9", R_SE},
    {GENERIC, "5.1.10", R_NA},
    /* recipient domain has a null MX */ /* relayed to non-compliant mailer */
    {GENERIC, "*.2.1", R_SU},            /* mailbox disabled */
    {GENERIC, "*.2.3", R_EL},            /* message length exceeds administrative limit */
    {GENERIC, "*.2.*", R_FI},            /* other mailbox status */
    {GENERIC, "*.3.1", R_SF},            /* mail system full */
    {GENERIC, "*.3.2", R_NA},            /* system not accepting network messages */
    {GENERIC, "*.3.*", R_SE},            /* mail system status */
    {GENERIC, "4.4.1", R_EX},            /* no answer from host */
    {GENERIC, "5.4.4", R_HU},            /* unable to route */
    {GENERIC, "*.4.5", R_SF},            /* mail system congestion */
    {GENERIC, "*.4.*", R_NE},            /* network and routing */
    {GENERIC, "*.5.3", R_TC},            /* too many recipients */
    {GENERIC, "*.5.*", R_SY},            /* protocol status */
    {GENERIC, "*.6.*", R_CE},            /* media */
    {GENERIC, "*.7.1", R_BL},            /* delivery not authorized */
    {GENERIC, "*.7.25", R_BL},           /* reverse DNS validation failed */
    {GENERIC, "*.7.26", R_SC},           /* multiple authentication checks failed */
    {GENERIC, "*.7.*", R_SC},            /* security status */

    /* 4. The reply code alone. */
    {REPLY, "552", R_MF}, /* RFC 5321: exceeded storage allocation */
    {REPLY, "452", R_SF}, /* insufficient system storage */
    {REPLY, "421", R_BL}, /* service not available at the greeting */
    {REPLY, "553", R_UU}, /* mailbox name not allowed */
    {REPLY, "551", R_UU}, /* user not local */
    {REPLY, "550", R_UU}, /* mailbox unavailable */
    {REPLY, "554", R_RJ}, /* transaction failed */
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

enum { TEXT_MAX = 16384, GAP_MAX = 64 };

/* Does pattern p match at the start of t (n bytes)? '*' is a gap of 0..GAP_MAX bytes. */
static int
match_at(const char *t, size_t n, const char *p)
{
	const char *star = strchr(p, '*');
	size_t plen = star ? (size_t)(star - p) : strlen(p);
	if (n < plen || memcmp(t, p, plen) != 0)
		return 0;
	if (!star)
		return 1;
	for (size_t g = 0; g <= GAP_MAX && plen + g <= n; g++)
		if (match_at(t + plen + g, n - plen - g, star + 1))
			return 1;
	return 0;
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

/* The SMTP stage a diagnostic text names (lower case, blanks squeezed). */
static enum bounce_stage
stage_of(const char *t, size_t n)
{
	static const struct {
		const char *pat;
		enum bounce_stage stage;
	} st[] = {
	    {"rcpt to", BOUNCE_STAGE_RCPT}, /* Postfix, Exim, Sendmail transcripts */
	    {">>> rcpt", BOUNCE_STAGE_RCPT},
	    {"for rcpt", BOUNCE_STAGE_RCPT},       /* qmail "for RCPT TO response" */
	    {"rcpt command", BOUNCE_STAGE_RCPT},   /* GMX */
	    {"rcpt_to", BOUNCE_STAGE_RCPT},        /* Yahoo "[RCPT_TO]" */
	    {"smtp:rcpt host", BOUNCE_STAGE_RCPT}, /* "SMTP:RCPT host 192.0.2.1: 553 ..." */
	    {"smtp:data host", BOUNCE_STAGE_DATA}, /* the same gateway's reply to DATA */
	    {"end of data", BOUNCE_STAGE_DATA},    /* Postfix "in reply to end of DATA" */
	    {"after data", BOUNCE_STAGE_DATA},     /* Exim */
	    {"data command", BOUNCE_STAGE_DATA},
	    {"mail from", BOUNCE_STAGE_MAIL},
	    {"helo", BOUNCE_STAGE_HELO},
	    {"ehlo", BOUNCE_STAGE_HELO},
	    {"initial connection", BOUNCE_STAGE_CONNECT},
	};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (text_match(t, n, st[i].pat))
			return st[i].stage;
	return BOUNCE_STAGE_UNKNOWN;
}

enum bounce_stage
bounce_stage_of(const char *text, size_t text_len)
{
	if (!text)
		return BOUNCE_STAGE_UNKNOWN;
	if (text_len > TEXT_MAX)
		text_len = TEXT_MAX;
	char *low = xmalloc(text_len + 1);
	size_t n = lower_squeeze(text, text_len, low);
	enum bounce_stage st = stage_of(low, n);
	free(low);
	return st;
}

struct bounce_verdict
bounce_classify(int code, const char *ecode, const char *text, size_t text_len)
{
	return bounce_classify_stage(BOUNCE_STAGE_UNKNOWN, code, ecode, text, text_len);
}

struct bounce_verdict
bounce_classify_stage(enum bounce_stage stage, int code, const char *ecode, const char *text,
                      size_t text_len)
{
	char c[16], rc[8];
	code_clean(ecode, c);
	if (c[0] == '2' || (code >= 200 && code < 300 && !c[0]))
		return bounce_verdict_of(BOUNCE_DELIVERED, code, c);
	rc[0] = '\0';
	if (code >= 100 && code <= 999) {
		rc[0] = (char)('0' + code / 100);
		rc[1] = (char)('0' + code / 10 % 10);
		rc[2] = (char)('0' + code % 10);
		rc[3] = '\0';
	}
	if (!text)
		text_len = 0;
	if (text_len > TEXT_MAX)
		text_len = TEXT_MAX;
	char *low = xmalloc(text_len + 1);
	size_t n = lower_squeeze(text, text_len, low);
	int has_text = 0;
	for (size_t i = 0; i < n && !has_text; i++)
		has_text = isalpha((unsigned char)low[i]);

	if (stage == BOUNCE_STAGE_UNKNOWN)
		stage = stage_of(low, n);
	enum bounce_reason r = BOUNCE_REASON_COUNT;
	enum rule_kind by = CODE;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && r == BOUNCE_REASON_COUNT; i++) {
		const struct rule *ru = &rules[i];
		by = ru->kind;
		switch (ru->kind) {
		case CODE:
		case GENERIC:
			if (c[0] && code_match(c, ru->pat))
				r = ru->reason;
			break;
		case TEXT:
		case STRONG:
			if (!n || !text_match(low, n, ru->pat))
				break;
			/*
			 * A sender or content complaint is believed only where it
			 * can happen: after MAIL or DATA, or when the code says
			 * little; at RCPT the recipient is the subject.
			 */
			if ((ru->reason == R_RJ || ru->reason == R_SP) &&
			    (stage == BOUNCE_STAGE_RCPT || stage == BOUNCE_STAGE_CONNECT ||
			     stage == BOUNCE_STAGE_HELO))
				break;
			r = ru->reason;
			break;
		case REPLY:
			if (rc[0] && strncmp(rc, ru->pat, strlen(ru->pat)) == 0)
				r = ru->reason;
			break;
		}
	}
	free(low);
	/*
	 * "User unknown" proves a missing mailbox only at RCPT or with an x.1.x
	 * code; after DATA (the recipient was accepted) or when nothing says
	 * where, it is a filter's answer. A hard bounce suppresses the address
	 * for good, so it needs that evidence. STRONG texts name the recipient
	 * outright ("invalid recipient") and need no more.
	 */
	/* Refused after MAIL FROM: it is our sender address that was refused. */
	if (stage == BOUNCE_STAGE_MAIL &&
	    (r == BOUNCE_USERUNKNOWN || r == BOUNCE_FILTERED || r == BOUNCE_HOSTUNKNOWN))
		r = BOUNCE_REJECTED;
	if (r == BOUNCE_USERUNKNOWN && by == TEXT && stage != BOUNCE_STAGE_RCPT &&
	    !(c[0] && c[1] == '.' && c[2] == '1' && c[3] == '.'))
		r = BOUNCE_FILTERED;
	if (r == BOUNCE_REASON_COUNT)
		r = has_text ? BOUNCE_ONHOLD : BOUNCE_UNDEFINED;
	return bounce_verdict_of(r, code, c);
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
