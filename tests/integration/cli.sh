#!/usr/bin/env bash
# cli.sh - the command line itself: help, usage errors, exit codes, --db/KIRIM_DB, --json.
. "$(dirname "$0")/lib.sh"

run "$KIRIM"
eq "no command is a usage error" "$RC" 64
contains "no command prints usage" "$ERR" "Usage: kirim <command>"
run "$KIRIM" --help
eq "--help exits 0" "$RC" 0
contains "--help lists import" "$OUT" "import"
run "$KIRIM" frobnicate
eq "unknown command exit" "$RC" 64
contains "unknown command message" "$ERR" "'frobnicate' is not a kirim command"

for cmd in init import lists contacts suppress version help; do
	run "$KIRIM" help "$cmd"
	eq "help $cmd exit" "$RC" 0
	contains "help $cmd usage" "$OUT" "Usage: kirim $cmd"
	run "$KIRIM" "$cmd" --help
	eq "$cmd --help exit" "$RC" 0
	contains "$cmd --help mentions --db" "$OUT" "--db PATH"
done
run "$KIRIM" help nosuch
eq "help for an unknown command" "$RC" 64

run "$KIRIM" version
eq "version exit" "$RC" 0
contains "version names kirim" "$OUT" "kirim 0."
run "$KIRIM" version --json
eq "version --json" "$(json 'sorted(j.keys())')" "['kirim', 'sqlite']"

# Read-only commands do not create a database.
run "$KIRIM" lists
eq "lists without a database" "$RC" 66
contains "lists without a database says what to do" "$ERR" "kirim init"
[ -e "$KIRIM_DB" ] && bad "no db created by lists" "file exists" || ok "no db created"

NSCHEMA=$(ls "$KIRIM_SRC"/schema/[0-9][0-9][0-9]_*.sql | wc -l)
run "$KIRIM" init
eq "init exit" "$RC" 0
contains "init creates" "$OUT" "Created"
eq "schema version recorded" "$(sql 'PRAGMA user_version')" "$NSCHEMA"
eq "WAL mode" "$(sql 'PRAGMA journal_mode')" wal
eq "16 KiB pages" "$(sql "PRAGMA page_size")" 16384
run "$KIRIM" init --json
eq "init again is harmless" "$RC" 0
eq "init --json" "$(json 'j["created"], j["schema_version"]')" "False $NSCHEMA"

# --db wins over KIRIM_DB; --db=PATH works too; placed after the command too.
run "$KIRIM" --db "$TMP/other.db" init
eq "--db before the command" "$RC" 0
[ -f "$TMP/other.db" ] && ok "--db file created" || bad "--db file" "missing"
run "$KIRIM" init --db="$TMP/third.db"
[ -f "$TMP/third.db" ] && ok "--db= after the command" || bad "--db=" "missing"

# A database from a newer kirim is refused with a clear message, and left alone.
cp "$KIRIM_DB" "$TMP/newer.db"
sqlite3 "$TMP/newer.db" 'PRAGMA user_version = 99'
run "$KIRIM" --db "$TMP/newer.db" lists
eq "newer schema exit" "$RC" 78
contains "newer schema message" "$ERR" "schema version 99"
eq "newer schema untouched" "$(sqlite3 "$TMP/newer.db" 'PRAGMA user_version')" 99

# A file that is not a database.
echo "hello" >"$TMP/not.db"
run "$KIRIM" --db "$TMP/not.db" lists
eq "not a database exit" "$RC" 65
contains "not a database message" "$ERR" "not a kirim database"

# Usage errors.
run "$KIRIM" import
eq "import without a file" "$RC" 64
contains "import without a file hint" "$ERR" "kirim help import"
echo "email" >"$TMP/x.csv"
run "$KIRIM" import "$TMP/x.csv"
eq "import without --list" "$RC" 64
contains "import without --list says so" "$ERR" "--list NAME is required"
run "$KIRIM" import "$TMP/x.csv" --list a --delimiter x
eq "bad delimiter" "$RC" 64
run "$KIRIM" import "$TMP/x.csv" --list a --bogus
eq "unknown option" "$RC" 64
contains "unknown option named" "$ERR" "--bogus"
run "$KIRIM" contacts frob x
eq "contacts unknown subcommand" "$RC" 64
run "$KIRIM" suppress add
eq "suppress add nothing" "$RC" 64
run "$KIRIM" suppress add x@y.com --reason because
eq "suppress bad reason" "$RC" 64
finish
