/* cmd_contacts - `kirim contacts show ADDRESS`, `search TEXT`, `tag ADDRESS...` and `tags`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/address.h"
#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/store_signup.h"
#include "kirim/xmalloc.h"

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

/* contacts_consent - one consent record: printed, or added to the JSON array at arg */
static int
contacts_consent(void *arg, const struct store_consent *k)
{
	json_t *arr = arg;
	if (arr) {
		json_array_append_new(
		    arr, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "list",
		                   cli_json_text(k->list), "form", cli_json_text(k->form), "ip",
		                   cli_json_text(k->ip), "user_agent", cli_json_opt(k->user_agent),
		                   "language", cli_json_text(k->language), "text",
		                   cli_json_text(k->text), "created_at",
		                   cli_json_time(k->created_at), "confirmed_at",
		                   k->confirmed_at ? cli_json_time(k->confirmed_at) : json_null(),
		                   "confirm_ip", cli_json_opt(k->confirm_ip)));
		return 0;
	}
	char t1[32], t2[32];
	printf("consent:     list %s, signed up %s UTC from %s (form %s, language %s)\n", k->list,
	       cli_time(t1, k->created_at), k->ip, k->form, k->language);
	if (k->confirmed_at)
		printf("             confirmed %s UTC from %s\n", cli_time(t2, k->confirmed_at),
		       k->confirm_ip);
	else
		printf("             not confirmed\n");
	printf("             agreed to: %s\n", k->text);
	if (k->user_agent[0])
		printf("             browser: %s\n", k->user_agent);
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
	char tags[1024];
	int rc = store_contact_get(s, a.key, &ct);
	if (rc == 0 && (rc = store_contact_tags(s, ct.id, tags, sizeof(tags))) < 0)
		store_contact_clear(&ct);
	if (rc < 0)
		return cli_error("contacts", cli_exit_for_store(rc), "%s", store_errmsg(s));
	if (c->json) {
		json_t *o = contacts_json(&ct, true), *t = json_array();
		for (const char *p = tags; *p;) {
			size_t n = strcspn(p, ",");
			json_array_append_new(t, cli_json_textn(p, n));
			p += n + (p[n] == ',');
		}
		json_object_set_new(o, "tags", t);
		json_t *consents = json_array();
		rc = store_consent_each(s, ct.id, contacts_consent, consents);
		json_object_set_new(o, "consents", consents);
		if (rc == 0)
			cli_json_print(o);
		else
			json_decref(o);
	} else {
		char disp[600], t1[32], t2[32];
		contacts_display(&ct, disp, sizeof(disp));
		printf("address:     %s\n", disp);
		if (strcmp(disp, ct.email) != 0)
			printf("on the wire: %s\n", ct.email);
		printf("lists:       %s\n", ct.lists[0] ? ct.lists : "(none)");
		printf("tags:        %s\n", tags[0] ? tags : "(none)");
		printf("suppressed:  %s\n", ct.suppressed[0] ? ct.suppressed : "no");
		printf("attributes:  %s\n", ct.attrs);
		printf("created:     %s UTC\nupdated:     %s UTC\n", cli_time(t1, ct.created_at),
		       cli_time(t2, ct.updated_at));
		/* The proof of each signup's consent (GDPR), oldest first. */
		rc = store_consent_each(s, ct.id, contacts_consent, NULL);
	}
	store_contact_clear(&ct);
	if (rc < 0)
		return cli_error("contacts", cli_exit_for_store(rc), "%s", store_errmsg(s));
	return 0;
}

/* contacts_tag - `kirim contacts tag ADDRESS... | --segment NAME --add T --remove T` */
static int
contacts_tag(struct cli *c, struct store *s, char **addresses, int n, const char *segment,
             const char *const *add, size_t nadd, const char *const *remove, size_t nremove)
{
	char err[1024], n1[32], n2[32], n3[32];
	struct audience_tagged t;
	int rc = segment ? audience_tag_segment(s, segment, (int64_t)time(NULL), add, nadd, remove,
	                                        nremove, &t, err, sizeof(err))
	                 : audience_tag_addresses(s, (const char *const *)addresses, (size_t)n, add,
	                                          nadd, remove, nremove, &t, err, sizeof(err));
	if (rc < 0)
		return cli_error("contacts",
		                 rc == AUDIENCE_E_USAGE || rc == AUDIENCE_E_DATA
		                     ? EX_DATAERR
		                     : cli_exit_for_store(rc),
		                 "%s", err);
	if (c->json)
		cli_json_print(json_pack("{s:I,s:I,s:I}", "contacts", (json_int_t)t.contacts,
		                         "added", (json_int_t)t.added, "removed",
		                         (json_int_t)t.removed));
	else
		printf("%s contact%s: %s tag%s added, %s removed.\n",
		       cli_num(n1, (uint64_t)t.contacts), t.contacts == 1 ? "" : "s",
		       cli_num(n2, (uint64_t)t.added), t.added == 1 ? "" : "s",
		       cli_num(n3, (uint64_t)t.removed));
	return 0;
}

static int
tag_row(void *arg, const char *tag, int64_t contacts)
{
	struct contacts_out *o = arg;
	char n1[32];
	if (o->c->json) {
		cli_json_rows_add(&o->json, json_pack("{s:o,s:I}", "tag", cli_json_text(tag),
		                                      "contacts", (json_int_t)contacts));
	} else {
		if (o->n == 0)
			printf("%-32s %s\n", "TAG", "CONTACTS");
		printf("%-32s %s\n", tag, cli_num(n1, (uint64_t)contacts));
	}
	o->n++;
	return 0;
}

int
cmd_contacts(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"list", required_argument, NULL, 'l'},    {"limit", required_argument, NULL, 'n'},
	    {"add", required_argument, NULL, 'a'},     {"remove", required_argument, NULL, 'r'},
	    {"segment", required_argument, NULL, 's'}, {NULL, 0, NULL, 0},
	};
	const char *list = NULL, *segment = NULL;
	const char **add = xcalloc((size_t)argc + 1, sizeof(char *));
	const char **remove = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t nadd = 0, nremove = 0;
	int limit = 50, ch, rc = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:n:a:r:s:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'l':
			list = optarg;
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 0)
				rc = cli_usage("contacts", "--limit takes a number, not '%s'",
				               optarg);
			break;
		case 'a':
			add[nadd++] = optarg;
			break;
		case 'r':
			remove[nremove++] = optarg;
			break;
		case 's':
			segment = optarg;
			break;
		case ':':
			rc = cli_usage("contacts", "%s needs a value", argv[optind - 1]);
			break;
		default:
			rc = cli_unknown_option("contacts", longopts, argv[optind - 1]);
			break;
		}
		if (rc)
			goto out;
	}
	if (optind >= argc) {
		rc = cli_usage("contacts", "show ADDRESS, search TEXT, tag ADDRESS... or tags?");
		goto out;
	}
	const char *verb = argv[optind];
	bool show = strcmp(verb, "show") == 0, tag = strcmp(verb, "tag") == 0,
	     tags = strcmp(verb, "tags") == 0;
	if (!show && !tag && !tags && strcmp(verb, "search") != 0) {
		rc = cli_usage("contacts", "unknown subcommand '%s' (show, search, tag, tags)",
		               verb);
		goto out;
	}
	int nargs = argc - optind - 1;
	if (tag && (segment ? nargs != 0 : nargs < 1)) {
		rc =
		    cli_usage("contacts", segment ? "tag --segment NAME takes no addresses"
		                                  : "tag takes one or more addresses (or --segment "
		                                    "NAME)");
		goto out;
	}
	if (tag && nadd + nremove == 0) {
		rc = cli_usage("contacts", "tag needs --add TAG or --remove TAG");
		goto out;
	}
	if (!tag && (nadd || nremove || segment)) {
		rc = cli_usage("contacts", "--add, --remove and --segment go with tag");
		goto out;
	}
	if ((tags && nargs != 0) || ((show || (!tag && !tags)) && nargs != 1)) {
		rc = cli_usage("contacts",
		               tags ? "tags takes no arguments" : "%s takes one argument", verb);
		goto out;
	}
	struct store *s;
	if ((rc = cli_open(c, "contacts", false, &s)))
		goto out;
	const char *arg = argv[optind + 1];
	if (show) {
		rc = contacts_show(c, s, arg);
	} else if (tag) {
		rc = contacts_tag(c, s, argv + optind + 1, nargs, segment, add, nadd, remove,
		                  nremove);
	} else if (tags) {
		struct contacts_out o = {.c = c};
		rc = store_tag_each(s, tag_row, &o);
		if (rc < 0)
			rc = cli_error("contacts", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_rows_print(&o.json);
		else if (o.n == 0)
			printf("No tags yet: 'kirim contacts tag ADDRESS --add TAG' adds one.\n");
		buf_free(&o.json);
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
out:
	free(add);
	free(remove);
	return rc;
}
