/*
 * api_console - the web console's login, logout and session (users.h) on the
 * admin listener: POST /console/api/login, POST /console/api/logout, GET
 * /console/api/session. Everything else the console does is the API's own
 * endpoints, authenticated by the session cookie instead of a token (api.c).
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "kirim/console_auth.h"
#include "kirim/store.h"
#include "kirim/users.h"

/* The Set-Cookie value of token (NULL: the cookie cleared). */
static void
set_cookie(struct api_ctx *x, const char *token)
{
	snprintf(x->set_cookie, sizeof(x->set_cookie),
	         "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", CONSOLE_COOKIE,
	         token ? token : "", token ? CONSOLE_ABSOLUTE : 0, x->secure ? "; Secure" : "");
}

static json_t *
session_json(const struct access_who *who, const char *csrf)
{
	const char *name = strncmp(who->name, "console:", 8) == 0 ? who->name + 8 : who->name;
	return json_pack("{s:o,s:s,s:s,s:i,s:i}", "name", api_json_text(name), "role",
	                 console_role_name(who->scope), "csrf", csrf, "idle_seconds", CONSOLE_IDLE,
	                 "max_seconds", CONSOLE_ABSOLUTE);
}

/* POST /console/api/login, on a read connection: the password; the session follows. */
void
api_console_login(struct api_ctx *x)
{
	static const char *const fields[] = {"name", "password", NULL};
	json_t *b;
	if (api_body(x, false, &b) < 0)
		return;
	const char *name, *pw;
	char err[256];
	if (api_only(x, b, fields) < 0 || api_str(x, b, "name", &name) < 0 ||
	    api_str(x, b, "password", &pw) < 0)
		goto out;
	if (name == NULL || pw == NULL) {
		api_fail(x, 422, "invalid", "a login takes 'name' and 'password'");
		goto out;
	}
	int rc = users_password_check(x->s, name, pw, &x->login, err, sizeof(err));
	if (rc == USERS_E_LOGIN)
		api_fail(x, 401, "login-failed", "%s", err);
	else if (rc < 0)
		api_fail_store(x, rc, err);
	else
		x->then = api_console_login_open; /* status 0: the write lane goes on */
out:
	json_decref(b);
}

/* The login's second step, in the write lane: the session, its cookie and CSRF token. */
void
api_console_login_open(struct api_ctx *x)
{
	char token[CONSOLE_TOKEN_CHARS + 1], csrf[CONSOLE_CSRF_CHARS + 1], err[256];
	struct access_who who;
	int rc =
	    users_session_open(x->s, &x->login, x->client, x->now, token, &who, err, sizeof(err));
	if (rc == USERS_E_LOGIN) {
		api_fail(x, 401, "login-failed", "%s", err);
		return;
	}
	if (rc < 0 || console_csrf(token, csrf) < 0) {
		api_fail_store(x, rc < 0 ? rc : STORE_E_SQL, err);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "user:%s", x->login.name);
	set_cookie(x, token);
	api_ok(x, 200, session_json(&who, csrf));
	memset(token, 0, sizeof(token));
}

void
api_console_logout(struct api_ctx *x)
{
	if (x->who->session_id == 0) {
		api_fail(x, 400, "not-a-session", "a token is revoked with kirim token revoke");
		return;
	}
	int rc = users_logout(x->s, x->who->session_id);
	if (rc < 0) {
		api_fail_store(x, rc, NULL);
		return;
	}
	snprintf(x->resource, sizeof(x->resource), "user:%s", x->who->name + 8);
	set_cookie(x, NULL);
	api_ok(x, 204, NULL);
}

void
api_console_session(struct api_ctx *x)
{
	if (x->who->session_id == 0) {
		api_fail(x, 400, "not-a-session", "this answers a console session, not a token");
		return;
	}
	api_ok(x, 200, session_json(x->who, x->csrf));
}
