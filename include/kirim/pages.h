/*
 * pages - the pages kirim serve shows a subscriber (preferences and
 * unsubscribe, signup, confirmation, errors) and the texts of the
 * confirmation message: Mustache templates (templates/pages/) and
 * translations (templates/i18n/LANG.json: an object of texts, each itself a
 * Mustache template over {{brand}}, {{list}}, {{email}} and {{hours}}),
 * embedded in the binary at build time (tools/embed-files.py). [pages] dir in
 * kirim.conf names a folder whose pages/NAME.html (or .tpl) and i18n/LANG.json
 * replace or add to them; a translation that lacks a text takes the default
 * language's, then English's. The brand ([brand]) goes into every page, its
 * colour with the text colours WCAG asks for worked out once (colour.h).
 *
 * Made once (pages_new reads the folder: I/O, no logging) and read-only
 * after that: several threads may render at once (kirim serve renders in
 * libuv's thread pool).
 */
#ifndef KIRIM_PAGES_H
#define KIRIM_PAGES_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct config;
struct json_t;

/* One embedded file (tools/embed-files.py writes the table). */
struct pages_file {
	const char *name; /* "pages/layout.html", "i18n/en.json" */
	const char *data; /* NUL-terminated */
	size_t len;
};
extern const struct pages_file pages_files[];
extern const size_t pages_files_count;

enum pages_kind {
	PAGES_PREFERENCES, /* preferences.html */
	PAGES_SIGNUP,      /* signup.html */
	PAGES_SIGNUP_FORM, /* signup_form.html alone: the snippet for another site */
	PAGES_CONFIRM,     /* confirm.html */
	PAGES_ERROR,       /* error.html */
	PAGES_KIND_COUNT
};

enum { PAGES_FILE_MAX = 1 << 20 }; /* a template or translation file, at most */

struct pages;

/*
 * pages_new - load the embedded files and [pages] dir's, compile every
 * template and text, and take cfg's brand (cfg is not kept). 0, or -1 with
 * "FILE: what" in err (a template that does not compile, a translation that
 * is not an object of texts, [pages] language without a translation).
 */
int pages_new(const struct config *cfg, struct pages **out, char *err, size_t errsz);
/* pages_free - NULL is a no-op */
void pages_free(struct pages *p);

/*
 * pages_lang - the language to speak to a person in: ask (a choice made on
 * the page: ?lang= or a form's lang), else attr (the contact's "language"
 * attribute), else accept (the browser's Accept-Language), else the default
 * ([pages] language); each may be NULL, and is matched as i18n_pick does.
 * The tag returned is p's.
 */
const char *pages_lang(const struct pages *p, const char *ask, const char *attr,
                       const char *accept);
/* pages_langs - the languages there are texts for, the default first: their count, and
 * their tags into *tags (p's) */
size_t pages_langs(const struct pages *p, const char *const **tags);
/* pages_default_lang - [pages] language */
const char *pages_default_lang(const struct pages *p);

/*
 * pages_fields - add to ctx what every template reads beside the caller's own
 * fields: lang, brand (name, logo_url, url, privacy_url, address, colour,
 * on_colour, link_colour) and t (lang's texts rendered with ctx's list, email
 * and hours, and the brand's name); with lang_links also languages (each
 * language's tag and name, and which is lang) for the footer's links (a GET
 * page's: they add ?lang= to its URL).
 */
void pages_fields(const struct pages *p, const char *lang, struct json_t *ctx, bool lang_links);

/*
 * pages_render - page kind in lang, with ctx (the caller's fields, see
 * templates/pages/; pages_fields is applied to it here) into out (appended).
 * 0, or -1 with err (a render over its limits).
 */
int pages_render(const struct pages *p, enum pages_kind kind, const char *lang, struct json_t *ctx,
                 bool lang_links, struct buf *out, char *err, size_t errsz);

/*
 * pages_text - text key of lang rendered with ctx's list, email and hours and
 * the brand's name into out (replacing what it held); "" for an unknown key
 */
void pages_text(const struct pages *p, const char *lang, const char *key, const struct json_t *ctx,
                struct buf *out);

/* The confirmation message's template (pages/confirm-email.tpl): borrowed from p. */
struct pages_email {
	const char *subject, *text, *html;
};
/* pages_confirm_email - the confirmation message's template */
const struct pages_email *pages_confirm_email(const struct pages *p);

/* pages_brand_name - the name the pages give the brand ([brand] name, else [sender] domain) */
const char *pages_brand_name(const struct pages *p);

#endif
