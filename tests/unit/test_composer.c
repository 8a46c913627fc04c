/*
 * test_composer - composer_dup: a composer for another thread makes the bytes its original
 * makes (signatures included: RSA PKCS#1 v1.5 and Ed25519 are deterministic), and the
 * original and its dups, composing at once on a pool of threads, share one click-link table
 * (each URL numbered once, every message's numbers the table's) and call the fields callback
 * one at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "kirim/buf.h"
#include "kirim/composer.h"
#include "kirim/dkim.h"
#include "kirim/par.h"

#define NOW 1772443800LL
#define NRCPT 300
#define NTHREADS 4

static const unsigned char secret[32] = "test-composer-secret-0123456789";

static const char html[] =
    "<html><body><p>Hello {{first_name|friend}},</p>\n"
    "<p><a href=\"https://shop.example/p/{{code}}?utm_source=mail&amp;x=1\">your pick</a> "
    "and <a href=\"https://shop.example/all\">everything</a>.</p>\n"
    "<p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p></body></html>\n";
static const char text[] = "Hello {{first_name|friend}}: https://shop.example/p/{{code}}\n";

struct fixture {
	struct dkim_signer *signers[2]; /* RSA, Ed25519 */
	unsigned fields_calls;          /* no lock: the composer holds one around the callback */
};

static struct dkim_signer *
signer(enum dkim_key_type type, const char *selector)
{
	char err[256];
	struct buf pem = BUF_INIT;
	struct dkim_key *key;
	struct dkim_signer *s;
	assert_int_equal(dkim_keygen(type, 2048, &pem, err, sizeof(err)), 0);
	assert_int_equal(dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)), 0);
	assert_int_equal(dkim_signer_new(key, "example.com", selector, &s, err, sizeof(err)), 0);
	dkim_key_free(key);
	buf_free(&pem);
	return s;
}

static void
count_fields(void *arg, json_t *ctx, int64_t contact_id, long long now)
{
	struct fixture *f = arg;
	(void)now;
	unsigned n = f->fields_calls;
	json_object_set_new(ctx, "calls_seen", json_integer(contact_id));
	f->fields_calls = n + 1;
}

/* make - a composer for the campaign with the fixture's signers; links: a JSON table or NULL */
static struct composer *
make(struct fixture *f, json_t *links)
{
	struct composer_campaign c = {
	    .id = 7,
	    .name = "Dup test",
	    .subject = "News for {{first_name|you}}",
	    .text = text,
	    .html = html,
	    .from_name = "Shop",
	    .from_addr = "news@example.com",
	    .links = links,
	};
	struct composer_identity id = {
	    .secret = secret,
	    .secret_len = sizeof(secret),
	    .unsub_url = "https://t.example/u/",
	    .bounce_domain = "bounce.example.com",
	    .feedback_id = "test",
	    .track_base = "https://t.example",
	    .track_opens = 1,
	    .track_clicks = 1,
	    .signers = f->signers,
	    .n_signers = 2,
	    .fields = count_fields,
	    .fields_arg = f,
	};
	char err[512];
	struct composer *k;
	assert_int_equal(composer_new(&c, &id, &k, err, sizeof(err)), 0);
	return k;
}

static void
recipient(size_t i, char *email, size_t emailsz, char *attrs, size_t attrssz,
          struct composer_recipient *r)
{
	snprintf(email, emailsz, "r%zu@d%zu.example", i, i % 7);
	snprintf(attrs, attrssz, "{\"first_name\":\"N%zu\",\"code\":\"p%zu\"}", i, i);
	*r = (struct composer_recipient){(int64_t)i + 1, email, attrs};
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->signers[0] = signer(DKIM_KEY_RSA, "rsa1");
	f->signers[1] = signer(DKIM_KEY_ED25519, "ed1");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	dkim_signer_free(f->signers[0]);
	dkim_signer_free(f->signers[1]);
	free(f);
	return 0;
}

/* A dup renders what its original renders, byte for byte, whichever meets a link first. */
static void
test_dup_same_bytes(void **state)
{
	struct fixture *f = *state;
	struct composer *k = make(f, NULL), *d;
	struct dkim_signer *ds[2];
	char err[512];
	for (int i = 0; i < 2; i++)
		assert_int_equal(dkim_signer_dup(f->signers[i], &ds[i], err, sizeof(err)), 0);
	assert_int_equal(composer_dup(k, ds, &d), 0);
	struct buf a = BUF_INIT, b = BUF_INIT;
	for (size_t i = 0; i < 20; i++) {
		char email[64], attrs[128], ea[ADDRESS_MAX + 1], eb[ADDRESS_MAX + 1];
		struct composer_recipient r;
		recipient(i, email, sizeof(email), attrs, sizeof(attrs), &r);
		buf_reset(&a);
		buf_reset(&b);
		/* Odd ones: the dup meets the recipient's link first, even ones the original. */
		struct composer *first = i % 2 ? d : k, *second = i % 2 ? k : d;
		assert_int_equal(composer_render(first, &r, NOW, 60, &a, ea, err, sizeof(err)), 0);
		assert_int_equal(composer_render(second, &r, NOW, 60, &b, eb, err, sizeof(err)), 0);
		assert_string_equal(ea, eb);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		assert_non_null(strstr(a.data, "DKIM-Signature: v=1; a=rsa-sha256;"));
		assert_non_null(strstr(a.data, "DKIM-Signature: v=1; a=ed25519-sha256;"));
	}
	/* The shared link and one per recipient, each once, in one table for both. */
	assert_int_equal(composer_links(k, NULL), 21);
	assert_int_equal(composer_links(d, NULL), 21);
	assert_int_equal(f->fields_calls, 40);
	buf_free(&a);
	buf_free(&b);
	composer_free(d);
	composer_free(k);
	dkim_signer_free(ds[0]);
	dkim_signer_free(ds[1]);
}

struct job {
	struct composer **comps;
	struct buf out[NRCPT];
	char env[NRCPT][ADDRESS_MAX + 1];
	int failed;
};

static void
compose(void *arg, unsigned t, size_t i)
{
	struct job *x = arg;
	char email[64], attrs[128], err[512];
	struct composer_recipient r;
	recipient(i, email, sizeof(email), attrs, sizeof(attrs), &r);
	if (composer_render(x->comps[t], &r, NOW, 60, &x->out[i], x->env[i], err, sizeof(err)) < 0)
		x->failed = 1;
}

/*
 * The original and three dups compose 300 messages at once, each with a link of its own:
 * the table ends with each URL once, and a composer made afresh from that table renders
 * every message byte for byte as the pool did (so each message's click numbers are the
 * table's numbers for its own URLs).
 */
static void
test_dup_threads(void **state)
{
	struct fixture *f = *state;
	struct par *p = par_new(NTHREADS);
	assert_non_null(p);
	struct job *x = calloc(1, sizeof(*x));
	struct dkim_signer *ds[NTHREADS][2];
	char err[512];
	x->comps = calloc(NTHREADS, sizeof(*x->comps));
	x->comps[0] = make(f, NULL);
	for (unsigned t = 1; t < NTHREADS; t++) {
		for (int i = 0; i < 2; i++)
			assert_int_equal(
			    dkim_signer_dup(f->signers[i], &ds[t][i], err, sizeof(err)), 0);
		assert_int_equal(composer_dup(x->comps[0], ds[t], &x->comps[t]), 0);
	}
	f->fields_calls = 0;
	par_for(p, NRCPT, compose, x);
	assert_false(x->failed);
	assert_int_equal(f->fields_calls, NRCPT);

	struct buf links = BUF_INIT;
	assert_int_equal(composer_links(x->comps[0], &links), NRCPT + 1);
	json_error_t jerr;
	json_t *table = json_loads(links.data, 0, &jerr);
	assert_non_null(table);
	assert_int_equal(json_array_size(table), NRCPT + 1);
	for (size_t i = 0; i < json_array_size(table); i++)
		for (size_t j = i + 1; j < json_array_size(table); j++)
			assert_string_not_equal(json_string_value(json_array_get(table, i)),
			                        json_string_value(json_array_get(table, j)));

	struct composer *again = make(f, table);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < NRCPT; i++) {
		char email[64], attrs[128], env[ADDRESS_MAX + 1];
		struct composer_recipient r;
		recipient(i, email, sizeof(email), attrs, sizeof(attrs), &r);
		buf_reset(&b);
		assert_int_equal(composer_render(again, &r, NOW, 60, &b, env, err, sizeof(err)), 0);
		assert_string_equal(env, x->env[i]);
		assert_int_equal(b.len, x->out[i].len);
		assert_memory_equal(b.data, x->out[i].data, b.len);
	}
	assert_int_equal(composer_links(again, NULL), NRCPT + 1); /* nothing new */

	composer_free(again);
	json_decref(table);
	buf_free(&b);
	buf_free(&links);
	for (unsigned t = NTHREADS; t-- > 1;) {
		composer_free(x->comps[t]);
		dkim_signer_free(ds[t][0]);
		dkim_signer_free(ds[t][1]);
	}
	composer_free(x->comps[0]);
	for (size_t i = 0; i < NRCPT; i++)
		buf_free(&x->out[i]);
	free(x->comps);
	free(x);
	par_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dup_same_bytes),
	    cmocka_unit_test(test_dup_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
