/*
 * pages - subscriber pages and the confirmation message's texts: templates,
 * translations and the brand (see pages.h).
 */
#include "kirim/pages.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/colour.h"
#include "kirim/config.h"
#include "kirim/i18n.h"
#include "kirim/mustache.h"
#include "kirim/tplfile.h"
#include "kirim/xmalloc.h"

enum {
	LANGS_MAX = 64,        /* translations, at most */
	TEXTS_MAX = 512,       /* texts in one translation, at most */
	TEXT_OUT_MAX = 4096,   /* one rendered text, at most */
	PAGE_OUT_MAX = 1 << 20 /* one rendered page, at most */
};

/* kirim's own colour, when [brand] gives none: a blue that reads on white at 5.9:1. */
#define DEFAULT_COLOUR 0x1f5fbf

static const char *const page_names[PAGES_KIND_COUNT] = {
    [PAGES_PREFERENCES] = "pages/preferences.html",
    [PAGES_SIGNUP] = "pages/signup.html",
    [PAGES_SIGNUP_FORM] = "pages/signup_form.html",
    [PAGES_CONFIRM] = "pages/confirm.html",
    [PAGES_ERROR] = "pages/error.html",
};

/* A source file: embedded, or read from [pages] dir (then owned). */
struct src {
	char *name;
	const char *data;
	size_t len;
	char *owned;
};

struct text {
	char *key;
	struct mustache_tpl *tpl;
};

struct lang {
	char tag[I18N_TAG_MAX + 1];
	char *name; /* the language's own name ("Bahasa Indonesia"), its tag when none */
	struct text *texts;
	size_t n;
};

struct pages {
	struct mustache_tpl *tpl[PAGES_KIND_COUNT];
	struct lang langs[LANGS_MAX];
	const char *tags[LANGS_MAX];
	size_t nlangs; /* langs[0] is the default */
	json_t *brand;
	char brand_name[256];
	struct tplfile email_tpl;
	struct pages_email email;
	/* While loading. */
	struct src *srcs;
	size_t nsrcs;
};

static struct src *
src_find(struct pages *p, const char *name)
{
	for (size_t i = 0; i < p->nsrcs; i++)
		if (strcmp(p->srcs[i].name, name) == 0)
			return &p->srcs[i];
	return NULL;
}

/* Add (or replace) a source. */
static void
src_put(struct pages *p, const char *name, const char *data, size_t len, char *owned)
{
	struct src *s = src_find(p, name);
	if (s == NULL) {
		p->srcs = xrealloc(p->srcs, (p->nsrcs + 1) * sizeof(*p->srcs));
		s = &p->srcs[p->nsrcs++];
		s->name = xstrdup(name);
	} else {
		free(s->owned);
	}
	s->data = data;
	s->len = len;
	s->owned = owned;
}

static void
srcs_free(struct pages *p)
{
	for (size_t i = 0; i < p->nsrcs; i++) {
		free(p->srcs[i].name);
		free(p->srcs[i].owned);
	}
	free(p->srcs);
	p->srcs = NULL;
	p->nsrcs = 0;
}

/* Read path (a regular file, at most PAGES_FILE_MAX bytes) into a new string. */
static char *
read_small(const char *path, size_t *len, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PAGES_FILE_MAX) {
		snprintf(err, errsz, "%s: %s", path,
		         fd < 0 ? strerror(errno) : "not a regular file of 1 MiB at most");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *data = xmalloc((size_t)st.st_size + 1);
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, data + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	data[n] = '\0';
	*len = n;
	return data;
}

/* The name of a file a folder may hold: [a-z0-9_-] then one of the suffixes. */
static bool
dir_name_ok(const char *name, const char *const *suffixes)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	for (size_t i = 0; suffixes[i]; i++)
		if (n > 0 && strcmp(name + n, suffixes[i]) == 0)
			return true;
	return false;
}

/* Load DIR/sub's files with the given suffixes as "sub/NAME". 0, or -1 with err. */
static int
load_dir(struct pages *p, const char *dir, const char *sub, const char *const *suffixes, char *err,
         size_t errsz)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT
		           ? 0
		           : (snprintf(err, errsz, "%s: %s", path, strerror(errno)), -1);
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !dir_name_ok(de->d_name, suffixes))
			continue;
		char file[1500], name[300];
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		snprintf(name, sizeof(name), "%s/%s", sub, de->d_name);
		size_t len;
		char *data = read_small(file, &len, err, errsz);
		if (data == NULL)
			rc = -1;
		else
			src_put(p, name, data, len, data);
	}
	closedir(d);
	return rc;
}

/* Partials are the other pages, by their name without the folder and suffix. */
static const char *
partial(void *arg, const char *name, size_t *len)
{
	struct pages *p = arg;
	char full[300];
	snprintf(full, sizeof(full), "pages/%s.html", name);
	struct src *s = src_find(p, full);
	if (s == NULL)
		return NULL;
	*len = s->len;
	return s->data;
}

/* One translation file into a language; 0, or -1 with err. */
static int
load_lang(struct pages *p, const struct src *s, const char *tag, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *doc = json_loadb(s->data, s->len, 0, &jerr);
	if (!json_is_object(doc)) {
		snprintf(err, errsz, "%s: not a JSON object of texts (line %d: %s)", s->name,
		         jerr.line, doc ? "not an object" : jerr.text);
		json_decref(doc);
		return -1;
	}
	if (p->nlangs == LANGS_MAX || json_object_size(doc) > TEXTS_MAX) {
		snprintf(err, errsz, "%s: too many languages or texts (%d, %d at most)", s->name,
		         LANGS_MAX, TEXTS_MAX);
		json_decref(doc);
		return -1;
	}
	struct lang *l = &p->langs[p->nlangs];
	memset(l, 0, sizeof(*l));
	snprintf(l->tag, sizeof(l->tag), "%s", tag);
	l->texts = xcalloc(json_object_size(doc) + 1, sizeof(*l->texts));
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(doc, key, v)
	{
		const char *text = json_string_value(v);
		char e[300];
		if (text == NULL) {
			snprintf(err, errsz, "%s: \"%s\" is not a string", s->name, key);
			rc = -1;
			break;
		}
		if (strcmp(key, "language_name") == 0) {
			free(l->name);
			l->name = xstrdup(text);
			continue;
		}
		struct text *t = &l->texts[l->n];
		if (mustache_compile(text, strlen(text), NULL, NULL, &t->tpl, e, sizeof(e)) < 0) {
			snprintf(err, errsz, "%s: \"%s\": %s", s->name, key, e);
			rc = -1;
			break;
		}
		t->key = xstrdup(key);
		l->n++;
	}
	json_decref(doc);
	if (l->name == NULL)
		l->name = xstrdup(l->tag);
	p->nlangs++; /* freed with the rest, loaded or not */
	return rc;
}

static const struct text *
text_find(const struct lang *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->texts[i].key, key) == 0)
			return &l->texts[i];
	return NULL;
}

static const struct lang *
lang_find(const struct pages *p, const char *tag)
{
	for (size_t i = 0; i < p->nlangs; i++)
		if (strcmp(p->langs[i].tag, tag) == 0)
			return &p->langs[i];
	return NULL;
}

/* The text of key in l, else in the default language, else in English. */
static const struct text *
text_of(const struct pages *p, const struct lang *l, const char *key)
{
	const struct text *t = text_find(l, key);
	const struct lang *en;
	if (t == NULL)
		t = text_find(&p->langs[0], key);
	if (t == NULL && (en = lang_find(p, "en")) != NULL)
		t = text_find(en, key);
	return t;
}

/* The brand as the templates read it, its colours worked out for WCAG's 4.5:1. */
static void
brand_make(struct pages *p, const struct config *cfg)
{
	uint32_t rgb = DEFAULT_COLOUR;
	if (cfg->brand_colour[0])
		colour_parse(cfg->brand_colour, &rgb);
	char colour[8], on[8], link[8];
	colour_format(rgb, colour);
	colour_format(colour_text_on(rgb), on);
	colour_format(colour_readable_on(rgb, 0xffffff, 4.5), link);
	snprintf(p->brand_name, sizeof(p->brand_name), "%s",
	         cfg->brand_name[0] ? cfg->brand_name : cfg->domain);
	p->brand = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", p->brand_name,
	                     "logo_url", cfg->brand_logo_url, "url", cfg->brand_url, "privacy_url",
	                     cfg->brand_privacy_url, "address", cfg->brand_address, "colour",
	                     colour, "on_colour", on, "link_colour", link);
	if (p->brand == NULL) /* config.c took UTF-8 text only: this cannot be */
		p->brand = json_object();
}

/* Build p from its sources (loaded). 0, or -1 with err. */
static int
compile_all(struct pages *p, const char *default_lang, char *err, size_t errsz)
{
	/* Languages: the default first, then the others in file order (sorted). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->nsrcs; i++) {
			const struct src *s = &p->srcs[i];
			if (strncmp(s->name, "i18n/", 5) != 0)
				continue;
			char tag[64];
			snprintf(tag, sizeof(tag), "%.*s", (int)(strlen(s->name) - 10),
			         s->name + 5);
			if (!i18n_tag_ok(tag)) {
				snprintf(err, errsz, "%s: the name is not a language tag", s->name);
				return -1;
			}
			if ((strcmp(tag, default_lang) == 0) != (pass == 0))
				continue;
			if (load_lang(p, s, tag, err, errsz) < 0)
				return -1;
		}
		if (pass == 0 && p->nlangs == 0) {
			snprintf(err, errsz,
			         "[pages] language %s has no translation (i18n/%s.json in [pages] "
			         "dir)",
			         default_lang, default_lang);
			return -1;
		}
	}
	for (size_t i = 0; i < p->nlangs; i++)
		p->tags[i] = p->langs[i].tag;
	for (int k = 0; k < PAGES_KIND_COUNT; k++) {
		const struct src *s = src_find(p, page_names[k]);
		char e[400];
		if (s == NULL) {
			snprintf(err, errsz, "%s: missing", page_names[k]);
			return -1;
		}
		/* Pages inherit from the layout ({{<layout}}): partials are the other pages. */
		if (mustache_compile(s->data, s->len, partial, p, &p->tpl[k], e, sizeof(e)) < 0) {
			snprintf(err, errsz, "%s: %s", s->name, e);
			return -1;
		}
	}
	const struct src *s = src_find(p, "pages/confirm-email.tpl");
	char e[300];
	if (s == NULL || tplfile_parse(s->data, s->len, &p->email_tpl, e, sizeof(e)) < 0 ||
	    p->email_tpl.subject == NULL) {
		snprintf(err, errsz, "pages/confirm-email.tpl: %s",
		         s == NULL              ? "missing"
		         : p->email_tpl.subject ? e
		                                : "no Subject line");
		return -1;
	}
	p->email = (struct pages_email){p->email_tpl.subject, p->email_tpl.text, p->email_tpl.html};
	return 0;
}

/* pages_new - load, compile, take the brand */
int
pages_new(const struct config *cfg, struct pages **out, char *err, size_t errsz)
{
	struct pages *p = xcalloc(1, sizeof(*p));
	for (size_t i = 0; i < pages_files_count; i++)
		src_put(p, pages_files[i].name, pages_files[i].data, pages_files[i].len, NULL);
	static const char *const page_suffixes[] = {".html", ".tpl", NULL};
	static const char *const lang_suffixes[] = {".json", NULL};
	int rc = 0;
	if (cfg->pages_dir[0])
		rc = load_dir(p, cfg->pages_dir, "pages", page_suffixes, err, errsz) < 0 ||
		             load_dir(p, cfg->pages_dir, "i18n", lang_suffixes, err, errsz) < 0
		         ? -1
		         : 0;
	if (rc == 0)
		rc =
		    compile_all(p, cfg->pages_language[0] ? cfg->pages_language : "en", err, errsz);
	brand_make(p, cfg);
	/* The email template's strings are tplfile's; the sources are no longer needed. */
	srcs_free(p);
	if (rc < 0) {
		pages_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* pages_free - release everything */
void
pages_free(struct pages *p)
{
	if (p == NULL)
		return;
	for (int k = 0; k < PAGES_KIND_COUNT; k++)
		mustache_free(p->tpl[k]);
	for (size_t i = 0; i < p->nlangs; i++) {
		for (size_t j = 0; j < p->langs[i].n; j++) {
			free(p->langs[i].texts[j].key);
			mustache_free(p->langs[i].texts[j].tpl);
		}
		free(p->langs[i].texts);
		free(p->langs[i].name);
	}
	json_decref(p->brand);
	tplfile_clear(&p->email_tpl);
	srcs_free(p);
	free(p);
}

/* pages_lang - the language for a person */
const char *
pages_lang(const struct pages *p, const char *ask, const char *attr, const char *accept)
{
	const char *const tries[] = {ask, attr, accept};
	for (size_t i = 0; i < 3; i++) {
		int at = tries[i] && *tries[i] ? i18n_pick(tries[i], p->tags, p->nlangs) : -1;
		if (at >= 0)
			return p->tags[at];
	}
	return p->tags[0];
}

/* pages_langs - the languages */
size_t
pages_langs(const struct pages *p, const char *const **tags)
{
	*tags = p->tags;
	return p->nlangs;
}

/* pages_default_lang - the default language */
const char *
pages_default_lang(const struct pages *p)
{
	return p->tags[0];
}

/* The values the texts are rendered with: list, email, hours (from ctx) and brand. */
static json_t *
text_vars(const struct pages *p, const json_t *ctx)
{
	json_t *v = json_object();
	json_object_set_new(v, "brand", json_string(p->brand_name));
	static const char *const keys[] = {"list", "email", "hours"};
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_object_get(ctx, keys[i]);
		if (x)
			json_object_set_new(v, keys[i], json_deep_copy(x));
	}
	return v;
}

static void
render_text(const struct text *t, const json_t *vars, struct buf *out)
{
	char e[200];
	if (t == NULL ||
	    mustache_render(t->tpl, vars, MUSTACHE_ESC_NONE, TEXT_OUT_MAX, out, e, sizeof(e)) < 0)
		buf_adds(out, "");
}

/* pages_text - one text of lang */
void
pages_text(const struct pages *p, const char *lang, const char *key, const json_t *ctx,
           struct buf *out)
{
	const struct lang *l = lang_find(p, lang);
	json_t *vars = text_vars(p, ctx);
	buf_reset(out);
	render_text(text_of(p, l ? l : &p->langs[0], key), vars, out);
	json_decref(vars);
}

/* pages_fields - lang, brand, t (and languages) into ctx */
void
pages_fields(const struct pages *p, const char *lang, json_t *ctx, bool lang_links)
{
	const struct lang *l = lang_find(p, lang);
	if (l == NULL)
		l = &p->langs[0];
	json_t *vars = text_vars(p, ctx);
	json_t *t = json_object();
	struct buf b = BUF_INIT;
	/* Every key the default language has, then the language's own extras. */
	for (int pass = 0; pass < 2; pass++) {
		const struct lang *from = pass == 0 ? &p->langs[0] : l;
		for (size_t i = 0; i < from->n; i++) {
			const char *key = from->texts[i].key;
			if (json_object_get(t, key))
				continue;
			buf_reset(&b);
			render_text(text_of(p, l, key), vars, &b);
			json_object_set_new(t, key, json_stringn(b.data ? b.data : "", b.len));
		}
	}
	buf_free(&b);
	json_decref(vars);
	json_object_set_new(ctx, "t", t);
	json_object_set_new(ctx, "lang", json_string(l->tag));
	/* A copy: the brand's reference count is not shared between threads. */
	json_object_set_new(ctx, "brand", json_deep_copy(p->brand));
	if (lang_links && p->nlangs > 1) {
		json_t *arr = json_array();
		for (size_t i = 0; i < p->nlangs; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:b}", "tag",
			                                     p->langs[i].tag, "name",
			                                     p->langs[i].name, "current",
			                                     &p->langs[i] == l, "first", i == 0));
		json_object_set_new(ctx, "languages", arr);
		json_object_set_new(ctx, "lang_links", json_true());
	}
}

/* pages_render - one page */
int
pages_render(const struct pages *p, enum pages_kind kind, const char *lang, json_t *ctx,
             bool lang_links, struct buf *out, char *err, size_t errsz)
{
	pages_fields(p, lang, ctx, lang_links);
	return mustache_render(p->tpl[kind], ctx, MUSTACHE_ESC_HTML, PAGE_OUT_MAX, out, err,
	                       errsz) < 0
	           ? -1
	           : 0;
}

/* pages_confirm_email - the confirmation message's template */
const struct pages_email *
pages_confirm_email(const struct pages *p)
{
	return &p->email;
}

/* pages_brand_name - the brand's name */
const char *
pages_brand_name(const struct pages *p)
{
	return p->brand_name;
}
