/* i18n - Accept-Language negotiation and language tag checks (see i18n.h). Pure code. */
#include "kirim/i18n.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { RANGES_MAX = 32 };

static bool
alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
alnum(char c)
{
	return alpha(c) || (c >= '0' && c <= '9');
}

/* i18n_tag_ok - a tag a translation file may be named by */
bool
i18n_tag_ok(const char *s)
{
	size_t n = strlen(s), i = 0;
	if (n == 0 || n > I18N_TAG_MAX)
		return false;
	while (i < n && alpha(s[i]))
		i++;
	if (i < 2 || i > 3)
		return false;
	while (i < n) {
		if (s[i] != '-')
			return false;
		size_t start = ++i;
		while (i < n && alnum(s[i]))
			i++;
		if (i - start < 1 || i - start > 8)
			return false;
	}
	return true;
}

/* A range's weight: "q=0.8" after a ';' (blanks allowed), 1000 when absent, -1 when bad. */
static int
weight(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	if (n == 0)
		return 1000;
	if (*p != ';')
		return -1;
	p++, n--;
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	if (n < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return -1;
	p += 2, n -= 2;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
	if (n == 0 || (p[0] != '0' && p[0] != '1'))
		return -1;
	int q = (p[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (p[1] != '.' || n > 5)
		return -1;
	int scale = 100;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		q += (p[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* RFC 4647 lookup of the range r (rn bytes) in avail: the index, or -1. */
static int
lookup(const char *r, size_t rn, const char *const *avail, size_t n)
{
	while (rn > 0) {
		for (size_t i = 0; i < n; i++)
			if (strlen(avail[i]) == rn && strncasecmp(avail[i], r, rn) == 0)
				return (int)i;
		/* Drop the last subtag (and a single-letter one left before it). */
		while (rn > 0 && r[rn - 1] != '-')
			rn--;
		if (rn > 0)
			rn--;
		if (rn >= 2 && r[rn - 2] == '-')
			rn -= 2;
	}
	return -1;
}

/* i18n_pick - the best available language for an Accept-Language value */
int
i18n_pick(const char *accept, const char *const *avail, size_t n)
{
	if (accept == NULL || n == 0)
		return -1;
	int best = -1, best_q = 0;
	const char *p = accept;
	for (int ranges = 0; *p && ranges < RANGES_MAX; ranges++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *r = p;
		size_t rl = 0;
		while (len && (*r == ' ' || *r == '\t'))
			r++, len--;
		while (rl < len && (alnum(r[rl]) || r[rl] == '-' || r[rl] == '*'))
			rl++;
		int q = weight(r + rl, len - rl);
		if (rl > 0 && q > best_q && rl <= I18N_TAG_MAX) {
			int at = rl == 1 && r[0] == '*' ? 0 : lookup(r, rl, avail, n);
			if (at >= 0) {
				best = at;
				best_q = q;
			}
		}
		p = end ? end + 1 : p + strlen(p);
	}
	return best;
}
