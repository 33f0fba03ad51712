#!/usr/bin/env bash
# Status page in a real browser: renders the demo page (test_statuspage
# --render), serves it from python3 -m http.server on 127.0.0.1, loads it in
# headless Chromium, checks the rendered DOM (two SVG timelines with key
# spans and the "now" marker, eight invariant rows, the violated one red),
# checks the browser fetched nothing but the page itself (the page is
# self-contained), and takes a screenshot. SIGNET_UPDATE_DOCS=1 copies the
# screenshot to docs/status-page.png.
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
n_rows=$(grep -o '<tr class="inv [a-z]*" id="inv-I[1-8]"' "$work/dom.html" | wc -l)
[ "$n_rows" -eq 8 ] || fail "expected 8 invariant rows, got $n_rows"
grep -q '<tr class="inv violated" id="inv-I7"' "$work/dom.html" || fail "I7 row not red"
grep -q '<tr class="inv ok" id="inv-I1"' "$work/dom.html" || fail "I1 row not green"
n_now=$(grep -o '<line class="now"' "$work/dom.html" | wc -l)
[ "$n_now" -eq 2 ] || fail "expected a now marker per timeline, got $n_now"
grep -q 'class="span active"' "$work/dom.html" || fail "no ACTIVE span"
grep -q 'class="span published"' "$work/dom.html" || fail "no PUBLISHED span"
grep -q 'class="span retired"' "$work/dom.html" || fail "no RETIRED span"
grep -q 'n_fF6d_RBGJSGV_A' "$work/dom.html" || fail "kid label missing"
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

cp "$work/status-page.png" "$build/status-page.png"
if [ "${SIGNET_UPDATE_DOCS:-0}" = 1 ]; then
  cp "$work/status-page.png" "$src/docs/status-page.png"
  echo "updated docs/status-page.png"
fi
echo "status page: OK"
