/* bounces - returned mail → events, suppressions, unsubscribes (see bounces.h). */
#include "kirim/bounces.h"

#include <ctype.h>
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
#include "kirim/esp_event.h"
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
	                                    "not-bounce", "unmatched", "unparseable",  "duplicate"};
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

/*
 * One recipient's bounce or complaint, from a DSN or ARF report or from a
 * provider's webhook: what record writes. Strings may be NULL or "".
 */
struct fact {
	const char *format; /* what was read: "rfc3464", "arf", "ses", "sendgrid"... */
	const char *address, *status, *diagnostic, *remote_mta, *feedback_type;
	const char *provider; /* a webhook's ("ses"...): the event is taken once; NULL for mail */
	const char *event_id; /* the provider's id of the event */
	const char *esp_type; /* the provider's own words for it */
};

static void
detail_str(struct buf *d, const char *name, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	buf_printf(d, ",\"%s\":", name);
	buf_json_string(d, v, strlen(v));
}

/*
 * record - one recipient of a bounce or complaint, its disposition disp
 * applied; *dup when a provider's event was taken before (nothing written)
 */
static int
record(struct bounces *b, const struct fact *f, const struct disposition *disp, int64_t campaign,
       int64_t contact, bool *dup, char *why, size_t whysz)
{
	bool complaint = disp->event == DISP_EV_COMPLAINT;
	char source[512], detail[1024];
	struct buf d = BUF_INIT;
	buf_adds(&d, "{\"format\":");
	buf_json_string(&d, f->format ? f->format : "", f->format ? strlen(f->format) : 0);
	if (f->address) {
		buf_adds(&d, ",\"recipient\":");
		buf_json_string(&d, f->address, strlen(f->address));
	}
	if (complaint)
		detail_str(&d, "feedback_type", f->feedback_type);
	detail_str(&d, "provider_event", f->event_id);
	detail_str(&d, "provider_type", f->esp_type);
	buf_addc(&d, '}');
	snprintf(detail, sizeof(detail), "%s", d.data);
	buf_free(&d);
	if (detail[strlen(detail) - 1] != '}') /* cut: the detail must stay JSON */
		snprintf(detail, sizeof(detail), "{\"format\":\"%s\"}", f->format ? f->format : "");
	struct store_bounce_event e = {
	    .campaign_id = campaign,
	    .contact_id = contact,
	    .type = disp->event,
	    .state = disp->state,
	    .reason = disp->reason,
	    .cls = disp->cls,
	    .ecode = f->status,
	    .text = complaint ? f->feedback_type : f->diagnostic,
	    .host = f->remote_mta,
	    .detail = detail,
	};
	snprintf(source, sizeof(source), "%s%s%s %s%s%s", f->provider ? f->provider : "",
	         f->provider ? " " : "", complaint ? "complaint" : "bounce",
	         f->provider ? "event" : "report", f->status && *f->status ? " " : "",
	         f->status ? f->status : "");
	int64_t mid;
	const char *supp = NULL;
	int fresh = 1;
	*dup = false;
	int rc = store_begin(b->store);
	if (rc == 0 && f->provider && f->event_id && *f->event_id &&
	    (rc = store_bounce_seen(b->store, f->provider, f->event_id)) >= 0) {
		fresh = rc;
		rc = 0;
	}
	if (rc == 0 && fresh)
		rc = store_bounce_record(b->store, &e, &mid);
	if (rc == 0 && fresh)
		rc = store_bounce_suppress(b->store, mid, disp->suppress, &b->rules, source, &supp);
	if (rc == 0)
		rc = store_commit(b->store);
	else
		store_rollback(b->store);
	if (rc < 0)
		return rc;
	if (!fresh) {
		*dup = true;
		snprintf(why, whysz, "event=%s rcpt=%s note=\"taken before: nothing changed\"",
		         f->event_id, f->address && *f->address ? f->address : "-");
		return 0;
	}
	b->st.suppressed += supp != NULL;
	snprintf(why, whysz, "msg=%lld rcpt=%s %s=%s class=%s status=%s%s%s", (long long)mid,
	         f->address && *f->address ? f->address : "-", complaint ? "feedback" : "reason",
	         complaint ? (f->feedback_type ? f->feedback_type : "")
	                   : bounce_reason_name(disp->reason),
	         bounce_class_name(disp->cls), f->status && *f->status ? f->status : "-",
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
		const struct dsn_recipient *rr = &r.rcpt[i];
		struct fact fa = {.format = r.format,
		                  .address = rr->address,
		                  .status = rr->status,
		                  .diagnostic = rr->diagnostic,
		                  .remote_mta = rr->remote_mta,
		                  .feedback_type = r.feedback_type};
		bool dup;
		rc = record(b, &fa, &d, campaign, contact, &dup, why, whysz);
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

/*
 * reply_of - the SMTP reply code and enhanced status code a provider's
 * diagnostic quotes ("smtp; 550 5.1.1 user unknown"): code 0 and ecode ""
 * when it quotes none
 */
static int
reply_of(const char *d, char *ecode, size_t ecsz)
{
	ecode[0] = '\0';
	if (strncasecmp(d, "smtp;", 5) == 0)
		d += 5;
	while (*d == ' ')
		d++;
	if (d[0] < '2' || d[0] > '5' || !isdigit((unsigned char)d[1]) ||
	    !isdigit((unsigned char)d[2]) || isdigit((unsigned char)d[3]))
		return 0;
	int code = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	const char *e = d + 3 + strspn(d + 3, " -");
	size_t n = strspn(e, "0123456789.");
	if (n >= 5 && n < ecsz && e[0] == d[0] && e[1] == '.') {
		memcpy(ecode, e, n);
		ecode[n] = '\0';
	}
	return code;
}

int
bounces_ingest_esp(struct bounces *b, const char *provider, const struct esp_event *e,
                   enum bounces_outcome *out, char *why, size_t whysz)
{
	int64_t campaign = 0, contact = 0;
	why[0] = '\0';
	b->st.messages++;
	if (e->kind != ESP_BOUNCE && e->kind != ESP_COMPLAINT) {
		/* The relay's acceptance was the send's outcome; a delivery or a deferral
		 * reported later changes no state (as a DSN's "delivered" or "delayed"). */
		*out = BOUNCES_NOT_BOUNCE;
		b->st.not_bounces++;
		snprintf(why, whysz, "kind=%s rcpt=%s note=\"not a bounce: nothing changed\"",
		         esp_kind_name(e->kind), *e->address ? e->address : "-");
		return 0;
	}
	bool complaint = e->kind == ESP_COMPLAINT;
	bool found = message_id_token(b, e->message_id, &campaign, &contact) == 0;
	if (!found && *e->campaign && *e->address) {
		int rc = store_bounce_find(b->store, e->address, e->campaign, &campaign, &contact);
		if (rc < 0 && rc != STORE_E_NOTFOUND)
			return rc;
		found = rc == 0;
	}
	if (!found) {
		*out = BOUNCES_UNMATCHED;
		b->st.unmatched++;
		snprintf(
		    why, whysz,
		    "kind=%s rcpt=%s message_id=%s campaign=%s note=\"for no message kirim sent\"",
		    complaint ? "complaint" : "bounce", *e->address ? e->address : "-",
		    *e->message_id ? e->message_id : "-", *e->campaign ? e->campaign : "-");
		return 0;
	}
	/*
	 * The classifier decides, as for a DSN: the status and the reply the provider
	 * quotes, else its own hard or soft word as a status of that class.
	 */
	char quoted[32];
	int code = reply_of(e->diagnostic, quoted, sizeof(quoted));
	const char *ecode = *e->status                 ? e->status
	                    : *quoted                  ? quoted
	                    : e->hint == ESP_HINT_HARD ? "5.0.0"
	                    : e->hint == ESP_HINT_SOFT ? "4.0.0"
	                                               : "";
	struct disp_dsn dd = {
	    complaint, "failed",
	    complaint ? bounce_verdict_of(BOUNCE_FEEDBACK, 0, "")
	              : bounce_classify(code, ecode, e->diagnostic, strlen(e->diagnostic))};
	struct disp_fact f = {.kind = DISP_DSN, .dsn = &dd, .now = (int64_t)time(NULL)};
	struct disposition d;
	disposition_decide(&f, NULL, &d);
	struct fact fa = {provider,         e->address, ecode, e->diagnostic, e->remote_mta,
	                  e->feedback_type, provider,   e->id, e->type};
	bool dup = false;
	int rc = record(b, &fa, &d, campaign, contact, &dup, why, whysz);
	if (rc == STORE_E_NOTFOUND) {
		*out = BOUNCES_UNMATCHED;
		b->st.unmatched++;
		snprintf(why, whysz, "campaign %lld has no message for contact %lld",
		         (long long)campaign, (long long)contact);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (dup) {
		*out = BOUNCES_DUPLICATE;
		b->st.duplicates++;
	} else if (complaint) {
		*out = BOUNCES_COMPLAINT;
		b->st.complaints++;
	} else {
		*out = BOUNCES_RECORDED;
		b->st.recorded++;
	}
	return 0;
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
