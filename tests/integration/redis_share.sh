#!/usr/bin/env bash
# redis_share.sh - what senders share through Redis beyond rates, caps and AIMD levels
# (docs/scale-out.md, #24): `kirim send` processes on one database and one Redis. One
# sender's suspension of a destination suspends it for the others too, until the same
# end. The global rate (`kirim domain set global`) holds for two senders together.
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "SKIP redis_share.sh needs Debian's redis-server (tools/test installs it)"
	exit 77
fi

printf '[sender]\nehlo = mta.kirim.test\n' >direct.conf
export KIRIM_CONFIG="$TMP/direct.conf"
printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null

# start_redis PORT - redis-server on 127.0.0.1:PORT, nothing saved; PID in $REDIS_PID
start_redis() {
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
		>>"$TMP/server-redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$1"
}
# campaigns DOMAIN N NAME... - campaign NAME (from news-NAME@kirim.test, template t) of N
# to DOMAIN each
campaigns() {
	local dom=$1 n=$2 name
	shift 2
	for name in "$@"; do
		printf 'email\n' >"$name.csv"
		for i in $(seq 1 "$n"); do echo "$name-$i@$dom"; done >>"$name.csv"
		"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
		"$KIRIM" campaign create "$name" --list "$name" --template t \
			--from "News <news-$name@kirim.test>" >/dev/null
	done
}
# send_all NAME... [-- OPTIONS] - one `kirim send` per campaign, all at once, direct (MX
# hosts from the dnsmasq on $DNS_PORT, port $P), each given 120 s; each one's stderr in
# NAME.err, its JSON in NAME.out; returns when all are done
send_all() {
	local names=() opts=() pids=() n
	while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1") && shift; done
	[ $# -gt 0 ] && shift && opts=("$@")
	for n in "${names[@]}"; do
		timeout -k 5 120 "$KIRIM" -v send "$n" --dns-server "127.0.0.1:$DNS_PORT" \
			--mx-port "$P" --timeout 5 --json "${opts[@]}" >"$n.out" 2>"$n.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
RP=$(free_port)
start_redis "$RP"
REDIS="redis://127.0.0.1:$RP"
rcli() { redis-cli -p "$RP" "$@"; }

P=$(free_port)
cat >records <<EOF2
mx-host=susp.test,mx.susp.test,10
host-record=mx.susp.test,127.0.2.4
mx-host=glob.test,mx.glob.test,10
host-record=mx.glob.test,127.0.2.5
EOF2
start_dnsmasq records
for a in 5; do start_sink_at "127.0.2.$a" "$P" -d "$(sink_dir "$a")"; done
# susp.test answers mail from news-u1@ with 421 4.7.0 after 10 messages, for 30 s: u1
# halves the destination twice and then suspends it (three complaints, 5 s apart).
start_server_at 127.0.2.4 "$P" --pipelining --throttle-after 10 --throttle-for 30 \
	--slowdown-from news-u1@kirim.test


# 1. A suspension shared: susp.test answers only u1's mail with 421 4.7.0 after 10
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

# 2. The global rate, 10/s, holds for two senders together: never more than 10 a second
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
