/*
 * smtp_url - parse a relay (smarthost) URL: smtp://[user@]host[:port] or
 * smtps://[user@]host[:port].
 *
 * smtp:// speaks SMTP on port 25 by default (587 is given explicitly) and may
 * upgrade with STARTTLS; smtps:// is TLS from the first byte (RFC 8314),
 * port 465 by default. The user name may be percent-encoded. A password in
 * the URL is refused: it would end up in shell history and process lists;
 * it belongs in kirim.conf ([relay] password_file or password_env). Pure code.
 */
#ifndef KIRIM_SMTP_URL_H
#define KIRIM_SMTP_URL_H

#include <stddef.h>

struct smtp_url {
	int implicit_tls; /* smtps:// */
	char host[256];   /* a name, an IPv4 address, or an IPv6 address without brackets */
	unsigned port;
	char user[256]; /* "" when none */
};

/* smtp_url_parse - parse s; returns 0, or -1 with the reason in err */
int smtp_url_parse(const char *s, struct smtp_url *out, char *err, size_t errsz);

#endif
