#!/usr/bin/python3
"""Write a deterministic recipients CSV for the import benchmark.

Usage: gen-recipients.py --rows N [--seed S] OUT.csv

Columns: email,first_name,last_name,city,plan. 1,000 domains; about 30% of the
rows sit on five big ones (gmail.com, yahoo.com, outlook.com, hotmail.com,
icloud.com), the rest on a long tail. Every row is valid and every address is
unique (case-insensitively): the local part ends in a number that is a
bijection of the row index. Names and cities carry some UTF-8 (José, Müller).
The same rows and seed always give the same bytes. The file is written to
OUT.csv.tmp and renamed, so a cached OUT.csv is never half-written.
"""
import argparse
import math
import os
import random
import sys
import unicodedata

# (display name, ASCII form for the address); None means fold the display name.
FIRST = [
    ("James", None), ("Mary", None), ("John", None), ("Patricia", None), ("Robert", None),
    ("Jennifer", None), ("Michael", None), ("Linda", None), ("David", None), ("Sarah", None),
    ("William", None), ("Emma", None), ("Olivia", None), ("Noah", None), ("Liam", None),
    ("Sophia", None), ("Lucas", None), ("Mia", None), ("Ethan", None), ("Ava", None),
    ("José", None), ("María", None), ("François", None), ("Zoë", None), ("Søren", None),
    ("Łukasz", None), ("Ömer", None), ("João", None), ("Renée", None), ("Björn", None),
    ("Chloé", None), ("Jürgen", None), ("Ágnes", None), ("Dóra", None), ("Nuño", None),
    ("Siobhán", None), ("Māui", None), ("Çağla", None), ("İsmail", None), ("Anaïs", None),
    ("Budi", None), ("Siti", None), ("Dewi", None), ("Agus", None), ("Putri", None),
    ("Wei", None), ("Hiroshi", None), ("Yuki", None), ("Min-jun", None), ("Priya", None),
    ("Arjun", None), ("Fatima", None), ("Omar", None), ("Aisha", None), ("Ivan", None),
    ("Olga", None), ("Дмитрий", "dmitry"), ("Анна", "anna"), ("太郎", "taro"),
    ("花子", "hanako"), ("Νίκος", "nikos"), ("Σοφία", "sofia"), ("Kofi", None),
    ("Ama", None), ("Thabo", None), ("Lerato", None), ("Mateo", None), ("Valentina", None),
]
LAST = [
    ("Smith", None), ("Johnson", None), ("Williams", None), ("Brown", None), ("Jones", None),
    ("Garcia", None), ("Miller", None), ("Davis", None), ("Wilson", None), ("Taylor", None),
    ("Anderson", None), ("Thomas", None), ("Moore", None), ("Martin", None), ("Lee", None),
    ("Müller", None), ("Schröder", None), ("Weiß", None), ("Gómez", None), ("Pérez", None),
    ("Núñez", None), ("Dubois", None), ("Lefèvre", None), ("Ødegaard", None), ("Kowalczyk", None),
    ("Wójcik", None), ("Nowak", None), ("Yılmaz", None), ("Öztürk", None), ("Nguyễn", None),
    ("Trần", None), ("Santoso", None), ("Wijaya", None), ("Hidayat", None), ("Kusuma", None),
    ("Tanaka", None), ("Sato", None), ("Kim", None), ("Park", None), ("Chen", None),
    ("Wang", None), ("Singh", None), ("Patel", None), ("Kumar", None), ("O'Neill", "oneill"),
    ("Fernández", None), ("Rossi", None), ("Bianchi", None), ("Ferrari", None), ("Jensen", None),
    ("Hansen", None), ("Lindqvist", None), ("Åberg", None), ("Novák", None), ("Dvořák", None),
    ("Horváth", None), ("Popescu", None), ("Ivanov", None), ("Иванова", "ivanova"),
    ("Петров", "petrov"), ("山田", "yamada"), ("鈴木", "suzuki"), ("Παπαδόπουλος", "papadopoulos"),
    ("Mensah", None), ("Okafor", None), ("Dlamini", None), ("Silva", None), ("Costa", None),
]
CITIES = [
    "New York", "London", "Paris", "Berlin", "München", "Zürich", "Genève", "Wien", "Kraków",
    "Łódź", "Praha", "Brno", "Budapest", "København", "Malmö", "Göteborg", "Reykjavík", "Oslo",
    "Tromsø", "Madrid", "A Coruña", "Sevilla", "Lisboa", "São Paulo", "Bogotá", "Ciudad de México",
    "Montréal", "Québec", "Toronto", "Chicago", "San Francisco", "Austin", "Jakarta", "Bandung",
    "Surabaya", "Yogyakarta", "Denpasar", "Singapore", "Kuala Lumpur", "Hà Nội", "Tokyo", "東京",
    "Ōsaka", "Seoul", "서울", "Beijing", "Mumbai", "Bengaluru", "İstanbul", "Athína", "Москва",
    "Kyiv", "Cairo", "Lagos", "Nairobi", "Cape Town", "Sydney", "Auckland", "Dublin", "Rome",
]
PLANS = ["free", "basic", "pro", "business", "enterprise"]
PLAN_WEIGHTS = [50, 25, 15, 7, 3]

# About 30% of the rows in total.
BIG = [("gmail.com", 12.0), ("yahoo.com", 6.0), ("outlook.com", 5.0), ("hotmail.com", 4.0),
       ("icloud.com", 3.0)]
# Real-looking mid-size providers at the head of the long tail.
MID = [
    "aol.com", "protonmail.com", "gmx.de", "web.de", "t-online.de", "mail.ru", "yandex.ru",
    "orange.fr", "free.fr", "laposte.net", "libero.it", "virgilio.it", "qq.com", "163.com",
    "naver.com", "daum.net", "comcast.net", "att.net", "verizon.net", "btinternet.com",
    "sky.com", "zoho.com", "fastmail.com", "seznam.cz", "wp.pl", "o2.pl", "telenet.be",
    "bigpond.com", "shaw.ca", "rogers.com", "uol.com.br", "terra.com.br", "rediffmail.com",
    "yahoo.co.id", "yahoo.co.jp", "ymail.com", "live.com", "msn.com", "me.com", "mac.com",
]
NDOMAINS = 1000
SYL = ["ka", "li", "mo", "ra", "tu", "ne", "so", "vi", "da", "ge", "lo", "mi", "pa", "ri",
       "sa", "te", "no", "be", "cu", "zo", "an", "el", "or", "ix", "um", "en"]
TLDS = ["com", "com", "com", "net", "org", "io", "co.id", "de", "fr", "co.uk", "nl", "es", "it"]
WORDS = ["mail", "group", "labs", "corp", "tech", "media", "net", "works", "studio", "shop"]

FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "ı": "i", "đ": "d",
                      "æ": "ae", "œ": "oe", "'": "", "-": ""})


def ascii_fold(s):
    s = unicodedata.normalize("NFKD", s.translate(FOLD))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.encode("ascii", "ignore").decode().lower()
    if not s:
        raise ValueError("no ASCII form for %r" % s)
    return s


def names(table):
    return [(disp, asc if asc else ascii_fold(disp)) for disp, asc in table]


def make_domains(rng):
    doms = [d for d, _ in BIG] + list(MID)
    seen = set(doms)
    while len(doms) < NDOMAINS:
        base = "".join(rng.choice(SYL) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.35:
            base += ("-" if rng.random() < 0.5 else "") + rng.choice(WORDS)
        d = base + "." + rng.choice(TLDS)
        if d not in seen:
            seen.add(d)
            doms.append(d)
    # Big five: fixed shares. The other 995: Zipf-like tail (s = 0.6) sharing the rest.
    tail = [1.0 / (k ** 0.6) for k in range(1, NDOMAINS - len(BIG) + 1)]
    rest = 100.0 - sum(w for _, w in BIG)
    scale = rest / sum(tail)
    weights = [w for _, w in BIG] + [t * scale for t in tail]
    return doms, weights


def cumulative(weights):
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def bijection(n):
    """Multiplier p and offset q with i -> (i*p + q) % n a permutation of range(n)."""
    p = 2654435761 % n if n > 1 else 1
    while math.gcd(p, n) != 1:
        p += 1
    return p, (n // 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("out")
    a = ap.parse_args()
    if a.rows < 1:
        sys.exit("gen-recipients: --rows must be >= 1")

    rng = random.Random(a.seed)
    doms, dweights = make_domains(rng)
    first, last = names(FIRST), names(LAST)
    n = a.rows
    p, q = bijection(n)
    dcum = cumulative(dweights)
    pcum = cumulative(PLAN_WEIGHTS)
    # Local-part shapes: first.last, first_last, flast, firstl, first.
    shapes = range(5)
    fcum = cumulative([40, 10, 25, 15, 10])

    tmp = a.out + ".tmp"
    chunk = 200000
    with open(tmp, "w", encoding="utf-8", newline="") as fp:
        fp.write("email,first_name,last_name,city,plan\n")
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            ds = rng.choices(doms, cum_weights=dcum, k=k)
            fs = rng.choices(first, k=k)
            ls = rng.choices(last, k=k)
            cs = rng.choices(CITIES, k=k)
            ps = rng.choices(PLANS, cum_weights=pcum, k=k)
            ms = rng.choices(shapes, cum_weights=fcum, k=k)
            lines = []
            add = lines.append
            for j in range(k):
                num = ((start + j) * p + q) % n
                fd, fa = fs[j]
                ld, la = ls[j]
                m = ms[j]
                if m == 0:
                    local = "%s.%s%d" % (fa, la, num)
                elif m == 1:
                    local = "%s_%s%d" % (fa, la, num)
                elif m == 2:
                    local = "%s%s%d" % (fa[0], la, num)
                elif m == 3:
                    local = "%s%s%d" % (fa, la[0], num)
                else:
                    local = "%s%d" % (fa, num)
                add("%s@%s,%s,%s,%s,%s\n" % (local, ds[j], fd, ld, cs[j], ps[j]))
            fp.write("".join(lines))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
