/*
 * fuzz_dsn - libFuzzer target for src/format/dsn.c.
 *
 * Any bytes give a report that holds together: strings never NULL, kinds in
 * range, recipients only for bounces, complaints and auto-replies, and every
 * recipient an address with an '@'; the TSV rendering never fails. The same
 * input parsed twice gives the same TSV.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
run(const uint8_t *data, size_t size, struct buf *tsv)
{
	struct dsn_report r;
	CHECK(dsn_parse((const char *)data, size, &r) == 0);
	CHECK(r.kind >= DSN_BOUNCE && r.kind <= DSN_UNPARSEABLE);
	CHECK(r.why && r.format && r.feedback_type && r.orig_message_id);
	if (r.kind == DSN_NOT_BOUNCE || r.kind == DSN_UNPARSEABLE)
		CHECK(r.nrcpt == 0 && *r.why);
	CHECK(r.nrcpt <= DSN_RCPT_MAX);
	for (size_t i = 0; i < r.nrcpt; i++) {
		const struct dsn_recipient *p = &r.rcpt[i];
		CHECK(p->address && strchr(p->address, '@'));
		CHECK(p->action && p->status && p->remote_mta && p->diag_type && p->diagnostic);
		CHECK((unsigned)p->verdict.reason < BOUNCE_REASON_COUNT);
	}
	for (size_t i = 0; i < r.nenvelope; i++)
		CHECK(r.envelope[i] && strchr(r.envelope[i], '@'));
	dsn_format_tsv(&r, "fuzz", tsv);
	dsn_report_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	run(data, size, &a);
	run(data, size, &b);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	buf_free(&a);
	buf_free(&b);
	return 0;
}
