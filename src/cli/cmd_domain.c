/* cmd_domain - `kirim domain set|list|show|unset|presets`: per-destination sending policies. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/address.h"
#include "kirim/policies.h"
#include "kirim/policy.h"
#include "kirim/store.h"
#include "kirim/store_dest.h"
#include "kirim/throttle.h"

#define MX_MAX 32
#define VALUE_MAX (THROTTLE_RATE_STR + POLICY_WARMUP_MAX + 32) /* one field as text */

/* domain_fail - an exit code for rc from a policies_* call, after saying err */
static int
domain_fail(int rc, const char *err)
{
	if (rc == POLICIES_E_USAGE)
		return cli_usage("domain", "%s", err);
	return cli_error("domain", rc == POLICIES_E_DATA ? EX_DATAERR : cli_exit_for_store(rc),
	                 "%s", err);
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
		json_array_append_new(o->json, policies_json(p, NULL));
	} else {
		char v[POLICY_NFIELDS][VALUE_MAX];
		for (int f = 0; f < POLICY_NFIELDS; f++)
			policy_field_format(p, (enum policy_field)f, v[f], sizeof(v[f]));
		if (p->set & POLICY_HAS(POLICY_F_WARMUP))
			snprintf(v[POLICY_F_WARMUP], sizeof(v[0]), "%s",
			         p->warmup[0] ? p->warmup : "none");
		if (o->n == 0)
			printf("%-22s %5s %11s %9s %11s %-13s %-16s %-10s %s\n", "PATTERN", "CONNS",
			       "RATE", "MSGS/CONN", "CONNECTS", "TLS", "WARM-UP", "EGRESS",
			       "SOURCE");
		printf("%-22s %5s %11s %9s %11s %-13s %-16s %-10s %s\n", p->pattern, v[0], v[1],
		       v[2], v[3], v[4], v[5], v[6], p->source);
	}
	o->n++;
	return 0;
}

/* seeded - tell a person that the shipped presets went in just now */
static void
seeded(struct cli *c, int added)
{
	if (added && !c->json && !c->quiet)
		fprintf(stderr,
		        "kirim domain: installed %d shipped presets (see 'kirim domain presets')\n",
		        added);
}

static int
domain_list(struct cli *c, struct store *s)
{
	struct list_out o = {.json = c->json ? json_array() : NULL};
	char err[512];
	int added, rc = policies_list(s, list_row, &o, &added, err, sizeof(err));
	seeded(c, added);
	if (rc < 0)
		rc = domain_fail(rc, err);
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

/* field_line - one field of an effective policy, with the pattern it came from */
static void
field_line(const struct policy_effective *e, enum policy_field f)
{
	char text[VALUE_MAX];
	struct policy one = e->p;
	one.set = POLICY_HAS(f);
	policy_field_format(&one, f, text, sizeof(text));
	printf("  %-18s %-30s %s%s\n", policy_field_name(f), text, e->from[f][0] ? "from " : "",
	       e->from[f][0] ? e->from[f] : "built-in");
}

/* relay_text - which of the limits apply when the domain's mail goes through a relay */
static void
relay_text(const struct policies_view *v)
{
	char rate[THROTTLE_RATE_STR];
	printf("Through a relay (send --relay, or [relay] url in kirim.conf):\n");
	if (v->relay_own[0]) {
		printf("  its own queue relay|%s on the relay's connections, with:\n",
		       v->relay_own);
		for (size_t i = 0; i < (size_t)POLICIES_RELAY_NFIELDS; i++)
			field_line(&v->relay_eff, policies_relay_fields[i]);
		printf("  max_msgs_per_conn and tls are the relay's (--msgs-per-conn, --tls); mx: "
		       "patterns do not apply.\n");
	} else {
		printf(
		    "  no policy of its own (an exact or wildcard pattern that sets a field): it "
		    "shares the\n  relay's queue (--concurrency connections, no rate of its "
		    "own).\n");
	}
	if (v->global_rate > 0)
		printf("On every route: the global rate %s (all destinations together).\n",
		       throttle_rate_format(v->global_rate, rate, sizeof(rate)));
}

/* show_text - the effective policy as a person reads it */
static void
show_text(const struct policies_view *v, char **mx, size_t nmx)
{
	char disp[300];
	address_domain_display(v->domain, disp, sizeof(disp));
	printf("Policy for %s, straight to its MX hosts", disp);
	if (nmx) {
		printf(" (MX");
		for (size_t i = 0; i < nmx; i++)
			printf(" %s", mx[i]);
		printf(")");
	}
	printf(":\n");
	for (int f = 0; f < POLICY_NFIELDS; f++)
		field_line(&v->eff, (enum policy_field)f);
	if (v->eff.p.warmup[0] && v->warmup_cap >= 0)
		printf("  warm-up day %ld: at most %ld messages today\n", v->warmup_day + 1,
		       v->warmup_cap);
	else if (v->eff.p.warmup[0])
		printf("  warm-up finished (day %ld): no daily cap\n", v->warmup_day + 1);
	if (nmx == 0)
		printf("(mx: patterns were not tried: give --mx HOST to simulate them.)\n");
	relay_text(v);
}

/* tls_text - the domain's transport security straight to its MX hosts */
static void
tls_text(const struct policies_view *v)
{
	char t1[32], t2[32];
	printf("Transport security straight to its MX hosts (docs/tls.md):\n");
	if (v->tls.sts) {
		printf("  MTA-STS   %s, id %s, fetched %s, %s %s\n", v->tls.sts_mode, v->tls.sts_id,
		       cli_time(t1, v->tls.sts_fetched_at),
		       v->tls.sts_expired ? "expired" : "until",
		       cli_time(t2, v->tls.sts_expires_at));
		for (const char *p = v->tls.sts_policy; *p;) {
			const char *e = strchr(p, '\n');
			int n = e ? (int)(e - p) : (int)strlen(p);
			if (strncmp(p, "mx: ", 4) == 0)
				printf("            %.*s\n", n, p);
			p += n + (e ? 1 : 0);
		}
	} else {
		printf("  MTA-STS   %s\n",
		       v->tls.seen && v->tls.seen_sts_id ? "no policy cached" : "no policy");
	}
	if (v->tls.sts_error)
		printf("            last look: %s\n", v->tls.sts_error);
	if (v->tls.seen) {
		printf("  DANE      %s\n", v->tls.dane ? v->tls.dane : "-");
		printf("  TLS-RPT   %s\n", v->tls.tlsrpt ? v->tls.tlsrpt : "no record");
		printf("  (as the send of %s found them)\n", cli_time(t1, v->tls.checked_at));
	} else {
		printf("  DANE, TLS-RPT: not looked up yet (a direct send does)\n");
	}
	printf("  in force: %s\n", v->tls.in_force);
}

/* tls_json - the same as a JSON object */
static json_t *
tls_json(const struct policies_view *v)
{
	json_t *sts = json_null();
	if (v->tls.sts)
		sts = json_pack(
		    "{s:o,s:o,s:o,s:o,s:o,s:b}", "id", cli_json_text(v->tls.sts_id), "mode",
		    cli_json_text(v->tls.sts_mode), "policy", cli_json_text(v->tls.sts_policy),
		    "fetched_at", cli_json_time(v->tls.sts_fetched_at), "expires_at",
		    cli_json_time(v->tls.sts_expires_at), "expired", v->tls.sts_expired);
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "mta_sts", sts, "last_error",
	                 cli_json_opt(v->tls.sts_error), "dane", cli_json_opt(v->tls.dane),
	                 "tlsrpt", cli_json_opt(v->tls.tlsrpt), "checked_at",
	                 v->tls.seen ? cli_json_time(v->tls.checked_at) : json_null(), "in_force",
	                 cli_json_text(v->tls.in_force));
}

static int
domain_show(struct cli *c, struct store *s, const char *arg, char **mx, size_t nmx)
{
	struct policies_view v;
	char err[512];
	int added,
	    rc = policies_show(s, arg, (const char *const *)mx, nmx, &v, &added, err, sizeof(err));
	seeded(c, added);
	if (rc < 0) {
		policies_view_free(&v);
		return domain_fail(rc, err);
	}
	json_t *o = NULL;
	struct dest_show ds = {NULL, 0};
	if (c->json) {
		json_t *mxs = json_array(), *matched = json_array();
		o = policies_json(&v.eff.p, &v);
		for (size_t i = 0; i < nmx; i++)
			json_array_append_new(mxs, cli_json_text(mx[i]));
		for (size_t i = 0; i < v.nmatched; i++)
			json_array_append_new(matched, cli_json_text(v.matched[i]->pattern));
		json_object_set_new(o, "mx", mxs);
		json_object_set_new(o, "matched", matched);
		json_object_set_new(o, "relay", policies_relay_json(&v));
		json_object_set_new(o, "tls_security", tls_json(&v));
		ds.json = json_array();
		json_object_set_new(o, "destinations", ds.json);
	} else {
		show_text(&v, mx, nmx);
		tls_text(&v);
	}
	if ((rc = store_dest_each(s, v.domain, dest_show_one, &ds)) < 0)
		rc = cli_error("domain", cli_exit_for_store(rc), "%s", store_errmsg(s));
	else if (o)
		cli_json_print(json_incref(o));
	json_decref(o);
	policies_view_free(&v);
	return rc;
}

/* domain_presets - install the shipped presets and print them */
static int
domain_presets(struct cli *c, struct store *s, bool reset)
{
	char err[512];
	int added, rc = policies_presets(s, reset, &added, err, sizeof(err));
	if (rc < 0)
		return domain_fail(rc, err);
	json_t *presets = c->json ? json_array() : NULL;
	if (!c->json)
		printf("%-18s %5s %9s %9s %9s  %s\n", "PATTERN", "CONNS", "RATE", "MSGS/CONN",
		       "CONNECTS", "WHY");
	for (size_t i = 0; i < policy_preset_count(); i++) {
		struct policy p;
		const char *why;
		policy_preset(i, &p, &why);
		if (presets) {
			json_t *o = policies_json(&p, NULL);
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

static int
domain_set(struct cli *c, struct store *s, struct policy *p, enum policy_kind kind)
{
	struct policy now;
	char err[512];
	int added, rc = policies_set(s, p, &now, &added, err, sizeof(err));
	seeded(c, added);
	if (rc < 0)
		return domain_fail(rc, err);
	if (c->json) {
		cli_json_print(policies_json(&now, NULL));
		return 0;
	}
	printf("Policy for %s (%s):", p->pattern, policy_kind_name(kind));
	for (int f = 0; f < POLICY_NFIELDS; f++) {
		char v[VALUE_MAX];
		if (!(now.set & POLICY_HAS(f)))
			continue;
		policy_field_format(&now, (enum policy_field)f, v, sizeof(v));
		printf(" %s=%s", policy_field_name((enum policy_field)f), v);
	}
	printf("\n");
	return 0;
}

static int
domain_unset(struct cli *c, struct store *s, const char *pat, unsigned fields)
{
	char err[512];
	bool removed;
	int added, rc = policies_unset(s, pat, fields, &removed, &added, err, sizeof(err));
	seeded(c, added);
	if (rc < 0)
		return domain_fail(rc, err);
	if (c->json)
		cli_json_print(
		    json_pack("{s:o,s:b}", "pattern", cli_json_text(pat), "removed", removed));
	else if (!removed)
		printf("%s had no policy\n", pat);
	else if (fields)
		printf("Unset the chosen fields of %s: they inherit again\n", pat);
	else
		printf("Removed the policy for %s\n", pat);
	return 0;
}

/* The options; a policy field's option has the value O_FIELD0 + its field. */
enum { O_FIELD0 = 256, O_MX = O_FIELD0 + POLICY_NFIELDS, O_FIELD, O_RESET };
static const struct option domain_options[] = {
    {"max-connections", required_argument, NULL, O_FIELD0 + POLICY_F_MAX_CONNECTIONS},
    {"rate", required_argument, NULL, O_FIELD0 + POLICY_F_RATE},
    {"max-msgs-per-conn", required_argument, NULL, O_FIELD0 + POLICY_F_MAX_MSGS_PER_CONN},
    {"connect-rate", required_argument, NULL, O_FIELD0 + POLICY_F_CONNECT_RATE},
    {"tls", required_argument, NULL, O_FIELD0 + POLICY_F_TLS},
    {"warmup", required_argument, NULL, O_FIELD0 + POLICY_F_WARMUP},
    {"egress", required_argument, NULL, O_FIELD0 + POLICY_F_EGRESS},
    {"mx", required_argument, NULL, O_MX},
    {"field", required_argument, NULL, O_FIELD},
    {"reset", no_argument, NULL, O_RESET},
    {NULL, 0, NULL, 0},
};

enum domain_verb { D_SET, D_LIST, D_SHOW, D_UNSET, D_PRESETS, D_NVERBS };
static const char *const domain_verbs[D_NVERBS] = {"set", "list", "show", "unset", "presets"};

/* What the command line asks for. */
struct domain_args {
	enum domain_verb verb;
	const char *arg; /* set, unset: the pattern; show: the domain */
	struct policy p; /* set: the fields given */
	char *mx[MX_MAX];
	size_t nmx;
	bool any_mx, reset;
	unsigned fields; /* unset: --field */
};

/* domain_args - parse argv into *a; 0, or an exit code after a message */
static int
domain_args(int argc, char **argv, struct domain_args *a)
{
	char err[512], name[32];
	int ch, li = -1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", domain_options, &li)) != -1) {
		if (ch >= O_FIELD0 && ch < O_FIELD0 + POLICY_NFIELDS) {
			snprintf(name, sizeof(name), "--%s", domain_options[li].name);
			if (policies_field_value(&a->p, (enum policy_field)(ch - O_FIELD0), name,
			                         optarg, err, sizeof(err)) < 0)
				return cli_usage("domain", "%s", err);
			continue;
		}
		switch (ch) {
		case O_MX:
			a->any_mx = true;
			for (char *tok = strtok(optarg, ", "); tok; tok = strtok(NULL, ", ")) {
				if (a->nmx == MX_MAX)
					return cli_usage("domain", "at most %d --mx hosts", MX_MAX);
				a->mx[a->nmx++] = tok;
			}
			break;
		case O_FIELD:
			if (policies_field_mask("--field", optarg, &a->fields, err, sizeof(err)) <
			    0)
				return cli_usage("domain", "%s", err);
			break;
		case O_RESET:
			a->reset = true;
			break;
		case ':':
			return cli_usage("domain", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("domain", domain_options, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage("domain", "set, list, show, unset or presets?");
	const char *v = argv[optind++];
	int nargs = argc - optind;
	for (a->verb = 0; a->verb < D_NVERBS && strcmp(v, domain_verbs[a->verb]) != 0; a->verb++)
		;
	enum domain_verb d = a->verb;
	if (d == D_NVERBS)
		return cli_usage("domain",
		                 "unknown subcommand '%s' (set, list, show, unset, presets)", v);
	if (a->p.set && d != D_SET)
		return cli_usage("domain", "policy options go with 'domain set'");
	if (a->any_mx && d != D_SHOW)
		return cli_usage("domain", "--mx goes with 'domain show'");
	if (a->fields && d != D_UNSET)
		return cli_usage("domain", "--field goes with 'domain unset'");
	if (a->reset && d != D_PRESETS)
		return cli_usage("domain", "--reset goes with 'domain presets'");
	if ((d == D_LIST || d == D_PRESETS) && nargs != 0)
		return cli_usage("domain", "%s takes no arguments", v);
	if ((d == D_SET || d == D_SHOW || d == D_UNSET) && nargs != 1)
		return cli_usage("domain", "%s takes one %s", v,
		                 d == D_SHOW ? "domain" : "pattern");
	if (d == D_SET && a->p.set == 0)
		return cli_usage(
		    "domain", "set what? Give --max-connections, --rate, "
		              "--max-msgs-per-conn, --connect-rate, --tls, --warmup or --egress");
	a->arg = nargs ? argv[optind] : NULL;
	return 0;
}

int
cmd_domain(struct cli *c, int argc, char **argv)
{
	struct domain_args a;
	memset(&a, 0, sizeof(a));
	int rc = domain_args(argc, argv, &a);
	if (rc)
		return rc;
	char pat[POLICY_PATTERN_MAX], err[512];
	enum policy_kind kind = POLICY_KIND_EXACT;
	/* A bad pattern is refused before the database is opened (or created). */
	if (a.verb == D_SET || a.verb == D_UNSET) {
		if ((rc = policies_pattern(a.arg, pat, &kind, err, sizeof(err))) < 0)
			return domain_fail(rc, err);
		snprintf(a.p.pattern, sizeof(a.p.pattern), "%s", pat);
	}
	struct store *s;
	if ((rc = cli_open_any(c, "domain", a.verb == D_SET || a.verb == D_PRESETS, &s)))
		return rc;
	switch (a.verb) {
	case D_SET:
		rc = domain_set(c, s, &a.p, kind);
		break;
	case D_LIST:
		rc = domain_list(c, s);
		break;
	case D_SHOW:
		rc = domain_show(c, s, a.arg, a.mx, a.nmx);
		break;
	case D_UNSET:
		rc = domain_unset(c, s, pat, a.fields);
		break;
	default:
		rc = domain_presets(c, s, a.reset);
		break;
	}
	store_close(s);
	return rc;
}
