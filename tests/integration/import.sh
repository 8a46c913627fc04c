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
printf 'email,email\na@b.test,c@d.test\n' >dupcol.csv
run "$KIRIM" import dupcol.csv --list x
eq "duplicate column" "$RC" 65
eq "fatal errors changed nothing" "$(dump)" "$before"
eq "no list x was left behind" "$(sql "SELECT count(*) FROM lists WHERE name='x'")" 0

# 14. Encodings (#18 item 13). Windows-1252 as Excel's "Save as CSV" writes it: without an
#     option most rows fail UTF-8, so the import stops before creating anything (exit 65) and
#     names the encoding and the option; with it, € „ “ arrive as themselves, never as C1
#     controls; `latin1` is read as windows-1252 too. Files are made byte by byte (python3)
#     or with the iconv CLI, never with kirim's own code.
python3 -c '
import sys
rows = [b"email,name,note"]
for i in range(40):
    rows.append(b"w%d@example.com,Ren\xe9e \x84Quote\x93,Price \x80%d" % (i, i))
rows.append(b"plain@example.com,Plain,ascii")
sys.stdout.buffer.write(b"\r\n".join(rows) + b"\r\n")' >w1252.csv
before=$(dump)
run "$KIRIM" import w1252.csv --list w1252 --json
eq "windows-1252 without an option: stops" "$RC" 65
contains "windows-1252 guess named" "$ERR" "windows-1252"
contains "the option to pass" "$ERR" "--encoding windows-1252"
contains "how many rows failed" "$ERR" "40 of the 41 rows"
eq "windows-1252 without an option: no list created" "$(sql "SELECT count(*) FROM lists WHERE name='w1252'")" 0
eq "windows-1252 without an option: nothing changed" "$(dump)" "$before"
run "$KIRIM" import w1252.csv --list w1252 --encoding windows-1252 --json
eq "windows-1252: imported" "$RC $(json "$S[\"imported\"], $S[\"rejected\"]")" "0 41 0"
eq "windows-1252: € „ “ stored as themselves" \
	"$(sql "SELECT json_extract(attrs,'\$.name') || '|' || json_extract(attrs,'\$.note') FROM contacts WHERE email = 'w7@example.com'")" \
	"Renée „Quote“|Price €7"
run "$KIRIM" import w1252.csv --list w1252b --encoding cp1252 --json
eq "cp1252 accepted" "$RC $(json "$S[\"added\"]")" "0 41"
run "$KIRIM" import w1252.csv --list w1252c --encoding latin1 --json
eq "latin1 accepted" "$RC $(json "$S[\"added\"]")" "0 41"
eq "no C1 control characters stored" \
	"$(sql "SELECT attrs FROM contacts" | python3 -c 'import sys; print(sum(0x80 <= ord(c) <= 0x9f for c in sys.stdin.read()))')" 0
run "$KIRIM" import w1252.csv --list w1252d --encoding utf-8 --json
eq "--encoding utf-8 insists: rows refused one by one" "$RC $(json "$S[\"rejected\"]")" "0 40"
# A byte Windows-1252 leaves undefined (0x81) refuses its row, named, and the rest goes on.
printf 'email,name\r\nu1@example.com,Bad \x81 byte\r\nu2@example.com,Good \x80\r\n' >w1252bad.csv
run "$KIRIM" import w1252bad.csv --list w1252e --encoding windows-1252 --rejects encbad.csv --json
eq "undefined byte: row refused" "$RC $(json "$S[\"rejected\"], $S[\"imported\"]")" "0 1 1"
contains "undefined byte: reason names the byte and column" "$(cat encbad.csv)" "0x81"
contains "undefined byte: column named" "$(cat encbad.csv)" "'name'"
contains "undefined byte: shown as \\x81 in the raw row" "$(cat encbad.csv)" 'Bad \x81 byte'
printf 'email,name\r\ni15@example.com,Price \xa4 5\r\n' >iso15.csv
run "$KIRIM" import iso15.csv --list iso15 --encoding iso-8859-15 --json
eq "iso-8859-15" "$RC $(sql "SELECT json_extract(attrs,'\$.name') FROM contacts WHERE email = 'i15@example.com'")" "0 Price € 5"
run "$KIRIM" import iso15.csv --list iso15 --encoding klingon
eq "unknown encoding: usage" "$RC" 64
contains "unknown encoding named" "$ERR" "klingon"

# UTF-16 with a byte order mark (Excel's "Unicode Text": tab-delimited) is recognised alone;
# without the mark, the NUL pattern names it.
printf 'email\tname\r\nzoe@example.com\tZoë\r\nkyoto@example.jp\t京都\r\n' | iconv -f UTF-8 -t UTF-16LE >u16le.txt
{ printf '\xff\xfe'; cat u16le.txt; } >u16bom.txt
run "$KIRIM" import u16bom.txt --list u16 --json
eq "utf-16 with BOM: imported" "$RC $(json "$S[\"imported\"], $S[\"delimiter\"] == '\t'")" "0 2 True"
eq "utf-16 values" "$(sql "SELECT group_concat(json_extract(attrs,'\$.name'), ' ') FROM (SELECT attrs FROM contacts WHERE email IN ('zoe@example.com','kyoto@example.jp') ORDER BY email)")" "京都 Zoë"
printf 'email\tname\r\nbe@example.com\tBé\r\n' | iconv -f UTF-8 -t UTF-16BE >u16be.body
{ printf '\xfe\xff'; cat u16be.body; } >u16be.txt
run "$KIRIM" import u16be.txt --list u16 --json
eq "utf-16be with BOM" "$RC $(sql "SELECT json_extract(attrs,'\$.name') FROM contacts WHERE email = 'be@example.com'")" "0 Bé"
run "$KIRIM" import u16le.txt --list u16n --json
eq "utf-16 without BOM: stops" "$RC" 65
contains "utf-16 without BOM: option named" "$ERR" "--encoding utf-16le"
eq "utf-16 without BOM: no list" "$(sql "SELECT count(*) FROM lists WHERE name='u16n'")" 0
run "$KIRIM" import u16le.txt --list u16n --encoding utf-16le --json
eq "--encoding utf-16le" "$RC $(json "$S[\"added\"]")" "0 2"
run "$KIRIM" import u16le.txt --list u16m --encoding utf-16 --json
eq "--encoding utf-16 without BOM" "$RC $(json "$S[\"added\"]")" "0 2"

# Shift_JIS (Japanese Excel) and GB18030 (Chinese Excel): named when guessed, read when given.
printf 'email,name,city\r\nyamada@example.jp,山田太郎,東京都千代田区\r\nsuzuki@example.jp,すずき はなこ,大阪市\r\nkata@example.jp,カタカナ,札幌市\r\n' |
	iconv -f UTF-8 -t CP932 >sjis.csv
run "$KIRIM" import sjis.csv --list sjis --json
eq "shift_jis without an option: stops" "$RC" 65
contains "shift_jis guessed" "$ERR" "--encoding shift_jis"
run "$KIRIM" import sjis.csv --list sjis --encoding shift_jis --json
eq "shift_jis: imported" "$RC $(json "$S[\"imported\"]")" "0 3"
eq "shift_jis values" "$(sql "SELECT json_extract(attrs,'\$.name') || json_extract(attrs,'\$.city') FROM contacts WHERE email = 'yamada@example.jp'")" "山田太郎東京都千代田区"
printf 'email,name,city\r\nzhang@example.cn,张伟,北京市\r\nwang@example.cn,王芳,上海市\r\nli@example.cn,李娜,广州市\r\n' |
	iconv -f UTF-8 -t GB18030 >gb.csv
run "$KIRIM" import gb.csv --list gb --json
eq "gb18030 without an option: stops" "$RC" 65
contains "gb18030 guessed" "$ERR" "--encoding gb18030"
run "$KIRIM" import gb.csv --list gb --encoding gb18030 --json
eq "gb18030: imported" "$RC $(json "$S[\"imported\"]")" "0 3"
eq "gb18030 values" "$(sql "SELECT json_extract(attrs,'\$.name') || json_extract(attrs,'\$.city') FROM contacts WHERE email = 'wang@example.cn'")" "王芳上海市"

# 15. A record over 1 MiB is refused on its own (#18 item 14): it goes to --rejects with its
#     line and the reason (its raw row cut at 1 MiB, as the reason says) and the rest imports.
{
	printf 'email,bio\r\nfirst@example.com,short\r\nbig@example.com,'
	head -c 1200000 /dev/zero | tr '\0' 'x'
	printf '\r\nquoted@example.com,"two\r\n'
	head -c 1100000 /dev/zero | tr '\0' 'y'
	printf ' ""lines"", with, commas"\r\nlast@example.com,end\r\n'
} >bigfield.csv
run "$KIRIM" import bigfield.csv --list bigf --rejects bigrej.csv --json
eq "big records: the file imports" "$RC" 0
eq "big records: counts" "$(json "$S[\"imported\"] + $S[\"added\"], $S[\"rejected\"], $S[\"read\"]")" "2 2 4"
eq "big records: reason" "$(json "sorted($S[\"reasons\"].items())")" "[('record larger than 1 MiB', 2)]"
eq "big records: lines in the rejects file" "$(tail -n +2 bigrej.csv | tr -d '\r' | grep -a -o '^[0-9]*,"' | tr -d ',"' | tr '\n' ' ')" "3 4 "
contains "big records: the reason says cut" "$(tail -c 300 bigrej.csv)" "first 1048576 bytes"
contains "big records: the reason gives the size and lines" "$(grep -a -o 'record of [^)]*' bigrej.csv | head -n 1)" "1200016 bytes"
eq "big records: rejects file bounded" "$(( $(stat -c %s bigrej.csv) < 2 * 1048576 + 4096 ))" 1
eq "big records: the rest imported" "$(sql "SELECT group_concat(email, ' ') FROM (SELECT c.email FROM contacts c JOIN list_members m ON m.contact_id = c.id JOIN lists l ON l.id = m.list_id WHERE l.name = 'bigf' ORDER BY c.email)")" \
	"first@example.com last@example.com"
# An unterminated quote swallows the rest of the file into one record over the cap: refused
# as unterminated, with where it starts.
{ printf 'email,note\ngood@example.com,"starts here\n'; head -c 1200000 /dev/zero | tr '\0' 'x'; printf '\n'; } >huge.csv
run "$KIRIM" import huge.csv --list huge --rejects hugerej.csv --json
eq "runaway quote: refused row, not file" "$RC $(json "$S[\"rejected\"]")" "0 1"
eq "runaway quote: reason" "$(json "list($S[\"reasons\"])")" "['unterminated quoted field']"
eq "runaway quote: line" "$(tail -n +2 hugerej.csv | head -c 2)" "2,"
# Memory stays bounded: a 48 MiB field costs about what a small file does.
{ printf 'email,bio\nm1@example.com,'; head -c 50331648 /dev/zero | tr '\0' 'z'; printf '\nm2@example.com,ok\n'; } >giant.csv
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
printf 'email\nr@example.com\n' >small.csv
small=$(rss "$KIRIM" import small.csv --list rss)
giant=$(rss "$KIRIM" import giant.csv --list rss)
eq "48 MiB field: bounded memory (+${giant}-${small} KiB)" "$(( giant - small < 24 * 1024 ))" 1

# 16. Values of known contacts not stored without --update are counted and explained
#     (#18 item 15), in the text summary and in --json; equal values are not counted.
printf 'email,City\nk1@example.com,Jakarta\nk2@example.com,Medan\n' >known.csv
run "$KIRIM" import known.csv --list known --json
printf 'email,City,Plan\nk1@example.com,Jakarta,gold\nk2@example.com,Bogor,free\nk3@example.com,Solo,\n' >known2.csv
run "$KIRIM" import known2.csv --list known --json
eq "values not stored: counted" "$(json "$S[\"values_not_stored\"], $S[\"imported\"]")" "3 1"
run "$KIRIM" import known2.csv --list known
contains "values not stored: in the text summary" "$OUT" "values not stored"
contains "values not stored: why and what to do" "$OUT" "--update"
run "$KIRIM" import known.csv --list known --json
eq "same values again: nothing lost" "$(json "$S[\"values_not_stored\"]")" 0
run "$KIRIM" import known2.csv --list known --update --json
eq "with --update: nothing lost" "$(json "$S[\"values_not_stored\"], $S[\"updated\"]")" "0 2"

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
