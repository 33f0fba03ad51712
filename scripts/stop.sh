#!/usr/bin/env bash
# `make stop`: stops the signetd started by `make run` (SIGTERM, which lets
# in-flight requests finish, then waits for it to exit).
set -euo pipefail
cd "$(dirname "$0")/.."
pidfile=$(pwd)/.signet/signetd.pid
quiet=${1:-}
say() { [ "$quiet" = --quiet ] || echo "$@"; }
# The demo relying party of `make run` (scripts/demo_rp.py).
rp_pid=$(pwd)/.signet/demo-rp.pid
if [ -f "$rp_pid" ]; then
  p=$(cat "$rp_pid")
  if grep -q demo_rp "/proc/$p/cmdline" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  rm -f "$rp_pid"
fi
if [ ! -f "$pidfile" ]; then
  say "stop: signetd is not running (no $pidfile)"
  exit 0
fi
pid=$(cat "$pidfile")
# Only signal the process if it still is our signetd (the pid may be reused).
if ! kill -0 "$pid" 2>/dev/null || ! grep -q signetd "/proc/$pid/comm" 2>/dev/null; then
  rm -f "$pidfile"
  say "stop: signetd is not running"
  exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 150); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop: signetd (pid $pid) did not exit within 15 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
say "stop: signetd stopped"
