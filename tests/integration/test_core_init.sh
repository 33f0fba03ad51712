#!/usr/bin/env bash
# The trusted core end to end (issue 2), driving the real `signet` CLI, the
# signer it spawns and a SoftHSM2 token:
#   - `signet init` with two issuers (ES256, EdDSA) and one (PS256): an ACTIVE
#     and a PUBLISHED key per issuer, private keys sensitive and never
#     extractable in the token, no way to export them, JWKS = PUBLISHED and
#     ACTIVE keys with RFC 7638 kids matching the token's public keys,
#     audit log intact and counting every key record;
#   - init again changes nothing; PIN files 0600; no PIN in any output;
#   - sandbox reported on (unless built with SIGNET_SANDBOX=OFF), and the
#     trust boundary (enforced as root, else "not enforced (single account)");
#   - emergency revoke (of the ACTIVE key, and of a RETIRED one whose tokens
#     are still valid), rotation under an injected clock (reported by the
#     rotate that made it, and not re-armed for the key it activated),
#     destruction after retirement.
# Checks that are shell expressions run as sg_check DESC eval '...': their
# variables expand when the check runs, and predicates run only through it.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sg_tmpdir

A=https://a.example/t/alpha
B=https://b.example/t/beta

# jwks_matches STATE ISSUER: the JWKS is exactly the issuer's PUBLISHED and
# ACTIVE keys (RETIRED ones too, with active_until), each with kid, alg,
# use, iss and active_from, no private member, the kid its RFC 7638
# thumbprint.
jwks_matches() {
    local st=$1 iss=$2
    sg_keys_json "$st" >"$SG_TMP/jm.keys" || return 1
    sg_run 0 status --state "$st" --json || return 1
    printf '%s' "$SG_OUT" >"$SG_TMP/jm.status"
    sg_run 0 jwks --state "$st" --issuer "$iss" || return 1
    printf '%s' "$SG_OUT" >"$SG_TMP/jm.jwks"
    SG_DETAIL=$(python3 - "$iss" "$SG_TMP/jm.keys" "$SG_TMP/jm.status" "$SG_TMP/jm.jwks" <<'EOF'
import base64, hashlib, json, sys
iss = sys.argv[1]
keys = json.load(open(sys.argv[2]))
prepub = json.load(open(sys.argv[3]))["timing"]["prepublish"]
doc = json.load(open(sys.argv[4]))
bad = []
if set(doc) != {"keys"}:
    bad.append("members %s" % sorted(doc))
want = {k["kid"]: k for k in keys if k["issuer"] == iss and not k["revoked"]
        and k["state"] in ("PUBLISHED", "ACTIVE", "RETIRED")}
got = {j.get("kid"): j for j in doc["keys"]}
if sorted(got) != sorted(want) or len(got) != len(doc["keys"]):
    bad.append("kids %s, want %s" % (sorted(got), sorted(want)))
members = {"ES256": ("EC", {"crv", "x", "y"}), "EdDSA": ("OKP", {"crv", "x"}), "PS256": ("RSA", {"n", "e"})}
for kid, j in got.items():
    k = want.get(kid)
    if k is None:
        continue
    kty, pub = members[k["alg"]]
    expect = {"kid", "kty", "alg", "use", "iss", "active_from"} | pub
    if k["state"] == "RETIRED":
        expect.add("active_until")
    if set(j) != expect:
        bad.append("%s has members %s, want %s" % (kid, sorted(j), sorted(expect)))
    if j.get("kty") != kty or j.get("alg") != k["alg"] or j.get("use") != "sig" or j.get("iss") != iss:
        bad.append("%s: kty/alg/use/iss %s" % (kid, [j.get(m) for m in ("kty", "alg", "use", "iss")]))
    if kty == "EC" and j.get("crv") != "P-256" or kty == "OKP" and j.get("crv") != "Ed25519":
        bad.append("%s: crv %s" % (kid, j.get("crv")))
    if kty == "RSA" and len(base64.urlsafe_b64decode(j["n"] + "==")) < 256:
        bad.append("%s: RSA modulus under 2048 bits" % kid)
    # A standby's active_from is when it was published, never the planned
    # (future) start, which an emergency revoke would break (issue 11).
    start = k["activated_at"] if k["state"] != "PUBLISHED" else k["published_at"]
    if j.get("active_from") != start:
        bad.append("%s: active_from %s, want %s" % (kid, j.get("active_from"), start))
    if k["state"] == "RETIRED" and j.get("active_until") != k["retired_at"]:
        bad.append("%s: active_until %s, want %s" % (kid, j.get("active_until"), k["retired_at"]))
    req = ["crv", "kty", "x", "y"] if kty == "EC" else ["crv", "kty", "x"] if kty == "OKP" else ["e", "kty", "n"]
    canon = json.dumps({m: j[m] for m in req}, separators=(",", ":"), sort_keys=True)
    tp = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()
    if tp != kid:
        bad.append("kid %s is not the RFC 7638 thumbprint %s" % (kid, tp))
print("; ".join(bad))
EOF
) || return 1
    [ -z "$SG_DETAIL" ]
}

# pubkeys_match STATE ISSUER: each JWKS key is the public half of the token
# object its store row names (EC_POINT for EC and EdDSA, the DER public key
# read from the token for RSA).
pubkeys_match() {
    local st=$1 iss=$2 id
    sg_keys_json "$st" >"$SG_TMP/pm.keys" || return 1
    sg_token_objects "$st" >"$SG_TMP/pm.objs" || return 1
    sg_run 0 jwks --state "$st" --issuer "$iss" || return 1
    printf '%s' "$SG_OUT" >"$SG_TMP/pm.jwks"
    rm -f "$SG_TMP"/pm-*.der
    for id in $(sg_kq "$SG_TMP/pm.keys" "[k['hsm_id'] for k in keys if k['alg'] == 'PS256' and k['issuer'] == a[0]
            and k['state'] in ('PUBLISHED', 'ACTIVE', 'RETIRED')]" "$iss"); do
        # pkcs11-tool runs as the token's owner: let it write the file.
        install -m 666 /dev/null "$SG_TMP/pm-$id.der"
        sg_pkcs11 "$st" --read-object --type pubkey --id "$id" -o "$SG_TMP/pm-$id.der" >/dev/null || return 1
    done
    SG_DETAIL=$(python3 - "$SG_TMP/pm.keys" "$SG_TMP/pm.objs" "$SG_TMP/pm.jwks" "$SG_TMP" <<'EOF'
import base64, json, sys
keys = {k["kid"]: k for k in json.load(open(sys.argv[1]))}
points = {}
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "pub":
        points[f[1]] = f[4]
def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
bad = []
for j in json.load(open(sys.argv[3]))["keys"]:
    k = keys[j["kid"]]
    if j["kty"] == "EC":
        want = "044104" + (b64(j["x"]) + b64(j["y"])).hex()
    elif j["kty"] == "OKP":
        want = "0420" + b64(j["x"]).hex()
    else:
        from cryptography.hazmat.primitives.serialization import load_der_public_key
        pn = load_der_public_key(open("%s/pm-%s.der" % (sys.argv[4], k["hsm_id"]), "rb").read()).public_numbers()
        ok = pn.n == int.from_bytes(b64(j["n"]), "big") and pn.e == int.from_bytes(b64(j["e"]), "big")
        if not ok:
            bad.append("%s: RSA public key differs from the token's" % j["kid"])
        continue
    if points.get(k["hsm_id"], "").lower() != want:
        bad.append("%s: token EC_POINT %s, JWK gives %s" % (j["kid"], points.get(k["hsm_id"]), want))
print("; ".join(bad))
EOF
) || return 1
    [ -z "$SG_DETAIL" ]
}

# keys_shown STATE ISSUER ALG: `signet keys list` (the table) shows exactly
# one ACTIVE and one PUBLISHED key for the issuer.
keys_shown() {
    local st=$1 iss=$2 alg=$3 rows
    sg_run 0 keys list --state "$st" || return 1
    rows=$(printf '%s\n' "$SG_OUT" | awk -v iss="$iss" -v alg="$alg" '$3 == alg && $NF == iss { print $2 }' | sort | tr '\n' ' ')
    [ "$rows" = "ACTIVE PUBLISHED " ] && return 0
    SG_DETAIL="states shown for $iss $alg: '$rows'
$SG_OUT"
    return 1
}

# keys_list_issuer STATE ISSUER: --issuer filters the listing.
keys_list_issuer() {
    sg_run 0 keys list --state "$1" --issuer "$2" --json || return 1
    printf '%s' "$SG_OUT" >"$SG_TMP/kli.json"
    SG_DETAIL=$(sg_kq "$SG_TMP/kli.json" "('' if len(keys) == 2 and all(k['issuer'] == a[0] for k in keys)
        else 'rows: %s' % [(k['issuer'], k['state']) for k in keys])" "$2") || return 1
    [ -z "$SG_DETAIL" ]
}

# token_flags_ok STATE N: N private keys, each labelled signet:*, its Access
# "sensitive, always sensitive, never extractable" and never "extractable"
# alone; N public keys; besides them the audit key (label signet-audit,
# issue 11), held to the same access flags, and the TOTP seal key (an AES
# secret key, label signet-totp-seal, issue 14), sensitive and never
# extractable; any other object is unexpected.
token_flags_ok() {
    local st=$1 n=$2
    sg_token_objects "$st" >"$SG_TMP/tf.objs" || return 1
    SG_DETAIL=$(awk -F'\t' -v n="$n" '
        $1 == "priv" && $3 == "signet-audit" { audit = 1 }
        $1 == "priv" {
            if ($3 != "signet-audit") np++
            split($4, parts, /, */); s = 0; as = 0; ne = 0; ex = 0
            for (i in parts) {
                if (parts[i] == "sensitive") s = 1
                if (parts[i] == "always sensitive") as = 1
                if (parts[i] == "never extractable") ne = 1
                if (parts[i] == "extractable") ex = 1
            }
            if (!s || !as || !ne || ex) print "private key " $2 " access: " $4
            if ($3 !~ /^signet:/ && $3 != "signet-audit") print "private key " $2 " label: " $3
        }
        $1 == "pub" && $3 != "signet-audit" { npub++ }
        $1 == "secret" && $3 == "signet-totp-seal" && $2 == "7369676e65742d746f74702d7365616c" {
            seal++
            if ($4 !~ /(^|, )sensitive(,|$)/ || $4 !~ /never extractable/ || $4 ~ /(^|, )extractable(,|$)/)
                print "seal key access: " $4
            next
        }
        $1 == "secret" || $1 == "other" { print "unexpected object " $2 }
        END {
            if (!audit) print "no audit key (label signet-audit) in the token"
            if (seal != 1) print seal + 0 " TOTP seal keys (label signet-totp-seal), want 1"
            if (np != n) print np + 0 " private keys, want " n
            if (npub != n) print npub + 0 " public keys, want " n
        }' "$SG_TMP/tf.objs") || return 1
    [ -z "$SG_DETAIL" ]
}

# no_export STATE: pkcs11-tool cannot read a private key out, and the
# PKCS#11 probe (sg_export_probe) gets CKR_ATTRIBUTE_SENSITIVE for the secret
# value and an error for every other way out.
no_export() {
    local st=$1 id rc=0 out
    # shellcheck disable=SC2013 # one hex CKA_ID a word
    for id in $(awk -F'\t' '$1 == "priv" { print $2 }' "$SG_TMP/tf.objs"); do
        rm -f "$SG_TMP/export.bin"
        sg_pkcs11 "$st" --read-object --type privkey --id "$id" -o "$SG_TMP/export.bin" >/dev/null || true
        if [ -s "$SG_TMP/export.bin" ]; then
            SG_DETAIL="pkcs11-tool wrote $(wc -c <"$SG_TMP/export.bin") bytes of private key $id"
            return 1
        fi
    done
    out=$(sg_export_probe "$st") || rc=$?
    if [ "$rc" -eq 3 ]; then
        sg_note "export probe skipped: no C compiler or p11-kit headers"
        return 0
    fi
    [ "$rc" -eq 0 ] || { SG_DETAIL="export probe failed ($rc)"; return 1; }
    SG_DETAIL=$(printf '%s\n' "$out" | awk -v want="$(awk -F'\t' '$1 == "priv"' "$SG_TMP/tf.objs" | wc -l)" '
        { n++ }
        / get[0-9]=0x0( |$)| wrap=0x0( |$)| set_[a-z]*=0x0( |$)| copy=0x0( |$)/ { print "exported: " $0 }
        !/ get[0-9]=0x11( |$)/ { print "secret attribute not CKR_ATTRIBUTE_SENSITIVE: " $0 }
        !/ wrap=0x6a( |$)/ { print "wrap not CKR_KEY_UNEXTRACTABLE: " $0 }
        END { if (n != want) print n + 0 " keys probed, want " want }') || return 1
    [ -z "$SG_DETAIL" ]
}

# audit_counts STATE NKEYS NACTIVE: `signet audit verify` passes and counts
# one key_generating, key_generated and key_published record per key and a
# key_activated per ACTIVE key, and nothing else but signed checkpoints (a
# fresh state).
audit_counts() {
    local st=$1 nkeys=$2 nactive=$3 want
    want=$((3 * nkeys + nactive))
    sg_run 0 audit verify --state "$st" || return 1
    sg_out_has "chain intact" || return 1
    sg_out_has "anchored: " || return 1
    SG_DETAIL=$(python3 - "$st/signer/audit.log" "$nkeys" "$nactive" <<'EOF'
import collections, json, sys
# Signed checkpoints (issue 11) are not key records.
types = collections.Counter(t for t in (json.loads(l.split(" ", 1)[1])["type"] for l in open(sys.argv[1]))
                            if t != "checkpoint")
n, act = int(sys.argv[2]), int(sys.argv[3])
want = {"key_generating": n, "key_generated": n, "key_published": n, "key_activated": act}
print("" if dict(types) == want else "record types %s, want %s" % (dict(types), want))
EOF
) || return 1
    [ -z "$SG_DETAIL" ]
}

# state_files_ok STATE: PIN files 0600 in signer/, the token directory and
# front/ 0700, signer/ 0700 (0710 to the front end's group as root, for the
# audit log it may read); as root, each half belongs to its own account.
state_files_ok() {
    local st=$1 f m want
    for f in signer/user.pin signer/so.pin signer/keys.db front/signet.db; do
        m=$(stat -c %a "$st/$f")
        [ "$m" = 600 ] || { SG_DETAIL="$f is mode $m"; return 1; }
    done
    for f in signer/tokens front; do
        m=$(stat -c %a "$st/$f")
        [ "$m" = 700 ] || { SG_DETAIL="$f is mode $m"; return 1; }
    done
    want=700
    [ "$(id -u)" != 0 ] || want=710
    m=$(stat -c %a "$st/signer")
    [ "$m" = "$want" ] || { SG_DETAIL="signer/ is mode $m, want $want"; return 1; }
    m=$(stat -c %a "$st/signet.conf")
    [ "$m" = 644 ] || { SG_DETAIL="signet.conf is mode $m"; return 1; }
    if [ "$(id -u)" = 0 ]; then
        for f in signer signer/user.pin signer/so.pin signer/keys.db signer/audit.log signer/tokens; do
            m=$(stat -c %U "$st/$f")
            [ "$m" = signet-signer ] || { SG_DETAIL="$f belongs to $m"; return 1; }
        done
        for f in front front/signet.db; do
            m=$(stat -c %U "$st/$f")
            [ "$m" = signet ] || { SG_DETAIL="$f belongs to $m"; return 1; }
        done
        m=$(stat -c %U "$st/signet.conf")
        [ "$m" = root ] || { SG_DETAIL="signet.conf belongs to $m"; return 1; }
    fi
}

# check_fresh STATE ALG ISSUER...: everything a fresh `signet init` promises.
check_fresh() {
    local st=$1 alg=$2 iss
    shift 2
    local n=$#
    for iss in "$@"; do
        sg_check "$alg: keys list shows an ACTIVE and a PUBLISHED key for $iss" keys_shown "$st" "$iss" "$alg"
        sg_check "$alg: keys list --issuer $iss lists only its keys" keys_list_issuer "$st" "$iss"
        sg_check "$alg: jwks --issuer $iss is its PUBLISHED and ACTIVE keys, kids are thumbprints" \
            jwks_matches "$st" "$iss"
        sg_check "$alg: the JWKS keys of $iss are the token's public keys" pubkeys_match "$st" "$iss"
    done
    sg_check "$alg: token holds $((2 * n)) private keys, sensitive and never extractable" \
        token_flags_ok "$st" $((2 * n))
    sg_check "$alg: no private key can be read, wrapped, copied or made extractable" no_export "$st"
    sg_check "$alg: audit verify passes and counts every key record" audit_counts "$st" $((2 * n)) "$n"
    sg_check "$alg: PIN files 0600, directories 0700" state_files_ok "$st"
    sg_consistent "$st" "$alg"
}

# --- init: ES256 (the default) with two issuers --------------------------
es=$SG_TMP/es256
sg_check "init with two issuers exits 0" sg_run 0 init --state "$es" --issuer "$A" --issuer "$B"
sg_check "init names the ACTIVE and PUBLISHED key of each issuer" \
    eval '[ "$(printf "%s\n" "$SG_OUT" | grep -cE "^  https://[ab]\.example/t/[a-z]+ ES256 (ACTIVE|PUBLISHED) [A-Za-z0-9_-]{43}$")" = 4 ]'
check_fresh "$es" ES256 "$A" "$B"

# JWKS of one issuer never carries another's keys.
sg_keys_json "$es" >"$SG_TMP/es.keys"
sg_run 0 jwks --state "$es" --issuer "$A"
for kid in $(sg_kq "$SG_TMP/es.keys" "[k['kid'] for k in keys if k['issuer'] == a[0]]" "$B"); do
    sg_check "jwks of $A lacks $B's key $kid" eval '[[ $SG_OUT != *"$kid"* ]]'
done

# Init again: nothing changes, byte for byte.
find "$es" -type f | sort | xargs sha256sum >"$SG_TMP/before"
sg_check "init again exits 0" sg_run 0 init --state "$es" --issuer "$A" --issuer "$B"
sg_check "init again says already initialised" sg_out_has "already initialised"
find "$es" -type f | sort | xargs sha256sum >"$SG_TMP/after"
sg_check_eq "init again leaves the stores, audit.log, PINs and token files identical" \
    "$(cat "$SG_TMP/after")" "$(cat "$SG_TMP/before")"
sg_check "init again with other options changes nothing either" sg_run 0 init --state "$es" --alg PS256
find "$es" -type f | sort | xargs sha256sum >"$SG_TMP/after"
sg_check_eq "  (hashes unchanged)" "$(cat "$SG_TMP/after")" "$(cat "$SG_TMP/before")"

# Sandbox, as status reports it.
sg_check "status exits 0" sg_run 0 status --state "$es"
if sg_sandbox_built; then
    sg_check "status: sandbox seccomp=on, no_new_privs=on" sg_out_has "sandbox: seccomp=on no_new_privs=on"
    sg_check "status: the signer is not dumpable" sg_out_has "dumpable=no"
else
    sg_note "skipped the seccomp check: built with SIGNET_SANDBOX=OFF"
fi
# The trust boundary, said plainly: as root `signet init` splits the accounts.
if [ "$(id -u)" = 0 ]; then boundary="enforced"; else boundary="not enforced (single account)"; fi
sg_check "status: trust boundary: $boundary" sg_out_has "trust boundary: $boundary"
sg_run 0 status --state "$es" --json
printf '%s' "$SG_OUT" >"$SG_TMP/status-tb.json"
sg_check_eq "status --json: trust_boundary" \
    "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["trust_boundary"]; print(t["enforced"], t["text"])' "$SG_TMP/status-tb.json")" \
    "$([ "$(id -u)" = 0 ] && echo True || echo False) $boundary"
sg_check "status --state by \$SIGNET_STATE" eval 'SIGNET_STATE=$es sg_run 0 status && sg_out_has "state: $es"'
sg_check "keys list with SIGNET_DEBUG=1 (signer debug logging) exits 0" \
    eval 'SIGNET_DEBUG=1 sg_run 0 keys list --state "$es"'

# --- EdDSA, two issuers; PS256, one (RSA key generation is slow) ---------
ed=$SG_TMP/eddsa
sg_check "init --alg EdDSA exits 0" sg_run 0 init --state "$ed" --alg EdDSA --issuer "$A" --issuer "$B"
check_fresh "$ed" EdDSA "$A" "$B"
ps=$SG_TMP/ps256
sg_check "init --alg PS256 exits 0" sg_run 0 init --state "$ps" --alg PS256 --issuer "$A"
check_fresh "$ps" PS256 "$A"

# --- revoke ---------------------------------------------------------------
T0=$(date +%s)
sg_use_clock "$es" "$T0"
sg_run 0 status --state "$es" --json
printf '%s' "$SG_OUT" >"$SG_TMP/status.json"
sg_check_eq "the edited [keys] timings are in effect (prepublish, retirement, period)" \
    "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; print(t["prepublish"], t["retire_window"], t["rotation_period"])' "$SG_TMP/status.json")" \
    "$SG_PREPUB $SG_RETIRE $SG_PERIOD"

actA=$(sg_kids "$es" ACTIVE "$A")
pubA=$(sg_kids "$es" PUBLISHED "$A")
actB=$(sg_kids "$es" ACTIVE "$B")
pubB=$(sg_kids "$es" PUBLISHED "$B")
hsmA=$(sg_kq "$SG_TMP/kids.json" "[k['hsm_id'] for k in keys if k['kid'] == a[0]]" "$actA")
sg_check "revoke the ACTIVE key exits 0" sg_run 0 revoke --state "$es" -- "$actA"
sg_check "revoke says which key" sg_out_has "revoked $actA"
sg_check_eq "the standby is ACTIVE at once" "$(sg_kids "$es" ACTIVE "$A")" "$pubA"
newA=$(sg_kids "$es" PUBLISHED "$A")
sg_check "a new PUBLISHED standby exists" eval '[ -n "$newA" ] && [ "$newA" != "$pubA" ] && [ "$newA" != "$actA" ]'
sg_check_eq "the revoked key is a DESTROYED tombstone marked revoked" \
    "$(sg_kq "$SG_TMP/kids.json" "[(k['state'], k['revoked']) for k in keys if k['kid'] == a[0]]" "$actA")" \
    "('DESTROYED', True)"
sg_run 0 jwks --state "$es" --issuer "$A"
sg_check "the revoked kid left the JWKS" eval '[[ $SG_OUT != *"$actA"* ]] && [[ $SG_OUT == *"$pubA"* ]]'
sg_token_objects "$es" >"$SG_TMP/objs"
sg_check "the revoked key left the token (no object with its CKA_ID or kid label)" \
    eval '! grep -qiF -e "$hsmA" -e "$actA" "$SG_TMP/objs"'
sg_check_eq "the other issuer is untouched" "$(sg_kids "$es" ACTIVE "$B") $(sg_kids "$es" PUBLISHED "$B")" "$actB $pubB"
sg_check "revoke the same key again exits 1" sg_run_err 1 "not in a state" revoke --state "$es" -- "$actA"
sg_check "revoke an unknown kid exits 1 with a clear message" \
    sg_run_err 1 "unknown key id" revoke --state "$es" "no-such-kid-0000000000000000000000000000000"
sg_consistent "$es" "after revoke"

# --- rotate ---------------------------------------------------------------
# Right after init the standbys are not pre-published long enough.
sg_check "rotate right away exits 0" sg_run 0 rotate --state "$es"
sg_check "rotate right away says nothing was due" sg_out_has "no transition was due"
sg_check_eq "rotate right away changes no key's state" \
    "$(sg_kids "$es" ACTIVE | sort | tr '\n' ' ')/ $(sg_kids "$es" PUBLISHED | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$pubA" "$actB" | sort | tr '\n' ' ')/ $(printf '%s\n' "$newA" "$pubB" | sort | tr '\n' ' ')"

# Once the standbys have been in the JWKS for jwks_max_age + clock_skew.
sg_clock_add "$es" "$SG_PREPUB"
TR=$(sg_clock_get "$es")
sg_check "rotate after pre-publication exits 0" sg_run 0 rotate --state "$es"
sg_check "rotate reports the promotion it made" sg_out_has "ACTIVE -> RETIRED"
sg_check_eq "the standbys are ACTIVE" "$(sg_kids "$es" ACTIVE | sort)" "$(printf '%s\n%s' "$newA" "$pubB" | sort)"
sg_check_eq "the old keys are RETIRED" "$(sg_kids "$es" RETIRED | sort)" "$(printf '%s\n%s' "$pubA" "$actB" | sort)"
sg_check_eq "new standbys are PUBLISHED" "$(sg_kids "$es" PUBLISHED | wc -l)" 2
sg_check_eq "the keys just activated are due after a full period, not at once" \
    "$(sg_kq "$SG_TMP/kids.json" "[k['rotate_at'] - k['activated_at'] for k in keys if k['state'] == 'ACTIVE']")" \
    "$(printf '%s\n%s' "$SG_PERIOD" "$SG_PERIOD")"
sg_check "RETIRED keys stay in the JWKS with active_until" jwks_matches "$es" "$A"
sg_check "RETIRED keys stay in the JWKS (second issuer)" jwks_matches "$es" "$B"
sg_consistent "$es" "after rotate"

# Emergency revoke of a RETIRED key (its tokens are still valid).
hsmB=$(sg_kq "$SG_TMP/kids.json" "[k['hsm_id'] for k in keys if k['kid'] == a[0]]" "$actB")
sg_check "revoke a RETIRED key exits 0" sg_run 0 revoke --state "$es" -- "$actB"
sg_run 0 jwks --state "$es" --issuer "$B"
sg_check "a revoked RETIRED key leaves the JWKS at once" eval '[[ $SG_OUT != *"$actB"* ]]'
sg_token_objects "$es" >"$SG_TMP/objs"
sg_check "a revoked RETIRED key leaves the token at once" eval '! grep -qiF "$hsmB" "$SG_TMP/objs"'

# --- destruction after retirement (max_token_lifetime + clock_skew) -------
hsmR=$(sg_kq "$SG_TMP/kids.json" "[k['hsm_id'] for k in keys if k['kid'] == a[0]]" "$pubA")
sg_clock_set "$es" $((TR + SG_RETIRE - 1))
sg_check "status one second before the end of retirement exits 0" sg_run 0 status --state "$es"
sg_keys_json "$es" >"$SG_TMP/k.json"
sg_check_eq "  the RETIRED key is still RETIRED" \
    "$(sg_kq "$SG_TMP/k.json" "[k['state'] for k in keys if k['kid'] == a[0]]" "$pubA")" RETIRED
sg_token_objects "$es" >"$SG_TMP/objs"
sg_check "  and still in the token" grep -qiF "$hsmR" "$SG_TMP/objs"
sg_clock_set "$es" $((TR + SG_RETIRE))
sg_check "status at the end of retirement exits 0" sg_run 0 status --state "$es"
sg_keys_json "$es" >"$SG_TMP/k.json"
sg_check_eq "the retired key is DESTROYED" \
    "$(sg_kq "$SG_TMP/k.json" "[k['state'] for k in keys if k['kid'] == a[0]]" "$pubA")" DESTROYED
sg_check_eq "so is the other issuer's" \
    "$(sg_kq "$SG_TMP/k.json" "[k['state'] for k in keys if k['kid'] == a[0]]" "$actB")" DESTROYED
sg_token_objects "$es" >"$SG_TMP/objs"
sg_check "the destroyed keys are gone from the token" eval '! grep -qiF -e "$hsmR" -e "$hsmB" "$SG_TMP/objs"'
sg_run 0 jwks --state "$es" --issuer "$A"
sg_check "the destroyed key is gone from the JWKS" eval '[[ $SG_OUT != *"$pubA"* ]]'
sg_run 0 keys list --state "$es"
sg_check "keys list shows the DESTROYED tombstone, as --json does" \
    eval 'grep -E "^$pubA +DESTROYED" <<<"$SG_OUT" >/dev/null'
sg_consistent "$es" "after destruction"

# --- no PIN anywhere --------------------------------------------------------
for st in "$es" "$ed" "$ps"; do
    sg_check "no PIN of $(basename "$st") in any output, the store, the audit log or the config" \
        sg_check_no_pins "$st"
done

sg_done
