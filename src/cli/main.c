/*
 * main - kirim's command line: `kirim <command> [options]`, git-style.
 *
 * Global options (--db, --json, --quiet, --verbose, --help) are taken from
 * anywhere before a "--" and removed; the rest goes to the command.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kirim/log.h"

static int cmd_help(struct cli *c, int argc, char **argv);

const struct cli_command cli_commands[] = {
    {"init", cmd_init, "create the database (or bring it to this version's schema)",
     "Usage: kirim init [--db PATH]\n"
     "\n"
     "Create the kirim database, or migrate an existing one to this version's schema.\n"
     "Safe to run again. Prints the file and its schema version.\n"},
    {"import", cmd_import, "load a recipient list from a CSV file",
     "Usage: kirim import FILE|- --list NAME [options]\n"
     "\n"
     "Load recipients from a CSV file (or standard input with -) into the list NAME,\n"
     "creating it if needed. The first row must be a header: the address column is\n"
     "found by name (email, e-mail, email_address, ...) and every other column becomes\n"
     "a contact attribute, usable as {{column}} in templates. The whole import is one\n"
     "transaction: an error or Ctrl-C leaves the database unchanged, and importing the\n"
     "same file again changes nothing.\n"
     "\n"
     "Options:\n"
     "  -l, --list NAME          the list to add the contacts to (required)\n"
     "  -e, --email-column NAME  the header of the address column\n"
     "  -d, --delimiter C        ',' ';' or 'tab' (default: sniffed from the header)\n"
     "      --encoding ENC       utf-8 (default), windows-1252 (latin1 means it too),\n"
     "                           iso-8859-15, utf-16, shift_jis, gb18030, or any name\n"
     "                           iconv -l lists; UTF-16 with a byte order mark is\n"
     "                           recognised without it\n"
     "  -u, --update             merge new attribute values into existing contacts\n"
     "      --allow-ip-literals  accept addresses like user@[192.0.2.1]\n"
     "  -r, --rejects FILE       write refused rows (line, raw row, reason) as CSV\n"
     "      --map \"Col=key,...\"  store the column Col as the attribute key (key email:\n"
     "                           the address column); headers compare ignoring case\n"
     "      --ignore-column NAME store nothing of this column (repeatable)\n"
     "      --tags-column NAME   the column holds tags, split on ',' or ';': a new\n"
     "                           contact's tags (with --update, a known one's too)\n"
     "\n"
     "The summary lists every column and the attribute (template key) it became.\n"
     "A column named by --map, --ignore-column or --tags-column must be in the header.\n"
     "Addresses erased with 'kirim contacts delete --erase' are refused (rejected).\n"
     "Rows that cannot be imported (a bad address, a byte not in the encoding, a row\n"
     "over 1 MiB) are refused one by one and counted; when most of the first rows are\n"
     "not valid text, the import stops first and names the likely encoding.\n"
     "Without --update, values a known contact does not hold are not stored, and the\n"
     "summary counts them.\n"
     "\n"
     "Exit status: 0 when imported (even with rejected rows), 65 when the file cannot\n"
     "be imported, 66 when it cannot be read, 130 when interrupted.\n"},
    {"lists", cmd_lists, "show lists and their sizes; show or delete one; a signup form",
     "Usage: kirim lists [list]\n"
     "       kirim lists show NAME\n"
     "       kirim lists delete NAME\n"
     "       kirim lists form NAME [--lang TAG]\n"
     "       kirim lists check [--fix]\n"
     "\n"
     "List every list with its members and how many of them are suppressed, show one,\n"
     "or delete one (its contacts stay in the database and in other lists).\n"
     "'form' prints the HTML of the list's signup form, to paste into another site: it\n"
     "posts to kirim serve's /s/NAME (the list must be in kirim.conf's [signup] lists),\n"
     "in the language TAG (default: [pages] language). See docs/pages.md.\n"
     "'check' counts every list's members and suppressed members again and compares\n"
     "them with the counts kept as members and suppressions change (exit 65 when one\n"
     "differs); --fix replaces the kept counts with the new ones.\n"},
    {"contacts", cmd_contacts, "show, search, change, tag, export and delete contacts",
     "Usage: kirim contacts show ADDRESS\n"
     "       kirim contacts search TEXT [--list NAME] [--limit N]\n"
     "       kirim contacts set ADDRESS KEY=VALUE... [KEY=]\n"
     "       kirim contacts export [--list NAME] [--segment NAME | --where EXPR]\n"
     "                             [--columns email,KEY,...] [--no-formula-guard] [-o FILE]\n"
     "       kirim contacts delete ADDRESS... [--erase]\n"
     "       kirim contacts tag ADDRESS... [--add TAG]... [--remove TAG]...\n"
     "       kirim contacts tag --segment NAME [--add TAG]... [--remove TAG]...\n"
     "       kirim contacts tags\n"
     "\n"
     "Show a contact (attributes, lists, tags, suppression) by address, compared\n"
     "case-insensitively, or find contacts whose address contains TEXT.\n"
     "tag adds and removes tags on the contacts named (all of them must exist, or\n"
     "nothing changes) or on every contact a segment matches now; tags compare\n"
     "case-insensitively and are 1 to 64 bytes without commas. Segments test them\n"
     "with tag(\"vip\"). tags lists every tag with how many contacts have it.\n"
     "set changes attributes of an existing contact: KEY= removes one.\n"
     "export writes CSV (RFC 4180, CRLF, a header row) of every contact, or of a list,\n"
     "a segment or an expression (docs/segments.md), to standard output or FILE:\n"
     "the address and every attribute, or the columns named. A value a spreadsheet\n"
     "would run as a formula (=, @, or + and - before anything but a number or a\n"
     "telephone number) gets a leading ' unless --no-formula-guard.\n"
     "delete: the contacts leave (attributes, tags, lists); their messages stay in\n"
     "reports. --erase is the right to erasure: nothing about the person stays but\n"
     "anonymous message rows, and the address is kept only as a hash, so that it is\n"
     "never imported or mailed again. See docs/contacts.md.\n"
     "\n"
     "Options:\n"
     "  -l, --list NAME     only members of this list\n"
     "  -n, --limit N       at most N results (default 50, 0 for all)\n"
     "  -a, --add TAG       tag to add (repeatable)\n"
     "  -r, --remove TAG    tag to remove (repeatable)\n"
     "  -s, --segment NAME  tag (or export) the contacts this segment matches\n"
     "  -w, --where EXPR    export the contacts this expression matches\n"
     "  -c, --columns LIST  export these columns (email is the address)\n"
     "  -o, --output FILE   export into FILE (default: standard output)\n"
     "      --no-formula-guard  export values exactly as stored\n"
     "      --erase         delete: erase the person (right to erasure)\n"},
    {"segment", cmd_segment, "saved filters over contacts: add, show, count",
     "Usage: kirim segment add NAME EXPRESSION [--replace]\n"
     "       kirim segment list\n"
     "       kirim segment show NAME [--limit N]\n"
     "       kirim segment count EXPRESSION [--plan]\n"
     "       kirim segment remove NAME\n"
     "       kirim segment index ATTRIBUTE | unindex ATTRIBUTE | indexes\n"
     "\n"
     "A segment is a named filter over contacts, evaluated when it is used: counted by\n"
     "show and count, and taken when a campaign with --segment is queued. Expressions\n"
     "(docs/segments.md has the grammar):\n"
     "\n"
     "  city = \"Jakarta\" and plan in (\"gold\", \"platinum\") and clicked(any, 30d)\n"
     "  \"First Name\" starts_with \"An\" or age >= 30 or signup > 2024-01-31\n"
     "  list(\"customers\") and not tag(\"vip\") and not bounced(any, hard)\n"
     "  delivered(\"spring\") and not opened(\"spring\")\n"
     "\n"
     "Attributes are the contacts' CSV columns; = != in contains starts_with compare\n"
     "text (ASCII case ignored), < <= > >= numbers or dates, the literal saying which\n"
     "(42, 2024-01-31); is empty, is not empty. list(), tag(), segment(). Engagement in\n"
     "a campaign (\"NAME\") or any, optionally within the last N days: sent, delivered,\n"
     "bounced (hard, soft), opened, clicked, unsubscribed, complained. and, or, not,\n"
     "parentheses. Errors say LINE:COLUMN.\n"
     "add stores the expression in its canonical form (--replace changes an existing\n"
     "one). show prints the expression, its JSON form, how many contacts match now and\n"
     "a sample of their addresses (--limit, default 10). count evaluates an expression\n"
     "without saving it; --plan prints SQLite's query plan and the time it took. remove\n"
     "is refused while a campaign that is not done or cancelled uses the segment, or\n"
     "another segment refers to it.\n"
     "index makes an index on an attribute, so that counting and showing a segment with\n"
     "ATTRIBUTE = \"text\" or ATTRIBUTE in (...) (under ands only) reads the matching\n"
     "contacts instead of every contact's attributes (a 1,000,000-contact database: a few\n"
     "seconds to make, tens of MB, a little slower imports); unindex drops it; indexes\n"
     "lists them.\n"},
    {"suppress", cmd_suppress, "manage the suppression list (never mailed)",
     "Usage: kirim suppress add ADDRESS|DOMAIN... [--reason R] [--source TEXT]\n"
     "       kirim suppress remove ADDRESS|DOMAIN...\n"
     "       kirim suppress list [--reason R] [--limit N]\n"
     "       kirim suppress import FILE|- [--reason R] [--source TEXT]\n"
     "\n"
     "Suppressed addresses and domains stay in their lists but are never mailed.\n"
     "An argument with an @ is an address; one without (or starting with @) is a\n"
     "whole domain. Addresses compare case-insensitively; domains may be given in\n"
     "Unicode. 'import' reads one address or domain per line (the first CSV column;\n"
     "a header line and lines starting with # are skipped) in one transaction.\n"
     "\n"
     "Options:\n"
     "  --reason R    manual (default), hard_bounce, soft_bounce, complaint or\n"
     "                unsubscribe\n"
     "  --source TEXT where the suppression came from (free text)\n"
     "  -n, --limit N at most N rows for 'list' (default: all)\n"},
    {"template", cmd_template, "store, check and try out message templates",
     "Usage: kirim template add NAME [FILE] [--subject S] [--text FILE] [--html FILE]\n"
     "       kirim template list\n"
     "       kirim template show NAME [--version N]\n"
     "       kirim template lint NAME|FILE [--list LIST]\n"
     "       kirim template render FILE [--data JSON_FILE] [--partial NAME=FILE]...\n"
     "                                  [--escape html|none|header]\n"
     "       kirim template test NAME --from SENDER --to ADDRESS... [--version N]\n"
     "\n"
     "Templates are Mustache (https://mustache.github.io) with one addition: a default\n"
     "for a missing or empty field, {{first_name|there}}. A template has a subject and a\n"
     "text part, an HTML part, or both. One file can hold all three:\n"
     "\n"
     "  Subject: Hello {{first_name|there}}\n"
     "\n"
     "  --- text\n"
     "  Hi {{first_name|there}}! Unsubscribe: {{unsubscribe_url}}\n"
     "  --- html\n"
     "  <p>Hi {{first_name|there}}!</p>\n"
     "\n"
     "Adding a template under an existing name stores a new version; campaigns keep the\n"
     "version they were created with. 'lint' reports syntax errors with line:column and,\n"
     "with --list, the fields no member of the list has, with the column each one probably\n"
     "meant ('First_Name': did you mean 'First Name'?). It warns (exit 0) about a text or\n"
     "HTML part with no unsubscribe link ({{unsubscribe_url}}). 'render' prints plain\n"
     "Mustache output for a JSON data file (any JSON value; - reads standard input),\n"
     "HTML-escaped unless --escape says otherwise. 'test' sends proofs of a saved version\n"
     "from SENDER to up to 20 seed addresses through kirim.conf's [relay], recorded\n"
     "nowhere (as 'kirim campaign test', before there is a campaign).\n"
     "\n"
     "Fields every message has: email, domain, name, unsubscribe_url, unsubscribe_token,\n"
     "view_url, campaign.name, campaign.id, sender.name, sender.email; the rest come from\n"
     "the recipient's CSV columns, named as in the header: {{First Name}} for a column\n"
     "'First Name', {{utm.source}} for a column 'utm.source' (a dot means nesting).\n"},
    {"campaign", cmd_campaign, "create, schedule and control campaigns",
     "Usage: kirim campaign create NAME AUDIENCE --template NAME[:VERSION]\n"
     "                             --from \"Name <address>\" [--reply-to ADDRESS]\n"
     "                             [--header \"Name: value\"]... [--track-opens]\n"
     "                             [--track-clicks] [--unsubscribe-scope all|list]\n"
     "         AUDIENCE: [--list LIST]... [--segment SEGMENT]...\n"
     "                   [--exclude-list LIST]... [--exclude-segment SEGMENT]...\n"
     "                   [--not-sent-by CAMPAIGN] [--not-opened CAMPAIGN]\n"
     "                   [--not-clicked CAMPAIGN]\n"
     "       kirim campaign list\n"
     "       kirim campaign show NAME\n"
     "       kirim campaign schedule NAME (--at TIME [--tz ZONE] | --now)\n"
     "                               [--window \"Mon-Fri 08:00-18:00\"] [--skip-bad]\n"
     "       kirim campaign unschedule NAME\n"
     "       kirim campaign pause NAME [--reason TEXT]\n"
     "       kirim campaign resume NAME [--skip-bad]\n"
     "       kirim campaign cancel NAME [--yes] [--reason TEXT]\n"
     "       kirim campaign test NAME --to ADDRESS [--to ADDRESS]... [options of 'send']\n"
     "       kirim campaign plan NAME [--dns-server ADDR:PORT] [--dns-timeout MS]\n"
     "                 [--concurrency N] [--dest-concurrency N] [--msgs-per-conn N]\n"
     "                 [--assume-rate MSGS_PER_S_PER_CONN] [--suppress-dead] [--now UNIXTIME]\n"
     "                 [--relay URL | --direct] [--mta-sts-port PORT] [--egress POOL]\n"
     "\n"
     "A campaign sends one template version to its audience from one sender. The\n"
     "audience is every contact on its lists and in its segments (each contact once),\n"
     "less those on an excluded list or in an excluded segment, taken when the campaign\n"
     "is queued (its first send) and again when a send resumes it. Follow-ups of an\n"
     "earlier campaign C: --not-sent-by C leaves out whoever C delivered to (resume an\n"
     "interrupted send as a new campaign), --not-opened C and --not-clicked C keep those\n"
     "C delivered to who did not open or click; without --list or --segment they start\n"
     "from C's audience. show prints what the audience is made of now: each list and\n"
     "segment, what each exclusion takes away, and how many are suppressed.\n"
     "Custom headers\n"
     "may not replace the ones kirim writes (From, Subject, Content-*, List-Unsubscribe...).\n"
     "--track-opens adds a 1x1 image and --track-clicks sends the HTML part's links through\n"
     "'kirim serve' (both off by default; they need [unsubscribe] url = BASE/u/, the base\n"
     "'kirim serve' answers at, and create refuses them without it, exit 78).\n"
     "--unsubscribe-scope list makes an unsubscribe leave only this campaign's list instead\n"
     "of every mailing (default: all); it needs exactly one --list.\n"
     "\n"
     "Lifecycle: draft -> scheduled -> sending -> (paused <-> sending) -> done | cancelled.\n"
     "schedule (from draft, scheduled or paused) sets when 'kirim run' starts the campaign:\n"
     "--at \"2026-12-07 09:00\" is local time in --tz (an IANA zone such as Asia/Jakarta;\n"
     "default the machine's zone), or ISO 8601 with an offset (\"2026-12-07T09:00:00+07:00\",\n"
     "\"...Z\"). A time in the past is refused; --now starts it at once. A time the clocks\n"
     "skip for daylight saving is refused (the message names the first valid time); a time\n"
     "that happens twice means the first. --window limits sending to opening hours in the\n"
     "zone: \"Mon-Fri 08:00-18:00\", \"Sat 10:00-14:00\", \"Mon,Wed,Fri 09:00-17:00\", several\n"
     "joined by \";\"; \"Fri 22:00-06:00\" crosses midnight; an opening the clocks skip moves\n"
     "to the end of the gap. Scheduling again replaces the time and window.\n"
     "schedule and resume first check that the sender identity is usable, that the list is\n"
     "not empty after suppressions, and that the template renders for every recipient; the\n"
     "ones that do not are listed (the first 20) and refused unless --skip-bad, which\n"
     "records them so the sender skips them.\n"
     "unschedule (scheduled -> draft). pause (scheduled or sending -> paused): a running\n"
     "sender finishes what is in flight and starts nothing new. resume (paused -> sending,\n"
     "or -> scheduled while its time is still ahead). cancel (any state but done ->\n"
     "cancelled, final): queued messages become cancelled; a campaign that has queued\n"
     "messages needs --yes.\n"
     "test sends the campaign's message, exactly as it would go, to up to 20 seed\n"
     "addresses (a list member gets their own fields; anyone else the built-in ones),\n"
     "through the relay or MX hosts as 'kirim send' would, and prints one line per\n"
     "address (outcome, reply code, enhanced code, text). Proofs are recorded nowhere: not\n"
     "in the campaign's messages, not in its report. Exit 0 when every proof was\n"
     "delivered, 69 otherwise.\n"
     "plan resolves every recipient domain's MX once, groups domains into destinations as\n"
     "kirim send does, and estimates from today's policies and warm-up caps when each\n"
     "destination and the campaign would finish (where no rate limits it, --assume-rate\n"
     "messages/s per connection, default 20) and which destination is the bottleneck.\n"
     "Domains that cannot receive mail (NXDOMAIN, null MX, no MX and no address) are listed;\n"
     "--suppress-dead suppresses them (hard_bounce) and marks their queued messages.\n"
     "Direct, it also finds the TLS policies the domains publish, as the send applies them\n"
     "(MTA-STS from the cache or fetched, DANE's TLSA records; docs/tls.md): such a domain\n"
     "gets a destination of its own, and a line counts destinations under each policy.\n"
     "With [egress] source addresses in kirim.conf, a destination's connections, rate and\n"
     "warm-up caps are its policy's times the sources of its pool (the policy's egress,\n"
     "else --egress, else default), as kirim send applies them per source (docs/egress.md).\n"
     "Through a relay (--relay URL, or kirim.conf's [relay] url unless --direct) nothing is\n"
     "looked up: a domain whose own policy (exact or wildcard pattern) sets a limit gets its\n"
     "own queue on the relay's connections (relay|PATTERN) with that policy's rate,\n"
     "connections, connect rate and warm-up; the others share the relay's queue.\n"},
    {"preview", cmd_preview, "print the exact message a recipient would get",
     "Usage: kirim preview CAMPAIGN --to ADDRESS\n"
     "\n"
     "Print the exact bytes kirim would send to ADDRESS (in the campaign's audience):\n"
     "headers, DKIM signatures and body. The envelope (MAIL FROM, RCPT TO) and notes go to\n"
     "standard error; --json puts everything in one object.\n"},
    {"dkim", cmd_dkim, "make a DKIM key pair and print its DNS record",
     "Usage: kirim dkim keygen --domain DOMAIN --out FILE [--selector S] [--type rsa|ed25519]\n"
     "                         [--bits N]\n"
     "\n"
     "Write a new private key to FILE (mode 0600, never over an existing file) and print\n"
     "the TXT record to publish at S._domainkey.DOMAIN (selector 'kirim' by default) and\n"
     "the kirim.conf lines that use it. RSA keys are 2048 bits unless --bits says otherwise.\n"},
    {"serve", cmd_serve, "answer unsubscribe, open and click links (HTTP)", cmd_serve_help},
    {"token", cmd_token, "API tokens for kirim serve's admin listener",
     "Usage: kirim token create --name NAME --scope read|write|admin\n"
     "       kirim token list\n"
     "       kirim token revoke NAME\n"
     "\n"
     "The HTTP API ('kirim serve --admin-listen', docs/api.md) takes a token in every\n"
     "request: Authorization: Bearer TOKEN. create prints a new token once (only its\n"
     "SHA-256 is stored: a lost token is revoked and made again). Scopes nest: read\n"
     "reads, write also changes contacts, lists, suppressions, templates and campaigns,\n"
     "admin also changes domain policies and webhooks and reads the audit log. list\n"
     "shows each token's first characters, scope, creation and last use; revoke stops\n"
     "a token at once. Token changes are written to the audit log.\n"},
    {"user", cmd_user, "the web console's users",
     "Usage: kirim user add NAME --role admin|editor|viewer [--password-stdin]\n"
     "       kirim user list\n"
     "       kirim user delete NAME\n"
     "       kirim user passwd NAME [--password-stdin]\n"
     "\n"
     "Users log in to the web console at the admin listener's /console/ (kirim serve,\n"
     "docs/console.md). The password is asked twice without echo, or read as one line\n"
     "of standard input with --password-stdin (for scripts); at least 8 characters.\n"
     "Only its Argon2id hash is stored. Roles: viewer reads; editor also changes lists,\n"
     "contacts, suppressions, templates, campaigns and imports; admin also domain\n"
     "policies and webhooks, and reads the audit log. delete and passwd end the user's\n"
     "sessions at once.\n"},
    {"audit", cmd_audit, "the changes made through the HTTP API, and by whom",
     "Usage: kirim audit [--since TIME|AGE] [--limit N] [--json]\n"
     "\n"
     "Every change made through the HTTP API (and every token made or revoked): when,\n"
     "the token's name, method, path, the resource changed, the status answered and the\n"
     "client address. --since takes a time (2024-05-01, '2024-05-01 12:00', local\n"
     "unless it ends in Z or an offset) or an age (30m, 24h, 7d).\n"},
    {"webhooks", cmd_webhooks, "push delivery events to other tools over HTTP",
     "Usage: kirim webhooks add URL --events LIST --secret-file FILE\n"
     "       kirim webhooks status\n"
     "       kirim webhooks remove ID\n"
     "\n"
     "A webhook gets the events it subscribes to (delivered, deferred, bounced, failed,\n"
     "complained, unsubscribed, opened, clicked, campaign, or all) from the moment it is\n"
     "added, as JSON batches POSTed by 'kirim serve', each signed with the secret in FILE\n"
     "(16 bytes at least): Kirim-Signature: t=UNIX,v1=HEX, HEX being HMAC-SHA256 of\n"
     "\"UNIX.BODY\" (docs/api.md#webhooks). Events are kept in the database from the\n"
     "moment they happen; an answer other than 2xx is tried again (after 1, 2, 4, ...\n"
     "seconds, an hour apart at most) for 24 hours, then the batch is dropped and counted.\n"
     "Each event has an id: a receiver may see one twice (after a crash), never with\n"
     "another id. status shows each webhook's pending, delivered and dropped events and\n"
     "its failures. https:// receivers are verified against the system's CAs or\n"
     "[tls] ca_file (a bad certificate is a failed try, retried); http:// is taken\n"
     "(with a warning unless the receiver is on this host).\n"},
    {"bounces", cmd_bounces, "read bounces, complaints and unsubscribe mail; classify them",
     "Usage: kirim bounces classify FILE...\n"
     "       kirim bounces ingest PATH... | -\n"
     "       kirim bounces listen [--listen ADDR:PORT] [--hostname NAME] [--max-size KIB]\n"
     "\n"
     "classify: one tab-separated line per bounced recipient of each message file: file,\n"
     "  recipient, reason (userunknown, mailboxfull, ... as Sisimai names them), class\n"
     "  (hard, soft, none), status and remote MTA. Reads no database.\n"
     "ingest: read returned mail and act on it. PATH is a message file, an mbox file, a\n"
     "  Maildir (every message in new/ is read, then moved to cur/; one that cannot be\n"
     "  read as mail goes to kirim-failed/) or a directory of message files; - reads one\n"
     "  message from stdin (for an MTA's pipe: exit 75 asks it to try again later).\n"
     "  Each bounce is matched to the message kirim sent by its VERP address\n"
     "  (b-TOKEN@[bounce] domain) or the original Message-ID, recorded as an event, and\n"
     "  a hard bounce suppresses the address (soft ones after 3 in 15 days); a complaint\n"
     "  (ARF) suppresses and unsubscribes it; mail to u-TOKEN@[bounce] domain\n"
     "  unsubscribes; auto-replies are counted, never taken for bounces.\n"
     "listen: an SMTP server that takes mail for the bounce domain's VERP and unsubscribe\n"
     "  addresses only (anything else: 550 5.7.1) and ingests each message as above.\n"
     "  --listen ADDR:PORT (default 127.0.0.1:2525; :0 picks a port), --hostname (the\n"
     "  greeting's name; default the bounce domain), --max-size KIB (default 10240).\n"
     "  Bare CR or LF in a message is refused (SMTP smuggling); 10 messages a second per\n"
     "  client address, 64 connections. Ctrl-C or SIGTERM stops it.\n"
     "\n"
     "Exit status: 0, 64 usage, 66 a file could not be read, 75 the database failed\n"
     "(nothing lost: run again), 78 configuration.\n"},
    {"run", cmd_run, "the long-running sender: schedules, retries, every campaign",
     "Usage: kirim run [--turn SECONDS] [--once] [--syslog] [delivery options of 'kirim send']\n"
     "\n"
     "Runs until SIGINT or SIGTERM. Every second it starts the scheduled campaigns whose time\n"
     "has come (inside their send window, if they have one). Every campaign that is sending\n"
     "and has messages due sends at the same time as the others, through one connection\n"
     "pool: they share each destination's limits and the global ones, and each batch of\n"
     "messages is split evenly among them. Every --turn seconds (default 30) it looks again\n"
     "for campaigns that came due (deferred messages go out when they come due; a campaign\n"
     "outside its window waits for the next opening). A pause or cancel from another process\n"
     "stops that campaign within about a second while the others go on. SIGINT/SIGTERM\n"
     "finish what is on a connection, record it and exit; SIGHUP reloads kirim.conf before\n"
     "the next turn. Logs one logfmt line per event to stderr, or to syslog (facility mail)\n"
     "with --syslog. --once returns when nothing is due (for cron and tests).\n"
     "Several 'kirim run' (on other hosts, or with --node NAME) may share one database:\n"
     "all of them send; one, the leader (a lease in the database), starts scheduled\n"
     "campaigns and does the housekeeping, and another takes over when it dies\n"
     "(docs/scale-out.md).\n"
     "Housekeeping: signups unconfirmed for [signup] pending_days are purged (once a\n"
     "minute), and yesterday's TLS-RPT reports are sent to each domain's rua= (once an hour;\n"
     "each address gets a day once: kirim tlsrpt send).\n"
     "Takes the delivery options of 'kirim send' (--relay, --direct, --dns-server,\n"
     "--concurrency, ...). A systemd unit is in tools/kirim.service.\n"},
    {"status", cmd_status, "what is sending, scheduled or paused, and throttled destinations",
     "Usage: kirim status [--json]\n"
     "\n"
     "Each campaign that is sending, scheduled or paused: messages queued, due now, in flight,\n"
     "deferred and delivered, and the next due time; then the destinations the adaptive\n"
     "throttle has adjusted, with their rate and connections now; then the senders of\n"
     "every node (node, host, pid, lease, messages claimed, campaigns) and the leader;\n"
     "then whether senders share their throttles through Redis ($KIRIM_REDIS, else\n"
     "[redis] url), whether it answers and how many nodes use it, or throttle alone.\n"},
    {"send", cmd_send, "deliver a campaign's messages to MX hosts or through a relay",
     "Usage: kirim send CAMPAIGN [--relay URL | --direct] [--tls POLICY] [--concurrency N]\n"
     "                           [--dest-concurrency N] [--msgs-per-conn N] [--timeout SECONDS]\n"
     "                           [--dns-server ADDR[:PORT],...] [--mx-port PORT] [--egress POOL]\n"
     "                           [--redis URL]\n"
     "\n"
     "Deliver every message of CAMPAIGN that is due, over persistent SMTP connections\n"
     "(PIPELINING when offered), and record each outcome. The first run queues one\n"
     "message per list member (suppressed ones are never sent). The run ends when every\n"
     "due message is delivered, bounced, failed or deferred; deferred messages wait for\n"
     "their next attempt (5 min, 10, 20, 40 ... doubling up to 4 h, +-10% jitter) and\n"
     "bounce as expired 3 days after they were queued: run 'kirim send' again to send\n"
     "what has come due. Ctrl-C finishes what is on a\n"
     "connection, records it and stops; nothing is lost or sent twice by stopping.\n"
     "\n"
     "Without a relay (no --relay and no [relay] url in kirim.conf, or --direct), each\n"
     "recipient domain's MX hosts are looked up in DNS and tried in preference order\n"
     "(the next one when one refuses or cannot be reached; the domain's own address when\n"
     "it has no MX). Domains served by the same MX hosts share one destination and its\n"
     "connection limit. A domain that does not exist or has a null MX bounces; a DNS\n"
     "failure defers. Direct delivery needs [sender] ehlo set to this host's fully\n"
     "qualified name.\n"
     "\n"
     "Options:\n"
     "  -r, --relay URL        smtp://[user@]host[:port] or smtps://... (default: the\n"
     "                         [relay] url of kirim.conf; the password comes from there)\n"
     "      --direct           deliver to MX hosts even if kirim.conf names a relay\n"
     "      --tls POLICY       none, opportunistic, required or verify (default: verify\n"
     "                         for a relay, opportunistic for MX hosts)\n"
     "  -c, --concurrency N    connections at once (default 8)\n"
     "      --dest-concurrency N  connections at once per MX destination (default 10)\n"
     "      --egress POOL      send from the source addresses of this [egress] pool of\n"
     "                         kirim.conf (default: pool 'default'; none: the system's)\n"
     "      --redis URL        share destinations' rates, connection caps and backoff with\n"
     "                         other senders through this Redis: redis://HOST[:PORT][/DB]\n"
     "                         or unix:///PATH (default: $KIRIM_REDIS, else [redis] url;\n"
     "                         none: throttle alone; docs/scale-out.md)\n"
     "      --msgs-per-conn N  messages per connection before reconnecting (default 100)\n"
     "      --allow-plaintext-auth  AUTH without TLS (trusted networks only)\n"
     "      --timeout SECONDS  one timeout for every SMTP wait (default: RFC 5321's)\n"
     "      --dns-server LIST  resolvers to ask, e.g. 127.0.0.1:5353 (default: resolv.conf)\n"
     "      --dns-timeout MS   first DNS try's timeout (default 2000)\n"
     "      --mx-port PORT     port of MX hosts (default 25; for tests and labs)\n"
     "      --mta-sts-port PORT  port of MTA-STS policy hosts (default 443; tests, labs)\n"
     "      --retry-first DUR  first retry delay, doubling after (default 5m)\n"
     "      --retry-max DUR    longest retry delay (default 4h)\n"
     "      --resume           send a campaign that is paused\n"
     "      --max-age DUR      a deferred message expires this long after it was queued\n"
     "                         (default 3d); durations: 90s, 5m, 4h, 3d\n"
     "      --no-delivery-log  no log line per delivered message (failures are logged)\n"
     "      --workers N        threads that DKIM-sign messages (default: one per core)\n"
     "      --now              send a campaign scheduled for later now (it is refused\n"
     "                         without: 'kirim run' starts it at its time)\n"
     "      --nxdomain-confirm DUR  a domain's addresses bounce on NXDOMAIN (or no mail\n"
     "                         host) only when it still answers so this long after the\n"
     "                         first such answer (default 1h); never when it had a\n"
     "                         delivery in the last 30 days\n"
     "      --node NAME        the node this sender runs as (default: [node] name in\n"
     "                         kirim.conf, else the host's name)\n"
     "\n"
     "Every failure is classified (reason and hard/soft class, as 'kirim bounces' does):\n"
     "a hard bounce suppresses the address at once, soft bounces after 3 in 15 days.\n"
     "After 1,000 attempts, a campaign whose hard bounces pass 5% pauses itself.\n"
     "\n"
     "Several senders per campaign: a 'kirim send' or 'kirim run' of a campaign that others\n"
     "are sending sends beside them, on this host or another sharing the database; each\n"
     "claims its own messages under its lease, and the claims of one that died are sent by\n"
     "the others once its lease expires ([node] lease, 60 s; docs/scale-out.md).\n"
     "\n"
     "A draft is checked first as 'campaign schedule' checks it (sender identity, someone\n"
     "to mail, a template that renders for every recipient).\n"
     "After the counts, the top reasons for what was not delivered (count, code, text).\n"
     "\n"
     "Exit status: 0 when something was delivered or nothing was due; 75 when nothing\n"
     "was delivered and messages wait for a retry, or this sender's lease expired and\n"
     "other senders took its claims;\n"
     "65 when everything due bounced or failed; 130 when stopped; 78 for a configuration\n"
     "problem.\n"},
    {"tlsrpt", cmd_tlsrpt, "TLS-RPT aggregate reports (RFC 8460) of the TLS of direct sends",
     "Usage: kirim tlsrpt report [--day YYYY-MM-DD] [--domain DOMAIN] [--out DIR]\n"
     "       kirim tlsrpt send [--day YYYY-MM-DD] [--domain DOMAIN] [--relay URL] [--tls P]\n"
     "                         [--direct] [--dns-server ADDR:PORT] [--mx-port PORT]\n"
     "                         [--allow-plaintext-auth]\n"
     "\n"
     "The aggregate TLS report of one UTC day (default: yesterday) for each recipient domain\n"
     "whose sessions direct sends counted: domains with an MTA-STS policy, DANE, or a\n"
     "_smtp._tls record (each has a destination of its own). Without --out, the reports\n"
     "are printed as JSON; with --out, each is written gzipped to DIR under the name RFC\n"
     "8460 gives it (ORG!DOMAIN!BEGIN!END!ID.json.gz) and a line says where and for which\n"
     "rua= addresses.\n"
     "\n"
     "send delivers them (RFC 8460 5.3): the domain's _smtp._tls record is looked up now\n"
     "and the gzipped report goes to each rua= URI, a DKIM-signed multipart/report mail to\n"
     "mailto: (through the relay: --relay, else kirim.conf's [relay] url; with none, or\n"
     "--direct, straight to the address's MX hosts, TLS when offered), a POST to\n"
     "https:. Each URI gets a day once (recorded); kirim run sends yesterday's by itself.\n"
     "Exit 75 when some could not be sent (run it again: what went is not sent twice).\n"
     "\n"
     "  --day YYYY-MM-DD   the day (UTC)\n"
     "  --domain DOMAIN    only this policy domain\n"
     "  --out DIR          report: write the .json.gz files into DIR\n"
     "  --relay URL        send: the relay for mailto: (smtp://HOST:PORT, smtps://...)\n"
     "  --tls P            send: the relay's TLS (none, opportunistic, required, verify)\n"
     "  --direct           send: mailto: to the MX hosts even when kirim.conf names a relay\n"
     "  --mx-port PORT     send: port of MX hosts (default 25; for tests and labs)\n"
     "  --dns-server A:P   send: the resolver for _smtp._tls, MX and https: hosts\n"},
    {"domain", cmd_domain, "per-domain sending policies: connections, rates, warm-up",
     "Usage: kirim domain set PATTERN [--max-connections N] [--rate N/s|N/min|N/h]\n"
     "                        [--max-msgs-per-conn N] [--connect-rate N/min]\n"
     "                        [--tls none|opportunistic|required|verify|dane] [--warmup PLAN]\n"
     "                        [--egress POOL]\n"
     "       kirim domain list\n"
     "       kirim domain show DOMAIN [--mx HOST]...\n"
     "       kirim domain unset PATTERN [--field NAME]...\n"
     "       kirim domain presets [--reset]\n"
     "\n"
     "A policy limits how kirim sends to a destination. PATTERN is a domain\n"
     "(gmail.com), a wildcard for its subdomains (*.outlook.com, not outlook.com\n"
     "itself), an MX set (mx:google.com: every domain whose MX hosts are under\n"
     "google.com), '*' (the default for every destination) or 'global' (limits over\n"
     "all destinations together). A policy holds only the fields given; the rest are\n"
     "inherited field by field from less specific patterns: domain, then wildcards\n"
     "(longest first), then MX sets, then '*', then kirim's built-in defaults.\n"
     "'show' prints a domain's merged policy and which pattern gave each field;\n"
     "--mx names its MX hosts (most preferred first) to try mx: patterns.\n"
     "\n"
     "kirim ships conservative presets for the largest providers (Google, Microsoft,\n"
     "Yahoo/AOL, Apple and large regional ones); they are installed the first time\n"
     "policies are used. 'presets' lists them with the reasons and installs any\n"
     "missing; --reset restores the shipped values over changed ones. A running\n"
     "sender picks up changes within a few seconds. When a provider answers 'slow\n"
     "down' (421, 451 4.7.x, 'rate limited'...), kirim halves that destination's rate\n"
     "and connections and climbs back gradually: policies are the ceiling.\n"
     "\n"
     "Options of 'set':\n"
     "  --max-connections N    connections at once (1-1000)\n"
     "  --rate R               messages: 10/s, 600/min, 3600/h, 100/d, or none\n"
     "  --max-msgs-per-conn N  messages per connection, 0 for no limit\n"
     "  --connect-rate R       new connections, same units as --rate\n"
     "  --tls POLICY           none, opportunistic, required, verify or dane (DANE\n"
     "                         required); wins over the domain's MTA-STS and DANE\n"
     "  --warmup PLAN          daily caps starting today: a list (50,100,200,500), or\n"
     "                         standard[:TARGET] (50, doubling daily to TARGET, default\n"
     "                         100000) or slow[:TARGET] (x1.5 daily); none for no plan;\n"
     "                         caps count per source address (docs/egress.md)\n"
     "  --egress POOL          send from the source addresses of this [egress] pool of\n"
     "                         kirim.conf (default: the run's pool)\n"
     "Options of 'unset':\n"
     "  --field NAME           unset only this field (max-connections, rate,\n"
     "                         max-msgs-per-conn, connect-rate, tls, warmup,\n"
     "                         egress); without it the whole policy for PATTERN is\n"
     "                         removed\n"
     "\n"
     "Every subcommand takes --json. Exit status: 0 on success, 64 for a usage\n"
     "error, 65 for a pattern or domain that is not valid.\n"},
    {"report", cmd_report, "a campaign's delivery report (text, CSV, JSON, HTML)",
     "Usage: kirim report CAMPAIGN [--format text|csv|json|html]\n"
     "                    [--by domain|destination|reason|hour|link|summary] [--top N]\n"
     "                    [-o FILE]\n"
     "       kirim report --all [--last N] [--format text|csv|json|html] [-o FILE]\n"
     "\n"
     "How a campaign went. The header names it: subject (as written), template, list,\n"
     "From, tracking, schedule and send window, created, started and finished. Every\n"
     "message is in one category: delivered, bounced hard, bounced soft, failed,\n"
     "deferred, queued, in flight, suppressed, cancelled (they add up to the\n"
     "messages), each shown with its share of all the messages and, for the first\n"
     "five (the attempted), of the attempted: the delivery rate. Then complaints,\n"
     "unsubscribes, opens (human and machine apart) and clicks, as shares of the\n"
     "delivered; clicks by tracked link (unique and total); first and last delivery,\n"
     "duration, messages per minute, TLS share; breakdowns by recipient domain (top N\n"
     "and the others), destination (MX set or relay, with the slowest), failure\n"
     "reason (with an example reply each) and hour. Times are UTC.\n"
     "\n"
     "The text format is for a terminal: the header, the summary, the clicks by link\n"
     "and the --by table. CSV holds one table, the --by one: summary is one\n"
     "name,value row per header line and figure, link one row per tracked link. JSON\n"
     "(schema_version 2) and HTML hold everything. The HTML file is self-contained\n"
     "(inline CSS and SVG charts, no JavaScript, no network) and prints well.\n"
     "docs/report-formats.md documents the CSV columns and the JSON fields.\n"
     "\n"
     "Options:\n"
     "  -f, --format F     text (default; json with --json), csv, json or html\n"
     "  -b, --by B         the table for text and CSV: domain (default), destination,\n"
     "                     reason, hour, link (clicks by link) or summary\n"
     "  -n, --top N        domains and destinations shown before \"(others)\" (default 10)\n"
     "  -o, --output FILE  write to FILE (made complete, then renamed into place)\n"
     "      --all          one line per campaign, newest first\n"
     "      --last N       with --all: the last N campaigns (default 20, 0 for all)\n"
     "      --recount      count from every message and event, not the rollups the\n"
     "                     report reads (a check: the two must agree; slower)\n"
     "      --rebuild      count the rollups again from the messages and events and store\n"
     "                     them (after rows were changed by hand), then report\n"},
    {"log", cmd_log, "export a campaign's per-attempt delivery log as CSV",
     "Usage: kirim log CAMPAIGN [-o FILE]\n"
     "\n"
     "Write one CSV row per delivery attempt, oldest first: time (UTC, ISO 8601),\n"
     "recipient, destination, MX host, outcome (delivered, deferred, bounced,\n"
     "failed), reply code, enhanced code, reply text, TLS, attempt number.\n"
     "docs/report-formats.md documents the columns.\n"
     "\n"
     "Options:\n"
     "  -o, --output FILE  write to FILE instead of standard output\n"},
    {"migrate", cmd_migrate, "copy the database into PostgreSQL, and verify the copy",
     "Usage: kirim migrate --to postgresql://USER@HOST:PORT/DB [--from FILE]\n"
     "       kirim migrate --verify --to postgresql://... [--from FILE]\n"
     "\n"
     "Copy the SQLite database (--from, default --db) into an empty PostgreSQL database:\n"
     "kirim's PostgreSQL schema (schema/pg/) is applied, every table is loaded with COPY,\n"
     "and every table is read back and compared with the source, by row count and by a\n"
     "checksum of its rows in key order. All of it is one transaction: only a copy that\n"
     "matches is committed, and a database that holds anything already is refused.\n"
     "--verify compares the two again and copies nothing. The source is read as one\n"
     "snapshot; stop kirim run, send and serve first, so that nothing is written to it\n"
     "after the copy. On a terminal a progress bar shows on standard error.\n"
     "A few commands run on PostgreSQL with --db URL (init, lists, suppress, domain,\n"
     "template, token, user, webhooks); the rest need SQLite for now: see\n"
     "docs/postgresql.md.\n"
     "\n"
     "The URL is libpq's (any of its parameters, ?sslmode=verify-full...); keep the\n"
     "password in ~/.pgpass or PGPASSWORD rather than on the command line.\n"
     "\n"
     "Options:\n"
     "  -f, --from FILE  the SQLite database to copy (default: --db, $KIRIM_DB, ./kirim.db)\n"
     "  -t, --to URL     the PostgreSQL database (postgresql:// or postgres://)\n"
     "      --verify     only compare the two, table by table\n"
     "\n"
     "Exit status: 0 when the two hold the same rows, 1 when a table differs (it is\n"
     "named), 64 when the URL does not parse, 65 when a value cannot be copied or the\n"
     "schemas disagree, 69 when the server cannot be reached or used, 73 when the\n"
     "target is not empty, 74 when the SQLite database cannot be read.\n"},
    {"version", cmd_version, "print the version of kirim and its libraries",
     "Usage: kirim version\n\nPrint kirim's version and the versions of the libraries it uses.\n"},
    {"help", cmd_help, "show help for a command",
     "Usage: kirim help [COMMAND]\n\nShow the list of commands, or one command's help.\n"},
    {NULL, NULL, NULL, NULL},
};

static void
usage(FILE *f)
{
	fputs("Usage: kirim <command> [options]\n"
	      "\n"
	      "kirim sends bulk email campaigns: it loads lists from CSV, renders one message per\n"
	      "recipient, delivers them over persistent SMTP sessions and reports what happened.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (const struct cli_command *cmd = cli_commands; cmd->name; cmd++)
		fprintf(f, "  %-10s %s\n", cmd->name, cmd->summary);
	fputs("\nGlobal options: --db PATH (default $KIRIM_DB or ./kirim.db), --config PATH\n"
	      "(default $KIRIM_CONFIG or ./kirim.conf), --json, --quiet, --verbose, --help.\n"
	      "With --db postgresql://... lists, contacts, import, segments, suppressions,\n"
	      "domains, templates, campaigns, tokens, users and webhooks run on PostgreSQL;\n"
	      "sending, reports and bounces not yet (docs/postgresql.md).\n"
	      "'kirim help COMMAND' shows a command's options.\n",
	      f);
}

static int
cmd_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	const struct cli_command *cmd = cli_find(argv[1]);
	const char *near = cmd ? NULL : cli_nearest_command(argv[1]);
	if (cmd == NULL && near)
		return cli_usage("help", "no command called '%s'; did you mean '%s'?", argv[1],
		                 near);
	if (cmd == NULL)
		return cli_usage("help", "no command called '%s'", argv[1]);
	cli_help(stdout, cmd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli c = {.db = getenv("KIRIM_DB"), .config = NULL};
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	int n = 0;
	bool help = false, dashdash = false;

	if (args == NULL)
		return EX_OSERR;
	if (c.db == NULL || *c.db == '\0')
		c.db = "./kirim.db";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash) {
			args[n++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			dashdash = true;
			args[n++] = argv[i];
		} else if (strcmp(a, "--db") == 0) {
			if (i + 1 >= argc) {
				free(args);
				return cli_usage("", "--db needs a path");
			}
			c.db = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			c.db = a + 5;
		} else if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				free(args);
				return cli_usage("", "--config needs a path");
			}
			c.config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c.config = a + 9;
		} else if (strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			c.quiet = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			c.verbose++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0 && n == 0) {
			args[n++] = "version";
		} else {
			args[n++] = argv[i];
		}
	}
	log_set_level(c.verbose >= 2 ? LOG_DEBUG : c.verbose ? LOG_INFO : LOG_WARN);
	if (n == 0) {
		usage(help ? stdout : stderr);
		free(args);
		return help ? 0 : EX_USAGE;
	}
	const struct cli_command *cmd = cli_find(args[0]);
	int rc;
	if (cmd == NULL) {
		const char *near = cli_nearest_command(args[0]);
		if (near)
			fprintf(stderr,
			        "kirim: '%s' is not a kirim command; did you mean '%s'?\n\n",
			        args[0], near);
		else
			fprintf(stderr, "kirim: '%s' is not a kirim command.\n\n", args[0]);
		usage(stderr);
		rc = EX_USAGE;
	} else if (help) {
		cli_help(stdout, cmd);
		rc = 0;
	} else {
		rc = cmd->run(&c, n, args);
	}
	free(args);
	return rc;
}
