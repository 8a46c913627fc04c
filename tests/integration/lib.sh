# tests/integration/lib.sh - small assertion helpers for the integration tests.
# Each test script sources this, runs the real kirim binary ($KIRIM) in a
# private temporary folder, and exits non-zero if any check failed.
set -u
: "${KIRIM:?KIRIM must name the kirim binary}"
TMP=$(mktemp -d)
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
# sql QUERY - one query against the test database, rows with | between columns
sql() { sqlite3 -batch "$KIRIM_DB" "$1"; }
# json EXPR - evaluate a Python expression on the JSON in $OUT (bound to j)
json() { printf '%s' "$OUT" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
# dump - everything an import may change, for before/after comparisons
dump() {
	sql "SELECT id, email, domain, attrs, created_at, updated_at FROM contacts ORDER BY id;
	     SELECT * FROM lists ORDER BY id; SELECT list_id, contact_id FROM list_members
	     ORDER BY 1, 2; SELECT kind, value, reason FROM suppressions ORDER BY 1, 2;" 2>/dev/null
}
# finish - print the tally and exit with the right status
finish() {
	echo "$CHECKS checks, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}
