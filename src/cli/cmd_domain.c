/* cmd_domain - `kirim domain set|list|show|unset|presets`: per-destination sending policies. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/address.h"
#include "kirim/policy.h"
#include "kirim/store.h"
#include "kirim/store_dest.h"
#include "kirim/store_policy.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

#define MX_MAX 32

/* domain_int - a whole number in [lo, hi] for option opt, or a usage error */
static int
domain_int(const char *opt, const char *arg, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		return cli_usage("domain", "%s takes a number from %ld to %ld, not '%s'", opt, lo,
		                 hi, arg);
	*out = (int)v;
	return 0;
}

/* domain_pattern - a pattern argument in normal form, or a data error */
static int
domain_pattern(const char *arg, char out[POLICY_PATTERN_MAX], enum policy_kind *kind)
{
	const char *why;
	if (policy_pattern_parse(arg, out, POLICY_PATTERN_MAX, kind, &why) < 0)
		return cli_error(
		    "domain", EX_DATAERR,
		    "'%s' is not a pattern (example.com, *.example.com, mx:example.com, "
		    "* or global): %s",
		    arg, why);
	return 0;
}

/* policy_value - field f of p as JSON (eff: p is an effective policy) */
static json_t *
policy_value(const struct policy *p, int f, bool eff)
{
	char v[THROTTLE_RATE_STR + POLICY_WARMUP_MAX + 32];
	if (!eff && !(p->set & POLICY_HAS(f)))
		return json_null();
	switch (f) {
	case POLICY_F_MAX_CONNECTIONS:
		return json_integer(p->max_connections);
	case POLICY_F_MAX_MSGS_PER_CONN:
		return json_integer(p->max_msgs_per_conn);
	case POLICY_F_RATE:
	case POLICY_F_CONNECT_RATE: {
		double r = f == POLICY_F_RATE ? p->rate : p->connect_rate;
		return json_pack("{s:o,s:o}", "per_second", cli_json_number(r, "%.6g"), "text",
		                 cli_json_text(throttle_rate_format(r, v, sizeof(v))));
	}
	case POLICY_F_TLS:
		return cli_json_text(policy_tls_name(p->tls));
	case POLICY_F_WARMUP: {
		if (p->warmup[0] == '\0')
			return json_null();
		json_t *w = json_pack("{s:o,s:I}", "plan", cli_json_text(p->warmup), "start_day",
		                      (json_int_t)p->warmup_start);
		if (eff) {
			long day = (long)(time(NULL) / 86400 - p->warmup_start);
			json_object_set_new(w, "day", json_integer(day));
			json_object_set_new(w, "today_cap",
			                    json_integer(throttle_warmup_cap(p->warmup, day)));
		}
		return w;
	}
	}
	return json_null();
}

/* policy_json - one record (or an effective policy with from) as a JSON object */
static json_t *
policy_json(const struct policy *p, const struct policy_effective *eff)
{
	enum policy_kind k = POLICY_KIND_EXACT;
	char norm[POLICY_PATTERN_MAX];
	json_t *o = json_object();
	json_object_set_new(o, eff ? "domain" : "pattern", cli_json_text(p->pattern));
	if (!eff && policy_pattern_parse(p->pattern, norm, sizeof(norm), &k, NULL) == 0)
		json_object_set_new(o, "kind", cli_json_text(policy_kind_name(k)));
	for (int f = 0; f < POLICY_NFIELDS; f++)
		json_object_set_new(o, policy_field_name((enum policy_field)f),
		                    policy_value(p, f, eff != NULL));
	if (eff) {
		json_t *from = json_object();
		for (int f = 0; f < POLICY_NFIELDS; f++)
			json_object_set_new(from, policy_field_name((enum policy_field)f),
			                    cli_json_opt(eff->from[f]));
		json_object_set_new(o, "from", from);
	} else {
		json_object_set_new(o, "source", cli_json_text(p->source));
		json_object_set_new(o, "updated_at",
		                    p->updated_at ? cli_json_time(p->updated_at) : json_null());
	}
	return o;
}

struct list_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

static int
list_row(void *arg, const struct policy *p)
{
	struct list_out *o = arg;
	if (o->json) {
		json_array_append_new(o->json, policy_json(p, NULL));
	} else {
		char v[POLICY_NFIELDS][THROTTLE_RATE_STR + POLICY_WARMUP_MAX + 32];
		for (int f = 0; f < POLICY_NFIELDS; f++)
			policy_field_format(p, (enum policy_field)f, v[f], sizeof(v[f]));
		if (p->set & POLICY_HAS(POLICY_F_WARMUP))
			snprintf(v[POLICY_F_WARMUP], sizeof(v[0]), "%s",
			         p->warmup[0] ? p->warmup : "none");
		if (o->n == 0)
			printf("%-22s %5s %11s %9s %11s %-13s %-16s %s\n", "PATTERN", "CONNS",
			       "RATE", "MSGS/CONN", "CONNECTS", "TLS", "WARM-UP", "SOURCE");
		printf("%-22s %5s %11s %9s %11s %-13s %-16s %s\n", p->pattern, v[0], v[1], v[2],
		       v[3], v[4], v[5], p->source);
	}
	o->n++;
	return 0;
}

static int
domain_list(struct cli *c, struct store *s)
{
	struct list_out o = {.json = c->json ? json_array() : NULL};
	int rc = store_policy_each(s, list_row, &o);
	if (rc < 0)
		rc = cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
	else if (c->json)
		cli_json_print(json_incref(o.json));
	else if (o.n == 0)
		printf("No policies: every destination gets the built-in defaults.\n"
		       "'kirim domain presets' installs the shipped ones.\n");
	else
		printf("\n'-' inherits from a less specific pattern; rates are messages (or new\n"
		       "connections) per unit; 'kirim domain show DOMAIN' merges them.\n");
	json_decref(o.json);
	return rc;
}

/* What senders last saw of the destinations a domain went to (the adaptive throttle). */
struct dest_show {
	json_t *json; /* --json: the destinations; NULL for text */
	int n;
};

static int
dest_show_one(void *arg, const struct store_dest_state *d)
{
	struct dest_show *o = arg;
	char rate[THROTTLE_RATE_STR], t[32], until[32] = "";
	throttle_rate_format(d->rate, rate, sizeof(rate));
	if (d->suspended_until > (int64_t)time(NULL))
		cli_time(until, d->suspended_until);
	if (o->json) {
		json_array_append_new(
		    o->json,
		    json_pack("{s:o,s:o,s:i,s:I,s:I,s:o,s:o,s:o,s:o}", "name",
		              cli_json_text(d->name), "rate", cli_json_text(rate), "connections",
		              d->connections, "slowdowns", (json_int_t)d->slowdowns, "suspensions",
		              (json_int_t)d->suspensions, "suspended_until", cli_json_opt(until),
		              "change", cli_json_opt(d->change), "note", cli_json_opt(d->note),
		              "updated_at", cli_json_time(d->updated_at)));
		return 0;
	}
	if (o->n++ == 0)
		printf("Adaptive throttle, as the last send saw it:\n");
	printf("  %s\n    rate now %s, %d connection%s, %lld slow-down%s, %lld suspension%s%s%s\n",
	       d->name, rate, d->connections, d->connections == 1 ? "" : "s",
	       (long long)d->slowdowns, d->slowdowns == 1 ? "" : "s", (long long)d->suspensions,
	       d->suspensions == 1 ? "" : "s", until[0] ? ", suspended until " : "", until);
	if (d->change[0])
		printf("    last change (%s, %s): %s\n", d->change, cli_time(t, d->updated_at),
		       d->note);
	return 0;
}

static int
domain_show(struct cli *c, struct store *s, const char *arg, char **mx, size_t nmx)
{
	char dom[POLICY_PATTERN_MAX];
	const char *why;
	const char *d = arg[0] == '@' ? arg + 1 : arg;
	if (address_parse_domain(d, strlen(d), dom, sizeof(dom), &why) < 0)
		return cli_error("domain", EX_DATAERR, "'%s' is not a domain: %s", arg, why);
	struct policy *rows = NULL;
	size_t n = 0;
	int rc = store_policy_load_all(s, &rows, &n);
	if (rc < 0)
		return cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
	struct policy_effective eff;
	policy_resolve(rows, n, dom, (const char *const *)mx, nmx, &eff);
	if (c->json) {
		json_t *o = policy_json(&eff.p, &eff), *mxs = json_array(), *matched = json_array();
		for (size_t i = 0; i < nmx; i++)
			json_array_append_new(mxs, cli_json_text(mx[i]));
		for (size_t i = 0; i < n; i++)
			if (policy_matches(&rows[i], dom, (const char *const *)mx, nmx))
				json_array_append_new(matched, cli_json_text(rows[i].pattern));
		json_object_set_new(o, "mx", mxs);
		json_object_set_new(o, "matched", matched);
		struct dest_show ds = {json_array(), 0};
		json_object_set_new(o, "destinations", ds.json);
		if ((rc = store_dest_each(s, dom, dest_show_one, &ds)) < 0) {
			json_decref(o);
			free(rows);
			return cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
		}
		cli_json_print(o);
	} else {
		char disp[300];
		address_domain_display(dom, disp, sizeof(disp));
		printf("Policy for %s", disp);
		if (nmx) {
			printf(" (MX");
			for (size_t i = 0; i < nmx; i++)
				printf(" %s", mx[i]);
			printf(")");
		}
		printf(":\n");
		for (int f = 0; f < POLICY_NFIELDS; f++) {
			char v[THROTTLE_RATE_STR + POLICY_WARMUP_MAX + 32];
			struct policy one = eff.p;
			one.set = POLICY_HAS(f);
			policy_field_format(&one, (enum policy_field)f, v, sizeof(v));
			printf("  %-18s %-30s %s%s\n", policy_field_name((enum policy_field)f), v,
			       eff.from[f][0] ? "from " : "",
			       eff.from[f][0] ? eff.from[f] : "built-in");
		}
		if (eff.p.warmup[0]) {
			long day = (long)(time(NULL) / 86400 - eff.p.warmup_start);
			long cap = throttle_warmup_cap(eff.p.warmup, day);
			if (cap >= 0)
				printf("  warm-up day %ld: at most %ld messages today\n", day + 1,
				       cap);
			else
				printf("  warm-up finished (day %ld): no daily cap\n", day + 1);
		}
		if (nmx == 0)
			printf("(mx: patterns were not tried: give --mx HOST to simulate them.)\n");
		struct dest_show ds = {NULL, 0};
		if ((rc = store_dest_each(s, dom, dest_show_one, &ds)) < 0) {
			free(rows);
			return cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
		}
	}
	free(rows);
	return 0;
}

/* domain_presets - install the shipped presets and print them */
static int
domain_presets(struct cli *c, struct store *s, bool reset)
{
	int added = 0;
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_policy_presets(s, reset, &added);
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		store_rollback(s);
		return cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
	}
	json_t *presets = c->json ? json_array() : NULL;
	if (!c->json)
		printf("%-18s %5s %9s %9s %9s  %s\n", "PATTERN", "CONNS", "RATE", "MSGS/CONN",
		       "CONNECTS", "WHY");
	for (size_t i = 0; i < policy_preset_count(); i++) {
		struct policy p;
		const char *why;
		policy_preset(i, &p, &why);
		if (presets) {
			json_t *o = policy_json(&p, NULL);
			json_object_set_new(o, "why", cli_json_text(why));
			json_array_append_new(presets, o);
			continue;
		}
		char v[4][THROTTLE_RATE_STR];
		for (int f = 0; f < 4; f++)
			policy_field_format(&p, (enum policy_field)f, v[f], sizeof(v[f]));
		printf("%-18s %5s %9s %9s %9s  %s\n", p.pattern, v[0], v[1], v[2], v[3], why);
	}
	if (presets) {
		cli_json_print(json_pack("{s:i,s:o}", "written", added, "presets", presets));
	} else {
		printf("\n%d preset%s written%s. Change them with 'kirim domain set'.\n", added,
		       added == 1 ? "" : "s",
		       reset ? " (shipped values restored)" : "; existing records were kept");
	}
	return 0;
}

int
cmd_domain(struct cli *c, int argc, char **argv)
{
	enum {
		O_CONNS = 256,
		O_RATE,
		O_PERCONN,
		O_CONNRATE,
		O_TLS,
		O_WARMUP,
		O_MX,
		O_FIELD,
		O_RESET,
	};
	static const struct option longopts[] = {
	    {"max-connections", required_argument, NULL, O_CONNS},
	    {"rate", required_argument, NULL, O_RATE},
	    {"max-msgs-per-conn", required_argument, NULL, O_PERCONN},
	    {"connect-rate", required_argument, NULL, O_CONNRATE},
	    {"tls", required_argument, NULL, O_TLS},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"mx", required_argument, NULL, O_MX},
	    {"field", required_argument, NULL, O_FIELD},
	    {"reset", no_argument, NULL, O_RESET},
	    {NULL, 0, NULL, 0},
	};
	struct policy p;
	memset(&p, 0, sizeof(p));
	char *mx[MX_MAX];
	size_t nmx = 0;
	unsigned fields = 0;
	bool reset = false, any_mx = false;
	int ch, rc;
	const char *why;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case O_CONNS:
			if ((rc = domain_int("--max-connections", optarg, 1, POLICY_CONNECTIONS_MAX,
			                     &p.max_connections)))
				return rc;
			p.set |= POLICY_HAS(POLICY_F_MAX_CONNECTIONS);
			break;
		case O_PERCONN:
			if ((rc = domain_int("--max-msgs-per-conn", optarg, 0,
			                     POLICY_MSGS_PER_CONN_MAX, &p.max_msgs_per_conn)))
				return rc;
			p.set |= POLICY_HAS(POLICY_F_MAX_MSGS_PER_CONN);
			break;
		case O_RATE:
		case O_CONNRATE:
			if (throttle_rate_parse(optarg, ch == O_RATE ? &p.rate : &p.connect_rate,
			                        &why) < 0)
				return cli_usage("domain", "%s '%s': %s",
				                 ch == O_RATE ? "--rate" : "--connect-rate", optarg,
				                 why);
			p.set |= POLICY_HAS(ch == O_RATE ? POLICY_F_RATE : POLICY_F_CONNECT_RATE);
			break;
		case O_TLS:
			if (policy_tls_parse(optarg, &p.tls) < 0)
				return cli_usage(
				    "domain",
				    "--tls takes none, opportunistic, required or verify, "
				    "not '%s'",
				    optarg);
			p.set |= POLICY_HAS(POLICY_F_TLS);
			break;
		case O_WARMUP:
			if (strcmp(optarg, "none") != 0) {
				long caps[THROTTLE_WARMUP_DAYS];
				if (throttle_warmup_expand(optarg, caps, THROTTLE_WARMUP_DAYS,
				                           &why) < 0)
					return cli_usage("domain", "--warmup '%s': %s", optarg,
					                 why);
				if (strlen(optarg) >= sizeof(p.warmup))
					return cli_usage("domain", "--warmup: plan too long");
				snprintf(p.warmup, sizeof(p.warmup), "%s", optarg);
				p.warmup_start = (int64_t)(time(NULL) / 86400);
			}
			p.set |= POLICY_HAS(POLICY_F_WARMUP);
			break;
		case O_MX:
			any_mx = true;
			for (char *tok = strtok(optarg, ", "); tok; tok = strtok(NULL, ", ")) {
				if (nmx == MX_MAX)
					return cli_usage("domain", "at most %d --mx hosts", MX_MAX);
				mx[nmx++] = tok;
			}
			break;
		case O_FIELD:
			for (char *tok = strtok(optarg, ", "); tok; tok = strtok(NULL, ", ")) {
				int f = policy_field_parse(tok);
				if (f < 0)
					return cli_usage(
					    "domain",
					    "--field takes max-connections, rate, "
					    "max-msgs-per-conn, connect-rate, tls or warmup, "
					    "not '%s'",
					    tok);
				fields |= POLICY_HAS(f);
			}
			break;
		case O_RESET:
			reset = true;
			break;
		case ':':
			return cli_usage("domain", "%s needs a value", argv[optind - 1]);
		default:
			return cli_usage("domain", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("domain", "set, list, show, unset or presets?");
	const char *verb = argv[optind++];
	int nargs = argc - optind;
	bool set = strcmp(verb, "set") == 0, list = strcmp(verb, "list") == 0;
	bool show = strcmp(verb, "show") == 0, unset = strcmp(verb, "unset") == 0;
	bool presets = strcmp(verb, "presets") == 0;
	if (!set && !list && !show && !unset && !presets)
		return cli_usage("domain",
		                 "unknown subcommand '%s' (set, list, show, unset, presets)", verb);
	if (p.set && !set)
		return cli_usage("domain", "policy options go with 'domain set'");
	if (any_mx && !show)
		return cli_usage("domain", "--mx goes with 'domain show'");
	if (fields && !unset)
		return cli_usage("domain", "--field goes with 'domain unset'");
	if (reset && !presets)
		return cli_usage("domain", "--reset goes with 'domain presets'");
	if ((list || presets) && nargs != 0)
		return cli_usage("domain", "%s takes no arguments", verb);
	if ((set || show || unset) && nargs != 1)
		return cli_usage("domain", "%s takes one %s", verb, show ? "domain" : "pattern");
	if (set && p.set == 0)
		return cli_usage("domain",
		                 "set what? Give --max-connections, --rate, "
		                 "--max-msgs-per-conn, --connect-rate, --tls or --warmup");

	char pat[POLICY_PATTERN_MAX];
	enum policy_kind kind = POLICY_KIND_EXACT;
	if ((set || unset) && (rc = domain_pattern(argv[optind], pat, &kind)))
		return rc;

	struct store *s;
	if ((rc = cli_open(c, "domain", set || presets, &s)))
		return rc;
	if (!presets) {
		/* The shipped presets go in the first time anyone looks at policies. */
		int added;
		rc = store_begin(s);
		if (rc == 0)
			rc = store_policy_seed(s, &added);
		if (rc == 0)
			rc = store_commit(s);
		if (rc < 0) {
			store_rollback(s);
			rc = cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
			goto out;
		}
		if (added && !c->json && !c->quiet)
			fprintf(stderr,
			        "kirim domain: installed %d shipped presets (see 'kirim domain "
			        "presets')\n",
			        added);
	}
	if (list) {
		rc = domain_list(c, s);
	} else if (show) {
		rc = domain_show(c, s, argv[optind], mx, nmx);
	} else if (presets) {
		rc = domain_presets(c, s, reset);
	} else if (set) {
		snprintf(p.pattern, sizeof(p.pattern), "%s", pat);
		struct policy now;
		rc = store_begin(s);
		if (rc == 0)
			rc = store_policy_set(s, &p, "user");
		if (rc == 0)
			rc = store_policy_get(s, pat, &now);
		if (rc == 0)
			rc = store_commit(s);
		if (rc < 0) {
			store_rollback(s);
			rc = cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
			goto out;
		}
		if (c->json) {
			cli_json_print(policy_json(&now, NULL));
		} else {
			printf("Policy for %s (%s):", pat, policy_kind_name(kind));
			for (int f = 0; f < POLICY_NFIELDS; f++) {
				char v[THROTTLE_RATE_STR + POLICY_WARMUP_MAX + 32];
				if (!(now.set & POLICY_HAS(f)))
					continue;
				policy_field_format(&now, (enum policy_field)f, v, sizeof(v));
				printf(" %s=%s", policy_field_name((enum policy_field)f), v);
			}
			printf("\n");
		}
	} else {
		rc = store_begin(s);
		if (rc == 0)
			rc = fields ? store_policy_unset(s, pat, fields)
			            : store_policy_delete(s, pat);
		bool missing = rc == STORE_E_NOTFOUND;
		if (missing)
			rc = 0;
		if (rc == 0)
			rc = store_commit(s);
		if (rc < 0) {
			store_rollback(s);
			rc = cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
			goto out;
		}
		if (c->json)
			cli_json_print(json_pack("{s:o,s:b}", "pattern", cli_json_text(pat),
			                         "removed", !missing));
		else if (missing)
			printf("%s had no policy\n", pat);
		else if (fields)
			printf("Unset the chosen fields of %s: they inherit again\n", pat);
		else
			printf("Removed the policy for %s\n", pat);
	}
out:
	store_close(s);
	return rc;
}
