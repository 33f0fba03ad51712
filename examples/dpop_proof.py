#!/usr/bin/env python3
"""dpop_proof.py: a DPoP proof (RFC 9449) for one HTTP request, with PyJWT.

    dpop_proof.py KEY.pem METHOD URL [NONCE] [ACCESS_TOKEN]
    dpop_proof.py KEY.pem --jkt

KEY.pem is the client's P-256 private key; it is created (mode 0600) when
missing. Keep it: a DPoP-bound token is only usable with proofs signed by the
key it was issued to. Prints the proof for the request's DPoP header: a
compact JWS with typ dpop+jwt, alg ES256, the public key as jwk, and the
claims jti (random), htm, htu, iat, plus nonce when given (not empty) and ath
(the SHA-256 of the access token) when calling a resource server.
--jkt prints the key's RFC 7638 thumbprint, the token's cnf.jkt.

Needs PyJWT and cryptography (Debian: python3-jwt python3-cryptography).
For the walk-through in docs/dpop.md; real clients use a DPoP library.
"""
import base64
import hashlib
import json
import os
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_or_create(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def public_jwk(key):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")),
            "y": b64url(n.y.to_bytes(32, "big"))}


def main(argv):
    if len(argv) == 3 and argv[2] == "--jkt":
        jwk = public_jwk(load_or_create(argv[1]))
        # RFC 7638: the required members, in lexicographic order, no whitespace.
        canon = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
        print(b64url(hashlib.sha256(canon).digest()))
        return 0
    if not 4 <= len(argv) <= 6:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    key = load_or_create(argv[1])
    claims = {"jti": str(uuid.uuid4()), "htm": argv[2], "htu": argv[3], "iat": int(time.time())}
    if len(argv) > 4 and argv[4]:
        claims["nonce"] = argv[4]
    if len(argv) > 5:
        claims["ath"] = b64url(hashlib.sha256(argv[5].encode("ascii")).digest())
    print(jwt.encode(claims, key, algorithm="ES256",
                     headers={"typ": "dpop+jwt", "jwk": public_jwk(key)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
