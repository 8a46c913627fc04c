#!/usr/bin/env bash
# esp_hooks.sh - providers' webhooks in (#22 item 6): Amazon SES through SNS (signature checked
# against a signing certificate fetched over HTTPS from a real server behind a test CA, made
# here with openssl; subscriptions confirmed), SendGrid's signed event webhook and Postmark's
# bounce webhook with HTTP Basic auth, POSTed to kirim serve's public listener. Payloads are
# written here in each provider's documented format and signed by tests/integration/esp_sign.py
# (its own canonical string). Each accepted event must do what the same DSN does: an event,
# a hard bounce or a complaint suppressing, a soft bounce not; a retry counted once; a tampered
# signature or bad credentials refused with nothing written.
. "$(dirname "$0")/lib.sh"

SRC="${KIRIM_SRC:-.}"
SIGN="$PY3 $SRC/tests/integration/esp_sign.py"
SECRET=esp-test-secret-0123456789abcdef
TOPIC=arn:aws:sns:us-test-1:123456789012:kirim-bounces
SNSHOST=sns.us-test-1.amazonaws.com

# Certificates: a test CA, the HTTPS server's certificate for the SNS host, and the RSA key and
# certificate SNS signs with; an EC P-256 key for SendGrid.
mkdir certs www "www/$SNSHOST.d"
o() { openssl "$@" 2>/dev/null; }
o req -x509 -newkey rsa:2048 -nodes -keyout certs/ca.key -out certs/ca.pem -days 2 -subj "/CN=kirim test CA"
o req -newkey rsa:2048 -nodes -keyout certs/web.key -out certs/web.csr -subj "/CN=$SNSHOST"
printf 'subjectAltName=DNS:%s\n' "$SNSHOST" >certs/web.ext
o x509 -req -in certs/web.csr -CA certs/ca.pem -CAkey certs/ca.key -CAcreateserial -out certs/web.pem -days 2 -extfile certs/web.ext
o req -x509 -newkey rsa:2048 -nodes -keyout certs/sns.key -out "www/$SNSHOST.d/SimpleNotificationService-test.pem" -days 2 -subj "/CN=$SNSHOST"
o req -x509 -newkey rsa:2048 -nodes -keyout certs/evil.key -out certs/evil.pem -days 2 -subj "/CN=evil"
o ecparam -name prime256v1 -genkey -noout -out certs/sg.key
o ecparam -name prime256v1 -genkey -noout -out certs/sg-other.key
[ -s certs/web.pem ] && [ -s certs/sg.key ] && ok "certificates made" || bad "certificates" "openssl failed"
echo '<ConfirmSubscriptionResponse/>' >"www/$SNSHOST.d/index"

echo "$SNSHOST. 60 IN A 127.0.0.1" >zone.txt
start_dns_zone "$TMP/zone.txt"
start_https certs/web.pem certs/web.key "$TMP/www"
CERT_URL="https://$SNSHOST:$H/SimpleNotificationService-test.pem"

cat >kirim.conf <<C
[sender]
ehlo = mta.kirim.test
[secret]
value = $SECRET
[hooks]
ses_topics = $TOPIC
sns_cert_hosts = sns.*.amazonaws.com
sns_ca_file = certs/ca.pem
sns_dns = 127.0.0.1:$D
sendgrid_key = $($SIGN sendgrid-pub certs/sg.key)
postmark_user = pm
postmark_password = pm-secret-1
C
printf '[sender]\nehlo = mta.kirim.test\n[secret]\nvalue = %s\n' "$SECRET" >plain.conf
export KIRIM_CONFIG="$TMP/kirim.conf"

# Ten recipients, each message accepted by the relay (smtp-sink): what an ESP webhook reports on.
printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
campaign_to spring ses-hard@a.test ses-soft@a.test ses-complaint@a.test ses-tamper@a.test \
	sg-hard@a.test sg-spam@a.test sg-ok@a.test pm-hard@a.test pm-soft@a.test pm-spam@a.test
sport=$(free_port)
start_sink "$sport"
PIDS+=("$LAST_PID")
run "$KIRIM" send spring --relay "smtp://127.0.0.1:$sport" --tls none
eq "sent" "$(sql "SELECT count(*) FROM messages WHERE state = 'delivered'")" 10
CAMP=$(sql "SELECT id FROM campaigns WHERE name = 'spring'")
cid() { sql "SELECT id FROM contacts WHERE email = '$1'"; }
mid() { echo "k.$(make_token "$SECRET" m "$CAMP" "$(cid "$1")")@a.test"; }
events() { sql "SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts c ON c.id = m.contact_id WHERE c.email = '$1' AND e.stage = 'dsn'"; }
supp() { sql "SELECT coalesce((SELECT reason FROM suppressions WHERE value = '$1'), 'none')"; }

# Outgoing webhooks see what the providers report, as they see a DSN's bounce: a receiver
# that checks kirim's signature with its own code.
printf 'esp-webhook-secret-0123456789abcdef\n' >wh-secret.txt
rport=$(free_port)
$PY3 "$SRC/tests/integration/webhook_receiver.py" --port "$rport" --secret-file wh-secret.txt --log wh.log &
PIDS+=($!)
wait_port "$rport"
"$KIRIM" webhooks add "http://127.0.0.1:$rport/hook" --events bounced,complained --secret-file wh-secret.txt >/dev/null
port=$(free_port)
"$KIRIM" serve --listen "127.0.0.1:$port" --admin-listen off --rate 0 2>>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$port"
BASE="http://127.0.0.1:$port"
# post PATH FILE [CURL ARGS...] - POST the file's bytes; the status in $CODE, the body in $BODY
post() {
	local path=$1 file=$2
	shift 2
	BODY=$(curl -s -o - -w '\n%{http_code}' -X POST --data-binary "@$file" \
		-H 'Content-Type: application/json' "$@" "$BASE$path")
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}

# --- 1. Amazon SES through SNS -------------------------------------------------------------
# ses_bounce TYPE ADDRESS STATUS DIAG - an SES Bounce notification (its Message) in ses.json
ses_bounce() {
	cat >ses.json <<J
{"notificationType":"Bounce","bounce":{"bounceType":"$1","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"$2","action":"failed","status":"$3","diagnosticCode":"$4"}],"timestamp":"2026-12-07T09:59:58.000Z","feedbackId":"0100-fb","reportingMTA":"dsn; a27-1.smtp-out.us-test-1.amazonses.com"},"mail":{"timestamp":"2026-12-07T09:59:50.000Z","source":"news@kirim.test","messageId":"0100018c-ses-id","destination":["$2"],"commonHeaders":{"messageId":"<$(mid "$2")>","subject":"Hi"}}}
J
}
# sns TYPE ID [VERSION] [CERT_URL] [SUBSCRIBE_URL TOKEN] - ses.json as an SNS message in sns.json
sns() {
	$SIGN sns certs/sns.key "${3:-2}" "${4:-$CERT_URL}" "$1" "$TOPIC" "$2" ses.json "${@:5}" >sns.json
}

# Subscription: confirmed by a GET of its SubscribeURL, for the configured topic only.
echo '{"note":"You have chosen to subscribe to the topic"}' >ses.json
SUB="https://$SNSHOST:$H/?Action=ConfirmSubscription&TopicArn=$TOPIC&Token=tok-1234"
sns SubscriptionConfirmation sub-1 1 "$CERT_URL" "$SUB" tok-1234
post /hooks/ses sns.json
eq "subscription confirmed" "$CODE" 200
contains "SubscribeURL fetched" "$(cat "www/$SNSHOST.log" 2>/dev/null)" "Token=tok-1234"
sed "s/kirim-bounces/someone-elses/g" sns.json >other.json
post /hooks/ses other.json
eq "another topic refused" "$CODE" 403

# A permanent bounce, SignatureVersion 2: recorded against the message, the address suppressed.
ses_bounce Permanent ses-hard@a.test 5.1.1 "smtp; 550 5.1.1 user unknown"
sns Notification ses-n1
post /hooks/ses sns.json
eq "SES hard bounce taken" "$CODE" 200
contains "SES hard bounce recorded" "$BODY" "recorded=1"
eq "SES hard bounce event" "$(events ses-hard@a.test)" 1
eq "SES hard bounce suppresses" "$(supp ses-hard@a.test)" hard_bounce
eq "SES hard bounce's message" "$(sql "SELECT m.state || ' ' || m.reason FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'ses-hard@a.test'")" "bounced userunknown"
# SNS retries: the same message again changes nothing.
post /hooks/ses sns.json
eq "SES retry taken" "$CODE" 200
contains "SES retry counted as one" "$BODY" "duplicates=1"
eq "SES retry: still one event" "$(events ses-hard@a.test)" 1
# Tampered: another recipient put in the Message after signing.
ses_bounce Permanent ses-tamper@a.test 5.1.1 "smtp; 550 5.1.1 user unknown"
$PY3 -c "import json,sys; m=json.load(open('sns.json')); m['Message']=open('ses.json').read(); print(json.dumps(m))" >tampered.json
post /hooks/ses tampered.json
eq "tampered SNS message refused" "$CODE" 401
eq "tampered: nothing written" "$(events ses-tamper@a.test)|$(supp ses-tamper@a.test)" "0|none"
# Signed with a key of our own, its certificate on a host SNS does not use.
$SIGN sns certs/evil.key 1 "https://evil.example.com:$H/evil.pem" Notification "$TOPIC" ses-evil ses.json >evil.json
post /hooks/ses evil.json
eq "certificate from another host refused" "$CODE" 401
$SIGN sns certs/evil.key 1 "http://$SNSHOST:$H/SimpleNotificationService-test.pem" Notification "$TOPIC" ses-evil2 ses.json >evil.json
post /hooks/ses evil.json
eq "certificate over http refused" "$CODE" 401
eq "forged: nothing written" "$(events ses-tamper@a.test)" 0
# A transient bounce: recorded soft, not suppressed; a complaint suppresses.
ses_bounce Transient ses-soft@a.test 4.2.2 "smtp; 452 4.2.2 mailbox full"
sns Notification ses-n2 1
post /hooks/ses sns.json
eq "SES soft bounce taken" "$CODE" 200
eq "SES soft bounce class" "$(sql "SELECT e.class FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'ses-soft@a.test' AND e.stage = 'dsn'")" soft
eq "SES soft bounce does not suppress" "$(supp ses-soft@a.test)" none
cat >ses.json <<J
{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"ses-complaint@a.test"}],"timestamp":"2026-12-07T10:01:00.000Z","feedbackId":"0100-c","complaintFeedbackType":"abuse"},"mail":{"messageId":"0100018c-ses-id2","commonHeaders":{"messageId":"<$(mid ses-complaint@a.test)>"}}}
J
sns Notification ses-n3
post /hooks/ses sns.json
eq "SES complaint taken" "$CODE" 200
eq "SES complaint suppresses" "$(supp ses-complaint@a.test)" complaint
eq "SES complaint event" "$(sql "SELECT e.type FROM events e JOIN messages m ON m.id = e.message_id JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'ses-complaint@a.test' AND e.stage = 'dsn'")" complaint
eq "certificate fetched once" "$(grep -c SimpleNotificationService-test.pem "www/$SNSHOST.log")" 1

# --- 2. SendGrid ---------------------------------------------------------------------------
NOW=$(date +%s)
cat >sg.json <<J
[{"email":"sg-hard@a.test","timestamp":$NOW,"smtp-id":"<$(mid sg-hard@a.test)>","event":"bounce","category":[],"sg_event_id":"sg-ev-1","sg_message_id":"sg-m-1.filter","reason":"550 5.1.1 The email account that you tried to reach does not exist","status":"5.1.1","type":"bounce"},
 {"email":"sg-spam@a.test","timestamp":$NOW,"event":"spamreport","sg_event_id":"sg-ev-2","sg_message_id":"sg-m-2.filter","kirim_campaign":"spring"},
 {"email":"sg-ok@a.test","timestamp":$NOW,"smtp-id":"<$(mid sg-ok@a.test)>","event":"delivered","response":"250 OK","sg_event_id":"sg-ev-3","sg_message_id":"sg-m-3.filter"},
 {"email":"sg-ok@a.test","timestamp":$NOW,"event":"open","sg_event_id":"sg-ev-4","useragent":"Mozilla"}]
J
sgpost() { # sgpost FILE KEY [TIMESTAMP]
	local ts=${3:-$NOW}
	post /hooks/sendgrid "$1" -H "X-Twilio-Email-Event-Webhook-Signature: $($SIGN sendgrid "$2" "$ts" "$1")" \
		-H "X-Twilio-Email-Event-Webhook-Timestamp: $ts"
}
sgpost sg.json certs/sg-other.key
eq "SendGrid: another key's signature refused" "$CODE" 401
sgpost sg.json certs/sg.key $((NOW - 3600))
eq "SendGrid: stale timestamp refused" "$CODE" 401
post /hooks/sendgrid sg.json
eq "SendGrid: no signature refused" "$CODE" 401
eq "SendGrid refusals wrote nothing" "$(events sg-hard@a.test)|$(supp sg-hard@a.test)|$(sql "SELECT count(*) FROM esp_events WHERE provider = 'sendgrid'")" "0|none|0"
sgpost sg.json certs/sg.key
eq "SendGrid batch taken" "$CODE" 200
contains "SendGrid counts" "$BODY" "events=4 recorded=1 complaints=1 duplicates=0 unmatched=0 other=2"
eq "SendGrid bounce suppresses" "$(supp sg-hard@a.test)" hard_bounce
eq "SendGrid spam report suppresses (by campaign and address)" "$(supp sg-spam@a.test)" complaint
eq "SendGrid delivered changes nothing" "$(events sg-ok@a.test)|$(supp sg-ok@a.test)" "0|none"
sgpost sg.json certs/sg.key
contains "SendGrid retry counted once" "$BODY" "recorded=0 complaints=0 duplicates=2"
eq "SendGrid retry: one event each" "$(events sg-hard@a.test)$(events sg-spam@a.test)" 11

# --- 3. Postmark ---------------------------------------------------------------------------
pm() { # pm TYPE RECORDTYPE ID ADDRESS DETAILS - a Postmark webhook record in pm.json
	cat >pm.json <<J
{"RecordType":"$2","ID":$3,"Type":"$1","TypeCode":1,"Name":"$1","Tag":"spring","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Metadata":{},"ServerID":23,"MessageStream":"outbound","Description":"The server was unable to deliver your message","Details":"$5","Email":"$4","From":"news@kirim.test","BouncedAt":"2026-12-07T10:02:00Z","DumpAvailable":false,"Inactive":true,"CanActivate":true,"Subject":"Hi"}
J
}
pm HardBounce Bounce 4001 pm-hard@a.test "smtp;550 5.1.1 The email account that you tried to reach does not exist"
post /hooks/postmark pm.json -u pm:wrong-password
eq "Postmark: wrong password refused" "$CODE" 401
contains "Postmark: asked for credentials" "$(curl -s -D - -o /dev/null -X POST --data-binary @pm.json "$BASE/hooks/postmark")" 'WWW-Authenticate: Basic realm="kirim hooks"' 
post /hooks/postmark pm.json
eq "Postmark: no credentials refused" "$CODE" 401
eq "Postmark refusals wrote nothing" "$(events pm-hard@a.test)|$(supp pm-hard@a.test)" "0|none"
post /hooks/postmark pm.json -u pm:pm-secret-1
eq "Postmark hard bounce taken" "$CODE" 200
eq "Postmark hard bounce suppresses" "$(supp pm-hard@a.test)" hard_bounce
post /hooks/postmark pm.json -u pm:pm-secret-1
contains "Postmark retry counted once" "$BODY" "duplicates=1"
eq "Postmark retry: one event" "$(events pm-hard@a.test)" 1
pm SoftBounce Bounce 4002 pm-soft@a.test "smtp;452 4.2.2 mailbox full"
post /hooks/postmark pm.json -u pm:pm-secret-1
eq "Postmark soft bounce recorded" "$(events pm-soft@a.test)" 1
eq "Postmark soft bounce does not suppress" "$(supp pm-soft@a.test)" none
pm SpamComplaint SpamComplaint 4003 pm-spam@a.test ""
post /hooks/postmark pm.json -u pm:pm-secret-1
eq "Postmark complaint suppresses" "$(supp pm-spam@a.test)" complaint
echo '{"RecordType":"Bounce","Type":"HardBounce"' >bad.json
post /hooks/postmark bad.json -u pm:pm-secret-1
eq "Postmark: broken JSON is a 400" "$CODE" 400

# --- 4. Limits and the rest of kirim seeing the events ---------------------------------------
# A batch bigger than the listener's 4 KiB limit for other paths is taken on a hook.
$PY3 -c "import json; print(json.dumps([{'email': 'sg-ok@a.test', 'event': 'open', 'sg_event_id': 'open-%d' % i, 'useragent': 'Mozilla/5.0 (X11; Linux x86_64)'} for i in range(100)]))" >opens.json
NOW=$(date +%s)
sgpost opens.json certs/sg.key
eq "a 10 KB SendGrid batch taken" "$CODE|$(stat -c %s opens.json | awk '{print ($1 > 8192)}')" "200|1"
contains "its 100 events counted" "$BODY" "events=100"
head -c 5000 /dev/zero | tr '\0' 'x' >five.txt
eq "other paths keep the 4 KiB limit" "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @five.txt "$BASE/u/abc")" 413
head -c 2000000 /dev/zero | tr '\0' ' ' >big.json
post /hooks/sendgrid big.json
eq "a body over 1 MiB refused" "$CODE" 413
post /hooks/nobody sg.json
eq "an unknown provider is a 404" "$CODE" 404
eq "GET of a hook is a 405" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/hooks/ses")" 405
run "$KIRIM" --json suppress list
eq "suppress list shows them" "$(json "' '.join(sorted(s['value'] + '=' + s['reason'] for s in j))")" \
	"pm-hard@a.test=hard_bounce pm-spam@a.test=complaint ses-complaint@a.test=complaint ses-hard@a.test=hard_bounce sg-hard@a.test=hard_bounce sg-spam@a.test=complaint"
run "$KIRIM" --json report spring
eq "the report counts them" "$(json "j['messages']['counts']['bounced_hard'], j['summary']['complaints']")" "3 3"
# wh_pairs - the (email, type) pairs the receiver took with a good signature, sorted
wh_pairs() { $PY3 -c "import json; print(' '.join(sorted(set(a + '=' + b for r in map(json.loads, open('wh.log')) if r['sig'] for a, b in r['pairs']))))" 2>/dev/null; }
want_wh="pm-hard@a.test=bounced pm-soft@a.test=bounced pm-spam@a.test=complained ses-complaint@a.test=complained ses-hard@a.test=bounced ses-soft@a.test=bounced sg-hard@a.test=bounced sg-spam@a.test=complained"
for _ in $(seq 1 100); do [ "$(wh_pairs)" = "$want_wh" ] && break; sleep 0.2; done
eq "outgoing webhooks carry them" "$(wh_pairs)" "$want_wh"
kill "$srv"
wait "$srv"
eq "kirim serve stops cleanly (no leak, no error)" "$?" 0
grep -q 'hooks provider=ses event=ses-n1/ses-hard@a.test type="Permanent/General" result=recorded ' serve.log &&
	ok "logged" || bad "logged" "$(grep "event=ses-n1" serve.log | head -3)"

rollups_agree "provider events: rollups = recount" spring

# Not configured: the endpoints are not there.
port=$(free_port)
KIRIM_CONFIG="$TMP/plain.conf" "$KIRIM" serve --listen "127.0.0.1:$port" --admin-listen off 2>>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$port"
BASE="http://127.0.0.1:$port"
post /hooks/postmark pm.json -u pm:pm-secret-1
eq "unconfigured Postmark hook is a 404" "$CODE" 404
post /hooks/ses sns.json
eq "unconfigured SES hook is a 404" "$CODE" 404
stop "$srv"
finish
