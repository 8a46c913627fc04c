/* cmd_tlsrpt - `kirim tlsrpt report`: TLS-RPT aggregate reports (RFC 8460) of one day. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/tls_reports.h"

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

int
cmd_tlsrpt(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"day", required_argument, NULL, 'd'},
	    {"domain", required_argument, NULL, 'D'},
	    {"out", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *domain = NULL, *dir = NULL;
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
		case ':':
			return cli_usage("tlsrpt", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("tlsrpt", opts, argv[optind - 1]);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "report") != 0 || optind + 1 != argc)
		return cli_usage("tlsrpt", "report [--day YYYY-MM-DD] [--domain D] [--out DIR]");
	struct config cfg;
	int rc = cli_config(c, "tlsrpt", &cfg);
	if (rc)
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "tlsrpt", false, &s))) {
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
