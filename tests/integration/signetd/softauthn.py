#!/usr/bin/env python3
"""A software WebAuthn authenticator and client for signet's integration
tests (issue 13): it answers PublicKeyCredentialCreationOptionsJSON and
PublicKeyCredentialRequestOptionsJSON (WebAuthn L3 §5.1.8, §5.1.9) the way
a browser plus a platform authenticator would, with attestation "none",
and returns the credential in WebAuthn JSON form (§5.1: base64url without
padding). Every knob a hostile test needs is a parameter: UP and UV, BE and
BS, another origin, another RP ID in rpIdHash, crossOrigin, the counter,
another challenge, another credential.

Python 3 and the `cryptography` package only (a tiny CBOR encoder and
decoder are below, for the few types WebAuthn uses).

As a module:
    a = SoftAuthenticator("localhost", "http://localhost:8080")
    reg = a.make_credential(creation_options)       # -> RegistrationResponseJSON
    asr = a.get_assertion(request_options)          # -> AuthenticationResponseJSON

As a program:
    softauthn.py --selftest
    softauthn.py --demo --rp-id ID --origin O --create-challenge B64 --get-challenge B64 [--alg A]
        prints {"registration": ..., "assertion": ...}
    softauthn.py create|get --state FILE --options JSON [--rp-id ID --origin O] [knobs]
        keeps the authenticator's credentials in FILE between calls
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40

COSE_ALGS = {"ES256": -7, "EdDSA": -8, "RS256": -257}
AAGUID = bytes(16)  # attestation "none": nothing to say about the model


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---- CBOR (RFC 8949), the subset WebAuthn uses, CTAP2 canonical form ------

def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if arg < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, arg)
    raise ValueError("integer too large for CBOR")


def cbor_encode(v) -> bytes:
    """ints, bytes, str, bool, None, list, dict; map keys in CTAP2
    canonical order (shorter encoded key first, then bytewise)."""
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, (bytes, bytearray)):
        return _head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        raw = v.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(v, (list, tuple)):
        return _head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    if isinstance(v, dict):
        items = sorted(((cbor_encode(k), cbor_encode(x)) for k, x in v.items()),
                       key=lambda kv: (len(kv[0]), kv[0]))
        return _head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError("cannot encode %r as CBOR" % type(v))


def cbor_decode(data: bytes, pos: int = 0):
    """One item at pos: (value, next position). Definite lengths only."""
    ib = data[pos]
    major, info = ib >> 5, ib & 0x1F
    pos += 1
    if info < 24:
        arg = info
    elif info <= 27:
        n = 1 << (info - 24)
        if len(data) < pos + n:
            raise ValueError("truncated CBOR")
        arg = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        raise ValueError("indefinite or reserved CBOR")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if len(data) < pos + arg:
            raise ValueError("truncated CBOR")
        raw = data[pos:pos + arg]
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        out = []
        for _ in range(arg):
            item, pos = cbor_decode(data, pos)
            out.append(item)
        return out, pos
    if major == 5:
        out = {}
        for _ in range(arg):
            k, pos = cbor_decode(data, pos)
            val, pos = cbor_decode(data, pos)
            if k in out:
                raise ValueError("duplicate CBOR map key")
            out[k] = val
        return out, pos
    if major == 7 and info in (20, 21, 22):
        return {20: False, 21: True, 22: None}[info], pos
    raise ValueError("unsupported CBOR item")


# ---- keys -------------------------------------------------------------------

def new_key(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("unsupported alg %s" % alg)


def cose_public_key(key, alg: str) -> dict:
    """RFC 9053 §7 (EC2, OKP) and RFC 8230 §4 (RSA) public keys."""
    pub = key.public_key()
    if alg == "ES256":
        nums = pub.public_numbers()
        return {1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}
    if alg == "EdDSA":
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {1: 1, 3: -8, -1: 6, -2: raw}
    nums = pub.public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    return {1: 3, 3: -257, -1: n, -2: e}


def sign(key, alg: str, message: bytes) -> bytes:
    if alg == "ES256":
        return key.sign(message, ec.ECDSA(hashes.SHA256()))  # DER, as WebAuthn wants
    if alg == "EdDSA":
        return key.sign(message)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def verify(cose: dict, message: bytes, sig: bytes) -> None:
    """Verifies with a COSE key (for the self-test); raises on failure."""
    if cose[3] == -7:
        x = int.from_bytes(cose[-2], "big")
        y = int.from_bytes(cose[-3], "big")
        ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key().verify(
            sig, message, ec.ECDSA(hashes.SHA256()))
    elif cose[3] == -8:
        ed25519.Ed25519PublicKey.from_public_bytes(cose[-2]).verify(sig, message)
    elif cose[3] == -257:
        rsa.RSAPublicNumbers(int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-1], "big")) \
            .public_key().verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("unknown COSE alg")


# ---- the authenticator ------------------------------------------------------

class Credential:
    def __init__(self, cred_id: bytes, key, alg: str, rp_id: str, user_handle: bytes,
                 be: bool, bs: bool, counter: int = 0):
        self.cred_id = cred_id
        self.key = key
        self.alg = alg
        self.rp_id = rp_id
        self.user_handle = user_handle
        self.be = be
        self.bs = bs
        self.counter = counter

    def to_json(self) -> dict:
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        return {"id": b64u(self.cred_id), "key": pem.decode("ascii"), "alg": self.alg,
                "rpId": self.rp_id, "userHandle": b64u(self.user_handle), "be": self.be,
                "bs": self.bs, "counter": self.counter}

    @classmethod
    def from_json(cls, d: dict) -> "Credential":
        key = serialization.load_pem_private_key(d["key"].encode("ascii"), password=None)
        return cls(unb64u(d["id"]), key, d["alg"], d["rpId"], unb64u(d["userHandle"]),
                   d["be"], d["bs"], d["counter"])


class SoftAuthenticator:
    """A platform authenticator with discoverable credentials, plus the
    client (browser) half: clientDataJSON and the JSON encoding."""

    def __init__(self, rp_id: str, origin: str):
        self.rp_id = rp_id
        self.origin = origin
        self.credentials = []  # list of Credential, oldest first

    # §5.8.1 (clientDataJSON), serialised as browsers do (§5.8.1.1)
    def _client_data(self, typ: str, challenge: str, origin, cross_origin: bool) -> bytes:
        cd = {"type": typ, "challenge": challenge, "origin": origin or self.origin,
              "crossOrigin": bool(cross_origin)}
        return json.dumps(cd, separators=(",", ":")).encode("utf-8")

    @staticmethod
    def _flags(up: bool, uv: bool, be: bool, bs: bool, at: bool = False) -> int:
        return ((FLAG_UP if up else 0) | (FLAG_UV if uv else 0) | (FLAG_BE if be else 0) |
                (FLAG_BS if bs else 0) | (FLAG_AT if at else 0))

    def make_credential(self, options: dict, uv: bool = True, up: bool = True, alg: str = "ES256",
                        be: bool = False, bs: bool = False, origin=None, rp_id_for_hash=None,
                        cross_origin: bool = False) -> dict:
        """navigator.credentials.create() with options (CreationOptionsJSON):
        a new credential of alg, answered as RegistrationResponseJSON."""
        if alg not in COSE_ALGS:
            raise ValueError("unsupported alg %s" % alg)
        params = options.get("pubKeyCredParams")
        if params and COSE_ALGS[alg] not in [p.get("alg") for p in params]:
            raise ValueError("%s is not in pubKeyCredParams" % alg)
        rp_id = (options.get("rp") or {}).get("id") or self.rp_id
        user_handle = unb64u(options["user"]["id"])
        excluded = {unb64u(c["id"]) for c in options.get("excludeCredentials", [])}
        if any(c.cred_id in excluded for c in self.credentials if c.rp_id == rp_id):
            raise ValueError("InvalidStateError: a credential in excludeCredentials exists")
        cred = Credential(os.urandom(32), new_key(alg), alg, rp_id, user_handle, be, bs)

        client_data = self._client_data("webauthn.create", options["challenge"], origin,
                                        cross_origin)
        # §6.1 authenticator data with §6.5.1 attested credential data
        auth_data = (hashlib.sha256((rp_id_for_hash or rp_id).encode("utf-8")).digest() +
                     bytes([self._flags(up, uv, be, bs, at=True)]) +
                     struct.pack(">I", cred.counter) + AAGUID +
                     struct.pack(">H", len(cred.cred_id)) + cred.cred_id +
                     cbor_encode(cose_public_key(cred.key, alg)))
        # §6.5.4, §8.7: attestation "none"
        att = cbor_encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        # a discoverable credential replaces one of the same user (CTAP2.1 §6.1.2)
        self.credentials = [c for c in self.credentials
                            if not (c.rp_id == rp_id and c.user_handle == user_handle)]
        self.credentials.append(cred)
        return {"id": b64u(cred.cred_id), "rawId": b64u(cred.cred_id), "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data),
                             "attestationObject": b64u(att), "transports": ["internal"]}}

    def _pick(self, rp_id: str, options: dict, cred_id) -> Credential:
        if cred_id is not None:
            want = unb64u(cred_id) if isinstance(cred_id, str) else bytes(cred_id)
            for c in self.credentials:
                if c.cred_id == want:
                    return c
            raise ValueError("no such credential")
        allowed = [unb64u(c["id"]) for c in options.get("allowCredentials", [])]
        mine = [c for c in self.credentials if c.rp_id == rp_id]
        if allowed:
            mine = [c for c in mine if c.cred_id in allowed]
        if not mine:
            raise ValueError("NotAllowedError: no credential for %s" % rp_id)
        return mine[-1]

    def get_assertion(self, options: dict, uv: bool = True, up: bool = True, origin=None,
                      rp_id_for_hash=None, counter=None, challenge_override=None,
                      cred_id=None) -> dict:
        """navigator.credentials.get() with options (RequestOptionsJSON),
        answered as AuthenticationResponseJSON. The counter goes up by one
        (or is set to counter)."""
        rp_id = options.get("rpId") or self.rp_id
        cred = self._pick(rp_id, options, cred_id)
        cred.counter = cred.counter + 1 if counter is None else counter
        client_data = self._client_data("webauthn.get", challenge_override or options["challenge"],
                                        origin, False)
        auth_data = (hashlib.sha256((rp_id_for_hash or rp_id).encode("utf-8")).digest() +
                     bytes([self._flags(up, uv, cred.be, cred.bs)]) +
                     struct.pack(">I", cred.counter & 0xFFFFFFFF))
        # §6.3.3 step 11: the signature over authenticatorData || clientDataHash
        sig = sign(cred.key, cred.alg, auth_data + hashlib.sha256(client_data).digest())
        return {"id": b64u(cred.cred_id), "rawId": b64u(cred.cred_id), "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data),
                             "authenticatorData": b64u(auth_data), "signature": b64u(sig),
                             "userHandle": b64u(cred.user_handle)}}

    def to_json(self) -> dict:
        return {"rpId": self.rp_id, "origin": self.origin,
                "credentials": [c.to_json() for c in self.credentials]}

    @classmethod
    def from_json(cls, d: dict) -> "SoftAuthenticator":
        a = cls(d["rpId"], d["origin"])
        a.credentials = [Credential.from_json(c) for c in d["credentials"]]
        return a


# ---- the self-test and the command line ---------------------------------------

def creation_options(challenge: str, rp_id: str, user_id: bytes = b"u-selftest") -> dict:
    return {"challenge": challenge, "rp": {"id": rp_id, "name": "signet"},
            "user": {"id": b64u(user_id), "name": "alice", "displayName": "Alice"},
            "pubKeyCredParams": [{"type": "public-key", "alg": a} for a in (-8, -7, -257)],
            "attestation": "none",
            "authenticatorSelection": {"residentKey": "required", "userVerification": "required"}}


def request_options(challenge: str, rp_id: str) -> dict:
    return {"challenge": challenge, "rpId": rp_id, "userVerification": "required"}


def check_pair(reg: dict, asr: dict, rp_id: str, origin: str, reg_chal: str, get_chal: str):
    """What a relying party checks (§7.1, §7.2), done independently."""
    cd = json.loads(unb64u(reg["response"]["clientDataJSON"]))
    assert cd == {"type": "webauthn.create", "challenge": reg_chal, "origin": origin,
                  "crossOrigin": False}, cd
    att, end = cbor_decode(unb64u(reg["response"]["attestationObject"]))
    assert end == len(unb64u(reg["response"]["attestationObject"]))
    assert att["fmt"] == "none" and att["attStmt"] == {}
    ad = att["authData"]
    assert ad[:32] == hashlib.sha256(rp_id.encode()).digest()
    assert ad[32] & (FLAG_UP | FLAG_UV | FLAG_AT) == FLAG_UP | FLAG_UV | FLAG_AT
    id_len = struct.unpack(">H", ad[53:55])[0]
    cred_id = ad[55:55 + id_len]
    assert b64u(cred_id) == reg["rawId"] == reg["id"]
    cose, end = cbor_decode(ad, 55 + id_len)
    assert end == len(ad), "trailing bytes after the COSE key"

    cd_raw = unb64u(asr["response"]["clientDataJSON"])
    cd = json.loads(cd_raw)
    assert cd["type"] == "webauthn.get" and cd["challenge"] == get_chal and cd["origin"] == origin
    ad2 = unb64u(asr["response"]["authenticatorData"])
    assert len(ad2) == 37 and ad2[:32] == ad[:32] and ad2[32] & 0x05 == 0x05
    assert struct.unpack(">I", ad2[33:37])[0] == struct.unpack(">I", ad[33:37])[0] + 1
    sig = unb64u(asr["response"]["signature"])
    verify(cose, ad2 + hashlib.sha256(cd_raw).digest(), sig)
    try:
        verify(cose, ad2 + hashlib.sha256(cd_raw + b" ").digest(), sig)
        raise AssertionError("a signature over other bytes verified")
    except InvalidSignature:
        pass


def selftest() -> None:
    rp_id, origin = "localhost", "http://localhost:8080"
    for alg in COSE_ALGS:
        a = SoftAuthenticator(rp_id, origin)
        rc, gc = b64u(os.urandom(32)), b64u(os.urandom(32))
        reg = a.make_credential(creation_options(rc, rp_id), alg=alg)
        # a round trip through the state format keeps the credential
        a = SoftAuthenticator.from_json(json.loads(json.dumps(a.to_json())))
        asr = a.get_assertion(request_options(gc, rp_id))
        check_pair(reg, asr, rp_id, origin, rc, gc)
        assert unb64u(asr["response"]["userHandle"]) == b"u-selftest"
    # the CBOR encoder: canonical heads and key order
    assert cbor_encode(23) == b"\x17" and cbor_encode(24) == b"\x18\x18"
    assert cbor_encode(-257) == b"\x39\x01\x00"
    assert cbor_encode({-1: 0, 3: 0, 1: 0}) == b"\xa3\x01\x00\x03\x00\x20\x00"
    print("ok")


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", nargs="?", choices=["create", "get"])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--rp-id", default="localhost")
    ap.add_argument("--origin", default="http://localhost:8080")
    ap.add_argument("--create-challenge")
    ap.add_argument("--get-challenge")
    ap.add_argument("--alg", default="ES256", choices=sorted(COSE_ALGS))
    ap.add_argument("--state", help="JSON file holding the authenticator's credentials")
    ap.add_argument("--options", help="the options JSON (the publicKey member) or @file")
    ap.add_argument("--no-uv", action="store_true")
    ap.add_argument("--no-up", action="store_true")
    ap.add_argument("--be", action="store_true")
    ap.add_argument("--bs", action="store_true")
    ap.add_argument("--as-origin", help="claim this origin in clientDataJSON")
    ap.add_argument("--rp-id-for-hash")
    ap.add_argument("--cross-origin", action="store_true")
    ap.add_argument("--counter", type=int)
    ap.add_argument("--challenge-override")
    ap.add_argument("--cred-id")
    args = ap.parse_args(argv)

    if args.selftest:
        selftest()
        return 0
    if args.demo:
        if not args.create_challenge or not args.get_challenge:
            ap.error("--demo needs --create-challenge and --get-challenge")
        a = SoftAuthenticator(args.rp_id, args.origin)
        reg = a.make_credential(creation_options(args.create_challenge, args.rp_id), alg=args.alg)
        asr = a.get_assertion(request_options(args.get_challenge, args.rp_id))
        print(json.dumps({"registration": reg, "assertion": asr}))
        return 0
    if args.command is None or args.options is None or args.state is None:
        ap.error("give --selftest, --demo, or create|get with --state and --options")
    text = args.options
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    options = json.loads(text)
    options = options.get("publicKey", options)
    if os.path.exists(args.state):
        with open(args.state, encoding="utf-8") as f:
            a = SoftAuthenticator.from_json(json.load(f))
    else:
        a = SoftAuthenticator(args.rp_id, args.origin)
    if args.command == "create":
        out = a.make_credential(options, uv=not args.no_uv, up=not args.no_up, alg=args.alg,
                                be=args.be, bs=args.bs, origin=args.as_origin,
                                rp_id_for_hash=args.rp_id_for_hash, cross_origin=args.cross_origin)
    else:
        out = a.get_assertion(options, uv=not args.no_uv, up=not args.no_up, origin=args.as_origin,
                              rp_id_for_hash=args.rp_id_for_hash, counter=args.counter,
                              challenge_override=args.challenge_override, cred_id=args.cred_id)
    tmp = args.state + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds private keys
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(a.to_json(), f)
    os.replace(tmp, args.state)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
