#!/usr/bin/env python3
"""webhook_receiver.py - a webhook receiver for tests/integration/webhooks.sh.

Usage: webhook_receiver.py --port P --secret-file F --log FILE [--fail N] [--hold MARKER]
                           [--cert PEM --key KEY]

Verifies each POST's Kirim-Signature with its own code (HMAC-SHA256 of
"T.BODY" with the secret, compared with hmac.compare_digest, T within 5
minutes of now) and answers 401 when it does not hold; answers 500 to the
first N good requests (--fail); with --hold, on the first request it writes
MARKER and waits (never answering in time) so that the test can kill the
sender meanwhile. Appends one JSON line per request to FILE: the status it
answered, whether the signature held, the event ids and types, and the
events' (email, type) pairs. With --cert and --key it speaks HTTPS with that
certificate (made by the test: a good one, one for another name, a self-signed
one); a client that refuses the certificate never reaches the handler, so the
log gets no line for it.
"""
import argparse
import hashlib
import hmac
import json
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

a = argparse.ArgumentParser()
a.add_argument('--port', type=int, required=True)
a.add_argument('--secret-file', required=True)
a.add_argument('--log', required=True)
a.add_argument('--fail', type=int, default=0)
a.add_argument('--hold')
a.add_argument('--cert')
a.add_argument('--key')
args = a.parse_args()
secret = open(args.secret_file, 'rb').read().rstrip(b'\r\n')
state = {'good': 0, 'held': False}


def verify(header, body):
    """The signature scheme of docs/api.md, as a receiver writes it."""
    parts = dict(p.split('=', 1) for p in header.split(',') if '=' in p)
    t, v1 = parts.get('t', ''), parts.get('v1', '')
    if not t.isdigit() or abs(time.time() - int(t)) > 300:
        return False
    want = hmac.new(secret, t.encode() + b'.' + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, v1)


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        ok = verify(self.headers.get('Kirim-Signature', ''), body)
        status = 200
        if not ok:
            status = 401
        else:
            state['good'] += 1
            if state['good'] <= args.fail:
                status = 500
        events = json.loads(body)['events'] if ok else []
        rec = {'status': status, 'sig': ok, 'ids': [e['id'] for e in events],
               'types': [e['type'] for e in events],
               'pairs': [[e['email'], e['type']] for e in events],
               'held': bool(args.hold and not state['held'])}
        with open(args.log, 'a') as f:
            f.write(json.dumps(rec) + '\n')
        if args.hold and not state['held']:
            state['held'] = True
            open(args.hold, 'w').close()
            time.sleep(60)  # the test kills the sender meanwhile
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()


srv = ThreadingHTTPServer(('127.0.0.1', args.port), H)
if args.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
