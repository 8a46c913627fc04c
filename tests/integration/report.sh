#!/usr/bin/env bash
# report.sh - `kirim report` and `kirim log` after a real send through a relay (the aiosmtpd
# server answers 550 5.1.1 to reject*, 451 4.3.0 to defer*), with engagement events added as
# `kirim serve` will record them; a campaign cancelled half-way, its categories compared
# format by format (Python's csv, json and html.parser); clicks on tracked links made by real
# GETs through `kirim serve`, by link in every format and on its /r/ page; the HTML is
# checked by Python's html.parser and xmllint and rendered by headless Chromium (no console
# errors; the screenshot goes to docs/report.png when KIRIM_UPDATE_SCREENSHOT=1).
. "$(dirname "$0")/lib.sh"

: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
{
	echo 'email,first_name'
	for i in 1 2 3 4 5 6; do echo "ok$i@a.test,A$i"; done
	for i in 1 2 3; do echo "ok$i@b.test,B$i"; done
	echo 'reject1@a.test,R1'
	echo 'reject2@b.test,R2'
	echo 'defer1@c.test,D1'
	echo 'gone@a.test,S'
} >list.csv
"$KIRIM" import list.csv --list l -q >/dev/null
"$KIRIM" suppress add gone@a.test --reason unsubscribe >/dev/null
printf 'Subject: Hi {{first_name}}\n\n--- text\nHello <{{first_name}}> & welcome.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
"$KIRIM" campaign create 'spring <"sale">' --list l --template t --from "Shop <news@example.com>" >/dev/null
C='spring <"sale">'

run "$KIRIM" report "$C" --json
eq "report before sending" "$RC" 0
eq "nothing sent yet" "$(json 'j["messages"]["total"], j["messages"]["counts"]["delivered"], j["summary"]["first_delivery"]')" "0 0 None"

port=$(free_port)
start_server "$port" --pipelining
run "$KIRIM" send "$C" --relay "smtp://127.0.0.1:$port" --tls none --concurrency 2 --json
eq "send" "$(json 'j["delivered"], j["bounced"], j["deferred"]')" "9 2 1"
stop "$LAST_PID"

rollups_agree "send: rollups = recount after a send with a bounce and a deferral" "$C"

# Engagement as the web endpoint records it: two human opens of ok1 (one unique), a machine
# open of ok2, a click and an unsubscribe from ok3, a complaint from ok4.
mid() { sql "SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = '$1'"; }
now=$(date +%s)
sql "INSERT INTO events(message_id, ts, type, detail) VALUES
     ($(mid ok1@a.test), $now, 'open', NULL), ($(mid ok1@a.test), $now, 'open', '{}'),
     ($(mid ok2@a.test), $now, 'open', '{\"machine\":true}'),
     ($(mid ok3@a.test), $now, 'click', '{\"link\":1}'),
     ($(mid ok3@a.test), $now, 'unsubscribe', NULL), ($(mid ok4@a.test), $now, 'complaint', NULL)"
# Rows written by hand: the rollups know nothing of them until --rebuild counts them.
"$KIRIM" report "$C" --json -o "$TMP/.stale" -q
eq "hand-written events: not in the rollups" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["complaints"])' "$TMP/.stale")" 0
run "$KIRIM" report "$C" --rebuild --json
eq "rebuild: counted" "$RC $(json 'j["summary"]["complaints"]')" "0 1"
run "$KIRIM" report --all --rebuild
eq "rebuild: one campaign's" "$RC" 64

rollups_agree "rollups = recount after a send with a bounce, a deferral and engagement" "$C"

# JSON: every number, and the documented shape.
run "$KIRIM" report "$C" --format json
eq "json exit" "$RC" 0
eq "json schema" "$(json 'j["schema_version"], j["campaign"]["name"]')" "2 $C"
eq "json counts" "$(json '(lambda m: (m["total"], m["attempted"], m["counts"]["delivered"], m["counts"]["bounced_hard"], m["counts"]["bounced_soft"], m["counts"]["deferred"], m["counts"]["suppressed"], m["counts"]["cancelled"], j["summary"]["attempts"]))(j["messages"])')" "(13, 12, 9, 2, 0, 1, 1, 0, 12)"
eq "json engagement" "$(json '(lambda s: (s["opens"]["human"], s["opens"]["unique_human"], s["opens"]["machine"], s["clicks"]["total"], s["unsubscribes"], s["complaints"]))(j["summary"])')" "(2, 1, 1, 1, 1, 1)"
eq "json rates of attempted" "$(json 'j["messages"]["pct_of_attempted"]["delivered"], j["messages"]["pct_of_attempted"]["bounced_hard"]')" "75.0 16.67"
eq "json rates of all" "$(json 'j["messages"]["pct_of_total"]["delivered"], j["messages"]["pct_of_total"]["suppressed"]')" "69.23 7.69"
eq "json not sent" "$(json 'j["messages"]["not_sent"]')" "[{'category': 'suppressed', 'reason': 'unsubscribe', 'count': 1}]"
# Why a message was not sent is why it was not sent then: lifting the suppression later
# (or changing its reason) does not rewrite it (it became "unknown": the report looked the
# suppression up when it was read, joining every skipped message to its contact).
"$KIRIM" suppress remove gone@a.test >/dev/null
run "$KIRIM" report "$C" --format json
eq "not sent: the reason it had" "$(json 'j["messages"]["not_sent"]')" "[{'category': 'suppressed', 'reason': 'unsubscribe', 'count': 1}]"
"$KIRIM" suppress add gone@a.test --reason unsubscribe >/dev/null
eq "json domains" "$(json '[(d["key"], d["messages"], d["counts"]["delivered"], d["counts"]["bounced_hard"], d["counts"]["deferred"], d["counts"]["suppressed"]) for d in j["domains"]]')" "[('a.test', 8, 6, 1, 0, 1), ('b.test', 4, 3, 1, 0, 0), ('c.test', 1, 0, 0, 1, 0)]"
# #18 item 19: the header names what was sent, to whom, from whom, when.
eq "json header" "$(json '(lambda c: (c["subject"], c["list"], c["from"], c["template"]["name"], c["started_at"] is not None, c["finished_at"]))(j["campaign"])')" "('Hi {{first_name}}', 'l', 'Shop <news@example.com>', 't', True, None)"
# The send path classified them (bounce.c): 550 5.1.1 at RCPT is userunknown, 451 4.3.0 systemerror.
eq "json reasons" "$(json 'sorted((r["outcome"], r["reason"], r["code"], r["ecode"], r["count"]) for r in j["reasons"])')" "[('bounced', 'userunknown', 550, '5.1.1', 2), ('deferred', 'systemerror', 451, '4.3.0', 1)]"
contains "json example reply" "$(json '[r["example"] for r in j["reasons"] if r["outcome"] == "bounced"][0]')" "user unknown"
eq "json first/last delivery" "$(json 'j["summary"]["first_delivery"] is not None and j["summary"]["last_delivery"] >= j["summary"]["first_delivery"]')" True
eq "json timeline sums" "$(json 'sum(b["delivered"] for b in j["timeline"]["buckets"]), sum(b["bounced"] for b in j["timeline"]["buckets"])')" "9 2"
eq "json destination" "$(json 'len(j["destinations"]), j["destinations"][0]["messages"]')" "2 12"

# --top folds the rest into "(others)".
run "$KIRIM" report "$C" --json --top 1
eq "top 1" "$(json '[(d["key"], d["others"], d["messages"]) for d in j["domains"]]')" "[('a.test', False, 8), ('(others)', True, 5)]"

# Text: the summary lines and an aligned domain table.
run "$KIRIM" report "$C"
eq "text exit" "$RC" 0
squeezed=$(printf '%s\n' "$OUT" | tr -s ' ')
contains "text delivered: of all, of attempted" "$squeezed" " delivered 9 69.2% 75.0%"
contains "text bounced" "$squeezed" " bounced hard 2 15.4% 16.7%"
contains "text suppressed reason" "$squeezed" " suppressed 1 7.7% unsubscribe 1"
contains "text cancelled shown at zero" "$squeezed" " cancelled 0 0.0%"
contains "text opens" "$squeezed" "Opens, human 2 11.1% 1 opened"
contains "text machine opens" "$squeezed" "Opens, machine 1 prefetchers"
contains "text domain row" "$squeezed" "a.test 8 6 85.7% 1 0 0 0 0 0 1 0"
for h in "Subject Hi {{first_name}}" "List l" "From Shop <news@example.com>" "Template t, version 1" "Finished not yet"; do
	contains "text header: $h" "$squeezed" "$h"
done
# Every row's "delivered" number ends where its header does (right-aligned columns).
eq "text table columns line up" "$(printf '%s\n' "$OUT" | python3 -c '
import sys
rows = sys.stdin.read().split("\nBy recipient domain\n")[1].split("\n\n")[0].splitlines()
end = rows[1].index("delivered") + len("delivered")
print(all(r[end - 1] != " " and (len(r) == end or r[end] == " ") for r in rows[2:]) and len(rows) == 5)
')" True
run "$KIRIM" report "$C" --by reason
contains "text by reason" "$OUT" "user unknown"
run "$KIRIM" report "$C" --by hour
contains "text by hour" "$OUT" "hour (UTC)"

# CSV: parsed by Python's csv module.
csvq() { python3 -c "import csv,sys; rows=list(csv.DictReader(open(sys.argv[1], newline=''))); print($1)" "$2"; }
"$KIRIM" report "$C" --format csv -o dom.csv -q
eq "csv domains" "$(csvq '[(r["domain"], r["messages"], r["delivered"], r["bounced_hard"], r["deferred"], r["suppressed"], r["cancelled"]) for r in rows]' dom.csv)" "[('a.test', '8', '6', '1', '0', '1', '0'), ('b.test', '4', '3', '1', '0', '0', '0'), ('c.test', '1', '0', '0', '1', '0', '0')]"
"$KIRIM" report "$C" --format csv --by summary -o sum.csv -q
eq "csv header" "$(csvq '[(r["name"], r["value"]) for r in rows if r["name"] in ("campaign", "subject", "list", "from", "finished_at")]' sum.csv)" "[('campaign', '$C'), ('subject', 'Hi {{first_name}}'), ('list', 'l'), ('from', 'Shop <news@example.com>'), ('finished_at', '')]"
"$KIRIM" report "$C" --format csv --by reason -o why.csv -q
eq "csv reasons" "$(csvq 'sorted((r["outcome"], r["code"], r["ecode"], r["count"]) for r in rows)' why.csv)" "[('bounced', '550', '5.1.1', '2'), ('deferred', '451', '4.3.0', '1')]"
"$KIRIM" report "$C" --format csv --by hour -o hour.csv -q
eq "csv hours" "$(csvq 'sum(int(r["delivered"]) for r in rows), sum(int(r["opens"]) for r in rows)' hour.csv)" "9 2"

# -o onto something that is not a regular file (a FIFO here; /dev/null alike) writes into it
# and never renames a temporary file over it.
mkfifo pipe
cat pipe >piped.csv &
catpid=$!
run "$KIRIM" report "$C" --format csv -o pipe -q
wait "$catpid"
eq "-o FIFO" "$RC $(test -p pipe && echo fifo) $(head -c 6 piped.csv)" "0 fifo domain"

# The attempt log: one row per attempt.
run "$KIRIM" log "$C" -o log.csv
eq "log exit" "$RC" 0
eq "log rows" "$(csvq 'len(rows), sorted(set(r["outcome"] for r in rows))' log.csv)" "12 ['bounced', 'deferred', 'delivered']"
eq "log bounce row" "$(csvq '[(r["code"], r["enhanced_code"], r["attempt"], r["mx_host"]) for r in rows if r["recipient"] == "reject1@a.test"]' log.csv)" "[('550', '5.1.1', '1', '127.0.0.1[127.0.0.1]')]"
eq "log header" "$(head -1 log.csv | tr -d '\r')" "time,recipient,destination,mx_host,outcome,code,enhanced_code,reply,tls,attempt,source,ehlo"

# --all across campaigns.
run "$KIRIM" report --all --last 5 --json
eq "all" "$(json '[(c["name"], c["messages"], c["counts"]["delivered"], c["counts"]["suppressed"], c["opened"]) for c in j["campaigns"]]')" "[('$C', 13, 9, 1, 1)]"
run "$KIRIM" report --all
contains "all text" "$OUT" "75.0%"
# --all reads the rollups each campaign's own report reads: the same engagement and times.
"$KIRIM" report --all --json -o all.json -q
"$KIRIM" report "$C" --format json -o one.json -q
eq "all = the campaign's report" "$($PY3 -c 'import json, sys
a = [c for c in json.load(open("all.json"))["campaigns"] if c["name"] == sys.argv[1]][0]
o = json.load(open("one.json"))["summary"]
print((a["complaints"], a["unsubscribes"], a["opened"], a["clicked"], a["first_delivery"], a["last_delivery"])
      == (o["complaints"], o["unsubscribes"], o["opens"]["unique_human"], o["clicks"]["unique"], o["first_delivery"], o["last_delivery"]))' "$C")" True

# agree CAMPAIGN - the categories of one campaign, format by format: the text summary, the
# CSV summary (csv module), the JSON (json module) and the HTML table (html.parser) give the
# same names, counts and percentages, every category is there (zeros too), and they add up
# to the campaign's messages. Prints "ok", or what differs.
agree() {
	"$KIRIM" report "$1" >agree.txt
	"$KIRIM" report "$1" --format csv --by summary -o agree.csv -q
	"$KIRIM" report "$1" --format json -o agree.json -q
	"$KIRIM" report "$1" --format html -o agree.html -q
	$PY3 - agree.txt agree.csv agree.json agree.html <<'PYEND'
import csv, json, re, sys
from html.parser import HTMLParser
NAMES = ["delivered", "bounced_hard", "bounced_soft", "failed", "deferred", "queued",
         "in_flight", "suppressed", "cancelled"]
ATTEMPTED = NAMES[:5]
bad = []
j = json.load(open(sys.argv[3]))
m = j["messages"]
total = m["total"]
if list(m["counts"]) != NAMES:
    bad.append("json names %s" % list(m["counts"]))
if sum(m["counts"].values()) != total:
    bad.append("json: categories add up to %d, not %d" % (sum(m["counts"].values()), total))
if m["attempted"] != sum(m["counts"][n] for n in ATTEMPTED):
    bad.append("json attempted")
want = {n: (m["counts"][n], "%.1f%%" % (100.0 * m["counts"][n] / total) if total else "",
            "%.1f%%" % (100.0 * m["counts"][n] / m["attempted"]) if n in ATTEMPTED and m["attempted"] else "")
        for n in NAMES}
# CSV: name,value,pct_of_messages,pct_of_attempted
rows = {r["name"]: r for r in csv.DictReader(open(sys.argv[2], newline=""))}
if int(rows["messages"]["value"]) != total:
    bad.append("csv messages")
for n in NAMES:
    r = rows.get(n)
    if r is None:
        bad.append("csv lacks %s" % n)
        continue
    got = (int(r["value"]), "%.1f%%" % float(r["pct_of_messages"]) if r["pct_of_messages"] else "",
           "%.1f%%" % float(r["pct_of_attempted"]) if r["pct_of_attempted"] else "")
    if got != want[n]:
        bad.append("csv %s %s, json %s" % (n, got, want[n]))
    if r["pct_of_messages"] and abs(float(r["pct_of_messages"]) - m["pct_of_total"][n]) > 0.005:
        bad.append("csv %s pct %s, json %s" % (n, r["pct_of_messages"], m["pct_of_total"][n]))
# Text: "  bounced hard   2   15.4%   16.7%  note" under "Messages"
text = open(sys.argv[1]).read()
block = text.split("\nMessages ", 1)[1].split("\nAttempted ", 1)[0].splitlines()[1:]
seen = []
for line in block:
    f = re.match(r"^  ([a-z ]+?)\s+([\d,]+)\s+(\d+\.\d%)?(?:\s+(\d+\.\d%))?", line)
    name = f.group(1).replace(" ", "_")
    seen.append(name)
    got = (int(f.group(2).replace(",", "")), f.group(3) or "", f.group(4) or "")
    if got != want[name]:
        bad.append("text %s %s, json %s" % (name, got, want[name]))
if seen != NAMES:
    bad.append("text names %s" % seen)
# HTML: the Messages table, one row per category
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.on = [], None, None, False
    def handle_starttag(self, tag, a):
        if tag == "h2":
            self.h2 = ""
        if tag == "tr":
            self.row = []
        if tag == "td" and self.row is not None:
            self.cell = ""
    def handle_data(self, d):
        if getattr(self, "h2", None) is not None:
            self.h2 += d
        if self.cell is not None:
            self.cell += d
    def handle_endtag(self, tag):
        if tag == "h2":
            self.on = self.h2 == "Messages"
            self.h2 = None
        if tag == "td" and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        if tag == "tr" and self.row:
            if self.on:
                self.rows.append(self.row)
            self.row = None
        if tag == "section":
            self.on = False
p = P()
p.feed(open(sys.argv[4]).read())
hseen = []
for r in p.rows:
    name = r[0].replace(" ", "_")
    if name not in NAMES:
        continue
    hseen.append(name)
    got = (int(r[1].replace(",", "")), r[2], r[3])
    if got != want[name]:
        bad.append("html %s %s, json %s" % (name, got, want[name]))
if hseen != NAMES:
    bad.append("html names %s" % hseen)
print("; ".join(bad) or "ok")
PYEND
}
eq "categories agree in every format" "$(agree "$C")" ok

# #18 item 18: a campaign cancelled half-way. Scheduled with a send window (always open)
# in Europe/Berlin, two recipients in a zone of their own; sent: 4 delivered, 1 bounced,
# 6 deferred; then cancelled: the 6 deferred are cancelled. Delivered is 80.0% of the
# attempted and 33.3% of all; the cancelled are shown, apart from the suppressed, in the
# summary and in the domain rows of every format.
{
	echo 'email,timezone'
	echo 'okf1@a.test,Asia/Tokyo'
	echo 'okf2@a.test,America/New_York'
	echo 'okf3@a.test,'
	echo 'okf4@b.test,'
	echo 'rejectf1@b.test,'
	for i in 1 2 3 4 5 6; do echo "deferf$i@c.test,"; done
	echo 'gonef@a.test,'
} >fall.csv
"$KIRIM" import fall.csv --list fall -q >/dev/null
"$KIRIM" suppress add gonef@a.test --reason manual >/dev/null
"$KIRIM" campaign create autumn --list fall --template t --from "Shop <news@example.com>" >/dev/null
"$KIRIM" campaign schedule autumn --now --window "Mon-Sun 00:00-24:00" --tz Europe/Berlin >/dev/null
port=$(free_port)
start_server "$port"
# Its messages made two contacts at a time: the own-zone count is kept range by range.
run env KIRIM_QUEUE_CHUNK=2 "$KIRIM" send autumn --relay "smtp://127.0.0.1:$port" --tls none --json
eq "autumn: sent" "$(json 'j["delivered"], j["bounced"], j["deferred"]')" "4 1 6"
stop "$LAST_PID"
run "$KIRIM" campaign cancel autumn --yes --json
eq "autumn: cancelled" "$(json 'j["state"], j["cancelled_messages"]')" "cancelled 6"

run "$KIRIM" report autumn
sq=$(printf '%s\n' "$OUT" | tr -s ' ')
contains "cancelled: delivered of all and of attempted" "$sq" " delivered 4 33.3% 80.0%"
contains "cancelled: the cancelled shown" "$sq" " cancelled 6 50.0%"
contains "cancelled: suppressed apart" "$sq" " suppressed 1 8.3% manual 1"
contains "cancelled: what % are of" "$sq" "(% of all: of the campaign's 12 messages, one per recipient; % of attempted: of the 5 the sender has tried)"
contains "cancelled: domain row with its cancelled" "$sq" "c.test 6 0 0 0 0 0 0 0 0 6"
contains "cancelled: state and why" "$sq" "State cancelled
Why cancelled by user"
contains "cancelled: window" "$sq" "Send window Mon-Sun 00:00-24:00
Zone Europe/Berlin
Own zone 2 of 12 recipients"
contains "cancelled: finished" "$(printf '%s\n' "$OUT" | grep '^Finished')" " UTC"
"$KIRIM" report autumn --format csv -o fall-dom.csv -q
eq "cancelled: csv domain rows" "$(csvq '[(r["domain"], r["messages"], r["delivered"], r["suppressed"], r["cancelled"], r["attempted"]) for r in rows]' fall-dom.csv)" \
	"[('c.test', '6', '0', '0', '6', '0'), ('a.test', '4', '3', '1', '0', '3'), ('b.test', '2', '1', '0', '0', '2')]"
"$KIRIM" report autumn --format csv --by summary -o fall-sum.csv -q
eq "cancelled: csv summary" "$(csvq '[(r["name"], r["value"], r["pct_of_messages"], r["pct_of_attempted"]) for r in rows if r["name"] in ("delivered", "suppressed", "cancelled", "attempted", "window", "zone", "own_zone", "state_reason")]' fall-sum.csv)" \
	"[('state_reason', 'cancelled by user', '', ''), ('window', 'Mon-Sun 00:00-24:00', '', ''), ('zone', 'Europe/Berlin', '', ''), ('own_zone', '2', '', ''), ('delivered', '4', '33.33', '80.00'), ('suppressed', '1', '8.33', ''), ('cancelled', '6', '50.00', ''), ('attempted', '5', '41.67', '')]"
run "$KIRIM" report autumn --json
eq "cancelled: json" "$(json '(lambda m: (m["counts"]["cancelled"], m["counts"]["suppressed"], m["pct_of_total"]["cancelled"], m["pct_of_attempted"]["delivered"], [d["counts"]["cancelled"] for d in j["domains"]]))(j["messages"])')" "(6, 1, 50.0, 80.0, [6, 0, 0])"
eq "cancelled: json schedule" "$(json '(lambda c: (c["state_reason"], c["schedule"]["window"], c["schedule"]["tz"], c["schedule"]["own_zone"], c["finished_at"] is not None))(j["campaign"])')" "('cancelled by user', 'Mon-Sun 00:00-24:00', 'Europe/Berlin', 2, True)"
eq "cancelled: categories agree in every format" "$(agree autumn)" ok
rollups_agree "cancelled: rollups = recount" autumn
# The own-zone count is the rollup's (schema 021), not a join of every message: a rollup
# that says otherwise is what the report says. A database from before 021 gets it counted.
eq "own zone: kept" "$(sql "SELECT own_zone FROM report_campaigns WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'autumn')")" 2
sql "UPDATE report_campaigns SET own_zone = 7 WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'autumn')"
run "$KIRIM" report autumn --json
eq "own zone: read from the rollup" "$(json 'j["campaign"]["schedule"]["own_zone"]')" 7
run "$KIRIM" report autumn --json --recount
eq "own zone: --recount counts the contacts" "$(json 'j["campaign"]["schedule"]["own_zone"]')" 2
run "$KIRIM" report autumn --json --rebuild
eq "own zone: --rebuild counts them again" "$(json 'j["campaign"]["schedule"]["own_zone"]') $(sql "SELECT own_zone FROM report_campaigns WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'autumn')")" "2 2"
sql "ALTER TABLE report_campaigns DROP COLUMN own_zone; PRAGMA user_version = 20"
run "$KIRIM" report autumn --json
eq "own zone: migration 021 counts it" "$RC $(json 'j["campaign"]["schedule"]["own_zone"]')" "0 2"
"$KIRIM" report autumn --format html -o fall.html -q
contains "cancelled: html domain row" "$(tr -d '\n' <fall.html)" "<tr><td class=\"key\">c.test</td>"
run "$KIRIM" report --all --json
eq "cancelled: --all" "$(json '[(c["name"], c["counts"]["cancelled"], c["counts"]["suppressed"], c["delivered_pct_of_attempted"]) for c in j["campaigns"]]')" "[('autumn', 6, 1, 80.0), ('$C', 0, 1, 75.0)]"

# #18 item 19: clicks by tracked link, from real GETs of the links in the delivered messages
# through `kirim serve`: t1 follows B twice and A once, t2 follows B; C is never followed.
sport=$(free_port)
PUBLIC="https://127.0.0.1:$sport"
BASE="http://127.0.0.1:$sport"
printf '[unsubscribe]\nurl = %s/u/\n' "$PUBLIC" >track.conf
export KIRIM_CONFIG="$TMP/track.conf"
printf 'email\nt1@d.test\nt2@d.test\nt3@d.test\n' >track.csv
"$KIRIM" import track.csv --list track -q >/dev/null
printf 'Subject: Autumn news\n\n--- text\nNews\n--- html\n<p><a href="https://shop.example/a">A</a> <a href="https://shop.example/b?x=1&amp;y=2">B</a> <a href="https://shop.example/c">C</a></p>\n' >news.tpl
"$KIRIM" template add news news.tpl >/dev/null
"$KIRIM" campaign create news --list track --template news --from "Shop <news@example.com>" --track-clicks >/dev/null
mkdir tdump && chmod 777 tdump
port=$(free_port)
start_sink "$port" -d "$TMP/tdump/%M."
run "$KIRIM" send news --relay "smtp://127.0.0.1:$port" --tls none --json
eq "tracked: sent" "$(json 'j["delivered"]')" 3
stop "$LAST_PID"
# link RCPT TEXT - the tracked URL behind the anchor TEXT in RCPT's delivered message
link() {
	$PY3 - "$1" "$2" tdump/* <<'PYEND'
import email, email.policy, re, sys
for f in sys.argv[3:]:
    m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.default)
    if sys.argv[1] in m["To"]:
        html = m.get_body(preferencelist=("html",)).get_content()
        print(re.search(r'href="([^"]+)">' + sys.argv[2] + '<', html).group(1))
PYEND
}
"$KIRIM" serve --listen "127.0.0.1:$sport" --base-url "$PUBLIC" 2>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$sport"
ua='Mozilla/5.0 (X11; Linux x86_64)'
for hit in "t1 B" "t1 B" "t1 A" "t2 B"; do
	set -- $hit
	url=$(link "$1@d.test" "$2")
	contains "tracked: $1's $2 goes through kirim serve" "$url" "$PUBLIC/c/"
	eq "tracked: $1 follows $2" "$(curl -s -o /dev/null -A "$ua" -w '%{http_code}' "${url/$PUBLIC/$BASE}")" 302
done
clicks() { sql "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'news' AND e.type = 'click'"; }
for _ in $(seq 1 50); do [ "$(clicks)" = 4 ] && break; sleep 0.1; done
eq "tracked: four clicks recorded" "$(clicks)" 4
rollups_agree "links: rollups = recount after clicks through kirim serve" news

run "$KIRIM" report news
sq=$(printf '%s\n' "$OUT" | tr -s ' ')
contains "links: text, by unique clicks" "$sq" "Clicks by link
unique clicks link
 2 3 https://shop.example/b?x=1&y=2
 1 1 https://shop.example/a
 0 0 https://shop.example/c"
"$KIRIM" report news --format csv --by link -o links.csv -q
eq "links: csv" "$(csvq '[(r["link"], r["url"], r["unique_clicks"], r["total_clicks"]) for r in rows]' links.csv)" \
	"[('1', 'https://shop.example/b?x=1&y=2', '2', '3'), ('0', 'https://shop.example/a', '1', '1'), ('2', 'https://shop.example/c', '0', '0')]"
run "$KIRIM" report news --json
eq "links: json" "$(json '[(l["url"], l["unique_clicks"], l["total_clicks"]) for l in j["links"]], j["campaign"]["tracking"], j["summary"]["clicks"]')" \
	"[('https://shop.example/b?x=1&y=2', 2, 3), ('https://shop.example/a', 1, 1), ('https://shop.example/c', 0, 0)] {'opens': False, 'clicks': True} {'total': 4, 'unique': 2}"
"$KIRIM" report news --format html -o news.html -q
contains "links: html" "$(cat news.html)" "<tr><td class=\"url\">https://shop.example/b?x=1&amp;y=2</td><td>2</td><td>3</td></tr>"
# The live page at /r/ renders the same report: header, categories and links.
run curl -s -o live.html -w '%{http_code}' "$BASE/r/news"
eq "live report: served" "$OUT" 200
live=$(cat live.html)
contains "live report: subject" "$live" "<dt>Subject</dt><dd>Autumn news</dd>"
contains "live report: list" "$live" "<dt>List</dt><dd>track</dd>"
contains "live report: cancelled row" "$live" "<tr><td class=\"key\">cancelled</td><td>0</td>"
contains "live report: links" "$live" "<tr><td class=\"url\">https://shop.example/b?x=1&amp;y=2</td><td>2</td><td>3</td></tr>"
kill -TERM "$srv"
wait "$srv"
eq "kirim serve stopped" "$?" 0
export KIRIM_CONFIG="$TMP/empty.conf"

# Usage errors and a missing campaign.
run "$KIRIM" report nosuch
eq "missing campaign" "$RC" 65
run "$KIRIM" report "$C" --format pdf
eq "bad format" "$RC" 64
run "$KIRIM" report
eq "no campaign named" "$RC" 64

# HTML: well-formed to two independent parsers, escaped, self-contained, rendered by Chromium.
"$KIRIM" report "$C" --format html -o report.html -q
eq "html written" "$(test -s report.html && echo yes)" yes
eq "html parses (html.parser, balanced tags)" "$(python3 - report.html <<'PYEND'
import sys
from html.parser import HTMLParser
VOID = {'meta', 'br', 'img', 'input', 'link', 'hr', 'rect', 'line', 'path', 'circle'}
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], set()
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append('unexpected </%s> with %s open' % (tag, self.stack[-3:]))
        else:
            self.stack.pop()
p = P()
p.feed(open(sys.argv[1], encoding='utf-8').read())
p.close()
bad = p.errors + (['unclosed %s' % p.stack] if p.stack else [])
bad += ['has <%s>' % t for t in ('script', 'link', 'img', 'iframe') if t in p.tags]
print('; '.join(bad) or 'ok')
PYEND
)" ok
# libxml2's HTML parser predates HTML5: it calls <main>, <section>, <svg>... unknown tags.
# Anything else it reports (bad nesting, bad entities, bad encoding) is an error here.
xmlerr=$(xmllint --html --noout report.html 2>&1 | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
errs = [l for l in lines if re.match(r"^report.html:\d+: ", l) and not re.search(r"Tag \w+ invalid", l)]
print("\n".join(errs))
')
eq "html parses (xmllint)" "$xmlerr" ""
html=$(cat report.html)
contains "html escapes the name" "$html" "spring &lt;&quot;sale&quot;&gt;"
contains "html summary card" "$html" "<b>9</b><span>delivered"
contains "html chart" "$html" "<svg viewBox=\"0 0 1000 200\""
eq "html has no external reference" "$(grep -c 'https\?://\|src=' report.html)" 0

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	bad "chromium" "Debian's chromium is not installed (apt-get install chromium)"
else
	prof=$(mktemp -d)
	chrome() {
		timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$prof" "$@"
	}
	chrome --enable-logging=stderr --v=0 --dump-dom "file://$TMP/report.html" >dom.html 2>chrome.err
	eq "chromium loads it" "$?" 0
	contains "chromium built the DOM" "$(cat dom.html)" "Failures by reason"
	eq "no console errors" "$(grep -ci 'CONSOLE\|Uncaught\|ERR_FILE\|net::ERR' chrome.err)" 0
	for size in 1200,2400 390,2400; do
		chrome --hide-scrollbars --screenshot="$TMP/shot-$size.png" --window-size="$size" \
			"file://$TMP/report.html" >/dev/null 2>&1
		eq "screenshot $size" "$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(24); print(d[:8]==b"\x89PNG\r\n\x1a\n")' "$TMP/shot-$size.png" 2>/dev/null)" True
	done
	# At phone width the page must not scroll sideways (the wide tables scroll inside their
	# box): a copy of the report with a test script that writes the page's width into the DOM.
	sed 's|</body>|<script>document.body.setAttribute("data-w", document.documentElement.scrollWidth + "/" + window.innerWidth)</script></body>|' report.html >phone.html
	chrome --window-size=390,800 --dump-dom "file://$TMP/phone.html" >phone.dom 2>/dev/null
	w=$(grep -o 'data-w="[0-9]*/[0-9]*"' phone.dom | tr -dc '0-9/')
	eq "no sideways scroll at phone width" "$(echo "$w" | awk -F/ '{ print ($1 <= $2 && $2 > 0) ? "fits" : "too wide: " $0 }')" fits
	if [ "${KIRIM_UPDATE_SCREENSHOT:-0}" = 1 ] && [ -n "${KIRIM_SRC:-}" ]; then
		cp "$TMP/shot-1200,2400.png" "$KIRIM_SRC/docs/report.png"
	fi
	rm -rf "$prof"
fi

finish
