#!/usr/bin/env bash
# Runs every libFuzzer target of a -DSIGNET_FUZZ=ON build for a while.
#
#   scripts/fuzz.sh [BUILD_DIR [SECONDS [TARGET...]]]
#
# Each BUILD_DIR/fuzz/fuzz_* binary runs for SECONDS (default 30) on a
# scratch copy of fuzz/corpus/<target>/, so the committed seeds never change.
# Crash, leak, timeout and OOM inputs are kept in
# BUILD_DIR/fuzz-findings/<target>/ with the fuzzer's log; the script prints
# how to replay each one and exits non-zero if any target found one.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-30}
shift $(($# > 2 ? 2 : $#))

case $seconds in
  '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
[ -d "$build/fuzz" ] || { echo "fuzz: no $build/fuzz (build with -DSIGNET_FUZZ=ON)" >&2; exit 2; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz_* binaries in $build/fuzz" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/signet-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
findings_root="$build/fuzz-findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for name in "${targets[@]}"; do
  bin="$build/fuzz/$name"
  seeds="fuzz/corpus/$name"
  [ -x "$bin" ] || { echo "fuzz: $bin is missing" >&2; failed+=("$name"); continue; }
  corpus="$scratch/$name"
  mkdir -p "$corpus"
  [ -d "$seeds" ] && cp -R "$seeds/." "$corpus/"
  findings="$findings_root/$name"
  rm -rf "$findings"
  mkdir -p "$findings"
  log="$findings/fuzz.log"
  printf 'fuzz: %-14s %4ss ... ' "$name" "$seconds"
  rc=0
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || rc=$?
  artifacts=$(find "$findings" -maxdepth 1 -type f \
                \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
              sort)
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
    echo "FAILED (exit $rc)"
    failed+=("$name")
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/    /' || true
    for a in $artifacts; do
      echo "    input: $a  (replay: $bin $a)"
    done
    echo "    log:   $log"
  else
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "ok (${execs:-?} runs, corpus $(find "$corpus" -type f | wc -l) inputs)"
    rm -rf "$findings"
  fi
done
rmdir "$findings_root" 2>/dev/null || true

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
echo "fuzz: clean"
