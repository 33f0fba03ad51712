#!/usr/bin/env bash
# Second steps after a password (issue 14, docs/people.md), against a real
# signetd and signer: tests/integration/signetd/people_mfa.py plays the
# browser and drives the real signet-authenticator and Debian's oathtool.
#   1. every mfa policy (phishing_resistant, approval_or_passkey, any): a
#      right password never makes a session; each offers only what it
#      allows, and every way around the second step is closed;
#   2. number matching: the device sees the request (address, time, never
#      the number), another user's device cannot answer it, a forged or
#      replayed device request is refused, the right number signs in
#      (acr mfa, amr pwd swk mfa) once;
#   3. wrong numbers deny; the third locks prompts and raises an alert;
#   4. prompt bombing: the 4th prompt in 10 minutes is 429;
#   5. "this wasn't me" denies, ends every session of the user, alerts;
#   6. TOTP with oathtool's codes, a used time step refused, old codes too;
#   7. an unanswered prompt expires after 60 s (injected clock, last).
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

authenticator=${SIGNET_AUTHENTICATOR:-$SIGNET_BUILD_DIR/src/signet-authenticator}
[ -x "$authenticator" ] || fail "signet-authenticator is not built ($authenticator)"
command -v oathtool >/dev/null || fail "oathtool is not installed (scripts/deps.sh)"

port=$(free_port)
tport=$(free_port)
base=http://localhost:$port/t
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$base/default" --issuer "$base/pr" \
  --issuer "$base/any" >/dev/null || fail "signet init"
: >"$work/clock"
chmod 0666 "$work/clock"
cat >>"$state/signet.conf" <<CONF
[server]
listen = 127.0.0.1:$port
telemetry_listen = 127.0.0.1:$tport
[testing]
clock_file = $work/clock
[tenant:pr]
mfa = phishing_resistant
[tenant:any]
mfa = any
CONF

# link TENANT NAME: `signet user add`, the enrolment link it prints.
link() {
  local out
  out=$("$SIGNET_BIN" user add --state "$state" --tenant "$1" --name "$2" 2>&1) ||
    fail "user add $1/$2: $out"
  sed -n 's/^enrolment_link: //p' <<<"$out"
}
{
  printf '{"default": {'
  sep=
  for n in alice bob carol dave frank; do
    printf '%s"%s": "%s"' "$sep" "$n" "$(link default $n)"
    sep=,
  done
  printf '}, "any": {"erin": "%s"}, "pr": {"pat": "%s"}}\n' "$(link any erin)" "$(link pr pat)"
} >"$work/links.json"
echo "ok: tenants default, pr (phishing_resistant), any; 7 people"

start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
wait_http "$base/default/.well-known/openid-configuration"

mkdir -m 0700 "$work/devices"
rc=0
SIGNET_PORT=$port TELEMETRY=http://127.0.0.1:$tport SIGNET_ISS=$base/default SIGNET_BIN=$SIGNET_BIN SIGNET_STATE=$state \
  SIGNET_LOG=$work/signetd.log SIGNET_CLOCK=$work/clock HELPERS=$helpers \
  AUTHENTICATOR=$authenticator DEVICES=$work/devices LINKS=$work/links.json \
  ISSUERS="{\"default\": \"$base/default\", \"pr\": \"$base/pr\", \"any\": \"$base/any\"}" \
  timeout 300 "$py" "$helpers/people_mfa.py" || rc=$?
kill -0 "$signetd_pid" 2>/dev/null || fail "signetd is not running after the MFA checks"
[ "$rc" = 0 ] || fail "MFA checks failed (exit $rc; see above)"
if grep -qE 'status=5[0-9][0-9]' "$work/signetd.log"; then
  fail "a 5xx was served: $(grep -E 'status=5' "$work/signetd.log" | head -3)"
fi
echo "ok: no 5xx in the access log"
for f in "$work"/devices/*/device.key; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
done
echo "ok: every device key is 0600"

# Every factor added or removed and both approval alerts are in the signer's
# audit log, sent by the monitor (source monitor), each naming the user.
log=$state/signer/audit.log
count() { grep '"type":"'"$1"'"' "$log" | grep -c "$2" || true; }
[ "$(count factor_changed '"event":"factor_added","factor":"passkey"')" -ge 7 ] ||
  fail "the audit log lacks a factor_changed record per passkey enrolled"
[ "$(count factor_changed '"event":"factor_added","factor":"password"')" -ge 7 ] ||
  fail "the audit log lacks a factor_changed record per password set"
[ "$(count factor_changed '"event":"factor_added","factor":"device"')" -ge 6 ] ||
  fail "the audit log lacks a factor_changed record per device registered"
[ "$(count factor_changed '"event":"factor_added","factor":"totp"')" -ge 1 ] ||
  fail "the audit log lacks erin's TOTP enrolment"
[ "$(count mfa_alert '"event":"approval_locked"')" -ge 1 ] ||
  fail "the audit log lacks bob's approval lock (mfa_alert)"
[ "$(count mfa_alert '"event":"approval_reported"')" -ge 1 ] ||
  fail "the audit log lacks dave's \"this wasn't me\" (mfa_alert)"
grep '"type":"mfa_alert"' "$log" | grep -q '"source":"monitor"' ||
  fail "the mfa_alert records do not come from the monitor"
echo "ok: factor changes and approval alerts are in the audit log"
stop_signetd || fail "signetd did not stop cleanly"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "ok: signetd stopped cleanly, the audit chain verifies"
echo "PASS"
