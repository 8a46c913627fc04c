/*
 * test_encoding - names, conversions (whole, byte by byte and in random chunks,
 * which must agree), marks for bytes an encoding lacks, byte order marks and the
 * guessing table, each row against bytes written out here (made with Python's
 * codecs, not with iconv).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/encoding.h"

/* ---- names ---- */

static const struct {
	const char *name;
	const char *want; /* encoding_name, or NULL: refused */
} name_cases[] = {
    {"latin1", "windows-1252"},
    {"ISO-8859-1", "windows-1252"},
    {"cp1252", "windows-1252"},
    {"Windows-1252", "windows-1252"},
    {"ascii", "windows-1252"},
    {"shift_jis", "shift_jis"},
    {"SJIS", "shift_jis"},
    {"cp932", "shift_jis"},
    {"gbk", "gb18030"},
    {"GB18030", "gb18030"},
    {"utf-16", "utf-16"},
    {"UTF-16LE", "utf-16le"},
    {"ISO-8859-15", "iso-8859-15"},
    {"KOI8-R", "koi8-r"},
    {"klingon", NULL},
    {"", NULL},
    {"latin1//IGNORE", NULL},
    {"utf-8//TRANSLIT", NULL},
};

static void
test_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		struct encoding *e = encoding_new(name_cases[i].name);
		const char *got = e ? encoding_name(e) : NULL;
		if ((got == NULL) != (name_cases[i].want == NULL) ||
		    (got && strcmp(got, name_cases[i].want) != 0))
			fail_msg("%s: got %s want %s", name_cases[i].name, got ? got : "(refused)",
			         name_cases[i].want ? name_cases[i].want : "(refused)");
		encoding_free(e);
	}
	assert_true(encoding_is_utf8("UTF-8"));
	assert_true(encoding_is_utf8("utf8"));
	assert_false(encoding_is_utf8("utf-16"));
	encoding_free(NULL);
}

/* ---- conversions ---- */

static const struct {
	const char *label;
	const char *enc;
	const char *in;
	size_t len;            /* 0: strlen(in) */
	const char *want;      /* UTF-8, marks shown by encoding_unmark */
	const char *want_name; /* after the input: utf-16 settles its byte order */
} conv_cases[] = {
    {"windows-1252 punctuation", "windows-1252", "\x80 \x84x\x93", 0,
     "\xE2\x82\xAC \xE2\x80\x9Ex\xE2\x80\x9C", "windows-1252"},
    {"latin1 is windows-1252", "latin1", "\x80\xe9", 0, "\xE2\x82\xAC\xC3\xA9", "windows-1252"},
    {"byte windows-1252 lacks", "windows-1252", "a\x81,b\x9d", 0, "a\\x81,b\\x9D", "windows-1252"},
    {"iso-8859-15 euro", "iso-8859-15", "\xa4", 0, "\xE2\x82\xAC", "iso-8859-15"},
    {"shift_jis keeps backslash and tilde", "shift_jis", "\\~", 0, "\\~", "shift_jis"},
    {"shift_jis kanji", "shift_jis", "\x93\x8c\x8b\x9e", 0, "\xE6\x9D\xB1\xE4\xBA\xAC",
     "shift_jis"},
    {"shift_jis bad trail byte keeps the comma", "shift_jis", "\x81,a", 0, "\\x81,a", "shift_jis"},
    {"shift_jis cut at the end", "shift_jis", "a\x93", 0, "a\\x93", "shift_jis"},
    {"gb18030", "gb18030", "\xd5\xc5,\xce\xb0", 0, "\xE5\xBC\xA0,\xE4\xBC\x9F", "gb18030"},
    {"utf-16 little-endian mark", "utf-16", "\xff\xfe\x61\0\xe9\0", 6, "a\xC3\xA9", "utf-16le"},
    {"utf-16 big-endian mark", "utf-16", "\xfe\xff\0a\0\xe9", 6, "a\xC3\xA9", "utf-16be"},
    {"utf-16 without a mark: NULs say little-endian", "utf-16", "a\0b\0", 4, "ab", "utf-16le"},
    {"utf-16 without a mark: NULs say big-endian", "utf-16", "\0a\0b", 4, "ab", "utf-16be"},
    {"utf-16 one byte only", "utf-16", "a", 0, "\\x61", "utf-16"},
    {"utf-16le keeps a mark for the CSV reader", "utf-16le", "\xff\xfe\x61\0", 4,
     "\xEF\xBB\xBF\x61", "utf-16le"},
    {"utf-16le lone surrogate", "utf-16le",
     "\0\xd8"
     "a\0",
     4, "\\x00\\xD8a", "utf-16le"},
    {"utf-16le cut at the end", "utf-16le", "a\0b", 3, "a\\x62", "utf-16le"},
    {"utf-16le surrogate pair", "utf-16le", "\x3d\xd8\x00\xde", 4, "\xF0\x9F\x98\x80", "utf-16le"},
};

/* Convert in chunks: 0 whole, 1 a byte at a time, else sizes from a seed. */
static void
convert(const char *enc, const char *in, size_t n, unsigned seed, struct buf *shown, char *name,
        size_t namesz)
{
	struct encoding *e = encoding_new(enc);
	assert_non_null(e);
	struct buf out = BUF_INIT;
	for (size_t off = 0, k; off < n; off += k) {
		if (seed == 0) {
			k = n;
		} else if (seed == 1) {
			k = 1;
		} else {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % 4; /* empty feeds included */
		}
		k = k < n - off ? k : n - off;
		encoding_feed(e, in + off, k, &out);
	}
	encoding_finish(e, &out);
	encoding_unmark(shown, out.data ? out.data : "", out.len);
	snprintf(name, namesz, "%s", encoding_name(e));
	buf_free(&out);
	encoding_free(e);
}

static void
test_convert(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++) {
		size_t n = conv_cases[i].len ? conv_cases[i].len : strlen(conv_cases[i].in);
		for (unsigned seed = 0; seed < 6; seed++) {
			struct buf got = BUF_INIT;
			char name[40];
			convert(conv_cases[i].enc, conv_cases[i].in, n, seed, &got, name,
			        sizeof(name));
			const char *g = got.data ? got.data : "";
			if (strcmp(g, conv_cases[i].want) != 0 ||
			    strcmp(name, conv_cases[i].want_name) != 0)
				fail_msg("%s (chunking %u): got [%s] (%s) want [%s] (%s)",
				         conv_cases[i].label, seed, g, name, conv_cases[i].want,
				         conv_cases[i].want_name);
			buf_free(&got);
		}
	}
}

/* A large input crosses iconv's output steps and chunk ends many times. */
static void
test_convert_long(void **state)
{
	(void)state;
	struct buf in = BUF_INIT, want = BUF_INIT;
	for (int i = 0; i < 50000; i++) {
		buf_adds(&in, "\x93\x8c\x8b\x9e,\x80\n"); /* 東京, then 0x80, which CP932 lacks */
		buf_adds(&want, "\xE6\x9D\xB1\xE4\xBA\xAC,\\x80\n");
	}
	for (unsigned seed = 0; seed < 3; seed++) {
		struct buf got = BUF_INIT;
		char name[40];
		convert("shift_jis", in.data, in.len, seed == 2 ? 7 : seed, &got, name,
		        sizeof(name));
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
		buf_free(&got);
	}
	buf_free(&in);
	buf_free(&want);
}

static void
test_marks(void **state)
{
	(void)state;
	assert_int_equal(encoding_first_mark("abc", 3), -1);
	assert_int_equal(encoding_first_mark("a\xff"
	                                     "81",
	                                     4),
	                 0x81);
	assert_int_equal(encoding_first_mark("a\xff"
	                                     "8",
	                                     3),
	                 -1); /* cut */
	assert_int_equal(encoding_first_mark("\xff\xff"
	                                     "9D",
	                                     4),
	                 0x9D); /* the second one */
	struct buf b = BUF_INIT;
	encoding_unmark(&b,
	                "x\xff"
	                "8",
	                3);
	assert_string_equal(b.data, "x\\x8");
	buf_free(&b);
}

static void
test_bom(void **state)
{
	(void)state;
	assert_string_equal(encoding_bom("\xff\xfe"
	                                 "a\0",
	                                 4),
	                    "utf-16");
	assert_string_equal(encoding_bom("\xfe\xff", 2), "utf-16");
	assert_string_equal(encoding_bom("\xff\xfe\0\0", 4), "utf-32");
	assert_null(encoding_bom("\xef\xbb\xbf"
	                         "a",
	                         4));
	assert_null(encoding_bom("\xff", 1));
	assert_null(encoding_bom("email", 5));
}

/* ---- guessing ---- */

static const struct {
	const char *label;
	const char *in;
	size_t len;
	const char *want; /* NULL: no guess */
} guess_cases[] = {
    {"windows-1252 quotes and euro",
     "Ren\xe9"
     "e \x84Quote\x93,Price \x80",
     0, "windows-1252"},
    {"latin1 accents only", "Jos\xe9,M\xfcller", 0, "latin1"},
    {"western names do not read as Japanese or Chinese",
     "Ren\xe9"
     "e,Jos\xe9,M\xfcller\x0a"
     "Fran\xe7ois,\xc6r\xf8,\xc7"
     "a va",
     0, "latin1"},
    {"western names, no trailing accent",
     "Zo\xeb M\xfcller, Ren\xe9"
     "e F\xe9nelon\x0a",
     0, "latin1"},
    {"Japanese in CP932",
     "\x8eR\x93"
     "c\x91\xbe\x98Y,\x93\x8c\x8b\x9e\x93s\x90\xe7\x91\xe3\x93"
     "c\x8b\xe6\x0a\x97"
     "\xe9\x96\xd8\x82\xcd\x82\xc8\x82\xb1,\x91\xe5\x8d\xe3\x8es",
     0, "shift_jis"},
    {"Chinese in GB18030",
     "\xd5\xc5\xce\xb0,\xb1\xb1\xbe\xa9\xca\xd0\x0a\xcd\xf5\xb7\xbc,\xc9\xcf\xba\xa3\xca\xd0", 0,
     "gb18030"},
    {"UTF-16LE text", "e\0m\0a\0i\0l\0\n\0a\0@\0b\0", 18, "utf-16le"},
    {"UTF-16BE text", "\0e\0m\0a\0i\0l\0\n\0a\0@\0b", 18, "utf-16be"},
    {"ASCII", "email,name", 0, NULL},
};

static void
test_guess(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(guess_cases) / sizeof(guess_cases[0]); i++) {
		size_t n = guess_cases[i].len ? guess_cases[i].len : strlen(guess_cases[i].in);
		struct encoding_guess g;
		encoding_guess(guess_cases[i].in, n, &g);
		const char *w = guess_cases[i].want;
		if ((g.name == NULL) != (w == NULL) || (w && strcmp(g.name, w) != 0) ||
		    (g.name && !g.why))
			fail_msg("%s: got %s want %s", guess_cases[i].label,
			         g.name ? g.name : "(none)", w ? w : "(none)");
		bool u16 = encoding_guess_utf16(guess_cases[i].in, n, &g);
		if (u16 != (w && strncmp(w, "utf-16", 6) == 0))
			fail_msg("%s: encoding_guess_utf16 says %d", guess_cases[i].label, u16);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),        cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_convert_long), cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_bom),          cmocka_unit_test(test_guess),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
