#!/usr/bin/env bash
# libsignet interoperability: tokens signed by the npm `jose` package and by
# PyJWT, with their public keys in a JWKS served over HTTP by
# `python3 -m http.server` on a random loopback port, must verify with
# `signet verify` (by JWKS URL and by discovery); tampered variants must not.
set -euo pipefail
: "${SIGNET_SOURCE_DIR:?}" "${SIGNET_BUILD_DIR:?}" "${SIGNET_BIN:?}"
helpers=$SIGNET_SOURCE_DIR/tests/integration/libsignet
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-interop.XXXXXX")
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A python with PyJWT (Debian's python3-jwt), whichever python3 is first in PATH.
py=python3
$py -c 'import jwt, cryptography' 2>/dev/null || py=/usr/bin/python3
$py -c 'import jwt, cryptography' || fail "python3-jwt and python3-cryptography are required"

# jose from npm, installed once into the build tree.
node_dir=$SIGNET_BUILD_DIR/libsignet-node
if [ ! -f "$node_dir/node_modules/jose/package.json" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --silent jose@5 >/dev/null ||
    fail "npm install jose failed"
fi

# The HTTP server first: its port is part of the issuer.
mkdir -p "$work/www/.well-known" "$work/out"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
server=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "http.server did not start"
iss="http://127.0.0.1:$port"
aud="api://interop"

# ESM resolves 'jose' next to the script: run a copy inside the install dir.
cp "$helpers/sign_jose.mjs" "$node_dir/sign_jose.mjs"
node "$node_dir/sign_jose.mjs" "$work/out" "$iss" "$aud" || fail "jose signing failed"
$py "$helpers/sign_pyjwt.py" "$work/out" "$iss" "$aud" || fail "PyJWT signing failed"

$py - "$work" "$iss" <<'PY'
import json, sys
work, iss = sys.argv[1], sys.argv[2]
keys = []
for f in ("jose_jwks.json", "py_jwks.json"):
    keys += json.load(open("%s/out/%s" % (work, f)))["keys"]
json.dump({"keys": keys}, open(work + "/www/jwks.json", "w"))
json.dump({"issuer": iss, "jwks_uri": iss + "/jwks.json"},
          open(work + "/www/.well-known/openid-configuration", "w"))
PY

algs=(--alg ES256 --alg ES384 --alg EdDSA --alg PS256)
check() { # expect-exit expect-text token-file args...
  local want=$1 text=$2 file=$3
  shift 3
  local rc=0
  "$SIGNET_BIN" verify "$@" - <"$file" >"$work/stdout" 2>"$work/stderr" || rc=$?
  [ "$rc" = "$want" ] || fail "$(basename "$file") $*: exit $rc, wanted $want: $(cat "$work/stdout" "$work/stderr")"
  grep -q -- "$text" "$work/stdout" "$work/stderr" ||
    fail "$(basename "$file"): output lacks '$text': $(cat "$work/stdout" "$work/stderr")"
  # The verdict never echoes the token.
  if grep -qF -- "$(cut -d. -f3 <"$file")" "$work/stdout" "$work/stderr"; then
    fail "$(basename "$file"): output contains the token's signature"
  fi
}

n=0
for tok in "$work"/out/*.jwt; do
  name=$(basename "$tok" .jwt)
  # Valid through the JWKS URL, and through discovery.
  check 0 '"sub"' "$tok" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json" "${algs[@]}"
  check 0 "valid: issuer=$iss" "$tok" --issuer "$iss" --audience "$aud" "${algs[@]}"
  # Tampered payload: a claim changed after signing.
  $py - "$tok" "$work/tampered.jwt" <<'PY'
import base64, json, sys
h, p, s = open(sys.argv[1]).read().strip().split(".")
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
c["sub"] = "admin"
p2 = base64.urlsafe_b64encode(json.dumps(c).encode()).rstrip(b"=").decode()
open(sys.argv[2], "w").write(".".join([h, p2, s]))
PY
  check 1 SIGNET_ERR_BAD_SIGNATURE "$work/tampered.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json" "${algs[@]}"
  # Tampered signature: one bit of its first byte.
  $py - "$tok" "$work/badsig.jwt" <<'PY'
import base64, sys
h, p, s = open(sys.argv[1]).read().strip().split(".")
raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
raw[0] ^= 1
open(sys.argv[2], "w").write(".".join([h, p, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()]))
PY
  check 1 SIGNET_ERR_BAD_SIGNATURE "$work/badsig.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json" "${algs[@]}"
  # Another audience, another issuer, a future clock.
  check 1 SIGNET_ERR_AUDIENCE_MISMATCH "$tok" --issuer "$iss" --audience api://else --jwks "$iss/jwks.json" "${algs[@]}"
  check 1 SIGNET_ERR_UNKNOWN_ISSUER "$tok" --issuer "$iss/" --audience "$aud" --jwks "$iss/jwks.json" "${algs[@]}"
  check 1 SIGNET_ERR_EXPIRED "$tok" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json" "${algs[@]}" --now $(( $(date +%s) + 3600 ))
  n=$((n + 1))
done
[ "$n" -ge 7 ] || fail "expected 7 signed tokens, got $n"

# Defaults: only ES256 and EdDSA. PS256 and ES384 need opting in.
check 1 SIGNET_ERR_ALG_NOT_ALLOWED "$work/out/py_PS256.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json"
check 1 SIGNET_ERR_ALG_NOT_ALLOWED "$work/out/jose_ES384.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json"
check 0 '"sub"' "$work/out/jose_EdDSA.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json"
# A file JWKS works the same; the token may also be an argument.
"$SIGNET_BIN" verify --issuer "$iss" --audience "$aud" --jwks "$work/www/jwks.json" \
  "$(cat "$work/out/jose_ES256.jwt")" >/dev/null || fail "file JWKS"
# Setup and usage errors exit 2.
check 2 SIGNET_ERR "$work/out/jose_ES256.jwt" --issuer "$iss" --audience "$aud" --jwks "$iss/missing.json"
rc=0; "$SIGNET_BIN" verify --audience "$aud" - </dev/null >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing --issuer: exit $rc"
rc=0; "$SIGNET_BIN" verify --help >/dev/null || rc=$?
[ "$rc" = 0 ] || fail "--help: exit $rc"
echo "interop: $n tokens from jose and PyJWT verified; tampered, misdirected and expired variants rejected"
