/*
 * http_url - parse the URL of an HTTP request kirim makes: http:// or
 * https://, a host given as a name, an IPv4 address or an [IPv6] address, an
 * optional port, a path with its query.
 *
 * Refused, each with its own reason: another scheme, user info (user@host: a
 * password would sit in the database and in logs), an empty or malformed host
 * (an IPv6 zone, a name whose last label is a number but that is no IPv4
 * address, such as 127.1), a port that is not 1 to 65535, a fragment (#: never
 * sent), blanks, control characters and backslashes anywhere, and fields
 * longer than the struct holds. Pure code; never logs.
 */
#ifndef KIRIM_HTTP_URL_H
#define KIRIM_HTTP_URL_H

#include <stdbool.h>

struct http_url {
	bool tls;        /* https:// */
	bool ip;         /* host is an IP address (v4, or v6 without its brackets) */
	bool port_given; /* the URL named its port */
	unsigned port;   /* the URL's, else 80 or 443 */
	char host[256];  /* lower-cased; an IPv6 address without brackets */
	char path[2048]; /* from the first '/', the query included; "/" when empty */
};

/* http_url_parse - parse url into *u (set only on success); 0, or -1 with a reason in why */
int http_url_parse(const char *url, struct http_url *u, const char **why);

/* http_url_loopback - whether u's host is a loopback address or "localhost" */
bool http_url_loopback(const struct http_url *u);

#endif
