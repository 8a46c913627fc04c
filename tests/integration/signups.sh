#!/usr/bin/env bash
# signups.sh - what a signup does beyond the pages (issue 27's gaps), with curl, kirim run
# and smtp-sink on loopback, and headless Chromium for CORS when Debian's is there:
#  1. unconfirmed signups expire: kirim run purges those older than [signup] pending_days
#     (the member, its unconfirmed consent, a contact that was only that signup); a link
#     to a purged signup says it expired and offers the form; they are never counted;
#  2. a person whose own unsubscribe suppressed the address signs up again: the request
#     is sent, confirming lifts that suppression (in the audit log) and nothing else; a
#     hard bounce's, a complaint's or an operator's suppression stays and gets no mail,
#     and the answer to the form is the same whatever the address;
#  3. CORS: a form on the marketer's own site (another origin) posts with fetch; only the
#     origins in [signup] cors_origins are let in, never "*", never with credentials.
. "$(dirname "$0")/lib.sh"

SECRET=signups-test-secret-0123456789abcdef
port=$(free_port)
BASE="http://127.0.0.1:$port"
wport=$(free_port)
SHOP="http://127.0.0.1:$wport"
cat >kirim.conf <<EOF
[secret]
value = $SECRET
[unsubscribe]
url = $BASE/u/
[signup]
lists = news, offers
from = "Toko Sinar <news@toko.example>"
cors_origins = $SHOP, https://www.toko.example
EOF
export KIRIM_CONFIG="$TMP/kirim.conf"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
signup() { curl -s -H 'Content-Type: application/json' -H "X-Real-IP: 192.0.2.$((RANDOM % 200 + 1))" -d "{\"email\":\"$1\",\"consent\":true}" "$BASE/s/${2:-news}"; }

# What kirim.conf may not say (exit 78, named).
printf '[signup]\nlists = news\nfrom = a@b.example\nexpiry_hours = 200\npending_days = 2\n' >long.conf
run env KIRIM_CONFIG="$TMP/long.conf" "$KIRIM" lists
eq "a link longer than pending_days: exit" "$RC" 78
contains "a link longer than pending_days: why" "$ERR" "expiry_hours (200) is longer than pending_days (2 days)"
printf '[signup]\nlists = news\nfrom = a@b.example\ncors_origins = *\n' >star.conf
run env KIRIM_CONFIG="$TMP/star.conf" "$KIRIM" lists
eq "cors_origins = *: exit" "$RC" 78
contains "cors_origins = *: why" "$ERR" "cors_origins: not '*'"
printf '[signup]\nlists = news\nfrom = a@b.example\ncors_origins = https://shop.example/form\n' >path.conf
run env KIRIM_CONFIG="$TMP/path.conf" "$KIRIM" lists
eq "an origin with a path: exit" "$RC" 78

printf 'email,first_name\ndewi@pembeli.example,Dewi\neko@pembeli.example,Eko\nhard@pembeli.example,Hard\nop@pembeli.example,Op\nlater@pembeli.example,Later\n' >news.csv
"$KIRIM" import news.csv --list news -q >/dev/null
printf 'email\ndewi@pembeli.example\n' >offers.csv
"$KIRIM" import offers.csv --list offers -q >/dev/null
printf 'Subject: Minggu ini\n\n--- text\nHalo. {{unsubscribe_url}}\n' >weekly.tpl
"$KIRIM" template add weekly weekly.tpl >/dev/null

relay_sink
serve_pages "$port"

# 1. Unconfirmed signups expire. Three signups now; kirim run eight days later purges them
#    (the default pending_days is 7); a signup of the same day stays.
eq "signup: 202" "$(signup ann@pembeli.example)" '{"status":"pending"}'
"$KIRIM" contacts set eko@pembeli.example timezone=Asia/Jakarta >/dev/null
signup eko@pembeli.example offers >/dev/null
# The confirmation request's recipient in their own zone, kept as a walk keeps it (schema 021).
eq "signup: own zone kept" "$(sql "SELECT own_zone FROM report_campaigns r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = 'confirm:offers'")" 1
signup gone@pembeli.example >/dev/null
# A tag is something the operator knows of the contact: it stays when its signup goes.
sql "INSERT INTO contact_tags(contact_id, tag, created_at) VALUES ($(cid gone@pembeli.example), 'vip', 0)"
ann=$(cid ann@pembeli.example)
camp_k=$(sql "SELECT id FROM campaigns WHERE name = 'confirm:news'")
run "$KIRIM" lists --json
eq "lists: the unconfirmed are not members" "$(json '[(l["name"], l["members"]) for l in j]')" "[('news', 5), ('offers', 1)]"
run at +8d "$KIRIM" run --once "${RELAY[@]}"
eq "kirim run a week later: exit" "$RC" 0
contains "kirim run: says what it purged" "$ERR" "signups purged=3 contacts_erased=1 pending_days=7"
eq "purged: the member" "$(member ann@pembeli.example)" ""
eq "purged: the contact that was only that signup" "$(cid ann@pembeli.example)" ""
eq "purged: its consent" "$(sql "SELECT count(*) FROM consents WHERE contact_id = $ann")" 0
eq "purged: an imported contact keeps its other list" "$(member eko@pembeli.example)" "news:confirmed"
eq "purged: a tagged contact stays, off the list" "$(member gone@pembeli.example)|$(sql "SELECT count(*) FROM contacts WHERE email = 'gone@pembeli.example'")" "|1"
eq "purged: no consent left to them" "$(sql "SELECT count(*) FROM consents")" 0
signup fresh@pembeli.example >/dev/null
run "$KIRIM" run --once "${RELAY[@]}"
eq "a signup of today stays" "$(member fresh@pembeli.example)" "news:unconfirmed"
case "$ERR" in *"signups purged"*) bad "nothing purged today" "$ERR" ;; *) ok "nothing purged today" ;; esac
# A link that is still signed and in time, to a purged signup: it has expired.
link="$BASE/k/$(make_token "$SECRET" k "$camp_k" "$ann" $(($(date +%s) + 3600)))"
page=$(curl -s -w '\n%{http_code}' "$link")
contains "purged signup's link: says it expired" "$page" "This link has expired"
contains "purged signup's link: offers the form" "$page" 'href="../s/news"'
contains "purged signup's link: 410" "$page" "
410"
eq "purged signup's link: POST 410" "$(code -X POST "$link")" 410
eq "purged signup's link: nothing made" "$(cid ann@pembeli.example)" ""
rollups_agree "purge: rollups = recount" confirm:news
eko=$(cid eko@pembeli.example)
camp_o=$(sql "SELECT id FROM campaigns WHERE name = 'confirm:offers'")
eq "a contact kept, off the list: POST 410" "$(code -X POST "$BASE/k/$(make_token "$SECRET" k "$camp_o" "$eko" $(($(date +%s) + 3600)))")" 410
eq "and not made a member by it" "$(member eko@pembeli.example)" "news:confirmed"

# 2. Back after an unsubscribe. dewi unsubscribes from everything with one click.
"$KIRIM" campaign create weekly --list news --template weekly --from "Toko Sinar <news@toko.example>" >/dev/null
run "$KIRIM" send weekly "${RELAY[@]}" --json
eq "weekly: delivered" "$(json 'j["delivered"]')" 5
uurl=$(mail_url "$(mail_to dewi@pembeli.example)" u)
eq "one-click: 200" "$(code -d List-Unsubscribe=One-Click "$uurl")" 200
for _ in $(seq 1 50); do [ -n "$(sql "SELECT 1 FROM suppressions WHERE value = 'dewi@pembeli.example'")" ] && break; sleep 0.1; done
eq "dewi: suppressed by her unsubscribe" "$(sql "SELECT reason || ' ' || source FROM suppressions WHERE value = 'dewi@pembeli.example'")" "unsubscribe campaign:weekly"
"$KIRIM" suppress add hard@pembeli.example --reason hard_bounce >/dev/null
"$KIRIM" suppress add op@pembeli.example --reason unsubscribe --source "ticket 42" >/dev/null
"$KIRIM" suppress add complained@pembeli.example --reason complaint >/dev/null
# Each signs up again; the answer says nothing of who is suppressed.
for a in dewi hard op complained nobody; do
	eq "signup again ($a): the same answer" "$(signup $a@pembeli.example)" '{"status":"pending"}'
done
eq "dewi: waits for her link" "$(member dewi@pembeli.example)" "news:unconfirmed offers:confirmed"
rm -f dump/*
run "$KIRIM" run --once "${RELAY[@]}"
eq "kirim run: exit" "$RC" 0
[ -n "$(mail_to dewi@pembeli.example)" ] && ok "dewi: her confirmation request sent" || bad "dewi: her confirmation request sent" "nothing at the sink"
for a in hard op complained; do
	[ -z "$(mail_to $a@pembeli.example)" ] && ok "$a: no confirmation request" || bad "$a: no confirmation request" "$(mail_to $a@pembeli.example)"
	eq "$a: no request delivered" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.kind = 'confirm' AND m.state = 'delivered' AND m.contact_id = $(cid $a@pembeli.example)")" 0
done
# (hard@ and op@ are still members of news, as every suppressed member is: nothing to ask.)
eq "complained (new): the request withdrawn" "$(sql "SELECT m.state FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.kind = 'confirm' AND m.contact_id = $(cid complained@pembeli.example)")" suppressed
[ -n "$(mail_to nobody@pembeli.example)" ] && ok "a new address: its request sent" || bad "a new address: its request sent" "nothing"
kurl=$(mail_url "$(mail_to dewi@pembeli.example)" k)
eq "GET lifts nothing" "$(code "$kurl")|$(sql "SELECT count(*) FROM suppressions WHERE value = 'dewi@pembeli.example'")" "200|1"
page=$(curl -s -X POST "$kurl")
contains "dewi confirms" "$page" "You are subscribed"
eq "dewi: a member again, of news only" "$(member dewi@pembeli.example)" "news:confirmed"
eq "dewi: her unsubscribe lifted" "$(sql "SELECT count(*) FROM suppressions WHERE value = 'dewi@pembeli.example'")" 0
run "$KIRIM" audit
contains "audit: the lift recorded" "$OUT" "suppression:dewi@pembeli.example unsubscribe (campaign:weekly"
contains "audit: and the lists she left" "$OUT" "left 1 other list"
eq "the others stay suppressed" "$(sql "SELECT group_concat(value || ':' || reason, ' ') FROM (SELECT * FROM suppressions ORDER BY value)")" "complained@pembeli.example:complaint hard@pembeli.example:hard_bounce op@pembeli.example:unsubscribe"
"$KIRIM" campaign create weekly2 --list news --template weekly --from "Toko Sinar <news@toko.example>" >/dev/null
rm -f dump/*
run "$KIRIM" send weekly2 "${RELAY[@]}" --json
[ -n "$(mail_to dewi@pembeli.example)" ] && ok "dewi: mailed again" || bad "dewi: mailed again" "nothing at the sink"
[ -z "$(mail_to hard@pembeli.example)" ] && ok "hard: still not mailed" || bad "hard: still not mailed" "mailed"

# 3. CORS. A preflight from the shop's origin is let in, naming it; no other.
hdr() { curl -s -o /dev/null -D - -X OPTIONS -H "Origin: $1" -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type' "$BASE/s/${2:-news}" | tr -d '\r'; }
h=$(hdr "$SHOP")
contains "preflight: 204" "$h" "HTTP/1.1 204"
contains "preflight: the origin named" "$h" "Access-Control-Allow-Origin: $SHOP"
contains "preflight: POST" "$h" "Access-Control-Allow-Methods: POST"
contains "preflight: Content-Type" "$h" "Access-Control-Allow-Headers: Content-Type"
contains "preflight: Vary" "$h" "Vary: Origin"
case "$h" in *Credentials*|*"Origin: *"*) bad "preflight: no credentials, no *" "$h" ;; *) ok "preflight: no credentials, no *" ;; esac
h=$(hdr "http://evil.example")
contains "another origin: 403" "$h" "HTTP/1.1 403"
case "$h" in *Access-Control-Allow*) bad "another origin: no CORS headers" "$h" ;; *) ok "another origin: no CORS headers" ;; esac
contains "a list that takes no signups: 404" "$(hdr "$SHOP" weekly)" "HTTP/1.1 404"
h=$(curl -s -D - -o /dev/null -H "Origin: $SHOP" -H 'Content-Type: application/json' -d '{"email":"cors@pembeli.example","consent":true}' "$BASE/s/news" | tr -d '\r')
contains "POST from the shop: 202" "$h" "HTTP/1.1 202"
contains "POST from the shop: readable there" "$h" "Access-Control-Allow-Origin: $SHOP"
h=$(curl -s -D - -o /dev/null -H "Origin: http://evil.example" -d 'email=e%40pembeli.example&consent=yes' "$BASE/s/news" | tr -d '\r')
case "$h" in *Access-Control-Allow*) bad "POST from another origin: not readable" "$h" ;; *) ok "POST from another origin: not readable" ;; esac
# Nothing by default: a kirim serve without cors_origins lets no origin in.
grep -v cors_origins kirim.conf >plain.conf
p2=$(free_port)
KIRIM_CONFIG="$TMP/plain.conf" "$KIRIM" serve --listen "127.0.0.1:$p2" --rate 0 2>serve2.log &
s2=$!
PIDS+=("$s2")
wait_port "$p2"
h=$(curl -s -o /dev/null -D - -X OPTIONS -H "Origin: $SHOP" -H 'Access-Control-Request-Method: POST' "http://127.0.0.1:$p2/s/news" | tr -d '\r')
contains "no cors_origins: 403" "$h" "HTTP/1.1 403"
case "$h" in *Access-Control-Allow*|*Vary*) bad "no cors_origins: no CORS headers" "$h" ;; *) ok "no cors_origins: no CORS headers" ;; esac
stop "$s2"

# In a browser: the shop's page posts with fetch and reads the answer; a page of another
# origin (localhost is not 127.0.0.1) is stopped by the browser.
if command -v chromium >/dev/null && $PY3 -c 'import websocket' 2>/dev/null; then
	mkdir www
	printf '<!DOCTYPE html><html lang="en"><head><title>Shop</title></head><body><main>Shop</main></body></html>\n' >www/shop.html
	$PY3 -m http.server "$wport" --bind 127.0.0.1 --directory www >www.log 2>&1 &
	PIDS+=("$!")
	wait_port "$wport"
	dport=$(free_port)
	chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/chrome" \
		--remote-debugging-port="$dport" about:blank >chrome.log 2>&1 &
	PIDS+=("$!")
	wait_port "$dport"
	fetch="fetch('$BASE/s/news', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({email: 'EMAIL', consent: true})}).then(r => r.status + ' ' + r.headers.get('Content-Type')).then(s => s)"
	run $PY3 "$KIRIM_SRC/tests/integration/pages_browser.py" "$dport" \
		"nav|$SHOP/shop.html" "await|${fetch/EMAIL/browser@pembeli.example}" \
		"nav|http://localhost:$wport/shop.html" "await|${fetch/EMAIL/other@pembeli.example}"
	eq "browser: ran" "$RC" 0
	contains "browser: the shop's page reads the answer" "$OUT" "await=202 application/json"
	contains "browser: another origin's fetch is refused" "$OUT" "await-error="
	contains "browser: (as a network error)" "$OUT" "Failed to fetch"
	eq "browser: the shop's signup made" "$(member browser@pembeli.example)" "news:unconfirmed"
	eq "browser: the other origin's never sent" "$(cid other@pembeli.example)" ""
	grep -q 'method=OPTIONS route=signup_preflight status=204' serve.log && ok "browser: preflighted" || bad "browser: preflighted" "no preflight in the log"
else
	echo "note: no chromium or python3-websocket: the browser's CORS checks skipped"
fi

for c in confirm:news weekly weekly2; do
	rollups_agree "signups: $c: rollups = recount" "$c"
done
finish
