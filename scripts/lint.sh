#!/usr/bin/env bash
# Banned-call lint (STYLE.md): unbounded copies/formats, strtok, ato*, scanf,
# alloca, VLAs, rand, system, memcmp on secrets. A waiver is a comment on the
# same line: "/* lint: allow <reason> */".
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|atof|scanf|sscanf|fscanf|alloca|rand|srand|system)[[:space:]]*\('
hits=$(grep -rnE "$pattern" --include='*.c' --include='*.h' include lib src tests fuzz bench 2>/dev/null |
       grep -v 'lint: allow' || true)
if [ -n "$hits" ]; then
  echo "lint: banned calls (add a reasoned '/* lint: allow ... */' waiver or rewrite):"
  echo "$hits"
  exit 1
fi
echo "lint: clean"
