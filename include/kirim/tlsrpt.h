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

#endif
