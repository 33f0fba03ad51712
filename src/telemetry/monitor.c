#include "telemetry/monitor.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/accounts.h"
#include "store/store.h"
#include "telemetry/auditscan.h"
#include "telemetry/reports.h"
#include "telemetry/statuspage.h"
#include "telemetry/tmutil.h"
#include "util/clock.h"
#include "util/hex.h"
#include "util/log.h"

#define MAX_DEFERRED 1024 /* I6: sign records whose kid the key list lacks */
#define MAX_LEAKED 64     /* I7: kids seen on forged tokens */
/* I9: the newest reports of passkey counters that went backwards; a full
 * list drops the oldest (the newest decides how long I9 stays violated). */
#define MAX_PASSKEY_REPORTS 64
#define MAX_APPROVAL_REPORTS 64 /* I10, likewise */
/* on_critical = rotate from reports: at most one automatic revoke per
 * issuer in this many seconds; another one inside it waits for an
 * operator's confirmation (`signet revoke --force KID`). */
#define AUTO_REVOKE_INTERVAL 3600

struct deferred {
    uint64_t gen; /* key list generation when the record was read */
    uint64_t seq;
    int64_t time, exp;
    char kid[64];
    char iss[512];
};

struct sg_monitor {
    struct sg_config cfg;
    struct sg_telemetry_cfg tcfg;
    struct sg_monitor_source src;
    struct sg_metrics *reg;
    struct sg_alerts *alerts;

    pthread_mutex_t mu; /* everything below */
    pthread_mutex_t run_mu; /* one cycle at a time */
    pthread_cond_t cv;
    pthread_t thread;
    bool started, stop;
    unsigned poked;                  /* bit per invariant */
    double next_run[SG_INV_COUNT];   /* monotonic seconds */

    struct sg_inv_status inv[SG_INV_COUNT];
    bool inv_msg_unknown[SG_INV_COUNT]; /* inv[i].message says why it was unknown */
    struct sg_tm_key *keys;
    size_t n_keys;
    bool have_keys;
    struct sg_tm_audit *audit;
    signet_err audit_err;
    struct sg_inv_sigcount sigcount;
    double last_full; /* monotonic time of the last whole-log verification */
    double last_poll; /* monotonic time the log was last read */

    struct deferred deferred[MAX_DEFERRED];
    size_t n_deferred;
    uint64_t keys_gen; /* bumped with each key list fetched by a cycle */
    uint64_t deferred_dropped;
    int64_t i6_until; /* an offending token is valid until then */
    uint64_t i6_max_seq; /* highest sign record judged so far */
    int64_t poll_now;    /* "now" of the audit read in progress */
    char i6_msg[512];
    uint64_t i6_found;  /* offending records since the last I6 evaluation */

    char leaked[MAX_LEAKED][64];
    size_t n_leaked;
    int64_t auto_revoked_at[SG_MAX_TENANTS]; /* last automatic revoke per tenant, 0 = none */
    int64_t i7_last; /* last cross-tenant or foreign-kid detection */
    bool i7_any;
    char i7_msg[512];

    /* I9: the front end's MON_PASSKEY reports, in memory only (a restart
     * forgets them; their alerts are in the audit log). Only adding is
     * possible: nothing the front end sends removes one. */
    struct sg_inv_passkey passkeys[MAX_PASSKEY_REPORTS];
    size_t n_passkeys;
    /* I10: the front end's approval alerts (MON_PEOPLE), likewise. */
    struct sg_inv_approval approvals[MAX_APPROVAL_REPORTS];
    size_t n_approvals;

    /* The latest sandbox reports (I8, /status): the signers' from their
     * STATUS, the front end's from src.frontend. */
    struct sg_tm_signer signers[SG_TM_MAX_SIGNERS];
    size_t n_signers;
    struct sg_tm_frontend fe;

    double rate_prev_total[SG_MAX_TENANTS];
    /* own_process: tokens signed per tenant, from the audit log. */
    double signed_total[SG_MAX_TENANTS];
    int64_t rate_prev_time;
    double rate_per_min[SG_MAX_TENANTS];

    struct sg_tm_std_metrics std;
    struct sg_metric *m_keys, *m_key_age, *m_next, *m_hsm_err, *m_hsm_reopen, *m_signer_sig,
        *m_inv_ok, *m_inv_viol, *m_inv_check, *m_reports, *m_report_tokens, *m_forged,
        *m_audit_records, *m_index, *m_boundary, *m_fe_sandbox;
};

static int64_t monitor_now(const struct sg_monitor *m)
{
    return m->src.now != NULL ? m->src.now(m->src.user) : sg_clock_now();
}

signet_err sg_tm_front_metrics_register(struct sg_metrics *reg, struct sg_tm_std_metrics *out)
{
    memset(out, 0, sizeof *out);
    out->tokens_issued = sg_metrics_counter(reg, "signet_tokens_issued_total",
                                            "Token requests by tenant and result.",
                                            SG_LABELS("tenant", "result"));
    out->sign_latency = sg_metrics_histogram(reg, "signet_sign_duration_seconds",
                                             "Time for one signature by the signer (round trip).",
                                             SG_NO_LABELS, sg_metrics_latency_buckets,
                                             sg_metrics_latency_buckets_n);
    out->http_requests = sg_metrics_counter(reg, "signet_http_requests_total",
                                            "HTTP requests by endpoint and status code.",
                                            SG_LABELS("endpoint", "status"));
    return out->tokens_issued != NULL && out->sign_latency != NULL && out->http_requests != NULL
               ? SIGNET_OK
               : SIGNET_ERR_INVALID_ARG;
}

static struct sg_metric *audit_write_histogram(struct sg_metrics *reg)
{
    return sg_metrics_histogram(reg, "signet_audit_write_duration_seconds",
                                "Time to append and commit one audit record from the monitor.",
                                SG_NO_LABELS, sg_metrics_latency_buckets,
                                sg_metrics_latency_buckets_n);
}

signet_err sg_tm_std_metrics_register(struct sg_metrics *reg, struct sg_tm_std_metrics *out)
{
    signet_err err = sg_tm_front_metrics_register(reg, out);
    out->audit_write_latency = audit_write_histogram(reg);
    return err == SIGNET_OK && out->audit_write_latency != NULL ? SIGNET_OK
                                                                : SIGNET_ERR_INVALID_ARG;
}

static void register_metrics(struct sg_monitor *m)
{
    struct sg_metrics *r = m->reg;
    if (r == NULL)
        return;
    if (m->src.own_process) {
        m->std.audit_write_latency = audit_write_histogram(r);
    } else if (sg_tm_std_metrics_register(r, &m->std) != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "metrics_register_failed", "families=std");
    }
    m->m_keys = sg_metrics_gauge(r, "signet_keys", "Keys by issuer and lifecycle state.",
                                 SG_LABELS("issuer", "state"));
    m->m_key_age = sg_metrics_gauge(r, "signet_key_age_seconds",
                                    "Age of each live key since its creation.",
                                    SG_LABELS("issuer", "kid", "state"));
    m->m_next = sg_metrics_gauge(r, "signet_next_transition_seconds",
                                 "Seconds until the next scheduled key transition.",
                                 SG_NO_LABELS);
    m->m_hsm_err = sg_metrics_counter(r, "signet_hsm_errors_total",
                                      "PKCS#11 errors reported by the signers since they started.",
                                      SG_NO_LABELS);
    m->m_hsm_reopen = sg_metrics_counter(r, "signet_hsm_session_reopens_total",
                                         "PKCS#11 sessions reopened by the signers since they "
                                         "started.",
                                         SG_NO_LABELS);
    m->m_signer_sig = sg_metrics_counter(r, "signet_signer_signatures_total",
                                         "Signatures made by the signers since they started.",
                                         SG_NO_LABELS);
    m->m_inv_ok = sg_metrics_gauge(r, "signet_invariant_ok",
                                   "1 when the invariant holds, 0 when violated, -1 unknown.",
                                   SG_LABELS("invariant", "name", "severity"));
    m->m_inv_viol = sg_metrics_counter(r, "signet_invariant_violations_total",
                                       "Checks or reports that found the invariant violated.",
                                       SG_LABELS("invariant"));
    m->m_inv_check = sg_metrics_gauge(r, "signet_invariant_last_check_timestamp_seconds",
                                      "When the invariant was last checked.",
                                      SG_LABELS("invariant"));
    m->m_reports = sg_metrics_counter(r, "signet_reports_received_total",
                                      "Token report batches received from relying parties.",
                                      SG_LABELS("tenant"));
    m->m_report_tokens = sg_metrics_counter(r, "signet_reported_tokens_total",
                                            "Reported tokens by verdict.",
                                            SG_LABELS("tenant", "result"));
    m->m_forged = sg_metrics_counter(r, "signet_forged_tokens_total",
                                     "Validly signed tokens signet never issued.",
                                     SG_LABELS("tenant"));
    m->m_audit_records = sg_metrics_gauge(r, "signet_audit_verified_records",
                                          "Audit records whose chain the monitor verified.",
                                          SG_NO_LABELS);
    m->m_index = sg_metrics_gauge(r, "signet_audit_indexed_signatures",
                                  "Sign records held in the token index (I7).", SG_NO_LABELS);
    if (m->src.frontend != NULL) {
        m->m_boundary = sg_metrics_gauge(r, "signet_trust_boundary_enforced",
                                         "1 when the front end and the signers run under two "
                                         "different accounts, neither root.",
                                         SG_NO_LABELS);
        m->m_fe_sandbox = sg_metrics_gauge(r, "signet_frontend_sandbox",
                                           "1 when the front end's sandbox has the feature "
                                           "(seccomp, no_new_privs, caps_dropped).",
                                           SG_LABELS("feature"));
    }
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        const struct sg_invariant *v = &sg_invariants[i];
        sg_metric_set(m->m_inv_ok, SG_LABELS(v->id, v->name, sg_inv_severity_name(v->severity)),
                      -1);
        sg_metric_add(m->m_inv_viol, SG_LABELS(v->id), 0);
    }
}

static signet_err monitor_audit_note(void *user, const char *type, const json_t *fields)
{
    struct sg_monitor *m = user;
    if (m->src.audit_note == NULL)
        return SIGNET_OK;
    double t0 = sg_tm_mono();
    signet_err err = m->src.audit_note(m->src.user, type, fields);
    sg_metric_observe(m->std.audit_write_latency, SG_NO_LABELS, sg_tm_mono() - t0);
    return err;
}

signet_err sg_monitor_new(const struct sg_config *cfg, const struct sg_telemetry_cfg *tcfg,
                          const struct sg_monitor_source *src, struct sg_metrics *reg,
                          struct sg_monitor **out)
{
    if (cfg == NULL || tcfg == NULL || src == NULL || src->status == NULL)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_monitor *m = calloc(1, sizeof *m);
    if (m == NULL)
        return SIGNET_ERR_NOMEM;
    m->cfg = *cfg;
    m->tcfg = *tcfg;
    if (m->tcfg.audit_full_verify <= 0)
        m->tcfg.audit_full_verify = 3600;
    m->src = *src;
    m->reg = reg;
    m->audit_err = SIGNET_ERR_NOT_FOUND;
    (void)pthread_mutex_init(&m->mu, NULL);
    (void)pthread_mutex_init(&m->run_mu, NULL);
    (void)pthread_cond_init(&m->cv, NULL);
    register_metrics(m);
    int64_t retention = cfg->max_token_lifetime + cfg->clock_skew + tcfg->report_lag;
    size_t index_max = tcfg->index_max > 0 ? tcfg->index_max : SG_TM_INDEX_MAX_DEFAULT;
    signet_err err =
        sg_tm_audit_new(cfg->audit_log, retention, tcfg->report_lag, index_max, &m->audit);
    if (err == SIGNET_OK)
        err = sg_alerts_new(tcfg, reg, monitor_audit_note, m, &m->alerts);
    if (err != SIGNET_OK) {
        sg_monitor_free(&m);
        return err;
    }
    m->rate_prev_time = -1;
    m->last_full = sg_tm_mono(); /* the first poll reads everything anyway */
    for (unsigned i = 0; i < SG_MAX_TENANTS; i++)
        m->rate_per_min[i] = -1;
    *out = m;
    return SIGNET_OK;
}

struct sg_alerts *sg_monitor_alerts(struct sg_monitor *m)
{
    return m->alerts;
}

/* ---- inputs ------------------------------------------------------------------ */

struct inputs {
    struct sg_tm_signer signers[SG_TM_MAX_SIGNERS];
    size_t n_signers;
    struct sg_tm_key *keys, *keys_before;
    size_t n_keys, n_keys_before;
    bool have_keys;
    struct sg_tm_object *objects;
    size_t n_objects;
    bool have_inventory;
    char *jwks[SG_MAX_TENANTS];
    bool have_jwks;
    struct sg_tm_frontend fe;
};

static void inputs_free(struct inputs *in)
{
    free(in->keys);
    free(in->keys_before);
    free(in->objects);
    for (size_t i = 0; i < SG_MAX_TENANTS; i++)
        free(in->jwks[i]);
}

static signet_err fetch_status(struct sg_monitor *m, unsigned i, struct sg_tm_signer *sig,
                               struct sg_tm_key **keys, size_t *n)
{
    char *json = NULL;
    signet_err err = m->src.status(m->src.user, i, &json);
    if (err == SIGNET_OK)
        err = json != NULL ? sg_tm_parse_status(json, strlen(json), sig, keys, n)
                           : SIGNET_ERR_MALFORMED;
    free(json);
    return err;
}

/* The served JWKS, then the signers' STATUS (keys from the first), then the
 * rest that due needs. The JWKS comes first: every kid it holds then has a
 * row in the key list (rows are never deleted), and a key that left it
 * since changed too recently to count. */
static void gather(struct sg_monitor *m, unsigned due, struct inputs *in)
{
    if (m->src.frontend != NULL && m->src.frontend(m->src.user, &in->fe) != SIGNET_OK)
        memset(&in->fe, 0, sizeof in->fe); /* not entered: I8 unknown */
    if ((due & (1u << SG_INV_JWKS)) != 0 && m->src.served_jwks != NULL) {
        /* SIGNET_ERR_NETWORK: the front end could not be asked (not
         * serving yet, or down): I4 cannot tell, which is not a JWKS that
         * is missing. */
        in->have_jwks = true;
        for (size_t t = 0; t < m->cfg.n_tenants; t++) {
            signet_err err = m->src.served_jwks(m->src.user, m->cfg.tenants[t].issuer,
                                                &in->jwks[t]);
            if (err != SIGNET_OK) {
                free(in->jwks[t]);
                in->jwks[t] = NULL;
            }
            if (err == SIGNET_ERR_NETWORK)
                in->have_jwks = false;
        }
    }
    for (unsigned i = 0; i < SG_TM_MAX_SIGNERS; i++) {
        struct sg_tm_key **kp = i == 0 ? &in->keys : NULL;
        signet_err err = fetch_status(m, i, &in->signers[in->n_signers], kp, &in->n_keys);
        if (err == SIGNET_ERR_NOT_FOUND)
            break;
        if (err != SIGNET_OK) {
            sg_log(SG_LOG_WARN, "monitor_status_failed", "signer=%u error=%s", i,
                   signet_err_name(err));
            continue;
        }
        if (i == 0)
            in->have_keys = true;
        in->n_signers++;
    }
    if ((due & (1u << SG_INV_TOKEN_OBJECTS)) != 0 && m->src.inventory != NULL && in->have_keys) {
        char *json = NULL;
        struct sg_tm_signer tmp;
        signet_err err = m->src.inventory(m->src.user, &json);
        if (err == SIGNET_OK && json != NULL)
            err = sg_tm_parse_inventory(json, strlen(json), &in->objects, &in->n_objects);
        free(json);
        /* The key list after the inventory knows every object's row (rows
         * are written before the HSM generates); the one before says which
         * rows were already DESTROYED. */
        if (err == SIGNET_OK) {
            in->keys_before = in->keys;
            in->n_keys_before = in->n_keys;
            in->keys = NULL;
            in->n_keys = 0;
            err = fetch_status(m, 0, &tmp, &in->keys, &in->n_keys);
            if (err != SIGNET_OK) {
                in->keys = in->keys_before;
                in->n_keys = in->n_keys_before;
                in->keys_before = NULL;
                in->n_keys_before = 0;
            }
        }
        in->have_inventory = err == SIGNET_OK;
        if (err != SIGNET_OK)
            sg_log(SG_LOG_WARN, "monitor_inventory_failed", "error=%s", signet_err_name(err));
    }
}

/* ---- the audit log (under m->mu) ------------------------------------------------ */

static void i6_offence(struct sg_monitor *m, const char *msg, int64_t exp)
{
    m->i6_found++;
    if (exp > m->i6_until)
        m->i6_until = exp;
    (void)sg_tm_copy(m->i6_msg, sizeof m->i6_msg, msg);
}

/* A token signed for a tenant (own_process: the status page's figures). */
static void count_signed(struct sg_monitor *m, const char *iss)
{
    for (size_t t = 0; t < m->cfg.n_tenants; t++)
        if (iss != NULL && strcmp(m->cfg.tenants[t].issuer, iss) == 0) {
            m->signed_total[t] += 1;
            return;
        }
}

/* Tokens issued so far for tenant t: the front end's counter when it runs
 * beside us, else the sign records of the audit log. */
static double tokens_total(struct sg_monitor *m, size_t t)
{
    if (m->src.own_process)
        return m->signed_total[t];
    return sg_metric_get(m->std.tokens_issued, SG_LABELS(m->cfg.tenants[t].name, "ok"));
}

static void on_record(void *user, uint64_t seq, int64_t time, const char *type,
                      const json_t *body, const struct sg_tm_sign *s)
{
    struct sg_monitor *m = user;
    (void)seq;
    (void)time;
    (void)body;
    if (strncmp(type, "key_", 4) == 0) {
        m->poked |= 1u << SG_INV_ONE_ACTIVE | 1u << SG_INV_KEY_AGE | 1u << SG_INV_JWKS;
        if (strcmp(type, "key_generated") == 0 || strncmp(type, "key_destroyed", 13) == 0 ||
            strcmp(type, "key_revoked_destroyed") == 0)
            m->poked |= 1u << SG_INV_TOKEN_OBJECTS;
        return;
    }
    if (s == NULL)
        return;
    /* A full re-read meets old records again: one already judged only
     * matters while its token is unexpired. */
    bool seen = s->seq <= m->i6_max_seq;
    if (!seen)
        m->i6_max_seq = s->seq;
    if (!seen)
        count_signed(m, s->iss);
    if (seen && s->exp < m->poll_now)
        return;
    /* A record may be newer than the key list at hand (a key activated
     * since the last STATUS): a finding waits for a key list fetched after
     * the record was read before it counts. */
    char msg[512];
    int r = sg_inv_check_sign(&m->cfg, m->keys, m->n_keys, s, msg, sizeof msg);
    if (r == 0)
        return;
    if (m->n_deferred == MAX_DEFERRED) {
        m->deferred_dropped++;
        return;
    }
    struct deferred *d = &m->deferred[m->n_deferred++];
    d->gen = m->keys_gen;
    d->seq = s->seq;
    d->time = s->time;
    d->exp = s->exp;
    (void)sg_tm_copy(d->kid, sizeof d->kid, s->kid);
    (void)sg_tm_copy(d->iss, sizeof d->iss, s->iss);
}

static void poll_audit(struct sg_monitor *m, int64_t now)
{
    m->last_poll = sg_tm_mono();
    m->poll_now = now;
    m->audit_err = sg_tm_audit_poll(m->audit, now, on_record, m);
    sg_metric_set(m->m_audit_records, SG_NO_LABELS, (double)sg_tm_audit_records(m->audit));
    sg_metric_set(m->m_index, SG_NO_LABELS, (double)sg_tm_audit_indexed(m->audit));
}

/* Deferred records, now that the key list is newer: a kid still unknown
 * signed outside the lifecycle. */
static void recheck_deferred(struct sg_monitor *m)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n_deferred; i++) {
        struct deferred *d = &m->deferred[i];
        if (d->gen >= m->keys_gen) {
            m->deferred[kept++] = *d; /* read after the current key list */
            continue;
        }
        struct sg_tm_sign s = {.seq = d->seq, .time = d->time, .kid = d->kid, .iss = d->iss,
                               .jti = "", .exp = d->exp};
        char msg[512];
        int r = sg_inv_check_sign(&m->cfg, m->keys, m->n_keys, &s, msg, sizeof msg);
        if (r < 0)
            (void)snprintf(msg, sizeof msg, "record %llu: signed by kid %s that the store does not "
                                            "know", (unsigned long long)d->seq, d->kid);
        if (r != 0)
            i6_offence(m, msg, d->exp);
    }
    m->n_deferred = kept;
}

/* ---- evaluation (under m->mu) ------------------------------------------------------ */

static bool kid_trusted(const struct sg_monitor *m, const char *kid)
{
    for (size_t i = 0; i < m->n_keys; i++)
        if (strcmp(m->keys[i].kid, kid) == 0)
            return !m->keys[i].revoked && (m->keys[i].state == SG_KS_PUBLISHED ||
                                           m->keys[i].state == SG_KS_ACTIVE ||
                                           m->keys[i].state == SG_KS_RETIRED);
    return false;
}

struct pending_rotation {
    char kids[4][64];
    size_t n;
};

/* Records a result; under m->mu. Alerts are raised by the caller after
 * (the alerts lock may call back into audit_note). */
struct outcome {
    bool changed_to_ok;
    bool violated;
    char kid[64];
    char msg[512];
};

static void record(struct sg_monitor *m, enum sg_inv_id i, const struct sg_inv_result *r,
                   int64_t now, struct outcome *o)
{
    struct sg_inv_status *s = &m->inv[i];
    const struct sg_invariant *v = &sg_invariants[i];
    memset(o, 0, sizeof *o);
    o->changed_to_ok = s->state == SG_INV_VIOLATED && r->state == SG_INV_OK;
    s->state = r->state;
    s->last_check = now;
    if (r->state == SG_INV_VIOLATED) {
        s->violations++;
        s->last_violation = now;
        o->violated = true;
        (void)sg_tm_copy(o->kid, sizeof o->kid, r->kid);
        (void)sg_tm_copy(o->msg, sizeof o->msg, r->msg);
        sg_metric_add(m->m_inv_viol, SG_LABELS(v->id), 1);
    }
    if (r->state != SG_INV_OK)
        (void)sg_tm_copy(s->message, sizeof s->message, r->msg);
    /* A violation's message stays as the last finding; why an input was
     * missing does not outlive the next verdict (signetd's I8 is unknown
     * until the front end has entered its sandbox, on every start). */
    if (r->state == SG_INV_OK && m->inv_msg_unknown[i])
        s->message[0] = '\0';
    m->inv_msg_unknown[i] = r->state == SG_INV_UNKNOWN;
    sg_metric_set(m->m_inv_ok, SG_LABELS(v->id, v->name, sg_inv_severity_name(v->severity)),
                  r->state == SG_INV_OK ? 1 : r->state == SG_INV_VIOLATED ? 0 : -1);
    sg_metric_set(m->m_inv_check, SG_LABELS(v->id), (double)now);
}

/* I9 is violated by reports, each alerted when it came: a cycle that finds
 * it still violated (a report younger than the window) keeps the state
 * without counting or alerting again, and the cycle after the window
 * records the recovery. Under m->mu; true when r was absorbed. */
static bool hold_violation(struct sg_monitor *m, enum sg_inv_id i, const struct sg_inv_result *r,
                           int64_t now)
{
    struct sg_inv_status *s = &m->inv[i];
    if (r->state != SG_INV_VIOLATED || s->state != SG_INV_VIOLATED)
        return false;
    s->last_check = now;
    (void)sg_tm_copy(s->message, sizeof s->message, r->msg);
    sg_metric_set(m->m_inv_check, SG_LABELS(sg_invariants[i].id), (double)now);
    return true;
}

static void update_key_metrics(struct sg_monitor *m, const struct inputs *in, int64_t now)
{
    if (m->reg == NULL || !in->have_keys)
        return;
    sg_metric_clear(m->m_keys);
    sg_metric_clear(m->m_key_age);
    for (size_t t = 0; t < m->cfg.n_tenants; t++)
        for (int st = SG_KS_GENERATING; st <= SG_KS_DESTROYED; st++)
            sg_metric_set(m->m_keys,
                          SG_LABELS(m->cfg.tenants[t].issuer,
                                    sg_key_state_name((enum sg_key_state)st)),
                          0);
    for (size_t i = 0; i < m->n_keys; i++) {
        const struct sg_tm_key *k = &m->keys[i];
        const char *st = sg_key_state_name((enum sg_key_state)k->state);
        sg_metric_add(m->m_keys, SG_LABELS(k->issuer, st), 1);
        if (k->state != SG_KS_DESTROYED && k->kid[0] != '\0')
            sg_metric_set(m->m_key_age, SG_LABELS(k->issuer, k->kid, st),
                          (double)(now - k->created_at));
    }
    uint64_t err = 0, reopen = 0, sig = 0;
    int64_t next = -1;
    for (size_t i = 0; i < in->n_signers; i++) {
        err += in->signers[i].hsm_errors;
        reopen += in->signers[i].hsm_reopens;
        sig += in->signers[i].signatures;
        if (i == 0)
            next = in->signers[i].next_transition_in;
    }
    sg_metric_set(m->m_hsm_err, SG_NO_LABELS, (double)err);
    sg_metric_set(m->m_hsm_reopen, SG_NO_LABELS, (double)reopen);
    sg_metric_set(m->m_signer_sig, SG_NO_LABELS, (double)sig);
    if (next >= 0 && next < INT64_MAX / 2)
        sg_metric_set(m->m_next, SG_NO_LABELS, (double)next);
    /* Issuance rate per tenant from the tokens counter. */
    if (m->rate_prev_time >= 0 && now > m->rate_prev_time)
        for (size_t t = 0; t < m->cfg.n_tenants; t++) {
            double total = tokens_total(m, t);
            m->rate_per_min[t] =
                (total - m->rate_prev_total[t]) * 60.0 / (double)(now - m->rate_prev_time);
        }
    for (size_t t = 0; t < m->cfg.n_tenants; t++)
        m->rate_prev_total[t] = tokens_total(m, t);
    m->rate_prev_time = now;
}

/* The sandbox reports for /status and their gauges; under m->mu. */
static void update_sandbox_view(struct sg_monitor *m, const struct inputs *in)
{
    memcpy(m->signers, in->signers, in->n_signers * sizeof in->signers[0]);
    m->n_signers = in->n_signers;
    if (m->src.frontend == NULL)
        return;
    m->fe = in->fe;
    sg_metric_set(m->m_boundary, SG_NO_LABELS, m->fe.boundary_enforced ? 1 : 0);
    if (!m->fe.entered)
        return; /* no sample until the flags are final */
    sg_metric_set(m->m_fe_sandbox, SG_LABELS("seccomp"), m->fe.seccomp ? 1 : 0);
    sg_metric_set(m->m_fe_sandbox, SG_LABELS("no_new_privs"), m->fe.no_new_privs ? 1 : 0);
    sg_metric_set(m->m_fe_sandbox, SG_LABELS("caps_dropped"), m->fe.caps_dropped ? 1 : 0);
}

static void evaluate(struct sg_monitor *m, unsigned due, const struct inputs *in, int64_t now,
                     uint64_t rec_before, struct outcome out[SG_INV_COUNT], unsigned *ran)
{
    const char *const *jwks = (const char *const *)in->jwks;
    struct sg_inv_input x = {
        .cfg = &m->cfg,
        .tcfg = &m->tcfg,
        .now = now,
        .keys = m->keys,
        .n_keys = m->n_keys,
        .have_keys = m->have_keys,
        .keys_before = in->keys_before,
        .n_keys_before = in->n_keys_before,
        .objects = in->objects,
        .n_objects = in->n_objects,
        .have_inventory = in->have_inventory,
        .signers = in->signers,
        .n_signers = in->n_signers,
        .jwks = jwks,
        .have_jwks = in->have_jwks,
        .sandbox_compiled_out = SIGNET_SANDBOX == 0,
        .frontend = m->src.frontend != NULL ? &in->fe : NULL,
        .passkeys = m->passkeys,
        .n_passkeys = m->n_passkeys,
        .approvals = m->approvals,
        .n_approvals = m->n_approvals,
    };
    *ran = 0;
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        if ((due & (1u << i)) == 0)
            continue;
        struct sg_inv_result r;
        memset(&r, 0, sizeof r);
        switch ((enum sg_inv_id)i) {
        case SG_INV_ONE_ACTIVE: sg_inv_check_one_active(&x, &r); break;
        case SG_INV_KEY_AGE: sg_inv_check_key_age(&x, &r); break;
        case SG_INV_TOKEN_OBJECTS:
            if (!in->have_inventory && m->src.inventory == NULL)
                continue; /* nothing to check it with: stays unknown */
            sg_inv_check_token_objects(&x, &r);
            break;
        case SG_INV_JWKS:
            if (!in->have_jwks)
                continue;
            sg_inv_check_jwks(&x, &r);
            break;
        case SG_INV_AUDIT: {
            /* A signer whose log vanished, was replaced or lost its
             * recorded head refuses to sign: a lost log is a violation,
             * not an unknown (issue 11). */
            size_t lost = in->n_signers;
            for (size_t k = 0; k < in->n_signers && lost == in->n_signers; k++)
                if (in->signers[k].audit_broken)
                    lost = k;
            if (lost < in->n_signers) {
                r.state = SG_INV_VIOLATED;
                (void)snprintf(r.msg, sizeof r.msg, "signer %zu: %s (signing refused)", lost,
                               in->signers[lost].audit_reason);
            } else if (m->audit_err == SIGNET_ERR_NOT_FOUND) {
                r.state = SG_INV_VIOLATED;
                (void)sg_tm_copy(r.msg, sizeof r.msg, "the audit log is missing");
            } else if (m->audit_err == SIGNET_ERR_AUDIT_BROKEN) {
                r.state = SG_INV_VIOLATED;
                (void)snprintf(r.msg, sizeof r.msg, "audit chain broken at %s",
                               sg_tm_audit_why(m->audit));
            } else if (m->audit_err != SIGNET_OK) {
                r.state = SG_INV_UNKNOWN;
                (void)snprintf(r.msg, sizeof r.msg, "audit log unreadable: %s",
                               signet_err_name(m->audit_err));
            } else if (in->n_signers == 0) {
                r.state = SG_INV_UNKNOWN;
                (void)sg_tm_copy(r.msg, sizeof r.msg, "no signer STATUS");
            } else {
                sg_inv_sigcount_check(&m->sigcount, in->signers, in->n_signers, rec_before,
                                      sg_tm_audit_sign_records(m->audit),
                                      sg_tm_audit_rescans(m->audit), &r);
            }
            break;
        }
        case SG_INV_TOKEN_WINDOW:
            if (m->i6_until >= now || m->i6_found > 0) {
                r.state = SG_INV_VIOLATED;
                (void)sg_tm_copy(r.msg, sizeof r.msg, m->i6_msg);
            } else {
                r.state = m->audit_err == SIGNET_OK ? SG_INV_OK : SG_INV_UNKNOWN;
            }
            m->i6_found = 0;
            break;
        case SG_INV_NO_FORGERY: {
            size_t still = 0;
            const char *which = NULL;
            for (size_t k = 0; k < m->n_leaked; k++)
                if (kid_trusted(m, m->leaked[k])) {
                    still++;
                    which = m->leaked[k];
                }
            /* Detections other than a leaked key stay visible for a
             * coalescing window, then the invariant holds again. */
            bool recent = m->i7_any && now - m->i7_last < m->tcfg.coalesce_window;
            if (still > 0 || recent) {
                r.state = SG_INV_VIOLATED;
                if (which != NULL) {
                    (void)snprintf(r.msg, sizeof r.msg,
                                   "key %s signed tokens signet never issued and is still "
                                   "trusted (%zu such keys)",
                                   which, still);
                    (void)sg_tm_copy(r.kid, sizeof r.kid, which);
                } else {
                    (void)sg_tm_copy(r.msg, sizeof r.msg, m->i7_msg);
                }
            } else {
                r.state = SG_INV_OK;
            }
            break;
        }
        case SG_INV_SANDBOX: sg_inv_check_sandbox(&x, &r); break;
        case SG_INV_PASSKEY_COUNTER:
            if (m->src.frontend == NULL && m->n_passkeys == 0) {
                /* `signet invariants --check`: no front end reports here. */
                r.state = SG_INV_UNKNOWN;
                (void)sg_tm_copy(r.msg, sizeof r.msg,
                                 "no front end beside this monitor: passkey reports reach "
                                 "signetd's monitor");
                break;
            }
            sg_inv_check_passkey(&x, &r);
            if (hold_violation(m, SG_INV_PASSKEY_COUNTER, &r, now))
                continue;
            break;
        case SG_INV_APPROVALS:
            if (m->src.frontend == NULL && m->n_approvals == 0) {
                r.state = SG_INV_UNKNOWN;
                (void)sg_tm_copy(r.msg, sizeof r.msg,
                                 "no front end beside this monitor: approval alerts reach "
                                 "signetd's monitor");
                break;
            }
            sg_inv_check_approvals(&x, &r);
            if (hold_violation(m, SG_INV_APPROVALS, &r, now))
                continue;
            break;
        }
        record(m, (enum sg_inv_id)i, &r, now, &out[i]);
        *ran |= 1u << i;
    }
}

/* Under m->mu: whether an automatic revoke of kid's issuer may happen
 * now; if so it is counted (even if the revoke then fails: a signer that
 * refuses is not asked again and again). */
static bool auto_revoke_due(struct sg_monitor *m, const char *kid, int64_t now)
{
    const char *issuer = NULL;
    for (size_t i = 0; i < m->n_keys && issuer == NULL; i++)
        if (strcmp(m->keys[i].kid, kid) == 0)
            issuer = m->keys[i].issuer;
    size_t t = 0;
    while (issuer != NULL && t < m->cfg.n_tenants && strcmp(m->cfg.tenants[t].issuer, issuer) != 0)
        t++;
    if (issuer == NULL || t == m->cfg.n_tenants)
        return false;
    int64_t last = m->auto_revoked_at[t];
    if (last != 0 && now >= last && now - last < AUTO_REVOKE_INTERVAL)
        return false;
    m->auto_revoked_at[t] = now;
    return true;
}

/* Alerts and rotations, outside m->mu. */
static void respond(struct sg_monitor *m, unsigned ran, const struct outcome out[SG_INV_COUNT],
                    int64_t now)
{
    for (unsigned i = 0; i < SG_INV_COUNT; i++) {
        if ((ran & (1u << i)) == 0)
            continue;
        if (out[i].changed_to_ok)
            sg_alerts_recovery(m->alerts, (enum sg_inv_id)i, now);
        if (!out[i].violated)
            continue;
        const struct sg_invariant *v = &sg_invariants[i];
        const bool rotate = m->tcfg.on_critical == SG_ON_CRITICAL_ROTATE &&
                            v->severity == SG_SEV_CRITICAL && v->key_compromise &&
                            out[i].kid[0] != '\0' && m->src.revoke != NULL;
        bool trusted = false, too_soon = false;
        if (rotate) {
            (void)pthread_mutex_lock(&m->mu);
            trusted = kid_trusted(m, out[i].kid);
            too_soon = trusted && !auto_revoke_due(m, out[i].kid, now);
            (void)pthread_mutex_unlock(&m->mu);
        }
        if (!too_soon) {
            sg_alerts_violation(m->alerts, (enum sg_inv_id)i, out[i].kid, out[i].msg, now);
        } else {
            /* A second automatic revoke of one issuer within the hour: not
             * without an operator. The alert says so. */
            char msg[1024];
            (void)snprintf(msg, sizeof msg,
                           "%s; not revoked automatically: another key of its issuer was "
                           "revoked automatically less than %ds ago; confirm with 'signet "
                           "revoke --force %s'",
                           out[i].msg, AUTO_REVOKE_INTERVAL, out[i].kid);
            sg_log(SG_LOG_ERROR, "emergency_rotation_needs_confirmation", "invariant=%s kid=%s",
                   v->id, out[i].kid);
            sg_alerts_violation(m->alerts, (enum sg_inv_id)i, out[i].kid, msg, now);
        }
        if (!rotate || !trusted || too_soon)
            continue;
        signet_err err = m->src.revoke(m->src.user, out[i].kid);
        sg_log(err == SIGNET_OK ? SG_LOG_WARN : SG_LOG_ERROR, "emergency_rotation",
               "invariant=%s kid=%s result=%s", v->id, out[i].kid, signet_err_name(err));
        sg_monitor_poke(m, SG_INV_ALL);
    }
    sg_alerts_tick(m->alerts, now);
}

/* One cycle for the checks in due (a bit per invariant). */
static void run_mask(struct sg_monitor *m, unsigned due, int64_t now)
{
    (void)pthread_mutex_lock(&m->run_mu);
    struct inputs in;
    memset(&in, 0, sizeof in);
    /* Log first (I5 baseline), then the signers, then the log again. */
    (void)pthread_mutex_lock(&m->mu);
    bool first = !m->have_keys;
    (void)pthread_mutex_unlock(&m->mu);
    if (first) {
        /* The very first pass needs a key list to judge the records by. */
        gather(m, 0, &in);
        (void)pthread_mutex_lock(&m->mu);
        if (in.have_keys) {
            free(m->keys);
            m->keys = in.keys;
            m->n_keys = in.n_keys;
            m->have_keys = true;
            in.keys = NULL;
        }
        (void)pthread_mutex_unlock(&m->mu);
        inputs_free(&in);
        memset(&in, 0, sizeof in);
    }
    (void)pthread_mutex_lock(&m->mu);
    if (sg_tm_mono() - m->last_full >= (double)m->tcfg.audit_full_verify) {
        sg_tm_audit_force_full(m->audit);
        m->last_full = sg_tm_mono();
    }
    poll_audit(m, now);
    uint64_t rec_before = sg_tm_audit_sign_records(m->audit);
    (void)pthread_mutex_unlock(&m->mu);
    gather(m, due, &in);
    struct outcome out[SG_INV_COUNT];
    memset(out, 0, sizeof out);
    unsigned ran = 0;
    (void)pthread_mutex_lock(&m->mu);
    if (in.have_keys) {
        free(m->keys);
        m->keys = in.keys;
        m->n_keys = in.n_keys;
        m->have_keys = true;
        m->keys_gen++;
        in.keys = NULL;
    }
    recheck_deferred(m);
    poll_audit(m, now);
    evaluate(m, due, &in, now, rec_before, out, &ran);
    update_key_metrics(m, &in, now);
    update_sandbox_view(m, &in);
    (void)pthread_mutex_unlock(&m->mu);
    respond(m, ran, out, now);
    inputs_free(&in);
    (void)pthread_mutex_unlock(&m->run_mu);
}

void sg_monitor_run(struct sg_monitor *m, int inv, int64_t now)
{
    unsigned due = inv == SG_INV_ALL ? (1u << SG_INV_COUNT) - 1
                   : (inv >= 0 && inv < SG_INV_COUNT) ? 1u << inv
                                                      : 0;
    if (due != 0)
        run_mask(m, due, now);
}

/* ---- the thread ------------------------------------------------------------------------ */

static void *monitor_main(void *arg)
{
    struct sg_monitor *m = arg;
    (void)pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        double mono = sg_tm_mono();
        unsigned due = m->poked;
        double next = mono + 1.0;
        for (unsigned i = 0; i < SG_INV_COUNT; i++) {
            if (m->next_run[i] <= mono)
                due |= 1u << i;
            if (m->next_run[i] < next)
                next = m->next_run[i];
        }
        if (due == 0 && m->have_keys && mono - m->last_poll >= 1.0) {
            /* Between cycles the log is still read every second, so that a
             * busy issuer's records are verified and indexed a second's
             * worth at a time, not in one burst per I5 period. */
            (void)pthread_mutex_unlock(&m->mu);
            (void)pthread_mutex_lock(&m->run_mu);
            (void)pthread_mutex_lock(&m->mu);
            poll_audit(m, monitor_now(m));
            (void)pthread_mutex_unlock(&m->run_mu);
            continue;
        }
        if (due == 0) {
            struct timespec until;
            (void)clock_gettime(CLOCK_REALTIME, &until);
            double wait = next - mono;
            if (wait < 0.05)
                wait = 0.05;
            until.tv_sec += (time_t)wait;
            until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            (void)pthread_cond_timedwait(&m->cv, &m->mu, &until);
            continue;
        }
        m->poked = 0;
        for (unsigned i = 0; i < SG_INV_COUNT; i++)
            if ((due & (1u << i)) != 0)
                m->next_run[i] = mono + (double)sg_inv_period(&m->tcfg, i);
        (void)pthread_mutex_unlock(&m->mu);
        run_mask(m, due, monitor_now(m));
        (void)pthread_mutex_lock(&m->mu);
    }
    (void)pthread_mutex_unlock(&m->mu);
    return NULL;
}

signet_err sg_monitor_start(struct sg_monitor *m)
{
    (void)pthread_mutex_lock(&m->mu);
    if (m->started) {
        (void)pthread_mutex_unlock(&m->mu);
        return SIGNET_OK;
    }
    m->poked = (1u << SG_INV_COUNT) - 1;
    int rc = pthread_create(&m->thread, NULL, monitor_main, m);
    m->started = rc == 0;
    (void)pthread_mutex_unlock(&m->mu);
    return rc == 0 ? SIGNET_OK : SIGNET_ERR_INTERNAL;
}

void sg_monitor_reconfigure(struct sg_monitor *m, const struct sg_config *cfg,
                            const struct sg_telemetry_cfg *tcfg)
{
    if (m == NULL || cfg == NULL || tcfg == NULL)
        return;
    (void)pthread_mutex_lock(&m->run_mu);
    (void)pthread_mutex_lock(&m->mu);
    if (strcmp(cfg->audit_log, m->cfg.audit_log) != 0 ||
        strcmp(tcfg->webhook_url, m->tcfg.webhook_url) != 0 ||
        strcmp(tcfg->command, m->tcfg.command) != 0)
        sg_log(SG_LOG_WARN, "monitor_reconfigure_partial",
               "detail=\"the audit log path and the alert sinks change at the next start\"");
    char audit_log[sizeof m->cfg.audit_log];
    memcpy(audit_log, m->cfg.audit_log, sizeof audit_log);
    m->cfg = *cfg;
    memcpy(m->cfg.audit_log, audit_log, sizeof audit_log);
    m->tcfg = *tcfg;
    if (m->tcfg.audit_full_verify <= 0)
        m->tcfg.audit_full_verify = 3600;
    /* Records already read are judged again by the new settings (I6). */
    sg_tm_audit_force_full(m->audit);
    m->poked = (1u << SG_INV_COUNT) - 1;
    (void)pthread_cond_broadcast(&m->cv);
    (void)pthread_mutex_unlock(&m->mu);
    (void)pthread_mutex_unlock(&m->run_mu);
}

void sg_monitor_poke(struct sg_monitor *m, int inv)
{
    if (m == NULL)
        return;
    (void)pthread_mutex_lock(&m->mu);
    if (inv == SG_INV_ALL)
        m->poked = (1u << SG_INV_COUNT) - 1;
    else if (inv >= 0 && inv < SG_INV_COUNT)
        m->poked |= 1u << inv;
    (void)pthread_cond_broadcast(&m->cv);
    (void)pthread_mutex_unlock(&m->mu);
}

void sg_monitor_free(struct sg_monitor **mp)
{
    if (mp == NULL || *mp == NULL)
        return;
    struct sg_monitor *m = *mp;
    (void)pthread_mutex_lock(&m->mu);
    m->stop = true;
    (void)pthread_cond_broadcast(&m->cv);
    bool started = m->started;
    (void)pthread_mutex_unlock(&m->mu);
    if (started)
        (void)pthread_join(m->thread, NULL);
    sg_alerts_free(&m->alerts);
    sg_tm_audit_free(&m->audit);
    free(m->keys);
    (void)pthread_cond_destroy(&m->cv);
    (void)pthread_mutex_destroy(&m->run_mu);
    (void)pthread_mutex_destroy(&m->mu);
    free(m);
    *mp = NULL;
}

void sg_monitor_get(struct sg_monitor *m, struct sg_inv_status out[SG_INV_COUNT])
{
    (void)pthread_mutex_lock(&m->mu);
    memcpy(out, m->inv, sizeof m->inv);
    (void)pthread_mutex_unlock(&m->mu);
}

/* "trust_boundary" of /status.json; under m->mu. NULL without a front end
 * or when out of memory. */
static json_t *trust_boundary_json(const struct sg_monitor *m)
{
    if (m->src.frontend == NULL)
        return NULL;
    const struct sg_tm_frontend *fe = &m->fe;
    json_t *signers = json_array();
    for (size_t i = 0; signers != NULL && i < m->n_signers; i++) {
        const struct sg_tm_signer *s = &m->signers[i];
        if (json_array_append_new(signers, json_pack("{s:b, s:b, s:b, s:b}", "seccomp",
                                                     s->seccomp, "no_new_privs", s->no_new_privs,
                                                     "dumpable", s->dumpable, "mlocked",
                                                     s->mlocked)) != 0) {
            json_decref(signers);
            signers = NULL;
        }
    }
    return json_pack("{s:b, s:s, s:{s:I, s:b, s:b, s:b, s:b, s:b}, s:o*}", "enforced",
                     fe->boundary_enforced, "text", sg_boundary_text(fe->boundary_enforced),
                     "front_end", "uid", (json_int_t)fe->uid, "sandboxed", fe->entered,
                     "seccomp", fe->seccomp, "no_new_privs", fe->no_new_privs, "caps_dropped",
                     fe->caps_dropped, "dumpable", fe->dumpable, "signers", signers);
}

json_t *sg_monitor_status_json(struct sg_monitor *m)
{
    struct sg_inv_status s[SG_INV_COUNT];
    sg_monitor_get(m, s);
    json_t *arr = json_array();
    for (unsigned i = 0; arr != NULL && i < SG_INV_COUNT; i++) {
        const struct sg_invariant *v = &sg_invariants[i];
        if (json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "id", v->id, "name",
                               v->name, "severity", sg_inv_severity_name(v->severity), "state",
                               sg_inv_state_name(s[i].state), "last_check",
                               (json_int_t)s[i].last_check, "last_violation",
                               (json_int_t)s[i].last_violation, "violations",
                               (json_int_t)s[i].violations, "message", s[i].message)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    (void)pthread_mutex_lock(&m->mu);
    json_t *doc = json_pack("{s:I, s:o, s:{s:I, s:I, s:I, s:s}}", "now", (json_int_t)monitor_now(m),
                            "invariants", arr, "audit", "records",
                            (json_int_t)sg_tm_audit_records(m->audit), "sign_records",
                            (json_int_t)sg_tm_audit_sign_records(m->audit), "indexed",
                            (json_int_t)sg_tm_audit_indexed(m->audit), "broken",
                            sg_tm_audit_why(m->audit));
    if (doc != NULL && m->src.frontend != NULL &&
        json_object_set_new(doc, "trust_boundary", trust_boundary_json(m)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    (void)pthread_mutex_unlock(&m->mu);
    return doc;
}

signet_err sg_monitor_statuspage(struct sg_monitor *m, struct sg_wbuf *out)
{
    struct sg_statuspage_tenant tenants[SG_MAX_TENANTS];
    struct sg_inv_status inv[SG_INV_COUNT];
    (void)pthread_mutex_lock(&m->mu);
    for (size_t t = 0; t < m->cfg.n_tenants; t++) {
        tenants[t].name = m->cfg.tenants[t].name;
        tenants[t].issuer = m->cfg.tenants[t].issuer;
        tenants[t].tokens_total = tokens_total(m, t);
        tenants[t].tokens_per_min = m->rate_per_min[t];
    }
    memcpy(inv, m->inv, sizeof inv);
    struct sg_statuspage_in in = {
        .now = monitor_now(m),
        .version = SIGNET_VERSION,
        .tenants = tenants,
        .n_tenants = m->cfg.n_tenants,
        .keys = m->keys,
        .n_keys = m->n_keys,
        .inv = inv,
        .rotation_period = m->cfg.rotation_period,
        .prepublish = sg_config_prepublish(&m->cfg),
        .retire_window = sg_config_retire_window(&m->cfg),
        .frontend = m->src.frontend != NULL ? &m->fe : NULL,
        .signers = m->signers,
        .n_signers = m->n_signers,
    };
    signet_err err = sg_statuspage_render(&in, out);
    (void)pthread_mutex_unlock(&m->mu);
    return err;
}

/* ---- reports (I7) ------------------------------------------------------------------------ */

/* "forged" needs the token itself, verified with the signer's key for
 * its kid and absent from the audit log: a key is out. A report of a
 * token signet never issued that does not prove that is "unverified" (a
 * hash alone: nothing anyone can check) or "bad_signature" (the token
 * does not verify with signet's key: a counterfeit the relying party
 * should not have accepted, no harm to signet's keys). Neither ever
 * triggers on_critical. */
enum verdict { V_ISSUED, V_FORGED, V_WRONG_TENANT, V_RETIRED, V_STALE, V_UNKNOWN_KID, V_MISMATCH,
               V_UNVERIFIABLE, V_UNVERIFIED, V_BAD_SIGNATURE, V_COUNT };
static const char *const verdict_names[V_COUNT] = {
    "issued",     "forged",       "wrong_tenant", "retired_key",  "stale_key",
    "unknown_kid", "mismatch",    "unverifiable", "unverified",   "bad_signature"};

static const struct sg_tm_key *key_of(const struct sg_monitor *m, const char *kid)
{
    for (size_t i = 0; i < m->n_keys; i++)
        if (strcmp(m->keys[i].kid, kid) == 0)
            return &m->keys[i];
    return NULL;
}

static enum verdict judge(struct sg_monitor *m, const char *tenant_issuer,
                          const struct sg_report *r, int64_t now)
{
    struct sg_tm_indexed rec;
    enum sg_tm_lookup l = sg_tm_audit_lookup(m->audit, r->token_sha256, now, &rec);
    const struct sg_tm_key *k = key_of(m, r->kid);
    uint64_t tenant_h = sg_tm_digest64(tenant_issuer, strlen(tenant_issuer));
    if (l == SG_TM_FOUND) {
        if (rec.kid_h != sg_tm_digest64(r->kid, strlen(r->kid)) ||
            rec.jti_h != sg_tm_digest64(r->jti, strlen(r->jti)) ||
            rec.iss_h != sg_tm_digest64(r->iss, strlen(r->iss)))
            return V_MISMATCH;
        if (rec.iss_h != tenant_h)
            return V_WRONG_TENANT;
        if (k != NULL && (k->revoked || k->state == SG_KS_DESTROYED))
            return V_STALE;
        if (k != NULL && k->state == SG_KS_RETIRED)
            return V_RETIRED;
        return V_ISSUED;
    }
    if (strcmp(r->iss, tenant_issuer) != 0 || (k != NULL && strcmp(k->issuer, tenant_issuer) != 0))
        return V_WRONG_TENANT;
    if (l == SG_TM_UNCOVERED)
        return V_UNVERIFIABLE;
    if (k == NULL)
        return V_UNKNOWN_KID;
    return V_FORGED;
}

/* A candidate for "forged" (not in the audit log, a signet kid of the
 * tenant): the verdict once the token is checked against the signer's
 * JWKS (jwks: its JSON, NULL when it could not be had). */
static enum verdict verify_candidate(const struct sg_report *r, const char *jwks)
{
    switch (sg_report_verify(r, jwks)) {
    case SG_REPORT_SIGNED: return V_FORGED;
    case SG_REPORT_BAD_SIGNATURE: return V_BAD_SIGNATURE;
    case SG_REPORT_MISMATCH: return V_MISMATCH;
    default: return V_UNVERIFIED;
    }
}

signet_err sg_reports_handle(struct sg_monitor *m, const char *tenant_issuer, const char *client,
                             const uint8_t *body, size_t len, char **response_json)
{
    char reporter[64];
    sg_tm_log_safe(client != NULL && client[0] != '\0' ? client : "-", reporter, sizeof reporter);
    *response_json = NULL;
    if (m == NULL || tenant_issuer == NULL)
        return SIGNET_ERR_INVALID_ARG;
    char tenant[sizeof m->cfg.tenants[0].name] = "?";
    (void)pthread_mutex_lock(&m->mu); /* a reload may replace m->cfg */
    const struct sg_tenant_cfg *tc = sg_config_tenant_by_issuer(&m->cfg, tenant_issuer);
    if (tc != NULL)
        (void)sg_tm_copy(tenant, sizeof tenant, tc->name);
    (void)pthread_mutex_unlock(&m->mu);
    struct sg_report *items = NULL;
    size_t n = 0;
    signet_err err = sg_reports_parse(body, len, &items, &n);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_WARN, "report_rejected", "tenant=%s error=%s", tenant, signet_err_name(err));
        return err;
    }
    sg_metric_add(m->m_reports, SG_LABELS(tenant), 1);
    enum verdict *v = n > 0 ? calloc(n, sizeof *v) : NULL;
    if (n > 0 && v == NULL) {
        sg_reports_free(items, n);
        return SIGNET_ERR_NOMEM;
    }
    const int64_t now = monitor_now(m);
    size_t counts[V_COUNT] = {0};
    (void)pthread_mutex_lock(&m->mu);
    /* Catch up first: a token signed a moment ago must be found. */
    poll_audit(m, now);
    for (size_t i = 0; i < n; i++)
        v[i] = judge(m, tenant_issuer, &items[i], now);
    (void)pthread_mutex_unlock(&m->mu);
    /* The candidates for "forged", checked against the signer's own keys
     * (fetched once per batch, only when there is one). */
    char *jwks = NULL;
    bool asked = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == V_FORGED) {
            if (!asked && items[i].token != NULL && m->src.signer_jwks != NULL &&
                m->src.signer_jwks(m->src.user, tenant_issuer, &jwks) != SIGNET_OK) {
                free(jwks);
                jwks = NULL;
            }
            asked = asked || items[i].token != NULL;
            v[i] = verify_candidate(&items[i], jwks);
        }
        counts[v[i]]++;
    }
    free(jwks);

    json_t *results = json_array();
    json_t *cnt = json_object();
    for (size_t i = 0; results != NULL && i < n; i++)
        if (json_array_append_new(results, json_string(verdict_names[v[i]])) != 0) {
            json_decref(results);
            results = NULL;
        }
    for (int c = 0; cnt != NULL && c < V_COUNT; c++)
        if (counts[c] > 0) {
            (void)json_object_set_new(cnt, verdict_names[c], json_integer((json_int_t)counts[c]));
            sg_metric_add(m->m_report_tokens, SG_LABELS(tenant, verdict_names[c]),
                          (double)counts[c]);
        }
    sg_metric_add(m->m_forged, SG_LABELS(tenant), (double)counts[V_FORGED]);

    /* Alerts: one observation per offending report (coalesced per kid).
     * Their messages reach the public status page, so they carry no text
     * of the reporter's (its iss, kid or jti): only the tenant, the
     * reporting client (attributed: the front end authenticated it) and,
     * for a verified forgery, the kid the signer's own key proved. The
     * log gets the reported values, made safe. */
    for (size_t i = 0; i < n; i++) {
        const struct sg_report *r = &items[i];
        char msg[512];
        char kid[64], iss[160];
        sg_tm_log_safe(r->kid, kid, sizeof kid);
        sg_tm_log_safe(r->iss, iss, sizeof iss);
        if (v[i] != V_ISSUED)
            sg_log(SG_LOG_WARN, "report_verdict", "tenant=%s client=%s kid=%s iss=%s verdict=%s",
                   tenant, reporter, kid, iss, verdict_names[v[i]]);
        if (v[i] == V_FORGED) {
            (void)snprintf(msg, sizeof msg,
                           "client %s of %s reported a token signed by key %s (its signature "
                           "verified) that signet never issued: the key is out in the wild",
                           reporter, tenant, kid);
        } else if (v[i] == V_WRONG_TENANT) {
            (void)snprintf(msg, sizeof msg,
                           "client %s of %s reported accepting a token of another issuer",
                           reporter, tenant);
        } else if (v[i] == V_UNKNOWN_KID) {
            (void)snprintf(msg, sizeof msg,
                           "client %s of %s reported accepting a token whose kid is no signet "
                           "key",
                           reporter, tenant);
        } else {
            continue;
        }
        struct outcome o;
        struct sg_inv_result res;
        memset(&res, 0, sizeof res);
        res.state = SG_INV_VIOLATED;
        (void)sg_tm_copy(res.msg, sizeof res.msg, msg);
        if (v[i] == V_FORGED)
            (void)sg_tm_copy(res.kid, sizeof res.kid, r->kid);
        (void)pthread_mutex_lock(&m->mu);
        if (v[i] == V_FORGED) {
            bool known = false;
            for (size_t k = 0; k < m->n_leaked && !known; k++)
                known = strcmp(m->leaked[k], r->kid) == 0;
            if (!known && m->n_leaked < MAX_LEAKED)
                (void)sg_tm_copy(m->leaked[m->n_leaked++], sizeof m->leaked[0], r->kid);
        }
        if (v[i] != V_FORGED) {
            m->i7_any = true;
            m->i7_last = now;
            (void)sg_tm_copy(m->i7_msg, sizeof m->i7_msg, msg);
        }
        record(m, SG_INV_NO_FORGERY, &res, now, &o);
        (void)pthread_mutex_unlock(&m->mu);
        struct outcome all[SG_INV_COUNT];
        memset(all, 0, sizeof all);
        all[SG_INV_NO_FORGERY] = o;
        respond(m, 1u << SG_INV_NO_FORGERY, all, now);
    }
    sg_reports_free(items, n);
    free(v);
    json_t *doc = json_pack("{s:o*, s:o*}", "results", results, "counts", cnt);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    *response_json = text;
    return SIGNET_OK;
}

/* ---- the front end's reports (I9, I10) ------------------------------------------------------ */

/* Under m->mu: a zeroed slot at the end of a list of at most max reports
 * of size bytes each (a full list drops its oldest). */
static void *report_slot(void *base, size_t *n, size_t max, size_t size)
{
    uint8_t *b = base;
    if (*n == max) {
        memmove(b, b + size, (max - 1) * size);
        (*n)--;
    }
    void *slot = b + *n * size;
    (*n)++;
    memset(slot, 0, size);
    return slot;
}

/* After m->mu is released: one invariant's outcome to the sinks. */
static void respond_one(struct sg_monitor *m, enum sg_inv_id id, const struct outcome *o,
                        int64_t now)
{
    struct outcome all[SG_INV_COUNT];
    memset(all, 0, sizeof all);
    all[id] = *o;
    respond(m, 1u << id, all, now);
}

/* ---- passkey counters (I9) ----------------------------------------------------------------- */

signet_err sg_monitor_passkey_report(struct sg_monitor *m, const char *issuer,
                                     const char *user_id, uint32_t stored, uint32_t presented)
{
    if (m == NULL || issuer == NULL || user_id == NULL)
        return SIGNET_ERR_INVALID_ARG;
    const int64_t now = monitor_now(m);
    char safe_user[80], safe_iss[160];
    sg_tm_log_safe(user_id, safe_user, sizeof safe_user);
    sg_tm_log_safe(issuer, safe_iss, sizeof safe_iss);
    (void)pthread_mutex_lock(&m->mu); /* a reload may replace m->cfg */
    signet_err err = sg_inv_passkey_valid(&m->cfg, issuer, user_id, stored, presented);
    if (err != SIGNET_OK) {
        (void)pthread_mutex_unlock(&m->mu);
        sg_log(SG_LOG_WARN, "passkey_report_refused",
               "issuer=\"%s\" user=%s stored=%" PRIu32 " presented=%" PRIu32 " error=%s",
               safe_iss, safe_user, stored, presented, signet_err_name(err));
        return err;
    }
    struct sg_inv_passkey *p =
        report_slot(m->passkeys, &m->n_passkeys, MAX_PASSKEY_REPORTS, sizeof m->passkeys[0]);
    p->time = now;
    p->stored = stored;
    p->presented = presented;
    (void)sg_tm_copy(p->issuer, sizeof p->issuer, issuer);
    (void)sg_tm_copy(p->user_id, sizeof p->user_id, user_id);
    /* The invariant's state says how many reports are recent; the alert
     * names this one. */
    struct sg_inv_input x = {.cfg = &m->cfg, .tcfg = &m->tcfg, .now = now,
                             .passkeys = m->passkeys, .n_passkeys = m->n_passkeys};
    struct sg_inv_result res;
    sg_inv_check_passkey(&x, &res);
    struct outcome o;
    record(m, SG_INV_PASSKEY_COUNTER, &res, now, &o);
    sg_inv_passkey_message(&m->cfg, p, o.msg, sizeof o.msg);
    (void)pthread_mutex_unlock(&m->mu);
    sg_log(SG_LOG_ERROR, "passkey_counter_reported",
           "issuer=\"%s\" user=%s stored=%" PRIu32 " presented=%" PRIu32 " invariant=I9",
           safe_iss, safe_user, stored, presented);
    respond_one(m, SG_INV_PASSKEY_COUNTER, &o, now);
    return SIGNET_OK;
}

/* ---- approval alerts (I10) ------------------------------------------------------------------ */

signet_err sg_monitor_approval_report(struct sg_monitor *m, const char *issuer,
                                      const char *user_id, bool reported)
{
    if (m == NULL || issuer == NULL || user_id == NULL)
        return SIGNET_ERR_INVALID_ARG;
    const int64_t now = monitor_now(m);
    char safe_user[80], safe_iss[160];
    sg_tm_log_safe(user_id, safe_user, sizeof safe_user);
    sg_tm_log_safe(issuer, safe_iss, sizeof safe_iss);
    size_t n = strlen(user_id);
    (void)pthread_mutex_lock(&m->mu); /* a reload may replace m->cfg */
    if (sg_config_tenant_by_issuer(&m->cfg, issuer) == NULL || n == 0 ||
        n > SG_INV_PASSKEY_USER_MAX) {
        (void)pthread_mutex_unlock(&m->mu);
        sg_log(SG_LOG_WARN, "approval_report_refused", "issuer=\"%s\" user=%s", safe_iss,
               safe_user);
        return n == 0 || n > SG_INV_PASSKEY_USER_MAX ? SIGNET_ERR_MALFORMED
                                                      : SIGNET_ERR_NOT_FOUND;
    }
    struct sg_inv_approval *a =
        report_slot(m->approvals, &m->n_approvals, MAX_APPROVAL_REPORTS, sizeof m->approvals[0]);
    a->time = now;
    a->reported = reported;
    (void)sg_tm_copy(a->issuer, sizeof a->issuer, issuer);
    (void)sg_tm_copy(a->user_id, sizeof a->user_id, user_id);
    struct sg_inv_input x = {.cfg = &m->cfg, .tcfg = &m->tcfg, .now = now,
                             .approvals = m->approvals, .n_approvals = m->n_approvals};
    struct sg_inv_result res;
    sg_inv_check_approvals(&x, &res);
    struct outcome o;
    record(m, SG_INV_APPROVALS, &res, now, &o);
    sg_inv_approval_message(&m->cfg, a, o.msg, sizeof o.msg);
    (void)pthread_mutex_unlock(&m->mu);
    sg_log(SG_LOG_ERROR, "approval_alert_reported", "issuer=\"%s\" user=%s event=%s invariant=I10",
           safe_iss, safe_user, reported ? "approval_reported" : "approval_locked");
    respond_one(m, SG_INV_APPROVALS, &o, now);
    return SIGNET_OK;
}
