/* People sign in (issue 13, docs/people.md): the sign-in and enrolment
 * pages, their WebAuthn ceremonies (webauthn.c verifies), browser
 * sessions in __Host- cookies (only their hashes stored), CSRF tokens
 * bound to a browser cookie, the account page and logout. A failed
 * ceremony changes nothing but the challenge it used up. */
#include "signetd/signin.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/oauth_req.h"
#include "json.h"
#include "signet/verify.h"
#include "signetd/auth.h"
#include "signetd/authzreq.h"
#include "signetd/ctx.h"
#include "signetd/meta.h"
#include "signetd/nonce.h"
#include "signetd/pages.h"
#include "signetd/password.h"
#include "signetd/telemetry.h"
#include "signetd/token.h"
#include "signetd/webauthn.h"
#include "store/people.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"

/* An id_token_hint at logout: no older than a refresh family may live. */
#define SD_HINT_MAX_AGE (30 * 24 * 3600)

#define CHALLENGE_TTL 300     /* a ceremony's challenge: 5 min (WebAuthn timeout) */
#define SESSION_IDLE 1800     /* 30 min without a request ends a session */
#define SESSION_MAX 36000     /* 10 h at most */
#define REAUTH_WINDOW 300     /* adding a factor needs a sign-in this recent */
#define CSRF_COOKIE "__Host-signet-csrf"
#define ACR_PHR "urn:signet:acr:phr"
#define ACR_MFA "urn:signet:acr:mfa"
#define MAX_SIG 1024u

/* ---- small helpers ---------------------------------------------------------- */

static const struct {
    const char *path;
    enum sd_people_route route;
} routes[] = {
    {"/authorize", SD_P_AUTHORIZE}, {"/par", SD_P_PAR},         {"/signin", SD_P_SIGNIN},
    {"/webauthn/options", SD_P_OPTIONS}, {"/enrol", SD_P_ENROL}, {"/account", SD_P_ACCOUNT},
    {"/logout", SD_P_LOGOUT},       {"/userinfo", SD_P_USERINFO},
    {"/signin/password", SD_P_PASSWORD}, {"/account/password", SD_P_SET_PASSWORD},
    {"/signin/approval", SD_P_APPROVAL}, {"/signin/approval/status", SD_P_APPROVAL_STATUS},
    {"/signin/totp", SD_P_TOTP},         {"/account/totp", SD_P_ACCOUNT_TOTP},
    {"/account/device", SD_P_ACCOUNT_DEVICE}, {"/approver/register", SD_P_APPROVER_REGISTER},
    {"/approver/pending", SD_P_APPROVER_PENDING}, {"/approver/answer", SD_P_APPROVER_ANSWER},
};

enum sd_people_route sd_people_route_of(const char *rest)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(rest, routes[i].path) == 0)
            return routes[i].route;
    return SD_P_NONE;
}

int sd_people_form_body(enum sd_people_route r)
{
    return r == SD_P_PAR || r == SD_P_USERINFO || r == SD_P_AUTHORIZE;
}

void sd_people_hash(const char *s, size_t n, char out[SG_PEOPLE_HASH_LEN + 1])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)s, n, d);
    if (sg_b64url_encode(d, sizeof d, out, SG_PEOPLE_HASH_LEN + 1) != SIGNET_OK)
        out[0] = '\0';
}

int sd_people_random(size_t n, char *out, size_t cap)
{
    uint8_t raw[64];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return -1;
    signet_err err = sg_b64url_encode(raw, n, out, cap);
    OPENSSL_cleanse(raw, sizeof raw);
    return err == SIGNET_OK ? 0 : -1;
}

int sd_issuer_origin(const struct sg_tenant_cfg *t, char *origin, size_t ocap, char *host,
                     size_t hcap)
{
    const char *iss = t->issuer;
    const char *p = strstr(iss, "://");
    if (p == NULL)
        return -1;
    const char *auth = p + 3;
    size_t alen = strcspn(auth, "/?#");
    size_t olen = (size_t)(auth - iss) + alen;
    if (alen == 0 || olen >= ocap)
        return -1;
    memcpy(origin, iss, olen);
    origin[olen] = '\0';
    /* The host: the authority without userinfo (none in an issuer) and port. */
    size_t hlen = 0;
    const char *h = auth;
    if (h[0] == '[') {
        const char *end = memchr(h, ']', alen);
        if (end == NULL)
            return -1;
        h++;
        hlen = (size_t)(end - h);
    } else {
        const char *colon = memchr(h, ':', alen);
        hlen = colon != NULL ? (size_t)(colon - h) : alen;
    }
    if (hlen == 0 || hlen >= hcap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    for (char *q = host; *q != '\0'; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    return 0;
}

void sd_people_json_error(struct sd_resp *r, unsigned status, const char *code, const char *why)
{
    sd_resp_oauth_error(r, status, code, why);
}

static void session_cookie_name(const struct sg_tenant_cfg *t, char *out, size_t cap)
{
    (void)snprintf(out, cap, "__Host-signet-%s", t->name);
}

static void add_cookie(struct sd_resp *r, const char *fmt_name, const char *value,
                       const char *same_site, int64_t max_age)
{
    for (size_t i = 0; i < sizeof r->cookies / sizeof r->cookies[0]; i++)
        if (r->cookies[i][0] == '\0') {
            (void)snprintf(r->cookies[i], sizeof r->cookies[i],
                           "%s=%s; Path=/; Secure; HttpOnly; SameSite=%s; Max-Age=%lld", fmt_name,
                           value, same_site, (long long)max_age);
            return;
        }
}

/* ---- CSRF ------------------------------------------------------------------- */

static int csrf_of(const char *browser, char out[44])
{
    uint8_t mac[32];
    if (sd_front_mac("csrf", browser, strlen(browser), mac) != 0)
        return -1;
    return sg_b64url_encode(mac, sizeof mac, out, 44) == SIGNET_OK ? 0 : -1;
}

/* The page's CSRF token; a browser without the CSRF cookie gets one. */
int sd_people_page_csrf(const struct sd_people_in *in, struct sd_resp *r, char out[44])
{
    char browser[64];
    if (sd_cookie_get(in->cookie, CSRF_COOKIE, browser, sizeof browser) != 0 ||
        !sd_cookie_token(browser)) {
        if (sd_people_random(32, browser, sizeof browser) != 0)
            return -1;
        add_cookie(r, CSRF_COOKIE, browser, "Strict", SESSION_MAX);
    }
    return csrf_of(browser, out);
}

/* A POST from the issuer's own pages: its Origin is the issuer's and its
 * body carries the token made for its browser cookie. */
int sd_people_csrf_ok(const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                      const char *token, const char **why)
{
    char origin[600], host[300], browser[64], want[44];
    if (sd_issuer_origin(t, origin, sizeof origin, host, sizeof host) != 0) {
        *why = "the issuer URL has no origin";
        return 0;
    }
    if (in->origin == NULL || strcmp(in->origin, origin) != 0) {
        *why = "the request's Origin is not this server's";
        return 0;
    }
    if (token == NULL || sd_cookie_get(in->cookie, CSRF_COOKIE, browser, sizeof browser) != 0 ||
        !sd_cookie_token(browser) || csrf_of(browser, want) != 0 || strlen(token) != strlen(want) ||
        CRYPTO_memcmp(token, want, strlen(want)) != 0) {
        *why = "missing or invalid CSRF token: reload the page";
        return 0;
    }
    return 1;
}

/* ---- sessions ------------------------------------------------------------- */

signet_err sd_session_of(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *cookie,
                         struct sg_session *out)
{
    char name[96], value[64], hash[SG_PEOPLE_HASH_LEN + 1];
    session_cookie_name(t, name, sizeof name);
    if (sd_cookie_get(cookie, name, value, sizeof value) != 0 || !sd_cookie_token(value))
        return SIGNET_ERR_NOT_FOUND;
    sd_people_hash(value, strlen(value), hash);
    OPENSSL_cleanse(value, sizeof value);
    const int64_t now = sg_clock_now();
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_session_get(c->store, t->name, hash, now, out);
    if (err == SIGNET_OK) {
        int64_t idle = now + SESSION_IDLE;
        if (idle > out->expires_at)
            idle = out->expires_at;
        if (sg_people_session_touch(c->store, t->name, hash, now, idle) != SIGNET_OK)
            sg_log(SG_LOG_WARN, "session_touch_failed", "tenant=%s sid=%s", t->name, out->sid);
    }
    pthread_mutex_unlock(&c->store_lock);
    return err;
}

/* The rank of an acr value: 2 phishing-resistant, 1 multi-factor, 0 not
 * signet's. */
static int acr_rank(const char *acr, size_t n)
{
    if (n == strlen(ACR_PHR) && strncmp(acr, ACR_PHR, n) == 0)
        return 2;
    if (n == strlen(ACR_MFA) && strncmp(acr, ACR_MFA, n) == 0)
        return 1;
    return 0;
}

int sd_session_satisfies(const struct sg_session *s, const struct sg_authreq *q, int64_t now)
{
    if (strstr(q->prompt, "login") != NULL)
        return 0;
    /* OIDC Core §3.1.2.1: max_age=0 is prompt=login. */
    if (q->max_age == 0 || (q->max_age > 0 && now - s->auth_time > q->max_age))
        return 0;
    /* acr_values (RFC 9470 §4): the least of signet's values listed must
     * be met; values signet does not know are voluntary. */
    int need = 3, have = acr_rank(s->acr, strlen(s->acr));
    for (const char *p = q->acr_values; *p != '\0';) {
        size_t n = strcspn(p, " ");
        int rank = acr_rank(p, n);
        if (rank > 0 && rank < need)
            need = rank;
        p += n;
        while (*p == ' ')
            p++;
    }
    return need == 3 || have >= need;
}

/* Starts a new session (a new id at every sign-in: no fixation) and sets
 * its cookie; the session the browser had, if any, is revoked. */
signet_err sd_people_session_start(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                   const struct sd_people_in *in, const char *user_id,
                                   const char *acr, const char *amr, struct sd_resp *r,
                                   struct sg_session *out)
{
    char value[64];
    memset(out, 0, sizeof *out);
    if (sd_people_random(32, value, sizeof value) != 0 ||
        sd_people_random(16, out->sid, sizeof out->sid) != 0)
        return SIGNET_ERR_CRYPTO;
    const int64_t now = sg_clock_now();
    (void)snprintf(out->tenant, sizeof out->tenant, "%s", t->name);
    sd_people_hash(value, strlen(value), out->hash);
    (void)snprintf(out->user_id, sizeof out->user_id, "%s", user_id);
    (void)snprintf(out->acr, sizeof out->acr, "%s", acr);
    (void)snprintf(out->amr, sizeof out->amr, "%s", amr);
    out->auth_time = now;
    out->created_at = now;
    out->last_seen = now;
    out->idle_expires = now + SESSION_IDLE;
    out->expires_at = now + SESSION_MAX;
    struct sg_session old;
    int had = sd_session_of(c, t, in->cookie, &old) == SIGNET_OK;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_session_create(c->store, out);
    if (err == SIGNET_OK && had && sg_people_session_revoke(c->store, t->name, old.sid, now) !=
                                       SIGNET_OK)
        sg_log(SG_LOG_WARN, "session_revoke_failed", "tenant=%s sid=%s", t->name, old.sid);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_OK) {
        char name[96];
        session_cookie_name(t, name, sizeof name);
        add_cookie(r, name, value, "Lax", SESSION_MAX);
        sg_log(SG_LOG_INFO, "session_started", "tenant=%s user=%s sid=%s acr=%s addr=%s",
               t->name, user_id, out->sid, acr, sd_auth_peer());
    }
    OPENSSL_cleanse(value, sizeof value);
    return err;
}

/* ---- request bodies ----------------------------------------------------------- */

json_t *sd_people_body(const struct sd_people_in *in)
{
    json_t *o = NULL;
    if (sg_json_parse((const uint8_t *)in->body, in->len, SD_PEOPLE_MAX_BODY, &o) != SIGNET_OK)
        return NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string member of at most cap - 1 bytes without NUL ("" when absent
 * and optional). -1 when missing (and required), not a string or too long. */
int sd_people_str(const json_t *o, const char *name, int required, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, name);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A base64url member decoded into buf (at most cap bytes). */
static int b64_member(const json_t *o, const char *name, uint8_t *buf, size_t cap, size_t *n)
{
    const json_t *v = json_object_get(o, name);
    *n = 0;
    if (!json_is_string(v))
        return -1;
    return sg_b64url_decode(json_string_value(v), json_string_length(v), buf, cap, n) ==
                   SIGNET_OK
               ? 0
               : -1;
}

void sd_people_answer(struct sd_resp *r, unsigned status, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        return;
    }
    sd_resp_json(r, status, text);
    free(text);
}

void sd_people_location(struct sd_resp *r, const char *location)
{
    sd_people_answer(r, 200, json_pack("{s:s}", "location", location));
}

/* The ceremony's expectations for this tenant. */
struct rp {
    char origin[600];
    char host[300];
};

static int rp_of(const struct sg_tenant_cfg *t, struct rp *rp)
{
    return sd_issuer_origin(t, rp->origin, sizeof rp->origin, rp->host, sizeof rp->host);
}

/* ---- POST /webauthn/options ------------------------------------------------- */

static json_t *cred_params(void)
{
    return json_pack("[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}]", "type", "public-key", "alg", -7,
                     "type", "public-key", "alg", -8, "type", "public-key", "alg", -257);
}

static json_t *exclude_list(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id)
{
    json_t *arr = json_array();
    struct sg_passkey *keys = NULL;
    size_t n = 0;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_passkey_list(c->store, t->name, user_id, &keys, &n);
    pthread_mutex_unlock(&c->store_lock);
    for (size_t i = 0; err == SIGNET_OK && arr != NULL && i < n; i++) {
        char *id = NULL;
        if (sg_b64url_encode_alloc(keys[i].cred_id, keys[i].cred_id_len, &id) == SIGNET_OK)
            (void)json_array_append_new(arr, json_pack("{s:s, s:s}", "type", "public-key", "id",
                                                       id));
        free(id);
    }
    free(keys);
    return arr;
}

static void options(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                    const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char purpose[16], csrf[64], req[SG_PEOPLE_ID_MAX], token[64];
    const char *why = NULL;
    struct rp rp;
    if (b == NULL || sd_people_str(b, "purpose", 1, purpose, sizeof purpose) != 0 ||
        sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(b, "req", 0, req, sizeof req) != 0 ||
        sd_people_str(b, "token", 0, token, sizeof token) != 0) {
        json_decref(b);
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must be a JSON object with purpose and csrf strings");
        return;
    }
    json_decref(b);
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        return;
    }
    if (rp_of(t, &rp) != 0) {
        sd_people_json_error(r, 500, "server_error", "the issuer URL has no host");
        return;
    }
    const int64_t now = sg_clock_now();
    char challenge[64], hash[SG_PEOPLE_HASH_LEN + 1], bind[64];
    if (sd_people_random(SD_WA_CHALLENGE_LEN, challenge, sizeof challenge) != 0) {
        sd_people_json_error(r, 500, "server_error", "no randomness");
        return;
    }
    sd_people_hash(challenge, strlen(challenge), hash);
    json_t *pk = NULL;
    enum sg_challenge_kind kind = SG_CHALLENGE_AUTHENTICATE;
    struct sg_user u;
    memset(&u, 0, sizeof u);
    if (strcmp(purpose, "signin") == 0) {
        if (req[0] != '\0') {
            struct sg_authreq q;
            pthread_mutex_lock(&c->store_lock);
            signet_err err = sg_people_authreq_get(c->store, t->name, req, now, &q);
            pthread_mutex_unlock(&c->store_lock);
            if (err != SIGNET_OK) {
                sd_people_json_error(r, 400, "invalid_request",
                                     "this sign-in request has expired: go back to the "
                                     "application and start again");
                return;
            }
        }
        (void)snprintf(bind, sizeof bind, "r:%s", req);
        pk = json_pack("{s:s, s:s, s:i, s:s, s:[]}", "challenge", challenge, "rpId", rp.host,
                       "timeout", CHALLENGE_TTL * 1000, "userVerification", "required",
                       "allowCredentials");
    } else if (strcmp(purpose, "enrol") == 0 || strcmp(purpose, "add") == 0) {
        kind = SG_CHALLENGE_REGISTER;
        signet_err err = SIGNET_OK;
        char user_id[SG_PEOPLE_ID_MAX] = "";
        if (purpose[0] == 'e') {
            char th[SG_PEOPLE_HASH_LEN + 1];
            sd_people_hash(token, strlen(token), th);
            pthread_mutex_lock(&c->store_lock);
            err = token[0] == '\0' ? SIGNET_ERR_NOT_FOUND
                                   : sg_people_enrol_peek(c->store, t->name, th, now, user_id);
            pthread_mutex_unlock(&c->store_lock);
            if (err != SIGNET_OK) {
                sd_people_json_error(r, 400, "invalid_request",
                                     "this enrolment link is invalid, used or expired");
                return;
            }
            (void)snprintf(bind, sizeof bind, "e:%s", th);
        } else {
            struct sg_session s;
            if (sd_session_of(c, t, in->cookie, &s) != SIGNET_OK ||
                now - s.auth_time > REAUTH_WINDOW) {
                sd_people_json_error(r, 403, "login_required",
                                     "sign in again (within 5 minutes) to add a passkey");
                return;
            }
            (void)snprintf(user_id, sizeof user_id, "%s", s.user_id);
            (void)snprintf(bind, sizeof bind, "s:%s", s.sid);
        }
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_user_get(c->store, t->name, user_id, &u);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK || u.disabled) {
            sd_people_json_error(r, 403, "access_denied", "this account is disabled or gone");
            return;
        }
        char *uid = NULL;
        if (sg_b64url_encode_alloc((const uint8_t *)u.id, strlen(u.id), &uid) != SIGNET_OK) {
            sd_people_json_error(r, 500, "server_error", "out of memory");
            return;
        }
        pk = json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:o, s:i, s:s, "
                       "s:{s:s, s:b, s:s}, s:o}",
                       "challenge", challenge, "rp", "id", rp.host, "name", t->name, "user", "id",
                       uid, "name", u.name, "displayName", u.name, "pubKeyCredParams",
                       cred_params(), "timeout", CHALLENGE_TTL * 1000, "attestation", "none",
                       "authenticatorSelection", "residentKey", "required", "requireResidentKey",
                       1, "userVerification", "required", "excludeCredentials",
                       exclude_list(c, t, u.id));
        free(uid);
    } else {
        sd_people_json_error(r, 400, "invalid_request",
                             "purpose must be signin, enrol or add");
        return;
    }
    if (pk == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        return;
    }
    pthread_mutex_lock(&c->store_lock);
    signet_err err =
        sg_people_challenge_put(c->store, t->name, hash, kind, bind, now + CHALLENGE_TTL, now);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        json_decref(pk);
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return;
    }
    sd_people_answer(r, 200, json_pack("{s:o}", "publicKey", pk));
}

/* The challenge a ceremony's clientDataJSON answers: taken (used up)
 * whatever comes next. 0 with its bind when it was ours, unexpired and of
 * this kind. */
static int take_challenge(struct sd_ctx *c, const struct sg_tenant_cfg *t, const uint8_t *cd,
                          size_t cd_len, enum sg_challenge_kind kind, char bind[64],
                          struct sd_wa_client_data *parsed_out, const char **why)
{
    struct sd_wa_client_data parsed;
    char w[160];
    if (sd_wa_parse_client_data(cd, cd_len, &parsed, w, sizeof w) != SIGNET_OK) {
        *why = "clientDataJSON is malformed";
        return -1;
    }
    char text[100], hash[SG_PEOPLE_HASH_LEN + 1];
    if (sg_b64url_encode(parsed.challenge, parsed.challenge_len, text, sizeof text) !=
        SIGNET_OK) {
        *why = "the challenge is not one of this server's";
        return -1;
    }
    sd_people_hash(text, strlen(text), hash);
    pthread_mutex_lock(&c->store_lock);
    signet_err err =
        sg_people_challenge_take(c->store, t->name, hash, kind, sg_clock_now(), bind);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        *why = "the challenge is unknown, used or expired: try again";
        return -1;
    }
    *parsed_out = parsed;
    return 0;
}

/* ---- POST /signin ---------------------------------------------------------- */

struct assertion_in {
    uint8_t cred_id[SD_WA_MAX_CRED_ID];
    size_t cred_id_len;
    uint8_t cd[SD_WA_MAX_CLIENT_DATA];
    size_t cd_len;
    uint8_t ad[SD_WA_MAX_AUTH_DATA];
    size_t ad_len;
    uint8_t sig[MAX_SIG];
    size_t sig_len;
    uint8_t uh[128];
    size_t uh_len;
    int has_uh;
};

static int read_assertion(const json_t *cred, struct assertion_in *a)
{
    const json_t *resp = json_object_get(cred, "response");
    if (!json_is_object(cred) || !json_is_object(resp))
        return -1;
    const char *type = json_string_value(json_object_get(cred, "type"));
    if (type == NULL || strcmp(type, "public-key") != 0)
        return -1;
    if (b64_member(cred, "rawId", a->cred_id, sizeof a->cred_id, &a->cred_id_len) != 0 ||
        a->cred_id_len == 0 ||
        b64_member(resp, "clientDataJSON", a->cd, sizeof a->cd, &a->cd_len) != 0 ||
        b64_member(resp, "authenticatorData", a->ad, sizeof a->ad, &a->ad_len) != 0 ||
        b64_member(resp, "signature", a->sig, sizeof a->sig, &a->sig_len) != 0)
        return -1;
    const json_t *uh = json_object_get(resp, "userHandle");
    if (uh != NULL && !json_is_null(uh)) {
        if (b64_member(resp, "userHandle", a->uh, sizeof a->uh, &a->uh_len) != 0)
            return -1;
        a->has_uh = 1;
    }
    return 0;
}

/* The amr of a passkey sign-in (RFC 8176): a synced passkey (backup
 * eligible) is a software-protected key, a device-bound one a
 * hardware-protected key; user verification makes it multi-factor. */
/* RFC 8176: a passkey is something held (a key, hardware-bound or synced)
 * and something known or been (its user verification): multi-factor by
 * itself; after a password, pwd too. */
static void passkey_amr(int after_password, unsigned flags, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s%s user mfa", after_password ? "pwd " : "",
                   (flags & SD_WA_FLAG_BE) != 0 ? "swk" : "hwk");
}

/* After a sign-in: the code for the pending request, or the account page. */
int sd_people_finish(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *req,
                     const struct sg_session *s, char *location, size_t cap)
{
    if (req[0] == '\0') {
        (void)snprintf(location, cap, "/t/%s/account", t->name);
        return 0;
    }
    struct sg_authreq q;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_authreq_get(c->store, t->name, req, sg_clock_now(), &q);
    if (err == SIGNET_OK)
        err = sg_people_authreq_delete(c->store, t->name, req);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK)
        return -1;
    return sd_oidc_code_redirect(c, t, &q, s, location, cap) == SIGNET_OK ? 0 : -1;
}

static void signin_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                        const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char req[SG_PEOPLE_ID_MAX], csrf[64], bind[64], want[64];
    const char *why = NULL;
    struct assertion_in *a = calloc(1, sizeof *a);
    struct rp rp;
    if (a == NULL) {
        json_decref(b);
        sd_people_json_error(r, 500, "server_error", "out of memory");
        return;
    }
    if (b == NULL || sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(b, "req", 0, req, sizeof req) != 0 ||
        read_assertion(json_object_get(b, "credential"), a) != 0) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must hold req, csrf and a WebAuthn credential "
                             "(base64url members)");
        goto out;
    }
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        goto out;
    }
    if (rp_of(t, &rp) != 0) {
        sd_people_json_error(r, 500, "server_error", "the issuer URL has no host");
        goto out;
    }
    struct sd_wa_client_data cdp;
    if (take_challenge(c, t, a->cd, a->cd_len, SG_CHALLENGE_AUTHENTICATE, bind, &cdp, &why) != 0)
        goto refused;
    /* "r:<req>": a passkey sign-in; "p:<user>:<req>": the second step of
     * a password sign-in (password_post), for that user's passkeys only. */
    char first[SG_PEOPLE_ID_MAX] = "";
    if (strncmp(bind, "p:", 2) == 0) {
        size_t ul = strcspn(bind + 2, ":");
        if (ul == 0 || ul >= sizeof first || bind[2 + ul] != ':') {
            why = "the challenge was issued for another sign-in request";
            goto refused;
        }
        memcpy(first, bind + 2, ul);
        first[ul] = '\0';
        (void)snprintf(want, sizeof want, "p:%s:%s", first, req);
    } else {
        (void)snprintf(want, sizeof want, "r:%s", req);
    }
    if (strcmp(bind, want) != 0) {
        why = "the challenge was issued for another sign-in request";
        goto refused;
    }
    struct sg_passkey pk;
    struct sg_user u;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_passkey_get(c->store, t->name, a->cred_id, a->cred_id_len, &pk);
    if (err == SIGNET_OK)
        err = sg_people_user_get(c->store, t->name, pk.user_id, &u);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        why = "this passkey is not registered here";
        goto refused;
    }
    if (a->has_uh && (a->uh_len != strlen(u.id) || memcmp(a->uh, u.id, a->uh_len) != 0)) {
        why = "userHandle does not match the passkey's user";
        goto refused;
    }
    if (first[0] != '\0' && strcmp(first, u.id) != 0) {
        why = "this passkey is not the one of the account whose password was given";
        goto refused;
    }
    const struct sd_wa_expect e = {
        .rp_id = rp.host,
        .origin = rp.origin,
        .challenge = cdp.challenge, /* already matched to a stored one */
        .challenge_len = cdp.challenge_len,
        .require_uv = 1,
    };
    struct sd_wa_assertion res;
    char detail[160] = "";
    err = sd_wa_verify_assertion(&e, a->cd, a->cd_len, a->ad, a->ad_len, a->sig, a->sig_len,
                                 pk.pubkey, pk.pubkey_len, pk.sign_count, pk.flags, &res, detail,
                                 sizeof detail);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_WARN, "passkey_refused", "tenant=%s user=%s addr=%s reason=\"%s\"",
               t->name, u.id, sd_auth_peer(), detail);
        sd_people_json_error(r, 400, "invalid_request", detail[0] != '\0' ? detail
                                                                            : "passkey refused");
        goto out;
    }
    if (res.counter_regressed) {
        /* WebAuthn §6.1.1: a counter that goes backwards is a sign of a
         * cloned authenticator. */
        sg_log(SG_LOG_ERROR, "passkey_counter_regressed",
               "tenant=%s user=%s stored=%u presented=%u addr=%s alert=1", t->name, u.id,
               pk.sign_count, res.sign_count, sd_auth_peer());
        /* The monitor raises the alert (I9): the front end cannot clear it. */
        sd_tm_passkey_regressed(c, t, u.id, pk.sign_count, res.sign_count);
        sd_people_json_error(r, 400, "invalid_request",
                             "this passkey's signature counter went backwards (a cloned "
                             "authenticator?): sign-in refused and reported");
        goto out;
    }
    if (u.disabled) {
        sd_people_json_error(r, 403, "access_denied", "this account is disabled");
        goto out;
    }
    const int64_t now = sg_clock_now();
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_passkey_used(c->store, t->name, a->cred_id, a->cred_id_len, res.sign_count,
                                 res.flags, now);
    pthread_mutex_unlock(&c->store_lock);
    char amr[SG_PEOPLE_AMR_MAX], location[2048];
    passkey_amr(first[0] != '\0', res.flags, amr, sizeof amr);
    struct sg_session s;
    if (err != SIGNET_OK || sd_people_session_start(c, t, in, u.id, ACR_PHR, amr, r, &s) != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    if (sd_people_finish(c, t, req, &s, location, sizeof location) != 0) {
        (void)snprintf(location, sizeof location, "/t/%s/account", t->name);
        sg_log(SG_LOG_WARN, "signin_request_lost", "tenant=%s user=%s", t->name, u.id);
    }
    sd_people_location(r, location);
    goto out;
refused:
    sg_log(SG_LOG_WARN, "passkey_refused", "tenant=%s addr=%s reason=\"%s\"", t->name,
           sd_auth_peer(), why);
    sd_people_json_error(r, 400, "invalid_request", why);
out:
    json_decref(b);
    OPENSSL_cleanse(a, sizeof *a);
    free(a);
}

/* ---- passwords: a first factor, never alone -------------------------------------- */

/* The one answer to every failed password sign-in: whether the name
 * exists, has a password, is disabled or is throttled is the log's. */
#define PW_REFUSED                                                                          \
    "the name or password is wrong (after several attempts, wait a minute before the next)"

/* What may follow a right password for user u (docs/people.md, issue 14):
 * {"next":"second_factor","methods":[...],"token":"<the pending second
 * step>"[,"publicKey":{...}]}: a passkey of theirs always (the options of
 * their passkeys, under a challenge bound to the user and the request);
 * an approval on a registered device unless the tenant's mfa policy is
 * phishing_resistant; a TOTP code only under mfa = any. NULL when the
 * store fails; methods empty when the account has none of them. */
static json_t *second_steps(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                            const struct sg_user *u, const char *req, int64_t now)
{
    char token[64], bind[64], challenge[64], hash[SG_PEOPLE_HASH_LEN + 1];
    struct sg_passkey *keys = NULL;
    struct sg_device *devs = NULL;
    struct sg_totp totp;
    size_t nk = 0, nd = 0;
    struct rp rp;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_passkey_list(c->store, t->name, u->id, &keys, &nk);
    if (err == SIGNET_OK)
        err = sg_people_device_list(c->store, t->name, u->id, &devs, &nd);
    signet_err terr = err == SIGNET_OK ? sg_people_totp_get(c->store, t->name, u->id, 0, &totp)
                                       : SIGNET_ERR_NOT_FOUND;
    pthread_mutex_unlock(&c->store_lock);
    free(keys);
    free(devs);
    if (err != SIGNET_OK || (terr != SIGNET_OK && terr != SIGNET_ERR_NOT_FOUND))
        return NULL;
    json_t *methods = json_array();
    json_t *o = json_pack("{s:s, s:o}", "next", "second_factor", "methods", methods);
    if (o == NULL)
        return NULL;
    int bl = snprintf(bind, sizeof bind, "p:%s:%s", u->id, req);
    if (bl < 0 || (size_t)bl >= sizeof bind || rp_of(t, &rp) != 0)
        goto fail;
    if (nk > 0) {
        if (sd_people_random(SD_WA_CHALLENGE_LEN, challenge, sizeof challenge) != 0)
            goto fail;
        sd_people_hash(challenge, strlen(challenge), hash);
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_challenge_put(c->store, t->name, hash, SG_CHALLENGE_AUTHENTICATE, bind,
                                      now + CHALLENGE_TTL, now);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK ||
            json_object_set_new(o, "publicKey",
                                json_pack("{s:s, s:s, s:i, s:s, s:o}", "challenge", challenge,
                                          "rpId", rp.host, "timeout", CHALLENGE_TTL * 1000,
                                          "userVerification", "required", "allowCredentials",
                                          exclude_list(c, t, u->id))) != 0)
            goto fail;
        (void)json_array_append_new(methods, json_string("passkey"));
    }
    if (nd > 0 && t->mfa >= SG_MFA_APPROVAL_OR_PASSKEY)
        (void)json_array_append_new(methods, json_string("approval"));
    if (terr == SIGNET_OK && t->mfa == SG_MFA_ANY)
        (void)json_array_append_new(methods, json_string("totp"));
    if (json_array_size(methods) > (nk > 0 ? 1u : 0u)) {
        /* An approval or a code: a pending second step the page holds. */
        struct sg_mfa_pending p;
        memset(&p, 0, sizeof p);
        if (sd_people_random(32, token, sizeof token) != 0)
            goto fail;
        (void)snprintf(p.tenant, sizeof p.tenant, "%s", t->name);
        sd_people_hash(token, strlen(token), p.hash);
        (void)snprintf(p.user_id, sizeof p.user_id, "%s", u->id);
        (void)snprintf(p.req, sizeof p.req, "%s", req);
        p.created_at = now;
        p.expires_at = now + CHALLENGE_TTL;
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_mfa_put(c->store, &p);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK || json_object_set_new(o, "token", json_string(token)) != 0)
            goto fail;
        OPENSSL_cleanse(token, sizeof token);
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* POST /signin/password {csrf, req, name, password}: the first factor.
 * Every attempt is throttled per name and per address and costs one
 * argon2id verification, against a hash of no one's when there is no
 * password to check. A right password makes no session: it answers the
 * second steps the account and the tenant's mfa policy allow
 * (second_steps); a passkey's challenge is bound to the user and the
 * request ("p:<user>:<req>") and signin_post finishes with amr pwd + the
 * passkey's; an approval or a TOTP code goes through mfa.c. */
static void password_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                          const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char csrf[64], req[SG_PEOPLE_ID_MAX], name[SG_PEOPLE_NAME_MAX],
        pwhash[SG_PEOPLE_PWHASH_MAX] = "";
    char *password = NULL;
    const char *why = NULL;
    const json_t *pw = b != NULL ? json_object_get(b, "password") : NULL;
    if (b == NULL || sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(b, "req", 0, req, sizeof req) != 0 ||
        sd_people_str(b, "name", 1, name, sizeof name) != 0 || !json_is_string(pw) ||
        json_string_length(pw) > SD_PASSWORD_MAX || strlen(json_string_value(pw)) !=
                                                         json_string_length(pw)) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must hold csrf, name and password (at most 128 "
                             "characters)");
        goto out;
    }
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        goto out;
    }
    password = strdup(json_string_value(pw));
    if (password == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        goto out;
    }
    const int64_t now = sg_clock_now();
    if (req[0] != '\0') {
        struct sg_authreq q;
        pthread_mutex_lock(&c->store_lock);
        signet_err qerr = sg_people_authreq_get(c->store, t->name, req, now, &q);
        pthread_mutex_unlock(&c->store_lock);
        if (qerr != SIGNET_OK) {
            sd_people_json_error(r, 400, "invalid_request",
                                 "this sign-in request has expired: go back to the application "
                                 "and start again");
            goto out;
        }
    }
    int name_over = 0;
    int64_t wait = sd_password_throttle(t->name, name, &name_over);
    if (wait > 0) {
        sg_log(SG_LOG_WARN, "password_throttled", "tenant=%s addr=%s retry_after=%lld", t->name,
               sd_auth_peer(), (long long)wait);
        sd_people_json_error(r, 429, "temporarily_unavailable",
                             "too many sign-in attempts from this address: wait and retry");
        r->retry_after = wait;
        goto out;
    }
    struct sg_user u;
    memset(&u, 0, sizeof u);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_user_by_name(c->store, t->name, name, &u);
    signet_err perr = err == SIGNET_OK
                          ? sg_people_password_get(c->store, t->name, u.id, pwhash)
                          : SIGNET_ERR_NOT_FOUND;
    pthread_mutex_unlock(&c->store_lock);
    if ((err != SIGNET_OK && err != SIGNET_ERR_NOT_FOUND) ||
        (perr != SIGNET_OK && perr != SIGNET_ERR_NOT_FOUND)) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    int checkable = err == SIGNET_OK && perr == SIGNET_OK && !u.disabled && !name_over;
    int v = sd_password_verify(checkable ? pwhash : NULL, password);
    if (v == SD_PW_BUSY) {
        sd_people_json_error(r, 503, "temporarily_unavailable",
                             "too many sign-ins at once: retry in a moment");
        r->retry_after = 1;
        goto out;
    }
    if (v != SD_PW_OK) {
        sg_log(SG_LOG_WARN, "password_refused", "tenant=%s user=%s addr=%s reason=%s", t->name,
               err == SIGNET_OK ? u.id : "-", sd_auth_peer(),
               err != SIGNET_OK  ? "unknown_name"
               : perr != SIGNET_OK ? "no_password"
               : u.disabled      ? "disabled"
               : name_over       ? "throttled"
                                 : "wrong_password");
        sd_people_json_error(r, 403, "access_denied", PW_REFUSED);
        goto out;
    }
    json_t *answer = second_steps(c, t, &u, req, now);
    if (answer == NULL) {
        sd_people_json_error(r, 503, "temporarily_unavailable",
                             "the second step cannot be prepared now: retry");
        goto out;
    }
    if (json_array_size(json_object_get(answer, "methods")) == 0) {
        json_decref(answer);
        sg_log(SG_LOG_WARN, "password_no_second_factor", "tenant=%s user=%s", t->name, u.id);
        sd_people_json_error(r, 403, "access_denied",
                             "a password is never enough alone, and this account has no "
                             "second step this organisation accepts: sign in with a passkey");
        goto out;
    }
    sg_log(SG_LOG_INFO, "password_accepted", "tenant=%s user=%s addr=%s next=second_factor",
           t->name, u.id, sd_auth_peer());
    sd_people_answer(r, 200, answer);
out:
    json_decref(b);
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    OPENSSL_cleanse(pwhash, sizeof pwhash);
}

/* POST /account/password {csrf, password} sets the signed-in user's
 * password, {csrf, remove: true} removes it: a sign-in within the last 5
 * minutes is required (as for adding a passkey), and it is logged. */
static void set_password_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                              const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char csrf[64], pwhash[SG_PEOPLE_PWHASH_MAX] = "";
    const char *why = NULL;
    const json_t *pw = b != NULL ? json_object_get(b, "password") : NULL;
    int remove = b != NULL && json_is_true(json_object_get(b, "remove"));
    if (b == NULL || sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        (!remove && (!json_is_string(pw) || json_string_length(pw) > SD_PASSWORD_MAX * 4))) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must hold csrf and password (or remove: true)");
        goto out;
    }
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        goto out;
    }
    const int64_t now = sg_clock_now();
    struct sg_session s;
    struct sg_user u;
    if (sd_session_of(c, t, in->cookie, &s) != SIGNET_OK || now - s.auth_time > REAUTH_WINDOW) {
        sd_people_json_error(r, 403, "login_required",
                             "sign in again (within 5 minutes) to change your password");
        goto out;
    }
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_user_get(c->store, t->name, s.user_id, &u);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK || u.disabled) {
        sd_people_json_error(r, 403, "access_denied", "this account is disabled or gone");
        goto out;
    }
    if (!remove) {
        const char *pwv = json_string_value(pw);
        const char *weak = strlen(pwv) != json_string_length(pw)
                               ? "a password may not hold control characters"
                               : sd_password_weak(pwv, u.name);
        if (weak != NULL) {
            sd_people_json_error(r, 400, "invalid_request", weak);
            goto out;
        }
        if (sd_password_hash(pwv, pwhash, sizeof pwhash) != 0) {
            sd_people_json_error(r, 500, "server_error", "the password cannot be hashed");
            goto out;
        }
    }
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_password_set(c->store, t->name, u.id, remove ? NULL : pwhash, now);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    sg_log(SG_LOG_INFO, remove ? "password_removed" : "password_set",
           "tenant=%s user=%s sid=%s addr=%s", t->name, u.id, s.sid, sd_auth_peer());
    sd_tm_people(c, t, u.id, remove ? SG_IPC_PEOPLE_FACTOR_REMOVED : SG_IPC_PEOPLE_FACTOR_ADDED,
                 "password");
    sd_people_answer(r, 200, json_pack("{s:b}", "password", !remove));
out:
    json_decref(b);
    OPENSSL_cleanse(pwhash, sizeof pwhash);
}

/* ---- /enrol ------------------------------------------------------------------ */

static void enrol_get(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                      const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_form f;
    memset(&f, 0, sizeof f);
    const char *token = NULL;
    if (sg_form_parse(in->query, strlen(in->query), SD_PEOPLE_MAX_QUERY, NULL, &f) == SIGNET_OK)
        token = sg_form_get(&f, "token");
    char th[SG_PEOPLE_HASH_LEN + 1], user_id[SG_PEOPLE_ID_MAX], csrf[44], base[80];
    struct sg_user u;
    signet_err err = SIGNET_ERR_NOT_FOUND;
    if (token != NULL && strlen(token) < 100) {
        sd_people_hash(token, strlen(token), th);
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_enrol_peek(c->store, t->name, th, sg_clock_now(), user_id);
        if (err == SIGNET_OK)
            err = sg_people_user_get(c->store, t->name, user_id, &u);
        pthread_mutex_unlock(&c->store_lock);
    }
    if (err != SIGNET_OK || sd_people_page_csrf(in, r, csrf) != 0) {
        sd_page_error(r, 410, "This link does not work",
                      "This enrolment link is invalid, used or expired. Ask your administrator "
                      "for a new one.");
        sg_form_clear(&f);
        return;
    }
    (void)snprintf(base, sizeof base, "/t/%s", t->name);
    const struct sd_page_base pb = {base, t->name, csrf};
    sd_page_enrol(r, &pb, u.name, token);
    sg_form_clear(&f);
}

struct attestation_in {
    uint8_t cd[SD_WA_MAX_CLIENT_DATA];
    size_t cd_len;
    uint8_t ao[SD_WA_MAX_ATTESTATION];
    size_t ao_len;
    char transports[64];
};

static int read_attestation(const json_t *cred, struct attestation_in *a)
{
    const json_t *resp = json_object_get(cred, "response");
    if (!json_is_object(cred) || !json_is_object(resp))
        return -1;
    const char *type = json_string_value(json_object_get(cred, "type"));
    if (type == NULL || strcmp(type, "public-key") != 0)
        return -1;
    if (b64_member(resp, "clientDataJSON", a->cd, sizeof a->cd, &a->cd_len) != 0 ||
        b64_member(resp, "attestationObject", a->ao, sizeof a->ao, &a->ao_len) != 0)
        return -1;
    const json_t *tr = json_object_get(resp, "transports");
    size_t i = 0;
    const json_t *v = NULL;
    size_t o = 0;
    json_array_foreach(tr, i, v)
    {
        const char *s = json_string_value(v);
        if (s == NULL || strspn(s, "abcdefghijklmnopqrstuvwxyz-") != strlen(s) ||
            o + strlen(s) + 2 > sizeof a->transports)
            continue;
        o += (size_t)snprintf(a->transports + o, sizeof a->transports - o, "%s%s",
                              o > 0 ? " " : "", s);
    }
    return 0;
}

static void enrol_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                       const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char token[64], csrf[64], bind[64], want[64], th[SG_PEOPLE_HASH_LEN + 1] = "";
    const char *why = NULL;
    struct attestation_in *a = calloc(1, sizeof *a);
    struct sd_wa_credential *cred = calloc(1, sizeof *cred);
    struct sg_passkey *pk = calloc(1, sizeof *pk);
    struct rp rp;
    struct sg_session s;
    int have_session = 0;
    if (a == NULL || cred == NULL || pk == NULL) {
        sd_people_json_error(r, 500, "server_error", "out of memory");
        goto out;
    }
    if (b == NULL || sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(b, "token", 0, token, sizeof token) != 0 ||
        read_attestation(json_object_get(b, "credential"), a) != 0) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must hold token, csrf and a WebAuthn credential "
                             "(base64url members)");
        goto out;
    }
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        goto out;
    }
    if (rp_of(t, &rp) != 0) {
        sd_people_json_error(r, 500, "server_error", "the issuer URL has no host");
        goto out;
    }
    const int64_t now = sg_clock_now();
    char user_id[SG_PEOPLE_ID_MAX] = "";
    signet_err err = SIGNET_OK;
    if (token[0] != '\0') {
        sd_people_hash(token, strlen(token), th);
        (void)snprintf(want, sizeof want, "e:%s", th);
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_enrol_peek(c->store, t->name, th, now, user_id);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK) {
            sd_people_json_error(r, 400, "invalid_request",
                                 "this enrolment link is invalid, used or expired");
            goto out;
        }
    } else {
        if (sd_session_of(c, t, in->cookie, &s) != SIGNET_OK ||
            now - s.auth_time > REAUTH_WINDOW) {
            sd_people_json_error(r, 403, "login_required",
                                 "sign in again (within 5 minutes) to add a passkey");
            goto out;
        }
        have_session = 1;
        (void)snprintf(user_id, sizeof user_id, "%s", s.user_id);
        (void)snprintf(want, sizeof want, "s:%s", s.sid);
    }
    struct sd_wa_client_data cdp;
    if (take_challenge(c, t, a->cd, a->cd_len, SG_CHALLENGE_REGISTER, bind, &cdp, &why) != 0)
        goto refused;
    if (strcmp(bind, want) != 0) {
        why = "the challenge was issued for another enrolment";
        goto refused;
    }
    const struct sd_wa_expect e = {
        .rp_id = rp.host,
        .origin = rp.origin,
        .challenge = cdp.challenge,
        .challenge_len = cdp.challenge_len,
        .require_uv = 1,
    };
    char detail[160] = "";
    err = sd_wa_verify_registration(&e, a->cd, a->cd_len, a->ao, a->ao_len, cred, detail,
                                    sizeof detail);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_WARN, "passkey_registration_refused",
               "tenant=%s user=%s addr=%s reason=\"%s\"", t->name, user_id, sd_auth_peer(),
               detail);
        sd_people_json_error(r, 400, "invalid_request",
                             detail[0] != '\0' ? detail : "passkey registration refused");
        goto out;
    }
    (void)snprintf(pk->tenant, sizeof pk->tenant, "%s", t->name);
    (void)snprintf(pk->user_id, sizeof pk->user_id, "%s", user_id);
    memcpy(pk->cred_id, cred->cred_id, cred->cred_id_len);
    pk->cred_id_len = cred->cred_id_len;
    pk->alg = cred->alg;
    memcpy(pk->pubkey, cred->cose_key, cred->cose_key_len);
    pk->pubkey_len = cred->cose_key_len;
    pk->sign_count = cred->sign_count;
    pk->flags = cred->flags;
    (void)snprintf(pk->aaguid, sizeof pk->aaguid, "%s", cred->aaguid);
    (void)snprintf(pk->transports, sizeof pk->transports, "%s", a->transports);
    pk->created_at = now;
    pk->last_used_at = now;
    /* The link is used up and the passkey stored together, or neither. */
    pthread_mutex_lock(&c->store_lock);
    err = sg_store_begin(c->store);
    if (err == SIGNET_OK && token[0] != '\0')
        err = sg_people_enrol_consume(c->store, t->name, th, now, user_id);
    if (err == SIGNET_OK)
        err = sg_people_passkey_add(c->store, pk);
    if (err == SIGNET_OK)
        err = sg_store_commit(c->store);
    else
        sg_store_rollback(c->store);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_EXISTS) {
        sd_people_json_error(r, 400, "invalid_request", "this passkey is registered already");
        goto out;
    }
    if (err == SIGNET_ERR_NOT_FOUND) {
        sd_people_json_error(r, 400, "invalid_request",
                             "this enrolment link is invalid, used or expired");
        goto out;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    sg_log(SG_LOG_INFO, "passkey_added", "tenant=%s user=%s alg=%d synced=%d aaguid=%s via=%s",
           t->name, user_id, pk->alg, (pk->flags & SD_WA_FLAG_BE) != 0, pk->aaguid,
           token[0] != '\0' ? "link" : "account");
    sd_tm_people(c, t, user_id, SG_IPC_PEOPLE_FACTOR_ADDED, "passkey");
    char amr[SG_PEOPLE_AMR_MAX], location[160];
    passkey_amr(0, pk->flags, amr, sizeof amr);
    if (!have_session &&
        sd_people_session_start(c, t, in, user_id, ACR_PHR, amr, r, &s) != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    (void)snprintf(location, sizeof location, "/t/%s/account", t->name);
    sd_people_location(r, location);
    goto out;
refused:
    sg_log(SG_LOG_WARN, "passkey_registration_refused", "tenant=%s addr=%s reason=\"%s\"",
           t->name, sd_auth_peer(), why);
    sd_people_json_error(r, 400, "invalid_request", why);
out:
    json_decref(b);
    free(a);
    free(cred);
    free(pk);
}

/* ---- pages: /signin, /account, /logout ------------------------------------------ */

static void signin_get(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                       const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_form f;
    memset(&f, 0, sizeof f);
    const char *req = NULL;
    if (sg_form_parse(in->query, strlen(in->query), SD_PEOPLE_MAX_QUERY, NULL, &f) != SIGNET_OK) {
        sd_page_error(r, 400, "Bad request", "The sign-in address is malformed.");
        return;
    }
    req = sg_form_get(&f, "req");
    struct sg_authreq q;
    memset(&q, 0, sizeof q);
    if (req != NULL) {
        pthread_mutex_lock(&c->store_lock);
        signet_err err = strlen(req) < SG_PEOPLE_ID_MAX
                             ? sg_people_authreq_get(c->store, t->name, req, sg_clock_now(), &q)
                             : SIGNET_ERR_NOT_FOUND;
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK) {
            sd_page_error(r, 400, "Sign-in request expired",
                          "This sign-in request is unknown or has expired. Go back to the "
                          "application and start again.");
            sg_form_clear(&f);
            return;
        }
    }
    char csrf[44], base[80];
    if (sd_people_page_csrf(in, r, csrf) != 0) {
        sd_page_error(r, 500, "Server error", "No randomness is available.");
        sg_form_clear(&f);
        return;
    }
    (void)snprintf(base, sizeof base, "/t/%s", t->name);
    const struct sd_page_base pb = {base, t->name, csrf};
    sd_page_signin(r, &pb, req != NULL ? req : "", q.client_id,
                   strstr(q.prompt, "login") != NULL || q.max_age >= 0 || q.acr_values[0] != '\0'
                       ? "Sign in again to continue."
                       : "");
    sg_form_clear(&f);
}

static void account_get(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                        const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_session s;
    struct sg_user u;
    struct sg_totp totp;
    char csrf[44], base[80];
    if (sd_session_of(c, t, in->cookie, &s) != SIGNET_OK) {
        r->status = 303;
        (void)snprintf(r->location, sizeof r->location, "/t/%s/signin", t->name);
        return;
    }
    struct sg_passkey *keys = NULL;
    struct sg_device *devs = NULL;
    size_t n = 0, nd = 0;
    char pwhash[SG_PEOPLE_PWHASH_MAX];
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_user_get(c->store, t->name, s.user_id, &u);
    if (err == SIGNET_OK)
        err = sg_people_passkey_list(c->store, t->name, s.user_id, &keys, &n);
    if (err == SIGNET_OK)
        err = sg_people_device_list(c->store, t->name, s.user_id, &devs, &nd);
    signet_err perr = err == SIGNET_OK
                          ? sg_people_password_get(c->store, t->name, s.user_id, pwhash)
                          : SIGNET_ERR_NOT_FOUND;
    signet_err terr = err == SIGNET_OK ? sg_people_totp_get(c->store, t->name, s.user_id, 0, &totp)
                                       : SIGNET_ERR_NOT_FOUND;
    pthread_mutex_unlock(&c->store_lock);
    OPENSSL_cleanse(pwhash, sizeof pwhash);
    if (perr != SIGNET_OK && perr != SIGNET_ERR_NOT_FOUND)
        err = perr;
    if (terr != SIGNET_OK && terr != SIGNET_ERR_NOT_FOUND)
        err = terr;
    struct sd_page_passkey *pp = n > 0 ? calloc(n, sizeof *pp) : NULL;
    struct sd_page_device *pd = nd > 0 ? calloc(nd, sizeof *pd) : NULL;
    if (err != SIGNET_OK || (n > 0 && pp == NULL) || (nd > 0 && pd == NULL) ||
        sd_people_page_csrf(in, r, csrf) != 0) {
        free(keys);
        free(devs);
        free(pp);
        free(pd);
        sd_page_error(r, 503, "Unavailable", "The account cannot be shown right now.");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pp[i].label = keys[i].aaguid[0] != '\0' ? keys[i].aaguid : "passkey";
        pp[i].kind = (keys[i].flags & SG_PASSKEY_BE) != 0 ? "synced" : "device-bound";
        pp[i].created_at = keys[i].created_at;
        pp[i].last_used_at = keys[i].last_used_at;
    }
    for (size_t i = 0; i < nd; i++) {
        pd[i].id = devs[i].id;
        pd[i].name = devs[i].name;
        pd[i].created_at = devs[i].created_at;
        pd[i].last_used_at = devs[i].last_used_at;
    }
    (void)snprintf(base, sizeof base, "/t/%s", t->name);
    const struct sd_page_base pb = {base, t->name, csrf};
    const struct sd_page_account_info info = {
        .user_name = u.name,
        .auth_time = s.auth_time,
        .keys = pp,
        .n_keys = n,
        .has_password = perr == SIGNET_OK,
        .devices = pd,
        .n_devices = nd,
        .has_totp = terr == SIGNET_OK,
        .mfa_policy = t->mfa,
        .issuer = t->issuer,
    };
    sd_page_account(r, &pb, &info);
    free(pp);
    free(pd);
    free(keys);
    free(devs);
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

/* The time an id_token_hint is judged at (see verify_own). */
static int64_t hint_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* signetd's own clock (testing builds can move it), for every other token. */
static int64_t front_clock(void *ctx)
{
    (void)ctx;
    return sg_clock_now();
}

/* Verifies token as a JWT of this tenant: signed by a key of its current
 * JWKS with one of its algs, iss its issuer, typ as given, aud its own
 * first audience (peeked, since the signature binds it) or the required
 * one when aud is not NULL. at: the time to judge it at (its windows and
 * the keys'), 0 for now. *claims on SIGNET_OK; SIGNET_ERR_JWKS_UNAVAILABLE when
 * the JWKS or the verifier cannot be had (503, not the token's fault; also what a verification says when the JWKS is gone). */
static signet_err verify_own(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *token,
                             const char *typ, const char *aud, int64_t *at,
                             signet_claims **claims)
{
    char peeked[600];
    char *jwks = NULL;
    signet_verifier_config *vc = NULL;
    signet_verifier *v = NULL;
    *claims = NULL;
    if (peek_aud(token, peeked, sizeof peeked) != 0)
        return SIGNET_ERR_MALFORMED;
    signet_err err = sd_jwks_current(c, t, &jwks);
    if (err == SIGNET_OK)
        err = signet_verifier_config_new(&vc);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_issuer_jwks_json(vc, t->issuer, jwks, strlen(jwks));
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(vc, aud != NULL ? aud : peeked);
    if (err == SIGNET_OK)
        err = signet_verifier_config_set_typ(vc, typ);
    if (err == SIGNET_OK)
        err = at != NULL && *at != 0 ? signet_verifier_config_set_clock(vc, hint_clock, at)
                                     : signet_verifier_config_set_clock(vc, front_clock, NULL);
    for (size_t i = 0; err == SIGNET_OK && i < t->n_algs; i++)
        err = signet_verifier_config_allow_alg(vc, t->algs[i]);
    if (err == SIGNET_OK)
        err = signet_verifier_new(vc, &v);
    if (err != SIGNET_OK)
        err = SIGNET_ERR_JWKS_UNAVAILABLE;
    else
        err = signet_verify(v, token, strlen(token), NULL, claims);
    signet_verifier_free(v);
    signet_verifier_config_free(vc);
    free(jwks);
    return err;
}

/* The iat of a JWT, unverified (0 when it has none). */
static int64_t peek_iat(const char *token)
{
    const char *p = strchr(token, '.');
    const char *q = p != NULL ? strchr(p + 1, '.') : NULL;
    uint8_t raw[8192];
    size_t n = 0;
    json_t *o = NULL;
    if (q == NULL || sg_b64url_decode(p + 1, (size_t)(q - p - 1), raw, sizeof raw, &n) !=
                         SIGNET_OK ||
        sg_json_parse(raw, n, sizeof raw, &o) != SIGNET_OK)
        return 0;
    json_int_t iat = json_integer_value(json_object_get(o, "iat"));
    json_decref(o);
    return (int64_t)iat;
}

/* An id_token_hint (RP-Initiated Logout 1.0 §2): an ID token this tenant
 * issued (signature, iss, typ JWT), judged as of a minute after its iat so
 * that an expired one still names its client (§2: the OP SHOULD accept
 * it), but no older than a refresh family may live. Its aud (the client)
 * into client. 0, or -1 with why; 1 when the JWKS is unavailable. */
static int hint_client(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *hint,
                       char *client, size_t cap, const char **why)
{
    const int64_t now = sg_clock_now();
    int64_t iat = peek_iat(hint);
    if (iat <= 0 || iat > now + 60 || now - iat > SD_HINT_MAX_AGE) {
        *why = "The id_token_hint is not an ID token of this issuer from the last 30 days.";
        return -1;
    }
    int64_t at = iat + 60 < now ? iat + 60 : now;
    signet_claims *claims = NULL;
    signet_err err = verify_own(c, t, hint, "JWT", NULL, &at, &claims);
    const char *aud = NULL;
    int rc = 0;
    if (err == SIGNET_ERR_JWKS_UNAVAILABLE) {
        rc = 1;
    } else if (err != SIGNET_OK || signet_claims_get_string(claims, "aud", &aud) != SIGNET_OK ||
               strlen(aud) >= cap) {
        *why = "The id_token_hint is not a valid ID token of this issuer.";
        rc = -1;
    } else {
        (void)snprintf(client, cap, "%s", aud);
    }
    signet_claims_free(claims);
    return rc;
}

static void logout_get(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                       const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_form f;
    memset(&f, 0, sizeof f);
    if (sg_form_parse(in->query, strlen(in->query), SD_PEOPLE_MAX_QUERY, NULL, &f) != SIGNET_OK) {
        sd_page_error(r, 400, "Bad request", "The logout address is malformed.");
        return;
    }
    char csrf[44], base[80];
    if (sd_people_page_csrf(in, r, csrf) != 0) {
        sd_page_error(r, 500, "Server error", "No randomness is available.");
        sg_form_clear(&f);
        return;
    }
    const char *client = sg_form_get(&f, "client_id");
    const char *plr = sg_form_get(&f, "post_logout_redirect_uri");
    const char *state = sg_form_get(&f, "state");
    const char *hint = sg_form_get(&f, "id_token_hint");
    char hinted[SG_STORE_CLIENT_ID_MAX];
    if (hint != NULL) {
        /* §2: the hint names the client; a client_id beside it must be it. */
        const char *why = NULL;
        int rc = strlen(hint) > 8000 ? -1 : hint_client(c, t, hint, hinted, sizeof hinted, &why);
        if (rc == 0 && client != NULL && strcmp(client, hinted) != 0) {
            rc = -1;
            why = "client_id is not the client the id_token_hint was issued to.";
        }
        if (rc != 0) {
            sg_log(SG_LOG_WARN, "logout_hint_refused", "tenant=%s reason=\"%s\"", t->name,
                   rc > 0 ? "jwks unavailable" : why != NULL ? why : "too long");
            if (rc > 0)
                sd_page_error(r, 503, "Unavailable", "Tokens cannot be checked now; retry.");
            else
                sd_page_error(r, 400, "Bad request",
                              why != NULL ? why : "The id_token_hint is too long.");
            sg_form_clear(&f);
            return;
        }
        client = hinted;
    }
    (void)snprintf(base, sizeof base, "/t/%s", t->name);
    const struct sd_page_base pb = {base, t->name, csrf};
    sd_page_logout(r, &pb, client != NULL ? client : "", plr != NULL ? plr : "",
                   state != NULL ? state : "");
    sg_form_clear(&f);
}

/* Appends "<sep>name=<%-encoded value>" to buf. */
static int append_param(char *buf, size_t cap, const char *name, const char *value)
{
    size_t o = strlen(buf);
    int w = snprintf(buf + o, cap - o, "%c%s=", strchr(buf, '?') != NULL ? '&' : '?', name);
    if (w < 0 || (size_t)w >= cap - o)
        return -1;
    o += (size_t)w;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (plain ? 1u : 3u) >= cap)
            return -1;
        if (plain) {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    buf[o] = '\0';
    return 0;
}

int sd_people_append_param(char *buf, size_t cap, const char *name, const char *value)
{
    return append_param(buf, cap, name, value);
}

static void logout_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                        const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    char csrf[64], client[SG_STORE_CLIENT_ID_MAX], plr[SG_PEOPLE_URI_MAX],
        state[SG_PEOPLE_STATE_MAX];
    const char *why = NULL;
    if (b == NULL || sd_people_str(b, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(b, "client_id", 0, client, sizeof client) != 0 ||
        sd_people_str(b, "post_logout_redirect_uri", 0, plr, sizeof plr) != 0 ||
        sd_people_str(b, "state", 0, state, sizeof state) != 0) {
        json_decref(b);
        sd_people_json_error(r, 400, "invalid_request", "the body must hold csrf");
        return;
    }
    json_decref(b);
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        return;
    }
    struct sg_session s;
    if (sd_session_of(c, t, in->cookie, &s) == SIGNET_OK) {
        pthread_mutex_lock(&c->store_lock);
        signet_err err = sg_people_session_revoke(c->store, t->name, s.sid, sg_clock_now());
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK) {
            sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
            return;
        }
        sg_log(SG_LOG_INFO, "session_ended", "tenant=%s user=%s sid=%s by=logout", t->name,
               s.user_id, s.sid);
    }
    char name[96];
    session_cookie_name(t, name, sizeof name);
    add_cookie(r, name, "", "Lax", 0);
    char location[SG_PEOPLE_URI_MAX + SG_PEOPLE_STATE_MAX * 3 + 16];
    (void)snprintf(location, sizeof location, "/t/%s/signin", t->name);
    /* RP-initiated logout §3: only a URI registered for the client. */
    if (plr[0] != '\0' && client[0] != '\0') {
        struct sg_client cl;
        memset(&cl, 0, sizeof cl);
        pthread_mutex_lock(&c->store_lock);
        signet_err err = sg_store_client_get(c->store, t->name, client, &cl);
        pthread_mutex_unlock(&c->store_lock);
        if (err == SIGNET_OK && cl.redirect_uris != NULL &&
            sg_list_contains(cl.redirect_uris, plr)) {
            (void)snprintf(location, sizeof location, "%s", plr);
            if (state[0] != '\0' && append_param(location, sizeof location, "state", state) != 0)
                (void)snprintf(location, sizeof location, "%s", plr);
        }
        sg_client_clear(&cl);
    }
    sd_people_location(r, location);
}

/* ---- dispatch ------------------------------------------------------------------- */

void sd_people_endpoint(struct sd_ctx *c, const struct sg_config *cfg,
                        const struct sg_tenant_cfg *t, enum sd_people_route route,
                        const struct sd_people_in *in, struct sd_resp *r)
{
    int get = strcmp(in->method, "GET") == 0 || strcmp(in->method, "HEAD") == 0;
    int post = strcmp(in->method, "POST") == 0;
    switch (route) {
    case SD_P_AUTHORIZE:
        if (get || post) {
            sd_oidc_authorize(c, cfg, t, in, r);
            return;
        }
        break;
    case SD_P_PAR:
        if (post) {
            sd_oidc_par(c, cfg, t, in, r);
            return;
        }
        sd_people_json_error(r, 405, "invalid_request", "this endpoint accepts POST only");
        (void)snprintf(r->allow, sizeof r->allow, "POST");
        return;
    case SD_P_USERINFO:
        if (get || post) {
            sd_oidc_userinfo(c, cfg, t, in, r);
            return;
        }
        break;
    case SD_P_SIGNIN:
        if (get) {
            signin_get(c, t, in, r);
            return;
        }
        if (post) {
            signin_post(c, t, in, r);
            return;
        }
        break;
    case SD_P_OPTIONS:
        if (post) {
            options(c, t, in, r);
            return;
        }
        sd_people_json_error(r, 405, "invalid_request", "this endpoint accepts POST only");
        (void)snprintf(r->allow, sizeof r->allow, "POST");
        return;
    case SD_P_ENROL:
        if (get) {
            enrol_get(c, t, in, r);
            return;
        }
        if (post) {
            enrol_post(c, t, in, r);
            return;
        }
        break;
    case SD_P_ACCOUNT:
        if (get) {
            account_get(c, t, in, r);
            return;
        }
        break;
    case SD_P_LOGOUT:
        if (get) {
            logout_get(c, t, in, r);
            return;
        }
        if (post) {
            logout_post(c, t, in, r);
            return;
        }
        break;
    case SD_P_PASSWORD:
    case SD_P_SET_PASSWORD:
        if (post) {
            if (route == SD_P_PASSWORD)
                password_post(c, t, in, r);
            else
                set_password_post(c, t, in, r);
            return;
        }
        sd_people_json_error(r, 405, "invalid_request", "this endpoint accepts POST only");
        (void)snprintf(r->allow, sizeof r->allow, "POST");
        return;
    case SD_P_APPROVAL:
    case SD_P_APPROVAL_STATUS:
    case SD_P_TOTP:
    case SD_P_ACCOUNT_TOTP:
    case SD_P_ACCOUNT_DEVICE:
    case SD_P_APPROVER_REGISTER:
    case SD_P_APPROVER_PENDING:
    case SD_P_APPROVER_ANSWER:
        /* mfa.c's: http.c routes them there (sd_mfa_route). */
        sd_people_json_error(r, 404, "not_found", "no such endpoint");
        return;
    case SD_P_NONE:
        break;
    }
    sd_people_json_error(r, 405, "invalid_request", "use GET or POST");
    (void)snprintf(r->allow, sizeof r->allow, "GET, POST");
}

/* ==== the authorization endpoint, PAR and userinfo ==== */


#define AUTHREQ_TTL 600  /* a request waiting for its sign-in: 10 min */
#define CODE_TTL 60      /* an authorization code: 60 s */
#define PAR_TTL 60       /* a pushed request: 60 s (RFC 9126 §2.2) */
#define PAR_PREFIX "urn:ietf:params:oauth:request_uri:"

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
    return sg_form_parse(src, len, post ? SD_PEOPLE_MAX_BODY : SD_PEOPLE_MAX_QUERY, NULL, f) ==
                   SIGNET_OK
               ? 0
               : -1;
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
        if (!sd_redirect_registered(&cl, ru)) {
            sd_page_error(r, 400, "Bad redirect_uri",
                          "The redirect_uri is missing or is not registered, exactly, for this "
                          "application.");
            goto out;
        }
        (void)snprintf(q.redirect_uri, sizeof q.redirect_uri, "%s", ru);
        (void)snprintf(q.client_id, sizeof q.client_id, "%s", cl.client_id);
        (void)snprintf(q.tenant, sizeof q.tenant, "%s", t->name);
        const char *code = sd_authz_params(&f, &cl, &q, why, sizeof why);
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
    if (sd_par_client(c, cfg, t, &f, in->authz, &cl, r) != 0)
        goto out;
    if (sg_form_get(&f, "request_uri") != NULL) {
        sd_people_json_error(r, 400, "invalid_request", "request_uri is not allowed in PAR");
        goto out;
    }
    const char *ru = sg_form_get(&f, "redirect_uri");
    if (!sd_redirect_registered(&cl, ru)) {
        sd_people_json_error(r, 400, "invalid_request",
                             "redirect_uri is missing or not registered for this client");
        goto out;
    }
    (void)snprintf(q.redirect_uri, sizeof q.redirect_uri, "%s", ru);
    (void)snprintf(q.client_id, sizeof q.client_id, "%s", cl.client_id);
    (void)snprintf(q.tenant, sizeof q.tenant, "%s", t->name);
    const char *code = sd_authz_params(&f, &cl, &q, why, sizeof why);
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
    signet_claims *claims = NULL;
    signet_err err = verify_own(c, t, token, "at+jwt", NULL, NULL, &claims);
    if (err == SIGNET_ERR_JWKS_UNAVAILABLE) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "cannot verify tokens now");
        goto out;
    }
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
}
