/* cmd_user - `kirim user add|list|delete|passwd`: the web console's users (users.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kirim/store.h"
#include "kirim/store_user.h"
#include "kirim/users.h"

/* One line from f into buf without its newline; -1 at end of file or when too long. */
static int
read_line(FILE *f, char *buf, size_t bufsz)
{
	if (fgets(buf, (int)bufsz, f) == NULL)
		return -1;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* The password from the terminal, typed twice without echo, or one line of stdin. */
static int
get_password(bool from_stdin, char *pw, size_t pwsz)
{
	if (from_stdin) {
		if (read_line(stdin, pw, pwsz) < 0)
			return cli_error("user", EX_DATAERR,
			                 "--password-stdin: no password line on standard input "
			                 "(or longer than %d bytes)",
			                 CONSOLE_PASSWORD_MAX);
		return 0;
	}
	FILE *tty = fopen("/dev/tty", "r+");
	if (tty == NULL)
		return cli_usage("user",
		                 "no terminal to ask for the password: use --password-stdin");
	struct termios old, quiet;
	int fd = fileno(tty), rc = 0;
	bool echo_off = tcgetattr(fd, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	char again[CONSOLE_PASSWORD_MAX + 2];
	fputs("Password: ", tty);
	fflush(tty);
	if (read_line(tty, pw, pwsz) < 0) {
		rc = cli_error("user", EX_DATAERR, "no password read");
	} else {
		fputs("Again: ", tty);
		fflush(tty);
		if (read_line(tty, again, sizeof(again)) < 0 || strcmp(pw, again) != 0)
			rc = cli_error("user", EX_DATAERR, "the two passwords differ");
	}
	if (echo_off)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	memset(again, 0, sizeof(again));
	fclose(tty);
	return rc;
}

struct user_out {
	json_t *json;
	int n;
};

static int
user_row(void *arg, const struct store_user *u)
{
	struct user_out *o = arg;
	char c[32], p[32];
	if (o->json) {
		json_array_append_new(o->json,
		                      json_pack("{s:o,s:s,s:o,s:o}", "name", cli_json_text(u->name),
		                                "role", u->role, "created_at",
		                                cli_json_time(u->created_at), "password_changed_at",
		                                cli_json_time(u->password_changed_at)));
	} else {
		if (o->n == 0)
			printf("%-24s %-7s %-20s %s\n", "NAME", "ROLE", "CREATED (UTC)",
			       "PASSWORD CHANGED (UTC)");
		printf("%-24s %-7s %-20s %s\n", u->name, u->role, cli_time(c, u->created_at),
		       cli_time(p, u->password_changed_at));
	}
	o->n++;
	return 0;
}

int
cmd_user(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"role", required_argument, NULL, 'r'},
	    {"password-stdin", no_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	const char *role = NULL;
	bool pw_stdin = false;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":r:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			role = optarg;
			break;
		case 'P':
			pw_stdin = true;
			break;
		case ':':
			return cli_usage("user", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("user", longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("user", "add, list, delete or passwd?");
	const char *verb = argv[optind++];
	int nargs = argc - optind;
	bool add = strcmp(verb, "add") == 0, list = strcmp(verb, "list") == 0,
	     del = strcmp(verb, "delete") == 0, passwd = strcmp(verb, "passwd") == 0;
	if (!add && !list && !del && !passwd)
		return cli_usage("user", "unknown subcommand '%s' (add, list, delete, passwd)",
		                 verb);
	if (role && !add)
		return cli_usage("user", "--role goes with add");
	if (pw_stdin && !add && !passwd)
		return cli_usage("user", "--password-stdin goes with add and passwd");
	if (add && (nargs != 1 || role == NULL))
		return cli_usage("user", "add takes NAME and --role admin|editor|viewer");
	if (add && console_role_parse(role) < 0)
		return cli_usage("user", "--role takes admin, editor or viewer, not '%s'", role);
	if (list && nargs)
		return cli_usage("user", "list takes no arguments");
	if ((del || passwd) && nargs != 1)
		return cli_usage("user", "%s takes one user name", verb);
	char pw[CONSOLE_PASSWORD_MAX + 2] = "";
	int rc;
	if ((add || passwd) && (rc = get_password(pw_stdin, pw, sizeof(pw))) != 0)
		return rc;
	struct store *s;
	if ((rc = cli_open_any(c, "user", false, &s)) != 0) {
		memset(pw, 0, sizeof(pw));
		return rc;
	}
	char err[512];
	int64_t now = (int64_t)time(NULL);
	const char *name = nargs ? argv[optind] : NULL;
	if (add || passwd) {
		rc = add ? users_add(s, name, role, pw, now, err, sizeof(err))
		         : users_passwd(s, name, pw, now, err, sizeof(err));
		memset(pw, 0, sizeof(pw));
		if (rc < 0)
			rc = cli_error("user",
			               rc == USERS_E_USAGE || rc == STORE_E_EXISTS ||
			                       rc == STORE_E_NOTFOUND
			                   ? EX_DATAERR
			                   : cli_exit_for_store(rc),
			               "%s", err);
		else if (c->json)
			cli_json_print(json_pack("{s:o,s:s}", "name", cli_json_text(name),
			                         add ? "role" : "password",
			                         add ? role : "changed"));
		else if (!c->quiet)
			printf(add ? "User '%s' (%s) added: they log in at the admin listener's "
			             "/console/.\n"
			           : "Password of '%s' changed; their sessions have ended.%s\n",
			       name, add ? role : "");
	} else if (del) {
		rc = users_delete(s, name, err, sizeof(err));
		if (rc < 0)
			rc = cli_error("user",
			               rc == STORE_E_NOTFOUND ? EX_DATAERR : cli_exit_for_store(rc),
			               "%s", err);
		else if (c->json)
			cli_json_print(
			    json_pack("{s:o,s:b}", "name", cli_json_text(name), "deleted", 1));
		else if (!c->quiet)
			printf("User '%s' deleted; their sessions have ended.\n", name);
	} else {
		struct user_out o = {.json = c->json ? json_array() : NULL};
		rc = store_user_each(s, user_row, &o);
		if (rc < 0)
			rc = cli_error("user", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_incref(o.json));
		else if (o.n == 0)
			printf(
			    "No console users yet: 'kirim user add NAME --role admin' adds one.\n");
		json_decref(o.json);
	}
	store_close(s);
	return rc;
}
