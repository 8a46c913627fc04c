/* cmd_send - `kirim send CAMPAIGN`: deliver what is due, with a progress line. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kirim/cluster.h"
#include "kirim/config.h"
#include "kirim/log.h"
#include "kirim/precheck.h"
#include "kirim/redis_url.h"
#include "kirim/sender.h"
#include "kirim/store_lifecycle.h"
#include "kirim/store.h"
#include "kirim/tls.h"

static volatile sig_atomic_t send_stop;

static void
send_on_signal(int sig)
{
	(void)sig;
	send_stop = 1;
}

struct send_progress {
	bool tty;
	double last_line;
};

static void
send_progress(void *arg, const struct sender_progress *p)
{
	struct send_progress *sp = arg;
	char a[32], d[32], df[32], b[32];
	double rate = p->elapsed > 0 ? (double)p->attempted / p->elapsed : 0;
	if (sp->tty) {
		int pct = p->due ? (int)(100.0 * (double)p->attempted / (double)p->due) : 100;
		char pcts[8];
		/* While messages are still being made, how many are due is not known yet. */
		snprintf(pcts, sizeof(pcts), p->queueing ? "  ..." : "%3d%%",
		         pct > 100 ? 100 : pct);
		fprintf(stderr,
		        "\r%s  sent %s  delivered %s  deferred %s  bounced %s  failed %llu  "
		        "%.0f/s  %u conn ",
		        pcts, cli_num(a, p->attempted), cli_num(d, p->delivered),
		        cli_num(df, p->deferred), cli_num(b, p->bounced),
		        (unsigned long long)p->failed, rate, p->connections);
		fflush(stderr);
	} else if (p->elapsed - sp->last_line >= 5.0) {
		/* Not a terminal: one status line every few seconds, for logs. */
		sp->last_line = p->elapsed;
		log_msg(LOG_WARN,
		        "status sent=%llu delivered=%llu deferred=%llu bounced=%llu failed=%llu "
		        "rate=%.0f connections=%u%s",
		        (unsigned long long)p->attempted, (unsigned long long)p->delivered,
		        (unsigned long long)p->deferred, (unsigned long long)p->bounced,
		        (unsigned long long)p->failed, rate, p->connections,
		        p->queueing ? " queueing=yes" : "");
	}
}

static unsigned
parse_count(const char *opt, const char *v, unsigned lo, unsigned hi, int *bad)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*end || n < lo || n > hi) {
		cli_usage("send", "%s takes a number from %u to %u, not '%s'", opt, lo, hi, v);
		*bad = 1;
	}
	return (unsigned)n;
}

/* parse_duration - "90", "90s", "5m", "4h", "3d" in seconds (1 s to 365 days) */
static double
parse_duration(const char *opt, const char *v, int *bad)
{
	char *end;
	double n = strtod(v, &end);
	double unit = *end == '\0' || strcmp(end, "s") == 0 ? 1
	              : strcmp(end, "m") == 0               ? 60
	              : strcmp(end, "h") == 0               ? 3600
	              : strcmp(end, "d") == 0               ? 86400
	                                                    : -1;
	if (end == v || unit < 0 || !(n * unit >= 1) || n * unit > 365 * 86400.0) {
		cli_usage("send", "%s takes a duration such as 90s, 5m, 4h or 3d, not '%s'", opt,
		          v);
		*bad = 1;
		return 0;
	}
	return n * unit;
}

/* send_options - the delivery options kirim send and kirim run share (see cli.h) */
int
send_options(const char *name, int argc, char **argv, struct sender_opts *op,
             struct smtp_timeouts *to)
{
	static const struct option longopts[] = {
	    {"relay", required_argument, NULL, 'r'},
	    {"tls", required_argument, NULL, 't'},
	    {"concurrency", required_argument, NULL, 'c'},
	    {"msgs-per-conn", required_argument, NULL, 'm'},
	    {"rcpts-per-msg", required_argument, NULL, 'R'},
	    {"allow-plaintext-auth", no_argument, NULL, 'P'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"direct", no_argument, NULL, 'D'},
	    {"dns-server", required_argument, NULL, 'S'},
	    {"dns-timeout", required_argument, NULL, 'W'},
	    {"mx-port", required_argument, NULL, 'M'},
	    {"mta-sts-port", required_argument, NULL, '8'},
	    {"dest-concurrency", required_argument, NULL, 'd'},
	    {"retry-first", required_argument, NULL, '1'},
	    {"retry-max", required_argument, NULL, '2'},
	    {"max-age", required_argument, NULL, '3'},
	    {"nxdomain-confirm", required_argument, NULL, '4'},
	    {"no-delivery-log", no_argument, NULL, '5'},
	    {"now", no_argument, NULL, '6'},
	    {"resume", no_argument, NULL, 'U'},
	    {"workers", required_argument, NULL, '7'},
	    {"egress", required_argument, NULL, 'E'},
	    {"node", required_argument, NULL, 'N'},
	    {"redis", required_argument, NULL, 'X'},
	    {NULL, 0, NULL, 0},
	};
	struct sender_opts o = *op;
	int ch, bad = 0;
	optind = 1;
	unsigned timeout_s = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":r:c:", longopts, NULL)) != -1 && !bad) {
		switch (ch) {
		case 'r':
			o.relay_url = optarg;
			break;
		case 't': {
			enum tls_policy pol;
			if (tls_policy_parse(optarg, &pol) < 0 || pol == TLS_POLICY_DANE)
				return cli_usage(name,
				                 "--tls takes none, opportunistic, required or "
				                 "verify (dane is a domain's: kirim domain set "
				                 "DOMAIN --tls dane)");
			o.tls = (int)pol;
			break;
		}
		case 'c':
			o.concurrency = parse_count("--concurrency", optarg, 1, 1000, &bad);
			break;
		case 'm':
			o.msgs_per_conn = parse_count("--msgs-per-conn", optarg, 1, 100000, &bad);
			break;
		case '7':
			o.workers = parse_count("--workers", optarg, 1, 256, &bad);
			break;
		case 'R':
			if (parse_count("--rcpts-per-msg", optarg, 1, 1, &bad) != 1 || bad)
				return EX_USAGE;
			break;
		case 'P':
			o.allow_plaintext_auth = 1;
			break;
		case 'T':
			timeout_s = parse_count("--timeout", optarg, 1, 3600, &bad);
			break;
		case 'D':
			o.direct = 1;
			break;
		case 'U':
			o.resume = 1;
			break;
		case 'S':
			o.dns_servers = optarg;
			break;
		case 'W':
			o.dns_timeout_ms = parse_count("--dns-timeout", optarg, 1, 60000, &bad);
			break;
		case 'M':
			o.mx_port = parse_count("--mx-port", optarg, 1, 65535, &bad);
			break;
		case '8':
			o.sts_port = parse_count("--mta-sts-port", optarg, 1, 65535, &bad);
			break;
		case 'N':
			if (!config_name_ok(optarg))
				return cli_usage(name,
				                 "--node takes a name of 1 to 63 letters, digits, "
				                 "'.', '-' or '_'");
			o.node = optarg;
			break;
		case 'X':
			o.redis_url = optarg;
			break;
		case 'E':
			o.egress =
			    optarg; /* checked against kirim.conf's pools when sending starts */
			break;
		case 'd':
			o.dest_concurrency =
			    parse_count("--dest-concurrency", optarg, 1, 1000, &bad);
			break;
		case '1':
			o.retry_first = parse_duration("--retry-first", optarg, &bad);
			break;
		case '2':
			o.retry_max = parse_duration("--retry-max", optarg, &bad);
			break;
		case '3':
			o.max_age = (int64_t)parse_duration("--max-age", optarg, &bad);
			break;
		case '5':
			o.no_delivery_log = 1;
			break;
		case '6':
			o.now = 1;
			break;
		case '4':
			o.nxdomain_confirm_s =
			    (int64_t)parse_duration("--nxdomain-confirm", optarg, &bad);
			break;
		case ':':
			return cli_usage(name, "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option(name, longopts, argv[optind - 1]);
		}
	}
	if (bad)
		return EX_USAGE;
	/* The shared throttles' Redis named here (--redis or $KIRIM_REDIS) is checked now;
	 * kirim.conf's [redis] url was checked when it was read. */
	const char *from, *redis = cluster_redis_url(o.redis_url, NULL, &from);
	if (redis) {
		struct redis_url u;
		const char *why;
		if (redis_url_parse(redis, &u, &why) < 0)
			return cli_usage(name, "%s '%.200s': %s", from, redis, why);
	}
	if (timeout_s) {
		/* One figure for every SMTP wait, for tests and impatient labs. */
		smtp_session_default_timeouts(to);
		unsigned ms = timeout_s * 1000;
		to->connect_ms = to->banner_ms = to->helo_ms = to->starttls_ms = to->auth_ms = ms;
		to->mail_ms = to->rcpt_ms = to->data_ms = to->data_block_ms = to->dot_ms = ms;
		to->rset_ms = to->quit_ms = ms;
		o.timeouts = to;
	}
	*op = o;
	return 0;
}

/*
 * send_may_start - what kirim send checks before it sends: a campaign scheduled for later
 * is refused unless --now (which says what it overrides), and a draft passes the start
 * checks that campaign schedule runs; 0 or an exit code
 */
static int
send_may_start(struct cli *c, struct store *s, const struct sender_opts *o)
{
	struct store_lifecycle_info li;
	if (store_lifecycle_get(s, o->campaign, &li) < 0)
		return 0; /* the sender says what is wrong with it */
	int64_t now = (int64_t)time(NULL);
	if (strcmp(li.state, "scheduled") == 0 && li.scheduled_at > now) {
		char when[40];
		cli_time(when, li.scheduled_at);
		if (!o->now)
			return cli_error(
			    "send", EX_DATAERR,
			    "campaign '%s' is scheduled for %s: 'kirim run' starts it "
			    "then. To send it now instead, add --now (its send window, "
			    "if any, still applies)",
			    o->campaign, when);
		if (!c->quiet && !c->json)
			fprintf(stderr,
			        "kirim send: sending '%s' now, ahead of its schedule (%s)\n",
			        o->campaign, when);
		return 0;
	}
	if (strcmp(li.state, "draft") != 0)
		return 0;
	/* A draft gets the checks a schedule would run: sender identity, someone to mail,
	 * a template that renders for every recipient. */
	struct precheck p;
	json_t *warnings = json_array();
	int rc = cli_precheck(c, s, o->campaign, false, &p, warnings);
	precheck_free(&p);
	json_decref(warnings);
	return rc;
}

/* send_reasons_print - the top reasons a run did not deliver, under its counts */
static void
send_reasons_print(const struct sender_stats *st)
{
	if (st->nreasons == 0)
		return;
	printf("Why not delivered (most first):\n");
	for (size_t i = 0; i < st->nreasons && i < 5; i++) {
		const struct sender_reason *x = &st->reasons[i];
		char a[32], code[32];
		if (x->code)
			snprintf(code, sizeof(code), "%d%s%s", x->code, x->ecode[0] ? " " : "",
			         x->ecode);
		else
			snprintf(code, sizeof(code), "%s", x->ecode[0] ? x->ecode : "-");
		printf("  %10s  %-12s %s%s\n", cli_num(a, x->count), code,
		       x->sent ? "" : "(not sent) ", x->text);
	}
	if (st->nreasons > 5)
		printf("  ... %zu more reasons ('kirim report' has them all)\n", st->nreasons - 5);
}

/* send_reasons_json - the reasons as a JSON array */
static json_t *
send_reasons_json(const struct sender_stats *st)
{
	json_t *a = json_array();
	for (size_t i = 0; i < st->nreasons; i++) {
		const struct sender_reason *x = &st->reasons[i];
		json_array_append_new(a, json_pack("{s:I,s:i,s:o,s:o,s:b}", "count",
		                                   (json_int_t)x->count, "code", x->code, "ecode",
		                                   cli_json_text(x->ecode), "text",
		                                   cli_json_text(x->text), "sent", x->sent != 0));
	}
	return a;
}

/* send_exit - the exit status for a sender error */
static int
send_exit(int rc)
{
	return rc == SENDER_E_STORE                          ? EX_SOFTWARE
	       : rc == SENDER_E_BUSY || rc == SENDER_E_LEASE ? EX_TEMPFAIL
	                                                     : EX_CONFIG;
}

/*
 * campaign_test - kirim campaign test NAME --to ADDRESS... [delivery options]: the
 * campaign's message, as it would go, to these addresses (proofs), recorded nowhere.
 */
int
campaign_test(struct cli *c, int argc, char **argv)
{
	/* --to is ours; the rest are the delivery options of kirim send. */
	const char **to = calloc((size_t)argc + 1, sizeof(char *));
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	size_t nto = 0;
	int nrest = 0, rc = 0;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to[nto++] = argv[++i];
		else if (i > 0 && strncmp(argv[i], "--to=", 5) == 0)
			to[nto++] = argv[i] + 5;
		else
			rest[nrest++] = argv[i];
	}
	struct sender_opts o = {.tls = -1, .stop = &send_stop};
	struct smtp_timeouts tmo;
	if ((rc = send_options("campaign", nrest, rest, &o, &tmo)) == 0 && optind + 1 != nrest)
		rc = cli_usage("campaign", "test takes one campaign: kirim campaign test NAME --to "
		                           "ADDRESS [--to ADDRESS]...");
	if (rc == 0 && nto == 0)
		rc = cli_usage("campaign", "test needs --to ADDRESS (at most 20)");
	if (rc == 0 && nto > 20)
		rc = cli_usage("campaign", "test sends at most 20 proofs at once");
	if (rc) {
		free(to);
		free(rest);
		return rc;
	}
	o.campaign = rest[optind];
	o.test_rcpts = to;
	o.ntest = nto;
	struct config cfg;
	struct store *s = NULL;
	if ((rc = cli_config(c, "campaign", &cfg)) == 0 &&
	    (rc = cli_open(c, "campaign", false, &s))) {
		config_free(&cfg);
		s = NULL;
	}
	if (s) {
		struct sender_stats st;
		char err[1024] = "";
		rc = sender_run(s, &cfg, &o, &st, err, sizeof(err));
		store_close(s);
		config_free(&cfg);
		if (rc < 0) {
			rc = cli_error("campaign", send_exit(rc), "%s", err);
		} else {
			/* One line per proof: address, outcome, reply code, enhanced code, text. */
			fputs(st.tests, stdout);
			rc = st.delivered == nto ? 0 : EX_UNAVAILABLE;
		}
	}
	free(to);
	free(rest);
	return rc;
}

int
cmd_send(struct cli *c, int argc, char **argv)
{
	struct sender_opts o = {.tls = -1, .stop = &send_stop};
	struct smtp_timeouts to;
	int rc = send_options("send", argc, argv, &o, &to);
	if (rc)
		return rc;
	if (optind + 1 != argc)
		return cli_usage("send", "which campaign? kirim send CAMPAIGN [--relay URL]");
	o.campaign = argv[optind];

	struct config cfg;
	rc = cli_config(c, "send", &cfg);
	if (rc)
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "send", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	if ((rc = send_may_start(c, s, &o))) {
		store_close(s);
		config_free(&cfg);
		return rc;
	}
	struct send_progress sp = {.tty = !c->quiet && !c->json && isatty(STDERR_FILENO)};
	if (!c->quiet && !c->json) {
		o.progress = send_progress;
		o.progress_arg = &sp;
	}
	struct sigaction sa = {.sa_handler = send_on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
	struct sender_stats st;
	char err[1024] = "";
	rc = sender_run(s, &cfg, &o, &st, err, sizeof(err));
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (sp.tty)
		fputc('\n', stderr);
	store_close(s);
	config_free(&cfg);
	if (rc < 0 && st.attempted == 0 && st.seconds == 0)
		return cli_error("send", send_exit(rc), "%s", err);

	const struct store_campaign_counts *n = &st.counts;
	if (c->json) {
		json_t *counts = json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)n->total, "queued",
		    (json_int_t)n->queued, "deferred", (json_int_t)n->deferred, "delivered",
		    (json_int_t)n->delivered, "bounced", (json_int_t)n->bounced, "failed",
		    (json_int_t)n->failed, "suppressed", (json_int_t)n->suppressed);
		json_object_set_new(counts, "queueing",
		                    cli_walk_json(n->walk_cursor, n->walk_upto));
		json_t *out = json_pack(
		    "{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:b,s:o,s:o,s:b,s:o}",
		    "campaign", cli_json_text(o.campaign), "attempted", (json_int_t)st.attempted,
		    "delivered", (json_int_t)st.delivered, "deferred", (json_int_t)st.deferred,
		    "bounced", (json_int_t)st.bounced, "failed", (json_int_t)st.failed,
		    "suppressed", (json_int_t)st.suppressed, "seconds",
		    cli_json_number(st.seconds, "%.3f"), "connections", (json_int_t)st.connections,
		    "destinations", (json_int_t)st.destinations, "domains", (json_int_t)st.domains,
		    "dns_queries", (json_int_t)st.dns_queries, "stopped", st.stopped != 0,
		    "campaign_counts", counts, "error", cli_json_text(rc < 0 ? err : NULL),
		    "paused", st.paused != 0, "why", cli_json_text(st.paused ? st.why : NULL));
		json_object_set_new(out, "not_sent", json_integer((json_int_t)st.handed_back));
		json_object_set_new(out, "reasons", send_reasons_json(&st));
		cli_json_print(out);
	} else {
		char a[32];
		printf("%s '%s': %llu attempts in %.2f s (%.0f/s) over %lu connection%s\n",
		       st.stopped ? "Stopped" : "Sent", o.campaign,
		       (unsigned long long)st.attempted, st.seconds,
		       st.seconds > 0 ? (double)st.attempted / st.seconds : 0, st.connections,
		       st.connections == 1 ? "" : "s");
		if (st.domains)
			printf("  %lu domain%s on %lu destination%s (%lu DNS queries)\n",
			       st.domains, st.domains == 1 ? "" : "s", st.destinations,
			       st.destinations == 1 ? "" : "s", st.dns_queries);
		printf("  %-12s %10s\n", "delivered", cli_num(a, st.delivered));
		printf("  %-12s %10s\n", "deferred", cli_num(a, st.deferred));
		printf("  %-12s %10s\n", "bounced", cli_num(a, st.bounced));
		printf("  %-12s %10s\n", "failed", cli_num(a, st.failed));
		if (st.handed_back)
			printf("  %-12s %10s  (back in the queue: see why below)\n", "not sent",
			       cli_num(a, st.handed_back));
		send_reasons_print(&st);
		printf("Campaign: %lld recipients: %lld delivered, %lld bounced, %lld failed, "
		       "%lld suppressed, %lld waiting (%lld deferred)\n",
		       (long long)n->total, (long long)n->delivered, (long long)n->bounced,
		       (long long)n->failed, (long long)n->suppressed, (long long)n->queued,
		       (long long)n->deferred);
		cli_walk_print(n->walk_cursor, n->walk_upto);
		if (st.paused)
			printf("Paused: %s\n", st.why);
	}
	if (rc < 0)
		return cli_error("send", send_exit(rc), "%s", err);
	if (st.stopped)
		return 130;
	/* Something was due and nothing arrived: a script (or cron) must not take it for a
	 * success. 75 when it may work later (deferred, not sent), 65 when all failed. */
	if (st.delivered == 0 && st.attempted + st.handed_back > 0) {
		bool later = st.deferred + st.handed_back > 0;
		if (!c->json && !c->quiet)
			fprintf(stderr, "kirim send: nothing was delivered%s\n",
			        later ? "; what was not sent or deferred stays queued for a retry"
			              : "");
		return later ? EX_TEMPFAIL : EX_DATAERR;
	}
	return 0;
}
