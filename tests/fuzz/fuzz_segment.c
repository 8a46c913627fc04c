/*
 * fuzz_segment - libFuzzer target for src/format/segment.c.
 *
 * Whatever parses must print in a canonical form that parses back to the same tree and
 * prints the same again, go to JSON and back unchanged, and compile to SQL that is only
 * the module's own text: no byte of a name or value in it (no double quote, nothing
 * outside printable ASCII), parentheses balanced, single quotes paired, and every
 * parameter number in range. Compiled for a WHERE (segment_sql.where), an attribute's
 * path may be written out where an index can serve it: then the same holds outside
 * SQL's string literals, and a literal with a name's bytes is exactly '$."NAME"' with
 * NAME's quotes doubled. Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Every named segment is the same small one; "self" refers to itself. */
static int
resolve(void *arg, const char *name, struct segment_node **out, char *err, size_t errsz)
{
	(void)arg;
	const char *expr = strcmp(name, "self") == 0 ? "segment(\"self\")" : "tag(\"t\") and a > 1";
	return segment_parse(expr, strlen(expr), out, err, errsz);
}

/* literal - s at a literal's opening quote: its end (the closing quote) */
static const char *
literal(const char *s)
{
	const char *p = s + 1;
	if (strncmp(p, "$.\"", 3) == 0) {
		/* A path: a name's bytes (no '"'; a quote doubled), then "'. */
		for (p += 3; *p && *p != '"'; p++)
			if (*p == '\'')
				CHECK(*++p == '\'');
		CHECK(p[0] == '"' && p[1] == '\'');
		return p + 1;
	}
	/* The module's own: printable ASCII, no quote of either kind. */
	for (; *p != '\''; p++)
		CHECK(*p >= 0x20 && *p < 0x7f && *p != '"');
	return p;
}

static void
check_sql(const struct segment_sql *q)
{
	int depth = 0;
	size_t quotes = 0;
	for (const char *s = q->sql.data; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (q->where && c == '\'') {
			s = literal(s);
			continue;
		}
		CHECK(c >= 0x20 && c < 0x7f && c != '"' && c != ';');
		if (c == '(')
			depth++;
		else if (c == ')')
			CHECK(--depth >= 0);
		else if (c == '\'')
			quotes++;
		else if (c == '?') {
			long k = strtol(s + 1, NULL, 10);
			CHECK(k > q->base && k <= q->base + (long)q->nparams);
		}
	}
	CHECK(depth == 0 && quotes % 2 == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct segment_node *t, *back;
	char err[512];
	if (segment_parse((const char *)data, size, &t, err, sizeof(err)) < 0) {
		/* Errors say where: "LINE:COL: ...". */
		CHECK(err[0] >= '1' && err[0] <= '9' && strchr(err, ':') != NULL);
		return 0;
	}
	struct buf a = BUF_INIT, b = BUF_INIT;
	segment_print(t, &a);
	CHECK(segment_parse(a.data, a.len, &back, err, sizeof(err)) == 0);
	CHECK(segment_equal(t, back));
	segment_print(back, &b);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	segment_free(back);
	json_t *j = segment_to_json(t);
	CHECK(segment_from_json(j, &back, err, sizeof(err)) == 0);
	CHECK(segment_equal(t, back));
	segment_free(back);
	json_decref(j);
	for (int where = 0; where < 2; where++) {
		struct segment_sql q = {.base = 2, .where = where};
		if (segment_compile(t, 1700000000, resolve, NULL, &q, err, sizeof(err)) == 0)
			check_sql(&q);
		segment_sql_free(&q);
	}
	buf_free(&a);
	buf_free(&b);
	segment_free(t);
	return 0;
}
