#!/usr/bin/env bash
# signet-authenticator (issue 14) against a server signetd could never be:
# authenticator/device_stub.py answers like the approver endpoints but also
# sends what a hostile or broken server would (terminal escapes, bidi
# overrides, invalid UTF-8, wrong shapes), and checks every Signet-Device
# proof independently with PyJWT. The real signetd is the other side in
# test_people_mfa.sh and test_people_mfa_browser.sh. Covered here: enrol (key file 0600, refuses to overwrite, a wrong
# code leaves nothing behind), the issuer rule, pending (human and JSON,
# untrusted text made harmless for a terminal), approve / deny / not-me,
# prompt driven through stdin, the exit codes (0 done, 1 refused by the
# server, 2 usage, 3 local error), and the key never printed.
set -euo pipefail
: "${SIGNET_SOURCE_DIR:?}" "${SIGNET_BUILD_DIR:?}"
auth=${SIGNET_AUTHENTICATOR:-$SIGNET_BUILD_DIR/src/authenticator/signet-authenticator}
[ -x "$auth" ] || { echo "FAIL: $auth is not an executable" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-authenticator.XXXXXX")
stub_pid=
cleanup() {
  [ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }

py=python3
$py -c 'import jwt, cryptography' 2>/dev/null || py=/usr/bin/python3
$py -c 'import jwt, cryptography' || fail "python3-jwt and python3-cryptography are required"

mkdir "$work/stub"
$py "$SIGNET_SOURCE_DIR/tests/integration/authenticator/device_stub.py" "$work/stub" \
  2>"$work/stub/stderr" &
stub_pid=$!
for _ in $(seq 100); do [ -f "$work/stub/port" ] && break; sleep 0.05; done
[ -f "$work/stub/port" ] || fail "the stub did not start: $(cat "$work/stub/stderr")"
iss="http://127.0.0.1:$(cat "$work/stub/port")/t/default"
dir=$work/dev
export HOME=$work/home XDG_CONFIG_HOME=

# run WANT ARGS...: the program with --dir $dir, stdin from $input (or
# /dev/null); output in $work/out and $work/err.
input=/dev/null
run() {
  local want=$1 rc=0
  shift
  "$auth" --dir "$dir" "$@" <"$input" >"$work/out" 2>"$work/err" || rc=$?
  cat "$work/out" "$work/err" >>"$work/transcript"
  [ "$rc" = "$want" ] || fail "$*: exit $rc, wanted $want: $(cat "$work/out" "$work/err")"
}
has() { grep -qF -- "$1" "$work/out" "$work/err" || fail "output lacks '$1': $(cat "$work/out" "$work/err")"; }
stub_log() { grep -cF -- "$1" "$work/stub/log" || true; }

# Usage errors (2) and the issuer rule.
run 2
run 2 enrol --issuer "$iss"
run 2 enrol --issuer "http://example.com/t/default" --code ENROL-123456
has "https://"
run 2 enrol --issuer "https://user@id.example/t/default" --code ENROL-123456
run 2 enrol --issuer "https://id.example/t/default?x=1" --code ENROL-123456
run 2 enrol --issuer "$iss" --code "bad code"
run 2 frobnicate
[ ! -e "$dir" ] || fail "a usage error created $dir"
ok "usage errors exit 2; http:// only on localhost"

# Not enrolled yet: a local error.
run 3 pending
ok "pending before enrol exits 3"

# A wrong code: refused by the server (1), nothing left behind.
run 1 enrol --issuer "$iss" --code WRONG-000000 --name "test phone"
has "enrolment code is wrong"
[ ! -e "$dir/device.key" ] && [ ! -e "$dir/device.json" ] || fail "a refused enrol left files"
ok "a wrong enrolment code: exit 1 with the server's description, no key left"

# Enrol.
run 0 enrol --issuer "$iss" --code ENROL-123456 --name "test phone"
has "alice"
[ "$(stat -c %a "$dir/device.key")" = 600 ] || fail "device.key is $(stat -c %a "$dir/device.key")"
[ "$(stat -c %a "$dir")" = 700 ] || fail "$dir is $(stat -c %a "$dir")"
[ "$(stat -c %a "$dir/device.json")" = 600 ] || fail "device.json mode"
grep -q 'BEGIN PRIVATE KEY' "$dir/device.key" || fail "device.key is not PKCS#8 PEM"
id=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$dir/device.json")
[ "$(stub_log "\"registered\": \"$id\"")" = 1 ] || fail "the stub registered another id than $id"
[ "$(stub_log '"name": "test phone"')" = 1 ] || fail "the device name did not reach the server"
ok "enrol: device.key 0600 in a 0700 directory, the stub verified the jwk proof (PyJWT) and registered $id"

# A second enrol refuses to overwrite anything.
sum=$(sha256sum "$dir/device.key")
run 3 enrol --issuer "$iss" --code ENROL-123456
has "already enrolled"
[ "$(sha256sum "$dir/device.key")" = "$sum" ] || fail "the second enrol changed device.key"
ok "a second enrol exits 3 and leaves device.key as it was"

# pending: the context, untrusted text cleaned (no ESC, no bidi override).
run 0 pending
has "a1"; has "Demo"; has "demo-app"; has "203.0.113.7"; has "Zurich, CH"; has "answer within"
if grep -q $'\x1b' "$work/out" || grep -q $'\xe2\x80\xae' "$work/out"; then
  fail "pending printed the server's control characters"
fi
run 0 pending --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["approvals"][0]["id"]=="a1"' \
  "$work/out" || fail "pending --json is not the approvals"
ok "pending shows application, address, location, time left; control characters cleaned; --json"

# Answers.
run 0 approve a1 --number 42
has "approved"
[ "$(stub_log '"decision": "approve", "id"')$(stub_log '"number": "42"')" != 00 ] || true
grep -q '"answer": {"id": "a1", "number": "42", "decision": "approve"}' "$work/stub/log" ||
  fail "the stub did not get {id a1, number 42, approve}: $(tail -3 "$work/stub/log")"
run 1 approve a1 --number 17
has "wrong number"
run 2 approve a1 --number 4
run 2 approve a1 --number 420
run 2 approve a1
run 0 deny a1
has "denied"
run 0 not-me a1
has "reported"
grep -q '"decision": "not_me"' "$work/stub/log" || fail "not-me did not send decision not_me"
run 1 deny gone
has "expired"
ok "approve (right and wrong number), deny, not-me, an expired sign-in (1)"

# prompt, driven through stdin.
input=$work/in
printf '42\n' >"$input"; run 0 prompt; has "approved"
printf '17\n' >"$input"; run 1 prompt; has "wrong number"
printf '\n' >"$input"; run 0 prompt; has "denied"
printf 'n\n' >"$input"; run 0 prompt; has "denied"
printf '!\n' >"$input"; run 0 prompt; has "reported"
printf 'abc\n42\n' >"$input"; run 0 prompt; has "two digits"; has "approved"
: >"$input"; run 0 prompt; has "left pending"
input=/dev/null
ok "prompt: number approves, empty or n denies, ! reports, junk asks again, EOF leaves it pending"

# Every proof passed the stub's independent check, each jti once.
refusals=$(stub_log '"proof": "refused"')
[ "$refusals" = 0 ] || fail "the stub refused $refusals proofs: $(grep refused "$work/stub/log" | head -3)"
oks=$(stub_log '"proof": "ok"')
[ "$oks" -ge 15 ] || fail "only $oks proofs reached the stub"
ok "$oks proofs verified by PyJWT (typ, alg, kid/jwk, htm, htu, iat, jti once, bh)"

# The key file's protection is enforced.
chmod 0644 "$dir/device.key"
run 3 pending
has "readable by others"
chmod 0600 "$dir/device.key"
ln -s "$dir/device.key" "$work/link.key"
mkdir "$work/dev2"; chmod 0700 "$work/dev2"
cp "$dir/device.json" "$work/dev2/"; ln -s "$dir/device.key" "$work/dev2/device.key"
dir=$work/dev2 run 3 pending
ok "a device.key readable by others, or a symlink, is refused (3)"

# The server being unreachable is a local error.
kill "$stub_pid"; wait "$stub_pid" 2>/dev/null || true; stub_pid=
run 3 pending
ok "an unreachable server exits 3"

# Nothing printed ever held the private key.
body=$(sed -n '2p' "$dir/device.key")
if grep -qF -- "$body" "$work/transcript"; then fail "the private key was printed"; fi
ok "the private key never appears in the output"
echo "$passed passed, 0 failed"
