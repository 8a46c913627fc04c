/* cmd_lists - `kirim lists [list|show NAME|delete NAME|form NAME|check [--fix]]`. */
#include "cli.h"

#include <string.h>

#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/signup.h"
#include "kirim/store.h"

struct lists_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

/* lists_json - one list as a JSON object */
static json_t *
lists_json(const struct store_list_info *l)
{
	return json_pack("{s:o,s:I,s:I,s:o}", "name", cli_json_text(l->name), "members",
	                 (json_int_t)l->members, "suppressed", (json_int_t)l->suppressed,
	                 "created_at", cli_json_time(l->created_at));
}

static int
lists_row(void *arg, const struct store_list_info *l)
{
	struct lists_out *out = arg;
	char m[32], s[32], t[32];
	if (out->json) {
		json_array_append_new(out->json, lists_json(l));
	} else {
		if (out->n == 0)
			printf("%-30s %12s %12s  %s\n", "LIST", "MEMBERS", "SUPPRESSED",
			       "CREATED (UTC)");
		printf("%-30s %12s %12s  %s\n", l->name, cli_num(m, (uint64_t)l->members),
		       cli_num(s, (uint64_t)l->suppressed), cli_time(t, l->created_at));
	}
	out->n++;
	return 0;
}

/* lists_form - `kirim lists form NAME [--lang TAG]`: the signup form's HTML for another site */
static int
lists_form(struct cli *c, int argc, char **argv)
{
	const char *lang = NULL;
	if (argc == 5 && strcmp(argv[3], "--lang") == 0)
		lang = argv[4];
	else if (argc == 4 && strncmp(argv[3], "--lang=", 7) == 0)
		lang = argv[3] + 7;
	else if (argc != 3)
		return cli_usage("lists", "form takes one list name, and --lang TAG");
	struct config cfg;
	int rc = cli_config(c, "lists", &cfg);
	if (rc)
		return rc;
	struct buf out = BUF_INIT;
	char err[800];
	if (signup_form_html(&cfg, argv[2], lang, &out, err, sizeof(err)) < 0)
		rc = cli_error("lists", EX_CONFIG, "%s", err);
	else if (c->json)
		cli_json_print(
		    json_pack("{s:s, s:s%}", "list", argv[2], "html", out.data, out.len));
	else
		fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	config_free(&cfg);
	return rc;
}

/* lists_diff - one count that differs, as text or into the JSON array arg */
static void
lists_diff(void *arg, const struct store_list_count_diff *d)
{
	json_t *a = arg;
	if (a)
		json_array_append_new(
		    a, json_pack("{s:o,s:o,s:{s:I,s:I},s:{s:I,s:I}}", "list",
		                 cli_json_text(d->list), "domain", cli_json_text(d->domain), "kept",
		                 "members", (json_int_t)d->kept_members, "suppressed",
		                 (json_int_t)d->kept_suppressed, "counted", "members",
		                 (json_int_t)d->members, "suppressed", (json_int_t)d->suppressed));
	else
		printf("list '%s' domain %s: kept %lld members, %lld suppressed; counted %lld, "
		       "%lld\n",
		       d->list, d->domain, (long long)d->kept_members,
		       (long long)d->kept_suppressed, (long long)d->members,
		       (long long)d->suppressed);
}

/* lists_check - `kirim lists check [--fix]`: the kept counts against a new count */
static int
lists_check(struct cli *c, int argc, char **argv)
{
	bool fix = argc == 3 && strcmp(argv[2], "--fix") == 0;
	if (argc > 3 || (argc == 3 && !fix))
		return cli_usage("lists", "check takes only --fix");
	struct store *s;
	int rc = cli_open_any(c, "lists", false, &s);
	if (rc)
		return rc;
	json_t *diffs = c->json ? json_array() : NULL;
	int64_t wrong = 0;
	rc = store_list_check(s, fix, lists_diff, diffs, &wrong);
	if (rc < 0) {
		rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
	} else {
		if (c->json)
			cli_json_print(json_pack("{s:I,s:b,s:O}", "wrong", (json_int_t)wrong,
			                         "fixed", fix && wrong > 0, "differences", diffs));
		else if (wrong == 0)
			printf("The lists' counts are right.\n");
		else
			printf("%lld count%s differed from a new count: %s.\n", (long long)wrong,
			       wrong == 1 ? "" : "s",
			       fix ? "replaced by it" : "'kirim lists check --fix' replaces them");
		if (wrong > 0 && !fix)
			rc = EX_DATAERR;
	}
	json_decref(diffs);
	store_close(s);
	return rc;
}

int
cmd_lists(struct cli *c, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "list";
	struct store *s;
	int rc;
	if (strcmp(verb, "form") == 0)
		return lists_form(c, argc, argv);
	if (strcmp(verb, "check") == 0)
		return lists_check(c, argc, argv);
	if (strcmp(verb, "list") == 0) {
		if (argc > 2)
			return cli_usage("lists", "unexpected argument '%s'", argv[2]);
		if ((rc = cli_open_any(c, "lists", false, &s)))
			return rc;
		struct lists_out out = {.json = c->json ? json_array() : NULL};
		rc = store_list_each(s, lists_row, &out);
		if (rc < 0) {
			rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
		} else if (c->json) {
			cli_json_print(json_incref(out.json));
		} else if (out.n == 0) {
			printf("No lists yet: 'kirim import FILE --list NAME' makes one.\n");
		}
		json_decref(out.json);
		store_close(s);
		return rc;
	}
	if (strcmp(verb, "show") != 0 && strcmp(verb, "delete") != 0)
		return cli_usage("lists",
		                 "unknown subcommand '%s' (list, show, delete, form, check)", verb);
	if (argc != 3)
		return cli_usage("lists", "%s takes one list name", verb);
	if ((rc = cli_open_any(c, "lists", false, &s)))
		return rc;
	if (strcmp(verb, "delete") == 0) {
		char err[1024];
		rc = audience_list_delete(s, argv[2], err, sizeof(err));
		if (rc < 0)
			rc = cli_error("lists",
			               rc == STORE_E_INUSE || rc == AUDIENCE_E_BUSY
			                   ? EX_DATAERR
			                   : cli_exit_for_store(rc),
			               "%s", err);
		else if (!c->json)
			printf("Deleted list '%s' (its contacts are kept).\n", argv[2]);
		else
			cli_json_print(json_pack("{s:b}", "deleted", 1));
		store_close(s);
		return rc;
	}
	struct store_list_info l;
	rc = store_list_get(s, argv[2], &l);
	if (rc < 0) {
		rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
	} else if (c->json) {
		cli_json_print(lists_json(&l));
	} else {
		char m[32], su[32], t[32];
		printf("list:        %s\nmembers:     %s\nsuppressed:  %s\ncreated:     %s UTC\n",
		       l.name, cli_num(m, (uint64_t)l.members), cli_num(su, (uint64_t)l.suppressed),
		       cli_time(t, l.created_at));
	}
	store_close(s);
	return rc;
}
