/* The opt-in verified-token cache: SHA-256 of the exact token bytes ->
 * the claims and the key that verified them. A hit replaces parsing and the
 * signature check only; the verifier still selects the key from the
 * issuer's current set (so a removed or replaced key is honoured on every
 * call) and re-checks every claim and key-window rule. Entries never
 * outlive the token's exp. Bounded: the oldest entry is evicted. */
#ifndef SG_TOKCACHE_H
#define SG_TOKCACHE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "jws.h"
#include "signet/error.h"
#include "util/thumbprint.h"

#define SG_TOKCACHE_MAX 1000000u

struct sg_tokcache;

struct sg_tokcache_hit {
    json_t *claims; /* a private deep copy */
    char *kid;
    enum sg_alg alg;
    char thumbprint[SG_THUMBPRINT_LEN + 1];
};

SIGNET_WUR signet_err sg_tokcache_new(size_t max_entries, struct sg_tokcache **out);
void sg_tokcache_free(struct sg_tokcache *tc);
/* sha256: a fetched SHA-256 (NULL: OpenSSL fetches one per call). */
void sg_tokcache_hash(const EVP_MD *sha256, const char *token, size_t len,
                      uint8_t out[static 32]);
/* 1 on a hit that is still before exp at `now` (hit filled, caller clears). */
int sg_tokcache_get(struct sg_tokcache *tc, const uint8_t hash[static 32], int64_t now,
                    struct sg_tokcache_hit *hit);
void sg_tokcache_hit_clear(struct sg_tokcache_hit *hit);
/* Best effort: an allocation failure just leaves the token uncached. */
void sg_tokcache_put(struct sg_tokcache *tc, const uint8_t hash[static 32], int64_t exp,
                     const json_t *claims, const char *kid, enum sg_alg alg,
                     const char *thumbprint);
/* Drops every entry (e.g. after a forced key refresh). */
void sg_tokcache_clear(struct sg_tokcache *tc);

#endif
