#!/usr/bin/env bash
# pg_schema.sh - kirim's SQLite schema (schema/NNN_*.sql, as kirim init applies it) and its
# PostgreSQL twin (schema/pg/, applied with psql as written) describe the same tables,
# columns, keys, indexes, foreign keys, CHECK values and triggers (pg_schema.py); and the
# comparison does fail when a column is missing from either side.
# PostgreSQL from Debian's packages on a free loopback port (lib.sh's start_postgres).
. "$(dirname "$0")/lib.sh"
SRC=${KIRIM_SRC:?}
start_postgres || exit 1
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U kirim)

# apply DB - create the database DB and apply schema/pg/*.sql to it in number order
apply() {
	psql_q --db postgres "CREATE DATABASE $1" >/dev/null
	local f
	for f in $(ls "$SRC"/schema/pg/[0-9][0-9][0-9]_*.sql | sort); do
		"${PSQL[@]}" -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$f" >/dev/null || return 1
	done
}

"$KIRIM" init >/dev/null
run apply fresh
eq "schema/pg/ applies" "$RC" 0
run "$PY3" "$SRC/tests/integration/pg_schema.py" "$KIRIM_DB" "$SRC/schema" "${PSQL[@]}" -d fresh
eq "the two schemas agree" "$RC" 0
[ "$RC" = 0 ] || printf '%s\n' "$OUT" | head -n 30 >&2
contains "all tables compared" "$OUT" "$(sqlite3 -batch "$KIRIM_DB" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") SQLite tables"

# A column missing from the PostgreSQL side is found and named.
apply short >/dev/null
psql_q --db short "ALTER TABLE events DROP COLUMN helo" >/dev/null
run "$PY3" "$SRC/tests/integration/pg_schema.py" "$KIRIM_DB" "$SRC/schema" "${PSQL[@]}" -d short
eq "a column missing in PostgreSQL fails" "$RC" 1
contains "it is named" "$OUT" "column events.helo: in SQLite, not in PostgreSQL"

# And one missing from the SQLite side (a copy of the fresh database with a column more).
cp "$KIRIM_DB" extra.db
sqlite3 extra.db "ALTER TABLE contacts ADD COLUMN nickname TEXT"
run "$PY3" "$SRC/tests/integration/pg_schema.py" extra.db "$SRC/schema" "${PSQL[@]}" -d fresh
eq "a column missing in PostgreSQL (added in SQLite) fails" "$RC" 1
contains "it is named too" "$OUT" "column contacts.nickname: in SQLite, not in PostgreSQL"

# A NOT NULL dropped, and a CHECK value missing, are differences too.
psql_q --db short "ALTER TABLE contacts ALTER COLUMN domain DROP NOT NULL;
	ALTER TABLE suppressions DROP CONSTRAINT suppressions_kind_check;
	ALTER TABLE suppressions ADD CHECK (kind IN ('address', 'domain'))" >/dev/null
run "$PY3" "$SRC/tests/integration/pg_schema.py" "$KIRIM_DB" "$SRC/schema" "${PSQL[@]}" -d short
contains "NOT NULL" "$OUT" "column contacts.domain: NOT NULL is True in SQLite, False in PostgreSQL"
contains "CHECK values" "$OUT" "table suppressions: CHECK values differ"

# A SQLite migration past the baseline without its PostgreSQL twin fails the rule.
mkdir -p fake/pg
cp "$SRC"/schema/*.sql fake/
cp "$SRC"/schema/pg/*.sql fake/pg/
printf -- '-- a later migration\nALTER TABLE lists ADD COLUMN note TEXT;\n' >fake/099_note.sql
run "$PY3" "$SRC/tests/integration/pg_schema.py" "$KIRIM_DB" fake "${PSQL[@]}" -d fresh
contains "a migration without its twin" "$OUT" "schema/099_note.sql has no PostgreSQL twin"
finish
