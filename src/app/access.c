/*
 * access - API tokens and the audit log (see access.h).
 */
#include "kirim/access.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kirim/store.h"
#include "kirim/store_api.h"
#include "kirim/token.h"

static const char *const scope_names[] = {NULL, "read", "write", "admin"};

int
access_scope_parse(const char *s)
{
	for (int i = 1; i <= 3; i++)
		if (s && strcmp(s, scope_names[i]) == 0)
			return i;
	return -1;
}

const char *
access_scope_name(int scope)
{
	return scope >= 1 && scope <= 3 ? scope_names[scope] : "none";
}

/* name_ok - 1 to ACCESS_NAME_MAX of [A-Za-z0-9._-] */
static bool
name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ACCESS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The audit row of a change made on the command line. */
static int
audit_cli(struct store *s, int64_t token_id, const char *name, const char *what, int64_t now)
{
	char res[160];
	snprintf(res, sizeof(res), "token:%s", name);
	struct store_audit a = {.ts = now,
	                        .token_id = token_id,
	                        .token_name = name,
	                        .method = "CLI",
	                        .path = what,
	                        .resource = res,
	                        .status = 0,
	                        .client = "local"};
	return store_audit_add(s, &a);
}

int
access_token_create(struct store *s, const char *name, int scope, int64_t now,
                    char token[ACCESS_TOKEN_MAX], char *err, size_t errsz)
{
	if (!name_ok(name)) {
		snprintf(err, errsz,
		         "a token name is 1 to %d letters, digits, '.', '_' or '-', not '%s'",
		         ACCESS_NAME_MAX, name);
		return ACCESS_E_USAGE;
	}
	if (scope < 1 || scope > 3) {
		snprintf(err, errsz, "a scope is read, write or admin");
		return ACCESS_E_USAGE;
	}
	char t[ACCESS_TOKEN_MAX];
	unsigned char hash[32];
	if (token_secret_new("kirim_", t, sizeof(t)) < 0 || token_sha256(t, strlen(t), hash) < 0) {
		snprintf(err, errsz, "no random bytes from the system to make a token");
		return STORE_E_SQL;
	}
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%.12s", t);
	int64_t id = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_token_add(s, name, scope_names[scope], hash, prefix, now, &id);
	if (rc == 0)
		rc = audit_cli(s, id, name, "token create", now);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
		memset(t, 0, sizeof(t));
		return rc;
	}
	memcpy(token, t, sizeof(t));
	memset(t, 0, sizeof(t));
	return 0;
}

int
access_token_revoke(struct store *s, const char *name, int64_t now, char *err, size_t errsz)
{
	int64_t id = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_token_revoke(s, name, now, &id);
	if (rc == 0)
		rc = audit_cli(s, id, name, "token revoke", now);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
	}
	return rc;
}

int
access_check(struct store *s, const char *authorization, struct access_who *who)
{
	if (authorization == NULL)
		return ACCESS_E_MISSING;
	const char *p = authorization;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return ACCESS_E_MISSING;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t");
	if (n == 0 || p[n] != '\0')
		return n == 0 ? ACCESS_E_MISSING : ACCESS_E_INVALID;
	if (n != 6 + TOKEN_SECRET_CHARS || strncmp(p, "kirim_", 6) != 0)
		return ACCESS_E_INVALID;
	unsigned char hash[32], stored[32];
	if (token_sha256(p, n, hash) < 0)
		return ACCESS_E_INVALID;
	struct store_token t;
	int rc = store_token_find(s, hash, &t, stored);
	if (rc == STORE_E_NOTFOUND || (rc == 0 && !token_equal(hash, stored, 32)))
		return ACCESS_E_INVALID;
	if (rc < 0)
		return rc;
	if (t.revoked_at)
		return ACCESS_E_REVOKED;
	memset(who, 0, sizeof(*who));
	who->token_id = t.id;
	snprintf(who->name, sizeof(who->name), "%s", t.name);
	who->scope = access_scope_parse(t.scope);
	who->last_used_at = t.last_used_at;
	return 0;
}
