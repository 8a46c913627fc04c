/*
 * api - the HTTP API's listener, lanes and dispatch (see api.h).
 *
 * Threads: the loop thread accepts, routes (api_route.h), turns away what
 * needs no database (unknown paths, bad methods, no token, a client over its
 * failed-attempt budget) and answers; everything else goes to a lane. The
 * read lane runs requests in works of libuv's thread pool, at most
 * API_READERS at once, each work taking its share of the reads waiting
 * (READ_BATCH at most: a hand-off to the pool costs more than a read) on one
 * of API_READERS read connections (opened by the work on first use; the
 * slot is picked on the loop, so no lock). The write lane runs one work at a time over every
 * change waiting (at most WRITE_BATCH): one transaction, a savepoint per
 * request, the audit row in the request's savepoint, one commit. A token's
 * last use is recorded by the write lane too, at most once a minute per
 * token, so that reads stay reads.
 */
#include "kirim/api.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "kirim/console.h"
#include "kirim/console_auth.h"
#include "kirim/http.h"
#include "kirim/importer.h"
#include "kirim/log.h"
#include "kirim/serve_route.h"
#include "kirim/store.h"
#include "kirim/store_api.h"
#include "kirim/store_user.h"
#include "kirim/throttle.h"
#include "kirim/token.h"
#include "kirim/users.h"
#include "kirim/xmalloc.h"

/* The OpenAPI document, docs/openapi.json embedded at build time (tools/embed-text.py). */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

enum {
	API_READERS = 3,   /* read works at once (libuv's pool has 4 threads) */
	READ_BATCH = 8,    /* reads one work takes, at most */
	WRITE_BATCH = 256, /* changes per write transaction, at most */
	QUEUE_MAX = 4096,  /* requests waiting for a lane; more get 503 */
	FAIL_SLOTS = 1024, /* failed-attempt buckets (client addresses) */
	TOUCH_MAX = 64,    /* tokens whose use waits to be recorded */
	TOUCH_EVERY = 60,  /* seconds: a token's last use is recorded this often at most */
	/*
	 * Console logins: a wrong password takes a token from its user's bucket
	 * and from its client's; an empty bucket refuses logins (429) until it
	 * refills. LOGIN_USER_BURST wrong passwords in a row lock a name for a
	 * minute each after; a client may try more names, not many more.
	 */
	LOGIN_USER_BURST = 5,
	LOGIN_USER_EVERY = 60, /* seconds per token */
	LOGIN_ADDR_BURST = 20,
	LOGIN_ADDR_EVERY = 15,
};

struct api;

/* One request, from on_request until http_respond. */
struct areq {
	struct api *api;
	struct http_req *hr;
	struct api_route rt;
	char method[8];
	char ip[64];
	unsigned char addr[16];
	uint64_t t0;
	char *path;
	const char *authorization; /* into hr (valid until the answer) */
	struct access_who who;
	int auth; /* access_check's code */
	int status;
	api_handler handler; /* handlers[rt.id], or the console's own */
	/* A console request: the session cookie, its CSRF token; the login's user. */
	bool has_cookie;
	char cookie[CONSOLE_TOKEN_CHARS + 1];
	char csrf[CONSOLE_CSRF_CHARS + 1];
	bool login;
	unsigned char login_key[16]; /* the user name's bucket key */
	struct api_ctx x;
	struct areq *next;
	uv_work_t work;
	int slot; /* the read connection */
};

/* A background import (api_import_queue). */
struct import_job {
	int64_t id;
	char *path; /* the CSV the server wrote; deleted once the job has run */
	char list[256], email_column[128], encoding[48];
	char delimiter;
	bool update;
	char *map, *tags_column; /* NULL: none */
	char **ignore;           /* nignore column names */
	size_t nignore;
	char *rejects; /* the rejected rows' CSV the importer writes; deleted with the job */
	enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED } state;
	uint64_t rows, bytes, size;
	int64_t queued_at, started_at, finished_at;
	char *summary; /* the importer's summary (JSON), when done */
	char error[512];
	struct import_job *next; /* newest first */
};

struct touch {
	int64_t id;
	bool session; /* a console session's id, not a token's */
	char client[64];
};

struct api {
	const struct api_opts *o;
	uv_loop_t *loop;
	struct http_server *http;
	unsigned port;
	/* The read lane. */
	struct store *readers[API_READERS];
	bool reader_busy[API_READERS];
	unsigned reads_running;
	struct areq *readq, *readq_tail;
	size_t readq_len;
	/* The write lane: wq waits, wbatch is the running work's. */
	struct store *writer;
	bool write_running;
	struct areq *writeq, *writeq_tail, *wbatch;
	uv_work_t write_work;
	struct touch touches[TOUCH_MAX], wtouches[TOUCH_MAX];
	size_t ntouches, nwtouches;
	int write_rc; /* the batch's commit: 0 or a store error */
	char write_err[600];
	size_t queued;  /* requests in either queue */
	size_t waiting; /* requests handed to on_request and not answered */
	struct throttle_keyed *fails;
	struct throttle_keyed *login_users, *login_addrs; /* wrong passwords (FAIL_SLOTS each) */
	/* Imports: jobs under jobs_lock (the works read and write them); one running. */
	uv_mutex_t jobs_lock;
	struct import_job *jobs;
	int64_t next_job;
	bool import_running;
	struct import_job *import_cur;
	uv_work_t import_work;
	bool quiescing, closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static const api_handler handlers[API_ROUTE_COUNT] = {
    [API_STATUS] = api_status,
    [API_STATS] = api_stats,
    [API_LISTS] = api_lists,
    [API_LIST_CREATE] = api_list_create,
    [API_LIST_GET] = api_list_get,
    [API_LIST_DELETE] = api_list_delete,
    [API_CONTACTS] = api_contacts,
    [API_CONTACT_UPSERT] = api_contact_upsert,
    [API_CONTACT_GET] = api_contact_get,
    [API_CONTACT_UPDATE] = api_contact_update,
    [API_CONTACT_DELETE] = api_contact_delete,
    [API_SUPPRESSIONS] = api_suppressions,
    [API_SUPPRESSION_ADD] = api_suppression_add,
    [API_SUPPRESSION_REMOVE] = api_suppression_remove,
    [API_TEMPLATES] = api_templates,
    [API_TEMPLATE_CREATE] = api_template_create,
    [API_TEMPLATE_GET] = api_template_get,
    [API_TEMPLATE_RENDER] = api_template_render,
    [API_TEMPLATE_LINT] = api_template_lint,
    [API_CAMPAIGNS] = api_campaigns,
    [API_CAMPAIGN_CREATE] = api_campaign_create,
    [API_CAMPAIGN_GET] = api_campaign_get,
    [API_CAMPAIGN_SCHEDULE] = api_campaign_move,
    [API_CAMPAIGN_UNSCHEDULE] = api_campaign_move,
    [API_CAMPAIGN_PAUSE] = api_campaign_move,
    [API_CAMPAIGN_RESUME] = api_campaign_move,
    [API_CAMPAIGN_CANCEL] = api_campaign_move,
    [API_CAMPAIGN_PLAN] = api_campaign_plan,
    [API_CAMPAIGN_REPORT] = api_campaign_report,
    [API_CAMPAIGN_LOG] = api_campaign_log,
    [API_DOMAINS] = api_domains,
    [API_DOMAIN_GET] = api_domain_get,
    [API_DOMAIN_SET] = api_domain_set,
    [API_DOMAIN_UNSET] = api_domain_unset,
    [API_AUDIT] = api_audit,
    [API_IMPORT_START] = api_import_start,
    [API_IMPORT_GET] = api_import_get,
    [API_WEBHOOKS] = api_webhooks,
    [API_WEBHOOK_ADD] = api_webhook_add,
    [API_WEBHOOK_GET] = api_webhook_get,
    [API_WEBHOOK_DELETE] = api_webhook_delete,
    [API_IMPORT_PREVIEW] = api_import_preview,
    [API_IMPORT_REJECTS] = api_import_rejects_get,
    [API_TEMPLATE_MESSAGE] = api_template_message,
    [API_TEMPLATE_TEST] = api_template_test,
    [API_CONTACT_TAGS] = api_contact_tags,
    [API_CONTACT_ATTRIBUTES] = api_contact_attributes,
    [API_SEGMENTS] = api_segments,
    [API_SEGMENT_CREATE] = api_segment_create,
    [API_SEGMENT_GET] = api_segment_get,
    [API_SEGMENT_UPDATE] = api_segment_update,
    [API_SEGMENT_DELETE] = api_segment_delete,
    [API_SEGMENT_COUNT] = api_segment_count,
};

/* ---- answers (any thread: they only fill the context) --------------------------------- */

int
api_fail(struct api_ctx *x, int status, const char *slug, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_decref(x->out);
	x->out = api_problem(status, slug, detail, x->path);
	x->problem = true;
	x->status = status;
	x->etag[0] = '\0';
	return -1;
}

int
api_fail_store(struct api_ctx *x, int rc, const char *err)
{
	const char *why = err ? err : store_errmsg(x->s);
	switch (rc) {
	case STORE_E_NOTFOUND:
		return api_fail(x, 404, NULL, "%s", why);
	case STORE_E_EXISTS:
		return api_fail(x, 409, "exists", "%s", why);
	case STORE_E_INUSE:
		return api_fail(x, 409, "in-use", "%s", why);
	case STORE_E_BUSY:
		return api_fail(x, 503, "busy", "the database is busy: %s", why);
	default:
		return api_fail(x, 500, "store", "%s", why);
	}
}

void
api_location(struct api_ctx *x, const char *base, const char *seg)
{
	size_t n = strlen(base);
	snprintf(x->location, sizeof(x->location), "%s", base);
	if (n < sizeof(x->location))
		api_route_escape(seg, x->location + n, sizeof(x->location) - n);
}

void
api_ok(struct api_ctx *x, int status, json_t *v)
{
	json_decref(x->out);
	x->out = v;
	x->problem = false;
	x->status = status;
}

void
api_ok_tagged(struct api_ctx *x, int status, json_t *v)
{
	api_etag(v, x->etag);
	api_ok(x, status, v);
}

/* Whether ctype (NULL: absent) is JSON: application/json or application/SOMETHING+json. */
static bool
is_json_type(const char *ctype)
{
	if (ctype == NULL)
		return false;
	while (*ctype == ' ')
		ctype++;
	size_t n = strcspn(ctype, "; \t");
	if (n == 16 && strncasecmp(ctype, "application/json", 16) == 0)
		return true;
	return n > 17 && strncasecmp(ctype, "application/", 12) == 0 &&
	       strncasecmp(ctype + n - 5, "+json", 5) == 0;
}

int
api_body(struct api_ctx *x, bool any, json_t **out)
{
	if (!is_json_type(x->content_type))
		return api_fail(x, 415, "media-type",
		                "the body must be JSON (Content-Type: application/json)");
	json_error_t e;
	json_t *v = json_loadb(x->body, x->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (v == NULL)
		return api_fail(x, 400, "invalid-json",
		                "the body is not JSON: line %d column %d: %s", e.line, e.column,
		                e.text);
	if (!any && !json_is_object(v)) {
		json_decref(v);
		return api_fail(x, 400, "invalid-json", "the body must be a JSON object");
	}
	*out = v;
	return 0;
}

int
api_query(struct api_ctx *x, const char *name, char *out, size_t outsz)
{
	int n = api_route_query(x->rt, name, out, outsz);
	if (n == -1) {
		if (outsz)
			out[0] = '\0';
		return 1;
	}
	if (n < 0)
		return api_fail(x, 400, "query", "query parameter '%s' is not valid or too long",
		                name);
	return 0;
}

int
api_query_bool(struct api_ctx *x, const char *name, bool dflt, bool *out)
{
	char v[8];
	int q = api_query(x, name, v, sizeof(v));
	if (q < 0)
		return -1;
	if (q == 1)
		*out = dflt;
	else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		*out = v[0] == 't';
	else
		return api_fail(x, 400, "query", "%s takes true or false, not '%s'", name, v);
	return 0;
}

int
api_query_only(struct api_ctx *x, const char *const *names)
{
	char unknown[128];
	if (api_route_query_known(x->rt, names, unknown, sizeof(unknown)) == 0)
		return 0;
	return api_fail(x, 400, "query", "unknown query parameter '%s'", unknown);
}

int
api_page_start(struct api_ctx *x, struct api_page *p)
{
	char v[API_CURSOR_MAX];
	memset(p, 0, sizeof(*p));
	p->limit = API_PAGE_DEFAULT;
	int rc = api_query(x, "limit", v, sizeof(v));
	if (rc < 0)
		return -1;
	if (rc == 0) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*v == '\0' || *end || n < 1 || n > API_PAGE_MAX)
			return api_fail(x, 400, "query",
			                "limit takes a number from 1 to %d, not '%s'", API_PAGE_MAX,
			                v);
		p->limit = (int)n;
	}
	if ((rc = api_query(x, "cursor", v, sizeof(v))) < 0)
		return -1;
	if (rc == 0 && api_cursor_decode(v, p->after, sizeof(p->after)) < 0)
		return api_fail(x, 400, "cursor",
		                "cursor is not one this API gave (take next_cursor as it is)");
	p->items = json_array();
	return 0;
}

bool
api_page_add(struct api_page *p, json_t *v, const char *key)
{
	if (p->n == p->limit) {
		p->more = true;
		json_decref(v);
		return false;
	}
	json_array_append_new(p->items, v);
	snprintf(p->last, sizeof(p->last), "%s", key);
	p->n++;
	return true;
}

void
api_page_end(struct api_ctx *x, struct api_page *p)
{
	json_t *next = json_null();
	if (p->more) {
		char c[API_CURSOR_MAX];
		api_cursor_encode(p->last, strlen(p->last), c);
		next = json_string(c);
	}
	api_ok(x, 200, json_pack("{s:o,s:o}", "items", p->items, "next_cursor", next));
	p->items = NULL;
}

int
api_str(struct api_ctx *x, json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL || json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return api_fail(x, 422, "invalid", "'%s' must be a string", key);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return api_fail(x, 422, "invalid", "'%s' holds a NUL character", key);
	return 0;
}

int
api_bool(struct api_ctx *x, json_t *o, const char *key, bool *out)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return api_fail(x, 422, "invalid", "'%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

int
api_only(struct api_ctx *x, json_t *o, const char *const *names)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		bool known = false;
		for (const char *const *n = names; *n && !known; n++)
			known = strcmp(*n, key) == 0;
		if (!known)
			return api_fail(x, 422, "invalid", "unknown field '%s'", key);
	}
	return 0;
}

/* ---- the works (thread pool) ----------------------------------------------------------- */

/* Authenticate r on s and check its scope; false when the answer is already made. */
static bool
authorize(struct areq *r, struct store *s)
{
	struct api_ctx *x = &r->x;
	if (r->rt.scope == API_SCOPE_NONE)
		return true; /* the console's login: who it is comes from its body */
	/* A token when there is one (a script's); else the console's session cookie. */
	if (r->authorization == NULL && r->has_cookie) {
		r->auth = users_session(s, r->cookie, x->now, &r->who);
		if (r->auth == ACCESS_E_INVALID) {
			api_fail(x, 401, "unauthorized",
			         "the console session has expired or ended: log in again");
			return false;
		}
	} else {
		r->auth = access_check(s, r->authorization, &r->who);
	}
	switch (r->auth) {
	case 0:
		break;
	case ACCESS_E_MISSING:
		api_fail(x, 401, "unauthorized",
		         "this API takes a token: Authorization: Bearer TOKEN");
		return false;
	case ACCESS_E_REVOKED:
		api_fail(x, 401, "unauthorized", "the token has been revoked");
		return false;
	case ACCESS_E_INVALID:
		api_fail(x, 401, "unauthorized", "the token is not valid");
		return false;
	default:
		api_fail_store(x, r->auth, NULL);
		return false;
	}
	if (r->who.scope < (int)r->rt.scope && r->who.session_id) {
		api_fail(x, 403, "role", "this needs the %s role; '%s' is %s",
		         console_role_name((int)r->rt.scope), r->who.name + 8,
		         console_role_name(r->who.scope));
		return false;
	}
	if (r->who.scope < (int)r->rt.scope) {
		api_fail(x, 403, "scope", "this needs a token with the %s scope; '%s' has %s",
		         access_scope_name((int)r->rt.scope), r->who.name,
		         access_scope_name(r->who.scope));
		return false;
	}
	x->who = &r->who;
	return true;
}

/* Open the store *sp on first use; false (answered 503) when it cannot be. */
static bool
store_ready(struct areq *r, struct store **sp)
{
	if (*sp)
		return true;
	char err[512];
	if (store_open(r->api->o->db_path, 0, sp, err, sizeof(err)) < 0) {
		api_fail(&r->x, 503, "store", "the database cannot be opened: %s", err);
		return false;
	}
	return true;
}

/* Set up the handler's context from the request (the request stays the loop's, unchanged). */
static void
ctx_init(struct areq *r, struct store *s)
{
	struct api_ctx *x = &r->x;
	x->api = r->api;
	x->s = s;
	x->cfg = r->api->o->cfg;
	x->now = (int64_t)time(NULL);
}

/* A read work: its requests (linked by next), one after the other on its connection. */
static void
read_work(uv_work_t *w)
{
	struct areq *first = w->data;
	struct api *a = first->api;
	struct store **sp = &a->readers[first->slot];
	for (struct areq *r = first; r; r = r->next) {
		if (!store_ready(r, sp))
			continue;
		ctx_init(r, *sp);
		if (!authorize(r, *sp))
			continue;
		r->handler(&r->x);
	}
}

/* The write lane: every request of the batch in its savepoint, the touches, one commit. */
static void
write_work(uv_work_t *w)
{
	struct api *a = w->data;
	a->write_rc = 0;
	a->write_err[0] = '\0';
	struct areq *first = a->wbatch;
	if (first && !store_ready(first, &a->writer)) {
		for (struct areq *r = first->next; r; r = r->next)
			api_fail(&r->x, 503, "store", "the database cannot be opened");
		return;
	}
	if (first == NULL && a->writer == NULL) {
		char err[512];
		if (store_open(a->o->db_path, 0, &a->writer, err, sizeof(err)) < 0) {
			snprintf(a->write_err, sizeof(a->write_err), "%s", err);
			a->write_rc = STORE_E_SQL;
			return;
		}
	}
	struct store *s = a->writer;
	int rc = store_batch_begin(s);
	if (rc < 0) {
		a->write_rc = rc;
		snprintf(a->write_err, sizeof(a->write_err), "%s", store_errmsg(s));
		for (struct areq *r = first; r; r = r->next)
			api_fail(&r->x, 503, "busy", "the database is busy, try again: %s",
			         store_errmsg(s));
		return;
	}
	for (struct areq *r = first; r; r = r->next) {
		ctx_init(r, s);
		if (!authorize(r, s))
			continue;
		struct api_ctx *x = &r->x;
		if ((rc = store_begin(s)) < 0) {
			api_fail_store(x, rc, NULL);
			continue;
		}
		r->handler(x);
		if (x->status < 300) {
			struct store_audit au = {
			    .ts = x->now,
			    .token_id = r->who.token_id,
			    .token_name = r->who.name,
			    .method = r->method,
			    .path = x->audit_path ? x->audit_path : r->path,
			    .resource = x->resource[0] ? x->resource : NULL,
			    .status = x->status,
			    .client = r->ip,
			};
			if ((rc = store_audit_add(s, &au)) < 0)
				api_fail_store(x, rc, NULL);
		}
		if (x->status < 300 && (rc = store_commit(s)) < 0)
			api_fail_store(x, rc, NULL);
		if (x->status >= 300)
			store_rollback(s);
	}
	for (size_t i = 0; i < a->nwtouches; i++) {
		if (a->wtouches[i].session)
			(void)store_session_seen(s, a->wtouches[i].id, (int64_t)time(NULL));
		else
			(void)store_token_used(s, a->wtouches[i].id, (int64_t)time(NULL),
			                       a->wtouches[i].client);
	}
	if ((rc = store_batch_end(s, true)) < 0) {
		a->write_rc = rc;
		snprintf(a->write_err, sizeof(a->write_err), "%s", store_errmsg(s));
		for (struct areq *r = first; r; r = r->next)
			if (r->x.status < 300)
				api_fail(
				    &r->x, 503, "busy",
				    "the change could not be committed (nothing was changed): %s",
				    a->write_err);
	}
}

/* ---- imports ---------------------------------------------------------------------------- */

/* job_free - a job forgotten: its files (the upload when it never ran, the rejects) too */
static void
job_free(struct import_job *j)
{
	if (j->state == JOB_QUEUED)
		unlink(j->path);
	if (j->rejects)
		unlink(j->rejects);
	for (size_t i = 0; i < j->nignore; i++)
		free(j->ignore[i]);
	free(j->ignore);
	free(j->map);
	free(j->tags_column);
	free(j->rejects);
	free(j->summary);
	free(j->path);
	free(j);
}

int64_t
api_import_queue(struct api *a, const char *path, const struct api_import_opts *o)
{
	uv_mutex_lock(&a->jobs_lock);
	int waiting = 0, kept = 0;
	struct import_job **pp = &a->jobs;
	for (struct import_job *j = a->jobs; j; j = j->next)
		waiting += j->state == JOB_QUEUED;
	if (waiting >= API_IMPORTS_WAITING || a->closing) {
		uv_mutex_unlock(&a->jobs_lock);
		return -1;
	}
	/* Forget the oldest finished jobs past API_IMPORTS_KEPT. */
	while (*pp) {
		struct import_job *j = *pp;
		if (++kept > API_IMPORTS_KEPT && (j->state == JOB_DONE || j->state == JOB_FAILED)) {
			*pp = j->next;
			job_free(j);
			continue;
		}
		pp = &j->next;
	}
	struct import_job *j = xcalloc(1, sizeof(*j));
	j->id = ++a->next_job;
	j->path = xstrdup(path);
	snprintf(j->list, sizeof(j->list), "%s", o->list);
	snprintf(j->email_column, sizeof(j->email_column), "%s",
	         o->email_column ? o->email_column : "");
	snprintf(j->encoding, sizeof(j->encoding), "%s", o->encoding ? o->encoding : "");
	j->delimiter = o->delimiter;
	j->update = o->update;
	j->map = o->map ? xstrdup(o->map) : NULL;
	j->tags_column = o->tags_column ? xstrdup(o->tags_column) : NULL;
	j->ignore = xcalloc(o->nignore + 1, sizeof(char *));
	for (size_t i = 0; i < o->nignore; i++)
		j->ignore[j->nignore++] = xstrdup(o->ignore[i]);
	j->rejects = o->rejects ? xstrdup(o->rejects) : NULL;
	j->queued_at = (int64_t)time(NULL);
	j->next = a->jobs;
	a->jobs = j;
	int64_t id = j->id;
	uv_mutex_unlock(&a->jobs_lock);
	return id;
}

json_t *
api_import_json(struct api *a, int64_t id)
{
	static const char *const states[] = {"queued", "running", "done", "failed"};
	json_t *o = NULL;
	uv_mutex_lock(&a->jobs_lock);
	for (struct import_job *j = a->jobs; j && !o; j = j->next) {
		if (j->id != id)
			continue;
		o = json_pack("{s:I,s:s,s:o,s:b,s:I,s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)j->id,
		              "state", states[j->state], "list", api_json_text(j->list), "update",
		              j->update, "rows", (json_int_t)j->rows, "bytes", (json_int_t)j->bytes,
		              "size", j->size ? json_integer((json_int_t)j->size) : json_null(),
		              "queued_at", api_json_time(j->queued_at), "started_at",
		              api_json_time(j->started_at), "finished_at",
		              api_json_time(j->finished_at));
		json_object_set_new(o, "summary",
		                    j->summary ? api_json_parse(j->summary) : json_null());
		json_object_set_new(o, "error", api_json_opt(j->error));
		char href[64];
		snprintf(href, sizeof(href), "/api/imports/%lld/rejects", (long long)j->id);
		json_object_set_new(o, "rejects",
		                    j->state == JOB_DONE && j->rejects ? json_string(href)
		                                                       : json_null());
	}
	uv_mutex_unlock(&a->jobs_lock);
	return o;
}

int
api_import_rejects(struct api *a, int64_t id, struct buf *out)
{
	char path[512] = "";
	int rc = -1;
	uv_mutex_lock(&a->jobs_lock);
	for (struct import_job *j = a->jobs; j; j = j->next)
		if (j->id == id) {
			rc = 1;
			if (j->state == JOB_DONE && j->rejects)
				snprintf(path, sizeof(path), "%s", j->rejects);
		}
	uv_mutex_unlock(&a->jobs_lock);
	if (rc < 0 || path[0] == '\0')
		return rc;
	/* The job may be forgotten meanwhile (its file removed): then there is none. */
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	char chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(out, chunk, n);
	fclose(f);
	return 0;
}

static void
import_progress(void *arg, const struct importer_progress *p)
{
	struct api *a = arg;
	uv_mutex_lock(&a->jobs_lock);
	a->import_cur->rows = p->rows;
	a->import_cur->bytes = p->bytes;
	a->import_cur->size = p->size;
	uv_mutex_unlock(&a->jobs_lock);
}

/* The thread pool: run the import of a->import_cur on a connection of its own. */
static void
import_work(uv_work_t *w)
{
	struct api *a = w->data;
	struct import_job *j = a->import_cur; /* its options are not changed while it runs */
	struct store *s = NULL;
	char err[512] = "";
	struct importer_stats st;
	struct buf summary = BUF_INIT;
	int rc = store_open(a->o->db_path, 0, &s, err, sizeof(err));
	if (rc == 0) {
		struct importer_opts io = {
		    .path = j->path,
		    .list = j->list,
		    .email_column = j->email_column[0] ? j->email_column : NULL,
		    .delimiter = j->delimiter,
		    .encoding = j->encoding[0] ? j->encoding : NULL,
		    .update = j->update,
		    .map = j->map,
		    .ignore = (const char *const *)j->ignore,
		    .nignore = j->nignore,
		    .tags_column = j->tags_column,
		    .rejects = j->rejects,
		    .progress = import_progress,
		    .progress_arg = a,
		};
		memset(&st, 0, sizeof(st));
		rc = importer_run(s, &io, &st, err, sizeof(err));
		if (rc == 0)
			importer_summary_json(&st, &summary);
		importer_stats_free(&st);
	}
	store_close(s);
	unlink(j->path);
	uv_mutex_lock(&a->jobs_lock);
	j->state = rc == 0 ? JOB_DONE : JOB_FAILED;
	j->finished_at = (int64_t)time(NULL);
	if (rc == 0)
		j->summary = xstrdup(summary.data ? summary.data : "{}");
	else
		snprintf(j->error, sizeof(j->error), "%s", err);
	uv_mutex_unlock(&a->jobs_lock);
	buf_free(&summary);
}

static void lanes_run(struct api *a);

static void
import_done(uv_work_t *w, int status)
{
	struct api *a = w->data;
	(void)status;
	log_info("api import=%lld list=%s state=%s", (long long)a->import_cur->id,
	         a->import_cur->list, a->import_cur->state == JOB_DONE ? "done" : "failed");
	a->import_cur = NULL;
	a->import_running = false;
	lanes_run(a);
}

/* Start the oldest queued import, unless one is running (the loop). */
static void
import_next(struct api *a)
{
	if (a->import_running || a->quiescing || a->closing)
		return;
	struct import_job *next = NULL;
	uv_mutex_lock(&a->jobs_lock);
	for (struct import_job *j = a->jobs; j; j = j->next)
		if (j->state == JOB_QUEUED)
			next = j; /* the list is newest first: the last queued is the oldest */
	if (next) {
		next->state = JOB_RUNNING;
		next->started_at = (int64_t)time(NULL);
	}
	uv_mutex_unlock(&a->jobs_lock);
	if (next == NULL)
		return;
	a->import_cur = next;
	a->import_running = true;
	a->import_work.data = a;
	if (uv_queue_work(a->loop, &a->import_work, import_work, import_done) < 0) {
		uv_mutex_lock(&a->jobs_lock);
		next->state = JOB_FAILED;
		snprintf(next->error, sizeof(next->error), "the server could not start it");
		uv_mutex_unlock(&a->jobs_lock);
		unlink(next->path);
		a->import_cur = NULL;
		a->import_running = false;
	}
}

/* ---- the loop -------------------------------------------------------------------------- */

static void answer(struct areq *r);
static void enqueue(struct api *a, struct areq *r);

/* Remember that token id was used (recorded by the next write work), at most once a minute. */
static void
touch_add(struct api *a, const struct areq *r)
{
	bool session = r->who.session_id != 0;
	int64_t id = session ? r->who.session_id : r->who.token_id;
	if (r->auth != 0 || id == 0 ||
	    r->who.last_used_at >
	        (int64_t)time(NULL) - (session ? CONSOLE_SEEN_EVERY : TOUCH_EVERY))
		return;
	for (size_t i = 0; i < a->ntouches; i++)
		if (a->touches[i].id == id && a->touches[i].session == session)
			return;
	if (a->ntouches == TOUCH_MAX)
		return; /* the next use will tell */
	a->touches[a->ntouches].id = id;
	a->touches[a->ntouches].session = session;
	snprintf(a->touches[a->ntouches].client, sizeof(a->touches[0].client), "%s", r->ip);
	a->ntouches++;
}

/* A failed authentication takes one of its client's tokens. */
static void
fail_take(struct api *a, const struct areq *r)
{
	if (r->auth != ACCESS_E_MISSING && r->auth != ACCESS_E_INVALID &&
	    r->auth != ACCESS_E_REVOKED)
		return;
	double now = (double)uv_hrtime() / 1e9;
	struct throttle_bucket *b = throttle_keyed_bucket(
	    a->fails, FAIL_SLOTS, r->addr, a->o->fail_rate > 0 ? a->o->fail_rate : 1,
	    a->o->fail_burst ? a->o->fail_burst : 10, now);
	(void)throttle_bucket_take(b, now);
}

/* A console login's buckets: its user name's and its client's. */
static struct throttle_bucket *
login_bucket(struct api *a, const struct areq *r, bool user, double now)
{
	return user ? throttle_keyed_bucket(a->login_users, FAIL_SLOTS, r->login_key,
	                                    1.0 / LOGIN_USER_EVERY, LOGIN_USER_BURST, now)
	            : throttle_keyed_bucket(a->login_addrs, FAIL_SLOTS, r->addr,
	                                    1.0 / LOGIN_ADDR_EVERY, LOGIN_ADDR_BURST, now);
}

/* A wrong password takes a token from its user's bucket and its client's. */
static void
login_fail_take(struct api *a, const struct areq *r)
{
	if (!r->login || r->x.status != 401)
		return;
	double now = (double)uv_hrtime() / 1e9;
	(void)throttle_bucket_take(login_bucket(a, r, true, now), now);
	(void)throttle_bucket_take(login_bucket(a, r, false, now), now);
}

/* Seconds the client of r must wait after too many failed attempts (0: none). */
static double
fail_wait(struct api *a, const struct areq *r)
{
	double now = (double)uv_hrtime() / 1e9;
	struct throttle_bucket *b = throttle_keyed_bucket(
	    a->fails, FAIL_SLOTS, r->addr, a->o->fail_rate > 0 ? a->o->fail_rate : 1,
	    a->o->fail_burst ? a->o->fail_burst : 10, now);
	return throttle_bucket_wait(b, now);
}

static void
read_done(uv_work_t *w, int status)
{
	struct areq *r = w->data;
	struct api *a = r->api;
	a->reader_busy[r->slot] = false;
	a->reads_running--;
	while (r) {
		struct areq *next = r->next;
		if (status == UV_ECANCELED)
			api_fail(&r->x, 503, "busy", "the server is stopping");
		if (r->x.then && r->x.status == 0) {
			/* Its second step, in the write lane (api_int.h). */
			r->handler = r->x.then;
			r->x.then = NULL;
			r->rt.lane = API_LANE_WRITE;
			enqueue(a, r);
			r = next;
			continue;
		}
		fail_take(a, r);
		login_fail_take(a, r);
		touch_add(a, r);
		answer(r);
		r = next;
	}
	lanes_run(a);
}

static void
write_done(uv_work_t *w, int status)
{
	struct api *a = w->data;
	(void)status;
	struct areq *r = a->wbatch;
	a->wbatch = NULL;
	a->write_running = false;
	a->nwtouches = 0;
	if (a->write_rc < 0)
		log_error("api write error=\"%s\"", a->write_err);
	while (r) {
		struct areq *next = r->next;
		fail_take(a, r);
		login_fail_take(a, r);
		touch_add(a, r);
		answer(r);
		r = next;
	}
	lanes_run(a);
}

/* Start what the lanes can take now. */
static void
lanes_run(struct api *a)
{
	import_next(a);
	while (a->readq && a->reads_running < API_READERS) {
		/*
		 * A work takes its share of the reads waiting (READ_BATCH at most): a
		 * hand-off to the pool costs more than a read, and under load the
		 * queue is long; when it is short each read is a work of its own.
		 */
		size_t share = (a->readq_len + API_READERS - a->reads_running - 1) /
		               (API_READERS - a->reads_running);
		if (share > READ_BATCH)
			share = READ_BATCH;
		struct areq *r = a->readq, *last = r;
		for (size_t i = 1; i < share && last->next; i++)
			last = last->next;
		a->readq = last->next;
		if (a->readq == NULL)
			a->readq_tail = NULL;
		last->next = NULL;
		for (struct areq *q = r; q; q = q->next) {
			a->queued--;
			a->readq_len--;
		}
		int slot = 0;
		while (a->reader_busy[slot])
			slot++;
		r->slot = slot;
		a->reader_busy[slot] = true;
		a->reads_running++;
		r->work.data = r;
		if (uv_queue_work(a->loop, &r->work, read_work, read_done) < 0) {
			for (struct areq *q = r; q; q = q->next)
				api_fail(&q->x, 503, "busy", "the server cannot take this now");
			read_done(&r->work, UV_EINVAL);
			return;
		}
	}
	if (a->write_running || (a->writeq == NULL && a->ntouches == 0) || a->closing)
		return;
	/* Take up to WRITE_BATCH waiting changes, and the touches. */
	struct areq *first = a->writeq, *last = first;
	size_t n = first ? 1 : 0;
	while (last && last->next && n < WRITE_BATCH) {
		last = last->next;
		n++;
	}
	if (last) {
		a->writeq = last->next;
		if (a->writeq == NULL)
			a->writeq_tail = NULL;
		last->next = NULL;
	}
	a->queued -= n;
	a->wbatch = first;
	memcpy(a->wtouches, a->touches, a->ntouches * sizeof(a->touches[0]));
	a->nwtouches = a->ntouches;
	a->ntouches = 0;
	a->write_running = true;
	a->write_work.data = a;
	if (uv_queue_work(a->loop, &a->write_work, write_work, write_done) < 0) {
		for (struct areq *r = first; r; r = r->next)
			api_fail(&r->x, 503, "busy", "the server cannot take this now");
		write_done(&a->write_work, UV_EINVAL);
	}
}

/* Answer r with its context (on the loop); r is freed by http.h's on_end. */
static void
answer(struct areq *r)
{
	struct api_ctx *x = &r->x;
	struct buf h = BUF_INIT, body = BUF_INIT;
	if (x->status == 0)
		api_fail(x, 500, "internal", "the request was not answered");
	if (x->raw_type) {
		buf_printf(&h, "Content-Type: %s\r\n", x->raw_type);
		buf_add(&body, x->raw.data ? x->raw.data : "", x->raw.len);
	} else if (x->out) {
		buf_adds(&h, x->problem ? "Content-Type: application/problem+json\r\n"
		                        : "Content-Type: application/json\r\n");
		char *text =
		    json_dumps(x->out, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		buf_adds(&body, text ? text : "null");
		buf_addc(&body, '\n');
		free(text);
	}
	buf_adds(&h, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	if (x->etag[0])
		buf_printf(&h, "ETag: %s\r\n", x->etag);
	if (x->csp)
		buf_printf(&h, "Content-Security-Policy: %s\r\n", x->csp);
	if (x->location[0])
		buf_printf(&h, "Location: %s\r\n", x->location);
	if (x->set_cookie[0])
		buf_printf(&h, "Set-Cookie: %s\r\n", x->set_cookie);
	if (x->status == 401 && !r->has_cookie && !r->login)
		buf_adds(&h, "WWW-Authenticate: Bearer realm=\"kirim\"\r\n");
	if (x->status == 405 && x->allow[0])
		buf_printf(&h, "Allow: %s\r\n", x->allow);
	if (x->status == 429 || x->status == 503)
		buf_adds(&h, "Retry-After: 1\r\n");
	r->status = x->status;
	r->api->waiting--;
	http_respond(r->hr, x->status, h.data, body.data ? body.data : "", body.len);
	buf_free(&h);
	buf_free(&body);
}

/* Queue r on its lane, or answer 503 when too much waits. */
static void
enqueue(struct api *a, struct areq *r)
{
	if (a->queued >= QUEUE_MAX || a->closing) {
		api_fail(&r->x, 503, "busy", "too many requests are waiting; try again");
		answer(r);
		return;
	}
	r->next = NULL;
	struct areq **head = r->rt.lane == API_LANE_WRITE ? &a->writeq : &a->readq,
	            **tail = r->rt.lane == API_LANE_WRITE ? &a->writeq_tail : &a->readq_tail;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
	a->queued++;
	a->readq_len += r->rt.lane != API_LANE_WRITE;
	lanes_run(a);
}

/* The console's own endpoints below /console/api/ (api_console.c). */
static const struct {
	const char *op, *method, *name;
	enum api_lane lane;
	enum api_scope scope;
	api_handler handler;
} console_ops[] = {
    /* The password is checked in a read work; the session is made in the write lane. */
    {"login", "POST", "console.login", API_LANE_READ, API_SCOPE_NONE, api_console_login},
    {"logout", "POST", "console.logout", API_LANE_WRITE, API_SCOPE_READ, api_console_logout},
    {"session", "GET", "console.session", API_LANE_READ, API_SCOPE_READ, api_console_session},
    /* The template editor's preview: a form posted into its iframe (its CSRF token a field). */
    {"preview", "POST", "console.preview", API_LANE_READ, API_SCOPE_READ, api_console_preview},
};

enum { CONSOLE_NOT, CONSOLE_ANSWERED, CONSOLE_OP };

/*
 * A request below /console: an asset answered here (CONSOLE_ANSWERED), one
 * of console_ops set up in r for the lanes (CONSOLE_OP), or not the
 * console's (CONSOLE_NOT).
 */
static int
console_route(struct areq *r)
{
	const char *p = r->path;
	if (strncmp(p, "/console", 8) != 0 || (p[8] != '\0' && p[8] != '/'))
		return CONSOLE_NOT;
	struct api_ctx *x = &r->x;
	bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (strncmp(p, "/console/api/", 13) == 0) {
		for (size_t i = 0; i < sizeof(console_ops) / sizeof(console_ops[0]); i++) {
			if (strcmp(p + 13, console_ops[i].op) != 0)
				continue;
			if (strcmp(r->method, console_ops[i].method) != 0 &&
			    !(get && strcmp(console_ops[i].method, "GET") == 0)) {
				snprintf(x->allow, sizeof(x->allow), "%s", console_ops[i].method);
				api_fail(x, 405, NULL, "%s takes %s", p, console_ops[i].method);
				answer(r);
				return CONSOLE_ANSWERED;
			}
			r->rt.id = API_ROUTE_COUNT; /* none of the API's */
			r->rt.name = console_ops[i].name;
			r->rt.lane = console_ops[i].lane;
			r->rt.scope = console_ops[i].scope;
			r->rt.head = strcmp(r->method, "HEAD") == 0;
			r->handler = console_ops[i].handler;
			r->login = console_ops[i].handler == api_console_login;
			return CONSOLE_OP;
		}
		api_fail(x, 404, NULL, "no such resource: %s %s", r->method, p);
		answer(r);
		return CONSOLE_ANSWERED;
	}
	r->rt.name = "console.asset";
	const char *type = NULL;
	const struct console_file *f = p[8] == '\0' ? NULL : console_asset(p + 9, &type);
	struct buf h = BUF_INIT;
	buf_adds(&h, console_headers);
	int status = 200;
	if (!get) {
		status = 405;
		buf_adds(&h, "Allow: GET, HEAD\r\n");
	} else if (p[8] == '\0') {
		status = 301;
		buf_adds(&h, "Location: /console/\r\n");
	} else if (f == NULL) {
		status = 404;
	} else {
		buf_printf(&h, "Content-Type: %s\r\n", type);
	}
	if (status != 200)
		buf_adds(&h, "Content-Type: text/plain; charset=utf-8\r\n");
	const char *body = status == 200 ? f->data : status == 404 ? "not found\n" : "";
	size_t len = status == 200 ? f->len : strlen(body);
	r->status = status;
	r->api->waiting--;
	http_respond(r->hr, status, h.data, body, len);
	buf_free(&h);
	return CONSOLE_ANSWERED;
}

/*
 * A console request's own checks, on the loop (0, or -1 when answered): a
 * change made with the session cookie must carry the session's CSRF token
 * and come from this listener's own Origin; a login must come from that
 * Origin too, and waits while its user or its client has had too many wrong
 * passwords.
 */
static int
console_checks(struct api *a, struct areq *r, struct http_req *hr)
{
	struct api_ctx *x = &r->x;
	const char *proto = a->o->trust_proxy ? http_header_last(hr, "X-Forwarded-Proto") : NULL;
	x->secure = proto && strcasecmp(proto, "https") == 0;
	bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	bool by_cookie = r->authorization == NULL && r->has_cookie;
	/* The preview is a form posted into a sandboxed frame, which Chrome sends with Origin
	 * null; it changes nothing and still needs the session's token (its csrf field). */
	bool preview = r->handler == api_console_preview;
	if ((r->login || (by_cookie && !get && !preview)) &&
	    !console_origin_ok(http_header(hr, "Origin"), http_header(hr, "Host"), x->secure)) {
		api_fail(x, 403, "origin",
		         "a change through the console must come from the console's own page "
		         "(Origin %s is not this listener's)",
		         http_header(hr, "Origin") ? http_header(hr, "Origin") : "missing");
		answer(r);
		return -1;
	}
	/* A form cannot set a header: the preview's token is its csrf field. */
	char form_token[128] = "";
	if (preview) {
		struct api_route form = {.query = x->body, .query_len = x->body_len};
		if (api_route_query(&form, "csrf", form_token, sizeof(form_token)) < 0)
			form_token[0] = '\0';
	}
	const char *token = http_header(hr, "X-CSRF-Token");
	if (token == NULL && form_token[0])
		token = form_token;
	if (by_cookie && !get && !r->login && !console_csrf_ok(r->cookie, token)) {
		api_fail(x, 403, "csrf",
		         "the X-CSRF-Token header is missing or is not this session's: reload the "
		         "console");
		answer(r);
		return -1;
	}
	if (!r->login)
		return 0;
	/*
	 * The user name, for its bucket and the audit log; the handler reads the body
	 * again. A login is small: a larger body is not parsed on the loop (its name
	 * is then "", and the handler refuses what it cannot read).
	 */
	json_t *b = x->body_len <= 4096 ? json_loadb(x->body, x->body_len, 0, NULL) : NULL;
	const char *name = json_string_value(json_object_get(b, "name"));
	unsigned char h[32];
	(void)token_sha256(name ? name : "", name ? strlen(name) : 0, h);
	memcpy(r->login_key, h, sizeof(r->login_key));
	snprintf(r->who.name, sizeof(r->who.name), "console:%.100s", name ? name : "");
	double now = (double)uv_hrtime() / 1e9;
	double wu = throttle_bucket_wait(login_bucket(a, r, true, now), now);
	double wa = throttle_bucket_wait(login_bucket(a, r, false, now), now);
	if (wu > 0 || wa > 0) {
		double w = wu > wa ? wu : wa;
		if (wu > 0)
			api_fail(x, 429, "too-many-logins",
			         "too many wrong passwords for '%.100s': try again in %.0f s",
			         name ? name : "", w < 1 ? 1 : w);
		else
			api_fail(x, 429, "too-many-logins",
			         "too many wrong passwords from %s: try again in %.0f s", r->ip,
			         w < 1 ? 1 : w);
		json_decref(b);
		answer(r);
		return -1;
	}
	json_decref(b);
	return 0;
}

static void
on_request(void *arg, struct http_req *hr)
{
	struct api *a = arg;
	struct areq *r = xcalloc(1, sizeof(*r));
	hr->data = r;
	r->api = a;
	r->hr = hr;
	r->t0 = uv_hrtime();
	a->waiting++;
	snprintf(r->method, sizeof(r->method), "%s", hr->method);
	const char *fwd = NULL, *real = NULL;
	if (a->o->trust_proxy) {
		fwd = http_header_last(hr, "X-Forwarded-For");
		real = http_header_last(hr, "X-Real-IP");
	}
	(void)serve_route_client(hr->peer, a->o->trust_proxy, fwd, real, r->addr, r->ip,
	                         sizeof(r->ip));
	api_route_match(hr->method, hr->target, hr->target_len, &r->rt);
	const char *q = memchr(hr->target, '?', hr->target_len);
	r->path = xstrndup(hr->target, q ? (size_t)(q - hr->target) : hr->target_len);
	struct api_ctx *x = &r->x;
	x->rt = &r->rt;
	x->method = r->method;
	x->path = r->path;
	x->body = hr->body ? hr->body : "";
	x->body_len = hr->body_len;
	x->content_type = http_header(hr, "Content-Type");
	x->if_match = http_header(hr, "If-Match");
	x->client = r->ip;
	r->authorization = http_header(hr, "Authorization");
	r->has_cookie =
	    console_cookie(http_header(hr, "Cookie"), r->cookie, sizeof(r->cookie)) == 0;
	if (r->has_cookie && console_csrf(r->cookie, r->csrf) == 0)
		x->csrf = r->csrf;
	int console = console_route(r);
	if (console == CONSOLE_ANSWERED)
		return;
	if (console == CONSOLE_NOT)
		r->handler = handlers[r->rt.id];
	switch (r->rt.id) {
	case API_ROUTE_NOT_FOUND:
		api_fail(x, 404, NULL, "no such resource: %s %s", r->method, r->path);
		answer(r);
		return;
	case API_ROUTE_METHOD:
		snprintf(x->allow, sizeof(x->allow), "%s", r->rt.allow);
		api_fail(x, 405, NULL, "%s takes %s", r->path, r->rt.allow);
		answer(r);
		return;
	case API_OPENAPI:
		x->raw_type = "application/json";
		buf_add(&x->raw, api_openapi_json, api_openapi_json_len);
		x->status = 200;
		answer(r);
		return;
	default:
		break;
	}
	/* Too many failed attempts from this client: nothing more is looked at for a while. */
	double wait = fail_wait(a, r);
	if (wait > 0) {
		api_fail(x, 429, "too-many-failures",
		         "too many requests with a missing or bad token from %s; wait %.0f s",
		         r->ip, wait < 1 ? 1 : wait);
		answer(r);
		return;
	}
	if (console_checks(a, r, hr) < 0)
		return;
	if (r->authorization == NULL && !r->has_cookie && r->rt.scope != API_SCOPE_NONE) {
		r->auth = ACCESS_E_MISSING;
		api_fail(x, 401, "unauthorized",
		         "this API takes a token: Authorization: Bearer TOKEN");
		fail_take(a, r);
		answer(r);
		return;
	}
	enqueue(a, r);
}

static void
on_end(void *arg, struct http_req *hr, int status)
{
	struct api *a = arg;
	(void)a;
	struct areq *r = hr->data;
	if (r == NULL) {
		/* Answered by the HTTP server itself: the request could not be read. */
		log_info("api method=%s status=%d", hr->method ? hr->method : "-", status);
		return;
	}
	log_info("api ip=%s method=%s route=%s status=%d token=%s ms=%.2f", r->ip, r->method,
	         r->rt.name, status, r->auth == 0 && r->who.name[0] ? r->who.name : "-",
	         (double)(uv_hrtime() - r->t0) / 1e6);
	json_decref(r->x.out);
	buf_free(&r->x.raw);
	free(r->path);
	free(r);
	hr->data = NULL;
}

/* ---- life ------------------------------------------------------------------------------ */

struct api *
api_new(uv_loop_t *loop, const struct api_opts *o, char *err, size_t errsz)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	if (serve_route_listen(o->listen, &sa, &salen) < 0) {
		snprintf(err, errsz, "--admin-listen '%s': expected HOST:PORT or [IPV6]:PORT",
		         o->listen);
		return NULL;
	}
	struct api *a = xcalloc(1, sizeof(*a));
	a->o = o;
	a->loop = loop;
	a->fails = xcalloc(FAIL_SLOTS, sizeof(*a->fails));
	a->login_users = xcalloc(FAIL_SLOTS, sizeof(*a->login_users));
	a->login_addrs = xcalloc(FAIL_SLOTS, sizeof(*a->login_addrs));
	uv_mutex_init(&a->jobs_lock);
	struct http_opts ho = {
	    .max_header = 16384,
	    .max_body = o->max_body ? o->max_body : 16u << 20,
	    .timeout = o->timeout ? o->timeout : 30,
	    .max_conns = o->max_conns ? o->max_conns : 256,
	    .max_conns_per_ip = o->max_conns ? o->max_conns : 256,
	    .on_request = on_request,
	    .on_end = on_end,
	    .arg = a,
	};
	char herr[128];
	a->http = http_server_new(loop, (struct sockaddr *)&sa, &ho, herr, sizeof(herr));
	if (a->http == NULL) {
		snprintf(err, errsz, "cannot listen on %s: %s", o->listen, herr);
		uv_mutex_destroy(&a->jobs_lock);
		free(a->fails);
		free(a->login_users);
		free(a->login_addrs);
		free(a);
		return NULL;
	}
	a->port = http_server_port(a->http);
	return a;
}

unsigned
api_port(const struct api *a)
{
	return a->port;
}

void
api_quiesce(struct api *a)
{
	http_server_quiesce(a->http);
	/* A running import is waited for (api_working); queued ones do not start. */
	a->quiescing = true;
}

size_t
api_busy(const struct api *a)
{
	return a->waiting + http_server_conns(a->http);
}

bool
api_working(const struct api *a)
{
	return a->reads_running > 0 || a->write_running || a->import_running;
}

static void
on_http_closed(void *arg)
{
	struct api *a = arg;
	for (int i = 0; i < API_READERS; i++)
		store_close(a->readers[i]);
	store_close(a->writer);
	for (struct import_job *j = a->jobs, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	uv_mutex_destroy(&a->jobs_lock);
	free(a->fails);
	free(a->login_users);
	free(a->login_addrs);
	void (*cb)(void *) = a->on_closed;
	void *cbarg = a->closed_arg;
	free(a);
	if (cb)
		cb(cbarg);
}

void
api_close(struct api *a, void (*on_closed)(void *arg), void *arg)
{
	uv_mutex_lock(&a->jobs_lock); /* api_import_queue reads it from the works */
	a->closing = true;
	uv_mutex_unlock(&a->jobs_lock);
	/* What still waits for a lane is answered now; no work may be running (api_busy). */
	struct areq *lists[2] = {a->readq, a->writeq};
	a->readq = a->readq_tail = a->writeq = a->writeq_tail = NULL;
	a->readq_len = 0;
	for (int i = 0; i < 2; i++)
		for (struct areq *r = lists[i]; r;) {
			struct areq *next = r->next;
			api_fail(&r->x, 503, "busy", "the server is stopping");
			answer(r);
			r = next;
		}
	a->queued = 0;
	a->on_closed = on_closed;
	a->closed_arg = arg;
	http_server_close(a->http, on_http_closed, a);
}
