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
#include "kirim/importer.h"
#include "kirim/store_webhook.h"
#include "kirim/webhooks.h"

/* The delimiter query parameter (',' ';' or tab) into *out (0: absent); -1 answered 400. */
static int
delimiter_query(struct api_ctx *x, char *out)
{
	char delim[8];
	int rc = api_query(x, "delimiter", delim, sizeof(delim));
	*out = 0;
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (strcmp(delim, ",") == 0 || strcmp(delim, ";") == 0)
		*out = delim[0];
	else if (strcasecmp(delim, "tab") == 0)
		*out = '\t';
	else
		return api_fail(x, 400, "query", "delimiter takes ',' ';' or 'tab'");
	return 0;
}

/* The body is a CSV file: text/csv (or text/plain, octet-stream), not empty; else answered. */
static int
csv_body(struct api_ctx *x)
{
	const char *ct = x->content_type ? x->content_type : "";
	size_t tl = strcspn(ct, "; \t");
	if (!((tl == 8 && strncasecmp(ct, "text/csv", 8) == 0) ||
	      (tl == 10 && strncasecmp(ct, "text/plain", 10) == 0) ||
	      (tl == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0)))
		return api_fail(x, 415, "media-type",
		                "the body is the CSV file: Content-Type: text/csv");
	if (x->body_len == 0)
		return api_fail(x, 422, "invalid", "the body is empty: send the CSV file");
	return 0;
}

/* A file of the server's own for the import (kind: "import", "rejects"): its fd, or -1. */
static int
temp_file(const char *kind, char *path, size_t pathsz)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, pathsz, "%s/kirim-%s-XXXXXX", dir && *dir ? dir : "/tmp", kind);
	return mkstemp(path);
}

enum { IGNORE_MAX = 64 }; /* ignore_column= parameters, as kirim import's --ignore-column */

/*
 * POST /api/imports?list=NAME[&update=true&email_column=&delimiter=&encoding=
 * &map=&ignore_column=...&tags_column=] with the CSV as the body (text/csv):
 * 202 with the job; it runs when the imports queued before it have. map,
 * ignore_column (once per column) and tags_column are kirim import's --map,
 * --ignore-column and --tags-column; the rejected rows are kept for
 * /api/imports/ID/rejects.
 */
void
api_import_start(struct api_ctx *x)
{
	static const char *const names[] = {"list",          "update",      "email_column",
	                                    "delimiter",     "encoding",    "map",
	                                    "ignore_column", "tags_column", NULL};
	char list[256], column[128], enc[48], map[4096], tags[128];
	char ignored[IGNORE_MAX][128];
	const char *ignore[IGNORE_MAX];
	int lrc, crc, erc, mrc, trc;
	struct api_import_opts o = {.list = list, .ignore = ignore};
	if (api_query_only(x, names) < 0 || (lrc = api_query(x, "list", list, sizeof(list))) < 0 ||
	    (crc = api_query(x, "email_column", column, sizeof(column))) < 0 ||
	    delimiter_query(x, &o.delimiter) < 0 ||
	    (erc = api_query(x, "encoding", enc, sizeof(enc))) < 0 ||
	    (mrc = api_query(x, "map", map, sizeof(map))) < 0 ||
	    (trc = api_query(x, "tags_column", tags, sizeof(tags))) < 0)
		return;
	for (;;) {
		int n = api_route_query_nth(x->rt, "ignore_column", (unsigned)o.nignore,
		                            ignored[o.nignore % IGNORE_MAX], sizeof(ignored[0]));
		if (n == -1)
			break;
		if (n < 0 || o.nignore == IGNORE_MAX) {
			api_fail(x, 400, "query",
			         n < 0 ? "ignore_column is not valid or too long"
			               : "at most 64 ignore_column parameters");
			return;
		}
		ignore[o.nignore] = ignored[o.nignore];
		o.nignore++;
	}
	if (lrc != 0 || !contacts_list_name_ok(list)) {
		api_fail(x, 400, "query", "list= names the list to import into");
		return;
	}
	o.email_column = crc == 0 ? column : NULL;
	o.encoding = erc == 0 ? enc : NULL;
	o.map = mrc == 0 ? map : NULL;
	o.tags_column = trc == 0 ? tags : NULL;
	if (api_query_bool(x, "update", false, &o.update) < 0)
		return;
	if (csv_body(x) < 0)
		return;
	char path[512], rejects[512];
	int rfd = temp_file("rejects", rejects, sizeof(rejects));
	if (rfd < 0) {
		api_fail(x, 503, "busy", "the upload could not be kept: %s", strerror(errno));
		return;
	}
	close(rfd);
	o.rejects = rejects;
	int fd = temp_file("import", path, sizeof(path));
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
		unlink(rejects);
		api_fail(x, 503, "busy", "the upload could not be kept: %s", strerror(errno));
		return;
	}
	int64_t id = api_import_queue(x->api, path, &o);
	if (id < 0) {
		unlink(path);
		unlink(rejects);
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

/*
 * POST /api/imports/preview[?delimiter=&encoding=] with the start of a CSV file
 * as the body (the first IMPORTER_PREVIEW_BYTES are read; the rest, if sent, is
 * not): the delimiter and encoding an import would take, the header and the
 * first rows. Nothing is written.
 */
void
api_import_preview(struct api_ctx *x)
{
	static const char *const names[] = {"delimiter", "encoding", NULL};
	char enc[48], delim;
	int erc;
	if (api_query_only(x, names) < 0 || delimiter_query(x, &delim) < 0 ||
	    (erc = api_query(x, "encoding", enc, sizeof(enc))) < 0 || csv_body(x) < 0)
		return;
	struct importer_preview p;
	char err[400];
	/* A body cut at the limit by the console is "the start of a file", not all of it. */
	bool whole = x->body_len < IMPORTER_PREVIEW_BYTES;
	int rc = importer_preview(x->body, x->body_len, whole, delim, erc == 0 ? enc : NULL, &p,
	                          err, sizeof(err));
	if (rc < 0) {
		api_fail(x, 422, rc == IMPORTER_E_USAGE ? "invalid" : "data", "%s", err);
		return;
	}
	char d[4] = {p.delimiter, '\0'};
	json_t *header = json_array(), *rows = json_array();
	for (size_t i = 0; i < p.ncols; i++)
		json_array_append_new(header, api_json_text(p.header[i]));
	for (size_t r = 0; r < p.nrows; r++) {
		json_t *row = json_array();
		for (size_t i = 0; i < p.ncols; i++)
			json_array_append_new(row, api_json_text(p.cells[r * p.ncols + i]));
		json_array_append_new(rows, row);
	}
	api_ok(x, 200,
	       json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:b}", "delimiter",
	                 p.delimiter == '\t' ? "tab" : d, "encoding", p.encoding, "encoding_why",
	                 p.encoding_why, "encoding_guessed", p.guessed, "email_column",
	                 p.email_col >= 0 ? api_json_text(p.header[p.email_col]) : json_null(),
	                 "header", header, "rows", rows, "more", p.more));
	importer_preview_free(&p);
}

/* GET /api/imports/{id}/rejects: the rows an import refused, as CSV (line, row, reason). */
void
api_import_rejects_get(struct api_ctx *x)
{
	char *end;
	long long id = strtoll(x->rt->params[0], &end, 10);
	struct buf b = BUF_INIT;
	int rc = *end == '\0' && id > 0 ? api_import_rejects(x->api, id, &b) : -1;
	if (rc < 0)
		api_fail(x, 404, NULL, "no import %s (imports are kept while kirim serve runs)",
		         x->rt->params[0]);
	else if (rc > 0)
		api_fail(x, 409, "state", "import %s has no rejected rows to give: it is not done",
		         x->rt->params[0]);
	if (rc != 0) {
		buf_free(&b);
		return;
	}
	x->status = 200;
	x->raw_type = "text/csv; charset=utf-8";
	x->raw = b;
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
