/* cli_util - shared pieces of the subcommands (see cli.h). */
#define _GNU_SOURCE /* explicit_bzero */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/api_json.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/db_url.h"
#include "kirim/log.h"
#include "kirim/mailbox.h"
#include "kirim/precheck.h"
#include "kirim/store.h"
#include "kirim/strdist.h"
#include "kirim/store_file.h"
#include "kirim/store_pg.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

const struct cli_command *
cli_find(const char *name)
{
	for (const struct cli_command *cmd = cli_commands; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

void
cli_help(FILE *f, const struct cli_command *cmd)
{
	fputs(cmd->help, f);
	fputs("\nGlobal options (any command):\n"
	      "  --db PATH     the database (default: $KIRIM_DB, else ./kirim.db); a few\n"
	      "                commands take a postgresql:// URL (docs/postgresql.md)\n"
	      "  --config PATH the machine's settings (default: $KIRIM_CONFIG, else ./kirim.conf)\n"
	      "  --json        machine-readable output where the command prints a result\n"
	      "  -q, --quiet   no progress bar\n"
	      "  -v, --verbose more log lines on stderr (repeat for debug)\n"
	      "  -h, --help    this help\n",
	      f);
}

int
cli_usage(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kirim %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kirim help %s'.\n", name);
	return EX_USAGE;
}

int
cli_error(const char *name, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kirim %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/*
 * Suggestions for a mistyped command or option: the nearest name by Damerau-Levenshtein
 * distance (optimal string alignment: one edit is an insertion, a deletion, a change or
 * two neighbours swapped), ASCII case apart, and only when it is close: at most 2 edits
 * and at most one per 3 letters typed, so that "ab" suggests nothing.
 */
struct nearest {
	const char *word; /* what was typed */
	size_t len;
	const char *best; /* the closest name so far, NULL if none is close */
	size_t dist;
};

static void
nearest_try(struct nearest *n, const char *name)
{
	size_t d = strdist(n->word, n->len, name, strlen(name), true);
	if (d <= 2 && 3 * d <= n->len + 1 && (n->best == NULL || d < n->dist)) {
		n->best = name;
		n->dist = d;
	}
}

const char *
cli_nearest_command(const char *word)
{
	struct nearest n = {.word = word, .len = strlen(word)};
	for (const struct cli_command *cmd = cli_commands; cmd->name; cmd++)
		nearest_try(&n, cmd->name);
	return n.best;
}

int
cli_unknown_option(const char *name, const struct option *opts, const char *arg)
{
	const char *word = arg + 2;
	size_t len = strcspn(word, "=");
	if (strncmp(arg, "--", 2) != 0 || len == 0)
		return cli_usage(name, "unknown option '%s'", arg);
	/* getopt_long takes a prefix of one option only: a prefix of several lands here, and
	 * so does a value given to an option that takes none. */
	struct buf all = BUF_INIT;
	int prefixed = 0;
	bool exact = false;
	for (const struct option *o = opts; o->name; o++) {
		if (strncmp(o->name, word, len) == 0) {
			buf_printf(&all, "%s--%s", prefixed++ ? ", " : "", o->name);
			exact |= o->name[len] == '\0';
		}
	}
	int rc;
	if (exact && word[len] == '=') {
		rc = cli_usage(name, "--%.*s takes no value", (int)len, word);
	} else if (prefixed > 1) {
		rc = cli_usage(name, "option '--%.*s' is ambiguous: %s", (int)len, word, all.data);
	} else {
		struct nearest n = {.word = word, .len = len};
		for (const struct option *o = opts; o->name; o++)
			nearest_try(&n, o->name);
		if (n.best)
			rc = cli_usage(name, "unknown option '%s'; did you mean '--%s'?", arg,
			               n.best);
		else
			rc = cli_usage(name, "unknown option '%s'", arg);
	}
	buf_free(&all);
	return rc;
}

int
cli_config(struct cli *c, const char *name, struct config *out)
{
	char err[600];
	if (config_load(c->config, out, err, sizeof(err)) < 0)
		return cli_error(name, EX_CONFIG, "%s", err);
	return 0;
}

int
cli_exit_for_store(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case STORE_E_NODB:
		return EX_NOINPUT;
	case STORE_E_NOTFOUND:
	case STORE_E_INUSE:
		return EX_DATAERR;
	case STORE_E_BUSY:
		return EX_TEMPFAIL;
	case STORE_E_NEWER:
		return EX_CONFIG;
	default:
		return EX_SOFTWARE;
	}
}

/* shell_word - s as one word of a shell command line a person may paste */
static void
shell_word(struct buf *b, const char *s)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                            "0123456789_./-+=:,@%";
	if (s[0] && s[strspn(s, plain)] == '\0') {
		buf_adds(b, s);
		return;
	}
	buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

/*
 * cli_loose_files - some of the store's files are open to more users than
 * kirim.conf allows (a->n > 0). While the database's own secret is the token
 * key (kirim.conf has no [secret]) anyone who reads the files can make
 * unsubscribe links for any contact and forge VERP bounce addresses: refuse,
 * with the chmod that fixes it. Otherwise the files give away the contacts but
 * no key: warn. 0, or an exit code after the message.
 */
static int
cli_loose_files(const char *name, struct store *s, const struct config *cfg, unsigned flags,
                const struct store_file_audit *a)
{
	struct buf files = BUF_INIT, fix = BUF_INIT;
	buf_printf(&fix, "chmod %o", store_file_mode(flags));
	for (int i = 0; i < a->n; i++) {
		buf_printf(&files, "%s%s (mode %03o)", i ? ", " : "", a->file[i].path,
		           a->file[i].mode);
		buf_addc(&fix, ' ');
		shell_word(&fix, a->file[i].path);
	}
	const char *whom = (flags & STORE_GROUP) ? "the owner and group" : "the owner";
	unsigned char key[64];
	size_t len = 0;
	/* A failed read counts as a secret: refusing is the safe side. */
	bool key_here = !cfg->secret_named &&
	                store_setting_get(s, "secret", key, sizeof(key), &len) != STORE_E_NOTFOUND;
	explicit_bzero(key, sizeof(key));
	int rc = 0;
	if (key_here) {
		rc = cli_error(
		    name, EX_CONFIG,
		    "%s %s open to users other than %s, and the database holds kirim's token "
		    "secret: whoever can read it can unsubscribe any contact and forge bounce "
		    "addresses (and reads every contact). Make %s private, then run again:\n"
		    "  %s%s",
		    files.data, a->n > 1 ? "are" : "is", whom, a->n > 1 ? "them" : "it", fix.data,
		    (flags & STORE_GROUP)
		        ? ""
		        : "\n(If a group must read the database: group_readable = yes in "
		          "[database] of kirim.conf, and chmod 640.)");
	} else {
		log_warn("database files open to users other than %s: %s; they hold every contact "
		         "(the token key is kirim.conf's [secret]): %s",
		         whom, files.data, fix.data);
	}
	buf_free(&files);
	buf_free(&fix);
	return rc;
}

/* cli_open_pg - cli_open on a PostgreSQL URL: no files to audit */
static int
cli_open_pg(struct cli *c, const char *name, bool create, struct store **out)
{
	char err[800];
	int rc = store_open(c->db, create ? STORE_CREATE : 0, out, err, sizeof(err));
	if (rc == 0)
		return 0;
	if (rc == STORE_E_NODB)
		return cli_error(name, EX_NOINPUT,
		                 "%s\nMake it one with 'kirim init', or copy a "
		                 "SQLite database there with 'kirim migrate --to "
		                 "URL'.",
		                 err);
	/* As kirim migrate's: no server or not usable is 69, a URL libpq refuses 64. */
	int ex = rc == STORE_PG_E_URL    ? EX_USAGE
	         : rc == STORE_E_INVALID ? EX_UNAVAILABLE
	         : rc == STORE_E_EXISTS  ? EX_CANTCREAT
	         : rc == STORE_E_SQL     ? EX_DATAERR
	                                 : cli_exit_for_store(rc);
	return cli_error(name, ex, "%s", err);
}

int
cli_open(struct cli *c, const char *name, bool create, struct store **out)
{
	if (db_url_kind(c->db) == DB_URL_POSTGRES)
		return cli_error(
		    name, EX_UNAVAILABLE,
		    "this command does not run on PostgreSQL yet: name a SQLite file with --db "
		    "(docs/postgresql.md says what runs on PostgreSQL now).");
	return cli_open_any(c, name, create, out);
}

int
cli_open_any(struct cli *c, const char *name, bool create, struct store **out)
{
	char err[600];
	if (db_url_kind(c->db) == DB_URL_POSTGRES)
		return cli_open_pg(c, name, create, out);
	if (db_url_kind(c->db) == DB_URL_OTHER)
		return cli_usage(name, "--db takes a SQLite file's path, not a %.*s:// URL",
		                 (int)strcspn(c->db, ":"), c->db);
	/* kirim.conf says how private the database is and whether it holds the token key. */
	struct config cfg;
	if (config_peek(c->config, &cfg, err, sizeof(err)) < 0)
		return cli_error(name, EX_CONFIG, "%s", err);
	unsigned flags = (create ? STORE_CREATE : 0) | (cfg.db_group_readable ? STORE_GROUP : 0);
	/* The files as they were found, before SQLite adds a -shm or -wal that it removes again. */
	struct store_file_audit *loose = xmalloc(sizeof(*loose)); /* 32 KiB of paths */
	store_file_audit(c->db, flags, loose);
	int rc = store_open(c->db, flags, out, err, sizeof(err));
	int ex = 0;
	if (rc == 0 && loose->n > 0 && (ex = cli_loose_files(name, *out, &cfg, flags, loose))) {
		store_close(*out);
		*out = NULL;
	}
	free(loose);
	config_free(&cfg);
	if (rc == 0)
		return ex;
	if (rc == STORE_E_NODB)
		return cli_error(
		    name, EX_NOINPUT,
		    "%s\nCreate one with 'kirim init' or 'kirim import FILE --list NAME',"
		    " or name another with --db PATH.",
		    err);
	return cli_error(name, rc == STORE_E_SQL ? EX_DATAERR : cli_exit_for_store(rc), "%s", err);
}

const char *
cli_num(char out[32], uint64_t n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
	int o = 0;
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
	return out;
}

const char *
cli_time(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return out;
}

/* The JSON forms of text are api_json.h's: one way to spell a value, for the CLI and the API. */
json_t *
cli_json_textn(const char *s, size_t n)
{
	return api_json_textn(s, n);
}

json_t *
cli_json_text(const char *s)
{
	return api_json_text(s);
}

json_t *
cli_json_opt(const char *s)
{
	return api_json_opt(s);
}

json_t *
cli_json_time(int64_t t)
{
	char out[32];
	return json_string(cli_time(out, t));
}

json_t *
cli_json_number(double v, const char *fmt)
{
	return api_json_number(v, fmt);
}

json_t *
cli_json_parse(const char *text)
{
	return api_json_parse(text);
}

/* JSON_REAL_PRECISION(15): a real made by cli_json_number prints as its format wrote it. */
#define CLI_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* jansson's dump callbacks: to a struct buf, to standard output (errors are not JSON's to
 * report: a failed write shows in the exit status of whatever reads it) */
static int
cli_json_to_buf(const char *s, size_t n, void *arg)
{
	buf_add(arg, s, n);
	return 0;
}

static int
cli_json_to_stdout(const char *s, size_t n, void *arg)
{
	(void)arg;
	fwrite(s, 1, n, stdout);
	return 0;
}

/* cli_json_dump - write v compact through cb and release it */
static void
cli_json_dump(json_t *v, json_dump_callback_t cb, void *arg)
{
	/* NULL: a json_pack that failed, which only running out of memory can do. */
	if (v == NULL || json_dump_callback(v, cb, arg, CLI_JSON_FLAGS) < 0) {
		fputs("kirim: cannot build the JSON output (out of memory)\n", stderr);
		abort();
	}
	json_decref(v);
}

void
cli_json_print(json_t *v)
{
	cli_json_dump(v, cli_json_to_stdout, NULL);
	putchar('\n');
}

void
cli_json_rows_add(struct buf *rows, json_t *v)
{
	buf_addc(rows, rows->len ? ',' : '[');
	cli_json_dump(v, cli_json_to_buf, rows);
}

void
cli_json_rows_print(struct buf *rows)
{
	fputs(rows->len ? rows->data : "[", stdout);
	fputs("]\n", stdout);
	buf_free(rows);
}

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

char *
cli_read_file(const char *path, size_t max, size_t *len, char *err, size_t errsz)
{
	return mailbox_read_file(path, max, len, err, errsz);
}

/* cli_precheck - a campaign's start conditions (precheck.h) judged and printed; 0 or an
 * exit code. Shared by campaign schedule/resume and by send of a draft. */
int
cli_precheck(struct cli *c, struct store *s, const char *name, bool skip_bad, struct precheck *p,
             json_t *warnings)
{
	struct config cfg;
	struct store_campaign sc;
	char err[600];
	int rc = cli_config(c, "campaign", &cfg);
	if (rc)
		return rc;
	if ((rc = store_campaign_get(s, name, &sc)) < 0) {
		config_free(&cfg);
		return cli_error("campaign", cli_exit_for_store(rc), "%s", store_errmsg(s));
	}
	rc = precheck_run(s, &cfg, &sc, p, err, sizeof(err));
	if (rc == PRECHECK_E_IDENTITY)
		rc = cli_error("campaign", EX_CONFIG, "campaign '%s' cannot start: %s", name, err);
	else if (rc < 0)
		rc = cli_error("campaign", EX_SOFTWARE, "%s", err);
	else if ((rc = precheck_judge(p, name, sc.list, skip_bad, err, sizeof(err))) ==
	         PRECHECK_E_RENDER) {
		fprintf(stderr, "kirim campaign: %s:\n", err);
		for (size_t i = 0; i < p->nshow; i++)
			fprintf(stderr, "  %s (contact %lld): %s\n", p->show[i].email,
			        (long long)p->show[i].contact_id, p->show[i].why);
		if ((int64_t)p->nshow < p->bad)
			fprintf(stderr, "  ... and %lld more\n",
			        (long long)(p->bad - (int64_t)p->nshow));
		fprintf(stderr,
		        "Fix the template or the contacts, or add --skip-bad to skip them.\n");
		rc = EX_DATAERR;
	} else if (rc < 0) {
		rc = cli_error("campaign", EX_DATAERR, "%s", err);
	}
	if (rc == 0 && p->warning[0]) {
		if (!c->json && !c->quiet)
			fprintf(stderr, "kirim campaign: warning: %s\n", p->warning);
		json_array_append_new(warnings, cli_json_text(p->warning));
	}
	store_campaign_clear(&sc);
	config_free(&cfg);
	return rc;
}

void
cli_walk_print(int64_t cursor, int64_t upto)
{
	char a[32], b[32];
	if (upto <= 0)
		return;
	printf("  queueing: messages are made as it sends; contact ids up to %s of %s walked "
	       "(%d%%)\n",
	       cli_num(a, (uint64_t)cursor), cli_num(b, (uint64_t)upto),
	       (int)(100.0 * (double)cursor / (double)upto));
}

json_t *
cli_walk_json(int64_t cursor, int64_t upto)
{
	if (upto <= 0)
		return json_null();
	return json_pack("{s:I,s:I}", "contact_id", (json_int_t)cursor, "upto", (json_int_t)upto);
}
