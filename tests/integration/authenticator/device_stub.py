#!/usr/bin/env python3
"""A stand-in for signetd's approver endpoints (docs/authenticator.md), for
test_authenticator.sh: it checks every `Signet-Device` proof it receives
with PyJWT + cryptography (an implementation independent of signet's) and
answers as the server would.

  device_stub.py STATE_DIR

Listens on 127.0.0.1 (a free port, written to STATE_DIR/port), issuer
http://127.0.0.1:PORT/t/default. One-time enrolment code "ENROL-123456".
One pending approval, "a1" (number 42), and "gone" (expired: 410). Every
proof's verdict and every answer are appended to STATE_DIR/log as JSON
lines; a proof that fails a check gets 401 with the reason.
"""
import base64
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
from jwt.algorithms import ECAlgorithm

STATE = sys.argv[1]
CODE = "ENROL-123456"
TENANT = "/t/default"
devices = {}  # device id -> public JWK (dict)
seen_jti = set()
used_codes = set()


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def thumbprint(jwk):
    """RFC 7638 §3.2, computed here."""
    text = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                      sort_keys=True)
    return b64u(hashlib.sha256(text.encode()).digest())


def log(entry):
    with open(os.path.join(STATE, "log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


class Refused(Exception):
    pass


def check_proof(proof, method, url, body, registering):
    """Returns the device id the proof is by; raises Refused."""
    if not proof:
        raise Refused("no Signet-Device header")
    header = jwt.get_unverified_header(proof)
    if header.get("typ") != "signet-device+jwt" or header.get("alg") != "ES256":
        raise Refused("typ or alg")
    if registering:
        if set(header) != {"typ", "alg", "jwk"}:
            raise Refused("registration header members: %s" % sorted(header))
        jwk = header["jwk"]
        if set(jwk) != {"kty", "crv", "x", "y"} or jwk["kty"] != "EC" or jwk["crv"] != "P-256":
            raise Refused("jwk must be kty, crv, x, y of P-256")
        device = thumbprint(jwk)
    else:
        if set(header) != {"typ", "alg", "kid"}:
            raise Refused("header members: %s" % sorted(header))
        device = header["kid"]
        if device not in devices:
            raise Refused("unknown device")
        jwk = devices[device]
    key = ECAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(proof, key=key, algorithms=["ES256"],
                        options={"require": ["iat", "jti"], "verify_aud": False})
    if set(claims) != {"htm", "htu", "iat", "jti", "bh"}:
        raise Refused("claims: %s" % sorted(claims))
    if claims["htm"] != method:
        raise Refused("htm")
    if claims["htu"] != url:
        raise Refused("htu %r, wanted %r" % (claims["htu"], url))
    if not isinstance(claims["iat"], int) or abs(claims["iat"] - time.time()) > 60:
        raise Refused("iat")
    if len(b64u_decode(claims["jti"])) < 16:
        raise Refused("jti shorter than 16 bytes")
    if (device, claims["jti"]) in seen_jti:
        raise Refused("jti replayed")
    seen_jti.add((device, claims["jti"]))
    if claims["bh"] != b64u(hashlib.sha256(body).digest()):
        raise Refused("bh")
    # The signature, once more, by hand: r || s of 64 bytes (RFC 7518 §3.4).
    if len(b64u_decode(proof.split(".")[2])) != 64:
        raise Refused("signature is not 64 bytes")
    return device, jwk


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, err, desc):
        self.reply(status, {"error": err, "error_description": desc})

    def handle_any(self, method):
        port = self.server.server_address[1]
        path = self.path
        url = "http://127.0.0.1:%d%s" % (port, path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        registering = path == TENANT + "/approver/register"
        try:
            device, jwk = check_proof(self.headers.get("Signet-Device"), method, url, body,
                                      registering)
        except Exception as e:  # PyJWT's errors and ours
            log({"path": path, "proof": "refused", "why": str(e)})
            return self.error(401, "invalid_proof", "device proof refused: %s" % e)
        log({"path": path, "proof": "ok", "device": device})
        if registering and method == "POST":
            req = json.loads(body)
            if req.get("code") != CODE or CODE in used_codes:
                return self.error(403, "access_denied", "the enrolment code is wrong or used")
            used_codes.add(CODE)
            devices[device] = jwk
            log({"registered": device, "name": req.get("name")})
            return self.reply(201, {"device_id": device, "user": "alice"})
        if path == TENANT + "/approver/pending" and method == "GET":
            now = int(time.time())
            return self.reply(200, {"approvals": [{
                "id": "a1", "client": "demo-app",
                "client_name": "Demo \x1b[31mApp\u202e",
                "address": "203.0.113.7", "location": "Zurich, CH",
                "created_at": now - 5, "expires_at": now + 115}]})
        if path == TENANT + "/approver/answer" and method == "POST":
            req = json.loads(body)
            log({"answer": req})
            if req.get("id") == "gone":
                return self.error(410, "expired", "this sign-in has expired")
            if req.get("id") != "a1":
                return self.error(404, "not_found", "no such sign-in")
            d = req.get("decision")
            if d == "approve":
                return self.reply(200, {"result": "approved" if req.get("number") == "42"
                                        else "wrong_number"})
            if d == "deny":
                return self.reply(200, {"result": "denied"})
            if d == "not_me":
                return self.reply(200, {"result": "reported"})
            return self.error(400, "invalid_request", "decision")
        return self.error(404, "not_found", "no such endpoint")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    srv = HTTPServer(("127.0.0.1", 0), Handler)
    with open(os.path.join(STATE, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
