/*
 * db_url - what a database name (--db, KIRIM_DB, kirim migrate --to) names: a SQLite
 * file by its path, or a PostgreSQL database by its URL (postgresql:// or postgres://,
 * libpq's own URI syntax, which libpq parses); and the same URL fit to print, its
 * password hidden. Pure; does not log.
 */
#ifndef KIRIM_DB_URL_H
#define KIRIM_DB_URL_H

#include <stddef.h>

enum db_url_kind {
	DB_URL_SQLITE = 0,   /* a path (anything without a "scheme://" in front) */
	DB_URL_POSTGRES = 1, /* postgresql://... or postgres://... (any case) */
	DB_URL_OTHER = 2,    /* another scheme: mysql://, file://, ... */
};

/* db_url_kind - which kind of database s names */
enum db_url_kind db_url_kind(const char *s);
/*
 * db_url_redact - s into out (outsz bytes, cut to fit) with the password of its user
 * information ("user:secret@") and the value of any password= parameter replaced by
 * "***", so that the URL can be printed and logged
 */
void db_url_redact(const char *s, char *out, size_t outsz);

#endif
