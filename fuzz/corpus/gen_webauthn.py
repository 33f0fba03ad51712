#!/usr/bin/env python3
"""Writes the seed corpora of the three WebAuthn fuzz targets:

  fuzz_webauthn_client_data/   clientDataJSON
  fuzz_webauthn_auth_data/     authenticator data (and bare COSE keys)
  fuzz_webauthn_attestation/   u16 length || clientDataJSON || attestationObject

Valid seeds verify under the expectations fixed in
fuzz/fuzz_webauthn_attestation.c (RP ID "localhost", origin
"http://localhost:8080", challenge 00 01 .. 1f). Python 3 and the
`cryptography` package only, with a tiny CBOR encoder. The P-256 and
Ed25519 keys are fixed, so those seeds are the same on every run; the RSA
key is generated, so RSA seeds change.

    python3 fuzz/corpus/gen_webauthn.py [CORPUS_DIR]
"""

import base64
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

RP_ID = "localhost"
ORIGIN = "http://localhost:8080"
CHALLENGE = bytes(range(32))
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v) -> bytes:
    """ints, bytes, str, bool, list, dict (or a list of pairs, to write
    duplicate keys), in the order given."""
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        return head(3, len(v.encode())) + v.encode()
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        v = list(v.items())
    if isinstance(v, tuple):  # ("pairs", [(k, v), ...])
        v = v[1]
    return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v)


def pairs(*kv):
    return ("pairs", list(kv))


EC_KEY = ec.derive_private_key(0x5EED, ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cose(key, **mods):
    pub = key.public_key()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        n = pub.public_numbers()
        kv = [(1, 2), (3, -7), (-1, mods.get("crv", 1)), (-2, n.x.to_bytes(32, "big"))]
        if not mods.get("omit_y"):
            kv.append((-3, n.y.to_bytes(32, "big")))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        kv = [(1, 1), (3, -8), (-1, 6),
              (-2, pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))]
    else:
        n = pub.public_numbers()
        kv = [(1, 3), (3, -257), (-1, n.n.to_bytes(256, "big")), (-2, b"\x01\x00\x01")]
    if mods.get("dup"):
        kv.append((1, 2))
    return cbor(pairs(*kv))


def client_data(typ="webauthn.create", challenge=None, origin=ORIGIN, extra=""):
    ch = b64u(CHALLENGE) if challenge is None else challenge
    return ('{"type":"%s","challenge":"%s","origin":"%s"%s}' % (typ, ch, origin, extra)).encode()


def auth_data(flags=UP | UV | AT, count=0, key=EC_KEY, cred_id=b"\x42" * 32, cose_key=None,
              ext=None, rp_id=RP_ID):
    out = hashlib.sha256(rp_id.encode()).digest() + bytes([flags | (ED if ext else 0)])
    out += struct.pack(">I", count)
    if flags & AT:
        out += bytes(range(16)) + struct.pack(">H", len(cred_id)) + cred_id
        out += cose(key) if cose_key is None else cose_key
    return out + (ext or b"")


def attestation(ad, fmt="none", stmt=None, trailing=b""):
    return cbor({"fmt": fmt, "attStmt": stmt or {}, "authData": ad}) + trailing


def framed(cd: bytes, att: bytes) -> bytes:
    return struct.pack(">H", len(cd)) + cd + att


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    seeds = {
        "fuzz_webauthn_client_data": {
            "create": client_data(),
            "get": client_data("webauthn.get"),
            "cross_origin_false": client_data(extra=',"crossOrigin":false'),
            "cross_origin_true": client_data(extra=',"crossOrigin":true'),
            "top_origin": client_data(extra=',"crossOrigin":true,"topOrigin":"https://x"'),
            "dup_member": client_data(extra=',"type":"webauthn.get"'),
            "challenge_padded": client_data(challenge=b64u(CHALLENGE) + "="),
            "challenge_std_alphabet": client_data(
                challenge="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+"),
            "challenge_not_string": b'{"type":"webauthn.get","challenge":1,"origin":"x"}',
            "not_object": b'["webauthn.get"]',
            "deep": b'{"type":"webauthn.get","x":' + b"[" * 20 + b"]" * 20 + b"}",
            "long_origin": client_data(origin="https://" + "a" * 300),
        },
        "fuzz_webauthn_auth_data": {
            "assertion": auth_data(UP | UV, count=5),
            "reg_es256": auth_data(),
            "reg_eddsa": auth_data(key=ED_KEY),
            "reg_rs256": auth_data(key=RSA_KEY),
            "reg_ext": auth_data(ext=cbor({"credProtect": 2})),
            "assertion_ext": auth_data(UP | UV, ext=cbor({"credProtect": 2})),
            "trailing": auth_data() + b"\x00",
            "truncated": auth_data()[:60],
            "cred_id_1024": auth_data(cred_id=b"\x01" * 1024),
            "cose_indefinite": auth_data(cose_key=b"\xbf\x01\x02\xff"),
            "cose_dup": auth_data(cose_key=cose(EC_KEY, dup=True)),
            "cose_p384": auth_data(cose_key=cose(EC_KEY, crv=2)),
            "cose_no_y": auth_data(cose_key=cose(EC_KEY, omit_y=True)),
            "cose_huge_map": auth_data(cose_key=b"\xbb\x00\x00\x00\x10\x00\x00\x00\x00"),
            "bare_cose_es256": cose(EC_KEY),
            "bare_cose_eddsa": cose(ED_KEY),
            "short": bytes(36),
        },
        "fuzz_webauthn_attestation": {
            "es256": framed(client_data(), attestation(auth_data())),
            "eddsa": framed(client_data(), attestation(auth_data(key=ED_KEY))),
            "rs256": framed(client_data(), attestation(auth_data(key=RSA_KEY))),
            "synced": framed(client_data(), attestation(auth_data(UP | UV | AT | BE | BS))),
            "bs_without_be": framed(client_data(), attestation(auth_data(UP | UV | AT | BS))),
            "no_uv": framed(client_data(), attestation(auth_data(UP | AT))),
            "wrong_rp": framed(client_data(), attestation(auth_data(rp_id="evil.example"))),
            "wrong_type": framed(client_data("webauthn.get"), attestation(auth_data())),
            "wrong_origin": framed(client_data(origin="https://evil"), attestation(auth_data())),
            "packed": framed(client_data(), attestation(auth_data(), fmt="packed")),
            "att_stmt": framed(client_data(), attestation(auth_data(), stmt={"alg": -7})),
            "trailing": framed(client_data(), attestation(auth_data(), trailing=b"\x00")),
            "cose_dup": framed(client_data(),
                               attestation(auth_data(cose_key=cose(EC_KEY, dup=True)))),
            "with_ext": framed(client_data(),
                               attestation(auth_data(ext=cbor({"credProtect": 2})))),
        },
    }
    for target, files in seeds.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("wrote %d seeds under %s" % (sum(len(f) for f in seeds.values()), root))


if __name__ == "__main__":
    main()
