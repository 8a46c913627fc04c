/*
 * api_route - the routes of kirim's HTTP API (`kirim serve --admin-listen`):
 * one table of method, path pattern, the scope a token needs and the lane
 * the request runs in, and the pure work of reading a request target: which
 * route, its path parameters (percent-decoded), and the query's parameters.
 *
 * Patterns are literal segments and {name} segments, which match one
 * non-empty segment; a parameter is percent-decoded and may not hold NUL,
 * '/' (as %2F it is fine: an address or a domain pattern never has one, so
 * none is taken) or bytes that are not UTF-8. HEAD matches what GET does. A path the
 * table knows with another method gives API_ROUTE_METHOD with the methods it
 * takes; anything else API_ROUTE_NOT_FOUND.
 *
 * Pure code: no I/O, no globals, no logging.
 */
#ifndef KIRIM_API_ROUTE_H
#define KIRIM_API_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

enum api_route_id {
	API_ROUTE_NOT_FOUND,
	API_ROUTE_METHOD, /* a known path, a method it does not take */
	API_OPENAPI,
	API_STATUS,
	API_STATS,
	API_LISTS,
	API_LIST_CREATE,
	API_LIST_GET,
	API_LIST_DELETE,
	API_CONTACTS,
	API_CONTACT_UPSERT,
	API_CONTACT_GET,
	API_CONTACT_UPDATE,
	API_CONTACT_DELETE,
	API_CONTACT_TAGS,
	API_CONTACT_ATTRIBUTES,
	API_SEGMENTS,
	API_SEGMENT_CREATE,
	API_SEGMENT_GET,
	API_SEGMENT_UPDATE,
	API_SEGMENT_DELETE,
	API_SEGMENT_COUNT,
	API_SUPPRESSIONS,
	API_SUPPRESSION_ADD,
	API_SUPPRESSION_REMOVE,
	API_TEMPLATES,
	API_TEMPLATE_CREATE,
	API_TEMPLATE_GET,
	API_TEMPLATE_RENDER,
	API_TEMPLATE_LINT,
	API_CAMPAIGNS,
	API_CAMPAIGN_CREATE,
	API_CAMPAIGN_GET,
	API_CAMPAIGN_SCHEDULE,
	API_CAMPAIGN_UNSCHEDULE,
	API_CAMPAIGN_PAUSE,
	API_CAMPAIGN_RESUME,
	API_CAMPAIGN_CANCEL,
	API_CAMPAIGN_PLAN,
	API_CAMPAIGN_REPORT,
	API_CAMPAIGN_LOG,
	API_DOMAINS,
	API_DOMAIN_GET,
	API_DOMAIN_SET,
	API_DOMAIN_UNSET,
	API_AUDIT,
	API_IMPORT_START,
	API_IMPORT_GET,
	API_WEBHOOKS,
	API_WEBHOOK_ADD,
	API_WEBHOOK_GET,
	API_WEBHOOK_DELETE,
	API_IMPORT_PREVIEW,
	API_IMPORT_REJECTS,
	API_TEMPLATE_MESSAGE,
	API_TEMPLATE_TEST,
	API_ROUTE_COUNT
};

/* What a token must allow: each scope allows the ones below it. */
enum api_scope { API_SCOPE_NONE, API_SCOPE_READ, API_SCOPE_WRITE, API_SCOPE_ADMIN };

/*
 * Where a request runs: answered on the loop (nothing read from the
 * database), on a read connection (several at once), or in the write lane
 * (one batch of requests at a time, each in a savepoint of one transaction).
 */
enum api_lane { API_LANE_LOOP, API_LANE_READ, API_LANE_WRITE };

enum { API_PARAMS_MAX = 2, API_PARAM_MAX = 512 };

struct api_route {
	enum api_route_id id;
	enum api_scope scope;
	enum api_lane lane;
	const char *name; /* "contact.get": for logs and the audit log */
	bool head;        /* a HEAD request: answered as GET, without a body */
	unsigned nparams;
	char params[API_PARAMS_MAX][API_PARAM_MAX]; /* decoded, NUL-terminated */
	const char *query;                          /* into the target, after '?'; NULL if none */
	size_t query_len;
	char allow[64]; /* API_ROUTE_METHOD: "GET, HEAD, POST" */
};

/*
 * api_route_match - route method (NUL-terminated) and the n bytes of target
 * (path and query) into *out. Always fills *out.
 */
void api_route_match(const char *method, const char *target, size_t n, struct api_route *out);

/*
 * api_route_query - the value of query parameter name, form-decoded ('+' is
 * a blank, %XX a byte) into out (outsz bytes, NUL-terminated). Returns its
 * length; -1 when absent; -2 when it does not decode (NUL, bad escape, not
 * UTF-8) or does not fit. A parameter given twice: the first one.
 */
int api_route_query(const struct api_route *r, const char *name, char *out, size_t outsz);
/* api_route_query_nth - api_route_query for the nth (0-based) time name is given */
int api_route_query_nth(const struct api_route *r, const char *name, unsigned nth, char *out,
                        size_t outsz);

/*
 * api_route_query_known - 0 when every query parameter is one of names (a
 * NULL-terminated list), else -1 with the first other one's name (decoded,
 * cut to fit) in unknown (unknownsz bytes)
 */
int api_route_query_known(const struct api_route *r, const char *const *names, char *unknown,
                          size_t unknownsz);

/*
 * api_route_escape - seg as one path segment (RFC 3986 pchar: what is not
 * unreserved, a sub-delim, ':' or '@' as %XX) into out (outsz bytes,
 * NUL-terminated; cut at a whole character when it does not fit); its length
 */
size_t api_route_escape(const char *seg, char *out, size_t outsz);

/* api_route_info - a route's method, pattern and name, for the OpenAPI check and docs */
void api_route_info(enum api_route_id id, const char **method, const char **pattern,
                    const char **name);

#endif
