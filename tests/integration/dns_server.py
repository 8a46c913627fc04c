#!/usr/bin/python3
"""Tiny DNS peer for resolver tests: answers every UDP query with one rcode.

Usage: dns_server.py PORT servfail|refused
dnsmasq cannot be made to answer SERVFAIL or REFUSED; this can. Runs until killed.
"""
import socket
import sys

import dns.message
import dns.rcode


def main():
    port = int(sys.argv[1])
    rcode = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}[sys.argv[2]]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    while True:
        data, peer = s.recvfrom(4096)
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        r = dns.message.make_response(q)
        r.set_rcode(rcode)
        s.sendto(r.to_wire(), peer)


if __name__ == "__main__":
    main()
