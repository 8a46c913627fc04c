#!/usr/bin/env python3
"""segments.py - data and the reference computation for tests/integration/segments.sh.

  segments.py csv DIR N SEED      write DIR/{a,b,c}.csv: N contacts (overlapping lists) with
                                  attributes of every kind a segment condition reads
  segments.py history DB NOW SEED add tags, suppressions and the engagement history of the
                                  campaigns c1..c4 (messages and events) straight into DB
  segments.py expect DB NOW OUT   for each case of CASES, the addresses it must match, computed
                                  here from DB's tables with Python's own reading of the
                                  rules in docs/segments.md: OUT/cases.tsv (id, expression)
                                  and OUT/<id>.txt (sorted addresses)
  segments.py audience DB NOW KIND... one campaign audience's addresses (see audience())
  segments.py counts DB NOW       for each of COUNTS, a line: expression, contacts it matches,
                                  how many of them are suppressed (address or domain)

The reference never uses SQL for a condition: rows are read whole and every condition is
Python over them. Event times sit 12 hours from any whole day, so an "N days" window is
the same for kirim and for this script however many minutes lie between them.
"""
import calendar
import json
import os
import random
import re
import sqlite3
import sys

DAY = 86400

CITIES = ["Jakarta", "jakarta", "JAKARTA", "Jakarta Selatan", "Bandung", "Surabaya",
          "Bali", "", None]
PLANS = ["gold", "Gold", "platinum", "free", "silver", None]
AGES = ["18", "21", "30", "30.5", " 42 ", "61", "75", "n/a", "1e2", "-3", "0812", "", None]
SIGNUPS = ["2024-01-31", "2024-02-29", "2024-02-29T10:00:00Z", "2024-01-31 23:30",
           "2023-05-01T08:00:00+07:00", "2024-02-01T02:00:00+07:00", "31/01/2024",
           "2023-12-31T23:59:59Z", None]
NAMES = ["Ann", "Andi", "anna", "Budi", "\u00c1nh", "ANDREW", None]


def csv_cell(v):
    if v is None:
        return ""
    if any(ch in v for ch in ',"\n') or v != v.strip():
        return '"' + v.replace('"', '""') + '"'
    return v


def cmd_csv(out, n, seed):
    rnd = random.Random(seed)
    rows = {"a": [], "b": [], "c": []}
    for i in range(n):
        email = "u%d@d%d.example" % (i, i % 97)
        attrs = [rnd.choice(CITIES), rnd.choice(PLANS), rnd.choice(AGES)]
        if rnd.random() < 0.3:
            d = rnd.randrange(18900, 20200)  # days: 2021 to 2025
            attrs.append(("%04d-%02d-%02d" % tuple(__import__("time").gmtime(d * DAY)[:3])))
        else:
            attrs.append(rnd.choice(SIGNUPS))
        attrs.append(rnd.choice(NAMES))
        attrs.append(rnd.choice(["0.1", "3.14", "2", "abc", None]))
        line = ",".join([email] + [csv_cell(v) for v in attrs])
        r = rnd.random()
        # a: 60%, b: 35% (half of them in a too), c: 10%
        if r < 0.6:
            rows["a"].append(line)
        if 0.42 < r < 0.77:
            rows["b"].append(line)
        if rnd.random() < 0.1:
            rows["c"].append(line)
        if r >= 0.77 and rnd.random() < 0.5:
            rows["c"].append(line)  # some contacts are only in c
    header = "email,city,plan,age,signup,First Name,score\n"
    for name, lines in rows.items():
        with open(os.path.join(out, name + ".csv"), "w") as f:
            f.write(header + "\n".join(lines) + "\n")


def cmd_history(db, now, seed):
    rnd = random.Random(seed)
    con = sqlite3.connect(db)
    contacts = [r[0] for r in con.execute("SELECT id FROM contacts ORDER BY id")]
    camps = dict(con.execute("SELECT name, id FROM campaigns WHERE name IN "
                             "('c1', 'c2', 'c3', 'c4')"))
    tags = ["vip", "VIP-2", "churn", "b\u00fcro"]
    rows = []
    for c in contacts:
        for t in tags:
            if rnd.random() < 0.15:
                rows.append((t if rnd.random() < 0.8 else t.upper(), c, now))
    con.executemany("INSERT INTO contact_tags(tag, contact_id, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING", rows)
    emails = [r[0] for r in con.execute("SELECT email FROM contacts ORDER BY id LIMIT 300")]
    con.executemany("INSERT INTO suppressions(kind, value, reason, created_at)"
                    " VALUES ('address', lower(?), 'manual', ?) ON CONFLICT DO NOTHING",
                    [(e, now) for e in emails[::7]])
    con.execute("INSERT INTO suppressions(kind, value, reason, created_at)"
                " VALUES ('domain', 'd5.example', 'manual', ?) ON CONFLICT DO NOTHING", (now,))
    # Each campaign reached a share of the contacts; each message has a delivery attempt
    # (or a deferral then an outcome) and maybe engagement, at whole days + 12 hours ago.
    ages = {"c1": (100, 200), "c2": (20, 60), "c3": (1, 15), "c4": (0, 120)}
    for name, cid in sorted(camps.items()):
        lo, hi = ages[name]
        msgs, events = [], []
        for c in contacts:
            if rnd.random() > 0.7:
                continue
            msgs.append((cid, c))
        con.executemany("INSERT INTO messages(campaign_id, contact_id, state, queued_at)"
                        " VALUES (?, ?, 'delivered', 0)", msgs)
        ids = con.execute("SELECT id FROM messages WHERE campaign_id = ? ORDER BY id",
                          (cid,)).fetchall()
        for (mid,) in ids:
            t = now - rnd.randrange(lo, hi + 1) * DAY - DAY // 2
            r = rnd.random()
            if r < 0.05:
                events.append((mid, t - DAY, "deferred", None, None))
            if r < 0.08:
                events.append((mid, t, "bounced", rnd.choice(["hard", "soft"]), None))
                continue
            if r < 0.09:
                events.append((mid, t, "failed", None, None))
                continue
            events.append((mid, t, "delivered", None, None))
            later = t + rnd.randrange(0, 3) * DAY
            if later > now:
                later = t
            if rnd.random() < 0.02:  # a DSN later: delivered, then bounced
                events.append((mid, later, "bounced", "hard", None))
            if rnd.random() < 0.35:
                detail = rnd.choice([None, '{"machine":false}', '{"machine":true,"agent":"x"}'])
                events.append((mid, later, "open", None, detail))
            if rnd.random() < 0.1:
                events.append((mid, later, "click", None, '{"link":0}'))
            if rnd.random() < 0.01:
                events.append((mid, later, "unsubscribe", None, '{"scope":"all"}'))
            if rnd.random() < 0.005:
                events.append((mid, later, "complaint", None, None))
        con.executemany("INSERT INTO events(message_id, ts, type, class, detail)"
                        " VALUES (?, ?, ?, ?, ?)", events)
    con.commit()
    con.close()


# ---- the reference: docs/segments.md in Python ----------------------------------------

ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


def low(s):
    return s.translate(ASCII_LOWER)


NUM = re.compile(r"^[ \t]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t]*$")
DATE = re.compile(r"^[ \t]*(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                  r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?[ \t]*$")


def number(v):
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and NUM.match(v) and len(v) < 64:
        x = float(v)
        return x if x not in (float("inf"), float("-inf")) else None
    return None


def when(v):
    """a date's Unix seconds (no time: midnight UTC), or None"""
    if not isinstance(v, str):
        return None
    m = DATE.match(v)
    if not m:
        return None
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    if y < 1 or not 1 <= mo <= 12 or not 1 <= d <= calendar.monthrange(y, mo)[1]:
        return None
    h = int(m[4] or 0)
    mi = int(m[5] or 0)
    s = int(m[6] or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    off = 0
    if m[8]:
        oh, om = int(m[9]), int(m[10] or 0)
        if oh > 23 or om > 59:
            return None
        off = (1 if m[8] == "+" else -1) * (oh * 3600 + om * 60)
    days = (calendar.timegm((y, mo, d, 0, 0, 0)) // DAY)
    return days * DAY + h * 3600 + mi * 60 + s - off


def day(s):
    return calendar.timegm(tuple(int(x) for x in s.split("-")) + (0, 0, 0))


class Data:
    def __init__(self, db, now):
        con = sqlite3.connect(db)
        self.now = now
        self.contacts = {}
        for cid, email, attrs, dom in con.execute(
                "SELECT id, email, attrs, domain FROM contacts"):
            self.contacts[cid] = (email, json.loads(attrs), dom)
        self.lists = {}
        for name, cid in con.execute(
                "SELECT l.name, m.contact_id FROM list_members m JOIN lists l ON l.id = m.list_id"):
            self.lists.setdefault(name, set()).add(cid)
        self.tags = {}
        for tag, cid in con.execute("SELECT tag, contact_id FROM contact_tags"):
            self.tags.setdefault(low(tag), set()).add(cid)
        self.campaigns = dict(con.execute("SELECT name, id FROM campaigns"))
        # contact -> [(campaign id, type, ts, class, machine)]
        self.events = {}
        for cid, camp, typ, ts, klass, detail in con.execute(
                "SELECT m.contact_id, m.campaign_id, e.type, e.ts, e.class, e.detail"
                " FROM events e JOIN messages m ON m.id = e.message_id"):
            machine = bool(detail) and json.loads(detail).get("machine") is True
            self.events.setdefault(cid, []).append((camp, typ, ts, klass, machine))
        self.suppressed = set()
        sup = set(r[0] for r in con.execute("SELECT value FROM suppressions"))
        for cid, (email, _, dom) in self.contacts.items():
            if low(email) in sup or dom in sup:
                self.suppressed.add(cid)
        self.segments = dict(con.execute("SELECT name, expr FROM segments"))
        con.close()


TYPES = {"sent": {"delivered", "deferred", "bounced", "failed"}, "delivered": {"delivered"},
         "bounced": {"bounced"}, "opened": {"open"}, "clicked": {"click"},
         "unsubscribed": {"unsubscribe"}, "complained": {"complaint"}}


def event(D, kind, campaign=None, days=0, klass=None):
    camp = D.campaigns.get(campaign) if campaign else None
    since = D.now - days * DAY if days else None

    def pred(cid, attrs):
        for c, typ, ts, k, machine in D.events.get(cid, ()):
            if typ not in TYPES[kind] or (campaign and c != camp):
                continue
            if since is not None and ts < since:
                continue
            if klass and k != klass:
                continue
            if kind == "opened" and machine:
                continue
            return True
        return False
    return pred


def text(attr, f):
    def pred(cid, attrs):
        v = attrs.get(attr)
        if isinstance(v, (int, float)):
            v = str(v)
        return isinstance(v, str) and f(v)
    return pred


def num(attr, f):
    return lambda cid, attrs: (lambda x: x is not None and f(x))(number(attrs.get(attr)))


def date(attr, f):
    return lambda cid, attrs: (lambda x: x is not None and f(x))(when(attrs.get(attr)))


def empty(attr):
    return lambda cid, attrs: attrs.get(attr) in (None, "")


def AND(*ps):
    return lambda cid, a: all(p(cid, a) for p in ps)


def OR(*ps):
    return lambda cid, a: any(p(cid, a) for p in ps)


def NOT(p):
    return lambda cid, a: not p(cid, a)


def cases(D):
    L = lambda name: (lambda cid, a: cid in D.lists.get(name, ()))
    T = lambda name: (lambda cid, a: cid in D.tags.get(low(name), ()))
    jakarta = text("city", lambda v: low(v) == "jakarta")
    D31, D29 = day("2024-01-31"), day("2024-02-29")
    return [
        ('city = "Jakarta"', jakarta),
        ('city != "jakarta"', NOT(jakarta)),
        ('city contains "JAK"', text("city", lambda v: "jak" in low(v))),
        ('city starts_with "ba"', text("city", lambda v: low(v).startswith("ba"))),
        ("city is empty", empty("city")),
        ("city is not empty", NOT(empty("city"))),
        ('plan in ("gold", "platinum")', text("plan", lambda v: low(v) in ("gold", "platinum"))),
        ('plan not in ("free")', NOT(text("plan", lambda v: low(v) == "free"))),
        ("age > 30", num("age", lambda x: x > 30)),
        ("age <= 18", num("age", lambda x: x <= 18)),
        ("age = 30", num("age", lambda x: x == 30)),
        ('age >= "30.5"', num("age", lambda x: x >= 30.5)),
        ("age in (18, 21, 100)", num("age", lambda x: x in (18, 21, 100))),
        ('age = "30"', text("age", lambda v: v == "30")),
        ("age < 0", num("age", lambda x: x < 0)),
        ("score = 0.1", num("score", lambda x: x == 0.1)),
        ("signup >= 2024-01-01", date("signup", lambda t: t >= day("2024-01-01"))),
        ("signup < 2023-06-01", date("signup", lambda t: t < day("2023-06-01"))),
        ("signup = 2024-02-29", date("signup", lambda t: D29 <= t < D29 + DAY)),
        ("signup != 2024-02-29", NOT(date("signup", lambda t: D29 <= t < D29 + DAY))),
        ("signup <= 2024-01-31", date("signup", lambda t: t < D31 + DAY)),
        ("signup > 2024-01-31", date("signup", lambda t: t >= D31 + DAY)),
        ("signup > 2024-01-31T10:00:00Z", date("signup", lambda t: t > D31 + 36000)),
        ("signup is empty", empty("signup")),
        ('"First Name" starts_with "an"', text("First Name", lambda v: low(v).startswith("an"))),
        ('"First Name" = "\u00c1NH"', text("First Name", lambda v: low(v) == low("\u00c1NH"))),
        ('list("a")', L("a")),
        ('list("b") and not list("c")', AND(L("b"), NOT(L("c")))),
        ('list("a") or list("c")', OR(L("a"), L("c"))),
        ('tag("vip")', T("vip")),
        ('tag("B\u00dcRO")', T("B\u00dcRO")),
        ('not tag("vip")', NOT(T("vip"))),
        ("sent(any)", event(D, "sent")),
        ('delivered("c1")', event(D, "delivered", "c1")),
        ('delivered("c2", 30d)', event(D, "delivered", "c2", 30)),
        ("bounced(any, hard)", event(D, "bounced", klass="hard")),
        ('bounced("c2", soft, 30d)', event(D, "bounced", "c2", 30, "soft")),
        ("bounced(any, 90d)", event(D, "bounced", days=90)),
        ("opened(any, 30d)", event(D, "opened", days=30)),
        ('opened("c1")', event(D, "opened", "c1")),
        ("clicked(any, 30d)", event(D, "clicked", days=30)),
        ('clicked("c3", 7d)', event(D, "clicked", "c3", 7)),
        ("unsubscribed(any)", event(D, "unsubscribed")),
        ("complained(any, 90d)", event(D, "complained", days=90)),
        ('sent("c4", 60d)', event(D, "sent", "c4", 60)),
        ('city = "Jakarta" and plan in ("gold", "platinum") and clicked(any, 30d)',
         AND(jakarta, text("plan", lambda v: low(v) in ("gold", "platinum")),
             event(D, "clicked", days=30))),
        ('(tag("vip") or age > 60) and not bounced(any, hard)',
         AND(OR(T("vip"), num("age", lambda x: x > 60)), NOT(event(D, "bounced", klass="hard")))),
        ('not (city is empty or list("b"))', NOT(OR(empty("city"), L("b")))),
        ('delivered("c4") and not opened("c4") and list("a")',
         AND(event(D, "delivered", "c4"), NOT(event(D, "opened", "c4")), L("a"))),
        ('segment("jkt") and opened(any, 90d)',
         AND(AND(jakarta, text("plan", lambda v: low(v) in ("gold", "platinum"))),
             event(D, "opened", days=90))),
        ('segment("jkt-or-vip") and not segment("jkt")',
         AND(OR(AND(jakarta, text("plan", lambda v: low(v) in ("gold", "platinum"))), T("vip")),
             NOT(AND(jakarta, text("plan", lambda v: low(v) in ("gold", "platinum")))))),
    ]


def matching(D, pred):
    return sorted(D.contacts[c][0] for c, (e, a, d) in D.contacts.items() if pred(c, a))


def cmd_expect(db, now, out):
    D = Data(db, now)
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        for i, (expr, pred) in enumerate(cases(D)):
            f.write("%d\t%s\n" % (i, expr))
            with open(os.path.join(out, "%d.txt" % i), "w") as g:
                g.write("".join(e + "\n" for e in matching(D, pred)))


def counts(D):
    """Counts whose suppressed part kirim may count from either side: matches common or
    rare, lists of some or of every contact (docs/segments.md), tabs between fields."""
    L = lambda name: (lambda cid, a: cid in D.lists.get(name, ()))
    plan = lambda *ps: text("plan", lambda v: low(v) in ps)
    return [
        ('plan in ("gold", "platinum")', plan("gold", "platinum")),
        ('list("all") and plan = "gold"', AND(L("all"), plan("gold"))),
        ('list("a") and plan = "gold"', AND(L("a"), plan("gold"))),
        ('list("all") and list("a")', AND(L("all"), L("a"))),
        ('list("all") and list("all")', L("all")),
        ('plan = "gold" and city = "Bali" and "First Name" = "budi"',
         AND(plan("gold"), text("city", lambda v: low(v) == "bali"),
             text("First Name", lambda v: low(v) == "budi"))),
        ('not plan = "free"', NOT(plan("free"))),
        ('segment("gold-all")', AND(L("all"), plan("gold"))),
        ('segment("gold-all-too")', AND(L("all"), plan("gold"))),
    ]


def cmd_counts(db, now):
    D = Data(db, now)
    for expr, pred in counts(D):
        ids = [c for c, (e, a, d) in D.contacts.items() if pred(c, a)]
        print("%s\t%d\t%d" % (expr, len(ids), sum(c in D.suppressed for c in ids)))


def cmd_audience(db, now, spec):
    """spec: list:a list:b segment:jkt exclude-list:c ... -> the campaign's addresses, and
    'suppressed' ones marked: what the queue must hold"""
    D = Data(db, now)
    L = lambda name: (lambda cid, a: cid in D.lists.get(name, ()))
    jkt = AND(text("city", lambda v: low(v) == "jakarta"),
              text("plan", lambda v: low(v) in ("gold", "platinum")))
    seg = {"jkt": jkt, "vip": (lambda cid, a: cid in D.tags.get("vip", ()))}
    inc, rest = [], []
    for part in spec:
        kind, name = part.split(":", 1)
        if kind == "list":
            inc.append(L(name))
        elif kind == "segment":
            inc.append(seg[name])
        elif kind == "exclude-list":
            rest.append(NOT(L(name)))
        elif kind == "exclude-segment":
            rest.append(NOT(seg[name]))
        elif kind == "not-sent-by":
            rest.append(NOT(event(D, "delivered", name)))
        elif kind == "not-opened":
            rest += [event(D, "delivered", name), NOT(event(D, "opened", name))]
        elif kind == "not-clicked":
            rest += [event(D, "delivered", name), NOT(event(D, "clicked", name))]
    pred = AND(OR(*inc), *rest)
    for c, (e, a, d) in sorted(D.contacts.items(), key=lambda x: x[1][0]):
        if pred(c, a):
            print("%s %s" % (e, "suppressed" if c in D.suppressed else "queued"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "csv":
        cmd_csv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "history":
        cmd_history(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "expect":
        cmd_expect(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "audience":
        cmd_audience(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif cmd == "counts":
        cmd_counts(sys.argv[2], int(sys.argv[3]))
