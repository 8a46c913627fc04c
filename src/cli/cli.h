/*
 * cli - what the subcommands share: global options, the command table,
 * opening the store with a person-readable error, help and number printing.
 * Only the cli layer prints for a person.
 */
#ifndef KIRIM_CLI_H
#define KIRIM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <jansson.h>

struct store;
struct buf;

struct cli {
	const char *db;     /* --db, KIRIM_DB, or ./kirim.db */
	bool json;          /* --json: machine-readable output */
	bool quiet;         /* --quiet: no progress, only errors and results */
	int verbose;        /* -v: log level up */
	const char *config; /* --config, KIRIM_CONFIG, or ./kirim.conf if it exists */
};

struct config;

struct cli_command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *summary;
	const char *help; /* full text for `kirim help NAME` / --help */
};

extern const struct cli_command cli_commands[];

/* cli_find - the command called name, or NULL */
const struct cli_command *cli_find(const char *name);
/* cli_help - print a command's help to f */
void cli_help(FILE *f, const struct cli_command *cmd);
/* cli_usage - print "kirim NAME: message" and a hint to stderr; returns EX_USAGE */
int cli_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error - print "kirim NAME: message" to stderr; returns code */
int cli_error(const char *name, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct option;
/* cli_nearest_command - the command nearest to word, if one is close enough to suggest */
const char *cli_nearest_command(const char *word);
/* cli_unknown_option - cli_usage's "unknown option 'ARG'" for getopt_long's '?', with the
 * nearest of opts' long options when one is close; returns EX_USAGE */
int cli_unknown_option(const char *name, const struct option *opts, const char *arg);
/* cli_open - open the store named by --db; prints why not and returns an exit code, or 0.
 * A PostgreSQL URL is refused (exit 69, "not on PostgreSQL yet"): the commands that run
 * there call cli_open_any (docs/postgresql.md lists them). */
int cli_open(struct cli *c, const char *name, bool create, struct store **out);
/* cli_open_any - the same, a PostgreSQL URL taken too: for what the store runs there */
int cli_open_any(struct cli *c, const char *name, bool create, struct store **out);
/* cli_config - load the config named by --config; prints why not and returns an exit code, or 0 */
int cli_config(struct cli *c, const char *name, struct config *out);
/* cli_exit_for_store - the sysexits code for a store error */
int cli_exit_for_store(int rc);
/* cli_walk_print - a campaign's messages still being made: a line of how far (nothing when
 * upto is 0; store_messages_walk) */
void cli_walk_print(int64_t cursor, int64_t upto);
/* cli_walk_json - the same as {"contact_id", "upto"}, or null */
struct json_t *cli_walk_json(int64_t cursor, int64_t upto);
/* cli_num - format n with thousands separators into out (32 bytes) and return it */
const char *cli_num(char out[32], uint64_t n);
/* cli_time - format a Unix time as "YYYY-MM-DD HH:MM:SS" UTC into out (32 bytes) */
const char *cli_time(char out[32], int64_t t);
/*
 * --json output is built as jansson values (the helpers below never return NULL) and
 * printed by cli_json_print, so every string is escaped as RFC 8259 says.
 */
/* cli_json_text - s as a JSON string, null when s is NULL; bytes that are not UTF-8
 * are read as Latin-1 (a JSON text is UTF-8) */
json_t *cli_json_text(const char *s);
/* cli_json_textn - the same for n bytes that may hold NULs */
json_t *cli_json_textn(const char *s, size_t n);
/* cli_json_opt - s as a JSON string, null when s is NULL or empty */
json_t *cli_json_opt(const char *s);
/* cli_json_time - a Unix time as a "YYYY-MM-DD HH:MM:SS" (UTC) string */
json_t *cli_json_time(int64_t t);
/* cli_json_number - v as printf's fmt ("%.6g", "%.3f") writes it: an integer when fmt
 * writes neither a point nor an exponent, else a real; null when v is not finite */
json_t *cli_json_number(double v, const char *fmt);
/* cli_json_parse - stored JSON text (a contact's attributes, a campaign's headers) as a
 * value; the text as a string if it does not parse */
json_t *cli_json_parse(const char *text);
/* cli_json_print - print v compact on one line of standard output and release it */
void cli_json_print(json_t *v);
/*
 * A JSON array written one element at a time into rows as its text ("[a,b,..."): kirim
 * suppress list and kirim contacts search can list millions of rows, and a jansson array
 * of them would take several times the memory of their text.
 */
/* cli_json_rows_add - append v (released) to the array in rows */
void cli_json_rows_add(struct buf *rows, json_t *v);
/* cli_json_rows_print - print the array in rows on one line of standard output, free rows */
void cli_json_rows_print(struct buf *rows);
/* cli_read_file - the whole file (or stdin for "-"), at most max bytes, NUL-terminated;
 * NULL with a sentence in err (mailbox_read_file, which app/ code uses) */
char *cli_read_file(const char *path, size_t max, size_t *len, char *err, size_t errsz);
/* cli_wants_help - true if argv holds -h or --help before any "--" */
bool cli_wants_help(int argc, char **argv);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_lists(struct cli *c, int argc, char **argv);
int cmd_contacts(struct cli *c, int argc, char **argv);
int cmd_segment(struct cli *c, int argc, char **argv);
int cmd_suppress(struct cli *c, int argc, char **argv);
int cmd_version(struct cli *c, int argc, char **argv);
int cmd_template(struct cli *c, int argc, char **argv);
int cmd_campaign(struct cli *c, int argc, char **argv);
int cmd_preview(struct cli *c, int argc, char **argv);
int cmd_dkim(struct cli *c, int argc, char **argv);
int cmd_send(struct cli *c, int argc, char **argv);
int cmd_run(struct cli *c, int argc, char **argv);
/* campaign_test - `kirim campaign test NAME --to ADDRESS...`: proofs, recorded nowhere */
int campaign_test(struct cli *c, int argc, char **argv);
struct store_campaign;
/* cli_audience_makeup - what the campaign's audience is made of now: printed, or with o
 * (--json) put in o as "makeup"; 0 or an exit code after a message */
int cli_audience_makeup(struct cli *c, struct store *s, const struct store_campaign *sc, json_t *o);
/* campaign_plan - `kirim campaign plan NAME`: destinations, ETAs, dead domains */
int campaign_plan(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
struct sender_opts;
struct smtp_timeouts;
struct precheck;
/* cli_precheck - a campaign's start conditions judged and printed; 0 or an exit code */
int cli_precheck(struct cli *c, struct store *s, const char *name, bool skip_bad,
                 struct precheck *p, json_t *warnings);
/* send_options - parse the delivery options kirim send and kirim run share into *o (its
 * other fields kept); to holds --timeout's figures. 0, or an exit code after a message. */
int send_options(const char *name, int argc, char **argv, struct sender_opts *o,
                 struct smtp_timeouts *to);
int cmd_bounces(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
extern const char cmd_serve_help[];
int cmd_domain(struct cli *c, int argc, char **argv);
int cmd_tlsrpt(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_webhooks(struct cli *c, int argc, char **argv);
int cmd_migrate(struct cli *c, int argc, char **argv);
/* campaign_lifecycle - `kirim campaign schedule|unschedule|pause|resume|cancel`; argv[0] is the
 * verb */
int campaign_lifecycle(struct cli *c, const char *verb, int argc, char **argv);
/* campaign_lifecycle_verb - is verb one campaign_lifecycle handles? */
bool campaign_lifecycle_verb(const char *verb);

#endif
