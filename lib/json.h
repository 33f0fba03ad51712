/* Strict JSON for untrusted input: size cap, nesting cap, duplicate member
 * names rejected, no trailing bytes, no NULs. This is the one door for JSON
 * that crosses a process, network or file boundary (scripts/lint.sh keeps
 * jansson's loaders out of every other file). jansson 2.14 caps nesting
 * only at JSON_PARSER_MAX_DEPTH (2048); ours is far tighter. */
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
 * Parsing is jansson's json_loadb with JSON_REJECT_DUPLICATES after a
 * nesting pre-scan; a NUL byte anywhere is refused. */
SIGNET_WUR signet_err sg_json_parse(const uint8_t *data, size_t len, size_t max_len,
                                    json_t **out);
/* The same with a tighter nesting cap (max_depth <= SG_JSON_MAX_DEPTH; a
 * larger one is clamped), for a caller whose format is shallower. */
SIGNET_WUR signet_err sg_json_parse_depth(const uint8_t *data, size_t len, size_t max_len,
                                          unsigned max_depth, json_t **out);
/* The nesting pre-scan alone (exposed for tests). */
SIGNET_WUR signet_err sg_json_check_depth(const uint8_t *data, size_t len, unsigned max_depth);

/* A JSON number that is a NumericDate (RFC 7519 §2): finite, 0..2^53.
 * Fractions are rounded down when round_up is 0, up otherwise. */
SIGNET_WUR signet_err sg_json_numeric_date(const json_t *v, int round_up, int64_t *out);

#endif
