#!/usr/bin/env bash
# The audit trail against an insider, on a real signetd (issue 11):
# 1. the sign records rewritten and every SHA-256 recomputed (an attacker
#    with write access to the file): `signet audit verify` fails on the
#    signed checkpoints; with the checkpoints stripped too, it fails as
#    unanchored, and against a checkpoint shipped off the host; control:
#    the untouched log verifies.
# 2. audit.log deleted while signetd runs: the next token request is 503
#    (nothing signed without a durable record), /readyz 503; after a SIGHUP
#    no fresh chain starts; I5 is violated in /status.json; `signet audit
#    reset --reason` starts a new chain that records the reason, and
#    signing comes back.
# 3. the audit lock held by someone else: token requests and /readyz answer
#    503 within a few seconds instead of hanging, and recover once it is
#    released.
# 4. the log made immutable (chattr +i, where the filesystem allows it):
#    the same, and recovery after chattr -i.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/default
state=$work/state
log=$state/signer/audit.log
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
signers = 1

[invariants]
interval = 1s
EOF
"$SIGNET_BIN" client add --state "$state" --tenant default --id web --audience https://api \
  --secret-file "$work/web.secret" >/dev/null || fail "client add web"
S=$(cat "$work/web.secret")
[ -s "$state/signer/audit-key.jwk" ] || fail "signet init recorded no audit key"

checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }
# token: $code, $secs and $work/tok.body
token() {
  local t0 t1
  t0=$(date +%s.%N)
  code=$(curl -s -m 30 -o "$work/tok.body" -w '%{http_code}' -u "web:$S" \
    -d grant_type=client_credentials "$iss/token") || code=000
  t1=$(date +%s.%N)
  secs=$(echo "$t1 - $t0" | bc)
}
ready() { curl -s -m 30 -o "$work/ready.body" -w '%{http_code}' "$base/readyz" || echo 000; }
verify() { "$SIGNET_BIN" audit verify --state "$state" "$@" >"$work/verify.out" 2>&1; }
i5_state() {
  curl -s -m 10 "$tbase/status.json" >"$work/st.json" || return 1
  json_get "$work/st.json" '[i["state"] for i in d["invariants"] if i["id"]=="I5"][0]'
}

# ---- 1. a rewritten chain ------------------------------------------------------
start_signetd "$state"
wait_http "$base/readyz"
for i in 1 2 3 4 5; do
  token
  [ "$code" = 200 ] || fail "token $i: HTTP $code"
done
stop_signetd || fail "signetd exit status after SIGTERM"
[ "$(count_signatures "$state")" -ge 5 ] || fail "fewer than 5 sign records"
verify || fail "the untouched log does not verify: $(cat "$work/verify.out")"
grep -q 'chain intact' "$work/verify.out" && grep -q 'anchored: [1-9]' "$work/verify.out" ||
  fail "verify: $(cat "$work/verify.out")"
grep -q 'record after it\|records after it' "$work/verify.out" &&
  ! grep -q 'NOT anchored' "$work/verify.out" || fail "verify: $(cat "$work/verify.out")"
pass "control: the untouched log verifies, anchored ($(sed -n 2p "$work/verify.out"))"
"$SIGNET_BIN" audit checkpoint --state "$state" >"$work/shipped.cp" || fail "audit checkpoint"
[ "$(wc -l <"$work/shipped.cp")" = 1 ] || fail "audit checkpoint printed $(wc -l <"$work/shipped.cp") lines"
verify --checkpoint "$work/shipped.cp" || fail "verify --checkpoint: $(cat "$work/verify.out")"
pass "signet audit checkpoint ships one line; the log verifies against it"
cp -p "$log" "$work/audit.orig"

# rewrite MODE: what an attacker with write access does: every sign record's
# token hash changed, every hash and link recomputed; "keep" leaves the
# checkpoint records in (their cp_head and prev re-linked), "strip" drops them.
rewrite() {
  $py - "$work/audit.orig" "$log" "$1" <<'PY'
import hashlib, json, sys
src, dst, mode = sys.argv[1:]
out, prev, seq = [], "0" * 64, 0
for line in open(src):
    body = json.loads(line.split(" ", 1)[1])
    if body["type"] == "checkpoint":
        if mode == "strip":
            continue
        body["cp_head"], body["cp_seq"] = prev, seq
    if body["type"] == "sign":
        body["token_sha256"] = hashlib.sha256(b"forged" + str(seq).encode()).hexdigest()
    seq += 1
    body["seq"], body["prev"] = seq, prev
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    prev = hashlib.sha256(text.encode()).hexdigest()
    out.append(prev + " " + text + "\n")
open(dst, "w").write("".join(out))
PY
}
rewrite keep
"$SIGNET_BIN" audit verify --file "$log" --key /dev/null >/dev/null 2>&1 && fail "a bad --key was accepted"
if verify; then fail "the rewritten log verifies: $(cat "$work/verify.out")"; fi
grep -q 'checkpoint signature does not match' "$work/verify.out" ||
  fail "verify does not name the checkpoint: $(cat "$work/verify.out")"
pass "rewritten sign records, hashes recomputed, checkpoints kept: $(head -1 "$work/verify.out")"
rewrite strip
touch -d '-1 minute' "$log"
if verify; then fail "the stripped log verifies: $(cat "$work/verify.out")"; fi
grep -q 'NOT anchored' "$work/verify.out" || fail "verify: $(cat "$work/verify.out")"
pass "checkpoints stripped as well: not anchored, exit 1"
touch "$log"
if verify --checkpoint "$work/shipped.cp"; then fail "the stripped log verifies against the shipped checkpoint"; fi
grep -q 'shipped\|off the host' "$work/verify.out" || fail "verify: $(cat "$work/verify.out")"
pass "checkpoints stripped and the log fresh: the checkpoint shipped off the host still catches it"
cat "$work/audit.orig" >"$log"
verify || fail "the restored log: $(cat "$work/verify.out")"

# ---- 2. the log deleted under a running signetd -------------------------------
start_signetd "$state"
wait_http "$base/readyz"
token
[ "$code" = 200 ] || fail "token before the deletion: HTTP $code"
signed_before=$(count_signatures "$state")
rm -f "$log"
token
[ "$code" = 503 ] || fail "a token was issued after audit.log was deleted: HTTP $code"
grep -q access_token "$work/tok.body" && fail "a token in a 503 body"
pass "audit.log deleted: the next token request is refused (HTTP 503, no token)"
[ "$(ready)" = 503 ] || fail "/readyz after the deletion: $(cat "$work/ready.body")"
grep -q audit "$work/ready.body" || fail "/readyz does not name the audit log: $(cat "$work/ready.body")"
pass "/readyz: 503 ($(cat "$work/ready.body"))"
kill -HUP "$signetd_pid"
sleep 3
token
[ "$code" = 503 ] || fail "after SIGHUP a token was issued: HTTP $code"
[ ! -e "$log" ] || fail "after SIGHUP a fresh audit.log was started: $(head -c 300 "$log")"
pass "after SIGHUP: no fresh chain (no audit.log), signing still refused"
st=
for _ in $(seq 1 60); do
  st=$(i5_state || true)
  [ "$st" = violated ] && break
  sleep 1
done
[ "$st" = violated ] || fail "I5 is '$st', not violated: $(cat "$work/st.json")"
pass "I5 violated: $(json_get "$work/st.json" '[i.get("message") for i in d["invariants"] if i["id"]=="I5"][0]')"
"$SIGNET_BIN" audit reset --state "$state" >/dev/null 2>&1 && fail "audit reset without --reason"
"$SIGNET_BIN" audit reset --state "$state" --reason "test: audit.log deleted" >"$work/reset.out" 2>&1 ||
  fail "audit reset: $(cat "$work/reset.out")"
[ -s "$log" ] || fail "no new log after the reset"
head -1 "$log" | grep -q '"type":"audit_reset"' || fail "the new chain does not start with audit_reset: $(head -1 "$log")"
head -1 "$log" | grep -q 'test: audit.log deleted' || fail "the reset record lacks the reason"
head -1 "$log" | grep -q '"previous_head_seq":[1-9]' || fail "the reset record lacks the previous head"
pass "signet audit reset --reason: new chain, first record audit_reset with the reason and old head"
for _ in $(seq 1 30); do
  token
  [ "$code" = 200 ] && break
  sleep 1
done
[ "$code" = 200 ] || fail "signing did not come back after the reset: HTTP $code"
wait_http "$base/readyz"
pass "signing and /readyz are back after the reset"
"$SIGNET_BIN" audit reset --state "$state" --reason "again" >/dev/null 2>&1 &&
  fail "a reset of a whole log was accepted"
pass "a second reset on a whole log is refused"
[ "$(count_signatures "$state")" -ge 1 ] || fail "no sign record in the new chain"
[ "$signed_before" -ge 6 ] || fail "sign records before the deletion: $signed_before"

# ---- 3. the audit lock held ----------------------------------------------------
# The holder is one process (flock(1) would leave its child holding it).
$py - "$log" "$work/locked" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)
PY
holder=$!
for _ in $(seq 1 100); do [ -e "$work/locked" ] && break; sleep 0.1; done
[ -e "$work/locked" ] || fail "the lock holder did not start"
token
[ "$code" = 503 ] || fail "a token with the audit lock held elsewhere: HTTP $code"
[ "$(echo "$secs < 15" | bc)" = 1 ] || fail "the refusal took ${secs}s (the bound is 5 s)"
pass "audit lock held: token request answered 503 in ${secs}s"
t0=$(date +%s)
r=$(ready)
[ "$r" = 503 ] || fail "/readyz with the lock held: $r $(cat "$work/ready.body")"
[ $(($(date +%s) - t0)) -lt 5 ] || fail "/readyz took too long"
pass "/readyz with the lock held: 503 at once"
kill "$holder"
wait "$holder" 2>/dev/null || true
# Ready again before any token request (nothing else would bring traffic back).
wait_http "$base/readyz"
pass "lock released: /readyz is 200 again without a request in between"
for _ in $(seq 1 10); do
  token
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || fail "signing did not recover after the lock was released: HTTP $code"
pass "lock released: signing recovers"

# ---- 4. an immutable log (chattr +i), where the filesystem has it -------------
if chattr +i "$log" 2>/dev/null; then
  token
  [ "$code" = 503 ] || { chattr -i "$log"; fail "a token with an immutable log: HTTP $code"; }
  first=$secs
  token
  second=$secs
  t0=$(date +%s)
  r=$(ready)
  t1=$(date +%s)
  chattr -i "$log"
  [ "$code" = 503 ] || fail "a second token with an immutable log: HTTP $code"
  [ "$(echo "$first < 15 && $second < 15" | bc)" = 1 ] ||
    fail "refusals with an immutable log took ${first}s and ${second}s"
  [ "$r" = 503 ] && [ $((t1 - t0)) -lt 5 ] || fail "/readyz with an immutable log: $r after $((t1 - t0))s"
  pass "immutable log: token requests 503 in ${first}s and ${second}s, /readyz 503 at once"
  wait_http "$base/readyz"
  token
  [ "$code" = 200 ] || fail "signing after chattr -i: HTTP $code"
  pass "chattr -i: /readyz and signing recover"
else
  echo "skip: chattr +i does not work here"
fi
stop_signetd || fail "signetd exit status after SIGTERM"
verify || fail "the log at the end: $(cat "$work/verify.out")"
grep -q 'reset 1 time' "$work/verify.out" || fail "verify does not report the reset: $(cat "$work/verify.out")"
pass "the log at the end verifies, anchored, and reports the reset"
echo "audit tamper: $checks checks passed"
