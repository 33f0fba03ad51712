#!/usr/bin/env python3
"""People for the issuance benchmark (issue 13): passkey enrolment, sign-in
ceremonies per second, and the authorization requests whose codes the
authorization_code row of bench/issuance/run.sh exchanges.

This program plays the browser (cookies by hand: the __Host- cookies are
Secure and signetd is plain http on 127.0.0.1; the JSON bodies carry the
issuer's Origin and the page's CSRF token) and answers the WebAuthn
ceremonies with the software authenticator of the integration tests,
tests/integration/signetd/softauthn.py (imported, not copied).

  people.py enrol --base URL --auth FILE LINK...
      registers one passkey per enrolment link (one person each) and keeps
      the authenticators (their private keys and sign counters) in FILE
  people.py session --base URL --auth FILE
      one sign-in with the last passkey of FILE; prints the session cookie
  people.py authz --base URL --n N --client ID --redirect URI --scope S --out FILE
      N authorization request paths, each with its own PKCE verifier and
      challenge (S256), state and nonce: "path<TAB>state<TAB>verifier" per
      line, for bench/issuance/mint.lua
  people.py ceremonies --base URL --auth FILE --workers W --seconds S
      W processes, each with its own keep-alive connection, CSRF cookie and
      passkey (one person each), doing sign-in ceremonies for S seconds: POST
      /webauthn/options (purpose signin: a fresh server challenge), the
      assertion over it (an ES256 signature, made per ceremony: the
      challenge is single use), POST /signin, which must answer 200 and set
      the session cookie. Prints one line:
        CEREMONIES ok bad sockerr p50_us p99_us seconds driver_cpu_s sign_cpu_s statuses
  people.py assertions --workers W --seconds S
      the driver alone, no server: W processes making assertions over random
      challenges and the /signin bodies around them, exactly the ceremony
      driver's per-ceremony client work but HTTP. Prints:
        ASSERTIONS n seconds
"""

import hashlib
import html
import http.client
import json
import multiprocessing
import os
import re
import resource
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the tests' tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration", "signetd"))
from softauthn import SoftAuthenticator, b64u  # noqa: E402


class Base:
    """The tenant's base URL, http://127.0.0.1:PORT/t/T: its origin (the
    WebAuthn origin), RP ID (the host) and path prefix."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host = u.hostname
        self.port = u.port or 80
        self.origin = "%s://%s" % (u.scheme, u.netloc)
        self.path = u.path.rstrip("/")
        self.cookie_name = "__Host-signet-" + self.path.rsplit("/", 1)[-1]


class Browser:
    """One keep-alive connection and a cookie jar (name -> value)."""

    def __init__(self, base):
        self.base = base
        self.conn = http.client.HTTPConnection(base.host, base.port, timeout=30)
        self.cookies = {}

    def request(self, method, path, body=None, ctype=None, origin=False):
        h = {}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if body is not None:
            h["Content-Type"] = ctype
        if origin:
            h["Origin"] = self.base.origin
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the next request opens a new connection
            raise
        set_cookies = []
        for k, v in r.getheaders():
            if k.lower() != "set-cookie":
                continue
            name, _, value = v.split(";")[0].partition("=")
            name, value = name.strip(), value.strip()
            set_cookies.append(name)
            if re.search(r";\s*max-age=0\b", v, re.I) or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r.status, r.getheader("Location"), data, set_cookies

    def post_json(self, path, obj):
        return self.request("POST", self.base.path + path, json.dumps(obj).encode(),
                            "application/json", origin=True)

    def csrf(self, path="/signin"):
        """The page's CSRF token (its CSRF cookie lands in the jar)."""
        st, _, data, _ = self.request("GET", self.base.path + path)
        m = re.search(r'<main\b[^>]*\bdata-csrf="([^"]*)"', data.decode("utf-8", "replace"))
        if st != 200 or not m:
            raise RuntimeError("GET %s: HTTP %d, no data-csrf" % (path, st))
        return html.unescape(m.group(1))


def public_key(st, data, what):
    if st != 200:
        raise RuntimeError("%s: HTTP %d %s" % (what, st, data[:300]))
    return json.loads(data)["publicKey"]


def load_auths(path):
    with open(path, encoding="utf-8") as f:
        return [SoftAuthenticator.from_json(d) for d in json.load(f)]


def save_auths(path, auths):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private keys
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump([a if isinstance(a, dict) else a.to_json() for a in auths], f)
    os.replace(tmp, path)


def signin(b, auth, csrf, req=""):
    st, _, data, _ = b.post_json("/webauthn/options", {"purpose": "signin", "csrf": csrf,
                                                       "req": req})
    asr = auth.get_assertion(public_key(st, data, "signin options"))
    return b.post_json("/signin", {"req": req, "csrf": csrf, "credential": asr})


# ---- commands ---------------------------------------------------------------------

def cmd_enrol(args):
    base = Base(args.base)
    auths = []
    for link in args.links:
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
        b = Browser(base)
        csrf = b.csrf("/enrol?token=" + token)
        st, _, data, _ = b.post_json("/webauthn/options", {"purpose": "enrol", "csrf": csrf,
                                                           "token": token})
        a = SoftAuthenticator(base.host, base.origin)
        cred = a.make_credential(public_key(st, data, "enrol options"))
        st, _, data, _ = b.post_json("/enrol", {"token": token, "csrf": csrf, "credential": cred})
        if st != 200:
            raise RuntimeError("enrol: HTTP %d %s" % (st, data[:300]))
        auths.append(a)
    save_auths(args.auth, auths)
    return 0


def cmd_session(args):
    base = Base(args.base)
    auths = load_auths(args.auth)
    b = Browser(base)
    st, _, data, set_cookies = signin(b, auths[-1], b.csrf())
    save_auths(args.auth, auths)  # the sign counter went up
    if st != 200 or base.cookie_name not in set_cookies:
        raise RuntimeError("sign-in: HTTP %d %s" % (st, data[:300]))
    print("%s=%s" % (base.cookie_name, b.cookies[base.cookie_name]))
    return 0


def cmd_authz(args):
    base = Base(args.base)
    with open(args.out, "w", encoding="ascii") as f:
        for i in range(args.n):
            v = b64u(os.urandom(32))
            state = "s%d" % i
            q = urllib.parse.urlencode({
                "response_type": "code", "client_id": args.client, "redirect_uri": args.redirect,
                "scope": args.scope, "state": state, "nonce": b64u(os.urandom(12)),
                "code_challenge": b64u(hashlib.sha256(v.encode()).digest()),
                "code_challenge_method": "S256"}, quote_via=urllib.parse.quote, safe="")
            f.write("%s/authorize?%s\t%s\t%s\n" % (base.path, q, state, v))
    return 0


def pct(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100.0))]


def ceremony_worker(idx, base_url, auth_json, start_at, seconds, out):
    base = Base(base_url)
    auth = SoftAuthenticator.from_json(auth_json)
    b = Browser(base)
    csrf = b.csrf()
    keep = dict(b.cookies)  # the CSRF cookie; each sign-in's session cookie is dropped
    ok = sockerr = 0
    bad = {}
    lat = []
    sign_s = 0.0
    while time.time() < start_at:
        time.sleep(0.001)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t_end = start_at + seconds
    last = time.time()
    while last < t_end:
        t0 = time.perf_counter()
        try:
            st, _, data, _ = b.post_json("/webauthn/options", {"purpose": "signin", "csrf": csrf,
                                                               "req": ""})
            if st != 200:
                bad[st] = bad.get(st, 0) + 1
                last = time.time()
                continue
            ts = time.process_time()
            asr = auth.get_assertion(json.loads(data)["publicKey"])
            body = json.dumps({"req": "", "csrf": csrf, "credential": asr}).encode()
            sign_s += time.process_time() - ts
            st, _, data, set_cookies = b.request("POST", base.path + "/signin", body,
                                                 "application/json", origin=True)
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            sockerr += 1
            last = time.time()
            continue
        last = time.time()
        if st == 200 and base.cookie_name in set_cookies:
            ok += 1
            lat.append(time.perf_counter() - t0)
        else:
            code = st if st != 200 else "200-no-session"
            bad[code] = bad.get(code, 0) + 1
        b.cookies = dict(keep)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    out.put({"idx": idx, "ok": ok, "bad": bad, "sockerr": sockerr, "lat": lat, "end": last, "cpu": cpu,
             "sign": sign_s, "auth": auth.to_json()})


def guarded(target, args, out):
    """A worker that fails still answers, with why."""
    try:
        target(*args, out)
    except Exception as e:  # noqa: BLE001 (reported to the parent, which fails)
        out.put({"error": "%s: %s" % (type(e).__name__, e)})


def run_workers(target, argsets, seconds):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=guarded, args=(target, a, q)) for a in argsets]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("%d worker(s) failed: %s" % (len(errors), errors[0]))
    return results


def cmd_ceremonies(args):
    auths = load_auths(args.auth)
    if len(auths) < args.workers:
        raise RuntimeError("%d workers need %d passkeys, %s has %d" % (
            args.workers, args.workers, args.auth, len(auths)))
    start_at = time.time() + 0.5 + 0.05 * args.workers  # every worker has its connection by then
    res = run_workers(ceremony_worker, [(i, args.base, auths[i].to_json(), start_at,
                                         args.seconds) for i in range(args.workers)], args.seconds)
    # Each worker's passkey back in its place (its sign counter went up).
    out = [a.to_json() for a in auths]
    for r in res:
        out[r["idx"]] = r["auth"]
    save_auths(args.auth, out)
    ok = sum(r["ok"] for r in res)
    sockerr = sum(r["sockerr"] for r in res)
    bad = {}
    for r in res:
        for k, v in r["bad"].items():
            bad[k] = bad.get(k, 0) + v
    lat = sorted(x for r in res for x in r["lat"])
    secs = max(r["end"] for r in res) - start_at
    statuses = ",".join("%s:%d" % kv for kv in sorted(bad.items(), key=str)) or "none"
    print("CEREMONIES %d %d %d %d %d %.3f %.3f %.3f %s" % (
        ok, sum(bad.values()), sockerr, pct(lat, 50) * 1e6, pct(lat, 99) * 1e6, secs,
        sum(r["cpu"] for r in res), sum(r["sign"] for r in res), statuses))
    return 0


def assertion_worker(auth_json, start_at, seconds, out):
    """The ceremony worker's client work without the server: parse an
    options answer, make the assertion, encode the /signin body."""
    auth = SoftAuthenticator.from_json(auth_json)
    rp = auth.rp_id
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    t_end = start_at + seconds
    now = time.time()
    while now < t_end:
        answer = json.dumps({"publicKey": {"challenge": b64u(os.urandom(32)), "rpId": rp,
                                           "timeout": 300000, "userVerification": "required",
                                           "allowCredentials": []}}).encode()
        asr = auth.get_assertion(json.loads(answer)["publicKey"])
        json.dumps({"req": "", "csrf": "x" * 43, "credential": asr}).encode()
        n += 1
        now = time.time()
    out.put({"n": n, "end": now})


def cmd_assertions(args):
    a = SoftAuthenticator("127.0.0.1", "http://127.0.0.1:9")
    a.make_credential({"challenge": b64u(os.urandom(32)), "rp": {"id": "127.0.0.1"},
                       "user": {"id": b64u(b"driver"), "name": "d", "displayName": "d"}})
    start_at = time.time() + 0.3 + 0.05 * args.workers
    res = run_workers(assertion_worker, [(a.to_json(), start_at, args.seconds)
                                         for _ in range(args.workers)], args.seconds)
    print("ASSERTIONS %d %.3f" % (sum(r["n"] for r in res), max(r["end"] for r in res) - start_at))
    return 0


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("enrol")
    p.add_argument("--base", required=True)
    p.add_argument("--auth", required=True)
    p.add_argument("links", nargs="+")
    p = sub.add_parser("session")
    p.add_argument("--base", required=True)
    p.add_argument("--auth", required=True)
    p = sub.add_parser("authz")
    p.add_argument("--base", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--redirect", required=True)
    p.add_argument("--scope", default="openid")
    p.add_argument("--out", required=True)
    p = sub.add_parser("ceremonies")
    p.add_argument("--base", required=True)
    p.add_argument("--auth", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, required=True)
    p = sub.add_parser("assertions")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args(argv)
    return {"enrol": cmd_enrol, "session": cmd_session, "authz": cmd_authz,
            "ceremonies": cmd_ceremonies, "assertions": cmd_assertions}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
