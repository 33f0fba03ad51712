/* Generated from include/signet/error.h: one entry per code. */
#include "signet/error.h"

#include <stddef.h>

struct err_entry {
    signet_err code;
    const char *name;
    const char *msg;
};

static const struct err_entry entries[] = {
    {SIGNET_OK, "SIGNET_OK", "success"},
    {SIGNET_ERR_NOMEM, "SIGNET_ERR_NOMEM", "out of memory"},
    {SIGNET_ERR_INVALID_ARG, "SIGNET_ERR_INVALID_ARG", "invalid argument"},
    {SIGNET_ERR_IO, "SIGNET_ERR_IO", "input/output error"},
    {SIGNET_ERR_INTERNAL, "SIGNET_ERR_INTERNAL", "internal error"},
    {SIGNET_ERR_TOO_LARGE, "SIGNET_ERR_TOO_LARGE", "input exceeds its size limit"},
    {SIGNET_ERR_NOT_FOUND, "SIGNET_ERR_NOT_FOUND", "not found"},
    {SIGNET_ERR_EXISTS, "SIGNET_ERR_EXISTS", "already exists"},
    {SIGNET_ERR_CONFIG, "SIGNET_ERR_CONFIG", "invalid configuration"},
    {SIGNET_ERR_PERMISSION, "SIGNET_ERR_PERMISSION", "permission denied or unsafe file permissions"},
    {SIGNET_ERR_UNSUPPORTED, "SIGNET_ERR_UNSUPPORTED", "not supported"},
    {SIGNET_ERR_CRYPTO, "SIGNET_ERR_CRYPTO", "cryptographic operation failed"},
    {SIGNET_ERR_TIMEOUT, "SIGNET_ERR_TIMEOUT", "operation timed out"},
    {SIGNET_ERR_NETWORK, "SIGNET_ERR_NETWORK", "network error"},
    {SIGNET_ERR_BUSY, "SIGNET_ERR_BUSY", "resource busy, try again"},
    {SIGNET_ERR_MALFORMED, "SIGNET_ERR_MALFORMED", "malformed input"},
    {SIGNET_ERR_BAD_BASE64, "SIGNET_ERR_BAD_BASE64", "invalid base64url encoding (padding, stray or non-canonical characters)"},
    {SIGNET_ERR_BAD_JSON, "SIGNET_ERR_BAD_JSON", "invalid JSON"},
    {SIGNET_ERR_DUPLICATE_MEMBER, "SIGNET_ERR_DUPLICATE_MEMBER", "duplicate JSON member name"},
    {SIGNET_ERR_NOT_COMPACT_JWS, "SIGNET_ERR_NOT_COMPACT_JWS", "not a compact JWS (expected three base64url parts)"},
    {SIGNET_ERR_JSON_TOO_DEEP, "SIGNET_ERR_JSON_TOO_DEEP", "JSON nested too deeply"},
    {SIGNET_ERR_BAD_FRAME, "SIGNET_ERR_BAD_FRAME", "malformed signer frame"},
    {SIGNET_ERR_ALG_NOT_ALLOWED, "SIGNET_ERR_ALG_NOT_ALLOWED", "algorithm not allowed"},
    {SIGNET_ERR_ALG_KEY_MISMATCH, "SIGNET_ERR_ALG_KEY_MISMATCH", "header alg does not match the key's algorithm or type"},
    {SIGNET_ERR_UNKNOWN_ISSUER, "SIGNET_ERR_UNKNOWN_ISSUER", "issuer is not trusted"},
    {SIGNET_ERR_KEY_NOT_IN_ISSUER_SET, "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET", "kid not found in the key set of the token's issuer"},
    {SIGNET_ERR_KEY_ISSUER_MISMATCH, "SIGNET_ERR_KEY_ISSUER_MISMATCH", "key is scoped to a different issuer"},
    {SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT, "SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT", "token was issued outside its key's active window"},
    {SIGNET_ERR_BAD_SIGNATURE, "SIGNET_ERR_BAD_SIGNATURE", "signature verification failed"},
    {SIGNET_ERR_BAD_TYP, "SIGNET_ERR_BAD_TYP", "wrong token type (typ)"},
    {SIGNET_ERR_ISSUER_MISMATCH, "SIGNET_ERR_ISSUER_MISMATCH", "iss claim does not match the expected issuer"},
    {SIGNET_ERR_AUDIENCE_MISMATCH, "SIGNET_ERR_AUDIENCE_MISMATCH", "aud claim contains no accepted audience"},
    {SIGNET_ERR_EXPIRED, "SIGNET_ERR_EXPIRED", "token has expired"},
    {SIGNET_ERR_NOT_YET_VALID, "SIGNET_ERR_NOT_YET_VALID", "token is not yet valid (nbf)"},
    {SIGNET_ERR_IAT_IN_FUTURE, "SIGNET_ERR_IAT_IN_FUTURE", "token issued in the future (iat)"},
    {SIGNET_ERR_LIFETIME_TOO_LONG, "SIGNET_ERR_LIFETIME_TOO_LONG", "token lifetime exceeds the maximum"},
    {SIGNET_ERR_MISSING_CLAIM, "SIGNET_ERR_MISSING_CLAIM", "a required claim is missing"},
    {SIGNET_ERR_BAD_CLAIM, "SIGNET_ERR_BAD_CLAIM", "a claim has the wrong type or value"},
    {SIGNET_ERR_FORBIDDEN_HEADER, "SIGNET_ERR_FORBIDDEN_HEADER", "forbidden JOSE header (jku, x5u, jwk or x5c)"},
    {SIGNET_ERR_UNKNOWN_CRIT, "SIGNET_ERR_UNKNOWN_CRIT", "unknown critical header parameter"},
    {SIGNET_ERR_JWKS_UNAVAILABLE, "SIGNET_ERR_JWKS_UNAVAILABLE", "issuer key set unavailable"},
    {SIGNET_ERR_BAD_JWKS, "SIGNET_ERR_BAD_JWKS", "invalid JWKS"},
    {SIGNET_ERR_DISCOVERY_MISMATCH, "SIGNET_ERR_DISCOVERY_MISMATCH", "discovery document issuer does not match the configured issuer"},
    {SIGNET_ERR_KEY_METADATA_REQUIRED, "SIGNET_ERR_KEY_METADATA_REQUIRED", "key lacks the required iss/active_from metadata"},
    {SIGNET_ERR_TOKEN_REVOKED, "SIGNET_ERR_TOKEN_REVOKED", "token revoked"},
    {SIGNET_ERR_DPOP, "SIGNET_ERR_DPOP", "DPoP proof invalid"},
    {SIGNET_ERR_DPOP_NONCE, "SIGNET_ERR_DPOP_NONCE",
     "DPoP proof lacks the server nonce or carries a stale one (use_dpop_nonce)"},
    {SIGNET_ERR_DPOP_REPLAY, "SIGNET_ERR_DPOP_REPLAY", "DPoP proof replayed (jti already seen)"},
    {SIGNET_ERR_DPOP_BINDING, "SIGNET_ERR_DPOP_BINDING",
     "token cnf.jkt does not match the DPoP proof key"},
    {SIGNET_ERR_DPOP_DOWNGRADE, "SIGNET_ERR_DPOP_DOWNGRADE",
     "DPoP-bound token presented as Bearer, or unbound token presented as DPoP"},
    {SIGNET_ERR_DPOP_UNPROTECTED, "SIGNET_ERR_DPOP_UNPROTECTED",
     "DPoP verification has neither a replay cache nor nonces (not opted out)"},
    {SIGNET_ERR_INSUFFICIENT_USER_AUTH, "SIGNET_ERR_INSUFFICIENT_USER_AUTH",
     "the token's authentication (acr, auth_time) does not meet the requirement: step up (RFC 9470)"},
    {SIGNET_ERR_HSM, "SIGNET_ERR_HSM", "HSM operation failed"},
    {SIGNET_ERR_HSM_MODULE, "SIGNET_ERR_HSM_MODULE", "PKCS#11 module could not be loaded or initialised"},
    {SIGNET_ERR_HSM_PIN, "SIGNET_ERR_HSM_PIN", "HSM login failed (wrong or unreadable PIN)"},
    {SIGNET_ERR_HSM_TOKEN, "SIGNET_ERR_HSM_TOKEN", "HSM token not found or not usable"},
    {SIGNET_ERR_MODULE_NOT_ALLOWED, "SIGNET_ERR_MODULE_NOT_ALLOWED", "PKCS#11 module is outside the allow-listed directories, or writable or owned by someone other than root or the signer"},
    {SIGNET_ERR_NO_ACTIVE_KEY, "SIGNET_ERR_NO_ACTIVE_KEY", "issuer has no ACTIVE key"},
    {SIGNET_ERR_UNKNOWN_KID, "SIGNET_ERR_UNKNOWN_KID", "unknown key id"},
    {SIGNET_ERR_POLICY_ISSUER, "SIGNET_ERR_POLICY_ISSUER", "payload iss does not match the signing key's issuer"},
    {SIGNET_ERR_POLICY_LIFETIME, "SIGNET_ERR_POLICY_LIFETIME", "token lifetime exceeds the configured maximum"},
    {SIGNET_ERR_POLICY_PAYLOAD, "SIGNET_ERR_POLICY_PAYLOAD", "payload is not an acceptable JSON claims object"},
    {SIGNET_ERR_KEY_STATE, "SIGNET_ERR_KEY_STATE", "key is not in a state that allows this operation"},
    {SIGNET_ERR_AUDIT, "SIGNET_ERR_AUDIT", "audit log could not be written"},
    {SIGNET_ERR_AUDIT_BROKEN, "SIGNET_ERR_AUDIT_BROKEN", "audit log chain is broken"},
    {SIGNET_ERR_STORE, "SIGNET_ERR_STORE", "state store error"},
    {SIGNET_ERR_STORE_CORRUPT, "SIGNET_ERR_STORE_CORRUPT", "state store is corrupt or has an unknown schema"},
    {SIGNET_ERR_SIGNER_GONE, "SIGNET_ERR_SIGNER_GONE", "signer process unavailable"},
    {SIGNET_ERR_NOT_INITIALISED, "SIGNET_ERR_NOT_INITIALISED", "state directory is not initialised (run signet init)"},
    {SIGNET_ERR_UNKNOWN_ISSUER_CONFIG, "SIGNET_ERR_UNKNOWN_ISSUER_CONFIG", "issuer is not configured"},
    {SIGNET_ERR_POLICY_TIME, "SIGNET_ERR_POLICY_TIME", "payload iat is too far from the signer's clock"},
    {SIGNET_ERR_POLICY_CLIENT, "SIGNET_ERR_POLICY_CLIENT",
     "payload sub/client_id is not a client registered with the signer"},
    {SIGNET_ERR_POLICY_SCOPE, "SIGNET_ERR_POLICY_SCOPE",
     "payload scope is outside the client's registered scopes"},
    {SIGNET_ERR_POLICY_AUDIENCE, "SIGNET_ERR_POLICY_AUDIENCE",
     "payload aud is outside the client's registered audiences"},
    {SIGNET_ERR_POLICY_CLAIMS, "SIGNET_ERR_POLICY_CLAIMS",
     "payload has a claim the signer's policy does not allow"},
    {SIGNET_ERR_POLICY_JTI, "SIGNET_ERR_POLICY_JTI",
     "payload carries its own jti: the signer mints every jti"},
    {SIGNET_ERR_REVOKE_TOO_SOON, "SIGNET_ERR_REVOKE_TOO_SOON",
     "a key of this issuer was revoked within the pre-publication window"},
};

static const struct err_entry *find(signet_err err)
{
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (entries[i].code == err)
            return &entries[i];
    return NULL;
}

const char *signet_strerror(signet_err err)
{
    const struct err_entry *e = find(err);
    return e != NULL ? e->msg : "unknown error";
}

const char *signet_err_name(signet_err err)
{
    const struct err_entry *e = find(err);
    return e != NULL ? e->name : "SIGNET_ERR_UNKNOWN";
}
