/* The people's grants at the token endpoint (grants.h): the front store's
 * part (codes, refresh tokens) and the claims of a person's tokens. */
#include "signetd/grants.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "signetd/ctx.h"
#include "store/model.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/sha256.h"

#define WHY(...) (void)snprintf(why, whylen, __VA_ARGS__)

void sd_grant_clear(struct sd_grant *g)
{
    sg_wipe(g, sizeof *g);
}

/* base64url(SHA-256(s)): how the store keys codes and refresh tokens
 * (people.h), and the S256 code challenge (RFC 7636 §4.2). */
static void hash_b64(const char *s, char out[SG_PEOPLE_HASH_LEN + 1])
{
    uint8_t d[32];
    sg_sha256(s, strlen(s), d);
    if (sg_b64url_encode(d, sizeof d, out, SG_PEOPLE_HASH_LEN + 1) != SIGNET_OK)
        out[0] = '\0'; /* cannot happen: 32 bytes are 43 characters */
    sg_wipe(d, sizeof d);
}

static int random_b64(size_t n, char *out, size_t cap)
{
    uint8_t raw[64];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return -1;
    signet_err err = sg_b64url_encode(raw, n, out, cap);
    sg_wipe(raw, sizeof raw);
    return err == SIGNET_OK ? 0 : -1;
}

/* A new refresh token for g: the token, its hash. */
static int new_refresh(struct sd_grant *g)
{
    if (random_b64(SD_REFRESH_BYTES, g->refresh_token, sizeof g->refresh_token) != 0)
        return -1;
    hash_b64(g->refresh_token, g->refresh_hash);
    return 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
    (void)snprintf(dst, cap, "%s", src);
}

enum sg_oauth_error sd_grant_code(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                  const struct sg_token_req *req, const struct sg_client *cl,
                                  const char *jkt, struct sd_grant *g, char *why,
                                  size_t whylen)
{
    memset(g, 0, sizeof *g);
    g->type = SG_GRANT_TYPE_AUTHORIZATION_CODE;
    struct sg_authcode ac;
    memset(&ac, 0, sizeof ac);
    enum sg_oauth_error e = SG_OAUTH_INVALID_GRANT;
    const int64_t now = sg_clock_now();
    hash_b64(req->code, g->code_hash);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_code_redeem(c->store, t->name, g->code_hash, now, &ac);
    signet_err rerr = SIGNET_ERR_NOT_FOUND;
    if (err == SIGNET_ERR_EXISTS && ac.family[0] != '\0')
        rerr = sg_people_refresh_revoke_family(c->store, t->name, ac.family, now);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_EXISTS) {
        /* RFC 6749 §4.1.2: a code used twice; what its first use issued
         * is revoked (RFC 9700 §4.5.3 for the tokens an attacker may
         * hold). The access token lives out its short life. */
        sg_log(SG_LOG_WARN, "code_replayed",
               "tenant=%s client=%s code_client=%s sid=%s family=%s revoked=%s", t->name,
               cl->client_id, ac.client_id, ac.sid[0] != '\0' ? ac.sid : "-",
               ac.family[0] != '\0' ? ac.family : "-",
               ac.family[0] != '\0' ? signet_err_name(rerr) : "none");
        WHY("the authorization code is invalid or expired");
        goto out;
    }
    if (err == SIGNET_ERR_NOT_FOUND) {
        WHY("the authorization code is invalid or expired");
        goto out;
    }
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "code_redeem_failed", "tenant=%s client=%s error=%s", t->name,
               cl->client_id, signet_err_name(err));
        WHY("the store is unavailable");
        e = SG_OAUTH_TEMPORARILY_UNAVAILABLE;
        goto out;
    }
    /* RFC 6749 §4.1.3: issued to this client, for this redirect URI. */
    if (strcmp(ac.client_id, cl->client_id) != 0) {
        sg_log(SG_LOG_WARN, "code_refused", "tenant=%s client=%s reason=client", t->name,
               cl->client_id);
        WHY("the authorization code was issued to another client");
        goto out;
    }
    if (strcmp(ac.redirect_uri, req->redirect_uri) != 0) {
        sg_log(SG_LOG_WARN, "code_refused", "tenant=%s client=%s reason=redirect_uri", t->name,
               cl->client_id);
        WHY("redirect_uri differs from the authorization request's");
        goto out;
    }
    /* RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge. */
    char computed[SG_PEOPLE_HASH_LEN + 1];
    hash_b64(req->code_verifier, computed);
    int pkce_ok = strlen(ac.code_challenge) == SG_PEOPLE_HASH_LEN &&
                  CRYPTO_memcmp(computed, ac.code_challenge, SG_PEOPLE_HASH_LEN) == 0;
    sg_wipe(computed, sizeof computed);
    if (!pkce_ok) {
        sg_log(SG_LOG_WARN, "code_refused", "tenant=%s client=%s reason=pkce", t->name,
               cl->client_id);
        WHY("PKCE verification failed");
        goto out;
    }
    copy(g->client_id, sizeof g->client_id, cl->client_id);
    copy(g->user_id, sizeof g->user_id, ac.user_id);
    copy(g->sid, sizeof g->sid, ac.sid);
    copy(g->acr, sizeof g->acr, ac.acr);
    copy(g->amr, sizeof g->amr, ac.amr);
    copy(g->scope, sizeof g->scope, ac.scope);
    copy(g->nonce, sizeof g->nonce, ac.nonce);
    g->auth_time = ac.auth_time;
    /* RFC 9449 §5: a public client's refresh tokens are bound to the key
     * of its proof (a confidential client's are bound to the client). */
    if (cl->auth == SG_CLIENT_NONE && jkt != NULL)
        copy(g->jkt, sizeof g->jkt, jkt);
    if ((cl->grants & SG_GRANT_REFRESH_TOKEN) != 0 &&
        (new_refresh(g) != 0 || random_b64(SD_FAMILY_BYTES, g->family, sizeof g->family) != 0)) {
        WHY("no randomness");
        e = SG_OAUTH_SERVER_ERROR;
        goto out;
    }
    e = SG_OAUTH_OK;
out:
    sg_wipe(&ac, sizeof ac);
    if (e != SG_OAUTH_OK)
        sd_grant_clear(g);
    return e;
}

enum sg_oauth_error sd_grant_refresh(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                     const struct sg_token_req *req, const struct sg_client *cl,
                                     const char *jkt, struct sd_grant *g, char *why,
                                     size_t whylen)
{
    memset(g, 0, sizeof *g);
    g->type = SG_GRANT_TYPE_REFRESH_TOKEN;
    struct sg_refresh old, next;
    memset(&old, 0, sizeof old);
    memset(&next, 0, sizeof next);
    enum sg_oauth_error e = SG_OAUTH_INVALID_GRANT;
    const int64_t now = sg_clock_now();
    hash_b64(req->refresh_token, g->old_hash);
    if (new_refresh(g) != 0) {
        WHY("no randomness");
        e = SG_OAUTH_SERVER_ERROR;
        goto out;
    }
    memcpy(next.hash, g->refresh_hash, sizeof next.hash);
    next.created_at = now;
    next.idle_expires = now + SD_REFRESH_IDLE;
    /* people.h has no read-only lookup: the rotation runs in a transaction
     * that is rolled back, so it only tells whether the token is live and
     * gives its row. The one exception is reuse, whose family revocation
     * is committed at once. */
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_store_begin(c->store);
    if (err == SIGNET_OK) {
        err = sg_people_refresh_rotate(c->store, t->name, g->old_hash, now, &old, &next);
        if (err == SIGNET_ERR_EXISTS) {
            signet_err cerr = sg_store_commit(c->store);
            if (cerr != SIGNET_OK)
                sg_log(SG_LOG_ERROR, "refresh_revoke_failed", "tenant=%s family=%s error=%s",
                       t->name, old.family, signet_err_name(cerr));
        } else {
            sg_store_rollback(c->store);
        }
    }
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_EXISTS) {
        sg_log(SG_LOG_WARN, "refresh_reused", "tenant=%s client=%s token_client=%s family=%s sid=%s",
               t->name, cl->client_id, old.client_id, old.family,
               old.sid[0] != '\0' ? old.sid : "-");
        WHY("the refresh token is invalid or expired");
        goto out;
    }
    if (err == SIGNET_ERR_NOT_FOUND) {
        WHY("the refresh token is invalid or expired");
        goto out;
    }
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "refresh_lookup_failed", "tenant=%s client=%s error=%s", t->name,
               cl->client_id, signet_err_name(err));
        WHY("the store is unavailable");
        e = SG_OAUTH_TEMPORARILY_UNAVAILABLE;
        goto out;
    }
    /* RFC 6749 §6: the token is bound to the client it was issued to. */
    if (strcmp(old.client_id, cl->client_id) != 0) {
        sg_log(SG_LOG_WARN, "refresh_refused", "tenant=%s client=%s reason=client family=%s",
               t->name, cl->client_id, old.family);
        WHY("the refresh token was issued to another client");
        goto out;
    }
    /* RFC 9449 §5: a bound family goes on only with a proof of its key. */
    if (old.jkt[0] != '\0' && (jkt == NULL || strcmp(jkt, old.jkt) != 0)) {
        sg_log(SG_LOG_WARN, "refresh_refused", "tenant=%s client=%s reason=dpop_key family=%s",
               t->name, cl->client_id, old.family);
        WHY(jkt == NULL ? "the refresh token is bound to a DPoP key: send a DPoP proof of it"
                        : "the DPoP proof's key is not the one the refresh token is bound to");
        goto out;
    }
    /* RFC 6749 §6: no scope beyond the original grant; omitted = all of it. */
    if (req->scope != NULL) {
        char bad[80] = "";
        err = sg_scope_check(req->scope, old.scope, g->scope, sizeof g->scope, bad, sizeof bad);
        if (err != SIGNET_OK) {
            WHY(err == SIGNET_ERR_NOT_FOUND ? "scope '%s' was not granted originally"
                                            : "invalid scope%s",
                bad);
            e = SG_OAUTH_INVALID_SCOPE;
            goto out;
        }
    } else {
        copy(g->scope, sizeof g->scope, old.scope);
    }
    copy(g->client_id, sizeof g->client_id, cl->client_id);
    copy(g->user_id, sizeof g->user_id, old.user_id);
    copy(g->sid, sizeof g->sid, old.sid);
    copy(g->acr, sizeof g->acr, old.acr);
    copy(g->amr, sizeof g->amr, old.amr);
    copy(g->family, sizeof g->family, old.family);
    copy(g->jkt, sizeof g->jkt, old.jkt);
    g->auth_time = old.auth_time;
    e = SG_OAUTH_OK;
out:
    sg_wipe(&old, sizeof old);
    sg_wipe(&next, sizeof next);
    if (e != SG_OAUTH_OK)
        sd_grant_clear(g);
    return e;
}

static enum sg_oauth_error commit_code(struct sd_ctx *c, const char *tenant, struct sd_grant *g,
                                       char *why, size_t whylen)
{
    const int64_t now = sg_clock_now();
    struct sg_refresh r;
    memset(&r, 0, sizeof r);
    copy(r.tenant, sizeof r.tenant, tenant);
    memcpy(r.hash, g->refresh_hash, sizeof r.hash);
    copy(r.family, sizeof r.family, g->family);
    copy(r.client_id, sizeof r.client_id, g->client_id);
    copy(r.user_id, sizeof r.user_id, g->user_id);
    copy(r.sid, sizeof r.sid, g->sid);
    copy(r.scope, sizeof r.scope, g->scope);
    copy(r.acr, sizeof r.acr, g->acr);
    copy(r.amr, sizeof r.amr, g->amr);
    copy(r.jkt, sizeof r.jkt, g->jkt);
    r.auth_time = g->auth_time;
    r.created_at = now;
    r.idle_expires = now + SD_REFRESH_IDLE;
    r.family_expires = now + SD_REFRESH_MAX;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_store_begin(c->store);
    if (err == SIGNET_OK) {
        err = sg_people_refresh_put(c->store, &r);
        if (err == SIGNET_OK)
            err = sg_people_code_set_family(c->store, tenant, g->code_hash, g->family);
        if (err == SIGNET_OK)
            err = sg_store_commit(c->store);
        else
            sg_store_rollback(c->store);
    }
    pthread_mutex_unlock(&c->store_lock);
    sg_wipe(&r, sizeof r);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "refresh_store_failed", "tenant=%s client=%s error=%s", tenant,
               g->client_id, signet_err_name(err));
        WHY("the store is unavailable");
        return SG_OAUTH_TEMPORARILY_UNAVAILABLE;
    }
    return SG_OAUTH_OK;
}

static enum sg_oauth_error commit_refresh(struct sd_ctx *c, const char *tenant,
                                          struct sd_grant *g, char *why, size_t whylen)
{
    const int64_t now = sg_clock_now();
    struct sg_refresh old, next;
    memset(&old, 0, sizeof old);
    memset(&next, 0, sizeof next);
    memcpy(next.hash, g->refresh_hash, sizeof next.hash);
    next.created_at = now;
    next.idle_expires = now + SD_REFRESH_IDLE;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_refresh_rotate(c->store, tenant, g->old_hash, now, &old, &next);
    pthread_mutex_unlock(&c->store_lock);
    enum sg_oauth_error e = SG_OAUTH_OK;
    if (err == SIGNET_ERR_EXISTS) {
        /* Presented twice at once: the other request rotated it first. */
        sg_log(SG_LOG_WARN, "refresh_reused", "tenant=%s client=%s token_client=%s family=%s sid=%s",
               tenant, g->client_id, old.client_id, old.family,
               old.sid[0] != '\0' ? old.sid : "-");
        WHY("the refresh token is invalid or expired");
        e = SG_OAUTH_INVALID_GRANT;
    } else if (err == SIGNET_ERR_NOT_FOUND) {
        WHY("the refresh token is invalid or expired");
        e = SG_OAUTH_INVALID_GRANT;
    } else if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "refresh_store_failed", "tenant=%s client=%s error=%s", tenant,
               g->client_id, signet_err_name(err));
        WHY("the store is unavailable");
        e = SG_OAUTH_TEMPORARILY_UNAVAILABLE;
    } else if (strcmp(old.family, g->family) != 0 || strcmp(old.client_id, g->client_id) != 0) {
        /* The same hash names the same row: a broken invariant. */
        sg_log(SG_LOG_ERROR, "refresh_store_failed", "tenant=%s client=%s error=row_changed",
               tenant, g->client_id);
        WHY("the refresh token changed while it was used");
        e = SG_OAUTH_SERVER_ERROR;
    }
    sg_wipe(&old, sizeof old);
    sg_wipe(&next, sizeof next);
    return e;
}

enum sg_oauth_error sd_grant_commit(struct sd_ctx *c, const char *tenant, struct sd_grant *g,
                                    char *why, size_t whylen)
{
    if (g->refresh_token[0] == '\0')
        return SG_OAUTH_OK;
    if (g->type == SG_GRANT_TYPE_AUTHORIZATION_CODE)
        return commit_code(c, tenant, g, why, whylen);
    return commit_refresh(c, tenant, g, why, whylen);
}

int sd_grant_wants_id_token(const struct sd_grant *g)
{
    return sg_list_contains(g->scope, "openid");
}

void sd_grant_api_scope(const struct sd_grant *g, const char *client_scopes, char *out,
                        size_t cap)
{
    static const char *const oidc[] = {"openid", "offline_access", "profile", "email"};
    size_t o = 0;
    out[0] = '\0';
    const char *p = g->scope;
    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        char word[SG_PEOPLE_SCOPE_MAX];
        if (n > 0 && n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
            int skip = !sg_list_contains(client_scopes != NULL ? client_scopes : "", word) ||
                       sg_list_contains(out, word);
            for (size_t i = 0; i < sizeof oidc / sizeof oidc[0]; i++)
                skip |= strcmp(word, oidc[i]) == 0;
            if (!skip && o + (o > 0) + n + 1 <= cap) {
                if (o > 0)
                    out[o++] = ' ';
                memcpy(out + o, word, n + 1);
                o += n;
            }
        }
        p += n;
        while (*p == ' ')
            p++;
    }
}

/* amr: the space-separated values as a JSON array (RFC 8176). */
static json_t *amr_array(const char *amr)
{
    json_t *arr = json_array();
    const char *p = amr;
    while (arr != NULL && *p != '\0') {
        size_t n = strcspn(p, " ");
        if (n > 0 && json_array_append_new(arr, json_stringn(p, n)) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return arr;
}

json_t *sd_grant_access_claims(const struct sg_tenant_cfg *t, const struct sd_grant *g,
                               json_t *aud, const char *api_scope, int64_t now, int64_t exp)
{
    json_t *amr = amr_array(g->amr);
    if (amr == NULL)
        return NULL;
    /* Exactly the members the signer's policy allows a person's access
     * token (docs/people.md, src/signer/policy.c); it adds the jti. */
    json_t *claims = json_pack("{s:s, s:s, s:O, s:I, s:I, s:I, s:s, s:I, s:s, s:o, s:s}", "iss",
                               t->issuer, "sub", g->user_id, "aud", aud, "exp", (json_int_t)exp,
                               "iat", (json_int_t)now, "nbf", (json_int_t)now, "client_id",
                               g->client_id, "auth_time", (json_int_t)g->auth_time, "acr", g->acr,
                               "amr", amr, "sid", g->sid);
    if (claims != NULL && api_scope[0] != '\0' &&
        json_object_set_new(claims, "scope", json_string(api_scope)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    return claims;
}

json_t *sd_grant_id_claims(const struct sg_tenant_cfg *t, const struct sd_grant *g)
{
    json_t *amr = amr_array(g->amr);
    if (amr == NULL)
        return NULL;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:s}", "iss", t->issuer,
                               "sub", g->user_id, "aud", g->client_id, "azp", g->client_id,
                               "auth_time", (json_int_t)g->auth_time, "acr", g->acr, "amr", amr,
                               "sid", g->sid);
    /* OIDC Core §3.1.3.6: the nonce of the authentication request, only
     * in the ID token of its code (§12.2: none after a refresh). */
    if (claims != NULL && g->nonce[0] != '\0' &&
        json_object_set_new(claims, "nonce", json_string(g->nonce)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    return claims;
}

int sd_grant_at_hash(const char *alg, const char *access_token, char *out, size_t cap)
{
    const EVP_MD *md = NULL;
    if (strcmp(alg, "ES256") == 0 || strcmp(alg, "PS256") == 0 || strcmp(alg, "RS256") == 0)
        md = EVP_sha256();
    else if (strcmp(alg, "ES384") == 0 || strcmp(alg, "PS384") == 0)
        md = EVP_sha384();
    else if (strcmp(alg, "ES512") == 0 || strcmp(alg, "PS512") == 0 ||
             strcmp(alg, "EdDSA") == 0 || strcmp(alg, "Ed25519") == 0)
        md = EVP_sha512(); /* Ed25519 signs with SHA-512 */
    if (md == NULL)
        return -1;
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(access_token, strlen(access_token), d, &n, md, NULL) != 1)
        return -1;
    return sg_b64url_encode(d, n / 2, out, cap) == SIGNET_OK ? 0 : -1;
}
