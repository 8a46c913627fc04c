# tests/integration/lib.sh - small assertion helpers for the integration tests.
# Each test script sources this, runs the real kirim binary ($KIRIM) in a
# private temporary folder, and exits non-zero if any check failed.
set -u
: "${KIRIM:?KIRIM must name the kirim binary}"
# free_port and wait_port, shared with tools/bench-* (found before the cd below).
# shellcheck source=tools/lib/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/ports.sh"
TMP=$(mktemp -d)
chmod 755 "$TMP" # servers that drop privileges (smtp-sink runs as nobody) write below it
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
export KIRIM_DB="$TMP/kirim.db"
FAILS=0
CHECKS=0

# ok LABEL - record a passing check
ok() { CHECKS=$((CHECKS + 1)); }
# bad LABEL MESSAGE - record a failing check
bad() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	printf 'FAIL %s: %s\n' "$1" "$2"
	# What the last command run said, for a failure seen only in CI's log.
	[ -n "${ERR-}" ] && printf '%s\n' "$ERR" | tail -n 8 | sed 's/^/  last stderr| /'
	return 0
}
# eq LABEL GOT WANT
eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "got [$2] want [$3]"; fi
}
# contains LABEL HAYSTACK NEEDLE
contains() {
	case "$2" in
	*"$3"*) ok "$1" ;;
	*) bad "$1" "[$3] not found in [$2]" ;;
	esac
}
# run CMD... - run, keeping stdout in $OUT, stderr in $ERR, status in $RC
run() {
	"$@" >"$TMP/.out" 2>"$TMP/.err"
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}
# at OFFSET CMD... - run CMD with the wall clock moved by OFFSET ("+6m", "+1d": libfaketime;
# the monotonic clock, which libuv's timers use, stays real). The sanitizer runtime must
# not insist on coming first, since libfaketime is preloaded before it.
at() {
	local off=$1
	shift
	env FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
		faketime -f "$off" "$@"
}
# one_utc_day SECS - the steps that follow count per UTC day (warm-up caps, today's figures)
# and take up to SECS seconds: when midnight UTC is nearer than that, wait until it has
# passed, so that they all fall on one day
one_utc_day() {
	local left=$((86400 - $(date -u +%s) % 86400))
	if [ "$left" -le "$1" ]; then
		echo "# waiting ${left}s for midnight UTC: the next steps count per day" >&2
		sleep $((left + 1))
	fi
}
# rollups_agree LABEL CAMPAIGN [OPTIONS] - the campaign's report from its rollups equals a
# recount from its messages and events (--recount), byte for byte, in every format and table
# (or with OPTIONS only; the clock is fixed, so that the reports' times agree)
rollups_agree() {
	local args all=("" "--by destination" "--by reason" "--by hour" "--by link" "--by summary"
		"--format csv" "--format csv --by destination" "--format csv --by reason"
		"--format csv --by hour" "--format csv --by link" "--format csv --by summary"
		"--format json" "--format json --top 1" "--format html")
	[ $# -gt 2 ] && all=("$3")
	for args in "${all[@]}"; do
		# shellcheck disable=SC2086 # the options are words
		at "@2026-12-01 00:00:00" "$KIRIM" report "$2" $args -o "$TMP/.rollup" -q
		# shellcheck disable=SC2086
		at "@2026-12-01 00:00:00" "$KIRIM" report "$2" $args --recount -o "$TMP/.recount" -q
		if ! cmp -s "$TMP/.rollup" "$TMP/.recount"; then
			bad "$1" "report $args: rollups and recount differ: $(diff "$TMP/.rollup" "$TMP/.recount" | head -n 12)"
			return
		fi
	done
	ok "$1"
}
# sql QUERY - one query against the test database, rows with | between columns
sql() { sqlite3 -batch "$KIRIM_DB" "$1"; }
# json EXPR - evaluate a Python expression on the JSON in $OUT (bound to j)
json() {
	printf '%s' "$OUT" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)" 2>/dev/null && return 0
	# Not JSON (or not that field): what the command said instead, for the failure it causes.
	printf -- '--- json %s: rc %s, stdout [%.200s], last lines of stderr:\n' "$1" "${RC-}" "$OUT" >&2
	printf '%s\n' "${ERR-}" | tail -n 30 >&2
	return 1
}
# campaign_to NAME ADDRESS... - import the addresses as list NAME and make campaign NAME of
# template t (which the caller added) from news@kirim.test to it
campaign_to() {
	local name=$1
	shift
	printf 'email\n' >"$name.csv"
	printf '%s\n' "$@" >>"$name.csv"
	"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
	"$KIRIM" campaign create "$name" --list "$name" --template t --from "News <news@kirim.test>" >/dev/null
}
# state_of CAMPAIGN - its messages by state: "delivered=8 queued=2"
state_of() { sql "SELECT group_concat(state || '=' || n, ' ') FROM (SELECT m.state AS state, count(*) n FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.name = '$1' GROUP BY m.state ORDER BY m.state)"; }
# sink_dir N - a folder dump-N that smtp-sink (user nobody) may write into, as its -d pattern
sink_dir() { mkdir -p "dump-$1" && chmod 777 "dump-$1" && echo "$TMP/dump-$1/%M."; }
# dump - everything an import may change, for before/after comparisons
dump() {
	sql "SELECT id, email, domain, attrs, created_at, updated_at FROM contacts ORDER BY id;
	     SELECT * FROM lists ORDER BY id; SELECT list_id, contact_id FROM list_members
	     ORDER BY 1, 2; SELECT kind, value, reason FROM suppressions ORDER BY 1, 2;" 2>/dev/null
}
# finish - print the tally and exit with the right status
finish() {
	lists_counted
	echo "$CHECKS checks, $FAILS failed"
	[ "$FAILS" -eq 0 ] && exit 0
	# What the servers logged, for a failure that does not come back (the folder goes at exit).
	local f p
	for f in "$TMP"/dnsmasq.log "$TMP"/server-*.log; do
		[ -s "$f" ] && { echo "--- last lines of ${f##*/}"; tail -n 40 "$f"; } >&2
	done
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || echo "--- server PID $p not running (stopped by the test, or died)" >&2
	done
	exit 1
}

# make_token SECRET PURPOSE ID... - a token as token.c makes it: base64url of the ids as
# LEB128 varints and the first 12 bytes of HMAC-SHA256(SECRET, PURPOSE + varints); two ids
# (campaign, contact), or three for a token that expires (k: campaign, contact, expiry)
make_token() {
	$PY3 - "$@" <<'PYEND'
import base64, hashlib, hmac, sys
key, purpose, ids = sys.argv[1].encode(), sys.argv[2].encode(), [int(v) for v in sys.argv[3:]]
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80); v >>= 7
    out.append(v)
    return bytes(out)
body = b"".join(varint(v) for v in ids)
tag = hmac.new(key, purpose + body, hashlib.sha256).digest()[:12]
print(base64.urlsafe_b64encode(body + tag).decode().rstrip("="))
PYEND
}

# lists_counted - at the end of every test, the lists' counts the triggers kept (schema 017)
# against a new count (`kirim lists check`), so that each writer a test drives is checked;
# skipped when the test left no database of this kirim's (another version, none, or gone)
lists_counted() {
	[ -s "$KIRIM_DB" ] || return 0
	local out rc
	out=$("$KIRIM" --db "$KIRIM_DB" lists check 2>&1)
	rc=$?
	case $rc in
	0) ok "lists' counts" ;;
	65) bad "lists' counts kept match a new count" "$out" ;;
	esac
}

# --- real servers on loopback ------------------------------------------------------------
SINK=${KIRIM_SMTP_SINK:-/usr/sbin/smtp-sink}
PY3=/usr/bin/python3
SERVER_PY="${KIRIM_SRC:-.}/tests/integration/smtp_server.py"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# need_browser NAME - exit 77 (skip) without Debian's chromium and python3-websocket, or
# without axe-core (tools/fetch-axe-core); sets AXE to axe-core's script
need_browser() {
	if ! command -v chromium >/dev/null || ! $PY3 -c 'import websocket' 2>/dev/null; then
		echo "SKIP $1 needs Debian's chromium and python3-websocket (tools/test installs them)"
		exit 77
	fi
	AXE=$KIRIM_SRC/tests/data/axe-core/axe.min.js
	if [ ! -s "$AXE" ] && ! "$KIRIM_SRC/tools/fetch-axe-core" >/dev/null 2>&1; then
		echo "SKIP $1 needs axe-core from the npm registry (tools/fetch-axe-core)"
		exit 77
	fi
}
# start_chromium - headless Chromium for pages_browser.py; its DevTools port in $dport
start_chromium() {
	dport=$(free_port)
	chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/chrome" \
		--remote-debugging-port="$dport" about:blank >chrome.log 2>&1 &
	PIDS+=("$!")
	wait_port "$dport"
}
# axe_ok LABEL [N] - every axe step in $OUT (N of them, when given) ran and found nothing
# serious or critical
axe_ok() {
	local runs bad
	runs=$(printf '%s\n' "$OUT" | grep -c '^axe=')
	bad=$(printf '%s\n' "$OUT" | grep '^axe=' | grep -vc 'serious=0$')
	eq "axe: $1" "$runs ran, $bad with serious findings" "${2:-$runs} ran, 0 with serious findings"
	[ "$runs" -gt 0 ] || bad "axe: $1" "axe did not run"
	[ "$bad" = 0 ] || printf '%s\n' "$OUT" | grep -E '^axe(-violation)?=' >&2
}
# start_sink PORT ARGS... - smtp-sink on 127.0.0.1:PORT; its PID in $LAST_PID
start_sink() {
	local port=$1
	shift
	"$SINK" -u nobody "$@" "127.0.0.1:$port" 1024 >/dev/null 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_port "$port"
}
# start_sink_at ADDR PORT ARGS... - smtp-sink on ADDR:PORT (any 127.x.y.z); PID in $LAST_PID
start_sink_at() {
	local addr=$1 port=$2
	shift 2
	"$SINK" -u nobody "$@" "$addr:$port" 1024 >/dev/null 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_port "$port" "$addr"
}
# start_dnsmasq FILE - dnsmasq answering for .test from the records in FILE (dnsmasq.conf
# lines: mx-host=, host-record=, ...) on a free UDP port, printed to $DNS_PORT; PID in $LAST_PID
start_dnsmasq() {
	# A port free when asked may be taken before dnsmasq binds it (another test, another
	# suite on the same host): dnsmasq then exits at once, and a new port is tried.
	local try
	for try in 1 2 3 4 5; do
		DNS_PORT=$(free_udp_port)
		{
			printf 'port=%s\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n' "$DNS_PORT"
			printf 'local=/test/\npid-file=\nuser=root\nlog-facility=%s/dnsmasq.log\nlog-queries\n' "$TMP"
			cat "$1"
		} >"$TMP/dnsmasq-$DNS_PORT.conf"
		/usr/sbin/dnsmasq -k --conf-file="$TMP/dnsmasq-$DNS_PORT.conf" &
		LAST_PID=$!
		PIDS+=("$LAST_PID")
		for _ in $(seq 1 100); do
			kill -0 "$LAST_PID" 2>/dev/null || break # it could not bind: another port
			if ! $PY3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))' "$DNS_PORT" 2>/dev/null; then
				sleep 0.2 # bound: by dnsmasq if it is still there
				kill -0 "$LAST_PID" 2>/dev/null && return 0
				break
			fi
			sleep 0.1
		done
		wait "$LAST_PID" 2>/dev/null
		echo "dnsmasq on port $DNS_PORT did not start (try $try)" >&2
	done
	echo "dnsmasq did not start" >&2
	return 1
}
# free_udp_port - a UDP port nobody listens on now
free_udp_port() { $PY3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server PORT ARGS... - tests/integration/smtp_server.py; its PID in $LAST_PID
start_server() {
	local port=$1
	shift
	$PY3 "$SERVER_PY" --port "$port" "$@" >"$TMP/server-$port.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_port "$port"
}
# start_server_at ADDR PORT ARGS... - the same on ADDR:PORT (any 127.x.y.z)
start_server_at() {
	local addr=$1 port=$2
	shift 2
	$PY3 "$SERVER_PY" --host "$addr" --port "$port" "$@" >"$TMP/server-$addr-$port.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_port "$port" "$addr"
}
# stop PID - stop a server started above
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# start_redis PORT - redis-server on 127.0.0.1:PORT, nothing saved; PID in $REDIS_PID
start_redis() {
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
		>>"$TMP/server-redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_port "$1"
}
# redis_test NAME - the shared throttles' tests' start: skip (77) without Debian's
# redis-server; a direct-send kirim.conf, template t, and a Redis on 127.0.0.1:$RP ($REDIS;
# rcli runs redis-cli against it)
redis_test() {
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		echo "SKIP $1 needs Debian's redis-server (tools/test installs it)"
		exit 77
	fi
	printf '[sender]\nehlo = mta.kirim.test\n' >direct.conf
	export KIRIM_CONFIG="$TMP/direct.conf"
	printf 'Subject: Hi\n\n--- text\nHello.\n' >t.tpl
	"$KIRIM" template add t t.tpl >/dev/null
	RP=$(free_port)
	start_redis "$RP"
	REDIS="redis://127.0.0.1:$RP"
}
rcli() { redis-cli -p "$RP" "$@"; }
# campaigns DOMAIN N NAME... - campaign NAME (from news-NAME@kirim.test, template t) of N
# to DOMAIN each
campaigns() {
	local dom=$1 n=$2 name
	shift 2
	for name in "$@"; do
		printf 'email\n' >"$name.csv"
		for i in $(seq 1 "$n"); do echo "$name-$i@$dom"; done >>"$name.csv"
		"$KIRIM" import "$name.csv" --list "$name" -q >/dev/null
		"$KIRIM" campaign create "$name" --list "$name" --template t \
			--from "News <news-$name@kirim.test>" >/dev/null
	done
}
# send_all NAME... [-- OPTIONS] - one `kirim send` per campaign, all at once, direct (MX
# hosts from the dnsmasq on $DNS_PORT, port $P), each given 120 s; each one's stderr in
# NAME.err, its JSON in NAME.out; returns when all are done
send_all() {
	local names=() opts=() pids=() n
	while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1") && shift; done
	[ $# -gt 0 ] && shift && opts=("$@")
	for n in "${names[@]}"; do
		timeout -k 5 120 "$KIRIM" -v send "$n" --dns-server "127.0.0.1:$DNS_PORT" \
			--mx-port "$P" --timeout 5 --json "${opts[@]}" >"$n.out" 2>"$n.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
# start_dns_zone FILE - tests/integration/dns_server.py answering from the zone FILE on a
# free UDP port of 127.0.0.1: the port in $D
start_dns_zone() {
	D=$(free_udp_port)
	$PY3 "${KIRIM_SRC:-.}/tests/integration/dns_server.py" "$D" zone "$1" >"$TMP/server-dns.log" 2>&1 &
	PIDS+=($!)
}
# start_https CERT KEY DIR - tests/integration/https_server.py serving DIR with CERT and KEY
# on a free port of 127.0.0.1, once it listens: the port in $H
start_https() {
	H=$(free_port)
	$PY3 "${KIRIM_SRC:-.}/tests/integration/https_server.py" --port "$H" --cert "$1" --key "$2" --dir "$3" >"$TMP/server-https.log" 2>&1 &
	PIDS+=($!)
	wait_port "$H"
}

# --- subscribers' mail (pages.sh, signups.sh) ----------------------------------------------
# relay_sink - smtp-sink keeping each message in ./dump; RELAY=(--relay URL --tls none) for it
relay_sink() {
	local p
	p=$(free_port)
	mkdir -p dump && chmod 777 dump
	start_sink "$p" -d "$TMP/dump/%M."
	RELAY=(--relay "smtp://127.0.0.1:$p" --tls none)
}
# serve_pages PORT - kirim serve on 127.0.0.1:PORT (client addresses from X-Real-IP, no rate
# limit), its log in serve.log
serve_pages() {
	"$KIRIM" serve --listen "127.0.0.1:$1" --trust-proxy --rate 0 2>serve.log &
	PIDS+=("$!")
	wait_port "$1"
}
# cid ADDRESS - the contact's id ("" when there is none)
cid() { sql "SELECT id FROM contacts WHERE email = '$1'"; }
# member ADDRESS - the contact's lists and statuses, "news:confirmed offers:unconfirmed"
member() { sql "SELECT group_concat(s, ' ') FROM (SELECT l.name || ':' || m.status AS s FROM list_members m JOIN lists l ON l.id = m.list_id JOIN contacts c ON c.id = m.contact_id WHERE c.email = '$1' ORDER BY l.name)"; }
# mail_to ADDRESS - the newest message smtp-sink received for ADDRESS (in ./dump)
mail_to() { grep -l "^To: .*$1" dump/* 2>/dev/null | xargs -r ls -t | head -1; }
# mail_url FILE KIND - the first link of kirim serve's KIND (u, k) in the message's text part
mail_url() {
	$PY3 - "$1" "$2" <<'PYEND'
import email, email.policy, re, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
text = m.get_body(preferencelist=("plain",)).get_content()
print(re.search(r"http://127\.0\.0\.1:\d+/%s/[A-Za-z0-9_-]+" % sys.argv[2], text).group(0))
PYEND
}

# --- PostgreSQL (Debian's postgresql package) --------------------------------------------
# start_postgres - a private PostgreSQL cluster in $TMP/pg on a free loopback port: initdb
# (UTF-8, C locale, trust on loopback), run as nobody when the tests run as root (postgres
# refuses root); superuser "kirim", database "kirim". Sets PG_PORT, PG_URL (the database as
# its superuser), PG_BIN; the postmaster's PID in $LAST_PID, stopped by it at the end.
# Exits 77 (skip) without Debian's postgresql.
start_postgres() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		echo "SKIP: needs Debian's postgresql (tools/test installs it)"
		exit 77
	fi
	local as=() dir=$TMP/pg try
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$dir"
		# setpriv execs (runuser forks), so $! below is the postmaster itself.
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	fi
	"${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -U kirim -E UTF8 --locale=C --auth=trust \
		-N >"$TMP/server-initdb.log" 2>&1 || { cat "$TMP/server-initdb.log" >&2; return 1; }
	# A port free when asked may be taken before the server binds it: try another.
	for try in 1 2 3 4 5; do
		PG_PORT=$(free_port)
		"${as[@]}" "$PG_BIN/postgres" -D "$dir/data" -p "$PG_PORT" -k "$dir" \
			-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
			-c full_page_writes=off >"$TMP/server-postgres.log" 2>&1 &
		LAST_PID=$!
		PIDS+=("$LAST_PID")
		for _ in $(seq 1 100); do
			kill -0 "$LAST_PID" 2>/dev/null || break
			if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U kirim -d postgres; then
				"$PG_BIN/psql" -q -X -h 127.0.0.1 -p "$PG_PORT" -U kirim -d postgres \
					-c 'CREATE DATABASE kirim' >/dev/null || return 1
				PG_URL="postgresql://kirim@127.0.0.1:$PG_PORT/kirim"
				return 0
			fi
			sleep 0.1
		done
	done
	echo "PostgreSQL did not start:" >&2
	tail -n 20 "$TMP/server-postgres.log" >&2
	return 1
}
# psql_q [--db NAME] QUERY - one query against the test cluster's database (kirim, or NAME),
# rows with | between columns, no header
psql_q() {
	local db=kirim
	if [ "$1" = --db ]; then
		db=$2
		shift 2
	fi
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U kirim -d "$db" -c "$1"
}
