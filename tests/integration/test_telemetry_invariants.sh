#!/usr/bin/env bash
# Every invariant broken for real against a live signetd (real signers,
# SoftHSM2 token, audit log, store), each alert seen at a webhook receiver
# within 5 s, and its recovery once repaired:
#   I3  a rogue key made with pkcs11-tool in the token; then an extractable,
#       non-sensitive one;
#   I7  a token signed outside signet with the ACTIVE key itself (the key
#       leaked), reported with the token by a relying party (on_critical =
#       rotate revokes that key); a genuine token reported to the wrong
#       tenant;
#   I5  a byte flipped in an old record of audit.log;
#   I6  max_token_lifetime cut (SIGHUP) while longer tokens are outstanding;
#   I2  rotation paused ([testing] pause_rotation) and the clock advanced;
#   I1  a second ACTIVE key written into the store behind the signer's back;
#   I4  a key's publication time moved so it signed before pre-publication;
#   I8  the signer started with [signer] sandbox = false.
# Alerts also land in the audit log, whose chain stays whole.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
source "$(dirname "$0")/telemetry/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: pkcs11-tool (opensc) missing"; exit 0; }

port=$(free_port)
base=http://127.0.0.1:$port
state=$work/state
clock=$work/clock
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" --rotation-period 1h >/dev/null || fail "signet init"
# The injected clock starts after init's real one: time never runs backwards.
t0=$(($(date +%s) + 2))
set_clock "$t0"
start_webhook
conf_base=$(cat "$state/signet.conf")
write_conf() { # write_conf [extra lines...]
  {
    echo "$conf_base" | sed -e 's/^rotation_period = .*/rotation_period = 3600s/' \
      -e 's/^jwks_max_age = .*/jwks_max_age = 60s/' -e 's/^clock_skew = .*/clock_skew = 10s/' \
      -e 's/^max_token_lifetime = .*/max_token_lifetime = 600s/'
    cat <<EOF
[server]
listen = 127.0.0.1:$port
[testing]
clock_file = $clock
$*
[alerts]
webhook_url = $hook_url
webhook_backoff = 100ms
coalesce_window = 2s
on_critical = rotate
[invariants]
interval = 1s
audit_full_verify = 1s
rotation_grace = 10s
EOF
  } >"$state/signet.conf.new"
  mv "$state/signet.conf.new" "$state/signet.conf"
}
write_conf
# The sed above must have hit every key.
grep -q '^rotation_period = 3600s' "$state/signet.conf" && grep -q '^max_token_lifetime = 600s' "$state/signet.conf" ||
  fail "config rewrite"
client() { "$SIGNET_BIN" client "$@" --state "$state" >/dev/null; }
client add --tenant a --id web --scope read --audience https://api.a --secret-file "$work/web.secret" || fail "client web"
client add --tenant a --id rp --scope signet:report --audience https://rp.a --secret-file "$work/rp.secret" || fail "client rp"
client add --tenant b --id web --scope read --audience https://api.b --secret-file "$work/web-b.secret" || fail "client web (b)"
client add --tenant b --id rpb --scope signet:report --audience https://rp.b --secret-file "$work/rpb.secret" || fail "client rpb"

start_signetd "$state"
wait_http "$base/readyz"
wait_states "$tbase" "$all_ok" 15
sleep 1.5
[ "$(alerts_count)" = 0 ] || fail "alerts on a clean start: $(cat "$hook_log")"

token() { # token CLIENT SECRETFILE TENANT
  curl -fsS -u "$1:$(cat "$2")" -d grant_type=client_credentials "$base/t/$3/token" |
    $py -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
report() { # report TENANT CLIENT SECRETFILE BODYFILE -> $work/report.out
  curl -sS -o "$work/report.out" -w '%{http_code}' -u "$2:$(cat "$3")" \
    -H 'Content-Type: application/json' --data-binary "@$4" "$base/t/$1/reports"
}
kids() { curl -fsS "$base/t/$1/jwks.json" | $py -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'; }
active_kid() { # the kid tokens of tenant $1 are signed with
  local sf=$work/web.secret
  [ "$1" = a ] || sf=$work/web-$1.secret
  jwt_part "$(token web "$sf" "$1")" 0 | $py -c 'import json,sys; print(json.load(sys.stdin)["kid"])'
}

# ---- I3: a rogue key in the token ------------------------------------------
n=$(alerts_count)
p11 --keypairgen --key-type EC:prime256v1 --label rogue --id 99 >/dev/null 2>&1 || fail "pkcs11-tool keypairgen"
wait_alert "$n" invariant_violation I3 "not a key signet created"
n=$(alerts_count)
p11 --delete-object --type privkey --id 99 >/dev/null 2>&1 || fail "pkcs11-tool delete"
p11 --delete-object --type pubkey --id 99 >/dev/null 2>&1 || true
wait_alert "$n" invariant_recovered I3

# ---- I3: an extractable, non-sensitive key ---------------------------------
n=$(alerts_count)
p11 --keypairgen --key-type EC:prime256v1 --label leaky --id 98 --extractable >/dev/null 2>&1 ||
  fail "pkcs11-tool keypairgen --extractable"
wait_alert "$n" invariant_violation I3 "extractable"
n=$(alerts_count)
p11 --delete-object --type privkey --id 98 >/dev/null 2>&1 || fail "pkcs11-tool delete"
p11 --delete-object --type pubkey --id 98 >/dev/null 2>&1 || true
wait_alert "$n" invariant_recovered I3

# ---- I7: a forged token, reported by a relying party --------------------------
T=$(token web "$work/web.secret" a)
$py "$tm_helpers/tokens.py" report "$T" >"$work/genuine.json"
code=$(report a rp "$work/rp.secret" "$work/genuine.json")
[ "$code" = 200 ] || fail "report of a genuine token: $code $(cat "$work/report.out")"
[ "$(json_get "$work/report.out" 'd["results"]')" = "['issued']" ] || fail "genuine token: $(cat "$work/report.out")"
kid=$(active_kid a)
F=$(leak_token "$kid" "$base/t/a" https://api.a)
$py "$tm_helpers/tokens.py" report-with-token "$F" "$T" >"$work/forged.json"
n=$(alerts_count)
code=$(report a rp "$work/rp.secret" "$work/forged.json")
[ "$code" = 200 ] || fail "report: $code $(cat "$work/report.out")"
[ "$(json_get "$work/report.out" 'd["results"]')" = "['forged', 'issued']" ] || fail "verdicts: $(cat "$work/report.out")"
wait_alert "$n" invariant_violation I7 "$kid"
[ "$(last_alert 'd["severity"], d["kid"], d["name"]')" = "('critical', '$kid', 'no_forged_tokens')" ] ||
  fail "I7 alert: $(cat "$hook_log.last")"
# on_critical = rotate: the leaked key is revoked, leaves the JWKS, and I7 recovers.
for _ in $(seq 50); do case " $(kids a) " in *" $kid "*) sleep 0.1 ;; *) break ;; esac; done
case " $(kids a) " in *" $kid "*) fail "the leaked key $kid is still in the JWKS" ;; esac
[ "$(active_kid a)" != "$kid" ] || fail "tokens are still signed by the leaked key"
wait_alert "$n" invariant_recovered I7
grep -q "event=emergency_rotation.*kid=$kid.*result=SIGNET_OK" "$work/signetd.log" || fail "no emergency_rotation log line"

# A genuine token of tenant a accepted by a relying party of tenant b.
T2=$(token web "$work/web.secret" a)
$py "$tm_helpers/tokens.py" report "$T2" >"$work/cross.json"
n=$(alerts_count)
code=$(report b rpb "$work/rpb.secret" "$work/cross.json")
[ "$code" = 200 ] && [ "$(json_get "$work/report.out" 'd["results"]')" = "['wrong_tenant']" ] ||
  fail "cross-tenant report: $code $(cat "$work/report.out")"
wait_alert "$n" invariant_violation I7 "a token of another issuer"
# Such a detection is held for coalesce_window (2 s) of the (injected) clock.
set_clock $((t0 + 10))
wait_alert "$n" invariant_recovered I7

# ---- I5: an old audit record edited ---------------------------------------------
n=$(alerts_count)
cp "$state/signer/audit.log" "$work/audit.bak"
$py - "$state/signer/audit.log" <<'PY'
import sys
path = sys.argv[1]
with open(path, "r+b") as f:
    data = f.read()
    start = data.index(b"\n") + 1          # record 2
    pos = data.index(b'"time":', start) + 8  # a digit of its time
    f.seek(pos)
    f.write(bytes([data[pos] ^ 0x01]))
PY
wait_alert "$n" invariant_violation I5 "broken"
n=$(alerts_count)
$py - "$state/signer/audit.log" "$work/audit.bak" <<'PY'
import sys
path, bak = sys.argv[1], sys.argv[2]
orig = open(bak, "rb").read()
with open(path, "r+b") as f:
    data = f.read()
    start = orig.index(b"\n") + 1
    pos = orig.index(b'"time":', start) + 8
    f.seek(pos)
    f.write(orig[pos:pos + 1])
PY
wait_alert "$n" invariant_recovered I5
"$SIGNET_BIN" audit verify --state "$state" >/dev/null 2>&1 || fail "audit chain broken after the repair"
grep -q '"type":"invariant_violation".*"invariant":"I7"' "$state/signer/audit.log" ||
  grep -q '"invariant":"I7".*"type":"invariant_violation"' "$state/signer/audit.log" || fail "no I7 alert record in the audit log"

# ---- I6: tokens outliving their key's window after max_token_lifetime shrank ------
long=$(token web "$work/web.secret" a)   # 600 s
n=$(alerts_count)
sed -i 's/^max_token_lifetime = .*/max_token_lifetime = 120s/' "$state/signet.conf"
sed -i 's/^token_lifetime = .*/token_lifetime = 60s/' "$state/signet.conf"
kill -HUP "$signetd_pid"
wait_alert "$n" invariant_violation I6 "after the key leaves the JWKS"
# Recovery: once the longest such token has expired.
n=$(alerts_count)
set_clock $((t0 + 700))
wait_alert "$n" invariant_recovered I6
: "$long"

# ---- I2: rotation stopped, the clock advanced -------------------------------
n=$(alerts_count)
write_conf "pause_rotation = true"
kill -HUP "$signetd_pid"
sleep 1
set_clock $((t0 + 700 + 3600 + 60 + 10 + 10 + 30))
wait_alert "$n" invariant_violation I2 "ACTIVE for" 15
n=$(alerts_count)
write_conf "pause_rotation = false"
kill -HUP "$signetd_pid"
wait_alert "$n" invariant_recovered I2 "" 8

# The store is tampered with next: no scheduler may act on it meanwhile.
write_conf "pause_rotation = true"
kill -HUP "$signetd_pid"
sleep 0.5

# ---- I1: two ACTIVE keys (the key store edited behind the signer's back, by root) --
# The database refuses a second ACTIVE key itself: the tamperer drops that
# index first.
db=$(sed -n 's/^keystore = sqlite://p' "$state/signet.conf"); case "$db" in /*) ;; *) db=$state/$db ;; esac
n=$(alerts_count)
kb=$(active_kid b)
sqlite3 "$db" "DROP INDEX keys_one_active; UPDATE keys SET state = 3 WHERE issuer = '$base/t/b' AND state = 2;" ||
  fail "sqlite3 update"
wait_alert "$n" invariant_violation I1 "2 ACTIVE keys"
n=$(alerts_count)
sqlite3 "$db" "UPDATE keys SET state = 2 WHERE issuer = '$base/t/b' AND state = 3 AND kid <> '$kb';
  CREATE UNIQUE INDEX keys_one_active ON keys(issuer, alg) WHERE state = 3;" || fail "sqlite3 repair"
wait_alert "$n" invariant_recovered I1

# ---- I4: a key that signed before its pre-publication ended --------------------
n=$(alerts_count)
sqlite3 "$db" "UPDATE keys SET published_at = activated_at - 5 WHERE kid = '$kb';"
wait_alert "$n" invariant_violation I4 "after publication"
n=$(alerts_count)
sqlite3 "$db" "UPDATE keys SET published_at = activated_at - 70 WHERE kid = '$kb';"
wait_alert "$n" invariant_recovered I4

stop_signetd || fail "signetd exit status after SIGTERM"
grep -q 'AddressSanitizer\|runtime error' "$work/signetd.log" && fail "sanitizer report"

# ---- I8: a signer without its sandbox ------------------------------------------
n=$(alerts_count)
sed -i 's/^sandbox = true/sandbox = false/' "$state/signet.conf"
grep -q '^sandbox = false' "$state/signet.conf" || fail "sandbox = false not set"
start_signetd "$state"
wait_alert "$n" invariant_violation I8 "sandbox = false" 8
wait_http "$base/readyz"
curl -fsS "$tbase/status.json" >"$work/st.json"
[ "$(json_get "$work/st.json" '[i["state"] for i in d["invariants"] if i["id"]=="I8"][0]')" = violated ] ||
  fail "I8 not violated in /status.json"
stop_signetd || fail "signetd exit status after SIGTERM"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null 2>&1 || fail "audit chain broken at the end"
$py - "$hook_log" <<'PY' || fail "alert order"
import json, sys
seqs = [json.loads(json.loads(l)["body"])["alert_seq"] for l in open(sys.argv[1])]
# alert_seq restarts with each signetd process; within one it only grows.
runs = [[]]
for s in seqs:
    if runs[-1] and s <= runs[-1][-1]:
        runs.append([])
    runs[-1].append(s)
assert len(runs) <= 2, seqs
print("alerts: %d, in order" % len(seqs))
PY
echo "telemetry invariants: OK"
