/* The invariant monitor: runs the declared checks (invariants.h) on their
 * schedule and when poked, keeps each one's state for /metrics and /status,
 * raises alerts (alerts.h), reads the audit log incrementally
 * (auditscan.h) and answers relying parties' token reports (I7).
 *
 * It knows nothing of signetd's internals: the inputs come through
 * callbacks. Wiring in signetd:
 *
 *   struct sg_metrics *reg;           sg_metrics_new(&reg);
 *   struct sg_tm_std_metrics std;     sg_tm_std_metrics_register(reg, &std);
 *   struct sg_monitor_source src = {.user = d, .status = ..., .inventory = ...,
 *                                   .served_jwks = ..., .revoke = ..., .audit_note = ...,
 *                                   .frontend = ...};
 *   struct sg_monitor *mon;           sg_monitor_new(&cfg, &cfg.telemetry, &src, reg, &mon);
 *   sg_monitor_start(mon);
 *   ... GET /metrics:  sg_metrics_render(reg, &buf)
 *   ... GET /status:   sg_monitor_statuspage(mon, &buf)       (text/html)
 *   ... GET /status.json: sg_monitor_status_json(mon)
 *   ... POST /t/<tenant>/reports (client with scope signet:report):
 *           sg_reports_handle(mon, tenant->issuer, body, len, &json)
 *   ... a passkey counter that went backwards (I9):
 *           sg_monitor_passkey_report(mon, tenant->issuer, user_id, stored, presented)
 *   ... after a key transition, JWKS refresh or signer restart:
 *           sg_monitor_poke(mon, SG_INV_ALL)
 *   ... shutdown: sg_monitor_free(&mon) before the signer clients go.
 *
 * Every function is thread-safe. The callbacks are called from the monitor
 * thread, and revoke/audit_note also from a thread in sg_reports_handle;
 * audit_note calls never overlap each other. */
#ifndef SG_MONITOR_H
#define SG_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"
#include "telemetry/alerts.h"
#include "telemetry/invariants.h"
#include "telemetry/metrics.h"
#include "common/tmconfig.h"
#include "util/buf.h"

struct sg_monitor_source {
    void *user;
    /* STATUS JSON of signer number i (0, 1, ...): SIGNET_ERR_NOT_FOUND once
     * i is past the last signer. *json is malloc'd, NUL-terminated. */
    signet_err (*status)(void *user, unsigned i, char **json);
    /* INVENTORY JSON of any signer (they share the token). May be NULL. */
    signet_err (*inventory)(void *user, char **json);
    /* The JWKS document signetd serves now for issuer: the bytes of its
     * cache that clients get, not a fresh signer answer. May be NULL.
     * SIGNET_ERR_NETWORK: it could not be asked (I4 unknown); any other
     * error: it serves none (I4 violated). */
    signet_err (*served_jwks)(void *user, const char *issuer, char **json);
    /* The signer's own JWKS for issuer (SG_IPC_JWKS on a signer channel,
     * never the front end's served copy): the keys a reported token is
     * verified with before it can be judged forged. May be NULL: then no
     * report is ever judged forged. */
    signet_err (*signer_jwks)(void *user, const char *issuer, char **json);
    /* on_critical = rotate: emergency-revoke kid (SG_IPC_REVOKE). May be NULL. */
    signet_err (*revoke)(void *user, const char *kid);
    /* Appends an audit record durably (signetd's own sg_audit handle:
     * sg_audit_append then sg_audit_commit). May be NULL. */
    signet_err (*audit_note)(void *user, const char *type, const json_t *fields);
    /* "Now" for reports and the status page (and the monitor thread's
     * checks). May be NULL: sg_clock_now(), which honours the test clock
     * file. */
    int64_t (*now)(void *user);
    /* The front end's own sandbox and the trust boundary (signetd). May be
     * NULL: no front end runs beside the monitor (`signet invariants
     * --check`), so I8 judges the signers alone and /status shows no trust
     * boundary. */
    signet_err (*frontend)(void *user, struct sg_tm_frontend *out);
    /* The monitor runs in a process of its own (signetd's monitor): the
     * front end observes and serves the token, signature-latency and HTTP
     * families itself (sg_tm_front_metrics_register), so the monitor's
     * registry holds only its own families, and the tokens of the status
     * page are counted from the audit log's sign records. */
    bool own_process;
};

/* The metric families signetd observes itself; the monitor fills the rest
 * (keys, HSM, audit, invariants, reports) from what it reads. */
struct sg_tm_std_metrics {
    struct sg_metric *tokens_issued;       /* counter {tenant, result}: result "ok" or an error name */
    struct sg_metric *sign_latency;        /* histogram, seconds per SIGN round trip */
    struct sg_metric *http_requests;       /* counter {endpoint, status} */
    struct sg_metric *audit_write_latency; /* histogram, seconds per audit append + commit */
};
SIGNET_WUR signet_err sg_tm_std_metrics_register(struct sg_metrics *reg,
                                                 struct sg_tm_std_metrics *out);
/* The families a front end observes (tokens, signature latency, HTTP):
 * out->audit_write_latency stays NULL (the monitor's own). */
SIGNET_WUR signet_err sg_tm_front_metrics_register(struct sg_metrics *reg,
                                                   struct sg_tm_std_metrics *out);

struct sg_monitor;

/* cfg and tcfg are copied. reg may be NULL (no metrics). */
SIGNET_WUR signet_err sg_monitor_new(const struct sg_config *cfg,
                                     const struct sg_telemetry_cfg *tcfg,
                                     const struct sg_monitor_source *src, struct sg_metrics *reg,
                                     struct sg_monitor **out);
/* A configuration reload: the checks judge by cfg and tcfg from the next
 * cycle on (every check runs at once), keeping each invariant's state, so
 * a violation that began before the reload still gets its recovery alert.
 * The alert sinks and the audit log path keep their settings until the
 * monitor is created again (signetd: at the next start). */
void sg_monitor_reconfigure(struct sg_monitor *m, const struct sg_config *cfg,
                            const struct sg_telemetry_cfg *tcfg);
/* Starts the monitor thread (each check on its period, pokes at once). */
SIGNET_WUR signet_err sg_monitor_start(struct sg_monitor *m);
/* Runs invariant inv (or SG_INV_ALL) soon, on the monitor thread. */
void sg_monitor_poke(struct sg_monitor *m, int inv);
/* Runs invariant inv (or SG_INV_ALL) now on the calling thread, with this
 * "now" (tests; the CLI). */
void sg_monitor_run(struct sg_monitor *m, int inv, int64_t now);
/* Stops the thread, flushes alerts, frees. */
void sg_monitor_free(struct sg_monitor **m);

void sg_monitor_get(struct sg_monitor *m, struct sg_inv_status out[SG_INV_COUNT]);
/* {"now":..., "invariants":[{"id","name","severity","state","last_check",
 * "last_violation","violations","message"}...], "audit":{"records",...},
 *  "trust_boundary":{"enforced":bool, "text":"enforced"|"not enforced (single
 *    account)", "front_end":{"uid","sandboxed","seccomp","no_new_privs",
 *    "caps_dropped","dumpable"}, "signers":[{"seccomp","no_new_privs",
 *    "dumpable","mlocked"}...]}}
 * "trust_boundary" only with a front end (src->frontend); "sandboxed" is
 * false until the front end has entered its sandbox. */
json_t *sg_monitor_status_json(struct sg_monitor *m);
/* The HTML status page (statuspage.h) from the monitor's latest view. */
SIGNET_WUR signet_err sg_monitor_statuspage(struct sg_monitor *m, struct sg_wbuf *out);
struct sg_alerts *sg_monitor_alerts(struct sg_monitor *m);

/* POST /t/<tenant>/reports. tenant_issuer is the issuer of the tenant in
 * the URL. On SIGNET_OK (HTTP 200) *response_json (malloc'd) is
 *   {"results":["issued"|"forged"|"wrong_tenant"|"retired_key"|
 *                "stale_key"|"unknown_kid"|"mismatch"|"unverifiable", ...],
 *    "counts":{"issued":n,...}}
 * one result per report, in order. A body that does not parse is
 * SIGNET_ERR_TOO_LARGE (HTTP 413) or SIGNET_ERR_MALFORMED /
 * SIGNET_ERR_BAD_JSON / SIGNET_ERR_DUPLICATE_MEMBER (HTTP 400). */
/* client: the reporting client (authenticated by the front end), named in
 * the alerts and on the status page in place of anything the report says. */
SIGNET_WUR signet_err sg_reports_handle(struct sg_monitor *m, const char *tenant_issuer,
                                        const char *client,
                                        const uint8_t *body, size_t len, char **response_json);

/* I9: the front end refused a sign-in because the passkey's signature
 * counter did not move forward (MON_PASSKEY). issuer must be a configured
 * tenant's (else SIGNET_ERR_NOT_FOUND), user_id and the counters as
 * sg_inv_passkey_valid() says (else SIGNET_ERR_MALFORMED); nothing is
 * recorded then. Otherwise the report is kept, I9 is violated for
 * SG_INV_PASSKEY_WINDOW seconds from now, and an alert naming the issuer
 * and the user id goes to every sink (coalesced like any other). A report
 * can only raise I9, never clear it. */
SIGNET_WUR signet_err sg_monitor_passkey_report(struct sg_monitor *m, const char *issuer,
                                                const char *user_id, uint32_t stored,
                                                uint32_t presented);

/* I10: the front end locked a user's approval prompts after three wrong
 * numbers (reported = false) or the person answered "this wasn't me"
 * (reported = true). issuer must be a configured tenant's (else
 * SIGNET_ERR_NOT_FOUND) and user_id 1..64 bytes (else
 * SIGNET_ERR_MALFORMED). The report is kept, I10 is violated for
 * SG_INV_APPROVALS_WINDOW seconds and an alert naming the issuer and the
 * user goes to every sink. A report can only raise I10, never clear it. */
SIGNET_WUR signet_err sg_monitor_approval_report(struct sg_monitor *m, const char *issuer,
                                                 const char *user_id, bool reported);

#endif
