#!/usr/bin/env bash
# The people's grants at the token endpoint (issue 13), against a real
# signetd, before /authorize exists: codes (and a session) are put into the
# front store with sqlite3 as the authorization endpoint would, then
# exchanged with curl:
# - authorization_code + PKCE for a public client (client_id alone): an
#   access token (typ at+jwt, sub the user, aud the client's default
#   audience, the API scopes only, auth_time, acr, amr, sid) and an ID
#   token (typ JWT, aud = azp = the client, nonce, at_hash of the access
#   token, verified with PyJWT against the JWKS), a refresh token, no-store;
# - refused: a wrong code_verifier, another redirect_uri, another client's
#   code, an unknown code, a confidential client without authentication, a
#   machine client (no authorization_code grant), a public client sending a
#   secret, client_credentials for a public client;
# - a second use of a code: invalid_grant, code_replayed in the log, and
#   the refresh token its first use issued is dead;
# - refresh: rotation (a new refresh token, the old one dead), an ID token
#   again (same auth_time, no nonce), a narrower scope, a wider one refused
#   without rotating, another client's refresh refused without rotating, a
#   rotated token presented again: invalid_grant, refresh_reused in the log,
#   and the whole family dead;
# - no code, verifier or refresh token in the log.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 not installed"; exit 0; }

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/default
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
cat >>"$state/signet.conf" <<CONF
[server]
listen = 127.0.0.1:$port
rate_limit = 1000
rate_burst = 1000
CONF
db=$state/front/signet.db
cb=https://app.example/cb
client() { "$SIGNET_BIN" client add --state "$state" --tenant default "$@" >/dev/null; }
client --id spa --type public --redirect-uri "$cb" --audience https://api \
  --scope "read write" || fail "client add spa"
client --id spa2 --type public --redirect-uri "$cb" --audience https://api2 \
  --scope "read" || fail "client add spa2"
client --id conf --grant authorization_code --redirect-uri "$cb" --audience https://api \
  --scope read --secret-file "$work/conf.secret" || fail "client add conf"
client --id m2m --audience https://api --scope read --secret-file "$work/m2m.secret" ||
  fail "client add m2m"
out=$("$SIGNET_BIN" user add --state "$state" --tenant default --name alice) ||
  fail "user add alice"
uid=$(sed -n 's/^id: //p' <<<"$out")
[[ $uid =~ ^u[A-Za-z0-9_-]{22}$ ]] || fail "user add printed no id: $out"

b64sha() {
  $py -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$1"
}
now=$(date +%s)
auth_time=$((now - 60))
sid=sidAAAAAAAAAAAAAAAAAAAAAA
verifier=$($py -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(b64sha "$verifier")
sqlite3 "$db" "INSERT INTO sessions (hash, tenant, sid, user_id, acr, amr, auth_time,
  created_at, last_seen, idle_expires, expires_at) VALUES ('$(b64sha cookie-1)', 'default',
  '$sid', '$uid', 'urn:signet:acr:phr', 'hwk user mfa', $auth_time, $auth_time, $now,
  $((now + 1800)), $((now + 36000)))" || fail "sqlite3: session"
# put_code CODE CLIENT SCOPE [NONCE]: a code as /authorize would store it.
put_code() {
  sqlite3 "$db" "INSERT INTO codes (hash, tenant, client_id, redirect_uri, code_challenge,
    user_id, sid, scope, nonce, acr, amr, auth_time, expires_at) VALUES ('$(b64sha "$1")',
    'default', '$2', '$cb', '$challenge', '$uid', '$sid', '$3', '${4:-}',
    'urn:signet:acr:phr', 'hwk user mfa', $auth_time, $((now + 600)))" ||
    fail "sqlite3: code $1"
}
put_code code-main spa "openid read offline_access" n-0S6_WzA2Mj
put_code code-pkce spa "openid read"
put_code code-redirect spa "openid read"
put_code code-other spa "openid read"
put_code code-refresh spa "openid read write"
put_code code-noid spa read
put_code code-conf conf "openid read"
put_code code-spa2 spa2 "openid read"
put_code code-dpop spa "openid read"
start_signetd "$state"
wait_http "$base/readyz"
curl -sf "$iss/jwks.json" >"$work/jwks.json" || fail "JWKS"

# token NAME ARGS...: POST /token; $work/NAME.body, $work/NAME.headers; prints the status.
token() {
  local name=$1
  shift
  curl -s -o "$work/$name.body" -D "$work/$name.headers" -w '%{http_code}' "$@" "$iss/token"
}
# expect NAME STATUS ERROR: the answer NAME was STATUS with error ERROR.
expect() {
  local got
  got=$(json_get "$work/$1.body" 'd.get("error", "-")' 2>/dev/null || echo '?')
  [ "$2" = "$3" ] && [ "$got" = "$4" ] ||
    fail "$1: HTTP $2 $(cat "$work/$1.body"), wanted $3 $4"
}
code_form() { # code_form CODE [VERIFIER] [REDIRECT]
  echo "grant_type=authorization_code&code=$1&code_verifier=${2:-$verifier}&redirect_uri=${3:-$cb}"
}

# ---- authorization_code ----------------------------------------------------------
st=$(token main --data-urlencode client_id=spa -d "$(code_form code-main)")
[ "$st" = 200 ] || fail "code exchange: HTTP $st $(cat "$work/main.body")"
grep -qi '^cache-control: no-store' "$work/main.headers" || fail "no Cache-Control: no-store"
ISS=$iss UID_=$uid SID=$sid AUTH_TIME=$auth_time $py - "$work/main.body" "$work/jwks.json" \
  nonce=n-0S6_WzA2Mj <<'PY' || fail "the tokens of the code exchange"
import base64, hashlib, json, os, sys
import jwt
body = json.load(open(sys.argv[1]))
jwks = json.load(open(sys.argv[2]))
want_nonce = sys.argv[3].split("=", 1)[1]
iss, uid, sid, auth_time = os.environ["ISS"], os.environ["UID_"], os.environ["SID"], int(os.environ["AUTH_TIME"])
assert sorted(body) == ["access_token", "expires_in", "id_token", "refresh_token", "scope",
                        "token_type"], body
assert body["token_type"] == "Bearer", body
assert body["scope"] == "openid read offline_access", body
assert len(body["refresh_token"]) == 43, body
def key_for(tok):
    h = jwt.get_unverified_header(tok)
    k = [k for k in jwks["keys"] if k["kid"] == h["kid"]][0]
    return h, jwt.PyJWK(k).key
at = body["access_token"]
h, key = key_for(at)
assert h["typ"] == "at+jwt", h
c = jwt.decode(at, key, algorithms=[h["alg"]], audience="https://api", issuer=iss)
assert c["sub"] == uid and c["client_id"] == "spa", c
assert c["scope"] == "read", c  # openid and offline_access are not API scopes
assert c["auth_time"] == auth_time and c["acr"] == "urn:signet:acr:phr", c
assert c["amr"] == ["hwk", "user", "mfa"] and c["sid"] == sid, c
assert "cnf" not in c and "jti" in c, c
idt = body["id_token"]
h, key = key_for(idt)
assert h["typ"] == "JWT", h
i = jwt.decode(idt, key, algorithms=[h["alg"]], audience="spa", issuer=iss)
assert sorted(i) == sorted(["iss", "sub", "aud", "exp", "iat", "auth_time", "acr", "amr", "sid",
                            "azp", "nonce", "at_hash", "jti"]), i
assert i["sub"] == uid and i["azp"] == "spa" and i["aud"] == "spa", i
assert i["nonce"] == want_nonce and i["sid"] == sid and i["auth_time"] == auth_time, i
assert i["amr"] == ["hwk", "user", "mfa"] and i["acr"] == "urn:signet:acr:phr", i
assert 0 < i["exp"] - i["iat"] <= 3600, i
md = {"ES256": hashlib.sha256, "PS256": hashlib.sha256, "ES384": hashlib.sha384,
      "EdDSA": hashlib.sha512, "Ed25519": hashlib.sha512}[h["alg"]]
d = md(at.encode()).digest()
assert i["at_hash"] == base64.urlsafe_b64encode(d[:len(d) // 2]).rstrip(b"=").decode(), i
print("ok: tokens:", h["alg"])
PY
rt1=$(json_get "$work/main.body" 'd["refresh_token"]')
echo "ok: authorization_code: access token, ID token (verified against the JWKS), refresh token"

st=$(token pkce --data-urlencode client_id=spa -d "$(code_form code-pkce "${verifier}x")")
expect pkce "$st" 400 invalid_grant
grep -q 'PKCE' "$work/pkce.body" || fail "PKCE failure not described: $(cat "$work/pkce.body")"
st=$(token pkce2 --data-urlencode client_id=spa -d "$(code_form code-pkce)")
expect pkce2 "$st" 400 invalid_grant # a failed exchange used the code up
st=$(token redir --data-urlencode client_id=spa \
  -d "$(code_form code-redirect "$verifier" https://app.example/cb2)")
expect redir "$st" 400 invalid_grant
st=$(token other --data-urlencode client_id=spa2 -d "$(code_form code-other)")
expect other "$st" 400 invalid_grant
st=$(token unknown --data-urlencode client_id=spa -d "$(code_form no-such-code)")
expect unknown "$st" 400 invalid_grant
st=$(token shortv --data-urlencode client_id=spa -d "$(code_form code-spa2 short)")
expect shortv "$st" 400 invalid_request
st=$(token confnone --data-urlencode client_id=conf -d "$(code_form code-conf)")
expect confnone "$st" 401 invalid_client
st=$(token m2m -u "m2m:$(cat "$work/m2m.secret")" -d "$(code_form code-spa2)")
expect m2m "$st" 400 unauthorized_client
st=$(token pubsecret -u "spa:whatever" -d "$(code_form code-spa2)")
expect pubsecret "$st" 401 invalid_client
st=$(token pubcc --data-urlencode client_id=spa -d grant_type=client_credentials)
expect pubcc "$st" 401 invalid_client
st=$(token conf -u "conf:$(cat "$work/conf.secret")" -d "$(code_form code-conf)")
[ "$st" = 200 ] || fail "confidential code exchange: HTTP $st $(cat "$work/conf.body")"
json_get "$work/conf.body" '"refresh_token" not in d and "id_token" in d' | grep -q True ||
  fail "a client without the refresh_token grant got one: $(cat "$work/conf.body")"
st=$(token noid --data-urlencode client_id=spa -d "$(code_form code-noid)")
[ "$st" = 200 ] || fail "code without openid: HTTP $st $(cat "$work/noid.body")"
json_get "$work/noid.body" '"id_token" not in d and d["scope"] == "read"' | grep -q True ||
  fail "an ID token without openid: $(cat "$work/noid.body")"
echo "ok: wrong verifier, redirect_uri, client, code; auth and grant rules of the clients"

# DPoP (RFC 9449) applies to these grants too: the nonce first (the code is
# not used up by that refusal), then a bound access token.
$py "$helpers/dpop_proof.py" keygen ES256 "$work/dpop.pem"
st=$(token dp1 --data-urlencode client_id=spa -d "$(code_form code-dpop)" \
  -H "DPoP: $($py "$helpers/dpop_proof.py" proof "$work/dpop.pem" ES256 POST "$iss/token")")
expect dp1 "$st" 400 use_dpop_nonce
dnonce=$(sed -n 's/^[Dd][Pp][Oo][Pp]-[Nn]once: *//p' "$work/dp1.headers" | tr -d '\r')
st=$(token dp2 --data-urlencode client_id=spa -d "$(code_form code-dpop)" -H \
  "DPoP: $($py "$helpers/dpop_proof.py" proof "$work/dpop.pem" ES256 POST "$iss/token" "nonce=$dnonce")")
[ "$st" = 200 ] || fail "code exchange with DPoP: HTTP $st $(cat "$work/dp2.body")"
jkt=$($py "$helpers/dpop_proof.py" thumbprint "$work/dpop.pem")
json_get "$work/dp2.body" 'd["token_type"] == "DPoP" and "id_token" in d' | grep -q True ||
  fail "code exchange with DPoP: $(cat "$work/dp2.body")"
[ "$(jwt_part "$(json_get "$work/dp2.body" 'd["access_token"]')" 1 |
  $py -c 'import json,sys; print(json.load(sys.stdin)["cnf"]["jkt"])')" = "$jkt" ] ||
  fail "the access token is not bound to the DPoP key"
echo "ok: authorization_code with DPoP: use_dpop_nonce, then a bound access token"

# A second use of a code: refused, and what the first use issued is revoked.
st=$(token replay --data-urlencode client_id=spa -d "$(code_form code-main)")
expect replay "$st" 400 invalid_grant
grep -q 'event=code_replayed.*client=spa.*sid='"$sid" "$work/signetd.log" ||
  fail "no code_replayed in the log"
st=$(token deadrt --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$rt1")
expect deadrt "$st" 400 invalid_grant
echo "ok: a code used twice: invalid_grant, code_replayed, its refresh token revoked"

# ---- refresh_token -----------------------------------------------------------------
st=$(token r0 --data-urlencode client_id=spa -d "$(code_form code-refresh)")
[ "$st" = 200 ] || fail "code exchange for refresh: HTTP $st $(cat "$work/r0.body")"
r0=$(json_get "$work/r0.body" 'd["refresh_token"]')
st=$(token r1 --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r0")
[ "$st" = 200 ] || fail "refresh: HTTP $st $(cat "$work/r1.body")"
r1=$(json_get "$work/r1.body" 'd["refresh_token"]')
[ "$r1" != "$r0" ] || fail "the refresh token was not rotated"
$py - "$work/r1.body" "$auth_time" <<'PY' || fail "the refreshed tokens"
import json, sys
import jwt
d = json.load(open(sys.argv[1]))
assert d["scope"] == "openid read write", d
c = jwt.decode(d["access_token"], options={"verify_signature": False})
assert c["scope"] == "read write" and c["auth_time"] == int(sys.argv[2]), c
i = jwt.decode(d["id_token"], options={"verify_signature": False})
assert "nonce" not in i and i["auth_time"] == int(sys.argv[2]) and i["aud"] == "spa", i
PY
# A narrower scope; a wider one and another client are refused, rotating nothing.
st=$(token r2 --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r1" -d scope=read)
[ "$st" = 200 ] || fail "refresh with scope=read: HTTP $st $(cat "$work/r2.body")"
json_get "$work/r2.body" 'd["scope"] == "read" and "id_token" not in d' | grep -q True ||
  fail "refresh with scope=read: $(cat "$work/r2.body")"
r2=$(json_get "$work/r2.body" 'd["refresh_token"]')
st=$(token wide --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r2" -d "scope=read admin")
expect wide "$st" 400 invalid_scope
st=$(token stolen --data-urlencode client_id=spa2 -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r2")
expect stolen "$st" 400 invalid_grant
st=$(token r3 --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r2")
[ "$st" = 200 ] || fail "refresh after the refusals: HTTP $st $(cat "$work/r3.body")"
r3=$(json_get "$work/r3.body" 'd["refresh_token"]')
echo "ok: refresh rotates; a narrower scope; a wider scope or another client refused, not rotated"
# Reuse: a rotated token presented again ends the family.
st=$(token reuse --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r0")
expect reuse "$st" 400 invalid_grant
grep -q 'event=refresh_reused' "$work/signetd.log" || fail "no refresh_reused in the log"
st=$(token r4 --data-urlencode client_id=spa -d grant_type=refresh_token \
  --data-urlencode "refresh_token=$r3")
expect r4 "$st" 400 invalid_grant
echo "ok: a rotated refresh token reused: invalid_grant, refresh_reused, the family revoked"

for secret in "$verifier" code-main code-refresh "$rt1" "$r0" "$r1" "$r3"; do
  if grep -qF -- "$secret" "$work/signetd.log"; then
    fail "a credential is in the log"
  fi
done
if grep -qE 'status=5[0-9][0-9]' "$work/signetd.log"; then
  fail "a 5xx was served: $(grep -E 'status=5' "$work/signetd.log" | head -3)"
fi
echo "ok: no code, verifier or refresh token in the log; no 5xx"
echo "PASS"
