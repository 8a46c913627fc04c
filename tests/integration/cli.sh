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

# The newest migration's number (numbers may skip: 008 and 009 came before 006 and 007).
NSCHEMA=$(ls "$KIRIM_SRC"/schema/[0-9][0-9][0-9]_*.sql | sed 's|.*/0*\([0-9]*\)_.*|\1|' | sort -n | tail -n 1)
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

# A database made before a later migration gets it on its next open, across a gap in the
# numbers: here one made by migrations 001-005 alone goes to the newest, its list member
# confirmed (009).
cat "$KIRIM_SRC"/schema/00[1-5]_*.sql | sqlite3 "$TMP/older.db"
sqlite3 "$TMP/older.db" "INSERT INTO lists VALUES (1, 'l', 0); INSERT INTO contacts(id, email, domain, created_at, updated_at) VALUES (1, 'a@b.example', 'b.example', 0, 0); INSERT INTO list_members(list_id, contact_id) VALUES (1, 1); PRAGMA user_version = 5"
chmod 600 "$TMP/older.db"
run "$KIRIM" --db "$TMP/older.db" lists
eq "older schema migrated: exit" "$RC" 0
eq "older schema migrated: version" "$(sqlite3 "$TMP/older.db" 'PRAGMA user_version')" "$NSCHEMA"
eq "older schema migrated: 008's tables" "$(sqlite3 "$TMP/older.db" "SELECT count(*) FROM sqlite_master WHERE name IN ('mta_sts_policies', 'domain_tls', 'tls_results')")" 3
eq "older schema migrated: 009's table" "$(sqlite3 "$TMP/older.db" "SELECT count(*) FROM sqlite_master WHERE name = 'consents'")" 1
eq "older schema migrated: members confirmed" "$(sqlite3 "$TMP/older.db" "SELECT status FROM list_members")" confirmed

# Migration 022 rebuilds messages and events (their CHECKs as chains of '='): a database made
# by migrations 001-020 keeps its messages and events (ids, columns, foreign keys), every
# index and the webhook trigger. (017's and 019's backfills call kirim's own function, which
# the shell lacks: on an empty database they have nothing to do.)
for f in "$KIRIM_SRC"/schema/0[01][0-9]_*.sql "$KIRIM_SRC"/schema/020_*.sql; do cat "$f"; echo ";"; done |
	sqlite3 -batch "$TMP/v20.db" 2>/dev/null
chmod 600 "$TMP/v20.db"
sqlite3 -batch "$TMP/v20.db" "PRAGMA user_version = 20;
 INSERT INTO lists(id, name, created_at) VALUES (1, 'l', 0);
 INSERT INTO contacts(id, email, domain, created_at, updated_at) VALUES (1, 'a@x.example', 'x.example', 0, 0),
  (2, 'b@x.example', 'x.example', 0, 0);
 INSERT INTO templates(id, name, version, subject, text_body, created_at) VALUES (1, 't', 1, 's', 'b', 0);
 INSERT INTO campaigns(id, name, list_id, template_id, from_addr, created_at, updated_at, state)
  VALUES (1, 'c', 1, 1, 'f@x.example', 0, 0, 'done');
 INSERT INTO messages(id, campaign_id, contact_id, state, attempts, queued_at, last_text, email, domain)
  VALUES (7, 1, 1, 'delivered', 1, 0, '250 ok', 'a@x.example', 'x.example'), (9, 1, 2, 'queued', 0, 0, NULL, NULL, 'x.example');
 INSERT INTO events(id, message_id, ts, type, text, helo) VALUES (3, 7, 5, 'delivered', '250 ok', 'h'), (4, 7, 6, 'open', NULL, NULL);"
schema_of() { sqlite3 -batch "$1" "SELECT type || ' ' || name FROM sqlite_master WHERE tbl_name IN ('messages', 'events') ORDER BY 1"; }
before=$(schema_of "$TMP/v20.db")
run "$KIRIM" --db "$TMP/v20.db" lists
eq "schema 20 migrated: exit" "$RC" 0
eq "schema 20 migrated: rows kept" "$(sqlite3 -batch "$TMP/v20.db" "SELECT group_concat(id || ':' || contact_id || ':' || state || ':' || coalesce(last_text, '') || ':' || coalesce(email, ''), ' ') FROM messages;
 SELECT group_concat(id || ':' || message_id || ':' || type || ':' || coalesce(helo, ''), ' ') FROM events; PRAGMA foreign_key_check;" | tr '\n' ' ')" \
	"7:1:delivered:250 ok:a@x.example 9:2:queued:: 3:7:delivered:h 4:7:open: "
eq "schema 20 migrated: indexes and trigger kept" "$(schema_of "$TMP/v20.db")" "$before"
# The CHECKs still refuse what they refused.
run sqlite3 -batch "$TMP/v20.db" "UPDATE messages SET state = 'sent' WHERE id = 7"
contains "schema 20 migrated: a bad state refused" "$ERR" "CHECK constraint failed"
run sqlite3 -batch "$TMP/v20.db" "INSERT INTO events(message_id, ts, type) VALUES (7, 0, 'opened')"
contains "schema 20 migrated: a bad event type refused" "$ERR" "CHECK constraint failed"
# What a sender writes per outcome (store_message_result) and per claim builds no temporary
# table for the CHECKs (OpenEphemeral: SQLite's way to test an IN list of three or more
# values): as many as with the CHECKs ignored (a claim's plan may use one of its own).
ephemeral() { sqlite3 -batch "$1" "$2 EXPLAIN $3" | grep -c OpenEphemeral; }
while IFS='|' read -r what q; do
	for db in "$KIRIM_DB" "$TMP/v20.db"; do
		eq "no temporary table for the CHECKs: $what (${db##*/})" "$(ephemeral "$db" "" "$q")" \
			"$(ephemeral "$db" "PRAGMA ignore_check_constraints = ON;" "$q")"
	done
done <<'EOF'
outcome|UPDATE messages SET state = 'delivered', claimed_by = NULL WHERE id = 7
event|INSERT INTO events(message_id, ts, type) VALUES (7, 0, 'delivered')
claim|UPDATE messages SET state = 'claimed', claimed_by = 1 WHERE campaign_id = 1 AND state = 'queued'
EOF
# An INSERT OR FAIL into events (a sender's) keeps no statement journal, though it fires the
# webhook trigger: with foreign keys on and temporary files on disk, 20,000 events inserted at
# once into pages that were there before open no SQLite temporary file (etilqs_*; one with
# schema 20: the immediate foreign key and the trigger's instr() could stop it midway).
sqlite3 -batch "$TMP/v20.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
 INSERT INTO events(message_id, ts, type, text) SELECT 7, i, 'open', 'a line of text' FROM n"
run strace -f -qq -e trace=openat -o "$TMP/journal.txt" sqlite3 -batch "$TMP/v20.db" "PRAGMA foreign_keys = ON;
 PRAGMA temp_store = FILE; BEGIN; INSERT OR FAIL INTO events(message_id, ts, type, text)
 SELECT message_id, ts, type, text FROM events WHERE type = 'open'; COMMIT;"
eq "event INSERT OR FAIL: done" "$RC $(sqlite3 -batch "$TMP/v20.db" "SELECT count(*) FROM events WHERE type = 'open'")" "0 40002"
eq "event INSERT OR FAIL: no statement journal" "$(grep -c etilqs "$TMP/journal.txt")" 0
# The webhook trigger still queues only the types an enabled webhook wants, by their names.
eq "webhook trigger: the wanted types" "$(sqlite3 -batch "$TMP/v20.db" "INSERT INTO webhooks(url, events, secret, created_at)
 VALUES ('http://127.0.0.1/h', '[\"bounced\",\"opened\"]', 's', 0);
 INSERT INTO events(message_id, ts, type) VALUES (7, 1, 'delivered'), (7, 2, 'bounced'), (7, 3, 'open');
 SELECT group_concat(type, ' ') FROM (SELECT type FROM webhook_outbox ORDER BY id)")" "bounced opened"

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

# lacks LABEL HAYSTACK NEEDLE
lacks() {
	case "$2" in
	*"$3"*) bad "$1" "[$3] found in [$2]" ;;
	*) ok "$1" ;;
	esac
}

# Unknown commands and options: the nearest one is suggested (Damerau-Levenshtein, case
# apart, only when it is close), and the exit status stays 64 (#18 item 22).
run "$KIRIM" imprt
eq "misspelt command: exit" "$RC" 64
contains "misspelt command: suggestion" "$ERR" "did you mean 'import'?"
contains "misspelt command: still names it" "$ERR" "'imprt' is not a kirim command"
run "$KIRIM" sned x
contains "transposed letters: suggestion" "$ERR" "did you mean 'send'?"
run "$KIRIM" IMPORT
contains "another case: suggestion" "$ERR" "did you mean 'import'?"
run "$KIRIM" frobnicate
lacks "far-off command: no suggestion" "$ERR" "did you mean"
run "$KIRIM" ab
lacks "two letters: no suggestion" "$ERR" "did you mean"
run "$KIRIM" help imprt
eq "help for a misspelt command: exit" "$RC" 64
contains "help for a misspelt command: suggestion" "$ERR" "did you mean 'import'?"
run "$KIRIM" send x --concurency 2
eq "misspelt option: exit" "$RC" 64
contains "misspelt option: suggestion" "$ERR" "unknown option '--concurency'; did you mean '--concurrency'?"
run "$KIRIM" send x --concurency=2
contains "misspelt option=value: suggestion" "$ERR" "did you mean '--concurrency'?"
run "$KIRIM" run --dns-sever 127.0.0.1
contains "run takes send's options: suggestion" "$ERR" "did you mean '--dns-server'?"
run "$KIRIM" import "$TMP/x.csv" --list a --UPDTE
eq "import misspelt option: exit" "$RC" 64
contains "import misspelt option: suggestion" "$ERR" "did you mean '--update'?"
run "$KIRIM" campaign create c --lsit l
contains "campaign misspelt option: suggestion" "$ERR" "did you mean '--list'?"
run "$KIRIM" send x --zzzzzz
eq "far-off option: exit" "$RC" 64
lacks "far-off option: no suggestion" "$ERR" "did you mean"

# Log lines are logfmt whatever their values hold (#18 item 21): logfmt.py reads them as
# strictly as go-logfmt does (and takes \xNN in quoted values).
cat >"$TMP/logfmt.py" <<'PYEND'
"""logfmt.py - a strict logfmt reader (go-logfmt's grammar; quoted values also take \\xNN).
  check FILE...      every line that starts with ts= parses, with ts and level first
  values FILE KEY    the decoded value of KEY on each line where it has one
  formats SRCDIR     every log_*() format literal in SRCDIR/**/*.c parses with its
                     conversions read as plain words, and no key comes from an argument"""
import os, re, sys

ESC = {'"': '"', '\\': '\\', 'n': '\n', 't': '\t', 'r': '\r'}

def parse(line):
    """pairs [(key, value or None)] or raise ValueError(column, why)"""
    pairs, i, n = [], 0, len(line)
    while i < n:
        if line[i] == ' ':
            i += 1
            continue
        j = i
        while j < n and line[j] > ' ' and line[j] not in '="\x7f':
            j += 1
        if j == i:
            raise ValueError(i, 'a key cannot start with %r' % line[i])
        key = line[i:j]
        if j == n or line[j] == ' ':
            pairs.append((key, None))
            i = j
            continue
        if line[j] != '=':
            raise ValueError(j, '%r inside a key' % line[j])
        j += 1
        if j < n and line[j] == '"':
            j += 1
            val = []
            while True:
                if j >= n:
                    raise ValueError(j, 'no closing quote')
                c = line[j]
                if c == '"':
                    j += 1
                    break
                if c < ' ' or c == '\x7f':
                    raise ValueError(j, 'raw control character %r' % c)
                if c == '\\':
                    e = line[j + 1:j + 2]
                    if e in ESC and e:
                        val.append(ESC[e])
                        j += 2
                    elif e == 'x' and re.fullmatch('[0-9a-fA-F]{2}', line[j + 2:j + 4]):
                        val.append(chr(int(line[j + 2:j + 4], 16)))
                        j += 4
                    else:
                        raise ValueError(j, 'unknown escape \\%s' % e)
                    continue
                val.append(c)
                j += 1
            if j < n and line[j] != ' ':
                raise ValueError(j, 'text after a closing quote')
            pairs.append((key, ''.join(val)))
        else:
            k = j
            while j < n and line[j] != ' ':
                if line[j] in '="' or line[j] < ' ' or line[j] == '\x7f':
                    raise ValueError(j, '%r in a bare value' % line[j])
                j += 1
            pairs.append((key, line[k:j]))
        i = j
    return pairs

def lines(path):
    with open(path, encoding='utf-8', errors='surrogateescape', newline='\n') as f:
        for l in f:
            yield l[:-1] if l.endswith('\n') else l

def check(paths):
    bad = total = 0
    for p in paths:
        for no, l in enumerate(lines(p), 1):
            if not l.startswith('ts='):
                continue
            total += 1
            try:
                pairs = parse(l)
                if [k for k, _ in pairs[:2]] != ['ts', 'level']:
                    raise ValueError(0, 'ts and level do not come first')
            except ValueError as e:
                bad += 1
                print('%s:%d: column %d: %s: %s' % (os.path.basename(p), no, e.args[0], e.args[1], l))
    print('%d log lines, %d not logfmt' % (total, bad))
    return 1 if bad or total == 0 else 0

def values(path, key):
    for l in lines(path):
        if l.startswith('ts='):
            try:
                for k, v in parse(l):
                    if k == key and v:
                        print(v)
            except ValueError:
                pass
    return 0

CALL = re.compile(r'\blog_(?:error|warn|info|debug)\s*\(|\blog_msg\s*\(\s*LOG_[A-Z]+\s*,')
LIT = re.compile(r'\s*"((?:[^"\\\n]|\\.)*)"')
CONV = re.compile(r"%(%|[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|j|z|t|L|q)?[diouxXeEfFgGaAcspnm])")

def formats(src):
    bad = total = 0
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith('.c'):
                continue
            path = os.path.join(root, name)
            text = open(path, encoding='utf-8').read()
            for m in CALL.finditer(text):
                no = text.count('\n', 0, m.start()) + 1
                where = '%s:%d' % (os.path.relpath(path, src), no)
                pos, parts = m.end(), []
                while True:
                    lm = LIT.match(text, pos)
                    if not lm:
                        break
                    parts.append(lm.group(1))
                    pos = lm.end()
                total += 1
                if not parts:
                    bad += 1
                    print('%s: the format is not a string literal' % where)
                    continue
                fmt = re.sub(r'\\(.)', lambda e: {'n': '\n', 't': '\t'}.get(e.group(1), e.group(1)),
                             ''.join(parts))
                if re.search(CONV.pattern + '=', fmt):
                    bad += 1
                    print('%s: a key comes from an argument: %s' % (where, fmt))
                    continue
                line = CONV.sub(lambda c: '%' if c.group(1) == '%' else 'V', fmt)
                try:
                    parse(line)
                except ValueError as e:
                    bad += 1
                    print('%s: column %d: %s: %s' % (where, e.args[0], e.args[1], fmt))
    print('%d log formats, %d not logfmt' % (total, bad))
    return 1 if bad or total == 0 else 0

if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({'check': lambda: check(args), 'values': lambda: values(*args),
              'formats': lambda: formats(*args)}[cmd]())
PYEND
LOGFMT="$PY3 $TMP/logfmt.py"
# Every log format in the source reads as logfmt with its conversions taken as words, and
# no key comes from an argument (the logger quotes values; it cannot tell a key).
run $LOGFMT formats "$KIRIM_SRC/src"
eq "log formats are logfmt" "$RC $(printf '%s' "$OUT" | tail -n 1 | sed 's/^[0-9]* //')" "0 log formats, 0 not logfmt"
[ "$RC" = 0 ] || printf '%s\n' "$OUT" | head -n 20

# A campaign paused from another process with a reason that needs quoting, while kirim send
# and kirim run --once send it: the reason comes back whole from their log lines.
: >"$TMP/empty.conf"
export KIRIM_CONFIG="$TMP/empty.conf"
printf 'Subject: Hi\n\n--- text\nHello.\n' >"$TMP/t.tpl"
"$KIRIM" template add t "$TMP/t.tpl" >/dev/null
"$KIRIM" domain set global --rate 20/s >/dev/null
for c in ps pr; do
	$PY3 -c 'import sys
print("email")
for i in range(200): print("%s%d@d%d.test" % (sys.argv[1], i, i % 7))' "$c" >"$TMP/$c.csv"
	"$KIRIM" import "$TMP/$c.csv" --list "$c" -q >/dev/null
	"$KIRIM" campaign create "$c" --list "$c" --template t --from "News <news@kirim.test>" >/dev/null
done
REASON='typo in subject? "v2" a=b \ ok'
# delivered_some CAMPAIGN - wait (10 s at most) until the sender has delivered a few
delivered_some() {
	for _ in $(seq 1 100); do
		[ "$(sql "SELECT count(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' AND m.state = 'delivered'")" -ge 5 ] && return 0
		sleep 0.1
	done
}
port=$(free_port)
start_sink "$port"
sink=$LAST_PID
"$KIRIM" send ps --relay "smtp://127.0.0.1:$port" --tls none -v -q 2>"$TMP/send.log" >/dev/null &
sender=$!
delivered_some ps
"$KIRIM" campaign pause ps --reason "$REASON" >/dev/null
wait "$sender"
eq "send: the pause reason read back" "$($LOGFMT values "$TMP/send.log" reason)" "$REASON"
"$KIRIM" campaign schedule pr --now >/dev/null
"$KIRIM" run --once --relay "smtp://127.0.0.1:$port" --tls none -v 2>"$TMP/run.log" &
runner=$!
delivered_some pr
"$KIRIM" campaign pause pr --reason "$REASON" >/dev/null
wait "$runner"
eq "run: the turn's paused= read back" "$($LOGFMT values "$TMP/run.log" paused | sort -u)" "$REASON"
stop "$sink"
"$KIRIM" domain unset global >/dev/null
printf '[secret]\nvalue = cli-test-secret-0123456789abcdef\n[unsubscribe]\nurl = http://127.0.0.1:%s/u/\n' "$port" >"$TMP/serve.conf"
KIRIM_CONFIG="$TMP/serve.conf" "$KIRIM" serve --listen "127.0.0.1:$port" -v 2>"$TMP/serve.log" &
srv=$!
PIDS+=("$srv")
wait_port "$port"
curl -s -o /dev/null "http://127.0.0.1:$port/healthz"
curl -s -o /dev/null "http://127.0.0.1:$port/u/no%22such%20token"
kill -TERM "$srv"
wait "$srv"
for f in send run serve; do
	run $LOGFMT check "$TMP/$f.log"
	eq "every line of $f's log is logfmt" "$RC" 0
	[ "$RC" = 0 ] || printf '%s\n' "$OUT" | head -n 20
done
finish
