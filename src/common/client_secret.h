/* Client secrets (client_secret_basic / client_secret_post): stored as
 * HMAC-SHA-256 under a pepper, the front end's (client_secret.c).
 *
 * A client secret is 256 random bits that `signet client add` generates:
 * no one can guess it, offline or online, so a memory-hard hash (made for
 * human passwords) would add no strength, only cost, and every wrong
 * secret sent to the token endpoint would make the server pay it. A keyed
 * fast hash costs microseconds; the pepper (32 random bytes in
 * <state>/front/client.pepper, the front end's account's, 0600) keeps a
 * copy of the store alone from confirming even a leaked secret.
 *
 * Encoded form: "hmac-sha256$<b64url salt>$<b64url mac>", where
 * mac = HMAC-SHA-256(pepper, "signet-client-secret-v1" NUL salt secret).
 * Hashes of the earlier format ("$argon2id$...") stay valid (legacy). */
#ifndef SG_CLIENT_SECRET_H
#define SG_CLIENT_SECRET_H

#include <stddef.h>

#include "signet/error.h"
#include "util/secret.h"

#define SG_PEPPER_FILE "client.pepper" /* in <state>/front/ */
#define SG_PEPPER_LEN 32
#define SG_SECRET_HMAC_PREFIX "hmac-sha256$"
#define SG_SECRET_HMAC_MAX 96 /* the encoded form's length, NUL included */

enum sg_secret_kind {
    SG_SECRET_KIND_HMAC,
    SG_SECRET_KIND_ARGON2ID, /* legacy */
    SG_SECRET_KIND_OTHER,
};

enum sg_secret_kind sg_client_secret_kind(const char *encoded);

/* <state>/front/client.pepper: read (32 bytes after base64url decoding,
 * refused when readable by group or others), or created when missing
 * (O_EXCL, 0600; *created says so). */
SIGNET_WUR signet_err sg_pepper_load(const char *state_dir, struct sg_secret **out);
SIGNET_WUR signet_err sg_pepper_create(const char *state_dir, int *created);

/* <state>/front/dpop.key: the key of signetd's stateless DPoP nonces
 * (RFC 9449 §8; HMAC over time steps, lib/dpop.h), 32 random bytes made
 * like the pepper: by `signet init`, or by signetd's front end at its
 * start when an earlier layout has none (the front end's account, 0600).
 * Every node sharing the state directory shares it. */
#define SG_DPOP_KEY_FILE "dpop.key"
SIGNET_WUR signet_err sg_dpop_key_load(const char *state_dir, struct sg_secret **out);
SIGNET_WUR signet_err sg_dpop_key_create(const char *state_dir, int *created);

/* The encoded hash of secret under pepper, with a fresh random salt, into
 * out (SG_SECRET_HMAC_MAX bytes). */
SIGNET_WUR signet_err sg_client_secret_hash(const struct sg_secret *pepper, const char *secret,
                                            char out[static SG_SECRET_HMAC_MAX]);

/* 1 when secret matches the "hmac-sha256$" encoded hash, else 0 (also for
 * a malformed one). The MAC is always computed and compared in constant
 * time, so a wrong secret costs what a right one does. */
int sg_client_secret_check(const struct sg_secret *pepper, const char *secret,
                           const char *encoded);

#endif
