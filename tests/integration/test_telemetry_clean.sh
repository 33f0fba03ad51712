#!/usr/bin/env bash
# The converse of test_telemetry_invariants.sh: a clean run raises nothing.
# signetd with two tenants rotates a few hundred times (a 10 s rotation
# period on an injected clock the test advances step by step, the
# scheduler polling every 100 ms), while tokens are issued and reported;
# max_key_age is raised to 120 s because the clock moves in 10 s steps, so a
# RETIRED key may wait up to a step longer for its destruction than it would
# on a real clock;
# every invariant is checked every second. The webhook receiver must see no
# alert at all, /status.json must show every invariant ok (I8 unknown in a
# build without the sandbox), no violation may be counted in /metrics, and
# the audit chain stays whole.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
source "$(dirname "$0")/telemetry/lib.sh"
# 300 rotations (200 in a sanitizer build, whose signers are slower).
if grep -q '^SIGNET_SANITIZE:BOOL=ON' "$SIGNET_BUILD_DIR/CMakeCache.txt"; then ROTATIONS=${ROTATIONS:-200}; fi
ROTATIONS=${ROTATIONS:-300}

port=$(free_port)
base=http://127.0.0.1:$port
state=$work/state
clock=$work/clock
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" >/dev/null || fail "signet init"
# The injected clock starts a minute after init's keys, so that their
# standbys have been published long enough when `signet rotate` below
# moves both tenants onto the 10 s period (init refuses sub-minute ones).
t0=$(($(date +%s) + 60))
set_clock "$t0"
start_webhook
sed -i -e 's/^rotation_period = .*/rotation_period = 10s/' -e 's/^jwks_max_age = .*/jwks_max_age = 2s/' \
  -e 's/^clock_skew = .*/clock_skew = 1s/' -e 's/^max_token_lifetime = .*/max_token_lifetime = 3s\nmax_key_age = 120s/' \
  -e 's/^token_lifetime = .*/token_lifetime = 3s/' "$state/signet.conf"
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
rate_limit = 1000
rate_burst = 1000
[testing]
clock_file = $clock
allow_short_rotation = true
[alerts]
webhook_url = $hook_url
webhook_backoff = 100ms
[invariants]
interval = 1s
audit_full_verify = 5s
EOF
"$SIGNET_BIN" client add --state "$state" --tenant a --id web --scope read --audience https://api.a \
  --secret-file "$work/web.secret" >/dev/null || fail "client add"
"$SIGNET_BIN" client add --state "$state" --tenant a --id rp --scope signet:report --audience https://rp.a \
  --secret-file "$work/rp.secret" >/dev/null || fail "client add rp"

"$SIGNET_BIN" rotate --state "$state" >/dev/null || fail "signet rotate"
start_signetd "$state"
wait_http "$base/readyz"

$py - "$base" "$clock" "$t0" "$ROTATIONS" "$work/signetd.log" "$work/web.secret" "$work/rp.secret" <<'PY' || fail "rotation driver"
import base64, hashlib, json, os, sys, time, urllib.request
base, clock, t0, want, log, web, rp = sys.argv[1:8]
t0, want = int(t0), int(want)
web = open(web).read().strip()
rp = open(rp).read().strip()

def auth(user, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()

def post(url, data, headers):
    req = urllib.request.Request(url, data=data, method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)

def activations():
    n = 0
    with open(log, "rb") as f:
        for line in f:
            if b"comp=signetd event=key_transition" in line and b"to=ACTIVE" in line:
                n += 1
    return n

now = t0
start = activations()
tokens, reported, t_start = [], 0, time.monotonic()
while activations() - start < want:
    before = activations()
    now += 10
    # in place: the signer's Landlock rule covers this file, not a renamed one
    with open(clock, "w") as f:
        f.write(str(now))
    deadline = time.monotonic() + 10
    while activations() < before + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    if activations() < before + 2:
        sys.exit("no rotation after the clock moved to %d" % now)
    tok = post(base + "/t/a/token", b"grant_type=client_credentials",
               {"Authorization": auth("web", web),
                "Content-Type": "application/x-www-form-urlencoded"})["access_token"]
    tokens.append(tok)
    if len(tokens) == 10:
        body = {"reports": []}
        for t in tokens:
            h = json.loads(base64.urlsafe_b64decode(t.split(".")[0] + "=="))
            c = json.loads(base64.urlsafe_b64decode(t.split(".")[1] + "=="))
            body["reports"].append({"iss": c["iss"], "kid": h["kid"], "jti": c["jti"],
                                    "token_sha256": hashlib.sha256(t.encode()).hexdigest()})
        res = post(base + "/t/a/reports", json.dumps(body).encode(),
                   {"Authorization": auth("rp", rp), "Content-Type": "application/json"})
        bad = [r for r in res["results"] if r not in ("issued", "retired_key", "stale_key")]
        if bad:
            sys.exit("verdicts on genuine tokens: %s" % res)
        reported += len(tokens)
        tokens = []
print("%d rotations, %d tokens reported, in %.1fs" % (activations() - start, reported,
                                                    time.monotonic() - t_start))
PY
# Let every check run at least twice more on the final state.
sleep 2.5
[ "$(alerts_count)" = 0 ] || fail "alerts during a clean run: $(head -c 3000 "$hook_log")"
wait_states "$tbase" "$all_ok" 5
curl -fsS "$tbase/metrics" >"$work/metrics.txt"
grep '^signet_invariant_violations_total' "$work/metrics.txt" | grep -v ' 0$' && fail "violations counted"
grep -q '^signet_alerts_total' "$work/metrics.txt" && fail "alerts counted: $(grep '^signet_alerts_total' "$work/metrics.txt")"
stop_signetd || fail "signetd exit status after SIGTERM"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain"
grep -q 'AddressSanitizer\|runtime error' "$work/signetd.log" && fail "sanitizer report"
echo "telemetry clean run: OK"
