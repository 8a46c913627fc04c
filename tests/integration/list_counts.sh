#!/usr/bin/env bash
# list_counts.sh - each list's member and suppressed counts, kept per list and domain by
# triggers (schema 017), after every kind of change: imports, suppressions of an address, a
# domain and an erased address's hash (added and lifted), a member removed, a contact deleted
# and erased, an erased address signing up again (its hash), a contact made through the API,
# a list deleted,
# and the sqlite3 shell writing directly. Each step compares the kept counts with a new count
# (`kirim lists check`) and with the figures the old query gave (counted here with SQL);
# a campaign's plan and a segment's count over one list read the same rows. A count broken by hand is found and
# repaired (`--fix`).
. "$(dirname "$0")/lib.sh"

export API_TOKEN=
CALL="${KIRIM_SRC:-.}/tests/integration/api_call.py"
# counts LABEL - the kept counts agree with a new count, and with the rule counted in SQL
# (a member is suppressed when its lower-cased address, its domain or its address's hash is)
counts() {
	run "$KIRIM" lists check
	eq "$1: kept counts match a new count" "$RC" 0
	[ "$RC" = 0 ] || printf '  %s\n' "$OUT"
	local hashes want got
	hashes=$(sql "SELECT value FROM suppressions WHERE kind = 'hash'")
	want=$(sql "SELECT group_concat(x, ' ') FROM (SELECT l.name || '=' || (SELECT count(*) FROM list_members m WHERE m.list_id = l.id AND m.status = 'confirmed') || '/' || (SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id WHERE m.list_id = l.id AND m.status = 'confirmed' AND EXISTS (SELECT 1 FROM suppressions p WHERE p.value IN (lower(c.email), c.domain))) AS x FROM lists l ORDER BY l.name)")
	got=$("$KIRIM" --json lists | $PY3 -c 'import json,sys; print(" ".join("%s=%d/%d" % (l["name"], l["members"], l["suppressed"]) for l in json.load(sys.stdin)))')
	# The hash part of the rule: the shell has no SHA-256, so those members are added here.
	if [ -n "$hashes" ]; then
		want=$(for e in $(sql "SELECT l.name || ',' || lower(c.email) FROM list_members m JOIN contacts c ON c.id = m.contact_id JOIN lists l ON l.id = m.list_id WHERE m.status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.value IN (lower(c.email), c.domain))"); do
			h=$(printf '%s' "${e#*,}" | sha256sum | cut -d' ' -f1)
			grep -qx "$h" <<<"$hashes" && echo "${e%%,*}"
		done | sort | uniq -c | $PY3 -c '
import sys
extra = {l.split()[1]: int(l.split()[0]) for l in sys.stdin if l.strip()}
out = []
for item in sys.argv[1].split():
    name, v = item.split("=")
    m, s = v.split("/")
    out.append("%s=%s/%d" % (name, m, int(s) + extra.get(name, 0)))
print(" ".join(out))' "$want")
	fi
	eq "$1: lists" "$got" "$2"
	eq "$1: the rule counted in SQL agrees" "$want" "$2"
}

# 1. Imports: two lists sharing two contacts, a repeated row, a signup waiting (not counted).
printf 'email\nann@a.example\nbob@a.example\ncyd@b.example\ndee@c.example\nann@a.example\n' >one.csv
printf 'email\nBob@a.example\ncyd@b.example\neve@b.example\n' >two.csv
"$KIRIM" import one.csv --list one -q >/dev/null
"$KIRIM" import two.csv --list two -q >/dev/null
counts "import" "one=4/0 two=3/0"

# 2. Suppressions: an address on both lists, then its whole domain, then each lifted.
"$KIRIM" suppress add BOB@a.example -q
counts "address suppressed" "one=4/1 two=3/1"
"$KIRIM" suppress add b.example -q
counts "domain suppressed" "one=4/2 two=3/3"
"$KIRIM" suppress add cyd@b.example -q
counts "an address inside a suppressed domain" "one=4/2 two=3/3"
"$KIRIM" suppress remove b.example -q
counts "domain lifted: its own suppression stays" "one=4/2 two=3/2"
"$KIRIM" suppress remove bob@a.example -q
counts "address lifted" "one=4/1 two=3/1"

# 3. Deletes: a plain member, a suppressed one; an erasure (the hash stays).
"$KIRIM" contacts delete dee@c.example -q >/dev/null
counts "contact deleted" "one=3/1 two=3/1"
"$KIRIM" contacts delete cyd@b.example -q >/dev/null
counts "suppressed contact deleted" "one=2/0 two=2/0"
"$KIRIM" contacts delete ann@a.example --erase -q >/dev/null
counts "contact erased" "one=1/0 two=2/0"
eq "erased: a hash" "$(sql "SELECT count(*) FROM suppressions WHERE kind = 'hash'")" 1

# 4. The erased address signs up again (an import refuses it, as the API does): a contact made
# with it is suppressed by its hash on every list it is confirmed on; lifting the hash lifts
# it. A contact made through the API counts too.
port=$(free_port)
aport=$(free_port)
cat >kirim.conf <<EOF2
[secret]
value = list-counts-secret-0123456789abcdef
[unsubscribe]
url = http://127.0.0.1:$port/u/
[signup]
lists = one
from = "News <news@kirim.test>"
EOF2
export KIRIM_CONFIG="$TMP/kirim.conf"
export API_TOKEN=$("$KIRIM" token create --name t --scope admin 2>/dev/null)
"$KIRIM" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$aport" 2>serve.log &
srv=$!
PIDS+=("$srv")
wait_port "$port"
wait_port "$aport"
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"email":"Ann@a.example","consent":true}' "http://127.0.0.1:$port/s/one"
for _ in $(seq 1 50); do [ -n "$(member Ann@a.example)" ] && break; sleep 0.1; done
eq "signup: waits for its link" "$(member Ann@a.example)" "one:unconfirmed"
eq "its hash names it" "$(sql "SELECT count(*) FROM suppressions p JOIN contacts c ON c.id = p.contact_id WHERE p.kind = 'hash' AND c.email = 'Ann@a.example'")" 1
counts "an erased address signs up: not counted yet" "one=1/0 two=2/0"
sql "UPDATE list_members SET status = 'confirmed' WHERE status = 'unconfirmed'"
counts "confirmed: suppressed by its hash" "one=2/1 two=2/0"
sql "INSERT INTO list_members(list_id, contact_id) SELECT l.id, c.id FROM lists l, contacts c WHERE l.name = 'two' AND c.email = 'Ann@a.example'"
counts "and on another list" "one=2/1 two=3/1"
out=$($PY3 "$CALL" "$aport" POST /api/contacts '{"email": "fay@a.example", "lists": ["one"]}')
eq "API: contact made" "$(sed -n 1p <<<"$out")" 201
counts "a new contact through the API" "one=3/1 two=3/1"
stop "$srv"
"$KIRIM" suppress remove "$(printf '%s' 'ann@a.example' | sha256sum | cut -d' ' -f1)" -q 2>/dev/null ||
	sql "DELETE FROM suppressions WHERE kind = 'hash'"
counts "hash lifted" "one=3/0 two=3/0"

# 5. The sqlite3 shell writes too (triggers, not kirim's code, keep the counts): a member out,
# one waiting for confirmation, then confirmed; an address suppressed.
sql "PRAGMA foreign_keys = ON; DELETE FROM list_members WHERE contact_id = (SELECT id FROM contacts WHERE email = 'eve@b.example')"
counts "member removed" "one=3/0 two=2/0"
sql "INSERT INTO list_members(list_id, contact_id, status) SELECT l.id, c.id, 'unconfirmed' FROM lists l, contacts c WHERE l.name = 'two' AND c.email = 'fay@a.example'"
counts "a signup waiting is not counted" "one=3/0 two=2/0"
sql "UPDATE list_members SET status = 'confirmed' WHERE status = 'unconfirmed'"
counts "confirmed" "one=3/0 two=3/0"
sql "INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('address', 'fay@a.example', 'manual', 0)"
counts "suppressed from the shell" "one=3/1 two=3/1"
run sql "UPDATE suppressions SET value = 'x@a.example' WHERE value = 'fay@a.example'"
contains "a suppression's value is not changed in place" "$RC $ERR" "not changed in place"

# 6. A plan over one list reads the kept rows: the list's members less the suppressed.
printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
"$KIRIM" template add t t.tpl >/dev/null
"$KIRIM" campaign create c1 --list one --template t --from "News <news@kirim.test>" >/dev/null
printf '[secret]\nvalue = list-counts-secret-0123456789abcdef\n[relay]\nurl = smtp://127.0.0.1:25\n' >kirim.conf
run "$KIRIM" --json campaign plan c1
eq "plan: one list's domains" "$(json 'j["source"], j["messages"], " ".join("%s:%d" % (d["domain"], d["messages"]) for d in j["domains"])')" "audience 2 a.example:2"

# 6b. A segment's count of one list reads the kept rows; a big list with another condition
# is looked up per contact (the same count).
"$KIRIM" contacts set bob@a.example city=Oslo -q
"$KIRIM" contacts set fay@a.example city=oslo -q
segcount() { "$KIRIM" --json segment count "$1" | $PY3 -c 'import json,sys; j=json.load(sys.stdin); print(j["contacts"], j["suppressed"])'; }
eq "segment: one list" "$(segcount 'list("one")')" "3 1"
eq "segment: a big list and an attribute" "$(segcount 'list("one") and city = "Oslo"')" "2 1"
eq "segment: the same in SQL" "$(sql "SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id JOIN lists l ON l.id = m.list_id WHERE l.name = 'one' AND lower(json_extract(c.attrs, '$.city')) = 'oslo'")" 2
eq "segment: not a list" "$(segcount 'not list("one")')" "1 0"

# 7. A list deleted takes its rows; a count broken by hand is found, then repaired.
"$KIRIM" campaign delete c1 >/dev/null 2>&1 || true
"$KIRIM" lists delete two -q >/dev/null
counts "list deleted" "one=3/1"
eq "its rows are gone" "$(sql "SELECT count(*) FROM list_domain_counts WHERE list_id NOT IN (SELECT id FROM lists)")" 0
sql "UPDATE list_domain_counts SET members = members + 5 WHERE domain = 'a.example'"
run "$KIRIM" --json lists check
eq "a broken count is found" "$RC/$(json 'j["wrong"], j["differences"][0]["kept"]["members"], j["differences"][0]["counted"]["members"]')" "65/1 8 3"
run "$KIRIM" lists check --fix
eq "and repaired" "$RC" 0
counts "repaired" "one=3/1"
run "$KIRIM" lists check --now
eq "check: a wrong option" "$RC" 64

finish
