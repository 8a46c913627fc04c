/*
 * mta_sts - RFC 8461's TXT record, policy file and MX patterns (see mta_sts.h).
 *
 * Both grammars are strict where the RFC is (the version first, field names
 * case-sensitive, the mode one of three words, max_age digits only) and
 * lenient where it says so: unknown fields are ignored, a repeated field other
 * than mx keeps its first value, blanks after the colon and at line ends are
 * allowed, the last line may lack its newline.
 */
#include "kirim/mta_sts.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const mode_names[] = {"none", "testing", "enforce"};

const char *
mta_sts_mode_name(enum mta_sts_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

int
mta_sts_mode_parse(const char *s, enum mta_sts_mode *out)
{
	for (size_t i = 0; s && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum mta_sts_mode)i;
			return 0;
		}
	return -1;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One TXT record: "v=STSv1" then ";"-separated fields, one of them id= (section 3.1). */
static int
txt_parse(const char *s, char id[MTA_STS_ID_MAX], const char **reason)
{
	if (strncmp(s, "v=STSv1", 7) != 0) {
		*reason = "the record does not start with v=STSv1";
		return -1;
	}
	const char *p = s + 7;
	char got[MTA_STS_ID_MAX] = "";
	size_t fields = 0;
	for (;;) {
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ';') {
			*reason = "fields must be separated by ';'";
			return -1;
		}
		p++;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break; /* a final ';' */
		const char *name = p;
		while (is_alnum(*p) || *p == '_' || *p == '-' || *p == '.')
			p++;
		size_t nl = (size_t)(p - name);
		if (nl == 0 || nl > 32 || !is_alnum(name[0]) || *p != '=') {
			*reason = "a field is not NAME=VALUE";
			return -1;
		}
		p++;
		const char *val = p;
		while ((unsigned char)*p >= 0x21 && (unsigned char)*p <= 0x7e && *p != ';' &&
		       *p != '=')
			p++;
		size_t vl = (size_t)(p - val);
		if (vl == 0) {
			*reason = "a field has no value";
			return -1;
		}
		fields++;
		if (nl == 2 && memcmp(name, "id", 2) == 0 && got[0] == '\0') {
			if (vl > 32) {
				*reason = "the id is longer than 32 characters";
				return -1;
			}
			for (size_t i = 0; i < vl; i++)
				if (!is_alnum(val[i])) {
					*reason =
					    "the id holds a character other than a letter or digit";
					return -1;
				}
			memcpy(got, val, vl);
			got[vl] = '\0';
		}
	}
	if (got[0] == '\0') {
		*reason = fields ? "the record has no id" : "the record has no fields";
		return -1;
	}
	memcpy(id, got, sizeof(got));
	return 0;
}

int
mta_sts_txt_select(const char *const *records, size_t n, char id[MTA_STS_ID_MAX],
                   const char **reason)
{
	const char *pick = NULL;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		/* "v=STSv1" followed by the end, a blank or ';' (not "v=STSv10"). */
		const char *r = records[i];
		if (r && strncmp(r, "v=STSv1", 7) == 0 &&
		    (r[7] == '\0' || r[7] == ';' || is_wsp(r[7]))) {
			pick = r;
			found++;
		}
	}
	if (found == 0) {
		*reason = "no TXT record starts with v=STSv1";
		return -1;
	}
	if (found > 1) {
		*reason = "more than one TXT record starts with v=STSv1";
		return -1;
	}
	return txt_parse(pick, id, reason);
}

/* Whether s (n bytes) is a domain name as RFC 5321 writes one: letters, digits and inner
 * hyphens in labels of 1 to 63 bytes, at least two labels, at most 253 bytes. */
static bool
domain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t labels = 0, len = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';
		if (c == '.') {
			if (len == 0 || len > 63 || s[i - 1] == '-')
				return false;
			labels++;
			len = 0;
			continue;
		}
		if (!is_alnum(c) && !(c == '-' && len > 0))
			return false;
		len++;
	}
	return labels >= 2;
}

/* The mx value (n bytes): ["*."] Domain, lower-cased into out. */
static int
mx_value(const char *v, size_t n, char out[256], const char **reason)
{
	if (n > 0 && v[n - 1] == '.')
		n--; /* a trailing dot names the same host */
	size_t skip = n >= 2 && v[0] == '*' && v[1] == '.' ? 2 : 0;
	if (!domain_ok(v + skip, n - skip)) {
		*reason = "an mx value is not a host name or *.host name";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[n] = '\0';
	return 0;
}

enum { F_VERSION = 1u << 0, F_MODE = 1u << 1, F_MAX_AGE = 1u << 2 };

int
mta_sts_policy_parse(const char *body, size_t len, struct mta_sts_policy *out, const char **reason)
{
	if (len > MTA_STS_BODY_MAX) {
		*reason = "the policy is larger than 64 KiB";
		return -1;
	}
	/* Built on the side: *out is set only on success. The struct is 16 KiB: static
	 * storage would do, but parsers here are reentrant (two threads may parse). */
	struct mta_sts_policy p;
	p.mode = MTA_STS_NONE;
	p.max_age = 0;
	p.nmx = 0;
	unsigned seen = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && body[end] != '\n')
			end++;
		size_t next = end < len ? end + 1 : end;
		size_t e = end;
		if (e > pos && body[e - 1] == '\r')
			e--;
		/* Trailing blanks are the line's, not the value's. */
		while (e > pos && is_wsp(body[e - 1]))
			e--;
		const char *line = body + pos;
		size_t n = e - pos;
		pos = next;
		for (size_t i = 0; i < n; i++)
			if (line[i] == '\0' || line[i] == '\r' ||
			    ((unsigned char)line[i] < 0x20 && line[i] != '\t')) {
				*reason = "the policy holds a control character";
				return -1;
			}
		if (n == 0)
			continue; /* a blank line, e.g. the file's last */
		size_t k = 0;
		while (k < n &&
		       (is_alnum(line[k]) || line[k] == '_' || line[k] == '-' || line[k] == '.'))
			k++;
		if (k == 0 || k > 32 || !is_alnum(line[0]) || k >= n || line[k] != ':') {
			*reason = "a line is not \"name: value\"";
			return -1;
		}
		const char *v = line + k + 1;
		size_t vn = n - k - 1;
		while (vn > 0 && is_wsp(*v)) {
			v++;
			vn--;
		}
		if (k == 7 && memcmp(line, "version", 7) == 0) {
			if (seen & F_VERSION)
				continue;
			if (vn != 5 || memcmp(v, "STSv1", 5) != 0) {
				*reason = "the version is not STSv1";
				return -1;
			}
			seen |= F_VERSION;
		} else if (k == 4 && memcmp(line, "mode", 4) == 0) {
			if (seen & F_MODE)
				continue;
			char m[8];
			if (vn >= sizeof(m)) {
				*reason = "the mode is not enforce, testing or none";
				return -1;
			}
			memcpy(m, v, vn);
			m[vn] = '\0';
			if (mta_sts_mode_parse(m, &p.mode) < 0) {
				*reason = "the mode is not enforce, testing or none";
				return -1;
			}
			seen |= F_MODE;
		} else if (k == 7 && memcmp(line, "max_age", 7) == 0) {
			if (seen & F_MAX_AGE)
				continue;
			if (vn == 0 || vn > 10) {
				*reason = "max_age is not 1 to 10 digits";
				return -1;
			}
			uint64_t a = 0;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9') {
					*reason = "max_age is not 1 to 10 digits";
					return -1;
				}
				a = a * 10 + (uint64_t)(v[i] - '0');
			}
			if (a > (uint64_t)MTA_STS_MAX_AGE_MAX) {
				*reason = "max_age is over 31557600 seconds (a year)";
				return -1;
			}
			p.max_age = (long)a;
			seen |= F_MAX_AGE;
		} else if (k == 2 && memcmp(line, "mx", 2) == 0) {
			if (p.nmx == MTA_STS_MX_MAX) {
				*reason = "the policy has more than 64 mx lines";
				return -1;
			}
			if (vn > 255 || mx_value(v, vn, p.mx[p.nmx], reason) < 0) {
				if (vn > 255)
					*reason = "an mx value is not a host name or *.host name";
				return -1;
			}
			p.nmx++;
		}
		/* Any other field is an extension: ignored (section 3.2). */
	}
	if (!(seen & F_VERSION)) {
		*reason = "the policy has no version: STSv1 line";
		return -1;
	}
	if (!(seen & F_MODE)) {
		*reason = "the policy has no mode";
		return -1;
	}
	if (!(seen & F_MAX_AGE)) {
		*reason = "the policy has no max_age";
		return -1;
	}
	if (p.mode != MTA_STS_NONE && p.nmx == 0) {
		*reason = "the policy names no mx host";
		return -1;
	}
	*out = p;
	return 0;
}

bool
mta_sts_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host);
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* One label, then the rest exactly (section 4.1: not the parent, nor deeper). */
		const char *dot = memchr(host, '.', hl);
		if (dot == NULL || dot == host)
			return false;
		size_t rest = hl - (size_t)(dot - host);
		return strlen(pattern + 1) == rest && strncasecmp(pattern + 1, dot, rest) == 0;
	}
	return strlen(pattern) == hl && strncasecmp(pattern, host, hl) == 0;
}

bool
mta_sts_mx_match(const struct mta_sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->nmx; i++)
		if (mta_sts_pattern_match(p->mx[i], host))
			return true;
	return false;
}

void
mta_sts_policy_format(const struct mta_sts_policy *p, struct buf *out)
{
	buf_printf(out, "version: STSv1\nmode: %s\n", mta_sts_mode_name(p->mode));
	for (size_t i = 0; i < p->nmx; i++)
		buf_printf(out, "mx: %s\n", p->mx[i]);
	buf_printf(out, "max_age: %ld\n", p->max_age);
}

long long
mta_sts_refresh_at(long long fetched_at, long max_age)
{
	long before = max_age / 2 < 86400 ? max_age / 2 : 86400;
	return fetched_at + max_age - before;
}
