/*
 * templates - what `kirim template` and the API's /api/templates share: the
 * checks a template passes before it is stored (a one-line subject, a body,
 * every part compiles), storing a new version, lint (fields no member of a
 * list has, with the column each one probably meant; a body part without an
 * unsubscribe link), and rendering a template's parts with given data.
 *
 * A fault names the part and says what is wrong; for a Mustache syntax error
 * the message starts "LINE:COL: " counted in the part, so that a caller that
 * read the parts from a file can count lines in the file. Does not log.
 */
#ifndef KIRIM_TEMPLATES_H
#define KIRIM_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct json_t;
struct store;

enum templates_part { TEMPLATES_SUBJECT, TEMPLATES_TEXT, TEMPLATES_HTML, TEMPLATES_WHOLE };

/* Errors (negative), besides the store's. */
#define TEMPLATES_E_MISSING (-60) /* no subject, or no body part */
#define TEMPLATES_E_INVALID (-61) /* a part that is not a template, or a bad name */

struct templates_fault {
	enum templates_part part;
	bool syntax; /* a Mustache syntax error: msg starts with LINE:COL */
	char msg[512];
};

/* templates_part_name - "subject", "text part", "HTML part", "template" */
const char *templates_part_name(enum templates_part p);
/* templates_name_ok - a name add takes: 1 to 120 bytes, no ':' (NAME:VERSION names a version) */
bool templates_name_ok(const char *name);
/* templates_check - the parts as add takes them: 0, or TEMPLATES_E_* with *f */
int templates_check(const char *subject, const char *text, const char *html,
                    struct templates_fault *f);
/* templates_add - check and store a new version of name (*version, *id); TEMPLATES_E_* or the
 * store's (f->msg says) */
int templates_add(struct store *s, const char *name, const char *subject, const char *text,
                  const char *html, int *version, int64_t *id, struct templates_fault *f);

struct templates_missing {
	char field[256];
	bool has_default;     /* the template gives a default ({{x|default}}) */
	char suggestion[256]; /* the column it probably meant, "" when none */
};
struct templates_warning {
	const char *part; /* "text" or "html" */
	const char *code; /* "no_unsubscribe_link" */
	char message[400];
};
struct templates_lint {
	struct templates_missing *missing; /* fields no member of the list has */
	size_t nmissing;
	struct templates_warning warnings[2];
	int nwarnings;
};
/*
 * templates_lint - compile the parts (TEMPLATES_E_INVALID with *f when one
 * does not) and, with list (NULL: none; s may then be NULL), find the fields
 * no member of it has; warn about a body part with no unsubscribe link.
 * STORE_E_NOTFOUND when there is no such list. Free *out with
 * templates_lint_free.
 */
int templates_lint(struct store *s, const char *subject, const char *text, const char *html,
                   const char *list, struct templates_lint *out, struct templates_fault *f);
/* templates_lint_free - release what templates_lint made */
void templates_lint_free(struct templates_lint *l);

/*
 * templates_render - each part (NULL: none, out[i] untouched) rendered with
 * data (any JSON value) as a message has it: the subject on one line
 * (header escaping), the text raw, the HTML escaped, into out[0..2]; at most
 * max bytes each.
 * 0, or TEMPLATES_E_INVALID with *f.
 */
int templates_render(const char *subject, const char *text, const char *html,
                     const struct json_t *data, size_t max, struct buf *out,
                     struct templates_fault *f);

#endif
