#!/usr/bin/env bash
# DPoP (RFC 9449) at signetd's token endpoint (issue 12), against a real
# signetd, proofs made by tests/integration/signetd/dpop_proof.py (PyJWT +
# cryptography, independent of signet):
# - the negative corpus, one case per RFC 9449 §4.3 rule: each a 400
#   invalid_dpop_proof whose description names the check, never a 500 and
#   never a token; two DPoP headers, or a list in one, likewise;
# - htu is the token URL of the configured issuer: tenant "two" is served
#   on 127.0.0.1 but its issuer is http://signet.example/t/two: a proof for
#   the address the request went to (Host) is refused, X-Forwarded-* does
#   not help, the issuer's URL with another case, its default port, a query
#   or a %-encoded unreserved character is accepted;
# - server nonces: use_dpop_nonce with a DPoP-Nonce header when the proof
#   has none, a forged one or a stale one (150 s old, on an injected clock),
#   then the flow with the given nonce, a fresh DPoP-Nonce on the success;
#   dpop_nonce = off (tenant two) needs none;
# - the order of the checks: a proof refused for its nonce does not burn
#   the private_key_jwt assertion sent with it (the client retries with the
#   same one), a proof sent with a wrong secret or an invalid scope takes no
#   replay entry (the same proof then succeeds), a replayed proof is
#   refused, also after a restart of signetd;
# - tokens: token_type DPoP, cnf.jkt equal to the RFC 7638 thumbprint
#   computed in Python; no cnf and token_type Bearer without a proof;
# - policy: a --dpop required client without a proof, a --dpop forbidden
#   client with one: clear 400s; the tenant default (dpop = required);
# - discovery lists dpop_signing_alg_values_supported; front/dpop.key is
#   the front end's, 0600, and never logged.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/default
iss2=http://signet.example/t/two
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" --issuer "$iss2" >/dev/null ||
  fail "signet init"
[ "$(stat -c %a "$state/front/dpop.key")" = 600 ] || fail "front/dpop.key is not 0600"
[ "$(stat -c %U "$state/front/dpop.key")" = "$(stat -c %U "$state/front")" ] ||
  fail "front/dpop.key does not belong to the front end's account"
echo "ok: signet init made front/dpop.key, 0600, the front end's"
cat >>"$state/signet.conf" <<CONF
[tenant:two]
dpop = required
dpop_nonce = off
[server]
listen = 127.0.0.1:$port
rate_limit = 1000
rate_burst = 1000
CONF
add() {
  "$SIGNET_BIN" client add --state "$state" --audience https://api --scope "read write" "$@" \
    >/dev/null
}
add --tenant default --id web --secret-file "$work/web.secret" || fail "client add web"
add --tenant default --id req --dpop required --secret-file "$work/req.secret" ||
  fail "client add req"
add --tenant default --id forb --dpop forbidden --secret-file "$work/forb.secret" ||
  fail "client add forb"
add --tenant two --id plain2 --secret-file "$work/plain2.secret" || fail "client add plain2"
add --tenant two --id open2 --dpop allowed --secret-file "$work/open2.secret" ||
  fail "client add open2"
if add --tenant default --id bad --dpop sometimes 2>/dev/null; then
  fail "client add --dpop sometimes was accepted"
fi
$py "$helpers/assertion.py" keygen ES256 "$work/c.pem" "$work/c.jwk"
add --tenant default --id jwtc --jwk "$work/c.jwk" || fail "client add jwtc"
"$SIGNET_BIN" client list --state "$state" --tenant default --json >"$work/list.json"
[ "$(json_get "$work/list.json" '[c["dpop"] for c in d if c["client_id"] == "req"][0]')" = \
  required ] || fail "client list does not show the DPoP policy: $(cat "$work/list.json")"
echo "ok: client add --dpop stored (client list shows it); --dpop sometimes refused"
$py "$helpers/dpop_proof.py" keygen ES256 "$work/dpop.pem"
start_signetd "$state"
wait_http "$base/readyz"

# Discovery.
curl -sf "$iss/.well-known/oauth-authorization-server" >"$work/disc.json" || fail "discovery"
[ "$(json_get "$work/disc.json" '" ".join(d["dpop_signing_alg_values_supported"])')" = \
  "ES256 EdDSA Ed25519 PS256" ] || fail "discovery: $(cat "$work/disc.json")"
echo "ok: discovery lists dpop_signing_alg_values_supported ES256 EdDSA Ed25519 PS256"

# The corpus and the flows, over HTTP from Python (status, headers, body).
SIGNET_PORT=$port SIGNET_ISS=$iss SIGNET_ISS2=$iss2 SIGNET_WORK=$work HELPERS=$helpers \
  $py "$helpers/dpop_token_checks.py" || fail "DPoP token endpoint checks"

# A replayed proof stays refused after a restart (the cache is in the store).
stop_signetd || fail "signetd did not stop cleanly"
start_signetd "$state"
wait_http "$base/readyz"
code=$(curl -s -o "$work/replay.body" -w '%{http_code}' -u "web:$(cat "$work/web.secret")" \
  -H "DPoP: $(cat "$work/used.proof")" -d grant_type=client_credentials "$iss/token")
[ "$code" = 400 ] && grep -q 'already used' "$work/replay.body" ||
  fail "a replayed proof after a restart: HTTP $code $(cat "$work/replay.body")"
echo "ok: the replayed proof is refused after a restart of signetd"
# A state directory made before DPoP: signetd's front end makes the key.
stop_signetd || fail "signetd did not stop cleanly"
cp "$state/front/dpop.key" "$work/first.key"
rm "$state/front/dpop.key"
out=$("$SIGNET_BIN" init --state "$state" --issuer "$iss" --issuer "$iss2") ||
  fail "signet init on the initialised directory: $out"
grep -q 'dpop.key created' <<<"$out" || fail "signet init did not add front/dpop.key: $out"
[ "$(stat -c %a "$state/front/dpop.key")" = 600 ] &&
  [ "$(stat -c %U "$state/front/dpop.key")" = "$(stat -c %U "$state/front")" ] ||
  fail "signet init made front/dpop.key with the wrong mode or owner"
echo "ok: signet init adds front/dpop.key (0600, the front end's) to an earlier layout"
cp "$state/front/dpop.key" "$work/second.key"
rm "$state/front/dpop.key"
start_signetd "$state"
wait_http "$base/readyz"
[ "$(stat -c %a "$state/front/dpop.key")" = 600 ] &&
  [ "$(stat -c %U "$state/front/dpop.key")" = "$(stat -c %U "$state/front")" ] ||
  fail "signetd did not make front/dpop.key (0600, the front end's) for an earlier layout"
echo "ok: signetd's front end makes front/dpop.key when an earlier layout has none"
# A stale nonce, on an injected clock (a testing build's [testing] clock_file).
stop_signetd || fail "signetd did not stop cleanly"
date +%s >"$work/clock"
chmod 0644 "$work/clock"
printf '[testing]\nclock_file = %s\n' "$work/clock" >>"$state/signet.conf"
start_signetd "$state"
wait_http "$base/readyz"
SIGNET_PORT=$port SIGNET_ISS=$iss SIGNET_ISS2=$iss2 SIGNET_WORK=$work HELPERS=$helpers \
  $py "$helpers/dpop_token_checks.py" stale "$work/clock" || fail "the stale nonce checks"
if grep -qE 'status=5[0-9][0-9]' "$work/signetd.log"; then
  fail "a 5xx was served: $(grep -E 'status=5' "$work/signetd.log" | head -3)"
fi
echo "ok: no 5xx in the access log"
if grep -qF -e "$(cat "$state/front/dpop.key")" -e "$(cat "$work/first.key")" \
    -e "$(cat "$work/second.key")" "$work/signetd.log"; then
  fail "the DPoP nonce key is in the log"
fi
echo "ok: the nonce key never appears in the log"
echo "PASS"
