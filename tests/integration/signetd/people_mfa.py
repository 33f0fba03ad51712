#!/usr/bin/env python3
"""Second steps after a password (issue 14, docs/people.md), against a real
signetd and signer: number-matching approvals answered by the real
`signet-authenticator` program, TOTP codes made by Debian's `oathtool`,
and the tenant's mfa policy. This program plays the browser
(people_kit.py) and drives the authenticator as a person would.

Tenants: default (mfa = approval_or_passkey, the default), pr
(phishing_resistant) and any (any). Every check must be able to fail.

Run by tests/integration/test_people_mfa.sh (environment: people_kit's,
plus AUTHENTICATOR, DEVICES (a directory for the devices' key dirs),
LINKS (a JSON file: tenant -> user -> enrolment link)).
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ["HELPERS"])
from people_kit import *  # noqa: E402,F401,F403
from people_kit import failures  # noqa: E402

AUTHENTICATOR = os.environ["AUTHENTICATOR"]
DEVICES = os.environ["DEVICES"]
LINKS = json.load(open(os.environ["LINKS"]))
PW = "correct horse battery staple"


def tpath(tenant):
    return "/t/" + tenant


def post(b, tenant, path, obj):
    return b.post_json(tpath(tenant) + path, obj)


class Person:
    """A person of a tenant: their browser, passkey, device dir, TOTP secret."""

    def __init__(self, tenant, name):
        self.tenant, self.name = tenant, name
        self.auth = SoftAuthenticator("localhost", ORIGIN)
        self.b = Browser()
        self.dir = os.path.join(DEVICES, "%s-%s" % (tenant, name))
        self.secret = None

    def csrf(self, path="/account"):
        return page_data(self.b.get(tpath(self.tenant) + path).text).get("csrf", "")

    def enrol(self):
        tok = LINKS[self.tenant][self.name].split("token=", 1)[1]
        r = self.b.get(tpath(self.tenant) + "/enrol?token=" + tok)
        csrf = page_data(r.text).get("csrf", "")
        o = post(self.b, self.tenant, "/webauthn/options",
                 {"purpose": "enrol", "token": tok, "csrf": csrf}).json()["publicKey"]
        r = post(self.b, self.tenant, "/enrol",
                 {"token": tok, "csrf": csrf, "credential": self.auth.make_credential(o)})
        if r.status != 200:
            raise RuntimeError("%s/%s cannot enrol: %r" % (self.tenant, self.name, r))

    def set_password(self):
        r = post(self.b, self.tenant, "/account/password", {"csrf": self.csrf(), "password": PW})
        if r.status != 200:
            raise RuntimeError("password for %s: %r" % (self.name, r))

    def authenticator(self, *args, stdin=None):
        p = subprocess.run([AUTHENTICATOR, "--dir", self.dir] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def register_device(self):
        r = post(self.b, self.tenant, "/account/device", {"csrf": self.csrf()})
        code = r.json().get("code", "") if r.status == 200 else ""
        if not code:
            raise RuntimeError("device code for %s: %r" % (self.name, r))
        rc, out, err = self.authenticator("enrol", "--issuer", ISSUERS[self.tenant], "--code",
                                          code, "--name", "phone of " + self.name)
        if rc != 0:
            raise RuntimeError("signet-authenticator enrol: %d %s %s" % (rc, out, err))
        return code

    def setup_totp(self):
        r = self.b.get(tpath(self.tenant) + "/account/totp")
        m = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', r.text)
        if r.status != 200 or not m:
            raise RuntimeError("TOTP setup page for %s: %r" % (self.name, r))
        self.secret = m.group(1).replace(" ", "")
        r = post(self.b, self.tenant, "/account/totp",
                 {"csrf": self.csrf(), "code": totp_code(self.secret)})
        if r.status != 200:
            raise RuntimeError("TOTP confirmation for %s: %r" % (self.name, r))
        # The code just used is spent: a sign-in must wait for the next step.
        wait_next_step()


def totp_code(secret, offset=0):
    """The TOTP code from Debian's oathtool (an independent implementation)."""
    args = ["oathtool", "--totp", "-b", secret]
    if offset:
        args += ["-N", "now %+d seconds" % offset]
    return subprocess.run(args, capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


def wait_next_step():
    time.sleep(30 - (time.time() % 30) + 0.5)


def password_step(p, browser=None, req=""):
    """POST /signin/password for p in a fresh browser: (browser, answer)."""
    b = browser or Browser()
    csrf = page_data(b.get(tpath(p.tenant) + "/signin").text).get("csrf", "")
    r = post(b, p.tenant, "/signin/password",
             {"csrf": csrf, "req": req, "name": p.name, "password": PW})
    return b, csrf, r


def signed_in(b, tenant):
    """The browser holds a session: /account answers the account page."""
    r = b.get(tpath(tenant) + "/account")
    return r.status == 200 and page_data(r.text).get("page") == "account"


def start_approval(p):
    b, csrf, r = password_step(p)
    tok = r.json().get("token", "") if r.status == 200 else ""
    a = post(b, p.tenant, "/signin/approval", {"csrf": csrf, "token": tok})
    return b, csrf, tok, a


def status(p, b, csrf, tok, approval):
    return post(b, p.tenant, "/signin/approval/status",
                {"csrf": csrf, "token": tok, "approval": approval})


def pending(p):
    rc, out, err = p.authenticator("pending", "--json")
    if rc != 0:
        return None
    return json.loads(out).get("approvals", [])


# =====================================================================================

def policies(people):
    """No policy lets a password alone through; each offers what it allows."""
    section("1. the mfa policy of each tenant: never a password alone")
    expect_methods = {"pr": {"passkey"}, "default": {"passkey", "approval"},
                      "any": {"passkey", "approval", "totp"}}
    for tenant, p in people.items():
        b, csrf, r = password_step(p)
        d = r.json() if r.status == 200 else {}
        check("%s: the right password -> 200, no session, second steps %s" % (
              tenant, sorted(expect_methods[tenant])),
              r.status == 200 and set(d.get("methods", [])) == expect_methods[tenant] and
              not signed_in(b, tenant) and COOKIE_OF(tenant) not in b.cookies,
              "%r" % r)
        # Every way around the second step is closed.
        tok = d.get("token", "")
        if tenant == "pr":
            check("pr: no token for an approval or a code (only the passkey's challenge)",
                  tok == "" and "publicKey" in d, d)
            tok = "x" * 43
        expect("%s: an approval status with no approval -> 404" % tenant,
               post(b, tenant, "/signin/approval/status",
                    {"csrf": csrf, "token": tok, "approval": "nope"}),
               404 if tenant != "pr" else 400)
        r2 = post(b, tenant, "/signin/totp", {"csrf": csrf, "token": tok, "code": "000000"})
        check("%s: a TOTP code where the policy %s -> refused" % (
              tenant, "allows it (a wrong one)" if tenant == "any" else "forbids it"),
              r2.status in (400, 403), repr(r2))
        if tenant == "pr":
            a = post(b, tenant, "/signin/approval", {"csrf": csrf, "token": tok})
            check("pr: an approval request -> refused", a.status in (400, 403), repr(a))
            r3 = post(b, tenant, "/account/device", {"csrf": csrf})
            check("pr: registering a device -> refused (403)", r3.status == 403, repr(r3))
        check("%s: still no session after all that" % tenant, not signed_in(b, tenant))


def COOKIE_OF(tenant):
    return "__Host-signet-" + tenant


def approvals(alice, bob):
    section("2. number matching with signet-authenticator")
    b, csrf, tok, a = start_approval(alice)
    d = a.json() if a.status == 200 else {}
    check("an approval request -> 200 with an id, two digits and 60 s",
          a.status == 200 and re.fullmatch(r"\d\d", d.get("number", "")) and
          d.get("expires_in") == 60, repr(a))
    if a.status != 200:
        return
    lst = pending(alice) or []
    mine = [x for x in lst if x.get("id") == d["approval"]]
    check("the device sees it pending, with the source address and the time",
          len(mine) == 1 and mine[0].get("address") in ("127.0.0.1", "::1") and
          abs(mine[0].get("created_at", 0) - time.time()) < 60, lst)
    check("the device does not see the number", all("number" not in x for x in lst), lst)
    # bob's device cannot answer alice's request.
    rc, out, err = bob.authenticator("approve", d["approval"], "--number", d["number"])
    check("another user's device answering it -> refused (404)", rc == 1, (rc, out, err))
    expect("... and the request is still pending",
           status(alice, b, csrf, tok, d["approval"]), 200)
    # A forged and a replayed device request.
    forged = forged_request(alice, "/approver/pending")
    check("a device request with a forged signature -> 401", forged.status == 401, repr(forged))
    r1, r2 = replayed_request(alice, "/approver/pending")
    check("the same signed device request twice -> the second is refused (401)",
          r1.status == 200 and r2.status == 401, "%r / %r" % (r1, r2))
    # Malformed answers, properly signed by alice's device: 400, nothing
    # changes (the request stays pending, no wrong number is counted).
    for body in ({"id": d["approval"], "number": "4", "decision": "approve"},
                 {"id": d["approval"], "number": "4x", "decision": "approve"},
                 {"id": d["approval"], "number": d["number"], "decision": "yes"},
                 {"id": d["approval"], "number": d["number"], "decision": "deny"},
                 {"id": d["approval"], "number": d["number"], "decision": "approve", "x": 1}):
        raw = json.dumps(body).encode()
        hdr = device_header(alice, "POST", ISSUERS[alice.tenant] + "/approver/answer", raw)
        bad = raw_request("POST", tpath(alice.tenant) + "/approver/answer", raw,
                          {"Signet-Device": hdr, "Content-Type": "application/json"})
        check("a malformed signed answer %s -> 400" % json.dumps(body, sort_keys=True)[:60],
              bad.status == 400 and bad.json().get("error") == "invalid_request", repr(bad))
    expect("... and the request is still pending", status(alice, b, csrf, tok, d["approval"]),
           200)
    # The right number.
    rc, out, err = alice.authenticator("approve", d["approval"], "--number", d["number"])
    check("signet-authenticator approve with the page's number -> approved", rc == 0,
          (rc, out, err))
    s = status(alice, b, csrf, tok, d["approval"])
    loc = s.json().get("location", "")
    check("the page's next poll -> a location: signed in (acr mfa, amr pwd swk mfa)",
          s.status == 200 and loc.endswith("/account") and signed_in(b, alice.tenant), repr(s))
    sess = [x for x in json.loads(cli("session", "list", "--user", alice.name, "--json")[1])
            if x.get("acr") == "urn:signet:acr:mfa"]
    check("the session's amr: pwd, swk, mfa",
          any(set(x.get("amr", "").split()) >= {"pwd", "swk", "mfa"}
              if isinstance(x.get("amr"), str) else
              set(x.get("amr", [])) >= {"pwd", "swk", "mfa"} for x in sess), sess)
    again = status(alice, b, csrf, tok, d["approval"])
    check("the approval cannot start a second session", again.status != 200 or
          "location" not in again.json(), repr(again))


def forged_request(p, path):
    """A device request whose signature was tampered with."""
    hdr = device_header(p, "GET", ISSUERS[p.tenant] + path, b"")
    h, c, s = hdr.split(".")
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[3] ^= 1
    bad = "%s.%s.%s" % (h, c, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
    return raw_request("GET", tpath(p.tenant) + path, None, {"Signet-Device": bad})


def replayed_request(p, path):
    hdr = device_header(p, "GET", ISSUERS[p.tenant] + path, b"")
    r1 = raw_request("GET", tpath(p.tenant) + path, None, {"Signet-Device": hdr})
    r2 = raw_request("GET", tpath(p.tenant) + path, None, {"Signet-Device": hdr})
    return r1, r2


def device_header(p, htm, htu, body):
    """A Signet-Device proof made here with PyJWT from the device's key
    file (an implementation independent of signet-authenticator's)."""
    import hashlib
    import jwt
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import ECAlgorithm
    with open(os.path.join(p.dir, "device.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    canon = json.dumps({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]},
                       separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).decode().rstrip("=")
    bh = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    claims = {"htm": htm, "htu": htu, "iat": int(time.time()), "jti": b64u(os.urandom(16)),
              "bh": bh}
    return jwt.encode(claims, key, algorithm="ES256",
                      headers={"typ": "signet-device+jwt", "kid": kid})


def wrong_numbers(bob):
    section("3. wrong numbers: each denies, the third locks prompts and raises an alert")
    for i in range(3):
        b, csrf, tok, a = start_approval(bob)
        d = a.json() if a.status == 200 else {}
        if not check("bob's approval request %d -> 200" % (i + 1), a.status == 200, repr(a)):
            return
        wrong = "%02d" % ((int(d["number"]) + 1) % 100)
        rc, out, err = bob.authenticator("approve", d["approval"], "--number", wrong)
        check("typing %s instead of the page's number -> refused (wrong number)" % wrong,
              rc != 0 or "wrong" in out, (rc, out, err))
        s = status(bob, b, csrf, tok, d["approval"])
        check("... the page hears denied, no session",
              s.json().get("state") == "denied" and not signed_in(b, bob.tenant), repr(s))
    b, csrf, tok, a = start_approval(bob)
    check("a 4th request after three wrong numbers -> 403, locked",
          a.status == 403 and "locked" in a.json().get("error_description", ""), repr(a))
    check("the lock is logged as an alert", re.search(r"event=approval_locked", log_text())
          is not None)
    check("invariant I10 is violated on /status.json, naming bob", *i10_names(bob))


def prompt_bombing(carol):
    section("4. prompt bombing: at most 3 prompts in 10 minutes")
    answers = [start_approval(carol)[3] for _ in range(4)]
    check("3 approval requests -> 200 each", all(a.status == 200 for a in answers[:3]),
          [a.status for a in answers])
    check("the 4th within 10 minutes -> 429 with Retry-After",
          answers[3].status == 429 and int(answers[3].header("Retry-After") or 0) > 0,
          repr(answers[3]))
    check("the device lists 3 pending prompts, not 4", len(pending(carol) or []) == 3,
          pending(carol))


def not_me(dave):
    section("5. \"this wasn't me\" denies, ends every session and raises an alert")
    S = Browser()
    # dave is signed in elsewhere (his passkey), with a refresh token too.
    csrf = page_data(S.get(tpath(dave.tenant) + "/signin").text).get("csrf", "")
    o = post(S, dave.tenant, "/webauthn/options", {"purpose": "signin", "csrf": csrf}).json()
    r = post(S, dave.tenant, "/signin", {"csrf": csrf, "req": "",
                                         "credential": dave.auth.get_assertion(o["publicKey"])})
    check("dave has a session of his own (passkey)", r.status == 200 and
          signed_in(S, dave.tenant), repr(r))
    b, csrf, tok, a = start_approval(dave)
    d = a.json() if a.status == 200 else {}
    rc, out, err = dave.authenticator("not-me", d.get("approval", "-"))
    check("signet-authenticator not-me -> reported", rc == 0, (rc, out, err))
    s = status(dave, b, csrf, tok, d.get("approval", "-"))
    check("the page hears denied", s.json().get("state") == "denied", repr(s))
    check("dave's other session ended", not signed_in(S, dave.tenant))
    sessions = json.loads(cli("session", "list", "--user", dave.name, "--json")[1])
    check("signet session list: none left for dave", sessions == [], sessions)
    check("the report is logged as an alert",
          re.search(r"event=approval_reported", log_text()) is not None)
    check("invariant I10 is violated on /status.json, naming dave", *i10_names(dave))


def i10_names(p):
    # /status.json: the monitor's view; I10 names the latest report's user.
    try:
        with urllib.request.urlopen(os.environ["TELEMETRY"] + "/status.json", timeout=10) as st:
            doc = json.loads(st.read())
    except (OSError, ValueError) as e:
        return False, repr(e)
    for inv in doc.get("invariants", []):
        if inv.get("id") == "I10":
            uid = json.loads(cli("user", "show", "--name", p.name, "--json",
                                 tenant=p.tenant)[1])["id"]
            return inv.get("state") == "violated" and uid in inv.get("message", ""), inv
    return False, doc


def totp(erin):
    section("6. TOTP (oathtool), single use of a time step")
    wait_next_step()
    b, csrf, r = password_step(erin)
    tok = r.json().get("token", "")
    code = totp_code(erin.secret)
    t = post(b, "any", "/signin/totp", {"csrf": csrf, "token": tok, "code": code})
    check("the current oathtool code -> signed in (acr mfa, amr pwd otp mfa)",
          t.status == 200 and signed_in(b, "any"), repr(t))
    b2, csrf2, r2 = password_step(erin)
    tok2 = r2.json().get("token", "")
    t2 = post(b2, "any", "/signin/totp", {"csrf": csrf2, "token": tok2, "code": code})
    check("the same code again (another browser) -> refused as used",
          t2.status == 403 and "used" in t2.json().get("error_description", "") and
          not signed_in(b2, "any"), repr(t2))
    t3 = post(b2, "any", "/signin/totp",
              {"csrf": csrf2, "token": tok2, "code": totp_code(erin.secret, -120)})
    check("a code of 4 steps ago -> refused", t3.status == 403 and not signed_in(b2, "any"),
          repr(t3))
    t4 = post(b2, "any", "/signin/totp", {"csrf": csrf2, "token": tok2, "code": "12ab56"})
    check("a malformed code -> 400", t4.status == 400, repr(t4))
    check("the seed is in no log", erin.secret not in log_text())


def expiry(frank):
    """Last: moves the injected clock."""
    section("7. an unanswered prompt expires after 60 s (injected clock)")
    b, csrf, tok, a = start_approval(frank)
    d = a.json() if a.status == 200 else {}
    with open(CLOCK, "w") as f:
        f.write("%d\n" % (int(time.time()) + 61))
    s = status(frank, b, csrf, tok, d.get("approval", "-"))
    check("61 s later the page hears expired", s.json().get("state") == "expired", repr(s))
    rc, out, err = frank.authenticator("approve", d.get("approval", "-"), "--number",
                                       d.get("number", "00"))
    check("... and the device's late approval is refused", rc != 0, (rc, out, err))
    check("no session", not signed_in(b, frank.tenant))


def setup():
    people = {}
    for tenant, names in (("default", ["alice", "bob", "carol", "dave", "frank"]),
                          ("any", ["erin"]), ("pr", ["pat"])):
        for n in names:
            p = Person(tenant, n)
            p.enrol()
            p.set_password()
            if tenant != "pr":
                p.register_device()
            if tenant == "any":
                p.setup_totp()
            people[(tenant, n)] = p
    check("setup: 7 people enrolled, passwords set, devices registered, erin's TOTP confirmed",
          True)
    return people


ISSUERS = json.loads(os.environ["ISSUERS"])


def main():
    people = run("setup", setup)
    if people:
        P = lambda t, n: people[(t, n)]  # noqa: E731
        run("policies", policies, {"default": P("default", "alice"), "any": P("any", "erin"),
                                   "pr": P("pr", "pat")})
        run("approvals", approvals, P("default", "alice"), P("default", "bob"))
        run("wrong numbers", wrong_numbers, P("default", "bob"))
        run("prompt bombing", prompt_bombing, P("default", "carol"))
        run("not me", not_me, P("default", "dave"))
        run("totp", totp, P("any", "erin"))
        run("expiry", expiry, P("default", "frank"))
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all MFA checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
