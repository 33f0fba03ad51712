/* Alerts: what happens when an invariant is violated or recovers.
 *
 * An alert is logged (sg_log), counted (signet_alerts_total), appended to
 * the audit log through the caller's callback (record types
 * "invariant_violation" and "invariant_recovered", fields below), and
 * handed to the configured external sinks:
 *   - a webhook: JSON POST through libcurl, one background thread
 *     delivering in order, retrying network errors, 408, 429 and 5xx with
 *     exponential backoff; other answers are final;
 *   - a command: run with posix_spawn (no shell; "path arg arg", split at
 *     spaces) with the alert JSON on its stdin, killed after
 *     command_timeout; one background thread, in order.
 * Each sink has a bounded queue: when it is full, the oldest pending alert
 * is dropped and counted. Raising an alert never waits for a sink, so the
 * token path never blocks on a dead webhook.
 *
 * Repeated violations of one invariant (per named key) within
 * coalesce_window seconds are coalesced: the first is sent at once, the
 * rest are counted and sent as one alert carrying "count" when the window
 * ends (sg_alerts_tick) or before the recovery.
 *
 * Alert JSON (also the audit record's fields, minus "type" and "time", which
 * the record has as its own members):
 *   {"type": "invariant_violation" | "invariant_recovered",
 *    "invariant": "I7", "name": "no_forged_tokens", "severity": "critical",
 *    "message": "...", "kid": "..." (when one is named), "time": 1700000000,
 *    "count": 3, "alert_seq": 12}
 * alert_seq numbers the alerts of this process in the order they were
 * raised, so a receiver can see gaps (drops) and order.
 *
 * Thread-safe: every call may come from any thread. The audit callback is
 * called under the alerts lock, one call at a time. */
#ifndef SG_ALERTS_H
#define SG_ALERTS_H

#include <jansson.h>
#include <stdint.h>

#include "signet/error.h"
#include "telemetry/invariants.h"
#include "telemetry/metrics.h"
#include "common/tmconfig.h"

/* Appends one audit record (type, fields) durably; returns its status. */
typedef signet_err (*sg_alert_audit_fn)(void *user, const char *type, const json_t *fields);

struct sg_alert_stats {
    uint64_t raised;     /* alerts emitted (after coalescing) */
    uint64_t coalesced;  /* observations folded into a later alert */
    uint64_t webhook_delivered, webhook_failed, webhook_dropped, webhook_retries;
    uint64_t command_runs, command_failed, command_dropped;
    uint64_t audit_failed;
};

struct sg_alerts;

/* reg (may be NULL) gets the alert metrics; audit (may be NULL) records. */
SIGNET_WUR signet_err sg_alerts_new(const struct sg_telemetry_cfg *c, struct sg_metrics *reg,
                                    sg_alert_audit_fn audit, void *audit_user,
                                    struct sg_alerts **out);
/* Stops the sink threads (an attempt in progress finishes or times out);
 * alerts still queued are dropped and logged. */
void sg_alerts_free(struct sg_alerts **a);

/* One observation of a violation of invariant inv (kid may be NULL). */
void sg_alerts_violation(struct sg_alerts *a, enum sg_inv_id inv, const char *kid,
                         const char *message, int64_t now);
/* The invariant holds again: flushes its coalesced count, then alerts. */
void sg_alerts_recovery(struct sg_alerts *a, enum sg_inv_id inv, int64_t now);
/* Sends the coalesced counts whose window has ended. */
void sg_alerts_tick(struct sg_alerts *a, int64_t now);
/* Waits up to timeout_ms for both sink queues to empty and go idle;
 * SIGNET_OK when they did, SIGNET_ERR_TIMEOUT otherwise. */
SIGNET_WUR signet_err sg_alerts_drain(struct sg_alerts *a, int64_t timeout_ms);
void sg_alerts_get_stats(struct sg_alerts *a, struct sg_alert_stats *out);

#endif
