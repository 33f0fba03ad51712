#!/usr/bin/env python3
"""The demo relying party of `make run` (a public client, "demo-web"):
authorization code + PKCE (S256) against signetd, on http://localhost:8081.

  demo_rp.py authorize STATE_DIR ISSUER   prints a fresh authorization URL
                                          (its PKCE verifier, state and nonce
                                          kept in STATE_DIR/demo-web.pending)
  demo_rp.py serve STATE_DIR ISSUER PORT  answers /callback (exchanges the
                                          code, shows the ID token's claims)
                                          and /login (a fresh sign-in)

Standard library only; nothing here is needed by signetd itself."""
import base64
import hashlib
import html
import http.server
import json
import os
import secrets
import sys
import urllib.parse
import urllib.request

CLIENT = "demo-web"


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pending_path(state):
    return os.path.join(state, "demo-web.pending")


def authorize_url(state, issuer, port):
    verifier = b64(secrets.token_bytes(32))
    pending = {"verifier": verifier, "state": b64(secrets.token_bytes(16)),
               "nonce": b64(secrets.token_bytes(16))}
    with open(pending_path(state), "w") as f:
        os.chmod(pending_path(state), 0o600)
        json.dump(pending, f)
    q = {
        "response_type": "code", "client_id": CLIENT,
        "redirect_uri": "http://localhost:%d/callback" % port,
        "scope": "openid demo.read", "state": pending["state"], "nonce": pending["nonce"],
        "code_challenge": b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    return issuer + "/authorize?" + urllib.parse.urlencode(q)


def claims(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def main():
    cmd, state, issuer = sys.argv[1], sys.argv[2], sys.argv[3]
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 8081
    if cmd == "authorize":
        print(authorize_url(state, issuer, port))
        return

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def page(self, status, body):
            data = ("<!doctype html><meta charset=utf-8><title>signet demo</title>"
                    "<body style='font-family:sans-serif;max-width:50rem;margin:2rem auto'>"
                    + body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            if u.path == "/login":
                self.send_response(303)
                self.send_header("Location", authorize_url(state, issuer, port))
                self.end_headers()
                return
            if u.path != "/callback":
                self.page(404, "<p>Not found. <a href='/login'>Sign in</a></p>")
                return
            q = dict(urllib.parse.parse_qsl(u.query))
            try:
                with open(pending_path(state)) as f:
                    pending = json.load(f)
                os.unlink(pending_path(state))
            except OSError:
                self.page(400, "<p>No sign-in is pending. <a href='/login'>Sign in</a></p>")
                return
            if "error" in q:
                self.page(400, "<p>signet said: %s</p>" % html.escape(
                    q.get("error", "") + ": " + q.get("error_description", "")))
                return
            if q.get("state") != pending["state"] or q.get("iss") != issuer:
                self.page(400, "<p>state or iss does not match: refused.</p>")
                return
            form = urllib.parse.urlencode({
                "grant_type": "authorization_code", "code": q.get("code", ""),
                "redirect_uri": "http://localhost:%d/callback" % port,
                "client_id": CLIENT, "code_verifier": pending["verifier"]}).encode()
            req = urllib.request.Request(issuer + "/token", data=form, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    tokens = json.load(r)
            except urllib.error.HTTPError as e:
                self.page(400, "<p>Token request refused: %s</p>" % html.escape(e.read().decode()))
                return
            idt = claims(tokens["id_token"])
            if idt.get("nonce") != pending["nonce"]:
                self.page(400, "<p>nonce does not match: refused.</p>")
                return
            self.page(200, "<h1>Signed in</h1><p>The ID token's claims (its signature is "
                      "checked by relying parties with the JWKS at %s/jwks.json):</p><pre>%s</pre>"
                      "<p>The access token's claims:</p><pre>%s</pre><p><a href='/login'>Sign in "
                      "again</a></p>" % (html.escape(issuer),
                                         html.escape(json.dumps(idt, indent=2)),
                                         html.escape(json.dumps(claims(tokens["access_token"]),
                                                                indent=2))))

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
