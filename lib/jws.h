/* Compact JWS (RFC 7515 §7.1) parsing, header policy and signature
 * verification. Nothing here trusts the token: every part is length-capped
 * and decoded strictly before it is looked at. */
#ifndef SG_JWS_H
#define SG_JWS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alg.h"
#include "signet/error.h"

#define SG_TOKEN_MAX 16384u  /* whole compact token */
#define SG_HEADER_MAX 2048u  /* decoded protected header */

struct sg_jws {
    json_t *header;            /* the protected header, a JSON object */
    uint8_t *payload;          /* decoded payload */
    size_t payload_len;
    uint8_t *sig;              /* decoded signature */
    size_t sig_len;
    const char *signing_input; /* borrowed: header "." payload, as sent */
    size_t signing_input_len;
};

/* Splits and decodes a compact JWS: exactly three parts, strict base64url,
 * the header a JSON object without duplicates. Does not judge the header. */
SIGNET_WUR signet_err sg_jws_parse(const char *token, size_t len, struct sg_jws *out);
void sg_jws_clear(struct sg_jws *jws);

struct sg_header_policy {
    uint32_t allowed_algs; /* SG_ALG_BIT mask */
    const char *typ;       /* required typ without "application/"; NULL: any */
};

/* Applies the header rules, in this order: alg in the allowlist
 * (ALG_NOT_ALLOWED), no jku/x5u/jwk/x5c (FORBIDDEN_HEADER), crit
 * (MALFORMED if ill-formed, else UNKNOWN_CRIT: no extension is understood),
 * typ (BAD_TYP), kid a string if present (MALFORMED). *kid is NULL when
 * absent and borrowed from the header otherwise. */
SIGNET_WUR signet_err sg_jws_check_header(const struct sg_jws *jws,
                                          const struct sg_header_policy *pol, enum sg_alg *alg,
                                          const char **kid);

/* Verifies sig over msg with pkey for alg. ECDSA signatures are the JOSE
 * fixed-length r||s with 1 <= r, s <= n-1; RSA-PSS uses MGF1 with the same
 * hash and salt length = hash length; EdDSA is Ed25519 or Ed448. Any
 * mismatch between alg and key, or a bad signature: SIGNET_ERR_BAD_SIGNATURE
 * (SIGNET_ERR_ALG_KEY_MISMATCH for a key of the wrong type). */
SIGNET_WUR signet_err sg_sig_verify(enum sg_alg alg, EVP_PKEY *pkey, const uint8_t *msg,
                                    size_t msg_len, const uint8_t *sig, size_t sig_len);

/* Digests fetched once (EVP_MD_fetch) and shared read-only by verifying
 * threads; any member may be NULL (then OpenSSL fetches implicitly). */
struct sg_digests {
    EVP_MD *sha256;
    EVP_MD *sha384;
    EVP_MD *sha512;
};
SIGNET_WUR signet_err sg_digests_init(struct sg_digests *d);
void sg_digests_clear(struct sg_digests *d);
/* Verification contexts kept for one key and handed from call to call,
 * from any thread (see jws.c, struct sg_vctx): OpenSSL 3 rebuilds an
 * EVP_PKEY_CTX (a key export and an algorithm fetch) in every
 * EVP_DigestVerifyInit, about 2% of an ES256 verification; a pooled
 * context was initialised once. Every context in a pool was made for the
 * pool's key and serves no other. Lock-free: a slot holds a context or
 * NULL. */
#define SG_CTX_POOL_SLOTS 8
struct sg_vctx;
struct sg_ctx_pool {
    _Atomic(struct sg_vctx *) slot[SG_CTX_POOL_SLOTS];
};
/* Frees every pooled context (the key is going away; no verify may be
 * using the pool). */
void sg_ctx_pool_clear(struct sg_ctx_pool *pool);

/* sg_sig_verify with pre-fetched digests and a context pool for pkey; both
 * may be NULL. */
SIGNET_WUR signet_err sg_sig_verify_md(enum sg_alg alg, EVP_PKEY *pkey,
                                       const struct sg_digests *mds, struct sg_ctx_pool *pool,
                                       const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                                       size_t sig_len);

#endif
