/*
 * test_token - table tests for src/format/token.c.
 *
 * Round trips over a table of ids in both alphabets and every purpose;
 * known answers computed independently (Python's hmac and base64 modules);
 * refusals: wrong key, wrong purpose, every single-character change, every
 * truncation, appended bytes, non-alphabet characters, negative ids; and
 * hand-built tokens with a valid tag around a malformed payload (overlong or
 * over-wide varints, trailing bytes, short tag), so that the tag check is not
 * what refuses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kirim/token.h"

static const char key[] = "kirim-test-key-0123456789abcdef!";
#define KEYLEN (sizeof(key) - 1)

/*
 * tk - the token_key for these key bytes. The last one is kept and reused
 * while the bytes stay the same; teardown frees it.
 */
static struct token_key *tk_last;
static unsigned char tk_bytes[128];
static size_t tk_len = (size_t)-1;

static struct token_key *
tk(const void *k, size_t klen)
{
	if (tk_last && klen == tk_len && klen <= sizeof(tk_bytes) && memcmp(k, tk_bytes, klen) == 0)
		return tk_last;
	token_key_free(tk_last);
	tk_last = token_key_new(k, klen);
	tk_len = klen <= sizeof(tk_bytes) ? klen : (size_t)-1;
	if (klen <= sizeof(tk_bytes))
		memcpy(tk_bytes, k, klen);
	return tk_last;
}

static int
tk_teardown(void **state)
{
	(void)state;
	token_key_free(tk_last);
	tk_last = NULL;
	tk_len = (size_t)-1;
	return 0;
}

static const enum token_purpose purposes[] = {
    TOKEN_UNSUBSCRIBE, TOKEN_BOUNCE, TOKEN_OPEN, TOKEN_CLICK, TOKEN_VIEW, TOKEN_MESSAGE_ID,
};
#define NPURPOSES (sizeof(purposes) / sizeof(purposes[0]))

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b32_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

#define FAILF(...)                                                                                 \
	do {                                                                                       \
		print_error(__VA_ARGS__);                                                          \
		fail();                                                                            \
	} while (0)

/* Check that s (n bytes) is refused for purpose p with key k. */
static void
want_refused(const char *label, const void *k, size_t klen, enum token_purpose p, const char *s,
             size_t n)
{
	int64_t a = -7, b = -7;

	if (token_check(tk(k, klen), p, s, n, &a, &b) == 0)
		FAILF("%s: token '%.*s' accepted (campaign %lld contact %lld), want refused\n",
		      label, (int)n, s, (long long)a, (long long)b);
	if (a != -7 || b != -7)
		FAILF("%s: out-params written on failure\n", label);
}

static void
want_ok(const char *label, const void *k, size_t klen, enum token_purpose p, const char *s,
        int64_t wa, int64_t wb)
{
	int64_t a = -1, b = -1;

	if (token_check(tk(k, klen), p, s, strlen(s), &a, &b) != 0)
		FAILF("%s: token '%s' refused, want campaign %lld contact %lld\n", label, s,
		      (long long)wa, (long long)wb);
	if (a != wa || b != wb)
		FAILF("%s: got campaign %lld contact %lld, want %lld %lld\n", label, (long long)a,
		      (long long)b, (long long)wa, (long long)wb);
}

struct ids {
	const char *label;
	int64_t campaign, contact;
};

static const struct ids idcases[] = {
    {"zeros", 0, 0},
    {"ones", 1, 1},
    {"127 (one varint byte)", 127, 127},
    {"128 (two varint bytes)", 128, 128},
    {"mixed 127/128", 127, 128},
    {"2^31", INT64_C(2147483648), INT64_C(2147483648)},
    {"2^62", INT64_C(4611686018427387904), INT64_C(4611686018427387904)},
    {"INT64_MAX", INT64_MAX, INT64_MAX},
    {"0 and 2^62", 0, INT64_C(4611686018427387904)},
};

static void
test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		const struct ids *c = &idcases[i];
		for (size_t j = 0; j < NPURPOSES; j++) {
			char t[TOKEN_MAX], l[TOKEN_MAX];
			size_t n =
			    token_make(tk(key, KEYLEN), purposes[j], c->campaign, c->contact, t);
			size_t m = token_make_lower(tk(key, KEYLEN), purposes[j], c->campaign,
			                            c->contact, l);
			if (n == 0 || n != strlen(t) || n >= TOKEN_MAX)
				FAILF("%s: token_make returned %zu for '%s'\n", c->label, n, t);
			if (m == 0 || m != strlen(l) || m >= TOKEN_MAX)
				FAILF("%s: token_make_lower returned %zu for '%s'\n", c->label, m,
				      l);
			/* token_make_both: the same two tokens from one HMAC. */
			char bt[TOKEN_MAX], bl[TOKEN_MAX];
			size_t nb = token_make_both(tk(key, KEYLEN), purposes[j], c->campaign,
			                            c->contact, bt, bl);
			if (nb != n || strcmp(bt, t) != 0 || strcmp(bl, l) != 0)
				FAILF("%s: token_make_both gave %zu '%s' '%s', want '%s' '%s'\n",
				      c->label, nb, bt, bl, t, l);
			if (strspn(t, b64_alpha) != n)
				FAILF("%s: '%s' not base64url\n", c->label, t);
			if (strspn(l, b32_alpha) != m)
				FAILF("%s: '%s' not lower base32\n", c->label, l);
			want_ok(c->label, key, KEYLEN, purposes[j], t, c->campaign, c->contact);
			want_ok(c->label, key, KEYLEN, purposes[j], l, c->campaign, c->contact);
		}
	}
}

struct known {
	const char *label;
	enum token_purpose purpose;
	int64_t campaign, contact;
	const char *b64, *b32;
};

/* From Python: hmac.new(key, purpose + leb128(a) + leb128(b), sha256), first 12 bytes. */
static const struct known known[] = {
    {"u 1 300", TOKEN_UNSUBSCRIBE, 1, 300, "AawCnWBY8-R_ud2ZEIex", "agwafhlaldz6i75z3wmrbb5r"},
    {"b 0 0", TOKEN_BOUNCE, 0, 0, "AADJ7e5GZFV7H0j1pac", "aaamt3poizsfk6y7jd22ljy"},
    {"m 2^62 2^31", TOKEN_MESSAGE_ID, INT64_C(4611686018427387904), INT64_C(2147483648),
     "gICAgICAgIBAgICAgAiYIrLTUs1mFLBqtDk", "qcaibaeaqcaiaqeaqcaiaceyekznguwnmykla2vuhe"},
    {"c max 127", TOKEN_CLICK, INT64_MAX, 127, "__________9_f4mgDnAB2LAawpKG_w",
     "7777777777776737rgqa44ab3cybvqusq37q"},
};

static void
test_known_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct known *c = &known[i];
		char t[TOKEN_MAX];

		token_make(tk(key, KEYLEN), c->purpose, c->campaign, c->contact, t);
		if (strcmp(t, c->b64) != 0)
			FAILF("%s: got '%s', want '%s'\n", c->label, t, c->b64);
		token_make_lower(tk(key, KEYLEN), c->purpose, c->campaign, c->contact, t);
		if (strcmp(t, c->b32) != 0)
			FAILF("%s: got '%s', want '%s'\n", c->label, t, c->b32);
	}
}

static void
test_negative_and_bad_purpose(void **state)
{
	static const struct {
		const char *label;
		int purpose;
		int64_t campaign, contact;
	} cases[] = {
	    {"negative campaign", TOKEN_OPEN, -1, 5},
	    {"negative contact", TOKEN_OPEN, 5, -1},
	    {"INT64_MIN", TOKEN_OPEN, INT64_MIN, 0},
	    {"unknown purpose", 'x', 1, 1},
	    {"purpose 0", 0, 1, 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char t[TOKEN_MAX] = "junk";
		size_t n = token_make(tk(key, KEYLEN), (enum token_purpose)cases[i].purpose,
		                      cases[i].campaign, cases[i].contact, t);
		if (n != 0 || t[0] != '\0')
			FAILF("%s: got %zu '%s', want 0 ''\n", cases[i].label, n, t);
		strcpy(t, "junk");
		n = token_make_lower(tk(key, KEYLEN), (enum token_purpose)cases[i].purpose,
		                     cases[i].campaign, cases[i].contact, t);
		if (n != 0 || t[0] != '\0')
			FAILF("%s (lower): got %zu '%s', want 0 ''\n", cases[i].label, n, t);
		char l[TOKEN_MAX] = "junk";
		strcpy(t, "junk");
		n = token_make_both(tk(key, KEYLEN), (enum token_purpose)cases[i].purpose,
		                    cases[i].campaign, cases[i].contact, t, l);
		if (n != 0 || t[0] != '\0' || l[0] != '\0')
			FAILF("%s (both): got %zu '%s' '%s', want 0 '' ''\n", cases[i].label, n, t,
			      l);
	}
	/* A good token checked for an unknown purpose is refused. */
	char t[TOKEN_MAX];
	token_make(tk(key, KEYLEN), TOKEN_OPEN, 1, 2, t);
	want_refused("check with purpose 'x'", key, KEYLEN, (enum token_purpose)'x', t, strlen(t));
}

static void
test_wrong_key_and_purpose(void **state)
{
	static const char other[] = "kirim-test-key-0123456789abcdef?";
	(void)state;
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		for (size_t j = 0; j < NPURPOSES; j++) {
			char t[TOKEN_MAX], l[TOKEN_MAX];
			token_make(tk(key, KEYLEN), purposes[j], idcases[i].campaign,
			           idcases[i].contact, t);
			token_make_lower(tk(key, KEYLEN), purposes[j], idcases[i].campaign,
			                 idcases[i].contact, l);
			want_refused("wrong key", other, sizeof(other) - 1, purposes[j], t,
			             strlen(t));
			want_refused("wrong key lower", other, sizeof(other) - 1, purposes[j], l,
			             strlen(l));
			want_refused("shorter key", key, KEYLEN - 1, purposes[j], t, strlen(t));
			want_refused("empty key", "", 0, purposes[j], t, strlen(t));
			for (size_t k = 0; k < NPURPOSES; k++) {
				if (k == j)
					continue;
				want_refused("wrong purpose", key, KEYLEN, purposes[k], t,
				             strlen(t));
				want_refused("wrong purpose lower", key, KEYLEN, purposes[k], l,
				             strlen(l));
			}
		}
	}
}

/* Every change of one character to any other byte is refused (except base32 case). */
static void
alter_each(const char *label, const char *tok, enum token_purpose p, int base32)
{
	size_t n = strlen(tok);
	char t[TOKEN_MAX];

	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < 256; c++) {
			if (c == (unsigned char)tok[i])
				continue;
			/* Upper-casing a base32 letter is not a change: mail may do it. */
			if (base32 && c >= 'A' && c <= 'Z' && c - 'A' + 'a' == tok[i])
				continue;
			memcpy(t, tok, n + 1);
			t[i] = (char)c;
			want_refused(label, key, KEYLEN, p, t, n);
		}
	}
}

static void
test_every_alteration(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		char t[TOKEN_MAX], l[TOKEN_MAX];
		token_make(tk(key, KEYLEN), TOKEN_CLICK, idcases[i].campaign, idcases[i].contact,
		           t);
		token_make_lower(tk(key, KEYLEN), TOKEN_CLICK, idcases[i].campaign,
		                 idcases[i].contact, l);
		alter_each(idcases[i].label, t, TOKEN_CLICK, 0);
		alter_each(idcases[i].label, l, TOKEN_CLICK, 1);
	}
}

static void
test_truncation_and_extension(void **state)
{
	static const char *const tails[] = {"A", "a", "AA", "aa", "=", "==", "\n", " ", "\0"};
	(void)state;
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		char toks[2][TOKEN_MAX];
		token_make(tk(key, KEYLEN), TOKEN_VIEW, idcases[i].campaign, idcases[i].contact,
		           toks[0]);
		token_make_lower(tk(key, KEYLEN), TOKEN_VIEW, idcases[i].campaign,
		                 idcases[i].contact, toks[1]);
		for (int w = 0; w < 2; w++) {
			size_t n = strlen(toks[w]);
			for (size_t k = 0; k < n; k++)
				want_refused("truncated", key, KEYLEN, TOKEN_VIEW, toks[w], k);
			for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
				char t[2 * TOKEN_MAX];
				size_t tl = tails[k][0] ? strlen(tails[k]) : 1;
				memcpy(t, toks[w], n);
				memcpy(t + n, tails[k], tl);
				want_refused("extended", key, KEYLEN, TOKEN_VIEW, t, n + tl);
			}
			/* Dropping the first character is refused too. */
			want_refused("first dropped", key, KEYLEN, TOKEN_VIEW, toks[w] + 1, n - 1);
		}
	}
}

static void
test_not_tokens(void **state)
{
	static const struct {
		const char *label;
		const char *s;
	} cases[] = {
	    {"empty", ""},
	    {"one char", "A"},
	    {"padding", "AawCnWBY8-R_ud2ZEIex=="},
	    {"standard base64 plus", "AawCnWBY8+R_ud2ZEIex"},
	    {"standard base64 slash", "AawCnWBY8-R/ud2ZEIex"},
	    {"space inside", "AawCnWBY8-R ud2ZEIex"},
	    {"leading space", " AawCnWBY8-R_ud2ZEIex"},
	    {"dot", "agwafhlaldz6i75z3wmrbb5r."},
	    {"base32 digit 1", "agwafhlaldz6i75z3wmrbb51"},
	    {"base32 digit 8", "agwafhlaldz6i75z3wmrbb58"},
	    {"utf-8", "agwafhlaldz6i75z3wmrbb5\xc3\xa9"},
	    {"too long", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		want_refused(cases[i].label, key, KEYLEN, TOKEN_UNSUBSCRIBE, cases[i].s,
		             strlen(cases[i].s));
	/* The same bytes with a NUL inside. */
	want_refused("NUL inside", key, KEYLEN, TOKEN_UNSUBSCRIBE, "AawCnWBY8\0R_ud2ZEIex", 20);
	int64_t a, b;
	assert_int_equal(token_check(tk(key, KEYLEN), TOKEN_UNSUBSCRIBE, NULL, 0, &a, &b), -1);
	/* The known token itself passes, so the refusals above are about the changes. */
	want_ok("known", key, KEYLEN, TOKEN_UNSUBSCRIBE, "AawCnWBY8-R_ud2ZEIex", 1, 300);
}

static void
test_base32_case(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		char l[TOKEN_MAX], up[TOKEN_MAX], mixed[TOKEN_MAX];
		size_t n = token_make_lower(tk(key, KEYLEN), TOKEN_BOUNCE, idcases[i].campaign,
		                            idcases[i].contact, l);
		for (size_t k = 0; k <= n; k++) {
			up[k] = (l[k] >= 'a' && l[k] <= 'z') ? (char)(l[k] - 32) : l[k];
			mixed[k] = (k % 2) ? up[k] : l[k];
		}
		want_ok("upper-case base32", key, KEYLEN, TOKEN_BOUNCE, up, idcases[i].campaign,
		        idcases[i].contact);
		want_ok("mixed-case base32", key, KEYLEN, TOKEN_BOUNCE, mixed, idcases[i].campaign,
		        idcases[i].contact);
		/* Case matters for base64url: the upper-cased form is another token. */
		char t[TOKEN_MAX];
		size_t m = token_make(tk(key, KEYLEN), TOKEN_BOUNCE, idcases[i].campaign,
		                      idcases[i].contact, t);
		int changed = 0;
		for (size_t k = 0; k < m; k++) {
			if (t[k] >= 'a' && t[k] <= 'z') {
				t[k] = (char)(t[k] - 32);
				changed = 1;
			}
		}
		if (changed)
			want_refused("upper-cased base64url", key, KEYLEN, TOKEN_BOUNCE, t, m);
	}
}

/*
 * Hand-built tokens: payload bytes (after the purpose) plus a valid tag, plus
 * extra bytes, encoded as base64url and as base32.
 */
static void
b64url(const unsigned char *p, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64_alpha[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = b64_alpha[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

static void
b32(const unsigned char *p, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alpha[(acc >> bits) & 31];
		}
	}
	if (bits)
		out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

struct crafted {
	const char *label;
	const char *payload; /* bytes after the purpose, hex */
	const char *extra;   /* bytes after the tag, hex */
	int taglen;          /* bytes of tag written (12 normally) */
	int ok;              /* 1: must be accepted as campaign, contact */
	int64_t campaign, contact;
};

static const struct crafted crafted[] = {
    {"plain", "01ac02", "", 12, 1, 1, 300},
    {"two-byte varints", "ac02ac02", "", 12, 1, 300, 300},
    {"overlong zero", "800001", "", 12, 0, 0, 0},
    {"overlong one", "810001", "", 12, 0, 0, 0},
    {"overlong second", "01ac8200", "", 12, 0, 0, 0},
    {"nine bytes max", "ffffffffffffffff7f00", "", 12, 1, INT64_MAX, 0},
    {"ten-byte varint", "ffffffffffffffffff0100", "", 12, 0, 0, 0},
    {"nine bytes with continuation", "ffffffffffffffffff00", "", 12, 0, 0, 0},
    {"one varint only", "01", "", 12, 0, 0, 0},
    {"no varints", "", "", 12, 0, 0, 0},
    {"trailing byte", "0102", "00", 12, 0, 0, 0},
    {"trailing bytes", "0102", "616263", 12, 0, 0, 0},
    {"short tag", "0102", "", 11, 0, 0, 0},
    {"three varints", "010203", "", 12, 0, 0, 0},
};

static size_t
unhex(const char *h, unsigned char *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static void
test_crafted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		const struct crafted *c = &crafted[i];
		unsigned char msg[64], raw[64], md[EVP_MAX_MD_SIZE];
		unsigned mdlen;
		char t[128];
		size_t pl, n;

		msg[0] = TOKEN_OPEN;
		pl = unhex(c->payload, msg + 1);
		assert_non_null(HMAC(EVP_sha256(), key, (int)KEYLEN, msg, 1 + pl, md, &mdlen));
		memcpy(raw, msg + 1, pl);
		memcpy(raw + pl, md, (size_t)c->taglen);
		n = pl + (size_t)c->taglen;
		n += unhex(c->extra, raw + n);
		for (int w = 0; w < 2; w++) {
			if (w == 0)
				b64url(raw, n, t);
			else
				b32(raw, n, t);
			if (c->ok)
				want_ok(c->label, key, KEYLEN, TOKEN_OPEN, t, c->campaign,
				        c->contact);
			else
				want_refused(c->label, key, KEYLEN, TOKEN_OPEN, t, strlen(t));
		}
	}
}

/* Non-zero leftover bits in the last character make another spelling: refused. */
static void
test_noncanonical_tail(void **state)
{
	(void)state;
	/* "AawCnWBY8-R_ud2ZEIex": 20 chars = 15 bytes, no leftover; use a 19-char token. */
	char t[TOKEN_MAX];
	size_t n = token_make(tk(key, KEYLEN), TOKEN_BOUNCE, 0, 0, t); /* "AADJ7e5GZFV7H0j1pac" */
	assert_int_equal(n, 19);
	/* 'c' = 28 = 0b011100: the last 2 bits are unused; 'd' = 29 sets one. */
	t[n - 1] = 'd';
	want_refused("base64url leftover bits", key, KEYLEN, TOKEN_BOUNCE, t, n);
	n = token_make_lower(tk(key, KEYLEN), TOKEN_BOUNCE, 0, 0, t); /* "...ljy" 23 chars */
	assert_int_equal(n, 23);
	/* 23 chars * 5 = 115 bits = 14 bytes + 3 unused bits: 'y' = 24 = 0b11000. */
	t[n - 1] = 'z';
	want_refused("base32 leftover bits", key, KEYLEN, TOKEN_BOUNCE, t, n);
}

/*
 * Expiring tokens (TOKEN_CONFIRM): a round trip over the id table with several
 * expiry times, known answers from Python (three varints under purpose 'k'),
 * and refusals: every single-character change, an expiry moved onto another
 * token, a two-id token of the same key, and the purposes mixed up.
 */
static void
test_expiring(void **state)
{
	(void)state;
	static const int64_t times[] = {0, 1, 1700000000, INT64_C(1) << 40, INT64_MAX};
	struct token_key *k = tk(key, KEYLEN);
	for (size_t i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++) {
		const struct ids *c = &idcases[i];
		for (size_t j = 0; j < sizeof(times) / sizeof(times[0]); j++) {
			char t[TOKEN_MAX];
			int64_t a = -1, b = -1, e = -1;
			size_t n = token_make_expiring(k, TOKEN_CONFIRM, c->campaign, c->contact,
			                               times[j], t);
			if (n == 0 || n != strlen(t) || n > 52 || strspn(t, b64_alpha) != n)
				FAILF("%s: token_make_expiring gave %zu '%s'\n", c->label, n, t);
			if (token_check_expiring(k, TOKEN_CONFIRM, t, n, &a, &b, &e) != 0 ||
			    a != c->campaign || b != c->contact || e != times[j])
				FAILF("%s at %lld: '%s' gave %lld %lld %lld\n", c->label,
				      (long long)times[j], t, (long long)a, (long long)b,
				      (long long)e);
			/* Not a token of the two-id kind, for any purpose. */
			if (token_check(k, TOKEN_CONFIRM, t, n, &a, &b) == 0 ||
			    token_check(k, TOKEN_UNSUBSCRIBE, t, n, &a, &b) == 0)
				FAILF("%s: expiring '%s' passed token_check\n", c->label, t);
		}
	}
	static const struct {
		int64_t a, b, e;
		const char *want;
	} known_k[] = {
	    {3, 42, 1700000000, "AyqA4s-qBvqEjTpJmhLLTB0GzA"},
	    {0, 0, 0, "AAAAWdM2E_CmXRqomLMe"},
	};
	for (size_t i = 0; i < sizeof(known_k) / sizeof(known_k[0]); i++) {
		char t[TOKEN_MAX];
		token_make_expiring(k, TOKEN_CONFIRM, known_k[i].a, known_k[i].b, known_k[i].e, t);
		if (strcmp(t, known_k[i].want) != 0)
			FAILF("known %zu: got '%s', want '%s'\n", i, t, known_k[i].want);
	}
	/* Every one-character change is refused, the expiry cannot be changed or moved. */
	char t[TOKEN_MAX], other[TOKEN_MAX], two[TOKEN_MAX];
	size_t n = token_make_expiring(k, TOKEN_CONFIRM, 7, 9, 1700000000, t);
	token_make_expiring(k, TOKEN_CONFIRM, 7, 9, 1900000000, other);
	for (size_t i = 0; i < n; i++) {
		for (const char *a = b64_alpha; *a; a++) {
			char m[TOKEN_MAX];
			int64_t x, y, e;
			if (*a == t[i])
				continue;
			memcpy(m, t, n + 1);
			m[i] = *a;
			if (token_check_expiring(k, TOKEN_CONFIRM, m, n, &x, &y, &e) == 0)
				FAILF("altered '%s' accepted (expires %lld)\n", m, (long long)e);
		}
	}
	if (strcmp(t, other) == 0)
		FAILF("two expiry times gave one token '%s'\n", t);
	/* A two-id token of the same ids is refused here; purposes cannot be swapped. */
	int64_t x, y, e;
	size_t m = token_make(k, TOKEN_UNSUBSCRIBE, 7, 9, two);
	if (token_check_expiring(k, TOKEN_CONFIRM, two, m, &x, &y, &e) == 0)
		FAILF("two-id token '%s' passed token_check_expiring\n", two);
	if (token_make(k, TOKEN_CONFIRM, 7, 9, two) != 0 || two[0] != '\0')
		FAILF("token_make made a confirmation token without an expiry\n");
	if (token_make_expiring(k, TOKEN_UNSUBSCRIBE, 7, 9, 1, two) != 0 ||
	    token_make_expiring(k, TOKEN_CONFIRM, 7, 9, -1, two) != 0 ||
	    token_make_expiring(k, TOKEN_CONFIRM, -7, 9, 1, two) != 0)
		FAILF("token_make_expiring made a token it must refuse\n");
	if (token_check_expiring(k, TOKEN_CONFIRM, t, n - 1, &x, &y, &e) == 0 ||
	    token_check_expiring(tk("other key 0123456789", 20), TOKEN_CONFIRM, t, n, &x, &y, &e) ==
	        0)
		FAILF("a truncated token or another key's was accepted\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_negative_and_bad_purpose),
	    cmocka_unit_test(test_wrong_key_and_purpose),
	    cmocka_unit_test(test_every_alteration),
	    cmocka_unit_test(test_truncation_and_extension),
	    cmocka_unit_test(test_not_tokens),
	    cmocka_unit_test(test_base32_case),
	    cmocka_unit_test(test_crafted),
	    cmocka_unit_test(test_noncanonical_tail),
	    cmocka_unit_test(test_expiring),
	};
	return cmocka_run_group_tests(tests, NULL, tk_teardown);
}
