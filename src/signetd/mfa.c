/* Second steps after a password and the approver devices (mfa.h).
 *
 * A right password leaves a pending second step (sg_mfa_pending: the page
 * holds its token, the store its hash). It ends here with
 *   - an approval: the page asks for one (POST /signin/approval), shows its
 *     two-digit number and polls; the person's registered device fetches
 *     it (GET /approver/pending) and answers with the number typed
 *     (POST /approver/answer), every device request signed by the device
 *     key (device.c); or
 *   - a TOTP code (POST /signin/totp), checked by the signer, which alone
 *     can open the sealed seed.
 * The tenant's mfa policy says which of them may follow a password; a
 * passkey always may (signin.c). There is no path from a password to a
 * session that does not pass one of them. */
#include "signetd/mfa.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "signetd/auth.h"
#include "signetd/ctx.h"
#include "signetd/device.h"
#include "signetd/pages.h"
#include "signetd/qr.h"
#include "signetd/telemetry.h"
#include "signetd/totp.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

#define ACR_MFA "urn:signet:acr:mfa"
#define REAUTH_WINDOW 300 /* adding or removing a factor needs a sign-in this recent */

int sd_mfa_route(enum sd_people_route route)
{
    switch (route) {
    case SD_P_APPROVAL:
    case SD_P_APPROVAL_STATUS:
    case SD_P_TOTP:
    case SD_P_ACCOUNT_TOTP:
    case SD_P_ACCOUNT_DEVICE:
    case SD_P_APPROVER_REGISTER:
    case SD_P_APPROVER_PENDING:
    case SD_P_APPROVER_ANSWER:
        return 1;
    default:
        return 0;
    }
}

/* ---- the pending second step ---------------------------------------------------- */

/* The body's csrf checked and its pending second step (token) live: 0 with
 * *p and the parsed body in *body (the caller frees it); otherwise r holds
 * the answer. */
static int pending_of(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                      const struct sd_people_in *in, struct sd_resp *r, json_t **body,
                      struct sg_mfa_pending *p)
{
    char csrf[64], token[64];
    const char *why = NULL;
    *body = sd_people_body(in);
    if (*body == NULL || sd_people_str(*body, "csrf", 0, csrf, sizeof csrf) != 0 ||
        sd_people_str(*body, "token", 1, token, sizeof token) != 0) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must be a JSON object with csrf and token strings");
        return -1;
    }
    if (!sd_people_csrf_ok(t, in, csrf, &why)) {
        sd_people_json_error(r, 403, "invalid_request", why);
        return -1;
    }
    char hash[SG_PEOPLE_HASH_LEN + 1];
    sd_people_hash(token, strlen(token), hash);
    OPENSSL_cleanse(token, sizeof token);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_mfa_get(c->store, t->name, hash, sg_clock_now(), p);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_NOT_FOUND) {
        sd_people_json_error(r, 400, "invalid_request",
                             "this sign-in has expired or was used: start again with your "
                             "password");
        return -1;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return -1;
    }
    return 0;
}

/* The second step succeeded: the pending step is used up, a session
 * starts (acr mfa, amr pwd + the factor's), and the answer says where the
 * browser goes on. */
static void finish(struct sd_ctx *c, const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                   const struct sg_mfa_pending *p, const char *amr, struct sd_resp *r)
{
    struct sg_mfa_pending used;
    struct sg_session s;
    char location[2048];
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_mfa_take(c->store, t->name, p->hash, sg_clock_now(), &used);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 400, "invalid_request",
                             "this sign-in was finished already or has expired");
        return;
    }
    if (sd_people_session_start(c, t, in, p->user_id, ACR_MFA, amr, r, &s) != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return;
    }
    if (sd_people_finish(c, t, p->req, &s, location, sizeof location) != 0) {
        (void)snprintf(location, sizeof location, "/t/%s/account", t->name);
        sg_log(SG_LOG_WARN, "signin_request_lost", "tenant=%s user=%s", t->name, p->user_id);
    }
    sd_people_location(r, location);
}

/* ---- approvals: the sign-in page's side ------------------------------------------ */

/* Two random decimal digits, uniformly (rejection sampling). */
static int two_digits(char out[4])
{
    uint8_t b = 0;
    do {
        if (RAND_bytes(&b, 1) != 1)
            return -1;
    } while (b >= 200);
    (void)snprintf(out, 4, "%02u", (unsigned)(b % 100));
    return 0;
}

/* The proxy's location header as shown to people: printable ASCII only
 * (anything else becomes '?'), at most cap - 1 bytes; "" when absent. */
static void coarse_location(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    for (; v != NULL && v[n] != '\0' && n + 1 < cap; n++)
        out[n] = v[n] >= 0x20 && v[n] < 0x7f ? v[n] : '?';
    out[n] = '\0';
}

/* POST /signin/approval {csrf, token}: a new prompt on the user's devices. */
static void approval_start(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                           const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = NULL;
    struct sg_mfa_pending p;
    if (pending_of(c, t, in, r, &b, &p) != 0)
        goto out;
    if (t->mfa < SG_MFA_APPROVAL_OR_PASSKEY) {
        sd_people_json_error(r, 403, "access_denied",
                             "this organisation accepts only passkeys as the second step");
        goto out;
    }
    const int64_t now = sg_clock_now();
    struct sg_device *devs = NULL;
    size_t nd = 0;
    struct sg_approval a;
    memset(&a, 0, sizeof a);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_device_list(c->store, t->name, p.user_id, &devs, &nd);
    pthread_mutex_unlock(&c->store_lock);
    free(devs);
    if (err == SIGNET_OK && nd == 0) {
        sd_people_json_error(r, 403, "access_denied",
                             "no approval device is registered for this account");
        goto out;
    }
    if (p.req[0] != '\0') {
        struct sg_authreq q;
        pthread_mutex_lock(&c->store_lock);
        if (sg_people_authreq_get(c->store, t->name, p.req, now, &q) == SIGNET_OK)
            (void)snprintf(a.client_id, sizeof a.client_id, "%s", q.client_id);
        pthread_mutex_unlock(&c->store_lock);
    }
    (void)snprintf(a.tenant, sizeof a.tenant, "%s", t->name);
    (void)snprintf(a.user_id, sizeof a.user_id, "%s", p.user_id);
    memcpy(a.mfa_hash, p.hash, sizeof a.mfa_hash);
    (void)snprintf(a.address, sizeof a.address, "%s", sd_auth_peer());
    coarse_location(in->location, a.location, sizeof a.location);
    a.created_at = now;
    a.expires_at = now + SD_APPROVAL_TTL;
    a.state = SG_APPROVAL_PENDING;
    /* An ID never begins with '-': it is typed as a command-line argument
     * (signet-authenticator approve ID). */
    int drawn = 0;
    do
        drawn = err == SIGNET_OK && sd_people_random(16, a.id, sizeof a.id) == 0;
    while (drawn && a.id[0] == '-');
    if (!drawn || two_digits(a.number) != 0) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    int64_t until = 0;
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_approval_create(c->store, &a, now, SD_APPROVAL_WINDOW,
                                    SD_APPROVAL_MAX_PROMPTS, SD_APPROVAL_LOCK,
                                    SD_APPROVAL_MAX_WRONG, &until);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_BUSY) {
        sg_log(SG_LOG_WARN, "approval_rate_limited", "tenant=%s user=%s addr=%s", t->name,
               p.user_id, sd_auth_peer());
        sd_people_json_error(r, 429, "temporarily_unavailable",
                             "too many approval requests for this account: wait a few minutes "
                             "or use another way to sign in");
        r->retry_after = 60;
        goto out;
    }
    if (err == SIGNET_ERR_PERMISSION) {
        sd_people_json_error(r, 403, "access_denied",
                             "approvals for this account are locked for a while after wrong "
                             "numbers: use another way to sign in");
        r->retry_after = until > now ? until - now : 1;
        goto out;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    sg_log(SG_LOG_INFO, "approval_requested", "tenant=%s user=%s approval=%s addr=%s",
           t->name, p.user_id, a.id, a.address);
    /* The page shows the number with the context the device shows (the
     * coarse location as "place": "location" is where the page's script
     * navigates to). */
    sd_people_answer(r, 200,
                     json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:I}", "approval", a.id,
                               "number", a.number, "expires_in", SD_APPROVAL_TTL, "client_name",
                               a.client_id[0] != '\0' ? a.client_id : t->name, "address",
                               a.address, "place", a.location, "created_at",
                               (json_int_t)a.created_at));
out:
    json_decref(b);
}

/* POST /signin/approval/status {csrf, token, approval}: the page polls. */
static void approval_status(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                            const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = NULL;
    struct sg_mfa_pending p;
    char id[SG_PEOPLE_ID_MAX];
    if (pending_of(c, t, in, r, &b, &p) != 0)
        goto out;
    struct sg_approval a;
    signet_err err = SIGNET_ERR_NOT_FOUND;
    if (sd_people_str(b, "approval", 1, id, sizeof id) == 0) {
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_approval_get(c->store, t->name, id, &a);
        pthread_mutex_unlock(&c->store_lock);
    }
    /* Only the browser that holds the pending step learns its approval. */
    if (err == SIGNET_OK && CRYPTO_memcmp(a.mfa_hash, p.hash, sizeof a.mfa_hash) != 0)
        err = SIGNET_ERR_NOT_FOUND;
    if (err != SIGNET_OK) {
        sd_people_json_error(r, err == SIGNET_ERR_NOT_FOUND ? 404 : 503,
                             err == SIGNET_ERR_NOT_FOUND ? "invalid_request"
                                                         : "temporarily_unavailable",
                             err == SIGNET_ERR_NOT_FOUND ? "no such approval request"
                                                         : "the store is unavailable");
        goto out;
    }
    const int64_t now = sg_clock_now();
    if (a.state == SG_APPROVAL_PENDING && now < a.expires_at) {
        sd_people_answer(r, 200, json_pack("{s:s, s:I}", "state", "pending", "expires_in",
                                           (json_int_t)(a.expires_at - now)));
        goto out;
    }
    if (a.state != SG_APPROVAL_APPROVED) {
        const char *state = a.state == SG_APPROVAL_PENDING ? "expired"
                            : a.state == SG_APPROVAL_USED  ? "used"
                                                           : "denied";
        sd_people_answer(r, 200, json_pack("{s:s}", "state", state));
        goto out;
    }
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_approval_set(c->store, t->name, a.id, SG_APPROVAL_USED, a.device_id, now);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_people_answer(r, 200, json_pack("{s:s}", "state", "used"));
        goto out;
    }
    sg_log(SG_LOG_INFO, "approval_used", "tenant=%s user=%s approval=%s device=%s", t->name,
           p.user_id, a.id, a.device_id);
    /* RFC 8176: the device key's proof of possession (a software key) and
     * the person's eyes on both screens, after the password. */
    finish(c, t, in, &p, "pwd swk mfa", r);
out:
    json_decref(b);
}

/* ---- TOTP: the sign-in page's side ------------------------------------------------ */

/* The body's "code" checked by the signer against user_id's TOTP (pending:
 * the one being set up, else the confirmed one), *tp its row.
 * SIGNET_ERR_MALFORMED: no 6-digit code (r holds the 400);
 * SIGNET_ERR_NOT_FOUND: no such TOTP; else sd_totp_verify's answer
 * (SIGNET_ERR_PERMISSION wrong, SIGNET_ERR_EXISTS a used time step). */
static signet_err totp_check(struct sd_ctx *c, const struct sg_tenant_cfg *t, const json_t *b,
                             const char *user_id, int pending, struct sg_totp *tp,
                             struct sd_resp *r)
{
    char typed[32], code[7];
    signet_err err = SIGNET_ERR_MALFORMED;
    if (sd_people_str(b, "code", 1, typed, sizeof typed) != 0 ||
        sd_totp_code_parse(typed, code) != 0) {
        sd_people_json_error(r, 400, "invalid_request", "the code is 6 digits");
    } else {
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_totp_get(c->store, t->name, user_id, pending, tp);
        pthread_mutex_unlock(&c->store_lock);
        int64_t step = 0;
        if (err == SIGNET_OK)
            err = sd_totp_verify(c, t, user_id, tp->cred_id, tp->sealed, code, &step);
    }
    OPENSSL_cleanse(typed, sizeof typed);
    OPENSSL_cleanse(code, sizeof code);
    return err;
}

/* POST /signin/totp {csrf, token, code}. */
static void totp_signin(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                        const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = NULL;
    struct sg_mfa_pending p;
    if (pending_of(c, t, in, r, &b, &p) != 0)
        goto out;
    if (t->mfa != SG_MFA_ANY) {
        sd_people_json_error(r, 403, "access_denied",
                             "this organisation does not accept authenticator app codes");
        goto out;
    }
    struct sg_totp tp;
    signet_err err = totp_check(c, t, b, p.user_id, 0, &tp, r);
    if (err == SIGNET_ERR_MALFORMED)
        goto out;
    if (err == SIGNET_ERR_NOT_FOUND) {
        sd_people_json_error(r, 403, "access_denied",
                             "no authenticator app is set up for this account");
        goto out;
    }
    if (err == SIGNET_ERR_PERMISSION || err == SIGNET_ERR_EXISTS) {
        pthread_mutex_lock(&c->store_lock);
        signet_err ferr = sg_people_mfa_fail(c->store, t->name, p.hash, SD_TOTP_MAX_TRIES);
        pthread_mutex_unlock(&c->store_lock);
        sg_log(SG_LOG_WARN, "totp_refused", "tenant=%s user=%s addr=%s reason=%s", t->name,
               p.user_id, sd_auth_peer(), err == SIGNET_ERR_EXISTS ? "replayed" : "wrong");
        sd_people_json_error(r, 403, "access_denied",
                             ferr == SIGNET_ERR_NOT_FOUND
                                 ? "the code is wrong, too many times: start again with your "
                                   "password"
                             : err == SIGNET_ERR_EXISTS
                                 ? "this code was used already: wait for the next one"
                                 : "the code is wrong");
        goto out;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable",
                             "codes cannot be checked now: retry");
        goto out;
    }
    pthread_mutex_lock(&c->store_lock);
    if (sg_people_totp_used(c->store, t->name, tp.cred_id, sg_clock_now()) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "totp_used_not_recorded", "tenant=%s user=%s", t->name, p.user_id);
    pthread_mutex_unlock(&c->store_lock);
    finish(c, t, in, &p, "pwd otp mfa", r);
out:
    json_decref(b);
}

/* ---- the account's factors --------------------------------------------------------- */

/* The signed-in user with a sign-in within REAUTH_WINDOW (adding or
 * removing a factor), and the body's csrf checked when body is not NULL.
 * 0, or r holds the answer (a page when page is set). */
static int recent_user(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                       const struct sd_people_in *in, const json_t *body, int page,
                       struct sg_session *s, struct sg_user *u, struct sd_resp *r)
{
    char csrf[64];
    const char *why = NULL;
    if (body != NULL && (sd_people_str(body, "csrf", 0, csrf, sizeof csrf) != 0 ||
                         !sd_people_csrf_ok(t, in, csrf, &why))) {
        sd_people_json_error(r, 403, "invalid_request", why != NULL ? why : "no csrf token");
        return -1;
    }
    const int64_t now = sg_clock_now();
    signet_err err = sd_session_of(c, t, in->cookie, s);
    if (err == SIGNET_OK && now - s->auth_time <= REAUTH_WINDOW) {
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_user_get(c->store, t->name, s->user_id, u);
        pthread_mutex_unlock(&c->store_lock);
        if (err == SIGNET_OK && !u->disabled)
            return 0;
    }
    if (page)
        sd_page_error(r, 403, "Sign in again",
                      "Adding a way to sign in needs a sign-in within the last 5 minutes: sign "
                      "out, sign in, and come back to your account page.");
    else
        sd_people_json_error(r, 403, "login_required",
                             "sign in again (within 5 minutes) to change how you sign in");
    return -1;
}

/* GET /account/totp: a new authenticator app's secret, shown once (a QR
 * code and the text), until a first code confirms it. */
static void totp_setup_page(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                            const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_session s;
    struct sg_user u;
    char csrf[44], base[80], uri[1024], secret[64];
    struct sg_totp tp;
    memset(&tp, 0, sizeof tp);
    if (recent_user(c, t, in, NULL, 1, &s, &u, r) != 0)
        return;
    if (t->mfa != SG_MFA_ANY) {
        sd_page_error(r, 403, "Not available",
                      "This organisation does not accept authenticator app codes.");
        return;
    }
    (void)snprintf(tp.tenant, sizeof tp.tenant, "%s", t->name);
    (void)snprintf(tp.user_id, sizeof tp.user_id, "%s", u.id);
    tp.created_at = sg_clock_now();
    signet_err err = sd_people_random(16, tp.cred_id, sizeof tp.cred_id) == 0
                         ? sd_totp_enrol(c, t, u.id, tp.cred_id, tp.sealed, sizeof tp.sealed,
                                         secret, sizeof secret)
                         : SIGNET_ERR_CRYPTO;
    if (err == SIGNET_OK) {
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_totp_add(c->store, &tp);
        pthread_mutex_unlock(&c->store_lock);
    }
    char host[300], origin[600];
    if (err != SIGNET_OK || sd_issuer_origin(t, origin, sizeof origin, host, sizeof host) != 0 ||
        sd_otpauth_uri(uri, sizeof uri, host, u.name, secret) != 0 ||
        sd_people_page_csrf(in, r, csrf) != 0) {
        OPENSSL_cleanse(secret, sizeof secret);
        sd_page_error(r, 503, "Unavailable", "An authenticator app cannot be set up right now.");
        return;
    }
    sg_log(SG_LOG_INFO, "totp_setup_started", "tenant=%s user=%s sid=%s", t->name, u.id, s.sid);
    (void)snprintf(base, sizeof base, "/t/%s", t->name);
    const struct sd_page_base pb = {base, t->name, csrf};
    sd_page_totp(r, &pb, u.name, uri, secret);
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(uri, sizeof uri);
}

/* POST /account/totp {csrf, code}: the first code confirms the new app;
 * {csrf, remove: true} removes it. */
static void totp_account_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                              const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    struct sg_session s;
    struct sg_user u;
    if (b == NULL) {
        sd_people_json_error(r, 400, "invalid_request", "the body must be a JSON object");
        return;
    }
    if (recent_user(c, t, in, b, 0, &s, &u, r) != 0)
        goto out;
    const int64_t now = sg_clock_now();
    if (json_is_true(json_object_get(b, "remove"))) {
        struct sg_totp old;
        pthread_mutex_lock(&c->store_lock);
        signet_err err = sg_people_totp_get(c->store, t->name, u.id, 0, &old);
        pthread_mutex_unlock(&c->store_lock);
        /* The signer forgets the credential's replay state and audits it. */
        if (err == SIGNET_OK && sd_totp_remove(c, t, u.id, old.cred_id) != SIGNET_OK) {
            sd_people_json_error(r, 503, "temporarily_unavailable",
                                 "the authenticator app cannot be removed now: retry");
            goto out;
        }
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_totp_remove(c->store, t->name, u.id);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK && err != SIGNET_ERR_NOT_FOUND) {
            sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
            goto out;
        }
        sd_tm_people(c, t, u.id, SG_IPC_PEOPLE_FACTOR_REMOVED, "totp");
        sd_people_answer(r, 200, json_pack("{s:b}", "totp", 0));
        goto out;
    }
    struct sg_totp tp;
    signet_err err = totp_check(c, t, b, u.id, 1, &tp, r);
    if (err == SIGNET_ERR_MALFORMED)
        goto out;
    if (err == SIGNET_ERR_NOT_FOUND) {
        sd_people_json_error(r, 400, "invalid_request",
                             "no authenticator app is being set up: open the setup page again");
        goto out;
    }
    if (err == SIGNET_ERR_PERMISSION || err == SIGNET_ERR_EXISTS) {
        sd_people_json_error(r, 400, "invalid_request",
                             "the code does not match: check the app's clock and type the "
                             "current code");
        goto out;
    }
    if (err == SIGNET_OK) {
        pthread_mutex_lock(&c->store_lock);
        err = sg_people_totp_confirm(c->store, t->name, u.id, tp.cred_id, now);
        pthread_mutex_unlock(&c->store_lock);
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "codes cannot be checked now");
        goto out;
    }
    sd_tm_people(c, t, u.id, SG_IPC_PEOPLE_FACTOR_ADDED, "totp");
    sd_people_answer(r, 200, json_pack("{s:b}", "totp", 1));
out:
    json_decref(b);
}

/* A registration code a person can type: 10 characters of Crockford's
 * base32 (50 bits), shown as XXXX-XXXX-XX. */
static int device_code(char out[16])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t raw[10];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        if (i == 4 || i == 8)
            out[o++] = '-';
        out[o++] = alphabet[raw[i] & 31];
    }
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* What a typed code is stored under: its characters without separators,
 * upper case, with Crockford's readings of O, I and L; NULL-safe. */
static void code_hash(const char *typed, char hash[SG_PEOPLE_HASH_LEN + 1])
{
    char norm[32];
    size_t o = 0;
    for (const char *p = typed; *p != '\0' && o + 1 < sizeof norm; p++) {
        char ch = *p;
        if (ch == '-' || ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        ch = ch == 'O' ? '0' : (ch == 'I' || ch == 'L') ? '1' : ch;
        norm[o++] = ch;
    }
    norm[o] = '\0';
    sd_people_hash(norm, o, hash);
    OPENSSL_cleanse(norm, sizeof norm);
}

/* POST /account/device {csrf}: a one-time code to register a device;
 * {csrf, remove: "<device id>"}: removes one. */
static void device_account_post(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                const struct sd_people_in *in, struct sd_resp *r)
{
    json_t *b = sd_people_body(in);
    struct sg_session s;
    struct sg_user u;
    char id[SG_PEOPLE_HASH_LEN + 1], code[16], hash[SG_PEOPLE_HASH_LEN + 1];
    if (b == NULL) {
        sd_people_json_error(r, 400, "invalid_request", "the body must be a JSON object");
        return;
    }
    if (recent_user(c, t, in, b, 0, &s, &u, r) != 0)
        goto out;
    const int64_t now = sg_clock_now();
    if (json_object_get(b, "remove") != NULL) {
        if (sd_people_str(b, "remove", 1, id, sizeof id) != 0) {
            sd_people_json_error(r, 400, "invalid_request", "remove names a device id");
            goto out;
        }
        pthread_mutex_lock(&c->store_lock);
        signet_err err = sg_people_device_remove(c->store, t->name, u.id, id);
        pthread_mutex_unlock(&c->store_lock);
        if (err != SIGNET_OK) {
            sd_people_json_error(r, err == SIGNET_ERR_NOT_FOUND ? 404 : 503,
                                 err == SIGNET_ERR_NOT_FOUND ? "invalid_request"
                                                             : "temporarily_unavailable",
                                 err == SIGNET_ERR_NOT_FOUND ? "no such device"
                                                             : "the store is unavailable");
            goto out;
        }
        sd_tm_people(c, t, u.id, SG_IPC_PEOPLE_FACTOR_REMOVED, "device");
        sd_people_answer(r, 200, json_pack("{s:s}", "removed", id));
        goto out;
    }
    if (t->mfa < SG_MFA_APPROVAL_OR_PASSKEY) {
        sd_people_json_error(r, 403, "access_denied",
                             "this organisation accepts only passkeys: approval devices are "
                             "not used");
        goto out;
    }
    if (device_code(code) != 0) {
        sd_people_json_error(r, 500, "server_error", "no randomness");
        goto out;
    }
    code_hash(code, hash);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_device_code_create(c->store, t->name, u.id, hash,
                                                  now + SD_DEVICE_CODE_TTL, now);
    pthread_mutex_unlock(&c->store_lock);
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        goto out;
    }
    sg_log(SG_LOG_INFO, "device_code_issued", "tenant=%s user=%s sid=%s", t->name, u.id, s.sid);
    sd_people_answer(r, 200, json_pack("{s:s, s:i}", "code", code, "expires_in",
                                       SD_DEVICE_CODE_TTL));
    OPENSSL_cleanse(code, sizeof code);
out:
    json_decref(b);
}

/* ---- the approver's API (signet-authenticator) ------------------------------------ */

/* The request's device proof (header Signet-Device) checked against the
 * registered device (or, registering, the key it carries), and its jti
 * recorded: 0 with *d filled (registering: d->id and d->jwk only);
 * otherwise r holds the 400/401 answer. */
static int device_auth(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                       const struct sd_people_in *in, const char *path, int registering,
                       struct sg_device *d, struct sd_resp *r)
{
    char htu[sizeof t->issuer + 32];
    const char *why = "a Signet-Device proof is required";
    struct sd_device_proof proof;
    memset(&proof, 0, sizeof proof);
    memset(d, 0, sizeof *d);
    const int64_t now = sg_clock_now();
    (void)snprintf(htu, sizeof htu, "%s%s", t->issuer, path);
    signet_err err = SIGNET_ERR_DPOP;
    if (in->device != NULL && !registering) {
        /* The kid names the device; its registered key checks the proof. */
        char kid[SG_PEOPLE_HASH_LEN + 1];
        err = sd_device_proof_kid(in->device, strlen(in->device), kid, sizeof kid);
        if (err == SIGNET_OK) {
            pthread_mutex_lock(&c->store_lock);
            err = sg_people_device_get(c->store, t->name, kid, d);
            pthread_mutex_unlock(&c->store_lock);
            why = err == SIGNET_OK ? why : "this device is not registered (or its account is "
                                           "disabled)";
        }
    }
    if (in->device != NULL && (registering || err == SIGNET_OK)) {
        const struct sd_device_expect e = {
            .htm = in->method,
            .htu = htu,
            .body = (const uint8_t *)in->body,
            .body_len = in->len,
            .now = now,
            .skew = SD_DEVICE_SKEW,
            .registering = registering,
            .device_jwk = registering ? NULL : d->jwk,
            .device_jwk_len = registering ? 0 : strlen(d->jwk),
        };
        err = sd_device_proof_verify(in->device, strlen(in->device), &e, &proof, &why);
    }
    if (err == SIGNET_OK) {
        /* Each proof once: the replay cache keyed by the device. */
        char who[SG_PEOPLE_HASH_LEN + 8];
        (void)snprintf(who, sizeof who, "dev:%s", proof.device_id);
        pthread_mutex_lock(&c->replay_lock);
        err = sg_store_jti_use(c->replay, t->name, who, proof.jti, proof.iat + SD_DEVICE_SKEW + 1,
                               now);
        pthread_mutex_unlock(&c->replay_lock);
        why = err == SIGNET_ERR_EXISTS ? "this device proof was used already (replay)"
              : err != SIGNET_OK       ? "the replay cache is unavailable"
                                       : why;
    }
    if (err == SIGNET_OK && registering) {
        (void)snprintf(d->id, sizeof d->id, "%s", proof.device_id);
        if (proof.jwk[0] == '\0' || strlen(proof.jwk) >= sizeof d->jwk) {
            err = SIGNET_ERR_MALFORMED;
            why = "the device key is malformed";
        } else {
            (void)snprintf(d->jwk, sizeof d->jwk, "%s", proof.jwk);
        }
    }
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_WARN, "device_proof_refused", "tenant=%s addr=%s reason=\"%s\"", t->name,
               sd_auth_peer(), why);
        int64_t wait = sd_budget_take("dev-fail", sd_auth_peer(), 1.0, 30);
        sd_people_json_error(r, wait > 0 ? 429 : 401, "invalid_request", why);
        if (wait > 0)
            r->retry_after = wait;
        (void)snprintf(r->www_auth, sizeof r->www_auth, "Signet-Device error=\"invalid_proof\"");
        return -1;
    }
    return 0;
}

/* POST /approver/register {code, name}. */
static void approver_register(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                              const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_device d;
    char typed[32], hash[SG_PEOPLE_HASH_LEN + 1];
    json_t *b = sd_people_body(in);
    if (b == NULL || sd_people_str(b, "code", 1, typed, sizeof typed) != 0 ||
        sd_people_str(b, "name", 0, d.name, sizeof d.name) != 0) {
        json_decref(b);
        sd_people_json_error(r, 400, "invalid_request",
                             "the body must be a JSON object with code (and name) strings");
        return;
    }
    char name[SG_PEOPLE_DEVICE_NAME_MAX];
    (void)sd_people_str(b, "name", 0, name, sizeof name);
    json_decref(b);
    /* Guessing codes: one budget per address, before any work. */
    int64_t wait = sd_budget_take("dev-reg", sd_auth_peer(), 1.0 / 6.0, 20);
    if (wait > 0) {
        sd_people_json_error(r, 429, "temporarily_unavailable",
                             "too many registrations from this address: wait and retry");
        r->retry_after = wait;
        return;
    }
    if (device_auth(c, t, in, "/approver/register", 1, &d, r) != 0)
        return;
    (void)snprintf(d.tenant, sizeof d.tenant, "%s", t->name);
    (void)snprintf(d.name, sizeof d.name, "%s", name[0] != '\0' ? name : "device");
    const int64_t now = sg_clock_now();
    d.created_at = now;
    code_hash(typed, hash);
    OPENSSL_cleanse(typed, sizeof typed);
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_device_register(c->store, t->name, hash, now, &d);
    struct sg_user u;
    memset(&u, 0, sizeof u);
    if (err == SIGNET_OK)
        err = sg_people_user_get(c->store, t->name, d.user_id, &u);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_NOT_FOUND || err == SIGNET_ERR_EXISTS) {
        sg_log(SG_LOG_WARN, "device_register_refused", "tenant=%s addr=%s reason=%s", t->name,
               sd_auth_peer(), err == SIGNET_ERR_EXISTS ? "key_registered" : "code");
        sd_people_json_error(r, err == SIGNET_ERR_EXISTS ? 409 : 400, "invalid_request",
                             err == SIGNET_ERR_EXISTS
                                 ? "this device key is registered already"
                                 : "the code is wrong, used or expired: get a new one from "
                                   "your account page");
        return;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return;
    }
    sg_log(SG_LOG_INFO, "device_registered", "tenant=%s user=%s device=%s addr=%s", t->name,
           d.user_id, d.id, sd_auth_peer());
    sd_tm_people(c, t, d.user_id, SG_IPC_PEOPLE_FACTOR_ADDED, "device");
    sd_people_answer(r, 201, json_pack("{s:s, s:s}", "device_id", d.id, "user", u.name));
}

/* GET /approver/pending. */
static void approver_pending(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                             const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_device d;
    if (device_auth(c, t, in, "/approver/pending", 0, &d, r) != 0)
        return;
    const int64_t now = sg_clock_now();
    struct sg_approval *list = NULL;
    size_t n = 0;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_approval_pending(c->store, t->name, d.user_id, now, &list, &n);
    if (err == SIGNET_OK && sg_people_device_used(c->store, t->name, d.id, now) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "device_used_not_recorded", "tenant=%s device=%s", t->name, d.id);
    pthread_mutex_unlock(&c->store_lock);
    json_t *arr = json_array();
    for (size_t i = 0; err == SIGNET_OK && arr != NULL && i < n; i++)
        (void)json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", list[i].id, "client",
                           list[i].client_id, "client_name",
                           list[i].client_id[0] != '\0' ? list[i].client_id : t->name,
                           "address", list[i].address, "location", list[i].location,
                           "created_at", (json_int_t)list[i].created_at, "expires_at",
                           (json_int_t)list[i].expires_at));
    free(list);
    if (err != SIGNET_OK) {
        json_decref(arr);
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return;
    }
    sd_people_answer(r, 200, json_pack("{s:o}", "approvals", arr));
}

/* POST /approver/answer {id, number, decision}. */
static void approver_answer(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                            const struct sd_people_in *in, struct sd_resp *r)
{
    struct sg_device d;
    struct sd_approval_answer ans;
    const char *why = NULL;
    if (sd_approval_answer_parse((const uint8_t *)in->body, in->len, &ans, &why) != 0) {
        sd_people_json_error(r, 400, "invalid_request", why);
        return;
    }
    if (device_auth(c, t, in, "/approver/answer", 0, &d, r) != 0)
        return;
    const int64_t now = sg_clock_now();
    struct sg_approval a;
    pthread_mutex_lock(&c->store_lock);
    signet_err err = sg_people_approval_get(c->store, t->name, ans.id, &a);
    pthread_mutex_unlock(&c->store_lock);
    /* Another user's approval is as unknown as a made-up one: a second
     * device cannot answer for the first's user. */
    if (err == SIGNET_OK && strcmp(a.user_id, d.user_id) != 0)
        err = SIGNET_ERR_NOT_FOUND;
    if (err != SIGNET_OK) {
        sd_people_json_error(r, err == SIGNET_ERR_NOT_FOUND ? 404 : 503,
                             err == SIGNET_ERR_NOT_FOUND ? "invalid_request"
                                                         : "temporarily_unavailable",
                             err == SIGNET_ERR_NOT_FOUND ? "no such approval request"
                                                         : "the store is unavailable");
        return;
    }
    if (a.state != SG_APPROVAL_PENDING) {
        sd_people_json_error(r, 409, "invalid_request", "this request was answered already");
        return;
    }
    if (now >= a.expires_at) {
        sd_people_json_error(r, 410, "invalid_request", "this request has expired");
        return;
    }
    int state = SG_APPROVAL_DENIED;
    const char *result = "denied";
    if (ans.decision == SD_ANSWER_NOT_ME) {
        state = SG_APPROVAL_REPORTED;
        result = "reported";
    } else if (ans.decision == SD_ANSWER_APPROVE) {
        int right = sd_device_number_ok(ans.number, a.number);
        state = right ? SG_APPROVAL_APPROVED : SG_APPROVAL_WRONG;
        result = right ? "approved" : "wrong_number";
    }
    pthread_mutex_lock(&c->store_lock);
    err = sg_people_approval_set(c->store, t->name, a.id, state, d.id, now);
    if (sg_people_device_used(c->store, t->name, d.id, now) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "device_used_not_recorded", "tenant=%s device=%s", t->name, d.id);
    size_t revoked = 0;
    if (err == SIGNET_OK && state == SG_APPROVAL_REPORTED)
        err = sg_people_session_revoke_user(c->store, t->name, a.user_id, now, &revoked);
    pthread_mutex_unlock(&c->store_lock);
    if (err == SIGNET_ERR_EXISTS || err == SIGNET_ERR_NOT_FOUND) {
        sd_people_json_error(r, err == SIGNET_ERR_EXISTS ? 409 : 410, "invalid_request",
                             err == SIGNET_ERR_EXISTS ? "this request was answered already"
                                                      : "this request has expired");
        return;
    }
    if (err != SIGNET_OK) {
        sd_people_json_error(r, 503, "temporarily_unavailable", "the store is unavailable");
        return;
    }
    sg_log(state == SG_APPROVAL_APPROVED ? SG_LOG_INFO : SG_LOG_WARN, "approval_answered",
           "tenant=%s user=%s approval=%s device=%s result=%s addr=%s", t->name, a.user_id,
           a.id, d.id, result, a.address);
    if (state == SG_APPROVAL_REPORTED) {
        sg_log(SG_LOG_ERROR, "approval_reported",
               "tenant=%s user=%s approval=%s sessions_revoked=%zu addr=%s alert=1", t->name,
               a.user_id, a.id, revoked, a.address);
        sd_tm_people(c, t, a.user_id, SG_IPC_PEOPLE_APPROVAL_REPORTED, "device");
    } else if (state == SG_APPROVAL_WRONG) {
        /* The third wrong number within the lock window locks prompts:
         * the next create says so; the alert is raised now. */
        int64_t until = 0;
        pthread_mutex_lock(&c->store_lock);
        signet_err lerr = sg_people_approval_locked(c->store, t->name, a.user_id, now,
                                                    SD_APPROVAL_LOCK, SD_APPROVAL_MAX_WRONG,
                                                    &until);
        pthread_mutex_unlock(&c->store_lock);
        if (lerr == SIGNET_ERR_PERMISSION) {
            sg_log(SG_LOG_ERROR, "approval_locked",
                   "tenant=%s user=%s until=%lld addr=%s alert=1", t->name, a.user_id,
                   (long long)until, a.address);
            sd_tm_people(c, t, a.user_id, SG_IPC_PEOPLE_APPROVAL_LOCKED, "device");
        }
    }
    sd_people_answer(r, 200, json_pack("{s:s}", "result", result));
}

/* ---- dispatch ---------------------------------------------------------------------- */

void sd_mfa_endpoint(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                     enum sd_people_route route, const struct sd_people_in *in,
                     struct sd_resp *r)
{
    (void)cfg;
    int get = strcmp(in->method, "GET") == 0 || strcmp(in->method, "HEAD") == 0;
    int post = strcmp(in->method, "POST") == 0;
    if (route == SD_P_ACCOUNT_TOTP && get) {
        totp_setup_page(c, t, in, r);
        return;
    }
    if (route == SD_P_APPROVER_PENDING) {
        if (get) {
            approver_pending(c, t, in, r);
            return;
        }
        sd_people_json_error(r, 405, "invalid_request", "this endpoint accepts GET only");
        (void)snprintf(r->allow, sizeof r->allow, "GET");
        return;
    }
    if (!post) {
        sd_people_json_error(r, 405, "invalid_request", "this endpoint accepts POST only");
        (void)snprintf(r->allow, sizeof r->allow,
                       route == SD_P_ACCOUNT_TOTP ? "GET, POST" : "POST");
        return;
    }
    switch (route) {
    case SD_P_APPROVAL:
        approval_start(c, t, in, r);
        return;
    case SD_P_APPROVAL_STATUS:
        approval_status(c, t, in, r);
        return;
    case SD_P_TOTP:
        totp_signin(c, t, in, r);
        return;
    case SD_P_ACCOUNT_TOTP:
        totp_account_post(c, t, in, r);
        return;
    case SD_P_ACCOUNT_DEVICE:
        device_account_post(c, t, in, r);
        return;
    case SD_P_APPROVER_REGISTER:
        approver_register(c, t, in, r);
        return;
    case SD_P_APPROVER_ANSWER:
        approver_answer(c, t, in, r);
        return;
    default:
        sd_people_json_error(r, 404, "not_found", "no such endpoint");
        return;
    }
}
