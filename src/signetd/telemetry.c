/* signetd's telemetry: the metrics registry and the metrics signetd
 * observes itself (tokens, sign latency, HTTP requests), the invariant
 * monitor (src/telemetry/monitor.h) over signetd's own signers, JWKS cache
 * and audit handle, and the endpoints that expose them: GET /metrics,
 * /status, /status.json and POST /t/<tenant>/reports.
 *
 * The monitor reads each signer's STATUS through its own pool slot, the
 * JWKS exactly as a client would get it (sd_jwks_current), revokes through
 * a signer on on_critical = rotate, and sends its alert records to a
 * signer (AUDIT_NOTE), which alone writes the audit log. The front end
 * reports its own sandbox and the trust boundary (I8's front half, the
 * trust boundary of /status, /status.json and /metrics). A
 * reload hands the monitor the new configuration (the checks and
 * [invariants] follow it; the alert sinks change at the next start). */
#include "signetd/telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "signetd/conf.h"
#include "signetd/ctx.h"
#include "signetd/meta.h"
#include "signetd/pool.h"
#include "telemetry/metrics.h"
#include "telemetry/monitor.h"
#include "telemetry/reports.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- monitor source ---------------------------------------------------------- */

static signet_err call_result(signet_err err, signet_err status, char **json)
{
    if (err == SIGNET_OK && status != SIGNET_OK)
        err = status;
    if (err == SIGNET_OK && *json == NULL)
        err = SIGNET_ERR_MALFORMED;
    if (err != SIGNET_OK) {
        free(*json);
        *json = NULL;
    }
    return err;
}

static signet_err src_status(void *user, unsigned i, char **json)
{
    struct sd_ctx *c = user;
    signet_err status = SIGNET_OK;
    signet_err err = sd_pool_call_slot(&c->pool, i, SG_IPC_STATUS, NULL, &status, json);
    if (err == SIGNET_ERR_NOT_FOUND)
        return err;
    return call_result(err, status, json);
}

static signet_err src_inventory(void *user, char **json)
{
    struct sd_ctx *c = user;
    signet_err status = SIGNET_OK;
    signet_err err = sd_pool_call(&c->pool, SG_IPC_INVENTORY, NULL, &status, json);
    return call_result(err, status, json);
}

static signet_err src_served_jwks(void *user, const char *issuer, char **json)
{
    struct sd_ctx *c = user;
    *json = NULL;
    struct sd_conf *k = sd_conf_get(c);
    const struct sg_tenant_cfg *t = sg_config_tenant_by_issuer(&k->cfg, issuer);
    signet_err err = t != NULL ? sd_jwks_current(c, t, json) : SIGNET_ERR_NOT_FOUND;
    sd_conf_put(k);
    return err;
}

static signet_err src_revoke(void *user, const char *kid)
{
    struct sd_ctx *c = user;
    signet_err status = SIGNET_OK;
    char *json = NULL;
    signet_err err = sd_pool_call(&c->pool, SG_IPC_REVOKE, kid, &status, &json);
    err = call_result(err, status, &json);
    free(json);
    return err;
}

/* The front end writes no audit record itself: its alert records travel to
 * a signer as AUDIT_NOTE and are chained there like any other. */
static signet_err src_audit_note(void *user, const char *type, const json_t *fields)
{
    struct sd_ctx *c = user;
    char *text = json_dumps(fields, JSON_COMPACT);
    if (text == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err status = SIGNET_ERR_SIGNER_GONE;
    char *resp = NULL;
    signet_err err = sd_pool_note(&c->pool, type, text, strlen(text), &status, &resp);
    free(text);
    free(resp);
    if (err == SIGNET_OK)
        err = status;
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "alert_audit_failed", "type=%s error=%s", type,
               signet_err_name(err));
    return err;
}

/* The monitor starts before the front end enters its sandbox (main.c):
 * until then the flags are not final and I8 says so. */
static signet_err src_frontend(void *user, struct sg_tm_frontend *out)
{
    const struct sd_ctx *c = user;
    memset(out, 0, sizeof *out);
    out->boundary_enforced = c->boundary_enforced != 0;
    out->uid = c->front_uid;
    if (!atomic_load(&c->hardening_ready))
        return SIGNET_OK;
    out->entered = true;
    out->seccomp = c->hardening.seccomp != 0;
    out->no_new_privs = c->hardening.no_new_privs != 0;
    out->caps_dropped = c->hardening.caps_dropped != 0;
    out->dumpable = c->hardening.dumpable != 0;
    return SIGNET_OK;
}

static void on_pool_change(void *user)
{
    struct sd_ctx *c = user;
    atomic_fetch_add(&c->keys_epoch, 1); /* the JWKS cache refetches */
    sd_tm_poke(c);
}

static signet_err monitor_new(struct sd_ctx *c, const struct sg_config *cfg,
                              struct sg_monitor **out)
{
    struct sg_monitor_source src = {
        .user = c,
        .status = src_status,
        .inventory = src_inventory,
        .served_jwks = src_served_jwks,
        .revoke = src_revoke,
        .audit_note = src_audit_note,
        .frontend = src_frontend,
    };
    struct sg_monitor *m = NULL;
    signet_err err = sg_monitor_new(cfg, &cfg->telemetry, &src, c->tm.reg, &m);
    if (err == SIGNET_OK)
        err = sg_monitor_start(m);
    if (err != SIGNET_OK) {
        sg_monitor_free(&m);
        return err;
    }
    *out = m;
    return SIGNET_OK;
}

/* ---- lifecycle -------------------------------------------------------------------- */

void sd_tm_init(struct sd_ctx *c)
{
    pthread_rwlock_init(&c->tm.mon_lock, NULL);
    c->pool.on_change_user = c;
    c->pool.on_change = on_pool_change;
    c->on_jwks_change = sd_tm_poke;
}

signet_err sd_tm_start(struct sd_ctx *c, const struct sg_config *cfg)
{
    struct sd_telemetry *tm = &c->tm;
    signet_err err = sg_metrics_new(&tm->reg);
    if (err != SIGNET_OK)
        return err;
    struct sg_tm_std_metrics std;
    err = sg_tm_std_metrics_register(tm->reg, &std);
    if (err != SIGNET_OK)
        return err;
    tm->tokens_issued = std.tokens_issued;
    tm->sign_latency = std.sign_latency;
    tm->http_requests = std.http_requests;
    struct sg_monitor *m = NULL;
    err = monitor_new(c, cfg, &m);
    if (err != SIGNET_OK)
        return err;
    pthread_rwlock_wrlock(&tm->mon_lock);
    tm->mon = m;
    pthread_rwlock_unlock(&tm->mon_lock);
    sg_log(SG_LOG_INFO, "monitor_started", "webhook=%s on_critical=%s interval=%lld",
           cfg->telemetry.webhook_url[0] != '\0' ? "on" : "off",
           cfg->telemetry.on_critical == SG_ON_CRITICAL_ROTATE ? "rotate" : "alert",
           (long long)cfg->telemetry.interval);
    return SIGNET_OK;
}

/* Lets queued alerts go out before a monitor is dropped. */
static void retire_monitor(struct sg_monitor **m)
{
    if (*m == NULL)
        return;
    if (sg_alerts_drain(sg_monitor_alerts(*m), 3000) != SIGNET_OK)
        sg_log(SG_LOG_WARN, "alerts_undelivered", "detail=\"sinks still busy after 3 s\"");
    sg_monitor_free(m);
}

void sd_tm_reload(struct sd_ctx *c, const struct sg_config *cfg)
{
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    sg_monitor_reconfigure(c->tm.mon, cfg, &cfg->telemetry);
    pthread_rwlock_unlock(&c->tm.mon_lock);
}

void sd_tm_stop(struct sd_ctx *c)
{
    struct sd_telemetry *tm = &c->tm;
    pthread_rwlock_wrlock(&tm->mon_lock);
    struct sg_monitor *m = tm->mon;
    tm->mon = NULL;
    pthread_rwlock_unlock(&tm->mon_lock);
    retire_monitor(&m);
}

void sd_tm_free(struct sd_ctx *c)
{
    sg_metrics_free(&c->tm.reg);
    pthread_rwlock_destroy(&c->tm.mon_lock);
}

void sd_tm_poke(struct sd_ctx *c)
{
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    sg_monitor_poke(c->tm.mon, SG_INV_ALL);
    pthread_rwlock_unlock(&c->tm.mon_lock);
}

/* ---- observations ------------------------------------------------------------------- */

void sd_tm_token_result(struct sd_ctx *c, const char *tenant, const char *result)
{
    sg_metric_add(c->tm.tokens_issued, SG_LABELS(tenant, result), 1);
}

void sd_tm_sign_latency(struct sd_ctx *c, double seconds)
{
    sg_metric_observe(c->tm.sign_latency, SG_NO_LABELS, seconds);
}

void sd_tm_http(struct sd_ctx *c, const char *endpoint, unsigned status)
{
    char code[8];
    (void)snprintf(code, sizeof code, "%u", status);
    sg_metric_add(c->tm.http_requests, SG_LABELS(endpoint, code), 1);
}

/* ---- endpoints ---------------------------------------------------------------------- */

static void resp_take(struct sd_resp *r, unsigned status, struct sg_wbuf *w,
                      const char *content_type)
{
    free(r->body);
    r->status = status;
    r->len = w->len;
    r->body = (char *)w->data; /* the buffer is ours now */
    w->data = NULL;
    r->content_type = content_type;
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}

static void unavailable(struct sd_resp *r, const char *why)
{
    sd_resp_json(r, 503, why);
    r->retry_after = 1;
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}

void sd_metrics_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 4u << 20);
    if (sg_metrics_render(c->tm.reg, &w) != SIGNET_OK || w.err) {
        sg_wbuf_free(&w);
        unavailable(r, "{\"error\":\"metrics unavailable\"}");
        return;
    }
    resp_take(r, 200, &w, "text/plain; version=0.0.4; charset=utf-8");
}

void sd_status_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, 4u << 20);
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    signet_err err = c->tm.mon != NULL ? sg_monitor_statuspage(c->tm.mon, &w)
                                       : SIGNET_ERR_NOT_FOUND;
    pthread_rwlock_unlock(&c->tm.mon_lock);
    if (err != SIGNET_OK || w.err) {
        sg_wbuf_free(&w);
        unavailable(r, "{\"error\":\"status unavailable\"}");
        return;
    }
    resp_take(r, 200, &w, "text/html; charset=utf-8");
    r->csp = 1;
}

void sd_status_json_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    json_t *doc = c->tm.mon != NULL ? sg_monitor_status_json(c->tm.mon) : NULL;
    pthread_rwlock_unlock(&c->tm.mon_lock);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        unavailable(r, "{\"error\":\"status unavailable\"}");
        return;
    }
    sd_resp_json(r, 200, text);
    free(text);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}

void sd_reports_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *body,
                         size_t len, struct sd_resp *r)
{
    char *json = NULL;
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    signet_err err = c->tm.mon != NULL
                         ? sg_reports_handle(c->tm.mon, t->issuer, (const uint8_t *)body, len,
                                             &json)
                         : SIGNET_ERR_NOT_FOUND;
    pthread_rwlock_unlock(&c->tm.mon_lock);
    switch (err) {
    case SIGNET_OK:
        sd_resp_json(r, 200, json);
        break;
    case SIGNET_ERR_TOO_LARGE:
        sd_resp_oauth_error(r, 413, "invalid_request",
                            "at most 1000 reports and 256 KiB per request");
        break;
    case SIGNET_ERR_MALFORMED:
    case SIGNET_ERR_BAD_JSON:
    case SIGNET_ERR_DUPLICATE_MEMBER:
        sd_resp_oauth_error(r, 400, "invalid_request",
                            "the body must be {\"reports\":[{\"iss\",\"kid\",\"jti\","
                            "\"token_sha256\"}...]} (docs/telemetry.md)");
        break;
    default:
        sd_resp_oauth_error(r, 503, "temporarily_unavailable", "the monitor is unavailable");
        r->retry_after = 1;
        break;
    }
    free(json);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}
