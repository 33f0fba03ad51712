/* libsignet: validation of signet (RFC 9068) JWT access tokens by relying
 * parties. Every rule is on by default; a successful signet_verify() means
 * that all of them held. See docs/libsignet.md. */
#ifndef SIGNET_VERIFY_H
#define SIGNET_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles. A config is a builder used once by signet_verifier_new();
 * a verifier is immutable after creation except for its key caches and
 * counters, and may be shared by any number of threads. */
typedef struct signet_verifier_config signet_verifier_config;
typedef struct signet_verifier signet_verifier;
typedef struct signet_claims signet_claims;

/* The library version, e.g. "0.1.0". */
SIGNET_API const char *signet_version(void);
/* Frees memory returned by libsignet (signet_claims_to_json, ...). NULL ok. */
SIGNET_API void signet_free(void *p);

/* ---- configuration --------------------------------------------------- */

/* Seconds since the epoch; an injectable time source (tests, `--now`). */
typedef int64_t (*signet_clock_fn)(void *ctx);

/* One structured event per verify decision. Strings may be NULL; on a
 * rejection, issuer, kid and jti come from the unverified token and are
 * only fit for logging. Never contains the token itself. Pointers are valid
 * during the callback only. */
typedef struct signet_event {
    size_t size;            /* sizeof(signet_event) of the library */
    signet_err result;      /* SIGNET_OK or the rejection reason */
    const char *reason;     /* a short sentence (never NULL) */
    const char *issuer;
    const char *kid;
    const char *thumbprint; /* RFC 7638 thumbprint of the key, when one was selected */
    const char *jti;
    const char *alg;
    int from_cache;         /* 1 when answered by the verified-token cache */
} signet_event;
typedef void (*signet_event_fn)(const signet_event *ev, void *ctx);

SIGNET_API SIGNET_WUR signet_err signet_verifier_config_new(signet_verifier_config **out)
    SIGNET_NONNULL(1);
SIGNET_API void signet_verifier_config_free(signet_verifier_config *cfg);

/* Trusted issuers. `issuer` is compared byte for byte with the token's iss.
 * Each issuer has its own key set; keys never serve another issuer. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_add_issuer_jwks_url(
    signet_verifier_config *cfg, const char *issuer, const char *jwks_url) SIGNET_NONNULL(1, 2, 3);
/* discovery_url NULL: <issuer>/.well-known/openid-configuration, falling back
 * to <issuer>/.well-known/oauth-authorization-server. The document's
 * "issuer" must equal `issuer` exactly (SIGNET_ERR_DISCOVERY_MISMATCH). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_add_issuer_discovery(
    signet_verifier_config *cfg, const char *issuer, const char *discovery_url)
    SIGNET_NONNULL(1, 2);
/* A JWKS file, re-read on every refresh (so a rotated file is picked up). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_add_issuer_jwks_file(
    signet_verifier_config *cfg, const char *issuer, const char *path) SIGNET_NONNULL(1, 2, 3);
/* A fixed JWKS given as JSON text (copied). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_add_issuer_jwks_json(
    signet_verifier_config *cfg, const char *issuer, const char *json, size_t len)
    SIGNET_NONNULL(1, 2, 3);

/* At least one accepted audience is required. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_add_audience(signet_verifier_config *cfg,
                                                                     const char *audience)
    SIGNET_NONNULL(1, 2);

/* Algorithms: "ES256", "EdDSA" and "Ed25519" (RFC 9864) are allowed by
 * default; "ES384", "ES512", "PS256", "PS384", "PS512" are opt-in. "none", HS* and RS* can never be
 * allowed (SIGNET_ERR_UNSUPPORTED). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_allow_alg(signet_verifier_config *cfg,
                                                                  const char *alg)
    SIGNET_NONNULL(1, 2);
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_disallow_alg(signet_verifier_config *cfg,
                                                                     const char *alg)
    SIGNET_NONNULL(1, 2);

/* Clock skew tolerance in seconds, 0..600 (default 60). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_skew(signet_verifier_config *cfg,
                                                                 int64_t seconds)
    SIGNET_NONNULL(1);
/* Maximum exp - iat in seconds, 1..31 days (default 86400). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_max_lifetime(
    signet_verifier_config *cfg, int64_t seconds) SIGNET_NONNULL(1);
/* Required typ (default "at+jwt"; "application/at+jwt" is accepted too,
 * compared case-insensitively, RFC 7515 §4.1.9). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_typ(signet_verifier_config *cfg,
                                                                const char *typ)
    SIGNET_NONNULL(1, 2);
/* Time source for every time decision (token and key windows, caches). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_clock(signet_verifier_config *cfg,
                                                                  signet_clock_fn fn, void *ctx)
    SIGNET_NONNULL(1, 2);
/* Require every key to carry the signet members iss and active_from
 * (SIGNET_ERR_KEY_METADATA_REQUIRED otherwise). Default off. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_require_key_metadata(
    signet_verifier_config *cfg, int on) SIGNET_NONNULL(1);

/* JWKS cache. Cache-Control max-age is clamped to [min_s, max_s]
 * (default 60 s .. 86400 s; 300 s without max-age). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_cache_bounds(
    signet_verifier_config *cfg, int64_t min_s, int64_t max_s) SIGNET_NONNULL(1);
/* An unknown kid, a key-window refusal of an authentic token (a cached set
 * older than a key change) and a new key's first signature each trigger a
 * refresh, at most one per cooldown between them (default 30 s). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_refresh_cooldown(
    signet_verifier_config *cfg, int64_t seconds) SIGNET_NONNULL(1);
/* How long past its expiry the last good key set may still be used while
 * it is refetched or the issuer is unreachable (default 3600 s); then
 * SIGNET_ERR_JWKS_UNAVAILABLE. Within it, verification never waits for a
 * fetch (stale-while-revalidate) unless the token's kid is unknown. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_stale_max(signet_verifier_config *cfg,
                                                                      int64_t seconds)
    SIGNET_NONNULL(1);
/* HTTP fetch limits: total timeout in ms (default 10000) and body cap in
 * bytes (default 262144). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_fetch_limits(
    signet_verifier_config *cfg, long timeout_ms, size_t max_bytes) SIGNET_NONNULL(1);
/* Background refresh thread (default on): refreshes ahead of expiry, and
 * revalidates an expired set while verifications use it. Off: refreshes
 * happen on the calling thread when a set expires (one thread fetches, the
 * others use the stale set meanwhile) or a kid is unknown. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_background_refresh(
    signet_verifier_config *cfg, int on) SIGNET_NONNULL(1);
/* Telemetry: called once per verify decision, on the verifying thread. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_event_callback(
    signet_verifier_config *cfg, signet_event_fn fn, void *ctx) SIGNET_NONNULL(1);
/* Opt-in verified-token cache of at most max_entries tokens (0 = off, the
 * default). Keyed by SHA-256 of the exact token bytes; an entry never
 * outlives the token's exp, and its key must still be in the issuer's
 * current key set on every hit. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_token_cache(
    signet_verifier_config *cfg, size_t max_entries) SIGNET_NONNULL(1);

/* ---- DPoP (RFC 9449) -------------------------------------------------- */

/* Proof algorithms, a comma-separated list of JOSE names (default
 * "ES256,EdDSA,Ed25519,PS256"; also ES384, ES512, PS384, PS512). "none", HS* and
 * RS* are refused (SIGNET_ERR_UNSUPPORTED). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_dpop_algs(
    signet_verifier_config *cfg, const char *csv) SIGNET_NONNULL(1, 2);
/* Proof iat window: [now - max_age, now + skew] with the token skew
 * (set_skew); max_age 1..3600, default 300. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_dpop_window(
    signet_verifier_config *cfg, int64_t max_age) SIGNET_NONNULL(1);
/* jti replay cache of at most max_entries live proofs (default 65536;
 * 0 = off). Entries live for the iat window; when it is full of live
 * entries a new proof is refused (SIGNET_ERR_BUSY), never let in. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_dpop_replay_cache(
    signet_verifier_config *cfg, size_t max_entries) SIGNET_NONNULL(1);
/* Resource-server nonces from the built-in stateless source: an HMAC over
 * time steps of step_s seconds (10..3600; a nonce is valid for its step and
 * the next). key32 NULL: a random key per verifier; otherwise the caller's
 * 32-byte key (copied), to share nonces between resource-server instances.
 * With nonces on, a proof without a valid nonce is SIGNET_ERR_DPOP_NONCE. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_dpop_nonce_key(
    signet_verifier_config *cfg, const uint8_t *key32, int64_t step_s) SIGNET_NONNULL(1);
/* ... or the caller's own nonce check: returns 1 when the proof's nonce is
 * acceptable (nonce is NULL when the proof has none). fn NULL: off. */
typedef int (*signet_dpop_nonce_fn)(const char *nonce, void *ctx);
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_set_dpop_nonce_fn(
    signet_verifier_config *cfg, signet_dpop_nonce_fn fn, void *ctx) SIGNET_NONNULL(1);
/* DPoP verification fails closed (SIGNET_ERR_DPOP_UNPROTECTED) when the
 * verifier has neither a replay cache nor nonces; on = 1 accepts that
 * explicitly (e.g. a one-shot command-line check). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_allow_dpop_unprotected(
    signet_verifier_config *cfg, int on) SIGNET_NONNULL(1);

/* ---- step-up authentication (RFC 9470) ------------------------------- */

/* Requirements on the authentication event behind a token. Like audiences
 * and algorithms they are verifier policy, fixed at signet_verifier_new
 * (a resource server whose resources need different levels uses one
 * verifier per level). When set, a token that passed every other rule is
 * refused with SIGNET_ERR_INSUFFICIENT_USER_AUTH unless:
 *   - its "acr" claim equals one of acr_values (exact, byte for byte; a
 *     token without acr fails the same way), and
 *   - its "auth_time" claim is present and now - auth_time <= max_age +
 *     skew (set_skew).
 * An acr or auth_time of the wrong type, or an auth_time after now + skew,
 * is SIGNET_ERR_BAD_CLAIM. signet_stepup_challenge() gives the
 * WWW-Authenticate value that asks the client to step up. */

/* 1..16 acceptable acr values, in order of preference (the challenge lists
 * them in this order), each 1..255 bytes of visible ASCII (no space: the
 * challenge's acr_values is space-separated). Copied; a second call
 * replaces the list. SIGNET_ERR_INVALID_ARG otherwise. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_require_acr(
    signet_verifier_config *cfg, const char *const *acr_values, size_t n) SIGNET_NONNULL(1, 2);
/* Maximum authentication age in seconds, 0..31622400 (366 days). Default:
 * none (auth_time is not looked at). */
SIGNET_API SIGNET_WUR signet_err signet_verifier_config_require_max_age(
    signet_verifier_config *cfg, int64_t seconds) SIGNET_NONNULL(1);

/* ---- verifier -------------------------------------------------------- */

/* Copies what it needs from cfg (which may be freed afterwards). Static
 * JWKS (file, JSON) are loaded now and must be valid; remote sets are
 * fetched by the background thread or on first use. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_new(const signet_verifier_config *cfg,
                                                     signet_verifier **out)
    SIGNET_NONNULL(1, 2);
/* Stops the refresh thread and frees everything. NULL ok. */
SIGNET_API void signet_verifier_free(signet_verifier *v);
/* Refreshes every issuer's key set now (synchronously), ignoring cache
 * lifetimes and cooldowns. Returns the first error; a failure never
 * replaces a good set. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_refresh(signet_verifier *v) SIGNET_NONNULL(1);
/* Number of verify decisions with this result since creation. */
SIGNET_API uint64_t signet_verifier_count(const signet_verifier *v, signet_err result)
    SIGNET_NONNULL(1);

/* Per-call options; NULL means none. Set size = sizeof(signet_verify_opts)
 * (SIGNET_VERIFY_OPTS_INIT); members beyond `size` are treated as unset, so
 * new members can be appended without breaking callers.
 *
 * DPoP (RFC 9449, docs/libsignet.md "DPoP"): the request members describe
 * the HTTP request the token came with. A token bound to a key (cnf.jkt) is
 * accepted only with scheme "DPoP" and a valid proof by that key for this
 * method and URL; an unbound token only with scheme "Bearer" (NULL) and no
 * proof. Every failure is a SIGNET_ERR_DPOP* code. */
typedef struct signet_verify_opts {
    size_t size;
    const char *http_method; /* DPoP htm: the request method, e.g. "GET" */
    const char *http_url;    /* DPoP htu: the URL this server serves the request
                                at (from its own configuration, never Host);
                                query and fragment are ignored */
    const char *dpop_proof;  /* the request's one DPoP header value, or NULL */
    uint32_t flags;          /* must be 0 */
    const char *scheme;      /* the Authorization scheme presented: "Bearer"
                                (NULL means Bearer) or "DPoP", case-insensitive */
} signet_verify_opts;
#define SIGNET_VERIFY_OPTS_INIT {sizeof(signet_verify_opts), NULL, NULL, NULL, 0, NULL}

/* Verifies a compact JWS access token of len bytes. On SIGNET_OK, *out
 * holds the verified claims (free with signet_claims_free); on any error
 * *out is NULL. */
SIGNET_API SIGNET_WUR signet_err signet_verify(signet_verifier *v, const char *token, size_t len,
                                               const signet_verify_opts *opts,
                                               signet_claims **out) SIGNET_NONNULL(1, 2, 5);

/* A fresh nonce from the built-in source, for the DPoP-Nonce response
 * header (RFC 9449 §9). SIGNET_ERR_CONFIG when the verifier has no built-in
 * nonce source; SIGNET_ERR_TOO_LARGE when cap < 64. */
SIGNET_API SIGNET_WUR signet_err signet_verifier_dpop_nonce(signet_verifier *v, char *buf,
                                                            size_t cap) SIGNET_NONNULL(1, 2);

/* Strict Authorization header value parsing: exactly `scheme SP token68`
 * (one space, no leading or trailing whitespace, no parameters), scheme
 * "Bearer" or "DPoP" (case-insensitive), token68 = 1*( ALPHA / DIGIT /
 * "-" / "." / "_" / "~" / "+" / "/" ) *"=". The outputs point into value.
 * Errors: SIGNET_ERR_MALFORMED, SIGNET_ERR_UNSUPPORTED (another scheme),
 * SIGNET_ERR_TOO_LARGE (over 16384 bytes). */
SIGNET_API SIGNET_WUR signet_err signet_parse_authorization(const char *value, size_t len,
                                                            const char **scheme,
                                                            size_t *scheme_len,
                                                            const char **token, size_t *token_len)
    SIGNET_NONNULL(1, 3, 4, 5, 6);
/* The WWW-Authenticate value for a rejected request (RFC 9449 §7.1, RFC 6750
 * §3): `DPoP error="use_dpop_nonce"` for SIGNET_ERR_DPOP_NONCE,
 * `DPoP error="invalid_dpop_proof"` for the other proof errors,
 * `DPoP error="invalid_token"` for a token error, `DPoP` alone for
 * SIGNET_OK (no credentials presented), each followed by
 * `, algs="ES256 PS256 EdDSA Ed25519"` (the verifier's proof algorithms). With
 * SIGNET_ERR_DPOP_NONCE the caller also sends a DPoP-Nonce header
 * (signet_verifier_dpop_nonce). SIGNET_ERR_TOO_LARGE when cap is short. */
SIGNET_API SIGNET_WUR signet_err signet_dpop_challenge(const signet_verifier *v, signet_err err,
                                                       char *buf, size_t cap)
    SIGNET_NONNULL(1, 3);

/* The WWW-Authenticate value asking the client to step up, for a token
 * refused with SIGNET_ERR_INSUFFICIENT_USER_AUTH (RFC 9470 §3), e.g.
 *   Bearer error="insufficient_user_authentication",
 *   error_description="A different authentication level is required",
 *   acr_values="urn:signet:acr:phr urn:signet:acr:mfa"
 * (one line) for an acr requirement; with a max age it has max_age="300"
 * (and "More recent authentication is required", or both sentences joined
 * by "or" when both are required). Values are quoted (RFC 9110 §5.6.4). scheme is the Authorization scheme
 * the token came with: NULL or "Bearer", or "DPoP" (case-insensitive; then
 * the challenge is a DPoP one and ends with `, algs="..."` as in
 * signet_dpop_challenge). Errors: SIGNET_ERR_CONFIG when the verifier has
 * no step-up requirement, SIGNET_ERR_INVALID_ARG for another scheme,
 * SIGNET_ERR_TOO_LARGE when cap is short (buf is then ""). */
SIGNET_API SIGNET_WUR signet_err signet_stepup_challenge(const signet_verifier *v,
                                                         const char *scheme, char *buf,
                                                         size_t cap) SIGNET_NONNULL(1, 3);

/* ---- verified claims ------------------------------------------------- */

SIGNET_API void signet_claims_free(signet_claims *c);
/* The token's issuer, the kid and RFC 7638 thumbprint of the key that
 * verified it, and its alg. Owned by c. */
SIGNET_API const char *signet_claims_issuer(const signet_claims *c) SIGNET_NONNULL(1);
SIGNET_API const char *signet_claims_kid(const signet_claims *c) SIGNET_NONNULL(1);
SIGNET_API const char *signet_claims_thumbprint(const signet_claims *c) SIGNET_NONNULL(1);
SIGNET_API const char *signet_claims_alg(const signet_claims *c) SIGNET_NONNULL(1);
/* Typed getters: SIGNET_ERR_NOT_FOUND when absent, SIGNET_ERR_BAD_CLAIM on
 * the wrong type. Strings are owned by c. */
SIGNET_API SIGNET_WUR signet_err signet_claims_get_string(const signet_claims *c, const char *name,
                                                          const char **out)
    SIGNET_NONNULL(1, 2, 3);
/* An integer (a JSON number with no fractional part). */
SIGNET_API SIGNET_WUR signet_err signet_claims_get_int(const signet_claims *c, const char *name,
                                                       int64_t *out) SIGNET_NONNULL(1, 2, 3);
/* Arrays of strings; a single string counts as an array of one (RFC 7519
 * aud). get_string_array_count fails unless every element is a string. */
SIGNET_API SIGNET_WUR signet_err signet_claims_get_string_array_count(const signet_claims *c,
                                                                      const char *name,
                                                                      size_t *count)
    SIGNET_NONNULL(1, 2, 3);
SIGNET_API SIGNET_WUR signet_err signet_claims_get_string_array_item(const signet_claims *c,
                                                                     const char *name, size_t i,
                                                                     const char **out)
    SIGNET_NONNULL(1, 2, 4);
/* A claim (name != NULL) or all claims (name == NULL) as compact JSON text;
 * free with signet_free. */
SIGNET_API SIGNET_WUR signet_err signet_claims_get_json(const signet_claims *c, const char *name,
                                                        char **out) SIGNET_NONNULL(1, 3);

#ifdef __cplusplus
}
#endif
#endif /* SIGNET_VERIFY_H */
