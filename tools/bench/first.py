#!/usr/bin/python3
"""One measurement of tools/bench-first: how long after `kirim send` starts the first
message reaches a fresh smtp-sink, and how long the whole campaign takes.

Usage: first.py SINK KIRIM DB CONCURRENCY OUT.json

Starts `SINK -u nobody -c 127.0.0.1:PORT 1024` (its counters go to a pipe: the first
"mesg=" above 0 is the first message the sink accepted, at the end of its DATA), then
`KIRIM --db DB -q send C -c CONCURRENCY --relay smtp://127.0.0.1:PORT --tls none --json`,
timed from just before kirim starts. Prints one line: "first_s total_s delivered
sink_count"; kirim's JSON goes to OUT.json.
"""
import os
import re
import selectors
import socket
import subprocess
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    sink, kirim, db, conc, out = sys.argv[1:6]
    port = free_port()
    sp = subprocess.Popen([sink, "-u", "nobody", "-c", "127.0.0.1:%d" % port, "1024"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit("first.py: smtp-sink did not listen")
    outf = open(out, "wb")
    t0 = time.monotonic()
    kp = subprocess.Popen([kirim, "--db", db, "-q", "send", "C", "-c", conc, "--relay",
                           "smtp://127.0.0.1:%d" % port, "--tls", "none", "--json"],
                          stdout=outf, stderr=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    sel.register(sp.stdout, selectors.EVENT_READ)
    # The counter is a line "sess=S quit=Q mesg=M" rewritten (\r) at each session and
    # message: the first message is the first mesg= above 0.
    first = None
    tail = b""
    while kp.poll() is None:
        for _key, _ in sel.select(timeout=0.02):
            data = os.read(sp.stdout.fileno(), 65536)
            if data:
                tail = (tail + data)[-256:]
                if first is None and any(int(m) > 0 for m in re.findall(rb"mesg=(\d+)", tail)):
                    first = time.monotonic() - t0
    total = time.monotonic() - t0
    time.sleep(0.3)
    while sel.select(timeout=0.1):
        data = os.read(sp.stdout.fileno(), 65536)
        if not data:
            break
        tail = (tail + data)[-256:]
    sp.terminate()
    sp.wait()
    outf.close()
    counts = re.findall(rb"mesg=(\d+)", tail)
    import json
    try:
        delivered = json.load(open(out))["delivered"]
    except (ValueError, KeyError):
        delivered = -1
    print("%.3f %.2f %d %s" % (first if first is not None else -1, total, delivered,
                               counts[-1].decode() if counts else "0"))


main()
