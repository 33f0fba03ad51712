#include "signer/lifecycle.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fault.h"
#include "json.h"
#include "util/hex.h"
#include "util/log.h"

/* A stored public JWK (RSA-3072 is the largest, well under 1 KiB). */
#define STORED_JWK_MAX 8192u

static void note(json_t *report, const struct sg_key *k, const char *from, const char *to)
{
    sg_log(SG_LOG_INFO, "key_transition", "issuer=%s alg=%s kid=%s from=%s to=%s", k->issuer,
           k->alg, k->kid[0] != '\0' ? k->kid : "-", from, to);
    if (report == NULL)
        return;
    json_t *arr = json_object_get(report, "transitions");
    if (arr == NULL) {
        arr = json_array();
        if (arr == NULL || json_object_set_new(report, "transitions", arr) != 0)
            return;
    }
    (void)json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "kid", k->kid,
                                               "issuer", k->issuer, "alg", k->alg, "from", from,
                                               "to", to));
}

static json_t *key_fields(const struct sg_key *k)
{
    char hsm[2 * SG_STORE_HSM_ID_LEN + 1];
    sg_hex_encode(k->hsm_id, SG_STORE_HSM_ID_LEN, hsm);
    return json_pack("{s:s, s:s, s:s, s:s}", "kid", k->kid, "iss", k->issuer, "alg", k->alg,
                     "hsm_id", hsm);
}

static signet_err stage(struct sg_lc *lc, int64_t now, const char *type, const struct sg_key *k)
{
    json_t *f = key_fields(k);
    if (f == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = sg_audit_append(lc->audit, now, type, f);
    json_decref(f);
    return err;
}

static signet_err tx_begin(struct sg_lc *lc)
{
    sg_audit_mark(lc->audit, &lc->mark);
    return sg_store_begin(lc->store);
}

/* Commits a transition: the audit records are made durable first, then the
 * store transaction. A crash between the two leaves an audit record for a
 * step the next advance repeats (recorded twice, never missing). */
static signet_err finish_tx(struct sg_lc *lc, signet_err err, const char *fault)
{
    if (err == SIGNET_OK)
        err = sg_audit_commit(lc->audit);
    if (err == SIGNET_OK) {
        sg_fault_point(fault);
        err = sg_store_commit(lc->store);
    }
    if (err != SIGNET_OK) {
        /* Undo only this transition's records, never others' staged ones. */
        sg_audit_rollback(lc->audit, &lc->mark);
        sg_store_rollback(lc->store);
    }
    return err;
}

/* A tenant's algorithm: one the signer's keys use (SG_P11_ALGS). */
static signet_err tenant_alg(const char *name, enum sg_alg *alg)
{
    signet_err err = sg_alg_parse(name, alg);
    if (err == SIGNET_OK && (SG_P11_ALGS & SG_ALG_BIT(*alg)) == 0)
        err = SIGNET_ERR_UNSUPPORTED;
    return err == SIGNET_ERR_ALG_NOT_ALLOWED ? SIGNET_ERR_UNSUPPORTED : err;
}

static void make_label(const struct sg_tenant_cfg *t, const char *kid, char *out, size_t cap)
{
    (void)snprintf(out, cap, "signet:%s:%s", t->name, kid != NULL && kid[0] != '\0' ? kid : "pending");
}

/* GENERATING -> PENDING once the pair exists in the HSM. */
static signet_err finish_generation(struct sg_lc *lc, const struct sg_tenant_cfg *t,
                                    struct sg_key *k, char *jwk, const char *kid, int64_t now,
                                    json_t *report)
{
    char label[160];
    make_label(t, kid, label, sizeof label);
    signet_err err = sg_p11_set_label(lc->p11, k->hsm_id, label);
    if (err != SIGNET_OK) {
        free(jwk);
        return err;
    }
    free(k->jwk);
    k->jwk = jwk;
    (void)snprintf(k->kid, sizeof k->kid, "%s", kid);
    k->state = SG_KS_PENDING;
    err = tx_begin(lc);
    if (err == SIGNET_OK)
        err = sg_store_key_update(lc->store, k);
    if (err == SIGNET_OK)
        err = stage(lc, now, "key_generated", k);
    err = finish_tx(lc, err, "gen_pending_commit");
    if (err == SIGNET_OK)
        note(report, k, "GENERATING", "PENDING");
    return err;
}

static signet_err generate(struct sg_lc *lc, const struct sg_tenant_cfg *t, const char *alg_name,
                           int64_t now, json_t *report)
{
    enum sg_alg alg;
    signet_err err = tenant_alg(alg_name, &alg);
    if (err != SIGNET_OK)
        return err;
    struct sg_key k;
    memset(&k, 0, sizeof k);
    (void)snprintf(k.issuer, sizeof k.issuer, "%s", t->issuer);
    (void)snprintf(k.alg, sizeof k.alg, "%s", alg_name);
    if (RAND_bytes(k.hsm_id, sizeof k.hsm_id) != 1)
        return SIGNET_ERR_CRYPTO;
    k.state = SG_KS_GENERATING;
    k.created_at = now;
    err = tx_begin(lc);
    if (err == SIGNET_OK)
        err = sg_store_key_insert(lc->store, &k);
    if (err == SIGNET_OK)
        err = stage(lc, now, "key_generating", &k);
    err = finish_tx(lc, err, "gen_row_commit");
    if (err != SIGNET_OK)
        return err;
    sg_fault_point("gen_before_hsm");
    char label[160];
    make_label(t, NULL, label, sizeof label);
    char *jwk = NULL;
    char kid[SG_THUMBPRINT_LEN + 1];
    err = sg_p11_generate(lc->p11, alg, k.hsm_id, label, &jwk, kid);
    if (err != SIGNET_OK) {
        /* The row stays GENERATING; the next advance finds no object and
         * tombstones it. */
        sg_key_clear(&k);
        return err;
    }
    sg_fault_point("gen_after_hsm");
    err = finish_generation(lc, t, &k, jwk, kid, now, report);
    sg_key_clear(&k);
    return err;
}

static signet_err recover_generating(struct sg_lc *lc, const struct sg_tenant_cfg *t,
                                     struct sg_key *k, int64_t now, json_t *report)
{
    enum sg_alg alg;
    bool exists = false;
    signet_err err = tenant_alg(k->alg, &alg);
    if (err == SIGNET_OK)
        err = sg_p11_exists(lc->p11, k->hsm_id, &exists);
    if (err != SIGNET_OK)
        return err;
    if (exists) {
        char *jwk = NULL;
        char kid[SG_THUMBPRINT_LEN + 1];
        err = sg_p11_public_jwk(lc->p11, alg, k->hsm_id, &jwk, kid);
        if (err != SIGNET_OK)
            return err;
        sg_log(SG_LOG_WARN, "key_generation_resumed", "issuer=%s alg=%s kid=%s", k->issuer,
               k->alg, kid);
        return finish_generation(lc, t, k, jwk, kid, now, report);
    }
    /* Nothing reached the HSM (or only a public half): clear any leftover
     * object and leave a tombstone. */
    unsigned gone = 0;
    err = sg_p11_destroy(lc->p11, k->hsm_id, &gone);
    if (err != SIGNET_OK)
        return err;
    k->state = SG_KS_DESTROYED;
    k->destroyed_at = now;
    err = tx_begin(lc);
    if (err == SIGNET_OK)
        err = sg_store_key_update(lc->store, k);
    if (err == SIGNET_OK)
        err = stage(lc, now, "key_generation_abandoned", k);
    err = finish_tx(lc, err, "abandon_commit");
    if (err == SIGNET_OK)
        note(report, k, "GENERATING", "DESTROYED");
    return err;
}

static signet_err set_state(struct sg_lc *lc, struct sg_key *k, enum sg_key_state to, int64_t now,
                            const char *audit_type, const char *fault, json_t *report)
{
    enum sg_key_state from = k->state;
    k->state = to;
    signet_err err = tx_begin(lc);
    if (err == SIGNET_OK)
        err = sg_store_key_update(lc->store, k);
    if (err == SIGNET_OK)
        err = stage(lc, now, audit_type, k);
    err = finish_tx(lc, err, fault);
    if (err == SIGNET_OK)
        note(report, k, sg_key_state_name(from), sg_key_state_name(to));
    else
        k->state = from;
    return err;
}

static signet_err publish(struct sg_lc *lc, struct sg_key *k, int64_t now, json_t *report)
{
    k->published_at = now;
    return set_state(lc, k, SG_KS_PUBLISHED, now, "key_published", "publish_commit", report);
}

static signet_err destroy(struct sg_lc *lc, struct sg_key *k, int64_t now, json_t *report)
{
    unsigned gone = 0;
    signet_err err = sg_p11_destroy(lc->p11, k->hsm_id, &gone);
    if (err != SIGNET_OK)
        return err;
    sg_fault_point("destroy_after_hsm");
    k->destroyed_at = now;
    return set_state(lc, k, SG_KS_DESTROYED, now, k->revoked ? "key_revoked_destroyed" : "key_destroyed",
                     "destroy_commit", report);
}

/* Retire the ACTIVE key and activate its successor in one transaction. */
static signet_err promote(struct sg_lc *lc, struct sg_key *old, struct sg_key *next, int64_t now,
                          json_t *report)
{
    signet_err err = tx_begin(lc);
    if (old != NULL && err == SIGNET_OK) {
        old->state = SG_KS_RETIRED;
        old->retired_at = now;
        err = sg_store_key_update(lc->store, old);
        if (err == SIGNET_OK)
            err = stage(lc, now, old->revoked ? "key_revoked" : "key_retired", old);
    }
    if (err == SIGNET_OK) {
        next->state = SG_KS_ACTIVE;
        next->activated_at = now;
        next->rotate_at = now + lc->cfg->rotation_period;
        err = sg_store_key_update(lc->store, next);
    }
    if (err == SIGNET_OK)
        err = stage(lc, now, "key_activated", next);
    err = finish_tx(lc, err, "promote_commit");
    if (err == SIGNET_OK) {
        if (old != NULL)
            note(report, old, "ACTIVE", "RETIRED");
        note(report, next, "PUBLISHED", "ACTIVE");
    }
    return err;
}

/* When the ACTIVE key is due: its planned time, or sooner if the rotation
 * period has since been shortened in the config. */
static int64_t due_at(const struct sg_lc *lc, const struct sg_key *active)
{
    const int64_t by_period = active->activated_at + lc->cfg->rotation_period;
    return active->rotate_at < by_period ? active->rotate_at : by_period;
}

static int same_alg(const struct sg_key *k, const char *alg)
{
    return strcmp(k->alg, alg) == 0;
}

/* One pass over one issuer and algorithm; *changed says whether it did
 * anything (the caller repeats until nothing changes). */
static signet_err advance_pair(struct sg_lc *lc, const struct sg_tenant_cfg *t, const char *alg,
                               int64_t now, json_t *report, int *changed)
{
    struct sg_key *keys = NULL;
    size_t n = 0;
    signet_err err = sg_store_key_list(lc->store, t->issuer, &keys, &n);
    if (err != SIGNET_OK)
        return err;
    const int64_t prepub = sg_config_prepublish(lc->cfg);
    const int64_t window = sg_config_retire_window(lc->cfg);
    struct sg_key *active = NULL, *ready = NULL, *oldest_published = NULL;
    size_t standby = 0;
    *changed = 0;
    for (size_t i = 0; i < n && err == SIGNET_OK && !*changed; i++) {
        struct sg_key *k = &keys[i];
        if (!same_alg(k, alg))
            continue;
        switch (k->state) {
        case SG_KS_GENERATING:
            err = recover_generating(lc, t, k, now, report);
            *changed = 1;
            break;
        case SG_KS_PENDING:
            err = publish(lc, k, now, report);
            *changed = 1;
            break;
        case SG_KS_RETIRED:
            if (k->revoked || now >= k->retired_at + window) {
                err = destroy(lc, k, now, report);
                *changed = 1;
            }
            break;
        case SG_KS_ACTIVE:
            active = k;
            break;
        case SG_KS_PUBLISHED:
            standby++;
            if (oldest_published == NULL)
                oldest_published = k;
            if (ready == NULL && now >= k->published_at + prepub)
                ready = k;
            break;
        case SG_KS_DESTROYED:
            break;
        }
    }
    if (err != SIGNET_OK || *changed)
        goto out;
    if (active == NULL) {
        if (oldest_published != NULL) {
            /* No key signs: the first key of an issuer (nobody can hold a
             * stale key set yet) or the aftermath of a revoke. */
            err = promote(lc, NULL, oldest_published, now, report);
        } else {
            err = generate(lc, t, alg, now, report);
        }
        *changed = 1;
    } else if (now >= due_at(lc, active) && ready != NULL) {
        err = promote(lc, active, ready, now, report);
        *changed = 1;
    } else if (standby == 0) {
        err = generate(lc, t, alg, now, report);
        *changed = 1;
    } else if (now >= due_at(lc, active)) {
        const int64_t ready_at = oldest_published->published_at + prepub;
        sg_log(SG_LOG_INFO, "rotation_waiting", "issuer=%s alg=%s kid=%s standby_ready_at=%lld",
               t->issuer, alg, active->kid, (long long)ready_at);
    }
out:
    sg_key_list_free(keys, n);
    return err;
}

signet_err sg_lifecycle_advance(struct sg_lc *lc, int64_t now, json_t *report)
{
    for (size_t i = 0; i < lc->cfg->n_tenants; i++) {
        const struct sg_tenant_cfg *t = &lc->cfg->tenants[i];
        for (size_t a = 0; a < t->n_algs; a++) {
            int changed = 1;
            for (int pass = 0; changed && pass < 32; pass++) {
                signet_err err = advance_pair(lc, t, t->algs[a], now, report, &changed);
                if (err != SIGNET_OK) {
                    sg_log(SG_LOG_ERROR, "lifecycle_failed", "issuer=%s alg=%s error=%s",
                           t->issuer, t->algs[a], signet_err_name(err));
                    return err;
                }
            }
        }
    }
    return SIGNET_OK;
}

signet_err sg_lifecycle_revoke(struct sg_lc *lc, const char *kid, int64_t now, json_t *report)
{
    struct sg_key k;
    memset(&k, 0, sizeof k);
    signet_err err = sg_store_key_by_kid(lc->store, kid, &k);
    if (err == SIGNET_ERR_NOT_FOUND)
        return SIGNET_ERR_UNKNOWN_KID;
    if (err != SIGNET_OK)
        return err;
    if (k.state == SG_KS_DESTROYED || k.state == SG_KS_GENERATING) {
        sg_key_clear(&k);
        return SIGNET_ERR_KEY_STATE;
    }
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(lc->cfg, k.issuer);
    if (t == NULL) {
        sg_key_clear(&k);
        return SIGNET_ERR_UNKNOWN_ISSUER_CONFIG;
    }
    const int was_revoked = k.revoked;
    k.revoked = 1;
    if (k.state == SG_KS_ACTIVE) {
        /* The standby takes over at once: this is an emergency, so the
         * pre-publication wait does not apply. */
        struct sg_key *keys = NULL;
        size_t n = 0;
        err = sg_store_key_list(lc->store, k.issuer, &keys, &n);
        struct sg_key *next = NULL;
        for (size_t i = 0; err == SIGNET_OK && i < n && next == NULL; i++)
            if (keys[i].state == SG_KS_PUBLISHED && same_alg(&keys[i], k.alg))
                next = &keys[i];
        if (err == SIGNET_OK && next != NULL) {
            err = promote(lc, &k, next, now, report);
        } else if (err == SIGNET_OK) {
            /* No standby (it should always exist): retire now, the advance
             * below generates and activates a new key. */
            k.retired_at = now;
            err = set_state(lc, &k, SG_KS_RETIRED, now, "key_revoked", "revoke_commit", report);
        }
        sg_key_list_free(keys, n);
    } else if (!was_revoked) {
        /* PENDING, PUBLISHED or RETIRED: out of the JWKS now (revoked rows
         * are never published), destroyed by the advance below. */
        if (k.retired_at == 0)
            k.retired_at = now;
        err = set_state(lc, &k, SG_KS_RETIRED, now, "key_revoked", "revoke_commit", report);
    }
    sg_fault_point("revoke_before_destroy");
    /* Revoked and RETIRED: the advance destroys it in the HSM right away and
     * generates a new standby. */
    if (err == SIGNET_OK)
        err = sg_lifecycle_advance(lc, now, report);
    sg_key_clear(&k);
    return err;
}

signet_err sg_lifecycle_rotate(struct sg_lc *lc, const char *issuer, int64_t now, json_t *report)
{
    if (issuer != NULL && issuer[0] != '\0' && sg_config_tenant_by_issuer(lc->cfg, issuer) == NULL)
        return SIGNET_ERR_UNKNOWN_ISSUER_CONFIG;
    struct sg_key *keys = NULL;
    size_t n = 0;
    signet_err err = sg_store_key_list(lc->store, issuer != NULL && issuer[0] != '\0' ? issuer : NULL,
                                       &keys, &n);
    for (size_t i = 0; err == SIGNET_OK && i < n; i++) {
        struct sg_key *k = &keys[i];
        if (k->state != SG_KS_ACTIVE || k->rotate_at <= now)
            continue;
        k->rotate_at = now;
        err = tx_begin(lc);
        if (err == SIGNET_OK)
            err = sg_store_key_update(lc->store, k);
        if (err == SIGNET_OK)
            err = stage(lc, now, "key_rotation_requested", k);
        err = finish_tx(lc, err, "rotate_commit");
    }
    sg_key_list_free(keys, n);
    if (err == SIGNET_OK)
        err = sg_lifecycle_advance(lc, now, report);
    return err;
}

signet_err sg_lifecycle_jwks(struct sg_lc *lc, const char *issuer, json_t **out)
{
    if (sg_config_tenant_by_issuer(lc->cfg, issuer) == NULL)
        return SIGNET_ERR_UNKNOWN_ISSUER_CONFIG;
    struct sg_key *keys = NULL;
    size_t n = 0;
    signet_err err = sg_store_key_list(lc->store, issuer, &keys, &n);
    if (err != SIGNET_OK)
        return err;
    json_t *arr = json_array();
    json_t *doc = json_pack("{s:o}", "keys", arr);
    if (arr == NULL || doc == NULL)
        err = SIGNET_ERR_NOMEM;
    for (size_t i = 0; err == SIGNET_OK && i < n; i++) {
        const struct sg_key *k = &keys[i];
        if (k->revoked || (k->state != SG_KS_PUBLISHED && k->state != SG_KS_ACTIVE &&
                           k->state != SG_KS_RETIRED))
            continue;
        /* The row comes from the store file: read it through the JSON door. */
        json_t *jwk = NULL;
        if (k->jwk == NULL ||
            sg_json_parse((const uint8_t *)k->jwk, strlen(k->jwk), STORED_JWK_MAX, &jwk) !=
                SIGNET_OK ||
            !json_is_object(jwk)) {
            json_decref(jwk);
            err = SIGNET_ERR_STORE_CORRUPT;
            break;
        }
        /* active_from is a bound relying parties may enforce, so only what
         * is true: when it started signing, or, for a standby, when it was
         * published (it never signs before that). Not the planned start
         * (published_at + prepublish): an emergency revoke promotes the
         * standby earlier, and its first tokens would break that promise
         * (issue 11). */
        int64_t from = k->state == SG_KS_PUBLISHED ? k->published_at : k->activated_at;
        int rc = json_object_set_new(jwk, "kid", json_string(k->kid));
        rc |= json_object_set_new(jwk, "iss", json_string(k->issuer));
        rc |= json_object_set_new(jwk, "active_from", json_integer(from));
        if (k->state == SG_KS_RETIRED)
            rc |= json_object_set_new(jwk, "active_until", json_integer(k->retired_at));
        rc |= json_array_append_new(arr, jwk);
        if (rc != 0)
            err = SIGNET_ERR_NOMEM;
    }
    sg_key_list_free(keys, n);
    if (err != SIGNET_OK) {
        json_decref(doc);
        return err;
    }
    *out = doc;
    return SIGNET_OK;
}

int64_t sg_lifecycle_next_due(struct sg_lc *lc, int64_t now)
{
    struct sg_key *keys = NULL;
    size_t n = 0;
    if (sg_store_key_list(lc->store, NULL, &keys, &n) != SIGNET_OK)
        return 1;
    int64_t due = INT64_MAX;
    const int64_t window = sg_config_retire_window(lc->cfg);
    for (size_t i = 0; i < n; i++) {
        const struct sg_key *k = &keys[i];
        int64_t at = INT64_MAX;
        if (k->state == SG_KS_ACTIVE) {
            const int64_t planned = due_at(lc, k);
            at = planned > now ? planned : now + 1; /* overdue: waiting for the standby */
        }
        else if (k->state == SG_KS_RETIRED)
            at = k->retired_at + window;
        else if (k->state == SG_KS_GENERATING || k->state == SG_KS_PENDING)
            at = now;
        if (at < due)
            due = at;
    }
    sg_key_list_free(keys, n);
    return due == INT64_MAX ? INT64_MAX : (due > now ? due - now : 0);
}
