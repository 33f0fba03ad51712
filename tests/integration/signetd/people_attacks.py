#!/usr/bin/env python3
"""Attacks on people's sign-in (issue 13, docs/people.md) that need no
browser, against a real signetd: this program plays the browser (its own
cookie jar: the __Host- cookies are Secure and signetd is plain http on
localhost, so they are kept by hand), reads the pages' <main id="signet"
data-*> attributes, posts the JSON bodies with an Origin header, and
answers WebAuthn ceremonies with tests/integration/signetd/softauthn.py.

Each attack must be refused with the right status and error code and
change nothing: afterwards the legitimate flow still works, and no
session, code, token or passkey was made (checked through `signet user
show --json` and `signet session list --json`).

Run by tests/integration/test_people_attacks.sh (environment: SIGNET_PORT,
SIGNET_ISS, SIGNET_ISS2, SIGNET_BIN, SIGNET_STATE, SIGNET_LOG, SIGNET_CLOCK,
HELPERS, ALICE_LINK, BOB_LINK, CAROL_LINK, CAROL_MADE). One line per check,
"ok: ..." or "FAIL: ...", exit status 1 when any check failed.
"""

import base64  # noqa: F401  (sections import what they use)
import json
import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ["HELPERS"])
from people_kit import *  # noqa: E402,F401,F403
from people_kit import failures  # noqa: E402

# =====================================================================================

def enrolment(alice):
    section("1. enrolment")
    tok = os.environ["ALICE_LINK"].split("token=", 1)[1]
    bob_tok = os.environ["BOB_LINK"].split("token=", 1)[1]
    A = Browser()
    r, d = enrol_page(A, tok)
    check("enrol page: 200 with data-csrf and data-token", r.status == 200 and
          len(d.get("csrf", "")) == 43 and d.get("token") == tok, repr(r))
    csrf = d.get("csrf", "")
    check("enrol page sets the CSRF cookie (__Host-, Secure, HttpOnly, SameSite=Strict)",
          CSRF_COOKIE in A.cookies and re.search(r"Secure", r.set_cookies.get(CSRF_COOKIE, ""))
          and re.search(r"HttpOnly", r.set_cookies[CSRF_COOKIE]) and
          re.search(r"SameSite=Strict", r.set_cookies[CSRF_COOKIE], re.I),
          r.set_cookies)
    before = snapshot()
    check("before enrolment alice has no passkey and no session",
          before["alice"][0] == 0 and user_show("alice")["sessions"] == [], before)

    # The ceremony, each bent one way: 400 naming the check.
    def bad_registration(name, words, **knobs):
        o = enrol_options(A, csrf, tok)
        cred = alice.make_credential(o, **knobs)
        expect("enrol refused: " + name, enrol_post(A, csrf, tok, cred), 400, "invalid_request",
               words)

    bad_registration("origin http://evil.example in clientDataJSON", "origin",
                     origin="http://evil.example")
    bad_registration("origin http://127.0.0.1:port (the address, not the issuer's host)",
                     "origin", origin="http://127.0.0.1:%d" % PORT)
    bad_registration("origin https://localhost:port (other scheme)", "origin",
                     origin="https://localhost:%d" % PORT)
    bad_registration("rpIdHash of evil.example", "rpIdHash", rp_id_for_hash="evil.example")
    bad_registration("UV flag off", "UV", uv=False)
    bad_registration("UP flag off", "UP", up=False)
    bad_registration("crossOrigin true", "crossOrigin", cross_origin=True)

    o = enrol_options(A, csrf, tok)
    expect("enrol refused: fmt packed (attestation other than none)",
           enrol_post(A, csrf, tok, with_fmt(alice.make_credential(o), "packed")), 400,
           "invalid_request", "none")
    o = enrol_options(A, csrf, tok)
    expect("enrol refused: fmt fido-u2f", enrol_post(
        A, csrf, tok, with_fmt(alice.make_credential(o), "fido-u2f")), 400, "invalid_request",
        "none")

    # A challenge made for a sign-in, answered as a registration.
    so = signin_options(A, csrf)
    o = enrol_options(A, csrf, tok)
    o2 = dict(o, challenge=so["challenge"])
    expect("enrol refused: a sign-in challenge used for an enrolment",
           enrol_post(A, csrf, tok, alice.make_credential(o2)), 400, "invalid_request",
           "challenge")
    # A challenge made for bob's link, posted with alice's.
    bo = enrol_options(A, csrf, bob_tok)
    expect("enrol refused: the challenge of another person's link",
           enrol_post(A, csrf, tok, alice.make_credential(bo)), 400, "invalid_request",
           "challenge")
    # One challenge, two answers: the first (refused for UV) used it up.
    o = enrol_options(A, csrf, tok)
    r1 = enrol_post(A, csrf, tok, alice.make_credential(o, uv=False))
    r2 = enrol_post(A, csrf, tok, alice.make_credential(o))
    expect("enrol refused: a replayed challenge (its first use was refused)", r2, 400,
           "invalid_request", "challenge")
    check("  (the first answer was refused for UV)", r1.status == 400, repr(r1))
    # A challenge nobody asked for.
    o = enrol_options(A, csrf, tok)
    expect("enrol refused: a challenge signet never issued",
           enrol_post(A, csrf, tok, alice.make_credential(dict(o, challenge=b64u(os.urandom(32))))),
           400, "invalid_request", "challenge")

    # CSRF: one good registration, refused five ways (403), then accepted:
    # the refusals used up nothing.
    o = enrol_options(A, csrf, tok)
    good = alice.make_credential(o)
    body = {"token": tok, "credential": good}
    expect("enrol CSRF: no csrf member -> 403", A.post_json(T + "/enrol", body), 403)
    expect("enrol CSRF: a wrong csrf -> 403",
           A.post_json(T + "/enrol", dict(body, csrf=b64u(os.urandom(32)))), 403)
    expect("enrol CSRF: an empty csrf -> 403", A.post_json(T + "/enrol", dict(body, csrf="")),
           403)
    other = Browser()
    other_csrf = csrf_of(other)
    check("  another browser has another CSRF token", other_csrf and other_csrf != csrf)
    expect("enrol CSRF: the csrf of another browser's cookie -> 403",
           A.post_json(T + "/enrol", dict(body, csrf=other_csrf)), 403)
    expect("enrol CSRF: another browser's cookie with this page's csrf -> 403",
           other.post_json(T + "/enrol", dict(body, csrf=csrf)), 403)
    nocookie = Browser()
    expect("enrol CSRF: no CSRF cookie -> 403",
           nocookie.post_json(T + "/enrol", dict(body, csrf=csrf)), 403)
    expect("enrol CSRF: no Origin -> 403", enrol_post(A, csrf, tok, good, origin=None), 403)
    expect("enrol CSRF: Origin http://evil.example -> 403",
           enrol_post(A, csrf, tok, good, origin="http://evil.example"), 403)
    expect("enrol CSRF: Origin null -> 403", enrol_post(A, csrf, tok, good, origin="null"), 403)
    expect("enrol CSRF: Origin http://127.0.0.1:port -> 403",
           enrol_post(A, csrf, tok, good, origin="http://127.0.0.1:%d" % PORT), 403)
    expect("enrol CSRF: Origin with a trailing slash -> 403",
           enrol_post(A, csrf, tok, good, origin=ORIGIN + "/"), 403)
    expect("options CSRF: Origin http://evil.example -> 403",
           A.post_json(T + "/webauthn/options", {"purpose": "enrol", "token": tok, "csrf": csrf},
                       origin="http://evil.example"), 403)
    expect("options CSRF: a wrong csrf -> 403",
           A.post_json(T + "/webauthn/options",
                       {"purpose": "enrol", "token": tok, "csrf": other_csrf}), 403)
    unchanged("after the refused enrolments", before)

    # A second browser holding a challenge for the same link (a race).
    B = Browser()
    rb, db = enrol_page(B, tok)
    ob = enrol_options(B, db.get("csrf", ""), tok)
    late = SoftAuthenticator("localhost", ORIGIN).make_credential(ob)

    r = enrol_post(A, csrf, tok, good)
    ok = check("valid enrolment (after the CSRF refusals, the same answer) -> location /account",
               r.status == 200 and r.json().get("location") == T + "/account", repr(r))
    sc = r.set_cookies.get(COOKIE, "")
    check("enrolment sets the session cookie: 43 base64url, Path=/, Secure, HttpOnly, "
          "SameSite=Lax", re.fullmatch(r"[A-Za-z0-9_-]{43}", A.cookies.get(COOKIE, "")) and
          all(x.lower() in sc.lower() for x in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax")),
          sc)
    ra = A.get(T + "/account")
    check("the account page answers 200 with the session", ra.status == 200, repr(ra))
    u = user_show("alice")
    check("alice: one passkey and one session", len(u["passkeys"]) == 1 and
          len(u["sessions"]) == 1, u)
    if not ok:
        raise RuntimeError("no enrolment: the rest cannot run")
    # The authenticator keeps only the passkey signet registered (the
    # refused ceremonies left others in it).
    alice.credentials = [c for c in alice.credentials if b64u(c.cred_id) == good["rawId"]]

    # The link is used up.
    after = snapshot()
    expect("link reused: the racing browser's registration -> 400",
           enrol_post(B, db.get("csrf", ""), tok, late), 400, "invalid_request", "link")
    expect("link reused: the same request again -> 400", enrol_post(A, csrf, tok, good), 400,
           "invalid_request")
    r, _ = enrol_page(Browser(), tok)
    check("link reused: GET /enrol is an error page (410)", is_page(r, 410), repr(r))
    C = Browser()
    expect("link reused: options for it -> 400", options(C, csrf_of(C), "enrol", token=tok), 400,
           "invalid_request", "link")
    expect("options for a link never issued -> 400",
           options(C, csrf_of(C), "enrol", token=b64u(os.urandom(32))), 400, "invalid_request")
    r, _ = enrol_page(Browser(), b64u(os.urandom(32)))
    check("GET /enrol with a token never issued -> 410 page", is_page(r, 410), repr(r))
    unchanged("after the reuse of the link", after)

    # An expired link (--link-lifetime 1s, made at setup).
    wait = float(os.environ["CAROL_MADE"]) + 2.2 - time.time()
    if wait > 0:
        time.sleep(wait)
    ctok = os.environ["CAROL_LINK"].split("token=", 1)[1]
    r, _ = enrol_page(Browser(), ctok)
    check("expired link: GET /enrol -> 410 page", is_page(r, 410), repr(r))
    expect("expired link: options -> 400", options(C, csrf_of(C), "enrol", token=ctok), 400,
           "invalid_request", "expired")
    return A


def bob_enrol(bob_auth):
    tok = os.environ["BOB_LINK"].split("token=", 1)[1]
    B = Browser()
    _, d = enrol_page(B, tok)
    o = enrol_options(B, d["csrf"], tok)
    r = enrol_post(B, d["csrf"], tok, bob_auth.make_credential(o, be=True, bs=True))
    if not check("bob enrols a synced passkey", r.status == 200, repr(r)):
        raise RuntimeError("bob cannot enrol")
    return B


def signins(alice, A, bob, B):
    section("3. sign-in")
    S = Browser()
    csrf = csrf_of(S)
    before = snapshot()

    def bad(name, words, status=400, code="invalid_request", mangle=None, **knobs):
        o = signin_options(S, csrf)
        a = alice.get_assertion(o, **knobs)
        if mangle:
            a = mangle(a, o)
        expect("sign-in refused: " + name, signin_post(S, csrf, a), status, code, words)

    bad("origin http://evil.example", "origin", origin="http://evil.example")
    bad("origin http://127.0.0.1:port", "origin", origin="http://127.0.0.1:%d" % PORT)
    bad("rpIdHash of evil.example", "rpIdHash", rp_id_for_hash="evil.example")
    bad("a challenge signet never issued", "challenge",
        challenge_override=b64u(os.urandom(32)))
    bad("UV flag off", "UV", uv=False)
    bad("UP flag off", "UP", up=False)
    bad("a signature over other data", "signature",
        mangle=lambda a, o: resigned(alice, a, hashlib.sha256(b"other data").digest()))

    def other_handle(a, o):
        a = json.loads(json.dumps(a))
        a["response"]["userHandle"] = b64u(b"u" + b"A" * 22)
        return a
    bad("a userHandle that is not the passkey's user", "userHandle", mangle=other_handle)

    # A passkey signet never registered (its own key, alice's user handle).
    stranger = SoftAuthenticator("localhost", ORIGIN)
    stranger.make_credential(softauthn.creation_options(b64u(os.urandom(32)), "localhost",
                                                        user_id=alice.credentials[-1].user_handle))
    o = signin_options(S, csrf)
    expect("sign-in refused: an unknown credential id",
           signin_post(S, csrf, stranger.get_assertion(o)), 400, "invalid_request",
           "not registered")

    # One challenge, two answers.
    o = signin_options(S, csrf)
    r1 = signin_post(S, csrf, alice.get_assertion(o, uv=False))
    r2 = signin_post(S, csrf, alice.get_assertion(o))
    expect("sign-in refused: a replayed challenge (its first use was refused)", r2, 400,
           "invalid_request", "challenge")
    check("  (the first answer was refused)", r1.status == 400, repr(r1))

    # A registration challenge (alice adding a passkey) answered as a sign-in.
    ra = options(A, csrf_of(A, T + "/account"), "add")
    if check("purpose add with a fresh session gives creation options", ra.status == 200,
             repr(ra)):
        ao = public_key(ra)
        so = signin_options(S, csrf)
        expect("sign-in refused: a registration challenge used for a sign-in",
               signin_post(S, csrf, alice.get_assertion(dict(so, challenge=ao["challenge"]))),
               400, "invalid_request", "challenge")
    # A challenge for a pending authorization request, used without it.
    _, c = pkce()
    r = authorize(S, auth_params(challenge=c))
    req = urllib.parse.parse_qs(urllib.parse.urlparse(r.header("Location") or "").query).get(
        "req", [""])[0]
    if check("authorize without a session -> 303 to /signin?req=", r.status == 303 and req,
             repr(r)):
        o = signin_options(S, csrf, req)
        expect("sign-in refused: the challenge of another sign-in request",
               signin_post(S, csrf, alice.get_assertion(o), req=""), 400, "invalid_request",
               "challenge")
    a = alice.get_assertion(signin_options(S, csrf))
    expect("sign-in CSRF: no Origin -> 403", signin_post(S, csrf, a, origin=None), 403)
    expect("sign-in CSRF: Origin http://evil.example -> 403",
           signin_post(S, csrf, a, origin="http://evil.example"), 403)
    expect("sign-in CSRF: a wrong csrf -> 403", signin_post(S, b64u(os.urandom(32)), a), 403)
    check("the refused sign-ins set no session cookie", COOKIE not in S.cookies, S.cookies)
    unchanged("after the refused sign-ins", before)
    r = signin_post(S, csrf, a)
    check("the assertion refused for CSRF is accepted from the page (nothing was used up)",
          r.status == 200 and r.json().get("location") == T + "/account", repr(r))

    # The counter goes backwards.
    count0 = max(p["sign_count"] for p in user_show("alice")["passkeys"])
    o1, o2 = signin_options(S, csrf), signin_options(S, csrf)
    early = alice.get_assertion(o1)
    late = alice.get_assertion(o2)
    r = signin_post(S, csrf, late)
    check("sign-in with the later counter -> 200", r.status == 200, repr(r))
    stored = max(p["sign_count"] for p in user_show("alice")["passkeys"])
    check("the stored sign count is the later one", stored == alice.credentials[-1].counter and
          stored > count0, "stored %d, authenticator %d" % (stored, alice.credentials[-1].counter))
    before = snapshot()
    expect("sign-in refused: the earlier counter after the later one (counter regression)",
           signin_post(S, csrf, early), 400, "invalid_request", "counter")
    unchanged("after the counter regression", before)
    time.sleep(0.2)
    check("signetd logged passkey_counter_regressed", "passkey_counter_regressed" in log_text())
    expect("sign-in refused: a successful assertion replayed", signin_post(S, csrf, late), 400,
           "invalid_request", "challenge")

    # Session fixation: a cookie planted before the sign-in is not the session.
    F = Browser()
    planted = b64u(os.urandom(32))
    F.cookies[COOKIE] = planted
    r = signin(F, alice)
    v1 = F.cookies.get(COOKIE)
    check("fixation: the sign-in sets a new cookie value, not the planted one",
          r.status == 200 and COOKIE in r.set_cookies and v1 and v1 != planted, repr(r))
    P = Browser()
    P.cookies[COOKIE] = planted
    check("fixation: the planted value is no session (/account -> 303)",
          P.get(T + "/account").status == 303)
    check("fixation: the new value is the session (/account -> 200)",
          F.get(T + "/account").status == 200)
    sids1 = session_sids("alice")
    r = signin(F, alice)
    v2 = F.cookies.get(COOKIE)
    sids2 = session_sids("alice")
    check("a second sign-in issues another cookie value", r.status == 200 and v2 and v2 != v1,
          repr(r))
    check("a second sign-in makes a new session id and ends the browser's old one",
          len(set(sids2) - set(sids1)) == 1 and len(set(sids1) - set(sids2)) == 1,
          "%s -> %s" % (sids1, sids2))
    O = Browser()
    O.cookies[COOKIE] = v1
    check("the previous cookie value no longer works (/account -> 303)",
          O.get(T + "/account").status == 303)
    # The attacker's own (real) session planted in the victim's browser.
    V = Browser()
    V.cookies[COOKIE] = B.cookies[COOKIE]
    r = signin(V, alice)
    check("a planted real session (bob's) is replaced at alice's sign-in",
          r.status == 200 and V.cookies.get(COOKIE) not in (None, B.cookies[COOKIE]), repr(r))
    check("  and bob's own cookie is no longer a session (his session was revoked)",
          B.get(T + "/account").status == 303)

    return F


def disabled_user(bob):
    section("3b. a disabled user")
    BB = Browser()
    r = signin(BB, bob)
    check("bob signs in (before being disabled)", r.status == 200, repr(r))
    code_b, v_b, _ = code_flow(BB)
    code_rt, v_rt, _ = code_flow(BB)
    rt = redeem(code_rt, v_rt).json().get("refresh_token", "")
    check("bob has a code and a refresh token", code_b and rt)
    rc, out, err = cli("user", "disable", "--name", "bob")
    check("signet user disable bob", rc == 0, err)
    check("bob's existing session no longer works (/account -> 303)",
          BB.get(T + "/account").status == 303)
    check("bob has no session left (signet session list)", session_sids("bob") == [],
          session_sids("bob"))
    r = authorize(BB, auth_params(challenge=pkce()[1], prompt="none"))
    q = redirect_params(r.header("Location"), R1) or {}
    check("bob's session gets no code (prompt=none -> login_required)",
          r.status == 302 and q.get("error") == "login_required" and "code" not in q, repr(r))
    before = snapshot()
    D = Browser()
    expect("sign-in refused: a disabled user -> 403 access_denied", signin(D, bob), 403,
           "access_denied")
    check("the disabled user got no cookie", COOKIE not in D.cookies, D.cookies)
    unchanged("after the disabled user's sign-in", before)
    expect("bob's code from before the disable -> invalid_grant", redeem(code_b, v_b), 400,
           "invalid_grant")
    expect("bob's refresh token from before the disable -> invalid_grant", refresh(rt), 400,
           "invalid_grant")
    rc, out, err = cli("user", "enable", "--name", "bob")
    r = signin(Browser(), bob)
    check("bob, enabled again, signs in", rc == 0 and r.status == 200, repr(r))
    expect("  and his old refresh token stays dead", refresh(rt), 400, "invalid_grant")


def authorize_checks(F):
    section("2. authorize")
    N = Browser()  # no session
    _, c = pkce()
    before = snapshot()
    rows = store_counts()

    def to_client(name, params, code, redirect=R1):
        r = authorize(N, params)
        q = redirect_params(r.header("Location"), redirect)
        check(name, r.status in (302, 303) and q is not None and q.get("error") == code and
              q.get("state") == params.get("state") and q.get("iss") == ISS and
              "code" not in q and q.get("error_description"), repr(r))

    p = auth_params(challenge=None)
    to_client("no code_challenge -> redirect error=invalid_request, state, iss", p,
              "invalid_request")
    to_client("code_challenge_method=plain -> invalid_request",
              dict(auth_params(challenge=c), code_challenge_method="plain"), "invalid_request")
    p = auth_params(challenge=c)
    del p["code_challenge_method"]
    to_client("code_challenge without a method -> invalid_request", p, "invalid_request")
    to_client("code_challenge of 42 characters -> invalid_request",
              auth_params(challenge=c[:42]), "invalid_request")
    to_client("response_type=token -> unsupported_response_type",
              auth_params(challenge=c, response_type="token"), "unsupported_response_type")
    to_client("response_type=code id_token -> unsupported_response_type",
              auth_params(challenge=c, response_type="code id_token"),
              "unsupported_response_type")
    to_client("a scope the client does not have -> invalid_scope",
              auth_params(challenge=c, scope="openid admin"), "invalid_scope")
    to_client("prompt=none without a session -> login_required",
              auth_params(challenge=c, prompt="none"), "login_required")
    to_client("prompt=none to the other registered URI -> login_required there",
              auth_params(redirect=R2, challenge=c, prompt="none"), "login_required", R2)

    bad_uris = [
        ("prefix", "http://localhost:9/c"),
        ("suffix", "http://localhost:9/cbx"),
        ("extra path", "http://localhost:9/cb/evil"),
        ("other port", "http://localhost:10/cb"),
        ("default port spelled out", "https://app.example:443/cb"),
        ("other scheme (https for http)", "https://localhost:9/cb"),
        ("other scheme (http for https)", "http://app.example/cb"),
        ("trailing slash", "https://app.example/cb/"),
        ("added query", "https://app.example/cb?x=1"),
        ("empty query", "https://app.example/cb?"),
        ("fragment", "https://app.example/cb#x"),
        ("%-encoded path character", "https://app.example/%63b"),
        ("%-encoded slash", "https://app.example%2Fcb"),
        ("double %-encoding", "https%253A%252F%252Fapp.example%252Fcb"),
        ("trailing %20", "https://app.example/cb%20"),
        ("trailing space", "https://app.example/cb "),
        ("upper-case host", "https://APP.example/cb"),
        ("upper-case scheme", "HTTPS://app.example/cb"),
        ("upper-case path", "https://app.example/CB"),
        ("dot segments (open redirect)", "https://app.example/cb/../evil"),
        ("dot segment", "https://app.example/./cb"),
        ("userinfo trick", "https://app.example@evil.example/cb"),
        ("backslash userinfo trick", "https://app.example\\@evil.example/cb"),
        ("host suffix", "https://app.example.evil.example/cb"),
        ("registered URI in the query of another", "https://evil.example/?https://app.example/cb"),
        ("scheme-relative", "//app.example/cb"),
        ("the IP address for localhost", "http://127.0.0.1:9/cb"),
        ("javascript:", "javascript:alert(1)//https://app.example/cb"),
        ("empty", ""),
    ]
    for name, uri in bad_uris:
        r = authorize(N, auth_params(redirect=uri, challenge=c))
        check("redirect_uri %s (%r) -> 400 page, no Location" % (name, uri), is_page(r, 400),
              repr(r))
    # Also with an otherwise bad request: the redirect URI is checked first.
    r = authorize(N, auth_params(redirect="https://evil.example/cb", challenge=None,
                                 response_type="token"))
    check("a bad redirect_uri with other errors -> still the 400 page", is_page(r, 400), repr(r))
    p = auth_params(challenge=c)
    del p["redirect_uri"]
    r = authorize(N, p)
    check("no redirect_uri (the client has two) -> 400 page", is_page(r, 400), repr(r))
    r = authorize(N, auth_params(client="nosuch", challenge=c))
    check("unknown client -> 400 page", is_page(r, 400), repr(r))
    p = auth_params(challenge=c)
    del p["client_id"]
    r = authorize(N, p)
    check("no client_id -> 400 page", is_page(r, 400), repr(r))
    r = authorize(N, auth_params(client="svc", challenge=c))
    check("a client without the authorization_code grant -> 400 page", is_page(r, 400), repr(r))
    base = qs(auth_params(challenge=c))
    for name, extra in [("client_id", "client_id=webapp"), ("redirect_uri",
                        "redirect_uri=" + urllib.parse.quote(R1, safe="")),
                        ("redirect_uri (another registered one)",
                         "redirect_uri=" + urllib.parse.quote(R2, safe="")),
                        ("response_type", "response_type=code"), ("state", "state=other"),
                        ("code_challenge", "code_challenge=" + c)]:
        r = authorize(N, base + "&" + extra)
        check("duplicate %s -> 400 page" % name, is_page(r, 400), repr(r))
    check("the refused requests left no session", snapshot() == before)
    check("the refused requests stored no authorization request and no code",
          store_counts() == rows, "%s -> %s" % (rows, store_counts()))

    # The legitimate request still works: 303 to the sign-in page; with a
    # session (F, alice's) a code at once, with state and iss.
    r = authorize(N, auth_params(challenge=c))
    check("a good request without a session -> 303 /signin?req=", r.status == 303 and
          (r.header("Location") or "").startswith(T + "/signin?req="), repr(r))
    try:
        code, v, q = code_flow(F)
        check("a good request with a session -> 302 with code, state and iss = issuer (RFC 9207)",
              q.get("iss") == ISS and len(code) >= 43, q)
    except RuntimeError as e:
        check("a good request with a session -> 302 with a code", False, e)


def token_checks(F, alice):
    section("4. token endpoint")
    # The legitimate exchange first (its shape), then one fresh code per attack.
    try:
        code, v, q = code_flow(F)
    except RuntimeError as e:
        check("a code for the token checks", False, e)
        return None
    r = redeem(code, v)
    d = r.json()
    if not check("authorization_code exchange -> 200 with access, ID and refresh tokens",
                 r.status == 200 and d.get("access_token") and d.get("id_token") and
                 d.get("refresh_token"), repr(r)):
        return None
    rt1 = d["refresh_token"]
    r = redeem(code, v)
    expect("code replay -> invalid_grant", r, 400, "invalid_grant")
    r = refresh(rt1)
    expect("the refresh token issued by the first use is refused after the replay", r, 400,
           "invalid_grant")

    def attack(name, mutate, code_kw=None, codes="invalid_grant"):
        code, v, _ = code_flow(F, **(code_kw or {}))
        args = mutate(code, v)
        r = redeem(*args[0], **args[1])
        expect("token refused: %s -> %s" % (name, "/".join(
            [codes] if isinstance(codes, str) else codes)), r, 400, codes)
        # Does the legitimate exchange still work afterwards? (informational:
        # burning a code presented wrongly is allowed.)
        again = redeem(code, v, **(code_kw and {"redirect": code_kw["redirect"]} or {}))
        print("info: after '%s' the legitimate exchange of that code answers %d" %
              (name, again.status))

    # A parameter missing or malformed is a malformed request (RFC 6749
    # §5.2 invalid_request) as much as a failed grant: either, never a token.
    either = ("invalid_grant", "invalid_request")
    attack("PKCE: no code_verifier", lambda c, v: ((c, v), {"code_verifier": 1}), codes=either)
    attack("PKCE: a wrong code_verifier", lambda c, v: ((c, pkce()[0]), {}))
    attack("PKCE: a verifier of 42 characters", lambda c, v: ((c, v[:42]), {}), codes=either)
    _, other_v, _ = code_flow(F)
    attack("PKCE: the verifier of another flow", lambda c, v: ((c, other_v), {}))
    attack("PKCE: the challenge sent as the verifier",
           lambda c, v: ((c, b64u(hashlib.sha256(v.encode()).digest())), {}))
    attack("a code used by another client (webapp2)",
           lambda c, v: ((c, v), {"client": "webapp2"}))
    attack("redirect_uri differing (the other registered one)",
           lambda c, v: ((c, v), {"redirect": R2}))
    attack("redirect_uri differing (trailing slash)",
           lambda c, v: ((c, v), {"redirect": R1 + "/"}))
    attack("no redirect_uri", lambda c, v: ((c, v), {"redirect_uri": 1}), codes=either)
    attack("a code of the default tenant at tenant two's token endpoint",
           lambda c, v: ((c, v), {"base": T2}))
    attack("a code that was never issued",
           lambda c, v: ((b64u(os.urandom(32)), v), {}))
    # A code for R2, presented with R1.
    attack("a code issued for https://app.example/cb presented with the loopback URI",
           lambda c, v: ((c, v), {"redirect": R1}), {"redirect": R2})
    code, v, _ = code_flow(F)
    r = redeem(code, v, client="svc")
    check("a code presented by the confidential client_credentials client (no secret) -> 400/401",
          r.status in (400, 401) and r.json().get("error") in ("invalid_grant", "invalid_client",
                                                               "unauthorized_client"), repr(r))

    # Refresh rotation and reuse.
    code, v, _ = code_flow(F)
    d = redeem(code, v).json()
    rt1 = d.get("refresh_token", "")
    r = refresh(rt1)
    rt2 = r.json().get("refresh_token", "")
    check("refresh -> 200 with a new refresh token", r.status == 200 and rt2 and rt2 != rt1,
          repr(r))
    expect("refresh token reuse -> invalid_grant", refresh(rt1), 400, "invalid_grant")
    expect("the rotated successor is then dead too", refresh(rt2), 400, "invalid_grant")

    code, v, _ = code_flow(F)
    rt = redeem(code, v).json().get("refresh_token", "")
    expect("refresh by another client (webapp2) -> invalid_grant", refresh(rt, "webapp2"), 400,
           "invalid_grant")
    r = refresh(rt)
    check("the owner's refresh still works after another client's attempt", r.status == 200,
          repr(r))
    expect("a refresh token never issued -> invalid_grant", refresh(b64u(os.urandom(32))), 400,
           "invalid_grant")
    # The code after its 60 s is checked at the very end, on the injected clock.
    return F


def malformed(A):
    section("5. oversized and malformed")
    M = Browser()
    csrf = csrf_of(M)
    big = json.dumps({"purpose": "signin", "csrf": csrf, "pad": "x" * (33 * 1024)}).encode()
    r = M.post_json(T + "/webauthn/options", big)
    check("a JSON body over 32 KiB -> 413", r.status == 413, repr(r))
    r = M.request("POST", T + "/signin", big, "application/json", origin=ORIGIN, chunked=True)
    check("a chunked JSON body over 32 KiB -> 413", r.status == 413, repr(r))
    r = M.post_json(T + "/enrol", b"x" * (64 * 1024))
    check("a 64 KiB body to /enrol -> 413", r.status == 413, repr(r))
    for name, body in [("not JSON", b"purpose=signin"), ("a JSON array", b"[1,2]"),
                       ("truncated JSON", b'{"purpose":"signin","csrf":"'),
                       ("a JSON string", b'"signin"'), ("empty", b""),
                       ("purpose not a string", json.dumps({"purpose": 1, "csrf": csrf}).encode()),
                       ("NUL inside a string",
                        ('{"purpose":"signin\\u0000x","csrf":"%s"}' % csrf).encode()),
                       ("duplicate member",
                        ('{"purpose":"signin","purpose":"enrol","csrf":"%s"}' % csrf).encode())]:
        r = M.post_json(T + "/webauthn/options", body)
        check("webauthn/options with %s -> 400" % name, r.status == 400 and
              r.json().get("error") == "invalid_request", repr(r))
    r = M.request("POST", T + "/webauthn/options", b'{"purpose":"signin"}', "text/plain",
                  origin=ORIGIN)
    check("webauthn/options as text/plain -> 415", r.status == 415, repr(r))
    r = M.post_json(T + "/signin", {"req": "", "csrf": csrf, "credential": {"id": "x"}})
    check("sign-in with a credential lacking its members -> 400", r.status == 400, repr(r))
    r = M.post_json(T + "/signin", {"req": "", "csrf": csrf, "credential": {
        "id": "AA", "rawId": "A", "type": "public-key", "response": {
            "clientDataJSON": "!!", "authenticatorData": "AA", "signature": "AA"}}})
    check("sign-in with invalid base64url -> 400", r.status == 400, repr(r))

    _, c = pkce()
    good = qs(auth_params(challenge=c))
    for name, q in [("a bad %-escape", good + "&x=%zz"), ("a truncated %-escape", good + "&x=%4"),
                    ("%00 in a value", good.replace("state=", "state=a%00b")),
                    ("%00 in the client_id", good.replace("client_id=webapp",
                                                          "client_id=webapp%00"))]:
        r = authorize(M, q)
        check("GET /authorize with %s -> 400 page" % name, is_page(r, 400), repr(r))
    for name, body in [("a NUL byte", good.encode().replace(b"state=", b"state=a\x00b")),
                       ("a bad %-escape", (good + "&x=%G1").encode()),
                       ("%00", good.replace("state=", "state=%00").encode())]:
        r = M.request("POST", T + "/authorize", body, "application/x-www-form-urlencoded")
        check("POST /authorize form with %s -> 400 page" % name, is_page(r, 400), repr(r))
    r = M.request("POST", T + "/authorize", good.encode(), "application/x-www-form-urlencoded")
    check("POST /authorize with a good form -> 303 to the sign-in", r.status == 303, repr(r))

    junk = "".join(chr(33 + (b % 90)) for b in os.urandom(8192)).replace(";", "").replace(
        "=", "")
    J = Browser()
    r = J.get(T + "/signin", headers={"Cookie": junk})
    check("a Cookie header of 8 KiB of junk -> the sign-in page (200)", r.status == 200 and
          page_data(r.text).get("csrf"), repr(r))
    junk2 = "; ".join("c%d=%s" % (i, "v" * 60) for i in range(120))
    r = J.get(T + "/account", headers={"Cookie": junk2})
    check("a Cookie header of 8 KiB of junk cookies -> /account 303 to the sign-in",
          r.status == 303, repr(r))
    r = J.post_json(T + "/webauthn/options", {"purpose": "signin", "csrf": csrf},
                    headers={"Cookie": junk2[:7000] + "; %s=%s" % (CSRF_COOKIE,
                                                                    M.cookies[CSRF_COOKIE])})
    check("8 KiB of junk cookies before a valid CSRF cookie -> options (200)",
          r.status == 200 and r.json().get("publicKey"), repr(r))
    r = raw_request("GET", "/readyz")
    check("signetd still answers /readyz", r.status == 200, repr(r))

    real = A.cookies.get(COOKIE, "")
    for name, v in [("42 characters", real[:42]), ("44 characters", real + "A"),
                    ("43 with '+'", "+" + real[1:]), ("43 with '='", real[:42] + "="),
                    ("43 with '%2B'", "%2B" + real[3:]), ("empty", ""),
                    ("4 KiB", "A" * 4096), ("a quoted value", '"%s"' % real),
                    ("a base64 value of the same bytes", real.replace("-", "+").replace("_", "/") +
                     "=")]:
        X = Browser()
        X.cookies[COOKIE] = v
        r = X.get(T + "/account")
        r2 = authorize(X, auth_params(challenge=c, prompt="none"))
        q = redirect_params(r2.header("Location"), R1) or {}
        same = v == real
        check("session cookie %s -> no session (/account 303, prompt=none login_required)" %
              name, same or (r.status == 303 and q.get("error") == "login_required"),
              "%r / %r" % (r, r2))
    Y = Browser()
    Y.cookies[COOKIE] = real
    check("the real session cookie still works", Y.get(T + "/account").status == 200)


def mixup(F, alice):
    section("6. mix-up (RFC 9207)")
    try:
        _, _, q = code_flow(F)
        check("the code response (a live session) carries iss = the default tenant's issuer",
              q.get("iss") == ISS, q)
        _, _, q = code_flow(Browser(), alice, redirect=R2)
        check("the code response after a sign-in (/signin?req=) carries iss = the issuer",
              q.get("iss") == ISS, q)
    except RuntimeError as e:
        check("the code response carries iss", False, e)
    N = Browser()
    _, c = pkce()
    r = authorize(N, auth_params(challenge=c, prompt="none"), T2)
    q = redirect_params(r.header("Location"), R1) or {}
    check("tenant two answers with its own iss (%s)" % ISS2,
          q.get("iss") == ISS2 and q.get("error") == "login_required", repr(r))
    r = authorize(N, auth_params(challenge=None), T2)
    q = redirect_params(r.header("Location"), R1) or {}
    check("tenant two's error redirect carries its own iss", q.get("iss") == ISS2, repr(r))
    # A default-tenant session is no session of tenant two.
    r = authorize(F, auth_params(challenge=c, prompt="none"), T2)
    q = redirect_params(r.header("Location"), R1) or {}
    check("the default tenant's session gets no code from tenant two",
          q.get("error") == "login_required" and "code" not in q, repr(r))


def legit_end_to_end(alice):
    section("a legitimate flow after all the attacks")
    E = Browser()
    try:
        code, v, q = code_flow(E, alice, redirect=R2)
    except RuntimeError as e:
        check("authorize -> sign in -> code", False, e)
        return
    check("authorize -> sign in -> code, state and iss", q.get("iss") == ISS)
    r = redeem(code, v, redirect=R2)
    d = r.json()
    ok = r.status == 200 and d.get("id_token")
    claims = {}
    if ok:
        p = d["id_token"].split(".")[1]
        claims = json.loads(unb64u(p))
    check("-> tokens; the ID token names alice, the acr urn:signet:acr:phr, aud webapp",
          ok and claims.get("iss") == ISS and claims.get("aud") == "webapp" and
          claims.get("acr") == "urn:signet:acr:phr" and
          claims.get("sub") == user_show("alice")["id"], "%r %s" % (r, claims))


def par(F):
    """Pushed authorization requests (RFC 9126): client authentication as
    at the token endpoint, a request_uri single use and bound to its
    client, require_par enforced, the pushed parameters checked."""
    section("7. pushed authorization requests (PAR)")
    import base64
    with open(os.environ["PARWEB_SECRET_FILE"]) as f:
        secret = f.read().strip()
    basic = "Basic " + base64.b64encode(("parweb:" + secret).encode()).decode()
    wrong = "Basic " + base64.b64encode(b"parweb:not-the-secret").decode()

    def push(params, authz=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if authz is not None:
            h["Authorization"] = authz
        return raw_request("POST", T + "/par", qs(params).encode(), h)

    def par_params(client="parweb", challenge=None, **extra):
        p = auth_params(client=client, challenge=challenge or pkce()[1], **extra)
        if client == "parweb":
            p.pop("client_id")  # the credentials name the client
            p["scope"] = "openid api.read"
        return p

    before = store_counts()
    r = push(par_params(), wrong)
    expect("PAR with a wrong client secret -> 401 invalid_client", r, 401, "invalid_client")
    check("-> with a Basic challenge", (r.header("WWW-Authenticate") or "").startswith("Basic"),
          repr(r))
    expect("PAR by the confidential client with no credentials -> 401 invalid_client",
           push(dict(par_params(), client_id="parweb")), 401, "invalid_client")
    expect("PAR with client_id other than the authenticated client -> 400",
           push(dict(par_params(), client_id="webapp"), basic), 400, "invalid_request")
    with open(os.path.join(os.path.dirname(os.environ["PARWEB_SECRET_FILE"]), "svc.secret")) as f:
        svc = "Basic " + base64.b64encode(("svc:" + f.read().strip()).encode()).decode()
    p = par_params(client="svc")
    p.pop("client_id")
    expect("PAR by a client without authorization_code (svc, authenticated) -> 400 "
           "unauthorized_client", push(p, svc), 400, "unauthorized_client")
    expect("PAR by svc naming itself without its secret -> 401 invalid_client",
           push(par_params(client="svc")), 401, "invalid_client")
    expect("PAR with an unregistered redirect_uri -> 400 invalid_request",
           push(par_params(redirect_uri="http://localhost:9/cb/x"), basic), 400,
           "invalid_request")
    p = par_params()
    p.pop("code_challenge")
    expect("PAR without PKCE -> 400 invalid_request", push(p, basic), 400, "invalid_request")
    expect("PAR with code_challenge_method=plain -> 400 invalid_request",
           push(par_params(code_challenge_method="plain"), basic), 400, "invalid_request")
    expect("PAR carrying a request_uri -> 400 invalid_request",
           push(par_params(request_uri="urn:ietf:params:oauth:request_uri:x"), basic), 400,
           "invalid_request")
    expect("PAR with a request object -> 400 request_not_supported",
           push(par_params(request="e30.e30."), basic), 400, "request_not_supported")
    r = raw_request("GET", T + "/par")
    check("GET /par -> 405 with Allow: POST", r.status == 405 and r.header("Allow") == "POST",
          repr(r))
    check("the refused pushed requests stored nothing (authreqs, codes, sessions, tokens)",
          store_counts() == before, "%s -> %s" % (before, store_counts()))

    # require_par: a plain request of parweb is refused (a page, no redirect).
    v, c = pkce()
    r = authorize(F, auth_params(client="parweb", challenge=c))
    check("a plain authorization request of a client that must push -> 400 page, no Location",
          r.status == 400 and r.header("Location") is None, repr(r))

    # The legitimate flow: push, then authorize with the request_uri.
    v, c = pkce()
    p = par_params(challenge=c)
    r = push(p, basic)
    d = r.json() if r.status == 201 else {}
    uri = d.get("request_uri", "")
    check("PAR with client_secret_basic -> 201 with request_uri (urn:...:request_uri:) and "
          "expires_in 60",
          r.status == 201 and uri.startswith("urn:ietf:params:oauth:request_uri:") and
          d.get("expires_in") == 60 and "no-store" in (r.header("Cache-Control") or ""),
          repr(r))
    r = authorize(F, {"client_id": "parweb", "request_uri": uri})
    q = redirect_params(r.header("Location"), R1) or {}
    check("authorize with the request_uri (signed in) -> a code with the pushed state and iss",
          r.status == 302 and q.get("code") and q.get("state") == p["state"] and
          q.get("iss") == ISS, repr(r))
    if q.get("code"):
        t = raw_request("POST", T + "/token", qs({
            "grant_type": "authorization_code", "code": q["code"], "redirect_uri": R1,
            "code_verifier": v}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic})
        check("-> exchanged by the confidential client with its secret and the verifier",
              t.status == 200 and t.json().get("id_token"), repr(t))
    r = authorize(F, {"client_id": "parweb", "request_uri": uri})
    check("the request_uri a second time -> 400 page, no Location",
          r.status == 400 and r.header("Location") is None, repr(r))

    # A public client pushes too (naming itself); its request_uri is its own.
    v, c = pkce()
    p = auth_params(challenge=c)
    r = push(p)
    uri = r.json().get("request_uri", "") if r.status == 201 else ""
    check("PAR by the public client (client_id alone) -> 201", r.status == 201 and uri,
          repr(r))
    r = authorize(F, {"client_id": "webapp2", "request_uri": uri})
    check("another client presenting that request_uri -> 400 page, no Location",
          r.status == 400 and r.header("Location") is None, repr(r))
    r = authorize(F, {"client_id": "webapp", "request_uri": uri})
    check("... which it also burnt: single use even after a misuse (400)",
          r.status == 400 and r.header("Location") is None, repr(r))
    r = authorize(F, {"client_id": "webapp",
                      "request_uri": "urn:ietf:params:oauth:request_uri:" + "A" * 22})
    check("an unknown request_uri -> 400 page", r.status == 400, repr(r))


def dpop_refresh(F):
    """RFC 9449 §5: a public client's refresh tokens issued with a DPoP
    proof are bound to that key; refreshing needs a proof of the same key,
    and a refusal rotates nothing."""
    section("8. DPoP-bound refresh tokens of a public client")
    import dpop_proof
    htu = ISS + "/token"
    nonce = [None]

    def dpop_token(form, key):
        """The token request with a proof of key (None: no proof), retried
        once with the server's DPoP-Nonce when it asks for one."""
        for _ in range(2):
            h = {"Content-Type": "application/x-www-form-urlencoded"}
            if key is not None:
                h["DPoP"] = dpop_proof.make(key, "ES256", "POST", htu, nonce=nonce[0])
            r = raw_request("POST", T + "/token", qs(form).encode(), h)
            if r.header("DPoP-Nonce"):
                nonce[0] = r.header("DPoP-Nonce")
            if not (r.status == 400 and r.json().get("error") == "use_dpop_nonce"):
                return r
        return r

    k1, k2 = dpop_proof.keygen("ES256"), dpop_proof.keygen("ES256")
    code, v, _ = code_flow(F)
    r = dpop_token({"grant_type": "authorization_code", "code": code, "redirect_uri": R1,
                    "code_verifier": v, "client_id": "webapp"}, k1)
    d = r.json() if r.status == 200 else {}
    if not check("code exchanged with a DPoP proof -> token_type DPoP and a refresh token",
                 d.get("token_type") == "DPoP" and d.get("refresh_token"), repr(r)):
        return
    rt = d["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": rt, "client_id": "webapp"}
    expect("its refresh token without a proof -> invalid_grant", dpop_token(form, None), 400,
           "invalid_grant", ["DPoP"])
    expect("its refresh token with a proof of another key -> invalid_grant",
           dpop_token(form, k2), 400, "invalid_grant", ["key"])
    r = dpop_token(form, k1)
    d = r.json() if r.status == 200 else {}
    check("with a proof of its own key -> 200, DPoP, rotated (the refusals rotated nothing)",
          r.status == 200 and d.get("token_type") == "DPoP" and d.get("refresh_token") and
          d["refresh_token"] != rt, repr(r))
    if d.get("refresh_token"):
        form["refresh_token"] = d["refresh_token"]
        expect("the rotated token stays bound: no proof -> invalid_grant",
               dpop_token(form, None), 400, "invalid_grant")
        r = dpop_token(form, k1)
        check("the rotated token with the key's proof -> 200",
              r.status == 200 and r.json().get("token_type") == "DPoP", repr(r))
    # An unbound family (no proof at the code exchange) refreshes without one.
    code, v, _ = code_flow(F)
    d = redeem(code, v).json()
    r = refresh(d.get("refresh_token", ""))
    check("a family issued without DPoP still refreshes as Bearer",
          r.status == 200 and r.json().get("token_type") == "Bearer", repr(r))


def logout_hint(alice):
    """RP-initiated logout with id_token_hint (RP-Initiated Logout 1.0 §2):
    the hint alone names the client whose registered URI is followed; a
    forged hint, another tenant's, an access token, or a client_id that is
    not the hint's is a 400 page; an expired ID token still names its
    client (injected clock)."""
    section("9. logout with id_token_hint")
    L = Browser()
    code, v, _ = code_flow(L, alice)
    d = redeem(code, v).json()
    idt, at = d.get("id_token", ""), d.get("access_token", "")
    if not check("an ID token for the logout checks", idt.count(".") == 2, repr(d)):
        return

    def logout_page(**params):
        return L.get(T + "/logout?" + qs(params))

    h, p, sig = idt.split(".")
    raw = bytearray(unb64u(sig))
    raw[5] ^= 1
    forged = h + "." + p + "." + b64u(bytes(raw))
    cases = [("a forged signature", {"id_token_hint": forged}),
             ("an access token", {"id_token_hint": at}),
             ("junk", {"id_token_hint": "not.a.jwt"}),
             ("a client_id that is not the hint's",
              {"id_token_hint": idt, "client_id": "webapp2"})]
    for name, params in cases:
        r = logout_page(post_logout_redirect_uri=R1, state="s1", **params)
        check("logout page with %s -> 400 page" % name,
              r.status == 400 and r.header("Location") is None,
              repr(r))
    r = logout_page(id_token_hint=idt, post_logout_redirect_uri=R1, state="s2")
    data = page_data(r.text)
    check("logout page with the hint alone -> 200, the hint's client (webapp) on the page",
          r.status == 200 and data.get("client") == "webapp" and
          data.get("post-logout-redirect-uri") == R1, "%r %s" % (r, data))

    r = L.post_json(T + "/logout", {"csrf": data.get("csrf", ""), "client_id": data.get("client"),
                                    "post_logout_redirect_uri": R1, "state": "s2"})
    check("signing out from that page -> back to the registered URI with state",
          r.status == 200 and r.json().get("location") == R1 + "?state=s2", repr(r))
    return idt, at


def expired_hint(hint):
    """Last (the clock stays moved, every session has idled out): an hour
    later, on the injected clock, the access token is expired at userinfo
    but the ID token, expired too, still names its client at logout."""
    section("an expired id_token_hint (injected clock)")
    idt, at = hint
    with open(CLOCK, "w") as f:
        f.write("%d\n" % (int(time.time()) + 3600))
    u = raw_request("GET", T + "/userinfo", None, {"Authorization": "Bearer " + at})
    check("the clock moved an hour: the grant's access token is expired at userinfo (401)",
          u.status == 401, repr(u))
    r = Browser().get(T + "/logout?" + qs({"id_token_hint": idt, "post_logout_redirect_uri": R1}))
    check("the ID token, expired an hour ago, still names its client at logout",
          r.status == 200 and page_data(r.text).get("client") == "webapp", repr(r))


def passwords(alice, bob):
    """A password is a first factor only (docs/people.md): setting one
    needs a recent sign-in and CSRF; a right password makes no session,
    only the options of that account's passkeys; the passkey ends the
    sign-in (amr pwd + hwk + mfa); another account's passkey is refused;
    a wrong password and an unknown name get the same answer in about the
    same time (one argon2id each); a name and an address are throttled."""
    section("10. passwords: a first step, never alone")
    P = Browser()
    r = signin(P, alice)
    if not check("alice signs in with her passkey (a fresh session)", r.status == 200, repr(r)):
        return
    csrf = csrf_of(P, T + "/account")
    pw = "correct horse battery staple"
    expect("setting a password without the CSRF token -> 403",
           P.post_json(T + "/account/password", {"password": pw}), 403, "invalid_request")
    expect("a password of 8 characters -> 400 (at least 12)",
           P.post_json(T + "/account/password", {"csrf": csrf, "password": "abcd1234"}), 400,
           "invalid_request", ["12"])
    expect("setting a password without a session -> 403 login_required",
           Browser().post_json(T + "/account/password", {"csrf": csrf, "password": pw}), 403)
    r = P.post_json(T + "/account/password", {"csrf": csrf, "password": pw})
    check("setting a password after a recent sign-in -> 200",
          r.status == 200 and r.json().get("password") is True, repr(r))
    check("the account page says a password is set",
          "A password is set" in P.get(T + "/account").text)
    check("the password is not in the log", pw not in log_text())

    Q = Browser()
    qcsrf = csrf_of(Q)

    def attempt(name, password, csrf=qcsrf, req="", b=Q):
        t0 = time.monotonic()
        r = b.post_json(T + "/signin/password",
                        {"csrf": csrf, "req": req, "name": name, "password": password})
        return r, time.monotonic() - t0

    expect("a password sign-in without the CSRF token -> 403",
           attempt("alice", pw, csrf="")[0], 403, "invalid_request")
    sessions = session_sids()
    wrong = [attempt("alice", "not the password at all")]
    unknown = [attempt("nobody-%d" % i, "not the password at all") for i in range(3)]
    wrong.append(attempt("alice", "still not the password"))
    same = all(r.status == 403 and r.body == wrong[0][0].body for r, _ in wrong + unknown)
    check("a wrong password and an unknown name: the same 403 access_denied, byte for byte",
          same and wrong[0][0].json().get("error") == "access_denied",
          "%r / %r" % (wrong[0][0], unknown[0][0]))
    tw, tu = min(t for _, t in wrong), min(t for _, t in unknown)
    check("... in about the same time (an unknown name costs an argon2id too): %.0f ms vs %.0f ms"
          % (tw * 1000, tu * 1000), tu >= tw / 3 and tw >= tu / 3)
    r, _ = attempt("alice", pw)
    pk = r.json().get("publicKey") if r.status == 200 else None
    ok = pk is not None and not any(k == COOKIE for k in r.set_cookies)
    check("the right password -> 200 with passkey options for alice's passkeys, and no session",
          ok and len(pk.get("allowCredentials", [])) >= 1 and session_sids() == sessions,
          repr(r))
    if pk is not None:
        other = bob.get_assertion(pk, cred_id=bob.credentials[-1].cred_id)
        expect("... answered with bob's passkey -> 400, no session",
               signin_post(Q, qcsrf, other), 400, "invalid_request", ["not the one"])
        check("(no session was made)", session_sids() == sessions)

    # The whole flow for an application: password, then the passkey, then a code.
    v, c = pkce()
    r = authorize(Q, auth_params(challenge=c))
    loc = r.header("Location") or ""
    req = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("req", [""])[0]
    qcsrf2 = csrf_of(Q, T + "/signin?req=" + req)
    r, _ = attempt("alice", pw, csrf=qcsrf2, req=req)
    pk = r.json().get("publicKey") if r.status == 200 else None
    if check("authorize -> sign-in page -> the password with the request", pk is not None, repr(r)):
        r = signin_post(Q, qcsrf2, alice.get_assertion(pk), req)
        q = redirect_params(r.json().get("location"), R1) or {}
        t = redeem(q.get("code", ""), v)
        idt = t.json().get("id_token", "") if t.status == 200 else ""
        claims = json.loads(unb64u(idt.split(".")[1])) if idt.count(".") == 2 else {}
        check("-> the passkey ends it: a code, and the ID token's amr has pwd, a key and mfa",
              set(claims.get("amr", [])) >= {"pwd", "mfa"} and
              ({"hwk", "swk"} & set(claims.get("amr", []))),
              "%r %s" % (t, claims.get("amr")))

    # Throttling: alice's name has had 4 attempts within the minute, a 5th
    # (wrong) fills its budget; the 6th, with the right password, gets the
    # one answer (and costs the same).
    expect("a 5th attempt for alice's name, wrong -> 403", attempt("alice", "wrong again!!")[0],
           403, "access_denied")
    r, _ = attempt("alice", pw)
    expect("a 6th attempt for the name within a minute, right password -> the same 403",
           r, 403, "access_denied")
    # The address: 20 attempts, then 429 with Retry-After.
    statuses = [attempt("nobody-%d" % i, "x" * 12)[0] for i in range(10, 29)]
    last = statuses[-1]
    check("more than 20 attempts from one address -> 429 with Retry-After",
          any(x.status == 429 for x in statuses) and last.status == 429 and
          int(last.header("Retry-After") or 0) > 0, repr(last))
    check("throttling is logged without a password",
          "password_throttled" in log_text() and pw not in log_text())
    r = P.post_json(T + "/account/password", {"csrf": csrf, "remove": True})
    check("removing the password (recent sign-in) -> 200, the page says none",
          r.status == 200 and "No password" in P.get(T + "/account").text, repr(r))


def code_expiry(F):
    """Codes live 60 s (the store's expiry also has unit tests): on the
    injected clock of a testing build (testing.clock_file), a code 59 s old
    is still good and one 62 s old is refused. Last: the clock stays moved."""
    section("the code after 60 s (injected clock)")
    (c1, v1, _), (c2, v2, _) = code_flow(F), code_flow(F)
    now = int(time.time())

    def set_clock(t):
        with open(CLOCK, "w") as f:  # rewritten in place (the sandboxes allow that file)
            f.write("%d\n" % t)

    set_clock(now + 59)
    r = redeem(c1, v1)
    check("a code 59 s old (injected clock) is still exchanged", r.status == 200, repr(r))
    set_clock(now + 62)
    expect("a code 62 s old -> invalid_grant", redeem(c2, v2), 400, "invalid_grant")


def main():
    alice = SoftAuthenticator("localhost", ORIGIN)
    bob = SoftAuthenticator("localhost", ORIGIN)
    A = run("enrolment", enrolment, alice)
    B = A and run("bob's enrolment", bob_enrol, bob)
    F = B and run("sign-in", signins, alice, A, bob, B)
    if F:
        run("authorize", authorize_checks, F)
        run("malformed", malformed, A)
        run("mix-up", mixup, F, alice)
        run("token endpoint", token_checks, F, alice)
        run("disabled user", disabled_user, bob)
        run("PAR", par, F)
        run("DPoP refresh", dpop_refresh, F)
        hint = run("logout hint", logout_hint, alice)
        run("passwords", passwords, alice, bob)
        run("the legitimate flow", legit_end_to_end, alice)
        run("code expiry", code_expiry, F)
        if hint:
            run("expired hint", expired_hint, hint)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all attack checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
