/* smtp_url - relay URLs (see smtp_url.h). */
#include "kirim/smtp_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/hex.h"

/* smtp_url_decode - percent-decode n bytes into out (outsz); -1 on a bad escape or overflow */
static int
smtp_url_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
smtp_url_parse(const char *s, struct smtp_url *out, char *err, size_t errsz)
{
	struct smtp_url u;
	memset(&u, 0, sizeof(u));
	const char *p;
	if (strncasecmp(s, "smtp://", 7) == 0) {
		p = s + 7;
		u.port = 25;
	} else if (strncasecmp(s, "smtps://", 8) == 0) {
		p = s + 8;
		u.port = 465;
		u.implicit_tls = 1;
	} else {
		snprintf(err, errsz, "'%s': a relay URL starts with smtp:// or smtps://", s);
		return -1;
	}
	/* Authority ends at the first '/', '?' or '#'; only an empty path is allowed. */
	size_t alen = strcspn(p, "/?#");
	if (p[alen] != '\0' && strcmp(p + alen, "/") != 0) {
		snprintf(err, errsz, "'%s': a relay URL has no path or query", s);
		return -1;
	}
	const char *at = memchr(p, '@', alen);
	if (at) {
		if (memchr(p, ':', (size_t)(at - p))) {
			snprintf(err, errsz,
			         "'%s': no password in the URL, please: put it in kirim.conf "
			         "([relay] password_file or password_env)",
			         s);
			return -1;
		}
		if (at == p || smtp_url_decode(p, (size_t)(at - p), u.user, sizeof(u.user)) < 0) {
			snprintf(err, errsz, "'%s': bad user name", s);
			return -1;
		}
		alen -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	const char *hs = p, *he;
	const char *port = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', alen);
		if (rb == NULL) {
			snprintf(err, errsz, "'%s': unclosed '[' in the host", s);
			return -1;
		}
		hs = p + 1;
		he = rb;
		if (rb + 1 < p + alen) {
			if (rb[1] != ':') {
				snprintf(err, errsz, "'%s': expected ':' after ']'", s);
				return -1;
			}
			port = rb + 2;
		}
	} else {
		const char *colon = memchr(p, ':', alen);
		he = colon ? colon : p + alen;
		if (colon)
			port = colon + 1;
	}
	size_t hlen = (size_t)(he - hs);
	if (hlen == 0 || hlen >= sizeof(u.host)) {
		snprintf(err, errsz, "'%s': no host", s);
		return -1;
	}
	for (size_t i = 0; i < hlen; i++) {
		char c = hs[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == ':' || c == '_')) {
			snprintf(err, errsz, "'%s': bad character in the host", s);
			return -1;
		}
	}
	memcpy(u.host, hs, hlen);
	u.host[hlen] = '\0';
	if (port) {
		size_t plen = (size_t)(p + alen - port);
		char pbuf[8];
		char *end;
		if (plen == 0 || plen >= sizeof(pbuf) || strspn(port, "0123456789") < plen) {
			snprintf(err, errsz, "'%s': bad port", s);
			return -1;
		}
		memcpy(pbuf, port, plen);
		pbuf[plen] = '\0';
		unsigned long v = strtoul(pbuf, &end, 10);
		if (v == 0 || v > 65535) {
			snprintf(err, errsz, "'%s': the port must be 1 to 65535", s);
			return -1;
		}
		u.port = (unsigned)v;
	}
	*out = u;
	return 0;
}
