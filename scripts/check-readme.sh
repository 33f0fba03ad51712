#!/usr/bin/env bash
# The README is a map: it must lead somewhere real.
#  1. Every relative link in README.md points to a file or directory that
#     exists, and a `#fragment` on a Markdown target names one of its headings
#     (GitHub's slugs: lower case, punctuation dropped, spaces to hyphens).
#  2. The README links to the complete libsignet example in examples/, and the
#     build compiles every example it links to: the documented program is the
#     one that builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
readme=README.md
fail=0

# Headings of a Markdown file (outside fenced code) as GitHub anchors.
anchors() {
  awk '/^```/{f=!f; next} !f && /^#+ /' "$1" |
    sed -E 's/^#+ +//' | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}

# Link targets of the README, outside fenced code: [text](target).
mapfile -t links < <(awk '/^```/{f=!f; next} !f' "$readme" |
  grep -oE '\]\([^)[:space:]]+\)' | sed -E 's/^\]\(//; s/\)$//' | sort -u)

for link in "${links[@]}"; do
  case $link in
    http://* | https://* | mailto:*) continue ;;
  esac
  path=${link%%#*}
  frag=
  [ "$path" != "$link" ] && frag=${link#*#}
  [ -n "$path" ] || path=$readme
  if [ ! -e "$path" ]; then
    echo "README: broken link ($link): $path does not exist" >&2
    fail=1
    continue
  fi
  if [ -n "$frag" ] && [[ $path == *.md ]] && ! anchors "$path" | grep -qxF -- "$frag"; then
    echo "README: broken link ($link): no heading '#$frag' in $path" >&2
    fail=1
  fi
done

mapfile -t examples < <(printf '%s\n' "${links[@]}" | grep -E '^examples/[^#]+\.c$' || true)
if ! printf '%s\n' "${examples[@]}" | grep -qxF examples/verify_example.c; then
  echo "README: no link to the libsignet example examples/verify_example.c" >&2
  fail=1
fi
for ex in "${examples[@]}"; do
  if ! grep -rqF --include=CMakeLists.txt --include='*.cmake' -- "$ex" CMakeLists.txt lib src; then
    echo "README: $ex is linked but no CMake file builds it" >&2
    fail=1
  fi
done

[ "$fail" = 0 ] || exit 1
echo "readme: ${#links[@]} links resolve; linked examples built: ${examples[*]}"
