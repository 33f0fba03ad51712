#!/usr/bin/env bash
# DPoP (RFC 9449) end to end with third-party clients (issue 12): npm
# openid-client, oauth4webapi and dpop get DPoP-bound tokens from a real
# signetd (client_credentials; signetd demands a nonce, the clients retry) and
# call examples/resource_server.c, which verifies them with libsignet (it
# demands its own nonce, the clients retry again). PyJWT checks each token's
# signature and that cnf.jkt is the RFC 7638 thumbprint of the client's key.
# Attacks against the resource server, each refused: a replayed proof (with
# nonces, and without them by the jti cache alone), a stolen bound token with
# another key, the bound token sent as Bearer, an unbound token sent as DPoP,
# a proof for another URL or for the URL the Host header names, a forged
# nonce, two DPoP or Authorization headers, malformed Authorization values.
# Controls: a Bearer token from the same signetd is accepted as Bearer, and
# every refused request has a twin that succeeds.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 0; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
  { echo "SKIP: the npm clients need Node.js 20 or later"; exit 0; }
rs_bin=$SIGNET_BUILD_DIR/resource_server
[ -x "$rs_bin" ] || fail "$rs_bin is not built"

# The clients from npm, installed once into the build tree (majors pinned).
node_dir=$SIGNET_BUILD_DIR/node-dpop
pkgs=(openid-client@6 oauth4webapi@3 dpop@2 jose@6)
for p in "${pkgs[@]}"; do
  if [ ! -f "$node_dir/node_modules/${p%@*}/package.json" ]; then
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-audit --no-fund --silent "${pkgs[@]}" >/dev/null ||
      fail "npm install ${pkgs[*]} failed"
    break
  fi
done
# ESM resolves the packages next to the script: run a copy inside the install dir.
cp "$helpers/dpop_interop.mjs" "$node_dir/dpop_interop.mjs"

port=$(free_port)
iss=http://127.0.0.1:$port/t/default
aud=https://api.dpop.example
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >>"$state/signet.conf"
# --dpop allowed (the default): DPoP-bound tokens with a proof, Bearer without.
"$SIGNET_BIN" client add --state "$state" --tenant default --id dpop-app --audience "$aud" \
  --dpop allowed --secret-file "$work/app.secret" >/dev/null || fail "client add"
start_signetd "$state"
wait_http "$iss/.well-known/openid-configuration"
curl -s "$iss/.well-known/openid-configuration" >"$work/disc.json"
dpop_algs=$(json_get "$work/disc.json" '" ".join(d["dpop_signing_alg_values_supported"])')
[ -n "$dpop_algs" ] || fail "discovery has no dpop_signing_alg_values_supported"
# panva's clients sign with an Ed25519 key as alg "Ed25519" (RFC 9864), not
# "EdDSA": signetd advertises and accepts both.
ed25519=0
[[ " $dpop_algs " == *" Ed25519 "* ]] && ed25519=1
[ "$ed25519" = 1 ] || fail "discovery's DPoP algs ($dpop_algs) lack Ed25519 (RFC 9864)"

# Two resource servers: one demanding DPoP nonces, one relying on its jti
# replay cache alone. Each is told the URL it is reached at.
rs_pids=()
start_rs() { # PORT MODE
  "$rs_bin" "$iss" "$aud" "$iss/jwks.json" "http://127.0.0.1:$1" "$1" "$2" \
    >>"$work/rs-$2.log" 2>&1 &
  rs_pids+=($!)
}
stop_rs() {
  for p in "${rs_pids[@]+"${rs_pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${rs_pids[@]+"${rs_pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_rs; cleanup' EXIT
rs1=$(free_port)
rs2=$(free_port)
start_rs "$rs1" nonce
start_rs "$rs2" no-nonce
for u in "http://127.0.0.1:$rs1/" "http://127.0.0.1:$rs2/"; do
  wait_http "$u" 401
done

# A Bearer token for the controls (no DPoP header: token_type Bearer, no cnf).
curl -s -u "dpop-app:$(cat "$work/app.secret")" -d grant_type=client_credentials \
  "$iss/token" >"$work/bearer.json"
[ "$(json_get "$work/bearer.json" 'd["token_type"]')" = Bearer ] ||
  fail "no Bearer token: $(cat "$work/bearer.json")"
bearer=$(json_get "$work/bearer.json" 'd["access_token"]')
[ "$(jwt_part "$bearer" 1 | $py -c 'import json,sys; print("cnf" in json.load(sys.stdin))')" = False ] ||
  fail "a token issued without a proof carries cnf"

checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }
# rs_get NAME CURL-ARGS...: GET /api/x on the nonce server; $code, $work/NAME.{body,hdr}
rs_get() {
  local n=$1
  shift
  code=$(curl -s -o "$work/$n.body" -D "$work/$n.hdr" -w '%{http_code}' "$@" \
    "http://127.0.0.1:$rs1/api/x") || code=000
}
hdr() { grep -i "^$2:" "$work/$1.hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# ---- 1. Bearer control and Authorization parsing ---------------------------
rs_get bearer -H "Authorization: Bearer $bearer"
[ "$code" = 200 ] && [ "$(json_get "$work/bearer.body" 'd["scheme"]')" = Bearer ] ||
  fail "a Bearer token as Bearer: $code $(cat "$work/bearer.body")"
pass "Bearer token accepted as Bearer: $(cat "$work/bearer.body")"
rs_get none
[ "$code" = 401 ] && [[ "$(hdr none WWW-Authenticate)" == DPoP* ]] &&
  [[ "$(hdr none WWW-Authenticate)" != *error=* ]] && [ -n "$(hdr none DPoP-Nonce)" ] ||
  fail "no credentials: $code $(cat "$work/none.hdr")"
pass "no credentials: 401, challenge without error ($(hdr none WWW-Authenticate)), a nonce"
for bad in "Bearer  $bearer" "Bearer $bearer " "Basic $bearer" "Bearer" "bearer,$bearer" \
  "Bearer $bearer, DPoP x"; do
  rs_get bad -H "Authorization: $bad"
  [ "$code" = 401 ] || fail "Authorization '${bad:0:12}...': $code"
done
pass "6 malformed Authorization values refused"
rs_get two -H "Authorization: Bearer $bearer" -H "Authorization: Bearer $bearer"
[ "$code" = 400 ] || fail "two Authorization headers: $code"
pass "two Authorization headers refused (400)"

# ---- 2. the clients, the nonce flows and the attacks (node) -----------------
mkdir -p "$work/out"
UNBOUND_TOKEN=$bearer DPOP_ED25519=$ed25519 node "$node_dir/dpop_interop.mjs" "$iss" dpop-app "$work/app.secret" \
  "http://127.0.0.1:$rs1" "http://127.0.0.1:$rs2" "$work/out" | tee "$work/node.out" ||
  fail "a DPoP interop check failed (see above)"
for c in openid-client.token_type openid-client.as_nonce_retry openid-client.resource \
  openid-client.rs_nonce_retry openid-client.nonce_reused oauth4webapi.token_type \
  oauth4webapi.resource dpop.token_type rs.nonce_demanded rs.nonce_retry_ok rs.replay_refused \
  rs.forged_nonce_refused rs.stolen_token_other_key_refused rs.bound_as_bearer_refused \
  rs.bound_as_bearer_with_proof_refused rs.missing_proof_refused rs.two_proofs_refused \
  rs.other_htu_refused rs.htu_from_host_refused rs.htu_from_config_ok rs_plain.ok \
  rs_plain.replay_refused rs.unbound_as_dpop_refused rs.unbound_as_bearer_ok \
  $([ "$ed25519" = 0 ] || echo oauth4webapi-ed25519.token_type oauth4webapi-ed25519.resource); do
  grep -q "^OK $c " "$work/node.out" || fail "check $c did not pass"
  checks=$((checks + 1))
done

# ---- 3. PyJWT: signature, and cnf.jkt = RFC 7638 thumbprint of the key ------
clients=(openid-client oauth4webapi dpop)
[ "$ed25519" = 0 ] || clients+=(oauth4webapi-ed25519)
for c in "${clients[@]}"; do
  $py - "$iss" "$aud" "$work/out/$c.token" "$work/out/$c.jwk" "$work/out/$c.jkt" <<'PY' ||
import base64, hashlib, json, sys, jwt
iss, aud, tok_f, jwk_f, jkt_f = sys.argv[1:]
token = open(tok_f).read().strip()
key = jwt.PyJWKClient(iss + "/jwks.json").get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["ES256", "EdDSA", "PS256"], audience=aud,
                    issuer=iss)
assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
jwk = json.load(open(jwk_f))
# RFC 7638 §3.2: the required members only, sorted, no whitespace.
req = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
canon = json.dumps({k: jwk[k] for k in req[jwk["kty"]]}, sort_keys=True, separators=(",", ":"))
mine = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()
jose = open(jkt_f).read().strip()
assert claims["cnf"] == {"jkt": mine}, (claims.get("cnf"), mine)
assert mine == jose, (mine, jose)
print("%s: %s key, cnf.jkt %s = RFC 7638 thumbprint (PyJWT verified, jose agrees)"
      % (sys.argv[3].split("/")[-1], jwk["kty"], mine))
PY
    fail "$c: cnf.jkt check failed"
  pass "PyJWT: $c token"
done

# ---- 4. the walk-through of README.md and docs/dpop.md, with curl ---------
# examples/dpop_proof.py makes the proofs (PyJWT), curl sends them.
proof() { $py "$SIGNET_SOURCE_DIR/examples/dpop_proof.py" "$work/client.pem" "$@"; }
nonce_of() { grep -i '^dpop-nonce:' "$1" | head -1 | cut -d' ' -f2 | tr -d '\r'; }
auth="dpop-app:$(cat "$work/app.secret")"
code=$(curl -s -o "$work/w1.body" -D "$work/w1.hdr" -w '%{http_code}' -u "$auth" \
  -H "DPoP: $(proof POST "$iss/token")" -d grant_type=client_credentials "$iss/token")
[ "$code" = 400 ] && [ "$(json_get "$work/w1.body" 'd["error"]')" = use_dpop_nonce ] &&
  [ -n "$(nonce_of "$work/w1.hdr")" ] || fail "walk-through: first token request: $code"
code=$(curl -s -o "$work/w2.body" -D "$work/w2.hdr" -w '%{http_code}' -u "$auth" \
  -H "DPoP: $(proof POST "$iss/token" "$(nonce_of "$work/w1.hdr")")" \
  -d grant_type=client_credentials "$iss/token")
[ "$code" = 200 ] && [ "$(json_get "$work/w2.body" 'd["token_type"]')" = DPoP ] &&
  [ -n "$(nonce_of "$work/w2.hdr")" ] || fail "walk-through: token with the nonce: $code"
wtok=$(json_get "$work/w2.body" 'd["access_token"]')
[ "$(jwt_part "$wtok" 1 | $py -c 'import json,sys; print(json.load(sys.stdin)["cnf"]["jkt"])')" = \
  "$(proof --jkt)" ] || fail "walk-through: cnf.jkt is not dpop_proof.py --jkt"
rsurl=http://127.0.0.1:$rs1/api/walk
code=$(curl -s -o "$work/w3.body" -D "$work/w3.hdr" -w '%{http_code}' \
  -H "Authorization: DPoP $wtok" -H "DPoP: $(proof GET "$rsurl" "" "$wtok")" "$rsurl")
[ "$code" = 401 ] && grep -qi '^www-authenticate: DPoP error="use_dpop_nonce"' "$work/w3.hdr" ||
  fail "walk-through: resource server without a nonce: $code $(cat "$work/w3.hdr")"
p=$(proof GET "$rsurl" "$(nonce_of "$work/w3.hdr")" "$wtok")
code=$(curl -s -o "$work/w4.body" -D "$work/w4.hdr" -w '%{http_code}' \
  -H "Authorization: DPoP $wtok" -H "DPoP: $p" "$rsurl")
[ "$code" = 200 ] && [ "$(json_get "$work/w4.body" 'd["client_id"]')" = dpop-app ] ||
  fail "walk-through: resource server with the nonce: $code $(cat "$work/w4.body")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: DPoP $wtok" -H "DPoP: $p" "$rsurl")
[ "$code" = 401 ] || fail "walk-through: the same proof again: $code"
pass "README walk-through: nonce at signetd, DPoP token, nonce at the resource server, 200, replay 401"

# ---- 5. what the resource server logged ------------------------------------
for t in "$bearer" "$wtok" $(cat "$work/out/"*.token); do
  ! grep -qF "$t" "$work"/rs-*.log || fail "a resource server logged a token"
  ! grep -qF "${t##*.}" "$work/signetd.log" || fail "signetd logged a token"
done
grep -q 'refused: SIGNET_ERR_DPOP_REPLAY' "$work/rs-no-nonce.log" ||
  fail "the replay was not refused as a replay: $(cat "$work/rs-no-nonce.log")"
grep -q 'refused: SIGNET_ERR_DPOP_BINDING' "$work/rs-nonce.log" ||
  fail "the stolen token was not refused for its binding"
grep -q 'refused: SIGNET_ERR_DPOP_DOWNGRADE' "$work/rs-nonce.log" ||
  fail "no downgrade refusal logged"
pass "resource servers logged reasons (replay, binding, downgrade), never a token"
# A clean stop on SIGTERM (exit 0; under ASan, no leak report).
for p in "${rs_pids[@]}"; do
  kill -TERM "$p"
  rc=0
  wait "$p" || rc=$?
  [ "$rc" = 0 ] || fail "a resource server exited $rc on SIGTERM: $(tail -n 20 "$work"/rs-*.log)"
done
rs_pids=()
pass "both resource servers stopped cleanly"
echo "dpop interop: $checks checks passed"
