# Shared by the signetd integration tests (sourced). Needs SIGNET_BUILD_DIR,
# SIGNET_BIN and SIGNET_SIGNER (set by CTest).
: "${SIGNET_SOURCE_DIR:?}" "${SIGNET_BUILD_DIR:?}" "${SIGNET_BIN:?}"
SIGNETD=${SIGNETD:-$SIGNET_BUILD_DIR/src/signetd}
[ -x "$SIGNETD" ] || { echo "SKIP: $SIGNETD not built (libmicrohttpd missing?)"; exit 0; }
helpers=$SIGNET_SOURCE_DIR/tests/integration/signetd
work=$(mktemp -d "${TMPDIR:-/tmp}/signetd-test.XXXXXX")
chmod 0711 "$work" # the state inside is reached by the accounts signet and signet-signer
signetd_pid=
# A python with PyJWT (Debian's python3-jwt), whichever python3 is first in PATH.
py=python3
$py -c 'import jwt, cryptography' 2>/dev/null || py=/usr/bin/python3

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$work/signetd.log" ]; then
    echo "--- last lines of signetd.log" >&2
    tail -n 30 "$work/signetd.log" >&2
  fi
  exit 1
}

cleanup() {
  if [ -n "$signetd_pid" ] && kill -0 "$signetd_pid" 2>/dev/null; then
    kill -TERM "$signetd_pid" 2>/dev/null || true
    wait "$signetd_pid" 2>/dev/null || true
  fi
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

# npm_once DIR PKG@MAJOR...: installs the packages into DIR unless every one
# is there, under a lock: tests sharing DIR may run at once (ctest -j).
# puppeteer-core never downloads a browser.
npm_once() {
  local dir=$1 p missing=
  shift
  mkdir -p "$dir"
  (
    flock 9
    for p in "$@"; do
      [ -f "$dir/node_modules/${p%@*}/package.json" ] || missing=1
    done
    [ -z "$missing" ] && exit 0
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$dir" --no-audit --no-fund --silent "$@" \
      >/dev/null
  ) 9>"$dir/.npm.lock" || fail "npm install $* failed"
}

# browser_setup SCRIPT.mjs: what a people browser test needs. Checks for
# Chromium (CHROMIUM or /usr/bin/chromium) and Node.js 20 or later, installs
# puppeteer-core, openid-client and jose once into $SIGNET_BUILD_DIR/node and
# copies SCRIPT.mjs and browser_lib.mjs there (ESM resolves packages next to
# the script). Sets chromium, node_dir and shots (SIGNET_SCREENSHOTS made
# absolute and created, or "").
browser_setup() {
  chromium=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$chromium" ] || fail "$chromium is missing: scripts/deps.sh installs the chromium package"
  command -v node >/dev/null && command -v npm >/dev/null ||
    fail "node and npm are missing: scripts/deps.sh installs them"
  [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
    fail "node $(node --version) is too old: openid-client 6 needs Node.js 20 or later"
  node_dir=$SIGNET_BUILD_DIR/node
  npm_once "$node_dir" puppeteer-core@24 openid-client@6 jose@5
  cp "$helpers/browser_lib.mjs" "$helpers/$1" "$node_dir/"
  shots=
  if [ -n "${SIGNET_SCREENSHOTS:-}" ]; then
    mkdir -p "$SIGNET_SCREENSHOTS"
    shots=$(cd "$SIGNET_SCREENSHOTS" && pwd)
  fi
}

free_port() {
  $py - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# start_signetd STATE [extra signetd args...]: starts it in the background
# (log appended to $work/signetd.log), sets signetd_pid.
# start_signetd STATE [ARGS]: in the background. Unless its config names a
# telemetry listener, one on a free loopback port is added (the default
# port, 9464, would be raced for by tests running side by side); $tbase is
# its URL (/metrics, /status, /status.json).
start_signetd() {
  local state=$1
  shift
  if ! grep -q '^telemetry_listen' "$state/signet.conf" 2>/dev/null; then
    printf '[server]\ntelemetry_listen = 127.0.0.1:%s\n' "$(free_port)" >>"$state/signet.conf"
  fi
  tbase=http://$(sed -n 's/^telemetry_listen = //p' "$state/signet.conf" | tail -1)
  "$SIGNETD" --state "$state" "$@" >>"$work/signetd.log" 2>&1 &
  signetd_pid=$!
}

# wait_http URL [expected-status]: until the URL answers (with that status).
wait_http() {
  local url=$1 want=${2:-200} code
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
    [ "$code" = "$want" ] && return 0
    kill -0 "$signetd_pid" 2>/dev/null || fail "signetd exited while waiting for $url"
    sleep 0.1
  done
  fail "$url never answered $want (last: $code)"
}

stop_signetd() {
  [ -n "$signetd_pid" ] || return 0
  kill -TERM "$signetd_pid"
  local rc=0
  wait "$signetd_pid" || rc=$?
  signetd_pid=
  return $rc
}

# json_get FILE EXPR: a python expression over the parsed document "d".
json_get() {
  $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# jwt_part TOKEN N: the decoded JSON of part N (0 header, 1 claims).
jwt_part() {
  $py -c 'import base64,sys; p=sys.argv[1].split(".")[int(sys.argv[2])]; sys.stdout.write(base64.urlsafe_b64decode(p+"="*(-len(p)%4)).decode())' "$1" "$2"
}

count_signatures() {
  grep -c '"type":"sign"' "$1/signer/audit.log" || true
}

# as_signer STATE: the command prefix that runs a tool as the owner of
# STATE/signer (as root: signet-signer; nothing when that is who we are).
as_signer() {
  local uid
  uid=$(stat -c %u "$1/signer")
  [ "$uid" = "$(id -u)" ] || echo "setpriv --reuid=$uid --regid=$(id -g "$uid") --clear-groups"
}
