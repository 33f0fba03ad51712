#include "util/strconv.h"

#include <string.h>

/* Leading decimal digits of s into *n; *end is the first other byte.
 * SIGNET_ERR_MALFORMED without a digit, SIGNET_ERR_TOO_LARGE past UINT64_MAX. */
static signet_err digits(const char *s, uint64_t *n, const char **end)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SIGNET_ERR_TOO_LARGE;
        v = v * 10 + d;
    }
    if (p == s)
        return SIGNET_ERR_MALFORMED;
    *n = v;
    *end = p;
    return SIGNET_OK;
}

signet_err sg_parse_duration(const char *s, enum sg_dur_unit unit, int64_t max, int64_t *out)
{
    if (s == NULL || out == NULL || max < 0)
        return SIGNET_ERR_INVALID_ARG;
    uint64_t n = 0;
    const char *end = NULL;
    signet_err err = digits(s, &n, &end);
    if (err != SIGNET_OK)
        return err;
    const uint64_t second = unit == SG_DUR_MILLIS ? 1000 : 1;
    uint64_t mult;
    if (unit == SG_DUR_MILLIS && strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mult = second;
    else if (strcmp(end, "m") == 0)
        mult = 60 * second;
    else if (strcmp(end, "h") == 0)
        mult = 3600 * second;
    else if (strcmp(end, "d") == 0)
        mult = 86400 * second;
    else
        return SIGNET_ERR_MALFORMED;
    /* n * mult <= max, checked without forming the product. */
    if (n > (uint64_t)max / mult)
        return SIGNET_ERR_TOO_LARGE;
    *out = (int64_t)(n * mult);
    return SIGNET_OK;
}

signet_err sg_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    if (s == NULL || out == NULL || lo > hi)
        return SIGNET_ERR_INVALID_ARG;
    uint64_t n = 0;
    const char *end = NULL;
    signet_err err = digits(s, &n, &end);
    if (err != SIGNET_OK)
        return err;
    if (*end != '\0')
        return SIGNET_ERR_MALFORMED;
    if (n > hi)
        return SIGNET_ERR_TOO_LARGE;
    if (n < lo)
        return SIGNET_ERR_INVALID_ARG;
    *out = (unsigned)n;
    return SIGNET_OK;
}

int sg_copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (cap == 0)
        return -1;
    if (n >= cap) {
        dst[0] = '\0';
        return -1;
    }
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}
