#!/usr/bin/env python3
"""Drives signetd while it rotates its keys every few seconds and checks that
independent verifiers (npm jose, PyJWT's PyJWKClient) never fail:

  - a token every ~200 ms, verified at once by both verifiers;
  - tokens whose key has since been RETIRED re-verified until they expire;
  - one restart of signetd in the middle (tokens from before it still verify);
  - at the end, `signet revoke` of the ACTIVE key while signetd runs: that
    key's tokens fail as soon as the verifiers refresh, new tokens verify.

usage: rotation_driver.py SIGNETD SIGNET STATE ISSUER AUDIENCE SECRET_FILE
                          NODE_DIR MIN_ROTATIONS LOG
"""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jwt

(signetd_bin, signet_bin, state, issuer, audience, secret_file, node_dir,
 min_rotations, log_path) = sys.argv[1:10]
min_rotations = int(min_rotations)
secret = open(secret_file).read().strip()
jwks_uri = issuer + "/jwks.json"
base = issuer.rsplit("/t/", 1)[0]
log = open(log_path, "ab")
failures = []


def note(msg):
    print(msg, flush=True)


def start_signetd():
    p = subprocess.Popen([signetd_bin, "--state", state], stdout=log, stderr=log)
    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return p
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if p.poll() is not None:
            raise SystemExit("signetd exited during start-up")
        time.sleep(0.1)
    raise SystemExit("signetd never became ready")


def stop_signetd(p):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    if rc != 0:
        failures.append("signetd exit status %d after SIGTERM" % rc)


def fetch_token():
    req = urllib.request.Request(
        issuer + "/token", data=b"grant_type=client_credentials", method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + base64.b64encode(("demo:" + secret).encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["access_token"]


def header(tok):
    p = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def claims(tok):
    p = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


pyjwk = jwt.PyJWKClient(jwks_uri, cache_jwk_set=True, lifespan=1)


def verify_py(tok):
    try:
        key = pyjwk.get_signing_key_from_jwt(tok)
        jwt.decode(tok, key.key, algorithms=["ES256", "EdDSA", "PS256"], issuer=issuer,
                   audience=audience)
        return None
    except Exception as e:  # every failure counts, whatever its type
        return "%s: %s" % (type(e).__name__, e)


node = subprocess.Popen(
    ["node", os.path.join(node_dir, "verify_jose.mjs"), issuer, audience, jwks_uri, "1000"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def verify_jose(tok):
    node.stdin.write(tok + "\n")
    node.stdin.flush()
    line = node.stdout.readline().strip()
    return None if line.startswith("OK ") else (line or "jose verifier died")


def verify_both(tok, what):
    bad = [(n, e) for n, e in (("PyJWT", verify_py(tok)), ("jose", verify_jose(tok))) if e]
    for n, e in bad:
        failures.append("%s: %s rejected a token (kid %s): %s" % (what, n, header(tok)["kid"], e))
    return not bad


def retired_kids():
    with urllib.request.urlopen(jwks_uri, timeout=5) as r:
        return {k["kid"] for k in json.load(r)["keys"] if "active_until" in k}


signetd = start_signetd()
kids = []            # ACTIVE keys in the order they signed
kept = []            # (token, kid, exp) for re-verification
tokens = verified = retired_checks = 0
restarted = False
start = time.time()
deadline = start + 150
while len(kids) - 1 < min_rotations and time.time() < deadline:
    tok = fetch_token()
    tokens += 1
    kid = header(tok)["kid"]
    if not kids or kids[-1] != kid:
        if kid in kids:
            failures.append("kid %s signed again after being replaced" % kid)
        kids.append(kid)
        note("rotation %d: ACTIVE kid %s (t=%.1fs)" % (len(kids) - 1, kid, time.time() - start))
    if verify_both(tok, "fresh token"):
        verified += 1
    kept.append((tok, kid, claims(tok)["exp"]))
    # Tokens of keys that are now RETIRED must keep verifying until exp.
    now = time.time()
    kept = [k for k in kept if k[2] > now + 5]  # margin for slow verifier start-up under load
    if tokens % 10 == 0:
        retired = retired_kids()
        for t, k, _ in kept:
            if k in retired and k != kid:
                if verify_both(t, "token of a RETIRED key"):
                    retired_checks += 1
    if not restarted and len(kids) - 1 >= min_rotations // 2:
        note("restarting signetd")
        stop_signetd(signetd)
        signetd = start_signetd()
        restarted = True
        for t, _, _ in kept:  # tokens issued before the restart
            if verify_both(t, "token from before the restart"):
                verified += 1
    time.sleep(0.2)

if len(kids) - 1 < min_rotations:
    failures.append("only %d rotations in %.0fs" % (len(kids) - 1, time.time() - start))
if retired_checks == 0:
    failures.append("no token of a RETIRED key was re-verified")

# Emergency revoke of the ACTIVE key while signetd runs.
tok = fetch_token()
victim = header(tok)["kid"]
if not verify_both(tok, "token before revoke"):
    failures.append("the pre-revoke token did not verify")
r = subprocess.run([signet_bin, "revoke", "--state", state, victim], capture_output=True, text=True)
note("signet revoke %s: exit %d %s" % (victim, r.returncode, (r.stdout + r.stderr).strip()[:300]))
if r.returncode != 0:
    failures.append("signet revoke failed: " + r.stderr.strip())
else:
    time.sleep(1.6)  # the verifiers' cache lifetime (jwks_max_age 1 s) and then some
    if verify_py(tok) is None:
        failures.append("PyJWT still accepts a token of the revoked key")
    if verify_jose(tok) is None:
        failures.append("jose still accepts a token of the revoked key")
    after = fetch_token()
    if header(after)["kid"] == victim:
        failures.append("the revoked key still signs")
    elif verify_both(after, "token after revoke"):
        verified += 1

stop_signetd(signetd)
node.stdin.close()
node.wait(timeout=10)
note("tokens=%d verified_by_both=%d rotations=%d retired_checks=%d restarted=%s failures=%d"
     % (tokens, verified, len(kids) - 1, retired_checks, restarted, len(failures)))
for f in failures[:20]:
    note("FAILURE: " + f)
sys.exit(1 if failures else 0)
