/*
 * csv_reader - streaming CSV records over libcsv (see csv_reader.h).
 *
 * The reader owns the line structure and libcsv owns the field syntax. Input is
 * cut at CR and LF (found with memchr) into physical lines; each line's bytes are
 * handed to libcsv, then its first terminator byte alone. With CSV_REPALL_NL set,
 * libcsv reports an end of row for every terminator except one inside a quoted
 * field, so after that single byte we know for certain whether the record ended
 * (deliver it) or goes on inside quotes (feed the rest of the line end too and
 * keep reading). That is what keeps line numbers right for multi-line quoted
 * fields, CRLF split across feeds and lone-CR files, and lets the reader keep the
 * record's raw bytes without a second parser.
 *
 * libcsv runs in its lenient mode: a stray quote inside an unquoted field is kept
 * as a literal character, and spaces and tabs around unquoted fields and between
 * a closing quote and the delimiter are dropped (libcsv's default; it keeps
 * `"a" ,b` from turning into a runaway quoted field). Spaces inside quotes are kept.
 *
 * Memory: the raw record, the field bytes and libcsv's field buffer grow with the
 * longest record only, and each is capped by max_record; the field table is capped
 * by CSV_READER_MAX_FIELDS. An error or a callback's stop is sticky: later calls
 * return the same value.
 *
 * Records over the cap (csv_reader_flag_big): from the byte that passes max_record
 * on, libcsv is no longer fed, since its field buffer would grow with the record.
 * The reader skims the rest itself (skim()), following libcsv's lenient state
 * machine only as far as it needs to find where the record ends; it learns where
 * libcsv stood by skimming the raw bytes kept so far from the record's start. When
 * the record ends, libcsv is started afresh. tests/unit/test_csv_reader.c checks
 * the skimmer against libcsv on random input (a small cap against a large one).
 */
#include "kirim/csv_reader.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/xmalloc.h"

static const char utf8_bom[3] = {'\xEF', '\xBB', '\xBF'};

struct csv_reader {
	struct csv_parser p;
	size_t max_record;
	char delim;                /* the delimiter in use; ',' until sniffing decides */
	int started;               /* BOM and delimiter decided; bytes go straight to libcsv */
	int bom_done;              /* the first bytes were checked for a BOM */
	int sniff;                 /* the delimiter is still to be sniffed */
	struct buf head;           /* input held back until the BOM and delimiter are decided */
	size_t sn_pos;             /* sniffing: bytes of head already scanned */
	int sn_inq;                /* sniffing: 1 in quotes, 2 just after a closing quote */
	int sn_content;            /* sniffing: the current line has content */
	char sn_prev;              /* sniffing: previous byte ('\n' at a line start) */
	unsigned long sn_count[3]; /* sniffing: ',' ';' '\t' outside quotes */

	unsigned long line;     /* physical line of the next byte, 1-based */
	int cr_pending;         /* the last byte seen was a CR: an LF next belongs to it */
	int open;               /* a record has begun and not ended */
	int row_done;           /* set by libcsv's end-of-row callback */
	int too_many;           /* the record passed CSV_READER_MAX_FIELDS */
	int flag_big;           /* csv_reader_flag_big: big records are delivered flagged */
	int skim;               /* the open record passed max_record: skimmed, not kept */
	int sk_state;           /* skimming: enum skim_state */
	int sk_spaces;          /* skimming: blanks after a quote in a quoted field */
	int sk_content;         /* skimming: the record has more than blanks */
	size_t skipped;         /* skimming: the record's bytes not kept in raw */
	unsigned long rec_line; /* line the open record started on */
	struct buf raw;         /* the open record's raw bytes */
	struct buf fbytes;      /* its fields, each followed by a NUL */
	size_t *offs;           /* field i starts at fbytes.data + offs[i] */
	size_t *lens;
	const char **ptrs; /* built at delivery from offs */
	size_t nfields, fcap;

	int err; /* sticky: 0, a CSV_READER_E_* code or a callback's value */
	char errbuf[200];
};

static void set_error(struct csv_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct csv_reader *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->errbuf, sizeof(r->errbuf), fmt, ap);
	va_end(ap);
	r->err = code;
}

/*
 * Where skimming stands, in libcsv's terms: SK_START is ROW_NOT_BEGUN or
 * FIELD_NOT_BEGUN, SK_UNQUOTED and SK_QUOTED are FIELD_BEGUN without and with
 * quotes, SK_QUOTE is FIELD_MIGHT_HAVE_ENDED (a quote seen inside quotes).
 */
enum skim_state { SK_START, SK_UNQUOTED, SK_QUOTED, SK_QUOTE };

/* libcsv with its callbacks' allocator and the delimiter in use, at the start of a record. */
static void
parser_init(struct csv_reader *r)
{
	csv_init(&r->p, CSV_REPALL_NL);
	csv_set_realloc_func(&r->p, xrealloc);
	csv_set_free_func(&r->p, free);
	csv_set_delim(&r->p, (unsigned char)r->delim);
}

/*
 * skim - follow n bytes of a record as libcsv would, keeping nothing; returns 1
 * when a CR or LF outside quotes ends the record (only ever its last byte: the
 * callers hand over line bytes, or a line end's first byte alone).
 */
static int
skim(struct csv_reader *r, const char *s, size_t n)
{
	const char d = r->delim;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		switch (r->sk_state) {
		case SK_START:
			/* A delimiter is a field even when it is a tab, else blanks are skipped. */
			if (c == d) {
				r->sk_content = 1;
				break;
			}
			if (c == ' ' || c == '\t')
				break;
			if (c == '\r' || c == '\n')
				return 1;
			r->sk_content = 1;
			r->sk_state = c == '"' ? SK_QUOTED : SK_UNQUOTED;
			break;
		case SK_UNQUOTED:
			if (c == '\r' || c == '\n')
				return 1;
			if (c == d)
				r->sk_state = SK_START;
			break;
		case SK_QUOTED:
			if (c == '"') {
				r->sk_state = SK_QUOTE;
				r->sk_spaces = 0;
			}
			break;
		case SK_QUOTE:
			if (c == d) {
				r->sk_state = SK_START;
			} else if (c == '\r' || c == '\n') {
				return 1;
			} else if (c == ' ' || c == '\t') {
				r->sk_spaces = 1;
			} else if (c == '"') {
				/* After blanks a quote is literal; else "" was one quote. */
				if (r->sk_spaces)
					r->sk_spaces = 0;
				else
					r->sk_state = SK_QUOTED;
			} else {
				/* Lenient libcsv: text after a closing quote stays quoted. */
				r->sk_state = SK_QUOTED;
			}
			break;
		}
	}
	return 0;
}

/* libcsv's field callback: copy the field; its buffer is reused for the next one. */
static void
on_field(void *s, size_t len, void *arg)
{
	struct csv_reader *r = arg;
	if (r->nfields >= CSV_READER_MAX_FIELDS) {
		r->too_many = 1;
		return;
	}
	if (r->nfields == r->fcap) {
		r->fcap = r->fcap ? r->fcap * 2 : 16;
		r->offs = xrealloc(r->offs, r->fcap * sizeof(*r->offs));
		r->lens = xrealloc(r->lens, r->fcap * sizeof(*r->lens));
		r->ptrs = xrealloc(r->ptrs, r->fcap * sizeof(*r->ptrs));
	}
	r->offs[r->nfields] = r->fbytes.len;
	r->lens[r->nfields] = len;
	r->nfields++;
	buf_reserve(&r->fbytes, len + 1);
	if (len)
		memcpy(r->fbytes.data + r->fbytes.len, s, len);
	r->fbytes.len += len;
	r->fbytes.data[r->fbytes.len++] = '\0';
}

/* libcsv's end-of-row callback. */
static void
on_row(int c, void *arg)
{
	struct csv_reader *r = arg;
	(void)c;
	r->row_done = 1;
}

static int
too_big(struct csv_reader *r)
{
	set_error(r, CSV_READER_E_TOO_BIG, "record starting on line %lu is larger than %zu bytes%s",
	          r->rec_line, r->max_record,
	          r->line > r->rec_line ? " (unterminated quote?)" : "");
	return r->err;
}

/* Give bytes to libcsv and check what it said. */
static int
parse(struct csv_reader *r, const char *s, size_t n)
{
	/*
	 * libcsv grows its field buffer by blk_size at a time; make the step at
	 * least as large as the buffer and the bytes at hand so growth stays
	 * geometric instead of 128 bytes per realloc on long fields.
	 */
	size_t blk = csv_get_buffer_size(&r->p);
	if (blk < n)
		blk = n;
	csv_set_blk_size(&r->p, blk < 128 ? 128 : blk);
	if (csv_parse(&r->p, s, n, on_field, on_row, r) != n) {
		set_error(r, CSV_READER_E_MALFORMED, "record starting on line %lu: %s", r->rec_line,
		          csv_strerror(csv_error(&r->p)));
		return r->err;
	}
	if (r->too_many && !r->flag_big) {
		set_error(r, CSV_READER_E_TOO_BIG,
		          "record starting on line %lu has more than %d fields", r->rec_line,
		          CSV_READER_MAX_FIELDS);
		return r->err;
	}
	return 0;
}

/*
 * The open record passes max_record with the n bytes at s, which are neither kept
 * nor parsed yet. Without flag_big that stops the reader. Otherwise raw keeps what
 * fits of them, and the record is skimmed from here on: first its raw bytes so far
 * (to learn where libcsv stands), then s. None of this can end the record: s is
 * line bytes, or a line end libcsv took as data.
 */
static int
overflow(struct csv_reader *r, const char *s, size_t n)
{
	if (!r->flag_big)
		return too_big(r);
	size_t kept = r->raw.len, keep = r->max_record - kept;
	r->skim = 1;
	r->sk_state = SK_START;
	r->sk_spaces = 0;
	r->sk_content = 0;
	(void)skim(r, r->raw.data, kept);
	buf_add(&r->raw, s, keep);
	r->skipped = n - keep;
	(void)skim(r, s, n);
	return 0;
}

/* Bytes of one line, without any CR or LF. */
static int
add_bytes(struct csv_reader *r, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (!r->open) {
		r->open = 1;
		r->rec_line = r->line;
		r->raw.len = 0;
		r->fbytes.len = 0;
		r->nfields = 0;
		r->too_many = 0;
		r->skipped = 0;
	}
	if (r->skim) {
		r->skipped += n;
		(void)skim(r, s, n);
		return 0;
	}
	if (n > r->max_record - r->raw.len)
		return overflow(r, s, n);
	buf_add(&r->raw, s, n);
	return parse(r, s, n);
}

/*
 * Hand a completed record (its last byte on line last) to the callback; records of
 * no field (blank lines) are skipped. A record over the cap goes without fields.
 */
static int
deliver(struct csv_reader *r, unsigned flags, unsigned long last, csv_reader_row_cb cb, void *arg)
{
	r->open = 0;
	r->row_done = 0;
	if (r->nfields == 0 && !(flags & CSV_ROW_TOO_BIG))
		return 0;
	if (flags & CSV_ROW_TOO_BIG)
		r->nfields = 0;
	if (r->too_many)
		flags |= CSV_ROW_TOO_MANY_FIELDS;
	for (size_t i = 0; i < r->nfields; i++)
		r->ptrs[i] = r->fbytes.data + r->offs[i];
	struct csv_row row = {
	    .nfields = r->nfields,
	    .fields = r->ptrs,
	    .lens = r->lens,
	    .line = r->rec_line,
	    .last_line = last,
	    .raw = r->raw.data,
	    .raw_len = r->raw.len,
	    .size = r->raw.len + r->skipped,
	    .flags = flags,
	};
	int rc = cb(arg, &row);
	if (rc != 0) {
		set_error(r, rc, "stopped by the caller at the record starting on line %lu (%d)",
		          r->rec_line, rc);
		return rc;
	}
	return 0;
}

/*
 * The end of a skimmed record (last: its last line): libcsv, which saw only its
 * start, begins afresh; a record of blanks only is a blank line, as libcsv has it.
 */
static int
deliver_big(struct csv_reader *r, unsigned flags, unsigned long last, csv_reader_row_cb cb,
            void *arg)
{
	r->skim = 0;
	csv_free(&r->p);
	parser_init(r);
	if (!r->sk_content) {
		r->open = 0;
		return 0;
	}
	return deliver(r, flags | CSV_ROW_TOO_BIG, last, cb, arg);
}

/*
 * A line end (t: "\r", "\n" or "\r\n"). Outside a record it is a blank line.
 * Otherwise libcsv gets its first byte: either the record ends there, or the
 * line end is inside a quoted field and belongs to the field and the raw bytes.
 */
static int
end_line(struct csv_reader *r, const char *t, size_t tlen, csv_reader_row_cb cb, void *arg)
{
	if (!r->open)
		return 0;
	/* r->line already counts this line end: the record's last line is the one before. */
	if (r->skim) {
		if (skim(r, t, 1))
			return deliver_big(r, 0, r->line - 1, cb, arg);
		r->skipped += tlen;
		(void)skim(r, t + 1, tlen - 1);
		return 0;
	}
	int rc = parse(r, t, 1);
	if (rc)
		return rc;
	if (r->row_done)
		return deliver(r, 0, r->line - 1, cb, arg);
	if (tlen > r->max_record - r->raw.len)
		return overflow(r, t, tlen);
	buf_add(&r->raw, t, tlen);
	return tlen > 1 ? parse(r, t + 1, tlen - 1) : 0;
}

/* Input after the BOM and delimiter are settled: cut it into lines. */
static int
process(struct csv_reader *r, const char *p, size_t n, csv_reader_row_cb cb, void *arg)
{
	if (n == 0)
		return 0;
	const char *end = p + n;
	int rc;

	if (r->cr_pending && p < end) {
		r->cr_pending = 0;
		/* The LF of a CRLF that was split across two feeds. */
		if (*p == '\n') {
			p++;
			if (r->skim) {
				r->skipped++;
				(void)skim(r, "\n", 1);
			} else if (r->open && r->raw.len >= r->max_record) {
				if ((rc = overflow(r, "\n", 1)))
					return rc;
			} else if (r->open) {
				buf_addc(&r->raw, '\n');
				if ((rc = parse(r, "\n", 1)))
					return rc;
			}
		}
	}

	/* Next LF and CR at or after p; end when there is none left in this chunk. */
	const char *lf = p, *cr = p;
	int lf_stale = 1, cr_stale = 1;
	while (p < end) {
		if (lf_stale) {
			lf = memchr(p, '\n', (size_t)(end - p));
			lf = lf ? lf : end;
			lf_stale = 0;
		}
		if (cr_stale) {
			cr = memchr(p, '\r', (size_t)(end - p));
			cr = cr ? cr : end;
			cr_stale = 0;
		}
		const char *eol = lf < cr ? lf : cr;
		if ((rc = add_bytes(r, p, (size_t)(eol - p))))
			return rc;
		if (eol == end)
			break;
		size_t tlen = 1;
		if (*eol == '\r') {
			if (eol + 1 == end)
				r->cr_pending = 1;
			else if (eol[1] == '\n')
				tlen = 2;
		}
		r->line++;
		if ((rc = end_line(r, eol, tlen, cb, arg)))
			return rc;
		p = eol + tlen;
		lf_stale = lf < p && lf != end;
		cr_stale = cr < p && cr != end;
	}
	return 0;
}

static void
sniff_decide(struct csv_reader *r)
{
	static const char cand[3] = {',', ';', '\t'};
	unsigned long *k = r->sn_count;
	r->delim = ',';
	for (int i = 0; i < 3; i++)
		if (k[i] > k[(i + 1) % 3] && k[i] > k[(i + 2) % 3])
			r->delim = cand[i];
	r->sniff = 0;
}

/*
 * Sniffing: look at bytes up to the end of the first non-blank line, counting
 * candidate delimiters outside quotes. A quote opens a quoted field only at a
 * field start, so a stray quote inside a value does not hide the rest of the line.
 * Returns how many bytes of s belong to the head (all of them unless the line ended).
 */
static size_t
sniff_scan(struct csv_reader *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		char prev = r->sn_prev;
		r->sn_prev = c;
		if (r->sn_inq == 1) {
			if (c == '"')
				r->sn_inq = 2;
			continue;
		}
		int closed = r->sn_inq == 2;
		r->sn_inq = 0;
		if (c == '"') {
			/* A doubled quote inside quotes, or an opening quote at a field start. */
			if (closed || prev == '\n' || prev == ',' || prev == ';' || prev == '\t')
				r->sn_inq = 1;
			r->sn_content = 1;
		} else if (c == '\r' || c == '\n') {
			r->sn_prev = '\n';
			if (r->sn_content) {
				sniff_decide(r);
				return i + 1;
			}
		} else {
			r->sn_content = 1;
			if (c == ',')
				r->sn_count[0]++;
			else if (c == ';')
				r->sn_count[1]++;
			else if (c == '\t')
				r->sn_count[2]++;
		}
	}
	return n;
}

/* Settle the BOM and delimiter and let the held-back bytes through. */
static int
start(struct csv_reader *r, csv_reader_row_cb cb, void *arg)
{
	struct buf head = r->head;
	if (r->sniff) {
		if (r->sn_pos < head.len)
			sniff_scan(r, head.data + r->sn_pos, head.len - r->sn_pos);
		sniff_decide(r);
	}
	csv_set_delim(&r->p, (unsigned char)r->delim);
	r->started = 1;
	r->head = (struct buf)BUF_INIT;
	int rc = process(r, head.data, head.len, cb, arg);
	buf_free(&head);
	return rc;
}

struct csv_reader *
csv_reader_new(char delim, size_t max_record)
{
	struct csv_reader *r = xcalloc(1, sizeof(*r));
	r->max_record = max_record ? max_record : CSV_READER_MAX_RECORD;
	r->sniff = delim == 0;
	r->delim = delim ? delim : ',';
	parser_init(r);
	r->line = 1;
	r->sn_prev = '\n';
	r->head = (struct buf)BUF_INIT;
	r->raw = (struct buf)BUF_INIT;
	r->fbytes = (struct buf)BUF_INIT;
	return r;
}

void
csv_reader_flag_big(struct csv_reader *r)
{
	r->flag_big = 1;
}

void
csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	buf_free(&r->head);
	buf_free(&r->raw);
	buf_free(&r->fbytes);
	free(r->offs);
	free(r->lens);
	free(r->ptrs);
	free(r);
}

int
csv_reader_feed(struct csv_reader *r, const char *data, size_t n, csv_reader_row_cb cb, void *arg)
{
	if (r->err)
		return r->err;
	if (n == 0)
		return 0;
	if (!r->started) {
		/* The BOM: hold bytes while they are a proper prefix of it. */
		while (!r->bom_done && n > 0) {
			buf_addc(&r->head, *data++);
			n--;
			if (memcmp(r->head.data, utf8_bom, r->head.len) != 0)
				r->bom_done = 1;
			else if (r->head.len == sizeof(utf8_bom))
				r->bom_done = 1, r->head.len = 0;
		}
		if (!r->bom_done)
			return 0;
		if (r->sniff) {
			/* Bytes held for the BOM check that were not one come first. */
			if (r->sn_pos < r->head.len)
				r->sn_pos += sniff_scan(r, r->head.data + r->sn_pos,
				                        r->head.len - r->sn_pos);
			/*
			 * Look no further than max_record bytes and a line end, so
			 * the outcome does not depend on how the input was cut.
			 */
			size_t room =
			    r->head.len <= r->max_record ? r->max_record - r->head.len + 1 : 0;
			size_t k = r->sniff ? sniff_scan(r, data, n < room ? n : room) : 0;
			/* Still no line end: the held bytes are all one record so far. */
			if (r->sniff && r->head.len + k > r->max_record) {
				set_error(r, CSV_READER_E_TOO_BIG,
				          "the first line is larger than %zu bytes "
				          "(no line end to sniff the delimiter from)",
				          r->max_record);
				return r->err;
			}
			buf_add(&r->head, data, k);
			r->sn_pos = r->head.len;
			data += k;
			n -= k;
			if (r->sniff)
				return 0;
		}
		int rc = start(r, cb, arg);
		if (rc)
			return rc;
	}
	return process(r, data, n, cb, arg);
}

int
csv_reader_finish(struct csv_reader *r, csv_reader_row_cb cb, void *arg)
{
	if (r->err)
		return r->err;
	int rc;
	if (!r->started && (rc = start(r, cb, arg)))
		return rc;
	r->cr_pending = 0;
	if (!r->open)
		return 0;
	if (r->skim)
		return deliver_big(r, r->sk_state == SK_QUOTED ? CSV_ROW_UNTERMINATED : 0, r->line,
		                   cb, arg);
	/*
	 * Lenient libcsv takes an open quote at the end as the end of the field;
	 * strict csv_fini with CSV_STRICT_FINI refuses exactly that case without
	 * touching the parser, so it serves as the test for an unterminated quote.
	 */
	unsigned flags = 0;
	csv_set_opts(&r->p, CSV_REPALL_NL | CSV_STRICT | CSV_STRICT_FINI);
	if (csv_fini(&r->p, on_field, on_row, r) != 0)
		flags |= CSV_ROW_UNTERMINATED;
	csv_set_opts(&r->p, CSV_REPALL_NL);
	if (flags && csv_fini(&r->p, on_field, on_row, r) != 0) {
		set_error(r, CSV_READER_E_MALFORMED, "record starting on line %lu: %s", r->rec_line,
		          csv_strerror(csv_error(&r->p)));
		return r->err;
	}
	if (r->too_many && !r->flag_big) {
		set_error(r, CSV_READER_E_TOO_BIG,
		          "record starting on line %lu has more than %d fields", r->rec_line,
		          CSV_READER_MAX_FIELDS);
		return r->err;
	}
	return deliver(r, flags, r->line, cb, arg);
}

char
csv_reader_delimiter(const struct csv_reader *r)
{
	return r->delim;
}

unsigned long
csv_reader_line(const struct csv_reader *r)
{
	return r->line;
}

const char *
csv_reader_error(const struct csv_reader *r)
{
	return r->err ? r->errbuf : "no error";
}
