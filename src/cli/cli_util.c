/* cli_util - shared pieces of the subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/store.h"
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
	      "  --db PATH     the database (default: $KIRIM_DB, else ./kirim.db)\n"
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
		return EX_DATAERR;
	case STORE_E_BUSY:
		return EX_TEMPFAIL;
	case STORE_E_NEWER:
		return EX_CONFIG;
	default:
		return EX_SOFTWARE;
	}
}

int
cli_open(struct cli *c, const char *name, bool create, struct store **out)
{
	char err[600];
	int rc = store_open(c->db, create ? STORE_CREATE : 0, out, err, sizeof(err));
	if (rc == 0)
		return 0;
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

void
cli_json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_adds(b, "null");
	else
		buf_json_string(b, s, strlen(s));
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
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > max) {
			snprintf(err, errsz, "%s is larger than %d MiB", path, (int)(max >> 20));
			break;
		}
	}
	bool bad = ferror(f) || b.len > max;
	if (ferror(f))
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data ? b.data : xstrdup("");
}
