/*
 * composer - one campaign's templates + identity → each recipient's message
 * bytes (see composer.h).
 */
#include "kirim/composer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pthread.h>

#include "kirim/attrs.h"
#include "kirim/buf.h"
#include "kirim/dkim.h"
#include "kirim/mime.h"
#include "kirim/mustache.h"
#include "kirim/serve_route.h"
#include "kirim/token.h"
#include "kirim/xmalloc.h"

struct composer {
	struct composer_campaign c;
	struct composer_identity id;
	char *domain; /* Message-ID domain */
	struct mustache_tpl *subject, *text, *html;
	json_t *campaign_obj; /* {"name":..,"id":..} */
	json_t *sender_obj;   /* {"name":..,"email":..} */
	struct token_key *key;
	struct buf rsubject, rtext, rhtml, msg, scratch, tracked;
	struct serve_links links; /* click tracking: one table for the campaign (root's) */
	char feedback[200];       /* Feedback-ID's value, "" for none */
	/*
	 * The composer whose compiled templates and link table this one uses: itself,
	 * or the original of a dup (composer_dup). The root's lock guards its link
	 * table and the identity's fields callback, which dups on other threads share.
	 */
	struct composer *root;
	pthread_mutex_t lock; /* root only */
};

static int
composer_compile(const char *what, const char *src, struct mustache_tpl **out, char *err,
                 size_t errsz)
{
	char e[512];
	*out = NULL;
	if (src == NULL)
		return 0;
	if (mustache_compile(src, strlen(src), NULL, NULL, out, e, sizeof(e)) < 0) {
		snprintf(err, errsz, "%s: %s", what, e);
		return -1;
	}
	return 0;
}

int
composer_new(const struct composer_campaign *c, const struct composer_identity *id,
             struct composer **out, char *err, size_t errsz)
{
	if (c->text == NULL && c->html == NULL) {
		snprintf(err, errsz, "the template has neither a text nor an HTML part");
		return -1;
	}
	const char *at = strrchr(c->from_addr, '@');
	if (at == NULL) {
		snprintf(err, errsz, "the sender address %s has no domain", c->from_addr);
		return -1;
	}
	struct composer *k = xcalloc(1, sizeof(*k));
	k->root = k;
	pthread_mutex_init(&k->lock, NULL);
	k->c = *c;
	k->c.links = NULL; /* read here, not kept */
	k->id = *id;
	size_t nl = json_array_size(c->links);
	for (size_t i = 0; i < nl && i < SERVE_LINKS_MAX; i++) {
		/* Every entry keeps its place, so the numbers stay the ones already sent. */
		const char *u = json_string_value(json_array_get(c->links, i));
		serve_links_add(&k->links, u ? u : "");
	}
	k->domain = xstrdup(id->domain && *id->domain ? id->domain : at + 1);
	if (id->feedback_id && *id->feedback_id)
		snprintf(k->feedback, sizeof(k->feedback), "%lld:kirim:%s", (long long)c->id,
		         id->feedback_id);
	k->key = token_key_new(id->secret, id->secret_len);
	if (composer_compile("subject", c->subject ? c->subject : "", &k->subject, err, errsz) <
	        0 ||
	    composer_compile("text part", c->text, &k->text, err, errsz) < 0 ||
	    composer_compile("HTML part", c->html, &k->html, err, errsz) < 0) {
		composer_free(k);
		return -1;
	}
	k->campaign_obj =
	    json_pack("{s:s, s:I}", "name", c->name ? c->name : "", "id", (json_int_t)c->id);
	k->sender_obj = json_pack("{s:s, s:s}", "name", c->from_name ? c->from_name : "", "email",
	                          c->from_addr);
	if (k->campaign_obj == NULL || k->sender_obj == NULL) {
		snprintf(err, errsz, "the campaign name or sender is not valid UTF-8");
		composer_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

int
composer_dup(const struct composer *k, struct dkim_signer *const *signers, struct composer **out)
{
	struct composer *d = xcalloc(1, sizeof(*d));
	d->root = k->root;
	d->c = k->c;
	d->id = k->id;
	d->id.signers = signers;
	d->domain = xstrdup(k->domain);
	memcpy(d->feedback, k->feedback, sizeof(d->feedback));
	/* Its own: the HMAC contexts and the JSON objects every recipient's context holds. */
	d->key = token_key_new(k->id.secret, k->id.secret_len);
	d->campaign_obj = json_deep_copy(k->campaign_obj);
	d->sender_obj = json_deep_copy(k->sender_obj);
	/* Borrowed from the root, read-only while rendering. */
	d->subject = k->subject;
	d->text = k->text;
	d->html = k->html;
	*out = d;
	return 0;
}

void
composer_free(struct composer *k)
{
	if (k == NULL)
		return;
	if (k->root == k) {
		mustache_free(k->subject);
		mustache_free(k->text);
		mustache_free(k->html);
		serve_links_free(&k->links);
		pthread_mutex_destroy(&k->lock);
	}
	json_decref(k->campaign_obj);
	json_decref(k->sender_obj);
	token_key_free(k->key);
	buf_free(&k->rsubject);
	buf_free(&k->rtext);
	buf_free(&k->rhtml);
	buf_free(&k->tracked);
	buf_free(&k->msg);
	buf_free(&k->scratch);
	free(k->domain);
	free(k);
}

static void
composer_set_str(json_t *ctx, const char *key, const char *s, size_t n)
{
	json_object_set_new_nocheck(ctx, key, json_stringn_nocheck(s, n));
}

/* composer_dotted - does key hold dots between non-empty segments ("a.b", not "a..b", ".a")? */
static bool
composer_dotted(const char *key)
{
	size_t n = strlen(key);
	return strchr(key, '.') && key[0] != '.' && key[n - 1] != '.' && !strstr(key, "..");
}

/*
 * composer_nest - a column whose name holds dots ("utm.source") is filed a
 * second time under nested objects ({"utm": {"source": ...}}), because a
 * Mustache name splits at dots: {{utm.source}} then finds it. A name with an
 * empty segment ("a..b", ".a") is left alone (no tag can name it), and so is
 * one whose place is taken: by a column named like a prefix ("utm" itself),
 * or by another dotted column ("a.b" and "a.b.c"). The flat key stays.
 */
static void
composer_nest(json_t *ctx)
{
	const char *key;
	json_t *v;
	size_t n = 0;
	json_object_foreach(ctx, key, v)
	{
		if (composer_dotted(key))
			n++;
	}
	if (n == 0)
		return;
	/* Copied first: the loop below adds keys to ctx, which foreach must not see. */
	char **keys = xcalloc(n, sizeof(*keys));
	size_t k = 0;
	json_object_foreach(ctx, key, v)
	{
		if (composer_dotted(key))
			keys[k++] = xstrdup(key);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *obj = ctx, *val = json_object_get(ctx, keys[i]);
		const char *seg = keys[i];
		for (;;) {
			const char *dot = strchr(seg, '.');
			size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
			json_t *next = json_object_getn(obj, seg, len);
			if (dot == NULL) {
				if (next == NULL)
					json_object_setn_nocheck(obj, seg, len, val);
				break;
			}
			if (next == NULL) {
				next = json_object();
				json_object_setn_new_nocheck(obj, seg, len, next);
			} else if (!json_is_object(next)) {
				break;
			}
			obj = next;
			seg = dot + 1;
		}
		free(keys[i]);
	}
	free(keys);
}

/* composer_name - the recipient's display name: "name", else "first_name last_name" */
static void
composer_name(json_t *ctx, struct buf *out)
{
	const char *name = json_string_value(json_object_get(ctx, "name"));
	buf_reset(out);
	if (name && *name) {
		buf_adds(out, name);
		return;
	}
	const char *first = json_string_value(json_object_get(ctx, "first_name"));
	const char *last = json_string_value(json_object_get(ctx, "last_name"));
	if (first && *first)
		buf_adds(out, first);
	if (last && *last) {
		if (out->len)
			buf_addc(out, ' ');
		buf_adds(out, last);
	}
}

static int
composer_part(const struct mustache_tpl *t, json_t *ctx, int esc, size_t max, struct buf *out,
              const char *what, char *err, size_t errsz)
{
	char e[400];
	buf_reset(out);
	if (t == NULL)
		return 0;
	if (mustache_render(t, ctx, esc, max, out, e, sizeof(e)) < 0) {
		snprintf(err, errsz, "%s: %s", what, e);
		return -1;
	}
	return 0;
}

size_t
composer_links(const struct composer *k, struct buf *out)
{
	struct composer *root = k->root;
	pthread_mutex_lock(&root->lock);
	if (out)
		serve_links_json(&root->links, out);
	size_t n = root->links.n;
	pthread_mutex_unlock(&root->lock);
	return n;
}

/* last_ci - the last case-insensitive occurrence of needle in the n bytes at s, or NULL */
static const char *
last_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = n >= m ? n - m + 1 : 0; i-- > 0;)
		if (strncasecmp(s + i, needle, m) == 0)
			return s + i;
	return NULL;
}

/*
 * composer_track - the rendered HTML part with its links sent through kirim
 * serve (BASE/c/TOKEN/N, kirim's own links under BASE left alone) and a 1x1
 * open pixel before </body>, as the identity asks. For the browser view
 * (view): no pixel, and a link the campaign's table does not hold yet stays
 * as written (a number given only here would point at nothing, or later at
 * another recipient's URL).
 */
static void
composer_track(struct composer *k, int64_t contact_id, bool view)
{
	const struct composer_identity *id = &k->id;
	char tok[TOKEN_MAX];
	struct buf *h = &k->rhtml, *t = &k->tracked;
	if (id->track_clicks) {
		buf_reset(t);
		token_make(k->key, TOKEN_CLICK, k->c.id, contact_id, tok);
		/* The table is the campaign's, shared with the dups: one rewrite at a time. */
		struct composer *root = k->root;
		pthread_mutex_lock(&root->lock);
		root->links.fixed = view;
		serve_links_rewrite(h->data ? h->data : "", h->len, id->track_base, tok,
		                    id->track_base, t, &root->links);
		root->links.fixed = false;
		pthread_mutex_unlock(&root->lock);
		struct buf swap = *h;
		*h = *t;
		*t = swap;
	}
	if (id->track_opens && !view) {
		token_make(k->key, TOKEN_OPEN, k->c.id, contact_id, tok);
		const char *hd = h->data ? h->data : ""; /* an empty part has no buffer yet */
		const char *end = last_ci(hd, h->len, "</body>");
		size_t at = end ? (size_t)(end - hd) : h->len;
		buf_reset(t);
		buf_add(t, hd, at);
		buf_printf(t,
		           "<img src=\"%s/o/%s.gif\" width=\"1\" height=\"1\" alt=\"\" "
		           "style=\"display:block;border:0\">",
		           id->track_base, tok);
		buf_add(t, hd + at, h->len - at);
		struct buf swap = *h;
		*h = *t;
		*t = swap;
	}
}

/*
 * composer_scratch - a NUL, then a, b and (when not NULL) c and d, appended
 * to sc; returns the offset of the string so made (never 0). Per message, so
 * no printf.
 */
static size_t
composer_scratch(struct buf *sc, const char *a, const char *b, const char *c, const char *d)
{
	buf_addc(sc, '\0');
	size_t at = sc->len;
	buf_adds(sc, a);
	buf_adds(sc, b);
	if (c)
		buf_adds(sc, c);
	if (d)
		buf_adds(sc, d);
	return at;
}

/* composer_join - a, b, c and d one after another into dst (cap bytes), cut as snprintf cuts */
static void
composer_join(char *dst, size_t cap, const char *a, const char *b, const char *c, const char *d)
{
	const char *parts[] = {a, b, c, d};
	size_t n = 0;
	for (size_t i = 0; i < 4 && n + 1 < cap; i++) {
		size_t len = strlen(parts[i]);
		if (len > cap - 1 - n)
			len = cap - 1 - n;
		memcpy(dst + n, parts[i], len);
		n += len;
	}
	dst[n] = '\0';
}

/* What composer_parts leaves in k->scratch for the message: offsets of strings, 0 for none. */
struct composer_built {
	size_t unsub_at, mailto_at, name_at;
};

/*
 * composer_parts - one recipient's context (attributes and built-in fields)
 * and the subject, text and HTML parts rendered from it into k->rsubject,
 * k->rtext and k->rhtml, tracked as composer_track says (view: for the
 * browser view). The identity's fields callback adds its own last (at now).
 * The strings the message's header takes are left in k->scratch, at b's
 * offsets. 0, or -1 with err.
 */
static int
composer_parts(struct composer *k, const struct composer_recipient *r, bool view, long long now,
               struct composer_built *b, char *err, size_t errsz)
{
	const struct composer_identity *id = &k->id;
	json_t *ctx;
	int rc = -1;
	if (attrs_parse(r->attrs ? r->attrs : "{}", &ctx) < 0) {
		snprintf(err, errsz, "the contact's attributes are not a JSON object");
		return -1;
	}

	/* Before the built-ins are set: they win over a column ("campaign.x") that nests. */
	composer_nest(ctx);

	char utok[TOKEN_MAX], ltok[TOKEN_MAX];
	size_t ulen =
	    token_make_both(k->key, TOKEN_UNSUBSCRIBE, k->c.id, r->contact_id, utok, ltok);

	/* Built-in fields. URLs are kept in scratch, one after another, NUL-separated. */
	struct buf *sc = &k->scratch;
	buf_reset(sc);
	size_t unsub_at = 0, view_at = 0, mailto_at = 0, name_at;
	if (id->unsub_url && *id->unsub_url)
		unsub_at = composer_scratch(sc, id->unsub_url, utok, NULL, NULL);
	if (id->view_url && *id->view_url) {
		char vtok[TOKEN_MAX];
		token_make(k->key, TOKEN_VIEW, k->c.id, r->contact_id, vtok);
		view_at = composer_scratch(sc, id->view_url, vtok, NULL, NULL);
	}
	if (id->bounce_domain && *id->bounce_domain)
		mailto_at = composer_scratch(sc, "mailto:u-", ltok, "@", id->bounce_domain);
	else if (id->unsub_mailto && *id->unsub_mailto)
		mailto_at = composer_scratch(sc, "mailto:", id->unsub_mailto,
		                             "?subject=unsubscribe-", utok);
	composer_set_str(ctx, "email", r->email, strlen(r->email));
	const char *at = strrchr(r->email, '@');
	composer_set_str(ctx, "domain", at ? at + 1 : "", at ? strlen(at + 1) : 0);
	composer_set_str(ctx, "unsubscribe_token", utok, ulen);
	composer_set_str(ctx, "unsubscribe_url", unsub_at ? sc->data + unsub_at : "",
	                 unsub_at ? strlen(sc->data + unsub_at) : 0);
	composer_set_str(ctx, "view_url", view_at ? sc->data + view_at : "",
	                 view_at ? strlen(sc->data + view_at) : 0);
	json_object_set_nocheck(ctx, "campaign", k->campaign_obj);
	json_object_set_nocheck(ctx, "sender", k->sender_obj);
	/* The display name goes after the URLs in scratch; it is read before scratch grows. */
	struct buf name = BUF_INIT;
	composer_name(ctx, &name);
	name_at = sc->len + 1;
	buf_addc(sc, 0);
	buf_add(sc, name.data ? name.data : "", name.len);
	buf_free(&name);
	composer_set_str(ctx, "name", sc->data + name_at, strlen(sc->data + name_at));
	if (id->fields) {
		/* Its state (a token key) is one for the campaign, shared with the dups. */
		pthread_mutex_lock(&k->root->lock);
		id->fields(id->fields_arg, ctx, r->contact_id, now);
		pthread_mutex_unlock(&k->root->lock);
	}

	if (composer_part(k->subject, ctx, MUSTACHE_ESC_HEADER, COMPOSER_MAX_SUBJECT, &k->rsubject,
	                  "subject", err, errsz) < 0 ||
	    composer_part(k->text, ctx, MUSTACHE_ESC_NONE, COMPOSER_MAX_PART, &k->rtext,
	                  "text part", err, errsz) < 0 ||
	    composer_part(k->html, ctx, MUSTACHE_ESC_HTML, COMPOSER_MAX_PART, &k->rhtml,
	                  "HTML part", err, errsz) < 0)
		goto out;

	if (k->html && id->track_base && (id->track_clicks || id->track_opens))
		composer_track(k, r->contact_id, view);
	*b = (struct composer_built){unsub_at, mailto_at, name_at};
	rc = 0;
out:
	json_decref(ctx);
	return rc;
}

/* composer_sign - the DKIM-Signature fields of msg by the n signers, timestamped now, into out
 * (out unchanged on failure) */
static int
composer_sign(struct dkim_signer *const *signers, size_t n, const char *msg, size_t len,
              long long now, struct buf *out, char *err, size_t errsz)
{
	size_t start = out->len;
	for (size_t i = 0; i < n; i++) {
		if (dkim_sign(signers[i], msg, len, (long)now, out, err, errsz) < 0) {
			out->len = start;
			if (out->data)
				out->data[start] = '\0';
			return -1;
		}
	}
	return 0;
}

int
composer_view(struct composer *k, const struct composer_recipient *r, long long now,
              struct buf *out, bool *html, char *err, size_t errsz)
{
	struct composer_built b;
	if (composer_parts(k, r, true, now, &b, err, errsz) < 0)
		return -1;
	const struct buf *part = k->html ? &k->rhtml : &k->rtext;
	buf_reset(out);
	mime_body_crlf(out, part->data ? part->data : "", part->len);
	*html = k->html != NULL;
	return 0;
}

/*
 * message_of - the mime_msg of the recipient composer_parts rendered (b), dated now;
 * msgid (TOKEN_MAX + 2 bytes) receives its Message-ID's local part. The strings
 * are borrowed from k and r until the next render.
 */
static void
message_of(struct composer *k, const struct composer_recipient *r, const struct composer_built *b,
           long long now, int tz_minutes, char *msgid, struct mime_msg *m)
{
	const char *sc = k->scratch.data;
	char mtok[TOKEN_MAX];
	token_make_lower(k->key, TOKEN_MESSAGE_ID, k->c.id, r->contact_id, mtok);
	memcpy(msgid, "k.", 2);
	memcpy(msgid + 2, mtok, strlen(mtok) + 1);
	*m = (struct mime_msg){
	    .from_name = k->c.from_name,
	    .from_addr = k->c.from_addr,
	    .to_name = sc[b->name_at] ? sc + b->name_at : NULL,
	    .to_addr = r->email,
	    .reply_to = k->c.reply_to,
	    .subject = k->rsubject.data ? k->rsubject.data : "",
	    .text = k->text ? (k->rtext.data ? k->rtext.data : "") : NULL,
	    .text_len = k->rtext.len,
	    .html = k->html ? (k->rhtml.data ? k->rhtml.data : "") : NULL,
	    .html_len = k->rhtml.len,
	    .msgid_local = msgid,
	    .domain = k->domain,
	    .list_unsub_url = b->unsub_at ? sc + b->unsub_at : NULL,
	    .list_unsub_mailto = b->mailto_at ? sc + b->mailto_at : NULL,
	    .feedback_id = k->feedback[0] ? k->feedback : NULL,
	    .date = now,
	    .tz_minutes = tz_minutes,
	    .headers = k->c.headers,
	    .n_headers = k->c.n_headers,
	};
}

int
composer_render(struct composer *k, const struct composer_recipient *r, long long now,
                int tz_minutes, struct buf *out, char envelope_from[ADDRESS_MAX + 1], char *err,
                size_t errsz)
{
	const struct composer_identity *id = &k->id;
	struct composer_built b;
	if (composer_parts(k, r, false, now, &b, err, errsz) < 0)
		return -1;
	char btok[TOKEN_MAX];
	token_make_lower(k->key, TOKEN_BOUNCE, k->c.id, r->contact_id, btok);

	char msgid[TOKEN_MAX + 2];
	struct mime_msg m;
	message_of(k, r, &b, now, tz_minutes, msgid, &m);
	if (id->n_signers == 0) {
		/* Unsigned: straight into the caller's buffer, no copy. */
		if (mime_build(&m, out, err, errsz) < 0)
			return -1;
	} else {
		/* The signatures go first, so the message is built aside and appended. */
		buf_reset(&k->msg);
		if (mime_build(&m, &k->msg, err, errsz) < 0 ||
		    composer_sign(id->signers, id->n_signers, k->msg.data, k->msg.len, now, out,
		                  err, errsz) < 0)
			return -1;
		buf_add(out, k->msg.data, k->msg.len);
	}
	if (id->bounce_domain && *id->bounce_domain)
		composer_join(envelope_from, ADDRESS_MAX + 1, "b-", btok, "@", id->bounce_domain);
	else
		composer_join(envelope_from, ADDRESS_MAX + 1, k->c.from_addr, "", "", "");
	return 0;
}

int
composer_check(struct composer *k, const struct composer_recipient *r, char *err, size_t errsz)
{
	struct composer_built b;
	if (composer_parts(k, r, false, 0, &b, err, errsz) < 0)
		return -1;
	char msgid[TOKEN_MAX + 2];
	struct mime_msg m;
	message_of(k, r, &b, 0, 0, msgid, &m);
	return mime_check(&m, err, errsz);
}
