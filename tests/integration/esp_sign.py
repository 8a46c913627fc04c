#!/usr/bin/python3
"""esp_sign - providers' webhook payloads signed as the providers sign them, for esp_hooks.sh.

  esp_sign.py sns KEY VERSION CERT_URL TYPE TOPIC MESSAGE_ID MESSAGE_FILE [SUBSCRIBE_URL TOKEN]
      an Amazon SNS message (JSON) whose Signature is KEY's (PEM RSA) over the string SNS
      documents for TYPE, SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA)
  esp_sign.py sendgrid KEY TIMESTAMP BODY_FILE
      base64 of KEY's (PEM EC P-256) ECDSA SHA-256 signature over TIMESTAMP + the body
  esp_sign.py sendgrid-pub KEY
      the public key as SendGrid shows it: base64 of its DER SubjectPublicKeyInfo

Written from the providers' documentation, not from kirim's code: the canonical string is
built here on its own.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding


def key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def sns(args):
    kfile, version, cert_url, typ, topic, mid, mfile = args[:7]
    with open(mfile) as f:
        message = f.read()
    m = {"Type": typ, "MessageId": mid, "TopicArn": topic, "Message": message,
         "Timestamp": "2026-12-07T10:00:00.000Z", "SignatureVersion": version,
         "SigningCertURL": cert_url}
    if typ == "Notification":
        m["Subject"] = "Amazon SES Email Event Notification"
        m["UnsubscribeURL"] = "https://sns.example/unsubscribe"
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        m["SubscribeURL"], m["Token"] = args[7], args[8]
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join("%s\n%s\n" % (n, m[n]) for n in names).encode()
    h = hashes.SHA1() if version == "1" else hashes.SHA256()
    sig = key(kfile).sign(text, padding.PKCS1v15(), h)
    m["Signature"] = base64.b64encode(sig).decode()
    print(json.dumps(m))


def sendgrid(args):
    kfile, ts, bfile = args
    with open(bfile, "rb") as f:
        body = f.read()
    sig = key(kfile).sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    print(base64.b64encode(sig).decode())


def sendgrid_pub(args):
    der = key(args[0]).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(base64.b64encode(der).decode())


if __name__ == "__main__":
    {"sns": sns, "sendgrid": sendgrid, "sendgrid-pub": sendgrid_pub}[sys.argv[1]](sys.argv[2:])
