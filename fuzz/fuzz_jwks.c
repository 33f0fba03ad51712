/* libFuzzer target: the JWKS parser (and through it the JWK parser, key
 * construction with OpenSSL, signet key metadata and RFC 7638 thumbprints). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sg_keyset *set = NULL;
    if (sg_jwks_parse(data, size, 256u * 1024u, &set) != SIGNET_OK)
        return 0;
    if (set->n > SG_JWKS_MAX_KEYS)
        abort();
    for (size_t i = 0; i < set->n; i++) {
        const struct sg_key *k = &set->keys[i];
        if (k->pkey == NULL || strlen(k->thumbprint) != SG_THUMBPRINT_LEN)
            abort();
        if (k->kid != NULL && sg_keyset_find(set, k->kid) != k)
            abort(); /* kids are unique within a set */
        if (k->has_active_from && k->has_active_until && k->active_until < k->active_from)
            abort();
    }
    sg_keyset_unref(set);
    return 0;
}
