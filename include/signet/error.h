/* signet — error codes shared by libsignet, the signer, signetd and the CLI. */
#ifndef SIGNET_ERROR_H
#define SIGNET_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SIGNET_API __attribute__((visibility("default")))
#define SIGNET_WUR __attribute__((warn_unused_result))
#define SIGNET_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define SIGNET_API
#define SIGNET_WUR
#define SIGNET_NONNULL(...)
#endif

/*
 * One enum for the whole project; 0 is success. The numeric values are
 * stable (they travel in signer frames and are part of the ABI): append,
 * never renumber. signet_err_name() gives the stable symbolic name.
 */
typedef enum signet_err {
    SIGNET_OK = 0,

    /* generic 1..99 */
    SIGNET_ERR_NOMEM = 1,
    SIGNET_ERR_INVALID_ARG = 2,
    SIGNET_ERR_IO = 3,
    SIGNET_ERR_INTERNAL = 4,
    SIGNET_ERR_TOO_LARGE = 5,
    SIGNET_ERR_NOT_FOUND = 6,
    SIGNET_ERR_EXISTS = 7,
    SIGNET_ERR_CONFIG = 8,
    SIGNET_ERR_PERMISSION = 9,
    SIGNET_ERR_UNSUPPORTED = 10,
    SIGNET_ERR_CRYPTO = 11,
    SIGNET_ERR_TIMEOUT = 12,
    SIGNET_ERR_NETWORK = 13,
    SIGNET_ERR_BUSY = 14,

    /* parsing of untrusted input 100..199 */
    SIGNET_ERR_MALFORMED = 100,
    SIGNET_ERR_BAD_BASE64 = 101,
    SIGNET_ERR_BAD_JSON = 102,
    SIGNET_ERR_DUPLICATE_MEMBER = 103,
    SIGNET_ERR_NOT_COMPACT_JWS = 104,
    SIGNET_ERR_JSON_TOO_DEEP = 105,
    SIGNET_ERR_BAD_FRAME = 106,

    /* token validation (libsignet) 200..299 */
    SIGNET_ERR_ALG_NOT_ALLOWED = 200,
    SIGNET_ERR_ALG_KEY_MISMATCH = 201,
    SIGNET_ERR_UNKNOWN_ISSUER = 202,
    SIGNET_ERR_KEY_NOT_IN_ISSUER_SET = 203,
    SIGNET_ERR_KEY_ISSUER_MISMATCH = 204,
    SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT = 205,
    SIGNET_ERR_BAD_SIGNATURE = 206,
    SIGNET_ERR_BAD_TYP = 207,
    SIGNET_ERR_ISSUER_MISMATCH = 208,
    SIGNET_ERR_AUDIENCE_MISMATCH = 209,
    SIGNET_ERR_EXPIRED = 210,
    SIGNET_ERR_NOT_YET_VALID = 211,
    SIGNET_ERR_IAT_IN_FUTURE = 212,
    SIGNET_ERR_LIFETIME_TOO_LONG = 213,
    SIGNET_ERR_MISSING_CLAIM = 214,
    SIGNET_ERR_BAD_CLAIM = 215,
    SIGNET_ERR_FORBIDDEN_HEADER = 216,
    SIGNET_ERR_UNKNOWN_CRIT = 217,
    SIGNET_ERR_JWKS_UNAVAILABLE = 218,
    SIGNET_ERR_BAD_JWKS = 219,
    SIGNET_ERR_DISCOVERY_MISMATCH = 220,
    SIGNET_ERR_KEY_METADATA_REQUIRED = 221,
    SIGNET_ERR_TOKEN_REVOKED = 222,
    SIGNET_ERR_DPOP = 223,
    SIGNET_ERR_DPOP_NONCE = 224,       /* use_dpop_nonce: nonce missing or stale */
    SIGNET_ERR_DPOP_REPLAY = 225,      /* proof jti already seen */
    SIGNET_ERR_DPOP_BINDING = 226,     /* cnf.jkt does not match the proof key */
    SIGNET_ERR_DPOP_DOWNGRADE = 227,   /* bound token as Bearer, unbound as DPoP */
    SIGNET_ERR_DPOP_UNPROTECTED = 228, /* no replay cache and no nonce, not opted out */
    SIGNET_ERR_INSUFFICIENT_USER_AUTH = 229, /* RFC 9470: acr or auth_time short of the requirement */

    /* HSM, keys, lifecycle, signer policy 300..399 */
    SIGNET_ERR_HSM = 300,
    SIGNET_ERR_HSM_MODULE = 301,
    SIGNET_ERR_HSM_PIN = 302,
    SIGNET_ERR_HSM_TOKEN = 303,
    SIGNET_ERR_MODULE_NOT_ALLOWED = 304,
    SIGNET_ERR_NO_ACTIVE_KEY = 305,
    SIGNET_ERR_UNKNOWN_KID = 306,
    SIGNET_ERR_POLICY_ISSUER = 307,
    SIGNET_ERR_POLICY_LIFETIME = 308,
    SIGNET_ERR_POLICY_PAYLOAD = 309,
    SIGNET_ERR_KEY_STATE = 310,
    SIGNET_ERR_AUDIT = 311,
    SIGNET_ERR_AUDIT_BROKEN = 312,
    SIGNET_ERR_STORE = 313,
    SIGNET_ERR_STORE_CORRUPT = 314,
    SIGNET_ERR_SIGNER_GONE = 315,
    SIGNET_ERR_NOT_INITIALISED = 316,
    SIGNET_ERR_UNKNOWN_ISSUER_CONFIG = 317,
    SIGNET_ERR_POLICY_TIME = 318,
    SIGNET_ERR_POLICY_CLIENT = 319,
    SIGNET_ERR_POLICY_SCOPE = 320,
    SIGNET_ERR_POLICY_AUDIENCE = 321,
    SIGNET_ERR_POLICY_CLAIMS = 322,
    SIGNET_ERR_POLICY_JTI = 323,
    SIGNET_ERR_REVOKE_TOO_SOON = 324,
} signet_err;

/* A sentence describing the error; never NULL. */
SIGNET_API const char *signet_strerror(signet_err err);
/* The stable symbolic name, e.g. "SIGNET_ERR_KEY_NOT_IN_ISSUER_SET"; never NULL. */
SIGNET_API const char *signet_err_name(signet_err err);

#ifdef __cplusplus
}
#endif
#endif /* SIGNET_ERROR_H */
