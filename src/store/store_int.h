/*
 * store_int - what the store's own files share (src/store/ only).
 *
 * store.c owns the connection and the statement table of the core tables;
 * other files in src/store/ (one per feature area: reports, bounces, serve)
 * prepare their own statements on the same connection through store_db and
 * report failures through store_fail, so every SQL string still lives in the
 * store layer.
 */
#ifndef KIRIM_STORE_INT_H
#define KIRIM_STORE_INT_H

#include <stdint.h>

#include <sqlite3.h>

struct store;

/* store_db - the SQLite connection */
sqlite3 *store_db(struct store *s);
/* store_fail - record SQLite's last error for what; STORE_E_BUSY or STORE_E_SQL */
int store_fail(struct store *s, const char *what);
/*
 * store_prepare - sql prepared once on s and kept until store_close (the key
 * is the string's address: pass a static string), reset and with no
 * bindings; NULL with store_errmsg set when it does not prepare
 */
sqlite3_stmt *store_prepare(struct store *s, const char *sql);
/* store_now - the current Unix time, as every table stores it */
int64_t store_now(void);

#endif
