#!/usr/bin/env python3
"""Token helpers for the telemetry tests.

  tokens.py forge KID ISS AUD        a token signed by a fresh P-256 key made
                                     here, outside signet, with header kid KID
  tokens.py report TOKEN...          the POST /t/<tenant>/reports body for the
                                     tokens (iss, kid, jti, SHA-256 of each)
  tokens.py report-with-token TOKEN...  the same, each report carrying the
                                     token itself (what "forged" needs)
  tokens.py leak-input KID ISS AUD   the signing input of a token signet never
                                     issued, for a key used outside signet
  tokens.py leak-finish INPUT SIG    INPUT.base64url(SIG): SIG is the raw
                                     r||s an HSM made over SHA-256(INPUT)
"""
import base64
import hashlib
import json
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec


def part(tok, i):
    p = tok.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


if sys.argv[1] == "forge":
    kid, iss, aud = sys.argv[2:5]
    key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    print(jwt.encode({"iss": iss, "sub": "mallory", "aud": aud, "iat": now, "nbf": now,
                      "exp": now + 300, "jti": uuid.uuid4().hex, "client_id": "mallory"},
                     key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"}))
elif sys.argv[1] in ("report", "report-with-token"):
    reports = []
    for tok in sys.argv[2:]:
        h, c = part(tok, 0), part(tok, 1)
        r = {"iss": c["iss"], "kid": h["kid"], "jti": c["jti"],
             "token_sha256": hashlib.sha256(tok.encode()).hexdigest()}
        if sys.argv[1] == "report-with-token":
            r["token"] = tok
        reports.append(r)
    print(json.dumps({"reports": reports}))
elif sys.argv[1] == "leak-input":
    kid, iss, aud = sys.argv[2:5]
    now = int(time.time())
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=").decode()
    sys.stdout.write(b64({"alg": "ES256", "kid": kid, "typ": "at+jwt"}) + "." +
                     b64({"iss": iss, "sub": "mallory", "aud": aud, "iat": now, "nbf": now,
                          "exp": now + 300, "jti": uuid.uuid4().hex, "client_id": "mallory"}))
elif sys.argv[1] == "leak-finish":
    inp = open(sys.argv[2]).read()
    sig = open(sys.argv[3], "rb").read()
    assert len(sig) == 64, "expected a raw P-256 r||s, got %d bytes" % len(sig)
    print(inp + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode())
else:
    sys.exit("usage: tokens.py forge KID ISS AUD | report[-with-token] TOKEN... | "
             "leak-input KID ISS AUD | leak-finish INPUT SIG")
