/* Bounded retrieval of JWKS and discovery documents: HTTP(S) with libcurl,
 * or a local file. */
#ifndef SG_FETCH_H
#define SG_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sg_fetch_limits {
    long timeout_ms;
    size_t max_bytes;
    const atomic_int *cancel; /* non-zero aborts a transfer in progress; may be NULL */
};

struct sg_fetch_result {
    uint8_t *body; /* NUL-terminated for convenience */
    size_t len;
    int64_t max_age; /* Cache-Control max-age in seconds, -1 when absent */
    long status;
};

/* GET url (http or https only; redirects are not followed). Anything but
 * a 200 with a body within max_bytes is an error: SIGNET_ERR_NETWORK,
 * SIGNET_ERR_TIMEOUT, SIGNET_ERR_TOO_LARGE or SIGNET_ERR_NOT_FOUND (404). */
SIGNET_WUR signet_err sg_fetch_url(const char *url, const struct sg_fetch_limits *lim,
                                   struct sg_fetch_result *out);
/* Reads a regular file of at most max_bytes. */
SIGNET_WUR signet_err sg_fetch_file(const char *path, size_t max_bytes,
                                    struct sg_fetch_result *out);
void sg_fetch_result_clear(struct sg_fetch_result *r);

/* Parses max-age out of a Cache-Control header value; -1 when absent, and
 * also when no-store or no-cache is present (treated as 0). */
int64_t sg_cache_control_max_age(const char *value, size_t len);

/* 1 when url starts with http:// or https:// (case-insensitive). */
int sg_url_is_http(const char *url);
int sg_url_is_https(const char *url);

#endif
