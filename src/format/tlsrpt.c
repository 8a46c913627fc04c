/* tlsrpt - RFC 8460 records (see tlsrpt.h). */
#include "kirim/tlsrpt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* rua_ok - whether v (n bytes) is one or more comma-separated mailto: or https: URIs */
static bool
rua_ok(const char *v, size_t n)
{
	size_t i = 0;
	if (n > 0 && v[n - 1] == ',')
		return false; /* an empty last URI */
	while (i < n) {
		while (i < n && is_wsp(v[i]))
			i++;
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && is_wsp(v[end - 1]))
			end--;
		size_t len = end - start;
		if (!((len > 7 && strncasecmp(v + start, "mailto:", 7) == 0) ||
		      (len > 8 && strncasecmp(v + start, "https://", 8) == 0)))
			return false;
		for (size_t k = start; k < end; k++)
			if ((unsigned char)v[k] <= 0x20 || (unsigned char)v[k] >= 0x7f)
				return false;
		if (i < n)
			i++; /* the comma */
		else
			break;
	}
	return n > 0;
}

int
tlsrpt_txt_select(const char *const *records, size_t n, char rua[TLSRPT_RUA_MAX],
                  const char **reason)
{
	const char *pick = NULL;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const char *r = records[i];
		if (r && strncmp(r, "v=TLSRPTv1", 10) == 0 &&
		    (r[10] == '\0' || r[10] == ';' || is_wsp(r[10]))) {
			pick = r;
			found++;
		}
	}
	if (found != 1) {
		*reason = found ? "more than one TXT record starts with v=TLSRPTv1"
		                : "no TXT record starts with v=TLSRPTv1";
		return -1;
	}
	/* Fields after the version: "; name=value", rua= the one needed (RFC 8460 3). */
	const char *p = pick + 10;
	while (*p) {
		while (is_wsp(*p) || *p == ';')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			break;
		size_t nl = (size_t)(p - name);
		const char *val = ++p;
		while (*p && *p != ';')
			p++;
		size_t vl = (size_t)(p - val);
		while (vl > 0 && is_wsp(val[vl - 1]))
			vl--;
		if (nl == 3 && strncmp(name, "rua", 3) == 0) {
			if (vl >= TLSRPT_RUA_MAX || !rua_ok(val, vl)) {
				*reason = "rua= is not a list of mailto: or https: URIs";
				return -1;
			}
			memcpy(rua, val, vl);
			rua[vl] = '\0';
			return 0;
		}
	}
	*reason = "the record has no rua=";
	return -1;
}

/* lines - text's LF-separated lines as a JSON array of strings (no empty last one) */
static json_t *
lines(const char *text)
{
	json_t *a = json_array();
	for (const char *p = text; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n + (e ? 1 : 0);
	}
	return a;
}

/* mx_hosts - the mx-host array of a policy: an STS policy's mx patterns, else the hosts
 * the rows of that policy name */
static json_t *
mx_hosts(const struct tlsrpt_row *rows, size_t n, const struct tlsrpt_row *pol)
{
	json_t *a = json_array();
	if (strcmp(pol->policy_type, "sts") == 0) {
		json_t *all = lines(pol->policy);
		size_t i;
		json_t *v;
		json_array_foreach(all, i, v)
		{
			const char *l = json_string_value(v);
			if (strncmp(l, "mx: ", 4) == 0)
				json_array_append_new(a, json_string(l + 4));
		}
		json_decref(all);
		return a;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].policy_type, pol->policy_type) != 0 ||
		    strcmp(rows[i].policy, pol->policy) != 0 || rows[i].mx_host[0] == '\0')
			continue;
		bool seen = false;
		size_t k;
		json_t *v;
		json_array_foreach(a, k, v) seen |=
		    strcmp(json_string_value(v), rows[i].mx_host) == 0;
		if (!seen)
			json_array_append_new(a, json_string(rows[i].mx_host));
	}
	return a;
}

json_t *
tlsrpt_report(const struct tlsrpt_meta *m, const struct tlsrpt_row *rows, size_t n)
{
	char start[32], end[32];
	time_t t0 = (time_t)(m->day * 86400), t1 = t0 + 86399;
	struct tm tm;
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t0, &tm));
	strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t1, &tm));
	json_t *policies = json_array();
	bool *done = n ? calloc(n, sizeof(*done)) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		const struct tlsrpt_row *pol = &rows[i];
		long long ok = 0, failed = 0;
		json_t *details = json_array();
		for (size_t k = i; k < n; k++) {
			const struct tlsrpt_row *r = &rows[k];
			if (done[k] || strcmp(r->policy_type, pol->policy_type) != 0 ||
			    strcmp(r->policy, pol->policy) != 0)
				continue;
			done[k] = true;
			if (strcmp(r->result, "success") == 0) {
				ok += r->sessions;
				continue;
			}
			failed += r->sessions;
			/* A failure before any session (a policy fetch, a TLSA look-up) has no
			 * receiving IP, and a policy fetch no MX host: absent, as RFC 8460 4.4
			 * allows. */
			json_t *d = json_pack("{s:s,s:I}", "result-type", r->result,
			                      "failed-session-count", (json_int_t)r->sessions);
			const char *const opt[][2] = {
			    {"receiving-mx-hostname", r->mx_host},
			    {"receiving-ip", r->receiving_ip},
			    {"sending-mta-ip", r->sending_ip},
			    {"failure-reason-code", r->detail},
			};
			for (size_t f = 0; f < sizeof(opt) / sizeof(opt[0]); f++)
				if (opt[f][1][0])
					json_object_set_new(d, opt[f][0], json_string(opt[f][1]));
			json_array_append_new(details, d);
		}
		json_t *p = json_pack("{s:s,s:o,s:s,s:o}", "policy-type", pol->policy_type,
		                      "policy-string", lines(pol->policy), "policy-domain",
		                      m->domain, "mx-host", mx_hosts(rows, n, pol));
		json_t *o = json_pack("{s:o,s:{s:I,s:I}}", "policy", p, "summary",
		                      "total-successful-session-count", (json_int_t)ok,
		                      "total-failure-session-count", (json_int_t)failed);
		if (json_array_size(details))
			json_object_set_new(o, "failure-details", details);
		else
			json_decref(details);
		json_array_append_new(policies, o);
	}
	free(done);
	return json_pack("{s:s,s:{s:s,s:s},s:s,s:s,s:o}", "organization-name", m->org, "date-range",
	                 "start-datetime", start, "end-datetime", end, "contact-info", m->contact,
	                 "report-id", m->report_id, "policies", policies);
}
