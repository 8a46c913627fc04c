/* console_auth - the web console's roles, cookie, CSRF token and Origin rule (console_auth.h). */
#include "kirim/console_auth.h"

#include <string.h>
#include <strings.h>

#include "kirim/token.h"

static const char *const roles[] = {NULL, "viewer", "editor", "admin"};

int
console_role_parse(const char *role)
{
	for (int i = 1; i < 4; i++)
		if (role && strcmp(role, roles[i]) == 0)
			return i;
	return -1;
}

const char *
console_role_name(int scope)
{
	return scope >= 1 && scope <= 3 ? roles[scope] : "none";
}

static bool
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int
console_cookie(const char *header, char *out, size_t outsz)
{
	static const char name[] = CONSOLE_COOKIE "=";
	const size_t nlen = sizeof(name) - 1;
	if (header == NULL || outsz < CONSOLE_TOKEN_CHARS + 1)
		return -1;
	/* Cookie: a=b; c=d (RFC 6265 §4.2.1); the first cookie of our name counts. */
	for (const char *p = header; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		size_t n = strcspn(p, ";");
		if (n > nlen && strncmp(p, name, nlen) == 0) {
			const char *v = p + nlen;
			size_t vn = n - nlen;
			while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
				vn--;
			if (vn != CONSOLE_TOKEN_CHARS)
				return -1;
			for (size_t i = 0; i < vn; i++)
				if (!is_b64url(v[i]))
					return -1;
			memcpy(out, v, vn);
			out[vn] = '\0';
			return 0;
		}
		p += n;
	}
	return -1;
}

int
console_csrf(const char *token, char out[CONSOLE_CSRF_CHARS + 1])
{
	static const char hex[] = "0123456789abcdef";
	char in[16 + CONSOLE_TOKEN_CHARS + 1];
	size_t n = strlen(token);
	if (n > CONSOLE_TOKEN_CHARS)
		return -1;
	/* A purpose prefix, so the CSRF token is never the session's hash or a hash of it. */
	memcpy(in, "kirim-csrf-v1:", 14);
	memcpy(in + 14, token, n);
	unsigned char h[32];
	if (token_sha256(in, 14 + n, h) < 0)
		return -1;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[CONSOLE_CSRF_CHARS] = '\0';
	return 0;
}

bool
console_csrf_ok(const char *token, const char *sent)
{
	char want[CONSOLE_CSRF_CHARS + 1];
	if (sent == NULL || strlen(sent) != CONSOLE_CSRF_CHARS || console_csrf(token, want) < 0)
		return false;
	return token_equal(want, sent, CONSOLE_CSRF_CHARS) != 0;
}

bool
console_origin_ok(const char *origin, const char *host, bool https)
{
	if (origin == NULL || host == NULL || *host == '\0')
		return false;
	const char *scheme = https ? "https://" : "http://";
	size_t sn = strlen(scheme);
	if (strncasecmp(origin, scheme, sn) != 0)
		return false;
	/* Hosts compare without regard to case (RFC 6454 §4: the host is lower-cased). */
	return strcasecmp(origin + sn, host) == 0;
}

bool
console_session_alive(int64_t created, int64_t seen, int64_t now)
{
	return now - seen <= CONSOLE_IDLE && now - created <= CONSOLE_ABSOLUTE && now >= created;
}

bool
console_user_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!is_b64url(c) && c != '.' && c != '@')
			return false;
	}
	return true;
}
