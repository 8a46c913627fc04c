/*
 * store_segment - segments, tags, and the evaluation of segment trees
 * (tables segments, contact_tags; see store_audience.h). A tree is compiled
 * by segment_compile into a WHERE fragment over contacts c whose values are
 * all parameters; the statements around it are built per call, prepared on
 * the store's connection and finalized at once (store_segment_stmt): a
 * tree's SQL is not a static string, so it never enters the statement cache.
 * kirim_number and kirim_time, the fragment's two functions, are registered
 * on the connection at open (store_segment_functions).
 */
#include "kirim/store_audience.h"

#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/xmalloc.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the SQL functions ------------------------------------------------------------------ */

/* kirim_number(x): x as a number when it reads as one (segment_number), else NULL */
static void
fn_number(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	double v;
	switch (sqlite3_value_type(argv[0])) {
	case SQLITE_INTEGER:
	case SQLITE_FLOAT:
		sqlite3_result_double(ctx, sqlite3_value_double(argv[0]));
		return;
	case SQLITE_TEXT:
		if (segment_number((const char *)sqlite3_value_text(argv[0]),
		                   (size_t)sqlite3_value_bytes(argv[0]), &v))
			sqlite3_result_double(ctx, v);
		else
			sqlite3_result_null(ctx);
		return;
	default:
		sqlite3_result_null(ctx);
	}
}

/* kirim_time(x): text that reads as a date (segment_time) as Unix seconds, else NULL */
static void
fn_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	int64_t t;
	bool day;
	if (sqlite3_value_type(argv[0]) == SQLITE_TEXT &&
	    segment_time((const char *)sqlite3_value_text(argv[0]),
	                 (size_t)sqlite3_value_bytes(argv[0]), &t, &day))
		sqlite3_result_int64(ctx, t);
	else
		sqlite3_result_null(ctx);
}

/* kirim_sha256(x): store_suppress_hash of text x (an erased address's suppression), NULL for
 * anything else */
static void
fn_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	char hex[65];
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
		sqlite3_result_null(ctx);
		return;
	}
	store_suppress_hash((const char *)sqlite3_value_text(argv[0]), hex);
	sqlite3_result_text(ctx, hex, 64, SQLITE_TRANSIENT);
}

int
store_segment_functions(sqlite3 *db)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	if (sqlite3_create_function(db, "kirim_number", 1, flags, NULL, fn_number, NULL, NULL) !=
	        SQLITE_OK ||
	    sqlite3_create_function(db, "kirim_time", 1, flags, NULL, fn_time, NULL, NULL) !=
	        SQLITE_OK ||
	    sqlite3_create_function(db, "kirim_sha256", 1, flags, NULL, fn_sha256, NULL, NULL) !=
	        SQLITE_OK)
		return -1;
	return 0;
}

/*
 * The same three on PostgreSQL: session functions (pg_temp, made at open by
 * store_segment_functions_pg) over an attribute's jsonb. kirim_number reads a number, a
 * boolean (1, 0: SQLite's json_extract) and a string that segment_number reads;
 * kirim_text an attribute as json_extract's value reads as text (a boolean as 1 or 0);
 * kirim_json_patch is SQLite's json_patch (PG_PATCH, store_int.h);
 * kirim_time a string that segment_time reads (its regular expression and ranges), as
 * Unix seconds. kirim_sha256 is PG_SHA256 in the SQL itself.
 */
static const char pg_functions[] =
    "CREATE FUNCTION pg_temp.kirim_number(x jsonb) RETURNS double precision"
    " LANGUAGE plpgsql IMMUTABLE AS $f$"
    " DECLARE t text; v double precision;"
    " BEGIN"
    "  CASE jsonb_typeof(x)"
    "  WHEN 'number' THEN RETURN (x #>> '{}')::double precision;"
    "  WHEN 'boolean' THEN RETURN CASE WHEN x = 'true' THEN 1 ELSE 0 END;"
    "  WHEN 'string' THEN t := btrim(x #>> '{}', E' \\t');"
    "  ELSE RETURN NULL; END CASE;"
    "  IF length(t) >= 64 OR t !~ '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$'"
    "  THEN RETURN NULL; END IF;"
    "  v := t::double precision;"
    "  RETURN CASE WHEN v IN ('Infinity', '-Infinity') THEN NULL ELSE v END;"
    " EXCEPTION WHEN numeric_value_out_of_range THEN RETURN NULL;"
    " END $f$;"
    "CREATE FUNCTION pg_temp.kirim_json_patch(t json, p json) RETURNS json"
    " LANGUAGE plpgsql IMMUTABLE AS $f$"
    " DECLARE r text;"
    " BEGIN"
    "  IF json_typeof(p) IS DISTINCT FROM 'object' THEN RETURN p; END IF;"
    "  IF json_typeof(t) IS DISTINCT FROM 'object' THEN t := '{}'; END IF;"
    "  SELECT '{' || coalesce(string_agg(to_json(k)::text || ':' || v, ',' ORDER BY o), '')"
    "   || '}' INTO r FROM ("
    "   SELECT a.key AS k, a.n AS o, CASE WHEN b.key IS NULL THEN a.value::text"
    "    ELSE pg_temp.kirim_json_patch(a.value, b.value)::text END AS v"
    "   FROM json_each(t) WITH ORDINALITY a(key, value, n)"
    "   LEFT JOIN json_each(p) b ON b.key = a.key"
    "   WHERE b.key IS NULL OR json_typeof(b.value) <> 'null'"
    "   UNION ALL"
    "   SELECT b.key, 4294967296 + b.n, pg_temp.kirim_json_patch(NULL, b.value)::text"
    "   FROM json_each(p) WITH ORDINALITY b(key, value, n)"
    "   WHERE json_typeof(b.value) <> 'null'"
    "   AND NOT EXISTS (SELECT 1 FROM json_each(t) a WHERE a.key = b.key)) x;"
    "  RETURN r::json;"
    " END $f$;"
    "CREATE FUNCTION pg_temp.kirim_text(x jsonb) RETURNS text"
    " LANGUAGE sql IMMUTABLE AS $f$"
    " SELECT CASE jsonb_typeof(x) WHEN 'boolean' THEN CASE WHEN x = 'true' THEN '1' ELSE '0'"
    " END WHEN 'null' THEN NULL ELSE x #>> '{}' END $f$;"
    "CREATE FUNCTION pg_temp.kirim_time(x jsonb) RETURNS bigint"
    " LANGUAGE plpgsql IMMUTABLE AS $f$"
    " DECLARE m text[]; y int; mo int; d int; h int := 0; mi int := 0; sec int := 0;"
    "  off int := 0; v bigint;"
    " BEGIN"
    "  IF jsonb_typeof(x) IS DISTINCT FROM 'string' THEN RETURN NULL; END IF;"
    "  m := regexp_match(btrim(x #>> '{}', E' \\t'), '^([0-9]{4})-([0-9]{2})-([0-9]{2})"
    "([Tt "
    "]([0-9]{2}):([0-9]{2})(:([0-9]{2})([.][0-9]+)?)?([Zz]|([-+])([0-9]{2})(:?([0-9]{2}))?)?)?$');"
    "  IF m IS NULL THEN RETURN NULL; END IF;"
    "  y := m[1]::int; mo := m[2]::int; d := m[3]::int;"
    "  IF y < 1 OR mo < 1 OR mo > 12 OR d < 1 OR d > extract(day from make_date(y, mo, 1)"
    "   + interval '1 month' - interval '1 day') THEN RETURN NULL; END IF;"
    "  IF m[4] IS NOT NULL THEN"
    "   h := m[5]::int; mi := m[6]::int; sec := coalesce(m[8]::int, 0);"
    "   IF h > 23 OR mi > 59 OR sec > 59 OR coalesce(m[12]::int, 0) > 23"
    "    OR coalesce(m[14]::int, 0) > 59 THEN RETURN NULL; END IF;"
    "   IF m[11] IS NOT NULL THEN off := (m[12]::int * 3600 + coalesce(m[14]::int, 0) * 60)"
    "    * CASE m[11] WHEN '-' THEN -1 ELSE 1 END; END IF;"
    "  END IF;"
    "  v := (make_date(y, mo, d) - date '1970-01-01')::bigint * 86400 + h * 3600 + mi * 60"
    "   + sec - off;"
    "  RETURN CASE WHEN v < -62135596800 OR v >= 253402300800 THEN NULL ELSE v END;"
    " END $f$";

int
store_segment_functions_pg(struct store *s)
{
	return db_exec(store_conn(s), pg_functions) < 0
	           ? store_errf(s, STORE_E_SQL, "make the segment functions: %s",
	                        db_errmsg(store_conn(s)))
	           : 0;
}

/* ---- compiling and running trees -------------------------------------------------------- */

/* resolve's code for a failure of SQLite's (segment_compile's own are -1) */
enum { RESOLVE_E_SQL = -1000 };

/* resolve - segment("name"): the stored segment's tree (segment_resolve_cb) */
static int
resolve(void *arg, const char *name, struct segment_node **out, char *err, size_t errsz)
{
	static const char sql[] = "SELECT expr FROM segments WHERE name = ?1";
	struct store *s = arg;
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return RESOLVE_E_SQL;
	}
	db_bind_text(st, 1, name);
	int rc = db_step(st);
	if (rc != DB_ROW) {
		if (rc == DB_DONE) {
			snprintf(err, errsz, "no segment called '%s'", name);
			db_reset(st);
			return 1;
		}
		store_fail(s, "read a segment");
		snprintf(err, errsz, "%s", store_errmsg(s));
		db_reset(st);
		return RESOLVE_E_SQL;
	}
	const char *expr = db_column_text(st, 0);
	char perr[400];
	rc = segment_parse(expr, (size_t)db_column_bytes(st, 0), out, perr, sizeof(perr));
	db_reset(st);
	if (rc < 0) {
		snprintf(err, errsz, "segment '%s' does not parse: %s", name, perr);
		return 1;
	}
	return 0;
}

int
store_segment_compile(struct store *s, const struct segment_node *tree, int64_t now, int base,
                      bool probe, bool where, struct segment_sql *out)
{
	char err[512];
	memset(out, 0, sizeof(*out));
	out->base = base;
	out->probe = probe;
	out->where = where;
	out->pg = store_conn(s)->kind == DB_PG;
	int rc = segment_compile(tree, now, resolve, s, out, err, sizeof(err));
	if (rc == RESOLVE_E_SQL)
		return STORE_E_SQL; /* store_errmsg says why */
	if (rc < 0)
		return store_errf(s, STORE_E_INVALID, "%s", err);
	return 0;
}

struct db_stmt *
store_segment_prepare(struct store *s, const char *head, const struct segment_sql *q,
                      const char *tail)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, head);
	buf_addc(&sql, '(');
	buf_add(&sql, q->sql.data, q->sql.len);
	buf_addc(&sql, ')');
	buf_adds(&sql, tail);
	struct db_stmt *st = db_prepare(store_conn(s), sql.data, NULL, false);
	buf_free(&sql);
	if (st == NULL) {
		store_fail(s, "prepare a segment's query");
		return NULL;
	}
	for (size_t i = 0; i < q->nparams; i++) {
		const struct segment_param *p = &q->params[i];
		int k = q->base + (int)i + 1;
		/* Copied on PostgreSQL; SQLite's binding is SQLITE_STATIC: q outlives st here. */
		if (p->type == SEGMENT_P_TEXT && st->lite)
			sqlite3_bind_text(st->lite, k, p->text, -1, SQLITE_TRANSIENT);
		else if (p->type == SEGMENT_P_TEXT)
			db_bind_text(st, k, p->text);
		else if (p->type == SEGMENT_P_INT)
			db_bind_int64(st, k, p->i);
		else
			db_bind_double(st, k, p->r);
	}
	return st;
}

sqlite3_stmt *
store_segment_stmt(struct store *s, const char *head, const struct segment_sql *q, const char *tail)
{
	struct buf sql = BUF_INIT;
	sqlite3_stmt *st = NULL;
	buf_adds(&sql, head);
	buf_addc(&sql, '(');
	buf_add(&sql, q->sql.data, q->sql.len);
	buf_addc(&sql, ')');
	buf_adds(&sql, tail);
	if (sqlite3_prepare_v2(store_db(s), sql.data, (int)sql.len, &st, NULL) != SQLITE_OK) {
		store_fail(s, "prepare a segment's query");
		buf_free(&sql);
		return NULL;
	}
	buf_free(&sql);
	for (size_t i = 0; i < q->nparams; i++) {
		const struct segment_param *p = &q->params[i];
		int k = q->base + (int)i + 1;
		if (p->type == SEGMENT_P_TEXT)
			sqlite3_bind_text(st, k, p->text, -1, SQLITE_TRANSIENT);
		else if (p->type == SEGMENT_P_INT)
			sqlite3_bind_int64(st, k, p->i);
		else
			sqlite3_bind_double(st, k, p->r);
	}
	return st;
}

/* prepared - tree compiled at now between head and tail (parameters after base) into *out;
 * a NULL tree is every contact */
static int
prepared(struct store *s, const struct segment_node *tree, int64_t now, int base, bool probe,
         const char *head, const char *tail, struct db_stmt **out)
{
	struct segment_sql q = {.sql = BUF_INIT, .base = base};
	int rc = tree ? store_segment_compile(s, tree, now, base, probe, true, &q) : 0;
	if (rc < 0)
		return rc;
	if (tree == NULL)
		buf_adds(&q.sql, "1 = 1");
	*out = store_segment_prepare(s, head, &q, tail);
	segment_sql_free(&q);
	return *out ? 0 : STORE_E_SQL;
}

int
store_segment_check(struct store *s, const struct segment_node *tree)
{
	struct segment_sql q;
	int rc = store_segment_compile(s, tree, 0, 0, false, false, &q);
	if (rc == 0)
		segment_sql_free(&q);
	return rc;
}

/* Not suppressed: the rule of SUPPRESSION_OF_C, as a condition on contact c. */
#define NOT_SUPPRESSED                                                                             \
	" NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN " SUPPRESSION_KEYS_OF_C ")"
#define NOT_SUPPRESSED_PG                                                                          \
	" NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN " SUPPRESSION_KEYS_OF_C_PG ")"

/*
 * The tree a count compiles, and how (count_shape): tree itself, or a copy of its top AND
 * without the lists that every contact is a confirmed member of (top, whose kids array
 * the caller frees; the kids are tree's); probe as big_list_and decides.
 */
struct count_shape {
	const struct segment_node *tree; /* NULL: every contact */
	struct segment_node top;
	bool probe;
};

/*
 * count_shape - tree is an AND with a list holding at least a quarter of the contacts
 * (ids stand for their number). Its members are then better looked up per contact that
 * passed the other conditions (segment_sql.probe) than gathered whole first: a
 * 1,000,000-member list and an attribute, 0.42 s of CPU gathered, 0.14 s probed. A list
 * whose kept count of confirmed members (list_domain_counts, schema 017) equals the number
 * of contacts holds every contact: as one term of an AND it is no condition and is left
 * out (a database with one list, counted by an attribute index, looks nothing up per
 * match: 400,000 matches of 1,000,000, 0.2 s probed, 0.03 s without).
 */
static int
count_shape(struct store *s, const struct segment_node *tree, struct count_shape *out)
{
	static const char ids_sql[] = "SELECT coalesce(max(id), 0) FROM contacts";
	static const char contacts_sql[] = "SELECT count(*) FROM contacts";
	memset(out, 0, sizeof(*out));
	out->tree = tree;
	if (tree == NULL || tree->type != SEGMENT_AND)
		return 0;
	struct db_stmt *st = store_stmt(s, ids_sql);
	if (st == NULL)
		return STORE_E_SQL;
	int64_t ids, contacts = -1;
	int rc = store_get_int64(s, st, &ids, "count contacts");
	size_t keep = 0;
	out->top = *tree;
	out->top.kids = xcalloc(tree->nkids, sizeof(*out->top.kids));
	for (size_t i = 0; rc == 0 && i < tree->nkids; i++) {
		const struct segment_node *k = tree->kids[i];
		struct store_list_info li; /* its kept counts (list_domain_counts, schema 017) */
		bool every = false;
		if (k->type == SEGMENT_LIST && (rc = store_list_get(s, k->name, &li)) == 0 &&
		    li.members * 4 >= ids) {
			/* Counted once (the count of a table is of its smallest index: 6 ms a
			 * million contacts), and only for a big list. */
			if (contacts < 0 && (st = store_stmt(s, contacts_sql)) != NULL)
				rc = store_get_int64(s, st, &contacts, "count contacts");
			else if (contacts < 0)
				rc = STORE_E_SQL;
			every = rc == 0 && li.members == contacts;
			out->probe = out->probe || !every;
		} else if (rc == STORE_E_NOTFOUND) {
			rc = 0; /* no such list: its condition matches nobody */
		}
		if (!every)
			out->top.kids[keep++] = tree->kids[i];
	}
	out->top.nkids = keep;
	if (rc < 0 || keep == tree->nkids) {
		free(out->top.kids);
		out->top.kids = NULL;
	} else {
		out->tree = keep ? &out->top : NULL;
	}
	return rc;
}

/*
 * The suppressed part of a count, from the suppressions' side: each suppressed address's
 * contact (the address index), tested against the segment; those whose domain is
 * suppressed are counted by count_domain_sql instead, so that no one counts twice.
 * Together they are NOT_SUPPRESSED's rule without the hash, which count_suppressed
 * leaves to it (an erased address's hash names a contact only by hashing every address).
 */
#define SUPPRESSED_ADDRESS_HEAD_AS(CROSS, LOWER)                                                   \
	"SELECT count(*) FROM (SELECT DISTINCT a.id FROM suppressions p " CROSS " contacts a"      \
	" ON a.email = p.value WHERE " LOWER " = p.value) x " CROSS " contacts c"                  \
	" ON c.id = x.id WHERE "
#define SUPPRESSED_ADDRESS_HEAD SUPPRESSED_ADDRESS_HEAD_AS("CROSS JOIN", "lower(a.email)")
/* PostgreSQL's: no CROSS JOIN ... ON; the address lower-cased in byte order, compared as text */
#define SUPPRESSED_ADDRESS_HEAD_PG                                                                 \
	SUPPRESSED_ADDRESS_HEAD_AS("JOIN", "lower(a.email::text COLLATE \"C\")::text")
#define IN_SUPPRESSED_DOMAIN "c.domain IN (SELECT value FROM suppressions)"

/*
 * count_suppressed - how many of the count contacts that shape matches are suppressed.
 * Per match that is three look-ups (address, domain, hash: NOT_SUPPRESSED), 0.4 s for
 * 400,000 matches; when there are fewer suppressions than matches and none is a hash,
 * each suppressed address's contact is tested instead, and the matches' domains are
 * compared with the suppressed domains only if some domain is suppressed.
 */
static int
count_suppressed(struct store *s, const struct count_shape *shape, int64_t now, int64_t count,
                 int64_t *suppressed)
{
	static const char kinds_sql[] =
	    "SELECT (SELECT count(*) FROM suppressions),"
	    " EXISTS (SELECT 1 FROM suppressions WHERE kind = 'hash'),"
	    " EXISTS (SELECT 1 FROM suppressions WHERE kind = 'domain')";
	*suppressed = 0;
	if (count == 0)
		return 0;
	struct db_stmt *st = store_stmt(s, kinds_sql);
	if (st == NULL)
		return STORE_E_SQL;
	if (db_step(st) != DB_ROW) {
		int rc = store_fail(s, "count the suppressions");
		db_reset(st);
		return rc;
	}
	int64_t n = db_column_int64(st, 0);
	bool hash = db_column_int(st, 1) != 0, domain = db_column_int(st, 2) != 0;
	db_reset(st);
	int rc;
	if (n == 0)
		return 0;
	const char *heads[2] = {NULL, NULL};
	bool pg = store_conn(s)->kind == DB_PG;
	if (hash || n >= count) {
		heads[0] = pg ? "SELECT count(*) FROM contacts c WHERE NOT" NOT_SUPPRESSED_PG
		                " AND "
		              : "SELECT count(*) FROM contacts c WHERE NOT" NOT_SUPPRESSED " AND ";
	} else if (pg) {
		heads[0] = domain ? SUPPRESSED_ADDRESS_HEAD_PG "NOT " IN_SUPPRESSED_DOMAIN " AND "
		                  : SUPPRESSED_ADDRESS_HEAD_PG;
		if (domain)
			heads[1] =
			    "SELECT count(*) FROM contacts c WHERE " IN_SUPPRESSED_DOMAIN " AND ";
	} else {
		heads[0] = domain ? SUPPRESSED_ADDRESS_HEAD "NOT " IN_SUPPRESSED_DOMAIN " AND "
		                  : SUPPRESSED_ADDRESS_HEAD;
		if (domain)
			heads[1] =
			    "SELECT count(*) FROM contacts c WHERE " IN_SUPPRESSED_DOMAIN " AND ";
	}
	for (int i = 0; i < 2 && heads[i]; i++) {
		int64_t k;
		if ((rc = prepared(s, shape->tree, now, 0, shape->probe, heads[i], "", &st)) < 0)
			return rc;
		rc = store_get_int64(s, st, &k, "count a segment's suppressed contacts");
		db_finalize(st);
		if (rc < 0)
			return rc;
		*suppressed += k;
	}
	return 0;
}

/* count_tree - store_segment_count of a tree that is not one segment("name") */
static int
count_tree(struct store *s, const struct segment_node *tree, int64_t now, int64_t *count,
           int64_t *suppressed)
{
	/* One list: its kept counts (the rule of NOT_SUPPRESSED, kept by triggers). */
	if (tree && tree->type == SEGMENT_LIST) {
		struct store_list_info li;
		int rc = store_list_get(s, tree->name, &li);
		if (rc < 0 && rc != STORE_E_NOTFOUND)
			return rc;
		if (rc == 0) {
			*count = li.members;
			if (suppressed)
				*suppressed = li.suppressed;
			return 0;
		}
	}
	struct count_shape shape;
	int rc = count_shape(s, tree, &shape);
	if (rc < 0)
		return rc;
	struct db_stmt *st;
	int64_t n = 0, k = 0;
	rc = prepared(s, shape.tree, now, 0, shape.probe, "SELECT count(*) FROM contacts c WHERE ",
	              "", &st);
	if (rc == 0) {
		rc = store_get_int64(s, st, &n, "count a segment");
		db_finalize(st);
	}
	if (rc == 0 && suppressed)
		rc = count_suppressed(s, &shape, now, n, &k);
	free(shape.top.kids);
	if (rc < 0)
		return rc;
	*count = n;
	if (suppressed)
		*suppressed = k;
	return 0;
}

/*
 * unwrap - segment("name") alone (a stored segment's count: `segment show`, the console's
 * segment page and wizard) as its own tree (*own, freed by the caller), so that
 * count_shape sees its lists: compiled in place it was one parenthesised term, its big
 * list gathered whole (0.7-1.0 s for 400,000 of 1,000,000 contacts, now 0.04 s). A
 * segment that is itself one segment("other") is left to the compiler.
 */
static int
unwrap(struct store *s, const struct segment_node **tree, struct segment_node **own)
{
	char err[512];
	*own = NULL;
	if (*tree == NULL || (*tree)->type != SEGMENT_SEGMENT)
		return 0;
	int rc = resolve(s, (*tree)->name, own, err, sizeof(err));
	if (rc == RESOLVE_E_SQL)
		return STORE_E_SQL; /* store_errmsg says why */
	if (rc != 0)
		return store_errf(s, STORE_E_INVALID, "%s", err);
	if ((*own)->type != SEGMENT_SEGMENT)
		*tree = *own;
	return 0;
}

int
store_segment_count(struct store *s, const struct segment_node *tree, int64_t now, int64_t *count,
                    int64_t *suppressed)
{
	/* Its statements (the shape's counts, the count, the suppressed part) see one state of
	 * the database: a read transaction of its own when none is open. */
	bool own_txn = !db_in_transaction(store_conn(s));
	if (own_txn && db_exec(store_conn(s), "BEGIN") < 0)
		return store_fail(s, "begin counting a segment");
	struct segment_node *own;
	int rc = unwrap(s, &tree, &own);
	if (rc == 0)
		rc = count_tree(s, tree, now, count, suppressed);
	segment_free(own);
	if (own_txn && db_in_transaction(store_conn(s)))
		db_exec(store_conn(s), rc < 0 ? "ROLLBACK" : "COMMIT"); /* it wrote nothing */
	return rc;
}

int
store_segment_contacts(struct store *s, const struct segment_node *tree, int64_t now, int limit,
                       void (*cb)(void *arg, int64_t id, const char *email), void *arg)
{
	struct db_stmt *st;
	int rc = prepared(s, tree, now, 1, false, "SELECT c.id, c.email FROM contacts c WHERE ",
	                  " ORDER BY c.id LIMIT ?1", &st);
	if (rc < 0)
		return rc;
	db_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* PostgreSQL has no LIMIT -1 */
	while ((rc = db_step(st)) == DB_ROW)
		cb(arg, db_column_int64(st, 0), store_col_text(st, 1));
	int ret = rc == DB_DONE ? 0 : store_fail(s, "read a segment's contacts");
	db_finalize(st);
	return ret;
}

/* walk - tree (NULL: every contact) between head and tail, each row's text columns to cb */
static int
walk(struct store *s, const struct segment_node *tree, int64_t now, const char *head,
     const char *tail, int (*cb)(void *arg, struct db_stmt *st), void *arg, const char *what)
{
	struct db_stmt *st;
	int rc = prepared(s, tree, now, 0, false, head, tail, &st);
	if (rc < 0)
		return rc;
	int ret = 0;
	while ((rc = db_step(st)) == DB_ROW && (ret = cb(arg, st)) == 0)
		;
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, what);
	db_finalize(st);
	return ret;
}

struct export_walk {
	int (*cb)(void *arg, const char *a, const char *b);
	int (*key_cb)(void *arg, const char *key);
	void *arg;
};

static int
export_row(void *arg, struct db_stmt *st)
{
	struct export_walk *w = arg;
	return w->cb(w->arg, store_col_text(st, 0), store_col_text(st, 1));
}

static int
key_row(void *arg, struct db_stmt *st)
{
	struct export_walk *w = arg;
	return w->key_cb(w->arg, store_col_text(st, 0));
}

int
store_segment_export(struct store *s, const struct segment_node *tree, int64_t now,
                     int (*cb)(void *arg, const char *email, const char *attrs), void *arg)
{
	struct export_walk w = {.cb = cb, .arg = arg};
	return walk(s, tree, now, "SELECT c.email, c.attrs FROM contacts c WHERE ",
	            " ORDER BY c.id", export_row, &w, "export contacts");
}

int
store_segment_keys(struct store *s, const struct segment_node *tree, int64_t now,
                   int (*cb)(void *arg, const char *key), void *arg)
{
	/*
	 * One row per name: the first contact that has it, and its place in that
	 * contact's object (json_each's id grows through the text, which is at
	 * most CONTACTS_ATTRS_MAX bytes, below 2^20).
	 */
	struct export_walk w = {.key_cb = cb, .arg = arg};
	if (store_conn(s)->kind == DB_PG)
		return walk(
		    s, tree, now,
		    "SELECT j.key FROM contacts c, json_each(CASE WHEN json_typeof(c.attrs) ="
		    " 'object' THEN c.attrs ELSE '{}' END) WITH ORDINALITY j(key, value, n)"
		    " WHERE ",
		    " GROUP BY j.key ORDER BY min(c.id * 1048576 + j.n)", key_row, &w,
		    "read attribute names");
	return walk(s, tree, now,
	            "SELECT j.key FROM contacts c, json_each(CASE WHEN json_valid(c.attrs)"
	            " THEN c.attrs ELSE '{}' END) j WHERE ",
	            " GROUP BY j.key ORDER BY min(c.id * 1048576 + j.id)", key_row, &w,
	            "read attribute names");
}

/* An attribute index is named by its attribute in hex (any name, one identifier). */
#define ATTR_INDEX_PREFIX "contacts_attr_"

int
store_segment_index(struct store *s, const char *name, bool on, bool *changed)
{
	/* 1: the index, with the contact's domain after the attribute; -1: one of the form
	 * before it held the domain (made again); 0: none */
	static const char exists_sql[] = "SELECT coalesce(max(CASE WHEN sql LIKE '%, domain)'"
	                                 " THEN 1 ELSE -1 END), 0) FROM sqlite_master"
	                                 " WHERE type = 'index' AND name = ?1";
	size_t len = strlen(name);
	if (len == 0 || len > 255)
		return store_errf(s, STORE_E_INVALID, "an attribute name is 1 to 255 bytes");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '"' || *p < 0x20 || *p == 0x7f)
			return store_errf(s, STORE_E_INVALID,
			                  "'%s' cannot be an attribute name (no '\"' or control "
			                  "characters)",
			                  name);
	struct buf ix = BUF_INIT, sql = BUF_INIT;
	buf_adds(&ix, ATTR_INDEX_PREFIX);
	for (size_t i = 0; i < len; i++)
		buf_printf(&ix, "%02x", (unsigned char)name[i]);
	sqlite3_stmt *st = store_prepare(s, exists_sql);
	int64_t n = 0;
	int rc = st ? 0 : STORE_E_SQL;
	if (rc == 0) {
		sqlite3_bind_text(st, 1, ix.data, -1, SQLITE_STATIC);
		rc = store_get_int64(s, st, &n, "look for the attribute's index");
	}
	*changed = rc == 0 && (on ? n != 1 : n != 0);
	if (*changed) {
		if (on) {
			/* The domain after the attribute: a count's domain-suppressed part
			 * (count_suppressed) is then read from the index alone, attribute and
			 * domain together, not from every matching contact's row. */
			buf_adds(&sql, "SAVEPOINT attr_index; ");
			if (n < 0)
				buf_printf(&sql, "DROP INDEX %s; ", ix.data);
			buf_printf(&sql, "CREATE INDEX %s ON contacts(", ix.data);
			segment_index_expr(&sql, "attrs", name);
			buf_adds(&sql, ", domain); RELEASE attr_index");
		} else {
			buf_printf(&sql, "DROP INDEX %s", ix.data);
		}
		/* Built here, run once: not for the statement cache. */
		if (sqlite3_exec(store_db(s), sql.data, NULL, NULL, NULL) != SQLITE_OK) {
			rc = store_fail(s,
			                on ? "index the attribute" : "drop the attribute's index");
			if (on) /* the old index back, if it was dropped */
				sqlite3_exec(store_db(s),
				             "ROLLBACK TO attr_index; RELEASE attr_index", NULL,
				             NULL, NULL);
		}
	}
	buf_free(&ix);
	buf_free(&sql);
	return rc;
}

int
store_segment_indexes(struct store *s, int (*cb)(void *arg, const char *name), void *arg)
{
	static const char sql[] =
	    "SELECT substr(name, length('" ATTR_INDEX_PREFIX "') + 1)"
	    " FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'"
	    " AND name LIKE '" ATTR_INDEX_PREFIX "%' ORDER BY name";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = store_col_text(st, 0);
		size_t n = strlen(hex) / 2;
		char *name = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			unsigned v = 0;
			sscanf(hex + 2 * i, "%2x", &v);
			name[i] = (char)v;
		}
		name[n] = '\0';
		ret = cb(arg, name);
		free(name);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "list the attribute indexes");
	sqlite3_reset(st);
	return ret;
}

int
store_segment_plan(struct store *s, const struct segment_node *tree, int64_t now,
                   void (*cb)(void *arg, int depth, const char *detail), void *arg)
{
	/* The count's own query: shaped and probed as the count does it. */
	if (store_conn(s)->kind == DB_PG)
		return store_errf(s, STORE_E_SQL, "not on PostgreSQL yet (docs/postgresql.md)");
	struct count_shape shape;
	struct segment_node *own;
	int rc = unwrap(s, &tree, &own);
	if (rc == 0)
		rc = count_shape(s, tree, &shape);
	if (rc < 0) {
		segment_free(own);
		return rc;
	}
	struct db_stmt *st;
	rc = prepared(s, shape.tree, now, 0, shape.probe,
	              "EXPLAIN QUERY PLAN SELECT count(*) FROM contacts c WHERE ", "", &st);
	free(shape.top.kids);
	segment_free(own);
	if (rc < 0)
		return rc;
	/* Rows are (id, parent, -, detail), parents before their children. */
	enum { MAXROWS = 512 };
	int ids[MAXROWS], depths[MAXROWS], n = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		int id = db_column_int(st, 0), parent = db_column_int(st, 1), depth = 0;
		for (int i = 0; i < n; i++)
			if (ids[i] == parent)
				depth = depths[i] + 1;
		if (n < MAXROWS) {
			ids[n] = id;
			depths[n++] = depth;
		}
		cb(arg, depth, store_col_text(st, 3));
	}
	int ret = rc == DB_DONE ? 0 : store_fail(s, "explain a segment's query");
	db_finalize(st);
	return ret;
}

/* ---- segments --------------------------------------------------------------------------- */

static void
segment_row(struct db_stmt *st, void *out)
{
	struct store_segment *seg = out;
	seg->id = db_column_int64(st, 0);
	store_copy_text(seg->name, sizeof(seg->name), st, 1);
	seg->expr = store_dup_text(st, 2);
	seg->created_at = db_column_int64(st, 3);
	seg->updated_at = db_column_int64(st, 4);
}

#define SEGMENT_COLUMNS "SELECT id, name, expr, created_at, updated_at FROM segments"

int
store_segment_get(struct store *s, const char *name, struct store_segment *out)
{
	static const char sql[] = SEGMENT_COLUMNS " WHERE name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = store_get_one(s, st, segment_row, out, sizeof *out, "read a segment");
	if (rc == STORE_E_NOTFOUND)
		store_errf(s, rc, "no segment called '%s'", name);
	return rc;
}

int
store_segment_put(struct store *s, const char *name, const char *expr, bool replace, bool *created)
{
	static const char insert_sql[] =
	    "INSERT INTO segments(name, expr, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)";
	static const char update_sql[] =
	    "UPDATE segments SET expr = ?2, updated_at = ?3 WHERE name = ?1";
	static const char exists_sql[] = "SELECT count(*) FROM segments WHERE name = ?1";
	struct db_stmt *st = store_stmt(s, exists_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int64_t n;
	int rc = store_get_int64(s, st, &n, "look for a segment");
	if (rc < 0)
		return rc;
	if (n && !replace)
		return store_errf(s, STORE_E_EXISTS, "a segment called '%s' exists already", name);
	if ((st = store_stmt(s, n ? update_sql : insert_sql)) == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, expr);
	db_bind_int64(st, 3, store_now());
	if ((rc = store_step_done(s, st, "store a segment")) == 0)
		*created = n == 0;
	return rc;
}

int
store_segment_each(struct store *s, store_segment_cb cb, void *arg)
{
	static const char sql[] = SEGMENT_COLUMNS " ORDER BY name";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_segment seg;
		segment_row(st, &seg);
		ret = cb(arg, &seg);
		store_segment_clear(&seg);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read segments");
	db_reset(st);
	return ret;
}

int
store_segment_delete(struct store *s, const char *name)
{
	static const char sql[] = "DELETE FROM segments WHERE name = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, name);
	int rc = store_step_done(s, st, "remove a segment");
	if (rc == 0 && db_changes(store_conn(s)) == 0)
		return store_errf(s, STORE_E_NOTFOUND, "no segment called '%s'", name);
	return rc;
}

void
store_segment_clear(struct store_segment *seg)
{
	free(seg->expr);
	seg->expr = NULL;
}

int
store_segment_users(struct store *s, int64_t segment_id, store_audience_user_cb cb, void *arg)
{
	static const char sql[] = "SELECT c.name, c.state, a.kind FROM campaign_audience a"
	                          " JOIN campaigns c ON c.id = a.campaign_id"
	                          " WHERE a.segment_id = ?1 ORDER BY c.name, a.pos";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, segment_id);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW)
		ret = cb(arg, store_col_text(st, 0), store_col_text(st, 1), store_col_text(st, 2));
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read the campaigns that use a segment");
	db_reset(st);
	return ret;
}

/* ---- tags ------------------------------------------------------------------------------- */

int
store_contact_tag(struct store *s, int64_t contact_id, const char *tag, bool on, bool *changed)
{
	static const char add_sql[] = "INSERT INTO contact_tags(tag, contact_id, created_at)"
	                              " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
	static const char remove_sql[] =
	    "DELETE FROM contact_tags WHERE tag = ?1 AND contact_id = ?2";
	struct db_stmt *st = store_stmt(s, on ? add_sql : remove_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, tag);
	db_bind_int64(st, 2, contact_id);
	if (on)
		db_bind_int64(st, 3, store_now());
	int rc = store_step_done(s, st, on ? "tag a contact" : "untag a contact");
	if (rc == 0)
		*changed = db_changes(store_conn(s)) > 0;
	return rc;
}

int
store_contact_tags_set(struct store *s, int64_t contact_id, const char *const *tags, size_t n)
{
	/* The tags to keep, as a JSON array: NOT IN compares with the column's NOCASE. */
	static const char drop_sql[] = "DELETE FROM contact_tags WHERE contact_id = ?1"
	                               " AND tag NOT IN (SELECT value FROM json_each(?2))";
	static const char drop_pg[] =
	    "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag NOT IN"
	    " (SELECT json_array_elements_text(CAST(?2 AS json))::citext)";
	struct buf keep = BUF_INIT;
	buf_addc(&keep, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&keep, ',');
		buf_json_string(&keep, tags[i], strlen(tags[i]));
	}
	buf_addc(&keep, ']');
	struct db_stmt *st = store_stmt_pg(s, drop_sql, drop_pg);
	int rc = STORE_E_SQL;
	if (st != NULL) {
		db_bind_int64(st, 1, contact_id);
		db_bind_textn(st, 2, keep.data, (int)keep.len);
		rc = store_step_done(s, st, "set a contact's tags");
	}
	buf_free(&keep);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool changed;
		rc = store_contact_tag(s, contact_id, tags[i], true, &changed);
	}
	return rc;
}

int
store_contact_tags(struct store *s, int64_t contact_id, char *out, size_t cap)
{
	static const char sql[] = "SELECT tag FROM contact_tags WHERE contact_id = ?1 ORDER BY tag";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, contact_id);
	size_t len = 0;
	int rc;
	if (cap)
		out[0] = '\0';
	while ((rc = db_step(st)) == DB_ROW) {
		int k =
		    snprintf(out + len, cap - len, "%s%s", len ? "," : "", store_col_text(st, 0));
		if (k < 0 || (size_t)k >= cap - len)
			break;
		len += (size_t)k;
	}
	int ret = rc == DB_DONE || rc == DB_ROW ? 0 : store_fail(s, "read a contact's tags");
	db_reset(st);
	return ret;
}

int
store_segment_tag(struct store *s, const struct segment_node *tree, int64_t now, const char *tag,
                  bool on, int64_t *changed)
{
	struct db_stmt *st;
	int rc = on ? prepared(s, tree, now, 2, false,
	                       "INSERT INTO contact_tags(tag, contact_id, created_at)"
	                       " SELECT ?1, c.id, ?2 FROM contacts c WHERE ",
	                       " ON CONFLICT DO NOTHING", &st)
	            : prepared(s, tree, now, 2, false,
	                       "DELETE FROM contact_tags WHERE tag = ?1 AND ?2 IS NOT NULL AND"
	                       " contact_id IN (SELECT c.id FROM contacts c WHERE ",
	                       ")", &st);
	if (rc < 0)
		return rc;
	db_bind_text(st, 1, tag);
	db_bind_int64(st, 2, store_now());
	int ret = 0;
	rc = db_step(st);
	if (rc == DB_DONE)
		*changed = db_changes(store_conn(s));
	else
		ret = store_fail(s, on ? "tag a segment's contacts" : "untag a segment's contacts");
	db_finalize(st);
	return ret;
}

int
store_tag_each(struct store *s, int (*cb)(void *arg, const char *tag, int64_t contacts), void *arg)
{
	static const char sql[] =
	    "SELECT tag, count(*) FROM contact_tags GROUP BY tag ORDER BY tag";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW)
		ret = cb(arg, store_col_text(st, 0), db_column_int64(st, 1));
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read tags");
	db_reset(st);
	return ret;
}
