#!/usr/bin/env bash
# Who may read /metrics, /status and /status.json (issue 11: they show every
# tenant, kid, timeline and the next rotation time), against a real signetd:
# - by default they are served on a telemetry listener of their own,
#   127.0.0.1:9464, and the public listener answers 404 for them, from any
#   peer, loopback included, while the token endpoints and the JWKS serve;
# - [server] telemetry_listen moves that listener; it serves telemetry and
#   the probes only, no OAuth endpoint;
# - telemetry_listen = off: no telemetry listener, and still nothing public;
# - telemetry_public = true opts the public listener in;
# - a telemetry_listen on the public port is refused at start; a default
#   telemetry port that is taken is skipped with a warning (signetd serves).
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
tport=$(free_port)
state=$work/state
base=http://127.0.0.1:$port
iss=$base/t/default
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
cp "$state/signet.conf" "$work/base.conf"

# code URL [curl args]: the HTTP status.
code() {
  local url=$1
  shift
  curl -s -o "$work/body" -w '%{http_code}' "$@" "$url" || echo 000
}
configure() {
  cp "$work/base.conf" "$state/signet.conf"
  printf '[server]\n' >>"$state/signet.conf"
  printf '%s\n' "$@" >>"$state/signet.conf"
}
# run_signetd: without lib.sh's start_signetd, which adds a telemetry listener.
run_signetd() {
  "$SIGNETD" --state "$state" >>"$work/signetd.log" 2>&1 &
  signetd_pid=$!
  wait_http "$base/readyz"
}
port_free() { $py -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null; }
public_refuses_telemetry() {
  local p c h
  for p in /metrics /status /status.json; do
    for h in "X-Test: none" "X-Forwarded-For: 203.0.113.9"; do
      c=$(code "$base$p" -H "$h")
      [ "$c" = 404 ] || fail "$1: $p on the public listener ($h): $c, telemetry exposed"
      grep -q 'kid\|signet_' "$work/body" && fail "$1: the refusal of $p shows telemetry"
    done
  done
  [ "$(code "$iss/jwks.json")" = 200 ] || fail "$1: JWKS on the public listener"
}

# ---- the default: 127.0.0.1:9464 ----------------------------------------------
configure "listen = 127.0.0.1:$port"
default_free=0
port_free 9464 && default_free=1
run_signetd
public_refuses_telemetry "default"
if [ "$default_free" = 1 ]; then
  for p in /metrics /status /status.json /readyz; do
    [ "$(code "http://127.0.0.1:9464$p")" = 200 ] || fail "$p on the default telemetry listener"
  done
  [ "$(code "http://127.0.0.1:9464/t/default/jwks.json")" = 404 ] ||
    fail "the default telemetry listener serves the JWKS"
else
  echo "note: 127.0.0.1:9464 is taken here; the default listener's own checks are not run"
fi
stop_signetd || fail "signetd did not stop cleanly"

# ---- a telemetry listener where the operator says ------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$tport"
run_signetd
public_refuses_telemetry "telemetry_listen"
for p in /metrics /status /status.json; do
  [ "$(code "http://127.0.0.1:$tport$p")" = 200 ] || fail "$p on the telemetry listener"
done
grep -q '"invariants"' "$work/body" || fail "status.json on the telemetry listener: $(cat "$work/body")"
[ "$(code "http://127.0.0.1:$tport/readyz")" = 200 ] || fail "/readyz on the telemetry listener"
[ "$(code "http://127.0.0.1:$tport/healthz")" = 200 ] || fail "/healthz on the telemetry listener"
for p in /t/default/jwks.json /t/default/.well-known/openid-configuration; do
  [ "$(code "http://127.0.0.1:$tport$p")" = 404 ] || fail "$p served on the telemetry listener"
done
c=$(code "http://127.0.0.1:$tport/t/default/token" -d grant_type=client_credentials)
[ "$c" = 404 ] || fail "the token endpoint answers on the telemetry listener: $c"
stop_signetd || fail "signetd did not stop cleanly"

# ---- off: none at all ----------------------------------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = off"
run_signetd
public_refuses_telemetry "telemetry_listen = off"
stop_signetd || fail "signetd did not stop cleanly"

# ---- telemetry_public: the operator opts in -----------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = off" "telemetry_public = true"
run_signetd
[ "$(code "$base/metrics")" = 200 ] && grep -q '^signet_' "$work/body" ||
  fail "telemetry_public does not serve /metrics"
stop_signetd || fail "signetd did not stop cleanly"

# ---- a telemetry listener on the public port: refused --------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$port"
rc=0
timeout 20 "$SIGNETD" --state "$state" >"$work/refused.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "another port" "$work/refused.log" ||
  fail "telemetry_listen on the public port accepted (rc $rc): $(head -c 300 "$work/refused.log")"

# ---- an explicit telemetry port that is taken: no start -------------------------
$py -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' \
  "$tport" &
holder=$!
sleep 0.5
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$tport"
rc=0
timeout 20 "$SIGNETD" --state "$state" >"$work/taken.log" 2>&1 || rc=$?
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "telemetry_listen" "$work/taken.log" ||
  fail "an explicit telemetry port that is taken did not stop the start (rc $rc)"
echo "telemetry listener: ok"
