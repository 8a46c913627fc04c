/*
 * access - who may use the HTTP API: API tokens (made, listed, revoked,
 * checked) and the audit log of what was changed through it. `kirim token`,
 * `kirim audit` and the API (api.c) call these; the rows are store_api.h's.
 *
 * A token is "kirim_" and 32 random bytes in base64url, shown once when made;
 * only its SHA-256 is stored (for a token with 256 bits of entropy a plain
 * hash is as strong as a slow one: nothing to guess). A check hashes what
 * the client sent, finds the row by its hash and compares the hashes again
 * in constant time. Scopes nest: admin allows what write allows, write what
 * read allows. Does not log.
 */
#ifndef KIRIM_ACCESS_H
#define KIRIM_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum { ACCESS_TOKEN_MAX = 64, ACCESS_NAME_MAX = 100 };

/* Errors (negative), besides the store's. */
#define ACCESS_E_MISSING (-40) /* no Authorization header, or not "Bearer TOKEN" */
#define ACCESS_E_INVALID (-41) /* not a token kirim made */
#define ACCESS_E_REVOKED (-42) /* a token that was revoked */
#define ACCESS_E_USAGE (-43)   /* a bad name or scope (err says which) */

/* access_scope_parse - "read", "write" or "admin" as 1, 2, 3; -1 for anything else */
int access_scope_parse(const char *s);
/* access_scope_name - 1, 2, 3 as "read", "write", "admin" */
const char *access_scope_name(int scope);

/*
 * access_token_create - make a token called name (1 to ACCESS_NAME_MAX
 * characters: letters, digits, '.', '_', '-') with scope, write it into
 * token (shown to the person once, never stored) and the audit log. Errors:
 * ACCESS_E_USAGE, STORE_E_EXISTS (an active token has the name), the store's;
 * err says why.
 */
int access_token_create(struct store *s, const char *name, int scope, int64_t now,
                        char token[ACCESS_TOKEN_MAX], char *err, size_t errsz);
/* access_token_revoke - revoke the active token called name (and log it); STORE_E_NOTFOUND */
int access_token_revoke(struct store *s, const char *name, int64_t now, char *err, size_t errsz);

/* Who a request is. */
struct access_who {
	int64_t token_id;
	char name[128];
	int scope;
	int64_t last_used_at; /* before this use */
	int64_t session_id;   /* a console session (users.h) rather than a token; 0: a token */
};

/*
 * access_check - the token of an Authorization header value ("Bearer
 * TOKEN"; NULL when absent) into *who; ACCESS_E_MISSING, ACCESS_E_INVALID,
 * ACCESS_E_REVOKED, or a store error. Reads only: the caller records the
 * use (store_token_used) when it likes, since a write on every request would
 * serialize the reads.
 */
int access_check(struct store *s, const char *authorization, struct access_who *who);

#endif
