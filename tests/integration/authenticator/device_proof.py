#!/usr/bin/env python3
"""Signet-Device proofs (docs/authenticator.md) made with PyJWT +
cryptography, independently of signet, for tests/unit/test_device.c.

  device_proof.py ISSUER BODY NOW

Prints one JSON object: the device key's canonical public JWK text and its
RFC 7638 thumbprint (computed here), a good registration proof (POST
ISSUER/approver/register) and a good answer proof (POST
ISSUER/approver/answer), both over BODY at iat NOW, and broken ones, one
rule each: register_with_d, hs256, none, old (NOW-61), future (NOW+61),
no_jti, wrong_htu, wrong_htm, wrong_bh, typ_jwt, bit_flip, other_key.
"""
import base64
import hashlib
import json
import secrets
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

TYP = "signet-device+jwt"


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(key):
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
            "y": b64u(nums.y.to_bytes(32, "big"))}


def canonical(jwk):
    return json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                      sort_keys=True)


def main():
    issuer, body, now = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(key)
    text = canonical(jwk)
    kid = b64u(hashlib.sha256(text.encode()).digest())
    bh = b64u(hashlib.sha256(body).digest())

    def claims(url, **o):
        c = {"htm": o.get("htm", "POST"), "htu": url, "iat": now + o.get("dt", 0),
             "jti": b64u(secrets.token_bytes(16)), "bh": o.get("bh", bh)}
        if o.get("no_jti"):
            del c["jti"]
        return c

    answer = issuer + "/approver/answer"
    register = issuer + "/approver/register"

    def by_kid(c, k=key, typ=TYP, alg="ES256"):
        return jwt.encode(c, k, algorithm=alg, headers={"typ": typ, "kid": kid})

    priv = dict(jwk, d=b64u(key.private_numbers().private_value.to_bytes(32, "big")))
    good = by_kid(claims(answer))
    h, p, s = good.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[10] ^= 0x01
    out = {
        "jwk": text,
        "thumbprint": kid,
        "register": jwt.encode(claims(register), key, algorithm="ES256",
                               headers={"typ": TYP, "jwk": jwk}),
        "answer": good,
        "register_with_d": jwt.encode(claims(register), key, algorithm="ES256",
                                      headers={"typ": TYP, "jwk": priv}),
        "hs256": jwt.encode(claims(answer), text, algorithm="HS256",
                            headers={"typ": TYP, "kid": kid}),
        "none": jwt.encode(claims(answer), None, algorithm="none",
                           headers={"typ": TYP, "kid": kid}),
        "old": by_kid(claims(answer, dt=-61)),
        "future": by_kid(claims(answer, dt=61)),
        "no_jti": by_kid(claims(answer, no_jti=True)),
        "wrong_htu": by_kid(claims(issuer + "/approver/pending")),
        "wrong_htm": by_kid(claims(answer, htm="GET")),
        "wrong_bh": by_kid(claims(answer, bh=b64u(hashlib.sha256(body + b" ").digest()))),
        "typ_jwt": by_kid(claims(answer), typ="JWT"),
        "bit_flip": h + "." + p + "." + b64u(bytes(sig)),
        "other_key": by_kid(claims(answer), k=other),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
