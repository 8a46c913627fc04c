/*
 * csv_reader - streaming CSV records over libcsv (RFC 4180 and its real-world kin).
 *
 * Bytes are pushed in chunks of any size; each complete record is handed to a
 * callback with its fields, the physical line it starts on and its raw bytes,
 * so memory does not grow with the input, only with the longest record (capped).
 * Handles a UTF-8 BOM, CRLF / LF / lone CR line ends, quoted fields holding
 * delimiters, quotes and line breaks, empty lines (skipped) and ragged rows.
 * The delimiter is given, or sniffed from the first line (',' ';' or tab).
 * A record over the caps stops the reader, or, after csv_reader_flag_big, is
 * skimmed to its end without being kept (memory stays within the caps) and
 * delivered flagged, with no fields and its first max_record raw bytes only.
 * The only module that includes <csv.h>. Pure: no I/O, no logging.
 */
#ifndef KIRIM_CSV_READER_H
#define KIRIM_CSV_READER_H

#include <stddef.h>

enum {
	CSV_READER_MAX_RECORD = 1 << 20, /* default cap on one record's raw bytes */
	CSV_READER_MAX_FIELDS = 4096,    /* cap on fields in one record */
};

/* Flags in struct csv_row.flags. */
#define CSV_ROW_UNTERMINATED (1u << 0) /* input ended inside a quoted field */
/* Only with csv_reader_flag_big: */
#define CSV_ROW_TOO_BIG (1u << 1)         /* over max_record: no fields, raw cut to max_record */
#define CSV_ROW_TOO_MANY_FIELDS (1u << 2) /* over CSV_READER_MAX_FIELDS: the first ones only */

struct csv_row {
	size_t nfields;
	const char *const *fields; /* each NUL-terminated; may hold NUL bytes, see lens */
	const size_t *lens;
	unsigned long line;      /* 1-based physical line the record starts on */
	unsigned long last_line; /* the line its last byte is on */
	const char *raw;         /* the record's bytes as read, without its final line end */
	size_t raw_len;          /* at most max_record; less than size with CSV_ROW_TOO_BIG */
	size_t size;             /* the record's whole raw size */
	unsigned flags;
};

/* A callback returns 0 to go on; any other value stops the reader and is returned by feed/finish.
 */
typedef int (*csv_reader_row_cb)(void *arg, const struct csv_row *row);

struct csv_reader;

/*
 * csv_reader_new - a reader for records separated by delim (',' ';' '\t', or 0
 * to sniff from the first line); max_record caps a record's raw size (0: default).
 */
struct csv_reader *csv_reader_new(char delim, size_t max_record);
/* csv_reader_free - release a reader; NULL is a no-op */
void csv_reader_free(struct csv_reader *r);
/*
 * csv_reader_flag_big - deliver a record over max_record or CSV_READER_MAX_FIELDS
 * flagged (CSV_ROW_TOO_BIG, CSV_ROW_TOO_MANY_FIELDS) and go on, instead of
 * stopping with CSV_READER_E_TOO_BIG. Call before the first feed. A first line
 * too long to sniff the delimiter from still stops the reader.
 */
void csv_reader_flag_big(struct csv_reader *r);

/* Error codes returned by feed/finish (negative); a callback's own value passes through. */
#define CSV_READER_E_TOO_BIG (-2)   /* a record exceeds max_record or MAX_FIELDS (not flagged) */
#define CSV_READER_E_MALFORMED (-3) /* libcsv refused the input */

/* csv_reader_feed - push n bytes; calls cb for every record completed by them */
int csv_reader_feed(struct csv_reader *r, const char *data, size_t n, csv_reader_row_cb cb,
                    void *arg);
/* csv_reader_finish - end of input: deliver the last record if it had no line end */
int csv_reader_finish(struct csv_reader *r, csv_reader_row_cb cb, void *arg);
/* csv_reader_delimiter - the delimiter in use (sniffed or given; ',' before any input) */
char csv_reader_delimiter(const struct csv_reader *r);
/* csv_reader_line - the physical line number reached so far (for error messages) */
unsigned long csv_reader_line(const struct csv_reader *r);
/* csv_reader_error - a sentence about the last error from feed/finish */
const char *csv_reader_error(const struct csv_reader *r);

#endif
