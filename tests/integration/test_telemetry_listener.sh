#!/usr/bin/env bash
# Who may read /metrics, /status and /status.json (issue 11: they show every
# tenant, kid, timeline and the next rotation time), against a real signetd:
# - by default only loopback peers that came through no proxy: a request
#   carrying Forwarded / X-Forwarded-For / X-Real-IP (a reverse proxy on the
#   same host) gets 404, and so does a peer on a non-loopback address (when
#   this machine has one), while the token endpoints and the JWKS still serve;
# - with [server] telemetry_listen, telemetry is served there only (with the
#   probes), never on the public listener, even to loopback peers; the
#   telemetry listener serves no OAuth endpoint;
# - telemetry_public opts back into the public listener;
# - telemetry_listen together with telemetry_public is refused at start.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
tport=$(free_port)
state=$work/state
iss=http://127.0.0.1:$port/t/default
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

# ---- default: loopback peers without proxy headers only ----------------------
other=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' |
        grep -v '^127\.' | head -1 || true)
if [ -n "$other" ]; then
  configure "listen = 0.0.0.0:$port" "insecure_http = true"
else
  configure "listen = 127.0.0.1:$port"
fi
start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
for p in /metrics /status /status.json; do
  [ "$(code "http://127.0.0.1:$port$p")" = 200 ] || fail "$p from loopback: not served"
  for h in "X-Forwarded-For: 203.0.113.9" "Forwarded: for=203.0.113.9" "X-Real-IP: 203.0.113.9"; do
    c=$(code "http://127.0.0.1:$port$p" -H "$h")
    [ "$c" = 404 ] || fail "$p through a proxy ($h): $c, telemetry exposed"
  done
  grep -q 'kid\|tenant' "$work/body" && fail "$p refusal shows telemetry: $(cat "$work/body")"
done
[ "$(code "$iss/jwks.json" -H "X-Forwarded-For: 203.0.113.9")" = 200 ] ||
  fail "the JWKS is not served through a proxy"
if [ -n "$other" ]; then
  c=$(code "http://$other:$port/metrics")
  [ "$c" = 404 ] || fail "/metrics from a non-loopback peer ($other): $c"
  [ "$(code "http://$other:$port/status.json")" = 404 ] || fail "/status.json from $other"
  [ "$(code "http://$other:$port/t/default/jwks.json")" = 200 ] || fail "JWKS from $other"
else
  echo "note: no non-loopback address here; the remote-peer case is not run"
fi
stop_signetd || fail "signetd did not stop cleanly"

# ---- a telemetry listener of its own -----------------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$tport"
start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
for p in /metrics /status /status.json; do
  [ "$(code "http://127.0.0.1:$port$p")" = 404 ] || fail "$p on the public listener with telemetry_listen"
  [ "$(code "http://127.0.0.1:$tport$p")" = 200 ] || fail "$p on the telemetry listener"
done
grep -q '"invariants"\|"status"' "$work/body" || fail "status.json on the telemetry listener: $(cat "$work/body")"
[ "$(code "http://127.0.0.1:$tport/readyz")" = 200 ] || fail "/readyz on the telemetry listener"
[ "$(code "http://127.0.0.1:$tport/healthz")" = 200 ] || fail "/healthz on the telemetry listener"
for p in /t/default/jwks.json /t/default/.well-known/openid-configuration; do
  [ "$(code "http://127.0.0.1:$tport$p")" = 404 ] || fail "$p served on the telemetry listener"
done
c=$(code "http://127.0.0.1:$tport/t/default/token" -d grant_type=client_credentials)
[ "$c" = 404 ] || fail "the token endpoint answers on the telemetry listener: $c"
[ "$(code "$iss/jwks.json")" = 200 ] || fail "JWKS on the public listener"
stop_signetd || fail "signetd did not stop cleanly"

# ---- telemetry_public: the operator opts in ----------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_public = true"
start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
[ "$(code "http://127.0.0.1:$port/metrics" -H "X-Forwarded-For: 203.0.113.9")" = 200 ] ||
  fail "telemetry_public does not serve /metrics through a proxy"
stop_signetd || fail "signetd did not stop cleanly"

# ---- contradictory settings are refused ---------------------------------------
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$tport" "telemetry_public = true"
rc=0
timeout 20 "$SIGNETD" --state "$state" >"$work/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "signetd started with telemetry_listen and telemetry_public"
grep -q "exclude each other" "$work/refused.log" || fail "no clear reason: $(cat "$work/refused.log")"
configure "listen = 127.0.0.1:$port" "telemetry_listen = 127.0.0.1:$port"
rc=0
timeout 20 "$SIGNETD" --state "$state" >"$work/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "must differ" "$work/refused.log" || fail "same port accepted ($rc)"
echo "telemetry listener: ok"
