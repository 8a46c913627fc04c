#!/usr/bin/env bash
# queue.sh - a campaign's messages are made as it sends (issue 20: the walk of its
# audience by contact id, store_messages_walk), over many ranges of a few ids each
# (KIRIM_QUEUE_CHUNK), against smtp-sink dumping every transaction:
#   1. the first messages leave while most of the audience has no message yet; each
#      recipient of a sparse audience (contacts of other lists between, one suppressed,
#      one excluded) is mailed exactly once, and no one else;
#   2. a kill -9 in the middle of the walk: the next `kirim send` goes on from where the
#      walk stopped; no recipient lost, none twice beyond what was in flight;
#   3. a pause from another process in the middle of the walk leaves it paused (not done),
#      status says how far the walk is, plan counts who the walk has not reached, and
#      `kirim run` finishes it;
#   4. who joins the audience after the walk ended is mailed by the next send, once;
#   5. a cancel in the middle of the walk ends it.
. "$(dirname "$0")/lib.sh"

: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
export KIRIM_QUEUE_CHUNK=10
printf 'Subject: Hello\n\n--- text\nHi {{email}}.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
many() { for i in $(seq 1 "$2"); do echo "$1$i@$3"; done; } # many PREFIX N DOMAIN
imp() { { echo email; many "$2" "$3" "$4"; } >"$2.csv" && "$KIRIM" import "$2.csv" --list "$1" -q >/dev/null; }
dump_dir() { mkdir -p "$TMP/$1" && chmod 777 "$TMP/$1" && echo "$TMP/$1/%M."; }
all_rcpts() { grep -rho '^X-Rcpt-Args: <[^>]*>' "$TMP/$1" 2>/dev/null | sed 's/^X-Rcpt-Args: <//; s/>$//'; }
made() { sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1'"; }
walk_left() { sql "SELECT coalesce(queue_upto > queue_cursor, 0) FROM campaigns WHERE name = '$1'"; }
# slow_send NAME DIR - a campaign to 1,500 new contacts, sent at 20 a second in the
# background (its pid in $victim) to a sink dumping into DIR, once 5 have arrived
slow_send() {
	imp "$1" "$1" 1500 "$1.example"
	"$KIRIM" campaign create "$1" --list "$1" --template t --from "News <news@kirim.test>" >/dev/null
	"$KIRIM" domain set global --rate 20/s >/dev/null
	start_sink "$p" -d "$(dump_dir "$2")"
	sink=$LAST_PID
	"$KIRIM" send "$1" --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 >/dev/null 2>&1 &
	victim=$!
	for _ in $(seq 1 100); do [ "$(all_rcpts "$2" | wc -l)" -gt 5 ] && break; sleep 0.1; done
}
p=$(free_port)

# 1. A sparse audience: list q's contacts with ids in three runs, other lists' between.
imp q a 300 q.example
imp other b 200 other.example
imp q c 600 q.example
imp other d 100 other.example
imp q e 300 q.example
{ echo email; echo a7@q.example; } >ex.csv
"$KIRIM" import ex.csv --list ex -q >/dev/null
"$KIRIM" suppress add c9@q.example >/dev/null
"$KIRIM" campaign create one --list q --exclude-list ex --template t --from "News <news@kirim.test>" >/dev/null
"$KIRIM" domain set global --rate 200/s >/dev/null
start_sink "$p" -d "$(dump_dir d1)"
sink=$LAST_PID
"$KIRIM" send one --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json >one.json 2>one.log &
sender=$!
for _ in $(seq 1 100); do [ "$(all_rcpts d1 | wc -l)" -gt 0 ] && break; sleep 0.1; done
at_first=$(made one)
# The first batches claim up to 512 (the window in flight): the walk is not far ahead.
[ "$at_first" -lt 1000 ] && ok "made as it sends: many have no message yet at the first delivery" ||
	bad "made as it sends" "$at_first of 1199 messages made when the first arrived"
wait "$sender"
eq "one: the send ends" "$?" 0
want=$( (many a 300 q.example; many c 600 q.example; many e 300 q.example) | grep -vx 'a7@q.example' | grep -vx 'c9@q.example' | sort)
eq "one: every recipient once, no one else" "$(all_rcpts d1 | sort | uniq -c | awk '$1 != 1' | wc -l) $(all_rcpts d1 | sort -u | diff - <(echo "$want") >/dev/null && echo same)" "0 same"
eq "one: states" "$(sql "SELECT group_concat(state || '=' || n, ' ') FROM (SELECT m.state AS state, count(*) n FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'one' GROUP BY m.state ORDER BY m.state)")" "delivered=1198 suppressed=1"
eq "one: done, the walk ended" "$(sql "SELECT state, queue_upto IS NULL FROM campaigns WHERE name = 'one'")" "done|1"
stop "$sink"

# 2. kill -9 in the middle of the walk (20 messages a second: the walk is far from done).
slow_send kill d2
kill -9 "$victim"
wait "$victim" 2>/dev/null
n=$(made kill)
[ "$n" -gt 0 ] && [ "$n" -lt 1500 ] && ok "kill -9: in the middle of the walk" || bad "kill -9: in the middle of the walk" "$n of 1500 made"
eq "kill -9: the walk's cursor is where its messages end" "$(sql "SELECT max(m.contact_id) <= c.queue_cursor AND c.queue_upto > c.queue_cursor FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'kill'")" 1
claimed=$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'kill' AND m.state = 'claimed'")
run "$KIRIM" campaign show kill
contains "show: how far the walk is" "$OUT" "queueing: messages are made as it sends; contact ids up to"
"$KIRIM" domain set global --rate 1000/s >/dev/null
run "$KIRIM" send kill --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json
eq "after kill -9: the next send finishes" "$RC $(json 'j["campaign_counts"]["delivered"], j["campaign_counts"]["queueing"]')" "0 1500 None"
eq "after kill -9: no recipient lost" "$(all_rcpts d2 | sort -u | wc -l)" 1500
twice=$(all_rcpts d2 | sort | uniq -d | wc -l)
[ "$twice" -le "$claimed" ] && ok "after kill -9: twice only what was in flight" || bad "after kill -9: twice" "$twice twice, $claimed were claimed"
eq "after kill -9: one message per contact" "$(sql "SELECT count(*), count(DISTINCT contact_id) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'kill'")" "1500|1500"
stop "$sink"

# 3. Paused from another process in the middle of the walk; kirim run finishes it.
slow_send pz d3
"$KIRIM" campaign pause pz --reason "checking" >/dev/null
wait "$victim"
eq "pause: paused, not done, the walk unfinished" "$(sql "SELECT state FROM campaigns WHERE name = 'pz'") $(walk_left pz)" "paused 1"
run "$KIRIM" status
contains "status: how far the walk is" "$OUT" "queueing: messages are made as it sends"
run "$KIRIM" status --json
eq "status --json: the walk" "$(json '[c["queueing"]["upto"] > c["queueing"]["contact_id"] for c in j["campaigns"] if c["campaign"] == "pz"]')" "[True]"
left=$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'pz' AND m.state NOT IN ('queued', 'claimed')")
run "$KIRIM" --json campaign plan pz --relay "smtp://127.0.0.1:$p"
eq "plan: the queued and the contacts the walk has not reached" "$(json 'j["messages"]')" "$((1500 - left))"
"$KIRIM" campaign resume pz >/dev/null
"$KIRIM" domain set global --rate 1000/s >/dev/null
run "$KIRIM" run --once --relay "smtp://127.0.0.1:$p" --tls none --timeout 5
eq "run: the paused walk finished" "$RC $(sql "SELECT state FROM campaigns WHERE name = 'pz'") $(walk_left pz)" "0 done 0"
eq "run: every recipient once" "$(all_rcpts d3 | sort -u | wc -l) $(all_rcpts d3 | sort | uniq -d | wc -l)" "1500 0"

# 4. Who joins after the walk ended is mailed by the next send, once; the others not again.
imp pz late 3 pz.example
run "$KIRIM" send pz --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json
eq "late joiners: mailed by the next send" "$RC $(json 'j["attempted"]')" "0 3"
eq "late joiners: once each, no one twice" "$(all_rcpts d3 | sort -u | wc -l) $(all_rcpts d3 | sort | uniq -d | wc -l)" "1503 0"
stop "$sink"

# 5. Cancelled in the middle of the walk: the walk ends there, and nothing more is made.
slow_send cz d5
"$KIRIM" campaign cancel cz --yes >/dev/null
wait "$victim"
n=$(made cz)
eq "cancel: the walk ended, nothing left queued" "$(sql "SELECT state, queue_upto IS NULL FROM campaigns WHERE name = 'cz'") $(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'cz' AND m.state IN ('queued', 'claimed')")" "cancelled|1 0"
run "$KIRIM" campaign show cz
case "$OUT" in *queueing*) bad "cancel: show says no walk" "$OUT" ;; *) ok "cancel: show says no walk" ;; esac
[ "$n" -lt 1500 ] && ok "cancel: made only part" || bad "cancel: made only part" "$n"
stop "$sink"
"$KIRIM" domain unset global >/dev/null
finish
