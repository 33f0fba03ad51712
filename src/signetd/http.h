/* signetd's HTTP front (http.c): libmicrohttpd, routing, the access log
 * and the drain. */
#ifndef SD_HTTP_H
#define SD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

struct sd_ctx;
struct sd_http;
struct sg_config;
struct sg_server_cfg;

/* Reads [server] tls_cert and tls_key into c (before the front end drops
 * root: the key may be readable by root alone). */
SIGNET_WUR signet_err sd_tls_load(struct sd_ctx *c, const struct sg_server_cfg *sv, char *err,
                                  size_t errlen);
SIGNET_WUR signet_err sd_http_start(struct sd_ctx *c, const struct sg_config *cfg,
                                    struct sd_http **out, char *err, size_t errlen);
/* Stops accepting, waits up to timeout_s for in-flight requests, stops. */
void sd_http_drain_and_stop(struct sd_http **h, struct sd_ctx *c, int64_t timeout_s);

#endif
