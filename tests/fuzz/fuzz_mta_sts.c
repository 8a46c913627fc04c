/*
 * fuzz_mta_sts - libFuzzer target for src/format/mta_sts.c.
 *
 * The input is a policy file and, split at NUL bytes, a set of TXT records.
 * Properties: an accepted policy keeps every documented limit, its mx
 * patterns are lower case and match the host they name (a wildcard one host
 * below it), and what mta_sts_policy_format writes parses back to the same
 * text; an accepted TXT id is 1 to 32 letters and digits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mta_sts_policy p;
	const char *reason = NULL;
	if (mta_sts_policy_parse((const char *)data, size, &p, &reason) == 0) {
		CHECK(size <= MTA_STS_BODY_MAX);
		CHECK(p.mode <= MTA_STS_ENFORCE);
		CHECK(p.max_age >= 0 && p.max_age <= MTA_STS_MAX_AGE_MAX);
		CHECK(p.nmx <= MTA_STS_MX_MAX);
		CHECK(p.mode == MTA_STS_NONE || p.nmx > 0);
		for (size_t i = 0; i < p.nmx; i++) {
			const char *m = p.mx[i];
			size_t n = strlen(m);
			CHECK(n > 0 && n < 256);
			for (size_t k = 0; k < n; k++)
				CHECK(!(m[k] >= 'A' && m[k] <= 'Z'));
			char host[300];
			if (m[0] == '*')
				snprintf(host, sizeof(host), "x%s", m + 1);
			else
				snprintf(host, sizeof(host), "%s", m);
			CHECK(mta_sts_mx_match(&p, host));
		}
		struct buf out = BUF_INIT, again = BUF_INIT;
		mta_sts_policy_format(&p, &out);
		struct mta_sts_policy q;
		CHECK(mta_sts_policy_parse(out.data, out.len, &q, &reason) == 0);
		mta_sts_policy_format(&q, &again);
		CHECK(out.len == again.len && memcmp(out.data, again.data, out.len) == 0);
		buf_free(&out);
		buf_free(&again);
	} else {
		CHECK(reason != NULL);
	}

	/* TXT records: the input cut at NUL bytes, at most 8 of them. */
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	const char *recs[8];
	size_t n = 0;
	for (size_t off = 0; off <= size && n < 8;) {
		recs[n++] = copy + off;
		off += strlen(copy + off) + 1;
	}
	char id[MTA_STS_ID_MAX];
	if (mta_sts_txt_select(recs, n, id, &reason) == 0) {
		size_t il = strlen(id);
		CHECK(il >= 1 && il <= 32);
		for (size_t k = 0; k < il; k++)
			CHECK((id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'z') ||
			      (id[k] >= 'A' && id[k] <= 'Z'));
	}
	free(copy);
	return 0;
}
