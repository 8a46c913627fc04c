/*
 * mustache - compile Mustache templates once, render them per recipient.
 *
 * A template is compiled once per campaign into an instruction list (struct
 * mustache_tpl) and rendered many times into a caller's struct buf. The module
 * owns the compiled template (a private copy of the source and of every
 * partial's text), so the source and the partial callback's strings may be
 * freed once mustache_compile returns. A compiled template is never changed by
 * rendering: several threads may render the same template at once.
 * Pure code: no I/O, no globals, no logging. Errors are written to a
 * caller-provided buffer.
 *
 * Follows the Mustache spec (github.com/mustache/spec): variables, sections,
 * inverted sections, comments, partials (with indentation of standalone
 * partials and recursion), set delimiters, dotted names, the implicit iterator
 * {{.}}, parent context lookup and standalone lines. Template inheritance
 * ({{<parent}}, {{$block}}) from the optional spec file is supported except
 * the re-indentation of block content; dynamic partial names ({{>*name}}) and
 * lambdas are not (a partial named "*x" is looked up by that name).
 *
 * Values are jansson json_t: strings print as they are, integers as integers,
 * reals in the shortest form that reads back the same (1.5 -> "1.5"), true and
 * false as "true" and "false", null, objects and arrays as nothing.
 * Falsey for sections: missing, null, false, "" and the empty array; every
 * other value (including 0 and {}) is truthy. A list renders its section once
 * per item; any other truthy value is pushed once on the context stack.
 *
 * Names: the tag's content less the blanks around it. The spec asks for names
 * without whitespace; kirim also takes blanks inside one, as written
 * ({{First Name}}, {{ First Name }} and {{#First Name}}..{{/First Name}} name
 * the key "First Name"), because CSV headers have them. A line break or the
 * opening delimiter inside a tag is refused (its closing delimiter is missing).
 * Dots always split a name into nested keys, as the spec requires, so a key
 * that holds a dot ("utm.source") is not reachable through the name
 * "utm.source"; the caller that builds the context decides how to offer it
 * (the composer also files it as {"utm": {"source": ...}}).
 *
 * kirim extension, a default for a missing or empty value:
 *   {{first_name|there}}  {{{first_name|there}}}  {{&first_name|there}}
 * render "there" when first_name is missing, null, false or "". The default
 * is literal text up to the closing delimiter (no nested tags), trimmed of
 * blanks at both ends like the name, and is escaped like a value would be.
 * Section tags may not carry a default.
 *
 * Escaping, chosen per render:
 *   MUSTACHE_ESC_HTML    values get & " < > ' escaped; {{{x}}} and {{&x}} opt out.
 *   MUSTACHE_ESC_NONE    values are copied raw (text/plain parts).
 *   MUSTACHE_ESC_HEADER  for Subject or a From display name: every run of C0
 *                        controls (CR, LF, TAB, NUL...) and DEL becomes one space,
 *                        in values (triple mustache too), defaults and the
 *                        template's own text, so the output is always one line
 *                        and a value can never add or split a header.
 */
#ifndef KIRIM_MUSTACHE_H
#define KIRIM_MUSTACHE_H

#include <stddef.h>

#include "kirim/buf.h"

struct mustache_tpl;
/* jansson's json_t (typedef struct json_t json_t): only mustache.c includes <jansson.h>. */
struct json_t;

enum {
	MUSTACHE_ESC_HTML = 0,
	MUSTACHE_ESC_NONE = 1,
	MUSTACHE_ESC_HEADER = 2,
};

/* Error codes returned by the functions below (the detail goes to err). */
enum {
	MUSTACHE_ESYNTAX = -1, /* compile: template refused, err holds "line:col: what" */
	MUSTACHE_EDEPTH = -2,  /* render: partial/section nesting over MUSTACHE_MAX_DEPTH */
	MUSTACHE_ETOOBIG = -3, /* render: output over max_out bytes, or over MUSTACHE_MAX_STEPS */
	MUSTACHE_EINVAL = -4,  /* bad argument (unknown escaping mode) */
};

enum {
	MUSTACHE_MAX_DEPTH = 64,      /* nested sections + partials at render time */
	MUSTACHE_MAX_PARTIALS = 1024, /* distinct partial names per template */
};
/* Instructions one render may execute (nested lists over lists can explode). */
#define MUSTACHE_MAX_STEPS (1ul << 24)

/*
 * Partial lookup, called at compile time once per distinct partial name:
 * return the partial's text (len bytes in *len) or NULL when there is no such
 * partial (it then renders as nothing). The text is copied before the next
 * call, so it may live in a scratch buffer.
 */
typedef const char *(*mustache_partial_cb)(void *arg, const char *name, size_t *len);

/* Flags passed to mustache_field_cb. */
#define MUSTACHE_FIELD_NESTED                                                                      \
	(1u << 0)                        /* only referenced inside a section (maybe an item's key) \
	                                  */
#define MUSTACHE_FIELD_DEFAULT (1u << 1) /* every reference has a {{x|default}} */

/* Called once per distinct field name as written ("a.b" whole); not NUL-terminated. */
typedef void (*mustache_field_cb)(void *arg, const char *name, size_t len, unsigned flags);

/*
 * mustache_compile - compile len bytes of src (and, through partial_cb, every
 * partial it names, recursively) into *out. partial_cb may be NULL (no
 * partials). Returns 0, or MUSTACHE_ESYNTAX with "line:col: message" in err
 * (for an error in a partial: "partial 'name': line:col: message"; lines and
 * columns count from 1, columns in bytes).
 */
int mustache_compile(const char *src, size_t len, mustache_partial_cb partial_cb, void *arg,
                     struct mustache_tpl **out, char *err, size_t errsz);

/*
 * mustache_render - render tpl with ctx as the root of the context stack,
 * appending to out. esc is a MUSTACHE_ESC_* mode. At most max_out bytes are
 * appended (SIZE_MAX: no limit). Returns 0, or a negative MUSTACHE_E* code with
 * the detail in err; on error out is left as it was before the call.
 */
int mustache_render(const struct mustache_tpl *tpl, const struct json_t *ctx, int esc,
                    size_t max_out, struct buf *out, char *err, size_t errsz);

/*
 * mustache_fields - call cb once for each distinct name the template and its
 * partials look up, as written ({{a.b}} is reported as "a.b"; its first
 * segment is the context key), in order of first use; {{.}} is not reported.
 * Returns 0.
 */
int mustache_fields(const struct mustache_tpl *tpl, mustache_field_cb cb, void *arg);

/* mustache_free - release a compiled template; NULL is a no-op */
void mustache_free(struct mustache_tpl *tpl);

#endif
