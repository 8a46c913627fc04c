/*
 * store_audience - a campaign's audience (table campaign_audience; see
 * store_audience.h): its parts in order, the tree they make
 * (segment_audience), and what other store files run over it: the
 * messages a send queues (store_message.c), the recipients a start check
 * renders (store_lifecycle.c), the domains a plan counts.
 */
#include "kirim/store_audience.h"

#include "kirim/store.h"
#include "kirim/xmalloc.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kind_of - a part's kind from its name in the table (segment_part_name); -1 if unknown */
static int
kind_of(const char *name)
{
	for (int k = SEGMENT_PART_LIST; k <= SEGMENT_PART_NOT_CLICKED; k++)
		if (strcmp(segment_part_name((enum segment_part_kind)k), name) == 0)
			return k;
	return -1;
}

int
store_audience_set(struct store *s, int64_t campaign_id, const struct store_audience_part *parts,
                   size_t n)
{
	static const char clear_sql[] = "DELETE FROM campaign_audience WHERE campaign_id = ?1";
	static const char add_sql[] =
	    "INSERT INTO campaign_audience(campaign_id, pos, kind, list_id, segment_id,"
	    " ref_campaign_id, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	/* The campaign's first list: what a list-scope unsubscribe leaves (store_serve.c). */
	static const char first_sql[] = "UPDATE campaigns SET list_id = ?2 WHERE id = ?1";
	struct db_stmt *st = store_stmt(s, clear_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	int rc = store_step_done(s, st, "clear a campaign's audience");
	int64_t first = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct store_audience_part *p = &parts[i];
		if ((st = store_stmt(s, add_sql)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, campaign_id);
		db_bind_int64(st, 2, (int64_t)i);
		db_bind_text(st, 3, segment_part_name(p->kind));
		int col =
		    p->kind == SEGMENT_PART_LIST || p->kind == SEGMENT_PART_EXCLUDE_LIST ? 4
		    : p->kind == SEGMENT_PART_SEGMENT || p->kind == SEGMENT_PART_EXCLUDE_SEGMENT
		        ? 5
		        : 6;
		db_bind_int64(st, col, p->ref_id);
		db_bind_text(st, 7, p->name);
		rc = store_step_done(s, st, "store a campaign's audience");
		if (p->kind == SEGMENT_PART_LIST && first == 0)
			first = p->ref_id;
	}
	if (rc < 0 || (st = store_stmt(s, first_sql)) == NULL)
		return rc < 0 ? rc : STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	if (first)
		db_bind_int64(st, 2, first);
	return store_step_done(s, st, "set a campaign's first list");
}

int
store_audience_get(struct store *s, int64_t campaign_id, struct store_audience_part **parts,
                   size_t *n)
{
	static const char sql[] =
	    "SELECT kind, coalesce(list_id, segment_id, ref_campaign_id, 0), name"
	    " FROM campaign_audience WHERE campaign_id = ?1 ORDER BY pos";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	struct store_audience_part *v = NULL;
	size_t k = 0;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		int kind = kind_of(store_col_text(st, 0));
		if (kind < 0)
			continue; /* a later version's kind: CHECK keeps them out of this one */
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k].kind = (enum segment_part_kind)kind;
		v[k].ref_id = db_column_int64(st, 1);
		store_copy_text(v[k].name, sizeof(v[k].name), st, 2);
		k++;
	}
	db_reset(st);
	if (rc != DB_DONE) {
		free(v);
		return store_fail(s, "read a campaign's audience");
	}
	*parts = v;
	*n = k;
	return 0;
}

int
store_audience_tree(struct store *s, int64_t campaign_id, struct segment_node **out)
{
	struct store_audience_part *parts;
	size_t n;
	int rc = store_audience_get(s, campaign_id, &parts, &n);
	if (rc < 0)
		return rc;
	struct segment_part *sp = xcalloc(n ? n : 1, sizeof(*sp));
	for (size_t i = 0; i < n; i++)
		sp[i] = (struct segment_part){parts[i].kind, parts[i].name};
	struct segment_node *t = segment_audience(sp, n);
	free(sp);
	free(parts);
	if (t == NULL)
		return store_errf(s, STORE_E_INVALID,
		                  "the campaign's audience has no list or segment to mail");
	*out = t;
	return 0;
}

int
store_audience_compile(struct store *s, int64_t campaign_id, int64_t now, int base, bool probe,
                       struct segment_sql *out)
{
	struct segment_node *t;
	int rc = store_audience_tree(s, campaign_id, &t);
	if (rc < 0)
		return rc;
	rc = store_segment_compile(s, t, now, base, probe, false, out);
	segment_free(t);
	return rc;
}

int
store_audience_contact(struct store *s, int64_t campaign_id, int64_t now, const char *key,
                       struct store_contact *out)
{
	struct segment_sql q;
	int rc = store_audience_compile(s, campaign_id, now, 1, false, &q);
	if (rc < 0)
		return rc;
	struct db_stmt *st = store_segment_prepare(
	    s,
	    q.pg ? "SELECT " CONTACT_COLUMNS_PG ", NULL FROM contacts c WHERE c.email = ?1 AND "
	         : "SELECT " CONTACT_COLUMNS ", NULL FROM contacts c WHERE c.email = ?1 AND ",
	    &q, "");
	segment_sql_free(&q);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, key);
	rc = db_step(st);
	if (rc == DB_ROW) {
		store_contact_row(st, out);
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = store_errf(s, STORE_E_NOTFOUND,
		                "%s is not a member of the campaign's audience", key);
	} else {
		rc = store_fail(s, "look for a contact in the campaign's audience");
	}
	db_finalize(st);
	return rc;
}

/* domains_each - each row of st (a domain, a count) to cb; the caller resets or finalizes st */
static int
domains_each(struct store *s, struct db_stmt *st,
             int (*cb)(void *arg, const char *domain, int64_t count), void *arg)
{
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW)
		ret = cb(arg, store_col_text(st, 0), db_column_int64(st, 1));
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "count the audience by domain");
	return ret;
}

int
store_audience_domains(struct store *s, int64_t campaign_id, int64_t now,
                       int (*cb)(void *arg, const char *domain, int64_t count), void *arg)
{
	/*
	 * An audience of one list (most campaigns): its confirmed members less the
	 * suppressed, per domain, are the rows the triggers keep (list_domain_counts,
	 * schema 017), a few thousand rows read instead of every member's suppressions
	 * looked up. The list is the one its name names, as the compiled audience reads it.
	 */
	static const char one_list_sql[] =
	    "SELECT l.id FROM campaign_audience a JOIN lists l ON l.name = a.name"
	    " WHERE a.campaign_id = ?1 AND a.kind = 'list'"
	    " AND (SELECT count(*) FROM campaign_audience WHERE campaign_id = ?1) = 1";
	static const char counts_sql[] =
	    "SELECT domain, members - suppressed FROM list_domain_counts WHERE list_id = ?1"
	    " AND members > suppressed ORDER BY domain";
	static const char counts_pg[] =
	    "SELECT domain, members - suppressed FROM list_domain_counts WHERE list_id = ?1"
	    " AND members > suppressed ORDER BY domain COLLATE \"C\"";
	struct db_stmt *st = store_stmt(s, one_list_sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, campaign_id);
	int64_t list_id = 0;
	int rc = store_get_int64(s, st, &list_id, "read a campaign's audience");
	if (rc < 0)
		return rc;
	if (list_id > 0) {
		if ((st = store_stmt_pg(s, counts_sql, counts_pg)) == NULL)
			return STORE_E_SQL;
		db_bind_int64(st, 1, list_id);
		rc = domains_each(s, st, cb, arg);
		db_reset(st);
		return rc;
	}
	struct segment_sql q;
	if ((rc = store_audience_compile(s, campaign_id, now, 0, false, &q)) < 0)
		return rc;
	st = store_segment_prepare(s, "SELECT c.domain, count(*) FROM contacts c WHERE ", &q,
	                           q.pg ? " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value "
	                                  "IN " SUPPRESSION_KEYS_OF_C_PG
	                                  ") GROUP BY c.domain ORDER BY c.domain COLLATE \"C\""
	                                : " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value "
	                                  "IN " SUPPRESSION_KEYS_OF_C ")"
	                                  " GROUP BY c.domain ORDER BY c.domain");
	segment_sql_free(&q);
	if (st == NULL)
		return STORE_E_SQL;
	rc = domains_each(s, st, cb, arg);
	db_finalize(st);
	return rc;
}
