#!/usr/bin/env python3
"""api_pages.py - page through kirim's /api/contacts while adding contacts.

Usage: api_pages.py PORT PREFIX WANT_FILE
Pages of 1,000 through GET /api/contacts?prefix=PREFIX; between two pages it
adds up to 500 contacts in one batch (POST /api/contacts), among the old
ones: half just behind the page's cursor, half just ahead of it. Checks: every address in WANT_FILE
(one a line: the contacts there before the first page) is seen exactly once;
no address twice; pages in address order; every contact added after the
cursor of the moment is seen, none added before it is. Prints a summary and
exits 1 on any failure. The token is $API_TOKEN.
"""
import http.client
import json
import os
import sys
import urllib.parse


def main():
    port, prefix, want_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    want = [l.strip() for l in open(want_file) if l.strip()]
    token = os.environ['API_TOKEN']
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
    hdr = {'Authorization': 'Bearer ' + token}

    def call(method, path, body=None):
        h = dict(hdr)
        if body is not None:
            body = json.dumps(body)
            h['Content-Type'] = 'application/json'
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit('%s %s: %d %s' % (method, path, r.status, data[:300]))
        return json.loads(data)

    seen, order, pages, added_after, added_before = {}, [], 0, set(), set()
    cursor, n = None, 0
    while True:
        q = {'prefix': prefix, 'limit': '1000'}
        if cursor:
            q['cursor'] = cursor
        page = call('GET', '/api/contacts?' + urllib.parse.urlencode(q))
        pages += 1
        for item in page['items']:
            e = item['email'].lower()
            seen[e] = seen.get(e, 0) + 1
            order.append(e)
        cursor = page['next_cursor']
        if not cursor:
            break
        last = order[-1]
        # 500 new contacts among the old ones: just behind the last one seen and just
        # ahead of it (p-NNNNNNN@new.example sorts next to p-NNNNNNN@many.example).
        d = int(last[len(prefix):len(prefix) + 7])
        batch = []
        for i in range(1, 251):
            n += 1
            for k in (d - 3 * i, d + 3 * i):
                if 0 <= k < 10**7:
                    batch.append({'email': '%s%07d@new%d.example' % (prefix, k, n)})
        for b in batch:
            e = b['email'].lower()
            (added_after if e > last else added_before).add(e)
        r = call('POST', '/api/contacts', {'contacts': batch})
        if r['created'] + r['unchanged'] != len(batch) or r['failed']:
            sys.exit('batch: %r' % {k: r[k] for k in ('created', 'updated', 'failed')})
    fails = []
    missing = [e for e in want if seen.get(e.lower(), 0) == 0]
    twice = [e for e, k in seen.items() if k > 1]
    if missing:
        fails.append('%d of the first contacts never seen (%s...)' % (len(missing), missing[:3]))
    if twice:
        fails.append('%d seen twice (%s...)' % (len(twice), twice[:3]))
    if order != sorted(order):
        fails.append('pages not in address order')
    lost = [e for e in added_after if e not in seen]
    ghost = [e for e in added_before if e in seen]
    if lost:
        fails.append('%d added after the cursor not seen' % len(lost))
    if ghost:
        fails.append('%d added behind the cursor seen' % len(ghost))
    print('pages=%d seen=%d first=%d added_after=%d added_behind=%d' %
          (pages, len(seen), len(want), len(added_after), len(added_before)))
    for f in fails:
        print('FAIL ' + f)
    sys.exit(1 if fails else 0)


main()
