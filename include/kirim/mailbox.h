/*
 * mailbox - mail read from files: one message, an mbox, a Maildir or a
 * directory of message files, handed to the caller one message at a time
 * (`kirim bounces ingest`; anything else that takes mail from disk).
 *
 * A path is "-" (standard input) or a file holding one message or an mbox
 * (it starts with "From "; mboxrd: ">From " lines lose one '>'), or a
 * directory: a Maildir when it has new/ (each file there is read, then moved
 * to cur/ marked seen, or to kirim-failed/, as the caller's verdict says;
 * a file the caller could not take stays in new/ for the next run), else a
 * directory of message files, read in name order and left where they are.
 * Dot files and anything but regular files are skipped.
 *
 * Caps: MAILBOX_FILE_MAX bytes for a file given by name (an mbox),
 * MAILBOX_MESSAGE_MAX for each file of a directory. Everything handed to a
 * callback is borrowed for the call only. Does not print or log: problems go
 * to the caller's callback as sentences.
 */
#ifndef KIRIM_MAILBOX_H
#define KIRIM_MAILBOX_H

#include <stddef.h>

struct buf;

#define MAILBOX_MESSAGE_MAX (32u << 20) /* one message file */
#define MAILBOX_FILE_MAX (1u << 30)     /* a file given by name: an mbox */

/* What the caller made of one message: where its Maildir file goes. */
enum mailbox_verdict {
	MAILBOX_SEEN,   /* taken: new/NAME → cur/NAME:2,S */
	MAILBOX_FAILED, /* not mail the caller can read: new/NAME → kirim-failed/NAME */
	MAILBOX_STOP,   /* not taken (e.g. a database error): the file stays, the walk stops */
};

struct mailbox_cbs {
	/*
	 * message - one message of len bytes (NUL-terminated), named by where
	 * ("PATH", "PATH#N" for the Nth of an mbox, "stdin", "DIR/NAME"); msg is
	 * NULL with a sentence in err when a directory's file could not be read.
	 * Returns an enum mailbox_verdict.
	 */
	int (*message)(void *arg, const char *where, const char *msg, size_t len, const char *err);
	/* problem - a path, directory or file that could not be read or moved, as a sentence */
	void (*problem)(void *arg, const char *what);
};

/*
 * mailbox_read - every message at path, in order, through cbs (arg passed
 * back). Returns 0, or -1 when a callback stopped the walk.
 */
int mailbox_read(const char *path, const struct mailbox_cbs *cbs, void *arg);
/*
 * mailbox_mbox_next - the next message of an mbox (data, len) from *pos (0
 * at the start, on a "From " line) into msg (emptied first), "From " line
 * dropped and ">From " unquoted; *pos moves past it. Returns 1, or 0 at the
 * end. Pure.
 */
int mailbox_mbox_next(const char *data, size_t len, size_t *pos, struct buf *msg);
/*
 * mailbox_read_file - the whole of path ("-": standard input), at most max
 * bytes, NUL-terminated (free() it), its length in *len; NULL with a
 * sentence in err.
 */
char *mailbox_read_file(const char *path, size_t max, size_t *len, char *err, size_t errsz);

#endif
