/* cmd_token - `kirim token create|list|revoke` and `kirim audit`: the HTTP API's access. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/access.h"
#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/store_api.h"
#include "kirim/when.h"
#include "kirim/when_tz.h"

struct token_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

static int
token_row(void *arg, const struct store_token *t)
{
	struct token_out *o = arg;
	char c[32], u[32];
	if (o->json) {
		json_array_append_new(
		    o->json,
		    json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "name", cli_json_text(t->name),
		              "scope", t->scope, "prefix", cli_json_text(t->prefix), "created_at",
		              cli_json_time(t->created_at), "last_used_at",
		              t->last_used_at ? cli_json_time(t->last_used_at) : json_null(),
		              "last_used_from", cli_json_opt(t->last_used_from), "revoked_at",
		              t->revoked_at ? cli_json_time(t->revoked_at) : json_null()));
	} else {
		if (o->n == 0)
			printf("%-20s %-6s %-13s %-20s %-20s %s\n", "NAME", "SCOPE", "PREFIX",
			       "CREATED (UTC)", "LAST USED (UTC)", "STATE");
		printf("%-20s %-6s %-13s %-20s %-20s %s\n", t->name, t->scope, t->prefix,
		       cli_time(c, t->created_at),
		       t->last_used_at ? cli_time(u, t->last_used_at) : "never",
		       t->revoked_at ? "revoked" : "active");
	}
	o->n++;
	return 0;
}

int
cmd_token(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"scope", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *scope = NULL;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":n:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 's':
			scope = optarg;
			break;
		case ':':
			return cli_usage("token", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("token", longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("token", "create, list or revoke?");
	const char *verb = argv[optind++];
	int nargs = argc - optind;
	bool create = strcmp(verb, "create") == 0, list = strcmp(verb, "list") == 0,
	     revoke = strcmp(verb, "revoke") == 0;
	if (!create && !list && !revoke)
		return cli_usage("token", "unknown subcommand '%s' (create, list, revoke)", verb);
	if ((name || scope) && !create)
		return cli_usage("token", "--name and --scope go with create");
	if (create && (nargs || name == NULL || scope == NULL))
		return cli_usage("token", "create takes --name NAME and --scope read|write|admin");
	if (list && nargs)
		return cli_usage("token", "list takes no arguments");
	if (revoke && nargs != 1)
		return cli_usage("token", "revoke takes one token name");
	int sc = create ? access_scope_parse(scope) : 0;
	if (sc < 0)
		return cli_usage("token", "--scope takes read, write or admin, not '%s'", scope);
	struct store *s;
	int rc = cli_open_any(c, "token", false, &s);
	if (rc)
		return rc;
	char err[512];
	int64_t now = (int64_t)time(NULL);
	if (create) {
		char tok[ACCESS_TOKEN_MAX];
		rc = access_token_create(s, name, sc, now, tok, err, sizeof(err));
		if (rc < 0) {
			rc = cli_error("token",
			               rc == ACCESS_E_USAGE || rc == STORE_E_EXISTS
			                   ? EX_DATAERR
			                   : cli_exit_for_store(rc),
			               "%s", err);
		} else if (c->json) {
			cli_json_print(json_pack("{s:o,s:s,s:s}", "name", cli_json_text(name),
			                         "scope", access_scope_name(sc), "token", tok));
		} else {
			printf("%s\n", tok);
			if (!c->quiet)
				fprintf(stderr,
				        "Token '%s' (%s) made. It is shown this once: keep it now. "
				        "Use it as\n  Authorization: Bearer %.12s...\n",
				        name, access_scope_name(sc), tok);
		}
		memset(tok, 0, sizeof(tok));
	} else if (revoke) {
		rc = access_token_revoke(s, argv[optind], now, err, sizeof(err));
		if (rc < 0)
			rc = cli_error("token",
			               rc == STORE_E_NOTFOUND ? EX_DATAERR : cli_exit_for_store(rc),
			               "%s", err);
		else if (c->json)
			cli_json_print(json_pack("{s:o,s:b}", "name", cli_json_text(argv[optind]),
			                         "revoked", 1));
		else
			printf("Token '%s' revoked: requests with it get 401 from now on.\n",
			       argv[optind]);
	} else {
		struct token_out o = {.json = c->json ? json_array() : NULL};
		rc = store_token_each(s, token_row, &o);
		if (rc < 0)
			rc = cli_error("token", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_incref(o.json));
		else if (o.n == 0)
			printf("No API tokens yet: 'kirim token create --name NAME --scope read' "
			       "makes one.\n");
		json_decref(o.json);
	}
	store_close(s);
	return rc;
}

/* audit_since - "30m", "24h", "7d" before now, or a time ("2024-05-01", "2024-05-01 12:00",
 * local unless it ends in Z or an offset); 0 or -1 */
static int
audit_since(const char *v, int64_t now, int64_t *out, char *err, size_t errsz)
{
	char *end;
	long long n = strtoll(v, &end, 10);
	if (end != v && n >= 0 && end[0] && end[1] == '\0' && strchr("smhd", end[0])) {
		long long unit = end[0] == 's'   ? 1
		                 : end[0] == 'm' ? 60
		                 : end[0] == 'h' ? 3600
		                                 : 86400;
		*out = now - (int64_t)(n * unit);
		return 0;
	}
	struct when_tz tz;
	if (when_tz_open(&tz, NULL, err, errsz) < 0)
		return -1;
	char full[64];
	/* A date alone is its midnight. */
	snprintf(full, sizeof(full), strlen(v) == 10 ? "%s 00:00" : "%s", v);
	return when_parse_at(full, &tz.zone, out, err, errsz) < 0 ? -1 : 0;
}

struct audit_out {
	struct cli *c;
	struct buf json;
	int n;
};

static int
audit_row(void *arg, const struct store_audit *a)
{
	struct audit_out *o = arg;
	char t[32];
	if (o->c->json) {
		cli_json_rows_add(
		    &o->json,
		    json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:i,s:o}", "id", (json_int_t)a->id, "ts",
		              cli_json_time(a->ts), "token", cli_json_text(a->token_name), "method",
		              cli_json_text(a->method), "path", cli_json_text(a->path), "resource",
		              cli_json_opt(a->resource), "status", a->status, "client",
		              cli_json_text(a->client)));
	} else {
		if (o->n == 0)
			printf("%-20s %-16s %-7s %-4s %-40s %-30s %s\n", "TIME (UTC)", "TOKEN",
			       "METHOD", "CODE", "PATH", "RESOURCE", "CLIENT");
		char code[8] = "-";
		if (a->status)
			snprintf(code, sizeof(code), "%d", a->status);
		printf("%-20s %-16s %-7s %-4s %-40s %-30s %s\n", cli_time(t, a->ts), a->token_name,
		       a->method, code, a->path, a->resource ? a->resource : "-", a->client);
	}
	o->n++;
	return 0;
}

int
cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	int64_t since = 0, now = (int64_t)time(NULL);
	int limit = 0, ch;
	char err[300];
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:n:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 's':
			if (audit_since(optarg, now, &since, err, sizeof(err)) < 0)
				return cli_usage("audit",
				                 "--since takes a time (2024-05-01, 2024-05-01 "
				                 "12:00, ...Z) or an age (30m, 24h, 7d), not '%s'",
				                 optarg);
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 0 || end == optarg)
				return cli_usage("audit", "--limit takes a number, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("audit", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("audit", longopts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage("audit", "takes no arguments ('%s')", argv[optind]);
	struct store *s;
	int rc = cli_open_any(c, "audit", false, &s);
	if (rc)
		return rc;
	struct audit_out o = {.c = c};
	rc = store_audit_each(s, since, 0, limit, audit_row, &o);
	if (rc < 0)
		rc = cli_error("audit", cli_exit_for_store(rc), "%s", store_errmsg(s));
	else if (c->json)
		cli_json_rows_print(&o.json);
	else if (o.n == 0)
		printf("Nothing in the audit log%s.\n", since ? " since then" : "");
	buf_free(&o.json);
	store_close(s);
	return rc;
}
