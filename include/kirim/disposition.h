/*
 * disposition - what a delivery fact means for its message, decided in one
 * place (Postfix's smtp_trouble.c): the message's next state, the event to
 * record, whether an attempt counts, when to try again, the bounce reason
 * and class, and the scope the fact hits.
 *
 * Two steps, both pure (no I/O, no clock: the caller passes `now`):
 * - disposition_classify: an SMTP or DNS fact → outcome (smtp_outcome's rule
 *   table), scope, and the bounce classifier's reason and class. The sender's
 *   loop uses it for its running figures; disposition_decide starts from it.
 * - disposition_decide: a fact about one message (an attempt, a DNS verdict,
 *   a hand-back before the wire, a withdrawal, a render failure, a DSN or
 *   complaint that came back later) with the message's attempts and age, its
 *   domain's DNS health and the policy (retry schedule, maximum age, NXDOMAIN
 *   confirmation) → a disposition. First matching rule of a table wins; each
 *   rule carries its reason in words (disposition.why), tested row by row.
 *
 * It also holds the enhanced codes of the facts the client decides itself (a
 * DNS verdict, a local refusal of a job: disposition_dns_ecode,
 * disposition_local_ecode), so that the network layer invents none.
 */
#ifndef KIRIM_DISPOSITION_H
#define KIRIM_DISPOSITION_H

#include <stdbool.h>
#include <stdint.h>

#include "kirim/bounce_class.h"
#include "kirim/smtp_outcome.h"
#include "kirim/smtp_reply.h"

/* What happened to the message. */
enum disp_kind {
	DISP_ATTEMPT,   /* it was on the wire (or its session failed while it was): r */
	DISP_DNS,       /* its domain's DNS verdict, before any connection: r (stage dns) */
	DISP_UNSENT,    /* handed back before the wire (shutdown, destination down, window) */
	DISP_WITHDRAWN, /* suppressed since it was claimed: not sent */
	DISP_RENDER,    /* the message could not be made */
	DISP_DSN,       /* a bounce report (DSN) or a complaint (ARF) came back later: dsn */
};

/*
 * One recipient of a report that came back after the send. Its verdict is
 * the bounce classifier's as the DSN parser fed it (dsn.h: the Status, the
 * Diagnostic-Code and what else the report says), the same one `kirim
 * bounces classify` prints, so the record and that output agree.
 */
struct disp_dsn {
	bool complaint;                /* an ARF report: the recipient complained */
	const char *action;            /* Action: "failed", "delayed"...; NULL or "" when absent */
	struct bounce_verdict verdict; /* reason and class */
};

struct disp_fact {
	enum disp_kind kind;
	const struct smtp_result *r; /* ATTEMPT and DNS */
	bool dns_no_domain;          /* DNS: NXDOMAIN or no mail host: to be confirmed */
	int64_t message_id;          /* seeds the retry jitter */
	int attempts;                /* attempts made before this one */
	int64_t queued_at;           /* its age counts from here */
	int64_t now;
	int64_t not_before;         /* UNSENT: when its destination may take it again (0: now) */
	bool cancelled;             /* its campaign was cancelled meanwhile */
	int64_t delivered_at;       /* DNS no-domain: the domain's last delivery (0: none) */
	int64_t nxdomain_first;     /* DNS no-domain: its first such answer of the current run */
	const struct disp_dsn *dsn; /* DSN */
};

struct disp_policy {
	int64_t max_age;    /* a deferred or never-sent message expires this long after queueing */
	double retry_first; /* first retry delay, doubling... */
	double retry_max;   /* ... up to this */
	int64_t nxdomain_confirm_s; /* a no-domain answer bounces only after this long */
	int64_t nxdomain_trust_s;   /* ... and never within this long of a delivery */
};

enum disp_state {
	DISP_QUEUED,
	DISP_DELIVERED,
	DISP_BOUNCED,
	DISP_FAILED,
	DISP_SUPPRESSED,
	DISP_CANCELLED,
	DISP_KEEP, /* a later report that changes no state (a soft bounce, a complaint) */
};

enum disp_event {
	DISP_EV_NONE,
	DISP_EV_DELIVERED,
	DISP_EV_DEFERRED,
	DISP_EV_BOUNCED,
	DISP_EV_FAILED,
	DISP_EV_COMPLAINT,
};

/* What the fact does to the recipient's address (store_bounce_suppress applies it). */
enum disp_suppress {
	DISP_SUPPRESS_NONE,
	DISP_SUPPRESS_HARD,      /* a hard bounce: suppressed at once */
	DISP_SUPPRESS_SOFT,      /* a soft bounce: suppressed when they add up within a window */
	DISP_SUPPRESS_COMPLAINT, /* its owner complained: suppressed at once */
};

/* An SMTP or DNS fact classified. */
struct disp_class {
	enum outcome outcome;
	enum outcome_scope scope;
	enum bounce_reason reason; /* BOUNCE_UNDEFINED for a delivery */
	enum bounce_class cls;     /* hard or soft for a failure (a deferral is soft), else NONE */
};

struct disposition {
	enum disp_state state;
	enum disp_event event; /* NONE: no event row (nothing was attempted) */
	bool count_attempt;
	int64_t next_attempt_at; /* QUEUED: when it is due again */
	enum bounce_reason reason;
	enum bounce_class cls;
	enum outcome_scope scope;
	enum disp_suppress suppress;
	const char *why;  /* the rule that decided, in words */
	const char *note; /* to add to the reply's text for the record, or NULL */
};

/*
 * A domain's DNS verdict in the disposition's terms (the dns module's statuses map one
 * to one, plus a look-up that could not be made into a destination).
 */
enum disp_dns {
	DISP_DNS_NXDOMAIN,   /* the domain does not exist: to be confirmed */
	DISP_DNS_NULLMX,     /* RFC 7505: the domain says it takes no mail */
	DISP_DNS_NODATA,     /* no MX and no address: to be confirmed */
	DISP_DNS_TEMPFAIL,   /* SERVFAIL, REFUSED, timeout */
	DISP_DNS_UNROUTABLE, /* hosts found, but no destination could be made of them */
	DISP_DNS_POLICY,     /* the domain's published TLS policy (MTA-STS) allows none of
	                        its hosts, or cannot be met here: deferred */
};
/* disposition_dns_ecode - the RFC 3463 enhanced code a DNS verdict is recorded with */
const char *disposition_dns_ecode(enum disp_dns v);
/* disposition_dns_unconfirmed - whether one such answer must be confirmed before a bounce */
bool disposition_dns_unconfirmed(enum disp_dns v);

/*
 * disposition_local_ecode - the RFC 3463 enhanced code a local refusal is recorded with
 * ("" for NONE and for a refusal no code describes)
 */
const char *disposition_local_ecode(enum smtp_local k);
/* disposition_local_text - the text of a local refusal when the client has no better one */
const char *disposition_local_text(enum smtp_local k);

/*
 * disposition_classify - outcome, scope, reason and class of an SMTP or DNS fact (a local
 * refusal's enhanced code is its kind's, whatever r->ecode says)
 */
struct disp_class disposition_classify(const struct smtp_result *r);
/* disposition_decide - the disposition of fact f under policy p (p unused for a DSN: may be
 * NULL) */
void disposition_decide(const struct disp_fact *f, const struct disp_policy *p,
                        struct disposition *out);
/* disposition_state_name - "queued", "delivered", "bounced", "failed", "suppressed",
 * "cancelled" (the stored names), "unchanged" for KEEP (never stored) */
const char *disposition_state_name(enum disp_state s);
/* disposition_event_name - "delivered", "deferred", "bounced", "failed", "complaint" (NULL
 * for NONE) */
const char *disposition_event_name(enum disp_event e);

#endif
