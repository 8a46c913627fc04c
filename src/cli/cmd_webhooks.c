/* cmd_webhooks - `kirim webhooks add|status|remove`: events pushed to other tools. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/store.h"
#include "kirim/store_webhook.h"
#include "kirim/webhooks.h"

struct hooks_out {
	json_t *json; /* --json: the rows; NULL for text */
	int n;
};

static int
hook_row(void *arg, const struct store_webhook *w)
{
	struct hooks_out *o = arg;
	char t1[32], t2[32];
	if (o->json) {
		json_array_append_new(
		    o->json,
		    json_pack(
		        "{s:I,s:o,s:o,s:o,s:I,s:I,s:I,s:i,s:o,s:o,s:o,s:o,s:o}", "id",
		        (json_int_t)w->id, "url", cli_json_text(w->url), "events",
		        cli_json_parse(w->events), "created_at", cli_json_time(w->created_at),
		        "pending", (json_int_t)w->pending, "delivered", (json_int_t)w->delivered,
		        "dropped", (json_int_t)w->dropped, "attempts", w->attempts, "failing_since",
		        w->failing_since ? cli_json_time(w->failing_since) : json_null(),
		        "next_attempt_at",
		        w->attempts ? cli_json_time(w->next_attempt_at) : json_null(),
		        "last_status", w->last_status ? json_integer(w->last_status) : json_null(),
		        "last_error", cli_json_opt(w->last_error), "last_success_at",
		        w->last_success_at ? cli_json_time(w->last_success_at) : json_null()));
		return 0;
	}
	printf("%s%lld  %s\n  events: %s\n  delivered %lld, pending %lld, dropped %lld; last "
	       "success %s\n",
	       o->n ? "\n" : "", (long long)w->id, w->url, w->events, (long long)w->delivered,
	       (long long)w->pending, (long long)w->dropped,
	       w->last_success_at ? cli_time(t1, w->last_success_at) : "never");
	if (w->attempts)
		printf("  failing since %s UTC: %d tries, next at %s UTC; last: %s\n",
		       cli_time(t1, w->failing_since), w->attempts,
		       cli_time(t2, w->next_attempt_at), w->last_error[0] ? w->last_error : "?");
	o->n++;
	return 0;
}

int
cmd_webhooks(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"events", required_argument, NULL, 'e'},
	    {"secret-file", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *events = NULL, *secret_file = NULL;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":e:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			events = optarg;
			break;
		case 's':
			secret_file = optarg;
			break;
		case ':':
			return cli_usage("webhooks", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("webhooks", longopts, argv[optind - 1]);
		}
	}
	const char *verb = optind < argc ? argv[optind++] : "status";
	int nargs = argc - optind;
	bool add = strcmp(verb, "add") == 0, remove = strcmp(verb, "remove") == 0;
	bool status = strcmp(verb, "status") == 0 || strcmp(verb, "list") == 0;
	if (!add && !remove && !status)
		return cli_usage("webhooks", "unknown subcommand '%s' (add, status, remove)", verb);
	if ((events || secret_file) && !add)
		return cli_usage("webhooks", "--events and --secret-file go with add");
	if (add && (nargs != 1 || events == NULL || secret_file == NULL))
		return cli_usage("webhooks",
		                 "add takes a URL, --events LIST and --secret-file FILE");
	if (remove && nargs != 1)
		return cli_usage("webhooks", "remove takes a webhook id");
	if (status && nargs)
		return cli_usage("webhooks", "status takes no arguments");
	char err[600];
	char *secret = NULL;
	if (add) {
		size_t n;
		if ((secret = cli_read_file(secret_file, 4096, &n, err, sizeof(err))) == NULL)
			return cli_error("webhooks", EX_NOINPUT, "%s", err);
		while (n && (secret[n - 1] == '\n' || secret[n - 1] == '\r'))
			secret[--n] = '\0';
	}
	struct store *s;
	int rc = cli_open_any(c, "webhooks", false, &s);
	if (rc) {
		free(secret);
		return rc;
	}
	if (add) {
		int64_t id;
		rc = webhooks_add(s, argv[optind], events, secret, (int64_t)time(NULL), &id, err,
		                  sizeof(err));
		if (rc == 0 && webhooks_url_in_clear(argv[optind]))
			fprintf(stderr,
			        "kirim webhooks: warning: %s is plain http to another host: the "
			        "events (subscribers' addresses) cross the network unencrypted; "
			        "https:// is verified and sent the same way\n",
			        argv[optind]);
		if (rc < 0)
			rc = cli_error("webhooks",
			               rc == WEBHOOKS_E_INVALID ? EX_DATAERR
			                                        : cli_exit_for_store(rc),
			               "%s", err);
		else if (c->json)
			cli_json_print(json_pack("{s:I,s:o}", "id", (json_int_t)id, "url",
			                         cli_json_text(argv[optind])));
		else
			printf("Webhook %lld: %s gets the events from now on ('kirim serve' "
			       "delivers them).\n",
			       (long long)id, argv[optind]);
	} else if (remove) {
		char *end;
		long long id = strtoll(argv[optind], &end, 10);
		if (*end || id <= 0)
			rc = cli_usage("webhooks", "remove takes a webhook id, not '%s'",
			               argv[optind]);
		else if ((rc = store_webhook_remove(s, id)) < 0)
			rc = cli_error("webhooks", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_pack("{s:I,s:b}", "id", (json_int_t)id, "removed", 1));
		else
			printf("Webhook %lld removed.\n", id);
	} else {
		struct hooks_out o = {.json = c->json ? json_array() : NULL};
		rc = store_webhook_each(s, hook_row, &o);
		if (rc < 0)
			rc = cli_error("webhooks", cli_exit_for_store(rc), "%s", store_errmsg(s));
		else if (c->json)
			cli_json_print(json_incref(o.json));
		else if (o.n == 0)
			printf("No webhooks: 'kirim webhooks add URL --events delivered,bounced "
			       "--secret-file FILE' adds one.\n");
		json_decref(o.json);
	}
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
	store_close(s);
	return rc;
}
