/*
 * importer - CSV recipient lists into the store (see importer.h).
 *
 * One pass, one transaction. The first record is the header; the address
 * column is found by name (or given), every other column becomes an attribute.
 * Empty cells are not stored, so a template's default applies to them and
 * --update never blanks a value that a file leaves empty.
 */
#include "kirim/importer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/clock.h"
#include "kirim/csv_reader.h"
#include "kirim/store.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* Header names taken for the address column, compared case-insensitively. */
static const char *const email_names[] = {
    "email",         "e-mail", "email_address", "email address", "emailaddress", "e-mail address",
    "email-address", "e_mail", "mail",          "email_addr",    "address",      NULL,
};

/* Reasons of the importer's own (address_parse supplies the rest). */
static const char R_UTF8[] = "invalid UTF-8";
static const char R_EXTRA[] = "more fields than the header";
static const char R_NOADDR[] = "missing address";
static const char R_UNTERMINATED[] = "unterminated quoted field";
static const char R_NUL[] = "NUL byte in a value";

enum { IMPORTER_CHUNK = 256 * 1024, IMPORTER_PROGRESS_EVERY = 4096 };

struct importer {
	struct store *store;
	const struct importer_opts *o;
	struct importer_stats *st;
	FILE *rejects;
	bool have_header;
	size_t ncols;
	size_t email_col;
	char **keys; /* per column: the JSON-quoted key followed by ':' */
	size_t *keylens;
	bool has_suppressions;
	struct buf attrs;
	struct buf conv; /* Latin-1 conversions of the current row */
	struct buf detail;
	struct importer_progress prog;
	char *err;
	size_t errsz;
	int failure; /* negative code that stopped the run */
};

static int importer_fail(struct importer *im, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
importer_fail(struct importer *im, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(im->err, im->errsz, fmt, ap);
	va_end(ap);
	im->failure = code;
	return code;
}

static void
importer_count_reason(struct importer_stats *st, const char *reason)
{
	st->rejected++;
	for (size_t i = 0; i < st->nreasons; i++) {
		if (strcmp(st->reasons[i].reason, reason) == 0) {
			st->reasons[i].count++;
			return;
		}
	}
	if (st->nreasons == IMPORTER_MAX_REASONS)
		reason = "other";
	if (st->nreasons < IMPORTER_MAX_REASONS) {
		st->reasons[st->nreasons].reason = reason;
		st->reasons[st->nreasons].count = 1;
		st->nreasons++;
	}
}

/* importer_csv_field - write one CSV field, quoted (RFC 4180) */
static void
importer_csv_field(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

static int
importer_reject(struct importer *im, const struct csv_row *row, const char *reason,
                const char *detail)
{
	importer_count_reason(im->st, reason);
	if (im->rejects == NULL)
		return 0;
	fprintf(im->rejects, "%lu,", row->line);
	importer_csv_field(im->rejects, row->raw, row->raw_len);
	fputc(',', im->rejects);
	importer_csv_field(im->rejects, detail ? detail : reason, strlen(detail ? detail : reason));
	fputs("\r\n", im->rejects);
	if (ferror(im->rejects))
		return importer_fail(im, IMPORTER_E_IO, "cannot write the rejects file %s: %s",
		                     im->o->rejects, strerror(errno));
	return 0;
}

/* importer_value - the row's field i as UTF-8 (converted from Latin-1 if asked); NULL if invalid */
static const char *
importer_value(struct importer *im, const struct csv_row *row, size_t i, size_t *len)
{
	const char *v = row->fields[i];
	size_t n = row->lens[i];
	if (im->o->encoding == IMPORTER_LATIN1) {
		size_t at = im->conv.len;
		utf8_from_latin1(&im->conv, v, n);
		/* conv may move as it grows: hand out an offset-stable copy per call */
		*len = im->conv.len - at;
		return im->conv.data + at;
	}
	if (!utf8_valid(v, n))
		return NULL;
	*len = n;
	return v;
}

static bool
importer_blank(const struct csv_row *row)
{
	for (size_t i = 0; i < row->nfields; i++)
		for (size_t k = 0; k < row->lens[i]; k++)
			if (row->fields[i][k] != ' ' && row->fields[i][k] != '\t')
				return false;
	return true;
}

static int
importer_header(struct importer *im, const struct csv_row *row)
{
	struct importer_stats *st = im->st;
	im->ncols = row->nfields;
	im->keys = xcalloc(row->nfields, sizeof(*im->keys));
	im->keylens = xcalloc(row->nfields, sizeof(*im->keylens));
	im->email_col = (size_t)-1;
	struct buf name = BUF_INIT, key = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < row->nfields && rc == 0; i++) {
		buf_reset(&name);
		size_t n = 0;
		const char *v = importer_value(im, row, i, &n);
		if (v == NULL) {
			rc = importer_fail(
			    im, IMPORTER_E_DATA,
			    "the header (line %lu) is not valid UTF-8: if the file is "
			    "Latin-1, give --encoding latin1",
			    row->line);
			break;
		}
		while (n && (*v == ' ' || *v == '\t'))
			v++, n--;
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n == 0)
			buf_printf(&name, "column_%zu", i + 1);
		else
			buf_add(&name, v, n);
		if (memchr(name.data, '\0', name.len)) {
			rc = importer_fail(im, IMPORTER_E_DATA,
			                   "column %zu's name holds a NUL byte", i + 1);
			break;
		}
		buf_reset(&key);
		buf_json_string(&key, name.data, name.len);
		for (size_t k = 0; k < i; k++) {
			if (im->keylens[k] == key.len + 1 &&
			    memcmp(im->keys[k], key.data, key.len) == 0)
				rc = importer_fail(im, IMPORTER_E_DATA,
				                   "column '%s' appears twice in the header",
				                   name.data);
		}
		buf_addc(&key, ':');
		im->keys[i] = xstrndup(key.data, key.len);
		im->keylens[i] = key.len;
		bool match = false;
		if (im->o->email_column) {
			match = strcasecmp(name.data, im->o->email_column) == 0;
		} else {
			for (const char *const *e = email_names; *e && !match; e++)
				match = strcasecmp(name.data, *e) == 0;
		}
		if (match && im->email_col == (size_t)-1) {
			im->email_col = i;
			snprintf(st->email_column, sizeof(st->email_column), "%s", name.data);
		}
	}
	if (rc == 0 && im->email_col == (size_t)-1) {
		buf_reset(&name);
		for (size_t i = 0; i < im->ncols; i++) {
			/* keys hold the JSON form; show it without the trailing ':' */
			buf_printf(&name, "%s%.*s", i ? ", " : "", (int)im->keylens[i] - 1,
			           im->keys[i]);
		}
		if (im->o->email_column)
			rc = importer_fail(im, IMPORTER_E_DATA,
			                   "no column named '%s' in the header (columns: %s)",
			                   im->o->email_column, name.data);
		else
			rc = importer_fail(im, IMPORTER_E_DATA,
			                   "no address column in the header (columns: %s): name it "
			                   "'email' or give --email-column NAME",
			                   name.data);
	}
	st->columns = im->ncols;
	buf_free(&name);
	buf_free(&key);
	im->have_header = true;
	return rc;
}

static int
importer_store_failed(struct importer *im, int rc)
{
	if (rc == STORE_E_BUSY)
		return importer_fail(im, IMPORTER_E_STORE,
		                     "the database is busy (another kirim is writing): %s",
		                     store_errmsg(im->store));
	return importer_fail(im, IMPORTER_E_STORE, "database error: %s", store_errmsg(im->store));
}

static int
importer_row(void *arg, const struct csv_row *row)
{
	struct importer *im = arg;
	struct importer_stats *st = im->st;
	const struct importer_opts *o = im->o;
	int rc;

	if (o->interrupted && *o->interrupted)
		return importer_fail(im, IMPORTER_E_INTERRUPTED, "interrupted");
	im->prog.rows++;
	if (o->progress && im->prog.rows % IMPORTER_PROGRESS_EVERY == 0)
		o->progress(o->progress_arg, &im->prog);
	if (!im->have_header)
		return importer_header(im, row);
	if (importer_blank(row)) {
		st->blank++;
		return 0;
	}
	st->read++;
	if (row->flags & CSV_ROW_UNTERMINATED)
		return importer_reject(im, row, R_UNTERMINATED, NULL);
	if (row->nfields > im->ncols) {
		for (size_t i = im->ncols; i < row->nfields; i++) {
			if (row->lens[i] != 0) {
				buf_reset(&im->detail);
				buf_printf(&im->detail, "%s (%zu fields, the header has %zu)",
				           R_EXTRA, row->nfields, im->ncols);
				return importer_reject(im, row, R_EXTRA, im->detail.data);
			}
		}
	}
	if (im->email_col >= row->nfields || row->lens[im->email_col] == 0)
		return importer_reject(im, row, R_NOADDR, NULL);

	buf_reset(&im->conv);
	buf_reset(&im->attrs);
	/* Latin-1 conversion appends to conv, which may move: reserve the worst case first. */
	if (o->encoding == IMPORTER_LATIN1)
		buf_reserve(&im->conv, row->raw_len * 2 + 16);
	buf_addc(&im->attrs, '{');
	size_t ncols = row->nfields < im->ncols ? row->nfields : im->ncols;
	const char *email = NULL;
	size_t email_len = 0;
	for (size_t i = 0; i < ncols; i++) {
		size_t n;
		const char *v = importer_value(im, row, i, &n);
		if (v == NULL) {
			buf_reset(&im->detail);
			/* keys[i] is "name": show it between single quotes instead */
			buf_printf(&im->detail, "%s in column '%.*s'", R_UTF8,
			           (int)im->keylens[i] - 3, im->keys[i] + 1);
			return importer_reject(im, row, R_UTF8, im->detail.data);
		}
		if (i == im->email_col) {
			/* address_parse refuses a NUL there, as a control character. */
			email = v;
			email_len = n;
			continue;
		}
		/*
		 * A NUL would be stored as \u0000 in the attributes JSON, which the
		 * composer's parser refuses: the contact could never be mailed, so the
		 * row is refused here, where the file can still be fixed. Other control
		 * bytes are kept as data, like CR and LF: they are valid JSON, templates
		 * render them, MIME writes them as blanks in headers, and RFC 5322
		 * allows them in a body.
		 */
		if (memchr(v, '\0', n)) {
			buf_reset(&im->detail);
			/* keys[i] is the JSON-quoted name and a ':' */
			buf_printf(&im->detail, "column %.*s: contains a NUL byte",
			           (int)im->keylens[i] - 1, im->keys[i]);
			return importer_reject(im, row, R_NUL, im->detail.data);
		}
		if (n == 0)
			continue;
		if (im->attrs.len > 1)
			buf_addc(&im->attrs, ',');
		buf_add(&im->attrs, im->keys[i], im->keylens[i]);
		buf_json_string(&im->attrs, v, n);
	}
	buf_addc(&im->attrs, '}');

	struct address a;
	const char *reason = NULL;
	unsigned aflags = o->allow_ip_literals ? ADDRESS_ALLOW_IP_LITERAL : 0;
	if (address_parse(email, email_len, aflags, &a, &reason) < 0) {
		buf_reset(&im->detail);
		buf_printf(&im->detail, "%s: ", reason);
		for (size_t i = 0; i < email_len && im->detail.len < 300; i++) {
			unsigned char c = (unsigned char)email[i];
			if (c < 0x20 || c == 0x7f)
				buf_printf(&im->detail, "\\x%02x", c);
			else
				buf_addc(&im->detail, (char)c);
		}
		return importer_reject(im, row, reason, im->detail.data);
	}

	unsigned f = 0;
	rc = store_import_row(im->store, st->list_id, st->import_id, &a, im->attrs.data,
	                      im->attrs.len, o->update, &f);
	if (rc < 0)
		return importer_store_failed(im, rc);
	if (f & STORE_ROW_DUPLICATE) {
		st->duplicates++;
		return 0;
	}
	if (f & STORE_ROW_NEW_CONTACT)
		st->imported++;
	else if (f & STORE_ROW_NEW_MEMBER)
		st->added++;
	else
		st->existing++;
	if (f & STORE_ROW_UPDATED)
		st->updated++;
	if (im->has_suppressions && (f & STORE_ROW_NEW_MEMBER)) {
		char why[16];
		if ((rc = store_suppressed(im->store, a.key, a.domain, why)) < 0)
			return importer_store_failed(im, rc);
		if (why[0])
			st->suppressed++;
	}
	return 0;
}

static void
importer_cleanup(struct importer *im)
{
	for (size_t i = 0; i < im->ncols; i++)
		free(im->keys[i]);
	free(im->keys);
	free(im->keylens);
	buf_free(&im->attrs);
	buf_free(&im->conv);
	buf_free(&im->detail);
}

void
importer_summary_json(const struct importer_stats *st, struct buf *out)
{
	buf_printf(out,
	           "{\"read\":%llu,\"imported\":%llu,\"added\":%llu,\"updated\":%llu,"
	           "\"existing\":%llu,\"duplicates\":%llu,\"suppressed\":%llu,\"rejected\":%llu,"
	           "\"blank\":%llu,\"reasons\":{",
	           (unsigned long long)st->read, (unsigned long long)st->imported,
	           (unsigned long long)st->added, (unsigned long long)st->updated,
	           (unsigned long long)st->existing, (unsigned long long)st->duplicates,
	           (unsigned long long)st->suppressed, (unsigned long long)st->rejected,
	           (unsigned long long)st->blank);
	for (size_t i = 0; i < st->nreasons; i++) {
		if (i)
			buf_addc(out, ',');
		buf_json_string(out, st->reasons[i].reason, strlen(st->reasons[i].reason));
		buf_printf(out, ":%llu", (unsigned long long)st->reasons[i].count);
	}
	buf_adds(out, "},\"email_column\":");
	buf_json_string(out, st->email_column, strlen(st->email_column));
	char d[2] = {st->delimiter, 0};
	buf_adds(out, ",\"delimiter\":");
	buf_json_string(out, d, 1);
	buf_printf(out, ",\"columns\":%zu,\"list_created\":%s,\"seconds\":%.3f}", st->columns,
	           st->list_created ? "true" : "false", st->seconds);
}

/* importer_read - stream the input through the CSV reader into importer_row */
static int
importer_read(struct importer *im, FILE *in, struct csv_reader *r)
{
	char *chunk = xmalloc(IMPORTER_CHUNK);
	int rc = 0;
	for (;;) {
		size_t n = fread(chunk, 1, IMPORTER_CHUNK, in);
		if (n > 0) {
			im->prog.bytes += n;
			rc = csv_reader_feed(r, chunk, n, importer_row, im);
			if (rc != 0)
				break;
		}
		if (n < IMPORTER_CHUNK) {
			if (ferror(in)) {
				rc = importer_fail(im, IMPORTER_E_IO, "cannot read %s: %s",
				                   im->o->path, strerror(errno));
				break;
			}
			if (feof(in)) {
				rc = csv_reader_finish(r, importer_row, im);
				break;
			}
		}
		if (im->o->interrupted && *im->o->interrupted) {
			rc = importer_fail(im, IMPORTER_E_INTERRUPTED, "interrupted");
			break;
		}
	}
	free(chunk);
	/* A code from importer_row is in im->failure; anything else is the reader's own. */
	if (rc != 0 && im->failure)
		return im->failure;
	if (rc != 0)
		rc = importer_fail(im, IMPORTER_E_DATA, "%s", csv_reader_error(r));
	return rc;
}

int
importer_run(struct store *s, const struct importer_opts *o, struct importer_stats *stats,
             char *err, size_t errsz)
{
	struct importer im = {.store = s, .o = o, .st = stats, .err = err, .errsz = errsz};
	double t0 = clock_seconds();
	FILE *in = NULL;
	int rc;

	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	if (o->delimiter && o->delimiter != ',' && o->delimiter != ';' && o->delimiter != '\t') {
		snprintf(err, errsz, "the delimiter must be ',', ';' or a tab");
		return IMPORTER_E_USAGE;
	}
	if (strcmp(o->path, "-") == 0) {
		in = stdin;
	} else if ((in = fopen(o->path, "rb")) == NULL) {
		snprintf(err, errsz, "cannot open %s: %s", o->path, strerror(errno));
		return IMPORTER_E_NOINPUT;
	}
	struct stat sb;
	if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		im.prog.size = (uint64_t)sb.st_size;
	if (o->rejects && (im.rejects = fopen(o->rejects, "wb")) == NULL) {
		snprintf(err, errsz, "cannot create the rejects file %s: %s", o->rejects,
		         strerror(errno));
		rc = IMPORTER_E_IO;
		goto out;
	}
	if (im.rejects)
		fputs("line,row,reason\r\n", im.rejects);

	/* Bulk work: a larger page cache keeps the address index in memory. */
	store_bulk(s, true);
	if ((rc = store_begin(s)) < 0) {
		rc = importer_store_failed(&im, rc);
		goto out;
	}
	int64_t nsup = 0;
	if ((rc = store_suppress_count(s, &nsup)) < 0 ||
	    (rc = store_list_ensure(s, o->list, &stats->list_id, &stats->list_created)) < 0 ||
	    (rc = store_import_start(s, stats->list_id, o->path, &stats->import_id)) < 0) {
		rc = importer_store_failed(&im, rc);
		goto rollback;
	}
	im.has_suppressions = nsup > 0;

	struct csv_reader *r = csv_reader_new(o->delimiter, 0);
	rc = importer_read(&im, in, r);
	stats->delimiter = csv_reader_delimiter(r);
	csv_reader_free(r);
	if (rc == 0 && !im.have_header)
		rc = importer_fail(&im, IMPORTER_E_DATA, "%s is empty: a header row is required",
		                   o->path);
	if (rc == 0 && im.rejects && fflush(im.rejects) != 0)
		rc = importer_fail(&im, IMPORTER_E_IO, "cannot write the rejects file %s: %s",
		                   o->rejects, strerror(errno));
	if (rc < 0)
		goto rollback;

	stats->seconds = clock_seconds() - t0;
	struct buf summary = BUF_INIT;
	importer_summary_json(stats, &summary);
	rc = store_import_finish(s, stats->import_id, summary.data);
	buf_free(&summary);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		rc = importer_store_failed(&im, rc);
		goto rollback;
	}
	if (o->progress) {
		im.prog.size = im.prog.size ? im.prog.size : im.prog.bytes;
		o->progress(o->progress_arg, &im.prog);
	}
	goto out;

rollback:
	store_rollback(s);
out:
	importer_cleanup(&im);
	if (im.rejects)
		fclose(im.rejects);
	if (in && in != stdin)
		fclose(in);
	store_bulk(s, false);
	return rc;
}
