/* cmd_suppress - `kirim suppress add|remove|list|import`: the never-mail list. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/csv_reader.h"
#include "kirim/store.h"
#include "kirim/suppressions.h"

struct suppress_import {
	struct store *s;
	const char *reason;
	const char *source;
	unsigned long added, existing, rejected;
	int failure;
};

static int
suppress_import_row(void *arg, const struct csv_row *row)
{
	struct suppress_import *si = arg;
	if (row->nfields == 0 || row->lens[0] == 0)
		return 0;
	const char *v = row->fields[0];
	size_t n = row->lens[0];
	if (v[0] == '#')
		return 0;
	struct suppressions_target t;
	const char *why;
	if (suppressions_target(v, n, &t, &why) < 0) {
		static const char *const headers[] = {"email",  "e-mail",        "address",
		                                      "domain", "email_address", NULL};
		for (const char *const *h = headers; *h && row->line == 1; h++)
			if (strlen(*h) == n && strncasecmp(v, *h, n) == 0)
				return 0;
		si->rejected++;
		if (si->rejected <= 20)
			fprintf(stderr, "kirim suppress: line %lu: '%.*s': %s\n", row->line,
			        (int)(n > 200 ? 200 : n), v, why);
		return 0;
	}
	int rc = store_suppress_add(si->s, t.kind, t.value, si->reason, si->source);
	if (rc == STORE_E_EXISTS)
		si->existing++;
	else if (rc == 0)
		si->added++;
	else
		return si->failure = rc;
	return 0;
}

static int
suppress_import(struct cli *c, struct store *s, const char *path, const char *reason,
                const char *source)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (in == NULL)
		return cli_error("suppress", EX_NOINPUT, "cannot open %s: %s", path,
		                 strerror(errno));
	struct suppress_import si = {.s = s, .reason = reason, .source = source ? source : path};
	struct csv_reader *r = csv_reader_new(0, 0);
	int rc = store_begin(s);
	char chunk[65536];
	size_t n;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		rc = csv_reader_feed(r, chunk, n, suppress_import_row, &si);
	if (rc == 0 && ferror(in))
		rc = cli_error("suppress", EX_IOERR, "cannot read %s: %s", path, strerror(errno));
	else if (rc == 0)
		rc = csv_reader_finish(r, suppress_import_row, &si);
	if (rc == 0)
		rc = store_commit(s);
	if (rc != 0) {
		store_rollback(s);
		if (si.failure || rc < 0)
			cli_error("suppress", EX_DATAERR, "%s",
			          si.failure || rc == STORE_E_SQL || rc == STORE_E_BUSY
			              ? store_errmsg(s)
			              : csv_reader_error(r));
		fprintf(stderr, "Nothing was imported: the suppression list is unchanged.\n");
		rc = rc == EX_IOERR ? EX_IOERR : EX_DATAERR;
	}
	csv_reader_free(r);
	if (in != stdin)
		fclose(in);
	if (rc)
		return rc;
	if (c->json)
		cli_json_print(json_pack("{s:I,s:I,s:I}", "added", (json_int_t)si.added, "existing",
		                         (json_int_t)si.existing, "rejected",
		                         (json_int_t)si.rejected));
	else
		printf("Suppressed %lu new (%lu already were); %lu line%s refused.\n", si.added,
		       si.existing, si.rejected, si.rejected == 1 ? "" : "s");
	return 0;
}

struct suppress_out {
	struct cli *c;
	struct buf json; /* --json: the rows as text (cli_json_rows_add) */
	int n;
};

static int
suppress_row(void *arg, const struct store_suppression *sup)
{
	struct suppress_out *out = arg;
	char t[32], disp[300];
	if (strcmp(sup->kind, "domain") == 0)
		address_domain_display(sup->value, disp, sizeof(disp));
	else
		snprintf(disp, sizeof(disp), "%s", sup->value);
	if (out->c->json) {
		cli_json_rows_add(&out->json, json_pack("{s:o,s:o,s:o,s:o,s:o}", "kind",
		                                        cli_json_text(sup->kind), "value",
		                                        cli_json_text(sup->value), "reason",
		                                        cli_json_text(sup->reason), "source",
		                                        cli_json_opt(sup->source), "created_at",
		                                        cli_json_time(sup->created_at)));
	} else {
		if (out->n == 0)
			printf("%-8s %-40s %-12s %-20s %s\n", "KIND", "VALUE", "REASON",
			       "SINCE (UTC)", "SOURCE");
		printf("%-8s %-40s %-12s %-20s %s\n", sup->kind, disp, sup->reason,
		       cli_time(t, sup->created_at), sup->source);
	}
	out->n++;
	return 0;
}

struct suppress_say {
	struct cli *c;
	bool add;
};

/* suppress_said - one target's line (text output) */
static void
suppress_said(void *arg, const struct suppressions_target *t, bool changed)
{
	struct suppress_say *say = arg;
	if (say->c->json)
		return;
	if (!changed)
		printf("%s %s %s\n", t->kind, t->value,
		       say->add ? "was already suppressed" : "was not suppressed");
	else
		printf("%s %s %s\n", say->add ? "Suppressed" : "Unsuppressed", t->kind, t->value);
}

int
cmd_suppress(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"reason", required_argument, NULL, 'R'},
	    {"source", required_argument, NULL, 'S'},
	    {"limit", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	const char *reason = NULL, *source = NULL;
	int limit = 0, ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":n:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'R':
			reason = optarg;
			break;
		case 'S':
			source = optarg;
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return cli_usage("suppress", "--limit takes a number, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("suppress", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("suppress", longopts, argv[optind - 1]);
		}
	}
	if (reason) {
		if (!suppressions_reason_ok(reason))
			return cli_usage(
			    "suppress",
			    "--reason takes manual, hard_bounce, soft_bounce, complaint or "
			    "unsubscribe, not '%s'",
			    reason);
	}
	if (optind >= argc)
		return cli_usage("suppress", "add, remove, list or import?");
	const char *verb = argv[optind++];
	bool add = strcmp(verb, "add") == 0, remove = strcmp(verb, "remove") == 0;
	bool list = strcmp(verb, "list") == 0, import = strcmp(verb, "import") == 0;
	if (!add && !remove && !list && !import)
		return cli_usage("suppress", "unknown subcommand '%s' (add, remove, list, import)",
		                 verb);
	if (list && optind < argc)
		return cli_usage("suppress", "list takes no arguments");
	if ((add || remove) && optind >= argc)
		return cli_usage("suppress", "%s what? Give addresses or domains.", verb);
	if (import && optind + 1 != argc)
		return cli_usage("suppress", "import takes one file (or - for standard input)");

	struct suppressions_target *targets = calloc((size_t)argc, sizeof(*targets));
	int nt = 0;
	for (int i = optind; (add || remove) && i < argc; i++) {
		const char *why;
		if (suppressions_target(argv[i], strlen(argv[i]), &targets[nt], &why) < 0) {
			free(targets);
			return cli_error("suppress", EX_DATAERR,
			                 "'%s' is neither an address nor a domain: %s", argv[i],
			                 why);
		}
		nt++;
	}
	struct store *s;
	int rc = cli_open_any(c, "suppress", add || import, &s);
	if (rc) {
		free(targets);
		return rc;
	}
	if (list) {
		struct suppress_out out = {.c = c};
		rc = store_suppress_each(s, reason, limit, suppress_row, &out);
		if (rc < 0)
			rc = cli_error("suppress", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_rows_print(&out.json);
		else if (out.n == 0)
			printf("Nothing is suppressed%s%s.\n", reason ? " for reason " : "",
			       reason ? reason : "");
		buf_free(&out.json);
	} else if (import) {
		rc = suppress_import(c, s, argv[optind], reason ? reason : "manual", source);
	} else {
		int done = 0, skipped = 0;
		struct suppress_say say = {c, add};
		rc = suppressions_change(s, add, targets, (size_t)nt, reason, source, suppress_said,
		                         &say, &done, &skipped);
		if (rc < 0)
			rc = cli_error("suppress", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_pack("{s:i,s:i}", add ? "added" : "removed", done,
			                         "unchanged", skipped));
	}
	store_close(s);
	free(targets);
	return rc;
}
