/* db_url - database names: a path or a PostgreSQL URL (see db_url.h). */
#include "kirim/db_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The length of s's "scheme://" (RFC 3986: a letter, then letters, digits, + - .), or 0. */
static size_t
scheme_len(const char *s)
{
	size_t i = 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while (s[i] && (strchr("+-.", s[i]) || (s[i] >= 'a' && s[i] <= 'z') ||
	                (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

enum db_url_kind
db_url_kind(const char *s)
{
	size_t n = scheme_len(s);
	if (n == 0)
		return DB_URL_SQLITE;
	if ((n == 13 && strncasecmp(s, "postgresql://", n) == 0) ||
	    (n == 11 && strncasecmp(s, "postgres://", n) == 0))
		return DB_URL_POSTGRES;
	return DB_URL_OTHER;
}

void
db_url_redact(const char *s, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	size_t o = 0, n = strlen(s), start = scheme_len(s);
	/* The authority ends at the first '/', '?' or '#'; its user information at its last '@'. */
	size_t auth_end = start + strcspn(s + start, "/?#");
	const char *at = NULL;
	for (size_t i = start; i < auth_end; i++)
		if (s[i] == '@')
			at = s + i;
	const char *colon = at ? memchr(s + start, ':', (size_t)(at - (s + start))) : NULL;
	const char *query = strchr(s + auth_end, '?');
#define PUT(p, len)                                                                                \
	do {                                                                                       \
		size_t l_ = (len);                                                                 \
		if (l_ > outsz - 1 - o)                                                            \
			l_ = outsz - 1 - o;                                                        \
		memcpy(out + o, (p), l_);                                                          \
		o += l_;                                                                           \
	} while (0)
	size_t i = 0;
	while (i < n) {
		if (colon && s + i == colon) {
			PUT(":***", 4);
			i = (size_t)(at - s);
			continue;
		}
		/* A password= parameter of the query (a name after '?' or '&'). */
		if (query && s + i > query && (s[i - 1] == '?' || s[i - 1] == '&') &&
		    strncasecmp(s + i, "password=", 9) == 0) {
			PUT(s + i, 9);
			PUT("***", 3);
			i += 9;
			while (i < n && s[i] != '&' && s[i] != '#')
				i++;
			continue;
		}
		PUT(s + i, 1);
		i++;
	}
#undef PUT
	out[o] = '\0';
}
