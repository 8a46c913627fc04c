/*
 * test_db - the store's statement layer (src/store/db.h): SQLite's placeholders written as
 * PostgreSQL's, and the SQLite backend's calls doing what SQLite's own do (the PostgreSQL
 * backend runs against a real server in tests/integration/pg_store.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kirim/buf.h"

#include "../../src/store/db.h"

static void
test_placeholders(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want;
		int nparams;
	} cases[] = {
	    {"none", "SELECT 1", "SELECT 1", 0},
	    {"numbered", "SELECT a FROM t WHERE b = ?1 AND c = ?2",
	     "SELECT a FROM t WHERE b = $1 AND c = $2", 2},
	    {"out of order, repeated", "VALUES (?2, ?1, ?2)", "VALUES ($2, $1, $2)", 2},
	    {"two digits", "VALUES (?9, ?17)", "VALUES ($9, $17)", 17},
	    {"bare, numbered as SQLite does", "VALUES (?, ?3, ?)", "VALUES ($1, $3, $4)", 4},
	    {"in a string", "SELECT '?1', ?1 WHERE x = 'a''?2'",
	     "SELECT '?1', $1 WHERE x = 'a''?2'", 1},
	    {"in a quoted name", "SELECT \"a?1\" FROM t WHERE b = ?1",
	     "SELECT \"a?1\" FROM t WHERE b = $1", 1},
	    {"in a comment", "SELECT ?1 -- not ?2\n, ?3", "SELECT $1 -- not ?2\n, $3", 3},
	    {"unterminated string", "SELECT 'a?1", "SELECT 'a?1", 0},
	    {"cast", "CAST(?1 AS TEXT) IS NULL", "CAST($1 AS TEXT) IS NULL", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT;
		int n = -1;
		db_pg_sql(cases[i].in, &out, &n);
		if (strcmp(out.data ? out.data : "", cases[i].want) != 0 || n != cases[i].nparams)
			fail_msg("%s: got [%s] %d, want [%s] %d", cases[i].label,
			         out.data ? out.data : "", n, cases[i].want, cases[i].nparams);
		buf_free(&out);
	}
}

/* The SQLite backend: binds, steps, getters, changes, ids, reset and clear as SQLite's. */
static void
test_sqlite(void **state)
{
	(void)state;
	sqlite3 *lite;
	assert_int_equal(sqlite3_open(":memory:", &lite), SQLITE_OK);
	struct db *db = db_open_sqlite(lite);
	assert_int_equal(db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, r REAL,"
	                             " s TEXT, b BLOB)"),
	                 0);
	assert_null(db_prepare(db, "SELECT nosuch FROM t", NULL, false));
	assert_non_null(strstr(db_errmsg(db), "nosuch"));

	struct db_stmt *ins = db_prepare(db, "INSERT INTO t(n, r, s, b) VALUES (?1, ?2, ?3, ?4)",
	                                 "not SQLite's", true);
	assert_non_null(ins);
	db_bind_int64(ins, 1, INT64_C(9007199254740993));
	db_bind_double(ins, 2, 0.1);
	db_bind_textn(ins, 3, "hello world", 5);
	db_bind_blob(ins, 4, "\0\1\2", 3);
	assert_int_equal(db_step(ins), DB_DONE);
	assert_int_equal(db_changes(db), 1);
	int64_t id = 0;
	assert_int_equal(db_last_id(db, &id), 0);
	assert_int_equal(id, 1);
	/* reset keeps the bindings; clear makes them NULL */
	db_reset(ins);
	assert_int_equal(db_step(ins), DB_DONE);
	db_reset(ins);
	db_clear(ins);
	db_bind_null(ins, 4);
	assert_int_equal(db_step(ins), DB_DONE);
	assert_int_equal(db_last_id(db, &id), 0);
	assert_int_equal(id, 3);

	struct db_stmt *sel =
	    db_prepare(db, "SELECT id, n, r, s, b FROM t ORDER BY id", NULL, false);
	assert_int_equal(db_step(sel), DB_ROW);
	assert_int_equal(db_column_int64(sel, 1), INT64_C(9007199254740993));
	assert_true(db_column_double(sel, 2) == 0.1);
	assert_string_equal(db_column_text(sel, 3), "hello");
	assert_int_equal(db_column_bytes(sel, 3), 5);
	assert_memory_equal(db_column_blob(sel, 4), "\0\1\2", 3);
	assert_int_equal(db_column_bytes(sel, 4), 3);
	assert_false(db_column_null(sel, 3));
	assert_int_equal(db_step(sel), DB_ROW);
	assert_int_equal(db_step(sel), DB_ROW);
	assert_true(db_column_null(sel, 1));
	assert_null(db_column_text(sel, 3));
	assert_int_equal(db_column_int64(sel, 1), 0);
	assert_int_equal(db_step(sel), DB_DONE);
	db_reset(sel);

	assert_false(db_in_transaction(db));
	assert_int_equal(db_exec(db, "BEGIN"), 0);
	assert_true(db_in_transaction(db));
	struct db_stmt *del = db_prepare(db, "DELETE FROM t WHERE n IS NULL", NULL, false);
	assert_int_equal(db_step(del), DB_DONE);
	assert_int_equal(db_changes(db), 1);
	assert_int_equal(db_exec(db, "ROLLBACK"), 0);
	assert_false(db_in_transaction(db));
	assert_int_equal(db_exec(db, "INSERT INTO t(id) VALUES (1)"), DB_E_SQL);
	assert_non_null(strstr(db_errmsg(db), "UNIQUE"));
	assert_false(db_busy(db));

	char server[64];
	db_server(db, server, sizeof(server));
	assert_int_equal(strncmp(server, "SQLite 3.", 9), 0);
	db_finalize(ins);
	db_finalize(sel);
	db_finalize(del);
	db_finalize(NULL);
	db_close(db);
	db_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_placeholders),
	    cmocka_unit_test(test_sqlite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
