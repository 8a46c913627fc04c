#!/usr/bin/env bash
# contacts.sh - a contact's life by hand (#21): contacts set, contacts export (RFC 4180 read
# back by Python's csv module, the formula guard, a round trip through import into a fresh
# database), contacts delete (the history stays) and delete --erase (sqlite3 finds neither
# the address nor its attributes anywhere; the address never comes back by import, and a
# contact made with it behind kirim's back is not mailed).
. "$(dirname "$0")/lib.sh"

: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
cat >a.csv <<'CSV'
email,first_name,city,phone,note,balance
ann@x.example,Ann,"Jakarta, ID",+62 812-3456-7890,"said ""hi""",-5
bob@y.example,Bob,Bandung,+1 (555) 010-9999,"two
lines",12.5
cyd@z.example,Cyd,Surabaya,,=HYPERLINK("http://evil.example"),
dee@z.example,Dée,Medan,,@SUM(A1),+3
CSV
"$KIRIM" import a.csv --list a -q >/dev/null || bad "import" "exit $?"

# 1. contacts set: a change, a removal, errors for a missing contact and a bad key.
run "$KIRIM" contacts set ann@x.example city=Bogor plan=gold note=
eq "set: exit" "$RC" 0
eq "set: attributes" "$(sql "SELECT json_extract(attrs, '\$.city'), json_extract(attrs, '\$.plan'), json_type(attrs, '\$.note') IS NULL FROM contacts WHERE email = 'ann@x.example'")" "Bogor|gold|1"
run "$KIRIM" contacts set nobody@x.example a=b
eq "set: missing contact" "$RC/$ERR" "66/kirim contacts: no contact with the address nobody@x.example"
run "$KIRIM" contacts set ann@x.example 'bad"key=1'
contains "set: bad key" "$RC/$ERR" "65/kirim contacts: 'bad\"key' cannot be an attribute name"
run "$KIRIM" contacts set ann@x.example justakey
contains "set: not key=value" "$RC/$ERR" "65/kirim contacts: 'justakey' is not key=value"
eq "set: nothing changed by errors" "$(sql "SELECT count(*) FROM contacts WHERE attrs LIKE '%bad%' OR attrs LIKE '%justakey%'")" 0
"$KIRIM" contacts set ann@x.example note='said "hi"' >/dev/null

# 2. export: every attribute, RFC 4180, read back by Python's csv module.
run "$KIRIM" contacts export -o all.csv
eq "export: exit" "$RC" 0
cat >check.py <<'PY'
import csv, json, sqlite3, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
db = sqlite3.connect(sys.argv[2])
want = {e: json.loads(a) for e, a in db.execute("SELECT email, attrs FROM contacts")}
head, body = rows[0], rows[1:]
assert head[0] == "email", head
assert set(head[1:]) == {k for a in want.values() for k in a}, head
assert len(body) == len(want), (len(body), len(want))
guarded = 0
for r in body:
    a = want[r[0]]
    for k, v in zip(head[1:], r[1:]):
        w = a.get(k, "")
        if w and w[0] in "=@":
            assert v == "'" + w, (k, v, w)  # the formula guard
            guarded += 1
        else:
            assert v == w, (k, v, w)
assert open(sys.argv[1], "rb").read().count(b"\r\n") >= len(rows)
print(len(body), guarded)
PY
eq "export: Python's csv reads what the database holds" "$($PY3 check.py all.csv "$KIRIM_DB")" "4 2"
eq "export: phone numbers and numbers kept" "$(grep -c '+62 812-3456-7890,' all.csv)/$(grep -c ',-5' all.csv)" "1/1"
run "$KIRIM" contacts export --list a --where 'city starts_with "B"' --columns email,city,plan
eq "export: chosen columns and a filter" "$(printf '%s' "$OUT" | tr -d '\r' | tr '\n' ' ')" "email,city,plan ann@x.example,Bogor,gold bob@y.example,Bandung,"
run "$KIRIM" contacts export --segment nope
eq "export: missing segment" "$RC/$ERR" "65/kirim contacts: no segment called 'nope'"
run "$KIRIM" contacts export --where 'city = '
contains "export: bad expression" "$RC" "64"
# A write that fails, through a link in the test's folder to /dev/full (the link, not the
# device, is what a binary that removes its output would remove).
ln -s /dev/full full.csv
run "$KIRIM" contacts export -o full.csv
eq "export: a write that fails" "$RC/$ERR" "74/kirim contacts: cannot write full.csv: No space left on device"
[ -L full.csv ] && ok "export: what is not a regular file is not removed" || bad "export: what is not a regular file is not removed" "full.csv is gone"
# Round trip: export, import into a fresh database, the same contacts and attributes.
"$KIRIM" contacts export --no-formula-guard -o raw.csv
KIRIM_DB="$TMP/fresh.db" "$KIRIM" import raw.csv --list a -q >/dev/null || bad "round trip: import" "exit $?"
q="SELECT email, (SELECT json_group_object(key, value) FROM (SELECT key, value FROM json_each(attrs) ORDER BY key)) FROM contacts ORDER BY email"
eq "round trip: same contacts and attributes" "$(sqlite3 -batch "$TMP/fresh.db" "$q")" "$(sql "$q")"
# With the guard, everything but the guarded cells comes back too.
rm -f fresh2.db
KIRIM_DB="$TMP/fresh2.db" "$KIRIM" import all.csv --list a -q >/dev/null
eq "round trip with the guard: the guarded cells differ only by the quote" \
	"$(sqlite3 -batch "$TMP/fresh2.db" "SELECT count(*) FROM contacts WHERE json_extract(attrs, '\$.note') LIKE '''%'")" 2

# 3. delete: a campaign's history stays; delete --erase: nothing names the person.
printf 'Subject: Hi\n\n--- text\nHi {{first_name}} {{unsubscribe_url}}\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
"$KIRIM" campaign create c1 --list a --template t --from "News <news@example.com>" >/dev/null
port=$(free_port)
start_sink "$port"
run "$KIRIM" send c1 --relay "smtp://127.0.0.1:$port" --tls none --json
eq "send c1" "$RC" 0
# Engagement and a bounce text that quote the address, as real ones do.
sql "INSERT INTO events(message_id, ts, type, detail) SELECT m.id, 1, 'open', '{\"ip\":\"10.0.0.9\",\"ua\":\"Bob-Mail\"}' FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'bob@y.example';
     INSERT INTO events(message_id, ts, type, detail) SELECT m.id, 1, 'open', '{\"machine\":true,\"agent\":\"Bob-Mail proxy\"}' FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'bob@y.example';
     INSERT INTO events(message_id, ts, type, text) SELECT m.id, 2, 'click', 'bob@y.example clicked' FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'bob@y.example';
     INSERT INTO events(message_id, ts, type, code, ecode, text) SELECT m.id, 3, 'deferred', 451, '4.7.1', '451 4.7.1 <bob@y.example> greylisted' FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email = 'bob@y.example';
     INSERT INTO events(message_id, ts, type, code, ecode, text) SELECT max(m.id), 4, 'deferred', 451, '4.7.1', '451 4.7.1 try again later' FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE c.email <> 'bob@y.example';
     UPDATE messages SET last_text = '250 ok <bob@y.example>' WHERE contact_id = (SELECT id FROM contacts WHERE email = 'bob@y.example');
     INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('address', 'bob@y.example', 'manual', 0);"
# Written by hand: the rollups counted again from the rows, before the delete and erasure.
"$KIRIM" report c1 --rebuild -o "$TMP/.rebuilt" -q
counts="SELECT m.state, count(*), (SELECT count(*) FROM events e JOIN messages n ON n.id = e.message_id WHERE n.campaign_id = m.campaign_id) FROM messages m WHERE m.campaign_id = (SELECT id FROM campaigns WHERE name = 'c1') GROUP BY m.state"
before=$(sql "$counts")
run "$KIRIM" report c1 --json
report_before=$(json 'j["messages"], j["summary"]')

# A contact's messages are found by index messages_contact, not by a scan of every message:
# a delete and an erasure look them up some eight times (the foreign key's check too, which
# EXPLAIN does not show).
for q in "SELECT count(*) FROM messages WHERE contact_id = 1" \
	"UPDATE messages SET contact_id = NULL WHERE contact_id = 1" \
	"UPDATE events SET text = NULL WHERE message_id IN (SELECT id FROM messages WHERE contact_id = 1)"; do
	contains "delete: by index: $q" "$(sql "EXPLAIN QUERY PLAN $q")" "INDEX messages_contact"
done
run "$KIRIM" contacts delete dee@z.example
eq "delete: exit" "$RC" 0
eq "delete: contact, tags, lists gone" "$(sql "SELECT count(*) FROM contacts WHERE email = 'dee@z.example'; SELECT count(*) FROM list_members WHERE contact_id NOT IN (SELECT id FROM contacts)")" "0
0"
eq "delete: the history keeps the address" "$(sql "SELECT email, state FROM messages WHERE contact_id IS NULL")" "dee@z.example|delivered"
run "$KIRIM" contacts delete bob@y.example nobody@x.example --erase
eq "erase: all or nothing" "$RC/$(sql "SELECT count(*) FROM contacts WHERE email = 'bob@y.example'")" "66/1"
run "$KIRIM" contacts delete bob@y.example --erase --json
eq "erase: exit" "$RC" 0
eq "erase: counts" "$(json 'j["contacts"], j["messages"]')" "1 1"
eq "erase: campaign counts unchanged" "$(sql "$counts")" "$before"
run "$KIRIM" report c1 --json
eq "erase: report counts unchanged" "$(json 'j["messages"], j["summary"]')" "$report_before"
# The reply quoted as the deferral's example named bob: the rollups forget it as the recount does.
rollups_agree "erase: rollups = recount after a delete and an erasure" c1
sqlite3 -batch "$KIRIM_DB" .dump >dump.sql
eq "erase: no row holds the address" "$(grep -ci 'bob@y.example' dump.sql)" 0
eq "erase: nor its attributes or events' details" "$(grep -c 'Bandung\|555) 010\|Bob-Mail\|10.0.0.9' dump.sql)" 0
hash=$(printf '%s' 'bob@y.example' | sha256sum | cut -d' ' -f1)
eq "erase: kept as a hash" "$(sql "SELECT kind, reason FROM suppressions WHERE value = '$hash'")" "hash|erased"
eq "erase: the anonymous message stays" "$(sql "SELECT count(*) FROM messages WHERE contact_id IS NULL AND email IS NULL AND last_text IS NULL")" 1
# Never imported again, and never mailed: made behind kirim's back, the send skips it.
run "$KIRIM" import a.csv --list a --json
eq "erase: import refuses it" "$(json 'j["summary"]["rejected"]')/$(sql "SELECT count(*) FROM contacts WHERE email = 'bob@y.example'")" "1/0"
sql "INSERT INTO contacts(email, domain, created_at, updated_at) VALUES ('Bob@y.example', 'y.example', 0, 0);
     INSERT INTO list_members(list_id, contact_id) SELECT l.id, c.id FROM lists l, contacts c WHERE l.name = 'a' AND c.email = 'bob@y.example'"
# The shell cannot compute the hash, so the lists' kept counts do not know that contact is
# suppressed (kirim links a contact it makes to its erased address: schema 017) until a
# new count links it.
run "$KIRIM" lists check
eq "erase: a contact made behind kirim's back, found by lists check" "$RC/$(grep -c "list 'a' domain y.example" <<<"$OUT")" "65/1"
"$KIRIM" lists check --fix >/dev/null
eq "erase: and linked to its hash by --fix" "$(sql "SELECT count(*) FROM suppressions p JOIN contacts c ON c.id = p.contact_id WHERE c.email = 'Bob@y.example'")" 1
"$KIRIM" campaign create c2 --list a --template t --from "News <news@example.com>" >/dev/null
run "$KIRIM" send c2 --relay "smtp://127.0.0.1:$port" --tls none --json
eq "erase: send c2" "$RC" 0
eq "erase: the address is not mailed" "$(sql "SELECT m.state FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'c2' AND c.email = 'bob@y.example'")" "suppressed"
eq "erase: the others are" "$(sql "SELECT count(*) FROM messages m JOIN campaigns k ON k.id = m.campaign_id WHERE k.name = 'c2' AND m.state = 'delivered'")" 3
run "$KIRIM" contacts delete
eq "delete: needs an address" "$RC" 64

lists_counted # deletes and erasures kept the lists' counts (finish checks only map.db)

# 4. Import column mapping: --map, --ignore-column, --tags-column, the summary's columns.
export KIRIM_DB="$TMP/map.db"
cat >m.csv <<'CSV'
Email Address,First Name,Notes,Tags,City
eve@x.example,Eve,private note,"vip; gold , trial",Jakarta
fay@y.example,Fay,another,,Bandung
CSV
run "$KIRIM" import m.csv --list m --map "Email Address=email, First Name=first_name" --ignore-column notes --tags-column Tags
eq "map: exit" "$RC" 0
contains "map: summary names the address column" "$OUT" "Email Address                -> (the address)"
contains "map: summary shows the key" "$OUT" "First Name                   -> first_name"
contains "map: summary shows ignored" "$OUT" "Notes                        -> (ignored)"
contains "map: summary shows tags" "$OUT" "Tags                         -> (tags)"
contains "map: summary shows the rest" "$OUT" "City                         -> City"
eq "map: attributes under their keys" "$(sql "SELECT email, attrs FROM contacts ORDER BY email")" 'eve@x.example|{"first_name":"Eve","City":"Jakarta"}
fay@y.example|{"first_name":"Fay","City":"Bandung"}'
eq "map: tags from the column" "$(sql "SELECT group_concat(tag, ',') FROM (SELECT tag FROM contact_tags ORDER BY tag)")" "gold,trial,vip"
eq "map: the ignored column nowhere" "$(sqlite3 -batch "$KIRIM_DB" .dump | grep -c 'private note')" 0
run "$KIRIM" import m.csv --list m2 --json --map "Email Address=email" --ignore-column Notes --ignore-column Tags
eq "map: the summary's JSON" "$(json '[(m["column"], m["key"], m["use"]) for m in j["summary"]["mapping"]]')" \
	"[('Email Address', 'email', 'address'), ('First Name', 'First Name', 'attribute'), ('Notes', None, 'ignored'), ('Tags', None, 'ignored'), ('City', 'City', 'attribute')]"
before=$(sqlite3 -batch "$KIRIM_DB" .dump | md5sum)
run "$KIRIM" import m.csv --list m3 --map "Email Address=email,Surname=last_name"
eq "map: a column the file lacks" "$RC/$ERR" "65/kirim import: --map names the column 'Surname', which the header does not have (columns: 'Email Address', 'First Name', 'Notes', 'Tags', 'City')
Nothing was imported: the database is unchanged."
run "$KIRIM" import m.csv --list m3 --map "Email Address=email" --ignore-column Phone
contains "map: --ignore-column of a column the file lacks" "$RC/$ERR" "65/kirim import: --ignore-column names the column 'Phone'"
run "$KIRIM" import m.csv --list m3 --map "Email Address=email" --tags-column Labels
contains "map: --tags-column of a column the file lacks" "$RC/$ERR" "65/kirim import: --tags-column names the column 'Labels'"
run "$KIRIM" import m.csv --list m3 --map "Email Address=email,First Name=City"
contains "map: two columns, one key" "$RC/$ERR" "65/kirim import: the columns 'First Name' and 'City' both become the attribute 'City'"
run "$KIRIM" import m.csv --list m3 --map "Email Address"
contains "map: not Column=key" "$RC/$ERR" "64/kirim import: --map takes"
eq "map: errors change nothing" "$(sqlite3 -batch "$KIRIM_DB" .dump | md5sum)" "$before"
run "$KIRIM" import --help
contains "map: help" "$OUT" "--tags-column NAME"
run "$KIRIM" contacts --help
contains "help: set, export, delete" "$OUT" "contacts delete ADDRESS... [--erase]"
finish
