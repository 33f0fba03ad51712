/* The verified claims handed to the caller. */
#ifndef SG_CLAIMS_H
#define SG_CLAIMS_H

#include <jansson.h>

#include "signet/verify.h"

/* Takes over the reference to `claims` on success. */
SIGNET_WUR signet_err sg_claims_new(json_t *claims, const char *issuer, const char *kid,
                                    const char *thumbprint, const char *alg,
                                    signet_claims **out);

#endif
