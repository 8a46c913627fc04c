/*
 * buf - a growable byte buffer.
 *
 * A buf owns its bytes; it is always NUL-terminated after its length so that
 * b->data can be passed to C string functions when the content holds no NUL.
 * Growth aborts on allocation failure (xmalloc). Does not log.
 */
#ifndef KIRIM_BUF_H
#define KIRIM_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* buf_reserve - make room for n more bytes */
void buf_reserve(struct buf *b, size_t n);

/*
 * buf_add, buf_adds and buf_addc are inline: renderers and encoders call them
 * for every few bytes, and in a buffer with room they are a copy.
 */

/* buf_add - append n bytes */
static inline void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len <= n)
		buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* buf_adds - append a C string */
static inline void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* buf_addc - append one byte */
static inline void
buf_addc(struct buf *b, char c)
{
	if (b->cap - b->len <= 1)
		buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}
/* buf_printf - append formatted text */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_vprintf - append formatted text from a va_list */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_reset - empty the buffer, keeping its memory */
void buf_reset(struct buf *b);
/* buf_free - release the memory; the buffer is empty and reusable afterwards */
void buf_free(struct buf *b);
/*
 * buf_add_line - append the n bytes at s as one line of at most max bytes: control bytes
 * and runs of blanks become one space, none at either end of what is appended; always
 * NUL-terminated (a diagnostic or header text kept for a record)
 */
void buf_add_line(struct buf *b, const char *s, size_t n, size_t max);
/* buf_json_string - append s (n bytes) as a quoted JSON string, escaping as RFC 8259 requires */
void buf_json_string(struct buf *b, const char *s, size_t n);

#endif
