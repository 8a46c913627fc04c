/*
 * test_csv_reader - tables of edge cases, golden files, chunking equivalence and
 * the csv-spectrum suite (npm's csv-spectrum, fetched by tools/fetch-csv-spectrum
 * into $KIRIM_TESTDATA/csv-spectrum, compared with jansson).
 *
 * Every input is parsed whole, one byte at a time and in random chunk sizes;
 * the three must give the same records, errors and line numbers. Records over
 * the cap (csv_reader_flag_big) are checked against libcsv itself: on random
 * input, a reader with a small cap must find every record a large-cap reader
 * finds, the big ones flagged in their place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/csv_reader.h"
#include "kirim/xmalloc.h"

/* ---- helpers ---- */

static const char *
testdata(void)
{
	const char *d = getenv("KIRIM_TESTDATA");
	return d && *d ? d : "tests/data";
}

static int
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, n);
	fclose(f);
	return 0;
}

/* Append s (n bytes) with the dump's escapes: \n \r \t \0 \\ \| \[ \] \{ \} and \xHH. */
static void
escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\n':
			buf_adds(b, "\\n");
			break;
		case '\r':
			buf_adds(b, "\\r");
			break;
		case '\t':
			buf_adds(b, "\\t");
			break;
		case '\0':
			buf_adds(b, "\\0");
			break;
		case '\\':
		case '|':
		case '[':
		case ']':
		case '{':
		case '}':
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\x%02x", c);
			else
				buf_addc(b, (char)c);
		}
	}
}

enum dump_style {
	DUMP_COMPACT, /* L1[a|b] L3[x] */
	DUMP_RAW,     /* L1{a,b} L3{x} */
	DUMP_GOLDEN,  /* one record per line, with raw bytes */
};

struct sink {
	struct buf out;
	enum dump_style style;
	int stop_after; /* return stop_rc on this record (1-based); 0: never */
	int stop_rc;
	int nrows;
	unsigned long last_line;
	int bad; /* an invariant broke; the dump says which */
};

/* parse() makes its readers with csv_reader_flag_big while this is set. */
static bool flag_big;

static int
on_row(void *arg, const struct csv_row *row)
{
	struct sink *s = arg;
	s->nrows++;
	bool big = row->flags & CSV_ROW_TOO_BIG;
	if ((row->nfields == 0) != big || row->line < s->last_line || row->line == 0 ||
	    row->last_line < row->line || (!big && row->size != row->raw_len) ||
	    (big && row->size <= row->raw_len))
		s->bad = 1;
	s->last_line = row->line;
	for (size_t i = 0; i < row->nfields; i++)
		if (row->fields[i][row->lens[i]] != '\0')
			s->bad = 1;
	const char *bang = row->flags & CSV_ROW_UNTERMINATED ? "!" : "";
	if (row->flags & CSV_ROW_TOO_MANY_FIELDS)
		bang = "#";
	switch (s->style) {
	case DUMP_COMPACT:
		if (big) {
			/* L3<23 to L5>{first bytes}: no fields, the size and the last line */
			buf_printf(&s->out, "%sL%lu%s<%zu to L%lu>{", s->out.len ? " " : "",
			           row->line, bang, row->size, row->last_line);
			escape(&s->out, row->raw, row->raw_len);
			buf_addc(&s->out, '}');
			break;
		}
		buf_printf(&s->out, "%sL%lu%s[", s->out.len ? " " : "", row->line, bang);
		for (size_t i = 0; i < row->nfields; i++) {
			if (i)
				buf_addc(&s->out, '|');
			escape(&s->out, row->fields[i], row->lens[i]);
		}
		buf_addc(&s->out, ']');
		break;
	case DUMP_RAW:
		buf_printf(&s->out, "%sL%lu%s{", s->out.len ? " " : "", row->line, bang);
		escape(&s->out, row->raw, row->raw_len);
		buf_addc(&s->out, '}');
		break;
	case DUMP_GOLDEN:
		buf_printf(&s->out, "L%lu%s n=%zu [", row->line, bang, row->nfields);
		for (size_t i = 0; i < row->nfields; i++) {
			if (i)
				buf_addc(&s->out, '|');
			escape(&s->out, row->fields[i], row->lens[i]);
		}
		buf_adds(&s->out, "]\n    raw {");
		escape(&s->out, row->raw, row->raw_len);
		buf_adds(&s->out, "}\n");
		break;
	}
	if (s->stop_after && s->nrows == s->stop_after)
		return s->stop_rc;
	return 0;
}

enum chunking { WHOLE, BYTES, RANDOM };
static const char *const chunking_name[] = {"whole", "1-byte", "random"};

struct run {
	int rc;
	char delim;
	unsigned long line;
	char err[256];
};

/* Parse in (n bytes) with the given chunking; the records go to s, the outcome to res. */
static void
parse(const char *in, size_t n, char delim, size_t max_record, enum chunking how, unsigned seed,
      struct sink *s, struct run *res)
{
	struct csv_reader *r = csv_reader_new(delim, max_record);
	if (flag_big)
		csv_reader_flag_big(r);
	size_t off = 0;
	int rc = 0;
	while (off < n && rc == 0) {
		size_t k = n - off;
		if (how == BYTES)
			k = 1;
		else if (how == RANDOM) {
			seed = seed * 1103515245u + 12345u;
			size_t want = (seed >> 16) % 7 == 0 ? (seed >> 8) % 300 : (seed >> 16) % 5;
			k = want < k ? want : k; /* zero-length feeds included on purpose */
		}
		rc = csv_reader_feed(r, in + off, k, on_row, s);
		off += k;
	}
	if (rc == 0)
		rc = csv_reader_finish(r, on_row, s);
	res->rc = rc;
	res->delim = csv_reader_delimiter(r);
	res->line = csv_reader_line(r);
	snprintf(res->err, sizeof(res->err), "%s", csv_reader_error(r));
	csv_reader_free(r);
}

/*
 * Parse whole, bytewise and with a few random chunkings; check they agree and
 * return the whole-input dump in *out (caller frees) and its outcome in *res.
 */
static void
parse_all_ways(const char *label, const char *in, size_t n, char delim, size_t max_record,
               enum dump_style style, struct buf *out, struct run *res)
{
	struct sink first = {.style = style};
	parse(in, n, delim, max_record, WHOLE, 0, &first, res);
	if (first.bad)
		fail_msg("%s: a row broke an invariant (line order, NUL after field, nfields)",
		         label);
	for (int how = BYTES; how <= RANDOM; how++) {
		for (unsigned seed = 1; seed <= (how == RANDOM ? 5u : 1u); seed++) {
			struct sink other = {.style = style};
			struct run ores;
			parse(in, n, delim, max_record, (enum chunking)how, seed, &other, &ores);
			const char *a = first.out.data ? first.out.data : "";
			const char *b = other.out.data ? other.out.data : "";
			if (strcmp(a, b) != 0 || res->rc != ores.rc || res->delim != ores.delim ||
			    res->line != ores.line || strcmp(res->err, ores.err) != 0)
				fail_msg("%s: %s feed (seed %u) differs from whole feed\n"
				         "  got:  %s (rc %d, delim %d, line %lu, %s)\n"
				         "  want: %s (rc %d, delim %d, line %lu, %s)",
				         label, chunking_name[how], seed, b, ores.rc, ores.delim,
				         ores.line, ores.err, a, res->rc, res->delim, res->line,
				         res->err);
			buf_free(&other.out);
		}
	}
	*out = first.out;
	if (!out->data)
		buf_adds(out, "");
}

/* ---- the edge-case table ---- */

struct rec_case {
	const char *label;
	const char *in;
	size_t len; /* 0: strlen(in) */
	char delim; /* 0: sniff */
	const char *want;
	int want_rc;
	char want_delim; /* 0: don't check */
};

#define BOM "\xEF\xBB\xBF"

static const struct rec_case rec_cases[] = {
    {"simple", "a,b,c\nx,y,z\n", 0, ',', "L1[a|b|c] L2[x|y|z]", 0, 0},
    {"no final line end", "a,b\nc,d", 0, ',', "L1[a|b] L2[c|d]", 0, 0},
    {"crlf", "a,b\r\nc,d\r\n", 0, ',', "L1[a|b] L2[c|d]", 0, 0},
    {"lone cr", "a\rb\rc", 0, ',', "L1[a] L2[b] L3[c]", 0, 0},
    {"mixed line ends", "a\r\nb\rc\nd", 0, ',', "L1[a] L2[b] L3[c] L4[d]", 0, 0},
    {"cr cr is two line ends", "a\r\rb", 0, ',', "L1[a] L3[b]", 0, 0},
    {"lf cr is two line ends", "a\n\rb", 0, ',', "L1[a] L3[b]", 0, 0},
    {"empty lines skipped", "\n\na\n\n\nb\n\n", 0, ',', "L3[a] L6[b]", 0, 0},
    {"empty crlf lines skipped", "\r\n\r\na\r\n\r\n", 0, ',', "L3[a]", 0, 0},
    {"blank line of spaces skipped", "a\n   \t \nb", 0, ',', "L1[a] L3[b]", 0, 0},
    {"empty input", "", 0, ',', "", 0, 0},
    {"only line ends", "\n\r\n\r", 0, ',', "", 0, 0},
    {"quoted delimiter", "\"a,b\",c", 0, ',', "L1[a,b|c]", 0, 0},
    {"doubled quotes", "\"say \"\"hi\"\"\",x", 0, ',', "L1[say \"hi\"|x]", 0, 0},
    {"only a doubled quote", "\"\"\"\"", 0, ',', "L1[\"]", 0, 0},
    {"multi-line quoted field", "h\n\"l1\nl2\",x\nnext\n", 0, ',', "L1[h] L2[l1\\nl2|x] L4[next]",
     0, 0},
    {"crlf inside quotes kept", "\"a\r\nb\"\r\nc\r\n", 0, ',', "L1[a\\r\\nb] L3[c]", 0, 0},
    {"lone cr inside quotes kept", "\"a\rb\"\rc", 0, ',', "L1[a\\rb] L3[c]", 0, 0},
    {"empty line inside quotes kept", "\"a\n\nb\"\nc", 0, ',', "L1[a\\n\\nb] L4[c]", 0, 0},
    {"many lines inside quotes", "x\n\"1\n2\r\n3\r4\n\"\ny", 0, ',',
     "L1[x] L2[1\\n2\\r\\n3\\r4\\n] L7[y]", 0, 0},
    {"ragged rows", "a\nb,c,d\n,\n", 0, ',', "L1[a] L2[b|c|d] L3[|]", 0, 0},
    {"empty quoted field", "\"\"\n\"\",\"\"", 0, ',', "L1[] L2[|]", 0, 0},
    {"trailing delimiter", "a,b,\n", 0, ',', "L1[a|b|]", 0, 0},
    {"stray quote in unquoted field kept", "37\xc2\xb0 36'37.8\"N,x", 0, ',',
     "L1[37\xc2\xb0 36'37.8\"N|x]", 0, 0},
    {"text after closing quote keeps the quote", "\"ab\"c,d\"\n", 0, ',', "L1[ab\"c,d]", 0, 0},
    {"spaces around unquoted fields trimmed", " a , b \n", 0, ',', "L1[a|b]", 0, 0},
    {"spaces inside quotes kept", "\" a \", \"b\" ,c", 0, ',', "L1[ a |b|c]", 0, 0},
    {"inner spaces kept", "120 any st.,x", 0, ',', "L1[120 any st.|x]", 0, 0},
    {"unterminated quote", "a,\"bc\nde", 0, ',', "L1![a|bc\\nde]", 0, 0},
    {"unterminated quote at end of line", "a\nb,\"c\n", 0, ',', "L1[a] L2![b|c\\n]", 0, 0},
    {"lone quote at end", "a,\"", 0, ',', "L1![a|]", 0, 0},
    {"closed quote at end is fine", "a,\"b\"", 0, ',', "L1[a|b]", 0, 0},
    {"nul in field", "a\0b,c\n\0", 7, ',', "L1[a\\0b|c] L2[\\0]", 0, 0},
    {"nul in quoted field", "\"\0\",x", 5, ',', "L1[\\0|x]", 0, 0},
    {"utf-8 kept", "\xca\xa4,\xe2\x82\xac", 0, ',', "L1[\xca\xa4|\xe2\x82\xac]", 0, 0},
    {"tab given", "a\tb\t\tc\n", 0, '\t', "L1[a|b||c]", 0, '\t'},
    {"semicolon given", "a;b,c", 0, ';', "L1[a|b,c]", 0, ';'},
    {"sniff comma", "a,b;c\n1,2;3\n", 0, 0, "L1[a|b;c] L2[1|2;3]", 0, ','},
    {"sniff semicolon", "a;b;c,d\n1;2;3\n", 0, 0, "L1[a|b|c,d] L2[1|2|3]", 0, ';'},
    {"sniff tab", "a\tb\tc\n1\t2\t3", 0, 0, "L1[a|b|c] L2[1|2|3]", 0, '\t'},
    {"sniff tie is comma", "a;b,c\n", 0, 0, "L1[a;b|c]", 0, ','},
    {"sniff tie without comma is comma", "a;b\tc\n", 0, 0, "L1[a;b\\tc]", 0, ','},
    {"sniff none is comma", "abc\nd;e", 0, 0, "L1[abc] L2[d;e]", 0, ','},
    {"sniff ignores quoted", "\"a;b;c\",d\n", 0, 0, "L1[a;b;c|d]", 0, ','},
    {"sniff quoted line break", "\"a\nb;c;d\";e\n", 0, 0, "L1[a\\nb;c;d|e]", 0, ';'},
    {"sniff skips blank lines", "\n\r\na;b\n", 0, 0, "L3[a|b]", 0, ';'},
    {"sniff stray quote", "a\"b;c;d\n", 0, 0, "L1[a\"b|c|d]", 0, ';'},
    {"sniff without line end", "a;b", 0, 0, "L1[a|b]", 0, ';'},
    {"sniff doubled quote in quotes", "\"x\"\",\"\"\";y;z\n", 0, 0, "L1[x\",\"|y|z]", 0, ';'},
    {"sniff stray doubled quote", "a\"\"b;c;d,e\n", 0, 0, "L1[a\"\"b|c|d,e]", 0, ';'},
    {"sniff nul is no line start", "\0\"x;y\n", 5, 0, "L1[\\0\"x|y]", 0, ';'},
    {"sniff empty input", "", 0, 0, "", 0, ','},
    {"sniff first line ends with cr", "a;b\rc;d\r\ne;f", 0, 0, "L1[a|b] L2[c|d] L3[e|f]", 0, ';'},
    {"bom dropped", BOM "a,b\n", 0, ',', "L1[a|b]", 0, 0},
    {"bom and sniff", BOM "a;b\r\n1;2\r\n", 0, 0, "L1[a|b] L2[1|2]", 0, ';'},
    {"bom only", BOM, 0, 0, "", 0, ','},
    {"bom then quote", BOM "\"a,b\"", 0, ',', "L1[a,b]", 0, 0},
    {"partial bom is data", "\xEF\xBBx,y", 0, ',', "L1[\xEF\xBBx|y]", 0, 0},
    {"partial bom at end is data", "\xEF\xBB", 0, ',', "L1[\xEF\xBB]", 0, 0},
    {"partial bom then line end", "\xEF;\n;a;b", 0, 0, "L1[\xEF|] L2[|a|b]", 0, ';'},
    {"partial bom is a whole line", "\xEF\n;a;b", 0, 0, "L1[\xEF] L2[;a;b]", 0, ','},
    {"bom later is data", "a\n" BOM "b", 0, ',', "L1[a] L2[" BOM "b]", 0, 0},
    {"two boms keep the second", BOM BOM "a", 0, ',', "L1[" BOM "a]", 0, 0},
    {"crlf after quoted field", "\"a\"\r\n\"b\"\r\n", 0, ',', "L1[a] L2[b]", 0, 0},
};

/* The compact dump wants only the records; a case whose first record is not L1 still works. */
static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rec_cases) / sizeof(rec_cases[0]); i++) {
		const struct rec_case *c = &rec_cases[i];
		size_t n = c->len ? c->len : strlen(c->in);
		struct buf got;
		struct run res;
		parse_all_ways(c->label, c->in, n, c->delim, 0, DUMP_COMPACT, &got, &res);
		if (strcmp(got.data, c->want) != 0 || res.rc != c->want_rc)
			fail_msg("%s:\n  got:  %s (rc %d: %s)\n  want: %s (rc %d)", c->label,
			         got.data, res.rc, res.err, c->want, c->want_rc);
		if (c->want_delim && res.delim != c->want_delim)
			fail_msg("%s: delimiter got %d want %d", c->label, res.delim,
			         c->want_delim);
		buf_free(&got);
	}
}

/* ---- raw bytes ---- */

struct raw_case {
	const char *label;
	const char *in;
	const char *want;
};

static const struct raw_case raw_cases[] = {
    {"lf", "a,b\nc\n", "L1{a,b} L2{c}"},
    {"crlf without final line end", "a,b\r\nc", "L1{a,b} L2{c}"},
    {"multi-line keeps inner line ends", "x\r\n\"1\r\n2\",3\r\ny",
     "L1{x} L2{\"1\\r\\n2\",3} L4{y}"},
    {"spaces and quotes as read", " a ,\"b\"\"c\" \n", "L1{ a ,\"b\"\"c\" }"},
    {"bom not in raw", BOM "a\rb", "L1{a} L2{b}"},
    {"blank lines not in raw", "\n\na\n\n", "L3{a}"},
    {"unterminated keeps everything", "a,\"b\n\nc", "L1!{a,\"b\\n\\nc}"},
};

static void
test_raw(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		const struct raw_case *c = &raw_cases[i];
		struct buf got;
		struct run res;
		parse_all_ways(c->label, c->in, strlen(c->in), ',', 0, DUMP_RAW, &got, &res);
		if (strcmp(got.data, c->want) != 0 || res.rc != 0)
			fail_msg("%s:\n  got:  %s (rc %d)\n  want: %s", c->label, got.data, res.rc,
			         c->want);
		buf_free(&got);
	}
}

/* ---- caps, errors, callback stop ---- */

struct err_case {
	const char *label;
	const char *in;
	char delim;
	size_t max_record;
	const char *want; /* records delivered before the error */
	int want_rc;
	const char *want_err; /* a substring of csv_reader_error() */
};

static const struct err_case err_cases[] = {
    {"record at the cap is fine", "0123456789\n", ',', 10, "L1[0123456789]", 0, "no error"},
    {"record over the cap", "ok\n\n0123456789A\nnext\n", ',', 10, "L1[ok]", CSV_READER_E_TOO_BIG,
     "record starting on line 3 is larger than 10 bytes"},
    {"runaway quote", "a\n\"b\nc\nd\ne\nf\ng\nh\n", ',', 10, "L1[a]", CSV_READER_E_TOO_BIG,
     "record starting on line 2 is larger than 10 bytes (unterminated quote?)"},
    {"inner crlf counts", "\"12345678\r\n\"", ',', 10, "", CSV_READER_E_TOO_BIG,
     "record starting on line 1 is larger than 10 bytes (unterminated quote?)"},
    {"over the cap without line end", "01234567890", ',', 10, "", CSV_READER_E_TOO_BIG,
     "record starting on line 1 is larger than 10 bytes"},
    {"sniffed first line at the cap is fine", "0;23456789\r\nx", 0, 10, "L1[0|23456789] L2[x]", 0,
     "no error"},
    {"first line too long to sniff", "0123456789012", 0, 10, "", CSV_READER_E_TOO_BIG,
     "the first line is larger than 10 bytes"},
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		struct buf got;
		struct run res;
		parse_all_ways(c->label, c->in, strlen(c->in), c->delim, c->max_record,
		               DUMP_COMPACT, &got, &res);
		if (strcmp(got.data, c->want) != 0 || res.rc != c->want_rc ||
		    !strstr(res.err, c->want_err))
			fail_msg("%s:\n  got:  %s (rc %d: %s)\n  want: %s (rc %d: %s)", c->label,
			         got.data, res.rc, res.err, c->want, c->want_rc, c->want_err);
		buf_free(&got);
	}
}

/* ---- records over the cap, flagged (csv_reader_flag_big) ---- */

static const struct err_case big_cases[] = {
    {"record at the cap is fine", "0123456789\n", ',', 10, "L1[0123456789]", 0, "no error"},
    {"record over the cap, and the rest", "ok\n\n0123456789A\nnext\n", ',', 10,
     "L1[ok] L3<11 to L3>{0123456789} L4[next]", 0, "no error"},
    {"runaway quote to the end", "a\n\"b\nc\nd\ne\nf\ng\nh\n", ',', 10,
     "L1[a] L2!<15 to L9>{\"b\\nc\\nd\\ne\\nf}", 0, "no error"},
    {"quoted lines over the cap end at the closing quote", "h\n\"0123\n456789\",x\r\nnext\r\n", ',',
     10, "L1[h] L2<15 to L3>{\"0123\\n4567} L4[next]", 0, "no error"},
    {"cap passed by an inner crlf", "\"12345678\r\n\"\nz", ',', 10,
     "L1<12 to L2>{\"12345678\\r} L3[z]", 0, "no error"},
    {"cap passed by the lf of a crlf split", "\"123456789\r\n\"\nz", ',', 10,
     "L1<13 to L2>{\"123456789} L3[z]", 0, "no error"},
    {"over the cap without line end", "x\n01234567890", ',', 10, "L1[x] L2<11 to L2>{0123456789}",
     0, "no error"},
    {"doubled quotes and delimiters inside", "\"a,\"\"b\"\",\nc,\"\"\",d\"\ne", ',', 10,
     "L1<18 to L2>{\"a,\"\"b\"\",\\n} L3[e]", 0, "no error"},
    {"text after a closing quote stays quoted", "\"ab\"cdefghij\nk\"\nz", ',', 10,
     "L1<15 to L2>{\"ab\"cdefgh} L3[z]", 0, "no error"},
    {"blank line over the cap is skipped", "a\n            \t \nb\n", ',', 10, "L1[a] L3[b]", 0,
     "no error"},
    {"tab delimiter", "a\t\"b\tc\"\t0123456789\nd\n", '\t', 10,
     "L1<18 to L1>{a\\t\"b\\tc\"\\t01} L2[d]", 0, "no error"},
    {"first line too long to sniff still stops", "0123456789012", 0, 10, "", CSV_READER_E_TOO_BIG,
     "the first line is larger than 10 bytes"},
};

static void
test_big(void **state)
{
	(void)state;
	flag_big = true;
	for (size_t i = 0; i < sizeof(big_cases) / sizeof(big_cases[0]); i++) {
		const struct err_case *c = &big_cases[i];
		struct buf got;
		struct run res;
		parse_all_ways(c->label, c->in, strlen(c->in), c->delim, c->max_record,
		               DUMP_COMPACT, &got, &res);
		if (strcmp(got.data, c->want) != 0 || res.rc != c->want_rc ||
		    !strstr(res.err, c->want_err))
			fail_msg("%s:\n  got:  %s (rc %d: %s)\n  want: %s (rc %d: %s)", c->label,
			         got.data, res.rc, res.err, c->want, c->want_rc, c->want_err);
		buf_free(&got);
	}
	flag_big = false;
}

/*
 * The skimmer against libcsv: a record's fields, lines, flags and raw bytes, or,
 * when its raw bytes pass cap, what a flagged big record shows of it.
 */
struct canon {
	struct buf out;
	size_t cap;
};

static int
canon_row(void *arg, const struct csv_row *row)
{
	struct canon *c = arg;
	bool big = (row->flags & CSV_ROW_TOO_BIG) || row->raw_len > c->cap;
	buf_printf(&c->out, "L%lu-%lu/%u", row->line, row->last_line,
	           row->flags & CSV_ROW_UNTERMINATED);
	if (big) {
		buf_printf(&c->out, " big %zu {", row->size);
		escape(&c->out, row->raw, row->raw_len < c->cap ? row->raw_len : c->cap);
	} else {
		buf_adds(&c->out, " [");
		for (size_t i = 0; i < row->nfields; i++) {
			if (i)
				buf_addc(&c->out, '|');
			escape(&c->out, row->fields[i], row->lens[i]);
		}
		buf_adds(&c->out, "] {");
		escape(&c->out, row->raw, row->raw_len);
	}
	buf_adds(&c->out, "}\n");
	return 0;
}

static void
canon_parse(const char *in, size_t n, char delim, size_t cap, bool flagged, unsigned chunk_seed,
            struct canon *c)
{
	struct csv_reader *r = csv_reader_new(delim, flagged ? cap : 0);
	if (flagged)
		csv_reader_flag_big(r);
	int rc = 0;
	for (size_t off = 0, k; off < n && rc == 0; off += k) {
		chunk_seed = chunk_seed * 1103515245u + 12345u;
		k = chunk_seed ? 1 + (chunk_seed >> 16) % 9 : n;
		k = k < n - off ? k : n - off;
		rc = csv_reader_feed(r, in + off, k, canon_row, c);
	}
	if (rc == 0)
		rc = csv_reader_finish(r, canon_row, c);
	if (rc != 0)
		fail_msg("rc %d: %s", rc, csv_reader_error(r));
	csv_reader_free(r);
}

static unsigned rnd(unsigned *seed);

static void
test_big_matches_libcsv(void **state)
{
	(void)state;
	/* Weighted towards what moves libcsv's states: quotes, blanks, delimiters, line ends. */
	static const char alphabet[] = "aab  \t\t,,;\"\"\"\r\n\n";
	static const char delims[] = {',', ';', '\t'};
	for (unsigned seed = 1; seed <= 3000; seed++) {
		unsigned rs = seed;
		char in[160];
		size_t n = rnd(&rs) % sizeof(in);
		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[rnd(&rs) % (sizeof(alphabet) - 1)];
		char delim = delims[seed % 3];
		size_t cap = 1 + rnd(&rs) % 24;
		struct canon want = {.cap = cap};
		canon_parse(in, n, delim, cap, false, 0, &want);
		for (unsigned chunks = 0; chunks < 3; chunks++) {
			struct canon got = {.cap = cap};
			canon_parse(in, n, delim, cap, true, chunks * seed, &got);
			const char *g = got.out.data ? got.out.data : "";
			const char *w = want.out.data ? want.out.data : "";
			if (strcmp(g, w) != 0) {
				struct buf esc = BUF_INIT;
				escape(&esc, in, n);
				fail_msg("seed %u, cap %zu, delimiter %d, input {%s}:\n--- got:\n%s"
				         "--- want:\n%s",
				         seed, cap, delim, esc.data ? esc.data : "", g, w);
			}
			buf_free(&got.out);
		}
		buf_free(&want.out);
	}
}

static void
test_too_many_fields(void **state)
{
	(void)state;
	struct buf in = BUF_INIT;
	/* Exactly MAX_FIELDS fields pass, one more fails, quoted or not, on the right line. */
	for (int i = 1; i < CSV_READER_MAX_FIELDS; i++)
		buf_addc(&in, ',');
	buf_adds(&in, "\nx\n\"a\"");
	for (int i = 0; i < CSV_READER_MAX_FIELDS; i++)
		buf_adds(&in, ",\"\"");
	buf_adds(&in, "\nnot reached\n");
	struct buf got;
	struct run res;
	parse_all_ways("too many fields", in.data, in.len, ',', 0, DUMP_COMPACT, &got, &res);
	assert_int_equal(res.rc, CSV_READER_E_TOO_BIG);
	if (!strstr(res.err, "record starting on line 3 has more than 4096 fields"))
		fail_msg("got error: %s", res.err);
	/* Two records came through: 4096 empty fields, then x. */
	const char *tail = " L2[x]";
	assert_true(got.len > strlen(tail));
	assert_string_equal(got.data + got.len - strlen(tail), tail);
	assert_int_equal(strncmp(got.data, "L1[||", 5), 0);
	buf_free(&got);

	/* The same at finish, with no line end after the big record. */
	in.len -= strlen("\nnot reached\n");
	in.data[in.len] = '\0';
	parse_all_ways("too many fields at finish", in.data, in.len, ',', 0, DUMP_COMPACT, &got,
	               &res);
	assert_int_equal(res.rc, CSV_READER_E_TOO_BIG);
	buf_free(&got);

	/* Flagged, the record comes with its first MAX_FIELDS fields and the reader goes on. */
	buf_adds(&in, "\nreached\n");
	flag_big = true;
	parse_all_ways("too many fields, flagged", in.data, in.len, ',', 0, DUMP_COMPACT, &got,
	               &res);
	flag_big = false;
	assert_int_equal(res.rc, 0);
	tail = "|] L4[reached]";
	assert_true(got.len > strlen(tail));
	assert_string_equal(got.data + got.len - strlen(tail), tail);
	if (!strstr(got.data, " L2[x] L3#[a|||"))
		fail_msg("flagged record not found in %.200s", got.data);
	buf_free(&got);
	buf_free(&in);
}

static void
test_callback_stop(void **state)
{
	(void)state;
	static const char in[] = "a\nb\nc\nd\n";
	for (int how = WHOLE; how <= RANDOM; how++) {
		struct sink s = {.style = DUMP_COMPACT, .stop_after = 2, .stop_rc = 7};
		struct run res;
		parse(in, strlen(in), ',', 0, (enum chunking)how, 3, &s, &res);
		assert_int_equal(res.rc, 7);
		assert_int_equal(s.nrows, 2);
		assert_string_equal(s.out.data, "L1[a] L2[b]");
		buf_free(&s.out);
	}

	/* The stop is sticky, and a negative value passes through too. */
	struct sink s = {.style = DUMP_COMPACT, .stop_after = 1, .stop_rc = -42};
	struct csv_reader *r = csv_reader_new(',', 0);
	assert_int_equal(csv_reader_feed(r, "x\ny\n", 4, on_row, &s), -42);
	assert_int_equal(csv_reader_feed(r, "z\n", 2, on_row, &s), -42);
	assert_int_equal(csv_reader_finish(r, on_row, &s), -42);
	assert_int_equal(s.nrows, 1);
	csv_reader_free(r);
	buf_free(&s.out);

	/* A stop on the last record, delivered by finish. */
	struct sink s2 = {.style = DUMP_COMPACT, .stop_after = 2, .stop_rc = 3};
	r = csv_reader_new(',', 0);
	assert_int_equal(csv_reader_feed(r, "x\ny", 3, on_row, &s2), 0);
	assert_int_equal(csv_reader_finish(r, on_row, &s2), 3);
	assert_string_equal(s2.out.data, "L1[x] L2[y]");
	csv_reader_free(r);
	buf_free(&s2.out);
}

static void
test_line_and_delimiter(void **state)
{
	(void)state;
	struct sink s = {.style = DUMP_COMPACT};
	struct csv_reader *r = csv_reader_new(0, 0);
	assert_int_equal(csv_reader_delimiter(r), ',');
	assert_int_equal(csv_reader_line(r), 1);
	/* No full line yet: nothing is delivered and the delimiter is not known. */
	assert_int_equal(csv_reader_feed(r, "a;b;c", 5, on_row, &s), 0);
	assert_int_equal(s.nrows, 0);
	assert_int_equal(csv_reader_feed(r, "\r", 1, on_row, &s), 0);
	assert_int_equal(csv_reader_delimiter(r), ';');
	assert_int_equal(s.nrows, 1);
	assert_int_equal(csv_reader_feed(r, "\n\"x\n", 4, on_row, &s), 0);
	assert_int_equal(csv_reader_line(r), 3);
	assert_int_equal(csv_reader_finish(r, on_row, &s), 0);
	assert_string_equal(s.out.data, "L1[a|b|c] L2![x\\n]");
	assert_string_equal(csv_reader_error(r), "no error");
	csv_reader_free(r);
	buf_free(&s.out);
	csv_reader_free(NULL);
}

/* ---- round trip: random records written as CSV come back the same ---- */

static unsigned
rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* Append a line end; a lone CR followed by an LF-first end would make one CRLF. */
static void
add_end(struct buf *in, unsigned long *line, const char *end)
{
	if (!(end[0] == '\n' && in->len && in->data[in->len - 1] == '\r'))
		(*line)++;
	buf_adds(in, end);
}

static void
test_round_trip(void **state)
{
	(void)state;
	static const char alphabet[] = "ab ,;\"\r\n\t\0xy\xc3\xa9";
	for (unsigned seed = 1; seed <= 40; seed++) {
		unsigned rs = seed;
		struct buf in = BUF_INIT, want = BUF_INIT;
		unsigned long line = 1;
		static const char *const ends[] = {"\n", "\r\n", "\r"};
		int nrec = 1 + (int)(rnd(&rs) % 30);
		for (int i = 0; i < nrec; i++) {
			int blank = (int)(rnd(&rs) % 3);
			for (int k = 0; k < blank; k++) {
				add_end(&in, &line, ends[rnd(&rs) % 3]);
			}
			buf_printf(&want, "%sL%lu[", want.len ? " " : "", line);
			int nf = 1 + (int)(rnd(&rs) % 6);
			for (int f = 0; f < nf; f++) {
				char field[24];
				size_t flen = rnd(&rs) % sizeof(field);
				for (size_t k = 0; k < flen; k++)
					field[k] = alphabet[rnd(&rs) % (sizeof(alphabet) - 1)];
				if (f)
					buf_addc(&in, ',');
				if (f)
					buf_addc(&want, '|');
				/* A lone empty unquoted field would be a blank line: quote it. */
				buf_addc(&in, '"');
				for (size_t k = 0; k < flen; k++) {
					if (field[k] == '"')
						buf_addc(&in, '"');
					buf_addc(&in, field[k]);
					if (field[k] == '\n' ||
					    (field[k] == '\r' &&
					     (k + 1 == flen || field[k + 1] != '\n')))
						line++;
				}
				buf_addc(&in, '"');
				escape(&want, field, flen);
			}
			buf_addc(&want, ']');
			if (i + 1 < nrec || rnd(&rs) % 2)
				add_end(&in, &line, ends[rnd(&rs) % 3]);
		}
		struct buf got;
		struct run res;
		char label[32];
		snprintf(label, sizeof(label), "round trip %u", seed);
		parse_all_ways(label, in.data, in.len, ',', 0, DUMP_COMPACT, &got, &res);
		if (strcmp(got.data, want.data) != 0 || res.rc != 0)
			fail_msg("%s:\n  got:  %s (rc %d)\n  want: %s", label, got.data, res.rc,
			         want.data);
		buf_free(&got);
		buf_free(&in);
		buf_free(&want);
	}
}

/* ---- golden files: tests/data/csv_reader/NAME.csv -> NAME.out ---- */

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List NAME for every NAME<ext> in dir, sorted; returns the count. */
static size_t
list_files(const char *dir, const char *ext, char ***names)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	*names = NULL;
	if (!d)
		return 0;
	struct dirent *e;
	size_t elen = strlen(ext);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= elen || strcmp(e->d_name + len - elen, ext) != 0)
			continue;
		*names = xrealloc(*names, (n + 1) * sizeof(**names));
		(*names)[n++] = xstrndup(e->d_name, len - elen);
	}
	closedir(d);
	if (n)
		qsort(*names, n, sizeof(**names), by_name);
	return n;
}

static void
test_golden(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/csv_reader", testdata());
	char **names;
	size_t n = list_files(dir, ".csv", &names);
	if (n == 0)
		fail_msg("no golden files in %s (set KIRIM_TESTDATA to tests/data)", dir);
	int update = getenv("KIRIM_UPDATE_GOLDEN") != NULL;
	for (size_t i = 0; i < n; i++) {
		char path[4200];
		struct buf in = BUF_INIT, want = BUF_INIT, got;
		struct run res;
		snprintf(path, sizeof(path), "%s/%s.csv", dir, names[i]);
		assert_int_equal(read_file(path, &in), 0);
		parse_all_ways(names[i], in.data ? in.data : "", in.len, 0, 0, DUMP_GOLDEN, &got,
		               &res);
		struct buf full = BUF_INIT;
		buf_printf(&full, "delimiter %s\n",
		           res.delim == '\t' ? "tab" : (char[]){res.delim, '\0'});
		buf_add(&full, got.data, got.len);
		buf_printf(&full, "end rc=%d line=%lu: %s\n", res.rc, res.line, res.err);
		snprintf(path, sizeof(path), "%s/%s.out", dir, names[i]);
		if (update) {
			FILE *f = fopen(path, "wb");
			assert_non_null(f);
			fwrite(full.data, 1, full.len, f);
			fclose(f);
		} else if (read_file(path, &want) != 0) {
			fail_msg("%s: missing %s", names[i], path);
		} else if (strcmp(full.data, want.data ? want.data : "") != 0) {
			fail_msg("%s: golden mismatch\n--- got:\n%s--- want (%s):\n%s", names[i],
			         full.data, path, want.data ? want.data : "");
		}
		buf_free(&full);
		buf_free(&got);
		buf_free(&in);
		buf_free(&want);
		free(names[i]);
	}
	free(names);
}

/* ---- csv-spectrum ---- */

/*
 * Known errors in csv-spectrum 2.0.0's expected JSON, checked so a fixed release
 * is noticed: location_coordinates.json says the phone number is 1234567890
 * while location_coordinates.csv holds 2095257564 (the data, not the parsing,
 * differs); the test expects what the CSV says.
 */
struct spectrum_erratum {
	const char *name;
	size_t index;
	const char *key;
	const char *published;
	const char *corrected;
};

static const struct spectrum_erratum spectrum_errata[] = {
    {"location_coordinates", 0, "Contact Phone Number", "1234567890", "2095257564"},
};

struct spectrum_sink {
	json_t *header; /* array of keys */
	json_t *rows;   /* array of objects */
	const char *name;
	int ragged;
};

static int
spectrum_row(void *arg, const struct csv_row *row)
{
	struct spectrum_sink *s = arg;
	if (!s->header) {
		s->header = json_array();
		for (size_t i = 0; i < row->nfields; i++)
			json_array_append_new(s->header,
			                      json_stringn(row->fields[i], row->lens[i]));
		return 0;
	}
	if (row->nfields != json_array_size(s->header))
		s->ragged = 1;
	json_t *obj = json_object();
	for (size_t i = 0; i < row->nfields && i < json_array_size(s->header); i++)
		json_object_set_new(obj, json_string_value(json_array_get(s->header, i)),
		                    json_stringn(row->fields[i], row->lens[i]));
	json_array_append_new(s->rows, obj);
	return 0;
}

static void
test_spectrum(void **state)
{
	(void)state;
	char csvs[4096], jsons[4096];
	snprintf(csvs, sizeof(csvs), "%s/csv-spectrum/csvs", testdata());
	snprintf(jsons, sizeof(jsons), "%s/csv-spectrum/json", testdata());
	char **names;
	size_t n = list_files(csvs, ".csv", &names);
	if (n == 0)
		fail_msg("csv-spectrum not found in %s: run tools/fetch-csv-spectrum "
		         "(it installs npm's csv-spectrum into tests/data/csv-spectrum)",
		         csvs);
	/* csv-spectrum 1.0.0 has 11 cases, 2.0.0 has 12: fewer means a broken copy. */
	if (n < 11)
		fail_msg("only %zu csv-spectrum cases in %s: rerun tools/fetch-csv-spectrum", n,
		         csvs);
	size_t checked = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4200];
		struct buf in = BUF_INIT;
		snprintf(path, sizeof(path), "%s/%s.csv", csvs, names[i]);
		assert_int_equal(read_file(path, &in), 0);
		snprintf(path, sizeof(path), "%s/%s.json", jsons, names[i]);
		json_error_t jerr;
		json_t *want = json_load_file(path, 0, &jerr);
		if (!want)
			fail_msg("%s: cannot load %s: %s (line %d)", names[i], path, jerr.text,
			         jerr.line);
		/* location_coordinates.json holds a lone object, not an array of one. */
		if (json_is_object(want)) {
			json_t *arr = json_array();
			json_array_append_new(arr, want);
			want = arr;
		}
		for (size_t e = 0; e < sizeof(spectrum_errata) / sizeof(spectrum_errata[0]); e++) {
			const struct spectrum_erratum *er = &spectrum_errata[e];
			if (strcmp(er->name, names[i]) != 0)
				continue;
			json_t *obj = json_array_get(want, er->index);
			const char *v = json_string_value(json_object_get(obj, er->key));
			if (!v || strcmp(v, er->published) != 0)
				fail_msg("%s: erratum no longer applies (%s is \"%s\"): update the "
				         "errata table",
				         names[i], er->key, v ? v : "(missing)");
			json_object_set_new(obj, er->key, json_string(er->corrected));
		}

		/* Whole and bytewise feeds, sniffing the delimiter. */
		for (int how = WHOLE; how <= RANDOM; how++) {
			struct spectrum_sink s = {.rows = json_array(), .name = names[i]};
			struct csv_reader *r = csv_reader_new(0, 0);
			int rc = 0;
			size_t step = how == BYTES ? 1 : how == RANDOM ? 7 : in.len;
			for (size_t off = 0; off < in.len && rc == 0; off += step)
				rc = csv_reader_feed(r, in.data + off,
				                     step < in.len - off ? step : in.len - off,
				                     spectrum_row, &s);
			if (rc == 0)
				rc = csv_reader_finish(r, spectrum_row, &s);
			if (rc != 0)
				fail_msg("%s: rc %d: %s", names[i], rc, csv_reader_error(r));
			if (csv_reader_delimiter(r) != ',')
				fail_msg("%s: sniffed delimiter %d, want ','", names[i],
				         csv_reader_delimiter(r));
			csv_reader_free(r);
			if (s.ragged || !json_equal(s.rows, want)) {
				char *g = json_dumps(s.rows, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
				char *w = json_dumps(want, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
				fail_msg("csv-spectrum %s (%s feed):\n  got:  %s%s\n  want: %s",
				         names[i], chunking_name[how], g,
				         s.ragged ? " (ragged)" : "", w);
			}
			json_decref(s.header);
			json_decref(s.rows);
		}
		checked++;
		json_decref(want);
		buf_free(&in);
		free(names[i]);
	}
	free(names);
	print_message("csv-spectrum: %zu cases match\n", checked);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_too_many_fields),
	    cmocka_unit_test(test_callback_stop),
	    cmocka_unit_test(test_line_and_delimiter),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_spectrum),
	    cmocka_unit_test(test_big),
	    cmocka_unit_test(test_big_matches_libcsv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
