/* cmd_contacts - `kirim contacts show ADDRESS` and `kirim contacts search TEXT`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/store.h"

struct contacts_out {
	struct cli *c;
	struct buf json; /* --json: the rows as text (cli_json_rows_add) */
	int n;
};

/* contacts_display - the address with its domain in U-labels, for people */
static void
contacts_display(const struct store_contact *ct, char *out, size_t outsz)
{
	char dom[256];
	const char *at = strrchr(ct->email, '@');
	address_domain_display(ct->domain, dom, sizeof(dom));
	snprintf(out, outsz, "%.*s@%s", at ? (int)(at - ct->email) : 0, ct->email, dom);
}

/* contacts_json - one contact as a JSON object; full adds the lists it is in */
static json_t *
contacts_json(const struct store_contact *ct, bool full)
{
	char disp[600];
	contacts_display(ct, disp, sizeof(disp));
	json_t *o = json_pack(
	    "{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "email", cli_json_text(ct->email), "display",
	    cli_json_text(disp), "domain", cli_json_text(ct->domain), "attrs",
	    cli_json_parse(ct->attrs), "suppressed", cli_json_opt(ct->suppressed), "created_at",
	    cli_json_time(ct->created_at), "updated_at", cli_json_time(ct->updated_at));
	if (full && o) {
		/* ct->lists joins the names with ','. */
		json_t *lists = json_array();
		for (const char *p = ct->lists; *p;) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			json_array_append_new(lists, cli_json_textn(p, n));
			p += n + (e ? 1 : 0);
		}
		json_object_set_new(o, "lists", lists);
	}
	return o;
}

static int
contacts_row(void *arg, const struct store_contact *ct)
{
	struct contacts_out *out = arg;
	if (out->c->json) {
		cli_json_rows_add(&out->json, contacts_json(ct, false));
	} else {
		char disp[600];
		contacts_display(ct, disp, sizeof(disp));
		printf("%-40s %-12s %s\n", disp, ct->suppressed[0] ? ct->suppressed : "-",
		       ct->attrs);
	}
	out->n++;
	return 0;
}

static int
contacts_show(struct cli *c, struct store *s, const char *arg)
{
	struct address a;
	const char *reason;
	if (address_parse(arg, strlen(arg), ADDRESS_ALLOW_IP_LITERAL, &a, &reason) < 0)
		return cli_error("contacts", EX_DATAERR, "'%s' is not an address: %s", arg, reason);
	struct store_contact ct;
	int rc = store_contact_get(s, a.key, &ct);
	if (rc < 0)
		return cli_error("contacts", cli_exit_for_store(rc), "%s", store_errmsg(s));
	if (c->json) {
		cli_json_print(contacts_json(&ct, true));
	} else {
		char disp[600], t1[32], t2[32];
		contacts_display(&ct, disp, sizeof(disp));
		printf("address:     %s\n", disp);
		if (strcmp(disp, ct.email) != 0)
			printf("on the wire: %s\n", ct.email);
		printf("lists:       %s\n", ct.lists[0] ? ct.lists : "(none)");
		printf("suppressed:  %s\n", ct.suppressed[0] ? ct.suppressed : "no");
		printf("attributes:  %s\n", ct.attrs);
		printf("created:     %s UTC\nupdated:     %s UTC\n", cli_time(t1, ct.created_at),
		       cli_time(t2, ct.updated_at));
	}
	store_contact_clear(&ct);
	return 0;
}

int
cmd_contacts(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"list", required_argument, NULL, 'l'},
	    {"limit", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	const char *list = NULL;
	int limit = 50, ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:n:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'l':
			list = optarg;
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return cli_usage("contacts", "--limit takes a number, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("contacts", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("contacts", longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("contacts", "show ADDRESS or search TEXT?");
	const char *verb = argv[optind];
	if (optind + 2 != argc)
		return cli_usage("contacts", "%s takes one argument", verb);
	const char *arg = argv[optind + 1];
	bool show = strcmp(verb, "show") == 0;
	if (!show && strcmp(verb, "search") != 0)
		return cli_usage("contacts", "unknown subcommand '%s' (show, search)", verb);
	struct store *s;
	int rc = cli_open(c, "contacts", false, &s);
	if (rc)
		return rc;
	if (show) {
		rc = contacts_show(c, s, arg);
	} else {
		struct contacts_out out = {.c = c};
		rc = store_contact_search(s, arg, list, limit, contacts_row, &out);
		if (rc < 0)
			rc = cli_error("contacts", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_rows_print(&out.json);
		else if (out.n == 0)
			printf("No contact's address contains '%s'%s%s.\n", arg,
			       list ? " in list " : "", list ? list : "");
		buf_free(&out.json);
	}
	store_close(s);
	return rc;
}
