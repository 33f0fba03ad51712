#!/usr/bin/env bash
# Abuse of the signer and of the report path (issue 11), against a real
# signetd (real signers, SoftHSM2, audit log) with [alerts] on_critical =
# rotate:
# 1. the signer's client registry: a client the operator added gets tokens,
#    each with a jti the signer minted; a client planted in the front end's
#    store behind the operator's back (as the front end's account could)
#    gets none, before and after `signet init` runs again on the directory;
# 2. revokes: after one revoke of an issuer, 5 rapid revokes of its new
#    ACTIVE key are all refused (exit 1) and audited, the key stays; the
#    operator's --force goes through and is audited;
# 3. reports: three reports of a token's hash alone (a token signet never
#    issued, signed by a key the attacker made with the ACTIVE kid) are
#    "unverified" and revoke nothing; the token itself is "bad_signature"
#    and revokes nothing; a token made with the ACTIVE key itself outside
#    signet (the key leaked: pkcs11-tool) is "forged" and revokes the key;
#    a second such token of the issuer within the hour is "forged" too but
#    revokes nothing: an alert asks the operator to confirm, who does with
#    `signet revoke --force`;
# 4. the public status page shows no text of a reporter's, and names the
#    reporting client.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root to create the accounts"
  exit 0
fi
source "$(dirname "$0")/signetd/lib.sh"
source "$(dirname "$0")/telemetry/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: pkcs11-tool (opensc) missing"; exit 0; }

port=$(free_port)
base=http://127.0.0.1:$port
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" >/dev/null ||
  fail "signet init"
start_webhook
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
[alerts]
webhook_url = $hook_url
webhook_backoff = 100ms
coalesce_window = 1s
on_critical = rotate
EOF
checks=0
pass() { checks=$((checks + 1)); echo "ok: $*"; }
audit=$state/signer/audit.log
records() { grep -F "\"type\":\"$1\"" "$audit" | grep -cF "${2:-}" || true; }
client() { "$SIGNET_BIN" client "$@" --state "$state" >/dev/null; }
client add --tenant a --id web --scope read --audience https://api.a --secret-file "$work/web.secret" ||
  fail "client web"
client add --tenant a --id rp --scope signet:report --audience https://rp.a --secret-file "$work/rp.secret" ||
  fail "client rp"
client add --tenant a --id evil --scope "read admin" --audience https://api.a \
  --secret-file "$work/evil.secret" || fail "client evil"
client add --tenant b --id webb --scope read --audience https://api.b --secret-file "$work/webb.secret" ||
  fail "client webb"
start_signetd "$state"
wait_http "$base/readyz"

# token CLIENT TENANT -> $code, $work/tok.body
token() {
  code=$(curl -s -o "$work/tok.body" -w '%{http_code}' -u "$1:$(cat "$work/$1.secret")" \
    -d grant_type=client_credentials "$base/t/$2/token")
}
access_token() { json_get "$work/tok.body" 'd["access_token"]'; }

# ---- 1. the signer's client registry ---------------------------------------
token web a
[ "$code" = 200 ] || fail "token for web: $code $(cat "$work/tok.body")"
T1=$(access_token)
token web a
T2=$(access_token)
j1=$(jwt_part "$T1" 1 | $py -c 'import json,sys; print(json.load(sys.stdin)["jti"])')
j2=$(jwt_part "$T2" 1 | $py -c 'import json,sys; print(json.load(sys.stdin)["jti"])')
[ "${#j1}" = 22 ] && [ "$j1" != "$j2" ] || fail "jtis: '$j1' '$j2'"
[ "$(records sign "\"jti\":\"$j1\"")" = 1 ] && [ "$(records sign '"client_id":"web"')" -ge 2 ] ||
  fail "the sign record does not carry the minted jti and the client"
pass "a client the operator added gets tokens; the signer minted distinct jtis ($j1, $j2)"

# The control: evil, added by the operator, gets tokens (from both signers,
# round robin: each has its binding cached now).
for _ in 1 2 3 4; do
  token evil a
  [ "$code" = 200 ] || fail "control: token for evil: $code $(cat "$work/tok.body")"
done
# Planted: the operator removes evil (the signer unbinds it); the front
# end's account writes the row back into its own store.
front_uid=$(stat -c %u "$state/front")
as_front="setpriv --reuid=$front_uid --regid=$(id -g "$front_uid") --clear-groups"
$as_front $py - "$state/front/signet.db" >"$work/evil.row" <<'PY' || fail "read evil's row"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps(db.execute("SELECT * FROM clients WHERE client_id = 'evil'").fetchone()))
PY
client remove --tenant a evil || fail "client remove evil"
$as_front $py - "$state/front/signet.db" "$work/evil.row" <<'PY' || fail "plant evil"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = json.load(open(sys.argv[2]))
db.execute("INSERT INTO clients VALUES (%s)" % ",".join("?" * len(row)), row)
db.commit()
PY
[ "$(records client_unbound '"client_id":"evil"')" = 1 ] || fail "no client_unbound record for evil"
refused_before=$(records sign_refused SIGNET_ERR_POLICY_CLIENT)
# Every signer refuses at once, whatever it had cached (the unbind moved
# the key store's version).
for _ in 1 2 3 4; do
  token evil a
  [ "$code" = 503 ] || fail "a planted client got $code: $(cat "$work/tok.body")"
done
[ "$(records sign_refused SIGNET_ERR_POLICY_CLIENT)" -ge $((refused_before + 4)) ] ||
  fail "no sign_refused POLICY_CLIENT records"
pass "a client planted in the front end's store gets no token from any signer (503), each refusal audited"
# `signet init` again (as `make run` does): the registry was filled at the
# first init, so nothing is taken from the front end's store now.
"$SIGNET_BIN" init --state "$state" >"$work/reinit.out" 2>&1 || fail "signet init again: $(cat "$work/reinit.out")"
token evil a
[ "$code" = 503 ] || fail "after init again, the planted client got $code"
grep -q "registry filled" "$work/reinit.out" && fail "init back-filled the registry again"
pass "signet init on the directory again does not bind the planted client"
# A directory made before the registry existed (no signer/registry.filled):
# the next init fills the registry from the front end's store, once, as
# root trusting it at that moment; the init after that does not.
rm "$state/signer/registry.filled"
"$SIGNET_BIN" init --state "$state" >"$work/reinit.out" 2>&1 || fail "init (back-fill): $(cat "$work/reinit.out")"
grep -q "registry filled from the front end's store (once): 1 client(s) bound" "$work/reinit.out" ||
  fail "no back-fill: $(cat "$work/reinit.out")"
[ "$(records client_bound '"how":"init back-fill"')" = 1 ] || fail "back-fill not audited as one binding (evil)"
token evil a
[ "$code" = 200 ] || fail "the back-filled client got $code"
"$SIGNET_BIN" init --state "$state" >"$work/reinit.out" 2>&1 || fail "init again"
grep -q "registry filled" "$work/reinit.out" && fail "a second back-fill"
pass "an old directory's registry is back-filled by init once (the one client the registry lacked), audited"
client remove --tenant a evil || fail "client remove evil (again)"

# ---- 2. revokes: one per issuer per pre-publication window -----------------
act_of() { "$SIGNET_BIN" keys list --state "$state" --issuer "$base/t/$1" --json |
  $py -c 'import json,sys; print([k["kid"] for k in json.load(sys.stdin) if k["state"] == "ACTIVE"][0])'; }
b1=$(act_of b)
"$SIGNET_BIN" revoke --state "$state" -- "$b1" >/dev/null || fail "first revoke of b's ACTIVE"
b2=$(act_of b)
[ "$b2" != "$b1" ] || fail "the first revoke changed nothing"
refused=$(records revoke_refused)
for i in 1 2 3 4 5; do
  rc=0
  "$SIGNET_BIN" revoke --state "$state" -- "$b2" >"$work/revoke.$i" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "rapid revoke $i: exit $rc $(cat "$work/revoke.$i")"
  grep -q "pre-publication window" "$work/revoke.$i" || fail "rapid revoke $i: $(cat "$work/revoke.$i")"
done
[ "$(act_of b)" = "$b2" ] || fail "a rapid revoke went through"
[ "$(($(records revoke_refused) - refused))" = 5 ] || fail "not 5 revoke_refused records"
pass "5 rapid revokes of the new ACTIVE key: all refused (exit 1) and audited; the key stays"
"$SIGNET_BIN" revoke --state "$state" --force -- "$b2" >/dev/null || fail "forced revoke"
[ "$(act_of b)" != "$b2" ] || fail "the forced revoke changed nothing"
[ "$(records revoke_forced "\"kid\":\"$b2\"")" = 1 ] || fail "no revoke_forced record"
pass "the operator's --force revokes it, audited"

# ---- 3. reports, on_critical = rotate ----------------------------------------
report() { # report BODYFILE -> $code, $work/report.out
  code=$(curl -sS -o "$work/report.out" -w '%{http_code}' -u "rp:$(cat "$work/rp.secret")" \
    -H 'Content-Type: application/json' --data-binary "@$1" "$base/t/a/reports")
}
verdicts() { json_get "$work/report.out" 'd["results"]'; }
a1=$(act_of a)
F=$($py "$tm_helpers/tokens.py" forge "$a1" "$base/t/a" https://api.a)
$py "$tm_helpers/tokens.py" report "$F" >"$work/hash.json"
for i in 1 2 3; do
  report "$work/hash.json"
  [ "$code" = 200 ] && [ "$(verdicts)" = "['unverified']" ] || fail "hash report $i: $code $(cat "$work/report.out")"
done
[ "$(act_of a)" = "$a1" ] || fail "a report of a hash revoked the ACTIVE key"
grep -q "event=emergency_rotation " "$work/signetd.log" && fail "an emergency rotation on a hash"
pass "three reports of a hash alone: unverified, the ACTIVE key stays"
$py "$tm_helpers/tokens.py" report-with-token "$F" >"$work/fake.json"
report "$work/fake.json"
[ "$code" = 200 ] && [ "$(verdicts)" = "['bad_signature']" ] || fail "attacker's token: $code $(cat "$work/report.out")"
[ "$(act_of a)" = "$a1" ] || fail "an attacker's token revoked the ACTIVE key"
pass "a token signed by the attacker's key with the ACTIVE kid: bad_signature, nothing revoked"

n=$(alerts_count)
L=$(leak_token "$a1" "$base/t/a" https://api.a)
$py "$tm_helpers/tokens.py" report-with-token "$L" >"$work/leak.json"
report "$work/leak.json"
[ "$code" = 200 ] && [ "$(verdicts)" = "['forged']" ] || fail "leaked-key token: $code $(cat "$work/report.out")"
a2=$(act_of a)
[ "$a2" != "$a1" ] || fail "the leaked key is still ACTIVE"
grep -q "event=emergency_rotation .*kid=$a1.*result=SIGNET_OK" "$work/signetd.log" ||
  fail "no emergency_rotation of $a1"
wait_alert "$n" invariant_violation I7 "client rp of a reported a token signed by key $a1"
pass "a token made with the ACTIVE key outside signet: forged, the key revoked at once"

n=$(alerts_count)
L2=$(leak_token "$a2" "$base/t/a" https://api.a)
$py "$tm_helpers/tokens.py" report-with-token "$L2" >"$work/leak2.json"
report "$work/leak2.json"
[ "$code" = 200 ] && [ "$(verdicts)" = "['forged']" ] || fail "second leak: $code $(cat "$work/report.out")"
[ "$(act_of a)" = "$a2" ] || fail "a second automatic revoke within the hour went through"
grep -q "event=emergency_rotation_needs_confirmation .*kid=$a2" "$work/signetd.log" ||
  fail "no emergency_rotation_needs_confirmation log line"
wait_alert "$n" invariant_violation I7 "signet revoke --force $a2"
pass "a second forgery within the hour: not revoked automatically, the alert asks for confirmation"
"$SIGNET_BIN" revoke --state "$state" --force -- "$a2" >/dev/null || fail "operator's confirmation"
[ "$(act_of a)" != "$a2" ] || fail "the confirmed revoke changed nothing"
pass "the operator confirms with signet revoke --force"

# ---- 4. the status page: no reporter text, the reporter named --------------
cat >"$work/xss.json" <<'EOF'
{"reports":[{"iss":"<script>alert(1)</script>","kid":"<img src=x onerror=alert(2)>","jti":"j<b>",
 "token_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}
EOF
report "$work/xss.json"
[ "$code" = 200 ] || fail "xss report: $code $(cat "$work/report.out")"
curl -fsS "$tbase/status" >"$work/status.html" || fail "GET /status"
curl -fsS "$tbase/status.json" >"$work/status.json" || fail "GET /status.json"
for f in status.html status.json; do
  if grep -qiE "alert\(1\)|onerror|<script>alert|j<b>" "$work/$f"; then
    fail "reporter text on $f"
  fi
done
grep -q "client rp of a" "$work/status.html" || fail "the status page does not name the reporting client"
pass "the status page carries no reporter text and names the reporting client"

echo "signer policy and reports: $checks checks passed"
