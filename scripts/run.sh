#!/usr/bin/env bash
# `make run`: one command for a newcomer. Builds (when needed), initialises
# .signet/ under the checkout (HSM token, keys, a demo tenant and client),
# starts signetd on 127.0.0.1:8080 in the background, fetches a token with
# curl, verifies it against the live JWKS and shows what it contains.
# Running it again reuses the state and restarts the service; `make stop`
# stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# The release build: no test hooks (SIGNET_TESTING=OFF), no test suite.
build=${RELEASE_BUILD:-build-release}
state=$root/.signet
addr=127.0.0.1:8080
# Browsers refuse WebAuthn on an IP-address origin; http://localhost is a
# secure context: the issuer says localhost, signetd binds 127.0.0.1.
issuer=http://localhost:8080/t/default
rp_port=8081
audience=http://$addr/api
bin=$root/$build/src

if [ ! -x "$bin/signetd" ] || [ ! -x "$bin/signet" ]; then
  bash scripts/deps.sh
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSIGNET_TESTING=OFF -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)"
fi
# signet and signetd start the signet-signer next to them ($SIGNET_SIGNER is
# a testing-build hook that a release build ignores).

bash scripts/stop.sh --quiet

if [ ! -f "$state/signet.conf" ]; then
  echo "run: initialising $state (SoftHSM2 token, first keys)"
  "$bin/signet" init --state "$state" --issuer "$issuer" >/dev/null
else
  # Changes no file; brings a layout made by an earlier version up to date.
  "$bin/signet" init --state "$state" --issuer "$issuer" >/dev/null
fi
if ! "$bin/signet" client list --tenant default --state "$state" | grep -q '^demo '; then
  rm -f "$state/demo-client.secret"
  "$bin/signet" client add --tenant default --state "$state" --id demo \
    --scope "demo.read demo.write" --audience "$audience" \
    --secret-file "$state/demo-client.secret" >/dev/null
elif [ ! -f "$state/demo-client.secret" ]; then
  # The secret was shown only once and is gone: register the client anew.
  "$bin/signet" client remove --tenant default --state "$state" demo >/dev/null
  "$bin/signet" client add --tenant default --state "$state" --id demo \
    --scope "demo.read demo.write" --audience "$audience" \
    --secret-file "$state/demo-client.secret" >/dev/null
fi

# A person (issue 13): the demo user with a one-time enrolment link, and the
# demo relying party, a public client (PKCE) on http://localhost:8081.
if ! "$bin/signet" client list --tenant default --state "$state" | grep -q '^demo-web '; then
  "$bin/signet" client add --tenant default --state "$state" --id demo-web --type public \
    --redirect-uri "http://localhost:$rp_port/callback" --grant authorization_code \
    --grant refresh_token --scope "demo.read" --audience "$audience" >/dev/null
fi
if ! "$bin/signet" user list --tenant default --state "$state" | grep -q '^demo '; then
  "$bin/signet" user add --tenant default --state "$state" --name demo >"$state/demo-user.out"
else
  # A fresh link each time (the demo user's sessions end: --reset).
  "$bin/signet" user link --tenant default --state "$state" --name demo --reset \
    >"$state/demo-user.out" 2>/dev/null || true
fi
enrol_link=$(sed -n 's/^enrolment_link: //p' "$state/demo-user.out")

# Started in its own session so a Ctrl-C in this terminal leaves it running.
setsid "$bin/signetd" --state "$state" >>"$state/signetd.log" 2>&1 </dev/null &
echo $! >"$state/signetd.pid"
ready=
for _ in $(seq 1 150); do
  if curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "$(cat "$state/signetd.pid")" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "run: signetd did not become ready; the end of $state/signetd.log:" >&2
  tail -n 20 "$state/signetd.log" >&2
  exit 1
fi

secret=$(cat "$state/demo-client.secret")
resp=$(curl -fsS -u "demo:$secret" -d grant_type=client_credentials "$issuer/token")
token=$(printf '%s' "$resp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
jwks_uri=$(curl -fsS "$issuer/.well-known/openid-configuration" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["jwks_uri"])')

# Verify against the live JWKS: libsignet (signet verify), else PyJWT.
if printf '%s' "$token" | "$bin/signet" verify --issuer "$issuer" --audience "$audience" \
     --jwks "$jwks_uri" - >/dev/null 2>"$state/verify.err"; then
  verified="valid (signet verify, libsignet, against $jwks_uri)"
elif python3 - "$token" "$issuer" "$audience" "$jwks_uri" <<'PY' 2>>"$state/verify.err"
import sys, jwt
tok, iss, aud, uri = sys.argv[1:5]
key = jwt.PyJWKClient(uri).get_signing_key_from_jwt(tok)
jwt.decode(tok, key.key, algorithms=["ES256", "EdDSA", "PS256"], issuer=iss, audience=aud)
PY
then
  verified="valid (PyJWT, against $jwks_uri)"
else
  echo "run: the token did not verify:" >&2
  cat "$state/verify.err" >&2
  exit 1
fi

decode() {
  python3 -c 'import base64,json,sys
p = sys.argv[1].split(".")[int(sys.argv[2])]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))), indent=None))' "$token" "$1"
}

echo
echo "signetd is running on http://$addr (pid $(cat "$state/signetd.pid"), log $state/signetd.log)"
echo "issuer: $issuer"
echo "jwks_uri: $jwks_uri"
echo "access_token: $token"
echo "header: $(decode 0)"
echo "claims: $(decode 1)"
echo "verified: $verified"
if curl -fsS -o /dev/null http://127.0.0.1:9464/readyz 2>/dev/null; then
  echo "status page: http://127.0.0.1:9464/status (telemetry listener, loopback only; metrics at /metrics)"
fi
echo "trust boundary: $("$bin/signet" status --state "$state" 2>/dev/null | sed -n 's/^trust boundary: //p')"
sign_in=$(python3 scripts/demo_rp.py authorize "$state" "$issuer" "$rp_port")
if [ -f "$state/demo-rp.pid" ]; then kill "$(cat "$state/demo-rp.pid")" 2>/dev/null || true; fi
setsid python3 scripts/demo_rp.py serve "$state" "$issuer" "$rp_port" >>"$state/demo-rp.log" 2>&1 </dev/null &
echo $! >"$state/demo-rp.pid"
echo
echo "A person signs in with a passkey (open in Chromium, Firefox or Safari on this machine):"
echo "user: demo"
if [ -n "$enrol_link" ]; then
  echo "enrolment_link: $enrol_link"
else
  echo "enrolment_link: (none: the demo user has a passkey; signet user link --reset gives a new one)"
fi
echo "sign_in: $sign_in"
echo "another token: curl -u \"demo:\$(cat .signet/demo-client.secret)\" -d grant_type=client_credentials $issuer/token"
echo "stop the service: make stop"
