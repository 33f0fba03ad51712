#!/usr/bin/env bash
# A release build (SIGNET_TESTING=OFF) has none of the test hooks. Run from
# the testing build's ctest, it inspects the release tree named by
# SIGNET_RELEASE_DIR (make check sets it to build-release):
#   - nm and strings of signet-signer, signetd and signet: no fault points,
#     no PKCS#11 or audit injection, no clock file, and none of the
#     environment variables a parent could use (SIGNET_FAULT,
#     SIGNET_SECCOMP_DEBUG, SIGNET_SIGNER);
#   - the release CLI with SIGNET_FAULT naming a real point (gen_before_hsm
#     for init, rotate_commit for rotate) and SIGNET_SIGNER naming a wrapper:
#     the signer neither dies there nor is the wrapper ever started;
#   - a signet.conf with a [testing] key is refused by signet and signetd.
# Each check has a control against the testing build (the same scan finds
# the hooks, the same fault kills its signer, the same config loads), so a
# check that cannot fail is caught.
# Unset SIGNET_RELEASE_DIR skips (exit 77); set, a missing tree fails.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
if [ -z "${SIGNET_RELEASE_DIR:-}" ]; then
    echo "SKIP: SIGNET_RELEASE_DIR does not name a release build (make check sets it)"
    exit 77
fi
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sg_tmpdir

REL=$SIGNET_RELEASE_DIR/src
TST_SIGNET=$SIGNET_BIN
TST_SIGNER=${SIGNET_SIGNER:-$(dirname "$SIGNET_BIN")/signet-signer}
A=https://a.example/t/alpha
BINS=(signet-signer signetd signet)
FORBIDDEN=(sg_fault sg_p11_test_ sg_audit_test_ sg_clock_use_file SIGNET_FAULT
    SIGNET_SECCOMP_DEBUG SIGNET_SIGNER)

for b in "${BINS[@]}"; do
    [ -x "$REL/$b" ] || sg_fail "$REL/$b is missing: build the release tree first (make build-release)"
done
grep -q '^SIGNET_TESTING:BOOL=OFF$' "$SIGNET_RELEASE_DIR/CMakeCache.txt" ||
    sg_fail "$SIGNET_RELEASE_DIR is not a release build (its cache lacks SIGNET_TESTING:BOOL=OFF)"
{ command -v nm && command -v strings; } >/dev/null || sg_fail "nm and strings are required"

# --- what the binaries contain ------------------------------------------------
# hooks_in BIN: the forbidden names among its symbols and strings (debug
# information included), one a line; empty when there are none.
hooks_in() {
    local pat
    {
        nm -a "$1" 2>/dev/null
        strings -a "$1"
    } >"$SG_TMP/scan"
    for pat in "${FORBIDDEN[@]}"; do
        if grep -qF -- "$pat" "$SG_TMP/scan"; then echo "$pat"; fi
    done
}
# has_symbols BIN: nm lists its functions (a stripped binary would make
# "no sg_fault symbol" vacuous).
has_symbols() {
    nm "$1" >"$SG_TMP/nm" 2>/dev/null
    grep -qw 'sg_config_load' "$SG_TMP/nm" && return 0
    SG_DETAIL="nm finds no sg_config_load in $1: stripped?"
    return 1
}

for b in "${BINS[@]}"; do
    sg_check "release $b has a symbol table" has_symbols "$REL/$b"
    sg_check_eq "release $b: no test hook in nm or strings" "$(hooks_in "$REL/$b")" ""
done
# Control: the same scan finds the hooks in the testing build's signer.
found=$(hooks_in "$TST_SIGNER")
for pat in sg_fault SIGNET_FAULT SIGNET_SECCOMP_DEBUG sg_p11_test_; do
    sg_check "control: testing signet-signer contains $pat" eval '[[ $found == *"$pat"* ]]'
done
found=$(hooks_in "$TST_SIGNET")
sg_check "control: testing signet contains SIGNET_SIGNER" eval '[[ $found == *SIGNET_SIGNER* ]]'

# --- the release CLI with the hooks' variables set ----------------------------
rel() { SIGNET_BIN=$REL/signet sg_run "$@"; }
tst() { SIGNET_BIN=$TST_SIGNET sg_run "$@"; }
# From here SIGNET_SIGNER names a wrapper that logs every start of the
# testing signer to $SG_TMP/signer.exits: a release CLI must never run it.
sg_signer_wrapper
no_wrapper_run() {
    [ ! -s "$SG_TMP/signer.exits" ] && return 0
    SG_DETAIL="the SIGNET_SIGNER wrapper ran: exits $(tr '\n' ' ' <"$SG_TMP/signer.exits")"
    return 1
}

S=$SG_TMP/rel
sg_check "release: signet init with SIGNET_FAULT=gen_before_hsm succeeds" \
    eval 'SIGNET_FAULT=gen_before_hsm rel 0 init --state "$S" --issuer "$A"'
sg_check "release: init started its own signer, not \$SIGNET_SIGNER" no_wrapper_run
[ -f "$S/signet.conf" ] || sg_fail "release init made no state: $SG_DETAIL"
sg_check "release: init made keys (signet keys list)" \
    eval 'SIGNET_FAULT=gen_before_hsm rel 0 keys list --state "$S" && sg_out_has ACTIVE'
# The control copy: its ACTIVE key is not yet due, so rotate passes rotate_commit.
C=$SG_TMP/ctl
sg_copy_state "$S" "$C"

before=$(grep -c key_rotation_requested "$S/signer/audit.log" || true)
sg_check "release: signet rotate with SIGNET_FAULT=rotate_commit succeeds" \
    eval 'SIGNET_FAULT=rotate_commit rel 0 rotate --state "$S"'
after=$(grep -c key_rotation_requested "$S/signer/audit.log" || true)
sg_check "release: the rotation passed rotate_commit (key_rotation_requested audited)" \
    eval '[ "$after" -gt "$before" ]'
sg_check "release: the audit log verifies" eval 'rel 0 audit verify --state "$S"'
sg_check "release: SIGNET_SECCOMP_DEBUG changes nothing (signet status succeeds)" \
    eval 'SIGNET_SECCOMP_DEBUG=1 rel 0 status --state "$S"'
sg_check "release: no command ran \$SIGNET_SIGNER" no_wrapper_run

# --- [testing] in signet.conf ---------------------------------------------------
# refused KEY VALUE: a copy with [testing] KEY = VALUE; signet and signetd
# of the release build refuse it, naming the line.
refused() {
    local key=$1 val=$2 t=$SG_TMP/conf-$1 line rc=0
    sg_copy_state "$S" "$t"
    sg_conf_set "$t" testing "$key" "$val"
    line=$(grep -n "^$key = " "$t/signet.conf" | cut -d: -f1)
    sg_check "release signet refuses [testing] $key" \
        sg_run_err_rel nz "signet.conf:$line: [testing] is only available in a testing build" \
        status --state "$t"
    timeout 60 "$REL/signetd" --state "$t" >"$SG_TMP/sd.out" 2>"$SG_TMP/sd.err" </dev/null || rc=$?
    sg_check "release signetd refuses [testing] $key (exit $rc)" \
        eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
            grep -qF "signet.conf:$line: [testing] is only available in a testing build" "$SG_TMP/sd.err"'
}
sg_run_err_rel() { SIGNET_BIN=$REL/signet sg_run_err "$@"; }
refused allow_short_rotation true
refused clock_file clock
refused pause_rotation true
# Control: the testing build loads the same config.
sg_check "control: testing signet accepts [testing] allow_short_rotation" \
    tst 0 status --state "$SG_TMP/conf-allow_short_rotation"

# --- controls: the same faults kill the testing build's signer ---------------
sg_signer_exits_reset
sg_check "control: testing init with SIGNET_FAULT=gen_before_hsm fails" \
    eval 'SIGNET_FAULT=gen_before_hsm tst nz init --state "$SG_TMP/ctl-init" --issuer "$A"'
sg_check "control: its signer was killed at gen_before_hsm" sg_signer_was_killed
sg_signer_exits_reset
sg_check "control: testing rotate with SIGNET_FAULT=rotate_commit fails" \
    eval 'SIGNET_FAULT=rotate_commit tst nz rotate --state "$C"'
sg_check "control: its signer was killed at rotate_commit" sg_signer_was_killed

sg_done
