#!/usr/bin/env bash
# reliability.sh - what must never be mailed, and what a second sender or a busy
# database must not do, against real servers on loopback (smtp-sink dumping each
# transaction, dnsmasq for MX records) and the real binary:
#   1. a suppression committed while a message waits for a retry is honoured;
#   2. suppressions (address and domain) committed during a running send are honoured,
#      for what is still queued and for what is claimed but not yet on the wire;
#   3. several senders per campaign: a second `kirim send` (and a `kirim run`) shares it
#      with the first, each message mailed once; after a kill -9 the next sender takes
#      back the dead one's claims (nodes.sh: several nodes);
#   4. a database held by another writer past the busy timeout does not kill a sender;
#   5. one NXDOMAIN answer bounces nothing hard; a confirmed one does; a domain with a
#      recent delivery is never bounced on DNS;
#   6. when a relay dies mid-send, only the messages that were on the wire get an attempt
#      and the error; the rest go back to the queue with none counted.
. "$(dirname "$0")/lib.sh"

: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
printf 'Subject: Hello\n\n--- text\nHi {{email}}.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
campaign() { # campaign NAME FILE: a campaign to the addresses in FILE (one a line)
	{ echo email; cat "$2"; } >"$1.csv"
	"$KIRIM" import "$1.csv" --list "$1" -q >/dev/null
	"$KIRIM" campaign create "$1" --list "$1" --template t --from "News <news@kirim.test>" >/dev/null
}
many() { for i in $(seq 1 "$2"); do echo "$1$i@$3"; done; } # many PREFIX N DOMAIN
dump_dir() { mkdir -p "$TMP/$1" && chmod 777 "$TMP/$1" && echo "$TMP/$1/%M."; }
# got DIR ADDRESS - how many transactions in DIR were for ADDRESS (smtp-sink's dump
# records the envelope: "X-Rcpt-Args: <ADDRESS>")
got() { grep -rilF "X-Rcpt-Args: <$2>" "$TMP/$1" 2>/dev/null | wc -l; }
# all_rcpts DIR - every envelope recipient in DIR, one a line
all_rcpts() { grep -rho '^X-Rcpt-Args: <[^>]*>' "$TMP/$1" 2>/dev/null | sed 's/^X-Rcpt-Args: <//; s/>$//'; }

# 1. A deferred message whose address or domain is suppressed before its retry is not
# retried; with both suppressed, the address's reason is the one recorded.
{ many r 10 retry.example; echo a@both.example; echo b@both.example; } >retry.txt
campaign retry retry.txt
p=$(free_port)
start_sink "$p" -r RCPT
run "$KIRIM" send retry --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json
stop "$LAST_PID"
eq "retry: all deferred first" "$(json 'j["deferred"]')" 12
"$KIRIM" suppress add r3@retry.example >/dev/null
"$KIRIM" suppress add R4@Retry.Example --reason complaint >/dev/null
"$KIRIM" suppress add A@both.example --reason complaint >/dev/null
"$KIRIM" suppress add both.example --reason hard_bounce >/dev/null
p=$(free_port)
start_sink "$p" -d "$(dump_dir d1)"
run at "+10m" "$KIRIM" send retry --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json
stop "$LAST_PID"
eq "retry: exit" "$RC" 0
eq "retry: the suppressed were not retried" "$(got d1 r3@retry.example) $(got d1 r4@retry.example)" "0 0"
eq "retry: the others were" "$(all_rcpts d1 | sort -u | wc -l)" 8
eq "retry: the suppressed domain was not retried" "$(all_rcpts d1 | grep -c '@both.example$' || true)" 0
eq "retry: states" "$(state_of retry)" "delivered=8 suppressed=4"
why_of() { sql "SELECT last_text FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = '$1'"; }
contains "retry: why" "$(why_of r4@retry.example)" "suppressed: complaint after the message was queued"
contains "retry: address and domain: the address's reason" "$(why_of a@both.example)" "suppressed: complaint after"
contains "retry: the domain's" "$(why_of b@both.example)" "suppressed: hard_bounce after"

# 2. Suppressions during a running send: 1,500 messages through a relay at 150/s (the
# sender keeps up to 512 claimed, so about 3 s of them wait in the pool's queue). After
# about 2 s, one address claimed and not yet sent, one still queued, and a whole domain
# (60 addresses, queued last: messages are queued by domain) are suppressed: none of
# them is mailed.
{
	many a 1440 live.example
	many b 60 zz-gone.example
} >live.txt
campaign live live.txt
"$KIRIM" domain set global --rate 150/s >/dev/null
p=$(free_port)
start_sink "$p" -d "$(dump_dir d2)"
"$KIRIM" send live --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json --verbose >live.json 2>live.log &
sender=$!
sleep 2
in_state() { # in_state STATE: the live.example address of the last message in STATE
	sql "SELECT c.email FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'live' AND m.state = '$1' AND c.domain = 'live.example' ORDER BY m.id DESC LIMIT 1"
}
inflight=$(in_state claimed)
queued=$(in_state queued)
[ -n "$inflight" ] && [ -n "$queued" ] && ok "live: claimed and queued messages" ||
	bad "live: claimed and queued messages" "after 2 s: $(state_of live)"
"$KIRIM" suppress add "$inflight" "$queued" @zz-gone.example >/dev/null
wait "$sender"
eq "live: exit" "$?" 0
stop "$LAST_PID"
eq "live: the claimed address was not mailed" "$(got d2 "$inflight")" 0
eq "live: the queued address was not mailed" "$(got d2 "$queued")" 0
eq "live: the suppressed domain was not mailed" "$(all_rcpts d2 | grep -c '@zz-gone.example$')" 0
eq "live: nothing mailed twice" "$(all_rcpts d2 | sort | uniq -d | wc -l)" 0
eq "live: states" "$(state_of live)" "delivered=1438 suppressed=62"
eq "live: the sink agrees" "$(all_rcpts d2 | sort -u | wc -l)" 1438
contains "live: withdrawn in flight, logged" "$(cat live.log)" "suppressed after it was claimed"
"$KIRIM" domain unset global >/dev/null

# 2b. One-click unsubscribes answered by a running kirim serve during a send at 100/s (they reach
# the database through serve's journal): 20 addresses claimed and not yet sent, and 20
# still queued, unsubscribed after about 2 s: none of them is mailed after its 200 OK
# (the sender reads new suppressions twice a second: a message the sink finished more than
# a second after its 200 counts; on a quiet machine none of the 40 is mailed at all, but on
# a starved one a request can take longer than the claimed message's seconds to the wire).
SECRET=reliability-secret-0123456789abcdef
printf '[secret]\nvalue = %s\n[unsubscribe]\nurl = https://127.0.0.1/u/\n' "$SECRET" >serve.conf
tok() { make_token "$SECRET" u "$@"; } # tok CAMPAIGN-ID CONTACT-ID: an unsubscribe token
many c 1500 click.example >click.txt
campaign click click.txt
"$KIRIM" domain set global --rate 100/s >/dev/null
hp=$(free_port)
KIRIM_CONFIG="$TMP/serve.conf" "$KIRIM" serve --listen "127.0.0.1:$hp" 2>serve.log &
servepid=$!
PIDS+=("$servepid")
wait_port "$hp"
p=$(free_port)
start_sink "$p" -d "$(dump_dir d2b)"
"$KIRIM" send click --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json >click.json 2>click.log &
sender=$!
sleep 2
cid=$(sql "SELECT id FROM campaigns WHERE name = 'click'")
picked() { # picked STATE: the contacts of the last 20 messages in STATE
	sql "SELECT m.contact_id || ' ' || c.email FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.campaign_id = $cid AND m.state = '$1' ORDER BY m.id DESC LIMIT 20"
}
{ picked claimed; picked queued; } >unsub.txt
# Tokens first, then all 40 requests at once: the claimed messages are seconds from the
# wire (512 claimed at 100/s), and the requests must not take those seconds themselves.
while read -r contact email; do
	echo "http://127.0.0.1:$hp/u/$(tok "$cid" "$contact")"
done <unsub.txt >unsub.urls
# Each answer with the time it came: "CODE SECONDS URL".
xargs -P 20 -I{} sh -c 'c=$(curl -s -o /dev/null -w "%{http_code}" -d List-Unsubscribe=One-Click "$1"); echo "$c $(date +%s.%N) $1"' _ {} <unsub.urls >unsub.answers
answered=$(grep -c '^200 ' unsub.answers)
wait "$sender"
eq "one-click: the sender finished" "$?" 0
stop "$LAST_PID"
stop "$servepid"
eq "one-click: 40 unsubscribes answered 200" "$answered" 40
mailed=0 late=0
while read -r contact email url; do
	at=$(grep -F " $url" unsub.answers | cut -d' ' -f2) # when its 200 OK came
	for f in $(grep -rlF "X-Rcpt-Args: <$email>" "$TMP/d2b" 2>/dev/null); do
		mailed=$((mailed + 1))
		# Finished at the sink more than a second after its 200 OK: mailed after it.
		awk -v m="$(stat -c %.9Y "$f")" -v t="${at:-0}" 'BEGIN { exit !(m > t + 1) }' &&
			late=$((late + 1))
	done
done < <(paste -d' ' unsub.txt unsub.urls)
eq "one-click: none of the 40 mailed after its 200 OK" "$late" 0
[ "$mailed" -gt 0 ] && echo "one-click: $mailed of the 40 went before their 200 OK (a slow machine)"
eq "one-click: the others were" "$(all_rcpts d2b | sort -u | wc -l)" $((1460 + mailed))
"$KIRIM" domain unset global >/dev/null

# 3. Several senders per campaign (docs/scale-out.md). A second `kirim send` of a campaign
# being sent, and a `kirim run`, send beside the first: each claims its own messages, and
# everything is delivered exactly once.
many o 600 one.example >one.txt
campaign one one.txt
"$KIRIM" domain set global --rate 200/s >/dev/null
p=$(free_port)
start_sink "$p" -d "$(dump_dir d3)"
sinkpid=$LAST_PID
"$KIRIM" send one --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json >one.json 2>one.log &
first=$!
sleep 1
"$KIRIM" send one --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 >/dev/null 2>two.log &
second=$!
run "$KIRIM" run --once --relay "smtp://127.0.0.1:$p" --tls none --timeout 5
eq "run --once beside them: exit" "$RC" 0
wait "$second"
eq "second sender: shares the campaign (exit 0)" "$?" 0
wait "$first"
eq "first sender: exit" "$?" 0
eq "three senders: all delivered once" "$(all_rcpts d3 | sort | uniq -d | wc -l) $(all_rcpts d3 | sort -u | wc -l)" "0 600"
eq "three senders: states" "$(state_of one) $(sql "SELECT state FROM campaigns WHERE name = 'one'")" "delivered=600 done"
eq "senders table empty after" "$(sql 'SELECT count(*) FROM senders') $(sql "SELECT sender_id IS NULL FROM campaigns WHERE name = 'one'")" "0 1"
# A sender killed with -9 leaves its claims; the next one takes them back (its process is
# gone), and only what was in flight can arrive twice.
many k 600 kill.example >kill.txt
campaign kill kill.txt
"$KIRIM" send kill --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 >/dev/null 2>&1 &
victim=$!
sleep 1.5
kill -9 "$victim"
wait "$victim" 2>/dev/null
claimed=$(sql "SELECT count(*) FROM messages m JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'kill' AND m.state = 'claimed'")
run "$KIRIM" send kill --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json
eq "after kill -9: the next sender runs" "$RC" 0
eq "after kill -9: recovered what was claimed" "$(json 'j["campaign_counts"]["delivered"]')" 600
twice=$(all_rcpts d3 | grep '@kill.example$' | sort | uniq -d | wc -l)
[ "$twice" -le "$claimed" ] && ok "after kill -9: duplicates bounded" || bad "after kill -9: duplicates bounded" "$twice twice, $claimed were claimed"
rollups_agree "after kill -9: rollups = recount (the killed sender's transactions rolled them back)" kill
rollups_agree "retry: rollups = recount after deferrals, retries and suppressions" retry
"$KIRIM" domain unset global >/dev/null
stop "$sinkpid"

# 4. A database locked by another writer for 12 s (past the 5 s busy timeout) while a
# send runs: the sender keeps its outcomes in memory, says so, and finishes; every
# message is recorded and mailed once.
many w 400 wait.example >wait.txt
campaign waitdb wait.txt
"$KIRIM" domain set global --rate 40/s >/dev/null
p=$(free_port)
start_sink "$p" -d "$(dump_dir d4)"
"$KIRIM" send waitdb --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json --verbose >wait.json 2>wait.log &
sender=$!
sleep 1.5
$PY3 - "$KIRIM_DB" <<'PYEND'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
time.sleep(12)
c.execute("COMMIT")
PYEND
wait "$sender"
eq "busy: the sender finished" "$?" 0
stop "$LAST_PID"
contains "busy: it said so" "$(cat wait.log)" "database busy"
contains "busy: and when it was over" "$(cat wait.log)" "database free again"
eq "busy: every message recorded" "$(state_of waitdb)" "delivered=400"
eq "busy: mailed once each" "$(all_rcpts d4 | sort | uniq -d | wc -l) $(all_rcpts d4 | sort -u | wc -l)" "0 400"
"$KIRIM" domain unset global >/dev/null

# 6. The relay is killed mid-send: only what was in a transaction gets an attempt.
many d 600 down.example >down.txt
campaign down down.txt
"$KIRIM" domain set global --rate 100/s >/dev/null
p=$(free_port)
start_sink "$p"
"$KIRIM" send down --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --concurrency 4 --json >down.json 2>down.log &
sender=$!
sleep 2
kill -9 "$LAST_PID"
wait "$sender"
eq "relay killed: the sender ends" "$?" 0
n_tried=$(sql "SELECT count(*) FROM messages m JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'down' AND m.state = 'queued' AND m.attempts > 0")
n_waiting=$(sql "SELECT count(*) FROM messages m JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'down' AND m.state = 'queued' AND m.attempts = 0")
[ "$n_tried" -le 4 ] && ok "relay killed: attempts only for the 4 connections' messages" ||
	bad "relay killed: attempts only for the 4 connections' messages" "$n_tried queued messages have an attempt counted"
[ "$n_waiting" -gt 100 ] && ok "relay killed: the rest wait, no attempt" || bad "relay killed: the rest wait, no attempt" "$n_waiting"
eq "relay killed: events only for what was tried" "$(sql "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'down' AND e.type = 'deferred'")" "$n_tried"
contains "relay killed: the waiting ones say why" "$(sql "SELECT last_text FROM messages m JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'down' AND m.state = 'queued' AND m.attempts = 0 LIMIT 1")" "down until"
"$KIRIM" domain unset global >/dev/null

# 5. NXDOMAIN. Direct delivery with dnsmasq: nx.test does not exist (NXDOMAIN), was.test
# had a delivery and then vanished from DNS.
printf '[sender]\nehlo = mta.kirim.test\n' >direct.conf
export KIRIM_CONFIG="$TMP/direct.conf"
P=$(free_port)
printf 'mx-host=was.test,mx.was.test,10\nhost-record=mx.was.test,127.0.0.2\n' >records
start_dnsmasq records
dns1=$LAST_PID
start_sink_at 127.0.0.2 "$P" -d "$(dump_dir d5)"
echo first@was.test >was1.txt
campaign was1 was1.txt
run "$KIRIM" send was1 --dns-server "127.0.0.1:$DNS_PORT" --mx-port "$P" --timeout 5 --json
eq "nx: was.test delivered first" "$(state_of was1)" "delivered=1"
stop "$dns1"
: >records
start_dnsmasq records # now everything under .test is NXDOMAIN
DNS="127.0.0.1:$DNS_PORT"
{
	many n 3 nx.test
	many w 3 was.test
} >nx.txt
campaign nx nx.txt
run "$KIRIM" send nx --dns-server "$DNS" --mx-port "$P" --timeout 5 --json
eq "nx: first answer: nothing bounced" "$(state_of nx)" "queued=6"
eq "nx: nothing suppressed" "$(sql "SELECT count(*) FROM suppressions WHERE value LIKE '%.test'")" 0
contains "nx: why" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'n1@nx.test'")" "not yet confirmed"
run at "+20m" "$KIRIM" send nx --dns-server "$DNS" --mx-port "$P" --timeout 5 --json
eq "nx: nx.test not due before the confirmation time" "$(sql "SELECT group_concat(DISTINCT m.attempts) FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.domain = 'nx.test'")" 1
run at "+65m" "$KIRIM" send nx --dns-server "$DNS" --mx-port "$P" --timeout 5 --json
eq "nx: confirmed an hour later: nx.test bounces, was.test waits" "$(state_of nx)" "bounced=3 queued=3"
eq "nx: hard bounces suppress" "$(sql "SELECT group_concat(value) FROM (SELECT value FROM suppressions WHERE value LIKE '%.test' ORDER BY value)")" "n1@nx.test,n2@nx.test,n3@nx.test"
contains "nx: a recently delivered domain is not bounced on DNS" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'w1@was.test'")" "delivery in the last 30 days"
finish
