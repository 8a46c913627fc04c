/* redis_url - where the shared throttles' Redis is (see redis_url.h). */
#include "kirim/redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* number - a decimal in lo..hi spanning exactly [s, s + n); 0, or -1 */
static int
number(const char *s, size_t n, unsigned long lo, unsigned long hi, unsigned *out)
{
	if (n == 0 || n > 6)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* copy - [s, s + n) into out (outsz with its NUL); 0, or -1 when too long */
static int
copy(char *out, size_t outsz, const char *s, size_t n)
{
	if (n >= outsz)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* parse_userinfo - "[USER]:PASSWORD@" at *p (the last '@' before end), *p moved past it */
static int
parse_userinfo(const char **p, const char *end, struct redis_url *u, const char **why)
{
	const char *at = NULL;
	for (const char *c = *p; c < end; c++)
		if (*c == '@')
			at = c;
	if (at == NULL)
		return 0;
	const char *colon = memchr(*p, ':', (size_t)(at - *p));
	if (colon == NULL) {
		*why = "user info must be :PASSWORD@ or USER:PASSWORD@";
		return -1;
	}
	if (copy(u->user, sizeof(u->user), *p, (size_t)(colon - *p)) < 0 ||
	    copy(u->password, sizeof(u->password), colon + 1, (size_t)(at - colon - 1)) < 0) {
		*why = "the user or password is too long";
		return -1;
	}
	if (u->password[0] == '\0') {
		*why = "an empty password: leave out the user info instead";
		return -1;
	}
	*p = at + 1;
	return 0;
}

/* parse_unix - "unix://PATH[?db=N]" (after the scheme) or a bare "/PATH" */
static int
parse_unix(const char *s, struct redis_url *u, const char **why)
{
	const char *q = strchr(s, '?');
	size_t n = q ? (size_t)(q - s) : strlen(s);
	if (n == 0 || s[0] != '/') {
		*why = "a Unix socket's path must be absolute (unix:///run/redis.sock)";
		return -1;
	}
	if (copy(u->path, sizeof(u->path), s, n) < 0) {
		*why = "the Unix socket's path is too long (107 bytes at most)";
		return -1;
	}
	if (q) {
		if (strncmp(q, "?db=", 4) != 0 ||
		    number(q + 4, strlen(q + 4), 0, 9999, &u->db) < 0) {
			*why = "after the socket's path only ?db=N (0 to 9999) is understood";
			return -1;
		}
	}
	u->unix_socket = true;
	return 0;
}

int
redis_url_parse(const char *s, struct redis_url *out, const char **why)
{
	struct redis_url u = {.port = 6379};
	if (s == NULL || *s == '\0') {
		*why = "empty Redis URL";
		return -1;
	}
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			*why = "blanks and control characters are not allowed in a Redis URL";
			return -1;
		}
	if (s[0] == '/') {
		if (parse_unix(s, &u, why) < 0)
			return -1;
		*out = u;
		return 0;
	}
	if (strncasecmp(s, "unix://", 7) == 0) {
		/* A password before the path: unix://:PASSWORD@/run/redis.sock */
		const char *p = s + 7, *slash = strchr(p, '/');
		if (slash && parse_userinfo(&p, slash, &u, why) < 0)
			return -1;
		if (parse_unix(p, &u, why) < 0)
			return -1;
		*out = u;
		return 0;
	}
	if (strncasecmp(s, "rediss://", 9) == 0) {
		*why = "rediss:// (TLS) is not supported: use a Unix socket or a tunnel to Redis";
		return -1;
	}
	if (strncasecmp(s, "redis://", 8) != 0) {
		*why =
		    "a Redis URL starts with redis:// or unix://, or is a socket's absolute path";
		return -1;
	}
	const char *p = s + 8;
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	if (parse_userinfo(&p, end, &u, why) < 0)
		return -1;
	const char *port = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (close == NULL || close == p + 1 ||
		    strspn(p + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - p - 1)) {
			*why = "a malformed [IPv6] address";
			return -1;
		}
		if (copy(u.host, sizeof(u.host), p + 1, (size_t)(close - p - 1)) < 0) {
			*why = "the host is too long";
			return -1;
		}
		if (close + 1 < end) {
			if (close[1] != ':') {
				*why = "after ] only :PORT may follow";
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *hend = colon ? colon : end;
		for (const char *c = p; c < hend; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_') {
				*why = "the host may hold letters, digits, '-', '_' and '.' only";
				return -1;
			}
		if (copy(u.host, sizeof(u.host), p, (size_t)(hend - p)) < 0) {
			*why = "the host is too long";
			return -1;
		}
		if (colon)
			port = colon + 1;
	}
	if (u.host[0] == '\0') {
		*why = "no host in the Redis URL";
		return -1;
	}
	for (char *c = u.host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (port && number(port, (size_t)(end - port), 1, 65535, &u.port) < 0) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (slash && slash[1] != '\0' && number(slash + 1, strlen(slash + 1), 0, 9999, &u.db) < 0) {
		*why = "the database (after /) must be a number from 0 to 9999";
		return -1;
	}
	*out = u;
	return 0;
}

char *
redis_url_format(const struct redis_url *u, char *out, size_t outsz)
{
	if (u->unix_socket && u->db)
		snprintf(out, outsz, "unix://%s?db=%u", u->path, u->db);
	else if (u->unix_socket)
		snprintf(out, outsz, "unix://%s", u->path);
	else if (strchr(u->host, ':'))
		snprintf(out, outsz, "redis://[%s]:%u/%u", u->host, u->port, u->db);
	else
		snprintf(out, outsz, "redis://%s:%u/%u", u->host, u->port, u->db);
	return out;
}
