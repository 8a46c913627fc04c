/* cmd_segment - `kirim segment add|list|show|count|remove` over app/audience.c, and
 * `index|unindex|indexes` over store_segment_index. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"

/* exit_for - the exit status of an audience_* error */
static int
exit_for(int rc)
{
	switch (rc) {
	case AUDIENCE_E_USAGE:
	case AUDIENCE_E_DATA:
	case AUDIENCE_E_BUSY:
	case STORE_E_EXISTS:
		return EX_DATAERR;
	default:
		return cli_exit_for_store(rc);
	}
}

/* A sample of a segment's addresses. */
struct sample {
	json_t *json;
	int n;
};

static void
sample_row(void *arg, int64_t id, const char *email)
{
	struct sample *x = arg;
	(void)id;
	if (x->json)
		json_array_append_new(x->json, cli_json_text(email));
	else
		printf("%s%s", x->n++ ? ", " : "sample:    ", email);
}

static void
plan_row(void *arg, int depth, const char *detail)
{
	json_t *rows = arg;
	if (rows) {
		json_array_append_new(
		    rows, json_pack("{s:i,s:o}", "depth", depth, "detail", cli_json_text(detail)));
		return;
	}
	printf("  %*s%s\n", depth * 3, "", detail);
}

/* segment_count - count expr (or the segment called name) now, and say how long it took */
static int
segment_count(struct cli *c, struct store *s, const char *expr, bool plan)
{
	char err[1024], n1[32], n2[32];
	struct segment_node *t;
	int rc = audience_parse(s, expr, &t, err, sizeof(err));
	if (rc < 0)
		return cli_error("segment", exit_for(rc), "%s", err);
	int64_t count = 0, suppressed = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_segment_count(s, t, (int64_t)time(NULL), &count, plan ? NULL : &suppressed);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	json_t *rows = c->json && plan ? json_array() : NULL;
	if (rc == 0 && plan && !c->json)
		printf("query plan:\n");
	if (rc == 0 && plan)
		rc = store_segment_plan(s, t, (int64_t)time(NULL), plan_row, rows);
	if (rc < 0) {
		json_decref(rows);
		segment_free(t);
		return cli_error("segment", exit_for(rc), "%s", store_errmsg(s));
	}
	struct buf canon = BUF_INIT;
	segment_print(t, &canon);
	if (c->json) {
		json_t *o =
		    json_pack("{s:o,s:I,s:o}", "expression", cli_json_text(canon.data), "contacts",
		              (json_int_t)count, "seconds", cli_json_number(secs, "%.3f"));
		if (plan)
			json_object_set_new(o, "plan", rows);
		else
			json_object_set_new(o, "suppressed", json_integer(suppressed));
		cli_json_print(o);
	} else if (plan) {
		printf("%s contacts in %.3f s\n", cli_num(n1, (uint64_t)count), secs);
	} else {
		printf("%s contacts (%s of them suppressed)\n", cli_num(n1, (uint64_t)count),
		       cli_num(n2, (uint64_t)suppressed));
	}
	buf_free(&canon);
	segment_free(t);
	return 0;
}

static int
segment_show(struct cli *c, struct store *s, const char *name, int limit)
{
	struct store_segment seg;
	char err[1024], n1[32], n2[32], when[32];
	int rc = store_segment_get(s, name, &seg);
	if (rc < 0)
		return cli_error("segment", cli_exit_for_store(rc), "%s", store_errmsg(s));
	struct segment_node *t = NULL;
	int64_t count = 0, suppressed = 0, now = (int64_t)time(NULL);
	/* A stored segment can fail now: a list or campaign it names is gone. */
	if ((rc = audience_parse(s, seg.expr, &t, err, sizeof(err))) == 0 &&
	    (rc = store_segment_count(s, t, now, &count, &suppressed)) < 0)
		snprintf(err, sizeof(err), "%s", store_errmsg(s));
	if (rc < 0) {
		rc = cli_error("segment", exit_for(rc), "segment '%s' (%s): %s", name, seg.expr,
		               err);
		goto out;
	}
	struct sample x = {.json = c->json ? json_array() : NULL};
	if (c->json) {
		if ((rc = store_segment_contacts(s, t, now, limit, sample_row, &x)) == 0)
			cli_json_print(json_pack(
			    "{s:o,s:o,s:o,s:I,s:I,s:o,s:o,s:o}", "name", cli_json_text(seg.name),
			    "expression", cli_json_text(seg.expr), "json", segment_to_json(t),
			    "contacts", (json_int_t)count, "suppressed", (json_int_t)suppressed,
			    "sample", x.json, "created_at", cli_json_time(seg.created_at),
			    "updated_at", cli_json_time(seg.updated_at)));
		else
			json_decref(x.json);
	} else {
		json_t *j = segment_to_json(t);
		char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		printf("segment:   %s\nexpression: %s\njson:      %s\ncontacts:  %s (%s of them "
		       "suppressed)\nupdated:   %s UTC\n",
		       seg.name, seg.expr, js, cli_num(n1, (uint64_t)count),
		       cli_num(n2, (uint64_t)suppressed), cli_time(when, seg.updated_at));
		free(js);
		if (limit != 0 && count) {
			rc = store_segment_contacts(s, t, now, limit, sample_row, &x);
			printf("%s\n", count > limit ? ", ..." : "");
		}
	}
	if (rc < 0)
		rc = cli_error("segment", cli_exit_for_store(rc), "%s", store_errmsg(s));
out:
	segment_free(t);
	store_segment_clear(&seg);
	return rc;
}

struct list_out {
	struct cli *c;
	json_t *json;
	int n;
};

static int
list_row(void *arg, const struct store_segment *seg)
{
	struct list_out *o = arg;
	char when[32];
	if (o->json) {
		json_array_append_new(o->json,
		                      json_pack("{s:o,s:o,s:o}", "name", cli_json_text(seg->name),
		                                "expression", cli_json_text(seg->expr),
		                                "updated_at", cli_json_time(seg->updated_at)));
	} else {
		if (o->n == 0)
			printf("%-24s %-19s  %s\n", "SEGMENT", "UPDATED (UTC)", "EXPRESSION");
		printf("%-24s %-19s  %s\n", seg->name, cli_time(when, seg->updated_at), seg->expr);
	}
	o->n++;
	return 0;
}

static int
index_row(void *arg, const char *name)
{
	json_t *rows = arg;
	if (rows)
		json_array_append_new(rows, cli_json_text(name));
	else
		printf("%s\n", name);
	return 0;
}

/* segment_index - `index ATTR`, `unindex ATTR` or `indexes` (attr NULL) */
static int
segment_index(struct cli *c, struct store *s, const char *verb, const char *attr)
{
	if (attr == NULL) {
		json_t *rows = c->json ? json_array() : NULL;
		int rc = store_segment_indexes(s, index_row, rows);
		if (rc < 0)
			rc = cli_error("segment", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (rows)
			cli_json_print(json_incref(rows));
		json_decref(rows);
		return rc;
	}
	bool on = strcmp(verb, "index") == 0, changed = false;
	int rc = store_segment_index(s, attr, on, &changed);
	if (rc < 0)
		return cli_error("segment", rc == STORE_E_INVALID ? EX_DATAERR : exit_for(rc), "%s",
		                 store_errmsg(s));
	if (c->json)
		cli_json_print(json_pack("{s:o,s:b,s:b}", "attribute", cli_json_text(attr),
		                         "indexed", on, "changed", changed));
	else if (!changed)
		printf("Attribute '%s' %s.\n", attr, on ? "is already indexed" : "has no index");
	else
		printf("%s attribute '%s'.\n", on ? "Indexed" : "Dropped the index of", attr);
	return 0;
}

int
cmd_segment(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"replace", no_argument, NULL, 'r'},
	    {"limit", required_argument, NULL, 'n'},
	    {"plan", no_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	bool replace = false, plan = false;
	int limit = 10, ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":rn:", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'r':
			replace = true;
			break;
		case 'p':
			plan = true;
			break;
		case 'n':
			limit = (int)strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return cli_usage("segment", "--limit takes a number, not '%s'",
				                 optarg);
			break;
		case ':':
			return cli_usage("segment", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("segment", longopts, argv[optind - 1]);
		}
	}
	const char *verb = optind < argc ? argv[optind++] : "list";
	int nargs = argc - optind;
	static const struct {
		const char *verb;
		int nargs;
		const char *usage;
	} verbs[] = {
	    {"add", 2, "add NAME EXPRESSION"},
	    {"list", 0, "list"},
	    {"show", 1, "show NAME"},
	    {"count", 1, "count EXPRESSION"},
	    {"remove", 1, "remove NAME"},
	    {"index", 1, "index ATTRIBUTE"},
	    {"unindex", 1, "unindex ATTRIBUTE"},
	    {"indexes", 0, "indexes"},
	};
	size_t v = 0;
	while (v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v].verb, verb) != 0)
		v++;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return cli_usage("segment",
		                 "unknown subcommand '%s' (add, list, show, count, remove, index, "
		                 "unindex, indexes)",
		                 verb);
	if (nargs != verbs[v].nargs)
		return cli_usage("segment", "usage: kirim segment %s", verbs[v].usage);
	struct store *s;
	/* Attribute indexes and --plan (SQLite's query plans) are SQLite's only. */
	bool sqlite_only = strncmp(verb, "index", 5) == 0 || strcmp(verb, "unindex") == 0 || plan;
	int rc = (sqlite_only ? cli_open : cli_open_any)(c, "segment", false, &s);
	if (rc)
		return rc;
	char err[1024];
	if (strcmp(verb, "add") == 0) {
		bool created = false;
		char *canon = NULL;
		rc = audience_segment_add(s, argv[optind], argv[optind + 1], replace, &created,
		                          &canon, err, sizeof(err));
		if (rc < 0)
			rc = cli_error("segment", exit_for(rc), "%s", err);
		else if (c->json)
			cli_json_print(json_pack("{s:o,s:o,s:b}", "name",
			                         cli_json_text(argv[optind]), "expression",
			                         cli_json_text(canon), "created", created));
		else
			printf("%s segment '%s': %s\nCount it with: kirim segment show %s\n",
			       created ? "Added" : "Replaced", argv[optind], canon, argv[optind]);
		free(canon);
	} else if (strcmp(verb, "list") == 0) {
		struct list_out o = {.c = c, .json = c->json ? json_array() : NULL};
		rc = store_segment_each(s, list_row, &o);
		if (rc < 0)
			rc = cli_error("segment", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_incref(o.json));
		else if (o.n == 0)
			printf("No segments yet: 'kirim segment add NAME EXPRESSION' makes one "
			       "(docs/segments.md).\n");
		json_decref(o.json);
	} else if (strcmp(verb, "show") == 0) {
		rc = segment_show(c, s, argv[optind], limit);
	} else if (strcmp(verb, "count") == 0) {
		rc = segment_count(c, s, argv[optind], plan);
	} else if (strncmp(verb, "index", 5) == 0 || strcmp(verb, "unindex") == 0) {
		rc = segment_index(c, s, verb, nargs ? argv[optind] : NULL);
	} else {
		rc = audience_segment_remove(s, argv[optind], err, sizeof(err));
		if (rc < 0)
			rc = cli_error("segment", exit_for(rc), "%s", err);
		else if (c->json)
			cli_json_print(json_pack("{s:o,s:b}", "name", cli_json_text(argv[optind]),
			                         "removed", 1));
		else
			printf("Removed segment '%s'.\n", argv[optind]);
	}
	store_close(s);
	return rc;
}
