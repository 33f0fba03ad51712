#!/usr/bin/env bash
# The trust boundary, as the tree and the binaries must show it
# (docs/DESIGN.md, "Allowed edges"):
#   1. each folder includes only the folders it may depend on;
#   2. no cycle between folders;
#   3. no cycle between the files of one folder: file x (x.c with x.h)
#      depends on y when it includes y.h, and, with BUILD_DIR, when its
#      object uses a symbol y.c defines (callbacks, not upward calls);
#   4. with BUILD_DIR: what each binary links. signetd carries no PKCS#11
#      code, no audit writer, no key-store writer and no signer internals;
#      signet-signer no HTTP server; libsignet nothing of the service.
# Usage: scripts/layers.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-}

python3 - "$build" <<'PY'
import os, re, subprocess, sys

build = sys.argv[1] if len(sys.argv) > 1 else ""

# folder -> the folders it may include from. "lib" is libsignet with the one
# untrusted-JSON door, JWS/JWK and the algorithm enum; "lib/util" the base.
ALLOWED = {
    "lib/util": set(),
    "lib": {"lib/util"},
    "src/audit": {"lib/util", "lib"},
    "src/common": {"lib/util", "lib"},
    "src/store": {"lib/util"},
    "src/telemetry": {"lib/util", "lib", "src/common", "src/store", "src/audit"},
    "src/signer": {"lib/util", "lib", "src/common", "src/store", "src/audit"},
    "src/signetd": {"lib/util", "lib", "src/common", "src/store", "src/telemetry"},
    "src/cli": {"lib/util", "lib", "src/common", "src/store", "src/telemetry", "src/audit",
                "src/signer"},
    # signet-authenticator, on a person's device: nothing of the service.
    "src/authenticator": {"lib/util", "lib"},
}
# Headers a folder may not include even where the folder edge exists: the
# writer halves of the key store and the audit log are the signer's.
FORBIDDEN = {
    "src/signetd": [r"^store/keystore\.h$", r"^signer/", r"^audit/writer\.h$"],
    "src/telemetry": [r"^store/keystore\.h$", r"^signer/"],
}
# The CLI reads the audit log through the signer folder's verifier only.
CLI_SIGNER_OK = {"signer/audit.h"}

def folder_of(path):
    d = os.path.dirname(path)
    return d if d in ALLOWED else None

def target_of(inc, src_dir):
    if "/" not in inc:
        for d in (src_dir, "lib"):
            if os.path.exists(os.path.join(d, inc)):
                return d
        return None
    top = inc.split("/")[0]
    if top == "signet":
        return "include"
    if top == "util":
        return "lib/util"
    cand = "src/" + top
    return cand if cand in ALLOWED else None

def module_of(path):
    """x.c and x.h are one module, x."""
    return os.path.splitext(os.path.basename(path))[0]

# Cycles between the files of one folder that are known and accepted:
# (folder, frozenset of the modules in the cycle) -> the reason. Empty:
# the files of every folder form a hierarchy (a file that must tell one
# above it of an event does so through a callback, like sd_pool.on_change).
FILE_CYCLES_ALLOWED = {
}

def cycles(graph):
    """The strongly connected components of more than one node (Tarjan),
    each as the sorted list of its members."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out

def a_cycle(graph, comp):
    """One cycle inside the component comp, from its first member."""
    members, start = set(comp), comp[0]
    path, seen = [start], {start}
    def walk(v):
        for w in sorted(graph.get(v, ())):
            if w == start and len(path) > 1:
                return True
            if w in members and w not in seen:
                seen.add(w)
                path.append(w)
                if walk(w):
                    return True
                path.pop()
        return False
    walk(start)
    return " -> ".join(path + [start])

def file_cycles(folder, graph, how):
    found = []
    for comp in cycles(graph):
        why = FILE_CYCLES_ALLOWED.get((folder, frozenset(comp)))
        if why is None:
            found.append(f"{folder}: {how} cycle between files {', '.join(comp)} "
                         f"(e.g. {a_cycle(graph, comp)})")
    return found

bad, edges, files = [], {}, {}
for folder in ALLOWED:
    if not os.path.isdir(folder):
        continue
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                inc = m.group(1)
                tgt = target_of(inc, folder)
                if tgt == folder:
                    dep = module_of(inc)
                    if dep != module_of(name):
                        files.setdefault(folder, {}).setdefault(module_of(name), set()).add(dep)
                if tgt is None or tgt in ("include", folder):
                    continue
                edges.setdefault(folder, set()).add(tgt)
                if tgt not in ALLOWED[folder]:
                    bad.append(f"{path}:{no}: {folder} may not include {inc} ({tgt})")
                if folder == "src/cli" and tgt == "src/signer" and inc not in CLI_SIGNER_OK:
                    bad.append(f"{path}:{no}: the CLI may use only {sorted(CLI_SIGNER_OK)} of src/signer")
                for pat in FORBIDDEN.get(folder, []):
                    if re.search(pat, inc):
                        bad.append(f"{path}:{no}: {folder} may not include {inc} (the signer's side)")

# Cycles between folders (depth-first search on the edges actually used).
state, stack = {}, []
def visit(n):
    state[n] = 1
    stack.append(n)
    for m in sorted(edges.get(n, ())):
        if state.get(m) == 1:
            bad.append("cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
        elif m not in state:
            visit(m)
    stack.pop()
    state[n] = 2
for n in sorted(edges):
    if n not in state:
        visit(n)

# Cycles between the files of each folder (includes).
for folder in sorted(files):
    bad.extend(file_cycles(folder, files[folder], "include"))

def objects_by_source(build):
    """Each source file of a checked folder -> its object files in build.
    CMake puts the object of SRC, of a target declared in DIR/CMakeLists.txt,
    at BUILD/DIR/CMakeFiles/TARGET.dir/SRC-relative-to-DIR.o ("__" for "..").
    An object older than its source is left out: a target no longer built
    leaves its objects behind, and they would show calls long gone."""
    out = {}
    for root, _dirs, names in os.walk(build):
        for name in names:
            if not name.endswith(".c.o"):
                continue
            obj = os.path.join(root, name)
            rel = os.path.relpath(obj, build)
            m = re.match(r"^(?:(.*)/)?CMakeFiles/[^/]+\.dir/(.*)\.o$", rel)
            if not m:
                continue
            src = os.path.normpath(os.path.join(m.group(1) or "", m.group(2).replace("__", "..")))
            if (os.path.dirname(src) in ALLOWED and os.path.exists(src) and
                    os.path.getmtime(obj) >= os.path.getmtime(src)):
                out.setdefault(src, []).append(obj)
    return out

def symbols(objs):
    defined, used = set(), set()
    for obj in objs:
        text = subprocess.run(["nm", "-P", obj], capture_output=True, text=True,
                              check=True).stdout
        for line in text.splitlines():
            f = line.split()
            if len(f) < 2:
                continue
            if f[1] == "U":
                used.add(f[0])
            elif f[1] in "TDBRVWGS":
                defined.add(f[0])
    return defined, used

# Cycles between the files of each folder (symbols: what each object file
# uses of another's, the way the review's nm graph found them).
if build:
    by_folder = {}
    for src, objs in objects_by_source(build).items():
        by_folder.setdefault(os.path.dirname(src), {})[module_of(src)] = symbols(objs)
    if not by_folder:
        bad.append(f"no object file of a checked folder under {build} (build first)")
    for folder in sorted(by_folder):
        mods, graph = by_folder[folder], {}
        for a, (_, used) in mods.items():
            for b, (defined, _) in mods.items():
                if a != b and used & defined:
                    graph.setdefault(a, set()).add(b)
        bad.extend(file_cycles(folder, graph, "symbol"))

if bad:
    print("layers: " + str(len(bad)) + " violation(s):")
    print("\n".join(bad))
    sys.exit(1)
print("layers: includes follow the allowed edges, no cycle between folders or between the "
      "files of a folder")
PY

[ -n "$build" ] || exit 0

# forbid BINARY REGEX WHY: no symbol of BINARY (static ones included) matches.
fail=0
forbid() {
  local bin=$1 re=$2 why=$3 hits
  [ -f "$bin" ] || { echo "layers: $bin missing (build first)"; fail=1; return; }
  hits=$(nm -a "$bin" 2>/dev/null | awk '{print $NF}' | grep -E "$re" | head -5 || true)
  if [ -n "$hits" ]; then
    echo "layers: $(basename "$bin") must not contain $why: $(echo "$hits" | tr '\n' ' ')"
    fail=1
  fi
}
# needs_not BINARY LIBRARY-REGEX WHY: no DT_NEEDED entry matches.
needs_not() {
  local bin=$1 re=$2 why=$3
  [ -f "$bin" ] || return 0
  if readelf -d "$bin" 2>/dev/null | grep NEEDED | grep -qE "$re"; then
    echo "layers: $(basename "$bin") must not load $why"
    fail=1
  fi
}
d=$build/src
forbid "$d/signetd" '^(sg_p11_|C_GetFunctionList$|p11_kit_)' "PKCS#11 code"
forbid "$d/signetd" '^sg_audit_(open|append|commit|stage|rechain)' "the audit log's writer"
forbid "$d/signetd" '^(sg_keystore_|sqlite_key_(insert|update))' "the key store's writer"
forbid "$d/signetd" '^(sg_signer_(open|handle|serve|flush|advance)|sg_lifecycle_|sg_policy_|sg_sandbox_enter$)' \
  "the signer's internals"
needs_not "$d/signetd" 'libp11-kit' "p11-kit"
forbid "$d/signet-signer" '^(MHD_|sd_http_|argon2)' "the HTTP front end"
needs_not "$d/signet-signer" 'libmicrohttpd|libargon2' "the HTTP server or argon2"
forbid "$build/src/authenticator/signet-authenticator" '^(sd_|sg_store_|sg_p11_|sg_audit_|sg_signer_|MHD_|argon2)' \
  "the service's code"
lib=$(ls "$build"/lib/libsignet.so* 2>/dev/null | head -1 || true)
if [ -n "$lib" ]; then
  forbid "$lib" '^(sg_store_|sg_audit_|sg_p11_|sd_|sg_signer_)' "the service's code"
fi
[ "$fail" -eq 0 ] || exit 1
echo "layers: signetd has no PKCS#11, audit writer, key-store writer or signer code; the signer no HTTP server"
