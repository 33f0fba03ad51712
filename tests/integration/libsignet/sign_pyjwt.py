#!/usr/bin/env python3
"""Signs access tokens with PyJWT (python3-jwt) for libsignet's interop test.
    sign_pyjwt.py OUTDIR ISSUER AUDIENCE
Writes OUTDIR/py_jwks.json (public keys) and OUTDIR/py_<alg>.jwt."""
import base64
import json
import os
import sys
import time

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAPSSAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

out, issuer, audience = sys.argv[1:4]
now = int(time.time())
keys = []
gens = {
    "ES256": (lambda: ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "PS256": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
              RSAPSSAlgorithm),
    "EdDSA": (ed25519.Ed25519PrivateKey.generate, OKPAlgorithm),
}
for alg, (gen, algcls) in gens.items():
    priv = gen()
    jwk = json.loads(algcls.to_jwk(priv.public_key()))
    if alg == "ES256":
        # RFC 7518 6.2.1.2: full-length coordinates (some PyJWT releases drop
        # leading zero bytes, which libsignet refuses as the RFC says).
        nums = priv.public_key().public_numbers()
        for name, val in (("x", nums.x), ("y", nums.y)):
            jwk[name] = base64.urlsafe_b64encode(val.to_bytes(32, "big")).rstrip(b"=").decode()
    jwk.update({"kid": "py-" + alg, "alg": alg, "use": "sig"})
    keys.append(jwk)
    claims = {"iss": issuer, "aud": [audience, "other"], "sub": "py-" + alg,
              "iat": now - 5, "nbf": now - 5, "exp": now + 300, "jti": "py-%s-%d" % (alg, now),
              "client_id": "interop-pyjwt", "scope": "read"}
    token = jwt.encode(claims, priv, algorithm=alg, headers={"kid": "py-" + alg, "typ": "at+jwt"})
    with open(os.path.join(out, "py_%s.jwt" % alg), "w") as f:
        f.write(token if isinstance(token, str) else token.decode())
with open(os.path.join(out, "py_jwks.json"), "w") as f:
    json.dump({"keys": keys}, f)
