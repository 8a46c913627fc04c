/*
 * base64 - the one base64 codec (RFC 4648 section 4, the standard alphabet).
 *
 * Encoding always pads with '='; BASE64_WRAP writes MIME lines (RFC 2045
 * 6.8): BASE64_LINE characters, each line ending in CRLF, the last one too.
 * Decoding comes in two strengths. base64_decode is strict, for credentials
 * and RFC 2047 encoded-words: the alphabet only, no blanks, padding only at
 * the end and only as much as the length needs. base64_decode_lenient reads
 * MIME bodies as RFC 2045 6.8 asks of a receiver: characters outside the
 * alphabet (line breaks, blanks, garbage) are skipped and '=' ends the data.
 * Neither checks that the unused low bits of the last character are zero
 * (RFC 4648 3.5 lets a decoder accept them; OpenSSL and mail readers do).
 *
 * token.c keeps its own unpadded base64url and base32 writer: tokens need a
 * single spelling per alphabet and a base32 form, which this codec is not for.
 *
 * Pure code: no I/O, no globals, no logging. Output goes to a caller's
 * buffer; a strict decode that fails leaves the buffer as it was.
 */
#ifndef KIRIM_BASE64_H
#define KIRIM_BASE64_H

#include <stddef.h>

#include "kirim/buf.h"

enum {
	BASE64_LINE = 76,     /* characters per line with BASE64_WRAP (RFC 2045 6.8) */
	BASE64_LINE_RAW = 57, /* input bytes per full line: 76 / 4 * 3 */
};

#define BASE64_WRAP (1u << 0)         /* encode: lines of BASE64_LINE characters + CRLF */
#define BASE64_PAD_OPTIONAL (1u << 1) /* strict decode: the padding may be left out */

/* base64_encoded_len - the number of bytes base64_encode_to writes for n input bytes */
size_t base64_encoded_len(size_t n, unsigned flags);
/*
 * base64_encode_to - write the encoding of the n bytes at p to out, which has
 * room for base64_encoded_len(n, flags) bytes; no NUL is added. Returns the
 * end of what was written. flags: 0 or BASE64_WRAP.
 */
char *base64_encode_to(char *out, const void *p, size_t n, unsigned flags);
/* base64_encode - append the encoding of the n bytes at p to out */
void base64_encode(struct buf *out, const void *p, size_t n, unsigned flags);
/*
 * base64_decode - append the bytes the n characters at s encode to out, or
 * return -1 with out unchanged when s is not base64: a character outside the
 * alphabet (blanks and line breaks included), a length that is not a whole
 * number of 4-character groups (with BASE64_PAD_OPTIONAL: a lone character
 * in the last group), '=' anywhere but the end, or more of it than the
 * length needs. Returns 0.
 */
int base64_decode(struct buf *out, const char *s, size_t n, unsigned flags);
/*
 * base64_decode_lenient - append what the n characters at s encode to out,
 * skipping every character outside the alphabet and stopping at the first
 * '=' (RFC 2045 6.8). '-' and '_' count as '+' and '/' (the URL alphabet of
 * RFC 4648 section 5), as some generators of bounces write them. A last group
 * of one character carries no whole byte and is dropped. Never fails.
 */
void base64_decode_lenient(struct buf *out, const char *s, size_t n);

#endif
