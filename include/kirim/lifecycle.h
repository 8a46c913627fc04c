/*
 * lifecycle - a campaign moved by a person or a tool: `kirim campaign
 * schedule|unschedule|pause|resume|cancel` and the API's
 * /api/campaigns/NAME/VERB. The times, window and zone are read and checked,
 * an illegal move is refused before the (possibly long) precheck, schedule
 * and resume run the precheck (precheck.h) and record its skip list, and
 * store_lifecycle_apply makes the move in one transaction. Does not log.
 */
#ifndef KIRIM_LIFECYCLE_H
#define KIRIM_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/precheck.h"
#include "kirim/store_lifecycle.h"

struct config;
struct store;

/* Errors (negative), besides the store's and store_lifecycle.h's STORE_LIFECYCLE_E_STATE. */
#define LIFECYCLE_E_USAGE (-70)    /* options that do not go with the verb, or none it needs */
#define LIFECYCLE_E_INVALID (-71)  /* a bad time, window or zone, or a time in the past */
#define LIFECYCLE_E_CONFIRM (-72)  /* cancel of a campaign with messages to send, not confirmed */
#define LIFECYCLE_E_IDENTITY (-73) /* the sender identity is not configured (precheck 1) */
#define LIFECYCLE_E_PRECHECK (-74) /* no one to mail, or recipients that do not render */

struct lifecycle_req {
	const char *verb;   /* "schedule", "unschedule", "pause", "resume", "cancel" */
	int64_t now;        /* the clock, Unix seconds */
	const char *at;     /* schedule: a time (when.h), local in tz unless it has an offset */
	const char *tz;     /* schedule: an IANA zone (NULL: the local zone) */
	const char *window; /* schedule: a send window (NULL: none) */
	const char *reason; /* pause, cancel: why (NULL: "paused by user", ...) */
	bool start_now;     /* schedule: at once (or when at is in the past) */
	bool confirm;       /* cancel: yes, even with messages still to send */
	bool skip_bad;      /* schedule, resume: skip the recipients that do not render */
};

struct lifecycle_out {
	char from[16]; /* the state before */
	struct store_lifecycle_info li;
	bool checked; /* the precheck ran: p holds it (free with lifecycle_out_free) */
	struct precheck p;
	int precheck_rc; /* LIFECYCLE_E_PRECHECK: the PRECHECK_E_* that refused */
	char tz[64];     /* the zone of the times shown: the campaign's, else the local one */
};

/* lifecycle_verb - is verb one lifecycle_move takes? */
bool lifecycle_verb(const char *verb);

/*
 * lifecycle_move - move the campaign called name as r says; *out filled as
 * far as it went (free it with lifecycle_out_free in any case). Errors:
 * LIFECYCLE_E_*, STORE_E_NOTFOUND (no campaign so named),
 * STORE_LIFECYCLE_E_STATE, the store's; err says why. cfg is read for the
 * precheck of schedule and resume only (NULL otherwise is fine).
 */
int lifecycle_move(struct store *s, const struct config *cfg, const char *name,
                   const struct lifecycle_req *r, struct lifecycle_out *out, char *err,
                   size_t errsz);
/* lifecycle_out_free - release what lifecycle_move kept */
void lifecycle_out_free(struct lifecycle_out *out);

#endif
