#!/usr/bin/env bash
# redis.sh - destinations' limits shared by several senders through a real redis-server
# (docs/scale-out.md): three `kirim send` processes on one database, each with a campaign
# of its own to the same domain. A 10/s domain policy holds within 5% at the sink for the
# three together (without Redis it is ~30/s); a connection cap of 2 holds across them
# (counted at the receiving server); Redis killed mid-run: sending goes on at a local
# share (10/3 each), restarted: shared again; one sender's 421 4.7.0 slows the others
# down too; a Redis that wants a password, or hangs. Ops per message from Redis's INFO
# commandstats.
. "$(dirname "$0")/lib.sh"

redis_test "redis.sh"
# evals - EVAL calls Redis has answered since its start or the last reset
evals() { rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p'; }

P=$(free_port)
cat >records <<EOF2
mx-host=shared.test,mx.shared.test,10
host-record=mx.shared.test,127.0.1.2
mx-host=alone.test,mx.alone.test,10
host-record=mx.alone.test,127.0.1.3
mx-host=conns.test,mx.conns.test,10
host-record=mx.conns.test,127.0.1.4
mx-host=killed.test,mx.killed.test,10
host-record=mx.killed.test,127.0.1.5
mx-host=aimd.test,mx.aimd.test,10
host-record=mx.aimd.test,127.0.1.6
EOF2
start_dnsmasq records
for a in 2 3 5; do start_sink_at "127.0.1.$a" "$P" -d "$(sink_dir "$a")"; done
# conns.test holds each DATA for 0.2 s, so that sessions stay busy and overlap.
start_server_at 127.0.1.4 "$P" --pipelining --data-delay 0.2 --connections "$TMP/conns.txt"
# aimd.test answers mail from news-s1@ with 421 4.7.0 after 20 messages, for 5 s.
start_server_at 127.0.1.6 "$P" --pipelining --throttle-after 20 --throttle-for 5 \
	--slowdown-from news-s1@kirim.test

# rate DIR [FROM TO] - messages and their rate at the sink over the middle 80% of their
# arrivals (the steady part, when every sender is at it); with FROM TO (seconds since the
# first arrival) over that window only, with each campaign's count in it
rate() {
	$PY3 - "$@" <<'PYEND'
import os, re, sys
d = sys.argv[1]
got = []
for f in os.listdir(d):
    p = os.path.join(d, f)
    m = re.search(rb"^From: News <news-([a-z0-9]+)@", open(p, "rb").read(), re.M)
    got.append((os.stat(p).st_mtime, m.group(1).decode() if m else "?"))
got.sort()
t0 = got[0][0]
if len(sys.argv) > 2:
    lo, hi = float(sys.argv[2]), float(sys.argv[3])
    win = [g for g in got if lo <= g[0] - t0 < hi]
    per = {}
    for _, c in win:
        per[c] = per.get(c, 0) + 1
    print("%d %.2f %s" % (len(win), len(win) / (hi - lo),
                          ",".join("%s=%.2f" % (c, per[c] / (hi - lo)) for c in sorted(per))))
else:
    k = len(got) // 10
    mid = [g[0] for g in got[k:len(got) - k]]
    print("%d %.2f" % (len(got), (len(mid) - 1) / (mid[-1] - mid[0])))
PYEND
}
within() { awk -v r="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(r >= lo && r <= hi) }'; }

# 1. A 10/s policy holds for the three senders together, within 5% at the sink; Redis
#    answers about one EVAL per message (a grant of one token at 10/s).
"$KIRIM" domain set shared.test --rate 10/s >/dev/null
campaigns shared.test 40 r1 r2 r3
rcli config resetstat >/dev/null
send_all r1 r2 r3 -- --redis "$REDIS"
eq "shared: all delivered" "$(state_of r1) $(state_of r2) $(state_of r3)" \
	"delivered=40 delivered=40 delivered=40"
read -r n r <<<"$(rate "$TMP/dump-2")"
ops=$(evals)
echo "shared: $n messages at $r/s for three senders; $ops EVALs, $(awk -v o="$ops" -v n="$n" 'BEGIN { printf "%.2f", o / n }') per message (load $(cut -d' ' -f1-3 /proc/loadavg))"
within "$r" 9.5 10.5 && ok "shared: 10/s within 5% for the three" || bad "shared: 10/s within 5%" "measured $r/s"
contains "shared: the sender says it shares" "$(cat r1.err)" "throttles shared across nodes"
[ "$ops" -le $((n * 3 / 2)) ] && ok "shared: at most 1.5 Redis ops per message" ||
	bad "shared: ops per message" "$ops EVALs for $n messages"

# 2. The same without Redis: each sender holds the 10/s alone, ~30/s together.
"$KIRIM" domain set alone.test --rate 10/s >/dev/null
campaigns alone.test 100 l1 l2 l3
send_all l1 l2 l3 -- --redis none
read -r n r <<<"$(rate "$TMP/dump-3")"
echo "alone: $n messages at $r/s for three senders"
within "$r" 25 33 && ok "alone: ~30/s without Redis" || bad "alone: ~30/s" "measured $r/s"
contains "alone: the sender says it throttles alone" "$(cat l1.err)" "throttles local to this sender"

# 3. A policy's cap of 2 connections holds across the three, counted by the server; each
#    sender alone would open 2 (6 at once).
"$KIRIM" domain set conns.test --max-connections 2 >/dev/null
campaigns conns.test 20 c1 c2 c3
send_all c1 c2 c3 -- --redis "$REDIS" --dest-concurrency 8
eq "cap: all delivered" "$(state_of c1) $(state_of c2) $(state_of c3)" \
	"delivered=20 delivered=20 delivered=20"
read -r _ open _ most <"$TMP/conns.txt"
eq "cap: at most 2 connections at once across the three" "$most" 2
eq "cap: the leases are given back" "$(rcli zcard 'kirim:conns:mx:mx.conns.test|conns.test')" 0

# 4. Redis killed mid-run: the senders go on at a local share (10/3 each, logged once),
#    and share again once it is back (they reconnect with backoff).
"$KIRIM" domain set killed.test --rate 10/s >/dev/null
campaigns killed.test 85 k1 k2 k3
send_all k1 k2 k3 -- --redis "$REDIS" &
all=$!
sleep 6 # every sender has said it is alive (heartbeats every 2 s): N = 3
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
t_kill=$(date +%s.%N)
sleep 8
start_redis "$RP"
t_back=$(date +%s.%N)
wait "$all"
eq "killed: all delivered" "$(state_of k1) $(state_of k2) $(state_of k3)" \
	"delivered=85 delivered=85 delivered=85"
for k in k1 k2 k3; do
	contains "killed: $k says it falls back" "$(cat $k.err)" "throttles fall back to a local share, 1/3"
	eq "killed: $k logs the fallback once" "$(grep -c 'fall back to a local share' $k.err)" 1
	eq "killed: $k shares again" "$(grep -c 'reachable: throttles shared across nodes' $k.err)" 2
done
first=$($PY3 -c 'import os,sys; d=sys.argv[1]; print(min(os.stat(os.path.join(d,f)).st_mtime for f in os.listdir(d)))' "$TMP/dump-5")
# While Redis was down (from a second after the kill to a second before the restart):
# each sender at its share, 10/3, so ~10/s together (not 30/s, and not stopped).
lo=$(awk -v a="$t_kill" -v f="$first" 'BEGIN { print a - f + 1 }')
hi=$(awk -v a="$t_back" -v f="$first" 'BEGIN { print a - f - 1 }')
read -r n r per <<<"$(rate "$TMP/dump-5" "$lo" "$hi")"
echo "killed: Redis down: $n messages at $r/s ($per)"
within "$r" 8 11 && ok "killed: ~10/s together while Redis is down" || bad "killed: down rate" "$r/s ($per)"
for k in k1 k2 k3; do
	v=$(printf '%s\n' "$per" | tr ',' '\n' | sed -n "s/^$k=//p")
	within "${v:-0}" 2.6 3.6 && ok "killed: $k near 10/3 while Redis is down" ||
		bad "killed: $k share" "${v:-0}/s ($per)"
done
# Back: the grants are Redis's again (EVALs answered by the new server), and the rate after
# the senders reconnected (backoff: 4 s at most) holds 10/s together.
[ "$(evals)" -gt 20 ] && ok "killed: shared again after the restart" || bad "killed: shared again" "$(evals) EVALs after the restart"
read -r n r per <<<"$(rate "$TMP/dump-5" "$(awk -v a="$t_back" -v f="$first" 'BEGIN { print a - f + 5 }')" "$(awk -v a="$t_back" -v f="$first" 'BEGIN { print a - f + 10 }')")"
echo "killed: Redis back: $n messages at $r/s ($per)"
within "$r" 8 11 && ok "killed: ~10/s after the restart" || bad "killed: rate after the restart" "$r/s ($per)"

# 5. A shared slow-down: aimd.test answers only s1's mail with 421 4.7.0 after 20 messages;
#    s1 halves the destination, and s2 and s3, which see no complaint, slow down too.
"$KIRIM" domain set aimd.test --rate 20/s >/dev/null
campaigns aimd.test 45 s1 s2 s3
send_all s1 s2 s3 -- --redis "$REDIS"
contains "aimd: s1 slows down on its 421" "$(cat s1.err)" "throttle dest=mx:mx.aimd.test|aimd.test change=decreased"
for k in s2 s3; do
	eq "aimd: $k had no complaint of its own" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$k' AND m.last_code = 421")" 0
	contains "aimd: $k slows down too" "$(grep 'change=decreased' $k.err)" "shared: node"
	eq "aimd: $k delivered everything" "$(state_of $k)" "delivered=45"
done

# 6. A Redis that wants a password: the right one shares, a wrong one is a fallback (logged
#    once, with Redis's answer), never a sender that waits for grants that cannot come.
AP=$(free_port)
redis-server --port "$AP" --bind 127.0.0.1 --save '' --appendonly no --requirepass s3cret \
	--dir "$TMP" >>"$TMP/server-redis.log" 2>&1 &
PIDS+=($!)
wait_port "$AP"
"$KIRIM" domain set pw.test --rate 50/s >/dev/null
campaigns pw.test 20 p1 p2
run "$KIRIM" -v send p1 --relay "smtp://127.0.1.3:$P" --tls none --redis "redis://:s3cret@127.0.0.1:$AP/2"
eq "password: delivered through the relay" "$RC $(state_of p1)" "0 delivered=20"
contains "password: shared" "$ERR" "reachable: throttles shared across nodes"
eq "password: its database" "$(redis-cli -p "$AP" -a s3cret -n 2 --no-auth-warning exists 'kirim:tat:relay|pw.test')" 1
run timeout 60 "$KIRIM" -v send p2 --relay "smtp://127.0.1.3:$P" --tls none --redis "redis://:wrong@127.0.0.1:$AP"
eq "wrong password: sent all the same" "$RC $(state_of p2)" "0 delivered=20"
contains "wrong password: falls back, saying why" "$ERR" "unreachable (WRONGPASS"
eq "wrong password: said once" "$(grep -c 'fall back to a local share' <<<"$ERR")" 1

# 7. A Redis that hangs (SIGSTOP) mid-run: no answer for 2 s counts as lost, the senders go
#    on at their share and exit when done, though it still hangs.
"$KIRIM" domain set hung.test --rate 10/s >/dev/null
campaigns hung.test 30 h1 h2 h3
for h in h1 h2 h3; do
	timeout -k 5 60 "$KIRIM" -v send "$h" --relay "smtp://127.0.1.3:$P" --tls none --redis "$REDIS" \
		>"$h.out" 2>"$h.err" &
	eval "pid_$h=\$!"
done
sleep 2
kill -STOP "$REDIS_PID"
kill -INT "$pid_h3" # stopped while Redis hangs: it still exits (not timeout's 124 or 137)
wait "$pid_h3"
rc3=$?
wait "$pid_h1"
rc1=$?
wait "$pid_h2"
rc2=$?
kill -CONT "$REDIS_PID"
eq "hung: both done while Redis hangs" "$rc1 $rc2 $(state_of h1) $(state_of h2)" "0 0 delivered=30 delivered=30"
contains "hung: the fallback says why" "$(cat h1.err)" "unreachable (no answer for 2 s)"
[ "$rc3" != 124 ] && [ "$rc3" != 137 ] && ok "hung: a sender stopped meanwhile exits" ||
	bad "hung: stopped sender" "still running after 60 s"

# 8. kirim status says whether throttles are shared, and whether Redis answers.
run "$KIRIM" status
contains "status: local without Redis" "$OUT" "Throttles: local to each sender"
KIRIM_REDIS="$REDIS" run "$KIRIM" status --json
eq "status: shared, reachable" "$(json 'j["throttles"]["mode"], j["throttles"]["reachable"]')" "shared True"
stop "$REDIS_PID"
KIRIM_REDIS="$REDIS" run "$KIRIM" status
contains "status: Redis down" "$OUT" "which does not answer"
run "$KIRIM" send r1 --redis "redis://127.0.0.1:0"
eq "bad --redis: usage error" "$RC" 64
contains "bad --redis: says why" "$ERR" "1 to 65535"

finish
