#!/usr/bin/python3
"""Write the recipients CSV and the template files for tools/bench-send.

Usage:
  gen-list.py list --rows N OUT.csv
  gen-list.py template --body-bytes B OUT.tpl

list: columns email,first_name,last_name,city,plan; every field plain ASCII and of
nearly constant length, so every rendered message has (nearly) the same size.
Addresses are unique: user<i>@d<i % 1000>.bench.example. Deterministic; written
to OUT.tmp and renamed, so a cached file is never half-written.

template: a kirim template file (Subject + text part) whose text part is about B
bytes of plain ASCII lines shorter than 72 characters, with {{first_name}},
{{last_name}}, {{city}}, {{plan}} and {{unsubscribe_url}} in it. Also used by
nodemailer-send.js, which renders the same fields itself.
"""
import argparse
import os
import sys

FIRST = ["James", "Mary", "John", "Linda", "David", "Sarah", "Budi", "Siti", "Dewi",
         "Agus", "Putri", "Olivia", "Noah", "Liam", "Emma", "Lucas"]
LAST = ["Smith", "Brown", "Jones", "Garcia", "Miller", "Santoso", "Wijaya", "Tanaka",
        "Nguyen", "Kusuma", "Rossi", "Hansen"]
CITY = ["Jakarta", "Surabaya", "Bandung", "Medan", "Berlin", "Paris", "Osaka", "Lima"]
PLAN = ["free", "silver", "gold"]

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis "
         "nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat").split()


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def gen_list(rows, out):
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write("email,first_name,last_name,city,plan\n")
        buf = []
        for i in range(rows):
            buf.append("user%07d@d%03d.bench.example,%s,%s,%s,%s\n" % (
                i, i % 1000, FIRST[i % len(FIRST)], LAST[(i // 7) % len(LAST)],
                CITY[(i // 3) % len(CITY)], PLAN[i % len(PLAN)]))
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
    os.replace(tmp, out)


def gen_template(body_bytes, out):
    head = ("Hi {{first_name}} {{last_name}},\n\n"
            "Your {{plan}} plan in {{city}} is ready. Here is this week's letter.\n\n")
    tail = ("\nYou get this email because you signed up at shop.example.com.\n"
            "Unsubscribe with one click: {{unsubscribe_url}}\n")
    lines = []
    size = len(head) + len(tail)
    w = 0
    n = 0
    while size < body_bytes:
        line = []
        while len(" ".join(line)) < 60:
            line.append(WORDS[w % len(WORDS)])
            w += 1
        n += 1
        text = " ".join(line)
        if n % 8 == 0:
            text += "\n"  # a paragraph break now and then
        lines.append(text + "\n")
        size += len(lines[-1])
    body = head + "".join(lines) + tail
    write_atomic(out, "Subject: {{first_name}}, your weekly letter from Shop\n\n--- text\n" + body)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("list")
    a.add_argument("--rows", type=int, required=True)
    a.add_argument("out")
    b = sub.add_parser("template")
    b.add_argument("--body-bytes", type=int, required=True)
    b.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "list":
        if args.rows < 1:
            sys.exit("gen-list.py: --rows must be at least 1")
        gen_list(args.rows, args.out)
    else:
        gen_template(max(args.body_bytes, 0), args.out)


if __name__ == "__main__":
    main()
