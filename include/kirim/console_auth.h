/*
 * console_auth - the web console's pure rules: its roles and what each may do
 * through the API, the session cookie read from a Cookie header, the CSRF
 * token a session's pages send back, the Origin a change must come from, and
 * when a session has expired. users.c and api.c call these. Pure code: no I/O,
 * no globals, no logging.
 *
 * A role is an API scope under another name, so that a console session is
 * another way to authenticate the same API calls (api_route.h's table says
 * which scope each needs): viewer = read, editor = write (lists, contacts,
 * suppressions, templates, campaigns, imports), admin = admin (also domain
 * policies, webhooks, the audit log).
 */
#ifndef KIRIM_CONSOLE_AUTH_H
#define KIRIM_CONSOLE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CONSOLE_IDLE = 30 * 60,       /* seconds a session lives unused */
	CONSOLE_ABSOLUTE = 12 * 3600, /* seconds a session lives at most */
	CONSOLE_SEEN_EVERY = 60,      /* seconds: a session's use is recorded this often at most */
	CONSOLE_TOKEN_CHARS = 43,     /* the cookie's value: 32 random bytes in base64url */
	CONSOLE_CSRF_CHARS = 64,      /* the CSRF token: hex */
	CONSOLE_PASSWORD_MIN = 8,     /* characters (NIST SP 800-63B) */
	CONSOLE_PASSWORD_MAX = 1024,  /* bytes */
};

#define CONSOLE_COOKIE "kirim_session"

/* console_role_parse - "viewer", "editor", "admin" as the API scope they carry (1, 2, 3); -1 */
int console_role_parse(const char *role);
/* console_role_name - a scope 1, 2, 3 as "viewer", "editor", "admin" */
const char *console_role_name(int scope);

/*
 * console_cookie - the session token in a Cookie header value (NULL: absent)
 * into out (at least CONSOLE_TOKEN_CHARS + 1 bytes); 0, or -1 when there is
 * none or it is not a token kirim could have made
 */
int console_cookie(const char *header, char *out, size_t outsz);

/*
 * console_csrf - the CSRF token of session token (CONSOLE_CSRF_CHARS hex
 * characters and a NUL into out): derived from the token, so nothing more is
 * stored, and useless without the cookie it goes with; 0 or -1
 */
int console_csrf(const char *token, char out[CONSOLE_CSRF_CHARS + 1]);
/* console_csrf_ok - whether sent (NULL: absent) is token's CSRF token (constant time) */
bool console_csrf_ok(const char *token, const char *sent);

/*
 * console_origin_ok - whether an Origin header (NULL: absent, which fails) is
 * this listener's own: "http://HOST" (https when the client came over TLS)
 * where HOST is the request's Host header, port included
 */
bool console_origin_ok(const char *origin, const char *host, bool https);

/* console_session_alive - whether a session made at created, last used at seen, lives at now */
bool console_session_alive(int64_t created, int64_t seen, int64_t now);

/* console_user_name_ok - 1 to 100 of letters, digits, '.', '_', '-', '@' */
bool console_user_name_ok(const char *name);

#endif
