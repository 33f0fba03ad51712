#!/usr/bin/env bash
# Relying parties follow every key change (issue 11), against a real signetd
# (SoftHSM2, real signers) and a long-lived libsignet verifier
# (tests/tools/rp_verify.c) reading the JWKS through a small proxy:
# - signetd's JWKS makes no promise it may break: every key's active_from,
#   the standby's included, is already past;
# - an emergency revoke (`signet revoke` while signetd runs), with the RP's
#   cached JWKS still carrying the standby's old *future* active_from (the
#   proxy puts it back, as signetd published it before): the standby's first
#   token is refused by the cached window, refreshes once and verifies at
#   once, not after the 300 s max-age; the revoked key's token is refused
#   after that refresh;
# - a second revoke, with the JWKS as signetd publishes it (true, past
#   active_from): the new key's first token verifies from the cache and makes
#   the RP refetch at once, so the revoked key's tokens are refused within
#   moments rather than after the cache lifetime;
# - the cached set expired and the JWKS endpoint slow (8 s per answer):
#   verifications are answered at once from the stale set while one refresh
#   runs in the background, and never two fetches at a time.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
RP=$SIGNET_BUILD_DIR/tests/rp_verify
[ -x "$RP" ] || fail "rp_verify not built"

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/default
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
EOF
"$SIGNET_BIN" client add --state "$state" --tenant default --id web --audience https://api.rp \
  --secret-file "$work/web.secret" >/dev/null || fail "client add"
start_signetd "$state"
wait_http "$base/readyz"

$py - "$RP" "$SIGNET_BIN" "$state" "$iss" "$work/web.secret" <<'PY' || fail "see above"
import base64, json, subprocess, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

rp_bin, signet_bin, state, iss, secret_file = sys.argv[1:6]
secret = open(secret_file).read().strip()
failures = []

def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)

def token():
    req = urllib.request.Request(iss + "/token", data=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization":
                 "Basic " + base64.b64encode(("web:" + secret).encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["access_token"]

def kid_of(tok):
    p = tok.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["kid"]

def jwks():
    with urllib.request.urlopen(iss + "/jwks.json", timeout=10) as r:
        return json.load(r)

# ---- the proxy the relying parties fetch from --------------------------------
proxy = {"future": set(), "max_age": 300, "delay": 0.0, "hits": 0, "inflight": 0,
         "max_inflight": 0}
plock = threading.Lock()

class Proxy(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        with plock:
            proxy["hits"] += 1
            proxy["inflight"] += 1
            proxy["max_inflight"] = max(proxy["max_inflight"], proxy["inflight"])
            delay, future, max_age = proxy["delay"], set(proxy["future"]), proxy["max_age"]
        try:
            time.sleep(delay)
            doc = jwks()
            for k in doc["keys"]:
                if k["kid"] in future:  # the promise signetd used to publish
                    k["active_from"] = int(time.time()) + 3600
            body = json.dumps(doc).encode()
        finally:
            # Out of flight before answering: the client's next request can
            # only come after this answer.
            with plock:
                proxy["inflight"] -= 1
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=%d" % max_age)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
jwks_url = "http://127.0.0.1:%d/jwks" % srv.server_address[1]

class RP:
    def __init__(self, cooldown, cmin, cmax):
        self.p = subprocess.Popen([rp_bin, iss, "https://api.rp", jwks_url, str(cooldown),
                                   str(cmin), str(cmax)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
    def verify(self, tok):
        t = time.monotonic()
        self.p.stdin.write(tok + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().split()
        return (line[0] if line else "rp_verify died"), time.monotonic() - t
    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)

# ---- 1. the published windows are true ----------------------------------------
t1 = token()
active = kid_of(t1)
doc = jwks()
now = time.time()
standby = [k["kid"] for k in doc["keys"] if k["kid"] != active and "active_until" not in k]
check(len(standby) >= 1, "a standby key is published (%s)" % standby)
check(all(k["active_from"] <= now + 1 for k in doc["keys"]),
      "no key's active_from is in the future: %s" % [(k["kid"][:8], k["active_from"] - int(now))
                                                  for k in doc["keys"]])

# ---- 2. emergency revoke: the RP follows within its cooldown --------------------
proxy["future"] = set(standby)  # the RP caches what signetd published before
rp = RP(cooldown=2, cmin=60, cmax=86400)
res, _ = rp.verify(t1)
check(res == "SIGNET_OK", "the RP verifies a token of the ACTIVE key (%s)" % res)
time.sleep(2.5)  # the cooldown since the RP's first fetches has passed
hits = proxy["hits"]
r = subprocess.run([signet_bin, "revoke", "--state", state, active], capture_output=True,
                   text=True)
check(r.returncode == 0, "signet revoke %s: %s" % (active[:8], (r.stdout + r.stderr).strip()[:200]))
proxy["future"] = set()  # the standby is ACTIVE now: its true start is published
t2 = token()
check(kid_of(t2) in standby, "the standby signs after the revoke")
res, took = rp.verify(t2)
check(res == "SIGNET_OK", "the standby's first token verifies at once from the cached RP "
      "(%s in %.2fs; before: KEY_NOT_ACTIVE_AT_IAT until the 300 s max-age)" % (res, took))
check(proxy["hits"] == hits + 1, "by exactly one refresh (%d)" % (proxy["hits"] - hits))
res, _ = rp.verify(t1)
check(res == "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET",
      "the revoked key's token is refused after that refresh (%s)" % res)

# ---- 2b. a second revoke (forced: one per pre-publication window otherwise) --
# The new standby's active_from is past, so its first token verifies from the
# cache; being a new key's first signature, it has the refresh thread refetch
# at once, and the revoked key's tokens are refused within moments (not at
# 3/4 of the 300 s max-age).
# The scheduler makes the next standby after the revoke, maybe after the
# RP's refresh above: a fresh RP caches the set once that standby is
# published, so that the check below is about the new signer, not an
# unknown kid.
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if any(k["kid"] != kid_of(t2) and "active_until" not in k for k in jwks()["keys"]):
        break
    time.sleep(0.2)
rp.close()
rp = RP(cooldown=2, cmin=60, cmax=86400)
res, _ = rp.verify(t2)
check(res == "SIGNET_OK", "a fresh RP caches the set with the next standby (%s)" % res)
time.sleep(2.5)  # past the cooldown again
r = subprocess.run([signet_bin, "revoke", "--force", "--state", state, kid_of(t2)],
                   capture_output=True, text=True)
check(r.returncode == 0, "second revoke: %s" % (r.stdout + r.stderr).strip()[:200])
t3 = token()
proxy["delay"] = 3.0  # a verification that had to fetch would take this long
res, took = rp.verify(t3)
check(res == "SIGNET_OK" and took < 1.5,
      "the new standby's first token verifies from the cached set (%s in %.2fs)" % (res, took))
start = time.monotonic()
res = "SIGNET_OK"
while res == "SIGNET_OK" and time.monotonic() < start + 20:
    time.sleep(0.1)
    res, _ = rp.verify(t2)
check(res == "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET",
      "the revoked key's token is refused %.1fs after the new key's first token, the "
      "refetch taking 3 s (%s)" % (time.monotonic() - start, res))
proxy["delay"] = 0.0
rp.close()

# ---- 3. stale-while-revalidate with a slow JWKS endpoint ------------------------
proxy["max_age"] = 2
rp = RP(cooldown=30, cmin=2, cmax=2)
res, _ = rp.verify(t3)
check(res == "SIGNET_OK", "the second RP verifies (%s)" % res)
proxy["delay"] = 8.0
with plock:
    proxy["max_inflight"] = proxy["inflight"]
time.sleep(3.0)  # the 2 s cached set has expired; the refresh thread is fetching
worst = 0.0
for _ in range(10):
    res, took = rp.verify(t3)
    worst = max(worst, took)
    if res != "SIGNET_OK":
        check(False, "the stale set serves (%s)" % res)
check(worst < 1.5, "verifications answered at once from the stale set (worst %.2fs, the "
      "fetch takes 8 s)" % worst)
proxy["delay"] = 0.0
time.sleep(9.0)  # the slow fetch completes; the next ones are fast
res, took = rp.verify(t3)
check(res == "SIGNET_OK" and took < 1.5, "and after the slow refresh (%s, %.2fs)" % (res, took))
check(proxy["max_inflight"] == 1, "never two fetches at a time (%d)" % proxy["max_inflight"])
rp.close()
srv.shutdown()
sys.exit(1 if failures else 0)
PY
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "libsignet relying parties followed the revoke and served stale sets without waiting"
