#!/usr/bin/env bash
# Hostile and mistaken set-ups for the trusted core: each command gets a
# clear message and a non-zero exit (2 for a setup problem, 1 for a refused
# request) and changes nothing: signet.db, audit.log, the config, the PIN
# files and the token are hashed before and after (sg_snapshot).
# Checks that are shell expressions run as sg_check DESC eval '...': their
# variables expand when the check runs, and predicates run only through it.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sg_tmpdir

A=https://a.example/t/alpha
st=$SG_TMP/state
sg_init "$st" --issuer "$A"
kid=$(sg_kids "$st" ACTIVE "$A")

# refused DESC WANT TEXT ARGS...: `signet ARGS` exits WANT with TEXT on
# stderr and leaves the state directory as it was. $SNAP overrides how the
# state is summed (see the wrong-PIN case).
SNAP=sg_snapshot
refused() {
    local desc=$1 want=$2 text=$3 before after
    shift 3
    before=$($SNAP "$st")
    sg_check "$desc: exit $want, says '$text'" sg_run_err "$want" "$text" "$@"
    after=$($SNAP "$st")
    sg_check_eq "$desc: nothing changed" "$after" "$before"
}

# --- not initialised ------------------------------------------------------
empty=$SG_TMP/empty
mkdir "$empty"
for cmd in "status" "keys list" "rotate" "revoke -- $kid" "jwks --issuer $A"; do
    # shellcheck disable=SC2086 # word splitting of $cmd is intended
    sg_check "$cmd on an empty directory: exit 2, says not initialised and how to init" \
        sg_run_err 2 "is not initialised (no signet.conf): run 'signet init --state $empty'" \
        ${cmd%% *} --state "$empty" ${cmd#"${cmd%% *}"}
done
sg_check "audit verify on an empty directory: exit 2" sg_run_err 2 "no audit log" audit verify --state "$empty"
sg_check_eq "the empty directory stays empty" "$(ls -A "$empty")" ""
sg_check "status on a missing directory: exit 2" sg_run_err 2 "not initialised" status --state "$SG_TMP/nowhere"
sg_check "  and does not create it" eval '[ ! -e "$SG_TMP/nowhere" ]'

# --- refused requests (exit 1) --------------------------------------------
refused "jwks of an unknown issuer" 1 "issuer is not configured" jwks --state "$st" --issuer https://nope
refused "rotate of an unknown issuer" 1 "issuer is not configured" rotate --state "$st" --issuer https://nope
refused "revoke of an unknown kid" 1 "unknown key id" revoke --state "$st" no-such-kid
refused "revoke of an empty kid" 1 "unknown key id" revoke --state "$st" ""
# kids are base64url: one in 64 starts with '-'.
sg_check "revoke of a kid that starts with '-' is a revoke, not an option: exit 1, unknown key id" \
    sg_run_err 1 "unknown key id" revoke --state "$st" -no-such-kid
sg_check "revoke -- KID works for such a kid" sg_run_err 1 "unknown key id" revoke --state "$st" -- -no-such-kid

# --- PIN ------------------------------------------------------------------
# A file put back keeps the owner its directory gives it (as root: the
# signer's account, signet-signer).
signer_owner=$(stat -c %U "$st/signer")
cp -p "$st/signer/user.pin" "$SG_TMP/user.pin.good"
python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$SG_TMP/user.pin.wrong"
install -m 600 -o "$signer_owner" "$SG_TMP/user.pin.wrong" "$st/signer/user.pin"
# SoftHSM records a failed login in token.object (a token flag), so the
# wrong-PIN case sums everything but that file.
snap_no_token_object() { sg_snapshot "$1" | grep -v '/token\.object$'; }
SNAP=snap_no_token_object
refused "wrong PIN" 2 "login failed" status --state "$st"
SNAP=sg_snapshot
sg_check "wrong PIN: the message names the PIN" sg_err_has "PIN"
sg_check "wrong PIN: neither the wrong nor the right PIN is printed" \
    sg_check_no_pins "$st" "$SG_TMP/user.pin.good" "$SG_TMP/user.pin.wrong"
install -m 644 -o "$signer_owner" "$SG_TMP/user.pin.good" "$st/signer/user.pin"
refused "PIN file mode 0644" 2 "0600" status --state "$st"
chmod 600 "$st/signer/user.pin"
mv "$st/signer/user.pin" "$SG_TMP/user.pin.moved"
ln -s "$SG_TMP/user.pin.moved" "$st/signer/user.pin"
refused "PIN file is a symlink" 2 "cannot read PIN file" status --state "$st"
rm "$st/signer/user.pin"
refused "PIN file missing" 2 "cannot read PIN file" status --state "$st"
install -m 600 -o "$signer_owner" "$SG_TMP/user.pin.good" "$st/signer/user.pin"
sg_check "the right PIN again: status exits 0 (the token is not locked)" sg_run 0 status --state "$st"

# --- PKCS#11 module ---------------------------------------------------------
module=$(sg_module) || sg_fail "no SoftHSM2 module"
cp -p "$st/signet.conf" "$SG_TMP/signet.conf.good"
set_module() { # MODULE [MODULE_DIRS]
    install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"
    sed -i "s#^module = .*#module = $1#" "$st/signet.conf"
    [ -z "${2:-}" ] || sed -i "s#^module_dirs = .*#module_dirs = $2#" "$st/signet.conf"
}
set_module "$(dirname "$module")/libnot-there.so"
refused "missing module" 2 "module could not be loaded" status --state "$st"
cp "$module" "$SG_TMP/libsofthsm2.so"
set_module "$SG_TMP/libsofthsm2.so"
refused "module outside the allow-list" 2 "outside the allow-listed directories" status --state "$st"
# The allow-list applies to the file the path resolves to.
mkdir "$SG_TMP/allowed"
ln -s "$SG_TMP/libsofthsm2.so" "$SG_TMP/allowed/libsofthsm2.so"
set_module "$SG_TMP/allowed/libsofthsm2.so" "$SG_TMP/allowed"
refused "module symlinked from an allow-listed directory to outside it" 2 "allow-listed" status --state "$st"
ln -s "$module" "$SG_TMP/libsymlinked.so"
set_module "$SG_TMP/libsymlinked.so"
sg_check "a symlink from outside to the allow-listed module loads it (the real path counts)" \
    sg_run 0 status --state "$st"
up=$(dirname "$module" | sed 's#/[^/]*#../#g')
set_module "$(dirname "$module")/$up${SG_TMP#/}/libsofthsm2.so"
refused "module path escaping the allow-list with .." 2 "allow-listed" status --state "$st"
# A library a local user owns or may rewrite is not loaded, allow-listed or not.
mkdir -m 755 "$SG_TMP/theirs"
install -m 644 "$module" "$SG_TMP/theirs/libsofthsm2.so"
set_module "$SG_TMP/theirs/libsofthsm2.so" "$SG_TMP/theirs"
sg_check "control: the same copy, root's and 0644, loads" sg_run 0 status --state "$st"
if [ "$(id -u)" = 0 ]; then
    chown nobody "$SG_TMP/theirs/libsofthsm2.so"
    refused "module owned by another account (nobody)" 2 "owned by someone other than root" status --state "$st"
    chown root "$SG_TMP/theirs/libsofthsm2.so"
fi
chmod 664 "$SG_TMP/theirs/libsofthsm2.so"
refused "module writable by its group" 2 "writable or owned" status --state "$st"
install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"

# --- who may write the configuration ----------------------------------------
chmod 666 "$st/signet.conf"
refused "signet.conf writable by others" 2 "writable by its group or by others" status --state "$st"
chmod 664 "$st/signet.conf"
refused "signet.conf writable by its group" 2 "writable by its group or by others" status --state "$st"
chmod 644 "$st/signet.conf"
if [ "$(id -u)" = 0 ]; then
    chown nobody "$st/signet.conf"
    refused "signet.conf owned by another account (nobody)" 2 "neither root nor" status --state "$st"
    chown root "$st/signet.conf"
fi
sg_check "signet.conf root's and 0644 again: status exits 0" sg_run 0 status --state "$st"

# --- store ------------------------------------------------------------------
cp -p "$st/signer/keys.db" "$SG_TMP/signet.db.good"
size=$(stat -c %s "$st/signer/keys.db")
head -c "$size" /dev/urandom >"$st/signer/keys.db"
refused "database overwritten with random bytes" 2 "corrupt" status --state "$st"
: >"$st/signer/keys.db"
refused "empty database" 2 "corrupt" status --state "$st"
sqlite3 "$SG_TMP/other.db" 'CREATE TABLE t (x INTEGER);'
cp "$SG_TMP/other.db" "$st/signer/keys.db"
refused "someone else's SQLite database" 2 "corrupt" status --state "$st"
cp -p "$SG_TMP/signet.db.good" "$st/signer/keys.db"

# --- config -----------------------------------------------------------------
conf_line() { # appends text to the config; prints the number of its last line
    printf '%s\n' "$@" >>"$st/signet.conf"
    wc -l <"$st/signet.conf"
}
line=$(conf_line "[keys]" "rotation_periode = 1h")
refused "config with an unknown key" 2 "signet.conf:$line: unknown key 'rotation_periode' in [keys]" status --state "$st"
install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"
line=$(conf_line "[kees]" "rotation_period = 1h")
refused "config with an unknown section" 2 "signet.conf:$line: unknown section [kees]" status --state "$st"
install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"
line=$(conf_line "[keys]" "rotation_period = 1h")
refused "config repeating a key" 2 "signet.conf:$line: duplicate key 'rotation_period' in [keys]" status --state "$st"
install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"
sg_conf_set "$st" keys rotation_period soon
line=$(grep -n '^rotation_period = soon$' "$st/signet.conf" | cut -d: -f1)
refused "config with a bad value" 2 "signet.conf:$line: invalid value for 'rotation_period'" status --state "$st"
sg_conf_set "$st" keys rotation_period 5m
refused "rotation period shorter than pre-publication allows" 2 "rotation_period" status --state "$st"
install -m 644 "$SG_TMP/signet.conf.good" "$st/signet.conf"

# --- usage errors (exit 2) and help (exit 0) ----------------------------------
usage() { # DESC TEXT ARGS...
    local desc=$1 text=$2
    shift 2
    refused "$desc" 2 "$text" "$@"
}
usage "no command" "usage: signet COMMAND"
usage "unknown command" "unknown command 'bogus'" bogus
usage "keys without list" "usage: signet keys list" keys --state "$st"
usage "keys list with an extra argument" "unexpected argument" keys list extra --state "$st"
usage "revoke without a kid" "usage: signet revoke" revoke --state "$st"
usage "revoke with two kids" "usage: signet revoke" revoke --state "$st" -- "$kid" "$kid"
usage "jwks without --issuer" "usage: signet jwks" jwks --state "$st"
usage "status with an unknown option" "usage: signet status" status --bogus --state "$st"
usage "rotate with an argument" "usage: signet rotate" rotate now --state "$st"
usage "audit without verify" "usage" audit --state "$st"
usage "init with an unknown algorithm" "invalid value for 'algs'" init --state "$SG_TMP/new" --alg RS1
usage "init with a non-HTTP issuer" "invalid value for 'issuer'" init --state "$SG_TMP/new" --issuer ftp://x
usage "init with a missing module" "not found" init --state "$SG_TMP/new" --module "$SG_TMP/none.so"
sg_check "  refused inits create nothing" eval '[ ! -e "$SG_TMP/new" ]'
usage "init on a directory that does not exist under a missing parent" "cannot create" \
    init --state "$SG_TMP/no/such/dir"
# A state directory others may write: refused, and nothing is put in it.
mkdir -m 777 "$SG_TMP/open" && chmod 777 "$SG_TMP/open"
usage "init on a world-writable directory" "writable by its group or others" init --state "$SG_TMP/open"
sg_check "  nothing was created in it" eval '[ -z "$(ls -A "$SG_TMP/open")" ]'
chmod 775 "$SG_TMP/open"
usage "init on a group-writable directory" "writable by its group or others" init --state "$SG_TMP/open"
chmod 755 "$SG_TMP/open"
sg_check "control: the same directory, mode 0755, initialises" \
    sg_run 0 init --state "$SG_TMP/open" --issuer https://open.example/t/a

for cmd in "" init status keys "keys list" rotate revoke jwks audit "audit verify" verify; do
    # shellcheck disable=SC2086 # word splitting of $cmd is intended
    sg_check "signet $cmd --help: exit 0 with a usage line on stdout" \
        eval 'sg_run 0 $cmd --help && sg_out_has "usage: signet"'
done

# --- still whole ------------------------------------------------------------
sg_check "status exits 0 after all that" sg_run 0 status --state "$st"
sg_consistent "$st" "after the refused commands"
sg_check "no PIN in any output" sg_check_no_pins "$st" "$SG_TMP/user.pin.wrong"

sg_done
