#!/usr/bin/env bash
# `signet verify` with DPoP (RFC 9449, issue 12): tokens and proofs made by
# PyJWT; the exact interface --dpop/--method/--url/--scheme/--dpop-nonce and
# its exit codes (0 valid, 1 rejected naming the SIGNET_ERR_* reason, 2
# usage); each downgrade; a stolen bound token used with another key; the
# token taken byte for byte (one trailing stdin newline removed, nothing
# else) and a token over the size cap rejected (1), not a usage error (2).
set -euo pipefail
: "${SIGNET_SOURCE_DIR:?}" "${SIGNET_BIN:?}"
helpers=$SIGNET_SOURCE_DIR/tests/integration/libsignet
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-dpop-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

py=python3
$py -c 'import jwt, cryptography' 2>/dev/null || py=/usr/bin/python3
$py -c 'import jwt, cryptography' || fail "python3-jwt and python3-cryptography are required"

iss=https://as.example
aud=api://orders
url=https://rs.example/api/orders
now=$(date +%s)
$py "$helpers/dpop_cli.py" "$work" "$iss" "$aud" "$url" "$now" || fail "dpop_cli.py failed"

base=(--issuer "$iss" --audience "$aud" --jwks "$work/jwks.json" --now "$now")
# run EXPECTED-EXIT EXPECTED-TEXT TOKEN-FILE args...: the token on stdin.
run() {
  local want=$1 text=$2 file=$3
  shift 3
  local rc=0
  "$SIGNET_BIN" verify "${base[@]}" "$@" - <"$file" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$want" ] || fail "$(basename "$file") $*: exit $rc, wanted $want: $(cat "$work/out" "$work/err")"
  grep -q -- "$text" "$work/out" "$work/err" ||
    fail "$(basename "$file") $*: output lacks '$text': $(cat "$work/out" "$work/err")"
  # The verdict never echoes the token or the proof.
  local sig
  sig=$(tr -d ' \t\r\n' <"$file" | cut -d. -f3)
  if [ -n "$sig" ] && grep -qF -- "$sig" "$work/out" "$work/err"; then
    fail "$(basename "$file"): output contains the token's signature"
  fi
}
proof() { cat "$work/$1.proof"; }
dpop=(--method GET --url "$url")

# The legitimate requests.
run 0 '"jkt"' "$work/bound.jwt" --dpop "$(proof good)" "${dpop[@]}"
run 0 'valid:' "$work/bound.jwt" --dpop "$(proof good)" "${dpop[@]}" --scheme DPoP
run 0 'valid:' "$work/bound.jwt" --dpop "$(proof good)" --method GET \
  --url "HTTPS://RS.EXAMPLE:443/api/./orders?page=2#x"
run 0 'valid:' "$work/unbound.jwt"
run 0 'valid:' "$work/unbound.jwt" --scheme Bearer

# Downgrades, both ways.
run 1 SIGNET_ERR_DPOP_DOWNGRADE "$work/bound.jwt"
run 1 SIGNET_ERR_DPOP_DOWNGRADE "$work/bound.jwt" --scheme Bearer
run 1 SIGNET_ERR_DPOP_DOWNGRADE "$work/bound.jwt" --dpop "$(proof good)" "${dpop[@]}" --scheme Bearer
run 1 SIGNET_ERR_DPOP_DOWNGRADE "$work/unbound.jwt" --dpop "$(proof good_unbound)" "${dpop[@]}"
run 1 SIGNET_ERR_DPOP "$work/unbound.jwt" --dpop "$(proof good_unbound)" "${dpop[@]}" --scheme Bearer
run 1 'without a DPoP proof' "$work/bound.jwt" --scheme DPoP "${dpop[@]}"

# A stolen bound token, with the thief's own key; a proof lifted from
# another request (other token, method, URL).
run 1 SIGNET_ERR_DPOP_BINDING "$work/bound.jwt" --dpop "$(proof thief)" "${dpop[@]}"
run 1 'ath does not match' "$work/bound.jwt" --dpop "$(proof for_other)" "${dpop[@]}"
run 1 'htm does not match' "$work/bound.jwt" --dpop "$(proof good)" --method POST --url "$url"
run 1 'htu does not match' "$work/bound.jwt" --dpop "$(proof good)" --method GET \
  --url https://rs.example/api/admin

# One §4.3 rule each.
run 1 'iat is too old' "$work/bound.jwt" --dpop "$(proof old)" "${dpop[@]}"
run 1 'iat is in the future' "$work/bound.jwt" --dpop "$(proof future)" "${dpop[@]}"
run 1 'typ must be dpop+jwt' "$work/bound.jwt" --dpop "$(proof typ)" "${dpop[@]}"
run 1 'alg is not' "$work/bound.jwt" --dpop "$(proof hs256)" "${dpop[@]}"
run 1 'private or symmetric' "$work/bound.jwt" --dpop "$(proof private_jwk)" "${dpop[@]}"
run 1 'jti claim is missing' "$work/bound.jwt" --dpop "$(proof no_jti)" "${dpop[@]}"
run 1 'ath claim is missing' "$work/bound.jwt" --dpop "$(proof no_ath)" "${dpop[@]}"
run 1 SIGNET_ERR_DPOP "$work/bound.jwt" --dpop "not.a-proof" "${dpop[@]}"

# Nonces: --dpop-nonce is the nonce this server handed out.
run 0 'valid:' "$work/bound.jwt" --dpop "$(proof nonce)" "${dpop[@]}" --dpop-nonce n-1
run 1 SIGNET_ERR_DPOP_NONCE "$work/bound.jwt" --dpop "$(proof nonce)" "${dpop[@]}" --dpop-nonce n-2
run 1 SIGNET_ERR_DPOP_NONCE "$work/bound.jwt" --dpop "$(proof good)" "${dpop[@]}" --dpop-nonce n-1

# Usage errors exit 2.
run 2 'needs --method and --url' "$work/bound.jwt" --dpop "$(proof good)"
run 2 'needs --method and --url' "$work/bound.jwt" --dpop "$(proof good)" --method GET
run 2 'needs --method and --url' "$work/bound.jwt" --scheme DPoP
run 2 'wants Bearer or DPoP' "$work/bound.jwt" --dpop "$(proof good)" "${dpop[@]}" --scheme MAC
run 2 'needs --dpop' "$work/unbound.jwt" --dpop-nonce n-1

# The token byte for byte: only one trailing newline read from stdin goes.
tok=$(cat "$work/unbound.jwt")
printf '%s\n' "$tok" >"$work/nl.jwt"
run 0 'valid:' "$work/nl.jwt"
for variant in '%s\n\n' '%s\r\n' '%s ' ' %s' '%s\t' '\n%s'; do
  # shellcheck disable=SC2059
  printf "$variant" "$tok" >"$work/ws.jwt"
  run 1 'invalid: SIGNET_ERR_' "$work/ws.jwt"
done
# As an argument, exactly the bytes given.
rc=0; "$SIGNET_BIN" verify "${base[@]}" "$tok" >/dev/null 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "token as an argument: exit $rc"
rc=0; "$SIGNET_BIN" verify "${base[@]}" "$tok"$'\n' >"$work/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "token argument with a newline: exit $rc: $(cat "$work/out")"

# Over the size cap: a rejection naming its reason, on stdin and as an argument.
head -c 20000 /dev/zero | tr '\0' 'a' >"$work/big.jwt"
run 1 SIGNET_ERR_TOO_LARGE "$work/big.jwt"
head -c 16385 /dev/zero | tr '\0' 'a' >"$work/big.jwt"
run 1 SIGNET_ERR_TOO_LARGE "$work/big.jwt"
rc=0; "$SIGNET_BIN" verify "${base[@]}" "$(cat "$work/big.jwt")" >"$work/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q SIGNET_ERR_TOO_LARGE "$work/out" ||
  fail "oversized argument: exit $rc: $(cat "$work/out")"

echo "ok: signet verify DPoP interface, downgrades, binding, nonces, token bytes"
