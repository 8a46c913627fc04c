#!/usr/bin/python3
"""https_server - an HTTPS server for MTA-STS policy fetches (RFC 8461 3.3), good or hostile.

Usage: https_server.py --port N --cert F --key F --dir DIR [--host ADDR]

Answers GET /.well-known/mta-sts.txt by the Host header: DIR/HOST holds the policy
file, served as text/plain. DIR/HOST.how, when present, is one word (read at each
request) that makes the answer hostile:
  redirect   301 to https://HOST/elsewhere.txt (which serves the policy)
  huge       a text/plain body of 1 MiB of policy-like lines
  binary     a text/plain body of random bytes
  html       the policy as text/html
  slow       the headers, then one byte of the policy every 2 seconds
  404        Not Found
  chunked    the policy in chunked transfer encoding, no Content-Length
Any other path is a file of DIR/HOST.d/ (its name without the leading '/' and the query;
"/" is DIR/HOST.d/index), served as application/octet-stream, or 404: SNS signing
certificates and subscription confirmations (tests/integration/esp_hooks.sh).
A POST (a TLS-RPT report, RFC 8460 5.3.2) is answered 200, or 503 when DIR/HOST.how
says reject; its body is written to DIR/HOST.post.N (N counting from 1) and its
Content-Type appended to DIR/HOST.posts. Every request is appended to DIR/HOST.log (one
line per fetch). Runs until killed;
each request on its own thread, so a slow answer holds up no other.
"""
import argparse
import http.server
import os
import socketserver
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.headers.get("Host", "-"), fmt % args))

    def do_POST(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        base = os.path.join(self.server.dir, os.path.basename(host))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(base + ".log", "a") as f:
            f.write("POST " + self.path + "\n")
        how = ""
        if os.path.exists(base + ".how"):
            with open(base + ".how") as f:
                how = f.read().strip()
        if how == "reject":
            return self.send(503, "text/plain", b"not now\n")
        n = 1
        while os.path.exists("%s.post.%d" % (base, n)):
            n += 1
        with open("%s.post.%d" % (base, n), "wb") as f:
            f.write(body)
        with open(base + ".posts", "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Content-Type")))
        return self.send(200, "text/plain", b"thanks\n")

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        base = os.path.join(self.server.dir, os.path.basename(host))
        with open(base + ".log", "a") as f:
            f.write(self.path + "\n")
        how = ""
        if os.path.exists(base + ".how"):
            with open(base + ".how") as f:
                how = f.read().strip()
        if self.path not in ("/.well-known/mta-sts.txt", "/elsewhere.txt"):
            name = self.path.split("?")[0].lstrip("/") or "index"
            f = os.path.join(base + ".d", os.path.basename(name))
            if os.path.isfile(f):
                with open(f, "rb") as fh:
                    return self.send(200, "application/octet-stream", fh.read())
        if self.path not in ("/.well-known/mta-sts.txt", "/elsewhere.txt") or \
                not os.path.exists(base) or how == "404":
            return self.send(404, "text/plain", b"not found\n")
        with open(base, "rb") as f:
            body = f.read()
        if how == "redirect" and self.path != "/elsewhere.txt":
            self.send_response(301)
            self.send_header("Location", "https://%s/elsewhere.txt" % host)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if how == "huge":
            line = b"mx: mx%05d.example.com\n"
            body = b"".join(line % i for i in range((1 << 20) // len(line) + 1))[:1 << 20]
        elif how == "binary":
            body = os.urandom(4096)
        elif how == "slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for b in body:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(2)
            return
        elif how == "chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 10):
                part = body[i:i + 10]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        return self.send(200, "text/html" if how == "html" else "text/plain", body)

    def send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many fetches at once (tools/bench-send --mx --sts: 1,000 domains): a deep backlog,
    # and each TLS handshake in its request's thread, not in accept().
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler)
    srv.dir = args.dir
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
