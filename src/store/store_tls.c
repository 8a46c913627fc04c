/* store_tls - MTA-STS policies, domains' TLS records, TLS-RPT counts (see store_tls.h). */
#include "kirim/store_tls.h"

#include <stddef.h>

#include "kirim/store.h"
#include "store_int.h"

int
store_sts_save(struct store *s, const struct store_sts *p)
{
	static const char sql[] =
	    "INSERT INTO mta_sts_policies(domain, id, mode, max_age, policy, fetched_at, "
	    "expires_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT(domain) DO UPDATE SET id = excluded.id, mode = excluded.mode,"
	    " max_age = excluded.max_age, policy = excluded.policy,"
	    " fetched_at = excluded.fetched_at, expires_at = excluded.expires_at";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, p->domain);
	db_bind_text(st, 2, p->id);
	db_bind_text(st, 3, p->mode);
	db_bind_int64(st, 4, p->max_age);
	db_bind_text(st, 5, p->policy);
	db_bind_int64(st, 6, p->fetched_at);
	db_bind_int64(st, 7, p->expires_at);
	return store_step_done(s, st, "save an MTA-STS policy");
}

/* sts_walk - call cb for each row of st (domain, id, mode, max_age, policy, fetched_at,
 * expires_at) and reset it */
static int
sts_walk(struct store *s, struct db_stmt *st, store_sts_cb cb, void *arg, int *rows)
{
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_sts p = {
		    .domain = store_col_text(st, 0),
		    .id = store_col_text(st, 1),
		    .mode = store_col_text(st, 2),
		    .max_age = db_column_int64(st, 3),
		    .policy = store_col_text(st, 4),
		    .fetched_at = db_column_int64(st, 5),
		    .expires_at = db_column_int64(st, 6),
		};
		(*rows)++;
		ret = cb(arg, &p);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read MTA-STS policies");
	db_reset(st);
	return ret;
}

int
store_sts_each(struct store *s, store_sts_cb cb, void *arg)
{
	static const char sql[] = "SELECT domain, id, mode, max_age, policy, fetched_at, expires_at"
	                          " FROM mta_sts_policies ORDER BY domain";
	struct db_stmt *st = store_stmt(s, sql);
	int rows = 0;
	return st ? sts_walk(s, st, cb, arg, &rows) : STORE_E_SQL;
}

int
store_sts_get(struct store *s, const char *domain, store_sts_cb cb, void *arg)
{
	static const char sql[] = "SELECT domain, id, mode, max_age, policy, fetched_at, expires_at"
	                          " FROM mta_sts_policies WHERE domain = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, domain);
	int rows = 0;
	int rc = sts_walk(s, st, cb, arg, &rows);
	return rc == 0 && rows == 0 ? STORE_E_NOTFOUND : rc;
}

int
store_domain_tls_save(struct store *s, const struct store_domain_tls *d)
{
	static const char sql[] =
	    "INSERT INTO domain_tls(domain, sts_id, sts_error, dane, tlsrpt, checked_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT(domain) DO UPDATE SET sts_id = excluded.sts_id,"
	    " sts_error = excluded.sts_error, dane = excluded.dane, tlsrpt = excluded.tlsrpt,"
	    " checked_at = excluded.checked_at";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, d->domain);
	store_bind_opt_text(st, 2, d->sts_id);
	store_bind_opt_text(st, 3, d->sts_error);
	store_bind_opt_text(st, 4, d->dane);
	store_bind_opt_text(st, 5, d->tlsrpt);
	db_bind_int64(st, 6, d->checked_at ? d->checked_at : store_now());
	return store_step_done(s, st, "save a domain's TLS records");
}

int
store_domain_tls_get(struct store *s, const char *domain,
                     int (*cb)(void *arg, const struct store_domain_tls *d), void *arg)
{
	static const char sql[] = "SELECT domain, sts_id, sts_error, dane, tlsrpt, checked_at"
	                          " FROM domain_tls WHERE domain = ?1";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_text(st, 1, domain);
	int rc = db_step(st), ret;
	if (rc == DB_ROW) {
		struct store_domain_tls d = {
		    .domain = store_col_text(st, 0),
		    .sts_id = db_column_text(st, 1),
		    .sts_error = db_column_text(st, 2),
		    .dane = db_column_text(st, 3),
		    .tlsrpt = db_column_text(st, 4),
		    .checked_at = db_column_int64(st, 5),
		};
		ret = cb(arg, &d);
	} else {
		ret = rc == DB_DONE ? STORE_E_NOTFOUND : store_fail(s, "read a domain's TLS");
	}
	db_reset(st);
	return ret;
}

int
store_tls_result_add(struct store *s, const struct store_tls_result *r)
{
	static const char sql[] =
	    "INSERT INTO tls_results(day, domain, policy_type, policy, mx_host, receiving_ip,"
	    " sending_ip, result, detail, sessions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10)"
	    " ON CONFLICT(day, domain, policy_type, policy, mx_host, receiving_ip, sending_ip,"
	    " result) DO UPDATE SET sessions = sessions + excluded.sessions,"
	    " detail = excluded.detail";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, r->day);
	db_bind_text(st, 2, r->domain);
	db_bind_text(st, 3, r->policy_type);
	db_bind_text(st, 4, r->policy ? r->policy : "");
	db_bind_text(st, 5, r->mx_host ? r->mx_host : "");
	db_bind_text(st, 6, r->receiving_ip ? r->receiving_ip : "");
	db_bind_text(st, 7, r->sending_ip ? r->sending_ip : "");
	db_bind_text(st, 8, r->result);
	db_bind_text(st, 9, r->detail ? r->detail : "");
	db_bind_int64(st, 10, r->sessions);
	return store_step_done(s, st, "count TLS sessions");
}

int
store_tls_results_each(struct store *s, int64_t day, const char *domain, store_tls_result_cb cb,
                       void *arg)
{
	static const char sql[] =
	    "SELECT day, domain, policy_type, policy, mx_host, receiving_ip, sending_ip, result,"
	    " detail, sessions FROM tls_results WHERE day = ?1 AND (CAST(?2 AS TEXT) IS NULL OR "
	    "domain = ?2)"
	    " ORDER BY domain, policy_type, policy, result = 'success' DESC, result, mx_host,"
	    " receiving_ip, sending_ip";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, day);
	if (domain)
		db_bind_text(st, 2, domain);
	int rc, ret = 0;
	while (ret == 0 && (rc = db_step(st)) == DB_ROW) {
		struct store_tls_result r = {
		    .day = db_column_int64(st, 0),
		    .domain = store_col_text(st, 1),
		    .policy_type = store_col_text(st, 2),
		    .policy = store_col_text(st, 3),
		    .mx_host = store_col_text(st, 4),
		    .receiving_ip = store_col_text(st, 5),
		    .sending_ip = store_col_text(st, 6),
		    .result = store_col_text(st, 7),
		    .detail = store_col_text(st, 8),
		    .sessions = db_column_int64(st, 9),
		};
		ret = cb(arg, &r);
	}
	if (ret == 0 && rc != DB_DONE)
		ret = store_fail(s, "read TLS results");
	db_reset(st);
	return ret;
}

/* store_tlsrpt_sent - whether day's report of domain went to uri ('' : looked, none) */
int
store_tlsrpt_sent(struct store *s, int64_t day, const char *domain, const char *uri, bool *sent)
{
	static const char sql[] =
	    "SELECT count(*) FROM tlsrpt_sent WHERE day = ?1 AND domain = ?2 AND uri = ?3";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, day);
	db_bind_text(st, 2, domain);
	db_bind_text(st, 3, uri);
	int64_t n = 0;
	int rc = store_get_int64(s, st, &n, "read the reports sent");
	if (rc == 0)
		*sent = n > 0;
	return rc;
}

/* store_tlsrpt_sent_add - record that day's report of domain went to uri at now */
int
store_tlsrpt_sent_add(struct store *s, int64_t day, const char *domain, const char *uri,
                      const char *report_id, int64_t now)
{
	static const char sql[] = "INSERT INTO tlsrpt_sent(day, domain, uri, report_id, sent_at)"
	                          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
	struct db_stmt *st = store_stmt(s, sql);
	if (st == NULL)
		return STORE_E_SQL;
	db_bind_int64(st, 1, day);
	db_bind_text(st, 2, domain);
	db_bind_text(st, 3, uri);
	db_bind_text(st, 4, report_id);
	db_bind_int64(st, 5, now);
	return store_step_done(s, st, "record a report sent");
}
