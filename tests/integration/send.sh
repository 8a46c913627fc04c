#!/usr/bin/env bash
# send.sh - `kirim send` through a relay, against real servers on loopback: Postfix's
# smtp-sink (throughput and faults) and an aiosmtpd server (per-recipient answers,
# STARTTLS, AUTH), with what arrived checked by dkimpy and Python's email parser.
. "$(dirname "$0")/lib.sh"

: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
gen_list() { # gen_list FILE N [PREFIX]: N recipients at a few domains
	$PY3 - "$1" "$2" "${3:-user}" <<'PYEND'
import sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, 'w') as f:
    f.write('email,first_name,city\n')
    for i in range(n):
        f.write('%s%d@d%d.example.com,Name%d,City%d\n' % (prefix, i, i % 7, i, i % 13))
PYEND
}
printf 'Subject: Hello {{first_name|there}}\n\n--- text\nHi {{first_name}} from {{city}}.\n.\n..leading dots stay\nBye: {{unsubscribe_url}}\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
new_campaign() { # new_campaign NAME LIST
	"$KIRIM" campaign create "$1" --list "$2" --template t --from "Bench <news@example.com>" >/dev/null
}
state_counts() { sql "SELECT group_concat(state || '=' || n, ' ') FROM (SELECT m.state AS state, count(*) n FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' GROUP BY m.state ORDER BY m.state)"; }

# 1. 300 messages to smtp-sink over persistent, pipelined connections.
gen_list a.csv 300
"$KIRIM" import a.csv --list a -q >/dev/null
"$KIRIM" suppress add user7@d0.example.com >/dev/null
new_campaign a a
port=$(free_port)
mkdir dump && chmod 777 dump
start_sink "$port" -d "$TMP/dump/%M."
sink=$LAST_PID
run "$KIRIM" send a --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json
eq "send exit" "$RC" 0
eq "all delivered" "$(json 'j["attempted"], j["delivered"], j["deferred"], j["bounced"]')" "299 299 0 0"
eq "suppressed never sent" "$(json 'j["campaign_counts"]["suppressed"]')" 1
conns=$(json 'j["connections"]')
[ "$conns" -ge 1 ] && [ "$conns" -le 12 ] && ok "persistent connections" || bad "persistent connections" "$conns connections for 299 messages"
eq "database states" "$(state_counts a)" "delivered=299 suppressed=1"
eq "one event per attempt" "$(sql "SELECT count(*), min(code), max(code) FROM events WHERE type='delivered'")" "299|250|250"
eq "campaign done" "$(sql "SELECT state FROM campaigns WHERE name='a'")" done
stop "$sink"
eq "the sink got each message once" "$(cat dump/* | grep -c '^Subject: Hello')" 299
# smtp-sink removes the dot-stuffing: the lines must come back as written.
eq "a lone dot line survived" "$(cat dump/* | grep -c '^\.$')" 299
eq "leading dots survived" "$(cat dump/* | grep -c '^\.\.leading dots stay$')" 299
run "$KIRIM" send a --relay "smtp://127.0.0.1:$port" --tls none --json
eq "a second run has nothing due" "$(json 'j["attempted"]')" 0
eq "nothing due: exit 0" "$RC" 0
# One log line per delivery (as Postfix's status=sent), unless --no-delivery-log.
lport=$(free_port)
start_sink "$lport"
gen_list logged.csv 3 logged
"$KIRIM" import logged.csv --list logged -q >/dev/null
new_campaign logged logged
run "$KIRIM" -v send logged --relay "smtp://127.0.0.1:$lport" --tls none
eq "a line per delivery" "$(printf '%s\n' "$ERR" | grep -c 'result=delivered')" 3
gen_list quiet.csv 3 quiet
"$KIRIM" import quiet.csv --list quiet -q >/dev/null
new_campaign quiet quiet
run "$KIRIM" -v send quiet --relay "smtp://127.0.0.1:$lport" --tls none --no-delivery-log
eq "--no-delivery-log" "$(printf '%s\n' "$ERR" | grep -c 'result=delivered') $RC" "0 0"
stop "$LAST_PID"

# 1a. A send opens no SQLite temporary file (etilqs_*): the statement journal of each event's
# INSERT (which fires the webhook trigger) stays in memory instead of a 16 KiB write() or two
# a message (store_temp_memory). 600 messages: batches past four journaled pages.
gen_list tmpf.csv 600 tmpf
"$KIRIM" import tmpf.csv --list tmpf -q >/dev/null
new_campaign tmpf tmpf
tport=$(free_port)
start_sink "$tport"
# LeakSanitizer cannot run under ptrace: leaks are checked by the other sends.
run env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=openat -o "$TMP/openat.txt" "$KIRIM" send tmpf --relay "smtp://127.0.0.1:$tport" --tls none --json
eq "temporary files: sent" "$RC $(json 'j["delivered"]')" "0 600"
eq "temporary files: none opened" "$(grep -c etilqs "$TMP/openat.txt")" 0
stop "$LAST_PID"

# 2. Faults from smtp-sink: hard and soft RCPT rejections, 421, a dropped connection.
fault() { # fault NAME SINK-ARGS... : a 20-recipient campaign against a faulty sink
	local name=$1
	shift
	gen_list "$name.csv" 20 "$name"
	"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
	new_campaign "$name" "$name"
	local p
	p=$(free_port)
	start_sink "$p" "$@"
	run "$KIRIM" send "$name" --relay "smtp://127.0.0.1:$p" --tls none --concurrency 2 --timeout 5 --json
	stop "$LAST_PID"
}
fault hard -f RCPT
eq "hard RCPT reject: bounced" "$(state_counts hard)" "bounced=20"
eq "hard RCPT reject: recorded" "$(sql "SELECT DISTINCT last_stage || ' ' || last_code FROM messages WHERE state='bounced' AND last_stage='rcpt'")" "rcpt 500"
fault soft -r RCPT
eq "soft RCPT reject: deferred" "$(json 'j["deferred"], j["campaign_counts"]["deferred"]')" "20 20"
eq "deferred wait 5 minutes, +-10%" "$(sql "SELECT min(next_attempt_at - strftime('%s','now')) >= 268, max(next_attempt_at - strftime('%s','now')) <= 330 FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='soft'")" "1|1"
eq "retry times are spread (jitter)" "$(sql "SELECT count(DISTINCT next_attempt_at) > 5 FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='soft'")" 1
# The retry queue with a controllable clock (libfaketime moves time(), not the loop's
# monotonic clock): nothing is due before its time; after it, the second attempt waits
# about 10 minutes; 3 days after queueing, a deferred message bounces as expired.
soft_sink() { start_sink "$1" -r RCPT; }
p=$(free_port)
soft_sink "$p"
later() { run at "$1" "$KIRIM" send soft --relay "smtp://127.0.0.1:$p" --tls none --timeout 5 --json; }
later "+4m"
eq "retry: nothing due after 4 minutes" "$(json 'j["attempted"]')" 0
later "+6m"
eq "retry: all due after 6 minutes" "$(json 'j["attempted"], j["deferred"]')" "20 20"
eq "retry: second attempt waits 10 minutes +-10%" "$(sql "SELECT min(next_attempt_at - strftime('%s','now') - 360) >= 538, max(next_attempt_at - strftime('%s','now') - 360) <= 661, max(attempts) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='soft'")" "1|1|2"
eq "retry: one event per attempt" "$(sql "SELECT count(*) FROM events e JOIN messages m ON m.id=e.message_id JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='soft' AND e.type='deferred'")" 40
later "+3d"
eq "expiry: bounced as expired after 3 days" "$(state_counts soft) $(sql "SELECT DISTINCT reason || ' ' || class FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='soft'")" "bounced=20 expired soft"
stop "$LAST_PID"
fault gone -Q MAIL
eq "421 and disconnect: deferred" "$(state_counts gone)" "queued=20"
eq "421 recorded" "$(sql "SELECT DISTINCT last_code FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='gone'")" 421
fault drop -q DATA
eq "dropped at DATA: deferred" "$(state_counts drop)" "queued=20"
fault dotfail -f .
eq "5xx to the final dot: bounced" "$(state_counts dotfail)" "bounced=20"
eq "5xx to the final dot: message scope" "$(sql "SELECT DISTINCT last_stage FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='dotfail'")" dot
fault datasoft -r DATA
eq "4xx to DATA: deferred" "$(json 'j["deferred"]')" 20
gen_list nobody.csv 5 nobody
"$KIRIM" import nobody.csv --list nobody -q >/dev/null
new_campaign nobody nobody
run timeout 60 "$KIRIM" send nobody --relay "smtp://127.0.0.1:$(free_port)" --tls none --json
eq "nothing listening: the run ends, exit 75 (nothing delivered, all waits for a retry)" "$RC" 75
eq "nothing listening: why, in --json" "$(json 'j["not_sent"], j["reasons"][0]["count"], j["reasons"][0]["sent"]')" "5 5 False"
contains "nothing listening: the reason" "$(json 'j["reasons"][0]["text"]')" "connection refused"
gen_list nobody2.csv 5 nobodytoo
"$KIRIM" import nobody2.csv --list nobody2 -q >/dev/null
new_campaign nobody2 nobody2
run timeout 60 "$KIRIM" send nobody2 --relay "smtp://127.0.0.1:$(free_port)" --tls none
contains "nothing listening: the summary says why" "$OUT" "(not sent) destination relay down: connect failed: connection refused"
contains "nothing listening: and that nothing was delivered" "$ERR" "nothing was delivered"
# Never on the wire (item 9 of #25): no attempt counted, queued again after the
# destination's down time, with the reason.
eq "nothing listening: queued, no attempt" "$(state_counts nobody) $(sql "SELECT max(attempts) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='nobody'")" "queued=5 0"
contains "nothing listening: why" "$(sql "SELECT DISTINCT last_text FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='nobody'")" "connection refused"
eq "nothing listening: not due before the destination may be up" "$(sql "SELECT min(next_attempt_at) - strftime('%s','now') > 0 FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='nobody'")" 1

# 3. Per-recipient outcomes in one pipelined transaction stream (aiosmtpd).
printf 'email,first_name\nok1@x.test,A\nreject1@x.test,B\ndefer1@x.test,C\nok2@x.test,D\n' >mixed.csv
"$KIRIM" import mixed.csv --list mixed -q >/dev/null
new_campaign mixed mixed
port=$(free_port)
mkdir mdump
start_server "$port" --pipelining --dump "$TMP/mdump"
run "$KIRIM" send mixed --relay "smtp://127.0.0.1:$port" --tls none --concurrency 1 --json
eq "mixed outcomes" "$(json 'j["delivered"], j["bounced"], j["deferred"]')" "2 1 1"
eq "bounce recorded with its enhanced code" "$(sql "SELECT last_code, last_ecode FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.email='reject1@x.test'")" "550|5.1.1"
eq "deferral recorded" "$(sql "SELECT state, last_code, last_ecode FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.email='defer1@x.test'")" "queued|451|4.3.0"
eq "only accepted messages arrived" "$(ls mdump/*.eml | wc -l)" 2
eq "classified: reason and class" "$(sql "SELECT group_concat(x, ', ') FROM (SELECT c.email || ' ' || m.reason || ' ' || m.class AS x FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE m.reason IS NOT NULL AND c.domain = 'x.test' ORDER BY c.email)")" "defer1@x.test systemerror soft, reject1@x.test userunknown hard"
eq "a hard bounce suppresses the address" "$(sql "SELECT value, reason FROM suppressions WHERE value='reject1@x.test'")" "reject1@x.test|hard_bounce"
contains "the suppression says where it came from" "$(sql "SELECT source FROM suppressions WHERE value='reject1@x.test'")" "campaign mixed: rcpt 550 5.1.1"
eq "a deferral suppresses nothing" "$(sql "SELECT count(*) FROM suppressions WHERE value='defer1@x.test'")" 0
new_campaign mixed2 mixed
run "$KIRIM" send mixed2 --relay "smtp://127.0.0.1:$port" --tls none --json
eq "the next campaign skips the bounced address" "$(json 'j["campaign_counts"]["suppressed"], j["bounced"]')" "1 0"

# 3a. Proofs: kirim campaign test sends the message to seed addresses and records nothing.
before=$(sql "SELECT (SELECT count(*) FROM messages) || ' ' || (SELECT count(*) FROM events)")
n0=$(ls mdump/*.eml | wc -l)
run "$KIRIM" campaign test mixed --to ok1@x.test --to seed@x.test --to reject9@x.test --relay "smtp://127.0.0.1:$port" --tls none
eq "proofs: one rejected, so exit 69" "$RC" 69
eq "proofs: one line each" "$(printf '%s\n' "$OUT" | awk '{print $1, $2, $3}' | sort | tr '\n' ';')" "ok1@x.test delivered 250;reject9@x.test bounced 550;seed@x.test delivered 250;"
eq "proofs: delivered for real" "$(($(ls mdump/*.eml | wc -l) - n0))" 2
eq "proofs: a list member gets their own fields (two campaigns' copies and the proof)" "$(grep -l '^To: .*ok1@x.test' mdump/*.eml | xargs grep -l 'Hi A from' | wc -l)" 3
eq "proofs: recorded nowhere" "$(sql "SELECT (SELECT count(*) FROM messages) || ' ' || (SELECT count(*) FROM events)")" "$before"
eq "proofs: the rejected seed is not suppressed" "$(sql "SELECT count(*) FROM suppressions WHERE value='reject9@x.test'")" 0

# 3b. Auto-pause: after 1,000 attempts, more than 5% hard bounces pause the campaign.
$PY3 -c 'import sys
print("email")
for i in range(2500): print(("reject%d" if i % 10 == 0 else "fine%d") % i + "@y.test")' >pause.csv
"$KIRIM" import pause.csv --list pause -q >/dev/null
new_campaign pause pause
run "$KIRIM" send pause --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json
eq "auto-pause: paused" "$(json 'j["paused"]') $(sql "SELECT state FROM campaigns WHERE name='pause'")" "True paused"
contains "auto-pause: says why" "$(json 'j["why"]')" "hard bounces are 10."
[ "$(json 'j["attempted"]')" -lt 2500 ] && ok "auto-pause: stopped before the end" || bad "auto-pause: stopped early" "$(json 'j["attempted"]') attempted"
run "$KIRIM" send pause --relay "smtp://127.0.0.1:$port" --tls none --json
eq "auto-pause: a paused campaign is not sent" "$RC" 78
contains "auto-pause: says how to go on" "$ERR" "--resume"
stop "$LAST_PID"

# 4. STARTTLS with certificate verification and AUTH, through [relay] in kirim.conf; the
#    delivered copy carries a DKIM signature that dkimpy verifies.
mkdir certs tdump
$PY3 "$SERVER_PY" --make-certs "$TMP/certs"
"$KIRIM" dkim keygen --domain example.com --selector s1 --out dkim.pem --json >key.json
printf 's3cret\n' >pw
chmod 600 pw
port=$(free_port)
cat >tls.conf <<C
[relay]
url = smtp://kirim@127.0.0.1:$port
password_file = pw
tls = verify
ca_file = certs/ca.pem
[dkim]
domain = example.com
selector = s1
key_file = dkim.pem
C
printf 'email\nsecure@x.test\n' >sec.csv
"$KIRIM" import sec.csv --list sec -q >/dev/null
new_campaign sec sec
start_server "$port" --pipelining --cert certs/server.pem --key certs/server.key --require-starttls --auth --dump "$TMP/tdump"
tlsserver=$LAST_PID
run env KIRIM_CONFIG="$TMP/tls.conf" "$KIRIM" send sec --json
eq "STARTTLS + AUTH delivered" "$(json 'j["delivered"]')" 1
contains "TLS recorded" "$(sql "SELECT tls FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='sec'")" "verified"
eq "delivered copy verifies (dkimpy)" "$($PY3 - "$TMP/tdump" "$TMP/key.json" <<'PYEND'
import dkim, glob, json, sys
txt = json.load(open(sys.argv[2]))['txt'].encode()
msg = open(sorted(glob.glob(sys.argv[1] + '/*.eml'))[0], 'rb').read()
print('ok' if dkim.verify(msg, dnsfunc=lambda n, timeout=5: txt) else 'fail')
PYEND
)" ok
printf 'email\nsecure2@x.test\n' >sec2.csv
"$KIRIM" import sec2.csv --list sec2 -q >/dev/null
new_campaign sec2 sec2
printf 'wrong\n' >pw
run env KIRIM_CONFIG="$TMP/tls.conf" "$KIRIM" send sec2 --json
eq "wrong password: not bounced, queued again" "$(json 'j["bounced"]') $(state_counts sec2)" "0 queued=1"
eq "wrong password recorded" "$(sql "SELECT last_code FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='sec2'")" "535"
printf 's3cret\n' >pw
sed -i 's|^ca_file.*||' tls.conf
printf 'email\nsecure3@x.test\n' >sec3.csv
"$KIRIM" import sec3.csv --list sec3 -q >/dev/null
new_campaign sec3 sec3
run env KIRIM_CONFIG="$TMP/tls.conf" "$KIRIM" send sec3 --json
eq "unverifiable certificate: queued again" "$(state_counts sec3)" "queued=1"
contains "TLS failure recorded" "$(sql "SELECT last_text FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='sec3'")" "certificate"
stop "$tlsserver"
run "$KIRIM" send sec3 --relay "smtp://kirim@127.0.0.1:$port" --tls none
eq "user without password refused" "$RC" 78

# Implicit TLS (smtps://, RFC 8314) with AUTH and verification against the test CA.
port=$(free_port)
# aiosmtpd does not see TLS made by the socket wrapper: let it offer AUTH anyway.
start_server "$port" --pipelining --cert certs/server.pem --key certs/server.key --implicit-tls --auth --auth-plaintext
cat >tls465.conf <<C
[relay]
url = smtps://kirim@127.0.0.1:$port
password_file = pw
ca_file = certs/ca.pem
C
printf 'email\nimplicit@x.test\n' >imp.csv
"$KIRIM" import imp.csv --list imp -q >/dev/null
new_campaign imp imp
run env KIRIM_CONFIG="$TMP/tls465.conf" "$KIRIM" send imp --json
eq "smtps:// delivered" "$(json 'j["delivered"]')" 1
contains "smtps:// verified" "$(sql "SELECT tls FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='imp'")" "verified"
stop "$LAST_PID"

# 4b. DKIM signing on several threads (#20): 240 messages, each signed with RSA and Ed25519
#     by --workers 3 threads (more than this machine may have cores), every signature of
#     every delivered copy verified by dkimpy, each copy's To matching its envelope (a
#     message signed or put on the wire by the wrong thread would fail one or the other).
"$KIRIM" dkim keygen --domain example.com --selector ed1 --type ed25519 --out ed.pem --json >ed.json
cat >two.conf <<C
[dkim]
domain = example.com
selector = s1
key_file = dkim.pem
[dkim]
domain = example.com
selector = ed1
key_file = ed.pem
C
gen_list par.csv 240 par
"$KIRIM" import par.csv --list par -q >/dev/null
new_campaign par par
port=$(free_port)
mkdir pdump
start_server "$port" --pipelining --dump "$TMP/pdump"
run env KIRIM_CONFIG="$TMP/two.conf" "$KIRIM" --verbose send par --relay "smtp://127.0.0.1:$port" --tls none --workers 3 --json
eq "signed on 3 threads: delivered" "$(json 'j["delivered"]')" 240
contains "composed on 3 threads: the log says so" "$ERR" "dkim compose_threads=3"
eq "signed on 3 threads: every signature verifies (dkimpy), every To is its envelope's" "$($PY3 - "$TMP/pdump" "$TMP/key.json" "$TMP/ed.json" <<'PYEND'
import dkim, email, glob, json, sys
txt = {b's1._domainkey.example.com.': json.load(open(sys.argv[2]))['txt'].encode(),
       b'ed1._domainkey.example.com.': json.load(open(sys.argv[3]))['txt'].encode()}
good = bad = 0
for path in sorted(glob.glob(sys.argv[1] + '/*.eml')):
    msg = open(path, 'rb').read()
    env = json.load(open(path[:-4] + '.json'))
    d = dkim.DKIM(msg)
    ok = all(d.verify(idx=i, dnsfunc=lambda n, timeout=5: txt.get(n)) for i in (0, 1))
    to = email.message_from_bytes(msg)['To']
    ok = ok and to is not None and env['rcpt_tos'][0] in to
    good += ok
    bad += not ok
print(good, bad)
PYEND
)" "240 0"
stop "$LAST_PID"

# 5. Ctrl-C in the middle: what was on a connection is recorded, the rest stays queued,
#    and a second run delivers exactly the remainder (the sinks see each message once).
gen_list big.csv 3000 big
"$KIRIM" import big.csv --list big -q >/dev/null
new_campaign big big
port=$(free_port)
mkdir bdump && chmod 777 bdump
start_sink "$port" -d "$TMP/bdump/%M." -w 1
sink=$LAST_PID
"$KIRIM" send big --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json >int.json 2>int.err &
kp=$!
sleep 2.5
kill -INT "$kp"
wait "$kp"
eq "interrupted exit" "$?" 130
OUT=$(cat int.json)
eq "stopped flag" "$(json 'j["stopped"]')" True
eq "nothing left claimed" "$(sql "SELECT count(*) FROM messages WHERE state='claimed'")" 0
first=$(json 'j["delivered"]')
[ "$first" -gt 0 ] && [ "$first" -lt 3000 ] && ok "stopped part way" || bad "stopped part way" "$first delivered"
eq "unsent ones were not counted as attempts" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='big' AND m.state='queued' AND m.attempts > 0")" 0
stop "$sink"
port=$(free_port)
start_sink "$port" -d "$TMP/bdump/%M."
sink=$LAST_PID
run "$KIRIM" send big --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json
eq "second run finishes" "$(json 'j["delivered"]')" "$((3000 - first))"
eq "every message delivered once" "$(state_counts big)" "delivered=3000"
stop "$sink"
eq "the sinks saw 3000 messages" "$(cat bdump/* | grep -c '^Subject: Hello')" 3000

# 6. kill -9 in the middle: the next run takes back what was claimed (and says so);
#    nothing is lost, and duplicates are bounded by what was in flight.
gen_list crash.csv 2000 crash
"$KIRIM" import crash.csv --list crash -q >/dev/null
new_campaign crash crash
port=$(free_port)
mkdir cdump && chmod 777 cdump
start_sink "$port" -d "$TMP/cdump/%M." -w 1
sink=$LAST_PID
"$KIRIM" send crash --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json >/dev/null 2>&1 &
kp=$!
sleep 2.5
kill -KILL "$kp"
wait "$kp" 2>/dev/null
stop "$sink"
claimed=$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='crash' AND m.state='claimed'")
[ "$claimed" -gt 0 ] && ok "a crash leaves claimed messages" || bad "a crash leaves claimed messages" "$claimed"
port=$(free_port)
start_sink "$port" -d "$TMP/cdump/%M."
sink=$LAST_PID
run "$KIRIM" send crash --relay "smtp://127.0.0.1:$port" --tls none --concurrency 4 --json
contains "recovery is reported" "$ERR" "recovered=$claimed"
eq "after the crash every message is delivered" "$(state_counts crash)" "delivered=2000"
stop "$sink"
got=$(cat cdump/* | grep -c '^Subject: Hello')
# At most: the 4 messages on a connection, plus those answered but not yet committed
# (one batch interval: a few ms, at the 4 messages a second this sink allows).
[ "$got" -ge 2000 ] && [ "$got" -le $((2000 + 8)) ] && ok "duplicates bounded by what was in flight" || bad "duplicates bounded" "$got messages arrived for 2000"
# 6. Pause and cancel from another process while a send runs (a global rate of 20/s makes
#    300 messages take 15 s): nothing new starts within about a second, nothing is lost.
"$KIRIM" domain set global --rate 20/s >/dev/null
gen_list live.csv 300 live
"$KIRIM" import live.csv --list live -q >/dev/null
new_campaign live live
p=$(free_port)
start_sink "$p"
"$KIRIM" send live --relay "smtp://127.0.0.1:$p" --tls none --json >live.json 2>live.err &
sender=$!
sleep 3
"$KIRIM" campaign pause live --reason "checking the list" >/dev/null
t0=$(date +%s.%N)
wait "$sender"
t1=$(date +%s.%N)
echo "pause: the send stopped $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the pause"
eq "pause: the sender says so" "$($PY3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["paused"], j["attempted"] < 300)' live.json)" "True True"
eq "pause: nothing claimed, nothing lost" "$(sql "SELECT sum(m.state='claimed'), sum(m.state IN ('queued','delivered')) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='live'")" "0|300"
eq "pause: still paused, with the reason" "$(sql "SELECT state, state_reason FROM campaigns WHERE name='live'")" "paused|checking the list"
"$KIRIM" campaign resume live >/dev/null
"$KIRIM" send live --relay "smtp://127.0.0.1:$p" --tls none --json >live2.json 2>live2.err &
sender=$!
sleep 2
"$KIRIM" campaign cancel live --yes >/dev/null
wait "$sender"
eq "cancel: nothing left queued or claimed" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='live' AND m.state IN ('queued','claimed')")" 0
eq "cancel: every message delivered or cancelled" "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='live' AND m.state IN ('delivered','cancelled')")" 300
run "$KIRIM" send live --relay "smtp://127.0.0.1:$p" --tls none
eq "cancel: a cancelled campaign is not sent" "$RC" 78
stop "$LAST_PID"
"$KIRIM" domain unset global >/dev/null

# 9. Send respects the schedule and the start checks (#18 item 6): a campaign scheduled for
#    later is refused unless --now, which says what it overrides; a draft is checked as
#    schedule checks it (a template that does not render for a recipient stops it).
gen_list later.csv 3 later
"$KIRIM" import later.csv --list later -q >/dev/null
new_campaign later later
"$KIRIM" campaign schedule later --at "2099-01-01 09:00" --tz UTC >/dev/null
sp=$(free_port)
start_sink "$sp"
run "$KIRIM" send later --relay "smtp://127.0.0.1:$sp" --tls none --json
eq "scheduled for later: refused" "$RC" 65
contains "scheduled for later: says when and how" "$ERR" "is scheduled for 2099-01-01 09:00:00: 'kirim run' starts it then"
eq "scheduled for later: nothing sent" "$(state_counts later)" ""
run "$KIRIM" send later --relay "smtp://127.0.0.1:$sp" --tls none --now
eq "--now sends it" "$RC $(state_counts later)" "0 delivered=3"
contains "--now says what it overrides" "$ERR" "ahead of its schedule (2099-01-01 09:00:00)"
printf 'email,name\nok@x.test,A\n' >draft.csv
"$KIRIM" import draft.csv --list draft -q >/dev/null
printf 'Subject: Hi\n\n--- text\nHi {{#items}}{{.}}{{/items}} {{unsubscribe_url}}\n' >ok.tpl
"$KIRIM" template add okt ok.tpl >/dev/null
"$KIRIM" campaign create emptydraft --list draft --template okt --from "Bench <news@example.com>" >/dev/null
"$KIRIM" suppress add ok@x.test >/dev/null
run "$KIRIM" send emptydraft --relay "smtp://127.0.0.1:$sp" --tls none
eq "a draft with no one to mail: refused as schedule refuses it" "$RC" 65
contains "a draft with no one to mail: why" "$ERR" "has no one to mail"
# 10. A new schedule replaces the old one at once (#18 item 5): messages held for a window
#     that is closed now are due again when the campaign is rescheduled without it.
closed=$(( (10#$(date -u +%H) + 12) % 24 ))
gen_list held.csv 4 held
"$KIRIM" import held.csv --list held -q >/dev/null
new_campaign held held
"$KIRIM" campaign schedule held --now --tz UTC --window "$(printf 'Mon-Sun %02d:00-%02d:59' "$closed" "$closed")" >/dev/null
run "$KIRIM" send held --relay "smtp://127.0.0.1:$sp" --tls none --json
eq "window closed: held, none sent" "$(json 'j["delivered"]') $(state_counts held)" "0 queued=4"
eq "window closed: held until it opens" "$(sql "SELECT min(next_attempt_at) - strftime('%s','now') > 3600 FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='held'")" 1
# status says how many wait for the window and when it opens (#18 item 7)
run "$KIRIM" status
contains "status: held for the window, and when it opens" "$OUT" "waiting: 4 outside the campaign's send window; the first at "
contains "status: it opens at the window's hour" "$OUT" "$(printf ' %02d:00:00 UTC' "$closed")"
run "$KIRIM" status --json
eq "status --json: the waiting group" "$(json '[ (w["kind"], w["why"], w["count"], w["next"][11:]) for c in j["campaigns"] if c["campaign"] == "held" for w in c["waiting"]]')" "[('held', \"outside the campaign's send window\", 4, '$(printf '%02d:00:00' "$closed")')]"
"$KIRIM" campaign pause held >/dev/null
"$KIRIM" campaign schedule held --now >/dev/null
eq "rescheduled without a window: due now" "$(sql "SELECT max(next_attempt_at) FROM messages m JOIN campaigns c ON c.id=m.campaign_id WHERE c.name='held'")" 0
run "$KIRIM" send held --relay "smtp://127.0.0.1:$sp" --tls none --json
eq "rescheduled: delivered" "$(state_counts held)" "delivered=4"
stop "$LAST_PID"

finish
