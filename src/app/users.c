/*
 * users - the web console's users and sessions (users.h). The only module
 * that includes argon2.h.
 */
#include "kirim/users.h"

#include <argon2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "kirim/store.h"
#include "kirim/store_user.h"
#include "kirim/token.h"

enum {
	PW_T = 2,         /* passes */
	PW_M = 19 * 1024, /* KiB */
	PW_P = 1,         /* lanes */
	PW_SALT = 16,
	PW_HASH = 32,
};

int
users_password_hash(const char *password, char *out, size_t outsz)
{
	unsigned char salt[PW_SALT];
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return -1;
	int rc = argon2id_hash_encoded(PW_T, PW_M, PW_P, password, strlen(password), salt,
	                               sizeof(salt), PW_HASH, out, outsz);
	return rc == ARGON2_OK ? 0 : -1;
}

bool
users_password_ok(const char *encoded, const char *password)
{
	return strncmp(encoded, "$argon2id$", 10) == 0 &&
	       argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

/* password's Argon2id hash into hash, after its rules; 0 or USERS_E_USAGE with err */
static int
new_hash(const char *password, char hash[256], char *err, size_t errsz)
{
	size_t n = strlen(password), chars = 0;
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)password[i] & 0xc0) != 0x80;
	if (chars < CONSOLE_PASSWORD_MIN) {
		snprintf(err, errsz, "a password needs at least %d characters",
		         CONSOLE_PASSWORD_MIN);
		return USERS_E_USAGE;
	}
	if (n > CONSOLE_PASSWORD_MAX) {
		snprintf(err, errsz, "a password has at most %d bytes", CONSOLE_PASSWORD_MAX);
		return USERS_E_USAGE;
	}
	if (users_password_hash(password, hash, 256) < 0) {
		snprintf(err, errsz, "the password could not be hashed");
		return USERS_E_USAGE;
	}
	return 0;
}

/* A store error's sentence into err; rc returned. */
static int
store_err(struct store *s, int rc, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s", store_errmsg(s));
	return rc;
}

int
users_add(struct store *s, const char *name, const char *role, const char *password, int64_t now,
          char *err, size_t errsz)
{
	if (!console_user_name_ok(name)) {
		snprintf(err, errsz,
		         "a user name is 1 to 100 letters, digits, '.', '_', '-' or '@', not '%s'",
		         name);
		return USERS_E_USAGE;
	}
	if (console_role_parse(role) < 0) {
		snprintf(err, errsz, "a role is viewer, editor or admin, not '%s'", role);
		return USERS_E_USAGE;
	}
	char hash[256];
	int rc = new_hash(password, hash, err, errsz);
	if (rc < 0)
		return rc;
	if ((rc = store_user_add(s, name, role, hash, now)) < 0)
		return store_err(s, rc, err, errsz);
	return 0;
}

int
users_delete(struct store *s, const char *name, char *err, size_t errsz)
{
	int rc = store_user_delete(s, name);
	return rc < 0 ? store_err(s, rc, err, errsz) : 0;
}

int
users_passwd(struct store *s, const char *name, const char *password, int64_t now, char *err,
             size_t errsz)
{
	char hash[256];
	int rc = new_hash(password, hash, err, errsz);
	if (rc < 0)
		return rc;
	if ((rc = store_begin(s)) < 0)
		return store_err(s, rc, err, errsz);
	if ((rc = store_user_passwd(s, name, hash, now)) < 0) {
		store_err(s, rc, err, errsz);
		store_rollback(s);
		return rc;
	}
	if ((rc = store_commit(s)) < 0)
		return store_err(s, rc, err, errsz);
	return 0;
}

int
users_password_check(struct store *s, const char *name, const char *password,
                     struct users_login *out, char *err, size_t errsz)
{
	/*
	 * A hash of a password nobody knows, checked for an unknown name so that
	 * the answer takes as long as for a known one (the name stays secret).
	 */
	static const char decoy[] = "$argon2id$v=19$m=19456,t=2,p=1$"
	                            "a2lyaW0tZGVjb3ktc2FsdA$"
	                            "W38LZ+fe007lhu6hw1BxFLBrcSemeEaNcOzkHFv4yDg";
	struct store_user u;
	int rc = store_user_get(s, name, &u);
	if (rc < 0 && rc != STORE_E_NOTFOUND)
		return store_err(s, rc, err, errsz);
	bool ok = users_password_ok(rc == 0 ? u.password_hash : decoy, password);
	if (rc < 0 || !ok) {
		snprintf(err, errsz, "the user name or the password is wrong");
		return USERS_E_LOGIN;
	}
	memset(out, 0, sizeof(*out));
	out->user_id = u.id;
	out->password_changed_at = u.password_changed_at;
	snprintf(out->name, sizeof(out->name), "%s", u.name);
	return 0;
}

int
users_session_open(struct store *s, const struct users_login *l, const char *client, int64_t now,
                   char token[CONSOLE_TOKEN_CHARS + 1], struct access_who *who, char *err,
                   size_t errsz)
{
	struct store_user u;
	int rc = store_user_get(s, l->name, &u);
	if (rc < 0 && rc != STORE_E_NOTFOUND)
		return store_err(s, rc, err, errsz);
	if (rc < 0 || u.id != l->user_id || u.password_changed_at != l->password_changed_at) {
		snprintf(err, errsz, "the user name or the password is wrong");
		return USERS_E_LOGIN;
	}
	char t[CONSOLE_TOKEN_CHARS + 1];
	unsigned char hash[32];
	if (token_secret_new("", t, sizeof(t)) < 0 || token_sha256(t, strlen(t), hash) < 0) {
		snprintf(err, errsz, "no random bytes for a session");
		return USERS_E_USAGE;
	}
	int64_t id;
	if ((rc = store_session_expire(s, now - CONSOLE_IDLE, now - CONSOLE_ABSOLUTE)) < 0 ||
	    (rc = store_session_add(s, u.id, hash, now, client, &id)) < 0)
		return store_err(s, rc, err, errsz);
	memcpy(token, t, sizeof(t));
	memset(who, 0, sizeof(*who));
	snprintf(who->name, sizeof(who->name), "console:%s", u.name);
	who->scope = console_role_parse(u.role);
	who->session_id = id;
	who->last_used_at = now;
	return 0;
}

int
users_login(struct store *s, const char *name, const char *password, const char *client,
            int64_t now, char token[CONSOLE_TOKEN_CHARS + 1], struct access_who *who, char *err,
            size_t errsz)
{
	struct users_login l;
	int rc = users_password_check(s, name, password, &l, err, errsz);
	return rc < 0 ? rc : users_session_open(s, &l, client, now, token, who, err, errsz);
}

int
users_session(struct store *s, const char *token, int64_t now, struct access_who *who)
{
	unsigned char hash[32], stored[32];
	if (token_sha256(token, strlen(token), hash) < 0)
		return ACCESS_E_INVALID;
	struct store_session x;
	int rc = store_session_find(s, hash, &x, stored);
	if (rc == STORE_E_NOTFOUND || (rc == 0 && !token_equal(hash, stored, 32)))
		return ACCESS_E_INVALID;
	if (rc < 0)
		return rc;
	if (!console_session_alive(x.created_at, x.last_seen_at, now))
		return ACCESS_E_INVALID;
	memset(who, 0, sizeof(*who));
	snprintf(who->name, sizeof(who->name), "console:%s", x.user);
	who->scope = console_role_parse(x.role);
	who->session_id = x.id;
	who->last_used_at = x.last_seen_at;
	return 0;
}

int
users_logout(struct store *s, int64_t session_id)
{
	return store_session_delete(s, session_id);
}
