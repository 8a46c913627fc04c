#!/usr/bin/env bash
# suppress.sh - the suppression list: add, remove, list, import, and its effect on lists.
. "$(dirname "$0")/lib.sh"

run "$KIRIM" suppress add Bob@Example.COM münchen.de @spam.test --reason complaint --source test
eq "add exit" "$RC" 0
eq "stored normalised" "$(sql "SELECT kind, value, reason, source FROM suppressions ORDER BY value")" \
"address|bob@example.com|complaint|test
domain|spam.test|complaint|test
domain|xn--mnchen-3ya.de|complaint|test"
run "$KIRIM" suppress add bob@example.com
eq "adding again is harmless" "$RC" 0
contains "adding again says so" "$OUT" "already suppressed"
run "$KIRIM" suppress add "not an address@"
eq "bad address refused" "$RC" 65
contains "bad address reason" "$ERR" "neither an address nor a domain"
run "$KIRIM" suppress add "bad_domain"
eq "single-label domain refused" "$RC" 65

run "$KIRIM" suppress list --json
eq "list --json count" "$(json 'len(j)')" 3
run "$KIRIM" suppress list
contains "list shows U-labels" "$OUT" "münchen.de"
run "$KIRIM" suppress list --reason manual
contains "list by reason" "$OUT" "Nothing is suppressed"

# Import marks suppressed contacts but keeps them.
printf 'email,name\nbob@example.com,Bob\nann@münchen.de,Ann\ncid@ok.test,Cid\nBOB@EXAMPLE.COM,dup\n' >l.csv
run "$KIRIM" import l.csv --list l --json
eq "import with suppressions exit" "$RC" 0
eq "suppressed counted" "$(json 'j["summary"]["suppressed"], j["summary"]["imported"], j["summary"]["duplicates"]')" "2 3 1"
eq "suppressed contacts are still members" "$(sql 'SELECT count(*) FROM list_members')" 3
run "$KIRIM" lists --json
eq "lists counts suppressed" "$(json 'j[0]["members"], j[0]["suppressed"]')" "3 2"
run "$KIRIM" contacts show ann@MÜNCHEN.de --json
eq "contact shows suppression" "$(json 'j["suppressed"]')" complaint

run "$KIRIM" suppress remove münchen.de
eq "remove exit" "$RC" 0
run "$KIRIM" suppress remove münchen.de
contains "remove again says so" "$OUT" "was not suppressed"
run "$KIRIM" lists --json
eq "after remove" "$(json 'j[0]["suppressed"]')" 1

# Bulk import: header, comments, blank lines, bad lines reported, all in one go.
printf 'email\n# a comment\nx1@a.test\n\n@whole.test\nnot-valid\nx1@a.test\ny2@b.test,extra,columns\n' >s.txt
run "$KIRIM" suppress import s.txt --reason hard_bounce --json
eq "suppress import exit" "$RC" 0
eq "suppress import counts" "$(json 'j["added"], j["existing"], j["rejected"]')" "3 1 1"
contains "bad line reported with its number" "$ERR" "line 6"
eq "imported reason" "$(sql "SELECT count(*) FROM suppressions WHERE reason='hard_bounce'")" 3
run "$KIRIM" suppress import missing.txt
eq "missing file" "$RC" 66
finish
