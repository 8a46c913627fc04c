/*
 * fuzz_address - libFuzzer target for src/format/address.c.
 *
 * Feeds the input to address_parse with and without ADDRESS_ALLOW_IP_LITERAL,
 * to address_parse_domain, and (on success) address_domain_display, and
 * checks the invariants callers rely on. Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* A field must hold a NUL within its array. */
static size_t
field_len(const char *f, size_t cap)
{
	const char *nul = memchr(f, '\0', cap);

	CHECK(nul != NULL);
	return (size_t)(nul - f);
}

static void
check_address(const struct address *a, unsigned flags)
{
	size_t ll = field_len(a->local, sizeof(a->local));
	size_t dl = field_len(a->domain, sizeof(a->domain));
	size_t el = field_len(a->email, sizeof(a->email));
	size_t kl = field_len(a->key, sizeof(a->key));

	CHECK(ll >= 1 && ll <= ADDRESS_LOCAL_MAX);
	CHECK(dl >= 1 && dl <= ADDRESS_DOMAIN_MAX);
	CHECK(el <= ADDRESS_MAX && el == ll + 1 + dl && kl == el);
	CHECK(memcmp(a->email, a->local, ll) == 0 && a->email[ll] == '@');
	CHECK(strcmp(a->email + ll + 1, a->domain) == 0);

	/* No controls; a space only inside a quoted local part. */
	for (size_t i = 0; i < el; i++) {
		unsigned char c = (unsigned char)a->email[i];
		CHECK(c >= 0x20 && c != 0x7f);
		if (c == ' ')
			CHECK((a->flags & ADDRESS_F_QUOTED) && i < ll);
	}
	/* The domain is lower-case ASCII (A-labels) or an IP literal. */
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)a->domain[i];
		CHECK(c > 0x20 && c < 0x7f);
		if (!(a->flags & ADDRESS_F_IP_LITERAL))
			CHECK(!(c >= 'A' && c <= 'Z'));
	}
	if (a->flags & ADDRESS_F_IP_LITERAL)
		CHECK((flags & ADDRESS_ALLOW_IP_LITERAL) && a->domain[0] == '[');
	/* The key is the email with the local part's ASCII lower-cased. */
	for (size_t i = 0; i < el; i++) {
		unsigned char c = (unsigned char)a->email[i];
		unsigned char want = i < ll && c >= 'A' && c <= 'Z' ? c + 32 : c;
		CHECK((unsigned char)a->key[i] == want);
	}
	/* A non-ASCII local part is flagged. */
	int u8 = 0;
	for (size_t i = 0; i < ll; i++)
		u8 |= (unsigned char)a->local[i] >= 0x80;
	CHECK(!!(a->flags & ADDRESS_F_UTF8_LOCAL) == u8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = {0, ADDRESS_ALLOW_IP_LITERAL};
	const char *s = (const char *)data;
	int ok[2];

	for (int m = 0; m < 2; m++) {
		struct address a, b;
		const char *why = NULL;

		memset(&a, 0x5a, sizeof(a));
		ok[m] = address_parse(s, size, modes[m], &a, &why) == 0;
		if (!ok[m]) {
			CHECK(why != NULL && *why != '\0');
			CHECK((unsigned char)a.email[0] == 0x5a); /* untouched on failure */
			continue;
		}
		check_address(&a, modes[m]);
		/* Parsing is idempotent: the email parses to itself. */
		CHECK(address_parse(a.email, strlen(a.email), modes[m], &b, &why) == 0);
		CHECK(strcmp(a.email, b.email) == 0 && strcmp(a.key, b.key) == 0);

		/* The display form never overflows, whatever the size. */
		char disp[300];
		size_t sz = 1 + size % sizeof(disp);
		memset(disp, 'Z', sizeof(disp));
		address_domain_display(a.domain, disp, sz);
		CHECK(memchr(disp, '\0', sz) != NULL);
		for (size_t i = sz; i < sizeof(disp); i++)
			CHECK(disp[i] == 'Z');
	}
	/* The flag only adds IP literals. */
	if (ok[0])
		CHECK(ok[1]);

	char dom[ADDRESS_DOMAIN_MAX + 1];
	const char *why = NULL;
	if (address_parse_domain(s, size, dom, sizeof(dom), &why) == 0)
		CHECK(strlen(dom) <= ADDRESS_DOMAIN_MAX && strchr(dom, '@') == NULL);
	else
		CHECK(why != NULL);
	return 0;
}
