#!/usr/bin/env bash
# throttle.sh - per-destination limits from `kirim domain` policies on a real direct send:
# message rate (measured at the receiving smtp-sink), connection cap, destinations split by
# a domain's own policy, adaptive backoff against an aiosmtpd server that starts answering
# "451 4.7.0 rate limited" mid-send while another destination keeps its pace, a policy
# change picked up by a running sender, and a warm-up cap across runs and days (faketime).
. "$(dirname "$0")/lib.sh"

printf '[sender]\nehlo = mta.kirim.test\n' >direct.conf
export KIRIM_CONFIG="$TMP/direct.conf"
printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
campaign() { # campaign NAME DOMAIN N [DOMAIN N ...]
	local name=$1
	shift
	printf 'email\n' >"$name.csv"
	while [ $# -gt 0 ]; do
		for i in $(seq 1 "$2"); do echo "u$i@$1"; done >>"$name.csv"
		shift 2
	done
	"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
	"$KIRIM" campaign create "$name" --list "$name" --template t --from "News <news@kirim.test>" >/dev/null
}
state_of() { sql "SELECT group_concat(state || '=' || n, ' ') FROM (SELECT m.state AS state, count(*) n FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN contacts k ON k.id = m.contact_id WHERE c.name = '$1' ${2:+AND k.domain = '$2'} GROUP BY m.state ORDER BY m.state)"; }

P=$(free_port)
cat >records <<EOF2
mx-host=rate.test,mx.rate.test,10
host-record=mx.rate.test,127.0.1.2
mx-host=conns.test,mx.conns.test,10
host-record=mx.conns.test,127.0.1.3
mx-host=a.split.test,mx.split.test,10
mx-host=b.split.test,mx.split.test,10
mx-host=c.split.test,mx.split.test,10
host-record=mx.split.test,127.0.1.4
mx-host=slow.test,mx.slow.test,10
host-record=mx.slow.test,127.0.1.5
mx-host=fast.test,mx.fast.test,10
host-record=mx.fast.test,127.0.1.6
mx-host=live.test,mx.live.test,10
host-record=mx.live.test,127.0.1.7
mx-host=warm.test,mx.warm.test,10
host-record=mx.warm.test,127.0.1.8
mx-host=hold.test,mx.hold.test,10
host-record=mx.hold.test,127.0.1.9
mx-host=wait.test,mx.wait.test,10
host-record=mx.wait.test,127.0.1.10
EOF2
start_dnsmasq records
for a in 2 3 4 6 7 8 10; do start_sink_at "127.0.1.$a" "$P" -d "$(sink_dir "$a")"; done
# hold.test answers DATA after a second: its sessions stay busy.
start_sink_at 127.0.1.9 "$P" -w 1 -d "$(sink_dir 9)"
start_server_at 127.0.1.5 "$P" --pipelining --throttle-after 30 --throttle-for 3
slow_server=$LAST_PID
send() { run "$KIRIM" -v send "$1" --dns-server "127.0.0.1:$DNS_PORT" --mx-port "$P" --timeout 5 --json "${@:2}"; }

# 1. A rate of 10/s, measured at the sink: smooth (no burst past one second's worth) and
#    within 5% of 10/s. 250 messages: about 25 s.
"$KIRIM" domain set rate.test --rate 10/s >/dev/null
campaign rate rate.test 250
send rate --concurrency 8 --dest-concurrency 8
eq "rate: all delivered" "$(state_of rate)" "delivered=250"
$PY3 - "$TMP/dump-2" >rate.out <<'PYEND'
import os, sys
d = sys.argv[1]
t = sorted(os.stat(os.path.join(d, f)).st_mtime for f in os.listdir(d))
rate = (len(t) - 1) / (t[-1] - t[0])
# the most messages that arrived within any one second
j, most = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1.0:
        j += 1
    most = max(most, i - j + 1)
print("%d %.2f %d" % (len(t), rate, most))
PYEND
read -r n rate most <rate.out
echo "rate: $n messages at $rate/s, at most $most in one second"
awk -v r="$rate" 'BEGIN { exit !(r >= 9.5 && r <= 10.5) }' && ok "rate within 5% of 10/s" || bad "rate within 5% of 10/s" "measured $rate/s"
# The pool lets at most 10 + 1 through in any second; the sink's file times add jitter
# under load (one more), so the check allows 12.
[ "$most" -le 12 ] && ok "no burst past the bucket (10 + the first token)" || bad "no burst" "$most in one second"

# 2. A connection cap of 1 from the policy, whatever --dest-concurrency says.
"$KIRIM" domain set conns.test --max-connections 1 >/dev/null
campaign conns conns.test 60
send conns --dest-concurrency 8 --msgs-per-conn 1000
eq "connection cap: all delivered over one connection" "$(state_of conns) $(json 'j["connections"]')" "delivered=60 1"

# 3. Domains on one MX host set share a destination, unless a domain has its own policy.
"$KIRIM" domain set c.split.test --max-connections 2 >/dev/null
campaign split a.split.test 5 b.split.test 5 c.split.test 5
send split
eq "split: all delivered" "$(state_of split)" "delivered=15"
eq "split: two destinations" "$(sql "SELECT group_concat(d, ' ') FROM (SELECT DISTINCT dest AS d FROM messages WHERE dest LIKE 'mx:mx.split.test%' ORDER BY 1)")" "mx:mx.split.test mx:mx.split.test|c.split.test"

# 4. Adaptive backoff: slow.test starts answering 451 4.7.0 after 30 messages, for 3 s;
#    kirim halves that destination (and logs it), fast.test keeps going; the deferred ones
#    go out at their retry time.
campaign adapt slow.test 200 fast.test 200
send adapt --concurrency 16 --dest-concurrency 8
eq "backoff: the other destination unaffected" "$(state_of adapt fast.test)" "delivered=200"
contains "backoff: the change is logged" "$ERR" "throttle dest=mx:mx.slow.test change=decreased"
deferred=$(sql "SELECT count(*) FROM messages m JOIN contacts k ON k.id=m.contact_id WHERE k.domain='slow.test' AND m.state='queued' AND m.last_ecode='4.7.0'")
[ "$deferred" -gt 0 ] && ok "backoff: the rate-limited ones are deferred ($deferred)" || bad "backoff: deferred" "$(state_of adapt slow.test)"
eq "backoff: the destination's state is saved" "$(sql "SELECT slowdowns > 0, change IN ('decreased', 'suspended', 'increased') FROM destinations WHERE name = 'mx:mx.slow.test'")" "1|1"
run "$KIRIM" domain show slow.test
contains "backoff: domain show says what happened" "$OUT" "Rate limited"
run "$KIRIM" report adapt --json
eq "backoff: the report lists the backed-off destination" "$(json '[d["destination"] for d in j["throttled_destinations"]]')" "['mx:mx.slow.test']"
sleep 3 # the server's "rate limited" spell is over
run at "+6m" "$KIRIM" send adapt --dns-server "127.0.0.1:$DNS_PORT" --mx-port "$P" --timeout 5 --json
eq "backoff: recovered at the retry" "$(state_of adapt slow.test)" "delivered=200"

# 5. A running sender picks up a changed policy within seconds: 2/s would take 30 s for
#    60 messages; the change to unlimited lets the rest go at once.
"$KIRIM" domain set live.test --rate 2/s >/dev/null
campaign live live.test 60
"$KIRIM" -v send live --dns-server "127.0.0.1:$DNS_PORT" --mx-port "$P" --json >live.out 2>live.err &
live=$!
sleep 3
"$KIRIM" domain set live.test --rate none >/dev/null
wait "$live"
eq "live change: all delivered" "$(state_of live)" "delivered=60"
contains "live change: applied while sending" "$(cat live.err)" "domain policies changed"
secs=$($PY3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"] < 20)' live.out)
eq "live change: done well before 30 s" "$secs" True

# 6. Warm-up: day 1 takes 10 for the destination, the rest waits for tomorrow (no attempt
#    counted, not failed), a second run the same day sends nothing, the next day 20 more.
one_utc_day 120
"$KIRIM" domain set warm.test --warmup 10,20,40 >/dev/null
campaign warm warm.test 50
send warm
eq "warm-up day 1: 10 sent" "$(json 'j["attempted"]') $(state_of warm)" "10 delivered=10 queued=40"
eq "warm-up: the rest waits for tomorrow, no attempt counted" "$(sql "SELECT count(*), max(attempts), min(next_attempt_at) = (strftime('%s','now') / 86400 + 1) * 86400 FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='warm' AND m.state='queued'")" "40|0|1"
send warm
eq "warm-up: nothing more the same day" "$(json 'j["attempted"]')" 0
run at "+1d" "$KIRIM" send warm --dns-server "127.0.0.1:$DNS_PORT" --mx-port "$P" --json
eq "warm-up day 2: 20 more" "$(json 'j["attempted"]') $(state_of warm)" "20 delivered=30 queued=20"

# arrivals DIR [RCPT-DOMAIN] [NEWER-THAN-FILE] - "N RATE MOST": messages a sink dumped (to
# RCPT-DOMAIN; newer than the file), their rate, and the most that arrived within any one
# second (from the dump files' times)
arrivals() {
	$PY3 - "$@" <<'PYEND'
import os, sys
d = sys.argv[1]
dom = sys.argv[2] if len(sys.argv) > 2 else ""
since = os.stat(sys.argv[3]).st_mtime if len(sys.argv) > 3 else 0
t = []
for f in os.listdir(d):
    p = os.path.join(d, f)
    st = os.stat(p).st_mtime
    if st <= since:
        continue
    if dom and ("@" + dom + ">") not in open(p, errors="replace").read(4096):
        continue
    t.append(st)
t.sort()
rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0
j, most = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1.0:
        j += 1
    most = max(most, i - j + 1)
print("%d %.2f %d %.3f %.3f" % (len(t), rate, most, t[0] if t else 0, t[-1] if t else 0))
PYEND
}

# 7. Through a relay, a domain's policy applies too: its own queue on the relay's
#    connections, at its rate (measured at the relay), while other domains go at once.
"$KIRIM" domain set relayrate.test --rate 20/s >/dev/null
printf 'email\n' >relay.csv
for i in $(seq 1 60); do echo "r$i@relayrate.test"; echo "o$i@other.test"; done >>relay.csv
"$KIRIM" import relay.csv --list relay -q >/dev/null
"$KIRIM" campaign create relay --list relay --template t --from "News <news@kirim.test>" >/dev/null
rp=$(free_port)
start_sink "$rp" -d "$(sink_dir relay)"
run "$KIRIM" send relay --relay "smtp://127.0.0.1:$rp" --tls none --timeout 5 --json
stop "$LAST_PID"
eq "relay policy: all delivered" "$(state_of relay)" "delivered=120"
read -r n rate most first last < <(arrivals "$TMP/dump-relay" relayrate.test)
read -r on orate omost ofirst olast < <(arrivals "$TMP/dump-relay" other.test)
echo "relay: relayrate.test $n at $rate/s (at most $most in one second); other.test $on in $(awk -v a="$ofirst" -v b="$olast" 'BEGIN { printf "%.2f", b - a }') s"
awk -v r="$rate" 'BEGIN { exit !(r >= 18 && r <= 21) }' && ok "relay policy: about 20/s" || bad "relay policy: about 20/s" "measured $rate/s"
[ "$most" -le 22 ] && ok "relay policy: no burst (21, plus the sink's jitter)" || bad "relay policy: no burst" "$most in one second"
awk -v a="$olast" -v b="$last" 'BEGIN { exit !(a < b) }' && ok "relay policy: the other domain did not wait for it" ||
	bad "relay policy: the other domain did not wait for it" "other.test ended at $olast, relayrate.test at $last"

# 8. Fairness: both connections busy with a slow server's queue (hold.test: a second per
#    message, 16 messages on 2 connections), a 10/s domain with 20 waiting gets a
#    connection while the other is still sending (a busy session gives its slot up after
#    its message), and sends at its rate with no burst from the wait.
"$KIRIM" domain set wait.test --rate 10/s >/dev/null
campaign fair hold.test 16 wait.test 20
send fair --concurrency 2 --dest-concurrency 2
eq "fairness: all delivered" "$(state_of fair)" "delivered=36"
read -r n rate most first last < <(arrivals "$TMP/dump-10" wait.test)
read -r hn hrate hmost hfirst hlast < <(arrivals "$TMP/dump-9" hold.test)
echo "fairness: wait.test $n, first at +$(awk -v a="$hfirst" -v b="$first" 'BEGIN { printf "%.2f", b - a }') s, at most $most in one second; hold.test $hn over $(awk -v a="$hfirst" -v b="$hlast" 'BEGIN { printf "%.2f", b - a }') s"
awk -v a="$first" -v b="$hlast" 'BEGIN { exit !(a < b) }' && ok "fairness: the waiting domain started while the other was sending" ||
	bad "fairness: the waiting domain started while the other was sending" "first wait.test at $first, last hold.test at $hlast"
[ "$most" -le 12 ] && ok "fairness: no burst after the wait (11, plus the sink's jitter)" || bad "fairness: no burst after the wait" "$most in one second"

stop "$slow_server"
finish
