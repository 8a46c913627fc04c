/* cmd_contacts - `kirim contacts show ADDRESS`, `search TEXT`, `set`, `tag ADDRESS...`, `tags`,
 * `export` and `delete`. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kirim/address.h"
#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/clock.h"
#include "kirim/contacts.h"
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

struct export_out {
	FILE *f;
	double start, last;
	bool tty, drawn;
};

static int
export_write(void *arg, const char *data, size_t n)
{
	struct export_out *x = arg;
	return fwrite(data, 1, n, x->f) == n ? 0 : CONTACTS_E_WRITE;
}

/* export_progress - the bar on stderr, at most ten times a second */
static void
export_progress(void *arg, int64_t rows, int64_t total)
{
	struct export_out *x = arg;
	double t = clock_seconds();
	if (!x->tty || (rows < total && t - x->last < 0.1))
		return;
	x->last = t;
	x->drawn = true;
	double frac = total > 0 ? (double)rows / (double)total : 1;
	if (frac > 1)
		frac = 1;
	int fill = (int)(frac * 30);
	char bar[31], n1[32], n2[32];
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3d%%  %s of %s contacts ", bar, (int)(frac * 100),
	        cli_num(n1, (uint64_t)rows), cli_num(n2, (uint64_t)total));
	fflush(stderr);
}

/* contacts_export_cmd - `kirim contacts export [--list L] [--segment S | --where EXPR]
 * [--columns A,B] [--no-formula-guard] [-o FILE]` */
static int
contacts_export_cmd(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"list", required_argument, NULL, 'l'},
	    {"segment", required_argument, NULL, 's'},
	    {"where", required_argument, NULL, 'w'},
	    {"columns", required_argument, NULL, 'c'},
	    {"output", required_argument, NULL, 'o'},
	    {"no-formula-guard", no_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	struct contacts_export_opts o = {0};
	const char *out = NULL, *columns = NULL;
	int ch;
	opterr = 0;
	optind = 0; /* glibc: a fresh scan of this argv */
	while ((ch = getopt_long(argc, argv, ":l:s:w:c:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o.list = optarg;
			break;
		case 's':
			o.segment = optarg;
			break;
		case 'w':
			o.where = optarg;
			break;
		case 'c':
			columns = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'R':
			o.raw = true;
			break;
		case ':':
			return cli_usage("contacts", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("contacts", longopts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage("contacts", "export takes no arguments (got '%s')", argv[optind]);
	if (o.segment && o.where)
		return cli_usage("contacts", "--segment or --where, not both");
	/* --columns a,b,c: names split on ',' (an attribute name with a comma cannot be chosen). */
	char *cols = NULL;
	const char **names = NULL;
	if (columns) {
		cols = xstrdup(columns);
		names = xcalloc(strlen(cols) + 1, sizeof(char *));
		for (char *p = cols, *e;; p = e + 1) {
			e = strchr(p, ',');
			if (e)
				*e = '\0';
			names[o.ncolumns++] = p;
			if (!e)
				break;
		}
		o.columns = names;
	}
	struct store *s;
	int rc = cli_open_any(c, "contacts", false, &s);
	if (rc)
		goto done;
	struct export_out x = {.f = stdout, .start = clock_seconds()};
	if (out && strcmp(out, "-") != 0 && (x.f = fopen(out, "w")) == NULL) {
		rc = cli_error("contacts", EX_CANTCREAT, "cannot write %s: %s", out,
		               strerror(errno));
		store_close(s);
		goto done;
	}
	/* The bar goes to a terminal only, and never when the file is the terminal. */
	x.tty = !c->quiet && isatty(STDERR_FILENO) && x.f != stdout;
	o.write = export_write;
	o.progress = x.tty ? export_progress : NULL;
	o.arg = &x;
	char err[1024];
	int64_t rows = 0;
	rc = contacts_export(s, &o, (int64_t)time(NULL), &rows, err, sizeof(err));
	store_close(s);
	if (x.drawn)
		fputc('\n', stderr);
	bool closed = x.f == stdout ? fflush(stdout) == 0 : fclose(x.f) == 0;
	if (rc == CONTACTS_E_WRITE || (rc == 0 && !closed)) {
		rc = cli_error("contacts", EX_IOERR, "cannot write %s: %s",
		               out ? out : "the output", strerror(errno));
	} else if (rc < 0) {
		rc = cli_error("contacts",
		               rc == AUDIENCE_E_USAGE  ? EX_USAGE
		               : rc == AUDIENCE_E_DATA ? EX_DATAERR
		                                       : cli_exit_for_store(rc),
		               "%s", err);
	} else if (out && strcmp(out, "-") != 0 && !c->quiet) {
		char n1[32];
		fprintf(stderr, "Exported %s contact%s to %s.\n", cli_num(n1, (uint64_t)rows),
		        rows == 1 ? "" : "s", out);
	}
	/* A half-written file is not left behind; a device or a pipe given as -o stays. */
	struct stat sb;
	if (rc && out && strcmp(out, "-") != 0 && lstat(out, &sb) == 0 && S_ISREG(sb.st_mode))
		unlink(out);
done:
	free(names);
	free(cols);
	return rc;
}

/* contacts_delete_cmd - `kirim contacts delete ADDRESS... [--erase]` */
static int
contacts_delete_cmd(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"erase", no_argument, NULL, 'E'},
	    {NULL, 0, NULL, 0},
	};
	bool erase = false;
	int ch;
	opterr = 0;
	optind = 0; /* glibc: a fresh scan of this argv */
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (ch == 'E')
			erase = true;
		else
			return cli_unknown_option("contacts", longopts, argv[optind - 1]);
	}
	if (optind >= argc)
		return cli_usage("contacts", "delete takes one or more addresses");
	struct store *s;
	int rc = cli_open(c, "contacts", false, &s);
	if (rc)
		return rc;
	char err[1024];
	struct contacts_deleted d;
	rc = contacts_delete(s, (const char *const *)argv + optind, (size_t)(argc - optind), erase,
	                     &d, err, sizeof(err));
	store_close(s);
	if (rc < 0)
		return cli_error("contacts",
		                 rc == CONTACTS_E_ADDRESS ? EX_DATAERR
		                 : rc == STORE_E_NOTFOUND ? EX_NOINPUT
		                                          : cli_exit_for_store(rc),
		                 "%s\nNothing was deleted.", err);
	char n1[32], n2[32], n3[32];
	if (c->json)
		cli_json_print(json_pack("{s:I,s:b,s:I,s:I}", "contacts", (json_int_t)d.contacts,
		                         "erased", erase, "messages", (json_int_t)d.messages,
		                         "cancelled", (json_int_t)d.cancelled));
	else if (erase)
		printf("Erased %s contact%s: %s message%s kept for reports without the address or "
		       "its details (%s queued ones cancelled); the address is kept only as a "
		       "hash, so it is never imported or mailed again.\n",
		       cli_num(n1, (uint64_t)d.contacts), d.contacts == 1 ? "" : "s",
		       cli_num(n2, (uint64_t)d.messages), d.messages == 1 ? "" : "s",
		       cli_num(n3, (uint64_t)d.cancelled));
	else
		printf("Deleted %s contact%s (attributes, tags, lists); %s message%s stay in the "
		       "history (%s queued ones cancelled).\n",
		       cli_num(n1, (uint64_t)d.contacts), d.contacts == 1 ? "" : "s",
		       cli_num(n2, (uint64_t)d.messages), d.messages == 1 ? "" : "s",
		       cli_num(n3, (uint64_t)d.cancelled));
	return 0;
}

/* contacts_set_cmd - `kirim contacts set ADDRESS key=value... [key=]` */
static int
contacts_set_cmd(struct cli *c, struct store *s, const char *address, char **pairs, int n)
{
	char err[1024];
	bool changed = false;
	int rc = contacts_set(s, address, (const char *const *)pairs, (size_t)n, &changed, err,
	                      sizeof(err));
	if (rc < 0)
		return cli_error("contacts",
		                 rc == CONTACTS_E_ADDRESS || rc == CONTACTS_E_KEY ? EX_DATAERR
		                 : rc == STORE_E_NOTFOUND                         ? EX_NOINPUT
		                                          : cli_exit_for_store(rc),
		                 "%s", err);
	if (c->json)
		cli_json_print(json_pack("{s:s,s:b}", "email", address, "changed", changed));
	else
		printf("%s: %s.\n", address, changed ? "attributes changed" : "no change");
	return 0;
}

int
cmd_contacts(struct cli *c, int argc, char **argv)
{
	/* Subcommands with options of their own. */
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return contacts_export_cmd(c, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "delete") == 0)
		return contacts_delete_cmd(c, argc - 1, argv + 1);
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
	     tags = strcmp(verb, "tags") == 0, set = strcmp(verb, "set") == 0;
	if (!show && !tag && !tags && !set && strcmp(verb, "search") != 0) {
		rc = cli_usage("contacts",
		               "unknown subcommand '%s' (show, search, set, tag, tags, export, "
		               "delete)",
		               verb);
		goto out;
	}
	int nargs = argc - optind - 1;
	if (set && (nargs < 2 || list || segment || nadd || nremove)) {
		rc = cli_usage("contacts", "set takes an address and one or more key=value");
		goto out;
	}
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
	if ((tags && nargs != 0) || ((show || (!tag && !tags && !set)) && nargs != 1)) {
		rc = cli_usage("contacts",
		               tags ? "tags takes no arguments" : "%s takes one argument", verb);
		goto out;
	}
	struct store *s;
	if ((rc = cli_open_any(c, "contacts", false, &s)))
		goto out;
	const char *arg = argv[optind + 1];
	if (show) {
		rc = contacts_show(c, s, arg);
	} else if (set) {
		rc = contacts_set_cmd(c, s, arg, argv + optind + 2, nargs - 1);
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
