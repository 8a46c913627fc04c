/* cmd_lists - `kirim lists [list|show NAME|delete NAME]`. */
#include "cli.h"

#include <string.h>

#include "kirim/buf.h"
#include "kirim/store.h"

struct lists_out {
	struct cli *c;
	struct buf json;
	int n;
};

static void
lists_json_one(struct buf *b, const struct store_list_info *l)
{
	char t[32];
	buf_adds(b, "{\"name\":");
	cli_json_str(b, l->name);
	buf_printf(b,
	           ",\"members\":%lld,\"suppressed\":%lld,\"created_at\":", (long long)l->members,
	           (long long)l->suppressed);
	cli_json_str(b, cli_time(t, l->created_at));
	buf_addc(b, '}');
}

static int
lists_row(void *arg, const struct store_list_info *l)
{
	struct lists_out *out = arg;
	char m[32], s[32], t[32];
	if (out->c->json) {
		if (out->n)
			buf_addc(&out->json, ',');
		lists_json_one(&out->json, l);
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

int
cmd_lists(struct cli *c, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "list";
	struct store *s;
	int rc;
	if (strcmp(verb, "list") == 0) {
		if (argc > 2)
			return cli_usage("lists", "unexpected argument '%s'", argv[2]);
		if ((rc = cli_open(c, "lists", false, &s)))
			return rc;
		struct lists_out out = {.c = c};
		rc = store_list_each(s, lists_row, &out);
		if (rc < 0) {
			rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
		} else if (c->json) {
			printf("[%s]\n", out.json.data ? out.json.data : "");
		} else if (out.n == 0) {
			printf("No lists yet: 'kirim import FILE --list NAME' makes one.\n");
		}
		buf_free(&out.json);
		store_close(s);
		return rc;
	}
	if (strcmp(verb, "show") != 0 && strcmp(verb, "delete") != 0)
		return cli_usage("lists", "unknown subcommand '%s' (list, show, delete)", verb);
	if (argc != 3)
		return cli_usage("lists", "%s takes one list name", verb);
	if ((rc = cli_open(c, "lists", false, &s)))
		return rc;
	if (strcmp(verb, "delete") == 0) {
		rc = store_list_delete(s, argv[2]);
		if (rc < 0)
			rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (!c->json)
			printf("Deleted list '%s' (its contacts are kept).\n", argv[2]);
		else
			printf("{\"deleted\":true}\n");
		store_close(s);
		return rc;
	}
	struct store_list_info l;
	rc = store_list_get(s, argv[2], &l);
	if (rc < 0) {
		rc = cli_error("lists", cli_exit_for_store(rc), "%s", store_errmsg(s));
	} else if (c->json) {
		struct buf b = BUF_INIT;
		lists_json_one(&b, &l);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		char m[32], su[32], t[32];
		printf("list:        %s\nmembers:     %s\nsuppressed:  %s\ncreated:     %s UTC\n",
		       l.name, cli_num(m, (uint64_t)l.members), cli_num(su, (uint64_t)l.suppressed),
		       cli_time(t, l.created_at));
	}
	store_close(s);
	return rc;
}
