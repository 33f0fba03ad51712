#!/usr/bin/env python3
"""Generates libsignet's attack corpus: one token per file, each named in
MANIFEST with the exact error libsignet must return, plus the two issuers'
JWKS. Keys are generated afresh on every run and the private halves are
thrown away; regenerate with `python3 tests/attacks/gen_attacks.py`.
Run by hand (needs python3-cryptography); the committed output is what
tests/unit/test_attacks.c replays."""
import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

OUT = os.path.dirname(os.path.abspath(__file__))
NOW = 1700000000
ISS_A = "https://tenant-a.example"
ISS_B = "https://tenant-b.example"
AUD = "api://attack"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def js(o):
    return json.dumps(o, separators=(",", ":"))


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def jwk(priv, kid, **extra):
    pub = priv.public_key()
    if isinstance(priv, ec.EllipticCurvePrivateKey):
        n = pub.public_numbers()
        j = {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")),
             "y": b64(n.y.to_bytes(32, "big")), "alg": "ES256"}
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        j = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "alg": "EdDSA"}
    j.update({"kid": kid, "use": "sig"})
    j.update(extra)
    return j


def sign(priv, data):
    if isinstance(priv, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(priv.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return priv.sign(data)


def token(priv, header, claims, raw_header=None, raw_claims=None):
    h = raw_header if raw_header is not None else js(header)
    c = raw_claims if raw_claims is not None else js(claims)
    si = b64(h.encode()) + "." + b64(c.encode())
    return si + "." + b64(sign(priv, si.encode()))


def hdr(kid, alg="ES256", **extra):
    h = {"alg": alg, "typ": "at+jwt", "kid": kid}
    h.update(extra)
    return h


def claims(iss=ISS_A, iat=NOW - 10, life=600, **extra):
    c = {"iss": iss, "sub": "alice", "aud": AUD, "iat": iat, "nbf": iat, "exp": iat + life,
         "jti": "attack", "client_id": "c1", "scope": "read"}
    c.update(extra)
    return c


def main():
    a0, a1, a3, m1, r1, b1, x = (ec_key() for _ in range(7))
    a2 = ed25519.Ed25519PrivateKey.generate()
    jwks_a = {"keys": [
        jwk(a1, "a1", iss=ISS_A, active_from=NOW - 86400),
        jwk(a2, "a2", iss=ISS_A, active_from=NOW - 86400),
        jwk(a3, "a3", iss=ISS_A, active_from=NOW + 3600),            # published, not yet active
        jwk(r1, "r1", iss=ISS_A, active_from=NOW - 864000, active_until=NOW - 3600),  # retired
        jwk(m1, "m1", iss=ISS_B, active_from=NOW - 86400),            # misfiled: B's key in A's set
    ]}
    jwks_b = {"keys": [jwk(b1, "b1", iss=ISS_B, active_from=NOW - 86400)]}

    cases = []

    def add(name, tok, expect, why):
        cases.append((name, tok, expect, why))

    valid = token(a1, hdr("a1"), claims())
    add("valid_es256", valid, "SIGNET_OK", "control: a correct ES256 token")
    add("valid_eddsa", token(a2, hdr("a2", "EdDSA"), claims()), "SIGNET_OK", "control: EdDSA")

    si = b64(js({"alg": "none", "typ": "at+jwt", "kid": "a1"}).encode()) + "." + b64(js(claims()).encode())
    add("alg_none", si + ".", "SIGNET_ERR_ALG_NOT_ALLOWED", "unsecured JWS, alg none")
    si2 = b64(js({"alg": "NONE", "typ": "at+jwt", "kid": "a1"}).encode()) + "." + b64(js(claims()).encode())
    add("alg_none_uppercase", si2 + ".", "SIGNET_ERR_ALG_NOT_ALLOWED", "alg NONE")
    add("alg_none_with_signature", si + "." + valid.split(".")[2], "SIGNET_ERR_ALG_NOT_ALLOWED",
        "alg none carrying a signature")

    pem = a1.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    for label, secret in (("pem", pem), ("jwk", js(jwks_a["keys"][0]).encode())):
        si = b64(js(hdr("a1", "HS256")).encode()) + "." + b64(js(claims()).encode())
        mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
        add("hs256_public_key_" + label, si + "." + b64(mac), "SIGNET_ERR_ALG_NOT_ALLOWED",
            "alg confusion: HS256 keyed with the issuer's public key (%s)" % label)

    add("storm0558_cross_issuer_kid", token(b1, hdr("b1"), claims()),
        "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET", "iss A, kid and signature of issuer B's key")
    add("misfiled_key_other_issuer", token(m1, hdr("m1"), claims()),
        "SIGNET_ERR_KEY_ISSUER_MISMATCH", "a key scoped to B found in A's set")
    add("key_left_jwks", token(a0, hdr("a0"), claims()), "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET",
        "signed by a key no longer in the issuer's JWKS")
    add("token_older_than_key", token(a3, hdr("a3"), claims()),
        "SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT", "iat before the key's active_from")
    add("retired_key_new_token", token(r1, hdr("r1"), claims()),
        "SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT", "iat after the key's active_until")

    xjwk = jwk(x, "x")
    add("embedded_jwk", token(x, hdr("x", jwk=xjwk), claims()), "SIGNET_ERR_FORBIDDEN_HEADER",
        "attacker key embedded in the jwk header")
    add("embedded_jwk_known_kid", token(x, hdr("a1", jwk=xjwk), claims()),
        "SIGNET_ERR_FORBIDDEN_HEADER", "embedded jwk under a trusted kid")
    add("jku", token(x, hdr("x", jku="https://evil.example/jwks"), claims()),
        "SIGNET_ERR_FORBIDDEN_HEADER", "jku pointing at an attacker JWKS")
    add("x5u", token(x, hdr("x", x5u="https://evil.example/cert"), claims()),
        "SIGNET_ERR_FORBIDDEN_HEADER", "x5u")
    add("x5c", token(x, hdr("x", x5c=["MIIB"]), claims()), "SIGNET_ERR_FORBIDDEN_HEADER", "x5c")
    add("crit_unknown", token(a1, hdr("a1", ext=1, crit=["ext"]), claims()),
        "SIGNET_ERR_UNKNOWN_CRIT", "crit naming an extension nobody understands")
    add("crit_empty", token(a1, hdr("a1", crit=[]), claims()), "SIGNET_ERR_MALFORMED",
        "crit must be a non-empty array")
    add("crit_registered", token(a1, hdr("a1", crit=["alg"]), claims()), "SIGNET_ERR_MALFORMED",
        "crit may not list a registered header")

    parts = valid.split(".")
    add("psychic_signature", parts[0] + "." + parts[1] + "." + b64(bytes(64)),
        "SIGNET_ERR_BAD_SIGNATURE", "ECDSA r = s = 0 (CVE-2022-21449)")
    der = a1.sign((parts[0] + "." + parts[1]).encode(), ec.ECDSA(hashes.SHA256()))
    add("ecdsa_der_signature", parts[0] + "." + parts[1] + "." + b64(der),
        "SIGNET_ERR_BAD_SIGNATURE", "ECDSA signature in DER instead of r||s")
    tampered = claims(sub="admin")
    add("tampered_payload", parts[0] + "." + b64(js(tampered).encode()) + "." + parts[2],
        "SIGNET_ERR_BAD_SIGNATURE", "payload changed after signing")

    add("oversized", token(a1, hdr("a1"), claims(pad="x" * 20000)), "SIGNET_ERR_TOO_LARGE",
        "token over 16 KiB")
    deep = js(claims())[:-1] + ',"d":' + "[" * 200 + "]" * 200 + "}"
    add("deeply_nested_claims", token(a1, None, None, js(hdr("a1")), deep),
        "SIGNET_ERR_JSON_TOO_DEEP", "200 nested arrays in the claims")
    deep_h = js(hdr("a1"))[:-1] + ',"d":' + "{\"a\":" * 40 + "1" + "}" * 40 + "}"
    add("deeply_nested_header", token(a1, None, None, deep_h, js(claims())),
        "SIGNET_ERR_JSON_TOO_DEEP", "40 nested objects in the header")
    dup = js(claims())[:-1] + ',"sub":"admin"}'
    add("duplicate_claim", token(a1, None, None, js(hdr("a1")), dup),
        "SIGNET_ERR_DUPLICATE_MEMBER", "sub twice: parsers disagree on which wins")
    duph = '{"alg":"ES256","typ":"at+jwt","kid":"a1","alg":"none"}'
    add("duplicate_header", token(a1, None, None, duph, js(claims())),
        "SIGNET_ERR_DUPLICATE_MEMBER", "alg twice in the header")

    sig = parts[2]
    add("padding_signature", valid + "==", "SIGNET_ERR_BAD_BASE64", "base64 padding on the signature")
    hpad = base64.urlsafe_b64encode(js(hdr("a1")).encode()).decode()
    if not hpad.endswith("="):
        hpad = base64.urlsafe_b64encode((js(hdr("a1")) + " ").encode()).decode()
    add("padding_header", hpad + "." + parts[1] + "." + sig, "SIGNET_ERR_BAD_BASE64",
        "base64 padding on the header")
    std = valid
    while "-" not in std.split(".")[2] and "_" not in std.split(".")[2]:
        std = token(a1, hdr("a1"), claims())
    p = std.split(".")
    add("standard_alphabet", p[0] + "." + p[1] + "." + p[2].replace("-", "+").replace("_", "/"),
        "SIGNET_ERR_BAD_BASE64", "standard base64 alphabet (+ /)")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    add("noncanonical_base64", parts[0] + "." + parts[1] + "." + sig[:-1] + alphabet[last | 1],
        "SIGNET_ERR_BAD_BASE64", "non-zero unused bits in the last character")
    add("whitespace", parts[0] + "." + parts[1] + ".\n" + sig, "SIGNET_ERR_BAD_BASE64",
        "a newline inside the token")

    for typ, name in (("JWT", "typ_jwt"), ("dpop+jwt", "typ_dpop_proof"),
                      ("secevent+jwt", "typ_security_event"), ("id_token+jwt", "typ_other")):
        h = hdr("a1")
        h["typ"] = typ
        add(name, token(a1, h, claims()), "SIGNET_ERR_BAD_TYP", "typ %s is not an access token" % typ)
    h = hdr("a1")
    del h["typ"]
    add("typ_missing", token(a1, h, claims(nonce="n")), "SIGNET_ERR_BAD_TYP",
        "no typ: an ID token shape")

    add("jwe_five_parts", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA",
        "SIGNET_ERR_NOT_COMPACT_JWS", "a JWE")
    add("json_serialization", js({"payload": parts[1], "protected": parts[0], "signature": sig}),
        "SIGNET_ERR_NOT_COMPACT_JWS", "JWS JSON serialization")
    add("alg_key_mismatch", token(a2, hdr("a1", "EdDSA"), claims()), "SIGNET_ERR_ALG_KEY_MISMATCH",
        "EdDSA header for the ES256 key a1")
    add("unknown_issuer", token(a1, hdr("a1"), claims(iss=ISS_A + "/")), "SIGNET_ERR_UNKNOWN_ISSUER",
        "issuer differing by a trailing slash")
    add("no_kid", token(a1, {"alg": "ES256", "typ": "at+jwt"}, claims()),
        "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET", "no kid: libsignet never tries every key")
    add("expired", token(a1, hdr("a1"), claims(iat=NOW - 4000, life=3600)), "SIGNET_ERR_EXPIRED",
        "expired beyond the skew")
    add("wrong_audience", token(a1, hdr("a1"), claims(aud="api://other")),
        "SIGNET_ERR_AUDIENCE_MISMATCH", "another resource's token")
    add("lifetime_too_long", token(a1, hdr("a1"), claims(life=30 * 86400)),
        "SIGNET_ERR_LIFETIME_TOO_LONG", "a 30-day access token")

    for f in os.listdir(OUT):
        if f.endswith(".jwt"):
            os.unlink(os.path.join(OUT, f))
    with open(os.path.join(OUT, "jwks_a.json"), "w") as f:
        json.dump(jwks_a, f, indent=1)
    with open(os.path.join(OUT, "jwks_b.json"), "w") as f:
        json.dump(jwks_b, f, indent=1)
    with open(os.path.join(OUT, "MANIFEST"), "w") as f:
        f.write("# Generated by gen_attacks.py. now=%d issuer_a=%s issuer_b=%s audience=%s\n"
                % (NOW, ISS_A, ISS_B, AUD))
        f.write("now %d\nissuer %s jwks_a.json\nissuer %s jwks_b.json\naudience %s\n"
                % (NOW, ISS_A, ISS_B, AUD))
        for name, tok, expect, why in cases:
            with open(os.path.join(OUT, name + ".jwt"), "w") as t:
                t.write(tok)
            f.write("case %s.jwt %s %s\n" % (name, expect, why))
    print("wrote %d cases" % len(cases), file=sys.stderr)


if __name__ == "__main__":
    main()
