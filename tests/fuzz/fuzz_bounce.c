/*
 * fuzz_bounce - libFuzzer target for src/format/bounce.c.
 *
 * The first two bytes choose the stage and the reply code, the next bytes up
 * to a NUL the enhanced status code, the rest is the text. The verdict must
 * be in range, its names non-empty, and classifying twice gives the same. A
 * 4xx/5xx reply or a 4.x.x/5.x.x code is never a delivery, and a refusal at
 * the greeting or EHLO never a missing mailbox.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounce_class.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Is e's leading "d.d.d" (digits and dots, as the classifier reads it) a 4.x.x or 5.x.x? */
static int
failure_code(const char *e)
{
	size_t n = 0, dots = 0;
	while (n < 15 && (isdigit((unsigned char)e[n]) || e[n] == '.'))
		dots += e[n++] == '.';
	return n > 0 && dots == 2 && (e[0] == '4' || e[0] == '5') && e[1] == '.' && e[n - 1] != '.';
}

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
	if ((code >= 400 && code < 600) || failure_code(ecode))
		CHECK(a.reason != BOUNCE_DELIVERED);
	if (stage == BOUNCE_STAGE_CONNECT || stage == BOUNCE_STAGE_HELO)
		CHECK(a.reason != BOUNCE_USERUNKNOWN && a.reason != BOUNCE_FILTERED &&
		      a.reason != BOUNCE_MAILBOXFULL && a.reason != BOUNCE_SUSPEND);
	(void)bounce_classify(code, ecode, (const char *)p, n);
	(void)bounce_stage_of((const char *)p, n);
	return 0;
}
