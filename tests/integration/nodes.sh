#!/usr/bin/env bash
# nodes.sh - several senders on one database (#24, docs/scale-out.md): three `kirim run`
# processes, each with a node name of its own (as if on three hosts: liveness by lease,
# not by pid), one smtp-sink dumping every message, and the real binary:
#   1. 8,000 messages of a scheduled campaign: started by exactly one node (the leader),
#      sent by all three, each message arrives exactly once, every row delivered, the
#      campaign done once; kirim status lists the three nodes, what each holds, the leader;
#   2. 20,000 messages, `kill -9` of one node twice (the leader the first time): its claims
#      stay claimed until its lease expires and are then sent by the others; another node
#      takes the lead and starts the next scheduled campaign once; none lost, and no more
#      received twice than the killed node had claimed at the kills.
. "$(dirname "$0")/lib.sh"

# A short lease, so that a dead node's claims come back within seconds (60 s by default).
printf '[node]\nlease = 10\n' >kirim.conf
export KIRIM_CONFIG="$TMP/kirim.conf"
printf 'Subject: Hi {{email}}\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
# Campaign state changes are recorded for webhooks (never delivered here: no kirim serve).
printf 'wh-test-secret-0123456789abcdef\n' >secret.txt
"$KIRIM" webhooks add http://127.0.0.1:9/hook --events campaign --secret-file secret.txt >/dev/null
campaign() { # campaign NAME N: N addresses NAME0@r0.test ... over 50 domains
	$PY3 -c 'import sys
print("email")
for i in range(int(sys.argv[2])): print("%s%d@r%d.test" % (sys.argv[1], i, i % 50))' "$1" "$2" >"$1.csv"
	"$KIRIM" import "$1.csv" --list "$1" -q >/dev/null
	"$KIRIM" campaign create "$1" --list "$1" --template t --from "News <news@kirim.test>" >/dev/null
}
count() { sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' AND m.state = '$2'"; }
state_of() { sql "SELECT state FROM campaigns WHERE name = '$1'"; }
# wait_for SECONDS CONDITION... - until the shell condition holds (0), or the time is up (1)
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq 1 "$n"); do
		eval "$*" && return 0
		sleep 0.1
	done
	return 1
}
# received NAME - "LOST TWICE TOTAL" for campaign NAME's addresses in the sink's dumps (a
# message's To: header names its one recipient)
received() {
	$PY3 - dump "$TMP/$1.csv" "$1" <<'PYEND'
import collections, os, sys
want = [l.strip() for l in open(sys.argv[2])][1:]
prefix = sys.argv[3].encode()
seen = collections.Counter()
for f in os.listdir(sys.argv[1]):
    with open(os.path.join(sys.argv[1], f), 'rb') as fh:
        for line in fh:
            if line.startswith(b'To: '):
                to = line[4:].strip()
                if to.startswith(prefix):
                    seen[to.decode()] += 1
                break
print(sum(1 for w in want if seen[w] == 0), sum(1 for w in want if seen[w] > 1), sum(seen.values()))
PYEND
}

# A node's name is checked: it is written in the database and shown by kirim status.
run "$KIRIM" run --node "a b" --once
eq "--node with a blank: usage" "$RC" 64
contains "--node with a blank: why" "$ERR" "--node takes a name of 1 to 63 letters"

P=$(free_port)
mkdir dump && chmod 777 dump
start_sink "$P" -d "$TMP/dump/%M."
sink=$LAST_PID
declare -A NODE_PID
start_node() { # start_node NAME
	"$KIRIM" run --node "$1" --relay "smtp://127.0.0.1:$P" --tls none --turn 5 \
		--no-delivery-log 2>>"$1.log" &
	NODE_PID[$1]=$!
}
held_by() { sql "SELECT count(*) FROM messages m JOIN senders s ON s.id = m.claimed_by WHERE s.node = '$1'"; }
leader() { sql "SELECT node FROM leases WHERE name = 'leader' AND lease_until >= strftime('%s', 'now')"; }

# 1. Three nodes, one scheduled campaign. Each node sends at most 400 messages a second, so
# that the campaign outlasts the start of the slowest node on a busy machine (each must
# send part of it).
"$KIRIM" domain set global --rate 400/s >/dev/null
campaign a 8000
"$KIRIM" campaign schedule a --now >/dev/null 2>&1
for n in n1 n2 n3; do start_node $n; done
wait_for 60 '[ "$(count a delivered)" -gt 1000 ]' || bad "a: sending started" "$(count a delivered) delivered"
# Each node registers as it starts: on a busy machine one may come after the first 1,000.
wait_for 30 '[ "$(sql "SELECT count(DISTINCT node) FROM senders")" = 3 ]' ||
	bad "a: three nodes registered" "$(sql "SELECT group_concat(node) FROM senders")"
run "$KIRIM" status
for n in n1 n2 n3; do
	contains "status: node $n listed with the campaign" "$OUT" "$n "
done
contains "status: the leader" "$OUT" "Leader: node $(leader) "
run "$KIRIM" status --json
eq "status --json: the three nodes" "$(json '" ".join(sorted(n["node"] for n in j["nodes"]))')" "n1 n2 n3"
eq "status --json: what they hold" "$(json 'all(n["campaigns"] in ([], ["a"]) and n["claimed"] >= 0 for n in j["nodes"]) and j["leader"]["node"] in ("n1", "n2", "n3")')" True
wait_for 120 '[ "$(state_of a)" = done ]' || bad "a: done" "state $(state_of a), $(count a delivered) delivered"
eq "a: every message delivered" "$(count a delivered) $(sql "SELECT count(*) FROM messages WHERE claimed_by IS NOT NULL")" "8000 0"
read -r lost twice total < <(received a)
eq "a: each message arrived exactly once (lost, twice, received)" "$lost $twice $total" "0 0 8000"
eq "a: started by one node" "$(cat n1.log n2.log n3.log | grep -c 'campaign=a started')" 1
for n in n1 n2 n3; do
	contains "a: node $n sent part of it" "$(cat $n.log)" "campaign=a start due="
done
eq "a: moved to done once (the webhook outbox's campaign events)" "$(sql "SELECT group_concat(json_extract(o.data, '$.to'), ' ') FROM webhook_outbox o JOIN campaigns c ON c.id = o.campaign_id WHERE o.type = 'campaign' AND c.name = 'a'")" "scheduled sending done"

# 2. kill -9 one node twice during a run: the leader first. At 400 messages a second a
# node, the run outlasts the wait for a dead node's lease.
campaign b 20000
"$KIRIM" campaign schedule b --now >/dev/null 2>&1
wait_for 60 '[ "$(count b delivered)" -gt 2000 ]' || bad "b: sending started" "$(count b delivered) delivered"
victim=$(leader)
[ -n "$victim" ] && ok "b: a leader" || bad "b: a leader" "none"
sid=$(sql "SELECT id FROM senders WHERE node = '$victim'")
kill -9 "${NODE_PID[$victim]}"
wait "${NODE_PID[$victim]}" 2>/dev/null
claimed1=$(sql "SELECT count(*) FROM messages WHERE claimed_by = $sid AND state = 'claimed'")
[ "$claimed1" -gt 0 ] && ok "kill 1: $victim held claims" || bad "kill 1: claims" "$victim held none"
# Its lease holds for up to 10 s: the others leave its claims alone meanwhile, then take
# them (the claims of a node of another name are judged by its lease, not its pid).
sleep 2
eq "kill 1: its claims wait for its lease" "$(sql "SELECT count(*) FROM messages WHERE claimed_by = $sid")" "$claimed1"
wait_for 40 '[ "$(sql "SELECT count(*) FROM messages WHERE claimed_by = $sid")" = 0 ]' ||
	bad "kill 1: claims taken back" "$(sql "SELECT count(*) FROM messages WHERE claimed_by = $sid") left"
eq "kill 1: its sender row forgotten" "$(sql "SELECT count(*) FROM senders WHERE id = $sid")" 0
contains "kill 1: another node queued them again" "$(cat n1.log n2.log n3.log)" "recovered="
wait_for 30 '[ -n "$(leader)" ] && [ "$(leader)" != "$victim" ]' || bad "kill 1: a new leader" "leader [$(leader)]"
newleader=$(leader)
contains "kill 1: the new leader says so" "$(cat "$newleader.log")" "run leader node=$newleader"
# Back, then killed again while it sends.
start_node "$victim"
before=$(count b delivered)
wait_for 60 '[ "$(held_by "$victim")" -gt 0 ]' ||
	bad "kill 2: $victim claims again" "no claims"
sid=$(sql "SELECT id FROM senders WHERE node = '$victim'")
kill -9 "${NODE_PID[$victim]}"
wait "${NODE_PID[$victim]}" 2>/dev/null
claimed2=$(sql "SELECT count(*) FROM messages WHERE claimed_by = $sid AND state = 'claimed'")
start_node "$victim" # its own node: its dead process's claims come back at once
# The new leader starts a campaign scheduled now, once.
campaign c 50
"$KIRIM" campaign schedule c --now >/dev/null 2>&1
wait_for 30 '[ "$(state_of c)" != scheduled ]' || bad "c: started" "state $(state_of c)"
eq "c: started once, by the new leader" "$(grep -l 'campaign=c started' n1.log n2.log n3.log)" "$newleader.log"
wait_for 120 '[ "$(state_of b)" = done ] && [ "$(state_of c)" = done ]' ||
	bad "b: done" "state $(state_of b), $(count b delivered) delivered"
eq "b: every message delivered, none claimed" "$(count b delivered) $(sql "SELECT count(*) FROM messages WHERE state = 'claimed' OR claimed_by IS NOT NULL")" "20000 0"
rollups_agree "b: three senders' rollups = recount after two kills" b "--format json"
rollups_agree "a: three senders' rollups = recount" a "--format csv --by destination"
read -r lost twice total < <(received b)
echo "nodes: kill 1 of $victim with $claimed1 claimed, kill 2 with $claimed2 claimed ($before delivered then); $lost lost, $twice received twice, $total received"
eq "b: none lost" "$lost" 0
[ "$twice" -le $((claimed1 + claimed2)) ] && ok "b: duplicates within the killed node's claims" ||
	bad "b: duplicates" "$twice twice, $claimed1 + $claimed2 claimed at the kills"
read -r lost twice total < <(received c)
eq "c: each message arrived once" "$lost $twice $total" "0 0 50"
for n in n1 n2 n3; do
	case "$n" in "$victim") continue ;; esac
	eq "node $n never lost its lease" "$(grep -c 'lease expired and taken over\|took this one' $n.log)" 0
done

# The end: every node stops on SIGTERM and lets go of its row and the lead.
for n in n1 n2 n3; do kill "${NODE_PID[$n]}"; done
for n in n1 n2 n3; do
	wait "${NODE_PID[$n]}"
	eq "node $n: exit on SIGTERM" "$?" 0
done
eq "no sender rows, no leader left" "$(sql 'SELECT count(*) FROM senders') $(sql 'SELECT count(*) FROM leases')" "0 0"
stop "$sink"
finish
