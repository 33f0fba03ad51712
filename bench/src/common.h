/* Pieces shared by the workloads: the raw OpenSSL reference and a libsignet
 * verifier configured the way a relying party would. */
#ifndef SG_BENCH_COMMON_H
#define SG_BENCH_COMMON_H

#include <openssl/evp.h>
#include <signet/signet.h>
#include <stddef.h>
#include <stdint.h>

/* One token and its public key, prepared for the raw OpenSSL reference:
 * the key parsed once, the digest fetched once, the signature already in
 * the form EVP expects (DER for ECDSA), and one EVP_MD_CTX reused by every
 * call. This is the fastest way we know to drive EVP_DigestVerify, so it is
 * the ceiling libsignet is compared with. */
struct ossl_ref {
    const char *alg;
    EVP_PKEY *pkey;
    EVP_MD *md;       /* NULL for EdDSA */
    const uint8_t *msg; /* signing input: header "." payload, as sent */
    size_t msg_len;
    uint8_t sig[1024];  /* DER for ES256, raw otherwise */
    size_t sig_len;
    uint8_t raw_sig[1024]; /* the JOSE signature (for the naive variant) */
    size_t raw_sig_len;
    EVP_MD_CTX *ctx;
};

void ossl_ref_init(struct ossl_ref *r, const char *dir, const char *alg, const char *stem,
                   const char *token, size_t token_len);
/* The same with a key the caller has (the reference takes it over). */
void ossl_ref_init_key(struct ossl_ref *r, EVP_PKEY *pkey, const char *alg, const char *token,
                       size_t token_len);
void ossl_ref_clear(struct ossl_ref *r);
/* bench_fn: one verification with everything prepared outside. */
int ossl_ref_verify(void *ctx);
/* bench_fn: the same with per-call setup, as straightforward code does it:
 * EVP_MD_CTX_new, implicit digest fetch (EVP_sha256()), JOSE-to-DER
 * conversion of the signature on every call. */
int ossl_naive_verify(void *ctx);

/* A verifier trusting FX_ISS with keys from dir/jwks.json, audience FX_AUD,
 * ES256, EdDSA and PS256 allowed, every other rule at its default. */
signet_verifier *bench_signet_verifier(const char *dir, size_t token_cache);
/* The same; a DPoP jti replay cache of dpop_replay entries when that is
 * over the default (65536). */
signet_verifier *bench_signet_verifier_dpop(const char *dir, size_t token_cache,
                                            size_t dpop_replay);

struct signet_call {
    signet_verifier *v;
    const char *token;
    size_t len;
};
/* bench_fn: signet_verify + signet_claims_free. */
int signet_call_verify(void *ctx);

#endif
