/*
 * cmd_tlsrpt - `kirim tlsrpt report` and `kirim tlsrpt send`: TLS-RPT aggregate reports
 * (RFC 8460) of one day, written or delivered.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/tls.h"
#include "kirim/tls_reports.h"
#include "kirim/tls_reports_send.h"

struct out {
	struct cli *c;
	json_t *all; /* --json: the reports; NULL for text */
	int n;
};

static int
one(void *arg, const struct tls_report *r)
{
	struct out *o = arg;
	o->n++;
	if (o->all) {
		json_array_append_new(
		    o->all, json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:O}", "domain", r->domain, "file",
		                      r->file, "path", cli_json_opt(r->path), "rua",
		                      cli_json_opt(r->rua), "sessions", (json_int_t)r->sessions,
		                      "failures", (json_int_t)r->failures, "report", r->json));
		return 0;
	}
	if (r->path[0]) {
		printf("%s: %lld session%s, %lld failed -> %s%s%s\n", r->domain, r->sessions,
		       r->sessions == 1 ? "" : "s", r->failures, r->path, r->rua[0] ? " for " : "",
		       r->rua);
		return 0;
	}
	char *text = json_dumps(r->json, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", text);
	free(text);
	return 0;
}

struct sent_out {
	json_t *all; /* --json */
	int n, failed;
	bool quiet;
};

static void
sent_one(void *arg, const struct tls_reports_sent *r)
{
	struct sent_out *o = arg;
	o->n++;
	if (r->error)
		o->failed++;
	if (o->all) {
		json_array_append_new(o->all, json_pack("{s:s,s:o,s:s,s:o}", "domain", r->domain,
		                                        "uri", cli_json_opt(r->uri), "result",
		                                        r->error    ? "failed"
		                                        : r->before ? "sent_before"
		                                        : r->uri[0] ? "sent"
		                                                    : "no_record",
		                                        "error", cli_json_opt(r->error)));
		return;
	}
	if (r->error)
		fprintf(stderr, "kirim tlsrpt: %s%s%s: not sent: %s\n", r->domain,
		        r->uri[0] ? " -> " : "", r->uri, r->error);
	else if (!o->quiet)
		printf("%s: %s%s\n", r->domain,
		       r->before   ? "sent before to "
		       : r->uri[0] ? "sent to "
		                   : "no TLS-RPT record: nothing to send",
		       r->uri);
}

/* send_reports - `kirim tlsrpt send`: the day's reports delivered; exit 0, 75 (some failed) */
static int
send_reports(struct cli *c, struct store *s, const struct config *cfg, long long day,
             const struct tls_reports_send_opts *so)
{
	struct sent_out o = {c->json ? json_array() : NULL, 0, 0, c->quiet};
	char err[512];
	int rc = tls_reports_send_day(s, cfg, day, so, sent_one, &o, err, sizeof(err));
	if (rc < 0)
		rc = cli_error("tlsrpt", rc == -1 ? 78 : cli_exit_for_store(rc), "%s", err);
	else if (o.all)
		cli_json_print(json_incref(o.all));
	else if (o.n == 0 && !c->quiet)
		fprintf(stderr, "kirim tlsrpt: no TLS sessions counted that day\n");
	json_decref(o.all);
	/* Some not delivered: try again later (EX_TEMPFAIL); what went is not sent twice. */
	return rc == 1 ? 75 : rc;
}

/* parse_day - "YYYY-MM-DD" as a Unix day; -1 when it is not a date */
static long long
parse_day(const char *s)
{
	int y, m, d, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] != '\0' || n != 10)
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
	time_t t = timegm(&tm);
	/* timegm carries 30 February into March: a date that is not one comes back changed. */
	if (tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d || t < 0)
		return -1;
	return (long long)(t / 86400);
}

/* port_of - s as a TCP port, 0 when it is not one */
static unsigned
port_of(const char *s)
{
	char *end;
	unsigned long p = strtoul(s, &end, 10);
	return *s && !*end && p > 0 && p <= 65535 ? (unsigned)p : 0;
}

int
cmd_tlsrpt(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"day", required_argument, NULL, 'd'},
	    {"domain", required_argument, NULL, 'D'},
	    {"out", required_argument, NULL, 'o'},
	    {"relay", required_argument, NULL, 'r'},
	    {"tls", required_argument, NULL, 't'},
	    {"dns-server", required_argument, NULL, 'S'},
	    {"https-port", required_argument, NULL, 'H'},
	    {"allow-plaintext-auth", no_argument, NULL, 'P'},
	    {"direct", no_argument, NULL, 'X'},
	    {"mx-port", required_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	const char *domain = NULL, *dir = NULL;
	struct tls_reports_send_opts so = {.tls = -1};
	bool send_only = false;
	long long day = (long long)(time(NULL) / 86400) - 1; /* yesterday, the last whole day */
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if ((day = parse_day(optarg)) < 0)
				return cli_usage("tlsrpt", "--day takes YYYY-MM-DD, not '%s'",
				                 optarg);
			break;
		case 'D':
			domain = optarg;
			break;
		case 'o':
			dir = optarg;
			break;
		case 'r':
			so.relay_url = optarg;
			send_only = true;
			break;
		case 't': {
			enum tls_policy pol;
			if (tls_policy_parse(optarg, &pol) < 0 || pol == TLS_POLICY_DANE)
				return cli_usage("tlsrpt", "--tls takes none, opportunistic, "
				                           "required or verify");
			so.tls = (int)pol;
			send_only = true;
			break;
		}
		case 'S':
			so.dns_servers = optarg;
			send_only = true;
			break;
		case 'H':
			if ((so.https_port = port_of(optarg)) == 0)
				return cli_usage("tlsrpt", "--https-port takes a port, not '%s'",
				                 optarg);
			send_only = true;
			break;
		case 'P':
			so.allow_plaintext_auth = 1;
			send_only = true;
			break;
		case 'X':
			so.direct = 1;
			send_only = true;
			break;
		case 'M':
			if ((so.mx_port = port_of(optarg)) == 0)
				return cli_usage("tlsrpt", "--mx-port takes a port, not '%s'",
				                 optarg);
			send_only = true;
			break;
		case ':':
			return cli_usage("tlsrpt", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("tlsrpt", opts, argv[optind - 1]);
		}
	}
	bool sending = optind < argc && strcmp(argv[optind], "send") == 0;
	if (optind >= argc || (!sending && strcmp(argv[optind], "report") != 0) ||
	    optind + 1 != argc)
		return cli_usage("tlsrpt", "report [--day YYYY-MM-DD] [--domain D] [--out DIR], or "
		                           "send [--day YYYY-MM-DD] [--domain D] [--relay URL]");
	if (sending && dir)
		return cli_usage("tlsrpt", "--out is report's: send writes no files");
	if (!sending && send_only)
		return cli_usage("tlsrpt", "--relay, --direct, --tls, --dns-server, --mx-port, "
		                           "--https-port and --allow-plaintext-auth are send's");
	if (so.relay_url && so.direct)
		return cli_usage("tlsrpt", "--relay and --direct exclude each other");
	struct config cfg;
	int rc = cli_config(c, "tlsrpt", &cfg);
	if (rc)
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "tlsrpt", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	if (sending) {
		so.domain = domain;
		rc = send_reports(c, s, &cfg, day, &so);
		store_close(s);
		config_free(&cfg);
		return rc;
	}
	struct out o = {c, c->json ? json_array() : NULL, 0};
	char err[512];
	rc = tls_reports_make(s, &cfg, day, domain, dir, one, &o, err, sizeof(err));
	if (rc < 0)
		rc = cli_error("tlsrpt", rc == -1 ? 73 : cli_exit_for_store(rc), "%s", err);
	else if (o.all)
		cli_json_print(json_incref(o.all));
	else if (o.n == 0 && !c->quiet)
		fprintf(stderr, "kirim tlsrpt: no TLS sessions counted that day\n");
	json_decref(o.all);
	store_close(s);
	config_free(&cfg);
	return rc;
}
