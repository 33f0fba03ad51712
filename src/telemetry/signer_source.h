/* A monitor source (monitor.h) backed by signer clients: STATUS from each,
 * INVENTORY and REVOKE through the first, and the signer's own JWKS as the
 * "served" one. The CLI (`signet invariants --check`) and tests use it as
 * is; signetd should replace served_jwks with its JWKS cache (the bytes it
 * serves) and set audit_note to its own audit handle. */
#ifndef SG_SIGNER_SOURCE_H
#define SG_SIGNER_SOURCE_H

#include <stddef.h>

#include "common/signer_client.h"
#include "telemetry/monitor.h"

struct sg_signer_source {
    struct sg_signer_client *const *clients; /* borrowed */
    size_t n;
};

/* Fills src (user = ss, which must outlive the monitor). */
void sg_signer_source_init(struct sg_monitor_source *src, struct sg_signer_source *ss);

#endif
