#!/usr/bin/env bash
# signetd rotates its keys every 4 s while npm jose and PyJWT verify a
# token every ~200 ms: zero verification failures across >= 20 rotations
# and a restart; a RETIRED key's tokens keep verifying until they expire; a
# revoked key's tokens fail as soon as the verifiers refresh.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 0; }

# jose from npm, installed once into the build tree.
node_dir=$SIGNET_BUILD_DIR/node
npm_once "$node_dir" jose@5
# ESM resolves 'jose' next to the script: run a copy inside the install dir.
cp "$helpers/verify_jose.mjs" "$node_dir/verify_jose.mjs"

port=$(free_port)
iss=http://127.0.0.1:$port/t/default
aud=https://api.interop
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
# Short lifecycle: a key signs for 4 s, is pre-published for jwks_max_age +
# clock_skew = 2 s before, and stays published max_token_lifetime +
# clock_skew = 21 s after retiring.
$py - "$state/signet.conf" "$port" <<'PY'
import re, sys
p, port = sys.argv[1], sys.argv[2]
s = open(p).read()
for k, v in (("rotation_period", "4s"), ("jwks_max_age", "1s"), ("clock_skew", "1s"),
             ("max_token_lifetime", "20s")):
    s = re.sub(r"^%s = .*$" % k, "%s = %s" % (k, v), s, flags=re.M)
s = re.sub(r"^token_lifetime = .*$", "token_lifetime = 10s", s, flags=re.M)
s += "\n[testing]\nallow_short_rotation = true\n\n[server]\nlisten = 127.0.0.1:%s\n" % port
open(p, "w").write(s)
PY
"$SIGNET_BIN" client add --state "$state" --tenant default --id demo --audience "$aud" \
  --secret-file "$work/demo.secret" >/dev/null || fail "client add"
# The keys made by init carry a 24 h schedule: hand over to the short one now.
"$SIGNET_BIN" rotate --state "$state" >/dev/null || fail "signet rotate"

$py "$helpers/rotation_driver.py" "$SIGNETD" "$SIGNET_BIN" "$state" "$iss" "$aud" \
  "$work/demo.secret" "$node_dir" "${SIGNETD_ROTATIONS:-20}" "$work/signetd.log" |
  tee "$work/driver.out" || fail "verification failures (see above)"
n=$(grep -c 'event=key_transition' "$work/signetd.log" || true)
[ "$n" -ge 20 ] || fail "signetd logged only $n key transitions"
"$SIGNET_BIN" audit verify --state "$state" >/dev/null || fail "audit chain broken"
echo "interop: jose and PyJWT verified every token across the rotations, a restart and a revoke"
