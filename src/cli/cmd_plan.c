/* cmd_plan - `kirim campaign plan CAMPAIGN`: destinations, limits and ETAs before a send. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/planner.h"
#include "kirim/smtp_url.h"
#include "kirim/store.h"
#include "kirim/throttle.h"

static unsigned
plan_count(const char *opt, const char *v, unsigned lo, unsigned hi, int *bad)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (end == v || *end || n < lo || n > hi) {
		cli_usage("campaign", "%s takes a number from %u to %u, not '%s'", opt, lo, hi, v);
		*bad = 1;
	}
	return (unsigned)n;
}

/* plan_duration - seconds as "45s", "12m05s", "3h20m", "2d04h" into out */
static const char *
plan_duration(char out[32], double secs)
{
	long long s = (long long)(secs + 0.5);
	if (s < 60)
		snprintf(out, 32, "%llds", s);
	else if (s < 3600)
		snprintf(out, 32, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, 32, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, 32, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return out;
}

/* plan_limits - a destination's limits in one short phrase */
static const char *
plan_limits(char *out, size_t outsz, const struct planner_dest *d)
{
	char rate[THROTTLE_RATE_STR], cr[THROTTLE_RATE_STR];
	struct buf b = BUF_INIT;
	if (d->sources > 1)
		buf_printf(&b, "%u sources, ", d->sources);
	buf_printf(&b, "%u conn, %s, ", d->conns,
	           d->lim.rate > 0 ? throttle_rate_format(d->lim.rate, rate, sizeof(rate))
	                           : "no rate");
	if (d->lim.max_jobs)
		buf_printf(&b, "%u/conn", d->lim.max_jobs);
	else
		buf_adds(&b, "no msgs/conn cap");
	if (d->lim.connect_rate > 0)
		buf_printf(&b, ", %s connects",
		           throttle_rate_format(d->lim.connect_rate, cr, sizeof(cr)));
	if (d->cap_today >= 0)
		buf_printf(&b, ", warm-up %ld today", d->cap_today);
	snprintf(out, outsz, "%s", b.data);
	buf_free(&b);
	return out;
}

static void
plan_text(const struct planner_result *r, int suppress_dead)
{
	char n1[32], n2[32], when[32], dur[32], lim[200], rate[THROTTLE_RATE_STR];
	printf("Campaign '%s': %s messages to %zu domain%s (%s)\n", r->campaign,
	       cli_num(n1, (uint64_t)r->messages), r->ndomains, r->ndomains == 1 ? "" : "s",
	       r->from_list ? "the audience less suppressions; nothing queued yet"
	                    : "queued messages");
	if (r->relay[0])
		printf(
		    "Through the relay %s: a domain with a policy of its own (exact or wildcard "
		    "pattern) gets its own\nqueue on the relay's connections with that policy's "
		    "rate, connections, connect rate and\nwarm-up (mx: patterns need MX look-ups "
		    "and do not apply); the others share the relay's queue.\n",
		    r->relay);
	else
		printf("Straight to each domain's MX hosts (--relay URL plans a send through a "
		       "relay).\n");
	printf("Assuming %.6g messages/s per connection, %u connections in all%s%s.\n\n",
	       r->assume_rate, r->concurrency, r->global_rate > 0 ? ", global rate " : "",
	       r->global_rate > 0 ? throttle_rate_format(r->global_rate, rate, sizeof(rate)) : "");
	if (r->ndests) {
		printf("%-40s %7s %9s  %-44s %9s  %s\n", "destination", "domains", "messages",
		       "limits", "rate", "ETA");
		for (size_t k = 0; k < r->ndests; k++) {
			const struct planner_dest *d = &r->dests[k];
			char est[64];
			snprintf(est, sizeof(est), "%.6g/s", d->rate);
			printf("%-40s %7zu %9s  %-44s %9s  +%s", d->key, d->ndomains,
			       cli_num(n1, (uint64_t)d->messages), plan_limits(lim, sizeof(lim), d),
			       est, plan_duration(dur, (double)(d->eta - r->now)));
			if (d->days > 1)
				printf(" (%d days, %s today)", d->days,
				       cli_num(n2, (uint64_t)d->today));
			putchar('\n');
		}
		putchar('\n');
		if (r->global_bound)
			printf("Bottleneck: the whole send (%s at %.6g/s in all): done %s UTC, in "
			       "%s.\n",
			       cli_num(n1, (uint64_t)r->routed), r->routed / r->global_seconds,
			       cli_time(when, r->eta),
			       plan_duration(dur, (double)(r->eta - r->now)));
		else if (r->bottleneck >= 0) {
			const struct planner_dest *d = &r->dests[r->bottleneck];
			printf(
			    "Bottleneck: %s (%s messages at %.6g/s, bound by %s%s): done %s UTC, "
			    "in %s.\n",
			    d->key, cli_num(n1, (uint64_t)d->messages), d->rate,
			    planner_bound_name(d->bound),
			    d->days > 1 ? " and the warm-up caps" : "", cli_time(when, r->eta),
			    plan_duration(dur, (double)(r->eta - r->now)));
		}
	} else {
		printf("Nothing to send to any destination.\n");
	}
	if (!r->relay[0] && r->ndests) {
		static const char *const label[PLANNER_NTLS] = {
		    [PLANNER_TLS_NONE] = "no policy",
		    [PLANNER_TLS_STS_ENFORCE] = "MTA-STS enforce",
		    [PLANNER_TLS_STS_TESTING] = "MTA-STS testing",
		    [PLANNER_TLS_DANE] = "DANE"};
		static const int order[PLANNER_NTLS] = {PLANNER_TLS_STS_ENFORCE,
		                                        PLANNER_TLS_STS_TESTING, PLANNER_TLS_DANE,
		                                        PLANNER_TLS_NONE};
		printf("TLS policies (docs/tls.md):");
		for (int k = 0; k < PLANNER_NTLS; k++) {
			int t = order[k];
			printf("%s %s %zu destination%s (%s messages)", k ? "," : "", label[t],
			       r->tls_dests[t], r->tls_dests[t] == 1 ? "" : "s",
			       cli_num(n1, (uint64_t)r->tls_messages[t]));
		}
		printf(".\n");
	}
	if (r->ndead) {
		printf("\nDomains that cannot receive mail: %zu (%s messages)%s\n", r->ndead,
		       cli_num(n1, (uint64_t)r->dead_messages),
		       suppress_dead ? "" : "; --suppress-dead suppresses them before the send");
		for (size_t i = 0; i < r->ndomains; i++) {
			const struct planner_domain *d = &r->domains[i];
			if (d->status == DNS_OK || d->status == DNS_TEMPFAIL)
				continue;
			printf("  %-40s %-8s %9s  %s%s\n", d->name, dns_status_name(d->status),
			       cli_num(n1, (uint64_t)d->messages), d->error,
			       d->suppressed ? " (suppressed now)" : "");
		}
		if (suppress_dead)
			printf("Suppressed %lld domain%s now; %lld queued message%s marked "
			       "suppressed.\n",
			       (long long)r->suppressed_domains,
			       r->suppressed_domains == 1 ? "" : "s",
			       (long long)r->suppressed_messages,
			       r->suppressed_messages == 1 ? "" : "s");
	}
	if (r->nunresolved) {
		printf("\nDomains whose DNS look-up failed (tried again at send time): %zu (%s "
		       "messages)\n",
		       r->nunresolved, cli_num(n1, (uint64_t)r->unresolved_messages));
		for (size_t i = 0; i < r->ndomains; i++)
			if (r->domains[i].status == DNS_TEMPFAIL)
				printf("  %-40s %9s  %s\n", r->domains[i].name,
				       cli_num(n1, (uint64_t)r->domains[i].messages),
				       r->domains[i].error);
	}
}

int
campaign_plan(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dns-server", required_argument, NULL, 'S'},
	    {"dns-timeout", required_argument, NULL, 'W'},
	    {"concurrency", required_argument, NULL, 'c'},
	    {"dest-concurrency", required_argument, NULL, 'd'},
	    {"msgs-per-conn", required_argument, NULL, 'm'},
	    {"assume-rate", required_argument, NULL, 'A'},
	    {"suppress-dead", no_argument, NULL, 'X'},
	    {"now", required_argument, NULL, 'N'},
	    {"relay", required_argument, NULL, 'R'},
	    {"direct", no_argument, NULL, 'D'},
	    {"egress", required_argument, NULL, 'E'},
	    {"mta-sts-port", required_argument, NULL, '8'},
	    {NULL, 0, NULL, 0},
	};
	struct planner_opts o = {0};
	const char *relay = NULL;
	int ch, bad = 0, direct = 0;
	opterr = 0;
	optind = 0; /* glibc: start afresh whatever parsed argv before */
	while ((ch = getopt_long(argc, argv, ":c:", longopts, NULL)) != -1 && !bad) {
		switch (ch) {
		case 'S':
			o.dns_servers = optarg;
			break;
		case 'W':
			o.dns_timeout_ms = plan_count("--dns-timeout", optarg, 1, 60000, &bad);
			break;
		case 'c':
			o.concurrency = plan_count("--concurrency", optarg, 1, 1000, &bad);
			break;
		case 'd':
			o.dest_concurrency =
			    plan_count("--dest-concurrency", optarg, 1, 1000, &bad);
			break;
		case 'm':
			o.msgs_per_conn = plan_count("--msgs-per-conn", optarg, 1, 100000, &bad);
			break;
		case 'A': {
			char *end;
			o.assume_rate = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "/s") != 0) ||
			    !(o.assume_rate > 0 && o.assume_rate <= 1e6)) {
				cli_usage("campaign",
				          "--assume-rate takes messages per second per connection "
				          "(e.g. 20), not '%s'",
				          optarg);
				bad = 1;
			}
			break;
		}
		case 'X':
			o.suppress_dead = 1;
			break;
		case '8':
			o.sts_port = plan_count("--mta-sts-port", optarg, 1, 65535, &bad);
			break;
		case 'N': {
			char *end;
			long long t = strtoll(optarg, &end, 10);
			if (end == optarg || *end || t <= 0) {
				cli_usage("campaign", "--now takes a Unix time, not '%s'", optarg);
				bad = 1;
			}
			o.now = t;
			break;
		}
		case 'R':
			relay = optarg;
			break;
		case 'D':
			direct = 1;
			break;
		case 'E':
			o.egress = optarg;
			break;
		case ':':
			return cli_usage("campaign", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("campaign", longopts, argv[optind - 1]);
		}
	}
	if (bad)
		return EX_USAGE;
	if (optind + 1 != argc)
		return cli_usage("campaign", "plan takes one campaign name");
	o.campaign = argv[optind];
	if (relay && direct)
		return cli_usage("campaign", "--relay and --direct: pick one");
	/* The route kirim send would take: --relay, else kirim.conf's [relay] url, unless
	 * --direct. */
	struct config cfg;
	int rc = cli_config(c, "campaign", &cfg);
	if (rc)
		return rc;
	if (relay == NULL && !direct && cfg.relay_url[0])
		relay = cfg.relay_url;
	char where[300];
	if (relay) {
		struct smtp_url u;
		char uerr[256];
		if (smtp_url_parse(relay, &u, uerr, sizeof(uerr)) < 0) {
			config_free(&cfg);
			return cli_usage("campaign", "--relay: %s", uerr);
		}
		snprintf(where, sizeof(where), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u", u.host,
		         u.port);
		o.relay = where;
		if (o.suppress_dead) {
			config_free(&cfg);
			return cli_usage("campaign",
			                 "--suppress-dead needs the MX look-ups of a direct "
			                 "plan: add --direct");
		}
	}
	/* The TLS policies domains publish, as kirim send applies them ([tls]). */
	char ca_file[sizeof(cfg.tls_ca_file)];
	snprintf(ca_file, sizeof(ca_file), "%s", cfg.tls_ca_file);
	o.ca_file = ca_file[0] ? ca_file : NULL;
	o.mta_sts = cfg.tls_mta_sts;
	o.dane = cfg.tls_dane;
	/* The [egress] sources, as kirim send --egress takes them: limits per source. */
	char perr[1200];
	if (o.egress && config_egress_pool_check(&cfg, o.egress, perr, sizeof(perr)) < 0) {
		config_free(&cfg);
		return cli_error("campaign", EX_CONFIG, "%s", perr);
	}
	o.cfg = &cfg;
	struct store *s;
	rc = cli_open_any(c, "campaign", false, &s);
	if (rc) {
		config_free(&cfg);
		return rc;
	}
	struct planner_result r;
	char err[1024] = "";
	rc = planner_run(s, &o, &r, err, sizeof(err));
	config_free(&cfg);
	o.cfg = NULL;
	if (rc < 0) {
		store_close(s);
		planner_result_free(&r);
		return cli_error("campaign", rc == PLANNER_E_STORE ? EX_SOFTWARE : EX_CONFIG, "%s",
		                 err);
	}
	/* Before anything is queued: what the audience is made of. */
	json_t *j = c->json ? planner_json(&r) : NULL;
	struct store_campaign sc;
	if (r.from_list && (rc = store_campaign_get(s, o.campaign, &sc)) == 0) {
		if (!c->json)
			printf("Campaign '%s': nothing queued yet, its audience now:\n", sc.name);
		rc = cli_audience_makeup(c, s, &sc, j);
		store_campaign_clear(&sc);
		if (!c->json)
			putchar('\n');
	} else if (r.from_list) {
		rc = cli_error("campaign", cli_exit_for_store(rc), "%s", store_errmsg(s));
	}
	store_close(s);
	if (rc == 0 && c->json)
		cli_json_print(json_incref(j));
	else if (rc == 0)
		plan_text(&r, o.suppress_dead);
	json_decref(j);
	planner_result_free(&r);
	return rc;
}
