/*
 * config - kirim.conf, the machine's identity (INI, read with libinih).
 *
 * This module owns the file format: which sections and keys exist, how values
 * are checked and where relative paths point. It reads the config file, the
 * secret file and the DKIM key files (I/O), and loads the keys with
 * dkim_key_load (config_peek reads the config file alone); it never logs and
 * never writes a secret into an error.
 *
 * Format. Sections [sender], [unsubscribe], [bounce], [secret], [dkim] (which
 * may repeat, CONFIG_MAX_DKIM times), [relay], [database], [brand], [signup],
 * [pages], [hooks], [node], [redis] and [egress] (one per source address, CONFIG_MAX_EGRESS times;
 * its address is checked as an address here, and bound by the sender). "key = value" (or "key:
 * value"), one per line; comments start a line with ';' or '#', or follow a value after " ;". A
 * value may be quoted with "..." or '...' (no escapes), which keeps leading and trailing blanks.
 * Unknown sections and keys, keys outside a section, repeated keys in one section, empty values and
 * control characters are errors naming FILE:LINE.
 *
 * How libinih is used. inih reads through our own line reader
 * (ini_parse_stream), which lets us (1) count physical lines for messages,
 * (2) see section headers ourselves, so that repeated [dkim] sections and
 * empty sections are told apart, (3) strip leading blanks, so that inih's
 * Python-style continuation lines never happen (an indented key is just a
 * key), (4) report syntax errors with our own words, and (5) pass values
 * longer than inih's fixed line buffer (200 bytes in Debian's build): such a
 * line's value is kept aside and inih is given a short placeholder.
 */
#define _GNU_SOURCE /* explicit_bzero */
#include "kirim/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "kirim/address.h"
#include "kirim/campaign.h"
#include "kirim/colour.h"
#include "kirim/dkim.h"
#include "kirim/i18n.h"
#include "kirim/lease.h"
#include "kirim/redis_url.h"
#include "kirim/smtp_url.h"
#include "kirim/tls.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

enum {
	CONFIG_FILE_MAX = 1024 * 1024, /* a config file is a few hundred bytes */
	CONFIG_LINE_MAX = 4096,        /* one line, after leading blanks */
	SECRET_MIN = 16,
	SECRET_FILE_MAX = 4096,
};

#define SECRET_MAX ((size_t)sizeof(((struct config *)0)->secret))

/* The placeholder value handed to inih for a line too long for its buffer. */
static const char long_marker[] = "\x01";

enum section {
	S_NONE,
	S_SENDER,
	S_UNSUBSCRIBE,
	S_BOUNCE,
	S_SECRET,
	S_DKIM,
	S_RELAY,
	S_DATABASE,
	S_TLS,
	S_BRAND,
	S_SIGNUP,
	S_PAGES,
	S_HOOKS,
	S_EGRESS,
	S_NODE,
	S_REDIS,
	S_COUNT
};

static const char *const section_names[S_COUNT] = {
    [S_NONE] = "",         [S_SENDER] = "sender",     [S_UNSUBSCRIBE] = "unsubscribe",
    [S_BOUNCE] = "bounce", [S_SECRET] = "secret",     [S_DKIM] = "dkim",
    [S_RELAY] = "relay",   [S_DATABASE] = "database", [S_TLS] = "tls",
    [S_BRAND] = "brand",   [S_SIGNUP] = "signup",     [S_PAGES] = "pages",
    [S_HOOKS] = "hooks",   [S_EGRESS] = "egress",     [S_NODE] = "node",
    [S_REDIS] = "redis",
};

enum key {
	K_SENDER_DOMAIN,
	K_SENDER_EHLO,
	K_SENDER_FEEDBACK_ID,
	K_UNSUB_URL,
	K_UNSUB_MAILTO,
	K_UNSUB_VIEW_URL,
	K_BOUNCE_DOMAIN,
	K_SECRET_VALUE,
	K_SECRET_FILE,
	K_SECRET_ENV,
	K_DKIM_DOMAIN,
	K_DKIM_SELECTOR,
	K_DKIM_KEY_FILE,
	K_RELAY_URL,
	K_RELAY_PASSWORD,
	K_RELAY_PASSWORD_FILE,
	K_RELAY_PASSWORD_ENV,
	K_RELAY_TLS,
	K_RELAY_CA_FILE,
	K_DATABASE_GROUP_READABLE,
	K_TLS_CA_FILE,
	K_TLS_MTA_STS,
	K_TLS_DANE,
	K_BRAND_NAME,
	K_BRAND_LOGO_URL,
	K_BRAND_COLOUR,
	K_BRAND_URL,
	K_BRAND_PRIVACY_URL,
	K_BRAND_ADDRESS,
	K_SIGNUP_LISTS,
	K_SIGNUP_FROM,
	K_SIGNUP_EXPIRY,
	K_SIGNUP_PER_IP,
	K_SIGNUP_RESEND,
	K_SIGNUP_PENDING,
	K_SIGNUP_CORS,
	K_PAGES_DIR,
	K_PAGES_LANGUAGE,
	K_HOOKS_SES_TOPICS,
	K_HOOKS_SNS_CERT_HOSTS,
	K_HOOKS_SNS_CA_FILE,
	K_HOOKS_SNS_DNS,
	K_HOOKS_SENDGRID_KEY,
	K_HOOKS_SENDGRID_MAX_AGE,
	K_HOOKS_POSTMARK_USER,
	K_HOOKS_POSTMARK_PASSWORD,
	K_EGRESS_NAME,
	K_EGRESS_ADDRESS,
	K_EGRESS_EHLO,
	K_EGRESS_WEIGHT,
	K_EGRESS_POOL,
	K_NODE_NAME,
	K_NODE_LEASE,
	K_REDIS_URL,
	K_REDIS_PREFIX,
	K_REDIS_NODES,
	K_COUNT
};

static const struct {
	enum section section;
	const char *name;
} keys[K_COUNT] = {
    [K_SENDER_DOMAIN] = {S_SENDER, "domain"},
    [K_SENDER_EHLO] = {S_SENDER, "ehlo"},
    [K_SENDER_FEEDBACK_ID] = {S_SENDER, "feedback_id"},
    [K_UNSUB_URL] = {S_UNSUBSCRIBE, "url"},
    [K_UNSUB_MAILTO] = {S_UNSUBSCRIBE, "mailto"},
    [K_UNSUB_VIEW_URL] = {S_UNSUBSCRIBE, "view_url"},
    [K_BOUNCE_DOMAIN] = {S_BOUNCE, "domain"},
    [K_SECRET_VALUE] = {S_SECRET, "value"},
    [K_SECRET_FILE] = {S_SECRET, "file"},
    [K_SECRET_ENV] = {S_SECRET, "env"},
    [K_DKIM_DOMAIN] = {S_DKIM, "domain"},
    [K_DKIM_SELECTOR] = {S_DKIM, "selector"},
    [K_DKIM_KEY_FILE] = {S_DKIM, "key_file"},
    [K_RELAY_URL] = {S_RELAY, "url"},
    [K_RELAY_PASSWORD] = {S_RELAY, "password"},
    [K_RELAY_PASSWORD_FILE] = {S_RELAY, "password_file"},
    [K_RELAY_PASSWORD_ENV] = {S_RELAY, "password_env"},
    [K_RELAY_TLS] = {S_RELAY, "tls"},
    [K_RELAY_CA_FILE] = {S_RELAY, "ca_file"},
    [K_DATABASE_GROUP_READABLE] = {S_DATABASE, "group_readable"},
    [K_TLS_CA_FILE] = {S_TLS, "ca_file"},
    [K_TLS_MTA_STS] = {S_TLS, "mta_sts"},
    [K_TLS_DANE] = {S_TLS, "dane"},
    [K_BRAND_NAME] = {S_BRAND, "name"},
    [K_BRAND_LOGO_URL] = {S_BRAND, "logo_url"},
    [K_BRAND_COLOUR] = {S_BRAND, "colour"},
    [K_BRAND_URL] = {S_BRAND, "url"},
    [K_BRAND_PRIVACY_URL] = {S_BRAND, "privacy_url"},
    [K_BRAND_ADDRESS] = {S_BRAND, "address"},
    [K_SIGNUP_LISTS] = {S_SIGNUP, "lists"},
    [K_SIGNUP_FROM] = {S_SIGNUP, "from"},
    [K_SIGNUP_EXPIRY] = {S_SIGNUP, "expiry_hours"},
    [K_SIGNUP_PER_IP] = {S_SIGNUP, "per_ip_per_hour"},
    [K_SIGNUP_RESEND] = {S_SIGNUP, "resend_minutes"},
    [K_SIGNUP_PENDING] = {S_SIGNUP, "pending_days"},
    [K_SIGNUP_CORS] = {S_SIGNUP, "cors_origins"},
    [K_PAGES_DIR] = {S_PAGES, "dir"},
    [K_PAGES_LANGUAGE] = {S_PAGES, "language"},
    [K_HOOKS_SES_TOPICS] = {S_HOOKS, "ses_topics"},
    [K_HOOKS_SNS_CERT_HOSTS] = {S_HOOKS, "sns_cert_hosts"},
    [K_HOOKS_SNS_CA_FILE] = {S_HOOKS, "sns_ca_file"},
    [K_HOOKS_SNS_DNS] = {S_HOOKS, "sns_dns"},
    [K_HOOKS_SENDGRID_KEY] = {S_HOOKS, "sendgrid_key"},
    [K_HOOKS_SENDGRID_MAX_AGE] = {S_HOOKS, "sendgrid_max_age"},
    [K_HOOKS_POSTMARK_USER] = {S_HOOKS, "postmark_user"},
    [K_HOOKS_POSTMARK_PASSWORD] = {S_HOOKS, "postmark_password"},
    [K_EGRESS_NAME] = {S_EGRESS, "name"},
    [K_EGRESS_ADDRESS] = {S_EGRESS, "address"},
    [K_EGRESS_EHLO] = {S_EGRESS, "ehlo"},
    [K_EGRESS_WEIGHT] = {S_EGRESS, "weight"},
    [K_EGRESS_POOL] = {S_EGRESS, "pool"},
    [K_NODE_NAME] = {S_NODE, "name"},
    [K_NODE_LEASE] = {S_NODE, "lease"},
    [K_REDIS_URL] = {S_REDIS, "url"},
    [K_REDIS_PREFIX] = {S_REDIS, "prefix"},
    [K_REDIS_NODES] = {S_REDIS, "nodes"},
};

/* State of one config_load call, handed to inih as both stream and user. */
struct loader {
	struct config *c;
	const char *file; /* for messages */
	char dir[512];    /* folder of the config file, for relative paths */
	const char *text; /* the file's bytes */
	size_t len, pos;
	int line;  /* physical line last handed to inih */
	bool peek; /* config_peek: the files and variables named are not read */
	bool failed;
	char *err;
	size_t errsz;

	enum section cur;
	int section_line;
	uint64_t seen[S_COUNT]; /* bit per key seen (1 << key); [S_DKIM] and [S_EGRESS] are
	                           per section */
	int secret_line;        /* line of the secret's source, 0 = none yet */
	bool relay_password;    /* a relay password source was given */
	bool stashed;           /* the current line's value is in stash */
	char stash[CONFIG_LINE_MAX + 1];
};

static void fail(struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error as "FILE:LINE: what" (or "FILE: what" for line 0). */
static void
fail(struct loader *L, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (L->failed)
		return;
	L->failed = true;
	if (!L->err || L->errsz == 0)
		return;
	if (line > 0)
		n = snprintf(L->err, L->errsz, "%s:%d: ", L->file, line);
	else
		n = snprintf(L->err, L->errsz, "%s: ", L->file);
	if (n < 0 || (size_t)n >= L->errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(L->err + n, L->errsz - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Read a whole file that only its owner (and group) may read, when
 * private_what names it ("key file", "secret file"). Returns a malloc'd
 * buffer (NUL-terminated, *len bytes) or NULL after fail().
 */
static char *
read_file(struct loader *L, int line, const char *path, size_t max, const char *private_what,
          size_t *len)
{
	/* The config file itself is already named by the "FILE: " prefix. */
	char what[1100];
	struct stat st;
	char *data;
	size_t n = 0;
	int fd;

	if (private_what)
		snprintf(what, sizeof(what), "%s %s", private_what, path);
	else
		snprintf(what, sizeof(what), "config file");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fail(L, line, "cannot open %s: %s", what, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(L, line, "%s is not a regular file", what);
		close(fd);
		return NULL;
	}
	if (private_what && (st.st_mode & S_IROTH)) {
		fail(L, line, "%s is readable by other users: chmod 600 %s", what, path);
		close(fd);
		return NULL;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		fail(L, line, "%s is too large (%zu bytes at most)", what, max);
		close(fd);
		return NULL;
	}
	data = xmalloc(max + 1);
	for (;;) {
		ssize_t r = read(fd, data + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(L, line, "cannot read %s: %s", what, strerror(errno));
			explicit_bzero(data, n);
			free(data);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			fail(L, line, "%s is too large (%zu bytes at most)", what, max);
			explicit_bzero(data, n);
			free(data);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	data[n] = '\0';
	*len = n;
	return data;
}

/* Resolve a path from the config file against the config file's folder. */
static bool
resolve(struct loader *L, const char *path, char *out, size_t outsz)
{
	int n;

	if (path[0] == '/')
		n = snprintf(out, outsz, "%s", path);
	else
		n = snprintf(out, outsz, "%s/%s", L->dir, path);
	if (n < 0 || (size_t)n >= outsz) {
		fail(L, L->line, "path too long: %s", path);
		return false;
	}
	return true;
}

/* An [egress] section ends: it needs a name and an address, each name once, each address
 * once (two names for one address would be one source counted twice). */
static void
egress_end(struct loader *L)
{
	struct config *c = L->c;
	struct config_egress *e = &c->egress[c->n_egress - 1];
	if (!(L->seen[S_EGRESS] & ((uint64_t)1 << K_EGRESS_NAME)) ||
	    !(L->seen[S_EGRESS] & ((uint64_t)1 << K_EGRESS_ADDRESS))) {
		fail(L, L->section_line,
		     "[egress] section has no %s (it needs name and address: name = mta2, "
		     "address = 192.0.2.2)",
		     L->seen[S_EGRESS] & ((uint64_t)1 << K_EGRESS_NAME) ? "address" : "name");
		return;
	}
	if (e->npools == 0) {
		snprintf(e->pools[0], sizeof(e->pools[0]), "default");
		e->npools = 1;
	}
	for (size_t i = 0; i + 1 < c->n_egress; i++) {
		if (strcmp(c->egress[i].name, e->name) == 0) {
			fail(L, L->section_line, "second [egress] section named %s", e->name);
			return;
		}
		if (c->egress[i].family == e->family &&
		    memcmp(c->egress[i].addr, e->addr, e->family == AF_INET6 ? 16 : 4) == 0) {
			fail(L, L->section_line, "[egress] %s and %s have the same address %s",
			     c->egress[i].name, e->name, e->address);
			return;
		}
	}
}

/* The characters of a name in a list (signup lists, egress pools): letters, digits, - _. */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

bool
config_name_ok(const char *v)
{
	size_t n = strlen(v);
	return n > 0 && n < CONFIG_EGRESS_NAME_MAX && strspn(v, NAME_CHARS ".") == n;
}

/* [egress] address: one IPv4 or IPv6 address of this host ([brackets] allowed around IPv6);
 * whether the host has it is checked when sending starts (the bind test). */
static bool
set_egress_address(struct loader *L, struct config_egress *e, const char *v)
{
	char ip[64];
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']')
		snprintf(ip, sizeof(ip), "%.*s", (int)(n - 2), v + 1);
	else
		snprintf(ip, sizeof(ip), "%s", v);
	if (inet_pton(AF_INET, ip, e->addr) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, e->addr) == 1)
		e->family = AF_INET6;
	else {
		fail(L, L->line,
		     "address '%.100s' is not an IPv4 or IPv6 address (a source address is "
		     "an address, not a host name)",
		     v);
		return false;
	}
	static const unsigned char any6[16];
	if ((e->family == AF_INET && memcmp(e->addr, "\0\0\0\0", 4) == 0) ||
	    (e->family == AF_INET6 && memcmp(e->addr, any6, 16) == 0)) {
		fail(L, L->line, "address '%.100s' is the wildcard address, not a source", v);
		return false;
	}
	inet_ntop(e->family, e->addr, e->address, sizeof(e->address));
	return true;
}

/*
 * set_names - a list of names separated by commas or blanks into out (max of them, each
 * of the characters in chars and shorter than NAME_LIST_MAX), their count in *n; errors
 * say what an item must be ("a list name a link can carry") and allowed in words
 */
enum { NAME_LIST_MAX = 64 };
static bool
set_names(struct loader *L, const char *key, const char *v, const char *chars, const char *what,
          const char *allowed, char (*out)[NAME_LIST_MAX], size_t max, size_t *n)
{
	*n = 0;
	for (const char *p = v; *p;) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		if (strspn(p, chars) < len || len >= NAME_LIST_MAX) {
			fail(L, L->line, "%s: '%.*s' is not %s (%s, %d at most)", key,
			     (int)(len > 64 ? 64 : len), p, what, allowed, NAME_LIST_MAX - 1);
			return false;
		}
		if (*n == max) {
			fail(L, L->line, "%s: %zu at most", key, max);
			return false;
		}
		memcpy(out[*n], p, len);
		out[(*n)++][len] = '\0';
		p += len;
	}
	return true;
}

_Static_assert(sizeof(((struct config_egress *)0)->pools[0]) == NAME_LIST_MAX &&
                   sizeof(((struct config *)0)->signup_lists[0]) == NAME_LIST_MAX,
               "set_names fills lists of NAME_LIST_MAX-byte names");

/* A section header seen by the reader: finish the last section, start this one. */
static void
section_end(struct loader *L)
{
	if (L->cur == S_EGRESS) {
		egress_end(L);
		return;
	}
	if (L->cur != S_DKIM)
		return;
	struct config_dkim *d = &L->c->dkim[L->c->n_dkim - 1];
	static const enum key need[] = {K_DKIM_DOMAIN, K_DKIM_SELECTOR, K_DKIM_KEY_FILE};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!(L->seen[S_DKIM] & ((uint64_t)1 << need[i]))) {
			fail(L, L->section_line,
			     "[dkim] section has no %s (it needs domain, "
			     "selector and key_file)",
			     keys[need[i]].name);
			return;
		}
	}
	for (size_t i = 0; i + 1 < L->c->n_dkim; i++) {
		if (strcmp(L->c->dkim[i].domain, d->domain) == 0 &&
		    strcmp(L->c->dkim[i].selector, d->selector) == 0) {
			fail(L, L->section_line, "second [dkim] section for %s._domainkey.%s",
			     d->selector, d->domain);
			return;
		}
	}
}

static void
section_start(struct loader *L, const char *name, size_t n)
{
	enum section s = S_NONE;

	for (int i = S_NONE + 1; i < S_COUNT; i++) {
		if (strlen(section_names[i]) == n && memcmp(section_names[i], name, n) == 0)
			s = (enum section)i;
	}
	if (s == S_NONE) {
		fail(L, L->line, "unknown section [%.*s]", (int)(n > 64 ? 64 : n), name);
		return;
	}
	section_end(L);
	if (L->failed)
		return;
	L->cur = s;
	L->section_line = L->line;
	if (s == S_DKIM) {
		if (L->c->n_dkim == CONFIG_MAX_DKIM) {
			fail(L, L->line, "too many [dkim] sections (%d at most)", CONFIG_MAX_DKIM);
			return;
		}
		L->c->n_dkim++;
		L->seen[S_DKIM] = 0;
	}
	if (s == S_EGRESS) {
		if (L->c->n_egress == CONFIG_MAX_EGRESS) {
			fail(L, L->line, "too many [egress] sections (%d at most)",
			     CONFIG_MAX_EGRESS);
			return;
		}
		struct config_egress *e = &L->c->egress[L->c->n_egress++];
		e->weight = 1;
		L->seen[S_EGRESS] = 0;
	}
}

/*
 * A key line too long for inih's buffer: keep its value (as inih would have
 * cut it: blanks trimmed, " ;" comment dropped) and give inih "name=\x01".
 */
static char *
stash_long(struct loader *L, const char *p, size_t n, char *str, int num)
{
	const char *sep = NULL;
	size_t name_len, v, e;

	for (size_t i = 0; i < n && !sep; i++)
		if (p[i] == '=' || p[i] == ':')
			sep = p + i;
	name_len = (size_t)(sep - p);
	while (name_len > 0 && is_blank(p[name_len - 1]))
		name_len--;
	if (name_len + sizeof(long_marker) + 2 > (size_t)num) {
		fail(L, L->line, "line too long");
		return NULL;
	}
	v = (size_t)(sep - p) + 1;
	while (v < n && is_blank(p[v]))
		v++;
	e = v;
	while (e < n && !(p[e] == ';' && e > v && is_blank(p[e - 1])))
		e++;
	while (e > v && is_blank(p[e - 1]))
		e--;
	memcpy(L->stash, p + v, e - v);
	L->stash[e - v] = '\0';
	L->stashed = true;
	memcpy(str, p, name_len);
	str[name_len] = '=';
	memcpy(str + name_len + 1, long_marker, sizeof(long_marker));
	return str;
}

/*
 * inih's line reader: hand over one physical line at a time, with leading
 * blanks removed, after checking the things inih would accept silently or
 * report without a reason. Returns NULL at the end or after an error.
 */
static char *
reader(char *str, int num, void *stream)
{
	struct loader *L = stream;
	const char *p, *nl;
	size_t n;

	if (L->failed || L->pos >= L->len || num < 8)
		return NULL;
	p = L->text + L->pos;
	nl = memchr(p, '\n', L->len - L->pos);
	n = nl ? (size_t)(nl - p) : L->len - L->pos;
	L->pos += n + (nl ? 1 : 0);
	L->line++;
	L->stashed = false;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	while (n > 0 && is_blank(*p))
		p++, n--;
	if (n > CONFIG_LINE_MAX) {
		fail(L, L->line, "line too long (%d bytes at most)", CONFIG_LINE_MAX);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			fail(L, L->line, "control character in line");
			return NULL;
		}
	}
	if (n == 0 || p[0] == ';' || p[0] == '#') {
		str[0] = '\0'; /* a blank line to inih; comments may be of any length */
		return str;
	}
	if (p[0] == '[') {
		const char *end = memchr(p, ']', n);
		if (!end) {
			fail(L, L->line, "no ']' at the end of the section name");
			return NULL;
		}
		const char *name = p + 1;
		size_t name_len = (size_t)(end - name);
		while (name_len > 0 && is_blank(*name))
			name++, name_len--;
		while (name_len > 0 && is_blank(name[name_len - 1]))
			name_len--;
		section_start(L, name, name_len);
		if (L->failed)
			return NULL;
		/* inih tracks the section too; give it a short header. */
		snprintf(str, (size_t)num, "[%s]", section_names[L->cur]);
		return str;
	}
	if (!memchr(p, '=', n) && !memchr(p, ':', n)) {
		fail(L, L->line, "expected [section] or key = value");
		return NULL;
	}
	if (p[0] == '=' || p[0] == ':') {
		fail(L, L->line, "missing key name before '%c'", p[0]);
		return NULL;
	}
	if (n + 2 > (size_t)num)
		return stash_long(L, p, n, str, num);
	memcpy(str, p, n);
	str[n] = '\0';
	return str;
}

/* Strip one pair of matching quotes; refuse a quote left open. */
static bool
unquote(struct loader *L, const char *name, const char *v, char *out, size_t outsz)
{
	size_t n = strlen(v);

	if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
		if (n < 2 || v[n - 1] != v[0]) {
			fail(L, L->line,
			     "unterminated quoted value for '%s' (a ';' after a blank starts a "
			     "comment)",
			     name);
			return false;
		}
		v++;
		n -= 2;
	}
	if (n >= outsz) {
		fail(L, L->line, "value of '%s' is too long", name);
		return false;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* Copy a checked string into a struct field, refusing what does not fit. */
static bool
set_str(struct loader *L, const char *name, char *dst, size_t dstsz, const char *v)
{
	size_t n = strlen(v);

	if (n >= dstsz) {
		fail(L, L->line, "value of '%s' is too long (%zu bytes at most)", name, dstsz - 1);
		return false;
	}
	memcpy(dst, v, n + 1);
	return true;
}

static bool
set_domain(struct loader *L, const char *name, char *dst, size_t dstsz, const char *v)
{
	const char *reason = "";

	if (address_parse_domain(v, strlen(v), dst, dstsz, &reason) < 0) {
		fail(L, L->line, "%s '%s' is not a valid domain: %s", name, v, reason);
		return false;
	}
	return true;
}

/* EHLO takes a domain or an address literal (RFC 5321 4.1.1.1). */
static bool
set_ehlo(struct loader *L, char *dst, size_t dstsz, const char *v)
{
	char probe[ADDRESS_MAX + 8];
	struct address a;
	const char *reason = "";

	if (v[0] != '[')
		return set_domain(L, "ehlo", dst, dstsz, v);
	snprintf(probe, sizeof(probe), "x@%s", v);
	if (strlen(v) > ADDRESS_DOMAIN_MAX ||
	    address_parse(probe, strlen(probe), ADDRESS_ALLOW_IP_LITERAL, &a, &reason) < 0) {
		fail(L, L->line, "ehlo '%s' is not a valid address literal: %s", v, reason);
		return false;
	}
	return set_str(L, "ehlo", dst, dstsz, a.domain);
}

/*
 * An unsubscribe or view URL: https://HOST[:PORT][/...], no blanks, controls
 * or non-ASCII; http:// only for 127.0.0.1, [::1] or localhost (tests).
 */
static bool
set_url(struct loader *L, const char *name, char *dst, size_t dstsz, const char *v)
{
	const char *host, *end, *colon;
	bool https = strncasecmp(v, "https://", 8) == 0;
	bool http = strncasecmp(v, "http://", 7) == 0;
	size_t hlen;

	for (const char *p = v; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= 0x20 || ch >= 0x7f) {
			fail(L, L->line, "%s must be a URL without blanks or non-ASCII characters",
			     name);
			return false;
		}
	}
	if (!https && !http) {
		fail(L, L->line, "%s '%s' must start with https://", name, v);
		return false;
	}
	host = v + (https ? 8 : 7);
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host))) {
		fail(L, L->line, "%s '%s' must not hold a user name", name, v);
		return false;
	}
	/* Drop the port: after the last ':' unless inside [IPv6]. */
	colon = NULL;
	for (const char *p = host; p < end; p++) {
		if (*p == ':')
			colon = p;
		else if (*p == ']')
			colon = NULL;
	}
	if (colon) {
		if (colon + 1 == end ||
		    strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1)) {
			fail(L, L->line, "%s '%s' has a bad port", name, v);
			return false;
		}
		end = colon;
	}
	hlen = (size_t)(end - host);
	if (hlen == 0) {
		fail(L, L->line, "%s '%s' has no host", name, v);
		return false;
	}
	if (http) {
		static const char *const local[] = {"127.0.0.1", "localhost", "[::1]"};
		bool ok = false;
		for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
			if (strlen(local[i]) == hlen && strncasecmp(local[i], host, hlen) == 0)
				ok = true;
		if (!ok) {
			fail(L, L->line,
			     "%s '%s' must start with https:// (http:// is only for 127.0.0.1 and "
			     "localhost)",
			     name, v);
			return false;
		}
	} else if (host[0] != '[') {
		char dom[ADDRESS_DOMAIN_MAX + 1];
		const char *reason = "";
		if (strspn(host, "0123456789.") < hlen &&
		    address_parse_domain(host, hlen, dom, sizeof(dom), &reason) < 0) {
			fail(L, L->line, "%s '%s' has a bad host name: %s", name, v, reason);
			return false;
		}
	}
	return set_str(L, name, dst, dstsz, v);
}

static bool
set_mailto(struct loader *L, const char *v)
{
	struct address a;
	const char *reason = "";

	if (strncasecmp(v, "mailto:", 7) == 0)
		v += 7;
	if (address_parse(v, strlen(v), 0, &a, &reason) < 0) {
		fail(L, L->line, "mailto '%s' is not a valid address: %s", v, reason);
		return false;
	}
	return set_str(L, "mailto", L->c->unsub_mailto, sizeof(L->c->unsub_mailto), a.email);
}

static bool
set_secret(struct loader *L, const void *p, size_t n)
{
	if (n < SECRET_MIN) {
		fail(L, L->line, "secret is too short (need %d bytes or more)", SECRET_MIN);
		return false;
	}
	if (n > SECRET_MAX) {
		fail(L, L->line, "secret is too long (%zu bytes at most)", SECRET_MAX);
		return false;
	}
	memcpy(L->c->secret, p, n);
	L->c->secret_len = n;
	return true;
}

static bool
secret_from(struct loader *L, enum key k, const char *v)
{
	if (L->secret_line) {
		fail(L, L->line,
		     "[secret] takes one of value, file or env (another was given on "
		     "line %d)",
		     L->secret_line);
		return false;
	}
	L->secret_line = L->line;
	L->c->secret_named = true;
	if (L->peek)
		return true;
	if (k == K_SECRET_VALUE)
		return set_secret(L, v, strlen(v));
	if (k == K_SECRET_ENV) {
		const char *e = getenv(v);
		if (!e) {
			fail(L, L->line, "environment variable %s is not set", v);
			return false;
		}
		return set_secret(L, e, strlen(e));
	}
	char path[1024];
	size_t n;
	if (!resolve(L, v, path, sizeof(path)))
		return false;
	char *data = read_file(L, L->line, path, SECRET_FILE_MAX, "secret file", &n);
	if (!data)
		return false;
	if (n > 0 && data[n - 1] == '\n')
		n--;
	if (n > 0 && data[n - 1] == '\r')
		n--;
	bool ok = set_secret(L, data, n);
	explicit_bzero(data, n);
	free(data);
	return ok;
}

static bool
dkim_key_file(struct loader *L, struct config_dkim *d, const char *v)
{
	char e[256] = "";
	size_t n;

	if (!resolve(L, v, d->key_file, sizeof(d->key_file)))
		return false;
	if (L->peek)
		return true;
	char *pem = read_file(L, L->line, d->key_file, DKIM_PEM_MAX, "key file", &n);
	if (!pem)
		return false;
	int rc = dkim_key_load(pem, n, &d->key, e, sizeof(e));
	explicit_bzero(pem, n);
	free(pem);
	if (rc < 0) {
		fail(L, L->line, "key file %s: %s", d->key_file, e);
		return false;
	}
	return true;
}

/* A DKIM selector: dot-separated LDH labels (RFC 6376 3.1). */
static bool
set_selector(struct loader *L, struct config_dkim *d, const char *v)
{
	size_t n = strlen(v), label = 0;
	bool ok = n > 0 && n < sizeof(d->selector);

	for (size_t i = 0; ok && i <= n; i++) {
		char ch = v[i];
		if (ch == '.' || ch == '\0') {
			ok = label > 0 && label <= 63 && v[i - 1] != '-' && v[i - label] != '-';
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '-') {
			label++;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		fail(L, L->line,
		     "selector '%s' is not a valid DNS name (letters, digits, '-', '.')", v);
		return false;
	}
	return set_str(L, "selector", d->selector, sizeof(d->selector), v);
}

static bool
set_feedback_id(struct loader *L, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			fail(L, L->line,
			     "feedback_id may hold printable ASCII only, without blanks");
			return false;
		}
	}
	return set_str(L, "feedback_id", L->c->feedback_id, sizeof(L->c->feedback_id), v);
}

/* The relay password: inline, from a file (one line) or from the environment. */
static bool
relay_password(struct loader *L, enum key k, const char *v)
{
	char *dst = L->c->relay_password;
	size_t cap = sizeof(L->c->relay_password);
	if (L->relay_password) {
		fail(L, L->line, "[relay] takes one of password, password_file or password_env");
		return false;
	}
	L->relay_password = true;
	if (L->peek)
		return true;
	if (k == K_RELAY_PASSWORD)
		return set_str(L, "password", dst, cap, v);
	if (k == K_RELAY_PASSWORD_ENV) {
		const char *e = getenv(v);
		if (!e || !*e) {
			fail(L, L->line, "environment variable %s is not set", v);
			return false;
		}
		return set_str(L, "password_env", dst, cap, e);
	}
	char path[1024];
	size_t n;
	if (!resolve(L, v, path, sizeof(path)))
		return false;
	char *data = read_file(L, L->line, path, cap - 1, "password file", &n);
	if (!data)
		return false;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		data[--n] = '\0';
	bool ok = n > 0 && set_str(L, "password_file", dst, cap, data);
	if (n == 0)
		fail(L, L->line, "password file %s is empty", path);
	explicit_bzero(data, n);
	free(data);
	return ok;
}

static bool
relay_url(struct loader *L, const char *v)
{
	struct smtp_url u;
	char e[300];
	if (smtp_url_parse(v, &u, e, sizeof(e)) < 0) {
		fail(L, L->line, "%s", e);
		return false;
	}
	return set_str(L, "url", L->c->relay_url, sizeof(L->c->relay_url), v);
}

static bool
set_redis_url(struct loader *L, const char *v)
{
	struct redis_url u;
	const char *why;
	if (redis_url_parse(v, &u, &why) < 0) {
		fail(L, L->line, "url: %s", why);
		return false;
	}
	return set_str(L, "url", L->c->redis_url, sizeof(L->c->redis_url), v);
}

static bool
relay_tls(struct loader *L, const char *v)
{
	enum tls_policy pol;
	if (tls_policy_parse(v, &pol) < 0 || pol == TLS_POLICY_DANE) {
		fail(L, L->line, "tls takes none, opportunistic, required or verify, not '%s'", v);
		return false;
	}
	L->c->relay_tls = (int)pol;
	return true;
}

/* A yes-or-no setting: yes/no, true/false, on/off, 1/0, in any case. */
static bool
set_bool(struct loader *L, const char *name, bool *dst, const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*dst = strcasecmp(v, yes[i]) == 0;
			return true;
		}
	}
	fail(L, L->line, "%s takes yes or no, not '%.64s'", name, v);
	return false;
}

/* A number from lo to hi. */
static bool
set_uint(struct loader *L, const char *name, unsigned *dst, const char *v, unsigned lo, unsigned hi)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end || errno || n < lo || n > hi) {
		fail(L, L->line, "%s takes a number from %u to %u, not '%.64s'", name, lo, hi, v);
		return false;
	}
	*dst = (unsigned)n;
	return true;
}

/* Printable text for a page (no controls: checked already), at most dstsz - 1 bytes. */
static bool
set_text(struct loader *L, const char *name, char *dst, size_t dstsz, const char *v)
{
	if (!utf8_valid(v, strlen(v))) {
		fail(L, L->line, "%s is not UTF-8 text", name);
		return false;
	}
	return set_str(L, name, dst, dstsz, v);
}

static bool
set_colour(struct loader *L, const char *v)
{
	uint32_t rgb;
	if (colour_parse(v, &rgb) < 0) {
		fail(L, L->line, "colour takes #rrggbb or #rgb, not '%.64s'", v);
		return false;
	}
	colour_format(rgb, L->c->brand_colour);
	return true;
}

/*
 * [signup] lists: list names separated by commas or blanks, each one a URL
 * path segment (kirim serve's /s/LIST): letters, digits, '-' and '_'.
 */
static bool
set_signup_lists(struct loader *L, const char *v)
{
	return set_names(L, "lists", v, NAME_CHARS, "a list name a link can carry",
	                 "letters, digits, - and _", L->c->signup_lists, CONFIG_MAX_SIGNUP_LISTS,
	                 &L->c->n_signup_lists);
}

/*
 * [signup] cors_origins: the origins (RFC 6454: scheme://host[:port], no path)
 * whose pages may post to the signup endpoint with fetch, separated by commas
 * or blanks. Kept lower-cased, as browsers send them. Never "*": a signup is
 * personal data, and each site that may send one is named.
 */
static bool
set_signup_cors(struct loader *L, const char *v)
{
	struct config *c = L->c;
	c->n_signup_cors = 0;
	for (const char *p = v; *p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n == 1 && *p == '*') {
			fail(L, L->line,
			     "cors_origins: not '*': name each site whose pages post signups "
			     "(https://www.example.com)");
			return false;
		}
		size_t scheme = n > 8 && strncasecmp(p, "https://", 8) == 0  ? 8
		                : n > 7 && strncasecmp(p, "http://", 7) == 0 ? 7
		                                                             : 0;
		const char *host = p + scheme;
		size_t hn = n - scheme;
		bool ok = scheme > 0 && n < sizeof(c->signup_cors[0]) &&
		          strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                       "0123456789.-:[]") >= hn &&
		          host[0] != ':' && host[hn - 1] != ':';
		if (!ok) {
			fail(L, L->line,
			     "cors_origins: '%.*s' is not an origin (https://host or "
			     "https://host:port, no path)",
			     (int)(n > 200 ? 200 : n), p);
			return false;
		}
		if (c->n_signup_cors == CONFIG_MAX_SIGNUP_CORS) {
			fail(L, L->line, "cors_origins: %d at most", CONFIG_MAX_SIGNUP_CORS);
			return false;
		}
		char *d = c->signup_cors[c->n_signup_cors++];
		for (size_t i = 0; i < n; i++)
			d[i] = (char)tolower((unsigned char)p[i]);
		d[n] = '\0';
		p += n;
	}
	return true;
}

static bool
set_signup_from(struct loader *L, const char *v)
{
	char e[256];
	if (campaign_parse_from(v, L->c->signup_from_name, sizeof(L->c->signup_from_name),
	                        L->c->signup_from_addr, e, sizeof(e)) < 0) {
		fail(L, L->line, "from '%.200s': %s", v, e);
		return false;
	}
	return true;
}

static bool
apply(struct loader *L, enum key k, const char *v)
{
	struct config *c = L->c;
	struct config_dkim *d = c->n_dkim ? &c->dkim[c->n_dkim - 1] : NULL;
	struct config_egress *eg = c->n_egress ? &c->egress[c->n_egress - 1] : NULL;

	switch (k) {
	case K_SENDER_DOMAIN:
		return set_domain(L, "domain", c->domain, sizeof(c->domain), v);
	case K_SENDER_EHLO:
		return set_ehlo(L, c->ehlo, sizeof(c->ehlo), v);
	case K_SENDER_FEEDBACK_ID:
		return set_feedback_id(L, v);
	case K_UNSUB_URL:
		return set_url(L, "url", c->unsub_url, sizeof(c->unsub_url), v);
	case K_UNSUB_MAILTO:
		return set_mailto(L, v);
	case K_UNSUB_VIEW_URL:
		return set_url(L, "view_url", c->view_url, sizeof(c->view_url), v);
	case K_BOUNCE_DOMAIN:
		return set_domain(L, "domain", c->bounce_domain, sizeof(c->bounce_domain), v);
	case K_SECRET_VALUE:
	case K_SECRET_FILE:
	case K_SECRET_ENV:
		return secret_from(L, k, v);
	case K_DKIM_DOMAIN:
		return set_domain(L, "domain", d->domain, sizeof(d->domain), v);
	case K_DKIM_SELECTOR:
		return set_selector(L, d, v);
	case K_DKIM_KEY_FILE:
		return dkim_key_file(L, d, v);
	case K_RELAY_URL:
		return relay_url(L, v);
	case K_RELAY_PASSWORD:
	case K_RELAY_PASSWORD_FILE:
	case K_RELAY_PASSWORD_ENV:
		return relay_password(L, k, v);
	case K_RELAY_TLS:
		return relay_tls(L, v);
	case K_RELAY_CA_FILE: {
		char path[1024];
		return resolve(L, v, path, sizeof(path)) &&
		       set_str(L, "ca_file", c->relay_ca_file, sizeof(c->relay_ca_file), path);
	}
	case K_DATABASE_GROUP_READABLE:
		return set_bool(L, "group_readable", &c->db_group_readable, v);
	case K_TLS_CA_FILE: {
		char path[1024];
		return resolve(L, v, path, sizeof(path)) &&
		       set_str(L, "ca_file", c->tls_ca_file, sizeof(c->tls_ca_file), path);
	}
	case K_TLS_MTA_STS:
		return set_bool(L, "mta_sts", &c->tls_mta_sts, v);
	case K_TLS_DANE:
		if (strcasecmp(v, "auto") == 0) {
			c->tls_dane = -1;
			return true;
		} else {
			bool on;
			if (!set_bool(L, "dane", &on, v))
				return false;
			c->tls_dane = on;
			return true;
		}
	case K_BRAND_NAME:
		return set_text(L, "name", c->brand_name, sizeof(c->brand_name), v);
	case K_BRAND_LOGO_URL:
		return set_url(L, "logo_url", c->brand_logo_url, sizeof(c->brand_logo_url), v);
	case K_BRAND_COLOUR:
		return set_colour(L, v);
	case K_BRAND_URL:
		return set_url(L, "url", c->brand_url, sizeof(c->brand_url), v);
	case K_BRAND_PRIVACY_URL:
		return set_url(L, "privacy_url", c->brand_privacy_url, sizeof(c->brand_privacy_url),
		               v);
	case K_BRAND_ADDRESS:
		return set_text(L, "address", c->brand_address, sizeof(c->brand_address), v);
	case K_SIGNUP_LISTS:
		return set_signup_lists(L, v);
	case K_SIGNUP_FROM:
		return set_signup_from(L, v);
	case K_SIGNUP_EXPIRY:
		return set_uint(L, "expiry_hours", &c->signup_expiry_hours, v, 1, 720);
	case K_SIGNUP_PER_IP:
		return set_uint(L, "per_ip_per_hour", &c->signup_per_ip, v, 1, 100000);
	case K_SIGNUP_RESEND:
		return set_uint(L, "resend_minutes", &c->signup_resend_minutes, v, 0, 1440);
	case K_SIGNUP_PENDING:
		return set_uint(L, "pending_days", &c->signup_pending_days, v, 1, 365);
	case K_SIGNUP_CORS:
		return set_signup_cors(L, v);
	case K_NODE_NAME:
		if (!config_name_ok(v)) {
			fail(L, L->line,
			     "name '%.64s': a node's name is 1 to 63 letters, digits, '.', '-' or "
			     "'_'",
			     v);
			return false;
		}
		return set_text(L, "name", c->node_name, sizeof(c->node_name), v);
	case K_NODE_LEASE:
		return set_uint(L, "lease", &c->node_lease_s, v, LEASE_MIN_S, LEASE_MAX_S);
	case K_PAGES_DIR: {
		char path[1024];
		return resolve(L, v, path, sizeof(path)) &&
		       set_str(L, "dir", c->pages_dir, sizeof(c->pages_dir), path);
	}
	case K_PAGES_LANGUAGE:
		if (!i18n_tag_ok(v)) {
			fail(L, L->line, "language '%.64s' is not a language tag (en, id, pt-BR)",
			     v);
			return false;
		}
		return set_str(L, "language", c->pages_language, sizeof(c->pages_language), v);
	case K_HOOKS_SES_TOPICS:
		return set_str(L, "ses_topics", c->hooks_ses_topics, sizeof(c->hooks_ses_topics),
		               v);
	case K_HOOKS_SNS_CERT_HOSTS:
		return set_str(L, "sns_cert_hosts", c->hooks_sns_cert_hosts,
		               sizeof(c->hooks_sns_cert_hosts), v);
	case K_HOOKS_SNS_CA_FILE: {
		char path[1024];
		return resolve(L, v, path, sizeof(path)) &&
		       set_str(L, "sns_ca_file", c->hooks_sns_ca_file, sizeof(c->hooks_sns_ca_file),
		               path);
	}
	case K_HOOKS_SNS_DNS:
		return set_str(L, "sns_dns", c->hooks_sns_dns, sizeof(c->hooks_sns_dns), v);
	case K_HOOKS_SENDGRID_KEY:
		return set_str(L, "sendgrid_key", c->hooks_sendgrid_key,
		               sizeof(c->hooks_sendgrid_key), v);
	case K_HOOKS_SENDGRID_MAX_AGE:
		return set_uint(L, "sendgrid_max_age", &c->hooks_sendgrid_max_age, v, 1, 86400);
	case K_HOOKS_POSTMARK_USER:
		return set_text(L, "postmark_user", c->hooks_postmark_user,
		                sizeof(c->hooks_postmark_user), v);
	case K_HOOKS_POSTMARK_PASSWORD:
		return set_str(L, "postmark_password", c->hooks_postmark_password,
		               sizeof(c->hooks_postmark_password), v);
	case K_EGRESS_NAME:
		if (!config_name_ok(v)) {
			fail(L, L->line,
			     "name '%.64s' is not a source name (letters, digits, - _ and ., %d at "
			     "most)",
			     v, CONFIG_EGRESS_NAME_MAX - 1);
			return false;
		}
		return set_str(L, "name", eg->name, sizeof(eg->name), v);
	case K_EGRESS_ADDRESS:
		return set_egress_address(L, eg, v);
	case K_EGRESS_EHLO:
		return set_ehlo(L, eg->ehlo, sizeof(eg->ehlo), v);
	case K_EGRESS_WEIGHT:
		return set_uint(L, "weight", &eg->weight, v, 1, 10000);
	case K_EGRESS_POOL:
		return set_names(L, "pool", v, NAME_CHARS ".", "a pool name",
		                 "letters, digits, - _ and .", eg->pools, CONFIG_EGRESS_POOLS_MAX,
		                 &eg->npools);
	case K_REDIS_URL:
		return set_redis_url(L, v);
	case K_REDIS_PREFIX:
		if (v[0] == '\0' || strlen(v) >= sizeof(c->redis_prefix) ||
		    strspn(v, NAME_CHARS ".:") != strlen(v)) {
			fail(L, L->line,
			     "prefix '%.64s' is not a key prefix (letters, digits, - _ . and :, "
			     "%zu at "
			     "most)",
			     v, sizeof(c->redis_prefix) - 1);
			return false;
		}
		return set_str(L, "prefix", c->redis_prefix, sizeof(c->redis_prefix), v);
	case K_REDIS_NODES:
		return set_uint(L, "nodes", &c->redis_nodes, v, 1, 1000);
	case K_COUNT:
		break;
	}
	return false;
}

/* inih's handler: find the key in the current section and apply its value. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *L = user;
	char v[CONFIG_LINE_MAX + 1];
	int k;

	(void)section; /* the reader keeps the section, and knows repeats apart */
	if (L->failed)
		return 0;
	if (L->stashed && strcmp(value, long_marker) == 0)
		value = L->stash;
	if (L->cur == S_NONE) {
		fail(L, L->line, "key '%s' outside a section", name);
		return 0;
	}
	for (k = 0; k < K_COUNT; k++)
		if (keys[k].section == L->cur && strcmp(keys[k].name, name) == 0)
			break;
	if (k == K_COUNT) {
		fail(L, L->line, "unknown key '%s' in [%s]", name, section_names[L->cur]);
		return 0;
	}
	if (L->seen[L->cur] & ((uint64_t)1 << k)) {
		fail(L, L->line, "duplicate key '%s' in [%s]", name, section_names[L->cur]);
		return 0;
	}
	L->seen[L->cur] |= (uint64_t)1 << k;
	if (!unquote(L, name, value, v, sizeof(v)))
		return 0;
	if (v[0] == '\0') {
		fail(L, L->line, "empty value for '%s' in [%s]", name, section_names[L->cur]);
		return 0;
	}
	bool ok = apply(L, (enum key)k, v);
	explicit_bzero(v, sizeof(v)); /* it may have been the secret */
	return ok ? 1 : 0;
}

static void
defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->relay_tls = -1;
	c->tls_mta_sts = true;
	c->tls_dane = -1;
	c->signup_expiry_hours = 48;
	c->signup_per_ip = 20;
	c->signup_resend_minutes = 10;
	c->signup_pending_days = 7;
	c->node_lease_s = LEASE_S;
	snprintf(c->pages_language, sizeof(c->pages_language), "en");
	snprintf(c->hooks_sns_cert_hosts, sizeof(c->hooks_sns_cert_hosts), "%s",
	         CONFIG_SNS_CERT_HOSTS);
	c->hooks_sendgrid_max_age = 600;
}

/* What the file as a whole must say: a signup list needs a sender for its confirmations. */
static void
finish(struct loader *L)
{
	if (L->c->n_signup_lists && !L->c->signup_from_addr[0])
		fail(L, 0,
		     "[signup] lists needs from (the sender of confirmation requests: from = "
		     "\"Shop <news@example.com>\")");
	if (!L->c->hooks_postmark_user[0] != !L->c->hooks_postmark_password[0])
		fail(L, 0, "[hooks] postmark_user and postmark_password go together");
	/* A link that outlived its signup would confirm no one: the purge had taken it. */
	if (L->c->signup_expiry_hours > L->c->signup_pending_days * 24u)
		fail(L, 0,
		     "[signup] expiry_hours (%u) is longer than pending_days (%u days): a "
		     "confirmation link must expire before its signup is purged",
		     L->c->signup_expiry_hours, L->c->signup_pending_days);
}

/* load - config_load, or config_peek when peek */
static int
load(const char *path, struct config *c, bool peek, char *err, size_t errsz)
{
	struct loader L;
	bool named = true;
	size_t len = 0;
	char *text;

	defaults(c);
	if (err && errsz)
		err[0] = '\0';
	memset(&L, 0, sizeof(L));
	L.c = c;
	L.peek = peek;
	L.err = err;
	L.errsz = errsz;
	if (!path) {
		path = getenv("KIRIM_CONFIG");
		if (!path || !path[0]) {
			path = "kirim.conf";
			named = false;
		}
	}
	L.file = path;
	if (strlen(path) >= sizeof(c->path)) {
		fail(&L, 0, "path too long");
		return -1;
	}
	if (!named && access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	text = read_file(&L, 0, path, CONFIG_FILE_MAX, NULL, &len);
	if (!text)
		return -1;
	memcpy(c->path, path, strlen(path) + 1);

	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(L.dir, sizeof(L.dir), ".");
	else if (slash == path)
		snprintf(L.dir, sizeof(L.dir), "/");
	else
		snprintf(L.dir, sizeof(L.dir), "%.*s", (int)(slash - path), path);

	L.text = text;
	L.len = len;
	/* A UTF-8 byte order mark is allowed at the very start. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		L.pos = 3;
	int rc = ini_parse_stream(reader, &L, handler, &L);
	if (!L.failed)
		section_end(&L);
	if (!L.failed)
		finish(&L);
	if (!L.failed && rc == -2)
		fail(&L, 0, "out of memory");
	else if (!L.failed && rc != 0)
		fail(&L, rc, "syntax error");
	explicit_bzero(text, len); /* the file may hold the secret inline */
	free(text);
	explicit_bzero(L.stash, sizeof(L.stash));
	if (L.failed) {
		config_free(c);
		return -1;
	}
	return 0;
}

/* config_load - read kirim.conf (or the default) into *c */
int
config_load(const char *path, struct config *c, char *err, size_t errsz)
{
	return load(path, c, false, err, errsz);
}

/* config_peek - read kirim.conf's own settings, not the files and variables it names */
int
config_peek(const char *path, struct config *c, char *err, size_t errsz)
{
	return load(path, c, true, err, errsz);
}

/* config_free - release the DKIM keys and wipe the secret */
void
config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_dkim && i < CONFIG_MAX_DKIM; i++) {
		dkim_key_free(c->dkim[i].key);
		c->dkim[i].key = NULL;
	}
	explicit_bzero(c->secret, sizeof(c->secret));
	c->secret_len = 0;
	explicit_bzero(c->relay_password, sizeof(c->relay_password));
	explicit_bzero(c->hooks_postmark_password, sizeof(c->hooks_postmark_password));
}

size_t
config_egress_pool(const struct config *c, const char *name, const struct config_egress **out)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_egress; i++)
		for (size_t k = 0; k < c->egress[i].npools; k++)
			if (strcmp(c->egress[i].pools[k], name) == 0) {
				out[n++] = &c->egress[i];
				break;
			}
	return n;
}

int
config_egress_pool_check(const struct config *c, const char *name, char *err, size_t errsz)
{
	const struct config_egress *in[CONFIG_MAX_EGRESS];
	if (config_egress_pool(c, name, in) > 0)
		return 0;
	snprintf(err, errsz,
	         "no [egress] section in %s is in pool %s (pool = %s in the sections of its "
	         "addresses)",
	         c->path[0] ? c->path : "kirim.conf", name, name);
	return -1;
}

void
config_helo(const struct config *c, char *out, size_t size)
{
	if (c->ehlo[0])
		snprintf(out, size, "%s", c->ehlo);
	else if (gethostname(out, size) < 0 || out[0] == '\0')
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
}
