#include "signer/totp.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "signer/audit.h"
#include "signer/otp.h"
#include "signer/p11.h"
#include "store/keystore.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"

#define AAD_DOMAIN "signet-totp-seal/1"
#define AAD_MAX (sizeof AAD_DOMAIN + SG_IPC_MAX_STR + SG_TOTP_USER_ID_LEN + SG_TOTP_CRED_ID_MAX + 3)
#define SEALED_CT (SG_OTP_SEED_LEN + SG_P11_GCM_TAG_LEN)

_Static_assert(sizeof SG_TOTP_SEAL_KEY_ID == SG_HSM_ID_LEN + 1, "the seal key's CKA_ID");
_Static_assert(SG_TOTP_SEALED_LEN == SG_P11_GCM_IV_LEN + SEALED_CT, "the sealed blob's size");
_Static_assert(SG_TOTP_CODE_LEN == SG_OTP_DIGITS, "one code length");

/* SG_TOTP_SEAL_KEY_ID's 16 bytes, without its NUL. */
static const uint8_t seal_key_id[SG_HSM_ID_LEN] = {'s', 'i', 'g', 'n', 'e', 't', '-', 't',
                                                    'o', 't', 'p', '-', 's', 'e', 'a', 'l'};

signet_err sg_totp_setup(struct sg_totp_signer *t, int create)
{
    signet_err err = sg_p11_seal_key(t->p11, seal_key_id, SG_TOTP_SEAL_KEY_LABEL, false, NULL);
    if (err == SIGNET_ERR_NOT_FOUND && create) {
        err = t->lock(t->lock_user);
        if (err != SIGNET_OK)
            return err;
        /* Under the lock: another signer may have made it meanwhile. */
        bool created = false;
        err = sg_p11_seal_key(t->p11, seal_key_id, SG_TOTP_SEAL_KEY_LABEL, true, &created);
        t->unlock(t->lock_user);
        if (created)
            sg_log(SG_LOG_INFO, "totp_seal_key_generated", "label=%s", SG_TOTP_SEAL_KEY_LABEL);
    }
    t->key_ok = err == SIGNET_OK;
    return err;
}

signet_err sg_totp_aad(const char *issuer, const char *user_id, const char *cred_id,
                       uint8_t *out, size_t cap, size_t *len)
{
    const char *parts[] = {AAD_DOMAIN, issuer, user_id, cred_id};
    size_t at = 0;
    *len = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = strlen(parts[i]);
        if (n > cap - at || (i > 0 && cap - at - n < 1))
            return SIGNET_ERR_TOO_LARGE;
        if (i > 0)
            out[at++] = 0;
        memcpy(out + at, parts[i], n);
        at += n;
    }
    *len = at;
    return SIGNET_OK;
}

/* A record of the factor's life, durable before the answer leaves. */
static signet_err audit_totp(struct sg_totp_signer *t, const char *type, const struct sg_ipc_totp *r,
                             unsigned role, int64_t step, int had_state)
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "iss", r->issuer, "sub", r->user_id, "cred",
                          r->cred_id, "source", sg_ipc_role_name(role));
    signet_err err = f != NULL ? SIGNET_OK : SIGNET_ERR_NOMEM;
    if (err == SIGNET_OK && step >= 0 && json_object_set_new(f, "step", json_integer(step)) != 0)
        err = SIGNET_ERR_NOMEM;
    if (err == SIGNET_OK && had_state >= 0 &&
        json_object_set_new(f, "had_replay_state", json_boolean(had_state)) != 0)
        err = SIGNET_ERR_NOMEM;
    if (err == SIGNET_OK)
        err = sg_audit_append(t->audit, sg_clock_now(), type, f);
    if (err == SIGNET_OK)
        err = sg_audit_commit(t->audit);
    json_decref(f);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "audit_append_failed", "type=%s error=%s", type,
               signet_err_name(err));
        err = SIGNET_ERR_AUDIT;
    }
    return err;
}

/* The seed: 20 bytes from the token, sealed under the seal key with a
 * fresh 96-bit IV (also from the token) and the AAD of its user and
 * credential; the answer holds the blob and, once, the seed in base32. */
static signet_err enrol(struct sg_totp_signer *t, const struct sg_ipc_totp *r, unsigned role,
                        char **answer)
{
    struct sg_secret *seed = NULL;
    uint8_t blob[SG_TOTP_SEALED_LEN];
    uint8_t aad[AAD_MAX];
    size_t aad_len = 0, ct_len = 0;
    char sealed[SG_TOTP_SEALED_B64 + 1];
    char secret[SG_TOTP_SECRET_B32 + 1];
    char *text = NULL;
    signet_err err = t->key_ok ? SIGNET_OK : sg_totp_setup(t, 1);
    if (err == SIGNET_OK)
        err = sg_secret_new(SG_OTP_SEED_LEN, &seed);
    if (err == SIGNET_OK)
        err = sg_p11_random(t->p11, seed->data, SG_OTP_SEED_LEN);
    if (err == SIGNET_OK)
        err = sg_p11_random(t->p11, blob, SG_P11_GCM_IV_LEN);
    if (err == SIGNET_OK)
        err = sg_totp_aad(r->issuer, r->user_id, r->cred_id, aad, sizeof aad, &aad_len);
    if (err == SIGNET_OK)
        err = sg_p11_seal(t->p11, seal_key_id, blob, aad, aad_len, seed->data, SG_OTP_SEED_LEN,
                          blob + SG_P11_GCM_IV_LEN, SEALED_CT, &ct_len);
    if (err == SIGNET_OK && ct_len != SEALED_CT)
        err = SIGNET_ERR_HSM;
    if (err == SIGNET_OK)
        err = sg_b64url_encode(blob, sizeof blob, sealed, sizeof sealed);
    if (err == SIGNET_OK)
        err = sg_otp_base32(seed->data, SG_OTP_SEED_LEN, secret, sizeof secret);
    /* Audited before the seed leaves: no record, no factor. */
    if (err == SIGNET_OK)
        err = audit_totp(t, "totp_enrolled", r, role, -1, -1);
    if (err == SIGNET_OK) {
        const size_t cap = sizeof "{\"sealed\":\"\",\"secret\":\"\"}" + sizeof sealed + sizeof secret;
        text = malloc(cap);
        int n = text != NULL ? snprintf(text, cap, "{\"sealed\":\"%s\",\"secret\":\"%s\"}", sealed,
                                        secret)
                             : -1;
        if (n < 0 || (size_t)n >= cap) {
            free(text);
            text = NULL;
            err = SIGNET_ERR_NOMEM;
        }
    }
    if (err == SIGNET_OK) {
        t->stats.enrolled++;
        sg_log(SG_LOG_INFO, "totp_enrolled", "issuer=%s sub=%s cred=%s", r->issuer, r->user_id,
               r->cred_id);
        *answer = text;
    } else {
        t->stats.errors++;
        sg_log(SG_LOG_ERROR, "totp_enrol_failed", "issuer=%s sub=%s cred=%s error=%s", r->issuer,
               r->user_id, r->cred_id, signet_err_name(err));
    }
    sg_secret_free(&seed);
    sg_wipe(secret, sizeof secret);
    sg_wipe(blob, sizeof blob);
    return err;
}

/* The time steps of the window (now - 1, now, now + 1: RFC 6238 §5.2, one
 * step of delay either way) whose code is code: all three are computed and
 * compared, whatever matches. *best gets the latest matching step, or -1. */
static signet_err match_window(const uint8_t *seed, const char *code, int64_t now, int64_t *best)
{
    *best = -1;
    const int64_t step = sg_otp_step(now);
    if (step < 1)
        return SIGNET_ERR_INTERNAL; /* a clock before 1970-01-01T00:00:30Z */
    char want[SG_OTP_MAX_DIGITS + 1];
    int64_t found = -1;
    signet_err err = SIGNET_OK;
    for (int64_t s = step - 1; s <= step + 1 && err == SIGNET_OK; s++) {
        err = sg_otp_hotp(seed, SG_OTP_SEED_LEN, (uint64_t)s, SG_OTP_DIGITS, want);
        /* Branch-free select: mask is all ones when this step matches. */
        const int64_t mask = -(int64_t)sg_otp_code_eq(want, code);
        found = (s & mask) | (found & ~mask);
    }
    sg_wipe(want, sizeof want);
    if (err == SIGNET_OK)
        *best = found;
    return err;
}

static signet_err answer_refused(const char *reason, char **answer)
{
    json_t *o = json_pack("{s:b, s:s}", "ok", 0, "reason", reason);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    *answer = text;
    return SIGNET_OK;
}

static signet_err verify(struct sg_totp_signer *t, const struct sg_ipc_totp *r, unsigned role,
                         char **answer)
{
    struct sg_secret *seed = NULL;
    uint8_t blob[SG_TOTP_SEALED_LEN];
    uint8_t aad[AAD_MAX];
    size_t blob_len = 0, aad_len = 0, pt_len = 0;
    int64_t step = -1;
    const int64_t now = sg_clock_now();
    /* A blob of another seal key (none made yet) cannot open here either:
     * no key is an error, never a verdict on the code. */
    signet_err err = t->key_ok ? SIGNET_OK : sg_totp_setup(t, 0);
    if (err == SIGNET_OK)
        err = sg_b64url_decode(r->sealed, strlen(r->sealed), blob, sizeof blob, &blob_len);
    if (err == SIGNET_OK && blob_len != sizeof blob)
        err = SIGNET_ERR_MALFORMED; /* sg_ipc_decode_totp saw to it */
    if (err == SIGNET_OK)
        err = sg_totp_aad(r->issuer, r->user_id, r->cred_id, aad, sizeof aad, &aad_len);
    /* Room for the whole input: some modules (SoftHSM 2.6) want an output
     * buffer as long as the ciphertext and its tag. */
    if (err == SIGNET_OK)
        err = sg_secret_new(SEALED_CT, &seed);
    if (err == SIGNET_OK)
        err = sg_p11_open_sealed(t->p11, seal_key_id, blob, aad, aad_len,
                                 blob + SG_P11_GCM_IV_LEN, SEALED_CT, seed->data, SEALED_CT,
                                 &pt_len);
    if (err == SIGNET_ERR_CRYPTO) {
        /* Changed bytes, or a blob sealed for another user, credential or
         * tenant: the code cannot be right. Someone who can write the
         * front end's store did it: logged as such, not audited (the log
         * of a flood of them would be the attacker's). */
        sg_secret_free(&seed);
        t->stats.unsealed++;
        sg_log(SG_LOG_WARN, "totp_refused", "issuer=%s sub=%s cred=%s reason=unseal_failed",
               r->issuer, r->user_id, r->cred_id);
        return answer_refused("wrong", answer);
    }
    if (err == SIGNET_OK && pt_len != SG_OTP_SEED_LEN)
        err = SIGNET_ERR_HSM;
    if (err == SIGNET_OK)
        err = match_window(seed->data, r->code, now, &step);
    sg_secret_free(&seed);
    if (err == SIGNET_OK && step < 0) {
        t->stats.wrong++;
        sg_log(SG_LOG_INFO, "totp_refused", "issuer=%s sub=%s cred=%s reason=wrong", r->issuer,
               r->user_id, r->cred_id);
        return answer_refused("wrong", answer);
    }
    /* The step is used up here, in the key store every signer shares, in
     * one statement: of two requests with one code only one gets past. */
    if (err == SIGNET_OK)
        err = sg_keystore_totp_use(t->store, r->issuer, r->cred_id, r->user_id, step, now);
    if (err == SIGNET_ERR_EXISTS) {
        t->stats.replayed++;
        sg_log(SG_LOG_WARN, "totp_refused", "issuer=%s sub=%s cred=%s reason=replayed step=%lld",
               r->issuer, r->user_id, r->cred_id, (long long)step);
        return answer_refused("replayed", answer);
    }
    if (err == SIGNET_OK)
        err = audit_totp(t, "totp_verified", r, role, step, -1);
    json_t *o = NULL;
    if (err == SIGNET_OK) {
        o = json_pack("{s:b, s:I}", "ok", 1, "step", (json_int_t)step);
        *answer = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (*answer == NULL)
            err = SIGNET_ERR_NOMEM;
    }
    if (err == SIGNET_OK) {
        t->stats.verified++;
        sg_log(SG_LOG_INFO, "totp_verified", "issuer=%s sub=%s cred=%s step=%lld", r->issuer,
               r->user_id, r->cred_id, (long long)step);
    } else {
        t->stats.errors++;
        sg_log(SG_LOG_ERROR, "totp_verify_failed", "issuer=%s sub=%s cred=%s error=%s", r->issuer,
               r->user_id, r->cred_id, signet_err_name(err));
    }
    return err;
}

/* The front end forgets the sealed blob; the signer forgets the replay
 * state and records the removal. */
static signet_err remove_factor(struct sg_totp_signer *t, const struct sg_ipc_totp *r, unsigned role,
                                char **answer)
{
    signet_err err = sg_keystore_totp_forget(t->store, r->issuer, r->cred_id);
    const int had = err == SIGNET_OK;
    if (err == SIGNET_ERR_NOT_FOUND)
        err = SIGNET_OK;
    if (err == SIGNET_OK)
        err = audit_totp(t, "totp_removed", r, role, -1, had);
    if (err == SIGNET_OK) {
        json_t *o = json_pack("{s:b}", "removed", 1);
        *answer = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (*answer == NULL)
            err = SIGNET_ERR_NOMEM;
    }
    if (err == SIGNET_OK) {
        t->stats.removed++;
        sg_log(SG_LOG_INFO, "totp_removed", "issuer=%s sub=%s cred=%s", r->issuer, r->user_id,
               r->cred_id);
    } else {
        t->stats.errors++;
        sg_log(SG_LOG_ERROR, "totp_remove_failed", "issuer=%s sub=%s cred=%s error=%s",
               r->issuer, r->user_id, r->cred_id, signet_err_name(err));
    }
    return err;
}

signet_err sg_totp_handle(struct sg_totp_signer *t, uint8_t type, unsigned role, const uint8_t *p,
                          size_t n, signet_err *status, char **answer)
{
    *answer = NULL;
    *status = SIGNET_ERR_INTERNAL;
    struct sg_ipc_totp r;
    signet_err err = sg_ipc_decode_totp(type, p, n, &r);
    if (err != SIGNET_OK)
        return err;
    if (sg_config_tenant_by_issuer(t->cfg, r.issuer) == NULL) {
        *status = SIGNET_ERR_UNKNOWN_ISSUER_CONFIG;
        sg_log(SG_LOG_WARN, "totp_refused", "reason=unknown_issuer");
    } else if (type == SG_IPC_TOTP_ENROL) {
        *status = enrol(t, &r, role, answer);
    } else if (type == SG_IPC_TOTP_VERIFY) {
        *status = verify(t, &r, role, answer);
    } else {
        *status = remove_factor(t, &r, role, answer);
    }
    sg_wipe(r.code, sizeof r.code);
    if (*status != SIGNET_OK)
        sg_totp_answer_free(answer);
    return SIGNET_OK;
}

void sg_totp_answer_free(char **answer)
{
    if (answer == NULL || *answer == NULL)
        return;
    sg_wipe(*answer, strlen(*answer));
    free(*answer);
    *answer = NULL;
}
