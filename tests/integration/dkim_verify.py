#!/usr/bin/python3
"""dkim_verify - check DKIM signatures with an independent implementation (dkimpy).

Usage: /usr/bin/python3 dkim_verify.py TXTFILE MSGFILE [MSGFILE...]

TXTFILE holds the selector's DNS TXT record text ("v=DKIM1; k=rsa; p=...").
Each MSGFILE is a complete signed message. The DNS lookup is answered from
TXTFILE, so no network is used. Prints one line per message, "PASS file" or
"FAIL file: reason", and exits 0 when every message verifies, 1 when one does
not, 2 on a usage error. Run it with Debian's /usr/bin/python3 and python3-dkim
(python3-nacl for ed25519-sha256).
"""
import logging
import sys

import dkim


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        txt = f.read().strip()
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return txt

    ok = True
    for path in argv[2:]:
        with open(path, "rb") as f:
            msg = f.read()
        asked.clear()
        log = logging.getLogger("dkim_verify")
        try:
            d = dkim.DKIM(msg, logger=log)
            good = d.verify(dnsfunc=dnsfunc)
            why = "" if good else "signature does not verify"
        except dkim.DKIMException as e:
            good, why = False, str(e)
        if good:
            print("PASS %s (key %s)" % (path, b",".join(asked).decode()))
        else:
            print("FAIL %s: %s" % (path, why))
            ok = False
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    sys.exit(main(sys.argv))
