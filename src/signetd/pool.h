/* The signer processes and the rotation scheduler (pool.c). The pool knows
 * nothing of the rest of signetd: it reports key transitions and signer
 * (re)starts through its on_change hook. */
#ifndef SD_POOL_H
#define SD_POOL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "signetd/launcher.h"

struct sg_signer_client;

struct sd_slot {
    pthread_rwlock_t lock; /* read: a call in progress; write: (re)spawn */
    struct sg_signer_client *client;
    atomic_int healthy;
    atomic_int busy;       /* running the lifecycle (ADVANCE): new signatures go elsewhere */
    int64_t retry_at_ms;   /* monotonic ms of the next respawn attempt */
    int64_t backoff_ms;
    int64_t up_ms;         /* monotonic ms its signer started; 0: none running */
    struct sd_pool *pool;  /* the pool, and this slot's index in it */
    unsigned idx;
};

struct sd_pool {
    int launcher_fd;           /* the launcher's control channel: signers come from it */
    struct sd_slot slots[SD_MAX_SIGNERS];
    unsigned n;
    atomic_uint next;
    atomic_int ready;          /* the last STATUS round trip succeeded */
    atomic_int stopping;       /* sd_pool_stop: a lost request is not sent again */
    pthread_t scheduler;
    int scheduler_started;
    pthread_mutex_t wait_lock;
    pthread_cond_t wake;
    int stop;
    int respawn_all;           /* set by reload: restart every signer */
    unsigned mode;             /* SD_POOL_* */
    /* Called from the scheduler thread after key transitions and signer
     * (re)starts (signetd pokes the invariant monitor). */
    void (*on_change)(void *user);
    void *on_change_user;
};

#define SD_POOL_SHORT_ROTATION 1u /* poll every second instead of every 30 */
#define SD_POOL_FAST_POLL 2u      /* injected clock: poll every 100 ms, it may jump */
#define SD_POOL_PAUSED 4u         /* [testing] pause_rotation: no ADVANCE */

SIGNET_WUR signet_err sd_pool_start(struct sd_pool *p, int launcher_fd, unsigned n, unsigned mode);
/* Stops the rotation scheduler (signers keep answering). */
void sd_pool_stop_scheduler(struct sd_pool *p);
/* Stops the scheduler if still running, then every signer. */
void sd_pool_stop(struct sd_pool *p);
/* Restart every signer (after a reload, so they read the new config). */
void sd_pool_respawn(struct sd_pool *p, unsigned mode);
/* A call on one healthy signer; SIGNET_ERR_SIGNER_GONE when none is. */
SIGNET_WUR signet_err sd_pool_sign(struct sd_pool *p, const char *issuer, const char *claims,
                                   size_t len, signet_err *status, char **token);
/* The same, asynchronously (a request whose signer dies before answering
 * goes once more to another one): SIGNET_OK means cb(user, err, status, token)
 * runs exactly once (token malloc'd for the callback, or NULL), from a
 * signer client's reader thread, or from any thread when the signer fails
 * (err SIGNET_ERR_SIGNER_GONE), at the latest in sd_pool_stop. Any other
 * return: nothing was sent, cb never runs. */
typedef void (*sd_pool_sign_cb)(void *user, signet_err err, signet_err status, char *token);
SIGNET_WUR signet_err sd_pool_sign_async(struct sd_pool *p, const char *issuer,
                                         const char *claims, size_t len, sd_pool_sign_cb cb,
                                         void *user);
/* The same with the algorithm (NULL: the tenant's default, its first) and
 * the JWS typ: "at+jwt" (what the call above sends) or "JWT" (an ID
 * token, docs/people.md); the signer's policy decides the form by typ. */
SIGNET_WUR signet_err sd_pool_sign_typ_async(struct sd_pool *p, const char *issuer,
                                             const char *alg, const char *typ,
                                             const char *claims, size_t len,
                                             sd_pool_sign_cb cb, void *user);
/* A call on one healthy signer; if that one dies (or its channel does)
 * before answering, once more on another. */
SIGNET_WUR signet_err sd_pool_call(struct sd_pool *p, uint8_t type, const char *arg,
                                   signet_err *status, char **json);
/* Readiness: 1 when at least one signer runs and every running one says
 * (STATUS "health") that its last signature, or its test signature,
 * succeeded; else 0 and why gets a short reason without secrets (e.g.
 * "signer failing: SIGNET_ERR_AUDIT"). */
int sd_pool_ready(struct sd_pool *p, char *why, size_t whylen);

#endif
