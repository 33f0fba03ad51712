#include "signetd/totp.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "json.h"
#include "signetd/ctx.h"
#include "signetd/pool.h"
#include "util/log.h"
#include "util/secret.h"

/* The request's fields, copied with their caps checked (the JSON encoder
 * then checks the shapes). */
static signet_err request(struct sg_ipc_totp *r, const struct sg_tenant_cfg *t,
                          const char *user_id, const char *cred_id)
{
    memset(r, 0, sizeof *r);
    if (t == NULL || user_id == NULL || cred_id == NULL ||
        strlen(t->issuer) >= sizeof r->issuer || !sg_ipc_totp_user_id_ok(user_id) ||
        !sg_ipc_totp_cred_id_ok(cred_id))
        return SIGNET_ERR_INVALID_ARG;
    memcpy(r->issuer, t->issuer, strlen(t->issuer) + 1);
    memcpy(r->user_id, user_id, strlen(user_id) + 1);
    memcpy(r->cred_id, cred_id, strlen(cred_id) + 1);
    return SIGNET_OK;
}

/* One call; the answer's JSON in *doc. Every failure of the transport or
 * of the signer is SIGNET_ERR_SIGNER_GONE, with its cause in the log. */
static signet_err call(struct sd_ctx *c, uint8_t type, const struct sg_ipc_totp *r, json_t **doc)
{
    *doc = NULL;
    char *arg = NULL;
    signet_err err = sg_ipc_totp_json(type, r, &arg);
    if (err != SIGNET_OK)
        return err == SIGNET_ERR_NOMEM ? SIGNET_ERR_SIGNER_GONE : err;
    signet_err status = SIGNET_ERR_SIGNER_GONE;
    char *json = NULL;
    err = sd_pool_call(&c->pool, type, arg, &status, &json);
    sg_wipe(arg, strlen(arg)); /* a code */
    free(arg);
    if (err == SIGNET_OK && status == SIGNET_OK)
        err = json != NULL ? sg_json_parse((const uint8_t *)json, strlen(json),
                                           SG_IPC_MAX_PAYLOAD, doc)
                           : SIGNET_ERR_MALFORMED;
    else if (err == SIGNET_OK)
        err = status;
    if (json != NULL) {
        sg_wipe(json, strlen(json)); /* an enrolment's seed */
        free(json);
    }
    if (err == SIGNET_OK && !json_is_object(*doc))
        err = SIGNET_ERR_MALFORMED;
    if (err != SIGNET_OK) {
        json_decref(*doc);
        *doc = NULL;
        sg_log(SG_LOG_ERROR, "totp_signer_failed", "type=%s issuer=%s sub=%s error=%s",
               sg_ipc_msg_find(type)->name, r->issuer, r->user_id, signet_err_name(err));
        return SIGNET_ERR_SIGNER_GONE;
    }
    return SIGNET_OK;
}

/* A string member of the answer, of exactly len characters, into out. */
static int copy_exact(const json_t *doc, const char *name, size_t len, char *out, size_t cap)
{
    const json_t *v = json_object_get(doc, name);
    if (!json_is_string(v) || json_string_length(v) != len || len >= cap)
        return 0;
    memcpy(out, json_string_value(v), len + 1);
    return 1;
}

signet_err sd_totp_enrol(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                         const char *cred_id, char *sealed, size_t sealed_cap, char *secret_b32,
                         size_t secret_cap)
{
    if (sealed == NULL || secret_b32 == NULL || sealed_cap < SD_TOTP_SEALED_CAP ||
        secret_cap < SD_TOTP_SECRET_CAP)
        return SIGNET_ERR_INVALID_ARG;
    sealed[0] = '\0';
    secret_b32[0] = '\0';
    struct sg_ipc_totp r;
    signet_err err = request(&r, t, user_id, cred_id);
    json_t *doc = NULL;
    if (err == SIGNET_OK)
        err = call(c, SG_IPC_TOTP_ENROL, &r, &doc);
    if (err == SIGNET_OK &&
        (!copy_exact(doc, "sealed", SG_TOTP_SEALED_B64, sealed, sealed_cap) ||
         !sg_ipc_totp_sealed_ok(sealed) ||
         !copy_exact(doc, "secret", SG_TOTP_SECRET_B32, secret_b32, secret_cap))) {
        sg_log(SG_LOG_ERROR, "totp_signer_failed", "type=totp_enrol error=bad_answer");
        err = SIGNET_ERR_SIGNER_GONE;
    }
    if (doc != NULL) {
        /* jansson's copy of the secret, before it is freed */
        json_t *v = json_object_get(doc, "secret");
        if (json_is_string(v))
            sg_wipe((char *)json_string_value(v), json_string_length(v));
        json_decref(doc);
    }
    if (err != SIGNET_OK) {
        sg_wipe(sealed, sealed_cap);
        sg_wipe(secret_b32, secret_cap);
    }
    return err;
}

signet_err sd_totp_verify(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                          const char *cred_id, const char *sealed, const char *code,
                          int64_t *step)
{
    if (step == NULL)
        return SIGNET_ERR_INVALID_ARG;
    *step = -1;
    struct sg_ipc_totp r;
    signet_err err = request(&r, t, user_id, cred_id);
    if (err != SIGNET_OK || sealed == NULL || !sg_ipc_totp_sealed_ok(sealed))
        return SIGNET_ERR_INVALID_ARG;
    /* Not six digits cannot be right: refused here, without a round trip
     * (the signer would drop the channel for it). */
    if (code == NULL || !sg_ipc_totp_code_ok(code))
        return SIGNET_ERR_PERMISSION;
    memcpy(r.sealed, sealed, SG_TOTP_SEALED_B64 + 1);
    memcpy(r.code, code, SG_TOTP_CODE_LEN + 1);
    json_t *doc = NULL;
    err = call(c, SG_IPC_TOTP_VERIFY, &r, &doc);
    sg_wipe(r.code, sizeof r.code);
    if (err != SIGNET_OK)
        return err;
    const json_t *ok = json_object_get(doc, "ok");
    const json_t *n = json_object_get(doc, "step");
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    if (json_is_true(ok) && json_is_integer(n) && json_integer_value(n) >= 0) {
        *step = (int64_t)json_integer_value(n);
        err = SIGNET_OK;
    } else if (json_is_false(ok) && reason != NULL && strcmp(reason, "wrong") == 0) {
        err = SIGNET_ERR_PERMISSION;
    } else if (json_is_false(ok) && reason != NULL && strcmp(reason, "replayed") == 0) {
        err = SIGNET_ERR_EXISTS;
    } else {
        sg_log(SG_LOG_ERROR, "totp_signer_failed", "type=totp_verify error=bad_answer");
        err = SIGNET_ERR_SIGNER_GONE;
    }
    json_decref(doc);
    return err;
}

signet_err sd_totp_remove(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                          const char *cred_id)
{
    struct sg_ipc_totp r;
    signet_err err = request(&r, t, user_id, cred_id);
    json_t *doc = NULL;
    if (err == SIGNET_OK)
        err = call(c, SG_IPC_TOTP_REMOVE, &r, &doc);
    if (err == SIGNET_OK && !json_is_true(json_object_get(doc, "removed"))) {
        sg_log(SG_LOG_ERROR, "totp_signer_failed", "type=totp_remove error=bad_answer");
        err = SIGNET_ERR_SIGNER_GONE;
    }
    json_decref(doc);
    return err;
}
