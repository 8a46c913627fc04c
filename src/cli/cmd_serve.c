/* cmd_serve - `kirim serve`: the subscriber pages, and the one-click, open, click and browser
 * view HTTP endpoint. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kirim/campaign.h"
#include "kirim/config.h"
#include "kirim/log.h"
#include "kirim/serve.h"
#include "kirim/store.h"

const char cmd_serve_help[] =
    "Usage: kirim serve [--listen HOST:PORT] [--admin-listen HOST:PORT|off] [--base-url URL]\n"
    "                   [options]\n"
    "\n"
    "Answer the links kirim puts in messages and the pages subscribers see: one-click\n"
    "unsubscribes (RFC 8058), the preferences page, open pixels, click redirects, the\n"
    "browser view, and signup forms with double opt-in. Every unsubscribe, open and click\n"
    "is recorded in the database; a one-click unsubscribe suppresses the address for every\n"
    "later campaign (or, when the campaign's options say \"unsubscribe_scope\": \"list\",\n"
    "removes it from the campaign's list); the preferences page lets the person choose.\n"
    "Writes are committed in batches, and a request is answered only once its write is\n"
    "committed. The pages speak English or Indonesian (the contact's language attribute,\n"
    "else the browser's) and show kirim.conf's [brand]: see docs/pages.md.\n"
    "\n"
    "  POST /u/TOKEN              body List-Unsubscribe=One-Click: unsubscribe, 200\n"
    "  GET  /u/TOKEN              the preferences page: this list or all, a reason (GET\n"
    "                             never unsubscribes)\n"
    "  POST /u/TOKEN/unsubscribe  the page's form; /u/TOKEN/resubscribe undoes it\n"
    "  GET  /s/LIST               the signup form of a [signup] list; POST /s/LIST signs up\n"
    "                             (a form, or JSON: 202 {\"status\":\"pending\"})\n"
    "  GET  /k/TOKEN              the confirmation page; POST /k/TOKEN confirms (the link\n"
    "                             in the confirmation message, [signup] expiry_hours)\n"
    "  GET  /o/TOKEN.gif          a 1x1 GIF; records an open (prefetchers as machine opens)\n"
    "  GET  /c/TOKEN/N            302 to link N of the campaign's own link table\n"
    "  GET  /v/TOKEN              the recipient's message as a web page ({{view_url}};\n"
    "                             records nothing)\n"
    "  GET  /healthz              200 ok\n"
    "  POST /hooks/ses, /hooks/sendgrid, /hooks/postmark\n"
    "                             bounces and complaints from an ESP's webhook, checked by\n"
    "                             its signature or credentials (kirim.conf [hooks]; 404\n"
    "                             until configured): docs/esp-webhooks.md\n"
    "A forged, altered or foreign token gets 404 and changes nothing. Serve plain HTTP\n"
    "on loopback and put a TLS reverse proxy (nginx) in front: see docs/serve.md.\n"
    "\n"
    "A second listener serves the HTTP API (/api/..., docs/api.md): lists, contacts,\n"
    "suppressions, templates, campaigns, reports and domain policies as JSON, for\n"
    "tokens made with 'kirim token create'. It is never on the public listener.\n"
    "It also delivers the events webhooks subscribe to ('kirim webhooks').\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT   address to listen on (default 127.0.0.1:8025; [::1]:PORT\n"
    "                           for IPv6; port 0 picks a free one)\n"
    "      --admin-listen HOST:PORT  the HTTP API's address (default 127.0.0.1:8026; off:\n"
    "                           none). Left off with a warning when the default address\n"
    "                           is taken; an address given here must bind\n"
    "      --admin-max-body BYTES  largest API request body (default 16777216)\n"
    "      --base-url URL       the public URL the proxy serves this under, e.g.\n"
    "                           https://mail.example.com (default: from [unsubscribe] url);\n"
    "                           checked against kirim.conf's unsubscribe url\n"
    "      --max-body BYTES     largest request body (default 4096); larger gets 413\n"
    "      --max-header BYTES   memory for the request line and headers (default 8192);\n"
    "                           larger gets 431 (or 414 for a long URL)\n"
    "      --timeout SECONDS    time to send a whole request, and keep-alive idle time\n"
    "                           (default 10); slower clients are disconnected\n"
    "      --rate N             requests per second per client address (default 20;\n"
    "                           0 turns the limit off); over it gets 429\n"
    "      --burst N            requests a client may send at once (default 100)\n"
    "      --max-connections N  open connections (default 1024)\n"
    "      --max-per-ip N       open connections per client address (default a quarter\n"
    "                           of --max-connections, at most 256); not more than\n"
    "                           --max-connections\n"
    "      --batch N            events per database transaction (default 500)\n"
    "      --trust-proxy        take the client address from X-Real-IP, else the last\n"
    "                           X-Forwarded-For entry, when the peer is a loopback\n"
    "                           address (the reverse proxy): for the rate limit, the log\n"
    "                           and the report\n"
    "      --report-password-env NAME  /r/CAMPAIGN (the live HTML report) asks for the\n"
    "                           password in environment variable NAME (HTTP Basic);\n"
    "                           without it the report answers clients on this machine\n"
    "                           only (behind --trust-proxy, by the forwarded address)\n"
    "\n"
    "Logs one line per request (-q: none), without tokens. SIGINT or SIGTERM stops it\n"
    "gracefully: queued writes are committed and answered first.\n"
    "\n"
    "Exit status: 0 after a stop by signal, 64 usage, 66 no database, 69 cannot listen,\n"
    "78 configuration.\n";

static int
parse_num(const char *opt, const char *v, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*v == '\0' || *end || n < lo || n > hi)
		return cli_usage("serve", "%s takes a number from %lu to %lu, not '%s'", opt, lo,
		                 hi, v);
	*out = (unsigned)n;
	return 0;
}

/*
 * base_check - warn when a URL kirim.conf puts in messages is not base (less a
 * final '/') followed by /u/ (url) or /v/ (view_url): its links would miss
 * this server.
 */
static void
base_check(const char *base, const char *url, bool view)
{
	char want[600];
	size_t bl = strlen(base);
	snprintf(want, sizeof(want), "%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base,
	         view ? "/v/" : "/u/");
	if (strcmp(want, url) == 0)
		return;
	if (view)
		log_warn("serve base_url=%s but [unsubscribe] view_url=%s: view links point "
		         "elsewhere (expected %s)",
		         base, url, want);
	else
		log_warn("serve base_url=%s but [unsubscribe] url=%s: messages point elsewhere "
		         "(expected %s)",
		         base, url, want);
}

static void
serve_ready(void *arg, unsigned port, unsigned admin_port)
{
	const struct serve_opts *o = arg;
	if (admin_port)
		log_warn("serve ready listen=%s port=%u admin_listen=%s admin_port=%u", o->listen,
		         port, o->admin_listen, admin_port);
	else
		log_warn("serve ready listen=%s port=%u", o->listen, port);
}

int
cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"base-url", required_argument, NULL, 'b'},
	    {"max-body", required_argument, NULL, 'B'},
	    {"max-header", required_argument, NULL, 'H'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"rate", required_argument, NULL, 'r'},
	    {"burst", required_argument, NULL, 'u'},
	    {"max-connections", required_argument, NULL, 'C'},
	    {"max-per-ip", required_argument, NULL, 'P'},
	    {"batch", required_argument, NULL, 'n'},
	    {"trust-proxy", no_argument, NULL, 'x'},
	    {"report-password-env", required_argument, NULL, 'R'},
	    {"admin-listen", required_argument, NULL, 'A'},
	    {"admin-max-body", required_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	struct serve_opts o = {.listen = "127.0.0.1:8025", .admin_listen = "127.0.0.1:8026"};
	unsigned v = 0;
	int ch, rc;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":l:", longopts, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case 'l':
			o.listen = optarg;
			break;
		case 'b':
			o.base_url = optarg;
			break;
		case 'B':
			rc = parse_num("--max-body", optarg, 64, 1 << 20, &o.max_body);
			break;
		case 'H':
			rc = parse_num("--max-header", optarg, 2048, 1 << 20, &o.max_header);
			break;
		case 'T':
			rc = parse_num("--timeout", optarg, 1, 3600, &o.timeout);
			break;
		case 'r':
			rc = parse_num("--rate", optarg, 0, 1000000, &v);
			o.rate = v ? (double)v : -1;
			break;
		case 'u':
			rc = parse_num("--burst", optarg, 1, 1000000, &o.burst);
			break;
		case 'C':
			rc = parse_num("--max-connections", optarg, 1, 100000, &o.max_conns);
			break;
		case 'P':
			rc = parse_num("--max-per-ip", optarg, 1, 100000, &o.max_conns_per_ip);
			break;
		case 'n':
			rc = parse_num("--batch", optarg, 1, 10000, &o.batch_max);
			break;
		case 'x':
			o.trust_proxy = 1;
			break;
		case 'A':
			o.admin_listen = strcmp(optarg, "off") == 0 ? NULL : optarg;
			o.admin_required = 1;
			break;
		case 'M':
			rc = parse_num("--admin-max-body", optarg, 1024, 1u << 30,
			               &o.admin_max_body);
			break;
		case 'R':
			o.report_password = getenv(optarg);
			if (o.report_password == NULL || *o.report_password == '\0')
				return cli_usage("serve", "--report-password-env: %s is not set",
				                 optarg);
			break;
		case ':':
			return cli_usage("serve", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("serve", longopts, argv[optind - 1]);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return cli_usage("serve", "takes no arguments ('%s')", argv[optind]);
	/* Above the global cap it could never bind (http.c cuts it): say so rather than cut it. */
	if (o.max_conns_per_ip > (o.max_conns ? o.max_conns : 1024))
		return cli_usage("serve", "--max-per-ip %u is more than --max-connections %u",
		                 o.max_conns_per_ip, o.max_conns ? o.max_conns : 1024);
	if (o.base_url && strncasecmp(o.base_url, "https://", 8) != 0 &&
	    strncasecmp(o.base_url, "http://", 7) != 0)
		return cli_usage("serve", "--base-url must be an http:// or https:// URL");

	struct config cfg;
	if ((rc = cli_config(c, "serve", &cfg)) != 0)
		return rc;
	struct store *s = NULL;
	if ((rc = cli_open(c, "serve", false, &s)) != 0) {
		config_free(&cfg);
		return rc;
	}
	unsigned char secret[64];
	size_t secret_len = 0;
	char base[512] = "";
	char serr[300];
	if (campaign_secret(s, &cfg, secret, &secret_len, serr, sizeof(serr)) < 0) {
		rc = cli_error("serve", EX_CONFIG, "%s", serr);
		goto out;
	}
	/* The unsubscribe URL in messages is BASE/u/ (token appended): they must agree. */
	if (cfg.unsub_url[0]) {
		size_t ul = strlen(cfg.unsub_url);
		if (o.base_url == NULL && ul > 3 && strcmp(cfg.unsub_url + ul - 3, "/u/") == 0) {
			snprintf(base, sizeof(base), "%.*s", (int)(ul - 3), cfg.unsub_url);
			o.base_url = base;
		} else if (o.base_url) {
			base_check(o.base_url, cfg.unsub_url, false);
		}
	}
	/* The view link in messages is BASE/v/ (token appended): the same check. */
	if (cfg.view_url[0] && o.base_url)
		base_check(o.base_url, cfg.view_url, true);
	if (!c->quiet && log_get_level() < LOG_INFO)
		log_set_level(LOG_INFO);
	o.secret = secret;
	o.secret_len = secret_len;
	o.cfg = &cfg;
	o.ready = serve_ready;
	o.ready_arg = &o;
	char err[512];
	/* A client that goes away while its answer is written: EPIPE, not a signal (http.h). */
	signal(SIGPIPE, SIG_IGN);
	if (serve_run(s, &o, err, sizeof(err)) < 0)
		rc = cli_error("serve",
		               strncmp(err, "cannot listen", 13) == 0 ? EX_UNAVAILABLE
		               : strncmp(err, "--listen", 8) == 0 ||
		                       strncmp(err, "--admin-listen", 14) == 0
		                   ? EX_USAGE
		               : strncmp(err, "[signup]", 8) == 0 ||
		                       strncmp(err, "the subscriber pages", 20) == 0
		                   ? EX_CONFIG
		                   : EX_SOFTWARE,
		               "%s", err);
out:
	memset(secret, 0, sizeof(secret));
	store_close(s);
	config_free(&cfg);
	return rc;
}
