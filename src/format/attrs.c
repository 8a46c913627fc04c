/* attrs - a contact's attributes JSON, read quickly when flat (see attrs.h). */
#include "kirim/attrs.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "kirim/utf8.h"

/* ws - past JSON whitespace (RFC 8259 2) */
static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/*
 * plain_string - with *p at a '"', the string's bytes when they need no
 * decoding: no backslash, no control byte, valid UTF-8. Sets *s and *n and
 * moves *p past the closing quote; false for anything else.
 */
static bool
plain_string(const char **p, const char **s, size_t *n)
{
	const char *q = *p;
	if (*q != '"')
		return false;
	const char *start = ++q;
	while ((unsigned char)*q >= 0x20 && *q != '"' && *q != '\\')
		q++;
	if (*q != '"' || !utf8_valid(start, (size_t)(q - start)))
		return false;
	*s = start;
	*n = (size_t)(q - start);
	*p = q + 1;
	return true;
}

/* flat - the object when s is a flat object of plain strings with distinct names, else NULL */
static json_t *
flat(const char *s)
{
	const char *p = ws(s);
	if (*p++ != '{')
		return NULL;
	json_t *obj = json_object();
	p = ws(p);
	if (*p == '}')
		goto end;
	for (;;) {
		const char *k, *v;
		size_t kn, vn;
		if (!plain_string(&p, &k, &kn))
			break;
		p = ws(p);
		if (*p++ != ':')
			break;
		p = ws(p);
		if (!plain_string(&p, &v, &vn) || json_object_getn(obj, k, kn) != NULL)
			break;
		json_object_setn_new_nocheck(obj, k, kn, json_stringn_nocheck(v, vn));
		p = ws(p);
		if (*p == '}')
			goto end;
		if (*p++ != ',')
			break;
		p = ws(p);
	}
	json_decref(obj);
	return NULL;
end:
	if (*ws(p + 1) == '\0')
		return obj;
	json_decref(obj);
	return NULL;
}

int
attrs_parse(const char *s, json_t **out)
{
	json_t *obj = flat(s);
	if (obj == NULL) {
		obj = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
		if (obj != NULL && !json_is_object(obj)) {
			json_decref(obj);
			obj = NULL;
		}
	}
	if (obj == NULL)
		return -1;
	*out = obj;
	return 0;
}
