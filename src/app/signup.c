/*
 * signup - signup requests read from forms and JSON, and the confirmation
 * message's fields (see signup.h).
 */
#include "kirim/signup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/campaign.h"
#include "kirim/config.h"
#include "kirim/pages.h"
#include "kirim/serve_route.h"
#include "kirim/token.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* Copy v (n bytes) into out (cap bytes) trimmed of blanks: false when it does not fit or is
 * not UTF-8 text without control characters. */
static bool
put_text(const char *v, size_t n, char *out, size_t cap)
{
	while (n && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n >= cap || !utf8_valid(v, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* A form field into out: false when present and unusable. */
static bool
form_text(const char *body, size_t n, const char *name, char *out, size_t cap)
{
	char raw[512];
	int rc = serve_form_field(body, n, name, raw, sizeof(raw));
	out[0] = '\0';
	if (rc == 0)
		return true;
	return rc == 1 && put_text(raw, strlen(raw), out, cap);
}

/* A JSON member into out: false when present and not a usable string. */
static bool
json_text(json_t *o, const char *name, char *out, size_t cap)
{
	json_t *v = json_object_get(o, name);
	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return true;
	return json_is_string(v) && put_text(json_string_value(v), json_string_length(v), out, cap);
}

/* signup_form_parse - a signup POST, form or JSON */
enum signup_problem
signup_form_parse(const char *ctype, const char *body, size_t n, struct signup_form *out)
{
	memset(out, 0, sizeof(*out));
	char trap[256] = "", consent[16] = "";
	bool ok;
	if (ctype && strncasecmp(ctype, "application/json", 16) == 0) {
		out->json = true;
		json_t *o = json_loadb(body ? body : "", n, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			return SIGNUP_BAD_REQUEST;
		}
		ok = json_text(o, "email", out->email, sizeof(out->email)) &&
		     json_text(o, "name", out->name, sizeof(out->name)) &&
		     json_text(o, "language", out->lang, sizeof(out->lang)) &&
		     json_text(o, "form", out->form, sizeof(out->form)) &&
		     json_text(o, "website", trap, sizeof(trap));
		out->consent = json_is_true(json_object_get(o, "consent"));
		json_decref(o);
	} else if (ctype == NULL || *ctype == '\0' ||
	           strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
		ok = form_text(body, n, "email", out->email, sizeof(out->email)) &&
		     form_text(body, n, "name", out->name, sizeof(out->name)) &&
		     form_text(body, n, "lang", out->lang, sizeof(out->lang)) &&
		     form_text(body, n, "form", out->form, sizeof(out->form)) &&
		     form_text(body, n, "consent", consent, sizeof(consent));
		/* Whatever a bot put there, it is a bot: too long or broken counts too. */
		if (serve_form_field(body, n, "website", trap, sizeof(trap)) < 0)
			snprintf(trap, sizeof(trap), "x");
		out->consent = consent[0] != '\0';
	} else {
		return SIGNUP_BAD_REQUEST;
	}
	out->honeypot = trap[0] != '\0';
	if (!ok)
		return SIGNUP_BAD_REQUEST;
	if (out->lang[0] && !i18n_tag_ok(out->lang))
		out->lang[0] = '\0';
	const char *reason;
	if (out->email[0] == '\0' ||
	    address_parse(out->email, strlen(out->email), 0, &out->addr, &reason) < 0)
		return SIGNUP_BAD_EMAIL;
	if (!out->consent)
		return SIGNUP_NO_CONSENT;
	return SIGNUP_OK;
}

/* signup_form_html - the form for another site */
int
signup_form_html(const struct config *cfg, const char *list, const char *lang, struct buf *out,
                 char *err, size_t errsz)
{
	size_t i = 0;
	while (i < cfg->n_signup_lists && strcmp(cfg->signup_lists[i], list) != 0)
		i++;
	if (i == cfg->n_signup_lists) {
		snprintf(err, errsz,
		         "list '%s' takes no signups: add it to [signup] lists in kirim.conf",
		         list);
		return -1;
	}
	char base[512], why[700];
	if (campaign_track_base(cfg, base, sizeof(base), why, sizeof(why)) < 0) {
		snprintf(err, errsz, "the form posts to kirim serve: %s", why);
		return -1;
	}
	struct pages *p;
	if (pages_new(cfg, &p, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "%s", why);
		return -1;
	}
	const char *tag = pages_lang(p, lang, NULL, NULL);
	if (lang && strcmp(tag, lang) != 0) {
		snprintf(err, errsz, "no texts in language '%s' (i18n/%s.json in [pages] dir)",
		         lang, lang);
		pages_free(p);
		return -1;
	}
	json_t *ctx = json_pack("{s:s, s:s}", "list", list, "form", "embed");
	json_object_set_new(ctx, "action", json_sprintf("%s/s/%s", base, list));
	int rc = pages_render(p, PAGES_SIGNUP_FORM, tag, ctx, false, out, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errsz, "%s", why);
	json_decref(ctx);
	pages_free(p);
	return rc;
}

/* signup_attrs - the new contact's attributes */
void
signup_attrs(const struct signup_form *f, const char *lang, struct buf *out)
{
	json_t *o = json_object();
	if (f->name[0])
		json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "language", json_string(lang));
	char *s = json_dumps(o, JSON_COMPACT);
	buf_adds(out, s ? s : "{}");
	free(s);
	json_decref(o);
}

struct signup_mail {
	struct pages *pages;
	struct token_key *key;
	int64_t campaign_id;
	int64_t ttl; /* seconds the link works */
	char base[512];
	char list[256];
};

/* signup_mail_new - the confirmation message's fields for one campaign */
int
signup_mail_new(const struct config *cfg, const void *secret, size_t secret_len,
                int64_t campaign_id, const char *list, struct signup_mail **out, char *err,
                size_t errsz)
{
	struct signup_mail *m = xcalloc(1, sizeof(*m));
	char why[700];
	if (campaign_track_base(cfg, m->base, sizeof(m->base), why, sizeof(why)) < 0) {
		snprintf(err, errsz, "confirmation links: %s", why);
		free(m);
		return -1;
	}
	if (pages_new(cfg, &m->pages, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "the confirmation message's texts: %s", why);
		free(m);
		return -1;
	}
	m->key = token_key_new(secret, secret_len);
	m->campaign_id = campaign_id;
	m->ttl = (int64_t)(cfg->signup_expiry_hours ? cfg->signup_expiry_hours : 48) * 3600;
	snprintf(m->list, sizeof(m->list), "%s", list);
	*out = m;
	return 0;
}

/* signup_mail_free - release it */
void
signup_mail_free(struct signup_mail *m)
{
	if (m == NULL)
		return;
	pages_free(m->pages);
	token_key_free(m->key);
	free(m);
}

/* signup_mail_fields - confirm_url, list, hours and the texts in the contact's language */
void
signup_mail_fields(void *arg, json_t *ctx, int64_t contact_id, long long now)
{
	struct signup_mail *m = arg;
	char tok[TOKEN_MAX];
	token_make_expiring(m->key, TOKEN_CONFIRM, m->campaign_id, contact_id,
	                    (int64_t)now + m->ttl, tok);
	struct buf url = BUF_INIT;
	buf_printf(&url, "%s/k/%s", m->base, tok);
	json_object_set_new(ctx, "confirm_url", json_stringn(url.data, url.len));
	buf_free(&url);
	json_object_set_new(ctx, "list", json_string(m->list));
	json_object_set_new(ctx, "hours", json_integer(m->ttl / 3600));
	const char *attr = json_string_value(json_object_get(ctx, "language"));
	pages_fields(m->pages, pages_lang(m->pages, NULL, attr, NULL), ctx, false);
}
