#!/usr/bin/env bash
# perms.sh - who may read the database. Under umask 022 every file of a store (the database,
# its -wal and -shm, the serve journal DB-serve and its -wal and -shm) is made 0600, or 0640
# with [database] group_readable = yes; a store whose files other users may open is refused
# while the database's own secret signs the tokens (with the chmod that fixes it), and only
# warned about when kirim.conf has a [secret].
. "$(dirname "$0")/lib.sh"
umask 022

# modes FILE... - "name=mode" for each file (mode "none" when it does not exist)
modes() {
	local f out=""
	for f in "$@"; do
		out+="${f##*/}=$(stat -c %a "$f" 2>/dev/null || echo none) "
	done
	printf '%s' "${out% }"
}
# files DB - the store's files that exist while a process holds it open
files() { printf '%s\n' "$1" "$1-wal" "$1-shm" "$1-serve" "$1-serve-wal" "$1-serve-shm"; }
# fix - the command line the last refusal gave
fix() { printf '%s\n' "$ERR" | grep '^  chmod ' | sed 's/^  //'; }
# serving DB [ARGS...] - run kirim serve on DB and print the modes of its files while it runs
serving() {
	local db=$1 port srv
	shift
	port=$(free_port)
	"$KIRIM" --db "$db" "$@" serve --listen "127.0.0.1:$port" 2>>"$TMP/serve.log" &
	srv=$!
	PIDS+=("$srv")
	wait_port "$port" && curl -s -o /dev/null "http://127.0.0.1:$port/healthz"
	# shellcheck disable=SC2046 # one word per file
	modes $(files "$db")
	stop "$srv"
}
printf 'email,name\nann@one.example,Ann\nbob@two.example,Bob\n' >l.csv

# 1. kirim init, kirim import and kirim serve's journal: 0600 every one, -wal and -shm too.
run "$KIRIM" init
eq "init exit" "$RC" 0
eq "init: the database is 0600" "$(modes "$KIRIM_DB")" "kirim.db=600"
run "$KIRIM" import l.csv --list l
eq "import exit" "$RC" 0
eq "import: still 0600" "$(modes "$KIRIM_DB")" "kirim.db=600"
run "$KIRIM" --db "$TMP/fresh.db" import l.csv --list l
eq "import that creates the database: 0600" "$(modes "$TMP/fresh.db")" "fresh.db=600"
eq "every file 0600 while kirim serve runs" "$(serving "$KIRIM_DB")" \
	"kirim.db=600 kirim.db-wal=600 kirim.db-shm=600 kirim.db-serve=600 kirim.db-serve-wal=600 kirim.db-serve-shm=600"
eq "the journal stays 0600" "$(modes "$KIRIM_DB-serve")" "kirim.db-serve=600"

# 2. [database] group_readable = yes: 0640 (whatever the umask), the journal follows.
printf '[database]\ngroup_readable = yes\n' >group.conf
run bash -c "umask 077; exec \"\$0\" --config group.conf --db \"$TMP/g.db\" init" "$KIRIM"
eq "group init exit" "$RC" 0
eq "group: the database is 0640" "$(modes "$TMP/g.db")" "g.db=640"
run "$KIRIM" --config group.conf --db "$TMP/g.db" import l.csv --list l
eq "group import exit" "$RC" 0
eq "group: every file 0640 while kirim serve runs" "$(serving "$TMP/g.db" --config group.conf)" \
	"g.db=640 g.db-wal=640 g.db-shm=640 g.db-serve=640 g.db-serve-wal=640 g.db-serve-shm=640"
run "$KIRIM" --config group.conf --db "$TMP/g.db" lists
eq "group: 0640 is accepted" "$RC" 0
eq "group: no warning" "$ERR" ""

# 3. A database others may read, holding the token secret (no [secret] in kirim.conf): refused
# with the mode, the reason and the chmod, and left as it was.
before=$(sql "SELECT count(*) FROM contacts")
chmod 644 "$KIRIM_DB"
run "$KIRIM" lists
eq "world-readable: exit 78" "$RC" 78
contains "names the file and its mode" "$ERR" "$KIRIM_DB (mode 644) is open to users other than the owner"
contains "says why" "$ERR" "holds kirim's token secret"
eq "gives the chmod" "$(fix)" "chmod 600 $KIRIM_DB"
contains "mentions the group option" "$ERR" "group_readable = yes"
eq "nothing printed on stdout" "$OUT" ""
run "$KIRIM" import l.csv --list l2
eq "import refused too" "$RC" 78
eq "the database is unchanged" "$(sql "SELECT count(*) FROM contacts"), $(modes "$KIRIM_DB")" "$before, kirim.db=644"
chmod 666 "$KIRIM_DB-serve"
run "$KIRIM" lists
contains "every open file listed" "$ERR" "$KIRIM_DB (mode 644), $KIRIM_DB-serve (mode 666) are open"
eq "one chmod for all of them" "$(fix)" "chmod 600 $KIRIM_DB $KIRIM_DB-serve"
# Other users' write access alone is as bad.
chmod 602 "$KIRIM_DB"
chmod 600 "$KIRIM_DB-serve"
run "$KIRIM" lists
eq "world-writable: exit 78" "$RC" 78
# Group access without the option is refused too.
chmod 640 "$KIRIM_DB"
run "$KIRIM" lists
eq "group-readable without the option: exit 78" "$RC" 78
eq "group-readable: the chmod" "$(fix)" "chmod 600 $KIRIM_DB"
# The exact command it printed fixes it.
eval "$(fix)"
run "$KIRIM" lists
eq "after the chmod it runs" "$RC" 0
eq "after the chmod: no warning" "$ERR" ""
contains "after the chmod: the lists" "$OUT" "l"

# With the option, the group may read but never write, and others never.
chmod 644 "$TMP/g.db"
run "$KIRIM" --config group.conf --db "$TMP/g.db" lists
eq "group mode, world-readable: exit 78" "$RC" 78
eq "group mode: chmod 640" "$(fix)" "chmod 640 $TMP/g.db"
chmod 660 "$TMP/g.db"
run "$KIRIM" --config group.conf --db "$TMP/g.db" lists
eq "group mode, group-writable: exit 78" "$RC" 78
chmod 640 "$TMP/g.db"

# A path that needs quoting gets it in the command.
"$KIRIM" --db "$TMP/my db.db" init >/dev/null
eq "a path with a blank: 0600" "$(modes "$TMP/my db.db")" "my db.db=600"
chmod 644 "$TMP/my db.db"
run "$KIRIM" --db "$TMP/my db.db" lists
eq "quoted in the chmod" "$(fix)" "chmod 600 '$TMP/my db.db'"

# 4. With [secret] in kirim.conf the database's secret signs nothing: a warning, and it runs.
printf '[secret]\nvalue = perms-test-secret-0123456789\n' >secret.conf
chmod 644 "$KIRIM_DB"
run "$KIRIM" --config secret.conf lists
eq "[secret] in kirim.conf: runs" "$RC" 0
contains "[secret] in kirim.conf: warns" "$ERR" "level=warn"
contains "the warning gives the chmod" "$ERR" "chmod 600 $KIRIM_DB"
chmod 600 "$KIRIM_DB"

# 5. Paths that are no file: :memory: makes none; a missing folder is a clear error.
run "$KIRIM" --db :memory: init
eq ":memory: init exit" "$RC" 0
[ -e ":memory:" ] && bad ":memory: makes no file" "a file called :memory: exists" || ok ":memory:"
run "$KIRIM" --db "$TMP/nofolder/x.db" init
eq "missing folder: exit 65" "$RC" 65
contains "missing folder: names the path" "$ERR" "$TMP/nofolder/x.db"

# 6. Only kirim.conf's own settings are read to open the database: a DKIM key file that
# only sending needs does not stop `kirim lists`; a broken kirim.conf does.
printf '[dkim]\ndomain = example.com\nselector = s\nkey_file = missing.pem\n' >dkim.conf
run "$KIRIM" --config dkim.conf lists
eq "missing key file: lists still runs" "$RC" 0
printf '[database]\ngroup_readable = maybe\n' >bad.conf
run "$KIRIM" --config bad.conf lists
eq "bad group_readable: exit 78" "$RC" 78
contains "bad group_readable: says so" "$ERR" "group_readable takes yes or no, not 'maybe'"
finish
