/*
 * test_access - API tokens (made, found by their hash, revoked, names unique
 * among active ones), the Authorization header check, the audit log, and the
 * store's batches (store_batch_begin: savepoints that undo one change alone).
 * On an in-memory database made by store_open (the real schema).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/access.h"
#include "kirim/store.h"
#include "kirim/store_api.h"

static int
setup(void **state)
{
	struct store *s;
	char err[256];
	if (store_open(":memory:", STORE_CREATE, &s, err, sizeof(err)) < 0)
		fail_msg("store_open: %s", err);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	store_close(*state);
	return 0;
}

/* The newest migration's number is the schema version, whatever gap comes before it. */
static void
test_schema(void **state)
{
	struct store *s = *state;
	assert_true(store_migrations_count > 0);
	assert_int_equal(store_schema_version(s),
	                 store_migrations[store_migrations_count - 1].version);
	for (int i = 1; i < store_migrations_count; i++)
		assert_true(store_migrations[i].version > store_migrations[i - 1].version);
}

static void
test_tokens(void **state)
{
	struct store *s = *state;
	char t1[ACCESS_TOKEN_MAX], t2[ACCESS_TOKEN_MAX], err[256], auth[128];
	assert_int_equal(access_token_create(s, "crm", 2, 100, t1, err, sizeof(err)), 0);
	assert_int_equal(strncmp(t1, "kirim_", 6), 0);
	assert_int_equal(strlen(t1), 6 + 43);
	/* The name is taken while the token is active. */
	assert_int_equal(access_token_create(s, "crm", 1, 101, t2, err, sizeof(err)),
	                 STORE_E_EXISTS);
	assert_int_equal(access_token_create(s, "bad name", 1, 101, t2, err, sizeof(err)),
	                 ACCESS_E_USAGE);
	assert_int_equal(access_token_create(s, "x", 4, 101, t2, err, sizeof(err)), ACCESS_E_USAGE);

	static const struct {
		const char *label, *header;
		int want;
	} bad[] = {
	    {"absent", NULL, ACCESS_E_MISSING},
	    {"basic", "Basic YTpi", ACCESS_E_MISSING},
	    {"bearer alone", "Bearer", ACCESS_E_MISSING},
	    {"bearer blank", "Bearer   ", ACCESS_E_MISSING},
	    {"not ours", "Bearer abc", ACCESS_E_INVALID},
	    {"ours, unknown", "Bearer kirim_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	     ACCESS_E_INVALID},
	    {"two words", "Bearer a b", ACCESS_E_INVALID},
	};
	struct access_who who;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = access_check(s, bad[i].header, &who);
		if (rc != bad[i].want)
			fail_msg("%s: got %d want %d", bad[i].label, rc, bad[i].want);
	}
	snprintf(auth, sizeof(auth), "bearer  %s", t1); /* the scheme in any case */
	assert_int_equal(access_check(s, auth, &who), 0);
	assert_string_equal(who.name, "crm");
	assert_int_equal(who.scope, 2);
	/* One character changed: not a token. */
	snprintf(auth, sizeof(auth), "Bearer %s", t1);
	auth[strlen(auth) - 1] ^= 1;
	assert_int_equal(access_check(s, auth, &who), ACCESS_E_INVALID);

	/* Revoked: refused as revoked; the name is free again. */
	assert_int_equal(access_token_revoke(s, "crm", 200, err, sizeof(err)), 0);
	assert_int_equal(access_token_revoke(s, "crm", 201, err, sizeof(err)), STORE_E_NOTFOUND);
	snprintf(auth, sizeof(auth), "Bearer %s", t1);
	assert_int_equal(access_check(s, auth, &who), ACCESS_E_REVOKED);
	assert_int_equal(access_token_create(s, "crm", 3, 300, t2, err, sizeof(err)), 0);
	assert_string_not_equal(t1, t2);
	snprintf(auth, sizeof(auth), "Bearer %s", t2);
	assert_int_equal(access_check(s, auth, &who), 0);
	assert_int_equal(who.scope, 3);
	assert_int_equal(who.last_used_at, 0);
	assert_int_equal(store_token_used(s, who.token_id, 400, "127.0.0.1"), 0);
	assert_int_equal(access_check(s, auth, &who), 0);
	assert_int_equal(who.last_used_at, 400);
}

struct audit_seen {
	int n;
	char paths[8][64];
};

static int
audit_row(void *arg, const struct store_audit *a)
{
	struct audit_seen *seen = arg;
	snprintf(seen->paths[seen->n++], sizeof(seen->paths[0]), "%s %s %d", a->method, a->path,
	         a->status);
	return 0;
}

static void
test_audit(void **state)
{
	struct store *s = *state;
	char t[ACCESS_TOKEN_MAX], err[256];
	assert_int_equal(access_token_create(s, "ops", 3, 1000, t, err, sizeof(err)), 0);
	struct store_audit a = {.ts = 2000,
	                        .token_name = "ops",
	                        .method = "POST",
	                        .path = "/api/lists",
	                        .resource = "list:x",
	                        .status = 201,
	                        .client = "127.0.0.1"};
	assert_int_equal(store_audit_add(s, &a), 0);
	struct audit_seen seen = {0};
	assert_int_equal(store_audit_each(s, 0, 0, 0, audit_row, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.paths[0], "CLI token create 0");
	assert_string_equal(seen.paths[1], "POST /api/lists 201");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_audit_each(s, 1500, 0, 0, audit_row, &seen), 0);
	assert_int_equal(seen.n, 1);
}

static int64_t
count_lists(struct store *s)
{
	struct store_list_info l;
	int64_t n = 0;
	for (const char *const *name = (const char *const[]){"a", "b", "c", "d", NULL}; *name;
	     name++)
		n += store_list_get(s, *name, &l) == 0;
	return n;
}

/* A batch: each change in a savepoint; a change undone alone; the batch kept whole. */
static void
test_batch(void **state)
{
	struct store *s = *state;
	int64_t id;
	bool made;
	assert_int_equal(store_batch_begin(s), 0);
	/* A change kept. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "a", &id, &made), 0);
	assert_int_equal(store_commit(s), 0);
	/* A change undone, with a change of its own (nested) inside it. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "b", &id, &made), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "c", &id, &made), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_rollback(s), 0);
	/* A rollback with no savepoint open leaves the batch alone. */
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "d", &id, &made), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_batch_end(s, true), 0);
	assert_int_equal(count_lists(s), 2);
	struct store_list_info l;
	assert_int_equal(store_list_get(s, "a", &l), 0);
	assert_int_equal(store_list_get(s, "d", &l), 0);
	/* A batch rolled back takes its kept changes with it; plain transactions work after. */
	assert_int_equal(store_batch_begin(s), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "b", &id, &made), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_batch_end(s, false), 0);
	assert_int_equal(count_lists(s), 2);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_list_ensure(s, "c", &id, &made), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_lists(s), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
