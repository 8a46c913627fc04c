/* store_policy - the domain_policies table (see store_policy.h). */
#include "kirim/store_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"
#include "store_int.h"

/* Columns in the order of struct policy's fields (policy_field_name gives the same names). */
#define POLICY_COLUMNS                                                                             \
	"pattern, max_connections, rate, max_msgs_per_conn, connect_rate, tls,"                    \
	" coalesce(json_extract(warmup, '$.plan'),"                                                \
	"   (SELECT group_concat(value, ',') FROM json_each(warmup, '$.caps'))),"                  \
	" coalesce(json_extract(warmup, '$.start'), 0), source, updated_at, warmup IS NOT NULL,"   \
	" egress"
/* The same in PostgreSQL's words (warmup is json there). */
#define POLICY_COLUMNS_PG                                                                          \
	"pattern, max_connections, rate, max_msgs_per_conn, connect_rate, tls,"                    \
	" coalesce(warmup->>'plan', (SELECT string_agg(c, ',')"                                    \
	"   FROM json_array_elements_text(warmup->'caps') AS c)),"                                 \
	" coalesce((warmup->>'start')::bigint, 0), source, updated_at, warmup IS NOT NULL,"        \
	" egress"

/* The table's own columns named as domain_policies.x: bare, PostgreSQL finds them ambiguous
 * beside excluded's. */
static const char sql_set[] =
    "INSERT INTO domain_policies(pattern, max_connections, rate, max_msgs_per_conn,"
    " connect_rate, tls, warmup, source, updated_at, egress)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?17)"
    " ON CONFLICT(pattern) DO UPDATE SET"
    " max_connections = CASE WHEN ?10 THEN excluded.max_connections ELSE "
    "domain_policies.max_connections END,"
    " rate = CASE WHEN ?11 THEN excluded.rate ELSE domain_policies.rate END,"
    " max_msgs_per_conn = CASE WHEN ?12 THEN excluded.max_msgs_per_conn"
    "   ELSE domain_policies.max_msgs_per_conn END,"
    " connect_rate = CASE WHEN ?13 THEN excluded.connect_rate ELSE domain_policies.connect_rate "
    "END,"
    " tls = CASE WHEN ?14 THEN excluded.tls ELSE domain_policies.tls END,"
    " warmup = CASE WHEN ?15 THEN excluded.warmup ELSE domain_policies.warmup END,"
    " egress = CASE WHEN ?16 THEN excluded.egress ELSE domain_policies.egress END,"
    " source = excluded.source, updated_at = excluded.updated_at";

static const char sql_bump[] = "INSERT INTO settings(key, value) VALUES ('policy_version', 1)"
                               " ON CONFLICT(key) DO UPDATE SET value = value + 1";
/* settings.value is bytea there, an integer kept as its digits (docs/postgresql.md). */
#define PG_SETTING_INT(V) "coalesce(convert_from(" V ", 'UTF8')::bigint, 0)"
static const char sql_bump_pg[] =
    "INSERT INTO settings(key, value) VALUES ('policy_version', '1')"
    " ON CONFLICT(key) DO UPDATE SET value = convert_to((" PG_SETTING_INT(
        "settings.value") " + 1)::text, 'UTF8')";

/*
 * Clears the fields whose ?3+f is true, f in the order of enum policy_field
 * (as sql_set's ?10+f): one statement whatever the mask.
 */
static const char sql_unset[] =
    "UPDATE domain_policies SET updated_at = ?2,"
    " max_connections = CASE WHEN ?3 THEN NULL ELSE max_connections END,"
    " rate = CASE WHEN ?4 THEN NULL ELSE rate END,"
    " max_msgs_per_conn = CASE WHEN ?5 THEN NULL ELSE max_msgs_per_conn END,"
    " connect_rate = CASE WHEN ?6 THEN NULL ELSE connect_rate END,"
    " tls = CASE WHEN ?7 THEN NULL ELSE tls END,"
    " warmup = CASE WHEN ?8 THEN NULL ELSE warmup END,"
    " egress = CASE WHEN ?9 THEN NULL ELSE egress END"
    " WHERE pattern = ?1";
_Static_assert(POLICY_NFIELDS == 7, "sql_set and sql_unset name every policy field");

static int
bump(struct store *s)
{
	struct db_stmt *st = store_stmt_pg(s, sql_bump, sql_bump_pg);
	return st ? store_step_done(s, st, "count a policy change") : STORE_E_SQL;
}

/* warmup_json - the warmup column for p: {"plan":..,"start":..,"caps":[..]} */
static void
warmup_json(const struct policy *p, struct buf *b)
{
	long caps[THROTTLE_WARMUP_DAYS];
	int n =
	    p->warmup[0] ? throttle_warmup_expand(p->warmup, caps, THROTTLE_WARMUP_DAYS, NULL) : 0;
	buf_adds(b, "{\"plan\":");
	buf_json_string(b, p->warmup, strlen(p->warmup));
	buf_printf(b, ",\"start\":%lld,\"caps\":[", (long long)p->warmup_start);
	for (int i = 0; i < n; i++)
		buf_printf(b, "%s%ld", i ? "," : "", caps[i]);
	buf_adds(b, "]}");
}

/* store_policy_set - write the fields of p named in p->set */
int
store_policy_set(struct store *s, const struct policy *p, const char *source)
{
	struct db_stmt *st = store_stmt(s, sql_set);
	if (st == NULL)
		return STORE_E_SQL;
	struct buf w = BUF_INIT;
	unsigned set = p->set;
	db_bind_text(st, 1, p->pattern);
	if (set & POLICY_HAS(POLICY_F_MAX_CONNECTIONS))
		db_bind_int(st, 2, p->max_connections);
	if (set & POLICY_HAS(POLICY_F_RATE))
		db_bind_double(st, 3, p->rate);
	if (set & POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN))
		db_bind_int(st, 4, p->max_msgs_per_conn);
	if (set & POLICY_HAS(POLICY_F_CONNECT_RATE))
		db_bind_double(st, 5, p->connect_rate);
	if (set & POLICY_HAS(POLICY_F_TLS))
		db_bind_text(st, 6, policy_tls_name(p->tls));
	if (set & POLICY_HAS(POLICY_F_WARMUP)) {
		warmup_json(p, &w);
		db_bind_textn(st, 7, w.data, (int)w.len);
	}
	if (set & POLICY_HAS(POLICY_F_EGRESS))
		db_bind_text(st, 17, p->egress);
	db_bind_text(st, 8, source ? source : "user");
	db_bind_int64(st, 9, store_now());
	for (int f = 0; f < POLICY_NFIELDS; f++)
		db_bind_int(st, 10 + f, (set & POLICY_HAS(f)) != 0);
	int rc = store_step_done(s, st, "set a domain policy");
	buf_free(&w);
	return rc ? rc : bump(s);
}

/* store_policy_unset - clear the fields in mask of pattern */
int
store_policy_unset(struct store *s, const char *pattern, unsigned mask)
{
	struct db_stmt *st = store_stmt(s, sql_unset);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, pattern);
	db_bind_int64(st, 2, store_now());
	for (int f = 0; f < POLICY_NFIELDS; f++)
		db_bind_int(st, 3 + f, (mask & POLICY_HAS(f)) != 0);
	int rc = store_step_done(s, st, "unset a domain policy field");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return STORE_E_NOTFOUND;
	return rc ? rc : bump(s);
}

/* store_policy_delete - remove the record of pattern */
int
store_policy_delete(struct store *s, const char *pattern)
{
	static const char sql[] = "DELETE FROM domain_policies WHERE pattern = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, pattern);
	int rc = store_step_done(s, st, "delete a domain policy");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return STORE_E_NOTFOUND;
	return rc ? rc : bump(s);
}

/* row_fill - a struct policy from a row of POLICY_COLUMNS */
static void
row_fill(struct db_stmt *st, struct policy *p)
{
	memset(p, 0, sizeof(*p));
	store_copy_text(p->pattern, sizeof(p->pattern), st, 0);
	if (!db_column_null(st, 1)) {
		p->max_connections = db_column_int(st, 1);
		p->set |= POLICY_HAS(POLICY_F_MAX_CONNECTIONS);
	}
	if (!db_column_null(st, 2)) {
		p->rate = db_column_double(st, 2);
		p->set |= POLICY_HAS(POLICY_F_RATE);
	}
	if (!db_column_null(st, 3)) {
		p->max_msgs_per_conn = db_column_int(st, 3);
		p->set |= POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN);
	}
	if (!db_column_null(st, 4)) {
		p->connect_rate = db_column_double(st, 4);
		p->set |= POLICY_HAS(POLICY_F_CONNECT_RATE);
	}
	const char *tls = db_column_text(st, 5);
	if (tls && policy_tls_parse(tls, &p->tls) == 0)
		p->set |= POLICY_HAS(POLICY_F_TLS);
	if (db_column_int(st, 10)) {
		store_copy_text(p->warmup, sizeof(p->warmup), st, 6);
		p->warmup_start = db_column_int64(st, 7);
		p->set |= POLICY_HAS(POLICY_F_WARMUP);
	}
	if (!db_column_null(st, 11)) {
		store_copy_text(p->egress, sizeof(p->egress), st, 11);
		p->set |= POLICY_HAS(POLICY_F_EGRESS);
	}
	store_copy_text(p->source, sizeof(p->source), st, 8);
	p->updated_at = db_column_int64(st, 9);
}

/* store_policy_get - the record of pattern */
int
store_policy_get(struct store *s, const char *pattern, struct policy *out)
{
	static const char sql[] =
	    "SELECT " POLICY_COLUMNS " FROM domain_policies WHERE pattern = ?1";
	static const char pg[] =
	    "SELECT " POLICY_COLUMNS_PG " FROM domain_policies WHERE pattern = ?1";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, pattern);
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW)
		row_fill(st, out);
	else if (rc == DB_DONE)
		ret = STORE_E_NOTFOUND;
	else
		ret = store_fail(s, "read a domain policy");
	db_reset(st);
	return ret;
}

/* store_policy_each - every record, by pattern */
int
store_policy_each(struct store *s, store_policy_cb cb, void *arg)
{
	static const char sql[] = "SELECT " POLICY_COLUMNS " FROM domain_policies ORDER BY pattern";
	/* In byte order, as SQLite's BINARY collation, whatever the database's locale. */
	static const char pg[] =
	    "SELECT " POLICY_COLUMNS_PG " FROM domain_policies ORDER BY pattern COLLATE \"C\"";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		struct policy p;
		row_fill(st, &p);
		if ((ret = cb(arg, &p)) != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read domain policies");
	db_reset(st);
	return ret;
}

struct load {
	struct policy *rows;
	size_t n, cap;
};

static int
load_row(void *arg, const struct policy *p)
{
	struct load *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->rows = xrealloc(l->rows, l->cap * sizeof(*l->rows));
	}
	l->rows[l->n++] = *p;
	return 0;
}

/* store_policy_load_all - every record in one array */
int
store_policy_load_all(struct store *s, struct policy **rows, size_t *n)
{
	struct load l = {0};
	int rc = store_policy_each(s, load_row, &l);
	if (rc != 0) {
		free(l.rows);
		return rc;
	}
	*rows = l.rows;
	*n = l.n;
	return 0;
}

/* store_policy_version - a number that changes with every change to the records */
int
store_policy_version(struct store *s, int64_t *version)
{
	static const char sql[] =
	    "SELECT (SELECT coalesce(max(value), 0) FROM settings WHERE key = 'policy_version'),"
	    " count(*), coalesce(sum(updated_at), 0), coalesce(max(updated_at), 0)"
	    " FROM domain_policies";
	static const char pg[] = "SELECT (SELECT coalesce(max(" PG_SETTING_INT(
	    "value") "), 0) FROM settings"
	             " WHERE key = 'policy_version'), count(*), coalesce(sum(updated_at), 0),"
	             " coalesce(max(updated_at), 0) FROM domain_policies";
	struct db_stmt *st = store_stmt_pg(s, sql, pg);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = db_step(st), ret = 0;
	if (rc == DB_ROW) {
		/* A hash, compared for equality only: the counter catches changes made by kirim,
		 * count and the sums catch rows changed by hand. */
		uint64_t v = (uint64_t)db_column_int64(st, 0);
		v = v * 1000003u + (uint64_t)db_column_int64(st, 1);
		v = v * 1000003u + (uint64_t)db_column_int64(st, 2);
		v = v * 1000003u + (uint64_t)db_column_int64(st, 3);
		*version = (int64_t)(v & INT64_MAX);
	} else {
		ret = store_fail(s, "read the policy version");
	}
	db_reset(st);
	return ret;
}

/* store_policy_presets - write the shipped presets */
int
store_policy_presets(struct store *s, bool reset, int *added)
{
	int n = 0, rc = 0;
	for (size_t i = 0; rc == 0 && i < policy_preset_count(); i++) {
		struct policy p, old;
		policy_preset(i, &p, NULL);
		rc = store_policy_get(s, p.pattern, &old);
		if (rc == 0 && !reset)
			continue;
		if (rc == 0)
			rc = store_policy_delete(s, p.pattern);
		else if (rc == STORE_E_NOTFOUND)
			rc = 0;
		if (rc == 0)
			rc = store_policy_set(s, &p, "preset");
		n += rc == 0;
	}
	if (rc == 0) {
		static const char sql[] = "INSERT INTO settings(key, value)"
		                          " VALUES ('policy_presets', ?1)"
		                          " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
		struct db_stmt *st = store_stmt(s, sql);
		if (st == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, store_now());
		rc = store_step_done(s, st, "mark the presets seeded");
	}
	if (rc == 0 && added)
		*added = n;
	return rc;
}

/* store_policy_seed - the presets, once in a database's life */
int
store_policy_seed(struct store *s, int *added)
{
	static const char sql[] = "SELECT 1 FROM settings WHERE key = 'policy_presets'";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc = db_step(st);
	db_reset(st);
	if (rc == DB_ROW) {
		if (added)
			*added = 0;
		return 0;
	}
	if (rc != DB_DONE)
		return store_fail(s, "look for seeded presets");
	return store_policy_presets(s, false, added);
}
