/*
 * test_address - table tests for src/format/address.c.
 *
 * One table of addresses (valid and invalid), each row naming the RFC section
 * its verdict relies on; smaller tables for address_parse_domain and
 * address_domain_display; and a golden-file test over
 * $KIRIM_TESTDATA/address/cases.in (compared with cases.out; run with
 * KIRIM_UPDATE_GOLDEN=1 to rewrite cases.out after a deliberate change).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/address.h"

/* Building blocks for the length boundaries. */
#define S10 "abcdefghij"
#define L64 S10 S10 S10 S10 S10 S10 "abcd" /* 64 octets */
#define D63 S10 S10 S10 S10 S10 S10 "abc"  /* 63 octets */
/* 189 octets: with a 64-octet local part and '@', 254 in all. */
#define DOM189 D63 "." D63 "." S10 S10 S10 S10 S10 "abcdefg.com"
#define DOM190 D63 "." D63 "." S10 S10 S10 S10 S10 "abcdefgh.com"
/* 255 and 256 octets: the domain limit of RFC 5321 4.5.3.1.2. */
#define DOM255 D63 "." D63 "." D63 "." S10 S10 S10 S10 S10 "abcdefghi.com"
#define DOM256 D63 "." D63 "." D63 "." S10 S10 S10 S10 S10 "abcdefghij.com"

/* Input with NUL bytes: give the length explicitly. */
#define BIN(s) .in = s, .n = sizeof(s) - 1

#define IPOK ADDRESS_ALLOW_IP_LITERAL
#define F_IP ADDRESS_F_IP_LITERAL
#define F_IDN ADDRESS_F_IDN
#define F_U8 ADDRESS_F_UTF8_LOCAL
#define F_Q ADDRESS_F_QUOTED

struct acase {
	const char *label;
	const char *in;
	size_t n; /* 0: strlen(in) */
	unsigned flags;
	int ok;
	const char *reason; /* when !ok */
	const char *email;  /* when ok */
	const char *key;
	const char *domain;
	unsigned oflags; /* struct address.flags when ok */
	const char *rfc; /* the rule the verdict relies on */
};

#define OK(lbl, input, fl, em, ky, dom, of, ref)                                                   \
	{                                                                                          \
		.label = lbl, .in = input, .flags = fl, .ok = 1, .email = em, .key = ky,           \
		.domain = dom, .oflags = of, .rfc = ref                                            \
	}
#define BAD(lbl, input, fl, why, ref)                                                              \
	{                                                                                          \
		.label = lbl, .in = input, .flags = fl, .ok = 0, .reason = why, .rfc = ref         \
	}

static const struct acase cases[] = {
    /* Plain dot-atoms. */
    OK("simple", "user@example.com", 0, "user@example.com", "user@example.com", "example.com", 0,
       "RFC 5321 4.1.2 Mailbox"),
    OK("dotted local", "first.last@example.com", 0, "first.last@example.com",
       "first.last@example.com", "example.com", 0, "RFC 5322 3.2.3 dot-atom"),
    OK("plus tag", "user+news@example.com", 0, "user+news@example.com", "user+news@example.com",
       "example.com", 0, "RFC 5322 3.2.3 atext; RFC 5233 subaddress"),
    OK("plus tag empty", "user+@example.com", 0, "user+@example.com", "user+@example.com",
       "example.com", 0, "RFC 5322 3.2.3 atext"),
    OK("all atext specials", "!#$%&'*+-/=?^_`{|}~@example.com", 0,
       "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", "example.com", 0,
       "RFC 5322 3.2.3 atext"),
    OK("apostrophe", "o'brien@example.ie", 0, "o'brien@example.ie", "o'brien@example.ie",
       "example.ie", 0, "RFC 5322 3.2.3 atext; RFC 3696 3"),
    OK("one-char local", "a@b.co", 0, "a@b.co", "a@b.co", "b.co", 0, "RFC 5321 4.1.2 Atom"),
    OK("digits local", "12345@example.com", 0, "12345@example.com", "12345@example.com",
       "example.com", 0, "RFC 5322 3.2.3 atext"),
    OK("subdomain", "user@mail.eu.example.co.uk", 0, "user@mail.eu.example.co.uk",
       "user@mail.eu.example.co.uk", "mail.eu.example.co.uk", 0, "RFC 5321 4.1.2 Domain"),
    OK("hyphen inside label", "user@my-host.example.com", 0, "user@my-host.example.com",
       "user@my-host.example.com", "my-host.example.com", 0, "RFC 1035 2.3.1; RFC 3696 2"),
    OK("digit-led label", "user@3com.example", 0, "user@3com.example", "user@3com.example",
       "3com.example", 0, "RFC 1123 2.1"),
    OK("alnum tld", "user@example.x1", 0, "user@example.x1", "user@example.x1", "example.x1", 0,
       "RFC 3696 2 (TLD not all-numeric)"),

    /* Case: domain lower-cased, local kept, key lower-cases the local's ASCII. */
    OK("uppercase domain", "user@EXAMPLE.COM", 0, "user@example.com", "user@example.com",
       "example.com", 0, "RFC 5321 2.4 (domains case-insensitive)"),
    OK("mixed case local kept", "John.Doe@Example.Com", 0, "John.Doe@example.com",
       "john.doe@example.com", "example.com", 0, "RFC 5321 2.4 (local part case kept)"),

    /* Blanks around the whole input. */
    OK("leading/trailing blanks", "  \tuser@example.com \t ", 0, "user@example.com",
       "user@example.com", "example.com", 0, "RFC 5322 3.2.2 CFWS around addr-spec"),

    /* Quoted local parts. */
    OK("quoted with space", "\"john doe\"@example.com", 0, "\"john doe\"@example.com",
       "\"john doe\"@example.com", "example.com", F_Q, "RFC 5321 4.1.2 Quoted-string"),
    OK("quoted with @", "\"a@b\"@example.com", 0, "\"a@b\"@example.com", "\"a@b\"@example.com",
       "example.com", F_Q, "RFC 5321 4.1.2 qtextSMTP"),
    OK("quoted escapes kept", "\"a\\\"b\\\\c\"@example.com", 0, "\"a\\\"b\\\\c\"@example.com",
       "\"a\\\"b\\\\c\"@example.com", "example.com", F_Q, "RFC 5321 4.1.2 quoted-pairSMTP"),
    OK("quoted dots", "\"a..b.\"@example.com", 0, "\"a..b.\"@example.com", "\"a..b.\"@example.com",
       "example.com", F_Q, "RFC 5321 4.1.2 qtextSMTP"),
    OK("quoted uppercase key", "\"John Doe\"@Example.com", 0, "\"John Doe\"@example.com",
       "\"john doe\"@example.com", "example.com", F_Q, "RFC 5321 4.1.2; RFC 5321 2.4"),
    BAD("quoted unterminated", "\"abc@example.com", 0, "unterminated quoted string",
        "RFC 5321 4.1.2 Quoted-string"),
    BAD("quoted escaped end quote", "\"abc\\\"@example.com", 0, "unterminated quoted string",
        "RFC 5321 4.1.2 quoted-pairSMTP"),
    BAD("quoted then atom", "\"a\"b@example.com", 0, "invalid character in local part",
        "RFC 5321 4.1.2 Local-part (no obs-local-part)"),
    BAD("quoted empty", "\"\"@example.com", 0, "empty local part",
        "RFC 5321 4.1.2 (practical: empty mailbox name)"),
    BAD("quote inside atom", "a\"b\"@example.com", 0, "invalid character in local part",
        "RFC 5322 3.2.3 atext"),
    BAD("quoted no @", "\"abc\"", 0, "missing @", "RFC 5321 4.1.2 Mailbox"),

    /* UTF-8 local parts. */
    OK("utf8 local", "jörg@example.com", 0, "jörg@example.com", "jörg@example.com", "example.com",
       F_U8, "RFC 6531 3.3 (UTF8-non-ascii in atext)"),
    OK("utf8 local key ascii only", "ÄBC@example.com", 0, "ÄBC@example.com", "Äbc@example.com",
       "example.com", F_U8, "RFC 6531 3.3; RFC 5321 2.4"),
    OK("utf8 quoted", "\"δοκιμή test\"@example.com", 0, "\"δοκιμή test\"@example.com",
       "\"δοκιμή test\"@example.com", "example.com", F_U8 | F_Q, "RFC 6531 3.3 qtextSMTP"),
    BAD("utf8 bad byte",
        "a\xff"
        "b@example.com",
        0, "invalid UTF-8", "RFC 3629 3; RFC 6531 3.3"),
    BAD("utf8 overlong", "a\xc0\xaf@example.com", 0, "invalid UTF-8", "RFC 3629 3 (overlong)"),
    BAD("utf8 surrogate", "a\xed\xa0\x80@example.com", 0, "invalid UTF-8",
        "RFC 3629 3 (surrogates)"),
    BAD("utf8 truncated", "a\xe2\x82@example.com", 0, "invalid UTF-8", "RFC 3629 3"),
    BAD("utf8 nbsp",
        "a\xc2\xa0"
        "b@example.com",
        0, "space in address", "RFC 6530 10.1 (practical: look-alike space)"),
    BAD("utf8 c1 control",
        "a\xc2\x85"
        "b@example.com",
        0, "control character", "RFC 6532 3.1 (no C1 controls)"),

    /* IDN domains. */
    OK("idn buecher", "user@bücher.example", 0, "user@xn--bcher-kva.example",
       "user@xn--bcher-kva.example", "xn--bcher-kva.example", F_IDN,
       "RFC 5891 4.4; RFC 5890 2.3.2.1"),
    OK("idn muenchen upper", "user@MÜNCHEN.DE", 0, "user@xn--mnchen-3ya.de",
       "user@xn--mnchen-3ya.de", "xn--mnchen-3ya.de", F_IDN, "RFC 5891 5.2; UTS #46 mapping"),
    OK("idn japanese", "user@日本語.jp", 0, "user@xn--wgv71a119e.jp", "user@xn--wgv71a119e.jp",
       "xn--wgv71a119e.jp", F_IDN, "RFC 5891 4.4"),
    OK("idn fullwidth stop", "user@日本語。jp", 0, "user@xn--wgv71a119e.jp",
       "user@xn--wgv71a119e.jp", "xn--wgv71a119e.jp", F_IDN,
       "RFC 5895 2 / UTS #46 4 (dot mapping)"),
    OK("idn sharp s nontransitional", "user@faß.de", 0, "user@xn--fa-hia.de", "user@xn--fa-hia.de",
       "xn--fa-hia.de", F_IDN, "RFC 5892 (IDNA2008 PVALID); UTS #46"),
    OK("idn utf8 both", "jörg@bücher.example", 0, "jörg@xn--bcher-kva.example",
       "jörg@xn--bcher-kva.example", "xn--bcher-kva.example", F_IDN | F_U8, "RFC 6531 3.3"),
    OK("a-label given", "user@XN--BCHER-KVA.example", 0, "user@xn--bcher-kva.example",
       "user@xn--bcher-kva.example", "xn--bcher-kva.example", 0, "RFC 5891 5.4 (A-label check)"),
    BAD("a-label bad punycode", "user@xn--zz.example", 0, "invalid internationalised domain",
        "RFC 5891 5.4; RFC 3492 6.2"),
    BAD("a-label not idna2008", "user@xn--a-ecp.ru", 0, "invalid internationalised domain",
        "RFC 5892 2.6 (DISALLOWED)"),
    BAD("idn leading hyphen", "user@-bücher.example", 0, "invalid domain label",
        "RFC 5891 4.2.3.1"),
    BAD("idn empty label", "user@bücher..example", 0, "empty domain label", "RFC 1035 2.3.4"),
    BAD("idn bad utf8",
        "user@b\xfc"
        "cher.example",
        0, "invalid UTF-8", "RFC 3629 3; RFC 5891 5.1"),

    /* Missing or extra parts. */
    BAD("empty", "", 0, "empty address", "RFC 5321 4.1.2 Mailbox"),
    BAD("blanks only", " \t ", 0, "empty address", "RFC 5321 4.1.2 Mailbox"),
    BAD("no at", "user.example.com", 0, "missing @", "RFC 5321 4.1.2 Mailbox"),
    BAD("two ats", "a@b@c", 0, "more than one @", "RFC 5321 4.1.2 Mailbox"),
    BAD("two ats full", "a@b.com@example.com", 0, "more than one @", "RFC 5321 4.1.2 Mailbox"),
    BAD("empty local", "@example.com", 0, "empty local part", "RFC 5321 4.1.2 Local-part"),
    BAD("empty domain", "user@", 0, "empty domain", "RFC 5321 4.1.2 Domain"),
    BAD("bare at", "@", 0, "empty local part", "RFC 5321 4.1.2 Local-part"),

    /* Dots in the local part. */
    BAD("consecutive dots", "a..b@example.com", 0, "consecutive dots",
        "RFC 5322 3.2.3 dot-atom-text"),
    BAD("leading dot local", ".a@example.com", 0, "dot at start or end of local part",
        "RFC 5322 3.2.3 dot-atom-text"),
    BAD("trailing dot local", "a.@example.com", 0, "dot at start or end of local part",
        "RFC 5322 3.2.3 dot-atom-text"),
    BAD("only dot local", ".@example.com", 0, "dot at start or end of local part",
        "RFC 5322 3.2.3 dot-atom-text"),

    /* Characters outside atext. */
    BAD("comma in local", "a,b@example.com", 0, "invalid character in local part",
        "RFC 5322 3.2.3 atext"),
    BAD("brackets around", "<user@example.com>", 0, "invalid character in local part",
        "RFC 5322 3.4.1 addr-spec (no angle-addr)"),
    BAD("backslash unquoted", "a\\b@example.com", 0, "invalid character in local part",
        "RFC 5322 3.2.3 atext"),
    BAD("parens comment", "a(b)@example.com", 0, "invalid character in local part",
        "RFC 5321 4.1.2 (no comments in SMTP)"),

    /* Whitespace and controls. */
    BAD("space in local", "john doe@example.com", 0, "space in address", "RFC 5322 3.2.3 atext"),
    BAD("space in domain", "user@exa mple.com", 0, "space in address", "RFC 1035 2.3.1"),
    BAD("space before at", "user @example.com", 0, "space in address", "RFC 5321 4.1.2"),
    BAD("display name", "John <user@example.com>", 0, "space in address",
        "RFC 5322 3.4.1 addr-spec"),
    BAD("tab inside", "user\t@example.com", 0, "space in address", "RFC 5321 4.1.2"),
    BAD("tab in quotes", "\"a\tb\"@example.com", 0, "space in address",
        "RFC 5321 4.1.2 qtextSMTP (no HT)"),
    BAD("cr", "user@example.com\r", 0, "control character", "RFC 5321 4.1.2; 2.3.8"),
    BAD("lf", "user\n@example.com", 0, "control character", "RFC 5321 4.1.2; 2.3.8"),
    BAD("crlf injection", "user@example.com\r\nRCPT TO:<x@y.z>", 0, "control character",
        "RFC 5321 2.3.8 (header/command injection)"),
    {.label = "nul in local",
     BIN("us\0er@example.com"),
     .ok = 0,
     .reason = "control character",
     .rfc = "RFC 5321 4.1.2 (no NUL)"},
    {.label = "nul at end",
     BIN("user@example.com\0"),
     .ok = 0,
     .reason = "control character",
     .rfc = "RFC 5321 4.1.2 (no NUL)"},
    BAD("del",
        "us\x7f"
        "er@example.com",
        0, "control character", "RFC 5322 3.2.3 atext (no DEL)"),

    /* Domain labels. */
    BAD("leading dot domain", "user@.example.com", 0, "empty domain label", "RFC 1035 2.3.4"),
    BAD("trailing dot domain", "user@example.com.", 0, "empty domain label",
        "RFC 5321 4.1.2 (no root dot in Domain)"),
    BAD("trailing dot tld", "user@com.", 0, "empty domain label", "RFC 5321 4.1.2 Domain"),
    BAD("double dot domain", "user@example..com", 0, "empty domain label", "RFC 1035 2.3.4"),
    BAD("leading hyphen label", "user@-example.com", 0, "invalid domain label",
        "RFC 1035 2.3.1; RFC 3696 2"),
    BAD("trailing hyphen label", "user@example-.com", 0, "invalid domain label",
        "RFC 1035 2.3.1; RFC 3696 2"),
    BAD("underscore label", "user@exa_mple.com", 0, "invalid domain label", "RFC 1123 2.1"),
    BAD("bang in domain", "user@exam!ple.com", 0, "invalid domain label", "RFC 1035 2.3.1"),
    BAD("single label", "user@localhost", 0, "domain has no dot", "RFC 3696 2; RFC 5321 2.3.5"),
    BAD("numeric tld", "user@192.0.2.1", 0, "numeric top-level domain", "RFC 3696 2"),
    BAD("numeric tld 2", "user@example.123", 0, "numeric top-level domain", "RFC 3696 2"),

    /* IP literals. */
    BAD("ipv4 literal no flag", "user@[192.0.2.1]", 0, "IP literal not allowed",
        "RFC 5321 4.1.3 (policy)"),
    OK("ipv4 literal", "user@[192.0.2.1]", IPOK, "user@[192.0.2.1]", "user@[192.0.2.1]",
       "[192.0.2.1]", F_IP, "RFC 5321 4.1.3 IPv4-address-literal"),
    BAD("ipv6 literal no flag", "user@[IPv6:2001:db8::1]", 0, "IP literal not allowed",
        "RFC 5321 4.1.3 (policy)"),
    OK("ipv6 literal", "User@[IPv6:2001:DB8:0:0::1]", IPOK, "User@[IPv6:2001:db8::1]",
       "user@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]", F_IP, "RFC 5321 4.1.3 IPv6-addr"),
    OK("ipv6 tag any case", "user@[ipv6:::1]", IPOK, "user@[IPv6:::1]", "user@[IPv6:::1]",
       "[IPv6:::1]", F_IP, "RFC 5321 4.1.3; RFC 5234 2.3 (case-insensitive strings)"),
    BAD("ipv4 short", "user@[192.0.2]", IPOK, "invalid IP literal",
        "RFC 5321 4.1.3 IPv4-address-literal"),
    BAD("ipv4 big octet", "user@[192.0.2.256]", IPOK, "invalid IP literal", "RFC 5321 4.1.3 Snum"),
    BAD("ipv6 without tag", "user@[2001:db8::1]", IPOK, "invalid IP literal",
        "RFC 5321 4.1.3 IPv6-address-literal"),
    BAD("ipv6 bad", "user@[IPv6:2001:db8:::1]", IPOK, "invalid IP literal",
        "RFC 5321 4.1.3 IPv6-addr"),
    BAD("literal unclosed", "user@[192.0.2.1", IPOK, "invalid IP literal",
        "RFC 5321 4.1.3 address-literal"),
    BAD("general literal", "user@[x400:abc]", IPOK, "invalid IP literal",
        "RFC 5321 4.1.3 General-address-literal (no standardised tag)"),

    /* Length boundaries. */
    OK("local 64", L64 "@example.com", 0, L64 "@example.com", L64 "@example.com", "example.com", 0,
       "RFC 5321 4.5.3.1.1"),
    BAD("local 65", L64 "e@example.com", 0, "local part too long", "RFC 5321 4.5.3.1.1"),
    OK("quoted 64", "\"" S10 S10 S10 S10 S10 S10 "ab\"@example.com", 0,
       "\"" S10 S10 S10 S10 S10 S10 "ab\"@example.com",
       "\"" S10 S10 S10 S10 S10 S10 "ab\"@example.com", "example.com", F_Q,
       "RFC 5321 4.5.3.1.1 (quotes count)"),
    BAD("quoted 65", "\"" S10 S10 S10 S10 S10 S10 "abc\"@example.com", 0, "local part too long",
        "RFC 5321 4.5.3.1.1 (quotes count)"),
    OK("label 63", "user@" D63 ".com", 0, "user@" D63 ".com", "user@" D63 ".com", D63 ".com", 0,
       "RFC 1035 2.3.4; RFC 5890 2.3.1"),
    BAD("label 64", "user@" D63 "d.com", 0, "domain label too long", "RFC 1035 2.3.4"),
    OK("total 254", L64 "@" DOM189, 0, L64 "@" DOM189, L64 "@" DOM189, DOM189, 0,
       "RFC 5321 4.5.3.1.3 (256 path less <>)"),
    BAD("total 255", L64 "@" DOM190, 0, "address too long", "RFC 5321 4.5.3.1.3"),
    BAD("domain 255 total 257", "a@" DOM255, 0, "address too long", "RFC 5321 4.5.3.1.3"),
    BAD("domain 256", "a@" DOM256, 0, "domain too long", "RFC 5321 4.5.3.1.2"),
    BAD("idn label too long", "user@" S10 S10 S10 S10 S10 S10 "ü.com", 0, "domain label too long",
        "RFC 5890 2.3.2.1 (A-label <= 63)"),
};

static void
show(const char *what, const char *s, size_t n)
{
	fprintf(stderr, "%s \"", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fprintf(stderr, "\"\n");
}

static void
test_address_table(void **state)
{
	int failures = 0;

	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 70);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct acase *c = &cases[i];
		size_t n = c->n ? c->n : strlen(c->in);
		struct address a;
		const char *why = NULL;
		int rc;

		memset(&a, 0x5a, sizeof(a));
		rc = address_parse(c->in, n, c->flags, &a, &why);
		int good;
		if (c->ok) {
			good = rc == 0 && strcmp(a.email, c->email) == 0 &&
			       strcmp(a.key, c->key) == 0 && strcmp(a.domain, c->domain) == 0 &&
			       a.flags == c->oflags;
		} else {
			/* On failure *out must be untouched. */
			good = rc == -1 && why && strcmp(why, c->reason) == 0 &&
			       (unsigned char)a.email[0] == 0x5a && a.flags == 0x5a5a5a5au;
		}
		if (good)
			continue;
		failures++;
		fprintf(stderr, "FAIL [%s] (%s)\n", c->label, c->rfc);
		show("  input", c->in, n);
		if (c->ok)
			fprintf(stderr, "  want ok email=%s key=%s domain=%s flags=%u\n", c->email,
			        c->key, c->domain, c->oflags);
		else
			fprintf(stderr, "  want error \"%s\"\n", c->reason);
		if (rc == 0)
			fprintf(stderr, "  got  ok email=%s key=%s domain=%s flags=%u\n", a.email,
			        a.key, a.domain, a.flags);
		else
			fprintf(stderr, "  got  rc=%d error \"%s\"\n", rc, why ? why : "(null)");
	}
	assert_int_equal(failures, 0);
}

/* A NULL reason pointer is allowed; the result must not change. */
static void
test_address_null_reason(void **state)
{
	struct address a;

	(void)state;
	assert_int_equal(address_parse("a@b@c", 5, 0, &a, NULL), -1);
	assert_int_equal(address_parse("a@b.com", 7, 0, &a, NULL), 0);
	assert_string_equal(a.email, "a@b.com");
}

/* Only the first n bytes are read: a longer buffer without a NUL is fine. */
static void
test_address_length_bound(void **state)
{
	static const char buf[] = {'u', '@', 'e', 'x', '.', 'c', 'o', 'm', '@', 'x'};
	struct address a;
	const char *why;

	(void)state;
	assert_int_equal(address_parse(buf, 8, 0, &a, &why), 0);
	assert_string_equal(a.email, "u@ex.com");
	assert_int_equal(address_parse(buf, 10, 0, &a, &why), -1);
	assert_string_equal(why, "more than one @");
}

struct dcase {
	const char *label;
	const char *in;
	size_t outsz;
	int ok;
	const char *want; /* A-label form, or the reason */
	const char *rfc;
};

static const struct dcase dcases[] = {
    {"plain", "example.com", 256, 1, "example.com", "RFC 1035 2.3.1"},
    {"upper", "Mail.EXAMPLE.Com", 256, 1, "mail.example.com", "RFC 4343"},
    {"blanks trimmed", " example.com\t", 256, 1, "example.com", "practical"},
    {"idn", "bücher.example", 256, 1, "xn--bcher-kva.example", "RFC 5891 4.4"},
    {"idn upper", "MÜNCHEN.DE", 256, 1, "xn--mnchen-3ya.de", "UTS #46 mapping"},
    {"idn cjk", "日本語.jp", 256, 1, "xn--wgv71a119e.jp", "RFC 5891 4.4"},
    {"a-label", "xn--bcher-kva.example", 256, 1, "xn--bcher-kva.example", "RFC 5891 5.4"},
    {"exact fit", "example.com", 12, 1, "example.com", "API: outsz includes NUL"},
    {"domain 255", DOM255, 256, 1, DOM255, "RFC 5321 4.5.3.1.2"},
    {"domain 256", DOM256, 512, 0, "domain too long", "RFC 5321 4.5.3.1.2"},
    {"too small", "example.com", 11, 0, "domain too long", "API: outsz includes NUL"},
    {"empty", "", 256, 0, "empty domain", "RFC 1035 2.3.1"},
    {"no dot", "localhost", 256, 0, "domain has no dot", "RFC 3696 2"},
    {"trailing dot", "example.com.", 256, 0, "empty domain label", "RFC 5321 4.1.2"},
    {"numeric", "10.0.0.1", 256, 0, "numeric top-level domain", "RFC 3696 2"},
    {"space", "exa mple.com", 256, 0, "space in address", "RFC 1035 2.3.1"},
    {"literal", "[192.0.2.1]", 256, 0, "invalid domain label", "RFC 5321 4.1.3 (not a domain)"},
    {"with at", "user@example.com", 256, 0, "invalid domain label", "RFC 1035 2.3.1"},
    {"bad a-label", "xn--zz.example", 256, 0, "invalid internationalised domain", "RFC 5891 5.4"},
    {"hyphen", "example-.com", 256, 0, "invalid domain label", "RFC 1035 2.3.1"},
    {"label 64", D63 "x.com", 256, 0, "domain label too long", "RFC 1035 2.3.4"},
    {"control", "exam\nple.com", 256, 0, "control character", "RFC 1035 2.3.1"},
};

static void
test_address_parse_domain(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		char out[512];
		const char *why = NULL;

		memset(out, 'Z', sizeof(out));
		int rc = address_parse_domain(c->in, strlen(c->in), out, c->outsz, &why);
		int good = c->ok ? rc == 0 && strcmp(out, c->want) == 0
		                 : rc == -1 && why && strcmp(why, c->want) == 0 && out[0] == 'Z';
		if (good)
			continue;
		failures++;
		fprintf(stderr, "FAIL [%s] (%s)\n", c->label, c->rfc);
		show("  input", c->in, strlen(c->in));
		fprintf(stderr, "  want %s \"%s\"\n", c->ok ? "ok" : "error", c->want);
		if (rc == 0)
			fprintf(stderr, "  got  ok \"%s\"\n", out);
		else
			fprintf(stderr, "  got  error \"%s\"\n", why ? why : "(null)");
	}
	assert_int_equal(failures, 0);
}

struct pcase {
	const char *label;
	const char *in;
	size_t outsz;
	const char *want;
};

static const struct pcase pcases[] = {
    {"u-label", "xn--bcher-kva.example", 256, "bücher.example"},
    {"two u-labels", "xn--wgv71a119e.xn--mnchen-3ya.de", 256, "日本語.münchen.de"},
    {"ascii as is", "example.com", 256, "example.com"},
    {"ip literal as is", "[IPv6:2001:db8::1]", 256, "[IPv6:2001:db8::1]"},
    {"bad punycode as is", "xn--zz.example", 256, "xn--zz.example"},
    {"exact fit u-label", "xn--bcher-kva.example", 16, "bücher.example"},
    {"u-label does not fit", "xn--bcher-kva.example", 15, "xn--bcher-kva."},
    {"cut ascii", "example.com", 5, "exam"},
    {"one byte", "example.com", 1, ""},
    {"empty", "", 8, ""},
};

static void
test_address_domain_display(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		char out[300];

		memset(out, 'Z', sizeof(out));
		address_domain_display(c->in, out, c->outsz);
		/* Nothing past outsz may be written. */
		int good = strcmp(out, c->want) == 0 && out[c->outsz] == 'Z';
		if (good)
			continue;
		failures++;
		fprintf(stderr,
		        "FAIL [%s] input \"%s\" outsz %zu\n  want \"%s\"\n  got  \"%.*s\"\n",
		        c->label, c->in, c->outsz, c->want, (int)c->outsz, out);
	}
	/* outsz 0 writes nothing. */
	char one = 'Z';
	address_domain_display("example.com", &one, 0);
	if (one != 'Z') {
		failures++;
		fprintf(stderr, "FAIL [outsz 0] wrote a byte\n");
	}
	assert_int_equal(failures, 0);
}

/*
 * Golden files: cases.in has one case a line, "<mode> <input>", mode "-" or
 * "ip" (ADDRESS_ALLOW_IP_LITERAL); the input runs to the end of the line and
 * may use \t \r \n \\ \xHH escapes. Lines starting with '#' and empty lines are
 * skipped. cases.out has one line per case: "ok <email> <key> <domain> <flags>"
 * or "err <reason>".
 */
static size_t
unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (s[0] == '\\' && s[1]) {
			char c = s[1];
			s += 2;
			if (c == 't') {
				out[n++] = '\t';
			} else if (c == 'r') {
				out[n++] = '\r';
			} else if (c == 'n') {
				out[n++] = '\n';
			} else if (c == 'x' && s[0] && s[1]) {
				char hex[3] = {s[0], s[1], 0};
				out[n++] = (char)strtoul(hex, NULL, 16);
				s += 2;
			} else {
				out[n++] = c;
			}
		} else {
			out[n++] = *s++;
		}
	}
	return n;
}

static void
datapath(char *buf, size_t sz, const char *name)
{
	const char *dir = getenv("KIRIM_TESTDATA");

	snprintf(buf, sz, "%s/address/%s", dir && *dir ? dir : "tests/data", name);
}

static void
test_address_golden(void **state)
{
	char inpath[4096], outpath[4096], line[2048], want[2048], input[2048], got[2048];
	const char *update = getenv("KIRIM_UPDATE_GOLDEN");
	int failures = 0, count = 0;

	(void)state;
	datapath(inpath, sizeof(inpath), "cases.in");
	datapath(outpath, sizeof(outpath), "cases.out");
	FILE *in = fopen(inpath, "r");
	if (!in)
		fail_msg("cannot open %s (set KIRIM_TESTDATA)", inpath);
	FILE *out = fopen(outpath, update && *update == '1' ? "w" : "r");
	if (!out)
		fail_msg("cannot open %s", outpath);
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		unsigned flags = strncmp(line, "ip ", 3) == 0 ? ADDRESS_ALLOW_IP_LITERAL : 0;
		const char *sp = strchr(line, ' ');
		assert_non_null(sp);
		size_t n = unescape(sp + 1, input);
		struct address a;
		const char *why;
		if (address_parse(input, n, flags, &a, &why) == 0)
			snprintf(got, sizeof(got), "ok %s %s %s %u", a.email, a.key, a.domain,
			         a.flags);
		else
			snprintf(got, sizeof(got), "err %s", why);
		count++;
		if (update && *update == '1') {
			fprintf(out, "%s\n", got);
			continue;
		}
		if (!fgets(want, sizeof(want), out))
			want[0] = '\0';
		want[strcspn(want, "\n")] = '\0';
		if (strcmp(got, want) != 0) {
			failures++;
			fprintf(stderr, "FAIL %s line \"%s\"\n  want %s\n  got  %s\n", inpath, line,
			        want, got);
		}
	}
	fclose(in);
	fclose(out);
	assert_true(count > 0);
	assert_int_equal(failures, 0);
}

static void
test_address_mask(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} masks[] = {
	    {"johndoe@example.com", "jo\u2022\u2022\u2022@e\u2022\u2022\u2022.com"},
	    {"ann@one.example", "a\u2022\u2022\u2022@o\u2022\u2022\u2022.example"},
	    {"bobo@x.co.uk", "b\u2022\u2022\u2022@x\u2022\u2022\u2022.uk"},
	    {"bobby@localhost", "bo\u2022\u2022\u2022@l\u2022\u2022\u2022"},
	    {"x@y", "x\u2022\u2022\u2022@y\u2022\u2022\u2022"},
	    {"D\u00f6rte.S@xn--srensen-90a.example",
	     "D\u00f6\u2022\u2022\u2022@x\u2022\u2022\u2022.example"},
	    {"\u7528\u6237@example.com", "\u7528\u2022\u2022\u2022@e\u2022\u2022\u2022.com"},
	    {"nodomain", "no\u2022\u2022\u2022"},
	    {"", "\u2022\u2022\u2022"},
	};
	int fails = 0;
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		char out[ADDRESS_MAX + 16];
		address_mask(masks[i].in, out, sizeof(out));
		if (strcmp(out, masks[i].want) != 0) {
			print_error("%s: got [%s] want [%s]\n", masks[i].in, out, masks[i].want);
			fails++;
		}
	}
	/* A small buffer cuts, NUL-terminated. */
	char small[6];
	address_mask("johndoe@example.com", small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_address_table),
	    cmocka_unit_test(test_address_null_reason),
	    cmocka_unit_test(test_address_mask),
	    cmocka_unit_test(test_address_length_bound),
	    cmocka_unit_test(test_address_parse_domain),
	    cmocka_unit_test(test_address_domain_display),
	    cmocka_unit_test(test_address_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
