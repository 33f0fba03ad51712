/* The one parser for configuration and command-line numbers: plain
 * decimal digits (no sign, no spaces, no "0x"), leading zeros allowed,
 * overflow checked digit by digit. */
#ifndef SG_STRCONV_H
#define SG_STRCONV_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

/* The unit a duration is returned in. */
enum sg_dur_unit {
    SG_DUR_SECONDS,
    SG_DUR_MILLIS, /* also accepts the suffix "ms" */
};

/* Longest duration in seconds that still fits in int64 milliseconds, the
 * bound of every duration the daemons keep. */
#define SG_DURATION_MAX_S (INT64_MAX / 1000)

/* A duration: digits with an optional unit, s (the default), m, h, d, and
 * ms when unit is SG_DUR_MILLIS; the result is in that unit and at most max
 * (>= 0). Errors: SIGNET_ERR_MALFORMED (empty, sign, spaces, an unknown unit,
 * anything after it), SIGNET_ERR_TOO_LARGE (above max, including a number
 * too long for any integer), SIGNET_ERR_INVALID_ARG (NULL, max < 0). */
SIGNET_WUR signet_err sg_parse_duration(const char *s, enum sg_dur_unit unit, int64_t max,
                                        int64_t *out);

/* An unsigned integer in lo..hi. Errors: SIGNET_ERR_MALFORMED (not only
 * digits), SIGNET_ERR_TOO_LARGE (above hi), SIGNET_ERR_INVALID_ARG (below lo,
 * NULL, lo > hi). */
SIGNET_WUR signet_err sg_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* Copies the string s (NULL: "") into dst of cap bytes; -1 (and dst "")
 * when it does not fit. */
int sg_copy_str(char *dst, size_t cap, const char *s);

#endif
