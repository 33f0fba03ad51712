/* libsignet's verifier: configuration, the verify decision, the key-set
 * refresh thread and telemetry. */
#include "signet/verify.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "claims.h"
#include "dpop.h"
#include "issuer.h"
#include "json.h"
#include "jwk.h"
#include "jws.h"
#include "tokcache.h"

#define SG_MAX_ISSUERS 256
#define SG_MAX_AUDIENCES 64
#define SG_COUNTER_SLOTS 400
#define SG_CLOCK_MAX (INT64_C(1) << 60)
#define SG_MAX_ACR 16            /* required acr values */
#define SG_ACR_MAX_LEN 255       /* bytes per acr value */
#define SG_AUTH_AGE_MAX (INT64_C(366) * 86400)
#define SG_NO_MAX_AGE (-1)

struct cfg_issuer {
    char *issuer;
    enum sg_src_kind kind;
    char *location;
    uint8_t *json;
    size_t json_len;
};

struct signet_verifier_config {
    struct cfg_issuer issuers[SG_MAX_ISSUERS];
    size_t n_issuers;
    char *audiences[SG_MAX_AUDIENCES];
    size_t n_audiences;
    uint32_t algs;
    int64_t skew;
    int64_t max_lifetime;
    char *typ;
    signet_clock_fn clock;
    void *clock_ctx;
    int require_metadata;
    struct sg_cache_policy cache;
    int background;
    signet_event_fn event_fn;
    void *event_ctx;
    size_t token_cache;
    /* DPoP (RFC 9449) */
    uint32_t dpop_algs;          /* SG_ALG_BIT mask */
    int64_t dpop_max_age;
    size_t dpop_replay;          /* replay cache entries, 0 = off */
    int dpop_nonce_builtin;      /* the stateless HMAC source is on */
    int dpop_nonce_key_given;    /* ... with the caller's key */
    uint8_t dpop_nonce_key[32];
    int64_t dpop_nonce_step;
    signet_dpop_nonce_fn dpop_nonce_fn;
    void *dpop_nonce_ctx;
    int dpop_unprotected;        /* explicit opt-out of the fail-closed rule */
    /* Step-up authentication (RFC 9470) */
    char *acr[SG_MAX_ACR];       /* acceptable acr values, in order of preference */
    size_t n_acr;                /* 0: no acr requirement */
    int64_t max_age;             /* SG_NO_MAX_AGE: no auth_time requirement */
};

struct signet_verifier {
    struct sg_issuer *issuers;
    size_t n_issuers;
    char **audiences;
    size_t n_audiences;
    struct sg_header_policy header;
    char *typ;
    int64_t skew;
    int64_t max_lifetime;
    signet_clock_fn clock;
    void *clock_ctx;
    int require_metadata;
    struct sg_cache_policy cache;
    signet_event_fn event_fn;
    void *event_ctx;
    struct sg_tokcache *tokcache;
    struct sg_digests digests; /* fetched once, read by every verifying thread */
    int curl_ready;

    /* DPoP (RFC 9449) */
    const char *dpop_alg_names[SG_ALG_COUNT];
    size_t n_dpop_algs;
    char dpop_algs_str[64];      /* "ES256 EdDSA PS256": the challenge's algs */
    int64_t dpop_max_age;
    struct sg_dpop_replay *replay; /* NULL: off */
    struct sg_dpop_keys *dpop_keys; /* proof keys seen before */
    int dpop_nonce_builtin;
    uint8_t dpop_nonce_key[32];
    int64_t dpop_nonce_step;
    signet_dpop_nonce_fn dpop_nonce_fn;
    void *dpop_nonce_ctx;
    int dpop_unprotected;

    /* Step-up authentication (RFC 9470) */
    char **acr;
    size_t n_acr;
    int64_t max_age;             /* SG_NO_MAX_AGE: none */

    atomic_uint_fast64_t counters[SG_COUNTER_SLOTS];

    atomic_int stop;
    int thread_started;
    pthread_t thread;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    int wake_pending; /* under wake_lock: a set wants refreshing now */
};

const char *signet_version(void)
{
    return SIGNET_VERSION_STRING;
}

void signet_free(void *p)
{
    free(p);
}

/* ---- configuration ------------------------------------------------------ */

signet_err signet_verifier_config_new(signet_verifier_config **out)
{
    signet_verifier_config *cfg = calloc(1, sizeof *cfg);
    *out = NULL;
    if (cfg == NULL)
        return SIGNET_ERR_NOMEM;
    cfg->algs = SG_ALG_DEFAULT_MASK;
    cfg->skew = 60;
    cfg->max_lifetime = 86400;
    cfg->cache.ttl_min = 60;
    cfg->cache.ttl_max = 86400;
    cfg->cache.ttl_default = 300;
    cfg->cache.cooldown = 30;
    cfg->cache.stale_max = 3600;
    cfg->cache.fetch.timeout_ms = 10000;
    cfg->cache.fetch.max_bytes = 256u * 1024u;
    cfg->background = 1;
    cfg->dpop_algs = SG_DPOP_DEFAULT_ALGS;
    cfg->dpop_max_age = SG_DPOP_MAX_AGE;
    cfg->dpop_replay = 65536;
    cfg->dpop_nonce_step = 60;
    cfg->max_age = SG_NO_MAX_AGE;
    cfg->typ = strdup("at+jwt");
    if (cfg->typ == NULL) {
        free(cfg);
        return SIGNET_ERR_NOMEM;
    }
    *out = cfg;
    return SIGNET_OK;
}

void signet_verifier_config_free(signet_verifier_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        free(cfg->issuers[i].issuer);
        free(cfg->issuers[i].location);
        free(cfg->issuers[i].json);
    }
    for (size_t i = 0; i < cfg->n_audiences; i++)
        free(cfg->audiences[i]);
    free(cfg->typ);
    for (size_t i = 0; i < cfg->n_acr; i++)
        free(cfg->acr[i]);
    OPENSSL_cleanse(cfg->dpop_nonce_key, sizeof cfg->dpop_nonce_key);
    free(cfg);
}

static signet_err add_issuer(signet_verifier_config *cfg, const char *issuer,
                             enum sg_src_kind kind, const char *location, const char *json,
                             size_t json_len)
{
    if (issuer[0] == '\0' || strlen(issuer) > 2048 || (location != NULL && location[0] == '\0'))
        return SIGNET_ERR_INVALID_ARG;
    if (cfg->n_issuers == SG_MAX_ISSUERS)
        return SIGNET_ERR_TOO_LARGE;
    for (size_t i = 0; i < cfg->n_issuers; i++)
        if (strcmp(cfg->issuers[i].issuer, issuer) == 0)
            return SIGNET_ERR_EXISTS;
    struct cfg_issuer *ci = &cfg->issuers[cfg->n_issuers];
    memset(ci, 0, sizeof *ci);
    ci->kind = kind;
    ci->issuer = strdup(issuer);
    if (ci->issuer == NULL)
        goto nomem;
    if (location != NULL && (ci->location = strdup(location)) == NULL)
        goto nomem;
    if (json != NULL) {
        ci->json = malloc(json_len == 0 ? 1 : json_len);
        if (ci->json == NULL)
            goto nomem;
        memcpy(ci->json, json, json_len);
        ci->json_len = json_len;
    }
    cfg->n_issuers++;
    return SIGNET_OK;
nomem:
    free(ci->issuer);
    free(ci->location);
    memset(ci, 0, sizeof *ci);
    return SIGNET_ERR_NOMEM;
}

signet_err signet_verifier_config_add_issuer_jwks_url(signet_verifier_config *cfg,
                                                      const char *issuer, const char *jwks_url)
{
    if (!sg_url_is_http(jwks_url))
        return SIGNET_ERR_INVALID_ARG;
    return add_issuer(cfg, issuer, SG_SRC_JWKS_URL, jwks_url, NULL, 0);
}

signet_err signet_verifier_config_add_issuer_discovery(signet_verifier_config *cfg,
                                                       const char *issuer,
                                                       const char *discovery_url)
{
    if (discovery_url != NULL ? !sg_url_is_http(discovery_url) : !sg_url_is_http(issuer))
        return SIGNET_ERR_INVALID_ARG;
    return add_issuer(cfg, issuer, SG_SRC_DISCOVERY, discovery_url, NULL, 0);
}

signet_err signet_verifier_config_add_issuer_jwks_file(signet_verifier_config *cfg,
                                                       const char *issuer, const char *path)
{
    return add_issuer(cfg, issuer, SG_SRC_FILE, path, NULL, 0);
}

signet_err signet_verifier_config_add_issuer_jwks_json(signet_verifier_config *cfg,
                                                       const char *issuer, const char *json,
                                                       size_t len)
{
    if (len > cfg->cache.fetch.max_bytes)
        return SIGNET_ERR_TOO_LARGE;
    return add_issuer(cfg, issuer, SG_SRC_JSON, NULL, json, len);
}

signet_err signet_verifier_config_add_audience(signet_verifier_config *cfg, const char *audience)
{
    if (audience[0] == '\0')
        return SIGNET_ERR_INVALID_ARG;
    if (cfg->n_audiences == SG_MAX_AUDIENCES)
        return SIGNET_ERR_TOO_LARGE;
    char *a = strdup(audience);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    cfg->audiences[cfg->n_audiences++] = a;
    return SIGNET_OK;
}

signet_err signet_verifier_config_allow_alg(signet_verifier_config *cfg, const char *alg)
{
    enum sg_alg a;
    if (sg_alg_parse(alg, &a) != SIGNET_OK)
        return SIGNET_ERR_UNSUPPORTED;
    cfg->algs |= SG_ALG_BIT(a);
    return SIGNET_OK;
}

signet_err signet_verifier_config_disallow_alg(signet_verifier_config *cfg, const char *alg)
{
    enum sg_alg a;
    if (sg_alg_parse(alg, &a) != SIGNET_OK)
        return SIGNET_ERR_UNSUPPORTED;
    cfg->algs &= ~SG_ALG_BIT(a);
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_skew(signet_verifier_config *cfg, int64_t seconds)
{
    if (seconds < 0 || seconds > 600)
        return SIGNET_ERR_INVALID_ARG;
    cfg->skew = seconds;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_max_lifetime(signet_verifier_config *cfg, int64_t seconds)
{
    if (seconds < 1 || seconds > 31 * 86400)
        return SIGNET_ERR_INVALID_ARG;
    cfg->max_lifetime = seconds;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_typ(signet_verifier_config *cfg, const char *typ)
{
    static const char prefix[] = "application/";
    if (strncasecmp(typ, prefix, sizeof prefix - 1) == 0)
        typ += sizeof prefix - 1;
    if (typ[0] == '\0' || strchr(typ, '/') != NULL || strlen(typ) > 64)
        return SIGNET_ERR_INVALID_ARG;
    char *t = strdup(typ);
    if (t == NULL)
        return SIGNET_ERR_NOMEM;
    free(cfg->typ);
    cfg->typ = t;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_clock(signet_verifier_config *cfg, signet_clock_fn fn,
                                            void *ctx)
{
    cfg->clock = fn;
    cfg->clock_ctx = ctx;
    return SIGNET_OK;
}

signet_err signet_verifier_config_require_key_metadata(signet_verifier_config *cfg, int on)
{
    cfg->require_metadata = on != 0;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_cache_bounds(signet_verifier_config *cfg, int64_t min_s,
                                                   int64_t max_s)
{
    if (min_s < 1 || max_s < min_s || max_s > 7 * 86400)
        return SIGNET_ERR_INVALID_ARG;
    cfg->cache.ttl_min = min_s;
    cfg->cache.ttl_max = max_s;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_refresh_cooldown(signet_verifier_config *cfg,
                                                       int64_t seconds)
{
    if (seconds < 0 || seconds > 3600)
        return SIGNET_ERR_INVALID_ARG;
    cfg->cache.cooldown = seconds;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_stale_max(signet_verifier_config *cfg, int64_t seconds)
{
    if (seconds < 0 || seconds > 7 * 86400)
        return SIGNET_ERR_INVALID_ARG;
    cfg->cache.stale_max = seconds;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_fetch_limits(signet_verifier_config *cfg, long timeout_ms,
                                                   size_t max_bytes)
{
    if (timeout_ms < 100 || timeout_ms > 120000 || max_bytes < 1024 ||
        max_bytes > 4u * 1024u * 1024u)
        return SIGNET_ERR_INVALID_ARG;
    cfg->cache.fetch.timeout_ms = timeout_ms;
    cfg->cache.fetch.max_bytes = max_bytes;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_background_refresh(signet_verifier_config *cfg, int on)
{
    cfg->background = on != 0;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_event_callback(signet_verifier_config *cfg,
                                                     signet_event_fn fn, void *ctx)
{
    cfg->event_fn = fn;
    cfg->event_ctx = ctx;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_token_cache(signet_verifier_config *cfg,
                                                  size_t max_entries)
{
    if (max_entries > SG_TOKCACHE_MAX)
        return SIGNET_ERR_INVALID_ARG;
    cfg->token_cache = max_entries;
    return SIGNET_OK;
}

/* ---- DPoP configuration ------------------------------------------------- */

signet_err signet_verifier_config_set_dpop_algs(signet_verifier_config *cfg, const char *csv)
{
    uint32_t mask = 0;
    const char *p = csv;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char name[16];
        if (n == 0 || n >= sizeof name)
            return SIGNET_ERR_INVALID_ARG;
        memcpy(name, p, n);
        name[n] = '\0';
        enum sg_alg a;
        if (sg_alg_parse(name, &a) != SIGNET_OK)
            return SIGNET_ERR_UNSUPPORTED;
        mask |= SG_ALG_BIT(a);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    cfg->dpop_algs = mask;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_dpop_window(signet_verifier_config *cfg, int64_t max_age)
{
    if (max_age < 1 || max_age > 3600)
        return SIGNET_ERR_INVALID_ARG;
    cfg->dpop_max_age = max_age;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_dpop_replay_cache(signet_verifier_config *cfg,
                                                        size_t max_entries)
{
    if (max_entries > SG_DPOP_REPLAY_MAX)
        return SIGNET_ERR_INVALID_ARG;
    cfg->dpop_replay = max_entries;
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_dpop_nonce_key(signet_verifier_config *cfg,
                                                     const uint8_t *key32, int64_t step_s)
{
    if (step_s < 10 || step_s > 3600)
        return SIGNET_ERR_INVALID_ARG;
    cfg->dpop_nonce_builtin = 1;
    cfg->dpop_nonce_step = step_s;
    cfg->dpop_nonce_key_given = key32 != NULL;
    if (key32 != NULL)
        memcpy(cfg->dpop_nonce_key, key32, sizeof cfg->dpop_nonce_key);
    return SIGNET_OK;
}

signet_err signet_verifier_config_set_dpop_nonce_fn(signet_verifier_config *cfg,
                                                    signet_dpop_nonce_fn fn, void *ctx)
{
    cfg->dpop_nonce_fn = fn;
    cfg->dpop_nonce_ctx = ctx;
    return SIGNET_OK;
}

signet_err signet_verifier_config_allow_dpop_unprotected(signet_verifier_config *cfg, int on)
{
    cfg->dpop_unprotected = on != 0;
    return SIGNET_OK;
}

/* ---- step-up authentication (RFC 9470) ---------------------------------- */

/* An acr value must survive the challenge's space-separated acr_values
 * (RFC 9470 §3, OIDC Core §3.1.2.1): visible ASCII, no space. */
static int acr_value_ok(const char *s)
{
    size_t n = strnlen(s, SG_ACR_MAX_LEN + 1);
    if (n == 0 || n > SG_ACR_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

signet_err signet_verifier_config_require_acr(signet_verifier_config *cfg,
                                              const char *const *acr_values, size_t n)
{
    if (n == 0 || n > SG_MAX_ACR)
        return SIGNET_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (acr_values[i] == NULL || !acr_value_ok(acr_values[i]))
            return SIGNET_ERR_INVALID_ARG;
    char *copy[SG_MAX_ACR] = {NULL};
    for (size_t i = 0; i < n; i++) {
        if ((copy[i] = strdup(acr_values[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(copy[j]);
            return SIGNET_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < cfg->n_acr; i++)
        free(cfg->acr[i]);
    memcpy(cfg->acr, copy, sizeof copy);
    cfg->n_acr = n;
    return SIGNET_OK;
}

signet_err signet_verifier_config_require_max_age(signet_verifier_config *cfg, int64_t seconds)
{
    if (seconds < 0 || seconds > SG_AUTH_AGE_MAX)
        return SIGNET_ERR_INVALID_ARG;
    cfg->max_age = seconds;
    return SIGNET_OK;
}

/* ---- verifier ----------------------------------------------------------- */

static int64_t now_of(const signet_verifier *v)
{
    int64_t t = v->clock != NULL ? v->clock(v->clock_ctx) : (int64_t)time(NULL);
    /* Keep arithmetic on NumericDates far from overflow. */
    return t < 0 ? 0 : t > SG_CLOCK_MAX ? SG_CLOCK_MAX : t;
}

static void *refresher(void *arg)
{
    signet_verifier *v = arg;
    pthread_mutex_lock(&v->wake_lock);
    while (!atomic_load(&v->stop)) {
        v->wake_pending = 0;
        pthread_mutex_unlock(&v->wake_lock);
        int64_t sleep_s = 30;
        for (size_t i = 0; i < v->n_issuers && !atomic_load(&v->stop); i++) {
            struct sg_issuer *iss = &v->issuers[i];
            int64_t now = now_of(v);
            int64_t due = sg_issuer_refresh_due(iss, &v->cache, now);
            if (due <= 0) {
                signet_err ignored = sg_issuer_refresh(iss, &v->cache, now, 1, 0);
                (void)ignored; /* recorded in last_err */
                due = sg_issuer_refresh_due(iss, &v->cache, now);
            }
            if (due < sleep_s)
                sleep_s = due < 1 ? 1 : due;
        }
        pthread_mutex_lock(&v->wake_lock);
        if (atomic_load(&v->stop))
            break;
        if (v->wake_pending)
            continue; /* asked while this round ran: go round again */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)sleep_s;
        (void)pthread_cond_timedwait(&v->wake, &v->wake_lock, &ts);
    }
    pthread_mutex_unlock(&v->wake_lock);
    return NULL;
}

/* A verifying thread served a stale set, or met a new key's first
 * signature: the refresh thread refreshes now rather than at the end of its
 * sleep (the issuer's refresh_due says which set). */
static void wake_refresher(signet_verifier *v)
{
    if (!v->thread_started)
        return;
    pthread_mutex_lock(&v->wake_lock);
    v->wake_pending = 1;
    pthread_cond_signal(&v->wake);
    pthread_mutex_unlock(&v->wake_lock);
}

static signet_err start_thread(signet_verifier *v)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return SIGNET_ERR_NOMEM;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&v->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return SIGNET_ERR_INTERNAL;
    if (pthread_mutex_init(&v->wake_lock, NULL) != 0) {
        pthread_cond_destroy(&v->wake);
        return SIGNET_ERR_NOMEM;
    }
    if (pthread_create(&v->thread, NULL, refresher, v) != 0) {
        pthread_mutex_destroy(&v->wake_lock);
        pthread_cond_destroy(&v->wake);
        return SIGNET_ERR_INTERNAL;
    }
    v->thread_started = 1;
    return SIGNET_OK;
}

void signet_verifier_free(signet_verifier *v)
{
    if (v == NULL)
        return;
    atomic_store(&v->stop, 1); /* also aborts a transfer in progress */
    if (v->thread_started) {
        pthread_mutex_lock(&v->wake_lock);
        pthread_cond_signal(&v->wake);
        pthread_mutex_unlock(&v->wake_lock);
        pthread_join(v->thread, NULL);
        pthread_mutex_destroy(&v->wake_lock);
        pthread_cond_destroy(&v->wake);
    }
    for (size_t i = 0; i < v->n_issuers; i++)
        sg_issuer_destroy(&v->issuers[i]);
    free(v->issuers);
    for (size_t i = 0; i < v->n_audiences; i++)
        free(v->audiences[i]);
    free(v->audiences);
    free(v->typ);
    for (size_t i = 0; i < v->n_acr; i++)
        free(v->acr[i]);
    free(v->acr);
    sg_tokcache_free(v->tokcache);
    sg_dpop_replay_free(v->replay);
    sg_dpop_keys_free(v->dpop_keys);
    OPENSSL_cleanse(v->dpop_nonce_key, sizeof v->dpop_nonce_key);
    sg_digests_clear(&v->digests);
    if (v->curl_ready)
        curl_global_cleanup();
    free(v);
}

static signet_err dpop_init(signet_verifier *v, const signet_verifier_config *cfg)
{
    size_t n = 0;
    for (unsigned a = 0; a < SG_ALG_COUNT; a++) {
        if ((cfg->dpop_algs & SG_ALG_BIT(a)) == 0)
            continue;
        const char *name = sg_alg_name((enum sg_alg)a);
        if (n + strlen(name) + 2 > sizeof v->dpop_algs_str)
            return SIGNET_ERR_INTERNAL;
        if (n > 0)
            v->dpop_algs_str[n++] = ' ';
        memcpy(v->dpop_algs_str + n, name, strlen(name) + 1);
        n += strlen(name);
        v->dpop_alg_names[v->n_dpop_algs++] = name;
    }
    v->dpop_max_age = cfg->dpop_max_age;
    v->dpop_nonce_builtin = cfg->dpop_nonce_builtin;
    v->dpop_nonce_step = cfg->dpop_nonce_step;
    v->dpop_nonce_fn = cfg->dpop_nonce_fn;
    v->dpop_nonce_ctx = cfg->dpop_nonce_ctx;
    v->dpop_unprotected = cfg->dpop_unprotected;
    if (cfg->dpop_nonce_builtin) {
        if (cfg->dpop_nonce_key_given)
            memcpy(v->dpop_nonce_key, cfg->dpop_nonce_key, sizeof v->dpop_nonce_key);
        else if (RAND_bytes(v->dpop_nonce_key, sizeof v->dpop_nonce_key) != 1)
            return SIGNET_ERR_CRYPTO;
    }
    signet_err err = sg_dpop_keys_new(SG_DPOP_KEYS_DEFAULT, &v->dpop_keys);
    if (err == SIGNET_OK && cfg->dpop_replay > 0)
        err = sg_dpop_replay_new(cfg->dpop_replay, &v->replay);
    return err;
}

signet_err signet_verifier_new(const signet_verifier_config *cfg, signet_verifier **out)
{
    *out = NULL;
    if (cfg->n_issuers == 0 || cfg->n_audiences == 0 || cfg->algs == 0)
        return SIGNET_ERR_CONFIG;
    signet_err err = SIGNET_ERR_NOMEM;
    signet_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return SIGNET_ERR_NOMEM;
    for (size_t i = 0; i < SG_COUNTER_SLOTS; i++)
        atomic_init(&v->counters[i], 0);
    atomic_init(&v->stop, 0);
    v->skew = cfg->skew;
    v->max_lifetime = cfg->max_lifetime;
    v->clock = cfg->clock;
    v->clock_ctx = cfg->clock_ctx;
    v->require_metadata = cfg->require_metadata;
    v->max_age = cfg->max_age;
    v->cache = cfg->cache;
    v->cache.fetch.cancel = &v->stop;
    v->cache.background = cfg->background;
    v->event_fn = cfg->event_fn;
    v->event_ctx = cfg->event_ctx;
    v->typ = strdup(cfg->typ);
    v->header.allowed_algs = cfg->algs;
    v->header.typ = v->typ;
    v->audiences = calloc(cfg->n_audiences, sizeof *v->audiences);
    v->issuers = calloc(cfg->n_issuers, sizeof *v->issuers);
    if (v->typ == NULL || v->audiences == NULL || v->issuers == NULL)
        goto out;
    for (; v->n_audiences < cfg->n_audiences; v->n_audiences++)
        if ((v->audiences[v->n_audiences] = strdup(cfg->audiences[v->n_audiences])) == NULL)
            goto out;
    if (cfg->n_acr > 0 && (v->acr = calloc(cfg->n_acr, sizeof *v->acr)) == NULL)
        goto out;
    for (; v->n_acr < cfg->n_acr; v->n_acr++)
        if ((v->acr[v->n_acr] = strdup(cfg->acr[v->n_acr])) == NULL)
            goto out;
    err = sg_digests_init(&v->digests);
    if (err != SIGNET_OK)
        goto out;
    int remote = 0;
    for (; v->n_issuers < cfg->n_issuers; v->n_issuers++) {
        const struct cfg_issuer *ci = &cfg->issuers[v->n_issuers];
        err = sg_issuer_init(&v->issuers[v->n_issuers], ci->issuer, ci->kind, ci->location,
                             ci->json, ci->json_len);
        if (err != SIGNET_OK)
            goto out;
        remote |= ci->kind == SG_SRC_JWKS_URL || ci->kind == SG_SRC_DISCOVERY;
    }
    if (remote) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err = SIGNET_ERR_INTERNAL;
            goto out;
        }
        v->curl_ready = 1;
    }
    /* Local sets must be valid from the start; remote ones may be down. */
    int64_t now = now_of(v);
    for (size_t i = 0; i < v->n_issuers; i++) {
        struct sg_issuer *iss = &v->issuers[i];
        if (iss->kind == SG_SRC_FILE || iss->kind == SG_SRC_JSON) {
            err = sg_issuer_refresh(iss, &v->cache, now, 1, 0);
            if (err != SIGNET_OK)
                goto out;
        }
    }
    if (cfg->token_cache > 0) {
        err = sg_tokcache_new(cfg->token_cache, &v->tokcache);
        if (err != SIGNET_OK)
            goto out;
    }
    err = dpop_init(v, cfg);
    if (err != SIGNET_OK)
        goto out;
    if (cfg->background) {
        err = start_thread(v);
        if (err != SIGNET_OK)
            goto out;
    }
    *out = v;
    v = NULL;
    err = SIGNET_OK;
out:
    signet_verifier_free(v);
    return err;
}

signet_err signet_verifier_refresh(signet_verifier *v)
{
    signet_err first = SIGNET_OK;
    int64_t now = now_of(v);
    for (size_t i = 0; i < v->n_issuers; i++) {
        signet_err err = sg_issuer_refresh(&v->issuers[i], &v->cache, now, 1, 0);
        if (err != SIGNET_OK && first == SIGNET_OK)
            first = err;
    }
    return first;
}

uint64_t signet_verifier_count(const signet_verifier *v, signet_err result)
{
    if ((unsigned)result >= SG_COUNTER_SLOTS)
        return 0;
    return atomic_load_explicit(&v->counters[result], memory_order_relaxed);
}

/* ---- verification ------------------------------------------------------- */

struct vctx {
    struct sg_jws jws;
    json_t *claims;         /* owned reference */
    enum sg_alg alg;
    const char *kid;        /* borrowed from jws.header or hit.kid */
    struct sg_issuer *iss;
    struct sg_keyset *set;  /* owned reference */
    uint64_t gen;           /* the generation of set */
    const struct sg_key *key;
    struct sg_tokcache_hit hit;
    int from_cache;
    int64_t exp;
    uint8_t hash[32];
    const char *reason;
    signet_event ev;
};

static struct sg_issuer *find_issuer(signet_verifier *v, const char *iss)
{
    for (size_t i = 0; i < v->n_issuers; i++)
        if (strcmp(v->issuers[i].issuer, iss) == 0)
            return &v->issuers[i];
    return NULL;
}

/* The request as the caller described it (signet_verify_opts). */
struct req {
    int dpop;          /* the Authorization scheme was DPoP */
    const char *method;
    const char *url;
    const char *proof; /* NULL: no DPoP header */
};

static signet_err read_opts(const signet_verify_opts *opts, struct req *r)
{
    memset(r, 0, sizeof *r);
    if (opts == NULL)
        return SIGNET_OK;
    if (opts->size < sizeof(size_t))
        return SIGNET_ERR_INVALID_ARG;
    /* Read only the members the caller's struct has. */
    signet_verify_opts o;
    memset(&o, 0, sizeof o);
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    if (o.flags != 0)
        return SIGNET_ERR_INVALID_ARG;
    if (o.scheme != NULL && strcasecmp(o.scheme, "DPoP") == 0)
        r->dpop = 1;
    else if (o.scheme != NULL && strcasecmp(o.scheme, "Bearer") != 0)
        return SIGNET_ERR_INVALID_ARG;
    r->method = o.http_method;
    r->url = o.http_url;
    r->proof = o.dpop_proof;
    return SIGNET_OK;
}

/* Parse and check the token up to the point where the key is needed. */
static signet_err parse_token(signet_verifier *v, const char *token, size_t len, struct vctx *c)
{
    signet_err err = sg_jws_parse(token, len, &c->jws);
    if (err != SIGNET_OK)
        return err;
    err = sg_jws_check_header(&c->jws, &v->header, &c->alg, &c->kid);
    if (err != SIGNET_OK)
        return err;
    err = sg_json_parse(c->jws.payload, c->jws.payload_len, SG_TOKEN_MAX, &c->claims);
    if (err != SIGNET_OK)
        return err;
    if (!json_is_object(c->claims))
        return SIGNET_ERR_MALFORMED;
    return SIGNET_OK;
}

/* The issuer's current set into c->set (waking the refresh thread when the
 * set was served stale). */
static signet_err acquire_set(signet_verifier *v, struct vctx *c, int64_t now)
{
    int wake = 0;
    sg_keyset_unref(c->set);
    c->set = NULL;
    c->key = NULL;
    signet_err err = sg_issuer_acquire(c->iss, &v->cache, now, &c->set, &c->gen, &wake);
    if (wake)
        wake_refresher(v);
    return err;
}

/* Rules 4 and 5 for the selected key. */
static signet_err check_key(const signet_verifier *v, struct vctx *c)
{
    if (c->key == NULL)
        return SIGNET_ERR_KEY_NOT_IN_ISSUER_SET;
    c->ev.thumbprint = c->key->thumbprint;
    if ((c->key->algs & SG_ALG_BIT(c->alg)) == 0)
        return SIGNET_ERR_ALG_KEY_MISMATCH;
    if (v->require_metadata && (c->key->iss == NULL || !c->key->has_active_from))
        return SIGNET_ERR_KEY_METADATA_REQUIRED;
    if (c->key->iss != NULL && strcmp(c->key->iss, c->iss->issuer) != 0)
        return SIGNET_ERR_KEY_ISSUER_MISMATCH;
    return SIGNET_OK;
}

/* Rule 1 and 6: the key comes from the token issuer's own set only. */
static signet_err select_key(signet_verifier *v, struct vctx *c, int64_t now)
{
    const json_t *iss = json_object_get(c->claims, "iss");
    if (iss == NULL)
        return SIGNET_ERR_MISSING_CLAIM;
    if (!json_is_string(iss))
        return SIGNET_ERR_BAD_CLAIM;
    c->iss = find_issuer(v, json_string_value(iss));
    if (c->iss == NULL)
        return SIGNET_ERR_UNKNOWN_ISSUER;
    if (c->kid == NULL) {
        /* Conservative: no kid, no key, even with a one-key set. */
        c->reason = "token header has no kid";
        return SIGNET_ERR_KEY_NOT_IN_ISSUER_SET;
    }
    signet_err err = acquire_set(v, c, now);
    if (err != SIGNET_OK)
        return err;
    c->key = sg_keyset_find(c->set, c->kid);
    if (c->key == NULL && !c->from_cache &&
        sg_issuer_refresh_for_kid(c->iss, &v->cache, now, c->gen) == SIGNET_OK) {
        err = acquire_set(v, c, now);
        if (err != SIGNET_OK)
            return err;
        c->key = sg_keyset_find(c->set, c->kid);
    }
    return check_key(v, c);
}

static signet_err verify_signature(const signet_verifier *v, const struct vctx *c)
{
    return sg_sig_verify_md(c->alg, c->key->pkey, &v->digests, c->key->ctx_pool,
                            (const uint8_t *)c->jws.signing_input, c->jws.signing_input_len,
                            c->jws.sig, c->jws.sig_len);
}

static signet_err time_claim(const json_t *claims, const char *name, int required, int round_up,
                             int64_t *out, int *present)
{
    const json_t *t = json_object_get(claims, name);
    *present = t != NULL;
    if (t == NULL)
        return required ? SIGNET_ERR_MISSING_CLAIM : SIGNET_OK;
    return sg_json_numeric_date(t, round_up, out);
}

static int audience_ok(const signet_verifier *v, const json_t *aud)
{
    for (size_t i = 0; i < v->n_audiences; i++) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), v->audiences[i]) == 0)
            return 1;
        for (size_t j = 0; json_is_array(aud) && j < json_array_size(aud); j++) {
            const json_t *a = json_array_get(aud, j);
            if (json_is_string(a) && strcmp(json_string_value(a), v->audiences[i]) == 0)
                return 1;
        }
    }
    return 0;
}

/* Rule 5 and the key window of rule 6 (RFC 7519 §4.1, RFC 9068 §4). */
static signet_err check_claims(const signet_verifier *v, struct vctx *c, int64_t now)
{
    int64_t exp = 0, iat = 0, nbf = 0;
    int has_exp = 0, has_iat = 0, has_nbf = 0;
    signet_err err = time_claim(c->claims, "exp", 1, 0, &exp, &has_exp);
    if (err == SIGNET_OK)
        err = time_claim(c->claims, "iat", 1, 0, &iat, &has_iat);
    if (err == SIGNET_OK)
        err = time_claim(c->claims, "nbf", 0, 1, &nbf, &has_nbf);
    if (err != SIGNET_OK)
        return err;
    static const char *const strings[] = {"sub", "client_id", "jti", "scope"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const json_t *s = json_object_get(c->claims, strings[i]);
        if (s != NULL && !json_is_string(s))
            return SIGNET_ERR_BAD_CLAIM;
    }
    c->exp = exp;
    if (now >= exp + v->skew)
        return SIGNET_ERR_EXPIRED;
    if (has_nbf && nbf > now + v->skew)
        return SIGNET_ERR_NOT_YET_VALID;
    if (iat > now + v->skew)
        return SIGNET_ERR_IAT_IN_FUTURE;
    if (exp < iat) {
        c->reason = "exp is before iat";
        return SIGNET_ERR_BAD_CLAIM;
    }
    if (exp - iat > v->max_lifetime)
        return SIGNET_ERR_LIFETIME_TOO_LONG;
    const json_t *aud = json_object_get(c->claims, "aud");
    if (aud == NULL)
        return SIGNET_ERR_MISSING_CLAIM;
    if (!json_is_string(aud) && !json_is_array(aud))
        return SIGNET_ERR_BAD_CLAIM;
    if (!audience_ok(v, aud))
        return SIGNET_ERR_AUDIENCE_MISMATCH;
    const struct sg_key *k = c->key;
    if ((k->has_active_from && iat < k->active_from - v->skew) ||
        (k->has_active_until && iat > k->active_until + v->skew))
        return SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT;
    return SIGNET_OK;
}

/* An authentic token refused by its key's active window may have met a
 * cached set that predates a key change (a standby promoted early by an
 * emergency revoke): refresh once, within the unknown-kid cooldown, and
 * decide again with the new set. Returns the new verdict, or `err` when no
 * refresh was due. */
static signet_err recheck_window(signet_verifier *v, struct vctx *c, int64_t now, signet_err err)
{
    if (err != SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT ||
        sg_issuer_refresh_for_kid(c->iss, &v->cache, now, c->gen) != SIGNET_OK)
        return err;
    char before[sizeof c->key->thumbprint];
    memcpy(before, c->key->thumbprint, sizeof before);
    err = acquire_set(v, c, now);
    if (err != SIGNET_OK)
        return err;
    c->key = sg_keyset_find(c->set, c->kid);
    err = check_key(v, c);
    /* The same kid may name other key material now: check the signature
     * again unless it is the very key that verified it. */
    if (err == SIGNET_OK && strcmp(before, c->key->thumbprint) != 0)
        err = verify_signature(v, c);
    if (err == SIGNET_OK)
        err = check_claims(v, c, now);
    return err;
}

static signet_err decide_token(signet_verifier *v, const char *token, size_t len,
                               struct vctx *c, int64_t now)
{
    signet_err err = SIGNET_OK;
    if (v->tokcache != NULL) {
        sg_tokcache_hash(v->digests.sha256, token, len, c->hash);
        if (sg_tokcache_get(v->tokcache, c->hash, now, &c->hit)) {
            c->from_cache = 1;
            c->claims = json_incref(c->hit.claims);
            c->kid = c->hit.kid;
            c->alg = c->hit.alg;
            /* Only if the very same key still serves this issuer. */
            if (select_key(v, c, now) == SIGNET_OK &&
                strcmp(c->key->thumbprint, c->hit.thumbprint) == 0) {
                err = check_claims(v, c, now);
                /* A key-window refusal is decided from scratch, with its
                 * refresh. */
                if (err != SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT)
                    return err;
            }
            /* Otherwise forget the hit and decide from scratch. */
            json_decref(c->claims);
            c->claims = NULL;
            sg_keyset_unref(c->set);
            c->set = NULL;
            c->key = NULL;
            c->iss = NULL;
            c->kid = NULL;
            c->from_cache = 0;
            c->ev.thumbprint = NULL;
            c->reason = NULL;
        }
    }
    err = parse_token(v, token, len, c);
    if (err != SIGNET_OK)
        return err;
    err = select_key(v, c, now);
    if (err != SIGNET_OK)
        return err;
    err = verify_signature(v, c);
    if (err != SIGNET_OK)
        return err;
    err = check_claims(v, c, now);
    err = recheck_window(v, c, now, err);
    if (err != SIGNET_OK)
        return err;
    if (v->tokcache != NULL)
        sg_tokcache_put(v->tokcache, c->hash, c->exp, c->claims, c->kid, c->alg,
                        c->key->thumbprint);
    /* A key signing for the first time: learn soon whether others left. */
    if (sg_issuer_note_signer(c->iss, &v->cache, now, c->key->thumbprint))
        wake_refresher(v);
    return SIGNET_OK;
}

/* RFC 9449 §7: the token's binding against the scheme it came with, and
 * for DPoP every §4.3 rule of the proof, its key against cnf.jkt, the nonce
 * and the replay cache. The Bearer path costs one member lookup. */
static signet_err check_binding(signet_verifier *v, const char *token, size_t len,
                                const struct req *r, struct vctx *c, int64_t now)
{
    const json_t *cnf = json_object_get(c->claims, "cnf");
    if (!r->dpop) {
        if (cnf != NULL) {
            c->reason = "a DPoP-bound token (cnf) was presented with the Bearer scheme";
            return SIGNET_ERR_DPOP_DOWNGRADE;
        }
        if (r->proof != NULL) {
            /* Never silently skip a proof: a client that sends one with
             * Bearer is confused or probing (docs/libsignet.md). */
            c->reason = "a DPoP proof came with the Bearer scheme";
            return SIGNET_ERR_DPOP;
        }
        return SIGNET_OK;
    }
    if (cnf == NULL) {
        c->reason = "an unbound token (no cnf) was presented with the DPoP scheme";
        return SIGNET_ERR_DPOP_DOWNGRADE;
    }
    const json_t *jkt = json_object_get(cnf, "jkt");
    if (!json_is_object(cnf) || !json_is_string(jkt) ||
        json_string_length(jkt) != SG_THUMBPRINT_LEN) {
        c->reason = "token cnf has no SHA-256 jkt thumbprint";
        return SIGNET_ERR_DPOP_BINDING;
    }
    if (r->proof == NULL) {
        c->reason = "the DPoP scheme came without a DPoP proof";
        return SIGNET_ERR_DPOP;
    }
    if (r->method == NULL || r->url == NULL) {
        c->reason = "DPoP verification needs the request method and URL";
        return SIGNET_ERR_INVALID_ARG;
    }
    struct sg_dpop_expect e = {
        .method = r->method,
        .url = r->url,
        .now = now,
        .max_age = v->dpop_max_age,
        .skew = v->skew,
        .algs = v->dpop_alg_names,
        .n_algs = v->n_dpop_algs,
        .access_token = token,
        .access_token_len = len,
        .keys = v->dpop_keys,
        .mds = &v->digests,
    };
    struct sg_dpop_proof p;
    const char *why = NULL;
    signet_err err = sg_dpop_check(r->proof, strnlen(r->proof, SG_DPOP_PROOF_MAX + 1), &e, &p,
                                   &why);
    if (err != SIGNET_OK) {
        c->reason = why;
        goto out;
    }
    if (CRYPTO_memcmp(p.jkt, json_string_value(jkt), SG_THUMBPRINT_LEN) != 0) {
        c->reason = "the DPoP proof key does not match the token's cnf.jkt";
        err = SIGNET_ERR_DPOP_BINDING;
        goto out;
    }
    int nonce_ok = 1;
    if (v->dpop_nonce_fn != NULL)
        nonce_ok = v->dpop_nonce_fn(p.nonce, v->dpop_nonce_ctx) == 1;
    else if (v->dpop_nonce_builtin)
        nonce_ok = sg_dpop_nonce_valid(v->dpop_nonce_key, now, v->dpop_nonce_step, p.nonce);
    if (!nonce_ok) {
        c->reason = p.nonce == NULL ? "the DPoP proof has no nonce (use_dpop_nonce)"
                                    : "the DPoP proof nonce is stale or unknown (use_dpop_nonce)";
        err = SIGNET_ERR_DPOP_NONCE;
        goto out;
    }
    if (v->replay != NULL) {
        err = sg_dpop_replay_check(v->replay, p.replay_key, now, p.iat + v->dpop_max_age + 1);
        if (err == SIGNET_ERR_DPOP_REPLAY)
            c->reason = "the DPoP proof jti was already used (replay)";
        else if (err == SIGNET_ERR_BUSY)
            c->reason = "the DPoP replay cache is full of live proofs";
    }
out:
    sg_dpop_proof_clear(&p);
    return err;
}

/* RFC 9470 §4 (step-up): the token's authentication event against the
 * verifier's requirements. Runs only for a token that passed every other
 * rule (signature, issuer, times, audience, DPoP binding), so a forged or
 * expired token keeps its own error and only the legitimate holder of a
 * valid token is told to step up. A missing acr or auth_time fails like a
 * weak one: the remedy is the same. A claim of the wrong type is the
 * issuer's error (BAD_CLAIM). Checked on verified-token cache hits too
 * (max_age depends on the time). */
static signet_err check_auth_context(const signet_verifier *v, struct vctx *c, int64_t now)
{
    if (v->n_acr > 0) {
        const json_t *acr = json_object_get(c->claims, "acr");
        if (acr == NULL) {
            c->reason = "the token has no acr claim and the verifier requires one (step up)";
            return SIGNET_ERR_INSUFFICIENT_USER_AUTH;
        }
        if (!json_is_string(acr)) {
            c->reason = "acr is not a string";
            return SIGNET_ERR_BAD_CLAIM;
        }
        size_t n = json_string_length(acr);
        size_t i = 0;
        while (i < v->n_acr &&
               !(strlen(v->acr[i]) == n && memcmp(v->acr[i], json_string_value(acr), n) == 0))
            i++;
        if (i == v->n_acr) {
            c->reason = "the token's acr is not one of the required values (step up)";
            return SIGNET_ERR_INSUFFICIENT_USER_AUTH;
        }
    }
    if (v->max_age != SG_NO_MAX_AGE) {
        const json_t *t = json_object_get(c->claims, "auth_time");
        int64_t auth_time = 0;
        if (t == NULL) {
            c->reason = "the token has no auth_time claim and the verifier sets a max_age (step up)";
            return SIGNET_ERR_INSUFFICIENT_USER_AUTH;
        }
        /* Fractions round down: the authentication counts as older. */
        if (sg_json_numeric_date(t, 0, &auth_time) != SIGNET_OK) {
            c->reason = "auth_time is not a NumericDate";
            return SIGNET_ERR_BAD_CLAIM;
        }
        if (auth_time > now + v->skew) {
            c->reason = "auth_time is in the future";
            return SIGNET_ERR_BAD_CLAIM;
        }
        if (now - auth_time > v->max_age + v->skew) {
            c->reason = "the token's authentication (auth_time) is older than max_age (step up)";
            return SIGNET_ERR_INSUFFICIENT_USER_AUTH;
        }
    }
    return SIGNET_OK;
}

static signet_err decide(signet_verifier *v, const char *token, size_t len,
                         const signet_verify_opts *opts, struct vctx *c)
{
    struct req r;
    signet_err err = read_opts(opts, &r);
    if (err != SIGNET_OK)
        return err;
    if (r.dpop && v->replay == NULL && !v->dpop_nonce_builtin && v->dpop_nonce_fn == NULL &&
        !v->dpop_unprotected) {
        c->reason = "DPoP needs a replay cache or nonces (or an explicit opt-out)";
        return SIGNET_ERR_DPOP_UNPROTECTED;
    }
    int64_t now = now_of(v);
    err = decide_token(v, token, len, c, now);
    if (err != SIGNET_OK)
        return err;
    err = check_binding(v, token, len, &r, c, now);
    if (err != SIGNET_OK)
        return err;
    return check_auth_context(v, c, now);
}

static const char *claim_str(const json_t *claims, const char *name)
{
    const json_t *s = json_object_get(claims, name);
    return json_is_string(s) ? json_string_value(s) : NULL;
}

signet_err signet_verify(signet_verifier *v, const char *token, size_t len,
                         const signet_verify_opts *opts, signet_claims **out)
{
    *out = NULL;
    struct vctx c;
    memset(&c, 0, sizeof c);
    signet_err err = decide(v, token, len, opts, &c);
    if (err == SIGNET_OK)
        err = sg_claims_new(c.claims, c.iss->issuer, c.kid, c.key->thumbprint,
                            sg_alg_name(c.alg), out);
    if (err == SIGNET_OK)
        c.claims = json_incref(c.claims); /* *out owns one reference now */

    if ((unsigned)err < SG_COUNTER_SLOTS)
        atomic_fetch_add_explicit(&v->counters[err], 1, memory_order_relaxed);
    if (v->event_fn != NULL) {
        c.ev.size = sizeof c.ev;
        c.ev.result = err;
        c.ev.reason = c.reason != NULL && err != SIGNET_OK ? c.reason : signet_strerror(err);
        c.ev.issuer = c.claims != NULL ? claim_str(c.claims, "iss") : NULL;
        c.ev.jti = c.claims != NULL ? claim_str(c.claims, "jti") : NULL;
        /* Before the header passed its checks these are the raw values. */
        c.ev.kid = c.kid != NULL ? c.kid : claim_str(c.jws.header, "kid");
        c.ev.alg = c.from_cache ? sg_alg_name(c.alg) : claim_str(c.jws.header, "alg");
        c.ev.from_cache = c.from_cache;
        if (c.key == NULL)
            c.ev.thumbprint = NULL;
        v->event_fn(&c.ev, v->event_ctx);
    }
    json_decref(c.claims);
    sg_keyset_unref(c.set);
    sg_tokcache_hit_clear(&c.hit);
    sg_jws_clear(&c.jws);
    return err;
}

/* ---- DPoP helpers ------------------------------------------------------- */

signet_err signet_verifier_dpop_nonce(signet_verifier *v, char *buf, size_t cap)
{
    if (cap > 0)
        buf[0] = '\0';
    if (!v->dpop_nonce_builtin)
        return SIGNET_ERR_CONFIG;
    if (cap < SG_DPOP_NONCE_MAX)
        return SIGNET_ERR_TOO_LARGE;
    return sg_dpop_nonce_make(v->dpop_nonce_key, now_of(v), v->dpop_nonce_step, buf);
}

signet_err signet_parse_authorization(const char *value, size_t len, const char **scheme,
                                      size_t *scheme_len, const char **token, size_t *token_len)
{
    return sg_parse_authorization(value, len, scheme, scheme_len, token, token_len);
}

signet_err signet_dpop_challenge(const signet_verifier *v, signet_err err, char *buf, size_t cap)
{
    const char *error = NULL;
    switch (err) {
    case SIGNET_OK: break;
    case SIGNET_ERR_DPOP_NONCE: error = "use_dpop_nonce"; break;
    case SIGNET_ERR_DPOP:
    case SIGNET_ERR_DPOP_REPLAY:
    case SIGNET_ERR_DPOP_UNPROTECTED: error = "invalid_dpop_proof"; break;
    default: error = "invalid_token"; break;
    }
    int n = error != NULL ? snprintf(buf, cap, "DPoP error=\"%s\", algs=\"%s\"", error,
                                     v->dpop_algs_str)
                          : snprintf(buf, cap, "DPoP algs=\"%s\"", v->dpop_algs_str);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            buf[0] = '\0';
        return SIGNET_ERR_TOO_LARGE;
    }
    return SIGNET_OK;
}

/* ---- step-up challenge (RFC 9470 §3) ------------------------------------ */

/* A bounded writer: appends until cap is reached, then only records that
 * the output did not fit. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
    int full;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->len) {
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(struct out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

/* RFC 9110 §5.6.4 quoted-string: '"' and '\' become quoted-pairs. Values
 * reaching here are visible ASCII (acr_value_ok), so nothing else needs
 * escaping. */
static void out_quoted_char(struct out *o, char ch)
{
    if (ch == '"' || ch == '\\')
        out_raw(o, "\\", 1);
    out_raw(o, &ch, 1);
}

signet_err signet_stepup_challenge(const signet_verifier *v, const char *scheme, char *buf,
                                   size_t cap)
{
    if (cap > 0)
        buf[0] = '\0';
    int dpop = 0;
    if (scheme != NULL && strcasecmp(scheme, "DPoP") == 0)
        dpop = 1;
    else if (scheme != NULL && strcasecmp(scheme, "Bearer") != 0)
        return SIGNET_ERR_INVALID_ARG;
    if (v->n_acr == 0 && v->max_age == SG_NO_MAX_AGE)
        return SIGNET_ERR_CONFIG;
    const char *description =
        v->n_acr == 0 ? "More recent authentication is required"
        : v->max_age == SG_NO_MAX_AGE
            ? "A different authentication level is required"
            : "A different authentication level or more recent authentication is required";
    struct out o = {buf, cap, 0, cap == 0};
    out_str(&o, dpop ? "DPoP" : "Bearer");
    out_str(&o, " error=\"insufficient_user_authentication\", error_description=\"");
    out_str(&o, description);
    out_str(&o, "\"");
    if (v->n_acr > 0) {
        out_str(&o, ", acr_values=\"");
        for (size_t i = 0; i < v->n_acr; i++) {
            if (i > 0)
                out_raw(&o, " ", 1);
            for (const char *p = v->acr[i]; *p != '\0'; p++)
                out_quoted_char(&o, *p);
        }
        out_str(&o, "\"");
    }
    if (v->max_age != SG_NO_MAX_AGE) {
        /* Quoted as in RFC 9470 figure 3 (RFC 9110 §11.2 takes either). */
        char num[24];
        int n = snprintf(num, sizeof num, "%lld", (long long)v->max_age);
        if (n < 0 || (size_t)n >= sizeof num)
            return SIGNET_ERR_INTERNAL;
        out_str(&o, ", max_age=\"");
        out_raw(&o, num, (size_t)n);
        out_str(&o, "\"");
    }
    if (dpop) {
        /* RFC 9449 §7.1: a DPoP challenge names the proof algorithms. */
        out_str(&o, ", algs=\"");
        out_str(&o, v->dpop_algs_str);
        out_str(&o, "\"");
    }
    if (o.full) {
        if (cap > 0)
            buf[0] = '\0';
        return SIGNET_ERR_TOO_LARGE;
    }
    buf[o.len] = '\0';
    return SIGNET_OK;
}
