#!/usr/bin/env python3
"""Token requests (client_secret_basic) from THREADS keep-alive connections
for SECONDS, each answer written to OUT as "<monotonic seconds> <status>"
("000" when the connection failed). Also polls /readyz every 100 ms into
OUT.readyz the same way. Bounded in time; 127.0.0.1 only.

usage: load_driver.py PORT CLIENT_ID SECRET THREADS SECONDS OUT
"""
import base64
import http.client
import sys
import threading
import time

port, client, secret, threads, seconds, out = sys.argv[1:7]
port, threads, seconds = int(port), int(threads), float(seconds)
auth = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
body = "grant_type=client_credentials"
deadline = time.monotonic() + seconds
lock = threading.Lock()
results, ready = [], []


def worker():
    conn = None
    while time.monotonic() < deadline:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            conn.request("POST", "/t/default/token", body, headers)
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = None
            time.sleep(0.05)
        with lock:
            results.append((time.monotonic(), status))


def poll_ready():
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            c.request("GET", "/readyz")
            r = c.getresponse()
            r.read()
            status = r.status
            c.close()
        except (OSError, http.client.HTTPException):
            status = 0
        with lock:
            ready.append((time.monotonic(), status))
        time.sleep(0.1)


ts = [threading.Thread(target=worker) for _ in range(threads)]
ts.append(threading.Thread(target=poll_ready))
for t in ts:
    t.start()
for t in ts:
    t.join()
with open(out, "w") as f:
    for t, s in results:
        f.write(f"{t:.3f} {s:03d}\n")
with open(out + ".readyz", "w") as f:
    for t, s in ready:
        f.write(f"{t:.3f} {s:03d}\n")
