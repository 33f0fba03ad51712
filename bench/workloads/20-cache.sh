#!/usr/bin/env bash
# Workload 2: repeated validation with libsignet's opt-in verified-token
# cache. Prints bench records (bench/README.md); run by bench/run.sh.
set -euo pipefail
wl=cache
r() { local IFS=$'\t'; echo "$*"; }

r workload $wl "2. Repeated validation (verified-token cache)"
r desc $wl "The ES256 token of workload 1, verified again and again by a verifier with signet_verifier_config_set_token_cache. A hit skips parsing and the signature only: it hashes the exact token bytes (SHA-256), looks the entry up, then still selects the key from the issuer's current set (same thumbprint required), re-checks every claim and key-window rule and builds the claims handle. All five measured interleaved in one process."
r ref $wl openssl
r label $wl openssl "OpenSSL EVP_DigestVerify (ceiling)"
r label $wl signet "libsignet, no cache"
r label $wl signet-hit "libsignet, cache hit (1 token)"
r label $wl signet-hit-1000 "libsignet, cache hits over 1000 tokens"
r label $wl signet-miss "libsignet, cache on, every call a miss"
r target $wl ES256 signet-hit 20
r note $wl "cache hits over 1000 tokens: 1000 distinct tokens (different jti) cycled through a 4096-entry cache, so entries come from memory rather than a hot cache line."
r note $wl "every call a miss: 4000 distinct tokens cycled through a 1000-entry cache (oldest evicted first): a full verification plus the insertion, i.e. what the cache costs when it never helps."
r note $wl "tests/unit/test_tokcache.c checks that cached and uncached verifiers give the same verdicts and claims (times around nbf/exp, key removal, same-kid key replacement)."

for rep in $(seq 1 "$BENCH_REPS"); do
  "$BENCH_BIN" cache "$BENCH_FIXTURES" "$rep" "$BENCH_BUDGET"
done
