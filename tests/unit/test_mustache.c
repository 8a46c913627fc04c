/* test_mustache - the official Mustache spec plus kirim's own cases. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/mustache.h"

/* Partials for a test: a JSON object name -> text, or NULL. */
static const char *
json_partial(void *arg, const char *name, size_t *len)
{
	json_t *v = arg ? json_object_get(arg, name) : NULL;
	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

/* The official spec's JSON files: $KIRIM_MUSTACHE_SPEC, else ../shared/corpora/mustache-spec
 * beside the source tree ($KIRIM_SRC, which meson sets). Not in the repository: a clone
 * without that folder skips the spec (exit 77 when everything else passes). */
static const char *
spec_dir(void)
{
	static char dir[4096];
	const char *d = getenv("KIRIM_MUSTACHE_SPEC");
	if (d && *d)
		return d;
	if (!dir[0]) {
		const char *src = getenv("KIRIM_SRC");
		snprintf(dir, sizeof(dir), "%s/../shared/corpora/mustache-spec",
		         src && *src ? src : ".");
	}
	return dir;
}

static bool spec_missing;

static void
show(const char *what, const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_json_string(&b, s, n);
	printf("    %s: %s\n", what, b.data);
	buf_free(&b);
}

/* Run every test of one spec file; returns the number of failures. */
static int
run_spec_file(const char *path, int *passed, int *total)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) {
		printf("%s: %s\n", path, jerr.text);
		return 1;
	}
	int fails = 0;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(root, "tests"), i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		json_t *tpl_j = json_object_get(t, "template");
		json_t *exp_j = json_object_get(t, "expected");
		json_t *partials = json_object_get(t, "partials");
		char err[256] = "";
		struct mustache_tpl *tpl = NULL;
		struct buf out = BUF_INIT;
		int rc = mustache_compile(json_string_value(tpl_j), json_string_length(tpl_j),
		                          json_partial, partials, &tpl, err, sizeof(err));
		if (rc == 0)
			rc = mustache_render(tpl, json_object_get(t, "data"), MUSTACHE_ESC_HTML,
			                     SIZE_MAX, &out, err, sizeof(err));
		const char *got = out.data ? out.data : "";
		bool ok = rc == 0 && out.len == json_string_length(exp_j) &&
		          !memcmp(got, json_string_value(exp_j), out.len);
		(*total)++;
		if (ok) {
			(*passed)++;
		} else {
			fails++;
			printf("FAIL %s: %s\n", strrchr(path, '/') + 1, name);
			show("template", json_string_value(tpl_j), json_string_length(tpl_j));
			if (rc)
				printf("    error: %d %s\n", rc, err);
			show("got", got, out.len);
			show("want", json_string_value(exp_j), json_string_length(exp_j));
		}
		buf_free(&out);
		mustache_free(tpl);
	}
	json_decref(root);
	return fails;
}

static void
test_spec(void **state)
{
	(void)state;
	DIR *d = opendir(spec_dir());
	if (!d && (errno == ENOENT || errno == ENOTDIR)) {
		spec_missing = true;
		skip();
	}
	if (!d) {
		printf("cannot open the spec folder %s: %s\n", spec_dir(), strerror(errno));
		fail();
	}
	struct dirent *e;
	int required_fail = 0, files = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json"))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", spec_dir(), e->d_name);
		int passed = 0, total = 0;
		int fails = run_spec_file(path, &passed, &total);
		printf("spec %-22s %d/%d passed%s\n", e->d_name, passed, total,
		       e->d_name[0] == '~' ? " (optional)" : "");
		if (e->d_name[0] != '~') {
			required_fail += fails;
			files++;
		}
	}
	closedir(d);
	assert_int_equal(files, 6);
	assert_int_equal(required_fail, 0);
}

/* ------------------------------------------------------------ kirim cases */

struct rcase {
	const char *label;
	const char *tpl;
	const char *data; /* JSON */
	int esc;
	const char *want;
};

static const char *const kirim_partials = "{\"p\": \"<{{x}}>\", \"lines\": \"a\\n{{x}}\\nb\\n\", "
                                          "\"nest\": \"  {{>lines}}\\n\", \"self\": \"{{>self}}\", "
                                          "\"node\": \"{{n}}{{#kids}}({{>node}}){{/kids}}\"}";

static const struct rcase render_cases[] = {
    /* Defaults. */
    {"default when missing", "Hi {{first_name|there}}!", "{}", MUSTACHE_ESC_HTML, "Hi there!"},
    {"default when null", "Hi {{first_name|there}}!", "{\"first_name\":null}", MUSTACHE_ESC_HTML,
     "Hi there!"},
    {"default when false", "Hi {{first_name|there}}!", "{\"first_name\":false}", MUSTACHE_ESC_HTML,
     "Hi there!"},
    {"default when empty", "Hi {{first_name|there}}!", "{\"first_name\":\"\"}", MUSTACHE_ESC_HTML,
     "Hi there!"},
    {"default not used", "Hi {{first_name|there}}!", "{\"first_name\":\"Ann\"}", MUSTACHE_ESC_HTML,
     "Hi Ann!"},
    {"default not used for 0", "{{n|none}}", "{\"n\":0}", MUSTACHE_ESC_HTML, "0"},
    {"default trimmed", "Hi {{ first_name | my friend }}!", "{}", MUSTACHE_ESC_HTML,
     "Hi my friend!"},
    {"default escaped", "{{x|<b>&}}", "{}", MUSTACHE_ESC_HTML, "&lt;b&gt;&amp;"},
    {"default triple raw", "{{{x|<b>&}}}", "{}", MUSTACHE_ESC_HTML, "<b>&"},
    {"default ampersand raw", "{{&x|<b>&}}", "{}", MUSTACHE_ESC_HTML, "<b>&"},
    {"default dotted", "{{a.b|none}}", "{\"a\":{}}", MUSTACHE_ESC_HTML, "none"},
    {"default implicit", "{{#l}}{{.|-}},{{/l}}", "{\"l\":[\"a\",\"\",null]}", MUSTACHE_ESC_HTML,
     "a,-,-,"},
    {"default no tags inside", "{{x|{{y}}}}", "{\"y\":\"Y\"}", MUSTACHE_ESC_NONE, "{{y}}"},
    {"default empty text", "[{{x|}}]", "{}", MUSTACHE_ESC_HTML, "[]"},
    /* HTML escaping. */
    {"html all five", "{{x}}", "{\"x\":\"a&b<c>\\\"d'e\"}", MUSTACHE_ESC_HTML,
     "a&amp;b&lt;c&gt;&quot;d&#39;e"},
    {"html triple", "{{{x}}}", "{\"x\":\"<'&>\"}", MUSTACHE_ESC_HTML, "<'&>"},
    {"html text untouched", "<p>&amp;{{x}}</p>", "{\"x\":\"&\"}", MUSTACHE_ESC_HTML,
     "<p>&amp;&amp;</p>"},
    {"none mode raw", "{{x}}\n", "{\"x\":\"a&b<c>\\\"'\"}", MUSTACHE_ESC_NONE, "a&b<c>\"'\n"},
    {"utf8 kept", "{{x}}", "{\"x\":\"Grüße ✓\"}", MUSTACHE_ESC_HTML, "Grüße ✓"},
    /* Header escaping. */
    {"header crlf", "Hello {{s}}!", "{\"s\":\"a\\r\\nBcc: x@y\"}", MUSTACHE_ESC_HEADER,
     "Hello a Bcc: x@y!"},
    {"header lf", "{{s}}", "{\"s\":\"a\\nb\"}", MUSTACHE_ESC_HEADER, "a b"},
    {"header cr", "{{s}}", "{\"s\":\"a\\rb\"}", MUSTACHE_ESC_HEADER, "a b"},
    {"header tab", "{{s}}", "{\"s\":\"a\\tb\"}", MUSTACHE_ESC_HEADER, "a b"},
    {"header nul", "{{s}}", "{\"s\":\"a\\u0000b\"}", MUSTACHE_ESC_HEADER, "a b"},
    {"header del and c0", "{{s}}", "{\"s\":\"a\\u007f\\u0001\\u001fb\"}", MUSTACHE_ESC_HEADER,
     "a b"},
    {"header triple", "{{{s}}}", "{\"s\":\"a\\r\\n\\r\\nb\"}", MUSTACHE_ESC_HEADER, "a b"},
    {"header ampersand", "{{&s}}", "{\"s\":\"\\na\\n\"}", MUSTACHE_ESC_HEADER, " a "},
    {"header no html escaping", "{{s}}", "{\"s\":\"<Ann & Bob>\"}", MUSTACHE_ESC_HEADER,
     "<Ann & Bob>"},
    {"header default", "{{s|a\tb}}", "{}", MUSTACHE_ESC_HEADER, "a b"},
    {"header template text", "Hi\r\n{{s}}\n", "{\"s\":\"x\"}", MUSTACHE_ESC_HEADER, "Hi x "},
    {"header utf8 kept", "{{s}}", "{\"s\":\"Olá\\u00a0mundo\"}", MUSTACHE_ESC_HEADER,
     "Olá\xc2\xa0mundo"},
    /* Values. */
    {"integer", "{{n}}", "{\"n\":-42}", MUSTACHE_ESC_HTML, "-42"},
    {"big integer", "{{n}}", "{\"n\":9007199254740993}", MUSTACHE_ESC_HTML, "9007199254740993"},
    {"real 1.5", "{{n}}", "{\"n\":1.5}", MUSTACHE_ESC_HTML, "1.5"},
    {"real 0.1", "{{n}}", "{\"n\":0.1}", MUSTACHE_ESC_HTML, "0.1"},
    {"real 1.0", "{{n}}", "{\"n\":1.0}", MUSTACHE_ESC_HTML, "1"},
    {"real 1e300", "{{n}}", "{\"n\":1e300}", MUSTACHE_ESC_HTML, "1e+300"},
    {"true false", "{{t}}/{{f}}", "{\"t\":true,\"f\":false}", MUSTACHE_ESC_HTML, "true/false"},
    {"object and array print nothing", "[{{o}}{{a}}]", "{\"o\":{},\"a\":[1]}", MUSTACHE_ESC_HTML,
     "[]"},
    {"empty string falsey", "{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":\"\"}", MUSTACHE_ESC_HTML,
     "no"},
    {"zero truthy", "{{#n}}yes{{/n}}", "{\"n\":0}", MUSTACHE_ESC_HTML, "yes"},
    {"empty object truthy", "{{#o}}yes{{/o}}", "{\"o\":{}}", MUSTACHE_ESC_HTML, "yes"},
    {"null root", "a{{x}}b{{#x}}c{{/x}}", NULL, MUSTACHE_ESC_HTML, "ab"},
    /* Partials. */
    {"partial", "[{{>p}}]", "{\"x\":1}", MUSTACHE_ESC_HTML, "[<1>]"},
    {"missing partial", "[{{>nope}}]", "{}", MUSTACHE_ESC_HTML, "[]"},
    {"nested standalone indentation", "  {{>nest}}\n", "{\"x\":\"v\\nw\"}", MUSTACHE_ESC_HTML,
     "    a\n    v\nw\n    b\n"},
    {"recursive partial", "{{>node}}",
     "{\"n\":1,\"kids\":[{\"n\":2,\"kids\":[{\"n\":3,\"kids\":[]}]},{\"n\":4,\"kids\":[]}]}",
     MUSTACHE_ESC_HTML, "1(2(3))(4)"},
    /* Syntax odds. */
    {"padding and sigil blanks", "{{ # a }}x{{ / a }}", "{\"a\":true}", MUSTACHE_ESC_HTML, "x"},
    {"standalone pair on a line", "{{#a}}{{/a}}\nx", "{}", MUSTACHE_ESC_HTML, "x"},
    {"lone braces", "{ } }} {{{x}}}", "{\"x\":1}", MUSTACHE_ESC_HTML, "{ } }} 1"},
    /* Names with blanks inside, as CSV headers have them (issue #18, item 9). */
    {"blanks inside a name", "Hi {{First Name}}, {{ First Name }}, {{{First Name}}}",
     "{\"First Name\":\"Ann\"}", MUSTACHE_ESC_HTML, "Hi Ann, Ann, Ann"},
    {"blanks inside: ampersand and default", "{{& Last  Name }}/{{Zip Code | none}}",
     "{\"Last  Name\":\"<Lee>\"}", MUSTACHE_ESC_HTML, "<Lee>/none"},
    {"blanks inside a section name",
     "{{#Is VIP}}vip {{First Name}}{{/Is VIP}}{{^No Mail}}!{{/No Mail}}",
     "{\"Is VIP\":true,\"First Name\":\"Ann\"}", MUSTACHE_ESC_HTML, "vip Ann!"},
    {"a tab inside a name", "{{a\tb}}", "{\"a\\tb\":\"t\"}", MUSTACHE_ESC_HTML, "t"},
    {"blanks inside dotted segments", "{{Home Address.Post Code}}",
     "{\"Home Address\":{\"Post Code\":\"40115\"}}", MUSTACHE_ESC_HTML, "40115"},
    {"a key with a dot is not one name", "[{{utm.source}}]", "{\"utm.source\":\"x\"}",
     MUSTACHE_ESC_HTML, "[]"},
    /* Top-level lookups are cached per render: never where a section pushed a context. */
    {"a name shadowed in a section", "{{x}}{{#o}}{{x}}{{/o}}{{x}}",
     "{\"x\":\"1\",\"o\":{\"x\":\"2\"}}", MUSTACHE_ESC_HTML, "121"},
    {"a name looked up first in a section", "{{#o}}{{x}}{{/o}}{{x}}",
     "{\"x\":\"1\",\"o\":{\"x\":\"2\"}}", MUSTACHE_ESC_HTML, "21"},
    {"a partial at the top and in a section", "{{>p}}{{#o}}{{>p}}{{/o}}{{>p}}",
     "{\"x\":1,\"o\":{\"x\":2}}", MUSTACHE_ESC_HTML, "<1><2><1>"},
    {"a section and a variable of one name", "{{#x}}[{{.}}]{{/x}}{{x}}{{^x}}no{{/x}}",
     "{\"x\":\"a\"}", MUSTACHE_ESC_HTML, "[a]a"},
    {"a list item's name, then the root's", "{{#l}}{{n}}{{/l}}{{n}}",
     "{\"n\":0,\"l\":[{\"n\":1},{\"n\":2}]}", MUSTACHE_ESC_HTML, "120"},
    {"a dotted name and its prefix", "{{a.b}}{{a}}{{a.b}}{{a.c|-}}", "{\"a\":{\"b\":\"c\"}}",
     MUSTACHE_ESC_HTML, "cc-"},
};

/* More distinct names than the lookup cache has slots: all render, twice each. */
static void
test_many_names(void **state)
{
	(void)state;
	struct buf tpl = BUF_INIT, want = BUF_INIT, out = BUF_INIT;
	json_t *data = json_object();
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof(key), "n%d", i);
		json_object_set_new(data, key, json_integer(i * 7));
	}
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 100; i++) {
			buf_printf(&tpl, "{{n%d}},", i);
			buf_printf(&want, "%d,", i * 7);
		}
	struct mustache_tpl *t = NULL;
	char err[256] = "";
	assert_int_equal(mustache_compile(tpl.data, tpl.len, NULL, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(
	    mustache_render(t, data, MUSTACHE_ESC_HTML, 1 << 20, &out, err, sizeof(err)), 0);
	if (strcmp(out.data, want.data)) {
		show("got", out.data, out.len);
		show("want", want.data, want.len);
		fail();
	}
	mustache_free(t);
	json_decref(data);
	buf_free(&tpl);
	buf_free(&want);
	buf_free(&out);
}

static void
test_render_cases(void **state)
{
	(void)state;
	json_t *partials = json_loads(kirim_partials, 0, NULL);
	assert_non_null(partials);
	int fails = 0;
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct rcase *c = &render_cases[i];
		json_t *data = c->data ? json_loads(c->data, JSON_ALLOW_NUL, NULL) : NULL;
		if (c->data && !data) {
			printf("FAIL %s: bad test JSON\n", c->label);
			fails++;
			continue;
		}
		struct mustache_tpl *tpl = NULL;
		char err[256] = "";
		struct buf out = BUF_INIT;
		int rc = mustache_compile(c->tpl, strlen(c->tpl), json_partial, partials, &tpl, err,
		                          sizeof(err));
		if (!rc)
			rc = mustache_render(tpl, data, c->esc, 4096, &out, err, sizeof(err));
		const char *got = rc ? err : out.data ? out.data : "";
		if (rc || strcmp(got, c->want)) {
			fails++;
			printf("FAIL %s (rc %d)\n", c->label, rc);
			show("template", c->tpl, strlen(c->tpl));
			show("got", got, strlen(got));
			show("want", c->want, strlen(c->want));
		}
		buf_free(&out);
		mustache_free(tpl);
		json_decref(data);
	}
	json_decref(partials);
	assert_int_equal(fails, 0);
}

struct ecase {
	const char *label;
	const char *tpl;
	const char *want;
};

static const struct ecase error_cases[] = {
    {"unclosed section", "{{#items}}\nx\n1234567890123",
     "3:14: unclosed section 'items' (opened at 1:1), expected {{/items}}"},
    {"unclosed inner section", "{{#a}}\n  {{^b}}",
     "2:9: unclosed section 'b' (opened at 2:3), expected {{/b}}"},
    {"unclosed with other delimiters", "{{=<% %>=}}<%#a%>",
     "1:18: unclosed section 'a' (opened at 1:12), expected <%/a%>"},
    {"unclosed tag", "x\nabc {{name", "2:5: expected '}}'"},
    {"unclosed triple", "{{{a}}", "1:1: expected '}}}'"},
    {"unclosed comment", "ab {{! note", "1:4: expected '}}'"},
    {"mismatched close", "{{#b}}xx{{/a}}", "1:9: closing tag 'a' does not match open section 'b'"},
    {"close without open", "x{{/a}}", "1:2: closing tag 'a' without open section"},
    {"bad delimiter one part", "{{=<% =}}", "1:1: bad delimiter change"},
    {"bad delimiter three parts", "a\n {{=< % >=}}", "2:2: bad delimiter change"},
    {"bad delimiter equals", "{{=<= =>=}}", "1:1: bad delimiter change"},
    {"unclosed delimiter change", "{{=<% %>}}", "1:1: expected '=}}'"},
    {"empty tag", "ab{{ }}", "1:3: empty tag name"},
    {"empty section name", "{{#}}{{/}}", "1:1: empty tag name"},
    {"bad dotted name", "{{a..b}}", "1:1: bad name 'a..b'"},
    {"trailing dot", "{{a.}}", "1:1: bad name 'a.'"},
    {"name across a line", "Hi {{first_name\nthere}}",
     "1:4: tag 'first_name' is not closed on its line (expected '}}')"},
    {"section name across a line", "{{#a b\r\nc}}{{/a b}}",
     "1:1: tag 'a b' is not closed on its line (expected '}}')"},
    {"opening delimiter in a name", "Hi {{first_name {{x}}",
     "1:4: tag 'first_name' holds '{{' (a missing '}}' before it?)"},
    {"other delimiters in a name", "{{=<% %>=}}<%a <%b%>",
     "1:12: tag 'a' holds '<%' (a missing '%>' before it?)"},
    {"default on section", "{{#a|b}}{{/a}}", "1:1: a default is only allowed in a variable tag"},
    {"error in partial", "x{{>bad}}",
     "partial 'bad': 1:7: unclosed section 'x' (opened at 1:1), expected {{/x}}"},
};

static const char *
bad_partial(void *arg, const char *name, size_t *len)
{
	(void)arg;
	if (strcmp(name, "bad"))
		return NULL;
	*len = 6;
	return "{{#x}}";
}

static void
test_compile_errors(void **state)
{
	(void)state;
	int fails = 0;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct ecase *c = &error_cases[i];
		struct mustache_tpl *tpl = NULL;
		char err[256] = "";
		int rc = mustache_compile(c->tpl, strlen(c->tpl), bad_partial, NULL, &tpl, err,
		                          sizeof(err));
		if (rc != MUSTACHE_ESYNTAX || tpl || strcmp(err, c->want)) {
			fails++;
			printf("FAIL %s (rc %d)\n", c->label, rc);
			show("template", c->tpl, strlen(c->tpl));
			show("got", err, strlen(err));
			show("want", c->want, strlen(c->want));
		}
		mustache_free(tpl);
	}
	/* Sections nested deeper than the cap are refused at compile time. */
	struct buf deep = BUF_INIT;
	for (int i = 0; i <= MUSTACHE_MAX_DEPTH; i++)
		buf_adds(&deep, "{{#a}}");
	struct mustache_tpl *tpl = NULL;
	char err[256] = "";
	assert_int_equal(mustache_compile(deep.data, deep.len, NULL, NULL, &tpl, err, sizeof(err)),
	                 MUSTACHE_ESYNTAX);
	assert_string_equal(err, "1:385: sections nested deeper than 64");
	buf_free(&deep);
	/* A tiny error buffer is truncated, not overrun. */
	char small[8];
	assert_int_equal(mustache_compile("{{#a}}", 6, NULL, NULL, &tpl, small, sizeof(small)),
	                 MUSTACHE_ESYNTAX);
	assert_string_equal(small, "1:7: un");
	assert_int_equal(fails, 0);
}

static void
add_field(void *arg, const char *name, size_t len, unsigned flags)
{
	buf_printf(arg, "%.*s%s%s;", (int)len, name, flags & MUSTACHE_FIELD_NESTED ? "/n" : "",
	           flags & MUSTACHE_FIELD_DEFAULT ? "/d" : "");
}

static const char *
field_partials(void *arg, const char *name, size_t *len)
{
	(void)arg;
	const char *p = !strcmp(name, "p")      ? "{{city}}{{>p}}"
	                : !strcmp(name, "item") ? "{{sku}}{{first_name}}"
	                                        : NULL;
	if (p)
		*len = strlen(p);
	return p;
}

static void
test_fields(void **state)
{
	(void)state;
	static const struct {
		const char *tpl, *want;
	} cases[] = {
	    {"Hi {{first_name|there}} {{#vip}}{{code}} {{first_name}}{{/vip}}"
	     "{{^x}}{{y.z}}{{/x}}{{>p}}{{.}}{{! c }}{{zip|0}}",
	     "first_name;vip;code/n;x;y.z;city;zip/d;"},
	    {"{{First Name}} {{ First Name |you}} {{campaign.name}} {{y.z}}{{#y}}{{z}}{{/y}}",
	     "First Name;campaign.name;y.z;y;z/n;"},
	    {"{{#items}}{{>item}}{{/items}}{{>item}}", "items;sku;first_name;"},
	    {"{{#items}}{{>item}}{{/items}}", "items;sku/n;first_name/n;"},
	    {"plain text", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mustache_tpl *tpl = NULL;
		char err[256];
		assert_int_equal(mustache_compile(cases[i].tpl, strlen(cases[i].tpl),
		                                  field_partials, NULL, &tpl, err, sizeof(err)),
		                 0);
		struct buf got = BUF_INIT;
		buf_adds(&got, "");
		assert_int_equal(mustache_fields(tpl, add_field, &got), 0);
		if (strcmp(got.data, cases[i].want))
			printf("FAIL fields %zu\n    got: %s\n    want: %s\n", i, got.data,
			       cases[i].want);
		assert_string_equal(got.data, cases[i].want);
		buf_free(&got);
		mustache_free(tpl);
	}
}

static const char *
self_partial(void *arg, const char *name, size_t *len)
{
	(void)arg;
	(void)name;
	*len = 12;
	return "x{{>again}}y";
}

static void
test_limits(void **state)
{
	(void)state;
	char err[256];
	struct mustache_tpl *tpl = NULL;
	struct buf out = BUF_INIT;

	/* Unbounded partial recursion stops cleanly at the depth cap. */
	assert_int_equal(
	    mustache_compile("{{>again}}", 10, self_partial, NULL, &tpl, err, sizeof(err)), 0);
	buf_adds(&out, "pre");
	assert_int_equal(
	    mustache_render(tpl, NULL, MUSTACHE_ESC_HTML, SIZE_MAX, &out, err, sizeof(err)),
	    MUSTACHE_EDEPTH);
	assert_string_equal(err, "render depth limit (64) exceeded");
	assert_string_equal(out.data, "pre");
	mustache_free(tpl);

	/* The output cap: exactly at the cap passes, one byte more fails, out untouched. */
	json_t *data = json_pack("{s:s}", "x", "12345");
	assert_int_equal(mustache_compile("{{x}}-{{x}}", 11, NULL, NULL, &tpl, err, sizeof(err)),
	                 0);
	assert_int_equal(mustache_render(tpl, data, MUSTACHE_ESC_HTML, 11, &out, err, sizeof(err)),
	                 0);
	assert_string_equal(out.data, "pre12345-12345");
	buf_reset(&out);
	assert_int_equal(mustache_render(tpl, data, MUSTACHE_ESC_HTML, 10, &out, err, sizeof(err)),
	                 MUSTACHE_ETOOBIG);
	assert_string_equal(err, "output larger than the limit");
	assert_int_equal(out.len, 0);
	/* Escaping counts: "&" becomes 5 bytes. */
	json_object_set_new(data, "x", json_string("&&"));
	assert_int_equal(mustache_render(tpl, data, MUSTACHE_ESC_HTML, 21, &out, err, sizeof(err)),
	                 0);
	assert_string_equal(out.data, "&amp;&amp;-&amp;&amp;");
	buf_reset(&out);
	assert_int_equal(mustache_render(tpl, data, MUSTACHE_ESC_HTML, 20, &out, err, sizeof(err)),
	                 MUSTACHE_ETOOBIG);
	assert_int_equal(mustache_render(tpl, data, 7, 100, &out, err, sizeof(err)),
	                 MUSTACHE_EINVAL);
	mustache_free(tpl);
	json_decref(data);

	/* Lists of lists nested deep would take forever: the step cap stops them. */
	struct buf t = BUF_INIT;
	for (int i = 0; i < 40; i++)
		buf_adds(&t, "{{#l}}");
	for (int i = 0; i < 40; i++)
		buf_adds(&t, "{{/l}}");
	data = json_pack("{s:[i,i]}", "l", 1, 2);
	assert_int_equal(mustache_compile(t.data, t.len, NULL, NULL, &tpl, err, sizeof(err)), 0);
	assert_int_equal(
	    mustache_render(tpl, data, MUSTACHE_ESC_HTML, SIZE_MAX, &out, err, sizeof(err)),
	    MUSTACHE_ETOOBIG);
	assert_string_equal(err, "render takes more than 16777216 steps");
	mustache_free(tpl);
	json_decref(data);
	buf_free(&t);
	buf_free(&out);
}

/* A 10 KB template with 5 fields, rendered many times into one reused buffer. */
static void
test_speed(void **state)
{
	(void)state;
	struct buf src = BUF_INIT;
	const char *fields[] = {"first_name", "last_name", "company", "city", "code"};
	for (int i = 0; i < 5; i++) {
		for (int k = 0; k < 40; k++)
			buf_adds(&src,
			         "<p>Lorem ipsum dolor sit amet, consectetur adipiscing.</p>\n");
		buf_printf(&src, "<b>{{%s}}</b>\n", fields[i]);
	}
	char err[256];
	struct mustache_tpl *tpl = NULL;
	assert_int_equal(mustache_compile(src.data, src.len, NULL, NULL, &tpl, err, sizeof(err)),
	                 0);
	json_t *data =
	    json_pack("{s:s,s:s,s:s,s:s,s:i}", "first_name", "Ann", "last_name", "O'Neil & Sons",
	              "company", "ACME <Ltd>", "city", "Jakarta", "code", 12345);
	struct buf out = BUF_INIT;
	int n = 20000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		buf_reset(&out);
		assert_int_equal(
		    mustache_render(tpl, data, MUSTACHE_ESC_HTML, 1 << 20, &out, err, sizeof(err)),
		    0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("speed: %zu-byte template, 5 fields: %.0f renders/s (%.2f us each)\n", src.len,
	       n / secs, secs / n * 1e6);
	assert_non_null(strstr(out.data, "O&#39;Neil &amp; Sons"));
	buf_free(&out);
	buf_free(&src);
	json_decref(data);
	mustache_free(tpl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec),       cmocka_unit_test(test_render_cases),
	    cmocka_unit_test(test_many_names), cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_fields),     cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_speed),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (failed == 0 && spec_missing) {
		printf("SKIP mustache spec: folder %s not found (set KIRIM_MUSTACHE_SPEC to it); "
		       "kirim's own cases passed\n",
		       spec_dir());
		return 77; /* meson: skipped */
	}
	return failed;
}
