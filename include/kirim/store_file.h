/*
 * store_file - a store's files on disk, and who may read them.
 *
 * The database holds every contact and, unless kirim.conf has a [secret], the
 * key that signs kirim's tokens (settings 'secret', made by migration 002):
 * whoever can read it can unsubscribe anyone and forge VERP bounce addresses.
 * So every file of a store belongs to its owner alone (mode 0600), or is also
 * readable by its group (0640) when the caller asks with STORE_GROUP; never by
 * other users.
 *
 * A store's files: the database, SQLite's -wal, -shm and -journal beside it,
 * and the serve journal (store_serve_journal_path: DB-serve) with its own
 * three. This module creates the database and the serve journal itself, empty
 * (an empty file is a valid empty SQLite database) and with their mode set
 * whatever the umask, before SQLite opens them; SQLite's unix VFS gives every
 * -wal, -shm and -journal the permission bits (and owner) of its database,
 * so those follow.
 *
 * store_file_audit only reports existing files more open than allowed; what
 * to do about them is the caller's (the CLI refuses to run while the
 * database's own secret is the token key, and warns otherwise). No state; does
 * not log.
 */
#ifndef KIRIM_STORE_FILE_H
#define KIRIM_STORE_FILE_H

#include <stddef.h>

/*
 * A flag for store_open beside STORE_CREATE (store.h): files this store makes
 * are 0640, not 0600, and group read access is expected. It lives here
 * because this module gives it its meaning.
 */
#define STORE_GROUP (1u << 1)

/* The files of one store: the database and serve journal, each with three companions. */
enum { STORE_FILE_MAX = 8, STORE_FILE_PATH_MAX = 4096 };

struct store_file_audit {
	int n; /* files more open than allowed, in the order above */
	struct {
		char path[STORE_FILE_PATH_MAX];
		unsigned mode; /* its permission bits, st_mode & 0777 */
	} file[STORE_FILE_MAX];
};

/* store_file_mode - the mode of a new file under flags: 0600, or 0640 with STORE_GROUP */
unsigned store_file_mode(unsigned flags);
/*
 * store_file_create - make path an empty file with store_file_mode(flags)
 * unless something is there already (or path is ":memory:" or "", which
 * SQLite never writes to disk); 0, or STORE_E_SQL with the reason in err
 */
int store_file_create(const char *path, unsigned flags, char *err, size_t errsz);
/*
 * store_file_flags_of - STORE_GROUP when the file at path is group-readable,
 * else 0: a file made beside the database (the serve journal) takes the
 * database's choice
 */
unsigned store_file_flags_of(const char *path);
/*
 * store_file_audit - the files of the store at db_path whose permission bits
 * grant more than their owner's (and, with STORE_GROUP, the group's read):
 * every bit of "other", and group bits beyond read; *out is always filled
 */
void store_file_audit(const char *db_path, unsigned flags, struct store_file_audit *out);

#endif
