/* cmd_report - `kirim report` (a campaign's delivery report, or all campaigns) and `kirim log`. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kirim/buf.h"
#include "kirim/report.h"
#include "kirim/store.h"
#include "kirim/store_report.h"

/* An output: standard output, or FILE written as FILE.tmp and renamed when complete. */
struct report_out {
	const char *path;
	char *tmp;
	FILE *f;
	bool direct; /* path is not a regular file: written in place */
};

static int
out_open(const char *name, const char *path, struct report_out *o)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->path = NULL;
		o->f = stdout;
		return 0;
	}
	/*
	 * A regular file (or a new one) is written beside and renamed into place, so
	 * no half-written report is ever seen; anything else (/dev/null, a FIFO, a
	 * terminal) is written as it is: renaming onto it would replace the device.
	 */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((o->f = fopen(path, "w")) == NULL)
			return cli_error(name, EX_CANTCREAT, "cannot write %s: %s", path,
			                 strerror(errno));
		o->direct = true;
		return 0;
	}
	size_t n = strlen(path) + 8;
	o->tmp = malloc(n);
	if (o->tmp == NULL)
		return cli_error(name, EX_OSERR, "out of memory");
	snprintf(o->tmp, n, "%s.tmp", path);
	if ((o->f = fopen(o->tmp, "w")) == NULL) {
		int rc =
		    cli_error(name, EX_CANTCREAT, "cannot write %s: %s", o->tmp, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return rc;
	}
	return 0;
}

/* out_write - write b's bytes and empty it; an exit code or 0 */
static int
out_write(const char *name, struct report_out *o, struct buf *b)
{
	if (b->len && fwrite(b->data, 1, b->len, o->f) != b->len)
		return cli_error(name, EX_IOERR, "cannot write %s: %s",
		                 o->tmp    ? o->tmp
		                 : o->path ? o->path
		                           : "standard output",
		                 strerror(errno));
	buf_reset(b);
	return 0;
}

/* out_close - finish the output; with ok false (or a failed write) a file is removed */
static int
out_close(const char *name, struct report_out *o, bool ok)
{
	int rc = 0;
	if (o->path == NULL) {
		if (fflush(stdout) != 0)
			rc = cli_error(name, EX_IOERR, "cannot write standard output: %s",
			               strerror(errno));
		return rc;
	}
	if (o->direct) {
		if (fclose(o->f) != 0 && ok)
			rc = cli_error(name, EX_IOERR, "cannot write %s: %s", o->path,
			               strerror(errno));
		return rc;
	}
	if (fclose(o->f) != 0 && ok)
		rc = cli_error(name, EX_IOERR, "cannot write %s: %s", o->tmp, strerror(errno));
	if (ok && rc == 0 && rename(o->tmp, o->path) != 0)
		rc = cli_error(name, EX_CANTCREAT, "cannot write %s: %s", o->path, strerror(errno));
	if (!ok || rc)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
	return rc;
}

static int
parse_int(const char *name, const char *opt, const char *v, int lo, int hi, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end || n < lo || n > hi)
		return cli_usage(name, "%s takes a number from %d to %d, not '%s'", opt, lo, hi, v);
	*out = (int)n;
	return 0;
}

int
cmd_report(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'}, {"by", required_argument, NULL, 'b'},
	    {"top", required_argument, NULL, 'n'},    {"output", required_argument, NULL, 'o'},
	    {"all", no_argument, NULL, 'a'},          {"last", required_argument, NULL, 'l'},
	    {"recount", no_argument, NULL, 'R'}, /* diagnostic: count from the raw rows */
	    {"rebuild", no_argument, NULL, 'B'},      {NULL, 0, NULL, 0},
	};
	int format = c->json ? REPORT_JSON : REPORT_TEXT, by = REPORT_BY_DOMAIN, top = 10;
	int last = 20, ch, rc;
	bool all = false, by_set = false, last_set = false, recount = false, rebuild = false;
	const char *output = NULL;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":f:b:n:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if ((format = report_format_parse(optarg)) < 0)
				return cli_usage("report",
				                 "--format takes text, csv, json or html, not '%s'",
				                 optarg);
			break;
		case 'b':
			if ((by = report_by_parse(optarg)) < 0)
				return cli_usage("report",
				                 "--by takes domain, destination, reason, hour, "
				                 "link or summary, not '%s'",
				                 optarg);
			by_set = true;
			break;
		case 'n':
			if ((rc = parse_int("report", "--top", optarg, 1, 100000, &top)))
				return rc;
			break;
		case 'o':
			output = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'R':
			recount = true;
			break;
		case 'B':
			rebuild = true;
			break;
		case 'l':
			if ((rc = parse_int("report", "--last", optarg, 0, 1000000, &last)))
				return rc;
			last_set = true;
			break;
		case ':':
			return cli_usage("report", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("report", longopts, argv[optind - 1]);
		}
	}
	if (all && optind != argc)
		return cli_usage("report", "--all takes no campaign name");
	if (!all && optind + 1 != argc)
		return cli_usage("report", "which campaign? kirim report CAMPAIGN (or --all)");
	if (all && by_set)
		return cli_usage("report", "--by is for one campaign's report");
	if (!all && last_set)
		return cli_usage("report", "--last goes with --all");
	if (all && (recount || rebuild))
		return cli_usage("report", "--recount and --rebuild are for one campaign's report");

	struct store *s;
	if ((rc = cli_open(c, "report", false, &s)))
		return rc;
	struct buf b = BUF_INIT;
	if (all) {
		struct report_all a;
		rc = store_report_all(s, last, &a);
		a.generated_at = (int64_t)time(NULL);
		if (rc == 0)
			report_render_all(&b, &a, (enum report_format)format);
		report_all_free(&a);
	} else {
		struct report r;
		struct store_report_opts o = {
		    .top = top, .slowest = 5, .recount = recount, .rebuild = rebuild};
		rc = store_report_fill(s, argv[optind], &o, &r);
		r.generated_at = (int64_t)time(NULL);
		if (rc == 0)
			report_render(&b, &r, (enum report_format)format, (enum report_by)by);
		report_free(&r);
	}
	if (rc == STORE_E_NOTFOUND)
		rc = cli_error("report", EX_DATAERR, "no campaign called '%s'", argv[optind]);
	else if (rc < 0)
		rc = cli_error("report", cli_exit_for_store(rc), "%s", store_errmsg(s));
	store_close(s);
	if (rc == 0) {
		struct report_out o;
		if ((rc = out_open("report", output, &o)) == 0) {
			rc = out_write("report", &o, &b);
			int crc = out_close("report", &o, rc == 0);
			rc = rc ? rc : crc;
		}
		if (rc == 0 && output && strcmp(output, "-") != 0 && !c->quiet)
			fprintf(stderr, "Wrote %s\n", output);
	}
	buf_free(&b);
	return rc;
}

struct log_state {
	struct report_out out;
	struct buf b;
	int64_t rows;
	int err; /* an exit code from a failed write */
};

static int
log_row(void *arg, const struct report_attempt *a)
{
	struct log_state *ls = arg;
	report_attempt_csv(&ls->b, a);
	ls->rows++;
	if (ls->b.len >= 1 << 16 && (ls->err = out_write("log", &ls->out, &ls->b)))
		return 1;
	return 0;
}

int
cmd_log(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	int ch, rc;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			output = optarg;
			break;
		case ':':
			return cli_usage("log", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("log", longopts, argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("log", "which campaign? kirim log CAMPAIGN [-o FILE]");
	struct store *s;
	if ((rc = cli_open(c, "log", false, &s)))
		return rc;
	struct log_state ls = {.b = BUF_INIT};
	if ((rc = out_open("log", output, &ls.out))) {
		store_close(s);
		return rc;
	}
	report_attempt_csv_header(&ls.b);
	rc = store_report_attempts(s, argv[optind], log_row, &ls);
	if (rc == STORE_E_NOTFOUND)
		rc = cli_error("log", EX_DATAERR, "no campaign called '%s'", argv[optind]);
	else if (rc < 0)
		rc = cli_error("log", cli_exit_for_store(rc), "%s", store_errmsg(s));
	else if (rc > 0)
		rc = ls.err;
	store_close(s);
	if (rc == 0)
		rc = out_write("log", &ls.out, &ls.b);
	int crc = out_close("log", &ls.out, rc == 0);
	rc = rc ? rc : crc;
	buf_free(&ls.b);
	if (rc == 0 && output && strcmp(output, "-") != 0 && !c->quiet)
		fprintf(stderr, "Wrote %s (%lld attempts)\n", output, (long long)ls.rows);
	return rc;
}
