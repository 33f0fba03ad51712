#!/usr/bin/env python3
"""Client-side helper for the signetd tests: key pairs and RFC 7523 client
assertions made with PyJWT + cryptography (an implementation independent
of signet).

  assertion.py keygen ALG KEY.pem PUBLIC.jwk [PRIVATE.jwk]
  assertion.py sign KEY.pem ALG CLIENT_ID AUD [exp_in=S] [jti=J] [iss=I]
                    [sub=S] [kid=K] [typ=T] [iat_in=S]

AUD is the authorization server's issuer identifier (draft-ietf-oauth-
rfc7523bis); an AUD starting with '[' is a JSON array (for attacks).
"""
import base64
import json
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def keygen(alg, key_path, pub_path, priv_path=None):
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
        to_jwk = ECAlgorithm.to_jwk
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
        to_jwk = OKPAlgorithm.to_jwk
    elif alg == "PS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        to_jwk = RSAAlgorithm.to_jwk
    else:
        raise SystemExit("unknown alg " + alg)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    open(key_path, "wb").write(pem)
    pub = json.loads(to_jwk(key.public_key()))
    if alg == "ES256":
        # RFC 7518 6.2.1.2: x and y are the full 32 bytes. Some PyJWT releases
        # drop leading zero bytes (1 key in 64 or so); signet refuses such a
        # JWK, as the RFC says, so the helper makes the encoding right.
        nums = key.public_key().public_numbers()
        pub["x"] = b64u(nums.x.to_bytes(32, "big"))
        pub["y"] = b64u(nums.y.to_bytes(32, "big"))
    pub["kid"] = "client-key-1"
    pub["use"] = "sig"
    json.dump(pub, open(pub_path, "w"))
    if priv_path:
        priv = json.loads(to_jwk(key))
        if alg == "ES256":
            priv["x"], priv["y"] = pub["x"], pub["y"]
            priv["d"] = b64u(key.private_numbers().private_value.to_bytes(32, "big"))
        json.dump(priv, open(priv_path, "w"))


def sign(key_path, alg, client_id, aud, opts):
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
    now = int(time.time())
    claims = {
        "iss": opts.get("iss", client_id),
        "sub": opts.get("sub", client_id),
        "aud": json.loads(aud) if aud.startswith("[") else aud,  # '[...]': a JSON array
        "exp": now + int(opts.get("exp_in", "60")),
        "iat": now + int(opts.get("iat_in", "0")),
        "jti": opts.get("jti", uuid.uuid4().hex),
    }
    headers = {"kid": opts.get("kid", "client-key-1")}
    if "typ" in opts:
        headers["typ"] = opts["typ"]
    print(jwt.encode(claims, key, algorithm=alg, headers=headers))


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "keygen":
        keygen(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif len(sys.argv) >= 6 and sys.argv[1] == "sign":
        opts = dict(a.split("=", 1) for a in sys.argv[6:])
        sign(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], opts)
    else:
        raise SystemExit(__doc__)


main()
