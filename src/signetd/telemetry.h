/* signetd's telemetry (telemetry.c): the metrics it observes, its channel
 * to the monitor process, and the endpoints exposing what both see. */
#ifndef SD_TELEMETRY_H
#define SD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "common/ipc.h"
#include "signetd/resp.h"

struct sd_ctx;
struct sg_config;
struct sg_tenant_cfg;

/* Locks, and the pool's and the JWKS cache's change hooks (before the
 * pool starts). */
void sd_tm_init(struct sd_ctx *c);
/* Creates the registry and opens the channel to the monitor. */
SIGNET_WUR signet_err sd_tm_start(struct sd_ctx *c, const struct sg_config *cfg);
/* Tells the monitor that the front end has entered its sandbox. */
void sd_tm_ready(struct sd_ctx *c);
/* Closes the channel to the monitor; sd_tm_free then frees the registry
 * (after HTTP stopped). */
void sd_tm_stop(struct sd_ctx *c);
void sd_tm_free(struct sd_ctx *c);
/* Runs every check soon (after a JWKS change, transition, signer restart). */
void sd_tm_poke(struct sd_ctx *c);
void sd_tm_token_result(struct sd_ctx *c, const char *tenant, const char *result);
void sd_tm_sign_latency(struct sd_ctx *c, double seconds);
void sd_tm_http(struct sd_ctx *c, const char *endpoint, unsigned status);
/* A person's security event for the monitor (MON_PEOPLE): a factor of
 * user_id added or removed (factor: passkey, password, totp, device),
 * which the monitor audits (factor_changed), or an approval alert
 * (SG_IPC_PEOPLE_APPROVAL_LOCKED / _REPORTED, factor "device"), which it
 * audits (mfa_alert) and alerts on (I10). Waits for the monitor's answer;
 * a failure is logged (monitor_unreachable) and never fails the caller. */
void sd_tm_people(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                  enum sg_ipc_people_event event, const char *factor);
/* I9: tells the monitor that a sign-in of user_id (tenant t) was refused
 * because the passkey's signature counter did not move forward (stored
 * non-zero, presented <= stored; WebAuthn 6.1.1). Best effort: waits for
 * the monitor's answer, logs a failure, never fails the caller. */
void sd_tm_passkey_regressed(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *user_id,
                             uint32_t stored, uint32_t presented);
void sd_metrics_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_status_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_status_json_endpoint(struct sd_ctx *c, struct sd_resp *r);
void sd_reports_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *client,
                         const char *body,
                         size_t len, struct sd_resp *r);

#endif
