/* Client authentication helpers (auth.c): secret verification with a
 * cache of recent successes, and the per-client rate limiter. */
#ifndef SD_AUTH_H
#define SD_AUTH_H

#include <stdint.h>

#include "signet/error.h"

SIGNET_WUR signet_err sd_auth_init(void);
void sd_auth_shutdown(void);
/* Verifies secret against the argon2id encoded hash (constant time), with
 * a bounded cache of recent successes keyed by an HMAC of the presented
 * secret under a per-process random key. 1 on a match. */
int sd_secret_verify(const char *tenant, const char *client_id, const char *secret,
                     const char *encoded);

/* Spends what sd_secret_verify spends on a wrong secret, against a hash of
 * no client's (an unknown client id must not answer faster). */
void sd_secret_burn(const char *secret);

/* A failed authentication naming (tenant, client_id): counted apart from
 * the client's own rate limit, which it never touches; a flood (more than
 * 10 a second for one client) is logged once a minute. */
void sd_auth_failure(const char *tenant, const char *client_id);

/* Token bucket per (tenant, client_id). 0 when allowed; otherwise the
 * number of seconds after which a request would be (Retry-After). */
int64_t sd_rate_take(const char *tenant, const char *client_id, double rate, unsigned burst);

#endif
