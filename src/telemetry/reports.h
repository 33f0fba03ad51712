/* Relying parties' token reports (I7): the strict parser of the batched
 * report body. The handler is sg_reports_handle() in monitor.h.
 *
 *   {"reports": [{"iss": "...", "kid": "...", "jti": "...",
 *                 "token_sha256": "<64 lower-case hex>"}, ...]}
 *
 * Strict: at most SG_REPORTS_MAX_BODY bytes and SG_REPORTS_MAX_ITEMS
 * reports (SIGNET_ERR_TOO_LARGE); duplicate members anywhere
 * (SIGNET_ERR_DUPLICATE_MEMBER); nesting deeper than SG_JSON_MAX_DEPTH
 * (SIGNET_ERR_JSON_TOO_DEEP); invalid JSON, trailing bytes, NUL bytes or
 * NUL escapes (SIGNET_ERR_BAD_JSON), all through sg_json_parse(); an
 * unknown or missing member, a wrong type, an empty or overlong string or
 * a token_sha256 that is not 64 lower-case hex digits
 * (SIGNET_ERR_MALFORMED). token_sha256 is the
 * SHA-256 of the compact token as the relying party received it. */
#ifndef SG_REPORTS_H
#define SG_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_REPORTS_MAX_BODY (256u * 1024u)
#define SG_REPORTS_MAX_ITEMS 1000u

struct sg_report {
    char iss[512];
    char kid[64];
    char jti[256];
    uint8_t token_sha256[32];
};

/* *out is malloc'd (free()), NULL when *n == 0. */
SIGNET_WUR signet_err sg_reports_parse(const uint8_t *body, size_t len, struct sg_report **out,
                                       size_t *n);

#endif
