#!/usr/bin/env python3
"""DPoP proofs (RFC 9449) for the signetd tests, made with PyJWT +
cryptography (an implementation independent of signet), good or broken on
purpose, and the RFC 7638 thumbprint computed here, not by signet.

  dpop_proof.py keygen ALG KEY.pem
  dpop_proof.py proof KEY.pem ALG HTM HTU [nonce=N] [jti=J] [iat_in=S]
                [typ=T] [ath=A]
  dpop_proof.py thumbprint KEY.pem

Importable: make(key, alg, htm, htu, **opts) takes these options and the
attacks (see its docstring); thumbprint(key) and keygen(alg).
"""
import base64
import hashlib
import hmac
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


def keygen(alg):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg in ("PS256", "RS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise SystemExit("unknown alg " + alg)


def load(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


def public_jwk(key):
    """The public JWK, members of RFC 7518 with full-length EC coordinates."""
    pub = key.public_key()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        nums = pub.public_numbers()
        crv = {256: "P-256", 384: "P-384"}[key.curve.key_size]
        return {"kty": "EC", "crv": crv, "x": b64u(nums.x.to_bytes(size, "big")),
                "y": b64u(nums.y.to_bytes(size, "big"))}
    j = json.loads((OKPAlgorithm if isinstance(key, ed25519.Ed25519PrivateKey)
                    else RSAAlgorithm).to_jwk(pub))
    j.pop("key_ops", None)
    return j


def private_jwk(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        j = public_jwk(key)
        size = (key.curve.key_size + 7) // 8
        j["d"] = b64u(key.private_numbers().private_value.to_bytes(size, "big"))
        return j
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return json.loads(OKPAlgorithm.to_jwk(key))
    return json.loads(RSAAlgorithm.to_jwk(key))


def thumbprint(key):
    """RFC 7638 §3: SHA-256 over the required members, lexicographic order,
    no whitespace; base64url."""
    j = public_jwk(key)
    req = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
           "RSA": ("e", "kty", "n")}[j["kty"]]
    text = json.dumps({k: j[k] for k in req}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(text.encode()).digest())


def _sign_raw(key, alg, header_text, payload_text):
    """A compact JWS over exactly these header and payload bytes."""
    signing_input = (b64u(header_text.encode()) + "." + b64u(payload_text.encode())).encode()
    impl = jwt.get_algorithm_by_name(alg)
    return signing_input.decode() + "." + b64u(impl.sign(signing_input, key))


def make(key, alg, htm, htu, **o):
    """A proof. Options: nonce, jti, iat_in (seconds from now), typ, ath,
    and the attacks: header_alg (the alg named in the header), jwk
    ("private": with d; "symmetric": an oct key; "none": no jwk),
    no_jti, no_htm, no_htu, no_iat, bad_sig, dup_member ("header" or
    "payload": a member given twice), hs256 (signed with HMAC, the jwk
    being an oct key), alg_none (unsigned)."""
    now = int(time.time())
    claims = {"htm": htm, "htu": htu, "iat": now + int(o.get("iat_in", 0))}
    if not o.get("no_jti"):
        claims["jti"] = o.get("jti", uuid.uuid4().hex)
    for m in ("htm", "htu", "iat"):
        if o.get("no_" + m):
            del claims[m]
    if o.get("nonce") is not None:
        claims["nonce"] = o["nonce"]
    if o.get("ath") is not None:
        claims["ath"] = o["ath"]
    jwk = public_jwk(key)
    if o.get("jwk") == "private":
        jwk = private_jwk(key)
    elif o.get("jwk") == "symmetric" or o.get("hs256"):
        jwk = {"kty": "oct", "k": b64u(b"0123456789abcdef0123456789abcdef")}
    header = {"typ": o.get("typ", "dpop+jwt"), "alg": o.get("header_alg", alg)}
    if o.get("jwk") != "none":
        header["jwk"] = jwk
    htext = json.dumps(header, separators=(",", ":"))
    ptext = json.dumps(claims, separators=(",", ":"))
    if o.get("dup_member") == "header":
        htext = htext[:-1] + ',"typ":"dpop+jwt"}'
    if o.get("dup_member") == "payload":
        ptext = ptext[:-1] + ',"htm":"%s"}' % htm
    if o.get("alg_none"):
        header["alg"] = "none"
        htext = json.dumps(header, separators=(",", ":"))
        return b64u(htext.encode()) + "." + b64u(ptext.encode()) + "."
    if o.get("hs256"):
        header["alg"] = "HS256"
        htext = json.dumps(header, separators=(",", ":"))
        si = (b64u(htext.encode()) + "." + b64u(ptext.encode())).encode()
        mac = hmac.new(b"0123456789abcdef0123456789abcdef", si, hashlib.sha256).digest()
        return si.decode() + "." + b64u(mac)
    proof = _sign_raw(key, alg, htext, ptext)
    if o.get("bad_sig"):
        h, p, s = proof.split(".")
        raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        raw[len(raw) // 2] ^= 0x01
        proof = h + "." + p + "." + b64u(bytes(raw))
    return proof


def main():
    a = sys.argv
    if len(a) == 4 and a[1] == "keygen":
        key = keygen(a[2])
        open(a[3], "wb").write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    elif len(a) >= 6 and a[1] == "proof":
        opts = dict(x.split("=", 1) for x in a[6:])
        print(make(load(a[2]), a[3], a[4], a[5], **opts))
    elif len(a) == 3 and a[1] == "thumbprint":
        print(thumbprint(load(a[2])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
