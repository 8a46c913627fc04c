/* bounces - returned mail → events, suppressions, unsubscribes (see bounces.h). */
#include "kirim/bounces.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kirim/bounce_class.h"
#include "kirim/campaign.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/disposition.h"
#include "kirim/dsn.h"
#include "kirim/log.h"
#include "kirim/mailbox.h"
#include "kirim/store.h"
#include "kirim/store_bounce.h"
#include "kirim/store_serve.h"
#include "kirim/token.h"
#include "kirim/xmalloc.h"

struct bounces {
	struct store *store;
	struct token_key *key;
	char domain[256]; /* the bounce domain, or "" for any */
	struct store_bounce_rules rules;
	struct bounces_stats st;
};

int
bounces_new(struct store *s, const struct config *cfg, struct bounces **out, char *err,
            size_t errsz)
{
	unsigned char secret[64];
	size_t len = 0;
	if (campaign_secret(s, cfg, secret, &len, err, errsz) < 0)
		return -1;
	struct bounces *b = xcalloc(1, sizeof(*b));
	b->store = s;
	b->key = token_key_new(secret, len);
	explicit_bzero(secret, sizeof(secret));
	snprintf(b->domain, sizeof(b->domain), "%s", cfg->bounce_domain);
	b->rules = store_bounce_rules_default();
	*out = b;
	return 0;
}

void
bounces_free(struct bounces *b)
{
	if (b == NULL)
		return;
	token_key_free(b->key);
	free(b);
}

void
bounces_stats(const struct bounces *b, struct bounces_stats *st)
{
	*st = b->st;
}

const char *
bounces_outcome_name(enum bounces_outcome o)
{
	static const char *const names[] = {"recorded",   "complaint", "unsubscribed", "autoreply",
	                                    "not-bounce", "unmatched", "unparseable"};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

/*
 * token_of - if addr is PREFIX-TOKEN@domain (at the bounce domain when one is
 * set; angle brackets ignored), check the token for purpose and set the ids.
 */
static int
token_of(struct bounces *b, const char *addr, char prefix, enum token_purpose purpose,
         int64_t *campaign, int64_t *contact)
{
	while (*addr == '<' || *addr == ' ')
		addr++;
	const char *at = strrchr(addr, '@');
	if (at == NULL || at - addr < 3 || (addr[0] | 0x20) != prefix || addr[1] != '-')
		return -1;
	if (b->domain[0]) {
		size_t dl = strlen(b->domain), rest = strcspn(at + 1, ">");
		if (rest != dl || strncasecmp(at + 1, b->domain, dl) != 0)
			return -1;
	}
	return token_check(b->key, purpose, addr + 2, (size_t)(at - addr - 2), campaign, contact);
}

/* message_id_token - the ids in the original's Message-ID k.TOKEN@domain */
static int
message_id_token(struct bounces *b, const char *mid, int64_t *campaign, int64_t *contact)
{
	const char *at = mid ? strrchr(mid, '@') : NULL;
	if (at == NULL || at - mid < 3 || mid[0] != 'k' || mid[1] != '.')
		return -1;
	return token_check(b->key, TOKEN_MESSAGE_ID, mid + 2, (size_t)(at - mid - 2), campaign,
	                   contact);
}

int
bounces_accept_rcpt(struct bounces *b, const char *addr, const char **why)
{
	int64_t c, k;
	if (token_of(b, addr, 'b', TOKEN_BOUNCE, &c, &k) == 0 ||
	    token_of(b, addr, 'u', TOKEN_UNSUBSCRIBE, &c, &k) == 0)
		return 0;
	*why = "not a bounce or unsubscribe address of kirim's";
	return -1;
}

/* unsubscribe - the contact unsubscribes from the campaign's sender (store_serve's rules) */
static int
unsubscribe(struct bounces *b, int64_t campaign, int64_t contact, bool *changed)
{
	struct store_serve *ss = store_serve_new(b->store);
	if (ss == NULL)
		return STORE_E_SQL;
	struct store_serve_event ev = {
	    .type = STORE_SERVE_UNSUBSCRIBE,
	    .campaign_id = campaign,
	    .contact_id = contact,
	    .ts = (int64_t)time(NULL),
	};
	int rc = store_serve_apply(ss, &ev, 1);
	store_serve_free(ss);
	if (rc == 0 && ev.result < 0)
		rc = ev.result;
	*changed = ev.changed;
	return rc;
}

/* find - which (campaign, contact) a report is about: VERP first, then Message-ID */
static int
find(struct bounces *b, const struct dsn_report *r, const char *const *rcpts, size_t nrcpt,
     int64_t *campaign, int64_t *contact)
{
	for (size_t i = 0; i < nrcpt; i++)
		if (token_of(b, rcpts[i], 'b', TOKEN_BOUNCE, campaign, contact) == 0)
			return 0;
	for (size_t i = 0; i < r->nenvelope; i++)
		if (token_of(b, r->envelope[i], 'b', TOKEN_BOUNCE, campaign, contact) == 0)
			return 0;
	return message_id_token(b, r->orig_message_id, campaign, contact);
}

/* record - one recipient of a bounce or complaint, its disposition disp applied */
static int
record(struct bounces *b, const struct dsn_report *r, const struct dsn_recipient *rc_,
       const struct disposition *disp, int64_t campaign, int64_t contact, char *why, size_t whysz)
{
	bool complaint = disp->event == DISP_EV_COMPLAINT;
	char source[512], detail[768];
	struct buf d = BUF_INIT;
	buf_adds(&d, "{\"format\":");
	buf_json_string(&d, r->format ? r->format : "", r->format ? strlen(r->format) : 0);
	if (rc_->address) {
		buf_adds(&d, ",\"recipient\":");
		buf_json_string(&d, rc_->address, strlen(rc_->address));
	}
	if (complaint && r->feedback_type && *r->feedback_type) {
		buf_adds(&d, ",\"feedback_type\":");
		buf_json_string(&d, r->feedback_type, strlen(r->feedback_type));
	}
	buf_addc(&d, '}');
	snprintf(detail, sizeof(detail), "%s", d.data);
	buf_free(&d);
	struct store_bounce_event e = {
	    .campaign_id = campaign,
	    .contact_id = contact,
	    .type = disp->event,
	    .state = disp->state,
	    .reason = disp->reason,
	    .cls = disp->cls,
	    .ecode = rc_->status,
	    .text = complaint ? r->feedback_type : rc_->diagnostic,
	    .host = rc_->remote_mta,
	    .detail = detail,
	};
	snprintf(source, sizeof(source), "%s report%s%s", complaint ? "complaint" : "bounce",
	         rc_->status && *rc_->status ? " " : "", rc_->status ? rc_->status : "");
	int64_t mid;
	const char *supp = NULL;
	int rc = store_begin(b->store);
	if (rc == 0)
		rc = store_bounce_record(b->store, &e, &mid);
	if (rc == 0)
		rc = store_bounce_suppress(b->store, mid, disp->suppress, &b->rules, source, &supp);
	if (rc == 0)
		rc = store_commit(b->store);
	else
		store_rollback(b->store);
	if (rc < 0)
		return rc;
	b->st.suppressed += supp != NULL;
	snprintf(why, whysz, "msg=%lld rcpt=%s %s=%s class=%s status=%s%s%s", (long long)mid,
	         rc_->address ? rc_->address : "-", complaint ? "feedback" : "reason",
	         complaint ? (r->feedback_type ? r->feedback_type : "")
	                   : bounce_reason_name(disp->reason),
	         bounce_class_name(disp->cls), rc_->status ? rc_->status : "-",
	         supp ? " suppressed=" : "", supp ? supp : "");
	if (complaint) {
		bool changed;
		rc = unsubscribe(b, campaign, contact, &changed);
	}
	if (rc == 0 && (complaint || disp->state == DISP_BOUNCED)) {
		/* Late bounces and complaints count toward the campaign's pause rules too. */
		struct store_bounce_totals t;
		char pwhy[256];
		if ((rc = store_bounce_totals(b->store, campaign, &t)) == 0 &&
		    store_bounce_pause_why(&b->rules, &t, pwhy, sizeof(pwhy)) &&
		    (rc = store_campaign_pause(b->store, campaign, pwhy)) == 1)
			log_warn("campaign=%lld paused reason=\"%s\"", (long long)campaign, pwhy);
	}
	return rc < 0 ? rc : 0;
}

int
bounces_ingest(struct bounces *b, const char *msg, size_t len, const char *const *rcpts,
               size_t nrcpt, enum bounces_outcome *out, char *why, size_t whysz)
{
	struct dsn_report r;
	int64_t campaign = 0, contact = 0;
	int rc = 0;
	why[0] = '\0';
	b->st.messages++;
	/* Mail to the unsubscribe address (List-Unsubscribe: <mailto:u-TOKEN@...>). */
	for (size_t i = 0; i < nrcpt; i++) {
		if (token_of(b, rcpts[i], 'u', TOKEN_UNSUBSCRIBE, &campaign, &contact) == 0) {
			bool changed = false;
			if ((rc = unsubscribe(b, campaign, contact, &changed)) < 0)
				return rc;
			b->st.unsubscribed++;
			*out = BOUNCES_UNSUBSCRIBED;
			snprintf(why, whysz, "campaign=%lld contact=%lld unsubscribed%s",
			         (long long)campaign, (long long)contact,
			         changed ? "" : " (already)");
			return 0;
		}
	}
	dsn_parse(msg, len, &r);
	switch (r.kind) {
	case DSN_UNPARSEABLE:
		*out = BOUNCES_UNPARSEABLE;
		b->st.unparseable++;
		snprintf(why, whysz, "unparseable: %s", r.why ? r.why : "");
		goto done;
	case DSN_NOT_BOUNCE:
		*out = BOUNCES_NOT_BOUNCE;
		b->st.not_bounces++;
		snprintf(why, whysz, "not a bounce: %s", r.why ? r.why : "");
		goto done;
	case DSN_AUTOREPLY:
		*out = BOUNCES_AUTOREPLY;
		b->st.autoreplies++;
		snprintf(why, whysz, "auto-reply (RFC 3834): not a bounce");
		goto done;
	case DSN_BOUNCE:
	case DSN_COMPLAINT:
		break;
	}
	if (find(b, &r, rcpts, nrcpt, &campaign, &contact) < 0) {
		*out = BOUNCES_UNMATCHED;
		b->st.unmatched++;
		snprintf(why, whysz, "%s for no message kirim sent (no VERP address or Message-ID)",
		         r.kind == DSN_COMPLAINT ? "complaint" : "bounce");
		goto done;
	}
	bool complaint = r.kind == DSN_COMPLAINT;
	bool any = false;
	for (size_t i = 0; i < r.nrcpt && rc == 0; i++) {
		struct disp_dsn dd = {complaint, r.rcpt[i].action, r.rcpt[i].verdict};
		struct disp_fact f = {.kind = DISP_DSN, .dsn = &dd, .now = (int64_t)time(NULL)};
		struct disposition d;
		disposition_decide(&f, NULL, &d);
		if (d.event == DISP_EV_NONE)
			continue;
		rc = record(b, &r, &r.rcpt[i], &d, campaign, contact, why, whysz);
		any = true;
		/* VERP names one recipient: one message's outcome, whatever else the DSN lists. */
		break;
	}
	if (rc == STORE_E_NOTFOUND) {
		rc = 0;
		*out = BOUNCES_UNMATCHED;
		b->st.unmatched++;
		snprintf(why, whysz, "campaign %lld has no message for contact %lld",
		         (long long)campaign, (long long)contact);
	} else if (rc == 0 && !any) {
		*out = BOUNCES_NOT_BOUNCE;
		b->st.not_bounces++;
		snprintf(why, whysz, "a delay or success notice, not a bounce");
	} else if (rc == 0) {
		*out = complaint ? BOUNCES_COMPLAINT : BOUNCES_RECORDED;
		if (complaint)
			b->st.complaints++;
		else
			b->st.recorded++;
	}
done:
	dsn_report_free(&r);
	return rc;
}

/* One bounces_ingest_paths run: the mailbox callbacks' argument. */
struct from_files {
	struct bounces *b;
	int rc; /* the store error that stopped the run */
	void (*problem)(void *arg, const char *what);
	void *arg;
};

/* file_message - one message from a file: ingested and logged; a store error stops the run */
static int
file_message(void *arg, const char *where, const char *msg, size_t len, const char *err)
{
	struct from_files *ff = arg;
	if (msg == NULL) {
		log_warn("bounces %s: %s", where, err);
		return MAILBOX_FAILED;
	}
	enum bounces_outcome oc;
	char why[512];
	int rc = bounces_ingest(ff->b, msg, len, NULL, 0, &oc, why, sizeof(why));
	if (rc < 0) {
		log_error("bounces %s: database: %s", where, why[0] ? why : "failed");
		ff->rc = rc;
		return MAILBOX_STOP;
	}
	log_info("bounces %s: %s %s", where, bounces_outcome_name(oc), why);
	return oc == BOUNCES_UNPARSEABLE ? MAILBOX_FAILED : MAILBOX_SEEN;
}

static void
file_problem(void *arg, const char *what)
{
	struct from_files *ff = arg;
	ff->problem(ff->arg, what);
}

int
bounces_ingest_paths(struct bounces *b, char *const *paths, size_t n,
                     void (*problem)(void *arg, const char *what), void *arg)
{
	struct from_files ff = {.b = b, .problem = problem, .arg = arg};
	static const struct mailbox_cbs cbs = {file_message, file_problem};
	for (size_t i = 0; i < n && ff.rc == 0; i++)
		mailbox_read(paths[i], &cbs, &ff);
	return ff.rc;
}
