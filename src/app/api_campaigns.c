/*
 * api_campaigns - the API's campaigns (see api.h): read as `kirim campaign
 * list|show` reads them, made through campaigns.h, moved through
 * lifecycle.h as `kirim campaign schedule|pause|...` moves them, planned by
 * planner.h and reported by store_report.h and report.h, as `kirim campaign
 * plan` and `kirim report` do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "kirim/campaigns.h"
#include "kirim/config.h"
#include "kirim/lifecycle.h"
#include "kirim/planner.h"
#include "kirim/report.h"
#include "kirim/segment.h"
#include "kirim/smtp_url.h"
#include "kirim/store.h"
#include "kirim/store_report.h"

static json_t *
campaign_json(const struct store_campaign *sc)
{
	return json_pack(
	    "{s:o,s:I,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name",
	    api_json_text(sc->name), "id", (json_int_t)sc->id, "state", api_json_text(sc->state),
	    "list", api_json_text(sc->list), "template", api_json_text(sc->template_name),
	    "template_version", sc->template_version, "from_name", api_json_text(sc->from_name),
	    "from", api_json_text(sc->from_addr), "reply_to", api_json_opt(sc->reply_to), "headers",
	    api_json_parse(sc->headers ? sc->headers : "[]"), "options",
	    api_json_parse(sc->options ? sc->options : "{}"), "state_reason",
	    api_json_opt(sc->state_reason), "created_at", api_json_time(sc->created_at));
}

struct camp_page {
	struct api_page *p;
	int64_t before; /* ids below this (0: all) */
};

static int
campaigns_row(void *arg, const struct store_campaign *sc)
{
	struct camp_page *cp = arg;
	if (cp->before && sc->id >= cp->before)
		return 0;
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)sc->id);
	return api_page_add(cp->p, campaign_json(sc), key) ? 0 : 1;
}

/* GET /api/campaigns: newest first, a page at a time. */
void
api_campaigns(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", NULL};
	struct api_page p;
	if (api_query_only(x, names) < 0 || api_page_start(x, &p) < 0)
		return;
	struct camp_page cp = {&p, p.after[0] ? strtoll(p.after, NULL, 10) : 0};
	int rc = store_campaign_each(x->s, campaigns_row, &cp);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

/* GET /api/campaigns/{name} */
void
api_campaign_get(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	struct store_campaign sc;
	int rc = store_campaign_get(x->s, x->rt->params[0], &sc);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok_tagged(x, 200, campaign_json(&sc));
	store_campaign_clear(&sc);
}

enum { AUDIENCE_PARTS_MAX = 32 };

/*
 * audience_parts - the body's "audience": [{"kind": "segment", "name": "vip"}, ...], kinds
 * named as `kirim campaign create`'s options (list, segment, exclude-list,
 * exclude-segment, not-sent-by, not-opened, not-clicked); names borrowed from a
 */
static int
audience_parts(struct api_ctx *x, json_t *a, struct segment_part *parts, size_t *n)
{
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > AUDIENCE_PARTS_MAX)
		return api_fail(x, 422, "invalid",
		                "'audience' is an array of at most %d {\"kind\", \"name\"}",
		                AUDIENCE_PARTS_MAX);
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *name = json_string_value(json_object_get(o, "name"));
		if (!json_is_object(o) || json_object_size(o) != 2 || kind == NULL || name == NULL)
			return api_fail(x, 422, "invalid",
			                "'audience[%zu]' is {\"kind\", \"name\"}, both strings", i);
		int k = SEGMENT_PART_LIST;
		while (k <= SEGMENT_PART_NOT_CLICKED && strcmp(segment_part_name(k), kind) != 0)
			k++;
		if (k > SEGMENT_PART_NOT_CLICKED)
			return api_fail(x, 422, "invalid",
			                "'audience[%zu]': kind '%s' is not list, segment, "
			                "exclude-list, exclude-segment, not-sent-by, not-opened or "
			                "not-clicked",
			                i, kind);
		parts[(*n)++] =
		    (struct segment_part){.kind = (enum segment_part_kind)k, .name = name};
	}
	return 0;
}

/*
 * POST /api/campaigns {"name", "list", "audience": [{"kind", "name"}],
 * "template" (NAME or NAME:VERSION), "from", "reply_to", "headers": ["Name:
 * value"], "track_opens", "track_clicks", "unsubscribe_scope"}: a draft, 201.
 * The audience is list and then audience's parts, as `kirim campaign create
 * --list L --segment S ...` takes them.
 */
void
api_campaign_create(struct api_ctx *x)
{
	static const char *const fields[] = {
	    "name",    "list",        "audience",     "template",          "from", "reply_to",
	    "headers", "track_opens", "track_clicks", "unsubscribe_scope", NULL};
	json_t *b;
	struct campaigns_new n = {0};
	const char *headers[32];
	struct segment_part parts[AUDIENCE_PARTS_MAX];
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || api_str(x, b, "name", &n.name) < 0 ||
	    api_str(x, b, "list", &n.list) < 0 || api_str(x, b, "template", &n.tpl) < 0 ||
	    api_str(x, b, "from", &n.from) < 0 || api_str(x, b, "reply_to", &n.reply_to) < 0 ||
	    api_str(x, b, "unsubscribe_scope", &n.unsubscribe_scope) < 0 ||
	    api_bool(x, b, "track_opens", &n.track_opens) < 0 ||
	    api_bool(x, b, "track_clicks", &n.track_clicks) < 0 ||
	    audience_parts(x, json_object_get(b, "audience"), parts, &n.nparts) < 0)
		goto out;
	n.parts = parts;
	json_t *h = json_object_get(b, "headers");
	if (h && (!json_is_array(h) || json_array_size(h) > 32)) {
		api_fail(x, 422, "invalid", "'headers' is an array of at most 32 \"Name: value\"");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(h); i++) {
		if ((headers[i] = json_string_value(json_array_get(h, i))) == NULL) {
			api_fail(x, 422, "invalid",
			         "'headers' is an array of \"Name: value\" strings");
			goto out;
		}
	}
	n.headers = headers;
	n.nheaders = json_array_size(h);
	char err[800];
	int64_t id;
	int rc = campaigns_create(x->s, x->cfg, &n, &id, err, sizeof(err));
	if (rc == CAMPAIGNS_E_INVALID || rc == CAMPAIGNS_E_CONFIG || rc == STORE_E_NOTFOUND) {
		api_fail(x, 422, "invalid", "%s", err);
		goto out;
	}
	if (rc < 0) {
		api_fail_store(x, rc, err);
		goto out;
	}
	struct store_campaign sc;
	if ((rc = store_campaign_get_id(x->s, id, &sc)) < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	snprintf(x->resource, sizeof(x->resource), "campaign:%s", sc.name);
	api_location(x, "/api/campaigns/", sc.name);
	api_ok_tagged(x, 201, campaign_json(&sc));
	store_campaign_clear(&sc);
out:
	json_decref(b);
}

/* The precheck's failures, for a problem or an answer. */
static json_t *
skipped_json(const struct precheck *p)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->nshow; i++)
		json_array_append_new(a, json_pack("{s:I,s:o,s:o}", "contact_id",
		                                   (json_int_t)p->show[i].contact_id, "email",
		                                   api_json_text(p->show[i].email), "error",
		                                   api_json_text(p->show[i].why)));
	return a;
}

/*
 * POST /api/campaigns/{name}/{schedule,unschedule,pause,resume,cancel}: the
 * move `kirim campaign VERB` makes. Bodies: schedule {"at", "tz", "window",
 * "now", "skip_bad"}; pause {"reason"}; resume {"skip_bad"}; cancel
 * {"reason", "confirm"}; none for unschedule. 409 when the state does not
 * allow the move (or a cancel is not confirmed), 422 for bad values or a
 * failed precheck.
 */
void
api_campaign_move(struct api_ctx *x)
{
	static const char *const fields[] = {"at",     "tz",       "window",  "now",
	                                     "reason", "skip_bad", "confirm", NULL};
	const char *verb = strrchr(x->path, '/') + 1;
	json_t *b = NULL;
	if (x->body_len > 0 && api_body(x, false, &b) < 0)
		return;
	if (b == NULL)
		b = json_object();
	struct lifecycle_req r = {.verb = verb, .now = x->now};
	if (api_only(x, b, fields) < 0 || api_str(x, b, "at", &r.at) < 0 ||
	    api_str(x, b, "tz", &r.tz) < 0 || api_str(x, b, "window", &r.window) < 0 ||
	    api_str(x, b, "reason", &r.reason) < 0 || api_bool(x, b, "now", &r.start_now) < 0 ||
	    api_bool(x, b, "skip_bad", &r.skip_bad) < 0 ||
	    api_bool(x, b, "confirm", &r.confirm) < 0) {
		json_decref(b);
		return;
	}
	struct lifecycle_out out;
	char err[800];
	const char *name = x->rt->params[0];
	int rc = lifecycle_move(x->s, x->cfg, name, &r, &out, err, sizeof(err));
	json_decref(b);
	switch (rc) {
	case 0:
		break;
	case STORE_E_NOTFOUND:
		api_fail(x, 404, NULL, "%s", err);
		goto out;
	case STORE_LIFECYCLE_E_STATE:
		api_fail(x, 409, "state", "%s", err);
		goto out;
	case LIFECYCLE_E_CONFIRM:
		api_fail(x, 409, "confirm", "%s with {\"confirm\": true}", err);
		goto out;
	case LIFECYCLE_E_USAGE:
	case LIFECYCLE_E_INVALID:
		api_fail(x, 422, "invalid", "%s", err);
		goto out;
	case LIFECYCLE_E_IDENTITY:
		api_fail(x, 422, "identity", "%s", err);
		goto out;
	case LIFECYCLE_E_PRECHECK:
		api_fail(x, 422, "precheck", "%s", err);
		json_object_set_new(x->out, "failures", skipped_json(&out.p));
		json_object_set_new(x->out, "failed", json_integer(out.p.bad));
		goto out;
	default:
		api_fail_store(x, rc, err);
		goto out;
	}
	const struct store_lifecycle_info *li = &out.li;
	json_t *o = json_pack(
	    "{s:o,s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I}", "name", api_json_text(li->name),
	    "id", (json_int_t)li->id, "verb", verb, "from", out.from, "state",
	    api_json_text(li->state), "reason", api_json_opt(li->reason), "scheduled_at",
	    api_json_time(li->scheduled_at), "tz", api_json_opt(li->tz), "window",
	    api_json_opt(li->window), "messages", (json_int_t)li->messages, "queued",
	    (json_int_t)li->queued, "in_flight", (json_int_t)li->claimed);
	if (strcmp(verb, "cancel") == 0)
		json_object_set_new(o, "cancelled_messages", json_integer(li->cancelled));
	if (out.checked) {
		json_object_set_new(o, "recipients", json_integer(out.p.mailable - out.p.bad));
		json_object_set_new(o, "skipped", json_integer(out.p.bad));
		json_object_set_new(o, "skipped_contacts", skipped_json(&out.p));
		json_object_set_new(o, "warnings",
		                    out.p.warning[0] ? json_pack("[s]", out.p.warning)
		                                     : json_array());
	}
	snprintf(x->resource, sizeof(x->resource), "campaign:%s", li->name);
	api_ok(x, 200, o);
out:
	lifecycle_out_free(&out);
}

/*
 * GET /api/campaigns/{name}/plan[?relay=smtp://HOST:PORT|direct=true]: what
 * `kirim campaign plan --json` says (destinations, limits, ETAs). The route
 * is kirim.conf's relay unless direct; a direct plan looks the MX hosts up.
 */
void
api_campaign_plan(struct api_ctx *x)
{
	static const char *const names[] = {"relay", "direct", NULL};
	char relay[512], direct[8], where[300];
	int rrc, drc;
	if (api_query_only(x, names) < 0 ||
	    (rrc = api_query(x, "relay", relay, sizeof(relay))) < 0 ||
	    (drc = api_query(x, "direct", direct, sizeof(direct))) < 0)
		return;
	bool is_direct = drc == 0 && (strcmp(direct, "true") == 0 || strcmp(direct, "1") == 0);
	if (drc == 0 && !is_direct && strcmp(direct, "false") != 0 && strcmp(direct, "0") != 0) {
		api_fail(x, 400, "query", "direct takes true or false");
		return;
	}
	if (rrc == 0 && is_direct) {
		api_fail(x, 400, "query", "relay and direct: pick one");
		return;
	}
	struct planner_opts o = {.campaign = x->rt->params[0]};
	const char *url = rrc == 0                                       ? relay
	                  : !is_direct && x->cfg && x->cfg->relay_url[0] ? x->cfg->relay_url
	                                                                 : NULL;
	if (url) {
		struct smtp_url u;
		char uerr[256];
		if (smtp_url_parse(url, &u, uerr, sizeof(uerr)) < 0) {
			api_fail(x, 400, "query", "relay: %s", uerr);
			return;
		}
		snprintf(where, sizeof(where), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u", u.host,
		         u.port);
		o.relay = where;
	}
	if (x->cfg) {           /* the TLS policies domains publish, as kirim send applies them */
		o.cfg = x->cfg; /* and its [egress] sources: limits per source address */
		o.mta_sts = x->cfg->tls_mta_sts;
		o.dane = x->cfg->tls_dane;
		o.ca_file = x->cfg->tls_ca_file[0] ? x->cfg->tls_ca_file : NULL;
	}
	struct planner_result r;
	char err[1024] = "";
	int rc = planner_run(x->s, &o, &r, err, sizeof(err));
	if (rc < 0) {
		planner_result_free(&r);
		if (strstr(err, "no campaign"))
			api_fail(x, 404, NULL, "%s", err);
		else
			api_fail(x, rc == PLANNER_E_STORE ? 500 : 422, "plan", "%s", err);
		return;
	}
	api_ok(x, 200, planner_json(&r));
	planner_result_free(&r);
}

/*
 * GET /api/campaigns/{name}/report[?format=json|csv|html&by=...&top=N]: the
 * report `kirim report` writes; JSON (schema_version 2) unless format says.
 */
void
api_campaign_report(struct api_ctx *x)
{
	static const char *const names[] = {"format", "by", "top", NULL};
	char fmt[16], by[16], top[16];
	int frc, brc, trc;
	if (api_query_only(x, names) < 0 || (frc = api_query(x, "format", fmt, sizeof(fmt))) < 0 ||
	    (brc = api_query(x, "by", by, sizeof(by))) < 0 ||
	    (trc = api_query(x, "top", top, sizeof(top))) < 0)
		return;
	int format = frc == 0 ? report_format_parse(fmt) : REPORT_JSON;
	int byv = brc == 0 ? report_by_parse(by) : REPORT_BY_DOMAIN;
	if (format < 0 || format == REPORT_TEXT) {
		api_fail(x, 400, "query", "format takes json, csv or html");
		return;
	}
	if (byv < 0) {
		api_fail(x, 400, "query",
		         "by takes domain, destination, reason, hour, link or summary");
		return;
	}
	char *end;
	long n = trc == 0 ? strtol(top, &end, 10) : 10;
	if (trc == 0 && (*top == '\0' || *end || n < 1 || n > 100000)) {
		api_fail(x, 400, "query", "top takes a number from 1 to 100000");
		return;
	}
	struct report rep;
	struct store_report_opts ro = {.top = (int)n, .slowest = 5};
	int rc = store_report_fill(x->s, x->rt->params[0], &ro, &rep);
	if (rc < 0) {
		report_free(&rep);
		if (rc == STORE_E_NOTFOUND)
			api_fail(x, 404, NULL, "no campaign called '%s'", x->rt->params[0]);
		else
			api_fail_store(x, rc, NULL);
		return;
	}
	rep.generated_at = x->now;
	report_render(&x->raw, &rep, (enum report_format)format, (enum report_by)byv);
	report_free(&rep);
	x->raw_type = format == REPORT_JSON   ? "application/json"
	              : format == REPORT_HTML ? "text/html; charset=utf-8"
	                                      : "text/csv; charset=utf-8";
	x->status = 200;
}

enum { LOG_MAX = 64 << 20 }; /* bytes of the attempt log one answer holds */

static int
log_row(void *arg, const struct report_attempt *a)
{
	struct buf *b = arg;
	report_attempt_csv(b, a);
	return b->len > LOG_MAX ? 1 : 0;
}

/*
 * GET /api/campaigns/{name}/log: every delivery attempt as CSV, the columns
 * of `kirim log` (at most LOG_MAX bytes; a longer log is for kirim log).
 */
void
api_campaign_log(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	report_attempt_csv_header(&x->raw);
	int rc = store_report_attempts(x->s, x->rt->params[0], log_row, &x->raw);
	if (rc == STORE_E_NOTFOUND) {
		api_fail(x, 404, NULL, "no campaign called '%s'", x->rt->params[0]);
		return;
	}
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	if (rc > 0) {
		buf_free(&x->raw);
		api_fail(x, 422, "too-large",
		         "the attempt log is over %d MiB: 'kirim log %s -o FILE' writes it",
		         LOG_MAX >> 20, x->rt->params[0]);
		return;
	}
	x->raw_type = "text/csv; charset=utf-8";
	x->status = 200;
}
