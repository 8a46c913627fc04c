/*
 * store_api - what the HTTP API keeps (schema 007): its tokens, stored as
 * their SHA-256 only, and the audit log of every change made through it.
 *
 * A token's name is unique among the tokens not revoked; revoking keeps the
 * row (the audit log names it), and a revoked token never authenticates.
 * Strings in the structs below are copies, valid until the next call on the
 * same store (callbacks: for the callback). Does not log.
 */
#ifndef KIRIM_STORE_API_H
#define KIRIM_STORE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_token {
	int64_t id;
	char name[128];
	char scope[8];   /* "read", "write" or "admin" */
	char prefix[16]; /* the first characters of the token, to recognise it */
	int64_t created_at;
	int64_t last_used_at;    /* 0: never */
	char last_used_from[64]; /* the client address of the last use, "" when never */
	int64_t revoked_at;      /* 0: active */
};
typedef int (*store_token_cb)(void *arg, const struct store_token *t);

/*
 * store_token_add - a new token called name (STORE_E_EXISTS while another
 * active one has the name) with its hash; sets *id
 */
int store_token_add(struct store *s, const char *name, const char *scope,
                    const unsigned char hash[32], const char *prefix, int64_t now, int64_t *id);
/*
 * store_token_find - the token whose hash is hash, revoked or not
 * (STORE_E_NOTFOUND when none); the caller compares hash again in constant
 * time (token_equal) with *stored_hash
 */
int store_token_find(struct store *s, const unsigned char hash[32], struct store_token *out,
                     unsigned char stored_hash[32]);
/* store_token_each - every token, active ones first, then by name */
int store_token_each(struct store *s, store_token_cb cb, void *arg);
/* store_token_revoke - revoke the active token called name (STORE_E_NOTFOUND when none) */
int store_token_revoke(struct store *s, const char *name, int64_t now, int64_t *id);
/* store_token_used - record a use of token id at now from client */
int store_token_used(struct store *s, int64_t id, int64_t now, const char *client);

struct store_audit {
	int64_t id;
	int64_t ts;
	int64_t token_id; /* 0: none (a change made on the command line) */
	const char *token_name;
	const char *method;
	const char *path;
	const char *resource; /* "contact:ann@example.com", ...; NULL: none */
	int status;
	const char *client;
};
typedef int (*store_audit_cb)(void *arg, const struct store_audit *a);

/* store_audit_add - append a row (a->id is ignored) */
int store_audit_add(struct store *s, const struct store_audit *a);
/*
 * store_audit_each - rows with ts >= since and id > after, oldest first, at
 * most limit (0: all)
 */
int store_audit_each(struct store *s, int64_t since, int64_t after, int limit, store_audit_cb cb,
                     void *arg);

#endif
