# Helpers for the end-to-end tests of the trusted core (signet CLI, signer,
# SoftHSM2 token, store, audit log). Sourced by test_core_*.sh and
# test_crash_safety.sh under `set -euo pipefail`.
#
# Conventions:
#   - sg_check DESC CMD... runs one check; a failure is counted, not fatal.
#     CMD runs as an `if` condition, so errexit is off inside it: every
#     predicate below returns its status explicitly.
#   - sg_run WANT ARGS... runs the signet CLI, keeping stdout in $SG_OUT,
#     stderr in $SG_ERR and the exit code in $SG_RC; WANT is an exit code,
#     "nz" (any failure) or "any". Everything any command prints is also
#     appended to $SG_TMP/transcript, which sg_check_no_pins scans.
#   - sg_known_bug REF marks the next check as one that fails because of a
#     reported bug in another file, so the failure names it.
#   - Call sg_tmpdir and sg_run directly, never inside $(...).

: "${SIGNET_BIN:?SIGNET_BIN must name the signet CLI}"
[ -x "$SIGNET_BIN" ] || { echo "FAIL: $SIGNET_BIN is not an executable" >&2; exit 1; }
if [ -n "${SIGNET_SIGNER:-}" ]; then
    [ -x "$SIGNET_SIGNER" ] || { echo "FAIL: $SIGNET_SIGNER is not an executable" >&2; exit 1; }
    export SIGNET_SIGNER
fi
unset SIGNET_STATE SIGNET_FAULT SIGNET_DEBUG SIGNET_SHOW_DESTROYED SIGNET_LOG_LEVEL
export LC_ALL=C
for _sg_tool in python3 pkcs11-tool sqlite3 sha256sum; do
    command -v "$_sg_tool" >/dev/null || { echo "FAIL: $_sg_tool is required" >&2; exit 1; }
done
# A version manager's shim (pyenv) costs ~0.2 s a call, and these tests
# call python hundreds of times: call the interpreter itself.
SG_PYTHON=$(command python3 -c 'import sys; print(sys.executable)')
python3() { "$SG_PYTHON" "$@"; }

SG_PASSED=0
SG_FAILED=0
SG_BUG=""
SG_TMP=""
SG_OUT=""
SG_ERR=""
SG_RC=0
SG_FAILURES=()
SG_DETAIL=""
SG_DONE=0

sg_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

sg_note() {
    echo "# $*"
}

# sg_tmpdir: creates $SG_TMP under $TMPDIR, removed when the script exits
# (kept when SG_KEEP is set, for debugging).
sg_tmpdir() {
    [ "$BASH_SUBSHELL" -eq 0 ] || sg_fail "sg_tmpdir must not run in a subshell"
    [ -z "$SG_TMP" ] || return 0
    SG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/signet-it-XXXXXX")
    # As root, state directories inside are split between the accounts
    # signet and signet-signer, which must be able to reach them.
    chmod 0711 "$SG_TMP"
    trap '_sg_cleanup' EXIT
    : >"$SG_TMP/transcript"
}

_sg_cleanup() {
    local rc=$?
    if [ "$SG_DONE" -eq 0 ]; then
        echo "FAIL: aborted (exit $rc) after $SG_PASSED passed, $SG_FAILED failed${SG_DETAIL:+: $SG_DETAIL}" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    if [ -n "$SG_TMP" ] && [ -d "$SG_TMP" ]; then
        if [ -n "${SG_KEEP:-}" ]; then
            echo "# kept $SG_TMP" >&2
        else
            rm -rf "$SG_TMP"
        fi
    fi
    exit "$rc"
}

_sg_record() { # pass|fail DESC [DETAIL]
    local what=$1 desc=$2 detail=${3:-}
    if [ "$what" = pass ]; then
        SG_PASSED=$((SG_PASSED + 1))
        echo "ok - $desc"
    else
        SG_FAILED=$((SG_FAILED + 1))
        if [ -n "$SG_BUG" ]; then
            desc="$desc [KNOWN BUG: $SG_BUG]"
        fi
        SG_FAILURES+=("$desc")
        echo "FAIL - $desc" >&2
        [ -z "$detail" ] || printf '%s\n' "$detail" | sed 's/^/    /' >&2
    fi
}

# sg_known_bug REF: the next sg_check fails because of bug REF (see the
# header of the script); the failure message says so.
sg_known_bug() {
    SG_BUG=$1
}

sg_check() {
    local desc=$1
    shift
    SG_DETAIL=""
    if "$@"; then
        _sg_record pass "$desc"
    else
        _sg_record fail "$desc" "$SG_DETAIL"
    fi
    SG_BUG=""
    return 0
}

# sg_check_eq DESC ACTUAL EXPECTED
sg_check_eq() {
    if [ "$2" = "$3" ]; then
        _sg_record pass "$1"
    else
        _sg_record fail "$1" "got:  $2
want: $3"
    fi
    SG_BUG=""
    return 0
}

sg_done() {
    SG_DONE=1
    echo "$SG_PASSED passed, $SG_FAILED failed"
    if [ "$SG_FAILED" -ne 0 ]; then
        local f
        for f in "${SG_FAILURES[@]}"; do
            echo "  failed: $f" >&2
        done
        exit 1
    fi
    exit 0
}

# sg_module: the SoftHSM2 PKCS#11 module, as signet init finds it.
sg_module() {
    local f=/usr/share/p11-kit/modules/softhsm2.module m
    if [ -r "$f" ]; then
        m=$(sed -n 's/^module:[[:space:]]*//p' "$f" | head -n 1)
        if [ -n "$m" ] && [ "${m#/}" != "$m" ] && [ -r "$m" ]; then
            echo "$m"
            return 0
        fi
    fi
    for m in /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
        /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/softhsm/libsofthsm2.so \
        /usr/local/lib/softhsm/libsofthsm2.so; do
        if [ -r "$m" ]; then
            echo "$m"
            return 0
        fi
    done
    return 1
}

# sg_sandbox_built: false when the build disabled the sandbox.
sg_sandbox_built() {
    local cache=${SIGNET_BUILD_DIR:-}/CMakeCache.txt
    ! { [ -n "${SIGNET_BUILD_DIR:-}" ] && [ -r "$cache" ] && grep -q '^SIGNET_SANDBOX:BOOL=OFF' "$cache"; }
}

# sg_run WANT ARGS...: the CLI, output kept in $SG_OUT/$SG_ERR/$SG_RC.
sg_run() {
    local want=$1
    shift
    SG_RC=0
    "$SIGNET_BIN" "$@" >"$SG_TMP/run.out" 2>"$SG_TMP/run.err" </dev/null || SG_RC=$?
    SG_OUT=$(cat "$SG_TMP/run.out")
    SG_ERR=$(cat "$SG_TMP/run.err")
    {
        echo "\$ signet $*  [exit $SG_RC]"
        cat "$SG_TMP/run.out" "$SG_TMP/run.err"
    } >>"$SG_TMP/transcript"
    # In sanitizer builds the signer's reports reach us only on stderr (the
    # CLI does not look at how its signer exited): each one is a failure.
    if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$SG_TMP/run.err"; then
        _sg_record fail "no sanitizer report from signet $*" "$(grep -m 5 -E 'Sanitizer|runtime error:|#[0-9] ' "$SG_TMP/run.err")"
    fi
    case $want in
    any) return 0 ;;
    nz) [ "$SG_RC" -ne 0 ] && return 0 ;;
    *) [ "$SG_RC" -eq "$want" ] && return 0 ;;
    esac
    SG_DETAIL="signet $* exited $SG_RC, want $want
stdout: $(head -c 2000 "$SG_TMP/run.out")
stderr: $(head -c 2000 "$SG_TMP/run.err")"
    return 1
}

# Predicates on the last sg_run.
sg_out_has() {
    [[ $SG_OUT == *"$1"* ]] && return 0
    SG_DETAIL="stdout lacks '$1': $SG_OUT"
    return 1
}
sg_err_has() {
    [[ $SG_ERR == *"$1"* ]] && return 0
    SG_DETAIL="stderr lacks '$1': $SG_ERR"
    return 1
}
# sg_run_err WANT TEXT ARGS...: exit code WANT and TEXT on stderr.
sg_run_err() {
    local want=$1 text=$2
    shift 2
    sg_run "$want" "$@" || return 1
    sg_err_has "$text"
}

# sg_init STATE ARGS...: signet init, which must succeed.
sg_init() {
    local st=$1
    shift
    sg_run 0 init --state "$st" "$@" || sg_fail "signet init --state $st $*: $SG_DETAIL"
}

# sg_conf_set STATE SECTION KEY VALUE: sets KEY in [SECTION] of
# STATE/signet.conf: replaces its line, else adds it at the end of the
# section, else appends the section (the config refuses duplicate keys).
sg_conf_set() {
    local conf=$1/signet.conf
    awk -v sect="[$2]" -v key="$3" -v val="$4" '
        function put() { print key " = " val; done = 1 }
        /^[[:space:]]*\[/ {
            if (insect && !done) put()
            insect = ($0 == sect)
            print
            next
        }
        insect && !done {
            k = $0
            sub(/[[:space:]]*=.*/, "", k)
            sub(/^[[:space:]]*/, "", k)
            if (k == key) { put(); next }
        }
        { print }
        END {
            if (insect && !done) put()
            if (!done) { print ""; print sect; put() }
        }' "$conf" >"$conf.new"
    cat "$conf.new" >"$conf"
    rm -f "$conf.new"
}

# sg_use_clock STATE [EPOCH]: the signer reads "now" from STATE/clock, and
# the key timings shrink: pre-publication 120+30 = 150 s, retirement
# 600+30 = 630 s, period 1 h.
# shellcheck disable=SC2034 # for the scripts that source this file
SG_PREPUB=150 SG_RETIRE=630 SG_PERIOD=3600
sg_use_clock() {
    local st=$1 now=${2:-$(date +%s)}
    sg_conf_set "$st" testing clock_file clock
    sg_conf_set "$st" testing allow_short_rotation true
    sg_conf_set "$st" keys rotation_period "${SG_PERIOD}s"
    sg_conf_set "$st" keys jwks_max_age 120s
    sg_conf_set "$st" keys clock_skew 30s
    sg_conf_set "$st" keys max_token_lifetime 600s
    echo "$now" >"$st/clock"
}
sg_clock_set() { echo "$2" >"$1/clock"; }
sg_clock_get() { cat "$1/clock"; }
sg_clock_add() { echo $(($(cat "$1/clock") + $2)) >"$1/clock"; }

# sg_copy_state SRC DST: a copy of an initialised state directory (the token
# is plain files); softhsm2.conf names the token directory absolutely.
sg_copy_state() {
    local src=$1 dst=$2
    cp -a "$src" "$dst"
    sed -i "s#^directories.tokendir = .*#directories.tokendir = $dst/signer/tokens#" "$dst/signer/softhsm2.conf"
}

# sg_snapshot STATE: hashes of everything a refused command must leave alone:
# the store, the audit log, the config, the PIN files and the token. SoftHSM
# bumps a generation counter (the first 8 bytes of token.object) on every
# login, so that prefix is left out.
sg_snapshot() {
    local st=$1 f
    (
        cd "$st" || exit 1
        sha256sum front/signet.db signer/keys.db signer/audit.log signet.conf signer/user.pin signer/so.pin 2>&1
        find signer/tokens -type f | sort | while read -r f; do
            case $f in
            */token.object) printf '%s  %s\n' "$(tail -c +9 "$f" | sha256sum | cut -d' ' -f1)" "$f" ;;
            *) sha256sum "$f" ;;
            esac
        done
    )
}

# sg_as_signer STATE: the command prefix that runs a tool as the owner of
# STATE/signer (nothing when that is who we are).
sg_as_signer() {
    local uid
    uid=$(stat -c %u "$1/signer")
    [ "$uid" = "$(id -u)" ] || echo "setpriv --reuid=$uid --regid=$(id -g "$uid") --clear-groups"
}

# sg_pkcs11 STATE ARGS...: pkcs11-tool logged in to the state's token. The
# PIN travels in the environment (opensc's env: form), never in argv or
# output. Output goes to stdout and the transcript.
sg_pkcs11() {
    local st=$1 module rc=0
    shift
    module=$(sg_module) || { SG_DETAIL="no SoftHSM2 module"; return 1; }
    SG_P11_PIN=$(cat "$st/signer/user.pin") SOFTHSM2_CONF=$st/signer/softhsm2.conf \
        $(sg_as_signer "$st") pkcs11-tool --module "$module" --login --pin env:SG_P11_PIN "$@" \
        >"$SG_TMP/p11.out" 2>"$SG_TMP/p11.err" || rc=$?
    { echo "\$ pkcs11-tool $*  [exit $rc]"; cat "$SG_TMP/p11.out" "$SG_TMP/p11.err"; } >>"$SG_TMP/transcript"
    cat "$SG_TMP/p11.out"
    return "$rc"
}

# sg_token_objects STATE: one line per token object:
# CLASS<TAB>ID<TAB>LABEL<TAB>ACCESS<TAB>EC_POINT (CLASS priv, pub or other;
# EC_POINT in hex for EC and EdDSA public keys, else empty).
sg_token_objects() {
    sg_pkcs11 "$1" --list-objects | awk -F': *' '
        function flush() { if (cls != "") printf "%s\t%s\t%s\t%s\t%s\n", cls, id, label, access, point }
        /^[A-Za-z].* Object/ {
            flush(); id = ""; label = ""; access = ""; point = ""
            cls = /^Private Key Object/ ? "priv" : /^Public Key Object/ ? "pub" : /^Secret Key Object/ ? "secret" : "other"
            next
        }
        /^  ID:/ { id = $2 }
        /^  label:/ { sub(/^  label: */, ""); label = $0 }
        /^  Access:/ { sub(/^  Access: */, ""); access = $0 }
        /^  EC_POINT:/ { point = $2 }
        END { flush() }'
}

# sg_keys_json STATE: `signet keys list --json` (DESTROYED tombstones too).
sg_keys_json() {
    sg_run 0 keys list --state "$1" --json || { echo "$SG_DETAIL" >&2; return 1; }
    printf '%s\n' "$SG_OUT"
}

# sg_kq KEYS_JSON_FILE PYTHON_EXPR [ARG...]: evaluates EXPR with `keys`
# bound to the key rows and `a` to the ARGs; prints the result (a list one
# item a line).
sg_kq() {
    python3 - "$@" <<'EOF'
import json, sys
keys = json.load(open(sys.argv[1]))
a = sys.argv[3:]
r = eval(sys.argv[2])
print("\n".join(map(str, r)) if isinstance(r, (list, tuple)) else r)
EOF
}

# sg_kids STATE LIFECYCLE [ISSUER [ALG]]: kids in that state, one a line.
sg_kids() {
    sg_keys_json "$1" >"$SG_TMP/kids.json" || return 1
    sg_kq "$SG_TMP/kids.json" "[k['kid'] for k in keys if k['state'] == a[0]
        and a[1] in ('', k['issuer']) and a[2] in ('', k['alg'])]" "$2" "${3:-}" "${4:-}"
}

# sg_check_no_pins STATE [EXTRA_SECRET_FILE...]: neither PIN of STATE (nor
# the extra secrets) appears in anything the tests ran printed, nor in the
# store, the audit log or the config.
sg_check_no_pins() {
    local st=$1 f secret where
    shift
    for f in "$st/signer/user.pin" "$st/signer/so.pin" "$@"; do
        secret=$(cat "$f")
        [ -n "$secret" ] || continue
        for where in "$SG_TMP/transcript" "$st/signer/audit.log" "$st/signer/keys.db" "$st/front/signet.db" "$st/signet.conf"; do
            if [ -e "$where" ] && grep -qaF -- "$secret" "$where"; then
                SG_DETAIL="the secret of $(basename "$f") appears in $where"
                return 1
            fi
        done
    done
    return 0
}

# sg_signer_wrapper: every signer the CLI starts from now on runs under a
# wrapper that appends its exit status to $SG_TMP/signer.exits (137: killed
# by SIGKILL, i.e. a SIGNET_FAULT point fired).
sg_signer_wrapper() {
    local real=${SIGNET_SIGNER:-$(dirname "$SIGNET_BIN")/signet-signer}
    [ -x "$real" ] || sg_fail "cannot find signet-signer (set SIGNET_SIGNER)"
    cat >"$SG_TMP/signer-wrap" <<EOF
#!/usr/bin/env bash
"$real" "\$@"
rc=\$?
echo "\$rc" >>"$SG_TMP/signer.exits"
exit "\$rc"
EOF
    chmod 755 "$SG_TMP/signer-wrap"
    : >"$SG_TMP/signer.exits"
    chmod 666 "$SG_TMP/signer.exits" # the signer runs as signet-signer when we are root
    export SIGNET_SIGNER=$SG_TMP/signer-wrap
}
sg_signer_exits_reset() { : >"$SG_TMP/signer.exits"; }
# sg_signer_was_killed: the last signer died of SIGKILL.
sg_signer_was_killed() {
    local last
    last=$(tail -n 1 "$SG_TMP/signer.exits")
    [ "$last" = 137 ] && return 0
    SG_DETAIL="the signer exited ${last:-(never started)}, not 137 (SIGKILL): the fault point was not reached"
    return 1
}

# sg_export_probe STATE: tries every PKCS#11 way of getting each private key
# out of the token (read the secret attributes, wrap it under a session AES
# key, flip CKA_EXTRACTABLE/CKA_SENSITIVE, copy it as extractable) and
# prints one line per key: ID and the CK_RV of each attempt. Needs a C
# compiler and the p11-kit headers; returns 3 when they are missing.
sg_export_probe() {
    local st=$1 bin=$SG_TMP/p11probe module
    module=$(sg_module) || return 1
    if [ ! -x "$bin" ]; then
        [ -r /usr/include/p11-kit-1/p11-kit/pkcs11.h ] && command -v cc >/dev/null || return 3
        cat >"$bin.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

int main(int argc, char **argv)
{
    CK_FUNCTION_LIST_PTR f;
    char pin[256] = "";
    if (argc != 3)
        return 2;
    FILE *pf = fopen(argv[2], "r");
    if (pf == NULL)
        return 2;
    size_t pl = fread(pin, 1, sizeof pin - 1, pf);
    fclose(pf);
    while (pl > 0 && (pin[pl - 1] == '\n' || pin[pl - 1] == '\r'))
        pl--;
    void *h = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList gfl = h != NULL ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_SLOT_ID slots[8];
    CK_ULONG ns = 8;
    CK_SESSION_HANDLE s;
    if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK ||
        f->C_GetSlotList(CK_TRUE, slots, &ns) != CKR_OK || ns < 1 ||
        f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
        f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, pl) != CKR_OK) {
        memset(pin, 0, sizeof pin);
        fprintf(stderr, "probe: cannot open the token\n");
        return 2;
    }
    memset(pin, 0, sizeof pin);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG klen = 32;
    CK_ATTRIBUTE wt[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_WRAP, &yes, sizeof yes},
                         {CKA_VALUE_LEN, &klen, sizeof klen}};
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE wrapk;
    if (f->C_GenerateKey(s, &gen, wt, 3, &wrapk) != CKR_OK)
        return 2;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_OBJECT_HANDLE objs[256];
    CK_ULONG n = 0;
    if (f->C_FindObjectsInit(s, q, 1) != CKR_OK || f->C_FindObjects(s, objs, 256, &n) != CKR_OK ||
        f->C_FindObjectsFinal(s) != CKR_OK)
        return 2;
    for (CK_ULONG i = 0; i < n; i++) {
        unsigned char id[64], buf[4096];
        CK_ATTRIBUTE a = {CKA_ID, id, sizeof id};
        if (f->C_GetAttributeValue(s, objs[i], &a, 1) != CKR_OK)
            return 2;
        for (CK_ULONG j = 0; j < a.ulValueLen; j++)
            printf("%02x", id[j]);
        CK_ATTRIBUTE_TYPE secret[] = {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1};
        for (int k = 0; k < 3; k++) {
            CK_ATTRIBUTE v = {secret[k], buf, sizeof buf};
            printf(" get%d=0x%lx", k, f->C_GetAttributeValue(s, objs[i], &v, 1));
        }
        CK_MECHANISM wm = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
        CK_ULONG wl = sizeof buf;
        printf(" wrap=0x%lx", f->C_WrapKey(s, &wm, wrapk, objs[i], buf, &wl));
        CK_ATTRIBUTE ext = {CKA_EXTRACTABLE, &yes, sizeof yes};
        printf(" set_extractable=0x%lx", f->C_SetAttributeValue(s, objs[i], &ext, 1));
        CK_ATTRIBUTE sen = {CKA_SENSITIVE, &no, sizeof no};
        printf(" set_sensitive=0x%lx", f->C_SetAttributeValue(s, objs[i], &sen, 1));
        CK_OBJECT_HANDLE copy = 0;
        CK_ATTRIBUTE ct[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_EXTRACTABLE, &yes, sizeof yes},
                             {CKA_SENSITIVE, &no, sizeof no}};
        CK_RV rv = f->C_CopyObject(s, objs[i], ct, 3, &copy);
        printf(" copy=0x%lx\n", rv);
        if (rv == CKR_OK)
            (void)f->C_DestroyObject(s, copy);
    }
    (void)f->C_DestroyObject(s, wrapk);
    (void)f->C_Logout(s);
    (void)f->C_CloseSession(s);
    (void)f->C_Finalize(NULL);
    return 0;
}
EOF
        cc -O1 -I/usr/include/p11-kit-1 -o "$bin" "$bin.c" -ldl 2>"$SG_TMP/probe-cc.err" || return 3
    fi
    SOFTHSM2_CONF=$st/signer/softhsm2.conf "$bin" "$module" "$st/signer/user.pin"
}

# sg_consistent STATE LABEL: the invariants a state directory must satisfy
# after any command (in particular after recovering from a crash), each a
# check of its own:
#   - exactly one ACTIVE key and at least one PUBLISHED standby per
#     configured issuer and algorithm; no GENERATING or PENDING row; no
#     revoked key left undestroyed;
#   - every non-DESTROYED key has its private and public object in the token
#     (by CKA_ID, labelled signet:<tenant>:<kid>); no DESTROYED key has any;
#     the token holds exactly one private key per non-DESTROYED key and no
#     other object; every private key is sensitive and never extractable;
#   - each issuer's JWKS is exactly its non-revoked PUBLISHED, ACTIVE and
#     RETIRED keys, each kid the RFC 7638 thumbprint of its JWK;
#   - the audit log records every key's generation, and every PUBLISHED,
#     ACTIVE and DESTROYED key's latest transition; `signet audit verify`
#     passes.
sg_consistent() {
    local st=$1 label=$2 iss line
    if ! sg_keys_json "$st" >"$SG_TMP/c.keys"; then
        _sg_record fail "$label: keys list" "$SG_DETAIL"
        return 0
    fi
    if ! sg_token_objects "$st" >"$SG_TMP/c.objs"; then
        _sg_record fail "$label: token listing" "$(cat "$SG_TMP/p11.err")"
        return 0
    fi
    : >"$SG_TMP/c.jwks"
    for iss in $(_sg_conf_issuers "$st"); do
        if sg_run 0 jwks --state "$st" --issuer "$iss"; then
            printf '%s %s\n' "$iss" "$(printf '%s' "$SG_OUT" | tr -d '\n')" >>"$SG_TMP/c.jwks"
        else
            _sg_record fail "$label: jwks --issuer $iss" "$SG_DETAIL"
        fi
    done
    while IFS= read -r line; do
        case $line in
        PASS\|*) _sg_record pass "$label: ${line#PASS|}" ;;
        FAIL\|*)
            line=${line#FAIL|}
            _sg_record fail "$label: ${line%%|*}" "${line#*|}"
            ;;
        *) _sg_record fail "$label: consistency checker" "$line" ;;
        esac
    done < <(python3 -c "$(_sg_consistency_py)" "$st" "$SG_TMP/c.keys" "$SG_TMP/c.objs" "$SG_TMP/c.jwks" 2>&1 ||
        echo "FAIL|consistency checker crashed|see above")
    sg_check "$label: audit verify passes" sg_run 0 audit verify --state "$st"
}

# The checker behind sg_consistent; prints PASS|desc or FAIL|desc|detail.
_sg_consistency_py() {
    cat <<'EOF'
import base64, hashlib, json, sys

state, keys_file, objs_file, jwks_file = sys.argv[1:5]
keys = json.load(open(keys_file))

def check(desc, bad):
    if bad:
        print("FAIL|%s|%s" % (desc, "; ".join(map(str, bad))[:1500]))
    else:
        print("PASS|%s" % desc)

# Tenants from the config; a repeated section adds to or overrides the first.
tenants, sect = {}, None
for raw in open(state + "/signet.conf"):
    line = raw.strip()
    if not line or line[0] in "#;":
        continue
    if line.startswith("["):
        sect = line[1:line.index("]")]
        continue
    k, _, v = line.partition("=")
    k, v = k.strip(), v.strip()
    if sect and sect.startswith("tenant:"):
        t = tenants.setdefault(sect[7:], {"algs": ["ES256"]})
        if k == "issuer":
            t["issuer"] = v
        elif k == "algs":
            t["algs"] = [a for a in v.replace(",", " ").split() if a]
pairs = [(t["issuer"], a) for t in tenants.values() for a in t["algs"]]
tenant_of = {t["issuer"]: n for n, t in tenants.items()}

def count(iss, alg, state):
    return sum(1 for k in keys if k["issuer"] == iss and k["alg"] == alg and k["state"] == state)

check("exactly one ACTIVE key per issuer and algorithm",
      ["%s %s has %d" % (i, a, count(i, a, "ACTIVE")) for i, a in pairs if count(i, a, "ACTIVE") != 1])
check("a PUBLISHED standby per issuer and algorithm",
      ["%s %s has none" % (i, a) for i, a in pairs if count(i, a, "PUBLISHED") < 1])
check("no GENERATING or PENDING key left",
      ["%s %s" % (k["hsm_id"], k["state"]) for k in keys if k["state"] in ("GENERATING", "PENDING")])
check("no revoked key left undestroyed",
      ["%s %s" % (k["kid"], k["state"]) for k in keys if k["revoked"] and k["state"] != "DESTROYED"])

objs = []
for raw in open(objs_file):
    f = raw.rstrip("\n").split("\t")
    objs.append({"cls": f[0], "id": f[1].lower(), "label": f[2], "access": f[3]})
# The audit key (issue 11) is no lifecycle key: one pair, label signet-audit.
AUDIT_ID = b"signet-audit-key".hex()
audit_objs = [o for o in objs if o["id"] == AUDIT_ID]
objs = [o for o in objs if o["id"] != AUDIT_ID]
check("the audit key is one pair labelled signet-audit",
      [] if sorted((o["cls"], o["label"]) for o in audit_objs) ==
      [("priv", "signet-audit"), ("pub", "signet-audit")] else ["audit key objects: %r" % audit_objs])
# The TOTP seal key (issue 14) neither: one AES secret key, label signet-totp-seal.
SEAL_ID = b"signet-totp-seal".hex()
seal_objs = [o for o in objs if o["id"] == SEAL_ID]
objs = [o for o in objs if o["id"] != SEAL_ID]
check("the TOTP seal key is one secret key labelled signet-totp-seal, sensitive, never extractable",
      [] if [(o["cls"], o["label"]) for o in seal_objs] == [("secret", "signet-totp-seal")] and
      {"sensitive", "always sensitive", "never extractable"} <=
      set(p.strip() for p in seal_objs[0]["access"].split(",")) and
      "extractable" not in [p.strip() for p in seal_objs[0]["access"].split(",")]
      else ["seal key objects: %r" % seal_objs])
live = [k for k in keys if k["state"] != "DESTROYED"]
dead = [k for k in keys if k["state"] == "DESTROYED"]
def ids(cls):
    return [o["id"] for o in objs if o["cls"] == cls]
check("every live key has its private and public object in the token",
      ["%s %s lacks %s" % (k["kid"] or k["hsm_id"], k["state"], c)
       for k in live for c in ("priv", "pub") if k["hsm_id"] not in ids(c)])
check("every live key's objects are labelled signet:<tenant>:<kid>",
      ["%s: %r" % (o["id"], o["label"]) for k in live for o in objs
       if o["id"] == k["hsm_id"] and o["label"] != "signet:%s:%s" % (tenant_of.get(k["issuer"], "?"), k["kid"])])
check("no DESTROYED key has an object left in the token",
      ["%s (%s)" % (k["kid"] or k["hsm_id"], k["hsm_id"]) for k in dead if any(o["id"] == k["hsm_id"] for o in objs)])
check("private key objects in the token = live keys (none lost, none extra)",
      (["%d private key objects for %d live keys" % (len(ids("priv")), len(live))]
       if sorted(ids("priv")) != sorted(k["hsm_id"] for k in live) else []) +
      ["object %s %s belongs to no live key" % (o["cls"], o["id"]) for o in objs
       if o["id"] not in [k["hsm_id"] for k in live]])
def access_bad(a):
    parts = [p.strip() for p in a.split(",")]
    return not ({"sensitive", "always sensitive", "never extractable"} <= set(parts)) or "extractable" in parts
check("every private key is sensitive, always sensitive, never extractable",
      ["%s: %s" % (o["id"], o["access"]) for o in objs + audit_objs
       if o["cls"] == "priv" and access_bad(o["access"])])

def thumbprint(j):
    req = {"EC": ["crv", "kty", "x", "y"], "OKP": ["crv", "kty", "x"], "RSA": ["e", "kty", "n"]}[j["kty"]]
    s = json.dumps({m: j[m] for m in req}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b"=").decode()

jwks = {}
for raw in open(jwks_file):
    iss, _, doc = raw.partition(" ")
    jwks[iss] = json.loads(doc)["keys"]
bad, badkid = [], []
for t in tenants.values():
    iss = t["issuer"]
    got = sorted(j["kid"] for j in jwks.get(iss, []))
    want = sorted(k["kid"] for k in keys if k["issuer"] == iss and not k["revoked"]
                  and k["state"] in ("PUBLISHED", "ACTIVE", "RETIRED"))
    if iss not in jwks or got != want:
        bad.append("%s: jwks %s, want %s" % (iss, got, want))
    badkid += ["%s: kid %s is not its thumbprint" % (iss, j["kid"]) for j in jwks.get(iss, [])
               if thumbprint(j) != j["kid"]]
check("each JWKS is exactly the issuer's PUBLISHED, ACTIVE and RETIRED keys", bad)
check("every JWKS kid is the RFC 7638 thumbprint of its key", badkid)

recs = []
for raw in open(state + "/signer/audit.log"):
    recs.append(json.loads(raw.split(" ", 1)[1]))
def has(types, field, value):
    return any(r.get("type") in types and r.get(field) == value for r in recs)
want_rec = {"PUBLISHED": ["key_published"], "ACTIVE": ["key_activated"], "RETIRED": ["key_retired", "key_revoked"],
            "DESTROYED": ["key_destroyed", "key_revoked_destroyed", "key_generation_abandoned"]}
check("the audit log records every key's generation and latest transition",
      ["%s: no key_generated" % k["kid"] for k in keys if k["kid"] and not has(["key_generated"], "kid", k["kid"])] +
      ["%s %s: no %s" % (k["kid"] or k["hsm_id"], k["state"], "/".join(want_rec[k["state"]]))
       for k in keys if k["state"] in want_rec and not has(want_rec[k["state"]], "hsm_id", k["hsm_id"])])
EOF
}

# Issuers configured in STATE/signet.conf.
_sg_conf_issuers() {
    sed -n 's/^issuer[[:space:]]*=[[:space:]]*//p' "$1/signet.conf" | sort -u
}
