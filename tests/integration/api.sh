#!/usr/bin/env bash
# api.sh - kirim's HTTP API (`kirim serve --admin-listen`) with a real client (Python's
# http.client): tokens and scopes, every resource's happy path, problem details, malformed
# and oversized bodies, ETag conflicts, keyset pagination while contacts are added, the
# audit log, and every response checked against docs/openapi.json (tests/integration/
# api_openapi.py; the document itself by an npm validator when npm is there).
. "$(dirname "$0")/lib.sh"

CALL="${KIRIM_SRC:-.}/tests/integration/api_call.py"
export API_LOG="$TMP/responses.jsonl" API_TOKEN=
: >"$API_LOG"
cat >kirim.conf <<EOF
[secret]
value = api-test-secret-0123456789abcdef
[unsubscribe]
url = https://mail.example/u/
EOF
export KIRIM_CONFIG="$TMP/kirim.conf"

# api METHOD PATH [BODY] [HEADER...] - a request with $API_TOKEN: status in $ST, headers
# (JSON) in $HD, body in $OUT
api() {
	local m=$1 p=$2
	shift 2
	local b=${1-}
	[ $# -gt 0 ] && shift
	$PY3 "$CALL" "$aport" "$m" "$p" "$b" "$@" >"$TMP/.api" 2>"$TMP/.apierr"
	ST=$(sed -n 1p "$TMP/.api")
	HD=$(sed -n 2p "$TMP/.api")
	OUT=$(sed -n '3,$p' "$TMP/.api")
	[ -n "$ST" ] || { ST=000; OUT=$(cat "$TMP/.apierr"); }
}
# hdr NAME - a response header of the last call
hdr() { printf '%s' "$HD" | $PY3 -c "import json,sys; print(json.load(sys.stdin).get('$1',''))"; }
# st LABEL WANT - the last call's status
st() { eq "$1" "$ST" "$2"; [ "$ST" = "$2" ] || printf '  body: %.300s\n' "$OUT"; }

printf 'email,first_name,city\nann@one.example,Ann,Oslo\nbob@two.example,Bob,Rome\ncyd@three.example,Cyd,Lima\n' >l.csv
"$KIRIM" import l.csv --list news -q >/dev/null
cat >t.tpl <<'EOF'
Subject: News for {{first_name|friend}}

--- text
Hi {{first_name|friend}} from {{city}}. Unsubscribe: {{unsubscribe_url}}
--- html
<p>Hi {{first_name|friend}}.</p><a href="{{unsubscribe_url}}">Unsubscribe</a>
EOF
"$KIRIM" template add welcome t.tpl >/dev/null

# 1. Tokens: made once, listed without the secret, one per scope.
run "$KIRIM" token create --name reader --scope read
eq "token create" "$RC" 0
READ=$OUT
contains "token shape" "$READ" "kirim_"
eq "token length" "${#READ}" 49
WRITE=$("$KIRIM" token create --name crm --scope write 2>/dev/null)
ADMIN=$("$KIRIM" token create --name ops --scope admin 2>/dev/null)
OLD=$("$KIRIM" token create --name old --scope admin 2>/dev/null)
run "$KIRIM" token create --name crm --scope read
eq "name taken" "$RC" 65
run "$KIRIM" token create --name 'bad name' --scope read
eq "bad name" "$RC" 65
run "$KIRIM" token create --name x --scope root
eq "bad scope" "$RC" 64
run "$KIRIM" --json token list
eq "token list" "$(json '",".join(t["name"]+":"+t["scope"] for t in j)')" "crm:write,old:admin,ops:admin,reader:read"
case "$OUT" in *"$WRITE"*) bad "list shows no secret" "$OUT" ;; *) ok "list shows no secret" ;; esac
eq "only hashes stored" "$(sql "SELECT count(*) FROM api_tokens WHERE hash = '$WRITE' OR prefix = '$WRITE'")" 0
eq "hash is SHA-256" "$(sql "SELECT lower(hex(hash)) FROM api_tokens WHERE name = 'crm'")" "$(printf '%s' "$WRITE" | sha256sum | cut -d' ' -f1)"

# 2. The admin listener: its own port; the public one does not answer /api.
port=$(free_port)
aport=$(free_port)
"$KIRIM" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$aport" 2>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$port"
wait_port "$aport"
eq "public listener has no API" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/status")" 404
eq "admin listener has no public routes" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/healthz")" 404

# 3. Authentication and scopes.
API_TOKEN=
api GET /api/status
st "no token" 401
eq "problem type" "$(hdr content-type)" "application/problem+json"
eq "problem body" "$(json 'j["status"], j["title"], j["instance"]')" "401 Unauthorized /api/status"
eq "WWW-Authenticate" "$(hdr www-authenticate)" 'Bearer realm="kirim"'
API_TOKEN=kirim_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
api GET /api/status
st "wrong token" 401
contains "wrong token says so" "$(json 'j["detail"]')" "not valid"
API_TOKEN=$READ
api GET /api/status
st "status" 200
eq "status body" "$(json 'j["schema_version"], j["version"] != ""')" "$(sql 'PRAGMA user_version') True"
api GET /api/status "" "Authorization: Basic YTpi"
st "basic auth" 401
api POST /api/lists '{"name":"x"}'
st "read token cannot write" 403
contains "scope problem" "$(json 'j["type"], j["detail"]')" "urn:kirim:problem:scope"
API_TOKEN=$WRITE
api PATCH /api/domains/example.com '{"max_connections":2}'
st "write token cannot set policies" 403
API_TOKEN=$OLD
api GET /api/status
st "admin token" 200
"$KIRIM" token revoke old >/dev/null
api GET /api/status
st "revoked token" 401
contains "revoked says so" "$(json 'j["detail"]')" "revoked"

# 4. Lists.
API_TOKEN=$WRITE
api GET /api/lists
st "lists" 200
eq "lists body" "$(json '[(l["name"], l["members"]) for l in j["items"]], j["next_cursor"]')" "[('news', 3)] None"
# Without counts (a page that only names lists): the same lists, members and suppressed null.
api GET "/api/lists?counts=false"
st "lists without counts" 200
eq "lists without counts: body" "$(json '[(l["name"], l["members"], l["suppressed"]) for l in j["items"]]')" "[('news', None, None)]"
api GET "/api/lists?counts=maybe"
st "lists: counts not a boolean" 400
api POST /api/lists '{"name":"vip"}'
st "list create" 201
eq "list Location" "$(hdr location)" "/api/lists/vip"
etag=$(hdr etag)
contains "list ETag" "$etag" '"'
api POST /api/lists '{"name":"vip"}'
st "list create again: the same list" 200
api GET /api/lists/vip
st "list get" 200
eq "list get ETag" "$(hdr etag)" "$etag"
api POST /api/lists '{"name":""}'
st "empty list name" 422
api POST /api/lists '{"name":"x","color":"red"}'
st "unknown field" 422
api GET "/api/lists/no%20such"
st "no such list" 404
api DELETE /api/lists/vip "" 'If-Match: "0000000000000000"'
st "list delete, stale If-Match" 412
# A list a segment names stays (as `kirim lists delete` refuses it), saying which segment.
"$KIRIM" segment add vips 'list("vip")' >/dev/null
api DELETE /api/lists/vip "" "If-Match: $etag"
st "list delete, a segment names it" 409
contains "list delete, which segment" "$OUT" "used by segment 'vips'"
"$KIRIM" segment remove vips >/dev/null
api DELETE /api/lists/vip "" "If-Match: $etag"
st "list delete" 200
api GET /api/lists/vip
st "deleted list" 404

# 5. Malformed and unacceptable requests: problem details, nothing changed.
api POST /api/lists '{"name":'
st "malformed JSON" 400
eq "malformed JSON problem" "$(json 'j["type"]')" "urn:kirim:problem:invalid-json"
api POST /api/lists '[1,2]'
st "JSON not an object" 400
api POST /api/lists '{"name":"a","name":"b"}'
st "duplicate keys" 400
api POST /api/lists 'name=x' 'Content-Type: application/x-www-form-urlencoded'
st "not JSON" 415
api PUT /api/lists '{}'
st "method not allowed" 405
eq "Allow" "$(hdr allow)" "GET, HEAD, POST"
api GET /api/nothing
st "unknown path" 404
api GET "/api/lists?sort=name"
st "unknown query parameter" 400
api GET "/api/lists?limit=0"
st "limit 0" 400
api GET "/api/lists?cursor=garbage"
st "bad cursor" 400

# 6. Contacts: one, a batch, get, search by prefix, patch with If-Match, erase.
api POST /api/contacts '{"email":"Dan@Four.example","attrs":{"first_name":"Dan","city":"Kyiv"},"lists":["news","vip"]}'
st "contact create" 201
eq "contact Location" "$(hdr location)" "/api/contacts/Dan@four.example"
eq "contact body" "$(json 'j["email"], j["attrs"]["city"], j["lists"]')" "Dan@four.example Kyiv ['news', 'vip']"
api POST /api/contacts '{"email":"dan@four.example","attrs":{"city":"Lviv","first_name":null}}'
st "contact upsert (merge)" 200
eq "merged" "$(json 'j["attrs"]')" "{'city': 'Lviv'}"
api POST /api/contacts '{"email":"not an address"}'
st "bad address" 422
contains "bad address says why" "$(json 'j["detail"]')" "not an address"
api POST /api/contacts '{"email":"a@b.example","attrs":[1]}'
st "attrs not an object" 422
api POST /api/contacts '{"contacts":[{"email":"e1@batch.example","lists":["news"]},{"email":"bad"},{"email":"ann@one.example","attrs":{"city":"Bergen"}},{"email":"bob@two.example"}]}'
st "batch" 200
eq "batch counts" "$(json 'j["created"], j["updated"], j["unchanged"], j["failed"]')" "1 1 1 1"
eq "batch results" "$(json '[r["result"] for r in j["results"]]')" "['created', 'failed', 'updated', 'unchanged']"
eq "batch stored" "$(sql "SELECT json_extract(attrs, '$.city') FROM contacts WHERE email = 'ann@one.example'")" "Bergen"
api GET /api/contacts/ANN@one.example
st "contact get (any case)" 200
eq "contact get body" "$(json 'j["email"], j["lists"], j["suppressed"]')" "ann@one.example ['news'] None"
cetag=$(hdr etag)
api GET /api/contacts/nobody@one.example
st "no such contact" 404
api GET "/api/contacts?prefix=b"
st "prefix search" 200
eq "prefix b" "$(json '[c["email"] for c in j["items"]]')" "['bob@two.example']"
api GET "/api/contacts?prefix=E1%40"
st "prefix search, escaped, any case" 200
eq "prefix E1@" "$(json '[c["email"] for c in j["items"]]')" "['e1@batch.example']"
api GET "/api/contacts?list=vip"
eq "list filter" "$(json '[c["email"] for c in j["items"]]')" "['Dan@four.example']"
# The same page when the list is under 1% of the contacts (read from the list, sorted,
# instead of walking the address index: store_contact_page's other way).
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
	INSERT INTO contacts(email, domain, attrs, created_at, updated_at)
	SELECT 'pad' || i || '@pad.example', 'pad.example', '{}', 0, 0 FROM n" >/dev/null
api GET "/api/contacts?list=vip"
eq "list filter, a small list" "$(json '[c["email"] for c in j["items"]]')" "['Dan@four.example']"
sql "DELETE FROM contacts WHERE domain = 'pad.example'" >/dev/null
api GET "/api/contacts?list=none"
st "list filter, no such list" 404
api PATCH /api/contacts/ann@one.example '{"attrs":{"city":"Tromso"}}' 'If-Match: "0000000000000000"'
st "patch, stale ETag" 412
eq "patch refused: unchanged" "$(sql "SELECT json_extract(attrs, '$.city') FROM contacts WHERE email = 'ann@one.example'")" "Bergen"
api PATCH /api/contacts/ann@one.example '{"attrs":{"city":"Tromso"}}' "If-Match: $cetag"
st "patch with the ETag" 200
netag=$(hdr etag)
[ "$netag" != "$cetag" ] && ok "new ETag" || bad "new ETag" "$netag"
api PATCH /api/contacts/ann@one.example '{"attrs":{"city":"Oslo"}}' "If-Match: $cetag"
st "second editor with the old ETag" 412
api PATCH /api/contacts/ann@one.example '{"email":"x@y.example"}'
st "address cannot change" 422
api PATCH /api/contacts/nobody@one.example '{"attrs":{}}'
st "patch unknown contact" 404

# 7. Suppressions.
api POST /api/suppressions '{"values":["cyd@three.example","@spam.example"],"reason":"complaint"}'
st "suppress" 200
eq "suppress results" "$(json 'j["added"], [(r["kind"], r["value"]) for r in j["results"]]')" "2 [('address', 'cyd@three.example'), ('domain', 'spam.example')]"
api POST /api/suppressions '{"value":"not valid@@"}'
st "suppress bad value" 422
api POST /api/suppressions '{"value":"x@y.example","reason":"bored"}'
st "suppress bad reason" 422
api GET /api/suppressions
st "suppressions" 200
eq "newest first" "$(json '[s["value"] for s in j["items"]]')" "['spam.example', 'cyd@three.example']"
api GET "/api/suppressions?limit=1"
c1=$(json 'j["next_cursor"]')
api GET "/api/suppressions?limit=1&cursor=$c1"
eq "suppressions page 2" "$(json '[s["value"] for s in j["items"]], j["next_cursor"]')" "['cyd@three.example'] None"
api GET /api/contacts/cyd@three.example
eq "contact shows its suppression" "$(json 'j["suppressed"]')" "complaint"
api DELETE /api/suppressions/spam.example
st "unsuppress" 200
api DELETE /api/suppressions/spam.example
st "unsuppress again" 404

# 8. Erasure (docs/contacts.md): the contact and its memberships go; its suppression in
# clear becomes the address's hash, and no row names it, the audit log's included.
api DELETE /api/contacts/cyd@three.example
st "erase" 200
eq "erased" "$(sql "SELECT count(*) FROM contacts WHERE email = 'cyd@three.example'")" 0
eq "suppression kept as a hash" "$(sql "SELECT kind, reason FROM suppressions WHERE value = '$(printf cyd@three.example | sha256sum | cut -d' ' -f1)'")" "hash|erased"
eq "no row names it" "$(sqlite3 -batch "$KIRIM_DB" .dump | grep -ci 'cyd@three')" 0
api DELETE /api/contacts/cyd@three.example
st "erase again" 404
api POST /api/contacts '{"email":"Cyd@Three.example","lists":["news"]}'
st "an erased address is not added again" 409
contains "erased: says why" "$(json 'j["detail"]')" "erased at its owner's request"
eq "erased: still no row names it" "$(sqlite3 -batch "$KIRIM_DB" .dump | grep -ci 'cyd@three')" 0

# 9. The audit log: every change, with the token and the client.
API_TOKEN=$ADMIN
api GET /api/audit
st "audit" 200
eq "audit rows" "$(json '[(a["token"], a["method"], a["path"], a["status"]) for a in j["items"] if a["method"] != "CLI"][:3]')" "[('crm', 'POST', '/api/lists', 201), ('crm', 'POST', '/api/lists', 200), ('crm', 'DELETE', '/api/lists/vip', 200)]"
run "$KIRIM" audit --json
eq "kirim audit: no refused change" "$(json 'sum(1 for a in j if a["status"] >= 300)')" 0
eq "kirim audit: client" "$(json 'sorted(set(a["client"] for a in j))')" "['127.0.0.1', 'local']"
contains "kirim audit: resource" "$(json '[a["resource"] for a in j]')" "contact:ann@one.example"
run "$KIRIM" audit --since 1h
contains "kirim audit text" "$OUT" "DELETE  200  /api/contacts/(erased)"
run "$KIRIM" audit --since yesterday-ish
eq "kirim audit bad --since" "$RC" 64
api GET /api/audit
API_TOKEN=$WRITE
api GET /api/audit
st "audit needs admin" 403

# 10. Templates: list, get a version, a new version (parts or a template file's text),
# render with data, lint against a list.
API_TOKEN=$WRITE
api GET /api/templates
st "templates" 200
eq "templates body" "$(json '[(t["name"], t["version"], t["parts"]) for t in j["items"]]')" "[('welcome', 1, 'text+html')]"
api GET /api/templates/welcome
st "template get" 200
eq "template get body" "$(json 'j["version"], j["subject"]')" "1 News for {{first_name|friend}}"
api POST /api/templates '{"name":"welcome","subject":"Hello {{first_name}}","text":"Hi {{fist_name}}. Unsubscribe: {{unsubscribe_url}}"}'
st "template new version" 201
eq "version 2" "$(json 'j["version"], j["html"]')" "2 None"
api POST /api/templates "$($PY3 -c 'import json; print(json.dumps({"name":"promo","source":open("t.tpl").read()}))')"
st "template from a file's text" 201
eq "template source parts" "$(json 'j["subject"]')" "News for {{first_name|friend}}"
api POST /api/templates '{"name":"bad","subject":"x","text":"{{#open}} never closed"}'
st "template syntax error" 422
contains "syntax error names the part" "$(json 'j["detail"]')" "text part: 1:"
api POST /api/templates '{"name":"bad","text":"no subject"}'
st "template without a subject" 422
api POST /api/templates '{"name":"a:b","subject":"x","text":"y"}'
st "template bad name" 422
api GET "/api/templates/welcome?version=1"
eq "template version 1" "$(json 'j["version"]')" 1
api GET "/api/templates/welcome?version=9"
st "no such version" 404
api POST /api/templates/welcome/render '{"data":{"first_name":"Ann <3"},"version":1}'
st "render" 200
eq "render subject" "$(json 'j["subject"]')" "News for Ann <3"
contains "render html escaped" "$(json 'j["html"]')" "Hi Ann &lt;3."
api POST /api/templates/welcome/render '{"data":{"first_name":"Ann"}}'
eq "render latest" "$(json 'j["subject"], j["text"]')" "Hello Ann Hi . Unsubscribe: "
api GET "/api/templates/welcome/lint?list=news"
st "lint" 200
eq "lint missing field" "$(json '[(m["field"], m["suggestion"]) for m in j["missing_fields"]]')" "[('fist_name', 'first_name')]"
api GET "/api/templates/welcome/lint?list=news&version=1"
eq "lint version 1" "$(json 'j["missing_fields"], j["warnings"]')" "[] []"
api GET "/api/templates/welcome/lint?list=nope"
st "lint unknown list" 404
# The template editor's: a draft rendered for a contact, the raw message, proofs, If-Match.
api POST /api/templates/unsaved/render '{"subject":"Hi {{first_name}}","html":"<p>{{city}} {{email}}</p>","contact":"ann@one.example"}'
st "render a draft" 200
eq "draft rendered for the contact" "$(json 'j["subject"], j["text"], j["html"]')" "Hi Ann None <p>Tromso ann@one.example</p>"
api POST /api/templates/unsaved/render '{"subject":"x","html":"{{#a}}","data":{}}'
st "draft that does not compile" 422
api POST /api/templates/welcome/render '{"subject":"x","text":"y","version":1}'
st "draft and version" 422
api POST /api/templates/welcome/render '{"contact":"nobody@x.example"}'
st "render: no such contact" 404
api POST /api/contacts '{"email":"eve@bücher.example","attrs":{"first_name":"Eve"}}'
st "a contact at a Unicode domain" 201
api POST /api/templates/unsaved/render '{"subject":"Hi {{first_name}}","text":"x","contact":"Eve@Bücher.example"}'
st "render for it, named as it was given" 200
eq "rendered with its attributes" "$(json 'j["subject"]')" "Hi Eve"
api POST /api/templates/welcome/message '{"to":"ann@one.example","from":"Shop <news@shop.example>","version":1}'
st "raw message" 200
contains "raw message: type" "$(hdr content-type)" "message/rfc822"
contains "raw message: the contact's" "$OUT" "Subject: News for Ann"
contains "raw message: sender" "$OUT" "From: Shop <news@shop.example>"
api POST /api/templates/welcome/message '{"to":"ann@one.example","from":"not an address"}'
st "raw message: bad sender" 422
api POST /api/templates/welcome/test '{"to":["seed@seed.example"],"from":"news@shop.example"}'
st "test send: no relay configured" 502
contains "test send: why" "$(json 'j["detail"]')" "[relay] url"
api POST /api/templates/welcome/test '{"to":["not an address"],"from":"news@shop.example"}'
st "test send: bad seed" 422
api POST /api/templates/welcome/test '{"to":[],"from":"news@shop.example"}'
st "test send: no seed" 422
API_TOKEN=$READ
api POST /api/templates/welcome/test '{"to":["seed@seed.example"],"from":"news@shop.example"}'
st "test send needs write" 403
API_TOKEN=$WRITE
api GET /api/templates/welcome
tag=$(hdr etag)
api POST /api/templates '{"name":"welcome","subject":"v3","text":"t {{unsubscribe_url}}"}' "If-Match: $tag"
st "save over the version read" 201
api POST /api/templates '{"name":"welcome","subject":"v4","text":"t"}' "If-Match: $tag"
st "save over a stale version: 412" 412

# 11. Campaigns: create, get, schedule, pause, resume, cancel, plan, report (after a send).
sport=$(free_port)
start_sink "$sport"
api POST /api/campaigns "{\"name\":\"spring\",\"list\":\"news\",\"template\":\"welcome:1\",\"from\":\"Shop <news@shop.example>\",\"headers\":[\"X-Campaign: spring\"]}"
st "campaign create" 201
eq "campaign body" "$(json 'j["name"], j["state"], j["template_version"], j["from"], j["headers"]')" "spring draft 1 news@shop.example [['X-Campaign', 'spring']]"
eq "campaign Location" "$(hdr location)" "/api/campaigns/spring"
api POST /api/campaigns '{"name":"spring","list":"news","template":"welcome","from":"news@shop.example"}'
st "campaign name taken" 409
api POST /api/campaigns '{"name":"x","list":"nope","template":"welcome","from":"news@shop.example"}'
st "campaign unknown list" 422
api POST /api/campaigns '{"name":"x","list":"news","template":"welcome","from":"not an address"}'
st "campaign bad from" 422
api POST /api/campaigns '{"name":"x","list":"news","template":"welcome","from":"a@b.example","track_opens":"yes"}'
st "campaign bad bool" 422
api GET /api/campaigns/spring
st "campaign get" 200
api POST /api/campaigns/spring/schedule '{"at":"2999-01-01 09:00","tz":"UTC","window":"Mon-Fri 09:00-17:00"}'
st "schedule" 200
eq "scheduled" "$(json 'j["state"], j["from"], j["scheduled_at"], j["window"], j["recipients"]')" "scheduled draft 2999-01-01T09:00:00Z Mon-Fri 09:00-17:00 4"
api POST /api/campaigns/spring/schedule '{"at":"2000-01-01 09:00","tz":"UTC"}'
st "schedule in the past" 422
api POST /api/campaigns/spring/resume
st "resume a scheduled campaign" 409
contains "state problem" "$(json 'j["type"]')" "urn:kirim:problem:state"
api POST /api/campaigns/spring/pause '{"reason":"waiting for legal"}'
st "pause" 200
eq "paused" "$(json 'j["state"], j["reason"]')" "paused waiting for legal"
api POST /api/campaigns/spring/resume '{}'
st "resume" 200
api POST /api/campaigns/spring/unschedule
st "unschedule" 200
eq "draft again" "$(json 'j["state"]')" "draft"
api POST /api/campaigns/spring/launch
st "no such move" 404
api POST /api/campaigns/nope/pause
st "move unknown campaign" 404
api GET "/api/campaigns/spring/plan?relay=smtp://127.0.0.1:$sport"
st "plan" 200
eq "plan body" "$(json 'j["campaign"], j["messages"], j["relay"] is not None')" "spring 4 True"
api GET "/api/campaigns/spring/plan?relay=smtp://127.0.0.1:1&direct=true"
st "plan relay and direct" 400
run "$KIRIM" send spring --relay "smtp://127.0.0.1:$sport" --tls none --json
eq "sent" "$(json 'j["delivered"]')" 4
api GET /api/campaigns/spring/report
st "report" 200
eq "report body" "$(json 'j["schema_version"], j["campaign"]["name"], j["messages"]["counts"]["delivered"]')" "2 spring 4"
# Outcomes by day over every campaign (the dashboard's totals): an unsubscribe today, a
# complaint ten days ago (inside the default 30 days, outside 7).
now=$(date +%s)
sql "INSERT INTO events(message_id, ts, type) SELECT min(id), $now, 'unsubscribe' FROM messages;
     INSERT INTO events(message_id, ts, type) SELECT min(id), $((now - 10 * 86400)), 'complaint' FROM messages"
api GET "/api/stats?days=7"
st "stats" 200
eq "stats: 7 days, today last, this send's deliveries" "$(json 'j["days"], len(j["items"]), j["items"][-1]["day"], j["totals"]["delivered"], sum(d["delivered"] for d in j["items"]), j["totals"]["unsubscribes"], j["totals"]["complaints"]')" "7 7 $(date -u +%F) 4 4 1 0"
api GET /api/stats
eq "stats: 30 days by default, the complaint in them" "$(json 'j["days"], len(j["items"]), j["totals"]["complaints"], [d["complaints"] for d in j["items"]].index(1)')" "30 30 1 19"
api GET "/api/stats?days=0"
st "stats: days 0" 400
api GET "/api/stats?days=week"
st "stats: days not a number" 400
api GET "/api/stats?since=1"
st "stats: unknown parameter" 400
api GET "/api/campaigns/spring/report?format=csv&by=summary"
st "report as CSV" 200
contains "report CSV type" "$(hdr content-type)" "text/csv"
api GET /api/campaigns/spring/log
st "attempt log" 200
contains "attempt log type" "$(hdr content-type)" "text/csv"
eq "attempt log rows" "$(printf '%s\n' "$OUT" | grep -c '@')" 4
api GET /api/campaigns/nope/log
st "log unknown campaign" 404
api GET "/api/campaigns/spring/report?format=pdf"
st "report bad format" 400
api GET /api/campaigns/nope/report
st "report unknown campaign" 404
api POST /api/campaigns '{"name":"autumn","list":"news","template":"welcome:1","from":"news@shop.example"}'
api POST /api/campaigns/autumn/cancel
st "cancel a draft" 200
api GET /api/campaigns
st "campaigns" 200
eq "newest first" "$(json '[c["name"] for c in j["items"]]')" "['autumn', 'spring']"
api GET "/api/campaigns?limit=1"
api GET "/api/campaigns?limit=1&cursor=$(json 'j["next_cursor"]')"
eq "campaigns page 2" "$(json '[c["name"] for c in j["items"]], j["next_cursor"]')" "['spring'] None"
stop "$LAST_PID"

# 12. Domain policies (admin): set, read, clear a field, remove.
API_TOKEN=$ADMIN
api PATCH /api/domains/shop.example '{"max_connections":3,"rate":"10/s"}'
st "policy set" 200
eq "policy body" "$(json 'j["pattern"], j["max_connections"], j["rate"]["text"], j["source"]')" "shop.example 3 10/s user"
petag=$(hdr etag)
api PATCH /api/domains/shop.example '{"max_connections":0}'
st "policy bad value" 422
api PATCH /api/domains/shop.example '{"colour":"red"}'
st "policy unknown field" 422
api PATCH /api/domains/shop.example '{"rate":null}' 'If-Match: "0000000000000000"'
st "policy stale If-Match" 412
api PATCH /api/domains/shop.example '{"rate":null}' "If-Match: $petag"
st "policy clear a field" 200
eq "rate inherits" "$(json 'j["rate"], j["max_connections"]')" "None 3"
api GET /api/domains/SHOP.example
st "effective policy" 200
eq "effective from" "$(json 'j["domain"], j["max_connections"], j["from"]["max_connections"]')" "shop.example 3 shop.example"
api GET /api/domains
st "policies" 200
contains "policies list" "$(json '[p["pattern"] for p in j["items"]]')" "'shop.example'"
api DELETE /api/domains/shop.example
st "policy remove" 200
api DELETE /api/domains/shop.example
st "policy remove again" 404

# 13. Keyset pagination over 100,000 contacts while contacts are added between pages
# (tests/integration/api_pages.py): every first contact exactly once, no duplicates, in
# order; new ones after the cursor seen, behind it not.
API_TOKEN=$WRITE
$PY3 -c '
import random
random.seed(7)
with open("many.csv", "w") as f, open("many.txt", "w") as w:
    f.write("email,n\n")
    for i in random.sample(range(10**7), 100000):
        f.write("p-%07d@many.example,%d\n" % (i, i)); w.write("p-%07d@many.example\n" % i)
'
"$KIRIM" import many.csv --list many -q >/dev/null
eq "100,000 imported" "$(sql "SELECT count(*) FROM contacts WHERE email LIKE 'p-%'")" 100000
run env API_LOG= $PY3 "${KIRIM_SRC:-.}/tests/integration/api_pages.py" "$aport" p- many.txt
eq "pagination while adding" "$RC" 0
printf '%s\n' "$OUT" | grep -q '^pages=' && ok "pagination ran" || bad "pagination ran" "$OUT $ERR"
echo "pagination: $OUT"
printf '%s\n' "$OUT" | grep '^FAIL' && bad "pagination" "$OUT"

# 13b. Imports: a CSV as the body, imported in the background with kirim import's checks.
# import_wait - GET $iloc until the import is done or failed (30 s at most)
import_wait() {
	for _ in $(seq 1 300); do
		api GET "$iloc"
		case "$(json 'j["state"]')" in done | failed) return ;; esac
		sleep 0.1
	done
}
API_TOKEN=$WRITE
printf 'email,first_name\nimp1@imp.example,I1\nnot an address,X\nimp2@imp.example,I2\nimp1@imp.example,again\n' >imp.csv
api POST "/api/imports?list=imported" @imp.csv 'Content-Type: text/csv'
st "import queued" 202
iloc=$(hdr location)
contains "import Location" "$iloc" "/api/imports/"
import_wait
eq "import done" "$(json 'j["state"], j["error"]')" "done None"
eq "import summary" "$(json 'j["summary"]["imported"], j["summary"]["rejected"], j["summary"]["duplicates"]')" "2 1 1"
eq "imported contacts" "$(sql "SELECT count(*) FROM list_members m JOIN lists l ON l.id = m.list_id WHERE l.name = 'imported'")" 2
printf 'no address column here\nfoo\n' >bad.csv
api POST "/api/imports?list=imported" @bad.csv 'Content-Type: text/csv'
st "bad import queued" 202
iloc=$(hdr location)
import_wait
eq "bad import failed" "$(json 'j["state"]')" failed
contains "bad import says why" "$(json 'j["error"]')" "address"
api POST "/api/imports?list=imported" @imp.csv
st "import needs text/csv" 415
api POST "/api/imports" @imp.csv 'Content-Type: text/csv'
st "import needs a list" 400
api GET /api/imports/999
st "unknown import" 404
api GET "$iloc/rejects"
st "a failed import has no rejects" 409
# The import wizard's steps: a look at the file first (nothing written), then kirim
# import's --map, --ignore-column and --tags-column, and the rejected rows to download.
printf 'E-mail;First Name;City;Groups\nmap1@imp.example;Mia;Oslo;a,b\nbad row;X;Y;\n' >map.csv
api POST /api/imports/preview @map.csv 'Content-Type: text/csv'
st "preview" 200
eq "preview: sniffed" "$(json 'j["delimiter"], j["encoding"], j["email_column"], j["header"], j["rows"][0], j["more"]')" "; utf-8 E-mail ['E-mail', 'First Name', 'City', 'Groups'] ['map1@imp.example', 'Mia', 'Oslo', 'a,b'] False"
eq "preview: nothing written" "$(sql "SELECT count(*) FROM contacts WHERE email = 'map1@imp.example'")" 0
printf 'email,name\nz@x.example,Z\xe9e\n' >latin.csv
api POST /api/imports/preview @latin.csv 'Content-Type: text/csv'
eq "preview: an encoding guessed" "$(json 'j["encoding"], j["encoding_guessed"], j["rows"]')" "windows-1252 True [['z@x.example', 'Zée']]"
api POST "/api/imports/preview?delimiter=pipe" @map.csv 'Content-Type: text/csv'
st "preview: bad delimiter" 400
api POST /api/imports/preview '' 'Content-Type: text/csv'
st "preview: empty" 422
api POST "/api/imports?list=mapped&map=First+Name%3Dfirst_name&ignore_column=City&tags_column=Groups" @map.csv 'Content-Type: text/csv'
st "import with a mapping" 202
iloc=$(hdr location)
import_wait
eq "mapped import" "$(json 'j["state"], j["summary"]["imported"], j["summary"]["rejected"], j["rejects"]')" "done 1 1 $iloc/rejects"
eq "mapped attributes" "$(sql "SELECT attrs FROM contacts WHERE email = 'map1@imp.example'")" '{"first_name":"Mia"}'
eq "mapped tags" "$(sql "SELECT group_concat(tag, ',') FROM (SELECT ct.tag FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.email = 'map1@imp.example' ORDER BY ct.tag)")" "a,b"
api GET "$iloc/rejects"
st "rejects" 200
contains "rejects: the row" "$OUT" '3,"bad row;X;Y;",'
API_TOKEN=$READ
api POST /api/imports/preview @map.csv 'Content-Type: text/csv'
st "preview needs write" 403
API_TOKEN=$WRITE

# 13c. Webhooks through the API (admin); kirim webhooks sees the same.
API_TOKEN=$WRITE
api POST /api/webhooks '{"url":"http://127.0.0.1:9/hook","events":["delivered"],"secret":"0123456789abcdef"}'
st "webhook needs admin" 403
API_TOKEN=$ADMIN
api POST /api/webhooks '{"url":"http://127.0.0.1:9/hook","events":["delivered","bounced"],"secret":"0123456789abcdef"}'
st "webhook add" 201
wloc=$(hdr location)
eq "webhook body" "$(json 'j["events"], "secret" in j, j["pending"]')" "['delivered', 'bounced'] False 0"
api POST /api/webhooks '{"url":"https://user:pw@x.example/hook","events":["delivered"],"secret":"0123456789abcdef"}'
st "webhook with a password in the URL refused" 422
contains "webhook refusal says why" "$(json 'j["detail"]')" "user info"
api POST /api/webhooks '{"url":"http://x.example/hook","events":["exploded"],"secret":"0123456789abcdef"}'
st "webhook unknown event" 422
api GET /api/webhooks
st "webhooks" 200
eq "webhooks list" "$(json '[w["url"] for w in j["items"]]')" "['http://127.0.0.1:9/hook']"
api GET "$wloc"
st "webhook get" 200
run "$KIRIM" --json webhooks status
eq "kirim webhooks status sees it" "$(json '[w["url"] for w in j]')" "['http://127.0.0.1:9/hook']"
api DELETE "$wloc"
st "webhook delete" 200
api GET "$wloc"
st "deleted webhook" 404
api POST /api/webhooks '{"url":"https://hooks.x.example:8443/kirim","events":["delivered"],"secret":"0123456789abcdef"}'
st "webhook https" 201
eq "webhook https body" "$(json 'j["url"]')" "https://hooks.x.example:8443/kirim"
api DELETE "$(hdr location)"
st "webhook https delete" 200

# 13b. Segments, a contact's tags and attributes, delete without erasure (#21): the same app
# calls as kirim segment and kirim contacts tag|set|delete.
API_TOKEN=$WRITE
api POST /api/segments '{"name":"oslo","expression":"city = \"Oslo\" or tag(\"vip\")"}'
st "segment create" 201
eq "segment Location" "$(hdr location)" "/api/segments/oslo"
eq "segment body" "$(json 'j["name"], j["expression"], j["tree"]["or"][0]["attr"]')" 'oslo city = "Oslo" or tag("vip") city'
want=$(sql "SELECT count(*) FROM contacts c WHERE json_extract(c.attrs, '$.city') = 'Oslo' OR c.id IN (SELECT contact_id FROM contact_tags WHERE tag = 'vip')")
eq "segment count, live" "$(json 'j["contacts"]')" "$want"
api POST /api/segments '{"name":"oslo","expression":"city = \"Oslo\""}'
st "segment create: name taken" 409
api POST /api/segments '{"name":"bad","expression":"city = "}'
st "segment create: does not parse" 422
contains "segment create: says where" "$(json 'j["detail"]')" "1:"
api POST /api/segments '{"name":"both","expression":"tag(\"x\")","tree":{"tag":"x"}}'
st "segment create: expression and tree" 422
api POST /api/segments '{"name":"viaj","tree":{"and":[{"list":"news"},{"not":{"attr":"city","op":"=","value":"Rome"}}]}}'
st "segment create from the tree" 201
eq "segment tree as text" "$(json 'j["expression"]')" 'list("news") and not (city = "Rome")'
api POST /api/contacts/bob@two.example/tags '{"add":["vip","Gold"],"remove":["none"]}'
st "contact tags" 200
eq "contact tags body" "$(json 'j["added"], j["tags"]')" "2 ['Gold', 'vip']"
api GET /api/segments/oslo
st "segment get" 200
eq "segment count follows the tag" "$(json 'j["contacts"]')" "$((want + 1))"
api PUT /api/segments/oslo '{"expression":"segment(\"oslo\")"}'
st "segment update: a loop" 422
api PUT /api/segments/oslo '{"expression":"tag(\"gold\")"}'
st "segment update" 200
eq "segment updated" "$(json 'j["expression"], j["contacts"]')" 'tag("gold") 1'
api PUT /api/segments/fresh '{"tree":{"tag":"gold"}}'
st "segment put: new" 201
api GET /api/segments
st "segments" 200
eq "segments list" "$(json '[s["name"] for s in j["items"]]')" "['fresh', 'oslo', 'viaj']"
# A condition counted without being stored (the console's live count): a read, as
# `kirim segment count` counts it; checked the same way.
API_TOKEN=$READ
api POST /api/segments/count '{"expression":"city = \"Oslo\"  or  city = \"Rome\""}'
st "segment count" 200
want=$(sql "SELECT count(*) FROM contacts WHERE json_extract(attrs, '$.city') IN ('Oslo', 'Rome')")
eq "segment count: canonical, contacts" "$(json 'j["expression"], j["contacts"], j["suppressed"]')" "city = \"Oslo\" or city = \"Rome\" $want 0"
eq "segment count: as the CLI's" "$("$KIRIM" --json segment count 'city = "Oslo" or city = "Rome"' | $PY3 -c 'import json,sys; print(json.load(sys.stdin)["contacts"])')" "$want"
api POST /api/segments/count '{"tree":{"list":"news"}}'
eq "segment count: a tree" "$ST $(json 'j["contacts"]')" "200 $(sql "SELECT count(*) FROM list_members m JOIN lists l ON l.id = m.list_id WHERE l.name = 'news'")"
api POST /api/segments/count '{"expression":"city = "}'
st "segment count: does not parse" 422
api POST /api/segments/count '{"expression":"list(\"nope\")"}'
st "segment count: no such list" 422
contains "segment count: which list" "$(json 'j["detail"]')" "nope"
api POST /api/segments/count '{}'
st "segment count: nothing to count" 422
api POST /api/segments/count '{"name":"x","expression":"tag(\"a\")"}'
st "segment count: stores nothing (no name)" 422
eq "segment count: nothing stored" "$(sql "SELECT count(*) FROM segments WHERE name = 'x'")" 0
# A campaign whose audience is a segment (less a list), as `campaign create --segment S
# --exclude-list L` makes one.
API_TOKEN=$WRITE
api POST /api/campaigns '{"name":"segcamp","audience":[{"kind":"segment","name":"oslo"},{"kind":"exclude-list","name":"news"}],"template":"welcome","from":"news@shop.example"}'
st "campaign from a segment" 201
eq "campaign from a segment: its audience" "$(sql "SELECT group_concat(a.kind || ':' || a.name || ':' || (coalesce(a.segment_id, a.list_id) IS NOT NULL), ' ') FROM (SELECT * FROM campaign_audience ORDER BY pos) a JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = 'segcamp'")" "segment:oslo:1 exclude-list:news:1"
api POST /api/campaigns '{"name":"segcamp2","audience":[{"kind":"segment","name":"nope"}],"template":"welcome","from":"news@shop.example"}'
st "campaign: no such segment" 422
contains "campaign: which segment" "$(json 'j["detail"]')" "nope"
api POST /api/campaigns '{"name":"segcamp2","audience":[{"kind":"group","name":"oslo"}],"template":"welcome","from":"news@shop.example"}'
st "campaign: bad audience kind" 422
api POST /api/campaigns '{"name":"segcamp2","audience":[{"kind":"exclude-list","name":"news"}],"template":"welcome","from":"news@shop.example"}'
st "campaign: only exclusions" 422
api POST /api/campaigns '{"name":"segcamp2","template":"welcome","from":"news@shop.example"}'
st "campaign: no audience" 422
api POST /api/campaigns '{"name":"segcamp2","audience":[{"kind":"segment","name":"oslo"}],"template":"welcome","from":"news@shop.example","unsubscribe_scope":"list"}'
st "campaign: list scope without a list" 422
eq "campaign: none made" "$(sql "SELECT count(*) FROM campaigns WHERE name = 'segcamp2'")" 0
api POST /api/segments '{"name":"uses","expression":"segment(\"fresh\")"}'
api DELETE /api/segments/fresh
st "segment delete: in use" 409
api DELETE /api/segments/uses
st "segment delete" 200
api DELETE /api/segments/uses
st "segment delete: gone" 404
api POST /api/contacts/nobody@x.example/tags '{"add":["vip"]}'
st "tags: no such contact" 404
api POST /api/contacts/bob@two.example/tags '{"add":["a,b"]}'
st "tags: bad tag" 422
api POST /api/contacts/bob@two.example/attributes '{"plan":"gold","city":""}'
st "attributes" 200
eq "attributes body" "$(json 'j["changed"], j["attrs"]')" "True {'first_name': 'Bob', 'plan': 'gold'}"
api POST /api/contacts/bob@two.example/attributes '{"bad\"key":"x"}'
st "attributes: bad key" 422
api POST /api/contacts/nobody@x.example/attributes '{"a":"b"}'
st "attributes: no such contact" 404
api POST /api/contacts/bob@two.example/attributes '{"n":1}'
st "attributes: not a string" 422
api DELETE "/api/contacts/bob@two.example?erase=maybe"
st "delete: erase is a boolean" 400
api DELETE "/api/contacts/bob@two.example?erase=false"
st "delete without erasure" 200
eq "delete body" "$(json 'j["erased"]')" False
eq "delete: contact gone, address kept in the history only" "$(sql "SELECT count(*) FROM contacts WHERE email = 'bob@two.example'")/$(sql "SELECT count(*) FROM suppressions WHERE kind = 'hash'")" "0/1"

# 14. HEAD answers as GET without a body; every exchange above against docs/openapi.json.
api HEAD /api/lists/news
st "HEAD" 200
eq "HEAD has no body" "$OUT" ""
API_TOKEN=
api GET /api/openapi.json
st "the document needs no token" 200
eq "the document is served" "$(json 'j["openapi"], j["info"]["title"]')" "3.1.0 kirim HTTP API"
curl -s -o served.json "http://127.0.0.1:$aport/api/openapi.json"
cmp -s served.json "${KIRIM_SRC:-.}/docs/openapi.json" && ok "served as built" || bad "served as built" "differs"
run $PY3 "${KIRIM_SRC:-.}/tests/integration/api_openapi.py" "${KIRIM_SRC:-.}/docs/openapi.json" "$API_LOG"
eq "responses match the OpenAPI document" "$RC" 0
[ "$RC" = 0 ] || printf '%s\n%s\n' "$OUT" "$ERR" | head -40
printf '%s\n' "$OUT" | tail -1

# 15. Failed attempts are limited per client address: past ten, one a second.
API_TOKEN=kirim_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
# A burst of 10, then one a second: within 50 quick tries the client is turned away.
for i in $(seq 1 50); do
	api GET /api/status
	[ "$ST" = 429 ] && break
done
st "too many failures" 429
contains "Retry-After" "$(hdr retry-after)" 1
API_TOKEN=$WRITE
eq "last use recorded" "$(sql "SELECT last_used_from FROM api_tokens WHERE name = 'crm'")" "127.0.0.1"

kill -TERM "$srv"
wait "$srv"
eq "graceful stop" "$?" 0
grep -q "api ip=127.0.0.1 method=POST route=contacts.upsert status=201 token=crm" serve.log && ok "access log" || bad "access log" "$(grep 'api ' serve.log | tail -2)"
grep -q -e "$WRITE" -e "$READ" serve.log && bad "no token in the log" "$(grep -e "$WRITE" serve.log | head -1)" || ok "no token in the log"

finish
