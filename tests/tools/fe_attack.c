/* fe_attack: a compromised front end, as a real process.
 *
 *   fe_attack --state DIR SCENARIO       (as root)
 *   fe_attack --state DIR ptrace PID     (as root)
 *   fe_attack --state DIR vmread PID     (as root)
 *
 * It does what the launcher does (src/signetd/launcher.c): starts signers
 * with SG_SPAWN_ROLE_FRONT, one per channel the scenario needs (the
 * launcher gives the front end several; their second channel, the
 * monitor's, is not the front end's and is not made). Then it becomes the front end's
 * account, the owner of DIR/front, exactly as the front end does
 * (sg_account_of_dir + sg_account_become, src/signetd/main.c), and from
 * then on is an attacker holding the front end's channels: it sends
 * whatever frames it likes. It has no seccomp filter, so it is a stronger
 * attacker than a front end exploited in place.
 *
 * Every step prints "<step>: <outcome>", the outcome being the signer's
 * status name (signet_err_name), "dropped" when the signer closed the
 * channel, or an errno name. Exit 0 only when every attack was refused
 * the expected way and every legitimate request around them still worked;
 * 1 when an attack was not refused as expected; 2 on a usage or set-up
 * error. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/accounts.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/signer_client.h"
#include "util/b64url.h"
#include "util/buf.h"
#include "util/clock.h"

#define MAX_CHANNELS 6
#define OUTCOME_DROPPED "dropped"
/* No answer and no hang-up within CHANNEL_TIMEOUT_S: an attack that was
 * neither refused nor dropped fails instead of hanging the suite. */
#define OUTCOME_TIMEOUT "timeout (no answer, channel still open)"
#define CHANNEL_TIMEOUT_S 30

struct channel {
    int fd;
    pid_t pid;
    uint32_t next_id;
};

static struct sg_config cfg;
static int failures;
/* An operator's channel (role ADMIN), opened as root before the drop: the
 * attacker learns kids from the JWKS anyway; this only names which is which. */
static struct channel admin;

/* One line per step; a step whose outcome is not the expected one counts
 * as a failure of the whole run. */
static void expect(const char *step, const char *got, const char *want)
{
    int ok = strcmp(got, want) == 0;
    printf("%s: %s%s%s\n", step, got, ok ? "" : " (expected ", ok ? "" : want);
    if (!ok) {
        printf("  ^ FAILED\n");
        failures++;
    }
    (void)fflush(stdout);
}

/* Writes raw bytes; SIGNET_ERR_SIGNER_GONE when the signer has hung up. */
static signet_err send_raw(struct channel *c, const void *p, size_t n)
{
    return sg_ipc_write_all(c->fd, p, n);
}

static signet_err send_frame(struct channel *c, uint8_t type, const void *payload, size_t len,
                             uint32_t *id)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    *id = c->next_id++;
    sg_ipc_put_frame(&w, type, *id, payload, len);
    signet_err err = w.err != SIGNET_OK ? w.err : send_raw(c, w.data, w.len);
    sg_wbuf_free(&w);
    return err;
}

/* Reads the response to request id. *status is the signer's verdict;
 * *body (malloc'd, may be NULL) what follows it. Returns
 * SIGNET_ERR_SIGNER_GONE when the channel was closed. */
static signet_err read_response(struct channel *c, uint8_t type, uint32_t id, signet_err *status,
                                uint8_t **body, size_t *body_len)
{
    struct sg_wbuf in;
    sg_wbuf_init(&in, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    struct sg_ipc_frame f;
    signet_err err = sg_ipc_read_frame(c->fd, &in, &f);
    uint32_t st = 0;
    struct sg_buf b;
    if (err == SIGNET_OK && (f.type != (uint8_t)(type | SG_IPC_RESPONSE) || f.id != id))
        err = SIGNET_ERR_BAD_FRAME;
    if (err == SIGNET_OK) {
        sg_buf_init(&b, f.payload, f.len);
        err = sg_buf_get_u32(&b, &st);
    }
    if (err == SIGNET_OK && body != NULL) {
        size_t n = sg_buf_remaining(&b);
        *body = malloc(n + 1);
        if (*body == NULL) {
            err = SIGNET_ERR_NOMEM;
        } else {
            memcpy(*body, f.payload + 4, n);
            (*body)[n] = '\0';
            *body_len = n;
        }
    }
    *status = (signet_err)st;
    sg_wbuf_free(&in);
    return err;
}

/* The outcome of one request: the status name, or "dropped". */
static const char *call(struct channel *c, uint8_t type, const void *payload, size_t len,
                        uint8_t **body, size_t *body_len)
{
    uint32_t id = 0;
    signet_err status = SIGNET_OK;
    if (body != NULL)
        *body = NULL;
    signet_err err = send_frame(c, type, payload, len, &id);
    errno = 0;
    if (err == SIGNET_OK)
        err = read_response(c, type, id, &status, body, body_len);
    if (err == SIGNET_ERR_SIGNER_GONE && (errno == EAGAIN || errno == EWOULDBLOCK))
        return OUTCOME_TIMEOUT;
    if (err == SIGNET_ERR_SIGNER_GONE)
        return OUTCOME_DROPPED;
    if (err != SIGNET_OK)
        return signet_err_name(err);
    return signet_err_name(status);
}

/* After a frame the signer must refuse by dropping us: reading gives EOF,
 * and the signer process exits. */
static const char *await_drop(struct channel *c)
{
    uint8_t tmp[4096];
    ssize_t n;
    do
        n = read(c->fd, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return "answered";
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return OUTCOME_TIMEOUT;
    int st = 0;
    pid_t r;
    do
        r = waitpid(c->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r == c->pid)
        c->pid = -1;
    return OUTCOME_DROPPED;
}

static int64_t now(void)
{
    return sg_clock_now();
}

/* The client the scenarios sign for: registered by the test with
 * `signet client add --tenant <first tenant> --id fe-attack --scope read
 * --audience https://api.example` (so bound in the signer's registry). */
#define FE_CLIENT "fe-attack"
#define FE_AUD "https://api.example"

/* A machine token's claims for FE_CLIENT, as the front end builds them (no
 * jti: the signer mints it), with extra members appended (may be ""). */
static char *claims_with(const char *iss, int64_t iat, int64_t lifetime, const char *extra)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", iss, "sub", FE_CLIENT, "aud",
                          FE_AUD, "iat", (json_int_t)iat, "exp", (json_int_t)(iat + lifetime),
                          "client_id", FE_CLIENT);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL || extra[0] == '\0')
        return text;
    size_t n = strlen(text), m = strlen(extra);
    char *out = malloc(n + m + 2);
    if (out != NULL) {
        memcpy(out, text, n - 1); /* without the closing brace */
        out[n - 1] = ',';
        memcpy(out + n, extra, m);
        out[n + m] = '}';
        out[n + m + 1] = '\0';
    }
    free(text);
    return out;
}

static char *claims_json(const char *iss, int64_t iat, int64_t lifetime)
{
    return claims_with(iss, iat, lifetime, "");
}

/* SIGN of raw claims: *token (malloc'd, may be NULL) when one came back. */
static const char *sign_claims(struct channel *c, const char *issuer, const char *kid,
                               const char *claims, char **token)
{
    *token = NULL;
    if (claims == NULL)
        return signet_err_name(SIGNET_ERR_NOMEM);
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, issuer, "", "at+jwt", kid, (const uint8_t *)claims, strlen(claims));
    uint8_t *body = NULL;
    size_t n = 0;
    const char *out = w.err != SIGNET_OK ? signet_err_name(w.err)
                                         : call(c, SG_IPC_SIGN, w.data, w.len, &body, &n);
    sg_wbuf_free(&w);
    /* The answer is the token as one u16-prefixed field. */
    if (body != NULL && n > 2) {
        *token = strndup((const char *)body + 2, n - 2);
    }
    free(body);
    return out;
}

/* SIGN: *token_len > 0 when a token came back. */
static const char *sign(struct channel *c, const char *issuer, const char *kid,
                        const char *claims_iss, int64_t lifetime, size_t *token_len)
{
    char *claims = claims_json(claims_iss, now(), lifetime);
    char *tok = NULL;
    const char *out = sign_claims(c, issuer, kid, claims, &tok);
    *token_len = tok != NULL ? strlen(tok) : 0;
    free(tok);
    free(claims);
    return out;
}

/* A legitimate token on this channel: the signer still serves. */
static void legit_sign(struct channel *c, const char *step)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    size_t tl = 0;
    const char *got = sign(c, t->issuer, "", t->issuer, 300, &tl);
    expect(step, got, "SIGNET_OK");
    if (strcmp(got, "SIGNET_OK") == 0 && tl == 0) {
        printf("  ^ FAILED: OK without a token\n");
        failures++;
    }
}

/* A refused SIGN: the expected status, and no token. */
static void refused_sign(struct channel *c, const char *step, const char *issuer, const char *kid,
                         const char *claims_iss, int64_t lifetime, const char *want)
{
    size_t tl = 0;
    expect(step, sign(c, issuer, kid, claims_iss, lifetime, &tl), want);
    if (tl != 0) {
        printf("  ^ FAILED: a token came back\n");
        failures++;
    }
}

static const char *str_call(struct channel *c, uint8_t type, const char *arg, char **json)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_wbuf_put_str(&w, arg);
    uint8_t *body = NULL;
    size_t n = 0;
    const char *out = call(c, type, w.data, w.len, &body, &n);
    sg_wbuf_free(&w);
    if (json != NULL)
        *json = (char *)body;
    else
        free(body);
    return out;
}

/* The kid of issuer's key in state (KEYS, on the operator's channel: the
 * front end's role may not send it). */
static int find_kid(const char *issuer, const char *state, char *kid, size_t cap)
{
    char *text = NULL;
    const char *got = str_call(&admin, SG_IPC_KEYS, issuer, &text);
    json_t *rows = strcmp(got, "SIGNET_OK") == 0 && text != NULL ? json_loads(text, 0, NULL)
                                                                  : NULL;
    free(text);
    int found = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *s = json_string_value(json_object_get(r, "state"));
        const char *k = json_string_value(json_object_get(r, "kid"));
        if (!found && s != NULL && k != NULL && strcmp(s, state) == 0 &&
            !json_is_true(json_object_get(r, "revoked"))) {
            (void)snprintf(kid, cap, "%s", k);
            found = 1;
        }
    }
    json_decref(rows);
    printf("keys %s %s: %s\n", state, issuer, found ? kid : "(none)");
    return found;
}

/* Sends a frame the message table must refuse; the channel must drop. */
static void dropped_frame(struct channel *c, const char *step, uint8_t type, size_t len)
{
    uint8_t *payload = calloc(1, len + 1);
    if (payload == NULL) {
        expect(step, "SIGNET_ERR_NOMEM", OUTCOME_DROPPED);
        return;
    }
    memset(payload, 'A', len);
    uint32_t id = 0;
    signet_err err = send_frame(c, type, payload, len, &id);
    free(payload);
    /* A write cut short by the hang-up is as good a drop as EOF. */
    expect(step, err == SIGNET_OK || err == SIGNET_ERR_SIGNER_GONE ? await_drop(c)
                                                                   : signet_err_name(err),
           OUTCOME_DROPPED);
}

/* ---- the scenarios ---- */

static int need_two_tenants(void)
{
    if (cfg.n_tenants >= 2)
        return 0;
    fprintf(stderr, "fe_attack: this scenario needs two tenants in signet.conf\n");
    return -1;
}

static int sc_other_issuer(struct channel *ch)
{
    if (need_two_tenants() != 0)
        return 2;
    const char *a = cfg.tenants[0].issuer, *b = cfg.tenants[1].issuer;
    char kid_a[128];
    if (!find_kid(a, "ACTIVE", kid_a, sizeof kid_a))
        return 2;
    refused_sign(&ch[0], "sign issuer=A claims.iss=B", a, "", b, 300, "SIGNET_ERR_POLICY_ISSUER");
    refused_sign(&ch[0], "sign issuer=B kid=A's ACTIVE", b, kid_a, b, 300,
                 "SIGNET_ERR_KEY_STATE");
    refused_sign(&ch[0], "sign issuer=B kid=A's ACTIVE claims.iss=A", b, kid_a, a, 300,
                 "SIGNET_ERR_KEY_STATE");
    refused_sign(&ch[0], "sign issuer=unknown", "https://attacker.example/t/x", "",
                 "https://attacker.example/t/x", 300, "SIGNET_ERR_UNKNOWN_ISSUER_CONFIG");
    legit_sign(&ch[0], "legit sign after");
    return 0;
}

static int sc_long_lifetime(struct channel *ch)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    refused_sign(&ch[0], "sign lifetime=max+1", t->issuer, "", t->issuer,
                 t->max_token_lifetime + 1, "SIGNET_ERR_POLICY_LIFETIME");
    refused_sign(&ch[0], "sign lifetime=10*max", t->issuer, "", t->issuer,
                 10 * t->max_token_lifetime, "SIGNET_ERR_POLICY_LIFETIME");
    size_t tl = 0;
    expect("sign lifetime=max (the limit itself)",
           sign(&ch[0], t->issuer, "", t->issuer, t->max_token_lifetime, &tl), "SIGNET_OK");
    legit_sign(&ch[0], "legit sign after");
    return 0;
}

static int sc_wrong_kid(struct channel *ch)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    char pub[128], act[128];
    if (!find_kid(t->issuer, "PUBLISHED", pub, sizeof pub) ||
        !find_kid(t->issuer, "ACTIVE", act, sizeof act))
        return 2;
    refused_sign(&ch[0], "sign kid=PUBLISHED", t->issuer, pub, t->issuer, 300,
                 "SIGNET_ERR_KEY_STATE");
    refused_sign(&ch[0], "sign kid=unknown", t->issuer, "no-such-kid", t->issuer, 300,
                 "SIGNET_ERR_KEY_STATE");
    size_t tl = 0;
    expect("sign kid=ACTIVE (explicit)", sign(&ch[0], t->issuer, act, t->issuer, 300, &tl),
           "SIGNET_OK");
    legit_sign(&ch[0], "legit sign after");
    return 0;
}

static int sc_rotate(struct channel *ch)
{
    legit_sign(&ch[0], "legit sign before");
    expect("rotate", str_call(&ch[0], SG_IPC_ROTATE, "", NULL), OUTCOME_DROPPED);
    expect("rotate: channel afterwards", await_drop(&ch[0]), OUTCOME_DROPPED);
    legit_sign(&ch[1], "legit sign on another signer");
    return 0;
}

static int sc_unknown_type(struct channel *ch)
{
    dropped_frame(&ch[0], "type 0x30", 0x30, 0);
    dropped_frame(&ch[1], "type 0x81 (a response from the front end)", 0x81, 4);
    legit_sign(&ch[2], "legit sign on another signer");
    return 0;
}

static int sc_oversize(struct channel *ch)
{
    const uint32_t sign_cap = 4u * (2u + SG_IPC_MAX_STR) + 2u + SG_IPC_MAX_CLAIMS;
    const struct sg_ipc_msg *m = sg_ipc_msg_find(SG_IPC_SIGN);
    if (m == NULL || m->max_payload != sign_cap) {
        fprintf(stderr, "fe_attack: SIGN's cap is not %u\n", sign_cap);
        return 2;
    }
    dropped_frame(&ch[0], "status with 1 byte (cap 0)", SG_IPC_STATUS, 1);
    dropped_frame(&ch[1], "sign with cap+1 bytes", SG_IPC_SIGN, sign_cap + 1u);
    /* A header announcing more than any frame may carry, and nothing after
     * it: refused on the header alone, without waiting for the payload. */
    uint8_t hdr[SG_IPC_HEADER_LEN] = {'S', 'G', SG_IPC_VERSION, SG_IPC_STATUS, 0, 0, 0, 1};
    const uint32_t big = SG_IPC_MAX_PAYLOAD + 1u;
    hdr[8] = (uint8_t)(big >> 24);
    hdr[9] = (uint8_t)(big >> 16);
    hdr[10] = (uint8_t)(big >> 8);
    hdr[11] = (uint8_t)big;
    signet_err err = send_raw(&ch[2], hdr, sizeof hdr);
    expect("header announcing SG_IPC_MAX_PAYLOAD+1",
           err == SIGNET_OK || err == SIGNET_ERR_SIGNER_GONE ? await_drop(&ch[2])
                                                             : signet_err_name(err),
           OUTCOME_DROPPED);
    legit_sign(&ch[3], "legit sign on another signer");
    return 0;
}

/* What only the monitor (and the operator) may say: an audit record, a
 * revoke, the token's inventory, the key rows; and a message the monitor
 * serves, sent to a signer. Each drops its channel; another signer still
 * signs. */
static int sc_watcher_messages(struct channel *ch)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    static const char fields[] = "{\"kid\":\"forged\"}";
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_note(&w, "report", fields, sizeof fields - 1);
    expect("audit note (a report)", call(&ch[0], SG_IPC_AUDIT_NOTE, w.data, w.len, NULL, NULL),
           OUTCOME_DROPPED);
    sg_wbuf_free(&w);
    expect("revoke", str_call(&ch[1], SG_IPC_REVOKE, "any-kid", NULL), OUTCOME_DROPPED);
    expect("inventory", call(&ch[2], SG_IPC_INVENTORY, NULL, 0, NULL, NULL), OUTCOME_DROPPED);
    expect("keys", str_call(&ch[3], SG_IPC_KEYS, t->issuer, NULL), OUTCOME_DROPPED);
    expect("mon_status_json (the monitor's message, to a signer)",
           call(&ch[4], SG_IPC_MON_STATUS_JSON, NULL, 0, NULL, NULL), OUTCOME_DROPPED);
    legit_sign(&ch[5], "legit sign on another signer");
    return 0;
}

/* The jti in a token's payload ("" when unreadable). */
static void jti_of(const char *tok, char *out, size_t cap)
{
    out[0] = '\0';
    const char *d1 = tok != NULL ? strchr(tok, '.') : NULL;
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL)
        return;
    uint8_t raw[SG_IPC_MAX_CLAIMS + 64];
    size_t n = 0;
    if (sg_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), raw, sizeof raw, &n) != SIGNET_OK)
        return;
    json_t *o = json_loadb((const char *)raw, n, 0, NULL);
    const char *j = json_string_value(json_object_get(o, "jti"));
    if (j != NULL)
        (void)snprintf(out, cap, "%s", j);
    json_decref(o);
}

/* One refused SIGN of FE_CLIENT's claims with extra members, or of claims
 * given whole (claims != NULL). */
static void refused_claims(struct channel *c, const char *step, const char *claims,
                           const char *want)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    char *tok = NULL;
    expect(step, sign_claims(c, t->issuer, "", claims, &tok), want);
    if (tok != NULL) {
        printf("  ^ FAILED: a token came back\n");
        failures++;
    }
    free(tok);
}

/* Issue 11: the signer's own policy binds a machine token to a client of
 * its registry, whatever the (compromised) front end asks: another sub, a
 * scope or an audience the client does not have, an extra claim, and a
 * jti of the front end's choosing (a reused one) are all refused; the
 * signer mints a fresh jti for every token. */
static int sc_policy(struct channel *ch)
{
    const struct sg_tenant_cfg *t = &cfg.tenants[0];
    const char *iss = t->issuer;
    const int64_t n0 = now();
    char *tok = NULL, *tok2 = NULL;
    char *c = claims_json(iss, n0, 300);
    expect("legit sign (client " FE_CLIENT ")", sign_claims(&ch[0], iss, "", c, &tok),
           "SIGNET_OK");
    expect("legit sign again", sign_claims(&ch[0], iss, "", c, &tok2), "SIGNET_OK");
    free(c);
    char j1[160], j2[160];
    jti_of(tok, j1, sizeof j1);
    jti_of(tok2, j2, sizeof j2);
    expect("the signer minted the jti (22 base64url characters)",
           strlen(j1) == 22 ? "minted" : "missing", "minted");
    expect("same claims, two tokens: two jtis", strcmp(j1, j2) != 0 ? "distinct" : "same",
           "distinct");
    free(tok);
    free(tok2);

    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", iss, "sub", "nobody", "aud",
                          FE_AUD, "iat", (json_int_t)n0, "exp", (json_int_t)(n0 + 300),
                          "client_id", "nobody");
    c = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    refused_claims(&ch[0], "sign sub=client_id=an unknown client", c, "SIGNET_ERR_POLICY_CLIENT");
    free(c);
    o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", iss, "sub", "admin", "aud", FE_AUD,
                  "iat", (json_int_t)n0, "exp", (json_int_t)(n0 + 300), "client_id", FE_CLIENT);
    c = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    refused_claims(&ch[0], "sign sub=admin for client " FE_CLIENT, c, "SIGNET_ERR_POLICY_CLIENT");
    free(c);
    o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", iss, "sub", FE_CLIENT, "aud",
                  "https://bank.example", "iat", (json_int_t)n0, "exp", (json_int_t)(n0 + 300),
                  "client_id", FE_CLIENT);
    c = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    refused_claims(&ch[0], "sign aud=another audience", c, "SIGNET_ERR_POLICY_AUDIENCE");
    free(c);
    c = claims_with(iss, n0, 300, "\"scope\":\"read admin\"");
    refused_claims(&ch[0], "sign scope outside the client's", c, "SIGNET_ERR_POLICY_SCOPE");
    free(c);
    c = claims_with(iss, n0, 300, "\"admin\":true");
    refused_claims(&ch[0], "sign with an extra claim admin:true", c, "SIGNET_ERR_POLICY_CLAIMS");
    free(c);
    char extra[256];
    (void)snprintf(extra, sizeof extra, "\"jti\":\"%s\"", j1);
    c = claims_with(iss, n0, 300, extra);
    refused_claims(&ch[0], "sign with a reused jti", c, "SIGNET_ERR_POLICY_JTI");
    free(c);
    c = claims_with(iss, n0, 300, "\"jti\":\"chosen-by-the-front\"");
    refused_claims(&ch[0], "sign with a jti of the front's choosing", c, "SIGNET_ERR_POLICY_JTI");
    free(c);
    /* Issue 12: a DPoP-bound token's cnf is exactly {"jkt": <thumbprint>};
     * anything else would bind it to a key no proof was checked for. */
#define FE_JKT "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    c = claims_with(iss, n0, 300, "\"cnf\":{\"jkt\":\"" FE_JKT "\"}");
    expect("legit sign with cnf.jkt (DPoP)", sign_claims(&ch[0], iss, "", c, &tok), "SIGNET_OK");
    free(tok);
    free(c);
    static const char *const bad_cnf[] = {
        "\"cnf\":{\"jkt\":\"" FE_JKT "\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}",
        "\"cnf\":{\"x5t#S256\":\"" FE_JKT "\"}",
        "\"cnf\":{\"jkt\":\"short\"}",
        "\"cnf\":{\"jkt\":[\"" FE_JKT "\"]}",
        "\"cnf\":\"" FE_JKT "\"",
        "\"cnf\":{}",
    };
    for (size_t i = 0; i < sizeof bad_cnf / sizeof bad_cnf[0]; i++) {
        char step[256];
        (void)snprintf(step, sizeof step, "sign with a malformed cnf (%.180s)", bad_cnf[i]);
        c = claims_with(iss, n0, 300, bad_cnf[i]);
        refused_claims(&ch[0], step, c, "SIGNET_ERR_POLICY_CLAIMS");
        free(c);
    }
#undef FE_JKT
    c = claims_with(iss, n0, 300, "\"scope\":\"read\"");
    expect("legit sign with its scope after", sign_claims(&ch[0], iss, "", c, &tok), "SIGNET_OK");
    free(tok);
    free(c);
    return 0;
}

static int sc_sign(struct channel *ch)
{
    legit_sign(&ch[0], "legit sign");
    return 0;
}

/* ptrace / process_vm_readv of pid, first on a child of our own (the
 * control: the call works between processes of one account here), then on
 * the target, which must say EPERM. */
static int sc_trace(const char *what, pid_t target)
{
    /* The child makes itself dumpable again (changing accounts cleared it,
     * as it does for every process that switches uid) and says so. */
    int sync[2];
    if (pipe(sync) != 0)
        return 2;
    pid_t child = fork();
    if (child < 0)
        return 2;
    if (child == 0) {
        (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        (void)!write(sync[1], "r", 1);
        pause();
        _exit(0);
    }
    char ready = 0;
    (void)!read(sync[0], &ready, 1);
    close(sync[0]);
    close(sync[1]);
    int is_ptrace = strcmp(what, "ptrace") == 0;
    static char probe[16] = "fe_attack";
    char buf[16];
    struct iovec local = {.iov_base = buf, .iov_len = sizeof buf};
    struct iovec remote = {.iov_base = probe, .iov_len = sizeof probe};
    long r = is_ptrace ? ptrace(PTRACE_ATTACH, child, NULL, NULL)
                       : (long)process_vm_readv(child, &local, 1, &remote, 1, 0);
    int control_errno = r < 0 ? errno : 0;
    (void)kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
    printf("%s own child (control): %s\n", what, control_errno == 0 ? "allowed"
                                                                    : strerror(control_errno));
    if (control_errno != 0) {
        fprintf(stderr, "fe_attack: the control failed: %s is refused even between processes "
                        "of one account here, so EPERM on the signer would prove nothing\n",
                what);
        return 2;
    }
    errno = 0;
    r = is_ptrace ? ptrace(PTRACE_ATTACH, target, NULL, NULL)
                  : (long)process_vm_readv(target, &local, 1, &remote, 1, 0);
    int e = r < 0 ? errno : 0;
    if (is_ptrace && r == 0)
        (void)ptrace(PTRACE_DETACH, target, NULL, NULL);
    expect(what, e == 0 ? "allowed" : e == EPERM ? "EPERM" : strerror(e), "EPERM");
    return 0;
}

/* One signer, ready: started as the launcher does, then asked for its
 * STATUS (a request the front role may send) so that the next one starts
 * only once this one has opened the token. Signers started at the same
 * instant on one SoftHSM2 token sometimes fail with "token not found"
 * (signetd's pool retries them with a back-off); so does this, saying so. */
static int start_signer(const char *state, unsigned flags, struct channel *c)
{
    for (int attempt = 1; attempt <= 5; attempt++) {
        c->next_id = 1;
        if (sg_signer_spawn_fd(state, flags, -1, &c->fd, &c->pid) != SIGNET_OK)
            break;
        struct timeval tv = {.tv_sec = CHANNEL_TIMEOUT_S};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        const char *got = call(c, SG_IPC_STATUS, NULL, 0, NULL, NULL);
        if (strcmp(got, "SIGNET_OK") == 0)
            return 0;
        fprintf(stderr, "fe_attack: signer %ld did not start (%s), attempt %d\n", (long)c->pid,
                got, attempt);
        close(c->fd);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        (void)usleep(200000);
    }
    fprintf(stderr, "fe_attack: cannot start a signer\n");
    return -1;
}

struct scenario {
    const char *name;
    int (*run)(struct channel *ch);
    unsigned channels;
};

static const struct scenario scenarios[] = {
    {"other-issuer", sc_other_issuer, 1}, {"long-lifetime", sc_long_lifetime, 1},
    {"wrong-kid", sc_wrong_kid, 1},       {"rotate", sc_rotate, 2},
    {"unknown-type", sc_unknown_type, 3}, {"oversize", sc_oversize, 4},
    {"watcher-messages", sc_watcher_messages, 6}, {"sign", sc_sign, 1},
    {"policy", sc_policy, 1},
};

static int usage(void)
{
    fprintf(stderr, "usage: fe_attack --state DIR SCENARIO | ptrace PID | vmread PID\n"
                    "scenarios:");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        fprintf(stderr, " %s", scenarios[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--state") != 0)
        return usage();
    const char *state = argv[2], *name = argv[3];
    (void)signal(SIGPIPE, SIG_IGN);
    if (geteuid() != 0) {
        fprintf(stderr, "fe_attack: run as root (it starts signers as the launcher does)\n");
        return 2;
    }
    struct sg_account front;
    if (sg_account_of_dir(state, SG_FRONT_DIR, &front) != SIGNET_OK || front.uid == 0) {
        fprintf(stderr, "fe_attack: %s/%s is not owned by a front end account\n", state,
                SG_FRONT_DIR);
        return 2;
    }
    if (strcmp(name, "ptrace") == 0 || strcmp(name, "vmread") == 0) {
        char *end = NULL;
        long pid = argc == 5 ? strtol(argv[4], &end, 10) : 0;
        if (pid <= 1 || end == NULL || *end != '\0')
            return usage();
        if (sg_account_become(&front) != SIGNET_OK)
            return 2;
        int rc = sc_trace(name, (pid_t)pid);
        return rc != 0 ? rc : failures == 0 ? 0 : 1;
    }
    if (argc != 4)
        return usage();
    const struct scenario *sc = NULL;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            sc = &scenarios[i];
    if (sc == NULL)
        return usage();
    char msg[768] = "";
    if (sg_config_load(state, &cfg, msg, sizeof msg) != SIGNET_OK || cfg.n_tenants == 0) {
        fprintf(stderr, "fe_attack: %s\n", msg[0] != '\0' ? msg : "no tenant");
        return 2;
    }
    sg_clock_use_file(cfg.clock_file[0] != '\0' ? cfg.clock_file : NULL);
    /* The launcher's part (root): the signers, told their peer is the
     * front end. */
    struct channel ch[MAX_CHANNELS];
    if (start_signer(state, 0, &admin) != 0)
        return 2;
    for (unsigned i = 0; i < sc->channels; i++)
        if (start_signer(state, SG_SPAWN_ROLE_FRONT, &ch[i]) != 0)
            return 2;
    /* The front end's part: its account, for good. */
    if (sg_account_become(&front) != SIGNET_OK || getuid() != front.uid || geteuid() == 0) {
        fprintf(stderr, "fe_attack: cannot become the front end's account\n");
        return 2;
    }
    printf("fe_attack %s: uid=%ld signers:", name, (long)getuid());
    for (unsigned i = 0; i < sc->channels; i++)
        printf(" %ld", (long)ch[i].pid);
    printf("\n");
    int rc = sc->run(ch);
    close(admin.fd);
    while (waitpid(admin.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    for (unsigned i = 0; i < sc->channels; i++) {
        close(ch[i].fd);
        while (ch[i].pid > 0 && waitpid(ch[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc != 0)
        return rc;
    printf("fe_attack %s: %s\n", name, failures == 0 ? "all refused as expected" : "FAILED");
    return failures == 0 ? 0 : 1;
}
