/* esp_event - ESP webhook payloads and SNS message text (see esp_event.h). */
#include "kirim/esp_event.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/http_url.h"
#include "kirim/xmalloc.h"

const char *
esp_kind_name(enum esp_kind k)
{
	static const char *const names[] = {"bounce", "complaint", "delivered", "deferred",
	                                    "other"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *
esp_provider_name(enum esp_provider p)
{
	static const char *const names[] = {"ses", "sendgrid", "postmark"};
	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

/* A copy of the n bytes at s as one line of at most ESP_FIELD_MAX bytes (buf_add_line). */
static char *
line_of(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_add_line(&b, s, n, ESP_FIELD_MAX);
	return b.data;
}

/* Member key of o as one line: a string as it is, a number in decimal, else "". */
static char *
str_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	char num[32];
	if (json_is_string(v))
		return line_of(json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return xstrdup(num);
	}
	return xstrdup("");
}

/* A Message-ID without its angle brackets and blanks. */
static char *
mid_of(char *s)
{
	char *p = s;
	while (*p == ' ' || *p == '<')
		p++;
	size_t n = strcspn(p, "<> ");
	memmove(s, p, n);
	s[n] = '\0';
	return s;
}

/* A new event of kind at the end of b, every string "" (NULL: the batch is full). */
static struct esp_event *
add(struct esp_batch *b, enum esp_kind kind)
{
	if (b->n >= ESP_EVENTS_MAX)
		return NULL;
	b->ev = xrealloc(b->ev, (b->n + 1) * sizeof(*b->ev));
	struct esp_event *e = &b->ev[b->n++];
	*e = (struct esp_event){.kind = kind};
	char **fs[] = {&e->id,   &e->address,    &e->status,   &e->diagnostic,    &e->action,
	               &e->type, &e->message_id, &e->campaign, &e->feedback_type, &e->remote_mta};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		*fs[i] = xstrdup("");
	return e;
}

static void
set(char **field, char *v)
{
	free(*field);
	*field = v;
}

void
esp_batch_free(struct esp_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct esp_event *e = &b->ev[i];
		char *fs[] = {e->id,   e->address,    e->status,   e->diagnostic,    e->action,
		              e->type, e->message_id, e->campaign, e->feedback_type, e->remote_mta};
		for (size_t k = 0; k < sizeof(fs) / sizeof(fs[0]); k++)
			free(fs[k]);
	}
	free(b->ev);
	memset(b, 0, sizeof(*b));
}

/* The JSON array (array) or object in s (n bytes), or NULL with not_it in *why. */
static json_t *
load(const char *s, size_t n, bool array, const char *not_it, const char **why)
{
	json_error_t err;
	json_t *j = json_loadb(s ? s : "", s ? n : 0, JSON_REJECT_DUPLICATES, &err);
	if (array ? json_is_array(j) : json_is_object(j))
		return j;
	json_decref(j);
	*why = not_it;
	return NULL;
}

/* ---- Amazon SES ---------------------------------------------------------------------- */

/*
 * The campaign a message's Feedback-ID names (kirim writes "CAMPAIGN:kirim:..."), from
 * SES's mail.headers when the identity includes the original headers, or "".
 */
static char *
ses_header(const json_t *mail, const char *name)
{
	const json_t *hs = json_object_get(mail, "headers");
	for (size_t i = 0; i < json_array_size(hs); i++) {
		const json_t *h = json_array_get(hs, i);
		const char *hn = json_string_value(json_object_get(h, "name"));
		if (hn && strcasecmp(hn, name) == 0)
			return str_of(h, "value");
	}
	return NULL;
}

/* Fill e's mapping fields from the SES mail object. */
static void
ses_mail(struct esp_event *e, const json_t *mail)
{
	char *mid = str_of(json_object_get(mail, "commonHeaders"), "messageId");
	if (*mid == '\0') {
		free(mid);
		mid = ses_header(mail, "Message-ID");
	}
	if (mid)
		set(&e->message_id, mid_of(mid));
	char *fb = ses_header(mail, "Feedback-ID");
	if (fb) {
		fb[strcspn(fb, ":")] = '\0';
		set(&e->campaign, fb);
	}
}

int
esp_ses_parse(const char *json, size_t n, const char *id_prefix, struct esp_batch *out,
              const char **why)
{
	static const char not_ses[] = "not an Amazon SES notification (no notificationType)";
	memset(out, 0, sizeof(*out));
	json_t *j = load(json, n, false, not_ses, why);
	int rc = j ? esp_ses_read(j, id_prefix, out) : -1;
	if (j && rc < 0)
		*why = not_ses;
	json_decref(j);
	return rc;
}

int
esp_ses_read(const json_t *j, const char *id_prefix, struct esp_batch *out)
{
	memset(out, 0, sizeof(*out));
	const char *type = json_string_value(json_object_get(j, "notificationType"));
	if (type == NULL)
		type = json_string_value(json_object_get(j, "eventType")); /* configuration sets */
	if (type == NULL)
		return -1;
	/* SES's notification types: the object each is in, and its list of recipients. */
	static const struct {
		const char *type;
		enum esp_kind kind;
		const char *object, *recipients;
	} types[] = {
	    {"Bounce", ESP_BOUNCE, "bounce", "bouncedRecipients"},
	    {"Complaint", ESP_COMPLAINT, "complaint", "complainedRecipients"},
	    {"Delivery", ESP_DELIVERED, "delivery", "recipients"},
	    {"DeliveryDelay", ESP_DEFERRED, "deliveryDelay", "delayedRecipients"},
	};
	const json_t *mail = json_object_get(j, "mail"), *list = NULL, *o = NULL;
	enum esp_kind kind = ESP_OTHER;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(type, types[i].type) == 0) {
			kind = types[i].kind;
			o = json_object_get(j, types[i].object);
			list = json_object_get(o, types[i].recipients);
		}
	char *btype = str_of(o, "bounceType"), *bsub = str_of(o, "bounceSubType");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *r = json_array_get(list, i);
		struct esp_event *e = add(out, kind);
		if (e == NULL)
			break;
		/* Delivery lists bare addresses; the others, objects with emailAddress. */
		set(&e->address, json_is_string(r)
		                     ? line_of(json_string_value(r), json_string_length(r))
		                     : str_of(r, "emailAddress"));
		set(&e->id, xstrdup(id_prefix ? id_prefix : ""));
		e->id = xrealloc(e->id, strlen(e->id) + strlen(e->address) + 2);
		strcat(strcat(e->id, "/"), e->address);
		ses_mail(e, mail);
		if (kind == ESP_BOUNCE) {
			e->hint = strcmp(btype, "Permanent") == 0   ? ESP_HINT_HARD
			          : strcmp(btype, "Transient") == 0 ? ESP_HINT_SOFT
			                                            : ESP_HINT_NONE;
			char t[256];
			snprintf(t, sizeof(t), "%s/%s", btype, bsub);
			set(&e->type, line_of(t, strlen(t)));
			set(&e->action, str_of(r, "action"));
			set(&e->status, str_of(r, "status"));
			set(&e->diagnostic, str_of(r, "diagnosticCode"));
			set(&e->remote_mta, str_of(o, "reportingMTA"));
		} else if (kind == ESP_COMPLAINT) {
			char *ft = str_of(o, "complaintFeedbackType");
			set(&e->feedback_type, *ft ? ft : (free(ft), xstrdup("abuse")));
			set(&e->type, xstrdup("Complaint"));
		} else if (kind == ESP_DELIVERED) {
			set(&e->action, xstrdup("delivered"));
			set(&e->diagnostic, str_of(o, "smtpResponse"));
			set(&e->type, xstrdup("Delivery"));
		} else {
			set(&e->status, str_of(r, "status"));
			set(&e->diagnostic, str_of(r, "diagnosticCode"));
			set(&e->type, xstrdup("DeliveryDelay"));
		}
	}
	free(btype);
	free(bsub);
	return 0;
}

/* ---- SendGrid ------------------------------------------------------------------------ */

int
esp_sendgrid_parse(const char *body, size_t n, struct esp_batch *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	json_t *j = load(body, n, true, "not a SendGrid event batch (a JSON array of events)", why);
	if (j == NULL)
		return -1;
	for (size_t i = 0; i < json_array_size(j); i++) {
		const json_t *o = json_array_get(j, i);
		const char *ev = json_string_value(json_object_get(o, "event"));
		if (!json_is_object(o) || ev == NULL)
			continue;
		char *sub = str_of(o, "type");
		enum esp_kind kind = ESP_OTHER;
		enum esp_hint hint = ESP_HINT_NONE;
		/* "bounce" is permanent, "blocked" temporary (SendGrid's event reference); a
		 * message SendGrid dropped was never sent: the address is on its own lists. */
		if (strcmp(ev, "bounce") == 0) {
			kind = ESP_BOUNCE;
			hint = strcmp(sub, "blocked") == 0 ? ESP_HINT_SOFT : ESP_HINT_HARD;
		} else if (strcmp(ev, "dropped") == 0) {
			kind = ESP_BOUNCE;
			hint = ESP_HINT_HARD;
		} else if (strcmp(ev, "spamreport") == 0) {
			kind = ESP_COMPLAINT;
		} else if (strcmp(ev, "delivered") == 0) {
			kind = ESP_DELIVERED;
		} else if (strcmp(ev, "deferred") == 0) {
			kind = ESP_DEFERRED;
		}
		struct esp_event *e = add(out, kind);
		if (e == NULL) {
			free(sub);
			break;
		}
		e->hint = hint;
		char t[128];
		snprintf(t, sizeof(t), "%s%s%s", ev, *sub ? "/" : "", sub);
		free(sub);
		set(&e->type, line_of(t, strlen(t)));
		set(&e->id, str_of(o, "sg_event_id"));
		set(&e->address, str_of(o, "email"));
		set(&e->status, str_of(o, "status"));
		set(&e->diagnostic, str_of(o, kind == ESP_DELIVERED ? "response" : "reason"));
		if (kind == ESP_DEFERRED)
			set(&e->diagnostic, str_of(o, "response"));
		set(&e->message_id, mid_of(str_of(o, "smtp-id")));
		set(&e->campaign, str_of(o, "kirim_campaign"));
		if (kind == ESP_COMPLAINT)
			set(&e->feedback_type, xstrdup("abuse"));
	}
	json_decref(j);
	return 0;
}

/* ---- Postmark ------------------------------------------------------------------------ */

/*
 * Postmark's bounce types (its "Bounce types" reference) and what each is: a bounce with
 * its hard or soft word, a complaint, or nothing kirim records (an auto-reply, a
 * subscribe request, a challenge, Postmark's own account events).
 */
static const struct pm_type {
	const char *name;
	enum esp_kind kind;
	enum esp_hint hint;
} pm_types[] = {
    {"HardBounce", ESP_BOUNCE, ESP_HINT_HARD},
    {"BadEmailAddress", ESP_BOUNCE, ESP_HINT_HARD},
    {"SoftBounce", ESP_BOUNCE, ESP_HINT_SOFT},
    {"Transient", ESP_BOUNCE, ESP_HINT_SOFT},
    {"DnsError", ESP_BOUNCE, ESP_HINT_SOFT},
    {"Blocked", ESP_BOUNCE, ESP_HINT_SOFT},
    {"SpamNotification", ESP_BOUNCE, ESP_HINT_SOFT},
    {"VirusNotification", ESP_BOUNCE, ESP_HINT_SOFT},
    {"DMARCPolicy", ESP_BOUNCE, ESP_HINT_SOFT},
    {"ManuallyDeactivated", ESP_BOUNCE, ESP_HINT_HARD},
    {"SpamComplaint", ESP_COMPLAINT, ESP_HINT_NONE},
};

int
esp_postmark_parse(const char *body, size_t n, struct esp_batch *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	static const char not_pm[] = "not a Postmark webhook record (no RecordType)";
	json_t *j = load(body, n, false, not_pm, why);
	const char *rt = json_string_value(json_object_get(j, "RecordType"));
	if (rt == NULL) {
		json_decref(j);
		*why = not_pm;
		return -1;
	}
	char *type = str_of(j, "Type");
	enum esp_kind kind = ESP_OTHER;
	enum esp_hint hint = ESP_HINT_NONE;
	if (strcmp(rt, "Bounce") == 0 || strcmp(rt, "SpamComplaint") == 0)
		for (size_t i = 0; i < sizeof(pm_types) / sizeof(pm_types[0]); i++)
			if (strcmp(type, pm_types[i].name) == 0) {
				kind = pm_types[i].kind;
				hint = pm_types[i].hint;
			}
	if (strcmp(rt, "Delivery") == 0)
		kind = ESP_DELIVERED;
	struct esp_event *e = add(out, kind);
	e->hint = hint;
	char id[128], *pid = str_of(j, "ID");
	snprintf(id, sizeof(id), "%s/%s", rt, pid);
	free(pid);
	set(&e->id, xstrdup(id));
	set(&e->type, *type ? type : (free(type), line_of(rt, strlen(rt))));
	set(&e->address, str_of(j, strcmp(rt, "Delivery") == 0 ? "Recipient" : "Email"));
	set(&e->diagnostic, str_of(j, "Details"));
	if (*e->diagnostic == '\0')
		set(&e->diagnostic, str_of(j, "Description"));
	/* Postmark keeps no original Message-ID: the campaign comes as Metadata or Tag. */
	set(&e->campaign, str_of(json_object_get(j, "Metadata"), "kirim_campaign"));
	if (*e->campaign == '\0')
		set(&e->campaign, str_of(j, "Tag"));
	if (kind == ESP_COMPLAINT)
		set(&e->feedback_type, xstrdup("abuse"));
	json_decref(j);
	return 0;
}

/* ---- Amazon SNS ---------------------------------------------------------------------- */

void
esp_sns_free(struct esp_sns *m)
{
	char *fs[] = {m->type,
	              m->message_id,
	              m->topic_arn,
	              m->subject,
	              m->message,
	              m->timestamp,
	              m->token,
	              m->subscribe_url,
	              m->signature,
	              m->signing_cert_url,
	              m->signature_version};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		free(fs[i]);
	memset(m, 0, sizeof(*m));
}

/* The string member key of o, whole (a signature covers every byte), or NULL. */
static char *
whole(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return xstrdup(json_string_value(v));
}

int
esp_sns_parse(const char *body, size_t n, struct esp_sns *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	json_t *j = load(body, n, false, "not an SNS message (not a JSON object)", why);
	if (j == NULL)
		return -1;
	out->type = whole(j, "Type");
	out->message_id = whole(j, "MessageId");
	out->topic_arn = whole(j, "TopicArn");
	out->message = whole(j, "Message");
	out->timestamp = whole(j, "Timestamp");
	out->signature_version = whole(j, "SignatureVersion");
	out->signature = whole(j, "Signature");
	out->signing_cert_url = whole(j, "SigningCertURL");
	out->subject = whole(j, "Subject");
	out->has_subject = out->subject != NULL;
	out->token = whole(j, "Token");
	out->subscribe_url = whole(j, "SubscribeURL");
	json_decref(j);
	bool note = out->type && strcmp(out->type, "Notification") == 0;
	bool conf = out->type && (strcmp(out->type, "SubscriptionConfirmation") == 0 ||
	                          strcmp(out->type, "UnsubscribeConfirmation") == 0);
	if (!note && !conf)
		*why = "not an SNS message (Type is not Notification, SubscriptionConfirmation or "
		       "UnsubscribeConfirmation)";
	else if (!out->message_id || !out->topic_arn || !out->message || !out->timestamp ||
	         !out->signature_version || !out->signature || !out->signing_cert_url)
		*why = "an SNS message without its MessageId, TopicArn, Message, Timestamp or "
		       "signature fields";
	else if (conf && (!out->token || !out->subscribe_url))
		*why = "an SNS subscription message without Token or SubscribeURL";
	else
		return 0;
	esp_sns_free(out);
	return -1;
}

static void
field(struct buf *out, const char *name, const char *v)
{
	buf_adds(out, name);
	buf_addc(out, '\n');
	buf_adds(out, v ? v : "");
	buf_addc(out, '\n');
}

void
esp_sns_canonical(const struct esp_sns *m, struct buf *out)
{
	bool note = strcmp(m->type, "Notification") == 0;
	field(out, "Message", m->message);
	field(out, "MessageId", m->message_id);
	if (note && m->has_subject)
		field(out, "Subject", m->subject);
	if (!note)
		field(out, "SubscribeURL", m->subscribe_url);
	field(out, "Timestamp", m->timestamp);
	if (!note)
		field(out, "Token", m->token);
	field(out, "TopicArn", m->topic_arn);
	field(out, "Type", m->type);
}

/* Does host (n bytes, lower case) match pattern (pn bytes)? "*" is one label. */
static bool
host_match(const char *host, size_t n, const char *pat, size_t pn)
{
	size_t h = 0, p = 0;
	while (p < pn) {
		if (pat[p] == '*') {
			size_t start = h;
			while (h < n && (isalnum((unsigned char)host[h]) || host[h] == '-'))
				h++;
			if (h == start)
				return false;
			p++;
			continue;
		}
		if (h >= n || tolower((unsigned char)pat[p]) != host[h])
			return false;
		p++, h++;
	}
	return h == n;
}

int
esp_url_split(const char *url, const char *hosts, struct http_url *u, const char **why)
{
	struct http_url r;
	if (strncasecmp(url, "https://", 8) != 0) {
		*why = "not an https URL";
		return -1;
	}
	if (http_url_parse(url, &r, why) < 0)
		return -1;
	bool ok = false;
	for (const char *p = hosts; *p && !ok;) {
		p += strspn(p, ", \t");
		size_t pl = strcspn(p, ", \t");
		if (pl && host_match(r.host, strlen(r.host), p, pl))
			ok = true;
		p += pl;
	}
	if (!ok) {
		*why = "its host is not one the configuration trusts";
		return -1;
	}
	*u = r;
	return 0;
}
