/* RFC 7638 JWK thumbprints (SHA-256, base64url). */
#ifndef SG_THUMBPRINT_H
#define SG_THUMBPRINT_H

#include <jansson.h>

#include "signet/error.h"

#define SG_THUMBPRINT_LEN 43 /* base64url of 32 bytes, without the NUL */

/* Computes the thumbprint of a public JWK (kty EC, OKP or RSA) from its
 * required members only, in lexicographic order, per RFC 7638 §3.2. */
SIGNET_WUR signet_err sg_jwk_thumbprint(const json_t *jwk, char out[static SG_THUMBPRINT_LEN + 1]);

#endif
