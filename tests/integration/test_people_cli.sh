#!/usr/bin/env bash
# People from the command line (issue 13), `signet user`, `signet session`
# and the new `signet client add` flags, against a real state directory:
#   - user add prints the id (u + 22 base64url) and a one-time link
#     <issuer>/enrol?token=<43 base64url>; the front store holds its SHA-256
#     and never the token; a taken name, a bad name or email, a link
#     lifetime above 24h are refused;
#   - list / show (plain and JSON, no secrets), disable / enable, remove;
#   - a fresh link: allowed while the person has no passkey; refused once
#     they have one (a row put in with sqlite3) unless --reset, which the
#     signer records in the audit log (user_reset) and which keeps the
#     audit chain intact;
#   - client add --type public with redirect URIs and grants, shown by
#     client list; bad redirect URIs (http to a non-loopback host, a
#     fragment, a relative one, no dot in a private-use scheme), public +
#     client_credentials, authorization_code without a redirect URI refused;
#   - session list of nobody is empty; revoking an unknown sid is exit 1.
# shellcheck disable=SC2016,SC2034
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sg_tmpdir

st=$SG_TMP/state
port=$((20000 + RANDOM % 20000)) # only part of the issuer: nothing listens
iss=http://localhost:$port/t/default
sg_init "$st" --issuer "$iss"
db=$st/front/signet.db
T=(--state "$st" --tenant default)

# field NAME: the value of the "NAME: value" line of the last output.
field() { sed -n "s/^$1: //p" <<<"$SG_OUT" | head -n 1; }
# jq_py EXPR: EXPR evaluated with d = the last output as JSON.
jq_py() { python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$SG_OUT"; }
# b64sha TEXT: base64url(SHA-256(TEXT)) without padding.
b64sha() { python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$1"; }
# in_store TEXT: TEXT appears in the front store (its dump, and its files).
# (Dumped to a file first: grep -q stops reading at its first match, and
# under pipefail the writer's SIGPIPE would fail the check.)
in_store() {
    sqlite3 "$db" .dump >"$SG_TMP/dump.sql"
    grep -qF -- "$1" "$SG_TMP/dump.sql" && return 0
    cat "$db"* >"$SG_TMP/dump.bin" 2>/dev/null || true
    grep -qaF -- "$1" "$SG_TMP/dump.bin"
}

# ---- user add ------------------------------------------------------------------
sg_check "user add alice" sg_run 0 user add "${T[@]}" --name alice --email alice@example.com
add_out=$SG_OUT
alice_id=$(field id)
link=$(field enrolment_link)
token=${link#*token=}
sg_check_eq "user: line" "$(field user)" alice
sg_check "id is u + 22 base64url" eval '[[ $alice_id =~ ^u[A-Za-z0-9_-]{22}$ ]]'
sg_check "link is <issuer>/enrol?token=<43 base64url>" \
    eval '[[ $link =~ ^http://localhost:$port/t/default/enrol\?token=[A-Za-z0-9_-]{43}$ ]]'
sg_check "expires is a UTC ISO time within 24 h" eval \
    'e=$(date -u -d "$(field expires)" +%s) && [ $((e - $(date +%s))) -le 86400 ] && [ $((e - $(date +%s))) -gt 86000 ]'
sg_check_eq "exactly four lines" "$(sed -e 's/: .*//' <<<"$add_out" | tr '\n' ' ')" "user id enrolment_link expires "
sg_check "the store holds no copy of the token" eval '! in_store "$token"'
sg_check "the store holds its SHA-256 (base64url)" in_store "$(b64sha "$token")"
sg_check "nothing on stderr" eval '[ -z "$SG_ERR" ]'

sg_check "user add --json" sg_run 0 user add "${T[@]}" --name bob.b@x-1 --json --link-lifetime 1h
sg_check "JSON has user, id, enrolment_link, expires" eval \
    '[ "$(jq_py "sorted(d) == [\"email\", \"enrolment_link\", \"expires\", \"expires_at\", \"id\", \"user\"] and d[\"user\"] == \"bob.b@x-1\" and d[\"enrolment_link\"].startswith(\"$iss/enrol?token=\")")" = True ]'
sg_check "--link-lifetime 1h" eval '[ "$(jq_py "abs(d[\"expires_at\"] - $(date +%s) - 3600) < 60")" = True ]'
bob_token=$(jq_py 'd["enrolment_link"].split("token=")[1]')
sg_check "bob's token not in the store" eval '! in_store "$bob_token"'

sg_check "a taken name: exit 1" sg_run_err 1 "already has a user 'alice'" user add "${T[@]}" --name alice
sg_check "bad name: exit 2" sg_run 2 user add "${T[@]}" --name 'al ice'
sg_check "empty name: exit 2" sg_run 2 user add "${T[@]}" --name ''
sg_check "65-character name: exit 2" sg_run 2 user add "${T[@]}" --name "$(printf 'a%.0s' {1..65})"
sg_check "bad email: exit 2" sg_run 2 user add "${T[@]}" --name carol --email not-an-email
sg_check "link lifetime above 24h: exit 2" sg_run 2 user add "${T[@]}" --name carol --link-lifetime 25h
sg_check "unknown tenant: exit 2" sg_run 2 user add --state "$st" --tenant nosuch --name carol
sg_check "no user made by the refusals" eval '! in_store carol'

# ---- list / show -------------------------------------------------------------
sg_check "user list" sg_run 0 user list "${T[@]}"
sg_check "list shows alice and her id" eval '[[ $SG_OUT == *alice*"$alice_id"* ]]'
sg_check "user list --json" sg_run 0 user list "${T[@]}" --json
sg_check "list JSON: two users, no secrets" eval \
    '[ "$(jq_py "[(u[\"name\"], u[\"disabled\"], u[\"passkeys\"]) for u in d] == [(\"alice\", False, 0), (\"bob.b@x-1\", False, 0)] and d[0][\"id\"] == \"$alice_id\" and all(\"created\" in u for u in d)")" = True ]'
sg_check "list shows no token" eval '[[ $SG_OUT != *"$token"* ]]'
sg_check "user show --json" sg_run 0 user show "${T[@]}" --name alice --json
sg_check "show JSON: the user, no passkeys, no sessions" eval \
    '[ "$(jq_py "d[\"id\"] == \"$alice_id\" and d[\"email\"] == \"alice@example.com\" and d[\"passkeys\"] == [] and d[\"sessions\"] == []")" = True ]'
sg_check "show of nobody: exit 1" sg_run_err 1 "no user 'nobody'" user show "${T[@]}" --name nobody

# ---- disable / enable ----------------------------------------------------------
sg_check "disable" sg_run 0 user disable "${T[@]}" --name alice
sg_run 0 user list "${T[@]}" --json || true
sg_check "listed as disabled" eval '[ "$(jq_py "[u[\"disabled\"] for u in d if u[\"name\"] == \"alice\"]")" = "[True]" ]'
sg_check "a disabled user gets no link" sg_run_err 1 "disabled" user link "${T[@]}" --name alice
sg_check "enable" sg_run 0 user enable "${T[@]}" --name alice
sg_run 0 user list "${T[@]}" --json || true
sg_check "listed as enabled" eval '[ "$(jq_py "[u[\"disabled\"] for u in d if u[\"name\"] == \"alice\"]")" = "[False]" ]'
sg_check "disable nobody: exit 1" sg_run 1 user disable "${T[@]}" --name nobody

# ---- fresh links --------------------------------------------------------------
sg_check "a fresh link without a passkey" sg_run 0 user link "${T[@]}" --name alice
token2=$(field enrolment_link); token2=${token2#*token=}
sg_check "a new token" eval '[[ $token2 =~ ^[A-Za-z0-9_-]{43}$ && $token2 != "$token" ]]'
sg_check "new token not in the store, its hash is" eval '! in_store "$token2" && in_store "$(b64sha "$token2")"'
sg_check "link for nobody: exit 1" sg_run 1 user link "${T[@]}" --name nobody

# A passkey of alice's, put in the store directly (whatever the columns
# of the passkey table are called: filled by name, else by type).
fake_passkey() {
    SG_DETAIL=$(python3 - "$db" "$alice_id" <<'EOF' 2>&1
import os, sqlite3, sys, time
db, uid = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
tables = [r[0] for r in c.execute("select name from sqlite_master where type='table' and name like '%passkey%'")]
if len(tables) != 1:
    sys.exit("passkey tables: %s" % tables)
t = tables[0]
cols, vals = [], []
for _, name, typ, notnull, default, pk in c.execute("pragma table_info(%s)" % t):
    n, ty = name.lower(), (typ or "").upper()
    if pk and "INT" in ty:
        continue
    if n == "tenant": v = "default"
    elif n in ("user_id", "user", "uid", "sub"): v = uid
    elif "cred" in n: v = os.urandom(16) if "BLOB" in ty else os.urandom(16).hex()
    elif n == "alg": v = -7
    elif "pub" in n or "cose" in n or "key" in n: v = bytes.fromhex("a5010203262001215820") + os.urandom(32)
    elif "count" in n: v = 7
    elif "flag" in n: v = 0x1d  # UP UV BE BS: a synced passkey
    elif "aaguid" in n: v = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
    elif "transport" in n: v = "internal hybrid"
    elif n.startswith("created"): v = int(time.time())
    elif n.startswith("last"): v = 0
    elif not notnull or default is not None: continue
    elif "INT" in ty: v = 0
    elif "BLOB" in ty: v = b""
    else: v = ""
    cols.append(name); vals.append(v)
c.execute("insert into %s (%s) values (%s)" % (t, ",".join(cols), ",".join("?" * len(cols))), vals)
c.commit()
EOF
) && return 0
    return 1
}
sg_check "a passkey for alice (sqlite3)" fake_passkey
sg_check "show counts it, synced" sg_run 0 user show "${T[@]}" --name alice --json
sg_check "show JSON: one synced passkey, sign count 7" eval \
    '[ "$(jq_py "[(p[\"kind\"], p[\"sign_count\"], p[\"aaguid\"]) for p in d[\"passkeys\"]] == [(\"synced\", 7, \"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4\")]")" = True ]'
audit_before=$(grep -c . "$st/signer/audit.log" || true)
sg_check "a link without --reset refused (exit 1), pointing at the account page and --reset" \
    eval 'sg_run_err 1 "--reset" user link "${T[@]}" --name alice && sg_err_has "/account"'
sg_check "add --name of someone with a passkey, without --reset: exit 1" sg_run 1 user add "${T[@]}" --name alice
sg_check "the refusals wrote no audit record" eval '[ "$(grep -c . "$st/signer/audit.log" || true)" = "$audit_before" ]'
sg_check "--reset issues a link" sg_run 0 user link "${T[@]}" --name alice --reset
token3=$(field enrolment_link); token3=${token3#*token=}
sg_check "a new token, not stored" eval '[[ $token3 =~ ^[A-Za-z0-9_-]{43}$ ]] && ! in_store "$token3"'
sg_check "the reset is in the audit log (user_reset, source admin, the user id)" eval \
    'grep "user_reset" "$st/signer/audit.log" | grep -q "$alice_id" && grep "user_reset" "$st/signer/audit.log" | grep -q "\"source\":\"admin\""'
sg_check "no token in the audit log" eval '! grep -qF -e "$token" -e "$token2" -e "$token3" "$st/signer/audit.log"'
sg_check "add --reset for someone who exists also works" sg_run 0 user add "${T[@]}" --name alice --reset --json
sg_check "the audit chain verifies" sg_run 0 audit verify --state "$st"

# ---- remove -------------------------------------------------------------------
sg_check "remove" sg_run 0 user remove "${T[@]}" --name alice
sg_check "show after remove: exit 1" sg_run 1 user show "${T[@]}" --name alice
sg_check "remove again: exit 1" sg_run 1 user remove "${T[@]}" --name alice
passkeys_left() {
    local t
    t=$(sqlite3 "$db" "select name from sqlite_master where type = 'table' and name like '%passkey%'")
    sqlite3 "$db" "select count(*) from $t"
}
sg_check_eq "alice's passkey went with her" "$(passkeys_left)" 0

# ---- sessions -------------------------------------------------------------------
sg_check "session list --json: empty" sg_run 0 session list "${T[@]}" --json
sg_check_eq "no sessions" "$(jq_py 'd')" "[]"
sg_check "session list --user bob" sg_run 0 session list "${T[@]}" --user bob.b@x-1
sg_check "session revoke of an unknown sid: exit 1" \
    sg_run_err 1 "no live session 'nosuch'" session revoke "${T[@]}" --session nosuch
sg_check "session revoke --user bob" sg_run 0 session revoke "${T[@]}" --user bob.b@x-1
sg_check_eq "no session of bob's" "${SG_OUT%% session*}" "revoked 0"
sg_check "session revoke needs --user or --session" sg_run 2 session revoke "${T[@]}"

# ---- clients for people -----------------------------------------------------------
sg_check "client add --type public with redirect URIs and grants" sg_run 0 client add "${T[@]}" \
    --id spa --type public --audience https://api --redirect-uri https://app.example/cb \
    --redirect-uri http://127.0.0.1:8123/cb --redirect-uri 'com.example.app:/oauth2' \
    --grant authorization_code --grant refresh_token --require-par
sg_check "no secret printed for a public client" eval '[[ $SG_OUT != *client_secret* ]] && sg_out_has "auth: none"'
sg_check "client add confidential code client (default grants)" sg_run 0 client add "${T[@]}" \
    --id web-app --audience https://api --redirect-uri http://localhost/cb \
    --redirect-uri 'http://[::1]:9000/cb?x=1' --secret-file "$SG_TMP/web-app.secret"
sg_check "machine client as before" sg_run 0 client add "${T[@]}" --id m2m --audience https://api \
    --secret-file "$SG_TMP/m2m.secret"
sg_check "client list --json" sg_run 0 client list "${T[@]}" --json
sg_check "spa: public, its grants, its URIs exactly, PAR" eval '[ "$(jq_py "[(c[\"type\"], c[\"auth\"], c[\"grants\"], c[\"redirect_uris\"], c[\"require_par\"]) for c in d if c[\"client_id\"] == \"spa\"] == [(\"public\", \"none\", \"authorization_code refresh_token\", \"https://app.example/cb http://127.0.0.1:8123/cb com.example.app:/oauth2\", True)]")" = True ]'
sg_check "web-app: confidential, authorization_code refresh_token by default" eval '[ "$(jq_py "[(c[\"type\"], c[\"grants\"], c[\"redirect_uris\"]) for c in d if c[\"client_id\"] == \"web-app\"] == [(\"confidential\", \"authorization_code refresh_token\", \"http://localhost/cb http://[::1]:9000/cb?x=1\")]")" = True ]'
sg_check "m2m: client_credentials, no redirect URI" eval '[ "$(jq_py "[(c[\"type\"], c[\"grants\"], c[\"redirect_uris\"]) for c in d if c[\"client_id\"] == \"m2m\"] == [(\"confidential\", \"client_credentials\", \"\")]")" = True ]'
sg_check "client list (plain) shows type and grants" eval \
    'sg_run 0 client list "${T[@]}" && [[ $(grep "^spa " <<<"$SG_OUT") == *public*authorization_code* ]]'

bad_redirect() { # URI: refused with exit 2, no client made
    sg_run_err 2 "--redirect-uri" client add "${T[@]}" --id bad --type public --audience https://api \
        --redirect-uri "$1" || return 1
    ! in_store "'bad'" || { SG_DETAIL="client made"; return 1; }
}
sg_check "http to a non-loopback host refused" bad_redirect http://app.example/cb
sg_check "http to localhost.evil.example refused" bad_redirect http://localhost.evil.example/cb
sg_check "a fragment refused" bad_redirect 'https://app.example/cb#x'
sg_check "a relative URI refused" bad_redirect /cb
sg_check "a private-use scheme without a dot refused" bad_redirect myapp:/cb
sg_check "javascript: refused" bad_redirect 'javascript:alert(1)'
sg_check "userinfo refused" bad_redirect 'https://user@app.example/cb'
sg_check "public + client_credentials refused" sg_run_err 2 "client_credentials" client add "${T[@]}" \
    --id bad --type public --audience https://api --redirect-uri https://app.example/cb \
    --grant client_credentials
sg_check "authorization_code without a redirect URI refused" sg_run_err 2 "redirect-uri" client add \
    "${T[@]}" --id bad --audience https://api --grant authorization_code
sg_check "a public client without a redirect URI refused" sg_run 2 client add "${T[@]}" \
    --id bad --type public --audience https://api
sg_check "public + --secret-file refused" sg_run 2 client add "${T[@]}" --id bad --type public \
    --audience https://api --redirect-uri https://app.example/cb --secret-file "$SG_TMP/bad.secret"
sg_check "unknown grant refused" sg_run 2 client add "${T[@]}" --id bad --audience https://api \
    --grant password
sg_check "--type other refused" sg_run 2 client add "${T[@]}" --id bad --audience https://api --type x
sg_check "17 redirect URIs refused" eval 'args=(); for i in $(seq 17); do args+=(--redirect-uri "https://a.example/$i"); done; sg_run 2 client add "${T[@]}" --id bad --audience https://api "${args[@]}"'
sg_check "public client still needs --audience" sg_run 2 client add "${T[@]}" --id bad --type public \
    --redirect-uri https://app.example/cb

sg_done
