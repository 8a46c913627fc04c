/*
 * suppressions - targets, reasons and changes of the suppression list (see
 * suppressions.h).
 */
#include "kirim/suppressions.h"

#include <stdio.h>
#include <string.h>

#include "kirim/store.h"

static const char *const reasons[] = {"manual",    "hard_bounce", "soft_bounce",
                                      "complaint", "unsubscribe", NULL};

bool
suppressions_reason_ok(const char *reason)
{
	for (const char *const *r = reasons; *r; r++)
		if (strcmp(*r, reason) == 0)
			return true;
	return false;
}

int
suppressions_target(const char *arg, size_t n, struct suppressions_target *t, const char **reason)
{
	while (n && (*arg == ' ' || *arg == '\t'))
		arg++, n--;
	while (n && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
		n--;
	const char *at = memchr(arg, '@', n);
	if (at && at != arg) {
		struct address a;
		if (address_parse(arg, n, ADDRESS_ALLOW_IP_LITERAL, &a, reason) < 0)
			return -1;
		t->kind = "address";
		snprintf(t->value, sizeof(t->value), "%s", a.key);
		return 0;
	}
	if (at == arg)
		arg++, n--;
	if (address_parse_domain(arg, n, t->value, sizeof(t->value), reason) < 0)
		return -1;
	t->kind = "domain";
	return 0;
}

int
suppressions_change(struct store *s, bool add, const struct suppressions_target *t, size_t n,
                    const char *reason, const char *source, suppressions_cb cb, void *arg,
                    int *done, int *unchanged)
{
	*done = *unchanged = 0;
	int rc = store_begin(s);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = add ? store_suppress_add(s, t[i].kind, t[i].value, reason ? reason : "manual",
		                              source)
		         : store_suppress_remove(s, t[i].kind, t[i].value);
		bool changed = rc == 0;
		if (rc == STORE_E_EXISTS || rc == STORE_E_NOTFOUND)
			rc = 0;
		if (rc == 0) {
			if (changed)
				(*done)++;
			else
				(*unchanged)++;
			if (cb)
				cb(arg, &t[i], changed);
		}
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		store_rollback(s);
		*done = *unchanged = 0;
		return rc;
	}
	return 0;
}
