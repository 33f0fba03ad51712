#!/usr/bin/env bash
# Installs what signet needs to build, test and run (Debian/Ubuntu). Idempotent:
# does nothing when every package is already present.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang clang-tidy cppcheck
  libssl-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
  libsqlite3-dev libpq-dev libseccomp-dev libcmocka-dev libinih-dev libargon2-dev libcbor-dev libfido2-dev
  libqrencode-dev
  libp11-kit-dev p11-kit softhsm2 opensc curl sqlite3 oathtool
  python3 python3-jwt python3-cryptography
  prometheus chromium fonts-dejavu-core
  systemd util-linux
)
# Node.js and npm for the interop tests' npm clients (jose, openid-client,
# oauth4webapi, dpop): Debian's only when the machine has none of its own.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
