/* campaign - composer construction and sender/header checks (see campaign.h). */
#include "kirim/campaign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/dkim.h"
#include "kirim/mime.h"
#include "kirim/signup.h"
#include "kirim/store.h"
#include "kirim/store_signup.h"
#include "kirim/xmalloc.h"

int
campaign_parse_from(const char *s, char *name, size_t namesz, char addr[ADDRESS_MAX + 1], char *err,
                    size_t errsz)
{
	const char *lt = strrchr(s, '<');
	const char *a = s, *ae = s + strlen(s);
	const char *why;
	name[0] = '\0';
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0') {
			snprintf(err, errsz, "'%s': expected \"Name <address>\"", s);
			return -1;
		}
		/*
		 * The name is kept as plain text (a quoted-string unquoted, encoded-words
		 * decoded): MIME quotes or encodes it again when it writes the From, and
		 * templates show it as {{sender.name}}. Kept quoted, it was escaped twice.
		 */
		if (mime_display_name_decode(s, (size_t)(lt - s), name, namesz, &why) < 0) {
			snprintf(err, errsz, "'%s': the display name: %s", s, why);
			return -1;
		}
		a = lt + 1;
		ae = gt;
	}
	struct address ad;
	if (address_parse(a, (size_t)(ae - a), 0, &ad, &why) < 0) {
		snprintf(err, errsz, "'%.*s' is not a usable address: %s", (int)(ae - a), a, why);
		return -1;
	}
	snprintf(addr, ADDRESS_MAX + 1, "%s", ad.email);
	return 0;
}

int
campaign_header_add(struct buf *out, const char *line, char *err, size_t errsz)
{
	const char *colon = strchr(line, ':');
	const char *why;
	if (colon == NULL) {
		snprintf(err, errsz, "header '%s': expected \"Name: value\"", line);
		return -1;
	}
	char *name = xstrndup(line, (size_t)(colon - line));
	int rc = mime_header_name_check(name, &why);
	if (rc < 0)
		snprintf(err, errsz, "header '%s': %s", name, why);
	if (rc == 0) {
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		buf_adds(out, out->len > 1 ? ",[" : "[");
		buf_json_string(out, name, strlen(name));
		buf_addc(out, ',');
		buf_json_string(out, v, strlen(v));
		buf_addc(out, ']');
	}
	free(name);
	return rc;
}

/* campaign_headers - the campaign's JSON [[name, value], ...] as mime_header pairs */
static int
campaign_headers(const char *json, struct campaign_composer *cc, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *arr = json_loads(json ? json : "[]", 0, &jerr);
	if (arr == NULL || !json_is_array(arr)) {
		snprintf(err, errsz, "the campaign's headers are not a JSON array");
		json_decref(arr);
		return -1;
	}
	size_t n = json_array_size(arr);
	cc->headers = xcalloc(n ? n : 1, sizeof(*cc->headers));
	cc->header_strings = xcalloc(n * 2 + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_t *pair = json_array_get(arr, i);
		const char *k = json_string_value(json_array_get(pair, 0));
		const char *v = json_string_value(json_array_get(pair, 1));
		if (k == NULL || v == NULL) {
			snprintf(err, errsz,
			         "the campaign's header %zu is not a [name, value] pair", i + 1);
			json_decref(arr);
			return -1;
		}
		cc->header_strings[2 * i] = xstrdup(k);
		cc->header_strings[2 * i + 1] = xstrdup(v);
		cc->headers[i].name = cc->header_strings[2 * i];
		cc->headers[i].value = cc->header_strings[2 * i + 1];
		cc->n_headers++;
	}
	json_decref(arr);
	return 0;
}

int
campaign_track_base(const struct config *cfg, char *base, size_t basesz, char *err, size_t errsz)
{
	const char *file = cfg->path[0] ? cfg->path : "kirim.conf";
	size_t n = strlen(cfg->unsub_url);
	if (n == 0) {
		snprintf(err, errsz,
		         "%s has no [unsubscribe] url: add a section \"[unsubscribe]\" with "
		         "\"url = https://mail.example.com/u/\" (the address 'kirim serve' answers "
		         "at, followed by /u/)",
		         file);
		return -1;
	}
	if (n < 4 || strcmp(cfg->unsub_url + n - 3, "/u/") != 0) {
		snprintf(err, errsz,
		         "%s's [unsubscribe] url %s is not a 'kirim serve' address: make it the "
		         "base 'kirim serve' answers at, followed by /u/ (url = "
		         "https://mail.example.com/u/)",
		         file, cfg->unsub_url);
		return -1;
	}
	snprintf(base, basesz, "%.*s", (int)(n - 3), cfg->unsub_url);
	return 0;
}

/* campaign_tracking - the campaign's track_opens/track_clicks options (o) into id */
static int
campaign_tracking(const struct store_campaign *c, const json_t *o, const struct config *cfg,
                  struct campaign_composer *cc, struct composer_identity *id, char *err,
                  size_t errsz)
{
	id->track_opens = json_is_true(json_object_get(o, "track_opens"));
	id->track_clicks = json_is_true(json_object_get(o, "track_clicks"));
	if (!id->track_opens && !id->track_clicks)
		return 0;
	char why[700];
	if (campaign_track_base(cfg, cc->track_base, sizeof(cc->track_base), why, sizeof(why)) <
	    0) {
		snprintf(err, errsz, "campaign '%s' tracks opens or clicks: %s", c->name, why);
		return -1;
	}
	id->track_base = cc->track_base;
	return 0;
}

int
campaign_secret(struct store *s, const struct config *cfg, unsigned char out[64], size_t *len,
                char *err, size_t errsz)
{
	if (cfg->secret_len) {
		memcpy(out, cfg->secret, cfg->secret_len);
		*len = cfg->secret_len;
	} else if (store_setting_get(s, "secret", out, 64, len) < 0) {
		snprintf(err, errsz, "no token secret: %s", store_errmsg(s));
		return -1;
	}
	return 0;
}

int
campaign_composer_new(struct store *s, const struct config *cfg, const struct store_campaign *c,
                      struct campaign_composer *cc, char *err, size_t errsz)
{
	struct store_template t;
	memset(cc, 0, sizeof(*cc));
	json_error_t jerr;
	json_t *opts = json_loads(c->options ? c->options : "{}", 0, &jerr);
	int rc = store_template_get_id(s, c->template_id, &t);
	if (rc < 0) {
		snprintf(err, errsz, "campaign '%s': %s", c->name, store_errmsg(s));
		json_decref(opts);
		return -1;
	}
	if (campaign_secret(s, cfg, cc->secret, &cc->secret_len, err, errsz) < 0)
		goto fail;
	if (campaign_headers(c->headers, cc, err, errsz) < 0)
		goto fail;
	cc->signers = xcalloc(cfg->n_dkim ? cfg->n_dkim : 1, sizeof(*cc->signers));
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		char e[256];
		if (dkim_signer_new(cfg->dkim[i].key, cfg->dkim[i].domain, cfg->dkim[i].selector,
		                    &cc->signers[i], e, sizeof(e)) < 0) {
			snprintf(err, errsz, "DKIM key %s: %s", cfg->dkim[i].key_file, e);
			goto fail;
		}
		cc->n_signers++;
	}
	struct composer_campaign cp = {
	    .id = c->id,
	    .name = c->name,
	    .subject = t.subject,
	    .text = t.text,
	    .html = t.html,
	    .from_name = c->from_name[0] ? c->from_name : NULL,
	    .from_addr = c->from_addr,
	    .reply_to = c->reply_to[0] ? c->reply_to : NULL,
	    .headers = cc->headers,
	    .n_headers = cc->n_headers,
	    .links = json_object_get(opts, "links"),
	};
	struct composer_identity id = {
	    .secret = cc->secret,
	    .secret_len = cc->secret_len,
	    .domain = cfg->domain,
	    .unsub_url = cfg->unsub_url,
	    .unsub_mailto = cfg->unsub_mailto,
	    .view_url = cfg->view_url,
	    .bounce_domain = cfg->bounce_domain,
	    .feedback_id = cfg->feedback_id,
	    .signers = cc->signers,
	    .n_signers = cc->n_signers,
	};
	/* A confirmation campaign's messages carry the signup's link and texts. */
	int64_t list_id;
	char list[256];
	if (store_signup_confirm_list(s, c->id, &list_id, list, sizeof(list)) == 0) {
		if (signup_mail_new(cfg, cc->secret, cc->secret_len, c->id, list, &cc->signup, err,
		                    errsz) < 0)
			goto fail;
		id.fields = signup_mail_fields;
		id.fields_arg = cc->signup;
	}
	if (campaign_tracking(c, opts, cfg, cc, &id, err, errsz) < 0 ||
	    composer_new(&cp, &id, &cc->composer, err, errsz) < 0)
		goto fail;
	store_template_clear(&t);
	json_decref(opts);
	return 0;
fail:
	store_template_clear(&t);
	json_decref(opts);
	campaign_composer_free(cc);
	return -1;
}

int
campaign_view(struct store *s, const struct config *cfg, int64_t campaign_id, int64_t contact_id,
              struct buf *out, bool *html, char *err, size_t errsz)
{
	struct store_campaign c;
	struct store_contact k;
	int rc = store_campaign_get_id(s, campaign_id, &c);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc == STORE_E_NOTFOUND ? CAMPAIGN_E_NOTFOUND : -1;
	}
	if ((rc = store_contact_get_id(s, contact_id, &k)) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_campaign_clear(&c);
		return rc == STORE_E_NOTFOUND ? CAMPAIGN_E_NOTFOUND : -1;
	}
	/* A composer each time: the template, the options and the link table as they are now. */
	struct campaign_composer cc;
	rc = campaign_composer_new(s, cfg, &c, &cc, err, errsz);
	if (rc == 0) {
		struct composer_recipient r = {
		    .contact_id = k.id, .email = k.email, .attrs = k.attrs};
		rc = composer_view(cc.composer, &r, (long long)time(NULL), out, html, err, errsz);
		campaign_composer_free(&cc);
	}
	store_contact_clear(&k);
	store_campaign_clear(&c);
	return rc < 0 ? -1 : 0;
}

void
campaign_composer_free(struct campaign_composer *cc)
{
	composer_free(cc->composer);
	signup_mail_free(cc->signup);
	for (size_t i = 0; i < cc->n_signers; i++)
		dkim_signer_free(cc->signers[i]);
	free(cc->signers);
	for (size_t i = 0; cc->header_strings && i < cc->n_headers * 2; i++)
		free(cc->header_strings[i]);
	free(cc->header_strings);
	free(cc->headers);
	memset(cc, 0, sizeof(*cc));
}
