/* cmd_import - `kirim import FILE --list NAME`: CSV into a list, with a progress bar. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kirim/buf.h"
#include "kirim/clock.h"
#include "kirim/importer.h"
#include "kirim/store.h"

static volatile sig_atomic_t import_interrupted;

static void
import_on_signal(int sig)
{
	(void)sig;
	import_interrupted = 1;
}

struct progress {
	double start;
	double last;
	bool drawn;
};

/* import_progress - redraw the bar on stderr at most ten times a second */
static void
import_progress(void *arg, const struct importer_progress *p)
{
	struct progress *pr = arg;
	double t = clock_seconds();
	bool done = p->size && p->bytes >= p->size;
	if (!done && t - pr->last < 0.1)
		return;
	pr->last = t;
	pr->drawn = true;
	double el = t - pr->start;
	double rate = el > 0 ? (double)p->rows / el : 0;
	char rows[32], rps[32];
	cli_num(rows, p->rows);
	cli_num(rps, (uint64_t)rate);
	if (p->size) {
		double frac = (double)p->bytes / (double)p->size;
		if (frac > 1)
			frac = 1;
		int fill = (int)(frac * 30);
		char bar[31];
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(30 - fill));
		bar[30] = '\0';
		double eta = frac > 0 ? el / frac - el : 0;
		fprintf(stderr, "\r[%s] %3d%%  %s rows  %s rows/s  ETA %d:%02d ", bar,
		        (int)(frac * 100), rows, rps, (int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, "\r%s rows  %s rows/s ", rows, rps);
	}
	fflush(stderr);
}

static int
import_print_text(struct cli *c, const struct importer_opts *o, const struct importer_stats *st)
{
	char a[32], b[32];
	(void)c;
	printf("Imported %s into list '%s'%s in %.2f s (%s rows/s)\n",
	       strcmp(o->path, "-") == 0 ? "standard input" : o->path, o->list,
	       st->list_created ? " (new list)" : "", st->seconds,
	       cli_num(b, st->seconds > 0 ? (uint64_t)((double)st->read / st->seconds) : st->read));
	const char *delim = st->delimiter == '\t' ? "tab" : st->delimiter == ';' ? "';'" : "','";
	printf("  address column '%s', %zu columns, delimiter %s, encoding %s\n", st->email_column,
	       st->columns, delim, st->encoding);
	/* Every column and what it became: the key templates use ({{first_name}}). */
	for (size_t i = 0; i < st->nmapping; i++) {
		const struct importer_column *m = &st->mapping[i];
		printf("    %-28s -> %s\n", m->name,
		       strcmp(m->use, "attribute") == 0 ? m->key
		       : strcmp(m->use, "address") == 0 ? "(the address)"
		       : strcmp(m->use, "tags") == 0    ? "(tags)"
		                                        : "(ignored)");
	}
	printf("  %-22s %12s\n", "rows read", cli_num(a, st->read));
	printf("  %-22s %12s\n", "new contacts", cli_num(a, st->imported));
	printf("  %-22s %12s\n", "existing, added", cli_num(a, st->added));
	printf("  %-22s %12s\n", "already in the list", cli_num(a, st->existing));
	printf("  %-22s %12s\n", "updated", cli_num(a, st->updated));
	printf("  %-22s %12s\n", "duplicates in file", cli_num(a, st->duplicates));
	printf("  %-22s %12s%s\n", "suppressed", cli_num(a, st->suppressed),
	       st->suppressed ? "   (imported, never mailed)" : "");
	printf("  %-22s %12s", "rejected", cli_num(a, st->rejected));
	if (st->rejected && o->rejects)
		printf("   (rows in %s)", o->rejects);
	else if (st->rejected)
		fputs("   (--rejects FILE lists them)", stdout);
	fputc('\n', stdout);
	for (size_t i = 0; i < st->nreasons; i++)
		printf("    %-20s %12s\n", st->reasons[i].reason, cli_num(a, st->reasons[i].count));
	if (st->blank)
		printf("  %-22s %12s\n", "blank rows skipped", cli_num(a, st->blank));
	if (st->not_stored)
		printf("  %-22s %12s   (their contacts were known: --update merges them)\n",
		       "values not stored", cli_num(a, st->not_stored));
	return 0;
}

int
cmd_import(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"list", required_argument, NULL, 'l'},
	    {"email-column", required_argument, NULL, 'e'},
	    {"delimiter", required_argument, NULL, 'd'},
	    {"encoding", required_argument, NULL, 'E'},
	    {"update", no_argument, NULL, 'u'},
	    {"allow-ip-literals", no_argument, NULL, 'I'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"map", required_argument, NULL, 'm'},
	    {"ignore-column", required_argument, NULL, 'i'},
	    {"tags-column", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	struct importer_opts o = {.interrupted = &import_interrupted};
	/* --ignore-column values: at most one per argument */
	const char *ignore[64];
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:e:d:ur:m:i:t:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o.map = optarg;
			break;
		case 'i':
			if (o.nignore == sizeof(ignore) / sizeof(ignore[0]))
				return cli_usage("import", "at most 64 --ignore-column");
			ignore[o.nignore++] = optarg;
			o.ignore = ignore;
			break;
		case 't':
			o.tags_column = optarg;
			break;
		case 'l':
			o.list = optarg;
			break;
		case 'e':
			o.email_column = optarg;
			break;
		case 'd':
			if (strcmp(optarg, ",") == 0 || strcmp(optarg, ";") == 0)
				o.delimiter = optarg[0];
			else if (strcasecmp(optarg, "tab") == 0 || strcmp(optarg, "\\t") == 0 ||
			         strcmp(optarg, "\t") == 0)
				o.delimiter = '\t';
			else
				return cli_usage("import",
				                 "--delimiter takes ',' ';' or 'tab', not '%s'",
				                 optarg);
			break;
		case 'E':
			/* The importer knows the names (and says so when it does not). */
			o.encoding = optarg;
			break;
		case 'u':
			o.update = true;
			break;
		case 'I':
			o.allow_ip_literals = true;
			break;
		case 'r':
			o.rejects = optarg;
			break;
		case ':':
			return cli_usage("import", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("import", longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("import",
		                 "which file? (give a CSV file, or - for standard input)");
	if (optind + 1 < argc)
		return cli_usage("import", "one file at a time (got '%s' too)", argv[optind + 1]);
	o.path = argv[optind];
	if (o.list == NULL)
		return cli_usage("import", "--list NAME is required: the list to import into");
	if (*o.list == '\0' || strlen(o.list) > 200)
		return cli_usage("import", "a list name is 1 to 200 characters");

	struct progress pr = {.start = clock_seconds()};
	if (!c->quiet && !c->json && isatty(STDERR_FILENO)) {
		o.progress = import_progress;
		o.progress_arg = &pr;
	}
	struct store *s;
	int rc = cli_open_any(c, "import", true, &s);
	if (rc)
		return rc;

	struct sigaction sa = {.sa_handler = import_on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	struct importer_stats st;
	char err[1024];
	rc = importer_run(s, &o, &st, err, sizeof(err));
	if (rc < 0)
		importer_stats_free(&st);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	store_close(s);
	if (pr.drawn)
		fputc('\n', stderr);

	if (rc < 0) {
		int code;
		switch (rc) {
		case IMPORTER_E_NOINPUT:
			code = EX_NOINPUT;
			break;
		case IMPORTER_E_DATA:
			code = EX_DATAERR;
			break;
		case IMPORTER_E_IO:
			code = EX_IOERR;
			break;
		case IMPORTER_E_INTERRUPTED:
			code = 130;
			break;
		case IMPORTER_E_USAGE:
			return cli_usage("import", "%s", err);
		default:
			code = EX_TEMPFAIL;
			break;
		}
		if (rc == IMPORTER_E_NOINPUT)
			return cli_error("import", code, "%s", err);
		return cli_error("import", code,
		                 "%s\nNothing was imported: the database is unchanged.", err);
	}
	if (c->json) {
		/* The summary is the JSON the importer records in the imports table. */
		struct buf summary = BUF_INIT;
		importer_summary_json(&st, &summary);
		cli_json_print(json_pack("{s:o,s:o,s:o}", "list", cli_json_text(o.list), "source",
		                         cli_json_text(o.path), "summary",
		                         cli_json_parse(summary.data)));
		buf_free(&summary);
		importer_stats_free(&st);
		return 0;
	}
	rc = import_print_text(c, &o, &st);
	importer_stats_free(&st);
	return rc;
}
