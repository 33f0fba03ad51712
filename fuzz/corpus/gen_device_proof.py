#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_device_proof.c, made with PyJWT + cryptography:
  python3 fuzz/corpus/gen_device_proof.py fuzz/corpus/fuzz_device_proof
Each seed is the mode byte (0, 1, 2: see the target) and its input, for
the target's fixed key, issuer https://id.example/t/default, iat 1700000000."""
import base64
import hashlib
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PEM = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7dQIaK8wlV8H4CBU
CDxf0Bc/ZbuJOi+uBU2XqtiloUOhRANCAARwFtIBtKMBnZu2FIDaxC5Csshx1Wvt
Iftyzq0HzXIJMp4L9ch8tXfpKwLjPD7qs3eBPSJjNJryFOaW2UMAgO7X
-----END PRIVATE KEY-----
"""
ISSUER = "https://id.example/t/default"
BODY = b'{"id":"a1","number":"42","decision":"approve"}'
NOW = 1700000000
TYP = "signet-device+jwt"


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    key = serialization.load_pem_private_key(PEM, None)
    other = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")),
           "y": b64u(nums.y.to_bytes(32, "big"))}
    text = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    kid = b64u(hashlib.sha256(text.encode()).digest())
    bh = b64u(hashlib.sha256(BODY).digest())

    def claims(path, **o):
        c = {"htm": "POST", "htu": ISSUER + path, "iat": NOW + o.get("dt", 0),
             "jti": "AAECAwQFBgcICQoLDA0ODw", "bh": bh}
        c.update(o.get("extra", {}))
        return c

    seeds = {
        "kid_good": b"\x01" + jwt.encode(claims("/approver/answer"), key, algorithm="ES256",
                                         headers={"typ": TYP, "kid": kid}).encode(),
        "register_good": b"\x01" + jwt.encode(claims("/approver/register"), key,
                                              algorithm="ES256",
                                              headers={"typ": TYP, "jwk": jwk}).encode(),
        "register_with_d": b"\x01" + jwt.encode(
            claims("/approver/register"), key, algorithm="ES256",
            headers={"typ": TYP, "jwk": dict(jwk, d=b64u(
                key.private_numbers().private_value.to_bytes(32, "big")))}).encode(),
        "other_key": b"\x01" + jwt.encode(claims("/approver/answer"), other, algorithm="ES256",
                                          headers={"typ": TYP, "kid": kid}).encode(),
        "none": b"\x01" + jwt.encode(claims("/approver/answer"), None, algorithm="none",
                                     headers={"typ": TYP, "kid": kid}).encode(),
        "proof_and_jwk": b"\x00" + jwt.encode(claims("/approver/answer"), key, algorithm="ES256",
                                              headers={"typ": TYP, "kid": kid}).encode()
                         + b"\n" + text.encode(),
        "signed_texts": b"\x02" + json.dumps({"typ": TYP, "alg": "ES256", "kid": kid},
                                             separators=(",", ":")).encode()
                        + b"\n" + json.dumps(claims("/approver/answer"),
                                             separators=(",", ":")).encode(),
        "signed_texts_register": b"\x02" + json.dumps(
            {"typ": TYP, "alg": "ES256", "jwk": jwk}, separators=(",", ":")).encode()
            + b"\n" + json.dumps(claims("/approver/register"), separators=(",", ":")).encode(),
        "signed_texts_old": b"\x02" + json.dumps({"typ": TYP, "alg": "ES256", "kid": kid},
                                                 separators=(",", ":")).encode()
                            + b"\n" + json.dumps(claims("/approver/answer", dt=-61),
                                                 separators=(",", ":")).encode(),
        "signed_texts_extra": b"\x02" + json.dumps({"typ": TYP, "alg": "ES256", "kid": kid},
                                                   separators=(",", ":")).encode()
                              + b"\n" + json.dumps(claims("/approver/answer",
                                                          extra={"nonce": "x"}),
                                                   separators=(",", ":")).encode(),
        "number": b"42",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
