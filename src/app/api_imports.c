/*
 * api_imports - CSV imports and webhooks through the API (see api.h): the body is the
 * file `kirim import` reads, imported in the background by importer.h with
 * the same checks, its progress at /api/imports/ID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api_int.h"
#include "kirim/contacts.h"
#include "kirim/store_webhook.h"
#include "kirim/webhooks.h"

/*
 * POST /api/imports?list=NAME[&update=true&email_column=&delimiter=&encoding=]
 * with the CSV as the body (text/csv): 202 with the job; it runs when the
 * imports queued before it have.
 */
void
api_import_start(struct api_ctx *x)
{
	static const char *const names[] = {"list",      "update",   "email_column",
	                                    "delimiter", "encoding", NULL};
	char list[256], update[8], column[128], delim[8], enc[48];
	int lrc, urc, crc, drc, erc;
	if (api_query_only(x, names) < 0 || (lrc = api_query(x, "list", list, sizeof(list))) < 0 ||
	    (urc = api_query(x, "update", update, sizeof(update))) < 0 ||
	    (crc = api_query(x, "email_column", column, sizeof(column))) < 0 ||
	    (drc = api_query(x, "delimiter", delim, sizeof(delim))) < 0 ||
	    (erc = api_query(x, "encoding", enc, sizeof(enc))) < 0)
		return;
	if (lrc != 0 || !contacts_list_name_ok(list)) {
		api_fail(x, 400, "query", "list= names the list to import into");
		return;
	}
	struct api_import_opts o = {.list = list,
	                            .email_column = crc == 0 ? column : NULL,
	                            .encoding = erc == 0 ? enc : NULL};
	if (urc == 0 && strcmp(update, "true") != 0 && strcmp(update, "false") != 0) {
		api_fail(x, 400, "query", "update takes true or false");
		return;
	}
	o.update = urc == 0 && strcmp(update, "true") == 0;
	if (drc == 0) {
		if (strcmp(delim, ",") == 0 || strcmp(delim, ";") == 0)
			o.delimiter = delim[0];
		else if (strcasecmp(delim, "tab") == 0)
			o.delimiter = '\t';
		else {
			api_fail(x, 400, "query", "delimiter takes ',' ';' or 'tab'");
			return;
		}
	}
	const char *ct = x->content_type ? x->content_type : "";
	size_t tl = strcspn(ct, "; \t");
	if (!((tl == 8 && strncasecmp(ct, "text/csv", 8) == 0) ||
	      (tl == 10 && strncasecmp(ct, "text/plain", 10) == 0) ||
	      (tl == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0))) {
		api_fail(x, 415, "media-type", "the body is the CSV file: Content-Type: text/csv");
		return;
	}
	if (x->body_len == 0) {
		api_fail(x, 422, "invalid", "the body is empty: send the CSV file");
		return;
	}
	const char *dir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/kirim-import-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	size_t off = 0;
	while (fd >= 0 && off < x->body_len) {
		ssize_t w = write(fd, x->body + off, x->body_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (fd < 0 || off < x->body_len || close(fd) < 0) {
		if (fd >= 0)
			unlink(path);
		api_fail(x, 503, "busy", "the upload could not be kept: %s", strerror(errno));
		return;
	}
	int64_t id = api_import_queue(x->api, path, &o);
	if (id < 0) {
		unlink(path);
		api_fail(x, 503, "busy", "%d imports are waiting already: try again later",
		         API_IMPORTS_WAITING);
		return;
	}
	char sid[32];
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	snprintf(x->resource, sizeof(x->resource), "import:%lld list:%s", (long long)id, list);
	api_location(x, "/api/imports/", sid);
	api_ok(x, 202, api_import_json(x->api, id));
}

/* GET /api/imports/{id}: the job's state, its progress and, when done, its summary. */
void
api_import_get(struct api_ctx *x)
{
	char *end;
	long long id = strtoll(x->rt->params[0], &end, 10);
	json_t *o = *end == '\0' && id > 0 ? api_import_json(x->api, id) : NULL;
	if (o == NULL) {
		api_fail(x, 404, NULL, "no import %s (imports are kept while kirim serve runs)",
		         x->rt->params[0]);
		return;
	}
	api_ok(x, 200, o);
}

/* ---- webhooks (webhooks.h): the API's face of `kirim webhooks` ------------------------- */

/* A webhook without its secret (it is never read back). */
static json_t *
webhook_json(const struct store_webhook *w)
{
	return json_pack(
	    "{s:I,s:o,s:o,s:o,s:I,s:I,s:I,s:i,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)w->id, "url",
	    api_json_text(w->url), "events", api_json_parse(w->events), "created_at",
	    api_json_time(w->created_at), "pending", (json_int_t)w->pending, "delivered",
	    (json_int_t)w->delivered, "dropped", (json_int_t)w->dropped, "attempts", w->attempts,
	    "failing_since", api_json_time(w->failing_since), "next_attempt_at",
	    w->attempts ? api_json_time(w->next_attempt_at) : json_null(), "last_status",
	    w->last_status ? json_integer(w->last_status) : json_null(), "last_error",
	    api_json_opt(w->last_error), "last_success_at", api_json_time(w->last_success_at));
}

static int
webhooks_row(void *arg, const struct store_webhook *w)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)w->id);
	struct api_page *p = arg;
	if (w->id <= strtoll(p->after, NULL, 10)) /* "" (the first page): 0 */
		return 0;
	return api_page_add(p, webhook_json(w), key) ? 0 : 1;
}

/* GET /api/webhooks: each webhook's delivery state (kirim webhooks status). */
void
api_webhooks(struct api_ctx *x)
{
	static const char *const names[] = {"limit", "cursor", NULL};
	struct api_page p;
	if (api_query_only(x, names) < 0 || api_page_start(x, &p) < 0)
		return;
	int rc = store_webhook_each(x->s, webhooks_row, &p);
	if (rc < 0) {
		json_decref(p.items);
		api_fail_store(x, rc, NULL);
		return;
	}
	api_page_end(x, &p);
}

/* The webhook id of the path, or 0 (answered 404). */
static int64_t
webhook_id(struct api_ctx *x)
{
	char *end;
	long long id = strtoll(x->rt->params[0], &end, 10);
	if (*end || id <= 0) {
		api_fail(x, 404, NULL, "no webhook %s", x->rt->params[0]);
		return 0;
	}
	return id;
}

/* GET /api/webhooks/{id} */
void
api_webhook_get(struct api_ctx *x)
{
	struct store_webhook w;
	int64_t id = webhook_id(x);
	if (id == 0)
		return;
	int rc = store_webhook_get(x->s, id, &w);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	api_ok_tagged(x, 200, webhook_json(&w));
}

/* POST /api/webhooks {"url", "events": ["delivered", ...], "secret"}: 201. */
void
api_webhook_add(struct api_ctx *x)
{
	static const char *const fields[] = {"url", "events", "secret", NULL};
	json_t *b;
	const char *url, *secret;
	if (api_body(x, false, &b) < 0)
		return;
	json_t *ev = json_object_get(b, "events");
	if (api_only(x, b, fields) < 0 || api_str(x, b, "url", &url) < 0 ||
	    api_str(x, b, "secret", &secret) < 0)
		goto out;
	if (url == NULL || secret == NULL || !json_is_array(ev) || json_array_size(ev) == 0) {
		api_fail(x, 422, "invalid",
		         "a webhook is {\"url\", \"events\": [...], \"secret\"}");
		goto out;
	}
	struct buf names = BUF_INIT;
	for (size_t i = 0; i < json_array_size(ev); i++) {
		const char *n = json_string_value(json_array_get(ev, i));
		if (n == NULL || strpbrk(n, ", ")) {
			buf_free(&names);
			api_fail(x, 422, "invalid", "'events' is an array of event names (%s)",
			         webhooks_event_names());
			goto out;
		}
		buf_printf(&names, "%s%s", i ? "," : "", n);
	}
	char err[400];
	int64_t id;
	int rc = webhooks_add(x->s, url, names.data, secret, x->now, &id, err, sizeof(err));
	buf_free(&names);
	if (rc < 0) {
		if (rc == WEBHOOKS_E_INVALID)
			api_fail(x, 422, "invalid", "%s", err);
		else
			api_fail_store(x, rc, err);
		goto out;
	}
	struct store_webhook w;
	if ((rc = store_webhook_get(x->s, id, &w)) < 0) {
		api_fail_store(x, rc, NULL);
		goto out;
	}
	char sid[32];
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	snprintf(x->resource, sizeof(x->resource), "webhook:%lld", (long long)id);
	api_location(x, "/api/webhooks/", sid);
	api_ok_tagged(x, 201, webhook_json(&w));
out:
	json_decref(b);
}

/* DELETE /api/webhooks/{id} */
void
api_webhook_delete(struct api_ctx *x)
{
	int64_t id = webhook_id(x);
	if (id == 0)
		return;
	int rc = store_webhook_remove(x->s, id);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "webhook:%lld", (long long)id);
	api_ok(x, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "removed", 1));
}
