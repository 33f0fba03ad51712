#include "tokcache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    int used;
    uint8_t hash[32];
    int64_t exp;
    json_t *claims;
    char *kid;
    enum sg_alg alg;
    char thumbprint[SG_THUMBPRINT_LEN + 1];
    size_t next; /* bucket chain, SIZE_MAX ends it */
};

struct sg_tokcache {
    pthread_mutex_t lock;
    size_t max;
    size_t nbuckets; /* power of two */
    size_t *buckets;
    struct entry *entries;
    size_t hand; /* next slot to fill (FIFO eviction) */
};

signet_err sg_tokcache_new(size_t max_entries, struct sg_tokcache **out)
{
    *out = NULL;
    if (max_entries == 0 || max_entries > SG_TOKCACHE_MAX)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_tokcache *tc = calloc(1, sizeof *tc);
    if (tc == NULL)
        return SIGNET_ERR_NOMEM;
    tc->max = max_entries;
    tc->nbuckets = 1;
    while (tc->nbuckets < max_entries)
        tc->nbuckets <<= 1;
    tc->buckets = malloc(tc->nbuckets * sizeof *tc->buckets);
    tc->entries = calloc(max_entries, sizeof *tc->entries);
    if (tc->buckets == NULL || tc->entries == NULL || pthread_mutex_init(&tc->lock, NULL) != 0) {
        free(tc->buckets);
        free(tc->entries);
        free(tc);
        return SIGNET_ERR_NOMEM;
    }
    for (size_t i = 0; i < tc->nbuckets; i++)
        tc->buckets[i] = SIZE_MAX;
    *out = tc;
    return SIGNET_OK;
}

static void entry_clear(struct entry *e)
{
    json_decref(e->claims);
    free(e->kid);
    memset(e, 0, sizeof *e);
}

static size_t bucket_of(const struct sg_tokcache *tc, const uint8_t hash[static 32])
{
    size_t b = 0;
    for (size_t i = 0; i < sizeof b; i++)
        b = b << 8 | hash[i];
    return b & (tc->nbuckets - 1);
}

static void unlink_entry(struct sg_tokcache *tc, size_t idx)
{
    size_t *p = &tc->buckets[bucket_of(tc, tc->entries[idx].hash)];
    while (*p != SIZE_MAX) {
        if (*p == idx) {
            *p = tc->entries[idx].next;
            return;
        }
        p = &tc->entries[*p].next;
    }
}

void sg_tokcache_clear(struct sg_tokcache *tc)
{
    pthread_mutex_lock(&tc->lock);
    for (size_t i = 0; i < tc->max; i++)
        entry_clear(&tc->entries[i]);
    for (size_t i = 0; i < tc->nbuckets; i++)
        tc->buckets[i] = SIZE_MAX;
    tc->hand = 0;
    pthread_mutex_unlock(&tc->lock);
}

void sg_tokcache_free(struct sg_tokcache *tc)
{
    if (tc == NULL)
        return;
    for (size_t i = 0; i < tc->max; i++)
        entry_clear(&tc->entries[i]);
    pthread_mutex_destroy(&tc->lock);
    free(tc->buckets);
    free(tc->entries);
    free(tc);
}

void sg_tokcache_hash(const EVP_MD *sha256, const char *token, size_t len,
                      uint8_t out[static 32])
{
    unsigned int n = 0;
    if (EVP_Digest(token, len, out, &n, sha256 != NULL ? sha256 : EVP_sha256(), NULL) != 1 ||
        n != 32)
        memset(out, 0, 32); /* never matches a stored entry: see put */
}

static int zero_hash(const uint8_t hash[static 32])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < 32; i++)
        acc |= hash[i];
    return acc == 0;
}

static size_t find(const struct sg_tokcache *tc, const uint8_t hash[static 32])
{
    for (size_t i = tc->buckets[bucket_of(tc, hash)]; i != SIZE_MAX; i = tc->entries[i].next)
        if (memcmp(tc->entries[i].hash, hash, 32) == 0)
            return i;
    return SIZE_MAX;
}

int sg_tokcache_get(struct sg_tokcache *tc, const uint8_t hash[static 32], int64_t now,
                    struct sg_tokcache_hit *hit)
{
    memset(hit, 0, sizeof *hit);
    if (zero_hash(hash))
        return 0;
    json_t *shared = NULL;
    pthread_mutex_lock(&tc->lock);
    size_t i = find(tc, hash);
    if (i != SIZE_MAX) {
        struct entry *e = &tc->entries[i];
        if (now >= e->exp) { /* never outlive exp */
            unlink_entry(tc, i);
            entry_clear(e);
        } else {
            /* Pin the entry's claims and copy them after unlocking, so
             * that threads hitting the cache do not queue behind each
             * other's copies. jansson's json_incref/json_decref read the
             * count before updating it, which is a data race between
             * threads: the cached tree's count is only ever touched under
             * the lock, and each caller gets a private copy. */
            shared = json_incref(e->claims);
            hit->kid = strdup(e->kid);
            hit->alg = e->alg;
            memcpy(hit->thumbprint, e->thumbprint, sizeof hit->thumbprint);
        }
    }
    pthread_mutex_unlock(&tc->lock);
    if (shared == NULL)
        return 0;
    hit->claims = json_deep_copy(shared); /* reads only */
    pthread_mutex_lock(&tc->lock);
    json_decref(shared); /* may free it, if evicted meanwhile */
    pthread_mutex_unlock(&tc->lock);
    if (hit->claims == NULL || hit->kid == NULL) {
        sg_tokcache_hit_clear(hit);
        return 0;
    }
    return 1;
}

void sg_tokcache_hit_clear(struct sg_tokcache_hit *hit)
{
    json_decref(hit->claims);
    free(hit->kid);
    memset(hit, 0, sizeof *hit);
}

void sg_tokcache_put(struct sg_tokcache *tc, const uint8_t hash[static 32], int64_t exp,
                     const json_t *claims, const char *kid, enum sg_alg alg,
                     const char *thumbprint)
{
    if (zero_hash(hash))
        return;
    json_t *copy = json_deep_copy(claims); /* never shared between threads: see get */
    char *k = strdup(kid);
    if (copy == NULL || k == NULL) {
        json_decref(copy);
        free(k);
        return;
    }
    pthread_mutex_lock(&tc->lock);
    size_t i = find(tc, hash);
    if (i == SIZE_MAX) {
        i = tc->hand;
        tc->hand = (tc->hand + 1) % tc->max;
        if (tc->entries[i].used)
            unlink_entry(tc, i);
    } else {
        unlink_entry(tc, i);
    }
    struct entry *e = &tc->entries[i];
    entry_clear(e);
    e->used = 1;
    memcpy(e->hash, hash, 32);
    e->exp = exp;
    e->claims = copy;
    e->kid = k;
    e->alg = alg;
    memcpy(e->thumbprint, thumbprint, sizeof e->thumbprint);
    size_t b = bucket_of(tc, hash);
    e->next = tc->buckets[b];
    tc->buckets[b] = i;
    pthread_mutex_unlock(&tc->lock);
}
