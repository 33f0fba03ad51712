/* The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2, PKCE
 * RFC 7636 with S256 only, RFC 9207 iss, RFC 9470 step-up), pushed
 * authorization requests (RFC 9126) and userinfo (OIDC Core §5.3).
 *
 * Until the client and its redirect URI are known good, every error is a
 * page of signet's own and never a redirect (RFC 6749 §4.1.2.1: no open
 * redirector); after that, errors go back to the client with state and
 * iss. */
#include "signetd/signin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/oauth_req.h"
#include "json.h"
#include "signet/verify.h"
#include "signetd/ctx.h"
#include "signetd/meta.h"
#include "signetd/pages.h"
#include "store/people.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"

#define AUTHREQ_TTL 600  /* a request waiting for its sign-in: 10 min */
#define CODE_TTL 60      /* an authorization code: 60 s */
#define PAR_TTL 60       /* a pushed request: 60 s (RFC 9126 §2.2) */
#define PAR_PREFIX "urn:ietf:params:oauth:request_uri:"

/* Scopes of OpenID Connect itself, never an API's. */
static int oidc_scope(const char *s, size_t n)
{
    static const char *const names[] = {"openid", "profile", "email", "offline_access"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return 1;
    return 0;
}

static int b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

static int copy_param(const struct sg_form *f, const char *name, char *out, size_t cap)
{
    const char *v = sg_form_get(f, name);
    out[0] = '\0';
    if (v == NULL)
        return 0;
    if (strlen(v) >= cap)
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* The parameters after the redirect URI (§3.1.2.1 order of checks): 0, or
 * the error code with why. */
static const char *check_params(const struct sg_form *f, const struct sg_client *cl,
                                struct sg_authreq *q, char *why, size_t whylen)
{
    if (copy_param(f, "state", q->state, sizeof q->state) != 0) {
        (void)snprintf(why, whylen, "state is too long");
        return "invalid_request";
    }
    const char *rt = sg_form_get(f, "response_type");
    if (rt == NULL || strcmp(rt, "code") != 0) {
        (void)snprintf(why, whylen, "response_type must be code (the code flow is the only one)");
        return "unsupported_response_type";
    }
    if (sg_form_get(f, "request") != NULL) {
        (void)snprintf(why, whylen, "request objects are not supported: use PAR");
        return "request_not_supported";
    }
    const char *cc = sg_form_get(f, "code_challenge");
    const char *ccm = sg_form_get(f, "code_challenge_method");
    if (cc == NULL) {
        (void)snprintf(why, whylen, "PKCE is required: send code_challenge with "
                                    "code_challenge_method=S256");
        return "invalid_request";
    }
    if (ccm == NULL || strcmp(ccm, "S256") != 0) {
        (void)snprintf(why, whylen, "code_challenge_method must be S256");
        return "invalid_request";
    }
    if (strlen(cc) != SG_PEOPLE_HASH_LEN || !b64url_chars(cc, strlen(cc))) {
        (void)snprintf(why, whylen, "code_challenge must be the base64url SHA-256 of the "
                                    "verifier (43 characters)");
        return "invalid_request";
    }
    memcpy(q->code_challenge, cc, SG_PEOPLE_HASH_LEN + 1);
    if (copy_param(f, "scope", q->scope, sizeof q->scope) != 0 ||
        (q->scope[0] != '\0' && !sg_scope_valid(q->scope))) {
        (void)snprintf(why, whylen, "scope must be space-separated scope tokens");
        return "invalid_scope";
    }
    for (const char *p = q->scope; *p != '\0';) {
        size_t n = strcspn(p, " ");
        char word[128];
        if (n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
        }
        if (n >= sizeof word || (!oidc_scope(p, n) && !sg_list_contains(cl->scopes, word))) {
            (void)snprintf(why, whylen, "scope '%.*s' is not allowed for this client",
                           (int)(n > 100 ? 100 : n), p);
            return "invalid_scope";
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    if (copy_param(f, "nonce", q->nonce, sizeof q->nonce) != 0) {
        (void)snprintf(why, whylen, "nonce is too long");
        return "invalid_request";
    }
    if (copy_param(f, "acr_values", q->acr_values, sizeof q->acr_values) != 0) {
        (void)snprintf(why, whylen, "acr_values is too long");
        return "invalid_request";
    }
    if (copy_param(f, "prompt", q->prompt, sizeof q->prompt) != 0) {
        (void)snprintf(why, whylen, "prompt is too long");
        return "invalid_request";
    }
    int none = 0, words = 0;
    for (const char *p = q->prompt; *p != '\0';) {
        size_t n = strcspn(p, " ");
        static const char *const ok[] = {"none", "login", "consent", "select_account"};
        int known = 0;
        for (size_t i = 0; i < 4; i++)
            known |= strlen(ok[i]) == n && strncmp(p, ok[i], n) == 0;
        if (!known) {
            (void)snprintf(why, whylen, "prompt may be none, login, consent or select_account");
            return "invalid_request";
        }
        none |= n == 4 && strncmp(p, "none", 4) == 0;
        words++;
        p += n;
        while (*p == ' ')
            p++;
    }
    if (none && words > 1) {
        (void)snprintf(why, whylen, "prompt=none cannot be combined with another value");
        return "invalid_request";
    }
    q->max_age = -1;
    const char *ma = sg_form_get(f, "max_age");
    if (ma != NULL) {
        char *end = NULL;
        long long v = strtoll(ma, &end, 10);
        if (ma[0] < '0' || ma[0] > '9' || *end != '\0' || v < 0 || v > 100000000LL) {
            (void)snprintf(why, whylen, "max_age must be a non-negative number of seconds");
            return "invalid_request";
        }
        q->max_age = v;
    }
    return NULL;
}

/* The client and its redirect URI (errors are pages). 0 when good. */
static int client_and_redirect(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                               const struct sg_form *f, struct sg_client *cl, struct sd_resp *r)
{
    const char *id = sg_form_get(f, "client_id");
    if (id == NULL || strlen(id) >= SG_STORE_CLIENT_ID_MAX) {
        sd_page_error(r, 400, "Bad request", "The request names no valid client_id.");
        return -1;
    }
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_store_client_get(c->store, t->name, id, cl);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_page_error(r, err == SIGNET_ERR_NOT_FOUND ? 400 : 503, "Unknown application",
                      err == SIGNET_ERR_NOT_FOUND ? "No application with this client_id is "
                                                    "registered here."
                                                  : "The service is unavailable.");
        return -1;
    }
    if ((cl->grants & SG_GRANT_AUTHORIZATION_CODE) == 0) {
        sd_page_error(r, 400, "Application not allowed",
                      "This application may not sign people in (no authorization_code grant).");
        return -1;
    }
    return 0;
}

static int redirect_ok(const struct sg_client *cl, const char *uri)
{
    return uri != NULL && uri[0] != '\0' && strlen(uri) < SG_PEOPLE_URI_MAX &&
           cl->redirect_uris != NULL && sg_list_contains(cl->redirect_uris, uri);
}

/* An error back to the client (RFC 6749 §4.1.2.1, RFC 9207 iss). */
static void redirect_error(struct sd_resp *r, const struct sg_tenant_cfg *t,
                           const struct sg_authreq *q, const char *code, const char *why)
{
    (void)snprintf(r->location, sizeof r->location, "%s", q->redirect_uri);
    if (sd_people_append_param(r->location, sizeof r->location, "error", code) != 0 ||
        sd_people_append_param(r->location, sizeof r->location, "error_description", why) != 0 ||
        (q->state[0] != '\0' &&
         sd_people_append_param(r->location, sizeof r->location, "state", q->state) != 0) ||
        sd_people_append_param(r->location, sizeof r->location, "iss", t->issuer) != 0) {
        r->location[0] = '\0';
        sd_page_error(r, 400, "Bad request", "The request cannot be answered.");
        return;
    }
    r->status = 302;
    sg_log(SG_LOG_INFO, "authorize_refused", "tenant=%s client=%s error=%s", t->name,
           q->client_id, code);
}

signet_err sd_oidc_code_redirect(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                 const struct sg_authreq *q, const struct sg_session *s,
                                 char *location, size_t cap)
{
    char code[64];
    struct sg_authcode ac;
    memset(&ac, 0, sizeof ac);
    if (sd_people_random(32, code, sizeof code) != 0)
        return SIGNET_ERR_CRYPTO;
    const int64_t now = sg_clock_now();
    (void)snprintf(ac.tenant, sizeof ac.tenant, "%s", t->name);
    sd_people_hash(code, strlen(code), ac.hash);
    (void)snprintf(ac.client_id, sizeof ac.client_id, "%s", q->client_id);
    (void)snprintf(ac.redirect_uri, sizeof ac.redirect_uri, "%s", q->redirect_uri);
    (void)snprintf(ac.code_challenge, sizeof ac.code_challenge, "%s", q->code_challenge);
    (void)snprintf(ac.user_id, sizeof ac.user_id, "%s", s->user_id);
    (void)snprintf(ac.sid, sizeof ac.sid, "%s", s->sid);
    (void)snprintf(ac.scope, sizeof ac.scope, "%s", q->scope);
    (void)snprintf(ac.nonce, sizeof ac.nonce, "%s", q->nonce);
    (void)snprintf(ac.acr, sizeof ac.acr, "%s", s->acr);
    (void)snprintf(ac.amr, sizeof ac.amr, "%s", s->amr);
    ac.auth_time = s->auth_time;
    ac.expires_at = now + CODE_TTL;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_code_put(c->store, &ac);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK)
        return err;
    (void)snprintf(location, cap, "%s", q->redirect_uri);
    if (sd_people_append_param(location, cap, "code", code) != 0 ||
        (q->state[0] != '\0' && sd_people_append_param(location, cap, "state", q->state) != 0) ||
        sd_people_append_param(location, cap, "iss", t->issuer) != 0)
        return SIGNET_ERR_TOO_LARGE;
    sg_log(SG_LOG_INFO, "code_issued", "tenant=%s client=%s user=%s sid=%s", t->name,
           q->client_id, s->user_id, s->sid);
    return SIGNET_OK;
}

static int parse_src(const struct sd_people_in *in, struct sg_form *f)
{
    int post = strcmp(in->method, "POST") == 0;
    const char *src = post ? in->body : in->query;
    size_t len = post ? in->len : strlen(in->query);
    return sg_form_parse(src, len, SD_PEOPLE_MAX_BODY, NULL, f) == SIGNET_OK ? 0 : -1;
}

void sd_oidc_authorize(struct sd_ctx *c, const struct sg_config *cfg,
                       const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                       struct sd_resp *r)
{
    (void)cfg;
    struct sg_form f;
    struct sg_client cl;
    struct sg_authreq q;
    char why[300];
    memset(&f, 0, sizeof f);
    memset(&cl, 0, sizeof cl);
    memset(&q, 0, sizeof q);
    const int64_t now = sg_clock_now();
    if (parse_src(in, &f) != 0) {
        sd_page_error(r, 400, "Bad request",
                      "The authorization request is malformed (a parameter twice, a bad "
                      "%-escape or too many parameters).");
        return;
    }
    if (client_and_redirect(c, t, &f, &cl, r) != 0)
        goto out;
    const char *request_uri = sg_form_get(&f, "request_uri");
    if (request_uri != NULL) {
        /* RFC 9126 §4: the pushed request, once, by the client that pushed it. */
        size_t pl = strlen(PAR_PREFIX);
        signet_err err = SIGNET_ERR_NOT_FOUND;
        if (strncmp(request_uri, PAR_PREFIX, pl) == 0 &&
            strlen(request_uri + pl) < SG_PEOPLE_ID_MAX) {
            pthread_mutex_lock(&c->store_lock);
            err = sg_people_authreq_get(c->store, t->name, request_uri + pl, now, &q);
            if (err == SIGNET_OK)
                err = sg_people_authreq_delete(c->store, t->name, request_uri + pl);
            pthread_mutex_unlock(&c->store_lock);
        }
        if (err != SIGNET_OK || !q.par || strcmp(q.client_id, cl.client_id) != 0) {
            sd_page_error(r, 400, "Request expired",
                          "The pushed authorization request (request_uri) is unknown, used, "
                          "expired or another application's.");
            goto out;
        }
        q.par = 0;
    } else {
        if (cl.require_par) {
            sd_page_error(r, 400, "Bad request",
                          "This application must push its authorization requests (PAR, "
                          "RFC 9126).");
            goto out;
        }
        const char *ru = sg_form_get(&f, "redirect_uri");
        if (!redirect_ok(&cl, ru)) {
            sd_page_error(r, 400, "Bad redirect_uri",
                          "The redirect_uri is missing or is not registered, exactly, for this "
                          "application.");
            goto out;
        }
        (void)snprintf(q.redirect_uri, sizeof q.redirect_uri, "%s", ru);
        (void)snprintf(q.client_id, sizeof q.client_id, "%s", cl.client_id);
        (void)snprintf(q.tenant, sizeof q.tenant, "%s", t->name);
        const char *code = check_params(&f, &cl, &q, why, sizeof why);
        if (code != NULL) {
            redirect_error(r, t, &q, code, why);
            goto out;
        }
    }
    struct sg_session s;
    if (sd_session_of(c, t, in->cookie, &s) == SIGNET_OK && sd_session_satisfies(&s, &q, now)) {
        if (sd_oidc_code_redirect(c, t, &q, &s, r->location, sizeof r->location) != SIGNET_OK) {
            r->location[0] = '\0';
            redirect_error(r, t, &q, "temporarily_unavailable", "the store is unavailable");
            goto out;
        }
        r->status = 302;
        goto out;
    }
    if (strstr(q.prompt, "none") != NULL) {
        redirect_error(r, t, &q, "login_required",
                       "a sign-in is needed and prompt=none forbids asking for one");
        goto out;
    }
    if (sd_people_random(16, q.id, sizeof q.id) != 0) {
        sd_page_error(r, 500, "Server error", "No randomness is available.");
        goto out;
    }
    q.expires_at = now + AUTHREQ_TTL;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_authreq_put(c->store, &q);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        redirect_error(r, t, &q, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    r->status = 303;
    (void)snprintf(r->location, sizeof r->location, "/t/%s/signin?req=%s", t->name, q.id);
out:
    sg_client_clear(&cl);
    sg_form_clear(&f);
}

/* ---- PAR (RFC 9126) -------------------------------------------------------------- */

/* Not built yet (issue 13 left open): PAR needs the token endpoint's client
 * authentication without a grant_type; until then it answers 501. */
static int sd_token_client_auth(struct sd_ctx *c, const struct sg_config *cfg,
                                const struct sg_tenant_cfg *t, const char *body, size_t len,
                                const char *authz, struct sg_client *cl, struct sd_resp *r)
{
    (void)c; (void)cfg; (void)t; (void)body; (void)len; (void)authz; (void)cl;
    sd_people_json_error(r, 501, "invalid_request", "PAR is not available yet");
    return -1;
}

void sd_oidc_par(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                 const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_form f;
    struct sg_client cl;
    struct sg_authreq q;
    char why[300];
    memset(&f, 0, sizeof f);
    memset(&cl, 0, sizeof cl);
    memset(&q, 0, sizeof q);
    if (sg_form_parse(in->body, in->len, SD_PEOPLE_MAX_BODY, NULL, &f) != SIGNET_OK) {
        sd_people_json_error(r, 400, "invalid_request", "malformed form body");
        return;
    }
    if (sd_token_client_auth(c, cfg, t, in->body, in->len, in->authz, &cl, r) != 0)
        goto out;
    if ((cl.grants & SG_GRANT_AUTHORIZATION_CODE) == 0) {
        sd_people_json_error(r, 400, "unauthorized_client",
                             "this client may not use the authorization code flow");
        goto out;
    }
    if (sg_form_get(&f, "request_uri") != NULL) {
        sd_people_json_error(r, 400, "invalid_request", "request_uri is not allowed in PAR");
        goto out;
    }
    const char *ru = sg_form_get(&f, "redirect_uri");
    if (!redirect_ok(&cl, ru)) {
        sd_people_json_error(r, 400, "invalid_request",
                             "redirect_uri is missing or not registered for this client");
        goto out;
    }
    (void)snprintf(q.redirect_uri, sizeof q.redirect_uri, "%s", ru);
    (void)snprintf(q.client_id, sizeof q.client_id, "%s", cl.client_id);
    (void)snprintf(q.tenant, sizeof q.tenant, "%s", t->name);
    const char *code = check_params(&f, &cl, &q, why, sizeof why);
    if (code != NULL) {
        sd_people_json_error(r, 400, code, why);
        goto out;
    }
    const int64_t now = sg_clock_now();
    if (sd_people_random(24, q.id, sizeof q.id) != 0) {
        sd_people_json_error(r, 500, "server_error", "no randomness");
        goto out;
    }
    q.par = 1;
    q.expires_at = now + PAR_TTL;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_authreq_put(c->store, &q);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    char uri[128];
    (void)snprintf(uri, sizeof uri, PAR_PREFIX "%s", q.id);
    json_t *o = json_pack("{s:s, s:i}", "request_uri", uri, "expires_in", PAR_TTL);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        goto out;
    }
    sd_resp_json(r, 201, text);
    free(text);
out:
    sg_client_clear(&cl);
    sg_form_clear(&f);
}

/* ---- userinfo (OIDC Core §5.3) --------------------------------------------------- */

static void userinfo_fail(struct sd_resp *r, const struct sg_tenant_cfg *t, const char *code,
                          const char *why)
{
    sd_people_json_error(r, 401, code, why);
    (void)t;
    (void)snprintf(r->www_auth, sizeof r->www_auth, "Bearer error=\"%.40s\", error_description=\"%.200s\"",
                   code, why);
}

/* The unverified first audience of a JWT, to configure the verifier with
 * (the signature, issuer and expiry are what bind it). */
static int peek_aud(const char *token, char *out, size_t cap)
{
    const char *p = strchr(token, '.');
    const char *q = p != NULL ? strchr(p + 1, '.') : NULL;
    if (q == NULL)
        return -1;
    uint8_t raw[8192];
    size_t n = 0;
    json_t *o = NULL;
    if (sg_b64url_decode(p + 1, (size_t)(q - p - 1), raw, sizeof raw, &n) != SIGNET_OK ||
        sg_json_parse(raw, n, sizeof raw, &o) != SIGNET_OK)
        return -1;
    const json_t *aud = json_object_get(o, "aud");
    const char *a = json_is_array(aud) ? json_string_value(json_array_get(aud, 0))
                                       : json_string_value(aud);
    int ok = a != NULL && strlen(a) < cap;
    if (ok)
        (void)snprintf(out, cap, "%s", a);
    json_decref(o);
    return ok ? 0 : -1;
}

void sd_oidc_userinfo(struct sd_ctx *c, const struct sg_config *cfg,
                      const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                      struct sd_resp *r)
{
    (void)cfg;
    const char *authz = in->authz;
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0 || strlen(authz + 7) > 8000) {
        userinfo_fail(r, t, "invalid_token", "a Bearer access token is required");
        return;
    }
    const char *token = authz + 7;
    char aud[600];
    char *jwks = NULL;
    signet_verifier_config *vc = NULL;
    signet_verifier *v = NULL;
    signet_claims *claims = NULL;
    if (peek_aud(token, aud, sizeof aud) != 0) {
        userinfo_fail(r, t, "invalid_token", "the access token is malformed");
        return;
    }
    signet_err err = sd_jwks_current(c, t, &jwks);
    if (err == SIGNET_OK)
        err = signet_verifier_config_new(&vc);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_issuer_jwks_json(vc, t->issuer, jwks, strlen(jwks));
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(vc, aud);
    for (size_t i = 0; err == SIGNET_OK && i < t->n_algs; i++)
        err = signet_verifier_config_allow_alg(vc, t->algs[i]);
    if (err == SIGNET_OK)
        err = signet_verifier_new(vc, &v);
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "cannot verify tokens now");
        goto out;
    }
    err = signet_verify(v, token, strlen(token), NULL, &claims);
    const char *sub = NULL;
    const char *sid = NULL;
    if (err != SIGNET_OK || signet_claims_get_string(claims, "sub", &sub) != SIGNET_OK ||
        signet_claims_get_string(claims, "sid", &sid) != SIGNET_OK) {
        userinfo_fail(r, t, "invalid_token",
                      err != SIGNET_OK ? "the access token is invalid or expired"
                                       : "the access token is not a person's");
        goto out;
    }
    struct sg_user u;
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_user_get(c->store, t->name, sub, &u);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK || u.disabled) {
        userinfo_fail(r, t, "invalid_token", "the user is disabled or gone");
        goto out;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "sub", u.id, "preferred_username", u.name, "name",
                          u.name);
    if (o != NULL && u.email[0] != '\0')
        (void)json_object_set_new(o, "email", json_string(u.email));
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        goto out;
    }
    sd_resp_json(r, 200, text);
    free(text);
out:
    signet_claims_free(claims);
    signet_verifier_free(v);
    signet_verifier_config_free(vc);
    free(jwks);
}
