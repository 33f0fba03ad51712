#!/usr/bin/env bash
# A password and an approval on the person's own device, end to end (issue
# 14, docs/people.md, docs/authenticator.md): headless Chromium (the system
# /usr/bin/chromium, puppeteer-core) enrols a passkey from `signet user
# add`'s link, sets a password on the account page and shows the one-time
# code the real signet-authenticator enrols with. Signing in for a public
# client with the password, the page shows a two-digit number with the
# request's context (application, source address, the proxy's coarse
# location, time); signet-authenticator shows the same context without the
# number, and the number read from the page approves the sign-in: the
# browser lands on the relying party, openid-client exchanges the code, the
# ID token's amr says pwd and mfa. A wrong number typed on the device denies
# the request on the page. With SIGNET_SCREENSHOTS=DIR: the page's number
# and the approver's prompt (docs/screenshots/).
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
browser_setup people_mfa_e2e.mjs
authenticator=${SIGNET_AUTHENTICATOR:-$SIGNET_BUILD_DIR/src/signet-authenticator}
[ -x "$authenticator" ] || fail "signet-authenticator is not built ($authenticator)"

port=$(free_port)
rp_port=$(free_port)
iss=http://localhost:$port/t/default
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
# The coarse location comes from a trusted proxy's header: the browser test
# sends it as that proxy would.
printf '[server]\nlisten = 127.0.0.1:%s\nlocation_header = X-Signet-Test-Location\n' "$port" \
  >>"$state/signet.conf"
"$SIGNET_BIN" client add --state "$state" --tenant default --id webapp --type public \
  --redirect-uri "http://localhost:$rp_port/cb" --grant authorization_code \
  --grant refresh_token --audience https://api.example >"$work/client.out" 2>&1 ||
  fail "client add: $(cat "$work/client.out")"
"$SIGNET_BIN" user add --state "$state" --tenant default --name alice >"$work/user.out" 2>&1 ||
  fail "user add: $(cat "$work/user.out")"
user_id=$(sed -n 's/^id: //p' "$work/user.out")
link=$(sed -n 's/^enrolment_link: //p' "$work/user.out")
[ -n "$user_id" ] && [ -n "$link" ] || fail "user add printed no id or link: $(cat "$work/user.out")"

start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
wait_http "$iss/.well-known/openid-configuration"

mkdir -m 0700 "$work/device"
rc=0
SIGNET_SCREENSHOTS=$shots CHROMIUM=$chromium timeout 200 \
  node "$node_dir/people_mfa_e2e.mjs" "$iss" "$rp_port" "$user_id" "$link" "$authenticator" \
  "$work/device" >"$work/node.out" 2>&1 || rc=$?
cat "$work/node.out"
[ "$rc" = 0 ] || fail "the browser test failed (exit $rc; see above)"
tail -n 1 "$work/node.out" | grep -q '^PEOPLE_MFA_E2E_DONE ' ||
  fail "the browser test did not finish (no PEOPLE_MFA_E2E_DONE line)"
for c in enrol.passkey account.password_set device.enrolled device.code_single_use device.key_0600 \
  page.number_and_context device.same_context_no_number device.prompt_approved \
  page.redirected_with_code tokens.amr_pwd_mfa wrong_number.denied_on_page csp.no_violations; do
  grep -q "^OK $c\b" "$work/node.out" || fail "check $c did not pass"
done
if [ -n "$shots" ]; then
  for s in signin-approval-number approver-prompt; do
    [ -s "$shots/$s.png" ] || fail "no screenshot $shots/$s.png"
  done
fi
grep -q 'approval_requested' "$work/signetd.log" || fail "no approval_requested in signetd's log"
! grep -qE 'status=5[0-9][0-9]' "$work/signetd.log" || fail "a 5xx was served"
stop_signetd || fail "signetd did not stop cleanly"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "people MFA browser: all checks passed"
