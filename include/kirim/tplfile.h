/*
 * tplfile - one file holding a whole email template: a header block, then
 * the text part and/or the HTML part.
 *
 *   Subject: Hello {{first_name|there}}
 *
 *   --- text
 *   Hi {{first_name|there}}, ...
 *   --- html
 *   <p>Hi {{first_name|there}}, ...</p>
 *
 * The header block is "Name: value" lines up to the first empty line; only
 * Subject is known (case-insensitive). Parts start at a line that is exactly
 * "--- text" or "--- html" (trailing blanks allowed); text before the first
 * marker must be blank. A body with no marker at all is the HTML part when its
 * first non-blank character is '<', else the text part. Line ends are kept as
 * written; the final line end before a marker belongs to the part. Pure code.
 */
#ifndef KIRIM_TPLFILE_H
#define KIRIM_TPLFILE_H

#include <stddef.h>

struct tplfile {
	char *subject; /* NULL when the file has no Subject line */
	char *text;    /* NULL when absent */
	char *html;    /* NULL when absent */
	unsigned long subject_line, text_line, html_line; /* where each starts in the file */
};

/* tplfile_parse - split len bytes at src; returns 0 or -1 with "line N: what" in err */
int tplfile_parse(const char *src, size_t len, struct tplfile *out, char *err, size_t errsz);
/* tplfile_clear - free what tplfile_parse allocated */
void tplfile_clear(struct tplfile *t);

#endif
