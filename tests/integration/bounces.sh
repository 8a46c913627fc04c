#!/usr/bin/env bash
# bounces.sh - returned mail: the classifier against ~500 real bounces with Sisimai's verdicts
# (agreement printed for the whole corpus and per fold of sources, floors asserted, and every
# bounce has a failed recipient), then the whole loop with real parts: kirim sends
# through a private Postfix to an aiosmtpd server that rejects some recipients, Postfix
# writes real DSNs to the VERP address, delivers them to `kirim bounces listen`, and the
# addresses end up suppressed. Also swaks against the listener (relaying refused, mailto
# unsubscribe), an ARF complaint, an auto-reply and a Maildir ingest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/postfix_lib.sh"

# The corpus is not in the repository: ../shared/corpora/bounces beside it, or $KIRIM_BOUNCE_CORPUS.
# Without that folder part 1 is skipped, the rest runs, and the test ends skipped (exit 77).
corpus=${KIRIM_BOUNCE_CORPUS:-$KIRIM_SRC/../shared/corpora/bounces}
corpus_missing=0
[ -e "$corpus" ] || corpus_missing=1

# 1. Accuracy against Sisimai's verdicts.
if [ "$corpus_missing" = 1 ]; then
	echo "bounce corpus: folder $corpus not found, part 1 skipped"
elif [ ! -f "$corpus/expected.tsv" ]; then
	bad "bounce corpus" "$corpus/expected.tsv missing"
else
"$KIRIM" bounces classify "$corpus"/eml/*.eml >classified.tsv
eq "classify exit" "$?" 0
# The counting, the folds (by file-name source) and the property live in tools/bounce-folds.
$PY3 "$KIRIM_SRC/tools/bounce-folds" --corpus "$corpus" --classified classified.tsv --machine >accuracy.txt
eq "bounce-folds exit" "$?" 0
read -r _ nfiles nfound nrcpt found cls_ok reason_ok nnot not_bounce nprop < <(grep '^TOTAL ' accuracy.txt)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
echo "bounce corpus: recipient found for $nfound/$nfiles messages Sisimai parses ($(pct "$nfound" "$nfiles")%), $found/$nrcpt recipients;" \
	"class agrees $cls_ok/$found ($(pct "$cls_ok" "$found")%), reason $reason_ok/$found ($(pct "$reason_ok" "$found")%);" \
	"not- files read as bounces: $not_bounce/$nnot"
# Per fold (docs/bounces.md: folds by source; dev folds were read while writing rules, the
# held-out ones only counted). Deliberate differences count as disagreements.
hf=0 hfound=0 hcls=0 hreason=0
while read -r _ k role f_files f_found f_rcpt f_got f_cls f_reason f_prop; do
	echo "bounce corpus: fold $k ($role): $f_found/$f_files messages, class $f_cls/$f_got ($(pct "$f_cls" "$f_got")%), reason $f_reason/$f_got ($(pct "$f_reason" "$f_got")%)"
	if [ "$role" = heldout ]; then
		hfound=$((hfound + f_got)) hcls=$((hcls + f_cls)) hreason=$((hreason + f_reason)) hf=$((hf + 1))
	fi
done < <(grep '^FOLD ' accuracy.txt)
echo "bounce corpus: held-out folds ($hf): class $hcls/$hfound ($(pct "$hcls" "$hfound")%), reason $hreason/$hfound ($(pct "$hreason" "$hfound")%); issue #19 target 95% and 85%"
# Floors just under today's figures (whole corpus 99.6% found, 90.8% class, 84.9% reason;
# held-out folds 90.7%, 82.4%: second round of #19, docs/bounces.md). Below the issue's targets (held-out 95%, 85%) and the old
# whole-corpus floors (97%, 90.5%), which rules fitted to every file reached: see
# docs/bounce-disagreements.md. The 2 messages still missed are deliberate (D6, D8).
awk -v f="$nfound" -v n="$nfiles" 'BEGIN { exit !(f >= n - 2) }' && ok "recipients found for all but the 2 documented" || bad "recipients found" "$nfound/$nfiles"
awk -v a="$cls_ok" -v n="$found" 'BEGIN { exit !(a >= 0.905 * n) }' && ok "class agrees >= 90.5%" || bad "class agreement" "$cls_ok/$found"
awk -v a="$reason_ok" -v n="$found" 'BEGIN { exit !(a >= 0.845 * n) }' && ok "reason agrees >= 84.5%" || bad "reason agreement" "$reason_ok/$found"
awk -v a="$hcls" -v n="$hfound" 'BEGIN { exit !(n > 0 && a >= 0.905 * n) }' && ok "held-out class agrees >= 90.5%" || bad "held-out class agreement" "$hcls/$hfound"
awk -v a="$hreason" -v n="$hfound" 'BEGIN { exit !(n > 0 && a >= 0.82 * n) }' && ok "held-out reason agrees >= 82%" || bad "held-out reason agreement" "$hreason/$hfound"
[ "$not_bounce" -eq 0 ] && ok "not- files are not bounces" || bad "not- files" "$not_bounce read as bounces"
# Nothing the server reports as failed comes out delivered or not-a-bounce: every message
# Sisimai reads as a bounce gives at least one hard or soft recipient (D6 exempt).
[ "$nprop" -eq 0 ] && ok "every bounce has a failed recipient" || bad "failed recipients" "$(grep '^PROPERTY ' accuracy.txt)"
fi

# 2. The loop with real parts.
printf '[sender]\nehlo = mta.kirim.test\n[bounce]\ndomain = bounce.test\n' >kirim.conf
export KIRIM_CONFIG="$TMP/kirim.conf"
printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
printf 'email\nok1@x.test\nok2@x.test\nreject1@x.test\nreject2@x.test\n' >l.csv
"$KIRIM" import l.csv --list l -q >/dev/null
"$KIRIM" campaign create c --list l --template t --from "News <news@kirim.test>" >/dev/null
A=$(free_port) L=$(free_port) P=$(free_port)
mkdir adump
start_server "$A" --pipelining --dump "$TMP/adump"
"$KIRIM" -v bounces listen --listen "127.0.0.1:$L" 2>listen.log &
listener=$!
PIDS+=("$listener")
wait_port "$L"
start_postfix "$P" "[127.0.0.1]:$A" "bounce.test=smtp:[127.0.0.1]:$L"
run "$KIRIM" send c --relay "smtp://127.0.0.1:$P" --tls none --json
eq "send through Postfix: all accepted by it" "$(json 'j["delivered"]')" 4
for _ in $(seq 1 60); do
	[ "$(sql "SELECT count(*) FROM suppressions WHERE reason='hard_bounce'")" = 2 ] && break
	sleep 0.5
done
eq "Postfix's DSNs reached the listener and suppressed both" "$(sql "SELECT group_concat(value, ' ') FROM (SELECT value FROM suppressions WHERE reason='hard_bounce' ORDER BY 1)")" "reject1@x.test reject2@x.test"
eq "the messages are bounced, classified" "$(sql "SELECT DISTINCT m.state || ' ' || m.reason || ' ' || m.class || ' ' || m.last_ecode FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.email LIKE 'reject%'")" "bounced userunknown hard 5.1.1"
eq "one dsn event each, with the remote MTA" "$(sql "SELECT count(*), count(DISTINCT e.message_id), min(e.host IS NOT NULL) FROM events e WHERE e.stage='dsn' AND e.type='bounced'")" "2|2|1"
eq "the others stay delivered" "$(sql "SELECT group_concat(state) FROM messages m JOIN contacts c ON c.id=m.contact_id WHERE c.email LIKE 'ok%'")" "delivered,delivered"
contains "the listener logged it" "$(cat listen.log)" "recorded"

# 3. swaks against the listener: only kirim's own addresses; mailto unsubscribe works.
swaks --server "127.0.0.1:$L" --to someone@bounce.test --from x@y.test >swaks1.out 2>&1
contains "listener: a non-VERP address is refused" "$(cat swaks1.out)" "550 5.7.1"
swaks --server "127.0.0.1:$L" --to user@elsewhere.test --from x@y.test >swaks2.out 2>&1
contains "listener: no relaying" "$(cat swaks2.out)" "550 5.7.1"
unsub=$(grep -h -o 'mailto:u-[a-z0-9]*@bounce.test' adump/*.eml | head -n 1 | sed 's/^mailto://')
ok1=$(grep -l '^To: ok1@x.test' adump/*.eml | head -n 1)
unsub=$(grep -o 'mailto:u-[a-z0-9]*@bounce.test' "$ok1" | head -n 1 | sed 's/^mailto://')
[ -n "$unsub" ] && ok "the message carries a mailto: unsubscribe" || bad "mailto unsubscribe" "none in $ok1"
swaks --server "127.0.0.1:$L" --to "$unsub" --from ok1@x.test --h-Subject unsubscribe >swaks3.out 2>&1
eq "mailto: unsubscribe accepted" "$?" 0
eq "mailto: unsubscribed" "$(sql "SELECT reason FROM suppressions WHERE value='ok1@x.test'")" unsubscribe

# 4. An ARF complaint about ok2's message (its Message-ID), ingested from a file.
ok2=$(grep -l '^To: ok2@x.test' adump/*.eml | head -n 1)
mid=$(grep -i -m1 '^Message-ID:' "$ok2" | sed 's/^[^:]*: *//' | tr -d '\r')
cat >arf.eml <<EOF2
From: fbl@isp.test
To: fbl-reports@kirim.test
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain

This is an abuse report.
--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: ok2@x.test

--b1
Content-Type: text/rfc822-headers

From: News <news@kirim.test>
To: ok2@x.test
Message-ID: $mid
Subject: Hi

--b1--
EOF2
run "$KIRIM" bounces ingest arf.eml --json
eq "complaint: recorded" "$(json 'j["complaints"], j["suppressed"]')" "1 1"
eq "complaint: suppressed as a complaint" "$(sql "SELECT reason FROM suppressions WHERE value='ok2@x.test'")" complaint
eq "complaint: an event" "$(sql "SELECT count(*) FROM events WHERE type='complaint'")" 1

# 5. An auto-reply is not a bounce; a Maildir is emptied into cur/ and kirim-failed/.
printf 'From: ok1@x.test\nTo: news@kirim.test\nSubject: Out of office\nAuto-Submitted: auto-replied\n\nI am away.\n' >vacation.eml
run "$KIRIM" bounces ingest - --json <vacation.eml
eq "auto-reply: counted, not a bounce" "$(json 'j["autoreplies"], j["recorded"]')" "1 0"
mkdir -p md/new md/cur md/tmp
cp vacation.eml md/new/1.eml
cp "$KIRIM_TESTDATA/dsn/postfix-rfc3464.eml" md/new/2.eml # a bounce of someone else's mail
head -c 300 /dev/urandom | tr -d '\n' >md/new/3.eml
run "$KIRIM" bounces ingest md --json
eq "maildir: new/ emptied" "$(ls md/new | wc -l)" 0
eq "maildir: read ones in cur/, marked seen" "$(ls md/cur | grep -c ':2,S$')" "$(($(ls md/cur | wc -l)))"
eq "maildir: every file accounted for" "$(($(ls md/cur | wc -l) + $(ls md/kirim-failed 2>/dev/null | wc -l)))" 3
eq "maildir: a foreign bounce is unmatched, not recorded" "$(json 'j["unmatched"] >= 1, j["recorded"]')" "True 0"

rollups_agree "rollups = recount after bounces of delivered messages" c
stop_postfix
kill -TERM "$listener"
wait "$listener"
eq "listener: SIGTERM stops it cleanly" "$?" 0
if [ "$corpus_missing" = 1 ] && [ "$FAILS" -eq 0 ]; then
	echo "$CHECKS checks, 0 failed"
	echo "SKIP bounce corpus: folder $corpus not found (set KIRIM_BOUNCE_CORPUS to it); the other $CHECKS checks passed"
	exit 77 # meson: skipped
fi
finish
