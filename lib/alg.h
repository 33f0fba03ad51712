/* The one JOSE signature algorithm enum (RFC 7518 §3.1 names), shared by
 * libsignet's verifier and the signer, with its one name/parse pair. */
#ifndef SG_ALG_H
#define SG_ALG_H

#include "signet/error.h"

enum sg_alg {
    SG_ALG_ES256,
    SG_ALG_ES384,
    SG_ALG_ES512,
    SG_ALG_PS256,
    SG_ALG_PS384,
    SG_ALG_PS512,
    SG_ALG_EDDSA,
    SG_ALG_ED25519, /* RFC 9864: EdDSA with Ed25519 only (verification side) */
    SG_ALG_COUNT
};
#define SG_ALG_BIT(a) (1u << (unsigned)(a))
#define SG_ALG_DEFAULT_MASK \
    (SG_ALG_BIT(SG_ALG_ES256) | SG_ALG_BIT(SG_ALG_EDDSA) | SG_ALG_BIT(SG_ALG_ED25519))

/* Largest decoded JOSE signature libsignet accepts (RSA up to 8192 bits).
 * What the signer produces has its own, smaller bound (SG_P11_SIG_MAX). */
#define SG_SIG_MAX 1024u

/* "ES256", ..., "EdDSA", "Ed25519"; "?" for a value outside the enum. */
const char *sg_alg_name(enum sg_alg alg);
/* Maps a JOSE alg name to the enum. Case-sensitive (RFC 7515 §4.1.1):
 * SIGNET_ERR_ALG_NOT_ALLOWED for anything else ("none", HS*, RS*, "es256",
 * unknown names, NULL); SIGNET_ERR_INVALID_ARG when out is NULL. */
SIGNET_WUR signet_err sg_alg_parse(const char *name, enum sg_alg *out);

#endif
