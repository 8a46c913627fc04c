/* mailbox - messages read from a file, an mbox, a Maildir or a directory (see mailbox.h). */
#include "kirim/mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kirim/buf.h"
#include "kirim/xmalloc.h"

char *
mailbox_read_file(const char *path, size_t max, size_t *len, char *err, size_t errsz)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > max) {
			snprintf(err, errsz, "%s is larger than %d MiB", path, (int)(max >> 20));
			break;
		}
	}
	bool bad = ferror(f) || b.len > max;
	if (ferror(f))
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data ? b.data : xstrdup("");
}

int
mailbox_mbox_next(const char *data, size_t len, size_t *pos, struct buf *msg)
{
	size_t i = *pos;
	if (i >= len)
		return 0;
	/* Skip the "From " separator line. */
	const char *nl = memchr(data + i, '\n', len - i);
	i = nl ? (size_t)(nl - data) + 1 : len;
	buf_reset(msg);
	while (i < len) {
		nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) + 1 : len;
		if (end - i >= 5 && memcmp(data + i, "From ", 5) == 0)
			break;
		size_t skip = 0; /* mboxrd: ">From " and ">>From " lose one '>' */
		if (data[i] == '>') {
			size_t k = i;
			while (k < end && data[k] == '>')
				k++;
			if (end - k >= 5 && memcmp(data + k, "From ", 5) == 0)
				skip = 1;
		}
		buf_add(msg, data + i + skip, end - i - skip);
		i = end;
	}
	*pos = i;
	return 1;
}

/* read_mbox - every message of an mbox; -1 when the caller stops */
static int
read_mbox(const char *path, const char *data, size_t len, const struct mailbox_cbs *cbs, void *arg)
{
	struct buf msg = BUF_INIT;
	size_t pos = 0, n = 0;
	char where[600];
	int rc = 0;
	while (rc == 0 && mailbox_mbox_next(data, len, &pos, &msg)) {
		snprintf(where, sizeof(where), "%s#%zu", path, ++n);
		if (cbs->message(arg, where, msg.data ? msg.data : "", msg.len, NULL) ==
		    MAILBOX_STOP)
			rc = -1;
	}
	buf_free(&msg);
	return rc;
}

/* move_to - rename dir/sub/name to dir/todir/name + suffix, making todir if needed */
static int
move_to(const char *dir, const char *sub, const char *name, const char *todir, const char *suffix)
{
	char from[4096], to[4096];
	snprintf(to, sizeof(to), "%s/%s", dir, todir);
	if (mkdir(to, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(from, sizeof(from), "%s/%s/%s", dir, sub, name);
	snprintf(to, sizeof(to), "%s/%s/%s%s", dir, todir, name, suffix);
	return rename(from, to);
}

/* read_dir - a Maildir's new/ or a plain directory of message files; -1 when the caller stops */
static int
read_dir(const char *path, const struct mailbox_cbs *cbs, void *arg)
{
	char sub[4096], what[4600];
	snprintf(sub, sizeof(sub), "%s/new", path);
	struct stat st;
	bool maildir = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
	const char *dir = maildir ? sub : path;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(what, sizeof(what), "cannot read %s: %s", dir, strerror(errno));
		cbs->problem(arg, what);
		return 0;
	}
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *name = names[i]->d_name;
		char file[4400], err[512] = "";
		snprintf(file, sizeof(file), "%s/%s", dir, name);
		size_t len;
		if (name[0] == '.' || stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		char *msg = mailbox_read_file(file, MAILBOX_MESSAGE_MAX, &len, err, sizeof(err));
		int v = cbs->message(arg, file, msg, msg ? len : 0, msg ? NULL : err);
		free(msg);
		if (v == MAILBOX_STOP)
			rc = -1;
		if (!maildir || v == MAILBOX_STOP)
			continue;
		int mv = v == MAILBOX_FAILED ? move_to(path, "new", name, "kirim-failed", "")
		                             : move_to(path, "new", name, "cur", ":2,S");
		if (mv < 0) {
			snprintf(what, sizeof(what), "cannot move %s out of new/: %s", file,
			         strerror(errno));
			cbs->problem(arg, what);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int
mailbox_read(const char *path, const struct mailbox_cbs *cbs, void *arg)
{
	struct stat st;
	bool in = strcmp(path, "-") == 0;
	if (!in && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return read_dir(path, cbs, arg);
	char err[512];
	size_t len;
	char *data = mailbox_read_file(path, MAILBOX_FILE_MAX, &len, err, sizeof(err));
	if (data == NULL) {
		cbs->problem(arg, err);
		return 0;
	}
	int rc;
	if (len >= 5 && memcmp(data, "From ", 5) == 0)
		rc = read_mbox(path, data, len, cbs, arg);
	else
		rc = cbs->message(arg, in ? "stdin" : path, data, len, NULL) == MAILBOX_STOP ? -1
		                                                                             : 0;
	free(data);
	return rc;
}
