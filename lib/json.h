/* Strict JSON for untrusted input: size cap, nesting cap (jansson has
 * none), duplicate member names rejected, no trailing bytes, no NULs. */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_JSON_MAX_DEPTH 16

/* Parses exactly len bytes. Errors: SIGNET_ERR_TOO_LARGE (len > max_len),
 * SIGNET_ERR_JSON_TOO_DEEP (more than SG_JSON_MAX_DEPTH nested arrays or
 * objects), SIGNET_ERR_DUPLICATE_MEMBER, SIGNET_ERR_BAD_JSON, SIGNET_ERR_NOMEM.
 * Parsing is json_loadb(JSON_REJECT_DUPLICATES) after a nesting pre-scan;
 * a NUL byte anywhere is refused. */
SIGNET_WUR signet_err sg_json_parse(const uint8_t *data, size_t len, size_t max_len,
                                    json_t **out);
/* The nesting pre-scan alone (exposed for tests). */
SIGNET_WUR signet_err sg_json_check_depth(const uint8_t *data, size_t len, unsigned max_depth);

/* A JSON number that is a NumericDate (RFC 7519 §2): finite, 0..2^53.
 * Fractions are rounded down when round_up is 0, up otherwise. */
SIGNET_WUR signet_err sg_json_numeric_date(const json_t *v, int round_up, int64_t *out);

#endif
