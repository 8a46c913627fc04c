#!/usr/bin/env bash
# pg_counts.sh - the PostgreSQL twin of migration 017 (schema/pg/017_list_counts.sql): a SQLite
# database with lists, suppressions, a waiting signup and an erased address is copied by
# kirim migrate (its triggers off: the counts are copied, not made again), and then psql
# writes what list_counts.sh writes in SQLite: members added and removed, an address and a
# domain suppressed and lifted, contacts deleted, a list deleted, a waiting member
# confirmed, a contact's address changed, an erased address's hash linked and lifted, and
# two suppressions of one member lifted by one DELETE (a domain's and an address's there; an
# address's and its hash link: PostgreSQL's AFTER row triggers would count it out twice). After
# each, the kept counts (list_domain_counts) must equal a new count by the rule, written
# here in SQL as store_list_check counts: a confirmed member is suppressed when a
# suppression names its lower-cased address, its domain or its address's SHA-256. With one
# trigger dropped, the same check finds the count it no longer keeps. 017's first fill is
# checked too: schema/pg/ up to 016, rows, then 017.
. "$(dirname "$0")/lib.sh"
: >empty.conf
export KIRIM_CONFIG="$TMP/empty.conf"
start_postgres || exit 1
SRC=${KIRIM_SRC:?}

# The rule, counted again beside the kept rows: one line per (list, domain) that differs.
KEY='lower(c.email::text COLLATE "C")'
RECOUNT="WITH counted AS (SELECT m.list_id, c.domain, count(*) AS members,
	count(*) FILTER (WHERE EXISTS (SELECT 1 FROM suppressions p WHERE p.value IN
		($KEY, c.domain, encode(sha256(convert_to($KEY, 'UTF8')), 'hex')))) AS suppressed
	FROM list_members m JOIN contacts c ON c.id = m.contact_id
	WHERE m.status = 'confirmed' GROUP BY m.list_id, c.domain),
kept AS (SELECT * FROM list_domain_counts WHERE members <> 0 OR suppressed <> 0)
SELECT coalesce(t.list_id, k.list_id) || ' ' || coalesce(t.domain, k.domain) || ': kept '
	|| coalesce(k.members, 0) || '/' || coalesce(k.suppressed, 0) || ', counted '
	|| coalesce(t.members, 0) || '/' || coalesce(t.suppressed, 0)
FROM counted t FULL JOIN kept k ON k.list_id = t.list_id AND k.domain = t.domain
WHERE t.members IS DISTINCT FROM k.members OR t.suppressed IS DISTINCT FROM k.suppressed
ORDER BY 1"
# Each list's kept counts: name=members/suppressed.
LISTS="SELECT string_agg(x, ' ' ORDER BY x) FROM (SELECT l.name || '=' || coalesce(sum(k.members), 0)
	|| '/' || coalesce(sum(k.suppressed), 0) AS x FROM lists l
	LEFT JOIN list_domain_counts k ON k.list_id = l.id GROUP BY l.name) s"
DB=kirimdb
q() { psql_q --db "$DB" "$1"; }
# counts LABEL WANT - kept counts equal the rule's count, and each list's are WANT
counts() {
	local diff
	diff=$(q "$RECOUNT")
	eq "$1: kept counts match the rule" "$diff" ""
	eq "$1: lists" "$(q "$LISTS")" "$2"
}

# --- the source, made by kirim's commands (as list_counts.sh's first steps) ---------------
printf 'email\nann@a.example\nbob@a.example\ncyd@b.example\ndee@c.example\nann@a.example\n' >one.csv
printf 'email\nBob@a.example\ncyd@b.example\neve@b.example\n' >two.csv
"$KIRIM" import one.csv --list one -q >/dev/null
"$KIRIM" import two.csv --list two -q >/dev/null
"$KIRIM" suppress add BOB@a.example -q
"$KIRIM" contacts delete ann@a.example --erase -q >/dev/null
sql "INSERT INTO contacts(email, domain, created_at, updated_at) VALUES ('Fay@a.example', 'a.example', 0, 0);
	INSERT INTO list_members(list_id, contact_id, status) SELECT l.id, c.id, 'unconfirmed'
	FROM lists l, contacts c WHERE l.name = 'two' AND c.email = 'Fay@a.example'"
run "$KIRIM" lists check
eq "the source's counts are right" "$RC" 0

# --- the copy: triggers off, the kept rows copied as they are -------------------------------
psql_q --db postgres "CREATE DATABASE $DB" >/dev/null
run "$KIRIM" migrate --to "postgresql://kirim@127.0.0.1:$PG_PORT/$DB" --json
eq "migrate: copied and the same" "$RC $(json 'j["same"]')" "0 True"
eq "the kept rows copied" "$(q "SELECT list_id || ' ' || domain || ' ' || members || ' ' || suppressed FROM list_domain_counts ORDER BY list_id, domain")" \
	"$(sql "SELECT list_id || ' ' || domain || ' ' || members || ' ' || suppressed FROM list_domain_counts ORDER BY list_id, domain")"
counts "migrated" "one=3/1 two=3/1"
eq "the hash as store_suppress_hash makes it" \
	"$(q "SELECT encode(sha256(convert_to(lower('Ann@A.example'::text COLLATE \"C\"), 'UTF8')), 'hex')")" \
	"$(sql "SELECT value FROM suppressions WHERE kind = 'hash'")"

# --- psql's writes: the triggers keep the counts --------------------------------------------
member() { # member LIST EMAIL - add a confirmed member
	q "INSERT INTO list_members(list_id, contact_id) SELECT l.id, c.id
		FROM lists l, contacts c WHERE l.name = '$1' AND c.email = '$2'" >/dev/null
}
suppress() { q "INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('$1', '$2', 'manual', 0)" >/dev/null; }
lift() { q "DELETE FROM suppressions WHERE value = '$1'" >/dev/null; }
member one eve@b.example
counts "a member added" "one=4/1 two=3/1"
suppress domain b.example
counts "a domain suppressed" "one=4/3 two=3/3"
suppress address cyd@b.example
counts "an address inside a suppressed domain" "one=4/3 two=3/3"
lift b.example
counts "the domain lifted: its own suppression stays" "one=4/2 two=3/2"
lift bob@a.example
counts "an address lifted" "one=4/1 two=3/1"
# One DELETE of a domain's suppression and of an address's there: each member counted out
# once (a trigger that ran when the statement ends would count eve out twice).
suppress domain b.example
suppress address eve@b.example
counts "a domain and an address in it" "one=4/2 two=3/2"
q "DELETE FROM suppressions WHERE value IN ('b.example', 'eve@b.example')" >/dev/null
counts "both lifted by one statement" "one=4/1 two=3/1"
q "DELETE FROM list_members WHERE contact_id = (SELECT id FROM contacts WHERE email = 'eve@b.example')
	AND list_id = (SELECT id FROM lists WHERE name = 'one')" >/dev/null
counts "a member removed" "one=3/1 two=3/1"
q "UPDATE list_members SET status = 'confirmed' WHERE status = 'unconfirmed'" >/dev/null
counts "a waiting member confirmed" "one=3/1 two=4/1"
q "DELETE FROM contacts WHERE email = 'dee@c.example'" >/dev/null
counts "a contact deleted" "one=2/1 two=4/1"
q "DELETE FROM contacts WHERE email = 'cyd@b.example'" >/dev/null
counts "a suppressed contact deleted" "one=1/0 two=3/0"
suppress address fay@a.example
counts "an address suppressed" "one=1/0 two=3/1"
q "UPDATE contacts SET email = 'fay@d.example', domain = 'd.example' WHERE email = 'fay@a.example'" >/dev/null
counts "its contact's address changed" "one=1/0 two=3/0"
eq "out of the old domain's row, into the new one's" \
	"$(q "SELECT string_agg(domain || '=' || members, ' ' ORDER BY domain) FROM list_domain_counts
		WHERE members > 0 AND list_id = (SELECT id FROM lists WHERE name = 'two')")" \
	"a.example=1 b.example=1 d.example=1"
# The erased address back on a list, then linked to its hash (as store_suppress_link links
# a new contact), then on another list (counted through the link), then the hash lifted.
q "INSERT INTO contacts(email, domain, created_at, updated_at) VALUES ('Ann@a.example', 'a.example', 0, 0)" >/dev/null
member one Ann@a.example
q "UPDATE suppressions SET contact_id = (SELECT id FROM contacts WHERE email = 'Ann@a.example')
	WHERE kind = 'hash' AND value = encode(sha256(convert_to(lower('Ann@a.example'), 'UTF8')), 'hex')" >/dev/null
counts "the erased address back, linked to its hash" "one=2/1 two=3/0"
member two Ann@a.example
counts "and on another list" "one=2/1 two=4/1"
suppress address ann@a.example
counts "its address suppressed too" "one=2/1 two=4/1"
q "DELETE FROM suppressions WHERE value IN ('ann@a.example', '$(sql "SELECT value FROM suppressions WHERE kind = 'hash'")')" >/dev/null
counts "the address and the hash lifted by one statement" "one=2/0 two=4/0"
run q "UPDATE suppressions SET value = 'x@a.example' WHERE kind = 'address'"
eq "a suppression's value is not changed in place: refused" "$RC" 1
contains "and says why" "$ERR" "not changed in place: remove it and add the new one"
q "DELETE FROM lists WHERE name = 'one'" >/dev/null
counts "a list deleted" "two=4/0"
eq "its rows are gone" "$(q "SELECT count(*) FROM list_domain_counts WHERE list_id NOT IN (SELECT id FROM lists)")" 0

# --- one trigger dropped: the check finds what it no longer keeps ----------------------------
q "DROP TRIGGER list_counts_suppress_domain ON suppressions" >/dev/null
suppress domain b.example
eq "a trigger dropped: the check fails" "$(q "$RECOUNT")" \
	"$(q "SELECT id FROM lists WHERE name = 'two'") b.example: kept 1/0, counted 1/1"

# --- 017's first fill, over rows 015 and 016 hold -------------------------------------------
DB=fill
psql_q --db postgres "CREATE DATABASE $DB" >/dev/null
for f in "$SRC"/schema/pg/015_*.sql "$SRC"/schema/pg/016_*.sql; do
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U kirim -d "$DB" -f "$f" >/dev/null
done
q "INSERT INTO lists(name, created_at) VALUES ('one', 0), ('two', 0);
INSERT INTO contacts(email, domain, created_at, updated_at) VALUES ('ann@a.example', 'a.example', 0, 0),
	('Bob@a.example', 'a.example', 0, 0), ('cyd@b.example', 'b.example', 0, 0), ('dee@c.example', 'c.example', 0, 0);
INSERT INTO list_members(list_id, contact_id, status) SELECT 1, id, 'confirmed' FROM contacts;
INSERT INTO list_members(list_id, contact_id, status) SELECT 2, id, CASE WHEN id = 4 THEN 'unconfirmed' ELSE 'confirmed' END FROM contacts;
INSERT INTO suppressions(kind, value, reason, created_at) VALUES ('address', 'bob@a.example', 'manual', 0),
	('domain', 'c.example', 'manual', 0), ('hash', '$(printf '%s' ann@a.example | sha256sum | cut -d' ' -f1)', 'erased', 0)" >/dev/null
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U kirim -d "$DB" -f "$SRC"/schema/pg/017_*.sql >/dev/null
eq "first fill: the hash linked" "$(q "SELECT c.email FROM suppressions p JOIN contacts c ON c.id = p.contact_id")" ann@a.example
counts "first fill" "one=4/3 two=3/2"
finish
