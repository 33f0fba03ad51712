#!/usr/bin/env bash
# Workload 1: one realistic RFC 9068 token validated over and over on one
# thread, per algorithm, by raw OpenSSL (the ceiling), libsignet and peers.
# Prints bench records (bench/README.md); run by bench/run.sh.
set -euo pipefail
wl=verify
r() { local IFS=$'\t'; echo "$*"; }

r workload $wl "1. Validation, single thread"
r desc $wl "One ES256 / EdDSA / PS256 access token (RFC 9068, 11 claims, 681 bytes for ES256) verified over and over on one thread. libsignet runs signet_verify with every rule on (typ, alg allowlist, issuer-scoped kid lookup in a static JWKS file, key pinning, signature, exp/nbf/iat/lifetime/aud, key window) and returns the parsed claims, which are freed each time. The C implementations run in one process, interleaved in ${BENCH_SLICES:-10} slices per repetition; PyJWT and jose run in their own processes right after, in the same repetition."
r ref $wl openssl
r label $wl openssl "OpenSSL EVP_DigestVerify (ceiling)"
r label $wl openssl-naive "OpenSSL, per-call setup"
r label $wl signet "libsignet signet_verify"
r label $wl cjose "cjose import+verify"
r label $wl libjwt "libjwt jwt_decode"
r label $wl pyjwt "PyJWT jwt.decode"
r label $wl jose "npm jose jwtVerify"
r target $wl ES256 signet 0.95
for alg in ES256 EdDSA PS256; do
  r target $wl "$alg + DPoP proof" signet 0.9
done
r note $wl "Ceiling: EVP_DigestVerify over the signing input with the EVP_PKEY parsed once, SHA-256 fetched once (EVP_MD_fetch), one EVP_MD_CTX reused by every call (EVP_DigestVerifyInit each time), and for ES256 the JOSE r||s signature converted to DER once, outside the loop. No parsing, no claims."
r note $wl "OpenSSL, per-call setup: the same verification written plainly: EVP_MD_CTX_new, EVP_sha256() (an implicit fetch), JOSE-to-DER conversion on every call."
r note $wl "cjose: cjose_jws_import + cjose_jws_verify with a JWK imported once; signature only, no claim checks. libjwt 1.10: jwt_decode with the PEM public key (the only way it takes a key, parsed on every call); signature only, no claim checks; it refuses typ at+jwt, so it gets a twin token with typ JWT (same claims, key and size)."
r note $wl "Rows '+ DPoP proof' (RFC 9449, issue 12): a DPoP-bound token (the same claims plus cnf.jkt, signed by the same key) and a fresh ES256 proof (jwk header, jti, htm, htu, iat, ath) verified together by signet_verify with method, URL and scheme DPoP, as a resource server does per request: every token rule plus every proof check, ath, cnf.jkt against the proof key, and the jti replay cache (on, its default). Each call presents a proof never seen before, from a pool signed before the measurement. In these rows the reference 'openssl' is two raw verifications, the token's signature and the proof's, each prepared as for the ceiling above."
r note $wl "PyJWT ${BENCH_PYJWT_VERSION:-?}: jwt.decode with a cryptography public key loaded once, algorithms pinned, iss/aud/exp/nbf/iat checked (no typ check), timed with time.perf_counter. npm jose ${BENCH_JOSE_VERSION:-?}: jwtVerify with a KeyLike from importJWK, algorithms pinned, iss/aud/typ/exp/nbf checked, each call awaited (WebCrypto), timed with performance.now()."

for rep in $(seq 1 "$BENCH_REPS"); do
  for alg in ES256 EdDSA PS256; do
    "$BENCH_BIN" verify "$BENCH_FIXTURES" "$alg" "$rep" "$BENCH_BUDGET"
    "$BENCH_BIN" verify-dpop "$BENCH_FIXTURES" "$alg" "$rep" "$BENCH_BUDGET"
    if [ -n "${BENCH_PYTHON:-}" ]; then
      "$BENCH_PYTHON" bench/peers/pyjwt_bench.py "$BENCH_FIXTURES" "$alg" "$rep" "$BENCH_BUDGET"
    else
      r na $wl "$alg" pyjwt "python3-jwt not importable"
    fi
    if [ -n "${BENCH_NODE_DIR:-}" ]; then
      node "$BENCH_NODE_DIR/jose_bench.mjs" "$BENCH_FIXTURES" "$alg" "$rep" "$BENCH_BUDGET"
    else
      r na $wl "$alg" jose "node or npm jose not available"
    fi
  done
done
