#!/usr/bin/env bash
# The README's complete libsignet example must be examples/verify_example.c,
# which the build compiles: the documented program is the one that builds.
set -euo pipefail
cd "$(dirname "$0")/.."
got=$(awk '/<!-- example:begin -->/{f=1;next} /<!-- example:end -->/{f=0} f' README.md | sed '1d;$d')
if [ "$got" != "$(cat examples/verify_example.c)" ]; then
  echo "README: the libsignet example differs from examples/verify_example.c" >&2
  exit 1
fi
echo "readme: example in sync"
