#!/usr/bin/env bash
# `signet audit verify` end to end: logs built here with sha256sum (an
# implementation independent of ours), then verdicts, messages and exit codes
# (0 intact, 1 broken, 2 usage or missing log), --state, $SIGNET_STATE,
# --file and --json.
set -euo pipefail

: "${SIGNET_BIN:?SIGNET_BIN must name the signet CLI}"
[ -x "$SIGNET_BIN" ] || { echo "FAIL: $SIGNET_BIN is not an executable" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/signet-audit-cli-XXXXXX")
chmod 0711 "$work" # reached by the accounts signet and signet-signer
trap 'rm -rf "$work"' EXIT
unset SIGNET_STATE

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

zeros=0000000000000000000000000000000000000000000000000000000000000000

# make_log FILE N: N chained sign records, bodies compact with sorted keys.
make_log() {
  local file=$1 n=$2 prev=$zeros i body hash tok
  : >"$file"
  for ((i = 1; i <= n; i++)); do
    tok=$(printf 'token-%d' "$i" | sha256sum | cut -d' ' -f1)
    body="{\"iss\":\"https://issuer.example/t1\",\"jti\":\"jti-$i\",\"kid\":\"k-2026-01\",\"prev\":\"$prev\",\"seq\":$i,\"time\":$((1700000000 + i)),\"token_sha256\":\"$tok\",\"type\":\"sign\"}"
    hash=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
    printf '%s %s\n' "$hash" "$body" >>"$file"
    prev=$hash
  done
}

# run EXPECTED_RC ARGS...: runs the CLI, keeps stdout/stderr in $out/$err.
run() {
  local want=$1 rc=0
  shift
  out=$("$SIGNET_BIN" "$@" 2>"$work/stderr") || rc=$?
  err=$(cat "$work/stderr")
  if [ "$rc" -ne "$want" ]; then
    fail "signet $* exited $rc, want $want (stdout: $out; stderr: $err)"
    return 1
  fi
  return 0
}

expect_out() { [ "$out" = "$1" ] || fail "stdout was '$out', want '$1'"; }
expect_out_has() { [[ $out == *"$1"* ]] || fail "stdout '$out' lacks '$1'"; }
expect_err_has() { [[ $err == *"$1"* ]] || fail "stderr '$err' lacks '$1'"; }

state=$work/state
mkdir -p "$state/signer"
log=$state/signer/audit.log
make_log "$log" 5
cp "$log" "$work/good.log"

# Intact, by --state, by $SIGNET_STATE (and --state wins over it), by --file.
run 0 audit verify --state "$state" && expect_out "audit log $log: 5 records, chain intact"
run 0 audit verify --state="$state" && expect_out "audit log $log: 5 records, chain intact"
SIGNET_STATE=$state run 0 audit verify && expect_out "audit log $log: 5 records, chain intact"
SIGNET_STATE=$work/nowhere run 0 audit verify --state "$state" &&
  expect_out "audit log $log: 5 records, chain intact"
run 0 audit verify --file "$work/good.log" &&
  expect_out "audit log $work/good.log: 5 records, chain intact"
if run 0 audit verify --state "$state" --json; then
  expect_out_has '"intact":true'
  expect_out_has '"records":5'
fi

# One changed byte in record 3 (inside its body).
line12=$(head -n 2 "$work/good.log" | wc -c)
cp "$work/good.log" "$log"
printf 'Z' | dd of="$log" bs=1 seek=$((line12 + 100)) conv=notrunc status=none
run 1 audit verify --state "$state" &&
  expect_out "audit log $log: chain broken at record 3: hash mismatch"
if run 1 audit verify --state "$state" --json; then
  expect_out_has '"intact":false'
  expect_out_has '"first_bad":3'
  expect_out_has '"reason":"hash mismatch"'
fi
# A broken verdict never echoes record contents.
[[ $out != *jti-* && $out != *issuer.example* ]] || fail "verdict printed record contents: $out"

# One changed byte in a hash.
cp "$work/good.log" "$log"
printf 'g' | dd of="$log" bs=1 seek=$((line12 + 3)) conv=notrunc status=none
run 1 audit verify --state "$state" && expect_out_has "chain broken at record 3:"

# A deleted, a duplicated and a swapped record.
sed '2d' "$work/good.log" >"$log"
run 1 audit verify --state "$state" &&
  expect_out "audit log $log: chain broken at record 2: seq 3 where 2 belongs"
sed '4p' "$work/good.log" >"$log"
run 1 audit verify --state "$state" && expect_out_has "chain broken at record 5: "
g=$work/good.log
{ sed -n 1p "$g"; sed -n 3p "$g"; sed -n 2p "$g"; sed -n '4,$p' "$g"; } >"$log"
run 1 audit verify --state "$state" && expect_out_has "chain broken at record 2: "

# A well-hashed record whose prev is not the hash before it.
prev2=$(sed -n '2p' "$work/good.log" | cut -d' ' -f1)
body="{\"prev\":\"${prev2:0:63}0\",\"seq\":3,\"time\":1,\"type\":\"sign\"}"
[ "${prev2:63:1}" != 0 ] || body="{\"prev\":\"${prev2:0:63}1\",\"seq\":3,\"time\":1,\"type\":\"sign\"}"
{ head -n 2 "$work/good.log"; printf '%s %s\n' "$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)" "$body"; } >"$log"
run 1 audit verify --state "$state" &&
  expect_out "audit log $log: chain broken at record 3: prev does not chain"

# A torn last line (crash mid-write).
head -c -10 "$work/good.log" >"$log"
run 1 audit verify --state "$state" &&
  expect_out "audit log $log: chain broken at record 5: torn/missing newline"

# Empty is intact; missing is a setup error.
: >"$log"
run 0 audit verify --state "$state" && expect_out "audit log $log: 0 records, chain intact"
rm -f "$log"
run 2 audit verify --state "$state" && expect_err_has "no audit log at $log"
if run 2 audit verify --state "$state" --json; then
  expect_out_has '"error":"SIGNET_ERR_NOT_FOUND"'
fi
run 2 audit verify --file "$work" && expect_err_has "not a file"

# Help and usage errors.
run 0 audit --help && expect_out_has "usage: signet audit verify"
run 0 audit verify --help && expect_out_has "--state DIR"
run 2 audit && expect_err_has "usage: signet audit verify"
run 2 audit frobnicate && expect_err_has "unknown subcommand"
run 2 audit verify --bogus && expect_err_has "unexpected argument"
run 2 audit verify --file && expect_err_has "--file needs a value"

if [ "$failures" -ne 0 ]; then
  echo "test_audit_cli: $failures failure(s)" >&2
  exit 1
fi
echo "test_audit_cli: ok"
