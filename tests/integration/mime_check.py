#!/usr/bin/python3
"""mime_check - check messages built by kirim's MIME module with Python's email package.

Usage: mime_check.py [--expect EXPECT.json] MESSAGE...

For each message file (exact bytes as kirim would send them) this checks, independently of
kirim's own code:
  - every line ends in CRLF (no bare CR or LF anywhere) and is at most 998 octets;
  - every header-section line is "Name: ..." (a valid field name) or a folded continuation;
  - email.message_from_bytes(b, policy=email.policy.default) reports no defect on any part
    or on any header field of any part;
  - every Content-Transfer-Encoding is 7bit, quoted-printable or base64, and a 7bit part
    holds ASCII only.
EXPECT.json maps a message file's base name to what it must decode to; every key is optional:
  {"subject": str, "from_name": str, "from_addr": str, "to_name": str, "to_addr": str,
   "reply_to": str, "text": str, "html": str, "headers": {name: decoded value},
   "absent": [header names]}
Display names compare with blank runs as single spaces: Python's address parser reads a phrase
that way, and also puts a space between adjacent encoded-words in a phrase (RFC 2047 6.2 says
drop it), so kirim breaks long names' encoded-words after a blank. Bodies compare after line breaks are normalised (CRLF, CR, LF all count as one break) and a
missing final line break is added to a non-empty expected body. Exits 0 when every check
passes, 1 otherwise, printing one line per failure.
"""
import email
import email.policy
import json
import os
import re
import sys

FIELD_NAME = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
BLANKS = re.compile(r"[ \t]+")


def norm_body(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if s and not s.endswith("\n"):
        s += "\n"
    return s


def check_raw(name, raw, fail):
    if not raw.endswith(b"\r\n"):
        fail(name, "message does not end in CRLF")
    lines = raw.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    in_header = True
    for i, line in enumerate(lines, 1):
        if b"\r" in line or b"\n" in line:
            fail(name, "line %d holds a bare CR or LF: %r" % (i, line[:80]))
        if len(line) > 998:
            fail(name, "line %d is %d octets long" % (i, len(line)))
        if in_header:
            if line == b"":
                in_header = False
            elif line[:1] in (b" ", b"\t"):
                if i == 1:
                    fail(name, "message starts with a continuation line")
                if not line.strip(b" \t"):
                    fail(name, "header line %d is blank but for whitespace" % i)
            elif not FIELD_NAME.match(line):
                fail(name, "header line %d is not a field: %r" % (i, line[:80]))
    if in_header:
        fail(name, "no blank line ends the header section")


def check_parsed(name, msg, fail):
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.defects:
            fail(name, "%s part defects: %r" % (ctype, part.defects))
        for key, value in part.items():
            defects = getattr(value, "defects", ())
            if defects:
                fail(name, "%s header %s defects: %r" % (ctype, key, defects))
        if part.is_multipart():
            continue
        cte = part.get("Content-Transfer-Encoding", "7bit").lower()
        if cte not in ("7bit", "quoted-printable", "base64"):
            fail(name, "%s: unexpected transfer encoding %s" % (ctype, cte))
        if cte == "7bit":
            payload = part.get_payload(decode=False)
            if any(ord(c) > 127 for c in payload):
                fail(name, "%s: 7bit part holds non-ASCII" % ctype)


def find_part(msg, ctype):
    for part in msg.walk():
        if part.get_content_type() == ctype and not part.is_multipart():
            return part
    return None


def check_expect(name, msg, want, fail):
    def same(label, got, exp):
        if got != exp:
            fail(name, "%s: got %r want %r" % (label, got, exp))

    if "subject" in want:
        same("Subject", str(msg["subject"]), want["subject"])
    for field, key in (("from", "from"), ("to", "to")):
        if key + "_addr" not in want and key + "_name" not in want:
            continue
        hdr = msg[field]
        if hdr is None or len(hdr.addresses) != 1:
            fail(name, "%s: want exactly one address, got %r" % (field, hdr))
            continue
        addr = hdr.addresses[0]
        if key + "_addr" in want:
            same(field + " address", addr.addr_spec, want[key + "_addr"])
        if key + "_name" in want:
            same(field + " display name", BLANKS.sub(" ", addr.display_name),
                 BLANKS.sub(" ", want[key + "_name"]))
    if "reply_to" in want:
        hdr = msg["reply-to"]
        same("Reply-To", hdr.addresses[0].addr_spec if hdr else None, want["reply_to"])
    for hname, hval in want.get("headers", {}).items():
        got = msg[hname]
        same(hname, None if got is None else str(got), hval)
    for hname in want.get("absent", []):
        if msg[hname] is not None:
            fail(name, "%s: should be absent, got %r" % (hname, str(msg[hname])))
    types = []
    for ctype, key in (("text/plain", "text"), ("text/html", "html")):
        if key not in want:
            continue
        types.append(ctype)
        part = find_part(msg, ctype)
        if part is None:
            fail(name, "no %s part" % ctype)
            continue
        same(ctype + " charset", part.get_content_charset(), "utf-8")
        same(ctype + " body", norm_body(part.get_content()), norm_body(want[key]))
    if len(types) == 2:
        same("Content-Type", msg.get_content_type(), "multipart/alternative")
        order = [p.get_content_type() for p in msg.iter_parts()]
        same("part order", order, types)
    elif len(types) == 1:
        same("Content-Type", msg.get_content_type(), types[0])


def main(argv):
    expect = {}
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--expect":
        with open(args[1], encoding="utf-8") as f:
            expect = json.load(f)
        args = args[2:]
    if not args:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    failures = []

    def fail(name, what):
        failures.append("%s: %s" % (name, what))

    for path in args:
        name = os.path.basename(path)
        with open(path, "rb") as f:
            raw = f.read()
        check_raw(name, raw, fail)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        check_parsed(name, msg, fail)
        if name in expect:
            check_expect(name, msg, expect[name], fail)
    for line in failures:
        print("mime_check: " + line)
    print("mime_check: %d message(s), %d failure(s)" % (len(args), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
