/*
 * bench_compose - how many messages per second kirim's composer turns out on one core.
 *
 * Builds one realistic campaign (a ~10 KB HTML newsletter and a ~2 KB text part using five
 * recipient fields, a personalised subject, List-Unsubscribe, Feedback-ID, VERP) and N
 * recipients' attribute JSON, generated deterministically before any timing. Then, for each
 * mode (no DKIM signer, one RSA-2048 signer, one Ed25519 signer) it times composer_render over
 * the recipients, one thread, with CLOCK_PROCESS_CPUTIME_ID (CPU seconds: a per-core rate that
 * other work on the machine does not distort much) and CLOCK_MONOTONIC (wall seconds).
 * The keys are made fresh with dkim_keygen for each run. Prints one line per mode:
 *
 *   compose mode=unsigned messages=100000 cpu_s=0.850 wall_s=0.861 msgs_per_s=117647
 *     wall_msgs_per_s=116144 us_per_msg=8.50 avg_bytes=13200
 *
 * (on one line). With --check FILE it writes the first message of each mode to FILE (unsigned),
 * FILE.rsa and FILE.ed25519, and each signer's DNS TXT record to FILE.rsa.txt and
 * FILE.ed25519.txt, so that tools/bench-compose can check them with independent parsers.
 * A benchmark, not a test: it is built by meson but not run by `meson test`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/buf.h"
#include "kirim/composer.h"
#include "kirim/par.h"
#include "kirim/dkim.h"
#include "kirim/xmalloc.h"

/* 2026-03-02 09:30:00 UTC: a fixed Date so that runs are byte-for-byte repeatable. */
#define BENCH_NOW 1772443800LL

static const char bench_subject[] = "{{first_name|Friend}}, {{city}} deals for {{plan}} members";

/* The newsletter's fixed head: preheader, logo bar, greeting and the hero block. */
static const char html_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Northwind Outfitters \u2014 March news for {{first_name|you}}</title>\n"
    "<style type=\"text/css\">\n"
    "  body { margin: 0; padding: 0; background: #f2f4f7; }\n"
    "  a { color: #1a5fb4; }\n"
    "  @media only screen and (max-width: 620px) {\n"
    "    .container { width: 100% !important; }\n"
    "    .col { display: block !important; width: 100% !important; }\n"
    "  }\n"
    "</style>\n"
    "</head>\n"
    "<body style=\"margin:0;padding:0;background-color:#f2f4f7;\">\n"
    "<div style=\"display:none;max-height:0;overflow:hidden;\">{{first_name|Hello}}, spring "
    "prices in {{city}} start today \u2014 up to 30% off for {{plan}} members.</div>\n"
    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\" style=\"background-color:#f2f4f7;\">\n"
    "<tr><td align=\"center\" style=\"padding:24px 12px;\">\n"
    "<table role=\"presentation\" class=\"container\" width=\"600\" cellpadding=\"0\" "
    "cellspacing=\"0\" border=\"0\" style=\"width:600px;background-color:#ffffff;"
    "border-radius:6px;\">\n"
    "<tr><td style=\"padding:20px 32px;border-bottom:1px solid #e3e6ea;\">\n"
    "  <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\"><tr>\n"
    "  <td><a href=\"https://www.northwind.example/?utm_source=newsletter&amp;utm_medium="
    "email&amp;utm_campaign=spring\"><img src=\"https://cdn.northwind.example/img/logo-2x.png\" "
    "width=\"160\" height=\"40\" alt=\"Northwind Outfitters\" style=\"display:block;border:0;\">"
    "</a></td>\n"
    "  <td align=\"right\" style=\"font-family:Helvetica,Arial,sans-serif;font-size:12px;"
    "color:#6b7280;\">{{plan}} member \u00b7 {{company}}</td>\n"
    "  </tr></table>\n"
    "</td></tr>\n"
    "<tr><td style=\"padding:32px 32px 8px 32px;font-family:Helvetica,Arial,sans-serif;\">\n"
    "  <h1 style=\"margin:0 0 12px 0;font-size:26px;line-height:32px;color:#111827;\">"
    "Spring is here, {{first_name|friend}}!</h1>\n"
    "  <p style=\"margin:0 0 16px 0;font-size:16px;line-height:24px;color:#374151;\">"
    "Dear {{first_name|customer}} {{last_name}}, thank you for being a {{plan}} member. "
    "This month our stores in {{city}} open their caf\u00e9 corners, and we have picked the "
    "gear our customers at {{company}} and around {{city}} asked for most. Everything below "
    "ships free on {{plan}} orders over \u20ac50.</p>\n"
    "  <table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
    "style=\"margin:8px 0 24px 0;\"><tr>\n"
    "  <td style=\"border-radius:4px;background-color:#1a5fb4;\"><a href=\"https://www."
    "northwind.example/spring?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign="
    "spring&amp;utm_content=hero\" style=\"display:inline-block;padding:12px 28px;"
    "font-family:Helvetica,Arial,sans-serif;font-size:16px;font-weight:bold;color:#ffffff;"
    "text-decoration:none;\">Shop the spring sale</a></td>\n"
    "  </tr></table>\n"
    "</td></tr>\n"
    "<tr><td style=\"padding:0 32px;\"><img src=\"https://cdn.northwind.example/img/spring-"
    "hero-1072.jpg\" width=\"536\" height=\"240\" alt=\"Hikers on a ridge at sunrise\" "
    "style=\"display:block;width:100%;max-width:536px;height:auto;border:0;"
    "border-radius:4px;\"></td></tr>\n";

/* One product card; the table below fills the printf holes, so cards differ as in a real issue. */
static const char html_card[] =
    "<tr><td style=\"padding:24px 32px 0 32px;\">\n"
    "  <table role=\"presentation\" width=\"100%%\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\" style=\"border:1px solid #e5e7eb;border-radius:4px;\"><tr>\n"
    "  <td class=\"col\" width=\"160\" valign=\"top\" style=\"padding:16px;\"><a href=\""
    "https://www.northwind.example/p/%s?utm_source=newsletter&amp;utm_medium=email&amp;"
    "utm_campaign=spring\"><img src=\"https://cdn.northwind.example/img/p/%s-320.jpg\" "
    "width=\"128\" height=\"128\" alt=\"%s\" style=\"display:block;border:0;\"></a></td>\n"
    "  <td class=\"col\" valign=\"top\" style=\"padding:16px 16px 16px 0;font-family:"
    "Helvetica,Arial,sans-serif;\">\n"
    "    <h2 style=\"margin:0 0 6px 0;font-size:18px;line-height:24px;color:#111827;\">%s</h2>\n"
    "    <p style=\"margin:0 0 10px 0;font-size:14px;line-height:21px;color:#4b5563;\">%s</p>\n"
    "    <p style=\"margin:0;font-size:15px;color:#111827;\"><s style=\"color:#9ca3af;\">"
    "\u20ac%s</s> <strong>\u20ac%s</strong> for {{plan}} members \u00b7 "
    "<a href=\"https://www.northwind.example/p/%s?utm_source=newsletter&amp;utm_medium=email"
    "&amp;utm_campaign=spring&amp;utm_content=card\" style=\"color:#1a5fb4;font-weight:bold;"
    "\">View</a></p>\n"
    "  </td></tr></table>\n"
    "</td></tr>\n";

static const struct {
	const char *slug, *name, *blurb, *was, *now;
} html_cards[] = {
    {"trail-jacket-m", "Ridge Trail Jacket",
     "Three-layer shell, 310 g, pit zips and a helmet-ready hood. Sized for layering.", "189",
     "139"},
    {"daypack-24", "Fjell Daypack 24 L",
     "Ventilated back panel, hip-belt pockets and a rain cover in the base.", "95", "72"},
    {"merino-crew", "Merino Crew Base Layer",
     "150 g/m\u00b2 merino that stays fresh for days on the trail.", "65", "49"},
    {"approach-shoe", "Scramble Approach Shoe",
     "Sticky rubber toe, lace-to-toe fit and a cushioned midsole for long approaches.", "145",
     "109"},
};

/* The tail: a local-events block, the referral nudge, the account box and the footer. */
static const char html_tail[] =
    "<tr><td style=\"padding:32px 32px 8px 32px;font-family:Helvetica,Arial,sans-serif;\">\n"
    "  <h2 style=\"margin:0 0 8px 0;font-size:20px;color:#111827;\">This month in {{city}}</h2>"
    "\n"
    "  <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\" style=\"font-size:14px;line-height:21px;color:#374151;\">\n"
    "  <tr><td style=\"padding:6px 0;border-bottom:1px solid #f0f1f3;\"><strong>Sat 14 Mar"
    "</strong></td><td style=\"padding:6px 0;border-bottom:1px solid #f0f1f3;\">Gear swap and "
    "repair caf\u00e9, 10:00\u201316:00, {{city}} store</td></tr>\n"
    "  <tr><td style=\"padding:6px 0;border-bottom:1px solid #f0f1f3;\"><strong>Thu 19 Mar"
    "</strong></td><td style=\"padding:6px 0;border-bottom:1px solid #f0f1f3;\">Evening talk: "
    "packing light for multi-day hikes (free for {{plan}} members)</td></tr>\n"
    "  <tr><td style=\"padding:6px 0;\"><strong>Sun 29 Mar</strong></td><td style=\"padding:"
    "6px 0;\">Guided sunrise walk from the {{city}} store, coffee included</td></tr>\n"
    "  </table>\n"
    "</td></tr>\n"
    "<tr><td style=\"padding:24px 32px;font-family:Helvetica,Arial,sans-serif;\">\n"
    "  <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\" style=\"background-color:#eef4fb;border-radius:4px;\"><tr>\n"
    "  <td style=\"padding:20px;font-size:15px;line-height:22px;color:#1f2937;\">"
    "<strong>Bring a friend, {{first_name|friend}}.</strong> Share your code with colleagues "
    "at {{company}}: they get 15% off their first order and you get \u20ac15 credit "
    "on your {{plan}} account. <a href=\"https://www.northwind.example/refer?utm_source="
    "newsletter&amp;utm_medium=email&amp;utm_campaign=spring\" style=\"color:#1a5fb4;\">"
    "Get your code</a></td>\n"
    "  </tr></table>\n"
    "</td></tr>\n"
    "<tr><td style=\"padding:0 32px 24px 32px;font-family:Helvetica,Arial,sans-serif;"
    "font-size:13px;line-height:20px;color:#6b7280;\">\n"
    "  <p style=\"margin:0 0 8px 0;\">Account: {{first_name}} {{last_name}}, {{company}}, "
    "{{city}} \u00b7 Plan: {{plan}} \u00b7 <a href=\"https://www.northwind.example/"
    "account?utm_source=newsletter\" style=\"color:#6b7280;\">Manage your account</a></p>\n"
    "</td></tr>\n"
    "<tr><td style=\"padding:24px 32px;background-color:#f9fafb;border-top:1px solid #e3e6ea;"
    "font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#6b7280;"
    "border-radius:0 0 6px 6px;\">\n"
    "  <p style=\"margin:0 0 8px 0;\">You receive this email because you are a {{plan}} "
    "member of Northwind Outfitters. Prices valid until 31 March 2026 while stocks last.</p>\n"
    "  <p style=\"margin:0 0 8px 0;\"><a href=\"https://www.northwind.example/stores\" "
    "style=\"color:#6b7280;\">Stores</a> \u00b7 <a href=\"https://www.northwind.example/"
    "help\" style=\"color:#6b7280;\">Help</a> \u00b7 <a href=\"https://www.northwind."
    "example/privacy\" style=\"color:#6b7280;\">Privacy</a> \u00b7 <a href=\""
    "{{unsubscribe_url}}\" style=\"color:#6b7280;\">Unsubscribe</a></p>\n"
    "  <p style=\"margin:0;\">Northwind Outfitters GmbH, Bahnhofstra\u00dfe 12, 8001 "
    "Z\u00fcrich, Switzerland</p>\n"
    "</td></tr>\n"
    "</table>\n"
    "</td></tr>\n"
    "</table>\n"
    "</body>\n"
    "</html>\n";

static const char text_tpl[] =
    "Spring is here, {{first_name|friend}}!\n"
    "\n"
    "Dear {{first_name|customer}} {{last_name}}, thank you for being a {{plan}} member.\n"
    "This month our stores in {{city}} open their caf\u00e9 corners, and we have picked the\n"
    "gear our customers at {{company}} and around {{city}} asked for most. Everything\n"
    "below ships free on {{plan}} orders over EUR 50.\n"
    "\n"
    "Shop the spring sale: https://www.northwind.example/spring?utm_source=newsletter\n"
    "\n"
    "* Ridge Trail Jacket - EUR 139 (was 189)\n"
    "  https://www.northwind.example/p/trail-jacket-m\n"
    "* Fjell Daypack 24 L - EUR 72 (was 95)\n"
    "  https://www.northwind.example/p/daypack-24\n"
    "* Merino Crew Base Layer - EUR 49 (was 65)\n"
    "  https://www.northwind.example/p/merino-crew\n"
    "* Scramble Approach Shoe - EUR 109 (was 145)\n"
    "  https://www.northwind.example/p/approach-shoe\n"
    "\n"
    "THIS MONTH IN {{city}}\n"
    "- Sat 14 Mar: gear swap and repair caf\u00e9, 10:00-16:00, {{city}} store\n"
    "- Thu 19 Mar: evening talk, packing light for multi-day hikes\n"
    "  (free for {{plan}} members)\n"
    "- Sun 29 Mar: guided sunrise walk from the {{city}} store, coffee included\n"
    "\n"
    "Bring a friend, {{first_name|friend}}. Share your code with colleagues at\n"
    "{{company}}: they get 15% off their first order and you get EUR 15 credit on\n"
    "your {{plan}} account: https://www.northwind.example/refer\n"
    "\n"
    "Account: {{first_name}} {{last_name}}, {{company}}, {{city}} - Plan: {{plan}}\n"
    "Manage your account: https://www.northwind.example/account\n"
    "\n"
    "--\n"
    "You receive this email because you are a {{plan}} member of Northwind\n"
    "Outfitters. Prices valid until 31 March 2026 while stocks last.\n"
    "Stores: https://www.northwind.example/stores\n"
    "Help: https://www.northwind.example/help\n"
    "Unsubscribe: {{unsubscribe_url}}\n"
    "Northwind Outfitters GmbH, Bahnhofstrasse 12, 8001 Zurich, Switzerland\n";

/* Recipient data: names with and without UTF-8, an ASCII slug for each first name. */
static const struct {
	const char *name, *slug;
} first_names[] = {
    {"Anna", "anna"},       {"Jos\u00e9", "jose"},
    {"Zo\u00eb", "zoe"},    {"S\u00f8ren", "soren"},
    {"Liam", "liam"},       {"\u0141ukasz", "lukasz"},
    {"Mei", "mei"},         {"Fran\u00e7ois", "francois"},
    {"Olivia", "olivia"},   {"Bj\u00f6rn", "bjorn"},
    {"Noah", "noah"},       {"In\u00eas", "ines"},
    {"Hiroshi", "hiroshi"}, {"\u041e\u043b\u044c\u0433\u0430", "olga"},
    {"Emma", "emma"},       {"Mat\u00edas", "matias"},
    {"Priya", "priya"},     {"Jan", "jan"},
    {"Ay\u015fe", "ayse"},  {"Lucas", "lucas"},
};
static const char *const last_names[] = {
    "Smith",    "M\u00fcller",  "Garc\u00eda",  "Kowalski",
    "Tanaka",   "O'Brien",      "Nguy\u1ec5n",  "Johansson",
    "Rossi",    "Dubois",       "van der Berg", "Y\u0131lmaz",
    "Patel",    "Schmidt",      "Silva",        "\u017divkovi\u0107",
    "Andersen", "Lef\u00e8vre", "Brown",        "Kim",
};
static const char *const cities[] = {
    "Z\u00fcrich", "Berlin",         "S\u00e3o Paulo", "Krak\u00f3w",
    "London",      "M\u00fcnchen",   "Lyon",           "Oslo",
    "Wien",        "Amsterdam",      "Montr\u00e9al",  "Barcelona",
    "Copenhagen",  "Reykjav\u00edk", "Milano",         "Gen\u00e8ve",
};
static const char *const plans[] = {"Basic", "Plus", "Pro", "Team"};
static const char *const companies[] = {
    "Acme & Sons",  "M\u00fcller GmbH",  "Globex",           "Initech",
    "Umbrella Ltd", "Soylent \"Green\"", "Stark Industries", "Caf\u00e9 du Nord",
    "Hooli",        "Wayne Enterprises", "<Pied Piper>",     "Nordisk Sk\u00f8ter AS",
};
static const char *const domains[] = {
    "example.com",   "example.org",  "mail.example.net",    "xn--mller-kva.example",
    "example.co.uk", "corp.example", "xn--caf-dma.example", "example.de",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t
bench_rand(uint64_t *s)
{
	/* splitmix64: deterministic and good enough to pick names. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct bench_recipients {
	size_t n;
	struct composer_recipient *r;
	char *arena; /* every email and attrs string, NUL-terminated, one after another */
};

/* bench_recipients_make - n recipients, the same ones for the same n on every run */
static void
bench_recipients_make(size_t n, struct bench_recipients *out)
{
	struct buf a = BUF_INIT;
	size_t *email_at = xmalloc(n * sizeof(*email_at));
	size_t *attrs_at = xmalloc(n * sizeof(*attrs_at));
	uint64_t seed = 20260302;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = bench_rand(&seed);
		size_t fi = x % NELEM(first_names);
		const char *last = last_names[(x >> 8) % NELEM(last_names)];
		const char *city = cities[(x >> 16) % NELEM(cities)];
		const char *plan = plans[(x >> 24) % NELEM(plans)];
		const char *company = companies[(x >> 32) % NELEM(companies)];
		const char *domain = domains[(x >> 40) % NELEM(domains)];
		/* One in 16 has no first name, so the subject's {{first_name|Friend}} default runs.
		 */
		int anon = ((x >> 48) & 15) == 0;
		const char *first = anon ? "" : first_names[fi].name;

		email_at[i] = a.len;
		buf_printf(&a, "%s.%zu@%s", anon ? "member" : first_names[fi].slug, i + 1, domain);
		buf_addc(&a, 0);
		attrs_at[i] = a.len;
		buf_adds(&a, "{\"first_name\":");
		buf_json_string(&a, first, strlen(first));
		buf_adds(&a, ",\"last_name\":");
		buf_json_string(&a, last, strlen(last));
		buf_adds(&a, ",\"city\":");
		buf_json_string(&a, city, strlen(city));
		buf_adds(&a, ",\"plan\":");
		buf_json_string(&a, plan, strlen(plan));
		buf_adds(&a, ",\"company\":");
		buf_json_string(&a, company, strlen(company));
		buf_addc(&a, '}');
		buf_addc(&a, 0);
	}
	out->n = n;
	out->arena = a.data; /* the buf's memory is handed over */
	out->r = xcalloc(n, sizeof(*out->r));
	for (size_t i = 0; i < n; i++) {
		out->r[i].contact_id = (int64_t)i + 1;
		out->r[i].email = out->arena + email_at[i];
		out->r[i].attrs = out->arena + attrs_at[i];
	}
	free(email_at);
	free(attrs_at);
}

static void
bench_recipients_free(struct bench_recipients *rs)
{
	free(rs->r);
	free(rs->arena);
}

/* bench_html - the newsletter template: head, the product cards, tail */
static void
bench_html(struct buf *out)
{
	buf_adds(out, html_head);
	for (size_t i = 0; i < NELEM(html_cards); i++)
		buf_printf(out, html_card, html_cards[i].slug, html_cards[i].slug,
		           html_cards[i].name, html_cards[i].name, html_cards[i].blurb,
		           html_cards[i].was, html_cards[i].now, html_cards[i].slug);
	buf_adds(out, html_tail);
}

static double
bench_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench_die(const char *what, const char *err)
{
	fprintf(stderr, "bench_compose: %s: %s\n", what, err);
	exit(1);
}

static void
bench_write(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bench_die(path, strerror(errno));
}

/* bench_signer - a fresh key of the given type and a signer for example.com; TXT to txt */
static struct dkim_signer *
bench_signer(enum dkim_key_type type, const char *selector, struct buf *txt)
{
	char err[256];
	struct buf pem = BUF_INIT;
	struct dkim_key *key;
	struct dkim_signer *s;
	if (dkim_keygen(type, 2048, &pem, err, sizeof(err)) < 0)
		bench_die("dkim_keygen", err);
	if (dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)) < 0)
		bench_die("dkim_key_load", err);
	if (dkim_pubkey_txt(key, txt) < 0)
		bench_die("dkim_pubkey_txt", "failed");
	if (dkim_signer_new(key, "northwind.example", selector, &s, err, sizeof(err)) < 0)
		bench_die("dkim_signer_new", err);
	dkim_key_free(key); /* the signer keeps its own reference */
	buf_free(&pem);
	return s;
}

/* bench_run - render n messages in one mode and print its line; check may be NULL */
/* With --threads: each batch composed (rendered and signed) on every thread, each thread with
 * its own composer (composer_dup) and signers, as the sender does. */
#define BENCH_BATCH 256
struct bench_par {
	struct composer **comps; /* one per thread */
	double *busy;            /* per thread: CPU seconds spent composing (its own clock) */
	const struct composer_recipient *r; /* the batch's */
	struct buf *out;                    /* BENCH_BATCH */
	char err[256];
	int failed;
};

static void
bench_compose_one(void *arg, unsigned t, size_t i)
{
	struct bench_par *x = arg;
	char envelope[ADDRESS_MAX + 1], err[256];
	double t0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	buf_reset(&x->out[i]);
	if (composer_render(x->comps[t], &x->r[i], BENCH_NOW, 60, &x->out[i], envelope, err,
	                    sizeof(err)) < 0) {
		snprintf(x->err, sizeof(x->err), "%s", err);
		x->failed = 1;
	}
	x->busy[t] += bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
}

static void
bench_run(const char *mode, const struct bench_recipients *rs, size_t n, const char *html,
          const char *check, unsigned threads)
{
	char err[512];
	struct buf txt = BUF_INIT;
	struct dkim_signer *signer = NULL;
	if (strcmp(mode, "rsa") == 0)
		signer = bench_signer(DKIM_KEY_RSA, "bench-rsa", &txt);
	else if (strcmp(mode, "ed25519") == 0)
		signer = bench_signer(DKIM_KEY_ED25519, "bench-ed", &txt);

	static const unsigned char secret[32] = {
	    0x6b, 0x69, 0x72, 0x69, 0x6d, 0x2d, 0x62, 0x65, 0x6e, 0x63, 0x68,
	    0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x2d, 0x30, 0x31, 0x32,
	    0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63,
	};
	struct composer_campaign camp = {
	    .id = 42,
	    .name = "Spring newsletter 2026",
	    .subject = bench_subject,
	    .text = text_tpl,
	    .html = html,
	    .from_name = "Northwind Outfitters",
	    .from_addr = "news@northwind.example",
	    .reply_to = "help@northwind.example",
	};
	struct composer_identity id = {
	    .secret = secret,
	    .secret_len = sizeof(secret),
	    .unsub_url = "https://mail.example.com/u/",
	    .bounce_domain = "bounce.example.com",
	    .feedback_id = "bench",
	    .signers = &signer,
	    .n_signers = signer ? 1 : 0,
	};
	struct composer *c;
	if (composer_new(&camp, &id, &c, err, sizeof(err)) < 0)
		bench_die("composer_new", err);

	struct buf out = BUF_INIT, first = BUF_INIT;
	char envelope[ADDRESS_MAX + 1];
	unsigned long long bytes = 0;
	struct par *par = signer && threads > 1 ? par_new(threads) : NULL;
	struct bench_par x = {0};
	struct dkim_signer **tsigners = NULL;
	if (par) {
		unsigned nt = par_threads(par);
		x.comps = xcalloc(nt, sizeof(*x.comps));
		x.busy = xcalloc(nt, sizeof(*x.busy));
		tsigners = xcalloc(nt, sizeof(*tsigners));
		x.comps[0] = c;
		for (unsigned t = 1; t < nt; t++) {
			if (dkim_signer_dup(signer, &tsigners[t], err, sizeof(err)) < 0)
				bench_die("dkim_signer_dup", err);
			composer_dup(c, &tsigners[t], &x.comps[t]);
		}
		x.out = xcalloc(BENCH_BATCH, sizeof(*x.out));
	}
	double cpu0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
	double wall0 = bench_clock(CLOCK_MONOTONIC);
	for (size_t i = 0; i < n && par == NULL; i++) {
		buf_reset(&out);
		if (composer_render(c, &rs->r[i], BENCH_NOW, 60, &out, envelope, err, sizeof(err)) <
		    0)
			bench_die("composer_render", err);
		bytes += out.len;
		if (i == 0)
			buf_add(&first, out.data, out.len);
	}
	for (size_t i = 0; i < n && par != NULL; i += BENCH_BATCH) {
		size_t k = n - i < BENCH_BATCH ? n - i : BENCH_BATCH;
		x.r = &rs->r[i];
		par_for(par, k, bench_compose_one, &x);
		if (x.failed)
			bench_die("composer_render", x.err);
		for (size_t j = 0; j < k; j++)
			bytes += x.out[j].len;
		if (i == 0)
			buf_add(&first, x.out[0].data, x.out[0].len);
	}
	double cpu = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	double wall = bench_clock(CLOCK_MONOTONIC) - wall0;
	/* The busiest thread's composing CPU time bounds the wall time on free cores: its rate
	 * is what N threads reach when nothing else wants the cores (load-independent). */
	double busiest = cpu;
	for (unsigned t = 0; par && t < par_threads(par); t++)
		busiest = t == 0 || x.busy[t] > busiest ? x.busy[t] : busiest;
	if (par) {
		for (unsigned t = 1; t < par_threads(par); t++) {
			composer_free(x.comps[t]);
			dkim_signer_free(tsigners[t]);
		}
		for (size_t j = 0; j < BENCH_BATCH; j++)
			buf_free(&x.out[j]);
		free(x.comps);
		free(x.busy);
		free(tsigners);
		free(x.out);
	}
	if (cpu < 1e-9)
		cpu = 1e-9;
	if (wall < 1e-9)
		wall = 1e-9;
	if (busiest < 1e-9)
		busiest = 1e-9;

	printf("compose mode=%s messages=%zu threads=%u cpu_s=%.3f wall_s=%.3f msgs_per_s=%.0f "
	       "wall_msgs_per_s=%.0f us_per_msg=%.2f avg_bytes=%.0f busiest_thread_s=%.3f "
	       "busiest_msgs_per_s=%.0f\n",
	       mode, n, par_threads(par), cpu, wall, (double)n / cpu, (double)n / wall,
	       cpu * 1e6 / (double)n, (double)bytes / (double)n, busiest, (double)n / busiest);
	par_free(par);
	fflush(stdout);

	if (check != NULL) {
		struct buf path = BUF_INIT;
		if (signer == NULL) {
			buf_adds(&path, check);
		} else {
			buf_printf(&path, "%s.%s.txt", check, mode);
			bench_write(path.data, txt.data, txt.len);
			buf_reset(&path);
			buf_printf(&path, "%s.%s", check, mode);
		}
		bench_write(path.data, first.data, first.len);
		buf_free(&path);
	}
	buf_free(&out);
	buf_free(&first);
	buf_free(&txt);
	composer_free(c);
	dkim_signer_free(signer);
}

static void
bench_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bench_compose [--messages N] [--signed-messages N] "
	    "[--mode unsigned|rsa|ed25519|all] [--check FILE] [--threads N]\n"
	    "  --threads N          signed runs: compose each batch on N threads, each with\n"
	    "                       its own composer and signers (the sender's way; default 1)\n"
	    "  --messages N         unsigned messages to render (default 100000)\n"
	    "  --signed-messages N  messages per signed mode (default: --messages)\n"
	    "  --mode M             which runs (default all: unsigned, rsa, ed25519)\n"
	    "  --check FILE         write the first message of each run to FILE (unsigned),\n"
	    "                       FILE.rsa, FILE.ed25519; the DNS TXT records to FILE.rsa.txt,\n"
	    "                       FILE.ed25519.txt\n");
}

static size_t
bench_count(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (s == NULL || *s < '0' || *s > '9' || *end != '\0' || errno != 0 || v == 0 ||
	    v > 100000000ull) {
		fprintf(stderr, "bench_compose: %s wants a count from 1 to 100000000\n", opt);
		exit(2);
	}
	return (size_t)v;
}

int
main(int argc, char **argv)
{
	size_t n = 100000, n_signed = 0;
	const char *mode = "all", *check = NULL;
	unsigned threads = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--messages") == 0) {
			n = bench_count(a, v);
			i++;
		} else if (strcmp(a, "--signed-messages") == 0) {
			n_signed = bench_count(a, v);
			i++;
		} else if (strcmp(a, "--mode") == 0 && v != NULL) {
			mode = v;
			i++;
		} else if (strcmp(a, "--threads") == 0) {
			threads = (unsigned)bench_count(a, v);
			i++;
		} else if (strcmp(a, "--check") == 0 && v != NULL) {
			check = v;
			i++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			bench_usage(stdout);
			return 0;
		} else {
			bench_usage(stderr);
			return 2;
		}
	}
	int all = strcmp(mode, "all") == 0;
	if (!all && strcmp(mode, "unsigned") != 0 && strcmp(mode, "rsa") != 0 &&
	    strcmp(mode, "ed25519") != 0) {
		bench_usage(stderr);
		return 2;
	}
	if (n_signed == 0)
		n_signed = n;

	struct buf html = BUF_INIT;
	bench_html(&html);
	struct bench_recipients rs;
	size_t n_max = n > n_signed ? n : n_signed;
	bench_recipients_make(n_max, &rs);
	printf("compose setup subject_tpl_bytes=%zu html_tpl_bytes=%zu text_tpl_bytes=%zu "
	       "recipients=%zu attrs_bytes_first=%zu\n",
	       strlen(bench_subject), html.len, strlen(text_tpl), rs.n, strlen(rs.r[0].attrs));

	if (all || strcmp(mode, "unsigned") == 0)
		bench_run("unsigned", &rs, n, html.data, check, 1);
	if (all || strcmp(mode, "rsa") == 0)
		bench_run("rsa", &rs, n_signed, html.data, check, threads);
	if (all || strcmp(mode, "ed25519") == 0)
		bench_run("ed25519", &rs, n_signed, html.data, check, threads);

	bench_recipients_free(&rs);
	buf_free(&html);
	return 0;
}
