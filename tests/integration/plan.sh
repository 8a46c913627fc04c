#!/usr/bin/env bash
# plan.sh - `kirim campaign plan`: messages per domain, MX looked up once per domain through a
# real dnsmasq, domains grouped into destinations exactly as `kirim send` groups them (checked
# against the destinations a real send to smtp-sink records), ETAs from policy rates and
# warm-up caps, dead domains (NXDOMAIN, null MX, no MX and no address) flagged and, with
# --suppress-dead, suppressed both before the first send and for already queued messages.
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
		for i in $(seq 1 "$2"); do echo "$name$i@$1"; done >>"$name.csv"
		shift 2
	done
	"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
	"$KIRIM" campaign create "$name" --list "$name" --template t --from "News <news@kirim.test>" >/dev/null
}

cat >records <<EOF2
mx-host=a.shared.test,mx1.shared.test,10
mx-host=a.shared.test,mx2.shared.test,20
mx-host=b.shared.test,mx2.shared.test,20
mx-host=b.shared.test,mx1.shared.test,10
mx-host=c.shared.test,mx1.shared.test,10
mx-host=c.shared.test,mx2.shared.test,20
mx-host=own.shared.test,mx1.shared.test,10
mx-host=own.shared.test,mx2.shared.test,20
host-record=mx1.shared.test,127.0.3.1
host-record=mx2.shared.test,127.0.3.2
mx-host=warm.test,mx.warm.test,10
host-record=mx.warm.test,127.0.3.3
host-record=arec.test,127.0.3.4
mx-host=nullmx.test,.,0
txt-record=empty.test,"no mail here"
EOF2
start_dnsmasq records
DNS="127.0.0.1:$DNS_PORT"
# Plans start at 01:00 UTC today, so the arithmetic below does not depend on the hour.
NOW=$(( $(date +%s) / 86400 * 86400 + 3600 ))
plan() { run "$KIRIM" --json campaign plan "$@" --dns-server "$DNS" --dns-timeout 500 --now "$NOW"; }

"$KIRIM" domain set own.shared.test --rate 10/s >/dev/null
"$KIRIM" domain set warm.test --warmup 100,200 >/dev/null
campaign big a.shared.test 10 b.shared.test 20 c.shared.test 30 own.shared.test 600 \
	warm.test 250 arec.test 5 nullmx.test 3 nx.test 4 empty.test 2

# 1. Counts, grouping and the arithmetic (20 messages/s per connection, 8 connections).
plan big --assume-rate 20 --concurrency 8
eq "plan: exit status" "$RC" "0"
SH="mx:mx1.shared.test,mx2.shared.test"
eq "plan: counted from the audience" "$(json 'j["source"], j["messages"], j["routed"]')" "audience 924 915"
eq "plan: a, b, c share one destination" \
	"$(json '" ".join(d["destination"] or "-" for d in j["domains"] if d["domain"] in ("a.shared.test","b.shared.test","c.shared.test"))')" \
	"$SH $SH $SH"
eq "plan: a domain with its own policy gets its own destination" \
	"$(json '[d["destination"] for d in j["domains"] if d["domain"]=="own.shared.test"][0]')" \
	"$SH|own.shared.test"
eq "plan: no MX but an address: the domain itself" \
	"$(json '[d["destination"] for d in j["domains"] if d["domain"]=="arec.test"][0]')" "mx:arec.test"
dest() { json "[' '.join(str(d[k]) for k in '$2'.split()) for d in j['destinations'] if d['key']=='$1'][0]"; }
eq "plan: shared destination" "$(dest "$SH" 'domains messages connections rate bound eta_seconds')" \
	"3 60 8 160 connections 1"
eq "plan: 600 messages at the policy's 10/s take 60 s" \
	"$(dest "$SH|own.shared.test" 'messages rate bound days eta_seconds')" "600 10 rate 1 60"
# Warm-up 100 today, 200 tomorrow: 100 today, 150 after midnight at 160/s (1 s).
eq "plan: warm-up pushes the rest to day 2" \
	"$(dest "mx:mx.warm.test|warm.test" 'messages warmup_cap_today today days eta_seconds')" \
	"250 100 100 2 $((86400 - 3600 + 1))"
eq "plan: bottleneck and campaign ETA" "$(json 'j["bottleneck"], j["eta_seconds"]')" \
	"mx:mx.warm.test|warm.test $((86400 - 3600 + 1))"
eq "plan: sorted by ETA, latest first" "$(json '" ".join(d["key"] for d in j["destinations"])')" \
	"mx:mx.warm.test|warm.test $SH|own.shared.test $SH mx:arec.test"
eq "plan: dead domains" \
	"$(json '" ".join(d["domain"]+"="+d["status"] for d in j["domains"] if d["status"]!="ok")')" \
	"empty.test=nodata nullmx.test=nullmx nx.test=nxdomain"
eq "plan: dead totals" "$(json 'j["dead_domains"], j["dead_messages"], j["suppressed_domains"]')" "3 9 0"
eq "plan: nothing suppressed without --suppress-dead" "$(sql 'SELECT count(*) FROM suppressions')" "0"

# 2. The global floor: with one connection in all at 5/s, the whole send (915 messages, 183 s)
#    takes longer than any destination (own.shared.test: 600 at 5/s, 120 s).
"$KIRIM" domain unset warm.test >/dev/null
plan big --assume-rate 5 --concurrency 1
eq "plan: one connection in all: global bottleneck" "$(json 'j["bottleneck"], j["eta_seconds"]')" \
	"global 183"
eq "plan: own destination bound by its one connection" \
	"$(dest "$SH|own.shared.test" 'connections rate bound eta_seconds')" "1 5 connections 120"

# 3. Text output: the table, the bottleneck, the dead domains.
run "$KIRIM" campaign plan big --dns-server "$DNS" --now "$NOW"
contains "text: header" "$OUT" "destination"
contains "text: own destination row" "$OUT" "$SH|own.shared.test"
contains "text: bottleneck" "$OUT" "Bottleneck: $SH|own.shared.test (600 messages at 10/s, bound by rate)"
contains "text: dead domain" "$OUT" "nx.test"
contains "text: hint" "$OUT" "--suppress-dead"

# 4. --suppress-dead before the first send: suppressions, and the next plan no longer counts them.
plan big --suppress-dead
eq "suppress: reported" "$(json 'j["suppressed_domains"], j["suppressed_messages"]')" "3 0"
eq "suppress: rows" "$(sql "SELECT group_concat(kind || ' ' || value || ' ' || reason || ' ' || source, '; ') FROM (SELECT * FROM suppressions ORDER BY value)")" \
	"domain empty.test hard_bounce campaign plan: nodata; domain nullmx.test hard_bounce campaign plan: nullmx; domain nx.test hard_bounce campaign plan: nxdomain"
plan big
eq "suppress: gone from the next plan" "$(json 'j["messages"], j["dead_domains"]')" "915 0"
plan big --suppress-dead
eq "suppress: twice adds nothing" "$(json 'j["suppressed_domains"]')" "0"

# 5. After the first send started (messages exist): only queued ones count, and
#    --suppress-dead marks the dead domains' queued messages suppressed.
campaign q a.shared.test 3 gone.test 2
sql "INSERT INTO messages(campaign_id, contact_id, state, queued_at)
     SELECT l.id, m.contact_id, 'queued', 1 FROM campaigns l JOIN list_members m
     ON m.list_id = l.list_id WHERE l.name = 'q';
     UPDATE messages SET state = 'delivered' WHERE id = (SELECT min(m.id) FROM messages m
     JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'q')"
# Written by hand: the rollups counted again from the rows.
"$KIRIM" report q --rebuild -o "$TMP/.rebuilt" -q
plan q --suppress-dead
eq "queued: counted from messages" "$(json 'j["source"], j["messages"], j["dead_messages"]')" "messages 4 2"
eq "queued: dead messages marked" "$(json 'j["suppressed_messages"]')" "2"
eq "queued: states" "$(sql "SELECT group_concat(k.domain || '=' || m.state, ' ') FROM messages m JOIN contacts k ON k.id = m.contact_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'q' ORDER BY m.id")" \
	"a.shared.test=delivered a.shared.test=queued a.shared.test=queued gone.test=suppressed gone.test=suppressed"
rollups_agree "suppress-dead: rollups = recount" q

# 6. The plan's destinations are the ones a real send uses (smtp-sink on every address).
P=$(free_port)
for a in 1 2 3 4; do start_sink_at "127.0.3.$a" "$P"; done
campaign cmp a.shared.test 2 b.shared.test 2 own.shared.test 2 arec.test 2 warm.test 2
plan cmp
want=$(json '"\n".join(sorted(d["domain"]+" "+d["destination"] for d in j["domains"]))')
run "$KIRIM" send cmp --dns-server "$DNS" --mx-port "$P" --timeout 5 --json
eq "send: delivered" "$(json 'j["delivered"]')" "10"
got=$(sql "SELECT DISTINCT k.domain || ' ' || m.dest FROM messages m JOIN contacts k ON k.id = m.contact_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'cmp' ORDER BY 1")
eq "send: the same destinations as the plan" "$got" "$want"

# 6b. Through a relay (#18 item 3): no look-ups; a domain with a policy of its own gets its own
#     queue on the relay's connections, the others share the relay's; the same as a real send.
#     (warm.test's policy was unset in 2; gone.test was suppressed in 5.)
"$KIRIM" domain set b.shared.test --warmup 100,200 >/dev/null
campaign viarelay a.shared.test 2 own.shared.test 3 b.shared.test 2 warm.test 1
plan viarelay --relay "smtp://127.0.3.1:$P"
eq "relay plan: the relay" "$(json 'j["relay"]')" "127.0.3.1:$P"
eq "relay plan: queues" "$(json '" ".join(sorted("%s=%d" % (d["key"], d["messages"]) for d in j["destinations"]))')" "relay=3 relay|b.shared.test=2 relay|own.shared.test=3"
eq "relay plan: the own queues' limits" "$(json '[(d["key"], d["rate_limit"], d["warmup"], d["warmup_cap_today"], d["bound"]) for d in j["destinations"] if d["key"] != "relay"]')" \
	"[('relay|own.shared.test', 10, None, -1, 'rate'), ('relay|b.shared.test', 0, '100,200', 100, 'connections')]"
eq "relay plan: nothing looked up, nothing dead" "$(json 'j["dead_domains"], j["unresolved_domains"]')" "0 0"
want=$(json '"\n".join(sorted(d["domain"]+" "+d["destination"] for d in j["domains"]))')
run "$KIRIM" campaign plan viarelay --relay "smtp://127.0.3.1:$P" --now "$NOW"
contains "relay plan: says which limits apply on the relay" "$OUT" "Through the relay 127.0.3.1:$P: a domain with a policy of its own"
run "$KIRIM" send viarelay --relay "smtp://127.0.3.1:$P" --tls none --timeout 5 --json
eq "relay send: delivered" "$(json 'j["delivered"]')" "8"
eq "relay send: the same queues as the plan" "$(sql "SELECT DISTINCT k.domain || ' ' || m.dest FROM messages m JOIN contacts k ON k.id = m.contact_id JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = 'viarelay' ORDER BY 1")" "$want"
run "$KIRIM" campaign plan viarelay --relay "smtp://127.0.3.1:$P" --suppress-dead
eq "relay plan: --suppress-dead needs a direct plan" "$RC" "64"
"$KIRIM" domain unset b.shared.test >/dev/null

# 7. Usage errors.
run "$KIRIM" campaign plan
eq "usage: no campaign" "$RC" "64"
run "$KIRIM" campaign plan nosuch --dns-server "$DNS"
eq "usage: unknown campaign" "$RC" "78"
run "$KIRIM" campaign plan big --assume-rate fast
eq "usage: bad --assume-rate" "$RC" "64"
finish
