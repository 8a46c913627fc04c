/* tplfile - split a one-file template into subject, text and HTML (see tplfile.h). */
#include "kirim/tplfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/mustache.h"
#include "kirim/strdist.h"
#include "kirim/xmalloc.h"

/* tplfile_line - the line at p (up to end): its length without the line end, and where the next
 * starts */
static size_t
tplfile_line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *e = nl ? nl : end;
	*next = nl ? nl + 1 : end;
	if (e > p && e[-1] == '\r')
		e--;
	return (size_t)(e - p);
}

/* tplfile_marker - 't' or 'h' when the line is a part marker, else 0 */
static char
tplfile_marker(const char *p, size_t n)
{
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 8 && memcmp(p, "--- text", 8) == 0)
		return 't';
	if (n == 8 && memcmp(p, "--- html", 8) == 0)
		return 'h';
	return 0;
}

static bool
tplfile_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

int
tplfile_parse(const char *src, size_t len, struct tplfile *out, char *err, size_t errsz)
{
	struct tplfile t = {NULL, NULL, NULL, 0, 0, 0};
	const char *p = src, *end = src + len, *next;
	unsigned long line = 1;

	if (memchr(src, '\0', len)) {
		snprintf(err, errsz, "the file holds a NUL byte");
		return -1;
	}
	/* Header block. */
	for (; p < end; p = next, line++) {
		size_t n = tplfile_line(p, end, &next);
		if (n == 0) {
			p = next;
			line++;
			break;
		}
		const char *colon = memchr(p, ':', n);
		if (colon == NULL || colon == p) {
			snprintf(
			    err, errsz,
			    "line %lu: expected a header line such as 'Subject: ...' and then an "
			    "empty line",
			    line);
			goto fail;
		}
		size_t nl = (size_t)(colon - p);
		if (nl != 7 || strncasecmp(p, "subject", 7) != 0) {
			snprintf(err, errsz,
			         "line %lu: unknown header '%.*s' (only Subject is known)", line,
			         (int)(nl > 60 ? 60 : nl), p);
			goto fail;
		}
		if (t.subject) {
			snprintf(err, errsz, "line %lu: a second Subject line", line);
			goto fail;
		}
		const char *v = colon + 1, *ve = p + n;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		t.subject = xstrndup(v, (size_t)(ve - v));
		t.subject_line = line;
	}
	/* Body: parts by marker, or one part guessed from its first character. */
	const char *body = p;
	unsigned long body_line = line;
	char cur = 0;
	const char *part = NULL;
	for (; p < end; p = next, line++) {
		size_t n = tplfile_line(p, end, &next);
		char m = tplfile_marker(p, n);
		if (m == 0)
			continue;
		if (cur == 0 && !tplfile_blank(body, (size_t)(p - body))) {
			snprintf(err, errsz, "line %lu: text before the first '--- %s' marker",
			         line, m == 't' ? "text" : "html");
			goto fail;
		}
		if (cur)
			*(cur == 't' ? &t.text : &t.html) = xstrndup(part, (size_t)(p - part));
		if ((m == 't' && t.text) || (m == 'h' && t.html)) {
			snprintf(err, errsz, "line %lu: a second '--- %s' part", line,
			         m == 't' ? "text" : "html");
			goto fail;
		}
		cur = m;
		part = next;
		*(m == 't' ? &t.text_line : &t.html_line) = line + 1;
	}
	if (cur) {
		*(cur == 't' ? &t.text : &t.html) = xstrndup(part, (size_t)(end - part));
	} else if (!tplfile_blank(body, (size_t)(end - body))) {
		const char *q = body;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		*(*q == '<' ? &t.html : &t.text) = xstrndup(body, (size_t)(end - body));
		*(*q == '<' ? &t.html_line : &t.text_line) = body_line;
	}
	if (t.text == NULL && t.html == NULL) {
		snprintf(err, errsz,
		         "the template has no body: write the text after the header block");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tplfile_clear(&t);
	return -1;
}

void
tplfile_clear(struct tplfile *t)
{
	free(t->subject);
	free(t->text);
	free(t->html);
	t->subject = t->text = t->html = NULL;
}

/* ------------------------------------------------------------ lint checks */

/* Words that make a link an unsubscribe link (compared case-insensitively). */
static const char *const tplfile_optout_words[] = {
    "unsub", "opt-out", "opt out", "optout", "opt_out", NULL,
};

/* tplfile_find_ci - the first case-insensitive occurrence of needle in [p, end), or NULL */
static const char *
tplfile_find_ci(const char *p, const char *end, const char *needle)
{
	size_t m = strlen(needle);
	for (; p + m <= end; p++)
		if (strncasecmp(p, needle, m) == 0)
			return p;
	return NULL;
}

static bool
tplfile_says_optout(const char *p, const char *end)
{
	for (const char *const *w = tplfile_optout_words; *w; w++)
		if (tplfile_find_ci(p, end, *w))
			return true;
	return false;
}

struct tplfile_fields {
	bool found;
};

static void
tplfile_field(void *arg, const char *name, size_t len, unsigned flags)
{
	struct tplfile_fields *f = arg;
	(void)flags;
	if ((len == 15 && memcmp(name, "unsubscribe_url", 15) == 0) ||
	    (len == 17 && memcmp(name, "unsubscribe_token", 17) == 0))
		f->found = true;
}

/* tplfile_html_link - an <a> element whose address or text says unsubscribe */
static bool
tplfile_html_link(const char *p, const char *end)
{
	while ((p = tplfile_find_ci(p, end, "<a")) != NULL) {
		p += 2;
		if (p < end && *p != '>' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			continue; /* <abbr>, <article>... */
		const char *close = tplfile_find_ci(p, end, "</a");
		const char *e = close ? close : end;
		if (tplfile_says_optout(p, e))
			return true;
		p = e;
	}
	return false;
}

/* tplfile_text_link - a line with an address and a word that says unsubscribe */
static bool
tplfile_text_link(const char *p, const char *end)
{
	static const char *const marks[] = {"http://", "https://", "mailto:", "www.", NULL};
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		bool addr = false;
		for (const char *const *m = marks; *m && !addr; m++)
			addr = tplfile_find_ci(p, e, *m) != NULL;
		if (addr && tplfile_says_optout(p, e))
			return true;
		p = nl ? nl + 1 : end;
	}
	return false;
}

bool
tplfile_optout(const char *part, bool html)
{
	struct mustache_tpl *tpl = NULL;
	size_t n = strlen(part);
	if (mustache_compile(part, n, NULL, NULL, &tpl, NULL, 0) < 0)
		return false;
	struct tplfile_fields f = {false};
	mustache_fields(tpl, tplfile_field, &f);
	mustache_free(tpl);
	if (f.found)
		return true;
	return html ? tplfile_html_link(part, part + n) : tplfile_text_link(part, part + n);
}

/* tplfile_norm - name's normal form into out (cap bytes): ASCII lower case, no ' ' _ - . */
static size_t
tplfile_norm(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = name; *p && n < cap; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == ' ' || ch == '\t' || ch == '_' || ch == '-' || ch == '.')
			continue;
		out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	return n;
}

enum { TPLFILE_NAME_MAX = 256 }; /* bytes of a name compared; the rest is ignored */

long
tplfile_nearest(const char *want, const char *const *names, size_t n)
{
	char w[TPLFILE_NAME_MAX], c[TPLFILE_NAME_MAX];
	size_t wn = tplfile_norm(want, w, sizeof(w));
	if (wn == 0)
		return -1;
	size_t allowed = (wn + 1) / 4 > 3 ? 3 : (wn + 1) / 4;
	long best = -1;
	size_t best_d = allowed + 1;
	for (size_t i = 0; i < n; i++) {
		size_t cn = tplfile_norm(names[i], c, sizeof(c));
		if (cn == 0)
			continue;
		size_t diff = cn > wn ? cn - wn : wn - cn;
		if (diff >= best_d)
			continue; /* the distance is at least the difference in length */
		size_t d = strdist(w, wn, c, cn, false);
		if (d < best_d) {
			best_d = d;
			best = (long)i;
		}
	}
	return best;
}
