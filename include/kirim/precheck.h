/*
 * precheck - may this campaign start? The three conditions, checked
 * before `campaign schedule` and `campaign resume` accept it:
 *   1. its sender identity is configured: the From address is a valid
 *      address, and a composer can be built from the config (the template
 *      compiles, a token secret exists, the configured identity is usable);
 *      a From domain no DKIM key signs is a warning, not a refusal;
 *   2. its list is not empty after suppressions (or it still has messages
 *      queued from an earlier start);
 *   3. its template renders for every recipient still to be mailed; the ones
 *      that do not are counted, the first PRECHECK_SHOW are kept with the
 *      reason, and all their contact ids (up to PRECHECK_SKIP_MAX) are
 *      gathered as a JSON array for options.skip (--skip-bad).
 * Rendering is done without DKIM signing (a signature never makes a render
 * fail and costs most of the time).
 * Reads the store; does not print or log.
 */
#ifndef KIRIM_PRECHECK_H
#define KIRIM_PRECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/buf.h"

struct config;
struct store;
struct store_campaign;

enum {
	PRECHECK_SHOW = 20,        /* failures kept with their reason */
	PRECHECK_SKIP_MAX = 10000, /* contact ids gathered for options.skip */
};

struct precheck_bad {
	int64_t contact_id;
	char email[256];
	char why[256];
};

struct precheck {
	int64_t mailable; /* list members not suppressed */
	int64_t pending;  /* messages still queued or in flight from an earlier start */
	int64_t checked;  /* recipients rendered */
	int64_t bad;      /* of them, the ones that cannot be rendered */
	struct precheck_bad show[PRECHECK_SHOW];
	size_t nshow;
	struct buf skip;   /* JSON array of the bad contact ids ("[]" when none) */
	char warning[512]; /* "" or a sentence (e.g. the From domain is not DKIM-signed) */
};

/* Error codes (negative); err gets a sentence. */
#define PRECHECK_E_IDENTITY (-1) /* condition 1 failed */
#define PRECHECK_E_STORE (-2)    /* the database failed */
#define PRECHECK_E_EMPTY (-3)    /* condition 2: no one to mail (precheck_judge) */
#define PRECHECK_E_RENDER (-4)   /* condition 3: some recipients do not render, none skipped */
#define PRECHECK_E_TOO_BAD (-5)  /* more do not render than a skip list holds */

/*
 * precheck_run - check campaign c with config cfg into *out (always
 * initialised; free with precheck_free). Returns 0 when the checks could
 * run (the caller judges out->mailable, out->pending and out->bad), or a
 * PRECHECK_E_* code with a sentence in err.
 */
int precheck_run(struct store *s, const struct config *cfg, const struct store_campaign *c,
                 struct precheck *out, char *err, size_t errsz);
/*
 * precheck_judge - whether campaign name (its list called list) may start
 * after precheck_run filled p: 0, or PRECHECK_E_EMPTY, PRECHECK_E_RENDER
 * (the failures are in p->show; skip_bad would skip them), PRECHECK_E_TOO_BAD,
 * with a sentence in err
 */
int precheck_judge(const struct precheck *p, const char *name, const char *list, bool skip_bad,
                   char *err, size_t errsz);
/* precheck_free - release what precheck_run gathered */
void precheck_free(struct precheck *p);

#endif
