/*
 * fuzz_serve_route - the request logic of `kirim serve`: routing, the RFC 8058
 * body check, the prefetcher table and click-link rewriting. The first byte
 * picks the method; the input is split at the first NUL into path and body.
 * Invariants: a route's token lies inside the path and has only token
 * characters; every URL in a link table is safe for a Location header; a
 * fixed table (the browser view's) gets no new URL; a form field found in
 * the body or the path's query fits its buffer and holds no control byte
 * but TAB, CR and LF.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/serve_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
	if (size < 1)
		return 0;
	const char *method = methods[data[0] & 3];
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	const char *nul = memchr(in, '\0', n);
	size_t pn = nul ? (size_t)(nul - in) : n;

	struct serve_route r;
	serve_route_match(method, in, pn, &r);
	if (r.token) {
		assert(r.token >= in && r.token + r.token_len <= in + pn);
		assert(r.token_len > 0 && r.token_len <= SERVE_TOKEN_MAX);
	}
	if (r.kind == SERVE_ROUTE_CLICK)
		assert(r.link < SERVE_LINKS_MAX);
	if (r.kind == SERVE_ROUTE_VIEW || r.kind == SERVE_ROUTE_SIGNUP_PAGE ||
	    r.kind == SERVE_ROUTE_CONFIRM_PAGE)
		assert(r.token && (strcmp(method, "GET") == 0 || r.head));
	if (r.kind == SERVE_ROUTE_SIGNUP_POST || r.kind == SERVE_ROUTE_CONFIRM_POST ||
	    r.kind == SERVE_ROUTE_UNSUB_FORM)
		assert(r.token && strcmp(method, "POST") == 0);
	(void)serve_route_name(r.kind);

	/* The body and, as a content type, the path (NUL-terminated copies). */
	const char *body = nul ? nul + 1 : "";
	size_t bn = nul ? n - pn - 1 : 0;
	char *ctype = strndup(in, pn);
	bool page;
	(void)serve_route_one_click(ctype, body, bn, &page);
	(void)serve_route_one_click(NULL, body, bn, &page);
	(void)serve_route_machine_ua(ctype);
	static const char *const fields[] = {"email", "lang", "a", ""};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char v[16];
		for (int pass = 0; pass < 2; pass++) {
			int got = pass ? serve_form_field(in, pn, fields[i], v, sizeof(v))
			               : serve_form_field(body, bn, fields[i], v, sizeof(v));
			assert(got >= -1 && got <= 1);
			if (got == 1) {
				assert(strlen(v) < sizeof(v));
				for (const char *c = v; *c; c++)
					assert((unsigned char)*c >= 0x20 || *c == '\t' ||
					       *c == '\r' || *c == '\n');
			}
		}
	}

	struct buf out = BUF_INIT;
	struct serve_links links = {0};
	serve_links_rewrite(in, n, "https://t.example/", "TOK", "https://t.example/u/", &out,
	                    &links);
	for (size_t i = 0; i < links.n; i++)
		assert(serve_route_redirect_ok(links.url[i]));
	/* Again with the table fixed: the same links, no new one (the first pass took them all
	 * unless the table filled up). */
	size_t had = links.n;
	links.fixed = true;
	buf_reset(&out);
	serve_links_rewrite(in, n, "https://t.example/", "TOK", "https://t.example/u/", &out,
	                    &links);
	assert(links.n == had);
	serve_links_free(&links);
	buf_free(&out);
	free(ctype);
	return 0;
}
