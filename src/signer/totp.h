/* TOTP in the signer (issue 14): seeds drawn in the HSM, sealed under a
 * non-extractable AES key there (the front end keeps only the sealed
 * blob), codes checked here against the signer's clock, each accepted
 * time step used once (the key store's totp_steps). docs/signer.md, TOTP. */
#ifndef SG_TOTP_H
#define SG_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"

struct sg_p11;
struct sg_store;
struct sg_audit;

/* Counters for STATUS ("totp"): no failure is audited (a guesser could
 * flood the log), each is counted and logged. */
struct sg_totp_stats {
    uint64_t enrolled, verified, removed;
    uint64_t wrong;    /* no code of the window matched */
    uint64_t replayed; /* a matching step at or before the last one accepted */
    uint64_t unsealed; /* a blob that did not open (tampered, or another user's) */
    uint64_t errors;   /* HSM, store or audit failures: answered with an error */
};

struct sg_totp_signer {
    struct sg_p11 *p11;
    struct sg_store *store; /* the key store */
    struct sg_audit *audit;
    const struct sg_config *cfg;
    /* The lock that serialises the seal key's creation between signer
     * processes (the signer's lifecycle lock). */
    signet_err (*lock)(void *user);
    void (*unlock)(void *user);
    void *lock_user;
    int key_ok; /* the seal key was found or made */
    struct sg_totp_stats stats;
};

/* Finds the seal key, or makes it when create is set (under the lock, so
 * that signers starting together make one). */
SIGNET_WUR signet_err sg_totp_setup(struct sg_totp_signer *t, int create);

/* One TOTP_ENROL, TOTP_VERIFY or TOTP_REMOVE request from a peer of role.
 * SIGNET_ERR_BAD_FRAME for a malformed one (the channel is dropped);
 * otherwise SIGNET_OK with the verdict in *status and, when it is
 * SIGNET_OK, the answer's JSON text in *answer (malloc'd; an enrolment's
 * holds the seed: wipe it before free, as sg_totp_answer_free does). */
SIGNET_WUR signet_err sg_totp_handle(struct sg_totp_signer *t, uint8_t type, unsigned role,
                                     const uint8_t *p, size_t n, signet_err *status,
                                     char **answer);
void sg_totp_answer_free(char **answer);

/* The additional authenticated data that binds a sealed seed to its
 * tenant, user and credential: "signet-totp-seal/1", then issuer, user_id
 * and cred_id, each after a NUL (none holds a NUL). *len bytes into out
 * (cap bytes); SIGNET_ERR_TOO_LARGE when it does not fit. Exposed for tests. */
SIGNET_WUR signet_err sg_totp_aad(const char *issuer, const char *user_id, const char *cred_id,
                                  uint8_t *out, size_t cap, size_t *len);

#endif
