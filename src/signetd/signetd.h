/* signetd: the OAuth 2.0 token service (front end). It parses all
 * untrusted input, holds no key material and no PIN, and asks the signer
 * processes for every signature. Internal header shared by its files. */
#ifndef SD_SIGNETD_H
#define SD_SIGNETD_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"

#include "signetd/launcher.h"
#include "signetd/sandbox.h"

/* A configuration snapshot: immutable once published, reference-counted
 * so a SIGHUP reload never pulls it from under a running request. */
struct sd_conf {
    atomic_int refs;
    struct sg_config cfg;
};

/* ---- signer pool and rotation scheduler (pool.c) ------------------------ */

struct sd_slot {
    pthread_rwlock_t lock; /* read: a call in progress; write: (re)spawn */
    struct sg_signer_client *client;
    atomic_int healthy;
    int64_t retry_at_ms;   /* monotonic ms of the next respawn attempt */
    int64_t backoff_ms;
};

struct sd_pool {
    char state_dir[PATH_MAX];
    int launcher_fd;           /* the launcher's control channel; -1: spawn ourselves */
    struct sd_slot slots[SD_MAX_SIGNERS];
    unsigned n;
    atomic_uint next;
    atomic_int ready;          /* the last STATUS round trip succeeded */
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

SIGNET_WUR signet_err sd_pool_start(struct sd_pool *p, const char *state_dir, int launcher_fd,
                                    unsigned n, unsigned mode);
/* Stops the rotation scheduler (signers keep answering). */
void sd_pool_stop_scheduler(struct sd_pool *p);
/* Stops the scheduler if still running, then every signer. */
void sd_pool_stop(struct sd_pool *p);
/* Restart every signer (after a reload, so they read the new config). */
void sd_pool_respawn(struct sd_pool *p, unsigned mode);
/* A call on one healthy signer; SIGNET_ERR_SIGNER_GONE when none is. */
SIGNET_WUR signet_err sd_pool_sign(struct sd_pool *p, const char *issuer, const char *claims,
                                   size_t len, signet_err *status, char **token);
/* The same, asynchronously: SIGNET_OK means cb(user, err, status, token)
 * runs exactly once (token malloc'd for the callback, or NULL), from a
 * signer client's reader thread, or from any thread when the signer fails
 * (err SIGNET_ERR_SIGNER_GONE), at the latest in sd_pool_stop. Any other
 * return: nothing was sent, cb never runs. */
typedef void (*sd_pool_sign_cb)(void *user, signet_err err, signet_err status, char *token);
SIGNET_WUR signet_err sd_pool_sign_async(struct sd_pool *p, const char *issuer,
                                         const char *claims, size_t len, sd_pool_sign_cb cb,
                                         void *user);
SIGNET_WUR signet_err sd_pool_call(struct sd_pool *p, uint8_t type, const char *arg,
                                   signet_err *status, char **json);
/* An AUDIT_NOTE (an audit record of the front end's, chained by a signer). */
SIGNET_WUR signet_err sd_pool_note(struct sd_pool *p, const char *type, const char *fields,
                                   size_t len, signet_err *status, char **resp);
/* The same call on signer number slot only (the monitor reads each
 * signer's STATUS); SIGNET_ERR_NOT_FOUND past the last slot. */
SIGNET_WUR signet_err sd_pool_call_slot(struct sd_pool *p, unsigned slot, uint8_t type,
                                        const char *arg, signet_err *status, char **json);

/* ---- client authentication helpers (auth.c) ----------------------------- */

SIGNET_WUR signet_err sd_auth_init(void);
void sd_auth_shutdown(void);
/* Verifies secret against the argon2id encoded hash (constant time), with
 * a bounded cache of recent successes keyed by an HMAC of the presented
 * secret under a per-process random key. 1 on a match. */
int sd_secret_verify(const char *tenant, const char *client_id, const char *secret,
                     const char *encoded);

/* Token bucket per (tenant, client_id). 0 when allowed; otherwise the
 * number of seconds after which a request would be (Retry-After). */
int64_t sd_rate_take(const char *tenant, const char *client_id, double rate, unsigned burst);

/* ---- the daemon --------------------------------------------------------- */

struct sd_jwks_entry {
    pthread_mutex_t lock;
    char tenant[64];
    int64_t version;     /* store version the body reflects; -1 = none */
    uint64_t fetched_ms; /* monotonic */
    char *body;
    size_t len;
    char etag[64];
};

/* Telemetry (telemetry.c): metrics and the invariant monitor. */
struct sg_metrics;
struct sg_monitor;
struct sd_telemetry {
    struct sg_metrics *reg;
    struct sg_metric *tokens_issued, *sign_latency, *http_requests;
    pthread_rwlock_t mon_lock; /* read: using mon; write: replacing it (reload) */
    struct sg_monitor *mon;
};

#define SD_REPORT_SCOPE "signet:report"

struct sd_ctx {
    char state_dir[PATH_MAX];
    char server_conf[PATH_MAX]; /* --config FILE, or empty */
    pthread_mutex_t conf_lock;
    struct sd_conf *conf;
    struct sd_pool pool;
    pthread_mutex_t store_lock;
    struct sg_store *store;
    struct sd_jwks_entry jwks[SG_MAX_TENANTS];
    atomic_long inflight;
    atomic_ulong requests;
    atomic_ulong tokens;
    atomic_int draining;
    atomic_long keys_epoch;    /* bumped when the signers report a key transition */
    int launcher_fd;           /* control channel to the launcher; -1 in the launcher */
    int exit_code;             /* the launcher's, once the front end has exited */
    int boundary_enforced;     /* front end and signers under two accounts, neither root */
    struct sd_hardening hardening; /* the front end's sandbox, as sd_sandbox_enter found it */
    long front_uid;                /* the front end's account, once split_processes has run */
    atomic_int hardening_ready;    /* set once hardening is final (I8, /status) */
    char *tls_cert;            /* PEM, read before dropping root; taken by sd_http_start */
    struct sg_secret *tls_key;
    struct sd_telemetry tm;
    /* Called when the JWKS served for a tenant changed (meta.c), from the
     * thread that refreshed it; set before the pool starts (telemetry.c
     * pokes the invariant monitor). NULL: nothing to tell. */
    void (*on_jwks_change)(struct sd_ctx *c);
};

/* conf.c */
struct sd_conf *sd_conf_get(struct sd_ctx *c);
void sd_conf_put(struct sd_conf *k);
/* Loads the configuration (signet.conf plus --config) as a new snapshot. */
SIGNET_WUR signet_err sd_conf_load(const struct sd_ctx *c, struct sd_conf **out, char *err,
                                   size_t errlen);

/* HTTP (http.c). */
struct sd_http;
struct sg_secret;
/* Reads [server] tls_cert and tls_key into c (before the front end drops
 * root: the key may be readable by root alone). */
SIGNET_WUR signet_err sd_tls_load(struct sd_ctx *c, const struct sg_server_cfg *sv, char *err,
                                  size_t errlen);
SIGNET_WUR signet_err sd_http_start(struct sd_ctx *c, const struct sg_config *cfg,
                                    struct sd_http **out, char *err, size_t errlen);
/* Stops accepting, waits up to timeout_s for in-flight requests, stops. */
void sd_http_drain_and_stop(struct sd_http **h, struct sd_ctx *c, int64_t timeout_s);

/* Endpoint bodies (token.c, meta.c). A handler fills an sd_resp. */
struct sd_resp {
    unsigned status;
    char *body; /* malloc'd */
    size_t len;
    const char *content_type;
    char cache_control[64]; /* empty: no-store */
    char etag[64];
    char allow[32];
    char www_auth[600];
    int64_t retry_after; /* seconds; 0 = none */
    int no_body;         /* 304 */
    int csp;             /* the status page: Content-Security-Policy header */
    char client_id[130]; /* for the access log */
};

/* resp.c */
void sd_resp_json(struct sd_resp *r, unsigned status, const char *json);
void sd_resp_oauth_error(struct sd_resp *r, unsigned status, const char *code,
                         const char *description);

/* The token endpoint. 0: r holds the answer now. 1: the request went to a
 * signer; done(user, answer) then runs exactly once, from another thread
 * or possibly before this returns, with an answer whose body it owns. */
typedef void (*sd_token_done)(void *user, struct sd_resp *r);
int sd_token_endpoint_async(struct sd_ctx *c, const struct sg_config *cfg,
                            const struct sg_tenant_cfg *t, const char *body, size_t len,
                            const char *authz, struct sd_resp *r, sd_token_done done,
                            void *user);
void sd_jwks_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *if_none_match,
                      const struct sg_config *cfg, struct sd_resp *r);
void sd_discovery_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, struct sd_resp *r);
void sd_ready_endpoint(struct sd_ctx *c, struct sd_resp *r);

/* The JWKS document signetd serves now for t (refreshing its cache as a
 * request would); *json is a malloc'd copy. */
SIGNET_WUR signet_err sd_jwks_current(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                      char **json);

/* Authenticates the client of a report (client_secret_basic, as at the
 * token endpoint) and requires the signet:report scope. SIGNET_OK when it
 * may report; otherwise r holds the 401/403/429/503 answer. */
SIGNET_WUR signet_err sd_report_client(struct sd_ctx *c, const struct sg_config *cfg,
                                       const struct sg_tenant_cfg *t, const char *authz,
                                       struct sd_resp *r);

/* ---- telemetry (telemetry.c) ---------------------------------------------- */

/* Locks, and the pool's and the JWKS cache's change hooks (before the
 * pool starts). */
void sd_tm_init(struct sd_ctx *c);
/* Creates the registry and starts the monitor (after the signer pool). */
SIGNET_WUR signet_err sd_tm_start(struct sd_ctx *c, const struct sg_config *cfg);
/* A reload: the monitor judges by the new configuration (state kept). */
void sd_tm_reload(struct sd_ctx *c, const struct sg_config *cfg);
/* Stops the monitor (before the signer clients go) and closes the audit
 * handle; sd_tm_free then frees the registry (after HTTP stopped). */
void sd_tm_stop(struct sd_ctx *c);
void sd_tm_free(struct sd_ctx *c);
/* Runs every check soon (after a JWKS change, transition, signer restart). */
void sd_tm_poke(struct sd_ctx *c);
void sd_tm_token_result(struct sd_ctx *c, const char *tenant, const char *result);
void sd_tm_sign_latency(struct sd_ctx *c, double seconds);
void sd_tm_http(struct sd_ctx *c, const char *endpoint, unsigned status);
void sd_metrics_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_status_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_status_json_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_reports_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *body,
                         size_t len, struct sd_resp *r);

/* "<issuer>/token" into out, as discovery advertises it (meta.c); 0 on
 * success. */
int sd_token_endpoint_url(const struct sg_tenant_cfg *t, char *out, size_t cap);

#endif
