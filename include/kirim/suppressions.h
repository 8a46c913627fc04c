/*
 * suppressions - what `kirim suppress` and the API's /api/suppressions share:
 * reading an argument as an address or a domain, the reasons, and adding
 * or lifting several suppressions in one transaction. Does not log.
 */
#ifndef KIRIM_SUPPRESSIONS_H
#define KIRIM_SUPPRESSIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/address.h"

struct store;

struct suppressions_target {
	const char *kind; /* "address" or "domain" (static) */
	char value[ADDRESS_MAX + 1];
};

/*
 * suppressions_target - the n bytes at arg as an address (an '@' after its
 * first byte) or a domain (optionally "@domain"; Unicode allowed): 0, or -1
 * with *reason (static). Blanks around it are ignored.
 */
int suppressions_target(const char *arg, size_t n, struct suppressions_target *t,
                        const char **reason);
/* suppressions_reason_ok - manual, hard_bounce, soft_bounce, complaint or unsubscribe */
bool suppressions_reason_ok(const char *reason);

/* What became of one target: changed is false when it already was (add) or was not (remove). */
typedef void (*suppressions_cb)(void *arg, const struct suppressions_target *t, bool changed);

/*
 * suppressions_change - add (reason, source: NULL for none) or lift the n
 * targets in one transaction, calling cb (may be NULL) for each; *done and
 * *unchanged count them. 0 or a store error (nothing changed then).
 */
int suppressions_change(struct store *s, bool add, const struct suppressions_target *t, size_t n,
                        const char *reason, const char *source, suppressions_cb cb, void *arg,
                        int *done, int *unchanged);

#endif
