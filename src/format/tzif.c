/* tzif - TZif files (RFC 8536) and POSIX TZ rules (see tzif.h). */
#include "kirim/tzif.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/when.h"
#include "kirim/xmalloc.h"

enum { HEADER_LEN = 44 };

/* A local time type. */
struct ttype {
	int32_t utoff;
	bool isdst;
	char abbr[TZIF_ABBR_MAX + 1];
};

/* One change date of a TZ rule, and the local time of day it happens at. */
struct rule_date {
	char kind;     /* 'J': day 1-365 without Feb 29; 'D': day 0-365; 'M': month rule */
	int day;       /* J, D */
	int mon, week; /* M: month 1-12, week 1-5 (5 = the last) */
	int wday;      /* M: 0 = Sunday */
	int32_t secs;  /* -167 h to 167 h (RFC 8536 3.3.1) */
};

/* A TZ string: standard time, and DST between start and end when has_dst. */
struct rule {
	struct ttype std, dst;
	bool has_dst;
	struct rule_date start, end; /* start: in standard time; end: in DST */
};

struct tzif {
	int version;
	size_t ntimes;
	int64_t *times; /* strictly ascending */
	uint8_t *idx;   /* times[i] starts type idx[i] */
	size_t ntypes;  /* >= 1 */
	struct ttype *types;
	bool has_rule; /* after the last transition (or always, without any) */
	struct rule rule;
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	if (err == NULL || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* ---- POSIX TZ strings ---- */

struct cursor {
	const char *p, *end;
};

static int
peek(const struct cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool
is_alpha(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static bool
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* rule_name - "CET" or "<+0530>": 3 to TZIF_ABBR_MAX characters */
static bool
rule_name(struct cursor *c, char out[TZIF_ABBR_MAX + 1])
{
	size_t n = 0;
	if (peek(c) == '<') {
		c->p++;
		while (peek(c) >= 0 && peek(c) != '>') {
			int ch = peek(c);
			if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-')
				return false;
			if (n == TZIF_ABBR_MAX)
				return false;
			out[n++] = (char)ch;
			c->p++;
		}
		if (peek(c) != '>')
			return false;
		c->p++;
	} else {
		while (is_alpha(peek(c))) {
			if (n == TZIF_ABBR_MAX)
				return false;
			out[n++] = *c->p++;
		}
	}
	out[n] = '\0';
	return n >= 3;
}

/* number - 1 to maxdigits decimal digits */
static bool
number(struct cursor *c, int maxdigits, int *out)
{
	int v = 0, n = 0;
	while (is_digit(peek(c)) && n < maxdigits) {
		v = v * 10 + (*c->p++ - '0');
		n++;
	}
	*out = v;
	return n > 0 && !is_digit(peek(c));
}

/* hms - [+-]hh[:mm[:ss]] with hours up to maxh, as signed seconds */
static bool
hms(struct cursor *c, int maxh, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;
	if (peek(c) == '+' || peek(c) == '-')
		sign = *c->p++ == '-' ? -1 : 1;
	if (!number(c, 3, &h) || h > maxh)
		return false;
	if (peek(c) == ':') {
		c->p++;
		if (!number(c, 2, &m) || m > 59)
			return false;
		if (peek(c) == ':') {
			c->p++;
			if (!number(c, 2, &s) || s > 59)
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

/* rule_date - Jn, n or Mm.w.d, then an optional /time (default 02:00) */
static bool
rule_date(struct cursor *c, struct rule_date *d)
{
	memset(d, 0, sizeof(*d));
	if (peek(c) == 'J') {
		c->p++;
		d->kind = 'J';
		if (!number(c, 3, &d->day) || d->day < 1 || d->day > 365)
			return false;
	} else if (peek(c) == 'M') {
		c->p++;
		d->kind = 'M';
		if (!number(c, 2, &d->mon) || d->mon < 1 || d->mon > 12 || peek(c) != '.')
			return false;
		c->p++;
		if (!number(c, 1, &d->week) || d->week < 1 || d->week > 5 || peek(c) != '.')
			return false;
		c->p++;
		if (!number(c, 1, &d->wday) || d->wday > 6)
			return false;
	} else {
		d->kind = 'D';
		if (!number(c, 3, &d->day) || d->day > 365)
			return false;
	}
	d->secs = 2 * 3600;
	if (peek(c) == '/') {
		c->p++;
		return hms(c, 167, &d->secs);
	}
	return true;
}

/* shown - up to 40 bytes of s for an error message, other than printable ASCII as '?' */
static const char *
shown(const char *s, size_t len, char out[44])
{
	size_t n = len > 40 ? 40 : len;
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	memcpy(out + n, len > n ? "..." : "", len > n ? 4 : 1);
	return out;
}

/* parse_tzstring - a whole TZ string into *r */
static int
parse_tzstring(const char *s, size_t len, struct rule *r, char *err, size_t errsz)
{
	struct cursor c = {s, s + len};
	char show[44];
	int32_t off;
	memset(r, 0, sizeof(*r));
	if (len > TZIF_FOOTER_MAX) {
		seterr(err, errsz, "TZ string longer than %d bytes", TZIF_FOOTER_MAX);
		return TZIF_E_LIMIT;
	}
	if (!rule_name(&c, r->std.abbr))
		goto bad;
	/* POSIX offsets are west of UTC ("CET-1" is an hour east), hours 0-24. */
	if (!hms(&c, 24, &off))
		goto bad;
	r->std.utoff = -off;
	if (c.p == c.end)
		return 0;
	if (!rule_name(&c, r->dst.abbr))
		goto bad;
	r->has_dst = true;
	r->dst.isdst = true;
	r->dst.utoff = r->std.utoff + 3600;
	if (peek(&c) != ',' && peek(&c) >= 0) {
		if (!hms(&c, 24, &off))
			goto bad;
		r->dst.utoff = -off;
	}
	if (peek(&c) >= 0 && peek(&c) != ',')
		goto bad;
	if (peek(&c) < 0) {
		seterr(err, errsz, "TZ string '%s' names DST without the dates it starts and ends",
		       shown(s, len, show));
		return TZIF_E_RULE;
	}
	c.p++;
	if (!rule_date(&c, &r->start) || peek(&c) != ',')
		goto bad;
	c.p++;
	if (!rule_date(&c, &r->end) || c.p != c.end)
		goto bad;
	return 0;
bad:
	seterr(err, errsz, "malformed TZ string '%s' at byte %zu", shown(s, len, show),
	       (size_t)(c.p - s));
	return TZIF_E_RULE;
}

static bool
leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* date_day - the day number (days since 1970-01-01) of d in year y */
static int64_t
date_day(const struct rule_date *d, int y)
{
	int64_t jan1 = when_days_from_civil(y, 1, 1);
	switch (d->kind) {
	case 'J':
		return jan1 + d->day - 1 + (leap_year(y) && d->day >= 60);
	case 'D':
		return jan1 + d->day;
	default: {
		static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int mdays = dim[d->mon - 1] + (d->mon == 2 && leap_year(y));
		int64_t first = when_days_from_civil(y, d->mon, 1);
		int64_t day = first + (d->wday - when_weekday(first) + 7) % 7 + (d->week - 1) * 7;
		while (day >= first + mdays) /* week 5: the last such weekday */
			day -= 7;
		return day;
	}
	}
}

/* A change of a TZ rule: at t, DST starts (to_dst) or ends. */
struct event {
	int64_t t;
	bool to_dst;
};

enum { RULE_YEARS = 5, RULE_EVENTS = 2 * RULE_YEARS };

/*
 * rule_events - the changes of years y-2 to y+2, sorted by time; at equal
 * times an end comes before a start, so that a DST that ends one year where
 * it starts the next (DST all year) stays DST. Changes move at most 167 h
 * plus an offset away from their own year, so every instant of year y has
 * changes on both sides of it.
 */
static void
rule_events(const struct rule *r, int y, struct event ev[RULE_EVENTS])
{
	int n = 0;
	for (int k = y - 2; k <= y + 2; k++) {
		ev[n].t = date_day(&r->start, k) * 86400 + r->start.secs - r->std.utoff;
		ev[n++].to_dst = true;
		ev[n].t = date_day(&r->end, k) * 86400 + r->end.secs - r->dst.utoff;
		ev[n++].to_dst = false;
	}
	for (int i = 1; i < n; i++) {
		struct event e = ev[i];
		int j = i;
		while (j > 0 && (ev[j - 1].t > e.t ||
		                 (ev[j - 1].t == e.t && ev[j - 1].to_dst && !e.to_dst))) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = e;
	}
}

/* rule_year - the year that instant t falls in, on standard time */
static int
rule_year(const struct rule *r, int64_t t)
{
	int64_t local = t + r->std.utoff;
	int y, m, d;
	when_civil_from_days(local / 86400 - (local % 86400 < 0), &y, &m, &d); /* floor */
	return y;
}

/* rule_dst_at - is DST in force at t? (the last change at or before t says) */
static bool
rule_dst_at(const struct rule *r, int64_t t)
{
	if (!r->has_dst)
		return false;
	struct event ev[RULE_EVENTS];
	rule_events(r, rule_year(r, t), ev);
	bool dst = false;
	for (int i = 0; i < RULE_EVENTS && ev[i].t <= t; i++)
		dst = ev[i].to_dst;
	return dst;
}

/* rule_next - the first instant after t where DST starts or ends; false if never */
static bool
rule_next(const struct rule *r, int64_t t, int64_t *next)
{
	if (!r->has_dst)
		return false;
	struct event ev[RULE_EVENTS];
	rule_events(r, rule_year(r, t), ev);
	bool dst = false;
	int i = 0;
	for (; i < RULE_EVENTS && ev[i].t <= t; i++)
		dst = ev[i].to_dst;
	while (i < RULE_EVENTS) {
		int j = i;
		while (j + 1 < RULE_EVENTS && ev[j + 1].t == ev[i].t)
			j++;
		if (ev[j].to_dst != dst) {
			*next = ev[i].t;
			return true;
		}
		i = j + 1;
	}
	return false; /* DST all year: nothing ever changes */
}

/* ---- TZif files ---- */

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct header {
	int version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

/* header - the 44-byte header at p[off]; caps checked */
static int
header(const uint8_t *p, size_t len, size_t off, struct header *h, char *err, size_t errsz)
{
	if (len < off || len - off < HEADER_LEN) {
		seterr(err, errsz, "truncated header at byte %zu", off);
		return TZIF_E_FORMAT;
	}
	p += off;
	if (memcmp(p, "TZif", 4) != 0) {
		seterr(err, errsz, "no TZif magic at byte %zu", off);
		return TZIF_E_FORMAT;
	}
	/*
	 * NUL is version 1; '2' to '4' are RFC 8536's. Later digits are read as
	 * version 4, as the C library does: RFC 8536 only lets versions append.
	 */
	if (p[4] == 0)
		h->version = 1;
	else if (p[4] >= '2' && p[4] <= '9')
		h->version = p[4] - '0';
	else {
		seterr(err, errsz, "unknown TZif version byte 0x%02x", p[4]);
		return TZIF_E_FORMAT;
	}
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->timecnt > TZIF_TIMES_MAX || h->typecnt > TZIF_TYPES_MAX ||
	    h->charcnt > TZIF_CHARS_MAX || h->leapcnt > TZIF_LEAPS_MAX) {
		seterr(err, errsz,
		       "too big: %u transitions, %u types, %u abbreviation bytes, %u leap seconds "
		       "(caps %d, %d, %d, %d)",
		       h->timecnt, h->typecnt, h->charcnt, h->leapcnt, TZIF_TIMES_MAX,
		       TZIF_TYPES_MAX, TZIF_CHARS_MAX, TZIF_LEAPS_MAX);
		return TZIF_E_LIMIT;
	}
	if (h->typecnt == 0 || h->charcnt == 0 || (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
		seterr(err, errsz,
		       "inconsistent counts: %u types, %u abbreviation bytes, %u std/wall and %u "
		       "UT/local indicators",
		       h->typecnt, h->charcnt, h->isstdcnt, h->isutcnt);
		return TZIF_E_FORMAT;
	}
	return 0;
}

/* block_len - the size of the data block after h, with times of width bytes */
static size_t
block_len(const struct header *h, size_t width)
{
	return h->timecnt * width + h->timecnt + h->typecnt * 6 + h->charcnt +
	       h->leapcnt * (width + 4) + h->isstdcnt + h->isutcnt;
}

/* block - read the data block at p (its length already checked) into z */
static int
block(const uint8_t *p, const struct header *h, size_t width, struct tzif *z, char *err,
      size_t errsz)
{
	z->ntimes = h->timecnt;
	z->ntypes = h->typecnt;
	z->times = xmalloc((h->timecnt ? h->timecnt : 1) * sizeof(*z->times));
	z->idx = xmalloc(h->timecnt ? h->timecnt : 1);
	z->types = xcalloc(h->typecnt, sizeof(*z->types));
	for (size_t i = 0; i < h->timecnt; i++, p += width) {
		z->times[i] = width == 8 ? be64(p) : (int32_t)be32(p);
		if (i > 0 && z->times[i] <= z->times[i - 1]) {
			seterr(err, errsz, "transition %zu is not after the one before it", i);
			return TZIF_E_FORMAT;
		}
	}
	for (size_t i = 0; i < h->timecnt; i++) {
		z->idx[i] = *p++;
		if (z->idx[i] >= h->typecnt) {
			seterr(err, errsz, "transition %zu names type %u of %u", i, z->idx[i],
			       h->typecnt);
			return TZIF_E_FORMAT;
		}
	}
	const uint8_t *tt = p, *chars = p + h->typecnt * 6;
	for (size_t i = 0; i < h->typecnt; i++, tt += 6) {
		struct ttype *t = &z->types[i];
		int64_t utoff = (int32_t)be32(tt);
		unsigned desig = tt[5];
		if (utoff < TZIF_UTOFF_MIN || utoff > TZIF_UTOFF_MAX || tt[4] > 1 ||
		    desig >= h->charcnt) {
			seterr(err, errsz,
			       "type %zu: offset %lld, DST flag %u, abbreviation at %u "
			       "(of %u bytes)",
			       i, (long long)utoff, tt[4], desig, h->charcnt);
			return TZIF_E_FORMAT;
		}
		const uint8_t *a = chars + desig;
		const uint8_t *nul = memchr(a, 0, h->charcnt - desig);
		if (nul == NULL || (size_t)(nul - a) > TZIF_ABBR_MAX) {
			seterr(err, errsz, "type %zu: abbreviation %s", i,
			       nul ? "too long" : "not NUL-terminated");
			return nul ? TZIF_E_LIMIT : TZIF_E_FORMAT;
		}
		t->utoff = (int32_t)utoff;
		t->isdst = tt[4] == 1;
		memcpy(t->abbr, a, (size_t)(nul - a) + 1);
	}
	p = chars + h->charcnt;
	int64_t prev = 0;
	for (size_t i = 0; i < h->leapcnt; i++, p += width + 4) {
		int64_t occur = width == 8 ? be64(p) : (int32_t)be32(p);
		if (i > 0 && occur <= prev) {
			seterr(err, errsz, "leap second %zu is not after the one before it", i);
			return TZIF_E_FORMAT;
		}
		prev = occur;
	}
	const uint8_t *isstd = p, *isut = p + h->isstdcnt;
	for (size_t i = 0; i < h->typecnt; i++) {
		unsigned s = h->isstdcnt ? isstd[i] : 0, u = h->isutcnt ? isut[i] : 0;
		if (s > 1 || u > 1 || (u == 1 && s == 0)) {
			seterr(err, errsz, "type %zu: std/wall %u, UT/local %u", i, s, u);
			return TZIF_E_FORMAT;
		}
	}
	return 0;
}

static struct tzif *
zone_new(void)
{
	return xcalloc(1, sizeof(struct tzif));
}

/* tzif_free - release a zone */
void
tzif_free(struct tzif *z)
{
	if (z == NULL)
		return;
	free(z->times);
	free(z->idx);
	free(z->types);
	free(z);
}

/* tzif_parse - read a TZif file */
int
tzif_parse(const void *data, size_t len, struct tzif **out, char *err, size_t errsz)
{
	const uint8_t *p = data;
	struct header h;
	int rc;
	if (len > TZIF_INPUT_MAX) {
		seterr(err, errsz, "file of %zu bytes, more than %d", len, TZIF_INPUT_MAX);
		return TZIF_E_LIMIT;
	}
	if ((rc = header(p, len, 0, &h, err, errsz)) < 0)
		return rc;
	size_t pos = HEADER_LEN, n = block_len(&h, 4);
	if (len - pos < n) {
		seterr(err, errsz, "truncated: the version 1 data needs %zu bytes, %zu left", n,
		       len - pos);
		return TZIF_E_FORMAT;
	}
	size_t width = 4;
	if (h.version >= 2) {
		/* RFC 8536: version 2+ readers skip the 32-bit block for the 64-bit one. */
		pos += n;
		struct header h2;
		if ((rc = header(p, len, pos, &h2, err, errsz)) < 0)
			return rc;
		if (h2.version != h.version) {
			seterr(err, errsz, "the second header says version %d, the first %d",
			       h2.version, h.version);
			return TZIF_E_FORMAT;
		}
		h = h2;
		pos += HEADER_LEN;
		width = 8;
		n = block_len(&h, 8);
		if (len - pos < n) {
			seterr(err, errsz, "truncated: the 64-bit data needs %zu bytes, %zu left",
			       n, len - pos);
			return TZIF_E_FORMAT;
		}
	}
	struct tzif *z = zone_new();
	z->version = h.version > 4 ? 4 : h.version;
	if ((rc = block(p + pos, &h, width, z, err, errsz)) < 0)
		goto fail;
	pos += n;
	if (h.version >= 2) {
		const char *f = (const char *)p + pos;
		size_t left = len - pos, flen = 0;
		if (left < 2 || f[0] != '\n') {
			seterr(err, errsz, "no footer after the data");
			rc = TZIF_E_FORMAT;
			goto fail;
		}
		while (1 + flen < left && f[1 + flen] != '\n' && flen <= TZIF_FOOTER_MAX)
			flen++;
		if (flen > TZIF_FOOTER_MAX) {
			seterr(err, errsz, "footer longer than %d bytes", TZIF_FOOTER_MAX);
			rc = TZIF_E_LIMIT;
			goto fail;
		}
		if (1 + flen >= left) {
			seterr(err, errsz, "footer without its closing newline");
			rc = TZIF_E_FORMAT;
			goto fail;
		}
		if (flen > 0) {
			if ((rc = parse_tzstring(f + 1, flen, &z->rule, err, errsz)) < 0)
				goto fail;
			z->has_rule = true;
		}
	}
	*out = z;
	return 0;
fail:
	tzif_free(z);
	return rc;
}

/* tzif_parse_rule - a zone made of a TZ string alone */
int
tzif_parse_rule(const char *s, size_t len, struct tzif **out, char *err, size_t errsz)
{
	struct rule r;
	int rc = parse_tzstring(s, len, &r, err, errsz);
	if (rc < 0)
		return rc;
	struct tzif *z = zone_new();
	z->ntypes = 1;
	z->types = xcalloc(1, sizeof(*z->types));
	z->types[0] = r.std;
	z->has_rule = true;
	z->rule = r;
	*out = z;
	return 0;
}

/* tzif_version - the file's format version */
int
tzif_version(const struct tzif *z)
{
	return z->version;
}

/* type_at - the local time type in force at t */
static const struct ttype *
type_at(const struct tzif *z, int64_t t)
{
	if (z->ntimes == 0 || t > z->times[z->ntimes - 1]) {
		if (z->has_rule)
			return rule_dst_at(&z->rule, t) ? &z->rule.dst : &z->rule.std;
		return &z->types[z->ntimes ? z->idx[z->ntimes - 1] : 0];
	}
	if (t < z->times[0])
		return &z->types[0];
	size_t lo = 0, hi = z->ntimes; /* times[lo] <= t < times[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &z->types[z->idx[lo]];
}

/* zone_next - the first instant after t where type_at may change; false if never */
static bool
zone_next(const struct tzif *z, int64_t t, int64_t *next)
{
	if (z->ntimes == 0)
		return z->has_rule && rule_next(&z->rule, t, next);
	int64_t last = z->times[z->ntimes - 1];
	if (t < last) {
		size_t lo = 0, hi = z->ntimes - 1; /* the first time after t is in [lo, hi] */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (z->times[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		*next = z->times[lo];
		return true;
	}
	if (!z->has_rule)
		return false;
	if (t == last) { /* the footer's rule takes over right after */
		*next = t + 1;
		return true;
	}
	return rule_next(&z->rule, t, next);
}

/* tzif_lookup - what is in force at UTC instant t */
int
tzif_lookup(const struct tzif *z, int64_t t, struct tzif_info *out)
{
	if (t < TZIF_TIME_MIN || t > TZIF_TIME_MAX)
		return TZIF_E_RANGE;
	const struct ttype *ty = type_at(z, t);
	out->utoff = ty->utoff;
	out->isdst = ty->isdst;
	out->abbr = ty->abbr;
	return 0;
}

/*
 * tzif_local_to_utc - local seconds to UTC. Every solution t = local - utoff
 * lies within the offsets' range of local, so the zone is walked one span of
 * constant type at a time across that window: a span [a, b) of offset o
 * holds a solution when local - o is in it. With none, the first span that
 * starts after local on its own clock (a + o > local) is where the gap ends.
 */
int
tzif_local_to_utc(const struct tzif *z, int64_t local, struct tzif_local *out)
{
	if (local < TZIF_TIME_MIN || local > TZIF_TIME_MAX)
		return TZIF_E_RANGE;
	int64_t w0 = local - TZIF_UTOFF_MAX - 1, w1 = local - TZIF_UTOFF_MIN + 1;
	int64_t a = w0, first = 0, last = 0, gap_end = 0;
	int found = 0;
	bool gap = false;
	for (;;) {
		const struct ttype *ty = type_at(z, a);
		int64_t b;
		if (!zone_next(z, a, &b) || b > w1)
			b = w1 + 1;
		int64_t s = local - ty->utoff;
		if (s >= a && s < b) {
			if (found++ == 0)
				first = s;
			last = s;
		} else if (!gap && a + ty->utoff > local) {
			gap = true;
			gap_end = a;
		}
		if (b > w1)
			break;
		a = b;
	}
	if (found) {
		out->kind = found > 1 ? TZIF_LOCAL_FOLD : TZIF_LOCAL_ONE;
		out->t = first;
		out->last = last;
		return 0;
	}
	if (!gap) /* cannot happen: the last span ends past every solution */
		return TZIF_E_RANGE;
	out->kind = TZIF_LOCAL_GAP;
	out->t = out->last = gap_end;
	return 0;
}
