#!/usr/bin/env python3
"""A webhook receiver for the alert tests, on 127.0.0.1 and a random port.

usage: webhook_receiver.py LOG MODE [FAIL_FIRST [FAIL_STATUS]]

MODE "ok": answers POSTs; the first FAIL_FIRST requests get FAIL_STATUS
(default 500), the rest 200. Every request is appended to LOG as one JSON
line {"t": monotonic seconds, "status": answered, "body": request body}.
MODE "blackhole": accepts connections and never answers.
The port is printed on the first line of stdout.
"""
import http.server
import json
import socket
import sys
import threading
import time

log_path, mode = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
fail_status = int(sys.argv[4]) if len(sys.argv) > 4 else 500
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with lock:
            count += 1
            status = fail_status if count <= fail_first else 200
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"t": time.monotonic(), "status": status,
                                    "type": self.headers.get("Content-Type", ""),
                                    "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if mode == "blackhole":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
else:
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
