/*
 * csv_write - CSV fields as RFC 4180 writes them, for `kirim contacts export`.
 * Pure code: appends to a buf, no I/O, no logging.
 *
 * A field is quoted when it holds the delimiter ',', a '"' (doubled inside),
 * CR or LF, or leading or trailing blanks; otherwise written as it is. Rows
 * end with CRLF (RFC 4180 2.1).
 *
 * The spreadsheet formula guard (CSV_WRITE_GUARD, OWASP's "CSV injection"
 * advice as GitLab, HubSpot and Django's exporters apply it): a field that a
 * spreadsheet would run as a formula, one starting with '=', '@', a tab or
 * CR, or with '+' or '-' followed by anything but a number or a telephone
 * number, gets a leading "'" (and is quoted). Numbers ("-3.5") and telephone
 * numbers ("+62 812-3456-7890") are left as they are: no spreadsheet runs
 * them, and changing them would break the file's round trip for the data
 * lists hold most.
 */
#ifndef KIRIM_CSV_WRITE_H
#define KIRIM_CSV_WRITE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define CSV_WRITE_GUARD (1u << 0) /* the formula guard */

/* csv_write_risky - a spreadsheet would read the n bytes at s as a formula */
bool csv_write_risky(const char *s, size_t n);
/* csv_write_field - append the n bytes at s as one field, after a ',' unless first */
void csv_write_field(struct buf *out, const char *s, size_t n, bool first, unsigned flags);
/* csv_write_end - end the row (CRLF) */
void csv_write_end(struct buf *out);

#endif
