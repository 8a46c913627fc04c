/*
 * fuzz_dkim - sign random message bytes with an Ed25519 key.
 *
 * Either dkim_sign fails with a message, or it appends one header field that
 * starts with "DKIM-Signature:", ends with CRLF, has no bare CR or LF and folds
 * only with CRLF TAB. The relaxed canonicalizers get the same bytes: the body
 * form must match a plain line-by-line version, be idempotent and end in CRLF
 * unless empty; the header form must be idempotent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/dkim.h"

static struct dkim_signer *signer;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_dkim: %s\n", what);
		abort();
	}
}

/* RFC 6376 3.4.4 the obvious way, line by line, to check the one-pass version. */
static void
naive_body(const char *p, size_t n, struct buf *out)
{
	struct buf lines = BUF_INIT;
	size_t keep = 0, i = 0;

	while (i < n) {
		size_t start = lines.len;
		int pend = 0;
		while (i < n && !(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')) {
			if (p[i] == ' ' || p[i] == '\t') {
				pend = 1;
			} else {
				if (pend)
					buf_addc(&lines, ' ');
				pend = 0;
				buf_addc(&lines, p[i]);
			}
			i++;
		}
		int empty = lines.len == start;
		buf_add(&lines, "\r\n", 2);
		if (!empty)
			keep = lines.len;
		if (i < n)
			i += 2;
	}
	buf_add(out, lines.data, keep);
	buf_free(&lines);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf pem = BUF_INIT;
	struct dkim_key *key;
	char err[256];

	(void)argc;
	(void)argv;
	check(dkim_keygen(DKIM_KEY_ED25519, 0, &pem, err, sizeof(err)) == 0, "keygen");
	check(dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)) == 0, "key load");
	check(dkim_signer_new(key, "example.com", "fuzz", &signer, err, sizeof(err)) == 0,
	      "signer");
	dkim_key_free(key); /* the signer keeps its own reference */
	buf_free(&pem);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct buf out = BUF_INIT, canon = BUF_INIT, again = BUF_INIT;
	char err[256] = "";

	if (dkim_sign(signer, msg, size, 1700000000, &out, err, sizeof(err)) == 0) {
		check(out.len > 17 && memcmp(out.data, "DKIM-Signature:", 15) == 0, "prefix");
		check(memcmp(out.data + out.len - 2, "\r\n", 2) == 0, "final CRLF");
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] == '\n')
				check(i > 0 && out.data[i - 1] == '\r', "bare LF in signature");
			if (out.data[i] == '\r') {
				check(i + 1 < out.len && out.data[i + 1] == '\n', "bare CR");
				check(i + 2 == out.len || out.data[i + 2] == '\t',
				      "fold not CRLF TAB");
			}
		}
	} else {
		check(out.len == 0, "output on error");
		check(err[0] != '\0', "error without a message");
	}

	if (dkim_canon_body(msg, size, &canon) == 0) {
		check(canon.len == 0 ||
		          (canon.len >= 2 && memcmp(canon.data + canon.len - 2, "\r\n", 2) == 0),
		      "canonical body does not end in CRLF");
		naive_body(msg, size, &again);
		check(again.len == canon.len &&
		          (canon.len == 0 || memcmp(again.data, canon.data, canon.len) == 0),
		      "body canonicalization differs from the line-by-line one");
		buf_reset(&again);
		check(dkim_canon_body(canon.data ? canon.data : "", canon.len, &again) == 0,
		      "canonical body refused");
		check(again.len == canon.len &&
		          (canon.len == 0 || memcmp(again.data, canon.data, canon.len) == 0),
		      "body canonicalization not idempotent");
	} else {
		check(canon.len == 0, "body output on error");
	}
	buf_reset(&canon);
	buf_reset(&again);
	if (dkim_canon_header(msg, size, &canon) == 0) {
		check(dkim_canon_header(canon.data, canon.len, &again) == 0,
		      "canonical header refused");
		check(again.len == canon.len && memcmp(again.data, canon.data, canon.len) == 0,
		      "header canonicalization not idempotent");
	} else {
		check(canon.len == 0, "header output on error");
	}

	buf_free(&out);
	buf_free(&canon);
	buf_free(&again);
	return 0;
}
