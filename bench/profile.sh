#!/usr/bin/env bash
# Where an ES256 verification spends its instructions: callgrind runs the
# raw OpenSSL reference and libsignet (and a token-cache hit) for N1 and N2
# iterations; per-verify figures are (count at N2 - count at N1) / (N2 - N1),
# so set-up (key parsing, fixtures) cancels out. Instruction counts are
# deterministic, unlike timings on a shared machine, but they are not time:
# bignum code runs more instructions per cycle than parsing code. Under
# valgrind OpenSSL may pick other code paths than on the bare CPU (SHA-NI).
#
# usage: bench/profile.sh SIGNET_BENCH FIXTURES OUT.md   (bench/run.sh calls it)
set -euo pipefail
bin=$1 fixtures=$2 out=$3
n1=${PROFILE_N1:-300} n2=${PROFILE_N2:-900}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # impl n [env...]
  local impl=$1 n=$2; shift 2
  env "$@" BENCH_IMPL="$impl" BENCH_ITERS="$n" valgrind --tool=callgrind \
    --callgrind-out-file="$work/$impl.$n.$#" "$bin" loop "$fixtures" ES256 60 >/dev/null 2>&1
  callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$work/$impl.$n.$#" 2>/dev/null |
    awk '/^ *[0-9,]+ +\(/ { c=$1; gsub(",","",c); f=$0; sub(/^.*\) +/, "", f);
          sub(/ \[.*$/, "", f); sub(/^.*:/, "", f); if (!(f in seen)) { seen[f]=1; print f "\t" c } }
         /PROGRAM TOTALS/ { c=$1; gsub(",","",c); print "TOTAL\t" c }' >"$work/$impl.$n.$#.tsv"
  echo "$work/$impl.$n.$#.tsv"
}

o1=$(run openssl "$n1"); o2=$(run openssl "$n2")
s1=$(run signet "$n1"); s2=$(run signet "$n2")
h1=$(run signet "$n1" BENCH_TOKEN_CACHE=1); h2=$(run signet "$n2" BENCH_TOKEN_CACHE=1)

python3 - "$n1" "$n2" "$o1" "$o2" "$s1" "$s2" "$h1" "$h2" >"$out" <<'EOF'
import sys
n1, n2 = int(sys.argv[1]), int(sys.argv[2])
def load(p):
    d = {}
    for line in open(p):
        k, v = line.rstrip("\n").split("\t")
        d.setdefault(k, int(v))
    return d
o1, o2, s1, s2, h1, h2 = (load(p) for p in sys.argv[3:9])
def per(a, b, f):
    return (b.get(f, 0) - a.get(f, 0)) / (n2 - n1)
ref = per(o1, o2, "TOTAL")
sig = per(s1, s2, "TOTAL")
hit = per(h1, h2, "TOTAL")
print("## Instruction profile (callgrind)\n")
print(f"Per ES256 verification, from runs of {n1} and {n2} iterations (set-up cancels out).\n")
print("| | instructions per call | × reference |")
print("|---|---:|---:|")
print(f"| OpenSSL EVP_DigestVerify (ceiling) | {ref:,.0f} | 1 |")
print(f"| of which its EVP_DigestVerifyInit | {per(o1, o2, 'EVP_DigestVerifyInit'):,.0f} | |")
print(f"| libsignet signet_verify, every rule on | {sig:,.0f} | {sig / ref:.3f} |")
print(f"| libsignet, token-cache hit | {hit:,.0f} | {hit / ref:.4f} |")
print(f"\nlibsignet's own work: **{sig - ref:,.0f} instructions per verification "
      f"({100 * (sig - ref) / ref:.1f}% of the ceiling)**. Breakdown (inclusive, per verification):\n")
parts = [
    ("EVP_DigestVerify", "EVP_DigestVerify: SHA-256 + ECDSA (the ceiling's one call)"),
    ("EVP_DigestVerifyInit", "EVP_DigestVerifyInit (the ceiling pays it on every call)"),
    ("EVP_DigestUpdate", "SHA-256 of the signing input"),
    ("EVP_PKEY_verify", "ECDSA on the digest, pre-initialised context"),
    ("sg_jws_parse", "split, base64url-decode, header JSON"),
    ("sg_b64url_decode", "  of which base64url"),
    ("sg_json_parse", "JSON: header + claims (jansson values)"),
    ("sg_jws_check_header", "header rules (alg, crit, typ, kid)"),
    ("sg_sig_verify_md", "signature layer in all (DER, context pool, hash, verify)"),
    ("signet_claims_free", "freeing the claims (caller's side)"),
]
print("| part | instructions | share of signet_verify |")
print("|---|---:|---:|")
total = per(s1, s2, "signet_verify")
for fn, what in parts:
    v = per(s1, s2, fn)
    if v > 0:
        print(f"| {what} (`{fn.strip()}`) | {v:,.0f} | {100 * v / total:.1f}% |")
print(f"| signet_verify in all | {total:,.0f} | 100% |")
print("\nThe ceiling calls EVP_DigestVerifyInit + EVP_DigestVerify; libsignet hashes with a "
      "pooled EVP_MD_CTX and verifies the digest with a pooled, pre-initialised EVP_PKEY_CTX "
      "(EdDSA: EVP_DigestVerify on a pooled context), so it skips the per-call "
      "EVP_DigestVerifyInit the ceiling pays. Key lookup, claim checks and the claims handle are "
      "inlined into signet_verify and show only in its total.")
EOF
