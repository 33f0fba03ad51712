/* DPoP (RFC 9449) at the token endpoint: the key of the stateless server
 * nonces (nonce.c). The proof checks are lib/dpop.h's (sg_dpop_check); the
 * order they run in, the replay cache and the client policy are token.c's. */
#ifndef SD_NONCE_H
#define SD_NONCE_H

#include <stdint.h>

#include "dpop.h"
#include "signet/error.h"

/* A nonce is valid for the step it was made in and the next one: 60 to
 * 120 s (every success carries a fresh one). */
#define SD_DPOP_NONCE_STEP 60
/* Unexpired proof keys a tenant's replay cache holds at most; past it,
 * DPoP requests get 503 (a replay is never let in to make room). */
#define SD_DPOP_REPLAY_MAX 200000

/* Reads <state>/front/dpop.key, once, before the sandbox; creates it
 * (0600, the front end's account) when an earlier layout has none. */
SIGNET_WUR signet_err sd_dpop_init(const char *state_dir);
void sd_dpop_shutdown(void);
/* A fresh nonce into out; "" when none can be made. */
void sd_dpop_nonce(int64_t now, char out[SG_DPOP_NONCE_MAX]);
/* 1 when nonce is one of ours for now (this step or the previous one). */
int sd_dpop_nonce_valid(int64_t now, const char *nonce);
/* The proof keys seen before (lib/dpop.h) and the fetched digests, for
 * sg_dpop_check; NULL / empty before sd_dpop_init. */
struct sg_dpop_keys *sd_dpop_keys(void);
/* HMAC-SHA-256 under a key derived from the same front-end key for label
 * alone (HMAC(key, "signet/" label)): the CSRF tokens of people's pages
 * (issue 13) use label "csrf". -1 before sd_dpop_init or on failure. */
int sd_front_mac(const char *label, const void *data, size_t n, uint8_t out[32]);
const struct sg_digests *sd_dpop_digests(void);

#endif
