/*
 * fuzz_bounce - libFuzzer target for src/format/bounce.c.
 *
 * The first two bytes choose the stage and the reply code, the next bytes up
 * to a NUL the enhanced status code, the rest is the text. The verdict must
 * be in range, its names non-empty, and classifying twice gives the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum bounce_stage stage = (enum bounce_stage)(data[0] % 6);
	int code = 200 + data[1] * 2;
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	const uint8_t *nul = memchr(p, '\0', n < 32 ? n : 32);
	char ecode[33] = "";
	if (nul) {
		memcpy(ecode, p, (size_t)(nul - p));
		ecode[nul - p] = '\0';
		n -= (size_t)(nul - p) + 1;
		p = nul + 1;
	}
	struct bounce_verdict a = bounce_classify_stage(stage, code, ecode, (const char *)p, n);
	struct bounce_verdict b = bounce_classify_stage(stage, code, ecode, (const char *)p, n);
	CHECK(a.reason == b.reason && a.cls == b.cls && a.scope == b.scope);
	CHECK((unsigned)a.reason < BOUNCE_REASON_COUNT);
	CHECK(*bounce_reason_name(a.reason) && *bounce_class_name(a.cls));
	CHECK(*bounce_scope_name(a.scope));
	(void)bounce_classify(code, ecode, (const char *)p, n);
	(void)bounce_stage_of((const char *)p, n);
	return 0;
}
