#!/usr/bin/env bash
# People sign in with a passkey in a real browser (issue 13, docs/people.md):
# headless Chromium (the system /usr/bin/chromium, driven by puppeteer-core;
# no browser is ever downloaded) with a CDP virtual authenticator enrols a
# passkey from `signet user add`'s link, signs out, then signs in for a
# public client (openid-client as the relying party: code + PKCE, state,
# nonce, iss), gets single sign-on, a step-up (max_age=0), userinfo,
# refresh-token rotation with reuse detection and RP-initiated logout. The
# ID token's signature is checked with jose against the JWKS, the access
# token with libsignet (`signet verify`). Every page carries the strict CSP,
# X-Frame-Options DENY, no-store; the console shows no CSP violation; the
# cookies are __Host-, Secure, HttpOnly. With SIGNET_SCREENSHOTS=DIR, phone-
# sized screenshots of the pages (signin, enrol, account, logout, error).
# Browsers refuse WebAuthn on IP-address origins: the issuer and every URL the
# browser opens use http://localhost (a secure context); signetd binds
# 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
browser_setup people_e2e.mjs

port=$(free_port)
rp_port=$(free_port)
iss=http://localhost:$port/t/default
aud=https://api.example
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
printf '[server]\nlisten = 127.0.0.1:%s\n' "$port" >>"$state/signet.conf"
"$SIGNET_BIN" client add --state "$state" --tenant default --id webapp --type public \
  --redirect-uri "http://localhost:$rp_port/cb" --redirect-uri "http://localhost:$rp_port/loggedout" \
  --grant authorization_code --grant refresh_token --audience "$aud" --scope "api.read" \
  >"$work/client.out" 2>&1 || fail "client add --type public: $(cat "$work/client.out")"
"$SIGNET_BIN" user add --state "$state" --tenant default --name alice >"$work/user.out" 2>&1 ||
  fail "user add: $(cat "$work/user.out")"
user_id=$(sed -n 's/^id: //p' "$work/user.out")
link=$(sed -n 's/^enrolment_link: //p' "$work/user.out")
[[ "$user_id" =~ ^u[A-Za-z0-9_-]{22}$ ]] || fail "user add printed no user id: $(cat "$work/user.out")"
[[ "$link" == "$iss/enrol?token="* ]] || fail "user add printed no enrolment link under $iss: $link"

start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
wait_http "$iss/.well-known/openid-configuration"

mkdir -p "$work/out"
rc=0
SIGNET_SCREENSHOTS=$shots CHROMIUM=$chromium timeout 180 \
  node "$node_dir/people_e2e.mjs" "$iss" "$rp_port" "$user_id" "$link" "$work/out" \
  >"$work/node.out" 2>&1 || rc=$?
cat "$work/node.out"
[ "$rc" = 0 ] || fail "the browser test failed (exit $rc; see above)"
tail -n 1 "$work/node.out" | grep -q '^PEOPLE_E2E_DONE ' ||
  fail "the browser test did not finish (no PEOPLE_E2E_DONE line)"
for c in enrol.passkey_created enrol.account_lists_one_passkey account.signout code_flow.callback \
  code_flow.id_token code_flow.access_token code_flow.code_single_use sso step_up step_up.max_age_0 \
  step_up.max_age_0_again userinfo refresh.rotated refresh.reuse_refused refresh.family_revoked \
  logout.redirect logout.refresh_revoked logout.session_gone error.enrolment_link_reused \
  conditional_ui pages.security_headers pages.no_csp_violations cookies csrf.refused; do
  grep -q "^OK $c\b" "$work/node.out" || fail "check $c did not pass"
done
if [ -n "$shots" ]; then
  for s in signin enrol account logout error; do
    [ -s "$shots/$s.png" ] || fail "no screenshot $shots/$s.png"
  done
fi

# The access token, verified by libsignet against signetd's JWKS.
[ -s "$work/out/access_token" ] || fail "the browser test wrote no access token"
"$SIGNET_BIN" verify --issuer "$iss" --audience "$aud" --jwks "$iss/jwks.json" - \
  <"$work/out/access_token" >"$work/verify.out" 2>&1 ||
  fail "signet verify rejected the person's access token: $(cat "$work/verify.out")"
grep -q "$user_id" "$work/verify.out" || fail "signet verify did not show sub $user_id: $(cat "$work/verify.out")"
echo "ok: signet verify accepts the person's access token"

# Nothing secret in the log: no token, no cookie value.
for t in "$(cat "$work/out/access_token")" "$(cat "$work/out/id_token")" "${link#*token=}"; do
  ! grep -qF "${t##*.}" "$work/signetd.log" || fail "signetd logged a token or an enrolment link"
done
grep -q 'session_started' "$work/signetd.log" || fail "no session_started in signetd's log"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "people browser: all checks passed"
