/* The public metadata endpoints: JWKS (cached against the store version,
 * so a lifecycle transition or a revocation is served at once), discovery
 * (RFC 8414 / OpenID Connect Discovery) and readiness. */
#include "signetd/meta.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/oauth_req.h"
#include "signetd/ctx.h"
#include "signetd/pool.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"

/* Even without a store change, refetch at least this often. */
#define JWKS_REFETCH_MS 1000u

/* Store access is serialised on one connection. */
static signet_err store_version(struct sd_ctx *c, int64_t *out)
{
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_store_version(c->store, out);
    pthread_mutex_unlock(&c->store_lock);
    return err;
}

static struct sd_jwks_entry *entry_for(struct sd_ctx *c, const struct sg_tenant_cfg *t)
{
    /* Slots are bound to tenant names for the life of the process; a
     * tenant added by a reload takes a free slot. */
    static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
    struct sd_jwks_entry *found = NULL;
    pthread_mutex_lock(&bind_lock);
    for (size_t i = 0; i < SG_MAX_TENANTS && found == NULL; i++)
        if (strcmp(c->jwks[i].tenant, t->name) == 0)
            found = &c->jwks[i];
    for (size_t i = 0; i < SG_MAX_TENANTS && found == NULL; i++)
        if (c->jwks[i].tenant[0] == '\0') {
            (void)snprintf(c->jwks[i].tenant, sizeof c->jwks[i].tenant, "%s", t->name);
            found = &c->jwks[i];
        }
    pthread_mutex_unlock(&bind_lock);
    return found;
}

static void set_etag(struct sd_jwks_entry *e)
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)e->body, e->len, d);
    char b64[48];
    if (sg_b64url_encode(d, sizeof d, b64, sizeof b64) != SIGNET_OK)
        b64[0] = '\0';
    (void)snprintf(e->etag, sizeof e->etag, "\"%s\"", b64);
}

/* RFC 9110 §13.1.2: If-None-Match is "*" or a list of entity tags; weak
 * comparison is used for it. */
static int etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return 0;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return 1;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return 0;
}

/* Under e->lock: brings the cached JWKS of t up to the store version (or
 * refetches it when older than JWKS_REFETCH_MS). A changed body is told to
 * c->on_jwks_change: telemetry.c pokes the invariant monitor there (I4
 * compares what is served with the store). */
static signet_err refresh_locked(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                 struct sd_jwks_entry *e)
{
    /* The key store is the signer's: a transition the scheduler saw bumps
     * keys_epoch; one made elsewhere (the CLI) shows within the refetch. */
    int64_t version = (int64_t)atomic_load(&c->keys_epoch);
    uint64_t now = sg_clock_mono_ns() / 1000000u;
    if (e->body != NULL && e->version == version && now - e->fetched_ms <= JWKS_REFETCH_MS)
        return SIGNET_OK;
    signet_err status = SIGNET_OK;
    char *json = NULL;
    signet_err err = sd_pool_call(&c->pool, SG_IPC_JWKS, t->issuer, &status, &json);
    if (err != SIGNET_OK || status != SIGNET_OK || json == NULL) {
        free(json);
        sg_log(SG_LOG_ERROR, "jwks_fetch_failed", "tenant=%s error=%s", t->name,
               signet_err_name(err != SIGNET_OK ? err : status));
        return SIGNET_ERR_SIGNER_GONE;
    }
    int changed = e->body == NULL || strcmp(e->body, json) != 0;
    free(e->body);
    e->body = json;
    e->len = strlen(json);
    e->version = version;
    e->fetched_ms = now;
    set_etag(e);
    if (changed && c->on_jwks_change != NULL)
        c->on_jwks_change(c);
    return SIGNET_OK;
}

signet_err sd_jwks_current(struct sd_ctx *c, const struct sg_tenant_cfg *t, char **json)
{
    *json = NULL;
    struct sd_jwks_entry *e = entry_for(c, t);
    if (e == NULL)
        return SIGNET_ERR_NOT_FOUND;
    pthread_mutex_lock(&e->lock);
    signet_err err = refresh_locked(c, t, e);
    if (err == SIGNET_OK) {
        *json = strdup(e->body);
        if (*json == NULL)
            err = SIGNET_ERR_NOMEM;
    }
    pthread_mutex_unlock(&e->lock);
    return err;
}

void sd_jwks_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *if_none_match,
                      const struct sg_config *cfg, struct sd_resp *r)
{
    struct sd_jwks_entry *e = entry_for(c, t);
    if (e == NULL) {
        sd_resp_oauth_error(r, 503, "temporarily_unavailable", "the key store is unavailable");
        r->retry_after = 1;
        return;
    }
    pthread_mutex_lock(&e->lock);
    signet_err err = refresh_locked(c, t, e);
    if (err != SIGNET_OK) {
        /* A set that may miss a revocation is never served stale. */
        pthread_mutex_unlock(&e->lock);
        sd_resp_oauth_error(r, 503, "temporarily_unavailable",
                            err == SIGNET_ERR_STORE ? "the key store is unavailable"
                                                    : "the signer is unavailable");
        r->retry_after = 1;
        return;
    }
    (void)snprintf(r->etag, sizeof r->etag, "%s", e->etag);
    if (etag_matches(if_none_match, e->etag)) {
        r->status = 304;
        r->no_body = 1;
    } else {
        sd_resp_json(r, 200, e->body);
        r->content_type = "application/jwk-set+json";
    }
    pthread_mutex_unlock(&e->lock);
    /* DESIGN: keys are pre-published for jwks_max_age + clock_skew, so a
     * verifier honouring this max-age always knows a key before it signs. */
    (void)snprintf(r->cache_control, sizeof r->cache_control, "max-age=%lld",
                   (long long)cfg->jwks_max_age);
}

int sd_token_endpoint_url(const struct sg_tenant_cfg *t, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/token", t->issuer);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* scopes_supported is opt-in: the tenant's scopes_supported setting, never
 * the union of its clients' scopes (that would list admin scopes to anyone). */
static json_t *published_scopes(const struct sg_tenant_cfg *t)
{
    json_t *arr = json_array();
    const char *p = t->scopes_supported;
    while (arr != NULL && *p != '\0') {
        const char *sp = strchr(p, ' ');
        size_t len = sp != NULL ? (size_t)(sp - p) : strlen(p);
        (void)json_array_append_new(arr, json_stringn(p, len));
        p = sp != NULL ? sp + 1 : p + len;
    }
    return arr;
}

void sd_discovery_endpoint(const struct sg_tenant_cfg *t, struct sd_resp *r)
{
    char token[600], jwks[600];
    if (sd_token_endpoint_url(t, token, sizeof token) != 0 ||
        snprintf(jwks, sizeof jwks, "%s/jwks.json", t->issuer) >= (int)sizeof jwks) {
        sd_resp_oauth_error(r, 500, "server_error", "issuer URL too long");
        return;
    }
    char ep[5][600];
    static const char *const ep_paths[5] = {"/authorize", "/par", "/userinfo", "/logout",
                                            "/jwks.json"};
    for (size_t i = 0; i < 5; i++)
        if (snprintf(ep[i], sizeof ep[i], "%s%s", t->issuer, ep_paths[i]) >= (int)sizeof ep[i]) {
            sd_resp_oauth_error(r, 500, "server_error", "issuer URL too long");
            return;
        }
    /* RFC 8414 and OpenID Connect Discovery 1.0: the machine grant and,
     * since issue 13, people's (code + PKCE S256 only, PAR, RFC 9207 iss,
     * RP-initiated logout, the acr values of docs/people.md). */
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:[s, s, s], s:[s, s, s, s], s:[s, s, s, s], s:[s], s:[s, s, s, s]}",
        "issuer", t->issuer, "token_endpoint", token, "jwks_uri", jwks, "grant_types_supported",
        "client_credentials", "authorization_code", "refresh_token",
        "token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post",
        "private_key_jwt", "none", "token_endpoint_auth_signing_alg_values_supported", "ES256",
        "EdDSA", "Ed25519", "PS256", "response_types_supported", "code",
        "dpop_signing_alg_values_supported", "ES256", "EdDSA", "Ed25519", "PS256");
    json_t *people = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:b, s:b, s:[s, s], s:[s, s, s, s], "
        "s:[s, s, s, s, s, s, s, s, s, s], s:[s, s, s, s], s:[s], s:[s]}",
        "authorization_endpoint", ep[0], "pushed_authorization_request_endpoint", ep[1],
        "userinfo_endpoint", ep[2], "end_session_endpoint", ep[3], "response_modes_supported",
        "query", "code_challenge_methods_supported", "S256", "subject_types_supported", "public",
        "authorization_response_iss_parameter_supported", 1,
        "require_pushed_authorization_requests", 0, "acr_values_supported",
        "urn:signet:acr:phr", "urn:signet:acr:mfa", "prompt_values_supported", "none", "login",
        "consent", "select_account", "claims_supported", "sub", "iss", "aud", "exp", "iat",
        "auth_time", "acr", "amr", "sid", "nonce", "scopes_supported_people", "openid",
        "profile", "email", "offline_access", "id_token_signing_alg_values_supported",
        t->algs[0], "access_token_signing_alg_values_supported", t->algs[0]);
    json_t *extra_scopes = people != NULL ? json_incref(json_object_get(people,
                                                                        "scopes_supported_people"))
                                          : NULL;
    if (people != NULL) {
        (void)json_object_del(people, "scopes_supported_people");
        if (doc != NULL)
            (void)json_object_update(doc, people);
        json_decref(people);
    }
    json_t *algs = json_object_get(doc, "access_token_signing_alg_values_supported");
    for (size_t i = 1; algs != NULL && i < t->n_algs; i++)
        (void)json_array_append_new(algs, json_string(t->algs[i]));
    json_t *ida = json_object_get(doc, "id_token_signing_alg_values_supported");
    for (size_t i = 1; ida != NULL && i < t->n_algs; i++)
        (void)json_array_append_new(ida, json_string(t->algs[i]));
    /* scopes_supported: OpenID Connect's own, then the tenant's opt-in list. */
    json_t *scopes = doc != NULL ? published_scopes(t) : NULL;
    if (scopes != NULL && extra_scopes != NULL)
        (void)json_array_extend(extra_scopes, scopes);
    json_decref(scopes);
    if (extra_scopes != NULL)
        (void)json_object_set_new(doc, "scopes_supported", extra_scopes);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        sd_resp_oauth_error(r, 500, "server_error", "out of memory");
        return;
    }
    sd_resp_json(r, 200, text);
    free(text);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "max-age=300");
}

void sd_ready_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    /* Truthful: some signer must say that it can sign (its last signature,
     * or a test signature when it was idle or failing, went through, audit
     * record included), not merely that it answers. */
    char reason[96];
    int64_t version = 0;
    const char *why = NULL;
    if (!sd_pool_ready(&c->pool, reason, sizeof reason))
        why = strncmp(reason, "audit", 5) == 0 ? "audit" : "signer";
    else if (store_version(c, &version) != SIGNET_OK)
        why = "store";
    else if (atomic_load(&c->draining))
        why = "draining";
    if (why != NULL) {
        char body[256];
        /* reason: fixed words and an error name (sd_pool_ready), no quotes */
        (void)snprintf(body, sizeof body,
                       "{\"status\":\"unavailable\",\"failing\":\"%s\",\"reason\":\"%s\"}", why,
                       strcmp(why, "signer") == 0 || strcmp(why, "audit") == 0 ? reason : why);
        sd_resp_json(r, 503, body);
        r->retry_after = 1;
    } else {
        sd_resp_json(r, 200, "{\"status\":\"ready\"}");
    }
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}
