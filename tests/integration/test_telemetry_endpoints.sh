#!/usr/bin/env bash
# signetd's telemetry endpoints over real HTTP: GET /metrics (parsed
# strictly here and by `promtool check metrics`; every family the issue
# lists is present and moves), GET /status.json, GET /status (headers, no
# script; the trust boundary: enforced when run as root, where signetd splits
# the front end and the signers into two accounts), and POST
# /t/<tenant>/reports: client authentication like the
# token endpoint (401), the signet:report scope (403), method (405),
# Content-Type (415), body limits (413) and malformed bodies (400).
set -euo pipefail
source "$(dirname "$0")/signetd/lib.sh"
source "$(dirname "$0")/telemetry/lib.sh"

port=$(free_port)
base=http://127.0.0.1:$port
state=$work/state
"$SIGNET_BIN" init --state "$state" --issuer "$base/t/a" --issuer "$base/t/b" >/dev/null || fail "signet init"
cat >>"$state/signet.conf" <<EOF
[server]
listen = 127.0.0.1:$port
[invariants]
interval = 1s
EOF
"$SIGNET_BIN" client add --state "$state" --tenant a --id web --scope read --audience https://api.a \
  --secret-file "$work/web.secret" >/dev/null || fail "client web"
"$SIGNET_BIN" client add --state "$state" --tenant a --id rp --scope "signet:report" --audience https://rp.a \
  --secret-file "$work/rp.secret" >/dev/null || fail "client rp"
start_signetd "$state"
wait_http "$base/readyz"
wait_states "$tbase" "$all_ok" 15

W=$(cat "$work/web.secret") R=$(cat "$work/rp.secret")
tok() { curl -s -o "$work/tok.json" -w '%{http_code}' "$@" "$base/t/a/token"; }
[ "$(tok -u "web:$W" -d grant_type=client_credentials)" = 200 ] || fail "token"
T=$(json_get "$work/tok.json" 'd["access_token"]')
[ "$(tok -u "web:wrong" -d grant_type=client_credentials)" = 401 ] || fail "bad secret"
[ "$(tok -u "web:$W" -d grant_type=client_credentials -d scope=nope)" = 400 ] || fail "bad scope"

# ---- reports ------------------------------------------------------------------
$py "$tm_helpers/tokens.py" report "$T" >"$work/r.json"
rep() { # rep BODYFILE [curl args]: status code, body in $work/rep.out
  local body=$1
  shift
  curl -s -o "$work/rep.out" -D "$work/rep.hdr" -w '%{http_code}' "$@" --data-binary "@$body" "$base/t/a/reports"
}
J=(-H 'Content-Type: application/json')
[ "$(rep "$work/r.json" -u "rp:$R" "${J[@]}")" = 200 ] || fail "report: $(cat "$work/rep.out")"
[ "$(json_get "$work/rep.out" 'd["results"]')" = "['issued']" ] || fail "verdict: $(cat "$work/rep.out")"
[ "$(json_get "$work/rep.out" 'd["counts"]')" = "{'issued': 1}" ] || fail "counts: $(cat "$work/rep.out")"
code=$(rep "$work/r.json" "${J[@]}"); [ "$code" = 401 ] || fail "no credentials: $code"
grep -qi '^WWW-Authenticate: Basic' "$work/rep.hdr" || fail "401 without a challenge"
code=$(rep "$work/r.json" -u "rp:wrong" "${J[@]}"); [ "$code" = 401 ] || fail "wrong secret: $code"
code=$(rep "$work/r.json" -u "nobody:$R" "${J[@]}"); [ "$code" = 401 ] || fail "unknown client: $code"
code=$(rep "$work/r.json" -u "web:$W" "${J[@]}"); [ "$code" = 403 ] || fail "client without signet:report: $code"
[ "$(json_get "$work/rep.out" 'd["error"]')" = insufficient_scope ] || fail "403 error code"
code=$(rep "$work/r.json" -u "rp:$R" -H 'Content-Type: text/plain'); [ "$code" = 415 ] || fail "content type: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "rp:$R" "$base/t/a/reports"); [ "$code" = 405 ] || fail "GET: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "rp:$R" "${J[@]}" --data-binary "@$work/r.json" "$base/t/nope/reports")
[ "$code" = 404 ] || fail "unknown tenant: $code"
printf '{"reports":[{"iss":"x"}]}' >"$work/bad.json"
code=$(rep "$work/bad.json" -u "rp:$R" "${J[@]}"); [ "$code" = 400 ] || fail "malformed: $code"
printf '{"reports":[],"reports":[]}' >"$work/dup.json"
code=$(rep "$work/dup.json" -u "rp:$R" "${J[@]}"); [ "$code" = 400 ] || fail "duplicate member: $code"
$py - "$work/many.json" 1001 <<'PY'
import json, sys
item = {"iss": "i", "kid": "k", "jti": "j", "token_sha256": "0" * 64}
json.dump({"reports": [item] * int(sys.argv[2])}, open(sys.argv[1], "w"))
PY
code=$(rep "$work/many.json" -u "rp:$R" "${J[@]}"); [ "$code" = 413 ] || fail "1001 reports: $code"
head -c 300000 /dev/zero | tr '\0' ' ' >"$work/huge.json"
code=$(rep "$work/huge.json" -u "rp:$R" "${J[@]}"); [ "$code" = 413 ] || fail "300 KB body: $code"
# A client that fails authentication never gets its body read.
code=$(rep "$work/huge.json" -u "rp:wrong" "${J[@]}"); [ "$code" = 401 ] || [ "$code" = 413 ] || fail "unauthenticated huge body: $code"

# ---- /status.json and /status ---------------------------------------------------------
curl -fsS -D "$work/st.hdr" "$tbase/status.json" >"$work/st.json" || fail "/status.json"
[ "$(json_get "$work/st.json" 'len(d["invariants"])')" = 10 ] || fail "/status.json invariants"
[ "$(json_get "$work/st.json" 'd["audit"]["broken"]')" = "" ] || fail "/status.json audit"
if [ "$(id -u)" = 0 ]; then
  boundary=enforced enforced=True
else
  boundary="not enforced (single account)" enforced=False
fi
[ "$(json_get "$work/st.json" 'd["trust_boundary"]["enforced"]')" = "$enforced" ] ||
  fail "/status.json trust_boundary: $(json_get "$work/st.json" 'd["trust_boundary"]')"
[ "$(json_get "$work/st.json" 'd["trust_boundary"]["text"]')" = "$boundary" ] || fail "trust_boundary text"
fe_uid=$(json_get "$work/st.json" 'd["trust_boundary"]["front_end"]["uid"]')
if [ "$(id -u)" = 0 ]; then
  [ "$fe_uid" = "$(id -u signet)" ] || fail "front end uid $fe_uid, not signet's"
else
  [ "$fe_uid" = "$(id -u)" ] || fail "front end uid $fe_uid"
fi
[ "$(json_get "$work/st.json" 'len(d["trust_boundary"]["signers"])')" -ge 1 ] || fail "trust_boundary signers"
if sandbox_built; then
  [ "$(json_get "$work/st.json" '[d["trust_boundary"]["front_end"][k] for k in ("sandboxed", "seccomp", "no_new_privs", "caps_dropped", "dumpable")]')" = \
    "[True, True, True, True, False]" ] || fail "front end sandbox: $(json_get "$work/st.json" 'd["trust_boundary"]["front_end"]')"
  [ "$(json_get "$work/st.json" 'all(s["seccomp"] and s["no_new_privs"] and not s["dumpable"] for s in d["trust_boundary"]["signers"])')" = True ] ||
    fail "signers' sandbox: $(json_get "$work/st.json" 'd["trust_boundary"]["signers"]')"
fi
curl -fsS -D "$work/page.hdr" "$tbase/status" >"$work/page.html" || fail "/status"
grep -qi '^Content-Type: text/html; charset=utf-8' "$work/page.hdr" || fail "/status content type"
grep -qi "^Content-Security-Policy: default-src 'none'" "$work/page.hdr" || fail "/status CSP header"
grep -q '<svg class="timeline"' "$work/page.html" || fail "no SVG timeline"
[ "$(grep -o '<tr class="inv ok" id="inv-I[1-8]"' "$work/page.html" | wc -l)" -ge 7 ] || fail "invariant rows"
grep -qi '<script' "$work/page.html" && fail "script in the status page"
grep -q "Trust boundary: $boundary</h2>" "$work/page.html" || fail "/status lacks 'Trust boundary: $boundary'"
grep -q '<tr id="sandbox-front"><td class="nw">front end (uid '"$fe_uid"')</td>' "$work/page.html" ||
  fail "/status lacks the front end's sandbox row"
grep -q '<tr id="sandbox-signer-0">' "$work/page.html" || fail "/status lacks the signers' sandbox rows"
grep -q "trust_boundary=\"$boundary\"" "$work/signetd.log" || fail "the log does not state the trust boundary"

# ---- /metrics ---------------------------------------------------------------------------
sleep 1.2 # one more monitor cycle: key and HSM gauges
curl -fsS -D "$work/m.hdr" "$tbase/metrics" >"$work/metrics.txt" || fail "/metrics"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$work/m.hdr" || fail "/metrics content type"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.out" 2>&1 ||
  fail "promtool check metrics: $(cat "$work/promtool.out")"
if sandbox_built; then built=1; else built=0; fi
$py - "$work/metrics.txt" "$built" <<'PY' || fail "metrics content"
import os, re, sys
text = open(sys.argv[1]).read()
sandbox_built = sys.argv[2] == "1"
types, samples = {}, {}
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$')
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ")
        types[name] = typ
    elif line.startswith("# HELP ") or not line:
        continue
    else:
        m = line_re.match(line)
        assert m, "bad sample line: %r" % line
        samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
def val(name, labels=None):
    got = [v for l, v in samples.get(name, []) if labels is None or all(x in l for x in labels)]
    assert got, "no sample of %s %s" % (name, labels or "")
    return sum(got)
want = {
    "signet_tokens_issued_total": "counter", "signet_sign_duration_seconds": "histogram",
    "signet_http_requests_total": "counter", "signet_keys": "gauge",
    "signet_key_age_seconds": "gauge", "signet_next_transition_seconds": "gauge",
    "signet_hsm_errors_total": "counter", "signet_hsm_session_reopens_total": "counter",
    "signet_audit_write_duration_seconds": "histogram", "signet_invariant_ok": "gauge",
    "signet_invariant_violations_total": "counter",
    "signet_invariant_last_check_timestamp_seconds": "gauge",
    "signet_reports_received_total": "counter", "signet_forged_tokens_total": "counter",
    "signet_reported_tokens_total": "counter", "signet_trust_boundary_enforced": "gauge",
    "signet_frontend_sandbox": "gauge",
}
for name, typ in want.items():
    assert types.get(name) == typ, "%s: TYPE %s" % (name, types.get(name))
assert val("signet_tokens_issued_total", ['tenant="a"', 'result="ok"']) == 1
assert val("signet_tokens_issued_total", ['result="invalid_client"']) == 1
assert val("signet_tokens_issued_total", ['result="invalid_scope"']) == 1
assert val("signet_sign_duration_seconds_count") == 1
assert val("signet_http_requests_total", ['endpoint="/t/{tenant}/token"', 'status="200"']) == 1
assert val("signet_http_requests_total", ['endpoint="/t/{tenant}/reports"', 'status="401"']) >= 3
assert val("signet_http_requests_total", ['endpoint="/status.json"']) >= 1
assert not any("/t/a/" in l or "nope" in l for l, _ in samples["signet_http_requests_total"]), \
    "raw paths in endpoint labels"
assert val("signet_keys", ['state="ACTIVE"']) == 2
assert val("signet_keys", ['state="PUBLISHED"']) == 2
assert len(samples["signet_key_age_seconds"]) == 4
assert val("signet_next_transition_seconds") > 0
assert val("signet_hsm_errors_total") == 0
assert val("signet_invariant_ok", ['invariant="I1"']) == 1
assert val("signet_invariant_violations_total") == 0
assert val("signet_reports_received_total", ['tenant="a"']) == 1
assert val("signet_reported_tokens_total", ['result="issued"']) == 1
assert val("signet_forged_tokens_total", ['tenant="a"']) == 0
assert val("signet_trust_boundary_enforced") == (1 if os.getuid() == 0 else 0)
if sandbox_built:
    for feat in ("seccomp", "no_new_privs", "caps_dropped"):
        assert val("signet_frontend_sandbox", ['feature="%s"' % feat]) == 1, feat
print("metrics: %d families, %d samples" % (len(types), sum(len(v) for v in samples.values())))
PY
stop_signetd || fail "signetd exit status after SIGTERM"
grep -q 'AddressSanitizer\|runtime error' "$work/signetd.log" && fail "sanitizer report"
echo "telemetry endpoints: OK"
