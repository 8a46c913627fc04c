/*
 * api_lists - the API's status, lists and audit log (see api.h). Each
 * handler calls the store functions `kirim status`, `kirim lists` and
 * `kirim audit` call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"

#include "kirim/audience.h"
#include "kirim/contacts.h"
#include "kirim/store.h"
#include "kirim/store_api.h"
#include "kirim/store_dest.h"
#include "kirim/store_report.h"
#include "kirim/store_run.h"
#include "kirim/throttle.h"

/* ---- status ---------------------------------------------------------------------------- */

struct status_walk {
	json_t *items;
	int64_t now;
};

static int
status_campaign(void *arg, const struct store_run_campaign *r)
{
	struct status_walk *w = arg;
	json_array_append_new(
	    w->items,
	    json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "name",
	              api_json_text(r->name), "state", r->state, "queued", (json_int_t)r->queued,
	              "due", (json_int_t)r->due, "in_flight", (json_int_t)r->claimed, "deferred",
	              (json_int_t)r->deferred, "delivered", (json_int_t)r->delivered, "bounced",
	              (json_int_t)r->bounced, "failed", (json_int_t)r->failed, "next_due",
	              api_json_time(r->next_due), "scheduled_at", api_json_time(r->scheduled_at),
	              "reason", api_json_opt(r->reason)));
	/* Its messages still being made: how far the walk of its audience is. */
	json_object_set_new(json_array_get(w->items, json_array_size(w->items) - 1), "queueing",
	                    r->walk_upto
	                        ? json_pack("{s:I,s:I}", "contact_id", (json_int_t)r->walk_cursor,
	                                    "upto", (json_int_t)r->walk_upto)
	                        : json_null());
	return 0;
}

static int
status_dest(void *arg, const struct store_dest_state *d)
{
	struct status_walk *w = arg;
	char rate[THROTTLE_RATE_STR];
	throttle_rate_format(d->rate, rate, sizeof(rate));
	json_array_append_new(w->items,
	                      json_pack("{s:o,s:s,s:i,s:I,s:b}", "destination",
	                                api_json_text(d->name), "rate", rate, "connections",
	                                d->connections, "slowdowns", (json_int_t)d->slowdowns,
	                                "suspended", d->suspended_until > w->now));
	return 0;
}

/* GET /api/status: what `kirim status` shows, with the versions. */
void
api_status(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	struct status_walk c = {json_array(), x->now}, d = {json_array(), x->now};
	int rc = store_run_campaigns(x->s, NULL, x->now, status_campaign, &c);
	if (rc == 0)
		rc = store_dest_each(x->s, NULL, status_dest, &d);
	if (rc < 0) {
		json_decref(c.items);
		json_decref(d.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok(x, 200,
	       json_pack("{s:s,s:i,s:s,s:o,s:o}", "version", KIRIM_VERSION, "schema_version",
	                 store_schema_version(x->s), "sqlite_version", store_sqlite_version(),
	                 "campaigns", c.items, "destinations", d.items));
}

static int
stats_day(void *arg, const struct store_report_day *d)
{
	json_t **v = arg; /* [items, totals] */
	char day[16];
	time_t t = (time_t)d->day;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	json_array_append_new(v[0],
	                      json_pack("{s:s,s:I,s:I,s:I,s:I}", "day", day, "delivered",
	                                (json_int_t)d->delivered, "bounced", (json_int_t)d->bounced,
	                                "complaints", (json_int_t)d->complaints, "unsubscribes",
	                                (json_int_t)d->unsubscribes));
	static const char *const keys[] = {"delivered", "bounced", "complaints", "unsubscribes"};
	const int64_t n[] = {d->delivered, d->bounced, d->complaints, d->unsubscribes};
	for (size_t i = 0; i < 4; i++)
		json_object_set_new(
		    v[1], keys[i],
		    json_integer(json_integer_value(json_object_get(v[1], keys[i])) + n[i]));
	return 0;
}

/*
 * GET /api/stats?days=N: deliveries, bounces, complaints and unsubscribes per UTC day
 * over every campaign, the last N days (today the last of them; 30 unless given), from
 * those days' events: the dashboard's totals without a report per campaign.
 */
void
api_stats(struct api_ctx *x)
{
	static const char *const names[] = {"days", NULL};
	if (api_query_only(x, names) < 0)
		return;
	char v[16];
	int rc = api_query(x, "days", v, sizeof(v));
	if (rc < 0)
		return;
	long days = 30;
	if (rc == 0) {
		char *end;
		days = strtol(v, &end, 10);
		if (*v == '\0' || *end || days < 1 || days > 366) {
			api_fail(x, 400, "query", "days takes a number from 1 to 366, not '%s'", v);
			return;
		}
	}
	json_t *out[2] = {json_array(), json_pack("{s:i,s:i,s:i,s:i}", "delivered", 0, "bounced", 0,
	                                          "complaints", 0, "unsubscribes", 0)};
	rc = store_report_days(x->s, x->now - (days - 1) * 86400, x->now, stats_day, out);
	if (rc < 0) {
		json_decref(out[0]);
		json_decref(out[1]);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok(x, 200,
	       json_pack("{s:i,s:o,s:o}", "days", (int)days, "items", out[0], "totals", out[1]));
}

/* ---- lists ----------------------------------------------------------------------------- */

static json_t *
list_json(const struct store_list_info *l)
{
	json_t *members = l->members < 0 ? json_null() : json_integer(l->members);
	json_t *suppressed = l->suppressed < 0 ? json_null() : json_integer(l->suppressed);
	return json_pack("{s:o,s:o,s:o,s:o}", "name", api_json_text(l->name), "members", members,
	                 "suppressed", suppressed, "created_at", api_json_time(l->created_at));
}

static int
lists_row(void *arg, const struct store_list_info *l)
{
	return api_page_add(arg, list_json(l), l->name) ? 0 : 1;
}

/* GET /api/lists: by name, a page at a time; ?counts=false leaves the member counts out
 * (null), for a page that only names the lists: counting scans each list. */
void
api_lists(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", "counts", NULL};
	struct api_page p;
	bool counts;
	if (api_query_only(x, names) < 0 || api_query_bool(x, "counts", true, &counts) < 0 ||
	    api_page_start(x, &p) < 0)
		return;
	int rc = store_list_page(x->s, p.after, p.limit + 1, counts, lists_row, &p);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

/* POST /api/lists {"name"}: 201 when made, 200 when it was there (the same list). */
void
api_list_create(struct api_ctx *x)
{
	static const char *const fields[] = {"name", NULL};
	json_t *b;
	const char *name;
	if (api_body(x, false, &b) < 0)
		return;
	if (api_only(x, b, fields) < 0 || api_str(x, b, "name", &name) < 0)
		goto out;
	if (name == NULL || !contacts_list_name_ok(name)) {
		api_fail(x, 422, "invalid",
		         "'name' is required: 1 to 255 characters, no control characters");
		goto out;
	}
	int64_t id;
	bool created;
	struct store_list_info l;
	int rc = store_list_ensure(x->s, name, &id, &created);
	if (rc == 0)
		rc = store_list_get(x->s, name, &l);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	snprintf(x->resource, sizeof(x->resource), "list:%s", name);
	api_location(x, "/api/lists/", name);
	api_ok_tagged(x, created ? 201 : 200, list_json(&l));
out:
	json_decref(b);
}

/* GET /api/lists/{name} */
void
api_list_get(struct api_ctx *x)
{
	static const char *const none[] = {NULL};
	if (api_query_only(x, none) < 0)
		return;
	struct store_list_info l;
	int rc = store_list_get(x->s, x->rt->params[0], &l);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok_tagged(x, 200, list_json(&l));
}

/* DELETE /api/lists/{name}: the list and its memberships; its contacts stay. */
void
api_list_delete(struct api_ctx *x)
{
	const char *name = x->rt->params[0];
	struct store_list_info l;
	int rc = store_list_get(x->s, name, &l);
	if (rc == 0 && x->if_match) {
		json_t *cur = list_json(&l);
		char tag[API_ETAG_MAX];
		api_etag(cur, tag);
		json_decref(cur);
		if (!api_if_match(x->if_match, tag)) {
			api_fail(x, 412, "etag-mismatch",
			         "the list has changed since it was read (If-Match)");
			return;
		}
	}
	char err[512] = "";
	if (rc == 0)
		rc = audience_list_delete(x->s, name, err,
		                          sizeof(err)); /* as `kirim lists delete` */
	if (rc == AUDIENCE_E_BUSY) {
		api_fail(x, 409, "in-use", "%s", err);
		return;
	}
	if (rc < 0) {
		api_fail_store(x, rc, err[0] ? err : NULL);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "list:%s", name);
	api_ok(x, 200, json_pack("{s:o,s:b}", "name", api_json_text(name), "deleted", 1));
}

/* ---- the audit log --------------------------------------------------------------------- */

static int
audit_row(void *arg, const struct store_audit *a)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)a->id);
	return api_page_add(arg,
	                    json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:i,s:o}", "id", (json_int_t)a->id,
	                              "ts", api_json_time(a->ts), "token",
	                              api_json_text(a->token_name), "method",
	                              api_json_text(a->method), "path", api_json_text(a->path),
	                              "resource", api_json_opt(a->resource), "status", a->status,
	                              "client", api_json_text(a->client)),
	                    key)
	           ? 0
	           : 1;
}

/* GET /api/audit[?since=UNIX]: oldest first, a page at a time. */
void
api_audit(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", "since", NULL};
	struct api_page p;
	char since[32];
	if (api_query_only(x, names) < 0 || api_query(x, "since", since, sizeof(since)) < 0 ||
	    api_page_start(x, &p) < 0)
		return;
	char *end;
	long long t = since[0] ? strtoll(since, &end, 10) : 0;
	if (since[0] && (*end || t < 0)) {
		json_decref(p.items);
		api_fail(x, 400, "query", "since takes Unix seconds, not '%s'", since);
		return;
	}
	long long after = p.after[0] ? strtoll(p.after, &end, 10) : 0;
	int rc = store_audit_each(x->s, (int64_t)t, (int64_t)after, p.limit + 1, audit_row, &p);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}
