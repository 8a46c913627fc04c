/* store_dest - the destinations table and per-destination counts (see store_dest.h). */
#include "kirim/store_dest.h"

#include <stddef.h>

#include "kirim/store.h"
#include "store_int.h"

int
store_dest_save(struct store *s, const struct store_dest_state *d)
{
	/* The whole row, new or replacing the old one (every column is set: what INSERT OR
	 * REPLACE did, in the upsert both SQLite and PostgreSQL read). */
	static const char sql[] =
	    "INSERT INTO destinations(name, domain, rate, connections, suspended_until,"
	    " slowdowns, suspensions, change, note, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULLIF(?8, ''), NULLIF(?9, ''), ?10)"
	    " ON CONFLICT(name) DO UPDATE SET domain = excluded.domain, rate = excluded.rate,"
	    " connections = excluded.connections, suspended_until = excluded.suspended_until,"
	    " slowdowns = excluded.slowdowns, suspensions = excluded.suspensions,"
	    " change = excluded.change, note = excluded.note, updated_at = excluded.updated_at";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, d->name);
	db_bind_text(st, 2, d->domain);
	db_bind_double(st, 3, d->rate);
	db_bind_int(st, 4, d->connections);
	if (d->suspended_until)
		db_bind_int64(st, 5, d->suspended_until);
	db_bind_int64(st, 6, d->slowdowns);
	db_bind_int64(st, 7, d->suspensions);
	db_bind_text(st, 8, d->change ? d->change : "");
	db_bind_text(st, 9, d->note ? d->note : "");
	db_bind_int64(st, 10, d->updated_at ? d->updated_at : store_now());
	return store_step_done(s, st, "save a destination");
}

int
store_dest_each(struct store *s, const char *term, store_dest_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT name, domain, rate, connections, suspended_until, slowdowns, suspensions,"
	    " change, note, updated_at FROM destinations"
	    " WHERE ?1 IS NULL OR instr(name, ?1) > 0 OR instr(domain, ?1) > 0 ORDER BY name";
	static const char pg[] =
	    "SELECT name, domain, rate, connections, suspended_until, slowdowns, suspensions,"
	    " change, note, updated_at FROM destinations WHERE CAST(?1 AS TEXT) IS NULL"
	    " OR strpos(name, ?1) > 0 OR strpos(domain, ?1) > 0 ORDER BY name COLLATE \"C\"";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	if (term)
		db_bind_text(st, 1, term);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_dest_state d = {
		    .name = store_col_text(st, 0),
		    .domain = store_col_text(st, 1),
		    .rate = db_column_double(st, 2),
		    .connections = db_column_int(st, 3),
		    .suspended_until = db_column_int64(st, 4),
		    .slowdowns = db_column_int64(st, 5),
		    .suspensions = db_column_int64(st, 6),
		    .change = store_col_text(st, 7),
		    .note = store_col_text(st, 8),
		    .updated_at = db_column_int64(st, 9),
		};
		ret = cb(arg, &d);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read destinations");
	db_reset(st);
	return ret;
}

int
store_dest_counts_since(struct store *s, int64_t since, store_dest_count_cb cb, void *arg)
{
	static const char sql[] = "SELECT dest, source, count(*) FROM events"
	                          " WHERE type IN ('delivered', 'deferred', 'bounced')"
	                          " AND ts >= ?1 AND dest IS NOT NULL GROUP BY dest, source";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, since);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW)
		ret = cb(arg, store_col_text(st, 0),
		         db_column_null(st, 1) ? NULL : store_col_text(st, 1),
		         db_column_int64(st, 2));
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "count by destination");
	db_reset(st);
	return ret;
}
