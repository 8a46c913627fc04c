/*
 * cmd_lifecycle - `kirim campaign schedule|unschedule|pause|resume|cancel`.
 *
 * cmd_campaign hands these verbs here before parsing its own options:
 * argv[0] is the verb, then NAME and the verb's options. The clock is
 * time(), or $KIRIM_NOW (Unix seconds) when set, so tests control it.
 * Exit status: 0; 64 for usage (including cancel of a started campaign
 * without --yes); 65 for a bad time, window or zone, an illegal move, an
 * unknown campaign or a failed precheck; 78 for a config (sender identity)
 * fault; 75 when the database stays locked.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/config.h"
#include "kirim/lifecycle.h"
#include "kirim/precheck.h"
#include "kirim/store.h"
#include "kirim/store_lifecycle.h"
#include "kirim/when.h"
#include "kirim/when_tz.h"

/* campaign_lifecycle_verb - is verb one of the lifecycle verbs campaign_lifecycle handles? */
bool
campaign_lifecycle_verb(const char *verb)
{
	return lifecycle_verb(verb);
}

/* lc_now - the clock: $KIRIM_NOW (for tests) or time() */
static int64_t
lc_now(void)
{
	const char *e = getenv("KIRIM_NOW");
	if (e && *e) {
		char *end;
		long long v = strtoll(e, &end, 10);
		if (*end == '\0' && v > 0)
			return (int64_t)v;
	}
	return (int64_t)time(NULL);
}

struct lc_opts {
	const char *at, *tz, *window, *reason;
	bool now, yes, skip_bad;
};

/* lc_print - the result of a move, for a person or as JSON */
static void
lc_print(struct cli *c, const char *verb, const char *from, const struct store_lifecycle_info *li,
         const struct when_tz *tz, const struct precheck *p, json_t *warnings, int64_t now)
{
	char local[40] = "", utc[40] = "", open[40] = "", close[40] = "";
	bool win_inside = false, has_win = false;
	int64_t open_at = 0, close_at = 0;
	if (li->scheduled_at) {
		when_format(&tz->zone, li->scheduled_at, local, sizeof(local));
		cli_time(utc, li->scheduled_at);
	}
	struct when_window w;
	char werr[200];
	if (li->window[0] && when_window_parse(li->window, &w, werr, sizeof(werr)) == 0 &&
	    when_window_next(&w, &tz->zone, li->scheduled_at > now ? li->scheduled_at : now,
	                     &win_inside, &open_at, &close_at) == 0) {
		has_win = true;
		when_format(&tz->zone, open_at, open, sizeof(open));
		when_format(&tz->zone, close_at, close, sizeof(close));
	}
	if (c->json) {
		json_t *o = json_pack("{s:o,s:I,s:o,s:o,s:o,s:o}", "name", cli_json_text(li->name),
		                      "id", (json_int_t)li->id, "verb", cli_json_text(verb), "from",
		                      cli_json_text(from), "state", cli_json_text(li->state),
		                      "reason", cli_json_opt(li->reason));
		if (li->scheduled_at) {
			json_object_set_new(o, "scheduled_at", json_integer(li->scheduled_at));
			json_object_set_new(o, "scheduled_at_local", cli_json_text(local));
			json_object_set_new(o, "scheduled_at_utc", cli_json_text(utc));
		} else {
			json_object_set_new(o, "scheduled_at", json_null());
		}
		json_object_set_new(o, "tz", cli_json_opt(li->tz));
		json_object_set_new(o, "window", cli_json_opt(li->window));
		if (has_win) {
			json_object_set_new(o, "window_opens", cli_json_text(open));
			json_object_set_new(o, "window_closes", cli_json_text(close));
		}
		json_object_set_new(o, "messages", json_integer(li->messages));
		json_object_set_new(o, "queued", json_integer(li->queued));
		json_object_set_new(o, "in_flight", json_integer(li->claimed));
		if (strcmp(verb, "cancel") == 0)
			json_object_set_new(o, "cancelled_messages", json_integer(li->cancelled));
		if (p) {
			json_t *skipped = json_array();
			for (size_t i = 0; i < p->nshow; i++)
				json_array_append_new(
				    skipped, json_pack("{s:I,s:o,s:o}", "contact_id",
				                       (json_int_t)p->show[i].contact_id, "email",
				                       cli_json_text(p->show[i].email), "error",
				                       cli_json_text(p->show[i].why)));
			json_object_set_new(o, "recipients", json_integer(p->mailable - p->bad));
			json_object_set_new(o, "skipped", json_integer(p->bad));
			json_object_set_new(o, "skipped_contacts", skipped);
		}
		json_object_set_new(o, "warnings", json_incref(warnings));
		cli_json_print(o);
		return;
	}
	char n1[32];
	if (strcmp(li->state, "scheduled") == 0) {
		printf("Campaign '%s' is scheduled (was %s) for %s %s (%s UTC).\n", li->name, from,
		       local, li->tz[0] ? li->tz : "local time", utc);
		if (has_win)
			printf("Window: %s; %s %s, closes %s.\n", li->window,
			       win_inside ? "open from" : "next opens", open, close);
		if (p)
			printf("Recipients: %s%s.\n", cli_num(n1, (uint64_t)(p->mailable - p->bad)),
			       p->bad ? " (unrenderable ones skipped)" : "");
		printf("'kirim run' starts it when the time comes.\n");
	} else if (strcmp(verb, "cancel") == 0) {
		printf("Campaign '%s' is cancelled (was %s); %s queued message%s cancelled%s.\n",
		       li->name, from, cli_num(n1, (uint64_t)li->cancelled),
		       li->cancelled == 1 ? "" : "s",
		       li->claimed ? "; the ones in flight finish" : "");
	} else if (strcmp(verb, "pause") == 0) {
		printf("Campaign '%s' is paused (was %s): nothing new starts; messages in flight "
		       "finish. 'kirim campaign resume %s' continues it.\n",
		       li->name, from, li->name);
	} else {
		printf("Campaign '%s' is %s (was %s).\n", li->name, li->state, from);
	}
}

/* campaign_lifecycle - `kirim campaign VERB NAME [options]`; argv[0] is the verb */
int
campaign_lifecycle(struct cli *c, const char *verb, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"at", required_argument, NULL, 'a'},     {"tz", required_argument, NULL, 'z'},
	    {"window", required_argument, NULL, 'w'}, {"reason", required_argument, NULL, 'r'},
	    {"now", no_argument, NULL, 'n'},          {"yes", no_argument, NULL, 'y'},
	    {"skip-bad", no_argument, NULL, 'k'},     {NULL, 0, NULL, 0},
	};
	struct lc_opts o = {0};
	int ch;
	if (!campaign_lifecycle_verb(verb))
		return cli_usage("campaign", "unknown subcommand '%s'", verb);
	optind = 0; /* glibc: start a fresh scan of this argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":a:z:w:r:nyk", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.at = optarg;
			break;
		case 'z':
			o.tz = optarg;
			break;
		case 'w':
			o.window = optarg;
			break;
		case 'r':
			o.reason = optarg;
			break;
		case 'n':
			o.now = true;
			break;
		case 'y':
			o.yes = true;
			break;
		case 'k':
			o.skip_bad = true;
			break;
		case ':':
			return cli_usage("campaign", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("campaign", longopts, argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("campaign", "%s takes one campaign name", verb);
	const char *name = argv[optind];
	bool sched = strcmp(verb, "schedule") == 0, resume = strcmp(verb, "resume") == 0;
	if (!sched && (o.at || o.tz || o.window || o.now))
		return cli_usage("campaign", "--at, --tz, --window and --now go with schedule");
	if (!sched && !resume && o.skip_bad)
		return cli_usage("campaign", "--skip-bad goes with schedule and resume");
	if (o.reason && strcmp(verb, "pause") != 0 && strcmp(verb, "cancel") != 0)
		return cli_usage("campaign", "--reason goes with pause and cancel");
	if (o.yes && strcmp(verb, "cancel") != 0)
		return cli_usage("campaign", "--yes goes with cancel");
	if (sched && o.at == NULL && !o.now)
		return cli_usage("campaign",
		                 "schedule needs --at TIME (or --now to start at once)");

	int64_t now = lc_now();
	struct config cfg;
	bool have_cfg = false;
	int rc;
	if (sched || resume) { /* the precheck builds a composer from it */
		if ((rc = cli_config(c, "campaign", &cfg)))
			return rc;
		have_cfg = true;
	}
	struct store *s;
	if ((rc = cli_open_any(c, "campaign", false, &s))) {
		if (have_cfg)
			config_free(&cfg);
		return rc;
	}
	struct lifecycle_req r = {.verb = verb,
	                          .now = now,
	                          .at = o.at,
	                          .tz = o.tz,
	                          .window = o.window,
	                          .reason = o.reason,
	                          .start_now = o.now,
	                          .confirm = o.yes,
	                          .skip_bad = o.skip_bad};
	struct lifecycle_out out;
	char err[600];
	json_t *warnings = json_array();
	rc = lifecycle_move(s, have_cfg ? &cfg : NULL, name, &r, &out, err, sizeof(err));
	switch (rc) {
	case 0:
		break;
	case LIFECYCLE_E_USAGE:
		rc = cli_usage("campaign", "%s", err);
		goto out;
	case LIFECYCLE_E_CONFIRM: {
		char n1[32];
		int64_t n = out.li.queued + out.li.claimed;
		rc = cli_error("campaign", EX_USAGE,
		               "campaign '%s' is %s with %s message%s still to send: cancelling "
		               "is final; add --yes to cancel it",
		               name, out.li.state, cli_num(n1, (uint64_t)n), n == 1 ? "" : "s");
		goto out;
	}
	case STORE_E_NOTFOUND:
		rc = cli_error("campaign", EX_DATAERR,
		               "no campaign called '%s' ('kirim campaign list' shows them)", name);
		goto out;
	case LIFECYCLE_E_IDENTITY:
		rc = cli_error("campaign", EX_CONFIG, "%s", err);
		goto out;
	case LIFECYCLE_E_PRECHECK:
		if (out.precheck_rc == PRECHECK_E_RENDER) {
			fprintf(stderr, "kirim campaign: %s:\n", err);
			for (size_t i = 0; i < out.p.nshow; i++)
				fprintf(stderr, "  %s (contact %lld): %s\n", out.p.show[i].email,
				        (long long)out.p.show[i].contact_id, out.p.show[i].why);
			if ((int64_t)out.p.nshow < out.p.bad)
				fprintf(stderr, "  ... and %lld more\n",
				        (long long)(out.p.bad - (int64_t)out.p.nshow));
			fprintf(
			    stderr,
			    "Fix the template or the contacts, or add --skip-bad to skip them.\n");
			rc = EX_DATAERR;
		} else {
			rc = cli_error("campaign", EX_DATAERR, "%s", err);
		}
		goto out;
	case LIFECYCLE_E_INVALID:
	case STORE_LIFECYCLE_E_STATE:
		rc = cli_error("campaign", EX_DATAERR, "%s", err);
		goto out;
	default:
		rc = cli_error("campaign", cli_exit_for_store(rc), "%s", err);
		goto out;
	}
	if (out.checked && out.p.warning[0]) {
		if (!c->json && !c->quiet)
			fprintf(stderr, "kirim campaign: warning: %s\n", out.p.warning);
		json_array_append_new(warnings, cli_json_text(out.p.warning));
	}
	/* Show times in the campaign's zone. */
	struct when_tz tz;
	if (when_tz_open(&tz, out.tz, err, sizeof(err)) < 0)
		when_tz_open(&tz, NULL, err, sizeof(err));
	lc_print(c, verb, out.from, &out.li, &tz, out.checked ? &out.p : NULL, warnings, now);
	rc = 0;
out:
	lifecycle_out_free(&out);
	json_decref(warnings);
	store_close(s);
	if (have_cfg)
		config_free(&cfg);
	return rc;
}
