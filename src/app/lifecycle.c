/*
 * lifecycle - a campaign's moves as people and tools ask for them (see
 * lifecycle.h).
 */
#include "kirim/lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/when.h"
#include "kirim/when_tz.h"

static const char *const verbs[] = {"schedule", "unschedule", "pause", "resume", "cancel"};

bool
lifecycle_verb(const char *verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i]) == 0)
			return true;
	return false;
}

/* The precheck of schedule and resume: 0, or an error with err (out->p kept). */
static int
precheck(struct store *s, const struct config *cfg, const char *name, bool skip_bad,
         struct lifecycle_out *out, char *err, size_t errsz)
{
	struct store_campaign sc;
	int rc = store_campaign_get(s, name, &sc);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc;
	}
	out->checked = true;
	char why[600];
	rc = precheck_run(s, cfg, &sc, &out->p, why, sizeof(why));
	if (rc == PRECHECK_E_IDENTITY) {
		snprintf(err, errsz, "campaign '%s' cannot start: %s", name, why);
		rc = LIFECYCLE_E_IDENTITY;
	} else if (rc < 0) {
		snprintf(err, errsz, "%s", why);
		rc = STORE_E_SQL;
	} else if ((rc = precheck_judge(&out->p, name, sc.list, skip_bad, err, errsz)) < 0) {
		out->precheck_rc = rc;
		rc = LIFECYCLE_E_PRECHECK;
	}
	store_campaign_clear(&sc);
	return rc;
}

int
lifecycle_move(struct store *s, const struct config *cfg, const char *name,
               const struct lifecycle_req *r, struct lifecycle_out *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	if (!lifecycle_verb(r->verb)) {
		snprintf(err, errsz,
		         "unknown move '%s' (schedule, unschedule, pause, resume, cancel)",
		         r->verb);
		return LIFECYCLE_E_USAGE;
	}
	bool sched = strcmp(r->verb, "schedule") == 0, resume = strcmp(r->verb, "resume") == 0;
	bool cancel = strcmp(r->verb, "cancel") == 0;
	if (!sched && (r->at || r->tz || r->window || r->start_now)) {
		snprintf(err, errsz, "a time, zone, window or 'now' goes with schedule only");
		return LIFECYCLE_E_USAGE;
	}
	if (!sched && !resume && r->skip_bad) {
		snprintf(err, errsz, "skipping bad recipients goes with schedule and resume");
		return LIFECYCLE_E_USAGE;
	}
	if (r->reason && strcmp(r->verb, "pause") != 0 && !cancel) {
		snprintf(err, errsz, "a reason goes with pause and cancel");
		return LIFECYCLE_E_USAGE;
	}
	if (sched && r->at == NULL && !r->start_now) {
		snprintf(err, errsz, "schedule needs a time (or 'now' to start at once)");
		return LIFECYCLE_E_USAGE;
	}
	struct store_lifecycle_args a = {.now = r->now, .reason = r->reason};
	char tzname[WHEN_TZ_NAME_MAX] = "", why[400];
	struct when_tz tz;
	struct when_window w;
	if (when_tz_open(&tz, r->tz, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "zone: %s", why);
		return LIFECYCLE_E_INVALID;
	}
	if (sched) {
		if (r->tz)
			snprintf(tzname, sizeof(tzname), "%s", r->tz);
		else
			when_tz_local_name(tzname, sizeof(tzname));
		a.tz = tzname[0] ? tzname : NULL;
		a.scheduled_at = r->now;
		if (r->at &&
		    when_parse_at(r->at, &tz.zone, &a.scheduled_at, why, sizeof(why)) < 0) {
			snprintf(err, errsz, "time %s", why);
			return LIFECYCLE_E_INVALID;
		}
		if (r->at && r->start_now && a.scheduled_at > r->now) {
			snprintf(err, errsz,
			         "'now' starts at once, but the time '%s' is in the future: give "
			         "one of them",
			         r->at);
			return LIFECYCLE_E_USAGE;
		}
		if (a.scheduled_at < r->now) {
			if (!r->start_now) {
				char when[40], nowl[40];
				when_format(&tz.zone, a.scheduled_at, when, sizeof(when));
				when_format(&tz.zone, r->now, nowl, sizeof(nowl));
				snprintf(
				    err, errsz,
				    "time %s is in the past (%s; it is now %s): give a later time, "
				    "or 'now' to start at once",
				    r->at, when, nowl);
				return LIFECYCLE_E_INVALID;
			}
			a.scheduled_at = r->now;
		}
		if (r->window) {
			if (when_window_parse(r->window, &w, why, sizeof(why)) < 0) {
				snprintf(err, errsz, "window: %s", why);
				return LIFECYCLE_E_INVALID;
			}
			a.window = r->window;
		}
	}
	/* Refuse an illegal move before the (possibly long) precheck; apply checks again. */
	int rc = store_lifecycle_get(s, name, &out->li);
	if (rc < 0) {
		if (rc == STORE_E_NOTFOUND)
			snprintf(err, errsz, "no campaign called '%s'", name);
		else
			snprintf(err, errsz, "%s", store_errmsg(s));
		return rc;
	}
	snprintf(out->from, sizeof(out->from), "%s", out->li.state);
	if (store_lifecycle_to(name, out->li.state, r->verb, err, errsz) == NULL)
		return STORE_LIFECYCLE_E_STATE;
	if (cancel && out->li.queued + out->li.claimed > 0 && !r->confirm) {
		int64_t n = out->li.queued + out->li.claimed;
		snprintf(err, errsz,
		         "campaign '%s' is %s with %lld message%s still to send: cancelling is "
		         "final; confirm it",
		         name, out->li.state, (long long)n, n == 1 ? "" : "s");
		return LIFECYCLE_E_CONFIRM;
	}
	if (sched || resume) {
		if ((rc = precheck(s, cfg, name, r->skip_bad, out, err, errsz)) < 0)
			return rc;
		/* Precheck passed: the bad ones (if any) are exactly those skip_bad skips;
		 * none bad removes a skip list left by an earlier schedule. */
		a.skip = out->p.bad ? out->p.skip.data : "null";
	}
	if ((rc = store_lifecycle_apply(s, name, r->verb, &a, out->from, &out->li, err, errsz)) < 0)
		return rc;
	snprintf(out->tz, sizeof(out->tz), "%s", out->li.tz[0] ? out->li.tz : tz.name);
	return 0;
}

void
lifecycle_out_free(struct lifecycle_out *out)
{
	if (out->checked)
		precheck_free(&out->p);
	out->checked = false;
}
