#!/usr/bin/python3
"""smtp_server - a scriptable SMTP server for kirim's SMTP client tests.

Built on Debian's python3-aiosmtpd (run it with /usr/bin/python3). Options:
  --port N                 listen on 127.0.0.1:N
  --cert F --key F         certificate and key for STARTTLS (or implicit TLS)
  --implicit-tls           TLS from the first byte (port 465 style)
  --require-starttls       refuse mail before STARTTLS
  --auth                   offer AUTH (user "kirim", password "s3cret")
  --auth-plaintext         offer AUTH without TLS too
  --auth-exclude MECH      do not offer MECH (PLAIN or LOGIN); repeatable
  --pipelining             announce PIPELINING and ENHANCEDSTATUSCODES
  --dump DIR               write each message to DIR/NNNN.eml and its envelope
                           to DIR/NNNN.json (mail_from, rcpt_tos, mail_options,
                           tls, peer: the client's address, ehlo: its EHLO name),
                           and a line "PEER EHLO" per EHLO to DIR/connections
Recipients whose local part starts with "reject" get 550 5.1.1, with "defer"
451 4.3.0; the rest are accepted.
  --host ADDR              listen on ADDR (any 127.x.y.z) instead of 127.0.0.1
  --throttle-after N       after N accepted messages, answer every RCPT with
  --throttle-for SECONDS   "451 4.7.0 Rate limited, try again later" for SECONDS,
                           then accept again (a provider that says "slow down")
  --slowdown-from ADDR     with --throttle-after: only mail from ADDR gets the slow
                           down, as "421 4.7.0 Try again later" to its MAIL FROM
  --connections FILE       write "open N most M" to FILE at each connection: the
                           connections open now and the most at once so far
  --data-delay SECONDS     wait this long before answering DATA (busy sessions)

  --make-certs DIR         write a test CA (ca.pem, ca.key) and a server
                           certificate for mx.test and 127.0.0.1 signed by it
                           (server.pem, server.key) into DIR, then exit.
  --make-cert DIR NAME SANS  a certificate DIR/NAME.pem (key DIR/NAME.key) for the
                           comma-separated DNS names SANS, signed by the CA of
                           --make-certs in DIR; with --expired its validity ended
                           days ago, with --self-signed it signs itself. Then exit.
Test-only keys: made at test time, never committed.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys

USER = b"kirim"
PASSWORD = b"s3cret"


def make_certs(d):
    def run(*args):
        subprocess.run(args, check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=kirim test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=mx.test")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:mx.test,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
        "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
        "-days", "2", "-extfile", "ext.cnf")


def make_cert(d, name, sans, expired=False, self_signed=False):
    def run(*args, fake=None):
        pre = ["faketime", "-f", fake] if fake else []
        subprocess.run(pre + list(args), check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    san = ",".join("DNS:" + n for n in sans.split(","))
    ext = name + ".cnf"
    with open(os.path.join(d, ext), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % san)
    first = sans.split(",")[0]
    if self_signed:
        run("openssl", "req", "-x509", *ec, "-keyout", name + ".key", "-out", name + ".pem",
            "-days", "2", "-subj", "/CN=" + first, "-addext", "subjectAltName=" + san)
        return
    run("openssl", "req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
        "-subj", "/CN=" + first)
    # Expired: signed "ten days ago" for two days (libfaketime moves openssl's clock).
    run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext,
        fake="-10d" if expired else None)


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.throttle_until = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.args.dump:
            with open(os.path.join(self.args.dump, "connections"), "a") as f:
                f.write("%s %s\n" % (session.peer[0], hostname))
        if self.args.pipelining:
            responses[1:1] = ["250-PIPELINING", "250-ENHANCEDSTATUSCODES"]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.args.slowdown_from and address.lower() == self.args.slowdown_from.lower() \
                and self.args.throttle_after is not None and self.count >= self.args.throttle_after:
            loop = asyncio.get_running_loop()
            if self.throttle_until is None:
                self.throttle_until = loop.time() + self.args.throttle_for
            if loop.time() < self.throttle_until:
                return "421 4.7.0 Try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: user unknown" % address
        if local.startswith("defer"):
            return "451 4.3.0 <%s>: try again later" % address
        if self.args.throttle_after is not None and self.count >= self.args.throttle_after \
                and not self.args.slowdown_from:
            loop = asyncio.get_running_loop()
            if self.throttle_until is None:
                self.throttle_until = loop.time() + self.args.throttle_for
            if loop.time() < self.throttle_until:
                return "451 4.7.0 Rate limited, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.data_delay:
            await asyncio.sleep(self.args.data_delay)
        self.count += 1
        if self.args.dump:
            base = os.path.join(self.args.dump, "%04d" % self.count)
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content)
            with open(base + ".json", "w") as f:
                json.dump({"mail_from": envelope.mail_from,
                           "rcpt_tos": envelope.rcpt_tos,
                           "mail_options": envelope.mail_options,
                           "tls": session.ssl is not None,
                           "peer": session.peer[0],
                           "ehlo": session.host_name}, f)
        return "250 2.0.0 OK queued as %04d" % self.count


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER
          and auth_data.password == PASSWORD)
    return AuthResult(success=ok, handled=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--require-starttls", action="store_true")
    ap.add_argument("--auth", action="store_true")
    ap.add_argument("--auth-plaintext", action="store_true")
    ap.add_argument("--auth-exclude", action="append", default=[])
    ap.add_argument("--pipelining", action="store_true")
    ap.add_argument("--dump")
    ap.add_argument("--make-certs")
    ap.add_argument("--make-cert", nargs=3, metavar=("DIR", "NAME", "SANS"))
    ap.add_argument("--expired", action="store_true")
    ap.add_argument("--self-signed", action="store_true")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--throttle-after", type=int)
    ap.add_argument("--throttle-for", type=float, default=3.0)
    ap.add_argument("--slowdown-from")
    ap.add_argument("--connections")
    ap.add_argument("--data-delay", type=float)
    args = ap.parse_args()
    if args.make_certs:
        make_certs(args.make_certs)
        return 0
    if args.make_cert:
        make_cert(*args.make_cert, expired=args.expired, self_signed=args.self_signed)
        return 0

    from aiosmtpd.smtp import SMTP

    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    handler = Handler(args)
    kw = {"hostname": "mx.test", "ident": "kirim test server",
          "enable_SMTPUTF8": True}
    if args.auth:
        kw.update(authenticator=authenticator,
                  auth_require_tls=not args.auth_plaintext,
                  auth_exclude_mechanism=args.auth_exclude)
    if ctx is not None and not args.implicit_tls:
        kw.update(tls_context=ctx, require_starttls=args.require_starttls)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    conns = {"open": 0, "most": 0}

    class CountingSMTP(SMTP):
        """SMTP that counts its connections into --connections FILE."""

        def _note(self):
            with open(args.connections, "w") as f:
                f.write("open %d most %d\n" % (conns["open"], conns["most"]))

        def connection_made(self, transport):
            conns["open"] += 1
            conns["most"] = max(conns["most"], conns["open"])
            self._note()
            super().connection_made(transport)

        def connection_lost(self, exc):
            conns["open"] -= 1
            self._note()
            super().connection_lost(exc)

    def factory():
        if args.connections:
            return CountingSMTP(handler, loop=loop, **kw)
        return SMTP(handler, loop=loop, **kw)

    server = loop.run_until_complete(loop.create_server(
        factory, host=args.host, port=args.port,
        ssl=ctx if args.implicit_tls else None))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
