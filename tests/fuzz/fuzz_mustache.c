/*
 * fuzz_mustache - compile random templates, render them in all three modes.
 *
 * Partials: "a" and "b" are fixed small templates; any other name gets the
 * input itself, so recursion and the depth cap are exercised. The context is
 * a small fixed JSON document with strings holding CR, LF, NUL and HTML
 * characters, nested objects and lists. Header mode output must never hold a
 * CR or LF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/mustache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const char *p;
	size_t n;
};

static const char *
partial(void *arg, const char *name, size_t *len)
{
	const struct input *in = arg;
	if (!strcmp(name, "a")) {
		*len = 22;
		return "<{{x}}|{{#l}}{{.}}{{/l}}";
	}
	if (!strcmp(name, "b")) {
		*len = 18;
		return "  {{>a}}\n{{{o.s}}}";
	}
	if (!strcmp(name, "none"))
		return NULL;
	*len = in->n;
	return in->p;
}

static void
field(void *arg, const char *name, size_t len, unsigned flags)
{
	(void)name;
	(void)flags;
	*(size_t *)arg += len;
}

static json_t *ctx;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx) {
		ctx = json_loads("{\"x\":\"a\\r\\nBcc: <b>&'\\\"\",\"n\":42,\"r\":1.5,\"t\":true,"
		                 "\"f\":false,\"z\":null,\"e\":\"\",\"nul\":\"a\\u0000b\\u007f\","
		                 "\"o\":{\"s\":\"\\n\\n\",\"o\":{\"k\":\"v\"}},"
		                 "\"l\":[1,\"two\\r\",{\"x\":\"in\"},[3,4]],\"el\":[]}",
		                 JSON_ALLOW_NUL, NULL);
		if (!ctx)
			abort();
	}
	struct input in = {(const char *)data, size};
	struct mustache_tpl *tpl = NULL;
	char err[256];
	if (mustache_compile((const char *)data, size, partial, &in, &tpl, err, sizeof(err)))
		return 0;
	size_t total = 0;
	mustache_fields(tpl, field, &total);
	struct buf out = BUF_INIT;
	static const int modes[] = {MUSTACHE_ESC_HTML, MUSTACHE_ESC_NONE, MUSTACHE_ESC_HEADER};
	for (size_t m = 0; m < 3; m++) {
		buf_reset(&out);
		int rc = mustache_render(tpl, ctx, modes[m], 1 << 16, &out, err, sizeof(err));
		if (rc && out.len != 0)
			abort(); /* on error the buffer is left as it was */
		if (modes[m] == MUSTACHE_ESC_HEADER &&
		    (memchr(out.data ? out.data : "", '\r', out.len) ||
		     memchr(out.data ? out.data : "", '\n', out.len)))
			abort();
	}
	buf_free(&out);
	mustache_free(tpl);
	return 0;
}
