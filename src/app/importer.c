/*
 * importer - CSV recipient lists into the store (see importer.h).
 *
 * One pass, one transaction. The first record is the header; the address
 * column is found by name (or given), every other column becomes an attribute.
 * Empty cells are not stored, so a template's default applies to them and
 * --update never blanks a value that a file leaves empty.
 *
 * Another encoding is converted to UTF-8 before the CSV reader, chunk by chunk
 * (encoding.c), so the reader, the checks and the store see UTF-8 only; a byte
 * the encoding lacks arrives as a mark, which the UTF-8 check refuses, row by
 * row. The sample check (importer_sample) runs on the first chunk before the
 * transaction begins, so a file in the wrong encoding leaves nothing behind.
 */
#include "kirim/importer.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "kirim/address.h"
#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/clock.h"
#include "kirim/contacts.h"
#include "kirim/csv_reader.h"
#include "kirim/encoding.h"
#include "kirim/store.h"
#include "kirim/store_import.h"
#include "kirim/strmap.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* Header names taken for the address column, compared case-insensitively. */
static const char *const email_names[] = {
    "email",         "e-mail", "email_address", "email address", "emailaddress", "e-mail address",
    "email-address", "e_mail", "mail",          "email_addr",    "address",      NULL,
};

/* importer_unknown_encoding - err says label is not an encoding; IMPORTER_E_USAGE */
static int
importer_unknown_encoding(const char *label, char *err, size_t errsz)
{
	snprintf(err, errsz,
	         "unknown encoding '%s': give utf-8, windows-1252 (or latin1), iso-8859-15, "
	         "utf-16, shift_jis, gb18030, or another name iconv knows (iconv -l)",
	         label);
	return IMPORTER_E_USAGE;
}

/* importer_email_name - is name one of email_names? */
static bool
importer_email_name(const char *name)
{
	for (const char *const *e = email_names; *e; e++)
		if (strcasecmp(name, *e) == 0)
			return true;
	return false;
}

/* Reasons of the importer's own (address_parse supplies the rest). */
static const char R_UTF8[] = "invalid UTF-8";
static const char R_BADBYTE[] = "byte not in the encoding";
static const char R_TOO_BIG[] = "record larger than 1 MiB";
static const char R_TOO_MANY[] = "more than 4096 fields";
static const char R_EXTRA[] = "more fields than the header";
static const char R_NOADDR[] = "missing address";
static const char R_UNTERMINATED[] = "unterminated quoted field";
static const char R_NUL[] = "NUL byte in a value";
static const char R_ERASED[] = "erased address (never imported again)";
static const char R_TAG[] = "not a tag";

/* What a column is for (importer_opts' mapping). */
enum importer_role { ROLE_ATTR, ROLE_EMAIL, ROLE_IGNORE, ROLE_TAGS };
enum { IMPORTER_ROW_TAGS = 64 }; /* tags in one cell */

enum {
	IMPORTER_CHUNK = 256 * 1024,
	IMPORTER_PROGRESS_EVERY = 4096,
	IMPORTER_SAMPLE_BYTES = 64 * 1024, /* the sample checked before anything is written */
	IMPORTER_SAMPLE_ROWS = 1000,
};

/* New members of one domain, and how many of them are suppressed. */
struct importer_count {
	int64_t members, suppressed;
};

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
	enum importer_role *role; /* per column */
	/* --map's pairs, parsed (owned: one copy of the text, cut in place) */
	char *maptext;
	const char **map_from, **map_to;
	size_t nmap;
	bool *used; /* per --map pair, then per --ignore-column, then the tags column */
	size_t tags_col;
	bool has_suppressions;
	struct encoding *enc;        /* the input's encoding; NULL: UTF-8 */
	struct encoding_guess guess; /* from the sample when it had bad rows; name NULL: none */
	struct buf text;             /* a chunk converted to UTF-8 */
	struct buf shown;            /* a rejected row's raw bytes, marks written as \xHH */
	struct buf attrs;
	struct buf known; /* a known contact's stored attributes */
	struct buf detail;
	/* The run's new members per domain (struct importer_count), for the list's kept
	 * counts: written once at the end (store_import_counted), the store's per-row
	 * trigger being off in bulk mode (schema 017). */
	struct strmap domains;
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
	if (im->enc) {
		/* Converted rows are UTF-8: the rejects file stays one encoding. */
		buf_reset(&im->shown);
		encoding_unmark(&im->shown, row->raw, row->raw_len);
		importer_csv_field(im->rejects, im->shown.data, im->shown.len);
	} else {
		importer_csv_field(im->rejects, row->raw, row->raw_len);
	}
	fputc(',', im->rejects);
	importer_csv_field(im->rejects, detail ? detail : reason, strlen(detail ? detail : reason));
	fputs("\r\n", im->rejects);
	if (ferror(im->rejects))
		return importer_fail(im, IMPORTER_E_IO, "cannot write the rejects file %s: %s",
		                     im->o->rejects, strerror(errno));
	return 0;
}

/* importer_value - the row's field i, UTF-8 already; NULL if it is not valid (or holds a mark) */
static const char *
importer_value(const struct csv_row *row, size_t i, size_t *len)
{
	const char *v = row->fields[i];
	size_t n = row->lens[i];
	if (!utf8_valid(v, n))
		return NULL;
	*len = n;
	return v;
}

/* importer_hint - append sentences on what the sample suggests: the encoding, the option */
static void
importer_hint(const struct importer *im, struct buf *b)
{
	const char *now = im->enc ? encoding_name(im->enc) : "utf-8";
	if (im->guess.name && strcmp(im->guess.name, now) != 0)
		buf_printf(b, ". The file looks like %s: %s. Import it with --encoding %s",
		           im->guess.name, im->guess.why, im->guess.name);
	else
		buf_printf(b, ". Give its encoding with --encoding (windows-1252, iso-8859-15, "
		              "utf-16, shift_jis, gb18030, ...)");
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
	if (row->flags & CSV_ROW_TOO_BIG)
		return importer_fail(im, IMPORTER_E_DATA,
		                     "the header (line %lu) is larger than %d bytes: is this a CSV "
		                     "file?",
		                     row->line, CSV_READER_MAX_RECORD);
	if (row->flags & CSV_ROW_TOO_MANY_FIELDS)
		return importer_fail(im, IMPORTER_E_DATA,
		                     "the header (line %lu) has more than %d columns", row->line,
		                     CSV_READER_MAX_FIELDS);
	im->ncols = row->nfields;
	im->keys = xcalloc(row->nfields, sizeof(*im->keys));
	im->keylens = xcalloc(row->nfields, sizeof(*im->keylens));
	im->role = xcalloc(row->nfields, sizeof(*im->role));
	st->mapping = xcalloc(row->nfields, sizeof(*st->mapping));
	im->email_col = (size_t)-1;
	im->tags_col = (size_t)-1;
	/* With an address column named by --email-column or --map, only that one is it. */
	const char *email_named = im->o->email_column;
	for (size_t m = 0; m < im->nmap; m++)
		if (strcmp(im->map_to[m], "email") == 0)
			email_named = im->map_from[m];
	struct buf name = BUF_INIT, key = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < row->nfields && rc == 0; i++) {
		buf_reset(&name);
		size_t n = 0;
		const char *v = importer_value(row, i, &n);
		if (v == NULL) {
			buf_reset(&key);
			if (im->enc)
				buf_printf(&key,
				           "the header (line %lu) holds bytes that are not %s",
				           row->line, encoding_name(im->enc));
			else
				buf_printf(&key, "the header (line %lu) is not valid UTF-8",
				           row->line);
			importer_hint(im, &key);
			buf_addc(&key, '.');
			rc = importer_fail(im, IMPORTER_E_DATA, "%s", key.data);
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
		/* What the column is for: ignored, the tags, mapped, or itself. */
		const char *attr = name.data;
		for (size_t k = 0; k < im->o->nignore; k++)
			if (strcasecmp(name.data, im->o->ignore[k]) == 0) {
				im->role[i] = ROLE_IGNORE;
				im->used[im->nmap + k] = true;
			}
		if (im->role[i] == ROLE_ATTR && im->o->tags_column &&
		    strcasecmp(name.data, im->o->tags_column) == 0) {
			im->role[i] = ROLE_TAGS;
			im->used[im->nmap + im->o->nignore] = true;
			if (im->tags_col == (size_t)-1)
				im->tags_col = i;
		}
		for (size_t m = 0; m < im->nmap && im->role[i] == ROLE_ATTR; m++)
			if (strcasecmp(name.data, im->map_from[m]) == 0) {
				attr = im->map_to[m];
				im->used[m] = true;
			}
		bool match = false;
		if (im->role[i] == ROLE_ATTR && email_named) {
			match = strcasecmp(name.data, email_named) == 0;
		} else if (im->role[i] == ROLE_ATTR && attr == name.data) {
			match = importer_email_name(name.data);
		}
		if (match && im->email_col == (size_t)-1) {
			im->email_col = i;
			im->role[i] = ROLE_EMAIL;
			snprintf(st->email_column, sizeof(st->email_column), "%s", name.data);
		}
		buf_reset(&key);
		buf_json_string(&key, attr, strlen(attr));
		/* The same header twice is refused whatever it is for (as before --map); two
		 * columns mapped to one attribute too. */
		for (size_t k = 0; k < i && rc == 0; k++) {
			if (strcmp(st->mapping[k].name, name.data) == 0)
				rc = importer_fail(im, IMPORTER_E_DATA,
				                   "column '%s' appears twice in the header",
				                   name.data);
			else if (im->role[i] == ROLE_ATTR && im->role[k] == ROLE_ATTR &&
			         im->keylens[k] == key.len + 1 &&
			         memcmp(im->keys[k], key.data, key.len) == 0)
				rc = importer_fail(im, IMPORTER_E_DATA,
				                   "the columns '%s' and '%s' both become the "
				                   "attribute '%s' (--map)",
				                   st->mapping[k].name, name.data, attr);
		}
		buf_addc(&key, ':');
		im->keys[i] = xstrndup(key.data, key.len);
		im->keylens[i] = key.len;
		static const char *const uses[] = {"attribute", "address", "ignored", "tags"};
		struct importer_column *mc = &st->mapping[st->nmapping++];
		mc->name = xstrdup(name.data);
		mc->key = im->role[i] == ROLE_ATTR    ? xstrdup(attr)
		          : im->role[i] == ROLE_EMAIL ? xstrdup("email")
		                                      : NULL;
		mc->use = uses[im->role[i]];
	}
	/* Every column the options name must be in the header. */
	for (size_t k = 0; rc == 0 && k < im->nmap + im->o->nignore + (im->o->tags_column != NULL);
	     k++) {
		if (im->used[k])
			continue;
		buf_reset(&name);
		for (size_t i = 0; i < im->ncols; i++)
			buf_printf(&name, "%s'%s'", i ? ", " : "", st->mapping[i].name);
		const char *opt = k < im->nmap                    ? "--map"
		                  : k < im->nmap + im->o->nignore ? "--ignore-column"
		                                                  : "--tags-column";
		const char *col = k < im->nmap                    ? im->map_from[k]
		                  : k < im->nmap + im->o->nignore ? im->o->ignore[k - im->nmap]
		                                                  : im->o->tags_column;
		rc = importer_fail(im, IMPORTER_E_DATA,
		                   "%s names the column '%s', which the header does not have "
		                   "(columns: %s)",
		                   opt, col, name.data);
	}
	if (rc == 0 && im->email_col == (size_t)-1) {
		buf_reset(&name);
		for (size_t i = 0; i < im->ncols; i++) {
			/* keys hold the JSON form; show it without the trailing ':' */
			buf_printf(&name, "%s%.*s", i ? ", " : "", (int)im->keylens[i] - 1,
			           im->keys[i]);
		}
		if (email_named)
			rc = importer_fail(im, IMPORTER_E_DATA,
			                   "no column named '%s' in the header (columns: %s)",
			                   email_named, name.data);
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

/*
 * importer_count_not_stored - a known contact's row without --update: count the
 * row's values (im->attrs) that the contact does not hold as they are, new
 * columns or other values, which the store left out.
 */
static int
importer_count_not_stored(struct importer *im, const char *key)
{
	int rc = store_import_known_attrs(im->store, key, &im->known);
	if (rc < 0)
		return importer_store_failed(im, rc);
	/* The same file again writes the same JSON: nothing to count, nothing to parse. */
	if (im->known.len == im->attrs.len &&
	    memcmp(im->known.data, im->attrs.data, im->attrs.len) == 0)
		return 0;
	json_t *had = json_loadb(im->known.data, im->known.len, 0, NULL);
	json_t *row = json_loadb(im->attrs.data, im->attrs.len, 0, NULL);
	const char *name;
	json_t *v;
	json_object_foreach(row, name, v)
	{
		if (!json_equal(v, json_object_get(had, name)))
			im->st->not_stored++;
	}
	json_decref(had);
	json_decref(row);
	return 0;
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
	if (row->flags & CSV_ROW_TOO_BIG) {
		/* Refused whole, unread: its first MAX_RECORD bytes go to the rejects file. */
		st->read++;
		buf_reset(&im->detail);
		if (row->flags & CSV_ROW_UNTERMINATED)
			buf_printf(
			    &im->detail,
			    "%s: a quote opened on line %lu is never closed, so the row runs "
			    "to the end of the file (record of %zu bytes",
			    R_UNTERMINATED, row->line, row->size);
		else
			buf_printf(&im->detail, "%s (record of %zu bytes, lines %lu-%lu", R_TOO_BIG,
			           row->size, row->line, row->last_line);
		buf_printf(&im->detail, "; the row here is its first %zu bytes)", row->raw_len);
		return importer_reject(
		    im, row, row->flags & CSV_ROW_UNTERMINATED ? R_UNTERMINATED : R_TOO_BIG,
		    im->detail.data);
	}
	if (importer_blank(row)) {
		st->blank++;
		return 0;
	}
	st->read++;
	if (row->flags & CSV_ROW_UNTERMINATED)
		return importer_reject(im, row, R_UNTERMINATED, NULL);
	if (row->flags & CSV_ROW_TOO_MANY_FIELDS)
		return importer_reject(im, row, R_TOO_MANY, NULL);
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

	buf_reset(&im->attrs);
	buf_addc(&im->attrs, '{');
	size_t ncols = row->nfields < im->ncols ? row->nfields : im->ncols;
	const char *email = NULL, *tags_v = NULL;
	size_t email_len = 0, tags_n = 0;
	for (size_t i = 0; i < ncols; i++) {
		size_t n;
		const char *v = importer_value(row, i, &n);
		if (v == NULL) {
			buf_reset(&im->detail);
			int b = im->enc ? encoding_first_mark(row->fields[i], row->lens[i]) : -1;
			/* keys[i] is "name": show it between single quotes instead */
			if (b >= 0)
				buf_printf(&im->detail, "byte 0x%02X is not %s, in column '%.*s'",
				           b, encoding_name(im->enc), (int)im->keylens[i] - 3,
				           im->keys[i] + 1);
			else
				buf_printf(&im->detail, "%s in column '%.*s'", R_UTF8,
				           (int)im->keylens[i] - 3, im->keys[i] + 1);
			return importer_reject(im, row, b >= 0 ? R_BADBYTE : R_UTF8,
			                       im->detail.data);
		}
		if (i == im->email_col) {
			/* address_parse refuses a NUL there, as a control character. */
			email = v;
			email_len = n;
			continue;
		}
		if (im->role[i] == ROLE_IGNORE)
			continue;
		if (im->role[i] == ROLE_TAGS) {
			if (i == im->tags_col) {
				tags_v = v;
				tags_n = n;
			}
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

	/* An address erased at its owner's request is kept only as its hash
	 * (docs/contacts.md): it never comes back, whoever imports it. */
	bool erased = false;
	if (im->has_suppressions && (rc = store_erased(im->store, a.key, &erased)) < 0)
		return importer_store_failed(im, rc);
	if (erased)
		return importer_reject(im, row, R_ERASED, NULL);

	/* The tags cell: split on ',' or ';', blanks trimmed, empty pieces skipped. */
	char tagbuf[IMPORTER_ROW_TAGS][AUDIENCE_TAG_MAX + 1];
	const char *tags[IMPORTER_ROW_TAGS];
	size_t ntags = 0;
	for (size_t k = 0; tags_v && k < tags_n;) {
		size_t len = strcspn(tags_v + k, ",;");
		if (len > tags_n - k)
			len = tags_n - k;
		char piece[512], why[200];
		snprintf(piece, sizeof(piece), "%.*s", (int)len, tags_v + k);
		k += len + 1;
		if (strspn(piece, " \t") == strlen(piece))
			continue;
		if (ntags == IMPORTER_ROW_TAGS ||
		    audience_tag_ok(piece, tagbuf[ntags], why, sizeof(why)) < 0) {
			buf_reset(&im->detail);
			buf_printf(&im->detail, "%s: '%.100s'%s", R_TAG, piece,
			           ntags == IMPORTER_ROW_TAGS ? " (more than 64 tags)" : "");
			return importer_reject(im, row, R_TAG, im->detail.data);
		}
		tags[ntags] = tagbuf[ntags];
		ntags++;
	}

	unsigned f = 0;
	int64_t contact_id = 0;
	rc = store_import_row(im->store, st->list_id, st->import_id, &a, im->attrs.data,
	                      im->attrs.len, o->update, &f, &contact_id);
	if (rc < 0)
		return importer_store_failed(im, rc);
	/* A new contact's tags are the cell's; a known one's too with --update, as for its
	 * attributes. An empty cell changes nothing. */
	if (ntags && ((f & STORE_ROW_NEW_CONTACT) || o->update) &&
	    (rc = store_contact_tags_set(im->store, contact_id, tags, ntags)) < 0)
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
	if (!o->update && !(f & STORE_ROW_NEW_CONTACT) && im->attrs.len > 2 &&
	    (rc = importer_count_not_stored(im, a.key)) < 0)
		return rc;
	bool suppressed = false;
	if (im->has_suppressions && (f & STORE_ROW_NEW_MEMBER)) {
		char why[16];
		if ((rc = store_suppressed(im->store, a.key, a.domain, why)) < 0)
			return importer_store_failed(im, rc);
		if (why[0])
			st->suppressed++;
		suppressed = why[0] != '\0';
	}
	/* An address erased before never gets here (refused above), so its address and its
	 * domain are all that can suppress a new member: the counts' rule (schema 017). */
	if (f & STORE_ROW_NEW_MEMBER) {
		struct importer_count *n = strmap_get(&im->domains, a.domain);
		if (n == NULL) {
			n = xcalloc(1, sizeof(*n));
			strmap_put(&im->domains, a.domain, n);
		}
		n->members++;
		n->suppressed += suppressed;
	}
	return 0;
}

/* importer_counted - the run's new members into the list's kept counts */
static int
importer_counted(struct importer *im, int64_t list_id)
{
	for (size_t i = 0; i < im->domains.cap; i++) {
		const struct strmap_slot *e = &im->domains.slots[i];
		const struct importer_count *n = e->value;
		int rc;
		if (e->key && (rc = store_import_counted(im->store, list_id, e->key, n->members,
		                                         n->suppressed)) < 0)
			return rc;
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
	free(im->role);
	free(im->maptext);
	free(im->map_from);
	free(im->map_to);
	free(im->used);
	buf_free(&im->attrs);
	buf_free(&im->known);
	buf_free(&im->text);
	buf_free(&im->shown);
	buf_free(&im->detail);
	strmap_free_values(&im->domains, free);
	encoding_free(im->enc);
}

void
importer_stats_free(struct importer_stats *st)
{
	for (size_t i = 0; i < st->nmapping; i++) {
		free(st->mapping[i].name);
		free(st->mapping[i].key);
	}
	free(st->mapping);
	st->mapping = NULL;
	st->nmapping = 0;
}

void
importer_summary_json(const struct importer_stats *st, struct buf *out)
{
	buf_printf(out,
	           "{\"read\":%llu,\"imported\":%llu,\"added\":%llu,\"updated\":%llu,"
	           "\"existing\":%llu,\"duplicates\":%llu,\"suppressed\":%llu,\"rejected\":%llu,"
	           "\"blank\":%llu,\"values_not_stored\":%llu,\"reasons\":{",
	           (unsigned long long)st->read, (unsigned long long)st->imported,
	           (unsigned long long)st->added, (unsigned long long)st->updated,
	           (unsigned long long)st->existing, (unsigned long long)st->duplicates,
	           (unsigned long long)st->suppressed, (unsigned long long)st->rejected,
	           (unsigned long long)st->blank, (unsigned long long)st->not_stored);
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
	buf_adds(out, ",\"encoding\":");
	buf_json_string(out, st->encoding, strlen(st->encoding));
	buf_printf(out, ",\"columns\":%zu,\"list_created\":%s,\"seconds\":%.3f,\"mapping\":[",
	           st->columns, st->list_created ? "true" : "false", st->seconds);
	for (size_t i = 0; i < st->nmapping; i++) {
		const struct importer_column *c = &st->mapping[i];
		buf_adds(out, i ? ",{\"column\":" : "{\"column\":");
		buf_json_string(out, c->name, strlen(c->name));
		buf_adds(out, ",\"key\":");
		if (c->key)
			buf_json_string(out, c->key, strlen(c->key));
		else
			buf_adds(out, "null");
		buf_printf(out, ",\"use\":\"%s\"}", c->use);
	}
	buf_adds(out, "]}");
}

/* importer_feed - n input bytes (converted when the input is not UTF-8) into the reader */
static int
importer_feed(struct importer *im, struct csv_reader *r, const char *p, size_t n, bool last)
{
	if (im->enc) {
		buf_reset(&im->text);
		encoding_feed(im->enc, p, n, &im->text);
		if (last)
			encoding_finish(im->enc, &im->text);
		p = im->text.data;
		n = im->text.len;
	}
	int rc = n ? csv_reader_feed(r, p, n, importer_row, im) : 0;
	if (rc == 0 && last)
		rc = csv_reader_finish(r, importer_row, im);
	return rc;
}

/* importer_read - stream the input (its first n bytes in chunk already) into importer_row */
static int
importer_read(struct importer *im, FILE *in, struct csv_reader *r, char *chunk, size_t n)
{
	int rc = 0;
	for (;;) {
		/* fread gives less than a chunk only at the end of the input or on an error. */
		bool last = n < IMPORTER_CHUNK;
		if (last && ferror(in)) {
			rc = importer_fail(im, IMPORTER_E_IO, "cannot read %s: %s", im->o->path,
			                   strerror(errno));
			break;
		}
		im->prog.bytes += n;
		if ((rc = importer_feed(im, r, chunk, n, last)) != 0 || last)
			break;
		if (im->o->interrupted && *im->o->interrupted) {
			rc = importer_fail(im, IMPORTER_E_INTERRUPTED, "interrupted");
			break;
		}
		n = fread(chunk, 1, IMPORTER_CHUNK, in);
	}
	/* A code from importer_row is in im->failure; anything else is the reader's own. */
	if (rc != 0 && im->failure)
		return im->failure;
	if (rc != 0)
		rc = importer_fail(im, IMPORTER_E_DATA, "%s", csv_reader_error(r));
	return rc;
}

/* What the sample's rows say about the encoding. */
struct importer_sample {
	char **names; /* the header's fields, for the message */
	size_t nnames;
	bool header_bad;
	uint64_t rows, bad;     /* data rows, and those with a value that is not valid text */
	unsigned long bad_line; /* the first bad row */
	size_t bad_col;
	struct buf bad_bytes; /* the bad rows' raw bytes: what to guess from */
};

/* importer_sample_text - a sample (n bytes, all the input when whole) as UTF-8 text in out,
 * converted from label (an encoding encoding_new takes; NULL: UTF-8 already) */
static void
importer_sample_text(const char *label, const char *data, size_t n, bool whole, struct buf *out)
{
	if (label == NULL) {
		buf_add(out, data, n);
		return;
	}
	struct encoding *e = encoding_new(label);
	encoding_feed(e, data, n, out);
	if (whole)
		encoding_finish(e, out);
	encoding_free(e);
}

/* importer_sample_bad - the first field of row that is not valid text, or -1 */
static long
importer_sample_bad(const struct csv_row *row)
{
	for (size_t i = 0; i < row->nfields; i++)
		if (!utf8_valid(row->fields[i], row->lens[i]))
			return (long)i;
	return -1;
}

static int
importer_sample_row(void *arg, const struct csv_row *row)
{
	struct importer_sample *sm = arg;
	long bad = importer_sample_bad(row);
	if (!sm->names) {
		sm->nnames = row->nfields;
		sm->names = xcalloc(row->nfields + 1, sizeof(*sm->names));
		for (size_t i = 0; i < row->nfields; i++)
			sm->names[i] = xstrndup(row->fields[i], row->lens[i]);
		sm->header_bad = bad >= 0;
	} else if (!(row->flags & CSV_ROW_TOO_BIG) && !importer_blank(row)) {
		sm->rows++;
		if (bad >= 0 && sm->bad++ == 0) {
			sm->bad_line = row->line;
			sm->bad_col = (size_t)bad;
		}
	}
	if (bad >= 0) {
		buf_add(&sm->bad_bytes, row->raw, row->raw_len);
		buf_addc(&sm->bad_bytes, '\n');
	}
	return sm->rows >= IMPORTER_SAMPLE_ROWS ? 1 : 0;
}

/*
 * importer_sample - before anything is written, read the first rows (n bytes at
 * data; whole: they are all the input): UTF-16 without a byte order mark, or most
 * rows not valid in the encoding, stop the import with the likely encoding named.
 * A bad header is left to importer_header, with the guess made here.
 */
static int
importer_sample(struct importer *im, const char *label, const char *data, size_t n, bool whole)
{
	const struct importer_opts *o = im->o;
	bool all = whole && n <= IMPORTER_SAMPLE_BYTES;
	if (n > IMPORTER_SAMPLE_BYTES)
		n = IMPORTER_SAMPLE_BYTES;
	struct encoding_guess g;
	if (!im->enc && !o->encoding && encoding_guess_utf16(data, n, &g))
		return importer_fail(im, IMPORTER_E_DATA,
		                     "the file looks like %s: %s. Import it with --encoding %s.",
		                     g.name, g.why, g.name);
	/* --encoding utf-8 given: the rows that are not are refused one by one. */
	if (!im->enc && o->encoding)
		return 0;

	struct buf text = BUF_INIT;
	/* A converter of its own: the import's starts afresh on the same bytes. */
	importer_sample_text(im->enc ? label : NULL, data, n, all, &text);
	struct importer_sample sm = {.bad_bytes = BUF_INIT};
	struct csv_reader *r = csv_reader_new(o->delimiter, 0);
	csv_reader_flag_big(r);
	/* The reader's own errors (a first line too long) are the import's to report. */
	if (csv_reader_feed(r, text.data, text.len, importer_sample_row, &sm) == 0 && all)
		csv_reader_finish(r, importer_sample_row, &sm);
	csv_reader_free(r);
	buf_free(&text);

	/* Converted, the marks hide the bytes: guess from the input itself. */
	if (sm.bad || sm.header_bad)
		encoding_guess(im->enc ? data : sm.bad_bytes.data, im->enc ? n : sm.bad_bytes.len,
		               &im->guess);
	int rc = 0;
	if (sm.bad > 0 && sm.bad * 2 > sm.rows) {
		struct buf m = BUF_INIT;
		buf_printf(&m, "%llu of the %s%llu rows are not valid %s (the first on line %lu, ",
		           (unsigned long long)sm.bad, all ? "" : "first ",
		           (unsigned long long)sm.rows, im->enc ? encoding_name(im->enc) : "UTF-8",
		           sm.bad_line);
		if (sm.bad_col < sm.nnames &&
		    utf8_valid(sm.names[sm.bad_col], strlen(sm.names[sm.bad_col])))
			buf_printf(&m, "column '%s')", sm.names[sm.bad_col]);
		else
			buf_printf(&m, "column %zu)", sm.bad_col + 1);
		importer_hint(im, &m);
		if (!im->enc)
			buf_adds(&m, ", or with --encoding utf-8 to refuse those rows one by one");
		buf_addc(&m, '.');
		rc = importer_fail(im, IMPORTER_E_DATA, "%s", m.data);
		buf_free(&m);
	}
	for (size_t i = 0; i < sm.nnames; i++)
		free(sm.names[i]);
	free(sm.names);
	buf_free(&sm.bad_bytes);
	return rc;
}

/* importer_map - --map's text parsed into im's pairs; IMPORTER_E_USAGE with a sentence */
static int
importer_map(struct importer *im)
{
	const struct importer_opts *o = im->o;
	im->used = xcalloc(1 + o->nignore + 1, sizeof(bool));
	if (o->map == NULL)
		return 0;
	im->maptext = xstrdup(o->map);
	size_t cap = 1;
	for (const char *p = o->map; *p; p++)
		cap += *p == ',';
	im->map_from = xcalloc(cap, sizeof(char *));
	im->map_to = xcalloc(cap, sizeof(char *));
	free(im->used);
	im->used = xcalloc(cap + o->nignore + 1, sizeof(bool));
	for (char *p = im->maptext, *e;; p = e + 1) {
		if ((e = strchr(p, ',')) != NULL)
			*e = '\0';
		char *eq = strchr(p, '=');
		char *from = p, *to = eq ? eq + 1 : NULL;
		if (eq) {
			*eq = '\0';
			while (*from == ' ')
				from++;
			for (char *z = eq; z > from && z[-1] == ' ';)
				*--z = '\0';
			while (*to == ' ')
				to++;
			for (char *z = to + strlen(to); z > to && z[-1] == ' ';)
				*--z = '\0';
		}
		if (!eq || !*from || !contacts_key_ok(to, strlen(to))) {
			snprintf(
			    im->err, im->errsz,
			    "--map takes \"Column=key,Other Column=key2\" (a key is 1 to %d bytes, "
			    "no control characters or '\"'), not '%s'",
			    CONTACTS_KEY_MAX, o->map);
			return IMPORTER_E_USAGE;
		}
		for (size_t m = 0; m < im->nmap; m++)
			if (strcasecmp(im->map_from[m], from) == 0) {
				snprintf(im->err, im->errsz, "--map names the column '%s' twice",
				         from);
				return IMPORTER_E_USAGE;
			}
		if (o->email_column && strcmp(to, "email") == 0) {
			snprintf(
			    im->err, im->errsz,
			    "--email-column and --map '%s=email' both name the address column: "
			    "give one",
			    from);
			return IMPORTER_E_USAGE;
		}
		im->map_from[im->nmap] = from;
		im->map_to[im->nmap++] = to;
		if (!e)
			break;
	}
	return 0;
}

int
importer_run(struct store *s, const struct importer_opts *o, struct importer_stats *stats,
             char *err, size_t errsz)
{
	struct importer im = {.store = s, .o = o, .st = stats, .err = err, .errsz = errsz};
	double t0 = clock_seconds();
	FILE *in = NULL;
	char *chunk = NULL;
	int rc;

	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	if (o->delimiter && o->delimiter != ',' && o->delimiter != ';' && o->delimiter != '\t') {
		snprintf(err, errsz, "the delimiter must be ',', ';' or a tab");
		return IMPORTER_E_USAGE;
	}
	const char *label = o->encoding && !encoding_is_utf8(o->encoding) ? o->encoding : NULL;
	if (label && (im.enc = encoding_new(label)) == NULL)
		return importer_unknown_encoding(label, err, errsz);
	/* From here on, im owns memory: every way out goes through importer_cleanup. */
	if ((rc = importer_map(&im)) < 0) {
		importer_cleanup(&im);
		return rc;
	}
	if (strcmp(o->path, "-") == 0) {
		in = stdin;
	} else if ((in = fopen(o->path, "rb")) == NULL) {
		snprintf(err, errsz, "cannot open %s: %s", o->path, strerror(errno));
		rc = IMPORTER_E_NOINPUT;
		goto out;
	}
	struct stat sb;
	if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		im.prog.size = (uint64_t)sb.st_size;

	/* The first chunk: a byte order mark and the sample decide before anything is written. */
	chunk = xmalloc(IMPORTER_CHUNK);
	size_t first = fread(chunk, 1, IMPORTER_CHUNK, in);
	if (first < IMPORTER_CHUNK && ferror(in)) {
		rc = importer_fail(&im, IMPORTER_E_IO, "cannot read %s: %s", o->path,
		                   strerror(errno));
		goto out;
	}
	if (!o->encoding && (label = encoding_bom(chunk, first)) != NULL)
		im.enc = encoding_new(label);
	if ((rc = importer_sample(&im, label, chunk, first, first < IMPORTER_CHUNK)) < 0)
		goto out;

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
	csv_reader_flag_big(r);
	rc = importer_read(&im, in, r, chunk, first);
	stats->delimiter = csv_reader_delimiter(r);
	snprintf(stats->encoding, sizeof(stats->encoding), "%s",
	         im.enc ? encoding_name(im.enc) : "utf-8");
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
	rc = importer_counted(&im, stats->list_id);
	if (rc == 0)
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
	free(chunk);
	importer_cleanup(&im);
	if (im.rejects)
		fclose(im.rejects);
	if (in && in != stdin)
		fclose(in);
	store_bulk(s, false);
	return rc;
}

/* ---- preview ---------------------------------------------------------------------------- */

enum { PREVIEW_HEADER_BIG = 2 }; /* preview_row's stop for a header over 1 MiB */

struct preview_ctx {
	struct importer_preview *p;
	size_t cap;  /* cells allocated, in rows */
	bool unmark; /* values may hold encoding.h's marks: write them as \xHH */
	struct buf v;
};

/* preview_value - field i of row as text the caller owns (marks as \xHH) */
static char *
preview_value(struct preview_ctx *cx, const struct csv_row *row, size_t i)
{
	buf_reset(&cx->v);
	if (cx->unmark)
		encoding_unmark(&cx->v, row->fields[i], row->lens[i]);
	else
		buf_add(&cx->v, row->fields[i], row->lens[i]);
	return xstrndup(cx->v.data ? cx->v.data : "", cx->v.len);
}

static int
preview_row(void *arg, const struct csv_row *row)
{
	struct preview_ctx *cx = arg;
	struct importer_preview *p = cx->p;
	if (row->flags & CSV_ROW_TOO_BIG)
		return p->header ? 0 : PREVIEW_HEADER_BIG;
	if (p->header == NULL) {
		/* Named as importer_header names them: trimmed, "column_N" when blank. */
		p->ncols = row->nfields;
		p->header = xcalloc(row->nfields + 1, sizeof(char *));
		for (size_t i = 0; i < row->nfields; i++) {
			char *v = preview_value(cx, row, i), *a = v, *z = v + strlen(v);
			while (*a == ' ' || *a == '\t')
				a++;
			while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
				*--z = '\0';
			char blank[32];
			snprintf(blank, sizeof(blank), "column_%zu", i + 1);
			p->header[i] = xstrdup(*a ? a : blank);
			free(v);
			if (p->email_col < 0 && importer_email_name(p->header[i]))
				p->email_col = (long)i;
		}
		return 0;
	}
	if (importer_blank(row))
		return 0;
	if (p->nrows == IMPORTER_PREVIEW_ROWS) {
		p->more = true;
		return 1;
	}
	if (p->nrows == cx->cap) {
		cx->cap = cx->cap ? cx->cap * 2 : 4;
		p->cells = xrealloc(p->cells, cx->cap * p->ncols * sizeof(char *) + 1);
	}
	char **cells = p->cells + p->nrows * p->ncols;
	for (size_t i = 0; i < p->ncols; i++)
		cells[i] = i < row->nfields ? preview_value(cx, row, i) : NULL;
	p->nrows++;
	return 0;
}

int
importer_preview(const char *data, size_t n, bool whole, char delimiter, const char *encoding,
                 struct importer_preview *p, char *err, size_t errsz)
{
	memset(p, 0, sizeof(*p));
	p->email_col = -1;
	if (delimiter && delimiter != ',' && delimiter != ';' && delimiter != '\t') {
		snprintf(err, errsz, "the delimiter must be ',', ';' or a tab");
		return IMPORTER_E_USAGE;
	}
	if (n > IMPORTER_PREVIEW_BYTES) {
		n = IMPORTER_PREVIEW_BYTES;
		whole = false;
	}
	/* The encoding, decided as importer_run does: given, a byte order mark, UTF-16
	 * by its NUL bytes; and where importer_run would stop on a sample that is not
	 * UTF-8, the guess it would name. */
	const char *label = NULL;
	struct encoding_guess g = {0};
	p->encoding_why = "valid UTF-8";
	if (encoding && !encoding_is_utf8(encoding)) {
		label = encoding;
		p->encoding_why = "given";
	} else if (encoding) {
		p->encoding_why = "given";
	} else if ((label = encoding_bom(data, n)) != NULL) {
		p->encoding_why = "a byte order mark";
	} else if (encoding_guess_utf16(data, n, &g)) {
		label = g.name;
		p->encoding_why = g.why;
		p->guessed = true;
	} else {
		/* A sample cut short may end inside a character: look up to its last line. */
		size_t upto = n;
		while (!whole && upto > 0 && data[upto - 1] != '\n')
			upto--;
		if (!utf8_valid(data, upto ? upto : n)) {
			encoding_guess(data, n, &g);
			if (g.name) {
				label = g.name;
				p->encoding_why = g.why;
				p->guessed = true;
			} else {
				p->encoding_why =
				    "not valid UTF-8, and not like any encoding kirim "
				    "guesses";
			}
		}
	}
	struct encoding *enc = label ? encoding_new(label) : NULL;
	if (label && enc == NULL)
		return importer_unknown_encoding(label, err, errsz);
	snprintf(p->encoding, sizeof(p->encoding), "%s", enc ? encoding_name(enc) : "utf-8");
	encoding_free(enc);
	struct buf text = BUF_INIT;
	importer_sample_text(label, data, n, whole, &text);
	struct preview_ctx cx = {.p = p, .unmark = label != NULL, .v = BUF_INIT};
	struct csv_reader *r = csv_reader_new(delimiter, 0);
	csv_reader_flag_big(r);
	int rc = text.len ? csv_reader_feed(r, text.data, text.len, preview_row, &cx) : 0;
	if (rc == 0 && whole)
		rc = csv_reader_finish(r, preview_row, &cx);
	else if (rc == 0)
		p->more = true; /* a record cut by the sample's end is not shown */
	p->delimiter = csv_reader_delimiter(r);
	if (rc == PREVIEW_HEADER_BIG)
		snprintf(err, errsz, "the header is larger than %d bytes: is this a CSV file?",
		         CSV_READER_MAX_RECORD);
	else if (rc < 0)
		snprintf(err, errsz, "%s", csv_reader_error(r));
	csv_reader_free(r);
	buf_free(&text);
	buf_free(&cx.v);
	if (rc != 0 && rc != 1) {
		importer_preview_free(p);
		return IMPORTER_E_DATA;
	}
	if (p->header == NULL) {
		snprintf(err, errsz, "the file is empty: a header row is required");
		return IMPORTER_E_DATA;
	}
	return 0;
}

void
importer_preview_free(struct importer_preview *p)
{
	for (size_t i = 0; p->header && i < p->ncols; i++)
		free(p->header[i]);
	for (size_t i = 0; p->cells && i < p->nrows * p->ncols; i++)
		free(p->cells[i]);
	free(p->header);
	free(p->cells);
	p->header = NULL;
	p->cells = NULL;
	p->nrows = p->ncols = 0;
}
