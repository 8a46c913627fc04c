#!/usr/bin/env bash
# tlsrpt.sh - TLS-RPT reports sent (#26, RFC 8460 5.3): the day's aggregate report of each
# policy domain, gzipped, to the rua= URIs of its _smtp._tls record (from the project's DNS
# server): a DKIM-signed multipart/report mail through the relay (an aiosmtpd server that
# keeps what it gets: Python's email parser, gzip and json read it back, dkimpy checks the
# signature) and a POST to an https: endpoint behind a test CA (https_server.py). A day goes
# to each URI once; a failure is tried again; kirim run sends yesterday's by itself.
# The sessions counted are written straight into tls_results (mtasts.sh tests the counting).
. "$(dirname "$0")/lib.sh"

SRC="${KIRIM_SRC:-.}"
mkdir certs www dump
$PY3 "$SERVER_PY" --make-certs "$TMP/certs"
$PY3 "$SERVER_PY" --make-cert "$TMP/certs" web "rpt.enf.test,rpt.down.test"
"$KIRIM" dkim keygen --domain kirim.test --selector s1 --out dkim.pem --json >key.json
cat >kirim.conf <<C
[sender]
domain = kirim.test
ehlo = mta.kirim.test
[tls]
ca_file = certs/ca.pem
[dkim]
domain = kirim.test
selector = s1
key_file = dkim.pem
C
export KIRIM_CONFIG="$TMP/kirim.conf"
"$KIRIM" init >/dev/null # the database

H=$(free_port)
D=$(free_udp_port)
{
	echo "_smtp._tls.enf.test. 60 IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@enf.test,https://rpt.enf.test:$H/tlsrpt\""
	echo "rpt.enf.test. 60 IN A 127.0.0.1"
	echo "_smtp._tls.down.test. 60 IN TXT \"v=TLSRPTv1; rua=https://rpt.down.test:$H/r\""
	echo "rpt.down.test. 60 IN A 127.0.0.1"
	echo "_smtp._tls.mail.test. 60 IN TXT \"v=TLSRPTv1;rua=mailto:reports@mail.test!10m\""
	echo "mail.test. 60 IN MX 10 mx.mail.test."
	echo "mx.mail.test. 60 IN A 127.0.0.5"
	echo "norec.test. 60 IN A 127.0.0.1"
} >zone.txt
$PY3 "$SRC/tests/integration/dns_server.py" "$D" zone "$TMP/zone.txt" >server-dns.log 2>&1 &
PIDS+=($!)
$PY3 "$SRC/tests/integration/https_server.py" --port "$H" --cert certs/web.pem --key certs/web.key --dir "$TMP/www" >server-https.log 2>&1 &
PIDS+=($!)
wait_port "$H"
P=$(free_port)
start_server "$P" --dump "$TMP/dump"
echo reject >www/rpt.down.test.how

# Yesterday's sessions: enf.test (MTA-STS, one failure type), down.test, mail.test, and
# norec.test, which has no TLS-RPT record.
today=$(($(date +%s) / 86400))
y=$((today - 1))
yday=$(date -u -d "@$((y * 86400))" +%F)
count() { # count DAY DOMAIN TYPE RESULT SESSIONS
	sql "INSERT INTO tls_results VALUES ($1, '$2', '$3', '$([ "$3" = sts ] && printf 'version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400')', 'mx.good.test', '127.0.0.2', '127.0.0.1', '$4', '$([ "$4" = success ] || echo 'certificate verify failed')', $5)"
}
count $y enf.test sts success 7
count $y enf.test sts certificate-expired 2
count $y down.test no-policy-found success 1
count $y mail.test no-policy-found success 3
count $y norec.test no-policy-found success 4
count $today enf.test sts success 5

SEND=(--relay "smtp://127.0.0.1:$P" --tls none --dns-server "127.0.0.1:$D")
run "$KIRIM" tlsrpt send --day "$yday" "${SEND[@]}" --json
eq "send: exit 75 (one endpoint refused)" "$RC" 75
eq "send: each URI's outcome" "$(json '" ".join(sorted("%s:%s:%s" % (r["domain"], r["uri"] or "-", r["result"]) for r in j))')" \
	"down.test:https://rpt.down.test:$H/r:failed enf.test:https://rpt.enf.test:$H/tlsrpt:sent enf.test:mailto:tlsrpt@enf.test:sent mail.test:mailto:reports@mail.test!10m:sent norec.test:-:no_record"
contains "send: why the POST failed" "$(json '[r["error"] for r in j if r["result"] == "failed"][0]')" "HTTP 503"

# The mail: RFC 8460 5.3's headers and parts, the report inside, the signature.
eq "mail: two arrived" "$(ls dump/*.eml 2>/dev/null | wc -l)" 2
eq "mail: what the RFC asks" "$($PY3 - dump <<'PYEND'
import email, glob, gzip, json, sys
from email import policy
for f in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    m = email.message_from_binary_file(open(f, "rb"), policy=policy.default)
    if "enf.test" not in m["To"]:
        continue
    env = json.load(open(f[:-4] + ".json"))
    parts = list(m.iter_parts())
    att = [p for p in parts if p.get_content_type() == "application/tlsrpt+gzip"][0]
    rep = json.loads(gzip.decompress(att.get_content()))
    pol = rep["policies"][0]
    print(m.get_content_type(), m.get_param("report-type"), m["TLS-Report-Domain"],
          m["TLS-Report-Submitter"], "subject-ok" if m["Subject"].startswith(
              "Report Domain: enf.test Submitter: kirim.test Report-ID: <") else m["Subject"],
          bool(m["Date"]), bool(m["Message-ID"]), m["From"], env["rcpt_tos"],
          parts[0].get_content_type(), att.get_filename().startswith("kirim.test!enf.test!"),
          att.get_filename().endswith(".json.gz"), rep["organization-name"],
          rep["date-range"]["start-datetime"][:10], rep["report-id"] in m["Subject"],
          pol["policy"]["policy-type"], pol["summary"]["total-successful-session-count"],
          pol["summary"]["total-failure-session-count"],
          pol["failure-details"][0]["result-type"])
PYEND
)" "multipart/report tlsrpt enf.test kirim.test subject-ok True True tlsrpt-noreply@kirim.test ['tlsrpt@enf.test'] text/plain True True kirim.test $yday True sts 7 2 certificate-expired"
eq "mail: the size limit of a mailto: URI is not part of the address" "$(grep -h -o '"rcpt_tos": \[[^]]*\]' dump/*.json | sort | tr '\n' ' ')" '"rcpt_tos": ["reports@mail.test"] "rcpt_tos": ["tlsrpt@enf.test"] '
eq "mail: DKIM-signed as kirim signs (dkimpy)" "$($PY3 - dump key.json <<'PYEND'
import dkim, glob, json, sys
txt = json.load(open(sys.argv[2]))["txt"].encode()
print(" ".join("ok" if dkim.verify(open(f, "rb").read(), dnsfunc=lambda n, timeout=5: txt) else "fail"
               for f in sorted(glob.glob(sys.argv[1] + "/*.eml"))))
PYEND
)" "ok ok"
# The POST: its type, and the same report, gzipped.
eq "POST: path and type" "$(cat www/rpt.enf.test.posts)" "/tlsrpt application/tlsrpt+gzip"
eq "POST: the report" "$($PY3 -c 'import gzip, json, sys; r = json.loads(gzip.decompress(open(sys.argv[1], "rb").read())); print(r["policies"][0]["policy"]["policy-domain"], r["policies"][0]["summary"]["total-successful-session-count"])' www/rpt.enf.test.post.1)" "enf.test 7"
eq "recorded" "$(sql "SELECT group_concat(domain || ':' || (uri <> ''), ' ') FROM (SELECT * FROM tlsrpt_sent ORDER BY domain, uri)")" "enf.test:1 enf.test:1 mail.test:1 norec.test:0"

# Again: only what failed is tried again; what went is not sent twice.
rm www/rpt.down.test.how
run "$KIRIM" tlsrpt send --day "$yday" "${SEND[@]}"
eq "again: exit 0" "$RC" 0
contains "again: down.test posted now" "$OUT" "down.test: sent to https://rpt.down.test:$H/r"
contains "again: enf.test sent before" "$OUT" "enf.test: sent before to mailto:tlsrpt@enf.test"
eq "again: no second mail" "$(ls dump/*.eml | wc -l)" 2
eq "again: no second POST to enf.test" "$(ls www/rpt.enf.test.post.* | wc -l)" 1
eq "again: down.test's report" "$(ls www/rpt.down.test.post.* | wc -l)" 1

# Bad input and set-up: a day that is not one; mail without a relay.
run "$KIRIM" tlsrpt send --day 2026-02-30
eq "a bad day: usage" "$RC" 64
run "$KIRIM" tlsrpt report --relay smtp://127.0.0.1:25
eq "--relay is send's" "$RC" 64
run "$KIRIM" tlsrpt send --direct --relay "smtp://127.0.0.1:$P"
eq "--direct and --relay: usage" "$RC" 64

# Without a relay, a mailto: report goes straight to the MX hosts of the address's domain
# (mx.mail.test, an smtp-sink), DKIM-signed, as kirim sends a campaign direct.
sql "DELETE FROM tlsrpt_sent WHERE domain = 'mail.test'"
M=$(free_port)
run "$KIRIM" tlsrpt send --day "$yday" --domain mail.test --dns-server "127.0.0.1:$D" --mx-port "$M"
eq "no relay, MX down: exit 75" "$RC" 75
contains "no relay, MX down: says which host" "$ERR" "mx.mail.test: connect"
mkdir -p sink && chmod 777 sink
start_sink_at 127.0.0.5 "$M" -d "$TMP/sink/%M."
run "$KIRIM" tlsrpt send --day "$yday" --domain mail.test --dns-server "127.0.0.1:$D" --mx-port "$M"
eq "no relay: sent" "$RC" 0
contains "no relay: to the address" "$OUT" "mail.test: sent to mailto:reports@mail.test!10m"
eq "no relay: at the MX host, DKIM-signed (dkimpy)" "$($PY3 - sink key.json <<'PYEND'
import dkim, glob, json, sys
txt = json.load(open(sys.argv[2]))["txt"].encode()
files = glob.glob(sys.argv[1] + "/*")
raw = open(files[0], "rb").read() if len(files) == 1 else b""
# smtp-sink puts the envelope on top (X-Rcpt-Args:, ...): above the signature, not signed.
print(len(files), b"X-Rcpt-Args: <reports@mail.test>" in raw, b"TLS-Report-Domain: mail.test" in raw,
      "ok" if dkim.verify(raw, dnsfunc=lambda n, timeout=5: txt) else "fail")
PYEND
)" "1 True True ok"

# kirim run sends yesterday's once a day: a day later, today's counts go by themselves.
run at +1d "$KIRIM" run --once "${SEND[@]}"
eq "kirim run: exit" "$RC" 0
contains "kirim run: logged" "$ERR" "tlsrpt domain=enf.test uri=mailto:tlsrpt@enf.test result=sent"
eq "kirim run: today's report mailed" "$(ls dump/*.eml | wc -l)" 3
eq "kirim run: and posted" "$(ls www/rpt.enf.test.post.* | wc -l)" 2
eq "kirim run: today recorded" "$(sql "SELECT count(*) FROM tlsrpt_sent WHERE day = $today")" 2
run at +1d "$KIRIM" run --once "${SEND[@]}"
eq "kirim run again: nothing sent twice" "$(ls dump/*.eml | wc -l)" 3

finish
