#include "telemetry/invariants.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "common/ipc.h"
#include "json.h"
#include "store/store.h"
#include "telemetry/tmutil.h"

/* Transitions younger than this may not show everywhere yet (signetd's
 * JWKS cache, a standby being generated right after a promotion). */
#define SETTLE_SECONDS 30

const struct sg_invariant sg_invariants[SG_INV_COUNT] = {
    {"I1", "one_active_key",
     "Exactly one ACTIVE key per issuer and algorithm, and a pre-published standby exists.",
     "Signer STATUS key rows: per configured issuer and algorithm, count non-revoked ACTIVE "
     "rows (must be 1) and PUBLISHED rows (at least 1 once the ACTIVE key is 30 s old).",
     "key lifecycle audit records (activated, retired, revoked, destroyed)", SG_SEV_CRITICAL, 60,
     false},
    {"I2", "key_age",
     "No key is ACTIVE longer than its rotation period plus grace, no RETIRED key outstays its "
     "window, and no key is older than max_key_age.",
     "STATUS key rows: now - activated_at <= rotation_period + jwks_max_age + clock_skew + "
     "rotation_grace; now - retired_at <= max_token_lifetime + clock_skew + rotation_grace; "
     "now - created_at <= max_key_age for every key not DESTROYED.",
     "key lifecycle audit records", SG_SEV_WARNING, 60, false},
    {"I3", "token_objects",
     "Every private key object in the token is sensitive and non-extractable (and always was), "
     "and is a key the store knows; the ACTIVE keys exist in the token.",
     "Signer INVENTORY (CKA_ID, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, "
     "CKA_NEVER_EXTRACTABLE) between two STATUS key lists: each object's CKA_ID must be the "
     "hsm_id of a row, not DESTROYED before the inventory.",
     "key generation and destruction audit records", SG_SEV_CRITICAL, 300, true},
    {"I4", "jwks_matches_store",
     "The served JWKS of each issuer is exactly its PUBLISHED, ACTIVE and RETIRED non-revoked "
     "keys, each naming that issuer, and every key was published for jwks_max_age + clock_skew "
     "before it became ACTIVE (except an issuer's first key and emergency successors).",
     "The JWKS document signetd serves vs the STATUS key rows (30 s to settle after a "
     "transition); activated_at - published_at >= jwks_max_age + clock_skew.",
     "key lifecycle audit records, JWKS cache refresh", SG_SEV_CRITICAL, 60, false},
    {"I5", "audit_complete",
     "The audit chain is whole, and every signature the signers made has its sign record.",
     "Incremental chain verification (hash, seq, prev of each new record; a log that changed "
     "under the verified prefix is re-read whole); signer.signatures growth since a baseline "
     "<= growth of sign records in the log.",
     "every monitor cycle", SG_SEV_CRITICAL, 30, false},
    {"I6", "token_within_key_window",
     "No token outlives its key's verification window: each token was signed by a key of its "
     "issuer while ACTIVE, with exp <= min(sign time, retired_at) + max_token_lifetime + "
     "clock_skew.",
     "Every new sign record of the audit log against the key rows; violated while an offending "
     "token is unexpired.",
     "every monitor cycle", SG_SEV_WARNING, 30, false},
    {"I7", "no_forged_tokens",
     "Every token a relying party accepted was issued by signet, for the tenant that accepted "
     "it.",
     "POST /t/<tenant>/reports: each reported token_sha256 is looked up in the index of recent "
     "sign records; a miss means the key signed outside signet (violated until that key is "
     "revoked). Cross-tenant use and stale kids are flagged too.",
     "each report batch", SG_SEV_CRITICAL, 60, true},
    {"I8", "signer_sandboxed",
     "The front end and each signer run sandboxed: seccomp and no-new-privs on, never "
     "dumpable, and the front end holds no capability; [signer] sandbox = false is itself a "
     "violation.",
     "Signer STATUS sandbox flags, [signer] sandbox and the front end's own sandbox as it "
     "entered it (signetd only: signet invariants --check has no front end and judges the "
     "signers alone). A build with SIGNET_SANDBOX=OFF cannot sandbox: unknown there, unless "
     "a process is dumpable or the config turns it off.",
     "signer (re)start, the front end entering its sandbox", SG_SEV_CRITICAL, 300, false},
    {"I9", "passkey_counter",
     "No passkey's signature counter goes backwards (WebAuthn 6.1.1: a cloned "
     "authenticator); synced passkeys that always report 0 are exempt.",
     "The front end refuses a sign-in whose counter is not above the stored non-zero one and "
     "reports it (MON_PASSKEY: issuer, user id, both counters); violated while a report of a "
     "configured tenant is younger than 24 h (kept in the monitor's memory: a restart "
     "forgets, the audit log keeps the alerts). signet invariants --check: unknown.",
     "each report", SG_SEV_CRITICAL, 60, false},
    {"I10", "approvals_unabused",
     "No person's approval prompts are being abused: no user locked out of approvals by three "
     "wrong numbers and no sign-in reported on the device as \"this wasn't me\" (MFA "
     "fatigue: a password in someone else's hands).",
     "The front end reports both (MON_PEOPLE: issuer, user id, event) as they happen; "
     "violated while a report of a configured tenant is younger than 24 h (the monitor's "
     "memory; the audit log keeps each mfa_alert record). signet invariants --check: unknown.",
     "each report", SG_SEV_CRITICAL, 60, false},
};

const char *sg_inv_severity_name(enum sg_inv_severity s)
{
    return s == SG_SEV_CRITICAL ? "critical" : "warning";
}

const char *sg_inv_state_name(enum sg_inv_state s)
{
    switch (s) {
    case SG_INV_OK: return "ok";
    case SG_INV_VIOLATED: return "violated";
    case SG_INV_UNKNOWN: return "unknown";
    }
    return "unknown";
}

int64_t sg_inv_period(const struct sg_telemetry_cfg *c, unsigned i)
{
    return i < SG_INV_COUNT ? sg_telemetry_interval(c, i, sg_invariants[i].period) : 60;
}

void sg_invariants_print(FILE *f, const struct sg_telemetry_cfg *c)
{
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        const struct sg_invariant *v = &sg_invariants[i];
        fprintf(f, "%s  %-24s %-8s every %llds%s\n    holds: %s\n    check: %s\n    also on: %s\n",
                v->id, v->name, sg_inv_severity_name(v->severity), (long long)sg_inv_period(c, i),
                v->key_compromise ? "  (on_critical = rotate revokes the key)" : "",
                v->statement, v->check, v->events);
    }
}

json_t *sg_invariants_json(const struct sg_telemetry_cfg *c)
{
    json_t *arr = json_array();
    for (unsigned i = 0; arr != NULL && i < SG_INV_COUNT; i++) {
        const struct sg_invariant *v = &sg_invariants[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id", v->id, "name",
                              v->name, "statement", v->statement, "check", v->check, "events",
                              v->events, "severity", sg_inv_severity_name(v->severity),
                              "period", (json_int_t)sg_inv_period(c, i), "rotates_key",
                              v->key_compromise);
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* ---- parsing -------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
               ? json_string_value(v)
               : NULL;
}

static int jint(const json_t *o, const char *k, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int juint(const json_t *o, const char *k, uint64_t *out)
{
    int64_t v = 0;
    if (jint(o, k, &v) != 0 || v < 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int jbool(const json_t *o, const char *k, bool *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

static int state_from_name(const char *s)
{
    static const char *const names[] = {"GENERATING", "PENDING", "PUBLISHED",
                                        "ACTIVE",     "RETIRED", "DESTROYED"};
    for (int i = 0; s != NULL && i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int parse_key(const json_t *o, struct sg_tm_key *k)
{
    memset(k, 0, sizeof *k);
    bool revoked = false;
    if (!json_is_object(o) || sg_tm_copy(k->kid, sizeof k->kid, jstr(o, "kid")) != 0 ||
        sg_tm_copy(k->issuer, sizeof k->issuer, jstr(o, "issuer")) != 0 ||
        sg_tm_copy(k->alg, sizeof k->alg, jstr(o, "alg")) != 0 ||
        sg_tm_copy(k->hsm_id, sizeof k->hsm_id, jstr(o, "hsm_id")) != 0 ||
        jstr(o, "kid") == NULL || jstr(o, "issuer") == NULL || jstr(o, "hsm_id") == NULL ||
        (k->state = state_from_name(jstr(o, "state"))) < 0 ||
        jint(o, "created_at", &k->created_at) != 0 ||
        jint(o, "published_at", &k->published_at) != 0 ||
        jint(o, "activated_at", &k->activated_at) != 0 ||
        jint(o, "retired_at", &k->retired_at) != 0 ||
        jint(o, "destroyed_at", &k->destroyed_at) != 0 ||
        jint(o, "rotate_at", &k->rotate_at) != 0 || jbool(o, "revoked", &revoked) != 0)
        return -1;
    k->revoked = revoked;
    return 0;
}

/* STATUS, INVENTORY and JWKS documents are the signer's answers: they cross
 * a process boundary, so they go through the one JSON door. */
static signet_err parse_reply(const char *json, size_t len, json_t **doc)
{
    return sg_json_parse((const uint8_t *)json, len, SG_IPC_MAX_PAYLOAD, doc);
}

signet_err sg_tm_parse_status(const char *json, size_t len, struct sg_tm_signer *sig,
                              struct sg_tm_key **keys, size_t *n_keys)
{
    json_t *doc = NULL;
    signet_err err = parse_reply(json, len, &doc);
    if (err != SIGNET_OK)
        return err;
    err = SIGNET_ERR_MALFORMED;
    struct sg_tm_key *out = NULL;
    memset(sig, 0, sizeof *sig);
    const json_t *signer = json_object_get(doc, "signer");
    const json_t *hsm = json_object_get(doc, "hsm");
    const json_t *sandbox = json_object_get(doc, "sandbox");
    const json_t *timing = json_object_get(doc, "timing");
    const json_t *arr = json_object_get(doc, "keys");
    if (!json_is_object(doc) || jint(doc, "now", &sig->now) != 0 ||
        juint(signer, "signatures", &sig->signatures) != 0 ||
        juint(signer, "refusals", &sig->refusals) != 0 ||
        juint(signer, "batches", &sig->batches) != 0 ||
        juint(hsm, "signatures", &sig->hsm_signatures) != 0 ||
        juint(hsm, "errors", &sig->hsm_errors) != 0 ||
        juint(hsm, "session_reopens", &sig->hsm_reopens) != 0 ||
        jbool(sandbox, "seccomp", &sig->seccomp) != 0 ||
        jbool(sandbox, "dumpable", &sig->dumpable) != 0 ||
        jbool(sandbox, "mlocked", &sig->mlocked) != 0 ||
        jbool(sandbox, "no_new_privs", &sig->no_new_privs) != 0 ||
        juint(doc, "audit_seq", &sig->audit_seq) != 0 || !json_is_array(arr))
        goto out;
    if (jint(timing, "next_transition_in", &sig->next_transition_in) != 0)
        sig->next_transition_in = -1;
    /* A signer without the member (an older one) is taken as healthy. */
    const json_t *audit = json_object_get(doc, "audit");
    sig->audit_ok = true;
    if (json_is_object(audit) && jbool(audit, "ok", &sig->audit_ok) != 0)
        goto out;
    if (!sig->audit_ok) {
        const char *e = jstr(audit, "error"), *why = jstr(audit, "reason");
        sig->audit_broken = e != NULL && strcmp(e, "SIGNET_ERR_AUDIT_BROKEN") == 0;
        (void)sg_tm_copy(sig->audit_reason, sizeof sig->audit_reason,
                         why != NULL ? why : "audit log not writable");
    }
    if (keys != NULL) {
        size_t n = json_array_size(arr);
        out = n > 0 ? calloc(n, sizeof *out) : NULL;
        if (n > 0 && out == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (parse_key(json_array_get(arr, i), &out[i]) != 0)
                goto out;
        *keys = out;
        *n_keys = n;
        out = NULL;
    }
    err = SIGNET_OK;
out:
    free(out);
    json_decref(doc);
    return err;
}

signet_err sg_tm_parse_inventory(const char *json, size_t len, struct sg_tm_object **objs,
                                 size_t *n_out)
{
    json_t *doc = NULL;
    signet_err err = parse_reply(json, len, &doc);
    if (err != SIGNET_OK)
        return err;
    err = SIGNET_ERR_MALFORMED;
    size_t n = json_array_size(doc);
    struct sg_tm_object *out = n > 0 ? calloc(n, sizeof *out) : NULL;
    if (!json_is_array(doc) || (n > 0 && out == NULL)) {
        err = json_is_array(doc) ? SIGNET_ERR_NOMEM : SIGNET_ERR_MALFORMED;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(doc, i);
        struct sg_tm_object *ob = &out[i];
        if (!json_is_object(o) || jstr(o, "id") == NULL ||
            sg_tm_copy(ob->id, sizeof ob->id, jstr(o, "id")) != 0 ||
            jbool(o, "sensitive", &ob->sensitive) != 0 ||
            jbool(o, "extractable", &ob->extractable) != 0 ||
            jbool(o, "always_sensitive", &ob->always_sensitive) != 0 ||
            jbool(o, "never_extractable", &ob->never_extractable) != 0)
            goto out;
        /* The label is informational; a long or odd one is cut, not fatal. */
        sg_tm_log_safe(jstr(o, "label"), ob->label, sizeof ob->label);
    }
    *objs = out;
    *n_out = n;
    out = NULL;
    err = SIGNET_OK;
out:
    free(out);
    json_decref(doc);
    return err;
}

signet_err sg_tm_parse_jwks(const char *json, size_t len, const char *issuer, char (**kids)[64],
                            size_t *n_out, size_t *foreign_iss)
{
    json_t *doc = NULL;
    signet_err err = parse_reply(json, len, &doc);
    if (err != SIGNET_OK)
        return err;
    err = SIGNET_ERR_MALFORMED;
    const json_t *arr = json_object_get(doc, "keys");
    size_t n = json_array_size(arr);
    char (*out)[64] = n > 0 ? calloc(n, sizeof *out) : NULL;
    *foreign_iss = 0;
    if (!json_is_array(arr) || (n > 0 && out == NULL))
        goto out;
    for (size_t i = 0; i < n; i++) {
        const json_t *k = json_array_get(arr, i);
        const char *iss = jstr(k, "iss");
        if (!json_is_object(k) || sg_tm_copy(out[i], sizeof out[i], jstr(k, "kid")) != 0 ||
            out[i][0] == '\0')
            goto out;
        if (iss == NULL || strcmp(iss, issuer) != 0)
            (*foreign_iss)++;
    }
    *kids = out;
    *n_out = n;
    out = NULL;
    err = SIGNET_OK;
out:
    free(out);
    json_decref(doc);
    return err;
}

/* ---- checks --------------------------------------------------------------- */

static void set_ok(struct sg_inv_result *r)
{
    memset(r, 0, sizeof *r);
    r->state = SG_INV_OK;
}

static void set_unknown(struct sg_inv_result *r, const char *why)
{
    memset(r, 0, sizeof *r);
    r->state = SG_INV_UNKNOWN;
    (void)sg_tm_copy(r->msg, sizeof r->msg, why);
}

/* Appends "; "-separated findings to r->msg and marks it violated. */
static void violate(struct sg_inv_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violate(struct sg_inv_result *r, const char *fmt, ...)
{
    char item[sizeof r->msg];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    size_t used = strlen(r->msg);
    if (r->state == SG_INV_VIOLATED && used + 3 < sizeof r->msg) {
        memcpy(r->msg + used, "; ", 3);
        used += 2;
    }
    r->state = SG_INV_VIOLATED;
    if (used + 1 < sizeof r->msg)
        (void)snprintf(r->msg + used, sizeof r->msg - used, "%s", item);
}

static void name_key(struct sg_inv_result *r, const char *kid)
{
    if (r->kid[0] == '\0')
        (void)sg_tm_copy(r->kid, sizeof r->kid, kid);
}

static bool in_jwks(const struct sg_tm_key *k)
{
    return !k->revoked &&
           (k->state == SG_KS_PUBLISHED || k->state == SG_KS_ACTIVE || k->state == SG_KS_RETIRED);
}

void sg_inv_check_one_active(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    if (!in->have_keys) {
        set_unknown(r, "no key list from the signer");
        return;
    }
    set_ok(r);
    for (size_t t = 0; t < in->cfg->n_tenants; t++) {
        const struct sg_tenant_cfg *tc = &in->cfg->tenants[t];
        for (size_t a = 0; a < tc->n_algs; a++) {
            size_t active = 0, standby = 0;
            const struct sg_tm_key *act = NULL;
            for (size_t i = 0; i < in->n_keys; i++) {
                const struct sg_tm_key *k = &in->keys[i];
                if (strcmp(k->issuer, tc->issuer) != 0 || strcmp(k->alg, tc->algs[a]) != 0 ||
                    k->revoked)
                    continue;
                if (k->state == SG_KS_ACTIVE) {
                    active++;
                    act = k;
                } else if (k->state == SG_KS_PUBLISHED) {
                    standby++;
                }
            }
            if (active != 1)
                violate(r, "%s %s has %zu ACTIVE keys", tc->issuer, tc->algs[a], active);
            else if (standby == 0 && in->now - act->activated_at > SETTLE_SECONDS)
                violate(r, "%s %s has no PUBLISHED standby", tc->issuer, tc->algs[a]);
        }
    }
}

void sg_inv_check_key_age(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    if (!in->have_keys) {
        set_unknown(r, "no key list from the signer");
        return;
    }
    set_ok(r);
    const struct sg_config *c = in->cfg;
    const int64_t grace = in->tcfg != NULL ? in->tcfg->rotation_grace : 300;
    const int64_t max_active = c->rotation_period + sg_config_prepublish(c) + grace;
    const int64_t max_retired = sg_config_retire_window(c) + grace;
    for (size_t i = 0; i < in->n_keys; i++) {
        const struct sg_tm_key *k = &in->keys[i];
        if (k->state == SG_KS_DESTROYED)
            continue;
        if (k->state == SG_KS_ACTIVE && in->now - k->activated_at > max_active) {
            violate(r, "key %s ACTIVE for %llds (limit %llds)", k->kid,
                    (long long)(in->now - k->activated_at), (long long)max_active);
            name_key(r, k->kid);
        }
        if (k->state == SG_KS_RETIRED && in->now - k->retired_at > max_retired) {
            violate(r, "key %s RETIRED for %llds, not destroyed (limit %llds)", k->kid,
                    (long long)(in->now - k->retired_at), (long long)max_retired);
            name_key(r, k->kid);
        }
        if (in->now - k->created_at > c->max_key_age) {
            violate(r, "key %s is %llds old (max_key_age %llds)",
                    k->kid[0] != '\0' ? k->kid : k->hsm_id, (long long)(in->now - k->created_at),
                    (long long)c->max_key_age);
            name_key(r, k->kid);
        }
    }
}

static const struct sg_tm_key *key_by_hsm(const struct sg_tm_key *keys, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].hsm_id, id) == 0)
            return &keys[i];
    return NULL;
}

/* SG_AUDIT_KEY_ID as the inventory shows a CKA_ID (lower-case hex). */
#define AUDIT_KEY_ID_HEX "7369676e65742d61756469742d6b6579"
/* SG_TOTP_SEAL_KEY_ID likewise: the AES key that seals TOTP seeds (issue 14). */
#define SEAL_KEY_ID_HEX "7369676e65742d746f74702d7365616c"

void sg_inv_check_token_objects(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    if (!in->have_inventory || !in->have_keys) {
        set_unknown(r, "no inventory or key list from the signer");
        return;
    }
    set_ok(r);
    for (size_t i = 0; i < in->n_objects; i++) {
        const struct sg_tm_object *o = &in->objects[i];
        const struct sg_tm_key *k = key_by_hsm(in->keys, in->n_keys, o->id);
        const struct sg_tm_key *before =
            in->keys_before != NULL ? key_by_hsm(in->keys_before, in->n_keys_before, o->id) : NULL;
        const char *who = k != NULL && k->kid[0] != '\0' ? k->kid : o->id;
        if (!o->sensitive || o->extractable || !o->always_sensitive || !o->never_extractable) {
            char what[128] = "";
            const char *flags[4] = {o->sensitive ? NULL : "not sensitive",
                                    o->extractable ? "extractable" : NULL,
                                    o->always_sensitive ? NULL : "was not always sensitive",
                                    o->never_extractable ? NULL : "was extractable"};
            for (size_t f = 0; f < 4; f++) {
                if (flags[f] == NULL)
                    continue;
                size_t used = strlen(what);
                (void)snprintf(what + used, sizeof what - used, "%s%s", used > 0 ? ", " : "",
                               flags[f]);
            }
            violate(r, "object %s is %s", who, what);
            if (k != NULL)
                name_key(r, k->kid);
        }
        if (k == NULL && strcmp(o->id, AUDIT_KEY_ID_HEX) == 0 &&
            strcmp(o->label, SG_AUDIT_KEY_LABEL) == 0)
            continue; /* the audit key (checkpoints of the audit log), not in the store */
        if (k == NULL && strcmp(o->id, SEAL_KEY_ID_HEX) == 0 &&
            strcmp(o->label, SG_TOTP_SEAL_KEY_LABEL) == 0)
            continue; /* the TOTP seal key (a secret key), not in the store either */
        if (k == NULL)
            violate(r, "object id %s (label '%s') is not a key signet created", o->id, o->label);
        else if ((before != NULL && before->state == SG_KS_DESTROYED) ||
                 (before == NULL && k->state == SG_KS_DESTROYED))
            violate(r, "object of key %s is still in the token after it was destroyed", who);
    }
    for (size_t i = 0; i < in->n_keys; i++) {
        const struct sg_tm_key *k = &in->keys[i];
        bool present = false;
        for (size_t j = 0; j < in->n_objects && !present; j++)
            present = strcmp(in->objects[j].id, k->hsm_id) == 0;
        if (k->state == SG_KS_ACTIVE && !present)
            violate(r, "ACTIVE key %s has no private object in the token", k->kid);
    }
}

static bool first_activation(const struct sg_inv_input *in, const struct sg_tm_key *k)
{
    for (size_t i = 0; i < in->n_keys; i++) {
        const struct sg_tm_key *o = &in->keys[i];
        if (o != k && o->activated_at > 0 && o->activated_at < k->activated_at &&
            strcmp(o->issuer, k->issuer) == 0 && strcmp(o->alg, k->alg) == 0)
            return false;
    }
    return true;
}

static bool emergency_successor(const struct sg_inv_input *in, const struct sg_tm_key *k)
{
    for (size_t i = 0; i < in->n_keys; i++) {
        const struct sg_tm_key *o = &in->keys[i];
        if (o != k && o->revoked && o->retired_at == k->activated_at &&
            strcmp(o->issuer, k->issuer) == 0 && strcmp(o->alg, k->alg) == 0)
            return true;
    }
    return false;
}

/* When k's membership in the JWKS last changed. */
static int64_t last_change(const struct sg_tm_key *k)
{
    int64_t t = k->published_at;
    if (k->retired_at > t)
        t = k->retired_at;
    if (k->destroyed_at > t)
        t = k->destroyed_at;
    return t;
}

static void check_served(const struct sg_inv_input *in, const struct sg_tenant_cfg *tc,
                         const char *doc, struct sg_inv_result *r)
{
    char(*kids)[64] = NULL;
    size_t n = 0, foreign = 0;
    if (sg_tm_parse_jwks(doc, strlen(doc), tc->issuer, &kids, &n, &foreign) != SIGNET_OK) {
        violate(r, "served JWKS of %s does not parse", tc->issuer);
        return;
    }
    if (foreign > 0)
        violate(r, "served JWKS of %s has %zu keys without its issuer", tc->issuer, foreign);
    for (size_t i = 0; i < n; i++) {
        const struct sg_tm_key *k = NULL;
        size_t dup = 0;
        for (size_t j = 0; j < n; j++)
            dup += strcmp(kids[i], kids[j]) == 0;
        for (size_t j = 0; j < in->n_keys && k == NULL; j++)
            if (strcmp(in->keys[j].kid, kids[i]) == 0)
                k = &in->keys[j];
        if (dup > 1)
            violate(r, "served JWKS of %s repeats kid %s", tc->issuer, kids[i]);
        if (k == NULL) {
            violate(r, "served JWKS of %s has unknown kid %s", tc->issuer, kids[i]);
        } else if (strcmp(k->issuer, tc->issuer) != 0) {
            violate(r, "served JWKS of %s has kid %s of issuer %s", tc->issuer, kids[i], k->issuer);
        } else if (!in_jwks(k) && in->now - last_change(k) > SETTLE_SECONDS) {
            violate(r, "served JWKS of %s has %s%s key %s", tc->issuer,
                    k->revoked ? "revoked " : "", sg_key_state_name((enum sg_key_state)k->state),
                    kids[i]);
            name_key(r, k->kid);
        }
    }
    for (size_t j = 0; j < in->n_keys; j++) {
        const struct sg_tm_key *k = &in->keys[j];
        if (strcmp(k->issuer, tc->issuer) != 0 || !in_jwks(k) ||
            in->now - last_change(k) <= SETTLE_SECONDS)
            continue;
        bool served = false;
        for (size_t i = 0; i < n && !served; i++)
            served = strcmp(kids[i], k->kid) == 0;
        if (!served)
            violate(r, "served JWKS of %s lacks %s key %s", tc->issuer,
                    sg_key_state_name((enum sg_key_state)k->state), k->kid);
    }
    free(kids);
}

void sg_inv_check_jwks(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    if (!in->have_keys) {
        set_unknown(r, "no key list from the signer");
        return;
    }
    set_ok(r);
    const int64_t prepub = sg_config_prepublish(in->cfg);
    for (size_t i = 0; i < in->n_keys; i++) {
        const struct sg_tm_key *k = &in->keys[i];
        if (k->activated_at == 0)
            continue;
        if (k->published_at == 0 || k->activated_at - k->published_at < prepub) {
            if (first_activation(in, k) || emergency_successor(in, k))
                continue;
            violate(r, "key %s became ACTIVE %llds after publication (pre-publication %llds)",
                    k->kid, (long long)(k->activated_at - k->published_at), (long long)prepub);
        }
    }
    if (!in->have_jwks || in->jwks == NULL) {
        if (r->state == SG_INV_OK)
            set_unknown(r, "no served JWKS to compare");
        return;
    }
    for (size_t t = 0; t < in->cfg->n_tenants; t++) {
        if (in->jwks[t] == NULL)
            violate(r, "no served JWKS for %s", in->cfg->tenants[t].issuer);
        else
            check_served(in, &in->cfg->tenants[t], in->jwks[t], r);
    }
}

/* I8, front half: the front end's own sandbox (sd_sandbox_enter). Returns
 * why it cannot be judged, or NULL. */
static const char *check_frontend(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    const struct sg_tm_frontend *fe = in->frontend;
    if (fe == NULL)
        return NULL; /* no front end here (the CLI): not applicable */
    if (!fe->entered)
        return "the front end has not entered its sandbox yet";
    if (fe->dumpable)
        violate(r, "the front end is dumpable (core dumps and ptrace possible)");
    if (in->sandbox_compiled_out)
        return fe->seccomp && fe->no_new_privs && fe->caps_dropped
                   ? NULL
                   : "this build has no sandbox (SIGNET_SANDBOX=OFF): the front end runs "
                     "without seccomp";
    if (!fe->seccomp)
        violate(r, "the front end runs without seccomp");
    if (!fe->no_new_privs)
        violate(r, "the front end runs without no-new-privs");
    if (!fe->caps_dropped)
        violate(r, "the front end still holds capabilities");
    return NULL;
}

/* I8, signer half: each signer's STATUS sandbox flags and [signer] sandbox.
 * Returns why it cannot be judged, or NULL. */
static const char *check_signers(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    if (in->n_signers == 0)
        return "no signer STATUS";
    for (size_t i = 0; i < in->n_signers; i++)
        if (in->signers[i].dumpable)
            violate(r, "signer %zu is dumpable (core dumps and ptrace possible)", i);
    if (!in->cfg->sandbox) {
        /* Turning the sandbox off is never what "as designed" means. */
        violate(r, "[signer] sandbox = false: the signers run without seccomp and "
                   "no-new-privs");
        return NULL;
    }
    bool missing = false;
    for (size_t i = 0; i < in->n_signers; i++) {
        const struct sg_tm_signer *s = &in->signers[i];
        missing |= !s->seccomp || !s->no_new_privs;
        if (in->sandbox_compiled_out)
            continue;
        if (!s->seccomp)
            violate(r, "signer %zu runs without seccomp although [signer] sandbox = true", i);
        if (!s->no_new_privs)
            violate(r, "signer %zu runs without no-new-privs", i);
    }
    /* A build without the sandbox (SIGNET_SANDBOX=OFF, sanitizers) cannot
     * apply it: not a finding about this deployment, but nothing to vouch
     * for either. */
    return missing && in->sandbox_compiled_out
               ? "this build has no signer sandbox (SIGNET_SANDBOX=OFF): the signers run "
                 "without seccomp"
               : NULL;
}

void sg_inv_check_sandbox(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    set_ok(r);
    const char *fe_unknown = check_frontend(in, r);
    const char *signers_unknown = check_signers(in, r);
    /* Any finding wins over a half that cannot be judged. */
    if (r->state == SG_INV_OK && (fe_unknown != NULL || signers_unknown != NULL))
        set_unknown(r, fe_unknown != NULL ? fe_unknown : signers_unknown);
}

/* ---- I9: passkey counters ------------------------------------------------ */

static bool b64url_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

signet_err sg_inv_passkey_valid(const struct sg_config *cfg, const char *issuer,
                                const char *user_id, uint32_t stored, uint32_t presented)
{
    if (cfg == NULL || issuer == NULL || sg_config_tenant_by_issuer(cfg, issuer) == NULL)
        return SIGNET_ERR_NOT_FOUND;
    size_t n = user_id != NULL ? strlen(user_id) : 0;
    if (n == 0 || n > SG_INV_PASSKEY_USER_MAX)
        return SIGNET_ERR_MALFORMED;
    for (size_t i = 0; i < n; i++)
        if (!b64url_char(user_id[i]))
            return SIGNET_ERR_MALFORMED;
    /* WebAuthn 6.1.1 (step 22 of 7.2): a regression is a presented count
     * not above a non-zero stored one; 0 against 0 is an authenticator
     * without a counter (synced passkeys). */
    if (stored == 0 || presented > stored)
        return SIGNET_ERR_MALFORMED;
    return SIGNET_OK;
}

void sg_inv_passkey_message(const struct sg_config *cfg, const struct sg_inv_passkey *p,
                            char *msg, size_t cap)
{
    const struct sg_tenant_cfg *t = cfg != NULL ? sg_config_tenant_by_issuer(cfg, p->issuer) : NULL;
    (void)snprintf(msg, cap,
                   "passkey of user %s of %s (%s) presented signature counter %" PRIu32
                   " after %" PRIu32 ": a cloned authenticator? The sign-in was refused",
                   p->user_id, t != NULL ? t->name : "?", p->issuer, p->presented, p->stored);
}

void sg_inv_check_passkey(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    set_ok(r);
    const struct sg_inv_passkey *latest = NULL;
    size_t recent = 0;
    for (size_t i = 0; i < in->n_passkeys; i++) {
        const struct sg_inv_passkey *p = &in->passkeys[i];
        if (in->now - p->time >= SG_INV_PASSKEY_WINDOW)
            continue;
        recent++;
        if (latest == NULL || p->time >= latest->time)
            latest = p;
    }
    if (latest == NULL)
        return;
    char one[sizeof r->msg];
    sg_inv_passkey_message(in->cfg, latest, one, sizeof one);
    if (recent == 1)
        violate(r, "%s", one);
    else
        violate(r, "%s (%zu reports in %ds)", one, recent, SG_INV_PASSKEY_WINDOW);
}

/* ---- I10: approvals ------------------------------------------------------ */

void sg_inv_approval_message(const struct sg_config *cfg, const struct sg_inv_approval *a,
                             char *msg, size_t cap)
{
    const struct sg_tenant_cfg *t = cfg != NULL ? sg_config_tenant_by_issuer(cfg, a->issuer) : NULL;
    (void)snprintf(msg, cap,
                   a->reported ? "user %s of %s (%s) answered a sign-in approval \"this wasn't "
                                 "me\": their password is in someone else's hands; sessions "
                                 "and refresh tokens were revoked"
                               : "user %s of %s (%s) typed three wrong numbers on approval "
                                 "prompts: approvals are locked for a cool-down (MFA fatigue?)",
                   a->user_id, t != NULL ? t->name : "?", a->issuer);
}

void sg_inv_check_approvals(const struct sg_inv_input *in, struct sg_inv_result *r)
{
    set_ok(r);
    const struct sg_inv_approval *latest = NULL;
    size_t recent = 0;
    for (size_t i = 0; i < in->n_approvals; i++) {
        const struct sg_inv_approval *a = &in->approvals[i];
        if (in->now - a->time >= SG_INV_APPROVALS_WINDOW)
            continue;
        recent++;
        if (latest == NULL || a->time >= latest->time)
            latest = a;
    }
    if (latest == NULL)
        return;
    char one[sizeof r->msg];
    sg_inv_approval_message(in->cfg, latest, one, sizeof one);
    if (recent == 1)
        violate(r, "%s", one);
    else
        violate(r, "%s (%zu reports in %ds)", one, recent, SG_INV_APPROVALS_WINDOW);
}

int sg_inv_check_sign(const struct sg_config *cfg, const struct sg_tm_key *keys, size_t n_keys,
                      const struct sg_tm_sign *s, char *msg, size_t cap)
{
    const struct sg_tm_key *k = NULL;
    for (size_t i = 0; i < n_keys && k == NULL; i++)
        if (strcmp(keys[i].kid, s->kid) == 0)
            k = &keys[i];
    if (k == NULL)
        return -1;
    const int64_t skew = cfg->clock_skew;
    if (strcmp(k->issuer, s->iss) != 0) {
        (void)snprintf(msg, cap, "record %" PRIu64 ": key %s of %s signed a token of %s", s->seq,
                       s->kid, k->issuer, s->iss);
        return 1;
    }
    if (k->activated_at == 0 || s->time < k->activated_at ||
        (k->retired_at > 0 && s->time > k->retired_at)) {
        (void)snprintf(msg, cap, "record %" PRIu64 ": key %s signed at %lld while not ACTIVE",
                       s->seq, s->kid, (long long)s->time);
        return 1;
    }
    int64_t from = k->retired_at > 0 && k->retired_at < s->time ? k->retired_at : s->time;
    int64_t limit = from + cfg->max_token_lifetime + skew;
    if (s->exp > limit) {
        (void)snprintf(msg, cap,
                       "record %" PRIu64 ": token of key %s expires at %lld, %llds after the key "
                       "leaves the JWKS",
                       s->seq, s->kid, (long long)s->exp, (long long)(s->exp - limit));
        return 1;
    }
    return 0;
}

void sg_inv_sigcount_check(struct sg_inv_sigcount *sc, const struct sg_tm_signer *signers,
                           size_t n, uint64_t records_before, uint64_t records_after,
                           uint64_t rescans, struct sg_inv_result *r)
{
    uint64_t total = 0;
    bool restarted = !sc->have_base || n != sc->n_last || rescans != sc->rescans ||
                     n > SG_TM_MAX_SIGNERS;
    for (size_t i = 0; i < n && i < SG_TM_MAX_SIGNERS; i++) {
        total += signers[i].signatures;
        if (!restarted && signers[i].signatures < sc->last[i])
            restarted = true;
    }
    sc->n_last = n < SG_TM_MAX_SIGNERS ? n : SG_TM_MAX_SIGNERS;
    for (size_t i = 0; i < sc->n_last; i++)
        sc->last[i] = signers[i].signatures;
    set_ok(r);
    if (restarted) {
        /* New baseline: counters as fetched, log as read before them. */
        sc->have_base = true;
        sc->base_signatures = total;
        sc->base_records = records_before;
        sc->rescans = rescans;
        return;
    }
    uint64_t grown = total - sc->base_signatures;
    uint64_t logged = records_after - sc->base_records;
    if (grown > logged)
        violate(r, "signers made %" PRIu64 " signatures since the baseline but the log holds "
                   "%" PRIu64 " new sign records",
                grown, logged);
}
