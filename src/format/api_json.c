/*
 * api_json - problem details, entity tags, cursors and JSON values for the
 * API (see api_json.h). Pure code.
 */
#include "kirim/api_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/base64.h"
#include "kirim/buf.h"
#include "kirim/utf8.h"

const char *
api_status_text(int status)
{
	static const struct {
		int status;
		const char *text;
	} texts[] = {
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {409, "Conflict"},
	    {412, "Precondition Failed"},
	    {413, "Content Too Large"},
	    {415, "Unsupported Media Type"},
	    {422, "Unprocessable Content"},
	    {428, "Precondition Required"},
	    {429, "Too Many Requests"},
	    {500, "Internal Server Error"},
	    {503, "Service Unavailable"},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].status == status)
			return texts[i].text;
	return "Error";
}

json_t *
api_problem(int status, const char *slug, const char *detail, const char *instance)
{
	char type[128] = "about:blank";
	if (slug)
		snprintf(type, sizeof(type), "urn:kirim:problem:%s", slug);
	json_t *o = json_pack("{s:s,s:s,s:i}", "type", type, "title", api_status_text(status),
	                      "status", status);
	if (detail)
		json_object_set_new(o, "detail", api_json_text(detail));
	if (instance)
		json_object_set_new(o, "instance", api_json_text(instance));
	return o;
}

static int
etag_feed(const char *s, size_t n, void *arg)
{
	uint64_t *h = arg;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return 0;
}

void
api_etag(const json_t *v, char out[API_ETAG_MAX])
{
	/* FNV-1a 64 over the canonical text: a tag needs to change with the
	 * representation, not to resist forgery (a client may send any tag). */
	uint64_t h = 0xcbf29ce484222325ull;
	json_dump_callback(v, etag_feed, &h, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	snprintf(out, API_ETAG_MAX, "\"%016llx\"", (unsigned long long)h);
}

bool
api_if_match(const char *header, const char *etag)
{
	if (header == NULL)
		return true;
	if (etag == NULL)
		return false;
	size_t el = strlen(etag);
	const char *p = header, *first = NULL;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		if (first == NULL)
			first = start;
		if (*p == '*') {
			/* "*" is the whole field or nothing (RFC 9110 13.1.1) */
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			return start == first && *p == '\0';
		}
		bool weak = strncmp(p, "W/", 2) == 0;
		if (weak)
			p += 2;
		if (*p != '"')
			return false;
		const char *close = strchr(p + 1, '"');
		if (close == NULL)
			return false;
		if (!weak && (size_t)(close + 1 - p) == el && memcmp(p, etag, el) == 0)
			return true;
		p = close + 1;
	}
	return false;
}

void
api_cursor_encode(const char *key, size_t n, char out[API_CURSOR_MAX])
{
	if (n > API_CURSOR_KEY_MAX)
		n = API_CURSOR_KEY_MAX;
	out[0] = 'k';
	char *end = base64_encode_to(out + 1, key, n, 0);
	/* base64url without padding (RFC 4648 section 5): safe in a query string as it is */
	char *w = out + 1;
	for (char *p = out + 1; p < end; p++) {
		if (*p == '=')
			continue;
		*w++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	}
	*w = '\0';
}

int
api_cursor_decode(const char *cursor, char *key, size_t keysz)
{
	size_t n = strlen(cursor);
	if (n < 1 || cursor[0] != 'k' || n > API_CURSOR_MAX - 1)
		return -1;
	char std[API_CURSOR_MAX + 4];
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		char c = cursor[i];
		if (c == '+' || c == '/' || c == '=')
			return -1; /* one spelling only */
		std[o++] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	std[o] = '\0';
	struct buf b = BUF_INIT;
	int rc = base64_decode(&b, std, o, BASE64_PAD_OPTIONAL);
	int len = -1;
	if (rc == 0 && b.len < keysz && (b.len == 0 || memchr(b.data, '\0', b.len) == NULL)) {
		if (b.len)
			memcpy(key, b.data, b.len);
		key[b.len] = '\0';
		len = (int)b.len;
	}
	buf_free(&b);
	return len;
}

json_t *
api_json_textn(const char *s, size_t n)
{
	if (s == NULL)
		return json_null();
	if (utf8_valid(s, n))
		return json_stringn(s, n);
	struct buf u = BUF_INIT;
	utf8_from_latin1(&u, s, n);
	json_t *v = json_stringn(u.data ? u.data : "", u.len);
	buf_free(&u);
	return v;
}

json_t *
api_json_text(const char *s)
{
	return api_json_textn(s, s ? strlen(s) : 0);
}

json_t *
api_json_opt(const char *s)
{
	return api_json_text(s && *s ? s : NULL);
}

json_t *
api_json_number(double v, const char *fmt)
{
	if (!isfinite(v))
		return json_null();
	char t[64];
	snprintf(t, sizeof(t), fmt, v);
	if (strpbrk(t, ".eE") == NULL)
		return json_integer(strtoll(t, NULL, 10));
	return json_real(strtod(t, NULL));
}

json_t *
api_json_time(int64_t t)
{
	if (t == 0)
		return json_null();
	char out[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(out);
}

json_t *
api_json_parse(const char *text)
{
	json_error_t e;
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &e) : NULL;
	return v ? v : api_json_text(text);
}
