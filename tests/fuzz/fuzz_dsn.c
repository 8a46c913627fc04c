/*
 * fuzz_dsn - libFuzzer target for src/format/dsn.c.
 *
 * Any bytes give a report that holds together: strings never NULL, kinds in
 * range, recipients only for bounces, complaints and auto-replies, and every
 * recipient an address with an '@' and a non-empty local part and domain;
 * nothing a report does not say delivered (Action: delivered, relayed,
 * expanded) comes out delivered; the TSV rendering never fails. The same
 * input parsed twice gives the same TSV. And whatever text (valid UTF-8) an
 * Amazon SES bounce's diagnostic holds, written as JSON writes it, the bounce
 * keeps both its recipients, bare or inside an SNS envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

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
		CHECK(p->address[0] != '@' && strrchr(p->address, '@')[1] != '\0');
		CHECK(p->action && p->status && p->remote_mta && p->diag_type && p->diagnostic);
		CHECK((unsigned)p->verdict.reason < BOUNCE_REASON_COUNT);
		int said_delivered = strcasecmp(p->action, "delivered") == 0 ||
		                     strcasecmp(p->action, "relayed") == 0 ||
		                     strcasecmp(p->action, "expanded") == 0;
		if (r.kind == DSN_BOUNCE && !said_delivered)
			CHECK(p->verdict.reason != BOUNCE_DELIVERED);
	}
	for (size_t i = 0; i < r.nenvelope; i++)
		CHECK(r.envelope[i] && strchr(r.envelope[i], '@'));
	dsn_format_tsv(&r, "fuzz", tsv);
	dsn_report_free(&r);
}

/* An SES bounce of a@x.example (diagnostic: the input) and b@x.example parses as both. */
static void
ses_diagnostic(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return; /* the readable text the parser keeps is capped */
	json_t *ses = json_pack(
	    "{s:s,s:{s:[{s:s,s:s,s:s%},{s:s,s:s}]}}", "notificationType", "Bounce", "bounce",
	    "bouncedRecipients", "emailAddress", "a@x.example", "status", "5.1.1", "diagnosticCode",
	    (const char *)data, size, "emailAddress", "b@x.example", "status", "5.2.2");
	if (ses == NULL)
		return; /* not UTF-8, or a NUL byte: no JSON string holds it */
	char *inner = json_dumps(ses, JSON_COMPACT);
	json_t *sns = json_pack("{s:s,s:s}", "Type", "Notification", "Message", inner);
	char *wrapped = json_dumps(sns, JSON_INDENT(2));
	const char *bodies[] = {inner, wrapped};
	for (int i = 0; i < 2; i++) {
		struct buf m = BUF_INIT;
		buf_printf(&m,
		           "From: no-reply@sns.amazonaws.com\nTo: b-T@bounce.example.com\n"
		           "Subject: AWS Notification Message\n\n%s\n",
		           bodies[i]);
		struct dsn_report r;
		CHECK(dsn_parse(m.data, m.len, &r) == 0);
		CHECK(r.kind == DSN_BOUNCE && r.nrcpt == 2);
		CHECK(strcmp(r.rcpt[0].address, "a@x.example") == 0);
		CHECK(strcmp(r.rcpt[1].address, "b@x.example") == 0);
		dsn_report_free(&r);
		buf_free(&m);
	}
	free(inner);
	free(wrapped);
	json_decref(ses);
	json_decref(sns);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ses_diagnostic(data, size);
	struct buf a = BUF_INIT, b = BUF_INIT;
	run(data, size, &a);
	run(data, size, &b);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	buf_free(&a);
	buf_free(&b);
	return 0;
}
