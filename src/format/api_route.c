/*
 * api_route - the API's route table and request-target parsing (see
 * api_route.h). Pure code.
 */
#include "kirim/api_route.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kirim/hex.h"
#include "kirim/utf8.h"

/*
 * The table: one row per method and pattern. The scope a request needs, and
 * where it runs, are the row's: reads on a read connection, changes in the
 * write lane; render, lint and plan change nothing and run as reads.
 */
static const struct {
	enum api_route_id id;
	const char *method, *pattern, *name;
	enum api_scope scope;
	enum api_lane lane;
} routes[] = {
    {API_OPENAPI, "GET", "/api/openapi.json", "openapi", API_SCOPE_NONE, API_LANE_LOOP},
    {API_STATUS, "GET", "/api/status", "status", API_SCOPE_READ, API_LANE_READ},
    {API_STATS, "GET", "/api/stats", "stats", API_SCOPE_READ, API_LANE_READ},
    {API_LISTS, "GET", "/api/lists", "lists.list", API_SCOPE_READ, API_LANE_READ},
    {API_LIST_CREATE, "POST", "/api/lists", "lists.create", API_SCOPE_WRITE, API_LANE_WRITE},
    {API_LIST_GET, "GET", "/api/lists/{name}", "lists.get", API_SCOPE_READ, API_LANE_READ},
    {API_LIST_DELETE, "DELETE", "/api/lists/{name}", "lists.delete", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CONTACTS, "GET", "/api/contacts", "contacts.list", API_SCOPE_READ, API_LANE_READ},
    {API_CONTACT_UPSERT, "POST", "/api/contacts", "contacts.upsert", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CONTACT_GET, "GET", "/api/contacts/{email}", "contacts.get", API_SCOPE_READ,
     API_LANE_READ},
    {API_CONTACT_UPDATE, "PATCH", "/api/contacts/{email}", "contacts.update", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CONTACT_DELETE, "DELETE", "/api/contacts/{email}", "contacts.delete", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CONTACT_TAGS, "POST", "/api/contacts/{email}/tags", "contacts.tags", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CONTACT_ATTRIBUTES, "POST", "/api/contacts/{email}/attributes", "contacts.attributes",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_SEGMENTS, "GET", "/api/segments", "segments.list", API_SCOPE_READ, API_LANE_READ},
    {API_SEGMENT_CREATE, "POST", "/api/segments", "segments.create", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_SEGMENT_GET, "GET", "/api/segments/{name}", "segments.get", API_SCOPE_READ, API_LANE_READ},
    {API_SEGMENT_UPDATE, "PUT", "/api/segments/{name}", "segments.update", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_SEGMENT_DELETE, "DELETE", "/api/segments/{name}", "segments.delete", API_SCOPE_WRITE,
     API_LANE_WRITE},
    /* A count changes nothing: read scope, as a template's render (POST for the body). */
    {API_SEGMENT_COUNT, "POST", "/api/segments/count", "segments.count", API_SCOPE_READ,
     API_LANE_READ},
    {API_SUPPRESSIONS, "GET", "/api/suppressions", "suppressions.list", API_SCOPE_READ,
     API_LANE_READ},
    {API_SUPPRESSION_ADD, "POST", "/api/suppressions", "suppressions.add", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_SUPPRESSION_REMOVE, "DELETE", "/api/suppressions/{value}", "suppressions.remove",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_TEMPLATES, "GET", "/api/templates", "templates.list", API_SCOPE_READ, API_LANE_READ},
    {API_TEMPLATE_CREATE, "POST", "/api/templates", "templates.create", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_TEMPLATE_GET, "GET", "/api/templates/{name}", "templates.get", API_SCOPE_READ,
     API_LANE_READ},
    {API_TEMPLATE_RENDER, "POST", "/api/templates/{name}/render", "templates.render",
     API_SCOPE_READ, API_LANE_READ},
    {API_TEMPLATE_LINT, "GET", "/api/templates/{name}/lint", "templates.lint", API_SCOPE_READ,
     API_LANE_READ},
    {API_TEMPLATE_MESSAGE, "POST", "/api/templates/{name}/message", "templates.message",
     API_SCOPE_READ, API_LANE_READ},
    /* A proof goes out by SMTP: an editor's change, run on a read connection (it changes
     * nothing in the database) so that the write lane never waits for a relay. */
    {API_TEMPLATE_TEST, "POST", "/api/templates/{name}/test", "templates.test", API_SCOPE_WRITE,
     API_LANE_READ},
    {API_CAMPAIGNS, "GET", "/api/campaigns", "campaigns.list", API_SCOPE_READ, API_LANE_READ},
    {API_CAMPAIGN_CREATE, "POST", "/api/campaigns", "campaigns.create", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CAMPAIGN_GET, "GET", "/api/campaigns/{name}", "campaigns.get", API_SCOPE_READ,
     API_LANE_READ},
    {API_CAMPAIGN_SCHEDULE, "POST", "/api/campaigns/{name}/schedule", "campaigns.schedule",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_CAMPAIGN_UNSCHEDULE, "POST", "/api/campaigns/{name}/unschedule", "campaigns.unschedule",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_CAMPAIGN_PAUSE, "POST", "/api/campaigns/{name}/pause", "campaigns.pause", API_SCOPE_WRITE,
     API_LANE_WRITE},
    {API_CAMPAIGN_RESUME, "POST", "/api/campaigns/{name}/resume", "campaigns.resume",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_CAMPAIGN_CANCEL, "POST", "/api/campaigns/{name}/cancel", "campaigns.cancel",
     API_SCOPE_WRITE, API_LANE_WRITE},
    {API_CAMPAIGN_PLAN, "GET", "/api/campaigns/{name}/plan", "campaigns.plan", API_SCOPE_READ,
     API_LANE_READ},
    {API_CAMPAIGN_REPORT, "GET", "/api/campaigns/{name}/report", "campaigns.report", API_SCOPE_READ,
     API_LANE_READ},
    {API_CAMPAIGN_LOG, "GET", "/api/campaigns/{name}/log", "campaigns.log", API_SCOPE_READ,
     API_LANE_READ},
    {API_DOMAINS, "GET", "/api/domains", "domains.list", API_SCOPE_READ, API_LANE_READ},
    {API_DOMAIN_GET, "GET", "/api/domains/{pattern}", "domains.get", API_SCOPE_READ, API_LANE_READ},
    {API_DOMAIN_SET, "PATCH", "/api/domains/{pattern}", "domains.set", API_SCOPE_ADMIN,
     API_LANE_WRITE},
    {API_DOMAIN_UNSET, "DELETE", "/api/domains/{pattern}", "domains.unset", API_SCOPE_ADMIN,
     API_LANE_WRITE},
    {API_AUDIT, "GET", "/api/audit", "audit.list", API_SCOPE_ADMIN, API_LANE_READ},
    {API_IMPORT_START, "POST", "/api/imports", "imports.start", API_SCOPE_WRITE, API_LANE_WRITE},
    {API_IMPORT_GET, "GET", "/api/imports/{id}", "imports.get", API_SCOPE_READ, API_LANE_READ},
    /* The first step of an import (nothing written): an editor's, as the import is. */
    {API_IMPORT_PREVIEW, "POST", "/api/imports/preview", "imports.preview", API_SCOPE_WRITE,
     API_LANE_READ},
    {API_IMPORT_REJECTS, "GET", "/api/imports/{id}/rejects", "imports.rejects", API_SCOPE_READ,
     API_LANE_READ},
    {API_WEBHOOKS, "GET", "/api/webhooks", "webhooks.list", API_SCOPE_ADMIN, API_LANE_READ},
    {API_WEBHOOK_ADD, "POST", "/api/webhooks", "webhooks.add", API_SCOPE_ADMIN, API_LANE_WRITE},
    {API_WEBHOOK_GET, "GET", "/api/webhooks/{id}", "webhooks.get", API_SCOPE_ADMIN, API_LANE_READ},
    {API_WEBHOOK_DELETE, "DELETE", "/api/webhooks/{id}", "webhooks.delete", API_SCOPE_ADMIN,
     API_LANE_WRITE},
};
enum { NROUTES = sizeof(routes) / sizeof(routes[0]) };

/*
 * Percent-decode the n bytes at s into out (outsz bytes, NUL-terminated);
 * form: '+' is a blank. -1 for a bad escape, a NUL, bytes that are not
 * UTF-8, or no room.
 */
static int
decode(const char *s, size_t n, bool form, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1; /* fewer than two digits follow */
			int h = hex_value((unsigned char)s[i + 1]),
			    l = hex_value((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		} else if (c == '+' && form) {
			c = ' ';
		}
		if (c == 0 || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return utf8_valid(out, o) ? (int)o : -1;
}

/* Match path (n bytes, no query) against pattern; params decoded into r. */
static bool
match(const char *pattern, const char *path, size_t n, struct api_route *r)
{
	const char *p = pattern, *s = path, *end = path + n;
	unsigned np = 0;
	while (*p && s < end) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			const char *seg_end = memchr(s, '/', (size_t)(end - s));
			if (seg_end == NULL)
				seg_end = end;
			if (seg_end == s || np == API_PARAMS_MAX ||
			    decode(s, (size_t)(seg_end - s), false, r->params[np],
			           sizeof(r->params[np])) < 0)
				return false;
			np++;
			p = close + 1;
			s = seg_end;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p || s != end)
		return false;
	r->nparams = np;
	return true;
}

void
api_route_match(const char *method, const char *target, size_t n, struct api_route *out)
{
	memset(out, 0, sizeof(*out));
	out->id = API_ROUTE_NOT_FOUND;
	out->name = "not_found";
	const char *q = memchr(target, '?', n);
	size_t pn = q ? (size_t)(q - target) : n;
	if (q) {
		out->query = q + 1;
		out->query_len = n - pn - 1;
	}
	bool head = strcmp(method, "HEAD") == 0;
	const char *m = head ? "GET" : method;
	bool known_path = false;
	size_t al = 0;
	for (size_t i = 0; i < NROUTES; i++) {
		struct api_route tmp;
		if (!match(routes[i].pattern, target, pn, &tmp))
			continue;
		if (strcmp(routes[i].method, m) == 0) {
			out->id = routes[i].id;
			out->scope = routes[i].scope;
			out->lane = routes[i].lane;
			out->name = routes[i].name;
			out->head = head;
			out->nparams = tmp.nparams;
			memcpy(out->params, tmp.params, sizeof(tmp.params));
			return;
		}
		known_path = true;
		const char *add =
		    strcmp(routes[i].method, "GET") == 0 ? "GET, HEAD" : routes[i].method;
		int w =
		    snprintf(out->allow + al, sizeof(out->allow) - al, "%s%s", al ? ", " : "", add);
		if (w > 0 && (size_t)w < sizeof(out->allow) - al)
			al += (size_t)w;
	}
	if (known_path) {
		out->id = API_ROUTE_METHOD;
		out->name = "bad_method";
	} else {
		out->allow[0] = '\0';
	}
}

int
api_route_query(const struct api_route *r, const char *name, char *out, size_t outsz)
{
	return api_route_query_nth(r, name, 0, out, outsz);
}

int
api_route_query_nth(const struct api_route *r, const char *name, unsigned nth, char *out,
                    size_t outsz)
{
	if (r->query == NULL)
		return -1;
	const char *s = r->query, *end = r->query + r->query_len;
	size_t nl = strlen(name);
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		const char *ke = eq ? eq : pe;
		char key[128];
		if (decode(s, (size_t)(ke - s), true, key, sizeof(key)) >= 0 && strlen(key) == nl &&
		    memcmp(key, name, nl) == 0 && nth-- == 0) {
			if (eq == NULL) {
				if (outsz == 0)
					return -2;
				out[0] = '\0';
				return 0;
			}
			int len = decode(eq + 1, (size_t)(pe - eq - 1), true, out, outsz);
			return len < 0 ? -2 : len;
		}
		s = pe + (amp != NULL);
	}
	return -1;
}

int
api_route_query_known(const struct api_route *r, const char *const *names, char *unknown,
                      size_t unknownsz)
{
	if (r->query == NULL)
		return 0;
	const char *s = r->query, *end = r->query + r->query_len;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		const char *ke = eq ? eq : pe;
		char key[128];
		bool known = false;
		if (ke > s && decode(s, (size_t)(ke - s), true, key, sizeof(key)) >= 0)
			for (const char *const *n = names; *n && !known; n++)
				known = strcmp(*n, key) == 0;
		else if (ke == s)
			known = true; /* "a=1&&b=2": an empty parameter names nothing */
		if (!known) {
			snprintf(unknown, unknownsz, "%.*s", (int)(ke - s > 100 ? 100 : ke - s), s);
			return -1;
		}
		s = pe + (amp != NULL);
	}
	return 0;
}

void
api_route_info(enum api_route_id id, const char **method, const char **pattern, const char **name)
{
	*method = *pattern = *name = NULL;
	for (size_t i = 0; i < NROUTES; i++)
		if (routes[i].id == id) {
			*method = routes[i].method;
			*pattern = routes[i].pattern;
			*name = routes[i].name;
			return;
		}
}

size_t
api_route_escape(const char *seg, char *out, size_t outsz)
{
	static const char keep[] = "-._~!$&'()*+,;=:@";
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)seg; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		             (*p >= '0' && *p <= '9') || strchr(keep, *p);
		if (o + (plain ? 1 : 3) >= outsz)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hexd[*p >> 4];
			out[o++] = hexd[*p & 15];
		}
	}
	if (outsz)
		out[o] = '\0';
	return o;
}
