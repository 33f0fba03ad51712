/* The signer's own signing policy, enforced whatever the front end says. */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "store/keystore.h"

/* Looks a client up in the signer's registry (SIGNET_ERR_NOT_FOUND when it
 * is not bound to the tenant). */
typedef signet_err (*sg_policy_lookup)(void *user, const char *client_id,
                                       struct sg_client_binding *out);

struct sg_policy_limits {
    const char *issuer;       /* the signing key's issuer */
    int64_t max_lifetime;     /* exp - iat may not exceed this */
    int64_t skew;             /* |iat - now| may not exceed this */
    int64_t now;
    /* The client registry. The signer always passes one. NULL leaves only
     * the base rules (issuer, times, a front-supplied jti of 1..128
     * printable characters, any other member), which the unit tests of
     * those rules use; no production path signs under them. */
    sg_policy_lookup lookup;
    void *lookup_user;
};

struct sg_policy_info {
    char jti[129];  /* minted by the signer (sg_policy_mint_jti) */
    char client_id[128];
    int64_t iat;
    int64_t exp;
};

/* Accepts only a JSON object (no duplicate members, depth <= 8) that is a
 * machine access token (client_credentials, RFC 9068) of a client the
 * signer knows:
 *   - exactly the members iss, sub, aud, exp, iat, client_id and
 *     optionally nbf, scope and cnf (SIGNET_ERR_POLICY_CLAIMS for any
 *     other; a jti is SIGNET_ERR_POLICY_JTI: the signer mints it);
 *   - cnf, if present, exactly {"jkt": <RFC 7638 SHA-256 thumbprint, 43
 *     base64url characters>} (RFC 9449 §6.1; SIGNET_ERR_POLICY_CLAIMS);
 *   - iss equals limits->issuer; integer iat within skew of now, integer
 *     exp with 0 < exp - iat <= max_lifetime (and <= the client's
 *     registered lifetime, if it has one), optional integer nbf within
 *     [iat - skew, exp);
 *   - client_id a string bound to the issuer's tenant in the signer's
 *     registry and sub == client_id (SIGNET_ERR_POLICY_CLIENT);
 *   - aud a string or a non-empty array of distinct strings, each one of
 *     the client's audiences (SIGNET_ERR_POLICY_AUDIENCE);
 *   - scope, if present, a space-separated list of the client's scopes
 *     (SIGNET_ERR_POLICY_SCOPE).
 * A new kind of token (user tokens, DPoP's cnf) must extend this check
 * first: the signer signs nothing else. */
SIGNET_WUR signet_err sg_policy_check_claims(const uint8_t *claims, size_t len,
                                             const struct sg_policy_limits *limits,
                                             struct sg_policy_info *info);

/* A fresh 128-bit random jti (base64url) in info->jti. */
SIGNET_WUR signet_err sg_policy_mint_jti(struct sg_policy_info *info);

/* The claims with "jti":info->jti added as their last member, in a new
 * malloc'd buffer: the accepted bytes are kept as they are (no
 * re-serialisation), the closing brace moved after the new member. */
SIGNET_WUR signet_err sg_policy_add_jti(const uint8_t *claims, size_t len,
                                        const struct sg_policy_info *info, uint8_t **out,
                                        size_t *out_len);

#endif
