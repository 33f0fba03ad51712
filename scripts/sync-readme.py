#!/usr/bin/env python3
"""Keeps README.md's included sections identical to their sources.

A block in README.md between
    <!-- begin:docs/FILE.md -->  and  <!-- end:docs/FILE.md -->
holds FILE.md without its title line, every heading one level deeper and
links made relative to the top of the repository. `--check` exits 1 when
README.md differs from what this script would write (make lint runs it).
"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
readme = root / "README.md"


def render(rel):
    text = (root / rel).read_text()
    lines = text.split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out = []
    fence = False
    for line in lines:
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("#"):
            line = "#" + line
        out.append(line)
    body = "\n".join(out).strip("\n")
    base = str(Path(rel).parent)
    # links relative to docs/ become relative to the repository top
    body = re.sub(r"\]\((?!https?:|#|/)([^)]+)\)",
                  lambda m: "](" + str(Path(base, m.group(1))).replace("docs/../", "") + ")", body)
    return body


def sync(text):
    def repl(m):
        rel = m.group(1)
        return "<!-- begin:%s -->\n%s\n<!-- end:%s -->" % (rel, render(rel), rel)
    return re.sub(r"<!-- begin:(\S+) -->.*?<!-- end:\1 -->", repl, text, flags=re.S)


cur = readme.read_text()
new = sync(cur)
if "--check" in sys.argv:
    if new != cur:
        print("README.md is out of date with docs/: run scripts/sync-readme.py", file=sys.stderr)
        sys.exit(1)
    print("readme: included docs in sync")
else:
    readme.write_text(new)
