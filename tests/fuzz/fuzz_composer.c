/*
 * fuzz_composer - a recipient's attributes (random bytes, often JSON) and a
 * template (random bytes) go through the whole composer: Mustache, MIME and
 * DKIM (Ed25519). Whatever the input, composer_new/composer_render either
 * refuse with a reason or produce a message whose every line ends in CRLF,
 * is at most 998 octets, and whose header section has exactly the fields the
 * composer writes (a value can never add one). The browser view of the same
 * recipient (composer_view) has CRLF line breaks only, and ends in one.
 * attrs_parse reads the attributes as json_loads does: both refuse them, or
 * both give equal objects with the names in the same order.
 *
 * Input: the first byte splits the rest into a template part and an attrs part.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/attrs.h"
#include "kirim/buf.h"
#include "kirim/composer.h"
#include "kirim/dkim.h"
#include "kirim/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_signer *signer;

static void
setup(void)
{
	struct buf pem = BUF_INIT;
	struct dkim_key *key;
	char err[200];
	if (dkim_keygen(DKIM_KEY_ED25519, 0, &pem, err, sizeof(err)) < 0 ||
	    dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)) < 0 ||
	    dkim_signer_new(key, "example.com", "s", &signer, err, sizeof(err)) < 0)
		abort();
	dkim_key_free(key);
	buf_free(&pem);
}

/* header_fields - check the line rules and count the header fields */
static size_t
header_fields(const char *s, size_t n)
{
	size_t start = 0, fields = 0;
	int in_header = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
			abort();
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
		if (s[i] != '\n')
			continue;
		size_t len = i - 1 - start;
		if (len > MIME_LINE_MAX)
			abort();
		if (in_header) {
			if (len == 0)
				in_header = 0;
			else if (s[start] != ' ' && s[start] != '\t')
				fields++;
		}
		start = i + 1;
	}
	return fields;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (signer == NULL)
		setup();
	if (size < 1)
		return 0;
	size_t split = data[0] * (size - 1) / 255;
	char *tpl = strndup((const char *)data + 1, split);
	char *attrs = strndup((const char *)data + 1 + split, size - 1 - split);
	json_t *got = NULL, *ref = json_loads(attrs, JSON_REJECT_DUPLICATES, NULL);
	if (ref && !json_is_object(ref)) {
		json_decref(ref);
		ref = NULL;
	}
	if ((attrs_parse(attrs, &got) == 0) != (ref != NULL))
		abort();
	if (ref) {
		char *a = json_dumps(got, JSON_PRESERVE_ORDER),
		     *b = json_dumps(ref, JSON_PRESERVE_ORDER);
		if (!json_equal(got, ref) || strcmp(a, b) != 0)
			abort();
		free(a);
		free(b);
	}
	json_decref(got);
	json_decref(ref);
	static const struct mime_header hdr = {"X-Fuzz", "1"};
	struct composer_campaign c = {
	    .id = 7,
	    .name = "fuzz",
	    .subject = tpl,
	    .text = tpl,
	    .html = tpl,
	    .from_name = "Sender",
	    .from_addr = "news@example.com",
	    .headers = &hdr,
	    .n_headers = 1,
	};
	struct dkim_signer *signers[1] = {signer};
	struct composer_identity id = {
	    .secret = "0123456789abcdef0123456789abcdef",
	    .secret_len = 32,
	    .unsub_url = "https://mail.example.com/u/",
	    .view_url = "https://mail.example.com/v/",
	    .bounce_domain = "bounce.example.com",
	    .track_base = "https://mail.example.com",
	    .track_opens = 1,
	    .track_clicks = 1,
	    .signers = signers,
	    .n_signers = 1,
	};
	struct composer *k;
	char err[300], env[ADDRESS_MAX + 1];
	if (composer_new(&c, &id, &k, err, sizeof(err)) == 0) {
		struct buf out = BUF_INIT;
		struct composer_recipient r = {1, "ann@example.com", attrs};
		if (composer_render(k, &r, 1700000000, 0, &out, env, err, sizeof(err)) == 0) {
			/* DKIM-Signature, Date, From, To, Subject, Message-ID, MIME-Version,
			 * List-Unsubscribe, List-Unsubscribe-Post, X-Fuzz, Content-Type and, for
			 * a single part, Content-Transfer-Encoding: never more. */
			size_t n = header_fields(out.data, out.len);
			if (n > 12)
				abort();
			bool html;
			buf_reset(&out);
			if (composer_view(k, &r, 1700000000, &out, &html, err, sizeof(err)) < 0 ||
			    !html)
				abort(); /* rendered once, so it renders again; the template has
				            HTML */
			for (size_t i = 0; i < out.len; i++) {
				if (out.data[i] == '\r' &&
				    (i + 1 >= out.len || out.data[i + 1] != '\n'))
					abort();
				if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r'))
					abort();
			}
			if (out.len && out.data[out.len - 1] != '\n')
				abort();
		}
		buf_free(&out);
		composer_free(k);
	}
	free(tpl);
	free(attrs);
	return 0;
}
