/* rowsum - a table's rows summed in order (see rowsum.h). */
#include "kirim/rowsum.h"

#include <string.h>

#include "kirim/token.h"

void
rowsum_init(struct rowsum *r)
{
	memset(r, 0, sizeof(*r));
	buf_reserve(&r->chunk, ROWSUM_CHUNK + 256);
	/* The chunk begins with the state, so that a fold hashes it in place. */
	buf_add(&r->chunk, r->state, sizeof(r->state));
}

static void
put_u64(struct rowsum *r, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)v;
		v >>= 8;
	}
	buf_add(&r->chunk, b, 8);
}

void
rowsum_null(struct rowsum *r)
{
	buf_addc(&r->chunk, 'n');
}

void
rowsum_int(struct rowsum *r, int64_t v)
{
	buf_addc(&r->chunk, 'i');
	put_u64(r, (uint64_t)v);
}

void
rowsum_real(struct rowsum *r, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	buf_addc(&r->chunk, 'r');
	put_u64(r, bits);
}

static void
counted(struct rowsum *r, char tag, const void *p, size_t n)
{
	buf_addc(&r->chunk, tag);
	put_u64(r, n);
	buf_add(&r->chunk, p, n);
}

void
rowsum_text(struct rowsum *r, const void *p, size_t n)
{
	counted(r, 't', p, n);
}

void
rowsum_bytes(struct rowsum *r, const void *p, size_t n)
{
	counted(r, 'b', p, n);
}

/* The state becomes SHA-256(state || rows since the last fold); the chunk holds it alone. */
static void
fold(struct rowsum *r)
{
	token_sha256(r->chunk.data, r->chunk.len, r->state);
	memcpy(r->chunk.data, r->state, sizeof(r->state));
	r->chunk.len = sizeof(r->state);
}

void
rowsum_row_end(struct rowsum *r)
{
	buf_addc(&r->chunk, '.');
	r->rows++;
	if (r->chunk.len >= ROWSUM_BYTES + ROWSUM_CHUNK)
		fold(r);
}

void
rowsum_final(struct rowsum *r, unsigned char out[ROWSUM_BYTES])
{
	put_u64(r, (uint64_t)r->rows);
	fold(r);
	memcpy(out, r->state, ROWSUM_BYTES);
	buf_free(&r->chunk);
}

void
rowsum_hex(const unsigned char sum[ROWSUM_BYTES], size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	if (n > ROWSUM_BYTES)
		n = ROWSUM_BYTES;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[sum[i] >> 4];
		out[2 * i + 1] = digits[sum[i] & 15];
	}
	out[2 * n] = '\0';
}
