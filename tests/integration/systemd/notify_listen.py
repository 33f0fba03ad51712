#!/usr/bin/env python3
"""A stand-in for systemd's $NOTIFY_SOCKET: binds a datagram socket at
argv[1] and appends "PID MESSAGE" for every datagram to argv[2], the sender's
pid taken from its credentials (SO_PASSCRED), the way systemd checks
NotifyAccess=main."""
import socket
import struct
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        for line in msg.decode(errors="replace").splitlines():
            out.write(f"{pid} {line}\n")
