#!/usr/bin/env bash
# kill -9 at every fault point of the key lifecycle (src/signer/lifecycle.c,
# SIGNET_FAULT=<point>[:N], src/common/fault.c), then one ordinary start must
# leave a consistent state (sg_consistent: one ACTIVE and a standby per
# issuer and algorithm, no half-made key, store and token agree key for key,
# JWKS = PUBLISHED ∪ ACTIVE ∪ RETIRED, audit chain intact and complete) and
# a second start must find nothing left to do.
#
# Every scenario starts from a copy of a template state with three
# issuer/algorithm pairs (alpha ES256, beta ES256, beta EdDSA), so a point
# that a transition passes once per pair is also hit the 2nd and 3rd time
# (<point>:2, <point>:3): the kill lands after the earlier pairs committed.
# A wrapper around signet-signer records its exit status; 137 (SIGKILL)
# proves the point was reached. A point that is never reached fails.
# Checks that are shell expressions run as sg_check DESC eval '...': their
# variables expand when the check runs, and predicates run only through it.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sg_tmpdir
sg_signer_wrapper

A=https://a.example/t/alpha
B=https://b.example/t/beta
POINTS=(gen_row_commit gen_before_hsm gen_after_hsm gen_pending_commit publish_commit promote_commit
    destroy_after_hsm destroy_commit abandon_commit rotate_commit revoke_commit revoke_before_destroy)

# Which points fired (killed the signer) at least once.
declare -A FIRED=()

# --- templates --------------------------------------------------------------
T0=$(date +%s)
base=$SG_TMP/base
sg_init "$base" --issuer "$A" --issuer "$B"
sg_conf_set "$base" tenant:beta algs "ES256, EdDSA"
sg_use_clock "$base" "$T0"
sg_run 0 status --state "$base" || sg_fail "template: $SG_DETAIL"
sg_consistent "$base" "template"
sg_keys_json "$base" >"$SG_TMP/base.keys"
ACTIVE0=$(sg_kq "$SG_TMP/base.keys" "[k['kid'] for k in keys if k['state'] == 'ACTIVE']")
[ "$(echo "$ACTIVE0" | wc -l)" = 3 ] || sg_fail "template: want 3 ACTIVE keys, got: $ACTIVE0"
ACT_ALPHA=$(sg_kq "$SG_TMP/base.keys" "[k['kid'] for k in keys if k['state'] == 'ACTIVE' and k['issuer'] == a[0]]" "$A")
PUB_ED=$(sg_kq "$SG_TMP/base.keys" "[k['kid'] for k in keys if k['state'] == 'PUBLISHED' and k['alg'] == 'EdDSA']")

# After one rotation: three RETIRED keys waiting for destruction.
T_ROT=$((T0 + SG_PREPUB + 50))
rotated=$SG_TMP/rotated
sg_copy_state "$base" "$rotated"
sg_clock_set "$rotated" "$T_ROT"
sg_run 0 rotate --state "$rotated" || sg_fail "template: $SG_DETAIL"
sg_keys_json "$rotated" >"$SG_TMP/rotated.keys"
RETIRED0=$(sg_kq "$SG_TMP/rotated.keys" "sorted(k['kid'] for k in keys if k['state'] == 'RETIRED')")
[ "$RETIRED0" = "$(echo "$ACTIVE0" | sort)" ] || sg_fail "template: the rotation did not retire the 3 ACTIVE keys"
sg_consistent "$rotated" "rotated template"
T_DESTROY=$((T_ROT + SG_RETIRE + 10))

# --- scenario steps ---------------------------------------------------------
N=0
CRASH_ARGS=()
# fresh NAME TEMPLATE CLOCK: $D = a new copy of TEMPLATE at CLOCK.
fresh() {
    NAME=$1
    N=$((N + 1))
    D=$SG_TMP/s$N
    sg_copy_state "$2" "$D"
    sg_clock_set "$D" "$3"
}

# crash POINT COMMAND ARGS...: `signet COMMAND --state $D ARGS` with
# SIGNET_FAULT=POINT must fail because the signer was killed there.
crash() {
    local point=$1
    shift
    CRASH_ARGS=("$1" --state "$D" "${@:2}")
    sg_signer_exits_reset
    sg_check "$NAME: signet $1 with SIGNET_FAULT=$point fails" \
        eval 'SIGNET_FAULT=$point sg_run nz "${CRASH_ARGS[@]}"'
    if sg_signer_was_killed; then
        FIRED[${point%%:*}]=1
        _sg_record pass "$NAME: the signer was killed at $point"
    else
        _sg_record fail "$NAME: the signer was killed at $point" "$SG_DETAIL"
    fi
}

# recover: one ordinary start, then the invariants; a second start changes
# nothing (the first one completed every interrupted transition).
recover() {
    local before after
    sg_check "$NAME: the next start (signet status) succeeds" sg_run 0 status --state "$D"
    sg_consistent "$D" "$NAME"
    before=$(sg_snapshot "$D")
    sg_check "$NAME: a second start succeeds" sg_run 0 status --state "$D"
    after=$(sg_snapshot "$D")
    sg_check_eq "$NAME: a second start changes nothing" "$after" "$before"
}

# state_of KID...: their lifecycle states (one a line) in $D, as the last
# sg_consistent saw them (recover ends with one; status changes no key).
state_of() {
    sg_kq "$SG_TMP/c.keys" "[k['state'] + (' revoked' if k['revoked'] else '') for k in keys if k['kid'] in a]" "$@"
}

# retired_originals: how many of the template's ACTIVE keys are RETIRED.
retired_originals() {
    # shellcheck disable=SC2086 # one kid a word
    state_of $ACTIVE0 | grep -c '^RETIRED$' || true
}

# --- rotation: rotate_commit per ACTIVE key, then per pair: promote,
# generate a standby (gen_*), publish it --------------------------------------
# The 3rd pass is the EdDSA pair: its generation path gets :3 too.
for point in rotate_commit promote_commit gen_row_commit gen_before_hsm gen_after_hsm \
    gen_pending_commit publish_commit; do
    nths="1 2"
    case $point in gen_after_hsm | gen_pending_commit | publish_commit) nths="1 2 3" ;; esac
    for nth in $nths; do
        fresh "rotate/$point:$nth" "$base" "$T_ROT"
        crash "$point:$nth" rotate
        recover
        # The rotation requests committed before the kill survive it, so the
        # start that recovers completes those rotations.
        want=3
        [ "$point" != rotate_commit ] || want=$((nth - 1))
        sg_check_eq "$NAME: the restart completed the requested rotations" "$(retired_originals)" "$want"
    done
done

# --- destruction after retirement: one per pair, at the signer's start -------
for point in destroy_after_hsm destroy_commit; do
    for nth in 1 2; do
        fresh "destroy/$point:$nth" "$rotated" "$T_DESTROY"
        crash "$point:$nth" status
        recover
        # shellcheck disable=SC2086 # one kid a word
        sg_check_eq "$NAME: all three retired keys are DESTROYED" \
            "$(state_of $RETIRED0 | sort -u)" DESTROYED
    done
done
# Killed twice at the same point (the HSM object is already gone the second
# time): destruction stays idempotent.
fresh "destroy/destroy_after_hsm twice" "$rotated" "$T_DESTROY"
crash destroy_after_hsm status
crash destroy_after_hsm status
recover

# --- emergency revoke of the ACTIVE key: promote the standby, then (in the
# same request) destroy the revoked key and generate a new standby -----------
for point in promote_commit revoke_before_destroy destroy_after_hsm destroy_commit gen_row_commit \
    gen_before_hsm gen_after_hsm gen_pending_commit publish_commit; do
    fresh "revoke-active/$point" "$base" $((T0 + 10))
    crash "$point" revoke -- "$ACT_ALPHA"
    recover
    s=$(state_of "$ACT_ALPHA")
    if [ "$point" = promote_commit ]; then
        # Killed before the revoke committed: nothing happened, and the
        # operator's retry (the command failed) revokes it.
        sg_check_eq "$NAME: the revoke did not happen" "$s" ACTIVE
        sg_check "$NAME: revoking again succeeds" sg_run 0 revoke --state "$D" -- "$ACT_ALPHA"
        sg_consistent "$D" "$NAME, revoked again"
        sg_check_eq "$NAME: then the key is destroyed" "$(state_of "$ACT_ALPHA")" "DESTROYED revoked"
    else
        sg_check_eq "$NAME: the restart completed the revoke" "$s" "DESTROYED revoked"
    fi
done

# --- emergency revoke of the PUBLISHED standby: retire it (revoke_commit),
# destroy it, generate a new standby -----------------------------------------
for point in revoke_commit revoke_before_destroy; do
    fresh "revoke-standby/$point" "$base" $((T0 + 10))
    crash "$point" revoke -- "$PUB_ED"
    recover
    s=$(state_of "$PUB_ED")
    if [ "$point" = revoke_commit ]; then
        sg_check_eq "$NAME: the revoke did not happen" "$s" PUBLISHED
    else
        sg_check_eq "$NAME: the restart completed the revoke" "$s" "DESTROYED revoked"
    fi
done

# --- emergency revoke of a RETIRED key (its tokens are still valid): mark it
# revoked (revoke_commit), destroy it at once --------------------------------
RET_ALPHA=$(sg_kq "$SG_TMP/rotated.keys" "[k['kid'] for k in keys if k['state'] == 'RETIRED' and k['issuer'] == a[0]]" "$A")
for point in revoke_commit revoke_before_destroy destroy_after_hsm destroy_commit; do
    fresh "revoke-retired/$point" "$rotated" $((T_ROT + 10))
    crash "$point" revoke -- "$RET_ALPHA"
    recover
    s=$(state_of "$RET_ALPHA")
    if [ "$point" = revoke_commit ]; then
        sg_check_eq "$NAME: the revoke did not happen" "$s" RETIRED
    else
        sg_check_eq "$NAME: the restart completed the revoke" "$s" "DESTROYED revoked"
    fi
done

# --- an interrupted generation, interrupted again while it is recovered ------
# Row committed, nothing in the HSM: the restart tombstones the row
# (abandon_commit) and generates anew.
fresh "recovery/abandon_commit" "$base" "$T_ROT"
crash gen_before_hsm rotate
crash abandon_commit status
recover
sg_check_eq "$NAME: the abandoned row is a DESTROYED tombstone" \
    "$(sg_kq "$SG_TMP/c.keys" "len([k for k in keys if k['state'] == 'DESTROYED' and not k['kid']])")" 1
# The pair exists in the HSM: the restart resumes it (gen_pending_commit).
fresh "recovery/resume gen_pending_commit" "$base" "$T_ROT"
crash gen_after_hsm rotate
crash gen_pending_commit status
recover
sg_check_eq "$NAME: the resumed key was kept, nothing abandoned" \
    "$(sg_kq "$SG_TMP/c.keys" "len([k for k in keys if k['state'] == 'DESTROYED'])")" 0

# --- init killed half-way leaves nothing behind ------------------------------
for point in gen_after_hsm publish_commit promote_commit; do
    NAME="init/$point"
    D=$SG_TMP/init-$point
    crash "$point" init --issuer "$A"
    sg_check "$NAME: the new state directory is removed" eval '[ ! -e "$D" ]'
done
NAME="init/gen_pending_commit into an existing directory"
D=$SG_TMP/init-existing
mkdir "$D"
crash gen_pending_commit init --issuer "$A"
sg_check_eq "$NAME: the directory is left empty" "$(ls -A "$D")" ""
sg_check "$NAME: init then succeeds" sg_run 0 init --state "$D" --issuer "$A"
sg_consistent "$D" "$NAME"

# --- every point was exercised --------------------------------------------------
for point in "${POINTS[@]}"; do
    sg_check "fault point $point was reached and killed the signer" eval '[ -n "${FIRED[$point]:-}" ]'
done
for point in $(grep -o 'sg_fault_point("[a-z_]*")\|"[a-z_]*_commit"' \
    "${SIGNET_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/src/signer/lifecycle.c" |
    grep -o '"[a-z_]*"' | tr -d '"' | sort -u); do
    sg_check "fault point $point (found in lifecycle.c) is covered by this test" \
        eval '[[ " ${POINTS[*]} " == *" $point "* ]]'
done

sg_done
