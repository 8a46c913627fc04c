/*
 * tlsrpt - SMTP TLS Reporting (RFC 8460): a domain's _smtp._tls TXT record,
 * and the result types a sending session's TLS ends in.
 *
 * Pure code: no I/O, no globals but constant tables, no logging. Parsers return
 * 0, or -1 with *reason pointing at a static sentence.
 */
#ifndef KIRIM_TLSRPT_H
#define KIRIM_TLSRPT_H

#include <stddef.h>

#define TLSRPT_RUA_MAX 1024 /* the rua= value kept (its URIs, comma-separated) */

/*
 * tlsrpt_txt_select - the rua= value of a domain's _smtp._tls TXT records (each record's
 * strings joined): records that do not start with "v=TLSRPTv1" are ignored, exactly one
 * must remain (RFC 8460 3), its rua= must hold one or more mailto: or https: URIs.
 */
int tlsrpt_txt_select(const char *const *records, size_t n, char rua[TLSRPT_RUA_MAX],
                      const char **reason);

struct json_t;

/* One count of sessions (store_tls.h's row, as the report reads it). */
struct tlsrpt_row {
	const char *policy_type; /* "sts", "tlsa", "no-policy-found" */
	const char *policy;      /* policy-string lines joined with LF ("" for none) */
	const char *mx_host, *receiving_ip, *sending_ip;
	const char *result; /* "success" or a result-type */
	const char *detail; /* failure-reason-code */
	long long sessions;
};

/* Who reports, and for what. */
struct tlsrpt_meta {
	const char *org;       /* organization-name */
	const char *contact;   /* contact-info */
	const char *report_id; /* report-id */
	const char *domain;    /* the policy domain */
	long long day;         /* Unix day (UTC) the report covers, 00:00:00 to 23:59:59 */
};

/*
 * tlsrpt_report - the aggregate report of RFC 8460 section 4 for one policy domain and
 * day from its rows (grouped by policy_type and policy, in any order): one policy object
 * per policy with its summary and failure details. A new JSON object (json_decref it).
 */
struct json_t *tlsrpt_report(const struct tlsrpt_meta *m, const struct tlsrpt_row *rows, size_t n);

#endif
