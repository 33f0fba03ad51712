/* POST /t/<tenant>/token: the client_credentials grant (RFC 6749 §4.4)
 * with client_secret_basic / client_secret_post (HMAC-SHA-256 under a
 * pepper, auth.c; legacy argon2id hashes on a bounded pool) or
 * private_key_jwt (RFC 7523); for people (issue 13, grants.c) the
 * authorization_code and refresh_token grants, also for public clients
 * (no authentication), with an ID token (typ JWT) signed after the access
 * token; scopes (RFC 6749 §3.3), resource indicators
 * (RFC 8707), and RFC 9068 access tokens signed by the signer, bound to
 * the client's key with DPoP (RFC 9449) when it sends a proof. A failed
 * request leaves nothing behind: no signature, no audit record of one, no
 * replay-cache entry unless the assertion itself was valid, and no DPoP
 * replay entry unless every other check passed. */
#include "signetd/token.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/oauth_req.h"
#include "json.h"
#include "signetd/auth.h"
#include "signetd/ctx.h"
#include "signetd/dummy_jwks.h"
#include "signetd/grants.h"
#include "signetd/meta.h"
#include "signetd/nonce.h"
#include "signetd/pool.h"
#include "signetd/replay.h"
#include "signetd/telemetry.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"

static void fail(struct sd_resp *r, enum sg_oauth_error e, const char *why, int basic_tried,
                 const struct sg_tenant_cfg *t)
{
    unsigned status = 400;
    if (e == SG_OAUTH_INVALID_CLIENT) {
        /* RFC 6749 §5.2: 401 with a challenge for the scheme the client
         * may use (RFC 7235 requires one on every 401). */
        status = 401;
        (void)snprintf(r->www_auth, sizeof r->www_auth, "Basic realm=\"%s\", charset=\"UTF-8\"",
                       t != NULL ? t->issuer : "signet");
        (void)basic_tried;
    } else if (e == SG_OAUTH_TEMPORARILY_UNAVAILABLE) {
        status = 503;
        r->retry_after = 1;
    } else if (e == SG_OAUTH_SERVER_ERROR) {
        status = 500;
    }
    sd_resp_oauth_error(r, status, sg_oauth_error_code(e), why);
}

/* The jti the signer minted into token (RFC 9068 §2.2), for the log; "-"
 * when it cannot be read. The front end sends no jti: the signer refuses
 * one, so no front end, compromised or not, can choose or repeat it. */
static void jti_of(const char *token, char *out, size_t cap)
{
    (void)snprintf(out, cap, "-");
    const char *p = token != NULL ? strchr(token, '.') : NULL;
    const char *q = p != NULL ? strchr(p + 1, '.') : NULL;
    if (q == NULL)
        return;
    uint8_t raw[SG_IPC_MAX_CLAIMS + 64];
    size_t n = 0;
    json_t *o = NULL;
    if (sg_b64url_decode(p + 1, (size_t)(q - p - 1), raw, sizeof raw, &n) != SIGNET_OK ||
        sg_json_parse(raw, n, sizeof raw, &o) != SIGNET_OK)
        return;
    const char *j = json_string_value(json_object_get(o, "jti"));
    if (j != NULL && strlen(j) < cap)
        (void)snprintf(out, cap, "%s", j);
    json_decref(o);
}

/* Picks the audiences: the requested ones, each allowed, else the default
 * (the first registered audience). */
static enum sg_oauth_error pick_audiences(const struct sg_token_req *req,
                                          const struct sg_client *cl, json_t **aud,
                                          char *why, size_t whylen)
{
    if (req->n_resources == 0) {
        const char *a = cl->audiences;
        size_t n = strcspn(a, " ");
        if (n == 0) {
            (void)snprintf(why, whylen, "the client has no audience registered");
            return SG_OAUTH_INVALID_TARGET;
        }
        *aud = json_stringn(a, n);
        return *aud != NULL ? SG_OAUTH_OK : SG_OAUTH_SERVER_ERROR;
    }
    json_t *arr = json_array();
    if (arr == NULL)
        return SG_OAUTH_SERVER_ERROR;
    for (size_t i = 0; i < req->n_resources; i++) {
        if (!sg_list_contains(cl->audiences, req->resources[i])) {
            (void)snprintf(why, whylen, "the client may not request a token for '%.200s'",
                           req->resources[i]);
            json_decref(arr);
            return SG_OAUTH_INVALID_TARGET;
        }
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(req->resources[i], req->resources[j]) == 0;
        if (!dup && json_array_append_new(arr, json_string(req->resources[i])) != 0) {
            json_decref(arr);
            return SG_OAUTH_SERVER_ERROR;
        }
    }
    if (json_array_size(arr) == 1) {
        *aud = json_incref(json_array_get(arr, 0));
        json_decref(arr);
    } else {
        *aud = arr;
    }
    return SG_OAUTH_OK;
}

/* A legacy argon2id hash that just verified is replaced by the current
 * form (auth.c): the client never costs an argon2id run again. */
static void upgrade_hash(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                         const struct sg_client *cl, const char *secret)
{
    char fresh[128];
    if (sd_secret_rehash(secret, fresh, sizeof fresh) != 0)
        return;
    pthread_mutex_lock(&c->store_lock);
    signet_err err =
        sg_store_client_rehash(c->store, t->name, cl->client_id, cl->secret_hash, fresh);
    pthread_mutex_unlock(&c->store_lock);
    sg_log(err == SIGNET_OK ? SG_LOG_INFO : SG_LOG_WARN, "client_secret_rehashed",
           "tenant=%s client=%s from=argon2id to=hmac-sha256 result=%s", t->name, cl->client_id,
           signet_err_name(err));
}


/* draft-ietf-oauth-rfc7523bis: the audience is the issuer identifier. */
static struct sg_assertion_policy assertion_policy(const struct sg_config *cfg,
                                                   const struct sg_tenant_cfg *t,
                                                   const struct sg_token_req *req)
{
    return (struct sg_assertion_policy){
        .client_id = req->client_id,
        .issuer = t->issuer,
        .now = sg_clock_now(),
        .skew = cfg->clock_skew,
        .max_ahead = cfg->server.assertion_max_age,
    };
}

static void assertion_burn(const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                           const struct sg_token_req *req)
{
    if (req->assertion == NULL)
        return;
    struct sg_assertion_policy pol = assertion_policy(cfg, t, req);
    for (size_t i = 0; i < sizeof sd_dummy_jwks / sizeof sd_dummy_jwks[0]; i++) {
        struct sg_assertion_info info;
        const char *reason = NULL;
        signet_err err = sg_assertion_verify(req->assertion, strlen(req->assertion),
                                             sd_dummy_jwks[i], &pol, &info, &reason);
        (void)err; /* never OK: nobody holds these keys' private halves */
    }
}

static enum sg_oauth_error authenticate(struct sd_ctx *c, const struct sg_config *cfg,
                                        const struct sg_tenant_cfg *t,
                                        const struct sg_token_req *req,
                                        const struct sg_client *cl, char *why, size_t whylen)
{
    /* A public client (RFC 6749 §2.1) has nothing to authenticate with,
     * and a confidential one may not go without (§3.2.1). */
    if (req->auth == SG_AUTH_NONE) {
        if (cl->auth == SG_CLIENT_NONE)
            return SG_OAUTH_OK;
        (void)snprintf(why, whylen, "this client is confidential: it must authenticate");
        return SG_OAUTH_INVALID_CLIENT;
    }
    if (req->auth == SG_AUTH_ASSERTION) {
        if (cl->auth != SG_CLIENT_PRIVATE_KEY_JWT || cl->jwk == NULL) {
            assertion_burn(cfg, t, req); /* what a wrong assertion costs */
            (void)snprintf(why, whylen, cl->auth == SG_CLIENT_NONE
                                            ? "this client is public: it has no key"
                                            : "this client authenticates with a client "
                                              "secret, not private_key_jwt");
            return SG_OAUTH_INVALID_CLIENT;
        }
        struct sg_assertion_policy pol = assertion_policy(cfg, t, req);
        struct sg_assertion_info info;
        const char *reason = NULL;
        signet_err err = sg_assertion_verify(req->assertion, strlen(req->assertion), cl->jwk, &pol,
                                             &info, &reason);
        if (err != SIGNET_OK) {
            (void)snprintf(why, whylen, "%s", reason != NULL ? reason : "invalid client_assertion");
            return SG_OAUTH_INVALID_CLIENT;
        }
        /* Only a valid assertion reaches the replay cache; it stays there
         * until the assertion could no longer be accepted anyway. */
        pthread_mutex_lock(&c->replay_lock);
        err = sg_store_jti_use(c->replay, t->name, req->client_id, info.jti,
                               info.exp + cfg->clock_skew + 1, pol.now);
        pthread_mutex_unlock(&c->replay_lock);
        if (err == SIGNET_ERR_EXISTS) {
            (void)snprintf(why, whylen, "client_assertion jti was already used (replay)");
            return SG_OAUTH_INVALID_CLIENT;
        }
        if (err != SIGNET_OK) {
            (void)snprintf(why, whylen, "the replay cache is unavailable");
            return SG_OAUTH_TEMPORARILY_UNAVAILABLE;
        }
        return SG_OAUTH_OK;
    }
    if (cl->auth != SG_CLIENT_SECRET || cl->secret_hash == NULL) {
        sd_secret_burn(req->secret); /* what a wrong secret costs */
        (void)snprintf(why, whylen, cl->auth == SG_CLIENT_NONE
                                        ? "this client is public: it has no secret"
                                        : "this client authenticates with private_key_jwt");
        return SG_OAUTH_INVALID_CLIENT;
    }
    int v = sd_secret_verify(t->name, req->client_id, req->secret, cl->secret_hash);
    if (v == SD_SECRET_BUSY) {
        (void)snprintf(why, whylen, "too many client authentications at once: retry later");
        return SG_OAUTH_TEMPORARILY_UNAVAILABLE;
    }
    if (v != SD_SECRET_OK) {
        (void)snprintf(why, whylen, "client authentication failed");
        return SG_OAUTH_INVALID_CLIENT;
    }
    if (strncmp(cl->secret_hash, "$argon2id$", 10) == 0)
        upgrade_hash(c, t, cl, req->secret);
    return SG_OAUTH_OK;
}

/* A token request waiting for its signature. */
struct pending {
    struct sd_ctx *c;
    sd_token_done done;
    void *user;
    uint64_t t0;
    int64_t lifetime;
    int basic_tried;
    char tenant[64];
    char client_id[130];
    char granted[SG_OAUTH_SCOPE_MAX + 1];
    int bound;            /* DPoP: token_type DPoP */
    char dpop_nonce[64];  /* a fresh DPoP-Nonce for the answer, or "" */
    char issuer[sizeof ((struct sg_tenant_cfg *)0)->issuer];
    char *text;           /* the claims sent, kept to send once more (restamp) */
    int restamped;
    /* A person's grant (grants.c): after the access token (stage 0), the
     * ID token (stage 1, typ JWT); then the refresh token is written. */
    struct sd_grant *grant;  /* NULL: client_credentials */
    json_t *id_claims;       /* the ID token's claims but iat, exp, at_hash; NULL: none */
    char id_alg[8];          /* the ID token's alg (at_hash depends on it) */
    int64_t id_lifetime;
    int stage;
    char *access_token;      /* signed, while the ID token is being signed */
};

static void signed_cb(void *user, signet_err err, signet_err status, char *token);

static void free_token(char **t)
{
    if (*t != NULL) {
        sg_wipe(*t, strlen(*t));
        free(*t);
        *t = NULL;
    }
}

static void pending_free(struct pending *pd)
{
    free(pd->text);
    json_decref(pd->id_claims);
    free_token(&pd->access_token);
    if (pd->grant != NULL) {
        sd_grant_clear(pd->grant);
        free(pd->grant);
    }
    free(pd);
}

/* Sends pd->text to a signer: the access token (typ at+jwt, the tenant's
 * default alg) or, at stage 1, the ID token (typ JWT, id_alg). */
static signet_err sign_send(struct pending *pd)
{
    pd->t0 = sg_clock_mono_ns();
    if (pd->stage == 0)
        return sd_pool_sign_async(&pd->c->pool, pd->issuer, pd->text, strlen(pd->text),
                                  signed_cb, pd);
    return sd_pool_sign_typ_async(&pd->c->pool, pd->issuer, pd->id_alg, "JWT", pd->text,
                                  strlen(pd->text), signed_cb, pd);
}

/* The signer refused the claims' iat as too old: the request waited longer
 * than the clock skew between being stamped here and being checked there
 * (a commit held up by a slow disk, a loaded machine; the signer reads no
 * request while it makes a batch durable). The signer stays strict; the
 * request is stamped again, with the same lifetime from now, and sent
 * once more. 0 when it went (signed_cb answers it again). */
static int restamp(struct pending *pd)
{
    if (pd->restamped || pd->text == NULL)
        return -1;
    pd->restamped = 1;
    /* Rare: the claims are parsed again from the text that was sent rather
     * than kept as a tree by every request. */
    json_t *claims = NULL;
    const size_t n = strlen(pd->text);
    if (sg_json_parse((const uint8_t *)pd->text, n, n, &claims) != SIGNET_OK)
        return -1;
    const int64_t now = sg_clock_now();
    const json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    const json_int_t t = (json_int_t)now;
    const json_int_t exp = t + (json_int_t)(pd->stage == 0 ? pd->lifetime : pd->id_lifetime);
    char *text = NULL;
    /* An ID token has no nbf (the signer's policy refuses one). */
    if (json_object_set_new(claims, "iat", json_integer(t)) == 0 &&
        (json_object_get(claims, "nbf") == NULL ||
         json_object_set_new(claims, "nbf", json_integer(t)) == 0) &&
        json_object_set_new(claims, "exp", json_integer(exp)) == 0)
        text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    if (text == NULL)
        return -1;
    free(pd->text);
    pd->text = text;
    sg_log(SG_LOG_WARN, "sign_restamped", "tenant=%s client=%s waited_s=%lld", pd->tenant,
           pd->client_id, (long long)(t - iat));
    return sign_send(pd) == SIGNET_OK ? 0 : -1;
}

/* Stage 1 of a person's grant: the access token (token, now pd's) is
 * signed; its at_hash (OIDC Core §3.1.3.6) goes into the ID token, which
 * is stamped now and sent. 0 when it went (signed_cb answers again). */
static int id_token_send(struct pending *pd, char *token)
{
    pd->access_token = token;
    char at_hash[96];
    if (sd_grant_at_hash(pd->id_alg, token, at_hash, sizeof at_hash) != 0)
        return -1;
    const json_int_t now = (json_int_t)sg_clock_now();
    if (json_object_set_new(pd->id_claims, "at_hash", json_string(at_hash)) != 0 ||
        json_object_set_new(pd->id_claims, "iat", json_integer(now)) != 0 ||
        json_object_set_new(pd->id_claims, "exp",
                            json_integer(now + (json_int_t)pd->id_lifetime)) != 0)
        return -1;
    char *text = json_dumps(pd->id_claims, JSON_COMPACT);
    if (text == NULL)
        return -1;
    free(pd->text);
    pd->text = text;
    pd->stage = 1;
    pd->restamped = 0;
    return sign_send(pd) == SIGNET_OK ? 0 : -1;
}

/* The success answer (RFC 6749 §5.1; OIDC Core §3.1.3.3 id_token). */
static char *response_body(const struct pending *pd, const char *access, const char *id_token)
{
    json_t *j = json_pack("{s:s, s:s, s:I}", "access_token", access, "token_type",
                          pd->bound ? "DPoP" : "Bearer", "expires_in", (json_int_t)pd->lifetime);
    if (j != NULL && pd->granted[0] != '\0' &&
        json_object_set_new(j, "scope", json_string(pd->granted)) != 0) {
        json_decref(j);
        j = NULL;
    }
    if (j != NULL && id_token != NULL &&
        json_object_set_new(j, "id_token", json_string(id_token)) != 0) {
        json_decref(j);
        j = NULL;
    }
    if (j != NULL && pd->grant != NULL && pd->grant->refresh_token[0] != '\0' &&
        json_object_set_new(j, "refresh_token", json_string(pd->grant->refresh_token)) != 0) {
        json_decref(j);
        j = NULL;
    }
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return body;
}

/* The signer's answer: the next signature, the token response, or fail
 * closed. Runs once per submitted request, on whichever thread completes
 * it. */
static void signed_cb(void *user, signet_err err, signet_err status, char *token)
{
    struct pending *pd = user;
    struct sd_ctx *c = pd->c;
    struct sd_resp resp;
    struct sd_resp *r = &resp;
    memset(r, 0, sizeof *r);
    (void)snprintf(r->client_id, sizeof r->client_id, "%s", pd->client_id);
    const char *result = "ok";
    char *id_token = NULL;
    if (err == SIGNET_OK && status == SIGNET_ERR_POLICY_TIME && token == NULL && restamp(pd) == 0)
        return;
    if (err == SIGNET_OK && status == SIGNET_OK)
        sd_tm_sign_latency(c, (double)(sg_clock_mono_ns() - pd->t0) / 1e9);
    if (err != SIGNET_OK || status != SIGNET_OK || token == NULL) {
        /* Fail closed: no signer, HSM or audit log, no token. */
        sg_log(SG_LOG_ERROR, "sign_failed", "tenant=%s client=%s token=%s error=%s", pd->tenant,
               pd->client_id, pd->stage == 0 ? "access" : "id",
               signet_err_name(err != SIGNET_OK ? err
                               : status != SIGNET_OK ? status
                                                     : SIGNET_ERR_BAD_FRAME));
        free_token(&token);
        fail(r, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the signing service is unavailable",
             pd->basic_tried, NULL);
        result = "temporarily_unavailable";
        goto out;
    }
    if (pd->stage == 0 && pd->id_claims != NULL) {
        if (id_token_send(pd, token) == 0)
            return;
        sg_log(SG_LOG_ERROR, "sign_failed", "tenant=%s client=%s token=id error=send",
               pd->tenant, pd->client_id);
        fail(r, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the signing service is unavailable",
             pd->basic_tried, NULL);
        result = "temporarily_unavailable";
        goto out; /* the access token, pd's now, is dropped with pd */
    }
    if (pd->stage == 1) {
        id_token = token;
        token = pd->access_token;
        pd->access_token = NULL;
    }
    if (pd->grant != NULL) {
        /* Both signatures exist: only now is the refresh token written
         * (or the presented one rotated); if that fails, nothing goes. */
        char why[200] = "";
        enum sg_oauth_error e = sd_grant_commit(c, pd->tenant, pd->grant, why, sizeof why);
        if (e != SG_OAUTH_OK) {
            free_token(&token);
            free_token(&id_token);
            fail(r, e, why, pd->basic_tried, NULL);
            result = sg_oauth_error_code(e);
            goto out;
        }
    }
    char jti[64];
    jti_of(token, jti, sizeof jti);
    char *body = response_body(pd, token, id_token);
    free_token(&token);
    free_token(&id_token);
    if (body == NULL) {
        fail(r, SG_OAUTH_SERVER_ERROR, "out of memory", pd->basic_tried, NULL);
        result = "server_error";
        goto out;
    }
    atomic_fetch_add(&c->tokens, 1u);
    if (pd->grant == NULL)
        sg_log(SG_LOG_INFO, "token_issued", "tenant=%s client=%s jti=%s lifetime=%lld dpop=%d",
               pd->tenant, pd->client_id, jti, (long long)pd->lifetime, pd->bound);
    else
        sg_log(SG_LOG_INFO, "token_issued",
               "tenant=%s client=%s grant=%s user=%s sid=%s jti=%s lifetime=%lld dpop=%d "
               "id_token=%d refresh=%s",
               pd->tenant, pd->client_id,
               pd->grant->type == SG_GRANT_TYPE_AUTHORIZATION_CODE ? "authorization_code"
                                                                   : "refresh_token",
               pd->grant->user_id, pd->grant->sid[0] != '\0' ? pd->grant->sid : "-", jti,
               (long long)pd->lifetime, pd->bound, pd->stage == 1,
               pd->grant->refresh_token[0] != '\0' ? pd->grant->family : "-");
    memcpy(r->dpop_nonce, pd->dpop_nonce, sizeof r->dpop_nonce);
    r->status = 200;
    r->body = body;
    r->len = strlen(body);
    r->content_type = "application/json";
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
out:
    sd_tm_token_result(c, pd->tenant, result);
    sd_token_done done = pd->done;
    void *done_user = pd->user;
    pending_free(pd);
    done(done_user, r);
}

/* ---- DPoP (RFC 9449) ------------------------------------------------------
 *
 * The order of the checks is what a failed proof costs:
 *   1. the proof itself (dpop_gate: one header, every §4.3 rule, the
 *      nonce), before client authentication: a wrong or nonce-less proof
 *      consumes nothing, not even a private_key_jwt assertion's jti, so the
 *      client retries with the same assertion and the nonce it was given;
 *   2. client authentication and its rate limit (client_gate);
 *   3. the client's policy (dpop_policy: required, allowed, forbidden),
 *      after authentication, so that it is told to no one else;
 *   4. the scopes and audiences (issue), then, last, the replay cache
 *      (dpop_replay): only a proof every other check accepted takes an
 *      entry, and a replayed one is refused there. */

static void dpop_fail(struct sd_resp *r, const struct sg_tenant_cfg *t, const char *code,
                      const char *why)
{
    sg_log(SG_LOG_WARN, "dpop_refused", "tenant=%s error=%s reason=\"%s\"", t->name, code, why);
    sd_resp_oauth_error(r, 400, code, why);
}

/* Step 1. 0 when the proof (dpop, the header's value) passed; otherwise r
 * holds the 400 invalid_dpop_proof or use_dpop_nonce answer. */
static int dpop_gate(const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                     const char *dpop, struct sg_dpop_proof *proof, struct sd_resp *r,
                     const char **result)
{
    *result = "invalid_dpop_proof";
    if (strchr(dpop, ',') != NULL) {
        /* A list in one header is several proofs (a JWS has no comma). */
        dpop_fail(r, t, "invalid_dpop_proof", "exactly one DPoP proof is allowed");
        return -1;
    }
    /* htu: the token endpoint as the configured issuer names it, never
     * the Host or X-Forwarded-* headers of the request. */
    char url[sizeof t->issuer + 16];
    if (sd_token_endpoint_url(t, url, sizeof url) != 0) {
        dpop_fail(r, t, "invalid_dpop_proof", "htu does not match the request URL");
        return -1;
    }
    const int64_t now = sg_clock_now();
    struct sg_dpop_expect e = {
        .method = "POST",
        .url = url,
        .now = now,
        .max_age = SG_DPOP_MAX_AGE,
        .skew = cfg->clock_skew,
        .algs = NULL,
        .access_token = NULL, /* ath must be absent */
        .keys = sd_dpop_keys(),
        .mds = sd_dpop_digests(),
    };
    const char *why = NULL;
    signet_err err = sg_dpop_check(dpop, strlen(dpop), &e, proof, &why);
    if (err == SIGNET_ERR_NOMEM) {
        sd_resp_oauth_error(r, 503, "temporarily_unavailable", "out of memory: retry later");
        r->retry_after = 1;
        *result = "temporarily_unavailable";
        return -1;
    }
    if (err != SIGNET_OK) {
        dpop_fail(r, t, "invalid_dpop_proof", why != NULL ? why : "invalid DPoP proof");
        return -1;
    }
    if (!t->dpop_nonce)
        return 0;
    /* RFC 9449 §8: the nonce of a previous answer; a new one either way. */
    if (proof->nonce == NULL || !sd_dpop_nonce_valid(now, proof->nonce)) {
        sd_dpop_nonce(now, r->dpop_nonce);
        dpop_fail(r, t, "use_dpop_nonce",
                  proof->nonce == NULL
                      ? "a DPoP nonce is required: put the DPoP-Nonce header's value in the "
                        "proof's nonce claim"
                      : "the DPoP nonce is stale or not this server's: use the DPoP-Nonce "
                        "header's value");
        *result = "use_dpop_nonce";
        return -1;
    }
    return 0;
}

/* Step 3: the client's DPoP policy, or the tenant's default for it. */
static int dpop_policy(const struct sg_tenant_cfg *t, const struct sg_client *cl, int bound,
                       struct sd_resp *r, const char **result)
{
    int pol = cl->dpop != SG_CLIENT_DPOP_DEFAULT ? (int)cl->dpop : t->dpop;
    if (pol == SG_DPOP_POLICY_REQUIRED && !bound) {
        dpop_fail(r, t, "invalid_dpop_proof",
                  "this client must use DPoP: send a DPoP header with a proof");
        *result = "invalid_dpop_proof";
        return -1;
    }
    if (pol == SG_DPOP_POLICY_FORBIDDEN && bound) {
        /* invalid_request, not invalid_dpop_proof: the proof is valid, the
         * request is not one this client may make, and a DPoP library
         * would answer invalid_dpop_proof with another proof. */
        dpop_fail(r, t, "invalid_request",
                  "this client may not use DPoP: send the request without a DPoP header");
        *result = "invalid_request";
        return -1;
    }
    return 0;
}

/* Step 4: the proof's key, b64url(SHA-256(jti || 0 || htu)), into the
 * tenant's replay cache until the proof could no longer be accepted
 * (replay.c records the proofs of concurrent requests in one commit); the
 * request goes to a signer only once its proof is recorded. */
struct replay_wait {
    struct sd_replay_job job; /* first: replay.c hands back &job */
    struct pending *pd;
};

/* Answers a request that will not be signed: r is the answer. */
static void answer_unsigned(struct pending *pd, struct sd_resp *r, const char *result)
{
    (void)snprintf(r->client_id, sizeof r->client_id, "%s", pd->client_id);
    sd_tm_token_result(pd->c, pd->tenant, result);
    sd_token_done done = pd->done;
    void *done_user = pd->user;
    pending_free(pd);
    done(done_user, r);
}

static void replay_recorded(struct sd_replay_job *j)
{
    struct replay_wait *w = (struct replay_wait *)(void *)j;
    struct pending *pd = w->pd;
    const signet_err err = j->result;
    free(w);
    struct sd_resp resp;
    memset(&resp, 0, sizeof resp);
    if (err == SIGNET_OK) {
        signet_err e = sign_send(pd);
        if (e == SIGNET_OK)
            return; /* signed_cb answers */
        sg_log(SG_LOG_ERROR, "sign_failed", "tenant=%s client=%s error=%s", pd->tenant,
               pd->client_id, signet_err_name(e));
        fail(&resp, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the signing service is unavailable",
             pd->basic_tried, NULL);
        answer_unsigned(pd, &resp, "temporarily_unavailable");
        return;
    }
    if (err == SIGNET_ERR_EXISTS) {
        sg_log(SG_LOG_WARN, "dpop_refused", "tenant=%s error=invalid_dpop_proof reason=\"%s\"",
               pd->tenant, "the DPoP proof was already used (jti replay)");
        sd_resp_oauth_error(&resp, 400, "invalid_dpop_proof",
                            "the DPoP proof was already used (jti replay)");
        answer_unsigned(pd, &resp, "invalid_dpop_proof");
        return;
    }
    sg_log(SG_LOG_WARN, "dpop_replay_cache", "tenant=%s error=%s", pd->tenant,
           signet_err_name(err));
    fail(&resp, SG_OAUTH_TEMPORARILY_UNAVAILABLE,
         err == SIGNET_ERR_TOO_LARGE ? "the DPoP replay cache is full: retry later"
                                     : "the replay cache is unavailable",
         0, NULL);
    answer_unsigned(pd, &resp, "temporarily_unavailable");
}

/* Queues the proof of pd's request; replay_recorded takes it on. 0 when
 * queued (pd belongs to it now). */
static int dpop_replay(struct pending *pd, const struct sg_dpop_proof *proof, int64_t now)
{
    struct replay_wait *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -1;
    if (sg_b64url_encode(proof->replay_key, sizeof proof->replay_key, w->job.key,
                         sizeof w->job.key) != SIGNET_OK) {
        free(w);
        return -1;
    }
    (void)snprintf(w->job.tenant, sizeof w->job.tenant, "%s", pd->tenant);
    w->job.expires_at = proof->iat + SG_DPOP_MAX_AGE + 1;
    w->job.now = now;
    w->job.done = replay_recorded;
    w->pd = pd;
    if (sd_replay_submit(&w->job) != SIGNET_OK) {
        free(w);
        return -1;
    }
    return 0;
}

/* The access token's lifetime: the client's, else the tenant's, capped. */
static int64_t token_lifetime(const struct sg_tenant_cfg *t, const struct sg_client *cl)
{
    int64_t lifetime = cl->lifetime > 0 ? cl->lifetime : t->token_lifetime;
    return lifetime > t->max_token_lifetime ? t->max_token_lifetime : lifetime;
}

/* RFC 9449 §6.1: the token is bound to the proof's key. Consumes claims;
 * its text, or NULL. */
static char *claims_text(json_t *claims, const struct sg_dpop_proof *proof)
{
    if (claims != NULL && proof != NULL &&
        json_object_set_new(claims, "cnf", json_pack("{s:s}", "jkt", proof->jkt)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    char *text = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    return text;
}

/* A new pending request for text (which it takes), or NULL (text freed). */
static struct pending *pending_new(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                   const struct sg_token_req *req, const struct sg_client *cl,
                                   char *text, int64_t lifetime, const char *granted, int bound,
                                   sd_token_done done, void *user)
{
    struct pending *pd = text != NULL ? calloc(1, sizeof *pd) : NULL;
    if (pd == NULL) {
        free(text);
        return NULL;
    }
    pd->c = c;
    pd->done = done;
    pd->user = user;
    pd->text = text; /* freed with pd */
    (void)snprintf(pd->issuer, sizeof pd->issuer, "%s", t->issuer);
    pd->lifetime = lifetime;
    pd->basic_tried = req->basic_tried;
    (void)snprintf(pd->tenant, sizeof pd->tenant, "%s", t->name);
    (void)snprintf(pd->client_id, sizeof pd->client_id, "%s", cl->client_id);
    (void)snprintf(pd->granted, sizeof pd->granted, "%s", granted);
    pd->bound = bound;
    return pd;
}

/* Hands pd to the DPoP replay cache (which then signs) or to a signer.
 * NULL when pending (signed_cb answers); otherwise pd is freed, r holds
 * the answer and the tokens_issued result label is returned. */
static const char *dispatch(struct pending *pd, const struct sg_tenant_cfg *t,
                            const struct sg_dpop_proof *proof, struct sd_resp *r, int64_t now)
{
    const int basic_tried = pd->basic_tried;
    if (t->dpop_nonce)
        sd_dpop_nonce(now, pd->dpop_nonce);
    if (proof != NULL) {
        if (dpop_replay(pd, proof, now) == 0)
            return NULL; /* replay_recorded takes it on */
        pending_free(pd);
        sg_log(SG_LOG_WARN, "dpop_replay_cache", "tenant=%s error=queue", t->name);
        fail(r, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the replay cache is unavailable", 0, t);
        return "temporarily_unavailable";
    }
    signet_err err = sign_send(pd);
    if (err != SIGNET_OK) {
        /* Nothing was sent: fail closed now. */
        sg_log(SG_LOG_ERROR, "sign_failed", "tenant=%s client=%s error=%s", t->name,
               pd->client_id, signet_err_name(err));
        pending_free(pd);
        fail(r, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the signing service is unavailable",
             basic_tried, t);
        return "temporarily_unavailable";
    }
    return NULL;
}

/* client_credentials: builds the claims and hands them to a signer. NULL
 * when the request is pending (signed_cb answers it); otherwise r holds
 * the answer and the tokens_issued result label is returned. */
static const char *issue(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                         const struct sg_token_req *req, const struct sg_client *cl,
                         const struct sg_dpop_proof *proof, struct sd_resp *r, sd_token_done done,
                         void *user)
{
    char why[400] = "";
    char granted[SG_OAUTH_SCOPE_MAX + 1] = "";
    char bad[80] = "";
    const char *want = req->scope != NULL ? req->scope : cl->default_scopes;
    if (want != NULL && want[0] != '\0') {
        signet_err err = sg_scope_check(want, cl->scopes, granted, sizeof granted, bad, sizeof bad);
        if (err != SIGNET_OK) {
            (void)snprintf(why, sizeof why, err == SIGNET_ERR_NOT_FOUND
                                                ? "scope '%s' is not allowed for this client"
                                                : "invalid scope%s",
                           bad);
            fail(r, SG_OAUTH_INVALID_SCOPE, why, req->basic_tried, t);
            return "invalid_scope";
        }
    }
    json_t *aud = NULL;
    enum sg_oauth_error e = pick_audiences(req, cl, &aud, why, sizeof why);
    if (e != SG_OAUTH_OK) {
        fail(r, e, why[0] != '\0' ? why : "out of memory", req->basic_tried, t);
        return sg_oauth_error_code(e);
    }
    const int64_t lifetime = token_lifetime(t, cl);
    const int64_t now = sg_clock_now();
    const int64_t exp = now + lifetime;
    /* Exactly the members the signer's policy allows a machine token
     * (src/signer/policy.h); the signer adds the jti. */
    json_t *claims = json_pack("{s:s, s:s, s:O, s:I, s:I, s:I, s:s}", "iss", t->issuer, "sub",
                               cl->client_id, "aud", aud, "exp", (json_int_t)exp, "iat",
                               (json_int_t)now, "nbf", (json_int_t)now, "client_id",
                               cl->client_id);
    json_decref(aud);
    if (claims != NULL && granted[0] != '\0' &&
        json_object_set_new(claims, "scope", json_string(granted)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    struct pending *pd = pending_new(c, t, req, cl, claims_text(claims, proof), lifetime,
                                     granted, proof != NULL, done, user);
    if (pd == NULL) {
        fail(r, SG_OAUTH_SERVER_ERROR, "out of memory", req->basic_tried, t);
        return "server_error";
    }
    return dispatch(pd, t, proof, r, now);
}

/* authorization_code and refresh_token (grants.c): checks the grant, then
 * builds a person's access token and, for openid, the ID token that
 * follows it. Returns as issue() does. */
static const char *issue_person(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                const struct sg_token_req *req, const struct sg_client *cl,
                                const struct sg_dpop_proof *proof, struct sd_resp *r,
                                sd_token_done done, void *user)
{
    char why[400] = "";
    const char *result = NULL;
    json_t *aud = NULL;
    json_t *id_claims = NULL;
    struct pending *pd = NULL;
    struct sd_grant *g = calloc(1, sizeof *g);
    if (g == NULL) {
        fail(r, SG_OAUTH_SERVER_ERROR, "out of memory", req->basic_tried, t);
        return "server_error";
    }
    const char *jkt = proof != NULL ? proof->jkt : NULL;
    enum sg_oauth_error e = req->grant == SG_GRANT_TYPE_AUTHORIZATION_CODE
                                ? sd_grant_code(c, t, req, cl, jkt, g, why, sizeof why)
                                : sd_grant_refresh(c, t, req, cl, jkt, g, why, sizeof why);
    if (e == SG_OAUTH_OK)
        e = pick_audiences(req, cl, &aud, why, sizeof why);
    if (e != SG_OAUTH_OK) {
        fail(r, e, why[0] != '\0' ? why : "out of memory", req->basic_tried, t);
        result = sg_oauth_error_code(e);
        goto out;
    }
    char api_scope[SG_OAUTH_SCOPE_MAX + 1];
    sd_grant_api_scope(g, cl->scopes, api_scope, sizeof api_scope);
    const int64_t lifetime = token_lifetime(t, cl);
    const int64_t now = sg_clock_now();
    json_t *claims = sd_grant_access_claims(t, g, aud, api_scope, now, now + lifetime);
    if (sd_grant_wants_id_token(g) && (id_claims = sd_grant_id_claims(t, g)) == NULL) {
        json_decref(claims);
        claims = NULL;
    }
    pd = pending_new(c, t, req, cl, claims_text(claims, proof), lifetime, g->scope,
                     proof != NULL, done, user);
    if (pd == NULL) {
        fail(r, SG_OAUTH_SERVER_ERROR, "out of memory", req->basic_tried, t);
        result = "server_error";
        goto out;
    }
    pd->grant = g;
    g = NULL;
    pd->id_claims = id_claims;
    id_claims = NULL;
    /* The tenant's default alg signs the ID token; at_hash is its hash. */
    (void)snprintf(pd->id_alg, sizeof pd->id_alg, "%s", t->algs[0]);
    pd->id_lifetime = SD_ID_TOKEN_LIFETIME < t->max_token_lifetime ? SD_ID_TOKEN_LIFETIME
                                                                    : t->max_token_lifetime;
    result = dispatch(pd, t, proof, r, now);
out:
    json_decref(aud);
    json_decref(id_claims);
    if (g != NULL) {
        sd_grant_clear(g);
        free(g);
    }
    return result;
}

/* The one answer to every failed client authentication (RFC 6749 §5.2
 * invalid_client): which check failed, or whether the client exists at
 * all, goes to the log, not to the caller. */
#define AUTH_FAILED "client authentication failed"

static const char *auth_method(const struct sg_token_req *req)
{
    return req->auth == SG_AUTH_ASSERTION ? "private_key_jwt"
           : req->auth == SG_AUTH_BASIC   ? "client_secret_basic"
           : req->auth == SG_AUTH_POST    ? "client_secret_post"
                                          : "none";
}

/* The client's registered grants (SG_GRANT_*) allow the request's. */
static int grant_allowed(const struct sg_client *cl, enum sg_grant_type g)
{
    /* A pushed authorization request (SG_GRANT_TYPE_NONE) is the start of
     * the code flow (RFC 9126 §2.1). */
    unsigned bit = g == SG_GRANT_TYPE_AUTHORIZATION_CODE || g == SG_GRANT_TYPE_NONE
                       ? SG_GRANT_AUTHORIZATION_CODE
                   : g == SG_GRANT_TYPE_REFRESH_TOKEN    ? SG_GRANT_REFRESH_TOKEN
                                                         : SG_GRANT_CLIENT_CREDENTIALS;
    return (cl->grants & bit) != 0;
}

/* Looks the client up, authenticates it and then charges its rate limit,
 * exactly as the token endpoint does. 0 when it passed; otherwise r holds
 * the error answer and *result the metric label.
 *
 * The rate limit is charged only once the client has proved who it is: a
 * stranger naming a client (a cheap parse) must not spend that client's
 * budget and lock it out. Failures are counted apart (sd_auth_failure),
 * and an unknown client costs the caller what a wrong secret costs. */
static int client_gate(struct sd_ctx *c, const struct sg_config *cfg,
                       const struct sg_tenant_cfg *t, const struct sg_token_req *req,
                       struct sg_client *cl, struct sd_resp *r, const char **result)
{
    char why[400] = "";
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_store_client_get(c->store, t->name, req->client_id, cl);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK && err != SIGNET_ERR_NOT_FOUND) {
        fail(r, SG_OAUTH_TEMPORARILY_UNAVAILABLE, "the client store is unavailable",
             req->basic_tried, t);
        *result = "temporarily_unavailable";
        return -1;
    }
    enum sg_oauth_error e = SG_OAUTH_INVALID_CLIENT;
    if (err == SIGNET_ERR_NOT_FOUND) {
        if (req->auth != SG_AUTH_ASSERTION && req->secret != NULL)
            sd_secret_burn(req->secret);
        else if (req->auth == SG_AUTH_ASSERTION)
            assertion_burn(cfg, t, req);
        (void)snprintf(why, sizeof why, "unknown client");
    } else {
        e = authenticate(c, cfg, t, req, cl, why, sizeof why);
    }
    if (e != SG_OAUTH_OK) {
        if (e == SG_OAUTH_INVALID_CLIENT) {
            sg_log(SG_LOG_WARN, "client_auth_failed",
                   "tenant=%s client=%s method=%s addr=%s reason=\"%s\"", t->name,
                   req->client_id, auth_method(req), sd_auth_peer(), why);
            int64_t wait = sd_auth_failure(t->name, req->client_id);
            if (wait > 0) {
                /* The address is over its failure budget (auth.c): the
                 * same answer whatever failed, never for a correct one. */
                sd_resp_oauth_error(r, 429, "invalid_client",
                                    AUTH_FAILED "; too many failures from this address");
                r->retry_after = wait;
                *result = "invalid_client";
                return -1;
            }
            (void)snprintf(why, sizeof why, AUTH_FAILED);
        }
        fail(r, e, why, req->basic_tried, t);
        *result = sg_oauth_error_code(e);
        return -1;
    }
    int64_t wait = sd_rate_take(t->name, cl->client_id, sg_config_rate_limit(cfg, t),
                                sg_config_rate_burst(cfg, t));
    if (wait > 0) {
        sd_resp_oauth_error(r, 429, "temporarily_unavailable",
                            "rate limit exceeded for this client: retry later");
        r->retry_after = wait;
        *result = "rate_limited";
        return -1;
    }
    /* RFC 6749 §5.2 unauthorized_client: told only to the client itself. */
    if (!grant_allowed(cl, req->grant)) {
        sg_log(SG_LOG_WARN, "grant_refused", "tenant=%s client=%s grant=%s", t->name,
               cl->client_id,
               req->grant == SG_GRANT_TYPE_AUTHORIZATION_CODE ? "authorization_code"
               : req->grant == SG_GRANT_TYPE_REFRESH_TOKEN    ? "refresh_token"
               : req->grant == SG_GRANT_TYPE_NONE             ? "par"
                                                              : "client_credentials");
        fail(r, SG_OAUTH_UNAUTHORIZED_CLIENT,
             req->grant == SG_GRANT_TYPE_NONE
                 ? "this client may not use the authorization code flow"
                 : "this client may not use this grant type",
             req->basic_tried, t);
        *result = "unauthorized_client";
        return -1;
    }
    return 0;
}

/* A request whose parameters or credentials do not parse: credentials
 * that do not even parse get the one answer too. */
static void parse_failed(struct sd_resp *r, const struct sg_tenant_cfg *t, enum sg_oauth_error e,
                         const char *why, int basic_tried)
{
    if (e == SG_OAUTH_INVALID_CLIENT) {
        sg_log(SG_LOG_WARN, "client_auth_failed", "tenant=%s client=- reason=\"%s\"", t->name,
               why);
        why = AUTH_FAILED;
    }
    fail(r, e, why, basic_tried, t);
}

int sd_par_client(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                  const struct sg_form *f, const char *authz, struct sg_client *cl,
                  struct sd_resp *r)
{
    char why[400] = "";
    const char *result = "ok";
    struct sg_token_req req;
    enum sg_oauth_error e = sg_client_auth_parse(f, authz, &req, why, sizeof why);
    int rc = -1;
    if (e != SG_OAUTH_OK)
        parse_failed(r, t, e, why, req.basic_tried);
    else
        rc = client_gate(c, cfg, t, &req, cl, r, &result);
    sg_token_req_clear(&req);
    return rc;
}

int sd_token_endpoint_async(struct sd_ctx *c, const struct sg_config *cfg,
                            const struct sg_tenant_cfg *t, const char *body, size_t len,
                            const char *authz, const char *dpop, struct sd_resp *r,
                            sd_token_done done, void *user)
{
    char why[400] = "";
    const char *result = "ok";
    struct sg_token_req req;
    struct sg_client cl;
    struct sg_dpop_proof proof;
    memset(&cl, 0, sizeof cl);
    memset(&proof, 0, sizeof proof);
    enum sg_oauth_error e = sg_token_req_parse(body, len, authz, &req, why, sizeof why);
    if (e != SG_OAUTH_OK) {
        parse_failed(r, t, e, why, req.basic_tried);
        result = sg_oauth_error_code(e);
        goto out;
    }
    (void)snprintf(r->client_id, sizeof r->client_id, "%s", req.client_id);
    if (dpop != NULL && dpop_gate(cfg, t, dpop, &proof, r, &result) != 0)
        goto out;
    if (client_gate(c, cfg, t, &req, &cl, r, &result) != 0 ||
        dpop_policy(t, &cl, dpop != NULL, r, &result) != 0)
        goto out;
    if (req.grant == SG_GRANT_TYPE_CLIENT_CREDENTIALS)
        result = issue(c, t, &req, &cl, dpop != NULL ? &proof : NULL, r, done, user);
    else
        result = issue_person(c, t, &req, &cl, dpop != NULL ? &proof : NULL, r, done, user);
out:
    if (result != NULL)
        sd_tm_token_result(c, t->name, result);
    sg_dpop_proof_clear(&proof);
    sg_client_clear(&cl);
    sg_token_req_clear(&req);
    return result == NULL;
}

signet_err sd_report_client(struct sd_ctx *c, const struct sg_config *cfg,
                            const struct sg_tenant_cfg *t, const char *authz, struct sd_resp *r)
{
    /* The body is JSON, so the client authenticates in the header
     * (client_secret_basic), checked by the token endpoint's own code. */
    static const char form[] = "grant_type=client_credentials";
    char why[400] = "";
    const char *result = "ok";
    struct sg_token_req req;
    struct sg_client cl;
    memset(&cl, 0, sizeof cl);
    signet_err ret = SIGNET_ERR_PERMISSION;
    enum sg_oauth_error e = sg_token_req_parse(form, sizeof form - 1, authz, &req, why, sizeof why);
    if (e == SG_OAUTH_OK && req.auth != SG_AUTH_BASIC) {
        e = SG_OAUTH_INVALID_CLIENT;
        (void)snprintf(why, sizeof why, "reports need client_secret_basic authentication");
    }
    if (e != SG_OAUTH_OK) {
        /* No or broken credentials: a challenge, never a bare 400. */
        req.basic_tried = 1;
        fail(r, e == SG_OAUTH_INVALID_REQUEST ? SG_OAUTH_INVALID_CLIENT : e, why, 1, t);
        goto out;
    }
    (void)snprintf(r->client_id, sizeof r->client_id, "%s", req.client_id);
    if (client_gate(c, cfg, t, &req, &cl, r, &result) != 0)
        goto out;
    if (!sg_list_contains(cl.scopes, SD_REPORT_SCOPE)) {
        sg_log(SG_LOG_WARN, "report_refused", "tenant=%s client=%s reason=scope", t->name,
               cl.client_id);
        sd_resp_oauth_error(r, 403, "insufficient_scope",
                            "the client is not allowed the " SD_REPORT_SCOPE " scope");
        goto out;
    }
    ret = SIGNET_OK;
out:
    sg_client_clear(&cl);
    sg_token_req_clear(&req);
    return ret;
}
