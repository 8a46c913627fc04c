#!/usr/bin/env bash
# mx.sh - direct delivery: `kirim send` without a relay finds each domain's MX hosts
# through a real dnsmasq (and a dnspython peer for SERVFAIL) and delivers to smtp-sink
# instances on 127.0.0.x, each dumping what it received into its own directory.
. "$(dirname "$0")/lib.sh"

printf '[sender]\nehlo = mta.kirim.test\n' >direct.conf
export KIRIM_CONFIG="$TMP/direct.conf"
printf 'Subject: Hi {{email}}\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
campaign() { campaign_to "$@"; } # campaign NAME ADDRESS...: a campaign to these recipients (lib.sh)
many() { # many PREFIX N DOMAIN: N addresses
	for i in $(seq 1 "$2"); do echo "$1$i@$3"; done
}
received() { find "dump-$1" -type f 2>/dev/null | wc -l; } # messages a sink dumped
col() { sql "SELECT DISTINCT $2 FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' ORDER BY 1"; }

# The MX port is the same for every host (--mx-port); hosts differ by address.
P=$(free_port)
cat >records <<EOF2
mx-host=pref.test,mx2.pref.test,20
mx-host=pref.test,mx1.pref.test,10
host-record=mx1.pref.test,127.0.0.2
host-record=mx2.pref.test,127.0.0.3
mx-host=down.test,mxa.down.test,10
mx-host=down.test,mxb.down.test,20
host-record=mxa.down.test,127.0.0.4
host-record=mxb.down.test,127.0.0.5
mx-host=busy.test,mxa.busy.test,10
mx-host=busy.test,mxb.busy.test,20
host-record=mxa.busy.test,127.0.0.6
host-record=mxb.busy.test,127.0.0.7
host-record=amx.test,127.0.0.8
mx-host=nullmx.test,.,0
mx-host=eq.test,mxe1.eq.test,10
mx-host=eq.test,mxe2.eq.test,10
host-record=mxe1.eq.test,127.0.0.10
host-record=mxe2.eq.test,127.0.0.11
EOF2
for i in $(seq 1 20); do echo "mx-host=s$i.test,mx.shared.test,10"; done >>records
echo "host-record=mx.shared.test,127.0.0.9" >>records
start_dnsmasq records
DNS="127.0.0.1:$DNS_PORT"
for a in 2 3 5 7 8 9 10 11; do start_sink_at "127.0.0.$a" "$P" -d "$(sink_dir "$a")"; done
start_sink_at 127.0.0.6 "$P" -Q CONNECT # 421 to every greeting
send() { run "$KIRIM" send "$1" --dns-server "$DNS" --mx-port "$P" --timeout 5 --json "${@:2}"; }

# 1. Preference order: everything goes to the lowest preference while it answers.
campaign pref $(many u 30 pref.test)
send pref
eq "preference: exit" "$RC" 0
eq "preference: all delivered" "$(state_of pref)" "delivered=30"
eq "preference: the lowest MX got them" "$(received 2) $(received 3)" "30 0"
eq "preference: host recorded" "$(col pref host)" "mx1.pref.test[127.0.0.2]"
eq "preference: destination named by the MX set" "$(col pref dest)" "mx:mx1.pref.test,mx2.pref.test"
eq "preference: opportunistic TLS by default (smtp-sink has none)" "$(col pref "coalesce(tls, '')")" ""

# 2. Failover: the first MX refuses connections (nothing listens) or answers 421.
campaign fail $(many d 10 down.test) $(many b 10 busy.test)
send fail
eq "failover: all delivered" "$(state_of fail)" "delivered=20"
eq "failover: the second MX took them" "$(received 5) $(received 7)" "10 10"
eq "failover: hosts" "$(col fail host | tr '\n' ' ')" "mxb.busy.test[127.0.0.7] mxb.down.test[127.0.0.5] "

# 3. No MX: the domain's own address (RFC 5321 5.1).
campaign amx $(many a 5 amx.test)
send amx
eq "A fallback: delivered to the domain's address" "$(state_of amx) $(received 8)" "delivered=5 5"

# 4. Null MX bounces at once, with the DNS verdict; NXDOMAIN is deferred until the domain
# still answers so an hour later (reliability.sh follows it to the bounce).
campaign dead $(many n 3 nullmx.test) $(many x 3 nx.test)
send dead
eq "null MX bounced, NXDOMAIN deferred" "$(state_of dead)" "bounced=3 queued=3"
eq "null MX: 5.1.10" "$(sql "SELECT DISTINCT last_stage, last_ecode FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='nullmx.test'")" "dns|5.1.10"
eq "NXDOMAIN: 5.1.2" "$(sql "SELECT DISTINCT last_stage, last_ecode FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='nx.test'")" "dns|5.1.2"
contains "NXDOMAIN: the reason is readable" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='nx.test' LIMIT 1")" "nx.test"

# 5. Many domains sharing one MX host set land on one destination.
campaign shared $(for i in $(seq 1 20); do many s 3 "s$i.test"; done)
send shared --dest-concurrency 2
eq "shared MX: all delivered" "$(state_of shared) $(received 9)" "delivered=60 60"
eq "shared MX: one destination" "$(json 'j["domains"], j["destinations"]')" "20 1"
eq "shared MX: its limit holds (2 connections for 20 domains)" "$(json 'j["connections"] <= 2')" True

# 6. Equal preferences: sessions spread over both hosts.
campaign eq $(many e 40 eq.test)
send eq --msgs-per-conn 5 --dest-concurrency 2
eq "equal preference: all delivered" "$(state_of eq)" "delivered=40"
[ "$(received 10)" -gt 0 ] && [ "$(received 11)" -gt 0 ] && ok "equal preference: both hosts used" ||
	bad "equal preference: both hosts used" "got $(received 10) and $(received 11)"

# 7. One look-up per domain per run, not per message: MX, then A and AAAA of its 2 hosts,
#    its _mta-sts and _smtp._tls TXT records (no policy: nothing more).
eq "DNS answers reused within a run (40 messages)" "$(json 'j["domains"], j["dns_queries"]')" "1 7"

# 8. SERVFAIL and a resolver that never answers: deferred, not bounced.
U=$(free_udp_port)
$PY3 "${KIRIM_SRC:-.}/tests/integration/dns_server.py" "$U" servfail &
PIDS+=($!)
sleep 0.5
campaign sf $(many f 3 pref.test)
run "$KIRIM" send sf --dns-server "127.0.0.1:$U" --mx-port "$P" --json
eq "SERVFAIL: deferred" "$(state_of sf) $(col sf last_ecode)" "queued=3 4.4.3"
campaign to $(many t 3 pref.test)
run "$KIRIM" send to --dns-server "127.0.0.1:$(free_udp_port)" --dns-timeout 100 --mx-port "$P" --json
eq "DNS timeout: deferred" "$(state_of to) $(col to last_ecode)" "queued=3 4.4.3"
contains "DNS timeout: says so" "$(col to last_text)" "pref.test"

# 9. Direct delivery refuses an EHLO name that is not fully qualified.
for helo in localhost mail host.local; do
	printf '[sender]\nehlo = %s\n' "$helo" >bad.conf
	run env KIRIM_CONFIG="$TMP/bad.conf" "$KIRIM" send pref --dns-server "$DNS" --mx-port "$P"
	eq "EHLO '$helo' refused" "$RC" 78
	contains "EHLO '$helo': says what is wrong" "$ERR" "ehlo '$helo'"
done
: >none.conf
run env KIRIM_CONFIG="$TMP/none.conf" "$KIRIM" send pref --dns-server "$DNS" --mx-port "$P"
eq "no EHLO name: refused" "$RC" 78

finish
