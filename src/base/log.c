/* log - logfmt lines on stderr or syslog (see log.h). */
#include "kirim/log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <wchar.h>

static enum log_level log_level = LOG_WARN;
static bool log_syslog;

void
log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = true;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

/* ---- writing into a bounded line ------------------------------------------------------ */

/* Text going into a fixed buffer: once something does not fit, nothing more goes in. */
struct line {
	char *p;
	size_t cap; /* bytes of text it may hold (its size less the NUL) */
	size_t n;
	bool full;
};

static void
put(struct line *l, const char *s, size_t n)
{
	if (l->full)
		return;
	if (n > l->cap - l->n) {
		n = l->cap - l->n;
		l->full = true;
	}
	memcpy(l->p + l->n, s, n);
	l->n += n;
}

/* escape_quoted - byte c as it goes inside a quoted value, into e; its length (1 to 4) */
static size_t
escape_quoted(unsigned char c, char e[5])
{
	switch (c) {
	case '"':
	case '\\':
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	case '\n':
		memcpy(e, "\\n", 2);
		return 2;
	case '\r':
		memcpy(e, "\\r", 2);
		return 2;
	case '\t':
		memcpy(e, "\\t", 2);
		return 2;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(e, 5, "\\x%02x", c);
		return 4;
	}
	e[0] = (char)c;
	return 1;
}

/* escape_text - byte c as it goes into free text (outside any value): what would start a
 * pair or a quoted string there ('=', '"') is written as \xNN too */
static size_t
escape_text(unsigned char c, char e[5])
{
	if (c == '=' || c == '"') {
		snprintf(e, 5, "\\x%02x", c);
		return 4;
	}
	return escape_quoted(c, e);
}

static void
put_text(struct line *l, const char *s, size_t n)
{
	char e[5];
	for (size_t i = 0; i < n && !l->full; i++)
		put(l, e, escape_text((unsigned char)s[i], e));
}

/* needs_quotes - a bare value cannot hold a space, '=', '"' or a control character */
static bool
needs_quotes(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ' || c == '=' || c == '"' || c == 0x7f)
			return true;
	}
	return false;
}

/* put_value - v as one value: bare when it can be (or quote is false and it must not be
 * quoted), else quoted and escaped; a value the cap cuts keeps its closing quote */
static void
put_value(struct line *l, const char *v, size_t n, bool quote)
{
	if (l->full)
		return;
	if (!quote && !needs_quotes(v, n)) {
		put(l, v, n);
		return;
	}
	if (l->cap - l->n < 2) {
		l->full = true; /* "key=" alone: an empty value */
		return;
	}
	l->p[l->n++] = '"';
	size_t room = l->cap - l->n - 1; /* the closing quote's byte stays free */
	for (size_t i = 0; i < n; i++) {
		char e[5];
		size_t k = escape_quoted((unsigned char)v[i], e);
		if (k > room) {
			l->full = true;
			break;
		}
		memcpy(l->p + l->n, e, k);
		l->n += k;
		room -= k;
	}
	l->p[l->n++] = '"';
}

/* ---- the format walk ------------------------------------------------------------------ */

/*
 * Where the walk stands in the format: in free text (keys and words), in a bare value
 * (after "key=", up to the format's next space) or in a quoted one (after key=", up to
 * the format's closing quote). A value, literal text and arguments alike, is gathered in
 * val and written whole when it ends, so that a bare one can still be quoted.
 */
enum where { IN_TEXT, IN_VALUE, IN_QUOTED };

struct walk {
	struct line *l;
	enum where at;
	struct line val;
	char vbuf[LOG_LINE_MAX];
};

/* emit - text an argument gave, as its place asks */
static void
emit(struct walk *w, const char *s, size_t n)
{
	if (w->at == IN_TEXT)
		put_text(w->l, s, n);
	else
		put(&w->val, s, n);
}

static void
value_begin(struct walk *w, enum where at)
{
	w->at = at;
	w->val = (struct line){.p = w->vbuf, .cap = sizeof(w->vbuf)};
}

static void
value_end(struct walk *w)
{
	put_value(w->l, w->val.p, w->val.n, w->at == IN_QUOTED);
	w->at = IN_TEXT;
}

/* emit_str - a %s: n bytes of s, padded to width with spaces */
static void
emit_str(struct walk *w, const char *s, int width, int prec, bool left)
{
	static const char spaces[] = "                ";
	size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
	size_t pad = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
	if (left)
		emit(w, s, n);
	for (size_t k; pad; pad -= k) {
		k = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;
		emit(w, spaces, k);
	}
	if (!left)
		emit(w, s, n);
}

enum length { L_NONE, L_HH, L_H, L_L, L_LL, L_J, L_Z, L_T, L_LD };

/* The format of one conversion is built at run time from a literal that -Wformat checked. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/*
 * conversion - the conversion whose text starts at f (just past its '%'): take its
 * arguments from ap, write what printf would, as its place asks; returns where the
 * format goes on. %s and glibc's %m are written here (no length limit); the others
 * through snprintf, one at a time.
 */
static const char *
conversion(struct walk *w, const char *f, va_list *ap, int saved_errno)
{
	char spec[48];
	size_t sn = 0;
	bool left = false;
	spec[sn++] = '%';
	while (*f && strchr("-+ #0'I", *f)) {
		left |= *f == '-';
		if (sn < 16)
			spec[sn++] = *f;
		f++;
	}
	int width = -1, prec = -1, wv = 0, pv = 0;
	bool wstar = false, pstar = false;
	if (*f == '*') {
		wstar = true;
		wv = width = va_arg(*ap, int);
		if (width < 0) {
			left = true;
			width = width == INT_MIN ? 0 : -width;
		}
		spec[sn++] = *f++;
	} else {
		for (width = 0; *f >= '0' && *f <= '9'; f++) {
			width = width < 100000 ? width * 10 + (*f - '0') : width;
			if (sn < 28)
				spec[sn++] = *f;
		}
	}
	if (*f == '.') {
		spec[sn++] = *f++;
		if (*f == '*') {
			pstar = true;
			pv = prec = va_arg(*ap, int);
			spec[sn++] = *f++;
		} else {
			for (prec = 0; *f >= '0' && *f <= '9'; f++) {
				prec = prec < 100000 ? prec * 10 + (*f - '0') : prec;
				if (sn < 40)
					spec[sn++] = *f;
			}
		}
	}
	enum length len = L_NONE;
	int lk = 1; /* the length modifier's bytes */
	if (f[0] == 'h' && f[1] == 'h')
		len = L_HH, lk = 2;
	else if (f[0] == 'h')
		len = L_H;
	else if (f[0] == 'l' && f[1] == 'l')
		len = L_LL, lk = 2;
	else if (f[0] == 'l')
		len = L_L;
	else if (f[0] == 'q')
		len = L_LL;
	else if (f[0] == 'j')
		len = L_J;
	else if (f[0] == 'z' || f[0] == 'Z')
		len = L_Z;
	else if (f[0] == 't')
		len = L_T;
	else if (f[0] == 'L')
		len = L_LD;
	else
		lk = 0;
	for (; lk > 0; lk--)
		spec[sn++] = *f++;
	char conv = *f;
	if (conv == '\0') {
		emit(w, spec, sn); /* a format cut after its '%': written as it is */
		return f;
	}
	spec[sn++] = conv;
	spec[sn] = '\0';
	f++;

	char tmp[512];
	int k = -1;
#define ONE(T)                                                                                     \
	do {                                                                                       \
		T v_ = va_arg(*ap, T);                                                             \
		k = wstar && pstar ? snprintf(tmp, sizeof(tmp), spec, wv, pv, v_)                  \
		    : wstar        ? snprintf(tmp, sizeof(tmp), spec, wv, v_)                      \
		    : pstar        ? snprintf(tmp, sizeof(tmp), spec, pv, v_)                      \
		                   : snprintf(tmp, sizeof(tmp), spec, v_);                                \
	} while (0)
	switch (conv) {
	case 's':
		if (len == L_L) {
			ONE(const wchar_t *);
		} else {
			const char *s = va_arg(*ap, const char *);
			emit_str(w, s ? s : "(null)", width, prec, left);
		}
		break;
	case 'm':
		emit_str(w, strerror(saved_errno), width, prec, left);
		break;
	case 'c':
		if (len == L_L)
			ONE(wint_t);
		else
			ONE(int);
		break;
	case 'd':
	case 'i':
		switch (len) {
		case L_L:
			ONE(long);
			break;
		case L_LL:
			ONE(long long);
			break;
		case L_J:
			ONE(intmax_t);
			break;
		case L_Z:
			ONE(ptrdiff_t); /* the signed type of size_t's width */
			break;
		case L_T:
			ONE(ptrdiff_t);
			break;
		default:
			ONE(int);
			break;
		}
		break;
	case 'o':
	case 'u':
	case 'x':
	case 'X':
		switch (len) {
		case L_L:
			ONE(unsigned long);
			break;
		case L_LL:
			ONE(unsigned long long);
			break;
		case L_J:
			ONE(uintmax_t);
			break;
		case L_Z:
			ONE(size_t);
			break;
		case L_T:
			ONE(size_t); /* the unsigned type of ptrdiff_t's width */
			break;
		default:
			ONE(unsigned);
			break;
		}
		break;
	case 'e':
	case 'E':
	case 'f':
	case 'F':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (len == L_LD)
			ONE(long double);
		else
			ONE(double);
		break;
	case 'p':
		ONE(void *);
		break;
	case 'n':
		(void)va_arg(*ap, void *); /* a count nobody logs: nothing written */
		break;
	default:
		emit(w, spec, sn); /* not a conversion: written as it is, no argument taken */
		break;
	}
#undef ONE
	if (k > 0)
		emit(w, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
	return f;
}

size_t
log_vformat(char *out, size_t size, const char *fmt, va_list ap)
{
	if (size == 0)
		return 0;
	int saved_errno = errno;
	struct line l = {.p = out, .cap = size - 1};
	struct walk w; /* not zeroed: val's buffer is set before it is read */
	w.l = &l;
	w.at = IN_TEXT;
	va_list aq;
	va_copy(aq, ap);
	const char *f = fmt;
	while (*f && !l.full) {
		if (f[0] == '%' && f[1] != '%') {
			f = conversion(&w, f + 1, &aq, saved_errno);
			continue;
		}
		bool percent = f[0] == '%'; /* "%%": a literal '%' */
		unsigned char c = percent ? '%' : (unsigned char)f[0];
		size_t step = percent ? 2 : 1;
		char e[5];
		switch (w.at) {
		case IN_TEXT:
			if (c == '=' && !percent) {
				put(&l, "=", 1);
				if (f[1] == '"') {
					step = 2;
					value_begin(&w, IN_QUOTED);
				} else {
					value_begin(&w, IN_VALUE);
				}
			} else if (c < 0x20 || c == 0x7f) {
				put(&l, e, escape_quoted(c, e)); /* a line stays one line */
			} else {
				put(&l, (const char *)&c, 1);
			}
			break;
		case IN_VALUE:
			if (c <= ' ') {
				value_end(&w);
				continue; /* the same byte again, as text */
			}
			put(&w.val, (const char *)&c, 1);
			break;
		case IN_QUOTED:
			if (c == '\\' && f[1]) {
				/* The format's own \" or \\: the byte itself. */
				put(&w.val, f + 1, 1);
				step = 2;
			} else if (c == '"' && !percent) {
				value_end(&w);
			} else {
				put(&w.val, (const char *)&c, 1);
			}
			break;
		}
		f += step;
	}
	if (w.at != IN_TEXT)
		value_end(&w);
	va_end(aq);
	out[l.n] = '\0';
	errno = saved_errno;
	return l.n;
}

size_t
log_format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_vformat(out, size, fmt, ap);
	va_end(ap);
	return n;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	if (level > log_level)
		return;
	int saved_errno = errno;
	char line[LOG_LINE_MAX + 1];
	size_t n;
	va_list ap;
	va_start(ap, fmt);
	if (log_syslog) {
		/* syslog stamps the time itself; the level maps to its priorities. */
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		n = (size_t)snprintf(line, sizeof(line), "level=%s ", names[level]);
		log_vformat(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		syslog(prio[level], "%s", line);
		errno = saved_errno;
		return;
	}
	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s ", ts,
	                     now.tv_nsec / 1000000, names[level]);
	/* One byte of line is kept for the newline. */
	n += log_vformat(line + n, sizeof(line) - 1 - n, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	flockfile(stderr);
	fwrite(line, 1, n, stderr);
	funlockfile(stderr);
	errno = saved_errno;
}
