/* store_import - a known contact's attributes for the importer (see store_import.h). */
#include "kirim/store_import.h"
#include "store_int.h"

#include "kirim/buf.h"
#include "kirim/store.h"

static void
store_import_attrs_fill(sqlite3_stmt *st, void *out)
{
	struct buf *b = out;
	const unsigned char *t = sqlite3_column_text(st, 0);
	if (t)
		buf_add(b, t, (size_t)sqlite3_column_bytes(st, 0));
	else
		buf_adds(b, "{}");
}

int
store_import_known_attrs(struct store *s, const char *key, struct buf *out)
{
	/* contacts.email is UNIQUE COLLATE NOCASE: one seek in its index. */
	static const char sql[] = "SELECT attrs FROM contacts WHERE email = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	buf_reset(out);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	/*
	 * store_get_one zeroes what it fills: out is the importer's buffer, kept across
	 * rows, so the row goes into a buffer of its own first (zeroing out leaked it).
	 */
	struct buf got = BUF_INIT;
	int rc = store_get_one(s, st, store_import_attrs_fill, &got, sizeof got,
	                       "read contact attributes");
	if (rc == 0 && got.len)
		buf_add(out, got.data, got.len);
	buf_free(&got);
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no contact %s", key);
	return rc;
}
