#!/usr/bin/env bash
# pages.sh - the pages subscribers see (issue 27), end to end in headless Chromium driven
# through the DevTools protocol (pages_browser.py), with scripts off: sign up through the
# form, confirm from the message kirim run delivered to smtp-sink, open the preferences page
# from a sent message, unsubscribe from one list, resubscribe; expired and altered links
# refused; the one-click POST and GET as before; unconfirmed contacts not mailed by a
# campaign on their list. Pages in English and Indonesian by the contact's language
# attribute and by Accept-Language; the brand's name, logo and colour on them; axe-core on
# every page (no serious or critical finding). Abuse: 1,000 signups from one address in a
# minute limited, the honeypot, a confirmation only through the link, the consent record
# (kirim contacts show). Screenshots at 1280 and 390 px go to the test's own folder
# (KIRIM_SCREENSHOTS="$PWD/docs/screenshots" refreshes the documentation's).
#
# Skips (exit 77) without Debian's chromium and python3-websocket, and without axe-core
# (tools/fetch-axe-core; tools/test fetches it).
. "$(dirname "$0")/lib.sh"

need_browser pages.sh
SHOTS=${KIRIM_SCREENSHOTS:-$TMP/screenshots}
mkdir -p "$SHOTS"

SECRET=pages-test-secret-0123456789abcdef
port=$(free_port)
BASE="http://127.0.0.1:$port"
lport=$(free_port)
LOGO="http://127.0.0.1:$lport"
cat >kirim.conf <<EOF
[secret]
value = $SECRET
[unsubscribe]
url = $BASE/u/
view_url = $BASE/v/
[brand]
name = Toko Sinar
logo_url = $LOGO/logo.png
colour = #0b6e4f
url = $LOGO/
privacy_url = $LOGO/privacy
address = "Toko Sinar, Jl. Merdeka 1, Jakarta 10110"
[signup]
lists = news, offers
from = "Toko Sinar <news@toko.example>"
per_ip_per_hour = 20
EOF
export KIRIM_CONFIG="$TMP/kirim.conf"

# The brand's logo, served on loopback: a 48x48 PNG, a sun (rings) on the brand's green.
mkdir www
$PY3 - www/logo.png <<'PYEND'
import struct, sys, zlib
w = h = 48
def px(x, y):
    d = ((x - 23.5) ** 2 + (y - 23.5) ** 2) ** 0.5
    return b"\xff\xff\xff" if d < 6 or 11 < d < 17 or (21 < d < 24 and (x + y) % 8 < 4) else b"\x0b\x6e\x4f"
rows = b"".join(b"\0" + b"".join(px(x, y) for x in range(w)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PYEND
$PY3 -m http.server "$lport" --bind 127.0.0.1 --directory www >www.log 2>&1 &
PIDS+=("$!")

# ctok CAMPAIGN CONTACT EXPIRES - a confirmation token as token.c makes it (three varints)
ctok() { make_token "$SECRET" k "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# browse [--lang TAGS] [--js] STEP... - pages_browser.py on our Chromium; output in $OUT
browse() { run $PY3 "$KIRIM_SRC/tests/integration/pages_browser.py" "$dport" "$@"; [ "$RC" = 0 ] || echo "browser: $ERR" >&2; }
# logged TEXT - wait (2 s at most) for TEXT in kirim serve's access log (written every 100 ms)
logged() {
	for _ in $(seq 1 20); do
		grep -q -e "$1" serve.log && return 0
		sleep 0.1
	done
	return 1
}
# line KEY - the value of KEY=... in $OUT
line() { printf '%s\n' "$OUT" | grep -F -m1 "$1=" | cut -d= -f2-; }
printf 'email,first_name,language\ndewi@pembeli.example,Dewi,id\neko@pembeli.example,Eko,\n' >news.csv
"$KIRIM" import news.csv --list news -q >/dev/null
printf 'email\ndewi@pembeli.example\n' >offers.csv
"$KIRIM" import offers.csv --list offers -q >/dev/null
printf 'Subject: Minggu ini di Toko Sinar\n\n--- text\nHalo {{first_name|}}. Preferensi: {{unsubscribe_url}}\n--- html\n<p>Halo. <a href="{{unsubscribe_url}}">Preferensi</a></p>\n' >weekly.tpl
"$KIRIM" template add weekly weekly.tpl >/dev/null

relay_sink
serve_pages "$port"
wait_port "$lport"
start_chromium

# 1. Sign up through the form, in Indonesian (the browser's language); the brand shows.
browse --lang "id-ID,id;q=0.9,en;q=0.5" "nav|$BASE/s/news" "eval|document.documentElement.lang" \
	"text|h1" "text|.band" "eval|document.querySelector('.band img').naturalWidth > 0" \
	"eval|getComputedStyle(document.querySelector('.band')).backgroundColor" \
	"text|footer p" "shot|$SHOTS/signup-1280.png|1280" "shot|$SHOTS/signup-390.png|390" \
	"axe|$AXE" "type|#kirim-email|sari@pembeli.example" "type|#kirim-name|Sari" \
	"click|#kirim-consent" "submit|button[type=submit]" "text|h1" "text|[role=status]" "axe|$AXE"
eq "signup page: 200" "$(printf '%s\n' "$OUT" | grep -m1 status=)" "status=200"
contains "signup page: Indonesian" "$OUT" "eval=id"
contains "signup page: heading" "$OUT" "text|h1=Berlangganan news"
contains "brand: the name" "$OUT" "text|.band=Toko Sinar"
contains "brand: the logo loads (CSP lets its origin in)" "$OUT" "eval=True"
contains "brand: the colour" "$OUT" "eval=rgb(11, 110, 79)"
contains "brand: the address" "$OUT" "text|footer p=Toko Sinar, Jl. Merdeka 1, Jakarta 10110"
contains "screenshot 1280" "$OUT" "shot=$SHOTS/signup-1280.png 1280x"
contains "screenshot 390" "$OUT" "shot=$SHOTS/signup-390.png 390x"
axe_ok "signup form and sent page"
eq "signup: sent page" "$(printf '%s\n' "$OUT" | grep status= | tail -1)" "status=200"
contains "signup: check your inbox" "$OUT" "text|h1=Periksa kotak masuk Anda"
contains "signup: the address" "$OUT" "sari@pembeli.example"
eq "signup: axe ran on both pages" "$(printf '%s\n' "$OUT" | grep -c '^axe=')" 2
eq "signup: unconfirmed member" "$(member sari@pembeli.example)" "news:unconfirmed"
eq "signup: the contact's attributes" "$(sql "SELECT attrs FROM contacts WHERE email = 'sari@pembeli.example'")" '{"name":"Sari","language":"id"}'
eq "consent: recorded" "$(sql "SELECT list_name || '|' || form || '|' || ip || '|' || language || '|' || (confirmed_at IS NULL) FROM consents")" "news|kirim:/s/news|127.0.0.1|id|1"
eq "consent: the text the form showed" "$(sql "SELECT text FROM consents")" "Saya setuju menerima email news dari Toko Sinar. Saya dapat berhenti berlangganan kapan saja melalui tautan di setiap email."
grep -q "HeadlessChrome" <<<"$(sql "SELECT user_agent FROM consents")" && ok "consent: the browser" || bad "consent: the browser" "$(sql "SELECT user_agent FROM consents")"

# 2. An unconfirmed contact is not mailed by a campaign on its list.
"$KIRIM" campaign create weekly --list news --template weekly --from "Toko Sinar <news@toko.example>" >/dev/null
run "$KIRIM" send weekly "${RELAY[@]}" --json
eq "campaign: sent to the confirmed members only" "$(json 'j["delivered"]')" 2
eq "campaign: no message for the unconfirmed" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'weekly' AND m.contact_id = $(cid sari@pembeli.example)")" 0
[ -z "$(mail_to sari@pembeli.example)" ] && ok "campaign: nothing at the sink for the unconfirmed" || bad "campaign: nothing for the unconfirmed" "$(mail_to sari@pembeli.example)"
# Nor by a segment over every contact: a contact that only signed up is in no audience.
"$KIRIM" segment add everyone 'not tag("nobody")' >/dev/null
"$KIRIM" campaign create everyone --segment everyone --template weekly --from "Toko Sinar <news@toko.example>" >/dev/null
run "$KIRIM" send everyone "${RELAY[@]}" --json
eq "segment campaign: the confirmed only" "$(json 'j["delivered"]')" 2
eq "segment campaign: no message made for the unconfirmed" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'everyone' AND m.contact_id = $(cid sari@pembeli.example)")" 0
[ -z "$(mail_to sari@pembeli.example)" ] && ok "segment campaign: nothing for the unconfirmed" || bad "segment campaign: nothing for the unconfirmed" "$(mail_to sari@pembeli.example)"

# 3. kirim run sends the confirmation (the list's confirmation campaign, made by the signup).
eq "confirmation campaign" "$(sql "SELECT name || ' ' || kind || ' ' || state FROM campaigns WHERE kind = 'confirm'")" "confirm:news confirm sending"
run "$KIRIM" run --once "${RELAY[@]}"
eq "kirim run: exit" "$RC" 0
msg=$(mail_to sari@pembeli.example)
[ -n "$msg" ] && ok "confirmation delivered" || bad "confirmation delivered" "no message at the sink"
eq "confirmation: Indonesian subject" "$($PY3 -c 'import email,sys; print(email.message_from_binary_file(open(sys.argv[1],"rb"))["Subject"])' "$msg")" "Konfirmasi langganan Anda untuk news"
contains "confirmation: from the signup's sender" "$(grep -m1 '^From:' "$msg")" "Toko Sinar <news@toko.example>"
curl_k=$(mail_url "$msg" k)
contains "confirmation: the link" "$curl_k" "$BASE/k/"
eq "confirmation campaign stays open" "$(sql "SELECT state FROM campaigns WHERE kind = 'confirm'")" sending
eq "still unconfirmed before the link" "$(member sari@pembeli.example)" "news:unconfirmed"

# 4. The link: GET asks (confirms nothing), the button confirms.
browse "nav|$curl_k" "text|h1" "eval|document.documentElement.lang" \
	"shot|$SHOTS/confirm-1280.png|1280" "shot|$SHOTS/confirm-390.png|390" "axe|$AXE"
contains "confirm page: asks" "$OUT" "text|h1=Konfirmasi langganan Anda"
contains "confirm page: the contact's language" "$OUT" "eval=id"
axe_ok "confirm page"
eq "GET confirms nothing" "$(member sari@pembeli.example)" "news:unconfirmed"
browse "nav|$curl_k" "submit|#confirm" "text|h1" "axe|$AXE"
contains "confirmed: page" "$OUT" "text|h1=Anda sudah berlangganan"
axe_ok "confirmed page"
eq "confirmed: member" "$(member sari@pembeli.example)" "news:confirmed"
eq "confirmed: the consent dated, from where" "$(sql "SELECT confirmed_at >= created_at, confirm_ip FROM consents")" "1|127.0.0.1"
eq "confirmed: again, the same page" "$(code -X POST "$curl_k")" 200

# 5. Expired and altered links are refused, and change nothing.
curl -s -H 'Content-Type: application/json' -H 'X-Real-IP: 192.0.2.30' -d '{"email":"budi@pembeli.example","consent":true}' "$BASE/s/news" >/dev/null
camp_k=$(sql "SELECT id FROM campaigns WHERE kind = 'confirm'")
budi=$(cid budi@pembeli.example)
old=$(ctok "$camp_k" "$budi" $(($(date +%s) - 60)))
eq "expired link: 410" "$(code -X POST "$BASE/k/$old")" 410
contains "expired link: says so" "$(curl -s "$BASE/k/$old")" "This link has expired"
browse "nav|$BASE/k/$old" "text|h1" "attr|main a|href" "axe|$AXE"
contains "expired page: a way back" "$OUT" "attr|main a|href=../s/news"
axe_ok "expired page"
good=$(ctok "$camp_k" "$budi" $(($(date +%s) + 3600)))
alt=${good:0:${#good}-1}$([ "${good: -1}" = A ] && echo B || echo A)
eq "altered link: 404" "$(code -X POST "$BASE/k/$alt")" 404
eq "a link for another campaign: 404" "$(code -X POST "$BASE/k/$(ctok "$(sql "SELECT id FROM campaigns WHERE name = 'weekly'")" "$budi" $(($(date +%s) + 3600)))")" 404
eq "no signup confirms without the link" "$(member budi@pembeli.example)" "news:unconfirmed"
browse "nav|$BASE/k/$alt" "text|h1" "axe|$AXE"
contains "bad link page" "$OUT" "text|h1=This link does not work"
axe_ok "error page"
eq "the link itself confirms" "$(code -X POST "$BASE/k/$good")" 200
eq "confirmed by its link" "$(member budi@pembeli.example)" "news:confirmed"

# 6. The preferences page from a sent message: unsubscribe from one list, resubscribe.
"$KIRIM" campaign create weekly2 --list news --template weekly --from "Toko Sinar <news@toko.example>" >/dev/null
run "$KIRIM" send weekly2 "${RELAY[@]}" --json
eq "now mailed" "$(json 'j["delivered"]')" 4
purl=$(mail_url "$(mail_to dewi@pembeli.example)" u)
eq "an unsubscribe token on /k/: 404" "$(code -X POST "$BASE/k/${purl##*/}")" 404
before=$(sql "SELECT count(*) FROM events WHERE type = 'unsubscribe'")
browse --lang "en-US,en" "nav|$purl" "eval|document.documentElement.lang" "text|h1" "text|main p" \
	"shot|$SHOTS/preferences-1280.png|1280" "shot|$SHOTS/preferences-390.png|390" "axe|$AXE" \
	"eval|document.querySelector('#reason').value = 'too_many'" "submit|#unsubscribe" \
	"text|h1" "text|[role=status]" "axe|$AXE" "submit|#resubscribe" "text|h1" "axe|$AXE"
contains "preferences: the contact's language beats the browser's" "$OUT" "eval=id"
contains "preferences: heading" "$OUT" "text|h1=Preferensi email Anda"
contains "preferences: the address, masked" "$OUT" "text|main p=Anda menerima email news di d•••@p•••.example."
axe_ok "preferences, unsubscribed and resubscribed pages"
contains "unsubscribed from the list" "$OUT" "text|h1=Anda sudah berhenti berlangganan"
contains "unsubscribed: what it means" "$OUT" "Anda tidak akan menerima email news lagi"
contains "resubscribed" "$OUT" "text|h1=Anda berlangganan lagi"
eq "GET never unsubscribed; the form once" "$(sql "SELECT count(*) - $before FROM events WHERE type = 'unsubscribe'")" 1
eq "the reason kept" "$(sql "SELECT detail FROM events WHERE type = 'unsubscribe' ORDER BY id DESC LIMIT 1")" '{"scope":"list","reason":"too_many"}'
eq "back on news, still on offers" "$(member dewi@pembeli.example)" "news:confirmed offers:confirmed"
eq "no suppression from a list unsubscribe" "$(sql "SELECT count(*) FROM suppressions")" 0

# 7. Languages: the contact's attribute, else the browser's.
eurl=$(mail_url "$(mail_to eko@pembeli.example)" u)
browse --lang "id-ID,id;q=0.9" "nav|$eurl" "eval|document.documentElement.lang" "text|h1"
contains "no attribute, Indonesian browser: Indonesian" "$OUT" "text|h1=Preferensi email Anda"
browse --lang "en-GB,en;q=0.8" "nav|$eurl" "eval|document.documentElement.lang" "text|h1" \
	"nav|$eurl?lang=id" "text|h1"
contains "no attribute, English browser: English" "$OUT" "text|h1=Your email preferences"
eq "a choice on the page (?lang=) beats both" "$(printf '%s\n' "$OUT" | grep 'text|h1=' | tail -1)" "text|h1=Preferensi email Anda"
contains "English page: lang=en" "$OUT" "eval=en"
eq "English page in curl too" "$(curl -s -H 'Accept-Language: en' "$eurl" | grep -o '<h1>[^<]*</h1>')" "<h1>Your email preferences</h1>"
eq "Indonesian page in curl too" "$(curl -s -H 'Accept-Language: id' "$eurl" | grep -o '<h1>[^<]*</h1>')" "<h1>Preferensi email Anda</h1>"

# 8. No scripts anywhere, and a policy that runs none; the one-click POST as before.
for u in "$BASE/s/news" "$curl_k" "$eurl" "$BASE/k/$alt"; do
	page=$(curl -s -i "$u")
	case "$page" in *"<script"*) bad "no script: $u" "a <script> in the page" ;; *) ok "no script" ;; esac
	contains "CSP: nothing runs" "$page" "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src $LOGO;"
done
eq "GET never unsubscribes" "$(code "$eurl")" 200
eq "one-click: 200" "$(curl -s -w '%{http_code}:%{size_download}' -d List-Unsubscribe=One-Click "$eurl")" "200:0"
for _ in $(seq 1 50); do [ "$(sql "SELECT count(*) FROM suppressions")" = 1 ] && break; sleep 0.1; done
eq "one-click: suppressed" "$(sql "SELECT value || ' ' || reason FROM suppressions")" "eko@pembeli.example unsubscribe"

# 9. Abuse: 1,000 signups from one client address within a minute are limited to
#    [signup] per_ip_per_hour (20); another address is not held back by them.
run $PY3 - "$port" <<'PYEND'
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
codes = {}
t0 = time.time()
for i in range(1000):
    c.request("POST", "/s/news", json.dumps({"email": "bot%d@flood.example" % i, "consent": True}),
              {"Content-Type": "application/json", "X-Real-IP": "198.51.100.66"})
    r = c.getresponse(); r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
print("codes=%s" % " ".join("%d:%d" % kv for kv in sorted(codes.items())))
print("within_a_minute=%s" % (time.time() - t0 < 60))
PYEND
eq "flood: 20 taken, 980 refused" "$(line codes)" "202:20 429:980"
eq "flood: within a minute" "$(line within_a_minute)" True
eq "flood: 20 consents from that address" "$(sql "SELECT count(*) FROM consents WHERE ip = '198.51.100.66'")" 20
eq "flood: another address still signs up" "$(code -H 'X-Real-IP: 198.51.100.67' -H 'Content-Type: application/json' -d '{"email":"real@person.example","consent":true}' "$BASE/s/news")" 202
logged "note=signup_limit" && ok "flood: logged" || bad "flood: logged" "no note=signup_limit"

# The honeypot: a bot that fills every field is told all went well, and nothing is written.
page=$(curl -s -H 'X-Real-IP: 198.51.100.70' -d 'email=spam%40bot.example&consent=yes&name=x&website=http%3A%2F%2Fspam.example' "$BASE/s/news")
contains "honeypot: answered as a person" "$page" "Check your inbox"
eq "honeypot: nothing written" "$(sql "SELECT count(*) FROM contacts WHERE email = 'spam@bot.example'")" 0
logged "note=honeypot" && ok "honeypot: logged" || bad "honeypot: logged" "no note=honeypot"
# Bad input: the form again with what is wrong (400), JSON told why.
page=$(curl -s -w '%{http_code}' -H 'X-Real-IP: 198.51.100.71' -d 'email=not-an-address&consent=yes' "$BASE/s/news")
contains "bad address: said so" "$page" "Enter a valid email address"
contains "bad address: 400" "$page" "</html>
400"
eq "no consent: JSON 400" "$(curl -s -H 'X-Real-IP: 198.51.100.71' -H 'Content-Type: application/json' -d '{"email":"a@b.example"}' "$BASE/s/news")" '{"error":"consent: must be true"}'
eq "a list that takes no signups: 404" "$(code "$BASE/s/weekly")" 404
# (The browser's own checks of the fields are turned off, to reach the server's.)
browse "nav|$BASE/s/news" "eval|document.querySelector('form').noValidate = true" \
	"type|#kirim-email|nope" "submit|button[type=submit]" "text|.error" "axe|$AXE"
contains "form errors shown" "$OUT" "text|.error=Please check the form."
axe_ok "signup form with errors"

# Twice at once: one confirmation request, not two.
curl -s -o /dev/null -H 'X-Real-IP: 198.51.100.72' -d 'email=tia%40pembeli.example&consent=yes' "$BASE/s/offers"
curl -s -o /dev/null -H 'X-Real-IP: 198.51.100.72' -d 'email=tia%40pembeli.example&consent=yes' "$BASE/s/offers"
eq "one request per address at a time" "$(sql "SELECT count(*) FROM consents c JOIN contacts k ON k.id = c.contact_id WHERE k.email = 'tia@pembeli.example'")" 1

# 10. The consent record, as kirim contacts show prints it.
run "$KIRIM" contacts show sari@pembeli.example
contains "show: the list, time, form and address" "$OUT" "consent:     list news, signed up "
contains "show: from where" "$OUT" "from 127.0.0.1 (form kirim:/s/news, language id)"
contains "show: confirmed" "$OUT" "confirmed "
contains "show: the text" "$OUT" "agreed to: Saya setuju menerima email news dari Toko Sinar."
run "$KIRIM" contacts show sari@pembeli.example --json
eq "show --json: consents" "$(json 'len(j["consents"]), j["consents"][0]["ip"], j["consents"][0]["form"], j["consents"][0]["confirmed_at"] is not None')" "1 127.0.0.1 kirim:/s/news True"

# 11. The snippet for another site posts here and signs up.
run "$KIRIM" lists form offers --lang en
contains "form: posts to kirim serve" "$OUT" "<form method=\"post\" action=\"$BASE/s/offers\""
printf '<!DOCTYPE html><html lang="en"><head><title>Shop</title></head><body><main>%s</main></body></html>\n' "$OUT" >www/embed.html
browse "nav|$LOGO/embed.html" "type|#kirim-email|wulan@pembeli.example" "click|#kirim-consent" \
	"submit|button[type=submit]" "text|h1" "eval|location.href"
contains "embedded form: sent" "$OUT" "text|h1=Check your inbox"
eq "embedded form: recorded as such" "$(sql "SELECT form FROM consents c JOIN contacts k ON k.id = c.contact_id WHERE k.email = 'wulan@pembeli.example'")" embed

# 12. What kirim.conf must say, said at start (exit 78): a base for confirmation links, and
#     templates that compile (named by their file).
printf '[signup]\nlists = news\nfrom = a@b.example\n' >nobase.conf
run env KIRIM_CONFIG="$TMP/nobase.conf" "$KIRIM" serve --listen "127.0.0.1:$(free_port)"
eq "signup without a base: exit" "$RC" 78
contains "signup without a base: why" "$ERR" "[signup] lists: the confirmation links need a base"
mkdir -p own/pages
printf '{{#broken}}\n' >own/pages/error.html
printf '[pages]\ndir = own\n' >own.conf
run env KIRIM_CONFIG="$TMP/own.conf" "$KIRIM" serve --listen "127.0.0.1:$(free_port)"
eq "a broken page: exit" "$RC" 78
contains "a broken page: named" "$ERR" "pages/error.html"

grep -q -e "${curl_k##*/}" -e "${purl##*/}" serve.log && bad "no token in the log" "$(grep -e "${purl##*/}" serve.log | head -1)" || ok "no token in the log"
finish
