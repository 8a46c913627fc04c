#!/usr/bin/env bash
# pg.sh - kirim migrate: a SQLite database made by kirim's own commands (import, tags,
# segments, a campaign sent to smtp-sink, a complaint, suppressions, a policy, a token, a
# console user, a webhook and its outbox) copied into PostgreSQL from Debian's packages (a
# private cluster on a free loopback port, lib.sh's start_postgres), checked with psql;
# a second copy into a full database refused; a changed row found by --verify; values
# PostgreSQL cannot hold refused with nothing committed.
. "$(dirname "$0")/lib.sh"
: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
start_postgres || exit 1

# --- the source: real data through kirim's commands --------------------------------------
# Attribute values with what COPY's text format escapes (tab, backslash, line breaks) and
# text beyond ASCII.
$PY3 - <<'PYEND'
import csv
with open('people.csv', 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['email', 'name', 'city', 'note'])
    for i in range(200):
        w.writerow([f'user{i}@d{i % 5}.test', f'Name {i}', ['Jakarta', 'Bandung', 'Köln'][i % 3],
                    'tab\there, back\\slash, line\nbreak, cr\rdone' if i % 50 == 0 else ''])
PYEND
"$KIRIM" import people.csv --list people -q >/dev/null
printf 'email\nUser3@D3.test\nvip@d1.test\n' >more.csv
"$KIRIM" import more.csv --list more -q >/dev/null
"$KIRIM" contacts tag user1@d1.test user2@d2.test --add VIP >/dev/null
"$KIRIM" segment add koln 'city = "Köln"' >/dev/null
printf 'Subject: Hello {{name|there}}\n\n--- text\nHi {{name}}.\nBye: {{unsubscribe_url}}\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
"$KIRIM" campaign create spring --list people --segment koln --exclude-list more --template t \
	--from "News <news@kirim.test>" >/dev/null
"$KIRIM" suppress add user7@d2.test spam.test >/dev/null
"$KIRIM" suppress add gone@d9.test >/dev/null
"$KIRIM" domain set d1.test --rate 600/min --max-connections 3 >/dev/null
"$KIRIM" token create --name crm --scope write >/dev/null 2>&1
printf '%s\n' 'ann-secret-pass' | "$KIRIM" user add ann --role admin --password-stdin >/dev/null
printf 'a-webhook-secret-of-32-bytes-at-least!!\n' >secret.txt
"$KIRIM" webhooks add "http://127.0.0.1:9/hook" --events delivered,complained,campaign \
	--secret-file secret.txt >/dev/null 2>&1
port=$(free_port)
mkdir dump && chmod 777 dump
start_sink "$port" -d "$TMP/dump/%M."
sink=$LAST_PID
run "$KIRIM" send spring --relay "smtp://127.0.0.1:$port" --tls none --json
eq "the campaign was sent" "$RC" 0
stop "$sink"
# A complaint about one delivered message (its Message-ID), ingested from a file.
one=$(grep -l '^To: ' dump/* | head -n 1)
mid=$(grep -i -m1 '^Message-ID:' "$one" | sed 's/^[^:]*: *//' | tr -d '\r')
to=$(grep -m1 '^To: ' "$one" | sed 's/^To: *//' | tr -d '\r')
printf 'From: fbl@isp.test\nTo: fbl@kirim.test\nSubject: complaint\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nabuse\n--b1\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\nOriginal-Rcpt-To: %s\n\n--b1\nContent-Type: text/rfc822-headers\n\nFrom: News <news@kirim.test>\nTo: %s\nMessage-ID: %s\nSubject: Hi\n\n--b1--\n' \
	"$to" "$to" "$mid" >arf.eml
run "$KIRIM" bounces ingest arf.eml --json
eq "the complaint was taken" "$(json 'j["complaints"]')" 1
# AUTOINCREMENT: the highest suppression id goes, and must never be given again.
gone=$(sql "SELECT id FROM suppressions WHERE value = 'gone@d9.test'")
"$KIRIM" suppress remove gone@d9.test >/dev/null
# Rows kirim's commands make only with servers this test does not run (a console login, a
# signup through kirim serve, MTA-STS and TLS-RPT of direct delivery, a provider's webhook),
# and a sender still registered; written with the sqlite3 shell, with values that test the
# copy: bytes with NUL and 0xff, reals, 64-bit integers, '' beside NULL.
sql "INSERT INTO console_sessions(user_id, hash, created_at, last_seen_at, client)
	SELECT id, X'00ff10', 1796000000, 1796000060, '127.0.0.1' FROM console_users;
INSERT INTO consents(contact_id, list_id, list_name, form, ip, user_agent, language, text, created_at)
	VALUES (1, 1, 'people', 'web', '127.0.0.1', NULL, 'id', 'Saya setuju: ya', 1796000000);
INSERT INTO esp_events VALUES ('ses', 'e-1', 1796000000);
INSERT INTO mta_sts_policies VALUES ('d1.test', 'id1', 'enforce', 86400, 'version: STSv1', 1796000000, 1796086400);
INSERT INTO domain_tls(domain, sts_id, checked_at) VALUES ('d1.test', '', 1796000000);
INSERT INTO tls_results VALUES (20800, 'd1.test', 'sts', '', 'mx.d1.test', '127.0.0.1', '127.0.0.2', 'success', '', 9223372036854775807);
INSERT INTO tlsrpt_sent VALUES (20800, 'd1.test', '', 'r-1', 1796000000);
INSERT INTO senders(host, pid, proc_start, command, started_at, lease_until, node) VALUES ('h', 1, '1', 'kirim send', 1, 2, 'n1');
INSERT INTO sender_campaigns(sender_id, campaign_id) SELECT max(id), (SELECT min(id) FROM campaigns) FROM senders;
INSERT INTO leases VALUES ('leader', 'n1', 'h', 1, '1', 1, 2);
INSERT INTO report_counts(campaign_id, kind, k, n) SELECT min(id), 0, 0, 1 FROM campaigns;
INSERT INTO report_reasons(campaign_id, outcome, cls, reason, ecode, code, n, first_id, example_id)
	SELECT min(id), 'deferred', 'soft', 'throttled', '', 421, 1, NULL, NULL FROM campaigns;
INSERT INTO destinations(name, rate, connections, updated_at) VALUES ('mx:weird', 0.1, -3, 1796000000)
	ON CONFLICT DO NOTHING;
INSERT INTO domain_health(domain, delivered_at) VALUES ('d0.test', 1796000000) ON CONFLICT DO NOTHING;
UPDATE domain_policies SET connect_rate = 1e-300 WHERE pattern = 'd1.test';"
empty=$(for t in $(sql "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"); do
	[ "$(sql "SELECT count(*) FROM \"$t\"")" = 0 ] && printf '%s ' "$t"
done)
eq "every table has rows" "$empty" ""
NTABLES=$(sql "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
NEWEST=$(sql "PRAGMA user_version")
eq "the webhook's outbox was filled by its trigger" "$(sql "SELECT count(*) > 0 FROM webhook_outbox")" 1

# --- refusals before anything is copied --------------------------------------------------
run "$KIRIM" migrate
eq "--to is needed" "$RC" 64
run "$KIRIM" migrate --to kirim2.db
eq "--to takes a URL" "$RC" 64
contains "--to says what it takes" "$ERR" "postgresql://USER@HOST:PORT/DB"
run "$KIRIM" migrate --to "postgresql://127.0.0.1:$PG_PORT/kirim?nosuch=1"
eq "a URL libpq refuses: exit 64" "$RC" 64
contains "a URL libpq refuses: says why" "$ERR" "is not a URL libpq takes"
dead=$(free_port)
run "$KIRIM" migrate --to "postgresql://kirim:hunter2@127.0.0.1:$dead/kirim"
eq "no server: exit 69" "$RC" 69
contains "no server: says so" "$ERR" "cannot connect to postgresql://kirim:***@127.0.0.1:$dead/kirim"
case "$ERR" in *hunter2*) bad "the password is never shown" "$ERR" ;; *) ok "password hidden" ;; esac
# A command not on PostgreSQL yet says so (pg_store.sh runs the ones that are); one that is
# finds no kirim database in an empty one.
run "$KIRIM" --db "$PG_URL" report --all
eq "--db postgresql://: a command not there yet" "$RC" 69
contains "--db postgresql://: says so" "$ERR" "does not run on PostgreSQL yet"
run "$KIRIM" --db "$PG_URL" lists
eq "--db postgresql://: an empty database is no kirim database" "$RC" 66
contains "--db postgresql://: says how to make one" "$ERR" "kirim init"
psql_q --db postgres "CREATE DATABASE other" >/dev/null
psql_q --db other "CREATE TABLE notes (x int)" >/dev/null
run "$KIRIM" migrate --to "postgresql://kirim@127.0.0.1:$PG_PORT/other"
eq "a database with a table of its own: refused" "$RC" 73
contains "it names what it holds" "$ERR" "is not empty (notes)"
eq "and is left as it was" "$(psql_q --db other "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 1

# --- the copy: as a database owner that is not a superuser (citext is a trusted extension) --
psql_q --db postgres "CREATE ROLE owner LOGIN" >/dev/null
psql_q --db postgres "CREATE DATABASE kirimdb OWNER owner" >/dev/null
URL="postgresql://owner@127.0.0.1:$PG_PORT/kirimdb"
q() { psql_q --db kirimdb "$1"; }
run "$KIRIM" migrate --to "$URL" --json
eq "migrate: exit 0" "$RC" 0
eq "migrate: copied and the same" "$(json 'j["copied"], j["same"], j["schema_version"]')" "True True $NEWEST"
eq "every table reported" "$(json 'len(j["tables"])')" "$NTABLES"
eq "every table the same" "$(json 'all(t["same"] for t in j["tables"])')" True
eq "no table empty" "$(json 'sum(1 for t in j["tables"] if t["rows"]["postgresql"] == 0)')" 0
eq "parents first" "$(json '[t["name"] for t in j["tables"]].index("contacts") < [t["name"] for t in j["tables"]].index("messages") < [t["name"] for t in j["tables"]].index("events")')" True
# Counts on both sides, by the two databases' own shells.
for t in contacts list_members messages events suppressions webhook_outbox settings; do
	eq "$t: same count" "$(q "SELECT count(*) FROM $t")" "$(sql "SELECT count(*) FROM $t")"
done
# Values, spot-checked.
eq "an address and its attributes, as written" \
	"$(q "SELECT email || ' ' || attrs FROM contacts WHERE id = 51")" \
	"$(sql "SELECT email || ' ' || attrs FROM contacts WHERE id = 51")"
eq "escaped text came through" "$(q "SELECT md5(attrs::text) FROM contacts WHERE id = 1")" \
	"$(sql "SELECT attrs FROM contacts WHERE id = 1" | head -c -1 | md5sum | cut -c1-32)"
eq "the secret's bytes" "$(q "SELECT encode(value, 'hex') FROM settings WHERE key = 'secret'")" \
	"$(sql "SELECT lower(hex(value)) FROM settings WHERE key = 'secret'")"
eq "bytes with NUL" "$(q "SELECT encode(hash, 'hex') FROM console_sessions")" 00ff10
eq "a real" "$(q "SELECT d.rate, p.connect_rate FROM destinations d, domain_policies p WHERE d.name = 'mx:weird' AND p.pattern = 'd1.test'")" "0.1|1e-300"
eq "a 64-bit integer" "$(q "SELECT sessions FROM tls_results")" 9223372036854775807
eq "'' and NULL kept apart" "$(q "SELECT sts_id = '', sts_error IS NULL FROM domain_tls")" "t|t"
eq "a complaint event" "$(q "SELECT count(*) FROM events WHERE type = 'complaint'")" 1
eq "the campaign's state" "$(q "SELECT state, kind FROM campaigns WHERE name = 'spring'")" "done|regular"
eq "tags case-insensitive" "$(q "SELECT count(*) FROM contact_tags WHERE tag = 'vip'")" 2
run q "INSERT INTO contacts(email, domain, created_at, updated_at) VALUES ('USER1@d1.test', 'd1.test', 0, 0)"
[ "$RC" != 0 ] && ok "addresses unique ignoring case" || bad "addresses unique ignoring case" "a second USER1@d1.test went in"
# Sequences: a new list after the highest; a suppression after the deleted highest.
eq "identity after the copied ids" "$(q "INSERT INTO lists(name, created_at) VALUES ('new', 0) RETURNING id")" \
	"$(($(sql "SELECT max(id) FROM lists") + 1))"
seq=$(sql "SELECT seq FROM sqlite_sequence WHERE name = 'suppressions'")
[ "$seq" -ge "$gone" ] && ok "sqlite_sequence" || bad "sqlite_sequence" "$seq below the deleted id $gone"
eq "an AUTOINCREMENT id is not given again" \
	"$(q "INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('address', 'n@x.test', 'manual', 0) RETURNING id")" \
	"$((seq + 1))"
q "DELETE FROM lists WHERE name = 'new'; DELETE FROM suppressions WHERE value = 'n@x.test'" >/dev/null
# The triggers were off while the rows went in (the outbox is the source's) and are on now.
before=$(q "SELECT count(*) FROM webhook_outbox")
q "INSERT INTO events(message_id, ts, type) SELECT min(id), 1796000000, 'delivered' FROM messages" >/dev/null
eq "the webhook trigger works in PostgreSQL" "$(q "SELECT count(*) FROM webhook_outbox")" "$((before + 1))"
q "DELETE FROM webhook_outbox WHERE id = (SELECT max(id) FROM webhook_outbox);
   DELETE FROM events WHERE id = (SELECT max(id) FROM events)" >/dev/null
# The schema kirim migrate leaves (foreign keys and indexes set aside during the load and
# made again) is still the SQLite one.
run "$PY3" "$KIRIM_SRC/tests/integration/pg_schema.py" "$KIRIM_DB" "$KIRIM_SRC/schema" \
	"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U kirim -d kirimdb
eq "the migrated schema agrees with SQLite's" "$RC" 0
[ "$RC" = 0 ] || printf '%s\n' "$OUT" | head -n 20 >&2
eq "the schema versions are recorded" "$(q "SELECT version, name FROM kirim_migrations ORDER BY version")" \
	"$(ls "$KIRIM_SRC"/schema/pg/ | grep -E '^[0-9]{3}_.*\.sql$' | sort | sed -E 's/^0*([0-9]+)_/\1|&/')"

# --- a second copy into the same database is refused; --verify agrees ----------------------
run "$KIRIM" migrate --to "$URL"
eq "a second copy: refused" "$RC" 73
contains "a second copy: says why" "$ERR" "already holds a kirim database (schema version $NEWEST)"
run "$KIRIM" migrate --verify --to "$URL"
eq "verify: the same" "$RC" 0
contains "verify: the summary" "$OUT" "$NTABLES tables"
contains "verify: per table" "$OUT" "same"

# --- a changed row, a missing row: --verify finds them and names the table ----------------
q "UPDATE contacts SET attrs = '{\"name\":\"Someone else\"}' WHERE id = 7" >/dev/null
run "$KIRIM" migrate --verify --to "$URL" --json
eq "a changed value: exit 1" "$RC" 1
eq "a changed value: the table" "$(json '[t["name"] for t in j["tables"] if not t["same"]]')" "['contacts']"
eq "a changed value: counts equal" "$(json '[(t["rows"]["sqlite"] == t["rows"]["postgresql"]) for t in j["tables"] if t["name"] == "contacts"][0]')" True
contains "a changed value: said" "$ERR" "contacts differs between the SQLite database and"
q "UPDATE contacts SET attrs = '$(sql "SELECT attrs FROM contacts WHERE id = 7")' WHERE id = 7" >/dev/null
q "DELETE FROM events WHERE id = (SELECT max(id) FROM events)" >/dev/null
run "$KIRIM" migrate --verify --to "$URL"
eq "a missing row: exit 1" "$RC" 1
contains "a missing row: the line" "$OUT" "DIFFERS: PostgreSQL has"
contains "a missing row: the table" "$ERR" "events differs"

# --- values PostgreSQL cannot hold: refused by name, nothing committed ----------------------
cp "$KIRIM_DB" bad.db
sqlite3 bad.db "UPDATE contacts SET attrs = CAST(X'7B226E223A22FF227D' AS TEXT) WHERE id = 3"
psql_q --db postgres "CREATE DATABASE second OWNER owner" >/dev/null
URL2="postgresql://owner@127.0.0.1:$PG_PORT/second"
run "$KIRIM" migrate --from bad.db --to "$URL2"
eq "not UTF-8: exit 65" "$RC" 65
contains "not UTF-8: names the column and row" "$ERR" "cannot copy contacts.attrs of the row id=3: text that is not valid UTF-8"
eq "not UTF-8: nothing committed" "$(psql_q --db second "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0
sqlite3 bad.db "UPDATE contacts SET attrs = '{not json' WHERE id = 3"
run "$KIRIM" migrate --from bad.db --to "$URL2"
eq "not JSON: exit 65" "$RC" 65
contains "not JSON: PostgreSQL's reason and where" "$ERR" "invalid input syntax for type json"
contains "not JSON: the table" "$ERR" "copying contacts"
contains "not JSON: where" "$ERR" "COPY contacts, line 3, column attrs"

# A member whose contact is gone (foreign keys are off in the sqlite3 shell): PostgreSQL's
# check of the key, made once after the load, refuses the copy.
sqlite3 bad.db "UPDATE contacts SET attrs = '{}' WHERE id = 3;
	UPDATE list_members SET contact_id = 999999 WHERE contact_id = 5 AND list_id = 1"
run "$KIRIM" migrate --from bad.db --to "$URL2"
eq "a key without its parent: exit 65" "$RC" 65
contains "a key without its parent: named" "$ERR" "Key (contact_id)=(999999) is not present in table \"contacts\""
eq "a key without its parent: nothing committed" "$(psql_q --db second "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0

# --- the progress bar on a terminal (script(1) gives the command one) ----------------------
psql_q --db postgres "CREATE DATABASE third OWNER owner" >/dev/null
script -qec "$KIRIM migrate --to postgresql://owner@127.0.0.1:$PG_PORT/third" "$TMP/typescript" >tty.out 2>&1
eq "on a terminal: exit 0" "$?" 0
contains "on a terminal: a progress bar" "$(cat tty.out)" "verifying [##############################] 100%"
run "$KIRIM" migrate --verify --to "postgresql://owner@127.0.0.1:$PG_PORT/third"
eq "no terminal: no bar" "$(printf '%s' "$ERR" | grep -c '\[#')" 0

# Two copies into one empty database at once: one copies, the other waits for it (an
# advisory lock) and then finds the database full.
psql_q --db postgres "CREATE DATABASE fourth OWNER owner" >/dev/null
U4="postgresql://owner@127.0.0.1:$PG_PORT/fourth"
"$KIRIM" migrate --to "$U4" -q >race1.out 2>&1 &
r1=$!
"$KIRIM" migrate --to "$U4" -q >race2.out 2>&1 &
r2=$!
wait "$r1"; c1=$?
wait "$r2"; c2=$?
eq "two at once: one copies, one is refused" "$(printf '%s\n' "$c1" "$c2" | sort -n | tr '\n' ' ')" "0 73 "
run "$KIRIM" migrate --verify --to "$U4"
eq "two at once: the copy is whole" "$RC" 0

run "$KIRIM" migrate --help
contains "--help" "$OUT" "kirim migrate --verify --to postgresql://"
finish
