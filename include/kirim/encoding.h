/*
 * encoding - text in the encodings spreadsheets write, converted to UTF-8 by
 * glibc's iconv, and a guess at the encoding of bytes that are not UTF-8.
 *
 * Names are taken as people and Excel give them, the way browsers read them
 * (the WHATWG Encoding Standard): latin1, iso-8859-1 and ascii are read as
 * windows-1252, their superset, so that 0x80-0x9F are € ‚ „ “ … and never C1
 * control characters; shift_jis is CP932 (Windows' Shift_JIS, which keeps 0x5C
 * and 0x7E as \ and ~); gbk and gb2312 are gb18030; utf-16 takes its byte
 * order from a byte order mark, else from where the NUL bytes of ASCII text
 * fall, else little-endian. Any other name goes to iconv as it is (iso-8859-15,
 * koi8-r, euc-jp...).
 *
 * A converter is a stream: bytes are pushed in chunks of any size and UTF-8
 * comes out; a character cut between two chunks waits for the rest. A byte the
 * encoding does not define is never guessed at: it comes out as ENCODING_MARK
 * and its value in two upper-case hex digits. The mark is not UTF-8, so a UTF-8
 * check catches it, and holds no delimiter, quote or line end, so a CSV reader
 * after the converter sees the file's records as they are.
 *
 * The only module that includes <iconv.h>. No I/O of its own (iconv reads its
 * gconv modules on first use), no logging.
 */
#ifndef KIRIM_ENCODING_H
#define KIRIM_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define ENCODING_MARK '\xFF' /* never in UTF-8; followed by two hex digits */

struct encoding;

/* encoding_is_utf8 - name is a name of UTF-8 (utf-8, utf8, any case) */
bool encoding_is_utf8(const char *name);
/* encoding_new - a converter from the encoding called name to UTF-8; NULL if iconv lacks it */
struct encoding *encoding_new(const char *name);
/* encoding_free - release a converter; NULL is a no-op */
void encoding_free(struct encoding *e);
/* encoding_name - the encoding's name as kirim shows it ("windows-1252", "utf-16le") */
const char *encoding_name(const struct encoding *e);
/* encoding_feed - convert n bytes, appending UTF-8 (and marks) to out */
void encoding_feed(struct encoding *e, const char *in, size_t n, struct buf *out);
/* encoding_finish - end of input: a character left incomplete comes out as marks */
void encoding_finish(struct encoding *e, struct buf *out);

/* encoding_first_mark - the byte value behind the first mark in s (n bytes), or -1 */
int encoding_first_mark(const char *s, size_t n);
/* encoding_unmark - append s (n bytes) to out with each mark written as the text \xHH */
void encoding_unmark(struct buf *out, const char *s, size_t n);

/* encoding_bom - the encoding a UTF-16 byte order mark at the start of s names, or NULL */
const char *encoding_bom(const char *s, size_t n);

/* What encoding_guess concludes: the name to give encoding_new, and why, as a phrase. */
struct encoding_guess {
	const char *name; /* NULL: no idea */
	const char *why;
};
/*
 * encoding_guess - the likely encoding of s (n bytes, a sample of text that is
 * not UTF-8), by the first rule of a table that holds: UTF-16 by where its NUL
 * bytes fall; Shift_JIS, then GB18030, when the bytes read as them without
 * error and mostly as Japanese or Chinese characters; windows-1252 when bytes
 * 0x80-0x9F appear; latin1 when only 0xA0-0xFF do.
 */
void encoding_guess(const char *s, size_t n, struct encoding_guess *g);
/*
 * encoding_guess_utf16 - the UTF-16 rules of encoding_guess alone, for text
 * that may well be valid UTF-8 (NUL is): true and *g set when they hold.
 */
bool encoding_guess_utf16(const char *s, size_t n, struct encoding_guess *g);

#endif
