/*
 * store_tls - transport security of direct delivery in the database: MTA-STS
 * policies as fetched (mta_sts_policies), what a sender last found of a
 * domain's MTA-STS, DANE and TLS-RPT records (domain_tls), and the sessions'
 * TLS results counted per day and policy for TLS-RPT (tls_results), and the
 * reports sent (tlsrpt_sent). SQL for
 * src/store/ only; see store.h. Strings handed to a walk's callback are
 * borrowed until it returns.
 */
#ifndef KIRIM_STORE_TLS_H
#define KIRIM_STORE_TLS_H

#include <stdbool.h>
#include <stdint.h>

struct store;

/* A cached MTA-STS policy. */
struct store_sts {
	const char *domain;
	const char *id;     /* the TXT id it was fetched for */
	const char *mode;   /* "none", "testing", "enforce" */
	const char *policy; /* mta_sts_policy_format's text */
	int64_t max_age;
	int64_t fetched_at, expires_at;
};
typedef int (*store_sts_cb)(void *arg, const struct store_sts *p);

/* What a sender last found of a domain's records; NULL fields are "none". */
struct store_domain_tls {
	const char *domain;
	const char *sts_id, *sts_error, *dane, *tlsrpt;
	int64_t checked_at;
};

/* One count of TLS-RPT sessions. */
struct store_tls_result {
	int64_t day; /* Unix day, UTC */
	const char *domain;
	const char *policy_type; /* "sts", "tlsa", "no-policy-found" */
	const char *policy;      /* policy-string lines joined with LF; "" for none */
	const char *mx_host, *receiving_ip, *sending_ip;
	const char *result; /* "success" or an RFC 8460 result-type */
	const char *detail; /* failure-reason-code ("" for success) */
	int64_t sessions;
};
typedef int (*store_tls_result_cb)(void *arg, const struct store_tls_result *r);

/* store_sts_save - insert or replace a domain's policy */
int store_sts_save(struct store *s, const struct store_sts *p);
/* store_sts_each - every cached policy (expired ones too), by domain */
int store_sts_each(struct store *s, store_sts_cb cb, void *arg);
/* store_sts_get - domain's policy into cb (once); STORE_E_NOTFOUND when none */
int store_sts_get(struct store *s, const char *domain, store_sts_cb cb, void *arg);

/* store_domain_tls_save - insert or replace what was found of d->domain */
int store_domain_tls_save(struct store *s, const struct store_domain_tls *d);
/* store_domain_tls_get - what was found of domain, into cb; STORE_E_NOTFOUND when nothing */
int store_domain_tls_get(struct store *s, const char *domain,
                         int (*cb)(void *arg, const struct store_domain_tls *d), void *arg);

/* store_tls_result_add - add r->sessions to its row's count */
int store_tls_result_add(struct store *s, const struct store_tls_result *r);
/* store_tls_results_each - the rows of day (domain NULL: every domain), by domain, policy,
 * result */
int store_tls_results_each(struct store *s, int64_t day, const char *domain, store_tls_result_cb cb,
                           void *arg);

/* store_tlsrpt_sent - whether day's report of domain went to uri (schema 010; uri "": the
 * domain was looked at and had no TLS-RPT record) */
int store_tlsrpt_sent(struct store *s, int64_t day, const char *domain, const char *uri,
                      bool *sent);
/* store_tlsrpt_sent_add - record that day's report of domain (report_id) went to uri at now */
int store_tlsrpt_sent_add(struct store *s, int64_t day, const char *domain, const char *uri,
                          const char *report_id, int64_t now);

#endif
