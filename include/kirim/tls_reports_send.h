/*
 * tls_reports_send - TLS-RPT aggregate reports delivered (RFC 8460 section 5.3): for each
 * policy domain with sessions counted on a day (tls_reports.h), its _smtp._tls TXT record
 * is looked up now, and the report, gzipped, goes to each rua= URI: to a mailto: address
 * as a multipart/report mail (report-type=tlsrpt, the report as an application/tlsrpt+gzip
 * attachment, TLS-Report-Domain and TLS-Report-Submitter headers), DKIM-signed with
 * kirim.conf's keys, through the relay (the configured one, or the caller's), or without one
 * straight to the MX hosts of the address's domain (opportunistic TLS); to an https:
 * URI by POST with Content-Type application/tlsrpt+gzip, the certificate verified.
 *
 * A day goes to each URI once: what was delivered is recorded (store_tls.h's
 * store_tlsrpt_sent), so a second call sends only what failed before; a domain without a
 * TLS-RPT record is recorded as looked at. A failure is reported to the caller and
 * recorded nowhere: the next call tries it again.
 *
 * Blocking: runs a libuv loop of its own for the look-ups, the SMTP session and the POST,
 * one report at a time, each step within its timeouts. Writes the store; does not log
 * (the callback hears of every URI).
 */
#ifndef KIRIM_TLS_REPORTS_SEND_H
#define KIRIM_TLS_REPORTS_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

struct tls_reports_send_opts {
	const char *relay_url;    /* NULL: kirim.conf's [relay] url; none: mailto: goes direct */
	int direct;               /* mailto: straight to the MX hosts even when kirim.conf names a
	                             relay (kirim run --direct) */
	unsigned mx_port;         /* the MX hosts' port (0: 25; tests and labs) */
	int tls;                  /* enum tls_policy for the relay, -1: kirim.conf's, else verify */
	int allow_plaintext_auth; /* AUTH without TLS (tests and trusted networks only) */
	const char *dns_servers;  /* "127.0.0.1:5353,..."; NULL: /etc/resolv.conf */
	unsigned https_port;      /* the port of https: URIs without one (0: 443; tests) */
	const char *domain;       /* only this policy domain; NULL: every one */
};

/* What became of one report at one URI, borrowed for the callback. */
struct tls_reports_sent {
	const char *domain;
	const char *uri;   /* "" when the domain has no TLS-RPT record */
	const char *error; /* NULL: delivered (or, uri "", nothing to do) */
	bool before;       /* delivered by an earlier call: not sent again */
	long long sessions, failures;
};
typedef void (*tls_reports_sent_cb)(void *arg, const struct tls_reports_sent *r);

/*
 * tls_reports_send_day - send day's reports (a Unix day, UTC), each URI's outcome to cb.
 * 0 when every report went (or had gone) where it should; 1 when some failed (cb says
 * which); a store error; or -1 with a sentence in err for a set-up fault (no relay for
 * a mailto: URI is a per-URI failure, not this).
 */
int tls_reports_send_day(struct store *s, const struct config *cfg, int64_t day,
                         const struct tls_reports_send_opts *o, tls_reports_sent_cb cb, void *arg,
                         char *err, size_t errsz);

#endif
