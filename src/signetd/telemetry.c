/* signetd's telemetry: the metrics the front end observes itself (tokens,
 * sign latency, HTTP requests), and the endpoints that show what the
 * monitor process (monproc.c) sees: GET /metrics (ours, then the
 * monitor's families), /status, /status.json and POST /t/<tenant>/reports.
 *
 * The invariant monitor does not run here: the front end is what it
 * watches. The front end reaches it on a channel the launcher makes
 * (sd_launcher_monitor), made again when the monitor was restarted, with
 * the MON_* messages of the table in src/common/ipc.c: pokes after a key
 * transition, JWKS change or signer restart, its readiness once it has
 * entered its sandbox (the monitor reads the sandbox from /proc itself),
 * the pages, the reports and passkey counters that went backwards (I9,
 * sd_tm_passkey_regressed). Without a monitor these endpoints answer 503
 * and /metrics has the front end's families alone. */
#include "signetd/telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/signer_client.h"
#include "signetd/conf.h"
#include "signetd/ctx.h"
#include "signetd/launcher.h"
#include "signetd/pool.h"
#include "telemetry/metrics.h"
#include "telemetry/monitor.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define RECONNECT_MS 500

/* ---- the channel to the monitor ------------------------------------------------ */

static void ignore_answer(void *user, signet_err err, signet_err status, char *resp,
                          size_t resp_len)
{
    (void)user;
    (void)err;
    (void)status;
    (void)resp_len;
    free(resp);
}

/* A fresh channel when there is none or the last one failed (the monitor
 * was restarted); at most every RECONNECT_MS. Under the write lock. */
static void reconnect(struct sd_ctx *c, struct sg_signer_client *dead)
{
    struct sd_telemetry *tm = &c->tm;
    pthread_rwlock_wrlock(&tm->mon_lock);
    int64_t now = (int64_t)(sg_clock_mono_ns() / 1000000u);
    if (tm->mon == dead && c->launcher_fd >= 0 &&
        (tm->mon_tried_ms == 0 || now - tm->mon_tried_ms >= RECONNECT_MS)) {
        tm->mon_tried_ms = now;
        sg_signer_client_free(&tm->mon);
        int fd = -1;
        pid_t pid = -1;
        if (sd_launcher_monitor(c->launcher_fd, &fd, &pid) == SIGNET_OK &&
            sg_signer_client_adopt(fd, pid, 0, &tm->mon) != SIGNET_OK)
            close(fd);
        /* A new monitor learns that we are sandboxed from us (and checks
         * /proc): tell it before anything else. */
        if (tm->mon != NULL && atomic_load(&c->hardening_ready) &&
            sg_signer_call_async(tm->mon, SG_IPC_MON_READY, NULL, 0, ignore_answer, NULL) !=
                SIGNET_OK)
            sg_log(SG_LOG_WARN, "monitor_unreachable", "msg=ready");
    }
    pthread_rwlock_unlock(&tm->mon_lock);
}

/* One request to the monitor; the channel is made again once if it failed. */
static signet_err mon_call(struct sd_ctx *c, uint8_t type, const uint8_t *payload, size_t len,
                           signet_err *status, char **resp, size_t *resp_len)
{
    *status = SIGNET_ERR_SIGNER_GONE;
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    for (int attempt = 0; attempt < 2 && err == SIGNET_ERR_SIGNER_GONE; attempt++) {
        pthread_rwlock_rdlock(&c->tm.mon_lock);
        struct sg_signer_client *m = c->tm.mon;
        if (m != NULL)
            err = sg_signer_call(m, type, payload, len, status, resp, resp_len);
        pthread_rwlock_unlock(&c->tm.mon_lock);
        if (err == SIGNET_ERR_SIGNER_GONE)
            reconnect(c, m);
    }
    if (err == SIGNET_OK && *status != SIGNET_OK)
        err = *status;
    return err;
}

/* A message with no answer worth waiting for. */
static void mon_tell(struct sd_ctx *c, uint8_t type)
{
    pthread_rwlock_rdlock(&c->tm.mon_lock);
    struct sg_signer_client *m = c->tm.mon;
    signet_err err = m != NULL ? sg_signer_call_async(m, type, NULL, 0, ignore_answer, NULL)
                               : SIGNET_ERR_SIGNER_GONE;
    pthread_rwlock_unlock(&c->tm.mon_lock);
    if (err != SIGNET_OK) {
        reconnect(c, m);
        pthread_rwlock_rdlock(&c->tm.mon_lock);
        if (c->tm.mon != NULL && c->tm.mon != m &&
            sg_signer_call_async(c->tm.mon, type, NULL, 0, ignore_answer, NULL) != SIGNET_OK)
            sg_log(SG_LOG_WARN, "monitor_unreachable", "msg_type=%u", (unsigned)type);
        pthread_rwlock_unlock(&c->tm.mon_lock);
    }
}

static void on_pool_change(void *user)
{
    struct sd_ctx *c = user;
    atomic_fetch_add(&c->keys_epoch, 1); /* the JWKS cache refetches */
    sd_tm_poke(c);
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
    err = sg_tm_front_metrics_register(tm->reg, &std);
    if (err != SIGNET_OK)
        return err;
    tm->tokens_issued = std.tokens_issued;
    tm->sign_latency = std.sign_latency;
    tm->http_requests = std.http_requests;
    reconnect(c, NULL);
    pthread_rwlock_rdlock(&tm->mon_lock);
    int have = tm->mon != NULL;
    pthread_rwlock_unlock(&tm->mon_lock);
    sg_log(have ? SG_LOG_INFO : SG_LOG_WARN, "monitor_channel", "connected=%s interval=%lld",
           have ? "yes" : "no", (long long)cfg->telemetry.interval);
    return SIGNET_OK;
}

void sd_tm_ready(struct sd_ctx *c)
{
    mon_tell(c, SG_IPC_MON_READY);
}

void sd_tm_stop(struct sd_ctx *c)
{
    pthread_rwlock_wrlock(&c->tm.mon_lock);
    sg_signer_client_free(&c->tm.mon);
    pthread_rwlock_unlock(&c->tm.mon_lock);
}

void sd_tm_free(struct sd_ctx *c)
{
    sg_metrics_free(&c->tm.reg);
    pthread_rwlock_destroy(&c->tm.mon_lock);
}

void sd_tm_poke(struct sd_ctx *c)
{
    mon_tell(c, SG_IPC_MON_POKE);
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

void sd_tm_passkey_regressed(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                             uint32_t stored, uint32_t presented)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PASSKEY);
    sg_ipc_encode_passkey(&w, t->issuer, user_id, stored, presented);
    signet_err err = w.err;
    if (err == SIGNET_OK) {
        signet_err status = SIGNET_OK;
        char *resp = NULL;
        err = mon_call(c, SG_IPC_MON_PASSKEY, w.data, w.len, &status, &resp, NULL);
        free(resp);
    }
    sg_wbuf_free(&w);
    /* Best effort: the sign-in is refused either way, and our own log has
     * the event (passkey_counter_regressed). */
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "monitor_unreachable", "msg=passkey tenant=%s error=%s", t->name,
               signet_err_name(err));
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
    /* The monitor's families follow ours (no name is in both). */
    signet_err status = SIGNET_OK;
    char *text = NULL;
    size_t len = 0;
    if (mon_call(c, SG_IPC_MON_METRICS, NULL, 0, &status, &text, &len) == SIGNET_OK &&
        text != NULL)
        sg_wbuf_put_bytes(&w, text, len);
    free(text);
    if (w.err) {
        sg_wbuf_free(&w);
        unavailable(r, "{\"error\":\"metrics unavailable\"}");
        return;
    }
    resp_take(r, 200, &w, "text/plain; version=0.0.4; charset=utf-8");
}

void sd_status_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    signet_err status = SIGNET_OK;
    char *text = NULL;
    size_t len = 0;
    signet_err err = mon_call(c, SG_IPC_MON_STATUS_HTML, NULL, 0, &status, &text, &len);
    if (err != SIGNET_OK || text == NULL) {
        free(text);
        unavailable(r, "{\"error\":\"status unavailable: the monitor does not answer\"}");
        return;
    }
    struct sg_wbuf w = {.data = (uint8_t *)text, .len = len, .cap = len + 1, .max = len + 1};
    resp_take(r, 200, &w, "text/html; charset=utf-8");
    r->csp = 1;
}

void sd_status_json_endpoint(struct sd_ctx *c, struct sd_resp *r)
{
    signet_err status = SIGNET_OK;
    char *text = NULL;
    signet_err err = mon_call(c, SG_IPC_MON_STATUS_JSON, NULL, 0, &status, &text, NULL);
    if (err != SIGNET_OK || text == NULL) {
        free(text);
        unavailable(r, "{\"error\":\"status unavailable: the monitor does not answer\"}");
        return;
    }
    sd_resp_json(r, 200, text);
    free(text);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}

void sd_reports_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *client,
                         const char *body, size_t len, struct sd_resp *r)
{
    char *json = NULL;
    signet_err err = SIGNET_ERR_TOO_LARGE;
    const struct sg_ipc_msg *m = sg_ipc_msg_find(SG_IPC_MON_REPORT);
    struct sg_wbuf w;
    sg_wbuf_init(&w, m->max_payload);
    sg_wbuf_put_str(&w, t->issuer);
    sg_wbuf_put_str(&w, client); /* the authenticated reporter, for attribution */
    sg_wbuf_put_bytes(&w, body, len);
    if (w.err == SIGNET_OK) {
        signet_err status = SIGNET_OK;
        err = mon_call(c, SG_IPC_MON_REPORT, w.data, w.len, &status, &json, NULL);
    }
    sg_wbuf_free(&w);
    switch (err) {
    case SIGNET_OK:
        sd_resp_json(r, 200, json != NULL ? json : "{}");
        break;
    case SIGNET_ERR_TOO_LARGE:
        sd_resp_oauth_error(r, 413, "invalid_request",
                            "at most 1000 reports and 255 KiB per request");
        break;
    case SIGNET_ERR_MALFORMED:
    case SIGNET_ERR_BAD_JSON:
    case SIGNET_ERR_DUPLICATE_MEMBER:
        sd_resp_oauth_error(r, 400, "invalid_request",
                            "the body must be {\"reports\":[{\"iss\",\"kid\",\"jti\","
                            "\"token_sha256\"[,\"token\"]}...]} (docs/telemetry.md)");
        break;
    default:
        sd_resp_oauth_error(r, 503, "temporarily_unavailable", "the monitor is unavailable");
        r->retry_after = 1;
        break;
    }
    free(json);
    (void)snprintf(r->cache_control, sizeof r->cache_control, "no-store");
}

void sd_tm_people(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                  enum sg_ipc_people_event event, const char *factor)
{
    const char *name = sg_ipc_people_event_name((unsigned)event);
    sg_log(event >= SG_IPC_PEOPLE_APPROVAL_LOCKED ? SG_LOG_ERROR : SG_LOG_INFO,
           event >= SG_IPC_PEOPLE_APPROVAL_LOCKED ? "mfa_alert" : "factor_changed",
           "tenant=%s user=%s event=%s factor=%s", t->name, user_id, name != NULL ? name : "?",
           factor);
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PEOPLE);
    sg_ipc_encode_people(&w, t->issuer, user_id, event, factor);
    signet_err err = w.err;
    if (err == SIGNET_OK) {
        signet_err status = SIGNET_OK;
        char *resp = NULL;
        err = mon_call(c, SG_IPC_MON_PEOPLE, w.data, w.len, &status, &resp, NULL);
        free(resp);
    }
    sg_wbuf_free(&w);
    if (err != SIGNET_OK)
        sg_log(SG_LOG_ERROR, "monitor_unreachable", "msg=people tenant=%s event=%s error=%s",
               t->name, name != NULL ? name : "?", signet_err_name(err));
}
