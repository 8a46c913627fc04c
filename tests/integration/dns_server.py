#!/usr/bin/python3
"""Tiny DNS peer for resolver tests.

Usage: dns_server.py PORT servfail|refused
       dns_server.py PORT zone FILE

servfail|refused: answers every UDP query with that rcode (dnsmasq cannot be
made to answer SERVFAIL or REFUSED; this can).

zone: answers from FILE, a zone in master-file syntax with absolute names
(read again whenever it changes, so a test can edit it between runs), the way
a local validating resolver would answer a stub: NXDOMAIN for a name with no
records at or below it, NOERROR with no answer for a name without the type,
and the AD bit set when the query asked for it (AD or DO, RFC 6840 5.7) unless
the name is listed in a comment line of FILE:
    ;insecure NAME    answers for NAME and names below it never carry AD (an
                      unsigned zone)
    ;servfail NAME    queries for NAME and names below it get SERVFAIL (a
                      validation failure)
Answers larger than 1232 bytes are truncated (TC) over UDP; TCP is served too.
Runs until killed.
"""
import os
import socket
import struct
import sys
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone


class Zone:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.lock = threading.Lock()
        self.load()

    def load(self):
        st = os.stat(self.path)
        if self.mtime == st.st_mtime_ns:
            return
        self.insecure, self.servfail = set(), set()
        with open(self.path) as f:
            text = f.read()
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in (";insecure", ";servfail"):
                name = dns.name.from_text(parts[1])
                (self.insecure if parts[0] == ";insecure" else self.servfail).add(name)
        self.zone = dns.zone.from_text(text, origin=dns.name.root, relativize=False,
                                       check_origin=False)
        self.mtime = st.st_mtime_ns

    def answer(self, data):
        try:
            q = dns.message.from_wire(data)
        except Exception:
            return None
        with self.lock:
            try:
                self.load()
            except Exception as e:  # a half-written file: answer from the last one
                print("zone reload failed:", e, file=sys.stderr)
            r = dns.message.make_response(q)
            r.flags &= ~dns.flags.AD
            if not q.question:
                r.set_rcode(dns.rcode.FORMERR)
                return r
            qn, qt = q.question[0].name, q.question[0].rdtype
            if any(qn.is_subdomain(n) for n in self.servfail):
                r.set_rcode(dns.rcode.SERVFAIL)
                return r
            r.flags |= dns.flags.AA
            rds = self.zone.get_rdataset(qn, qt)
            if rds is not None:
                r.answer.append(dns.rrset.from_rdata_list(qn, rds.ttl, list(rds)))
            elif not any(n == qn or n.is_subdomain(qn) for n in self.zone.nodes):
                r.set_rcode(dns.rcode.NXDOMAIN)
            wants_ad = bool(q.flags & dns.flags.AD) or bool(q.ednsflags & dns.flags.DO)
            if wants_ad and not any(qn.is_subdomain(n) for n in self.insecure):
                r.flags |= dns.flags.AD
            return r


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    zone = Zone(sys.argv[3]) if mode == "zone" else None
    rcode = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}.get(mode)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    if zone is not None:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", port))
        t.listen(16)
        threading.Thread(target=serve_tcp, args=(t, zone), daemon=True).start()
    while True:
        data, peer = s.recvfrom(4096)
        if zone is not None:
            r = zone.answer(data)
            if r is not None:
                try:
                    w = r.to_wire(max_size=1232)
                except dns.exception.TooBig:
                    r.answer = []
                    r.flags |= dns.flags.TC
                    w = r.to_wire()
                s.sendto(w, peer)
            continue
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        r = dns.message.make_response(q)
        r.set_rcode(rcode)
        s.sendto(r.to_wire(), peer)


def serve_tcp(t, zone):
    while True:
        c, _ = t.accept()
        try:
            c.settimeout(5)
            hdr = c.recv(2, socket.MSG_WAITALL)
            if len(hdr) == 2:
                data = c.recv(struct.unpack("!H", hdr)[0], socket.MSG_WAITALL)
                r = zone.answer(data)
                if r is not None:
                    w = r.to_wire()
                    c.sendall(struct.pack("!H", len(w)) + w)
        except OSError:
            pass
        finally:
            c.close()


if __name__ == "__main__":
    main()
