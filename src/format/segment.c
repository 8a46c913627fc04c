/* segment - the segment language: parse, print, JSON, compile to SQL (see segment.h). */
#include "kirim/segment.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/utf8.h"
#include "kirim/when.h"
#include "kirim/xmalloc.h"

/* ---- names the language uses ----------------------------------------------------------- */

static const char *const event_names[] = {
    [SEGMENT_SENT] = "sent",
    [SEGMENT_DELIVERED] = "delivered",
    [SEGMENT_BOUNCED] = "bounced",
    [SEGMENT_OPENED] = "opened",
    [SEGMENT_CLICKED] = "clicked",
    [SEGMENT_UNSUBSCRIBED] = "unsubscribed",
    [SEGMENT_COMPLAINED] = "complained",
};
#define NEVENTS (sizeof(event_names) / sizeof(event_names[0]))

static const char *const op_names[] = {
    [SEGMENT_EQ] = "=",
    [SEGMENT_NE] = "!=",
    [SEGMENT_LT] = "<",
    [SEGMENT_LE] = "<=",
    [SEGMENT_GT] = ">",
    [SEGMENT_GE] = ">=",
    [SEGMENT_CONTAINS] = "contains",
    [SEGMENT_STARTS_WITH] = "starts_with",
};
#define NOPS (sizeof(op_names) / sizeof(op_names[0]))

/* Words that cannot be a bare attribute name (segment_print quotes them). */
static const char *const keywords[] = {
    "and", "or", "not", "in", "is", "empty", "contains", "starts_with", "any", "hard", "soft",
};

const char *
segment_event_name(enum segment_event e)
{
	return (size_t)e < NEVENTS ? event_names[e] : "?";
}

static bool
word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static bool
is_keyword(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (word_is(s, n, keywords[i]))
			return true;
	return false;
}

static bool
ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool
ident_char(unsigned char c)
{
	return ident_start(c) || isdigit(c) || c == '.';
}

/* ---- numbers and dates ------------------------------------------------------------------ */

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

bool
segment_number(const char *s, size_t n, double *out)
{
	while (n > 0 && blank(*s))
		s++, n--;
	while (n > 0 && blank(s[n - 1]))
		n--;
	size_t i = 0, nd = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, nd++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, nd++;
	}
	if (nd == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = 0;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, e++;
		if (e == 0)
			return false;
	}
	if (i != n || n >= 64)
		return false;
	char tmp[64];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	double v = strtod(tmp, NULL);
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

/* digits - n decimal digits at s[*i] into *v */
static bool
digits(const char *s, size_t len, size_t *i, int n, int *v)
{
	int x = 0;
	for (int k = 0; k < n; k++, ++*i) {
		if (*i >= len || !isdigit((unsigned char)s[*i]))
			return false;
		x = x * 10 + (s[*i] - '0');
	}
	*v = x;
	return true;
}

bool
segment_time(const char *s, size_t n, int64_t *t, bool *day)
{
	while (n > 0 && blank(*s))
		s++, n--;
	while (n > 0 && blank(s[n - 1]))
		n--;
	size_t i = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	if (!digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' || !digits(s, n, &i, 2, &mo) ||
	    i >= n || s[i++] != '-' || !digits(s, n, &i, 2, &d))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1)
		return false;
	int64_t days = when_days_from_civil(y, mo, d);
	int cy, cm, cd;
	when_civil_from_days(days, &cy, &cm, &cd);
	if (cy != y || cm != mo || cd != d)
		return false; /* February 30th */
	bool only_day = i == n;
	if (!only_day) {
		char sep = s[i++];
		if (sep != 'T' && sep != 't' && sep != ' ')
			return false;
		if (!digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' ||
		    !digits(s, n, &i, 2, &mi) || h > 23 || mi > 59)
			return false;
		if (i < n && s[i] == ':') {
			i++;
			if (!digits(s, n, &i, 2, &sec) || sec > 59)
				return false;
			if (i < n && s[i] == '.') {
				size_t f = ++i;
				while (i < n && isdigit((unsigned char)s[i]))
					i++;
				if (i == f)
					return false;
			}
		}
		if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < n && (s[i] == '+' || s[i] == '-')) {
			int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
			if (!digits(s, n, &i, 2, &oh) || oh > 23)
				return false;
			/* Minutes: after a colon always, else when anything follows. */
			bool colon = i < n && s[i] == ':';
			if (colon)
				i++;
			if ((colon || i < n) && (!digits(s, n, &i, 2, &om) || om > 59))
				return false;
			off = sign * (oh * 3600 + om * 60);
		}
		if (i != n)
			return false;
	}
	int64_t v = days * 86400 + h * 3600 + mi * 60 + sec - off;
	/* What the canonical form can write back: years 1 to 9999 in UTC. */
	when_civil_from_days(v / 86400 - (v % 86400 < 0), &cy, &cm, &cd);
	if (cy < 1 || cy > 9999)
		return false;
	*t = v;
	*day = only_day;
	return true;
}

/* number_text - the shortest text strtod reads back as v */
static char *
number_text(double v)
{
	char tmp[40];
	if (v == 0)
		return xstrdup("0");
	/* Whole numbers as integers (30, not 3e+01), up to where doubles are still exact. */
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
		snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
		return xstrdup(tmp);
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return xstrdup(tmp);
}

/* date_text - the canonical text of a date: a day, or an instant in UTC */
static char *
date_text(int64_t t, bool day)
{
	char tmp[40];
	int64_t days = t / 86400 - (t % 86400 < 0);
	int64_t secs = t - days * 86400;
	int y, m, d;
	when_civil_from_days(days, &y, &m, &d);
	if (day)
		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
	else
		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
		         (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	return xstrdup(tmp);
}

/* ---- trees ------------------------------------------------------------------------------ */

struct segment_node *
segment_new(enum segment_type type)
{
	struct segment_node *n = xcalloc(1, sizeof(*n));
	n->type = type;
	return n;
}

void
segment_add_kid(struct segment_node *parent, struct segment_node *kid)
{
	/* and/or inside the same operator are one list: a tree has one canonical form. */
	if ((parent->type == SEGMENT_AND || parent->type == SEGMENT_OR) &&
	    kid->type == parent->type) {
		for (size_t i = 0; i < kid->nkids; i++)
			segment_add_kid(parent, kid->kids[i]);
		kid->nkids = 0;
		segment_free(kid);
		return;
	}
	parent->kids = xrealloc(parent->kids, (parent->nkids + 1) * sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

static void
value_clear(struct segment_value *v)
{
	free(v->text);
	v->text = NULL;
}

void
segment_free(struct segment_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		segment_free(n->kids[i]);
	free(n->kids);
	for (size_t i = 0; i < n->nvals; i++)
		value_clear(&n->vals[i]);
	free(n->vals);
	free(n->name);
	free(n);
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
segment_equal(const struct segment_node *a, const struct segment_node *b)
{
	if (a->type != b->type || a->nkids != b->nkids || a->nvals != b->nvals ||
	    !str_eq(a->name, b->name) || a->negated != b->negated)
		return false;
	if (a->type == SEGMENT_CMP && a->op != b->op)
		return false;
	if (a->type == SEGMENT_EVENT &&
	    (a->event != b->event || a->days != b->days || a->klass != b->klass))
		return false;
	for (size_t i = 0; i < a->nvals; i++) {
		const struct segment_value *x = &a->vals[i], *y = &b->vals[i];
		if (x->type != y->type || !str_eq(x->text, y->text) || x->day != y->day ||
		    (x->type == SEGMENT_DATE && x->time != y->time) ||
		    (x->type == SEGMENT_NUMBER && x->num != y->num))
			return false;
	}
	for (size_t i = 0; i < a->nkids; i++)
		if (!segment_equal(a->kids[i], b->kids[i]))
			return false;
	return true;
}

int
segment_each_ref(const struct segment_node *n, segment_ref_cb cb, void *arg)
{
	int rc = 0;
	switch (n->type) {
	case SEGMENT_LIST:
	case SEGMENT_TAG:
	case SEGMENT_SEGMENT:
		return cb(arg, n);
	case SEGMENT_EVENT:
		return n->name ? cb(arg, n) : 0;
	default:
		for (size_t i = 0; i < n->nkids && rc == 0; i++)
			rc = segment_each_ref(n->kids[i], cb, arg);
		return rc;
	}
}

/* ---- the lexer -------------------------------------------------------------------------- */

enum tok {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_NUMBER,
	T_DATE,
	T_DAYS,
	T_LP,
	T_RP,
	T_COMMA,
	T_OP, /* = != < <= > >=: tok.op */
};

struct token {
	enum tok type;
	size_t start, len; /* the token's bytes in the text */
	int line, col;
	enum segment_op op;
	double num;   /* T_NUMBER */
	int64_t time; /* T_DATE */
	bool day;     /* T_DATE */
	int days;     /* T_DAYS */
};

struct parser {
	const char *s;
	size_t n;
	size_t pos;
	int line, col;    /* of pos */
	struct token tok; /* the current token */
	char *err;
	size_t errsz;
	bool failed;
	int depth, nodes;
};

static void perr(struct parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	int k = snprintf(p->err, p->errsz, "%d:%d: ", line, col);
	if (k < 0 || (size_t)k >= p->errsz)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + k, p->errsz - (size_t)k, fmt, ap);
	va_end(ap);
}

/* advance - past one byte, counting lines and characters (UTF-8 continuation bytes do not) */
static void
advance(struct parser *p)
{
	unsigned char c = (unsigned char)p->s[p->pos++];
	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		p->col++;
	}
}

/* A token's text for a message: at most 40 bytes of it, whole characters. */
static int
tok_show_len(const struct parser *p, const struct token *t)
{
	size_t n = t->len;
	if (n > 40) {
		n = 40;
		while (n > 0 && ((unsigned char)p->s[t->start + n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

/* string_scan - a quoted string from p->pos (at the quote): checked, not decoded */
static bool
string_scan(struct parser *p)
{
	int line = p->line, col = p->col;
	advance(p);
	size_t start = p->pos;
	for (;;) {
		if (p->pos >= p->n) {
			perr(p, line, col, "a string that does not end (no closing \")");
			return false;
		}
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '"')
			break;
		if (c < 0x20 || c == 0x7f) {
			perr(p, p->line, p->col,
			     "a control character in a string (write \\n, \\t or \\u00XX)");
			return false;
		}
		if (c == '\\') {
			int el = p->line, ec = p->col;
			advance(p);
			if (p->pos >= p->n)
				continue;
			char e = p->s[p->pos];
			if (e == 'u') {
				for (int k = 0; k < 4; k++) {
					advance(p);
					if (p->pos >= p->n ||
					    !isxdigit((unsigned char)p->s[p->pos])) {
						perr(p, el, ec, "\\u takes four hex digits");
						return false;
					}
				}
			} else if (!strchr("\"\\/nrt", e)) {
				perr(p, el, ec,
				     "unknown escape \\%c (\\\" \\\\ \\n \\r \\t \\uXXXX)",
				     isprint((unsigned char)e) ? e : '?');
				return false;
			}
		}
		advance(p);
	}
	if (!utf8_valid(p->s + start, p->pos - start)) {
		perr(p, line, col, "a string that is not UTF-8");
		return false;
	}
	advance(p); /* the closing quote */
	return true;
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		v = v * 16 +
		    (unsigned)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
	}
	return v;
}

/*
 * tok_text - a T_STRING's decoded value or a T_IDENT's bytes, as a new string; NULL
 * (with the error set) for a value the language cannot hold: a NUL, a lone surrogate,
 * more than max bytes
 */
static char *
tok_text(struct parser *p, const struct token *t, size_t max, const char *what)
{
	struct buf b = BUF_INIT;
	if (t->type != T_STRING) {
		buf_add(&b, p->s + t->start, t->len);
	} else {
		const char *s = p->s + t->start + 1;
		size_t n = t->len - 2;
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '\\') {
				buf_addc(&b, s[i]);
				continue;
			}
			char e = s[++i];
			if (e != 'u') {
				buf_addc(&b, e == 'n'   ? '\n'
				             : e == 'r' ? '\r'
				             : e == 't' ? '\t'
				                        : e);
				continue;
			}
			unsigned cp = hex4(s + i + 1);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < n && s[i + 1] == '\\' &&
			    s[i + 2] == 'u') {
				unsigned lo = hex4(s + i + 3);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
				perr(p, t->line, t->col,
				     "%s holds \\u%04X, which a name or value "
				     "cannot hold",
				     what, cp);
				buf_free(&b);
				return NULL;
			}
			utf8_put(&b, cp);
		}
	}
	if (b.len == 0 && t->type == T_STRING && max == SEGMENT_NAME_MAX) {
		perr(p, t->line, t->col, "%s is empty", what);
		buf_free(&b);
		return NULL;
	}
	if (b.len > max) {
		perr(p, t->line, t->col, "%s is longer than %zu bytes", what, max);
		buf_free(&b);
		return NULL;
	}
	if (b.data == NULL)
		buf_adds(&b, "");
	return b.data;
}

/* lex - the next token into p->tok; false (with the error set) on a bad one */
static bool
lex(struct parser *p)
{
	while (p->pos < p->n && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos] != '\0')
		advance(p);
	struct token *t = &p->tok;
	memset(t, 0, sizeof(*t));
	t->start = p->pos;
	t->line = p->line;
	t->col = p->col;
	if (p->pos >= p->n) {
		t->type = T_EOF;
		return true;
	}
	const char *s = p->s + p->pos;
	size_t left = p->n - p->pos;
	unsigned char c = (unsigned char)s[0];
	size_t len = 1;
	switch (c) {
	case '(':
		t->type = T_LP;
		break;
	case ')':
		t->type = T_RP;
		break;
	case ',':
		t->type = T_COMMA;
		break;
	case '=':
		if (left > 1 && s[1] == '=') {
			perr(p, t->line, t->col, "'==': equality is written =");
			return false;
		}
		t->type = T_OP;
		t->op = SEGMENT_EQ;
		break;
	case '!':
		if (left < 2 || s[1] != '=') {
			perr(p, t->line, t->col,
			     "'!' alone: not equal is written !=, negation not");
			return false;
		}
		t->type = T_OP;
		t->op = SEGMENT_NE;
		len = 2;
		break;
	case '<':
	case '>':
		if (c == '<' && left > 1 && s[1] == '>') {
			perr(p, t->line, t->col, "'<>': not equal is written !=");
			return false;
		}
		t->type = T_OP;
		t->op = c == '<' ? SEGMENT_LT : SEGMENT_GT;
		if (left > 1 && s[1] == '=') {
			t->op = c == '<' ? SEGMENT_LE : SEGMENT_GE;
			len = 2;
		}
		break;
	case '"':
		if (!string_scan(p))
			return false;
		t->type = T_STRING;
		t->len = p->pos - t->start;
		return true;
	default:
		break;
	}
	if (t->type != T_EOF) {
		for (size_t k = 0; k < len; k++)
			advance(p);
		t->len = len;
		return true;
	}
	if (ident_start(c)) {
		size_t k = 0;
		while (k < left && ident_char((unsigned char)s[k]))
			k++;
		if (!utf8_valid(s, k)) {
			perr(p, t->line, t->col, "a name that is not UTF-8");
			return false;
		}
		t->type = T_IDENT;
		t->len = k;
		while (p->pos < t->start + k)
			advance(p);
		return true;
	}
	bool sign = c == '+' || c == '-';
	if (isdigit(c) || ((sign || c == '.') && left > 1 &&
	                   (isdigit((unsigned char)s[1]) ||
	                    (s[1] == '.' && left > 2 && isdigit((unsigned char)s[2]))))) {
		/* A run of what numbers, dates and durations are made of, read whole. */
		size_t k = 1;
		while (k < left && (isalnum((unsigned char)s[k]) || strchr(".:+-", s[k]) != NULL) &&
		       s[k] != '\0')
			k++;
		t->len = k;
		while (p->pos < t->start + k)
			advance(p);
		if (!sign && k >= 10 && s[4] == '-' && isdigit((unsigned char)s[5])) {
			t->type = T_DATE;
			if (!segment_time(s, k, &t->time, &t->day)) {
				perr(p, t->line, t->col,
				     "'%.*s' is not a date (YYYY-MM-DD, or "
				     "YYYY-MM-DDTHH:MM[:SS] with Z or an offset)",
				     tok_show_len(p, t), s);
				return false;
			}
			return true;
		}
		if (!sign && (s[k - 1] == 'd' || s[k - 1] == 'D')) {
			size_t i = 0;
			long d = 0;
			while (i < k - 1 && isdigit((unsigned char)s[i])) {
				if (d <= SEGMENT_DAYS_MAX)
					d = d * 10 + (s[i] - '0');
				i++;
			}
			if (i == k - 1) {
				if (d < 1 || d > SEGMENT_DAYS_MAX) {
					perr(p, t->line, t->col,
					     "'%.*s': a number of days from 1 to %d",
					     tok_show_len(p, t), s, SEGMENT_DAYS_MAX);
					return false;
				}
				t->type = T_DAYS;
				t->days = (int)d;
				return true;
			}
		}
		t->type = T_NUMBER;
		if (!segment_number(s, k, &t->num)) {
			perr(p, t->line, t->col, "'%.*s' is not a number", tok_show_len(p, t), s);
			return false;
		}
		return true;
	}
	if (c == '\'')
		perr(p, t->line, t->col, "unexpected \"'\": strings are in double quotes");
	else if (c >= 0x20 && c < 0x7f)
		perr(p, t->line, t->col, "unexpected '%c'", c);
	else
		perr(p, t->line, t->col, "unexpected byte 0x%02X", c);
	return false;
}

/* peek_lp - is the token after the current one an opening parenthesis? */
static bool
peek_lp(const struct parser *p)
{
	size_t i = p->pos;
	while (i < p->n &&
	       (p->s[i] == ' ' || p->s[i] == '\t' || p->s[i] == '\r' || p->s[i] == '\n'))
		i++;
	return i < p->n && p->s[i] == '(';
}

static bool
is_word(const struct parser *p, const char *word)
{
	return p->tok.type == T_IDENT && word_is(p->s + p->tok.start, p->tok.len, word);
}

/* ---- the parser ------------------------------------------------------------------------- */

static struct segment_node *parse_or(struct parser *p);

static struct segment_node *
node_at(struct parser *p, enum segment_type type, const struct token *t)
{
	if (++p->nodes > SEGMENT_NODES_MAX) {
		perr(p, t->line, t->col, "more than %d conditions and operators",
		     SEGMENT_NODES_MAX);
		return NULL;
	}
	struct segment_node *n = segment_new(type);
	n->line = t->line;
	n->col = t->col;
	return n;
}

/* want - the error "expected WHAT, found ..." at the current token; false */
static bool
want(struct parser *p, const char *what)
{
	const struct token *t = &p->tok;
	const char *w = p->s + t->start;
	if (t->type == T_EOF)
		perr(p, t->line, t->col, "expected %s, found the end", what);
	else if (t->len >= 3 &&
	         (memcmp(w, "\xE2\x80\x9C", 3) == 0 || memcmp(w, "\xE2\x80\x9D", 3) == 0))
		perr(p, t->line, t->col,
		     "expected %s, found a typographic quote: strings are "
		     "in straight double quotes (\"...\")",
		     what);
	else
		perr(p, t->line, t->col, "expected %s, found '%.*s'", what, tok_show_len(p, t), w);
	return false;
}

/* expect - the current token is type (else the error names what); moves past it */
static bool
expect(struct parser *p, enum tok type, const char *what)
{
	if (p->tok.type != type)
		return want(p, what);
	return lex(p);
}

/* value_of - the current token as a value for op (CMP) or for in (op < 0) */
static bool
value_of(struct parser *p, int op, struct segment_value *v)
{
	const struct token *t = &p->tok;
	memset(v, 0, sizeof(*v));
	bool text_op = op == SEGMENT_CONTAINS || op == SEGMENT_STARTS_WITH;
	bool order_op =
	    op == SEGMENT_LT || op == SEGMENT_LE || op == SEGMENT_GT || op == SEGMENT_GE;
	switch (t->type) {
	case T_STRING:
		if ((v->text = tok_text(p, t, SEGMENT_STRING_MAX, "the string")) == NULL)
			return false;
		v->type = SEGMENT_STRING;
		if (order_op) {
			/* Strings are not ordered: a quoted number or date is read as one. */
			size_t n = strlen(v->text);
			if (segment_number(v->text, n, &v->num)) {
				v->type = SEGMENT_NUMBER;
			} else if (segment_time(v->text, n, &v->time, &v->day)) {
				v->type = SEGMENT_DATE;
			} else {
				perr(p, t->line, t->col,
				     "'%s' compares numbers or dates, and "
				     "\"%.40s\" is neither",
				     op_names[op], v->text);
				free(v->text);
				v->text = NULL;
				return false;
			}
			free(v->text);
			v->text = v->type == SEGMENT_NUMBER ? number_text(v->num)
			                                    : date_text(v->time, v->day);
		}
		return true;
	case T_NUMBER:
	case T_DATE:
		if (text_op) {
			v->type = SEGMENT_STRING;
			v->text = xstrndup(p->s + t->start, t->len);
		} else if (t->type == T_NUMBER) {
			v->type = SEGMENT_NUMBER;
			v->num = t->num;
			v->text = number_text(t->num);
		} else {
			v->type = SEGMENT_DATE;
			v->time = t->time;
			v->day = t->day;
			v->text = date_text(t->time, t->day);
		}
		return true;
	default:
		return want(p, "a value (\"text\", a number or a date)");
	}
}

static void
add_value(struct segment_node *n, const struct segment_value *v)
{
	n->vals = xrealloc(n->vals, (n->nvals + 1) * sizeof(*n->vals));
	n->vals[n->nvals++] = *v;
}

/* name_arg - a function's name argument: "quoted" or a bare word */
static char *
name_arg(struct parser *p, const char *what)
{
	if (p->tok.type != T_STRING && p->tok.type != T_IDENT) {
		want(p, what);
		return NULL;
	}
	char *name = tok_text(p, &p->tok, SEGMENT_NAME_MAX, what);
	if (name && !lex(p)) {
		free(name);
		return NULL;
	}
	return name;
}

/* function - list(...), tag(...), segment(...) or an engagement function; at its name */
static struct segment_node *
function(struct parser *p)
{
	struct token at = p->tok;
	const char *w = p->s + at.start;
	struct segment_node *n = NULL;
	if (word_is(w, at.len, "list") || word_is(w, at.len, "tag") ||
	    word_is(w, at.len, "segment")) {
		enum segment_type type = word_is(w, at.len, "list")  ? SEGMENT_LIST
		                         : word_is(w, at.len, "tag") ? SEGMENT_TAG
		                                                     : SEGMENT_SEGMENT;
		const char *what = type == SEGMENT_LIST  ? "a list name"
		                   : type == SEGMENT_TAG ? "a tag"
		                                         : "a segment name";
		if ((n = node_at(p, type, &at)) == NULL || !lex(p) || !expect(p, T_LP, "'('") ||
		    (n->name = name_arg(p, what)) == NULL || !expect(p, T_RP, "')'"))
			goto fail;
		return n;
	}
	size_t e = 0;
	while (e < NEVENTS && !word_is(w, at.len, event_names[e]))
		e++;
	if (e == NEVENTS) {
		perr(p, at.line, at.col,
		     "unknown function '%.*s' (list, tag, segment, sent, "
		     "delivered, bounced, opened, clicked, unsubscribed, complained)",
		     tok_show_len(p, &at), w);
		return NULL;
	}
	if ((n = node_at(p, SEGMENT_EVENT, &at)) == NULL)
		return NULL;
	n->event = (enum segment_event)e;
	if (!lex(p) || !expect(p, T_LP, "'('"))
		goto fail;
	if (is_word(p, "any")) {
		if (!lex(p))
			goto fail;
	} else if (p->tok.type == T_STRING || p->tok.type == T_IDENT) {
		if ((n->name = name_arg(p, "a campaign name")) == NULL)
			goto fail;
	} else {
		want(p, "a campaign (\"NAME\") or any");
		goto fail;
	}
	while (p->tok.type == T_COMMA) {
		if (!lex(p))
			goto fail;
		if (p->tok.type == T_DAYS && n->days == 0) {
			n->days = p->tok.days;
		} else if (n->event == SEGMENT_BOUNCED && n->klass == SEGMENT_CLASS_ANY &&
		           (is_word(p, "hard") || is_word(p, "soft"))) {
			n->klass = is_word(p, "hard") ? SEGMENT_CLASS_HARD : SEGMENT_CLASS_SOFT;
		} else {
			want(p, n->event == SEGMENT_BOUNCED
			            ? "a number of days (30d) or hard or soft, once each"
			            : "a number of days (30d), once");
			goto fail;
		}
		if (!lex(p))
			goto fail;
	}
	if (!expect(p, T_RP, "')'"))
		goto fail;
	return n;
fail:
	segment_free(n);
	return NULL;
}

/* condition - ATTRIBUTE followed by its operator and value(s); at the attribute */
static struct segment_node *
condition(struct parser *p)
{
	struct token at = p->tok;
	if (at.type == T_IDENT && is_keyword(p->s + at.start, at.len)) {
		perr(p, at.line, at.col,
		     "expected a condition, found '%.*s' (an attribute "
		     "with this name is written \"%.*s\")",
		     tok_show_len(p, &at), p->s + at.start, tok_show_len(p, &at), p->s + at.start);
		return NULL;
	}
	struct segment_node *n = node_at(p, SEGMENT_CMP, &at);
	if (n == NULL)
		return NULL;
	if ((n->name = tok_text(p, &at, SEGMENT_NAME_MAX, "the attribute name")) == NULL)
		goto fail;
	if (strchr(n->name, '"')) {
		perr(p, at.line, at.col, "an attribute name cannot hold '\"'");
		goto fail;
	}
	if (!lex(p))
		goto fail;
	struct segment_value v;
	if (p->tok.type == T_OP || is_word(p, "contains") || is_word(p, "starts_with")) {
		n->op = p->tok.type == T_OP      ? p->tok.op
		        : is_word(p, "contains") ? SEGMENT_CONTAINS
		                                 : SEGMENT_STARTS_WITH;
		if (!lex(p) || !value_of(p, (int)n->op, &v))
			goto fail;
		add_value(n, &v);
		if (!lex(p))
			goto fail;
		return n;
	}
	if (is_word(p, "is")) {
		n->type = SEGMENT_EMPTY;
		if (!lex(p))
			goto fail;
		if (is_word(p, "not")) {
			n->negated = true;
			if (!lex(p))
				goto fail;
		}
		if (!is_word(p, "empty")) {
			want(p, "empty (is empty, is not empty)");
			goto fail;
		}
		if (!lex(p))
			goto fail;
		return n;
	}
	if (is_word(p, "not")) {
		n->negated = true;
		if (!lex(p))
			goto fail;
		if (!is_word(p, "in")) {
			want(p, "in (not in)");
			goto fail;
		}
	}
	if (is_word(p, "in")) {
		n->type = SEGMENT_IN;
		if (!lex(p) || !expect(p, T_LP, "'(' and the values"))
			goto fail;
		for (;;) {
			if (n->nvals == SEGMENT_VALUES_MAX) {
				perr(p, p->tok.line, p->tok.col,
				     "more than %d values in one in (...)", SEGMENT_VALUES_MAX);
				goto fail;
			}
			if (!value_of(p, -1, &v))
				goto fail;
			add_value(n, &v);
			if (!lex(p))
				goto fail;
			if (p->tok.type != T_COMMA)
				break;
			if (!lex(p))
				goto fail;
		}
		if (!expect(p, T_RP, "',' or ')'"))
			goto fail;
		return n;
	}
	want(p, "an operator after the attribute (=, !=, <, <=, >, >=, contains, starts_with, "
	        "in, not in, is empty, is not empty)");
fail:
	segment_free(n);
	return NULL;
}

static bool
deeper(struct parser *p)
{
	if (++p->depth > SEGMENT_DEPTH_MAX) {
		perr(p, p->tok.line, p->tok.col, "nested more than %d deep", SEGMENT_DEPTH_MAX);
		return false;
	}
	return true;
}

static struct segment_node *
parse_unary(struct parser *p)
{
	struct segment_node *n = NULL;
	if (!deeper(p))
		return NULL;
	if (is_word(p, "not")) {
		struct token at = p->tok;
		struct segment_node *kid;
		if ((n = node_at(p, SEGMENT_NOT, &at)) == NULL || !lex(p) ||
		    (kid = parse_unary(p)) == NULL) {
			segment_free(n);
			return NULL;
		}
		segment_add_kid(n, kid);
	} else if (p->tok.type == T_LP) {
		struct token at = p->tok;
		if (!lex(p) || (n = parse_or(p)) == NULL)
			return NULL;
		if (p->tok.type != T_RP) {
			if (p->tok.type == T_EOF)
				perr(p, p->tok.line, p->tok.col,
				     "expected ')' to close the '(' at %d:%d", at.line, at.col);
			else
				expect(p, T_RP, "')'");
			segment_free(n);
			return NULL;
		}
		if (!lex(p)) {
			segment_free(n);
			return NULL;
		}
	} else if (p->tok.type == T_IDENT && peek_lp(p)) {
		n = function(p);
	} else if (p->tok.type == T_IDENT || p->tok.type == T_STRING) {
		n = condition(p);
	} else {
		want(p, "a condition");
	}
	p->depth--;
	return n;
}

/* binary - kids joined by word ("and", "or") into one node of type */
static struct segment_node *
binary(struct parser *p, const char *word, enum segment_type type,
       struct segment_node *(*next)(struct parser *))
{
	struct token at = p->tok;
	struct segment_node *left = next(p), *n = NULL;
	if (left == NULL)
		return NULL;
	while (is_word(p, word)) {
		if (n == NULL) {
			if ((n = node_at(p, type, &at)) == NULL) {
				segment_free(left);
				return NULL;
			}
			segment_add_kid(n, left);
		}
		struct segment_node *right;
		if (!lex(p) || (right = next(p)) == NULL) {
			segment_free(n);
			return NULL;
		}
		segment_add_kid(n, right);
	}
	return n ? n : left;
}

static struct segment_node *
parse_and(struct parser *p)
{
	return binary(p, "and", SEGMENT_AND, parse_unary);
}

static struct segment_node *
parse_or(struct parser *p)
{
	if (!deeper(p))
		return NULL;
	struct segment_node *n = binary(p, "or", SEGMENT_OR, parse_and);
	p->depth--;
	return n;
}

int
segment_parse(const char *text, size_t n, struct segment_node **out, char *err, size_t errsz)
{
	struct parser p = {.s = text, .n = n, .line = 1, .col = 1, .err = err, .errsz = errsz};
	if (n > SEGMENT_TEXT_MAX) {
		snprintf(err, errsz, "1:1: an expression longer than %d bytes", SEGMENT_TEXT_MAX);
		return -1;
	}
	if (memchr(text, '\0', n)) {
		snprintf(err, errsz, "1:1: a NUL byte in the expression");
		return -1;
	}
	struct segment_node *root = NULL;
	if (lex(&p) && (root = parse_or(&p)) != NULL && p.tok.type != T_EOF) {
		if (p.tok.type == T_RP)
			perr(&p, p.tok.line, p.tok.col, "a ')' that closes nothing");
		else
			perr(&p, p.tok.line, p.tok.col, "expected and, or or the end, found '%.*s'",
			     tok_show_len(&p, &p.tok), p.s + p.tok.start);
	}
	if (p.failed || root == NULL) {
		segment_free(root);
		if (!p.failed)
			snprintf(err, errsz, "1:1: not a segment expression");
		return -1;
	}
	*out = root;
	return 0;
}

/* ---- printing --------------------------------------------------------------------------- */

static void
print_string(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c == '\n') {
			buf_adds(b, "\\n");
		} else if (c == '\r') {
			buf_adds(b, "\\r");
		} else if (c == '\t') {
			buf_adds(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\u%04X", c);
		} else {
			buf_addc(b, (char)c);
		}
	}
	buf_addc(b, '"');
}

/* print_name - an attribute: bare when the lexer reads it back as the same word */
static void
print_name(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	bool bare = n > 0 && ident_start((unsigned char)s[0]) && !is_keyword(s, n);
	for (size_t i = 0; bare && i < n; i++)
		bare = ident_char((unsigned char)s[i]);
	if (bare)
		buf_add(b, s, n);
	else
		print_string(b, s);
}

static void
print_value(struct buf *b, const struct segment_value *v)
{
	if (v->type == SEGMENT_STRING)
		print_string(b, v->text);
	else
		buf_adds(b, v->text);
}

static void print_node(const struct segment_node *n, struct buf *b);

static void
print_kid(const struct segment_node *kid, struct buf *b, bool parens)
{
	if (parens)
		buf_addc(b, '(');
	print_node(kid, b);
	if (parens)
		buf_addc(b, ')');
}

static void
print_node(const struct segment_node *n, struct buf *b)
{
	switch (n->type) {
	case SEGMENT_AND:
	case SEGMENT_OR:
		for (size_t i = 0; i < n->nkids; i++) {
			if (i)
				buf_adds(b, n->type == SEGMENT_AND ? " and " : " or ");
			enum segment_type k = n->kids[i]->type;
			/* An or inside and needs them; an and inside or gets them for the reader.
			 */
			print_kid(n->kids[i], b, k == SEGMENT_AND || k == SEGMENT_OR);
		}
		break;
	case SEGMENT_NOT: {
		enum segment_type k = n->kids[0]->type;
		buf_adds(b, "not ");
		print_kid(n->kids[0], b,
		          !(k == SEGMENT_LIST || k == SEGMENT_TAG || k == SEGMENT_SEGMENT ||
		            k == SEGMENT_EVENT || k == SEGMENT_NOT));
		break;
	}
	case SEGMENT_CMP:
		print_name(b, n->name);
		buf_printf(b, " %s ", op_names[n->op]);
		print_value(b, &n->vals[0]);
		break;
	case SEGMENT_IN:
		print_name(b, n->name);
		buf_adds(b, n->negated ? " not in (" : " in (");
		for (size_t i = 0; i < n->nvals; i++) {
			if (i)
				buf_adds(b, ", ");
			print_value(b, &n->vals[i]);
		}
		buf_addc(b, ')');
		break;
	case SEGMENT_EMPTY:
		print_name(b, n->name);
		buf_adds(b, n->negated ? " is not empty" : " is empty");
		break;
	case SEGMENT_LIST:
	case SEGMENT_TAG:
	case SEGMENT_SEGMENT:
		buf_adds(b, n->type == SEGMENT_LIST  ? "list("
		            : n->type == SEGMENT_TAG ? "tag("
		                                     : "segment(");
		print_string(b, n->name);
		buf_addc(b, ')');
		break;
	case SEGMENT_EVENT:
		buf_printf(b, "%s(", segment_event_name(n->event));
		if (n->name)
			print_string(b, n->name);
		else
			buf_adds(b, "any");
		if (n->days)
			buf_printf(b, ", %dd", n->days);
		if (n->klass != SEGMENT_CLASS_ANY)
			buf_adds(b, n->klass == SEGMENT_CLASS_HARD ? ", hard" : ", soft");
		buf_addc(b, ')');
		break;
	}
}

void
segment_print(const struct segment_node *n, struct buf *out)
{
	print_node(n, out);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *
value_json(const struct segment_value *v)
{
	switch (v->type) {
	case SEGMENT_STRING:
		return json_string(v->text);
	case SEGMENT_NUMBER:
		if (v->num > -9007199254740992.0 && v->num < 9007199254740992.0 &&
		    v->num == (double)(int64_t)v->num)
			return json_integer((json_int_t)v->num);
		return json_real(v->num);
	case SEGMENT_DATE:
		return json_pack("{s:s}", "date", v->text);
	}
	return json_null();
}

json_t *
segment_to_json(const struct segment_node *n)
{
	json_t *o = json_object(), *a;
	switch (n->type) {
	case SEGMENT_AND:
	case SEGMENT_OR:
		a = json_array();
		for (size_t i = 0; i < n->nkids; i++)
			json_array_append_new(a, segment_to_json(n->kids[i]));
		json_object_set_new(o, n->type == SEGMENT_AND ? "and" : "or", a);
		break;
	case SEGMENT_NOT:
		json_object_set_new(o, "not", segment_to_json(n->kids[0]));
		break;
	case SEGMENT_CMP:
		json_object_set_new(o, "attr", json_string(n->name));
		json_object_set_new(o, "op", json_string(op_names[n->op]));
		json_object_set_new(o, "value", value_json(&n->vals[0]));
		break;
	case SEGMENT_IN:
		json_object_set_new(o, "attr", json_string(n->name));
		json_object_set_new(o, "op", json_string(n->negated ? "not in" : "in"));
		a = json_array();
		for (size_t i = 0; i < n->nvals; i++)
			json_array_append_new(a, value_json(&n->vals[i]));
		json_object_set_new(o, "values", a);
		break;
	case SEGMENT_EMPTY:
		json_object_set_new(o, "attr", json_string(n->name));
		json_object_set_new(o, "op", json_string(n->negated ? "is not empty" : "is empty"));
		break;
	case SEGMENT_LIST:
	case SEGMENT_TAG:
	case SEGMENT_SEGMENT:
		json_object_set_new(o,
		                    n->type == SEGMENT_LIST  ? "list"
		                    : n->type == SEGMENT_TAG ? "tag"
		                                             : "segment",
		                    json_string(n->name));
		break;
	case SEGMENT_EVENT:
		json_object_set_new(o, "event", json_string(segment_event_name(n->event)));
		json_object_set_new(o, "campaign", n->name ? json_string(n->name) : json_null());
		if (n->days)
			json_object_set_new(o, "days", json_integer(n->days));
		if (n->klass != SEGMENT_CLASS_ANY)
			json_object_set_new(
			    o, "class",
			    json_string(n->klass == SEGMENT_CLASS_HARD ? "hard" : "soft"));
		break;
	}
	return o;
}

/* The JSON reader's state: the path to the value being read, for messages. */
struct jreader {
	char path[256];
	char *err;
	size_t errsz;
	int nodes;
};

static int jerr(struct jreader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
jerr(struct jreader *r, const char *fmt, ...)
{
	int k = snprintf(r->err, r->errsz, "%s: ", r->path[0] ? r->path : "(top)");
	if (k >= 0 && (size_t)k < r->errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err + k, r->errsz - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* jstring - member key of j as a new string: no NUL, at most max bytes, not empty for a name */
static int
jstring(struct jreader *r, const json_t *j, const char *key, size_t max, char **out)
{
	const json_t *v = json_object_get(j, key);
	if (!json_is_string(v))
		return jerr(r, "\"%s\" must be a string", key);
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (memchr(s, '\0', n))
		return jerr(r, "\"%s\" holds a NUL", key);
	if (n > max)
		return jerr(r, "\"%s\" is longer than %zu bytes", key, max);
	if (n == 0 && max == SEGMENT_NAME_MAX)
		return jerr(r, "\"%s\" is empty", key);
	*out = xstrdup(s);
	return 0;
}

static int
jvalue(struct jreader *r, const json_t *v, int op, struct segment_value *out)
{
	memset(out, 0, sizeof(*out));
	bool text_op = op == SEGMENT_CONTAINS || op == SEGMENT_STARTS_WITH;
	bool order_op =
	    op == SEGMENT_LT || op == SEGMENT_LE || op == SEGMENT_GT || op == SEGMENT_GE;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (memchr(s, '\0', n) || n > SEGMENT_STRING_MAX)
			return jerr(r, "a string value with a NUL or over %d bytes",
			            SEGMENT_STRING_MAX);
		if (order_op) {
			if (segment_number(s, n, &out->num)) {
				out->type = SEGMENT_NUMBER;
				out->text = number_text(out->num);
			} else if (segment_time(s, n, &out->time, &out->day)) {
				out->type = SEGMENT_DATE;
				out->text = date_text(out->time, out->day);
			} else {
				return jerr(r,
				            "'%s' compares numbers or dates, and \"%.40s\" is "
				            "neither",
				            op_names[op], s);
			}
			return 0;
		}
		out->type = SEGMENT_STRING;
		out->text = xstrdup(s);
		return 0;
	}
	if (json_is_number(v)) {
		double d = json_number_value(v);
		if (!isfinite(d))
			return jerr(r, "a number that is not finite");
		out->type = SEGMENT_NUMBER;
		out->num = d;
		out->text = number_text(d);
	} else if (json_is_object(v) && json_is_string(json_object_get(v, "date")) &&
	           json_object_size(v) == 1) {
		const json_t *d = json_object_get(v, "date");
		if (!segment_time(json_string_value(d), json_string_length(d), &out->time,
		                  &out->day))
			return jerr(r, "\"%.40s\" is not a date", json_string_value(d));
		out->type = SEGMENT_DATE;
		out->text = date_text(out->time, out->day);
	} else {
		return jerr(r, "a value is a string, a number or {\"date\": \"YYYY-MM-DD\"}");
	}
	if (text_op) {
		/* contains and starts_with look for text: a number's or date's as written. */
		out->type = SEGMENT_STRING;
	}
	return 0;
}

static int jnode(struct jreader *r, const json_t *j, int depth, struct segment_node **out);

/* jkids - an and/or array into n */
static int
jkids(struct jreader *r, const json_t *a, int depth, struct segment_node *n)
{
	if (!json_is_array(a) || json_array_size(a) == 0)
		return jerr(r, "\"and\" and \"or\" take a non-empty array of conditions");
	size_t plen = strlen(r->path);
	for (size_t i = 0; i < json_array_size(a); i++) {
		snprintf(r->path + plen, sizeof(r->path) - plen, "[%zu]", i);
		struct segment_node *kid;
		if (jnode(r, json_array_get(a, i), depth + 1, &kid) < 0)
			return -1;
		segment_add_kid(n, kid);
	}
	r->path[plen] = '\0';
	return 0;
}

static int
jnode(struct jreader *r, const json_t *j, int depth, struct segment_node **out)
{
	if (depth > SEGMENT_DEPTH_MAX)
		return jerr(r, "nested more than %d deep", SEGMENT_DEPTH_MAX);
	if (++r->nodes > SEGMENT_NODES_MAX)
		return jerr(r, "more than %d conditions and operators", SEGMENT_NODES_MAX);
	if (!json_is_object(j))
		return jerr(r, "a condition is a JSON object");
	size_t plen = strlen(r->path);
	struct segment_node *n = NULL;
	const json_t *v;
	const char *key = NULL;
	static const char *const forms[] = {"and",  "or",  "not",     "attr",
	                                    "list", "tag", "segment", "event"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]) && key == NULL; i++)
		if (json_object_get(j, forms[i]))
			key = forms[i];
	if (key == NULL)
		return jerr(r, "a condition has one of \"and\", \"or\", \"not\", \"attr\", "
		               "\"list\", \"tag\", \"segment\", \"event\"");
	snprintf(r->path + plen, sizeof(r->path) - plen, "%s%s", plen ? "." : "", key);
	size_t want = 1;
	if (strcmp(key, "and") == 0 || strcmp(key, "or") == 0) {
		n = segment_new(key[0] == 'a' ? SEGMENT_AND : SEGMENT_OR);
		if (jkids(r, json_object_get(j, key), depth, n) < 0)
			goto fail;
		if (n->nkids == 1) {
			/* One condition joined with nothing is that condition. */
			struct segment_node *only = n->kids[0];
			n->nkids = 0;
			segment_free(n);
			n = only;
		}
	} else if (strcmp(key, "not") == 0) {
		n = segment_new(SEGMENT_NOT);
		struct segment_node *kid;
		if (jnode(r, json_object_get(j, "not"), depth + 1, &kid) < 0)
			goto fail;
		segment_add_kid(n, kid);
	} else if (strcmp(key, "attr") == 0) {
		n = segment_new(SEGMENT_CMP);
		want = 2;
		if (jstring(r, j, "attr", SEGMENT_NAME_MAX, &n->name) < 0)
			goto fail;
		if (strchr(n->name, '"')) {
			jerr(r, "an attribute name cannot hold '\"'");
			goto fail;
		}
		const char *op = json_string_value(json_object_get(j, "op"));
		if (op == NULL) {
			jerr(r, "\"op\" must be a string");
			goto fail;
		}
		if (strcmp(op, "in") == 0 || strcmp(op, "not in") == 0) {
			n->type = SEGMENT_IN;
			n->negated = op[0] == 'n';
			want = 3;
			v = json_object_get(j, "values");
			if (!json_is_array(v) || json_array_size(v) == 0 ||
			    json_array_size(v) > SEGMENT_VALUES_MAX) {
				jerr(r, "\"values\" must be an array of 1 to %d values",
				     SEGMENT_VALUES_MAX);
				goto fail;
			}
			for (size_t i = 0; i < json_array_size(v); i++) {
				struct segment_value x;
				if (jvalue(r, json_array_get(v, i), -1, &x) < 0)
					goto fail;
				add_value(n, &x);
			}
		} else if (strcmp(op, "is empty") == 0 || strcmp(op, "is not empty") == 0) {
			n->type = SEGMENT_EMPTY;
			n->negated = op[3] == 'n';
		} else {
			size_t k = 0;
			while (k < NOPS && strcmp(op, op_names[k]) != 0)
				k++;
			if (k == NOPS) {
				jerr(r,
				     "unknown \"op\" \"%.40s\" (=, !=, <, <=, >, >=, contains, "
				     "starts_with, in, not in, is empty, is not empty)",
				     op);
				goto fail;
			}
			n->op = (enum segment_op)k;
			want = 3;
			struct segment_value x;
			if ((v = json_object_get(j, "value")) == NULL) {
				jerr(r, "\"value\" is missing");
				goto fail;
			}
			if (jvalue(r, v, (int)k, &x) < 0)
				goto fail;
			add_value(n, &x);
		}
	} else if (strcmp(key, "event") == 0) {
		n = segment_new(SEGMENT_EVENT);
		const char *e = json_string_value(json_object_get(j, "event"));
		size_t k = 0;
		while (e && k < NEVENTS && strcmp(e, event_names[k]) != 0)
			k++;
		if (e == NULL || k == NEVENTS) {
			jerr(r, "\"event\" is one of sent, delivered, bounced, opened, clicked, "
			        "unsubscribed, complained");
			goto fail;
		}
		n->event = (enum segment_event)k;
		v = json_object_get(j, "campaign");
		if (v == NULL) {
			jerr(r, "\"campaign\" is missing (a name, or null for any campaign)");
			goto fail;
		}
		want = 2;
		if (!json_is_null(v) && jstring(r, j, "campaign", SEGMENT_NAME_MAX, &n->name) < 0)
			goto fail;
		if ((v = json_object_get(j, "days")) != NULL) {
			want++;
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > SEGMENT_DAYS_MAX) {
				jerr(r, "\"days\" is a whole number from 1 to %d",
				     SEGMENT_DAYS_MAX);
				goto fail;
			}
			n->days = (int)json_integer_value(v);
		}
		if ((v = json_object_get(j, "class")) != NULL) {
			want++;
			const char *c = json_string_value(v);
			if (n->event != SEGMENT_BOUNCED || c == NULL ||
			    (strcmp(c, "hard") != 0 && strcmp(c, "soft") != 0)) {
				jerr(r, "\"class\" (hard or soft) is for bounced only");
				goto fail;
			}
			n->klass = c[0] == 'h' ? SEGMENT_CLASS_HARD : SEGMENT_CLASS_SOFT;
		}
	} else {
		n = segment_new(key[0] == 'l'   ? SEGMENT_LIST
		                : key[0] == 't' ? SEGMENT_TAG
		                                : SEGMENT_SEGMENT);
		if (jstring(r, j, key, SEGMENT_NAME_MAX, &n->name) < 0)
			goto fail;
	}
	if (json_object_size(j) != want) {
		jerr(r, "unexpected members beside \"%s\"", key);
		goto fail;
	}
	r->path[plen] = '\0';
	*out = n;
	return 0;
fail:
	segment_free(n);
	return -1;
}

int
segment_from_json(const json_t *j, struct segment_node **out, char *err, size_t errsz)
{
	struct jreader r = {.err = err, .errsz = errsz};
	return jnode(&r, j, 0, out);
}

/* ---- SQL -------------------------------------------------------------------------------- */

struct compiler {
	struct segment_sql *out;
	int64_t now;
	segment_resolve_cb resolve;
	void *arg;
	const char *stack[SEGMENT_REF_DEPTH + 1]; /* the segments being compiled, outermost first */
	int nstack;
	/* The node being compiled is under ANDs only, up to a WHERE (segment_sql.where): false
	 * may be left NULL there. */
	bool conjunct;
	char *err;
	size_t errsz;
};

static int
param(struct compiler *c, struct segment_param p)
{
	struct segment_sql *o = c->out;
	o->params = xrealloc(o->params, (o->nparams + 1) * sizeof(*o->params));
	o->params[o->nparams++] = p;
	return o->base + (int)o->nparams;
}

static int
param_text(struct compiler *c, const char *s)
{
	return param(c, (struct segment_param){.type = SEGMENT_P_TEXT, .text = xstrdup(s)});
}

static int
param_int(struct compiler *c, int64_t v)
{
	return param(c, (struct segment_param){.type = SEGMENT_P_INT, .i = v});
}

static int
param_real(struct compiler *c, double v)
{
	return param(c, (struct segment_param){.type = SEGMENT_P_REAL, .r = v});
}

/*
 * attr - json_extract of the attribute: its path is a parameter too ($."NAME"). On
 * PostgreSQL (segment_sql.pg) its name is: as text (byte order, as SQLite's lower() folds
 * ASCII only) for a text condition, else as jsonb; pg_temp.kirim_text, kirim_number and
 * kirim_time (store_segment.c) read a number, a boolean and a string as SQLite's.
 */
static void
attr_as(struct compiler *c, const char *name, bool text)
{
	if (c->out->pg) {
		buf_printf(
		    &c->out->sql,
		    text ? "(pg_temp.kirim_text(c.attrs::jsonb -> CAST(?%d AS TEXT)) COLLATE \"C\")"
		         : "(c.attrs::jsonb -> CAST(?%d AS TEXT))",
		    param_text(c, name));
		return;
	}
	struct buf path = BUF_INIT;
	/* The parser refuses '"' in a name, so the quoted label is the whole name. */
	buf_printf(&path, "$.\"%s\"", name);
	buf_printf(&c->out->sql, "json_extract(c.attrs, ?%d)", param_text(c, path.data));
	buf_free(&path);
}

static void
attr(struct compiler *c, const char *name)
{
	attr_as(c, name, true);
}

/* FALSE - what a condition that matched nothing is: 0 in SQLite, false in PostgreSQL */
#define FALSE(c) ((c)->out->pg ? "false" : "0")
/* NUMBER, TIME - the functions an attribute is read by as a number, a date */
#define NUMBER(c) ((c)->out->pg ? "pg_temp.kirim_number(" : "kirim_number(")
#define TIME(c) ((c)->out->pg ? "pg_temp.kirim_time(" : "kirim_time(")

/* text - text parameter k as lower() reads it: in byte order on PostgreSQL too */
static const char *
text(struct compiler *c, int k)
{
	static char ref[48];
	snprintf(ref, sizeof(ref), c->out->pg ? "(CAST(?%d AS TEXT) COLLATE \"C\")" : "?%d", k);
	return ref;
}

/*
 * indexable - the attribute's text as segment_index_expr has it, for a text = or in that
 * may be NULL for false: an index on the attribute serves it (its path written out, where
 * attr binds it, since SQLite matches an index's expression word for word)
 */
static bool
indexable(struct compiler *c, const char *name)
{
	if (!c->conjunct || c->out->pg)
		return false; /* PostgreSQL: no attribute indexes (yet) */
	segment_index_expr(&c->out->sql, "c.attrs", name);
	return true;
}

/* date_cmp - the attribute's date against v with op (a day stands for all of it) */
static void
date_cmp(struct compiler *c, const char *name, enum segment_op op, const struct segment_value *v)
{
	struct buf *b = &c->out->sql;
	int64_t lo = v->time, hi = v->day ? v->time + 86399 : v->time;
	buf_adds(b, "coalesce(");
	buf_adds(b, TIME(c));
	attr_as(c, name, false);
	switch (op) {
	case SEGMENT_EQ:
	case SEGMENT_NE:
		if (lo == hi) {
			buf_printf(b, ") = ?%d, %s)", param_int(c, lo), FALSE(c));
		} else {
			/* One after the other: the order of a call's arguments is unspecified. */
			int klo = param_int(c, lo), khi = param_int(c, hi);
			buf_printf(b, ") BETWEEN ?%d AND ?%d, %s)", klo, khi, FALSE(c));
		}
		break;
	case SEGMENT_LT:
		buf_printf(b, ") < ?%d, %s)", param_int(c, lo), FALSE(c));
		break;
	case SEGMENT_LE:
		buf_printf(b, ") <= ?%d, %s)", param_int(c, hi), FALSE(c));
		break;
	case SEGMENT_GT:
		buf_printf(b, ") > ?%d, %s)", param_int(c, hi), FALSE(c));
		break;
	case SEGMENT_GE:
		buf_printf(b, ") >= ?%d, %s)", param_int(c, lo), FALSE(c));
		break;
	default:
		break;
	}
}

/* cmp - one attribute condition, 0 or 1 */
static void
cmp(struct compiler *c, const struct segment_node *n)
{
	struct buf *b = &c->out->sql;
	const struct segment_value *v = &n->vals[0];
	enum segment_op op = n->op;
	bool negate = op == SEGMENT_NE;
	if (negate) {
		op = SEGMENT_EQ;
		buf_adds(b, "NOT ");
	}
	if (op == SEGMENT_CONTAINS) {
		/* Text compares case-insensitively (ASCII letters, as addresses do). */
		buf_adds(b, c->out->pg ? "coalesce(strpos(lower(" : "coalesce(instr(lower(");
		attr(c, n->name);
		int k = param_text(c, v->text);
		buf_printf(b, "), lower(%s)) > 0, %s)", text(c, k), FALSE(c));
	} else if (op == SEGMENT_STARTS_WITH) {
		buf_adds(b, "coalesce(substr(lower(");
		attr(c, n->name);
		int k = param_text(c, v->text);
		buf_printf(b, "), 1, length(?%d)) = ", k);
		buf_printf(b, "lower(%s), %s)", text(c, k), FALSE(c));
	} else if (v->type == SEGMENT_STRING && !negate && indexable(c, n->name)) {
		buf_printf(b, " = lower(?%d)", param_text(c, v->text));
	} else if (v->type == SEGMENT_STRING) {
		buf_adds(b, "coalesce(lower(");
		attr(c, n->name);
		buf_printf(b, ") = lower(%s), %s)", text(c, param_text(c, v->text)), FALSE(c));
	} else if (v->type == SEGMENT_NUMBER) {
		buf_adds(b, "coalesce(");
		buf_adds(b, NUMBER(c));
		attr_as(c, n->name, false);
		buf_printf(b, ") %s ?%d, %s)", op == SEGMENT_EQ ? "=" : op_names[op],
		           param_real(c, v->num), FALSE(c));
	} else {
		date_cmp(c, n->name, op, v);
	}
}

/* in - attribute in (values): strings, numbers and dates each compare as their kind */
static void
in(struct compiler *c, const struct segment_node *n)
{
	struct buf *b = &c->out->sql;
	bool first = true;
	size_t texts = 0;
	for (size_t i = 0; i < n->nvals; i++)
		texts += n->vals[i].type == SEGMENT_STRING;
	if (!n->negated && texts == n->nvals && indexable(c, n->name)) {
		buf_adds(b, " IN (");
		for (size_t i = 0; i < n->nvals; i++)
			buf_printf(b, "%slower(?%d)", i ? ", " : "",
			           param_text(c, n->vals[i].text));
		buf_addc(b, ')');
		return;
	}
	if (n->negated)
		buf_adds(b, "NOT ");
	buf_addc(b, '(');
	for (int kind = SEGMENT_STRING; kind <= SEGMENT_NUMBER; kind++) {
		size_t count = 0;
		for (size_t i = 0; i < n->nvals; i++)
			count += n->vals[i].type == (enum segment_vtype)kind;
		if (count == 0)
			continue;
		buf_adds(b, first ? "" : " OR ");
		first = false;
		buf_adds(b, kind == SEGMENT_STRING ? "coalesce(lower(" : "coalesce(");
		if (kind != SEGMENT_STRING)
			buf_adds(b, NUMBER(c));
		attr_as(c, n->name, kind == SEGMENT_STRING);
		buf_adds(b, ") IN (");
		size_t k = 0;
		for (size_t i = 0; i < n->nvals; i++) {
			const struct segment_value *v = &n->vals[i];
			if (v->type != (enum segment_vtype)kind)
				continue;
			if (k++)
				buf_adds(b, ", ");
			if (kind == SEGMENT_STRING)
				buf_printf(b, "lower(%s)", text(c, param_text(c, v->text)));
			else
				buf_printf(b, "?%d", param_real(c, v->num));
		}
		buf_printf(b, "), %s)", FALSE(c));
	}
	for (size_t i = 0; i < n->nvals; i++) {
		if (n->vals[i].type != SEGMENT_DATE)
			continue;
		buf_adds(b, first ? "" : " OR ");
		first = false;
		date_cmp(c, n->name, SEGMENT_EQ, &n->vals[i]);
	}
	buf_addc(b, ')');
}

/* The event types each engagement function counts. */
static const char *const event_sql[] = {
    [SEGMENT_SENT] = "e.type IN ('delivered', 'deferred', 'bounced', 'failed')",
    [SEGMENT_DELIVERED] = "e.type = 'delivered'",
    [SEGMENT_BOUNCED] = "e.type = 'bounced'",
    /* A prefetcher's open ({"machine": true}) is no sign of a reader; reports agree. */
    [SEGMENT_OPENED] = "e.type = 'open' AND (e.detail IS NULL OR"
                       " json_extract(e.detail, '$.machine') IS NOT 1)",
    [SEGMENT_CLICKED] = "e.type = 'click'",
    [SEGMENT_UNSUBSCRIBED] = "e.type = 'unsubscribe'",
    [SEGMENT_COMPLAINED] = "e.type = 'complaint'",
};

/* PostgreSQL's opened: the same machine test on the detail's jsonb (true and 1 both) */
#define OPENED_PG                                                                                  \
	"e.type = 'open' AND (e.detail IS NULL OR coalesce((e.detail::jsonb -> 'machine')"         \
	" NOT IN ('true', '1'), true))"

static void
event(struct compiler *c, const struct segment_node *n)
{
	struct buf *b = &c->out->sql;
	const char *what =
	    c->out->pg && n->event == SEGMENT_OPENED ? OPENED_PG : event_sql[n->event];
	/*
	 * One campaign: its messages (by campaign_id), then each one's events
	 * (events_message covers message_id, type, ts). Any campaign: the events of the
	 * type since the date (events_type_ts covers type, ts, message_id), then their
	 * messages by key. Either way a set of contact ids, made once per query.
	 */
	if (n->name && c->out->probe)
		buf_printf(b,
		           "EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id ="
		           " (SELECT id FROM campaigns WHERE name = ?%d) AND m.contact_id = c.id"
		           " AND EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.id AND %s",
		           param_text(c, n->name), what);
	else if (n->name)
		buf_printf(b,
		           "c.id IN (SELECT m.contact_id FROM messages m WHERE m.campaign_id ="
		           " (SELECT id FROM campaigns WHERE name = ?%d) AND EXISTS (SELECT 1"
		           " FROM events e WHERE e.message_id = m.id AND %s",
		           param_text(c, n->name), what);
	else
		buf_printf(b,
		           "c.id IN (SELECT m.contact_id FROM events e %s messages m"
		           " ON m.id = e.message_id WHERE %s",
		           c->out->pg ? "JOIN" : "CROSS JOIN", what);
	if (n->days)
		buf_printf(b, " AND e.ts >= ?%d", param_int(c, c->now - (int64_t)n->days * 86400));
	if (n->klass != SEGMENT_CLASS_ANY)
		buf_printf(b, " AND e.class = ?%d",
		           param_text(c, n->klass == SEGMENT_CLASS_HARD ? "hard" : "soft"));
	buf_adds(b, n->name ? "))" : ")");
}

static int compile(struct compiler *c, const struct segment_node *n);

/* segment_ref - segment("name"): its own tree, compiled in place */
static int
segment_ref(struct compiler *c, const struct segment_node *n)
{
	for (int i = 0; i < c->nstack; i++) {
		if (strcmp(c->stack[i], n->name) != 0)
			continue;
		struct buf loop = BUF_INIT;
		for (int k = i; k < c->nstack; k++)
			buf_printf(&loop, "'%s' -> ", c->stack[k]);
		buf_printf(&loop, "'%s'", n->name);
		snprintf(c->err, c->errsz, "segment '%s' refers to itself: %s", n->name, loop.data);
		buf_free(&loop);
		return -1;
	}
	if (c->nstack == SEGMENT_REF_DEPTH) {
		snprintf(c->err, c->errsz, "segments refer to segments more than %d deep",
		         SEGMENT_REF_DEPTH);
		return -1;
	}
	if (c->resolve == NULL) {
		snprintf(c->err, c->errsz, "segment('%s'): segments cannot be referred to here",
		         n->name);
		return -1;
	}
	struct segment_node *t = NULL;
	int rc = c->resolve(c->arg, n->name, &t, c->err, c->errsz);
	if (rc != 0)
		return rc < 0 ? rc : -1;
	c->stack[c->nstack++] = n->name;
	buf_addc(&c->out->sql, '(');
	rc = compile(c, t);
	buf_addc(&c->out->sql, ')');
	c->nstack--;
	segment_free(t);
	return rc;
}

static int
compile(struct compiler *c, const struct segment_node *n)
{
	struct buf *b = &c->out->sql;
	int rc = 0;
	bool conjunct = c->conjunct;
	switch (n->type) {
	case SEGMENT_AND:
	case SEGMENT_OR:
		buf_addc(b, '(');
		c->conjunct = conjunct && n->type == SEGMENT_AND;
		for (size_t i = 0; i < n->nkids && rc == 0; i++) {
			if (i)
				buf_adds(b, n->type == SEGMENT_AND ? " AND " : " OR ");
			rc = compile(c, n->kids[i]);
		}
		c->conjunct = conjunct;
		buf_addc(b, ')');
		return rc;
	case SEGMENT_NOT:
		buf_adds(b, "NOT (");
		c->conjunct = false;
		rc = compile(c, n->kids[0]);
		c->conjunct = conjunct;
		buf_addc(b, ')');
		return rc;
	case SEGMENT_CMP:
		cmp(c, n);
		return 0;
	case SEGMENT_IN:
		in(c, n);
		return 0;
	case SEGMENT_EMPTY:
		/* Absent, null and "" are empty; the importer stores no empty cells at all. */
		buf_adds(b, n->negated ? "coalesce(" : "NOT coalesce(");
		attr(c, n->name);
		buf_adds(b, ", '') <> ''");
		return 0;
	case SEGMENT_LIST:
		/* Its confirmed members: a signup waiting for its confirmation link is not on a
		 * list yet for anything that mails (schema 009). */
		buf_printf(b,
		           c->out->probe
		               ? "EXISTS (SELECT 1 FROM list_members lm JOIN lists l ON l.id ="
		                 " lm.list_id WHERE l.name = ?%d AND lm.contact_id = c.id"
		                 " AND lm.status = 'confirmed')"
		               : "c.id IN (SELECT lm.contact_id FROM list_members lm JOIN lists l"
		                 " ON l.id = lm.list_id WHERE l.name = ?%d AND lm.status ="
		                 " 'confirmed')",
		           param_text(c, n->name));
		return 0;
	case SEGMENT_TAG:
		buf_printf(b,
		           c->out->probe
		               ? "EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.tag = ?%d"
		                 " AND ct.contact_id = c.id)"
		               : "c.id IN (SELECT ct.contact_id FROM contact_tags ct WHERE"
		                 " ct.tag = ?%d)",
		           param_text(c, n->name));
		return 0;
	case SEGMENT_SEGMENT:
		return segment_ref(c, n);
	case SEGMENT_EVENT:
		event(c, n);
		return 0;
	}
	return 0;
}

int
segment_compile(const struct segment_node *n, int64_t now, segment_resolve_cb resolve, void *arg,
                struct segment_sql *out, char *err, size_t errsz)
{
	struct compiler c = {.out = out,
	                     .now = now,
	                     .resolve = resolve,
	                     .arg = arg,
	                     .conjunct = out->where,
	                     .err = err,
	                     .errsz = errsz};
	int rc = compile(&c, n);
	if (rc < 0) {
		segment_sql_free(out);
		return rc;
	}
	return 0;
}

void
segment_index_expr(struct buf *out, const char *column, const char *name)
{
	buf_printf(out, "lower(json_extract(%s, '$.\"", column);
	/* The parser refuses '"' in a name; a quote is doubled in SQL's string. */
	for (const char *p = name; *p; p++) {
		if (*p == '\'')
			buf_addc(out, '\'');
		buf_addc(out, *p);
	}
	buf_adds(out, "\"'))");
}

void
segment_sql_free(struct segment_sql *s)
{
	for (size_t i = 0; i < s->nparams; i++)
		free(s->params[i].text);
	free(s->params);
	s->params = NULL;
	s->nparams = 0;
	buf_free(&s->sql);
}

/* ---- campaign audiences ----------------------------------------------------------------- */

const char *
segment_part_name(enum segment_part_kind k)
{
	static const char *const names[] = {
	    [SEGMENT_PART_LIST] = "list",
	    [SEGMENT_PART_SEGMENT] = "segment",
	    [SEGMENT_PART_EXCLUDE_LIST] = "exclude-list",
	    [SEGMENT_PART_EXCLUDE_SEGMENT] = "exclude-segment",
	    [SEGMENT_PART_NOT_SENT_BY] = "not-sent-by",
	    [SEGMENT_PART_NOT_OPENED] = "not-opened",
	    [SEGMENT_PART_NOT_CLICKED] = "not-clicked",
	};
	return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static struct segment_node *
named(enum segment_type type, const char *name)
{
	struct segment_node *n = segment_new(type);
	n->name = xstrdup(name);
	return n;
}

static struct segment_node *
campaign_event(enum segment_event e, const char *campaign)
{
	struct segment_node *n = named(SEGMENT_EVENT, campaign);
	n->event = e;
	return n;
}

static struct segment_node *
negate(struct segment_node *kid)
{
	struct segment_node *n = segment_new(SEGMENT_NOT);
	segment_add_kid(n, kid);
	return n;
}

struct segment_node *
segment_audience(const struct segment_part *parts, size_t n)
{
	struct segment_node *in = segment_new(SEGMENT_OR), *all = segment_new(SEGMENT_AND);
	for (size_t i = 0; i < n; i++)
		if (SEGMENT_PART_INCLUDES(parts[i].kind))
			segment_add_kid(in,
			                named(parts[i].kind == SEGMENT_PART_LIST ? SEGMENT_LIST
			                                                         : SEGMENT_SEGMENT,
			                      parts[i].name));
	if (in->nkids == 0) {
		segment_free(in);
		segment_free(all);
		return NULL;
	}
	if (in->nkids == 1) {
		segment_add_kid(all, in->kids[0]);
		in->nkids = 0;
		segment_free(in);
	} else {
		segment_add_kid(all, in);
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = parts[i].name;
		switch (parts[i].kind) {
		case SEGMENT_PART_EXCLUDE_LIST:
			segment_add_kid(all, negate(named(SEGMENT_LIST, name)));
			break;
		case SEGMENT_PART_EXCLUDE_SEGMENT:
			segment_add_kid(all, negate(named(SEGMENT_SEGMENT, name)));
			break;
		case SEGMENT_PART_NOT_SENT_BY:
			segment_add_kid(all, negate(campaign_event(SEGMENT_DELIVERED, name)));
			break;
		case SEGMENT_PART_NOT_OPENED:
		case SEGMENT_PART_NOT_CLICKED:
			segment_add_kid(all, campaign_event(SEGMENT_DELIVERED, name));
			segment_add_kid(
			    all, negate(campaign_event(parts[i].kind == SEGMENT_PART_NOT_OPENED
			                                   ? SEGMENT_OPENED
			                                   : SEGMENT_CLICKED,
			                               name)));
			break;
		default:
			break;
		}
	}
	if (all->nkids == 1) {
		struct segment_node *only = all->kids[0];
		all->nkids = 0;
		segment_free(all);
		return only;
	}
	return all;
}
