/*
 * http_url - the URLs of kirim's HTTP requests (see http_url.h).
 */
#include "kirim/http_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* name_ok - letters, digits, '-', '_' and '.'; a last label all digits must be an IPv4
 * address (resolvers would read "127.1" or "10.0.0" as one) */
static bool
name_ok(const char *h, const char **why)
{
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') {
			*why = "a bad host name in the URL";
			return false;
		}
	const char *last = strrchr(h, '.');
	last = last ? last + 1 : h;
	if (*last && strspn(last, "0123456789") == strlen(last)) {
		*why = "a host that looks like an IPv4 address but is not one";
		return false;
	}
	return true;
}

int
http_url_parse(const char *url, struct http_url *u, const char **why)
{
	struct http_url r = {0};
	const char *p;
	if (strncasecmp(url, "https://", 8) == 0) {
		r.tls = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		*why = "not an http:// or https:// URL";
		return -1;
	}
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\') {
			*why = "blanks, control characters or backslashes in the URL";
			return -1;
		}
	if (strchr(url, '#')) {
		*why = "a fragment (#) in the URL";
		return -1;
	}
	size_t alen = strcspn(p, "/?");
	const char *rest = p + alen;
	if (memchr(p, '@', alen)) {
		*why = "not a plain URL: user info (user@host) is refused";
		return -1;
	}
	const char *h = p, *hend;
	const char *port = NULL;
	if (*h == '[') {
		const char *rb = memchr(h, ']', alen);
		if (rb == NULL || (size_t)(rb - h - 1) >= sizeof(r.host)) {
			*why = "a bad IPv6 address in the URL";
			return -1;
		}
		for (size_t i = 0; i < (size_t)(rb - h - 1); i++)
			r.host[i] = (char)tolower((unsigned char)h[1 + i]);
		r.host[rb - h - 1] = '\0';
		unsigned char a[16];
		if (inet_pton(AF_INET6, r.host, a) != 1) {
			*why = "a bad IPv6 address in the URL";
			return -1;
		}
		r.ip = true;
		hend = rb + 1;
		if (hend < rest && *hend != ':') {
			*why = "a bad IPv6 address in the URL";
			return -1;
		}
		if (hend < rest)
			port = hend + 1;
	} else {
		const char *colon = memchr(h, ':', alen);
		if (colon && memchr(colon + 1, ':', (size_t)(rest - colon - 1))) {
			*why = "an IPv6 address in a URL is written in brackets: [::1]";
			return -1;
		}
		hend = colon ? colon : rest;
		if (colon)
			port = colon + 1;
		size_t hl = (size_t)(hend - h);
		if (hl == 0) {
			*why = "no host in the URL";
			return -1;
		}
		if (hl >= sizeof(r.host)) {
			*why = "a host name longer than 255 bytes";
			return -1;
		}
		for (size_t i = 0; i < hl; i++)
			r.host[i] = (char)tolower((unsigned char)h[i]);
		r.host[hl] = '\0';
		unsigned char a[4];
		r.ip = inet_pton(AF_INET, r.host, a) == 1;
		if (!r.ip && !name_ok(r.host, why))
			return -1;
	}
	r.port = r.tls ? 443 : 80;
	if (port) {
		size_t n = (size_t)(rest - port);
		unsigned long v = 0;
		if (n == 0 || n > 5 || strspn(port, "0123456789") < n) {
			*why = "a bad port in the URL";
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (v == 0 || v > 65535) {
			*why = "a bad port in the URL (1 to 65535)";
			return -1;
		}
		r.port = (unsigned)v;
		r.port_given = true;
	}
	if (snprintf(r.path, sizeof(r.path), "%s%s", *rest == '/' ? "" : "/", rest) >=
	    (int)sizeof(r.path)) {
		*why = "a path longer than 2047 bytes";
		return -1;
	}
	*u = r;
	return 0;
}

bool
http_url_loopback(const struct http_url *u)
{
	struct in6_addr a6;
	if (strcmp(u->host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET6, u->host, &a6) == 1)
		return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	return u->ip && strncmp(u->host, "127.", 4) == 0;
}
