/*
 * address - parse and check one email address (RFC 5321 / RFC 5322, practical).
 *
 * Accepts what a mail system can deliver to: dot-atom or quoted local parts,
 * plus-tags, UTF-8 local parts (RFC 6531), UTF-8 domains (converted to
 * A-labels with libidn2), and IP literals only when asked. Refuses what it
 * cannot: no '@', empty or over-long parts, bad labels, spaces, control
 * characters, consecutive dots. Pure code: no I/O, no globals, no logging.
 */
#ifndef KIRIM_ADDRESS_H
#define KIRIM_ADDRESS_H

#include <stddef.h>

enum {
	ADDRESS_LOCAL_MAX = 64,   /* RFC 5321 4.5.3.1.1 */
	ADDRESS_DOMAIN_MAX = 255, /* RFC 5321 4.5.3.1.2 */
	ADDRESS_MAX = 254,        /* RFC 5321 4.5.3.1.3 path limit less the angle brackets */
};

/* Flags for address_parse. */
#define ADDRESS_ALLOW_IP_LITERAL (1u << 0)

/* Flags set in struct address.flags. */
#define ADDRESS_F_IP_LITERAL (1u << 0) /* domain is [1.2.3.4] or [IPv6:...] */
#define ADDRESS_F_IDN (1u << 1)        /* domain was given with U-labels */
#define ADDRESS_F_UTF8_LOCAL (1u << 2) /* local part holds non-ASCII (needs SMTPUTF8) */
#define ADDRESS_F_QUOTED (1u << 3)     /* local part is a quoted-string */

struct address {
	char local[ADDRESS_LOCAL_MAX + 1];   /* as written (quotes kept), NUL-terminated */
	char domain[ADDRESS_DOMAIN_MAX + 1]; /* lower-case A-labels, or the IP literal */
	char email[ADDRESS_MAX + 1];         /* local "@" domain: what goes on the wire */
	char key[ADDRESS_MAX + 1];           /* email with the local part's ASCII lower-cased */
	unsigned flags;
};

/*
 * address_parse - check the n bytes at s (leading and trailing blanks are
 * ignored) and fill *out. Returns 0, or -1 with *reason set to a short, stable,
 * static English phrase ("missing @", "empty local part", ...) fit for a
 * summary table. *out is written only on success. reason may be NULL.
 * The reasons (listed with their meaning at the top of src/format/address.c):
 *   "empty address", "control character", "space in address", "missing @",
 *   "more than one @", "empty local part", "local part too long",
 *   "invalid character in local part", "consecutive dots",
 *   "dot at start or end of local part", "unterminated quoted string",
 *   "invalid UTF-8", "empty domain", "domain too long", "empty domain label",
 *   "domain label too long", "invalid domain label", "domain has no dot",
 *   "numeric top-level domain", "invalid internationalised domain",
 *   "IP literal not allowed", "invalid IP literal", "address too long".
 */
int address_parse(const char *s, size_t n, unsigned flags, struct address *out,
                  const char **reason);

/*
 * address_parse_domain - check a bare domain name (U-labels allowed) and write
 * its lower-case A-label form to out (outsz bytes). Returns 0 or -1 with *reason
 * (the same phrases; "domain too long" also when outsz is too small). Leading
 * and trailing blanks are ignored; IP literals are not domains here.
 */
int address_parse_domain(const char *s, size_t n, char *out, size_t outsz, const char **reason);

/*
 * address_domain_display - write the domain in U-labels for people (out, outsz
 * bytes); a domain that does not convert is copied as it is. Never fails.
 */
void address_domain_display(const char *alabel, char *out, size_t outsz);

/*
 * address_mask - email (as stored: local part, '@', domain) partly hidden for
 * a page anyone holding a link may see, into out (cap bytes; ADDRESS_MAX + 16
 * always fits): the local part's first character (two when it has more than
 * four), the domain's first character and its last label, the rest as "•••"
 * ("jo•••@e•••.com" for johndoe@example.com). Characters are whole UTF-8
 * sequences; a string without '@' is masked as a local part alone.
 */
void address_mask(const char *email, char *out, size_t cap);

#endif
