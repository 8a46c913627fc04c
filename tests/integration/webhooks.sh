#!/usr/bin/env bash
# webhooks.sh - outgoing webhooks: events kept in the database as they happen, POSTed in
# signed batches by kirim serve to a Python receiver on loopback that checks the signature
# with its own code (tests/integration/webhook_receiver.py); tries again while the receiver
# is down or answers 500; no event lost across kill -9 of kirim serve, none sent again
# under another id. https:// receivers (a test CA made here with openssl): delivered with
# the certificate verified by name and by IP address; a certificate for another name, a
# self-signed one and an expired one are failed tries with the reason, never a POST, and
# a receiver that gets a good certificate is delivered to on the next try.
. "$(dirname "$0")/lib.sh"

RECV="${KIRIM_SRC:-.}/tests/integration/webhook_receiver.py"
printf 'wh-test-secret-0123456789abcdef\n' >secret.txt
printf 'short\n' >short.txt
{ echo "email,first_name"; for i in $(seq -w 1 30); do echo "u$i@one.example,U$i"; done; } >l.csv
{ echo "email,first_name"; for i in $(seq -w 1 30); do echo "v$i@two.example,V$i"; done; } >m.csv
"$KIRIM" import l.csv --list l -q >/dev/null
"$KIRIM" import m.csv --list m -q >/dev/null
printf 'Subject: Hi {{first_name}}\n\n--- text\nHi. Unsubscribe: {{unsubscribe_url}}\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
"$KIRIM" campaign create c1 --list l --template t --from "Shop <news@shop.example>" >/dev/null
"$KIRIM" campaign create c2 --list m --template t --from "Shop <news@shop.example>" >/dev/null
sport=$(free_port)
start_sink "$sport"
rport=$(free_port)
URL="http://127.0.0.1:$rport/hook"
# status FIELD - a field of the first webhook in kirim webhooks status --json
status() { "$KIRIM" --json webhooks status | $PY3 -c "import json,sys; print(json.load(sys.stdin)[0]['$1'])"; }
# wait_for CMD WANT LABEL - poll CMD until it prints WANT (the retries back off: 1, 2, 4,
# ... s; 3 minutes at most)
wait_for() {
	for _ in $(seq 1 900); do
		[ "$($1)" = "$2" ] && { ok "$3"; return 0; }
		sleep 0.2
	done
	bad "$3" "got [$($1)] want [$2]"
}
pending() { status pending; }
tries() { [ "$(status attempts)" -ge 2 ] && echo yes || echo no; }
start_recv() { # start_recv LOG ARGS... - the receiver on $rport; its PID in $recv
	$PY3 "$RECV" --port "$rport" --secret-file secret.txt --log "$@" &
	recv=$!
	PIDS+=("$recv")
	wait_port "$rport"
}
start_serve() {
	port=$(free_port)
	"$KIRIM" serve --listen "127.0.0.1:$port" --admin-listen off 2>>serve.log &
	srv=$!
	PIDS+=("$srv")
	wait_port "$port"
}

# 1. Subscribing: checked values, from now on.
run "$KIRIM" webhooks add https://user:pw@example.com/hook --events delivered --secret-file secret.txt
eq "a password in the URL refused" "$RC" 65
contains "the refusal says why" "$ERR" "user info"
run "$KIRIM" webhooks add "https://example.com:99999/hook" --events delivered --secret-file secret.txt
eq "a bad port refused" "$RC" 65
run "$KIRIM" webhooks add "ftp://example.com/hook" --events delivered --secret-file secret.txt
eq "another scheme refused" "$RC" 65
run "$KIRIM" webhooks add "$URL" --events delivered,exploded --secret-file secret.txt
eq "unknown event" "$RC" 65
contains "unknown event says which" "$ERR" "exploded"
run "$KIRIM" webhooks add "$URL" --events delivered --secret-file short.txt
eq "short secret" "$RC" 65
run "$KIRIM" webhooks add "$URL" --events delivered --secret-file nope.txt
eq "no secret file" "$RC" 66
run "$KIRIM" --json webhooks add "$URL" --events delivered,bounced,campaign --secret-file secret.txt
eq "added" "$RC" 0
eq "loopback http: no warning" "$ERR" ""
eq "subscribed" "$(sql "SELECT events FROM webhooks")" '["delivered","bounced","campaign"]'

# 2. Events happen while kirim serve is not running: kept in the outbox with the send.
run "$KIRIM" send c1 --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "c1 sent" "$(json 'j["delivered"]')" 30
eq "outbox: 30 deliveries and c1's state changes" "$(sql "SELECT count(*) FROM webhook_outbox WHERE type = 'delivered'"), $(sql "SELECT count(*) > 0 FROM webhook_outbox WHERE type = 'campaign'")" "30, 1"
eq "pending" "$(pending)" "$(sql "SELECT count(*) FROM webhook_outbox")"

# 3. The receiver is down: kirim serve tries, backs off, keeps everything.
start_serve
wait_for tries yes "tries while the receiver is down"
contains "the failure is shown" "$(status last_error)" "cannot connect"
eq "nothing dropped" "$(status dropped)" 0

# 4. The receiver comes up but answers 500 twice: tried again, then delivered.
start_recv r1.jsonl --fail 2
wait_for pending 0 "all delivered after the 500s"
eq "500s then 200" "$($PY3 -c "import json; print([r['status'] for r in map(json.loads, open('r1.jsonl'))][:3])")" "[500, 500, 200]"
eq "every signature held (the receiver's own check)" "$($PY3 -c "import json; print(all(r['sig'] for r in map(json.loads, open('r1.jsonl'))))")" True
eq "every delivery once, each its own id" "$($PY3 -c "
import json
ok = {}
for r in map(json.loads, open('r1.jsonl')):
    if r['status'] == 200:
        for i, (e, t) in zip(r['ids'], r['pairs']):
            ok.setdefault((e, t), set()).add(i)
d = [k for k in ok if k[1] == 'delivered']
print(len(d), all(len(v) == 1 for k, v in ok.items() if k[1] != 'campaign'), any(k[1] == 'campaign' for k in ok))")" "30 True True"
eq "the same ids in the 500s as in the 200" "$($PY3 -c "
import json
rs = list(map(json.loads, open('r1.jsonl')))
print(rs[0]['ids'] == rs[2]['ids'])")" True
eq "status counts" "$(status delivered) $(status attempts) $(status last_status)" "$(sql "SELECT delivered FROM webhooks") 0 200"
eq "outbox pruned" "$(sql "SELECT count(*) FROM webhook_outbox")" 0

# 5. kill -9 while a batch is in flight: nothing lost, sent again with the same ids.
stop "$recv"
start_recv r2.jsonl --hold held
run "$KIRIM" send c2 --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "c2 sent" "$(json 'j["delivered"]')" 30
for _ in $(seq 1 600); do [ -e held ] && break; sleep 0.1; done
[ -e held ] && ok "a batch in flight" || bad "a batch in flight" "the receiver got nothing"
kill -9 "$srv"
wait "$srv" 2>/dev/null
stop "$recv"
start_recv r3.jsonl
start_serve
wait_for pending 0 "delivered after kill -9"
eq "no event lost, none under another id" "$($PY3 -c "
import json
held = [r for r in map(json.loads, open('r2.jsonl')) if r['held']]
after = list(map(json.loads, open('r3.jsonl')))
got = {}
for r in after:
    if r['status'] == 200:
        for i, (e, t) in zip(r['ids'], r['pairs']):
            got.setdefault((e, t), set()).add(i)
heldids = set(i for r in held for i in r['ids'])
c2 = [k for k in got if k[1] == 'delivered' and k[0].endswith('two.example')]
print(len(c2), all(len(v) == 1 for k, v in got.items() if k[1] != 'campaign'), heldids <= set(i for v in got.values() for i in v), len(heldids) > 0)")" "30 True True True"
kill -TERM "$srv"
wait "$srv"
eq "graceful stop" "$?" 0
grep -q "webhook id=1 url=$URL events=.* result=delivered" serve.log && ok "delivery logged" || bad "delivery logged" "$(grep webhook serve.log | tail -3)"

# 6. Removing a webhook.
run "$KIRIM" webhooks remove 1
eq "removed" "$RC" 0
run "$KIRIM" webhooks remove 1
eq "removed twice" "$RC" 65
run "$KIRIM" webhooks add http://hooks.example.com/x --events delivered --secret-file secret.txt
eq "plain http elsewhere taken" "$RC" 0
contains "with a warning" "$ERR" "unencrypted"
run "$KIRIM" webhooks remove 2
eq "removed again" "$RC" 0

# 7. https:// receivers. The CA is trusted through [tls] ca_file, as for MTA-STS.
mkdir certs
$PY3 "$SERVER_PY" --make-certs "$TMP/certs" # server.pem: DNS:mx.test, IP:127.0.0.1
$PY3 "$SERVER_PY" --make-cert certs good localhost
$PY3 "$SERVER_PY" --make-cert certs other other.test
$PY3 "$SERVER_PY" --make-cert certs self localhost --self-signed
$PY3 "$SERVER_PY" --make-cert certs old localhost --expired
[ -s certs/good.pem ] && [ -s certs/old.pem ] && ok "test certificates" || bad "test certificates" "openssl failed"
printf '[tls]\nca_file = certs/ca.pem\n' >kirim.conf
export KIRIM_CONFIG="$TMP/kirim.conf"
# hook NAME CERT - a receiver with CERT on a port of its own: $NAME_port, its log NAME.jsonl
hook() {
	local p
	p=$(free_port)
	eval "${1}_port=$p"
	$PY3 "$RECV" --port "$p" --secret-file secret.txt --log "$1.jsonl" --cert "certs/$2.pem" --key "certs/$2.key" &
	eval "${1}_pid=$!"
	PIDS+=($!)
	wait_port "$p"
}
hook good good
hook ip server
hook wrong other
hook self self
hook old old
add() { "$KIRIM" --json webhooks add "$1" --events delivered --secret-file secret.txt | $PY3 -c "import json,sys; print(json.load(sys.stdin)['id'])"; }
id_good=$(add "https://localhost:$good_port/hook")
id_ip=$(add "https://127.0.0.1:$ip_port/hook")
id_wrong=$(add "https://localhost:$wrong_port/hook")
id_self=$(add "https://localhost:$self_port/hook")
id_old=$(add "https://localhost:$old_port/hook")
eq "https webhooks added" "$(sql "SELECT count(*) FROM webhooks WHERE url LIKE 'https://%'")" 5
{ echo "email,first_name"; for i in 1 2 3; do echo "w$i@three.example,W$i"; done; } >n.csv
"$KIRIM" import n.csv --list n -q >/dev/null
"$KIRIM" campaign create c3 --list n --template t --from "Shop <news@shop.example>" >/dev/null
run "$KIRIM" send c3 --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "c3 sent" "$(json 'j["delivered"]')" 3
start_serve
# field ID NAME - a column of webhook ID
field() { sql "SELECT $2 FROM webhooks WHERE id = $1"; }
# got3 ID - 1 once webhook ID has delivered c3's 3 events and has none pending
got3() { "$KIRIM" --json webhooks status | $PY3 -c "import json,sys; w = [w for w in json.load(sys.stdin) if w['id'] == $1][0]; print(int(w['delivered'] == 3 and w['pending'] == 0))"; }
tried() { [ "$(field "$1" attempts)" -ge 1 ] && echo yes || echo no; }
wait_for "got3 $id_good" 1 "https by name: delivered"
wait_for "got3 $id_ip" 1 "https to 127.0.0.1 (the certificate's IP:127.0.0.1): delivered"
for n in good ip; do
	eq "$n: 3 deliveries, every signature held (the receiver's check)" "$($PY3 -c "
import json
rs = [r for r in map(json.loads, open('$n.jsonl'))]
print(sum(r['types'].count('delivered') for r in rs if r['status'] == 200), all(r['sig'] for r in rs))")" "3 True"
done
wait_for "tried $id_wrong" yes "another name: tried"
wait_for "tried $id_self" yes "self-signed: tried"
wait_for "tried $id_old" yes "expired: tried"
contains "another name: the reason recorded" "$(field "$id_wrong" last_error)" "certificate verify: hostname mismatch"
contains "self-signed: the reason recorded" "$(field "$id_self" last_error)" "certificate verify: self-signed certificate"
contains "expired: the reason recorded" "$(field "$id_old" last_error)" "certificate verify: certificate has expired"
for n in wrong self old; do
	[ -e "$n.jsonl" ] && bad "$n: nothing sent" "$(cat "$n.jsonl")" || ok "$n: nothing sent"
done
eq "the failures are kept for another try, not dropped" "$(sql "SELECT group_concat(dropped || '/' || (next_attempt_at > 0), ' ') FROM webhooks WHERE id IN ($id_wrong, $id_self, $id_old)")" "0/1 0/1 0/1"
run "$KIRIM" webhooks status
contains "kirim webhooks status shows it" "$OUT" "self-signed certificate"
# The self-signed receiver gets a certificate from the CA: the next try delivers.
stop "$self_pid"
p=$self_port
$PY3 "$RECV" --port "$p" --secret-file secret.txt --log self2.jsonl --cert certs/good.pem --key certs/good.key &
PIDS+=($!)
wait_port "$p"
wait_for "got3 $id_self" 1 "retried and delivered once the certificate is good"
eq "the same events, signed" "$($PY3 -c "
import json
rs = [r for r in map(json.loads, open('self2.jsonl')) if r['status'] == 200]
print(sum(r['types'].count('delivered') for r in rs), all(r['sig'] for r in rs))")" "3 True"
eq "still failing: another name and expired" "$(field "$id_wrong" delivered) $(field "$id_old" delivered)" "0 0"
kill -TERM "$srv"
wait "$srv"
eq "graceful stop with https webhooks failing" "$?" 0
finish
