/* tplfile - split a one-file template into subject, text and HTML (see tplfile.h). */
#include "kirim/tplfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
