/* The public metadata endpoints (meta.c): JWKS, discovery, readiness. */
#ifndef SD_META_H
#define SD_META_H

#include <stddef.h>

#include "signet/error.h"
#include "signetd/resp.h"

struct sd_ctx;
struct sg_config;
struct sg_tenant_cfg;

void sd_jwks_endpoint(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *if_none_match,
                      const struct sg_config *cfg, struct sd_resp *r);
void sd_discovery_endpoint(const struct sg_tenant_cfg *t, struct sd_resp *r);
void sd_ready_endpoint(struct sd_ctx *c, struct sd_resp *r);

/* The JWKS document signetd serves now for t (refreshing its cache as a
 * request would); *json is a malloc'd copy. */
SIGNET_WUR signet_err sd_jwks_current(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                      char **json);

/* "<issuer>/token" into out, as discovery advertises it; 0 on success. */
int sd_token_endpoint_url(const struct sg_tenant_cfg *t, char *out, size_t cap);

#endif
