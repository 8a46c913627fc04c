#!/usr/bin/env python3
"""api_call.py - one request to kirim's HTTP API, for tests/integration/api.sh.

Usage: api_call.py PORT METHOD PATH BODY [Header: value]...
BODY is the body's text, @FILE, - (standard input) or '' for none.
The token comes from $API_TOKEN (none when empty); a body is sent as
application/json unless a Content-Type header is given. Prints the status on
the first line, the response headers (lower-cased names) as a JSON object on
the second and the body after. With $API_LOG set, appends the exchange as a
JSON line (method, path, status, content type, body) for the OpenAPI check.
"""
import http.client
import json
import os
import sys


def main():
    port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    body = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != '' else None
    rest = sys.argv[5:]
    headers = {}
    for h in rest:
        name, _, value = h.partition(':')
        headers[name.strip()] = value.strip()
    if body is not None:
        if body == '-':
            body = sys.stdin.buffer.read()
        elif body.startswith('@'):
            with open(body[1:], 'rb') as f:
                body = f.read()
        else:
            body = body.encode()
        headers.setdefault('Content-Type', 'application/json')
    token = os.environ.get('API_TOKEN', '')
    if token and 'Authorization' not in headers:
        headers['Authorization'] = 'Bearer ' + token
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    sys.stdout.write('%d\n%s\n' % (r.status, json.dumps(hdrs)))
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    log = os.environ.get('API_LOG')
    if log:
        with open(log, 'a') as f:
            f.write(json.dumps({'method': method, 'path': path.split('?')[0],
                                'status': r.status, 'type': hdrs.get('content-type', ''),
                                'body': data.decode('utf-8', 'replace')}) + '\n')


main()
