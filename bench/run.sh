#!/usr/bin/env bash
# `make bench`: builds signet in release mode in its own build directory,
# installs the peer libraries (Debian packages, npm jose), runs every
# workload in bench/workloads/ and writes the tables to bench/results/.
#
#   BENCH_QUICK=1   0.1 s per measurement, 3 repetitions, no callgrind
#                   profile, only libsignet rebuilt; results go to
#                   bench/results/quick/ (not committed). Under a minute once
#                   the build exists.
#   BENCH_ONLY=RE   run only the workloads whose file name matches RE
#                   (results in bench/results/only/, not committed)
#   BENCH_BUILD=DIR build directory (default build-bench)
#   JOBS=N          parallel build jobs (default nproc)
#
# See bench/README.md for the workloads, their references and how to add one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=${BENCH_QUICK:-0}
build=${BENCH_BUILD:-build-bench}
jobs=${JOBS:-$(nproc)}
if [ "$quick" = 1 ]; then
  budget=0.1 reps=3 out=bench/results/quick mode="quick (BENCH_QUICK=1: 0.1 s per measurement, 3 repetitions)"
else
  budget=0.5 reps=5 out=bench/results mode="full (0.5 s per measurement after a 0.125 s warm-up, 5 repetitions)"
fi
# A partial run must not overwrite the committed results of a full one.
[ -z "${BENCH_ONLY:-}" ] || out=$out/only
start=$(date +%s)
log() { echo "bench: $*" >&2; }

# ---- peers and tools (Debian packages, npm) --------------------------------
bash scripts/deps.sh
pkgs=(libcjose-dev libjwt-dev python3-jwt python3-cryptography valgrind)
# node and npm may come from elsewhere than Debian's packages.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_dir=$root/$build/node
if command -v npm >/dev/null && [ ! -f "$node_dir/node_modules/jose/package.json" ]; then
  log "npm install jose@5 into $node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --silent jose@5 >/dev/null 2>&1 ||
    log "npm install jose failed: the jose column will be n/a"
fi

# ---- build (release) ---------------------------------------------------------
# -g only adds debug information (for the callgrind breakdown); the code is
# the Release build's (-O3 -DNDEBUG plus the project's hardening flags).
# SIGNET_TESTING=ON: the rotation benchmark (bench/issuance) needs
# [testing] allow_short_rotation for its 5 s rotation period.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DSIGNET_TESTING=ON >/dev/null
build_note="everything (cmake --build $build)"
if [ "$quick" = 1 ]; then
  cmake --build "$build" -j "$jobs" --target signet_static >/dev/null
  build_note="libsignet only (quick mode)"
elif ! cmake --build "$build" -j "$jobs" >"$build/bench-build.log" 2>&1; then
  # Work in progress elsewhere in the tree must not stop the benchmarks of
  # the library: say so in the results and build what they need.
  log "full build failed (see $build/bench-build.log); building libsignet only"
  cmake --build "$build" -j "$jobs" --target signet_static >/dev/null
  build_note="libsignet only: the full build failed ($(grep -m1 -E 'error' "$build/bench-build.log" | sed 's/[|]/\\|/g' | cut -c1-160))"
fi

bindir=$build/bench
mkdir -p "$bindir"
peer_flags=() peer_libs=()
for pc in cjose libjwt; do
  if pkg-config --exists "$pc"; then
    peer_flags+=("-DHAVE_$(echo "$pc" | tr a-z A-Z)")
    peer_libs+=($(pkg-config --libs "$pc"))
  fi
done
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wvla \
  -Wmissing-prototypes -Werror -Iinclude "${peer_flags[@]}" bench/src/*.c \
  "$build/lib/libsignet.a" "${peer_libs[@]}" $(pkg-config --libs libcrypto jansson libcurl) \
  -lpthread -lm -o "$bindir/signet-bench"

fixtures=$bindir/fixtures
rm -rf "$fixtures" && mkdir -p "$fixtures"
"$bindir/signet-bench" fixtures "$fixtures"

# ---- environment handed to the workloads -----------------------------------
python=
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import jwt, cryptography' 2>/dev/null; then
    python=$py && break
  fi
done
if [ -n "$(command -v node || true)" ] && [ -f "$node_dir/node_modules/jose/package.json" ]; then
  cp bench/peers/jose_bench.mjs "$node_dir/" # ESM resolves 'jose' next to the script
else
  node_dir=
fi
export BENCH_BIN=$root/$bindir/signet-bench BENCH_FIXTURES=$root/$fixtures BENCH_BUDGET=$budget
export BENCH_REPS=$reps BENCH_QUICK=$quick BENCH_BUILD=$root/$build BENCH_PYTHON=$python
export BENCH_NODE_DIR=$node_dir
export BENCH_PYJWT_VERSION=$([ -n "$python" ] && "$python" -c 'import jwt; print(jwt.__version__)' || echo -)
export BENCH_JOSE_VERSION=$([ -n "$node_dir" ] && node -p "require('$node_dir/node_modules/jose/package.json').version" || echo -)

raw=$build/bench-records.tsv
: >"$raw"
meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$raw"; }
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo -; }
meta "date" "$(date -u '+%Y-%m-%d %H:%M UTC') (commit $(git rev-parse --short HEAD 2>/dev/null || echo -))"
meta "mode" "$mode"
meta "machine" "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -q hypervisor /proc/cpuinfo && echo 'virtual machine' || echo 'bare metal')"
meta "kernel" "$(uname -sr)"
meta "compiler" "$(cc --version | head -1)"
meta "libraries" "OpenSSL $(pkg-config --modversion libcrypto), jansson $(pkg-config --modversion jansson), cjose $(ver libcjose0), libjwt $(ver libjwt0), PyJWT $BENCH_PYJWT_VERSION ($( [ -n "$python" ] && "$python" --version 2>&1)), npm jose $BENCH_JOSE_VERSION (node $(node --version 2>/dev/null || echo -))"
meta "build" "$build_note"
meta "load average at start" "$(cut -d' ' -f1-3 /proc/loadavg)"

for wl in bench/workloads/*.sh; do
  if [ -n "${BENCH_ONLY:-}" ] && ! [[ $(basename "$wl") =~ $BENCH_ONLY ]]; then
    continue
  fi
  log "running $(basename "$wl")"
  bash "$wl" | tee -a "$raw" | awk -F'\t' '$1 == "sample" {printf "  %-8s %-8s %-16s rep %s: %s ops/s\n", $2, $3, $4, $5, $6}' >&2
done
meta "load average at end" "$(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$out"
python3 bench/report.py "$raw" "$out"
cp "$raw" "$out/latest.tsv"
if [ "$quick" != 1 ] && command -v valgrind >/dev/null && [ -z "${BENCH_ONLY:-}" ]; then
  log "callgrind instruction profile"
  bash bench/profile.sh "$bindir/signet-bench" "$fixtures" "$out/profile.md"
  { echo; cat "$out/profile.md"; } >>"$out/latest.md"
fi
log "done in $(( $(date +%s) - start )) s: $out/latest.md"
sed -n '/^## Targets/,/^## [^T]/p' "$out/latest.md" | sed '$d' >&2

# Issuance (signetd end to end, rotation, memory: bench/issuance/run.sh, its
# own report bench/results[/quick]/issuance.md). BENCH_ONLY=issuance runs it alone.
if [ -z "${BENCH_ONLY:-}" ] || [[ issuance =~ $BENCH_ONLY ]]; then
  BENCH_BUILD=$root/$build bash bench/issuance/run.sh || log "issuance benchmarks failed"
fi
