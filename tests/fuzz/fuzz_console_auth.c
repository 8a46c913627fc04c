/*
 * fuzz_console_auth - the console's Cookie and Origin readers (console_auth.h).
 * The input is split at the first NUL into a Cookie header and, after it, an
 * Origin and a Host (split at the next NUL). Invariants: a session token found
 * is exactly CONSOLE_TOKEN_CHARS base64url characters and appears in the
 * header after "kirim_session="; its CSRF token is 64 hex digits that check
 * against it and against no other token; an Origin accepted is the Host with
 * the scheme in front.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/console_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Three NUL-terminated parts, the missing ones empty. */
	char *in = malloc(size + 3);
	memcpy(in, data, size);
	in[size] = in[size + 1] = in[size + 2] = '\0';
	const char *cookie = in;
	const char *origin = cookie + strlen(cookie) + 1;
	const char *host = origin + strlen(origin) + 1;

	char tok[CONSOLE_TOKEN_CHARS + 1];
	if (console_cookie(cookie, tok, sizeof(tok)) == 0) {
		assert(strlen(tok) == CONSOLE_TOKEN_CHARS);
		for (size_t i = 0; i < CONSOLE_TOKEN_CHARS; i++)
			assert(
			    strchr(
			        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
			        tok[i]) &&
			    tok[i] != '\0');
		char *at = strstr(cookie, CONSOLE_COOKIE "=");
		assert(at && strstr(at, tok));
		char csrf[CONSOLE_CSRF_CHARS + 1];
		assert(console_csrf(tok, csrf) == 0);
		assert(strlen(csrf) == CONSOLE_CSRF_CHARS &&
		       strspn(csrf, "0123456789abcdef") == 64);
		assert(console_csrf_ok(tok, csrf));
		tok[0] = tok[0] == 'A' ? 'B' : 'A';
		assert(!console_csrf_ok(tok, csrf));
	}
	for (int https = 0; https < 2; https++) {
		if (!console_origin_ok(origin, host, https))
			continue;
		const char *scheme = https ? "https://" : "http://";
		assert(strncasecmp(origin, scheme, strlen(scheme)) == 0);
		assert(*host && strcasecmp(origin + strlen(scheme), host) == 0);
	}
	free(in);
	return 0;
}
