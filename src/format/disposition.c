/* disposition - delivery facts → what becomes of the message (see disposition.h). */
#include "kirim/disposition.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "kirim/throttle.h"

/* The bounce classifier's stage for an SMTP stage. */
static enum bounce_stage
bounce_stage_for(enum smtp_stage s)
{
	static const enum bounce_stage map[] = {
	    [SMTP_STAGE_CONNECT] = BOUNCE_STAGE_CONNECT, [SMTP_STAGE_BANNER] = BOUNCE_STAGE_CONNECT,
	    [SMTP_STAGE_EHLO] = BOUNCE_STAGE_HELO,       [SMTP_STAGE_STARTTLS] = BOUNCE_STAGE_HELO,
	    [SMTP_STAGE_AUTH] = BOUNCE_STAGE_HELO,       [SMTP_STAGE_MAIL] = BOUNCE_STAGE_MAIL,
	    [SMTP_STAGE_RCPT] = BOUNCE_STAGE_RCPT,       [SMTP_STAGE_DATA] = BOUNCE_STAGE_DATA,
	    [SMTP_STAGE_DOT] = BOUNCE_STAGE_DATA,        [SMTP_STAGE_QUIT] = BOUNCE_STAGE_UNKNOWN,
	    [SMTP_STAGE_DNS] = BOUNCE_STAGE_UNKNOWN,
	};
	return (size_t)s < sizeof(map) / sizeof(map[0]) ? map[s] : BOUNCE_STAGE_UNKNOWN;
}

/*
 * The refusals the client decides itself, each with its enhanced code (RFC 3463 section 3:
 * 3.2 addressing, 3.4 mail system, 3.7 message content, 3.8 security or policy) and the
 * text it goes with when the client has no more precise one.
 */
static const struct {
	const char *ecode;
	const char *text;
} local_facts[] = {
    [SMTP_LOCAL_NONE] = {"", ""},
    /* The caller's mistake, not a delivery status: no code says it. */
    [SMTP_LOCAL_NO_RCPT] = {"", "job without recipients"},
    /* 3.2 X.1.7 bad sender's mailbox address syntax. */
    [SMTP_LOCAL_BAD_SENDER] = {"5.1.7", "invalid sender address"},
    /* 3.2 X.1.3 bad destination mailbox address syntax. */
    [SMTP_LOCAL_BAD_RCPT] = {"5.1.3", "invalid recipient address"},
    /* X.6.7 non-ASCII addresses not permitted (RFC 6531, in the RFC 5248 registry). */
    [SMTP_LOCAL_SMTPUTF8] = {"5.6.7", "SMTPUTF8 needed but not offered by the server"},
    /* 3.4 X.3.4 message too big for system: over the server's SIZE (RFC 1870). */
    [SMTP_LOCAL_TOO_BIG] = {"5.3.4", "message too big for the server"},
    /* 3.8 X.7.0 other security or policy status: our own throttle's, temporary. */
    [SMTP_LOCAL_SUSPENDED] = {"4.7.0", "adaptive throttle"},
};

const char *
disposition_local_ecode(enum smtp_local k)
{
	return (size_t)k < sizeof(local_facts) / sizeof(local_facts[0]) ? local_facts[k].ecode : "";
}

const char *
disposition_local_text(enum smtp_local k)
{
	return (size_t)k < sizeof(local_facts) / sizeof(local_facts[0]) ? local_facts[k].text : "";
}

struct disp_class
disposition_classify(const struct smtp_result *r)
{
	struct smtp_outcome oc = smtp_outcome_classify(r);
	struct disp_class c = {oc.outcome, oc.scope, BOUNCE_UNDEFINED, BOUNCE_NONE};
	if (oc.outcome == OUTCOME_DELIVERED)
		return c;
	const char *text = r->text ? r->text : "";
	const char *ecode = r->local != SMTP_LOCAL_NONE ? disposition_local_ecode(r->local)
	                    : r->ecode                  ? r->ecode
	                                                : "";
	struct bounce_verdict v =
	    bounce_classify_stage(bounce_stage_for(r->stage), r->code, ecode, text, strlen(text));
	c.reason = v.reason;
	/* Only a bounce is hard or soft by what it says; a deferral is soft whatever it says. */
	c.cls = oc.outcome == OUTCOME_BOUNCED && v.cls == BOUNCE_HARD ? BOUNCE_HARD : BOUNCE_SOFT;
	return c;
}

const char *
disposition_dns_ecode(enum disp_dns v)
{
	/* RFC 3463: 5.1.2 bad destination system address, 5.1.10 null MX (RFC 7505), 4.4.3
	 * directory server failure, 4.4.0 other routing problem, 4.7.5 cryptographic failure
	 * (what Postfix records when a TLS policy cannot be met). */
	switch (v) {
	case DISP_DNS_NXDOMAIN:
	case DISP_DNS_NODATA:
		return "5.1.2";
	case DISP_DNS_NULLMX:
		return "5.1.10";
	case DISP_DNS_TEMPFAIL:
		return "4.4.3";
	case DISP_DNS_UNROUTABLE:
		break;
	case DISP_DNS_POLICY:
		return "4.7.5";
	}
	return "4.4.0";
}

bool
disposition_dns_unconfirmed(enum disp_dns v)
{
	return v == DISP_DNS_NXDOMAIN || v == DISP_DNS_NODATA;
}

/* ---- the rules ------------------------------------------------------------------------- */

/* What a rule sees: the fact, the policy, and the fact classified (ATTEMPT and DNS). */
struct ctx {
	const struct disp_fact *f;
	const struct disp_policy *p;
	struct disp_class c;
	int64_t age;
};

static bool
is_dsn_complaint(const struct ctx *x)
{
	return x->f->kind == DISP_DSN && x->f->dsn->complaint;
}
static bool
is_dsn_not_final(const struct ctx *x)
{
	const char *a = x->f->kind == DISP_DSN ? x->f->dsn->action : NULL;
	return a && *a && strcasecmp(a, "failed") != 0;
}
static bool
is_dsn_hard(const struct ctx *x)
{
	return x->f->kind == DISP_DSN && x->c.cls == BOUNCE_HARD;
}
static bool
is_dsn(const struct ctx *x)
{
	return x->f->kind == DISP_DSN;
}
static bool
is_withdrawn(const struct ctx *x)
{
	return x->f->kind == DISP_WITHDRAWN;
}
static bool
is_unsent_cancelled(const struct ctx *x)
{
	return x->f->kind == DISP_UNSENT && x->f->cancelled;
}
static bool
is_unsent_expired(const struct ctx *x)
{
	/* Only a hand-back that says when to come again (a destination down): a stop or a
	 * window is not the message's failure. */
	return x->f->kind == DISP_UNSENT && x->f->not_before && x->age >= x->p->max_age;
}
static bool
is_unsent(const struct ctx *x)
{
	return x->f->kind == DISP_UNSENT;
}
static bool
is_render(const struct ctx *x)
{
	return x->f->kind == DISP_RENDER;
}
static bool
is_delivered(const struct ctx *x)
{
	return x->c.outcome == OUTCOME_DELIVERED;
}
static bool
is_no_domain_expired(const struct ctx *x)
{
	return x->f->kind == DISP_DNS && x->f->dns_no_domain && x->age >= x->p->max_age;
}
static bool
is_no_domain_trusted(const struct ctx *x)
{
	return x->f->kind == DISP_DNS && x->f->dns_no_domain &&
	       x->f->delivered_at > x->f->now - x->p->nxdomain_trust_s;
}
static bool
is_no_domain_unconfirmed(const struct ctx *x)
{
	return x->f->kind == DISP_DNS && x->f->dns_no_domain &&
	       (x->f->nxdomain_first == 0 ||
	        x->f->now - x->f->nxdomain_first < x->p->nxdomain_confirm_s);
}
static bool
is_bounced(const struct ctx *x)
{
	return x->c.outcome == OUTCOME_BOUNCED;
}
static bool
is_failed(const struct ctx *x)
{
	return x->c.outcome == OUTCOME_FAILED;
}
static bool
is_deferred_expired(const struct ctx *x)
{
	return x->c.outcome == OUTCOME_DEFERRED && x->age >= x->p->max_age;
}
static bool
is_deferred(const struct ctx *x)
{
	return x->c.outcome == OUTCOME_DEFERRED;
}

/* retry_at - the next attempt of a deferral: exponential with jitter, so a batch deferred
 * together does not come back together; the jitter is a hash of the message and attempt,
 * not a clock */
static int64_t
retry_at(const struct ctx *x)
{
	uint64_t h = (uint64_t)x->f->message_id * 0x9E3779B97F4A7C15ull + (uint64_t)x->f->attempts;
	h ^= h >> 29;
	double rnd = (double)(h % 1000003) / 1000003.0;
	double delay =
	    throttle_retry_delay(x->f->attempts + 1, x->p->retry_first, x->p->retry_max, rnd);
	int64_t at = x->f->now + (int64_t)delay;
	return x->f->not_before > at ? x->f->not_before : at;
}

enum action {
	A_COMPLAINT, /* a complaint: recorded, the message keeps its state */
	A_IGNORE,    /* nothing to record */
	A_LATE_HARD, /* bounced after it was delivered */
	A_LATE,      /* a bounce recorded, the message keeps its state */
	A_SUPPRESS,  /* suppressed, no attempt */
	A_CANCEL,    /* cancelled, no attempt */
	A_REQUEUE,   /* queued again at not_before, no attempt */
	A_EXPIRE,    /* bounced soft "expired" */
	A_FAIL,      /* failed */
	A_DELIVER,   /* delivered */
	A_WAIT_DNS,  /* deferred: retried as a deferral */
	A_CONFIRM,   /* deferred until the no-domain answer can be confirmed */
	A_BOUNCE,    /* bounced, the classifier's reason and class */
	A_RETRY,     /* deferred: the retry schedule */
};

static const struct rule {
	bool (*when)(const struct ctx *x);
	enum action act;
	const char *why;
	const char *note;
} rules[] = {
    /* Reports that came back later: the message was attempted already. */
    {is_dsn_complaint, A_COMPLAINT, "its recipient complained", NULL},
    /* RFC 3464 2.3.3: only "failed" is a bounce; a report without an Action is read as
     * one (a non-standard bounce says what failed in its text). */
    {is_dsn_not_final, A_IGNORE, "a delay or success notice, not a bounce", NULL},
    {is_dsn_hard, A_LATE_HARD, "accepted, then bounced for good: the bounce is its outcome", NULL},
    {is_dsn, A_LATE, "a later bounce, not a hard one: recorded, the message keeps its state", NULL},
    {is_withdrawn, A_SUPPRESS, "suppressed after it was claimed: never sent", NULL},
    {is_unsent_cancelled, A_CANCEL, "its campaign was cancelled before it was sent", NULL},
    {is_unsent_expired, A_EXPIRE,
     "never sent, its destination down past the maximum age: it expires as a deferral does", NULL},
    {is_unsent, A_REQUEUE, "handed back before the wire: no attempt counts", NULL},
    {is_render, A_FAIL, "the message cannot be made for this recipient", NULL},
    {is_delivered, A_DELIVER, "the server took it", NULL},
    /* One DNS answer is not proof: a flaky resolver can say it of any domain. A message
     * waiting for the answer to change still expires as any deferral does. */
    {is_no_domain_expired, A_EXPIRE,
     "no such domain, still waiting for it past the maximum age: expired", NULL},
    {is_no_domain_trusted, A_WAIT_DNS,
     "no such domain, but it had a delivery lately: never bounced on a DNS answer",
     "the domain had a delivery in the last 30 days: not bounced on a DNS answer"},
    {is_no_domain_unconfirmed, A_CONFIRM,
     "no such domain, not yet confirmed: asked again when it can be",
     "not yet confirmed: the domain must answer NXDOMAIN again later before its addresses "
     "bounce"},
    {is_bounced, A_BOUNCE, "permanent failure", NULL},
    {is_failed, A_FAIL, "refused here", NULL},
    /* RFC 3463 4.4.7, like Postfix's maximal_queue_lifetime. */
    {is_deferred_expired, A_EXPIRE, "deferred past the maximum age: expired", NULL},
    {is_deferred, A_RETRY, "temporary failure: tried again later", NULL},
};

/* suppress_for - what a bounce of class cls does to its address */
static enum disp_suppress
suppress_for(enum bounce_class cls)
{
	return cls == BOUNCE_HARD   ? DISP_SUPPRESS_HARD
	       : cls == BOUNCE_SOFT ? DISP_SUPPRESS_SOFT
	                            : DISP_SUPPRESS_NONE;
}

void
disposition_decide(const struct disp_fact *f, const struct disp_policy *p, struct disposition *out)
{
	static const struct disp_policy no_policy;
	struct ctx x = {f,
	                p ? p : &no_policy,
	                {OUTCOME_DEFERRED, OUTCOME_MESSAGE, BOUNCE_UNDEFINED, BOUNCE_NONE},
	                f->now - f->queued_at};
	if ((f->kind == DISP_ATTEMPT || f->kind == DISP_DNS) && f->r)
		x.c = disposition_classify(f->r);
	else if (f->kind == DISP_DSN)
		x.c = (struct disp_class){OUTCOME_BOUNCED, OUTCOME_RECIPIENT,
		                          f->dsn->verdict.reason, f->dsn->verdict.cls};
	memset(out, 0, sizeof(*out));
	out->reason = x.c.reason;
	out->cls = x.c.cls;
	out->scope = x.c.scope;
	const struct rule *r = NULL;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && r == NULL; i++)
		if (rules[i].when(&x))
			r = &rules[i];
	if (r == NULL) /* every outcome has a rule; a fact of no known kind is retried */
		r = &rules[sizeof(rules) / sizeof(rules[0]) - 1];
	out->why = r->why;
	out->note = r->note;
	out->count_attempt =
	    f->kind == DISP_ATTEMPT || f->kind == DISP_DNS || f->kind == DISP_RENDER;
	switch (r->act) {
	case A_COMPLAINT:
		out->state = DISP_KEEP;
		out->event = DISP_EV_COMPLAINT;
		out->cls = BOUNCE_NONE;
		out->suppress = DISP_SUPPRESS_COMPLAINT;
		out->count_attempt = false;
		break;
	case A_IGNORE:
		out->state = DISP_KEEP;
		out->event = DISP_EV_NONE;
		out->count_attempt = false;
		break;
	case A_LATE_HARD:
	case A_LATE:
		out->state = r->act == A_LATE_HARD ? DISP_BOUNCED : DISP_KEEP;
		out->event = DISP_EV_BOUNCED;
		out->suppress = suppress_for(out->cls);
		out->count_attempt = false;
		break;
	case A_SUPPRESS:
		out->state = DISP_SUPPRESSED;
		out->event = DISP_EV_NONE;
		out->count_attempt = false;
		break;
	case A_CANCEL:
		out->state = DISP_CANCELLED;
		out->event = DISP_EV_NONE;
		out->count_attempt = false;
		break;
	case A_REQUEUE:
		out->state = DISP_QUEUED;
		out->event = DISP_EV_NONE;
		out->count_attempt = false;
		out->next_attempt_at = f->not_before;
		break;
	case A_EXPIRE:
		out->state = DISP_BOUNCED;
		out->event = DISP_EV_BOUNCED;
		out->reason = BOUNCE_EXPIRED;
		out->cls = BOUNCE_SOFT;
		out->suppress = DISP_SUPPRESS_SOFT;
		/* A never-sent message's expiry is its one recorded event. */
		out->count_attempt = true;
		break;
	case A_FAIL:
		out->state = DISP_FAILED;
		out->event = DISP_EV_FAILED;
		break;
	case A_DELIVER:
		out->state = DISP_DELIVERED;
		out->event = DISP_EV_DELIVERED;
		break;
	case A_WAIT_DNS:
	case A_RETRY:
		out->state = DISP_QUEUED;
		out->event = DISP_EV_DEFERRED;
		out->cls = BOUNCE_SOFT;
		out->next_attempt_at = retry_at(&x);
		break;
	case A_CONFIRM: {
		out->state = DISP_QUEUED;
		out->event = DISP_EV_DEFERRED;
		out->cls = BOUNCE_SOFT;
		int64_t at = retry_at(&x), confirm = f->nxdomain_first + p->nxdomain_confirm_s;
		out->next_attempt_at = confirm > at ? confirm : at;
		break;
	}
	case A_BOUNCE:
		out->state = DISP_BOUNCED;
		out->event = DISP_EV_BOUNCED;
		out->suppress = suppress_for(out->cls);
		break;
	}
}

const char *
disposition_state_name(enum disp_state s)
{
	static const char *const names[] = {"queued",     "delivered", "bounced",  "failed",
	                                    "suppressed", "cancelled", "unchanged"};
	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "queued";
}

const char *
disposition_event_name(enum disp_event e)
{
	static const char *const names[] = {NULL,      "delivered", "deferred",
	                                    "bounced", "failed",    "complaint"};
	return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : NULL;
}
