#!/usr/bin/env bash
# webhooks.sh - outgoing webhooks: events kept in the database as they happen, POSTed in
# signed batches by kirim serve to a Python receiver on loopback that checks the signature
# with its own code (tests/integration/webhook_receiver.py); tries again while the receiver
# is down or answers 500; no event lost across kill -9 of kirim serve, none sent again
# under another id.
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
run "$KIRIM" webhooks add https://example.com/hook --events delivered --secret-file secret.txt
eq "https refused (for now)" "$RC" 65
run "$KIRIM" webhooks add "$URL" --events delivered,exploded --secret-file secret.txt
eq "unknown event" "$RC" 65
contains "unknown event says which" "$ERR" "exploded"
run "$KIRIM" webhooks add "$URL" --events delivered --secret-file short.txt
eq "short secret" "$RC" 65
run "$KIRIM" webhooks add "$URL" --events delivered --secret-file nope.txt
eq "no secret file" "$RC" 66
run "$KIRIM" --json webhooks add "$URL" --events delivered,bounced,campaign --secret-file secret.txt
eq "added" "$RC" 0
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
finish
