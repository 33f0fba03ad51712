/* Benchmark fixtures: fresh keys and realistic RFC 9068 access tokens,
 * written to a directory once per `make bench` so that every
 * implementation (C, Python, Node) verifies the very same bytes.
 *
 * Per algorithm <stem> (es256, eddsa, ps256) the directory holds
 *   <stem>.token    the compact JWS (no newline)
 *   <stem>.typjwt.token  the same claims and key with typ "JWT" (libjwt)
 *   <stem>.pub.pem  SubjectPublicKeyInfo PEM
 *   <stem>.key.pem  the private key (a throwaway bench key, used to sign
 *                   more tokens for the token-cache workload)
 *   <stem>.jwk.json the public JWK (kid, alg, use)
 * plus jwks.json (every key, with signet's iss/active_from members) and
 * params.json ({"iss": ..., "aud": ...}). */
#ifndef SG_BENCH_FIXTURES_H
#define SG_BENCH_FIXTURES_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define FX_ISS "https://issuer.bench.example/t/default"
#define FX_AUD "https://api.bench.example"

struct fx_alg {
    const char *alg;  /* JOSE name */
    const char *stem; /* file name stem */
};
#define FX_NALGS 3
extern const struct fx_alg fx_algs[FX_NALGS];
/* The fixture of a JOSE alg name; dies on an unknown one. */
const struct fx_alg *fx_alg_find(const char *alg);

/* Generates keys and tokens into dir (which must exist). */
void fx_write_all(const char *dir);

/* The RFC 9068 claims set used by every token: 11 claims, ~420 bytes. */
char *fx_payload(int64_t now, const char *jti);
/* A compact JWS over payload with the header {"alg","typ":"at+jwt","kid"}. */
char *fx_sign(EVP_PKEY *key, const char *alg, const char *kid, const char *payload);
/* The same with another typ (libjwt 1.10 accepts only "JWT"). */
char *fx_sign_typ(EVP_PKEY *key, const char *alg, const char *typ, const char *kid,
                  const char *payload);
/* A compact JWS over payload with the given protected header (JSON). */
char *fx_sign_header(EVP_PKEY *key, const char *alg, const char *header_json,
                     const char *payload);
/* base64url without padding (malloc'd). */
char *fx_b64url(const uint8_t *in, size_t n);
/* The kid of a key: base64url SHA-256 of its SubjectPublicKeyInfo. */
char *fx_kid(EVP_PKEY *key);

EVP_PKEY *fx_load_private(const char *dir, const char *stem);
EVP_PKEY *fx_load_public(const char *dir, const char *stem);
/* JOSE ES256 r||s (64 bytes) to DER; returns the DER length. */
size_t fx_es256_der(const uint8_t *rs, uint8_t *der, size_t cap);
/* Decodes base64url into out; returns the length or dies. */
size_t fx_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
