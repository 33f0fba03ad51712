/* signetd, the OAuth 2.0 token service's front end, parses all untrusted
 * input, holds no key material and no PIN, and asks the signer processes
 * for every signature. This is its shared state: one struct sd_ctx for
 * the process, made by main.c and handed to every part of the front end.
 * It holds the parts' state (the pool, the JWKS cache of meta.c, the
 * telemetry of telemetry.c) but declares no function: each part has its
 * own header, and a part that must tell another of an event does it
 * through a hook (pool.on_change, on_jwks_change), not by a call. */
#ifndef SD_CTX_H
#define SD_CTX_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "signetd/pool.h"
#include "signetd/sandbox.h"

struct sd_conf;
struct sg_store;
struct sg_secret;
struct sg_metrics;
struct sg_metric;
struct sg_signer_client;

/* The JWKS cache of one tenant (meta.c). */
struct sd_jwks_entry {
    pthread_mutex_t lock;
    char tenant[64];
    int64_t version;     /* store version the body reflects; -1 = none */
    uint64_t fetched_ms; /* monotonic */
    char *body;
    size_t len;
    char etag[64];
};

/* Telemetry (telemetry.c): the front end's metrics and its channel to the
 * monitor process. */
struct sd_telemetry {
    struct sg_metrics *reg;
    struct sg_metric *tokens_issued, *sign_latency, *http_requests;
    pthread_rwlock_t mon_lock; /* read: using mon; write: replacing it */
    struct sg_signer_client *mon; /* NULL until connected, or after it failed */
    int64_t mon_tried_ms;         /* last (re)connection attempt, monotonic */
};

struct sd_ctx {
    char state_dir[PATH_MAX];
    char server_conf[PATH_MAX]; /* --config FILE, or empty */
    pthread_mutex_t conf_lock;
    struct sd_conf *conf;
    struct sd_pool pool;
    pthread_mutex_t store_lock;
    struct sg_store *store;
    /* The replay caches' own handle on the store (sg_store_open_replay):
     * private_key_jwt's jti, and the DPoP proofs (replay.c's writer). */
    pthread_mutex_t replay_lock;
    struct sg_store *replay;
    struct sd_jwks_entry jwks[SG_MAX_TENANTS];
    atomic_long inflight;
    atomic_ulong requests;
    atomic_ulong tokens;
    atomic_int draining;
    atomic_long keys_epoch;    /* bumped when the signers report a key transition */
    int launcher_fd;           /* control channel to the launcher; -1 in the launcher */
    int exit_code;             /* the launcher's, once the front end has exited */
    int boundary_enforced;     /* front end and signers under two accounts, neither root */
    long front_uid;                /* the front end's account, once split_processes has run */
    atomic_int hardening_ready;    /* set once hardening is final (the monitor is told) */
    char *tls_cert;            /* PEM, read before dropping root; taken by sd_http_start */
    struct sg_secret *tls_key;
    struct sd_telemetry tm;
    /* Called when the JWKS served for a tenant changed (meta.c), from the
     * thread that refreshed it; set before the pool starts (telemetry.c
     * pokes the invariant monitor). NULL: nothing to tell. */
    void (*on_jwks_change)(struct sd_ctx *c);
};

#endif
