#!/usr/bin/env python3
"""api_openapi.py - every exchange api.sh made, checked against docs/openapi.json.

Usage: api_openapi.py OPENAPI.json RESPONSES.jsonl
Each line of RESPONSES.jsonl is one exchange (api_call.py writes them: method,
path, status, content type, body). For each: the operation the document gives
for the path and method must exist, document the status (or a default), and
the media type; a JSON body must validate against the schema (JSON Schema
2020-12, as OpenAPI 3.1 says, by python3-jsonschema, with the document's
$refs). Also: every operation of the document was called at least once.
Prints one line per failure and a summary; exits 1 on any failure.
"""
import json
import re
import sys

import jsonschema
from jsonschema import Draft202012Validator

try:
    from referencing import Registry, Resource
except ImportError:  # older jsonschema: RefResolver
    Registry = None


def main():
    doc = json.load(open(sys.argv[1]))
    exchanges = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    ops = []
    for path, item in doc['paths'].items():
        rx = re.compile('^' + re.sub(r'\\\{[^/]+?\\\}', '[^/]+', re.escape(path)) + '$')
        for method, op in item.items():
            if method in ('get', 'post', 'put', 'patch', 'delete'):
                ops.append((rx, path, method, op))
    if Registry:  # jsonschema 4.18 and later
        from referencing.jsonschema import DRAFT202012
        registry = Registry().with_resource('urn:openapi',
                                            Resource(contents=doc, specification=DRAFT202012))

        def validator(schema):
            return Draft202012Validator(schema, registry=registry)
    else:
        resolver = jsonschema.RefResolver('urn:openapi', doc)

        def validator(schema):
            return Draft202012Validator(schema, resolver=resolver)

    def fix_refs(v):
        """The document's refs (#/components/...) as refs into urn:openapi."""
        if isinstance(v, dict):
            return {k: ('urn:openapi' + x if k == '$ref' and isinstance(x, str) and x.startswith('#') else fix_refs(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [fix_refs(x) for x in v]
        return v

    def response_of(op, status):
        r = op['responses'].get(str(status)) or op['responses'].get('default')
        while r and '$ref' in r:
            r = doc['components']['responses'][r['$ref'].split('/')[-1]]
        return r

    fails, called, checked = [], set(), 0
    for x in exchanges:
        where = '%s %s %d' % (x['method'], x['path'], x['status'])
        method = 'get' if x['method'] == 'HEAD' else x['method'].lower()
        match = [o for o in ops if o[2] == method and o[0].match(x['path'])]
        # A literal path wins over a template ("/api/templates/x/lint" vs "{name}").
        match.sort(key=lambda o: o[1].count('{'))
        if not match:
            if x['status'] in (404, 405):
                continue  # an unknown path or method: nothing in the document to hold it to
            fails.append('%s: no operation in the document' % where)
            continue
        rx, path, m, op = match[0]
        called.add((path, m))
        r = response_of(op, x['status'])
        if r is None:
            fails.append('%s: status not documented for %s %s' % (where, m.upper(), path))
            continue
        mt = x['type'].split(';')[0].strip()
        content = r.get('content', {})
        if mt not in content:
            fails.append('%s: media type %s not documented (%s)' % (where, mt, ', '.join(content)))
            continue
        if x['method'] == 'HEAD' or not mt.endswith('json'):
            checked += 1
            continue
        try:
            body = json.loads(x['body'])
        except ValueError as e:
            fails.append('%s: body is not JSON: %s' % (where, e))
            continue
        schema = fix_refs(content[mt].get('schema', {}))
        errors = sorted(validator(schema).iter_errors(body), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            fails.append('%s: %s at %s' % (where, e.message[:300], '/'.join(map(str, e.path))))
        checked += 1
    for rx, path, m, op in ops:
        if (path, m) not in called:
            fails.append('%s %s: never called by the test' % (m.upper(), path))
    for f in fails:
        print('FAIL ' + f)
    print('openapi: %d exchanges checked against %d operations, %d failures' %
          (checked, len(ops), len(fails)))
    sys.exit(1 if fails else 0)


main()
