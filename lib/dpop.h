/* DPoP (RFC 9449) proof checking, shared by libsignet's resource-server side
 * (lib/verifier.c) and signetd's token endpoint (linked through
 * signet_static). Nothing here keeps state: the replay cache and the nonce
 * policy belong to the caller, which owns them (a per-verifier cache in
 * libsignet, a persistent per-tenant one in signetd). */
#ifndef SG_DPOP_H
#define SG_DPOP_H

#include <stddef.h>
#include <stdint.h>

#include "alg.h"
#include "signet/error.h"
#include "util/thumbprint.h"

#define SG_DPOP_PROOF_MAX 8192u    /* whole compact proof */
#define SG_DPOP_JTI_MAX 256u       /* jti length, bytes */
#define SG_DPOP_NONCE_LEN_MAX 512u /* a proof's nonce claim, bytes */
#define SG_DPOP_URL_MAX 2048u      /* htu and the expected URL, bytes */
#define SG_DPOP_MAX_AGE 300        /* default: iat >= now - 300 */
/* Default proof algorithms (RFC 9449 §5.1's dpop_signing_alg_values_supported). */
#define SG_DPOP_DEFAULT_ALGS                                                                  \
    (SG_ALG_BIT(SG_ALG_ES256) | SG_ALG_BIT(SG_ALG_EDDSA) | SG_ALG_BIT(SG_ALG_ED25519) |       \
     SG_ALG_BIT(SG_ALG_PS256))

/* What the server expects of a proof. */
struct sg_dpop_expect {
    const char *method;      /* htm must equal it exactly (case-sensitive) */
    const char *url;         /* the server's own URL for the request (from its
                                configured issuer / base URL, never Host); compared
                                with htu after RFC 3986 syntax- and scheme-based
                                normalisation, query and fragment ignored */
    int64_t now;
    int64_t max_age;         /* iat >= now - max_age (300) */
    int64_t skew;            /* iat <= now + skew */
    const char *const *algs; /* NULL: ES256, EdDSA, PS256 */
    size_t n_algs;
    const char *access_token; /* non-NULL: ath required = b64url(SHA-256(token));
                                 NULL: ath must be absent (token endpoint) */
    size_t access_token_len;
    struct sg_dpop_keys *keys;      /* NULL: every proof key imported afresh */
    const struct sg_digests *mds;   /* NULL: digests fetched implicitly */
};

/* What a valid proof says (owned strings freed by sg_dpop_proof_clear). */
struct sg_dpop_proof {
    char jkt[SG_THUMBPRINT_LEN + 1]; /* RFC 7638 SHA-256 thumbprint of header jwk, b64url */
    char *jti;
    char *nonce; /* NULL when absent */
    int64_t iat;
    char alg[8];
    /* SHA-256(jti || 0x00 || normalised htu): the replay-cache key (the
     * jti alone is client-chosen; binding it to the URL keeps one client's
     * jti space per resource, RFC 9449 §11.1). */
    uint8_t replay_key[32];
};

/* Checks every RFC 9449 §4.3 rule but nonce and replay (the caller's: it owns
 * the nonce source and the replay cache). On failure *why is a static
 * sentence naming the check ("typ must be dpop+jwt", "htu does not match the
 * request URL", ...) and the result is SIGNET_ERR_DPOP (or SIGNET_ERR_NOMEM /
 * SIGNET_ERR_INVALID_ARG for the caller's own mistakes). `out` is always
 * initialised; clear it whatever the result. */
SIGNET_WUR signet_err sg_dpop_check(const char *proof, size_t len,
                                    const struct sg_dpop_expect *e, struct sg_dpop_proof *out,
                                    const char **why);
void sg_dpop_proof_clear(struct sg_dpop_proof *p);

/* RFC 3986 §6.2.2/§6.2.3 normalised scheme://host[:port]/path (no query, no
 * fragment): scheme and host lower-cased, default port (80/443) and an empty
 * port removed, percent-encoding hex upper-cased, unreserved characters
 * percent-decoded, dot segments removed, an empty path made "/". Only http
 * and https; userinfo, a missing host, control characters, spaces and
 * invalid percent-encoding are refused (SIGNET_ERR_MALFORMED). SIGNET_ERR_TOO_LARGE
 * when the result does not fit cap bytes with its NUL. */
SIGNET_WUR signet_err sg_dpop_htu_normalise(const char *url, char *out, size_t cap);

/* Stateless nonces: b64url(step || HMAC-SHA-256(key, "signet-dpop-nonce" || step)),
 * step = now / step_s as 8 big-endian bytes; valid for the current and the
 * previous step (and never for a future one). Compared in constant time. */
#define SG_DPOP_NONCE_MAX 64
SIGNET_WUR signet_err sg_dpop_nonce_make(const uint8_t key[32], int64_t now, int64_t step_s,
                                         char out[SG_DPOP_NONCE_MAX]);
int sg_dpop_nonce_valid(const uint8_t key[32], int64_t now, int64_t step_s, const char *nonce);

/* The value of an `ath` claim for an access token: b64url(SHA-256(token)). */
SIGNET_WUR signet_err sg_dpop_ath(const char *token, size_t len,
                                  char out[SG_THUMBPRINT_LEN + 1]);

/* ---- the per-verifier jti replay cache (libsignet) ---------------------- */

/* Bounded, thread-safe set of replay keys, each kept until its expiry
 * (the proof's iat + max_age + skew). When full, an expired entry is
 * reused; with none expired the insert fails closed (SIGNET_ERR_BUSY): a
 * flood of fresh proofs is refused rather than let a replay in. */
struct sg_dpop_replay;
#define SG_DPOP_REPLAY_MAX (1u << 24)
SIGNET_WUR signet_err sg_dpop_replay_new(size_t max_entries, struct sg_dpop_replay **out);
void sg_dpop_replay_free(struct sg_dpop_replay *r);
/* SIGNET_OK: first sight, recorded until `expires`. SIGNET_ERR_DPOP_REPLAY:
 * seen before and not expired. SIGNET_ERR_BUSY: full of live entries. */
SIGNET_WUR signet_err sg_dpop_replay_check(struct sg_dpop_replay *r, const uint8_t key[32],
                                           int64_t now, int64_t expires);

/* ---- proof keys seen before --------------------------------------------- */

/* A client signs every proof with the same key: importing it (base64url,
 * EVP_PKEY_fromdata, the point-on-curve check) and setting up a
 * verification context cost about as much as the proof's signature check.
 * This bounded, thread-safe cache keeps imported proof keys by RFC 7638
 * thumbprint, for a jwk made of the thumbprint's members only (kty and
 * crv, x, y / n, e): such a jwk names exactly one key, the one cached, so
 * a hit decides what an import would. A jwk with any other member (alg,
 * use, key_ops, kid, ...) is imported afresh and never cached. Direct
 * mapped: a new key replaces the one in its slot (a flood of fresh keys
 * costs what an uncached import costs, never more memory). */
struct sg_dpop_keys;
struct sg_digests;
#define SG_DPOP_KEYS_DEFAULT 512u
SIGNET_WUR signet_err sg_dpop_keys_new(size_t slots, struct sg_dpop_keys **out);
void sg_dpop_keys_free(struct sg_dpop_keys *k); /* NULL ok */
/* Proofs whose key came from the cache. */
unsigned long sg_dpop_keys_hits(struct sg_dpop_keys *k);

/* ---- helpers shared with signetd and the CLI --------------------------- */

/* Strict Authorization value: `scheme SP token68` (RFC 7235 §2.1, RFC 9449
 * §7.1). See signet_parse_authorization. */
SIGNET_WUR signet_err sg_parse_authorization(const char *value, size_t len, const char **scheme,
                                             size_t *scheme_len, const char **token,
                                             size_t *token_len);

#endif
