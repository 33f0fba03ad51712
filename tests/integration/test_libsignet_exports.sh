#!/usr/bin/env bash
# libsignet packaging: the shared library exports exactly the symbols listed
# in lib/libsignet.map; every public header compiles on its own (C, and C++
# when a C++ compiler exists); `cmake --install` honours the prefix and
# DESTDIR; the installed pkg-config file builds the example program against
# the shared and the static library.
set -euo pipefail
: "${SIGNET_SOURCE_DIR:?}" "${SIGNET_BUILD_DIR:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-exports.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Build the example the way this build tree was built (same compiler, same
# sanitizer runtime), or a sanitized libsignet cannot be linked.
cache=$SIGNET_BUILD_DIR/CMakeCache.txt
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache" 2>/dev/null | head -1)
cc=${cc:-${CC:-cc}}
san=()
grep -q '^SIGNET_SANITIZE:BOOL=ON' "$cache" 2>/dev/null && san=(-fsanitize=address,undefined)
grep -q '^SIGNET_TSAN:BOOL=ON' "$cache" 2>/dev/null && san=(-fsanitize=thread)

so=$SIGNET_BUILD_DIR/lib/libsignet.so
[ -e "$so" ] || fail "no $so (build signet_shared)"
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRW]$/ {sub(/@.*/, "", $3); print $3}' | sort -u >"$work/exported"
sed -n 's/^[[:space:]]*\(signet_[a-z0-9_]*\);.*/\1/p' "$SIGNET_SOURCE_DIR/lib/libsignet.map" | sort -u >"$work/listed"
diff -u "$work/listed" "$work/exported" || fail "exports differ from lib/libsignet.map"
grep -q . "$work/listed" || fail "empty export list"
# Every exported function is declared in a public header.
while read -r sym; do
  grep -q "\b$sym\b" "$SIGNET_SOURCE_DIR"/include/signet/*.h || fail "$sym is not in include/signet"
done <"$work/listed"

for h in "$SIGNET_SOURCE_DIR"/include/signet/*.h; do
  name=$(basename "$h")
  printf '#include <signet/%s>\n#include <signet/%s>\nint main(void) { return 0; }\n' "$name" "$name" >"$work/h.c"
  "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -I "$SIGNET_SOURCE_DIR/include" -fsyntax-only "$work/h.c" ||
    fail "$name does not compile on its own"
  if command -v c++ >/dev/null 2>&1 && c++ --version >/dev/null 2>&1; then
    cp "$work/h.c" "$work/h.cc"
    c++ -Wall -Wextra -Werror -I "$SIGNET_SOURCE_DIR/include" -fsyntax-only "$work/h.cc" ||
      fail "$name does not compile as C++"
  fi
done

DESTDIR=$work/root cmake --install "$SIGNET_BUILD_DIR" --component libsignet --prefix /opt/signet >/dev/null
root=$work/root/opt/signet
[ -f "$root/include/signet/signet.h" ] || fail "headers not installed under the prefix"
[ -f "$root/include/signet/verify.h" ] && [ -f "$root/include/signet/error.h" ] || fail "headers"
pc=$(find "$root" -name signet.pc | head -1)
[ -n "$pc" ] || fail "signet.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libsignet.so* "$libdir"/libsignet.a >/dev/null || fail "libraries not installed in $libdir"
[ ! -e "$root/bin/verify_example" ] || fail "the example must not be installed"
[ ! -e "$root/bin/resource_server" ] || fail "the example resource server must not be installed"
grep -q '^prefix=/opt/signet$' "$pc" || fail "pc prefix: $(grep ^prefix "$pc")"

export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$work/root
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror "$SIGNET_SOURCE_DIR/examples/verify_example.c" \
  $(pkg-config --cflags --libs signet) -o "$work/example_shared"
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror "$SIGNET_SOURCE_DIR/examples/verify_example.c" \
  $(pkg-config --cflags signet) "$libdir/libsignet.a" $(pkg-config --libs libcrypto jansson libcurl) -lpthread -lm \
  -o "$work/example_static"
# The example resource server builds against the installed library as its
# header comment says (libmicrohttpd from the system).
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror "$SIGNET_SOURCE_DIR/examples/resource_server.c" \
  $(pkg-config --cflags --libs signet libmicrohttpd) -lpthread -o "$work/rs_shared"
rc=0
LD_LIBRARY_PATH=$libdir "$work/rs_shared" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "resource_server without arguments: exit $rc, wanted 2"
for ex in example_shared example_static; do
  rc=0
  LD_LIBRARY_PATH=$libdir "$work/$ex" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$ex without arguments: exit $rc, wanted 2"
  rc=0
  out=$(LD_LIBRARY_PATH=$libdir "$work/$ex" https://i.example aud \
        "$SIGNET_SOURCE_DIR/tests/attacks/jwks_a.json" "e30.e30.AAAA" 2>/dev/null) || rc=$?
  [ "$rc" = 1 ] || fail "$ex on a bad token: exit $rc, wanted 1"
  grep -q "invalid: SIGNET_ERR_" <<<"$out" || fail "$ex output: $out"
done
# Capture first: `ldd | grep -q` under pipefail fails when grep exits early
# and ldd gets SIGPIPE.
deps=$(LD_LIBRARY_PATH=$libdir ldd "$work/example_shared")
grep -qF "$libdir/libsignet.so" <<<"$deps" ||
  fail "example_shared is not linked against the installed libsignet.so"
echo "exports: $(wc -l <"$work/listed") symbols as listed; headers standalone; install + pkg-config OK"
