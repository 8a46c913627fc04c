/*
 * api_templates - the API's templates (see api.h): stored and read as
 * `kirim template add|list|show` does, checked, linted and rendered through
 * templates.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "kirim/proofs.h"
#include "kirim/sender.h"
#include "kirim/store.h"
#include "kirim/templates.h"
#include "kirim/tplfile.h"
#include "kirim/utf8.h"

enum { RENDER_MAX = 4 << 20 }; /* bytes of each rendered part */

static json_t *
template_json(const struct store_template *t, bool full)
{
	json_t *o = json_pack("{s:o,s:i,s:o,s:o}", "name", api_json_text(t->name), "version",
	                      t->version, "subject", api_json_text(t->subject), "created_at",
	                      api_json_time(t->created_at));
	if (full) {
		json_object_set_new(o, "text", api_json_text(t->text));
		json_object_set_new(o, "html", api_json_text(t->html));
	} else {
		json_object_set_new(o, "versions", json_integer(t->versions));
		json_object_set_new(o, "parts",
		                    json_string(t->text && t->html ? "text+html"
		                                : t->text          ? "text"
		                                                   : "html"));
	}
	return o;
}

/* A template fault as a problem: 422 with the part named. */
static void
fault_problem(struct api_ctx *x, int rc, const struct templates_fault *f)
{
	if (rc != TEMPLATES_E_INVALID && rc != TEMPLATES_E_MISSING) {
		api_fail_store(x, rc, f->msg);
		return;
	}
	if (f->part == TEMPLATES_WHOLE)
		api_fail(x, 422, "template", "%s", f->msg);
	else
		api_fail(x, 422, "template", "%s: %s", templates_part_name(f->part), f->msg);
}

struct tpl_page {
	struct api_page *p;
	const char *after;
};

static int
templates_row(void *arg, const struct store_template *t)
{
	struct tpl_page *tp = arg;
	if (strcmp(t->name, tp->after) <= 0)
		return 0;
	return api_page_add(tp->p, template_json(t, false), t->name) ? 0 : 1;
}

/* GET /api/templates: the latest version of each, by name. */
void
api_templates(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", NULL};
	struct api_page p;
	if (api_query_only(x, names) < 0 || api_page_start(x, &p) < 0)
		return;
	struct tpl_page tp = {&p, p.after};
	int rc = store_template_each(x->s, templates_row, &tp);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

/* The version asked for (?version=N; 0: the latest); -1 when answered 400. */
static int
version_query(struct api_ctx *x, int *version)
{
	char v[16];
	int rc = api_query(x, "version", v, sizeof(v));
	*version = 0;
	if (rc < 0)
		return -1;
	if (rc == 0) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*v == '\0' || *end || n < 1 || n > 1000000)
			return api_fail(x, 400, "query", "version takes a version number, not '%s'",
			                v);
		*version = (int)n;
	}
	return 0;
}

/* GET /api/templates/{name}[?version=N] */
void
api_template_get(struct api_ctx *x)
{
	static const char *const names[] = {"version", NULL};
	int version;
	if (api_query_only(x, names) < 0 || version_query(x, &version) < 0)
		return;
	struct store_template t;
	int rc = store_template_get(x->s, x->rt->params[0], version, &t);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok_tagged(x, 200, template_json(&t, true));
	store_template_clear(&t);
}

/*
 * POST /api/templates {"name", "subject", "text", "html"} or {"name",
 * "source"} (a template file's text: a Subject line, --- text, --- html):
 * a new version of name, 201; with If-Match, 412 unless the latest version is
 * still the one that ETag was given for.
 */
void
api_template_create(struct api_ctx *x)
{
	static const char *const fields[] = {"name", "subject", "text", "html", "source", NULL};
	json_t *b;
	const char *name, *subject, *text, *html, *source;
	struct tplfile src;
	memset(&src, 0, sizeof(src));
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || api_str(x, b, "name", &name) < 0 ||
	    api_str(x, b, "subject", &subject) < 0 || api_str(x, b, "text", &text) < 0 ||
	    api_str(x, b, "html", &html) < 0 || api_str(x, b, "source", &source) < 0)
		goto out;
	if (name == NULL || !templates_name_ok(name)) {
		api_fail(x, 422, "invalid", "'name' is 1 to 120 characters, no ':'");
		goto out;
	}
	if (source) {
		char err[300];
		if (subject || text || html) {
			api_fail(
			    x, 422, "invalid",
			    "give 'source' or the parts ('subject', 'text', 'html'), not both");
			goto out;
		}
		if (tplfile_parse(source, strlen(source), &src, err, sizeof(err)) < 0) {
			api_fail(x, 422, "template", "source: %s", err);
			goto out;
		}
		subject = src.subject;
		text = src.text;
		html = src.html;
	}
	/* If-Match: a new version only over the one the client read (GET's ETag); "*" when
	 * the name must exist, a tag when it must be that version still. */
	if (x->if_match) {
		struct store_template cur;
		char tag[API_ETAG_MAX] = "";
		int grc = store_template_get(x->s, name, 0, &cur);
		if (grc < 0 && grc != STORE_E_NOTFOUND) {
			api_fail_store(x, grc, NULL);
			goto out;
		}
		if (grc == 0) {
			json_t *v = template_json(&cur, true);
			api_etag(v, tag);
			json_decref(v);
			store_template_clear(&cur);
		}
		if (!api_if_match(x->if_match, grc == 0 ? tag : NULL)) {
			api_fail(x, 412, "etag-mismatch",
			         "template %s has a newer version than the one read (If-Match): "
			         "read it again",
			         name);
			goto out;
		}
	}
	int version;
	int64_t id;
	struct templates_fault f;
	int rc = templates_add(x->s, name, subject, text, html, &version, &id, &f);
	if (rc < 0) {
		fault_problem(x, rc, &f);
		goto out;
	}
	struct store_template t;
	if ((rc = store_template_get(x->s, name, version, &t)) < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	snprintf(x->resource, sizeof(x->resource), "template:%s:%d", name, version);
	api_location(x, "/api/templates/", name);
	api_ok_tagged(x, 201, template_json(&t, true));
	store_template_clear(&t);
out:
	tplfile_clear(&src);
	json_decref(b);
}

/*
 * The data a contact's message is rendered with: its attributes, and its
 * address and domain as the built-in fields email and domain. NULL (answered
 * 404 or 422) when there is no such contact.
 */
static json_t *
contact_data(struct api_ctx *x, const char *email)
{
	struct store_contact k;
	if (api_contact_read(x, email, &k) < 0)
		return NULL;
	json_t *d = json_loads(k.attrs ? k.attrs : "{}", 0, NULL);
	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
	}
	json_object_set_new(d, "email", api_json_text(k.email));
	json_object_set_new(d, "domain", api_json_text(k.domain));
	store_contact_clear(&k);
	return d;
}

/*
 * POST /api/templates/{name}/render {"data": any JSON, "version": N,
 * "contact": EMAIL, "subject", "text", "html"}: the parts rendered as a
 * message has them (no built-in fields but those given). With "contact", the
 * data is that contact's attributes, address and domain. With any of
 * "subject", "text" and "html", those parts (a draft, not saved) are rendered
 * instead of the stored version; the name need not exist yet.
 */
void
api_template_render(struct api_ctx *x)
{
	static const char *const fields[] = {"data", "version", "contact", "subject",
	                                     "text", "html",    NULL};
	json_t *b, *owned = NULL;
	const char *contact, *dsubject, *dtext, *dhtml;
	if (api_body(x, false, &b) < 0)
		return;
	json_t *data = json_object_get(b, "data"), *ver = json_object_get(b, "version");
	if (api_only(x, b, fields) < 0 || api_str(x, b, "contact", &contact) < 0 ||
	    api_str(x, b, "subject", &dsubject) < 0 || api_str(x, b, "text", &dtext) < 0 ||
	    api_str(x, b, "html", &dhtml) < 0)
		goto out;
	bool draft = dsubject || dtext || dhtml;
	if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 1)) {
		api_fail(x, 422, "invalid", "'version' is a version number");
		goto out;
	}
	if ((ver && draft) || (data && contact)) {
		api_fail(x, 422, "invalid",
		         "give a draft's parts or 'version', and 'data' or 'contact', not both");
		goto out;
	}
	if (draft && !templates_name_ok(x->rt->params[0])) {
		api_fail(x, 422, "invalid", "a template name is 1 to 120 characters, no ':'");
		goto out;
	}
	if (draft && !dtext && !dhtml) {
		api_fail(x, 422, "template", "a template has a text part, an HTML part or both");
		goto out;
	}
	if (contact && (data = owned = contact_data(x, contact)) == NULL)
		goto out;
	struct store_template t;
	memset(&t, 0, sizeof(t));
	int rc = 0;
	if (draft) {
		snprintf(t.name, sizeof(t.name), "%s", x->rt->params[0]);
		t.subject = (char *)(dsubject ? dsubject : "");
		t.text = (char *)dtext;
		t.html = (char *)dhtml;
	} else if ((rc = store_template_get(x->s, x->rt->params[0],
	                                    ver ? (int)json_integer_value(ver) : 0, &t)) < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	struct buf out[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	struct templates_fault f;
	json_t *empty = json_object();
	rc = templates_render(t.subject, t.text, t.html, data ? data : empty, RENDER_MAX, out, &f);
	json_decref(empty);
	if (rc < 0)
		fault_problem(x, rc, &f);
	else
		api_ok(x, 200,
		       json_pack("{s:o,s:i,s:o,s:o,s:o}", "name", api_json_text(t.name), "version",
		                 t.version, "subject",
		                 api_json_textn(out[0].data ? out[0].data : "", out[0].len), "text",
		                 t.text ? api_json_textn(out[1].data ? out[1].data : "", out[1].len)
		                        : json_null(),
		                 "html",
		                 t.html ? api_json_textn(out[2].data ? out[2].data : "", out[2].len)
		                        : json_null()));
	for (int i = 0; i < 3; i++)
		buf_free(&out[i]);
	if (!draft)
		store_template_clear(&t);
out:
	json_decref(owned);
	json_decref(b);
}

/* A proof's template and sender from the body's "from" and "version"; -1 when answered. */
static int
proof_req(struct api_ctx *x, json_t *b, struct proofs_req *r)
{
	json_t *ver = json_object_get(b, "version");
	memset(r, 0, sizeof(*r));
	r->template = x->rt->params[0];
	if (api_str(x, b, "from", &r->from) < 0)
		return -1;
	if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
	            json_integer_value(ver) > 1000000))
		return api_fail(x, 422, "invalid", "'version' is a version number");
	r->version = ver ? (int)json_integer_value(ver) : 0;
	return 0;
}

/* A proofs.h error as a problem. */
static void
proof_problem(struct api_ctx *x, int rc, const char *err)
{
	if (rc == PROOFS_E_INVALID)
		api_fail(x, 422, "invalid", "%s", err);
	else if (rc == PROOFS_E_SEND)
		api_fail(x, 502, "relay", "%s", err);
	else
		api_fail_store(x, rc, err);
}

/*
 * POST /api/templates/{name}/message {"to": EMAIL, "from", "version": N}: the
 * exact message a campaign from that sender would send to that address
 * (message/rfc822, as kirim preview prints it; the contact's attributes when
 * the address is one). The saved version: a draft is saved first.
 */
void
api_template_message(struct api_ctx *x)
{
	static const char *const fields[] = {"to", "from", "version", NULL};
	json_t *b;
	const char *to;
	struct proofs_req r;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || api_str(x, b, "to", &to) < 0 || proof_req(x, b, &r) < 0)
		goto out;
	char err[1024], env[ADDRESS_MAX + 1];
	struct buf msg = BUF_INIT;
	int rc = proofs_message(x->s, x->cfg, &r, to, &msg, env, err, sizeof(err));
	if (rc < 0) {
		buf_free(&msg);
		proof_problem(x, rc, err);
		goto out;
	}
	x->status = 200;
	x->raw_type = "message/rfc822";
	x->raw = msg;
out:
	json_decref(b);
}

/* One running test send at a time: each holds a read connection for as long as the relay
 * takes, and sender_run queues its own work on the thread pool the reads use. */
static int tests_running;

/*
 * POST /api/templates/{name}/test {"to": [EMAIL, ...], "from", "version": N}:
 * proofs to seed addresses through the configured relay (kirim campaign
 * test's path, proofs.h), recorded nowhere; 200 with each address's outcome.
 */
void
api_template_test(struct api_ctx *x)
{
	static const char *const fields[] = {"to", "from", "version", NULL};
	json_t *b;
	struct proofs_req r;
	const char *to[PROOFS_MAX];
	size_t nto = 0;
	if (api_body(x, false, &b) < 0)
		return;
	json_t *tj = json_object_get(b, "to");
	if (api_only(x, b, fields) < 0 || proof_req(x, b, &r) < 0)
		goto out;
	if (!json_is_array(tj) || json_array_size(tj) == 0 || json_array_size(tj) > PROOFS_MAX) {
		api_fail(x, 422, "invalid", "'to' is an array of 1 to %d seed addresses",
		         PROOFS_MAX);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(tj); i++)
		if ((to[nto++] = json_string_value(json_array_get(tj, i))) == NULL) {
			api_fail(x, 422, "invalid", "'to' is an array of addresses (strings)");
			goto out;
		}
	if (__atomic_exchange_n(&tests_running, 1, __ATOMIC_ACQ_REL)) {
		api_fail(x, 503, "busy", "another test send is running: try again in a moment");
		goto out;
	}
	struct sender_stats st;
	char err[1024] = "";
	int rc = proofs_send(x->s, x->cfg, &r, to, nto, &st, err, sizeof(err));
	__atomic_store_n(&tests_running, 0, __ATOMIC_RELEASE);
	if (rc < 0) {
		proof_problem(x, rc, err);
		goto out;
	}
	/* st.tests: one line per address, "ADDRESS OUTCOME CODE ECODE TEXT". */
	json_t *items = json_array();
	char *save = NULL;
	for (char *line = strtok_r(st.tests, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char addr[400], outcome[32], ecode[32];
		int code = 0, used = 0;
		if (sscanf(line, "%399s %31s %d %31s %n", addr, outcome, &code, ecode, &used) < 4)
			continue;
		json_array_append_new(
		    items, json_pack("{s:o,s:s,s:o,s:o,s:o}", "to", api_json_text(addr), "outcome",
		                     outcome, "code", code ? json_integer(code) : json_null(),
		                     "ecode", api_json_opt(strcmp(ecode, "-") ? ecode : ""), "text",
		                     api_json_text(line + used)));
	}
	snprintf(x->resource, sizeof(x->resource), "template:%s", r.template);
	api_ok(x, 200,
	       json_pack("{s:o,s:I,s:o}", "template", api_json_text(r.template), "delivered",
	                 (json_int_t)st.delivered, "proofs", items));
out:
	json_decref(b);
}

/* GET /api/templates/{name}/lint[?list=L&version=N]: what `kirim template lint` says. */
void
api_template_lint(struct api_ctx *x)
{
	static const char *const names[] = {"list", "version", NULL};
	char list[256];
	int version, lrc;
	if (api_query_only(x, names) < 0 || version_query(x, &version) < 0 ||
	    (lrc = api_query(x, "list", list, sizeof(list))) < 0)
		return;
	struct store_template t;
	int rc = store_template_get(x->s, x->rt->params[0], version, &t);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	struct templates_lint l;
	struct templates_fault f;
	rc = templates_lint(x->s, t.subject, t.text, t.html, lrc == 0 ? list : NULL, &l, &f);
	store_template_clear(&t);
	if (rc < 0) {
		fault_problem(x, rc, &f);
		return;
	}
	json_t *missing = json_array(), *warnings = json_array();
	for (size_t i = 0; i < l.nmissing; i++)
		json_array_append_new(
		    missing, json_pack("{s:o,s:b,s:o}", "field", api_json_text(l.missing[i].field),
		                       "has_default", l.missing[i].has_default, "suggestion",
		                       api_json_opt(l.missing[i].suggestion)));
	for (int i = 0; i < l.nwarnings; i++)
		json_array_append_new(
		    warnings, json_pack("{s:s,s:s,s:s}", "part", l.warnings[i].part, "code",
		                        l.warnings[i].code, "message", l.warnings[i].message));
	templates_lint_free(&l);
	api_ok(
	    x, 200,
	    json_pack("{s:b,s:o,s:o}", "ok", 1, "missing_fields", missing, "warnings", warnings));
}

/* Form field name of the request's urlencoded body into out (NULL when absent or bad). */
static const char *
form_field(struct api_ctx *x, const char *name, struct buf *out)
{
	struct api_route form = {.query = x->body, .query_len = x->body_len};
	buf_reset(out);
	buf_reserve(out, x->body_len + 1);
	int n = api_route_query(&form, name, out->data, x->body_len + 1);
	if (n < 0)
		return NULL;
	out->len = (size_t)n;
	return out->data;
}

/* The preview document's own policy: the message's styles and images, never a script. */
static const char preview_csp[] = "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
                                  "img-src data: https: http:; font-src data: https:; "
                                  "frame-ancestors 'self'";

/*
 * POST /console/api/preview (a form: csrf, name, subject, html, contact): the
 * HTML part of a draft rendered for a contact as the render endpoint renders it,
 * as a document for the template editor's sandboxed iframe. The console's own
 * policy would block the message's inline styles in a srcdoc or data: frame
 * (they inherit it); this answer carries a policy of its own that allows
 * styles and images and nothing else (no script, no form, an opaque origin).
 */
void
api_console_preview(struct api_ctx *x)
{
	const char *ct = x->content_type ? x->content_type : "";
	if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		api_fail(x, 415, "media-type", "the preview takes the editor's form");
		return;
	}
	struct buf f[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
	const char *html = form_field(x, "html", &f[0]);
	const char *subject = form_field(x, "subject", &f[1]);
	const char *contact = form_field(x, "contact", &f[2]);
	json_t *data = NULL;
	if (html == NULL || !utf8_valid(html, f[0].len)) {
		api_fail(x, 422, "invalid", "the preview needs the HTML part (UTF-8)");
		goto out;
	}
	if (contact && *contact) {
		if ((data = contact_data(x, contact)) == NULL)
			goto out;
	} else {
		data = json_object();
	}
	struct buf out[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	struct templates_fault fault;
	int rc =
	    templates_render(subject ? subject : "", NULL, html, data, RENDER_MAX, out, &fault);
	if (rc < 0) {
		fault_problem(x, rc, &fault);
	} else {
		x->status = 200;
		x->raw_type = "text/html; charset=utf-8";
		x->csp = preview_csp;
		buf_add(&x->raw, out[2].data ? out[2].data : "", out[2].len);
	}
	for (int i = 0; i < 3; i++)
		buf_free(&out[i]);
out:
	json_decref(data);
	for (int i = 0; i < 4; i++)
		buf_free(&f[i]);
}
