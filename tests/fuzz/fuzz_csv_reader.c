/*
 * fuzz_csv_reader - libFuzzer target for csv_reader.
 *
 * The first byte picks the delimiter (given or sniffed) and a chunking seed; the
 * rest is CSV. The input is parsed whole and in small random chunks with a small
 * record cap, and the two runs must agree record for record (fields, line, raw
 * bytes, flags) and on the outcome. Each row is checked against the reader's
 * promises: fields NUL-terminated, raw within the cap, lines never going back.
 * Records over the cap (csv_reader_flag_big) are checked against libcsv: a
 * flagged reader with a smaller cap, fed in chunks, must give every record a
 * large-cap reader gives, each one over its cap flagged in its place with the
 * same lines, size and first bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/csv_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_RECORD = 512, FUZZ_SMALL_RECORD = 24 };

struct dump {
	struct buf out;
	unsigned long last_line;
	int rows;
};

static int
on_row(void *arg, const struct csv_row *row)
{
	struct dump *d = arg;
	if (row->nfields == 0 || row->nfields > CSV_READER_MAX_FIELDS)
		abort();
	if (row->raw_len > FUZZ_MAX_RECORD || row->line < d->last_line || row->line == 0)
		abort();
	if (row->raw[row->raw_len] != '\0')
		abort();
	d->last_line = row->line;
	buf_printf(&d->out, "L%lu/%u/%zu:", row->line, row->flags, row->nfields);
	for (size_t i = 0; i < row->nfields; i++) {
		if (row->fields[i][row->lens[i]] != '\0')
			abort();
		buf_printf(&d->out, "%zu=", row->lens[i]);
		buf_add(&d->out, row->fields[i], row->lens[i]);
	}
	buf_printf(&d->out, "raw%zu=", row->raw_len);
	buf_add(&d->out, row->raw, row->raw_len);
	/* Stop on the 50th row now and then, to exercise the callback's stop. */
	return ++d->rows == 50 && (row->line & 1) ? 9 : 0;
}

static int
run(const char *in, size_t n, char delim, unsigned seed, struct dump *d, unsigned long *line)
{
	struct csv_reader *r = csv_reader_new(delim, FUZZ_MAX_RECORD);
	int rc = 0;
	size_t off = 0;
	while (off < n && rc == 0) {
		size_t k = n - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			size_t want = (seed >> 16) % 9;
			k = want < k ? want : k;
		}
		rc = csv_reader_feed(r, in + off, k, on_row, d);
		off += k;
	}
	if (rc == 0)
		rc = csv_reader_finish(r, on_row, d);
	if (rc != 0 && strlen(csv_reader_error(r)) == 0)
		abort();
	*line = csv_reader_line(r);
	csv_reader_free(r);
	return rc;
}

/* A record as a large-cap reader and a flagged small-cap reader must both show it. */
static int
on_canon(void *arg, const struct csv_row *row)
{
	struct buf *out = arg;
	int big = (row->flags & CSV_ROW_TOO_BIG) || row->raw_len > FUZZ_SMALL_RECORD;
	if ((row->flags & CSV_ROW_TOO_BIG) &&
	    (row->nfields != 0 || row->raw_len != FUZZ_SMALL_RECORD || row->size <= row->raw_len))
		abort();
	buf_printf(out, "L%lu-%lu/%u:", row->line, row->last_line,
	           row->flags & CSV_ROW_UNTERMINATED);
	if (big) {
		buf_printf(out, "big%zu=", row->size);
		buf_add(out, row->raw, FUZZ_SMALL_RECORD);
		return 0;
	}
	for (size_t i = 0; i < row->nfields; i++) {
		buf_printf(out, "%zu=", row->lens[i]);
		buf_add(out, row->fields[i], row->lens[i]);
	}
	buf_printf(out, "raw%zu=", row->raw_len);
	buf_add(out, row->raw, row->raw_len);
	return 0;
}

static int
run_canon(const char *in, size_t n, char delim, int flagged, unsigned seed, struct buf *out)
{
	struct csv_reader *r = csv_reader_new(delim, flagged ? FUZZ_SMALL_RECORD : 0);
	if (flagged)
		csv_reader_flag_big(r);
	int rc = 0;
	for (size_t off = 0, k; off < n && rc == 0; off += k) {
		seed = seed * 1103515245u + 12345u;
		k = flagged ? (seed >> 16) % 9 : n - off;
		k = k < n - off ? k : n - off;
		rc = csv_reader_feed(r, in + off, k, on_canon, out);
	}
	if (rc == 0)
		rc = csv_reader_finish(r, on_canon, out);
	csv_reader_free(r);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = {0, ',', ';', '\t'};
	if (size < 1)
		return 0;
	char delim = delims[data[0] & 3];
	unsigned seed = (data[0] >> 2) + 1u;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;

	struct dump a = {BUF_INIT, 0, 0}, b = {BUF_INIT, 0, 0};
	unsigned long la, lb;
	int ra = run(in, n, delim, 0, &a, &la);
	int rb = run(in, n, delim, seed, &b, &lb);
	if (ra != rb || la != lb || a.out.len != b.out.len ||
	    (a.out.len && memcmp(a.out.data, b.out.data, a.out.len) != 0))
		abort();
	buf_free(&a.out);
	buf_free(&b.out);

	/* A given delimiter: sniffing stops on a first line over the small cap, by design. */
	if (delim) {
		struct buf big = BUF_INIT, small = BUF_INIT;
		if (run_canon(in, n, delim, 0, 0, &big) == 0) {
			if (run_canon(in, n, delim, 1, seed, &small) != 0)
				abort();
			if (big.len != small.len ||
			    (big.len && memcmp(big.data, small.data, big.len) != 0))
				abort();
		}
		buf_free(&big);
		buf_free(&small);
	}
	return 0;
}
