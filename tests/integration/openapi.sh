#!/usr/bin/env bash
# openapi.sh - docs/openapi.json (the API's document, served at /api/openapi.json) is a valid
# OpenAPI 3.1 document by an independent validator: @seriousme/openapi-schema-validator from
# the npm registry, installed here into the test's folder (OPENAPI_VALIDATOR_VERSION picks
# the release). Without npm, or with no registry to install from, it is skipped (77), with
# a SKIP line saying why. api.sh checks every response against the same document.
. "$(dirname "$0")/lib.sh"

DOC="${KIRIM_SRC:-.}/docs/openapi.json"
version=${OPENAPI_VALIDATOR_VERSION:-2.11.0}
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "SKIP: npm and node are needed for the OpenAPI validator (Debian: apt-get install npm)"
	exit 77
fi
if ! npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TMP/v" \
	"@seriousme/openapi-schema-validator@$version" >npm.log 2>&1; then
	echo "SKIP: npm could not install @seriousme/openapi-schema-validator@$version:"
	tail -n 5 npm.log
	exit 77
fi
cat >"$TMP/v/check.mjs" <<'JS'
import { Validator } from "@seriousme/openapi-schema-validator";
const v = new Validator();
const res = await v.validate(process.argv[2]);
console.log(JSON.stringify({ valid: res.valid, version: v.version, errors: res.errors }));
process.exit(res.valid ? 0 : 1);
JS
run node "$TMP/v/check.mjs" "$DOC"
eq "valid OpenAPI" "$RC" 0
eq "its version" "$(json 'j["valid"], j["version"]')" "True 3.1"
[ "$RC" = 0 ] || printf '%s\n' "$OUT" | head -c 3000

# The validator is a real one: a document without info.title is refused.
$PY3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["info"]["title"]; json.dump(d, open("broken.json", "w"))' "$DOC"
run node "$TMP/v/check.mjs" broken.json
eq "a broken document is refused" "$RC" 1

# Every operation is documented for its status codes: each has a default (problem details)
# and a success answer, and every path parameter is declared.
run $PY3 - "$DOC" <<'PYEND'
import json, re, sys
d = json.load(open(sys.argv[1]))
bad = []
for path, item in d["paths"].items():
    names = set(re.findall(r"\{([^}]+)\}", path))
    declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
    for m, op in item.items():
        if m not in ("get", "post", "patch", "delete", "put"):
            continue
        if not any(c.startswith("2") for c in op["responses"]):
            bad.append("%s %s: no success answer" % (m, path))
        if "security" not in op or op["security"] and "default" not in op["responses"]:
            bad.append("%s %s: no default problem answer" % (m, path))
        pd = declared | {p["name"] for p in op.get("parameters", []) if "name" in p and p.get("in") == "path"}
        if names - pd:
            bad.append("%s %s: path parameters not declared: %s" % (m, path, names - pd))
print("\n".join(bad) or "ok")
PYEND
eq "operations complete" "$OUT" ok
finish
