/*
 * users - the web console's users and their sessions: `kirim user` and the
 * console's login, logout and session check (api.c, api_console.c) call these.
 *
 * A password is kept as an Argon2id hash (libargon2: 19 MiB, 2 passes, one
 * lane, OWASP's floor; the parameters ride in the encoded string, so raising
 * them later leaves old hashes valid). A session is a random token in a
 * cookie; only its SHA-256 is stored. A session ends when unused for
 * CONSOLE_IDLE, CONSOLE_ABSOLUTE after login, at logout, and when its user is
 * deleted or their password changed. Rows are store_user.h's; the rules
 * console_auth.h's. Does not log. Any thread, on the caller's store.
 */
#ifndef KIRIM_USERS_H
#define KIRIM_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/access.h"
#include "kirim/console_auth.h"

struct store;

/* Errors (negative), besides the store's and access.h's. */
#define USERS_E_USAGE (-50) /* a bad name, role or password (err says which) */
#define USERS_E_LOGIN (-51) /* no such user, or the wrong password: never says which */

/* users_add - a new user name with role ("viewer", "editor", "admin") and password */
int users_add(struct store *s, const char *name, const char *role, const char *password,
              int64_t now, char *err, size_t errsz);
/* users_delete - the user called name, and their sessions */
int users_delete(struct store *s, const char *name, char *err, size_t errsz);
/* users_passwd - a new password for name; their sessions end */
int users_passwd(struct store *s, const char *name, const char *password, int64_t now, char *err,
                 size_t errsz);

/*
 * A login in two steps, so that the slow one (the Argon2 check) needs no
 * write lock: users_password_check reads only and fills a users_login;
 * users_session_open, in a write transaction, makes the session if the user
 * is still there with the same password.
 */
struct users_login {
	int64_t user_id;
	int64_t password_changed_at;
	char name[101];
};
/*
 * users_password_check - name's password into *out when right; USERS_E_LOGIN
 * when the name or the password is wrong (the same Argon2 work is done for an
 * unknown name, so the time does not tell which)
 */
int users_password_check(struct store *s, const char *name, const char *password,
                         struct users_login *out, char *err, size_t errsz);
/*
 * users_session_open - a session for l's user from client (token and *who as
 * users_login's); USERS_E_LOGIN when the user has gone or changed password
 * since the check. Expired sessions are deleted on the way.
 */
int users_session_open(struct store *s, const struct users_login *l, const char *client,
                       int64_t now, char token[CONSOLE_TOKEN_CHARS + 1], struct access_who *who,
                       char *err, size_t errsz);
/*
 * users_login - users_password_check and users_session_open at once: check name's password and open
 * a session from client: its token (the cookie's value) into token, who the session is into *who.
 * USERS_E_LOGIN when the name or the password is wrong (the same work is done
 * for an unknown name, so the time does not tell which). Expired sessions
 * are deleted on the way.
 */
int users_login(struct store *s, const char *name, const char *password, const char *client,
                int64_t now, char token[CONSOLE_TOKEN_CHARS + 1], struct access_who *who, char *err,
                size_t errsz);
/*
 * users_session - who the session with token is, into *who (scope is the
 * role's; name is "console:USER"; session_id set); ACCESS_E_INVALID when
 * there is no such session or it has expired. Reads only: the caller records
 * the use (store_session_seen) when who->last_used_at is older than
 * CONSOLE_SEEN_EVERY.
 */
int users_session(struct store *s, const char *token, int64_t now, struct access_who *who);
/* users_logout - end session id */
int users_logout(struct store *s, int64_t session_id);

/* users_password_hash - password's Argon2id encoded hash into out; 0 or -1 */
int users_password_hash(const char *password, char *out, size_t outsz);
/* users_password_ok - whether password matches encoded (an Argon2id string) */
bool users_password_ok(const char *encoded, const char *password);

#endif
