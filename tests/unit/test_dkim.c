/*
 * test_dkim - unit tests for the DKIM signer, and its check against dkimpy.
 *
 * Keys are made at test time. The dkimpy check writes signed messages and the
 * TXT record to a temporary directory and runs
 * /usr/bin/python3 $KIRIM_SRC/tests/integration/dkim_verify.py on them.
 * KIRIM_BENCH=1 adds a signing-rate measurement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "kirim/buf.h"
#include "kirim/dkim.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct dkim_key *rsa_key, *ed_key;

static int
setup_keys(void **state)
{
	struct buf pem = BUF_INIT;
	char err[256];

	(void)state;
	if (dkim_keygen(DKIM_KEY_RSA, 2048, &pem, err, sizeof(err)) < 0 ||
	    dkim_key_load(pem.data, pem.len, &rsa_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "rsa key: %s\n", err);
		return -1;
	}
	buf_reset(&pem);
	if (dkim_keygen(DKIM_KEY_ED25519, 0, &pem, err, sizeof(err)) < 0 ||
	    dkim_key_load(pem.data, pem.len, &ed_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "ed25519 key: %s\n", err);
		return -1;
	}
	buf_free(&pem);
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	dkim_key_free(rsa_key);
	dkim_key_free(ed_key);
	return 0;
}

/* Print bytes with CR, LF and TAB made visible, for failure messages. */
static const char *
show(const char *p, size_t n, struct buf *b)
{
	buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			buf_adds(b, "\\r");
		else if (p[i] == '\n')
			buf_adds(b, "\\n");
		else if (p[i] == '\t')
			buf_adds(b, "\\t");
		else
			buf_addc(b, p[i]);
	}
	return b->data ? b->data : "";
}

/* ---- canonicalization ---- */

struct canon_case {
	const char *label;
	const char *in;
	const char *want; /* NULL: an error */
};

static const struct canon_case header_cases[] = {
    {"plain", "Subject: Hello", "subject:Hello\r\n"},
    {"final CRLF dropped", "Subject: Hello\r\n", "subject:Hello\r\n"},
    {"name lower-cased", "SUBJECT: Hello", "subject:Hello\r\n"},
    {"WSP before colon", "Subject \t: x", "subject:x\r\n"},
    {"WSP after colon", "Subject:\t  x", "subject:x\r\n"},
    {"WSP runs", "To:  a \t b  c", "to:a b c\r\n"},
    {"trailing WSP", "To: a b \t ", "to:a b\r\n"},
    {"folded", "Subject: a\r\n\tb\r\n  c", "subject:a b c\r\n"},
    {"fold after colon", "Subject:\r\n b", "subject:b\r\n"},
    {"fold with trailing WSP", "Subject: a  \r\n\t  b \r\n ", "subject:a b\r\n"},
    {"RFC 6376 3.4.5 A", "A: X", "a:X\r\n"},
    {"RFC 6376 3.4.5 B", "B : Y\t\r\n\tZ  ", "b:Y Z\r\n"},
    {"empty value", "X-Empty:", "x-empty:\r\n"},
    {"blank value", "X-Empty:  \t", "x-empty:\r\n"},
    {"value case kept", "X-A: MiXeD CaSe", "x-a:MiXeD CaSe\r\n"},
    {"8-bit kept", "Subject: caf\xc3\xa9  au lait", "subject:caf\xc3\xa9 au lait\r\n"},
    {"colon in value", "Subject: a: b", "subject:a: b\r\n"},
    {"no colon", "Subject Hello", NULL},
    {"empty name", ": x", NULL},
    {"leading WSP", " Subject: x", NULL},
    {"space in name", "Sub ject: x", NULL},
    {"bare LF", "Subject: a\nb", NULL},
    {"bare CR", "Subject: a\rb", NULL},
    {"CRLF not a fold", "Subject: a\r\nb", NULL},
    {"CR at end", "Subject: a\r", NULL},
};

static void
test_canon_header(void **state)
{
	struct buf out = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT;
	int fails = 0;

	(void)state;
	for (size_t i = 0; i < COUNT(header_cases); i++) {
		const struct canon_case *c = &header_cases[i];
		buf_reset(&out);
		buf_adds(&out, "keep");
		int rc = dkim_canon_header(c->in, strlen(c->in), &out);
		if (c->want == NULL) {
			if (rc == 0 || strcmp(out.data, "keep") != 0) {
				print_error(
				    "%s: got \"%s\" (rc %d), want an error and out untouched\n",
				    c->label, show(out.data, out.len, &s1), rc);
				fails++;
			}
			continue;
		}
		if (rc != 0 || out.len != 4 + strlen(c->want) ||
		    memcmp(out.data + 4, c->want, out.len - 4)) {
			print_error("%s: got \"%s\" (rc %d), want \"%s\"\n", c->label,
			            show(out.data + 4, out.len - 4, &s1), rc,
			            show(c->want, strlen(c->want), &s2));
			fails++;
		}
	}
	buf_free(&out);
	buf_free(&s1);
	buf_free(&s2);
	assert_int_equal(fails, 0);
}

static const struct canon_case body_cases[] = {
    {"empty", "", ""},
    {"one CRLF", "\r\n", ""},
    {"only blank lines", "\r\n\r\n\r\n", ""},
    {"only WSP lines", "  \r\n\t\r\n \t \r\n", ""},
    {"WSP without CRLF", "   ", ""},
    {"plain", "abc\r\n", "abc\r\n"},
    {"no final CRLF", "abc", "abc\r\n"},
    {"trailing blank lines", "abc\r\n\r\n\r\n", "abc\r\n"},
    {"trailing WSP lines", "abc\r\n  \r\n \t \r\n", "abc\r\n"},
    {"trailing WSP line, no CRLF", "abc\r\n  ", "abc\r\n"},
    {"inner blank lines kept", "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n"},
    {"inner WSP lines emptied", "a\r\n \r\n\t\r\nb\r\n", "a\r\n\r\n\r\nb\r\n"},
    {"leading blank lines kept", "\r\n\r\nx\r\n", "\r\n\r\nx\r\n"},
    {"leading WSP line emptied", " \r\nx\r\n", "\r\nx\r\n"},
    {"WSP runs", "a  b\t\tc \t d\r\n", "a b c d\r\n"},
    {"single SP kept", "a b c\r\n", "a b c\r\n"},
    {"single TAB to SP", "a\tb\r\n", "a b\r\n"},
    {"trailing WSP", "a  \r\nb\t\r\n", "a\r\nb\r\n"},
    {"leading WSP to one SP", "  a\r\n\t\tb\r\n", " a\r\n b\r\n"},
    {"leading WSP, no CRLF", "x\r\n\r\n  y", "x\r\n\r\n y\r\n"},
    {"RFC 6376 3.4.5", " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
    {"blank then text then blank", "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"},
    {"WSP lines between text", "a\r\n \r\nb \r\n\t\r\n", "a\r\n\r\nb\r\n"},
    {"control bytes are text", "a\x01 \x7f\r\n", "a\x01 \x7f\r\n"},
    {"8-bit", "caf\xc3\xa9  \xe2\x82\xac\r\n", "caf\xc3\xa9 \xe2\x82\xac\r\n"},
    {"bare LF", "a\nb\r\n", NULL},
    {"bare CR", "a\rb\r\n", NULL},
    {"CR at end", "a\r", NULL},
    {"LF first", "\n", NULL},
};

static void
test_canon_body(void **state)
{
	struct buf out = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT;
	int fails = 0;

	(void)state;
	for (size_t i = 0; i < COUNT(body_cases); i++) {
		const struct canon_case *c = &body_cases[i];
		buf_reset(&out);
		buf_adds(&out, "keep");
		int rc = dkim_canon_body(c->in, strlen(c->in), &out);
		if (c->want == NULL) {
			if (rc == 0 || strcmp(out.data, "keep") != 0) {
				print_error(
				    "%s: got \"%s\" (rc %d), want an error and out untouched\n",
				    c->label, show(out.data, out.len, &s1), rc);
				fails++;
			}
			continue;
		}
		if (rc != 0 || out.len != 4 + strlen(c->want) ||
		    memcmp(out.data + 4, c->want, out.len - 4)) {
			print_error("%s: got \"%s\" (rc %d), want \"%s\"\n", c->label,
			            show(out.data + 4, out.len - 4, &s1), rc,
			            show(c->want, strlen(c->want), &s2));
			fails++;
		}
	}
	buf_free(&out);
	buf_free(&s1);
	buf_free(&s2);
	assert_int_equal(fails, 0);
}

/* RFC 6376 3.4.4 written the obvious way, line by line, to check the one-pass version. */
static void
naive_body(const char *p, size_t n, struct buf *out)
{
	struct buf lines = BUF_INIT; /* canonical lines, each followed by CRLF */
	size_t keep = 0;             /* length of lines up to the last non-empty one */
	size_t i = 0;

	while (i < n) {
		size_t start = lines.len;
		int pend = 0;
		while (i < n && !(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')) {
			if (p[i] == ' ' || p[i] == '\t') {
				pend = 1;
			} else {
				if (pend)
					buf_addc(&lines, ' ');
				pend = 0;
				buf_addc(&lines, p[i]);
			}
			i++;
		}
		int empty = lines.len == start;
		buf_add(&lines, "\r\n", 2);
		if (!empty)
			keep = lines.len;
		if (i < n)
			i += 2;
	}
	buf_add(out, lines.data, keep);
	buf_free(&lines);
}

/*
 * canon_random - iters random inputs (a prefix from prefixes, then up to maxlen pieces)
 * through canon and against naive, which must agree byte for byte
 */
static void
canon_random(int (*canon)(const char *, size_t, struct buf *),
             void (*naive)(const char *, size_t, struct buf *), const char *const *prefixes,
             size_t nprefixes, const char *const *pieces, size_t npieces, int maxlen, unsigned seed)
{
	struct buf in = BUF_INIT, got = BUF_INIT, want = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT,
	           s3 = BUF_INIT;

	for (int iter = 0; iter < 50000; iter++) {
		buf_reset(&in);
		buf_reset(&got);
		buf_reset(&want);
		if (nprefixes)
			buf_adds(&in, prefixes[rand_r(&seed) % nprefixes]);
		int len = rand_r(&seed) % maxlen;
		for (int k = 0; k < len; k++)
			buf_adds(&in, pieces[rand_r(&seed) % npieces]);
		assert_int_equal(canon(in.data ? in.data : "", in.len, &got), 0);
		naive(in.data ? in.data : "", in.len, &want);
		if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len))) {
			print_error("input \"%s\": got \"%s\", want \"%s\"\n",
			            show(in.data, in.len, &s1), show(got.data, got.len, &s2),
			            show(want.data, want.len, &s3));
			fail();
		}
	}
	buf_free(&in);
	buf_free(&got);
	buf_free(&want);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&s3);
}

static void
test_canon_body_random(void **state)
{
	static const char *const pieces[] = {
	    "a",
	    "b",
	    " ",
	    " ",
	    "\t",
	    "\r\n",
	    "\r\n",
	    "xyz",
	    /* Long plain runs, for the 16-byte block scan. */
	    "lorem ipsum dolor sit amet, consectetur adipiscing elit",
	    "0123456789abcdef0123456789abcdef",
	    "a b c d e f g h i j k l m n o p q r s t ",
	};

	(void)state;
	canon_random(dkim_canon_body, naive_body, NULL, 0, pieces, COUNT(pieces), 32, 6376);
}

/* The relaxed form of one valid field, byte by byte, as RFC 6376 3.4.2 words it. */
static void
naive_header(const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	while (p[i] != ':' && p[i] != ' ' && p[i] != '\t')
		buf_addc(out, (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i++] + 32 : p[i++]));
	while (p[i] != ':')
		i++;
	buf_addc(out, ':');
	int pend = 0, started = 0;
	for (i++; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++; /* a fold: CRLF goes, the WSP after it counts */
			continue;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			pend = 1;
			continue;
		}
		if (pend && started)
			buf_addc(out, ' ');
		buf_addc(out, p[i]);
		pend = 0;
		started = 1;
	}
	buf_add(out, "\r\n", 2);
}

/* Random fields against naive_header: runs of text longer than a 16-byte block, 8-bit and
 * control bytes inside runs, folds, WSP runs and WSP at the ends. */
static void
test_canon_header_random(void **state)
{
	static const char *const names[] = {"Subject:", "X-Long-Name-For-Blocks:", "to:", "FROM :"};
	static const char *const pieces[] = {
	    "a",
	    "B",
	    " ",
	    "  ",
	    "\t",
	    "\r\n ",
	    "\r\n\t",
	    "\xc3\xa9",
	    "\x01",
	    "\x7f",
	    ":",
	    ";",
	    "0123456789abcdef0123456789abcdef",
	    "https://example.com/u/AbCdEfGhIjKlMnOpQrStUvWxYz",
	};

	(void)state;
	canon_random(dkim_canon_header, naive_header, names, COUNT(names), pieces, COUNT(pieces),
	             24, 5322);
}

/* ---- signing ---- */

/* The value of tag name in a DKIM-Signature field, unfolded and without whitespace. */
static int
get_tag(const char *hdr, const char *name, struct buf *out)
{
	const char *p = strchr(hdr, ':');
	size_t nl = strlen(name);

	buf_reset(out);
	if (p == NULL)
		return -1;
	p++;
	while (*p) {
		const char *semi = strchr(p, ';');
		const char *e = semi ? semi : p + strlen(p);
		const char *a = p;
		while (a < e && strchr(" \t\r\n", *a))
			a++;
		if ((size_t)(e - a) > nl && strncmp(a, name, nl) == 0 && a[nl] == '=') {
			for (const char *c = a + nl + 1; c < e; c++)
				if (!strchr(" \t\r\n", *c))
					buf_addc(out, *c);
			if (out->data == NULL)
				buf_adds(out, "");
			return 0;
		}
		if (!semi)
			break;
		p = semi + 1;
	}
	return -1;
}

static struct dkim_signer *
new_signer(struct dkim_key *key)
{
	struct dkim_signer *s = NULL;
	char err[256] = "";

	if (dkim_signer_new(key, "example.com", "sel2024", &s, err, sizeof(err)) < 0) {
		print_error("dkim_signer_new: %s\n", err);
		fail();
	}
	return s;
}

struct select_case {
	const char *label;
	const char *msg;
	const char *want_h;
};

static const struct select_case select_cases[] = {
    {"From only", "From: a@example.com\r\n\r\nhi\r\n", "from:from"},
    {"list order, not message order",
     "Subject: s\r\nTo: b@example.net\r\nMessage-ID: <1@x>\r\nFrom: a@example.com\r\n"
     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nhi\r\n",
     "from:from:subject:date:to:message-id"},
    {"unlisted fields left out",
     "Received: from x\r\nReturn-Path: <a@example.com>\r\nX-Mailer: kirim\r\n"
     "DKIM-Signature: v=1; old\r\nFrom: a@example.com\r\nX-Foo: bar\r\n\r\n",
     "from:from"},
    {"every listed name",
     "From: a@example.com\r\nReply-To: r@example.com\r\nSubject: s\r\nDate: d\r\n"
     "To: t@example.net\r\nCc: c@example.net\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <i@x>\r\n"
     "References: <i@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
     "Content-Transfer-Encoding: 7bit\r\nList-Unsubscribe: <mailto:u@x>\r\n"
     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nList-Id: <l.x>\r\n"
     "Feedback-ID: 1:2:3:kirim\r\n\r\nbody\r\n",
     "from:from:reply-to:subject:date:to:cc:message-id:in-reply-to:references:mime-version:"
     "content-type:content-transfer-encoding:list-unsubscribe:list-unsubscribe-post:list-id:"
     "feedback-id"},
    {"names match case-insensitively", "FROM: a@example.com\r\nsUbJeCt: s\r\n\r\n",
     "from:from:subject"},
    {"every instance listed", "To: a@x\r\nFrom: a@example.com\r\nTo: b@x\r\nTo: c@x\r\n\r\n",
     "from:from:to:to:to"},
    {"two From, over-signed once more", "From: a@example.com\r\nFrom: b@example.com\r\n\r\n",
     "from:from:from"},
    {"List-Unsubscribe-Post is not List-Unsubscribe",
     "From: a@x\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n",
     "from:from:list-unsubscribe-post"},
    {"WSP before colon", "From : a@example.com\r\nSubject\t: s\r\n\r\n", "from:from:subject"},
    {"folded fields", "From: a\r\n <a@example.com>\r\nTo: x,\r\n\ty\r\n\r\n", "from:from:to"},
    {"no body", "From: a@example.com\r\nSubject: s\r\n", "from:from:subject"},
    {"no final CRLF", "From: a@example.com", "from:from"},
    {"prefix of a name is not the name", "Fromage: x\r\nFrom: a@x\r\nTo-Do: x\r\n\r\n",
     "from:from"},
    {"fields in body ignored", "From: a@x\r\n\r\nSubject: not a header\r\n", "from:from"},
};

static void
test_header_selection(void **state)
{
	struct dkim_signer *s = new_signer(ed_key);
	struct buf out = BUF_INIT, h = BUF_INIT;
	char err[256];
	int fails = 0;

	(void)state;
	for (size_t i = 0; i < COUNT(select_cases); i++) {
		const struct select_case *c = &select_cases[i];
		buf_reset(&out);
		err[0] = '\0';
		if (dkim_sign(s, c->msg, strlen(c->msg), 0, &out, err, sizeof(err)) < 0) {
			print_error("%s: error %s, want h=%s\n", c->label, err, c->want_h);
			fails++;
			continue;
		}
		if (get_tag(out.data, "h", &h) < 0 || strcmp(h.data, c->want_h) != 0) {
			print_error("%s: got h=%s, want h=%s\n", c->label,
			            h.data ? h.data : "(none)", c->want_h);
			fails++;
		}
	}
	dkim_signer_free(s);
	buf_free(&out);
	buf_free(&h);
	assert_int_equal(fails, 0);
}

struct error_case {
	const char *label;
	const char *msg;
	size_t len;       /* 0: strlen(msg) */
	const char *want; /* a substring of the error message */
};

static void
test_sign_errors(void **state)
{
	struct dkim_signer *s = new_signer(rsa_key);
	struct buf out = BUF_INIT, big = BUF_INIT;
	char err[256];
	int fails = 0;

	(void)state;
	buf_adds(&big, "From: a@example.com\r\n");
	while (big.len <= DKIM_HEADER_MAX)
		buf_adds(&big,
		         "X-Filler: 0123456789012345678901234567890123456789012345678901234\r\n");
	buf_adds(&big, "\r\nbody\r\n");
	const struct error_case cases[] = {
	    {"empty message", "", 0, "no From"},
	    {"no From", "To: a@example.com\r\nSubject: s\r\n\r\nbody\r\n", 0, "no From"},
	    {"From only in body", "To: a@x\r\n\r\nFrom: a@x\r\n", 0, "no From"},
	    {"no header section", "\r\nFrom: a@x\r\n", 0, "no From"},
	    {"starts with continuation", " From: a@x\r\n\r\n", 0, "continuation"},
	    {"field without colon", "From: a@x\r\nGarbage line\r\n\r\n", 0, "malformed"},
	    {"bare LF in header", "From: a@x\nTo: b@x\r\n\r\n", 0, "bare LF"},
	    {"bare CR in header", "From: a@x\rTo: b@x\r\n\r\n", 0, "bare CR"},
	    {"bare LF in body", "From: a@x\r\n\r\nline\nline\r\n", 0, "bare CR or LF"},
	    {"bare CR in body", "From: a@x\r\n\r\nline\rline\r\n", 0, "bare CR or LF"},
	    {"header section too long", big.data, big.len, "longer than"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct error_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->msg);
		buf_reset(&out);
		buf_adds(&out, "keep");
		err[0] = '\0';
		int rc = dkim_sign(s, c->msg, len, 1700000000, &out, err, sizeof(err));
		if (rc == 0 || strstr(err, c->want) == NULL || strcmp(out.data, "keep") != 0) {
			print_error("%s: got rc %d err \"%s\", want an error with \"%s\"\n",
			            c->label, rc, err, c->want);
			fails++;
		}
	}
	err[0] = '\0';
	if (dkim_sign(s, "From: a@x\r\n\r\n", 13, -1, &out, err, sizeof(err)) == 0) {
		print_error("negative timestamp accepted\n");
		fails++;
	}
	/* A NUL err buffer is allowed. */
	assert_int_equal(dkim_sign(s, "", 0, 0, &out, NULL, 0), -1);
	dkim_signer_free(s);
	buf_free(&out);
	buf_free(&big);
	assert_int_equal(fails, 0);
}

/* PEM text of pkey, written by OpenSSL directly: traditional or PKCS#8, maybe encrypted. */
static void
pem_of(EVP_PKEY *pkey, int traditional, int encrypt, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	assert_non_null(bio);
	if (traditional)
		ok = PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL);
	else if (encrypt)
		ok = PEM_write_bio_PrivateKey(bio, pkey, EVP_aes_128_cbc(), NULL, 0, NULL,
		                              (void *)"secret");
	else
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	assert_int_equal(ok, 1);
	n = BIO_get_mem_data(bio, &data);
	buf_reset(out);
	buf_add(out, data, (size_t)n);
	BIO_free(bio);
}

static void
test_key_load(void **state)
{
	struct buf pem = BUF_INIT, txt = BUF_INIT;
	struct dkim_key *k = NULL;
	char err[256];
	EVP_PKEY *pk;
	int fails = 0;

	(void)state;
	/* PKCS#1 "RSA PRIVATE KEY", as older tools write it. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(pk);
	pem_of(pk, 1, 0, &pem);
	assert_non_null(strstr(pem.data, "BEGIN RSA PRIVATE KEY"));
	assert_int_equal(dkim_key_load(pem.data, pem.len, &k, err, sizeof(err)), 0);
	assert_int_equal(dkim_key_type(k), DKIM_KEY_RSA);
	dkim_key_free(k);
	k = NULL;
	/* Encrypted: refused, and never a passphrase prompt. */
	pem_of(pk, 0, 1, &pem);
	assert_non_null(strstr(pem.data, "ENCRYPTED"));
	err[0] = '\0';
	if (dkim_key_load(pem.data, pem.len, &k, err, sizeof(err)) == 0 || k != NULL) {
		print_error("encrypted key loaded\n");
		fails++;
	}
	EVP_PKEY_free(pk);

	/* Too small. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	assert_non_null(pk);
	pem_of(pk, 0, 0, &pem);
	err[0] = '\0';
	if (dkim_key_load(pem.data, pem.len, &k, err, sizeof(err)) == 0 || !strstr(err, "512")) {
		print_error("512-bit RSA: got \"%s\", want a refusal naming 512 bits\n", err);
		fails++;
	}
	EVP_PKEY_free(pk);

	/* Another type. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pk);
	pem_of(pk, 0, 0, &pem);
	err[0] = '\0';
	if (dkim_key_load(pem.data, pem.len, &k, err, sizeof(err)) == 0 ||
	    !strstr(err, "unsupported")) {
		print_error("EC key: got \"%s\", want unsupported\n", err);
		fails++;
	}
	EVP_PKEY_free(pk);

	/* Not a key at all, a public key, truncated, empty, too large. */
	struct buf pub = BUF_INIT;
	dkim_pubkey_txt(rsa_key, &txt);
	const char *bad[] = {
	    "hello",
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
	    "-----END PUBLIC KEY-----\n",
	};
	for (size_t i = 0; i < COUNT(bad); i++) {
		err[0] = '\0';
		if (dkim_key_load(bad[i], strlen(bad[i]), &k, err, sizeof(err)) == 0 || !err[0]) {
			print_error("bad PEM %zu accepted\n", i);
			fails++;
		}
	}
	err[0] = '\0';
	if (dkim_key_load("", 0, &k, err, sizeof(err)) == 0 || !strstr(err, "empty")) {
		print_error("empty PEM: got \"%s\"\n", err);
		fails++;
	}
	buf_reset(&pub);
	while (pub.len <= DKIM_PEM_MAX)
		buf_adds(&pub, "0123456789abcdef0123456789abcdef\n");
	err[0] = '\0';
	if (dkim_key_load(pub.data, pub.len, &k, err, sizeof(err)) == 0 || !strstr(err, "larger")) {
		print_error("huge PEM: got \"%s\"\n", err);
		fails++;
	}
	dkim_key_free(NULL);
	assert_null(k);
	buf_free(&pub);
	buf_free(&pem);
	buf_free(&txt);
	assert_int_equal(fails, 0);
}

static void
test_keygen_and_txt(void **state)
{
	struct buf pem = BUF_INIT, txt = BUF_INIT;
	char err[256];

	(void)state;
	assert_int_equal(dkim_pubkey_txt(rsa_key, &txt), 0);
	assert_true(strncmp(txt.data, "v=DKIM1; k=rsa; p=MIIBIjAN", 26) == 0);
	assert_int_equal(strlen(txt.data), strlen("v=DKIM1; k=rsa; p=") + 392);
	buf_reset(&txt);
	assert_int_equal(dkim_pubkey_txt(ed_key, &txt), 0);
	assert_true(strncmp(txt.data, "v=DKIM1; k=ed25519; p=", 22) == 0);
	assert_int_equal(strlen(txt.data), 22 + 44);
	assert_int_equal(dkim_key_type(ed_key), DKIM_KEY_ED25519);

	assert_int_equal(dkim_keygen(DKIM_KEY_RSA, 512, &pem, err, sizeof(err)), -1);
	assert_int_equal(dkim_keygen((enum dkim_key_type)7, 0, &pem, err, sizeof(err)), -1);
	assert_int_equal(pem.len, 0);
	assert_int_equal(dkim_keygen(DKIM_KEY_ED25519, 0, &pem, err, sizeof(err)), 0);
	assert_true(strncmp(pem.data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	buf_free(&pem);
	buf_free(&txt);
}

static void
test_signer_new(void **state)
{
	struct {
		const char *domain, *selector;
		int ok;
	} cases[] = {
	    {"example.com", "s1", 1},
	    {"mail.example.co.uk", "2024-01._x", 1},
	    {"xn--bcher-kva.example", "sel", 1},
	    {"", "s1", 0},
	    {"example.com", "", 0},
	    {"exa mple.com", "s1", 0},
	    {"example..com", "s1", 0},
	    {".example.com", "s1", 0},
	    {"example.com.", "s1", 0},
	    {"example.com", "s;1", 0},
	    {"example.com", "s=1", 0},
	    {"b\xc3\xbc"
	     "cher.example",
	     "s1", 0},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "s", 0},
	};
	int fails = 0;

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct dkim_signer *s = NULL;
		char err[256] = "";
		int rc = dkim_signer_new(ed_key, cases[i].domain, cases[i].selector, &s, err,
		                         sizeof(err));
		if ((rc == 0) != cases[i].ok || (rc == 0) != (s != NULL)) {
			print_error("d=%s s=%s: got rc %d (%s), want %s\n", cases[i].domain,
			            cases[i].selector, rc, err, cases[i].ok ? "ok" : "error");
			fails++;
		}
		dkim_signer_free(s);
	}
	dkim_signer_free(NULL);
	assert_int_equal(fails, 0);
}

/* Every line of the field at most 78 columns (TAB = 8), folds are CRLF TAB, ends in CRLF. */
static void
check_shape(const char *hdr, size_t len)
{
	size_t col = 0;

	assert_true(len > 20);
	assert_memory_equal(hdr, "DKIM-Signature: v=1; a=", 23);
	assert_memory_equal(hdr + len - 2, "\r\n", 2);
	for (size_t i = 0; i < len; i++) {
		if (hdr[i] == '\r') {
			assert_int_equal(hdr[i + 1], '\n');
			if (i + 2 < len)
				assert_int_equal(hdr[i + 2], '\t');
			assert_true(col <= 78);
			col = 0;
			i++;
			continue;
		}
		assert_true(hdr[i] != '\n');
		col += hdr[i] == '\t' ? 8 : 1;
	}
}

static void
test_sign_shape(void **state)
{
	struct dkim_key *keys[] = {rsa_key, ed_key};
	const char *algs[] = {"rsa-sha256", "ed25519-sha256"};
	const char *msg = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\n";
	const char *msg2 = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHi\r\n";
	struct buf out = BUF_INIT, again = BUF_INIT, tag = BUF_INIT, lots = BUF_INIT;
	char err[256];

	(void)state;
	/* Many To fields make an h= list that has to fold. */
	buf_adds(&lots, "From: a@example.com\r\n");
	for (int i = 0; i < 40; i++)
		buf_printf(&lots, "To: u%d@example.net\r\nReferences: <%d@x>\r\n", i, i);
	buf_adds(&lots, "\r\nbody\r\n");
	for (size_t k = 0; k < COUNT(keys); k++) {
		struct dkim_signer *s = new_signer(keys[k]);
		buf_reset(&out);
		assert_int_equal(dkim_sign(s, msg, strlen(msg), 1700000000, &out, err, sizeof(err)),
		                 0);
		check_shape(out.data, out.len);
		assert_int_equal(get_tag(out.data, "a", &tag), 0);
		assert_string_equal(tag.data, algs[k]);
		assert_int_equal(get_tag(out.data, "c", &tag), 0);
		assert_string_equal(tag.data, "relaxed/relaxed");
		assert_int_equal(get_tag(out.data, "d", &tag), 0);
		assert_string_equal(tag.data, "example.com");
		assert_int_equal(get_tag(out.data, "s", &tag), 0);
		assert_string_equal(tag.data, "sel2024");
		assert_int_equal(get_tag(out.data, "t", &tag), 0);
		assert_string_equal(tag.data, "1700000000");
		/* Empty body: SHA-256 of the empty string. */
		assert_int_equal(get_tag(out.data, "bh", &tag), 0);
		assert_string_equal(tag.data, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
		assert_int_equal(get_tag(out.data, "b", &tag), 0);
		assert_int_equal(tag.len, k == 0 ? 344 : 88);
		/* Both algorithms are deterministic, and a signer is reusable. */
		buf_reset(&again);
		assert_int_equal(
		    dkim_sign(s, msg2, strlen(msg2), 1700000000, &again, err, sizeof(err)), 0);
		assert_int_equal(get_tag(again.data, "bh", &tag), 0);
		/* Body "Hi\r\n": printf 'Hi\r\n' | openssl dgst -sha256 -binary | base64 */
		assert_string_equal(tag.data, "j+uJ1+KwQjMpdNiCngwvlv2FTzZnzkokoCYASnN36NE=");
		buf_reset(&again);
		assert_int_equal(
		    dkim_sign(s, msg, strlen(msg), 1700000000, &again, err, sizeof(err)), 0);
		assert_int_equal(again.len, out.len);
		assert_memory_equal(again.data, out.data, out.len);
		/* No timestamp: no t=. */
		buf_reset(&out);
		assert_int_equal(dkim_sign(s, msg, strlen(msg), 0, &out, err, sizeof(err)), 0);
		assert_int_equal(get_tag(out.data, "t", &tag), -1);
		/* Appends. */
		buf_reset(&out);
		buf_adds(&out, "X: y\r\n");
		assert_int_equal(dkim_sign(s, msg, strlen(msg), 0, &out, err, sizeof(err)), 0);
		assert_memory_equal(out.data, "X: y\r\nDKIM-Signature: ", 22);
		/* A long h= folds too. */
		buf_reset(&out);
		assert_int_equal(dkim_sign(s, lots.data, lots.len, 1, &out, err, sizeof(err)), 0);
		check_shape(out.data, out.len);
		assert_int_equal(get_tag(out.data, "h", &tag), 0);
		assert_true(tag.len == strlen("from:from") + 40 * strlen(":to:references"));
		dkim_signer_free(s);
	}
	buf_free(&out);
	buf_free(&again);
	buf_free(&tag);
	buf_free(&lots);
}

/* ---- independent check with dkimpy ---- */

struct vmsg {
	const char *name;
	const char *msg;
};

static const struct vmsg verify_msgs[] = {
    {"plain", "From: Kirim Test <news@example.com>\r\n"
              "To: reader@example.net\r\n"
              "Subject: Hello there\r\n"
              "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
              "Message-ID: <plain.1@example.com>\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 7bit\r\n"
              "\r\n"
              "Hello world,\r\n"
              "\r\n"
              "This is a test.\r\n"},
    {"multipart", "From: news@example.com\r\n"
                  "Reply-To: replies@example.com\r\n"
                  "To: reader@example.net\r\n"
                  "Subject: Our news\r\n"
                  "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
                  "Message-ID: <mp.1@example.com>\r\n"
                  "List-Id: News <news.example.com>\r\n"
                  "List-Unsubscribe: <https://example.com/u/123>, <mailto:u@example.com>\r\n"
                  "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                  "Feedback-ID: c42:list7:kirim:example.com\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n"
                  "\r\n"
                  "This is a multi-part message in MIME format.\r\n"
                  "\r\n"
                  "--=_b1\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n"
                  "Hello reader,  caf=C3=A9 =\r\n"
                  "soon.\r\n"
                  "\r\n"
                  "--=_b1\r\n"
                  "Content-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n"
                  "<html><body><p>Hello   reader</p>\r\n"
                  "\t<p>soon</p></body></html>\r\n"
                  "\r\n"
                  "--=_b1--\r\n"},
    {"long-headers",
     "From: \"A rather long display name for the sender of this message\" <news@example.com>\r\n"
     "To: one@example.net, two@example.net, three@example.net, four@example.net,\r\n"
     " five@example.net, six@example.net, seven@example.net, eight@example.net,\r\n"
     " nine@example.net, ten@example.net\r\n"
     "Subject: This subject line is very long indeed, longer than seventy-eight columns, "
     "much longer, and it goes on and on without a single fold until well past two hundred "
     "characters on one line\r\n"
     "References: <a1@example.com> <a2@example.com> <a3@example.com> <a4@example.com>\r\n"
     "\t<a5@example.com> <a6@example.com> <a7@example.com> <a8@example.com>\r\n"
     "\t<a9@example.com> <a10@example.com>\r\n"
     "In-Reply-To: <a10@example.com>\r\n"
     "\r\n"
     "Short body.\r\n"},
    {"folded", "From: news@example.com\r\n"
               "Subject:   lots   of\r\n"
               " \t  space   \r\n"
               "\tand folds\r\n"
               "To:\r\n"
               "  reader@example.net\r\n"
               "Cc: a@example.net,\r\n"
               "\tb@example.net  \r\n"
               "\r\n"
               "Body.\r\n"},
    {"empty-body", "From: news@example.com\r\nSubject: empty\r\n\r\n"},
    {"no-body", "From: news@example.com\r\nSubject: no blank line\r\n"},
    {"trailing-ws", "From: news@example.com\r\nSubject: ws\r\n\r\n"
                    "Line one  \r\n"
                    "\tLine  two\t\r\n"
                    "   three  spaced   words   \r\n"
                    "  \r\n"
                    "\r\n"
                    " \t \r\n"
                    "\r\n"},
    {"leading-blank", "From: news@example.com\r\nSubject: lb\r\n\r\n\r\n\r\n  \r\nText\r\n"},
    {"no-final-crlf", "From: news@example.com\r\nSubject: nf\r\n\r\nText without CRLF"},
    {"duplicates", "Received: from a by b; Mon, 01 Jan 2024 10:00:00 +0000\r\n"
                   "To: first@example.net\r\n"
                   "From: news@example.com\r\n"
                   "X-Mailer: kirim\r\n"
                   "To: second@example.net\r\n"
                   "Received: from c by d; Mon, 01 Jan 2024 10:00:00 +0000\r\n"
                   "Subject: dup\r\n"
                   "\r\n"
                   "Body\r\n"},
    {"utf8", "From: =?utf-8?q?Caf=C3=A9?= <news@example.com>\r\n"
             "Subject: caf\xc3\xa9 \xe2\x82\xac 8-bit\r\n"
             "\r\n"
             "Gr\xc3\xbc\xc3\x9f"
             "e  aus   K\xc3\xb6ln\r\n"},
};

static const char *
verifier_path(struct buf *b)
{
	const char *src = getenv("KIRIM_SRC"), *data = getenv("KIRIM_TESTDATA");

	buf_reset(b);
	if (src && *src)
		buf_printf(b, "%s/tests/integration/dkim_verify.py", src);
	else if (data && *data)
		buf_printf(b, "%s/../integration/dkim_verify.py", data);
	else
		buf_adds(b, "tests/integration/dkim_verify.py");
	return b->data;
}

static void
write_file(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		print_error("%s: %s\n", path, strerror(errno));
		fail();
	}
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Run the verifier on files; collect its output; return its exit status. */
static int
run_verifier(const char *txt, char **files, size_t nfiles, struct buf *output)
{
	struct buf script = BUF_INIT;
	const char **argv = calloc(nfiles + 4, sizeof(*argv));
	int fds[2], status;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	assert_non_null(argv);
	argv[0] = "/usr/bin/python3";
	argv[1] = verifier_path(&script);
	argv[2] = txt;
	for (size_t i = 0; i < nfiles; i++)
		argv[3 + i] = files[i];
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_add(output, chunk, (size_t)n);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(argv);
	buf_free(&script);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Replace the first occurrence of from with to in b. */
static void
replace(struct buf *b, const char *from, const char *to)
{
	char *at = strstr(b->data, from);
	struct buf tmp = BUF_INIT;

	assert_non_null(at);
	buf_add(&tmp, b->data, (size_t)(at - b->data));
	buf_adds(&tmp, to);
	buf_adds(&tmp, at + strlen(from));
	buf_reset(b);
	buf_add(b, tmp.data, tmp.len);
	buf_free(&tmp);
}

static void
verify_with_dkimpy(struct dkim_key *key, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	char *files[64];
	int expect_pass[64];
	size_t nfiles = 0;
	struct dkim_signer *s = new_signer(key);
	struct buf sig = BUF_INIT, m = BUF_INIT, path = BUF_INIT, out = BUF_INIT, txt = BUF_INIT,
	           big = BUF_INIT;
	char err[256];
	int fails = 0;

	snprintf(dir, sizeof(dir), "%s/kirim-dkim-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(dkim_pubkey_txt(key, &txt), 0);
	buf_printf(&path, "%s/txt", dir);
	write_file(path.data, txt.data, txt.len);
	char *txtpath = strdup(path.data);

	/* A large body, to cross the span logic many times. */
	buf_adds(&big, "From: news@example.com\r\nSubject: big\r\nTo: a@example.net\r\n\r\n");
	for (int i = 0; i < 3000; i++)
		buf_printf(&big, "Line %d of the big body,%s with some   text\t and more.%s\r\n", i,
		           i % 7 ? "" : "  ", i % 5 ? "" : " ");

#define ADD(name, bytes, len, pass)                                                                \
	do {                                                                                       \
		buf_reset(&path);                                                                  \
		buf_printf(&path, "%s/%s.eml", dir, name);                                         \
		write_file(path.data, bytes, len);                                                 \
		files[nfiles] = strdup(path.data);                                                 \
		expect_pass[nfiles++] = pass;                                                      \
	} while (0)

	for (size_t i = 0; i <= COUNT(verify_msgs); i++) {
		const char *name = i < COUNT(verify_msgs) ? verify_msgs[i].name : "big";
		const char *msg = i < COUNT(verify_msgs) ? verify_msgs[i].msg : big.data;
		size_t len = i < COUNT(verify_msgs) ? strlen(msg) : big.len;
		buf_reset(&sig);
		if (dkim_sign(s, msg, len, (long)time(NULL), &sig, err, sizeof(err)) < 0) {
			print_error("%s: %s\n", name, err);
			fail();
		}
		check_shape(sig.data, sig.len);
		buf_reset(&m);
		buf_add(&m, sig.data, sig.len);
		buf_add(&m, msg, len);
		ADD(name, m.data, m.len, 1);

		if (strcmp(name, "plain") == 0) {
			struct buf t = BUF_INIT;
			char label[64];
			/* Tampering that must fail. */
			buf_add(&t, m.data, m.len);
			replace(&t, "This is a test.", "This is a tesT.");
			ADD("plain-body-changed", t.data, t.len, 0);
			buf_reset(&t);
			buf_add(&t, m.data, m.len);
			replace(&t, "Subject: Hello there", "Subject: Hello there!");
			ADD("plain-subject-changed", t.data, t.len, 0);
			buf_reset(&t);
			buf_add(&t, m.data, m.len);
			replace(&t, "To: reader", "From: evil@example.org\r\nTo: reader");
			ADD("plain-from-added", t.data, t.len, 0);
			buf_reset(&t);
			buf_add(&t, m.data, m.len);
			buf_adds(&t, "P.S. added later\r\n");
			ADD("plain-body-appended", t.data, t.len, 0);
			/* Changes relaxed canonicalization forgives. */
			buf_reset(&t);
			buf_add(&t, m.data, m.len);
			replace(&t, "Subject: Hello there", "SUBJECT:   Hello\r\n\t there  ");
			replace(&t, "Hello world,", "Hello   world,\t ");
			buf_adds(&t, "\r\n  \r\n\r\n");
			snprintf(label, sizeof(label), "plain-relaxed-ok");
			ADD(label, t.data, t.len, 1);
			buf_free(&t);
		}
		if (strcmp(name, "folded") == 0) {
			struct buf t = BUF_INIT;
			buf_add(&t, m.data, m.len);
			replace(&t, "\tand folds", "\tand Folds");
			ADD("folded-subject-changed", t.data, t.len, 0);
			buf_free(&t);
		}
		if (strcmp(name, "empty-body") == 0) {
			struct buf t = BUF_INIT;
			buf_add(&t, m.data, m.len);
			buf_adds(&t, "x\r\n");
			ADD("empty-body-filled", t.data, t.len, 0);
			buf_free(&t);
		}
		if (strcmp(name, "duplicates") == 0) {
			/* Swapping the two To fields breaks the bottom-up order. */
			struct buf t = BUF_INIT;
			buf_add(&t, m.data, m.len);
			replace(&t, "To: first@", "To: xfirst@");
			replace(&t, "To: second@", "To: first@");
			replace(&t, "To: xfirst@", "To: second@");
			ADD("duplicates-swapped", t.data, t.len, 0);
			buf_free(&t);
		}
	}
#undef ADD
	int rc = run_verifier(txtpath, files, nfiles, &out);
	for (size_t i = 0; i < nfiles; i++) {
		char want[600];
		/* A pass must also have looked up the right key. */
		if (expect_pass[i])
			snprintf(want, sizeof(want),
			         "PASS %s (key sel2024._domainkey.example.com.)\n", files[i]);
		else
			snprintf(want, sizeof(want), "FAIL %s:", files[i]);
		if (strstr(out.data ? out.data : "", want) == NULL) {
			print_error("%s: %s: want %s\n", tag, files[i],
			            expect_pass[i] ? "PASS" : "FAIL");
			fails++;
		}
	}
	if (rc != 1 || fails) {
		/* rc 1: some tampered files fail, as they should; 2+ means the checker broke. */
		print_error("%s: verifier exit %d (want 1), output below\n", tag, rc);
		fprintf(stderr, "%s\n", out.data ? out.data : "");
		fails++;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (!fails)
			unlink(files[i]);
		free(files[i]);
	}
	if (!fails) {
		unlink(txtpath);
		rmdir(dir);
	}
	free(txtpath);
	dkim_signer_free(s);
	buf_free(&sig);
	buf_free(&m);
	buf_free(&path);
	buf_free(&out);
	buf_free(&txt);
	buf_free(&big);
	assert_int_equal(fails, 0);
}

static void
test_verify_rsa(void **state)
{
	(void)state;
	verify_with_dkimpy(rsa_key, "rsa-sha256");
}

static void
test_verify_ed25519(void **state)
{
	(void)state;
	verify_with_dkimpy(ed_key, "ed25519-sha256");
}

/* ---- speed (KIRIM_BENCH=1) ---- */

/*
 * CPU time of this (single-threaded) process: on a shared machine wall time
 * swings by a third from run to run, CPU time much less.
 */
static double
cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signed messages per CPU second. */
static double
signed_rate(struct dkim_signer *s, const struct buf *msg, double secs)
{
	struct buf out = BUF_INIT;
	char err[256];
	long count = 0;
	double t0 = cpu_now(), t;

	do {
		buf_reset(&out);
		assert_int_equal(
		    dkim_sign(s, msg->data, msg->len, 1700000000, &out, err, sizeof(err)), 0);
		count++;
	} while ((t = cpu_now() - t0) < secs);
	buf_free(&out);
	return (double)count / t;
}

/* Raw signatures of a 32-byte digest per CPU second, the way `openssl speed` makes them. */
static double
raw_rate(EVP_PKEY *pk, int rsa, double secs)
{
	unsigned char md[32] = {1}, sig[512];
	size_t siglen;
	long count = 0;
	double t0, t;

	if (rsa) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		assert_int_equal(EVP_PKEY_sign_init(c), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()), 1);
		t0 = cpu_now();
		do {
			siglen = sizeof(sig);
			assert_int_equal(EVP_PKEY_sign(c, sig, &siglen, md, 32), 1);
			count++;
		} while ((t = cpu_now() - t0) < secs);
		EVP_PKEY_CTX_free(c);
	} else {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit(c, NULL, NULL, NULL, pk), 1);
		t0 = cpu_now();
		do {
			siglen = sizeof(sig);
			assert_int_equal(EVP_DigestSign(c, sig, &siglen, md, 32), 1);
			count++;
		} while ((t = cpu_now() - t0) < secs);
		EVP_MD_CTX_free(c);
	}
	return (double)count / t;
}

static void
test_bench(void **state)
{
	struct buf msg = BUF_INIT, pem = BUF_INIT;
	char err[256];

	(void)state;
	if (getenv("KIRIM_BENCH") == NULL)
		skip();
	buf_adds(&msg,
	         "From: \"Kirim News\" <news@example.com>\r\n"
	         "To: reader@example.net\r\n"
	         "Subject: Our weekly news, with a subject of a usual length\r\n"
	         "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
	         "Message-ID: <20240101100000.12345@example.com>\r\n"
	         "List-Unsubscribe: <https://example.com/u/abcdef>, <mailto:u@example.com>\r\n"
	         "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	         "MIME-Version: 1.0\r\n"
	         "Content-Type: text/plain; charset=utf-8\r\n"
	         "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	while (msg.len < 10240)
		buf_adds(&msg, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
		               "eiusmod t=\r\n");
	for (int k = 0; k < 2; k++) {
		struct dkim_key *key;
		struct dkim_signer *s;
		double best = 0, best_raw = 0;

		buf_reset(&pem);
		assert_int_equal(dkim_keygen(k == 0 ? DKIM_KEY_RSA : DKIM_KEY_ED25519, 2048, &pem,
		                             err, sizeof(err)),
		                 0);
		assert_int_equal(dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)), 0);
		assert_int_equal(dkim_signer_new(key, "example.com", "s", &s, err, sizeof(err)), 0);
		BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
		EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		assert_non_null(pk);
		/* Alternate the two, best of three rounds each, so both see the same machine. */
		for (int round = 0; round < 3; round++) {
			double r = signed_rate(s, &msg, 1.0), raw = raw_rate(pk, k == 0, 1.0);
			best = r > best ? r : best;
			best_raw = raw > best_raw ? raw : best_raw;
		}
		printf("bench %s: %zu-byte message: %.0f signed/s; raw sign %.0f/s; ratio %.3f\n",
		       k == 0 ? "rsa-sha256 2048" : "ed25519-sha256", msg.len, best, best_raw,
		       best / best_raw);
		EVP_PKEY_free(pk);
		dkim_signer_free(s);
		dkim_key_free(key);
	}
	buf_free(&msg);
	buf_free(&pem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canon_header),
	    cmocka_unit_test(test_canon_body),
	    cmocka_unit_test(test_canon_body_random),
	    cmocka_unit_test(test_header_selection),
	    cmocka_unit_test(test_sign_errors),
	    cmocka_unit_test(test_canon_header_random),
	    cmocka_unit_test(test_key_load),
	    cmocka_unit_test(test_keygen_and_txt),
	    cmocka_unit_test(test_signer_new),
	    cmocka_unit_test(test_sign_shape),
	    cmocka_unit_test(test_verify_rsa),
	    cmocka_unit_test(test_verify_ed25519),
	    cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
