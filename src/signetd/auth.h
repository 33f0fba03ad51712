/* Client authentication helpers (auth.c): secret verification, the
 * per-client rate limiter and the failure budgets. */
#ifndef SD_AUTH_H
#define SD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sockaddr;

/* Reads the pepper of the client-secret hashes (<state>/front/client.pepper)
 * and sets up the cache key. Before the sandbox. */
SIGNET_WUR signet_err sd_auth_init(const char *state_dir);
void sd_auth_shutdown(void);

enum {
    SD_SECRET_BUSY = -1, /* a legacy argon2id hash and its pool is full: 503 */
    SD_SECRET_BAD = 0,
    SD_SECRET_OK = 1,
};

/* Verifies secret against the client's encoded hash: "hmac-sha256$..."
 * (HMAC under the pepper, constant time, microseconds), or a legacy
 * "$argon2id$..." (a bounded pool that never waits, and a cache of recent
 * successes keyed by an HMAC of the presented secret under a per-process
 * random key). One of SD_SECRET_*. */
int sd_secret_verify(const char *tenant, const char *client_id, const char *secret,
                     const char *encoded);

/* The current form of a client's hash of secret (HMAC-SHA-256 under the
 * pepper, a fresh salt) into out: a legacy hash that just verified is
 * replaced by it. 0, or -1 (out too small, no randomness). */
int sd_secret_rehash(const char *secret, char *out, size_t cap);

/* Spends what sd_secret_verify spends on a wrong secret (of the current
 * format), against a hash of no client's: an unknown client id must not
 * answer faster. */
void sd_secret_burn(const char *secret);

/* The source address of the request the calling thread serves (an IPv6
 * address as its /64), for the per-address failure budget and the logs;
 * NULL clears it. sd_auth_peer: "-" when unset. */
void sd_auth_peer_set(const struct sockaddr *sa);
const char *sd_auth_peer(void);

/* A failed authentication naming (tenant, client_id), from the address set
 * by sd_auth_peer_set: counted apart from the client's own rate limit,
 * which it never touches (a flood, more than 10 a second for one client,
 * is logged once a minute), and against the address's failure budget (5 a
 * second, bursts of 60). 0, or the seconds after which the address may
 * fail again (answer 429 with that Retry-After). A correct credential is
 * never counted here. */
int64_t sd_auth_failure(const char *tenant, const char *client_id);

/* Token bucket per (tenant, client_id). 0 when allowed; otherwise the
 * number of seconds after which a request would be (Retry-After). */
int64_t sd_rate_take(const char *tenant, const char *client_id, double rate, unsigned burst);

/* A budget that strangers can fill (the failure budgets' table: bounded,
 * pruned, and open when full, so never a client's own bucket): one token
 * from the bucket (kind, key) of rate a second and burst. 0 when there was
 * one; otherwise the seconds until there is. */
int64_t sd_budget_take(const char *kind, const char *key, double rate, unsigned burst);

#endif
