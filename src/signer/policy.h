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
    /* The JWS typ the front end asked for (RFC 7515 §4.1.9): "at+jwt" (an
     * access token, RFC 9068 §2.1) or "JWT" (an ID token). NULL only under
     * the base rules (lookup NULL). */
    const char *typ;
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

/* What the signer signed, for its audit record. */
enum sg_policy_kind {
    SG_POLICY_NONE = 0,  /* refused, or the base rules (no registry) */
    SG_POLICY_MACHINE,   /* a client's own access token (sub == client_id) */
    SG_POLICY_PERSON,    /* a person's access token */
    SG_POLICY_ID_TOKEN,  /* an OIDC ID token */
};

/* "machine", "person", "id_token"; "" for SG_POLICY_NONE. */
const char *sg_policy_kind_name(enum sg_policy_kind kind);

/* "u" + 22 base64url characters, and its NUL. */
#define SG_POLICY_USER_ID_LEN 23u
/* A session id: 1..47 characters of [A-Za-z0-9_-]. */
#define SG_POLICY_SID_MAX 47u

struct sg_policy_info {
    char jti[129];  /* minted by the signer (sg_policy_mint_jti) */
    char client_id[128]; /* machine, person: client_id; ID token: aud (== azp) */
    int64_t iat;
    int64_t exp;
    enum sg_policy_kind kind;
    char sub[SG_POLICY_USER_ID_LEN + 1]; /* person, ID token: the user id; else "" */
    char sid[SG_POLICY_SID_MAX + 1];     /* person, ID token: the session id; else "" */
};

/* Accepts only a JSON object (no duplicate members, depth <= 8) that is one
 * of three forms, chosen by limits->typ, for a client the signer knows;
 * anything else is refused. First the base rules, for every form:
 *   - typ "at+jwt" or "JWT", exactly (SIGNET_ERR_POLICY_PAYLOAD, as the
 *     signer has always refused any other typ);
 *   - iss equals limits->issuer (SIGNET_ERR_POLICY_ISSUER); integer iat
 *     within skew of now (SIGNET_ERR_POLICY_TIME), integer exp with
 *     0 < exp - iat <= max_lifetime (SIGNET_ERR_POLICY_LIFETIME), optional
 *     integer nbf within [iat - skew, exp) (SIGNET_ERR_POLICY_PAYLOAD).
 * A user id below is "u" followed by exactly 22 base64url characters
 * (RFC 4648 §5); a jti from the front end is always SIGNET_ERR_POLICY_JTI
 * (the signer mints it); a member outside a form's list, or a required one
 * missing, is SIGNET_ERR_POLICY_CLAIMS.
 *
 * A machine access token (typ "at+jwt", client_credentials, RFC 9068;
 * every at+jwt whose sub is not a user id other than client_id):
 *   - exactly the members iss, sub, aud, exp, iat, client_id and
 *     optionally nbf, scope and cnf (so never auth_time, acr, amr, sid);
 *   - cnf, if present, exactly {"jkt": <RFC 7638 SHA-256 thumbprint, 43
 *     base64url characters>} (RFC 9449 §6.1; SIGNET_ERR_POLICY_CLAIMS);
 *   - client_id a string bound to the issuer's tenant in the signer's
 *     registry and sub == client_id (SIGNET_ERR_POLICY_CLIENT);
 *   - aud a string or a non-empty array of distinct strings, each one of
 *     the client's audiences (SIGNET_ERR_POLICY_AUDIENCE);
 *   - scope, if present, a space-separated list of the client's scopes
 *     (SIGNET_ERR_POLICY_SCOPE);
 *   - exp - iat within the client's registered lifetime, if it has one
 *     (SIGNET_ERR_POLICY_LIFETIME).
 *
 * A person's access token (typ "at+jwt", sub a user id != client_id): the
 * machine token's members and rules, sub excepted, plus the person
 * members auth_time, acr, amr and sid, all four required (below).
 *
 * An ID token (typ "JWT", OIDC Core §2):
 *   - exactly the members iss, sub, aud, exp, iat, auth_time, acr, amr,
 *     sid, azp and optionally nonce and at_hash;
 *   - aud a single string equal to azp (SIGNET_ERR_POLICY_AUDIENCE), a
 *     client bound to the issuer's tenant (SIGNET_ERR_POLICY_CLIENT);
 *   - sub a user id (SIGNET_ERR_POLICY_CLAIMS);
 *   - exp - iat <= 3600 (SIGNET_ERR_POLICY_LIFETIME);
 *   - nonce, if present, a string of 1..256 bytes; at_hash, if present,
 *     22..43 base64url characters (OIDC Core §3.1.3.6; both
 *     SIGNET_ERR_POLICY_CLAIMS).
 *
 * The person members, in a person's access token and an ID token:
 *   - auth_time an integer <= iat, iat - auth_time <= 30 days
 *     (SIGNET_ERR_POLICY_TIME; not an integer: SIGNET_ERR_POLICY_CLAIMS);
 *   - acr "urn:signet:acr:phr" or "urn:signet:acr:mfa";
 *   - amr a non-empty array of at most 8 distinct strings, each one of
 *     hwk, swk, user, pin, fpt, mfa, pwd, otp, face (RFC 8176 §2);
 *   - sid 1..47 characters of [A-Za-z0-9_-]
 *   (SIGNET_ERR_POLICY_CLAIMS for acr, amr and sid).
 *
 * On success info says which form it was (kind), the client, iat, exp and,
 * for a person, sub and sid; the signer's audit record of the signature
 * carries them. With limits->lookup NULL only the base rules apply (typ may
 * then be NULL), plus a front-supplied jti of 1..128 printable characters
 * and any other member: the unit tests of those rules use them; no
 * production path signs under them.
 * A new kind of token must extend this check first: the signer signs
 * nothing else. */
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
