#include "signer/signer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/ipc.h"
#include "audit/checkpoint.h"
#include "json.h"
#include "signer/audit.h"
#include "signer/lifecycle.h"
#include "signer/p11.h"
#include "signer/policy.h"
#include "signer/totp.h"
#include "store/keystore.h"
#include "store/store.h"
#include "util/b64url.h"
#include "util/clock.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/sha256.h"

#define MAX_ACTIVE 64

struct pending;
struct sign_job;

struct active_key {
    char issuer[SG_STORE_ISSUER_MAX];
    char alg[8];
    char kid[SG_STORE_KID_MAX];
    uint8_t hsm_id[SG_STORE_HSM_ID_LEN];
};

#define BINDING_CACHE 16

struct sg_signer {
    struct sg_config cfg;
    struct sg_p11 *p11;
    struct sg_store *store;
    struct sg_audit *audit;
    struct sg_lc lc;
    int lock_fd;
    struct active_key active[MAX_ACTIVE];
    size_t n_active;
    int64_t active_version; /* store version the cache reflects; -1 = stale */
    int active_checked;     /* the version was checked for the current batch */
    /* Client bindings read for the policy, each valid while the store
     * version it was read at stands (a binding change bumps it). */
    struct binding_slot {
        int64_t version;
        uint64_t used;
        struct sg_client_binding b;
    } bindings[BINDING_CACHE];
    uint64_t binding_tick;
    uint64_t signatures;        /* released: their records were committed */
    uint64_t staged_signatures; /* made, records staged, not yet committed */
    uint64_t withheld;          /* made but never released (commit failed) */
    char instance[17];          /* random id of this signer process */
    int64_t started_at;
    uint64_t audit_seq_at_start;
    uint64_t refusals;
    uint64_t batches;
    int hard_seccomp, hard_dumpable, hard_mlocked, hard_nnp;
    int hard_landlock; /* Landlock ABI in force, 0 = none */
    unsigned role;              /* SG_ROLE_* of the primary channel's peer */
    struct rate {
        double tokens;
        int64_t at_ms;
    } rates[SG_ROLE_MONITOR + 1][16]; /* [role][type], for every peer but the administrator */
    struct sg_pool *pool;
    struct pending *batch;   /* BATCH_MAX request slots */
    struct sign_job *jobs;   /* BATCH_MAX sign jobs */
    char audit_key[SG_THUMBPRINT_LEN + 1]; /* the audit key's thumbprint, "" if none */
    /* Health, for STATUS (and so /readyz): how the last signature went, or
     * the last test signature when there was none for a while. Monotonic
     * ms for the decisions, the (possibly injected) clock for the report. */
    struct health {
        int failing;           /* the last outcome was a failure */
        signet_err last_err;   /* ...and why */
        int64_t ok_at, err_at; /* sg_clock_now() of the last success, failure */
        int64_t last_ms;       /* monotonic ms of the last outcome */
        int64_t probe_ms;      /* of the last test signature */
        int64_t probed_at;
        uint64_t test_signatures; /* made by the HSM, counted in hsm.signatures too */
    } health;
    size_t batch_ok;         /* signatures made in this batch */
    signet_err batch_err;    /* a failure of the service in this batch */
    /* The token cannot sign with a key the key store says is ACTIVE, even
     * after fresh sessions: this process's view of it is beyond repair.
     * The signer answers what it can and exits (SG_SIGNER_EXIT_TOKEN_LOST);
     * the launcher's next one loads the module anew. */
    int token_lost;
    struct sg_totp_signer totp; /* TOTP_* (issue 14) */
};

static void stop_workers(struct sg_signer *s);
static signet_err with_lock(struct sg_signer *s);
static void unlock(struct sg_signer *s);
static signet_err setup_audit_key(struct sg_signer *s);
static void setup_totp(struct sg_signer *s);
static signet_err handle_note(struct sg_signer *s, unsigned role, const uint8_t *p, size_t n,
                              struct sg_wbuf *resp);

const struct sg_config *sg_signer_config(const struct sg_signer *s)
{
    return &s->cfg;
}

void sg_signer_set_hardening(struct sg_signer *s, int seccomp, int dumpable, int mlocked,
                             int no_new_privs, int landlock)
{
    s->hard_landlock = landlock;
    s->hard_seccomp = seccomp;
    s->hard_dumpable = dumpable;
    s->hard_mlocked = mlocked;
    s->hard_nnp = no_new_privs;
}

void sg_signer_set_role(struct sg_signer *s, unsigned role)
{
    s->role = role;
}

signet_err sg_signer_open(const char *state_dir, struct sg_signer **out, char *errbuf,
                          size_t errlen)
{
    struct sg_signer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SIGNET_ERR_NOMEM;
    s->lock_fd = -1;
    s->active_version = -1;
    for (size_t i = 0; i < BINDING_CACHE; i++)
        s->bindings[i].version = -1;
    s->role = SG_ROLE_ADMIN;
    struct sg_secret *pin = NULL;
    signet_err err = sg_config_load(state_dir, &s->cfg, errbuf, errlen);
    if (err != SIGNET_OK)
        goto out;
    if (s->cfg.softhsm_conf[0] != '\0' && access(s->cfg.softhsm_conf, R_OK) == 0)
        (void)setenv("SOFTHSM2_CONF", s->cfg.softhsm_conf, 1);
    sg_clock_use_file(s->cfg.clock_file[0] != '\0' ? s->cfg.clock_file : NULL);
    err = sg_secret_read_file(s->cfg.pin_file, 256, &pin);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "cannot read PIN file %s: %s%s", s->cfg.pin_file,
                       signet_strerror(err),
                       err == SIGNET_ERR_PERMISSION ? " (it must be a regular file, not a symlink, mode 0600)" : "");
        goto out;
    }
    struct sg_p11_opts opts = {
        .module_path = s->cfg.module,
        .allow_dirs = s->cfg.module_dirs,
        .token_label = s->cfg.token_label,
        .sessions = s->cfg.sessions,
    };
    err = sg_p11_open(&opts, pin, &s->p11);
    sg_secret_free(&pin);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "HSM: %s (module %s, token '%s')", signet_strerror(err),
                       s->cfg.module, s->cfg.token_label);
        goto out;
    }
    /* The key store: the signer's alone (the front end's store holds
     * clients and replay caches and never tells the signer anything). */
    err = sg_keystore_open(s->cfg.keystore, 0, &s->store);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "key store %s: %s", s->cfg.keystore, signet_strerror(err));
        goto out;
    }
    /* Keys in the store mean records exist: a missing or empty log is then
     * a lost one (I5 violated), never a new chain; the signer starts
     * anyway, refuses to sign and says why (STATUS "audit"). */
    struct sg_key *rows = NULL;
    size_t n_rows = 0;
    err = sg_store_key_list(s->store, NULL, &rows, &n_rows);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "key store %s: %s", s->cfg.keystore, signet_strerror(err));
        goto out;
    }
    sg_key_list_free(rows, n_rows);
    struct sg_audit_opts aopts = {.expect_records = n_rows > 0, .keep_broken = true};
    err = sg_audit_open_ex(s->cfg.audit_log, &aopts, &s->audit);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "audit log %s: %s", s->cfg.audit_log, signet_strerror(err));
        goto out;
    }
    char lock[PATH_MAX + 32];
    (void)snprintf(lock, sizeof lock, "%s/" SG_SIGNER_DIR "/lifecycle.lock", s->cfg.state_dir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0) {
        (void)snprintf(errbuf, errlen, "cannot open %s", lock);
        err = SIGNET_ERR_IO;
        goto out;
    }
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        err = SIGNET_ERR_CRYPTO;
        goto out;
    }
    sg_hex_encode(rnd, sizeof rnd, s->instance);
    s->started_at = sg_clock_now();
    s->audit_seq_at_start = sg_audit_last_seq(s->audit);
    s->lc.cfg = &s->cfg;
    s->lc.store = s->store;
    s->lc.p11 = s->p11;
    s->lc.audit = s->audit;
    err = setup_audit_key(s);
    if (err != SIGNET_OK) {
        (void)snprintf(errbuf, errlen, "audit key: %s", signet_strerror(err));
        goto out;
    }
    setup_totp(s);
    *out = s;
    return SIGNET_OK;
out:
    sg_secret_free(&pin);
    sg_signer_close(&s);
    return err;
}

void sg_signer_close(struct sg_signer **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    struct sg_signer *s = *sp;
    stop_workers(s);
    free(s->batch);
    free(s->jobs);
    if (s->audit != NULL && sg_audit_commit(s->audit) != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "audit_commit_failed", "at=close");
    /* Every record this signer wrote leaves anchored. */
    if (s->audit != NULL && sg_audit_checkpoint(s->audit) != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "audit_checkpoint_failed", "at=close");
    sg_audit_close(&s->audit);
    sg_store_close(&s->store);
    sg_p11_close(&s->p11);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
    *sp = NULL;
}

/* The ACTIVE keys, re-read when the store's change counter moved. The
 * counter is checked once per batch: a batch is a few milliseconds of
 * requests, and any other request in it (a rotation) resets the check. */
static signet_err refresh_active(struct sg_signer *s)
{
    if (s->active_checked && s->active_version >= 0)
        return SIGNET_OK;
    int64_t version = 0;
    signet_err err = sg_store_version(s->store, &version);
    if (err != SIGNET_OK || version == s->active_version) {
        s->active_checked = err == SIGNET_OK;
        return err;
    }
    struct sg_key *keys = NULL;
    size_t n = 0;
    err = sg_store_key_list(s->store, NULL, &keys, &n);
    if (err != SIGNET_OK)
        return err;
    s->n_active = 0;
    for (size_t i = 0; i < n && s->n_active < MAX_ACTIVE; i++) {
        if (keys[i].state != SG_KS_ACTIVE || keys[i].revoked)
            continue;
        struct active_key *a = &s->active[s->n_active++];
        memcpy(a->issuer, keys[i].issuer, sizeof a->issuer);
        memcpy(a->alg, keys[i].alg, sizeof a->alg);
        memcpy(a->kid, keys[i].kid, sizeof a->kid);
        memcpy(a->hsm_id, keys[i].hsm_id, sizeof a->hsm_id);
    }
    sg_key_list_free(keys, n);
    s->active_version = version;
    s->active_checked = 1;
    return SIGNET_OK;
}

static const struct active_key *find_active(const struct sg_signer *s, const char *issuer,
                                            const char *alg)
{
    for (size_t i = 0; i < s->n_active; i++)
        if (strcmp(s->active[i].issuer, issuer) == 0 && strcmp(s->active[i].alg, alg) == 0)
            return &s->active[i];
    return NULL;
}

static void put_status(struct sg_wbuf *resp, signet_err status)
{
    sg_wbuf_put_u32(resp, (uint32_t)status);
}

/* Whether a refused signature says the service is failing (its key store,
 * token or audit log), rather than that the request was not one to sign. */
static int sign_fault(signet_err e)
{
    switch (e) {
    case SIGNET_ERR_UNKNOWN_ISSUER_CONFIG:
    case SIGNET_ERR_ALG_NOT_ALLOWED:
    case SIGNET_ERR_POLICY_ISSUER:
    case SIGNET_ERR_POLICY_LIFETIME:
    case SIGNET_ERR_POLICY_PAYLOAD:
    case SIGNET_ERR_POLICY_TIME:
    case SIGNET_ERR_KEY_STATE:
    case SIGNET_ERR_BUSY:
        return 0;
    default:
        return e != SIGNET_OK;
    }
}

static void audit_refusal(struct sg_signer *s, const char *issuer, const char *kid,
                          signet_err why)
{
    s->refusals++;
    if (sign_fault(why))
        s->batch_err = why;
    json_t *f = json_pack("{s:s, s:s, s:s}", "iss", issuer != NULL ? issuer : "", "kid",
                          kid != NULL ? kid : "", "reason", signet_err_name(why));
    if (f == NULL || sg_audit_append(s->audit, sg_clock_now(), "sign_refused", f) != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "audit_append_failed", "type=sign_refused");
    json_decref(f);
    sg_log(SG_LOG_WARN, "sign_refused", "issuer=%s kid=%s reason=%s",
           issuer != NULL ? issuer : "-", kid != NULL && kid[0] != '\0' ? kid : "-",
           signet_err_name(why));
}

/* Builds "<b64 header>.<b64 claims>", signs it in the HSM and appends the
 * signature. The claims bytes are signed exactly as received (after the
 * policy accepted them), never re-serialised. */
static signet_err sign_token(struct sg_signer *s, const struct active_key *key, const char *typ,
                             const uint8_t *claims, size_t claims_len, char **out, size_t *out_len)
{
    enum sg_alg alg;
    signet_err err = sg_alg_parse(key->alg, &alg);
    if (err != SIGNET_OK)
        return err;
    /* The protected header is built by jansson, so every value is escaped
     * (RFC 7515 §4; RFC 8259 §7); members stay in the order alg, kid, typ. */
    json_error_t jerr;
    json_t *h = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s}", "alg", key->alg, "kid", key->kid,
                             "typ", typ);
    if (h == NULL)
        return json_error_code(&jerr) == json_error_out_of_memory ? SIGNET_ERR_NOMEM
                                                                 : SIGNET_ERR_INVALID_ARG;
    char *header = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (header == NULL)
        return SIGNET_ERR_NOMEM;
    char *tok = NULL;
    size_t hn = strlen(header);
    if (hn >= 256) { /* alg, a thumbprint kid and typ need a fraction of it */
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    size_t hlen = sg_b64url_encoded_len(hn);
    size_t clen = sg_b64url_encoded_len(claims_len);
    size_t cap = hlen + 1 + clen + 1 + sg_b64url_encoded_len(SG_P11_SIG_MAX) + 1;
    tok = malloc(cap);
    if (tok == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    err = sg_b64url_encode((const uint8_t *)header, hn, tok, cap);
    if (err == SIGNET_OK) {
        tok[hlen] = '.';
        err = sg_b64url_encode(claims, claims_len, tok + hlen + 1, cap - hlen - 1);
    }
    uint8_t sig[SG_P11_SIG_MAX];
    size_t sig_len = 0;
    size_t input_len = hlen + 1 + clen;
    if (err == SIGNET_OK)
        err = sg_p11_sign(s->p11, alg, key->hsm_id, (const uint8_t *)tok, input_len, sig, &sig_len);
    if (err == SIGNET_OK) {
        tok[input_len] = '.';
        err = sg_b64url_encode(sig, sig_len, tok + input_len + 1, cap - input_len - 1);
    }
    if (err == SIGNET_OK) {
        *out = tok;
        *out_len = strlen(tok);
        tok = NULL;
    }
out:
    free(tok);
    free(header);
    return err;
}

/* A sign request in flight: checked (sequentially), signed in the HSM (in
 * parallel across the session pool), then audited and answered in order. */
struct sign_job {
    struct active_key key;
    int pinned;    /* the request named its kid: no other key may sign it */
    int abandoned; /* the token is lost: no answer, the front end asks another signer */
    const struct sg_tenant_cfg *t;
    char typ[32];
    uint8_t *claims; /* the request's, with the minted jti (owned) */
    size_t claims_len;
    struct sg_policy_info info;
    int64_t now;
    char *token;
    size_t token_len;
    signet_err status;
    struct sg_wbuf *resp;
};

/* The client registry of one tenant, for the policy. */
struct binding_ctx {
    struct sg_signer *s;
    const char *tenant;
};

/* The policy's view of the registry: from the cache when the binding was
 * read at the store version this batch checked (refresh_active), else from
 * the key store, then cached. So a binding change reaches every signer by
 * its next batch, and a token costs no store read. */
static signet_err lookup_binding(void *user, const char *client_id,
                                 struct sg_client_binding *out)
{
    const struct binding_ctx *bc = user;
    struct sg_signer *s = bc->s;
    const int64_t version = s->active_checked ? s->active_version : -1;
    struct binding_slot *victim = NULL;
    uint64_t victim_rank = UINT64_MAX;
    for (size_t i = 0; i < BINDING_CACHE; i++) {
        struct binding_slot *slot = &s->bindings[i];
        const int fresh = version >= 0 && slot->version == version;
        if (fresh && strcmp(slot->b.client_id, client_id) == 0 &&
            strcmp(slot->b.tenant, bc->tenant) == 0) {
            slot->used = ++s->binding_tick;
            *out = slot->b;
            return SIGNET_OK;
        }
        /* A slot of an older version goes first, then the least recently used. */
        const uint64_t rank = fresh ? slot->used + 1 : 0;
        if (rank < victim_rank) {
            victim = slot;
            victim_rank = rank;
        }
    }
    signet_err err = sg_keystore_binding_get(s->store, bc->tenant, client_id, out);
    if (err == SIGNET_OK && version >= 0 && victim != NULL) {
        victim->version = version;
        victim->used = ++s->binding_tick;
        victim->b = *out;
    }
    return err;
}

/* Decodes and checks a sign request. SIGNET_OK with job->status == OK means
 * it is ready to sign; any refusal is already audited and answered. */
static signet_err prepare_sign(struct sg_signer *s, const uint8_t *p, size_t n,
                               struct sg_wbuf *resp, struct sign_job *job)
{
    memset(job, 0, sizeof *job);
    job->resp = resp;
    struct sg_sign_req req;
    signet_err err = sg_ipc_decode_sign(p, n, &req);
    if (err != SIGNET_OK)
        return err; /* malformed frame: the caller drops the connection */
    const int64_t now = sg_clock_now();
    const struct active_key *key = NULL;
    const char *refused_kid = NULL;
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(&s->cfg, req.issuer);
    signet_err status = SIGNET_OK;
    if (t == NULL) {
        status = SIGNET_ERR_UNKNOWN_ISSUER_CONFIG;
        goto refuse;
    }
    const char *alg = req.alg[0] != '\0' ? req.alg : t->algs[0];
    int alg_ok = 0;
    for (size_t i = 0; i < t->n_algs; i++)
        alg_ok |= strcmp(t->algs[i], alg) == 0;
    if (!alg_ok) {
        status = SIGNET_ERR_ALG_NOT_ALLOWED;
        goto refuse;
    }
    status = refresh_active(s);
    if (status != SIGNET_OK)
        status = refresh_active(s); /* a busy moment of the key store: once more */
    if (status != SIGNET_OK)
        goto refuse;
    key = find_active(s, t->issuer, alg);
    if (key == NULL) {
        status = SIGNET_ERR_NO_ACTIVE_KEY;
        goto refuse;
    }
    refused_kid = key->kid;
    if (req.kid[0] != '\0' && strcmp(req.kid, key->kid) != 0) {
        /* Only the ACTIVE key signs: a PUBLISHED, RETIRED, revoked or
         * unknown kid is refused. */
        status = SIGNET_ERR_KEY_STATE;
        refused_kid = req.kid;
        goto refuse;
    }
    struct binding_ctx bc = {s, t->name};
    struct sg_policy_limits lim = {
        .lookup = lookup_binding,
        .lookup_user = &bc,
        .issuer = t->issuer,
        /* The policy decides the form by typ: at+jwt (a client's or a
         * person's access token) or JWT (an ID token), nothing else. */
        .typ = req.typ,
        /* The compiled-in ceiling holds even if a configuration got past
         * its check. */
        .max_lifetime = t->max_token_lifetime < SG_MAX_TOKEN_LIFETIME_CEILING
                            ? t->max_token_lifetime
                            : SG_MAX_TOKEN_LIFETIME_CEILING,
        .skew = s->cfg.clock_skew,
        .now = now,
    };
    status = sg_policy_check_claims(req.claims, req.claims_len, &lim, &job->info);
    /* The signer mints the jti (the front end may not send one): no two
     * tokens it signs share one, whatever the front end asks. */
    if (status == SIGNET_OK)
        status = sg_policy_mint_jti(&job->info);
    if (status == SIGNET_OK)
        status = sg_policy_add_jti(req.claims, req.claims_len, &job->info, &job->claims,
                                   &job->claims_len);
    if (status != SIGNET_OK)
        goto refuse;
    job->key = *key;
    job->pinned = req.kid[0] != '\0';
    job->t = t;
    (void)snprintf(job->typ, sizeof job->typ, "%s", req.typ);
    job->now = now;
    job->status = SIGNET_OK;
    sg_ipc_sign_req_clear(&req);
    return SIGNET_OK;
refuse:
    audit_refusal(s, req.issuer, refused_kid, status);
    put_status(resp, status);
    job->status = status;
    sg_ipc_sign_req_clear(&req);
    return SIGNET_OK;
}

/* The HSM part: safe to run on several threads at once (the PKCS#11 layer
 * lends each its own session). */
static void execute_job(struct sg_signer *s, struct sign_job *job)
{
    if (job->status != SIGNET_OK)
        return;
    job->status = sign_token(s, &job->key, job->typ, job->claims, job->claims_len, &job->token,
                             &job->token_len);
}

/* -- recovery ------------------------------------------------------------ */

/* A signature that failed for want of its key or its token: the key store
 * may have moved on since the batch began (another signer rotated or
 * revoked), or the token may have lost sight of its objects or sessions
 * (SoftHSM answers CKR_OK and finds nothing once its token directory went
 * away for a moment). Neither is the request's fault, so neither is
 * answered before the signer has tried again. */
static int retryable(const struct sign_job *j)
{
    return j->resp->len == 0 && !j->abandoned &&
           (j->status == SIGNET_ERR_NOT_FOUND || j->status == SIGNET_ERR_HSM ||
            j->status == SIGNET_ERR_HSM_TOKEN);
}

static size_t count_retryable(const struct sign_job *jobs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += retryable(&jobs[i]) ? 1u : 0u;
    return k;
}

/* Points the retryable jobs at their issuer's ACTIVE key as the key store
 * has it now; returns how many changed key. A job whose request named its
 * kid keeps that key or is refused, as prepare_sign would refuse it. */
static size_t rekey(struct sg_signer *s, struct sign_job *jobs, size_t n)
{
    s->active_version = -1;
    s->active_checked = 0;
    if (refresh_active(s) != SIGNET_OK)
        return 0; /* the key store is failing: the jobs keep their error */
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        struct sign_job *j = &jobs[i];
        if (!retryable(j))
            continue;
        const struct active_key *k = find_active(s, j->t->issuer, j->key.alg);
        if (k == NULL) {
            j->status = SIGNET_ERR_NO_ACTIVE_KEY;
        } else if (strcmp(k->kid, j->key.kid) != 0 ||
                   memcmp(k->hsm_id, j->key.hsm_id, sizeof k->hsm_id) != 0) {
            if (j->pinned) {
                j->status = SIGNET_ERR_KEY_STATE;
            } else {
                j->key = *k;
                moved++;
            }
        }
    }
    return moved;
}

static void execute_job(struct sg_signer *s, struct sign_job *job);

static void retry(struct sg_signer *s, struct sign_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!retryable(&jobs[i]))
            continue;
        jobs[i].status = SIGNET_OK;
        execute_job(s, &jobs[i]);
    }
}

/* After the HSM part of a batch: the failures above get the key store read
 * again (the rotation window: most end there), then fresh sessions on the
 * token, each followed by one more try. What still fails has a key the
 * store calls ACTIVE that this process's token cannot use: its requests
 * are abandoned (left unanswered), and the signer exits once the rest of
 * the batch is out, so that the front end asks another signer and the
 * launcher starts a fresh one, which loads the module anew. */
static void recover_jobs(struct sg_signer *s, struct sign_job *jobs, size_t n)
{
    size_t failed = count_retryable(jobs, n);
    if (failed == 0)
        return;
    const char *how = "key_store";
    if (rekey(s, jobs, n) > 0)
        retry(s, jobs, n);
    if (count_retryable(jobs, n) > 0) {
        how = "sessions";
        if (sg_p11_reset_sessions(s->p11) == SIGNET_OK) {
            (void)rekey(s, jobs, n);
            retry(s, jobs, n);
        }
    }
    size_t left = count_retryable(jobs, n);
    if (left == 0) {
        sg_log(SG_LOG_WARN, "sign_recovered", "failed=%zu by=%s", failed, how);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!retryable(&jobs[i]))
            continue;
        if (!s->token_lost)
            sg_log(SG_LOG_ERROR, "token_lost", "kid=%s error=%s abandoned=%zu action=exit",
                   jobs[i].key.kid, signet_err_name(jobs[i].status), left);
        s->token_lost = 1;
        s->batch_err = SIGNET_ERR_HSM_TOKEN;
        jobs[i].abandoned = 1;
    }
}

/* Back on the serving thread, in request order: stage the audit record and
 * write the answer. The token leaves only after the batch's commit. */
static void finish_job(struct sg_signer *s, struct sign_job *job)
{
    if (job->resp->len > 0 || job->abandoned) {
        /* refused in prepare_sign, already answered; or abandoned: unanswered,
         * the signer exits after this batch */
        free(job->claims);
        job->claims = NULL;
        return;
    }
    signet_err status = job->status;
    if (status == SIGNET_OK) {
        uint8_t digest[SHA256_DIGEST_LENGTH];
        char hexd[2 * SHA256_DIGEST_LENGTH + 1];
        sg_sha256(job->token, job->token_len, digest);
        sg_hex_encode(digest, sizeof digest, hexd);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "kid",
                              job->key.kid, "iss", job->t->issuer, "alg", job->key.alg, "jti",
                              job->info.jti, "token_sha256", hexd, "iat",
                              (json_int_t)job->info.iat, "exp", (json_int_t)job->info.exp,
                              "signer", s->instance, "client_id", job->info.client_id, "kind",
                              sg_policy_kind_name(job->info.kind));
        /* A person's token (an ID token or a person's access token) names
         * the person and the session it was signed for (docs/people.md). */
        if (f != NULL && job->info.sub[0] != '\0' &&
            (json_object_set_new(f, "sub", json_string(job->info.sub)) != 0 ||
             json_object_set_new(f, "sid", json_string(job->info.sid)) != 0)) {
            json_decref(f);
            f = NULL;
        }
        status = f != NULL ? sg_audit_append(s->audit, job->now, "sign", f) : SIGNET_ERR_NOMEM;
        json_decref(f);
        if (status != SIGNET_OK)
            status = SIGNET_ERR_AUDIT;
    }
    if (status == SIGNET_OK) {
        s->staged_signatures++;
        s->batch_ok++;
        put_status(job->resp, SIGNET_OK);
        sg_wbuf_put_field(job->resp, job->token, job->token_len);
    } else {
        audit_refusal(s, job->t != NULL ? job->t->issuer : NULL, job->key.kid, status);
        put_status(job->resp, status);
    }
    free(job->token);
    job->token = NULL;
    free(job->claims);
    job->claims = NULL;
}

static signet_err handle_sign(struct sg_signer *s, const uint8_t *p, size_t n, struct sg_wbuf *resp)
{
    struct sign_job job;
    s->active_checked = 0;
    signet_err err = prepare_sign(s, p, n, resp, &job);
    if (err != SIGNET_OK)
        return err;
    execute_job(s, &job);
    recover_jobs(s, &job, 1);
    if (job.abandoned) {
        /* No batch to leave unanswered here: say why. */
        job.abandoned = 0;
        job.status = SIGNET_ERR_HSM_TOKEN;
    }
    finish_job(s, &job);
    return SIGNET_OK;
}

/* Worker threads that sign a batch's jobs in parallel; the serving thread
 * takes part too. */
struct sg_pool {
    pthread_t threads[16];
    size_t n_threads;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
    struct sg_signer *s;
    struct sign_job *jobs;
    size_t n_jobs;
    size_t next;
    size_t pending;
    uint64_t generation;
    int stop;
};

static int take_job(struct sg_pool *p, size_t *idx)
{
    if (p->next >= p->n_jobs)
        return 0;
    *idx = p->next++;
    return 1;
}

static void *pool_main(void *arg)
{
    struct sg_pool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        size_t idx;
        while (take_job(p, &idx)) {
            pthread_mutex_unlock(&p->lock);
            execute_job(p->s, &p->jobs[idx]);
            pthread_mutex_lock(&p->lock);
            if (--p->pending == 0)
                pthread_cond_signal(&p->done);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void run_jobs(struct sg_signer *s, struct sign_job *jobs, size_t n)
{
    struct sg_pool *p = s->pool;
    if (p == NULL || p->n_threads == 0 || n < 2) {
        for (size_t i = 0; i < n; i++)
            execute_job(s, &jobs[i]);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->jobs = jobs;
    p->n_jobs = n;
    p->next = 0;
    p->pending = n;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    size_t idx;
    while (take_job(p, &idx)) {
        pthread_mutex_unlock(&p->lock);
        execute_job(s, &jobs[idx]);
        pthread_mutex_lock(&p->lock);
        p->pending--;
    }
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->lock);
    p->jobs = NULL;
    p->n_jobs = 0;
    pthread_mutex_unlock(&p->lock);
}

signet_err sg_signer_start_workers(struct sg_signer *s)
{
    if (s->pool != NULL || s->cfg.sessions < 2)
        return SIGNET_OK;
    struct sg_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return SIGNET_ERR_NOMEM;
    p->s = s;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    size_t want = s->cfg.sessions - 1;
    if (want > sizeof p->threads / sizeof p->threads[0])
        want = sizeof p->threads / sizeof p->threads[0];
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            break;
        p->n_threads++;
    }
    s->pool = p;
    return SIGNET_OK;
}

static void stop_workers(struct sg_signer *s)
{
    struct sg_pool *p = s->pool;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
    s->pool = NULL;
}

static void put_json(struct sg_wbuf *resp, signet_err status, json_t *doc)
{
    put_status(resp, status);
    if (status != SIGNET_OK || doc == NULL)
        return;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        resp->len = 0;
        put_status(resp, SIGNET_ERR_NOMEM);
        return;
    }
    sg_wbuf_put_bytes(resp, text, strlen(text));
    free(text);
}

static signet_err with_lock(struct sg_signer *s)
{
    while (flock(s->lock_fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return SIGNET_ERR_IO;
    return SIGNET_OK;
}

static void unlock(struct sg_signer *s)
{
    (void)flock(s->lock_fd, LOCK_UN);
    s->active_version = -1;
}

/* ---- the audit key (issue 11) ------------------------------------------------ */

/* SG_AUDIT_KEY_ID's 16 bytes, without its NUL. */
static const uint8_t audit_key_id[SG_HSM_ID_LEN] = {'s', 'i', 'g', 'n', 'e', 't', '-', 'a',
                                                     'u', 'd', 'i', 't', '-', 'k', 'e', 'y'};
_Static_assert(sizeof SG_AUDIT_KEY_ID == SG_HSM_ID_LEN + 1, "the audit key's CKA_ID");

static signet_err audit_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[static 64])
{
    struct sg_signer *s = ctx;
    uint8_t buf[SG_P11_SIG_MAX];
    size_t n = 0;
    signet_err err = sg_p11_sign(s->p11, SG_ALG_ES256, audit_key_id, msg, len, buf, &n);
    if (err == SIGNET_OK && n != 64)
        err = SIGNET_ERR_HSM;
    if (err == SIGNET_OK)
        memcpy(sig, buf, 64);
    return err;
}

/* The public half, next to the log (mode 0644: the monitor and
 * `signet audit verify` read it), rewritten whenever it is not the HSM's:
 * a key file swapped for another key would let forged checkpoints pass. */
static void write_audit_key_file(const struct sg_signer *s, const char *jwk)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], old[4096];
    const char *slash = strrchr(s->cfg.audit_log, '/');
    int dlen = slash != NULL ? (int)(slash - s->cfg.audit_log) : 1;
    const char *dir = slash != NULL ? s->cfg.audit_log : ".";
    int n = snprintf(path, sizeof path, "%.*s/%s", dlen, dir, SG_AUDIT_KEY_FILE);
    if (n < 0 || (size_t)n >= sizeof path)
        return;
    size_t want = strlen(jwk);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t got = read(fd, old, sizeof old);
        (void)close(fd);
        if (got == (ssize_t)want + 1 && memcmp(old, jwk, want) == 0 && old[want] == '\n')
            return;
        sg_log(SG_LOG_WARN, "audit_key_file_rewritten", "path=%s", path);
    }
    (void)snprintf(tmp, sizeof tmp, "%s.tmp", path);
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    bool ok = fd >= 0 && fchmod(fd, 0644) == 0 && write(fd, jwk, want) == (ssize_t)want &&
              write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0)
        (void)close(fd);
    if (!ok || rename(tmp, path) != 0) {
        sg_log(SG_LOG_ERROR, "audit_key_file_failed", "path=%s errno=%d", path, errno);
        (void)unlink(tmp);
    }
}

/* Finds the audit key in the HSM, or makes it (under the lifecycle lock,
 * so that signers starting together make one): a P-256 pair, private half
 * sensitive and never extractable (sg_p11_generate), CKA_ID
 * SG_AUDIT_KEY_ID, CKA_LABEL SG_AUDIT_KEY_LABEL. Its public JWK is written
 * next to the log and the log's checkpoints are signed with it. Without it
 * (an HSM that cannot make one) the signer still runs, unanchored, and says
 * so (STATUS audit.key ""). */
static signet_err setup_audit_key(struct sg_signer *s)
{
    char *jwk = NULL;
    char kid[SG_THUMBPRINT_LEN + 1];
    signet_err err = sg_p11_public_jwk(s->p11, SG_ALG_ES256, audit_key_id, &jwk, kid);
    if (err == SIGNET_ERR_NOT_FOUND) {
        err = with_lock(s);
        if (err != SIGNET_OK)
            return err;
        err = sg_p11_public_jwk(s->p11, SG_ALG_ES256, audit_key_id, &jwk, kid);
        if (err == SIGNET_ERR_NOT_FOUND) {
            err = sg_p11_generate(s->p11, SG_ALG_ES256, audit_key_id, SG_AUDIT_KEY_LABEL, &jwk,
                                  kid);
            if (err == SIGNET_OK)
                sg_log(SG_LOG_INFO, "audit_key_generated", "key=%s", kid);
        }
        unlock(s);
    }
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "audit_key_unavailable", "error=%s", signet_err_name(err));
        return SIGNET_OK;
    }
    write_audit_key_file(s, jwk);
    free(jwk);
    memcpy(s->audit_key, kid, sizeof s->audit_key);
    sg_audit_set_anchor(s->audit, audit_sign, s, kid, 1000);
    return SIGNET_OK;
}

/* ---- TOTP (issue 14) ---------------------------------------------------------- */

static signet_err totp_lock(void *user)
{
    return with_lock(user);
}

static void totp_unlock(void *user)
{
    unlock(user);
}

/* The seal key, found or made at start (under the lifecycle lock, like the
 * audit key), so `signet init` makes it and it is in the token before the
 * first enrolment. Without it (a token that cannot make AES keys) the
 * signer runs, and every TOTP request is answered with the error. */
static void setup_totp(struct sg_signer *s)
{
    s->totp = (struct sg_totp_signer){.p11 = s->p11, .store = s->store, .audit = s->audit,
                               .cfg = &s->cfg, .lock = totp_lock, .unlock = totp_unlock,
                               .lock_user = s};
    signet_err err = sg_totp_setup(&s->totp, 1);
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "totp_seal_key_unavailable", "error=%s", signet_err_name(err));
}

static json_t *totp_json(const struct sg_signer *s)
{
    const struct sg_totp_stats *t = &s->totp.stats;
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "seal_key", s->totp.key_ok,
                     "enrolled", (json_int_t)t->enrolled, "verified", (json_int_t)t->verified,
                     "removed", (json_int_t)t->removed, "wrong", (json_int_t)t->wrong,
                     "replayed", (json_int_t)t->replayed, "unsealed", (json_int_t)t->unsealed,
                     "errors", (json_int_t)t->errors);
}

signet_err sg_signer_audit_reset(struct sg_signer *s, const char *reason, char *moved,
                                 size_t moved_len)
{
    signet_err err = with_lock(s);
    if (err != SIGNET_OK)
        return err;
    err = sg_audit_reset(s->audit, sg_clock_now(), reason, moved, moved_len);
    unlock(s);
    return err;
}

/* Under the lifecycle lock: whether a peer other than the administrator
 * (the monitor, on on_critical = rotate) may have a key revoked now. Its
 * revokes are limited per issuer set, not per signer process or channel:
 * every signer has a monitor channel, and the launcher starts fresh signers
 * at will, so the time of the last such revoke lives in the lock file
 * every signer shares (its only content), and counts even for a revoke
 * that then fails. */
#define PEER_REVOKE_INTERVAL 60
static int peer_revoke_due(struct sg_signer *s, int64_t now)
{
    char buf[32];
    ssize_t n = pread(s->lock_fd, buf, sizeof buf - 1, 0);
    long long last = 0;
    if (n > 0) {
        buf[n] = '\0';
        char *end = NULL;
        last = strtoll(buf, &end, 10);
        if (end == buf)
            last = 0;
    }
    if (last > 0 && now >= last && now - last < PEER_REVOKE_INTERVAL)
        return 0;
    int len = snprintf(buf, sizeof buf, "%lld\n", (long long)now);
    if (len <= 0 || ftruncate(s->lock_fd, 0) != 0 ||
        pwrite(s->lock_fd, buf, (size_t)len, 0) != (ssize_t)len)
        return 0; /* fail closed: no record of it, no revoke */
    return 1;
}

static void audit_now(struct sg_signer *s, const char *type, json_t *f)
{
    if (f == NULL || sg_audit_append(s->audit, sg_clock_now(), type, f) != SIGNET_OK ||
        sg_audit_commit(s->audit) != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "audit_append_failed", "type=%s", type);
    json_decref(f);
}

/* Under the lifecycle lock: an emergency revoke, at most one per issuer
 * per pre-publication window (issue 11). A revoke of the ACTIVE key
 * promotes the standby at once; a second one inside the window would
 * promote a standby published moments earlier, which relying parties have
 * not fetched yet, so it is refused (SIGNET_ERR_REVOKE_TOO_SOON, audited
 * "revoke_refused") unless the operator forces it from the CLI
 * (REVOKE_FORCE, audited "revoke_forced"). The time of the last revoke of
 * each issuer lives in the key store, which every signer shares, and is
 * set only once a revoke succeeded. A kid that is unknown or already gone
 * is left to the lifecycle's own refusal. */
static signet_err revoke_limited(struct sg_signer *s, unsigned role, const char *kid, int force,
                                 int64_t now, json_t *doc)
{
    /* A peer other than the operator (the monitor): first its own limit
     * across issuers, which counts even a revoke that then fails. */
    if (role != SG_ROLE_ADMIN && !peer_revoke_due(s, now))
        return SIGNET_ERR_BUSY;
    struct sg_key k;
    memset(&k, 0, sizeof k);
    signet_err err = sg_store_key_by_kid(s->store, kid, &k);
    if (err == SIGNET_ERR_NOT_FOUND || (err == SIGNET_OK && (k.state == SG_KS_DESTROYED ||
                                                            k.state == SG_KS_GENERATING))) {
        sg_key_clear(&k);
        return sg_lifecycle_revoke(&s->lc, kid, now, doc);
    }
    if (err != SIGNET_OK)
        return err;
    char mark[SG_STORE_ISSUER_MAX + 16];
    (void)snprintf(mark, sizeof mark, "revoke:%s", k.issuer);
    int64_t last = 0;
    int set = 0;
    const int64_t window = sg_config_prepublish(&s->cfg);
    err = sg_keystore_mark_get(s->store, mark, &last, &set);
    const int recent = err == SIGNET_OK && set && now >= last && now - last < window;
    if (err == SIGNET_OK && recent && !force) {
        audit_now(s, "revoke_refused",
                  json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "kid", kid, "iss", k.issuer,
                            "source", sg_ipc_role_name(role), "reason",
                            "another key of the issuer was revoked within the pre-publication "
                            "window",
                            "last_revoke", (json_int_t)last, "window", (json_int_t)window));
        sg_log(SG_LOG_WARN, "revoke_refused", "kid=%s issuer=%s source=%s last=%lld window=%lld",
               kid, k.issuer, sg_ipc_role_name(role), (long long)last, (long long)window);
        err = SIGNET_ERR_REVOKE_TOO_SOON;
    }
    if (err == SIGNET_OK && force)
        audit_now(s, "revoke_forced",
                  json_pack("{s:s, s:s, s:s, s:b, s:I, s:I}", "kid", kid, "iss", k.issuer,
                            "source", sg_ipc_role_name(role), "within_window", recent,
                            "last_revoke", (json_int_t)last, "window", (json_int_t)window));
    if (err == SIGNET_OK)
        err = sg_lifecycle_revoke(&s->lc, kid, now, doc);
    if (err == SIGNET_OK && sg_keystore_mark_put(s->store, mark, now) != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "revoke_mark_failed", "issuer=%s", k.issuer);
    sg_key_clear(&k);
    return err;
}

/* ---- the client registry (CLIENT_BIND, the operator's) ---- */

static int bind_str(const json_t *o, const char *name, char *dst, size_t cap, int may_be_empty)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    const char *p = json_string_value(v);
    if ((n == 0 && !may_be_empty) || n >= cap || strlen(p) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f)
            return -1;
    memcpy(dst, p, n + 1);
    return 0;
}

static signet_err binding_of(struct sg_signer *s, const json_t *o, struct sg_client_binding *b,
                             int64_t now)
{
    memset(b, 0, sizeof *b);
    const json_t *lt = json_object_get(o, "lifetime");
    if (!json_is_object(o) || bind_str(o, "tenant", b->tenant, sizeof b->tenant, 0) != 0 ||
        bind_str(o, "client_id", b->client_id, sizeof b->client_id, 0) != 0 ||
        bind_str(o, "scopes", b->scopes, sizeof b->scopes, 1) != 0 ||
        bind_str(o, "audiences", b->audiences, sizeof b->audiences, 0) != 0 ||
        (lt != NULL && (!json_is_integer(lt) || json_integer_value(lt) < 0)))
        return SIGNET_ERR_MALFORMED;
    if (sg_config_tenant_by_name(&s->cfg, b->tenant) == NULL)
        return SIGNET_ERR_NOT_FOUND;
    b->lifetime = lt != NULL ? (int64_t)json_integer_value(lt) : 0;
    b->bound_at = now;
    return SIGNET_OK;
}

static signet_err bind_one(struct sg_signer *s, const struct sg_client_binding *b,
                           const char *how)
{
    signet_err err = sg_keystore_binding_put(s->store, b);
    if (err == SIGNET_OK)
        audit_now(s, "client_bound",
                  json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "tenant", b->tenant, "client_id",
                            b->client_id, "scopes", b->scopes, "audiences", b->audiences,
                            "lifetime", (json_int_t)b->lifetime, "how", how));
    return err;
}

/* {"op":"bind", tenant, client_id, scopes, audiences, lifetime}
 * {"op":"unbind", tenant, client_id}
 * {"op":"backfill", "clients":[binding...]}: once per state directory
 *   (the first `signet init` over a directory made before the registry),
 *   binds the clients not bound yet, then creates signer/registry.filled
 *   and never does it again. */
static signet_err handle_bind(struct sg_signer *s, const uint8_t *p, size_t n, json_t **out)
{
    json_t *doc = NULL;
    signet_err err = sg_json_parse(p, n, SG_IPC_MAX_BIND, &doc);
    if (err != SIGNET_OK || !json_is_object(doc)) {
        json_decref(doc);
        return SIGNET_ERR_MALFORMED;
    }
    const char *op = json_string_value(json_object_get(doc, "op"));
    const int64_t now = sg_clock_now();
    struct sg_client_binding b;
    json_t *res = json_object();
    if (res == NULL || op == NULL) {
        err = res == NULL ? SIGNET_ERR_NOMEM : SIGNET_ERR_MALFORMED;
    } else if (strcmp(op, "bind") == 0) {
        err = binding_of(s, doc, &b, now);
        if (err == SIGNET_OK)
            err = bind_one(s, &b, "client add");
    } else if (strcmp(op, "unbind") == 0) {
        char tenant[SG_STORE_TENANT_MAX], cid[SG_STORE_CLIENT_ID_MAX];
        err = bind_str(doc, "tenant", tenant, sizeof tenant, 0) != 0 ||
                      bind_str(doc, "client_id", cid, sizeof cid, 0) != 0
                  ? SIGNET_ERR_MALFORMED
                  : sg_keystore_binding_delete(s->store, tenant, cid);
        if (err == SIGNET_OK || err == SIGNET_ERR_NOT_FOUND)
            audit_now(s, "client_unbound",
                      json_pack("{s:s, s:s, s:b}", "tenant", tenant, "client_id", cid, "was_bound",
                                err == SIGNET_OK));
        if (err == SIGNET_ERR_NOT_FOUND)
            err = SIGNET_OK;
    } else if (strcmp(op, "backfill") == 0) {
        char mark[PATH_MAX + 32];
        (void)snprintf(mark, sizeof mark, "%s/" SG_SIGNER_DIR "/" SG_REGISTRY_FILLED,
                       s->cfg.state_dir);
        const int done = access(mark, F_OK) == 0;
        size_t bound = 0;
        const json_t *arr = json_object_get(doc, "clients");
        err = json_is_array(arr) ? SIGNET_OK : SIGNET_ERR_MALFORMED;
        for (size_t i = 0; err == SIGNET_OK && !done && i < json_array_size(arr); i++) {
            struct sg_client_binding have;
            err = binding_of(s, json_array_get(arr, i), &b, now);
            if (err == SIGNET_OK) {
                err = sg_keystore_binding_get(s->store, b.tenant, b.client_id, &have);
                if (err == SIGNET_ERR_NOT_FOUND) {
                    err = bind_one(s, &b, "init back-fill");
                    bound++;
                }
            } else if (err == SIGNET_ERR_NOT_FOUND) {
                err = SIGNET_OK; /* a client of a tenant no longer configured */
            }
        }
        if (err == SIGNET_OK && !done) {
            /* The mark is a file of signer/ (the signer's alone), so that
             * `signet init` can see it without starting a signer. */
            int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 || fsync(fd) != 0)
                err = SIGNET_ERR_IO;
            if (fd >= 0)
                (void)close(fd);
        }
        if (err == SIGNET_OK &&
            (json_object_set_new(res, "backfilled", json_boolean(!done)) != 0 ||
             json_object_set_new(res, "bound", json_integer((json_int_t)bound)) != 0))
            err = SIGNET_ERR_NOMEM;
    } else {
        err = SIGNET_ERR_MALFORMED;
    }
    json_decref(doc);
    if (err != SIGNET_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return SIGNET_OK;
}

signet_err sg_signer_advance(struct sg_signer *s)
{
    signet_err err = with_lock(s);
    if (err != SIGNET_OK)
        return err;
    err = sg_lifecycle_advance(&s->lc, sg_clock_now(), NULL);
    unlock(s);
    return err;
}

/* -- health ---------------------------------------------------------------- */

/* A signer idle this long makes a test signature when asked for STATUS; one
 * whose last outcome was a failure tries again this often. */
#define PROBE_IDLE_MS 5000
#define PROBE_FAILING_MS 1000

static int64_t mono_ms(void)
{
    return (int64_t)(sg_clock_mono_ns() / 1000000u);
}

/* Records the outcome of a batch (or of a test signature): SIGNET_OK when
 * it made signatures (s->batch_ok), else the failure of the service in it.
 * A batch with neither (no sign request, or only refusals of requests that
 * were not to be signed) changes nothing. */
static void note_outcome(struct sg_signer *s, signet_err err)
{
    struct health *h = &s->health;
    if (err == SIGNET_OK && s->batch_ok == 0)
        return;
    h->last_ms = mono_ms();
    h->failing = err != SIGNET_OK;
    if (err == SIGNET_OK) {
        h->ok_at = sg_clock_now();
        return;
    }
    h->last_err = err;
    h->err_at = sg_clock_now();
}

/* A test signature with every ACTIVE key, over a fixed message that is not
 * a JWS and never leaves the process, with the recovery a sign request
 * gets. After a failure it also commits an audit record ("signer_probe"),
 * so that a full disk is seen to be over, not only a token that is back. */
static signet_err probe_sign(struct sg_signer *s)
{
    static const uint8_t msg[] = "signet health probe (not a token)";
    s->active_version = -1;
    s->active_checked = 0;
    signet_err err = refresh_active(s);
    if (err == SIGNET_OK && s->n_active == 0)
        err = SIGNET_ERR_NO_ACTIVE_KEY;
    for (size_t i = 0; err == SIGNET_OK && i < s->n_active; i++) {
        enum sg_alg alg;
        uint8_t sig[SG_P11_SIG_MAX];
        size_t sig_len = 0;
        const struct active_key *k = &s->active[i];
        err = sg_alg_parse(k->alg, &alg);
        if (err != SIGNET_OK)
            break;
        err = sg_p11_sign(s->p11, alg, k->hsm_id, msg, sizeof msg - 1, sig, &sig_len);
        s->health.test_signatures++;
        if (err == SIGNET_ERR_NOT_FOUND || err == SIGNET_ERR_HSM || err == SIGNET_ERR_HSM_TOKEN) {
            err = sg_p11_reset_sessions(s->p11);
            if (err == SIGNET_OK)
                err = sg_p11_sign(s->p11, alg, k->hsm_id, msg, sizeof msg - 1, sig, &sig_len);
            if (err != SIGNET_OK) {
                sg_log(SG_LOG_ERROR, "token_lost", "kid=%s error=%s abandoned=0 action=exit",
                       k->kid, signet_err_name(err));
                s->token_lost = 1;
                err = SIGNET_ERR_HSM_TOKEN;
            }
        }
    }
    if (err == SIGNET_OK && s->health.failing) {
        json_t *f = json_pack("{s:s, s:s}", "signer", s->instance, "after",
                              signet_err_name(s->health.last_err));
        err = f != NULL ? sg_audit_append(s->audit, sg_clock_now(), "signer_probe", f)
                        : SIGNET_ERR_NOMEM;
        json_decref(f);
        if (err == SIGNET_OK)
            err = sg_audit_commit(s->audit);
        if (err != SIGNET_OK)
            err = SIGNET_ERR_AUDIT;
    }
    return err;
}

/* Before STATUS answers: a test signature if the signer has been idle or
 * failing for a while (readiness must not rest on an outcome long past). */
static void probe_if_due(struct sg_signer *s)
{
    struct health *h = &s->health;
    int64_t now = mono_ms();
    int64_t last = h->last_ms > h->probe_ms ? h->last_ms : h->probe_ms;
    if (last != 0 && now - last < (h->failing ? PROBE_FAILING_MS : PROBE_IDLE_MS))
        return;
    h->probe_ms = now;
    h->probed_at = sg_clock_now();
    signet_err err = probe_sign(s);
    if (err != SIGNET_OK)
        sg_log(SG_LOG_WARN, "signer_probe_failed", "error=%s", signet_err_name(err));
    else if (h->failing)
        sg_log(SG_LOG_INFO, "signer_probe_recovered", "after=%s", signet_err_name(h->last_err));
    const size_t batch_ok = s->batch_ok; /* STATUS may come in a batch with signatures */
    s->batch_ok = err == SIGNET_OK ? 1 : 0;
    note_outcome(s, err);
    s->batch_ok = batch_ok;
}

static json_t *health_json(const struct sg_signer *s)
{
    const struct health *h = &s->health;
    return json_pack("{s:b, s:s, s:I, s:I, s:I, s:I}", "ok", !h->failing && !s->token_lost,
                     "last_error", h->err_at != 0 ? signet_err_name(h->last_err) : "",
                     "last_error_at", (json_int_t)h->err_at, "last_ok_at", (json_int_t)h->ok_at,
                     "probed_at", (json_int_t)h->probed_at, "test_signatures",
                     (json_int_t)h->test_signatures);
}

static json_t *key_row_json(const struct sg_key *k)
{
    char hsm[2 * SG_STORE_HSM_ID_LEN + 1];
    sg_hex_encode(k->hsm_id, SG_STORE_HSM_ID_LEN, hsm);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "kid", k->kid,
                     "issuer", k->issuer, "alg", k->alg, "state", sg_key_state_name(k->state),
                     "hsm_id", hsm, "created_at", (json_int_t)k->created_at, "published_at",
                     (json_int_t)k->published_at, "activated_at", (json_int_t)k->activated_at,
                     "retired_at", (json_int_t)k->retired_at, "destroyed_at",
                     (json_int_t)k->destroyed_at, "rotate_at", (json_int_t)k->rotate_at,
                     "revoked", k->revoked);
}

static signet_err keys_json(struct sg_signer *s, const char *issuer, json_t **out)
{
    struct sg_key *keys = NULL;
    size_t n = 0;
    signet_err err = sg_store_key_list(s->store, issuer != NULL && issuer[0] != '\0' ? issuer : NULL,
                                       &keys, &n);
    if (err != SIGNET_OK)
        return err;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, key_row_json(&keys[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    sg_key_list_free(keys, n);
    if (arr == NULL)
        return SIGNET_ERR_NOMEM;
    *out = arr;
    return SIGNET_OK;
}

static signet_err status_json(struct sg_signer *s, json_t **out)
{
    probe_if_due(s);
    json_t *keys = NULL;
    signet_err err = keys_json(s, NULL, &keys);
    if (err != SIGNET_OK)
        return err;
    struct sg_p11_stats st;
    sg_p11_get_stats(s->p11, &st);
    int64_t now = sg_clock_now();
    json_t *doc = json_pack(
        "{s:s, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}, s:{s:I, s:I, s:I},"
        " s:{s:b, s:b, s:b, s:b, s:b, s:i}, s:I, s:{s:I, s:I, s:I, s:I}}",
        "version", SIGNET_VERSION, "now", (json_int_t)now, "keys", keys, "signer",
        "signatures", (json_int_t)s->signatures, "refusals", (json_int_t)s->refusals, "batches",
        (json_int_t)s->batches, "withheld", (json_int_t)s->withheld, "instance", s->instance,
        "started_at", (json_int_t)s->started_at, "audit_seq_at_start",
        (json_int_t)s->audit_seq_at_start, "sign_records_committed",
        (json_int_t)s->signatures, "hsm", "signatures", (json_int_t)st.signatures, "errors",
        (json_int_t)st.errors, "session_reopens", (json_int_t)st.session_reopens, "sandbox",
        "seccomp", s->hard_seccomp, "dumpable", s->hard_dumpable, "mlocked", s->hard_mlocked,
        "no_new_privs", s->hard_nnp, "available", SIGNET_SANDBOX && s->cfg.sandbox, "landlock",
        s->hard_landlock,
        "audit_seq", (json_int_t)sg_audit_last_seq(s->audit),
        "timing", "rotation_period", (json_int_t)s->cfg.rotation_period, "prepublish",
        (json_int_t)sg_config_prepublish(&s->cfg), "retire_window",
        (json_int_t)sg_config_retire_window(&s->cfg), "next_transition_in",
        (json_int_t)sg_lifecycle_next_due(&s->lc, now));
    if (doc != NULL && (json_object_set_new(doc, "health", health_json(s)) != 0 ||
                        json_object_set_new(doc, "totp", totp_json(s)) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL)
        return SIGNET_ERR_NOMEM;
    /* Whether records can be made durable now, and why not (I5, /readyz). */
    char why[256];
    signet_err health = sg_audit_health(s->audit, why, sizeof why);
    json_t *audit = json_pack("{s:b, s:s, s:s, s:I, s:s}", "ok", health == SIGNET_OK, "error",
                              health == SIGNET_OK ? "" : signet_err_name(health), "reason", why,
                              "checkpoints", (json_int_t)sg_audit_checkpoints(s->audit), "key",
                              s->audit_key);
    if (audit == NULL || json_object_set_new(doc, "audit", audit) != 0) {
        json_decref(doc);
        return SIGNET_ERR_NOMEM;
    }
    *out = doc;
    return SIGNET_OK;
}

/* Every private and secret key object in the token (I3): the signing
 * keys, the audit key, the TOTP seal key and anything made behind
 * signet's back. */
static signet_err inventory_json(struct sg_signer *s, json_t **out)
{
    struct sg_p11_keyinfo *objs = NULL, *secret = NULL;
    size_t n = 0, n_secret = 0;
    signet_err err = sg_p11_list_private(s->p11, &objs, &n);
    if (err == SIGNET_OK)
        err = sg_p11_list_secret(s->p11, &secret, &n_secret);
    if (err == SIGNET_OK && n_secret > 0) {
        struct sg_p11_keyinfo *all = n <= SIZE_MAX / sizeof *all - n_secret
                                         ? realloc(objs, (n + n_secret) * sizeof *all)
                                         : NULL;
        if (all == NULL) {
            err = SIGNET_ERR_NOMEM;
        } else {
            memcpy(all + n, secret, n_secret * sizeof *all);
            objs = all;
        }
    }
    free(secret);
    if (err != SIGNET_OK) {
        free(objs);
        return err;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n + n_secret; i++) {
        char id[2 * sizeof objs[i].id + 1];
        sg_hex_encode(objs[i].id, objs[i].id_len, id);
        json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:b, s:b, s:b}", "id", id, "label",
                              objs[i].label, "key_type", (json_int_t)objs[i].key_type,
                              "sensitive", objs[i].sensitive, "extractable", objs[i].extractable,
                              "always_sensitive", objs[i].always_sensitive, "never_extractable",
                              objs[i].never_extractable);
        if (o != NULL && json_object_set_new(o, "class", json_string(i < n ? "private_key"
                                                                          : "secret_key")) != 0) {
            json_decref(o);
            o = NULL;
        }
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(objs);
    if (arr == NULL)
        return SIGNET_ERR_NOMEM;
    *out = arr;
    return SIGNET_OK;
}

/* One request from a peer of role (already past the gate when it came on
 * a channel). */
static signet_err handle(struct sg_signer *s, unsigned role, uint8_t type, const uint8_t *payload,
                         size_t len, struct sg_wbuf *resp)
{
    if (type == SG_IPC_SIGN)
        return handle_sign(s, payload, len, resp);
    /* Everything else runs with no sign record pending, so a lifecycle
     * failure can never discard them. */
    signet_err err = sg_signer_flush(s);
    if (err != SIGNET_OK) {
        put_status(resp, err);
        return SIGNET_OK;
    }
    char *arg = NULL;
    json_t *doc = NULL;
    signet_err status = SIGNET_OK;
    int64_t now = sg_clock_now();
    switch (type) {
    case SG_IPC_JWKS:
    case SG_IPC_REVOKE:
    case SG_IPC_REVOKE_FORCE:
    case SG_IPC_KEYS:
    case SG_IPC_ROTATE:
        err = sg_ipc_decode_str(payload, len, &arg);
        if (err != SIGNET_OK)
            return err;
        break;
    case SG_IPC_ADVANCE:
    case SG_IPC_STATUS:
    case SG_IPC_INVENTORY:
        if (len != 0)
            return SIGNET_ERR_BAD_FRAME;
        break;
    case SG_IPC_AUDIT_NOTE:
        return handle_note(s, role, payload, len, resp);
    case SG_IPC_TOTP_ENROL:
    case SG_IPC_TOTP_VERIFY:
    case SG_IPC_TOTP_REMOVE: {
        char *answer = NULL;
        err = sg_totp_handle(&s->totp, type, role, payload, len, &status, &answer);
        if (err != SIGNET_OK)
            return err; /* malformed: drop the channel */
        put_status(resp, status);
        if (status == SIGNET_OK)
            sg_wbuf_put_bytes(resp, answer, strlen(answer));
        sg_totp_answer_free(&answer);
        return SIGNET_OK;
    }
    case SG_IPC_CLIENT_BIND:
        status = with_lock(s);
        if (status == SIGNET_OK) {
            status = handle_bind(s, payload, len, &doc);
            unlock(s);
        }
        if (status == SIGNET_ERR_MALFORMED)
            return SIGNET_ERR_BAD_FRAME; /* not a binding: drop the channel */
        put_json(resp, status, doc);
        json_decref(doc);
        return SIGNET_OK;
    default:
        return SIGNET_ERR_BAD_FRAME;
    }
    switch (type) {
    case SG_IPC_JWKS:
        status = sg_lifecycle_jwks(&s->lc, arg, &doc);
        break;
    case SG_IPC_KEYS:
        status = keys_json(s, arg, &doc);
        break;
    case SG_IPC_STATUS:
        status = status_json(s, &doc);
        break;
    case SG_IPC_INVENTORY:
        status = inventory_json(s, &doc);
        break;
    case SG_IPC_ADVANCE:
    case SG_IPC_REVOKE:
    case SG_IPC_REVOKE_FORCE:
    case SG_IPC_ROTATE:
        doc = json_object();
        status = doc != NULL ? with_lock(s) : SIGNET_ERR_NOMEM;
        if (status != SIGNET_OK)
            break;
        if (type == SG_IPC_ADVANCE)
            status = sg_lifecycle_advance(&s->lc, now, doc);
        else if (type == SG_IPC_REVOKE || type == SG_IPC_REVOKE_FORCE)
            status = revoke_limited(s, role, arg, type == SG_IPC_REVOKE_FORCE, now, doc);
        else
            status = sg_lifecycle_rotate(&s->lc, arg, now, doc);
        unlock(s);
        break;
    default:
        break;
    }
    put_json(resp, status, doc);
    json_decref(doc);
    free(arg);
    return SIGNET_OK;
}

signet_err sg_signer_handle(struct sg_signer *s, uint8_t type, const uint8_t *payload, size_t len,
                            struct sg_wbuf *resp)
{
    return handle(s, s->role, type, payload, len, resp);
}

/* Group commit, and the count of what it releases: a signature counts once
 * its record is durable; the ones whose records did not make it (a failed
 * commit, or records dropped since drops_before) are withheld. */
static signet_err commit_batch(struct sg_signer *s, uint64_t drops_before)
{
    s->batches++;
    signet_err err = sg_audit_commit(s->audit);
    /* A slow disk (fdatasync taking seconds): nothing is read meanwhile. */
    sg_fault_point("batch_committed");
    if (err == SIGNET_OK && sg_audit_drops(s->audit) != drops_before)
        err = SIGNET_ERR_AUDIT;
    if (err == SIGNET_OK)
        s->signatures += s->staged_signatures;
    else
        s->withheld += s->staged_signatures;
    s->staged_signatures = 0;
    return err;
}

signet_err sg_signer_flush(struct sg_signer *s)
{
    return commit_batch(s, sg_audit_drops(s->audit));
}

struct pending {
    uint8_t type;
    uint32_t id;
    struct sg_wbuf resp;
};

#define BATCH_MAX 64

/* Signs the queued jobs (in parallel) and stages their records in order. */
static void drain_jobs(struct sg_signer *s, struct sign_job *jobs, size_t *n)
{
    run_jobs(s, jobs, *n);
    recover_jobs(s, jobs, *n);
    for (size_t i = 0; i < *n; i++)
        finish_job(s, &jobs[i]);
    *n = 0;
}

/* What made sg_ipc_next refuse the bytes at p, for the audit record. */
static void describe_bad_frame(const uint8_t *p, size_t n, const char **why, int *type)
{
    if (n < 4 || p[0] != 'S' || p[1] != 'G' || p[2] != SG_IPC_VERSION) {
        *why = "bad frame magic or version";
        return;
    }
    *type = p[3];
    if (sg_ipc_msg_find(p[3]) == NULL) {
        *why = "unknown message type";
        return;
    }
    *why = "frame length over the protocol's cap";
}

/* The message table's verdict on a request frame from a peer of role: NULL
 * when it may be handled, else why the channel is dropped. The monitor's
 * messages are the monitor's to serve, whoever sends them here. */
static const char *gate(unsigned role, const struct sg_ipc_frame *f)
{
    const struct sg_ipc_msg *m = sg_ipc_msg_find(f->type);
    if (m == NULL)
        return "unknown message type";
    if (m->server != SG_IPC_SERVER_SIGNER)
        return "message not served by a signer";
    if (!sg_ipc_permitted(f->type, role, SG_IPC_SERVER_SIGNER))
        return "message not permitted for the peer's role";
    if (f->len > m->max_payload)
        return "payload over the message's cap";
    return NULL;
}

/* Token bucket per role and message type for every peer but the
 * administrator: a flood of permitted but rate-limited requests (revokes,
 * audit notes) is answered SIGNET_ERR_BUSY, not served. */
static int rate_ok(struct sg_signer *s, unsigned role, uint8_t type)
{
    const struct sg_ipc_msg *m = sg_ipc_msg_find(type);
    if (role == SG_ROLE_ADMIN || m == NULL || m->rate <= 0)
        return 1;
    const size_t n_roles = sizeof s->rates / sizeof s->rates[0];
    const size_t n_types = sizeof s->rates[0] / sizeof s->rates[0][0];
    if (role >= n_roles || type >= n_types)
        return 0; /* no bucket for it: fail closed */
    struct rate *r = &s->rates[role][type];
    int64_t now = (int64_t)(sg_clock_mono_ns() / 1000000u);
    if (r->at_ms == 0)
        r->tokens = m->burst;
    else
        r->tokens += (double)(now - r->at_ms) / 1000.0 * m->rate;
    if (r->tokens > m->burst)
        r->tokens = m->burst;
    r->at_ms = now;
    if (r->tokens < 1.0)
        return 0;
    r->tokens -= 1.0;
    return 1;
}

/* AUDIT_NOTE: a record of the monitor's (an alert, a report), chained here
 * like any other; its source is the role of the channel it came on,
 * stamped by the signer, not claimed. */
static signet_err handle_note(struct sg_signer *s, unsigned role, const uint8_t *p, size_t n,
                              struct sg_wbuf *resp)
{
    char *type = NULL;
    const uint8_t *fields = NULL;
    size_t flen = 0;
    signet_err err = sg_ipc_decode_note(p, n, &type, &fields, &flen);
    if (err != SIGNET_OK)
        return err;
    json_t *doc = NULL;
    signet_err status = sg_json_parse(fields, flen, SG_IPC_MAX_NOTE, &doc);
    if (status == SIGNET_OK && !json_is_object(doc))
        status = SIGNET_ERR_MALFORMED;
    if (status == SIGNET_OK &&
        (json_object_get(doc, "seq") != NULL || json_object_get(doc, "prev") != NULL ||
         json_object_get(doc, "time") != NULL || json_object_get(doc, "type") != NULL))
        status = SIGNET_ERR_MALFORMED; /* the chain's own members are the signer's */
    if (status == SIGNET_OK &&
        json_object_set_new(doc, "source", json_string(sg_ipc_role_name(role))) != 0)
        status = SIGNET_ERR_NOMEM;
    if (status == SIGNET_OK)
        status = sg_audit_append(s->audit, sg_clock_now(), type, doc);
    if (status == SIGNET_OK)
        status = sg_audit_commit(s->audit);
    if (status != SIGNET_OK && status != SIGNET_ERR_NOMEM) {
        /* A forged note leaves a trace of its own (type and reason only). */
        json_t *f = json_pack("{s:s, s:s, s:s}", "note_type", type, "reason",
                              signet_err_name(status), "role", sg_ipc_role_name(role));
        if (f == NULL || sg_audit_append(s->audit, sg_clock_now(), "note_refused", f) != SIGNET_OK ||
            sg_audit_commit(s->audit) != SIGNET_OK)
            sg_log(SG_LOG_ERROR, "audit_append_failed", "type=note_refused");
        json_decref(f);
    }
    json_decref(doc);
    free(type);
    put_status(resp, status);
    return SIGNET_OK;
}

/* A channel the signer serves: its peer's role, said by whoever started
 * the signer (never by the peer), and the bytes read from it not yet served. */
struct channel {
    int fd;
    unsigned role;
    struct sg_wbuf in;
};

/* One batch from one channel: every complete frame read so far is handled
 * with that channel's role, the audit records of the batch are committed
 * with one fdatasync (group commit), and only then do the responses leave.
 * If the commit fails, every signature of the batch is withheld and
 * replaced by SIGNET_ERR_AUDIT. */
static signet_err serve_batch(struct sg_signer *s, struct channel *c, size_t *used)
{
    struct sg_wbuf *in = &c->in;
    struct pending *batch = s->batch;
    struct sign_job *jobs = s->jobs;
    size_t nb = 0, nj = 0;
    const uint64_t drops = sg_audit_drops(s->audit);
    signet_err err = SIGNET_OK;
    size_t off = 0;
    const char *refused = NULL;
    int refused_type = -1;
    s->active_checked = 0;
    s->batch_ok = 0;
    s->batch_err = SIGNET_OK;
    while (nb < BATCH_MAX) {
        struct sg_ipc_frame f;
        size_t consumed = 0;
        err = sg_ipc_next(in->data + off, in->len - off, &f, &consumed);
        if (err != SIGNET_OK) {
            describe_bad_frame(in->data + off, in->len - off, &refused, &refused_type);
            break;
        }
        if (consumed == 0)
            break;
        if ((f.type & SG_IPC_RESPONSE) != 0) {
            err = SIGNET_ERR_BAD_FRAME;
            refused = "response frame from the peer";
            break;
        }
        refused = gate(c->role, &f);
        if (refused != NULL) {
            err = SIGNET_ERR_BAD_FRAME;
            refused_type = f.type;
            break;
        }
        off += consumed;
        struct pending *p = &batch[nb++];
        p->type = f.type;
        p->id = f.id;
        sg_wbuf_init(&p->resp, SG_IPC_MAX_PAYLOAD);
        if (!rate_ok(s, c->role, f.type)) {
            put_status(&p->resp, SIGNET_ERR_BUSY);
            continue;
        }
        if (f.type == SG_IPC_SIGN) {
            err = prepare_sign(s, f.payload, f.len, &p->resp, &jobs[nj]);
            if (err != SIGNET_OK) {
                sg_wbuf_free(&p->resp); /* no answer to a malformed frame */
                nb--;
                break;
            }
            if (jobs[nj].status == SIGNET_OK)
                nj++;
            continue;
        }
        /* Other requests see every earlier signature finished first, and
         * the signatures after them see the keys as they left them. */
        drain_jobs(s, jobs, &nj);
        err = handle(s, c->role, f.type, f.payload, f.len, &p->resp);
        s->active_checked = 0;
        if (err != SIGNET_OK) {
            sg_wbuf_free(&p->resp);
            nb--;
            break;
        }
        if (p->resp.err != SIGNET_OK) {
            sg_wbuf_reset(&p->resp);
            put_status(&p->resp, SIGNET_ERR_TOO_LARGE);
        }
    }
    drain_jobs(s, jobs, &nj);
    *used = off;
    if (nb == 0 && err == SIGNET_OK)
        return SIGNET_OK;
    /* Records dropped anywhere during the batch (a failed transition, a
     * failed early flush) may have been signatures: withhold them all. */
    signet_err commit = commit_batch(s, drops);
    if (commit != SIGNET_OK && s->batch_ok > 0) {
        s->batch_ok = 0;
        s->batch_err = SIGNET_ERR_AUDIT;
    }
    note_outcome(s, s->batch_ok > 0 ? SIGNET_OK : s->batch_err);
    struct sg_wbuf out;
    sg_wbuf_init(&out, SIZE_MAX / 2);
    int seeds = 0; /* a TOTP enrolment's answer holds a seed: wiped once sent */
    for (size_t i = 0; i < nb; i++) {
        struct pending *p = &batch[i];
        seeds |= p->type == SG_IPC_TOTP_ENROL;
        if (p->type == SG_IPC_SIGN && p->resp.len == 0) {
            /* Abandoned (recover_jobs): no answer; the channel ends with
             * this process, and the front end asks another signer. */
            sg_wbuf_free(&p->resp);
            continue;
        }
        if (commit != SIGNET_OK && p->type == SG_IPC_SIGN) {
            sg_wbuf_reset(&p->resp);
            put_status(&p->resp, SIGNET_ERR_AUDIT);
        }
        sg_ipc_put_frame(&out, (uint8_t)(p->type | SG_IPC_RESPONSE), p->id, p->resp.data,
                         p->resp.len);
        if (p->type == SG_IPC_TOTP_ENROL && p->resp.data != NULL)
            sg_wipe(p->resp.data, p->resp.len);
        sg_wbuf_free(&p->resp);
    }
    if (commit != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "audit_commit_failed", "withheld=%zu error=%s", nb,
               signet_err_name(commit));
    signet_err werr = out.err != SIGNET_OK ? out.err : sg_ipc_write_all(c->fd, out.data, out.len);
    if (seeds && out.data != NULL)
        sg_wipe(out.data, out.len);
    sg_wbuf_free(&out);
    if (err == SIGNET_ERR_BAD_FRAME) {
        json_t *f = json_pack("{s:s, s:s, s:i}", "reason", refused != NULL ? refused : "malformed frame",
                              "role", sg_ipc_role_name(c->role), "msg_type", refused_type);
        if (f == NULL || sg_audit_append(s->audit, sg_clock_now(), "frame_refused", f) != SIGNET_OK ||
            sg_audit_commit(s->audit) != SIGNET_OK)
            sg_log(SG_LOG_ERROR, "audit_append_failed", "type=frame_refused");
        json_decref(f);
        sg_log(SG_LOG_WARN, "frame_refused", "role=%s reason=\"%s\" action=drop_connection",
               sg_ipc_role_name(c->role), refused != NULL ? refused : "malformed frame");
        return err;
    }
    if (err == SIGNET_OK)
        err = werr;
    if (err == SIGNET_OK && s->token_lost)
        err = SIGNET_ERR_HSM_TOKEN; /* answered what it could: now exit */
    return err;
}

/* Reads what the channel has (one read, then whatever else is already
 * waiting, to batch it) and serves every complete frame in it. *open is
 * cleared when the peer closed the channel; any error ends the channel
 * (SIGNET_ERR_BAD_FRAME: the peer sent something malformed or refused). */
static signet_err serve_channel(struct sg_signer *s, struct channel *c, int *open)
{
    uint8_t tmp[65536];
    ssize_t n;
    do
        n = read(c->fd, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return SIGNET_ERR_IO;
    if (n == 0) {
        *open = 0; /* peer closed */
        return SIGNET_OK;
    }
    sg_wbuf_put_bytes(&c->in, tmp, (size_t)n);
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    while (c->in.err == SIGNET_OK && c->in.len < c->in.max - sizeof tmp &&
           poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0) {
        n = read(c->fd, tmp, sizeof tmp);
        if (n <= 0)
            break;
        sg_wbuf_put_bytes(&c->in, tmp, (size_t)n);
    }
    if (c->in.err != SIGNET_OK)
        return SIGNET_ERR_BAD_FRAME;
    for (;;) {
        size_t used = 0;
        signet_err err = serve_batch(s, c, &used);
        if (err != SIGNET_OK || used == 0)
            return err;
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
    }
}

/* The monitor's channel ended: it is closed (the monitor sees the end of
 * it) and whatever it had sent and was not served yet is dropped. */
static void close_monitor(struct channel *c, signet_err why)
{
    sg_log(why == SIGNET_OK ? SG_LOG_INFO : SG_LOG_WARN, "monitor_channel_closed", "reason=%s",
           why == SIGNET_OK ? "peer_closed" : signet_err_name(why));
    close(c->fd);
    c->fd = -1;
    sg_wbuf_reset(&c->in);
}

signet_err sg_signer_serve2(struct sg_signer *s, int fd, unsigned role, int mon_fd)
{
    if (s->batch == NULL)
        s->batch = calloc(BATCH_MAX, sizeof *s->batch);
    if (s->jobs == NULL)
        s->jobs = calloc(BATCH_MAX, sizeof *s->jobs);
    if (s->batch == NULL || s->jobs == NULL) {
        if (mon_fd >= 0)
            close(mon_fd);
        return SIGNET_ERR_NOMEM;
    }
    struct channel ch[2] = {{.fd = fd, .role = role}, {.fd = mon_fd, .role = SG_ROLE_MONITOR}};
    for (size_t i = 0; i < 2; i++)
        sg_wbuf_init(&ch[i].in, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    signet_err err = SIGNET_OK;
    int open = 1;
    while (open && err == SIGNET_OK) {
        /* A negative descriptor (no monitor, or its channel ended) is
         * ignored by poll. */
        struct pollfd pfd[2] = {{.fd = ch[0].fd, .events = POLLIN},
                                {.fd = ch[1].fd, .events = POLLIN}};
        /* Records left unanchored are checkpointed within a second even
         * when no request follows them. */
        int64_t wait = sg_audit_checkpoint_wait_ms(s->audit);
        int ready = poll(pfd, 2, wait < 0 ? -1 : wait > 1000 ? 1000 : (int)wait);
        signet_err cp = sg_audit_checkpoint_wait_ms(s->audit) == 0
                            ? sg_audit_checkpoint_try(s->audit)
                            : SIGNET_OK;
        if (cp != SIGNET_OK && cp != SIGNET_ERR_BUSY)
            sg_log(SG_LOG_ERROR, "audit_checkpoint_failed", "at=timer error=%s",
                   signet_err_name(cp));
        if (ready <= 0) {
            if (ready < 0 && errno != EINTR)
                err = SIGNET_ERR_IO;
            continue;
        }
        /* One channel at a time, each batch with its own peer's role. */
        if (pfd[0].revents != 0)
            err = serve_channel(s, &ch[0], &open);
        if (err == SIGNET_OK && open && ch[1].fd >= 0 && pfd[1].revents != 0) {
            int mon_open = 1;
            signet_err merr = serve_channel(s, &ch[1], &mon_open);
            if (merr == SIGNET_ERR_HSM_TOKEN)
                err = merr; /* a test signature found the token lost: exit */
            else if (merr != SIGNET_OK || !mon_open)
                close_monitor(&ch[1], merr);
        }
    }
    if (ch[1].fd >= 0)
        close(ch[1].fd);
    for (size_t i = 0; i < 2; i++)
        sg_wbuf_free(&ch[i].in);
    return err;
}

signet_err sg_signer_serve(struct sg_signer *s, int fd)
{
    return sg_signer_serve2(s, fd, s->role, -1);
}
