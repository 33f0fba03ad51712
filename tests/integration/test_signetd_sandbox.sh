#!/usr/bin/env bash
# signetd runs sandboxed (src/signetd/sandbox.c): every thread has
# no-new-privs, a seccomp filter and no capability, the process is not
# dumpable, and it still serves: tokens before and after a signer is killed
# and respawned, and after a SIGHUP restarts the signers (while signetd
# still spawns them itself, the filter lets that through).
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

if grep -q '^SIGNET_SANDBOX:BOOL=OFF' "$SIGNET_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: built with SIGNET_SANDBOX=OFF"
  exit 0
fi
# A debug filter would stop on a refusal with exit 159 instead of SIGSYS;
# this test wants the real one.
unset SIGNET_SECCOMP_DEBUG

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/default
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >>"$state/signet.conf"
"$SIGNET_BIN" client add --state "$state" --tenant default --id web --audience https://api.one \
  --secret-file "$work/web.secret" >/dev/null || fail "client add"
S=$(cat "$work/web.secret")

start_signetd "$state"
wait_http "$base/readyz"

# status_field FILE NAME: the value of "NAME:" in a /proc status file.
status_field() { sed -n "s/^$2:[[:space:]]*//p" "$1"; }

# check_sandboxed PID WHAT: every thread of PID is sandboxed.
check_sandboxed() {
  local pid=$1 what=$2 st n=0 f
  for st in /proc/"$pid"/task/*/status; do
    [ -r "$st" ] || continue
    n=$((n + 1))
    [ "$(status_field "$st" NoNewPrivs)" = 1 ] || fail "$what: thread $st: NoNewPrivs $(status_field "$st" NoNewPrivs)"
    [ "$(status_field "$st" Seccomp)" = 2 ] || fail "$what: thread $st: Seccomp $(status_field "$st" Seccomp), not 2 (filter)"
    for f in CapEff CapPrm CapInh CapAmb; do
      [ "$(status_field "$st" $f)" = 0000000000000000 ] || fail "$what: thread $st: $f $(status_field "$st" $f)"
    done
  done
  [ "$n" -ge 2 ] || fail "$what: only $n threads readable under /proc/$pid/task"
}

# token NAME: one client_credentials token, HTTP 200 with an access_token.
token() {
  local code
  code=$(curl -s -o "$work/$1.body" -w '%{http_code}' -u "web:$S" -d grant_type=client_credentials "$iss/token") || code=000
  [ "$code" = 200 ] || fail "$1: token endpoint answered $code: $(cat "$work/$1.body")"
  json_get "$work/$1.body" 'd["access_token"].count(".")' | grep -qx 2 || fail "$1: no JWT in $(cat "$work/$1.body")"
}

st=/proc/$signetd_pid/status
[ "$(status_field "$st" NoNewPrivs)" = 1 ] || fail "NoNewPrivs is $(status_field "$st" NoNewPrivs)"
[ "$(status_field "$st" Seccomp)" = 2 ] || fail "Seccomp is $(status_field "$st" Seccomp)"
[ "$(status_field "$st" CapEff)" = 0000000000000000 ] || fail "CapEff is $(status_field "$st" CapEff)"
[ "$(status_field "$st" CapPrm)" = 0000000000000000 ] || fail "CapPrm is $(status_field "$st" CapPrm)"
check_sandboxed "$signetd_pid" "at start"
grep -q 'comp=signetd event=sandbox seccomp=1 no_new_privs=1 caps_dropped=1 dumpable=0' "$work/signetd.log" ||
  fail "no 'sandbox' line with everything on in the log"

token first
check_sandboxed "$signetd_pid" "after a token"

# A signer killed is respawned by the sandboxed signetd (fork, exec): it
# runs under signetd's filter and its own on top.
signers=$(pgrep -P "$signetd_pid" -x signet-signer || true)
[ -n "$signers" ] || fail "no signer children"
for p in $signers; do kill -KILL "$p"; done
for _ in $(seq 1 100); do
  new=$(pgrep -P "$signetd_pid" -x signet-signer || true)
  [ -n "$new" ] && [ "$new" != "$signers" ] && break
  sleep 0.1
done
wait_http "$base/readyz"
token after_respawn
for p in $(pgrep -P "$signetd_pid" -x signet-signer); do
  [ "$(status_field /proc/"$p"/status Seccomp_filters)" -ge 2 ] ||
    fail "respawned signer $p: Seccomp_filters $(status_field /proc/"$p"/status Seccomp_filters), want signetd's and its own"
done

kill -HUP "$signetd_pid"
sleep 1
wait_http "$base/readyz"
token after_reload
check_sandboxed "$signetd_pid" "after SIGHUP"

kill -0 "$signetd_pid" 2>/dev/null || fail "signetd died"
if grep -q 'seccomp denied' "$work/signetd.log"; then fail "a syscall was refused"; fi
stop_signetd || fail "signetd did not stop cleanly (exit $?)"
echo "signetd sandbox: no-new-privs, seccomp, no capabilities on every thread; tokens, respawn, reload: ok"
