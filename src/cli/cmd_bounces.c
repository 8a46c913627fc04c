/* cmd_bounces - kirim bounces classify | ingest | listen: returned mail in, verdicts out. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "kirim/bounces.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dsn.h"
#include "kirim/log.h"
#include "kirim/smtpd.h"
#include "kirim/store.h"

enum { BOUNCES_MAX_MESSAGE = 32 << 20, BOUNCES_MAX_MBOX = 1 << 30 };

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
		char *msg = cli_read_file(argv[i], BOUNCES_MAX_MESSAGE, &n, err, sizeof(err));
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

struct ingest {
	struct cli *c;
	struct bounces *b;
	int store_failed; /* a store error: what is left stays for the next run */
	unsigned long files_failed;
};

/* ingest_one - one message; returns its outcome, or -1 on a store error */
static int
ingest_one(struct ingest *in, const char *msg, size_t len, const char *where)
{
	enum bounces_outcome oc;
	char why[512];
	int rc = bounces_ingest(in->b, msg, len, NULL, 0, &oc, why, sizeof(why));
	if (rc < 0) {
		log_error("bounces %s: database: %s", where, why[0] ? why : "failed");
		in->store_failed = 1;
		return -1;
	}
	log_info("bounces %s: %s %s", where, bounces_outcome_name(oc), why);
	return (int)oc;
}

/* ingest_mbox - every message of an mbox (lines "From " start one; ">From " unquoted) */
static void
ingest_mbox(struct ingest *in, const char *path, const char *data, size_t len)
{
	struct buf msg = BUF_INIT;
	size_t i = 0, n = 0;
	char where[600];
	while (i < len && !in->store_failed) {
		/* Skip the "From " separator line. */
		const char *nl = memchr(data + i, '\n', len - i);
		i = nl ? (size_t)(nl - data) + 1 : len;
		buf_reset(&msg);
		while (i < len) {
			nl = memchr(data + i, '\n', len - i);
			size_t end = nl ? (size_t)(nl - data) + 1 : len;
			if (end - i >= 5 && memcmp(data + i, "From ", 5) == 0)
				break;
			size_t skip = 0; /* mboxrd: ">From " and ">>From " lose one '>' */
			if (data[i] == '>') {
				size_t k = i;
				while (k < end && data[k] == '>')
					k++;
				if (end - k >= 5 && memcmp(data + k, "From ", 5) == 0)
					skip = 1;
			}
			buf_add(&msg, data + i + skip, end - i - skip);
			i = end;
		}
		snprintf(where, sizeof(where), "%s#%zu", path, ++n);
		ingest_one(in, msg.data ? msg.data : "", msg.len, where);
	}
	buf_free(&msg);
}

/* move_to - rename dir/sub/name to dir/todir/name + suffix, making todir if needed */
static int
move_to(const char *dir, const char *sub, const char *name, const char *todir, const char *suffix)
{
	char from[4096], to[4096];
	snprintf(to, sizeof(to), "%s/%s", dir, todir);
	if (mkdir(to, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(from, sizeof(from), "%s/%s/%s", dir, sub, name);
	snprintf(to, sizeof(to), "%s/%s/%s%s", dir, todir, name, suffix);
	return rename(from, to);
}

/*
 * ingest_dir - a Maildir (new/ read, then each file moved to cur/ marked seen,
 * or to kirim-failed/ when it cannot be read as mail; on a store error the
 * file stays in new/ for the next run) or a plain directory of message files
 * (left where they are).
 */
static void
ingest_dir(struct ingest *in, const char *path)
{
	char sub[4096];
	snprintf(sub, sizeof(sub), "%s/new", path);
	struct stat st;
	bool maildir = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
	const char *dir = maildir ? sub : path;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		cli_error("bounces", EX_NOINPUT, "cannot read %s: %s", dir, strerror(errno));
		in->files_failed++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char file[4400], err[512];
		snprintf(file, sizeof(file), "%s/%s", dir, name);
		size_t len;
		if (name[0] == '.' || stat(file, &st) < 0 || !S_ISREG(st.st_mode) ||
		    in->store_failed)
			continue;
		char *msg = cli_read_file(file, BOUNCES_MAX_MESSAGE, &len, err, sizeof(err));
		int oc = msg ? ingest_one(in, msg, len, file) : BOUNCES_UNPARSEABLE;
		if (msg == NULL)
			log_warn("bounces %s: %s", file, err);
		free(msg);
		if (!maildir || oc < 0)
			continue;
		int mv = oc == BOUNCES_UNPARSEABLE ? move_to(path, "new", name, "kirim-failed", "")
		                                   : move_to(path, "new", name, "cur", ":2,S");
		if (mv < 0) {
			cli_error("bounces", EX_IOERR, "cannot move %s out of new/: %s", file,
			          strerror(errno));
			in->files_failed++;
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
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
	struct ingest in = {.c = c};
	if (bounces_new(s, &cfg, &in.b, err, sizeof(err)) < 0) {
		rc = cli_error("bounces", EX_CONFIG, "%s", err);
		goto out;
	}
	for (int i = 0; i < argc && !in.store_failed; i++) {
		struct stat st;
		if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			ingest_dir(&in, argv[i]);
			continue;
		}
		size_t len;
		char *data = cli_read_file(argv[i], BOUNCES_MAX_MBOX, &len, err, sizeof(err));
		if (data == NULL) {
			cli_error("bounces", EX_NOINPUT, "%s", err);
			in.files_failed++;
			continue;
		}
		if (len >= 5 && memcmp(data, "From ", 5) == 0)
			ingest_mbox(&in, argv[i], data, len);
		else
			ingest_one(&in, data, len, strcmp(argv[i], "-") == 0 ? "stdin" : argv[i]);
		free(data);
	}
	struct bounces_stats bs;
	bounces_stats(in.b, &bs);
	if (c->json) {
		cli_json_print(json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "messages",
		    (json_int_t)bs.messages, "recorded", (json_int_t)bs.recorded, "complaints",
		    (json_int_t)bs.complaints, "unsubscribed", (json_int_t)bs.unsubscribed,
		    "autoreplies", (json_int_t)bs.autoreplies, "not_bounces",
		    (json_int_t)bs.not_bounces, "unmatched", (json_int_t)bs.unmatched,
		    "unparseable", (json_int_t)bs.unparseable, "suppressed",
		    (json_int_t)bs.suppressed, "failed_files", (json_int_t)in.files_failed));
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
	rc = in.store_failed ? EX_TEMPFAIL : in.files_failed ? EX_NOINPUT : 0;
out:
	bounces_free(in.b);
	store_close(s);
	config_free(&cfg);
	return rc;
}

/* The listener: the SMTP server's callbacks ingest on the loop, one message at a time. */
struct listen {
	struct bounces *b;
	struct smtpd *d;
	uv_signal_t sigint, sigterm;
	char reply[600];
};

static const char *
listen_rcpt(void *arg, const char *addr)
{
	struct listen *L = arg;
	const char *why;
	if (bounces_accept_rcpt(L->b, addr, &why) == 0)
		return NULL;
	snprintf(L->reply, sizeof(L->reply), "550 5.7.1 <%.300s>: relaying denied: %s", addr, why);
	return L->reply;
}

static const char *
listen_message(void *arg, const char *from, const char *const *rcpts, size_t nrcpt,
               const char *data, size_t len)
{
	struct listen *L = arg;
	enum bounces_outcome oc;
	char why[512];
	if (bounces_ingest(L->b, data, len, rcpts, nrcpt, &oc, why, sizeof(why)) < 0) {
		log_error("bounces listen from=<%s>: database failed: try again later", from);
		return "451 4.3.0 Cannot record it now, try again later";
	}
	log_info("bounces listen from=<%s> rcpt=<%s> %s %s", from, nrcpt ? rcpts[0] : "",
	         bounces_outcome_name(oc), why);
	return NULL;
}

static void
listen_closed(void *arg)
{
	struct listen *L = arg;
	uv_close((uv_handle_t *)&L->sigint, NULL);
	uv_close((uv_handle_t *)&L->sigterm, NULL);
}

static void
listen_on_signal(uv_signal_t *h, int sig)
{
	struct listen *L = h->data;
	log_info("bounces listen: signal %d: stopping", sig);
	uv_signal_stop(&L->sigint);
	uv_signal_stop(&L->sigterm);
	smtpd_close(L->d, listen_closed, L);
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
	const char *addr = "127.0.0.1:2525", *hostname = NULL;
	struct smtpd_limits lim;
	smtpd_default_limits(&lim);
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":l:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'l':
			addr = optarg;
			break;
		case 'H':
			hostname = optarg;
			break;
		case 's':
			lim.max_message = strtoul(optarg, &end, 10) << 10;
			if (*end || lim.max_message == 0)
				return cli_usage("bounces", "--max-size takes KiB, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("bounces", "%s needs a value", argv[optind - 1]);
		default:
			return cli_usage("bounces", "unknown option '%s'", argv[optind - 1]);
		}
	}
	struct config cfg;
	int rc = cli_config(c, "bounces", &cfg);
	if (rc)
		return rc;
	if (cfg.bounce_domain[0] == '\0') {
		config_free(&cfg);
		return cli_error(
		    "bounces", EX_CONFIG,
		    "listen takes mail for [bounce] domain only: set it in kirim.conf");
	}
	struct store *s;
	if ((rc = cli_open(c, "bounces", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	char err[512];
	struct listen L = {0};
	uv_loop_t loop;
	uv_loop_init(&loop);
	if (bounces_new(s, &cfg, &L.b, err, sizeof(err)) < 0) {
		rc = cli_error("bounces", EX_CONFIG, "%s", err);
		goto out;
	}
	struct smtpd_cbs cbs = {listen_rcpt, listen_message};
	if (smtpd_new(&loop, addr, hostname ? hostname : cfg.bounce_domain, &lim, &cbs, &L, &L.d,
	              err, sizeof(err)) < 0) {
		rc = cli_error("bounces", EX_UNAVAILABLE, "cannot listen on %s: %s", addr, err);
		goto out;
	}
	uv_signal_init(&loop, &L.sigint);
	uv_signal_init(&loop, &L.sigterm);
	L.sigint.data = L.sigterm.data = &L;
	uv_signal_start(&L.sigint, listen_on_signal, SIGINT);
	uv_signal_start(&L.sigterm, listen_on_signal, SIGTERM);
	if (!c->quiet)
		fprintf(stderr, "kirim bounces: listening on %s (port %d) for %s\n", addr,
		        smtpd_port(L.d), cfg.bounce_domain);
	uv_run(&loop, UV_RUN_DEFAULT);
	struct bounces_stats bs;
	bounces_stats(L.b, &bs);
	if (!c->quiet)
		fprintf(stderr,
		        "kirim bounces: %llu messages: %llu bounces, %llu complaints, %llu "
		        "unsubscribes, %llu suppressed\n",
		        (unsigned long long)bs.messages, (unsigned long long)bs.recorded,
		        (unsigned long long)bs.complaints, (unsigned long long)bs.unsubscribed,
		        (unsigned long long)bs.suppressed);
out:
	uv_loop_close(&loop);
	bounces_free(L.b);
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
