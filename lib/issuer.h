/* One trusted issuer and its key-set cache: where its JWKS comes from, the
 * current immutable snapshot, and the refresh bookkeeping. Snapshots are
 * swapped under a mutex, so verifying threads only ever hold a complete
 * set (by reference). A failed or malformed fetch never replaces a set. */
#ifndef SG_ISSUER_H
#define SG_ISSUER_H

#include <pthread.h>
#include <stdint.h>

#include "fetch.h"
#include "jwk.h"
#include "signet/error.h"

#define SG_DOC_MAX (64u * 1024u) /* discovery document cap */
#define SG_SIGNERS_SEEN 8          /* keys remembered as having signed, per issuer */

enum sg_src_kind { SG_SRC_JWKS_URL, SG_SRC_DISCOVERY, SG_SRC_FILE, SG_SRC_JSON };

struct sg_cache_policy {
    int64_t ttl_min;
    int64_t ttl_max;
    int64_t ttl_default; /* without Cache-Control max-age, and for files */
    int64_t cooldown;    /* between refreshes forced by unknown kids or failures */
    int64_t stale_max;   /* how long past expiry a set may serve when fetches fail */
    int background;      /* a refresh thread revalidates stale sets (see acquire) */
    struct sg_fetch_limits fetch;
};

struct sg_issuer {
    char *issuer;
    enum sg_src_kind kind;
    char *location; /* JWKS URL, discovery URL (NULL: derived), or file path */
    uint8_t *json;  /* SG_SRC_JSON: the fixed document */
    size_t json_len;

    pthread_mutex_t fetch_lock; /* one fetch at a time per issuer */
    pthread_mutex_t lock;       /* guards everything below */
    struct sg_keyset *set;      /* current good set, or NULL */
    int64_t fetched_at;
    int64_t expires_at;
    int64_t refresh_at;   /* when the background thread refreshes ahead of expiry */
    int64_t last_attempt;
    int64_t last_kid_refresh;
    uint64_t generation;  /* completed fetch attempts */
    int revalidate_asked; /* a stale set was served and the thread asked to refresh */
    /* Thumbprints of the last keys that verified a token (a ring). */
    char signers[SG_SIGNERS_SEEN][SG_THUMBPRINT_LEN + 1];
    size_t n_signers;
    signet_err last_err;
    char *jwks_uri;       /* SG_SRC_DISCOVERY: the last discovered jwks_uri */
};

SIGNET_WUR signet_err sg_issuer_init(struct sg_issuer *iss, const char *issuer,
                                     enum sg_src_kind kind, const char *location,
                                     const uint8_t *json, size_t json_len);
void sg_issuer_destroy(struct sg_issuer *iss);

/* Fetches and parses the issuer's key set and installs it on success.
 * force = 0 skips the fetch when another thread completed one since
 * `seen_generation` was read. */
SIGNET_WUR signet_err sg_issuer_refresh(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                                        int64_t now, int force, uint64_t seen_generation);

/* A reference to a usable key set. A fresh set is returned at once. An
 * expired set still within stale_max is returned at once too
 * (stale-while-revalidate): with pol->background, *wake is set (once per
 * refresh) and the caller wakes the refresh thread; without, this caller
 * refreshes first unless another thread is already fetching (then it does
 * not wait). With no set, or one past stale_max, the caller refreshes
 * (bounded by the fetch timeout, and once per cooldown while failing).
 * Otherwise SIGNET_ERR_JWKS_UNAVAILABLE (or SIGNET_ERR_DISCOVERY_MISMATCH
 * when that is why no set could be fetched). *generation gets the
 * generation of the returned set. */
SIGNET_WUR signet_err sg_issuer_acquire(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                                        int64_t now, struct sg_keyset **out,
                                        uint64_t *generation, int *wake);

/* For an unknown kid, or a known key whose active window refuses an
 * authentic token: refreshes at most once per cooldown (one cooldown shared
 * by both). SIGNET_OK when a refresh was attempted (the caller acquires the
 * set again), SIGNET_ERR_BUSY when still cooling down or the source is
 * fixed. */
SIGNET_WUR signet_err sg_issuer_refresh_for_kid(struct sg_issuer *iss,
                                                const struct sg_cache_policy *pol, int64_t now,
                                                uint64_t seen_generation);

/* A token verified with the key of this thumbprint. The first signature
 * by a key other than those seen before means the issuer changed keys (a
 * rotation, or an emergency revoke that removed the previous key from its
 * JWKS): asks for one refresh, within the unknown-kid cooldown, so keys
 * that left the JWKS stop being trusted without waiting for the cache
 * lifetime. Returns 1 when the refresh thread should be woken for it. */
int sg_issuer_note_signer(struct sg_issuer *iss, const struct sg_cache_policy *pol, int64_t now,
                          const char *thumbprint);

/* Seconds until this issuer wants a background refresh (<= 0: now);
 * INT64_MAX for fixed sources. */
int64_t sg_issuer_refresh_due(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                              int64_t now);

/* Discovery URLs for an issuer (RFC 8414 §3.1 / OpenID Connect Discovery
 * §4): which = 0 for openid-configuration, 1 for oauth-authorization-server.
 * Allocated; NULL when the issuer is not an http(s) URL. */
char *sg_discovery_url(const char *issuer, int which);

#endif
