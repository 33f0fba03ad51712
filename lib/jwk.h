/* Public JWKs (RFC 7517) and JWK sets: parsed once into OpenSSL keys and
 * kept in immutable, reference-counted snapshots shared by verifying
 * threads. */
#ifndef SG_JWK_H
#define SG_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jws.h"
#include "signet/error.h"
#include "util/thumbprint.h"

#define SG_JWKS_MAX_KEYS 64
#define SG_KID_MAX 256

enum sg_kty { SG_KTY_EC, SG_KTY_RSA, SG_KTY_OKP };

struct sg_key {
    char *kid;             /* NULL when the JWK has none (never selectable) */
    enum sg_kty kty;
    uint32_t algs;         /* SG_ALG_BIT mask this key may verify */
    EVP_PKEY *pkey;        /* built once, shared read-only by all threads */
    char *iss;             /* signet: the one issuer this key signs for */
    bool has_active_from;
    bool has_active_until;
    int64_t active_from;   /* signet: NumericDate */
    int64_t active_until;
    char thumbprint[SG_THUMBPRINT_LEN + 1];
    /* The one mutable part of a key in an immutable set: verification
     * contexts for pkey, recycled by verifying threads (see jws.h). */
    struct sg_ctx_pool *ctx_pool;
};

/* Parses one public JWK. Rejects private members, use other than "sig",
 * key_ops without "verify", unsupported kty/crv (SIGNET_ERR_UNSUPPORTED),
 * RSA moduli below 2048 bits, points not on the curve. A JWK "alg" pins
 * the key to that one algorithm (an alg libsignet does not implement
 * leaves the key unusable). */
SIGNET_WUR signet_err sg_jwk_parse(const json_t *jwk, struct sg_key *out);
void sg_jwk_key_clear(struct sg_key *k);

struct sg_keyset {
    atomic_uint refs;
    size_t n;
    struct sg_key *keys;
    size_t skipped; /* JWKs ignored as unsupported or unusable */
};

/* Parses a JWKS document ({"keys":[...]}, strict JSON). Keys that are not
 * usable for signature verification are skipped and counted; a document
 * that is not a JWKS, or has two keys with the same kid, is
 * SIGNET_ERR_BAD_JWKS (or the JSON error). An empty set is valid. */
SIGNET_WUR signet_err sg_jwks_parse(const uint8_t *data, size_t len, size_t max_len,
                                    struct sg_keyset **out);
/* The key with this kid, or NULL. */
const struct sg_key *sg_keyset_find(const struct sg_keyset *set, const char *kid);
struct sg_keyset *sg_keyset_ref(struct sg_keyset *set);
void sg_keyset_unref(struct sg_keyset *set); /* NULL ok */

#endif
