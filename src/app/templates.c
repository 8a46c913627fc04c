/*
 * templates - checks, storage, lint and rendering of templates (see
 * templates.h). The lint reads the members of a list for its suggestions.
 */
#include "kirim/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/mustache.h"
#include "kirim/store.h"
#include "kirim/tplfile.h"
#include "kirim/xmalloc.h"

/* Fields every message has besides the recipient's attributes (see composer.h). */
static const char *const builtin_fields[] = {
    "email",    "domain", "name", "unsubscribe_url", "unsubscribe_token", "view_url",
    "campaign", "sender", NULL,
};

/* Full names of the fields every message has, as suggestions for a misspelt one. */
static const char *const builtin_names[] = {
    "email",    "domain",        "name",        "unsubscribe_url", "unsubscribe_token",
    "view_url", "campaign.name", "campaign.id", "sender.name",     "sender.email",
};

/* Members whose columns lint reads to suggest a name for a missing field. */
enum { LINT_COLUMN_SAMPLE = 10000 };

const char *
templates_part_name(enum templates_part p)
{
	static const char *const names[] = {"subject", "text part", "HTML part", "template"};
	return names[p];
}

bool
templates_name_ok(const char *name)
{
	return *name && strlen(name) <= 120 && strchr(name, ':') == NULL;
}

static int
fault(struct templates_fault *f, int rc, enum templates_part part, bool syntax, const char *fmt,
      const char *arg)
{
	f->part = part;
	f->syntax = syntax;
	snprintf(f->msg, sizeof(f->msg), fmt, arg);
	return rc;
}

/* Compile one part (NULL: none, *out NULL); TEMPLATES_E_INVALID with *f when it does not. */
static int
compile(enum templates_part part, const char *src, struct mustache_tpl **out,
        struct templates_fault *f)
{
	char err[480];
	*out = NULL;
	if (src == NULL)
		return 0;
	if (mustache_compile(src, strlen(src), NULL, NULL, out, err, sizeof(err)) == 0)
		return 0;
	return fault(f, TEMPLATES_E_INVALID, part, true, "%s", err);
}

int
templates_check(const char *subject, const char *text, const char *html, struct templates_fault *f)
{
	if (subject == NULL || subject[0] == '\0')
		return fault(f, TEMPLATES_E_MISSING, TEMPLATES_SUBJECT, false, "%s",
		             "a subject is required");
	if (text == NULL && html == NULL)
		return fault(f, TEMPLATES_E_MISSING, TEMPLATES_WHOLE, false, "%s",
		             "a body is required: a text part, an HTML part or both");
	if (strpbrk(subject, "\r\n"))
		return fault(f, TEMPLATES_E_INVALID, TEMPLATES_SUBJECT, false, "%s",
		             "the subject is one line");
	const char *parts[3] = {subject, text, html};
	for (int i = 0; i < 3; i++) {
		struct mustache_tpl *t;
		int rc = compile((enum templates_part)i, parts[i], &t, f);
		mustache_free(t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
templates_add(struct store *s, const char *name, const char *subject, const char *text,
              const char *html, int *version, int64_t *id, struct templates_fault *f)
{
	if (!templates_name_ok(name))
		return fault(f, TEMPLATES_E_INVALID, TEMPLATES_WHOLE, false, "%s",
		             "a template name is 1 to 120 characters, no ':'");
	int rc = templates_check(subject, text, html, f);
	if (rc < 0)
		return rc;
	if ((rc = store_template_add(s, name, subject, text, html, version, id)) < 0)
		fault(f, rc, TEMPLATES_WHOLE, false, "%s", store_errmsg(s));
	return rc;
}

/* ---- lint ------------------------------------------------------------------------------ */

struct lint {
	struct store *s;
	int64_t list_id;
	const char *list;
	struct templates_lint *out;
	struct buf names; /* NUL-separated names already reported */
	/* Suggestions: the builtin names, then the columns seen in the list, read once. */
	char **cols;
	size_t ncols, capcols;
	bool cols_read;
};

static void
lint_add_column(struct lint *l, const char *name)
{
	for (size_t i = 0; i < l->ncols; i++)
		if (strcmp(l->cols[i], name) == 0)
			return;
	if (l->ncols == l->capcols) {
		l->capcols = l->capcols ? l->capcols * 2 : 32;
		l->cols = xrealloc(l->cols, l->capcols * sizeof(*l->cols));
	}
	l->cols[l->ncols++] = xstrdup(name);
}

static int
lint_member(void *arg, const struct store_contact *ct)
{
	struct lint *l = arg;
	json_error_t jerr;
	json_t *attrs = json_loads(ct->attrs ? ct->attrs : "{}", 0, &jerr);
	const char *key;
	json_t *v;
	json_object_foreach(attrs, key, v)
	{
		lint_add_column(l, key);
	}
	json_decref(attrs);
	return 0;
}

/*
 * lint_suggest - the column (or built-in field) a missing field most likely meant, or
 * NULL. Columns come from the attributes of the list's first LINT_COLUMN_SAMPLE members
 * (by address), read at the first missing field.
 */
static const char *
lint_suggest(struct lint *l, const char *field)
{
	if (!l->cols_read) {
		l->cols_read = true;
		for (size_t i = 0; i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++)
			lint_add_column(l, builtin_names[i]);
		/* A failed read only costs the suggestion. */
		(void)store_contact_search(l->s, "@", l->list, LINT_COLUMN_SAMPLE, lint_member, l);
	}
	long i = tplfile_nearest(field, (const char *const *)l->cols, l->ncols);
	return i < 0 ? NULL : l->cols[i];
}

static void
lint_field(void *arg, const char *name, size_t len, unsigned flags)
{
	struct lint *l = arg;
	char field[256];
	snprintf(field, sizeof(field), "%.*s", (int)(len > 255 ? 255 : len), name);
	/* {{campaign.name}}: the built-ins are known by their first segment. */
	size_t first = strcspn(field, ".");
	for (const char *const *b = builtin_fields; *b; b++)
		if (strlen(*b) == first && strncmp(*b, field, first) == 0)
			return;
	/* The same name in subject, text and HTML is reported once. */
	for (size_t at = 0; at < l->names.len; at += strlen(l->names.data + at) + 1)
		if (strcmp(l->names.data + at, field) == 0)
			return;
	buf_add(&l->names, field, strlen(field) + 1);
	if (flags & MUSTACHE_FIELD_NESTED)
		return; /* may be a key of a section's item */
	/*
	 * Columns are flat: a dotted name is a column named with the dots (the composer
	 * files "utm.source" under {"utm": {"source": ...}} too).
	 */
	bool has = true;
	if (store_list_has_field(l->s, l->list_id, field, &has) < 0)
		has = true;
	if (has)
		return;
	const char *near = lint_suggest(l, field);
	struct templates_lint *o = l->out;
	o->missing = xrealloc(o->missing, (o->nmissing + 1) * sizeof(*o->missing));
	struct templates_missing *m = &o->missing[o->nmissing++];
	snprintf(m->field, sizeof(m->field), "%s", field);
	m->has_default = (flags & MUSTACHE_FIELD_DEFAULT) != 0;
	snprintf(m->suggestion, sizeof(m->suggestion), "%s", near ? near : "");
}

/*
 * lint_optout - warn about a body part with no visible unsubscribe link: Gmail's and
 * Yahoo's bulk-sender rules and CAN-SPAM ask for one in the message, beyond the
 * List-Unsubscribe header kirim always writes. A warning, not an error.
 */
static void
lint_optout(const char *text, const char *html, struct templates_lint *o)
{
	static const char why[] = "bulk-mail rules ask for a visible opt-out in the body, "
	                          "not only the List-Unsubscribe header";
	for (int h = 0; h < 2; h++) {
		const char *part = h ? html : text;
		if (part == NULL || tplfile_optout(part, h))
			continue;
		const char *fix =
		    h ? "a link such as <a href=\"{{unsubscribe_url}}\">Unsubscribe</a>"
		      : "a line such as 'Unsubscribe: {{unsubscribe_url}}'";
		struct templates_warning *w = &o->warnings[o->nwarnings++];
		w->part = h ? "html" : "text";
		w->code = "no_unsubscribe_link";
		snprintf(w->message, sizeof(w->message),
		         "the %s part has no unsubscribe link: %s; add %s", h ? "HTML" : "text",
		         why, fix);
	}
}

int
templates_lint(struct store *s, const char *subject, const char *text, const char *html,
               const char *list, struct templates_lint *out, struct templates_fault *f)
{
	memset(out, 0, sizeof(*out));
	struct lint l = {.s = s, .list = list, .out = out};
	int rc = 0;
	if (list) {
		if ((rc = store_list_id(s, list, &l.list_id)) < 0) {
			fault(f, rc, TEMPLATES_WHOLE, false, "%s", store_errmsg(s));
			return rc;
		}
	}
	const char *parts[3] = {subject, text, html};
	for (int i = 0; i < 3 && rc == 0; i++) {
		struct mustache_tpl *tpl;
		rc = compile((enum templates_part)i, parts[i], &tpl, f);
		if (tpl && list)
			mustache_fields(tpl, lint_field, &l);
		mustache_free(tpl);
	}
	if (rc == 0)
		lint_optout(text, html, out);
	buf_free(&l.names);
	for (size_t i = 0; i < l.ncols; i++)
		free(l.cols[i]);
	free(l.cols);
	if (rc < 0)
		templates_lint_free(out);
	return rc;
}

void
templates_lint_free(struct templates_lint *l)
{
	free(l->missing);
	memset(l, 0, sizeof(*l));
}

/* ---- render ---------------------------------------------------------------------------- */

int
templates_render(const char *subject, const char *text, const char *html, const json_t *data,
                 size_t max, struct buf *out, struct templates_fault *f)
{
	const char *parts[3] = {subject, text, html};
	static const int esc[3] = {MUSTACHE_ESC_HEADER, MUSTACHE_ESC_NONE, MUSTACHE_ESC_HTML};
	for (int i = 0; i < 3; i++) {
		struct mustache_tpl *t;
		char err[480];
		int rc = compile((enum templates_part)i, parts[i], &t, f);
		if (rc < 0)
			return rc;
		if (t && mustache_render(t, data, esc[i], max, &out[i], err, sizeof(err)) < 0) {
			mustache_free(t);
			return fault(f, TEMPLATES_E_INVALID, (enum templates_part)i, false, "%s",
			             err);
		}
		mustache_free(t);
	}
	return 0;
}
