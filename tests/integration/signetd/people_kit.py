#!/usr/bin/env python3
"""What the people tests share (tests/integration/signetd/people_attacks.py,
people_mfa.py): a browser of their own (a cookie jar kept by hand: the
__Host- cookies are Secure and signetd is plain http on localhost), the
pages' <main id="signet" data-*> attributes, JSON bodies with an Origin
header, WebAuthn ceremonies answered by softauthn.py, the CLI, the front
store read-only, and the checks ("ok: ..." / "FAIL: ...").

Environment: SIGNET_PORT, SIGNET_ISS, SIGNET_ISS2 (optional), SIGNET_BIN,
SIGNET_STATE, SIGNET_LOG, SIGNET_CLOCK, HELPERS.
"""

import hashlib
import html
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ["HELPERS"])
import softauthn  # noqa: E402
from softauthn import SoftAuthenticator, b64u, cbor_decode, cbor_encode, unb64u  # noqa: E402

PORT = int(os.environ["SIGNET_PORT"])
ISS = os.environ["SIGNET_ISS"]
ISS2 = os.environ.get("SIGNET_ISS2", "")
SIGNET = os.environ["SIGNET_BIN"]
STATE = os.environ["SIGNET_STATE"]
LOG = os.environ["SIGNET_LOG"]
CLOCK = os.environ["SIGNET_CLOCK"]
HOSTPORT = "localhost:%d" % PORT
ORIGIN = "http://localhost:%d" % PORT
T = "/t/default"
T2 = "/t/two"
COOKIE = "__Host-signet-default"
CSRF_COOKIE = "__Host-signet-csrf"
R1 = "http://localhost:9/cb"
R2 = "https://app.example/cb"

failures = []


def check(name, cond, detail=""):
    if cond:
        print("ok: %s" % name)
    else:
        print("FAIL: %s%s" % (name, (": " + str(detail)[:600]) if detail else ""))
        failures.append(name)
    sys.stdout.flush()
    return bool(cond)


# ---- HTTP and the browser ------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.set_cookies = {}

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    def __repr__(self):
        return "HTTP %d %s %s" % (self.status, self.header("Location") or "", self.text[:300])


def raw_request(method, path, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
    h = {"Host": HOSTPORT}
    for k, v in (headers or {}).items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    if chunked:
        conn.request(method, path, body=iter([body]), headers=h, encode_chunked=True)
    else:
        conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    out = Resp(r.status, r.getheaders(), data)
    conn.close()
    return out


class Browser:
    """Cookies by hand (name -> value), every request to localhost:PORT."""

    def __init__(self):
        self.cookies = {}

    def request(self, method, path, body=None, ctype=None, origin=None, headers=None,
                chunked=False):
        h = {}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if body is not None:
            h["Content-Type"] = ctype
        if origin is not None:
            h["Origin"] = origin
        h.update(headers or {})
        r = raw_request(method, path, body, h, chunked)
        for k, v in r.headers:
            if k.lower() != "set-cookie":
                continue
            first = v.split(";")[0]
            name, _, value = first.partition("=")
            name, value = name.strip(), value.strip()
            r.set_cookies[name] = v
            if re.search(r";\s*max-age=0\b", v, re.I) or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post_json(self, path, obj, origin=ORIGIN, headers=None):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return self.request("POST", path, body, "application/json", origin=origin,
                            headers=headers)


def page_data(text):
    m = re.search(r'<main\b[^>]*\bid="signet"[^>]*>', text)
    if not m:
        return {}
    return {k: html.unescape(v) for k, v in re.findall(r'\bdata-([a-z0-9-]+)="([^"]*)"',
                                                        m.group(0))}


def csrf_of(b, path=T + "/signin"):
    return page_data(b.get(path).text).get("csrf", "")


def is_err(r, status, code=None, words=None):
    """(ok, detail): r is status with JSON error code (and a description
    containing words, case-insensitive)."""
    d = r.json()
    codes = code if isinstance(code, (tuple, list)) else (code,)
    ok = r.status == status and (code is None or d.get("error") in codes)
    if ok and words:
        desc = d.get("error_description", "").lower()
        ok = all(w.lower() in desc for w in ([words] if isinstance(words, str) else words))
    return ok, repr(r)


def expect(name, r, status, code=None, words=None):
    ok, detail = is_err(r, status, code, words)
    return check(name, ok, detail)


def is_page(r, status):
    ct = (r.header("Content-Type") or "").lower()
    return r.status == status and ct.startswith("text/html") and r.header("Location") is None


# ---- the command line -------------------------------------------------------------

def cli(*args, tenant="default"):
    p = subprocess.run([SIGNET, *args, "--state", STATE, "--tenant", tenant],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def user_show(name):
    rc, out, err = cli("user", "show", "--name", name, "--json")
    if rc != 0:
        raise RuntimeError("user show %s: %s" % (name, err))
    return json.loads(out)


def session_sids(user=None):
    args = ["session", "list", "--json"] + (["--user", user] if user else [])
    rc, out, err = cli(*args)
    if rc != 0:
        raise RuntimeError("session list: %s" % err)
    return sorted(s["sid"] for s in json.loads(out))


def snapshot():
    """What an attack must not change: every user's passkeys (with their
    sign counts) and the live sessions."""
    out = {}
    for n in ("alice", "bob"):
        u = user_show(n)
        out[n] = (len(u["passkeys"]), sorted(p.get("sign_count", 0) for p in u["passkeys"]))
    out["sessions"] = session_sids()
    return out


def unchanged(name, before):
    after = snapshot()
    return check(name + ": nothing changed (passkeys, sessions)", after == before,
                 "before %s after %s" % (before, after))


def store_counts():
    """Rows of the front store's people tables (read-only, beside signetd)."""
    import sqlite3
    db = sqlite3.connect("file:%s/front/signet.db?mode=ro" % STATE, uri=True, timeout=5)
    try:
        return {t: db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                for t in ("authreqs", "codes", "sessions", "refresh_tokens", "passkeys")}
    finally:
        db.close()


def log_text():
    with open(LOG, encoding="utf-8", errors="replace") as f:
        return f.read()


# ---- ceremonies --------------------------------------------------------------------

def options(b, csrf, purpose, **kw):
    body = {"purpose": purpose, "csrf": csrf}
    body.update(kw)
    return b.post_json(T + "/webauthn/options", body)


def public_key(r):
    pk = r.json().get("publicKey")
    if r.status != 200 or not pk:
        raise RuntimeError("webauthn/options: %r" % r)
    return pk


def enrol_page(b, token):
    r = b.get(T + "/enrol?token=" + token)
    return r, page_data(r.text)


def enrol_options(b, csrf, token):
    return public_key(options(b, csrf, "enrol", token=token))


def enrol_post(b, csrf, token, cred, origin=ORIGIN):
    return b.post_json(T + "/enrol", {"token": token, "csrf": csrf, "credential": cred},
                       origin=origin)


def signin_options(b, csrf, req=""):
    return public_key(options(b, csrf, "signin", req=req))


def signin_post(b, csrf, cred, req="", origin=ORIGIN):
    return b.post_json(T + "/signin", {"req": req, "csrf": csrf, "credential": cred},
                       origin=origin)


def signin(b, auth, req=""):
    csrf = csrf_of(b, T + "/signin" + ("?req=" + req if req else ""))
    o = signin_options(b, csrf, req)
    return signin_post(b, csrf, auth.get_assertion(o), req)


def with_fmt(cred, fmt):
    """The registration with another attestation format (same authData)."""
    att, _ = cbor_decode(unb64u(cred["response"]["attestationObject"]))
    att["fmt"] = fmt
    out = json.loads(json.dumps(cred))
    out["response"]["attestationObject"] = b64u(cbor_encode(att))
    return out


def resigned(auth, asr, other_data):
    """The assertion with a valid signature by its key over other bytes."""
    cred = next(c for c in auth.credentials if b64u(c.cred_id) == asr["rawId"])
    out = json.loads(json.dumps(asr))
    ad = unb64u(asr["response"]["authenticatorData"])
    out["response"]["signature"] = b64u(softauthn.sign(cred.key, cred.alg, ad + other_data))
    return out


def pkce():
    v = b64u(os.urandom(32))
    return v, b64u(hashlib.sha256(v.encode()).digest())


def qs(params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")


def authorize(b, params, base=T):
    return b.get(base + "/authorize?" + (params if isinstance(params, str) else qs(params)))


def auth_params(client="webapp", redirect=R1, challenge=None, **extra):
    p = {"response_type": "code", "client_id": client, "redirect_uri": redirect,
         "scope": "openid api.read", "state": "st-" + b64u(os.urandom(6)),
         "nonce": b64u(os.urandom(8))}
    if challenge is not None:
        p["code_challenge"] = challenge
        p["code_challenge_method"] = "S256"
    p.update(extra)
    return {k: v for k, v in p.items() if v is not None}


def redirect_params(location, redirect):
    """The query of a redirect to the client, or None when it goes elsewhere."""
    if location is None or not location.startswith(redirect + "?"):
        return None
    return dict(urllib.parse.parse_qsl(location[len(redirect) + 1:], keep_blank_values=True))


def code_flow(b, auth=None, client="webapp", redirect=R1, base=T, **extra):
    """The authorization request for b (signing in with auth when asked to):
    (code, verifier, params of the redirect), or raises."""
    v, c = pkce()
    p = auth_params(client, redirect, c, **extra)
    r = authorize(b, p, base)
    loc = r.header("Location") or ""
    if r.status == 303 and auth is not None and "/signin?req=" in loc:
        req = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["req"][0]
        r2 = signin(b, auth, req)
        loc = r2.json().get("location")
        if r2.status != 200:
            raise RuntimeError("sign-in for the code: %r" % r2)
    elif r.status != 302:
        raise RuntimeError("authorize: %r" % r)
    q = redirect_params(loc, redirect)
    if q is None or "code" not in q:
        raise RuntimeError("no code in %r" % loc)
    if q.get("state") != p["state"]:
        raise RuntimeError("state not echoed: %r" % loc)
    return q["code"], v, q


def token(form, base=T):
    return raw_request("POST", base + "/token", qs(form).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"})


def redeem(code, verifier, client="webapp", redirect=R1, base=T, **drop):
    f = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
         "code_verifier": verifier, "client_id": client}
    for k in drop:
        f.pop(k, None)
    return token(f, base)


def refresh(rt, client="webapp"):
    return token({"grant_type": "refresh_token", "refresh_token": rt, "client_id": client})


def section(title):
    print("--- %s" % title)
    sys.stdout.flush()


def run(name, fn, *args):
    """One section; an exception (a step that could not run, signetd gone)
    is one failed check and the next section still runs."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check("%s ran to its end" % name, False, "%s: %s" % (type(e).__name__, e))
        return None
