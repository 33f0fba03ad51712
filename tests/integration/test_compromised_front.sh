#!/usr/bin/env bash
# A compromised front end, as real processes: the attacker runs as `signet`
# and holds the front end's channels to the signers. Every attack must fail.
#
# 1. On the channel (tests/tools/fe_attack.c, one scenario per run): tokens
#    for another tenant, over-long tokens, a kid that is not ACTIVE (refused,
#    and the same signer keeps signing); ROTATE, an unknown type, over-cap
#    frames, what only the monitor may say (an audit record, a revoke, the
#    inventory, the key rows) and the monitor's own messages (the channel is
#    dropped, and a new signer still signs). The audit log records the
#    refusals and its chain stays intact.
# 2. On the files and processes, with signetd running: as `signet`, no PIN,
#    token, key store or audit write is reachable, pkcs11-tool cannot log in
#    with the real PIN, the audit log cannot even be read, and a signer or
#    the monitor cannot be traced, read or signalled. The front end itself
#    runs as signet with no capability, no-new-privs and a seccomp filter;
#    the monitor likewise as signet-monitor, which reads the audit log and
#    nothing else of the signer's, and comes back when it is killed.
# Each denial is paired with a control: the same command as the owner
# (signet-signer) succeeds, so a check fails when the boundary is not there
# rather than because the command cannot work at all.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root to create the accounts"
  exit 0
fi
source "$(dirname "$0")/signetd/lib.sh"

fe_attack=$SIGNET_BUILD_DIR/tests/fe_attack
[ -x "$fe_attack" ] || fail "$fe_attack not built"
if grep -q '^SIGNET_SANDBOX:BOOL=OFF' "$SIGNET_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: built with SIGNET_SANDBOX=OFF"
  exit 0
fi
unset SIGNET_SECCOMP_DEBUG

port=$(free_port)
base=http://127.0.0.1:$port
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" >/dev/null ||
  fail "signet init"
printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >>"$state/signet.conf"
[ "$(stat -c %U "$state/front")" = signet ] && [ "$(stat -c %U "$state/signer")" = signet-signer ] &&
  [ "$(stat -c %U "$state/monitor")" = signet-monitor ] ||
  fail "the state is not split between signet, signet-signer and signet-monitor"
audit=$state/signer/audit.log
checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }

# ---- 1. the channel ----------------------------------------------------------

# attack SCENARIO: fe_attack must report every attack refused as expected.
attack() {
  local out rc=0
  out=$("$fe_attack" --state "$state" "$@" 2>"$work/fe_attack.err") || rc=$?
  echo "$out" | sed 's/^/  /'
  [ "$rc" = 0 ] || { cat "$work/fe_attack.err" >&2; fail "fe_attack $*: exit $rc"; }
  pass "fe_attack $*"
}
# a new signer (a fresh channel) still signs
fresh_sign() { attack sign >/dev/null; }
# The client the scenarios sign for (fe_attack.c, FE_CLIENT): added by the
# operator, so bound in the signer's registry as well as the front's store.
"$SIGNET_BIN" client add --state "$state" --tenant a --id fe-attack --scope read \
  --audience https://api.example --secret-file "$work/fe-attack.secret" >/dev/null ||
  fail "signet client add fe-attack"

seq_before=$(grep -c . "$audit")
attack other-issuer
attack long-lifetime
attack wrong-kid
attack rotate
fresh_sign
attack unknown-type
fresh_sign
attack oversize
fresh_sign
attack watcher-messages
fresh_sign
attack policy

# The audit trail: every refusal is there, from the front's role, and the
# chain is intact.
new_records() { tail -n +"$((seq_before + 1))" "$audit"; }
# (grep -c reads everything: an early exit of grep -q would SIGPIPE the
# pipeline, which pipefail reports as a failure.)
has_record() { [ "$(new_records | grep -F "\"type\":\"$1\"" | grep -cF "$2")" -gt 0 ]; }
# want_frames N REASON: exactly N frame_refused records with that reason.
want_frames() {
  local n
  n=$(new_records | grep -F '"type":"frame_refused"' | grep -cF "\"reason\":\"$2\"" || true)
  [ "$n" = "$1" ] || fail "$n frame_refused records with reason '$2', expected $1"
}
want_frames 5 "message not permitted for the peer's role" # ROTATE, NOTE, REVOKE, INVENTORY, KEYS
want_frames 2 "payload over the message's cap"            # STATUS+1, SIGN cap+1
want_frames 1 "response frame from the peer"              # 0x81
want_frames 1 "unknown message type"                      # 0x30
want_frames 1 "frame length over the protocol's cap"      # header over the max
n=$(new_records | grep -cF '"type":"frame_refused"' || true)
[ "$n" = 11 ] || fail "$n frame_refused records for 11 dropped channels"
if new_records | grep -F '"type":"frame_refused"' | grep -qvF '"role":"front"'; then
  fail "a frame_refused record does not say role front"
fi
pass "audit: $n frame_refused records, role front"
for reason in SIGNET_ERR_POLICY_ISSUER SIGNET_ERR_KEY_STATE SIGNET_ERR_UNKNOWN_ISSUER_CONFIG \
  SIGNET_ERR_POLICY_LIFETIME; do
  has_record sign_refused "\"reason\":\"$reason\"" || fail "no sign_refused record: $reason"
done
for reason in SIGNET_ERR_POLICY_CLIENT SIGNET_ERR_POLICY_AUDIENCE SIGNET_ERR_POLICY_SCOPE \
  SIGNET_ERR_POLICY_CLAIMS SIGNET_ERR_POLICY_JTI; do
  has_record sign_refused "\"reason\":\"$reason\"" || fail "no sign_refused record: $reason"
done
[ "$(grep -F '"type":"client_bound"' "$audit" | grep -cF '"client_id":"fe-attack"')" = 1 ] ||
  fail "no client_bound record for fe-attack"
pass "audit: sign_refused records for the policy cases"
if new_records | grep -qF '"kid":"forged"'; then fail "a forged record reached the audit log"; fi
if new_records | grep -qF '"type":"report"'; then fail "a front-end note reached the audit log"; fi
pass "audit: no forged record"
"$SIGNET_BIN" audit verify --state "$state" >"$work/verify.out" 2>&1 ||
  fail "signet audit verify: $(cat "$work/verify.out")"
grep -q 'chain intact' "$work/verify.out" || fail "audit verify: $(cat "$work/verify.out")"
pass "audit verify: $(cat "$work/verify.out")"

# ---- 2. files and processes, with signetd running ----------------------------

start_signetd "$state"
wait_http "$base/readyz"
front=$(pgrep -P "$signetd_pid" -x signetd || true)
[ -n "$front" ] || fail "the launcher has no front end child"
signers=$(pgrep -P "$signetd_pid" -x signet-signer || true)
[ -n "$signers" ] || fail "the launcher has no signer children"
signer=${signers%%$'\n'*}
monitor=$(pgrep -P "$signetd_pid" -x signet-monitor || true)
[ -n "$monitor" ] || fail "the launcher has no monitor child"

# As the front end: its account and primary group (the front end clears its
# supplementary groups the same way), no way to regain anything.
as_front() { setpriv --reuid=signet --regid=signet --clear-groups --no-new-privs "$@"; }
as_owner() { setpriv --reuid=signet-signer --regid=signet-signer --clear-groups "$@"; }

# denied WHAT CMD...: CMD fails as signet, and succeeds as signet-signer (the
# control). The first line of the denial is shown; what a command that should
# have been denied printed is not (it may be a PIN).
denied() {
  local what=$1 rc=0
  shift
  as_front "$@" >"$work/denied.out" 2>&1 || rc=$?
  [ "$rc" != 0 ] || fail "as signet, $what succeeded ($(wc -c <"$work/denied.out") bytes out)"
  as_owner "$@" >"$work/control.out" 2>&1 ||
    fail "control: as signet-signer, $what failed too: $(head -c 300 "$work/control.out")"
  pass "$what: denied ($(head -n 1 "$work/denied.out" | head -c 160))"
}
# denied_only WHAT CMD...: a write the owner must not be made to do.
denied_only() {
  local what=$1 rc=0
  shift
  as_front "$@" >"$work/denied.out" 2>&1 || rc=$?
  [ "$rc" != 0 ] || fail "as signet, $what succeeded ($(wc -c <"$work/denied.out") bytes out)"
  pass "$what: denied ($(head -n 1 "$work/denied.out" | head -c 160))"
}

sd=$state/signer
user_pin=$(cat "$sd/user.pin")
denied "read user.pin" cat "$sd/user.pin"
denied "read so.pin" cat "$sd/so.pin"
denied "list signer/" ls "$sd"
denied "list signer/tokens" ls "$sd/tokens"
denied "read softhsm2.conf" cat "$sd/softhsm2.conf"
denied "read keys.db" sqlite3 -readonly "$sd/keys.db" 'SELECT count(*) FROM keys'
keys_before=$(sha256sum <"$sd/keys.db")
denied_only "sqlite3 UPDATE keys.db" sqlite3 "$sd/keys.db" "UPDATE keys SET state = 'ACTIVE'"
denied "open keys.db for append" sh -c ': >>"$1"' sh "$sd/keys.db"
denied_only "append to keys.db" sh -c 'echo x >>"$1"' sh "$sd/keys.db"
[ "$(sha256sum <"$sd/keys.db")" = "$keys_before" ] || fail "keys.db changed"
audit_before=$(sha256sum <"$audit")
denied "read audit.log" cat "$audit"
as_monitor_g() {
  setpriv --reuid=signet-monitor --regid=signet-monitor --init-groups "$@"
}
as_monitor_g cat "$audit" >/dev/null || fail "the monitor cannot read the audit log"
pass "read audit.log as signet-monitor: allowed (its reader)"
for f in user.pin so.pin keys.db softhsm2.conf; do
  if as_monitor_g cat "$sd/$f" >/dev/null 2>&1; then fail "signet-monitor can read signer/$f"; fi
done
if as_monitor_g sh -c 'echo "{}" >>"$1"' sh "$audit" 2>/dev/null; then
  fail "signet-monitor can append to the audit log"
fi
if as_monitor_g ls "$sd/tokens" >/dev/null 2>&1; then fail "signet-monitor can list the tokens"; fi
pass "as signet-monitor: no PIN, key store, token directory or audit write"
denied "open audit.log for append" sh -c ': >>"$1"' sh "$audit"
denied_only "append to audit.log" sh -c 'echo "{}" >>"$1"' sh "$audit"
denied_only "truncate audit.log (>)" sh -c ': >"$1"' sh "$audit"
denied_only "truncate audit.log (truncate -s 0)" truncate -s 0 "$audit"
[ "$(sha256sum <"$audit")" = "$audit_before" ] || fail "audit.log changed"
denied "create a file in signer/" sh -c ': >"$1/planted" && rm -f "$1/planted"' sh "$sd"
[ ! -e "$sd/planted" ] || fail "a file was planted in signer/"
denied "replace user.pin by rename" sh -c 'mv "$1/user.pin" "$1/user.pin.x" && mv "$1/user.pin.x" "$1/user.pin"' sh "$sd"

softhsm=$(sed -n 's/^module *= *//p' "$state/signet.conf")
if command -v pkcs11-tool >/dev/null; then
  denied "pkcs11-tool --login with the real PIN" env SOFTHSM2_CONF="$sd/softhsm2.conf" \
    pkcs11-tool --module "$softhsm" --token-label signet --list-objects --login --pin "$user_pin"
else
  fail "pkcs11-tool missing (Debian's opensc)"
fi

# The signers: not traceable, readable or signalled by the front end.
for p in $signers; do
  out=$("$fe_attack" --state "$state" ptrace "$p" 2>&1) || fail "ptrace signer $p: $out"
  pass "ptrace signer $p: ${out##*$'\n'}"
  out=$("$fe_attack" --state "$state" vmread "$p" 2>&1) || fail "process_vm_readv signer $p: $out"
  pass "process_vm_readv signer $p: ${out##*$'\n'}"
done
if command -v gdb >/dev/null; then
  as_front gdb -p "$signer" -batch -ex 'info registers rip' >"$work/gdb.out" 2>&1 || true
  grep -q 'ptrace: Operation not permitted' "$work/gdb.out" ||
    fail "gdb -p $signer as signet: $(cat "$work/gdb.out")"
  pass "gdb -p signer: ptrace: Operation not permitted"
fi
denied_only "read /proc/signer/environ" cat "/proc/$signer/environ"
denied_only "read /proc/signer/mem" dd if="/proc/$signer/mem" bs=1 count=1 skip=4194304 status=none
denied_only "list /proc/signer/fd" ls "/proc/$signer/fd"
denied_only "signal a signer" kill -0 "$signer"
denied_only "signal the monitor" kill -0 "$monitor"
denied_only "read /proc/monitor/environ" cat "/proc/$monitor/environ"

# The front end as it runs.
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
# sandboxed WHAT PID ACCOUNT: runs as ACCOUNT (every uid), CapEff 0,
# NoNewPrivs 1, Seccomp 2.
sandboxed() {
  local what=$1 pid=$2 uid
  uid=$(id -u "$3")
  [ "$(status_field "$pid" Uid)" = "$uid	$uid	$uid	$uid" ] || fail "$what Uid: $(status_field "$pid" Uid)"
  [ "$(status_field "$pid" CapEff)" = 0000000000000000 ] || fail "$what CapEff: $(status_field "$pid" CapEff)"
  [ "$(status_field "$pid" NoNewPrivs)" = 1 ] || fail "$what NoNewPrivs: $(status_field "$pid" NoNewPrivs)"
  [ "$(status_field "$pid" Seccomp)" = 2 ] || fail "$what Seccomp: $(status_field "$pid" Seccomp)"
  pass "$what $pid: Uid $uid ($3), CapEff 0, NoNewPrivs 1, Seccomp 2"
}
sandboxed "front end" "$front" signet
sandboxed monitor "$monitor" signet-monitor
signet_uid=$(id -u signet)
# Each signer's second channel is the monitor's: fd 4 is a socket.
for p in $signers; do
  [ -S "/proc/$p/fd/4" ] || fail "signer $p has no monitor channel on fd 4"
done
pass "every signer has a channel to the monitor"

# What the front end shows of the monitor: I8 judges the front end from
# /proc, not from its word.
curl -fsS "$tbase/status.json" >"$work/status.json" || fail "GET /status.json"
python3 - "$work/status.json" "$signet_uid" <<'PY' || fail "/status.json: $(head -c 600 "$work/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
tb = d["trust_boundary"]
assert tb["enforced"] is True, tb
fe = tb["front_end"]
assert fe["uid"] == int(sys.argv[2]) and fe["sandboxed"] and fe["seccomp"] and fe["no_new_privs"], fe
PY
pass "/status.json (from the monitor): trust boundary enforced, front end sandboxed"

# The monitor killed: the launcher starts another, which watches again.
kill -9 "$monitor"
new_monitor=
for _ in $(seq 1 100); do
  new_monitor=$(pgrep -P "$signetd_pid" -x signet-monitor || true)
  [ -n "$new_monitor" ] && [ "$new_monitor" != "$monitor" ] && break
  sleep 0.1
done
[ -n "$new_monitor" ] && [ "$new_monitor" != "$monitor" ] || fail "no new monitor after kill -9"
ok=0
for _ in $(seq 1 100); do
  if curl -fsS "$tbase/status.json" >"$work/status2.json" 2>/dev/null &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["trust_boundary"]["front_end"]["sandboxed"]; assert len(d["trust_boundary"]["signers"]) > 0' "$work/status2.json" 2>/dev/null; then
    ok=1
    break
  fi
  sleep 0.2
done
[ "$ok" = 1 ] || fail "the new monitor does not answer /status.json: $(head -c 400 "$work/status2.json" 2>/dev/null)"
# The launcher replaces the signers one at a time (the others serve
# meanwhile): wait until every signer running has a channel to the new one.
all_linked() {
  local p n=0
  for p in $(pgrep -P "$signetd_pid" -x signet-signer); do
    [ -S "/proc/$p/fd/4" ] || return 1
    n=$((n + 1))
  done
  [ "$n" -ge 1 ]
}
for _ in $(seq 1 150); do all_linked && break; sleep 0.1; done
for p in $(pgrep -P "$signetd_pid" -x signet-signer); do
  [ -S "/proc/$p/fd/4" ] || fail "signer $p has no channel to the new monitor"
done
pass "monitor killed: restarted ($new_monitor), the signers restarted with channels to it, /status.json answers"

# Still serving, the chain still intact.
wait_http "$base/readyz"
stop_signetd || fail "signetd did not stop cleanly"
"$SIGNET_BIN" audit verify --state "$state" >"$work/verify.out" 2>&1 ||
  fail "signet audit verify at the end: $(cat "$work/verify.out")"

# A state directory from before the monitor had an account: signetd refuses
# to start (it would run unwatched), and `signet init` brings it up to date.
mv "$state/monitor" "$state/monitor.old"
rc=0
timeout 20 "$SIGNETD" --state "$state" >"$work/stale.out" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "signetd started without monitor/ (rc $rc)"
grep -q "monitor.*signet init" "$work/stale.out" || fail "no hint to run signet init: $(head -c 400 "$work/stale.out")"
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" >"$work/reinit.out" 2>&1 ||
  fail "signet init on the old layout: $(cat "$work/reinit.out")"
[ "$(stat -c '%U %a' "$state/monitor")" = "signet-monitor 700" ] || fail "init did not make monitor/"
rm -rf "$state/monitor.old"
pass "an old layout: signetd refuses it (rc $rc), signet init brings it up to date"

# A state directory, or a part of it, that others may write (a local user
# could swap the key store, the config or the front end's store): signetd
# refuses to start, naming it; the control starts.
for p in "$state" "$state/front" "$state/signer"; do
  mode=$(stat -c '%a' "$p")
  chmod o+w "$p"
  rc=0
  timeout 20 "$SIGNETD" --state "$state" >"$work/open.out" 2>&1 || rc=$?
  chmod "$mode" "$p"
  [ "$rc" = 2 ] || fail "signetd started with $p writable by others (rc $rc)"
  grep -qF -- "$p" "$work/open.out" && grep -q "writable by its group or others" "$work/open.out" ||
    fail "no clear reason for $p: $(head -c 400 "$work/open.out")"
done
start_signetd "$state"
wait_http "$base/readyz"
stop_signetd || fail "signetd did not stop cleanly after the state checks"
pass "a state directory or part writable by others: signetd refuses to start; the control starts"
echo "compromised front end: $checks checks, every attack refused"
