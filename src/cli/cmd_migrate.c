/* cmd_migrate - `kirim migrate`: a SQLite database copied into PostgreSQL, and checked. */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "kirim/clock.h"
#include "kirim/db_url.h"
#include "kirim/migrate.h"
#include "kirim/store.h"
#include "kirim/xmalloc.h"

/* The progress bar on a terminal: one line on standard error, drawn again in place. */
struct bar {
	bool on;
	double last; /* when it was drawn (monotonic seconds) */
};

static void
bar_draw(void *arg, const char *step, const char *table, int64_t done, int64_t total)
{
	struct bar *b = arg;
	double t = clock_seconds();
	/* At most ten times a second, and at a table's end (done == total only at the last). */
	if (!b->on || (t - b->last < 0.1 && done != total))
		return;
	b->last = t;
	int pct = total > 0 ? (int)(done * 100 / total) : 100;
	char cells[31], d[32], n[32];
	int full = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		cells[i] = i < full ? '#' : '-';
	cells[30] = '\0';
	fprintf(stderr, "\r%-9s [%s] %3d%%  %s/%s rows  %-20.20s", step, cells, pct,
	        cli_num(d, (uint64_t)done), cli_num(n, (uint64_t)total), table);
	fflush(stderr);
}

static void
bar_clear(struct bar *b)
{
	if (b->on && b->last > 0)
		fprintf(stderr, "\r%100s\r", "");
}

static int
exit_for(int rc)
{
	switch (rc) {
	case MIGRATE_E_DIFFER:
		return 1;
	case MIGRATE_E_FULL:
		return EX_CANTCREAT;
	case MIGRATE_E_CONNECT:
		return EX_UNAVAILABLE;
	case MIGRATE_E_SOURCE:
		return EX_IOERR;
	case MIGRATE_E_URL:
		return EX_USAGE;
	default:
		return EX_DATAERR;
	}
}

static void
print_json(const char *from, const char *to, bool verify, int rc, const struct migrate_result *r,
           double secs)
{
	json_t *tables = json_array();
	for (int i = 0; i < r->ntables; i++) {
		const struct migrate_table *t = &r->tables[i];
		char a[2 * ROWSUM_BYTES + 1], b[2 * ROWSUM_BYTES + 1];
		rowsum_hex(t->sum_from, ROWSUM_BYTES, a);
		rowsum_hex(t->sum_to, ROWSUM_BYTES, b);
		json_array_append_new(tables,
		                      json_pack("{s:s,s:{s:I,s:I},s:{s:s,s:s},s:b}", "name",
		                                t->name, "rows", "sqlite", (json_int_t)t->rows_from,
		                                "postgresql", (json_int_t)t->rows_to, "checksum",
		                                "sqlite", a, "postgresql", b, "same", t->same));
	}
	cli_json_print(json_pack("{s:o,s:s,s:o,s:i,s:b,s:b,s:I,s:o,s:o}", "from",
	                         cli_json_text(from), "to", to, "server", cli_json_text(r->server),
	                         "schema_version", r->schema_version, "copied", !verify && rc == 0,
	                         "same", rc == 0, "rows", (json_int_t)r->rows, "seconds",
	                         cli_json_number(secs, "%.3f"), "tables", tables));
}

static void
print_tables(const struct migrate_result *r)
{
	printf("  %-20s %12s  %s\n", "table", "rows", "checksum");
	for (int i = 0; i < r->ntables; i++) {
		const struct migrate_table *t = &r->tables[i];
		char n[32], m[32], a[2 * ROWSUM_BYTES + 1], b[2 * ROWSUM_BYTES + 1];
		rowsum_hex(t->sum_from, 8, a);
		rowsum_hex(t->sum_to, 8, b);
		if (t->same)
			printf("  %-20s %12s  %s  same\n", t->name,
			       cli_num(n, (uint64_t)t->rows_from), a);
		else
			printf("  %-20s %12s  %s  DIFFERS: PostgreSQL has %s rows, %s\n", t->name,
			       cli_num(n, (uint64_t)t->rows_from), a,
			       cli_num(m, (uint64_t)t->rows_to), b);
	}
}

int
cmd_migrate(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"verify", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *from = c->db, *to = NULL;
	bool verify = false;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":f:t:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'V':
			verify = true;
			break;
		case ':':
			return cli_usage("migrate", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("migrate", opts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage("migrate", "unexpected argument '%s'", argv[optind]);
	if (to == NULL)
		return cli_usage("migrate", "--to needs the PostgreSQL database's URL "
		                            "(postgresql://USER@HOST:PORT/DB)");
	char shown[512];
	db_url_redact(to, shown, sizeof(shown));
	if (db_url_kind(to) != DB_URL_POSTGRES)
		return cli_usage(
		    "migrate",
		    "--to takes a PostgreSQL URL (postgresql://USER@HOST:PORT/DB), not "
		    "'%s'",
		    shown);
	if (db_url_kind(from) != DB_URL_SQLITE)
		return cli_usage("migrate", "--from names the SQLite database file to copy");

	struct cli src = *c;
	src.db = from;
	struct store *s;
	int rc = cli_open(&src, "migrate", false, &s);
	if (rc)
		return rc;
	struct bar bar = {.on = !c->quiet && !c->json && isatty(STDERR_FILENO)};
	struct migrate_opts o = {
	    .to = to, .verify_only = verify, .progress = bar_draw, .arg = &bar};
	struct migrate_result *r = xmalloc(sizeof(*r));
	char err[1024];
	double t0 = clock_seconds();
	rc = migrate_run(s, &o, r, err, sizeof(err));
	double secs = clock_seconds() - t0;
	bar_clear(&bar);
	store_close(s);
	if (c->json && r->ntables > 0)
		print_json(from, shown, verify, rc, r, secs);
	if (!c->json && r->ntables > 0 && (rc == 0 || rc == MIGRATE_E_DIFFER)) {
		printf("%s %s %s %s (%s, schema version %d)\n", verify ? "Compared" : "Copied",
		       from, verify ? "with" : "to", shown, r->server, r->schema_version);
		print_tables(r);
	}
	int ex = 0;
	if (rc) {
		ex = cli_error("migrate", exit_for(rc), "%s", err);
	} else if (!c->json) {
		char n[32], rate[32];
		printf("%d tables, %s rows %s in %.1f s (%s rows/s): the same on both sides.\n",
		       r->ntables, cli_num(n, (uint64_t)r->rows),
		       verify ? "compared" : "copied and verified", secs,
		       cli_num(rate, (uint64_t)(secs > 0 ? (double)r->rows / secs : 0)));
	}
	free(r);
	return ex;
}
