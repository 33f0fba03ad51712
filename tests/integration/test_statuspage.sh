#!/usr/bin/env bash
# Status page in a real browser. First the demo page (test_statuspage
# --render) served by python3 -m http.server on 127.0.0.1: headless
# Chromium loads it, the rendered DOM is checked (two SVG timelines with key
# spans and the "now" marker, eight invariant rows, the violated one red)
# and the browser must have fetched nothing but the page itself. Then a LIVE
# signetd (two tenants, three rotations on an injected clock, tokens) serves
# /status: the same DOM checks on what it renders, no invariant red, the
# trust boundary line ("enforced" as root), and a screenshot. SIGNET_UPDATE_DOCS=1 copies that screenshot to
# docs/status-page.png.
set -euo pipefail
src=${SIGNET_SOURCE_DIR:?}
build=${SIGNET_BUILD_DIR:?}
render=$build/tests/test_statuspage

if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium missing: trying apt-get install chromium"
  if ! { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1; }; then
    echo "SKIPPED: chromium is not installed and apt-get install chromium failed"
    exit 0
  fi
fi

work=$(mktemp -d)
chmod 0711 "$work" # reached by the accounts signet and signet-signer
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/site" "$work/profile"
"$render" --render "$work/site/status.html"

# A loopback server on a free port; its request log shows what the browser fetched.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >>"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/status.html" 2>/dev/null && break
  sleep 0.1
done
: >"$work/server.log"

chrome() {
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1280,900 "$@" 2>>"$work/chrome.err"
}

chrome --dump-dom "http://127.0.0.1:$port/status.html" >"$work/dom.html"
fail() { echo "FAIL: $*"; echo "--- DOM (head)"; head -c 2000 "$work/dom.html"; exit 1; }
n_svg=$(grep -o '<svg class="timeline"' "$work/dom.html" | wc -l)
[ "$n_svg" -eq 2 ] || fail "expected 2 SVG timelines, got $n_svg"
n_rows=$(grep -o '<tr class="inv [a-z]*" id="inv-I[1-9][0-9]*"' "$work/dom.html" | wc -l)
[ "$n_rows" -eq 10 ] || fail "expected 10 invariant rows, got $n_rows"
grep -q '<tr class="inv violated" id="inv-I7"' "$work/dom.html" || fail "I7 row not red"
grep -q '<tr class="inv ok" id="inv-I1"' "$work/dom.html" || fail "I1 row not green"
n_now=$(grep -o '<line class="now"' "$work/dom.html" | wc -l)
[ "$n_now" -eq 2 ] || fail "expected a now marker per timeline, got $n_now"
grep -q 'class="span active"' "$work/dom.html" || fail "no ACTIVE span"
grep -q 'class="span published"' "$work/dom.html" || fail "no PUBLISHED span"
grep -q 'class="span retired"' "$work/dom.html" || fail "no RETIRED span"
grep -q 'n_fF6d_RBGJSGV_A' "$work/dom.html" || fail "kid label missing"
grep -q 'Trust boundary: enforced</h2>' "$work/dom.html" || fail "no trust boundary line"
if grep -qi '<script' "$work/dom.html"; then fail "script in the page"; fi

chrome --screenshot="$work/status-page.png" "http://127.0.0.1:$port/status.html" >/dev/null
python3 - "$work/status-page.png" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1280, 900), (w, h)
assert len(data) > 20000, "suspiciously small screenshot"
print(f"screenshot {w}x{h}, {len(data)} bytes")
PY

# Only the page itself was fetched (a favicon probe aside): no external assets.
if grep -av 'GET /status.html' "$work/server.log" | grep -av 'GET /favicon.ico' | grep -aq 'GET '; then
  echo "FAIL: the browser fetched more than the page:"; cat "$work/server.log"; exit 1
fi
grep -aq 'GET /status.html' "$work/server.log" || { echo "FAIL: page not fetched over HTTP"; exit 1; }

# ---- the live page, served by signetd ------------------------------------------
SIGNET_BIN=${SIGNET_BIN:-$build/src/signet}
signetd=$build/src/signetd
if [ ! -x "$signetd" ]; then echo "SKIP live page: $signetd not built"; echo "status page: OK"; exit 0; fi
state=$work/state
clock=$work/clock
lport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
lbase=http://127.0.0.1:$lport
"$SIGNET_BIN" init --state "$state" --issuer "$lbase/t/acme" --issuer "$lbase/t/globex" >/dev/null
# The injected clock starts after init's keys were made (time never runs
# backwards); `signet rotate` puts both tenants on the 10-minute period.
t0=$(($(date +%s) + 60))
echo "$t0" >"$clock"
sed -i -e 's/^rotation_period = .*/rotation_period = 10m/' -e 's/^jwks_max_age = .*/jwks_max_age = 60s/' \
  -e 's/^clock_skew = .*/clock_skew = 30s/' -e 's/^max_token_lifetime = .*/max_token_lifetime = 5m/' \
  -e 's/^token_lifetime = .*/token_lifetime = 5m/' "$state/signet.conf"
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tbase=http://127.0.0.1:$tport
printf '[server]\nlisten = 127.0.0.1:%s\ntelemetry_listen = 127.0.0.1:%s\n[testing]\nclock_file = %s\n[invariants]\ninterval = 1s\n' \
  "$lport" "$tport" "$clock" >>"$state/signet.conf"
"$SIGNET_BIN" client add --state "$state" --tenant acme --id web --scope read --audience https://api.acme \
  --secret-file "$work/web.secret" >/dev/null
"$SIGNET_BIN" rotate --state "$state" >/dev/null
"$signetd" --state "$state" >>"$work/signetd.log" 2>&1 &
signetd_pid=$!
live_cleanup() { kill "$signetd_pid" 2>/dev/null || true; wait "$signetd_pid" 2>/dev/null || true; cleanup; }
trap live_cleanup EXIT
for _ in $(seq 100); do curl -fsS -o /dev/null "$lbase/readyz" 2>/dev/null && break; sleep 0.1; done
# Half an hour on the injected clock in 200 s steps (three rotations), with
# a growing number of tokens per step.
python3 - "$lbase" "$clock" "$t0" "$work/web.secret" <<'PY'
import base64, os, sys, time, urllib.request
base, clock, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
secret = open(sys.argv[4]).read().strip()
def token():
    req = urllib.request.Request(base + "/t/acme/token", data=b"grant_type=client_credentials",
        headers={"Authorization": "Basic " + base64.b64encode(("web:" + secret).encode()).decode(),
                 "Content-Type": "application/x-www-form-urlencoded"})
    urllib.request.urlopen(req, timeout=10).read()
for step in range(9):
    now += 200
    # in place: the signer's Landlock rule covers this file, not a renamed one
    with open(clock, "w") as f:
        f.write(str(now))
    time.sleep(0.4)
    for _ in range(3 + 2 * step):
        token()
time.sleep(1.2)  # a monitor cycle: the issuance rate
PY
ok=0
for _ in $(seq 50); do
  if curl -fsS "$tbase/status.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=[i["state"] for i in d["invariants"]]; sys.exit(0 if "violated" not in s and s.count("ok") >= 7 else 1)'; then ok=1; break; fi
  sleep 0.2
done
[ "$ok" = 1 ] || { echo "FAIL: live invariants not green: $(curl -s "$tbase/status.json")"; exit 1; }
chrome --dump-dom "$tbase/status" >"$work/dom.html"
n_svg=$(grep -o '<svg class="timeline"' "$work/dom.html" | wc -l)
[ "$n_svg" -eq 2 ] || fail "live: expected 2 SVG timelines, got $n_svg"
n_rows=$(grep -o '<tr class="inv [a-z]*" id="inv-I[1-9][0-9]*"' "$work/dom.html" | wc -l)
[ "$n_rows" -eq 10 ] || fail "live: expected 10 invariant rows, got $n_rows"
n_ok=$(grep -o '<tr class="inv ok" id="inv-I[1-9][0-9]*"' "$work/dom.html" | wc -l)
[ "$n_ok" -ge 8 ] || fail "live: only $n_ok green invariant rows"
if grep -q '<tr class="inv violated"' "$work/dom.html"; then fail "live: a violated invariant"; fi
n_now=$(grep -o '<line class="now"' "$work/dom.html" | wc -l)
[ "$n_now" -eq 2 ] || fail "live: expected a now marker per timeline, got $n_now"
grep -q 'class="span active"' "$work/dom.html" || fail "live: no ACTIVE span"
grep -q 'class="span published"' "$work/dom.html" || fail "live: no PUBLISHED span"
grep -q 'class="span retired"' "$work/dom.html" || fail "live: no RETIRED span"
if grep -qi '<script' "$work/dom.html"; then fail "live: script in the page"; fi
# As root signetd splits the front end and the signers into two accounts.
if [ "$(id -u)" = 0 ]; then boundary=enforced; else boundary="not enforced (single account)"; fi
grep -q "Trust boundary: $boundary</h2>" "$work/dom.html" || fail "live: no 'Trust boundary: $boundary'"
grep -q '<tr id="sandbox-front">' "$work/dom.html" || fail "live: no front end sandbox row"
chrome --screenshot="$work/status-page.png" "$tbase/status" >/dev/null
grep -q 'method=GET path=/status status=200' "$work/signetd.log" || fail "live: /status not served"
# Only the page itself was fetched from signetd (a favicon probe aside; the
# JWKS documents are the monitor process's own fetches, for I4).
if grep -a 'event=http method=GET' "$work/signetd.log" |
   grep -av 'path=/status \|path=/status.json \|path=/readyz \|path=/favicon.ico ' |
   grep -av 'path=/t/[a-z0-9_-]*/jwks.json ' | grep -q .; then
  echo "FAIL: the browser fetched more than the page:"; grep -a 'method=GET' "$work/signetd.log"; exit 1
fi
python3 - "$work/status-page.png" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
assert struct.unpack(">II", data[16:24]) == (1280, 900)
print("live screenshot: %d bytes" % len(data))
PY

cp "$work/status-page.png" "$build/status-page.png"
if [ "${SIGNET_UPDATE_DOCS:-0}" = 1 ]; then
  cp "$work/status-page.png" "$src/docs/status-page.png"
  echo "updated docs/status-page.png"
fi
echo "status page: OK"
