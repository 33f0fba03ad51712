/* Client secret verification (argon2id) with a bounded cache of recent
 * successes, and the per-client token-bucket rate limiter.
 *
 * The cache never holds a secret: an entry is keyed by
 * HMAC-SHA256(k, tenant NUL client_id NUL secret) under a per-process
 * random key k (kept in a secret buffer), and remembers a digest of the
 * stored hash it was verified against, so a re-registered client or a
 * changed secret misses. Lookups compare in constant time. */
#include "signetd/auth.h"

#include <argon2.h>
#include <errno.h>
#include <malloc.h>
#include <semaphore.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

signet_err sd_auth_init(void)
{
    signet_err err = sg_secret_new(32, &cache_key);
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

/* argon2id is deliberately expensive (memory-hard: tens of MiB per run).
 * A burst of cache misses must not run one per HTTP thread at once: at most
 * one per core runs, the others wait their turn. Its large buffers come from
 * mmap (returned to the system when freed) rather than glibc's per-thread
 * arenas, which would otherwise keep the peak for the life of the process. */
static pthread_once_t argon2_once = PTHREAD_ONCE_INIT;
static sem_t argon2_slots;

static void argon2_init(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    (void)sem_init(&argon2_slots, 0, cores > 0 && cores < 64 ? (unsigned)cores : 2u);
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

static int argon2_verify_bounded(const char *encoded, const char *secret)
{
    pthread_once(&argon2_once, argon2_init);
    while (sem_wait(&argon2_slots) != 0)
        if (errno != EINTR)
            return 0;
    int ok = argon2id_verify(encoded, secret, strlen(secret)) == ARGON2_OK;
    (void)sem_post(&argon2_slots);
    return ok;
}

int sd_secret_verify(const char *tenant, const char *client_id, const char *secret,
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
        if (hit)
            return 1;
    }
    /* argon2id_verify recomputes the hash with the encoded parameters and
     * salt and compares in constant time. */
    if (!argon2_verify_bounded(encoded, secret))
        return 0;
    if (have_mac) {
        pthread_mutex_lock(&cache_lock);
        struct cache_entry *e = &cache[slot];
        memcpy(e->mac, mac, sizeof mac);
        memcpy(e->hash_digest, digest, sizeof digest);
        e->expires_ms = now_ms() + CACHE_TTL_MS;
        e->used = 1;
        pthread_mutex_unlock(&cache_lock);
    }
    sg_wipe(mac, sizeof mac);
    return 1;
}

/* argon2id parameters of `signet client add` (src/cli/cmd_client.c): the
 * hash an unknown client is checked against costs what a real one does. */
#define BURN_T 2
#define BURN_M 19456
#define BURN_P 1

static pthread_once_t burn_once = PTHREAD_ONCE_INIT;
static char burn_hash[160];

static void burn_init(void)
{
    uint8_t salt[16], pw[32];
    if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(pw, sizeof pw) != 1 ||
        argon2id_hash_encoded(BURN_T, BURN_M, BURN_P, pw, sizeof pw, salt, sizeof salt, 32,
                              burn_hash, sizeof burn_hash) != ARGON2_OK)
        burn_hash[0] = '\0';
    sg_wipe(pw, sizeof pw);
}

void sd_secret_burn(const char *secret)
{
    pthread_once(&burn_once, burn_init);
    if (burn_hash[0] != '\0')
        (void)argon2_verify_bounded(burn_hash, secret);
}

/* ---- rate limiting ------------------------------------------------------- */

#define RL_BUCKETS 1024
#define RL_MAX_ENTRIES 65536

struct rl_entry {
    struct rl_entry *next;
    char key[200];
    double tokens;
    uint64_t last_ns;
};

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rl_entry *rl_table[RL_BUCKETS];
static size_t rl_count;

static size_t rl_hash(const char *k)
{
    size_t h = 1469598103934665603u;
    for (const unsigned char *c = (const unsigned char *)k; *c != '\0'; c++)
        h = (h ^ *c) * 1099511628211u;
    return h % RL_BUCKETS;
}

static void rl_free_all(void)
{
    pthread_mutex_lock(&rl_lock);
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        while (rl_table[b] != NULL) {
            struct rl_entry *e = rl_table[b];
            rl_table[b] = e->next;
            free(e);
        }
    }
    rl_count = 0;
    pthread_mutex_unlock(&rl_lock);
}

/* Drops entries that have refilled completely: they are indistinguishable
 * from new ones. Called when the table is full. */
static void rl_prune(uint64_t now, double rate, unsigned burst)
{
    for (size_t b = 0; b < RL_BUCKETS; b++) {
        struct rl_entry **pp = &rl_table[b];
        while (*pp != NULL) {
            struct rl_entry *e = *pp;
            double t = e->tokens + (double)(now - e->last_ns) / 1e9 * rate;
            if (t >= (double)burst) {
                *pp = e->next;
                free(e);
                rl_count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

int64_t sd_rate_take(const char *tenant, const char *client_id, double rate, unsigned burst)
{
    char key[200];
    size_t tl = strlen(tenant), cl = strlen(client_id);
    if (tl + cl + 2 > sizeof key)
        return 1;
    memcpy(key, tenant, tl);
    key[tl] = '\n';
    memcpy(key + tl + 1, client_id, cl + 1);
    uint64_t now = sg_clock_mono_ns();
    int64_t wait = 0;
    pthread_mutex_lock(&rl_lock);
    size_t h = rl_hash(key);
    struct rl_entry *e = rl_table[h];
    while (e != NULL && strcmp(e->key, key) != 0)
        e = e->next;
    if (e == NULL) {
        if (rl_count >= RL_MAX_ENTRIES)
            rl_prune(now, rate, burst);
        e = rl_count < RL_MAX_ENTRIES ? calloc(1, sizeof *e) : NULL;
        if (e == NULL) {
            pthread_mutex_unlock(&rl_lock);
            return 1; /* fail closed: no room to track this client */
        }
        memcpy(e->key, key, strlen(key) + 1);
        e->tokens = (double)burst;
        e->last_ns = now;
        e->next = rl_table[h];
        rl_table[h] = e;
        rl_count++;
    }
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
    pthread_mutex_unlock(&rl_lock);
    return wait;
}

#define FAIL_RATE 10.0 /* failures a second, per client, before the flood is logged */
#define FAIL_BURST 10u

void sd_auth_failure(const char *tenant, const char *client_id)
{
    static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t logged_ns;
    char key[200];
    int n = snprintf(key, sizeof key, "!fail\n%s", tenant);
    if (n < 0 || (size_t)n >= sizeof key)
        return;
    /* Its own keys in the table (two newlines, a client's have one): never
     * the client's own bucket. */
    if (sd_rate_take(key, client_id, FAIL_RATE, FAIL_BURST) == 0)
        return;
    uint64_t now = sg_clock_mono_ns();
    pthread_mutex_lock(&log_lock);
    int due = logged_ns == 0 || now - logged_ns > 60ull * 1000000000ull;
    if (due)
        logged_ns = now;
    pthread_mutex_unlock(&log_lock);
    if (due)
        sg_log(SG_LOG_WARN, "client_auth_flood",
               "tenant=%s client=%s detail=\"over %.0f failed authentications a second; the "
               "client's own requests are not limited by them\"",
               tenant, client_id, FAIL_RATE);
}
