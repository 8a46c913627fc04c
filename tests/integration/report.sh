#!/usr/bin/env bash
# report.sh - `kirim report` and `kirim log` after a real send through a relay (the aiosmtpd
# server answers 550 5.1.1 to reject*, 451 4.3.0 to defer*), with engagement events added as
# `kirim serve` will record them; the HTML is checked by Python's html.parser and xmllint and
# rendered by headless Chromium (no console errors; the screenshot goes to docs/report.png
# when KIRIM_UPDATE_SCREENSHOT=1).
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
eq "nothing sent yet" "$(json 'j["summary"]["recipients"], j["summary"]["delivered"], j["summary"]["first_delivery"]')" "0 0 None"

port=$(free_port)
start_server "$port" --pipelining
run "$KIRIM" send "$C" --relay "smtp://127.0.0.1:$port" --tls none --concurrency 2 --json
eq "send" "$(json 'j["delivered"], j["bounced"], j["deferred"]')" "9 2 1"
stop "$LAST_PID"

# Engagement as the web endpoint records it: two human opens of ok1 (one unique), a machine
# open of ok2, a click and an unsubscribe from ok3, a complaint from ok4.
mid() { sql "SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = '$1'"; }
now=$(date +%s)
sql "INSERT INTO events(message_id, ts, type, detail) VALUES
     ($(mid ok1@a.test), $now, 'open', NULL), ($(mid ok1@a.test), $now, 'open', '{}'),
     ($(mid ok2@a.test), $now, 'open', '{\"machine\":true}'),
     ($(mid ok3@a.test), $now, 'click', '{\"link\":1}'),
     ($(mid ok3@a.test), $now, 'unsubscribe', NULL), ($(mid ok4@a.test), $now, 'complaint', NULL)"

# JSON: every number, and the documented shape.
run "$KIRIM" report "$C" --format json
eq "json exit" "$RC" 0
eq "json schema" "$(json 'j["schema_version"], j["campaign"]["name"]')" "1 $C"
eq "json counts" "$(json '(lambda s: (s["recipients"], s["delivered"], s["bounced"], s["bounced_hard"], s["deferred"], s["suppressed"], s["attempts"]))(j["summary"])')" "(13, 9, 2, 2, 1, 1, 12)"
eq "json engagement" "$(json '(lambda s: (s["opens"]["human"], s["opens"]["unique_human"], s["opens"]["machine"], s["clicks"]["total"], s["unsubscribes"], s["complaints"]))(j["summary"])')" "(2, 1, 1, 1, 1, 1)"
eq "json rates" "$(json 'j["summary"]["rates"]["delivered"], j["summary"]["rates"]["bounced"]')" "75.0 16.67"
eq "json not sent" "$(json 'j["not_sent"]')" "[{'reason': 'unsubscribe', 'count': 1}]"
eq "json domains" "$(json '[(d["key"], d["messages"], d["delivered"], d["bounced"], d["deferred"], d["suppressed"]) for d in j["domains"]]')" "[('a.test', 8, 6, 1, 0, 1), ('b.test', 4, 3, 1, 0, 0), ('c.test', 1, 0, 0, 1, 0)]"
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
contains "text delivered" "$squeezed" " delivered 9 75.0%"
contains "text bounced" "$squeezed" " bounced, hard 2 16.7%"
contains "text suppressed reason" "$squeezed" " suppressed 1 unsubscribe 1"
contains "text opens" "$squeezed" "Opens, human 2 11.1% 1 opened"
contains "text machine opens" "$squeezed" "Opens, machine 1 prefetchers"
contains "text domain row" "$OUT" "a.test         8          6"
# Every row's "delivered" number ends where its header does (right-aligned columns).
eq "text table columns line up" "$(printf '%s\n' "$OUT" | python3 -c '
import sys
rows = sys.stdin.read().split("\nBy recipient domain\n")[1].split("\n\n")[0].splitlines()
end = rows[0].index("delivered") + len("delivered")
print(all(r[end - 1] != " " and (len(r) == end or r[end] == " ") for r in rows[1:]) and len(rows) == 4)
')" True
run "$KIRIM" report "$C" --by reason
contains "text by reason" "$OUT" "user unknown"
run "$KIRIM" report "$C" --by hour
contains "text by hour" "$OUT" "hour (UTC)"

# CSV: parsed by Python's csv module.
csvq() { python3 -c "import csv,sys; rows=list(csv.DictReader(open(sys.argv[1], newline=''))); print($1)" "$2"; }
"$KIRIM" report "$C" --format csv -o dom.csv -q
eq "csv domains" "$(csvq '[(r["domain"], r["messages"], r["delivered"], r["bounced"], r["deferred"]) for r in rows]' dom.csv)" "[('a.test', '8', '6', '1', '0'), ('b.test', '4', '3', '1', '0'), ('c.test', '1', '0', '0', '1')]"
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
eq "log header" "$(head -1 log.csv | tr -d '\r')" "time,recipient,destination,mx_host,outcome,code,enhanced_code,reply,tls,attempt"

# --all across campaigns.
run "$KIRIM" report --all --last 5 --json
eq "all" "$(json '[(c["name"], c["recipients"], c["delivered"], c["opened"]) for c in j["campaigns"]]')" "[('$C', 13, 9, 1)]"
run "$KIRIM" report --all
contains "all text" "$OUT" "75.0%"

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
