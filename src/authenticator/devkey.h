/* signet-authenticator's device key (docs/authenticator.md): an ES256
 * (P-256) key generated on the device by OpenSSL, kept in DIR/device.key
 * (PKCS#8 PEM, mode 0600, created with O_EXCL under umask 077), never sent
 * anywhere; and the `Signet-Device` proofs it signs for each request. */
#ifndef SA_DEVKEY_H
#define SA_DEVKEY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "util/thumbprint.h"

#define SA_KEY_FILE_MAX 16384u /* bytes of a device.key we read */
#define SA_JWK_TEXT_MAX 160u   /* {"crv":"P-256","kty":"EC","x":...,"y":...} */
#define SA_PROOF_MAX 8192u

/* A fresh P-256 key. */
SIGNET_WUR signet_err sa_key_generate(EVP_PKEY **out);

/* Writes key to path as PKCS#8 PEM: open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW,
 * 0600) under umask 077, fsync. SIGNET_ERR_EXISTS when path exists (never
 * overwritten), SIGNET_ERR_IO otherwise. */
SIGNET_WUR signet_err sa_key_save(EVP_PKEY *key, const char *path);

/* Reads path: a regular file of ours (O_NOFOLLOW), not readable or
 * writable by group or others (SIGNET_ERR_PERMISSION), holding a P-256
 * private key (SIGNET_ERR_UNSUPPORTED otherwise). */
SIGNET_WUR signet_err sa_key_load(const char *path, EVP_PKEY **out);

/* The public JWK, members in RFC 7638 order (kty, crv, x, y only), as
 * compact JSON text, and its RFC 7638 SHA-256 thumbprint (the device id). */
SIGNET_WUR signet_err sa_key_jwk(EVP_PKEY *key, char text[static SA_JWK_TEXT_MAX],
                                 char id[static SG_THUMBPRINT_LEN + 1]);

/* A `Signet-Device` proof for one request: ES256 compact JWS, header
 * {"typ":"signet-device+jwt","alg":"ES256", "jwk":... (device_id NULL:
 * registration) or "kid":device_id}, claims {"htm","htu","iat","jti"
 * (16 random bytes, base64url),"bh" (base64url SHA-256 of body)}.
 * *out is malloc'd. */
SIGNET_WUR signet_err sa_proof_make(EVP_PKEY *key, const char *device_id, const char *htm,
                                    const char *htu, const uint8_t *body, size_t body_len,
                                    int64_t iat, char **out);

#endif
