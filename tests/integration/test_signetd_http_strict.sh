#!/usr/bin/env bash
# signetd's HTTP strictness (issue 11), over real sockets on a random loopback
# port with the real signer: a security-relevant header sent twice, a header
# name with whitespace before its colon, Content-Length together with
# Transfer-Encoding (RFC 9112 §6.1), and %-encoded '/', '.', NUL or '\' in
# the path are refused with 400 (an unknown transfer coding with 501) before
# any endpoint runs: no signature, no rate-limit charge, no secret in the log.
# A legitimate token request on the same instance still works afterwards.
# Every check runs (a failure is counted, not fatal), so a run against a
# daemon without the checks lists each hole.
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"

port=$(free_port)
base=http://127.0.0.1:$port
iss=$base/t/acme
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$iss" >/dev/null || fail "signet init"
# A bucket of 3 that practically never refills: whatever a refusal charged
# would show at the end.
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
[tenant:acme]
rate_limit = 0.0001
rate_burst = 3
EOF
"$SIGNET_BIN" client add --state "$state" --tenant acme --id web --audience https://api.one \
  --secret-file "$work/web.secret" >/dev/null || fail "client add web"
S=$(cat "$work/web.secret")
good=$(printf 'web:%s' "$S" | base64 -w0)
bad=$(printf 'web:%s' "not-the-secret" | base64 -w0)

start_signetd "$state"
wait_http "$base/readyz"

failures=0
bad_check() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# raw NAME FORMAT ARGS...: sends printf FORMAT ARGS... as is on one
# connection and reads one answer:
# $code, $work/NAME.body, $work/NAME.hdr, and $closed (1 when the server
# closed the connection after the answer, 0 when it kept it open).
cat >"$work/raw.py" <<'PY'
import socket, sys
port, name = int(sys.argv[1]), sys.argv[2]
req = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(req)
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "000"
clen = 0
for l in lines[1:]:
    k, _, v = l.partition(":")
    if k.strip().lower() == "content-length":
        clen = int(v.strip())
try:
    while len(body) < clen:
        d = s.recv(65536)
        if not d:
            break
        body += d
except socket.timeout:
    pass
s.settimeout(2)
try:
    rest = s.recv(1)
    closed = 1 if rest == b"" else 0
except (socket.timeout, ConnectionResetError):
    closed = 0 if sys.exc_info()[0] is socket.timeout else 1
open(sys.argv[3] + ".hdr", "w").write(head.decode("latin-1"))
open(sys.argv[3] + ".body", "wb").write(body[:clen])
print(status, closed)
PY
raw() {
  local out
  local n=$1
  shift
  # shellcheck disable=SC2059 # the format is the caller's request template
  out=$(printf "$@" | $py "$work/raw.py" "$port" "$n" "$work/$n") || out="000 1"
  code=${out% *}
  closed=${out#* }
}
# req NAME CURL-ARGS...: $code, $work/NAME.body, $work/NAME.hdr
req() {
  local n=$1
  shift
  code=$(curl -s --http1.1 -o "$work/$n.body" -D "$work/$n.hdr" -w '%{http_code}' "$@") || code=000
}
# refused NAME STATUS WORD: the last answer has STATUS, an invalid_request
# body whose description mentions WORD (case-insensitively), and no token.
refused() {
  local n=$1 want=$2 word=$3
  if [ "$code" != "$want" ]; then
    bad_check "$n: HTTP $code, wanted $want: $(head -c 300 "$work/$n.body")"
    return 0
  fi
  if ! $py - "$work/$n.body" "$word" <<'PY'; then
import json, sys
d = json.load(open(sys.argv[1]))
# RFC 9449 §4.3: several DPoP proofs are invalid_dpop_proof (issue 12).
assert d["error"] == ("invalid_dpop_proof" if sys.argv[2] == "DPoP" else "invalid_request"), d
assert sys.argv[2].lower() in d["error_description"].lower(), d
assert "access_token" not in d
PY
    bad_check "$n: body $(head -c 300 "$work/$n.body")"
  fi
}

sigs0=$(count_signatures "$state")
form=grant_type=client_credentials
flen=${#form}

# ---- 1. a security-relevant header twice --------------------------------------
# Both orders: whichever copy signetd picked, a proxy may have picked the other.
req dup_auth -H "Authorization: Basic $good" -H "Authorization: Basic $bad" -d "$form" "$iss/token"
refused dup_auth 400 Authorization
req dup_auth2 -H "Authorization: Basic $bad" -H "Authorization: Basic $good" -d "$form" "$iss/token"
refused dup_auth2 400 Authorization
# The same name in another case is the same header (RFC 9110 §5.1).
req dup_auth_case -H "Authorization: Basic $good" -H "authorization: Basic $good" -d "$form" "$iss/token"
refused dup_auth_case 400 Authorization
req dup_dpop -u "web:$S" -H "DPoP: a.b.c" -H "DPoP: d.e.f" -d "$form" "$iss/token"
refused dup_dpop 400 DPoP
req dup_cookie -u "web:$S" -H "Cookie: a=1" -H "Cookie: b=2" -d "$form" "$iss/token"
refused dup_cookie 400 Cookie
# Also on an endpoint without a body.
req dup_get -H "Cookie: a=1" -H "Cookie: b=2" "$iss/jwks.json"
refused dup_get 400 Cookie
raw dup_ct 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
  "$good" "$flen" "$form"
refused dup_ct 400 Content-Type
raw dup_cl 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s' \
  "$good" "$flen" "$flen" "$form"
refused dup_cl 400 Content-Length
[ "$closed" = 1 ] || bad_check "dup_cl: the connection stayed open"
raw dup_host 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' \
  "$good" "$flen" "$form"
refused dup_host 400 Host
raw dup_te 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' \
  "$good" "$flen" "$form"
refused dup_te 400 Transfer-Encoding
# Whitespace before the colon (RFC 9112 §5.1): MHD keeps "Authorization " as
# a header of its own, a proxy may take it for a second Authorization.
raw ws_colon 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nAuthorization : Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' \
  "$good" "$bad" "$flen" "$form"
refused ws_colon 400 "header field name"

# ---- 2. Content-Length with Transfer-Encoding (RFC 9112 §6.1) -----------------
# The framing is ambiguous: refused, and the connection closed, so that no
# leftover byte is read as a next request.
raw clte 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' \
  "$good" "$flen" "$flen" "$form"
refused clte 400 Transfer-Encoding
[ "$closed" = 1 ] || bad_check "clte: the connection stayed open"
raw tecl 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' \
  "$good" "$flen" "$flen" "$form"
refused tecl 400 Transfer-Encoding
[ "$closed" = 1 ] || bad_check "tecl: the connection stayed open"
# A transfer coding signetd does not implement: 501 (RFC 9112 §6.1), closed.
raw te_gzip 'POST /t/acme/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: gzip\r\n\r\n%s' \
  "$good" "$form"
refused te_gzip 501 Transfer-Encoding
[ "$closed" = 1 ] || bad_check "te_gzip: the connection stayed open"

# ---- 3. the path is routed as sent; encoded '/', '.', NUL, '\' refused ----------
for p in '/t/acme%2Ftoken' '/t/acme%2ftoken' '/t%2Facme/token' '/t/acme/%2E%2E/acme/token' \
         '/t/acme/token%2e' '/t/acme/token%00' '/t/acme%5Ctoken' '/t/acme\token' \
         '/t/acme%2Fjwks.json'; do
  req path --path-as-is -u "web:$S" -d "$form" "$base$p"
  refused path 400 path
  [ "$code" = 400 ] || echo "  (path $p)" >&2
done
# Any other escape is not decoded for routing: no such endpoint.
for p in '/t/%61cme/token' '/t/acme/%74oken'; do
  req path404 --path-as-is -u "web:$S" -d "$form" "$base$p"
  [ "$code" = 404 ] || bad_check "path $p: HTTP $code, wanted 404: $(head -c 300 "$work/path404.body")"
done

# ---- nothing changed ------------------------------------------------------------
[ "$(count_signatures "$state")" = "$sigs0" ] ||
  bad_check "a refused request was signed ($sigs0 -> $(count_signatures "$state") signatures)"
# The bucket of 3 is whole: three tokens, then 429.
for i in 1 2 3; do
  req legit -u "web:$S" -d "$form" "$iss/token"
  if [ "$code" != 200 ] || ! grep -q access_token "$work/legit.body"; then
    bad_check "legit token request $i after the refusals: HTTP $code $(head -c 300 "$work/legit.body")"
  fi
done
req legit4 -u "web:$S" -d "$form" "$iss/token"
[ "$code" = 429 ] || bad_check "4th token request: HTTP $code, wanted 429 (bucket of 3)"
req health "$base/healthz"
[ "$code" = 200 ] || bad_check "healthz after the refusals: HTTP $code"

# The refusals are logged, by header name; no credential is.
grep -q 'header=Authorization' "$work/signetd.log" || bad_check "no log line names the duplicated Authorization"
for secret in "$S" "$good" "$bad" "a.b.c" "evil.example"; do
  if grep -qF -- "$secret" "$work/signetd.log"; then bad_check "the log holds a header value ($secret)"; fi
done

stop_signetd || fail "signetd did not stop cleanly"
[ "$failures" = 0 ] || fail "$failures check(s) failed"
echo "PASS"
