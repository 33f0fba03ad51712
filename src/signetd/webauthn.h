/* WebAuthn Level 3 relying-party verification (issue 13): the
 * registration ceremony (§7.1, attestation "none" only) and the
 * authentication ceremony (§7.2). CBOR through libcbor, COSE keys and
 * assertion signatures through libfido2's server-side API (es256_pk,
 * eddsa_pk, rs256_pk, fido_assert_verify), hashes through OpenSSL; no
 * hand-written CBOR decoder. Pure functions: no store, no clock, no I/O;
 * the caller looks the challenge and the credential up and stores what
 * comes back. Every failure says which check failed in why (no secret in
 * it: never a challenge, a signature or a key). */
#ifndef SD_WEBAUTHN_H
#define SD_WEBAUTHN_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SD_WA_MAX_CLIENT_DATA 4096u
#define SD_WA_MAX_AUTH_DATA 4096u
#define SD_WA_MAX_ATTESTATION 8192u
#define SD_WA_MAX_CRED_ID 1023u
#define SD_WA_MAX_COSE_KEY 1100u
#define SD_WA_CHALLENGE_LEN 32u

#define SD_WA_FLAG_UP 0x01u
#define SD_WA_FLAG_UV 0x04u
#define SD_WA_FLAG_BE 0x08u
#define SD_WA_FLAG_BS 0x10u
#define SD_WA_FLAG_AT 0x40u
#define SD_WA_FLAG_ED 0x80u

/* Errors of the calls below: SIGNET_ERR_MALFORMED (bytes that do not
 * parse), SIGNET_ERR_TOO_LARGE (over a cap), SIGNET_ERR_UNSUPPORTED (an
 * attestation format or a key signet does not accept), SIGNET_ERR_BAD_CLAIM
 * (a ceremony check failed), SIGNET_ERR_BAD_SIGNATURE, SIGNET_ERR_INVALID_ARG,
 * SIGNET_ERR_NOMEM. */

/* What the relying party expects of a ceremony. */
struct sd_wa_expect {
    const char *rp_id;  /* the issuer's host, e.g. "localhost" */
    const char *origin; /* exact origin, e.g. "http://localhost:8080" (scheme://host[:port]) */
    const uint8_t *challenge; /* the raw challenge the server issued */
    size_t challenge_len;
    int require_uv;     /* user verification required (signet: always 1) */
};

/* clientDataJSON (§5.8.1), parsed through the project's JSON door
 * (sg_json_parse: duplicate members refused). */
struct sd_wa_client_data {
    char type[32];              /* "webauthn.create" / "webauthn.get" */
    uint8_t challenge[64];      /* base64url-decoded */
    size_t challenge_len;
    char origin[256];
    int cross_origin;           /* crossOrigin true */
    int has_top_origin;
};
SIGNET_WUR signet_err sd_wa_parse_client_data(const uint8_t *json, size_t len,
                                              struct sd_wa_client_data *out, char *why,
                                              size_t whylen);

/* Authenticator data (§6.1): fixed 37-byte head, then attested credential
 * data when AT is set (aaguid, credential id, one CBOR COSE_Key whose
 * length is found by decoding it), then extensions when ED is set (one
 * CBOR map). Trailing bytes are refused. Pointers point into the input. */
struct sd_wa_auth_data {
    uint8_t rp_id_hash[32];
    unsigned flags;
    uint32_t sign_count;
    int attested;
    uint8_t aaguid[16];
    const uint8_t *cred_id;
    size_t cred_id_len;
    const uint8_t *cose_key;
    size_t cose_key_len;
};
SIGNET_WUR signet_err sd_wa_parse_auth_data(const uint8_t *data, size_t len,
                                            struct sd_wa_auth_data *out, char *why,
                                            size_t whylen);

/* A COSE_Key (RFC 9053): its algorithm, if signet accepts it (-7 ES256 on
 * P-256, -8 EdDSA on Ed25519, -257 RS256 with n of 2048..4096 bits and
 * e = 65537); SIGNET_ERR_UNSUPPORTED for a key signet does not accept,
 * SIGNET_ERR_MALFORMED for bytes that are not one well-formed COSE key map
 * (duplicate labels, wrong types, a private part, trailing bytes),
 * SIGNET_ERR_TOO_LARGE over SD_WA_MAX_COSE_KEY. */
SIGNET_WUR signet_err sd_wa_cose_alg(const uint8_t *cose, size_t len, int *alg);

/* What registration yields, to be stored (struct sg_passkey). */
struct sd_wa_credential {
    uint8_t cred_id[SD_WA_MAX_CRED_ID];
    size_t cred_id_len;
    int alg;
    uint8_t cose_key[SD_WA_MAX_COSE_KEY];
    size_t cose_key_len;
    uint32_t sign_count;
    unsigned flags;
    char aaguid[37]; /* 8-4-4-4-12 lowercase hex */
};

/* §7.1 steps 5-26 for attestation "none" (an attestationObject whose fmt
 * is "none" with an empty attStmt; any other fmt is refused: signet asks
 * for none and checks no attestation chain): type "webauthn.create",
 * challenge, origin, no crossOrigin, rpIdHash, UP, UV when required,
 * BE/BS consistency (BS without BE is refused), AT set, a credential id
 * of at most 1023 bytes, an accepted COSE key. */
SIGNET_WUR signet_err sd_wa_verify_registration(const struct sd_wa_expect *e,
                                                const uint8_t *client_data, size_t cd_len,
                                                const uint8_t *attestation, size_t att_len,
                                                struct sd_wa_credential *out, char *why,
                                                size_t whylen);

/* The outcome of an assertion. */
struct sd_wa_assertion {
    uint32_t sign_count;
    unsigned flags;
    int counter_regressed; /* the stored counter is non-zero and the new one <= it
                              (a new 0 after a non-zero one included); 0/0 is not */
};

/* §7.2 steps 11-22: type "webauthn.get", challenge, origin, no
 * crossOrigin, rpIdHash, UP, UV when required, BE unchanged from
 * registration (stored_flags), the signature over authenticatorData ||
 * SHA-256(clientDataJSON) with the stored COSE key. A counter regression
 * is reported (counter_regressed), not refused: the caller raises the
 * alert and refuses (WebAuthn §6.1.1 leaves the decision to the RP). */
SIGNET_WUR signet_err sd_wa_verify_assertion(const struct sd_wa_expect *e,
                                             const uint8_t *client_data, size_t cd_len,
                                             const uint8_t *auth_data, size_t ad_len,
                                             const uint8_t *sig, size_t sig_len,
                                             const uint8_t *cose_key, size_t cose_len,
                                             uint32_t stored_count, unsigned stored_flags,
                                             struct sd_wa_assertion *out, char *why,
                                             size_t whylen);

#endif
