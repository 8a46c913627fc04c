/*
 * rowsum - a checksum of a table's rows in order, the same whichever database they were
 * read from: kirim migrate computes it over the SQLite source and over the PostgreSQL copy.
 *
 * Each value goes in as a tag and its canonical bytes (an integer as 8 bytes, big end first;
 * a real as its IEEE 754 bits; text and bytes with their length; NULL as a tag alone), so
 * NULL, "" and 0 differ, and so do ("ab", "c") and ("a", "bc"). The encoded rows collect
 * in a chunk; at a row's end past 64 KiB, and at the end, the state becomes the SHA-256 of
 * the state and the chunk. Equal rows in equal order give equal sums; one changed value
 * changes it. Pure, owns its buffer (rowsum_final frees it); does not log.
 */
#ifndef KIRIM_ROWSUM_H
#define KIRIM_ROWSUM_H

#include <stddef.h>
#include <stdint.h>

#include "kirim/buf.h"

enum { ROWSUM_BYTES = 32, ROWSUM_CHUNK = 64 * 1024 };

struct rowsum {
	unsigned char state[ROWSUM_BYTES];
	struct buf chunk;
	int64_t rows; /* rows ended so far */
};

/* rowsum_init - an empty sum (no rows) */
void rowsum_init(struct rowsum *r);
/* rowsum_null - a NULL */
void rowsum_null(struct rowsum *r);
/* rowsum_int - an integer */
void rowsum_int(struct rowsum *r, int64_t v);
/* rowsum_real - a real */
void rowsum_real(struct rowsum *r, double v);
/* rowsum_text - text of n bytes */
void rowsum_text(struct rowsum *r, const void *p, size_t n);
/* rowsum_bytes - bytes (a blob) */
void rowsum_bytes(struct rowsum *r, const void *p, size_t n);
/* rowsum_row_end - the end of a row */
void rowsum_row_end(struct rowsum *r);
/* rowsum_final - the sum into out, the buffer freed (r must be initialised again to reuse) */
void rowsum_final(struct rowsum *r, unsigned char out[ROWSUM_BYTES]);
/* rowsum_hex - the first n bytes of sum as lower-case hex into out (2n + 1 bytes) */
void rowsum_hex(const unsigned char sum[ROWSUM_BYTES], size_t n, char *out);

#endif
