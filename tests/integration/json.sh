#!/usr/bin/env bash
# json.sh - every command's --json output is one line that Python's json module reads, whatever
# the names it prints hold: '"', '\', a tab, a control character and non-ASCII text (a BMP
# character and one beyond it) in every name a command accepts come back exactly as given;
# bytes that are not UTF-8 come back read as Latin-1.
. "$(dirname "$0")/lib.sh"

W=$'q"b\\s\tc\x01 é€😀' # a name: quote, backslash, tab, U+0001, non-ASCII
F=$'f"\\\x01é'          # the same without blanks: a Mustache field, an MX host name
IDN=bücher.test
export W F
: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"

# jok LABEL EXPR - the last run exited 0 and printed one line of JSON for which the Python
# expression EXPR holds (j: the value; w, f: $W, $F; e: the environment)
jok() {
	local why
	why=$(python3 -c '
import json, os, sys
raw = open(sys.argv[2], "rb").read()
if raw.count(b"\n") != 1 or not raw.endswith(b"\n"):
    sys.exit("not one line: %r" % raw[:300])
try:
    j = json.loads(raw.decode("utf-8"))
except ValueError as x:
    sys.exit("not JSON (%s): %r" % (x, raw[:300]))
e = os.environ
w, f = e["W"], e["F"]
if not eval("(" + sys.argv[1] + ")"):
    sys.exit("%s is false for %r" % (sys.argv[1], raw[:500]))
' "$2" "$TMP/.out" 2>&1)
	if [ "$RC" = 0 ] && [ -z "$why" ]; then
		ok "$1"
	else
		bad "$1" "exit $RC: $why $(tail -n 3 "$TMP/.err")"
	fi
}
# csvq S - S as one CSV field
csvq() { printf '"%s"' "${1//\"/\"\"}"; }

# init: the database path.
export DBW="$TMP/$W.db"
run "$KIRIM" --db "$DBW" init --json
jok "init: db" 'j["db"] == e["DBW"] and j["created"] is True'
run "$KIRIM" init --json
jok "init" 'j["created"] is True'
run "$KIRIM" version --json
jok "version" 'sorted(j) == ["kirim", "sqlite"]'

# import: list name, file name, column names (an attribute and the address column).
{
	printf 'email,%s\n' "$(csvq "$W")"
	printf 'a@x.test,%s\n' "$(csvq "$W")"
	printf 'josé@%s,v\n' "$IDN"
} >"$W.csv"
run "$KIRIM" import "$W.csv" --list "$W" --json
jok "import: list and source" \
	'j["list"] == w and j["source"] == w + ".csv" and j["summary"]["imported"] == 2'
printf '%s,n\nb@x.test,1\n' "$(csvq "$W")" >col.csv
run "$KIRIM" import col.csv --list "$W" --email-column "$W" --json
jok "import: the address column's name" 'j["summary"]["email_column"] == w'
run "$KIRIM" import col.csv --list "${W}x" --email-column "$W" --json
jok "import: a second list" 'j["list"] == w + "x"'

# lists.
run "$KIRIM" lists --json
jok "lists" 'sorted(l["name"] for l in j) == [w, w + "x"]'
run "$KIRIM" lists show "$W" --json
jok "lists show" 'j["name"] == w and j["members"] == 3'
run "$KIRIM" lists delete "${W}x" --json
jok "lists delete" 'j == {"deleted": True}'

# contacts: attribute names and values, list names, an internationalized address.
run "$KIRIM" contacts show a@x.test --json
jok "contacts show: attributes and lists" 'j["attrs"] == {w: w} and j["lists"] == [w]'
run "$KIRIM" contacts show "josé@$IDN" --json
jok "contacts show: U-labels for display" \
	'j["display"] == "josé@bücher.test" and j["domain"] == "xn--bcher-kva.test"'
run "$KIRIM" contacts search x.test --list "$W" --json
jok "contacts search" 'sorted(c["email"] for c in j) == ["a@x.test", "b@x.test"] and
	[c["attrs"] for c in j if c["email"] == "a@x.test"] == [{w: w}]'
run "$KIRIM" contacts search "$W" --json
jok "contacts search: nothing" 'j == []'

# suppress: the source text; domains in Unicode.
run "$KIRIM" suppress add c@x.test "$IDN" --source "$W" --json
jok "suppress add" 'j == {"added": 2, "unchanged": 0}'
run "$KIRIM" suppress list --json
jok "suppress list: source" \
	'sorted((s["value"], s["source"]) for s in j) == [("c@x.test", w), ("xn--bcher-kva.test", w)]'
run "$KIRIM" suppress remove "$IDN" --json
jok "suppress remove" 'j == {"removed": 1, "unchanged": 0}'
printf 'd@x.test\n' >"$W.sup"
run "$KIRIM" suppress import "$W.sup" --json
jok "suppress import" 'j == {"added": 1, "existing": 0, "rejected": 0}'
run "$KIRIM" suppress list --json
jok "suppress list: the file as source" 'any(s["source"] == w + ".sup" for s in j)'

# template: name, subject, body, field names; render's output.
printf 'Subject: S %s\n\n--- text\nHi {{x}} {{%s}} %s\n' "$W" "$F" "$W" >"$W.tpl"
run "$KIRIM" template add "$W" "$W.tpl" --json
jok "template add" 'j == {"name": w, "version": 1}'
run "$KIRIM" template list --json
jok "template list" 'any(t["name"] == w and t["subject"] == "S " + w for t in j)'
run "$KIRIM" template show "$W" --json
jok "template show" 'j["name"] == w and j["subject"] == "S " + w and w in j["text"]'
run "$KIRIM" template lint "$W" --list "$W" --json
jok "template lint: field names" '[m["field"] for m in j["missing_fields"]] == ["x", f]'
run "$KIRIM" template lint "$W.tpl" --json
jok "template lint a file" 'j["ok"] and j["missing_fields"] == [] and [x["part"] for x in j["warnings"]] == ["text"]'
python3 -c 'import json, os; print(json.dumps({"x": os.environ["W"]}))' >data.json
printf '{{x}}|{{{x}}}' >r.tpl
run "$KIRIM" template render r.tpl --data data.json --escape none --json
jok "template render" 'j["output"] == w + "|" + w'
run "$KIRIM" template add $'bad\xff' "$W.tpl" --json
jok "template add: not UTF-8 is read as Latin-1" 'j["name"] == "bad\u00ff"'

# dkim: the selector and the key file's name.
run "$KIRIM" dkim keygen --domain "$IDN" --selector "$W" --type ed25519 --out "$W.pem" --json
jok "dkim keygen" \
	'j["key_file"] == w + ".pem" and j["name"] == w + "._domainkey.xn--bcher-kva.test"'

# campaign: its name, list, template, sender's name, headers; preview; plan.
run "$KIRIM" campaign create "$W" --list "$W" --template "$W" \
	--from '"Q \"b\" \\ é€😀" <news@example.com>' --header "X-W: $W" --json
jok "campaign create" 'j["name"] == w and j["state"] == "draft"'
run "$KIRIM" campaign show "$W" --json
jok "campaign show" 'j["name"] == w and j["list"] == w and j["template"] == w and
	j["from_name"] == "Q \"b\" \\ é€😀" and j["headers"] == [["X-W", w]]'
run "$KIRIM" campaign list --json
jok "campaign list" '[c["name"] for c in j] == [w]'
run "$KIRIM" preview "$W" --to a@x.test --json
jok "preview" 'j["rcpt_to"] == "a@x.test" and "\r\nX-W: " in j["message"]'
printf 'mx-host=x.test,mx.x.test,10\nhost-record=mx.x.test,127.0.0.1\n' >records
start_dnsmasq records
run "$KIRIM" campaign plan "$W" --dns-server "127.0.0.1:$DNS_PORT" --dns-timeout 500 --json
jok "campaign plan" 'j["campaign"] == w and
	sorted(d["domain"] for d in j["domains"]) == ["x.test", "xn--bcher-kva.test"]'

# send, report and run against smtp-sink.
port=$(free_port)
start_sink "$port"
run "$KIRIM" send "$W" --relay "smtp://127.0.0.1:$port" --tls none --json
jok "send" 'j["campaign"] == w and j["delivered"] >= 2 and "suppressed" in j and
	list(j)[list(j).index("failed") + 1] == "suppressed"'
run "$KIRIM" report "$W" --json
jok "report" 'j["campaign"]["name"] == w'
run "$KIRIM" run --once --relay "smtp://127.0.0.1:$port" --tls none --json
jok "run --once" '"turns" in j and j["stopped"] is False'

# The lifecycle: names, zones, windows and reasons.
"$KIRIM" campaign create "${W}2" --list "$W" --template "$W" --from news@example.com >/dev/null
run "$KIRIM" campaign schedule "${W}2" --at "2099-01-05 09:00" --tz Asia/Jakarta \
	--window "Mon-Fri 08:00-18:00" --json
jok "campaign schedule" 'j["name"] == w + "2" and j["state"] == "scheduled" and
	j["tz"] == "Asia/Jakarta" and j["window"] == "Mon-Fri 08:00-18:00"'
run "$KIRIM" campaign pause "${W}2" --reason "$W" --json
jok "campaign pause" 'j["state"] == "paused" and j["reason"] == w'
run "$KIRIM" status --json
jok "status" 'any(c["campaign"] == w + "2" and c["reason"] == w for c in j["campaigns"])'
run "$KIRIM" campaign resume "${W}2" --json
jok "campaign resume" 'j["name"] == w + "2" and j["state"] == "scheduled"'
run "$KIRIM" campaign cancel "${W}2" --reason "$W" --json
jok "campaign cancel" 'j["state"] == "cancelled" and j["reason"] == w'

# bounces: counts only, from a file with such a name.
cp "$KIRIM_SRC/tests/data/dsn/ses-escapes-both.eml" "$W.eml"
run "$KIRIM" bounces ingest "$W.eml" --json
jok "bounces ingest" 'j["messages"] == 1 and j["failed_files"] == 0'

# domain: patterns in Unicode (a pattern cannot hold the other characters); MX host names.
run "$KIRIM" domain set "$IDN" --rate 10/min --json
jok "domain set" 'j["pattern"] == "xn--bcher-kva.test" and j["rate"]["text"] == "10/min"'
run "$KIRIM" domain set "*.$IDN" --warmup 50,100 --json
jok "domain set: wildcard" 'j["pattern"] == "*.xn--bcher-kva.test" and j["warmup"]["plan"] == "50,100"'
run "$KIRIM" domain show "$IDN" --mx "$F" --json
jok "domain show" 'j["domain"] == "xn--bcher-kva.test" and j["mx"] == [f] and
	j["from"]["rate"] == "xn--bcher-kva.test"'
run "$KIRIM" domain list --json
jok "domain list" 'any(p["pattern"] == "*.xn--bcher-kva.test" for p in j)'
run "$KIRIM" domain unset "*.$IDN" --json
jok "domain unset" 'j == {"pattern": "*.xn--bcher-kva.test", "removed": True}'
run "$KIRIM" domain presets --json
jok "domain presets" 'j["written"] == 0 and all(p["why"] for p in j["presets"])'

finish
