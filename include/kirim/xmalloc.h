/*
 * xmalloc - allocation that never returns NULL.
 *
 * Allocation failure is not a recoverable condition for kirim: these wrappers
 * abort with a message instead, so callers never check for NULL. They do not log.
 */
#ifndef KIRIM_XMALLOC_H
#define KIRIM_XMALLOC_H

#include <stddef.h>

/* xmalloc - malloc or abort */
void *xmalloc(size_t n);
/* xcalloc - calloc or abort */
void *xcalloc(size_t n, size_t size);
/* xrealloc - realloc or abort */
void *xrealloc(void *p, size_t n);
/* xstrdup - strdup or abort */
char *xstrdup(const char *s);
/* xstrndup - strndup or abort */
char *xstrndup(const char *s, size_t n);

#endif
