/* Key lifecycle: PENDING -> PUBLISHED -> ACTIVE -> RETIRED -> DESTROYED per
 * issuer and algorithm, driven only by the clock. Every step is one store
 * transaction whose audit record is durable before the commit; every step
 * is idempotent, so a crash anywhere leaves a state the next advance
 * completes. */
#ifndef SG_LIFECYCLE_H
#define SG_LIFECYCLE_H

#include <jansson.h>
#include <stdint.h>

#include "common/config.h"
#include "signet/error.h"
#include "signer/audit.h"
#include "signer/p11.h"
#include "store/store.h"

struct sg_lc {
    const struct sg_config *cfg;
    struct sg_store *store;
    struct sg_p11 *p11;
    struct sg_audit *audit;
    struct sg_audit_mark mark; /* start of the transition being written */
};

/* Brings every configured issuer and algorithm to what the clock says:
 * finishes interrupted steps, publishes, activates, retires, destroys and
 * keeps a pre-published standby. report (may be NULL) gets an array
 * "transitions" of {kid, issuer, alg, from, to}. */
SIGNET_WUR signet_err sg_lifecycle_advance(struct sg_lc *lc, int64_t now, json_t *report);

/* Emergency revoke: the key leaves the published set and signing at once;
 * when it was ACTIVE the standby takes over immediately. The HSM object is
 * destroyed and a new standby generated. */
SIGNET_WUR signet_err sg_lifecycle_revoke(struct sg_lc *lc, const char *kid, int64_t now,
                                          json_t *report);

/* Operator-requested rotation: marks the ACTIVE key(s) of issuer (NULL =
 * all) as due now; the standby takes over as soon as it has been published
 * for the full pre-publication time (at once if it already has). */
SIGNET_WUR signet_err sg_lifecycle_rotate(struct sg_lc *lc, const char *issuer, int64_t now,
                                          json_t *report);

/* The JWKS of an issuer: PUBLISHED, ACTIVE and RETIRED keys, not revoked,
 * each with kid, alg, use, iss, active_from (activated_at; for a PUBLISHED
 * standby its published_at, never a future time) and (RETIRED)
 * active_until. */
SIGNET_WUR signet_err sg_lifecycle_jwks(struct sg_lc *lc, const char *issuer, json_t **out);

/* Seconds from now until the next scheduled transition (INT64_MAX if none). */
int64_t sg_lifecycle_next_due(struct sg_lc *lc, int64_t now);

#endif
