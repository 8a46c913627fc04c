/*
 * importer - load a recipient list from CSV into the store.
 *
 * Streams the file through csv_reader (memory does not grow with it), checks
 * every address, turns the other columns into contact attributes (a JSON
 * object), and adds the contacts to one list, all in one transaction: an error,
 * an interrupt or a crash leaves the database exactly as it was. Rows that
 * cannot be imported are counted by reason and, when asked, written with their
 * line number and raw bytes to a rejects CSV. Does not print; reports progress
 * through a callback.
 *
 * Encodings: the input is UTF-8 unless opts.encoding names another (encoding.h,
 * converted as it streams), or it starts with a UTF-16 byte order mark. Before
 * anything is written, a sample (the first 64 KiB, 1,000 rows at most) is read:
 * when most of its rows are not valid text in the encoding, the import stops
 * with IMPORTER_E_DATA and a message naming the likely encoding and the option
 * (--encoding utf-8 given explicitly skips that check). A record over 1 MiB is
 * refused as a row (its raw bytes cut at 1 MiB in the rejects file), not as the
 * file.
 */
#ifndef KIRIM_IMPORTER_H
#define KIRIM_IMPORTER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct importer_progress {
	uint64_t rows;  /* records read so far, header included */
	uint64_t bytes; /* input bytes read so far */
	uint64_t size;  /* input size in bytes, 0 when unknown (a pipe) */
};
typedef void (*importer_progress_cb)(void *arg, const struct importer_progress *p);

struct importer_opts {
	const char *path;         /* a file, or "-" for standard input */
	const char *list;         /* list to add the contacts to (created if needed) */
	const char *email_column; /* header of the address column; NULL: find it by name */
	char delimiter;           /* ',' ';' '\t', or 0 to sniff */
	const char *encoding;     /* a name encoding_new takes, or utf-8; NULL: UTF-8, checked */
	bool update;              /* merge new attribute values into existing contacts */
	bool allow_ip_literals;   /* accept user@[192.0.2.1] */
	const char *rejects;      /* write rejected rows here as CSV; NULL: don't */
	/* Column mapping: "Header=key,Other Header=key2" (headers compare case-insensitively;
	 * key "email" makes the column the address); NULL: every column under its own name */
	const char *map;
	const char *const *ignore; /* columns not stored */
	size_t nignore;
	/* a column of tags, split on ',' or ';': a new contact's tags (with update, a known
	 * contact's tags become them too); NULL: none */
	const char *tags_column;
	importer_progress_cb progress;
	void *progress_arg;
	volatile sig_atomic_t *interrupted; /* set by a signal handler to stop and roll back */
};

enum { IMPORTER_MAX_REASONS = 32 };

struct importer_stats {
	uint64_t read;       /* data rows read (header and blank rows not counted) */
	uint64_t imported;   /* new contacts added to the list */
	uint64_t added;      /* existing contacts added to the list */
	uint64_t updated;    /* existing contacts whose attributes changed (--update) */
	uint64_t existing;   /* rows whose contact was in the list already */
	uint64_t duplicates; /* rows repeating an address seen earlier in the file */
	uint64_t suppressed; /* imported rows whose address or domain is suppressed */
	uint64_t rejected;   /* rows refused, see reasons */
	uint64_t blank;      /* rows with no values at all, skipped */
	uint64_t not_stored; /* values of known contacts left out (no --update): new or different */
	struct {
		const char *reason; /* static phrase */
		uint64_t count;
	} reasons[IMPORTER_MAX_REASONS];
	size_t nreasons;
	bool list_created;
	int64_t list_id;
	int64_t import_id;
	char delimiter;
	char encoding[40]; /* the input's encoding as read ("utf-8", "utf-16le", "windows-1252") */
	char email_column[128];
	size_t columns;
	/* What each column became, in the header's order (importer_stats_free frees it). */
	struct importer_column {
		char *name; /* as in the header */
		char
		    *key; /* the attribute (template key); "email" for the address; NULL: not one */
		const char *use; /* "attribute", "address", "tags" or "ignored" */
	} * mapping;
	size_t nmapping;
	double seconds;
};

/* Error codes (negative). */
#define IMPORTER_E_NOINPUT (-1) /* the input cannot be opened */
#define IMPORTER_E_DATA (-2)    /* the input cannot be imported (no header, no address column...) */
#define IMPORTER_E_IO (-3)      /* reading the input or writing the rejects file failed */
#define IMPORTER_E_STORE (-4)   /* the database refused */
#define IMPORTER_E_INTERRUPTED (-5) /* *interrupted was set */
#define IMPORTER_E_USAGE (-6)       /* bad options (an unknown encoding) */

/*
 * importer_run - import o->path into o->list. On success the transaction is
 * committed and *stats filled; on any error nothing is changed and err says why.
 */
int importer_run(struct store *s, const struct importer_opts *o, struct importer_stats *stats,
                 char *err, size_t errsz);

/* importer_stats_free - free what importer_run allocated in stats (its mapping) */
void importer_stats_free(struct importer_stats *st);

/*
 * A look at a file before it is imported (the console's import wizard): the
 * delimiter and encoding importer_run would take, the header and the first
 * rows, read by the same code (the CSV reader's sniffing, encoding.h's byte
 * order marks and guesses) from at most IMPORTER_PREVIEW_BYTES of its start.
 * Nothing is written.
 */
enum { IMPORTER_PREVIEW_BYTES = 64 * 1024, IMPORTER_PREVIEW_ROWS = 10 };
struct importer_preview {
	char delimiter;
	char encoding[40];        /* what the rows were read as: "utf-8", "windows-1252", ... */
	const char *encoding_why; /* static phrase: "given", "a byte order mark", a guess's why */
	bool guessed;             /* encoding is a guess: the file is not UTF-8 */
	char **header;            /* ncols names, as importer_run names them ("column_2") */
	size_t ncols;
	char **cells; /* nrows x ncols values (NULL: the row has no such field) */
	size_t nrows;
	long email_col; /* the column importer_run would take as the address by its name; -1 */
	bool more;      /* the sample ended before the file did */
};
/*
 * importer_preview - what data (n bytes, the start of a file; whole: all of it)
 * holds, read with delimiter (0: sniff) and encoding (NULL: as importer_run
 * decides) into *p. 0, or IMPORTER_E_USAGE / IMPORTER_E_DATA with err.
 */
int importer_preview(const char *data, size_t n, bool whole, char delimiter, const char *encoding,
                     struct importer_preview *p, char *err, size_t errsz);
/* importer_preview_free - free what importer_preview allocated */
void importer_preview_free(struct importer_preview *p);

/* importer_summary_json - append stats as a JSON object to out */
struct buf;
void importer_summary_json(const struct importer_stats *st, struct buf *out);

#endif
