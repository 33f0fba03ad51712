#!/usr/bin/env bash
# The processes of signetd and how each is held (src/signetd/launcher.c,
# sandbox.c, src/signer/sandbox.c): the launcher (the pid we started) has
# two kinds of children, the front end (signetd) and the signers
# (signet-signer). As root, the front end runs as `signet` with an empty
# bounding set and the signers as `signet-signer`; either way every thread
# of the front end has no-new-privs, a seccomp filter and no capability, the
# signers have their own filter, and it all still serves: tokens before and
# after the signers are killed (the launcher starts new ones), and after a
# SIGHUP (forwarded by the launcher; the signers are restarted).
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

front=$(pgrep -P "$signetd_pid" -x signetd || true)
[ -n "$front" ] || fail "the launcher (pid $signetd_pid) has no front end child"
signers=$(pgrep -P "$signetd_pid" -x signet-signer || true)
[ -n "$signers" ] || fail "the launcher has no signer children"
owner() { stat -c %U "$state/$1"; }
if [ "$(id -u)" = 0 ]; then
  [ "$(ps -o user= -p "$signetd_pid")" = root ] || fail "the launcher is not root"
  [ "$(ps -o user= -p "$front")" = signet ] || fail "the front end runs as $(ps -o user= -p "$front"), not signet"
  [ "$(owner front)" = signet ] && [ "$(owner signer)" = signet-signer ] || fail "state not split"
  [ "$(status_field /proc/"$front"/status CapBnd)" = 0000000000000000 ] ||
    fail "the front end's bounding set is $(status_field /proc/"$front"/status CapBnd)"
  for p in $signers; do
    [ "$(ps -o user= -p "$p")" = signet-signer ] || fail "signer $p runs as $(ps -o user= -p "$p")"
  done
  grep -q 'event=started .*uid=[1-9][0-9]* trust_boundary="enforced"' "$work/signetd.log" ||
    fail "the front end does not log trust_boundary=\"enforced\""
else
  grep -q 'trust_boundary="not enforced (single account)"' "$work/signetd.log" ||
    fail "a single-account start does not say so"
fi
for p in $signers; do
  for f in NoNewPrivs:1 Seccomp:2 CapEff:0000000000000000; do
    [ "$(status_field /proc/"$p"/status "${f%%:*}")" = "${f#*:}" ] ||
      fail "signer $p: ${f%%:*} $(status_field /proc/"$p"/status "${f%%:*}")"
  done
done
st=/proc/$front/status
[ "$(status_field "$st" NoNewPrivs)" = 1 ] || fail "NoNewPrivs is $(status_field "$st" NoNewPrivs)"
[ "$(status_field "$st" Seccomp)" = 2 ] || fail "Seccomp is $(status_field "$st" Seccomp)"
[ "$(status_field "$st" CapEff)" = 0000000000000000 ] || fail "CapEff is $(status_field "$st" CapEff)"
[ "$(status_field "$st" CapPrm)" = 0000000000000000 ] || fail "CapPrm is $(status_field "$st" CapPrm)"
check_sandboxed "$front" "at start"
grep -q 'comp=signetd event=sandbox seccomp=1 no_new_privs=1 caps_dropped=1 dumpable=0' "$work/signetd.log" ||
  fail "no 'sandbox' line with everything on in the log"

token first
check_sandboxed "$front" "after a token"

# Signers killed are started again by the launcher, not the front end
# (which could not: its filter refuses fork and exec).
for p in $signers; do kill -KILL "$p"; done
for _ in $(seq 1 100); do
  new=$(pgrep -P "$signetd_pid" -x signet-signer || true)
  [ -n "$new" ] && [ "$new" != "$signers" ] && break
  sleep 0.1
done
wait_http "$base/readyz"
token after_respawn
for p in $(pgrep -P "$signetd_pid" -x signet-signer); do
  [ "$(status_field /proc/"$p"/status Seccomp)" = 2 ] ||
    fail "respawned signer $p: Seccomp $(status_field /proc/"$p"/status Seccomp)"
done
[ -z "$(pgrep -P "$front" || true)" ] || fail "the front end has children: $(pgrep -P "$front" | tr '\n' ' ')"

kill -HUP "$signetd_pid"
sleep 1
wait_http "$base/readyz"
token after_reload
check_sandboxed "$front" "after SIGHUP"

kill -0 "$front" 2>/dev/null || fail "the front end died"
if grep -q 'seccomp denied' "$work/signetd.log"; then fail "a syscall was refused"; fi
stop_signetd || fail "signetd did not stop cleanly (exit $?)"
echo "signetd sandbox: no-new-privs, seccomp, no capabilities on every thread; tokens, respawn, reload: ok"
