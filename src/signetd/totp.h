/* TOTP (issue 14), the front end's half: two synchronous calls to a
 * signer, which draws, seals and checks the seed (docs/signer.md, TOTP).
 * The front end stores the sealed blob with the credential and shows the
 * secret to its user once; it never holds a seed after enrolment, never
 * logs the secret, a code or the blob. Both calls block the calling
 * thread for one signer round trip. */
#ifndef SD_TOTP_H
#define SD_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"

struct sd_ctx;

/* What the caller's buffers need (with the NUL). */
#define SD_TOTP_SEALED_CAP 65 /* base64url of iv || ciphertext || tag: 64 characters */
#define SD_TOTP_SECRET_CAP 33 /* base32 of the 20-byte seed, no padding: 32 characters */

/* A new seed for (tenant t, user_id, cred_id): user_id is "u" + 22
 * base64url characters, cred_id 1..64 base64url characters (the front
 * end's random id of the credential). On SIGNET_OK, sealed (what to
 * store; it opens only for this tenant, user and credential) and
 * secret_b32 (RFC 4648 base32, no padding: for the otpauth:// URI and the
 * page, once; wipe it after use) are filled, and the signer has audited
 * "totp_enrolled". SIGNET_ERR_INVALID_ARG: a malformed argument or a
 * buffer below its cap (nothing sent); SIGNET_ERR_SIGNER_GONE: no signer
 * could do it (no signer, its HSM, key store or audit log failing, rate
 * limited): answer 503. The buffers are emptied on any failure. */
SIGNET_WUR signet_err sd_totp_enrol(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                    const char *user_id, const char *cred_id, char *sealed,
                                    size_t sealed_cap, char *secret_b32, size_t secret_cap);

/* Checks code (what the person typed; leading and trailing spaces are
 * the caller's to trim) for the credential sealed in sealed:
 *   SIGNET_OK                  right, and its time step is now used up:
 *                              *step is it (the signer audited
 *                              "totp_verified"); amr gets "otp";
 *   SIGNET_ERR_PERMISSION      wrong: not the code of the step before, at
 *                              or after the signer's now, or not 6 digits,
 *                              or a blob that does not open for this user
 *                              and credential;
 *   SIGNET_ERR_EXISTS          replayed: right, but its step (or a later
 *                              one) was accepted before (RFC 6238 §5.2);
 *   SIGNET_ERR_INVALID_ARG     a malformed user_id, cred_id or sealed
 *                              (nothing sent);
 *   SIGNET_ERR_SIGNER_GONE     unavailable (as above): answer 503, never
 *                              treat as right.
 * Wrong and replayed codes are counted by the signer, not audited; the
 * caller throttles attempts per account and address as for passwords. */
SIGNET_WUR signet_err sd_totp_verify(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                     const char *user_id, const char *cred_id, const char *sealed,
                                     const char *code, int64_t *step);

/* The factor is gone (the caller deletes the blob with the credential):
 * the signer forgets its replay state and audits "totp_removed".
 * SIGNET_OK, SIGNET_ERR_INVALID_ARG or SIGNET_ERR_SIGNER_GONE. */
SIGNET_WUR signet_err sd_totp_remove(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                     const char *user_id, const char *cred_id);

#endif
