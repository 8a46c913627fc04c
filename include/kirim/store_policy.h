/*
 * store_policy - the domain_policies table: per-destination sending policies
 * (struct policy, policy.h) set, unset, read and listed; the shipped presets
 * seeded; and a version number a running sender polls to notice changes.
 *
 * NULL columns mean "not given here" (inherit from a less specific pattern),
 * so a record holds only what someone set. Rates are stored per second. The
 * warmup column is JSON: {"plan": "standard:20000", "start": DAY, "caps":
 * [50, 100, ...]} (a row with only "caps", as the schema's comment allows, is
 * read as the list of caps). Every change also bumps settings.policy_version.
 *
 * Functions that write run one or two statements each: call them between
 * store_begin and store_commit to make several changes one. Does not log.
 */
#ifndef KIRIM_STORE_POLICY_H
#define KIRIM_STORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/policy.h"

struct store;

typedef int (*store_policy_cb)(void *arg, const struct policy *p);

/*
 * store_policy_set - write the fields of p named in p->set into the record
 * p->pattern (normal form), creating it if needed; other fields keep their
 * value (NULL in a new record). source is "user" or "preset".
 */
int store_policy_set(struct store *s, const struct policy *p, const char *source);
/*
 * store_policy_unset - clear the fields in mask (POLICY_HAS bits) of pattern;
 * STORE_E_NOTFOUND when there is no such record.
 */
int store_policy_unset(struct store *s, const char *pattern, unsigned mask);
/* store_policy_delete - remove the record of pattern; STORE_E_NOTFOUND when none */
int store_policy_delete(struct store *s, const char *pattern);
/* store_policy_get - the record of pattern into *out; STORE_E_NOTFOUND when none */
int store_policy_get(struct store *s, const char *pattern, struct policy *out);
/* store_policy_each - every record, by pattern; a non-zero return from cb stops and is returned */
int store_policy_each(struct store *s, store_policy_cb cb, void *arg);
/*
 * store_policy_load_all - every record in one array for policy_resolve:
 * *rows (free() it) and *n. An empty table gives *rows NULL and *n 0.
 */
int store_policy_load_all(struct store *s, struct policy **rows, size_t *n);
/*
 * store_policy_version - a number that changes whenever a record is set,
 * unset, deleted or seeded (also by hand, through the rows' updated_at and
 * count): poll it every few seconds and reload when it differs.
 */
int store_policy_version(struct store *s, int64_t *version);
/*
 * store_policy_presets - write the shipped presets (policy_preset) with
 * source 'preset': records that exist are kept, unless reset, which replaces
 * every preset pattern's record (user changes to them are lost; other
 * patterns stay). *added gets how many were written. Marks the table seeded.
 */
int store_policy_presets(struct store *s, bool reset, int *added);
/*
 * store_policy_seed - store_policy_presets(s, false) once in a database's
 * life (the first time anyone looks at policies), so removing a preset stays
 * removed. *added gets how many were written (0 when seeded before).
 */
int store_policy_seed(struct store *s, int *added);

#endif
