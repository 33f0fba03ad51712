#!/usr/bin/env python3
"""Token helpers for the telemetry tests.

  tokens.py forge KID ISS AUD        a token signed by a fresh P-256 key made
                                     here, outside signet, with header kid KID
  tokens.py report TOKEN...          the POST /t/<tenant>/reports body for the
                                     tokens (iss, kid, jti, SHA-256 of each)
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
elif sys.argv[1] == "report":
    reports = []
    for tok in sys.argv[2:]:
        h, c = part(tok, 0), part(tok, 1)
        reports.append({"iss": c["iss"], "kid": h["kid"], "jti": c["jti"],
                        "token_sha256": hashlib.sha256(tok.encode()).hexdigest()})
    print(json.dumps({"reports": reports}))
else:
    sys.exit("usage: tokens.py forge KID ISS AUD | report TOKEN...")
