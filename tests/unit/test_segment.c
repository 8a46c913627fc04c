/*
 * test_segment - the segment language (segment.c): golden files for parse, print, JSON
 * and SQL ($KIRIM_TESTDATA/segment/cases.in against cases.out; KIRIM_UPDATE_GOLDEN=1
 * rewrites cases.out after a deliberate change), round trips, numbers and dates, the
 * JSON reader's errors, and the SQL's parameters: no name or value ever reaches the
 * SQL text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/segment.h"
#include "test_data.h"

enum { NOW = 1700000000 };

/* The segments the golden cases refer to. */
static int
resolve(void *arg, const char *name, struct segment_node **out, char *err, size_t errsz)
{
	(void)arg;
	static const struct {
		const char *name, *expr;
	} known[] = {
	    {"vip", "plan = \"gold\""},
	    {"loop", "segment(\"loop\") or a = 1"},
	    {"a", "x = 1 and segment(\"b\")"},
	    {"b", "not segment(\"a\")"},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].name, name) == 0)
			return segment_parse(known[i].expr, strlen(known[i].expr), out, err, errsz);
	snprintf(err, errsz, "no segment called '%s'", name);
	return 1;
}

static void
print_params(struct buf *b, const struct segment_sql *q)
{
	for (size_t i = 0; i < q->nparams; i++) {
		const struct segment_param *p = &q->params[i];
		buf_printf(b, "%s?%zu=", i ? " " : "", (size_t)q->base + i + 1);
		if (p->type == SEGMENT_P_TEXT)
			buf_printf(b, "'%s'", p->text);
		else if (p->type == SEGMENT_P_INT)
			buf_printf(b, "%lld", (long long)p->i);
		else
			buf_printf(b, "%.17g", p->r);
	}
}

/* describe - everything the module makes of one input, as the golden file has it */
static void
describe(const char *in, struct buf *out)
{
	struct segment_node *t, *back;
	char err[512];
	buf_printf(out, "> %s\n", in);
	if (segment_parse(in, strlen(in), &t, err, sizeof(err)) < 0) {
		buf_printf(out, "error: %s\n", err);
		return;
	}
	struct buf canon = BUF_INIT;
	segment_print(t, &canon);
	buf_printf(out, "print: %s\n", canon.data);
	/* Round trips: the canonical text and the JSON read back as the same tree. */
	if (segment_parse(canon.data, canon.len, &back, err, sizeof(err)) < 0)
		fail_msg("%s: canonical form '%s' does not parse: %s", in, canon.data, err);
	if (!segment_equal(t, back))
		fail_msg("%s: canonical form '%s' parses to another tree", in, canon.data);
	segment_free(back);
	json_t *j = segment_to_json(t);
	char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	buf_printf(out, "json: %s\n", js);
	if (segment_from_json(j, &back, err, sizeof(err)) < 0)
		fail_msg("%s: JSON %s does not read back: %s", in, js, err);
	if (!segment_equal(t, back))
		fail_msg("%s: JSON %s reads back as another tree", in, js);
	segment_free(back);
	free(js);
	json_decref(j);
	struct segment_sql q = {.base = 2};
	if (segment_compile(t, NOW, resolve, NULL, &q, err, sizeof(err)) < 0) {
		buf_printf(out, "sql error: %s\n", err);
	} else {
		buf_printf(out, "sql: %s\nparams: ", q.sql.data);
		print_params(out, &q);
		buf_addc(out, '\n');
	}
	segment_sql_free(&q);
	buf_free(&canon);
	segment_free(t);
}

static void
datapath(char *buf, size_t sz, const char *name)
{
	snprintf(buf, sz, "%s/segment/%s", test_datadir(), name);
}

static void
test_golden(void **state)
{
	(void)state;
	char inpath[4096], outpath[4096], line[4096];
	datapath(inpath, sizeof(inpath), "cases.in");
	datapath(outpath, sizeof(outpath), "cases.out");
	FILE *in = fopen(inpath, "r");
	if (in == NULL)
		fail_msg("cannot open %s (set KIRIM_TESTDATA)", inpath);
	struct buf got = BUF_INIT;
	int count = 0;
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		describe(line, &got);
		count++;
	}
	fclose(in);
	assert_true(count > 50);
	const char *update = getenv("KIRIM_UPDATE_GOLDEN");
	if (update && *update == '1') {
		FILE *out = fopen(outpath, "w");
		assert_non_null(out);
		fwrite(got.data, 1, got.len, out);
		fclose(out);
	}
	size_t wantlen;
	char *want = test_slurp(outpath, &wantlen);
	if (want == NULL)
		fail_msg("cannot open %s", outpath);
	if (strcmp(want, got.data) != 0) {
		/* The first line that differs, with its case. */
		const char *w = want, *g = got.data, *wcase = want, *gcase = got.data;
		while (*w && *g) {
			const char *we = strchr(w, '\n'), *ge = strchr(g, '\n');
			size_t wl = we ? (size_t)(we - w) : strlen(w),
			       gl = ge ? (size_t)(ge - g) : strlen(g);
			if (wl != gl || memcmp(w, g, wl) != 0) {
				fprintf(stderr,
				        "FAIL %s\n  case: %.*s\n  want: %.*s\n  got:  %.*s\n",
				        outpath, (int)strcspn(gcase, "\n"), gcase, (int)wl, w,
				        (int)gl, g);
				break;
			}
			if (*g == '>') {
				wcase = w;
				gcase = g;
			}
			w += wl + (we != NULL);
			g += gl + (ge != NULL);
		}
		(void)wcase;
		fail_msg("%s differs from what the module makes of %s", outpath, inpath);
	}
	free(want);
	buf_free(&got);
}

static void
test_number(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool ok;
		double want;
	} cases[] = {
	    {"42", true, 42},    {" 42 ", true, 42},  {"\t-3.5", true, -3.5}, {"+7", true, 7},
	    {".5", true, 0.5},   {"5.", true, 5},     {"1e3", true, 1000},    {"1E-2", true, 0.01},
	    {"0812", true, 812}, {"", false, 0},      {"  ", false, 0},       {"-", false, 0},
	    {".", false, 0},     {"1e", false, 0},    {"1,000", false, 0},    {"12abc", false, 0},
	    {"0x10", false, 0},  {"1e999", false, 0}, {"nan", false, 0},      {"inf", false, 0},
	    {"1 2", false, 0},   {"42\n", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -12345;
		bool ok = segment_number(cases[i].in, strlen(cases[i].in), &v);
		if (ok != cases[i].ok || (ok && v != cases[i].want))
			fail_msg("segment_number(\"%s\"): got %d %g, want %d %g", cases[i].in, ok,
			         v, cases[i].ok, cases[i].want);
	}
}

static void
test_time(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool ok, day;
		int64_t want;
	} cases[] = {
	    {"2024-01-31", true, true, 1706659200},
	    {" 2024-01-31 ", true, true, 1706659200},
	    {"2024-01-31T10:00", true, false, 1706695200},
	    {"2024-01-31 10:00:30", true, false, 1706695230},
	    {"2024-01-31t10:00:30.999z", true, false, 1706695230},
	    {"2024-01-31T10:00:00+07:00", true, false, 1706670000},
	    {"2024-01-31T10:00:00-0130", true, false, 1706700600},
	    {"2024-01-31T10:00+07", true, false, 1706670000},
	    {"1969-12-31T23:59:59Z", true, false, -1},
	    {"2024-02-29", true, true, 1709164800},
	    {"0001-01-01", true, true, -62135596800},
	    {"9999-12-31T23:59:59Z", true, false, 253402300799},
	    {"2023-02-29", false, false, 0},
	    {"2024-13-01", false, false, 0},
	    {"2024-00-10", false, false, 0},
	    {"2024-1-31", false, false, 0},
	    {"2024-01-31T24:00", false, false, 0},
	    {"2024-01-31T10:60", false, false, 0},
	    {"2024-01-31T10", false, false, 0},
	    {"2024-01-31X10:00", false, false, 0},
	    {"2024-01-31T10:00:00.", false, false, 0},
	    {"2024-01-31T10:00+7", false, false, 0},
	    {"2024-01-31T10:00+07:", false, false, 0},
	    {"0001-01-01T00:00+01:00", false, false, 0}, /* year 0 in UTC */
	    {"31/01/2024", false, false, 0},
	    {"", false, false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -7;
		bool day = false;
		bool ok = segment_time(cases[i].in, strlen(cases[i].in), &t, &day);
		if (ok != cases[i].ok || (ok && (t != cases[i].want || day != cases[i].day)))
			fail_msg("segment_time(\"%s\"): got %d %lld %d, want %d %lld %d",
			         cases[i].in, ok, (long long)t, day, cases[i].ok,
			         (long long)cases[i].want, cases[i].day);
	}
}

/* Bytes the golden file (one case a line) cannot hold. */
static void
test_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t n;
		const char *want; /* the canonical form, or "error: ..." */
	} cases[] = {
	    {"a = \"x\ty\"", 9,
	     "error: 1:7: a control character in a string (write \\n, \\t or "
	     "\\u00XX)"},
	    {"a = \"x\\u0007y\"", 14, "a = \"x\\u0007y\""},
	    {"a = 1\nand\n  b = \"", 17, "error: 3:7: a string that does not end (no closing \")"},
	    {"a = \"\xff\"", 7, "error: 1:5: a string that is not UTF-8"},
	    {"\xc3\xa9t\xc3\xa9 = 1", 9, "\xc3\xa9t\xc3\xa9 = 1"},
	    {"a = 1 and \xc3\xa9 \x01", 14, "error: 1:13: unexpected byte 0x01"},
	    {"a = \"x\" \0 or", 12, "error: 1:1: a NUL byte in the expression"},
	    {"a\r\n=\r\n1", 7, "a = 1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct segment_node *t;
		char err[256];
		struct buf got = BUF_INIT;
		if (segment_parse(cases[i].in, cases[i].n, &t, err, sizeof(err)) < 0) {
			buf_printf(&got, "error: %s", err);
		} else {
			segment_print(t, &got);
			segment_free(t);
		}
		if (strcmp(got.data, cases[i].want) != 0)
			fail_msg("case %zu: got [%s], want [%s]", i, got.data, cases[i].want);
		buf_free(&got);
	}
}

static void
test_limits(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct segment_node *t;
	char err[256];
	/* Parentheses deep enough to blow a stack are refused, not followed. */
	for (int i = 0; i < 100000; i++)
		buf_addc(&b, '(');
	assert_int_equal(segment_parse(b.data, 40000, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nested more than 64 deep"));
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "%sa = %d", i ? " or " : "", i);
	assert_int_equal(segment_parse(b.data, b.len, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 4096 conditions"));
	buf_reset(&b);
	buf_adds(&b, "a in (");
	for (int i = 0; i < 1001; i++)
		buf_printf(&b, "%s%d", i ? "," : "", i);
	buf_adds(&b, ")");
	assert_int_equal(segment_parse(b.data, b.len, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 1000 values"));
	buf_reset(&b);
	for (int i = 0; i < 70000; i++)
		buf_addc(&b, ' ');
	assert_int_equal(segment_parse(b.data, b.len, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 65536 bytes"));
	buf_free(&b);
}

static void
test_json_errors(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
	    {"[]", "(top): a condition is a JSON object"},
	    {"{}", "(top): a condition has one of"},
	    {"{\"and\": []}", "and: \"and\" and \"or\" take a non-empty array"},
	    {"{\"and\": [{\"tag\": \"x\"}, {\"attr\": \"a\", \"op\": \"eq\", \"value\": 1}]}",
	     "and[1].attr: unknown \"op\" \"eq\""},
	    {"{\"or\": [{\"not\": {\"list\": 5}}]}", "or[0].not.list: \"list\" must be a string"},
	    {"{\"attr\": \"a\", \"op\": \"<\", \"value\": \"abc\"}",
	     "attr: '<' compares numbers or dates"},
	    {"{\"attr\": \"a\", \"op\": \"=\", \"value\": {\"date\": \"2024-02-30\"}}",
	     "attr: \"2024-02-30\" is not a date"},
	    {"{\"attr\": \"a\", \"op\": \"=\", \"value\": [1]}", "attr: a value is a string"},
	    {"{\"attr\": \"a\", \"op\": \"=\"}", "attr: \"value\" is missing"},
	    {"{\"attr\": \"a\\\"b\", \"op\": \"is empty\"}", "cannot hold '\"'"},
	    {"{\"attr\": \"\", \"op\": \"is empty\"}", "attr: \"attr\" is empty"},
	    {"{\"attr\": \"a\", \"op\": \"is empty\", \"value\": 1}", "unexpected members"},
	    {"{\"attr\": \"a\", \"op\": \"in\", \"values\": []}", "\"values\" must be an array"},
	    {"{\"event\": \"read\", \"campaign\": null}", "event: \"event\" is one of"},
	    {"{\"event\": \"opened\"}", "\"campaign\" is missing"},
	    {"{\"event\": \"opened\", \"campaign\": null, \"days\": 0}", "\"days\" is a whole"},
	    {"{\"event\": \"opened\", \"campaign\": null, \"class\": \"hard\"}",
	     "\"class\" (hard or soft) is for bounced only"},
	    {"{\"segment\": \"a\\u0000b\"}", "holds a NUL"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t je;
		json_t *j = json_loads(cases[i].json, JSON_ALLOW_NUL, &je);
		if (j == NULL)
			fail_msg("case %zu: bad test JSON: %s", i, je.text);
		struct segment_node *t = NULL;
		char err[256] = "";
		int rc = segment_from_json(j, &t, err, sizeof(err));
		json_decref(j);
		if (rc == 0) {
			segment_free(t);
			fail_msg("%s: read, want error %s", cases[i].json, cases[i].want);
		}
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("%s: got [%s], want [%s]", cases[i].json, err, cases[i].want);
	}
	/* A single condition in and/or is that condition. */
	json_t *j = json_loads("{\"or\": [{\"tag\": \"x\"}]}", 0, NULL);
	struct segment_node *t;
	char err[256];
	assert_int_equal(segment_from_json(j, &t, err, sizeof(err)), 0);
	assert_int_equal(t->type, SEGMENT_TAG);
	segment_free(t);
	json_decref(j);
}

/*
 * Injection: whatever a name or value holds, the SQL text is the module's own. Every
 * hostile string goes into each place a name or value can be, and must come back in a
 * parameter and never in the SQL.
 */
static void
test_injection(void **state)
{
	(void)state;
	static const char *const hostile[] = {
	    "x') OR 1=1 --",
	    "x\" OR 1=1 --",
	    "'; DROP TABLE contacts; --",
	    "$.a') , (SELECT email FROM contacts",
	    "?1 ?2 ?999",
	    "*/ /*",
	    "\\' \\\" \\\\",
	};
	static const char *const forms[] = {
	    "%s = 1",      "x = %s",   "x contains %s", "x starts_with %s", "x in (%s, %s)",
	    "%s is empty", "list(%s)", "tag(%s)",       "opened(%s, 30d)",  "x != %s",
	};
	for (size_t h = 0; h < sizeof(hostile) / sizeof(hostile[0]); h++) {
		/* The hostile text as a string literal of the language. */
		struct buf lit = BUF_INIT;
		struct segment_node *t;
		char err[512];
		buf_addc(&lit, '"');
		for (const char *s = hostile[h]; *s; s++) {
			if (*s == '"' || *s == '\\')
				buf_addc(&lit, '\\');
			buf_addc(&lit, *s);
		}
		buf_addc(&lit, '"');
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			struct buf expr = BUF_INIT;
			buf_printf(&expr, forms[f], lit.data, lit.data);
			if (segment_parse(expr.data, expr.len, &t, err, sizeof(err)) < 0) {
				/* Only the attribute names with a '"' are refused, and said so. */
				assert_non_null(strstr(err, "cannot hold '\"'"));
				assert_non_null(strchr(hostile[h], '"'));
				buf_free(&expr);
				continue;
			}
			struct segment_sql q = {0};
			assert_int_equal(segment_compile(t, NOW, NULL, NULL, &q, err, sizeof(err)),
			                 0);
			if (strstr(q.sql.data, hostile[h]) || strstr(q.sql.data, "DROP") ||
			    strstr(q.sql.data, "1=1") || strstr(q.sql.data, "?999"))
				fail_msg("%s: the value reached the SQL: %s", expr.data,
				         q.sql.data);
			/* The value is in a parameter, whole (a name in its JSON path). */
			bool found = false;
			for (size_t i = 0; i < q.nparams; i++)
				if (q.params[i].type == SEGMENT_P_TEXT &&
				    strstr(q.params[i].text, hostile[h]))
					found = true;
			if (!found)
				fail_msg("%s: the value is in no parameter", expr.data);
			/* Quotes in the SQL are the module's own literals, and balanced. */
			size_t quotes = 0;
			for (const char *s = q.sql.data; *s; s++)
				quotes += *s == '\'';
			assert_int_equal(quotes % 2, 0);
			segment_sql_free(&q);
			segment_free(t);
			buf_free(&expr);
		}
		buf_free(&lit);
	}
}

static void
test_cycles(void **state)
{
	(void)state;
	static const struct {
		const char *expr, *want;
	} cases[] = {
	    {"segment(\"loop\")", "segment 'loop' refers to itself: 'loop' -> 'loop'"},
	    {"segment(\"a\")", "segment 'a' refers to itself: 'a' -> 'b' -> 'a'"},
	    {"tag(\"x\") or segment(\"missing\")", "no segment called 'missing'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct segment_node *t;
		char err[256];
		assert_int_equal(
		    segment_parse(cases[i].expr, strlen(cases[i].expr), &t, err, sizeof(err)), 0);
		struct segment_sql q = {0};
		assert_int_equal(segment_compile(t, NOW, resolve, NULL, &q, err, sizeof(err)), -1);
		if (strcmp(err, cases[i].want) != 0)
			fail_msg("%s: got [%s], want [%s]", cases[i].expr, err, cases[i].want);
		assert_null(q.params);
		segment_free(t);
	}
}

/* Trees a caller builds keep the canonical shape: and inside and is one list. */
static void
test_build(void **state)
{
	(void)state;
	struct segment_node *and = segment_new(SEGMENT_AND), *inner = segment_new(SEGMENT_AND);
	const char *names[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		struct segment_node *l = segment_new(SEGMENT_LIST);
		l->name = strdup(names[i]);
		segment_add_kid(i == 0 ? and : inner, l);
	}
	segment_add_kid(and, inner);
	struct buf b = BUF_INIT;
	segment_print(and, &b);
	assert_string_equal(b.data, "list(\"a\") and list(\"b\") and list(\"c\")");
	assert_int_equal(and->nkids, 3);
	buf_free(&b);
	segment_free(and);
}

/* A campaign's audience parts as one condition. */
static void
test_audience(void **state)
{
	(void)state;
	static const struct {
		struct segment_part parts[6];
		size_t n;
		const char *want;
	} cases[] = {
	    {{{SEGMENT_PART_LIST, "a"}}, 1, "list(\"a\")"},
	    {{{SEGMENT_PART_LIST, "a"}, {SEGMENT_PART_SEGMENT, "s"}, {SEGMENT_PART_LIST, "b"}},
	     3,
	     "list(\"a\") or segment(\"s\") or list(\"b\")"},
	    {{{SEGMENT_PART_EXCLUDE_LIST, "x"},
	      {SEGMENT_PART_LIST, "a"},
	      {SEGMENT_PART_LIST, "b"},
	      {SEGMENT_PART_EXCLUDE_SEGMENT, "y"}},
	     4,
	     "(list(\"a\") or list(\"b\")) and not list(\"x\") and not segment(\"y\")"},
	    {{{SEGMENT_PART_SEGMENT, "s"},
	      {SEGMENT_PART_NOT_SENT_BY, "c1"},
	      {SEGMENT_PART_NOT_OPENED, "c2"},
	      {SEGMENT_PART_NOT_CLICKED, "c3"}},
	     4,
	     "segment(\"s\") and not delivered(\"c1\") and delivered(\"c2\") and not "
	     "opened(\"c2\") and delivered(\"c3\") and not clicked(\"c3\")"},
	    {{{SEGMENT_PART_EXCLUDE_LIST, "x"}, {SEGMENT_PART_NOT_OPENED, "c2"}}, 2, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct segment_node *t = segment_audience(cases[i].parts, cases[i].n);
		if (cases[i].want == NULL) {
			assert_null(t);
			continue;
		}
		assert_non_null(t);
		struct buf b = BUF_INIT;
		segment_print(t, &b);
		if (strcmp(b.data, cases[i].want) != 0)
			fail_msg("case %zu: got [%s], want [%s]", i, b.data, cases[i].want);
		buf_free(&b);
		segment_free(t);
	}
}

/* test_probe - probe mode (a range of contacts: store_messages_walk) looks each contact up
 * in lists, tags and one campaign's messages, and builds no set of contact ids for them */
static void
test_probe(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in, *want;
	} cases[] = {
	    {"list", "list(\"news\")",
	     "EXISTS (SELECT 1 FROM list_members lm JOIN lists l ON l.id = lm.list_id WHERE "
	     "l.name = ?3 AND lm.contact_id = c.id AND lm.status = 'confirmed')"},
	    {"tag", "tag(\"vip\")",
	     "EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.tag = ?3 AND ct.contact_id = c.id)"},
	    {"one campaign's events", "opened(\"june\")",
	     "EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = (SELECT id FROM campaigns "
	     "WHERE name = ?3) AND m.contact_id = c.id AND EXISTS (SELECT 1 FROM events e WHERE "
	     "e.message_id = m.id AND "},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct segment_node *t;
		char err[512];
		if (segment_parse(cases[i].in, strlen(cases[i].in), &t, err, sizeof(err)) < 0)
			fail_msg("%s: %s", cases[i].label, err);
		struct segment_sql q = {.base = 2, .probe = true}, set = {.base = 2};
		if (segment_compile(t, NOW, resolve, NULL, &q, err, sizeof(err)) < 0 ||
		    segment_compile(t, NOW, resolve, NULL, &set, err, sizeof(err)) < 0)
			fail_msg("%s: %s", cases[i].label, err);
		if (strncmp(q.sql.data, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: got %s want %s...", cases[i].label, q.sql.data,
			         cases[i].want);
		if (strstr(q.sql.data, "c.id IN") != NULL ||
		    strstr(set.sql.data, "c.id IN") == NULL)
			fail_msg("%s: probe %s, set %s", cases[i].label, q.sql.data, set.sql.data);
		segment_sql_free(&q);
		segment_sql_free(&set);
		segment_free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),    cmocka_unit_test(test_number),
	    cmocka_unit_test(test_time),      cmocka_unit_test(test_bytes),
	    cmocka_unit_test(test_limits),    cmocka_unit_test(test_json_errors),
	    cmocka_unit_test(test_injection), cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_build),     cmocka_unit_test(test_audience),
	    cmocka_unit_test(test_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
