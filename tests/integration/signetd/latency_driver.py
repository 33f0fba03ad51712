#!/usr/bin/env python3
"""Token requests and JWKS fetches side by side, each timed: THREADS
keep-alive connections ask for tokens (client_secret_basic), JWKS_THREADS
fetch the tenant's JWKS on fresh connections, and one polls /readyz, for
SECONDS. Prints one JSON line: per kind, the count, the statuses seen and
the slowest answer in seconds. 127.0.0.1 only, bounded in time.

usage: latency_driver.py PORT CLIENT_ID SECRET THREADS JWKS_THREADS SECONDS
"""
import base64
import http.client
import json
import sys
import threading
import time

port, client, secret, threads, jthreads, seconds = sys.argv[1:7]
port, threads, jthreads, seconds = int(port), int(threads), int(jthreads), float(seconds)
auth = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
deadline = time.monotonic() + seconds
lock = threading.Lock()
stats = {k: {"n": 0, "codes": {}, "max_s": 0.0} for k in ("token", "jwks", "readyz")}


def record(kind, status, took):
    with lock:
        s = stats[kind]
        s["n"] += 1
        s["codes"][str(status)] = s["codes"].get(str(status), 0) + 1
        s["max_s"] = max(s["max_s"], round(took, 3))


def one(conn, kind, method, path, body=None, hdrs=None):
    t0 = time.monotonic()
    try:
        conn.request(method, path, body, hdrs or {})
        r = conn.getresponse()
        r.read()
        status = r.status
    except (OSError, http.client.HTTPException):
        status = 0
    record(kind, status, time.monotonic() - t0)
    return status


def tokens():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        if one(conn, "token", "POST", "/t/default/token", "grant_type=client_credentials",
               headers) == 0:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def fresh(kind, path, pause):
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        one(conn, kind, "GET", path)
        conn.close()
        time.sleep(pause)


ts = [threading.Thread(target=tokens) for _ in range(threads)]
ts += [threading.Thread(target=fresh, args=("jwks", "/t/default/jwks.json", 0.02))
       for _ in range(jthreads)]
ts.append(threading.Thread(target=fresh, args=("readyz", "/readyz", 0.1)))
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps(stats, sort_keys=True))
