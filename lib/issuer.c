#include "issuer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define SG_NEVER (INT64_MIN / 4)

signet_err sg_issuer_init(struct sg_issuer *iss, const char *issuer, enum sg_src_kind kind,
                          const char *location, const uint8_t *json, size_t json_len)
{
    memset(iss, 0, sizeof *iss);
    iss->kind = kind;
    iss->fetched_at = iss->expires_at = iss->refresh_at = SG_NEVER;
    iss->last_attempt = iss->last_kid_refresh = SG_NEVER;
    iss->last_err = SIGNET_ERR_JWKS_UNAVAILABLE;
    iss->issuer = strdup(issuer);
    if (iss->issuer == NULL)
        goto nomem;
    if (location != NULL && (iss->location = strdup(location)) == NULL)
        goto nomem;
    if (json != NULL) {
        iss->json = malloc(json_len == 0 ? 1 : json_len);
        if (iss->json == NULL)
            goto nomem;
        memcpy(iss->json, json, json_len);
        iss->json_len = json_len;
    }
    if (pthread_mutex_init(&iss->lock, NULL) != 0)
        goto nomem;
    if (pthread_mutex_init(&iss->fetch_lock, NULL) != 0) {
        pthread_mutex_destroy(&iss->lock);
        goto nomem;
    }
    return SIGNET_OK;
nomem:
    free(iss->issuer);
    free(iss->location);
    free(iss->json);
    memset(iss, 0, sizeof *iss);
    return SIGNET_ERR_NOMEM;
}

void sg_issuer_destroy(struct sg_issuer *iss)
{
    if (iss->issuer == NULL)
        return;
    sg_keyset_unref(iss->set);
    pthread_mutex_destroy(&iss->lock);
    pthread_mutex_destroy(&iss->fetch_lock);
    free(iss->issuer);
    free(iss->location);
    free(iss->json);
    free(iss->jwks_uri);
    memset(iss, 0, sizeof *iss);
}

static char *concat(const char *a, size_t alen, const char *b, const char *c)
{
    size_t n = alen + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s != NULL)
        (void)snprintf(s, n, "%.*s%s%s", (int)alen, a, b, c);
    return s;
}

char *sg_discovery_url(const char *issuer, int which)
{
    if (!sg_url_is_http(issuer))
        return NULL;
    size_t len = strlen(issuer);
    if (which == 0) {
        /* OpenID Connect Discovery §4: appended to the issuer. */
        while (len > 0 && issuer[len - 1] == '/')
            len--;
        return concat(issuer, len, "/.well-known/openid-configuration", "");
    }
    /* RFC 8414 §3.1: inserted between the host and the path. */
    const char *host = strstr(issuer, "://") + 3;
    const char *path = strchr(host, '/');
    if (path == NULL)
        path = issuer + len;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    char *p = malloc(plen + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, path, plen);
    p[plen] = '\0';
    char *url = concat(issuer, (size_t)(path - issuer), "/.well-known/oauth-authorization-server", p);
    free(p);
    return url;
}

/* Fetches a discovery document and returns its jwks_uri after checking that
 * its issuer is exactly ours (RFC 8414 §3.3, OIDC Discovery §4.3). */
static signet_err discover(const struct sg_issuer *iss, const char *url,
                           const struct sg_cache_policy *pol, char **jwks_uri)
{
    struct sg_fetch_limits lim = pol->fetch;
    if (lim.max_bytes > SG_DOC_MAX)
        lim.max_bytes = SG_DOC_MAX;
    struct sg_fetch_result res;
    json_t *doc = NULL;
    signet_err err = sg_fetch_url(url, &lim, &res);
    if (err != SIGNET_OK)
        return err;
    err = sg_json_parse(res.body, res.len, SG_DOC_MAX, &doc);
    if (err != SIGNET_OK)
        goto out;
    const json_t *di = json_object_get(doc, "issuer");
    const json_t *ju = json_object_get(doc, "jwks_uri");
    if (!json_is_object(doc) || !json_is_string(di) || !json_is_string(ju)) {
        err = SIGNET_ERR_BAD_JSON;
        goto out;
    }
    if (json_string_length(di) != strlen(iss->issuer) ||
        strcmp(json_string_value(di), iss->issuer) != 0) {
        err = SIGNET_ERR_DISCOVERY_MISMATCH;
        goto out;
    }
    const char *u = json_string_value(ju);
    /* A document fetched over TLS may not downgrade the key set to HTTP. */
    if (!sg_url_is_http(u) || (sg_url_is_https(url) && !sg_url_is_https(u))) {
        err = SIGNET_ERR_BAD_JSON;
        goto out;
    }
    *jwks_uri = strdup(u);
    err = *jwks_uri == NULL ? SIGNET_ERR_NOMEM : SIGNET_OK;
out:
    json_decref(doc);
    sg_fetch_result_clear(&res);
    return err;
}

static signet_err fetch_discovery(const struct sg_issuer *iss, const struct sg_cache_policy *pol,
                                  char **jwks_uri)
{
    if (iss->location != NULL)
        return discover(iss, iss->location, pol, jwks_uri);
    signet_err err = SIGNET_ERR_CONFIG;
    for (int which = 0; which < 2; which++) {
        char *url = sg_discovery_url(iss->issuer, which);
        if (url == NULL)
            return SIGNET_ERR_NOMEM;
        err = discover(iss, url, pol, jwks_uri);
        free(url);
        /* Only an unreachable document falls back; a wrong one does not. */
        if (err != SIGNET_ERR_NOT_FOUND && err != SIGNET_ERR_NETWORK)
            break;
    }
    return err;
}

/* Fetches and parses; never touches the installed set. */
static signet_err load(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                       struct sg_keyset **set, int64_t *ttl, char **jwks_uri)
{
    struct sg_fetch_result res;
    signet_err err = SIGNET_OK;
    int64_t max_age = -1;
    memset(&res, 0, sizeof res);
    switch (iss->kind) {
    case SG_SRC_JSON:
        return sg_jwks_parse(iss->json, iss->json_len, pol->fetch.max_bytes, set);
    case SG_SRC_FILE:
        err = sg_fetch_file(iss->location, pol->fetch.max_bytes, &res);
        break;
    case SG_SRC_JWKS_URL:
        err = sg_fetch_url(iss->location, &pol->fetch, &res);
        break;
    case SG_SRC_DISCOVERY:
        err = fetch_discovery(iss, pol, jwks_uri);
        if (err == SIGNET_OK)
            err = sg_fetch_url(*jwks_uri, &pol->fetch, &res);
        break;
    default:
        err = SIGNET_ERR_INTERNAL;
        break;
    }
    if (err == SIGNET_OK) {
        max_age = iss->kind == SG_SRC_FILE ? -1 : res.max_age;
        err = sg_jwks_parse(res.body, res.len, pol->fetch.max_bytes, set);
    }
    sg_fetch_result_clear(&res);
    int64_t t = max_age >= 0 ? max_age : pol->ttl_default;
    *ttl = t < pol->ttl_min ? pol->ttl_min : t > pol->ttl_max ? pol->ttl_max : t;
    return err;
}

/* One fetch with fetch_lock held by the caller. */
static signet_err refresh_locked(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                                 int64_t now, int force, uint64_t seen_generation)
{
    pthread_mutex_lock(&iss->lock);
    int done_meanwhile = !force && iss->generation != seen_generation;
    signet_err err = iss->last_err;
    pthread_mutex_unlock(&iss->lock);
    if (done_meanwhile)
        return err;
    struct sg_keyset *set = NULL, *old = NULL;
    int64_t ttl = pol->ttl_default;
    char *jwks_uri = NULL;
    err = load(iss, pol, &set, &ttl, &jwks_uri);

    pthread_mutex_lock(&iss->lock);
    iss->last_attempt = now;
    iss->last_err = err;
    iss->generation++;
    iss->revalidate_asked = 0;
    if (err == SIGNET_OK) {
        old = iss->set;
        iss->set = set;
        iss->fetched_at = now;
        if (iss->kind == SG_SRC_JSON) {
            iss->expires_at = iss->refresh_at = INT64_MAX;
        } else {
            iss->expires_at = now + ttl;
            iss->refresh_at = now + ttl - ttl / 4; /* ahead of expiry */
        }
        if (jwks_uri != NULL) {
            free(iss->jwks_uri);
            iss->jwks_uri = jwks_uri;
            jwks_uri = NULL;
        }
    }
    pthread_mutex_unlock(&iss->lock);
    sg_keyset_unref(old); /* outside the lock: may free keys */
    free(jwks_uri);
    return err;
}

signet_err sg_issuer_refresh(struct sg_issuer *iss, const struct sg_cache_policy *pol, int64_t now,
                             int force, uint64_t seen_generation)
{
    pthread_mutex_lock(&iss->fetch_lock);
    signet_err err = refresh_locked(iss, pol, now, force, seen_generation);
    pthread_mutex_unlock(&iss->fetch_lock);
    return err;
}

static signet_err unavailable(signet_err last)
{
    return last == SIGNET_ERR_DISCOVERY_MISMATCH ? last : SIGNET_ERR_JWKS_UNAVAILABLE;
}

static int usable(const struct sg_issuer *iss, const struct sg_cache_policy *pol, int64_t now)
{
    return iss->set != NULL &&
           (now < iss->expires_at || now - iss->expires_at < pol->stale_max);
}

signet_err sg_issuer_acquire(struct sg_issuer *iss, const struct sg_cache_policy *pol, int64_t now,
                             struct sg_keyset **out, uint64_t *generation, int *wake)
{
    *out = NULL;
    *wake = 0;
    pthread_mutex_lock(&iss->lock);
    if (iss->set != NULL && now < iss->expires_at) {
        *out = sg_keyset_ref(iss->set);
        *generation = iss->generation;
        pthread_mutex_unlock(&iss->lock);
        return SIGNET_OK;
    }
    const int stale = usable(iss, pol, now);
    if (stale && pol->background) {
        /* Stale-while-revalidate: the refresh thread fetches, nobody waits. */
        if (!iss->revalidate_asked) {
            iss->revalidate_asked = 1;
            *wake = 1;
        }
        *out = sg_keyset_ref(iss->set);
        *generation = iss->generation;
        pthread_mutex_unlock(&iss->lock);
        return SIGNET_OK;
    }
    /* Expired or never loaded: try now, but not more than once per cooldown
     * while the source keeps failing. */
    int try_now = iss->last_attempt == SG_NEVER || iss->last_err == SIGNET_OK ||
                  now - iss->last_attempt >= pol->cooldown || now < iss->last_attempt;
    uint64_t seen = iss->generation;
    pthread_mutex_unlock(&iss->lock);
    if (try_now && stale) {
        /* No refresh thread: this caller revalidates, unless another thread
         * is already fetching; a usable set is never waited for. */
        if (pthread_mutex_trylock(&iss->fetch_lock) == 0) {
            signet_err ignored = refresh_locked(iss, pol, now, 0, seen);
            (void)ignored; /* recorded in last_err */
            pthread_mutex_unlock(&iss->fetch_lock);
        }
    } else if (try_now) {
        signet_err ignored = sg_issuer_refresh(iss, pol, now, 0, seen);
        (void)ignored; /* recorded in last_err */
    }

    signet_err err = SIGNET_OK;
    pthread_mutex_lock(&iss->lock);
    if (usable(iss, pol, now)) {
        *out = sg_keyset_ref(iss->set);
        *generation = iss->generation;
    } else {
        err = unavailable(iss->last_err);
    }
    pthread_mutex_unlock(&iss->lock);
    return err;
}

signet_err sg_issuer_refresh_for_kid(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                                     int64_t now, uint64_t seen_generation)
{
    if (iss->kind == SG_SRC_JSON)
        return SIGNET_ERR_BUSY;
    pthread_mutex_lock(&iss->lock);
    int cooling = iss->last_kid_refresh != SG_NEVER && now - iss->last_kid_refresh < pol->cooldown &&
                  now >= iss->last_kid_refresh;
    if (!cooling)
        iss->last_kid_refresh = now;
    pthread_mutex_unlock(&iss->lock);
    if (cooling)
        return SIGNET_ERR_BUSY;
    signet_err ignored = sg_issuer_refresh(iss, pol, now, 0, seen_generation);
    (void)ignored; /* recorded in last_err */
    return SIGNET_OK;
}

int sg_issuer_note_signer(struct sg_issuer *iss, const struct sg_cache_policy *pol, int64_t now,
                          const char *thumbprint)
{
    if (iss->kind == SG_SRC_JSON || !pol->background)
        return 0; /* nobody to refresh in the background */
    int wake = 0;
    pthread_mutex_lock(&iss->lock);
    size_t n = iss->n_signers < SG_SIGNERS_SEEN ? iss->n_signers : SG_SIGNERS_SEEN;
    int seen = 0;
    for (size_t i = 0; i < n && !seen; i++)
        seen = strcmp(iss->signers[i], thumbprint) == 0;
    int cooling = iss->last_kid_refresh != SG_NEVER && now - iss->last_kid_refresh < pol->cooldown &&
                  now >= iss->last_kid_refresh;
    /* The very first signer is no change; a change met while cooling down
     * is noted by a later signature. */
    if (!seen && (iss->n_signers == 0 || !cooling)) {
        if (iss->n_signers > 0) {
            iss->last_kid_refresh = now;
            iss->refresh_at = now; /* the thread's next round refreshes */
            wake = 1;
        }
        char *slot = iss->signers[iss->n_signers % SG_SIGNERS_SEEN];
        (void)snprintf(slot, sizeof iss->signers[0], "%s", thumbprint);
        iss->n_signers++;
    }
    pthread_mutex_unlock(&iss->lock);
    return wake;
}

int64_t sg_issuer_refresh_due(struct sg_issuer *iss, const struct sg_cache_policy *pol,
                              int64_t now)
{
    if (iss->kind == SG_SRC_JSON)
        return INT64_MAX;
    pthread_mutex_lock(&iss->lock);
    int64_t due = iss->refresh_at;
    if (iss->last_attempt != SG_NEVER && iss->last_err != SIGNET_OK &&
        iss->last_attempt + pol->cooldown > due)
        due = iss->last_attempt + pol->cooldown; /* failing source: back off */
    if (iss->set == NULL && iss->last_attempt == SG_NEVER)
        due = now;
    pthread_mutex_unlock(&iss->lock);
    return due == SG_NEVER ? 0 : due - now;
}
