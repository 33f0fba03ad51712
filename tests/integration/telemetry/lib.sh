# Shared by the telemetry integration tests (sourced after signetd/lib.sh):
# a webhook receiver, waiting for alerts, the invariants' state.
tm_helpers=$SIGNET_SOURCE_DIR/tests/integration/telemetry
hook_pid=
hook_log=$work/webhook.log

tm_cleanup() {
  if [ -n "$hook_pid" ]; then kill "$hook_pid" 2>/dev/null || true; wait "$hook_pid" 2>/dev/null || true; fi
  cleanup
}
trap tm_cleanup EXIT

# start_webhook: the receiver on a random port; sets $hook_url.
start_webhook() {
  : >"$hook_log"
  $py "$tm_helpers/webhook_receiver.py" "$hook_log" ok >"$work/webhook.port" 2>>"$work/webhook.err" &
  hook_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/webhook.port" ] && break
    sleep 0.05
  done
  hook_url=http://127.0.0.1:$(head -1 "$work/webhook.port")/alerts
}

# alerts_count: alerts received so far.
alerts_count() { wc -l <"$hook_log" | tr -d ' '; }

# wait_alert FROM TYPE INVARIANT [NEEDLE] [TIMEOUT]: waits until an alert of
# TYPE (invariant_violation|invariant_recovered) for INVARIANT whose message
# or kid contains NEEDLE arrives among the alerts after the first FROM ones;
# prints it and how long it took. Fails after TIMEOUT seconds (default 5).
wait_alert() {
  local from=$1 type=$2 inv=$3 needle=${4:-} timeout=${5:-5}
  $py - "$hook_log" "$from" "$type" "$inv" "$needle" "$timeout" <<'PY' || fail "no $type alert for $inv${needle:+ ($needle)} within ${timeout}s"
import json, sys, time
path, start, typ, inv, needle, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
t0 = time.monotonic()
while time.monotonic() - t0 < timeout:
    with open(path) as f:
        lines = f.readlines()[start:]
    for line in lines:
        a = json.loads(json.loads(line)["body"])
        if a["type"] == typ and a["invariant"] == inv and (
                needle in a.get("message", "") or needle == a.get("kid", "")):
            print("alert %s %s after %.2fs: %s" % (typ, inv, time.monotonic() - t0,
                                                 a.get("message", "")))
            with open(path + ".last", "w") as out:
                json.dump(a, out)
            sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}

# last_alert EXPR: a python expression over the alert wait_alert found ("d").
last_alert() { json_get "$hook_log.last" "$1"; }

# inv_states BASE: "I1=ok I2=ok ..." from /status.json.
inv_states() {
  curl -fsS "$1/status.json" | $py -c 'import json,sys; print(" ".join(i["id"]+"="+i["state"] for i in json.load(sys.stdin)["invariants"]))'
}

# wait_states BASE WANT [TIMEOUT]: until inv_states equals WANT.
wait_states() {
  local base=$1 want=$2 timeout=${3:-10} got=
  for _ in $(seq 1 $((timeout * 10))); do
    got=$(inv_states "$base" 2>/dev/null || true)
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  fail "invariants: $got (wanted $want)"
}

# The sandbox is compiled out of sanitizer builds (SIGNET_SANDBOX=OFF):
# there I8 is unknown unless the configuration turns the sandbox off.
sandbox_built() { ! grep -q '^SIGNET_SANDBOX:BOOL=OFF' "$SIGNET_BUILD_DIR/CMakeCache.txt"; }
if sandbox_built; then i8_clean=ok; else i8_clean=unknown; fi
all_ok="I1=ok I2=ok I3=ok I4=ok I5=ok I6=ok I7=ok I8=$i8_clean I9=ok I10=ok"

# softhsm TOOL-ARGS...: pkcs11-tool logged in to the state's token.
p11() {
  local module
  module=$(sed -n 's/^module = //p' "$state/signet.conf")
  # As the token's owner (as root: signet-signer), or the signer could not
  # read the objects it makes.
  SOFTHSM2_CONF=$state/signer/softhsm2.conf $(as_signer "$state") pkcs11-tool --module "$module" --login \
    --pin "$(cat "$state/signer/user.pin")" "$@"
}

# set_clock SECONDS: the injected clock ([testing] clock_file).
# Written in place: the signer's Landlock rule is for that file (a file
# renamed over it is another inode); a reader between truncate and write
# keeps the last time it read.
set_clock() { echo "$1" >"$clock"; }

# leak_token KID ISS AUD: a token signet never issued, signed in the token
# (pkcs11-tool, as the signer's account) with the private key of KID, as
# someone holding the key outside signet would make it: it verifies with
# the published key, and no sign record has it. Needs $state.
leak_token() {
  local d hsm
  hsm=$("$SIGNET_BIN" keys list --state "$state" --json |
    $py -c 'import json,sys; print([k["hsm_id"] for k in json.load(sys.stdin) if k["kid"] == sys.argv[1]][0])' "$1") ||
    fail "no hsm_id for $1"
  d=$(mktemp -d "${TMPDIR:-/tmp}/leak.XXXXXX")
  chmod 777 "$d"
  $py "$tm_helpers/tokens.py" leak-input "$1" "$2" "$3" >"$d/input"
  $py -c 'import hashlib,sys; sys.stdout.buffer.write(hashlib.sha256(open(sys.argv[1],"rb").read()).digest())' \
    "$d/input" >"$d/hash"
  chmod 644 "$d/input" "$d/hash"
  p11 --sign --mechanism ECDSA --id "$hsm" --input-file "$d/hash" --output-file "$d/sig" >/dev/null 2>&1 ||
    fail "pkcs11-tool --sign with $1's key"
  $py "$tm_helpers/tokens.py" leak-finish "$d/input" "$d/sig"
  rm -rf "$d"
}
