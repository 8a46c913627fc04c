/*
 * utf8 - UTF-8 validation and Latin-1 conversion.
 *
 * Pure functions over byte strings; no allocation except into a caller's buf.
 */
#ifndef KIRIM_UTF8_H
#define KIRIM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* utf8_valid - true when the n bytes at s are well-formed UTF-8 (no overlongs, no surrogates) */
bool utf8_valid(const char *s, size_t n);
/* utf8_put - append code point cp (at most 0x10FFFF) to out as UTF-8 */
void utf8_put(struct buf *out, uint32_t cp);
/* utf8_from_latin1 - append the ISO-8859-1 bytes at s, converted to UTF-8, to out */
void utf8_from_latin1(struct buf *out, const char *s, size_t n);

#endif
