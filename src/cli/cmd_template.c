/* cmd_template - `kirim template add|list|show|lint|render`. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/mustache.h"
#include "kirim/store.h"
#include "kirim/tplfile.h"
#include "kirim/xmalloc.h"

enum { TEMPLATE_MAX_FILE = 8 << 20 };

/* Fields every message has besides the recipient's attributes (see composer.h). */
static const char *const builtin_fields[] = {
    "email",    "domain", "name", "unsubscribe_url", "unsubscribe_token", "view_url",
    "campaign", "sender", NULL,
};

/*
 * check_compiles - compile one source; on error print "kirim CMD: FILE:LINE:COL: WHAT: ..."
 * with the line counted in the whole file (line0 is where the part starts; 0: not from a file).
 */
static int
check_compiles(const char *cmd, const char *file, unsigned long line0, const char *what,
               const char *src, struct mustache_tpl **out)
{
	char err[512];
	struct mustache_tpl *t = NULL;
	if (out)
		*out = NULL;
	if (src == NULL)
		return 0;
	if (mustache_compile(src, strlen(src), NULL, NULL, &t, err, sizeof(err)) == 0) {
		if (out)
			*out = t;
		else
			mustache_free(t);
		return 0;
	}
	unsigned long l, col;
	int used = 0;
	if (file && line0 && sscanf(err, "%lu:%lu: %n", &l, &col, &used) == 2 && used > 0)
		return cli_error(cmd, EX_DATAERR, "%s:%lu:%lu: %s: %s", file, line0 + l - 1, col,
		                 what, err + used);
	return cli_error(cmd, EX_DATAERR, "%s%s%s: %s", file ? file : "", file ? ": " : "", what,
	                 err);
}

static int
load_sources(const char *file, const char *subject, const char *text_file, const char *html_file,
             struct tplfile *src)
{
	char err[600];
	size_t n;
	memset(src, 0, sizeof(*src));
	if (file) {
		char *data = cli_read_file(file, TEMPLATE_MAX_FILE, &n, err, sizeof(err));
		if (data == NULL)
			return cli_error("template", EX_NOINPUT, "%s", err);
		int rc = tplfile_parse(data, n, src, err, sizeof(err));
		free(data);
		if (rc < 0)
			return cli_error("template", EX_DATAERR, "%s: %s", file, err);
	}
	if (subject) {
		free(src->subject);
		src->subject = xstrdup(subject);
	}
	if (text_file) {
		free(src->text);
		if ((src->text =
		         cli_read_file(text_file, TEMPLATE_MAX_FILE, &n, err, sizeof(err))) == NULL)
			return cli_error("template", EX_NOINPUT, "%s", err);
	}
	if (html_file) {
		free(src->html);
		if ((src->html =
		         cli_read_file(html_file, TEMPLATE_MAX_FILE, &n, err, sizeof(err))) == NULL)
			return cli_error("template", EX_NOINPUT, "%s", err);
	}
	if (src->subject == NULL || src->subject[0] == '\0')
		return cli_usage("template", "a subject is required: --subject TEXT, or a "
		                             "'Subject:' line in the template file");
	if (src->text == NULL && src->html == NULL)
		return cli_usage("template", "a body is required: --text FILE, --html FILE or a "
		                             "template file");
	for (const char *p = src->subject; *p; p++)
		if (*p == '\r' || *p == '\n')
			return cli_error("template", EX_DATAERR, "the subject is one line");
	int rc;
	if ((rc = check_compiles("template", file, src->subject_line, "subject", src->subject,
	                         NULL)) ||
	    (rc = check_compiles("template", text_file ? text_file : file,
	                         text_file ? 1 : src->text_line, "text part", src->text, NULL)) ||
	    (rc = check_compiles("template", html_file ? html_file : file,
	                         html_file ? 1 : src->html_line, "HTML part", src->html, NULL)))
		return rc;
	return 0;
}

/* Members whose columns lint reads to suggest a name for a missing field. */
enum { LINT_COLUMN_SAMPLE = 10000 };

/* Full names of the fields every message has, as suggestions for a misspelt one. */
static const char *const builtin_names[] = {
    "email",    "domain",        "name",        "unsubscribe_url", "unsubscribe_token",
    "view_url", "campaign.name", "campaign.id", "sender.name",     "sender.email",
};

struct lint {
	struct store *s;
	int64_t list_id;
	const char *list;
	struct buf names; /* NUL-separated names already reported */
	int missing;
	json_t *json; /* --json: the missing fields */
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
	if (l->s && store_list_has_field(l->s, l->list_id, field, &has) < 0)
		has = true;
	if (has)
		return;
	l->missing++;
	const char *near = lint_suggest(l, field);
	if (l->json) {
		json_array_append_new(l->json, json_pack("{s:o,s:b,s:o}", "field",
		                                         cli_json_text(field), "has_default",
		                                         (flags & MUSTACHE_FIELD_DEFAULT) != 0,
		                                         "suggestion", cli_json_opt(near)));
	} else {
		printf("field '%s': no member of list '%s' has it%s", field, l->list,
		       flags & MUSTACHE_FIELD_DEFAULT ? " (its default will be used)"
		                                      : " (it will render empty)");
		if (near)
			printf("; did you mean '%s'?", near);
		putchar('\n');
	}
}

/*
 * lint_optout - warn about a body part with no visible unsubscribe link: Gmail's and
 * Yahoo's bulk-sender rules and CAN-SPAM ask for one in the message, beyond the
 * List-Unsubscribe header kirim always writes. A warning, not an error.
 */
static int
lint_optout(const struct tplfile *src, json_t *warnings)
{
	static const char why[] = "bulk-mail rules ask for a visible opt-out in the body, "
	                          "not only the List-Unsubscribe header";
	int n = 0;
	for (int html = 0; html < 2; html++) {
		const char *part = html ? src->html : src->text;
		if (part == NULL || tplfile_optout(part, html))
			continue;
		const char *fix =
		    html ? "a link such as <a href=\"{{unsubscribe_url}}\">Unsubscribe</a>"
		         : "a line such as 'Unsubscribe: {{unsubscribe_url}}'";
		char msg[400];
		snprintf(msg, sizeof(msg), "the %s part has no unsubscribe link: %s; add %s",
		         html ? "HTML" : "text", why, fix);
		if (warnings)
			json_array_append_new(
			    warnings, json_pack("{s:s,s:s,s:s}", "part", html ? "html" : "text",
			                        "code", "no_unsubscribe_link", "message", msg));
		else
			printf("warning: %s\n", msg);
		n++;
	}
	return n;
}

static int
template_lint(struct cli *c, const char *target, const char *list)
{
	struct tplfile src;
	struct store *s = NULL;
	int rc;
	memset(&src, 0, sizeof(src));
	FILE *probe = fopen(target, "rb");
	if (probe) {
		fclose(probe);
		if ((rc = load_sources(target, NULL, NULL, NULL, &src))) {
			tplfile_clear(&src);
			return rc;
		}
	} else {
		if ((rc = cli_open(c, "template", false, &s)))
			return rc;
		struct store_template t;
		if ((rc = store_template_get(s, target, 0, &t)) < 0) {
			rc = cli_error("template", EX_DATAERR,
			               "%s is neither a file nor a stored template", target);
			store_close(s);
			return rc;
		}
		src.subject = t.subject;
		src.text = t.text;
		src.html = t.html;
	}
	struct lint l = {.list = list, .json = c->json ? json_array() : NULL};
	if (list) {
		if (s == NULL && (rc = cli_open(c, "template", false, &s)))
			goto out;
		struct store_list_info li;
		if ((rc = store_list_get(s, list, &li)) < 0) {
			rc = cli_error("template", EX_DATAERR, "%s", store_errmsg(s));
			goto out;
		}
		l.list_id = li.id;
		l.s = s;
	}
	const char *parts[3] = {src.subject, src.text, src.html};
	const char *names[3] = {"subject", "text part", "HTML part"};
	unsigned long lines[3] = {src.subject_line, src.text_line, src.html_line};
	for (int i = 0; i < 3; i++) {
		struct mustache_tpl *tpl;
		if ((rc = check_compiles("template", s ? NULL : target, lines[i], names[i],
		                         parts[i], &tpl)))
			goto out;
		if (tpl && list)
			mustache_fields(tpl, lint_field, &l);
		mustache_free(tpl);
	}
	json_t *warnings = c->json ? json_array() : NULL;
	int nwarn = lint_optout(&src, warnings);
	char ok[32] = "OK";
	if (nwarn)
		snprintf(ok, sizeof(ok), "OK (%d warning%s)", nwarn, nwarn > 1 ? "s" : "");
	if (c->json)
		cli_json_print(json_pack("{s:b,s:O,s:o}", "ok", 1, "missing_fields", l.json,
		                         "warnings", warnings));
	else if (list && l.missing == 0)
		printf("%s: the template compiles and every field it uses is in list '%s'.\n", ok,
		       list);
	else if (!list)
		printf("%s: the template compiles (give --list NAME to check its fields).\n", ok);
out:
	buf_free(&l.names);
	json_decref(l.json);
	for (size_t i = 0; i < l.ncols; i++)
		free(l.cols[i]);
	free(l.cols);
	tplfile_clear(&src);
	store_close(s);
	return rc;
}

struct render_partials {
	int n;
	char **names;
	char **texts;
};

static const char *
render_partial(void *arg, const char *name, size_t *len)
{
	struct render_partials *p = arg;
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->names[i], name) == 0) {
			*len = strlen(p->texts[i]);
			return p->texts[i];
		}
	}
	return NULL;
}

static int
template_render(struct cli *c, const char *file, const char *data, char **partials, int npartials,
                int esc)
{
	char err[600];
	size_t n;
	int rc = 0;
	char *src = cli_read_file(file, TEMPLATE_MAX_FILE, &n, err, sizeof(err));
	if (src == NULL)
		return cli_error("template", EX_NOINPUT, "%s", err);
	struct render_partials p = {0, xcalloc((size_t)npartials + 1, sizeof(char *)),
	                            xcalloc((size_t)npartials + 1, sizeof(char *))};
	json_t *ctx = NULL;
	struct mustache_tpl *tpl = NULL;
	struct buf out = BUF_INIT;
	for (int i = 0; i < npartials; i++) {
		char *eq = strchr(partials[i], '=');
		if (eq == NULL || eq == partials[i]) {
			rc = cli_usage("template", "--partial takes NAME=FILE, not '%s'",
			               partials[i]);
			goto out;
		}
		p.names[p.n] = xstrndup(partials[i], (size_t)(eq - partials[i]));
		if ((p.texts[p.n] =
		         cli_read_file(eq + 1, TEMPLATE_MAX_FILE, &n, err, sizeof(err))) == NULL) {
			free(p.names[p.n]);
			rc = cli_error("template", EX_NOINPUT, "%s", err);
			goto out;
		}
		p.n++;
	}
	if (data) {
		/* Any JSON value is a context: a string or a number is what {{.}} prints. */
		json_error_t jerr;
		ctx = strcmp(data, "-") == 0 ? json_loadf(stdin, JSON_DECODE_ANY, &jerr)
		                             : json_load_file(data, JSON_DECODE_ANY, &jerr);
		if (ctx == NULL) {
			rc = cli_error("template", EX_DATAERR, "%s:%d:%d: %s", data, jerr.line,
			               jerr.column, jerr.text);
			goto out;
		}
	} else {
		ctx = json_object();
	}
	if (mustache_compile(src, strlen(src), render_partial, &p, &tpl, err, sizeof(err)) < 0) {
		rc = cli_error("template", EX_DATAERR, "%s:%s", file, err);
		goto out;
	}
	if (mustache_render(tpl, ctx, esc, (size_t)64 << 20, &out, err, sizeof(err)) < 0) {
		rc = cli_error("template", EX_DATAERR, "%s: %s", file, err);
		goto out;
	}
	if (c->json) {
		cli_json_print(json_pack("{s:o}", "output",
		                         cli_json_textn(out.data ? out.data : "", out.len)));
	} else {
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
	}
out:
	for (int i = 0; i < p.n; i++) {
		free(p.names[i]);
		free(p.texts[i]);
	}
	free(p.names);
	free(p.texts);
	json_decref(ctx);
	mustache_free(tpl);
	buf_free(&out);
	free(src);
	return rc;
}

struct template_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

static int
template_row(void *arg, const struct store_template *t)
{
	struct template_out *o = arg;
	if (o->json) {
		json_array_append_new(
		    o->json,
		    json_pack("{s:o,s:i,s:i,s:o,s:b,s:b,s:o}", "name", cli_json_text(t->name),
		              "version", t->version, "versions", t->versions, "subject",
		              cli_json_text(t->subject), "text", t->text != NULL, "html",
		              t->html != NULL, "created_at", cli_json_time(t->created_at)));
	} else {
		if (o->n == 0)
			printf("%-24s %8s  %-10s %s\n", "TEMPLATE", "VERSION", "PARTS", "SUBJECT");
		printf("%-24s %8d  %-10s %s\n", t->name, t->version,
		       t->text && t->html ? "text+html"
		       : t->text          ? "text"
		                          : "html",
		       t->subject);
	}
	o->n++;
	return 0;
}

int
cmd_template(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"subject", required_argument, NULL, 's'}, {"text", required_argument, NULL, 't'},
	    {"html", required_argument, NULL, 'H'},    {"file", required_argument, NULL, 'f'},
	    {"list", required_argument, NULL, 'l'},    {"data", required_argument, NULL, 'd'},
	    {"partial", required_argument, NULL, 'p'}, {"escape", required_argument, NULL, 'e'},
	    {"version", required_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
	};
	const char *subject = NULL, *text = NULL, *html = NULL, *file = NULL, *list = NULL;
	const char *data = NULL;
	char **partials = xcalloc((size_t)argc + 1, sizeof(char *));
	int npartials = 0, esc = MUSTACHE_ESC_HTML, version = 0, ch, rc = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:t:H:f:l:d:p:e:V:", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			subject = optarg;
			break;
		case 't':
			text = optarg;
			break;
		case 'H':
			html = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'l':
			list = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 'p':
			partials[npartials++] = optarg;
			break;
		case 'V':
			version = atoi(optarg);
			break;
		case 'e':
			if (strcmp(optarg, "html") == 0)
				esc = MUSTACHE_ESC_HTML;
			else if (strcmp(optarg, "none") == 0)
				esc = MUSTACHE_ESC_NONE;
			else if (strcmp(optarg, "header") == 0)
				esc = MUSTACHE_ESC_HEADER;
			else
				rc = cli_usage("template", "--escape takes html, none or header");
			break;
		case ':':
			rc = cli_usage("template", "%s needs a value", argv[optind - 1]);
			break;
		default:
			rc = cli_unknown_option("template", longopts, argv[optind - 1]);
			break;
		}
		if (rc)
			goto out;
	}
	if (optind >= argc) {
		rc = cli_usage("template", "add, list, show, lint or render?");
		goto out;
	}
	const char *verb = argv[optind++];
	int nargs = argc - optind;
	if (strcmp(verb, "render") == 0) {
		if (nargs != 1) {
			rc = cli_usage("template", "render takes one template file");
			goto out;
		}
		rc = template_render(c, argv[optind], data, partials, npartials, esc);
	} else if (strcmp(verb, "lint") == 0) {
		if (nargs != 1) {
			rc = cli_usage("template", "lint takes a template file or name");
			goto out;
		}
		rc = template_lint(c, argv[optind], list);
	} else if (strcmp(verb, "add") == 0) {
		if (nargs < 1 || nargs > 2) {
			rc = cli_usage("template",
			               "add takes a name (and optionally a template file)");
			goto out;
		}
		const char *name = argv[optind];
		if (nargs == 2)
			file = argv[optind + 1];
		if (*name == '\0' || strlen(name) > 120 || strchr(name, ':')) {
			rc =
			    cli_usage("template", "a template name is 1 to 120 characters, no ':'");
			goto out;
		}
		struct tplfile src;
		if ((rc = load_sources(file, subject, text, html, &src))) {
			tplfile_clear(&src);
			goto out;
		}
		struct store *s;
		if ((rc = cli_open(c, "template", true, &s)) == 0) {
			int v;
			int64_t id;
			int r =
			    store_template_add(s, name, src.subject, src.text, src.html, &v, &id);
			if (r < 0)
				rc = cli_error("template", cli_exit_for_store(r), "%s",
				               store_errmsg(s));
			else if (c->json)
				cli_json_print(json_pack("{s:o,s:i}", "name", cli_json_text(name),
				                         "version", v));
			else
				printf("Stored template '%s' version %d.\n", name, v);
			store_close(s);
		}
		tplfile_clear(&src);
	} else if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0) {
		bool show = verb[0] == 's';
		if (nargs != (show ? 1 : 0)) {
			rc = cli_usage("template", show ? "show takes a template name"
			                                : "list takes no arguments");
			goto out;
		}
		struct store *s;
		if ((rc = cli_open(c, "template", false, &s)))
			goto out;
		if (show) {
			const char *name = argv[optind];
			struct store_template t;
			int r = store_template_get(s, name, version, &t);
			if (r < 0) {
				rc = cli_error("template", cli_exit_for_store(r), "%s",
				               store_errmsg(s));
			} else if (c->json) {
				cli_json_print(json_pack(
				    "{s:o,s:i,s:o,s:o,s:o}", "name", cli_json_text(t.name),
				    "version", t.version, "subject", cli_json_text(t.subject),
				    "text", cli_json_text(t.text), "html", cli_json_text(t.html)));
			} else {
				printf("Subject: %s\n\n", t.subject);
				if (t.text)
					printf("--- text\n%s", t.text);
				if (t.text && t.html && t.text[0] &&
				    t.text[strlen(t.text) - 1] != '\n')
					putchar('\n');
				if (t.html)
					printf("--- html\n%s", t.html);
			}
			store_template_clear(&t);
		} else {
			struct template_out o = {.json = c->json ? json_array() : NULL};
			int r = store_template_each(s, template_row, &o);
			if (r < 0)
				rc = cli_error("template", cli_exit_for_store(r), "%s",
				               store_errmsg(s));
			else if (c->json)
				cli_json_print(json_incref(o.json));
			else if (o.n == 0)
				printf("No templates yet: 'kirim template add NAME FILE' stores "
				       "one.\n");
			json_decref(o.json);
		}
		store_close(s);
	} else {
		rc = cli_usage("template",
		               "unknown subcommand '%s' (add, list, show, lint, render)", verb);
	}
out:
	free(partials);
	return rc;
}
