/*
 * store_file - a store's files on disk, and who may read them (see store_file.h).
 *
 * Why the files are made here and not left to SQLite: SQLite creates a new
 * database with 0644 less the umask (SQLITE_DEFAULT_FILE_PERMISSIONS), so under
 * the usual umask 022 every local user could read the token secret. Its -wal,
 * -shm and -journal copy the database's bits (unix VFS findCreateFileMode), so
 * a private database is all it takes; tests/integration/perms.sh checks it.
 */
#include "kirim/store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kirim/store.h"
#include "kirim/store_serve.h"

/* SQLite's companions of a database file: the same mode as their database. */
static const char *const companions[] = {"", "-wal", "-shm", "-journal"};
#define NCOMPANIONS (sizeof(companions) / sizeof(companions[0]))
_Static_assert(2 * NCOMPANIONS == STORE_FILE_MAX, "the database's files and the journal's");

unsigned
store_file_mode(unsigned flags)
{
	return (flags & STORE_GROUP) ? 0640 : 0600;
}

int
store_file_create(const char *path, unsigned flags, char *err, size_t errsz)
{
	if (path[0] == '\0' || strcmp(path, ":memory:") == 0)
		return 0;
	mode_t mode = (mode_t)store_file_mode(flags);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0) {
		/* Already there (made by another process meanwhile, or a symlink): SQLite
		 * opens it as it is, and an audit reports its mode if that is too open. */
		if (errno == EEXIST)
			return 0;
		snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
		return STORE_E_SQL;
	}
	/* The umask may have taken bits away: the mode is what the flags say. */
	if (fchmod(fd, mode) < 0) {
		snprintf(err, errsz, "cannot set the mode of %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return STORE_E_SQL;
	}
	close(fd);
	return 0;
}

unsigned
store_file_flags_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && (sb.st_mode & S_IRGRP) ? STORE_GROUP : 0;
}

/* One file: recorded in *out when it exists and grants more than allowed. */
static void
audit_one(struct store_file_audit *out, const char *base, const char *suffix, mode_t allowed)
{
	char path[STORE_FILE_PATH_MAX];
	struct stat sb;
	int n = snprintf(path, sizeof(path), "%s%s", base, suffix);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &sb) < 0)
		return;
	mode_t bits = sb.st_mode & 0777;
	if ((bits & ~allowed & (S_IRWXG | S_IRWXO)) == 0 || out->n == STORE_FILE_MAX)
		return;
	memcpy(out->file[out->n].path, path, (size_t)n + 1);
	out->file[out->n].mode = bits;
	out->n++;
}

void
store_file_audit(const char *db_path, unsigned flags, struct store_file_audit *out)
{
	out->n = 0;
	if (db_path[0] == '\0' || strcmp(db_path, ":memory:") == 0)
		return;
	mode_t allowed = (flags & STORE_GROUP) ? S_IRGRP : 0;
	char journal[STORE_FILE_PATH_MAX];
	store_serve_journal_path(db_path, journal, sizeof(journal));
	for (size_t i = 0; i < NCOMPANIONS; i++)
		audit_one(out, db_path, companions[i], allowed);
	for (size_t i = 0; i < NCOMPANIONS; i++)
		audit_one(out, journal, companions[i], allowed);
}
