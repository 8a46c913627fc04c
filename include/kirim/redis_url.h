/*
 * redis_url - where the shared throttles' Redis is (docs/scale-out.md):
 * "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]" (a name, an IPv4 address or an
 * [IPv6] one; port 6379, database 0 by default), "unix://[[USER]:PASSWORD@]/PATH[?db=N]",
 * or a bare absolute path to a Unix socket.
 *
 * Refused, each with its own reason: another scheme (rediss:// too: TLS to
 * Redis is not built in; use a Unix socket or a tunnel), an empty host or
 * path, a port that is not 1 to 65535, a database that is not 0 to 9999,
 * blanks and control characters, and fields longer than the struct holds.
 * Pure code; never logs.
 */
#ifndef KIRIM_REDIS_URL_H
#define KIRIM_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_url {
	bool unix_socket;   /* path is set, host and port are not */
	char host[256];     /* lower-cased; an IPv6 address without brackets */
	unsigned port;      /* 6379 unless given */
	char path[108];     /* a Unix socket's path (sun_path's size) */
	unsigned db;        /* SELECT this database when not 0 */
	char user[64];      /* AUTH user (Redis 6 ACLs), "" = the default user */
	char password[256]; /* AUTH password, "" = no AUTH */
};

/* redis_url_parse - parse s into *u (set only on success); 0, or -1 with a reason in why */
int redis_url_parse(const char *s, struct redis_url *u, const char **why);

/* redis_url_format - u without its password ("redis://127.0.0.1:6379/0", "unix:///run/r.sock"),
 * for logs and status; returns out */
char *redis_url_format(const struct redis_url *u, char *out, size_t outsz);

#endif
