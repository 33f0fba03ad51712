/* The signer's own signing policy, enforced whatever the front end says. */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sg_policy_limits {
    const char *issuer;       /* the signing key's issuer */
    int64_t max_lifetime;     /* exp - iat may not exceed this */
    int64_t skew;             /* |iat - now| may not exceed this */
    int64_t now;
};

struct sg_policy_info {
    char jti[129];
    int64_t iat;
    int64_t exp;
};

/* Accepts only a JSON object (no duplicate members, depth <= 8) whose iss
 * equals limits->issuer, with integer iat within skew of now, integer exp
 * with 0 < exp - iat <= max_lifetime, optional integer nbf within
 * [iat - skew, exp), and a jti string of 1..128 printable characters. */
SIGNET_WUR signet_err sg_policy_check_claims(const uint8_t *claims, size_t len,
                                             const struct sg_policy_limits *limits,
                                             struct sg_policy_info *info);

#endif
