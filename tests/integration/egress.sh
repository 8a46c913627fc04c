#!/usr/bin/env bash
# egress.sh - source addresses ([egress] in kirim.conf, docs/egress.md): kirim send binds
# each connection to a source address of the pool, spread over them by weight (smooth
# weighted round-robin), says each source's EHLO name, and records the address and name in
# each attempt's event; the SMTP server (tests/integration/smtp_server.py) is the oracle:
# it writes down the address every connection came from and the EHLO name it heard.
. "$(dirname "$0")/lib.sh"

printf 'Subject: Hi {{email}}\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
many() { for i in $(seq 1 "$2"); do echo "$1$i@$3"; done; } # many PREFIX N DOMAIN
# conns DIR - the server's connections as "PEER EHLO COUNT" lines, sorted
conns() { sort "$1/connections" | uniq -c | awk '{print $2, $3, $1}'; }
# events NAME - a campaign's attempts as "SOURCE HELO COUNT" lines ('-' for NULL), sorted
events() {
	sql "SELECT coalesce(e.source, '-') || ' ' || coalesce(e.helo, '-') AS k, count(*)
	     FROM events e JOIN messages m ON m.id = e.message_id JOIN campaigns c ON c.id = m.campaign_id
	     WHERE c.name = '$1' AND e.type = 'delivered' GROUP BY k ORDER BY k" | tr '|' ' '

}
# peers DIR - each message's recipient and the address it came from, by the server's dumps
peers() {
	$PY3 - "$1" <<'PYEND'
import glob, json, sys
rows = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.json")]
for r in sorted(rows, key=lambda r: r["rcpt_tos"][0]):
    print(r["rcpt_tos"][0], r["peer"], r["ehlo"])
PYEND
}
# recorded NAME - each message's recipient and its event's source and EHLO name
recorded() {
	sql "SELECT k.email || ' ' || coalesce(e.source, '-') || ' ' || coalesce(e.helo, '-')
	     FROM events e JOIN messages m ON m.id = e.message_id JOIN campaigns c ON c.id = m.campaign_id
	     JOIN contacts k ON k.id = m.contact_id
	     WHERE c.name = '$1' AND e.type = 'delivered' ORDER BY k.email"
}

P=$(free_port)
cat >records <<EOF2
mx-host=x.test,mx.x.test,10
host-record=mx.x.test,127.0.0.1
mx-host=w.test,mx.w.test,10
host-record=mx.w.test,127.0.0.1
mx-host=p.test,mx.p.test,10
host-record=mx.p.test,127.0.0.1
mx-host=q.test,mx.q.test,10
host-record=mx.q.test,127.0.0.1
mx-host=v6.test,mx.v6.test,10
host-record=mx.v6.test,::1
EOF2
start_dnsmasq records
DNS="127.0.0.1:$DNS_PORT"
dumpdir() { rm -rf "$TMP/$1" && mkdir -p "$TMP/$1" && echo "$TMP/$1"; }
D=$(dumpdir d0)
start_server "$P" --dump "$D"
SERVER=$LAST_PID
# restart_server NAME - the server again, dumping into a fresh folder NAME (in $D)
restart_server() {
	stop "$SERVER"
	D=$(dumpdir "$1")
	start_server "$P" --dump "$D"
	SERVER=$LAST_PID
}
send() { run "$KIRIM" send "$1" --dns-server "$DNS" --mx-port "$P" --tls none --timeout 10 "${@:2}"; }

# 1. No [egress]: no binding, as before: the kernel's address (127.0.0.1 towards 127.0.0.1),
# the [sender] EHLO name, no source recorded.
printf '[sender]\nehlo = mta.kirim.test\n' >plain.conf
export KIRIM_CONFIG="$TMP/plain.conf"
campaign_to plain $(many p 3 x.test)
send plain
eq "no egress: exit" "$RC" 0
eq "no egress: the server saw the kernel's address and the [sender] name" "$(conns "$D")" \
	"127.0.0.1 mta.kirim.test 1"
eq "no egress: no source recorded, the EHLO name is" "$(events plain)" "- mta.kirim.test 3"

# 2. Two sources, weights 3 and 1, one message per connection: smooth weighted round-robin
# gives a a b a per cycle, so 8 messages make exactly 6 connections from 127.0.0.2 and 2
# from 127.0.0.3, each saying its own EHLO name.
cat >egress.conf <<'EOF2'
[sender]
ehlo = mta.kirim.test

[egress]
name = mta2
address = 127.0.0.2
ehlo = mta2.kirim.test
weight = 3

[egress]
name = mta3
address = 127.0.0.3
ehlo = mta3.kirim.test

[egress]
name = alt
address = 127.0.0.4
pool = alt
EOF2
export KIRIM_CONFIG="$TMP/egress.conf"
restart_server d1
campaign_to spread $(many s 8 x.test)
send spread --msgs-per-conn 1 --verbose
eq "weights: exit" "$RC" 0
eq "weights: connections 3:1 by source, each with its source's EHLO name" "$(conns "$D")" \
	"127.0.0.2 mta2.kirim.test 6
127.0.0.3 mta3.kirim.test 2"
eq "weights: the events record each attempt's source and EHLO name" "$(events spread)" \
	"127.0.0.2 mta2.kirim.test 6
127.0.0.3 mta3.kirim.test 2"
eq "weights: each message's event names the address the server saw it come from" \
	"$(recorded spread)" "$(peers "$D")"
contains "weights: the log says which sources it uses" "$ERR" "egress source=mta2 address=127.0.0.2 ehlo=mta2.kirim.test weight=3 pool=default"

# kirim log: the source and EHLO name are the last two columns.
run "$KIRIM" log spread
eq "log: header" "$(printf '%s\n' "$OUT" | head -1 | tr -d '\r')" \
	"time,recipient,destination,mx_host,outcome,code,enhanced_code,reply,tls,attempt,source,ehlo"
eq "log: every row ends with its source and EHLO name" \
	"$(printf '%s\n' "$OUT" | tail -n +2 | tr -d '\r' | awk -F, '{print $(NF-1), $NF}' | sort | uniq -c | awk '{print $2, $3, $1}')" \
	"127.0.0.2 mta2.kirim.test 6
127.0.0.3 mta3.kirim.test 2"

# 3. Many messages per connection: the messages still split 3:1 (a a b a), each source on
# connections of its own.
restart_server d2
campaign_to bulk $(many b 40 x.test)
send bulk
eq "bulk: exit" "$RC" 0
eq "bulk: messages 30:10 by source" "$(events bulk)" "127.0.0.2 mta2.kirim.test 30
127.0.0.3 mta3.kirim.test 10"
eq "bulk: the server saw the same" "$(recorded bulk)" "$(peers "$D")"
eq "bulk: no connection from another address" "$(cut -d' ' -f1 "$D/connections" | sort -u | tr '\n' ' ')" \
	"127.0.0.2 127.0.0.3 "

# 4. Warm-up caps count per source address: a cap of 4 a day lets 4 go from each source
# (8 in all, not 4), the sources taking turns by weight until each is full; the rest waits.
one_utc_day 180
"$KIRIM" domain set w.test --warmup 4 >/dev/null
restart_server d3
campaign_to warm $(many w 10 w.test)
send warm --msgs-per-conn 1
eq "warm-up: exit" "$RC" 0
eq "warm-up: 4 from each source" "$(events warm)" "127.0.0.2 mta2.kirim.test 4
127.0.0.3 mta3.kirim.test 4"
eq "warm-up: the rest waits for tomorrow" \
	"$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'warm' AND m.state = 'queued' AND m.next_attempt_at >= (strftime('%s','now') / 86400 + 1) * 86400")" 2
# A second run the same day: today's counts come from the database, per source.
send warm --msgs-per-conn 1
eq "warm-up: a second run sends nothing more today" "$(events warm)" "127.0.0.2 mta2.kirim.test 4
127.0.0.3 mta3.kirim.test 4"

# 5. --egress POOL: another pool; its source has no EHLO name of its own ([sender]'s).
restart_server d4
campaign_to other $(many o 3 x.test)
send other --egress alt
eq "pool alt: exit" "$RC" 0
eq "pool alt: from its one source" "$(conns "$D")" "127.0.0.4 mta.kirim.test 1"
eq "pool alt: recorded" "$(events other)" "127.0.0.4 mta.kirim.test 3"
send other --egress nosuch
eq "unknown pool: exit" "$RC" 78
contains "unknown pool: why" "$ERR" "no [egress] section in $TMP/egress.conf is in pool nosuch"

# 6. A domain policy chooses the pool of its destinations: p.test from pool alt while x.test
# goes from the run's pool in the same run; a pool kirim.conf lacks defers with the reason.
run "$KIRIM" domain set p.test --egress alt --json
eq "policy: set" "$RC" 0
eq "policy: stored" "$(json 'j["egress"]')" alt
run "$KIRIM" domain show p.test --json
eq "policy: show says where it came from" "$(json 'j["egress"], j["from"]["egress"]')" "alt p.test"
run "$KIRIM" domain set q.test --egress 'no pool!'
eq "policy: a bad name: exit" "$RC" 64
contains "policy: a bad name: why" "$ERR" "--egress takes the name of an [egress] pool of kirim.conf"
"$KIRIM" domain set q.test --egress nosuch >/dev/null
restart_server d5
campaign_to mixed $(many m 2 p.test) $(many n 4 x.test) q1@q.test
send mixed --retry-first 1h
eq "policy: p.test from alt, x.test from the run's pool" \
	"$(sql "SELECT substr(k.email, instr(k.email, '@') + 1) || ' ' || e.source FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts k ON k.id = m.contact_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'mixed' AND e.type = 'delivered' GROUP BY 1 ORDER BY 1")" \
	"p.test 127.0.0.4
x.test 127.0.0.2
x.test 127.0.0.3"
eq "policy: the server saw the same" "$(recorded mixed)" "$(peers "$D")"
eq "policy: an unknown pool defers" "$(sql "SELECT m.state FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.email = 'q1@q.test'")" queued
contains "policy: an unknown pool: why" \
	"$(sql "SELECT m.last_text FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.email = 'q1@q.test'")" \
	"the domain policy names egress pool nosuch, and no [egress] section of kirim.conf is in it"
"$KIRIM" domain unset q.test >/dev/null

# 6b. campaign plan counts every source, as the send does: w.test (warm-up 4 a day and 2/s
# per source) goes from the run's two sources, p.test (pool alt) from one.
"$KIRIM" domain set w.test --rate 2/s >/dev/null
campaign_to planned $(many pw 6 w.test) $(many pp 2 p.test)
run "$KIRIM" campaign plan planned --dns-server "$DNS" --direct --json
eq "plan: exit" "$RC" 0
eq "plan: sources, rate and today's warm-up cap per destination" \
	"$(json '" ".join("%s:%d:%g:%d" % (d["first_domain"], d["sources"], d["rate"], d["warmup_cap_today"]) for d in sorted(j["destinations"], key=lambda d: d["first_domain"]))')" \
	"p.test:1:160:-1 w.test:2:4:8"
run "$KIRIM" campaign plan planned --dns-server "$DNS" --direct --egress alt --json
eq "plan --egress alt: w.test from its one source" \
	"$(json '" ".join("%s:%d:%g" % (d["first_domain"], d["sources"], d["rate"]) for d in sorted(j["destinations"], key=lambda d: d["first_domain"]))')" \
	"p.test:1:160 w.test:1:2"
run "$KIRIM" campaign plan planned --dns-server "$DNS" --direct
contains "plan: the text says so" "$OUT" "2 sources, 8 conn, 2/s"
run "$KIRIM" campaign plan planned --dns-server "$DNS" --direct --egress nosuch
eq "plan: unknown pool" "$RC" 78
"$KIRIM" domain unset w.test >/dev/null

# 7. IPv6: a source ::1 towards an MX host on ::1; an IPv4 source cannot reach it and says so.
if $PY3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	D6=$(dumpdir d6)
	start_server_at ::1 "$P" --dump "$D6"
	printf '[sender]\nehlo = mta.kirim.test\n[egress]\nname = six\naddress = [::1]\nehlo = six.kirim.test\n' >v6.conf
	KIRIM_CONFIG="$TMP/v6.conf" campaign_to six a@v6.test
	KIRIM_CONFIG="$TMP/v6.conf" send six
	eq "ipv6: exit" "$RC" 0
	eq "ipv6: from ::1 with its EHLO name" "$(conns "$D6")" "::1 six.kirim.test 1"
	eq "ipv6: recorded" "$(events six)" "::1 six.kirim.test 1"
	campaign_to four b@v6.test
	send four --retry-first 1h
	eq "ipv4 source to an IPv6 host: deferred" "$(sql "SELECT m.state FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.email = 'b@v6.test'")" queued
	contains "ipv4 source to an IPv6 host: why" \
		"$(sql "SELECT m.last_text FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.email = 'b@v6.test'")" "cannot reach an IPv6 address"
else
	echo "no IPv6 loopback here: the IPv6 case is skipped"
fi

# 8. An address that is not this host's is refused at the start, with the reason; nothing
# is claimed or sent.
printf '[sender]\nehlo = mta.kirim.test\n[egress]\nname = far\naddress = 192.0.2.1\n' >far.conf
restart_server d7
campaign_to far f@x.test
KIRIM_CONFIG="$TMP/far.conf" send far
eq "not here: exit" "$RC" 78
contains "not here: why" "$ERR" "[egress] far: source address 192.0.2.1 cannot be bound (it is not an address of this host)"
eq "not here: nothing sent or claimed" "$(ls "$D" | grep -c json) $(sql "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts k ON k.id = m.contact_id WHERE k.email = 'f@x.test'")" "0 0"

# 9. Bad [egress] sections are refused when kirim.conf is read, with the line.
bad_conf() { # bad_conf LABEL WANT TEXT
	printf '%b' "$3" >bad.conf
	run env KIRIM_CONFIG="$TMP/bad.conf" "$KIRIM" send far
	eq "config $1: exit" "$RC" 78
	contains "config $1: why" "$ERR" "$2"
}
bad_conf "host name" "bad.conf:3: address 'mx.example.com' is not an IPv4 or IPv6 address" \
	'[egress]\nname = a\naddress = mx.example.com\n'
bad_conf "no address" "bad.conf:1: [egress] section has no address" '[egress]\nname = a\n'
bad_conf "no name" "bad.conf:1: [egress] section has no name" '[egress]\naddress = 127.0.0.2\n'
bad_conf "same name" "second [egress] section named a" \
	'[egress]\nname = a\naddress = 127.0.0.2\n[egress]\nname = a\naddress = 127.0.0.3\n'
bad_conf "same address" "[egress] a and b have the same address ::1" \
	'[egress]\nname = a\naddress = ::1\n[egress]\nname = b\naddress = 0:0::1\n'
bad_conf "weight 0" "weight" '[egress]\nname = a\naddress = 127.0.0.2\nweight = 0\n'
bad_conf "wildcard" "is the wildcard address" '[egress]\nname = a\naddress = 0.0.0.0\n'

finish
