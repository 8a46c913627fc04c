/* cmd_run - kirim run (the long-running sender) and kirim status (what it is doing). */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/cluster.h"
#include "kirim/config.h"
#include "kirim/log.h"
#include "kirim/runner.h"
#include "kirim/store.h"
#include "kirim/store_dest.h"
#include "kirim/store_run.h"
#include "kirim/store_sender.h"
#include "kirim/throttle.h"

static volatile sig_atomic_t run_stop, run_reload;

static void
run_on_signal(int sig)
{
	if (sig == SIGHUP)
		run_reload = 1;
	else
		run_stop = 1;
}

static int
run_reload_cfg(void *arg, struct config *cfg)
{
	struct cli *c = arg;
	struct config fresh;
	char err[600];
	if (config_load(c->config, &fresh, err, sizeof(err)) < 0) {
		log_error("run reload: %s", err);
		return -1;
	}
	config_free(cfg);
	*cfg = fresh;
	return 0;
}

int
cmd_run(struct cli *c, int argc, char **argv)
{
	/* Its own options first (they are not send's), then the shared delivery options. */
	double turn_s = 30;
	int once = 0, use_syslog = 0;
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int nrest = 0;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--once") == 0) {
			once = 1;
		} else if (i > 0 && strcmp(argv[i], "--syslog") == 0) {
			use_syslog = 1;
		} else if (i > 0 && strcmp(argv[i], "--turn") == 0 && i + 1 < argc) {
			char *end;
			turn_s = strtod(argv[++i], &end);
			if (*end || turn_s < 1 || turn_s > 3600) {
				free(rest);
				return cli_usage("run", "--turn takes seconds from 1 to 3600");
			}
		} else {
			rest[nrest++] = argv[i];
		}
	}
	struct runner_opts o = {.send = {.tls = -1}, .turn_s = turn_s, .once = once};
	struct smtp_timeouts to;
	int rc = send_options("run", nrest, rest, &o.send, &to);
	if (rc == 0 && optind != nrest)
		rc = cli_usage("run", "run takes no campaign: it sends every campaign that is due");
	free(rest);
	if (rc)
		return rc;
	struct config cfg;
	if ((rc = cli_config(c, "run", &cfg)))
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "run", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	if (use_syslog)
		log_to_syslog("kirim");
	if (!c->quiet && log_get_level() < LOG_INFO)
		log_set_level(LOG_INFO); /* a daemon says what it does */
	o.stop = &run_stop;
	o.reload = &run_reload;
	o.reload_cfg = run_reload_cfg;
	o.reload_arg = c;
	struct sigaction sa = {.sa_handler = run_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct runner_stats st;
	char err[1024] = "";
	rc = runner_run(s, &cfg, &o, &st, err, sizeof(err));
	store_close(s);
	config_free(&cfg);
	if (rc < 0)
		return cli_error("run", rc == SENDER_E_STORE ? EX_SOFTWARE : EX_CONFIG, "%s", err);
	if (c->json)
		cli_json_print(json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "turns", (json_int_t)st.turns, "started",
		    (json_int_t)st.started, "attempted", (json_int_t)st.attempted, "delivered",
		    (json_int_t)st.delivered, "deferred", (json_int_t)st.deferred, "bounced",
		    (json_int_t)st.bounced, "failed", (json_int_t)st.failed, "stopped",
		    run_stop != 0));
	return 0;
}

struct status_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
	int64_t now;
	struct store *s;
	json_t *waiting; /* --json: the campaign's waiting groups */
};

static const char *const wait_kind[] = {"held", "retry", "later"};

/* status_wait - one group of a campaign's messages that are not due yet */
static int
status_wait(void *arg, const struct store_run_wait *w)
{
	struct status_out *o = arg;
	char t[32];
	if (o->waiting) {
		json_array_append_new(
		    o->waiting,
		    json_pack("{s:s,s:o,s:I,s:o}", "kind", wait_kind[w->kind], "why",
		              w->kind == STORE_WAIT_HELD ? cli_json_text(w->why) : json_null(),
		              "count", (json_int_t)w->count, "next", cli_json_time(w->next)));
		return 0;
	}
	const char *what = w->kind == STORE_WAIT_HELD    ? w->why
	                   : w->kind == STORE_WAIT_RETRY ? "to retry after a deferral"
	                                                 : "not due yet";
	printf("  waiting: %lld %s; the first at %s UTC\n", (long long)w->count, what,
	       cli_time(t, w->next));
	return 0;
}

static int
status_campaign(void *arg, const struct store_run_campaign *r)
{
	struct status_out *o = arg;
	char t[32];
	if (o->json) {
		o->waiting = json_array();
		int rc = store_run_waiting(o->s, r->id, o->now, 5, status_wait, o);
		json_t *waiting = o->waiting;
		o->waiting = NULL;
		if (rc < 0) {
			json_decref(waiting);
			return rc;
		}
		json_array_append_new(
		    o->json,
		    json_pack("{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "campaign",
		              cli_json_text(r->name), "state", cli_json_text(r->state), "queued",
		              (json_int_t)r->queued, "due", (json_int_t)r->due, "in_flight",
		              (json_int_t)r->claimed, "deferred", (json_int_t)r->deferred,
		              "delivered", (json_int_t)r->delivered, "bounced",
		              (json_int_t)r->bounced, "failed", (json_int_t)r->failed, "next_due",
		              r->next_due ? cli_json_time(r->next_due) : json_null(),
		              "scheduled_at",
		              r->scheduled_at ? cli_json_time(r->scheduled_at) : json_null(),
		              "reason", cli_json_opt(r->reason), "waiting", waiting));
		json_object_set_new(json_array_get(o->json, json_array_size(o->json) - 1),
		                    "queueing", cli_walk_json(r->walk_cursor, r->walk_upto));
		return 0;
	}
	if (o->n++ == 0)
		printf("%-20s %-9s %9s %9s %9s %9s %10s  %s\n", "CAMPAIGN", "STATE", "QUEUED",
		       "DUE", "IN FLIGHT", "DEFERRED", "DELIVERED", "NEXT (UTC)");
	printf("%-20s %-9s %9lld %9lld %9lld %9lld %10lld  %s\n", r->name, r->state,
	       (long long)r->queued, (long long)r->due, (long long)r->claimed,
	       (long long)r->deferred, (long long)r->delivered,
	       strcmp(r->state, "scheduled") == 0 ? cli_time(t, r->scheduled_at)
	       : r->next_due > o->now             ? cli_time(t, r->next_due)
	                                          : "-");
	if (r->reason[0])
		printf("  why: %s\n", r->reason);
	cli_walk_print(r->walk_cursor, r->walk_upto);
	return store_run_waiting(o->s, r->id, o->now, 5, status_wait, o);
}

static int
status_dest(void *arg, const struct store_dest_state *d)
{
	struct status_out *o = arg;
	char rate[THROTTLE_RATE_STR], t[32];
	throttle_rate_format(d->rate, rate, sizeof(rate));
	if (o->json) {
		json_array_append_new(o->json,
		                      json_pack("{s:o,s:o,s:i,s:I,s:b}", "destination",
		                                cli_json_text(d->name), "rate", cli_json_text(rate),
		                                "connections", d->connections, "slowdowns",
		                                (json_int_t)d->slowdowns, "suspended",
		                                d->suspended_until > o->now));
		return 0;
	}
	if (o->n++ == 0)
		printf("\nDestinations the throttle has adjusted:\n");
	printf("  %-40s rate %-10s %d conn%s%s  (%s)\n", d->name, rate, d->connections,
	       d->connections == 1 ? "" : "s", d->suspended_until > o->now ? ", suspended" : "",
	       cli_time(t, d->updated_at));
	return 0;
}

/* status_node - one sender: its node, process, lease, and what it holds */
static int
status_node(void *arg, const struct store_sender_node *n)
{
	struct status_out *o = arg;
	const struct store_sender_row *r = &n->r;
	const char *node = r->node[0] ? r->node : r->host;
	char t[32];
	if (o->json) {
		json_t *camps = json_array();
		char list[sizeof(n->campaigns)];
		snprintf(list, sizeof(list), "%s", n->campaigns);
		for (char *save = NULL, *p = strtok_r(list, ",", &save); p;
		     p = strtok_r(NULL, ",", &save))
			json_array_append_new(camps, cli_json_text(p));
		json_array_append_new(
		    o->json,
		    json_pack("{s:o,s:o,s:I,s:o,s:o,s:o,s:b,s:o,s:I}", "node", cli_json_text(node),
		              "host", cli_json_text(r->host), "pid", (json_int_t)r->pid, "command",
		              cli_json_text(r->command), "since", cli_json_time(r->started_at),
		              "lease_until", cli_json_time(r->lease_until), "expired",
		              r->lease_until < o->now, "campaigns", camps, "claimed",
		              (json_int_t)n->claimed));
		return 0;
	}
	if (o->n++ == 0)
		printf("\nSenders:\n  %-16s %-16s %8s  %-14s %-22s %9s  %s\n", "NODE", "HOST",
		       "PID", "COMMAND", "LEASE UNTIL (UTC)", "CLAIMED", "CAMPAIGNS");
	printf("  %-16s %-16s %8lld  %-14.14s %-19s%-3s %9lld  %s\n", node, r->host,
	       (long long)r->pid, r->command, cli_time(t, r->lease_until),
	       r->lease_until < o->now ? " !" : "", (long long)n->claimed,
	       n->campaigns[0] ? n->campaigns : "-");
	return 0;
}

int
cmd_status(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage("status", "status takes no arguments");
	struct store *s;
	int rc = cli_open(c, "status", false, &s);
	if (rc)
		return rc;
	json_t *campaigns = c->json ? json_array() : NULL, *dests = c->json ? json_array() : NULL;
	struct status_out o = {campaigns, 0, (int64_t)time(NULL), s, NULL};
	rc = store_run_campaigns(s, NULL, o.now, status_campaign, &o);
	if (rc == 0 && o.n == 0 && !c->json)
		printf("Nothing is sending, scheduled or paused.\n");
	o.json = dests;
	o.n = 0;
	if (rc == 0)
		rc = store_dest_each(s, NULL, status_dest, &o);
	/* The senders on every node, and which process leads (docs/scale-out.md). */
	json_t *nodes = c->json ? json_array() : NULL, *leader = NULL;
	o.json = nodes;
	o.n = 0;
	if (rc == 0)
		rc = store_sender_nodes(s, status_node, &o);
	struct store_sender_row lr;
	int lrc = rc == 0 ? store_sender_leaseholder(s, "leader", &lr) : rc;
	if (lrc == 0 && c->json)
		leader =
		    json_pack("{s:o,s:o,s:I,s:o,s:o,s:b}", "node", cli_json_text(lr.node), "host",
		              cli_json_text(lr.host), "pid", (json_int_t)lr.pid, "since",
		              cli_json_time(lr.started_at), "lease_until",
		              cli_json_time(lr.lease_until), "expired", lr.lease_until < o.now);
	else if (lrc == 0) {
		char t1[32], t2[32];
		printf("Leader: node %s (host %s, pid %lld) since %s UTC, lease until %s UTC%s\n",
		       lr.node, lr.host, (long long)lr.pid, cli_time(t1, lr.started_at),
		       cli_time(t2, lr.lease_until), lr.lease_until < o.now ? " (expired)" : "");
	}
	if (lrc < 0 && lrc != STORE_E_NOTFOUND)
		rc = lrc;
	/* Whether the senders share their throttles through Redis. */
	struct cluster_throttles ct = {0};
	if (rc == 0) {
		/* Only [redis] is read here: no key or password file (config_peek). */
		struct config cfg;
		char err[1200];
		if (config_peek(c->config, &cfg, err, sizeof(err)) < 0) {
			json_decref(campaigns);
			json_decref(dests);
			json_decref(nodes);
			json_decref(leader);
			store_close(s);
			return cli_error("status", EX_CONFIG, "%s", err);
		}
		cluster_throttles(&cfg, &ct);
		config_free(&cfg);
	}
	if (c->json && rc == 0)
		cli_json_print(json_pack(
		    "{s:O,s:O,s:O,s:o,s:{s:s,s:o,s:b,s:i,s:o}}", "campaigns", campaigns,
		    "destinations", dests, "nodes", nodes, "leader", leader ? leader : json_null(),
		    "throttles", "mode", ct.shared ? "shared" : "local", "redis",
		    ct.shared ? cli_json_text(ct.where) : json_null(), "reachable", ct.reachable,
		    "nodes", (int)ct.nodes, "error", cli_json_opt(ct.error)));
	else if (rc == 0 && !ct.shared)
		printf(
		    "\nThrottles: local to each sender (no Redis configured): every sender holds "
		    "each destination's limits alone.\n");
	else if (rc == 0 && ct.reachable)
		printf("\nThrottles: shared through Redis %s (reachable, %u node%s sending).\n",
		       ct.where, ct.nodes, ct.nodes == 1 ? "" : "s");
	else if (rc == 0)
		printf("\nThrottles: shared through Redis %s, which does not answer (%s): senders "
		       "fall back to a local share of each limit.\n",
		       ct.where, ct.error);
	else
		json_decref(leader);
	json_decref(campaigns);
	json_decref(dests);
	json_decref(nodes);
	if (rc < 0)
		rc = cli_error("status", cli_exit_for_store(rc), "%s", store_errmsg(s));
	store_close(s);
	return rc;
}
