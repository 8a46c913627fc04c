/* store_import - a known contact's attributes for the importer (see store_import.h). */
#include "kirim/store_import.h"
#include "store_int.h"

#include "kirim/buf.h"
#include "kirim/store.h"

static void
store_import_attrs_fill(struct db_stmt *st, void *out)
{
	struct buf *b = out;
	const char *t = db_column_text(st, 0);
	if (t)
		buf_add(b, t, (size_t)db_column_bytes(st, 0));
	else
		buf_adds(b, "{}");
}

int
store_import_known_attrs(struct store *s, const char *key, struct buf *out)
{
	/* contacts.email is UNIQUE COLLATE NOCASE: one seek in its index. */
	static const char sql[] = "SELECT attrs FROM contacts WHERE email = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	buf_reset(out);
	db_bind_text(st, 1, key);
	/* Size 0: out is the importer's buffer, reused row after row, not a struct to zero. */
	int rc = store_get_one(s, st, store_import_attrs_fill, out, 0, "read contact attributes");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no contact %s", key);
	return rc;
}
