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
 * written; the final line end before a marker belongs to the part.
 *
 * Also here, the checks 'template lint' makes on a template beyond its syntax:
 * whether a part offers an unsubscribe link, and which column a misspelt field
 * name probably meant. Pure code: no I/O, no logging.
 */
#ifndef KIRIM_TPLFILE_H
#define KIRIM_TPLFILE_H

#include <stdbool.h>
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

/*
 * tplfile_optout - does part (a text part, or an HTML part when html) give its
 * reader a visible way to unsubscribe? Yes when it uses {{unsubscribe_url}} or
 * {{unsubscribe_token}} (in any tag form, partials aside), or holds a link that
 * says so: in HTML an <a> element whose address or text has "unsub", "opt-out",
 * "opt out", "optout" or "opt_out" in it (any case); in text a line with such
 * a word and an address (http://, https://, mailto:, www.). A part that does
 * not compile answers false (lint reports the syntax error first).
 */
bool tplfile_optout(const char *part, bool html);

/*
 * tplfile_nearest - the index in names[0..n) of the name a misspelt want most
 * likely meant, or -1 when none is close. Names are compared in a normal form
 * (ASCII case folded; blanks, '_', '-' and '.' dropped: "First_Name" and
 * "first name" are the same), then by edit distance (a swap of two neighbours
 * counts one), allowing 1 edit from 3 characters, 2 from 7 and 3 from 11.
 * The closest wins; on a tie, the first.
 */
long tplfile_nearest(const char *want, const char *const *names, size_t n);

#endif
