#!/usr/bin/env bash
# serve.sh - `kirim serve` on loopback: one-click unsubscribe (RFC 8058) from the URL in a
# message delivered to smtp-sink, the unsubscribe page (and headless Chromium clicking its
# button), forged tokens, request limits, opens, clicks, resubscribe, list-scoped
# unsubscribes, the browser view, graceful stop. Tokens for opens and clicks (which no command prints yet)
# are made here in Python from the same secret: that also pins down the token format.
. "$(dirname "$0")/lib.sh"

SECRET=serve-test-secret-0123456789abcdef
port=$(free_port)
BASE="http://127.0.0.1:$port"
# Messages carry the public https URL (RFC 8058 wants https); a TLS proxy would forward
# it to kirim serve's plain HTTP on loopback, which the test talks to directly.
PUBLIC="https://127.0.0.1:$port"
cat >kirim.conf <<EOF
[secret]
value = $SECRET
[unsubscribe]
url = $PUBLIC/u/
view_url = $PUBLIC/v/
EOF
export KIRIM_CONFIG="$TMP/kirim.conf"

# tok PURPOSE CAMPAIGN CONTACT - a token as token.c makes it (lib.sh's make_token)
tok() { make_token "$SECRET" "$@"; }
# code ARGS... - curl's status code only
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
camp() { sql "SELECT id FROM campaigns WHERE name = '$1'"; }
state() { sql "SELECT group_concat(s, ' ') FROM (SELECT k.email || '=' || m.state AS s FROM messages m JOIN contacts k ON k.id = m.contact_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' ORDER BY k.email)"; }
# folded - wait (5 s at most) until kirim serve has folded its journal of one-click
# unsubscribes (KIRIM_DB-serve) into the database: the database's mark
# (settings serve_journal, "GENERATION:ID") reaches the journal's last row.
unfolded() {
	local mark id
	mark=$(sql "SELECT value FROM settings WHERE key = 'serve_journal'")
	id=${mark#*:}
	sqlite3 -batch "$KIRIM_DB-serve" "SELECT count(*) FROM unsubscribes WHERE id > ${id:-0}" 2>/dev/null
}
folded() {
	for _ in $(seq 1 50); do
		[ "$(unfolded)" = 0 ] && return 0
		sleep 0.1
	done
	bad "journal folded" "$(unfolded) rows not folded"
}
changes() { sql "SELECT (SELECT group_concat(kind || ':' || value || ':' || reason, ',') FROM suppressions), (SELECT count(*) FROM events WHERE type IN ('unsubscribe','open','click')), (SELECT count(*) FROM list_members)"; }

printf 'email,first_name\nann@one.example,Ann\nbob@two.example,Bob\ncyd@three.example,Cyd\n' >l.csv
"$KIRIM" import l.csv --list l -q >/dev/null
cat >t.tpl <<'EOF'
Subject: News for {{first_name}}

--- text
Hi {{first_name}}. Unsubscribe: {{unsubscribe_url}}
--- html
<p>Hi {{first_name}}. <a href="https://shop.example/sale?a=1&amp;b=2">Sale</a>
<a href="{{unsubscribe_url}}">Unsubscribe</a></p>
EOF
"$KIRIM" template add t t.tpl >/dev/null
for c in c1 c2 c3; do
	"$KIRIM" campaign create $c --list l --template t --from "Shop <news@shop.example>" >/dev/null
done
# The composer keeps a campaign's click links in campaigns.options "links"; c3 unsubscribes
# from its list only.
sql "UPDATE campaigns SET options = '{\"links\":[\"https://shop.example/sale?a=1&b=2\",\"javascript:alert(1)\"]}' WHERE name = 'c1'"
sql "UPDATE campaigns SET options = '{\"unsubscribe_scope\":\"list\"}' WHERE name = 'c3'"

# 1. Send c1 to smtp-sink; the List-Unsubscribe URL comes from the delivered bytes.
sport=$(free_port)
mkdir dump && chmod 777 dump
start_sink "$sport" -d "$TMP/dump/%M."
sink=$LAST_PID
run "$KIRIM" send c1 --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "c1 sent" "$(json 'j["delivered"]')" 3
msg=$(grep -l '^To: .*ann@one.example' dump/* | head -1)
hdr=$(grep -i '^List-Unsubscribe:' "$msg" | tr -d '\r')
post=$(grep -i '^List-Unsubscribe-Post:' "$msg" | tr -d '\r')
eq "one-click header" "$post" "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
url=$(printf '%s' "$hdr" | grep -o "<$PUBLIC/u/[A-Za-z0-9_-]*>" | tr -d '<>')
contains "unsubscribe URL in the message" "$url" "$PUBLIC/u/"
utok=${url##*/}
url=$BASE/u/$utok # through the (absent) proxy

"$KIRIM" serve --listen "127.0.0.1:$port" --base-url "$PUBLIC" 2>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$port"
eq "health" "$(curl -s "$BASE/healthz")" ok

# 2. The page (the preferences page: pages.sh tests it whole): GET never unsubscribes; it is
#    a form with one button that POSTs.
before=$(changes)
page=$(curl -s "$BASE/u/$utok")
eq "GET changes nothing" "$(changes)" "$before"
for want in '<html lang="en">' '<title>Your email preferences</title>' '<label for="scope-list">' \
	'<form method="post" action="'"$utok"'/unsubscribe">' '<button type="submit" id="unsubscribe">'; do
	contains "page has $want" "$page" "$want"
done
eq "one button" "$(printf '%s' "$page" | grep -c '<button')" 1
eq "HEAD page" "$(code -I "$BASE/u/$utok")" 200
eq "HEAD changes nothing" "$(changes)" "$before"

# 3. Forged, altered and foreign tokens: 404, nothing changed.
alt=${utok:0:${#utok}-1}$([ "${utok: -1}" = A ] && echo B || echo A)
eq "altered token" "$(code -d List-Unsubscribe=One-Click "$BASE/u/$alt")" 404
eq "truncated token" "$(code -d List-Unsubscribe=One-Click "$BASE/u/${utok:0:10}")" 404
eq "forged token (other key)" "$(code -d List-Unsubscribe=One-Click "$BASE/u/$(SECRET=other-secret-0123456789 tok u 1 1)")" 404
eq "open token on /u/" "$(code -d List-Unsubscribe=One-Click "$BASE/u/$(tok o "$(camp c1)" "$(cid ann@one.example)")")" 404
eq "no such contact" "$(code -d List-Unsubscribe=One-Click "$BASE/u/$(tok u "$(camp c1)" 999)")" 404
eq "wrong body" "$(code -d List-Unsubscribe=Two-Click "$BASE/u/$utok")" 400
eq "no body" "$(code -X POST "$BASE/u/$utok")" 400
eq "nothing changed" "$(changes)" "$before"

# 4. One-click POST (as Gmail sends it): 200, no redirect, suppressed, one event.
run curl -s -i -d List-Unsubscribe=One-Click "$url"
contains "one-click 200" "$OUT" "HTTP/1.1 200"
case "$OUT" in *Location:*) bad "no redirect" "$OUT" ;; *) ok "no redirect" ;; esac
folded
eq "suppressed" "$(sql "SELECT kind, value, reason, source FROM suppressions")" "address|ann@one.example|unsubscribe|campaign:c1"
eq "unsubscribe event" "$(sql "SELECT e.type, e.detail FROM events e JOIN messages m ON m.id = e.message_id WHERE e.type = 'unsubscribe' AND m.contact_id = $(cid ann@one.example)")" 'unsubscribe|{"scope":"all"}'
after=$(changes)
eq "twice: 200" "$(code -d List-Unsubscribe=One-Click "$url")" 200
folded
eq "twice: harmless" "$(changes)" "$after"
mp=$(curl -s -o /dev/null -w '%{http_code}' -F List-Unsubscribe=One-Click "$url")
eq "multipart/form-data one-click" "$mp" 200
folded

# 5. The next campaign to the same list skips the address.
run "$KIRIM" send c2 --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "c2 sends to 2" "$(json 'j["delivered"]')" 2
eq "c2 states" "$(state c2)" "ann@one.example=suppressed bob@two.example=delivered cyd@three.example=delivered"
stop "$sink"
eq "the sink got ann once" "$(grep -l '^To: .*ann@one.example' dump/* | wc -l)" 1

# 6. Resubscribe, then unsubscribe again through the page's form (page=1 gets a page).
rp=$(curl -s -X POST "$BASE/u/$utok/resubscribe")
contains "resubscribed page" "$rp" "You are subscribed again"
eq "suppression lifted" "$(sql "SELECT count(*) FROM suppressions")" 0
eq "GET resubscribe" "$(code "$BASE/u/$utok/resubscribe")" 405
up=$(curl -s -d 'List-Unsubscribe=One-Click&page=1' "$BASE/u/$utok")
contains "confirmation page" "$up" "You are unsubscribed"
contains "offers to resubscribe" "$up" "action=\"$utok/resubscribe\""
eq "suppressed again" "$(sql "SELECT count(*) FROM suppressions WHERE reason = 'unsubscribe'")" 1
sql "INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('address', 'cyd@three.example', 'hard_bounce', 0)"
curl -s -o /dev/null -X POST "$BASE/u/$(tok u "$(camp c1)" "$(cid cyd@three.example)")/resubscribe"
eq "resubscribe keeps a bounce" "$(sql "SELECT reason FROM suppressions WHERE value = 'cyd@three.example'")" hard_bounce

# 7. List scope: c3 removes bob from list l only.
eq "list scope" "$(code -d List-Unsubscribe=One-Click "$BASE/u/$(tok u "$(camp c3)" "$(cid bob@two.example)")")" 200
folded
eq "bob left the list" "$(sql "SELECT count(*) FROM list_members WHERE contact_id = $(cid bob@two.example)")" 0
eq "bob not suppressed" "$(sql "SELECT count(*) FROM suppressions WHERE value = 'bob@two.example'")" 0

# 8. Opens: a GIF; prefetchers are machine opens.
b=$(cid bob@two.example)
otok=$(tok o "$(camp c1)" "$b")
run curl -s -D hdr.txt -o pixel.gif -A "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0" "$BASE/o/$otok.gif"
contains "gif type" "$(cat hdr.txt)" "Content-Type: image/gif"
eq "gif bytes" "$(head -c 6 pixel.gif)" GIF89a
curl -s -o /dev/null -A "Mozilla/5.0" "$BASE/o/$otok.gif"
curl -s -o /dev/null -A "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)" "$BASE/o/$otok.gif"
eq "opens" "$(sql "SELECT group_concat(json_extract(detail, '$.machine'), ',') FROM (SELECT detail FROM events WHERE type = 'open' ORDER BY id)")" "0,1,1"
eq "forged open" "$(code "$BASE/o/${otok}x.gif")" 404

# 9. Clicks: only to the campaign's own link table, never an open redirect.
ctok=$(tok c "$(camp c1)" "$b")
run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/c/$ctok/0"
eq "click redirect" "$OUT" "302 https://shop.example/sale?a=1&b=2"
eq "click event" "$(sql "SELECT detail FROM events WHERE type = 'click'")" '{"link":0}'
eq "unsafe link in the table" "$(code "$BASE/c/$ctok/1")" 404
eq "link not in the table" "$(code "$BASE/c/$ctok/2")" 404
eq "other campaign's table" "$(code "$BASE/c/$(tok c "$(camp c2)" "$b")/0")" 404
eq "url in the path" "$(code "$BASE/c/$ctok/0?u=https://evil.example/")" 302
eq "redirect target fixed" "$(curl -s -o /dev/null -w '%{redirect_url}' "$BASE/c/$ctok/0?u=https://evil.example/")" "https://shop.example/sale?a=1&b=2"
eq "unsubscribe token on /c/" "$(code "$BASE/c/$utok/0")" 404
eq "HEAD click records nothing" "$(code -I "$BASE/c/$ctok/0") $(sql "SELECT count(*) FROM events WHERE type = 'click'")" "302 3"

# 10. Limits and malformed requests: answered cleanly, server keeps going.
eq "unknown path" "$(code "$BASE/nope")" 404
eq "PUT" "$(code -X PUT "$BASE/u/$utok")" 405
eq "body too large (Content-Length)" "$(code -d "List-Unsubscribe=One-Click&x=$(head -c 10000 /dev/zero | tr '\0' a)" "$BASE/u/$utok")" 413
eq "body too large (chunked)" "$(head -c 20000 /dev/zero | tr '\0' a | code -H 'Transfer-Encoding: chunked' --data-binary @- "$BASE/u/$utok")" 413
big=$(head -c 20000 /dev/zero | tr '\0' a)
hc=$(code -H "X-Big: $big" "$BASE/healthz")
case "$hc" in 431 | 413 | 400) ok "headers too large" ;; *) bad "headers too large" "got $hc" ;; esac
lc=$(code "$BASE/u/$big")
case "$lc" in 414 | 431 | 400) ok "URL too long" ;; *) bad "URL too long" "got $lc" ;; esac
raw() { # raw BYTES - send bytes on a fresh connection, print the status line
	$PY3 - "$port" "$1" <<'PYEND'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
try:
    print(s.recv(200).split(b"\r\n")[0].decode(errors="replace"))
except Exception as e:
    print("error", e)
PYEND
}
contains "garbage request line" "$(raw 'GARBAGE\r\n\r\n')" "HTTP/1.1 400"
contains "request smuggling: Content-Length and chunked" "$(raw 'POST /u/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "HTTP/1.1 400"
# Two requests in one write (pipelining): both answered, in order, on one connection.
pipe=$($PY3 - "$port" <<'PYEND'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
import re
print(" ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", data)))
PYEND
)
eq "pipelined requests answered in order" "$pipe" "200 404"
# A body over 1 KiB: curl asks "Expect: 100-continue" first.
eq "Expect: 100-continue" "$(code -d "List-Unsubscribe=One-Click&pad=$(head -c 2000 /dev/zero | tr '\0' a)" "$BASE/u/$(tok u "$(camp c1)" "$(cid cyd@three.example)")")" 200
folded
# Keep-alive: curl sends both requests on one connection.
eq "keep-alive" "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' "$BASE/healthz" "$BASE/healthz" | tr -d '\n')" "10"
contains "unknown HTTP version" "$(raw 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n')" "HTTP/1.1 505"
contains "bad Content-Length" "$(raw 'POST /u/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')" "HTTP/1.1 400"
contains "bad chunk" "$(raw 'POST /u/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')" "HTTP/1.1 400"
contains "bad header line" "$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n')" "HTTP/1.1 400"
contains "NUL in path" "$(raw 'GET /u/a\x00b HTTP/1.1\r\nHost: x\r\n\r\n')" "HTTP/1.1 4"
eq "still serving" "$(curl -s "$BASE/healthz")" ok

# 11. The access log: one line per request, no token.
grep -q "route=unsubscribe status=200 campaign=$(camp c1) contact=$(cid ann@one.example)" serve.log && ok "access log" || bad "access log" "$(tail -3 serve.log)"
grep -q -e "$utok" -e "$otok" -e "$ctok" serve.log && bad "token in the log" "$(grep -e "$utok" serve.log | head -1)" || ok "no token in the log"

# 12. Headless Chromium opens the page and clicks its button.
if command -v chromium >/dev/null && $PY3 -c 'import websocket' 2>/dev/null; then
	sql "DELETE FROM suppressions"
	dport=$(free_port)
	chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/chrome" \
		--remote-debugging-port="$dport" about:blank >chrome.log 2>&1 &
	chrome=$!
	PIDS+=("$chrome")
	wait_port "$dport"
	run $PY3 - "$dport" "$BASE/u/$utok" <<'PYEND'
import json, sys, time, urllib.request
import websocket
port, url = sys.argv[1], sys.argv[2]
for _ in range(50):
    try:
        pages = [t for t in json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port)) if t["type"] == "page"]
        if pages:
            break
    except Exception:
        pass
    time.sleep(0.1)
ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=10)
n = 0
def call(method, **params):
    global n
    n += 1
    ws.send(json.dumps({"id": n, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == n:
            return m.get("result", {})
def evaluate(expr):
    return call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")
def wait_for(expr):
    for _ in range(100):
        if evaluate(expr):
            return True
        time.sleep(0.05)
    return False
call("Page.enable")
call("Page.navigate", url=url)
wait_for("document.readyState == 'complete' && !!document.querySelector('button')")
print("title=" + evaluate("document.title"))
print("lang=" + evaluate("document.documentElement.lang"))
print("label=" + evaluate("document.querySelector('#scope-all').labels.length + ''"))
# Real mouse clicks at the centres of "all of them" and of the button.
def click(sel):
    r = evaluate("(() => { const e = document.querySelector('%s'); e.scrollIntoView({block: 'center'}); const b = e.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })()" % sel)
    for kind in ("mousePressed", "mouseReleased"):
        call("Input.dispatchMouseEvent", type=kind, x=r[0], y=r[1], button="left", clickCount=1)
click("#scope-all")
click("button")
wait_for("document.title == 'You are unsubscribed'")
print("after=" + evaluate("document.title") + "|" + evaluate("document.querySelector('h1').textContent"))
call("Page.captureScreenshot")
ws.close()
PYEND
	contains "chromium: title" "$OUT" "title=Your email preferences"
	contains "chromium: lang" "$OUT" "lang=en"
	contains "chromium: labelled button" "$OUT" "label=1"
	contains "chromium: confirmation" "$OUT" "after=You are unsubscribed|You are unsubscribed"
	eq "chromium: suppressed" "$(sql "SELECT value FROM suppressions")" ann@one.example
	stop "$chrome"
else
	echo "SKIP chromium (needs Debian chromium and python3-websocket)"
fi

# 12b. Tracking from the composer: a campaign with --track-opens --track-clicks gets its HTML
#     links rewritten to BASE/c/TOKEN/N and a pixel BASE/o/TOKEN.gif; following them from the
#     delivered bytes records the click and the open and redirects to the original link.
printf 'Subject: Sale\n\n--- text\nSale!\n--- html\n<html><body><p><a href="https://shop.example/new?x=1&amp;y=2">New</a> <a href="mailto:help@shop.example">Help</a> <a href="{{unsubscribe_url}}">Unsubscribe</a></p></body></html>\n' >tr.tpl
"$KIRIM" template add tr tr.tpl >/dev/null
"$KIRIM" campaign create tracked --list l --template tr --from "Shop <news@shop.example>" --track-opens --track-clicks >/dev/null
tport=$(free_port)
mkdir tdump && chmod 777 tdump
start_sink "$tport" -d "$TMP/tdump/%M."
run "$KIRIM" send tracked --relay "smtp://127.0.0.1:$tport" --tls none --json
stop "$LAST_PID"
eq "tracked: sent" "$(json 'j["delivered"] > 0')" True
eq "tracked: the link table is saved" "$(sql "SELECT json_extract(options, '\$.links') FROM campaigns WHERE name='tracked'")" '["https://shop.example/new?x=1&y=2"]'
$PY3 - "$(ls tdump/* | head -n 1)" >tracked.txt <<'PYEND'
import email, email.policy, re, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
html = m.get_body(preferencelist=('html',)).get_content()
print(' '.join(re.findall(r'href="([^"]+)"', html)))
print(' '.join(re.findall(r'<img src="([^"]+)"', html)))
PYEND
links=$(sed -n 1p tracked.txt)
pixel=$(sed -n 2p tracked.txt)
click=$(printf '%s\n' $links | grep '/c/' | head -n 1)
contains "tracked: the link goes through kirim serve" "$click" "$PUBLIC/c/"
contains "tracked: mailto: left alone" "$links" "mailto:help@shop.example"
contains "tracked: the unsubscribe link left alone" "$links" "$PUBLIC/u/"
contains "tracked: a pixel" "$pixel" "$PUBLIC/o/"
eq "tracked: the click redirects to the original" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "${click/$PUBLIC/$BASE}")" "302 https://shop.example/new?x=1&y=2"
eq "tracked: the open answers a GIF" "$(code -A 'Mozilla/5.0 (X11; Linux x86_64)' "${pixel/$PUBLIC/$BASE}")" 200
eq "tracked: click and open recorded" "$(sql "SELECT group_concat(type, ' ') FROM (SELECT e.type FROM events e JOIN messages m ON m.id=e.message_id JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='tracked' AND e.type IN ('open','click') ORDER BY e.type)")" "click open"

# 12c. The live report at /r/CAMPAIGN: loopback clients only (the test is one), HTML.
run curl -s -o report.html -w '%{http_code} %{content_type}' "$BASE/r/tracked"
eq "live report: served" "$OUT" "200 text/html; charset=utf-8"
contains "live report: it is the campaign's report" "$(cat report.html)" "tracked"
eq "live report: unknown campaign" "$(code "$BASE/r/nosuch")" 404
# #18 item 16: the page says when it was made (it said 1970-01-01).
contains "live report: made today" "$(grep -o 'report of [0-9-]*' report.html)" "report of $(date -u +%Y-%m-%d)"
# Without --trust-proxy a proxy header changes nothing: the TCP peer is the client.
eq "live report: no --trust-proxy, X-Forwarded-For ignored" "$(code -H 'X-Forwarded-For: 203.0.113.9' "$BASE/r/tracked")" 200
eq "live report: no --trust-proxy, X-Real-IP ignored" "$(code -H 'X-Real-IP: 203.0.113.9' "$BASE/r/tracked")" 200

# 12d. The browser view (#18 item 8): the {{view_url}} link of a delivered message answers the
#     recipient's own HTML part, as Python's email package decodes it from the message, with
#     the links tracked as in the mail (a personal link too: the campaign's link numbers) and
#     without the open pixel; viewing records nothing. A text-only template: its text part.
printf 'email,first_name\ndee@four.example,Dee\neve@five.example,Ève\n' >v.csv
"$KIRIM" import v.csv --list v -q >/dev/null
cat >v.tpl <<'TPL'
Subject: Your picks, {{first_name}}

--- text
Hi {{first_name}}. View: {{view_url}} Unsubscribe: {{unsubscribe_url}}
--- html
<html><body><p>Hi {{first_name}} &amp; café</p>
<p><a href="https://shop.example/for/{{email}}">Your picks</a>
<a href="https://shop.example/all">All</a>
<a href="{{view_url}}">View in your browser</a>
<a href="{{unsubscribe_url}}">Unsubscribe</a></p></body></html>
TPL
"$KIRIM" template add v v.tpl >/dev/null
"$KIRIM" campaign create viewed --list v --template v --from "Shop <news@shop.example>" --track-opens --track-clicks >/dev/null
printf 'Subject: Plain\n\n--- text\nHello {{first_name}}, in plain text.\nSee {{view_url}}\n' >vt.tpl
"$KIRIM" template add vt vt.tpl >/dev/null
"$KIRIM" campaign create vplain --list v --template vt --from "Shop <news@shop.example>" >/dev/null
vport=$(free_port)
mkdir vdump && chmod 777 vdump
start_sink "$vport" -d "$TMP/vdump/%M."
for c in viewed vplain; do
	run "$KIRIM" send $c --relay "smtp://127.0.0.1:$vport" --tls none --json
	eq "view: $c sent" "$(json 'j["delivered"]')" 2
done
stop "$LAST_PID"
events_before=$(sql "SELECT count(*) FROM events WHERE type IN ('open', 'click')")
# For each message: its view link, the GET and HEAD answers, and whether the page is the part.
$PY3 - "$PUBLIC" "$BASE" vdump/* >view.txt <<'PYEND'
import email, email.policy, re, sys, urllib.request
public, base = sys.argv[1], sys.argv[2]
for path in sorted(sys.argv[3:]):
    # smtp-sink stores a message with LF line ends and an empty line after it: this is the
    # message as it came on the wire again (kirim writes CRLF only, never a bare LF).
    raw = open(path, 'rb').read()
    raw = raw[:-1].replace(b'\n', b'\r\n') if raw.endswith(b'\n\n') else raw
    m = email.message_from_bytes(raw, policy=email.policy.default)
    to = m['To'].addresses[0].addr_spec
    html = m.get_body(preferencelist=('html',))
    part = (html or m.get_body(preferencelist=('plain',))).get_content()
    kind = 'html' if html else 'text'
    url = re.search(re.escape(public) + r'/v/[A-Za-z0-9_-]+', part).group(0)
    local = base + url[len(public):]
    got = urllib.request.urlopen(local)
    body = got.read().decode('utf-8')
    # The page is the part less the open pixel (a page view is not an open).
    pixel = re.findall(r'<img src="' + re.escape(public) + r'/o/[^"]+"[^>]*>', part)
    want = part
    for p in pixel:
        want = want.replace(p, '')
    head = urllib.request.urlopen(urllib.request.Request(local, method='HEAD'))
    print(kind, to, 'status=%d' % got.status, 'pixel_in_mail=%d' % len(pixel),
          'equal=%s' % (body == want), 'pixel_in_page=%d' % body.count('/o/'),
          'head=%d:%s' % (head.status, head.headers['Content-Length'] == str(len(body.encode()))))
    for h in ('Content-Type', 'Cache-Control', 'X-Robots-Tag', 'Referrer-Policy'):
        print(kind, to, h + ': ' + str(got.headers[h]))
    print(kind, to, 'url', local)
    clicks = [u for u in re.findall(r'href="([^"]+)"', body) if '/c/' in u]
    print(kind, to, 'clicks', ' '.join(base + u[len(public):] for u in clicks))
    print(kind, to, 'mailclicks', ' '.join(u for u in re.findall(r'href="([^"]+)"', part) if '/c/' in u))
PYEND
vl() { grep "^$1 $2 $3" view.txt | cut -d' ' -f4-; }
for who in dee@four.example eve@five.example; do
	eq "view: $who: 200, the HTML part less the pixel" "$(vl html $who status=)" "pixel_in_mail=1 equal=True pixel_in_page=0 head=200:True"
	eq "view: $who: html type" "$(vl html $who Content-Type:)" "text/html; charset=utf-8"
	eq "view: $who: private" "$(vl html $who Cache-Control:)" "private, no-store"
	eq "view: $who: noindex" "$(vl html $who X-Robots-Tag:)" "noindex"
	eq "view: $who: no referrer" "$(vl html $who Referrer-Policy:)" "no-referrer"
	eq "view: $who: text-only template: the text part" "$(vl text $who status=)" "pixel_in_mail=0 equal=True pixel_in_page=0 head=200:True"
	eq "view: $who: text type" "$(vl text $who Content-Type:)" "text/plain; charset=utf-8"
done
eq "view: records nothing (no open, no click)" "$(sql "SELECT count(*) FROM events WHERE type IN ('open', 'click')")" "$events_before"
# The page's tracked links are the mail's: the personal one redirects to this recipient's URL.
eq "view: two tracked links on the page" "$(vl html eve@five.example clicks | wc -w)" 2
eq "view: the page's personal link" "$(curl -s -o /dev/null -w '%{redirect_url}' "$(vl html eve@five.example clicks | cut -d' ' -f1)")" "https://shop.example/for/eve@five.example"
eq "view: the page's shared link" "$(curl -s -o /dev/null -w '%{redirect_url}' "$(vl html eve@five.example clicks | cut -d' ' -f2)")" "https://shop.example/all"
# The campaign's link numbers are the composer's from the start (they were its first
# recipient's order): 'kirim preview' shows dee's links as dee's mail has them, not renumbered.
"$KIRIM" preview viewed --to dee@four.example >pv.eml 2>/dev/null
eq "view: preview keeps the campaign's link numbers" "$($PY3 -c '
import email, email.policy, re, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print(" ".join(u for u in re.findall(r"href=\"([^\"]+)\"", m.get_body(preferencelist=("html",)).get_content()) if "/c/" in u))' pv.eml)" "$(vl html dee@four.example mailclicks)"
# Bad tokens: the same 404 page as every other bad token.
vurl=$(vl html eve@five.example url)
vtok=${vurl##*/}
valt=${vtok:0:${#vtok}-1}$([ "${vtok: -1}" = A ] && echo B || echo A)
nf=$(curl -s "$BASE/u/$alt")
for t in "altered:$valt" "truncated:${vtok:0:12}" "unsubscribe token:$utok" \
	"no such contact:$(tok v "$(camp viewed)" 999)" "no such campaign:$(tok v 999 "$(cid eve@five.example)")" \
	"other key:$(SECRET=other-secret-0123456789 tok v "$(camp viewed)" "$(cid eve@five.example)")"; do
	eq "view: ${t%%:*} token: 404" "$(code "$BASE/v/${t#*:}") $(curl -s "$BASE/v/${t#*:}")" "404 $nf"
done
eq "view: POST" "$(code -d x=1 "$BASE/v/$vtok")" 405
# A contact deleted since: 404 too.
dtok=$(tok v "$(camp viewed)" "$(cid dee@four.example)")
eq "view: the token of a contact still there" "$(code "$BASE/v/$dtok")" 200
"$KIRIM" contacts delete dee@four.example -q
eq "view: a deleted contact: 404" "$(code "$BASE/v/$dtok")" 404
grep -q "route=view status=200 campaign=$(camp viewed) contact=$(cid eve@five.example)" serve.log && ok "view: access log" || bad "view: access log" "$(grep route=view serve.log | tail -2)"
grep -q -e "$vtok" serve.log && bad "view: token in the log" "$(grep -e "$vtok" serve.log | head -1)" || ok "view: no token in the log"

# 13. Graceful stop on SIGTERM.
kill -TERM "$srv"
wait "$srv"
eq "SIGTERM: exit 0" "$?" 0

eq "stopped with the journal folded and emptied" "$(unfolded) $(sqlite3 -batch "$KIRIM_DB-serve" "SELECT count(*) FROM unsubscribes")" "0 0"

# 13b. A journaled unsubscribe that was answered but not folded (kirim serve killed in
# between) is folded when kirim serve starts again, and only once: the fold records how far
# it got in the database in its own transaction, so a row it folded but could not delete
# from the journal (killed in between) is not applied again.
sql "DELETE FROM suppressions"
jc=$(cid cyd@three.example)
mark=$(sql "SELECT value FROM settings WHERE key = 'serve_journal'")
sqlite3 -batch "$KIRIM_DB-serve" "INSERT INTO unsubscribes(id, campaign_id, contact_id, ts) VALUES (${mark#*:}, $(camp c1), $(cid ann@one.example), 1);
	INSERT INTO unsubscribes(campaign_id, contact_id, ts) VALUES ($(camp c1), $jc, 1)"
uev() { sql "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id WHERE e.type = 'unsubscribe' AND m.contact_id = $jc"; }
before_ev=$(uev)

# 14. A second server with tight limits: per-IP rate, slow clients.
port2=$(free_port)
"$KIRIM" serve --listen "127.0.0.1:$port2" --rate 1 --burst 3 --timeout 2 -q 2>serve2.log &
srv2=$!
PIDS+=("$srv2")
wait_port "$port2"
folded
eq "journal left by a killed server: folded at start" "$(sql "SELECT value, reason FROM suppressions")" "cyd@three.example|unsubscribe"
eq "journal left by a killed server: one event" "$(uev)" "$((before_ev + 1))"
codes=$(for _ in 1 2 3 4 5 6; do code "http://127.0.0.1:$port2/healthz"; echo; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
eq "rate limit" "$codes" "200x3 429x3 "
slow=$($PY3 - "$port2" <<'PYEND'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t = time.time()
try:
    # One byte a second: never idle long enough for an idle timeout.
    for c in "GET /healthz HTTP/1.1\r\nHost: x\r\n":
        s.sendall(c.encode())
        time.sleep(0.5)
    print("not cut")
except (BrokenPipeError, ConnectionResetError):
    print("cut after %d s" % round(time.time() - t))
PYEND
)
case "$slow" in "cut after "[234]" s") ok "slow client cut" ;; *) bad "slow client cut" "$slow" ;; esac
kill -INT "$srv2"
wait "$srv2"
eq "SIGINT: exit 0" "$?" 0
run "$KIRIM" serve --listen nonsense
eq "bad --listen" "$RC" 64
# The config is read (and checked against --base-url) before the address is.
run "$KIRIM" serve --listen nonsense --base-url https://elsewhere.example
contains "a view_url that is not BASE/v/: warned" "$ERR" "view_url=$PUBLIC/v/: view links point elsewhere (expected https://elsewhere.example/v/)"
run "$KIRIM" serve --max-connections 100 --max-per-ip 101
eq "--max-per-ip over --max-connections" "$RC" 64
contains "--max-per-ip over --max-connections: says why" "$ERR" "--max-per-ip 101 is more than --max-connections 100"

# 14b. --trust-proxy: the live report goes by the client address the proxy gives (the one the
#     rate limit and the log use), not by the proxy's own loopback address. 203.0.113.9
#     (TEST-NET-3) is only a header value here.
port3=$(free_port)
"$KIRIM" serve --listen "127.0.0.1:$port3" --trust-proxy 2>serve3.log &
srv3=$!
PIDS+=("$srv3")
wait_port "$port3"
R3="http://127.0.0.1:$port3/r/tracked"
eq "trust-proxy report: X-Forwarded-For outside" "$(code -H 'X-Forwarded-For: 203.0.113.9' "$R3")" 403
eq "trust-proxy report: X-Real-IP outside" "$(code -H 'X-Real-IP: 203.0.113.9' "$R3")" 403
eq "trust-proxy report: the rightmost X-Forwarded-For entry" "$(code -H 'X-Forwarded-For: 127.0.0.1, 203.0.113.9' "$R3")" 403
# A proxy that appends a header line of its own: the client's line comes first.
eq "trust-proxy report: the last X-Forwarded-For line" "$(code -H 'X-Forwarded-For: 127.0.0.1' -H 'X-Forwarded-For: 203.0.113.9' "$R3")" 403
# A proxy that sets one header passes the client's other: both must say loopback.
eq "trust-proxy report: a client's X-Real-IP beside the proxy's X-Forwarded-For" "$(code -H 'X-Real-IP: 127.0.0.1' -H 'X-Forwarded-For: 203.0.113.9' "$R3")" 403
eq "trust-proxy report: a client's X-Forwarded-For beside the proxy's X-Real-IP" "$(code -H 'X-Forwarded-For: 127.0.0.1' -H 'X-Real-IP: 203.0.113.9' "$R3")" 403
eq "trust-proxy report: an unreadable forwarded address" "$(code -H 'X-Forwarded-For: unknown' "$R3")" 403
eq "trust-proxy report: X-Forwarded-For loopback" "$(code -H 'X-Forwarded-For: 127.0.0.1' "$R3")" 200
eq "trust-proxy report: X-Real-IP loopback" "$(code -H 'X-Real-IP: ::1' "$R3")" 200
eq "trust-proxy report: no proxy header (a local client)" "$(code "$R3")" 200
kill -TERM "$srv3"
wait "$srv3"
eq "trust-proxy: exit 0" "$?" 0
contains "trust-proxy: the log names the forwarded client" "$(cat serve3.log)" "ip=203.0.113.9 method=GET route=report status=403"

# 15. kirim send folds what a killed kirim serve left in the journal before it sends.
sql "DELETE FROM suppressions"
"$KIRIM" campaign create c9 --list l --template t --from "Shop <news@shop.example>" >/dev/null
sqlite3 -batch "$KIRIM_DB-serve" "INSERT INTO unsubscribes(campaign_id, contact_id, ts) VALUES ($(camp c9), $(cid cyd@three.example), 1)"
"$KIRIM" send c9 --relay "smtp://127.0.0.1:$(free_port)" --tls none -q >/dev/null 2>&1
eq "send folds the journal first" "$(sql "SELECT value FROM suppressions WHERE reason = 'unsubscribe'") $(state c9)" \
	"cyd@three.example ann@one.example=queued cyd@three.example=suppressed"
# Unsubscribes, opens and clicks as the fold wrote them.
for c in c1 c2 c3 tracked viewed; do
	rollups_agree "serve: $c: rollups = recount after the fold" "$c"
done
finish
