/*
 * api_int - what the API's dispatcher (api.c) and its handler files
 * (api_*.c) share: the context a handler gets and fills, and the helpers
 * that answer. src/app/ only.
 *
 * A handler runs in a work of the thread pool, on the store the context
 * names (a read connection, or the write lane's inside a savepoint): it
 * reads the request from the context, calls the app/ or store/ function
 * that does the job, and sets status and the body (a JSON value, or a
 * problem). In the write lane a status of 300 or more undoes whatever the
 * handler changed. Handlers never log (the dispatcher logs each request).
 */
#ifndef KIRIM_API_INT_H
#define KIRIM_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kirim/access.h"
#include "kirim/api_json.h"
#include "kirim/api_route.h"
#include "kirim/buf.h"
#include "kirim/users.h"

struct api;
struct store;
struct config;

enum {
	API_PAGE_DEFAULT = 100, /* items per page unless ?limit= says */
	API_PAGE_MAX = 1000,
};

struct api_ctx {
	/* The request. */
	struct api *api; /* for the import jobs (api_import_*) */
	struct store *s;
	const struct config *cfg;
	const struct api_route *rt;
	const char *method;
	const char *path; /* without the query, NUL-terminated */
	const char *body; /* NUL-terminated */
	size_t body_len;
	const char *content_type; /* NULL when absent */
	const char *if_match;     /* NULL when absent */
	const struct access_who *who;
	const char *client; /* the client's address as text */
	const char *csrf;   /* a console session's CSRF token (console_auth.h); NULL otherwise */
	bool secure; /* the client came over TLS (a trusted proxy said so): cookies are Secure */
	int64_t now;
	/* The answer. */
	int status;
	json_t *out;             /* the body; NULL: none (204) */
	bool problem;            /* out is a problem details object */
	char etag[API_ETAG_MAX]; /* "" when none */
	char location[1024];     /* "" when none */
	char resource[600];      /* for the audit log: "contact:ann@example.com"; "" none */
	const char *audit_path;  /* for the audit log instead of path (an erasure's); NULL: path */
	const char *raw_type;    /* a body that is not JSON: its Content-Type */
	const char *csp;         /* its Content-Security-Policy; NULL: none */
	struct buf raw;          /* and its bytes */
	char allow[64];          /* a 405's Allow */
	char set_cookie[256];    /* a Set-Cookie value (the console's login and logout); "" none */
	/*
	 * A request in two steps: a read work's handler that leaves status 0 and
	 * sets then has the request run again by then in the write lane (the
	 * console's login: the password checked on a read connection, the
	 * session made in the write lane), with login kept between the two.
	 */
	void (*then)(struct api_ctx *x);
	struct users_login login;
};

/* api_fail - answer a problem (status, slug as api_problem, a sentence); returns -1 */
int api_fail(struct api_ctx *x, int status, const char *slug, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* api_fail_store - answer a store or app error code with err (NULL: the store's message) */
int api_fail_store(struct api_ctx *x, int rc, const char *err);
struct store_contact;
/* api_contact_read - the contact at address text (any form the address rules take: case,
 * a Unicode domain) into *c; -1 when answered (404 not an address or no such contact) */
int api_contact_read(struct api_ctx *x, const char *email, struct store_contact *c);
/* api_location - the Location of a resource made: base ("/api/lists/") and seg escaped */
void api_location(struct api_ctx *x, const char *base, const char *seg);
/* api_ok - answer status with v (released by the answer; NULL: no body) */
void api_ok(struct api_ctx *x, int status, json_t *v);
/* api_ok_tagged - api_ok with v's ETag */
void api_ok_tagged(struct api_ctx *x, int status, json_t *v);
/*
 * api_body - the request's body as a JSON object (or, with any, any value)
 * into *out (the caller's); 415 for another media type, 400 for a body that
 * does not parse or is not an object; -1 then (answered)
 */
int api_body(struct api_ctx *x, bool any, json_t **out);
/*
 * api_query - query parameter name into out (NUL-terminated); 0 when given,
 * 1 when absent, -1 (answered 400) when it does not decode or fit
 */
int api_query(struct api_ctx *x, const char *name, char *out, size_t outsz);
/* api_query_bool - ?name= as true or false into *out, dflt when it is absent; -1 after
 * answering 400 for any other value */
int api_query_bool(struct api_ctx *x, const char *name, bool dflt, bool *out);
/* api_query_only - answer 400 (and return -1) when the query has a parameter not in names */
int api_query_only(struct api_ctx *x, const char *const *names);
/*
 * Keyset pagination: api_page_start reads ?limit= (1..API_PAGE_MAX) and
 * ?cursor= (decoded into after; "" for the first page); api_page_end makes
 * {"items": items, "next_cursor": ...} from the items and the key of the
 * last one, when more follow.
 */
struct api_page {
	int limit;
	char after[API_CURSOR_KEY_MAX + 1];
	json_t *items;
	int n;
	bool more;                         /* an item past limit was seen */
	char last[API_CURSOR_KEY_MAX + 1]; /* the key of the last item taken */
};
int api_page_start(struct api_ctx *x, struct api_page *p);
/* api_page_add - add v (released) with its key; false (v released) when the page is full */
bool api_page_add(struct api_page *p, json_t *v, const char *key);
/* api_page_end - answer 200 with the page */
void api_page_end(struct api_ctx *x, struct api_page *p);
/* api_str - o[key] as a string (NULL when absent or null); -1 (answered 422) when another type */
int api_str(struct api_ctx *x, json_t *o, const char *key, const char **out);
/* api_bool - o[key] as a bool (*out kept when absent); -1 (answered 422) when another type */
int api_bool(struct api_ctx *x, json_t *o, const char *key, bool *out);
/* api_only - answer 422 (and return -1) when o has a key not in names */
int api_only(struct api_ctx *x, json_t *o, const char *const *names);

/*
 * Imports run in the background, one at a time, each on a connection of its
 * own (importer.h: one transaction), their progress kept in memory while
 * kirim serve runs. api_import_queue takes a CSV file the server wrote
 * (deleted after the import) and returns the job's id, or -1 when
 * API_IMPORTS_WAITING wait already; api_import_json is a job as JSON, NULL
 * when there is none with that id. Any thread.
 */
enum { API_IMPORTS_WAITING = 16, API_IMPORTS_KEPT = 256 };
struct api_import_opts {
	const char *list, *email_column, *encoding;
	char delimiter;
	bool update;
	const char *map, *tags_column; /* importer_opts' */
	const char *const *ignore;
	size_t nignore;
	const char
	    *rejects; /* a file the server made for the rejected rows; deleted with the job */
};
int64_t api_import_queue(struct api *a, const char *path, const struct api_import_opts *o);
json_t *api_import_json(struct api *a, int64_t id);
/*
 * api_import_rejects - job id's rejected rows (the importer's CSV) appended to out: 0;
 * 1 when the job has none (not done, or none asked); -1 when there is no such job
 */
int api_import_rejects(struct api *a, int64_t id, struct buf *out);

typedef void (*api_handler)(struct api_ctx *x);

/* The handlers, by resource (api_*.c). */
void api_status(struct api_ctx *x);
void api_stats(struct api_ctx *x);
void api_lists(struct api_ctx *x);
void api_list_create(struct api_ctx *x);
void api_list_get(struct api_ctx *x);
void api_list_delete(struct api_ctx *x);
void api_contacts(struct api_ctx *x);
void api_contact_upsert(struct api_ctx *x);
void api_contact_get(struct api_ctx *x);
void api_contact_update(struct api_ctx *x);
void api_contact_delete(struct api_ctx *x);
void api_contact_tags(struct api_ctx *x);
void api_contact_attributes(struct api_ctx *x);
void api_segments(struct api_ctx *x);
void api_segment_create(struct api_ctx *x);
void api_segment_get(struct api_ctx *x);
void api_segment_update(struct api_ctx *x);
void api_segment_delete(struct api_ctx *x);
void api_segment_count(struct api_ctx *x);
void api_suppressions(struct api_ctx *x);
void api_suppression_add(struct api_ctx *x);
void api_suppression_remove(struct api_ctx *x);
void api_templates(struct api_ctx *x);
void api_template_create(struct api_ctx *x);
void api_template_get(struct api_ctx *x);
void api_template_render(struct api_ctx *x);
void api_template_lint(struct api_ctx *x);
void api_campaigns(struct api_ctx *x);
void api_campaign_create(struct api_ctx *x);
void api_campaign_get(struct api_ctx *x);
void api_campaign_move(struct api_ctx *x);
void api_campaign_plan(struct api_ctx *x);
void api_campaign_report(struct api_ctx *x);
void api_campaign_log(struct api_ctx *x);
void api_domains(struct api_ctx *x);
void api_domain_get(struct api_ctx *x);
void api_domain_set(struct api_ctx *x);
void api_domain_unset(struct api_ctx *x);
void api_audit(struct api_ctx *x);
void api_import_start(struct api_ctx *x);
void api_import_get(struct api_ctx *x);
void api_import_preview(struct api_ctx *x);
void api_import_rejects_get(struct api_ctx *x);
void api_template_message(struct api_ctx *x);
void api_template_test(struct api_ctx *x);
void api_webhooks(struct api_ctx *x);
void api_webhook_add(struct api_ctx *x);
void api_webhook_get(struct api_ctx *x);
void api_webhook_delete(struct api_ctx *x);
/* The web console's own (api_console.c): login, logout, who the session is. */
void api_console_login(struct api_ctx *x);
void api_console_login_open(struct api_ctx *x);
void api_console_logout(struct api_ctx *x);
void api_console_session(struct api_ctx *x);
void api_console_preview(struct api_ctx *x);

#endif
