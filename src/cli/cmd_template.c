/* cmd_template - `kirim template add|list|show|lint|render|test`. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/mustache.h"
#include "kirim/proofs.h"
#include "kirim/sender.h"
#include "kirim/store.h"
#include "kirim/templates.h"
#include "kirim/tplfile.h"
#include "kirim/xmalloc.h"

enum { TEMPLATE_MAX_FILE = 8 << 20 };

/*
 * template_fault - print what is wrong with a template (templates.h) and return the exit
 * code: a Mustache syntax error as "FILE:LINE:COL: WHAT: ..." with the line counted in
 * the whole file (line0 is where the part starts in it; file NULL: not from a file).
 */
static int
template_fault(const char *file, unsigned long line0, int rc, const struct templates_fault *f)
{
	const char *what = templates_part_name(f->part);
	if (rc != TEMPLATES_E_INVALID && rc != TEMPLATES_E_MISSING)
		return cli_error("template", cli_exit_for_store(rc), "%s", f->msg);
	if (!f->syntax)
		return cli_error("template", EX_DATAERR, "%s", f->msg);
	unsigned long l, col;
	int used = 0;
	if (file && line0 && sscanf(f->msg, "%lu:%lu: %n", &l, &col, &used) == 2 && used > 0)
		return cli_error("template", EX_DATAERR, "%s:%lu:%lu: %s: %s", file, line0 + l - 1,
		                 col, what, f->msg + used);
	return cli_error("template", EX_DATAERR, "%s%s%s: %s", file ? file : "", file ? ": " : "",
	                 what, f->msg);
}

/* Where each part of a template came from: the file and the line it starts on there. */
struct sources_at {
	const char *file[3];
	unsigned long line0[3];
};

static int
load_sources(const char *file, const char *subject, const char *text_file, const char *html_file,
             struct tplfile *src, struct sources_at *at)
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
	struct sources_at where = {
	    {file, text_file ? text_file : file, html_file ? html_file : file},
	    {src->subject_line, text_file ? 1 : src->text_line, html_file ? 1 : src->html_line}};
	if (at)
		*at = where;
	struct templates_fault f;
	int rc = templates_check(src->subject, src->text, src->html, &f);
	if (rc == TEMPLATES_E_MISSING)
		return f.part == TEMPLATES_SUBJECT
		           ? cli_usage("template", "a subject is required: --subject TEXT, or a "
		                                   "'Subject:' line in the template file")
		           : cli_usage("template",
		                       "a body is required: --text FILE, --html FILE or a "
		                       "template file");
	if (rc < 0)
		return template_fault(f.part < 3 ? where.file[f.part] : NULL,
		                      f.part < 3 ? where.line0[f.part] : 0, rc, &f);
	return 0;
}

static int
template_lint(struct cli *c, const char *target, const char *list)
{
	struct tplfile src;
	struct store *s = NULL;
	struct sources_at at = {{NULL, NULL, NULL}, {0, 0, 0}};
	int rc;
	memset(&src, 0, sizeof(src));
	FILE *probe = fopen(target, "rb");
	if (probe) {
		fclose(probe);
		if ((rc = load_sources(target, NULL, NULL, NULL, &src, &at))) {
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
	if (list && s == NULL && (rc = cli_open(c, "template", false, &s))) {
		tplfile_clear(&src);
		return rc;
	}
	struct templates_lint l;
	struct templates_fault f;
	rc = templates_lint(s, src.subject, src.text, src.html, list, &l, &f);
	if (rc == STORE_E_NOTFOUND) {
		rc = cli_error("template", EX_DATAERR, "%s", f.msg);
		goto out;
	}
	if (rc < 0) {
		rc = template_fault(f.part < 3 ? at.file[f.part] : NULL,
		                    f.part < 3 ? at.line0[f.part] : 0, rc, &f);
		goto out;
	}
	if (c->json) {
		json_t *missing = json_array(), *warnings = json_array();
		for (size_t i = 0; i < l.nmissing; i++)
			json_array_append_new(
			    missing,
			    json_pack("{s:o,s:b,s:o}", "field", cli_json_text(l.missing[i].field),
			              "has_default", l.missing[i].has_default, "suggestion",
			              cli_json_opt(l.missing[i].suggestion)));
		for (int i = 0; i < l.nwarnings; i++)
			json_array_append_new(warnings,
			                      json_pack("{s:s,s:s,s:s}", "part", l.warnings[i].part,
			                                "code", l.warnings[i].code, "message",
			                                l.warnings[i].message));
		cli_json_print(json_pack("{s:b,s:o,s:o}", "ok", 1, "missing_fields", missing,
		                         "warnings", warnings));
	} else {
		for (size_t i = 0; i < l.nmissing; i++) {
			const struct templates_missing *m = &l.missing[i];
			printf("field '%s': no member of list '%s' has it%s", m->field, list,
			       m->has_default ? " (its default will be used)"
			                      : " (it will render empty)");
			if (m->suggestion[0])
				printf("; did you mean '%s'?", m->suggestion);
			putchar('\n');
		}
		for (int i = 0; i < l.nwarnings; i++)
			printf("warning: %s\n", l.warnings[i].message);
		char ok[32] = "OK";
		if (l.nwarnings)
			snprintf(ok, sizeof(ok), "OK (%d warning%s)", l.nwarnings,
			         l.nwarnings > 1 ? "s" : "");
		if (list && l.nmissing == 0)
			printf(
			    "%s: the template compiles and every field it uses is in list '%s'.\n",
			    ok, list);
		else if (!list)
			printf(
			    "%s: the template compiles (give --list NAME to check its fields).\n",
			    ok);
	}
	templates_lint_free(&l);
out:
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

/*
 * template_test - kirim template test NAME --from SENDER --to ADDRESS...: proofs of the
 * saved version through the configured relay (proofs.h), one line per address.
 */
static int
template_test(struct cli *c, const char *name, int version, const char *from, const char *const *to,
              size_t nto)
{
	if (nto == 0 || nto > PROOFS_MAX || from == NULL)
		return cli_usage("template", "test takes --from SENDER and --to ADDRESS (1 to %d)",
		                 PROOFS_MAX);
	struct config cfg;
	struct store *s;
	int rc = cli_config(c, "template", &cfg);
	if (rc)
		return rc;
	if ((rc = cli_open(c, "template", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	struct proofs_req r = {.template = name, .version = version, .from = from};
	struct sender_stats st;
	char err[1024] = "";
	int prc = proofs_send(s, &cfg, &r, to, nto, &st, err, sizeof(err));
	store_close(s);
	config_free(&cfg);
	if (prc == PROOFS_E_INVALID)
		return cli_error("template", EX_DATAERR, "%s", err);
	if (prc == PROOFS_E_SEND)
		return cli_error("template", EX_CONFIG, "%s", err);
	if (prc < 0)
		return cli_error("template", cli_exit_for_store(prc), "%s", err);
	fputs(st.tests, stdout);
	return st.delivered == nto ? 0 : EX_UNAVAILABLE;
}

int
cmd_template(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"subject", required_argument, NULL, 's'}, {"text", required_argument, NULL, 't'},
	    {"html", required_argument, NULL, 'H'},    {"file", required_argument, NULL, 'f'},
	    {"list", required_argument, NULL, 'l'},    {"data", required_argument, NULL, 'd'},
	    {"partial", required_argument, NULL, 'p'}, {"escape", required_argument, NULL, 'e'},
	    {"version", required_argument, NULL, 'V'}, {"from", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 'T'},      {NULL, 0, NULL, 0},
	};
	const char *from = NULL;
	const char **to = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t nto = 0;
	const char *subject = NULL, *text = NULL, *html = NULL, *file = NULL, *list = NULL;
	const char *data = NULL;
	char **partials = xcalloc((size_t)argc + 1, sizeof(char *));
	int npartials = 0, esc = MUSTACHE_ESC_HTML, version = 0, ch, rc = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:t:H:f:l:d:p:e:V:F:T:", longopts, NULL)) != -1) {
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
		case 'F':
			from = optarg;
			break;
		case 'T':
			to[nto++] = optarg;
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
		rc = cli_usage("template", "add, list, show, lint, render or test?");
		goto out;
	}
	const char *verb = argv[optind++];
	int nargs = argc - optind;
	if (strcmp(verb, "test") == 0) {
		if (nargs != 1) {
			rc = cli_usage("template", "test takes one template name");
			goto out;
		}
		rc = template_test(c, argv[optind], version, from, to, nto);
	} else if (strcmp(verb, "render") == 0) {
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
		if (!templates_name_ok(name)) {
			rc =
			    cli_usage("template", "a template name is 1 to 120 characters, no ':'");
			goto out;
		}
		struct tplfile src;
		struct sources_at at;
		if ((rc = load_sources(file, subject, text, html, &src, &at))) {
			tplfile_clear(&src);
			goto out;
		}
		struct store *s;
		if ((rc = cli_open_any(c, "template", true, &s)) == 0) {
			int v;
			int64_t id;
			struct templates_fault f;
			int r =
			    templates_add(s, name, src.subject, src.text, src.html, &v, &id, &f);
			if (r < 0)
				rc = template_fault(f.part < 3 ? at.file[f.part] : NULL,
				                    f.part < 3 ? at.line0[f.part] : 0, r, &f);
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
		if ((rc = cli_open_any(c, "template", false, &s)))
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
		               "unknown subcommand '%s' (add, list, show, lint, render, test)",
		               verb);
	}
out:
	free(partials);
	free(to);
	return rc;
}
