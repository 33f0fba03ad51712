#!/usr/bin/env python3
"""Makes the tokens and DPoP proofs (RFC 9449) test_libsignet_dpop_cli.sh
feeds to `signet verify`, with PyJWT and cryptography.
    dpop_cli.py OUTDIR ISSUER AUDIENCE URL NOW
Writes OUTDIR/jwks.json, bound.jwt (cnf.jkt of the client key), other.jwt
(bound too, another jti), unbound.jwt, and one OUTDIR/<case>.proof per case."""
import base64
import hashlib
import json
import os
import sys

import jwt
from jwt.algorithms import ECAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

out, issuer, audience, url, now = sys.argv[1:6]
now = int(now)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def pub_jwk(priv):
    # Full-length coordinates (RFC 7518 6.2.1.2).
    n = priv.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")),
            "y": b64(n.y.to_bytes(32, "big"))}


def thumbprint(jwk):
    # RFC 7638: required members, lexicographic order, no whitespace.
    canon = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                       separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canon.encode()).digest())


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text if isinstance(text, str) else text.decode())


issuer_key = ec.generate_private_key(ec.SECP256R1())
client = ec.generate_private_key(ec.SECP256R1())
thief = ec.generate_private_key(ec.SECP256R1())
ijwk = pub_jwk(issuer_key)
ijwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
write("jwks.json", json.dumps({"keys": [ijwk]}))


def token(jti, jkt):
    claims = {"iss": issuer, "aud": audience, "sub": "alice", "client_id": "c1",
              "iat": now - 5, "nbf": now - 5, "exp": now + 300, "jti": jti}
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    return jwt.encode(claims, issuer_key, algorithm="ES256",
                      headers={"kid": "k1", "typ": "at+jwt"})


cjwk = pub_jwk(client)
bound = token("t-bound", thumbprint(cjwk))
other = token("t-other", thumbprint(cjwk))
unbound = token("t-unbound", None)
write("bound.jwt", bound)
write("other.jwt", other)
write("unbound.jwt", unbound)

counter = [0]


def proof(name, tok, key=client, jwk=None, htm="GET", htu=url, iat=None, alg="ES256",
          typ="dpop+jwt", extra=None, drop=()):
    counter[0] += 1
    claims = {"jti": "p-%d-%s" % (counter[0], name), "htm": htm, "htu": htu,
              "iat": now if iat is None else iat}
    if tok is not None:
        claims["ath"] = b64(hashlib.sha256(tok.encode()).digest())
    claims.update(extra or {})
    for d in drop:
        claims.pop(d, None)
    header = {"typ": typ, "jwk": jwk if jwk is not None else pub_jwk(key)}
    write(name + ".proof", jwt.encode(claims, key, algorithm=alg, headers=header))


proof("good", bound)
proof("good_unbound", unbound)
proof("thief", bound, key=thief)
proof("for_other", other)  # ath of another token
proof("old", bound, iat=now - 301)
proof("future", bound, iat=now + 120)
proof("typ", bound, typ="JWT")
proof("hs256", bound, key="0123456789abcdef0123456789abcdef", jwk=cjwk, alg="HS256")
priv = dict(cjwk)
priv["d"] = b64(client.private_numbers().private_value.to_bytes(32, "big"))
proof("private_jwk", bound, jwk=priv)
proof("no_jti", bound, drop=("jti",))
proof("no_ath", bound, drop=("ath",))
proof("nonce", bound, extra={"nonce": "n-1"})
