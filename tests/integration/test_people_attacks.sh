#!/usr/bin/env bash
# Attacks on people's sign-in (issue 13, docs/people.md) that need no
# browser, against a real signetd; tests/integration/signetd/people_attacks.py
# plays the browser (its own cookie jar, the pages' data-* attributes, JSON
# bodies with Origin) and answers the WebAuthn ceremonies with softauthn.py.
# Every attack is refused with the right status and error code and changes
# nothing (the passkeys, sessions and sign counts, seen through `signet user
# show --json` and `signet session list --json`, are the same afterwards, and
# the legitimate flow still works):
#   1. enrolment: the link works once (then 400, and its page is a 410),
#      an expired link (--link-lifetime 1s); CSRF (no / wrong / another
#      browser's token, no / foreign Origin: 403); registrations with a
#      foreign origin, another rpIdHash, UV or UP off, crossOrigin, a
#      sign-in challenge or another link's, a replayed challenge, fmt other
#      than none: 400 naming the check;
#   2. authorize: PKCE missing / plain / no method, response_type=token:
#      errors back to the client with state and iss (RFC 9207); redirect_uri
#      variants (prefix, suffix, path, port, scheme, slash, query, %-encoding,
#      dot segments, userinfo, missing), an unknown client, a client without
#      authorization_code, duplicate parameters: a 400 page and never a
#      Location; prompt=none without a session: login_required;
#   3. sign-in: a foreign origin, another rpIdHash, a wrong or replayed
#      challenge, UV off, a signature over other data, a counter that goes
#      backwards (refused, passkey_counter_regressed logged), an unknown
#      credential, a disabled user (403 access_denied, their session ended);
#      session fixation (a planted cookie is never the session; every
#      sign-in a new session id);
#   4. token endpoint: PKCE missing / wrong / another flow's, code replay
#      (and the refresh token of its first use then refused), another
#      client, another redirect_uri, refresh-token reuse (the successor dies
#      too), refresh by another client, and the code after 60 s (on the
#      injected clock of a testing build, at the end);
#   5. bodies over 32 KiB (413), not JSON (400), forms with NUL or a bad
#      %-escape (400 page), 8 KiB of junk cookies, malformed session cookies
#      (no session);
#   6. mix-up: iss in every authorization response, tenant two with its own;
#   7. PAR (RFC 9126): a confidential client authenticates as at the token
#      endpoint (wrong, missing or mismatched credentials: 401/400, nothing
#      stored), a request_uri works once, for its own client only, and a
#      client that must push cannot send a plain request; a pushed request
#      is checked like a plain one (redirect_uri, PKCE, nested request_uri);
#   8. DPoP: a public client's refresh family bound to the key of its code
#      exchange (no proof, another key: invalid_grant, nothing rotated);
#   9. logout: id_token_hint alone names the client; forged, an access
#      token, junk, or with another client_id: 400 page; expired (injected
#      clock, at the very end) still accepted.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
iss=http://localhost:$port/t/default
iss2=http://localhost:$port/t/two
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" --issuer "$iss2" >/dev/null ||
  fail "signet init"
# An injected clock for the code-expiry check at the end: empty means the
# real clock until the driver writes a time into it.
: >"$work/clock"
chmod 0666 "$work/clock"
cat >>"$state/signet.conf" <<CONF
[server]
listen = 127.0.0.1:$port
rate_limit = 1000
rate_burst = 1000
[testing]
clock_file = $work/clock
CONF

client() {
  "$SIGNET_BIN" client add --state "$state" "$@" >"$work/client.out" 2>&1 ||
    fail "client add $*: $(cat "$work/client.out")"
}
public=(--type public --redirect-uri http://localhost:9/cb --redirect-uri https://app.example/cb
  --grant authorization_code --grant refresh_token --audience https://api.example --scope api.read)
client --tenant default --id webapp "${public[@]}"
client --tenant default --id webapp2 "${public[@]}"
client --tenant two --id webapp "${public[@]}"
client --tenant default --id svc --secret-file "$work/svc.secret" --audience https://api.example \
  --scope api.read
# A confidential client that must push its requests (PAR, RFC 9126).
client --tenant default --id parweb --secret-file "$work/parweb.secret" --require-par \
  --redirect-uri http://localhost:9/cb --grant authorization_code --audience https://api.example \
  --scope api.read

# link NAME [ARGS]: `signet user add`, the enrolment link it prints.
link() {
  local out
  out=$("$SIGNET_BIN" user add --state "$state" --tenant default --name "$@" 2>&1) ||
    fail "user add $1: $out"
  sed -n 's/^enrolment_link: //p' <<<"$out"
}
alice_link=$(link alice)
bob_link=$(link bob)
[[ "$alice_link" == "$iss/enrol?token="* && "$bob_link" == "$iss/enrol?token="* ]] ||
  fail "user add printed no enrolment link under $iss: $alice_link"
carol_made=$(date +%s.%N)
carol_link=$(link carol --link-lifetime 1s)
[ -n "$carol_link" ] || fail "user add --link-lifetime 1s printed no link"
echo "ok: state, clients webapp/webapp2 (public), svc (client_credentials), users alice, bob, carol"

start_signetd "$state"
wait_http "http://127.0.0.1:$port/readyz"
wait_http "$iss/.well-known/openid-configuration"

started=$(date +%s)
rc=0
SIGNET_PORT=$port SIGNET_ISS=$iss SIGNET_ISS2=$iss2 SIGNET_BIN=$SIGNET_BIN SIGNET_STATE=$state \
  SIGNET_LOG=$work/signetd.log SIGNET_CLOCK=$work/clock HELPERS=$helpers PARWEB_SECRET_FILE=$work/parweb.secret \
  ALICE_LINK=$alice_link BOB_LINK=$bob_link CAROL_LINK=$carol_link CAROL_MADE=$carol_made \
  timeout 120 "$py" "$helpers/people_attacks.py" || rc=$?
echo "(the driver took $(($(date +%s) - started)) s)"
kill -0 "$signetd_pid" 2>/dev/null || fail "signetd is not running after the attacks"
[ "$rc" = 0 ] || fail "people attack checks failed (exit $rc; see above)"

if grep -qE 'status=5[0-9][0-9]' "$work/signetd.log"; then
  fail "a 5xx was served: $(grep -E 'status=5' "$work/signetd.log" | head -3)"
fi
echo "ok: no 5xx in the access log"
for t in "${alice_link#*token=}" "${bob_link#*token=}" "${carol_link#*token=}"; do
  ! grep -qF "$t" "$work/signetd.log" || fail "signetd logged an enrolment token"
done
echo "ok: no enrolment token in the log"
stop_signetd || fail "signetd did not stop cleanly"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "ok: signetd stopped cleanly, the audit chain verifies"
echo "PASS"
