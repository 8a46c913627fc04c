/* store_sender - senders and leases, suppressions since, domain health (see store_sender.h). */
#include "kirim/store_sender.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "kirim/store.h"
#include "kirim/store_serve.h"
#include "store_int.h"

static void
row_fill(sqlite3_stmt *st, struct store_sender_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	store_copy_text(r->host, sizeof(r->host), st, 1);
	r->pid = sqlite3_column_int64(st, 2);
	store_copy_text(r->proc_start, sizeof(r->proc_start), st, 3);
	store_copy_text(r->command, sizeof(r->command), st, 4);
	r->started_at = sqlite3_column_int64(st, 5);
	r->lease_until = sqlite3_column_int64(st, 6);
	store_copy_text(r->node, sizeof(r->node), st, 7);
}

#define ROW_COLS "id, host, pid, proc_start, command, started_at, lease_until, node"

/* forget - sender id is dead: its row goes and the campaigns it held are free (its rows of
 * sender_campaigns; campaigns.sender_id is no longer read or written since migration 016) */
static int
forget(struct store *s, int64_t id)
{
	static const char del_sql[] = "DELETE FROM senders WHERE id = ?1";
	int rc = store_sender_unhold(s, id);
	sqlite3_stmt *st;
	if (rc < 0 || (st = store_prepare(s, del_sql)) == NULL)
		return rc < 0 ? rc : STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	return store_step_done(s, st, "forget a dead sender");
}

int
store_sender_reap(struct store *s, store_sender_alive_cb alive, void *arg, int64_t *n)
{
	static const char all_sql[] = "SELECT " ROW_COLS " FROM senders ORDER BY id";
	sqlite3_stmt *st = store_prepare(s, all_sql);
	if (st == NULL)
		return STORE_E_SQL;
	/* The dead ones first, in a list: no write while the SELECT is open. Past 64 dead
	 * ones, the next look forgets the rest. */
	int64_t dead[64];
	size_t ndead = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ndead < 64) {
		struct store_sender_row r;
		row_fill(st, &r);
		if (!alive(arg, &r))
			dead[ndead++] = r.id;
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_fail(s, "read the senders");
	for (size_t i = 0; rc == 0 && i < ndead; i++)
		rc = forget(s, dead[i]);
	if (rc == 0)
		*n = (int64_t)ndead;
	return rc;
}

int
store_sender_register(struct store *s, struct store_sender_row *me, store_sender_alive_cb alive,
                      void *arg)
{
	static const char add_sql[] =
	    "INSERT INTO senders(host, pid, proc_start, command, started_at, lease_until, node)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	int64_t n;
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = store_sender_reap(s, alive, arg, &n)) == 0 &&
	    (st = store_prepare(s, add_sql)) == NULL)
		rc = STORE_E_SQL;
	if (rc == 0) {
		sqlite3_bind_text(st, 1, me->host, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, me->pid);
		sqlite3_bind_text(st, 3, me->proc_start, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, me->command, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, me->started_at);
		sqlite3_bind_int64(st, 6, me->lease_until);
		sqlite3_bind_text(st, 7, me->node, -1, SQLITE_STATIC);
		rc = store_step_done(s, st, "register this sender");
	}
	if (rc == 0) {
		me->id = sqlite3_last_insert_rowid(store_db(s));
		rc = store_commit(s);
	}
	if (rc < 0)
		store_rollback(s);
	return rc;
}

int
store_sender_count(struct store *s, int64_t *n)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM senders");
	if (st == NULL)
		return STORE_E_SQL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, "count the senders");
}

int
store_sender_renew(struct store *s, int64_t id, int64_t lease_until)
{
	static const char sql[] = "UPDATE senders SET lease_until = ?2 WHERE id = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, lease_until);
	int rc = store_step_done(s, st, "renew this sender's lease");
	return rc == 0 && sqlite3_changes(store_db(s)) == 0 ? STORE_E_NOTFOUND : rc;
}

int
store_sender_release(struct store *s, int64_t id)
{
	int rc = store_begin(s);
	if (rc == 0 && (rc = forget(s, id)) == 0)
		rc = store_commit(s);
	if (rc < 0)
		store_rollback(s);
	return rc;
}

int
store_sender_hold(struct store *s, int64_t campaign_id, int64_t id)
{
	static const char sql[] = "INSERT INTO sender_campaigns(sender_id, campaign_id)"
	                          " VALUES (?1, ?2) ON CONFLICT DO NOTHING";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, campaign_id);
	return store_step_done(s, st, "hold the campaign");
}

int
store_sender_unhold(struct store *s, int64_t id)
{
	static const char sql[] = "DELETE FROM sender_campaigns WHERE sender_id = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, id);
	return store_step_done(s, st, "let go of the campaigns");
}

#define LEASE_COLS "0, host, pid, proc_start, 'run', since, lease_until, node"

/* same_process - whether a and b are one process (node, host, pid and its start) */
static bool
same_process(const struct store_sender_row *a, const struct store_sender_row *b)
{
	return strcmp(a->node, b->node) == 0 && strcmp(a->host, b->host) == 0 && a->pid == b->pid &&
	       strcmp(a->proc_start, b->proc_start) == 0;
}

int
store_sender_leaseholder(struct store *s, const char *name, struct store_sender_row *out)
{
	static const char sql[] = "SELECT " LEASE_COLS " FROM leases WHERE name = ?1";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_fill(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? STORE_E_NOTFOUND : store_fail(s, "read a lease");
}

int
store_sender_lead(struct store *s, const char *name, const struct store_sender_row *me, int64_t now,
                  store_sender_alive_cb alive, void *arg, bool *held,
                  struct store_sender_row *holder)
{
	/* The row is read and written in one write transaction: of two nodes that find
	 * the lease free, the second finds it taken. A PostgreSQL store reads it FOR
	 * UPDATE. The holder keeps its `since` across renewals. */
	static const char take_sql[] =
	    "INSERT INTO leases(name, node, host, pid, proc_start, since, lease_until)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO UPDATE SET"
	    " since = CASE WHEN leases.node = excluded.node AND leases.host = excluded.host"
	    " AND leases.pid = excluded.pid AND leases.proc_start = excluded.proc_start"
	    " THEN leases.since ELSE excluded.since END, node = excluded.node,"
	    " host = excluded.host, pid = excluded.pid, proc_start = excluded.proc_start,"
	    " lease_until = excluded.lease_until";
	struct store_sender_row cur;
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	rc = store_sender_leaseholder(s, name, &cur);
	bool take =
	    rc == STORE_E_NOTFOUND ||
	    (rc == 0 && (same_process(&cur, me) || cur.lease_until < now || !alive(arg, &cur)));
	if (rc == STORE_E_NOTFOUND)
		rc = 0;
	if (rc == 0 && take) {
		sqlite3_stmt *st = store_prepare(s, take_sql);
		if (st == NULL) {
			rc = STORE_E_SQL;
		} else {
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, me->node, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, me->host, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, me->pid);
			sqlite3_bind_text(st, 5, me->proc_start, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, now);
			sqlite3_bind_int64(st, 7, me->lease_until);
			rc = store_step_done(s, st, "take a lease");
		}
		if (rc == 0)
			rc = store_sender_leaseholder(s, name, &cur);
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		store_rollback(s);
		return rc;
	}
	*held = take;
	*holder = cur;
	return 0;
}

int
store_sender_lead_drop(struct store *s, const char *name, const struct store_sender_row *me)
{
	static const char sql[] = "DELETE FROM leases WHERE name = ?1 AND node = ?2 AND host = ?3"
	                          " AND pid = ?4 AND proc_start = ?5";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, me->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, me->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, me->pid);
	sqlite3_bind_text(st, 5, me->proc_start, -1, SQLITE_STATIC);
	return store_step_done(s, st, "let go of a lease");
}

int
store_sender_nodes(struct store *s, store_sender_node_cb cb, void *arg)
{
	/* group_concat is SQLite's (string_agg in PostgreSQL). */
	static const char sql[] =
	    "SELECT s.id, s.host, s.pid, s.proc_start, s.command, s.started_at, s.lease_until,"
	    " s.node, (SELECT count(*) FROM messages m WHERE m.claimed_by = s.id),"
	    " (SELECT group_concat(name, ',') FROM (SELECT c.name FROM sender_campaigns h"
	    " JOIN campaigns c ON c.id = h.campaign_id WHERE h.sender_id = s.id ORDER BY c.name))"
	    " FROM senders s ORDER BY s.node, s.id";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_sender_node n;
		row_fill(st, &n.r);
		n.claimed = sqlite3_column_int64(st, 8);
		store_copy_text(n.campaigns, sizeof(n.campaigns), st, 9);
		ret = cb(arg, &n);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read the senders");
	sqlite3_reset(st);
	return ret;
}

int
store_sender_suppressions_last(struct store *s, int64_t *last)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) FROM suppressions";
	sqlite3_stmt *st = store_prepare(s, sql);
	return st ? store_get_int64(s, st, last, "read the last suppression") : STORE_E_SQL;
}

int
store_sender_suppressions(struct store *s, int64_t *after, store_sender_supp_cb cb, void *arg)
{
	static const char sql[] =
	    "SELECT id, kind = 'domain', value FROM suppressions WHERE id > ?1 ORDER BY id";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, *after);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*after = sqlite3_column_int64(st, 0);
		ret = cb(arg, sqlite3_column_int(st, 1) != 0, store_col_text(st, 2));
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read new suppressions");
	sqlite3_reset(st);
	return ret;
}

/* Whether a campaign's unsubscribe removes from its list only: that list's id, else 0. */
#define LIST_SCOPE_OF(c)                                                                           \
	"CASE WHEN json_valid(" c ".options) AND json_extract(" c ".options,"                      \
	" '$.unsubscribe_scope') = 'list' THEN " c ".list_id ELSE 0 END"

int
store_sender_removals(struct store *s, int64_t since, store_removal_cb cb, void *arg)
{
	/* events_type_ts finds them; only list-scope ones (the others are suppressions). */
	static const char sql[] = "SELECT c.list_id, m.contact_id FROM events e"
	                          " JOIN messages m ON m.id = e.message_id"
	                          " JOIN campaigns c ON c.id = m.campaign_id"
	                          " WHERE e.type = 'unsubscribe' AND e.ts >= ?1"
	                          " AND " LIST_SCOPE_OF("c") " <> 0";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_int64(st, 1, since);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = cb(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_fail(s, "read list removals");
	sqlite3_reset(st);
	return ret;
}

int
store_sender_journal(struct store *s, int64_t *after, store_removal_cb cb, void *arg)
{
	static const char scope_sql[] =
	    "SELECT " LIST_SCOPE_OF("c") " FROM campaigns c WHERE c.id = ?1";
	char path[PATH_MAX + 16];
	struct stat sb;
	store_serve_journal_path(store_path(s), path, sizeof(path));
	if (stat(path, &sb) < 0)
		return 0; /* no kirim serve has journaled anything */
	sqlite3 *j = NULL;
	sqlite3_stmt *st = NULL;
	/* A connection of its own, read-only: the journal is another file. Opened per look
	 * (twice a second while messages are in flight): a kirim serve may create or replace the
	 * file meanwhile. Its one statement lives as long as the connection, so it is not in the
	 * store's cache. */
	if (sqlite3_open_v2(path, &j, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(j, 1000) != SQLITE_OK ||
	    sqlite3_prepare_v2(j,
	                       "SELECT id, campaign_id, contact_id FROM unsubscribes WHERE id > ?1"
	                       " ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		/* Not a journal yet (being created): nothing to read this time. */
		sqlite3_close(j);
		return 0;
	}
	sqlite3_bind_int64(st, 1, *after);
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		int64_t camp = sqlite3_column_int64(st, 1), contact = sqlite3_column_int64(st, 2);
		sqlite3_stmt *q = store_prepare(s, scope_sql);
		if (q == NULL) {
			ret = STORE_E_SQL;
			break;
		}
		sqlite3_bind_int64(q, 1, camp);
		int qrc = sqlite3_step(q);
		int64_t list_id = qrc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
		sqlite3_reset(q);
		if (qrc != SQLITE_ROW && qrc != SQLITE_DONE) {
			ret = store_fail(s, "read an unsubscribe's campaign");
			break;
		}
		*after = id;
		ret = cb(arg, list_id, contact);
	}
	sqlite3_finalize(st);
	sqlite3_close(j);
	return ret;
}

int
store_sender_delivered(struct store *s, const char *domain, int64_t ts)
{
	static const char sql[] =
	    "INSERT INTO domain_health(domain, delivered_at) VALUES (?1, ?2)"
	    " ON CONFLICT(domain) DO UPDATE SET delivered_at = max(coalesce(delivered_at, 0),"
	    " excluded.delivered_at), nxdomain_first = NULL, nxdomain_last = NULL";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ts);
	return store_step_done(s, st, "record a domain's delivery");
}

int
store_sender_nxdomain(struct store *s, const char *domain, int64_t now, int64_t stale_s,
                      struct store_domain_health *out)
{
	/* A run of NXDOMAIN answers starts again when its last one is stale: the domain
	 * answered (or nobody asked) in between. */
	static const char sql[] =
	    "INSERT INTO domain_health(domain, nxdomain_first, nxdomain_last) VALUES (?1, ?2, ?2)"
	    " ON CONFLICT(domain) DO UPDATE SET"
	    " nxdomain_first = CASE WHEN nxdomain_first IS NULL OR nxdomain_last < ?2 - ?3"
	    " THEN ?2 ELSE nxdomain_first END, nxdomain_last = ?2"
	    " RETURNING coalesce(delivered_at, 0), nxdomain_first, nxdomain_last";
	sqlite3_stmt *st = store_prepare(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, stale_s);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->delivered_at = sqlite3_column_int64(st, 0);
		out->nxdomain_first = sqlite3_column_int64(st, 1);
		out->nxdomain_last = sqlite3_column_int64(st, 2);
	}
	/* RETURNING: the statement is finished only once stepped to its end. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, "record a domain's NXDOMAIN answer");
}
