/*
 * store_user - the web console's users and sessions (schema 010): rows only;
 * hashing, expiry and roles are users.c's. Does not log.
 */
#ifndef KIRIM_STORE_USER_H
#define KIRIM_STORE_USER_H

#include <stdint.h>

struct store;

struct store_user {
	int64_t id;
	char name[101];
	char role[8];
	char password_hash[256];
	int64_t created_at, password_changed_at;
};

struct store_session {
	int64_t id;
	int64_t user_id;
	char user[101];
	char role[8];
	int64_t created_at, last_seen_at;
};

typedef int (*store_user_cb)(void *arg, const struct store_user *u);

/* store_user_add - a new user (STORE_E_EXISTS when the name is taken) */
int store_user_add(struct store *s, const char *name, const char *role, const char *hash,
                   int64_t now);
/* store_user_get - the user called name into *out; STORE_E_NOTFOUND */
int store_user_get(struct store *s, const char *name, struct store_user *out);
/* store_user_each - every user by name */
int store_user_each(struct store *s, store_user_cb cb, void *arg);
/* store_user_delete - the user called name and their sessions; STORE_E_NOTFOUND */
int store_user_delete(struct store *s, const char *name);
/* store_user_passwd - a new hash for name, and every session of theirs ended; STORE_E_NOTFOUND */
int store_user_passwd(struct store *s, const char *name, const char *hash, int64_t now);

/* store_session_add - a session for user_id whose token hashes to hash */
int store_session_add(struct store *s, int64_t user_id, const unsigned char hash[32], int64_t now,
                      const char *client, int64_t *id);
/*
 * store_session_find - the session whose hash is hash, with its user's name and
 * role, into *out, and the stored hash (compared in constant time by the caller);
 * STORE_E_NOTFOUND
 */
int store_session_find(struct store *s, const unsigned char hash[32], struct store_session *out,
                       unsigned char stored_hash[32]);
/* store_session_seen - record that session id was used at now */
int store_session_seen(struct store *s, int64_t id, int64_t now);
/* store_session_delete - end session id (no error when it is gone already) */
int store_session_delete(struct store *s, int64_t id);
/* store_session_expire - delete sessions idle since before idle_before or made before made_before
 */
int store_session_expire(struct store *s, int64_t idle_before, int64_t made_before);

#endif
