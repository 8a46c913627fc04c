/*
 * tls_reports - TLS-RPT aggregate reports (RFC 8460) from the sessions senders counted
 * (store_tls.h): one report per policy domain and UTC day, as JSON, and written gzipped
 * under the RFC's file name (section 5.3.1). Sending them is tls_reports_send.h's.
 *
 * Reads the store; writes files only where asked. Does not log.
 */
#ifndef KIRIM_TLS_REPORTS_H
#define KIRIM_TLS_REPORTS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct store;
struct json_t;

/* One report, borrowed for the callback. */
struct tls_report {
	const char *domain;  /* the policy domain */
	const char *file;    /* ORG!DOMAIN!BEGIN!END!ID.json.gz */
	const char *path;    /* where it was written ("" when no folder was given) */
	const char *rua;     /* the domain's rua= as last seen ("" unknown) */
	struct json_t *json; /* the report */
	long long sessions, failures;
};
typedef int (*tls_report_cb)(void *arg, const struct tls_report *r);

/*
 * tls_reports_make - the reports of day (a Unix day, UTC) for domain (NULL: every domain
 * with counts that day), each handed to cb, and written gzipped into dir when dir is not
 * NULL. Returns 0, a store error, or -1 with a sentence in err (a file not written).
 */
int tls_reports_make(struct store *s, const struct config *cfg, int64_t day, const char *domain,
                     const char *dir, tls_report_cb cb, void *arg, char *err, size_t errsz);

/* tls_reports_gzip - text as one gzip member (RFC 1952) appended to out; 0 or -1 */
int tls_reports_gzip(const char *text, struct buf *out);

#endif
