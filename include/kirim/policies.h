/*
 * policies - the use cases of per-destination sending policies (`kirim
 * domain`, and any other face that reads or changes them): what a value
 * given for a field must be, which patterns and domains are valid, and the
 * changes themselves, each in one transaction.
 *
 * The shipped presets are installed the first time anyone looks at the
 * policies of a database (store_policy_seed): policies_list, _show, _set and
 * _unset do that before their work (set and unset once their arguments are
 * checked) and say how many went in (*seeded; 0 also after a failure before
 * it), so that a face can tell its user. Field values are checked here, by one table, whatever
 * face they come from; `name` arguments are how that face calls the field or
 * option ("--rate", "rate"), used only in err.
 *
 * Errors: POLICIES_E_* below, or a store error (STORE_E_*, negative), each
 * with a sentence in err. Nothing here prints or logs.
 */
#ifndef KIRIM_POLICIES_H
#define KIRIM_POLICIES_H

#include <stdbool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/policy.h"
#include "kirim/store_policy.h"

struct store;

#define POLICIES_E_USAGE (-20) /* a value a field cannot take, an unknown field, nothing to set */
#define POLICIES_E_DATA (-21)  /* not a pattern, not a domain */

/*
 * policies_field_value - check value for field f and put it into *p (its
 * POLICY_HAS bit set): a whole number within the field's limits (policy.h),
 * a rate ("10/s", throttle.h), a TLS policy, or a warm-up plan starting today
 * ("none": no warm-up). Returns 0, or POLICIES_E_USAGE (p unchanged).
 */
int policies_field_value(struct policy *p, enum policy_field f, const char *name, const char *value,
                         char *err, size_t errsz);
/*
 * policies_field_mask - add the fields named in list (comma- or
 * space-separated, "max-connections" or "max_connections") to *mask as
 * POLICY_HAS bits. Returns 0, or POLICIES_E_USAGE (*mask unchanged).
 */
int policies_field_mask(const char *name, const char *list, unsigned *mask, char *err,
                        size_t errsz);
/*
 * policies_pattern - arg as a pattern in normal form (policy_pattern_parse)
 * into out, its kind into *kind. Returns 0, or POLICIES_E_DATA.
 */
int policies_pattern(const char *arg, char out[POLICY_PATTERN_MAX], enum policy_kind *kind,
                     char *err, size_t errsz);

/* policies_list - every record, by pattern, to cb (a non-zero return stops and is returned) */
int policies_list(struct store *s, store_policy_cb cb, void *arg, int *seeded, char *err,
                  size_t errsz);

/* One domain's effective policy, as policies_show finds it. */
struct policies_view {
	char domain[POLICY_PATTERN_MAX]; /* the domain as an A-label */
	struct policy_effective eff;     /* the records merged, field by field */
	struct policy *rows;             /* every record (owned) */
	size_t nrows;
	const struct policy **matched; /* the records that apply, in rows' order (owned array) */
	size_t nmatched;
	long warmup_day; /* with eff.p.warmup: days since the plan started (0: its first day) */
	long warmup_cap; /* messages allowed today; -1 when the plan is over */
	/* Through a relay (no MX hosts known, so no mx: pattern applies): relay_own is the
	 * domain's own pattern ("" when none: it shares the relay's queue), relay_eff the
	 * records merged without MX hosts; of them rate, max_connections, connect_rate and
	 * warmup apply to its queue on the relay's connections, the rest are the relay's. */
	char relay_own[POLICY_PATTERN_MAX];
	struct policy_effective relay_eff;
	double global_rate; /* the global pattern's rate (every route together), 0: none */
	/* Transport security straight to its MX hosts (docs/tls.md): what the last send found
	 * of its records, and which policy is in force. Strings owned, NULL for none. */
	struct {
		bool sts; /* a policy is cached (sts_* below) */
		char *sts_id, *sts_mode, *sts_policy;
		int64_t sts_fetched_at, sts_expires_at;
		bool sts_expired;
		bool seen; /* a send looked its records up (the rest below) */
		char *seen_sts_id, *sts_error, *dane, *tlsrpt;
		int64_t checked_at;
		char in_force[400]; /* which policy wins, in words */
	} tls;
};
/*
 * policies_show - the effective policy of domain ("@example.com" is taken as
 * "example.com") with MX hosts mx (nmx, most preferred first; none: mx:
 * patterns are not tried) into *out (policies_view_free it, also after a
 * failure). Returns 0, POLICIES_E_DATA or a store error.
 */
int policies_show(struct store *s, const char *domain, const char *const *mx, size_t nmx,
                  struct policies_view *out, int *seeded, char *err, size_t errsz);
/* policies_view_free - release what *v holds; a zeroed view is a no-op */
void policies_view_free(struct policies_view *v);

/*
 * policies_set - write the fields p->set names into the record of
 * p->pattern (checked and normalised here), as a user change; *now gets
 * the whole record after it. Returns 0, POLICIES_E_* or a store error.
 */
int policies_set(struct store *s, const struct policy *p, struct policy *now, int *seeded,
                 char *err, size_t errsz);
/*
 * policies_unset - clear the fields in mask of pattern's record (they
 * inherit again), or with mask 0 remove the record. *removed is false when
 * there was no record (not an error). Returns 0, POLICIES_E_DATA or a store
 * error.
 */
int policies_unset(struct store *s, const char *pattern, unsigned mask, bool *removed, int *seeded,
                   char *err, size_t errsz);
/*
 * policies_presets - write the shipped presets (policy_preset): the missing
 * ones, or with reset every one (user changes to preset patterns are lost).
 * *written gets how many records were written.
 */
int policies_presets(struct store *s, bool reset, int *written, char *err, size_t errsz);

#endif
