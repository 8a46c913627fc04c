/*
 * fuzz_esp_event - libFuzzer target for src/format/esp_event.c.
 *
 * Any bytes, read as each provider's payload and as an SNS message, give a
 * result that holds together: 0 with events or -1 with a reason; every
 * string of every event present (never NULL), one line (no control
 * characters) and at most ESP_FIELD_MAX bytes; kinds and hints in range; at
 * most ESP_EVENTS_MAX events. A parsed SNS message's canonical string starts
 * with its Message field and ends with its Type. The first byte also picks a
 * URL rule to split the rest with: a URL that passes is https, on a host the
 * rule names, with a path that starts with '/'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/buf.h"
#include "kirim/esp_event.h"
#include "kirim/http_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
line_ok(const char *s)
{
	CHECK(s != NULL);
	size_t n = strlen(s);
	CHECK(n <= ESP_FIELD_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void
batch_ok(int rc, const struct esp_batch *b, const char *why)
{
	CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		CHECK(why && *why && b->n == 0);
		return;
	}
	CHECK(b->n <= ESP_EVENTS_MAX);
	for (size_t i = 0; i < b->n; i++) {
		const struct esp_event *e = &b->ev[i];
		CHECK(e->kind >= ESP_BOUNCE && e->kind <= ESP_OTHER);
		CHECK(e->hint >= ESP_HINT_NONE && e->hint <= ESP_HINT_SOFT);
		/* The SES id is the SNS id and the address: longer than one field may be. */
		CHECK(e->id != NULL);
		const char *fs[] = {e->address,  e->status,        e->diagnostic,
		                    e->type,     e->action,        e->message_id,
		                    e->campaign, e->feedback_type, e->remote_mta};
		for (size_t k = 0; k < sizeof(fs) / sizeof(fs[0]); k++)
			line_ok(fs[k]);
		CHECK(strchr(e->message_id, '<') == NULL && strchr(e->message_id, '>') == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	struct esp_batch b;
	batch_ok(esp_ses_parse(s, size, "sns-id", &b, &why), &b, why);
	esp_batch_free(&b);
	why = NULL;
	batch_ok(esp_sendgrid_parse(s, size, &b, &why), &b, why);
	esp_batch_free(&b);
	why = NULL;
	batch_ok(esp_postmark_parse(s, size, &b, &why), &b, why);
	esp_batch_free(&b);

	struct esp_sns m;
	if (esp_sns_parse(s, size, &m, &why) == 0) {
		struct buf c = BUF_INIT;
		esp_sns_canonical(&m, &c);
		CHECK(c.len > 8 && memcmp(c.data, "Message\n", 8) == 0);
		size_t tl = strlen(m.type);
		CHECK(c.len > tl + 6 && memcmp(c.data + c.len - tl - 1, m.type, tl) == 0);
		buf_free(&c);
		esp_sns_free(&m);
	}

	if (size > 0 && size < 4096) {
		static const char *const rules[] = {"sns.*.amazonaws.com", "*.example, host.test",
		                                    "127.0.0.1"};
		const char *rule = rules[data[0] % 3];
		char *url = malloc(size);
		memcpy(url, data + 1, size - 1);
		url[size - 1] = '\0';
		struct http_url u;
		if (esp_url_split(url, rule, &u, &why) == 0) {
			CHECK(strncasecmp(url, "https://", 8) == 0 && u.tls);
			CHECK(u.port >= 1 && u.port <= 65535);
			CHECK(u.path[0] == '/');
			CHECK(strchr(u.host, '@') == NULL && strchr(u.host, '/') == NULL &&
			      *u.host);
		}
		free(url);
	}
	return 0;
}
