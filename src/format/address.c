/*
 * address - parse and check one email address (RFC 5321 / RFC 5322, practical).
 *
 * This module owns the rules for what kirim accepts as a recipient address and
 * the canonical forms it stores (email as sent, key for case-insensitive
 * dedupe, domain as lower-case A-labels). It is pure code: no I/O, no globals,
 * no logging, no allocation of its own (libidn2 allocates its results; they
 * are freed here before returning).
 *
 * Grammar accepted (RFC 5321 4.1.2 "Mailbox", with RFC 6531 extensions):
 *   local part: a dot-atom of RFC 5322 3.2.3 atext (plus UTF-8, RFC 6531 3.3),
 *               or a quoted-string of qtextSMTP / quoted-pairSMTP (plus UTF-8),
 *               kept exactly as written (quotes and backslashes included);
 *   domain:     LDH labels (RFC 1035 2.3.1, RFC 3696 2) or U-labels converted
 *               to A-labels with libidn2 (RFC 5890/5891, UTS #46), lower-cased;
 *               or an address literal [1.2.3.4] / [IPv6:...] (RFC 5321 4.1.3),
 *               only with ADDRESS_ALLOW_IP_LITERAL, written in inet_ntop form.
 * Choices beyond the RFCs, made because such addresses cannot be delivered or
 * are almost always typing errors: a domain must have a dot and its top-level
 * label must not be all digits (RFC 3696 2); a trailing dot ("x@example.com.")
 * is refused as an empty label; an empty quoted string ""@x is refused; tabs,
 * C0/C1 controls, DEL and Unicode spaces are refused everywhere (a plain space
 * is allowed only inside a quoted local part). Blanks (space, tab) around the
 * whole input are ignored.
 *
 * Reasons (static strings; callers may compare them by content, they are stable):
 *   "empty address"                    nothing but blanks
 *   "control character"                C0 (but tab), DEL or C1 control, NUL included
 *   "space in address"                 space or tab (or a Unicode space) outside quotes
 *   "missing @"                        no '@' after the local part
 *   "more than one @"                  an '@' in the domain
 *   "empty local part"                 "@x.com", or ""@x.com
 *   "local part too long"              more than 64 octets as written (RFC 5321 4.5.3.1.1)
 *   "invalid character in local part"  not atext, '.', or valid UTF-8; stray '"'
 *   "consecutive dots"                 ".." in a dot-atom local part
 *   "dot at start or end of local part"
 *   "unterminated quoted string"       no closing '"' (or a bad quoted-pair)
 *   "invalid UTF-8"                    ill-formed UTF-8 in the local part or domain
 *   "empty domain"                     nothing after '@'
 *   "domain too long"                  more than 255 octets (RFC 5321 4.5.3.1.2)
 *   "empty domain label"               leading, trailing or doubled dot in the domain
 *   "domain label too long"            a label over 63 octets (RFC 1035 2.3.4)
 *   "invalid domain label"             a character outside LDH, or a leading/trailing hyphen
 *   "domain has no dot"                single-label domain
 *   "numeric top-level domain"         last label all digits (RFC 3696 2)
 *   "invalid internationalised domain" libidn2 refused the U-labels or an xn-- label
 *   "IP literal not allowed"           [..] domain without ADDRESS_ALLOW_IP_LITERAL
 *   "invalid IP literal"               not a valid IPv4 or "IPv6:" literal
 *   "address too long"                 more than 254 octets in all (RFC 5321 4.5.3.1.3)
 *
 * Checks run left to right, so an address with several faults gets the reason
 * of the first one met: control characters and tabs first (whole input), then
 * the local part, the '@', the domain, and the total length last.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <idn2.h>

#include "kirim/address.h"

/* The longest raw domain worth handing to libidn2: each code point is at most
 * 4 UTF-8 octets and yields at least one A-label octet, so anything longer
 * cannot fit in ADDRESS_DOMAIN_MAX octets once converted. */
#define RAW_DOMAIN_MAX (4 * ADDRESS_DOMAIN_MAX)

/* Character classes for the ASCII half of the byte range. */
#define C_ATEXT 0x01 /* RFC 5322 3.2.3 atext */
#define C_LDH 0x02   /* letter, digit, hyphen */
#define C_QTEXT 0x04 /* RFC 5321 4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126 */

static const unsigned char ctype[128] = {
    [' '] = C_QTEXT,
    ['!'] = C_ATEXT | C_QTEXT,
    ['#'] = C_ATEXT | C_QTEXT,
    ['$'] = C_ATEXT | C_QTEXT,
    ['%'] = C_ATEXT | C_QTEXT,
    ['&'] = C_ATEXT | C_QTEXT,
    ['\''] = C_ATEXT | C_QTEXT,
    ['('] = C_QTEXT,
    [')'] = C_QTEXT,
    ['*'] = C_ATEXT | C_QTEXT,
    ['+'] = C_ATEXT | C_QTEXT,
    [','] = C_QTEXT,
    ['-'] = C_ATEXT | C_LDH | C_QTEXT,
    ['.'] = C_QTEXT,
    ['/'] = C_ATEXT | C_QTEXT,
    ['0' ... '9'] = C_ATEXT | C_LDH | C_QTEXT,
    [':'] = C_QTEXT,
    [';'] = C_QTEXT,
    ['<'] = C_QTEXT,
    ['='] = C_ATEXT | C_QTEXT,
    ['>'] = C_QTEXT,
    ['?'] = C_ATEXT | C_QTEXT,
    ['@'] = C_QTEXT,
    ['A' ... 'Z'] = C_ATEXT | C_LDH | C_QTEXT,
    ['['] = C_QTEXT,
    [']'] = C_QTEXT,
    ['^'] = C_ATEXT | C_QTEXT,
    ['_'] = C_ATEXT | C_QTEXT,
    ['`'] = C_ATEXT | C_QTEXT,
    ['a' ... 'z'] = C_ATEXT | C_LDH | C_QTEXT,
    ['{'] = C_ATEXT | C_QTEXT,
    ['|'] = C_ATEXT | C_QTEXT,
    ['}'] = C_ATEXT | C_QTEXT,
    ['~'] = C_ATEXT | C_QTEXT,
};

static inline unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Decode one UTF-8 sequence at p (at most n octets, p[0] >= 0x80) per RFC 3629
 * (no overlongs, no surrogates, nothing above U+10FFFF). Returns its length,
 * or 0 if ill-formed; the code point goes to *cp.
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t v, min;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/*
 * Check the non-ASCII sequence at p. Returns its length, or 0 with *reason
 * set. Valid UTF-8 is not enough: C1 controls, Unicode spaces and invisible
 * format characters are refused, as they are never meant in an address and
 * usually come from a copy-and-paste.
 */
static size_t
utf8_check(const unsigned char *p, size_t n, const char *invalid, const char **reason)
{
	uint32_t cp = 0;
	size_t len = utf8_decode(p, n, &cp);

	if (len == 0) {
		*reason = "invalid UTF-8";
		return 0;
	}
	if (cp <= 0x9f) {
		*reason = "control character";
		return 0;
	}
	if (cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000) {
		*reason = "space in address";
		return 0;
	}
	if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x2064) || cp == 0xfeff) {
		*reason = invalid;
		return 0;
	}
	return len;
}

/*
 * Check a dot-atom local part (RFC 5322 3.2.3, RFC 6531 3.3). n >= 1.
 */
static int
local_dot_atom(const unsigned char *p, size_t n, unsigned *fl, const char **reason)
{
	if (p[0] == '.' || p[n - 1] == '.') {
		*reason = "dot at start or end of local part";
		return -1;
	}
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];

		if (c < 0x80) {
			if (c == '.') {
				if (p[i + 1] == '.') { /* safe: p[n - 1] is not '.' */
					*reason = "consecutive dots";
					return -1;
				}
			} else if (!(ctype[c] & C_ATEXT)) {
				*reason = c == ' ' ? "space in address"
				                   : "invalid character in local part";
				return -1;
			}
			i++;
		} else {
			size_t len =
			    utf8_check(p + i, n - i, "invalid character in local part", reason);
			if (len == 0)
				return -1;
			*fl |= ADDRESS_F_UTF8_LOCAL;
			i += len;
		}
	}
	return 0;
}

/*
 * Find the end of the quoted-string at p (p[0] == '"') per RFC 5321 4.1.2
 * (qtextSMTP, quoted-pairSMTP) and RFC 6531 3.3 (UTF-8). Returns the offset
 * just past the closing quote, or 0 with *reason set.
 */
static size_t
local_quoted(const unsigned char *p, size_t n, unsigned *fl, const char **reason)
{
	for (size_t i = 1; i < n;) {
		unsigned char c = p[i];

		if (c == '"')
			return i + 1;
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126; controls were refused before. */
			if (i + 1 >= n || p[i + 1] >= 0x7f)
				break;
			i += 2;
		} else if (c < 0x80) {
			if (!(ctype[c] & C_QTEXT)) {
				*reason = "invalid character in local part";
				return 0;
			}
			i++;
		} else {
			size_t len =
			    utf8_check(p + i, n - i, "invalid character in local part", reason);
			if (len == 0)
				return 0;
			*fl |= ADDRESS_F_UTF8_LOCAL;
			i += len;
		}
	}
	*reason = "unterminated quoted string";
	return 0;
}

/*
 * Check the lower-case ASCII domain d (NUL-terminated, n octets) label by
 * label: LDH only, 1..63 octets, no hyphen at either end (RFC 1035 2.3.1,
 * RFC 5891 4.2.3.1), at least two labels, a top-level label that is not all
 * digits (RFC 3696 2). Sets *xn if some label starts with "xn--".
 */
static int
domain_ldh(const char *d, size_t n, bool *xn, const char **reason)
{
	size_t start = 0, labels = 0;
	bool digits = true;

	if (n > ADDRESS_DOMAIN_MAX) {
		*reason = "domain too long";
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)d[i] : '.';

		if (c != '.') {
			if (c >= 0x80 || !(ctype[c] & C_LDH)) {
				*reason = c == ' ' ? "space in address" : "invalid domain label";
				return -1;
			}
			if (c < '0' || c > '9')
				digits = false;
			continue;
		}
		size_t len = i - start;
		if (len == 0) {
			*reason = "empty domain label";
			return -1;
		}
		if (len > 63) {
			*reason = "domain label too long";
			return -1;
		}
		if (d[start] == '-' || d[i - 1] == '-') {
			*reason = "invalid domain label";
			return -1;
		}
		if (len >= 4 && memcmp(d + start, "xn--", 4) == 0)
			*xn = true;
		labels++;
		if (i < n) {
			start = i + 1;
			digits = true;
		}
	}
	if (labels < 2) {
		*reason = "domain has no dot";
		return -1;
	}
	if (digits) {
		*reason = "numeric top-level domain";
		return -1;
	}
	return 0;
}

/* Map a libidn2 error to one of our reasons. */
static const char *
idn_reason(int rc)
{
	switch (rc) {
	case IDN2_TOO_BIG_DOMAIN:
		return "domain too long";
	case IDN2_TOO_BIG_LABEL:
	case IDN2_PUNYCODE_BIG_OUTPUT: /* the A-label would not fit in 63 octets */
		return "domain label too long";
	case IDN2_HYPHEN_STARTEND:
		return "invalid domain label";
	default:
		return "invalid internationalised domain";
	}
}

/*
 * Run UTS #46 processing and IDNA2008 conversion (RFC 5891) on the
 * NUL-terminated domain in, writing the A-label form to out (256 octets).
 * Non-transitional first; transitional only for what it disallows, as curl
 * and the idn2 tool do. An A-label in the input is checked by round trip
 * (libidn2's default).
 */
static int
domain_idn(const char *in, char *out, const char **reason)
{
	uint8_t *res = NULL;
	int rc = idn2_lookup_u8((const uint8_t *)in, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

	if (rc == IDN2_DISALLOWED)
		rc = idn2_lookup_u8((const uint8_t *)in, &res, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK) {
		*reason = idn_reason(rc);
		return -1;
	}
	size_t len = strlen((const char *)res);
	if (len > ADDRESS_DOMAIN_MAX) {
		idn2_free(res);
		*reason = "domain too long";
		return -1;
	}
	memcpy(out, res, len + 1);
	idn2_free(res);
	return 0;
}

/*
 * Check the domain d (n octets, not NUL-terminated, no IP literal) and write
 * its lower-case A-label form to out (ADDRESS_DOMAIN_MAX + 1 octets).
 */
static int
domain_check(const unsigned char *d, size_t n, char *out, unsigned *fl, const char **reason)
{
	size_t start = 0;
	bool ascii = true, xn = false;

	if (n == 0) {
		*reason = "empty domain";
		return -1;
	}
	if (n > RAW_DOMAIN_MAX) {
		*reason = "domain too long";
		return -1;
	}
	/*
	 * First pass over the input as written, so that reasons name what the
	 * person typed rather than what UTS #46 mapping made of it: empty
	 * labels, ASCII outside LDH, ill-formed UTF-8, spaces. Pure ASCII
	 * domains are lower-cased into out on the way.
	 */
	for (size_t i = 0; i <= n;) {
		unsigned char c = i < n ? d[i] : '.';

		if (c == '.') {
			if (i == start) {
				*reason = "empty domain label";
				return -1;
			}
			start = ++i;
		} else if (c < 0x80) {
			if (!(ctype[c] & C_LDH)) {
				*reason = c == ' ' ? "space in address" : "invalid domain label";
				return -1;
			}
			i++;
		} else {
			size_t len =
			    utf8_check(d + i, n - i, "invalid internationalised domain", reason);
			if (len == 0)
				return -1;
			ascii = false;
			i += len;
		}
	}
	if (ascii) {
		if (n > ADDRESS_DOMAIN_MAX) {
			*reason = "domain too long";
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			out[i] = (char)lower(d[i]);
		out[n] = '\0';
		if (domain_ldh(out, n, &xn, reason) < 0)
			return -1;
		/* A-labels given as such: libidn2 checks them by round trip. */
		if (xn && domain_idn(out, out, reason) < 0)
			return -1;
		return 0;
	}

	char raw[RAW_DOMAIN_MAX + 1];
	memcpy(raw, d, n);
	raw[n] = '\0';
	if (domain_idn(raw, out, reason) < 0)
		return -1;
	*fl |= ADDRESS_F_IDN;
	/* UTS #46 mapping may turn a U-label into ASCII outside LDH (a
	 * full-width '_' becomes '_'), so the result is checked again. */
	return domain_ldh(out, strlen(out), &xn, reason);
}

/*
 * Check the address literal d ("[...]", n octets) per RFC 5321 4.1.3 and
 * write it to out in canonical form: "[192.0.2.1]" or "[IPv6:2001:db8::1]".
 */
static int
domain_literal(const unsigned char *d, size_t n, char *out, const char **reason)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const unsigned char *p = d + 1;
	size_t len;

	*reason = "invalid IP literal";
	if (n < 2 || d[n - 1] != ']')
		return -1;
	len = n - 2;
	/* The "IPv6:" tag is an ABNF string, so any case will do (RFC 5234 2.3). */
	if (len > 5 && lower(p[0]) == 'i' && lower(p[1]) == 'p' && lower(p[2]) == 'v' &&
	    p[3] == '6' && p[4] == ':') {
		p += 5, len -= 5;
		if (len >= sizeof(tmp))
			return -1;
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, bin) != 1)
			return -1;
		memcpy(out, "[IPv6:", 6);
		if (!inet_ntop(AF_INET6, bin, out + 6, INET6_ADDRSTRLEN))
			return -1;
	} else {
		if (len >= sizeof(tmp))
			return -1;
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET, tmp, bin) != 1)
			return -1;
		out[0] = '[';
		if (!inet_ntop(AF_INET, bin, out + 1, INET6_ADDRSTRLEN))
			return -1;
	}
	strcat(out, "]");
	return 0;
}

/* Drop blanks at both ends of s[0..*n). */
static const unsigned char *
trim(const char *s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = *n;

	while (len > 0 && is_blank(p[0]))
		p++, len--;
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	*n = len;
	return p;
}

/* address_parse - check one email address and fill *out */
int
address_parse(const char *s, size_t n, unsigned flags, struct address *out, const char **reason)
{
	const char *dummy;
	char dom[ADDRESS_DOMAIN_MAX + 1];
	unsigned fl = 0;
	size_t at, ln, dn;

	if (!reason)
		reason = &dummy;
	if (!s)
		n = 0;
	const unsigned char *p = trim(s ? s : "", &n);
	if (n == 0) {
		*reason = "empty address";
		return -1;
	}
	/* Controls anywhere (quoted or not) can never be sent: refuse them
	 * before anything else so the reason does not depend on position. */
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			*reason = p[i] == '\t' ? "space in address" : "control character";
			return -1;
		}
	}

	/* Split at the '@' that ends the local part. */
	if (p[0] == '"') {
		at = local_quoted(p, n, &fl, reason);
		if (at == 0)
			return -1;
		if (at == n) {
			*reason = "missing @";
			return -1;
		}
		if (p[at] != '@') {
			*reason = "invalid character in local part";
			return -1;
		}
		fl |= ADDRESS_F_QUOTED;
	} else {
		const unsigned char *a = memchr(p, '@', n);
		if (!a) {
			*reason = "missing @";
			return -1;
		}
		at = (size_t)(a - p);
	}
	ln = at;
	dn = n - at - 1;
	const unsigned char *d = p + at + 1;
	if (memchr(d, '@', dn)) {
		*reason = "more than one @";
		return -1;
	}

	/* Local part. */
	if (ln == 0 || ((fl & ADDRESS_F_QUOTED) && ln == 2)) {
		*reason = "empty local part";
		return -1;
	}
	if (ln > ADDRESS_LOCAL_MAX) {
		*reason = "local part too long";
		return -1;
	}
	if (!(fl & ADDRESS_F_QUOTED) && local_dot_atom(p, ln, &fl, reason) < 0)
		return -1;

	/* Domain. */
	if (dn > 0 && d[0] == '[') {
		if (!(flags & ADDRESS_ALLOW_IP_LITERAL)) {
			*reason = "IP literal not allowed";
			return -1;
		}
		if (domain_literal(d, dn, dom, reason) < 0)
			return -1;
		fl |= ADDRESS_F_IP_LITERAL;
	} else if (domain_check(d, dn, dom, &fl, reason) < 0) {
		return -1;
	}
	dn = strlen(dom);
	if (ln + 1 + dn > ADDRESS_MAX) {
		*reason = "address too long";
		return -1;
	}

	/* All checks passed: only now is *out written. */
	memcpy(out->local, p, ln);
	out->local[ln] = '\0';
	memcpy(out->domain, dom, dn + 1);
	memcpy(out->email, p, ln);
	out->email[ln] = '@';
	memcpy(out->email + ln + 1, dom, dn + 1);
	for (size_t i = 0; i < ln; i++)
		out->key[i] = (char)lower(p[i]);
	out->key[ln] = '@';
	memcpy(out->key + ln + 1, dom, dn + 1);
	out->flags = fl;
	return 0;
}

/* address_parse_domain - check a bare domain and write its A-label form */
int
address_parse_domain(const char *s, size_t n, char *out, size_t outsz, const char **reason)
{
	const char *dummy;
	char dom[ADDRESS_DOMAIN_MAX + 1];
	unsigned fl = 0;

	if (!reason)
		reason = &dummy;
	if (!s)
		n = 0;
	const unsigned char *p = trim(s ? s : "", &n);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			*reason = p[i] == '\t' ? "space in address" : "control character";
			return -1;
		}
	}
	if (domain_check(p, n, dom, &fl, reason) < 0)
		return -1;
	size_t len = strlen(dom);
	if (len >= outsz) {
		*reason = "domain too long";
		return -1;
	}
	memcpy(out, dom, len + 1);
	return 0;
}

/* Copy NUL-terminated src into out (outsz > 0 octets), cutting if needed. */
static void
copy_cut(char *out, size_t outsz, const char *src)
{
	size_t len = strlen(src);

	if (len >= outsz)
		len = outsz - 1;
	memcpy(out, src, len);
	out[len] = '\0';
}

/* address_domain_display - write the domain in U-labels for people */
void
address_domain_display(const char *alabel, char *out, size_t outsz)
{
	char *u = NULL;
	bool xn = false;

	if (!out || outsz == 0)
		return;
	if (!alabel) {
		out[0] = '\0';
		return;
	}
	/* Only a domain with an "xn--" label (any case) needs libidn2. */
	for (const char *p = alabel; *p; p++) {
		if ((p == alabel || p[-1] == '.') && lower(p[0]) == 'x' && lower(p[1]) == 'n' &&
		    p[2] == '-' && p[3] == '-') {
			xn = true;
			break;
		}
	}
	if (xn && idn2_to_unicode_8z8z(alabel, &u, 0) == IDN2_OK && strlen(u) < outsz) {
		copy_cut(out, outsz, u);
	} else {
		copy_cut(out, outsz, alabel);
	}
	idn2_free(u);
}

/* The length of the UTF-8 sequence that starts with byte c (1 for a stray byte). */
static size_t
seq_len(unsigned char c)
{
	return c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* The first k characters of the n bytes at p, as bytes (never past n). */
static size_t
first_chars(const char *p, size_t n, size_t k)
{
	size_t at = 0;
	for (size_t i = 0; i < k && at < n; i++) {
		size_t l = seq_len((unsigned char)p[at]);
		at = at + l > n ? n : at + l;
	}
	return at;
}

/* address_mask - email with most of it hidden */
void
address_mask(const char *email, char *out, size_t cap)
{
	static const char dots[] = "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"; /* "•••" */
	const char *at = strrchr(email, '@');
	size_t ln = at ? (size_t)(at - email) : strlen(email);
	size_t chars = 0;
	for (size_t i = 0; i < ln; i += seq_len((unsigned char)email[i]))
		chars++;
	size_t keep = first_chars(email, ln, chars > 4 ? 2 : 1);
	int n = snprintf(out, cap, "%.*s%s", (int)keep, email, dots);
	if (at == NULL || n < 0 || (size_t)n >= cap)
		return;
	const char *d = at + 1;
	const char *dot = strrchr(d, '.');
	size_t dn = strlen(d);
	size_t dk = first_chars(d, dn, 1);
	snprintf(out + n, cap - (size_t)n, "@%.*s%s%s", (int)dk, d, dots, dot ? dot : "");
}
