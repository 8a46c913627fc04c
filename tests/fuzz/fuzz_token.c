/*
 * fuzz_token - libFuzzer target for src/format/token.c.
 *
 * The first input byte picks the purpose, the rest is a candidate token.
 * token_check must never crash, and whatever it accepts must be exactly what
 * token_make (or, ignoring case, token_make_lower) writes for the ids it
 * returned: no second spelling of a token is ever accepted. Inputs of the form
 * "!" + ids also make tokens and check that they verify, so the accepting
 * path is covered too. A first byte of 0xe0 to 0xef checks the input as an
 * expiring confirmation token (TOKEN_CONFIRM) the same way: what it accepts
 * is exactly what token_make_expiring writes, and token_check never takes it.
 * Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static const char key[] = "fuzz-key-0123456789abcdef";
static struct token_key *the_key;

/* fuzz_key - one key schedule for the whole run */
static struct token_key *
fuzz_key(void)
{
	if (the_key == NULL)
		the_key = token_key_new(key, sizeof(key) - 1);
	return the_key;
}

static const enum token_purpose purposes[] = {
    TOKEN_UNSUBSCRIBE, TOKEN_BOUNCE, TOKEN_OPEN, TOKEN_CLICK, TOKEN_VIEW, TOKEN_MESSAGE_ID,
};

static void
make_and_check(enum token_purpose p, const uint8_t *data, size_t size)
{
	int64_t ids[2] = {0, 0}, a, b;
	char t[TOKEN_MAX], l[TOKEN_MAX];

	memcpy(ids, data, size < sizeof(ids) ? size : sizeof(ids));
	size_t n = token_make(fuzz_key(), p, ids[0], ids[1], t);
	size_t m = token_make_lower(fuzz_key(), p, ids[0], ids[1], l);
	if (ids[0] < 0 || ids[1] < 0) {
		CHECK(n == 0 && m == 0);
		return;
	}
	CHECK(n > 0 && n < TOKEN_MAX && m > 0 && m < TOKEN_MAX);
	CHECK(token_check(fuzz_key(), p, t, n, &a, &b) == 0);
	CHECK(a == ids[0] && b == ids[1]);
	CHECK(token_check(fuzz_key(), p, l, m, &a, &b) == 0);
	CHECK(a == ids[0] && b == ids[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum token_purpose p = purposes[data[0] % (sizeof(purposes) / sizeof(purposes[0]))];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	int64_t a = -1, b = -1;

	if (data[0] >= 0xf0) {
		make_and_check(p, data + 1, n);
		return 0;
	}
	if (data[0] >= 0xe0) {
		int64_t e = -1;
		char t[TOKEN_MAX];
		if (token_check_expiring(fuzz_key(), TOKEN_CONFIRM, s, n, &a, &b, &e) != 0) {
			CHECK(a == -1 && b == -1 && e == -1);
			return 0;
		}
		CHECK(token_check(fuzz_key(), TOKEN_CONFIRM, s, n, &a, &b) != 0);
		size_t tn = token_make_expiring(fuzz_key(), TOKEN_CONFIRM, a, b, e, t);
		CHECK(tn == n && memcmp(t, s, n) == 0);
		return 0;
	}
	if (token_check(fuzz_key(), p, s, n, &a, &b) != 0) {
		CHECK(a == -1 && b == -1);
		return 0;
	}
	CHECK(a >= 0 && b >= 0);
	char t[TOKEN_MAX], l[TOKEN_MAX];
	size_t tn = token_make(fuzz_key(), p, a, b, t);
	size_t ln = token_make_lower(fuzz_key(), p, a, b, l);
	CHECK((tn == n && memcmp(t, s, n) == 0) ||
	      (ln == n && memchr(s, '\0', n) == NULL && strncasecmp(l, s, n) == 0));
	return 0;
}
