#!/usr/bin/env bash
# import.sh - `kirim import` on files with every oddity the issue names, checking
# the database afterwards with the sqlite3 shell (not with kirim's own code).
. "$(dirname "$0")/lib.sh"

# 1. A file with most oddities at once: BOM, CRLF, quoted fields with commas,
#    quotes and line breaks, empty lines, ragged rows, UTF-8, IDN, plus-tags,
#    quoted local parts, case-variant duplicates, bad addresses.
printf '\xef\xbb\xbfEmail,First Name,City,Note\r\n' >odd.csv
printf 'ann+news@Example.COM,Ann,"Jakarta, ID","said ""hi"""\r\n' >>odd.csv
printf '\r\n' >>odd.csv
printf 'bob@bücher.example,Bob,Berlin,"two\r\nlines"\r\n' >>odd.csv
printf '"""john doe""@example.com",John,,\r\n' >>odd.csv
printf 'ANN+NEWS@example.com,Ann again,Bandung,\r\n' >>odd.csv
printf 'no-at-sign.example.com,X,Y,Z\r\n' >>odd.csv
printf 'dot..dot@example.com,X,Y,Z\r\n' >>odd.csv
printf 'short@example.com,Shorty\r\n' >>odd.csv
printf 'long@example.com,L,C,N,unexpected\r\n' >>odd.csv
printf 'trail@example.com,T,C,N,,\r\n' >>odd.csv
printf ',nobody,,\r\n' >>odd.csv
printf ' spaced@example.com ,S,,\r\n' >>odd.csv
printf 'ctrl\x01@example.com,C,,\r\n' >>odd.csv
printf 'ip@[192.0.2.1],I,,\r\n' >>odd.csv
printf ',,,\r\n' >>odd.csv
printf 'last@example.com,Last,,no line end' >>odd.csv

run "$KIRIM" import odd.csv --list odd --rejects rej.csv --json
eq "odd file imports" "$RC" 0
S='j["summary"]'
eq "read" "$(json "$S[\"read\"]")" 14
eq "imported" "$(json "$S[\"imported\"]")" 7
eq "duplicates" "$(json "$S[\"duplicates\"]")" 1
eq "rejected" "$(json "$S[\"rejected\"]")" 6
eq "blank rows" "$(json "$S[\"blank\"]")" 1
eq "reasons" "$(json "sorted($S[\"reasons\"].items())")" \
	"[('IP literal not allowed', 1), ('consecutive dots', 1), ('control character', 1), ('missing @', 1), ('missing address', 1), ('more fields than the header', 1)]"
eq "address column found" "$(json "$S[\"email_column\"]")" Email
eq "stored addresses" "$(sql 'SELECT email FROM contacts ORDER BY id')" \
'ann+news@example.com
bob@xn--bcher-kva.example
"john doe"@example.com
short@example.com
trail@example.com
spaced@example.com
last@example.com'
eq "domains are A-labels" "$(sql "SELECT domain FROM contacts WHERE email LIKE 'bob@%'")" \
	xn--bcher-kva.example
eq "attributes as JSON" "$(sql "SELECT attrs FROM contacts WHERE email LIKE 'ann%'")" \
	'{"First Name":"Ann","City":"Jakarta, ID","Note":"said \"hi\""}'
eq "CR LF inside a value survives" \
	"$(sql "SELECT json_extract(attrs, '\$.Note') = 'two' || char(13, 10) || 'lines' FROM contacts WHERE domain LIKE 'xn--%'")" 1
eq "empty cells are not stored" "$(sql "SELECT attrs FROM contacts WHERE email LIKE 'short%'")" \
	'{"First Name":"Shorty"}'
eq "local part keeps its case, domain folded" \
	"$(sql "SELECT count(*) FROM contacts WHERE email = 'ann+news@example.com'")" 1
eq "rejects file header" "$(head -n1 rej.csv | tr -d '\r')" "line,row,reason"
eq "rejects file rows" "$(tail -n +2 rej.csv | tr -d '\r' | cut -d, -f1 | tr '\n' ' ')" \
	"8 9 11 13 15 16 "
contains "rejects keep the raw row" "$(cat rej.csv)" '"long@example.com,L,C,N,unexpected"'
contains "rejects say why" "$(cat rej.csv)" 'more fields than the header (5 fields, the header has 4)'
run "$KIRIM" contacts show BOB@BÜCHER.EXAMPLE --json
eq "show by U-label, any case" "$(json 'j["display"]')" "bob@bücher.example"

# 2. Re-running the same import changes nothing.
before=$(dump)
run "$KIRIM" import odd.csv --list odd --json
eq "re-run exit" "$RC" 0
eq "re-run imports nothing" "$(json "$S[\"imported\"], $S[\"existing\"]")" "0 8"
eq "re-run leaves the data alone" "$(dump)" "$before"

# 3. --update merges new values into existing contacts; without it they stay.
printf 'email,City,Plan\nann+news@example.com,Surabaya,gold\nnew@example.com,Medan,free\n' >upd.csv
run "$KIRIM" import upd.csv --list odd --json
eq "without --update nothing changes" "$(sql "SELECT json_extract(attrs,'\$.City') FROM contacts WHERE email LIKE 'ann%'")" "Jakarta, ID"
run "$KIRIM" import upd.csv --list odd --update --json
eq "--update counts" "$(json "$S[\"updated\"]")" 1
eq "--update merges" "$(sql "SELECT attrs FROM contacts WHERE email LIKE 'ann%'")" \
	'{"First Name":"Ann","City":"Surabaya","Note":"said \"hi\"","Plan":"gold"}'

# 4. A second list shares contacts.
printf 'email\nANN+NEWS@EXAMPLE.COM\nfresh@example.org\n' >second.csv
run "$KIRIM" import second.csv --list second --json
eq "existing contact added to another list" "$(json "$S[\"added\"], $S[\"imported\"]")" "1 1"
eq "one contact, two lists" "$(sql "SELECT count(*) FROM list_members m JOIN contacts c ON c.id=m.contact_id WHERE c.email LIKE 'ann%'")" 2

# 5. Delimiters: semicolon and tab are sniffed; --delimiter forces one.
printf 'name;email;city\nS;semi@example.com;"A;B"\n' >semi.csv
run "$KIRIM" import semi.csv --list delim --json
eq "semicolon sniffed" "$(json "$S[\"delimiter\"], $S[\"imported\"]")" "; 1"
eq "semicolon value" "$(sql "SELECT json_extract(attrs,'\$.city') FROM contacts WHERE email LIKE 'semi%'")" "A;B"
printf 'email\tname\ntab@example.com\tT, with comma\n' >tab.tsv
run "$KIRIM" import tab.tsv --list delim --json
eq "tab sniffed" "$(json "$S[\"delimiter\"] == '\t', $S[\"imported\"]")" "True 1"
printf 'email;x,y\nforced@example.com;1,2\n' >forced.csv
run "$KIRIM" import forced.csv --list delim --delimiter ';' --json
eq "forced semicolon" "$(json "$S[\"columns\"], $S[\"imported\"]")" "2 1"
run "$KIRIM" import forced.csv --list delim --delimiter , --json
eq "forced comma: no address column" "$RC" 65
contains "forced comma: columns listed" "$ERR" '"email;x", "y"'


# 6. Lone CR line ends (old Mac exports) and LF.
printf 'email,n\rcr1@example.com,1\rcr2@example.com,2\r' >cr.csv
run "$KIRIM" import cr.csv --list cr --json
eq "lone CR" "$(json "$S[\"imported\"]")" 2
printf 'email,n\nlf1@example.com,1\nbad\n' >lf.csv
run "$KIRIM" import lf.csv --list cr --rejects lfrej.csv --json
eq "LF line numbers" "$(tail -n +2 lfrej.csv | cut -d, -f1)" 3

# 7. Encoding: Latin-1 bytes are rejected, not mangled, unless --encoding latin1.
printf 'email,name\nlat@example.com,Jos\xe9 M\xfcller\nok@example.com,Ok\n' >latin1.csv
run "$KIRIM" import latin1.csv --list enc --rejects encrej.csv --json
eq "latin1 without flag: row rejected" "$(json "$S[\"rejected\"], $S[\"imported\"]")" "1 1"
contains "latin1 reason names the column" "$(cat encrej.csv)" "invalid UTF-8 in column 'name'"
run "$KIRIM" import latin1.csv --list enc --encoding latin1 --json
eq "latin1 with flag" "$(sql "SELECT json_extract(attrs,'\$.name') FROM contacts WHERE email LIKE 'lat@%'")" "José Müller"

# 7b. A NUL byte in any value is refused at import with the row's reason (it would stop the
#     contact's message at send: the attributes JSON would hold \u0000, which jansson refuses),
#     whether the value is quoted or not; other rows and other control bytes go on as data.
printf 'email,city,note\n' >nul.csv
printf 'q@example.com,"Ja\000karta",x\n' >>nul.csv
printf 'u@example.com,Bandung,un\000quoted\n' >>nul.csv
printf 'fine@example.com,Medan,"tab\there, vt\013 and bell\007"\n' >>nul.csv
printf 'ok@example.com,Solo,\n' >>nul.csv
run "$KIRIM" import nul.csv --list nul --rejects nulrej.csv --json
eq "NUL rows: exit" "$RC" 0
eq "NUL rows rejected, others imported" "$(json "$S[\"rejected\"], $S[\"imported\"] + $S[\"added\"]")" "2 2"
eq "NUL reason counted" "$(json "sorted($S[\"reasons\"].items())")" "[('NUL byte in a value', 2)]"
eq "NUL rows in the rejects file" "$(tail -n +2 nulrej.csv | tr -d '\r' | cut -d, -f1 | tr '\n' ' ')" "2 3 "
contains "NUL reason names the quoted column" "$(tr -d '\000' <nulrej.csv)" 'column ""city"": contains a NUL byte'
contains "NUL reason names the unquoted column" "$(tr -d '\000' <nulrej.csv)" 'column ""note"": contains a NUL byte'
eq "NUL kept in the raw row" "$(grep -c -a 'un.quoted' nulrej.csv)" 1
eq "no NUL in the database" "$(sql "SELECT count(*) FROM contacts WHERE instr(attrs, '\\u0000') OR instr(CAST(attrs AS BLOB), x'00')")" 0
eq "NUL rows not stored" "$(sql "SELECT group_concat(email, ' ') FROM (SELECT email FROM contacts WHERE email IN ('q@example.com','u@example.com','fine@example.com','ok@example.com') ORDER BY email)")" \
	"fine@example.com ok@example.com"
eq "other controls stay data" "$(sql "SELECT json_extract(attrs, '\$.note') = 'tab' || char(9) || 'here, vt' || char(11) || ' and bell' || char(7) FROM contacts WHERE email = 'fine@example.com'")" 1

# 8. --email-column, and a file with no address column.
printf 'who,name\ncol@example.com,C\n' >col.csv
run "$KIRIM" import col.csv --list col
eq "no address column" "$RC" 65
contains "no address column says what to do" "$ERR" "--email-column"
contains "no address column: unchanged" "$ERR" "database is unchanged"
run "$KIRIM" import col.csv --list col --email-column WHO --json
eq "--email-column" "$(json "$S[\"imported\"]")" 1

# 9. IP literals only when allowed.
printf 'email\nip@[192.0.2.1]\nip6@[IPv6:2001:db8::1]\n' >ip.csv
run "$KIRIM" import ip.csv --list ip --allow-ip-literals --json
eq "IP literals allowed" "$(json "$S[\"imported\"]")" 2

# 10. Standard input.
printf 'email\nstdin@example.com\n' | "$KIRIM" import - --list stdin --json >stdin.json
eq "stdin" "$(python3 -c 'import json; print(json.load(open("stdin.json"))["summary"]["imported"])')" 1

# 11. Fatal errors leave the database exactly as before.
before=$(dump)
run "$KIRIM" import nonexistent.csv --list x
eq "missing file" "$RC" 66
contains "missing file message" "$ERR" "cannot open nonexistent.csv"
: >empty.csv
run "$KIRIM" import empty.csv --list x
eq "empty file" "$RC" 65
contains "empty file message" "$ERR" "header row is required"
# An unterminated quote swallows the rest of the file into one record over the cap.
{ printf 'email,note\ngood@example.com,"starts here\n'; head -c 1200000 /dev/zero | tr '\0' 'x'; printf '\n'; } >huge.csv
run "$KIRIM" import huge.csv --list x
eq "oversized record refused" "$RC" 65
contains "oversized record says where" "$ERR" "line 2"
printf 'email,email\na@b.test,c@d.test\n' >dupcol.csv
run "$KIRIM" import dupcol.csv --list x
eq "duplicate column" "$RC" 65
eq "fatal errors changed nothing" "$(dump)" "$before"
eq "no list x was left behind" "$(sql "SELECT count(*) FROM lists WHERE name='x'")" 0

# 12. Ctrl-C in the middle of a big import rolls everything back.
python3 -c '
import sys
w = sys.stdout.write
w("email,first_name\n")
for i in range(1500000):
    w("user%d@d%d.example.com,N%d\n" % (i, i % 1000, i))
' >big.csv
before=$(dump)
"$KIRIM" import big.csv --list big >int.out 2>int.err &
pid=$!
for _ in $(seq 1 100); do
	sleep 0.1
	[ -f "$KIRIM_DB-wal" ] && [ "$(stat -c %s "$KIRIM_DB-wal")" -gt 1000000 ] && break
done
kill -INT "$pid"
wait "$pid"
eq "interrupt exit" "$?" 130
contains "interrupt message" "$(cat int.err)" "database is unchanged"
eq "interrupt changed nothing" "$(dump)" "$before"

# 13. A crash (SIGKILL) mid-import also leaves nothing behind.
"$KIRIM" import big.csv --list big >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	sleep 0.1
	[ -f "$KIRIM_DB-wal" ] && [ "$(stat -c %s "$KIRIM_DB-wal")" -gt 1000000 ] && break
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
eq "crash changed nothing" "$(dump)" "$before"
eq "database is intact after a crash" "$(sql 'PRAGMA integrity_check')" ok
finish
