#!/usr/bin/env python3
"""pg_schema.py - do kirim's SQLite schema and its PostgreSQL twin (schema/pg/) describe the
same tables? Reads a fresh SQLite database (kirim init) through Python's sqlite3 and a
PostgreSQL database the PG schema was applied to through psql, and compares table by table:
columns (names in order, type class, NOT NULL, default, NOCASE <-> citext), primary keys,
unique constraints and indexes, other indexes by name, foreign keys (with ON DELETE), the
values CHECK constraints name, and triggers. Prints one line per difference and exits 1 if
there is any.

Also checks the migration rule: every SQLite migration numbered above the PG baseline's
number has a PG twin with its number.

Usage: pg_schema.py SQLITE_DB SCHEMA_DIR PSQL_ARG...  (psql's connection arguments)
"""
import os
import re
import sqlite3
import subprocess
import sys

SEP = "\x1f"
# Differences that are the two systems', not kirim's, and how they are read:
# - kirim_migrations is the PostgreSQL side's PRAGMA user_version.
# - SQLite lets a non-INTEGER primary key column hold NULL (a legacy quirk); kirim never
#   writes one, and PostgreSQL's primary keys are NOT NULL: a key column counts as NOT NULL.
# - SQLite's INTEGER PRIMARY KEY is the rowid; PostgreSQL's is an identity column.
PG_ONLY_TABLES = {"kirim_migrations"}


def pg(psql, sql):
    out = subprocess.run(psql + ["-X", "-q", "-A", "-t", "-F", SEP, "-v", "ON_ERROR_STOP=1",
                                 "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split(SEP) for line in out.splitlines() if line]


def type_class(t):
    t = t.lower()
    if t in ("integer", "int8", "int4", "int2", "bigint"):
        return "int"
    if t in ("real", "float8", "float4", "double precision"):
        return "real"
    if t in ("blob", "bytea"):
        return "bytes"
    if t in ("text", "json", "jsonb", "citext", "varchar"):
        return "text"
    return "?" + t


def norm_default(d):
    if d is None or d == "":
        return None
    d = re.sub(r"::[a-z ]+$", "", d.strip())
    return d


def check_literals(sql):
    """the string literals inside the CHECK (...) clauses of a CREATE TABLE"""
    lits = set()
    for m in re.finditer(r"\bCHECK\s*\(", sql, re.I):
        depth, i = 1, m.end()
        while depth and i < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        lits |= set(re.findall(r"'([^']*)'", sql[m.end():i]))
    return lits


def sqlite_side(path):
    db = sqlite3.connect(path)
    tables = {}
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        t = {"cols": [], "pk": [], "unique": set(), "index": {}, "fk": set(),
             "checks": check_literals(sql), "triggers": set(), "nocase": set()}
        info = db.execute(f"PRAGMA table_info('{name}')").fetchall()
        for cid, col, typ, notnull, dflt, pk in info:
            t["cols"].append((col, type_class(typ), bool(notnull) or pk > 0, norm_default(dflt)))
        t["pk"] = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        for _, iname, unique, origin, partial in db.execute(f"PRAGMA index_list('{name}')"):
            xinfo = [r for r in db.execute(f"PRAGMA index_xinfo('{iname}')") if r[5]]
            cols = tuple(r[2] for r in xinfo)
            t["nocase"] |= {r[2] for r in xinfo if (r[4] or "").upper() == "NOCASE"}
            if origin == "pk":
                continue
            if unique:
                t["unique"].add((cols, bool(partial)))
            else:
                t["index"][iname] = cols
        fks = {}
        for fid, seq, ref, frm, to, _, ondel, _ in db.execute(f"PRAGMA foreign_key_list('{name}')"):
            fks.setdefault(fid, [ref, [], [], ondel.upper()])
            fks[fid][1].append(frm)
            fks[fid][2].append(to)
        t["fk"] = {(tuple(f), r, tuple(to), d) for r, f, to, d in fks.values()}
        tables[name] = t
    for name, tbl in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"):
        tables[tbl]["triggers"].add(name)
    return tables


def pg_side(psql):
    tables = {}
    for name, col, typ, nullable, dflt in pg(psql, """
            SELECT c.table_name, c.column_name, c.udt_name, c.is_nullable, coalesce(c.column_default, '')
            FROM information_schema.columns c JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position"""):
        if name in PG_ONLY_TABLES:
            continue
        t = tables.setdefault(name, {"cols": [], "pk": [], "unique": set(), "index": {},
                                     "fk": set(), "checks": set(), "triggers": set(),
                                     "nocase": set()})
        t["cols"].append((col, type_class(typ), nullable == "NO", norm_default(dflt)))
        if typ == "citext":
            t["nocase"].add(col)
    # Indexes: primary, unique (constraint or index, partial or not), others by name.
    for tbl, iname, primary, unique, partial, cols in pg(psql, """
            SELECT c.relname, i.relname, x.indisprimary, x.indisunique, x.indpred IS NOT NULL,
                   (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(x.indkey::int2[])
                    WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a
                    ON a.attrelid = c.oid AND a.attnum = k.attnum)
            FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema()"""):
        if tbl in PG_ONLY_TABLES:
            continue
        cols = tuple(cols.split(","))
        if primary == "t":
            tables[tbl]["pk"] = list(cols)
        elif unique == "t":
            tables[tbl]["unique"].add((cols, partial == "t"))
        else:
            tables[tbl]["index"][iname] = cols
    for tbl, ref, frm, to, deltype in pg(psql, """
            SELECT c.relname, r.relname,
                   (SELECT string_agg(a.attname, ',' ORDER BY k2.n) FROM unnest(k.conkey)
                    WITH ORDINALITY AS k2(attnum, n) JOIN pg_attribute a
                    ON a.attrelid = k.conrelid AND a.attnum = k2.attnum),
                   (SELECT string_agg(a.attname, ',' ORDER BY k2.n) FROM unnest(k.confkey)
                    WITH ORDINALITY AS k2(attnum, n) JOIN pg_attribute a
                    ON a.attrelid = k.confrelid AND a.attnum = k2.attnum),
                   k.confdeltype
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'f' AND n.nspname = current_schema()"""):
        action = {"a": "NO ACTION", "c": "CASCADE", "n": "SET NULL", "r": "RESTRICT",
                  "d": "SET DEFAULT"}[deltype]
        tables[tbl]["fk"].add((tuple(frm.split(",")), ref, tuple(to.split(",")), action))
    for tbl, definition in pg(psql, """
            SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'c' AND n.nspname = current_schema()"""):
        tables[tbl]["checks"] |= set(re.findall(r"'([^']*)'", definition))
    for tbl, name in pg(psql, """
            SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND n.nspname = current_schema()"""):
        tables[tbl]["triggers"].add(name)
    return tables


def compare(lite, post):
    out = []
    for name in sorted(set(lite) - set(post)):
        out.append(f"table {name}: in SQLite, not in PostgreSQL")
    for name in sorted(set(post) - set(lite)):
        out.append(f"table {name}: in PostgreSQL, not in SQLite")
    for name in sorted(set(lite) & set(post)):
        a, b = lite[name], post[name]
        an, bn = [c[0] for c in a["cols"]], [c[0] for c in b["cols"]]
        for col in an:
            if col not in bn:
                out.append(f"column {name}.{col}: in SQLite, not in PostgreSQL")
        for col in bn:
            if col not in an:
                out.append(f"column {name}.{col}: in PostgreSQL, not in SQLite")
        if [c for c in an if c in bn] != [c for c in bn if c in an]:
            out.append(f"table {name}: columns in another order: SQLite {an}, PostgreSQL {bn}")
        bcols = {c[0]: c for c in b["cols"]}
        for col, cls, notnull, dflt in a["cols"]:
            if col not in bcols:
                continue
            _, pcls, pnotnull, pdflt = bcols[col]
            if cls != pcls:
                out.append(f"column {name}.{col}: type {cls} in SQLite, {pcls} in PostgreSQL")
            if notnull != pnotnull:
                out.append(f"column {name}.{col}: NOT NULL is {notnull} in SQLite, {pnotnull} in PostgreSQL")
            if dflt != pdflt:
                out.append(f"column {name}.{col}: default {dflt} in SQLite, {pdflt} in PostgreSQL")
        for key, what in (("pk", "primary key"), ("unique", "unique keys"), ("index", "indexes"),
                          ("fk", "foreign keys"), ("checks", "CHECK values"),
                          ("triggers", "triggers"), ("nocase", "case-insensitive columns")):
            if a[key] != b[key]:
                out.append(f"table {name}: {what} differ: SQLite {sorted(a[key]) if isinstance(a[key], set) else a[key]}, "
                           f"PostgreSQL {sorted(b[key]) if isinstance(b[key], set) else b[key]}")
    return out


def migrations(schema_dir):
    """every SQLite migration above the PG baseline has its PG twin"""
    num = lambda d: {int(f[:3]): f for f in os.listdir(d) if re.match(r"^\d{3}_.*\.sql$", f)}
    lite, post = num(schema_dir), num(os.path.join(schema_dir, "pg"))
    base = min(post) if post else 0
    return [f"schema/{f} has no PostgreSQL twin schema/pg/{n:03d}_*.sql"
            for n, f in sorted(lite.items()) if n > base and n not in post]


def main():
    path, schema_dir, psql = sys.argv[1], sys.argv[2], sys.argv[3:]
    lite, post = sqlite_side(path), pg_side(psql)
    diffs = migrations(schema_dir) + compare(lite, post)
    for d in diffs:
        print(d)
    cols = sum(len(t["cols"]) for t in lite.values())
    print(f"pg_schema: {len(lite)} SQLite tables ({cols} columns), {len(post)} PostgreSQL tables: "
          f"{len(diffs)} differences")
    sys.exit(1 if diffs else 0)


main()
