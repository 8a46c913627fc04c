/*
 * test_users - the console's users and sessions on an in-memory database
 * made by store_open (the real schema): Argon2id hashes, bad names, roles and
 * passwords refused, a login's session found by its token and by nothing
 * else, idle and absolute expiry, logout, and a change of password or a
 * deleted user ending every session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/store.h"
#include "kirim/store_user.h"
#include "kirim/users.h"

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

static void
test_hash(void **state)
{
	(void)state;
	char a[256], b[256];
	assert_int_equal(users_password_hash("correct horse", a, sizeof(a)), 0);
	assert_int_equal(users_password_hash("correct horse", b, sizeof(b)), 0);
	assert_int_equal(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
	assert_string_not_equal(a, b); /* salted */
	assert_true(users_password_ok(a, "correct horse"));
	assert_false(users_password_ok(a, "correct horsf"));
	assert_false(users_password_ok(a, ""));
	assert_false(users_password_ok("not a hash", "correct horse"));
	/* Only Argon2id: an Argon2i string of the same password is refused. */
	char i[256];
	strcpy(i, a);
	memmove(i + 8, i + 9, strlen(i + 9) + 1); /* "$argon2id$" -> "$argon2i$" */
	assert_false(users_password_ok(i, "correct horse"));
}

static void
test_add(void **state)
{
	struct store *s = *state;
	static const struct {
		const char *label, *name, *role, *password;
		int want;
	} cases[] = {
	    {"good", "ann", "admin", "secret-pass-1", 0},
	    {"taken", "ann", "viewer", "secret-pass-2", STORE_E_EXISTS},
	    {"bad name", "ann lee", "viewer", "secret-pass-1", USERS_E_USAGE},
	    {"bad role", "bob", "root", "secret-pass-1", USERS_E_USAGE},
	    {"short password", "bob", "viewer", "1234567", USERS_E_USAGE},
	    {"eight characters in more bytes", "cyd", "viewer", "pässwörd", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int rc = users_add(s, cases[i].name, cases[i].role, cases[i].password, 100, err,
		                   sizeof(err));
		if (rc != cases[i].want)
			fail_msg("%s: got %d (%s), want %d", cases[i].label, rc, err,
			         cases[i].want);
		if (rc < 0 && err[0] == '\0')
			fail_msg("%s: no reason given", cases[i].label);
	}
	struct store_user u;
	assert_int_equal(store_user_get(s, "ann", &u), 0);
	assert_string_equal(u.role, "admin");
	assert_true(users_password_ok(u.password_hash, "secret-pass-1"));
}

static void
test_sessions(void **state)
{
	struct store *s = *state;
	char err[256], tok[CONSOLE_TOKEN_CHARS + 1], tok2[CONSOLE_TOKEN_CHARS + 1];
	struct access_who who, w2;
	assert_int_equal(users_add(s, "ann", "editor", "secret-pass-1", 100, err, sizeof(err)), 0);
	/* Wrong password and unknown user answer alike. */
	assert_int_equal(
	    users_login(s, "ann", "wrong-pass", "127.0.0.1", 200, tok, &who, err, sizeof(err)),
	    USERS_E_LOGIN);
	char wrong[256];
	snprintf(wrong, sizeof(wrong), "%s", err);
	assert_int_equal(users_login(s, "nobody", "secret-pass-1", "127.0.0.1", 200, tok, &who, err,
	                             sizeof(err)),
	                 USERS_E_LOGIN);
	assert_string_equal(wrong, err);
	/* A login: a token, who it is. */
	assert_int_equal(
	    users_login(s, "ann", "secret-pass-1", "127.0.0.1", 200, tok, &who, err, sizeof(err)),
	    0);
	assert_int_equal(strlen(tok), CONSOLE_TOKEN_CHARS);
	assert_string_equal(who.name, "console:ann");
	assert_int_equal(who.scope, 2);
	assert_true(who.session_id > 0);
	assert_int_equal(users_session(s, tok, 300, &w2), 0);
	assert_int_equal(w2.session_id, who.session_id);
	assert_int_equal(w2.scope, 2);
	/* Another token, or the token's hash, is nobody. */
	char other[CONSOLE_TOKEN_CHARS + 1];
	memcpy(other, tok, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	assert_int_equal(users_session(s, other, 300, &w2), ACCESS_E_INVALID);
	/* Idle past CONSOLE_IDLE: gone; used now and then it lives, up to CONSOLE_ABSOLUTE. */
	assert_int_equal(users_session(s, tok, 200 + CONSOLE_IDLE + 1, &w2), ACCESS_E_INVALID);
	int64_t t = 200;
	while (t + CONSOLE_IDLE / 2 <= 200 + CONSOLE_ABSOLUTE) {
		t += CONSOLE_IDLE / 2;
		assert_int_equal(users_session(s, tok, t, &w2), 0);
		assert_int_equal(store_session_seen(s, w2.session_id, t), 0);
	}
	assert_int_equal(users_session(s, tok, 200 + CONSOLE_ABSOLUTE + 1, &w2), ACCESS_E_INVALID);
	/* Logout ends that session only. */
	assert_int_equal(
	    users_login(s, "ann", "secret-pass-1", "127.0.0.1", 300, tok2, &w2, err, sizeof(err)),
	    0);
	assert_int_equal(users_logout(s, who.session_id), 0);
	assert_int_equal(users_session(s, tok, 310, &who), ACCESS_E_INVALID);
	assert_int_equal(users_session(s, tok2, 310, &who), 0);
	/* A new password ends every session; the old password fails, the new one works. */
	assert_int_equal(users_passwd(s, "ann", "short", 320, err, sizeof(err)), USERS_E_USAGE);
	assert_int_equal(users_passwd(s, "ann", "another-pass-2", 320, err, sizeof(err)), 0);
	assert_int_equal(users_session(s, tok2, 330, &who), ACCESS_E_INVALID);
	assert_int_equal(
	    users_login(s, "ann", "secret-pass-1", "127.0.0.1", 330, tok, &who, err, sizeof(err)),
	    USERS_E_LOGIN);
	assert_int_equal(
	    users_login(s, "ann", "another-pass-2", "127.0.0.1", 330, tok, &who, err, sizeof(err)),
	    0);
	/* Two steps: a password checked, then changed before the session is made: none. */
	struct users_login l;
	assert_int_equal(users_password_check(s, "ann", "another-pass-2", &l, err, sizeof(err)), 0);
	assert_int_equal(users_passwd(s, "ann", "another-pass-3", 335, err, sizeof(err)), 0);
	assert_int_equal(users_session_open(s, &l, "127.0.0.1", 336, tok2, &w2, err, sizeof(err)),
	                 USERS_E_LOGIN);
	assert_int_equal(users_password_check(s, "ann", "another-pass-3", &l, err, sizeof(err)), 0);
	assert_int_equal(users_session_open(s, &l, "127.0.0.1", 336, tok2, &w2, err, sizeof(err)),
	                 0);
	/* A deleted user's sessions go with them. */
	assert_int_equal(users_delete(s, "ann", err, sizeof(err)), 0);
	assert_int_equal(users_session(s, tok, 340, &who), ACCESS_E_INVALID);
	assert_int_equal(users_delete(s, "ann", err, sizeof(err)), STORE_E_NOTFOUND);
	assert_int_equal(users_session(s, tok2, 340, &who), ACCESS_E_INVALID);
	assert_int_equal(users_passwd(s, "ann", "another-pass-4", 350, err, sizeof(err)),
	                 STORE_E_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test_setup_teardown(test_add, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
