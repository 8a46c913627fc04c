/* cmd_bounces - kirim bounces classify | ingest | listen: returned mail in, verdicts out. */
#include "cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/bounces.h"
#include "kirim/bounces_listen.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dsn.h"
#include "kirim/mailbox.h"
#include "kirim/store.h"

/* bounces_classify - one TSV line per bounced recipient of each file; no database */
static int
bounces_classify(int argc, char **argv)
{
	if (argc < 1)
		return cli_usage("bounces", "classify which files? kirim bounces classify FILE...");
	int bad = 0;
	struct buf out = BUF_INIT;
	for (int i = 0; i < argc; i++) {
		char err[512];
		size_t n;
		char *msg = cli_read_file(argv[i], MAILBOX_MESSAGE_MAX, &n, err, sizeof(err));
		if (msg == NULL) {
			cli_error("bounces", EX_NOINPUT, "%s", err);
			bad = 1;
			continue;
		}
		struct dsn_report r;
		dsn_parse(msg, n, &r);
		buf_reset(&out);
		dsn_format_tsv(&r, argv[i], &out);
		fwrite(out.data, 1, out.len, stdout);
		dsn_report_free(&r);
		free(msg);
	}
	buf_free(&out);
	return bad ? EX_NOINPUT : 0;
}

/* ingest_problem - a path or file that could not be read or moved: said, and counted */
static void
ingest_problem(void *arg, const char *what)
{
	unsigned long *failed = arg;
	cli_error("bounces", EX_NOINPUT, "%s", what);
	(*failed)++;
}

static int
bounces_ingest_cmd(struct cli *c, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage("bounces",
		                 "ingest what? kirim bounces ingest PATH... (or - for stdin)");
	struct config cfg;
	int rc = cli_config(c, "bounces", &cfg);
	if (rc)
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "bounces", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	char err[512];
	struct bounces *b = NULL;
	if (bounces_new(s, &cfg, &b, err, sizeof(err)) < 0) {
		rc = cli_error("bounces", EX_CONFIG, "%s", err);
		goto out;
	}
	unsigned long failed = 0;
	int store_rc = bounces_ingest_paths(b, argv, (size_t)argc, ingest_problem, &failed);
	struct bounces_stats bs;
	bounces_stats(b, &bs);
	if (c->json) {
		cli_json_print(json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "messages",
		    (json_int_t)bs.messages, "recorded", (json_int_t)bs.recorded, "complaints",
		    (json_int_t)bs.complaints, "unsubscribed", (json_int_t)bs.unsubscribed,
		    "autoreplies", (json_int_t)bs.autoreplies, "not_bounces",
		    (json_int_t)bs.not_bounces, "unmatched", (json_int_t)bs.unmatched,
		    "unparseable", (json_int_t)bs.unparseable, "suppressed",
		    (json_int_t)bs.suppressed, "failed_files", (json_int_t)failed));
	} else if (!c->quiet) {
		printf(
		    "%llu message%s: %llu bounce%s recorded, %llu complaint%s, %llu unsubscribe%s, "
		    "%llu auto-repl%s, %llu not bounces, %llu unmatched, %llu unparseable; "
		    "%llu address%s suppressed\n",
		    (unsigned long long)bs.messages, bs.messages == 1 ? "" : "s",
		    (unsigned long long)bs.recorded, bs.recorded == 1 ? "" : "s",
		    (unsigned long long)bs.complaints, bs.complaints == 1 ? "" : "s",
		    (unsigned long long)bs.unsubscribed, bs.unsubscribed == 1 ? "" : "s",
		    (unsigned long long)bs.autoreplies, bs.autoreplies == 1 ? "y" : "ies",
		    (unsigned long long)bs.not_bounces, (unsigned long long)bs.unmatched,
		    (unsigned long long)bs.unparseable, (unsigned long long)bs.suppressed,
		    bs.suppressed == 1 ? "" : "es");
	}
	/* An MTA piping a bounce in retries on EX_TEMPFAIL; a bad message is not retried. */
	rc = store_rc < 0 ? EX_TEMPFAIL : failed ? EX_NOINPUT : 0;
out:
	bounces_free(b);
	store_close(s);
	config_free(&cfg);
	return rc;
}

struct listening {
	const char *addr, *domain;
};

static void
listen_ready(void *arg, int port)
{
	const struct listening *l = arg;
	fprintf(stderr, "kirim bounces: listening on %s (port %d) for %s\n", l->addr, port,
	        l->domain);
}

static int
bounces_listen(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"max-size", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct bounces_listen_opts o = {.listen = BOUNCES_LISTEN_DEFAULT};
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":l:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'l':
			o.listen = optarg;
			break;
		case 'H':
			o.hostname = optarg;
			break;
		case 's':
			o.max_message = strtoul(optarg, &end, 10) << 10;
			if (*end || o.max_message == 0)
				return cli_usage("bounces", "--max-size takes KiB, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("bounces", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("bounces", longopts, argv[optind - 1]);
		}
	}
	struct config cfg;
	int rc = cli_config(c, "bounces", &cfg);
	if (rc)
		return rc;
	char err[600];
	if (bounces_listen_check(&cfg, err, sizeof(err)) < 0) {
		config_free(&cfg);
		return cli_error("bounces", EX_CONFIG, "%s", err);
	}
	struct store *s;
	if ((rc = cli_open(c, "bounces", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	struct listening l = {o.listen, cfg.bounce_domain};
	if (!c->quiet) {
		o.ready = listen_ready;
		o.ready_arg = &l;
	}
	struct bounces_stats bs;
	rc = bounces_listen_run(s, &cfg, &o, &bs, err, sizeof(err));
	if (rc < 0)
		rc =
		    cli_error("bounces", rc == BOUNCES_LISTEN_E_LISTEN ? EX_UNAVAILABLE : EX_CONFIG,
		              "%s", err);
	else if (!c->quiet)
		fprintf(stderr,
		        "kirim bounces: %llu messages: %llu bounces, %llu complaints, %llu "
		        "unsubscribes, %llu suppressed\n",
		        (unsigned long long)bs.messages, (unsigned long long)bs.recorded,
		        (unsigned long long)bs.complaints, (unsigned long long)bs.unsubscribed,
		        (unsigned long long)bs.suppressed);
	store_close(s);
	config_free(&cfg);
	return rc;
}

int
cmd_bounces(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("bounces", "which? classify, ingest or listen");
	const char *sub = argv[1];
	optind = 2;
	if (strcmp(sub, "classify") == 0)
		return bounces_classify(argc - 2, argv + 2);
	if (strcmp(sub, "ingest") == 0)
		return bounces_ingest_cmd(c, argc - 2, argv + 2);
	if (strcmp(sub, "listen") == 0)
		return bounces_listen(c, argc - 1, argv + 1);
	return cli_usage("bounces", "unknown subcommand '%s': classify, ingest or listen", sub);
}
