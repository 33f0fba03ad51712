#!/usr/bin/env bash
# Banned-call lint (STYLE.md): unbounded copies/formats, strtok, ato*, scanf,
# alloca, VLAs, rand, system, memcmp on secrets. A waiver is a comment on the
# same line: "/* lint: allow <reason> */".
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|atof|scanf|sscanf|fscanf|alloca|rand|srand|system)[[:space:]]*\('
hits=$(grep -rnE "$pattern" --include='*.c' --include='*.h' include lib src tests fuzz bench examples 2>/dev/null |
       grep -v 'lint: allow' || true)
if [ -n "$hits" ]; then
  echo "lint: banned calls (add a reasoned '/* lint: allow ... */' waiver or rewrite):"
  echo "$hits"
  exit 1
fi

# One untrusted-JSON door: jansson's loaders are called only by sg_json_parse
# (lib/json.c), which refuses NULs, caps size and depth and refuses duplicate
# members. tests/ is not checked: tests read back what the code under test
# wrote.
json_pattern='\bjson_load(b|s|f|fd|_file|_callback)[[:space:]]*\('
json_hits=$(grep -rnE "$json_pattern" --include='*.c' --include='*.h' include lib src fuzz bench examples 2>/dev/null |
            grep -v -e '^lib/json\.c:' |
            grep -v 'lint: allow' || true)
if [ -n "$json_hits" ]; then
  echo "lint: JSON parsed outside sg_json_parse (lib/json.c); use it, or add a reasoned waiver:"
  echo "$json_hits"
  exit 1
fi
echo "lint: clean"
