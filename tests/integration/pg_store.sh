#!/usr/bin/env bash
# pg_store.sh - kirim's commands on PostgreSQL (docs/postgresql.md): the ones that run there
# (init, lists, lists show/check/delete, suppress, domain, template add/list/show, token,
# audit, user, webhooks, segment, import, contacts, campaign create/list/show/plan and the
# lifecycle) run
# against a SQLite database and against its copy in PostgreSQL (kirim migrate), and must
# answer alike: the same exit status, output
# and errors, word for word (times and the database's name aside). Writes go to both and
# are read back from both, and the lists' counts (kept by 017's triggers on each side)
# follow the suppressions. The commands not on PostgreSQL yet exit 69 and say so, and
# change nothing. kirim init makes a kirim database of an empty one (schema/pg/, recorded in
# kirim_migrations), with the URL's password hidden; KIRIM_DB names one as --db does.
. "$(dirname "$0")/lib.sh"
: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
start_postgres || exit 1

LITE=$KIRIM_DB
PG="postgresql://kirim@127.0.0.1:$PG_PORT/copy"
q() { psql_q --db copy "$1"; }
# norm - what differs by nature between the two: the database's name, the second a
# command ran in
norm() { sed -e "s#$LITE#DB#g; s#$PG#DB#g" -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9][ T][0-9:]\{8\}/TIME/g' \
	-e 's/"\(created_at\|since\|updated_at\)": *[0-9]*/"\1":T/g' \
	-e 's/"seconds": *[0-9.e-]*/"seconds":S/g' \
	-e 's/in [0-9.]* s ([0-9,]* rows\/s)/in S/' \
	-e 's/kirim_[A-Za-z0-9_-]\{6,\}/kirim_TOKEN/g'; }
# [IN=TEXT] both ARGS... - the command on each database (TEXT on its standard input): the
# same status, output and errors
both() {
	local label="$*" lite
	run "$KIRIM" --db "$LITE" "$@" <<<"${IN-}"
	lite="$RC
$(printf '%s' "$OUT" | norm)
$(printf '%s' "$ERR" | norm)"
	run "$KIRIM" --db "$PG" "$@" <<<"${IN-}"
	eq "alike: $label" "$RC
$(printf '%s' "$OUT" | norm)
$(printf '%s' "$ERR" | norm)" "$lite"
}

# --- a SQLite database, copied --------------------------------------------------------------
printf 'email\nann@a.example\nbob@a.example\ncyd@b.example\ndee@c.example\n' >one.csv
printf 'email\nBob@a.example\ncyd@b.example\neve@b.example\n' >two.csv
"$KIRIM" import one.csv --list one -q >/dev/null
"$KIRIM" import two.csv --list two -q >/dev/null
"$KIRIM" suppress add dee@c.example -q
# An erased address (a suppression by its hash: lists check hashes every address on each
# side), which import does not make again.
"$KIRIM" contacts delete cyd@b.example --erase -q >/dev/null
printf 'email\ncyd@b.example\n' >again.csv
"$KIRIM" import again.csv --list one -q >/dev/null
# Attributes for the segments: a number, a date with its zone, text in two cases, a
# number that is text, text that is no date, a boolean.
cat >people.json <<'EOF2'
{"bob@a.example": {"name": "Bob", "age": 41, "joined": "2024-03-05", "plan": "gold", "vip": true},
 "eve@b.example": {"name": "Éve", "age": "29", "joined": "2025-01-10T08:00:00+02:00", "plan": "silver"},
 "ann@a.example": {"name": "ann", "age": 7.5, "joined": "not a date", "plan": "Gold", "vip": false}}
EOF2
python3 -c '
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for e, a in json.load(open("people.json")).items():
    db.execute("UPDATE contacts SET attrs = ? WHERE email = ?", (json.dumps(a, ensure_ascii=False), e))
db.commit()' "$KIRIM_DB"
psql_q --db postgres "CREATE DATABASE copy" >/dev/null
run "$KIRIM" migrate --to "$PG"
eq "the copy" "$RC" 0

# --- reads ------------------------------------------------------------------------------------
both lists
both lists --json
both lists show one
both lists show two --json
both lists show nosuch
both lists list extra
both suppress list
both suppress list --json
both domain list
both domain show gmail.com
run "$KIRIM" --db "$PG" lists --json
eq "the counts read on PostgreSQL" "$(json '[(l["name"], l["members"], l["suppressed"]) for l in j]')" \
	"[('one', 3, 1), ('two', 2, 0)]"

# --- writes, then reads ----------------------------------------------------------------------
both suppress add bob@a.example b.example --reason complaint --source test
both suppress add BOB@a.example
both suppress add "not an address@"
both lists
both suppress list --reason complaint
both suppress list --limit 2 --json
both suppress remove b.example
both suppress remove nobody@z.example
printf 'x@y.example\nbad@\n@zz.example\nbob@a.example\n' >s.txt
both suppress import s.txt --reason hard_bounce --json
both suppress list --json
both lists --json
# lists check: right; then one count made wrong on each side, found, fixed, right again
both lists check
both lists check --json
WRONG="UPDATE list_domain_counts SET members = members + 2 WHERE domain = 'a.example'
	AND list_id = (SELECT id FROM lists WHERE name = 'one')"
sql "$WRONG"
q "$WRONG" >/dev/null
both lists check
both lists check --json
both lists check --fix
both lists check
eq "lists check --fix on PostgreSQL: the rule's count" \
	"$(q "SELECT members || '/' || suppressed FROM list_domain_counts WHERE domain = 'a.example' AND list_id = (SELECT id FROM lists WHERE name = 'one')")" \
	"$(sql "SELECT members || '/' || suppressed FROM list_domain_counts WHERE domain = 'a.example' AND list_id = (SELECT id FROM lists WHERE name = 'one')")"
eq "a suppression counted by PostgreSQL's triggers" \
	"$(q "SELECT sum(suppressed) FROM list_domain_counts k JOIN lists l ON l.id = k.list_id WHERE l.name = 'two'")" 1
both domain set gmail.com --rate 10/s --warmup 50,100
both domain set gmail.com --max-connections 3 --tls required
both domain set '*.example.net' --rate 600/min --egress pool1
both domain set 'bad pattern' --rate 1/s
both domain show gmail.com --json
both domain show mx.example.net
both domain unset gmail.com --field rate --field warmup
both domain show gmail.com
both domain unset nosuch.example
both domain unset '*.example.net'
both domain list --json
both domain presets
printf 'Subject: Hi {{name}}\n\nHello {{name}}, from {{org}}\n' >t.tpl
printf 'Subject: Hi\n\n{{#broken}}\n' >bad.tpl
both template add news t.tpl
both template add news t.tpl --json
both template add a-first t.tpl
both template add worse bad.tpl
both template list
both template list --json
both template show news
both template show news --version 1 --json
both template show nosuch
both token create --name ci --scope read
both token create --name ci --scope write
both token create --name ops --scope admin --json
both token list
both token revoke ci
both token revoke nosuch
both token list --json
both audit
eq "a token's hash, 32 bytes in bytea" "$(q "SELECT length(hash) FROM api_tokens WHERE name = 'ops'")" 32
head -c 40 /dev/zero | tr '\0' s >secret.txt
both webhooks add http://127.0.0.1:9/hook --events delivered,bounced --secret-file secret.txt
both webhooks add ftp://example.com/hook --events delivered --secret-file secret.txt
both webhooks add http://127.0.0.1:9/other --events campaign --secret-file secret.txt --json
# an event for the first: pending 1 there, 0 for the second (strpos on PostgreSQL)
OUTBOX="INSERT INTO webhook_outbox(type, ts) VALUES ('delivered', 0)"
sql "$OUTBOX"
q "$OUTBOX" >/dev/null
both webhooks list
both webhooks list --json
run "$KIRIM" --db "$PG" webhooks list --json
eq "webhooks on PostgreSQL: url and pending" "$(json '[(w["url"], w["pending"]) for w in j]')" \
	"[('http://127.0.0.1:9/hook', 1), ('http://127.0.0.1:9/other', 0)]"
both webhooks remove 2
both webhooks remove 7
both webhooks list
IN="a long enough password" both user add ann --role admin --password-stdin
IN="a long enough password" both user add ann --role viewer --password-stdin
both user list
IN="another long password" both user passwd ann --password-stdin
both user delete ann
both user list --json
eq "the rows PostgreSQL holds" "$(q "SELECT pattern || ' ' || coalesce(max_connections::text, '-') || ' ' || coalesce(rate::text, '-') || ' ' || coalesce(tls, '-') FROM domain_policies WHERE source = 'user' ORDER BY pattern")" \
	"gmail.com 3 - required"
eq "the policy version PostgreSQL keeps" "$(q "SELECT convert_from(value, 'UTF8') FROM settings WHERE key = 'policy_version'")" \
	"$(sql "SELECT CAST(value AS TEXT) FROM settings WHERE key = 'policy_version'")"
# The same rows on both sides but for the second each write ran in (the two runs of one
# command may fall on either side of a second's end): those times set alike first.
ALIKE="UPDATE suppressions SET created_at = 0; UPDATE domain_policies SET updated_at = 0;
	UPDATE templates SET created_at = 0; DELETE FROM api_audit; DELETE FROM api_tokens;
	DELETE FROM console_users; UPDATE webhooks SET created_at = 0;
	DELETE FROM settings WHERE key = 'policy_presets'"
sql "$ALIKE"
q "$ALIKE" >/dev/null
run "$KIRIM" migrate --verify --to "$PG"
eq "after the same writes on both, migrate --verify finds them the same" "$RC" 0
contains "every table compared" "$OUT" "suppressions"

# --- segments: the compiler's SQL in PostgreSQL's dialect ------------------------------------
both segment add gold 'plan = "GOLD"'
both segment add older 'age >= 29 and list("two")'
both segment add recent 'joined > 2024-06-01'
both segment add mixed 'name contains "B" or name starts_with "AN" or plan in ("silver", 7.5) or age in (41)'
both segment add bad 'plan = '
both segment add gold 'vip = 1'
both segment add gold 'vip = 1' --replace
both segment list
both segment list --json
both segment show gold
both segment show older --json
both segment show recent
both segment show mixed --json
both segment show nosuch
for expr in 'plan is empty' 'plan is not empty' 'not (age < 10)' 'age < 10' 'age in (29, 41)' \
	'joined = 2024-03-05' 'joined >= 2025-01-10T06:00Z' 'joined < 2025-01-10T05:59:59Z' \
	'name = "éve"' 'name = "ÉVE"' 'plan not in ("gold")' 'vip = 0' 'vip = "true"' \
	'list("one") and not segment("gold")' 'list("one") and age > 1' 'list("two") and plan is not empty' \
	'tag("vip")' 'opened(any, 30d) or delivered(any) or bounced(any, hard)' 'segment("nosuch")' \
	'name starts_with "%" or name contains "_"'; do
	both segment count "$expr"
	both segment count "$expr" --json
done
both segment remove recent
both segment remove nosuch
both segment list
run "$KIRIM" --db "$PG" segment count 'list("one") and age > 1' --json
eq "a count on PostgreSQL: matched and suppressed" "$(json 'j["contacts"], j["suppressed"]')" "2 1"
run "$KIRIM" --db "$PG" segment count 'age >= 29 or joined >= 2025-01-10T06:00Z' --json
eq "numbers and dates read on PostgreSQL" "$(json 'j["contacts"]')" 2

# --- import and contacts: json_patch, the hash of an erased address, RETURNING ids ------------
printf 'email,name,city,age\nann@a.example,Ann,Jakarta,\nFay@D.example,Fay,Bandung,33\nfay@d.example,dup,x,1\nbad@\ncyd@b.example,Cyd,,\ngus@b.example,Gus,"Medan, Sumatra",50\n' >three.csv
both import three.csv --list three
both import three.csv --list three --json
printf 'email,name,city\nann@a.example,Anne,\nhal@e.example,Hal,Solo\n' >four.csv
both import four.csv --list three
both import four.csv --list four --update
both contacts show ann@a.example --json
both import nosuch.csv --list three
both lists
both lists check
both contacts show ann@a.example
both contacts show fay@d.example --json
both contacts show FAY@d.example
both contacts show nobody@x.example
both contacts show "not an address"
both contacts set ann@a.example city=Surabaya age=
both contacts set ann@a.example city=Surabaya
both contacts set new@e.example name=New 'note=a "quoted" word'
both contacts set cyd@b.example name=Cyd
both contacts show ann@a.example --json
both contacts show new@e.example
both contacts tag ann@a.example fay@d.example --add vip --add early
both contacts tag ann@a.example --remove early --add Late
both contacts tag --segment mixed --add mixed
both contacts tag --segment nosuch --add x
both contacts tags
both contacts tags --json
both contacts search a.example
both contacts search E --list three --json
both contacts search zzz
both contacts show ann@a.example
both contacts export
both contacts export --columns name,city --list three
both contacts export --segment mixed --json
both contacts export --where 'city contains "a"'
both segment count 'tag("vip") or tag("LATE")'
# lists delete: refused while a segment names the list, else its members go and the counts
both lists delete two
both lists delete four
both lists delete four
both lists
both lists check
both segment show mixed
run "$KIRIM" --db "$PG" contacts show ann@a.example --json
eq "contacts set on PostgreSQL: merged, an empty value removes" \
	"$(json 'j["attributes"] if "attributes" in j else j["attrs"]')" "{'name': 'Anne', 'joined': 'not a date', 'plan': 'Gold', 'vip': False, 'city': 'Surabaya'}"
eq "a list counted by PostgreSQL's triggers, not twice" \
	"$(q "SELECT sum(members) FROM list_domain_counts k JOIN lists l ON l.id = k.list_id WHERE l.name = 'three'")" \
	"$(sql "SELECT sum(members) FROM list_domain_counts k JOIN lists l ON l.id = k.list_id WHERE l.name = 'three'")"

# --- campaigns: create, list, show (the audience's makeup), plan, the lifecycle --------------
FROM="News <news@kirim.test>"
both campaign create spring --list one --template news --from "$FROM"
both campaign create spring --list two --template news --from "$FROM"
both campaign create summer --segment mixed --list two --exclude-list three --template news:1 \
	--from "$FROM" --header "X-Kind: test"
both campaign create autumn --not-sent-by spring --list three --template a-first --from "$FROM"
both campaign create bad --list nosuch --template news --from "$FROM"
both campaign create bad --list one --template nosuch --from "$FROM"
both campaign list
both campaign list --json
both campaign show spring
both campaign show summer --json
both campaign show autumn
both campaign show nosuch
both campaign plan summer --relay smtp://127.0.0.1:9 --now 1800000000
both campaign plan spring --relay smtp://127.0.0.1:9 --now 1800000000 --json
both campaign schedule spring --at 2099-01-01T09:00 --tz Asia/Jakarta --window "Mon-Fri 08:00-18:00"
both campaign schedule summer --at 2099-01-01T09:00
both campaign show spring --json
both campaign pause spring --reason "a typo"
both campaign resume spring
both campaign unschedule summer
both campaign unschedule summer
both campaign cancel autumn --yes
both campaign cancel autumn --yes
both campaign pause nosuch
both campaign list --json
eq "campaigns on PostgreSQL: states" "$(q "SELECT string_agg(name || ' ' || state, ', ' ORDER BY id) FROM campaigns")" \
	"$(sql "SELECT group_concat(name || ' ' || state, ', ') FROM (SELECT name, state FROM campaigns ORDER BY id)")"
eq "campaigns on PostgreSQL: the schedule's options kept as SQLite's json_patch writes them" \
	"$(q "SELECT options FROM campaigns WHERE name = 'spring'")" "$(sql "SELECT options FROM campaigns WHERE name = 'spring'")"

# --- the rest is refused, and changes nothing ------------------------------------------------
for cmd in "send spring" "contacts delete ann@a.example" "campaign test spring --to x@y.example" \
	"report --all" "run" "template lint news" "segment indexes" \
	"segment index plan"; do
	# shellcheck disable=SC2086 # the words of cmd
	run "$KIRIM" --db "$PG" $cmd
	eq "not on PostgreSQL yet: $cmd: exit 69" "$RC" 69
	contains "not on PostgreSQL yet: $cmd: says so" "$ERR" "does not run on PostgreSQL yet"
done
eq "contacts delete refused: the contact is there" "$(q "SELECT count(*) FROM contacts WHERE email = 'ann@a.example'")" 1

# --- init, KIRIM_DB, a hidden password -------------------------------------------------------
psql_q --db postgres "CREATE DATABASE fresh" >/dev/null
FRESH="postgresql://kirim:hunter2@127.0.0.1:$PG_PORT/fresh"
run "$KIRIM" --db "$FRESH" lists
eq "an empty database is no kirim database" "$RC" 66
contains "and says how to make one" "$ERR" "kirim init"
run "$KIRIM" --db "$FRESH" init
eq "init makes one" "$RC $OUT" "0 Created postgresql://kirim:***@127.0.0.1:$PG_PORT/fresh (schema version $(sql 'PRAGMA user_version'))"
run "$KIRIM" --db "$FRESH" init --json
eq "init again: ready" "$(json 'j["created"], j["db"]')" "False postgresql://kirim:***@127.0.0.1:$PG_PORT/fresh"
case "$OUT$ERR" in *hunter2*) bad "the password is never shown" "$OUT$ERR" ;; *) ok "password hidden" ;; esac
eq "the migrations recorded" "$(psql_q --db fresh "SELECT string_agg(version::text, ' ' ORDER BY version) FROM kirim_migrations")" \
	"$(cd "$KIRIM_SRC/schema/pg" && ls ./*.sql | sed 's#^\./0*\([0-9]*\)_.*#\1#' | tr '\n' ' ' | sed 's/ $//')"
run env KIRIM_DB="$FRESH" "$KIRIM" suppress add z@z.example
eq "KIRIM_DB names a PostgreSQL database" "$RC $(psql_q --db fresh "SELECT value FROM suppressions")" "0 z@z.example"
psql_q --db postgres "CREATE DATABASE other" >/dev/null
psql_q --db other "CREATE TABLE notes (x int)" >/dev/null
run "$KIRIM" --db "postgresql://kirim@127.0.0.1:$PG_PORT/other" init
eq "init: a database with tables of its own is refused" "$RC" 73
contains "init: says why" "$ERR" "not kirim's (notes)"
run "$KIRIM" --db "postgresql://kirim@127.0.0.1:$(free_port)/fresh" lists
eq "no server: exit 69" "$RC" 69
run "$KIRIM" --db "postgresql://kirim@127.0.0.1:$PG_PORT/fresh?nosuchoption=1" lists
eq "a URL libpq refuses: exit 64" "$RC" 64
finish
