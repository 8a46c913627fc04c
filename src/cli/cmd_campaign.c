/* cmd_campaign - `kirim campaign create|list|show` and `kirim preview`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/campaign.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/xmalloc.h"

/*
 * campaign_tracking_ok - opens and clicks are tracked through 'kirim serve', whose
 * address is kirim.conf's [unsubscribe] url: refuse --track-* now (exit 78) when the
 * config has none, rather than at the first preview or send.
 */
static int
campaign_tracking_ok(struct cli *c, bool opens, bool clicks)
{
	struct config cfg;
	char err[1200], base[512];
	/* Only the url is needed: keys, secrets and passwords are not read (config_peek). */
	if (config_peek(c->config, &cfg, err, sizeof(err)) < 0)
		return cli_error("campaign", EX_CONFIG, "%s", err);
	int rc = 0;
	if (campaign_track_base(&cfg, base, sizeof(base), err, sizeof(err)) < 0)
		rc = cli_error("campaign", EX_CONFIG, "%s need%s 'kirim serve': %s",
		               opens && clicks ? "--track-opens and --track-clicks"
		               : opens         ? "--track-opens"
		                               : "--track-clicks",
		               opens && clicks ? "" : "s", err);
	config_free(&cfg);
	return rc;
}

/* audience_text - the parts of an audience in words: "list 'a', segment 'b', less list 'x'" */
static void
audience_text(struct buf *b, const struct store_audience_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		static const char *const what[] = {
		    [SEGMENT_PART_LIST] = "list",
		    [SEGMENT_PART_SEGMENT] = "segment",
		    [SEGMENT_PART_EXCLUDE_LIST] = "less list",
		    [SEGMENT_PART_EXCLUDE_SEGMENT] = "less segment",
		    [SEGMENT_PART_NOT_SENT_BY] = "not delivered by",
		    [SEGMENT_PART_NOT_OPENED] = "not opened",
		    [SEGMENT_PART_NOT_CLICKED] = "not clicked",
		};
		buf_printf(b, "%s%s '%s'", i ? ", " : "", what[p[i].kind], p[i].name);
	}
}

static int
campaign_create(struct cli *c, const char *name, const struct segment_part *parts, size_t nparts,
                const char *tpl, const char *from, const char *reply_to, char **headers,
                int nheaders, bool track_opens, bool track_clicks, bool list_scope,
                const char *options)
{
	char err[600];
	struct store_campaign sc;
	memset(&sc, 0, sizeof(sc));
	if (*name == '\0' || strlen(name) >= sizeof(sc.name))
		return cli_usage("campaign", "a campaign name is 1 to %zu characters",
		                 sizeof(sc.name) - 1);
	if (nparts == 0 || tpl == NULL || from == NULL)
		return cli_usage("campaign", "create needs an audience (--list or --segment), "
		                             "--template and --from");
	snprintf(sc.name, sizeof(sc.name), "%s", name);
	if (campaign_parse_from(from, sc.from_name, sizeof(sc.from_name), sc.from_addr, err,
	                        sizeof(err)) < 0)
		return cli_error("campaign", EX_DATAERR, "--from %s", err);
	if (reply_to) {
		char rn[256];
		if (campaign_parse_from(reply_to, rn, sizeof(rn), sc.reply_to, err, sizeof(err)) <
		    0)
			return cli_error("campaign", EX_DATAERR, "--reply-to %s", err);
	}
	struct buf hdrs = BUF_INIT;
	buf_addc(&hdrs, '[');
	for (int i = 0; i < nheaders; i++) {
		if (campaign_header_add(&hdrs, headers[i], err, sizeof(err)) < 0) {
			buf_free(&hdrs);
			return cli_error("campaign", EX_DATAERR, "--header %s", err);
		}
	}
	buf_addc(&hdrs, ']');
	int rc;
	if ((track_opens || track_clicks) &&
	    (rc = campaign_tracking_ok(c, track_opens, track_clicks))) {
		buf_free(&hdrs);
		return rc;
	}
	sc.headers = hdrs.data;
	sc.options = (char *)options;

	struct store *s;
	rc = cli_open_any(c, "campaign", false, &s);
	if (rc) {
		buf_free(&hdrs);
		return rc;
	}
	struct store_template t;
	struct store_audience_part *ap = NULL;
	size_t nap = 0;
	struct segment_node *tree = NULL;
	int64_t count = 0;
	struct buf words = BUF_INIT;
	/* NAME:VERSION pins a template version; NAME alone takes the latest. */
	char tname[128];
	int version = 0;
	const char *colon = strrchr(tpl, ':');
	snprintf(tname, sizeof(tname), "%.*s", colon ? (int)(colon - tpl) : (int)strlen(tpl), tpl);
	if (colon)
		version = atoi(colon + 1);
	if ((rc = store_template_get(s, tname, version, &t)) < 0) {
		rc = cli_error("campaign", EX_DATAERR, "%s", store_errmsg(s));
		goto out;
	}
	sc.template_id = t.id;
	store_template_clear(&t);
	if ((rc = audience_campaign_create(s, &sc, parts, nparts, list_scope, err, sizeof(err))) <
	    0) {
		rc = cli_error("campaign",
		               rc == STORE_E_EXISTS || rc == AUDIENCE_E_USAGE ||
		                       rc == AUDIENCE_E_DATA
		                   ? EX_DATAERR
		                   : cli_exit_for_store(rc),
		               "%s", err);
		goto out;
	}
	/* What it would mail now, for the person who made it. */
	if ((rc = store_audience_get(s, sc.id, &ap, &nap)) < 0 ||
	    (rc = store_audience_tree(s, sc.id, &tree)) < 0 ||
	    (rc = store_segment_count(s, tree, (int64_t)time(NULL), &count, NULL)) < 0) {
		rc = cli_error("campaign", cli_exit_for_store(rc), "%s", store_errmsg(s));
		goto out;
	}
	audience_text(&words, ap, nap);
	if (c->json) {
		cli_json_print(json_pack("{s:o,s:I,s:s,s:I}", "name", cli_json_text(sc.name), "id",
		                         (json_int_t)sc.id, "state", "draft", "audience",
		                         (json_int_t)count));
	} else {
		char n1[32];
		printf("Created campaign '%s' (draft): %s contacts now in its audience (%s), "
		       "template '%s' version %d, from %s.\nSee its audience with: kirim campaign "
		       "show %s\nSee a message with: kirim preview %s --to ADDRESS\n",
		       sc.name, cli_num(n1, (uint64_t)count), words.data, tname, t.version,
		       sc.from_addr, sc.name, sc.name);
	}
	rc = 0;
out:
	segment_free(tree);
	free(ap);
	buf_free(&words);
	store_close(s);
	buf_free(&hdrs);
	return rc;
}

/* audience_json - the parts of an audience: [{"kind": "list", "name": "a"}, ...] */
static json_t *
audience_json(const struct store_audience_part *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
		                      json_pack("{s:s,s:o}", "kind", segment_part_name(p[i].kind),
		                                "name", cli_json_text(p[i].name)));
	return a;
}

/* campaign_json - one campaign as a JSON object */
static json_t *
campaign_json(const struct store_campaign *sc)
{
	return json_pack(
	    "{s:o,s:I,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name",
	    cli_json_text(sc->name), "id", (json_int_t)sc->id, "state", cli_json_text(sc->state),
	    "list", cli_json_text(sc->list), "template", cli_json_text(sc->template_name),
	    "template_version", sc->template_version, "from_name", cli_json_text(sc->from_name),
	    "from", cli_json_text(sc->from_addr), "reply_to", cli_json_opt(sc->reply_to), "headers",
	    cli_json_parse(sc->headers ? sc->headers : "[]"), "options",
	    cli_json_parse(sc->options ? sc->options : "{}"), "state_reason",
	    cli_json_opt(sc->state_reason), "created_at", cli_json_time(sc->created_at));
}

struct campaign_out {
	struct store *s;
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

static int
campaign_row(void *arg, const struct store_campaign *sc)
{
	struct campaign_out *o = arg;
	char when[32];
	struct store_audience_part *ap;
	size_t nap;
	int rc = store_audience_get(o->s, sc->id, &ap, &nap);
	if (rc < 0)
		return rc;
	if (o->json) {
		json_t *j = campaign_json(sc);
		json_object_set_new(j, "audience", audience_json(ap, nap));
		json_array_append_new(o->json, j);
	} else {
		if (o->n == 0)
			printf("%-24s %-10s %-20s %-30s %s\n", "CAMPAIGN", "STATE", "TEMPLATE",
			       "AUDIENCE", "CREATED (UTC)");
		char tv[160];
		struct buf words = BUF_INIT;
		snprintf(tv, sizeof(tv), "%s:%d", sc->template_name, sc->template_version);
		audience_text(&words, ap, nap);
		printf("%-24s %-10s %-20s %-30s %s\n", sc->name, sc->state, tv,
		       words.data ? words.data : "", cli_time(when, sc->created_at));
		buf_free(&words);
	}
	free(ap);
	o->n++;
	return 0;
}

int
cli_audience_makeup(struct cli *c, struct store *s, const struct store_campaign *sc, json_t *o)
{
	struct audience_makeup m;
	struct store_campaign_counts cnt;
	char err[1024], n1[32], n2[32];
	int rc = audience_makeup(s, sc->id, (int64_t)time(NULL), &m, err, sizeof(err));
	if (rc < 0)
		return cli_error("campaign",
		                 rc == AUDIENCE_E_DATA ? EX_DATAERR : cli_exit_for_store(rc), "%s",
		                 err);
	if ((rc = store_campaign_counts(s, sc->id, &cnt)) < 0) {
		audience_makeup_free(&m);
		return cli_error("campaign", cli_exit_for_store(rc), "%s", store_errmsg(s));
	}
	if (o) {
		json_t *steps = json_array();
		for (size_t i = 0; i < m.nsteps; i++) {
			const struct audience_step *st = &m.steps[i];
			json_t *j =
			    json_pack("{s:s,s:o,s:I}", "kind", segment_part_name(st->kind), "name",
			              cli_json_text(st->name), st->include ? "contacts" : "removes",
			              (json_int_t)st->count);
			if (!st->include)
				json_object_set_new(j, "remaining", json_integer(st->remain));
			if (st->gone)
				json_object_set_new(j, "removed_segment", json_true());
			json_array_append_new(steps, j);
		}
		json_object_set_new(
		    o, "makeup",
		    json_pack("{s:o,s:o,s:I,s:I,s:I,s:I,s:I}", "expression", cli_json_text(m.expr),
		              "steps", steps, "together", (json_int_t)m.together, "contacts",
		              (json_int_t)m.contacts, "suppressed", (json_int_t)m.suppressed,
		              "mailable", (json_int_t)(m.contacts - m.suppressed), "messages",
		              (json_int_t)cnt.total));
		json_object_set_new(json_object_get(o, "makeup"), "queueing",
		                    cli_walk_json(cnt.walk_cursor, cnt.walk_upto));
	} else {
		printf("audience:  %s\n", m.expr);
		bool several = false;
		for (size_t i = 1; i < m.nsteps; i++)
			several |= m.steps[i].include;
		for (size_t i = 0; i < m.nsteps; i++) {
			const struct audience_step *st = &m.steps[i];
			char label[300];
			static const char *const what[] = {
			    [SEGMENT_PART_LIST] = "list %s",
			    [SEGMENT_PART_SEGMENT] = "segment %s",
			    [SEGMENT_PART_EXCLUDE_LIST] = "less list %s",
			    [SEGMENT_PART_EXCLUDE_SEGMENT] = "less segment %s",
			    [SEGMENT_PART_NOT_SENT_BY] = "less those %s delivered to",
			    [SEGMENT_PART_NOT_OPENED] = "only who %s reached and did not open",
			    [SEGMENT_PART_NOT_CLICKED] = "only who %s reached and did not click",
			};
			snprintf(label, sizeof(label), what[st->kind], st->name);
			if (st->gone)
				printf("  %-40s (segment removed since)\n", label);
			else if (st->include)
				printf("  %-40s %12s\n", label, cli_num(n1, (uint64_t)st->count));
			else
				printf("  %-40s %12s  -> %s\n", label,
				       st->count ? cli_num(n1, (uint64_t)st->count) : "0",
				       cli_num(n2, (uint64_t)st->remain));
			if (st->include && several &&
			    (i + 1 == m.nsteps || !m.steps[i + 1].include))
				printf("  %-40s %12s\n", "together (each contact once)",
				       cli_num(n1, (uint64_t)m.together));
		}
		printf("  %-40s %12s  (%s of them suppressed: not mailed)\n", "contacts now",
		       cli_num(n1, (uint64_t)m.contacts), cli_num(n2, (uint64_t)m.suppressed));
		if (cnt.total && cnt.walk_upto == 0)
			printf("  %-40s %12s  (made when the campaign was queued)\n", "messages",
			       cli_num(n1, (uint64_t)cnt.total));
		else if (cnt.walk_upto)
			printf("  %-40s %12s  (made so far: the rest as it sends)\n", "messages",
			       cli_num(n1, (uint64_t)cnt.total));
		cli_walk_print(cnt.walk_cursor, cnt.walk_upto);
	}
	audience_makeup_free(&m);
	return 0;
}

int
cmd_campaign(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"list", required_argument, NULL, 'l'},
	    {"segment", required_argument, NULL, 's'},
	    {"exclude-list", required_argument, NULL, 'x'},
	    {"exclude-segment", required_argument, NULL, 'X'},
	    {"not-sent-by", required_argument, NULL, 'N'},
	    {"not-opened", required_argument, NULL, 'o'},
	    {"not-clicked", required_argument, NULL, 'k'},
	    {"template", required_argument, NULL, 't'},
	    {"from", required_argument, NULL, 'f'},
	    {"reply-to", required_argument, NULL, 'r'},
	    {"header", required_argument, NULL, 'H'},
	    {"track-opens", no_argument, NULL, 'O'},
	    {"track-clicks", no_argument, NULL, 'C'},
	    {"unsubscribe-scope", required_argument, NULL, 'U'},
	    {NULL, 0, NULL, 0},
	};
	bool track_opens = false, track_clicks = false;
	const char *scope = NULL;
	if (argc >= 2 && campaign_lifecycle_verb(argv[1]))
		return campaign_lifecycle(c, argv[1], argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return campaign_test(c, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "plan") == 0)
		return campaign_plan(c, argc - 1, argv + 1);
	const char *tpl = NULL, *from = NULL, *reply_to = NULL;
	char **headers = xcalloc((size_t)argc + 1, sizeof(char *));
	/* The audience's parts, in the order given. */
	struct segment_part *parts = xcalloc((size_t)argc + 1, sizeof(*parts));
	size_t nparts = 0;
	int nheaders = 0, ch, rc = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:t:f:r:H:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
		case 's':
		case 'x':
		case 'X':
		case 'N':
		case 'o':
		case 'k':
			parts[nparts].kind = ch == 'l'   ? SEGMENT_PART_LIST
			                     : ch == 's' ? SEGMENT_PART_SEGMENT
			                     : ch == 'x' ? SEGMENT_PART_EXCLUDE_LIST
			                     : ch == 'X' ? SEGMENT_PART_EXCLUDE_SEGMENT
			                     : ch == 'N' ? SEGMENT_PART_NOT_SENT_BY
			                     : ch == 'o' ? SEGMENT_PART_NOT_OPENED
			                                 : SEGMENT_PART_NOT_CLICKED;
			parts[nparts++].name = optarg;
			break;
		case 't':
			tpl = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'r':
			reply_to = optarg;
			break;
		case 'H':
			headers[nheaders++] = optarg;
			break;
		case 'O':
			track_opens = true;
			break;
		case 'C':
			track_clicks = true;
			break;
		case 'U':
			if (strcmp(optarg, "all") != 0 && strcmp(optarg, "list") != 0)
				rc = cli_usage("campaign", "--unsubscribe-scope takes all or list");
			scope = optarg;
			break;
		case ':':
			rc = cli_usage("campaign", "%s needs a value", argv[optind - 1]);
			break;
		default:
			rc = cli_unknown_option("campaign", longopts, argv[optind - 1]);
			break;
		}
		if (rc)
			goto out;
	}
	const char *verb = optind < argc ? argv[optind++] : "list";
	int nargs = argc - optind;
	if (strcmp(verb, "create") == 0) {
		if (nargs != 1)
			rc = cli_usage("campaign", "create takes one campaign name");
		else {
			json_t *o =
			    json_pack("{s:b,s:b,s:s}", "track_opens", track_opens, "track_clicks",
			              track_clicks, "unsubscribe_scope", scope ? scope : "all");
			char *options = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			rc = campaign_create(c, argv[optind], parts, nparts, tpl, from, reply_to,
			                     headers, nheaders, track_opens, track_clicks,
			                     scope && strcmp(scope, "list") == 0, options);
			free(options);
		}
	} else if (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0) {
		bool show = verb[0] == 's';
		struct store *s;
		if (nargs != (show ? 1 : 0)) {
			rc = cli_usage("campaign", show ? "show takes a campaign name"
			                                : "list takes no arguments");
			goto out;
		}
		if ((rc = cli_open_any(c, "campaign", false, &s)))
			goto out;
		if (show) {
			struct store_campaign sc;
			int r = store_campaign_get(s, argv[optind], &sc);
			if (r < 0) {
				rc = cli_error("campaign", cli_exit_for_store(r), "%s",
				               store_errmsg(s));
			} else if (c->json) {
				json_t *o = campaign_json(&sc);
				struct store_audience_part *ap;
				size_t nap;
				if ((r = store_audience_get(s, sc.id, &ap, &nap)) < 0) {
					rc = cli_error("campaign", cli_exit_for_store(r), "%s",
					               store_errmsg(s));
				} else {
					json_object_set_new(o, "audience", audience_json(ap, nap));
					free(ap);
					rc = cli_audience_makeup(c, s, &sc, o);
				}
				if (rc == 0)
					cli_json_print(json_incref(o));
				json_decref(o);
			} else {
				char when[32];
				printf("campaign:  %s (id %lld)\nstate:     %s\n"
				       "template:  %s version %d\nfrom:      %s%s%s%s\n",
				       sc.name, (long long)sc.id, sc.state, sc.template_name,
				       sc.template_version, sc.from_name,
				       sc.from_name[0] ? " <" : "", sc.from_addr,
				       sc.from_name[0] ? ">" : "");
				if (sc.reply_to[0])
					printf("reply-to:  %s\n", sc.reply_to);
				printf("headers:   %s\noptions:   %s\ncreated:   %s UTC\n",
				       sc.headers, sc.options ? sc.options : "{}",
				       cli_time(when, sc.created_at));
				if (sc.state_reason[0])
					printf("why:       %s\n", sc.state_reason);
				rc = cli_audience_makeup(c, s, &sc, NULL);
			}
			if (r == 0)
				store_campaign_clear(&sc);
		} else {
			struct campaign_out o = {.s = s, .json = c->json ? json_array() : NULL};
			int r = store_campaign_each(s, campaign_row, &o);
			if (r < 0)
				rc = cli_error("campaign", cli_exit_for_store(r), "%s",
				               store_errmsg(s));
			else if (c->json)
				cli_json_print(json_incref(o.json));
			else if (o.n == 0)
				printf("No campaigns yet: 'kirim campaign create NAME --list L "
				       "--template T --from ADDRESS' makes one.\n");
			json_decref(o.json);
		}
		store_close(s);
	} else {
		rc = cli_usage("campaign", "unknown subcommand '%s' (create, list, show)", verb);
	}
out:
	free(headers);
	free(parts);
	return rc;
}

int
cmd_preview(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	const char *to = NULL;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":t:", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			to = optarg;
			break;
		case ':':
			return cli_usage("preview", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("preview", longopts, argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("preview", "which campaign? kirim preview CAMPAIGN --to ADDRESS");
	if (to == NULL)
		return cli_usage("preview",
		                 "--to ADDRESS is required: a member of the campaign's list");
	struct address a;
	const char *why;
	if (address_parse(to, strlen(to), ADDRESS_ALLOW_IP_LITERAL, &a, &why) < 0)
		return cli_error("preview", EX_DATAERR, "'%s' is not an address: %s", to, why);

	struct config cfg;
	int rc = cli_config(c, "preview", &cfg);
	if (rc)
		return rc;
	struct store *s;
	if ((rc = cli_open(c, "preview", false, &s))) {
		config_free(&cfg);
		return rc;
	}
	struct store_campaign sc;
	struct store_contact ct;
	struct campaign_composer cc;
	char err[1024], env[ADDRESS_MAX + 1];
	struct buf msg = BUF_INIT;
	memset(&ct, 0, sizeof(ct));
	memset(&sc, 0, sizeof(sc));
	memset(&cc, 0, sizeof(cc));
	if ((rc = store_campaign_get(s, argv[optind], &sc)) < 0 ||
	    (rc = store_audience_contact(s, sc.id, (int64_t)time(NULL), a.key, &ct)) < 0) {
		rc = cli_error("preview", cli_exit_for_store(rc), "%s", store_errmsg(s));
		goto out;
	}
	if (campaign_composer_new(s, &cfg, &sc, &cc, err, sizeof(err)) < 0) {
		rc = cli_error("preview", EX_DATAERR, "%s", err);
		goto out;
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	struct composer_recipient r = {.contact_id = ct.id, .email = ct.email, .attrs = ct.attrs};
	if (composer_render(cc.composer, &r, (long long)now, (int)(tm.tm_gmtoff / 60), &msg, env,
	                    err, sizeof(err)) < 0) {
		rc = cli_error("preview", EX_DATAERR, "cannot render the message to %s: %s",
		               ct.email, err);
		goto out;
	}
	if (c->json) {
		cli_json_print(json_pack("{s:o,s:o,s:I,s:o,s:o}", "mail_from", cli_json_text(env),
		                         "rcpt_to", cli_json_text(ct.email), "dkim_signatures",
		                         (json_int_t)cc.n_signers, "suppressed",
		                         cli_json_opt(ct.suppressed), "message",
		                         cli_json_textn(msg.data ? msg.data : "", msg.len)));
	} else {
		if (!c->quiet) {
			fprintf(stderr, "envelope: MAIL FROM:<%s> RCPT TO:<%s>\n", env, ct.email);
			if (cc.n_signers == 0)
				fprintf(stderr,
				        "note: not DKIM-signed (no [dkim] key in the config; "
				        "'kirim dkim keygen' makes one)\n");
			if (ct.suppressed[0])
				fprintf(stderr,
				        "note: %s is suppressed (%s): it will not be mailed\n",
				        ct.email, ct.suppressed);
		}
		fwrite(msg.data, 1, msg.len, stdout);
	}
	rc = 0;
out:
	buf_free(&msg);
	campaign_composer_free(&cc);
	store_contact_clear(&ct);
	store_campaign_clear(&sc);
	store_close(s);
	config_free(&cfg);
	return rc;
}
