#!/usr/bin/env bash
# mtasts.sh - transport security of direct delivery (#26): MTA-STS policies (RFC 8461)
# fetched from a real HTTPS server behind a test CA, names from the project's DNS server
# (tests/integration/dns_server.py, which sets the AD bit), MX hosts on 127.0.0.x: aiosmtpd
# with STARTTLS presenting matching, non-matching, expired and self-signed certificates,
# and smtp-sink without TLS. Every delivered copy is counted where it landed.
. "$(dirname "$0")/lib.sh"

SRC="${KIRIM_SRC:-.}"
mkdir certs www
$PY3 "$SERVER_PY" --make-certs "$TMP/certs"
web_names=$(for d in enf nomatch plain bad exp self tst fail cache chg old hbig hbin hredir hhtml hslow danests danestsbad ref pln sh1 sh2 sht1 sht2; do printf 'mta-sts.%s.test,' "$d"; done)
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" web "${web_names%,}"
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" good "mx.good.test,mx.dsb.test"
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" ta "mx.ta.test"
cat certs/ta.pem certs/ca.pem >certs/ta-chain.pem
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" expired "mx.exp.test" --expired
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" self "mx.self.test" --self-signed

cat >kirim.conf <<C
[sender]
ehlo = mta.kirim.test
[tls]
ca_file = certs/ca.pem
C
export KIRIM_CONFIG="$TMP/kirim.conf"
printf 'Subject: Hi {{email}}\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
campaign() { campaign_to "$@"; } # campaign NAME ADDRESS...: a campaign to these recipients (lib.sh)
col() { sql "SELECT DISTINCT $2 FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' ORDER BY 1"; }

# DNS: every domain's MX, its _mta-sts record, its policy host (127.0.0.1, the HTTPS server)
# and its TLS-RPT record (so that its sessions are counted: a domain without one shares its
# destination, section 15).
zone() { # zone DOMAIN MXHOST [STS-ID [norpt]]
	echo "$1. 60 IN MX 10 $2."
	[ -n "${3:-}" ] && echo "_mta-sts.$1. 60 IN TXT \"v=STSv1; id=$3\""
	echo "mta-sts.$1. 60 IN A 127.0.0.1"
	[ -n "${4:-}" ] || echo "_smtp._tls.$1. 60 IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@$1\""
}
policy() { # policy DOMAIN MODE MAX_AGE MX...: the policy file the HTTPS server gives for DOMAIN
	local d=$1 mode=$2 age=$3
	shift 3
	{
		printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
		for m in "$@"; do printf 'mx: %s\r\n' "$m"; done
		printf 'max_age: %s\r\n' "$age"
	} >"www/mta-sts.$d"
}
{
	echo "mx.good.test. 60 IN A 127.0.0.2"
	echo "mx.other.test. 60 IN A 127.0.0.3"
	echo "mx.plain.test. 60 IN A 127.0.0.3"
	echo "mx.bad.test. 60 IN A 127.0.0.4"
	echo "mx.exp.test. 60 IN A 127.0.0.5"
	echo "mx.self.test. 60 IN A 127.0.0.6"
	zone enf.test mx.good.test 1
	for h in sh1 sh2; do zone "$h.test" mx.good.test 1 norpt; done
	for h in sht1 sht2; do zone "$h.test" mx.plain.test 1 norpt; done
	zone nomatch.test mx.other.test 1
	zone plain.test mx.plain.test 1
	zone bad.test mx.bad.test 1
	zone exp.test mx.exp.test 1
	zone self.test mx.self.test 1
	zone tst.test mx.plain.test 1
	zone fail.test mx.plain.test 1
	zone cache.test mx.other.test 1
	zone chg.test mx.other.test 1
	zone old.test mx.other.test 1
	zone none.test mx.plain.test
	zone ref.test mx.other.test 1
	zone pln.test mx.plain.test 1
	for h in hbig hbin hredir hhtml hslow hcert; do zone "$h.test" mx.plain.test 1; done
	# DANE: TLSA records of the MX hosts (the zone is signed: answers carry AD).
	spki() { openssl x509 -in "certs/$1.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
	full() { openssl x509 -in "certs/$1.pem" -outform DER | sha256sum | cut -c1-64; }
	tlsa() { echo "_25._tcp.$1. 60 IN TLSA $2 $3 1 $4"; }
	for h in d1 d2 db di ds dsb df du; do echo "mx.$h.test. 60 IN A 127.0.0.2"; done
	echo "mx.ta.test. 60 IN A 127.0.0.7"
	zone dane1.test mx.d1.test && tlsa mx.d1.test 3 1 "$(spki good)"
	zone dane2.test mx.d2.test && tlsa mx.d2.test 3 0 "$(full good)"
	zone dane3.test mx.ta.test && tlsa mx.ta.test 2 1 "$(spki ca)"
	zone danebad.test mx.db.test && tlsa mx.db.test 3 1 "$(spki ca)"
	zone daneinsec.test mx.di.test && tlsa mx.di.test 3 1 "$(spki ca)"
	echo ";insecure daneinsec.test."
	echo ";insecure mx.di.test."
	zone danests.test mx.ds.test 1 && tlsa mx.ds.test 3 1 "$(spki good)"
	zone danestsbad.test mx.dsb.test 1 && tlsa mx.dsb.test 3 1 "$(spki ca)"
	zone danefail.test mx.df.test
	echo ";servfail _25._tcp.mx.df.test."
	zone daneuser.test mx.du.test
} >zone.txt
policy enf.test enforce 86400 mx.good.test
policy nomatch.test enforce 86400 mx.good.test '*.good.test'
policy plain.test enforce 86400 mx.plain.test
policy bad.test enforce 86400 mx.bad.test
policy exp.test enforce 86400 mx.exp.test
policy self.test enforce 86400 mx.self.test
policy tst.test testing 86400 mx.good.test
# fail.test: its record points at a policy the server does not have (404).
policy cache.test enforce 86400 mx.good.test
policy chg.test testing 86400 mx.good.test
policy old.test enforce 3600 mx.good.test
policy ref.test enforce 3600 mx.good.test
policy pln.test enforce 86400 mx.plain.test
for h in sh1 sh2; do policy "$h.test" enforce 86400 mx.good.test; done
for h in sht1 sht2; do policy "$h.test" testing 86400 mx.good.test; done
# hcert.test: its policy host is not among the names of the HTTPS server's certificate.
for h in hbig hbin hredir hhtml hslow hcert; do policy "$h.test" enforce 86400 mx.good.test; done
policy danests.test enforce 86400 mx.good.test
policy danestsbad.test enforce 86400 mx.dsb.test
echo huge >www/mta-sts.hbig.test.how
echo binary >www/mta-sts.hbin.test.how
echo redirect >www/mta-sts.hredir.test.how
echo html >www/mta-sts.hhtml.test.how
echo slow >www/mta-sts.hslow.test.how

start_dns_zone "$TMP/zone.txt"
start_https certs/web.pem certs/web.key "$TMP/www"
P=$(free_port)
start_server_at 127.0.0.2 "$P" --pipelining --cert certs/good.pem --key certs/good.key --dump "$TMP/dump-2"
mkdir -p dump-2
start_sink_at 127.0.0.3 "$P" -d "$(sink_dir 3)" # no STARTTLS at all
start_server_at 127.0.0.4 "$P" --pipelining --cert certs/good.pem --key certs/good.key --dump "$TMP/dump-4"
start_server_at 127.0.0.5 "$P" --pipelining --cert certs/expired.pem --key certs/expired.key --dump "$TMP/dump-5"
start_server_at 127.0.0.6 "$P" --pipelining --cert certs/self.pem --key certs/self.key --dump "$TMP/dump-6"
start_server_at 127.0.0.7 "$P" --pipelining --cert certs/ta-chain.pem --key certs/ta.key --dump "$TMP/dump-7"
mkdir -p dump-4 dump-5 dump-6 dump-7
send() { run "$KIRIM" send "$1" --dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5 --json "${@:2}"; }
dumped() { ls "$TMP/dump-$1" 2>/dev/null | grep -c '\.eml$'; }            # aiosmtpd copies
sunk() { find "$TMP/dump-$1" -type f 2>/dev/null | grep -c .; }            # smtp-sink copies
fetches() { [ -f "www/mta-sts.$1.log" ] && grep -c . "www/mta-sts.$1.log" || echo 0; }

# 1. Enforce, the MX host matches and its certificate is valid for its name: delivered,
#    verified, over TLS; the policy is cached in the database.
campaign c1 a@enf.test b@enf.test
send c1
eq "enforce, matching host: delivered" "$(state_of c1)" "delivered=2"
eq "enforce, matching host: at the good MX" "$(dumped 2)" 2
contains "enforce, matching host: certificate verified" "$(col c1 tls)" "verified"
eq "enforce, matching host: over TLS" "$(cat "$TMP"/dump-2/*.json | grep -o '"tls": true' | wc -l)" 2
eq "policy cached" "$(sql "SELECT id, mode, max_age, expires_at - fetched_at FROM mta_sts_policies WHERE domain='enf.test'")" "1|enforce|86400|86400"
eq "policy text kept" "$(sql "SELECT policy FROM mta_sts_policies WHERE domain='enf.test'")" "$(printf 'version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400')"
eq "destination of its own" "$(col c1 dest)" "mx:mx.good.test|sts:enf.test"

# 2. Enforce, the only MX host is not in the policy: deferred, never sent (nothing reached
#    it, in plain text or otherwise), with the reason.
campaign c2 a@nomatch.test
send c2
eq "enforce, no matching host: deferred" "$(state_of c2)" "queued=1"
eq "enforce, no matching host: nothing sent" "$(sunk 3)" 0
eq "enforce, no matching host: 4.7.5" "$(col c2 last_ecode)" "4.7.5"
contains "enforce, no matching host: says why" "$(col c2 last_text)" "MTA-STS policy of nomatch.test (enforce, id 1) names none of its MX hosts (mx.other.test)"

# 3. Enforce, the host matches but offers no STARTTLS, presents a certificate for another
#    name, an expired one or a self-signed one: never sent (not in plain text either).
campaign c3 a@plain.test b@bad.test c@exp.test d@self.test
send c3
eq "enforce, TLS not possible: none delivered" "$(json 'j["delivered"]')" 0
eq "enforce, TLS not possible: nothing reached any host" "$(sunk 3) $(dumped 4) $(dumped 5) $(dumped 6)" "0 0 0 0"
eq "enforce, TLS not possible: all wait" "$(state_of c3)" "queued=4"
contains "no STARTTLS: says so" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='plain.test'")" "STARTTLS not offered"
contains "wrong name: says so" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='bad.test'")" "certificate"
contains "expired: says so" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='exp.test'")" "expired"
contains "self-signed: says so" "$(sql "SELECT last_text FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.domain='self.test'")" "self"

# 4. Testing mode: sent as before (here in plain text to a host the policy does not name).
campaign c4 a@tst.test
send c4
eq "testing mode: delivered as before" "$(state_of c4) $(sunk 3)" "delivered=1 1"
eq "testing mode: cached" "$(sql "SELECT mode FROM mta_sts_policies WHERE domain='tst.test'")" testing

# 5. A policy that cannot be fetched, with no policy cached: sent as before; the failure
#    recorded for kirim domain show.
campaign c5 a@fail.test
send c5
eq "fetch failing, nothing cached: delivered as before" "$(state_of c5) $(sunk 3)" "delivered=1 2"
contains "fetch failing: recorded" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='fail.test'")" "HTTP 404"
eq "fetch failing: nothing cached" "$(sql "SELECT count(*) FROM mta_sts_policies WHERE domain='fail.test'")" 0

# 6. A policy that cannot be fetched while a valid one is cached: the cached one holds
#    (here: enforce, and the MX host is not in it, so nothing is sent).
campaign c6a a@cache.test
send c6a
eq "cached policy: first fetched" "$(sql "SELECT id, mode FROM mta_sts_policies WHERE domain='cache.test'")" "1|enforce"
eq "cached policy: enforced" "$(state_of c6a)" "queued=1"
sed -i 's/_mta-sts.cache.test. 60 IN TXT "v=STSv1; id=1"/_mta-sts.cache.test. 60 IN TXT "v=STSv1; id=2"/' zone.txt
echo 404 >www/mta-sts.cache.test.how
campaign c6b b@cache.test
send c6b
eq "cached policy: refetch tried for the new id" "$(fetches cache.test)" 2
eq "cached policy: still enforced" "$(state_of c6b) $(sunk 3)" "queued=1 2"
contains "cached policy: the failure recorded" "$(sql "SELECT sts_id, sts_error FROM domain_tls WHERE domain='cache.test'")" "2|policy fetch failed"

# 7. The policy id changes: fetched again, the new policy applies (testing → enforce with
#    a host set that excludes the MX: sent before, deferred after).
campaign c7a a@chg.test
send c7a
eq "id change: testing first, delivered" "$(state_of c7a) $(sunk 3)" "delivered=1 3"
policy chg.test enforce 86400 mx.good.test
sed -i 's/_mta-sts.chg.test. 60 IN TXT "v=STSv1; id=1"/_mta-sts.chg.test. 60 IN TXT "v=STSv1; id=2"/' zone.txt
campaign c7b b@chg.test
send c7b
eq "id change: refetched" "$(fetches chg.test) $(sql "SELECT id, mode FROM mta_sts_policies WHERE domain='chg.test'")" "2 2|enforce"
eq "id change: now enforced" "$(state_of c7b) $(sunk 3)" "queued=1 3"
# The same id again: the cached policy, no fetch.
campaign c7c c@chg.test
send c7c
eq "same id: no fetch" "$(fetches chg.test)" 2

# 8. max_age: an enforce policy of an hour, then the policy host fails. Within the hour the
#    cached policy holds; two hours later it has expired and the domain has no policy.
campaign c8a a@old.test
send c8a
eq "max_age: enforced while fresh" "$(state_of c8a)" "queued=1"
echo 404 >www/mta-sts.old.test.how
campaign c8b b@old.test
run at +30m "$KIRIM" send c8b --dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5 --json
eq "max_age: within it, the cached policy holds" "$(state_of c8b) $(sunk 3)" "queued=1 3"
campaign c8c c@old.test
run at +2h "$KIRIM" send c8c --dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5 --json
eq "max_age: expired, fetch failing: sent as before" "$(state_of c8c) $(sunk 3)" "delivered=1 4"

# 9. Hostile policy hosts (1 MiB, binary, a redirect, HTML, one byte every 2 s): each fetch
#    fails with its reason and the domain is served as one without a policy; a domain
#    with none is delivered first, not held up by the slow one.
campaign c9 a@hbig.test a@hbin.test a@hredir.test a@hhtml.test a@hslow.test a@hcert.test a@none.test
send c9
eq "hostile policies: all delivered as without a policy" "$(state_of c9)" "delivered=7"
contains "huge: refused" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='hbig.test'")" "larger than 65536 bytes"
contains "binary: refused" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='hbin.test'")" "policy invalid"
contains "redirect: not followed" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='hredir.test'")" "redirect (never followed"
contains "html: refused" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='hhtml.test'")" 'content type "text/html"'
contains "slow: cut off" "$(sql "SELECT sts_error FROM domain_tls WHERE domain='hslow.test'")" "no complete answer within 10 s"
eq "slow: the others did not wait for it" "$(sql "SELECT (SELECT max(e.ts) FROM events e JOIN messages m ON m.id=e.message_id JOIN contacts c ON c.id=m.contact_id WHERE c.domain='none.test') < (SELECT min(e.ts) FROM events e JOIN messages m ON m.id=e.message_id JOIN contacts c ON c.id=m.contact_id WHERE c.domain='hslow.test')")" 1
eq "hostile policies: nothing cached" "$(sql "SELECT count(*) FROM mta_sts_policies WHERE domain LIKE 'h%.test'")" 0

# 11. DANE (RFC 7672), the resolver on this host vouching with AD: the MX host's
#     certificate must match its TLSA records (3 1 1 and 3 0 1 whatever its names; 2 1 1
#     through the CA, the name checked).
before=$(dumped 2)
campaign d1 a@dane1.test a@dane2.test a@dane3.test
send d1
eq "DANE match: delivered" "$(state_of d1)" "delivered=3"
eq "DANE match: at the hosts" "$(( $(dumped 2) - before )) $(dumped 7)" "2 1"
eq "DANE match: authenticated by DANE" "$(col d1 "substr(tls, -13)")" "verified dane"
contains "DANE: a destination of its own" "$(col d1 dest)" "|dane:dane1.test"
before=$(dumped 2)
campaign d2 a@danebad.test
send d2
eq "DANE mismatch: deferred, nothing sent" "$(state_of d2) $(( $(dumped 2) - before ))" "queued=1 0"
contains "DANE mismatch: says why" "$(col d2 last_text)" "certificate verify"
campaign d3 a@daneinsec.test
send d3
eq "TLSA not validated: ignored, sent as before" "$(state_of d3)" "delivered=1"
campaign d4 a@danefail.test
send d4
eq "TLSA look-up failing: the host is not used" "$(state_of d4) $(col d4 last_ecode)" "queued=1 4.7.5"
contains "TLSA look-up failing: says why" "$(col d4 last_text)" "TLSA look-up failed"
# DANE beside MTA-STS: DANE first. A host the enforce policy does not name but whose
# certificate matches its TLSA records is used; a host the policy names (its certificate
# valid for its name) whose TLSA records do not match is not.
campaign d5 a@danests.test
send d5
eq "DANE beside MTA-STS: DANE wins, delivered" "$(state_of d5) $(col d5 "substr(tls, -13)")" "delivered=1 verified dane"
before=$(dumped 2)
campaign d6 a@danestsbad.test
send d6
eq "DANE failing beside MTA-STS passing: not sent" "$(state_of d6) $(( $(dumped 2) - before ))" "queued=1 0"
# [tls] dane = no: TLSA records are not looked up (the mismatching host is used).
printf '[sender]\nehlo = mta.kirim.test\n[tls]\nca_file = certs/ca.pem\ndane = no\n' >nodane.conf
campaign d7 b@danebad.test
run env KIRIM_CONFIG="$TMP/nodane.conf" "$KIRIM" send d7 --dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5 --json
eq "dane = no: sent as before" "$(state_of d7)" "delivered=1"
# A domain policy requiring DANE, for a domain whose host has no TLSA records: deferred.
"$KIRIM" domain set daneuser.test --tls dane >/dev/null
campaign d8 a@daneuser.test
send d8
eq "--tls dane, no TLSA: deferred" "$(state_of d8) $(col d8 last_ecode)" "queued=1 4.7.5"
contains "--tls dane, no TLSA: says why" "$(col d8 last_text)" "requires DANE"

# 12. kirim domain show: the policy and mode, DANE, the TLS-RPT address, and which wins.
run "$KIRIM" domain show enf.test
contains "show: MTA-STS policy" "$OUT" "MTA-STS   enforce, id 1"
contains "show: its mx" "$OUT" "mx: mx.good.test"
contains "show: TLS-RPT" "$OUT" "TLS-RPT   mailto:tlsrpt@enf.test"
contains "show: DANE" "$OUT" "DANE      mx.good.test: no TLSA records"
contains "show: in force" "$OUT" "in force: MTA-STS enforce"
run "$KIRIM" domain show dane1.test --json
eq "show --json: DANE in force" "$(json 'j["tls_security"]["in_force"][:4], j["tls_security"]["dane"]')" "DANE mx.d1.test: dane (1 usable TLSA record)"
run "$KIRIM" domain show daneuser.test
contains "show: the user's policy wins" "$OUT" "in force: tls dane, from your policy daneuser.test"
run "$KIRIM" domain show fail.test
contains "show: the last failure" "$OUT" "last look: policy fetch failed"

# 12a. Domains without a TLS-RPT record have nothing reported: their sessions need only meet
#     their policy, so domains with the same hosts and policy share a destination (enforce:
#     mx.good.test, verified), and a testing one shares its MX neighbours' (as no policy).
campaign sh a@sh1.test a@sh2.test a@sht1.test a@sht2.test a@none.test
send sh
eq "shared: delivered" "$(state_of sh)" "delivered=5"
eq "shared: one destination per hosts and policy" "$(col sh dest | tr '\n' ' ')" "mx:mx.good.test|sts mx:mx.plain.test mx:mx.plain.test|tlsrpt:none.test "
contains "shared: enforce still verified" "$(sql "SELECT DISTINCT m.tls FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.domain = 'sh2.test'")" "verified"
eq "shared: nothing counted for them" "$(sql "SELECT count(*) FROM tls_results WHERE domain LIKE 'sh%'")" 0

# 12b. campaign plan: the TLS policy of each destination, as the send makes them (cached
#     MTA-STS policies, one fetched now and not cached, DANE, none); the report's TLS column.
campaign p1 a@enf.test b@enf.test a@tst.test a@pln.test a@dane1.test a@none.test b@sh1.test b@sh2.test b@sht1.test
run "$KIRIM" campaign plan p1 --dns-server "127.0.0.1:$D" --mta-sts-port "$H" --json
eq "plan: each destination's policy, as the send makes them" "$(json '" ".join(sorted(d["key"] + "=" + d["tls"] for d in j["destinations"]))')" \
	"mx:mx.d1.test|dane:dane1.test=dane mx:mx.good.test|sts:enf.test=mta-sts-enforce mx:mx.good.test|sts=mta-sts-enforce mx:mx.plain.test=none mx:mx.plain.test|sts:pln.test=mta-sts-enforce mx:mx.plain.test|sts:tst.test=mta-sts-testing mx:mx.plain.test|tlsrpt:none.test=none"
eq "plan: counted per policy" "$(json '" ".join("%s:%d/%d" % (k, v["destinations"], v["messages"]) for k, v in sorted(j["tls"].items()))')" \
	"dane:1/1 mta-sts-enforce:3/5 mta-sts-testing:1/1 none:2/2"
eq "plan: a shared destination's domains" "$(json '[d["domains"] for d in j["destinations"] if d["key"] == "mx:mx.good.test|sts"][0]')" 2
eq "plan: a policy not cached is fetched, not stored" "$(fetches pln.test) $(sql "SELECT count(*) FROM mta_sts_policies WHERE domain='pln.test'")" "1 0"
eq "plan: a cached one is not fetched" "$(fetches enf.test)" 1
run "$KIRIM" campaign plan p1 --dns-server "127.0.0.1:$D" --mta-sts-port "$H"
contains "plan text: the count" "$OUT" "TLS policies (docs/tls.md): MTA-STS enforce 3 destinations (5 messages), MTA-STS testing 1 destination (1 messages), DANE 1 destination (1 messages), no policy 2 destinations (2 messages)."
run "$KIRIM" report c1 --by destination --format csv
eq "report: TLS column of an MTA-STS destination" "$(printf '%s\n' "$OUT" | $PY3 -c 'import csv, sys; print([r["tls_detail"] for r in csv.DictReader(sys.stdin) if r["destination"] == "mx:mx.good.test|sts:enf.test"][0])')" "TLSv1.3 verified, MTA-STS"
run "$KIRIM" report d1 --by destination
contains "report: TLS column of a DANE destination" "$OUT" "TLSv1.3 verified, DANE"
run "$KIRIM" report c4 --by destination --json
eq "report: TLS column, plain text" "$(json 'j["destinations"][0]["tls_detail"]')" "none, MTA-STS"

# 13. TLS-RPT (RFC 8460): each session of a domain under a policy (or with a TLS-RPT
#     record) counted by result; the day's aggregate report of each domain, valid against
#     the RFC's schema (tests/data/tlsrpt/schema.json, checked with python3-jsonschema).
today=$(date -u +%F)
count() { sql "SELECT coalesce(sum(sessions), 0) FROM tls_results WHERE domain='$1' AND result='$2'"; }
[ "$(count enf.test success)" -ge 1 ] && ok "counted: enforce success" || bad "counted: enforce success" "$(sql "SELECT * FROM tls_results WHERE domain='enf.test'")"
[ "$(count plain.test starttls-not-supported)" -ge 1 ] && ok "counted: no STARTTLS" || bad "counted: no STARTTLS" "$(sql "SELECT * FROM tls_results WHERE domain='plain.test'")"
[ "$(count bad.test certificate-host-mismatch)" -ge 1 ] && ok "counted: host mismatch" || bad "counted: host mismatch" "$(sql "SELECT * FROM tls_results WHERE domain='bad.test'")"
[ "$(count exp.test certificate-expired)" -ge 1 ] && ok "counted: expired" || bad "counted: expired" "$(sql "SELECT * FROM tls_results WHERE domain='exp.test'")"
[ "$(count self.test certificate-not-trusted)" -ge 1 ] && ok "counted: self-signed" || bad "counted: self-signed" "$(sql "SELECT * FROM tls_results WHERE domain='self.test'")"
[ "$(count danebad.test tlsa-invalid)" -ge 1 ] && ok "counted: DANE mismatch" || bad "counted: DANE mismatch" "$(sql "SELECT * FROM tls_results WHERE domain='danebad.test'")"
[ "$(count dane1.test success)" -ge 1 ] && ok "counted: DANE success" || bad "counted: DANE success" "$(sql "SELECT * FROM tls_results WHERE domain='dane1.test'")"
# The policy failures of RFC 8460 4.3.2: a policy that cannot be fetched (404, a slow host),
# is not a policy (binary, too big, HTML), or whose host's certificate is not valid; a TLSA
# look-up failing validation; DANE required where a host has no TLSA records.
failures() { sql "SELECT group_concat(domain || ':' || result || ':' || sessions, ' ') FROM (SELECT domain, result, sum(sessions) sessions FROM tls_results WHERE domain IN ($1) AND result LIKE 'sts-%' GROUP BY domain, result ORDER BY domain, result)"; }
eq "counted: policy fetch failures" "$(failures "'fail.test', 'hslow.test', 'hredir.test', 'hbin.test', 'hbig.test', 'hhtml.test', 'hcert.test'")" \
	"fail.test:sts-policy-fetch-error:1 hbig.test:sts-policy-invalid:1 hbin.test:sts-policy-invalid:1 hcert.test:sts-webpki-invalid:1 hhtml.test:sts-policy-invalid:1 hredir.test:sts-policy-fetch-error:1 hslow.test:sts-policy-fetch-error:1"
eq "counted: a fetch failure under the cached policy that still applied" "$(sql "SELECT count(*) FROM tls_results WHERE domain='cache.test' AND result='sts-policy-fetch-error' AND policy LIKE '%mode: enforce%'")" 1
eq "counted: a failing TLSA look-up" "$(sql "SELECT policy_type, mx_host, result FROM tls_results WHERE domain='danefail.test'")" "tlsa|mx.df.test|dnssec-invalid"
eq "counted: DANE required, no TLSA records" "$(sql "SELECT policy_type, mx_host, result FROM tls_results WHERE domain='daneuser.test'")" "tlsa|mx.du.test|dane-required"
eq "counted: testing mode, its failure reported" "$(sql "SELECT policy_type, result FROM tls_results WHERE domain='tst.test'")" "sts|starttls-not-supported"
eq "counted: the policy and the hosts" "$(sql "SELECT policy_type, mx_host, receiving_ip, sending_ip FROM tls_results WHERE domain='enf.test' AND result='success'")" "sts|mx.good.test|127.0.0.2|127.0.0.1"
eq "counted: the DANE policy string" "$(sql "SELECT substr(policy, 1, 6) FROM tls_results WHERE domain='dane1.test'")" "3 1 1 "
mkdir reports
run "$KIRIM" tlsrpt report --day "$today" --out "$TMP/reports" --json
eq "report: exit" "$RC" 0
# Today's domains: a send run at +2h (section 8) counts on tomorrow after 22:00 UTC.
eq "report: one per domain counted" "$(json 'len(j)')" "$(sql "SELECT count(DISTINCT domain) FROM tls_results WHERE day = $(($(date -u -d "$today" +%s) / 86400))")"
eq "report: enf.test's file, named as RFC 8460 5.3.1 says" "$(json '[r["file"] for r in j if r["domain"]=="enf.test"][0].split("!")[:2]')" "['mta.kirim.test', 'enf.test']"
eq "report: enf.test's rua" "$(json '[r["rua"] for r in j if r["domain"]=="enf.test"][0]')" "mailto:tlsrpt@enf.test"
eq "report: every file valid against the schema" "$($PY3 - "$SRC/tests/data/tlsrpt/schema.json" "$TMP"/reports/*.json.gz <<'PYEND'
import gzip, json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
n, types = 0, set()
for f in sys.argv[2:]:
    r = json.load(gzip.open(f))
    jsonschema.validate(r, schema)
    types |= {d["result-type"] for p in r["policies"] for d in p.get("failure-details", [])}
    n += 1
print('ok' if n > 10 else 'only %d' % n, *sorted(types))
PYEND
)" "ok certificate-expired certificate-host-mismatch certificate-not-trusted dane-required dnssec-invalid starttls-not-supported sts-policy-fetch-error sts-policy-invalid sts-webpki-invalid tlsa-invalid"
run "$KIRIM" tlsrpt report --day "$today" --domain bad.test
eq "report: a failure's details" "$(json 'j["policies"][0]["failure-details"][0]["result-type"], j["policies"][0]["policy"]["policy-type"], j["policies"][0]["policy"]["mx-host"], j["policies"][0]["summary"]["total-successful-session-count"]')" "certificate-host-mismatch sts ['mx.bad.test'] 0"
eq "report: the day" "$(json 'j["date-range"]["start-datetime"], j["date-range"]["end-datetime"]')" "${today}T00:00:00Z ${today}T23:59:59Z"
run "$KIRIM" tlsrpt report --day 2001-02-30x
eq "report: a bad day refused" "$RC" 64

# 10. [tls] mta_sts = no: no policy is looked up.
printf '[sender]\nehlo = mta.kirim.test\n[tls]\nmta_sts = no\n' >off.conf
campaign c10 b@nomatch.test
run env KIRIM_CONFIG="$TMP/off.conf" "$KIRIM" send c10 --dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5 --json
eq "mta_sts = no: sent as before" "$(state_of c10)" "delivered=1"

# 14. Background refresh (RFC 8461 5.1): kirim run fetches a cached policy again half its
#     max_age (an hour here) before it expires, so the domain never waits for a fetch; a
#     refresh that fails keeps the cached policy. (Last: kirim run retries what waits.)
RUN=(--dns-server "127.0.0.1:$D" --mx-port "$P" --mta-sts-port "$H" --timeout 5)
campaign r1 a@ref.test
send r1
eq "refresh: fetched once, enforced" "$(fetches ref.test) $(state_of r1)" "1 queued=1"
first=$(sql "SELECT expires_at FROM mta_sts_policies WHERE domain='ref.test'")
run at +40m "$KIRIM" run --once "${RUN[@]}"
eq "refresh: kirim run fetched it again before it expired" "$(fetches ref.test)" 2
contains "refresh: logged" "$ERR" "mta_sts domain=ref.test id=1 refreshed"
second=$(sql "SELECT expires_at FROM mta_sts_policies WHERE domain='ref.test'")
[ "$second" -ge $((first + 2400)) ] && ok "refresh: max_age starts again" || bad "refresh: max_age starts again" "$first -> $second"
eq "refresh: a policy not yet due is left alone" "$(fetches enf.test)" 1
echo 404 >www/mta-sts.ref.test.how
run at +90m "$KIRIM" run --once "${RUN[@]}"
eq "refresh failing: tried" "$(fetches ref.test)" 3
contains "refresh failing: logged, with the cached policy's expiry" "$ERR" "mta_sts domain=ref.test refresh failed, the cached policy kept until $second "
eq "refresh failing: the cached policy kept" "$(sql "SELECT expires_at, mode FROM mta_sts_policies WHERE domain='ref.test'")" "$second|enforce"
# Past the first policy's expiry: the refreshed one holds, with no fetch (without the
# refresh, the policy would have expired, the fetch failed, and the mail gone in plain text).
campaign r2 b@ref.test
run at +95m "$KIRIM" send r2 --json "${RUN[@]}"
eq "refreshed policy: enforced past the first expiry, no fetch" "$(state_of r2) $(fetches ref.test)" "queued=1 3"

finish
