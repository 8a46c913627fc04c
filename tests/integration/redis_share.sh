#!/usr/bin/env bash
# redis_share.sh - what senders share through Redis beyond rates, caps and AIMD levels
# (docs/scale-out.md, #24): three `kirim send` processes on one database and one Redis.
# A warm-up cap of 30 holds for the three together (each alone counted from the
# database at its start, and passed it together); a fresh Redis starts the day's count
# from the database's; without Redis each takes its share, cap / N. One sender's
# suspension of a destination suspends it for the others too, until the same end. The
# global rate (`kirim domain set global`) holds for two senders together. With two
# source addresses the cap holds per source.
. "$(dirname "$0")/lib.sh"

redis_test "redis_share.sh"

P=$(free_port)
cat >records <<EOF2
mx-host=warm.test,mx.warm.test,10
host-record=mx.warm.test,127.0.2.2
mx-host=away.test,mx.away.test,10
host-record=mx.away.test,127.0.2.3
mx-host=susp.test,mx.susp.test,10
host-record=mx.susp.test,127.0.2.4
mx-host=glob.test,mx.glob.test,10
host-record=mx.glob.test,127.0.2.5
mx-host=src.test,mx.src.test,10
host-record=mx.src.test,127.0.2.6
EOF2
start_dnsmasq records
for a in 2 3 5 6; do start_sink_at "127.0.2.$a" "$P" -d "$(sink_dir "$a")"; done
# susp.test answers mail from news-u1@ with 421 4.7.0 after 10 messages, for 30 s: u1
# halves the destination twice and then suspends it (three complaints, 5 s apart).
start_server_at 127.0.2.4 "$P" --pipelining --throttle-after 10 --throttle-for 30 \
	--slowdown-from news-u1@kirim.test

at_sink() { find "$TMP/dump-$1" -type f | wc -l; }
delivered() { sql "SELECT count(*) FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.domain = '$1' AND m.state = 'delivered'"; }
one_utc_day 240
DAY=$(($(date -u +%s) / 86400))

# 1. A warm-up cap of 30 for the three senders together: 60 messages, 30 arrive, 30 wait
#    for tomorrow. Each sender alone read today's count (0) from the database at its
#    start and would take 30 of its own. The 20/s rate keeps the three sending at once.
"$KIRIM" domain set warm.test --warmup 30,60 --rate 20/s >/dev/null
campaigns warm.test 20 w1 w2 w3
send_all w1 w2 w3 -- --redis "$REDIS"
eq "warm-up: exactly the cap arrives for the three together" "$(at_sink 2)" 30
eq "warm-up: and is recorded delivered" "$(delivered warm.test)" 30
eq "warm-up: the rest waits for tomorrow" \
	"$(sql "SELECT count(*) FROM messages WHERE state = 'queued' AND attempts = 0 AND next_attempt_at >= ($DAY + 1) * 86400")" 30
KEY="kirim:warmup:$DAY:mx:mx.warm.test|warm.test"
eq "warm-up: the day's count in Redis" "$(rcli get "$KEY")" 30
ttl=$(rcli pttl "$KEY")
[ "$ttl" -gt $((86400 * 1000)) ] && [ "$ttl" -le $((2 * 86400 * 1000)) ] &&
	ok "warm-up: the count expires after two days" || bad "warm-up: its expiry" "pttl $ttl"
contains "warm-up: the cap is said to be the cluster's" "$(cat w1.err w2.err w3.err)" \
	"warmup_cap=30 reached across nodes"

# 2. A fresh Redis (flushed) starts the day's count from the database's, not from 0.
rcli flushall >/dev/null
campaigns warm.test 5 w4
send_all w4 -- --redis "$REDIS"
eq "fresh Redis: nothing over the cap" "$(at_sink 2) $(state_of w4)" "30 queued=5"
eq "fresh Redis: seeded from the database" "$(rcli get "$KEY")" 30

# 3. Redis unreachable: each sender takes its local share, the cap / N ([redis] nodes = 2
#    here): 5 of away.test's 10, logged as the rates' fallback is.
CLOSED=$(free_port)
printf '[sender]\nehlo = mta.kirim.test\n[redis]\nnodes = 2\n' >away.conf
"$KIRIM" domain set away.test --warmup 10,20 >/dev/null
campaigns away.test 10 a1
KIRIM_CONFIG="$TMP/away.conf" send_all a1 -- --redis "redis://127.0.0.1:$CLOSED"
eq "unreachable: the local share of the cap (10 / 2)" "$(at_sink 3) $(delivered away.test)" "5 5"
contains "unreachable: the fallback is logged" "$(cat a1.err)" "fall back to a local share, 1/2"

# 4. Two source addresses ([egress], docs/egress.md): the cap holds per source across the
#    senders, 5 from each of 127.0.0.2 and 127.0.0.3 for the two together (each alone
#    would take 5 from each), each source's count a key of its own.
printf '[sender]\nehlo = mta.kirim.test\n' >src.conf
for a in 2 3; do printf '[egress]\nname = s%s\naddress = 127.0.0.%s\n' "$a" "$a" >>src.conf; done
"$KIRIM" domain set src.test --warmup 5,10 --rate 20/s >/dev/null
campaigns src.test 10 e1 e2
KIRIM_CONFIG="$TMP/src.conf" send_all e1 e2 -- --redis "$REDIS"
eq "sources: the cap from each source for the two together" \
	"$(sql "SELECT group_concat(s || '=' || n, ' ') FROM (SELECT e.source AS s, count(*) AS n FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts k ON k.id = m.contact_id WHERE k.domain = 'src.test' AND e.type = 'delivered' GROUP BY e.source ORDER BY e.source)")" \
	"127.0.0.2=5 127.0.0.3=5"
eq "sources: at the sink" "$(at_sink 6)" 10
eq "sources: a count per source in Redis" \
	"$(rcli get "kirim:warmup:$DAY:mx:mx.src.test|src.test|127.0.0.2") $(rcli get "kirim:warmup:$DAY:mx:mx.src.test|src.test|127.0.0.3")" "5 5"

# 5. A suspension shared: susp.test answers only u1's mail with 421 4.7.0 after 10
#    messages; u1 suspends the destination after three complaints, and u2 and u3, which
#    see none, are suspended too, until the same end (60 s on).
"$KIRIM" domain set susp.test --rate 10/s >/dev/null
campaigns susp.test 60 u1 u2 u3
send_all u1 u2 u3 -- --redis "$REDIS"
contains "suspension: u1 suspends on its complaints" "$(cat u1.err)" "throttle dest=mx:mx.susp.test|susp.test change=suspended"
now=$(date -u +%s)
for k in u2 u3; do
	eq "suspension: $k had no complaint of its own" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$k' AND m.last_code = 421")" 0
	contains "suspension: $k is suspended too" "$(grep 'change=suspended' $k.err)" "shared: node"
	left=$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$k' AND m.state = 'queued' AND m.next_attempt_at > $now + 15")
	[ "$left" -gt 0 ] && ok "suspension: $k holds its messages until the end ($left)" ||
		bad "suspension: $k held back" "$(state_of $k)"
done

# 6. The global rate, 10/s, holds for two senders together: never more than 10 a second
#    (plus the one a bucket may hold) in any 2 s at the sink; each alone took 10/s.
"$KIRIM" domain set global --rate 10/s >/dev/null
campaigns glob.test 40 g1 g2
send_all g1 g2 -- --redis "$REDIS"
eq "global: all delivered" "$(state_of g1) $(state_of g2)" "delivered=40 delivered=40"
most=$($PY3 - "$TMP/dump-5" <<'PYEND'
import os, sys
d = sys.argv[1]
t = sorted(os.stat(os.path.join(d, f)).st_mtime for f in os.listdir(d))
j = 0
most = 0
for i in range(len(t)):
    while t[i] - t[j] >= 2.0:
        j += 1
    most = max(most, i - j + 1)
print(most)
PYEND
)
echo "global: at most $most messages in any 2 s for two senders (load $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$most" -le 24 ] && ok "global: 10/s for the two together" || bad "global: 10/s shared" "$most in 2 s"
eq "global: one key for the cluster" "$(rcli exists kirim:tat:global)" 1
"$KIRIM" domain unset global >/dev/null

finish
