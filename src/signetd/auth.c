/* Client secret verification, the per-client token-bucket rate limiter
 * and the failure budgets (per client, per source address).
 *
 * Secrets are HMAC-SHA-256 under the front end's pepper
 * (common/client_secret.h): microseconds a check, the same for a known
 * client, an unknown one (checked against a dummy hash) and a wrong
 * secret. Hashes of the earlier argon2id format still verify, on a small
 * bounded pool that never makes an HTTP thread wait: when its slots are
 * taken the request is shed (503, Retry-After), and a success is cached.
 *
 * The cache never holds a secret: an entry is keyed by
 * HMAC-SHA256(k, tenant NUL client_id NUL secret) under a per-process
 * random key k (kept in a secret buffer), and remembers a digest of the
 * stored hash it was verified against, so a re-registered client or a
 * changed secret misses. Lookups compare in constant time. */
#include "signetd/auth.h"

#include <argon2.h>
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/client_secret.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/sha256.h"

#define CACHE_SLOTS 1024
#define CACHE_TTL_MS (300 * 1000)

struct cache_entry {
    uint8_t mac[32];
    uint8_t hash_digest[32];
    uint64_t expires_ms;
    int used;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[CACHE_SLOTS];
static struct sg_secret *cache_key;
/* HMAC-SHA256 already keyed with cache_key: each lookup duplicates it
 * instead of fetching the algorithm and deriving the pads again. */
static EVP_MAC_CTX *mac_keyed;
/* The pepper of the client-secret hashes (read once, before the sandbox)
 * and the hash of no client's secret an unknown client is checked against. */
static struct sg_secret *pepper;
static char dummy_hash[SG_SECRET_HMAC_MAX];

signet_err sd_auth_init(const char *state_dir)
{
    signet_err err = sg_pepper_load(state_dir, &pepper);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "pepper_unreadable",
               "file=%s/front/" SG_PEPPER_FILE " error=%s action=\"run signet init --state on "
               "the state directory: it adds one to an earlier layout\"",
               state_dir, signet_err_name(err));
        return err;
    }
    uint8_t noise[32];
    char text[48];
    if (RAND_bytes(noise, sizeof noise) != 1 ||
        sg_b64url_encode(noise, sizeof noise, text, sizeof text) != SIGNET_OK ||
        sg_client_secret_hash(pepper, text, dummy_hash) != SIGNET_OK) {
        sg_secret_free(&pepper);
        return SIGNET_ERR_CRYPTO;
    }
    sg_wipe(noise, sizeof noise);
    sg_wipe(text, sizeof text);
    err = sg_secret_new(32, &cache_key);
    if (err != SIGNET_OK)
        return err;
    if (RAND_bytes(cache_key->data, 32) != 1) {
        sg_secret_free(&cache_key);
        return SIGNET_ERR_CRYPTO;
    }
    cache_key->len = 32;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    mac_keyed = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_END};
    if (mac_keyed == NULL || EVP_MAC_init(mac_keyed, cache_key->data, 32, params) != 1) {
        EVP_MAC_CTX_free(mac_keyed);
        mac_keyed = NULL;
        sg_secret_free(&cache_key);
        return SIGNET_ERR_CRYPTO;
    }
    return SIGNET_OK;
}

static void rl_free_all(void);

void sd_auth_shutdown(void)
{
    pthread_mutex_lock(&cache_lock);
    sg_wipe(cache, sizeof cache);
    sg_secret_free(&cache_key);
    sg_secret_free(&pepper);
    EVP_MAC_CTX_free(mac_keyed);
    mac_keyed = NULL;
    pthread_mutex_unlock(&cache_lock);
    rl_free_all();
}

static uint64_t now_ms(void)
{
    return sg_clock_mono_ns() / 1000000u;
}

static int mac_of(const char *tenant, const char *client_id, const char *secret, uint8_t out[32])
{
    /* Duplicating only reads the keyed context; the lock keeps it that way
     * whatever a provider does inside. */
    pthread_mutex_lock(&cache_lock);
    EVP_MAC_CTX *ctx = mac_keyed != NULL ? EVP_MAC_CTX_dup(mac_keyed) : NULL;
    pthread_mutex_unlock(&cache_lock);
    size_t outl = 0;
    int ok = ctx != NULL &&
             EVP_MAC_update(ctx, (const uint8_t *)tenant, strlen(tenant) + 1) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)client_id, strlen(client_id) + 1) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)secret, strlen(secret)) == 1 &&
             EVP_MAC_final(ctx, out, &outl, 32) == 1 && outl == 32;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Legacy argon2id hashes (memory-hard: tens of MiB per run): at most
 * ARGON2_SLOTS run at once, and an HTTP thread never waits for a slot (a
 * request that finds them taken is shed with 503), so a flood of wrong
 * secrets against such a client cannot stall the event loop. Its large
 * buffers come from mmap (returned to the system when freed) rather than
 * glibc's per-thread arenas, which would otherwise keep the peak for the
 * life of the process. */
#define ARGON2_SLOTS 1u
static pthread_once_t argon2_once = PTHREAD_ONCE_INIT;
static sem_t argon2_slots;

static void argon2_init(void)
{
    (void)sem_init(&argon2_slots, 0, ARGON2_SLOTS);
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

static int argon2_verify_bounded(const char *encoded, const char *secret)
{
    pthread_once(&argon2_once, argon2_init);
    while (sem_trywait(&argon2_slots) != 0)
        if (errno != EINTR)
            return SD_SECRET_BUSY;
    int ok = argon2id_verify(encoded, secret, strlen(secret)) == ARGON2_OK;
    (void)sem_post(&argon2_slots);
    return ok ? SD_SECRET_OK : SD_SECRET_BAD;
}

static void legacy_note(const char *tenant, const char *client_id)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t logged_ns;
    uint64_t now = sg_clock_mono_ns();
    pthread_mutex_lock(&lock);
    int due = logged_ns == 0 || now - logged_ns > 3600ull * 1000000000ull;
    if (due)
        logged_ns = now;
    pthread_mutex_unlock(&lock);
    if (due)
        sg_log(SG_LOG_WARN, "client_secret_legacy",
               "tenant=%s client=%s detail=\"an argon2id secret hash, verified on a bounded "
               "pool (503 when it is busy) until the client's first success replaces it by "
               "an HMAC\"",
               tenant, client_id);
}

static int legacy_verify(const char *tenant, const char *client_id, const char *secret,
                         const char *encoded)
{
    uint8_t mac[32], digest[32];
    sg_sha256(encoded, strlen(encoded), digest);
    int have_mac = mac_of(tenant, client_id, secret, mac) == 0;
    size_t slot = have_mac ? ((size_t)mac[0] << 8 | mac[1]) % CACHE_SLOTS : 0;
    if (have_mac) {
        pthread_mutex_lock(&cache_lock);
        const struct cache_entry *e = &cache[slot];
        int hit = e->used && e->expires_ms > now_ms() &&
                  CRYPTO_memcmp(e->mac, mac, sizeof mac) == 0 &&
                  CRYPTO_memcmp(e->hash_digest, digest, sizeof digest) == 0;
        pthread_mutex_unlock(&cache_lock);
        if (hit) {
            sg_wipe(mac, sizeof mac);
            return SD_SECRET_OK;
        }
    }
    legacy_note(tenant, client_id);
    /* argon2id_verify recomputes the hash with the encoded parameters and
     * salt and compares in constant time. */
    int v = argon2_verify_bounded(encoded, secret);
    if (v == SD_SECRET_OK && have_mac) {
        pthread_mutex_lock(&cache_lock);
        struct cache_entry *e = &cache[slot];
        memcpy(e->mac, mac, sizeof mac);
        memcpy(e->hash_digest, digest, sizeof digest);
        e->expires_ms = now_ms() + CACHE_TTL_MS;
        e->used = 1;
        pthread_mutex_unlock(&cache_lock);
    }
    sg_wipe(mac, sizeof mac);
    return v;
}

int sd_secret_verify(const char *tenant, const char *client_id, const char *secret,
                     const char *encoded)
{
    switch (sg_client_secret_kind(encoded)) {
    case SG_SECRET_KIND_HMAC:
        return sg_client_secret_check(pepper, secret, encoded) ? SD_SECRET_OK : SD_SECRET_BAD;
    case SG_SECRET_KIND_ARGON2ID:
        return legacy_verify(tenant, client_id, secret, encoded);
    case SG_SECRET_KIND_OTHER:
        break;
    }
    /* A hash of no known form matches nothing, at the usual cost. */
    (void)sg_client_secret_check(pepper, secret, dummy_hash);
    return SD_SECRET_BAD;
}

int sd_secret_rehash(const char *secret, char *out, size_t cap)
{
    char fresh[SG_SECRET_HMAC_MAX];
    if (cap < sizeof fresh || sg_client_secret_hash(pepper, secret, fresh) != SIGNET_OK)
        return -1;
    memcpy(out, fresh, sizeof fresh);
    return 0;
}

void sd_secret_burn(const char *secret)
{
    (void)sg_client_secret_check(pepper, secret, dummy_hash);
}

/* ---- rate limiting ------------------------------------------------------- */

#define RL_BUCKETS 1024
#define RL_MAX_ENTRIES 65536

struct rl_entry {
    struct rl_entry *next;
    char key[200];
    double tokens;
    double rate;    /* the bucket's own refill rate and size (for pruning) */
    unsigned burst;
    uint64_t last_ns;
};

/* Two tables: authenticated clients' rate limits, and the failure budgets
 * that strangers fill (any client id, any address). A flood of failures
 * can fill only the second, never push a client's bucket out. */
struct rl_table {
    pthread_mutex_t lock;
    struct rl_entry *b[RL_BUCKETS];
    size_t count;
    int fail_open; /* full: allow (the failure budgets) or refuse (clients) */
};

static struct rl_table clients_rl = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct rl_table failures_rl = {.lock = PTHREAD_MUTEX_INITIALIZER, .fail_open = 1};

static size_t rl_hash(const char *k)
{
    size_t h = 1469598103934665603u;
    for (const unsigned char *c = (const unsigned char *)k; *c != '\0'; c++)
        h = (h ^ *c) * 1099511628211u;
    return h % RL_BUCKETS;
}

static void rl_clear(struct rl_table *t)
{
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        while (t->b[b] != NULL) {
            struct rl_entry *e = t->b[b];
            t->b[b] = e->next;
            free(e);
        }
    }
    t->count = 0;
    pthread_mutex_unlock(&t->lock);
}

static void rl_free_all(void)
{
    rl_clear(&clients_rl);
    rl_clear(&failures_rl);
}

/* Drops entries that have refilled completely: they are indistinguishable
 * from new ones. Called when the table is full. */
static void rl_prune(struct rl_table *t, uint64_t now)
{
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        struct rl_entry **pp = &t->b[b];
        while (*pp != NULL) {
            struct rl_entry *e = *pp;
            double tok = e->tokens + (double)(now - e->last_ns) / 1e9 * e->rate;
            if (tok >= (double)e->burst) {
                *pp = e->next;
                free(e);
                t->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static int64_t rl_take(struct rl_table *t, const char *a, const char *b, double rate,
                       unsigned burst)
{
    char key[200];
    size_t al = strlen(a), bl = strlen(b);
    if (al + bl + 2 > sizeof key)
        return t->fail_open ? 0 : 1;
    memcpy(key, a, al);
    key[al] = '\n';
    memcpy(key + al + 1, b, bl + 1);
    uint64_t now = sg_clock_mono_ns();
    int64_t wait = 0;
    pthread_mutex_lock(&t->lock);
    size_t h = rl_hash(key);
    struct rl_entry *e = t->b[h];
    while (e != NULL && strcmp(e->key, key) != 0)
        e = e->next;
    if (e == NULL) {
        if (t->count >= RL_MAX_ENTRIES)
            rl_prune(t, now);
        e = t->count < RL_MAX_ENTRIES ? calloc(1, sizeof *e) : NULL;
        if (e == NULL) {
            pthread_mutex_unlock(&t->lock);
            return t->fail_open ? 0 : 1; /* no room to track it */
        }
        memcpy(e->key, key, strlen(key) + 1);
        e->tokens = (double)burst;
        e->last_ns = now;
        e->next = t->b[h];
        t->b[h] = e;
        t->count++;
    }
    e->rate = rate;
    e->burst = burst;
    e->tokens += (double)(now - e->last_ns) / 1e9 * rate;
    if (e->tokens > (double)burst)
        e->tokens = (double)burst;
    e->last_ns = now;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
    } else {
        double secs = (1.0 - e->tokens) / rate;
        wait = (int64_t)secs + 1;
    }
    pthread_mutex_unlock(&t->lock);
    return wait;
}

int64_t sd_rate_take(const char *tenant, const char *client_id, double rate, unsigned burst)
{
    return rl_take(&clients_rl, tenant, client_id, rate, burst);
}

int64_t sd_budget_take(const char *kind, const char *key, double rate, unsigned burst)
{
    return rl_take(&failures_rl, kind, key, rate, burst);
}

/* ---- failure budgets ------------------------------------------------------ */

#define FAIL_RATE 10.0 /* failures a second, per client, before the flood is logged */
#define FAIL_BURST 10u
/* Failures a second from one source address (an IPv6 /64) before its
 * further failures are answered 429. A correct credential is never
 * charged here nor refused for it. */
#define FAIL_ADDR_RATE 5.0
#define FAIL_ADDR_BURST 60u

/* The source address of the request this thread is serving (set by
 * http.c around the calls that authenticate). */
static _Thread_local char peer[INET6_ADDRSTRLEN + 8];

void sd_auth_peer_set(const struct sockaddr *sa)
{
    peer[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)sa;
        (void)inet_ntop(AF_INET, &a4->sin_addr, peer, sizeof peer);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)sa;
        struct in6_addr a = a6->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            (void)inet_ntop(AF_INET, &a.s6_addr[12], peer, sizeof peer);
            return;
        }
        /* One holder of a /64 can use all of it. */
        memset(&a.s6_addr[8], 0, 8);
        if (inet_ntop(AF_INET6, &a, peer, sizeof peer - 4) != NULL)
            memcpy(peer + strlen(peer), "/64", 4);
    }
}

const char *sd_auth_peer(void)
{
    return peer[0] != '\0' ? peer : "-";
}

static int due_every(pthread_mutex_t *lock, uint64_t *last_ns, uint64_t period_ns)
{
    uint64_t now = sg_clock_mono_ns();
    pthread_mutex_lock(lock);
    int due = *last_ns == 0 || now - *last_ns > period_ns;
    if (due)
        *last_ns = now;
    pthread_mutex_unlock(lock);
    return due;
}

/* An address over its failure budget is logged once a minute (a bucket of
 * its own in the table): one flooding address does not hide the next. */
static int addr_log_due(const char *addr)
{
    return rl_take(&failures_rl, "log", addr, 1.0 / 60.0, 1) == 0;
}

int64_t sd_auth_failure(const char *tenant, const char *client_id)
{
    static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t client_logged_ns;
    char key[200];
    int64_t wait = 0;
    /* In the failures' own table: never the client's own bucket. */
    int n = snprintf(key, sizeof key, "client\n%s", tenant);
    if (n > 0 && (size_t)n < sizeof key &&
        rl_take(&failures_rl, key, client_id, FAIL_RATE, FAIL_BURST) != 0 &&
        due_every(&log_lock, &client_logged_ns, 60ull * 1000000000ull))
        sg_log(SG_LOG_WARN, "client_auth_flood",
               "tenant=%s client=%s detail=\"over %.0f failed authentications a second; the "
               "client's own requests are not limited by them\"",
               tenant, client_id, FAIL_RATE);
    if (peer[0] != '\0') {
        wait = rl_take(&failures_rl, "addr", peer, FAIL_ADDR_RATE, FAIL_ADDR_BURST);
        if (wait > 0 && addr_log_due(peer))
            sg_log(SG_LOG_WARN, "address_auth_flood",
                   "addr=%s tenant=%s client=%s detail=\"over %.0f failed authentications a "
                   "second from this address; its further failures get 429, a correct "
                   "credential is still served\"",
                   peer, tenant, client_id, FAIL_ADDR_RATE);
    }
    return wait;
}
