/* mustache - Mustache template compiler and renderer (see mustache.h). */
#define _GNU_SOURCE /* memmem */
#include "kirim/mustache.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/xmalloc.h"

/*
 * A compiled template is a table of units: unit 0 is the main template, the
 * others are partials (and parents), one per distinct name, compiled once and
 * referenced by index, so a partial may include itself at render time without
 * any loop at compile time. Each unit owns a copy of its source; instructions
 * refer to slices of it by offset (text, names, defaults, indentation).
 *
 * Sections, inverted sections, blocks and parents hold the index of the first
 * instruction after their body, so rendering is a loop over a flat array that
 * recurses only into bodies and partials.
 */

enum op {
	OP_TEXT,     /* copy src[off, off + len) */
	OP_INDENT,   /* at a line start of a partial: write the current indentation */
	OP_VAR,      /* interpolate name; default text at off/len if F_DEFAULT */
	OP_SECTION,  /* body [i + 1, end) per item, or once with the value pushed */
	OP_INVERTED, /* body [i + 1, end) once if the value is falsey */
	OP_PARTIAL,  /* render unit; indentation src[off, off + len) if standalone */
	OP_BLOCK,    /* {{$name}}: an override from a parent frame, else the body */
	OP_PARENT,   /* {{<name}}: push the body's blocks as overrides, render unit */
};

#define F_RAW (1u << 0)     /* {{{x}}} or {{&x}}: no HTML escaping */
#define F_DEFAULT (1u << 1) /* {{x|default}} */

struct seg {
	uint32_t off, len;
};

struct ins {
	uint8_t op;
	uint8_t flags;
	uint16_t nseg; /* name segments; 0 is the implicit iterator {{.}} */
	uint16_t slot; /* the name's lookup cache slot, 1..SLOTS; 0 for none */
	uint32_t seg;  /* first segment in unit->segs */
	uint32_t off;  /* text, default, indentation or block name: a slice of src */
	uint32_t len;
	uint32_t end;  /* first instruction after the body */
	uint32_t unit; /* partial or parent */
};

struct unit {
	char *name; /* NULL for the main template */
	char *src;
	size_t srclen;
	struct ins *ins;
	size_t nins, capins;
	struct seg *segs;
	size_t nsegs, capsegs;
};

struct mustache_tpl {
	struct unit *units;
	size_t nunits, capunits;
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	if (!err || !errsz)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- compile */

enum { TOK_TEXT = 0 };

/* A token of the line being compiled: a text piece or a tag. */
struct tok {
	int type;          /* TOK_TEXT or the tag's sigil: 'v' (variable) { & # ^ / ! > = $ < */
	uint32_t off, len; /* text, or the tag's name */
	uint32_t defoff, deflen; /* default text */
	bool has_def;
	unsigned line, col; /* where the tag opens */
};

struct open_sec {
	uint32_t ins;      /* the instruction to patch */
	uint32_t off, len; /* its name as written, to match the closing tag */
	unsigned line, col;
};

struct compiler {
	struct mustache_tpl *tpl;
	size_t ui; /* unit being compiled (units may move while it grows) */
	const char *src;
	size_t n;
	bool partial; /* emit OP_INDENT at line starts */
	bool bol;     /* at the start of an output line, nothing written on it yet */
	char otag[16], ctag[16];
	size_t olen, clen;
	size_t pos;
	unsigned line; /* line of pos, 1-based */
	size_t lstart; /* offset where that line starts */
	struct tok *toks;
	size_t ntoks, captoks;
	struct open_sec stack[MUSTACHE_MAX_DEPTH];
	size_t depth;
	char *err;
	size_t errsz;
	const char *errpfx; /* "partial 'x': " or "" */
};

static struct unit *
cur_unit(struct compiler *c)
{
	return &c->tpl->units[c->ui];
}

static void cerr(struct compiler *c, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cerr(struct compiler *c, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(c->err, c->errsz, "%s%u:%u: %s", c->errpfx, line, col, msg);
}

/* Advance pos to p, keeping line and lstart up to date. */
static void
advance(struct compiler *c, size_t p)
{
	for (size_t i = c->pos; i < p; i++) {
		if (c->src[i] == '\n') {
			c->line++;
			c->lstart = i + 1;
		}
	}
	c->pos = p;
}

static unsigned
col_of(const struct compiler *c, size_t p)
{
	return (unsigned)(p - c->lstart + 1);
}

static size_t
find(const struct compiler *c, size_t from, const char *s, size_t slen)
{
	if (from > c->n || c->n - from < slen)
		return SIZE_MAX;
	const char *p = memmem(c->src + from, c->n - from, s, slen);
	return p ? (size_t)(p - c->src) : SIZE_MAX;
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void
trim(const char *s, uint32_t *off, uint32_t *len)
{
	while (*len && is_space(s[*off])) {
		(*off)++;
		(*len)--;
	}
	while (*len && is_space(s[*off + *len - 1]))
		(*len)--;
}

static struct ins *
emit(struct compiler *c, int op)
{
	struct unit *u = cur_unit(c);
	if (u->nins == u->capins) {
		u->capins = u->capins ? u->capins * 2 : 16;
		u->ins = xrealloc(u->ins, u->capins * sizeof(*u->ins));
	}
	struct ins *in = &u->ins[u->nins++];
	memset(in, 0, sizeof(*in));
	in->op = (uint8_t)op;
	return in;
}

static void
emit_indent(struct compiler *c)
{
	if (c->partial && c->bol)
		emit(c, OP_INDENT);
	c->bol = false;
}

static void
emit_text(struct compiler *c, uint32_t off, uint32_t len)
{
	if (!len)
		return;
	const char *s = c->src + off;
	/* Lines holding only their line break are not indented (as mustache.js). */
	bool empty_line = s[0] == '\n' || (len >= 2 && s[0] == '\r' && s[1] == '\n');
	if (!empty_line)
		emit_indent(c);
	c->bol = false;
	struct unit *u = cur_unit(c);
	if (u->nins) {
		struct ins *last = &u->ins[u->nins - 1];
		if (last->op == OP_TEXT && last->off + last->len == off) {
			last->len += len;
			return;
		}
	}
	struct ins *in = emit(c, OP_TEXT);
	in->off = off;
	in->len = len;
}

/* Split the name of tok into segments; returns false on a bad dotted name. */
static bool
add_name(struct compiler *c, struct ins *in, const struct tok *t)
{
	struct unit *u = cur_unit(c);
	const char *s = c->src + t->off;
	if (t->len == 1 && s[0] == '.') {
		in->nseg = 0;
		return true;
	}
	in->seg = (uint32_t)u->nsegs;
	uint32_t start = 0;
	for (uint32_t i = 0; i <= t->len; i++) {
		if (i < t->len && s[i] != '.')
			continue;
		if (i == start || in->nseg == UINT16_MAX)
			return false;
		if (u->nsegs == u->capsegs) {
			u->capsegs = u->capsegs ? u->capsegs * 2 : 16;
			u->segs = xrealloc(u->segs, u->capsegs * sizeof(*u->segs));
		}
		u->segs[u->nsegs++] = (struct seg){t->off + start, i - start};
		in->nseg++;
		start = i + 1;
	}
	return true;
}

/* name_slice - the whole name of in as written: its segments are one slice of the source */
static const char *
name_slice(const struct unit *u, const struct ins *in, size_t *len)
{
	const struct seg *first = &u->segs[in->seg], *last = first + in->nseg - 1;
	*len = last->off + last->len - first->off;
	return u->src + first->off;
}

/*
 * Lookups at the top level, where only the root context is on the stack,
 * give the same value every time in a render: each distinct name looked up
 * there gets one of SLOTS cache slots (a newsletter names the same few
 * fields dozens of times, and each lookup hashes the name).
 */
enum { SLOTS = 64 };

/* assign_slots - a cache slot for each distinct name that variables and sections look up */
static void
assign_slots(struct mustache_tpl *tpl)
{
	struct {
		const char *name;
		size_t len;
	} seen[SLOTS];
	size_t n = 0;
	for (size_t ui = 0; ui < tpl->nunits; ui++) {
		struct unit *u = &tpl->units[ui];
		for (size_t k = 0; k < u->nins; k++) {
			struct ins *in = &u->ins[k];
			if (!in->nseg ||
			    (in->op != OP_VAR && in->op != OP_SECTION && in->op != OP_INVERTED))
				continue;
			size_t len, i;
			const char *name = name_slice(u, in, &len);
			for (i = 0; i < n; i++)
				if (seen[i].len == len && !memcmp(seen[i].name, name, len))
					break;
			if (i == n && n < SLOTS) {
				seen[n].name = name;
				seen[n++].len = len;
			}
			in->slot = i < n ? (uint16_t)(i + 1) : 0;
		}
	}
}

/* Find or add the unit for partial name; returns its index or -1 (too many). */
static long
partial_unit(struct compiler *c, const char *name, size_t len)
{
	struct mustache_tpl *tpl = c->tpl;
	for (size_t i = 1; i < tpl->nunits; i++)
		if (strlen(tpl->units[i].name) == len && !memcmp(tpl->units[i].name, name, len))
			return (long)i;
	if (tpl->nunits > MUSTACHE_MAX_PARTIALS)
		return -1;
	if (tpl->nunits == tpl->capunits) {
		tpl->capunits *= 2;
		tpl->units = xrealloc(tpl->units, tpl->capunits * sizeof(*tpl->units));
	}
	struct unit *u = &tpl->units[tpl->nunits];
	memset(u, 0, sizeof(*u));
	u->name = xstrndup(name, len);
	return (long)tpl->nunits++;
}

static bool
open_section(struct compiler *c, const struct tok *t, struct ins *in)
{
	if (c->depth == MUSTACHE_MAX_DEPTH) {
		cerr(c, t->line, t->col, "sections nested deeper than %d", MUSTACHE_MAX_DEPTH);
		return false;
	}
	struct unit *u = cur_unit(c);
	c->stack[c->depth++] =
	    (struct open_sec){(uint32_t)(in - u->ins), t->off, t->len, t->line, t->col};
	return true;
}

static bool
emit_tag(struct compiler *c, const struct tok *t, uint32_t ioff, uint32_t ilen)
{
	const char *name = c->src + t->off;
	struct ins *in;
	switch (t->type) {
	case '!':
	case '=':
		return true;
	case 'v':
	case '{':
	case '&':
		emit_indent(c);
		in = emit(c, OP_VAR);
		if (t->type != 'v')
			in->flags |= F_RAW;
		if (t->has_def) {
			in->flags |= F_DEFAULT;
			in->off = t->defoff;
			in->len = t->deflen;
		}
		if (!add_name(c, in, t)) {
			cerr(c, t->line, t->col, "bad name '%.*s'", (int)t->len, name);
			return false;
		}
		return true;
	case '#':
	case '^':
		emit_indent(c);
		in = emit(c, t->type == '#' ? OP_SECTION : OP_INVERTED);
		if (!add_name(c, in, t)) {
			cerr(c, t->line, t->col, "bad name '%.*s'", (int)t->len, name);
			return false;
		}
		return open_section(c, t, in);
	case '$':
		emit_indent(c);
		in = emit(c, OP_BLOCK);
		in->off = t->off;
		in->len = t->len;
		return open_section(c, t, in);
	case '>':
	case '<': {
		emit_indent(c);
		long ui = partial_unit(c, name, t->len);
		if (ui < 0) {
			cerr(c, t->line, t->col, "more than %d partials", MUSTACHE_MAX_PARTIALS);
			return false;
		}
		in = emit(c, t->type == '>' ? OP_PARTIAL : OP_PARENT);
		in->unit = (uint32_t)ui;
		in->off = ioff;
		in->len = ilen;
		return t->type == '>' ? true : open_section(c, t, in);
	}
	case '/': {
		if (!c->depth) {
			cerr(c, t->line, t->col, "closing tag '%.*s' without open section",
			     (int)t->len, name);
			return false;
		}
		struct open_sec *o = &c->stack[c->depth - 1];
		if (o->len != t->len || memcmp(c->src + o->off, name, t->len)) {
			cerr(c, t->line, t->col,
			     "closing tag '%.*s' does not match open section '%.*s'", (int)t->len,
			     name, (int)o->len, c->src + o->off);
			return false;
		}
		c->depth--;
		struct unit *u = cur_unit(c);
		u->ins[o->ins].end = (uint32_t)u->nins;
		return true;
	}
	}
	return true;
}

static bool
standalone_type(int type)
{
	return type != 'v' && type != '{' && type != '&' && type != TOK_TEXT;
}

/* True if text holds only blanks, then maybe a line break ("\n" or "\r\n"). */
static bool
blank_text(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_blank(s[i]))
		i++;
	if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
		i++;
	if (i < n && s[i] == '\n')
		i++;
	return i == n;
}

/*
 * Emit one source line (its text pieces and tags). A line whose tags are all
 * standalone-capable (sections, inverted, closing, comments, partials, set
 * delimiters, blocks, parents) and whose text is only blanks is "standalone":
 * its text, including the line break, is dropped, and its leading blanks
 * become the indentation of the partials on it.
 */
static bool
flush_line(struct compiler *c)
{
	bool has_tag = false, standalone = true;
	for (size_t i = 0; i < c->ntoks && standalone; i++) {
		const struct tok *t = &c->toks[i];
		if (t->type == TOK_TEXT)
			standalone = blank_text(c->src + t->off, t->len);
		else if (standalone_type(t->type))
			has_tag = true;
		else
			standalone = false;
	}
	standalone = standalone && has_tag;
	uint32_t ioff = 0, ilen = 0;
	if (standalone && c->ntoks && c->toks[0].type == TOK_TEXT) {
		ioff = c->toks[0].off;
		ilen = c->toks[0].len; /* only blanks: a line break would have ended the line */
	}
	bool ok = true;
	if (standalone)
		c->bol = false; /* the line is gone: nothing on it is indented */
	for (size_t i = 0; i < c->ntoks && ok; i++) {
		const struct tok *t = &c->toks[i];
		if (t->type == TOK_TEXT) {
			if (!standalone)
				emit_text(c, t->off, t->len);
		} else {
			ok = emit_tag(c, t, ioff, ilen);
		}
	}
	c->ntoks = 0;
	c->bol = true;
	return ok;
}

static struct tok *
add_tok(struct compiler *c, int type)
{
	if (c->ntoks == c->captoks) {
		c->captoks = c->captoks ? c->captoks * 2 : 16;
		c->toks = xrealloc(c->toks, c->captoks * sizeof(*c->toks));
	}
	struct tok *t = &c->toks[c->ntoks++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	return t;
}

/* Add text [from, to) to the line, flushing the line at each line break. */
static bool
add_text(struct compiler *c, size_t from, size_t to)
{
	while (from < to) {
		const char *nl = memchr(c->src + from, '\n', to - from);
		size_t end = nl ? (size_t)(nl - c->src) + 1 : to;
		struct tok *t = add_tok(c, TOK_TEXT);
		t->off = (uint32_t)from;
		t->len = (uint32_t)(end - from);
		from = end;
		if (nl && !flush_line(c))
			return false;
	}
	return true;
}

/* Parse "{{=<% %>=}}" content [from, to): two blank-separated delimiters. */
static bool
set_delims(struct compiler *c, size_t from, size_t to)
{
	const char *s = c->src;
	while (from < to && is_space(s[from]))
		from++;
	while (to > from && is_space(s[to - 1]))
		to--;
	size_t a = from;
	while (a < to && !is_space(s[a]))
		a++;
	size_t b = a;
	while (b < to && is_space(s[b]))
		b++;
	size_t olen = a - from, clen = to - b;
	if (!olen || !clen || b == a || olen >= sizeof(c->otag) || clen >= sizeof(c->ctag))
		return false;
	for (size_t i = from; i < to; i++)
		if (s[i] == '=' || (is_space(s[i]) && (i < a || i >= b)))
			return false;
	memcpy(c->otag, s + from, olen);
	c->olen = olen;
	memcpy(c->ctag, s + b, clen);
	c->clen = clen;
	return true;
}

/* Parse the tag opening at c->pos; on success pos is past its end. */
static bool
parse_tag(struct compiler *c)
{
	const char *s = c->src;
	unsigned line = c->line, col = col_of(c, c->pos);
	size_t q = c->pos + c->olen;
	int type = 'v';
	char close[20];
	size_t closelen;
	memcpy(close, c->ctag, c->clen);
	closelen = c->clen;
	if (q < c->n && s[q] == '{') {
		type = '{';
		q++;
		close[0] = '}';
		memcpy(close + 1, c->ctag, c->clen);
		closelen = c->clen + 1;
	} else if (q < c->n && s[q] == '=') {
		type = '=';
		q++;
		close[0] = '=';
		memcpy(close + 1, c->ctag, c->clen);
		closelen = c->clen + 1;
	} else {
		size_t r = q;
		while (r < c->n && is_blank(s[r]))
			r++;
		if (r < c->n && s[r] && strchr("&#^/!>$<", s[r])) {
			type = s[r];
			q = r + 1;
		}
	}
	size_t e = find(c, q, close, closelen);
	if (e == SIZE_MAX) {
		cerr(c, line, col, "expected '%.*s'", (int)closelen, close);
		return false;
	}
	size_t tag_end = e + closelen;
	if (type == '=') {
		if (!set_delims(c, q, e)) {
			cerr(c, line, col, "bad delimiter change");
			return false;
		}
		add_tok(c, '=');
		advance(c, tag_end);
		return true;
	}
	struct tok *t = add_tok(c, type);
	t->line = line;
	t->col = col;
	advance(c, tag_end);
	if (type == '!')
		return true;
	uint32_t off = (uint32_t)q, len = (uint32_t)(e - q);
	if (type == 'v' || type == '{' || type == '&') {
		const char *bar = memchr(s + off, '|', len);
		if (bar) {
			t->has_def = true;
			t->defoff = (uint32_t)(bar - s) + 1;
			t->deflen = off + len - t->defoff;
			trim(s, &t->defoff, &t->deflen);
			len = (uint32_t)(bar - s) - off;
		}
	} else if (memchr(s + off, '|', len)) {
		cerr(c, line, col, "a default is only allowed in a variable tag");
		return false;
	}
	trim(s, &off, &len);
	t->off = off;
	t->len = len;
	if (!len) {
		cerr(c, line, col, "empty tag name");
		return false;
	}
	/*
	 * Blanks inside a name are kept ({{First Name}}: CSV headers have them). A line
	 * break or an opening delimiter inside one is refused: the tag's closing
	 * delimiter is almost certainly missing and the next one was found instead.
	 */
	for (uint32_t i = 0; i < len; i++) {
		char ch = s[off + i];
		bool nl = ch == '\n' || ch == '\r';
		if (!nl && (len - i < c->olen || memcmp(s + off + i, c->otag, c->olen)))
			continue;
		/* What the tag holds before the fault, blanks at its end left out. */
		uint32_t shown = i;
		while (shown && is_space(s[off + shown - 1]))
			shown--;
		if (shown > 40)
			shown = 40;
		if (nl)
			cerr(c, line, col, "tag '%.*s' is not closed on its line (expected '%.*s')",
			     (int)shown, s + off, (int)closelen, close);
		else
			cerr(c, line, col, "tag '%.*s' holds '%.*s' (a missing '%.*s' before it?)",
			     (int)shown, s + off, (int)c->olen, c->otag, (int)closelen, close);
		return false;
	}
	return true;
}

static bool
compile_unit(struct compiler *c)
{
	memcpy(c->otag, "{{", 2);
	memcpy(c->ctag, "}}", 2);
	c->olen = c->clen = 2;
	c->pos = 0;
	c->line = 1;
	c->lstart = 0;
	c->ntoks = 0;
	c->depth = 0;
	c->bol = true;
	while (c->pos < c->n) {
		size_t t = find(c, c->pos, c->otag, c->olen);
		size_t text_end = t == SIZE_MAX ? c->n : t;
		size_t from = c->pos;
		advance(c, text_end);
		if (!add_text(c, from, text_end))
			return false;
		if (t == SIZE_MAX)
			break;
		if (!parse_tag(c))
			return false;
	}
	if (c->ntoks && !flush_line(c))
		return false;
	if (c->depth) {
		const struct open_sec *o = &c->stack[c->depth - 1];
		int nlen = (int)o->len;
		cerr(c, c->line, col_of(c, c->n),
		     "unclosed section '%.*s' (opened at %u:%u), expected %.*s/%.*s%.*s", nlen,
		     c->src + o->off, o->line, o->col, (int)c->olen, c->otag, nlen, c->src + o->off,
		     (int)c->clen, c->ctag);
		return false;
	}
	return true;
}

static void
unit_free(struct unit *u)
{
	free(u->name);
	free(u->src);
	free(u->ins);
	free(u->segs);
}

void
mustache_free(struct mustache_tpl *tpl)
{
	if (!tpl)
		return;
	for (size_t i = 0; i < tpl->nunits; i++)
		unit_free(&tpl->units[i]);
	free(tpl->units);
	free(tpl);
}

static bool
set_source(struct compiler *c, struct unit *u, const char *src, size_t len)
{
	if (len >= UINT32_MAX / 2) {
		seterr(c->err, c->errsz, "%stemplate too large", c->errpfx);
		return false;
	}
	u->src = xmalloc(len + 1);
	if (len)
		memcpy(u->src, src, len);
	u->src[len] = '\0';
	u->srclen = len;
	c->src = u->src;
	c->n = len;
	return true;
}

int
mustache_compile(const char *src, size_t len, mustache_partial_cb partial_cb, void *arg,
                 struct mustache_tpl **out, char *err, size_t errsz)
{
	struct mustache_tpl *tpl = xcalloc(1, sizeof(*tpl));
	tpl->capunits = 4;
	tpl->units = xcalloc(tpl->capunits, sizeof(*tpl->units));
	tpl->nunits = 1;
	struct compiler c = {.tpl = tpl, .err = err, .errsz = errsz, .errpfx = ""};
	bool ok = set_source(&c, &tpl->units[0], src, len) && compile_unit(&c);
	char pfx[128];
	/* Partials named while compiling are appended to the table: compile them in turn. */
	for (size_t i = 1; ok && i < tpl->nunits; i++) {
		struct unit *u = &tpl->units[i];
		size_t plen = 0;
		const char *p = partial_cb ? partial_cb(arg, u->name, &plen) : NULL;
		if (!p) {
			p = "";
			plen = 0;
		}
		snprintf(pfx, sizeof(pfx), "partial '%.80s': ", u->name);
		c.errpfx = pfx;
		c.ui = i;
		c.partial = true;
		ok = set_source(&c, u, p, plen) && compile_unit(&c);
	}
	free(c.toks);
	if (!ok) {
		mustache_free(tpl);
		return MUSTACHE_ESYNTAX;
	}
	assign_slots(tpl);
	*out = tpl;
	return 0;
}

/* ----------------------------------------------------------------- render */

struct frame {
	const struct unit *u;
	uint32_t from, to; /* a parent tag's body: its blocks override the parent's */
};

struct render {
	const struct unit *units;
	struct buf *out;
	size_t room; /* bytes still allowed */
	int esc;
	int depth;
	size_t sp; /* contexts on the stack */
	const json_t *stack[MUSTACHE_MAX_DEPTH + 2];
	struct frame frames[MUSTACHE_MAX_DEPTH + 1];
	size_t nframes;
	struct buf indent;              /* current partial indentation */
	const json_t *cache[SLOTS + 1]; /* top-level lookups by slot, valid where cached says */
	uint64_t cached;
	unsigned long steps; /* instructions still allowed (nested lists can explode) */
	char *err;
	size_t errsz;
};

/* HTML escapes; 0 means "copy". */
static const char *const html_esc[256] = {
    ['&'] = "&amp;", ['"'] = "&quot;", ['<'] = "&lt;", ['>'] = "&gt;", ['\''] = "&#39;",
};

static int
too_big(struct render *r)
{
	seterr(r->err, r->errsz, "output larger than the limit");
	return MUSTACHE_ETOOBIG;
}

static inline int
put(struct render *r, const char *s, size_t n)
{
	if (n > r->room)
		return too_big(r);
	r->room -= n;
	buf_add(r->out, s, n);
	return 0;
}

static bool
is_ctl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

/* Header mode: copy s, turning each run of C0 controls and DEL into one space. */
static int
put_header(struct render *r, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_ctl((unsigned char)s[i]))
			continue;
		if (put(r, s + run, i - run))
			return MUSTACHE_ETOOBIG;
		while (i + 1 < n && is_ctl((unsigned char)s[i + 1]))
			i++;
		if (put(r, " ", 1))
			return MUSTACHE_ETOOBIG;
		run = i + 1;
	}
	return put(r, s + run, n - run);
}

static int
put_html(struct render *r, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = html_esc[(unsigned char)s[i]];
		if (!e)
			continue;
		if (put(r, s + run, i - run) || put(r, e, strlen(e)))
			return MUSTACHE_ETOOBIG;
		run = i + 1;
	}
	return put(r, s + run, n - run);
}

static int
put_text(struct render *r, const char *s, size_t n)
{
	return r->esc == MUSTACHE_ESC_HEADER ? put_header(r, s, n) : put(r, s, n);
}

static int
put_value(struct render *r, const char *s, size_t n, bool raw)
{
	if (r->esc == MUSTACHE_ESC_HEADER)
		return put_header(r, s, n);
	if (r->esc == MUSTACHE_ESC_HTML && !raw)
		return put_html(r, s, n);
	return put(r, s, n);
}

/* Shortest %g form that reads back as the same double. */
static int
format_real(char *b, size_t bsz, double d)
{
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(b, bsz, "%.*g", prec, d);
		if (strtod(b, NULL) == d)
			break;
	}
	return n;
}

static const json_t *lookup_stack(const struct render *r, const struct unit *u,
                                  const struct ins *in);

static const json_t *
lookup(struct render *r, const struct unit *u, const struct ins *in)
{
	if (!in->nseg)
		return r->stack[r->sp - 1];
	if (!in->slot || r->sp != 1)
		return lookup_stack(r, u, in);
	uint64_t bit = 1ull << (in->slot - 1);
	if (!(r->cached & bit)) {
		r->cache[in->slot] = lookup_stack(r, u, in);
		r->cached |= bit;
	}
	return r->cache[in->slot];
}

/* lookup_stack - the name of in (nseg > 0) on the context stack, top down, as the spec says */
static const json_t *
lookup_stack(const struct render *r, const struct unit *u, const struct ins *in)
{
	const struct seg *sg = &u->segs[in->seg];
	const char *key = u->src + sg->off;
	const json_t *v = NULL;
	for (size_t i = r->sp; i-- > 0;) {
		if (json_is_object(r->stack[i]) &&
		    (v = json_object_getn(r->stack[i], key, sg->len)) != NULL)
			break;
	}
	for (uint16_t k = 1; v && k < in->nseg; k++) {
		sg++;
		v = json_is_object(v) ? json_object_getn(v, u->src + sg->off, sg->len) : NULL;
	}
	return v;
}

static bool
falsey(const json_t *v)
{
	if (!v)
		return true;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	default:
		return false;
	}
}

static int
render_var(struct render *r, const struct unit *u, const struct ins *in)
{
	const json_t *v = lookup(r, u, in);
	bool raw = in->flags & F_RAW;
	if (in->flags & F_DEFAULT && (!v || json_is_null(v) || json_is_false(v) ||
	                              (json_is_string(v) && !json_string_length(v))))
		return put_value(r, u->src + in->off, in->len, raw);
	if (!v)
		return 0;
	char num[40];
	int n;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return put_value(r, json_string_value(v), json_string_length(v), raw);
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return put(r, num, (size_t)n);
	case JSON_REAL:
		n = format_real(num, sizeof(num), json_real_value(v));
		return put(r, num, (size_t)n);
	case JSON_TRUE:
		return put(r, "true", 4);
	case JSON_FALSE:
		return put(r, "false", 5);
	default:
		return 0;
	}
}

static int run(struct render *r, const struct unit *u, uint32_t i, uint32_t end);

static int
deeper(struct render *r)
{
	if (r->depth >= MUSTACHE_MAX_DEPTH) {
		seterr(r->err, r->errsz, "render depth limit (%d) exceeded", MUSTACHE_MAX_DEPTH);
		return MUSTACHE_EDEPTH;
	}
	r->depth++;
	return 0;
}

static int
run_pushed(struct render *r, const struct unit *u, const json_t *v, uint32_t from, uint32_t to)
{
	r->stack[r->sp++] = v;
	int rc = run(r, u, from, to);
	r->sp--;
	return rc;
}

static int
render_section(struct render *r, const struct unit *u, const struct ins *in, uint32_t i)
{
	const json_t *v = lookup(r, u, in);
	if (falsey(v))
		return 0;
	int rc = deeper(r);
	if (rc)
		return rc;
	if (json_is_array(v)) {
		size_t n = json_array_size(v);
		for (size_t k = 0; k < n && !rc; k++)
			rc = run_pushed(r, u, json_array_get(v, k), i + 1, in->end);
	} else {
		rc = run_pushed(r, u, v, i + 1, in->end);
	}
	r->depth--;
	return rc;
}

/* Render target (a partial or parent) with the tag's indentation added if it was standalone. */
static int
enter_unit(struct render *r, const struct unit *from, const struct ins *in,
           const struct unit *target)
{
	int rc = deeper(r);
	if (rc)
		return rc;
	size_t saved = r->indent.len;
	if (in->len)
		buf_add(&r->indent, from->src + in->off, in->len);
	rc = run(r, target, 0, (uint32_t)target->nins);
	r->indent.len = saved;
	r->depth--;
	return rc;
}

static bool
same_name(const struct unit *a, const struct ins *x, const struct unit *b, const struct ins *y)
{
	return x->len == y->len && !memcmp(a->src + x->off, b->src + y->off, x->len);
}

static int
render_block(struct render *r, const struct unit *u, const struct ins *in, uint32_t i)
{
	/* The outermost parent tag that overrides this block wins. */
	for (size_t f = 0; f < r->nframes; f++) {
		const struct frame *fr = &r->frames[f];
		for (uint32_t k = fr->from; k < fr->to;) {
			const struct ins *b = &fr->u->ins[k];
			if (b->op == OP_BLOCK && same_name(fr->u, b, u, in)) {
				int rc = deeper(r);
				if (rc)
					return rc;
				rc = run(r, fr->u, k + 1, b->end);
				r->depth--;
				return rc;
			}
			k = (b->op == OP_SECTION || b->op == OP_INVERTED || b->op == OP_BLOCK ||
			     b->op == OP_PARENT)
			        ? b->end
			        : k + 1;
		}
	}
	int rc = deeper(r);
	if (rc)
		return rc;
	rc = run(r, u, i + 1, in->end);
	r->depth--;
	return rc;
}

static int
run(struct render *r, const struct unit *u, uint32_t i, uint32_t end)
{
	const struct unit *units = r->units;
	int rc = 0;
	while (i < end && !rc) {
		const struct ins *in = &u->ins[i];
		if (!r->steps--) {
			seterr(r->err, r->errsz, "render takes more than %lu steps",
			       (unsigned long)MUSTACHE_MAX_STEPS);
			return MUSTACHE_ETOOBIG;
		}
		switch (in->op) {
		case OP_TEXT:
			rc = put_text(r, u->src + in->off, in->len);
			i++;
			break;
		case OP_INDENT:
			if (r->indent.len)
				rc = put_text(r, r->indent.data, r->indent.len);
			i++;
			break;
		case OP_VAR:
			rc = render_var(r, u, in);
			i++;
			break;
		case OP_SECTION:
			rc = render_section(r, u, in, i);
			i = in->end;
			break;
		case OP_INVERTED:
			if (falsey(lookup(r, u, in))) {
				rc = deeper(r);
				if (!rc) {
					rc = run(r, u, i + 1, in->end);
					r->depth--;
				}
			}
			i = in->end;
			break;
		case OP_PARTIAL:
			rc = enter_unit(r, u, in, &units[in->unit]);
			i++;
			break;
		case OP_BLOCK:
			rc = render_block(r, u, in, i);
			i = in->end;
			break;
		case OP_PARENT:
			/* Each frame is under an entered unit, so nframes <= depth <= the cap. */
			r->frames[r->nframes++] = (struct frame){u, i + 1, in->end};
			rc = enter_unit(r, u, in, &units[in->unit]);
			r->nframes--;
			i = in->end;
			break;
		}
	}
	return rc;
}

int
mustache_render(const struct mustache_tpl *tpl, const json_t *ctx, int esc, size_t max_out,
                struct buf *out, char *err, size_t errsz)
{
	if (esc != MUSTACHE_ESC_HTML && esc != MUSTACHE_ESC_NONE && esc != MUSTACHE_ESC_HEADER) {
		seterr(err, errsz, "unknown escaping mode %d", esc);
		return MUSTACHE_EINVAL;
	}
	struct render r = {
	    .units = tpl->units,
	    .out = out,
	    .room = max_out,
	    .esc = esc,
	    .err = err,
	    .errsz = errsz,
	    .steps = MUSTACHE_MAX_STEPS,
	};
	r.stack[r.sp++] = ctx;
	size_t start = out->len;
	buf_reserve(out, tpl->units[0].srclen < max_out ? tpl->units[0].srclen : max_out);
	int rc = run(&r, &tpl->units[0], 0, (uint32_t)tpl->units[0].nins);
	buf_free(&r.indent);
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

/* ----------------------------------------------------------------- fields */

struct field {
	const char *name;
	size_t len;
	bool top;     /* referenced outside any section */
	bool all_def; /* every reference has a default */
};

struct fields {
	const struct mustache_tpl *tpl;
	struct field *v;
	size_t n, cap;
	unsigned char *seen; /* per unit: 1 visited at top level, 2 visited nested */
};

static void
field_add(struct fields *fs, const struct unit *u, const struct ins *in, bool nested)
{
	if (!in->nseg)
		return;
	size_t len;
	const char *name = name_slice(u, in, &len);
	bool def = in->op == OP_VAR && (in->flags & F_DEFAULT);
	for (size_t i = 0; i < fs->n; i++) {
		struct field *f = &fs->v[i];
		if (f->len == len && !memcmp(f->name, name, len)) {
			f->top |= !nested;
			f->all_def &= def;
			return;
		}
	}
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->v = xrealloc(fs->v, fs->cap * sizeof(*fs->v));
	}
	fs->v[fs->n++] = (struct field){name, len, !nested, def};
}

static void
fields_walk(struct fields *fs, const struct unit *u, uint32_t from, uint32_t to, bool nested)
{
	for (uint32_t i = from; i < to; i++) {
		const struct ins *in = &u->ins[i];
		switch (in->op) {
		case OP_VAR:
		case OP_INVERTED:
			field_add(fs, u, in, nested);
			break;
		case OP_SECTION:
			field_add(fs, u, in, nested);
			fields_walk(fs, u, i + 1, in->end, true);
			i = in->end - 1;
			break;
		case OP_PARTIAL:
		case OP_PARENT: {
			unsigned char bit = nested ? 2 : 1;
			if (!(fs->seen[in->unit] & bit)) {
				fs->seen[in->unit] |= bit;
				const struct unit *p = &fs->tpl->units[in->unit];
				fields_walk(fs, p, 0, (uint32_t)p->nins, nested);
			}
			break;
		}
		default:
			break;
		}
	}
}

int
mustache_fields(const struct mustache_tpl *tpl, mustache_field_cb cb, void *arg)
{
	struct fields fs = {.tpl = tpl, .seen = xcalloc(tpl->nunits, 1)};
	fields_walk(&fs, &tpl->units[0], 0, (uint32_t)tpl->units[0].nins, false);
	for (size_t i = 0; i < fs.n; i++) {
		const struct field *f = &fs.v[i];
		cb(arg, f->name, f->len,
		   (f->top ? 0 : MUSTACHE_FIELD_NESTED) |
		       (f->all_def ? MUSTACHE_FIELD_DEFAULT : 0));
	}
	free(fs.v);
	free(fs.seen);
	return 0;
}
