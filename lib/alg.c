#include "alg.h"

#include <string.h>

static const char *const alg_names[SG_ALG_COUNT] = {
    [SG_ALG_ES256] = "ES256", [SG_ALG_ES384] = "ES384", [SG_ALG_ES512] = "ES512",
    [SG_ALG_PS256] = "PS256", [SG_ALG_PS384] = "PS384", [SG_ALG_PS512] = "PS512",
    [SG_ALG_EDDSA] = "EdDSA", [SG_ALG_ED25519] = "Ed25519",
};

const char *sg_alg_name(enum sg_alg alg)
{
    return (unsigned)alg < SG_ALG_COUNT ? alg_names[alg] : "?";
}

signet_err sg_alg_parse(const char *name, enum sg_alg *out)
{
    if (out == NULL)
        return SIGNET_ERR_INVALID_ARG;
    if (name == NULL)
        return SIGNET_ERR_ALG_NOT_ALLOWED;
    for (unsigned i = 0; i < SG_ALG_COUNT; i++) {
        if (strcmp(name, alg_names[i]) == 0) {
            *out = (enum sg_alg)i;
            return SIGNET_OK;
        }
    }
    return SIGNET_ERR_ALG_NOT_ALLOWED;
}
