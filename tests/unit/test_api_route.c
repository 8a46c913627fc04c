/* test_api_route - the API's route table, path parameters and query parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "kirim/api_route.h"

static void
test_match(void **state)
{
	(void)state;
	static const struct {
		const char *label, *method, *target;
		enum api_route_id want;
		const char *p0, *p1, *allow;
		enum api_scope scope;
		enum api_lane lane;
	} cases[] = {
	    {"status", "GET", "/api/status", API_STATUS, NULL, NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"status head", "HEAD", "/api/status", API_STATUS, NULL, NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"status query", "GET", "/api/status?x=1", API_STATUS, NULL, NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"status post", "POST", "/api/status", API_ROUTE_METHOD, NULL, NULL, "GET, HEAD", 0, 0},
	    {"stats", "GET", "/api/stats?days=7", API_STATS, NULL, NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"openapi", "GET", "/api/openapi.json", API_OPENAPI, NULL, NULL, NULL, API_SCOPE_NONE,
	     API_LANE_LOOP},
	    {"lists", "GET", "/api/lists", API_LISTS, NULL, NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"lists post", "POST", "/api/lists", API_LIST_CREATE, NULL, NULL, NULL, API_SCOPE_WRITE,
	     API_LANE_WRITE},
	    {"lists put", "PUT", "/api/lists", API_ROUTE_METHOD, NULL, NULL, "GET, HEAD, POST", 0,
	     0},
	    {"list", "GET", "/api/lists/news", API_LIST_GET, "news", NULL, NULL, API_SCOPE_READ,
	     API_LANE_READ},
	    {"list escaped", "GET", "/api/lists/spring%20sale", API_LIST_GET, "spring sale", NULL,
	     NULL, API_SCOPE_READ, API_LANE_READ},
	    {"list plus stays", "GET", "/api/lists/a+b", API_LIST_GET, "a+b", NULL, NULL,
	     API_SCOPE_READ, API_LANE_READ},
	    {"list slash escaped", "GET", "/api/lists/a%2Fb", API_LIST_GET, "a/b", NULL, NULL,
	     API_SCOPE_READ, API_LANE_READ},
	    {"list utf-8", "GET", "/api/lists/caf%C3%A9", API_LIST_GET, "caf\xc3\xa9", NULL, NULL,
	     API_SCOPE_READ, API_LANE_READ},
	    {"list not utf-8", "GET", "/api/lists/caf%E9", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0,
	     0},
	    {"list nul", "GET", "/api/lists/a%00b", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"list bad escape", "GET", "/api/lists/a%2", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0,
	     0},
	    {"list bad hex", "GET", "/api/lists/a%zz", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"list delete", "DELETE", "/api/lists/x", API_LIST_DELETE, "x", NULL, NULL,
	     API_SCOPE_WRITE, API_LANE_WRITE},
	    {"list trailing slash", "GET", "/api/lists/", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0,
	     0},
	    {"list deeper", "GET", "/api/lists/a/b", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"contact", "GET", "/api/contacts/ann+x@one.example", API_CONTACT_GET,
	     "ann+x@one.example", NULL, NULL, API_SCOPE_READ, API_LANE_READ},
	    {"contact patch", "PATCH", "/api/contacts/a@b.example", API_CONTACT_UPDATE,
	     "a@b.example", NULL, NULL, API_SCOPE_WRITE, API_LANE_WRITE},
	    {"contact put", "PUT", "/api/contacts/a@b.example", API_ROUTE_METHOD, NULL, NULL,
	     "GET, HEAD, PATCH, DELETE", 0, 0},
	    {"render", "POST", "/api/templates/welcome/render", API_TEMPLATE_RENDER, "welcome",
	     NULL, NULL, API_SCOPE_READ, API_LANE_READ},
	    {"render get", "GET", "/api/templates/welcome/render", API_ROUTE_METHOD, NULL, NULL,
	     "POST", 0, 0},
	    {"schedule", "POST", "/api/campaigns/c1/schedule", API_CAMPAIGN_SCHEDULE, "c1", NULL,
	     NULL, API_SCOPE_WRITE, API_LANE_WRITE},
	    {"report", "GET", "/api/campaigns/c1/report", API_CAMPAIGN_REPORT, "c1", NULL, NULL,
	     API_SCOPE_READ, API_LANE_READ},
	    {"domain set", "PATCH", "/api/domains/*.example", API_DOMAIN_SET, "*.example", NULL,
	     NULL, API_SCOPE_ADMIN, API_LANE_WRITE},
	    {"audit", "GET", "/api/audit", API_AUDIT, NULL, NULL, NULL, API_SCOPE_ADMIN,
	     API_LANE_READ},
	    {"unknown", "GET", "/api/nothing", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"root", "GET", "/", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"empty", "GET", "", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	    {"public route on admin", "GET", "/u/abc", API_ROUTE_NOT_FOUND, NULL, NULL, NULL, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_route r;
		api_route_match(cases[i].method, cases[i].target, strlen(cases[i].target), &r);
		if (r.id != cases[i].want)
			fail_msg("%s: got route %d want %d", cases[i].label, r.id, cases[i].want);
		if (cases[i].p0 && strcmp(r.params[0], cases[i].p0) != 0)
			fail_msg("%s: got param [%s] want [%s]", cases[i].label, r.params[0],
			         cases[i].p0);
		if (cases[i].allow && strcmp(r.allow, cases[i].allow) != 0)
			fail_msg("%s: got Allow [%s] want [%s]", cases[i].label, r.allow,
			         cases[i].allow);
		if (r.id > API_ROUTE_METHOD &&
		    (r.scope != cases[i].scope || r.lane != cases[i].lane))
			fail_msg("%s: got scope %d lane %d want %d %d", cases[i].label, r.scope,
			         r.lane, cases[i].scope, cases[i].lane);
		if (strcmp(cases[i].method, "HEAD") == 0 && !r.head)
			fail_msg("%s: HEAD not marked", cases[i].label);
	}
}

static void
test_query(void **state)
{
	(void)state;
	static const struct {
		const char *label, *target, *name;
		int want_len;
		const char *want;
	} cases[] = {
	    {"simple", "/api/contacts?prefix=ann", "prefix", 3, "ann"},
	    {"second", "/api/contacts?limit=5&prefix=ann", "prefix", 3, "ann"},
	    {"first of two", "/api/contacts?prefix=a&prefix=b", "prefix", 1, "a"},
	    {"plus is blank", "/api/contacts?list=a+b", "list", 3, "a b"},
	    {"escaped plus", "/api/contacts?prefix=a%2Bb", "prefix", 3, "a+b"},
	    {"empty value", "/api/contacts?prefix=", "prefix", 0, ""},
	    {"no value", "/api/contacts?prefix", "prefix", 0, ""},
	    {"absent", "/api/contacts?limit=5", "prefix", -1, NULL},
	    {"no query", "/api/contacts", "prefix", -1, NULL},
	    {"bad escape", "/api/contacts?prefix=%G1", "prefix", -2, NULL},
	    {"nul", "/api/contacts?prefix=%00", "prefix", -2, NULL},
	    {"escaped name", "/api/contacts?pre%66ix=x", "prefix", 1, "x"},
	    {"empty parts", "/api/contacts?&&prefix=x&", "prefix", 1, "x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_route r;
		char out[64];
		api_route_match("GET", cases[i].target, strlen(cases[i].target), &r);
		int n = api_route_query(&r, cases[i].name, out, sizeof(out));
		if (n != cases[i].want_len)
			fail_msg("%s: got %d want %d", cases[i].label, n, cases[i].want_len);
		if (cases[i].want && strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].label, out, cases[i].want);
	}
	/* Too long for the caller's buffer: refused, not cut. */
	struct api_route r;
	char small[4];
	api_route_match("GET", "/api/contacts?prefix=abcdef", 27, &r);
	assert_int_equal(api_route_query(&r, "prefix", small, sizeof(small)), -2);
}

static void
test_query_known(void **state)
{
	(void)state;
	static const char *const names[] = {"limit", "cursor", NULL};
	static const struct {
		const char *label, *target;
		int want;
		const char *unknown;
	} cases[] = {
	    {"none", "/api/lists", 0, NULL},
	    {"known", "/api/lists?limit=1&cursor=k", 0, NULL},
	    {"empty parts", "/api/lists?&limit=1&", 0, NULL},
	    {"unknown", "/api/lists?limit=1&sort=name", -1, "sort"},
	    {"misspelt", "/api/lists?limt=1", -1, "limt"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_route r;
		char unknown[32] = "";
		api_route_match("GET", cases[i].target, strlen(cases[i].target), &r);
		int rc = api_route_query_known(&r, names, unknown, sizeof(unknown));
		if (rc != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].label, rc, cases[i].want);
		if (cases[i].unknown && strcmp(unknown, cases[i].unknown) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].label, unknown,
			         cases[i].unknown);
	}
}

/* Every route has a name, a method and a pattern, and matches its own pattern. */
static void
test_table(void **state)
{
	(void)state;
	for (int id = API_OPENAPI; id < API_ROUTE_COUNT; id++) {
		const char *m, *p, *n;
		api_route_info((enum api_route_id)id, &m, &p, &n);
		if (m == NULL)
			fail_msg("route %d is not in the table", id);
		char path[256];
		size_t o = 0;
		for (const char *c = p; *c && o < sizeof(path) - 2;) {
			if (*c == '{') {
				path[o++] = 'x';
				c = strchr(c, '}') + 1;
			} else {
				path[o++] = *c++;
			}
		}
		path[o] = '\0';
		struct api_route r;
		api_route_match(m, path, o, &r);
		if ((int)r.id != id)
			fail_msg("%s %s (%s) matched route %d, not itself", m, path, n, r.id);
	}
}

/* A segment escaped and matched again gives the same parameter back. */
static void
test_escape(void **state)
{
	(void)state;
	static const char *const segs[] = {"ann@one.example", "a b",  "a/b",   "\"q x\"@b.example",
	                                   "caf\xc3\xa9",     "100%", "a?b#c", "+tag"};
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		char esc[128], target[160];
		api_route_escape(segs[i], esc, sizeof(esc));
		assert_null(strpbrk(esc, "/?# \""));
		snprintf(target, sizeof(target), "/api/lists/%s", esc);
		struct api_route r;
		api_route_match("GET", target, strlen(target), &r);
		if (r.id != API_LIST_GET || strcmp(r.params[0], segs[i]) != 0)
			fail_msg("[%s] escaped as [%s] came back as %d [%s]", segs[i], esc, r.id,
			         r.params[0]);
	}
	char small[4];
	assert_int_equal(api_route_escape("a b", small, sizeof(small)), 1);
	assert_string_equal(small, "a");
}

/* Every route of the table is an operation of docs/openapi.json, and no other is there. */
static void
test_openapi(void **state)
{
	(void)state;
	const char *src = getenv("KIRIM_SRC");
	char path[1024];
	snprintf(path, sizeof(path), "%s/docs/openapi.json", src ? src : ".");
	json_error_t e;
	json_t *doc = json_load_file(path, 0, &e);
	if (doc == NULL)
		fail_msg("%s: %s", path, e.text);
	json_t *paths = json_object_get(doc, "paths");
	size_t ops = 0;
	const char *key;
	json_t *item;
	json_object_foreach(paths, key, item)
	{
		const char *m;
		json_t *op;
		json_object_foreach(item, m, op)
		{
			ops += strcmp(m, "parameters") != 0;
		}
	}
	size_t routes = 0;
	for (int id = API_OPENAPI; id < API_ROUTE_COUNT; id++) {
		const char *m, *p, *n;
		api_route_info((enum api_route_id)id, &m, &p, &n);
		char lower[16];
		size_t i = 0;
		for (; m[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(m[i] | 0x20);
		lower[i] = '\0';
		if (json_object_get(json_object_get(paths, p), lower) == NULL)
			fail_msg("%s %s (%s) is not in docs/openapi.json", m, p, n);
		routes++;
	}
	if (ops != routes)
		fail_msg("docs/openapi.json has %zu operations, the route table %zu", ops, routes);
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),       cmocka_unit_test(test_query),
	    cmocka_unit_test(test_query_known), cmocka_unit_test(test_table),
	    cmocka_unit_test(test_escape),      cmocka_unit_test(test_openapi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
