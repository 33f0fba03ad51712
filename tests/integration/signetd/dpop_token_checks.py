#!/usr/bin/env python3
"""The HTTP part of tests/integration/test_dpop_token.sh (see its header):
DPoP proofs against a running signetd's token endpoint. Environment:
SIGNET_PORT, SIGNET_ISS (tenant default, nonces required), SIGNET_ISS2
(tenant two: issuer on another host, dpop = required, dpop_nonce = off),
SIGNET_WORK (client secrets, the keys; used.proof is written there) and
HELPERS (this directory)."""
import base64
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.environ["HELPERS"])
import dpop_proof as dp  # noqa: E402

port = int(os.environ["SIGNET_PORT"])
iss, iss2, work = os.environ["SIGNET_ISS"], os.environ["SIGNET_ISS2"], os.environ["SIGNET_WORK"]
tok1, tok2 = iss + "/token", iss2 + "/token"
secret = {c: open(f"{work}/{c}.secret").read().strip()
          for c in ("web", "req", "forb", "plain2", "open2")}
key = dp.load(f"{work}/dpop.pem")
checks = 0


def ok(msg):
    global checks
    checks += 1
    print("ok:", msg, flush=True)


def post(tenant, client, dpop=None, extra=None, form=None, headers=None):
    """POST /t/<tenant>/token with client_secret_basic (client None: none);
    dpop: one header value, a list (one header each) or None."""
    body = dict(form if form is not None else {"grant_type": "client_credentials"})
    body.update(extra or {})
    hdrs = [("Content-Type", "application/x-www-form-urlencoded")]
    if client is not None:
        cred = base64.b64encode(f"{client}:{secret[client]}".encode()).decode()
        hdrs.append(("Authorization", "Basic " + cred))
    for v in ([dpop] if isinstance(dpop, str) else dpop or []):
        hdrs.append(("DPoP", v))
    hdrs += list((headers or {}).items())
    data = urllib.parse.urlencode(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", f"/t/{tenant}/token")
    for k, v in hdrs:
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    assert r.status < 500, f"HTTP {r.status}: {raw!r}"
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw or b"{}")


def nonce():
    """A fresh server nonce: what a proof without one is answered with."""
    s, h, d = post("default", "web", dp.make(key, "ES256", "POST", tok1))
    assert s == 400 and d.get("error") == "use_dpop_nonce", (s, d)
    return h["dpop-nonce"]


def refused(what, want_in, tenant="default", client="web", dpop=None,
            code="invalid_dpop_proof", **kw):
    s, h, d = post(tenant, client, dpop, **kw)
    assert s == 400, f"{what}: HTTP {s} {d}"
    assert d.get("error") == code, f"{what}: {d}"
    assert "access_token" not in d
    desc = d.get("error_description", "")
    assert want_in.lower() in desc.lower(), f"{what}: {desc!r} does not name {want_in!r}"
    ok(f"{what}: 400 {code} ({desc})")


def claims(tokresp):
    p = tokresp["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def mk(**o):
    return dp.make(key, "ES256", "POST", tok1, **o)


def stale_phase(clock):
    """signetd runs on the injected clock (a file): a nonce made now is
    refused 150 s later (two 60 s steps on), with a fresh one in the
    answer, which then works."""
    t0 = int(open(clock).read())
    old = nonce()
    with open(clock, "w") as f:
        f.write(str(t0 + 150))
    s, h, d = post("default", "web", mk(nonce=old, iat_in=150))
    assert s == 400 and d["error"] == "use_dpop_nonce", (s, d)
    assert "stale" in d["error_description"] and h.get("dpop-nonce"), (d, h)
    ok(f"a nonce 150 s old: 400 use_dpop_nonce ({d['error_description']})")
    s, h, d = post("default", "web", mk(nonce=h["dpop-nonce"], iat_in=150))
    assert s == 200 and d["token_type"] == "DPoP", (s, d)
    ok("the fresh DPoP-Nonce of that answer: 200 DPoP")


if sys.argv[1:2] == ["stale"]:
    stale_phase(sys.argv[2])
    sys.exit(0)

# ---- the §4.3 corpus (tenant default requires nonces; a proof is judged
# before its nonce, so these need none) --------------------------------------
h64, p64, sig = mk().split(".")
refused("not compact (two parts)", "compact", dpop=h64 + "." + p64)
refused("not compact (four parts)", "compact", dpop=h64 + "." + p64 + "." + sig + "." + sig)
refused("typ JWT", "typ", dpop=mk(typ="JWT"))
refused("typ at+jwt", "typ", dpop=mk(typ="at+jwt"))
refused("alg none", "alg", dpop=mk(alg_none=True))
refused("alg HS256 with an oct jwk", "alg", dpop=mk(hs256=True))
refused("alg RS256 (not in the allowlist)", "alg",
        dpop=dp.make(dp.keygen("RS256"), "RS256", "POST", tok1))
refused("alg ES384 (not in the allowlist)", "alg",
        dpop=dp.make(dp.keygen("ES384"), "ES384", "POST", tok1))
refused("private key in jwk (d)", "jwk", dpop=mk(jwk="private"))
refused("symmetric jwk", "jwk", dpop=mk(jwk="symmetric"))
refused("no jwk", "jwk", dpop=mk(jwk="none"))
refused("bad signature", "signature", dpop=mk(bad_sig=True))
refused("missing jti", "jti", dpop=mk(no_jti=True))
refused("htm GET", "htm", dpop=dp.make(key, "ES256", "GET", tok1))
refused("htm post (case-sensitive)", "htm", dpop=dp.make(key, "ES256", "post", tok1))
refused("missing htm", "htm", dpop=mk(no_htm=True))
refused("htu other host", "htu",
        dpop=dp.make(key, "ES256", "POST", tok1.replace("127.0.0.1", "evil.example")))
refused("htu other path", "htu", dpop=dp.make(key, "ES256", "POST", iss + "/jwks.json"))
refused("htu other tenant", "htu", dpop=dp.make(key, "ES256", "POST", tok2))
refused("htu https instead of http", "htu",
        dpop=dp.make(key, "ES256", "POST", tok1.replace("http:", "https:")))
refused("missing htu", "htu", dpop=mk(no_htu=True))
refused("iat 400 s old", "iat", dpop=mk(iat_in=-400))
refused("iat 400 s ahead", "iat", dpop=mk(iat_in=400))
refused("missing iat", "iat", dpop=mk(no_iat=True))
refused("ath at the token endpoint", "ath", dpop=mk(ath="x" * 43))
refused("duplicate header member", "duplicate", dpop=mk(dup_member="header"))
refused("duplicate payload member", "duplicate", dpop=mk(dup_member="payload"))
refused("two DPoP headers", "DPoP", dpop=[mk(), mk()])
refused("a list in one DPoP header", "one DPoP proof", dpop=mk() + ", " + mk())
refused("an empty DPoP header", "empty", dpop="")

# ---- htu: the configured issuer, never Host (tenant two: no nonce) --------
refused("htu from the Host the request went to (not the issuer)", "htu", tenant="two",
        client="plain2",
        dpop=dp.make(key, "ES256", "POST", f"http://127.0.0.1:{port}/t/two/token"))
refused("htu from X-Forwarded-Host", "htu", tenant="two", client="plain2",
        dpop=dp.make(key, "ES256", "POST", "http://evil.example/t/two/token"),
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"})
for variant in (tok2, "HTTP://SIGNET.Example/t/two/token",
                "http://signet.example:80/t/two/token", tok2 + "?x=1", tok2 + "#frag",
                "http://signet.example/t/%74wo/token"):
    s, h, d = post("two", "plain2", dp.make(key, "ES256", "POST", variant))
    assert s == 200, f"htu {variant}: HTTP {s} {d}"
    assert d["token_type"] == "DPoP", d
    ok(f"htu {variant} accepted (normalised; tenant two needs no nonce)")

# ---- nonces --------------------------------------------------------------------
s, h, d = post("default", "web", mk())
assert s == 400 and d["error"] == "use_dpop_nonce" and "nonce" in d["error_description"], (s, d)
assert h.get("dpop-nonce"), h
ok(f"no nonce: 400 use_dpop_nonce + DPoP-Nonce ({d['error_description']})")
raw = base64.urlsafe_b64decode(h["dpop-nonce"] + "=" * (-len(h["dpop-nonce"]) % 4))
forged = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).rstrip(b"=").decode()
s, h, d = post("default", "web", mk(nonce=forged))
assert s == 400 and d["error"] == "use_dpop_nonce" and h.get("dpop-nonce"), (s, d)
ok("a forged nonce (one bit of the MAC): 400 use_dpop_nonce + DPoP-Nonce")
s, h, d = post("default", "web", mk(nonce="not-a-nonce"))
assert s == 400 and d["error"] == "use_dpop_nonce", (s, d)
ok("a nonce that is not one of ours: 400 use_dpop_nonce")
s, h, d = post("default", "web", mk(nonce=nonce()))
assert s == 200, (s, d)
assert d["token_type"] == "DPoP" and h.get("dpop-nonce"), (d, h)
jkt = dp.thumbprint(key)
assert claims(d)["cnf"] == {"jkt": jkt}, claims(d)
ok(f"nonce flow: 200, token_type DPoP, fresh DPoP-Nonce, cnf.jkt = RFC 7638 thumbprint {jkt}")
s, h, d = post("default", "web", mk(nonce=h["dpop-nonce"]))
assert s == 200, (s, d)
ok("the nonce of a success answers the next proof")
for alg in ("EdDSA", "PS256"):
    k2 = dp.keygen(alg)
    s, h, d = post("default", "web", dp.make(k2, alg, "POST", tok1, nonce=nonce()))
    assert s == 200 and claims(d)["cnf"]["jkt"] == dp.thumbprint(k2), (alg, s, d)
    ok(f"{alg} proof: 200, cnf.jkt = its thumbprint")
# RFC 9864: alg "Ed25519" (what panva's clients send for an Ed25519 key);
# the same signature as EdDSA, for an Ed25519 key only.
k2 = dp.keygen("EdDSA")
s, h, d = post("default", "web", dp.make(k2, "EdDSA", "POST", tok1, nonce=nonce(),
                                         header_alg="Ed25519"))
assert s == 200 and claims(d)["cnf"]["jkt"] == dp.thumbprint(k2), (s, d)
ok("Ed25519 (RFC 9864) proof: 200, cnf.jkt = its thumbprint")
refused("alg Ed25519 with a P-256 key", "alg does not match",
        dpop=dp.make(dp.keygen("ES256"), "ES256", "POST", tok1, nonce=nonce(),
                     header_alg="Ed25519"))

# ---- replay ---------------------------------------------------------------------
used = mk(nonce=nonce())
s, h, d = post("default", "web", used)
assert s == 200, (s, d)
refused("the same proof again (replay)", "already used", dpop=used)
refused("the same proof by another client (replay)", "already used", client="req", dpop=used)
open(f"{work}/used.proof", "w").write(used)

# The same fresh proof sent 12 times at once (a race for the replay cache:
# the requests are recorded together, in one group commit): exactly one
# token, every other answer the replay refusal.
import threading  # noqa: E402
race = mk(nonce=nonce())
answers = []
def racer():
    s, h, d = post("default", "web", race)
    answers.append((s, d.get("error"), d.get("error_description", "")))
ts = [threading.Thread(target=racer) for _ in range(12)]
for t in ts:
    t.start()
for t in ts:
    t.join()
wins = [a for a in answers if a[0] == 200]
losses = [a for a in answers if a[0] == 400 and a[1] == "invalid_dpop_proof" and "already used" in a[2]]
assert len(answers) == 12 and len(wins) == 1 and len(losses) == 11, answers
ok("one proof sent 12 times at once: one token, 11 replay refusals")

# ---- what a failed proof or request costs ----------------------------------
# A proof refused for its nonce, or a bad one, does not burn the assertion
# sent with it: the client retries with the same assertion.
assertion = subprocess.run(
    [sys.executable, f"{os.environ['HELPERS']}/assertion.py", "sign", f"{work}/c.pem", "ES256",
     "jwtc", iss], check=True, capture_output=True, text=True).stdout.strip()
jform = {"grant_type": "client_credentials", "client_assertion": assertion,
         "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
s, h, d = post("default", None, mk(), form=jform)
assert s == 400 and d["error"] == "use_dpop_nonce", (s, d)
s, h, d = post("default", None, mk(bad_sig=True, nonce=h["dpop-nonce"]), form=jform)
assert s == 400 and d["error"] == "invalid_dpop_proof", (s, d)
s, h, d = post("default", None, mk(nonce=nonce()), form=jform)
assert s == 200 and d["token_type"] == "DPoP", (s, d)
ok("private_key_jwt: the assertion survives a use_dpop_nonce and a bad proof, then 200")
s, h, d = post("default", None, mk(nonce=nonce()), form=jform)
assert s == 401, (s, d)
ok("control: that assertion, once used, is refused (401): the retries above did reuse it")
# A proof sent with a wrong secret, or with a refused scope, takes no replay entry.
p1 = mk(nonce=nonce())
right = secret["web"]
secret["web"] = "wrong"
s, h, d = post("default", "web", p1)
secret["web"] = right
assert s == 401, (s, d)
s, h, d = post("default", "web", p1, extra={"scope": "admin"})
assert s == 400 and d["error"] == "invalid_scope", (s, d)
s, h, d = post("default", "web", p1)
assert s == 200, f"the proof was burnt by a failed request: {s} {d}"
ok("a proof with a wrong secret (401), then an invalid scope (400), then 200: no entry burnt")

# ---- policy -------------------------------------------------------------------
s, h, d = post("default", "web")
assert s == 200 and d["token_type"] == "Bearer" and "cnf" not in claims(d), (s, d)
ok("allowed (the default) without a proof: 200 Bearer, no cnf")
refused("--dpop required without a proof", "must use DPoP", client="req")
s, h, d = post("default", "req", mk(nonce=nonce()))
assert s == 200 and d["token_type"] == "DPoP", (s, d)
ok("--dpop required with a proof: 200 DPoP")
refused("--dpop forbidden with a proof", "may not use DPoP", client="forb",
        dpop=mk(nonce=nonce()), code="invalid_request")
s, h, d = post("default", "forb")
assert s == 200 and d["token_type"] == "Bearer", (s, d)
ok("--dpop forbidden without a proof: 200 Bearer")
refused("tenant dpop = required, client without --dpop, no proof", "must use DPoP",
        tenant="two", client="plain2")
s, h, d = post("two", "open2")
assert s == 200 and d["token_type"] == "Bearer", (s, d)
ok("tenant dpop = required, client --dpop allowed, no proof: 200 Bearer")
print(f"{checks} checks passed")
