/* The token endpoint's DPoP replay cache, written in groups (replay.c).
 *
 * Every DPoP token request records its proof (tenant, b64url(SHA-256(jti
 * || htu))) in the store before it is signed, so that a proof is used once
 * across restarts and across every signetd sharing the store. One commit
 * per request made the store the bottleneck of DPoP issuance (a write
 * transaction, the WAL, its checkpoints: a third of the front end's CPU).
 * Here requests queue their proof and one thread records all that are
 * waiting in one transaction (a group commit, as the signer does with its
 * audit records), then hands each request on: to a signer when its proof
 * was new, to its refusal otherwise. Nothing is answered before the
 * transaction that recorded its proof has committed; a failed commit
 * fails every request of the group closed. */
#ifndef SD_REPLAY_H
#define SD_REPLAY_H

#include <stdint.h>

#include "signet/error.h"

struct sd_ctx;

struct sd_replay_job {
    struct sd_replay_job *next; /* the queue's */
    char tenant[64];
    char key[64]; /* b64url(SHA-256(jti || 0x00 || htu)) */
    int64_t expires_at;
    int64_t now;
    /* SIGNET_OK (new: recorded), SIGNET_ERR_EXISTS (a replay),
     * SIGNET_ERR_TOO_LARGE (the tenant's cache is full), or a store error. */
    signet_err result;
    /* Runs once, on the writer thread, after the group's commit; owns j. */
    void (*done)(struct sd_replay_job *j);
};

/* Starts the writer (on c->replay, under c->replay_lock). */
SIGNET_WUR signet_err sd_replay_start(struct sd_ctx *c);
/* Queues j. SIGNET_OK: j->done will run. SIGNET_ERR_BUSY: the
 * writer is stopped (nothing queued, done never runs). */
SIGNET_WUR signet_err sd_replay_submit(struct sd_replay_job *j);
/* Records and hands on whatever is queued, then stops the writer. */
void sd_replay_stop(void);

#endif
