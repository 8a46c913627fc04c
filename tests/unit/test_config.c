/*
 * test_config - table tests for src/app/config.c.
 *
 * Each case is a config text written to DIR/case.conf in a fresh temporary
 * folder DIR, which also holds DKIM keys made at test time (Ed25519 and RSA,
 * with OpenSSL), secret files and files with the wrong permissions. The
 * result is serialised as "field=value ..." (only non-empty fields, the
 * secret as its bytes, each DKIM entry as domain/selector/type/key_file) or as
 * "ERR:" and the error, with DIR/case.conf written CONF and DIR written DIR.
 * "@DIR@" in a case's text is replaced by the folder. A want ending in '*'
 * matches as a prefix.
 *
 * Golden files: every tests/data/config/NAME.conf is loaded and compared with
 * NAME.out (the same serialisation, the file's own path written CONF).
 * docs/kirim.conf.example must load as it is.
 *
 * config_peek: its own table (files and variables named but not there), and
 * every case of the main table again: peek accepts what load accepts, with the
 * same settings, and refuses with load's words whatever load refuses for a
 * reason other than a named file or variable.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dkim.h"

static char dir[256];
static char conf[512];

#define FAILF(...)                                                                                 \
	do {                                                                                       \
		print_error(__VA_ARGS__);                                                          \
		fail();                                                                            \
	} while (0)

static void
write_file(const char *name, const void *data, size_t n, mode_t mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
write_key(const char *name, const char *type, mode_t mode)
{
	char path[512];
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(k);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	EVP_PKEY_free(k);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kirim-test-config-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/case.conf", dir);
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	if (mkdir(sub, 0700) < 0)
		return -1;
	write_key("ed.pem", "ED25519", 0600);
	write_key("ed2.pem", "ED25519", 0600);
	write_key("rsa.pem", "RSA", 0600);
	write_key("sub/ed.pem", "ED25519", 0600);
	write_key("ed-world.pem", "ED25519", 0644);
	write_key("ed-group.pem", "ED25519", 0640);
	write_file("junk.pem", "not a key\n", 10, 0600);
	write_file("secret.txt", "0123456789abcdef0123\n", 21, 0600);
	write_file("secret-crlf.txt", "0123456789abcdef\r\n", 18, 0600);
	write_file("secret-bare.txt", "0123456789abcdefX", 17, 0600);
	write_file("secret-world.txt", "0123456789abcdef0123\n", 21, 0644);
	write_file("secret-short.txt", "0123456789\n", 11, 0600);
	setenv("KIRIM_TEST_SECRET", "env-secret-0123456789", 1);
	setenv("KIRIM_TEST_SHORT", "short", 1);
	unsetenv("KIRIM_TEST_UNSET");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Replace every occurrence of from in b with to. */
static void
replace_all(struct buf *b, const char *from, const char *to)
{
	struct buf out = BUF_INIT;
	size_t fl = strlen(from);
	const char *p = b->data ? b->data : "";

	for (;;) {
		const char *q = strstr(p, from);
		if (!q) {
			buf_adds(&out, p);
			break;
		}
		buf_add(&out, p, (size_t)(q - p));
		buf_adds(&out, to);
		p = q + fl;
	}
	buf_reset(b);
	buf_add(b, out.data ? out.data : "", out.len);
	buf_free(&out);
}

static void
field(struct buf *b, const char *name, const char *v)
{
	if (!v[0])
		return;
	if (b->len)
		buf_addc(b, ' ');
	buf_printf(b, "%s=%s", name, v);
}

/* The [brand], [signup] and [pages] keys, where they differ from the defaults. */
static void
page_fields(struct buf *b, const struct config *c)
{
	field(b, "brand", c->brand_name);
	field(b, "logo", c->brand_logo_url);
	field(b, "colour", c->brand_colour);
	field(b, "site", c->brand_url);
	field(b, "privacy", c->brand_privacy_url);
	field(b, "address", c->brand_address);
	for (size_t i = 0; i < c->n_signup_lists; i++)
		field(b, "list", c->signup_lists[i]);
	field(b, "from_name", c->signup_from_name);
	field(b, "from", c->signup_from_addr);
	if (c->signup_expiry_hours != 48 || c->signup_per_ip != 20 ||
	    c->signup_resend_minutes != 10)
		buf_printf(b, "%ssignup=%u/%u/%u", b->len ? " " : "", c->signup_expiry_hours,
		           c->signup_per_ip, c->signup_resend_minutes);
	field(b, "pages", c->pages_dir);
	if (strcmp(c->pages_language, "en") != 0)
		field(b, "language", c->pages_language);
	field(b, "ses_topics", c->hooks_ses_topics);
	if (strcmp(c->hooks_sns_cert_hosts, CONFIG_SNS_CERT_HOSTS) != 0)
		field(b, "sns_cert_hosts", c->hooks_sns_cert_hosts);
	field(b, "sns_dns", c->hooks_sns_dns);
	field(b, "sendgrid_key", c->hooks_sendgrid_key);
	if (c->hooks_sendgrid_max_age != 600)
		buf_printf(b, "%ssendgrid_max_age=%u", b->len ? " " : "",
		           c->hooks_sendgrid_max_age);
	field(b, "postmark_user", c->hooks_postmark_user);
	if (c->hooks_postmark_password[0])
		field(b, "postmark_password", "(set)");
	for (size_t i = 0; i < c->n_egress; i++) {
		const struct config_egress *e = &c->egress[i];
		buf_printf(b, "%segress=%s/%s/%s/%u/", b->len ? " " : "", e->name, e->address,
		           e->ehlo, e->weight);
		for (size_t k = 0; k < e->npools; k++)
			buf_printf(b, "%s%s", k ? "," : "", e->pools[k]);
	}
	field(b, "node", c->node_name);
	if (c->node_lease_s != 60)
		buf_printf(b, "%snode_lease=%u", b->len ? " " : "", c->node_lease_s);
	field(b, "redis", c->redis_url);
	field(b, "redis_prefix", c->redis_prefix);
	if (c->redis_nodes)
		buf_printf(b, "%sredis_nodes=%u", b->len ? " " : "", c->redis_nodes);
}

/*
 * Serialise the result of config_load(path), or of config_peek(path) when peek,
 * into got. With masked, what only config_load reads is written as config_peek
 * shows it: a secret as "secret=(named)", a DKIM key's type as "-".
 */
static void
load_with(const char *path, bool peek, bool masked, struct buf *got)
{
	struct config c;
	char err[1024] = "junk";

	buf_reset(got);
	if ((peek ? config_peek : config_load)(path, &c, err, sizeof(err)) < 0) {
		buf_printf(got, "ERR:%s", err);
		assert_int_equal(c.secret_len, 0);
		for (size_t i = 0; i < c.n_dkim; i++)
			assert_null(c.dkim[i].key);
	} else if (peek || masked) {
		assert_string_equal(c.path, path ? path : "");
		if (peek) {
			assert_int_equal(c.secret_len, 0);
			assert_string_equal(c.relay_password, "");
		}
		field(got, "domain", c.domain);
		field(got, "ehlo", c.ehlo);
		field(got, "feedback_id", c.feedback_id);
		field(got, "url", c.unsub_url);
		field(got, "mailto", c.unsub_mailto);
		field(got, "view_url", c.view_url);
		field(got, "bounce", c.bounce_domain);
		if (c.secret_named)
			field(got, "secret", "(named)");
		for (size_t i = 0; i < c.n_dkim; i++) {
			const struct config_dkim *d = &c.dkim[i];
			if (peek)
				assert_null(d->key);
			buf_printf(got, "%sdkim=%s/%s/-/%s", got->len ? " " : "", d->domain,
			           d->selector, d->key_file);
		}
		if (c.db_group_readable)
			field(got, "group_readable", "yes");
		page_fields(got, &c);
	} else {
		assert_string_equal(c.path, path ? path : "");
		field(got, "domain", c.domain);
		field(got, "ehlo", c.ehlo);
		field(got, "feedback_id", c.feedback_id);
		field(got, "url", c.unsub_url);
		field(got, "mailto", c.unsub_mailto);
		field(got, "view_url", c.view_url);
		field(got, "bounce", c.bounce_domain);
		if (c.secret_len) {
			buf_printf(got, "%ssecret=", got->len ? " " : "");
			buf_add(got, c.secret, c.secret_len);
		}
		for (size_t i = 0; i < c.n_dkim; i++) {
			const struct config_dkim *d = &c.dkim[i];
			assert_non_null(d->key);
			buf_printf(
			    got, "%sdkim=%s/%s/%s/%s", got->len ? " " : "", d->domain, d->selector,
			    dkim_key_type(d->key) == DKIM_KEY_RSA ? "rsa" : "ed25519", d->key_file);
		}
		assert_true(c.secret_named == (c.secret_len > 0));
		if (c.db_group_readable)
			field(got, "group_readable", "yes");
		page_fields(got, &c);
	}
	config_free(&c);
	config_free(&c); /* twice is harmless */
	if (path) {
		replace_all(got, path, "CONF");
		replace_all(got, dir, "DIR");
	}
}

/* Serialise the result of config_load(path) into got. */
static void
load(const char *path, struct buf *got)
{
	load_with(path, false, false, got);
}

static bool
matches(const char *got, const char *want)
{
	size_t wl = strlen(want);
	if (wl && want[wl - 1] == '*')
		return strncmp(got, want, wl - 1) == 0;
	return strcmp(got, want) == 0;
}

struct ccase {
	const char *label;
	const char *text;
	const char *want;
};

#define LONG_A50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_A250 LONG_A50 LONG_A50 LONG_A50 LONG_A50 LONG_A50

static const struct ccase cases[] = {
    /* Accepted. */
    {"empty file", "", ""},
    {"comments and blanks", "; a comment\n# another\n\n   \n", ""},
    {"empty sections", "[sender]\n[unsubscribe]\n[bounce]\n[secret]\n", ""},
    {"sender", "[sender]\ndomain = Example.COM\nehlo = mx1.example.com\nfeedback_id = camp:kirim\n",
     "domain=example.com ehlo=mx1.example.com feedback_id=camp:kirim"},
    {"idn domain",
     "[sender]\ndomain = b\xc3\xbc"
     "cher.example\n",
     "domain=xn--bcher-kva.example"},
    {"ehlo address literal", "[sender]\nehlo = [127.0.0.1]\n", "ehlo=[127.0.0.1]"},
    {"unsubscribe",
     "[unsubscribe]\nurl = https://example.com/u/\nmailto = unsub@example.com\n"
     "view_url = https://example.com/v/\n",
     "url=https://example.com/u/ mailto=unsub@example.com view_url=https://example.com/v/"},
    {"mailto prefix", "[unsubscribe]\nmailto = mailto:Unsub@Example.com\n",
     "mailto=Unsub@example.com"},
    {"https with port and query", "[unsubscribe]\nurl = https://example.com:8443/u?t=\n",
     "url=https://example.com:8443/u?t="},
    {"https ip", "[unsubscribe]\nurl = https://192.0.2.1/u/\n", "url=https://192.0.2.1/u/"},
    {"http 127.0.0.1", "[unsubscribe]\nurl = http://127.0.0.1:8080/u/\n",
     "url=http://127.0.0.1:8080/u/"},
    {"http localhost", "[unsubscribe]\nview_url = http://localhost/v/\n",
     "view_url=http://localhost/v/"},
    {"bounce", "[bounce]\ndomain = bounces.example.com\n", "bounce=bounces.example.com"},
    {"brand",
     "[brand]\nname = Toko Sinar\nlogo_url = https://shop.example/logo.png\ncolour = #C0392B\n"
     "url = https://shop.example/\nprivacy_url = https://shop.example/privacy\n"
     "address = \"Jl. Merdeka 1, Jakarta\"\n",
     "brand=Toko Sinar logo=https://shop.example/logo.png colour=#c0392b "
     "site=https://shop.example/ privacy=https://shop.example/privacy address=Jl. Merdeka 1, "
     "Jakarta"},
    {"brand short colour", "[brand]\ncolour = #fa0\n", "colour=#ffaa00"},
    {"signup",
     "[signup]\nlists = news, offers_2\tweekly-digest\nfrom = \"Shop <news@shop.example>\"\n"
     "expiry_hours = 24\nper_ip_per_hour = 5\nresend_minutes = 0\n",
     "list=news list=offers_2 list=weekly-digest from_name=Shop from=news@shop.example "
     "signup=24/5/0"},
    {"signup bare from", "[signup]\nfrom = news@shop.example\n", "from=news@shop.example"},
    {"hooks",
     "[hooks]\nses_topics = arn:aws:sns:eu-west-1:1:a, arn:aws:sns:eu-west-1:1:b\n"
     "sns_cert_hosts = sns.*.example\nsns_dns = 127.0.0.1:5353\nsendgrid_key = MFkw\n"
     "sendgrid_max_age = 60\npostmark_user = pm\npostmark_password = \"p w\"\n",
     "ses_topics=arn:aws:sns:eu-west-1:1:a, arn:aws:sns:eu-west-1:1:b sns_cert_hosts=sns.*.example "
     "sns_dns=127.0.0.1:5353 sendgrid_key=MFkw sendgrid_max_age=60 postmark_user=pm "
     "postmark_password=(set)"},
    {"pages", "[pages]\ndir = pages\nlanguage = id\n", "pages=DIR/pages language=id"},
    {"double quotes", "[sender]\ndomain = \"example.com\"\n", "domain=example.com"},
    {"single quotes", "[sender]\nfeedback_id = 'a:b'\n", "feedback_id=a:b"},
    {"colon separator", "[sender]\ndomain: example.com\n", "domain=example.com"},
    {"indented keys", "[sender]\n  domain = example.com\n\tehlo = mx.example.com\n",
     "domain=example.com ehlo=mx.example.com"},
    {"indented section", "  [sender]\ndomain = example.com\n", "domain=example.com"},
    {"spaces in header", "[ sender ]\ndomain = example.com\n", "domain=example.com"},
    {"CRLF", "[sender]\r\ndomain = example.com\r\n", "domain=example.com"},
    {"no final newline", "[sender]\ndomain = example.com", "domain=example.com"},
    {"BOM", "\xef\xbb\xbf[sender]\ndomain = example.com\n", "domain=example.com"},
    {"inline comment", "[sender]\ndomain = example.com ; the sender\n", "domain=example.com"},
    {"repeated section, other keys",
     "[sender]\ndomain = example.com\n[bounce]\n"
     "domain = b.example.com\n[sender]\nehlo = mx.example.com\n",
     "domain=example.com ehlo=mx.example.com bounce=b.example.com"},
    {"long url", "[unsubscribe]\nurl = https://example.com/" LONG_A250 "\n",
     "url=https://example.com/" LONG_A250},
    {"long url with comment", "[unsubscribe]\nurl = https://example.com/" LONG_A250 "  ; x\n",
     "url=https://example.com/" LONG_A250},
    {"long comment line", "; " LONG_A250 LONG_A250 "\n[sender]\ndomain = example.com\n",
     "domain=example.com"},
    {"secret value", "[secret]\nvalue = 0123456789abcdef\n", "secret=0123456789abcdef"},
    {"secret value quoted with blanks", "[secret]\nvalue = \"  0123456789abcdef \"\n",
     "secret=  0123456789abcdef "},
    {"secret value 64 bytes", "[secret]\nvalue = " LONG_A50 "01234567890123\n",
     "secret=" LONG_A50 "01234567890123"},
    {"secret file", "[secret]\nfile = secret.txt\n", "secret=0123456789abcdef0123"},
    {"secret file absolute", "[secret]\nfile = @DIR@/secret.txt\n", "secret=0123456789abcdef0123"},
    {"secret file CRLF", "[secret]\nfile = secret-crlf.txt\n", "secret=0123456789abcdef"},
    {"secret file no newline", "[secret]\nfile = secret-bare.txt\n", "secret=0123456789abcdefX"},
    {"secret env", "[secret]\nenv = KIRIM_TEST_SECRET\n", "secret=env-secret-0123456789"},
    {"dkim ed25519", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = ed.pem\n",
     "dkim=example.com/s1/ed25519/DIR/ed.pem"},
    {"dkim rsa absolute", "[dkim]\ndomain = example.com\nselector = r1\nkey_file = @DIR@/rsa.pem\n",
     "dkim=example.com/r1/rsa/DIR/rsa.pem"},
    {"dkim subfolder", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = sub/ed.pem\n",
     "dkim=example.com/s1/ed25519/DIR/sub/ed.pem"},
    {"dkim group-readable key",
     "[dkim]\ndomain = example.com\nselector = s1\n"
     "key_file = ed-group.pem\n",
     "dkim=example.com/s1/ed25519/DIR/ed-group.pem"},
    {"dkim two sections",
     "[dkim]\ndomain = example.com\nselector = r1\nkey_file = rsa.pem\n\n"
     "[dkim]\ndomain = example.com\nselector = e1\nkey_file = ed.pem\n",
     "dkim=example.com/r1/rsa/DIR/rsa.pem dkim=example.com/e1/ed25519/DIR/ed.pem"},
    {"dkim idn domain, dotted selector",
     "[dkim]\ndomain = B\xc3\xbc"
     "cher.example\nselector = mail.2024\nkey_file = ed.pem\n",
     "dkim=xn--bcher-kva.example/mail.2024/ed25519/DIR/ed.pem"},
    {"dkim four sections",
     "[dkim]\ndomain=a.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=b.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=c.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=d.example\nselector=s\nkey_file=ed2.pem\n",
     "dkim=a.example/s/ed25519/DIR/ed.pem dkim=b.example/s/ed25519/DIR/ed.pem "
     "dkim=c.example/s/ed25519/DIR/ed.pem dkim=d.example/s/ed25519/DIR/ed2.pem"},
    {"database group_readable", "[database]\ngroup_readable = yes\n", "group_readable=yes"},
    {"database group_readable no", "[database]\ngroup_readable = no\n", ""},
    {"database group_readable other words", "[database]\ngroup_readable = TRUE\n",
     "group_readable=yes"},
    {"database group_readable off", "[database]\ngroup_readable = Off\n", ""},

    /* Refused. */
    {"unknown key", "[sender]\nfoo = 1\n", "ERR:CONF:2: unknown key 'foo' in [sender]"},
    {"key of another section", "[bounce]\nehlo = mx.example.com\n",
     "ERR:CONF:2: unknown key 'ehlo' in [bounce]"},
    {"unknown section", "[sender]\ndomain = example.com\n[smarthost]\nhost = x\n",
     "ERR:CONF:3: unknown section [smarthost]"},
    {"empty unknown section", "[Sender]\n", "ERR:CONF:1: unknown section [Sender]"},
    {"key outside a section", "domain = example.com\n",
     "ERR:CONF:1: key 'domain' outside a section"},
    {"duplicate key", "[sender]\ndomain = example.com\ndomain = example.org\n",
     "ERR:CONF:3: duplicate key 'domain' in [sender]"},
    {"duplicate key, repeated section",
     "[sender]\ndomain = example.com\n[sender]\n\ndomain = example.org\n",
     "ERR:CONF:5: duplicate key 'domain' in [sender]"},
    {"duplicate indented key", "[sender]\ndomain = example.com\n  domain = example.org\n",
     "ERR:CONF:3: duplicate key 'domain' in [sender]"},
    {"duplicate key in dkim",
     "[dkim]\ndomain = example.com\nselector = a\nselector = b\nkey_file = ed.pem\n",
     "ERR:CONF:4: duplicate key 'selector' in [dkim]"},
    {"no equals", "[sender]\ndomain\n", "ERR:CONF:2: expected [section] or key = value"},
    {"no key name", "[sender]\n= example.com\n", "ERR:CONF:2: missing key name before '='"},
    {"unclosed section", "[sender\ndomain = example.com\n",
     "ERR:CONF:1: no ']' at the end of the section name"},
    {"empty value", "[sender]\ndomain =\n", "ERR:CONF:2: empty value for 'domain' in [sender]"},
    {"empty quoted value", "[sender]\ndomain = \"\"\n",
     "ERR:CONF:2: empty value for 'domain' in [sender]"},
    {"unterminated quote", "[sender]\ndomain = \"example.com\n",
     "ERR:CONF:2: unterminated quoted value for 'domain' (a ';' after a blank starts a "
     "comment)"},
    {"comment inside quotes", "[secret]\nvalue = \"0123456789 ;abcdef\"\n",
     "ERR:CONF:2: unterminated quoted value for 'value' (a ';' after a blank starts a "
     "comment)"},
    {"control character", "[sender]\ndomain = exa\x01mple.com\n",
     "ERR:CONF:2: control character in line"},
    {"NUL byte", "[sender]\ndomain = exa\0mple.com\n", "ERR:CONF:2: control character in line"},
    {"line too long",
     "[unsubscribe]\nurl = https://example.com/" LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250
         LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250 LONG_A250
             LONG_A250 LONG_A250 LONG_A250 "\n",
     "ERR:CONF:2: line too long (4096 bytes at most)"},
    {"long url too long for the field",
     "[unsubscribe]\nurl = https://example.com/" LONG_A250 LONG_A250 "\n",
     "ERR:CONF:2: value of 'url' is too long (511 bytes at most)"},
    {"bad domain", "[sender]\ndomain = exa_mple.com\n",
     "ERR:CONF:2: domain 'exa_mple.com' is not a valid domain: invalid domain label"},
    {"domain without dot", "[bounce]\ndomain = localhost\n",
     "ERR:CONF:2: domain 'localhost' is not a valid domain: domain has no dot"},
    {"ehlo bad literal", "[sender]\nehlo = [300.1.1.1]\n",
     "ERR:CONF:2: ehlo '[300.1.1.1]' is not a valid address literal: invalid IP literal"},
    {"http elsewhere", "[unsubscribe]\nurl = http://example.com/u/\n",
     "ERR:CONF:2: url 'http://example.com/u/' must start with https:// (http:// is only for "
     "127.0.0.1 and localhost)"},
    {"http lookalike", "[unsubscribe]\nurl = http://localhost.example.com/u/\n",
     "ERR:CONF:2: url 'http://localhost.example.com/u/' must start with https://*"},
    {"ftp", "[unsubscribe]\nview_url = ftp://example.com/\n",
     "ERR:CONF:2: view_url 'ftp://example.com/' must start with https://"},
    {"no host", "[unsubscribe]\nurl = https:///u/\n", "ERR:CONF:2: url 'https:///u/' has no host"},
    {"user in url", "[unsubscribe]\nurl = https://a@example.com/\n",
     "ERR:CONF:2: url 'https://a@example.com/' must not hold a user name"},
    {"bad port", "[unsubscribe]\nurl = https://example.com:x/\n",
     "ERR:CONF:2: url 'https://example.com:x/' has a bad port"},
    {"bad host", "[unsubscribe]\nurl = https://exa_mple.com/\n",
     "ERR:CONF:2: url 'https://exa_mple.com/' has a bad host name: invalid domain label"},
    {"blank in url", "[unsubscribe]\nurl = \"https://example.com/a b\"\n",
     "ERR:CONF:2: url must be a URL without blanks or non-ASCII characters"},
    {"bad mailto", "[unsubscribe]\nmailto = unsub.example.com\n",
     "ERR:CONF:2: mailto 'unsub.example.com' is not a valid address: missing @"},
    {"feedback_id blank", "[sender]\nfeedback_id = \"a b\"\n",
     "ERR:CONF:2: feedback_id may hold printable ASCII only, without blanks"},
    {"bad selector", "[dkim]\ndomain = example.com\nselector = s_1\nkey_file = ed.pem\n",
     "ERR:CONF:3: selector 's_1' is not a valid DNS name (letters, digits, '-', '.')"},
    {"selector hyphen end", "[dkim]\nselector = s-\n", "ERR:CONF:2: selector 's-' is not*"},
    {"selector empty label", "[dkim]\nselector = a..b\n", "ERR:CONF:2: selector 'a..b' is not*"},
    {"secret too short", "[secret]\nvalue = short\n",
     "ERR:CONF:2: secret is too short (need 16 bytes or more)"},
    {"secret 15 bytes", "[secret]\nvalue = 0123456789abcde\n",
     "ERR:CONF:2: secret is too short (need 16 bytes or more)"},
    {"secret too long", "[secret]\nvalue = " LONG_A50 "012345678901234\n",
     "ERR:CONF:2: secret is too long (64 bytes at most)"},
    {"secret two sources", "[secret]\nvalue = 0123456789abcdef\n\nenv = KIRIM_TEST_SECRET\n",
     "ERR:CONF:4: [secret] takes one of value, file or env (another was given on line 2)"},
    {"secret two sections", "[secret]\nfile = secret.txt\n[secret]\nvalue = 0123456789abcdef\n",
     "ERR:CONF:4: [secret] takes one of value, file or env (another was given on line 2)"},
    {"secret env unset", "[secret]\nenv = KIRIM_TEST_UNSET\n",
     "ERR:CONF:2: environment variable KIRIM_TEST_UNSET is not set"},
    {"secret env short", "[secret]\nenv = KIRIM_TEST_SHORT\n",
     "ERR:CONF:2: secret is too short (need 16 bytes or more)"},
    {"secret file short", "[secret]\nfile = secret-short.txt\n",
     "ERR:CONF:2: secret is too short (need 16 bytes or more)"},
    {"secret file missing", "[secret]\nfile = nope.txt\n",
     "ERR:CONF:2: cannot open secret file DIR/nope.txt: No such file or directory"},
    {"secret file world-readable", "[secret]\nfile = secret-world.txt\n",
     "ERR:CONF:2: secret file DIR/secret-world.txt is readable by other users: chmod 600 "
     "DIR/secret-world.txt"},
    {"secret file is a folder", "[secret]\nfile = sub\n",
     "ERR:CONF:2: secret file DIR/sub is not a regular file"},
    {"key world-readable", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = ed-world.pem\n",
     "ERR:CONF:4: key file DIR/ed-world.pem is readable by other users: chmod 600 "
     "DIR/ed-world.pem"},
    {"key missing", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = nope.pem\n",
     "ERR:CONF:4: cannot open key file DIR/nope.pem: No such file or directory"},
    {"key not a key", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = junk.pem\n",
     "ERR:CONF:4: key file DIR/junk.pem: *"},
    {"dkim without selector",
     "[sender]\ndomain = example.com\n[dkim]\ndomain = example.com\n"
     "key_file = ed.pem\n",
     "ERR:CONF:3: [dkim] section has no selector (it needs domain, selector and key_file)"},
    {"dkim without key, another follows",
     "[dkim]\ndomain = example.com\nselector = a\n[dkim]\ndomain = example.com\n"
     "selector = b\nkey_file = ed.pem\n",
     "ERR:CONF:1: [dkim] section has no key_file (it needs domain, selector and key_file)"},
    {"empty dkim", "[dkim]\n",
     "ERR:CONF:1: [dkim] section has no domain (it needs domain, selector and key_file)"},
    {"dkim same selector twice",
     "[dkim]\ndomain = example.com\nselector = s\nkey_file = ed.pem\n"
     "[dkim]\ndomain = Example.com\nselector = s\nkey_file = ed2.pem\n",
     "ERR:CONF:5: second [dkim] section for s._domainkey.example.com"},
    {"five dkim sections",
     "[dkim]\ndomain=a.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=b.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=c.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=d.example\nselector=s\nkey_file=ed.pem\n"
     "[dkim]\ndomain=e.example\nselector=s\nkey_file=ed.pem\n",
     "ERR:CONF:17: too many [dkim] sections (4 at most)"},
    {"group_readable not a yes or no", "[database]\ngroup_readable = maybe\n",
     "ERR:CONF:2: group_readable takes yes or no, not 'maybe'"},
    {"unknown database key", "[database]\npath = kirim.db\n",
     "ERR:CONF:2: unknown key 'path' in [database]"},
    {"relay two passwords", "[relay]\npassword = a\npassword_env = KIRIM_TEST_SECRET\n",
     "ERR:CONF:3: [relay] takes one of password, password_file or password_env"},
    {"brand bad colour", "[brand]\ncolour = red\n",
     "ERR:CONF:2: colour takes #rrggbb or #rgb, not 'red'"},
    {"brand http logo", "[brand]\nlogo_url = http://shop.example/l.png\n",
     "ERR:CONF:2: logo_url 'http://shop.example/l.png' must start with https:// (http:// is "
     "only for 127.0.0.1 and localhost)"},
    {"brand name not UTF-8", "[brand]\nname = Caf\xe9\n", "ERR:CONF:2: name is not UTF-8 text"},
    {"egress sources",
     "[egress]\nname = a\naddress = 192.0.2.2\nehlo = mta2.example.com\nweight = 3\n"
     "[egress]\nname = b.1\naddress = [2001:DB8::0:3]\npool = bulk warm, default\n",
     "egress=a/192.0.2.2/mta2.example.com/3/default egress=b.1/2001:db8::3//1/bulk,warm,default"},
    {"redis", "[redis]\nurl = redis://:pw@127.0.0.1:6380/2\nprefix = shop:eu\nnodes = 3\n",
     "redis=redis://:pw@127.0.0.1:6380/2 redis_prefix=shop:eu redis_nodes=3"},
    {"redis socket", "[redis]\nurl = /run/redis/redis.sock\n", "redis=/run/redis/redis.sock"},
    {"redis bad url", "[redis]\nurl = rediss://127.0.0.1\n",
     "ERR:CONF:2: url: rediss:// (TLS) is not supported: use a Unix socket or a tunnel to Redis"},
    {"redis bad prefix", "[redis]\nprefix = a b\n",
     "ERR:CONF:2: prefix 'a b' is not a key prefix (letters, digits, - _ . and :, 63 at most)"},
    {"redis nodes 0", "[redis]\nnodes = 0\n",
     "ERR:CONF:2: nodes takes a number from 1 to 1000, not '0'"},
    {"egress host name", "[egress]\nname = a\naddress = mx.example.com\n",
     "ERR:CONF:3: address 'mx.example.com' is not an IPv4 or IPv6 address (a source address "
     "is an address, not a host name)"},
    {"egress wildcard", "[egress]\nname = a\naddress = ::\n",
     "ERR:CONF:3: address '::' is the wildcard address, not a source"},
    {"egress without address", "[sender]\n[egress]\nname = a\n[sender]\n",
     "ERR:CONF:2: [egress] section has no address (it needs name and address: name = mta2, "
     "address = 192.0.2.2)"},
    {"egress bad name", "[egress]\nname = a b\n",
     "ERR:CONF:2: name 'a b' is not a source name (letters, digits, - _ and ., 63 at most)"},
    {"egress bad pool", "[egress]\nname = a\npool = ok, no/pe\n",
     "ERR:CONF:3: pool: 'no/pe' is not a pool name (letters, digits, - _ and ., 63 at most)"},
    {"egress weight 0", "[egress]\nname = a\nweight = 0\n", "ERR:CONF:3: weight *"},
    {"egress same address",
     "[egress]\nname = a\naddress = ::1\n[egress]\nname = b\naddress = 0:0::1\n",
     "ERR:CONF:4: [egress] a and b have the same address ::1"},
    {"node", "[node]\nname = mta-2.lab_1\nlease = 10\n", "node=mta-2.lab_1 node_lease=10"},
    {"node bad name", "[node]\nname = mta 2\n",
     "ERR:CONF:2: name 'mta 2': a node's name is 1 to 63 letters, digits, '.', '-' or '_'"},
    {"node lease too short", "[node]\nlease = 1\n",
     "ERR:CONF:2: lease takes a number from 2 to 3600, not '1'"},
    {"egress same name", "[egress]\nname = a\naddress = ::1\n[egress]\nname = a\naddress = ::2\n",
     "ERR:CONF:4: second [egress] section named a"},
    {"signup list with a slash", "[signup]\nlists = a/b\nfrom = a@b.example\n",
     "ERR:CONF:2: lists: 'a/b' is not a list name a link can carry (letters, digits, - and _, "
     "63 at most)"},
    {"signup lists without from", "[signup]\nlists = news\n",
     "ERR:CONF: [signup] lists needs from (the sender of confirmation requests: from = "
     "\"Shop <news@example.com>\")"},
    {"signup bad from", "[signup]\nfrom = not an address\n",
     "ERR:CONF:2: from 'not an address': *"},
    {"hooks postmark user alone", "[hooks]\npostmark_user = pm\n",
     "ERR:CONF: [hooks] postmark_user and postmark_password go together"},
    {"hooks sendgrid_max_age 0", "[hooks]\nsendgrid_max_age = 0\n",
     "ERR:CONF:2: sendgrid_max_age takes a number from 1 to 86400, not '0'"},
    {"hooks unknown key", "[hooks]\nmailgun_key = x\n",
     "ERR:CONF:2: unknown key 'mailgun_key' in [hooks]"},
    {"signup expiry 0", "[signup]\nexpiry_hours = 0\n",
     "ERR:CONF:2: expiry_hours takes a number from 1 to 720, not '0'"},
    {"signup per_ip text", "[signup]\nper_ip_per_hour = many\n",
     "ERR:CONF:2: per_ip_per_hour takes a number from 1 to 100000, not 'many'"},
    {"signup resend negative", "[signup]\nresend_minutes = -1\n",
     "ERR:CONF:2: resend_minutes takes a number from 0 to 1440, not '-1'"},
    {"pages language", "[pages]\nlanguage = ../en\n",
     "ERR:CONF:2: language '../en' is not a language tag (en, id, pt-BR)"},
    {"unknown brand key", "[brand]\nfont = x\n", "ERR:CONF:2: unknown key 'font' in [brand]"},
    {"error after keys loaded",
     "[dkim]\ndomain = example.com\nselector = s\nkey_file = ed.pem\n"
     "[sender]\nbogus = 1\n",
     "ERR:CONF:6: unknown key 'bogus' in [sender]"},
};

static void
test_cases(void **state)
{
	struct buf text = BUF_INIT, got = BUF_INIT;
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ccase *c = &cases[i];
		size_t len = strlen(c->text);
		/* The NUL case holds a NUL: take its length from the known suffix. */
		if (strcmp(c->label, "NUL byte") == 0)
			len += 1 + strlen(c->text + len + 1);
		buf_reset(&text);
		buf_add(&text, c->text, len);
		if (strstr(text.data, "@DIR@")) /* replace_all stops at a NUL */
			replace_all(&text, "@DIR@", dir);
		write_file("case.conf", text.data, text.len, 0600);
		load(conf, &got);
		if (!matches(got.data ? got.data : "", c->want)) {
			print_error("%s:\n   got: %s\n  want: %s\n", c->label, got.data, c->want);
			failed++;
		}
	}
	buf_free(&text);
	buf_free(&got);
	if (failed)
		FAILF("%d of %zu cases failed\n", failed, sizeof(cases) / sizeof(cases[0]));
}

/* config_peek: named files and variables are not read, so their faults do not show. */
static const struct ccase peek_cases[] = {
    {"plain settings", "[sender]\ndomain = example.com\n[database]\ngroup_readable = yes\n",
     "domain=example.com group_readable=yes"},
    {"secret value", "[secret]\nvalue = short\n", "secret=(named)"},
    {"secret file missing", "[secret]\nfile = nope.txt\n", "secret=(named)"},
    {"secret file world-readable", "[secret]\nfile = secret-world.txt\n", "secret=(named)"},
    {"secret env unset", "[secret]\nenv = KIRIM_TEST_UNSET\n", "secret=(named)"},
    {"no secret", "[bounce]\ndomain = bounces.example.com\n", "bounce=bounces.example.com"},
    {"key missing", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = nope.pem\n",
     "dkim=example.com/s1/-/DIR/nope.pem"},
    {"key not a key", "[dkim]\ndomain = example.com\nselector = s1\nkey_file = junk.pem\n",
     "dkim=example.com/s1/-/DIR/junk.pem"},
    {"relay password env unset", "[relay]\npassword_env = KIRIM_TEST_UNSET\n", ""},
    {"relay password file missing", "[relay]\npassword_file = nope.txt\n", ""},
    /* Still checked: everything that needs no file. */
    {"secret two sources", "[secret]\nfile = nope.txt\nenv = KIRIM_TEST_UNSET\n",
     "ERR:CONF:3: [secret] takes one of value, file or env (another was given on line 2)"},
    {"relay two passwords", "[relay]\npassword_file = nope\npassword = x\n",
     "ERR:CONF:3: [relay] takes one of password, password_file or password_env"},
    {"dkim without key_file", "[dkim]\ndomain = example.com\nselector = s1\n",
     "ERR:CONF:1: [dkim] section has no key_file (it needs domain, selector and key_file)"},
    {"bad group_readable", "[database]\ngroup_readable = 2\n",
     "ERR:CONF:2: group_readable takes yes or no, not '2'"},
};

static void
test_peek(void **state)
{
	struct buf got = BUF_INIT, full = BUF_INIT;
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(peek_cases) / sizeof(peek_cases[0]); i++) {
		const struct ccase *c = &peek_cases[i];
		write_file("case.conf", c->text, strlen(c->text), 0600);
		load_with(conf, true, true, &got);
		if (!matches(got.data ? got.data : "", c->want)) {
			print_error("peek %s:\n   got: %s\n  want: %s\n", c->label, got.data,
			            c->want);
			failed++;
		}
	}
	/* The main table again: peek agrees with load. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ccase *c = &cases[i];
		if (strcmp(c->label, "NUL byte") == 0 || strstr(c->text, "@DIR@"))
			continue; /* the main test's special texts */
		write_file("case.conf", c->text, strlen(c->text), 0600);
		load_with(conf, false, true, &full);
		load_with(conf, true, true, &got);
		const char *f = full.data ? full.data : "", *g = got.data ? got.data : "";
		bool load_err = strncmp(f, "ERR:", 4) == 0, peek_err = strncmp(g, "ERR:", 4) == 0;
		/* A reason about a named file or variable is one peek does not look at. */
		bool named =
		    strstr(f, "secret") || strstr(f, "key file") || strstr(f, "environment");
		if (load_err ? (peek_err ? strcmp(f, g) != 0 : !named) : strcmp(f, g) != 0) {
			print_error("peek agrees with load, %s:\n  load: %s\n  peek: %s\n",
			            c->label, f, g);
			failed++;
		}
	}
	buf_free(&got);
	buf_free(&full);
	if (failed)
		FAILF("%d peek cases failed\n", failed);
}

static void
test_missing_files(void **state)
{
	struct buf got = BUF_INIT;
	char path[512], cwd[1024];

	(void)state;
	/* A named file that does not exist is an error. */
	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	load(path, &got);
	assert_string_equal(got.data,
	                    "ERR:CONF: cannot open config file: No such file or directory");
	/* A folder is not a config file. */
	load(dir, &got);
	assert_string_equal(got.data, "ERR:CONF: config file is not a regular file");

	/* Default path: $KIRIM_CONFIG, else ./kirim.conf, which may be missing. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	unsetenv("KIRIM_CONFIG");
	load(NULL, &got);
	assert_string_equal(got.data ? got.data : "", "");

	setenv("KIRIM_CONFIG", "", 1); /* empty counts as unset */
	load(NULL, &got);
	assert_string_equal(got.data ? got.data : "", "");

	write_file("kirim.conf", "[sender]\ndomain = default.example\n", 34, 0644);
	unsetenv("KIRIM_CONFIG");
	struct config c;
	char err[256];
	assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, "kirim.conf");
	assert_string_equal(c.domain, "default.example");
	config_free(&c);

	/* Relative key paths of ./kirim.conf are relative to ".". */
	write_file("kirim.conf", "[dkim]\ndomain = example.com\nselector = s\nkey_file = ed.pem\n",
	           58, 0644);
	assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.dkim[0].key_file, "./ed.pem");
	config_free(&c);

	write_file("other.conf", "[bounce]\ndomain = env.example\n", 30, 0644);
	setenv("KIRIM_CONFIG", "other.conf", 1);
	assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, "other.conf");
	assert_string_equal(c.bounce_domain, "env.example");
	config_free(&c);

	setenv("KIRIM_CONFIG", "missing.conf", 1);
	assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "missing.conf: cannot open config file: No such file or directory");
	config_free(&c);

	/* An error message is cut to errsz, NUL-terminated. */
	write_file("kirim.conf", "[sender]\nfoo = 1\n", 17, 0644);
	unsetenv("KIRIM_CONFIG");
	char small[12];
	assert_int_equal(config_load(NULL, &c, small, sizeof(small)), -1);
	assert_string_equal(small, "kirim.conf:");
	assert_int_equal(config_load(NULL, &c, NULL, 0), -1);

	assert_int_equal(chdir(cwd), 0);
	buf_free(&got);
}

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && v[0] ? v : def;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	while (b.len && (b.data[b.len - 1] == '\n'))
		b.data[--b.len] = '\0';
	if (!b.data)
		buf_adds(&b, "");
	return b.data;
}

static void
test_golden(void **state)
{
	const char *data = env_or("KIRIM_TESTDATA", "tests/data");
	char folder[512];
	struct buf got = BUF_INIT;
	int n = 0, failed = 0;

	(void)state;
	snprintf(folder, sizeof(folder), "%s/config", data);
	DIR *d = opendir(folder);
	if (!d)
		FAILF("cannot open %s: %s\n", folder, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char in[1024], out[1024];
		if (l < 6 || strcmp(e->d_name + l - 5, ".conf") != 0)
			continue;
		snprintf(in, sizeof(in), "%s/%s", folder, e->d_name);
		snprintf(out, sizeof(out), "%s/%.*s.out", folder, (int)(l - 5), e->d_name);
		char *want = slurp(out);
		if (!want)
			FAILF("%s: no %s\n", e->d_name, out);
		load(in, &got);
		if (strcmp(got.data ? got.data : "", want) != 0) {
			print_error("%s:\n   got: %s\n  want: %s\n", e->d_name, got.data, want);
			failed++;
		}
		free(want);
		n++;
	}
	closedir(d);
	buf_free(&got);
	if (n < 5)
		FAILF("only %d golden files in %s\n", n, folder);
	if (failed)
		FAILF("%d of %d golden files failed\n", failed, n);
}

static void
test_example(void **state)
{
	char path[512];
	struct config c;
	char err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/kirim.conf.example", env_or("KIRIM_SRC", "."));
	if (config_load(path, &c, err, sizeof(err)) != 0)
		FAILF("%s\n", err);
	assert_string_equal(c.domain, "example.com");
	assert_string_equal(c.bounce_domain, "bounces.example.com");
	assert_true(c.unsub_url[0] && c.unsub_mailto[0] && c.view_url[0] && c.ehlo[0]);
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),         cmocka_unit_test(test_peek),
	    cmocka_unit_test(test_missing_files), cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_example),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
